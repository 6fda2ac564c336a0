/*
 * registry - the checks, in the order the pipeline starts them: cheap,
 * local ones first, then those that ask DNS (which run in parallel); and
 * the state modules (kind STATE), which run after them in this order.
 * Adding a check is its file, its line here, and its tests.
 */
#include "chk.h"

#include <string.h>

extern const struct chk_ops chk_helo_ops;
extern const struct chk_ops chk_helo_dns_ops;
extern const struct chk_ops chk_sender_ops;
extern const struct chk_ops chk_rdns_ops;
extern const struct chk_ops chk_fcrdns_ops;
extern const struct chk_ops chk_dynamic_ops;
extern const struct chk_ops chk_dynamic_helo_ops;
extern const struct chk_ops chk_spf_ops;
extern const struct chk_ops chk_dnsbl_ops;
extern const struct chk_ops chk_greylist_ops;
extern const struct chk_ops chk_outbound_ops;
extern const struct chk_ops chk_whitelist_ops;
extern const struct chk_ops chk_backscatter_ops;

const struct chk_ops *const chk_registry[] = {
	&chk_helo_ops, /* no DNS */
	&chk_dynamic_ops,
	&chk_dynamic_helo_ops,
	&chk_rdns_ops,
	&chk_fcrdns_ops,
	&chk_helo_dns_ops,
	&chk_sender_ops,
	&chk_dnsbl_ops, /* DNS lists, all at once */
	&chk_spf_ops, /* the slowest */
	&chk_greylist_ops, /* a state module: after the checks */
	&chk_outbound_ops, /* our users' mail, once accepted */
	&chk_backscatter_ops, /* PRE: a block refuses before anything */
	&chk_whitelist_ops, /* PRE: before any check */
};

const unsigned chk_count = sizeof(chk_registry) / sizeof(chk_registry[0]);

_Static_assert(sizeof(chk_registry) / sizeof(chk_registry[0]) <= CHK_MAX,
    "more checks than CHK_MAX");

/* chk_find - index of a check by name */
int
chk_find(const char *name)
{
	unsigned i;

	for (i = 0; i < chk_count; i++)
		if (strcmp(chk_registry[i]->name, name) == 0)
			return (int)i;
	return -1;
}
