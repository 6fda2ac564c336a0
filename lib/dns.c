/*
 * dns - asynchronous stub resolver on libuv and ldns.
 *
 * A question is a (name, type). dns_query() looks in the cache (a hit is
 * handed over by a zero timer, never from inside the call), then among the
 * questions in flight (a match just waits too), and otherwise starts a
 * lookup: tries over the servers in turn, each try with a new UDP socket
 * connected to the server (so the kernel drops datagrams from anyone
 * else) and a new random ID; TCP when the answer is truncated. A try that
 * times out, or gets SERVFAIL, REFUSED or a network error, moves on to the
 * next server; the lookup ends with the first real answer, or TEMPFAIL
 * when the tries or the overall limit run out, or BAD when only malformed
 * answers came. Then every waiter is called and the answer is cached.
 *
 * Lifetimes: a lookup owns its timers and sockets and is freed in the
 * close callback of the last of them; waiters (struct dns_query) are freed
 * right after their callback or at cancel. dns_close() cancels all and
 * frees the resolver when its last handle has closed.
 */
#include "dns.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <ldns/ldns.h>

#include "dns_int.h"
#include "xalloc.h"

struct dns_query {
	struct dns *dns;
	dns_done_fn *done;
	void *arg;
	struct lookup *lk;       /* waiting on a lookup, or NULL */
	struct dns__ans *ready;  /* a cached answer to hand over, or NULL */
	struct dns_query *prev, *next; /* in lk->waiters or dns->ready */
};

struct attempt;

struct lookup {
	struct dns *dns;
	struct lookup *hnext;    /* in dns->inflight */
	char *name;
	uint16_t type;
	uint32_t hash;
	struct dns_query *waiters;
	unsigned tries_done;     /* attempts started */
	unsigned tries_max;
	struct attempt *cur;
	struct lookup *wq_prev, *wq_next; /* waiting for a free slot */
	bool queued;
	uv_timer_t try_timer, limit_timer;
	unsigned handles;        /* open: timers (and the lookup itself) */
	bool finished;
	bool garbage;            /* a malformed answer came */
	bool theirs;             /* a try failed as the name may make it
				  * fail (a timeout, SERVFAIL) */
	char why[200];           /* the last trouble */
};

struct attempt {
	struct lookup *lk;       /* NULL once abandoned */
	const struct dns_server *srv;
	uint16_t id;
	uint8_t *q;              /* the query in wire form */
	size_t qlen;
	uv_udp_t udp;
	uv_tcp_t tcp;
	uv_connect_t conn;
	uv_write_t wr;
	uv_buf_t wbufs[2];
	uint8_t lenbuf[2];
	uint8_t *tbuf;           /* TCP answer so far */
	size_t tlen;
	unsigned handles;
	bool udp_open, tcp_open;
	struct dns *dns;
	bool counted;            /* holds one of dns->active */
};

struct dns {
	uv_loop_t *loop;
	struct dns_opts o;
	struct dns__cache *cache;
	struct lookup **inflight; /* hash table */
	size_t nbuckets;
	struct dns_query *ready;  /* cached answers to hand over */
	unsigned active;          /* attempts on the wire */
	struct lookup *wq_head, *wq_tail; /* lookups waiting for a slot */
	uv_timer_t ready_timer;
	unsigned handles;
	bool closing;
	struct dns_stats stats;
	/* Whether any nameserver answers (dns_down). */
	unsigned streak;          /* tries failed in a row, as a server's
				   * fault */
	uint64_t last_good;       /* uv_now() of the last answer */
	uint64_t down_since;
	uint8_t rbuf[65536];      /* UDP receive buffer */
};

static void lookup_next_try(struct lookup *lk);
static void lookup_finish(struct lookup *lk, struct dns__ans *a);

/* hash_name - FNV-1a of type and name */
static uint32_t
hash_name(const char *name, uint16_t type)
{
	uint32_t h = 2166136261u ^ type;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

/* dns_fail_name - for the metrics */
const char *
dns_fail_name(enum dns_fail f)
{
	static const char *const names[] = { "unreachable", "refused",
		"servfail", "timeout", "malformed", "other" };

	return (unsigned)f < DNS_FAIL_KINDS ? names[f] : "?";
}

/* server_answered - a nameserver answered: it is up */
static void
server_answered(struct dns *dns)
{
	uint64_t now = uv_now(dns->loop);

	dns->streak = 0;
	dns->last_good = now;
	if (!dns->stats.down)
		return;
	dns->stats.down = false;
	if (dns->o.health != NULL)
		dns->o.health(dns->o.health_arg, true, NULL,
		    now - dns->down_since);
}

/*
 * try_failed - one try of lk failed, for why f (lk->why says more):
 * counted; a failure that is the nameserver's (not SERVFAIL, not
 * another error code) may mean none answers any more
 */
static void
try_failed(struct lookup *lk, enum dns_fail f)
{
	struct dns *dns = lk->dns;
	uint64_t now = uv_now(dns->loop);
	unsigned need = 2 * (unsigned)dns->o.nservers;

	dns->stats.failures[f]++;
	if (f == DNS_FAIL_TIMEOUT || f == DNS_FAIL_SERVFAIL)
		lk->theirs = true;
	if (f == DNS_FAIL_SERVFAIL || f == DNS_FAIL_OTHER) {
		server_answered(dns); /* it answers, if not for this name */
		return;
	}
	dns->streak++;
	if (dns->stats.down || dns->streak < (need > 4 ? need : 4) ||
	    now - dns->last_good < 3 * dns->o.timeout_ms)
		return;
	dns->stats.down = true;
	dns->down_since = now;
	if (dns->o.health != NULL)
		dns->o.health(dns->o.health_arg, false, lk->why,
		    now - dns->last_good);
}

bool
dns_down(const struct dns *dns)
{
	return dns != NULL && dns->stats.down;
}

/* dns_status_name - for logs */
const char *
dns_status_name(enum dns_status s)
{
	static const char *const names[] = { "ok", "nxdomain", "nodata",
		"tempfail", "bad" };

	return (unsigned)s < 5 ? names[s] : "?";
}

/* dns_type_name - for logs */
const char *
dns_type_name(uint16_t type)
{
	switch (type) {
	case DNS_T_A:
		return "A";
	case DNS_T_AAAA:
		return "AAAA";
	case DNS_T_PTR:
		return "PTR";
	case DNS_T_MX:
		return "MX";
	case DNS_T_TXT:
		return "TXT";
	case DNS_T_CNAME:
		return "CNAME";
	case DNS_T_NS:
		return "NS";
	case DNS_T_SOA:
		return "SOA";
	case DNS_T_SPF:
		return "SPF";
	default:
		return "TYPE?";
	}
}

/* dns_ptr_name - 7.2.0.192.in-addr.arpa or the ip6.arpa nibbles */
char *
dns_ptr_name(const struct ipaddr *ip, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	int i;

	if (ip->family == AF_INET) {
		snprintf(buf, size, "%u.%u.%u.%u.in-addr.arpa", ip->a[3],
		    ip->a[2], ip->a[1], ip->a[0]);
		return buf;
	}
	for (i = 15; i >= 0 && o + 4 < size; i--) {
		buf[o++] = hex[ip->a[i] & 15];
		buf[o++] = '.';
		buf[o++] = hex[ip->a[i] >> 4];
		buf[o++] = '.';
	}
	snprintf(buf + o, size - o, "ip6.arpa");
	return buf;
}

/* dns_opts_defaults - the documented defaults */
void
dns_opts_defaults(struct dns_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->timeout_ms = 2000;
	o->tries = 2;
	o->limit_ms = 10000;
	o->cache_size = 10000;
	o->min_ttl = 60;
	o->max_ttl = 86400;
	o->neg_max_ttl = 3600;
	o->max_inflight = 256;
}

/* dns_server_parse - address[:port], IPv6 in brackets with a port */
int
dns_server_parse(const char *s, struct dns_server *out, struct why *why)
{
	char host[ADDR_STRLEN + 1];
	const char *port = NULL;
	unsigned long p = 53;
	struct ipaddr ip;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || (rb[1] != ':' && rb[1] != '\0'))
			goto bad;
		hlen = (size_t)(rb - s - 1);
		if (rb[1] == ':')
			port = rb + 2;
		s++;
	} else {
		const char *colon = strchr(s, ':');

		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			hlen = (size_t)(colon - s);
			port = colon + 1;
		} else {
			hlen = strlen(s); /* IPv6 without a port */
		}
	}
	if (hlen == 0 || hlen >= sizeof(host))
		goto bad;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (addr_parse(host, &ip) < 0)
		goto bad;
	if (port != NULL) {
		char *end;

		p = strtoul(port, &end, 10);
		if (*port < '0' || *port > '9' || *end != '\0' || p == 0 ||
		    p > 65535)
			goto bad;
	}
	if (ip.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->sa;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, ip.a, 4);
		sin->sin_port = htons((uint16_t)p);
		snprintf(out->name, sizeof(out->name), "%s:%lu", host, p);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->sa;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, ip.a, 16);
		sin6->sin6_port = htons((uint16_t)p);
		snprintf(out->name, sizeof(out->name), "[%s]:%lu", host, p);
	}
	return 0;
bad:
	why_set(why, "\"%.60s\" is not a nameserver address (192.0.2.1, "
		     "192.0.2.1:5353 or [2001:db8::1]:53)", s);
	return -1;
}

/* dns_servers_from_file - nameserver lines of a resolv.conf */
int
dns_servers_from_file(struct dns_opts *o, const char *path, struct why *why)
{
	ldns_resolver *res = NULL;
	ldns_status st = ldns_resolver_new_frm_file(&res, path);
	ldns_rdf **ns;
	size_t i, n;

	if (st != LDNS_STATUS_OK) {
		why_set(why, "%s: %s", path ? path : "/etc/resolv.conf",
		    ldns_get_errorstr_by_id(st));
		return -1;
	}
	ns = ldns_resolver_nameservers(res);
	n = ldns_resolver_nameserver_count(res);
	o->nservers = 0;
	for (i = 0; i < n && o->nservers < DNS_MAX_SERVERS; i++) {
		char *s = ldns_rdf2str(ns[i]);

		if (s != NULL &&
		    dns_server_parse(s, &o->servers[o->nservers], NULL) == 0)
			o->nservers++;
		free(s);
	}
	ldns_resolver_deep_free(res);
	if (o->nservers == 0) {
		why_set(why, "%s: no nameserver", path ? path
						      : "/etc/resolv.conf");
		return -1;
	}
	return 0;
}

/* norm_name - lower-case, no final dot; -1 if no domain name */
static int
norm_name(const char *in, char *out)
{
	size_t len = strlen(in), i, label = 0;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_MAX_NAME)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if (c < ' ' || c >= 0x7f) {
			return -1; /* octets we never put in a query */
		} else if (++label > 63) {
			return -1;
		}
		out[i] = (char)tolower(c);
	}
	out[len] = '\0';
	return 0;
}

/* dns__ans_new - an answer without records */
struct dns__ans *
dns__ans_new(const char *name, uint16_t type, enum dns_status st,
    const char *why)
{
	struct dns__ans *a = xcalloc(1, sizeof(*a));

	a->refs = 1;
	a->name = xstrdup(name);
	a->why = why ? xstrdup(why) : NULL;
	a->pub.status = st;
	a->pub.type = type;
	a->pub.name = a->name;
	a->pub.why = a->why;
	return a;
}

/* dns__ans_unref - drop a reference; free with the last */
void
dns__ans_unref(struct dns__ans *a)
{
	size_t i;

	if (a == NULL || --a->refs > 0)
		return;
	for (i = 0; i < a->pub.n; i++)
		free(a->rrs[i].text);
	free(a->rrs);
	free(a->name);
	free(a->why);
	free(a);
}

/*
 * dname - a domain name for ldns: every octet but letters, digits, '-'
 * and '_' inside a label as \DDD, so a name with blanks or '%' (SPF
 * macros make such names) reaches the wire as it is.
 */
static ldns_rdf *
dname(const char *name)
{
	char buf[4 * DNS_MAX_NAME + 8];
	size_t o = 0;

	for (; *name && o + 5 < sizeof(buf); name++) {
		unsigned char c = (unsigned char)*name;

		if (isalnum(c) || c == '-' || c == '_' || c == '.')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
			    "\\%03u", c);
	}
	buf[o] = '\0';
	return ldns_dname_new_frm_str(buf);
}

/* dns__build_query - RD, EDNS0 with our buffer size */
int
dns__build_query(const char *name, uint16_t type, uint16_t id,
    uint8_t **wire, size_t *len)
{
	ldns_rdf *dname_rdf = dname(name);
	ldns_pkt *pkt;
	ldns_status st;

	if (dname_rdf == NULL)
		return -1;
	pkt = ldns_pkt_query_new(dname_rdf, (ldns_rr_type)type,
	    LDNS_RR_CLASS_IN, LDNS_RD);
	if (pkt == NULL)
		return -1;
	ldns_pkt_set_id(pkt, id);
	ldns_pkt_set_edns_udp_size(pkt, DNS_UDP_SIZE);
	st = ldns_pkt2wire(wire, pkt, len);
	ldns_pkt_free(pkt);
	return st == LDNS_STATUS_OK ? 0 : -1;
}

/* dns__check_answer - ours, someone else's, or ours but broken */
int
dns__check_answer(const uint8_t *buf, size_t len, uint16_t id,
    const char *name, uint16_t type, ldns_pkt **pktp, char *why,
    size_t whysize)
{
	ldns_rr_list *qs;
	ldns_rdf *want;
	ldns_pkt *pkt;
	ldns_rr *q;
	int same;

	*pktp = NULL;
	if (len < 12 || (uint16_t)(buf[0] << 8 | buf[1]) != id)
		return DNS__IGNORE;
	if (ldns_wire2pkt(&pkt, buf, len) != LDNS_STATUS_OK) {
		snprintf(why, whysize, "malformed answer");
		return DNS__GARBAGE;
	}
	qs = ldns_pkt_question(pkt);
	if (!ldns_pkt_qr(pkt) || ldns_pkt_qdcount(pkt) != 1 || qs == NULL ||
	    ldns_rr_list_rr_count(qs) != 1) {
		ldns_pkt_free(pkt);
		return DNS__IGNORE;
	}
	q = ldns_rr_list_rr(qs, 0);
	want = dname(name);
	same = want != NULL && ldns_dname_compare(ldns_rr_owner(q), want) == 0;
	ldns_rdf_deep_free(want);
	if (!same || ldns_rr_get_type(q) != type ||
	    ldns_rr_get_class(q) != LDNS_RR_CLASS_IN) {
		ldns_pkt_free(pkt);
		return DNS__IGNORE;
	}
	*pktp = pkt;
	return DNS__MATCH;
}

/* dname_text - lower-case text of a name, no final dot */
static char *
dname_text(const ldns_rdf *rdf)
{
	char *s = ldns_rdf2str(rdf), *p;
	size_t len;

	if (s == NULL)
		return xstrdup("");
	for (p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	len = strlen(s);
	if (len > 1 && s[len - 1] == '.')
		s[len - 1] = '\0';
	return s;
}

/* convert - one record into a dns_rr; -1 if its data is unusable */
static int
convert(const ldns_rr *rr, struct dns_rr *out)
{
	size_t i, n = ldns_rr_rd_count(rr);
	const ldns_rdf *rd;

	memset(out, 0, sizeof(*out));
	out->type = ldns_rr_get_type(rr);
	out->ttl = ldns_rr_ttl(rr);
	switch (out->type) {
	case DNS_T_A:
	case DNS_T_AAAA:
		rd = ldns_rr_rdf(rr, 0);
		if (rd == NULL ||
		    ldns_rdf_size(rd) != (out->type == DNS_T_A ? 4u : 16u))
			return -1;
		out->addr.family = out->type == DNS_T_A ? AF_INET : AF_INET6;
		memcpy(out->addr.a, ldns_rdf_data(rd), ldns_rdf_size(rd));
		return 0;
	case DNS_T_PTR:
	case DNS_T_CNAME:
	case DNS_T_NS:
		if ((rd = ldns_rr_rdf(rr, 0)) == NULL)
			return -1;
		out->text = dname_text(rd);
		out->len = strlen(out->text);
		return 0;
	case DNS_T_MX:
		if (n < 2 || ldns_rdf_size(ldns_rr_rdf(rr, 0)) != 2)
			return -1;
		out->pref = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
		out->text = dname_text(ldns_rr_rdf(rr, 1));
		out->len = strlen(out->text);
		return 0;
	case DNS_T_TXT:
	case DNS_T_SPF: {
		/* Character-strings joined without blanks (RFC 7208 3.3). */
		size_t total = 0, o = 0;

		for (i = 0; i < n; i++) {
			rd = ldns_rr_rdf(rr, i);
			if (ldns_rdf_size(rd) < 1)
				return -1;
			total += ldns_rdf_size(rd) - 1;
		}
		out->text = xmalloc(total + 1);
		for (i = 0; i < n; i++) {
			rd = ldns_rr_rdf(rr, i);
			memcpy(out->text + o, ldns_rdf_data(rd) + 1,
			    ldns_rdf_size(rd) - 1);
			o += ldns_rdf_size(rd) - 1;
		}
		out->text[o] = '\0';
		out->len = o;
		return 0;
	}
	default:
		return -1;
	}
}

/* clamp - v within [lo, hi] */
static uint32_t
clamp(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* neg_ttl - RFC 2308: min(SOA TTL, SOA MINIMUM) of the authority SOA */
static uint32_t
neg_ttl(const ldns_pkt *pkt, const struct dns_opts *o)
{
	ldns_rr_list *auth = ldns_pkt_authority(pkt);
	size_t i;

	for (i = 0; auth != NULL && i < ldns_rr_list_rr_count(auth); i++) {
		ldns_rr *rr = ldns_rr_list_rr(auth, i);
		uint32_t ttl, min;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA ||
		    ldns_rr_rd_count(rr) < 7 ||
		    ldns_rdf_size(ldns_rr_rdf(rr, 6)) != 4)
			continue;
		ttl = ldns_rr_ttl(rr);
		min = ldns_rdf2native_int32(ldns_rr_rdf(rr, 6));
		return clamp(ttl < min ? ttl : min, 0, o->neg_max_ttl);
	}
	return 0; /* no SOA: not cached (RFC 2308 section 5) */
}

/* cname_of - the answer's CNAME record owned by owner, or NULL */
static ldns_rr *
cname_of(const ldns_rr_list *an, size_t count, const ldns_rdf *owner)
{
	size_t i;

	for (i = 0; i < count; i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME &&
		    ldns_dname_compare(ldns_rr_owner(rr), owner) == 0 &&
		    ldns_rr_rdf(rr, 0) != NULL)
			return rr;
	}
	return NULL;
}

/*
 * in_chain - is target one of the names the chain from name passed in
 * its first hops hops (name itself included)
 */
static bool
in_chain(const ldns_rr_list *an, size_t count, const char *name,
    const ldns_rdf *target, int hops)
{
	ldns_rdf *at = dname(name);
	bool found = false;
	int h;

	for (h = 0; at != NULL && h <= hops && !found; h++) {
		ldns_rr *cname;

		if (ldns_dname_compare(at, target) == 0) {
			found = true;
			break;
		}
		if ((cname = cname_of(an, count, at)) == NULL)
			break;
		ldns_rdf_deep_free(at);
		at = ldns_rdf_clone(ldns_rr_rdf(cname, 0));
	}
	ldns_rdf_deep_free(at);
	return found;
}

/* dns__interpret - records of the asked type, CNAMEs followed */
struct dns__ans *
dns__interpret(const ldns_pkt *pkt, const char *name, uint16_t type,
    const struct dns_opts *o)
{
	ldns_rr_list *an = ldns_pkt_answer(pkt);
	size_t count = an ? ldns_rr_list_rr_count(an) : 0, i;
	ldns_rdf *owner = dname(name);
	struct dns__ans *a;
	uint32_t minttl = UINT32_MAX;
	int hops;

	if (count > DNS_MAX_RECORDS)
		count = DNS_MAX_RECORDS;
	if (ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NXDOMAIN) {
		a = dns__ans_new(name, type, DNS_NXDOMAIN, NULL);
		a->pub.ttl = neg_ttl(pkt, o);
		ldns_rdf_deep_free(owner);
		return a;
	}
	/*
	 * Follow the CNAME chain inside the answer. A chain that comes back
	 * to a name it passed, or goes on past DNS_MAX_CNAMES hops, never
	 * reaches the records: DNS trouble, as a recursive resolver answers
	 * SERVFAIL for a loop, never "does not exist" (a sender domain
	 * behind such a chain would be refused for good).
	 */
	for (hops = 0; owner != NULL && type != DNS_T_CNAME; hops++) {
		ldns_rr *cname = cname_of(an, count, owner);
		char why[160];

		if (cname == NULL)
			break;
		if (hops == DNS_MAX_CNAMES || in_chain(an, count, name,
		    ldns_rr_rdf(cname, 0), hops)) {
			snprintf(why, sizeof(why), hops == DNS_MAX_CNAMES
			    ? "CNAME chain longer than %d hops" : "CNAME chain "
			    "loops after %d hops", hops == DNS_MAX_CNAMES
			    ? DNS_MAX_CNAMES : hops + 1);
			ldns_rdf_deep_free(owner);
			return dns__ans_new(name, type, DNS_TEMPFAIL, why);
		}
		if (ldns_rr_ttl(cname) < minttl)
			minttl = ldns_rr_ttl(cname);
		ldns_rdf_deep_free(owner);
		owner = ldns_rdf_clone(ldns_rr_rdf(cname, 0));
	}
	a = dns__ans_new(name, type, DNS_NODATA, NULL);
	a->rrs = xcalloc(count ? count : 1, sizeof(*a->rrs));
	for (i = 0; owner != NULL && i < count; i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		struct dns_rr *out = &a->rrs[a->pub.n];

		if (ldns_rr_get_type(rr) != type ||
		    ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
		    ldns_dname_compare(ldns_rr_owner(rr), owner) != 0)
			continue;
		if (convert(rr, out) < 0)
			continue;
		if (out->ttl < minttl)
			minttl = out->ttl;
		a->pub.n++;
	}
	ldns_rdf_deep_free(owner);
	a->pub.rr = a->rrs;
	if (a->pub.n > 0) {
		a->pub.status = DNS_OK;
		a->pub.ttl = clamp(minttl, o->min_ttl, o->max_ttl);
	} else {
		a->pub.ttl = neg_ttl(pkt, o);
	}
	return a;
}

/* The cache: a chained hash table and an LRU list, newest first. */
struct dns__cache {
	struct dns__ans **b;
	size_t nb, n, max;
	struct dns__ans *newest, *oldest;
};

struct dns__cache *
dns__cache_new(size_t max)
{
	struct dns__cache *c = xcalloc(1, sizeof(*c));

	c->max = max ? max : 1;
	for (c->nb = 64; c->nb < 2 * c->max && c->nb < (1u << 24);)
		c->nb *= 2;
	c->b = xcalloc(c->nb, sizeof(*c->b));
	return c;
}

/* cache_unlink - take a from the table and the list, drop its ref */
static void
cache_unlink(struct dns__cache *c, struct dns__ans *a)
{
	struct dns__ans **pp = &c->b[a->hash & (c->nb - 1)];

	while (*pp != a)
		pp = &(*pp)->hnext;
	*pp = a->hnext;
	if (a->lru_prev)
		a->lru_prev->lru_next = a->lru_next;
	else
		c->newest = a->lru_next;
	if (a->lru_next)
		a->lru_next->lru_prev = a->lru_prev;
	else
		c->oldest = a->lru_prev;
	a->cached = 0;
	c->n--;
	dns__ans_unref(a);
}

/* lru_front - make a the newest */
static void
lru_front(struct dns__cache *c, struct dns__ans *a)
{
	if (c->newest == a)
		return;
	if (a->lru_prev)
		a->lru_prev->lru_next = a->lru_next;
	if (a->lru_next)
		a->lru_next->lru_prev = a->lru_prev;
	else if (c->oldest == a)
		c->oldest = a->lru_prev;
	a->lru_prev = NULL;
	a->lru_next = c->newest;
	if (c->newest)
		c->newest->lru_prev = a;
	c->newest = a;
	if (c->oldest == NULL)
		c->oldest = a;
}

struct dns__ans *
dns__cache_get(struct dns__cache *c, const char *name, uint16_t type,
    uint64_t now)
{
	uint32_t h = hash_name(name, type);
	struct dns__ans *a;

	for (a = c->b[h & (c->nb - 1)]; a != NULL; a = a->hnext) {
		if (a->hash != h || a->pub.type != type ||
		    strcmp(a->name, name) != 0)
			continue;
		if (now >= a->expires) {
			cache_unlink(c, a);
			return NULL;
		}
		lru_front(c, a);
		a->refs++;
		return a;
	}
	return NULL;
}

void
dns__cache_put(struct dns__cache *c, struct dns__ans *a, uint64_t now)
{
	struct dns__ans *old;

	if (a->cached || a->pub.ttl == 0)
		return;
	if ((old = dns__cache_get(c, a->name, a->pub.type, 0)) != NULL) {
		dns__ans_unref(old);
		cache_unlink(c, old);
	}
	while (c->n >= c->max && c->oldest != NULL)
		cache_unlink(c, c->oldest);
	a->hash = hash_name(a->name, a->pub.type);
	a->expires = now + (uint64_t)a->pub.ttl * 1000;
	a->hnext = c->b[a->hash & (c->nb - 1)];
	c->b[a->hash & (c->nb - 1)] = a;
	a->lru_prev = a->lru_next = NULL;
	a->cached = 1;
	a->refs++;
	c->n++;
	lru_front(c, a);
}

size_t
dns__cache_count(const struct dns__cache *c)
{
	return c->n;
}

void
dns__cache_free(struct dns__cache *c)
{
	if (c == NULL)
		return;
	while (c->oldest != NULL)
		cache_unlink(c, c->oldest);
	free(c->b);
	free(c);
}

/* dns_handle_closed - the resolver goes with its last handle */
static void
dns_handle_closed(uv_handle_t *h)
{
	struct dns *dns = h->data;

	if (--dns->handles == 0 && dns->closing)
		free(dns);
}

/* deliver_ready - hand over cached answers, on a later loop turn */
static void
deliver_ready(uv_timer_t *t)
{
	struct dns *dns = t->data;
	struct dns_query *q;

	while ((q = dns->ready) != NULL) {
		dns->ready = q->next;
		if (q->next)
			q->next->prev = NULL;
		q->done(q->arg, &q->ready->pub);
		dns__ans_unref(q->ready);
		free(q);
	}
}

/* dns_new - a resolver on loop */
struct dns *
dns_new(uv_loop_t *loop, const struct dns_opts *o, struct why *why)
{
	struct dns *dns = xcalloc(1, sizeof(*dns));

	dns->loop = loop;
	dns->o = *o;
	if (dns->o.nservers == 0 &&
	    dns_servers_from_file(&dns->o, NULL, why) < 0) {
		free(dns);
		return NULL;
	}
	if (dns->o.tries == 0)
		dns->o.tries = 1;
	if (dns->o.max_inflight == 0)
		dns->o.max_inflight = 1;
	dns->cache = dns__cache_new(o->cache_size);
	for (dns->nbuckets = 256; dns->nbuckets < o->cache_size / 4 &&
	    dns->nbuckets < 65536;)
		dns->nbuckets *= 2;
	dns->inflight = xcalloc(dns->nbuckets, sizeof(*dns->inflight));
	uv_timer_init(loop, &dns->ready_timer);
	dns->ready_timer.data = dns;
	dns->handles = 1;
	dns->last_good = uv_now(loop);
	return dns;
}

/* attempt_closed - free an attempt with its last handle */
static void
attempt_closed(uv_handle_t *h)
{
	struct attempt *at = h->data;

	if (--at->handles > 0)
		return;
	free(at->q);
	free(at->tbuf);
	free(at);
}

/* wq_remove - take a lookup off the wait queue */
static void
wq_remove(struct dns *dns, struct lookup *lk)
{
	if (!lk->queued)
		return;
	if (lk->wq_prev)
		lk->wq_prev->wq_next = lk->wq_next;
	else
		dns->wq_head = lk->wq_next;
	if (lk->wq_next)
		lk->wq_next->wq_prev = lk->wq_prev;
	else
		dns->wq_tail = lk->wq_prev;
	lk->wq_prev = lk->wq_next = NULL;
	lk->queued = false;
}

/* wq_kick - start waiting lookups while there are free slots */
static void
wq_kick(struct dns *dns)
{
	while (dns->wq_head != NULL && dns->active < dns->o.max_inflight &&
	    !dns->closing) {
		struct lookup *lk = dns->wq_head;

		wq_remove(dns, lk);
		lookup_next_try(lk);
	}
}

/* attempt_abandon - close its sockets; it may outlive its lookup */
static void
attempt_abandon(struct attempt *at)
{
	if (at == NULL)
		return;
	at->lk = NULL;
	if (at->counted) {
		at->counted = false;
		at->dns->active--;
		wq_kick(at->dns);
	}
	if (at->udp_open) {
		at->udp_open = false;
		uv_close((uv_handle_t *)&at->udp, attempt_closed);
	}
	if (at->tcp_open) {
		at->tcp_open = false;
		uv_close((uv_handle_t *)&at->tcp, attempt_closed);
	}
}

/* lookup_closed - free a lookup with its last timer */
static void
lookup_closed(uv_handle_t *h)
{
	struct lookup *lk = h->data;
	struct dns *dns = lk->dns;

	if (--lk->handles > 0)
		return;
	free(lk->name);
	free(lk);
	dns_handle_closed((uv_handle_t *)&dns->ready_timer);
}

/* lookup_unlink - out of the in-flight table */
static void
lookup_unlink(struct lookup *lk)
{
	struct dns *dns = lk->dns;
	struct lookup **pp = &dns->inflight[lk->hash & (dns->nbuckets - 1)];

	while (*pp != NULL && *pp != lk)
		pp = &(*pp)->hnext;
	if (*pp == lk)
		*pp = lk->hnext;
}

/* lookup_close - stop everything of a finished lookup */
static void
lookup_close(struct lookup *lk)
{
	lk->finished = true;
	lookup_unlink(lk);
	wq_remove(lk->dns, lk);
	attempt_abandon(lk->cur);
	lk->cur = NULL;
	uv_close((uv_handle_t *)&lk->try_timer, lookup_closed);
	uv_close((uv_handle_t *)&lk->limit_timer, lookup_closed);
}

/* lookup_finish - call the waiters, cache, close */
static void
lookup_finish(struct lookup *lk, struct dns__ans *a)
{
	struct dns *dns = lk->dns;
	struct dns_query *q;

	if (lk->finished) {
		dns__ans_unref(a);
		return;
	}
	lookup_close(lk);
	if (a->pub.status != DNS_TEMPFAIL && a->pub.status != DNS_BAD)
		dns__cache_put(dns->cache, a, uv_now(dns->loop));
	/* A callback may cancel a later waiter: take them one at a time. */
	while ((q = lk->waiters) != NULL) {
		lk->waiters = q->next;
		if (q->next)
			q->next->prev = NULL;
		q->lk = NULL;
		q->done(q->arg, &a->pub);
		free(q);
	}
	dns__ans_unref(a);
}

/* lookup_fail - the end without an answer */
static void
lookup_fail(struct lookup *lk)
{
	enum dns_status st = lk->garbage ? DNS_BAD : DNS_TEMPFAIL;
	struct dns__ans *a = dns__ans_new(lk->name, lk->type, st, lk->why);

	a->pub.ours = !lk->theirs || lk->dns->stats.down;
	lookup_finish(lk, a);
}

/* attempt_reply - an answer came back over UDP or TCP */
static void
attempt_reply(struct attempt *at, const uint8_t *buf, size_t len, bool tcp);

/* tcp_fail - the TCP exchange failed: say why, try the next server */
static void
tcp_fail(struct attempt *at, const char *what)
{
	snprintf(at->lk->why, sizeof(at->lk->why), "%s over TCP: %s",
	    at->srv->name, what);
	try_failed(at->lk, DNS_FAIL_UNREACHABLE);
	lookup_next_try(at->lk);
}

/* tcp_alloc - read into the attempt's buffer */
static void
tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct attempt *at = h->data;

	(void)suggested;
	if (at->tbuf == NULL)
		at->tbuf = xmalloc(2 + 65535);
	*b = uv_buf_init((char *)at->tbuf + at->tlen,
	    (unsigned)(2 + 65535 - at->tlen));
}

/* tcp_read - length-prefixed answer */
static void
tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct attempt *at = s->data;
	struct lookup *lk = at->lk;
	size_t need;

	(void)b;
	if (lk == NULL || n == 0)
		return;
	if (n < 0) {
		tcp_fail(at, n == UV_EOF ? "closed early" : uv_strerror((int)n));
		return;
	}
	at->tlen += (size_t)n;
	if (at->tlen < 2)
		return;
	need = 2 + ((size_t)at->tbuf[0] << 8 | at->tbuf[1]);
	if (at->tlen < need)
		return;
	uv_read_stop(s);
	attempt_reply(at, at->tbuf + 2, need - 2, true);
}

/* tcp_written - the query is out; read the answer */
static void
tcp_written(uv_write_t *w, int status)
{
	struct attempt *at = w->data;

	if (at->lk == NULL)
		return;
	if (status < 0) {
		tcp_fail(at, uv_strerror(status));
		return;
	}
	uv_read_start((uv_stream_t *)&at->tcp, tcp_alloc, tcp_read);
}

/* tcp_connected - send the query with its length */
static void
tcp_connected(uv_connect_t *c, int status)
{
	struct attempt *at = c->data;

	if (at->lk == NULL)
		return;
	if (status < 0) {
		tcp_fail(at, uv_strerror(status));
		return;
	}
	at->lenbuf[0] = (uint8_t)(at->qlen >> 8);
	at->lenbuf[1] = (uint8_t)at->qlen;
	at->wbufs[0] = uv_buf_init((char *)at->lenbuf, 2);
	at->wbufs[1] = uv_buf_init((char *)at->q, (unsigned)at->qlen);
	at->wr.data = at;
	if (uv_write(&at->wr, (uv_stream_t *)&at->tcp, at->wbufs, 2,
	    tcp_written) < 0)
		lookup_next_try(at->lk);
}

/* attempt_tcp - the UDP answer was truncated: ask again over TCP */
static void
attempt_tcp(struct attempt *at)
{
	struct lookup *lk = at->lk;
	struct dns *dns = lk->dns;

	if (at->udp_open) {
		at->udp_open = false;
		uv_close((uv_handle_t *)&at->udp, attempt_closed);
	}
	uv_tcp_init(dns->loop, &at->tcp);
	at->tcp.data = at;
	at->tcp_open = true;
	at->handles++;
	at->conn.data = at;
	dns->stats.sent++;
	dns->stats.tcp++;
	/* The try's timer starts again for the TCP exchange. */
	uv_timer_again(&lk->try_timer);
	if (uv_tcp_connect(&at->conn, &at->tcp,
	    (const struct sockaddr *)&at->srv->sa, tcp_connected) < 0) {
		snprintf(lk->why, sizeof(lk->why), "%s: cannot connect over "
						   "TCP", at->srv->name);
		lookup_next_try(lk);
	}
}

/* attempt_reply - judge an answer */
static void
attempt_reply(struct attempt *at, const uint8_t *buf, size_t len, bool tcp)
{
	struct lookup *lk = at->lk;
	struct dns *dns = lk->dns;
	char why[64];
	ldns_pkt *pkt;
	int rc;

	rc = dns__check_answer(buf, len, at->id, lk->name, lk->type, &pkt,
	    why, sizeof(why));
	if (rc == DNS__IGNORE) {
		dns->stats.ignored++;
		if (tcp)
			lookup_next_try(lk);
		return;
	}
	if (rc == DNS__GARBAGE) {
		lk->garbage = true;
		snprintf(lk->why, sizeof(lk->why), "%s from %s", why,
		    at->srv->name);
		try_failed(lk, DNS_FAIL_MALFORMED);
		if (tcp)
			lookup_next_try(lk);
		return; /* over UDP, a good answer may still come */
	}
	lk->garbage = false;
	if (!tcp && ldns_pkt_tc(pkt)) {
		server_answered(dns);
		ldns_pkt_free(pkt);
		attempt_tcp(at);
		return;
	}
	switch (ldns_pkt_get_rcode(pkt)) {
	case LDNS_RCODE_NOERROR:
	case LDNS_RCODE_NXDOMAIN:
		server_answered(dns);
		lookup_finish(lk, dns__interpret(pkt, lk->name, lk->type,
		    &dns->o));
		break;
	default: {
		ldns_pkt_rcode rcode = ldns_pkt_get_rcode(pkt);
		ldns_lookup_table *rc_name = ldns_lookup_by_id(ldns_rcodes,
		    rcode);

		snprintf(lk->why, sizeof(lk->why), "%s from %s",
		    rc_name ? rc_name->name : "error", at->srv->name);
		try_failed(lk, rcode == LDNS_RCODE_REFUSED ? DNS_FAIL_REFUSED
		    : rcode == LDNS_RCODE_SERVFAIL ? DNS_FAIL_SERVFAIL
		    : DNS_FAIL_OTHER);
		lookup_next_try(lk);
	}
	}
	ldns_pkt_free(pkt);
}

/* udp_alloc - the resolver's one receive buffer */
static void
udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct attempt *at = h->data;

	(void)suggested;
	/* An abandoned attempt has no lookup; any buffer will do. */
	*b = uv_buf_init(NULL, 0);
	if (at->lk != NULL)
		*b = uv_buf_init((char *)at->lk->dns->rbuf,
		    sizeof(at->lk->dns->rbuf));
}

/* udp_recv - a datagram from the server (the socket is connected) */
static void
udp_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *b,
    const struct sockaddr *from, unsigned flags)
{
	struct attempt *at = u->data;
	struct lookup *lk = at->lk;

	(void)from;
	if (lk == NULL || (n == 0 && from == NULL))
		return;
	if (n < 0) {
		/* ICMP port unreachable and friends: this server is out. */
		snprintf(lk->why, sizeof(lk->why), "%s: %s", at->srv->name,
		    uv_strerror((int)n));
		try_failed(lk, DNS_FAIL_UNREACHABLE);
		lookup_next_try(lk);
		return;
	}
	if (flags & UV_UDP_PARTIAL) {
		lk->dns->stats.ignored++;
		return;
	}
	attempt_reply(at, (const uint8_t *)b->base, (size_t)n, false);
}

/* udp_sent - nothing to do; errors show up as a timeout or recv error */
static void
udp_sent(uv_udp_send_t *s, int status)
{
	(void)status;
	free(s);
}

/* lookup_next_try - the next server, a new socket, a new ID */
static void
lookup_next_try(struct lookup *lk)
{
	struct dns *dns = lk->dns;
	struct attempt *at;
	uv_udp_send_t *send;
	uv_buf_t b;
	int rc;

	attempt_abandon(lk->cur);
	lk->cur = NULL;
	if (lk->finished)
		return; /* finished while a slot was handed round */
	if (lk->tries_done >= lk->tries_max) {
		lookup_fail(lk);
		return;
	}
	if (dns->active >= dns->o.max_inflight) {
		/* No free slot: wait, without the try's clock running. */
		uv_timer_stop(&lk->try_timer);
		lk->queued = true;
		lk->wq_prev = dns->wq_tail;
		if (dns->wq_tail)
			dns->wq_tail->wq_next = lk;
		else
			dns->wq_head = lk;
		dns->wq_tail = lk;
		return;
	}
	at = xcalloc(1, sizeof(*at));
	at->lk = lk;
	at->dns = dns;
	at->counted = true;
	if (++dns->active > dns->stats.peak)
		dns->stats.peak = dns->active;
	at->srv = &dns->o.servers[lk->tries_done % dns->o.nservers];
	lk->tries_done++;
	if (getrandom(&at->id, sizeof(at->id), 0) != sizeof(at->id))
		at->id = (uint16_t)random();
	if (dns__build_query(lk->name, lk->type, at->id, &at->q, &at->qlen) <
	    0) {
		dns->active--;
		free(at);
		snprintf(lk->why, sizeof(lk->why), "cannot build a query");
		lookup_fail(lk);
		return;
	}
	lk->cur = at;
	uv_udp_init(dns->loop, &at->udp);
	at->udp.data = at;
	at->udp_open = true;
	at->handles = 1;
	/* A new socket bound to port 0: a fresh random source port. */
	rc = uv_udp_connect(&at->udp, (const struct sockaddr *)&at->srv->sa);
	if (rc == 0)
		rc = uv_udp_recv_start(&at->udp, udp_alloc, udp_recv);
	if (rc == 0) {
		send = xmalloc(sizeof(*send));
		b = uv_buf_init((char *)at->q, (unsigned)at->qlen);
		rc = uv_udp_send(send, &at->udp, &b, 1, NULL, udp_sent);
		if (rc < 0)
			free(send);
	}
	if (rc < 0) {
		snprintf(lk->why, sizeof(lk->why), "%s: %s", at->srv->name,
		    uv_strerror(rc));
		try_failed(lk, DNS_FAIL_UNREACHABLE);
		/* Bounded by tries_max: each call starts one more try. */
		lookup_next_try(lk);
		return;
	}
	dns->stats.sent++;
	uv_timer_again(&lk->try_timer);
}

/* try_timeout - this try got no answer in time */
static void
try_timeout(uv_timer_t *t)
{
	struct lookup *lk = t->data;

	lk->dns->stats.timeouts++;
	if (!lk->garbage)
		snprintf(lk->why, sizeof(lk->why), "timeout after %u tries",
		    lk->tries_done);
	try_failed(lk, DNS_FAIL_TIMEOUT);
	lookup_next_try(lk);
}

/* limit_timeout - the whole question took too long */
static void
limit_timeout(uv_timer_t *t)
{
	struct lookup *lk = t->data;

	lk->dns->stats.timeouts++;
	snprintf(lk->why, sizeof(lk->why), "no answer within %llu ms "
					   "(%u tries)",
	    (unsigned long long)lk->dns->o.limit_ms, lk->tries_done);
	lk->garbage = false;
	try_failed(lk, DNS_FAIL_TIMEOUT);
	lookup_fail(lk);
}

/* lookup_start - a new question on the wire */
static struct lookup *
lookup_start(struct dns *dns, const char *name, uint16_t type, uint32_t h)
{
	struct lookup *lk = xcalloc(1, sizeof(*lk));
	size_t b = h & (dns->nbuckets - 1);

	lk->dns = dns;
	lk->name = xstrdup(name);
	lk->type = type;
	lk->hash = h;
	lk->tries_max = dns->o.tries * (unsigned)dns->o.nservers;
	lk->hnext = dns->inflight[b];
	dns->inflight[b] = lk;
	uv_timer_init(dns->loop, &lk->try_timer);
	uv_timer_init(dns->loop, &lk->limit_timer);
	lk->try_timer.data = lk->limit_timer.data = lk;
	lk->handles = 2;
	dns->handles++; /* released in lookup_closed */
	uv_timer_set_repeat(&lk->try_timer, dns->o.timeout_ms);
	uv_timer_start(&lk->try_timer, try_timeout, dns->o.timeout_ms,
	    dns->o.timeout_ms);
	uv_timer_start(&lk->limit_timer, limit_timeout, dns->o.limit_ms, 0);
	return lk;
}

/* dns_query - ask */
static int query(struct dns *dns, const char *name, uint16_t type,
    dns_done_fn *done, void *arg, struct dns_query **qp, bool fresh);

int
dns_query(struct dns *dns, const char *name, uint16_t type,
    dns_done_fn *done, void *arg, struct dns_query **qp)
{
	return query(dns, name, type, done, arg, qp, false);
}

/* dns_query_fresh - as dns_query, past the cache (its answer is kept) */
int
dns_query_fresh(struct dns *dns, const char *name, uint16_t type,
    dns_done_fn *done, void *arg, struct dns_query **qp)
{
	return query(dns, name, type, done, arg, qp, true);
}

/* query - a question, from the cache unless fresh */
static int
query(struct dns *dns, const char *name, uint16_t type, dns_done_fn *done,
    void *arg, struct dns_query **qp, bool fresh)
{
	char norm[DNS_MAX_NAME + 2];
	struct dns_query *q;
	struct dns__ans *a;
	struct lookup *lk;
	uint32_t h;

	if (qp)
		*qp = NULL;
	if (dns->closing || norm_name(name, norm) < 0)
		return -EINVAL;
	q = xcalloc(1, sizeof(*q));
	q->dns = dns;
	q->done = done;
	q->arg = arg;
	dns->stats.asked++;
	if (!fresh && (a = dns__cache_get(dns->cache, norm, type,
	    uv_now(dns->loop))) != NULL) {
		/* Never call back from inside the call that asked. */
		dns->stats.cache_hits++;
		q->ready = a;
		q->next = dns->ready;
		if (q->next)
			q->next->prev = q;
		dns->ready = q;
		uv_timer_start(&dns->ready_timer, deliver_ready, 0, 0);
		if (qp)
			*qp = q;
		return 0;
	}
	h = hash_name(norm, type);
	for (lk = dns->inflight[h & (dns->nbuckets - 1)]; lk != NULL;
	    lk = lk->hnext)
		if (lk->hash == h && lk->type == type &&
		    strcmp(lk->name, norm) == 0)
			break;
	if (lk != NULL) {
		dns->stats.coalesced++;
	} else {
		lk = lookup_start(dns, norm, type, h);
		lookup_next_try(lk);
		if (lk->finished) {
			/* Every try failed at once (no socket at all): hand
			 * the TEMPFAIL over on a later turn, like a cached
			 * answer; lk is freed by its close callbacks. */
			q->ready = dns__ans_new(norm, type, DNS_TEMPFAIL,
			    lk->why);
			q->ready->pub.ours = true; /* no socket: ours */
			q->next = dns->ready;
			if (q->next)
				q->next->prev = q;
			dns->ready = q;
			uv_timer_start(&dns->ready_timer, deliver_ready, 0, 0);
			if (qp)
				*qp = q;
			return 0;
		}
	}
	q->lk = lk;
	q->next = lk->waiters;
	if (q->next)
		q->next->prev = q;
	lk->waiters = q;
	if (qp)
		*qp = q;
	return 0;
}

/* dns_cancel - forget a question; its lookup goes on for the cache */
void
dns_cancel(struct dns_query *q)
{
	struct dns_query **head;

	if (q == NULL)
		return;
	head = q->lk ? &q->lk->waiters : &q->dns->ready;
	if (q->prev)
		q->prev->next = q->next;
	else
		*head = q->next;
	if (q->next)
		q->next->prev = q->prev;
	dns__ans_unref(q->ready);
	free(q);
}

/* dns_get_stats - counters */
void
dns_get_stats(const struct dns *dns, struct dns_stats *st)
{
	*st = dns->stats;
}

/* dns_close - cancel all, close all */
void
dns_close(struct dns *dns)
{
	size_t i;

	if (dns == NULL || dns->closing)
		return;
	dns->closing = true;
	while (dns->ready != NULL)
		dns_cancel(dns->ready);
	for (i = 0; i < dns->nbuckets; i++) {
		while (dns->inflight[i] != NULL) {
			struct lookup *lk = dns->inflight[i];

			while (lk->waiters != NULL)
				dns_cancel(lk->waiters);
			lookup_close(lk);
		}
	}
	free(dns->inflight);
	dns->inflight = NULL;
	dns__cache_free(dns->cache);
	dns->cache = NULL;
	uv_close((uv_handle_t *)&dns->ready_timer, dns_handle_closed);
}
