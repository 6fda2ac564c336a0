/*
 * registry - the code that runs each check, entry for entry as defs.c
 * lists what they are (chk_registry[i]->def == chk_defs[i]; the
 * pipeline refuses to start otherwise).
 */
#include "chk.h"

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
	&chk_helo_ops,
	&chk_dynamic_ops,
	&chk_dynamic_helo_ops,
	&chk_rdns_ops,
	&chk_fcrdns_ops,
	&chk_helo_dns_ops,
	&chk_sender_ops,
	&chk_dnsbl_ops,
	&chk_spf_ops,
	&chk_greylist_ops,
	&chk_outbound_ops,
	&chk_backscatter_ops,
	&chk_whitelist_ops,
};

const unsigned chk_registry_count = sizeof(chk_registry) /
    sizeof(chk_registry[0]);

_Static_assert(sizeof(chk_registry) / sizeof(chk_registry[0]) <= CHK_MAX,
    "more checks than CHK_MAX");
