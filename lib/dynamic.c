/*
 * dynamic - dial-in and dynamic pool names, by patterns and heuristics.
 */
#include "dynamic.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <libpsl.h>

#include "addr.h"
#include "xalloc.h"

struct dyn_pattern {
	regex_t re;
	bool exempt;
	char *text;
	int line;
};

struct dyn_patterns {
	struct dyn_pattern *v;
	size_t n;
};

/* Labels that name a pool; matched as whole tokens. */
static const char *const keywords[] = { "dyn", "dynamic", "dynip", "dial",
	"dialup", "dialin", "dsl", "adsl", "vdsl", "xdsl", "sdsl", "ppp",
	"pppoe", "pool", "pools", "cable", "dhcp", "broadband", "client",
	"clients", "cust", "customer", "dip", "dialpool", "res", "resident",
	"residential", "fios", "cpe", "modem", "wifi", "wlan", "mobile",
	"hsd", "dynamicip", "home", "user", "users", "ftth", "fttx", "gprs",
	"lte", "umts", "bredband", "catv", "nat", "dsldevice", "unassigned",
	"ipv4pool", "ipv6pool", NULL };

/* First labels of mail servers: such a name is exempt. */
static const char *const mailish[] = { "mail", "mx", "smtp", "out",
	"outbound", "relay", "mta", "mailer", "mailout", "mailhost", "postfix",
	"exchange", "mailgw", "mailgate", "smtpout", "mxout", "mailrelay",
	NULL };

/*
 * dyn_registered_domain - the label before the longest public suffix of
 * the list's ICANN section (libpsl, newest list on the system first).
 * Not psl_registrable_domain(): the PRIVATE section makes cloud zones
 * such as eu-central-1.compute.amazonaws.com suffixes, and then a whole
 * host name would count as the registered domain.
 */
static const char *
registered_domain(const char *name)
{
	static const psl_ctx_t *psl;
	const char *prev = NULL, *p = name;

	if (psl == NULL) {
		psl = psl_latest(NULL);
		if (psl == NULL)
			psl = psl_builtin();
	}
	if (psl == NULL || *name == '\0')
		return NULL;
	for (;;) {
		if (psl_is_public_suffix2(psl, p, PSL_TYPE_ICANN))
			return prev;
		prev = p;
		if ((p = strchr(p, '.')) == NULL)
			return NULL;
		p++;
	}
}

/*
 * A small cache of answers by whole name: the same servers come back
 * (and a server's PTR name is often its HELO), and one libpsl lookup per
 * label costs some 2,000 instructions. Direct-mapped; the process is
 * single-threaded. The answer is kept as an offset into the name.
 */
#define REG_CACHE 256
#define DYN_NAME_MAX 253 /* longest domain name */
static struct {
	char name[DYN_NAME_MAX + 1]; /* "" empty */
	int off;                     /* -1: no registered domain */
} reg_cache[REG_CACHE];

const char *
dyn_registered_domain(const char *name)
{
	size_t len = strlen(name), slot;
	uint32_t h = 2166136261u;
	const char *r;
	size_t i;

	if (len == 0 || len > DYN_NAME_MAX)
		return registered_domain(name);
	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 16777619u;
	slot = h % REG_CACHE;
	if (strcmp(reg_cache[slot].name, name) == 0)
		return reg_cache[slot].off < 0 ? NULL
					       : name + reg_cache[slot].off;
	r = registered_domain(name);
	memcpy(reg_cache[slot].name, name, len + 1);
	reg_cache[slot].off = r ? (int)(r - name) : -1;
	return r;
}

/* dyn_patterns_load - one regex a line, '#' comments, '!' exemptions */
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
		bool exempt = false;
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

/* in_list - s is one of list */
static bool
in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* mail_like - a first label such as mail, mx2, smtp-out, relay01 */
static bool
mail_like(const char *label)
{
	char word[64];
	size_t i = 0;

	while (label[i] && i + 1 < sizeof(word) && isalpha((unsigned char)label[i]))
		word[i] = label[i], i++;
	word[i] = '\0';
	if (in_list(word, mailish))
		return true;
	/* smtp-out, mail-out, mx-in: a mail word before a dash */
	return strncmp(label, "smtp-", 5) == 0 ||
	    strncmp(label, "mail-", 5) == 0 || strncmp(label, "mx-", 3) == 0;
}

/*
 * tokens - split host into alphanumeric runs, and those at letter/digit
 * boundaries ("host86" -> "host", "86"). At most max tokens.
 */
static size_t
tokens(const char *host, char tok[][64], size_t max)
{
	size_t n = 0, i = 0;

	while (host[i] && n < max) {
		size_t l = 0;
		bool digit;

		while (host[i] && !isalnum((unsigned char)host[i]))
			i++;
		if (!host[i])
			break;
		digit = isdigit((unsigned char)host[i]);
		while (host[i] && isalnum((unsigned char)host[i]) &&
		    (bool)isdigit((unsigned char)host[i]) == digit) {
			if (l < 63)
				tok[n][l++] = host[i];
			i++;
		}
		tok[n][l] = '\0';
		n++;
	}
	return n;
}

/* has_address_v4 - the client's IPv4 address is spelled in host */
static bool
has_address_v4(const char *host, const unsigned char *a, char *why,
    size_t whysize)
{
	char tok[64][64], buf[32];
	size_t n = tokens(host, tok, 64), i;
	bool seen[4] = { false, false, false, false };
	int count = 0;

	/* Hex (c0000207), zero-padded (192000002007), as one run. */
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
	for (i = 0; i < n; i++) {
		char *end;
		unsigned long v;
		int k;

		if (!isdigit((unsigned char)tok[i][0]) || strlen(tok[i]) > 3)
			continue;
		v = strtoul(tok[i], &end, 10);
		for (k = 0; k < 4; k++) {
			if (!seen[k] && v == a[k]) {
				seen[k] = true;
				count++;
				break;
			}
		}
	}
	/* Three of the four octets: dotted, dashed, reversed or padded. */
	if (count >= 3) {
		snprintf(why, whysize, "%d octets of the client address", count);
		return true;
	}
	return false;
}

/* has_address_v6 - four or more of the address's groups in host */
static bool
has_address_v6(const char *host, const unsigned char *a, char *why,
    size_t whysize)
{
	char tok[64][64];
	size_t n = tokens(host, tok, 64), i;
	bool seen[8] = { false };
	int count = 0, k;

	for (i = 0; i < n; i++) {
		unsigned long v;
		char *end;

		if (strlen(tok[i]) > 4)
			continue;
		v = strtoul(tok[i], &end, 16);
		if (*end != '\0')
			continue;
		for (k = 0; k < 8; k++) {
			unsigned g = (unsigned)a[2 * k] << 8 | a[2 * k + 1];

			if (!seen[k] && g != 0 && v == g) {
				seen[k] = true;
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

/* dyn_classify - patterns, then the heuristics */
int
dyn_classify(const char *name, const struct ipaddr *ip,
    const struct dyn_patterns *pats, char *why, size_t whysize)
{
	char lower[256], host[256], tok[64][64];
	const char *rd;
	size_t len, i, n;

	snprintf(why, whysize, "-");
	len = strlen(name);
	if (len == 0 || len >= sizeof(lower))
		return 0;
	for (i = 0; i <= len; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	if (len > 1 && lower[len - 1] == '.')
		lower[--len] = '\0';
	for (i = 0; pats != NULL && i < pats->n; i++) {
		if (regexec(&pats->v[i].re, lower, 0, NULL, 0) != 0)
			continue;
		if (pats->v[i].exempt)
			return 0;
		snprintf(why, whysize, "pattern %.80s", pats->v[i].text);
		return 1;
	}
	rd = dyn_registered_domain(lower);
	if (rd == NULL || strlen(rd) >= len)
		return 0; /* nothing left of the registered domain */
	snprintf(host, sizeof(host), "%.*s", (int)(len - strlen(rd) - 1),
	    lower);
	if (mail_like(host))
		return 0;
	n = tokens(host, tok, 64);
	if (ip != NULL) {
		bool is_static = false;

		for (i = 0; i < n; i++)
			is_static |= strcmp(tok[i], "static") == 0;
		if (!is_static && ip->family == AF_INET &&
		    has_address_v4(host, ip->a, why, whysize))
			return 1;
		if (!is_static && ip->family == AF_INET6 &&
		    has_address_v6(host, ip->a, why, whysize))
			return 1;
	}
	for (i = 0; i < n; i++) {
		if (in_list(tok[i], keywords)) {
			snprintf(why, whysize, "keyword \"%s\"", tok[i]);
			return 1;
		}
	}
	return 0;
}
