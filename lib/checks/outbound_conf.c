/*
 * outbound_conf - what the outbound module is: its options (keep,
 * local_domains) and states; outbound.c runs it.
 */
#include "chk.h"
#include "outbound_conf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "xalloc.h"

static const char *const ob_options[] = { "keep", "local_domains", NULL };

static void
ob_conf_init(void *conf)
{
	((struct outbound_conf *)conf)->keep = 35 * 86400;
}

static void
ob_conf_free(void *conf)
{
	struct outbound_conf *c = conf;

	strv_free(c->local, c->nlocal);
}

static void
ob_conf_copy(void *dst, const void *src)
{
	const struct outbound_conf *s = src;
	struct outbound_conf *d = dst;
	size_t i;

	*d = *s;
	d->local = s->nlocal ? xreallocarray(NULL, s->nlocal, sizeof(char *))
			     : NULL;
	for (i = 0; i < s->nlocal; i++)
		d->local[i] = xstrdup(s->local[i]);
}

/* ob_setup - keep: DURATION, local_domains: [DOMAIN, ...] */
static int
ob_setup(struct cfg_parser *p, struct chk_policy *pol,
    struct cfg_node *const *v, void *conf)
{
	struct outbound_conf *c = conf;
	size_t i;
	char *q;

	if (v[0] && cfg_seconds(p, v[0], "outbound: keep", 86400,
	    3650 * 86400LL, &c->keep) < 0)
		return -1;
	if (v[1] && cfg_strings(p, v[1], "outbound: local_domains",
	    &c->local, &c->nlocal) < 0)
		return -1;
	/*
	 * Mail between our own domains makes no correspondent: forging a
	 * colleague's address is the oldest trick, and a "reply" from one
	 * would skip greylisting. Without the list every colleague is one.
	 */
	if (pol->enabled && c->nlocal == 0)
		return cfg_fail(p, v[1], "outbound: local_domains is required "
		    "(our own domains, e.g. [example.org]): mail to them makes "
		    "no correspondent, or a forged colleague's mail would skip "
		    "greylisting");
	for (i = 0; i < c->nlocal; i++)
		for (q = c->local[i]; *q; q++)
			*q = (char)tolower((unsigned char)*q);
	return 0;
}

/* ob_store_trouble - def->store_trouble: our users' mail unrecorded */
static const char *
ob_store_trouble(const void *conf)
{
	(void)conf;
	return "our users' mail is not recorded";
}

const struct chk_def chk_outbound_def = {
	.name = "outbound",
	.kind = CHK_KIND_STATE,
	.flags = CHK_F_OUR_USERS | CHK_F_STORE | CHK_F_RECORDS,
	/* What was accepted for a recipient; requests without a state. */
	.states = CHK_ST_RCPT | CHK_ST_NONE,
	.options = ob_options,
	.conf_size = sizeof(struct outbound_conf),
	.conf_init = ob_conf_init,
	.conf_copy = ob_conf_copy,
	.conf_free = ob_conf_free,
	.setup = ob_setup,
	.store_trouble = ob_store_trouble,
};
