/*
 * dynamic - dial-in and dynamic pool names, by patterns and heuristics.
 */
#include "dynamic.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <libpsl.h>

#include "addr.h"
#include "log.h"
#include "xalloc.h"

struct dyn_pattern {
	regex_t re;
	bool exempt;     /* '!': the names it matches are no pool */
	bool force;      /* '+': a pool whatever the exemptions say */
	char *text;
	int line;
};

struct dyn_patterns {
	struct dyn_pattern *v;
	size_t n;
};

/* Words of pool names; matched as whole words. */
static const char *const pool_words[] = { "dyn", "dynamic", "dynip",
	"dial", "dialup", "dialin", "dsl", "adsl", "vdsl", "xdsl", "sdsl",
	"ppp", "pppoe", "pppoa", "pool", "pools", "cable", "dhcp",
	"broadband", "client", "clients", "cust", "customer", "dip",
	"dialpool", "res", "resident", "residential", "fios", "cpe", "modem",
	"wifi", "wlan", "wireless", "mobile", "hsd", "hsi", "dynamicip",
	"home", "user", "users", "ftth", "fttx", "fttb", "gprs", "lte",
	"umts", "apn", "bredband", "catv", "nat", "dsldevice", "unassigned",
	"ipv4pool", "ipv6pool", "abo", "subs", "subscriber", "bb", NULL };

/*
 * Customer-line codes of cable and fibre providers: evidence when digits
 * follow (cm12, cpc123456, pcp0123456pcs, bgp01234567bgs, fls-2). The
 * pool words count with or without digits (hsd1, cust789, bb121).
 */
static const char *const line_codes[] = { "cm", "cpc", "pcp", "bgp",
	"fls", "sub", NULL };

/* Words of mail servers, in any label: the name is no pool. */
static const char *const mail_words[] = { "mail", "mails", "email", "mx",
	"smtp", "smtpout", "out", "outbound", "outgoing", "relay", "mta",
	"mailer", "mailout", "mailhost", "postfix", "exchange", "mailgw",
	"mailgate", "mxout", "mailrelay", "mout", "esa", "bounce", "bounces",
	"newsletter", "lists", NULL };

/* Words of static lines and servers, in any label: the name is no pool. */
static const char *const static_words[] = { "static", "sta", "stat",
	"fixed", "fix", "ded", "dedi", "dedicated", "leased", "biz",
	"business", "corp", "corporate", "server", "servers", "srv", "serv",
	"colo", "colocation", "hosting", "hosted", "hostedby", "webhosting",
	"vps", "vds", "ns", "dns", "www", "web", NULL };

/* psl - the public suffix list: the system's file, else the built-in */
static const psl_ctx_t *
psl(void)
{
	static const psl_ctx_t *ctx;

	if (ctx == NULL) {
		ctx = psl_latest(NULL);
		if (ctx == NULL)
			ctx = psl_builtin();
	}
	return ctx;
}

/*
 * A cache of answers by whole name: the same servers come back (and a
 * server's PTR name is often its HELO), and one libpsl lookup per label
 * costs some 2,000 instructions. Four ways a set, the one used longest
 * ago replaced (direct-mapped, or two ways, a third or a quarter of a
 * thousand names cycling shared a set with more than it holds and went
 * on missing; about 1 MiB); the process is single-threaded. The
 * answer is kept as an offset into the name. A miss asks libpsl about
 * the name alone, and takes its parent's answer from the cache
 * (mail17.example.net asks about itself, then finds example.net's): the
 * servers of one provider share their parent.
 */
#define REG_SETS 1024
#define REG_WAYS 4
#define DYN_NAME_MAX 253 /* longest domain name */
static struct {
	struct {
		char name[DYN_NAME_MAX + 1];
		int off;       /* of the answer in name; -1: none */
		uint32_t used; /* reg_tick when last asked */
	} way[REG_WAYS];
} reg_cache[REG_SETS];
static uint32_t reg_tick;

/*
 * dyn_registered_domain - the label before the longest public suffix of
 * the list's ICANN section (libpsl, newest list on the system first).
 * Not psl_registrable_domain(): the PRIVATE section makes cloud zones
 * such as eu-central-1.compute.amazonaws.com suffixes, and then a whole
 * host name would count as the registered domain.
 */
const char *
dyn_registered_domain(const char *name)
{
	const psl_ctx_t *ctx = psl();
	size_t len = strlen(name), set = 0, i;
	const char *r, *parent;
	uint32_t h = 2166136261u;
	bool cache = len > 0 && len <= DYN_NAME_MAX;
	int w;

	if (cache) {
		for (i = 0; i < len; i++)
			h = (h ^ (unsigned char)name[i]) * 16777619u;
		set = h % REG_SETS;
		for (w = 0; w < REG_WAYS; w++)
			if (strcmp(reg_cache[set].way[w].name, name) == 0) {
				int off = reg_cache[set].way[w].off;

				reg_cache[set].way[w].used = ++reg_tick;
				return off < 0 ? NULL : name + off;
			}
	}
	/* A public suffix has none; below one, the name is it; else its
	 * parent's. */
	if (ctx == NULL || *name == '\0' ||
	    psl_is_public_suffix2(ctx, name, PSL_TYPE_ICANN))
		r = NULL;
	else if ((parent = strchr(name, '.')) == NULL || parent[1] == '\0')
		r = NULL;
	else if (psl_is_public_suffix2(ctx, parent + 1, PSL_TYPE_ICANN))
		r = name;
	else
		r = dyn_registered_domain(parent + 1);
	if (cache) {
		int old = 0;

		/* the way asked longest ago (ticks that wrapped only make
		 * one choice worse, never a wrong answer) */
		for (w = 1; w < REG_WAYS; w++)
			if (reg_cache[set].way[w].used <
			    reg_cache[set].way[old].used)
				old = w;
		memcpy(reg_cache[set].way[old].name, name, len + 1);
		reg_cache[set].way[old].off = r ? (int)(r - name) : -1;
		reg_cache[set].way[old].used = ++reg_tick;
	}
	return r;
}

/*
 * dyn_patterns_load - one regex a line, '#' comments, '!' exemptions, '+'
 * pools that override the exemptions
 */
struct dyn_patterns *
dyn_patterns_load(const char *path, struct why *why)
{
	struct dyn_patterns *p;
	char line[DYN_MAX_LINE + 2];
	FILE *fp;
	int lineno = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		int err = errno;

		why_set(why, "%s: cannot open: %s", path, strerror(err));
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *s = line, *e;
		struct dyn_pattern *d;
		bool exempt = false, force = false;
		int rc;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			why_set(why, "%s:%d: line longer than %d bytes", path,
			    lineno, DYN_MAX_LINE);
			goto bad;
		}
		while (isspace((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*s == '\0' || *s == '#')
			continue;
		if (*s == '!') {
			exempt = true;
			s++;
		} else if (*s == '+') {
			force = true;
			s++;
		}
		if (p->n == DYN_MAX_PATTERNS) {
			why_set(why, "%s:%d: more than %d patterns", path,
			    lineno, DYN_MAX_PATTERNS);
			goto bad;
		}
		p->v = xreallocarray(p->v, p->n + 1, sizeof(*p->v));
		d = &p->v[p->n];
		if ((rc = regcomp(&d->re, s, REG_EXTENDED | REG_ICASE |
		    REG_NOSUB)) != 0) {
			char err[128];

			regerror(rc, &d->re, err, sizeof(err));
			why_set(why, "%s:%d: bad pattern \"%.60s\": %s", path,
			    lineno, s, err);
			goto bad;
		}
		d->exempt = exempt;
		d->force = force;
		d->text = xstrdup(s);
		d->line = lineno;
		p->n++;
	}
	fclose(fp);
	return p;
bad:
	fclose(fp);
	dyn_patterns_free(p);
	return NULL;
}

void
dyn_patterns_free(struct dyn_patterns *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++) {
		regfree(&p->v[i].re);
		free(p->v[i].text);
	}
	free(p->v);
	free(p);
}

/*
 * The words, in one table sorted once: a word's kind is one binary
 * search per token, not a scan of four lists (the classifier runs for
 * the PTR name and the HELO of every request).
 */
enum { W_MAIL = 1, W_STATIC = 2, W_POOL = 4, W_CODE = 8 };
struct word {
	const char *w;
	unsigned kind;
};
static struct word words[256];
static size_t nwords;

static int
word_cmp(const void *a, const void *b)
{
	return strcmp(((const struct word *)a)->w, ((const struct word *)b)->w);
}

static void
words_init(void)
{
	static const struct {
		const char *const *list;
		unsigned kind;
	} lists[] = { { mail_words, W_MAIL }, { static_words, W_STATIC },
		{ pool_words, W_POOL }, { line_codes, W_CODE } };
	size_t i, j, k;

	for (i = 0; i < nitems(lists); i++) {
		for (j = 0; lists[i].list[j] != NULL; j++) {
			for (k = 0; k < nwords; k++)
				if (strcmp(words[k].w, lists[i].list[j]) == 0)
					break;
			if (k == nwords) {
				if (nwords == nitems(words))
					PD_PANIC("dynamic: too many words");
				words[nwords++].w = lists[i].list[j];
			}
			words[k].kind |= lists[i].kind;
		}
	}
	qsort(words, nwords, sizeof(words[0]), word_cmp);
}

/* kind - the W_* bits of a word (0: none of ours) */
static unsigned
kind(const char *s)
{
	struct word key = { s, 0 }, *w;

	if (nwords == 0)
		words_init();
	w = bsearch(&key, words, nwords, sizeof(words[0]), word_cmp);
	return w ? w->kind : 0;
}

#define DYN_TOKENS 64
#define DYN_TOKEN  64

/*
 * The words and numbers of a host part: alphanumeric runs split where
 * letters and digits meet ("host86" -> "host", "86"); for each, whether
 * digits follow it in its label, directly or after one dash ("cpc123",
 * "fls-2"). At most DYN_TOKENS.
 */
struct toks {
	char t[DYN_TOKENS][DYN_TOKEN];
	bool digits_after[DYN_TOKENS];
	size_t n;
};

static void
tokens(const char *host, struct toks *k)
{
	size_t i = 0;

	k->n = 0;
	while (host[i] && k->n < DYN_TOKENS) {
		size_t l = 0;
		bool digit;

		while (host[i] && !isalnum((unsigned char)host[i]))
			i++;
		if (!host[i])
			break;
		digit = isdigit((unsigned char)host[i]);
		while (host[i] && isalnum((unsigned char)host[i]) &&
		    (bool)isdigit((unsigned char)host[i]) == digit) {
			if (l < DYN_TOKEN - 1)
				k->t[k->n][l++] = host[i];
			i++;
		}
		k->t[k->n][l] = '\0';
		k->digits_after[k->n] = !digit &&
		    (isdigit((unsigned char)host[i]) || (host[i] == '-' &&
		    isdigit((unsigned char)host[i + 1])));
		k->n++;
	}
}

/* address_v4 - the client's IPv4 address spelled in host; how, in why */
static bool
address_v4(const char *host, const struct toks *k, const unsigned char *a,
    char *why, size_t whysize)
{
	char buf[32];
	bool seen[4] = { false, false, false, false };
	uint32_t num = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
	    (uint32_t)a[2] << 8 | a[3];
	int count = 0;
	size_t i;

	/* As one run: hex (p5dc3a4b2), zero-padded (126012034056). */
	snprintf(buf, sizeof(buf), "%02x%02x%02x%02x", a[0], a[1], a[2], a[3]);
	if (strstr(host, buf) != NULL) {
		snprintf(why, whysize, "the client address in hex");
		return true;
	}
	snprintf(buf, sizeof(buf), "%03u%03u%03u%03u", a[0], a[1], a[2], a[3]);
	if (strstr(host, buf) != NULL) {
		snprintf(why, whysize, "the client address, zero-padded");
		return true;
	}
	for (i = 0; i < k->n; i++) {
		const char *t = k->t[i];
		unsigned long v;
		int o;

		if (!isdigit((unsigned char)t[0]))
			continue;
		if (strlen(t) >= 8 && strlen(t) <= 10 &&
		    strtoul(t, NULL, 10) == num && num >= 16777216u) {
			snprintf(why, whysize, "the client address as a number");
			return true;
		}
		if (strlen(t) > 3)
			continue;
		v = strtoul(t, NULL, 10);
		for (o = 0; o < 4; o++) {
			if (!seen[o] && v == a[o]) {
				seen[o] = true;
				count++;
				break;
			}
		}
	}
	/* Three or four octets: dotted, dashed, reversed, padded, split. */
	if (count >= 3) {
		snprintf(why, whysize, "%d octets of the client address", count);
		return true;
	}
	return false;
}

/* address_v6 - four or more of the address's groups in host */
static bool
address_v6(const struct toks *k, const unsigned char *a, char *why,
    size_t whysize)
{
	bool seen[8] = { false };
	int count = 0, g;
	size_t i;

	for (i = 0; i < k->n; i++) {
		unsigned long v;
		char *end;

		if (strlen(k->t[i]) > 4)
			continue;
		v = strtoul(k->t[i], &end, 16);
		if (*end != '\0')
			continue;
		for (g = 0; g < 8; g++) {
			unsigned w = (unsigned)a[2 * g] << 8 | a[2 * g + 1];

			if (!seen[g] && w != 0 && v == w) {
				seen[g] = true;
				count++;
				break;
			}
		}
	}
	if (count >= 4) {
		snprintf(why, whysize, "%d groups of the client address", count);
		return true;
	}
	return false;
}

/* add - one more piece of evidence for the reason */
static void
add(struct dyn_verdict *v, const char *what, const char *arg, bool quote)
{
	size_t o = strlen(v->why);

	text_cat(v->why + o, sizeof(v->why) - o, o ? "; " : "", what,
	    arg[0] ? (quote ? " \"" : " ") : "", arg,
	    arg[0] && quote ? "\"" : "", NULL);
	v->signals++;
}

const char *
dyn_level_name(enum dyn_level l)
{
	return l == DYN_CERTAIN ? "certain" : l == DYN_LIKELY ? "likely" : "no";
}

enum dyn_level
dyn_level(const struct dyn_verdict *v, int signals)
{
	if (v->exempt)
		return DYN_NO;
	return signals >= 2 ? DYN_CERTAIN : signals == 1 ? DYN_LIKELY : DYN_NO;
}

/*
 * exemption - a static word of the host part, else a mail word, or NULL
 * (a static word outweighs more: it is looked for first)
 */
static const char *
exemption(const struct toks *k, const unsigned *kinds, const char **what)
{
	size_t i;

	for (i = 0; i < k->n; i++) {
		if (kinds[i] & W_STATIC) {
			*what = "static word";
			return k->t[i];
		}
	}
	for (i = 0; i < k->n; i++) {
		if (kinds[i] & W_MAIL) {
			*what = "mail word";
			return k->t[i];
		}
	}
	return NULL;
}

/* other_signs - a sign besides the address: a pool word, a line code */
static bool
other_signs(const struct toks *k, const unsigned *kinds)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if ((kinds[i] & W_POOL) || (k->digits_after[i] &&
		    (kinds[i] & W_CODE)))
			return true;
	return false;
}

void
dyn_judge(const char *name, const struct ipaddr *ip,
    const struct dyn_patterns *pats, struct dyn_verdict *v)
{
	char lower[256], host[256], addr_why[64];
	const struct dyn_pattern *hit = NULL;
	const char *rd, *word, *what, *first_word = NULL;
	unsigned kinds[DYN_TOKENS];
	struct toks k;
	size_t len, i;

	memset(v, 0, sizeof(*v));
	len = strlen(name);
	if (len == 0 || len >= sizeof(lower))
		return;
	for (i = 0; i <= len; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	if (len > 1 && lower[len - 1] == '.')
		lower[--len] = '\0';
	/* 1. The file: its first matching line. */
	for (i = 0; pats != NULL && i < pats->n; i++) {
		if (regexec(&pats->v[i].re, lower, 0, NULL, 0) == 0) {
			hit = &pats->v[i];
			break;
		}
	}
	if (hit != NULL && hit->exempt) {
		v->exempt = true;
		snprintf(v->why, sizeof(v->why), "exempt by pattern %.80s",
		    hit->text);
		return;
	}
	rd = dyn_registered_domain(lower);
	host[0] = '\0'; /* nothing left of the registered domain */
	if (rd != NULL && strlen(rd) < len) {
		size_t hl = len - strlen(rd) - 1;

		memcpy(host, lower, hl);
		host[hl] = '\0';
	}
	tokens(host, &k);
	for (i = 0; i < k.n; i++)
		kinds[i] = isdigit((unsigned char)k.t[i][0]) ? 0 : kind(k.t[i]);
	/*
	 * 2. The built-in exemptions, unless a '+' pattern overrides. A
	 * static word is the ISP's own statement about the line
	 * (static-dsl-198-51-100-23): it outweighs anything. A mail word
	 * outweighs one sign (mail-192-0-2-7.isp.example is a server that
	 * names its address), never two independent ones: in
	 * mx-ll-55.60.24-53.dynamic.tttmaxnet.com an ISP calls every pool
	 * address "mx-ll", and says "dynamic". With no sign but the address
	 * possible, the address is not even looked for (it is the costly
	 * one, and big senders' outbound names carry mail words).
	 */
	word = hit != NULL && hit->force ? NULL : exemption(&k, kinds, &what);
	if (word != NULL && (strcmp(what, "static word") == 0 ||
	    (hit == NULL && !other_signs(&k, kinds)))) {
		v->exempt = true;
		text_cat(v->why, sizeof(v->why), what, " \"", word, "\"", NULL);
		return;
	}
	/* 3. The evidence. */
	if (hit != NULL)
		add(v, "pattern", hit->text, false);
	if (host[0] == '\0') {
		v->level = dyn_level(v, v->signals);
		return;
	}
	if (ip != NULL && ((ip->family == AF_INET &&
	    address_v4(host, &k, ip->a, addr_why, sizeof(addr_why))) ||
	    (ip->family == AF_INET6 && address_v6(&k, ip->a, addr_why,
	    sizeof(addr_why)))))
		add(v, addr_why, "", false);
	for (i = 0; i < k.n; i++) {
		const char *t = k.t[i];

		if (kinds[i] & W_POOL) {
			/* A second, different pool word counts again. */
			if (first_word == NULL) {
				first_word = t;
				add(v, "keyword", t, true);
			} else if (strcmp(first_word, t) != 0 &&
			    v->signals < 3) {
				add(v, "keyword", t, true);
				first_word = "";
			}
			continue;
		}
		if (k.digits_after[i] && (kinds[i] & W_CODE))
			add(v, "customer-line code", t, true);
	}
	/* The mail word, against what was found. */
	if (word != NULL) {
		size_t o = strlen(v->why);

		if (v->signals < 2) {
			v->exempt = true;
			v->signals = 0;
			snprintf(v->why, sizeof(v->why), "%s \"%s\"", what,
			    word);
			return;
		}
		snprintf(v->why + o, sizeof(v->why) - o, "; %s \"%s\" does "
		    "not outweigh two signs", what, word);
	}
	v->level = dyn_level(v, v->signals);
}

/* dyn_classify - the old yes/no: likely or certain */
int
dyn_classify(const char *name, const struct ipaddr *ip,
    const struct dyn_patterns *pats, char *why, size_t whysize)
{
	struct dyn_verdict v;

	dyn_judge(name, ip, pats, &v);
	if (why != NULL && whysize > 0)
		snprintf(why, whysize, "%s", v.why[0] ? v.why : "-");
	return v.level != DYN_NO;
}
