/*
 * dynamic_conf - what the dynamic and dynamic_helo checks are: their
 * texts, named results and options (patterns); dynamic.c runs them.
 */
#include "chk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks/dynamic_conf.h"
#include "config.h"
#include "dynamic.h"
#include "xalloc.h"

static const char *const dynamic_options[] = { "patterns", NULL };

/* setup - patterns: a file beside the policy file, or a path */
static int
setup(struct cfg_parser *p, const char *name, struct cfg_node *const *v,
    struct dynamic_conf *c)
{
	char full[4096], what[64];
	const char *path;
	struct why why;

	if (v[0] == NULL)
		return 0;
	snprintf(what, sizeof(what), "%s: patterns", name);
	if ((path = cfg_scalar(p, v[0], what)) == NULL)
		return -1;
	cfg_path(p, path, full, sizeof(full));
	if (!c->borrowed)
		dyn_patterns_free(c->patterns);
	c->borrowed = false;
	if ((c->patterns = dyn_patterns_load(full, &why)) == NULL)
		return cfg_fail(p, v[0], "%s: %s", what, why.text);
	return 0;
}

static int
dynamic_setup(struct cfg_parser *p, struct chk_policy *pol,
    struct cfg_node *const *v, void *conf)
{
	(void)pol;
	return setup(p, "dynamic", v, conf);
}

static int
dynamic_helo_setup(struct cfg_parser *p, struct chk_policy *pol,
    struct cfg_node *const *v, void *conf)
{
	(void)pol;
	return setup(p, "dynamic_helo", v, conf);
}

/* dynamic_copy - a profile borrows the patterns: they never change */
static void
dynamic_copy(void *dst, const void *src)
{
	struct dynamic_conf *d = dst;
	const struct dynamic_conf *s = src;

	d->patterns = s->patterns;
	d->borrowed = true;
}

static void
dynamic_free(void *conf)
{
	struct dynamic_conf *c = conf;

	if (!c->borrowed)
		dyn_patterns_free(c->patterns);
}

static const char *const dyn_results[] = { "likely", "certain", NULL };

static const struct chk_outcome dynamic_defaults[] = {
	[R_LIKELY] = { CHK_SCORE, 2 },
	[R_CERTAIN] = { CHK_REJECT, 0 },
};

static const struct chk_outcome helo_defaults[] = {
	[R_LIKELY] = { CHK_SCORE, 1 },
	[R_CERTAIN] = { CHK_SCORE, 2 },
};

const struct chk_def chk_dynamic_def = {
	.options = dynamic_options,
	.conf_size = sizeof(struct dynamic_conf),
	.conf_copy = dynamic_copy,
	.conf_free = dynamic_free,
	.setup = dynamic_setup,
	.name = "dynamic",
	.flags = CHK_F_ON_FAIL_ALL,
	.results = dyn_results,
	.defaults = dynamic_defaults,
	.tempfail_result = -1,
	.dsn = "5.7.1",
	.text = "Client {client}: {reason}; mail from dial-in or dynamic "
		"addresses is not accepted here: send through your provider's "
		"mail relay, or ask for a static address with a proper name",
};

const struct chk_def chk_dynamic_helo_def = {
	.options = dynamic_options,
	.conf_size = sizeof(struct dynamic_conf),
	.conf_copy = dynamic_copy,
	.conf_free = dynamic_free,
	.setup = dynamic_helo_setup,
	.name = "dynamic_helo",
	.flags = CHK_F_ON_FAIL_ALL,
	.results = dyn_results,
	.defaults = helo_defaults,
	.tempfail_result = -1,
	.dsn = "5.7.1",
	.text = "Client {client}: {reason}; greet with the server's own "
		"static name",
};
