/*
 * helo_conf - helo_dns's options, for helo_conf.c and helo.c
 */
#ifndef POLICYD_CHECKS_HELO_CONF_H
#define POLICYD_CHECKS_HELO_CONF_H

#include <stdbool.h>

/* helo_dns's options. */
struct helo_dns_conf {
	bool strict;   /* resolves to the client / is its verified name */
};

#endif
