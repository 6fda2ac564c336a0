/*
 * checks/backscatter_conf - the backscatter module's options, for
 * backscatter_conf.c (which reads them) and backscatter.c (which runs it)
 */
#ifndef POLICYD_CHECKS_BACKSCATTER_CONF_H
#define POLICYD_CHECKS_BACKSCATTER_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* What a block does to mail that is not a bounce. */
enum bs_scope {
	BS_SCOPE_DEFER,   /* deferred (450) until the block ends */
	BS_SCOPE_ALL,     /* refused (554) like the bounces */
	BS_SCOPE_BOUNCES, /* passes */
};

struct bs_conf {
	int64_t window, block_for, hit_window;
	unsigned threshold;
	enum bs_scope scope;
	char **exempt;   /* "postmaster@", "abuse@", or whole addresses */
	size_t nexempt;
	char **tags;     /* local-part prefixes that are our own */
	size_t ntags;
	struct cidr *never;
	size_t nnever;
	struct cidr *shared;
	size_t nshared;
	char **shared_names; /* verified-name suffixes: .outlook.com */
	size_t nshared_names;
	char *contact;   /* whom a blocked sender writes to */
};

#endif
