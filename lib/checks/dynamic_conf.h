/*
 * checks/dynamic_conf - the options of the dynamic and dynamic_helo checks, for
 * the tests that look at a loaded policy (the checks' own business
 * otherwise).
 */
#ifndef POLICYD_CHECKS_DYNAMIC_CONF_H
#define POLICYD_CHECKS_DYNAMIC_CONF_H

#include <stdbool.h>

struct dyn_patterns;

struct dynamic_conf {
	struct dyn_patterns *patterns; /* NULL: the built-in rules only */
	bool borrowed;   /* a profile's copy of the main policy's */
};

#endif
