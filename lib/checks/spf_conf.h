/*
 * checks/spf_conf - the options of the spf check, for spf_conf.c (which
 * reads them), spf.c (which runs the check) and the tests that look at a
 * loaded policy.
 */
#ifndef POLICYD_CHECKS_SPF_CONF_H
#define POLICYD_CHECKS_SPF_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

/* Which result header a message gets. */
enum spf_header {
	SPF_HDR_NONE,
	SPF_HDR_RECEIVED_SPF,   /* RFC 7208 section 9.1 */
	SPF_HDR_AUTH_RESULTS,   /* RFC 8601 */
};

struct spf_conf {
	bool helo_first;         /* HELO identity first (RFC 7208 2.3) */
	enum spf_header header;  /* result header, once per message */
	struct cidr *forwarders; /* clients that skip SPF (owned) */
	size_t nforwarders;
	struct cidr *secondary_mx; /* our backup MX hosts: skip SPF (owned) */
	size_t nsecondary_mx;
};

/* spf_in_nets - the network of nets (n) the client is in, or NULL */
const struct cidr *spf_in_nets(const struct cidr *nets, size_t n,
    const struct ipaddr *ip);

#endif
