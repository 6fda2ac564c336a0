/*
 * dynamic, dynamic_helo - the client's PTR name (dynamic) or its HELO
 * name (dynamic_helo, scored separately) looks like a dial-in or dynamic
 * pool: such hosts should send through their provider's relay.
 */
#include "chk.h"

#include <stdio.h>
#include <stdlib.h>

#include "addr.h"
#include "checks/dynamic_conf.h"
#include "config.h"
#include "dynamic.h"
#include "request.h"
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

/* judge - one name; publish: the client's name, judged (for pools) */
static void
judge(struct chk_run *run, const char *what, const char *name, bool publish)
{
	const struct req *req = chk_req(run);
	const struct dynamic_conf *c = chk_conf(run);
	char why[160];

	if (name == NULL || name[0] == '[') {
		chk_done(run, CHK_NEUTRAL, "no %s", what);
		return;
	}
	if (dyn_classify(name, req->has_client_ip ? &req->client_ip : NULL,
	    c->patterns, why, sizeof(why))) {
		if (publish)
			chk_set_identity(run, CHK_ID_DYNAMIC_NAME, name);
		chk_done(run, CHK_FAIL, "%s %s looks like a dial-in or dynamic "
					"address (%s)", what, name, why);
	} else {
		if (publish)
			chk_set_identity(run, CHK_ID_STATIC_NAME, name);
		chk_done(run, CHK_PASS, "%s %s looks static", what, name);
	}
}

static void
dynamic_start(struct chk_run *run)
{
	const struct req *req = chk_req(run);

	judge(run, "PTR name",
	    req->reverse_name ? req->reverse_name : req->client_name, true);
}

static void
dynamic_helo_start(struct chk_run *run)
{
	judge(run, "HELO", chk_req(run)->helo, false);
}

const struct chk_ops chk_dynamic_ops = {
	.options = dynamic_options,
	.conf_size = sizeof(struct dynamic_conf),
	.conf_copy = dynamic_copy,
	.conf_free = dynamic_free,
	.setup = dynamic_setup,
	.name = "dynamic",
	.dsn = "5.7.1",
	.text = "Client {client}: {reason}; mail from dial-in or dynamic "
		"addresses is not accepted here: send through your provider's "
		"mail relay, or ask for a static address with a proper name",
	.start = dynamic_start,
};

const struct chk_ops chk_dynamic_helo_ops = {
	.options = dynamic_options,
	.conf_size = sizeof(struct dynamic_conf),
	.conf_copy = dynamic_copy,
	.conf_free = dynamic_free,
	.setup = dynamic_helo_setup,
	.name = "dynamic_helo",
	.dsn = "5.7.1",
	.text = "Client {client}: {reason}; greet with the server's own "
		"static name",
	.start = dynamic_helo_start,
};
