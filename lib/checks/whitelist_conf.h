/*
 * checks/whitelist_conf - the whitelist module's options, for
 * whitelist_conf.c (which reads them) and whitelist.c (which runs it)
 */
#ifndef POLICYD_CHECKS_WHITELIST_CONF_H
#define POLICYD_CHECKS_WHITELIST_CONF_H

#include <stddef.h>

#include "chk.h"

struct wl_entry {
	char *rcpt, *sender; /* lower-cased: a@b.example or @b.example */
};

struct wl_conf {
	struct wl_entry *v;
	size_t n;
	enum chk_bypass terms;
};

#endif
