/*
 * greylist_conf - what the greylist module is: its options (the
 * module's conf, struct gl_conf in greylist.h), texts and states, and
 * where a policy keeps them; greylist.c runs it.
 */
#include "chk.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "greylist.h"

static const char *const gl_options[] = { "delay", "retry_window", "max_age",
	"ipv4_prefix", "ipv6_prefix", "awl_clients", "awl_domains",
	"strip_batv", "strip_srs", "strip_extension", "fold_digits", "text",
	"header", "on_error", "sweep_interval", "sweep_batch", "pool_spf",
	"pool_fcrdns", "pool_spf_ipv4_prefix", "pool_spf_ipv6_prefix",
	"correspondents", NULL };

enum { K_DELAY, K_WINDOW, K_MAX_AGE, K_V4, K_V6, K_AWLC, K_AWLD, K_BATV,
	K_SRS, K_EXT, K_DIGITS, K_TEXT, K_HEADER, K_ON_ERROR, K_SWEEP, K_BATCH,
	K_POOL_SPF, K_POOL_FCRDNS, K_POOL_V4, K_POOL_V6, K_CORRESPONDENTS };

/* gl_setup - checks.greylist, into the module's options */
static int
gl_setup(struct cfg_parser *y, struct chk_policy *pol,
    struct cfg_node *const *v, void *conf)
{
	struct gl_conf *g = conf;
	struct cfg *cfg = cfg_parser_cfg(y);
	uint64_t ms;

	(void)pol;
	if (v[K_DELAY] && cfg_seconds(y, v[K_DELAY], "greylist: delay", 0,
	    86400, &g->delay) < 0)
		return -1;
	if (v[K_WINDOW] && cfg_seconds(y, v[K_WINDOW], "greylist: "
	    "retry_window", 60, 30 * 86400, &g->retry_window) < 0)
		return -1;
	if (v[K_MAX_AGE] && cfg_seconds(y, v[K_MAX_AGE], "greylist: max_age",
	    3600, 3650 * 86400LL, &g->max_age) < 0)
		return -1;
	if (v[K_V4] && cfg_uint(y, v[K_V4], "greylist: ipv4_prefix", 0, 32,
	    &g->ipv4_prefix) < 0)
		return -1;
	if (v[K_V6] && cfg_uint(y, v[K_V6], "greylist: ipv6_prefix", 0, 128,
	    &g->ipv6_prefix) < 0)
		return -1;
	if (v[K_POOL_V4] && cfg_uint(y, v[K_POOL_V4], "greylist: "
	    "pool_spf_ipv4_prefix", 0, 32, &g->pool_spf_ipv4_prefix) < 0)
		return -1;
	if (v[K_POOL_V6] && cfg_uint(y, v[K_POOL_V6], "greylist: "
	    "pool_spf_ipv6_prefix", 0, 128, &g->pool_spf_ipv6_prefix) < 0)
		return -1;
	if (v[K_AWLC] && cfg_uint(y, v[K_AWLC], "greylist: awl_clients", 0,
	    1000000, &g->awl_clients) < 0)
		return -1;
	if (v[K_AWLD] && cfg_uint(y, v[K_AWLD], "greylist: awl_domains", 0,
	    1000000, &g->awl_domains) < 0)
		return -1;
	if ((v[K_BATV] && cfg_bool(y, v[K_BATV], "greylist: strip_batv",
		&g->strip_batv) < 0) ||
	    (v[K_SRS] && cfg_bool(y, v[K_SRS], "greylist: strip_srs",
		&g->strip_srs) < 0) ||
	    (v[K_EXT] && cfg_bool(y, v[K_EXT], "greylist: strip_extension",
		&g->strip_extension) < 0) ||
	    (v[K_DIGITS] && cfg_bool(y, v[K_DIGITS], "greylist: fold_digits",
		&g->fold_digits) < 0) ||
	    (v[K_HEADER] && cfg_bool(y, v[K_HEADER], "greylist: header",
		&g->header) < 0) ||
	    (v[K_POOL_SPF] && cfg_bool(y, v[K_POOL_SPF], "greylist: pool_spf",
		&g->pool_spf) < 0) ||
	    (v[K_POOL_FCRDNS] && cfg_bool(y, v[K_POOL_FCRDNS],
		"greylist: pool_fcrdns", &g->pool_fcrdns) < 0) ||
	    (v[K_CORRESPONDENTS] && cfg_bool(y, v[K_CORRESPONDENTS],
		"greylist: correspondents", &g->correspondents) < 0))
		return -1;
	if (v[K_TEXT]) {
		char *t = NULL;
		const char *p;

		if (cfg_string(y, v[K_TEXT], "greylist: text", &t) < 0)
			return -1;
		for (p = t; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				free(t);
				return cfg_fail(y, v[K_TEXT], "greylist: text "
							      "contains a "
							      "control "
							      "character");
			}
		}
		if (strlen(t) > 400) {
			free(t);
			return cfg_fail(y, v[K_TEXT], "greylist: text is longer "
						      "than 400 characters");
		}
		free(g->text);
		g->text = t;
	}
	if (v[K_ON_ERROR] && cfg_defer(y, v[K_ON_ERROR], "greylist: on_error",
	    "", &g->defer_on_error) < 0)
		return -1;
	/*
	 * The expiry sweep is the store's (store.sweep_interval,
	 * store.sweep_batch): these older keys still set it, unless the
	 * store's own are given.
	 */
	if (v[K_SWEEP]) {
		if (cfg_duration(y, v[K_SWEEP], "greylist: sweep_interval", 100,
		    86400000, &ms) < 0)
			return -1;
		if (!cfg->store_sweep_given)
			cfg->store_sweep_interval_ms = ms;
	}
	if (v[K_BATCH]) {
		unsigned b;

		if (cfg_uint(y, v[K_BATCH], "greylist: sweep_batch", 1, 100000,
		    &b) < 0)
			return -1;
		if (!cfg->store_sweep_given)
			cfg->store_sweep_batch = b;
	}
	/* A retry must be able to come after the delay and in the window. */
	if (g->delay >= g->retry_window)
		return cfg_fail(y, v[K_DELAY] ? v[K_DELAY] : v[K_WINDOW],
		    "greylist: delay (%llds) is not shorter than retry_window "
		    "(%llds): no retry could ever pass",
		    (long long)g->delay, (long long)g->retry_window);
	return 0;
}

/* conf_* - the module's options (struct gl_conf) */
static void
conf_init(void *c)
{
	gl_conf_defaults(c);
}

static void
conf_copy(void *dst, const void *src)
{
	gl_conf_copy(dst, src);
}

static void
conf_free(void *c)
{
	gl_conf_fini(c);
}

/* gl_index - the module's place in the table of checks (it never moves) */
static int
gl_index(void)
{
	static int idx = -2;

	if (idx == -2)
		idx = chk_find("greylist");
	return idx;
}

/* greylist_conf - the main policy's options */
const struct gl_conf *
greylist_conf(const struct cfg *cfg)
{
	int i = gl_index();

	return i >= 0 ? cfg->checks[i].conf : NULL;
}

/* greylist_enabled - does the main policy greylist */
bool
greylist_enabled(const struct cfg *cfg)
{
	int i = gl_index();

	return i >= 0 && cfg->checks[i].enabled;
}

/* gl_store_trouble - def->store_trouble: the module's on_error */
static const char *
gl_store_trouble(const void *conf)
{
	const struct gl_conf *g = conf;

	return g->defer_on_error ? "greylisting answers defer"
				 : "greylisting answers dunno";
}

const struct chk_def chk_greylist_def = {
	.name = "greylist",
	.kind = CHK_KIND_STATE,
	.flags = CHK_F_MAIN_OPTIONS | CHK_F_BYPASSED | CHK_F_STORE,
	.conf_size = sizeof(struct gl_conf),
	.conf_init = conf_init,
	.conf_copy = conf_copy,
	.conf_free = conf_free,
	/* RCPT requests, and requests without a protocol_state. */
	.states = CHK_ST_RCPT | CHK_ST_NONE,
	.options = gl_options,
	.setup = gl_setup,
	.store_trouble = gl_store_trouble,
};
