/*
 * checks/outbound_conf - the outbound module's options, for outbound_conf.c
 * (which reads them) and outbound.c (which runs the module)
 */
#ifndef POLICYD_CHECKS_OUTBOUND_CONF_H
#define POLICYD_CHECKS_OUTBOUND_CONF_H

#include <stddef.h>
#include <stdint.h>

struct outbound_conf {
	int64_t keep;   /* seconds a record lives unless renewed */
	char **local;   /* local_domains: recipients there are no
			 * correspondents (lower-case) */
	size_t nlocal;
};

#endif
