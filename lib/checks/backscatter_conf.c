/*
 * backscatter_conf - what the backscatter module is: its options
 * (windows, threshold, scope, exemptions, shared platforms, contact);
 * backscatter.c runs it.
 */
#include "chk.h"
#include "backscatter_conf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "backscatter.h"
#include "config.h"
#include "xalloc.h"

static const char *const bs_options[] = { "bounce_window", "block_for",
	"threshold", "scope", "exempt_recipients", "tags", "never_block",
	"shared_platforms", "shared_platform_names", "contact", "hit_window",
	NULL };

static void
add(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(char *));
	(*v)[(*n)++] = xstrdup(s);
}

static void
bs_conf_init(void *conf)
{
	struct bs_conf *c = conf;
	static const char *const tags[] = { "prvs=", "msprvs1=", "btv1==",
		"srs0=", "srs1=" };
	static const char *const shared[] = { ".outlook.com",
		".protection.outlook.com", ".google.com", ".amazonses.com",
		".mailchimpapp.net", ".sendgrid.net", ".yahoo.com",
		".mail.ru", ".gmx.net", ".web.de" };
	size_t i;

	memset(c, 0, sizeof(*c));
	c->window = 7 * 86400;
	c->block_for = BS_BLOCK_FOR_DEFAULT;
	c->hit_window = 86400;
	c->threshold = 3;
	c->scope = BS_SCOPE_DEFER;
	add(&c->exempt, &c->nexempt, "postmaster@");
	add(&c->exempt, &c->nexempt, "abuse@");
	for (i = 0; i < nitems(tags); i++)
		add(&c->tags, &c->ntags, tags[i]);
	for (i = 0; i < nitems(shared); i++)
		add(&c->shared_names, &c->nshared_names, shared[i]);
}

static void
bs_conf_free(void *conf)
{
	struct bs_conf *c = conf;

	strv_free(c->exempt, c->nexempt);
	strv_free(c->tags, c->ntags);
	strv_free(c->shared_names, c->nshared_names);
	free(c->never);
	free(c->shared);
	free(c->contact);
}

static void
copyv(char ***dst, size_t *nd, char **src, size_t ns)
{
	size_t i;

	*dst = NULL;
	*nd = 0;
	for (i = 0; i < ns; i++)
		add(dst, nd, src[i]);
}

static void
bs_conf_copy(void *dst, const void *src)
{
	const struct bs_conf *s = src;
	struct bs_conf *d = dst;

	*d = *s;
	copyv(&d->exempt, &d->nexempt, s->exempt, s->nexempt);
	copyv(&d->tags, &d->ntags, s->tags, s->ntags);
	copyv(&d->shared_names, &d->nshared_names, s->shared_names,
	    s->nshared_names);
	d->never = s->nnever ? xmalloc(s->nnever * sizeof(*s->never)) : NULL;
	if (s->nnever)
		memcpy(d->never, s->never, s->nnever * sizeof(*s->never));
	d->shared = s->nshared ? xmalloc(s->nshared * sizeof(*s->shared))
			       : NULL;
	if (s->nshared)
		memcpy(d->shared, s->shared, s->nshared * sizeof(*s->shared));
	d->contact = s->contact ? xstrdup(s->contact) : NULL;
}

/* lowerv - a list of strings replaced by the file's, lower-cased */
static int
lowerv(struct cfg_parser *p, struct cfg_node *n, const char *what,
    char ***v, size_t *nv)
{
	size_t i;
	char *q;

	strv_free(*v, *nv);
	*v = NULL;
	*nv = 0;
	if (cfg_strings(p, n, what, v, nv) < 0)
		return -1;
	for (i = 0; i < *nv; i++)
		for (q = (*v)[i]; *q; q++)
			*q = (char)tolower((unsigned char)*q);
	return 0;
}

static int
bs_setup(struct cfg_parser *p, struct chk_policy *pol,
    struct cfg_node *const *v, void *conf)
{
	static const char *const scopes[] = { "defer", "all", "bounces",
		NULL };
	struct bs_conf *c = conf;
	int scope;

	(void)pol;
	if (v[0] && cfg_seconds(p, v[0], "backscatter: bounce_window", 86400,
	    60 * 86400, &c->window) < 0)
		return -1;
	if (v[1] && cfg_seconds(p, v[1], "backscatter: block_for",
	    BS_BLOCK_FOR_MIN, BS_BLOCK_FOR_MAX, &c->block_for) < 0)
		return -1;
	if (v[2] && cfg_uint(p, v[2], "backscatter: threshold", 1,
	    BS_MAX_RCPTS, &c->threshold) < 0)
		return -1;
	if (v[3]) {
		if (cfg_choice(p, v[3], "backscatter: scope", scopes,
		    &scope) < 0)
			return -1;
		c->scope = (enum bs_scope)scope;
	}
	if (v[4] && lowerv(p, v[4], "backscatter: exempt_recipients",
	    &c->exempt, &c->nexempt) < 0)
		return -1;
	if (v[5] && lowerv(p, v[5], "backscatter: tags", &c->tags,
	    &c->ntags) < 0)
		return -1;
	if (v[6] && cfg_nets(p, v[6], "backscatter: never_block", &c->never,
	    &c->nnever) < 0)
		return -1;
	if (v[7] && cfg_nets(p, v[7], "backscatter: shared_platforms",
	    &c->shared, &c->nshared) < 0)
		return -1;
	if (v[8] && lowerv(p, v[8], "backscatter: shared_platform_names",
	    &c->shared_names, &c->nshared_names) < 0)
		return -1;
	if (v[9]) {
		if (cfg_string(p, v[9], "backscatter: contact", &c->contact) <
		    0)
			return -1;
		if (strlen(c->contact) > 100 ||
		    strpbrk(c->contact, "\r\n\t") != NULL)
			return cfg_fail(p, v[9], "backscatter: contact: at "
						 "most 100 characters, no "
						 "control characters");
	}
	if (v[10] && cfg_seconds(p, v[10], "backscatter: hit_window", 3600,
	    30 * 86400, &c->hit_window) < 0)
		return -1;
	return 0;
}

/* backscatter_block_for - for policyctl (backscatter.h) */
int64_t
backscatter_block_for(const struct chk_policy *pol)
{
	const struct bs_conf *c = pol != NULL ? pol->conf : NULL;

	return c != NULL ? c->block_for : BS_BLOCK_FOR_DEFAULT;
}

/* backscatter_bounce_window - for policyctl (backscatter.h) */
int64_t
backscatter_bounce_window(const struct chk_policy *pol)
{
	const struct bs_conf *c = pol->conf;

	return pol->enabled && c != NULL ? c->window : 0;
}

/* bs_store_trouble - def->store_trouble: blocks unread, hits uncounted */
static const char *
bs_store_trouble(const void *conf)
{
	(void)conf;
	return "backscatter blocks are not enforced";
}

const struct chk_def chk_backscatter_def = {
	.name = "backscatter",
	.kind = CHK_KIND_PRE,
	.flags = CHK_F_MAIN_OPTIONS | CHK_F_STORE,
	.options = bs_options,
	.conf_size = sizeof(struct bs_conf),
	.conf_init = bs_conf_init,
	.conf_copy = bs_conf_copy,
	.conf_free = bs_conf_free,
	.setup = bs_setup,
	.store_trouble = bs_store_trouble,
};
