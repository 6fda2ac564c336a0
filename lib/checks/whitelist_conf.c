/*
 * whitelist_conf - what the whitelist module is: its options (entries
 * from the policy file, require_spf) and states; whitelist.c runs it.
 */
#include "chk.h"
#include "whitelist_conf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "whitelist.h"
#include "xalloc.h"

static const char *const wl_options[] = { "entries", "require_spf", NULL };

static void
wl_conf_init(void *conf)
{
	((struct wl_conf *)conf)->terms = CHK_BYPASS_IF_SPF_PASS;
}

static void
wl_conf_copy(void *dst, const void *src)
{
	const struct wl_conf *s = src;
	struct wl_conf *d = dst;
	size_t i;

	*d = *s;
	d->v = s->n ? xreallocarray(NULL, s->n, sizeof(*d->v)) : NULL;
	for (i = 0; i < s->n; i++)
		d->v[i] = (struct wl_entry){ xstrdup(s->v[i].rcpt),
			xstrdup(s->v[i].sender) };
}

static void
wl_conf_free(void *conf)
{
	struct wl_conf *c = conf;
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->v[i].rcpt);
		free(c->v[i].sender);
	}
	free(c->v);
}

/* parse_entry - { recipient: ADDR|@DOMAIN, sender: ADDR|@DOMAIN } */
static int
parse_entry(struct cfg_parser *p, struct cfg_node *n, void *arg)
{
	static const char *const keys[] = { "recipient", "sender", NULL };
	struct wl_conf *c = arg;
	struct cfg_node *v[2];
	const char *s[2];
	char *e[2];
	int i;

	if (cfg_map(p, n, "whitelist: entries", keys, v) < 0)
		return -1;
	for (i = 0; i < 2; i++) {
		if (v[i] == NULL)
			return cfg_fail(p, n, "whitelist: entries: each entry "
					      "needs recipient: and sender:");
		if ((s[i] = cfg_scalar(p, v[i], "whitelist: entries")) == NULL)
			return -1;
	}
	for (i = 0; i < 2; i++) {
		struct why why;

		if ((e[i] = whitelist_norm(s[i], &why)) == NULL) {
			if (i == 1)
				free(e[0]);
			return cfg_fail(p, v[i], "whitelist: entries: %s: %s",
			    keys[i], why.text);
		}
	}
	c->v = xreallocarray(c->v, c->n + 1, sizeof(*c->v));
	c->v[c->n++] = (struct wl_entry){ e[0], e[1] };
	return 0;
}

static int
wl_setup(struct cfg_parser *p, struct chk_policy *pol,
    struct cfg_node *const *v, void *conf)
{
	static const char *const terms[] = { "no", "not-fail", "pass", NULL };
	struct wl_conf *c = conf;
	int t;

	(void)pol;
	if (v[0] && cfg_each(p, v[0], "whitelist: entries", parse_entry, c) <
	    0)
		return -1;
	if (v[1] == NULL)
		return 0;
	if (cfg_choice(p, v[1], "whitelist: require_spf", terms, &t) < 0)
		return -1;
	c->terms = t == 0 ? CHK_BYPASS_ALWAYS : t == 1
	    ? CHK_BYPASS_UNLESS_SPF_FAIL : CHK_BYPASS_IF_SPF_PASS;
	return 0;
}

/* wl_store_trouble - def->store_trouble: the file's entries still hold */
static const char *
wl_store_trouble(const void *conf)
{
	(void)conf;
	return "whitelist entries from policyctl do not apply";
}

const struct chk_def chk_whitelist_def = {
	.name = "whitelist",
	.kind = CHK_KIND_PRE,
	.flags = CHK_F_MAIN_OPTIONS | CHK_F_STORE,
	.states = CHK_ST_RCPT | CHK_ST_DATA | CHK_ST_EOM | CHK_ST_NONE,
	.options = wl_options,
	.conf_size = sizeof(struct wl_conf),
	.conf_init = wl_conf_init,
	.conf_copy = wl_conf_copy,
	.conf_free = wl_conf_free,
	.setup = wl_setup,
	.store_trouble = wl_store_trouble,
};
