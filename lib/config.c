/*
 * config - YAML policy file to struct cfg.
 *
 * libyaml loads the file into a document (nodes with their positions);
 * we then walk only the structure we know, so aliases cannot make the
 * walk loop or explode, and every key of every mapping is checked against
 * the keys that section has: a misspelt key is an error, not a silent
 * default. Messages are "file:line:column: key: what is wrong".
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "dynamic.h"
#include "xalloc.h"

#define DEFAULT_LISTEN "127.0.0.1:10023"
#define ERROR_DEFER "DEFER_IF_PERMIT 4.3.0 Policy service problem, try again later"

struct yctx {
	const char *path;
	yaml_document_t *doc;
	struct why *why;
	bool allow_given; /* the file has an allow list, maybe empty */
};

/* fail - "file:line:col: message" at node n */
static int fail(struct yctx *y, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct yctx *y, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[WHY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	why_set(y->why, "%s:%zu:%zu: %s", y->path, n->start_mark.line + 1,
	    n->start_mark.column + 1, msg);
	return -1;
}

/* node - the node of an index */
static yaml_node_t *
node(struct yctx *y, int index)
{
	return yaml_document_get_node(y->doc, index);
}

/* kind - what a node is, for messages */
static const char *
kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a value";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* scalar - the text of a scalar node; NULL (with why set) otherwise */
static const char *
scalar(struct yctx *y, const yaml_node_t *n, const char *what)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE) {
		fail(y, n, "%s: expected a value, found %s", what, kind(n));
		return NULL;
	}
	s = (const char *)n->data.scalar.value;
	if (strlen(s) != n->data.scalar.length) {
		fail(y, n, "%s: value contains a NUL byte", what);
		return NULL;
	}
	return s;
}

/*
 * map_keys - check that n is a mapping whose keys are all in keys[] (NULL
 * ended), none twice, and store each value node in vals[] (NULL: absent).
 */
static int
map_keys(struct yctx *y, yaml_node_t *n, const char *what,
    const char *const keys[], yaml_node_t *vals[])
{
	yaml_node_pair_t *pair;
	size_t i;

	for (i = 0; keys[i] != NULL; i++)
		vals[i] = NULL;
	if (n->type != YAML_MAPPING_NODE)
		return fail(y, n, "%s: expected a mapping of keys, found %s",
		    what, kind(n));
	for (pair = n->data.mapping.pairs.start;
	    pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(y, pair->key);
		const char *key = scalar(y, k, what);

		if (key == NULL)
			return -1;
		for (i = 0; keys[i] != NULL; i++)
			if (strcmp(keys[i], key) == 0)
				break;
		if (keys[i] == NULL)
			return fail(y, k, "unknown key \"%.60s\" in %s", key,
			    what);
		if (vals[i] != NULL)
			return fail(y, k, "duplicate key \"%s\" in %s", key,
			    what);
		vals[i] = node(y, pair->value);
	}
	return 0;
}

/* get_string - a non-empty string */
static int
get_string(struct yctx *y, yaml_node_t *n, const char *what, char **out)
{
	const char *s = scalar(y, n, what);

	if (s == NULL)
		return -1;
	if (*s == '\0')
		return fail(y, n, "%s: must not be empty", what);
	free(*out);
	*out = xstrdup(s);
	return 0;
}

/* get_uint - a decimal integer in [min, max] */
static int
get_uint(struct yctx *y, yaml_node_t *n, const char *what, unsigned long min,
    unsigned long max, unsigned *out)
{
	const char *s = scalar(y, n, what);
	unsigned long v;
	char *end;

	if (s == NULL)
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno == ERANGE)
		return fail(y, n, "%s: \"%.40s\" is not a whole number", what,
		    s);
	if (v < min || v > max)
		return fail(y, n, "%s: %lu is out of range (%lu to %lu)", what,
		    v, min, max);
	*out = (unsigned)v;
	return 0;
}

/* cfg_parse_duration - number with unit ms, s, m, h, d or w */
int
cfg_parse_duration(const char *s, uint64_t *ms, struct why *why)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 }, { "w", 604800000 },
	};
	const uint64_t limit = UINT64_C(10) * 366 * 86400000; /* 10 years */
	uint64_t v = 0;
	const char *p = s;
	size_t i;

	if (*p < '0' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > limit)
			goto big;
	}
	for (i = 0; i < nitems(units); i++) {
		if (strcmp(p, units[i].unit) == 0) {
			if (v > limit / units[i].ms)
				goto big;
			*ms = v * units[i].ms;
			return 0;
		}
	}
bad:
	why_set(why, "\"%.40s\" is not a duration (a number with ms, s, m, "
		     "h, d or w, e.g. 300s, 5m, 4d)", s);
	return -1;
big:
	why_set(why, "\"%.40s\" is longer than 10 years", s);
	return -1;
}

/* cfg_parse_size - bytes with an optional KiB, MiB or GiB */
int
cfg_parse_size(const char *s, uint64_t *bytes, struct why *why)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = { { "", 1 }, { "KiB", 1024 }, { "MiB", 1024 * 1024 },
		{ "GiB", 1024 * 1024 * 1024 } };
	uint64_t v = 0;
	const char *p = s;
	size_t i;

	if (*p < '0' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > (UINT64_C(1) << 40))
			goto bad;
	}
	for (i = 0; i < nitems(units); i++) {
		if (strcmp(p, units[i].unit) == 0) {
			*bytes = v * units[i].mult;
			if (*bytes > (UINT64_C(1) << 40))
				goto bad;
			return 0;
		}
	}
bad:
	why_set(why, "\"%.40s\" is not a size (a number of bytes, or with "
		     "KiB, MiB or GiB, e.g. 64MiB)", s);
	return -1;
}

/*
 * get_defer - "defer" or "dunno" into *defer; suffix ends the message
 * (" (never reject)" where a reader might look for that).
 */
static int
get_defer(struct yctx *y, yaml_node_t *n, const char *what,
    const char *suffix, bool *defer)
{
	const char *s = scalar(y, n, what);

	if (s == NULL)
		return -1;
	if (strcmp(s, "defer") == 0)
		*defer = true;
	else if (strcmp(s, "dunno") == 0)
		*defer = false;
	else
		return fail(y, n, "%s: \"%.40s\" is neither dunno nor defer%s",
		    what, s, suffix);
	return 0;
}

/* get_bool - true/false, yes/no, on/off */
static int
get_bool(struct yctx *y, yaml_node_t *n, const char *what, bool *out)
{
	const char *s = scalar(y, n, what);

	if (s == NULL)
		return -1;
	if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
		*out = false;
	else
		return fail(y, n, "%s: \"%.40s\" is neither true nor false",
		    what, s);
	return 0;
}

/* fmt_ms - a duration as people write it: the largest exact unit */
static const char *
fmt_ms(uint64_t ms, char *buf, size_t size)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = { { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 } };
	size_t i;

	for (i = 0; i < nitems(units); i++) {
		if (ms != 0 && ms % units[i].ms == 0) {
			snprintf(buf, size, "%llu%s",
			    (unsigned long long)(ms / units[i].ms),
			    units[i].unit);
			return buf;
		}
	}
	snprintf(buf, size, "%llums", (unsigned long long)ms);
	return buf;
}

/* get_duration - a duration in [min, max] milliseconds */
static int
get_duration(struct yctx *y, yaml_node_t *n, const char *what, uint64_t min,
    uint64_t max, uint64_t *out)
{
	const char *s = scalar(y, n, what);
	struct why why;

	if (s == NULL)
		return -1;
	if (cfg_parse_duration(s, out, &why) < 0)
		return fail(y, n, "%s: %s", what, why.text);
	if (*out < min || *out > max) {
		char lo[32], hi[32];

		return fail(y, n, "%s: %s is out of range (%s to %s)", what, s,
		    fmt_ms(min, lo, sizeof(lo)), fmt_ms(max, hi, sizeof(hi)));
	}
	return 0;
}

/* get_seconds - a duration in whole seconds within [min, max] */
static int
get_seconds(struct yctx *y, yaml_node_t *n, const char *what, int64_t min,
    int64_t max, int64_t *out)
{
	uint64_t ms;

	if (get_duration(y, n, what, (uint64_t)min * 1000,
	    (uint64_t)max * 1000, &ms) < 0)
		return -1;
	if (ms % 1000 != 0)
		return fail(y, n, "%s: %s is not a whole number of seconds",
		    what, (const char *)n->data.scalar.value);
	*out = (int64_t)(ms / 1000);
	return 0;
}

/* item_fn - called for each value of a value-or-list */
typedef int item_fn(struct yctx *y, yaml_node_t *n, const char *s,
    const char *what, void *arg);

/* each_value - n is a value or a list of values; call fn on each */
static int
each_value(struct yctx *y, yaml_node_t *n, const char *what, item_fn *fn,
    void *arg)
{
	yaml_node_item_t *it;
	const char *s;

	if (n->type == YAML_SEQUENCE_NODE) {
		for (it = n->data.sequence.items.start;
		    it < n->data.sequence.items.top; it++) {
			yaml_node_t *in = node(y, *it);

			if ((s = scalar(y, in, what)) == NULL ||
			    fn(y, in, s, what, arg) < 0)
				return -1;
		}
		return 0;
	}
	if ((s = scalar(y, n, what)) == NULL)
		return -1;
	return fn(y, n, s, what, arg);
}

struct cidr_vec {
	struct cidr **v;
	size_t *n;
};

/* add_cidr - item_fn for networks */
static int
add_cidr(struct yctx *y, yaml_node_t *n, const char *s, const char *what,
    void *arg)
{
	struct cidr_vec *cv = arg;
	struct why why;
	struct cidr c;

	if (cidr_parse(s, &c, &why) < 0)
		return fail(y, n, "%s: %s", what, why.text);
	*cv->v = xreallocarray(*cv->v, *cv->n + 1, sizeof(c));
	(*cv->v)[(*cv->n)++] = c;
	return 0;
}

struct str_vec {
	char ***v;
	size_t *n;
	int kind; /* 0: client name, 1: sender, 2: recipient */
};

/* add_pattern - item_fn for name and address patterns */
static int
add_pattern(struct yctx *y, yaml_node_t *n, const char *s, const char *what,
    void *arg)
{
	struct str_vec *sv = arg;
	struct why why;
	char *p;

	p = sv->kind == 0 ? access_norm_name(s, &why)
			  : access_norm_addr(s, sv->kind == 1, &why);
	if (p == NULL)
		return fail(y, n, "%s: %s", what, why.text);
	*sv->v = xreallocarray(*sv->v, *sv->n + 1, sizeof(char *));
	(*sv->v)[(*sv->n)++] = p;
	return 0;
}

/* get_action - a validated Postfix action */
static int
get_action(struct yctx *y, yaml_node_t *n, const char *what, char **out)
{
	const char *s = scalar(y, n, what);
	struct why why;

	if (s == NULL)
		return -1;
	if (access_check_action(s, &why) < 0)
		return fail(y, n, "%s: %s", what, why.text);
	free(*out);
	*out = xstrdup(s);
	return 0;
}

/* parse_inet - "addr:port" or "[v6addr]:port" */
static int
parse_inet(struct yctx *y, yaml_node_t *n, const char *s,
    struct cfg_listen *l)
{
	char host[ADDR_STRLEN + 1];
	const char *port;
	struct ipaddr ip;
	size_t hlen;
	unsigned long p;
	char *end;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			goto bad;
		hlen = (size_t)(rb - s - 1);
		if (hlen >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, hlen);
		port = rb + 2;
	} else {
		const char *colon = strrchr(s, ':');

		if (colon == NULL || (hlen = (size_t)(colon - s)) >=
		    sizeof(host))
			goto bad;
		memcpy(host, s, hlen);
		if (memchr(host, ':', hlen) != NULL)
			return fail(y, n, "listen: inet \"%s\": write an IPv6 "
					  "address in brackets, e.g. "
					  "[::1]:10023", s);
		port = colon + 1;
	}
	host[hlen] = '\0';
	if (addr_parse(host, &ip) < 0)
		return fail(y, n, "listen: inet \"%s\": \"%s\" is not an IP "
				  "address", s, host);
	errno = 0;
	p = strtoul(port, &end, 10);
	if (*port < '0' || *port > '9' || *end != '\0' || p > 65535)
		return fail(y, n, "listen: inet \"%s\": port must be 0 to "
				  "65535", s);
	l->kind = CFG_LISTEN_INET;
	l->host = xstrdup(host);
	l->port = (unsigned)p;
	return 0;
bad:
	return fail(y, n, "listen: inet \"%.60s\" is not address:port, e.g. "
			  "127.0.0.1:10023 or [::1]:10023", s);
}

/* parse_listen - the listen list */
static int
parse_listen(struct yctx *y, yaml_node_t *n, struct cfg *cfg)
{
	static const char *const keys[] = { "inet", "unix", "mode", "group",
		NULL };
	yaml_node_item_t *it;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(y, n, "listen: expected a list, found %s", kind(n));
	if (n->data.sequence.items.top == n->data.sequence.items.start)
		return fail(y, n, "listen: needs at least one listener");
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		yaml_node_t *in = node(y, *it), *v[4];
		struct cfg_listen *l;
		const char *s;

		if (map_keys(y, in, "listen", keys, v) < 0)
			return -1;
		cfg->listen = xreallocarray(cfg->listen, cfg->nlisten + 1,
		    sizeof(*l));
		l = &cfg->listen[cfg->nlisten++];
		memset(l, 0, sizeof(*l));
		l->mode = -1;
		if ((v[0] == NULL) == (v[1] == NULL))
			return fail(y, in, "listen: each listener needs "
					   "either inet or unix");
		if (v[0] != NULL) {
			if (v[2] != NULL || v[3] != NULL)
				return fail(y, v[2] ? v[2] : v[3],
				    "listen: mode and group are for unix "
				    "sockets");
			if ((s = scalar(y, v[0], "listen: inet")) == NULL ||
			    parse_inet(y, v[0], s, l) < 0)
				return -1;
			continue;
		}
		l->kind = CFG_LISTEN_UNIX;
		if (get_string(y, v[1], "listen: unix", &l->path) < 0)
			return -1;
		if (strlen(l->path) > 100)
			return fail(y, v[1], "listen: unix: path longer than "
					     "100 bytes");
		if (v[2] != NULL) {
			const char *m = scalar(y, v[2], "listen: mode");
			char *end;
			long mode;

			if (m == NULL)
				return -1;
			mode = strtol(m, &end, 8);
			if (*m < '0' || *m > '7' || *end != '\0' ||
			    mode > 0777)
				return fail(y, v[2], "listen: mode: \"%.20s\" "
						     "is not an octal mode "
						     "like \"0660\"", m);
			l->mode = (int)mode;
		}
		if (v[3] != NULL &&
		    get_string(y, v[3], "listen: group", &l->group) < 0)
			return -1;
	}
	return 0;
}

/* parse_network - client network prefixes */
static int
parse_network(struct yctx *y, yaml_node_t *n, struct cfg *cfg)
{
	static const char *const keys[] = { "ipv4_prefix", "ipv6_prefix",
		NULL };
	yaml_node_t *v[2];

	if (map_keys(y, n, "network", keys, v) < 0)
		return -1;
	if (v[0] != NULL && get_uint(y, v[0], "network: ipv4_prefix", 0, 32,
	    &cfg->net.ipv4_prefix) < 0)
		return -1;
	if (v[1] != NULL && get_uint(y, v[1], "network: ipv6_prefix", 0, 128,
	    &cfg->net.ipv6_prefix) < 0)
		return -1;
	return 0;
}

/* parse_access - the static access rules */
static int
parse_access(struct yctx *y, yaml_node_t *n, struct cfg *cfg)
{
	static const char *const keys[] = { "name", "client", "client_name",
		"sender", "recipient", "action", NULL };
	yaml_node_item_t *it;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(y, n, "access: expected a list of rules, found %s",
		    kind(n));
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		yaml_node_t *in = node(y, *it), *v[6];
		size_t idx = cfg->naccess;
		struct access_rule *r;
		char what[64];

		snprintf(what, sizeof(what), "access[%zu]", idx + 1);
		if (map_keys(y, in, what, keys, v) < 0)
			return -1;
		cfg->access = xreallocarray(cfg->access, idx + 1, sizeof(*r));
		r = &cfg->access[cfg->naccess++];
		memset(r, 0, sizeof(*r));
		r->line = (int)in->start_mark.line + 1;
		if (v[0] != NULL) {
			if (get_string(y, v[0], "access: name", &r->name) < 0)
				return -1;
			snprintf(what, sizeof(what), "access[%s]", r->name);
		} else {
			r->name = xstrdup(what);
		}
		if (v[5] == NULL)
			return fail(y, in, "%s: needs an action", what);
		if (v[1] == NULL && v[2] == NULL && v[3] == NULL &&
		    v[4] == NULL)
			return fail(y, in, "%s: needs at least one of client, "
					   "client_name, sender, recipient",
			    what);
		{
			char w[96];
			struct cidr_vec cv = { &r->clients, &r->nclients };
			struct str_vec names = { &r->client_names,
				&r->nclient_names, 0 };
			struct str_vec snd = { &r->senders, &r->nsenders, 1 };
			struct str_vec rcp = { &r->recipients,
				&r->nrecipients, 2 };

			snprintf(w, sizeof(w), "%s.client", what);
			if (v[1] && each_value(y, v[1], w, add_cidr, &cv) < 0)
				return -1;
			snprintf(w, sizeof(w), "%s.client_name", what);
			if (v[2] &&
			    each_value(y, v[2], w, add_pattern, &names) < 0)
				return -1;
			snprintf(w, sizeof(w), "%s.sender", what);
			if (v[3] && each_value(y, v[3], w, add_pattern, &snd) < 0)
				return -1;
			snprintf(w, sizeof(w), "%s.recipient", what);
			if (v[4] && each_value(y, v[4], w, add_pattern, &rcp) < 0)
				return -1;
			snprintf(w, sizeof(w), "%s.action", what);
			if (get_action(y, v[5], w, &r->action) < 0)
				return -1;
		}
	}
	return 0;
}

/* parse_store - the state store */
static int
parse_store(struct yctx *y, yaml_node_t *n, struct cfg *cfg)
{
	static const char *const keys[] = { "cache", "sync", NULL };
	yaml_node_t *v[2];

	if (map_keys(y, n, "store", keys, v) < 0)
		return -1;
	if (v[0] != NULL) {
		const char *s = scalar(y, v[0], "store: cache");
		struct why why;

		if (s == NULL)
			return -1;
		if (cfg_parse_size(s, &cfg->store_cache, &why) < 0)
			return fail(y, v[0], "store: cache: %s", why.text);
		if (cfg->store_cache < (UINT64_C(1) << 20) ||
		    cfg->store_cache > (UINT64_C(64) << 30))
			return fail(y, v[0], "store: cache: %s is out of range "
					     "(1MiB to 64GiB)", s);
	}
	if (v[1] != NULL) {
		const char *s = scalar(y, v[1], "store: sync");

		if (s == NULL)
			return -1;
		if (strcmp(s, "os") == 0)
			cfg->store_sync = STORE_SYNC_OS;
		else if (strcmp(s, "full") == 0)
			cfg->store_sync = STORE_SYNC_FULL;
		else
			return fail(y, v[1], "store: sync: \"%.40s\" is neither "
					     "os nor full", s);
	}
	return 0;
}

/* parse_greylist - checks.greylist */
static int
parse_greylist(struct yctx *y, yaml_node_t *n, struct gl_conf *g)
{
	enum { K_ENABLED, K_DELAY, K_WINDOW, K_MAX_AGE, K_V4, K_V6, K_AWLC,
		K_AWLD, K_BATV, K_SRS, K_EXT, K_DIGITS, K_TEXT, K_HEADER,
		K_ON_ERROR, K_SWEEP, K_BATCH, K_POOL_SPF, K_POOL_FCRDNS,
		K_POOL_V4, K_POOL_V6 };
	static const char *const keys[] = { "enabled", "delay", "retry_window",
		"max_age", "ipv4_prefix", "ipv6_prefix", "awl_clients",
		"awl_domains", "strip_batv", "strip_srs", "strip_extension",
		"fold_digits", "text", "header", "on_error", "sweep_interval",
		"sweep_batch", "pool_spf", "pool_fcrdns", "pool_spf_ipv4_prefix",
		"pool_spf_ipv6_prefix", NULL };
	yaml_node_t *v[nitems(keys)];
	uint64_t ms;

	if (map_keys(y, n, "checks: greylist", keys, v) < 0)
		return -1;
	g->enabled = true;
	if (v[K_ENABLED] && get_bool(y, v[K_ENABLED], "greylist: enabled",
	    &g->enabled) < 0)
		return -1;
	if (v[K_DELAY] && get_seconds(y, v[K_DELAY], "greylist: delay", 0,
	    86400, &g->delay) < 0)
		return -1;
	if (v[K_WINDOW] && get_seconds(y, v[K_WINDOW], "greylist: "
	    "retry_window", 60, 30 * 86400, &g->retry_window) < 0)
		return -1;
	if (v[K_MAX_AGE] && get_seconds(y, v[K_MAX_AGE], "greylist: max_age",
	    3600, 3650 * 86400LL, &g->max_age) < 0)
		return -1;
	if (v[K_V4] && get_uint(y, v[K_V4], "greylist: ipv4_prefix", 0, 32,
	    &g->ipv4_prefix) < 0)
		return -1;
	if (v[K_V6] && get_uint(y, v[K_V6], "greylist: ipv6_prefix", 0, 128,
	    &g->ipv6_prefix) < 0)
		return -1;
	if (v[K_POOL_V4] && get_uint(y, v[K_POOL_V4], "greylist: "
	    "pool_spf_ipv4_prefix", 0, 32, &g->pool_spf_ipv4_prefix) < 0)
		return -1;
	if (v[K_POOL_V6] && get_uint(y, v[K_POOL_V6], "greylist: "
	    "pool_spf_ipv6_prefix", 0, 128, &g->pool_spf_ipv6_prefix) < 0)
		return -1;
	if (v[K_AWLC] && get_uint(y, v[K_AWLC], "greylist: awl_clients", 0,
	    1000000, &g->awl_clients) < 0)
		return -1;
	if (v[K_AWLD] && get_uint(y, v[K_AWLD], "greylist: awl_domains", 0,
	    1000000, &g->awl_domains) < 0)
		return -1;
	if ((v[K_BATV] && get_bool(y, v[K_BATV], "greylist: strip_batv",
		&g->strip_batv) < 0) ||
	    (v[K_SRS] && get_bool(y, v[K_SRS], "greylist: strip_srs",
		&g->strip_srs) < 0) ||
	    (v[K_EXT] && get_bool(y, v[K_EXT], "greylist: strip_extension",
		&g->strip_extension) < 0) ||
	    (v[K_DIGITS] && get_bool(y, v[K_DIGITS], "greylist: fold_digits",
		&g->fold_digits) < 0) ||
	    (v[K_HEADER] && get_bool(y, v[K_HEADER], "greylist: header",
		&g->header) < 0) ||
	    (v[K_POOL_SPF] && get_bool(y, v[K_POOL_SPF], "greylist: pool_spf",
		&g->pool_spf) < 0) ||
	    (v[K_POOL_FCRDNS] && get_bool(y, v[K_POOL_FCRDNS],
		"greylist: pool_fcrdns", &g->pool_fcrdns) < 0))
		return -1;
	if (v[K_TEXT]) {
		char *t = NULL;
		const char *p;

		if (get_string(y, v[K_TEXT], "greylist: text", &t) < 0)
			return -1;
		for (p = t; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				free(t);
				return fail(y, v[K_TEXT], "greylist: text "
							  "contains a control "
							  "character");
			}
		}
		if (strlen(t) > 400) {
			free(t);
			return fail(y, v[K_TEXT], "greylist: text is longer "
						  "than 400 characters");
		}
		free(g->text);
		g->text = t;
	}
	if (v[K_ON_ERROR] && get_defer(y, v[K_ON_ERROR], "greylist: on_error",
	    "", &g->defer_on_error) < 0)
		return -1;
	if (v[K_SWEEP]) {
		if (get_duration(y, v[K_SWEEP], "greylist: sweep_interval", 100,
		    86400000, &ms) < 0)
			return -1;
		g->sweep_interval_ms = (int64_t)ms;
	}
	if (v[K_BATCH] && get_uint(y, v[K_BATCH], "greylist: sweep_batch", 1,
	    100000, &g->sweep_batch) < 0)
		return -1;
	/* A retry must be able to come after the delay and in the window. */
	if (g->delay >= g->retry_window)
		return fail(y, v[K_DELAY] ? v[K_DELAY] : v[K_WINDOW],
		    "greylist: delay (%llds) is not shorter than retry_window "
		    "(%llds): no retry could ever pass",
		    (long long)g->delay, (long long)g->retry_window);
	return 0;
}

/* add_nameserver - item_fn for dns.nameservers */
static int
add_nameserver(struct yctx *y, yaml_node_t *n, const char *s,
    const char *what, void *arg)
{
	struct dns_opts *o = arg;
	struct why why;

	if (o->nservers == DNS_MAX_SERVERS)
		return fail(y, n, "%s: at most %d nameservers", what,
		    DNS_MAX_SERVERS);
	if (dns_server_parse(s, &o->servers[o->nservers], &why) < 0)
		return fail(y, n, "%s: %s", what, why.text);
	o->nservers++;
	return 0;
}

/* parse_dns - the resolver */
static int
parse_dns(struct yctx *y, yaml_node_t *n, struct dns_opts *o)
{
	enum { K_NS, K_TIMEOUT, K_TRIES, K_LIMIT, K_CACHE, K_MIN, K_MAX,
		K_NEG, K_INFLIGHT };
	static const char *const keys[] = { "nameservers", "timeout", "tries",
		"limit", "cache_size", "min_ttl", "max_ttl", "negative_ttl",
		"max_inflight", NULL };
	yaml_node_t *v[nitems(keys)];
	int64_t secs;

	if (map_keys(y, n, "dns", keys, v) < 0)
		return -1;
	if (v[K_NS] && each_value(y, v[K_NS], "dns: nameservers",
	    add_nameserver, o) < 0)
		return -1;
	if (v[K_TIMEOUT] && get_duration(y, v[K_TIMEOUT], "dns: timeout", 10,
	    60000, &o->timeout_ms) < 0)
		return -1;
	if (v[K_TRIES] && get_uint(y, v[K_TRIES], "dns: tries", 1, 10,
	    &o->tries) < 0)
		return -1;
	if (v[K_LIMIT] && get_duration(y, v[K_LIMIT], "dns: limit", 10,
	    300000, &o->limit_ms) < 0)
		return -1;
	if (v[K_CACHE]) {
		unsigned size;

		if (get_uint(y, v[K_CACHE], "dns: cache_size", 1, 10000000,
		    &size) < 0)
			return -1;
		o->cache_size = size;
	}
	if (v[K_MIN]) {
		if (get_seconds(y, v[K_MIN], "dns: min_ttl", 0, 86400, &secs) <
		    0)
			return -1;
		o->min_ttl = (uint32_t)secs;
	}
	if (v[K_MAX]) {
		if (get_seconds(y, v[K_MAX], "dns: max_ttl", 1, 7 * 86400,
		    &secs) < 0)
			return -1;
		o->max_ttl = (uint32_t)secs;
	}
	if (v[K_NEG]) {
		if (get_seconds(y, v[K_NEG], "dns: negative_ttl", 0, 86400,
		    &secs) < 0)
			return -1;
		o->neg_max_ttl = (uint32_t)secs;
	}
	if (v[K_INFLIGHT] && get_uint(y, v[K_INFLIGHT], "dns: max_inflight",
	    1, 10000, &o->max_inflight) < 0)
		return -1;
	if (o->min_ttl > o->max_ttl)
		return fail(y, n, "dns: min_ttl (%us) is longer than max_ttl "
				  "(%us)", o->min_ttl, o->max_ttl);
	return 0;
}

/* parse_on_fail - reject | defer | log | { score: N } */
static int
parse_on_fail(struct yctx *y, yaml_node_t *n, const char *what,
    struct chk_policy *cp)
{
	static const char *const keys[] = { "score", NULL };
	yaml_node_t *v[1];
	unsigned score;
	const char *s;

	if (n->type == YAML_MAPPING_NODE) {
		if (map_keys(y, n, what, keys, v) < 0)
			return -1;
		if (v[0] == NULL)
			return fail(y, n, "%s: needs score: N", what);
		if (get_uint(y, v[0], what, 0, 100, &score) < 0)
			return -1;
		cp->on_fail = CHK_SCORE;
		cp->score = (int)score;
		return 0;
	}
	if ((s = scalar(y, n, what)) == NULL)
		return -1;
	if (strcmp(s, "reject") == 0)
		cp->on_fail = CHK_REJECT;
	else if (strcmp(s, "defer") == 0)
		cp->on_fail = CHK_DEFER;
	else if (strcmp(s, "log") == 0)
		cp->on_fail = CHK_LOG;
	else
		return fail(y, n, "%s: \"%.40s\" is not reject, defer, log or "
				  "{ score: N }", what, s);
	return 0;
}

/* parse_nets - a list of networks into an owned array (replaced) */
static int
parse_nets(struct yctx *y, yaml_node_t *n, const char *what,
    struct cidr **v, size_t *nv)
{
	struct cidr_vec cv = { v, nv };

	free(*v);
	*v = NULL;
	*nv = 0;
	if (n->type != YAML_SEQUENCE_NODE && n->type != YAML_SCALAR_NODE)
		return fail(y, n, "%s: expected a list of networks, found %s",
		    what, kind(n));
	return each_value(y, n, what, add_cidr, &cv);
}

/* parse_outcome - the action of one named result (spf: fail: reject) */
static int
parse_outcome(struct yctx *y, yaml_node_t *n, const char *what,
    const char *result, struct chk_outcome *o)
{
	struct chk_policy tmp;

	memset(&tmp, 0, sizeof(tmp));
	if (strcmp(result, "pass") == 0)
		return fail(y, n, "%s: a pass is never refused or scored", what);
	if (parse_on_fail(y, n, what, &tmp) < 0)
		return -1;
	/* DNS trouble is never a reason to refuse, not even by score. */
	if (strcmp(result, "temperror") == 0 && tmp.on_fail != CHK_DEFER &&
	    tmp.on_fail != CHK_LOG)
		return fail(y, n, "%s: a temporary error is never a reason to "
				  "refuse: use defer or log", what);
	o->on = tmp.on_fail;
	o->score = tmp.score;
	return 0;
}

/* The keys every check has, then those of some; results come after. */
enum { CK_ENABLED, CK_ON_FAIL, CK_TEXT, CK_STRICT, CK_PATTERNS,
	CK_HELO_FIRST, CK_HEADER, CK_FORWARDERS, CK_SECONDARY_MX, CK_NKEYS };
static const char *const check_keys[CK_NKEYS] = { "enabled", "on_fail",
	"text", "strict", "patterns", "helo_first", "header", "forwarders",
	"secondary_mx" };

/* parse_check - one identity check's policy */
static int
parse_check(struct yctx *y, yaml_node_t *n, unsigned idx,
    struct chk_policy *cp)
{
	const struct chk_ops *ops = chk_registry[idx];
	const char *name = ops->name;
	const char *keys[CK_NKEYS + CHK_MAX_RESULTS + 1];
	yaml_node_t *v[CK_NKEYS + CHK_MAX_RESULTS + 1];
	bool spf = strcmp(name, "spf") == 0;
	unsigned i, nres = 0;
	char what[64];

	for (i = 0; i < CK_NKEYS; i++)
		keys[i] = check_keys[i];
	for (; ops->results != NULL && ops->results[nres] != NULL; nres++)
		keys[CK_NKEYS + nres] = ops->results[nres];
	keys[CK_NKEYS + nres] = NULL;
	snprintf(what, sizeof(what), "checks: %s", name);
	if (map_keys(y, n, what, keys, v) < 0)
		return -1;
	cp->enabled = true;
	snprintf(what, sizeof(what), "%s: enabled", name);
	if (v[CK_ENABLED] && get_bool(y, v[CK_ENABLED], what, &cp->enabled) <
	    0)
		return -1;
	snprintf(what, sizeof(what), "%s: on_fail", name);
	if (v[CK_ON_FAIL] && nres > 0)
		return fail(y, v[CK_ON_FAIL], "%s: the %s check has an action "
					      "per result instead (fail: "
					      "reject, softfail: { score: 2 }, "
					      "...)", what, name);
	if (v[CK_ON_FAIL] && parse_on_fail(y, v[CK_ON_FAIL], what, cp) < 0)
		return -1;
	for (i = 0; i < nres; i++) {
		snprintf(what, sizeof(what), "%s: %s", name, ops->results[i]);
		if (v[CK_NKEYS + i] && parse_outcome(y, v[CK_NKEYS + i], what,
		    ops->results[i], &cp->results[i]) < 0)
			return -1;
	}
	snprintf(what, sizeof(what), "%s: text", name);
	if (v[CK_TEXT] && get_string(y, v[CK_TEXT], what, &cp->text) < 0)
		return -1;
	if (v[CK_TEXT] && (strlen(cp->text) > 400 ||
	    strpbrk(cp->text, "\r\n\t") != NULL))
		return fail(y, v[CK_TEXT], "%s: at most 400 characters, no "
					   "control characters", what);
	snprintf(what, sizeof(what), "%s: strict", name);
	if (v[CK_STRICT] && strcmp(name, "helo_dns") != 0)
		return fail(y, v[CK_STRICT], "%s: only the helo_dns check has "
					     "strict", what);
	if (v[CK_STRICT] && get_bool(y, v[CK_STRICT], what, &cp->strict) < 0)
		return -1;
	for (i = CK_HELO_FIRST; i <= CK_SECONDARY_MX; i++) {
		if (v[i] != NULL && !spf)
			return fail(y, v[i], "%s: %s: only the spf check has %s",
			    name, check_keys[i], check_keys[i]);
	}
	if (v[CK_HELO_FIRST] && get_bool(y, v[CK_HELO_FIRST],
	    "spf: helo_first", &cp->helo_first) < 0)
		return -1;
	if (v[CK_HEADER]) {
		const char *h = scalar(y, v[CK_HEADER], "spf: header");

		if (h == NULL)
			return -1;
		if (strcmp(h, "received-spf") == 0)
			cp->header = CHK_HDR_RECEIVED_SPF;
		else if (strcmp(h, "authentication-results") == 0)
			cp->header = CHK_HDR_AUTH_RESULTS;
		else if (strcmp(h, "none") == 0)
			cp->header = CHK_HDR_NONE;
		else
			return fail(y, v[CK_HEADER], "spf: header: \"%.40s\" is "
						     "not received-spf, "
						     "authentication-results "
						     "or none", h);
	}
	if (v[CK_FORWARDERS] && parse_nets(y, v[CK_FORWARDERS],
	    "spf: forwarders", &cp->forwarders, &cp->nforwarders) < 0)
		return -1;
	if (v[CK_SECONDARY_MX] && parse_nets(y, v[CK_SECONDARY_MX],
	    "spf: secondary_mx", &cp->secondary_mx, &cp->nsecondary_mx) < 0)
		return -1;
	snprintf(what, sizeof(what), "%s: patterns", name);
	if (v[CK_PATTERNS] != NULL) {
		const char *path;
		struct why why;

		if (strncmp(name, "dynamic", 7) != 0)
			return fail(y, v[CK_PATTERNS], "%s: only the dynamic "
						       "checks have patterns",
			    what);
		char full[4096];
		const char *slash;

		if ((path = scalar(y, v[CK_PATTERNS], what)) == NULL)
			return -1;
		/* A relative path is beside the policy file. */
		slash = strrchr(y->path, '/');
		if (path[0] != '/' && slash != NULL)
			snprintf(full, sizeof(full), "%.*s/%s",
			    (int)(slash - y->path), y->path, path);
		else
			snprintf(full, sizeof(full), "%s", path);
		if (!cp->patterns_borrowed)
			dyn_patterns_free(cp->patterns);
		cp->patterns_borrowed = false;
		if ((cp->patterns = dyn_patterns_load(full, &why)) == NULL)
			return fail(y, v[CK_PATTERNS], "%s: %s", what,
			    why.text);
	}
	return 0;
}

/*
 * chk_policy_copy - a profile's copy of the main policy's check: its own
 * strings and lists, the pattern file borrowed (it never changes).
 */
static void
chk_policy_copy(struct chk_policy *dst, const struct chk_policy *src)
{
	*dst = *src;
	dst->text = xstrdup(src->text);
	dst->patterns_borrowed = true;
	dst->forwarders = NULL;
	dst->secondary_mx = NULL;
	if (src->nforwarders > 0) {
		dst->forwarders = xreallocarray(NULL, src->nforwarders,
		    sizeof(*src->forwarders));
		memcpy(dst->forwarders, src->forwarders, src->nforwarders *
		    sizeof(*src->forwarders));
	}
	if (src->nsecondary_mx > 0) {
		dst->secondary_mx = xreallocarray(NULL, src->nsecondary_mx,
		    sizeof(*src->secondary_mx));
		memcpy(dst->secondary_mx, src->secondary_mx,
		    src->nsecondary_mx * sizeof(*src->secondary_mx));
	}
}

/* chk_policy_fini - free what a check's policy owns */
static void
chk_policy_fini(struct chk_policy *cp)
{
	free(cp->text);
	if (!cp->patterns_borrowed)
		dyn_patterns_free(cp->patterns);
	free(cp->forwarders);
	free(cp->secondary_mx);
}

/*
 * parse_checks - the checks section: of the main policy (g, the greylist
 * settings, not NULL) or of a profile (g NULL: greylist is only on/off).
 */
static int
parse_checks(struct yctx *y, yaml_node_t *n, struct chk_policy *checks,
    struct gl_conf *g, bool *greylist_on)
{
	const char *keys[CHK_MAX + 2];
	yaml_node_t *v[CHK_MAX + 2];
	unsigned i;

	keys[0] = "greylist";
	for (i = 0; i < chk_count; i++)
		keys[i + 1] = chk_registry[i]->name;
	keys[chk_count + 1] = NULL;
	if (map_keys(y, n, "checks", keys, v) < 0)
		return -1;
	if (v[0] != NULL && g != NULL && parse_greylist(y, v[0], g) < 0)
		return -1;
	if (v[0] != NULL && g == NULL) {
		static const char *const gkeys[] = { "enabled", NULL };
		yaml_node_t *gv[1];

		if (map_keys(y, v[0], "profile greylist (only enabled)", gkeys,
		    gv) < 0)
			return -1;
		if (gv[0] && get_bool(y, gv[0], "greylist: enabled",
		    greylist_on) < 0)
			return -1;
	}
	for (i = 0; i < chk_count; i++)
		if (v[i + 1] != NULL && parse_check(y, v[i + 1], i,
		    &checks[i]) < 0)
			return -1;
	return 0;
}

/* parse_scores - thresholds, of the main policy or of a profile */
static int
parse_scores(struct yctx *y, yaml_node_t *n, int *reject, int *greylist)
{
	static const char *const keys[] = { "reject", "greylist", NULL };
	yaml_node_t *v[2];
	unsigned u;

	if (map_keys(y, n, "scores", keys, v) < 0)
		return -1;
	if (v[0]) {
		if (get_uint(y, v[0], "scores: reject", 0, 1000, &u) < 0)
			return -1;
		*reject = (int)u;
	}
	if (v[1]) {
		if (get_uint(y, v[1], "scores: greylist", 0, 1000, &u) < 0)
			return -1;
		*greylist = (int)u;
	}
	return 0;
}

/* profile_find - index of a profile by name, or -1 */
static int
profile_find(const struct cfg *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nprofiles; i++)
		if (strcmp(cfg->profiles[i].name, name) == 0)
			return (int)i;
	return -1;
}

/*
 * parse_profiles - named variants of the main policy: each starts as a
 * copy of it (checks, scores, greylisting) and changes what it names.
 */
static int
parse_profiles(struct yctx *y, yaml_node_t *n, struct cfg *cfg)
{
	static const char *const keys[] = { "checks", "scores", NULL };
	yaml_node_pair_t *pair;

	if (n->type != YAML_MAPPING_NODE)
		return fail(y, n, "profiles: expected a mapping of names, "
				  "found %s", kind(n));
	for (pair = n->data.mapping.pairs.start;
	    pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(y, pair->key), *v[2];
		const char *name = scalar(y, k, "profiles");
		struct cfg_profile *pr;
		char what[80];
		unsigned i;

		if (name == NULL)
			return -1;
		if (profile_find(cfg, name) >= 0)
			return fail(y, k, "profiles: duplicate profile \"%.40s\"",
			    name);
		snprintf(what, sizeof(what), "profiles: %.40s", name);
		if (map_keys(y, node(y, pair->value), what, keys, v) < 0)
			return -1;
		cfg->profiles = xreallocarray(cfg->profiles, cfg->nprofiles + 1,
		    sizeof(*pr));
		pr = &cfg->profiles[cfg->nprofiles++];
		memset(pr, 0, sizeof(*pr));
		pr->name = xstrdup(name);
		for (i = 0; i < chk_count; i++)
			chk_policy_copy(&pr->checks[i], &cfg->checks[i]);
		pr->score_reject = cfg->score_reject;
		pr->score_greylist = cfg->score_greylist;
		pr->greylist = cfg->greylist.enabled;
		if (v[0] && parse_checks(y, v[0], pr->checks, NULL,
		    &pr->greylist) < 0)
			return -1;
		if (v[1] && parse_scores(y, v[1], &pr->score_reject,
		    &pr->score_greylist) < 0)
			return -1;
	}
	return 0;
}

/* parse_select - which requests use which profile */
static int
parse_select(struct yctx *y, yaml_node_t *n, struct cfg *cfg)
{
	static const char *const keys[] = { "stress", "policy_context", NULL };
	yaml_node_t *v[2];
	yaml_node_pair_t *pair;
	const char *s;

	if (map_keys(y, n, "select", keys, v) < 0)
		return -1;
	if (v[0] != NULL) {
		if ((s = scalar(y, v[0], "select: stress")) == NULL)
			return -1;
		if ((cfg->stress_profile = profile_find(cfg, s)) < 0)
			return fail(y, v[0], "select: stress: no profile "
					     "\"%.40s\"", s);
	}
	if (v[1] == NULL)
		return 0;
	if (v[1]->type != YAML_MAPPING_NODE)
		return fail(y, v[1], "select: policy_context: expected a "
				     "mapping of context: profile");
	for (pair = v[1]->data.mapping.pairs.start;
	    pair < v[1]->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(y, pair->key), *pv = node(y, pair->value);
		const char *ctx = scalar(y, k, "select: policy_context");
		int idx;

		if (ctx == NULL ||
		    (s = scalar(y, pv, "select: policy_context")) == NULL)
			return -1;
		if ((idx = profile_find(cfg, s)) < 0)
			return fail(y, pv, "select: policy_context: no profile "
					   "\"%.40s\"", s);
		cfg->contexts = xreallocarray(cfg->contexts,
		    cfg->ncontexts + 1, sizeof(*cfg->contexts));
		cfg->contexts[cfg->ncontexts].context = xstrdup(ctx);
		cfg->contexts[cfg->ncontexts].profile = idx;
		cfg->ncontexts++;
	}
	return 0;
}

/* add_my_name - item_fn for my_names */
static int
add_my_name(struct yctx *y, yaml_node_t *n, const char *s, const char *what,
    void *arg)
{
	struct cfg *cfg = arg;
	struct why why;
	char *p = access_norm_name(s, &why);

	if (p == NULL || *p == '.') {
		free(p);
		return fail(y, n, "%s: \"%.60s\" is not a host name", what, s);
	}
	cfg->my_names = xreallocarray(cfg->my_names, cfg->nmy_names + 1,
	    sizeof(char *));
	cfg->my_names[cfg->nmy_names++] = p;
	return 0;
}

/* add_my_address - item_fn for my_addresses */
static int
add_my_address(struct yctx *y, yaml_node_t *n, const char *s,
    const char *what, void *arg)
{
	struct cfg *cfg = arg;
	struct ipaddr ip;

	if (addr_parse(s, &ip) < 0)
		return fail(y, n, "%s: \"%.60s\" is not an IP address", what, s);
	cfg->my_addresses = xreallocarray(cfg->my_addresses,
	    cfg->nmy_addresses + 1, sizeof(ip));
	cfg->my_addresses[cfg->nmy_addresses++] = ip;
	return 0;
}

/* cfg_defaults - a config as if the file were empty */
static struct cfg *
cfg_defaults(const char *path)
{
	struct cfg *cfg = xcalloc(1, sizeof(*cfg));

	cfg->refs = 1;
	cfg->path = xstrdup(path);
	cfg->state_dir = xstrdup("/var/lib/policyd");
	cfg->max_connections = 1000;
	cfg->idle_timeout_ms = 600 * 1000;
	cfg->shutdown_timeout_ms = 10 * 1000;
	cfg->deadline_ms = 10 * 1000;
	cfg->net.ipv4_prefix = 24;
	cfg->net.ipv6_prefix = 64;
	cfg->default_action = xstrdup("DUNNO");
	cfg->error_action = xstrdup("DUNNO");
	cfg->store_cache = UINT64_C(64) << 20;
	cfg->store_sync = STORE_SYNC_OS;
	gl_conf_defaults(&cfg->greylist);
	dns_opts_defaults(&cfg->dns);
	cfg->tempfail_defer = true;
	cfg->score_reject = 5;
	cfg->stress_profile = -1;
	{
		unsigned i;

		for (i = 0; i < chk_count; i++) {
			const struct chk_ops *ops = chk_registry[i];
			unsigned r;

			cfg->checks[i].on_fail = CHK_REJECT;
			cfg->checks[i].text = xstrdup(ops->text);
			cfg->checks[i].header = CHK_HDR_RECEIVED_SPF;
			for (r = 0; ops->results && ops->results[r]; r++)
				cfg->checks[i].results[r] = ops->defaults[r];
		}
	}
	return cfg;
}

/* parse_root - the top-level mapping */
static int
parse_root(struct yctx *y, yaml_node_t *root, struct cfg *cfg)
{
	enum { K_LISTEN, K_ALLOW, K_STATE_DIR, K_MAX_CONN, K_IDLE, K_SHUTDOWN,
		K_DEADLINE, K_NETWORK, K_DEFAULT, K_ON_ERROR, K_ACCESS,
		K_HOSTNAME, K_STORE, K_CHECKS, K_DNS, K_SCORES, K_TEMPFAIL,
		K_MY_NAMES, K_MY_ADDRS, K_PROFILES, K_SELECT };
	static const char *const keys[] = { "listen", "allow", "state_dir",
		"max_connections", "idle_timeout", "shutdown_timeout",
		"deadline", "network", "default_action", "on_error", "access",
		"hostname", "store", "checks", "dns", "scores", "on_tempfail",
		"my_names", "my_addresses", "profiles", "select", NULL };
	yaml_node_t *v[nitems(keys)];

	if (map_keys(y, root, "the policy file", keys, v) < 0)
		return -1;
	if (v[K_LISTEN] && parse_listen(y, v[K_LISTEN], cfg) < 0)
		return -1;
	if (v[K_ALLOW]) {
		struct cidr_vec cv = { &cfg->allow, &cfg->nallow };

		y->allow_given = true;
		if (v[K_ALLOW]->type == YAML_SEQUENCE_NODE ||
		    v[K_ALLOW]->type == YAML_SCALAR_NODE) {
			if (each_value(y, v[K_ALLOW], "allow", add_cidr, &cv) <
			    0)
				return -1;
		} else {
			return fail(y, v[K_ALLOW], "allow: expected a list of "
						   "networks, found %s",
			    kind(v[K_ALLOW]));
		}
	}
	if (v[K_STATE_DIR] &&
	    get_string(y, v[K_STATE_DIR], "state_dir", &cfg->state_dir) < 0)
		return -1;
	if (v[K_MAX_CONN] && get_uint(y, v[K_MAX_CONN], "max_connections", 1,
	    100000, &cfg->max_connections) < 0)
		return -1;
	if (v[K_IDLE] && get_duration(y, v[K_IDLE], "idle_timeout", 1000,
	    86400000, &cfg->idle_timeout_ms) < 0)
		return -1;
	if (v[K_SHUTDOWN] && get_duration(y, v[K_SHUTDOWN], "shutdown_timeout",
	    0, 300000, &cfg->shutdown_timeout_ms) < 0)
		return -1;
	if (v[K_DEADLINE] && get_duration(y, v[K_DEADLINE], "deadline", 100,
	    100000, &cfg->deadline_ms) < 0)
		return -1;
	if (v[K_NETWORK] && parse_network(y, v[K_NETWORK], cfg) < 0)
		return -1;
	/* Greylisting groups clients by network too, unless it says. */
	cfg->greylist.ipv4_prefix = cfg->net.ipv4_prefix;
	cfg->greylist.ipv6_prefix = cfg->net.ipv6_prefix;
	if (v[K_DEFAULT] && get_action(y, v[K_DEFAULT], "default_action",
	    &cfg->default_action) < 0)
		return -1;
	if (v[K_ON_ERROR]) {
		bool defer;

		if (get_defer(y, v[K_ON_ERROR], "on_error", "", &defer) < 0)
			return -1;
		free(cfg->error_action);
		cfg->error_action = xstrdup(defer ? ERROR_DEFER : "DUNNO");
	}
	if (v[K_ACCESS] && parse_access(y, v[K_ACCESS], cfg) < 0)
		return -1;
	if (v[K_HOSTNAME] &&
	    get_string(y, v[K_HOSTNAME], "hostname", &cfg->hostname) < 0)
		return -1;
	if (v[K_STORE] && parse_store(y, v[K_STORE], cfg) < 0)
		return -1;
	if (v[K_CHECKS] && parse_checks(y, v[K_CHECKS], cfg->checks,
	    &cfg->greylist, NULL) < 0)
		return -1;
	if (v[K_DNS] && parse_dns(y, v[K_DNS], &cfg->dns) < 0)
		return -1;
	if (v[K_SCORES] && parse_scores(y, v[K_SCORES], &cfg->score_reject,
	    &cfg->score_greylist) < 0)
		return -1;
	if (v[K_TEMPFAIL] && get_defer(y, v[K_TEMPFAIL], "on_tempfail",
	    " (never reject)", &cfg->tempfail_defer) < 0)
		return -1;
	if (v[K_MY_NAMES] && each_value(y, v[K_MY_NAMES], "my_names",
	    add_my_name, cfg) < 0)
		return -1;
	if (v[K_MY_ADDRS] && each_value(y, v[K_MY_ADDRS], "my_addresses",
	    add_my_address, cfg) < 0)
		return -1;
	/* Profiles copy the main policy: they come after all of it. */
	if (v[K_PROFILES] && parse_profiles(y, v[K_PROFILES], cfg) < 0)
		return -1;
	if (v[K_SELECT] && parse_select(y, v[K_SELECT], cfg) < 0)
		return -1;
	return 0;
}

/* cfg_uses_checks - an enabled check anywhere in the policy */
bool
cfg_uses_checks(const struct cfg *cfg)
{
	size_t i, j;

	for (i = 0; i < chk_count; i++)
		if (cfg->checks[i].enabled)
			return true;
	for (i = 0; i < cfg->nprofiles; i++)
		for (j = 0; j < chk_count; j++)
			if (cfg->profiles[i].checks[j].enabled)
				return true;
	return false;
}

/* set_default_lists - listen and allow when the file names none */
static void
set_default_lists(struct cfg *cfg, bool allow_given)
{
	if (cfg->nlisten == 0) {
		cfg->listen = xcalloc(1, sizeof(*cfg->listen));
		cfg->listen[0].kind = CFG_LISTEN_INET;
		cfg->listen[0].host = xstrdup("127.0.0.1");
		cfg->listen[0].port = 10023;
		cfg->listen[0].mode = -1;
		cfg->nlisten = 1;
	}
	if (!allow_given) {
		struct cidr c;

		cfg->allow = xcalloc(2, sizeof(*cfg->allow));
		cidr_parse("127.0.0.0/8", &c, NULL);
		cfg->allow[0] = c;
		cidr_parse("::1/128", &c, NULL);
		cfg->allow[1] = c;
		cfg->nallow = 2;
	}
}

/*
 * check_depth - refuse nesting deeper than CFG_MAX_DEPTH before loading.
 * libyaml's scanner does work per token in proportion to the nesting, so
 * a hostile file of nothing but '[' would take minutes to load; the
 * event pass stops after the first few tokens of such a file.
 */
static int
check_depth(const char *path, const char *text, size_t len, struct why *why)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0, rc = 0;

	if (!yaml_parser_initialize(&parser)) {
		why_set(why, "%s: cannot initialize the YAML parser", path);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text,
	    len);
	for (;;) {
		if (!yaml_parser_parse(&parser, &ev))
			break; /* the loader reports syntax errors */
		if (ev.type == YAML_SEQUENCE_START_EVENT ||
		    ev.type == YAML_MAPPING_START_EVENT) {
			if (++depth > CFG_MAX_DEPTH) {
				why_set(why, "%s:%zu:%zu: nesting deeper than "
					     "%d levels", path,
				    ev.start_mark.line + 1,
				    ev.start_mark.column + 1, CFG_MAX_DEPTH);
				rc = -1;
			}
		} else if (ev.type == YAML_SEQUENCE_END_EVENT ||
		    ev.type == YAML_MAPPING_END_EVENT) {
			depth--;
		}
		if (ev.type == YAML_STREAM_END_EVENT || rc < 0) {
			yaml_event_delete(&ev);
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return rc;
}

/* cfg_parse - parse a policy from text */
struct cfg *
cfg_parse(const char *path, const char *text, size_t len, struct why *why)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct yctx y = { path, &doc, why, false };
	struct cfg *cfg;
	yaml_node_t *root;
	int rc;

	if (len > CFG_MAX_FILE) {
		why_set(why, "%s: file is larger than %d bytes", path,
		    CFG_MAX_FILE);
		return NULL;
	}
	if (check_depth(path, text, len, why) < 0)
		return NULL;
	if (!yaml_parser_initialize(&parser)) {
		why_set(why, "%s: cannot initialize the YAML parser", path);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text,
	    len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_mark_t m = parser.problem_mark;

		if (parser.context != NULL && parser.problem_mark.index == 0)
			m = parser.context_mark;
		why_set(why, "%s:%zu:%zu: %s%s%s", path, m.line + 1,
		    m.column + 1, parser.problem ? parser.problem
						 : "YAML error",
		    parser.context ? " " : "",
		    parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return NULL;
	}
	cfg = cfg_defaults(path);
	root = yaml_document_get_root_node(&doc);
	rc = 0;
	if (root != NULL) {
		/* A file of only comments is an empty policy: defaults. */
		if (!(root->type == YAML_SCALAR_NODE &&
		    root->data.scalar.length == 0))
			rc = parse_root(&y, root, cfg);
	}
	if (rc == 0) {
		/* A second document is most likely a mistake: refuse it. */
		yaml_document_t extra;

		if (yaml_parser_load(&parser, &extra)) {
			yaml_node_t *r2 = yaml_document_get_root_node(&extra);

			if (r2 != NULL) {
				why_set(why, "%s:%zu:%zu: only one YAML "
					     "document is allowed", path,
				    r2->start_mark.line + 1,
				    r2->start_mark.column + 1);
				rc = -1;
			}
			yaml_document_delete(&extra);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc < 0) {
		cfg_unref(cfg);
		return NULL;
	}
	set_default_lists(cfg, y.allow_given);
	return cfg;
}

/* cfg_load - read a file and parse it */
struct cfg *
cfg_load(const char *path, struct why *why)
{
	struct cfg *cfg;
	struct stat st;
	FILE *fp;
	char *text;
	size_t len;

	if ((fp = fopen(path, "r")) == NULL) {
		int err = errno;

		why_set(why, "%s: cannot open: %s", path, strerror(err));
		return NULL;
	}
	if (fstat(fileno(fp), &st) < 0 || !S_ISREG(st.st_mode)) {
		why_set(why, "%s: not a regular file", path);
		fclose(fp);
		return NULL;
	}
	if (st.st_size > CFG_MAX_FILE) {
		why_set(why, "%s: file is larger than %d bytes", path,
		    CFG_MAX_FILE);
		fclose(fp);
		return NULL;
	}
	text = xmalloc((size_t)st.st_size + 1);
	len = fread(text, 1, (size_t)st.st_size + 1, fp);
	if (ferror(fp) || len > (size_t)st.st_size) {
		why_set(why, "%s: read error or file changed while reading",
		    path);
		fclose(fp);
		free(text);
		return NULL;
	}
	fclose(fp);
	cfg = cfg_parse(path, text, len, why);
	free(text);
	return cfg;
}

/* cfg_ref - one more reference */
struct cfg *
cfg_ref(struct cfg *cfg)
{
	cfg->refs++;
	return cfg;
}

/* cfg_unref - one reference less; free with the last */
void
cfg_unref(struct cfg *cfg)
{
	size_t i;

	if (cfg == NULL || --cfg->refs > 0)
		return;
	for (i = 0; i < cfg->nlisten; i++) {
		free(cfg->listen[i].host);
		free(cfg->listen[i].path);
		free(cfg->listen[i].group);
	}
	free(cfg->listen);
	free(cfg->allow);
	for (i = 0; i < cfg->naccess; i++)
		access_rule_free_members(&cfg->access[i]);
	free(cfg->access);
	free(cfg->state_dir);
	free(cfg->default_action);
	free(cfg->error_action);
	free(cfg->hostname);
	gl_conf_fini(&cfg->greylist);
	for (i = 0; i < chk_count; i++)
		chk_policy_fini(&cfg->checks[i]);
	for (i = 0; i < cfg->nprofiles; i++) {
		unsigned j;

		for (j = 0; j < chk_count; j++)
			chk_policy_fini(&cfg->profiles[i].checks[j]);
		free(cfg->profiles[i].name);
	}
	free(cfg->profiles);
	for (i = 0; i < cfg->ncontexts; i++)
		free(cfg->contexts[i].context);
	free(cfg->contexts);
	for (i = 0; i < cfg->nmy_names; i++)
		free(cfg->my_names[i]);
	free(cfg->my_names);
	free(cfg->my_addresses);
	free(cfg->path);
	free(cfg);
}
