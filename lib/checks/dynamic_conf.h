/*
 * checks/dynamic_conf - the options of the dynamic and dynamic_helo
 * checks, for dynamic_conf.c (which reads them), dynamic.c (which runs
 * the checks) and the tests that look at a loaded policy.
 */
#ifndef POLICYD_CHECKS_DYNAMIC_CONF_H
#define POLICYD_CHECKS_DYNAMIC_CONF_H

#include <stdbool.h>

struct dyn_patterns;

struct dynamic_conf {
	struct dyn_patterns *patterns; /* NULL: the built-in rules only */
	bool borrowed;   /* a profile's copy of the main policy's */
};

/* The named results: their index in the checks' results. */
enum { R_LIKELY, R_CERTAIN };

#endif
