/*
 * defs - what each check is, for the policy loader, in the order the
 * pipeline starts them (registry.c lists the code that runs them, entry
 * for entry): cheap, local ones first, then those that ask DNS (which run
 * in parallel); and the state modules (kind STATE), which run after them
 * in this order. Adding a check is its two files (X_conf.c, X.c), its
 * line here and in registry.c, and its tests.
 */
#include "chk.h"

#include <stdio.h>
#include <string.h>

#include "config.h"

extern const struct chk_def chk_helo_def;
extern const struct chk_def chk_helo_dns_def;
extern const struct chk_def chk_sender_def;
extern const struct chk_def chk_rdns_def;
extern const struct chk_def chk_fcrdns_def;
extern const struct chk_def chk_dynamic_def;
extern const struct chk_def chk_dynamic_helo_def;
extern const struct chk_def chk_spf_def;
extern const struct chk_def chk_dnsbl_def;
extern const struct chk_def chk_greylist_def;
extern const struct chk_def chk_outbound_def;
extern const struct chk_def chk_whitelist_def;
extern const struct chk_def chk_backscatter_def;

const struct chk_def *const chk_defs[] = {
	&chk_helo_def, /* no DNS */
	&chk_dynamic_def,
	&chk_dynamic_helo_def,
	&chk_rdns_def,
	&chk_fcrdns_def,
	&chk_helo_dns_def,
	&chk_sender_def,
	&chk_dnsbl_def, /* DNS lists, all at once */
	&chk_spf_def, /* the slowest */
	&chk_greylist_def, /* a state module: after the checks */
	&chk_outbound_def, /* our users' mail, once accepted */
	&chk_backscatter_def, /* PRE: a block refuses before anything */
	&chk_whitelist_def, /* PRE: before any check */
};

const unsigned chk_count = sizeof(chk_defs) / sizeof(chk_defs[0]);

_Static_assert(sizeof(chk_defs) / sizeof(chk_defs[0]) <= CHK_MAX,
    "more checks than CHK_MAX");

/* chk_find - index of a check by name */
int
chk_find(const char *name)
{
	unsigned i;

	for (i = 0; i < chk_count; i++)
		if (strcmp(chk_defs[i]->name, name) == 0)
			return (int)i;
	return -1;
}

void
chk_store_trouble(const struct cfg *cfg, char *out, size_t size)
{
	size_t o = 0;
	unsigned i;
	int n;

	out[0] = '\0';
	for (i = 0; i < chk_count && o < size; i++) {
		const struct chk_def *d = chk_defs[i];

		if (d->store_trouble == NULL || !cfg->checks[i].enabled)
			continue;
		n = snprintf(out + o, size - o, "%s%s", o ? ", " : "",
		    d->store_trouble(cfg->checks[i].conf));
		if (n < 0)
			break;
		o += (size_t)n;
	}
	if (out[0] == '\0')
		snprintf(out, size, "nothing changes for mail");
}
