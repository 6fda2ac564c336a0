/*
 * helo_conf - what the helo and helo_dns checks are: their texts, and
 * helo_dns's option; helo.c runs them.
 */
#include "chk.h"
#include "helo_conf.h"

#include "config.h"

static const char *const helo_dns_options[] = { "strict", NULL };

/* helo_dns_setup - strict: true|false */
static int
helo_dns_setup(struct cfg_parser *p, struct chk_policy *pol,
    struct cfg_node *const *v, void *conf)
{
	struct helo_dns_conf *c = conf;

	(void)pol;
	return v[0] ? cfg_bool(p, v[0], "helo_dns: strict", &c->strict) : 0;
}

const struct chk_def chk_helo_def = {
	.name = "helo",
	.dsn = "5.7.1",
	.text = "Your server's HELO/EHLO is wrong ({reason}); configure it "
		"to greet with its own fully qualified name, one that "
		"resolves in DNS",
};

const struct chk_def chk_helo_dns_def = {
	.name = "helo_dns",
	.flags = CHK_F_DNS,
	.options = helo_dns_options,
	.conf_size = sizeof(struct helo_dns_conf),
	.setup = helo_dns_setup,
	.dsn = "5.7.1",
	.text = "Your server's HELO/EHLO name does not resolve ({reason}); "
		"publish an A or AAAA record for it, or greet with a name "
		"that has one",
	.tempfail_text = "Your server's HELO/EHLO name {helo} could not be "
			 "looked up in DNS just now; please try again later",
};
