/*
 * dnsbl - DNS lists (RFC 5782): blocklists of addresses (DNSBL), of
 * domains (RHSBL), and allowlists (DNSWL), in one check so that every
 * list of a request is asked at once and their weights add up.
 *
 * Per list, from the policy file: the zone (and a key, never shown), a
 * display name, the kind (ip: the client address, IPv4 reversed octets,
 * IPv6 nibbles; domain: the sender domain, the HELO name, the verified
 * client name, each registered and/or full), return-code filters each
 * with a weight and a label, the codes that mean "this list is unusable
 * from here", an optional TXT reason, a removal URL, the states it runs
 * at, and whether a match refuses on its own (reject) or, for an
 * allowlist, decides at once (decisive).
 *
 * Safe answers: only an A record inside a filter is a listing; one
 * outside 127.0.0.0/8 is bogus (a resolver that rewrites NXDOMAIN), an
 * error code makes the list unusable, a timeout is "not listed" for the
 * request; neither ever lists nor allowlists anyone.
 *
 * State for the daemon's life (init): per list its state (ok, disabled
 * by a failed self-test, unusable, backing off after failures), the
 * RFC 5782 section 5 self-tests at start and periodically, and counts,
 * written to the store's "dnsbl" table for policyctl stats. The results
 * of a message are kept in its memo for its other recipients.
 */
#include "chk.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "arena.h"
#include "config.h"
#include "dns.h"
#include "dynamic.h"
#include "log.h"
#include "request.h"
#include "store.h"
#include "xalloc.h"

#define BL_MAX_LISTS   16
#define BL_MAX_FILTERS 16
#define BL_MAX_ITEMS   6  /* names one domain list asks about */
#define BL_LABEL_MAX   80
#define BL_TXT_MAX     120 /* of a list's TXT reason, in a reply */
#define BL_TABLE       "dnsbl"
#define TICK_SLACK_MS  100 /* a test due within this of a tick: now */

/* The names a domain list asks about. */
enum {
	BL_N_SENDER_REG = 1 << 0,
	BL_N_SENDER_FULL = 1 << 1,
	BL_N_HELO_REG = 1 << 2,
	BL_N_HELO_FULL = 1 << 3,
	BL_N_CLIENT_REG = 1 << 4,
	BL_N_CLIENT_FULL = 1 << 5,
};

/*
 * A return-code filter: per octet the values it takes (a bitmap), or a
 * mask of which any bit set matches (in 127.0.0.0/8).
 */
struct bl_filter {
	bool is_mask;
	bool test_ok;  /* an error code that the list's test point answers */
	uint8_t mask[4];
	uint8_t bits[4][32];
	int weight;
	char *label;
	unsigned marks;  /* BL_M_*: what a match says besides its weight */
};

/* Marks of a filter, for the other checks (identities). */
enum {
	BL_M_HIGH_TRUST = 1 << 0, /* an allowlisting that vouches for the
				   * client's operator (DNSWL's .3):
				   * backscatter treats it as a shared
				   * platform (CHK_ID_TRUSTED) */
	BL_M_END_USER = 1 << 1,   /* a listing of end-user ranges (PBL):
				   * evidence for the dynamic checks
				   * (CHK_ID_END_USER) */
};

struct bl_list {
	char *zone;       /* as asked: key.zone; never shown */
	char *name;       /* for replies, logs and policyctl */
	bool domain;      /* a domain list (RHSBL) */
	bool v4, v6;      /* ip lists: the families it holds */
	unsigned names;   /* domain lists: BL_N_* */
	struct bl_filter filters[BL_MAX_FILTERS];
	unsigned nfilters; /* 0: any code in 127.0.0.0/8 lists */
	struct bl_filter errors[BL_MAX_FILTERS]; /* label: what it means */
	unsigned nerrors;
	int weight;       /* without filters, or a filter's default */
	bool reject;      /* a listing refuses, whatever the score */
	bool decisive;    /* an allowlisting answers at once */
	bool txt;         /* ask TXT for the reason */
	bool self_test;
	bool enabled;     /* false: kept in the file, never asked */
	char *url;        /* removal URL: {item}, {code} */
	unsigned states;  /* CHK_ST_*; 0: the check's */
};

/* The check's options, shared by the profiles (reference counted). */
struct bl_set {
	int refs;
	struct bl_list lists[BL_MAX_LISTS];
	unsigned n;
	uint64_t test_every_ms; /* self-tests; 0: never */
	uint64_t backoff_ms;    /* first skip after failures */
	unsigned failures;      /* in a row before skipping */
	uint64_t stats_every_ms; /* counts written to the store */
};

struct dnsbl_conf {
	struct bl_set *set;
};

/* Options. */

static const char *const dnsbl_options[] = { "lists", "self_test_every",
	"backoff", "failures", "stats_every", NULL };

static struct bl_set *
set_new(void)
{
	struct bl_set *s = xcalloc(1, sizeof(*s));

	s->refs = 1;
	s->test_every_ms = 15 * 60 * 1000;
	s->backoff_ms = 60 * 1000;
	s->failures = 3;
	s->stats_every_ms = 60 * 1000;
	return s;
}

static void
set_unref(struct bl_set *s)
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

static void
dnsbl_conf_init(void *conf)
{
	((struct dnsbl_conf *)conf)->set = set_new();
}

static void
dnsbl_conf_copy(void *dst, const void *src)
{
	const struct dnsbl_conf *s = src;

	((struct dnsbl_conf *)dst)->set = s->set;
	s->set->refs++;
}

static void
dnsbl_conf_free(void *conf)
{
	set_unref(((struct dnsbl_conf *)conf)->set);
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

/* filter_match - an answer's address taken by f */
static bool
filter_match(const struct bl_filter *f, const uint8_t a[4])
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
		NULL };
	enum { K_ZONE, K_KEY, K_NAME, K_TYPE, K_FAM, K_NAMES, K_CODES,
		K_ERRORS, K_WEIGHT, K_REJECT, K_DECISIVE, K_TXT, K_URL,
		K_STATES, K_SELF, K_ENABLED };
	static const char *const types[] = { "ip", "domain", NULL };
	struct bl_set *set = arg;
	struct cfg_node *v[16];
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

/* dnsbl_setup - lists:, self_test_every:, backoff:, failures:, stats_every: */
static int
dnsbl_setup(struct cfg_parser *p, struct chk_policy *pol,
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
	return v[4] ? cfg_duration(p, v[4], "dnsbl: stats_every", 1000,
	    3600 * 1000ull, &s->stats_every_ms) : 0;
}

/* State for the daemon's life: per list. */

enum bl_st {
	BL_UNTESTED, /* used; no self-test has finished yet */
	BL_OK,
	BL_DISABLED, /* a self-test failed: the list is dead or lists all */
	BL_UNUSABLE, /* it answers error codes (or bogus answers) to us */
	BL_BACKOFF,  /* it kept failing: skipped for a while */
};
static const char *const st_names[] = { "untested", "ok", "disabled",
	"unusable", "backoff" };

struct bl_state;

/* One self-test question. */
struct bl_probe {
	struct bl_state *s;
	struct dns_query *q;
	bool listed_wanted;
};

struct bl_proc;

struct bl_state {
	struct bl_proc *pr;
	char *zone;          /* as asked; never printed */
	char *name;
	bool domain, v4, v6, self_test;
	struct bl_set *set;  /* for the error codes (a reference) */
	unsigned list;       /* index in set */
	bool used;           /* in the policy in force */
	enum bl_st st;
	char why[320];       /* of the state, for the log and stats */
	int64_t since, last_test;
	uint64_t next_test_ms, test_started_ms;
	unsigned fails;      /* in a row */
	uint64_t backoff_ms, backoff_until_ms;
	uint64_t lookups, hits, errors, skipped;
	struct bl_probe probes[4];
	unsigned probing;
	bool test_bad;       /* this round failed */
	bool test_unusable;  /* this round met an error code */
	bool test_trouble;   /* this round could not tell */
	char test_why[320];
	bool dirty;          /* to be written to the store */
};

struct bl_proc {
	uv_loop_t *loop;
	struct dns *dns;
	struct store_handle *store;
	uv_timer_t tick;
	struct bl_state *st[64];
	unsigned n;
	struct store_op *wop;  /* a write under way */
	struct store_reply wout;
	bool writing;
	uint64_t last_write_ms;
	uint64_t stats_every_ms; /* of the policy in force */
};

static uint64_t
now_ms(const struct bl_proc *pr)
{
	return uv_now(pr->loop);
}

/* state_of - the list's state, made when first seen */
static struct bl_state *
state_of(struct bl_proc *pr, struct bl_set *set, unsigned li)
{
	const struct bl_list *l = &set->lists[li];
	struct bl_state *s;
	unsigned i;

	for (i = 0; i < pr->n; i++) {
		s = pr->st[i];
		if (strcmp(s->zone, l->zone) == 0 && s->domain == l->domain)
			goto found;
	}
	if (pr->n >= nitems(pr->st))
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->pr = pr;
	s->zone = xstrdup(l->zone);
	s->since = (int64_t)time(NULL);
	s->dirty = true;
	pr->st[pr->n++] = s;
found:
	if (s->set != set) {
		set->refs++;
		set_unref(s->set);
		s->set = set;
		free(s->name);
		s->name = xstrdup(l->name);
	}
	s->list = li;
	s->domain = l->domain;
	s->v4 = l->v4;
	s->v6 = l->v6;
	s->self_test = l->self_test;
	if (!s->used && s->self_test && set->test_every_ms > 0 &&
	    s->probing == 0)
		s->next_test_ms = now_ms(pr); /* at once */
	s->used = true;
	return s;
}

/* set_state - a state change, said loudly once */
static void
set_state(struct bl_state *s, enum bl_st st, const char *why)
{
	if (s->st == st && strcmp(s->why, why) == 0)
		return;
	if (st == BL_OK && s->st == BL_UNTESTED)
		log_info("dnsbl: %s %s", s->name, why);
	else if (st == BL_OK || (st == BL_UNTESTED && s->st == BL_BACKOFF))
		log_info("dnsbl: %s is usable again%s%s", s->name,
		    *why ? ": " : "", why);
	else if (st == BL_DISABLED)
		log_err("dnsbl: %s DISABLED until it passes its self-test: %s",
		    s->name, why);
	else if (st == BL_UNUSABLE)
		log_err("dnsbl: %s is UNUSABLE from here, skipped: %s", s->name,
		    why);
	else if (st == BL_BACKOFF)
		log_warn("dnsbl: %s skipped for a while: %s", s->name, why);
	s->st = st;
	snprintf(s->why, sizeof(s->why), "%s", why);
	s->since = (int64_t)time(NULL);
	s->dirty = true;
}

/*
 * error_code - the meaning of an error code of the list, or NULL; at a
 * test point, the codes its test entry answers (DNSWL's 127.0.10.x) are
 * none
 */
static const char *
error_code(const struct bl_list *l, const uint8_t a[4], bool test_point)
{
	unsigned i;

	for (i = 0; i < l->nerrors; i++)
		if (filter_match(&l->errors[i], a) &&
		    !(test_point && l->errors[i].test_ok))
			return l->errors[i].label;
	return NULL;
}

static void write_states(struct bl_proc *pr);

/* probe_judge - one self-test answer: "" if as wanted, else why not */
static void
probe_judge(struct bl_state *s, const struct dns_answer *a, bool wanted)
{
	const struct bl_list *l = &s->set->lists[s->list];
	bool listed = false;
	size_t i;

	if (a->status == DNS_TEMPFAIL || a->status == DNS_BAD) {
		s->test_trouble = true;
		return;
	}
	for (i = 0; a->status == DNS_OK && i < a->n; i++) {
		const uint8_t *ip = a->rr[i].addr.a;
		const char *err;

		if (a->rr[i].addr.family != AF_INET)
			continue;
		if ((err = error_code(l, ip, wanted)) != NULL || ip[0] != 127) {
			/* Unusable from here rather than dead. */
			snprintf(s->test_why, sizeof(s->test_why), "it answers "
			    "%u.%u.%u.%u: %s", ip[0], ip[1], ip[2], ip[3],
			    err ? err : "outside 127.0.0.0/8, a resolver that "
					"rewrites NXDOMAIN");
			s->test_unusable = true;
			return;
		}
		listed = true;
	}
	if (listed == wanted || s->test_bad)
		return;
	s->test_bad = true;
	if (wanted)
		snprintf(s->test_why, sizeof(s->test_why), "its test entry %s "
		    "is not listed: the list looks empty or dead",
		    s->domain ? "TEST" : "127.0.0.2");
	else
		snprintf(s->test_why, sizeof(s->test_why), "it lists %s, which "
		    "no list may list: it lists everyone (a dead list's "
		    "domain?)", s->domain ? "INVALID" : "127.0.0.1");
}

/* probe_done - a self-test answer; the verdict once all are in */
static void
probe_done(void *arg, const struct dns_answer *a)
{
	struct bl_probe *pb = arg;
	struct bl_state *s = pb->s;
	struct bl_proc *pr = s->pr;
	uint64_t every = s->set->test_every_ms;

	pb->q = NULL;
	s->probing--;
	probe_judge(s, a, pb->listed_wanted);
	if (s->probing > 0)
		return;
	s->last_test = (int64_t)time(NULL);
	s->dirty = true;
	if (s->test_unusable) {
		set_state(s, BL_UNUSABLE, s->test_why);
	} else if (s->test_bad) {
		set_state(s, BL_DISABLED, s->test_why);
	} else if (s->test_trouble) {
		/* Could not tell: the state stays, a new try comes sooner. */
		every = every > 60000 ? 60000 : every;
	} else {
		s->fails = 0;
		s->backoff_ms = 0;
		set_state(s, BL_OK, "passed its self-test");
	}
	/* A failed list is tried again sooner, to come back soon. */
	if (s->st == BL_DISABLED || s->st == BL_UNUSABLE)
		every = every > 60000 ? 60000 : every;
	s->next_test_ms = s->test_started_ms + every;
	write_states(pr);
}

/* probe_name - the test point of the list into buf */
static void
probe_name(const struct bl_state *s, bool listed, bool v6, char *buf,
    size_t size)
{
	if (s->domain)
		snprintf(buf, size, "%s.%s", listed ? "test" : "invalid",
		    s->zone);
	else if (!v6)
		snprintf(buf, size, "%d.0.0.127.%s", listed ? 2 : 1, s->zone);
	else /* ::FFFF:7F00:2, ::FFFF:7F00:1 in nibbles */
		snprintf(buf, size, "%d.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0."
		    "0.0.0.0.0.0.0.0.0.0.0.0.%s", listed ? 2 : 1, s->zone);
}

/* self_test - ask the list's test points */
static void
self_test(struct bl_proc *pr, struct bl_state *s)
{
	unsigned k;

	s->test_bad = s->test_trouble = s->test_unusable = false;
	s->test_started_ms = now_ms(pr);
	s->test_why[0] = '\0';
	for (k = 0; k < 4; k++) {
		bool listed = (k & 1) == 0, v6 = k >= 2;
		struct bl_probe *pb = &s->probes[k];
		char name[DNS_MAX_NAME + 64];

		if (s->domain ? v6 : v6 ? !s->v6 : !s->v4)
			continue;
		probe_name(s, listed, v6, name, sizeof(name));
		pb->s = s;
		pb->listed_wanted = listed;
		if (dns_query(pr->dns, name, DNS_T_A, probe_done, pb, &pb->q) ==
		    0)
			s->probing++;
	}
	if (s->probing == 0)
		s->next_test_ms = now_ms(pr) + s->set->test_every_ms;
}

/* rec_value - a list's state as the store keeps it for policyctl */
static size_t
rec_value(const struct bl_state *s, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s|%" PRId64 "|%" PRId64 "|%" PRIu64
	    "|%" PRIu64 "|%" PRIu64 "|%" PRIu64 "|%s", st_names[s->st],
	    s->since, s->last_test, s->lookups, s->hits, s->errors,
	    s->skipped, s->why);

	return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

static void
write_done(void *arg, const struct store_reply *r)
{
	struct bl_proc *pr = arg;

	(void)r;
	pr->writing = false;
	pr->wop = NULL;
}

/*
 * write_states - the changed lists' states into the store (key: the
 * display name, never the zone), one write at a time
 */
static void
write_states(struct bl_proc *pr)
{
	struct store *st = pr->store ? store_get(pr->store) : NULL;
	struct store_rec recs[nitems(pr->st)];
	char vals[nitems(pr->st)][STORE_VAL_MAX];
	int64_t now = (int64_t)time(NULL);
	unsigned i, n = 0;
	int rc;

	if (st == NULL || pr->writing)
		return;
	for (i = 0; i < pr->n; i++) {
		struct bl_state *s = pr->st[i];

		if (!s->dirty || !s->used)
			continue;
		s->dirty = false;
		recs[n] = (struct store_rec){ .key = s->name,
			.klen = strlen(s->name), .val = vals[n],
			.vlen = rec_value(s, vals[n], sizeof(vals[n])),
			.expires = now + 7 * 86400 };
		n++;
	}
	if (n == 0)
		return;
	pr->last_write_ms = now_ms(pr);
	rc = st->ops->put(st, BL_TABLE, recs, n, NULL, NULL,
	    &(struct store_call){ .budget_ms = 5000, .done = write_done,
		.arg = pr, .op = &pr->wop, .out = &pr->wout });
	pr->writing = rc == 0;
}

/* tick - every second: self-tests due, back-offs over, counts written */
static void
tick(uv_timer_t *t)
{
	struct bl_proc *pr = t->data;
	uint64_t now = now_ms(pr);
	unsigned i;

	for (i = 0; i < pr->n; i++) {
		struct bl_state *s = pr->st[i];

		if (s->used && s->self_test && s->set->test_every_ms > 0 &&
		    s->probing == 0 && pr->dns != NULL &&
		    now + TICK_SLACK_MS >= s->next_test_ms)
			self_test(pr, s);
		if (s->st == BL_BACKOFF && now >= s->backoff_until_ms)
			set_state(s, BL_UNTESTED, "its back-off is over");
	}
	/* Counts every stats_every; state changes at once. */
	if (now - pr->last_write_ms + TICK_SLACK_MS >= pr->stats_every_ms)
		for (i = 0; i < pr->n; i++)
			pr->st[i]->dirty = true;
	write_states(pr);
}

static void *
dnsbl_init(const struct chk_ctx *ctx)
{
	struct bl_proc *pr;

	if (ctx->loop == NULL)
		return NULL;
	pr = xcalloc(1, sizeof(*pr));
	pr->loop = ctx->loop;
	pr->dns = ctx->dns;
	pr->store = ctx->store;
	pr->last_write_ms = uv_now(pr->loop);
	pr->stats_every_ms = 60 * 1000;
	uv_timer_init(pr->loop, &pr->tick);
	pr->tick.data = pr;
	uv_timer_start(&pr->tick, tick, 1000, 1000);
	/* The self-tests never keep a loop that has nothing else alive. */
	uv_unref((uv_handle_t *)&pr->tick);
	return pr;
}

static void
proc_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
dnsbl_deinit(void *proc)
{
	struct bl_proc *pr = proc;
	unsigned i, k;

	if (pr == NULL)
		return;
	if (pr->writing && pr->wop != NULL) {
		struct store *st = store_get(pr->store);

		if (st != NULL)
			st->ops->cancel(pr->wop);
	}
	for (i = 0; i < pr->n; i++) {
		struct bl_state *s = pr->st[i];

		for (k = 0; k < 4; k++)
			if (s->probes[k].q != NULL)
				dns_cancel(s->probes[k].q);
		set_unref(s->set);
		free(s->zone);
		free(s->name);
		free(s);
	}
	pr->tick.data = pr;
	if (uv_is_closing((uv_handle_t *)&pr->tick))
		free(pr); /* a loop that closed every handle, and ran */
	else
		uv_close((uv_handle_t *)&pr->tick, proc_closed);
}

/* dnsbl_configure - the lists in force: tested from now on */
static void
dnsbl_configure(void *proc, const struct chk_policy *pol)
{
	struct bl_proc *pr = proc;
	const struct dnsbl_conf *c = pol->conf;
	unsigned i;

	for (i = 0; i < pr->n; i++)
		pr->st[i]->used = false;
	if (!pol->enabled)
		return;
	pr->stats_every_ms = c->set->stats_every_ms;
	for (i = 0; i < c->set->n; i++)
		if (c->set->lists[i].enabled)
			(void)state_of(pr, c->set, i);
	/* The first self-tests go out now, not at the next tick. */
	tick(&pr->tick);
}

/* One request. */

/* What one question is about. */
struct bl_item {
	unsigned list;
	const char *subject;   /* "client 192.0.2.7", "sender domain x" */
	const char *value;     /* the address or name, for {item} */
	bool done, trouble, txt_pending;
	uint32_t matched;      /* filters matched (bit per filter) */
	bool any;              /* without filters: listed */
	uint8_t code[4];       /* the first listing code */
	const char *err;       /* an error code's meaning */
	char *txt;             /* the list's reason */
};

struct bl_req {
	const struct bl_set *set;
	struct bl_proc *pr;    /* whose states st[] are; compared only */
	struct bl_state *st[BL_MAX_LISTS];
	struct bl_item items[BL_MAX_LISTS * BL_MAX_ITEMS];
	unsigned nitems, pending;
	char skipped[200];     /* lists not asked, for the log */
	size_t so;
	bool failed;           /* a list did not answer: nothing memoized */
	bool reported;
};

/* The memo: a message's result, for its other recipients. */
struct bl_memo {
	const struct bl_set *set;
	unsigned state;        /* the protocol state it is for */
	bool valid, refuse, stop;
	enum chk_status status;
	int score;
	char text[900];        /* reason, listed, list, code, url, label,
				* operators: NUL after each */
	size_t len;
};

static const char *const var_names[] = { "listed", "list", "code", "url",
	"label", "operators" };

/* marked - a filter the item matched carries mark (BL_M_*) */
static bool
marked(const struct bl_list *l, const struct bl_item *it, unsigned mark)
{
	unsigned f;

	for (f = 0; f < l->nfilters; f++)
		if ((it->matched & (1u << f)) && (l->filters[f].marks & mark))
			return true;
	return false;
}

/* item_weight - what an item adds: the weights of the filters it matched */
static int
item_weight(const struct bl_list *l, const struct bl_item *it)
{
	unsigned f;
	int w = 0;

	if (l->nfilters == 0)
		return it->any ? l->weight : 0;
	for (f = 0; f < l->nfilters; f++)
		if (it->matched & (1u << f))
			w += l->filters[f].weight;
	return w;
}

static bool
item_listed(const struct bl_list *l, const struct bl_item *it)
{
	return it->done && (it->any || it->matched != 0) && l != NULL;
}

/* label - the label of the first filter an item matched */
static const char *
item_label(const struct bl_list *l, const struct bl_item *it)
{
	unsigned f;

	for (f = 0; f < l->nfilters; f++)
		if ((it->matched & (1u << f)) && l->filters[f].label)
			return l->filters[f].label;
	return NULL;
}

/* safe_txt - a list's TXT reason, printable and short, for a reply */
static char *
safe_txt(struct arena *a, const char *t, size_t len)
{
	char *out = arena_alloc(a, BL_TXT_MAX + 4);
	size_t i, o = 0;

	for (i = 0; i < len && o < BL_TXT_MAX; i++) {
		unsigned char c = (unsigned char)t[i];

		out[o++] = c >= 0x20 && c < 0x7f && c != '{' && c != '}'
		               ? (char)c
		               : ' ';
	}
	if (i < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* url_of - a list's removal URL with {item} and {code} */
static const char *
url_of(struct arena *a, const struct bl_list *l, const struct bl_item *it)
{
	char buf[400], code[16];
	const char *t = l->url;
	size_t o = 0;

	snprintf(code, sizeof(code), "%u.%u.%u.%u", it->code[0], it->code[1],
	    it->code[2], it->code[3]);
	while (t && *t && o + 1 < sizeof(buf)) {
		const char *v = NULL;
		size_t kl = 0;

		if (strncmp(t, "{item}", 6) == 0)
			v = it->value, kl = 6;
		else if (strncmp(t, "{code}", 6) == 0)
			v = code, kl = 6;
		if (v != NULL) {
			o +=
			    (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", v);
			if (o >= sizeof(buf))
				o = sizeof(buf) - 1;
			t += kl;
			continue;
		}
		buf[o++] = *t++;
	}
	buf[o] = '\0';
	return arena_strdup(a, buf);
}

/*
 * finish - the result from the items answered so far; stop when it is
 * certain before every answer came (or a decisive allowlist matched)
 */
static void
finish(struct chk_run *run, struct bl_req *q, bool stop)
{
	struct arena *a = chk_arena(run);
	struct chk_result r;
	char listed[700], reason[400], lists_seen[BL_MAX_LISTS] = { 0 };
	const char *first_list = NULL, *first_url = NULL, *first_label = NULL;
	char first_code[16] = "";
	size_t lo = 0, ro = 0;
	int pos = 0, neg = 0, nlists = 0;
	bool refuse = false, allow_decides = false;
	uint32_t counted[BL_MAX_LISTS] = { 0 };
	unsigned i;
	struct bl_memo *m;

	q->reported = true;
	memset(&r, 0, sizeof(r));
	r.result = -1;
	listed[0] = reason[0] = '\0';
	for (i = 0; i < q->nitems; i++) {
		struct bl_item *it = &q->items[i];
		const struct bl_list *l = &q->set->lists[it->list];
		const char *lab;
		char code[16];
		int w;

		if (!item_listed(l, it))
			continue;
		/* A filter's weight counts once per list, whatever matched. */
		w = 0;
		if (l->nfilters == 0) {
			if (!(counted[it->list] & 1u))
				w = l->weight;
			counted[it->list] |= 1u;
		} else {
			unsigned f;

			for (f = 0; f < l->nfilters; f++) {
				if ((it->matched & (1u << f)) &&
				    !(counted[it->list] & (1u << f)))
					w += l->filters[f].weight;
				if (it->matched & (1u << f))
					counted[it->list] |= 1u << f;
			}
		}
		lab = item_label(l, it);
		snprintf(code, sizeof(code), "%u.%u.%u.%u", it->code[0],
		    it->code[1], it->code[2], it->code[3]);
		buf_printf(reason, sizeof(reason), &ro, "%s%s at %s (%s%s%s)",
		    ro ? "; " : "", it->value, l->name, code, lab ? " " : "",
		    lab ? lab : "");
		if (item_weight(l, it) < 0 || (l->nfilters == 0 && l->weight <
		    0)) {
			neg += w;
			allow_decides = allow_decides || l->decisive;
			/* A decisive list vouches for whom it lists. */
			if (l->decisive || marked(l, it, BL_M_HIGH_TRUST))
				chk_set_identity(run, CHK_ID_TRUSTED, l->name);
			continue;
		}
		pos += w;
		refuse = refuse || l->reject;
		if (marked(l, it, BL_M_END_USER))
			chk_set_identity(run, CHK_ID_END_USER, l->name);
		if (!lists_seen[it->list]) {
			lists_seen[it->list] = 1;
			nlists++;
		}
		if (first_list == NULL) {
			first_list = l->name;
			first_url = l->url ? url_of(a, l, it) : NULL;
			first_label = lab;
			memcpy(first_code, code, sizeof(code));
		}
		buf_printf(listed, sizeof(listed), &lo, "%s%s is listed at %s",
		    lo ? "; " : "", it->subject, l->name);
		if (lab != NULL || it->txt != NULL)
			buf_printf(listed, sizeof(listed), &lo, " (%s%s%s)",
			    lab ? lab : "", lab && it->txt ? ": " : "",
			    it->txt ? it->txt : "");
		if (l->url != NULL)
			buf_printf(listed, sizeof(listed), &lo, "; see %s",
			    url_of(a, l, it));
	}
	r.scored = true;
	if (allow_decides) {
		/* A decisive allowlisting: trusted, whatever else is listed. */
		r.status = CHK_PASS;
		r.score = neg;
		r.stop = true;
	} else if (pos > 0 || refuse || first_list != NULL) {
		r.status = CHK_FAIL;
		r.score = pos + neg;
		r.refuse = refuse;
		r.code = "554";
		r.stop = stop || refuse;
	} else if (neg < 0) {
		r.status = CHK_PASS;
		r.score = neg;
	} else {
		r.status = CHK_NEUTRAL;
	}
	r.reason = ro > 0 ? arena_strdup(a, reason)
	    : q->nitems > 0 ? "not listed" : "no list to ask";
	/* Lists skipped or without an answer: in the log line too. */
	if (q->so > 0)
		r.reason = arena_printf(a, "%s; %s", r.reason, q->skipped);
	r.vars[0] = (struct chk_var){ "listed", arena_strdup(a, listed) };
	r.vars[1] = (struct chk_var){ "list", first_list ? first_list : "" };
	r.vars[2] = (struct chk_var){ "code", arena_strdup(a, first_code) };
	r.vars[3] = (struct chk_var){ "url", first_url ? first_url : "" };
	r.vars[4] = (struct chk_var){ "label", first_label ? first_label
							  : "listed" };
	r.vars[5] = (struct chk_var){ "operators", nlists > 1
		? "lists' operators" : "list's operator" };
	r.nvars = 6;
	/* Kept for the message's other recipients when every list asked
	 * answered (a skipped list stays skipped for the message). */
	if (!q->failed && (m = chk_memo(run, sizeof(*m))) != NULL) {
		size_t o = 0, k;

		memset(m, 0, sizeof(*m));
		o +=
		    (size_t)snprintf(m->text, sizeof(m->text), "%s", r.reason) +
		    1;
		for (k = 0; k < r.nvars && o < sizeof(m->text); k++)
			o += (size_t)snprintf(m->text + o, sizeof(m->text) - o,
			    "%s", r.vars[k].value) + 1;
		if (o <= sizeof(m->text)) {
			m->set = q->set;
			m->state = chk_state_bit(chk_req(run)->protocol_state);
			m->status = r.status;
			m->score = r.score;
			m->refuse = r.refuse;
			m->stop = r.stop;
			m->len = o;
			m->valid = true;
		}
	}
	chk_done_res(run, &r);
}

/* from_memo - the message's result, kept by its first recipient */
static bool
from_memo(struct chk_run *run, const struct bl_set *set)
{
	struct bl_memo *m = chk_memo(run, sizeof(struct bl_memo));
	struct chk_result r;
	const char *t;
	unsigned k;

	if (m == NULL || !m->valid || m->set != set ||
	    m->state != chk_state_bit(chk_req(run)->protocol_state))
		return false;
	memset(&r, 0, sizeof(r));
	r.result = -1;
	r.status = m->status;
	r.scored = true;
	r.score = m->score;
	r.refuse = m->refuse;
	r.stop = m->stop;
	r.code = "554";
	t = m->text;
	r.reason = arena_strdup(chk_arena(run), t);
	for (k = 0; k < nitems(var_names); k++) {
		t += strlen(t) + 1;
		r.vars[k] = (struct chk_var){ var_names[k],
			arena_strdup(chk_arena(run), t) };
	}
	r.nvars = (unsigned)nitems(var_names);
	chk_done_res(run, &r);
	return true;
}

/*
 * certain - the result cannot change any more: a reject list matched, a
 * decisive allowlist matched, or the score is past scores.reject even
 * if every allowlist still asked matched
 */
static bool
certain(struct chk_run *run, const struct bl_req *q)
{
	int score, reject, greylist, pos = 0, neg_left = 0;
	bool refuse = false;
	unsigned i;

	for (i = 0; i < q->nitems; i++) {
		const struct bl_item *it = &q->items[i];
		const struct bl_list *l = &q->set->lists[it->list];
		int w;

		if (!it->done || it->txt_pending) {
			/* What it may still subtract; a decisive one waits. */
			unsigned f;
			int most = l->nfilters ? 0 : l->weight < 0 ? l->weight
								   : 0;

			if (l->decisive)
				return false;
			for (f = 0; f < l->nfilters; f++)
				if (l->filters[f].weight < 0)
					most += l->filters[f].weight;
			neg_left += most;
			if (!it->txt_pending)
				continue;
		}
		if (!item_listed(l, it))
			continue;
		w = item_weight(l, it);
		if (w < 0 && l->decisive)
			return true;
		if (w > 0)
			pos += w;
		if (w >= 0 && l->reject && !it->txt_pending)
			refuse = true;
	}
	if (refuse)
		return true;
	chk_scores(run, &score, &reject, &greylist);
	return reject > 0 && pos + neg_left >= reject;
}

static void item_answer(struct chk_run *run, const struct dns_answer *a,
    void *arg);

/*
 * req_of - the request's lists; their states only while the state they
 * were taken from lives (a shutdown lets it go under requests in flight)
 */
static struct bl_req *
req_of(struct chk_run *run)
{
	struct bl_req *q = *chk_state(run);

	if (q->pr != NULL && chk_proc(run) != q->pr) {
		memset(q->st, 0, sizeof(q->st));
		q->pr = NULL;
	}
	return q;
}

/* settle - after each answer: done, certain, or wait */
static void
settle(struct chk_run *run, struct bl_req *q)
{
	if (q->reported)
		return;
	if (q->pending == 0)
		finish(run, q, false);
	else if (certain(run, q))
		finish(run, q, true);
}

/* note_trouble - a list that did not answer; skipped after a few */
static void
note_trouble(struct bl_req *q, struct bl_item *it, const char *why)
{
	struct bl_state *s = q->st[it->list];
	const struct bl_list *l = &q->set->lists[it->list];

	it->trouble = true;
	q->failed = true;
	buf_printf(q->skipped, sizeof(q->skipped), &q->so,
	    "%s%s: no answer (%s)", q->so ? "; " : "", l->name, why);
	if (s == NULL)
		return;
	s->errors++;
	if (++s->fails >= q->set->failures && s->st != BL_BACKOFF) {
		char w[160];

		s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2
					      : q->set->backoff_ms;
		if (s->backoff_ms > 30 * 60 * 1000)
			s->backoff_ms = 30 * 60 * 1000;
		s->backoff_until_ms = uv_now(s->pr->loop) + s->backoff_ms;
		snprintf(w, sizeof(w), "%u lookups in a row failed (%s); "
		    "asked again in %" PRIu64 "s", s->fails, why,
		    s->backoff_ms / 1000);
		set_state(s, BL_BACKOFF, w);
	}
}

/* note_unusable - an error code or a bogus answer from the list */
static void
note_unusable(struct bl_req *q, struct bl_item *it, const char *why)
{
	struct bl_state *s = q->st[it->list];

	it->err = why;
	if (s == NULL)
		return;
	s->errors++;
	set_state(s, BL_UNUSABLE, why);
	/* The self-test looks again within a minute; without self-tests a
	 * request does after the back-off (usable()). */
	s->next_test_ms = uv_now(s->pr->loop) + (s->self_test &&
	    s->set->test_every_ms > 0 ? 60000 : s->set->backoff_ms);
}

static void
txt_answer(struct chk_run *run, const struct dns_answer *a, void *arg)
{
	struct bl_req *q = req_of(run);
	struct bl_item *it = arg;

	it->txt_pending = false;
	q->pending--;
	if (a->status == DNS_OK && a->n > 0)
		it->txt = safe_txt(chk_arena(run), a->rr[0].text, a->rr[0].len);
	settle(run, q);
}

/* item_answer - judge each A record of an answer on its own */
static void
item_answer(struct chk_run *run, const struct dns_answer *a, void *arg)
{
	struct bl_req *q = req_of(run);
	struct bl_item *it = arg;
	const struct bl_list *l = &q->set->lists[it->list];
	struct bl_state *s = q->st[it->list];
	bool first = true;
	size_t i;

	it->done = true;
	q->pending--;
	if (a->status == DNS_TEMPFAIL || a->status == DNS_BAD) {
		note_trouble(q, it, a->why ? a->why
					   : dns_status_name(a->status));
		settle(run, q);
		return;
	}
	if (s != NULL) {
		s->fails = 0;
		if (s->st == BL_UNTESTED && s->backoff_ms > 0)
			s->backoff_ms = 0;
	}
	for (i = 0; a->status == DNS_OK && i < a->n; i++) {
		const uint8_t *ip = a->rr[i].addr.a;
		const char *err;
		char w[240];
		unsigned f;
		bool hit = false;

		if (a->rr[i].addr.family != AF_INET)
			continue;
		if ((err = error_code(l, ip, false)) != NULL || ip[0] != 127) {
			snprintf(w, sizeof(w), "it answers %u.%u.%u.%u: %s",
			    ip[0], ip[1], ip[2], ip[3], err ? err
			    : "outside 127.0.0.0/8, a resolver that rewrites "
			      "NXDOMAIN");
			note_unusable(q, it, arena_strdup(chk_arena(run), w));
			/* Nothing of this answer lists or allowlists. */
			it->matched = 0;
			it->any = false;
			break;
		}
		if (l->nfilters == 0) {
			hit = true;
			it->any = true;
		}
		for (f = 0; f < l->nfilters; f++) {
			if (filter_match(&l->filters[f], ip)) {
				it->matched |= 1u << f;
				hit = true;
			}
		}
		if (hit && first) {
			memcpy(it->code, ip, 4);
			first = false;
		}
	}
	if (it->err != NULL)
		buf_printf(q->skipped, sizeof(q->skipped), &q->so, "%s%s: %s",
		    q->so ? "; " : "", l->name, it->err);
	if (item_listed(l, it) && s != NULL)
		s->hits++;
	if (item_listed(l, it) && l->txt && item_weight(l, it) >= 0) {
		char name[DNS_MAX_NAME + 2];

		snprintf(name, sizeof(name), "%s", a->name);
		if (chk_query(run, name, DNS_T_TXT, txt_answer, it, NULL) ==
		    0) {
			it->txt_pending = true;
			q->pending++;
		}
	}
	settle(run, q);
}

/* skip - a list not asked, for the log */
static void
skip(struct bl_req *q, const struct bl_list *l, const char *why)
{
	buf_printf(q->skipped, sizeof(q->skipped), &q->so,
	    "%s%s: skipped (%s)", q->so ? "; " : "", l->name, why);
}

/* usable - the list may be asked now */
static bool
usable(struct bl_req *q, unsigned li)
{
	struct bl_state *s = q->st[li];

	if (s == NULL)
		return true;
	switch (s->st) {
	case BL_DISABLED:
		skip(q, &q->set->lists[li], "disabled: failed its self-test");
		break;
	case BL_UNUSABLE: {
		/* The meaning was logged at the change; here its code. */
		if ((!s->self_test || q->set->test_every_ms == 0) &&
		    uv_now(s->pr->loop) >= s->next_test_ms) {
			set_state(s, BL_UNTESTED, "asked again after its "
			    "back-off");
			return true;
		}
		char w[80];
		const char *colon = strchr(s->why, ':');

		snprintf(w, sizeof(w), "unusable: %.*s", colon
		    ? (int)(colon - s->why) : 40, s->why);
		skip(q, &q->set->lists[li], w);
		break;
	}
	case BL_BACKOFF:
		if (uv_now(s->pr->loop) >= s->backoff_until_ms) {
			/* Over: this request asks again. */
			set_state(s, BL_UNTESTED, "its back-off is over");
			return true;
		}
		skip(q, &q->set->lists[li], "backing off after failures");
		break;
	default:
		return true;
	}
	s->skipped++;
	return false;
}

/* add_item - one question about value (NULL: none) for list li */
static void
add_item(struct chk_run *run, struct bl_req *q, unsigned li,
    const char *subject, const char *value, const char *qname)
{
	struct bl_item *it;
	unsigned i;

	if (value == NULL || q->nitems >= nitems(q->items) ||
	    strlen(qname) > DNS_MAX_NAME)
		return;
	for (i = 0; i < q->nitems; i++) /* the same name twice: once */
		if (q->items[i].list == li && strcmp(q->items[i].value,
		    value) == 0)
			return;
	it = &q->items[q->nitems];
	memset(it, 0, sizeof(*it));
	it->list = li;
	it->subject = arena_printf(chk_arena(run), "%s %s", subject, value);
	it->value = value;
	if (chk_query(run, qname, DNS_T_A, item_answer, it, NULL) < 0)
		return;
	q->nitems++;
	q->pending++;
	if (q->st[li] != NULL)
		q->st[li]->lookups++;
}

/* ip_name - the reversed address under zone; false: not for this list */
static bool
ip_name(const struct ipaddr *ip, const struct bl_list *l, char *buf,
    size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	int i;

	if (ip->family == AF_INET) {
		if (!l->v4)
			return false;
		snprintf(buf, size, "%u.%u.%u.%u.%s", ip->a[3], ip->a[2],
		    ip->a[1], ip->a[0], l->zone);
		return true;
	}
	if (!l->v6 || size < 64 + strlen(l->zone) + 1)
		return false;
	for (i = 15; i >= 0; i--) {
		buf[o++] = hex[ip->a[i] & 15];
		buf[o++] = '.';
		buf[o++] = hex[ip->a[i] >> 4];
		buf[o++] = '.';
	}
	snprintf(buf + o, size - o, "%s", l->zone);
	return true;
}

/* lower_name - a host name lower-cased, without a final dot, or NULL */
static const char *
lower_name(struct arena *a, const char *s)
{
	char *n;
	size_t i;

	if (s == NULL || !chk_is_fqdn(s))
		return NULL;
	n = arena_strdup(a, s);
	for (i = 0; n[i]; i++)
		n[i] = (char)tolower((unsigned char)n[i]);
	if (i > 0 && n[i - 1] == '.')
		n[i - 1] = '\0';
	return n;
}

/* domain_items - the names a domain list asks about */
static void
domain_items(struct chk_run *run, struct bl_req *q, unsigned li)
{
	const struct req *req = chk_req(run);
	const struct bl_list *l = &q->set->lists[li];
	struct arena *a = chk_arena(run);
	const char *src[3] = {
		req->sender.is_null ? NULL : lower_name(a, req->sender.domain),
		lower_name(a, req->helo),
		req->client_name ? lower_name(a, req->client_name) : NULL,
	};
	static const char *const what[3] = { "sender domain", "HELO name",
		"client name" };
	char name[DNS_MAX_NAME + 64];
	unsigned k;

	for (k = 0; k < 3; k++) {
		unsigned how = (l->names >> (2 * k)) & 3;
		const char *reg;

		if (how == 0 || src[k] == NULL)
			continue;
		reg = dyn_registered_domain(src[k]);
		if ((how & 1) && reg != NULL) {
			snprintf(name, sizeof(name), "%s.%s", reg, l->zone);
			add_item(
			    run, q, li, what[k], arena_strdup(a, reg), name);
		}
		if (how & 2) {
			snprintf(name, sizeof(name), "%s.%s", src[k], l->zone);
			add_item(run, q, li, what[k], src[k], name);
		}
	}
}

static void
dnsbl_start(struct chk_run *run)
{
	const struct dnsbl_conf *c = chk_conf(run);
	const struct req *req = chk_req(run);
	struct bl_proc *pr = chk_proc(run);
	unsigned bit = chk_state_bit(req->protocol_state), li;
	struct bl_req *q;

	if (from_memo(run, c->set))
		return;
	q = arena_alloc(chk_arena(run), sizeof(*q));
	memset(q, 0, sizeof(*q));
	q->set = c->set;
	q->pr = pr;
	*chk_state(run) = q;
	for (li = 0; li < c->set->n; li++) {
		const struct bl_list *l = &c->set->lists[li];
		char name[DNS_MAX_NAME + 80];

		if (!l->enabled || (l->states != 0 && !(l->states & bit)))
			continue;
		q->st[li] = pr ? state_of(pr, c->set, li) : NULL;
		if (!usable(q, li))
			continue;
		if (!l->domain) {
			if (req->has_client_ip && ip_name(&req->client_ip, l,
			    name, sizeof(name)))
				add_item(run, q, li, "client", req->client_addr,
				    name);
			continue;
		}
		domain_items(run, q, li);
	}
	settle(run, q);
}

const struct chk_ops chk_dnsbl_ops = {
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
	.options = dnsbl_options,
	.conf_size = sizeof(struct dnsbl_conf),
	.conf_init = dnsbl_conf_init,
	.conf_copy = dnsbl_conf_copy,
	.conf_free = dnsbl_conf_free,
	.setup = dnsbl_setup,
	.init = dnsbl_init,
	.deinit = dnsbl_deinit,
	.configure = dnsbl_configure,
	.start = dnsbl_start,
};
