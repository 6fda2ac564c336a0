/*
 * spf_parse - SPF records (RFC 7208 section 4.6 and 12) and macro
 * expansion (section 7). Pure: no DNS; the evaluator uses these.
 */
#include "spf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "arena.h"
#include "xalloc.h"

/* spf_result_name - the words of Received-SPF */
const char *
spf_result_name(enum spf_result r)
{
	static const char *const names[] = { "none", "neutral", "pass",
		"fail", "softfail", "temperror", "permerror" };

	return (unsigned)r < 7 ? names[r] : "?";
}

/* spf_is_record - "v=spf1" then end or a space */
bool
spf_is_record(const char *txt, size_t len)
{
	return len >= 6 && strncasecmp(txt, "v=spf1", 6) == 0 &&
	    (len == 6 || txt[6] == ' ');
}

static bool
is_delim(char c)
{
	return c != '\0' && strchr(".-+,/_=", c) != NULL;
}

/*
 * macro_syntax - check a macro-string of n bytes; exp allows c, r, t.
 * Returns 0 or -1 with why.
 */
static int
macro_syntax(const char *s, size_t n, bool exp, struct why *why)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];

		if (c != '%') {
			/* macro-literal: visible characters (and blanks in
			 * an explanation) */
			if (c < 0x21 || c > 0x7e) {
				if (!(exp && c == ' ')) {
					why_set(why, "character 0x%02x is not "
						     "allowed", c);
					return -1;
				}
			}
			i++;
			continue;
		}
		if (i + 1 >= n) {
			why_set(why, "'%%' at the end");
			return -1;
		}
		c = (unsigned char)s[i + 1];
		if (c == '%' || c == '_' || c == '-') {
			i += 2;
			continue;
		}
		if (c != '{') {
			why_set(why, "\"%%%c\" is not a macro", c);
			return -1;
		}
		i += 2;
		if (i >= n || !strchr("slodiphvcrtSLODIPHVCRT", s[i]) ||
		    s[i] == '\0') {
			why_set(why, "unknown macro letter");
			return -1;
		}
		if (!exp && strchr("crtCRT", s[i])) {
			why_set(why, "macro %%{%c} is only for explanations",
			    s[i]);
			return -1;
		}
		i++;
		while (i < n && isdigit((unsigned char)s[i]))
			i++;
		if (i < n && (s[i] == 'r' || s[i] == 'R'))
			i++;
		while (i < n && is_delim(s[i]))
			i++;
		if (i >= n || s[i] != '}') {
			why_set(why, "macro not closed with '}'");
			return -1;
		}
		i++;
	}
	return 0;
}

/* toplabel_ok - RFC 7208 toplabel: letters/digits/hyphens, not all digits */
static bool
toplabel_ok(const char *s, size_t n)
{
	size_t i;
	bool alpha = false;

	if (n == 0 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++) {
		if (isalpha((unsigned char)s[i]))
			alpha = true;
		else if (!isdigit((unsigned char)s[i]) && s[i] != '-')
			return false;
	}
	/* ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" ... alphanum ) */
	return alpha || memchr(s, '-', n) != NULL;
}

/* domain_spec_ok - macro-string domain-end */
static int
domain_spec_ok(const char *s, size_t n, struct why *why)
{
	const char *dot;
	size_t end = n;

	if (n == 0) {
		why_set(why, "empty domain");
		return -1;
	}
	if (macro_syntax(s, n, false, why) < 0)
		return -1;
	if (s[n - 1] == '}') /* ends in a macro-expand */
		return 0;
	if (s[end - 1] == '.')
		end--;
	for (dot = s + end; dot > s && dot[-1] != '.'; dot--)
		;
	if (dot == s || !toplabel_ok(dot, (size_t)(s + end - dot))) {
		why_set(why, "\"%.*s\" does not end in a valid top-level label",
		    (int)(n < 80 ? n : 80), s);
		return -1;
	}
	return 0;
}

/* cidr_len - "/N" with no leading zero, N <= max; -1 if not */
static int
cidr_len(const char *s, size_t n, int max)
{
	int v = 0;
	size_t i;

	if (n == 0 || n > 3 || (s[0] == '0' && n > 1))
		return -1;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/*
 * dual_cidr - "/a", "//b" or "/a//b" (all of s); sets c4, c6. 0 or -1.
 */
static int
dual_cidr(const char *s, size_t n, int *c4, int *c6)
{
	const char *dd;

	*c4 = *c6 = -1;
	if (n < 2 || s[0] != '/')
		return -1;
	if (s[1] == '/')
		return (*c6 = cidr_len(s + 2, n - 2, 128)) < 0 ? -1 : 0;
	dd = NULL;
	{
		size_t i;

		for (i = 1; i + 1 < n; i++)
			if (s[i] == '/' && s[i + 1] == '/') {
				dd = s + i;
				break;
			}
	}
	if (dd == NULL)
		return (*c4 = cidr_len(s + 1, n - 1, 32)) < 0 ? -1 : 0;
	if ((*c4 = cidr_len(s + 1, (size_t)(dd - s - 1), 32)) < 0)
		return -1;
	return (*c6 = cidr_len(dd + 2, (size_t)(s + n - dd - 2), 128)) < 0
	    ? -1 : 0;
}

/* ip_net - ip4/ip6 network with an optional length; host bits allowed */
static int
ip_net(const char *s, size_t n, int family, struct cidr *out)
{
	char buf[ADDR_STRLEN + 1];
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	int len, max = family == AF_INET ? 32 : 128;
	struct ipaddr ip;

	if (alen == 0 || alen >= sizeof(buf))
		return -1;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	memset(&ip, 0, sizeof(ip));
	if (family == AF_INET) {
		if (strchr(buf, ':') || addr_parse(buf, &ip) < 0)
			return -1;
	} else {
		/* addr_parse maps ::ffff:a.b.c.d to IPv4; ip6 keeps it 6 */
		if (!strchr(buf, ':') ||
		    inet_pton(AF_INET6, buf, ip.a) != 1)
			return -1;
		ip.family = AF_INET6;
	}
	len = max;
	if (slash && (len = cidr_len(slash + 1, n - alen - 1, max)) < 0)
		return -1;
	addr_network(&ip, (unsigned)len, &out->addr);
	out->prefix = (unsigned)len;
	return 0;
}

/* name_len - a modifier name's length at s, 0 if none */
static size_t
name_len(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !isalpha((unsigned char)s[0]))
		return 0;
	for (i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			break;
	return i;
}

/* parse_term - one term */
static int
parse_term(struct arena *a, const char *s, size_t n, struct spf_record *rec,
    struct why *why)
{
	static const struct {
		const char *name;
		enum spf_mech mech;
	} mechs[] = { { "all", SPF_ALL }, { "include", SPF_INCLUDE },
		{ "a", SPF_A }, { "mx", SPF_MX }, { "ptr", SPF_PTR },
		{ "ip4", SPF_IP4 }, { "ip6", SPF_IP6 },
		{ "exists", SPF_EXISTS } };
	size_t nl = name_len(s, n), i, ml;
	struct spf_term t;
	const char *rest;
	size_t rn;

	if (nl > 0 && nl < n && s[nl] == '=') {
		/* A modifier. */
		const char *v = s + nl + 1;
		size_t vn = n - nl - 1;

		if (nl == 8 && strncasecmp(s, "redirect", 8) == 0) {
			if (rec->redirect) {
				why_set(why, "redirect= given twice");
				return -1;
			}
			if (domain_spec_ok(v, vn, why) < 0)
				return -1;
			rec->redirect = arena_strndup(a, v, vn);
			return 0;
		}
		if (nl == 3 && strncasecmp(s, "exp", 3) == 0) {
			if (rec->exp) {
				why_set(why, "exp= given twice");
				return -1;
			}
			if (domain_spec_ok(v, vn, why) < 0)
				return -1;
			rec->exp = arena_strndup(a, v, vn);
			return 0;
		}
		/* Unknown modifiers are ignored, but must parse. */
		return macro_syntax(v, vn, false, why);
	}
	memset(&t, 0, sizeof(t));
	t.qualifier = '+';
	t.cidr4 = t.cidr6 = -1;
	if (n > 0 && strchr("+-~?", s[0])) {
		t.qualifier = s[0];
		s++;
		n--;
	}
	for (i = 0; i < nitems(mechs); i++) {
		ml = strlen(mechs[i].name);
		if (n >= ml && strncasecmp(s, mechs[i].name, ml) == 0 &&
		    (n == ml || s[ml] == ':' || s[ml] == '/'))
			break;
	}
	if (i == nitems(mechs)) {
		why_set(why, "unknown mechanism \"%.*s\"", (int)(n < 40 ? n : 40),
		    s);
		return -1;
	}
	t.mech = mechs[i].mech;
	rest = s + ml;
	rn = n - ml;
	switch (t.mech) {
	case SPF_ALL:
		if (rn != 0)
			goto syntax;
		break;
	case SPF_INCLUDE:
	case SPF_EXISTS:
		if (rn < 2 || rest[0] != ':' ||
		    domain_spec_ok(rest + 1, rn - 1, why) < 0)
			goto syntax;
		t.domain = arena_strndup(a, rest + 1, rn - 1);
		break;
	case SPF_A:
	case SPF_MX:
	case SPF_PTR: {
		size_t dlen = rn, j;

		if (rn > 0 && rest[0] == '/') {
			if (t.mech == SPF_PTR ||
			    dual_cidr(rest, rn, &t.cidr4, &t.cidr6) < 0)
				goto syntax;
			break;
		}
		if (rn == 0)
			break;
		if (rest[0] != ':')
			goto syntax;
		/* The first '/' that starts a valid dual-cidr ends the
		 * domain-spec ('/' is also a macro-literal). */
		for (j = 1; j < rn && t.mech != SPF_PTR; j++) {
			int c4, c6;

			if (rest[j] == '/' &&
			    dual_cidr(rest + j, rn - j, &c4, &c6) == 0) {
				dlen = j;
				t.cidr4 = c4;
				t.cidr6 = c6;
				break;
			}
		}
		if (domain_spec_ok(rest + 1, dlen - 1, why) < 0)
			goto syntax;
		t.domain = arena_strndup(a, rest + 1, dlen - 1);
		break;
	}
	case SPF_IP4:
	case SPF_IP6:
		if (rn < 2 || rest[0] != ':' ||
		    ip_net(rest + 1, rn - 1, t.mech == SPF_IP4 ? AF_INET
							     : AF_INET6,
			&t.net) < 0) {
			why_set(why, "bad %s network \"%.*s\"",
			    t.mech == SPF_IP4 ? "ip4" : "ip6",
			    (int)(n < 60 ? n : 60), s);
			return -1;
		}
		break;
	}
	if (rec->nterms == SPF_MAX_TERMS) {
		why_set(why, "more than %d terms", SPF_MAX_TERMS);
		return -1;
	}
	rec->terms[rec->nterms++] = t;
	return 0;
syntax:
	/* Name the term, with the more precise reason a helper gave. */
	if (why != NULL) {
		char detail[WHY_MAX];

		snprintf(detail, sizeof(detail), "%s", why->text);
		why_set(why, "bad term \"%.*s\"%s%.200s",
		    (int)(n < 60 ? n : 60), s, detail[0] ? ": " : "", detail);
	}
	return -1;
}

/* spf_parse - the record after v=spf1 */
int
spf_parse(struct arena *a, const char *txt, struct spf_record *rec,
    struct why *why)
{
	size_t len = strlen(txt), i;

	memset(rec, 0, sizeof(*rec));
	if (!spf_is_record(txt, len)) {
		why_set(why, "not an SPF record");
		return -1;
	}
	rec->terms = arena_alloc(a, SPF_MAX_TERMS * sizeof(*rec->terms));
	i = 6;
	while (i < len) {
		size_t start;

		if (txt[i] == ' ') {
			i++;
			continue;
		}
		start = i;
		while (i < len && txt[i] != ' ')
			i++;
		if (why != NULL)
			why->text[0] = '\0';
		if (parse_term(a, txt + start, i - start, rec, why) < 0)
			return -1;
	}
	return 0;
}

/* append - bounded copy into out */
static int
append(char *out, size_t size, size_t *o, const char *s, size_t n)
{
	if (*o + n >= size)
		return -1;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
	return 0;
}

/* macro_value - the raw value of a macro letter (lower-case letter) */
static const char *
macro_value(char letter, const struct spf_macro_ctx *c, char *buf,
    size_t size)
{
	const char *at;

	switch (letter) {
	case 's':
		return c->sender ? c->sender : "";
	case 'l':
		at = c->sender ? strrchr(c->sender, '@') : NULL;
		if (at == NULL)
			return "postmaster";
		snprintf(buf, size, "%.*s", (int)(at - c->sender), c->sender);
		return buf[0] ? buf : "postmaster";
	case 'o':
		at = c->sender ? strrchr(c->sender, '@') : NULL;
		return at ? at + 1 : (c->sender ? c->sender : "");
	case 'd':
		return c->domain ? c->domain : "";
	case 'h':
		return c->helo ? c->helo : "";
	case 'p':
		return c->ptr ? c->ptr : "unknown";
	case 'r':
		return c->receiver ? c->receiver : "unknown";
	case 't':
		snprintf(buf, size, "%lld", (long long)c->now);
		return buf;
	case 'v':
		return c->ip && c->ip->family == AF_INET6 ? "ip6" : "in-addr";
	case 'c':
		if (c->ip == NULL)
			return "";
		return addr_format(c->ip, buf, size);
	case 'i':
		if (c->ip == NULL)
			return "";
		if (c->ip->family == AF_INET)
			return addr_format(c->ip, buf, size);
		{
			static const char hex[] = "0123456789abcdef";
			size_t o = 0;
			int k;

			for (k = 0; k < 16 && o + 4 < size; k++) {
				buf[o++] = hex[c->ip->a[k] >> 4];
				buf[o++] = '.';
				buf[o++] = hex[c->ip->a[k] & 15];
				buf[o++] = '.';
			}
			buf[o ? o - 1 : 0] = '\0';
			return buf;
		}
	}
	return "";
}

/* url_escape - RFC 3986: unreserved characters stay */
static int
url_escape(const char *s, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || strchr("-._~", c)) {
			if (o + 1 >= size)
				return -1;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= size)
				return -1;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

/* transform - split on delimiters, reverse, keep the rightmost n */
static int
transform(const char *value, const char *delims, size_t ndelims,
    unsigned keep, bool reverse, char *out, size_t size)
{
	const char *parts[128];
	size_t plen[128], np = 0, i, o = 0, first;
	const char *p = value, *start = value;

	for (;; p++) {
		bool end = *p == '\0';
		bool d = !end && (ndelims ? memchr(delims, *p, ndelims) != NULL
					  : *p == '.');

		if (end || d) {
			if (np == 128)
				return -1;
			parts[np] = start;
			plen[np] = (size_t)(p - start);
			np++;
			start = p + 1;
		}
		if (end)
			break;
	}
	if (reverse) {
		for (i = 0; i < np / 2; i++) {
			const char *tp = parts[i];
			size_t tl = plen[i];

			parts[i] = parts[np - 1 - i];
			plen[i] = plen[np - 1 - i];
			parts[np - 1 - i] = tp;
			plen[np - 1 - i] = tl;
		}
	}
	first = keep > 0 && keep < np ? np - keep : 0;
	out[0] = '\0';
	for (i = first; i < np; i++) {
		if (i > first && append(out, size, &o, ".", 1) < 0)
			return -1;
		if (append(out, size, &o, parts[i], plen[i]) < 0)
			return -1;
	}
	return 0;
}

/* spf_expand - section 7 */
int
spf_expand(const char *ms, const struct spf_macro_ctx *ctx, bool exp,
    char *out, size_t size, struct why *why)
{
	size_t n = strlen(ms), i = 0, o = 0;

	if (size == 0)
		return -1;
	out[0] = '\0';
	if (macro_syntax(ms, n, exp, why) < 0)
		return -1;
	while (i < n) {
		char buf[256], val[SPF_MAX_EXPAND], esc[SPF_MAX_EXPAND * 3];
		const char *raw, *delims;
		unsigned keep = 0;
		bool reverse = false, upper;
		size_t nd;
		char letter;

		if (ms[i] != '%') {
			if (append(out, size, &o, ms + i, 1) < 0)
				goto toolong;
			i++;
			continue;
		}
		if (ms[i + 1] == '%' || ms[i + 1] == '_' || ms[i + 1] == '-') {
			const char *lit = ms[i + 1] == '%' ? "%"
			    : ms[i + 1] == '_' ? " " : "%20";

			if (append(out, size, &o, lit, strlen(lit)) < 0)
				goto toolong;
			i += 2;
			continue;
		}
		/* %{ letter digits [r] delimiters } */
		i += 2;
		letter = ms[i++];
		upper = isupper((unsigned char)letter);
		letter = (char)tolower((unsigned char)letter);
		if (isdigit((unsigned char)ms[i])) {
			unsigned long v = strtoul(ms + i, NULL, 10);

			while (isdigit((unsigned char)ms[i]))
				i++;
			if (v == 0) {
				why_set(why, "macro transformer 0 is not "
					     "allowed");
				return -1;
			}
			keep = v > 128 ? 128 : (unsigned)v;
		}
		if (ms[i] == 'r' || ms[i] == 'R') {
			reverse = true;
			i++;
		}
		delims = ms + i;
		while (is_delim(ms[i]))
			i++;
		nd = (size_t)(ms + i - delims);
		i++; /* '}' */
		raw = macro_value(letter, ctx, buf, sizeof(buf));
		if (transform(raw, delims, nd, keep, reverse, val,
		    sizeof(val)) < 0)
			goto toolong;
		if (upper) {
			if (url_escape(val, esc, sizeof(esc)) < 0)
				goto toolong;
			raw = esc;
		} else {
			raw = val;
		}
		if (append(out, size, &o, raw, strlen(raw)) < 0)
			goto toolong;
	}
	if (!exp) {
		/* Section 7.3: shorten from the left to 253 octets. */
		char *p = out;

		if (o > 0 && out[o - 1] == '.')
			out[--o] = '\0';
		while (strlen(p) > 253) {
			char *dot = strchr(p, '.');

			if (dot == NULL)
				break;
			p = dot + 1;
		}
		if (p != out)
			memmove(out, p, strlen(p) + 1);
	}
	return 0;
toolong:
	why_set(why, "macro expansion longer than %zu bytes", size - 1);
	return -1;
}
