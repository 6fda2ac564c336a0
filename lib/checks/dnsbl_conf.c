/*
 * dnsbl_conf - the DNS lists' options (see dnsbl_int.h): each list's
 * zone and key, name, kind, families, filters with weights and labels,
 * error codes (the built-in ones of Spamhaus and DNSWL among them), TXT,
 * URL, states, self-test and its IPv6 test point; the check's timing of
 * self-tests, back-off and counts, and the circuit breaker. Pure: the
 * loader runs it, the fuzzer can.
 */
#include "dnsbl_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "config.h"
#include "xalloc.h"

/* Options. */

const char *const dnsbl__options[] = { "lists", "self_test_every",
	"backoff", "failures", "stats_every", "breaker_percent",
	"breaker_lookups", NULL };

struct bl_set *
dnsbl__set_new(void)
{
	struct bl_set *s = xcalloc(1, sizeof(*s));

	s->refs = 1;
	s->test_every_ms = 15 * 60 * 1000;
	s->backoff_ms = 60 * 1000;
	s->failures = 3;
	s->stats_every_ms = 60 * 1000;
	s->breaker_percent = 97;
	s->breaker_lookups = 100;
	return s;
}

void
dnsbl__set_unref(struct bl_set *s)
{
	unsigned i, f;

	if (s == NULL || --s->refs > 0)
		return;
	for (i = 0; i < s->n; i++) {
		struct bl_list *l = &s->lists[i];

		free(l->zone);
		free(l->name);
		free(l->url);
		for (f = 0; f < l->nfilters; f++)
			free(l->filters[f].label);
		for (f = 0; f < l->nerrors; f++)
			free(l->errors[f].label);
	}
	free(s);
}

void
dnsbl__conf_init(void *conf)
{
	((struct dnsbl_conf *)conf)->set = dnsbl__set_new();
}

void
dnsbl__conf_copy(void *dst, const void *src)
{
	const struct dnsbl_conf *s = src;

	((struct dnsbl_conf *)dst)->set = s->set;
	s->set->refs++;
}

void
dnsbl__conf_free(void *conf)
{
	dnsbl__set_unref(((struct dnsbl_conf *)conf)->set);
}

/* octet - one octet of a code pattern: N, [A..B], [A;B;C..D] */
static int
octet(const char **sp, uint8_t bits[32])
{
	const char *s = *sp;
	bool list = *s == '[';
	char *end;

	if (list)
		s++;
	for (;;) {
		unsigned long a, b;

		if (!isdigit((unsigned char)*s))
			return -1;
		a = strtoul(s, &end, 10);
		s = end;
		b = a;
		if (list && s[0] == '.' && s[1] == '.') {
			s += 2;
			if (!isdigit((unsigned char)*s))
				return -1;
			b = strtoul(s, &end, 10);
			s = end;
		}
		if (a > 255 || b > 255 || b < a)
			return -1;
		for (; a <= b; a++)
			bits[a / 8] |= (uint8_t)(1u << (a % 8));
		if (!list)
			break;
		if (*s == ';') {
			s++;
			continue;
		}
		if (*s != ']')
			return -1;
		s++;
		break;
	}
	*sp = s;
	return 0;
}

/* code_pattern - "127.0.0.2", "127.0.0.[2..11]", "127.0.[0..255].[10;11]" */
static int
code_pattern(const char *s, struct bl_filter *f)
{
	int i;

	memset(f->bits, 0, sizeof(f->bits));
	for (i = 0; i < 4; i++) {
		if (octet(&s, f->bits[i]) < 0)
			return -1;
		if (i < 3 && *s++ != '.')
			return -1;
	}
	return *s == '\0' ? 0 : -1;
}

/* dnsbl__filter_match - an answer's address taken by f */
bool
dnsbl__filter_match(const struct bl_filter *f, const uint8_t a[4])
{
	int i;

	if (f->is_mask)
		return a[0] == 127 &&
		       ((a[1] & f->mask[1]) | (a[2] & f->mask[2]) |
		           (a[3] & f->mask[3])) != 0;
	for (i = 0; i < 4; i++)
		if (!(f->bits[i][a[i] / 8] & (1u << (a[i] % 8))))
			return false;
	return true;
}

struct parse_ctx {
	struct bl_list *l;
	struct bl_filter *v;
	unsigned *n;
	bool errors;     /* the errors: list (no weights) */
	char what[96];
};

/*
 * parse_mark - high_trust: BOOL (an allowlisting's, a negative weight) or
 * end_user: BOOL (a listing's); never an error code's
 */
static int
parse_mark(struct cfg_parser *p, struct cfg_node *n, struct parse_ctx *c,
    struct bl_filter *f, unsigned mark)
{
	bool allow = mark == BL_M_HIGH_TRUST, on;
	const char *key = allow ? "high_trust" : "end_user";

	if (n == NULL)
		return 0;
	if (c->errors)
		return cfg_fail(p, n, "%s: an error code is no %s: %s does not "
		    "apply", c->what, allow ? "allowlisting" : "listing", key);
	if (cfg_bool(p, n, c->what, &on) < 0)
		return -1;
	if (on && allow && f->weight >= 0)
		return cfg_fail(p, n, "%s: high_trust: only for an "
		    "allowlisting (a negative weight)", c->what);
	if (on && !allow && f->weight < 0)
		return cfg_fail(p, n, "%s: end_user: only for a listing (a "
		    "weight of 0 or more)", c->what);
	if (on)
		f->marks |= mark;
	return 0;
}

/*
 * parse_filter - { code: PATTERN | mask: A.B.C.D, weight: N, label: S,
 * high_trust: BOOL, end_user: BOOL }
 */
static int
parse_filter(struct cfg_parser *p, struct cfg_node *n, void *arg)
{
	/* An error code's are the first three; the others are known there
	 * only to say why they do not apply. */
	static const char *const keys[] = { "code", "mask", "label", "weight",
		"high_trust", "end_user", NULL };
	enum { F_CODE, F_MASK, F_LABEL, F_WEIGHT, F_HIGH_TRUST, F_END_USER };
	struct parse_ctx *c = arg;
	struct cfg_node *v[6];
	struct bl_filter *f;
	const char *s;

	if (*c->n >= BL_MAX_FILTERS)
		return cfg_fail(p, n, "%s: at most %d", c->what,
		    BL_MAX_FILTERS);
	if (cfg_map_n(p, n, c->what, keys, c->errors ? 3 : 6, v) < 0)
		return -1;
	f = &c->v[*c->n];
	memset(f, 0, sizeof(*f));
	/* The list owns it now: a mistake below frees what it holds. */
	(*c->n)++;
	f->weight = c->l->weight;
	if ((v[F_CODE] == NULL) == (v[F_MASK] == NULL))
		return cfg_fail(p, n, "%s: needs code: (127.0.0.2, "
				      "127.0.0.[2..11], 127.0.0.[10;11]) or "
				      "mask: (0.0.0.8), one of them", c->what);
	if (v[F_CODE] != NULL) {
		if ((s = cfg_scalar(p, v[F_CODE], c->what)) == NULL)
			return -1;
		if (code_pattern(s, f) < 0)
			return cfg_fail(p, v[F_CODE],
			    "%s: code: \"%.40s\" is not "
			    "an address pattern (127.0.0.2, "
			    "127.0.0.[2..11], "
			    "127.0.0.[10;11])",
			    c->what, s);
	} else {
		struct ipaddr ip;

		if ((s = cfg_scalar(p, v[F_MASK], c->what)) == NULL)
			return -1;
		if (addr_parse(s, &ip) < 0 || ip.family != AF_INET ||
		    (ip.a[1] | ip.a[2] | ip.a[3]) == 0 || ip.a[0] != 0)
			return cfg_fail(p, v[F_MASK],
			    "%s: mask: \"%.40s\" is not "
			    "a mask of the last three "
			    "octets (0.0.0.8)",
			    c->what, s);
		f->is_mask = true;
		memcpy(f->mask, ip.a, 4);
	}
	if (v[F_WEIGHT] != NULL && c->errors)
		return cfg_fail(p, v[F_WEIGHT], "%s: an error code has no weight",
		    c->what);
	if (v[F_WEIGHT] != NULL && cfg_int(p, v[F_WEIGHT], c->what, -100, 100,
	    &f->weight) < 0)
		return -1;
	if (v[F_LABEL] != NULL) {
		if (cfg_string(p, v[F_LABEL], c->what, &f->label) < 0)
			return -1;
		if (strlen(f->label) > BL_LABEL_MAX ||
		    strpbrk(f->label, "\r\n\t{}") != NULL) {
			return cfg_fail(p, v[F_LABEL], "%s: label: at most %d "
						 "characters, no control "
						 "characters or braces",
			    c->what, BL_LABEL_MAX);
		}
	}
	if (parse_mark(p, v[F_HIGH_TRUST], c, f, BL_M_HIGH_TRUST) < 0 ||
	    parse_mark(p, v[F_END_USER], c, f, BL_M_END_USER) < 0)
		return -1;
	return 0;
}

/* names_map - { sender: registered | full | both, helo: ..., client: ... } */
static int
names_map(struct cfg_parser *p, struct cfg_node *n, const char *what,
    unsigned *out)
{
	static const char *const keys[] = { "sender", "helo", "client", NULL };
	static const char *const how[] = { "registered", "full", "both",
		NULL };
	struct cfg_node *v[3];
	int i, h;

	if (cfg_map(p, n, what, keys, v) < 0)
		return -1;
	*out = 0;
	for (i = 0; i < 3; i++) {
		if (v[i] == NULL)
			continue;
		if (cfg_choice(p, v[i], what, how, &h) < 0)
			return -1;
		*out |= (unsigned)(h + 1) << (2 * i);
	}
	if (*out == 0)
		return cfg_fail(
		    p, n, "%s: names no name (sender, helo, client)", what);
	return 0;
}

/* states_list - a state or a list of them, as the check's states: */
static int
add_list_state(struct cfg_parser *p, struct cfg_node *n, void *arg)
{
	const char *s = cfg_scalar(p, n, "dnsbl: lists: states");
	unsigned bit;

	if (s == NULL)
		return -1;
	bit = chk_state_bit(s);
	if (bit == CHK_ST_OTHER || bit == CHK_ST_NONE)
		return cfg_fail(p, n, "dnsbl: lists: states: \"%.20s\" is no "
				      "protocol state (CONNECT, EHLO, HELO, "
				      "MAIL, RCPT, DATA, END-OF-MESSAGE, VRFY, "
				      "ETRN)", s);
	*(unsigned *)arg |= bit;
	return 0;
}

/*
 * is_dqs - a Spamhaus DQS zone (KEY.zen.dq.spamhaus.net): the first
 * label is the key
 */
static bool
is_dqs(const char *zone)
{
	static const char *const sfx[] = { ".dq.spamhaus.net",
		".dq.spamhaus.com" };
	size_t len = strlen(zone), i;
	const char *dot = strchr(zone, '.');

	for (i = 0; i < nitems(sfx); i++) {
		size_t sl = strlen(sfx[i]);

		if (len > sl && strcasecmp(zone + len - sl, sfx[i]) == 0 &&
		    dot != NULL && dot < zone + len - sl)
			return true;
	}
	return false;
}


/* add_error - a built-in error code of a list */
static void
add_error(struct bl_list *l, const char *pattern, const char *label,
    bool test_ok)
{
	struct bl_filter *f;

	if (l->nerrors >= BL_MAX_FILTERS)
		return;
	f = &l->errors[l->nerrors++];
	memset(f, 0, sizeof(*f));
	(void)code_pattern(pattern, f);
	f->label = xstrdup(label);
	f->test_ok = test_ok;
}

/*
 * builtin_errors - codes that say the list is unusable from here, never
 * a listing: Spamhaus' 127.255.255.0/24 (any list may use that range),
 * 127.0.1.255 (a domain list asked about an address), DNSWL's limit.
 */
static void
builtin_errors(struct bl_list *l)
{
	add_error(l, "127.255.255.252",
	    "the list's name is wrong (a typo, "
	    "or a DQS name under the wrong suffix)",
	    false);
	add_error(l, "127.255.255.254", "the list refuses our resolver: it "
					"is a public or unattributable "
					"resolver; use a DQS key, or your "
					"own recursive resolver on an "
					"attributable address", false);
	add_error(l, "127.255.255.255", "the list refuses our resolver: too "
					"many queries (over the free-use "
					"limit)", false);
	add_error(l, "127.255.255.[0..251;253]", "the list refuses the "
						 "query (a DQS key that is "
						 "wrong, expired or "
						 "suspended)", false);
	add_error(l, "127.0.1.255", "a domain list asked about an address "
				    "(make it type: domain)", false);
	if (name_within(l->zone, "dnswl.org")) {
		add_error(l, "127.0.0.255", "DNSWL refuses our resolver: over "
					    "its free-use limit", false);
		add_error(l, "127.0.10.[0..255]", "DNSWL answers this to "
						  "resolvers it does not "
						  "serve", true);
	}
}

/* parse_list - one list of lists: */
static int
parse_list(struct cfg_parser *p, struct cfg_node *n, void *arg)
{
	static const char *const keys[] = { "zone", "key", "name", "type",
		"families", "names", "codes", "errors", "weight", "reject",
		"decisive", "txt", "url", "states", "self_test", "enabled",
		"ipv6_test_point", NULL };
	enum { K_ZONE, K_KEY, K_NAME, K_TYPE, K_FAM, K_NAMES, K_CODES,
		K_ERRORS, K_WEIGHT, K_REJECT, K_DECISIVE, K_TXT, K_URL,
		K_STATES, K_SELF, K_ENABLED, K_TEST6 };
	static const char *const types[] = { "ip", "domain", NULL };
	struct bl_set *set = arg;
	struct cfg_node *v[17];
	struct bl_list *l;
	struct parse_ctx pc;
	char *zone = NULL, *key = NULL, what[96];
	unsigned i;
	int t;

	if (set->n >= BL_MAX_LISTS)
		return cfg_fail(p, n, "dnsbl: lists: at most %d",
		    BL_MAX_LISTS);
	if (cfg_map(p, n, "dnsbl: lists", keys, v) < 0)
		return -1;
	if (v[K_ZONE] == NULL)
		return cfg_fail(p, n, "dnsbl: lists: each list needs a zone");
	if (cfg_string(p, v[K_ZONE], "dnsbl: lists: zone", &zone) < 0)
		return -1;
	/* The zone may hold a key: it is never repeated in a message. */
	if (!chk_is_fqdn(zone) || zone[strlen(zone) - 1] == '.') {
		free(zone);
		return cfg_fail(p, v[K_ZONE], "dnsbl: lists: zone is not a "
					      "domain name (no final dot)");
	}
	for (i = 0; zone[i]; i++)
		zone[i] = (char)tolower((unsigned char)zone[i]);
	l = &set->lists[set->n];
	memset(l, 0, sizeof(*l));
	set->n++;
	if (v[K_KEY] != NULL) {
		if (cfg_string(p, v[K_KEY], "dnsbl: lists: key", &key) < 0) {
			l->zone = zone;
			return -1;
		}
		for (i = 0; key[i]; i++)
			if (!isalnum((unsigned char)key[i]) && key[i] != '-')
				break;
		if (key[i] != '\0' || i > 63) {
			free(key);
			l->zone = zone;
			return cfg_fail(p, v[K_KEY], "dnsbl: lists: key: "
						     "letters and digits only, "
						     "at most 63");
		}
		l->zone = xmalloc(strlen(key) + strlen(zone) + 2);
		sprintf(l->zone, "%s.%s", key, zone);
		l->name = xstrdup(zone);
		free(key);
		free(zone);
	} else {
		l->zone = zone;
		/* A DQS zone written whole: its first label is the key. */
		l->name = xstrdup(is_dqs(zone) ? strchr(zone, '.') + 1 : zone);
	}
	if (strlen(l->zone) > 200)
		return cfg_fail(p, v[K_ZONE],
		    "dnsbl: lists: zone (with its key) "
		    "longer than 200 characters");
	if (v[K_NAME] != NULL) {
		free(l->name);
		l->name = NULL;
		if (cfg_string(p, v[K_NAME], "dnsbl: lists: name", &l->name) <
		    0)
			return -1;
		if (strlen(l->name) > 60 || strpbrk(l->name, "\r\n\t{}|") !=
		    NULL)
			return cfg_fail(p, v[K_NAME], "dnsbl: lists: name: at "
						      "most 60 characters, no "
						      "control characters, "
						      "braces or bars");
	}
	for (i = 0; i + 1 < set->n; i++)
		if (strcmp(set->lists[i].name, l->name) == 0)
			return cfg_fail(p, n, "dnsbl: lists: two lists named "
					      "\"%s\"; give each a name:",
			    l->name);
	snprintf(what, sizeof(what), "dnsbl: %s", l->name);
	t = 0;
	if (v[K_TYPE] != NULL && cfg_choice(p, v[K_TYPE], what, types, &t) < 0)
		return -1;
	l->domain = t == 1;
	l->v4 = !l->domain;
	if (v[K_FAM] != NULL) {
		char **fam = NULL;
		size_t nf = 0, f;
		int rc = 0;

		if (l->domain)
			return cfg_fail(p, v[K_FAM], "%s: families: only an ip "
						     "list has families", what);
		l->v4 = false;
		if (cfg_strings(p, v[K_FAM], what, &fam, &nf) < 0)
			rc = -1; /* what it read before the mistake goes too */
		for (f = 0; f < nf; f++) {
			if (strcmp(fam[f], "ipv4") == 0)
				l->v4 = true;
			else if (strcmp(fam[f], "ipv6") == 0)
				l->v6 = true;
			else if (rc == 0)
				rc = cfg_fail(p, v[K_FAM],
				    "%s: families: "
				    "\"%.20s\" is neither "
				    "ipv4 nor ipv6",
				    what, fam[f]);
			free(fam[f]);
		}
		free(fam);
		if (rc < 0)
			return -1;
	}
	if (v[K_NAMES] != NULL) {
		if (!l->domain)
			return cfg_fail(p, v[K_NAMES],
			    "%s: names: only a domain "
			    "list (type: domain) has "
			    "names",
			    what);
		if (names_map(p, v[K_NAMES], what, &l->names) < 0)
			return -1;
	} else if (l->domain) {
		l->names = BL_N_SENDER_REG;
	}
	l->weight = 1;
	if (v[K_WEIGHT] != NULL && cfg_int(p, v[K_WEIGHT], what, -100, 100,
	    &l->weight) < 0)
		return -1;
	pc.l = l;
	snprintf(pc.what, sizeof(pc.what), "%s: codes", l->name);
	pc.v = l->filters;
	pc.n = &l->nfilters;
	pc.errors = false;
	if (v[K_CODES] != NULL && cfg_each(p, v[K_CODES], pc.what,
	    parse_filter, &pc) < 0)
		return -1;
	snprintf(pc.what, sizeof(pc.what), "%s: errors", l->name);
	pc.v = l->errors;
	pc.n = &l->nerrors;
	pc.errors = true;
	if (v[K_ERRORS] != NULL && cfg_each(p, v[K_ERRORS], pc.what,
	    parse_filter, &pc) < 0)
		return -1;
	for (i = 0; i < l->nerrors; i++)
		if (l->errors[i].label == NULL)
			l->errors[i].label =
			    xstrdup("an error code of the list");
	builtin_errors(l);
	if (v[K_REJECT] && cfg_bool(p, v[K_REJECT], what, &l->reject) < 0)
		return -1;
	if (v[K_DECISIVE] && cfg_bool(p, v[K_DECISIVE], what, &l->decisive) <
	    0)
		return -1;
	if (v[K_TXT] && cfg_bool(p, v[K_TXT], what, &l->txt) < 0)
		return -1;
	l->self_test = true;
	if (v[K_SELF] && cfg_bool(p, v[K_SELF], what, &l->self_test) < 0)
		return -1;
	l->enabled = true;
	if (v[K_ENABLED] && cfg_bool(p, v[K_ENABLED], what, &l->enabled) < 0)
		return -1;
	/* RFC 5782's IPv6 test point; DNSWL lists ::2 instead. (As
	 * written: addr_parse would make a mapped address IPv4.) */
	l->test6.family = AF_INET6;
	(void)inet_pton(AF_INET6, "::ffff:127.0.0.2", l->test6.a);
	if (v[K_TEST6] != NULL) {
		const char *tp = cfg_scalar(p, v[K_TEST6], what);

		if (tp == NULL)
			return -1;
		if (!l->v6)
			return cfg_fail(p, v[K_TEST6], "%s: ipv6_test_point: "
			    "only for a list with families: [ipv6]", what);
		if (inet_pton(AF_INET6, tp, l->test6.a) != 1 ||
		    l->test6.a[15] != 2)
			return cfg_fail(p, v[K_TEST6], "%s: ipv6_test_point: "
			    "\"%.50s\" is not an IPv6 address ending in 2 "
			    "(::2, ::ffff:127.0.0.2); the one ending in 1 "
			    "must not be listed", what, tp);
	}
	if (v[K_URL] != NULL) {
		if (cfg_string(p, v[K_URL], what, &l->url) < 0)
			return -1;
		if (strlen(l->url) > 200 || strpbrk(l->url, " \r\n\t") != NULL)
			return cfg_fail(p, v[K_URL], "%s: url: at most 200 "
						     "characters, no blanks",
			    what);
	}
	if (v[K_STATES] != NULL && cfg_each(p, v[K_STATES], what,
	    add_list_state, &l->states) < 0)
		return -1;
	if (l->decisive) {
		bool neg = l->nfilters == 0 ? l->weight < 0 : false;

		for (i = 0; i < l->nfilters; i++)
			neg = neg || l->filters[i].weight < 0;
		if (!neg)
			return cfg_fail(p, v[K_DECISIVE], "%s: decisive: only "
							  "an allowlist (a "
							  "negative weight) "
							  "decides", what);
	}
	if (l->reject && l->decisive)
		return cfg_fail(p, v[K_REJECT], "%s: reject and decisive: a "
						"list is a blocklist or an "
						"allowlist", what);
	return 0;
}

/*
 * dnsbl__setup - lists:, self_test_every:, backoff:, failures:,
 * stats_every:, breaker_percent:, breaker_lookups:
 */
int
dnsbl__setup(struct cfg_parser *p, struct chk_policy *pol,
    struct cfg_node *const *v, void *conf)
{
	struct dnsbl_conf *c = conf;
	struct bl_set *s = c->set;

	(void)pol;
	if (v[0] == NULL)
		return cfg_fail(p, NULL, "dnsbl: needs lists: (zone: ...)");
	/* A profile never reaches here (CHK_F_MAIN_OPTIONS): s is ours. */
	if (cfg_each(p, v[0], "dnsbl: lists", parse_list, s) < 0)
		return -1;
	if (s->n == 0)
		return cfg_fail(p, v[0], "dnsbl: lists: none given");
	if (v[1] && cfg_duration(p, v[1], "dnsbl: self_test_every", 0,
	    7 * 86400 * 1000ull, &s->test_every_ms) < 0)
		return -1;
	if (s->test_every_ms > 0 && s->test_every_ms < 1000)
		return cfg_fail(p, v[1], "dnsbl: self_test_every: at least 1s "
					 "(0: never)");
	if (v[2] && cfg_duration(p, v[2], "dnsbl: backoff", 1000,
	    86400 * 1000ull, &s->backoff_ms) < 0)
		return -1;
	if (v[3] && cfg_uint(p, v[3], "dnsbl: failures", 1, 100,
	    &s->failures) < 0)
		return -1;
	if (v[4] && cfg_duration(p, v[4], "dnsbl: stats_every", 1000,
	    3600 * 1000ull, &s->stats_every_ms) < 0)
		return -1;
	if (v[5] && cfg_uint(p, v[5], "dnsbl: breaker_percent", 50, 100,
	    &s->breaker_percent) < 0)
		return -1;
	return v[6] ? cfg_uint(p, v[6], "dnsbl: breaker_lookups", 0,
	    BL_WINDOW_MAX, &s->breaker_lookups) : 0;
}

/* dnsbl__error_code - what an error code of the list means, or NULL */
const char *
dnsbl__error_code(const struct bl_list *l, const uint8_t a[4],
    bool test_point)
{
	unsigned i;

	for (i = 0; i < l->nerrors; i++)
		if (dnsbl__filter_match(&l->errors[i], a) &&
		    !(test_point && l->errors[i].test_ok))
			return l->errors[i].label;
	return NULL;
}

const struct chk_def chk_dnsbl_def = {
	.name = "dnsbl",
	.flags = CHK_F_DNS | CHK_F_MAIN_OPTIONS | CHK_F_STORE |
	    CHK_F_BYPASSED,
	.dsn = "5.7.1",
	.text = "Service unavailable; {listed} - ask the {operators}, not us, "
		"for removal",
	.tempfail_text = "The DNS lists could not be asked about client "
			 "{client} just now; please try again later",
	.on_tempfail = CHK_TF_IGNORE,
	.max_queries = BL_MAX_LISTS * BL_MAX_ITEMS * 2,
	.options = dnsbl__options,
	.conf_size = sizeof(struct dnsbl_conf),
	.conf_init = dnsbl__conf_init,
	.conf_copy = dnsbl__conf_copy,
	.conf_free = dnsbl__conf_free,
	.setup = dnsbl__setup,
};
