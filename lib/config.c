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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "dynamic.h"
#include "xalloc.h"

#define DEFAULT_LISTEN "127.0.0.1:10023"
#define ERROR_DEFER "DEFER_IF_PERMIT 4.3.0 Policy service problem, try again later"

struct cfg_parser {
	const char *path;
	yaml_document_t *doc;
	struct why *why;
	bool allow_given; /* the file has an allow list, maybe empty */
	struct cfg *cfg;  /* the config being built */
	yaml_node_t *cur; /* the check whose setup() runs */
};

/* A value of the file, for the checks' setup: a node of the document. */
#define YN(n) ((yaml_node_t *)(uintptr_t)(const void *)(n))
#define CN(n) ((struct cfg_node *)(n))

/* fail - "file:line:col: message" at node n */
static int fail(struct cfg_parser *y, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct cfg_parser *y, const yaml_node_t *n, const char *fmt, ...)
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
node(struct cfg_parser *y, int index)
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
scalar(struct cfg_parser *y, const yaml_node_t *n, const char *what)
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

static cfg_key_observer_fn *key_observer;

/*
 * distance - edits (insert, delete, change, swap two neighbours) from a
 * to b, Damerau's restricted form; both at most 63 bytes, else a lot
 */
static unsigned
distance(const char *a, const char *b)
{
	unsigned d[64][64], i, j, la = (unsigned)strlen(a),
	    lb = (unsigned)strlen(b);

	if (la >= 64 || lb >= 64)
		return 64;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			unsigned c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < c)
				c = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < c)
				c = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < c)
				c = d[i - 2][j - 2] + 1;
			d[i][j] = c;
		}
	}
	return d[la][lb];
}

/*
 * hint - a word on an unknown key: the closest key of the mapping (one
 * edit for a short key, two for a longer one), or, at the top, where it
 * belongs (a check's option under checks, a check itself); "" if none
 */
static void
hint(const char *key, const char *const keys[], size_t accepted,
    bool top, char *out, size_t size)
{
	const char *best = NULL;
	unsigned bd = 64, d, i, j;

	out[0] = '\0';
	for (i = 0; keys[i] != NULL && i < accepted; i++) {
		if ((d = distance(key, keys[i])) < bd) {
			bd = d;
			best = keys[i];
		}
	}
	if (best != NULL && bd <= (strlen(key) <= 5 ? 1u : 2u)) {
		snprintf(out, size, "; did you mean \"%s\"?", best);
		return;
	}
	for (i = 0; top && i < chk_count; i++) {
		const struct chk_def *def = chk_defs[i];

		if (strcmp(key, def->name) == 0) {
			snprintf(out, size, "; it is a check: under checks: "
			    "%s", def->name);
			return;
		}
		for (j = 0; def->options != NULL && def->options[j]; j++) {
			if (strcmp(key, def->options[j]) == 0) {
				snprintf(out, size, "; it belongs under checks: "
				    "%s: %s", def->name, key);
				return;
			}
		}
	}
}

void
cfg_set_key_observer(cfg_key_observer_fn *fn)
{
	key_observer = fn;
}

/*
 * map_keys_n - check that n is a mapping whose keys are all in keys[]
 * (NULL ended), none twice, and store each value node in vals[] (NULL:
 * absent). The first accepted of them are the mapping's own keys (the
 * rest are known only to say whose they are); the observer sees those.
 */
static int
map_keys_n(struct cfg_parser *y, yaml_node_t *n, const char *what,
    const char *const keys[], size_t accepted, yaml_node_t *vals[])
{
	yaml_node_pair_t *pair;
	size_t i;

	for (i = 0; keys[i] != NULL; i++)
		vals[i] = NULL;
	if (n->type != YAML_MAPPING_NODE)
		return fail(y, n, "%s: expected a mapping of keys, found %s",
		    what, kind(n));
	if (key_observer != NULL)
		key_observer((unsigned)n->start_mark.line + 1,
		    (unsigned)n->start_mark.column + 1, keys,
		    accepted < i ? accepted : i);
	for (pair = n->data.mapping.pairs.start;
	    pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(y, pair->key);
		const char *key = scalar(y, k, what);

		if (key == NULL)
			return -1;
		for (i = 0; keys[i] != NULL; i++)
			if (strcmp(keys[i], key) == 0)
				break;
		if (keys[i] == NULL) {
			char h[160];

			hint(key, keys, accepted, strcmp(what,
			    "the policy file") == 0, h, sizeof(h));
			return fail(y, k, "unknown key \"%.60s\" in %s%s", key,
			    what, h);
		}
		if (vals[i] != NULL)
			return fail(y, k, "duplicate key \"%s\" in %s", key,
			    what);
		vals[i] = node(y, pair->value);
	}
	return 0;
}

/* map_keys - map_keys_n where every key of keys[] is the mapping's own */
static int
map_keys(struct cfg_parser *y, yaml_node_t *n, const char *what,
    const char *const keys[], yaml_node_t *vals[])
{
	return map_keys_n(y, n, what, keys, (size_t)-1, vals);
}

/* get_string - a non-empty string */
static int
get_string(struct cfg_parser *y, yaml_node_t *n, const char *what, char **out)
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
get_uint(struct cfg_parser *y, yaml_node_t *n, const char *what, unsigned long min,
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
get_defer(struct cfg_parser *y, yaml_node_t *n, const char *what,
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
get_bool(struct cfg_parser *y, yaml_node_t *n, const char *what, bool *out)
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
get_duration(struct cfg_parser *y, yaml_node_t *n, const char *what, uint64_t min,
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
get_seconds(struct cfg_parser *y, yaml_node_t *n, const char *what, int64_t min,
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
typedef int item_fn(struct cfg_parser *y, yaml_node_t *n, const char *s,
    const char *what, void *arg);

/* each_value - n is a value or a list of values; call fn on each */
static int
each_value(struct cfg_parser *y, yaml_node_t *n, const char *what, item_fn *fn,
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
add_cidr(struct cfg_parser *y, yaml_node_t *n, const char *s, const char *what,
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
add_pattern(struct cfg_parser *y, yaml_node_t *n, const char *s, const char *what,
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
get_action(struct cfg_parser *y, yaml_node_t *n, const char *what, char **out)
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
parse_inet(struct cfg_parser *y, yaml_node_t *n, const char *s,
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
parse_listen(struct cfg_parser *y, yaml_node_t *n, struct cfg *cfg)
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
parse_network(struct cfg_parser *y, yaml_node_t *n, struct cfg *cfg)
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
parse_access(struct cfg_parser *y, yaml_node_t *n, struct cfg *cfg)
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
parse_store(struct cfg_parser *y, yaml_node_t *n, struct cfg *cfg)
{
	static const char *const keys[] = { "cache", "sync", "sweep_interval",
		"sweep_batch", NULL };
	yaml_node_t *v[4];

	if (map_keys(y, n, "store", keys, v) < 0)
		return -1;
	if (v[2] != NULL && get_duration(y, v[2], "store: sweep_interval", 100,
	    86400000, &cfg->store_sweep_interval_ms) < 0)
		return -1;
	if (v[3] != NULL && get_uint(y, v[3], "store: sweep_batch", 1, 100000,
	    &cfg->store_sweep_batch) < 0)
		return -1;
	cfg->store_sweep_given = v[2] != NULL || v[3] != NULL;
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

/* add_nameserver - item_fn for dns.nameservers */
static int
add_nameserver(struct cfg_parser *y, yaml_node_t *n, const char *s,
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
parse_dns(struct cfg_parser *y, yaml_node_t *n, struct dns_opts *o)
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
parse_on_fail(struct cfg_parser *y, yaml_node_t *n, const char *what,
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
parse_nets(struct cfg_parser *y, yaml_node_t *n, const char *what,
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
parse_outcome(struct cfg_parser *y, yaml_node_t *n, const char *what,
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

/* parse_tempfail - on_tempfail of one check: defer, dunno or ignore */
static int
parse_tempfail(struct cfg_parser *y, yaml_node_t *n, const char *what,
    enum chk_tempfail *out)
{
	const char *s = scalar(y, n, what);

	if (s == NULL)
		return -1;
	if (strcmp(s, "defer") == 0)
		*out = CHK_TF_DEFER;
	else if (strcmp(s, "dunno") == 0)
		*out = CHK_TF_DUNNO;
	else if (strcmp(s, "ignore") == 0)
		*out = CHK_TF_IGNORE;
	else
		return fail(y, n, "%s: \"%.40s\" is not defer, dunno or ignore "
				  "(never reject)", what, s);
	return 0;
}

/* add_state - item_fn for states: protocol states, by Postfix's names */
static int
add_state(struct cfg_parser *y, yaml_node_t *n, const char *s,
    const char *what, void *arg)
{
	unsigned *states = arg, bit = chk_state_bit(s);

	if (strcmp(s, "none") == 0)
		bit = CHK_ST_NONE;
	else if (bit == CHK_ST_OTHER || bit == CHK_ST_NONE)
		bit = 0;
	if (bit == 0)
		return fail(y, n, "%s: \"%.40s\" is not a protocol state "
				  "(CONNECT, EHLO, HELO, MAIL, RCPT, DATA, "
				  "END-OF-MESSAGE, VRFY, ETRN, none)", what, s);
	*states |= bit;
	return 0;
}

/*
 * other_option - which other checks have key as an option of their own,
 * for a message ("only the spf check has forwarders"); NULL if none
 */
static const char *
other_option(unsigned self, const char *key, char *buf, size_t size)
{
	unsigned i, j, found = 0;
	size_t o = 0;

	buf[0] = '\0';
	for (i = 0; i < chk_count; i++) {
		const char *const *opt = chk_defs[i]->options;

		for (j = 0; i != self && opt != NULL && opt[j] != NULL; j++) {
			if (strcmp(opt[j], key) != 0)
				continue;
			o += (size_t)snprintf(buf + o, o < size ? size - o : 0,
			    "%s%s", found ? " and " : "",
			    chk_defs[i]->name);
			found++;
			break;
		}
	}
	if (found == 0)
		return NULL;
	if (o < size)
		snprintf(buf + o, size - o, " check%s ha%s", found > 1 ? "s"
		    : "", found > 1 ? "ve" : "s");
	return buf;
}

/* The keys every check has; a module of kind STATE or PRE has only the
 * first. */
enum { CK_ENABLED, CK_ON_FAIL, CK_TEXT, CK_ON_TEMPFAIL, CK_STATES,
	CK_NKEYS };
static const char *const check_keys[CK_NKEYS] = { "enabled", "on_fail",
	"text", "on_tempfail", "states" };

#define MAX_OPTIONS 48 /* keys of one check's mapping, all kinds together */

/*
 * parse_check - one check's policy: the keys every check has here, the
 * check's own options by its setup(). profile: a profile's copy, where a
 * check whose options are the main policy's (CHK_F_MAIN_OPTIONS) may
 * only be switched on or off.
 */
static int
parse_check(struct cfg_parser *y, yaml_node_t *n, unsigned idx,
    struct chk_policy *cp, bool profile)
{
	const struct chk_def *def = chk_defs[idx];
	const char *name = def->name;
	const char *keys[MAX_OPTIONS + 1];
	yaml_node_t *v[MAX_OPTIONS + 1];
	struct cfg_node *opts[MAX_OPTIONS];
	unsigned i, j, ngen, nres = 0, nopt = 0, nk;
	char what[80];

	ngen = def->kind != CHK_KIND_CHECK ? 1 : CK_NKEYS;
	nk = 0;
	for (i = 0; i < ngen; i++)
		keys[nk++] = check_keys[i];
	for (; def->results != NULL && def->results[nres] != NULL; nres++)
		keys[nk++] = def->results[nres];
	if (!(profile && (def->flags & CHK_F_MAIN_OPTIONS))) {
		for (; def->options != NULL && def->options[nopt] != NULL;
		    nopt++)
			keys[nk++] = def->options[nopt];
		/* Other checks' options: for a message that says whose. */
		for (i = 0; i < chk_count; i++) {
			const char *const *opt = chk_defs[i]->options;

			for (j = 0; i != idx && opt && opt[j] && nk < MAX_OPTIONS;
			    j++) {
				unsigned k;

				for (k = 0; k < nk && strcmp(keys[k], opt[j]);
				    k++)
					;
				if (k == nk)
					keys[nk++] = opt[j];
			}
		}
	}
	keys[nk] = NULL;
	if (profile && (def->flags & CHK_F_MAIN_OPTIONS))
		snprintf(what, sizeof(what), "profile %s (only enabled)", name);
	else
		snprintf(what, sizeof(what), "checks: %s", name);
	if (map_keys_n(y, n, what, keys, ngen + nres + nopt, v) < 0)
		return -1;
	for (i = ngen + nres + nopt; i < nk; i++) {
		char whose[160];

		if (v[i] != NULL)
			return fail(y, v[i], "%s: %s: only the %s %s", name,
			    keys[i], other_option(idx, keys[i], whose,
			    sizeof(whose)), keys[i]);
	}
	cp->enabled = true;
	snprintf(what, sizeof(what), "%s: enabled", name);
	if (v[CK_ENABLED] && get_bool(y, v[CK_ENABLED], what, &cp->enabled) <
	    0)
		return -1;
	if (ngen > 1) {
		snprintf(what, sizeof(what), "%s: on_fail", name);
		if (v[CK_ON_FAIL] && nres > 0 &&
		    !(def->flags & CHK_F_ON_FAIL_ALL))
			return fail(y, v[CK_ON_FAIL], "%s: the %s check has an "
						      "action per result "
						      "instead (fail: reject, "
						      "softfail: { score: 2 }, "
						      "...)", what, name);
		if (v[CK_ON_FAIL] && parse_on_fail(y, v[CK_ON_FAIL], what,
		    cp) < 0)
			return -1;
		/* Every result failing alike; a result's own key wins. */
		for (i = 0; v[CK_ON_FAIL] && i < nres; i++) {
			cp->results[i].on = cp->on_fail;
			cp->results[i].score = cp->score;
		}
		snprintf(what, sizeof(what), "%s: text", name);
		if (v[CK_TEXT] && get_string(y, v[CK_TEXT], what, &cp->text) < 0)
			return -1;
		if (v[CK_TEXT] && (strlen(cp->text) > 400 ||
		    strpbrk(cp->text, "\r\n\t") != NULL))
			return fail(y, v[CK_TEXT], "%s: at most 400 characters, "
						   "no control characters", what);
		snprintf(what, sizeof(what), "%s: on_tempfail", name);
		if (v[CK_ON_TEMPFAIL] && parse_tempfail(y, v[CK_ON_TEMPFAIL],
		    what, &cp->on_tempfail) < 0)
			return -1;
		snprintf(what, sizeof(what), "%s: states", name);
		if (v[CK_STATES]) {
			cp->states = 0;
			if (each_value(y, v[CK_STATES], what, add_state,
			    &cp->states) < 0)
				return -1;
		}
	}
	for (i = 0; i < nres; i++) {
		snprintf(what, sizeof(what), "%s: %s", name, def->results[i]);
		if (v[ngen + i] && parse_outcome(y, v[ngen + i], what,
		    def->results[i], &cp->results[i]) < 0)
			return -1;
	}
	if (def->setup == NULL || (profile && (def->flags & CHK_F_MAIN_OPTIONS)))
		return 0;
	for (i = 0; i < nopt; i++)
		opts[i] = CN(v[ngen + nres + i]);
	y->cur = n;
	return def->setup(y, cp, opts, cp->conf);
}

/* chk_policy_init - a check's policy as if the file did not name it */
static void
chk_policy_init(struct chk_policy *cp, const struct chk_def *def)
{
	unsigned r;

	memset(cp, 0, sizeof(*cp));
	cp->on_fail = CHK_REJECT;
	cp->text = def->text ? xstrdup(def->text) : NULL;
	cp->on_tempfail = def->on_tempfail;
	cp->states = def->states ? def->states : CHK_ST_ALL;
	for (r = 0; def->results && def->results[r]; r++)
		cp->results[r] = def->defaults[r];
	if (def->conf_size > 0) {
		cp->conf = xcalloc(1, def->conf_size);
		if (def->conf_init)
			def->conf_init(cp->conf);
	}
}

/*
 * chk_policy_copy - a profile's copy of the main policy's check: its own
 * strings, and its own conf (the check's deep copy).
 */
static void
chk_policy_copy(struct chk_policy *dst, const struct chk_policy *src,
    const struct chk_def *def)
{
	*dst = *src;
	dst->text = src->text ? xstrdup(src->text) : NULL;
	dst->conf = NULL;
	if (def->conf_size > 0) {
		dst->conf = xmalloc(def->conf_size);
		if (def->conf_copy)
			def->conf_copy(dst->conf, src->conf);
		else
			memcpy(dst->conf, src->conf, def->conf_size);
	}
}

/* chk_policy_fini - free what a check's policy owns */
static void
chk_policy_fini(struct chk_policy *cp, const struct chk_def *def)
{
	free(cp->text);
	if (cp->conf != NULL && def->conf_free)
		def->conf_free(cp->conf);
	free(cp->conf);
}

/*
 * parse_checks - the checks section, of the main policy or of a profile:
 * each key is a registry entry (a check, or a state module such as
 * greylist)
 */
static int
parse_checks(struct cfg_parser *y, yaml_node_t *n, struct chk_policy *checks,
    bool profile)
{
	const char *keys[CHK_MAX + 1];
	yaml_node_t *v[CHK_MAX + 1];
	unsigned i;

	for (i = 0; i < chk_count; i++)
		keys[i] = chk_defs[i]->name;
	keys[chk_count] = NULL;
	if (map_keys(y, n, "checks", keys, v) < 0)
		return -1;
	for (i = 0; i < chk_count; i++)
		if (v[i] != NULL && parse_check(y, v[i], i, &checks[i],
		    profile) < 0)
			return -1;
	return 0;
}

/* parse_scores - thresholds, of the main policy or of a profile */
static int
parse_scores(struct cfg_parser *y, yaml_node_t *n, int *reject, int *greylist)
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
parse_profiles(struct cfg_parser *y, yaml_node_t *n, struct cfg *cfg)
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
			chk_policy_copy(&pr->checks[i], &cfg->checks[i],
			    chk_defs[i]);
		pr->score_reject = cfg->score_reject;
		pr->score_greylist = cfg->score_greylist;
		if (v[0] && parse_checks(y, v[0], pr->checks, true) < 0)
			return -1;
		if (v[1] && parse_scores(y, v[1], &pr->score_reject,
		    &pr->score_greylist) < 0)
			return -1;
	}
	return 0;
}

/* parse_select - which requests use which profile */
static int
parse_select(struct cfg_parser *y, yaml_node_t *n, struct cfg *cfg)
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
add_my_name(struct cfg_parser *y, yaml_node_t *n, const char *s, const char *what,
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

/* add_local_context - item_fn for local_contexts */
static int
add_local_context(struct cfg_parser *y, yaml_node_t *n, const char *s,
    const char *what, void *arg)
{
	struct cfg *cfg = arg;

	if (*s == '\0' || strlen(s) > 100)
		return fail(y, n, "%s: a policy_context value of 1 to 100 "
				  "characters", what);
	cfg->local_contexts = xreallocarray(cfg->local_contexts,
	    cfg->nlocal_contexts + 1, sizeof(char *));
	cfg->local_contexts[cfg->nlocal_contexts++] = xstrdup(s);
	return 0;
}

/* cfg_our_user - logged in, a local network, or a context of ours */
bool
cfg_our_user(const struct cfg *cfg, const struct req *req)
{
	return cfg_our_user_why(cfg, req) != NULL;
}

const char *
cfg_our_user_why(const struct cfg *cfg, const struct req *req)
{
	size_t i;

	if (req->sasl_username != NULL)
		return "local:sasl";
	for (i = 0; req->has_client_ip && i < cfg->nlocal_nets; i++)
		if (cidr_match(&cfg->local_nets[i], &req->client_ip))
			return "local:network";
	for (i = 0; req->policy_context && i < cfg->nlocal_contexts; i++)
		if (strcmp(cfg->local_contexts[i], req->policy_context) == 0)
			return "local:context";
	return NULL;
}

/* add_my_address - item_fn for my_addresses */
static int
add_my_address(struct cfg_parser *y, yaml_node_t *n, const char *s,
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
	cfg->metrics_enabled = true;
	cfg->metrics_interval_ms = 30 * 1000;
	cfg->metrics_mode = 0644;
	cfg->control_mode = 0660;
	cfg->control_max_connections = 8;
	cfg->control_idle_timeout_ms = 30 * 1000;
	cfg->net.ipv4_prefix = 24;
	cfg->net.ipv6_prefix = 64;
	cfg->default_action = xstrdup("DUNNO");
	cfg->error_action = xstrdup("DUNNO");
	cfg->store_cache = UINT64_C(64) << 20;
	cfg->store_sync = STORE_SYNC_OS;
	cfg->store_sweep_interval_ms = 60000;
	cfg->store_sweep_batch = 500;
	dns_opts_defaults(&cfg->dns);
	cfg->tempfail_defer = true;
	cfg->score_reject = 5;
	cfg->stress_profile = -1;
	{
		unsigned i;

		for (i = 0; i < chk_count; i++)
			chk_policy_init(&cfg->checks[i], chk_defs[i]);
	}
	return cfg;
}

/*
 * parse_metrics - { enabled: BOOL, file: PATH, interval: DURATION,
 * mode: OCTAL }
 */
static int
parse_metrics(struct cfg_parser *y, yaml_node_t *n, struct cfg *cfg)
{
	static const char *const keys[] = { "enabled", "file", "interval",
		"mode", NULL };
	yaml_node_t *v[4];

	if (map_keys(y, n, "metrics", keys, v) < 0)
		return -1;
	if (v[0] && cfg_bool(y, CN(v[0]), "metrics: enabled",
	    &cfg->metrics_enabled) < 0)
		return -1;
	if (v[1]) {
		if (get_string(y, v[1], "metrics: file", &cfg->metrics_file) <
		    0)
			return -1;
		if (cfg->metrics_file[0] != '/')
			return fail(y, v[1], "metrics: file: \"%.60s\" is not "
					     "an absolute path",
			    cfg->metrics_file);
		if (strlen(cfg->metrics_file) > 1000)
			return fail(y, v[1], "metrics: file: longer than 1000 "
					     "characters");
	}
	if (v[3] != NULL) {
		const char *m = scalar(y, v[3], "metrics: mode");
		char *end;
		long mode;

		if (m == NULL)
			return -1;
		mode = strtol(m, &end, 8);
		if (*m < '0' || *m > '7' || *end != '\0' || mode > 0666 ||
		    (mode & 0111) || !(mode & 0400))
			return fail(y, v[3], "metrics: mode: \"%.20s\" is not "
			    "an octal file mode like \"0644\" (readable by the "
			    "owner, executable by nobody)", m);
		cfg->metrics_mode = (int)mode;
	}
	return v[2] ? get_duration(y, v[2], "metrics: interval", 1000,
	    3600 * 1000, &cfg->metrics_interval_ms) : 0;
}

/*
 * parse_refusal_url - http(s)://..., printable, no spaces: it goes into
 * SMTP replies
 */
static int
parse_refusal_url(struct cfg_parser *y, yaml_node_t *n, struct cfg *cfg)
{
	const char *p;

	if (get_string(y, n, "refusal_url", &cfg->refusal_url) < 0)
		return -1;
	if (strncmp(cfg->refusal_url, "https://", 8) != 0 &&
	    strncmp(cfg->refusal_url, "http://", 7) != 0)
		return fail(y, n, "refusal_url: \"%.60s\" is not an http:// "
				  "or https:// address", cfg->refusal_url);
	if (strlen(cfg->refusal_url) > 200)
		return fail(y, n, "refusal_url: longer than 200 characters");
	for (p = cfg->refusal_url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '#' || *p == '{' || *p == '}')
			return fail(y, n, "refusal_url: a space, control "
					  "character, '#' or brace at "
					  "offset %zu (the anchor is "
					  "policyd's)", (size_t)(p - cfg->refusal_url));
	return 0;
}

/*
 * parse_control - { socket: PATH, mode: OCTAL, group: NAME,
 * max_connections: N, idle_timeout: DURATION }
 */
static int
parse_control(struct cfg_parser *y, yaml_node_t *n, struct cfg *cfg)
{
	static const char *const keys[] = { "socket", "mode", "group",
		"max_connections", "idle_timeout", NULL };
	yaml_node_t *v[5];

	if (map_keys(y, n, "control", keys, v) < 0)
		return -1;
	if (v[0] != NULL) {
		if (get_string(y, v[0], "control: socket",
		    &cfg->control_socket) < 0)
			return -1;
		if (cfg->control_socket[0] != '/')
			return fail(y, v[0], "control: socket: \"%.60s\" is "
			    "not an absolute path", cfg->control_socket);
		if (strlen(cfg->control_socket) > 100)
			return fail(y, v[0], "control: socket: path longer "
			    "than 100 bytes");
	}
	if (v[1] != NULL) {
		const char *m = scalar(y, v[1], "control: mode");
		char *end;
		long mode;

		if (m == NULL)
			return -1;
		mode = strtol(m, &end, 8);
		if (*m < '0' || *m > '7' || *end != '\0' || mode > 0770 ||
		    (mode & 07))
			return fail(y, v[1], "control: mode: \"%.20s\" is not "
			    "an octal mode like \"0660\" (never for others: "
			    "the socket changes state)", m);
		cfg->control_mode = (int)mode;
	}
	if (v[2] != NULL && get_string(y, v[2], "control: group",
	    &cfg->control_group) < 0)
		return -1;
	if (v[3] != NULL) {
		if (get_uint(y, v[3], "control: max_connections", 1, 1000,
		    &cfg->control_max_connections) < 0)
			return -1;
	}
	return v[4] ? get_duration(y, v[4], "control: idle_timeout", 1000,
	    3600 * 1000, &cfg->control_idle_timeout_ms) : 0;
}

/* cfg_control_socket - the control socket in force */
void
cfg_control_socket(const struct cfg *cfg, char *out, size_t size)
{
	if (cfg->control_socket != NULL)
		snprintf(out, size, "%s", cfg->control_socket);
	else if (strcmp(cfg->state_dir, "/var/lib/policyd") == 0)
		snprintf(out, size, "%s", CFG_CONTROL_SOCKET);
	else
		snprintf(out, size, "%s/control.sock", cfg->state_dir);
}

/* cfg_metrics_file - the metrics file in force */
void
cfg_metrics_file(const struct cfg *cfg, char *out, size_t size)
{
	if (cfg->metrics_file != NULL)
		snprintf(out, size, "%s", cfg->metrics_file);
	else if (strcmp(cfg->state_dir, "/var/lib/policyd") == 0)
		snprintf(out, size, "%s", CFG_METRICS_FILE);
	else
		snprintf(out, size, "%s/metrics.prom", cfg->state_dir);
}

/* parse_root - the top-level mapping */
static int
parse_root(struct cfg_parser *y, yaml_node_t *root, struct cfg *cfg)
{
	enum { K_LISTEN, K_ALLOW, K_STATE_DIR, K_MAX_CONN, K_IDLE, K_SHUTDOWN,
		K_DEADLINE, K_NETWORK, K_DEFAULT, K_ON_ERROR, K_ACCESS,
		K_HOSTNAME, K_STORE, K_CHECKS, K_DNS, K_SCORES, K_TEMPFAIL,
		K_MY_NAMES, K_MY_ADDRS, K_PROFILES, K_SELECT, K_LOCAL_NETS,
		K_LOCAL_CONTEXTS, K_METRICS, K_REFUSAL_URL, K_CONTROL,
		K_DRY_RUN };
	static const char *const keys[] = { "listen", "allow", "state_dir",
		"max_connections", "idle_timeout", "shutdown_timeout",
		"deadline", "network", "default_action", "on_error", "access",
		"hostname", "store", "checks", "dns", "scores", "on_tempfail",
		"my_names", "my_addresses", "profiles", "select",
		"local_networks", "local_contexts", "metrics", "refusal_url",
		"control", "dry_run", NULL };
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
	/* Greylisting groups clients by network too, unless it says (its
	 * options come later, with checks). */
	{
		int gi = chk_find("greylist");

		if (gi >= 0 && cfg->checks[gi].conf != NULL) {
			struct gl_conf *g = cfg->checks[gi].conf;

			g->ipv4_prefix = cfg->net.ipv4_prefix;
			g->ipv6_prefix = cfg->net.ipv6_prefix;
		}
	}
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
	if (v[K_CHECKS] && parse_checks(y, v[K_CHECKS], cfg->checks, false) <
	    0)
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
	if (v[K_LOCAL_NETS]) {
		struct cidr_vec cv = { &cfg->local_nets, &cfg->nlocal_nets };

		if (each_value(y, v[K_LOCAL_NETS], "local_networks", add_cidr,
		    &cv) < 0)
			return -1;
	}
	if (v[K_LOCAL_CONTEXTS] && each_value(y, v[K_LOCAL_CONTEXTS],
	    "local_contexts", add_local_context, cfg) < 0)
		return -1;
	if (v[K_METRICS] && parse_metrics(y, v[K_METRICS], cfg) < 0)
		return -1;
	if (v[K_CONTROL] && parse_control(y, v[K_CONTROL], cfg) < 0)
		return -1;
	if (v[K_DRY_RUN] && cfg_bool(y, CN(v[K_DRY_RUN]), "dry_run",
	    &cfg->dry_run) < 0)
		return -1;
	if (v[K_REFUSAL_URL] && parse_refusal_url(y, v[K_REFUSAL_URL], cfg) <
	    0)
		return -1;
	/* Profiles copy the main policy: they come after all of it. */
	if (v[K_PROFILES] && parse_profiles(y, v[K_PROFILES], cfg) < 0)
		return -1;
	if (v[K_SELECT] && parse_select(y, v[K_SELECT], cfg) < 0)
		return -1;
	return 0;
}

/* cfg_needs - a check with flag enabled, in the main policy or a profile */
static bool
cfg_needs(const struct cfg *cfg, unsigned flag)
{
	size_t i, j;

	for (i = 0; i < chk_count; i++) {
		if (!(chk_defs[i]->flags & flag))
			continue;
		if (cfg->checks[i].enabled)
			return true;
		for (j = 0; j < cfg->nprofiles; j++)
			if (cfg->profiles[j].checks[i].enabled)
				return true;
	}
	return false;
}

/* cfg_needs_dns - an enabled check that asks DNS, anywhere in the policy */
bool
cfg_needs_dns(const struct cfg *cfg)
{
	return cfg_needs(cfg, CHK_F_DNS);
}

/* cfg_needs_store - greylisting, or a check that keeps state */
bool
cfg_needs_store(const struct cfg *cfg)
{
	return cfg_needs(cfg, CHK_F_STORE);
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

/*
 * yaml_hint - what to write instead, for the mistakes people make that
 * libyaml's words do not explain: a tab in the indentation, an IPv6
 * address or a value with [ ] unquoted inside [ ] or { } (flow
 * context, where ':' and '[' mean something); "" if none
 */
static const char *
yaml_hint(const char *text, size_t len, size_t at, const char *problem)
{
	char c = at < len ? text[at] : '\0';

	if (c == '\t')
		return "; a tab: YAML indents with spaces, never tabs";
	if (problem == NULL)
		return "";
	if (c == ':' && strstr(problem, "did not find expected node content"))
		return "; an IPv6 address inside [ ] or { } must be quoted: "
		       "[\"::1\", \"2001:db8::/32\"]";
	if ((c == '[' || c == ']') && strstr(problem, "did not find expected "
	    "','"))
		return "; a value with [ ] inside [ ] or { } must be quoted: "
		       "{ code: \"127.0.0.[2..11]\" }";
	return "";
}

/* cfg_parse - parse a policy from text */
struct cfg *
cfg_parse(const char *path, const char *text, size_t len, struct why *why)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct cfg_parser y = { path, &doc, why, false, NULL, NULL };
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
		why_set(why, "%s:%zu:%zu: %s%s%s%s", path, m.line + 1,
		    m.column + 1, parser.problem ? parser.problem
						 : "YAML error",
		    parser.context ? " " : "",
		    parser.context ? parser.context : "",
		    yaml_hint(text, len, m.index, parser.problem));
		yaml_parser_delete(&parser);
		return NULL;
	}
	cfg = cfg_defaults(path);
	y.cfg = cfg;
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
	free(cfg->metrics_file);
	free(cfg->control_socket);
	free(cfg->control_group);
	free(cfg->refusal_url);
	free(cfg->default_action);
	free(cfg->error_action);
	free(cfg->hostname);
	for (i = 0; i < chk_count; i++)
		chk_policy_fini(&cfg->checks[i], chk_defs[i]);
	for (i = 0; i < cfg->nprofiles; i++) {
		unsigned j;

		for (j = 0; j < chk_count; j++)
			chk_policy_fini(&cfg->profiles[i].checks[j],
			    chk_defs[j]);
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
	free(cfg->local_nets);
	for (i = 0; i < cfg->nlocal_contexts; i++)
		free(cfg->local_contexts[i]);
	free(cfg->local_contexts);
	free(cfg->path);
	free(cfg);
}

/* The helpers for the checks' setup: the loader's own, exported. */

int
cfg_fail(struct cfg_parser *p, const struct cfg_node *n, const char *fmt, ...)
{
	char msg[WHY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* NULL: the check's own mapping (an option it lacks). */
	return fail(p, n ? YN(n) : p->cur, "%s", msg);
}

struct cfg *
cfg_parser_cfg(struct cfg_parser *p)
{
	return p->cfg;
}

const char *
cfg_scalar(struct cfg_parser *p, const struct cfg_node *n, const char *what)
{
	return scalar(p, YN(n), what);
}

int
cfg_bool(struct cfg_parser *p, const struct cfg_node *n, const char *what,
    bool *out)
{
	return get_bool(p, YN(n), what, out);
}

int
cfg_uint(struct cfg_parser *p, const struct cfg_node *n, const char *what,
    unsigned long min, unsigned long max, unsigned *out)
{
	return get_uint(p, YN(n), what, min, max, out);
}

int
cfg_int(struct cfg_parser *p, const struct cfg_node *n, const char *what,
    long min, long max, int *out)
{
	yaml_node_t *y = YN(n);
	const char *s = scalar(p, y, what);
	long v;
	char *end;

	if (s == NULL)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (!(*s == '-' || (*s >= '0' && *s <= '9')) || end == s ||
	    *end != '\0' || errno == ERANGE)
		return fail(p, y, "%s: \"%.40s\" is not a whole number", what,
		    s);
	if (v < min || v > max)
		return fail(p, y, "%s: %ld is out of range (%ld to %ld)", what,
		    v, min, max);
	*out = (int)v;
	return 0;
}

int
cfg_duration(struct cfg_parser *p, const struct cfg_node *n, const char *what,
    uint64_t min, uint64_t max, uint64_t *ms)
{
	return get_duration(p, YN(n), what, min, max, ms);
}

int
cfg_seconds(struct cfg_parser *p, const struct cfg_node *n, const char *what,
    int64_t min, int64_t max, int64_t *out)
{
	return get_seconds(p, YN(n), what, min, max, out);
}

int
cfg_string(struct cfg_parser *p, const struct cfg_node *n, const char *what,
    char **out)
{
	return get_string(p, YN(n), what, out);
}

int
cfg_defer(struct cfg_parser *p, const struct cfg_node *n, const char *what,
    const char *suffix, bool *defer)
{
	return get_defer(p, YN(n), what, suffix, defer);
}

int
cfg_choice(struct cfg_parser *p, const struct cfg_node *n, const char *what,
    const char *const names[], int *out)
{
	const char *s = scalar(p, YN(n), what);
	char list[256];
	size_t o = 0;
	int i;

	if (s == NULL)
		return -1;
	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	list[0] = '\0';
	for (i = 0; names[i] != NULL && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
		    i == 0 ? "" : names[i + 1] == NULL ? " or " : ", ",
		    names[i]);
	return fail(p, YN(n), "%s: \"%.40s\" is not %s", what, s, list);
}

int
cfg_nets(struct cfg_parser *p, const struct cfg_node *n, const char *what,
    struct cidr **v, size_t *nv)
{
	return parse_nets(p, YN(n), what, v, nv);
}

int
cfg_action(struct cfg_parser *p, const struct cfg_node *n, const char *what,
    char **out)
{
	return get_action(p, YN(n), what, out);
}

struct strings {
	char ***v;
	size_t *n;
};

/* add_string - item_fn for cfg_strings */
static int
add_string(struct cfg_parser *y, yaml_node_t *n, const char *s,
    const char *what, void *arg)
{
	struct strings *sv = arg;

	(void)y;
	(void)n;
	(void)what;
	*sv->v = xreallocarray(*sv->v, *sv->n + 1, sizeof(char *));
	(*sv->v)[(*sv->n)++] = xstrdup(s);
	return 0;
}

int
cfg_strings(struct cfg_parser *p, const struct cfg_node *n, const char *what,
    char ***v, size_t *nv)
{
	struct strings sv = { v, nv };

	return each_value(p, YN(n), what, add_string, &sv);
}

int
cfg_map_n(struct cfg_parser *p, const struct cfg_node *n, const char *what,
    const char *const keys[], size_t accepted, struct cfg_node *vals[])
{
	yaml_node_t *v[MAX_OPTIONS + 1];
	size_t i;

	for (i = 0; keys[i] != NULL; i++)
		if (i == MAX_OPTIONS)
			PD_PANIC("cfg_map: more than %d keys", MAX_OPTIONS);
	if (map_keys_n(p, YN(n), what, keys, accepted, v) < 0)
		return -1;
	for (i = 0; keys[i] != NULL; i++)
		vals[i] = CN(v[i]);
	return 0;
}

int
cfg_map(struct cfg_parser *p, const struct cfg_node *n, const char *what,
    const char *const keys[], struct cfg_node *vals[])
{
	return cfg_map_n(p, n, what, keys, (size_t)-1, vals);
}

int
cfg_each(struct cfg_parser *p, const struct cfg_node *n, const char *what,
    int (*fn)(struct cfg_parser *, struct cfg_node *, void *), void *arg)
{
	const yaml_node_t *yn = YN(n);
	yaml_node_item_t *it;

	if (yn->type != YAML_SEQUENCE_NODE)
		return fn(p, CN(YN(n)), arg);
	(void)what;
	for (it = yn->data.sequence.items.start;
	    it < yn->data.sequence.items.top; it++)
		if (fn(p, CN(node(p, *it)), arg) < 0)
			return -1;
	return 0;
}

void
cfg_path(struct cfg_parser *p, const char *name, char *out, size_t size)
{
	const char *slash = strrchr(p->path, '/');

	/* A relative path is beside the policy file. */
	if (name[0] != '/' && slash != NULL)
		snprintf(out, size, "%.*s/%s", (int)(slash - p->path), p->path,
		    name);
	else
		snprintf(out, size, "%s", name);
}
