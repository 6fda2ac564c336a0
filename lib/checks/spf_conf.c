/*
 * spf_conf - what the spf check is: its texts, named results and
 * options (helo_first, header, forwarders, secondary_mx); spf.c runs it.
 */
#include "chk.h"

#include <stdlib.h>
#include <string.h>

#include "checks/spf_conf.h"
#include "config.h"
#include "spf.h"
#include "xalloc.h"

/* Named results, in the order of enum spf_result (index = result). */
static const char *const spf_results[] = { "none", "neutral", "pass",
	"fail", "softfail", "temperror", "permerror", NULL };

static const struct chk_outcome spf_defaults[] = {
	[SPF_NONE] = { CHK_SCORE, 0 },
	[SPF_NEUTRAL] = { CHK_SCORE, 0 },
	[SPF_PASS] = { CHK_LOG, 0 },
	[SPF_FAIL] = { CHK_REJECT, 0 },
	[SPF_SOFTFAIL] = { CHK_SCORE, 2 },
	[SPF_TEMPERROR] = { CHK_DEFER, 0 },
	[SPF_PERMERROR] = { CHK_SCORE, 1 },
};

/* The check's options. */
static const char *const spf_options[] = { "helo_first", "header",
	"forwarders", "secondary_mx", NULL };

enum { O_HELO_FIRST, O_HEADER, O_FORWARDERS, O_SECONDARY_MX };

/* spf_init_conf - the defaults: a Received-SPF header */
static void
spf_init_conf(void *conf)
{
	struct spf_conf *c = conf;

	c->header = SPF_HDR_RECEIVED_SPF;
}

/* spf_copy_conf - a profile's copy: its own network lists */
static void
spf_copy_conf(void *dst, const void *src)
{
	struct spf_conf *d = dst;
	const struct spf_conf *s = src;

	*d = *s;
	d->forwarders = NULL;
	d->secondary_mx = NULL;
	if (s->nforwarders > 0) {
		d->forwarders = xreallocarray(NULL, s->nforwarders,
		    sizeof(*s->forwarders));
		memcpy(d->forwarders, s->forwarders,
		    s->nforwarders * sizeof(*s->forwarders));
	}
	if (s->nsecondary_mx > 0) {
		d->secondary_mx = xreallocarray(NULL, s->nsecondary_mx,
		    sizeof(*s->secondary_mx));
		memcpy(d->secondary_mx, s->secondary_mx,
		    s->nsecondary_mx * sizeof(*s->secondary_mx));
	}
}

static void
spf_free_conf(void *conf)
{
	struct spf_conf *c = conf;

	free(c->forwarders);
	free(c->secondary_mx);
}

/* spf_setup - helo_first, header, forwarders, secondary_mx */
static int
spf_setup(struct cfg_parser *p, struct chk_policy *pol,
    struct cfg_node *const *v, void *conf)
{
	static const char *const headers[] = { "received-spf",
		"authentication-results", "none", NULL };
	static const enum spf_header hv[] = { SPF_HDR_RECEIVED_SPF,
		SPF_HDR_AUTH_RESULTS, SPF_HDR_NONE };
	struct spf_conf *c = conf;
	int h;

	(void)pol;
	if (v[O_HELO_FIRST] && cfg_bool(p, v[O_HELO_FIRST], "spf: helo_first",
	    &c->helo_first) < 0)
		return -1;
	if (v[O_HEADER]) {
		if (cfg_choice(p, v[O_HEADER], "spf: header", headers, &h) < 0)
			return -1;
		c->header = hv[h];
	}
	if (v[O_FORWARDERS] && cfg_nets(p, v[O_FORWARDERS], "spf: forwarders",
	    &c->forwarders, &c->nforwarders) < 0)
		return -1;
	if (v[O_SECONDARY_MX] && cfg_nets(p, v[O_SECONDARY_MX],
	    "spf: secondary_mx", &c->secondary_mx, &c->nsecondary_mx) < 0)
		return -1;
	return 0;
}

/* spf_in_nets - the client is in one of the networks */
const struct cidr *
spf_in_nets(const struct cidr *nets, size_t n, const struct ipaddr *ip)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cidr_match(&nets[i], ip))
			return &nets[i];
	return NULL;
}

/* spf_relay - def->relay: our forwarders and secondary MX hosts */
static bool
spf_relay(const void *conf, const struct ipaddr *ip)
{
	const struct spf_conf *c = conf;

	return spf_in_nets(c->forwarders, c->nforwarders, ip) != NULL ||
	    spf_in_nets(c->secondary_mx, c->nsecondary_mx, ip) != NULL;
}

const struct chk_def chk_spf_def = {
	.name = "spf",
	.flags = CHK_F_DNS,
	.max_queries = 16, /* the evaluator keeps at most 14 in the air */
	.options = spf_options,
	.conf_size = sizeof(struct spf_conf),
	.conf_init = spf_init_conf,
	.conf_copy = spf_copy_conf,
	.conf_free = spf_free_conf,
	.setup = spf_setup,
	.dsn = "5.7.23",
	.text = "{reason}",
	.tempfail_text = "SPF temperror: the SPF record of the sender's domain "
			 "could not be checked in time (DNS did not answer); "
			 "please try again later",
	.relay = spf_relay,
	.results = spf_results,
	.defaults = spf_defaults,
	.tempfail_result = SPF_TEMPERROR,
};
