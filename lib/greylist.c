/*
 * greylist - greylisting and auto-whitelist: the keys of a request
 * (greylist_op), the judgement every backend runs on its own reads and
 * writes (gl_judge), sender normalization, the records' codec.
 */
#include "greylist.h"
#include "outbound.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "addr.h"
#include "log.h"
#include "request.h"
#include "store.h"
#include "xalloc.h"

#define HOUR 3600
#define LAST_STEP 60 /* last-seen is kept to this many seconds */
#define PART_MAX 400 /* bytes kept of a sender or recipient in a key */

/* gl_conf_defaults - the seed policy: 5 minutes, 2 days, 35 days */
void
gl_conf_defaults(struct gl_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->delay = 300;
	c->retry_window = 2 * 86400;
	c->max_age = 35 * 86400;
	c->ipv4_prefix = 24;
	c->ipv6_prefix = 64;
	c->awl_clients = 5;
	c->awl_domains = 2;
	c->strip_batv = c->strip_srs = true;
	c->strip_extension = c->fold_digits = true;
	c->pool_spf = c->pool_fcrdns = true;
	c->correspondents = true;
	c->pool_spf_ipv4_prefix = 16;
	c->pool_spf_ipv6_prefix = 32;
	c->text = xstrdup("Greylisted: this is the first delivery attempt "
			  "for this sender and recipient from your network; "
			  "a correctly configured server retries, please "
			  "try again in {seconds} seconds");
}

/* gl_conf_fini - free the owned strings */
void
gl_conf_fini(struct gl_conf *c)
{
	free(c->text);
	c->text = NULL;
}

/* gl_conf_copy - its own strings */
void
gl_conf_copy(struct gl_conf *dst, const struct gl_conf *src)
{
	*dst = *src;
	dst->text = src->text ? xstrdup(src->text) : NULL;
}

size_t
gl_entry_encode(const struct gl_entry *e, unsigned char *p)
{
	bool addr = e->client.family == AF_INET ||
	    e->client.family == AF_INET6;

	p[0] = addr ? 2 : 1; /* record version */
	store_put_u64(p + 1, (uint64_t)e->first);
	store_put_u64(p + 9, (uint64_t)e->last);
	store_put_u64(p + 17, (uint64_t)e->passed_at);
	store_put_u32(p + 25, e->count);
	if (!addr)
		return GL_ENTRY_SIZE_V1;
	p[29] = e->client.family == AF_INET ? 4 : 6;
	memcpy(p + 30, e->client.a, 16);
	return GL_ENTRY_SIZE;
}

int
gl_entry_decode(const void *v, size_t len, struct gl_entry *e)
{
	const unsigned char *p = v;

	memset(e, 0, sizeof(*e));
	if (!(len == GL_ENTRY_SIZE_V1 && p[0] == 1) &&
	    !(len == GL_ENTRY_SIZE && p[0] == 2))
		return -1;
	e->first = (int64_t)store_get_u64(p + 1);
	e->last = (int64_t)store_get_u64(p + 9);
	e->passed_at = (int64_t)store_get_u64(p + 17);
	e->count = store_get_u32(p + 25);
	if (p[0] == 2 && (p[29] == 4 || p[29] == 6)) {
		e->client.family = p[29] == 4 ? AF_INET : AF_INET6;
		memcpy(e->client.a, p + 30, 16);
	}
	return 0;
}

void
awl_entry_encode(const struct awl_entry *e, unsigned char *p)
{
	p[0] = 1;
	store_put_u32(p + 1, e->count);
	store_put_u64(p + 5, (uint64_t)e->first);
	store_put_u64(p + 13, (uint64_t)e->last);
	store_put_u64(p + 21, (uint64_t)e->last_count);
}

int
awl_entry_decode(const void *v, size_t len, struct awl_entry *e)
{
	const unsigned char *p = v;

	if (len != AWL_ENTRY_SIZE || p[0] != 1)
		return -1;
	e->count = store_get_u32(p + 1);
	e->first = (int64_t)store_get_u64(p + 5);
	e->last = (int64_t)store_get_u64(p + 13);
	e->last_count = (int64_t)store_get_u64(p + 21);
	return 0;
}

/* gl_key_split - the three NUL-separated parts of a greylist key */
int
gl_key_split(const void *key, size_t klen, const char **net,
    const char **sender, const char **rcpt)
{
	const char *k = key, *a, *b;

	if (klen == 0 || k[klen - 1] != '\0')
		return -1;
	a = memchr(k, '\0', klen);
	if (a == NULL || a + 1 >= k + klen)
		return -1;
	b = memchr(a + 1, '\0', (size_t)(k + klen - (a + 1)));
	if (b == NULL || b + 1 >= k + klen)
		return -1;
	*net = k;
	*sender = a + 1;
	*rcpt = b + 1;
	return 0;
}

/* is_word - a character of a \w word, as postgrey's regex sees it */
static bool
is_word(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* looks_like_tag - BATV tag: ten [0-9a-z] at the start */
static bool
looks_like_tag(const char *s, size_t n)
{
	size_t i;

	if (n < 10)
		return false;
	for (i = 0; i < 10; i++)
		if (!isdigit((unsigned char)s[i]) &&
		    !(s[i] >= 'a' && s[i] <= 'z'))
			return false;
	return true;
}

/*
 * unbatv - prvs=TAG=user (RFC draft; some write prvs=user=TAG) and
 * msprvs1=TAG=user become user. Works on a lower-case local part.
 */
static void
unbatv(char *local)
{
	char *p, *e1, *e2;

	if (strncmp(local, "prvs=", 5) == 0)
		p = local + 5;
	else if (strncmp(local, "msprvs1=", 8) == 0)
		p = local + 8;
	else
		return;
	if ((e1 = strchr(p, '=')) == NULL)
		return;
	e2 = strchr(e1 + 1, '=');
	if (strncmp(local, "prvs=", 5) == 0 && e2 == NULL) {
		/* Two parts after prvs=: decide which one is the tag. */
		size_t n1 = (size_t)(e1 - p);
		const char *second = e1 + 1;
		bool t1 = looks_like_tag(p, n1);
		bool t2 = looks_like_tag(second, strlen(second));

		if (t2 && !t1)
			memmove(local, p, n1), local[n1] = '\0';
		else
			memmove(local, second, strlen(second) + 1);
		return;
	}
	if (e2 == NULL)
		memmove(local, e1 + 1, strlen(e1 + 1) + 1);
}

/*
 * unsrs - SRS0=HASH=TT=domain=local and SRS1=HASH=fwd==HASH=TT=domain=local
 * give local@domain. The separator after SRS0/SRS1 may be =, + or -.
 * Returns true and fills out when the local part is SRS.
 */
static bool
unsrs(const char *local, char *out, size_t size)
{
	const char *p = local, *f[3];
	int i;

	if (strncmp(p, "srs1", 4) == 0 && strchr("=+-", p[4]) && p[4]) {
		p = strstr(p + 5, "==");
		if (p == NULL)
			return false;
		p += 2;
	} else if (strncmp(p, "srs0", 4) == 0 && strchr("=+-", p[4]) && p[4]) {
		p += 5;
	} else {
		return false;
	}
	/* p: HASH=TT=domain=local */
	for (i = 0; i < 3; i++) {
		f[i] = p;
		if ((p = strchr(p, '=')) == NULL)
			return false;
		p++;
	}
	if (*p == '\0' || f[2] + 1 >= p)
		return false;
	snprintf(out, size, "%s@%.*s", p, (int)(p - 1 - f[2]), f[2]);
	return true;
}

/* greylist_norm_sender - the sender as the key uses it */
char *
greylist_norm_sender(const struct gl_conf *c, const char *addr, char *out,
    size_t size)
{
	char buf[2 * PART_MAX], srs[2 * PART_MAX];
	char *at, *local, *q;
	const char *domain;
	size_t i, o;

	text_cat(buf, sizeof(buf), addr, NULL);
	for (q = buf; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	if (c->strip_srs && (at = strrchr(buf, '@')) != NULL) {
		*at = '\0';
		if (unsrs(buf, srs, sizeof(srs)))
			text_cat(buf, sizeof(buf), srs, NULL);
		else
			*at = '@';
	}
	if ((at = strrchr(buf, '@')) == NULL) {
		text_cat(out, size, buf, NULL);
		return out;
	}
	*at = '\0';
	local = buf;
	domain = at + 1;
	if (c->strip_batv)
		unbatv(local);
	if (c->strip_extension && (q = strchr(local, '+')) != NULL &&
	    q != local)
		*q = '\0';
	o = 0;
	for (i = 0; local[i] != '\0' && o + 2 < size; i++) {
		if (c->fold_digits && isdigit((unsigned char)local[i]) &&
		    (i == 0 || !is_word(local[i - 1]))) {
			size_t j = i;

			while (isdigit((unsigned char)local[j]))
				j++;
			if (!is_word(local[j])) {
				out[o++] = '#';
				i = j - 1;
				continue;
			}
		}
		out[o++] = local[i];
	}
	out[o] = '\0';
	text_cat(out + o, size - o, "@", domain, NULL); /* o + 2 <= size */
	return out;
}

/*
 * net_text - "addr/prefix" of ip's network; IPv4 written by hand (every
 * greylisted request of a pool asks it: inet_ntop and printf cost more
 * than the rest of the key)
 */
static char *
net_text(const struct gl_conf *c, const struct ipaddr *ip, char *out,
    size_t size)
{
	unsigned prefix = ip->family == AF_INET ? c->ipv4_prefix
						: c->ipv6_prefix;
	struct ipaddr net;
	char a[ADDR_STRLEN], *p = a;
	int i;

	addr_network(ip, prefix, &net);
	if (net.family != AF_INET) {
		char nb[TEXT_NUM];

		text_cat(out, size, addr_format(&net, a, sizeof(a)), "/",
		    text_num(nb, prefix), NULL);
		return out;
	}
	for (i = 0; i < 4; i++) {
		unsigned v = net.a[i];

		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i < 3 ? '.' : '/';
	}
	if (prefix >= 10)
		*p++ = (char)('0' + prefix / 10);
	*p++ = (char)('0' + prefix % 10);
	*p = '\0';
	text_cat(out, size, a, NULL);
	return out;
}

/* greylist_net - "addr/prefix" of the client's network */
char *
greylist_net(const struct gl_conf *c, const char *client, char *out,
    size_t size)
{
	struct ipaddr ip;

	if (addr_parse(client, &ip) < 0) {
		snprintf(out, size, "%s", client);
		return out;
	}
	return net_text(c, &ip, out, size);
}

/* expired - unused too long, or a try whose retry never came */
static bool
expired(const struct gl_limits *l, const struct gl_entry *e, int64_t now)
{
	if (now - e->last > l->max_age)
		return true;
	return e->passed_at == 0 && now - e->first > l->retry_window;
}

/* gl_limits - what a judgement needs of the config */
struct gl_limits
gl_limits(const struct gl_conf *c)
{
	struct gl_limits l = { c->delay, c->retry_window, c->max_age,
		c->awl_clients, c->awl_domains };

	return l;
}

/* greylist_expired - the entry no longer counts */
bool
greylist_expired(const struct gl_conf *c, const struct gl_entry *e,
    int64_t now)
{
	struct gl_limits l = gl_limits(c);

	return expired(&l, e, now);
}

/* gl_entry_expires - the first second at which expired() holds */
int64_t
gl_entry_expires(const struct gl_limits *l, const struct gl_entry *e)
{
	int64_t t = e->last + l->max_age + 1;

	if (e->passed_at == 0 && e->first + l->retry_window + 1 < t)
		t = e->first + l->retry_window + 1;
	return t;
}

/* awl_entry_expires - unused for max_age */
int64_t
awl_entry_expires(const struct gl_limits *l, const struct awl_entry *e)
{
	return e->last + l->max_age + 1;
}

/* gl_table - where each record of an operation lives */
const char *
gl_table(enum gl_rec r)
{
	static const char *const names[GL_NRECS] = {
		[GL_REC_CLIENT] = GL_TABLE_CLIENT,
		[GL_REC_DOMAIN] = GL_TABLE_DOMAIN,
		[GL_REC_TRIPLET] = GL_TABLE_TRIPLET,
		[GL_REC_CORRESPONDENT] = OUTBOUND_TABLE,
		[GL_REC_NET_CLIENT] = GL_TABLE_CLIENT,
		[GL_REC_NET_TRIPLET] = GL_TABLE_TRIPLET,
	};

	return (unsigned)r < GL_NRECS ? names[r] : "?";
}

/*
 * The parameters of the transaction "greylist" (gl_judge), as bytes: the
 * records present (a bit each), the time, the limits, dry, the client.
 */
#define GL_PARAM_SIZE (1 + 8 + 3 * 8 + 2 * 4 + 1 + 1 + 16)
#define GL_RESULT_SIZE (1 + 8 + 8)

/* gl_args - a judgement's parameters, decoded */
struct gl_args {
	unsigned present;      /* bit r: record r has a key */
	int64_t now;
	struct gl_limits lim;
	bool dry;
	struct ipaddr client;
};

/* param_encode - op's parameters into p (GL_PARAM_SIZE bytes) */
static void
param_encode(const struct gl_op *op, unsigned char *p)
{
	unsigned present = 0;
	int r;

	for (r = 0; r < GL_NRECS; r++)
		if (op->klen[r] > 0)
			present |= 1u << r;
	p[0] = (unsigned char)present;
	store_put_u64(p + 1, (uint64_t)op->now);
	store_put_u64(p + 9, (uint64_t)op->lim.delay);
	store_put_u64(p + 17, (uint64_t)op->lim.retry_window);
	store_put_u64(p + 25, (uint64_t)op->lim.max_age);
	store_put_u32(p + 33, op->lim.awl_clients);
	store_put_u32(p + 37, op->lim.awl_domains);
	p[41] = op->dry;
	p[42] = op->client.family == AF_INET ? 4 :
	    op->client.family == AF_INET6 ? 6 : 0;
	memcpy(p + 43, op->client.a, 16);
}

/* param_decode - 0, or -1 for bytes that are not a judgement's */
static int
param_decode(const unsigned char *p, size_t len, struct gl_args *a)
{
	if (len != GL_PARAM_SIZE || p[0] >> GL_NRECS != 0 || p[41] > 1 ||
	    (p[42] != 0 && p[42] != 4 && p[42] != 6))
		return -1;
	memset(a, 0, sizeof(*a));
	a->present = p[0];
	a->now = (int64_t)store_get_u64(p + 1);
	a->lim.delay = (int64_t)store_get_u64(p + 9);
	a->lim.retry_window = (int64_t)store_get_u64(p + 17);
	a->lim.max_age = (int64_t)store_get_u64(p + 25);
	a->lim.awl_clients = store_get_u32(p + 33);
	a->lim.awl_domains = store_get_u32(p + 37);
	a->dry = p[41];
	a->client.family = p[42] == 4 ? AF_INET : p[42] == 6 ? AF_INET6 : 0;
	memcpy(a->client.a, p + 43, 16);
	return 0;
}

/* Reads and writes of one judgement. */
struct judge_io {
	const struct gl_args *op;
	store_script_read_fn *rd;
	store_script_write_fn *wr;
	void *arg;
};

/* rd - record r's value: STORE_NOTFOUND for a record with no key */
static int
rd(const struct judge_io *io, enum gl_rec r, unsigned char *v, size_t *len,
    struct why *why)
{
	if (!(io->op->present & (1u << r)))
		return STORE_NOTFOUND;
	return io->rd(io->arg, (size_t)r, v, len, why);
}

/* awl_get - an AWL record, or a zero one when absent or expired */
static int
awl_get(const struct judge_io *io, enum gl_rec r, struct awl_entry *e,
    struct why *why)
{
	unsigned char v[STORE_VAL_MAX];
	size_t vlen = sizeof(v);
	int rc;

	memset(e, 0, sizeof(*e));
	rc = rd(io, r, v, &vlen, why);
	if (rc == STORE_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (awl_entry_decode(v, vlen, e) < 0 ||
	    io->op->now - e->last > io->op->lim.max_age)
		memset(e, 0, sizeof(*e)); /* damaged or expired: start over */
	return 0;
}

/*
 * awl_count - a pass: count it at most once per hour, store. An entry
 * whose count stays and whose last pass is under LAST_STEP old is
 * not written again: last-seen is kept to the minute (it moves the
 * entry's expiry, max_age, which is days), and a busy sender's requests
 * each cost a read instead of a write.
 */
static int
awl_count(const struct judge_io *io, enum gl_rec r, struct awl_entry *e,
    struct why *why)
{
	unsigned char v[AWL_ENTRY_SIZE];
	int64_t now = io->op->now;

	if (e->first == 0)
		e->first = now;
	if (e->count == 0 || now >= e->last_count + HOUR ||
	    e->last_count > now) {
		e->count++;
		e->last_count = now;
	} else if (e->last <= now && now - e->last < LAST_STEP) {
		return 0;
	}
	e->last = now;
	awl_entry_encode(e, v);
	return io->wr(io->arg, (size_t)r, v, sizeof(v),
	    awl_entry_expires(&io->op->lim, e), why);
}

/*
 * triplet - a triplet record that counts: 0 and *e; STORE_NOTFOUND when
 * absent, too old, damaged or from the future; or a store error
 */
static int
triplet(const struct judge_io *io, enum gl_rec r, struct gl_entry *e,
    struct why *why)
{
	unsigned char v[STORE_VAL_MAX];
	size_t vlen = sizeof(v);
	int rc = rd(io, r, v, &vlen, why);

	if (rc != 0)
		return rc;
	if (gl_entry_decode(v, vlen, e) < 0 || expired(&io->op->lim, e,
	    io->op->now) || e->first > io->op->now)
		return STORE_NOTFOUND;
	return 0;
}

/* no_write - the writer of a dry judgement: what it would write goes */
static int
no_write(void *arg, size_t k, const unsigned char *val, size_t len,
    int64_t expires, struct why *why)
{
	(void)arg;
	(void)k;
	(void)val;
	(void)len;
	(void)expires;
	(void)why;
	return 0;
}

/* judge - the whole judgement on the backend's reads and writes */
static int
judge(const struct gl_args *op, store_script_read_fn *rdf,
    store_script_write_fn *wr, void *arg, struct gl_result *res,
    struct why *why)
{
	const struct judge_io io = { op, rdf, op->dry ? no_write : wr, arg };
	const struct gl_limits *l = &op->lim;
	bool domain = op->present & (1u << GL_REC_DOMAIN), passed, again;
	unsigned char v[STORE_VAL_MAX];
	struct awl_entry ac, ad;
	size_t vlen = sizeof(v);
	int64_t now = op->now;
	struct gl_entry e;
	int rc;

	memset(res, 0, sizeof(*res));
	/* A reply to our own users' mail (the outbound records' time). */
	rc = rd(&io, GL_REC_CORRESPONDENT, v, &vlen, why);
	if (rc < 0)
		return rc;
	if (rc == 0 && vlen == 8 &&
	    (int64_t)store_get_u64(v) >= now - l->max_age) {
		res->status = GL_CORRESPONDENT;
		return 0;
	}
	/* The auto-whitelists decide first (a list that is off is not
	 * read: nothing of it is used). */
	memset(&ac, 0, sizeof(ac));
	if (l->awl_clients > 0 &&
	    (rc = awl_get(&io, GL_REC_CLIENT, &ac, why)) != 0)
		return rc;
	/* A pool's miss: its network's entry, carried over. */
	if (l->awl_clients > 0 && ac.count < l->awl_clients &&
	    (op->present & (1u << GL_REC_NET_CLIENT))) {
		struct awl_entry an;

		if ((rc = awl_get(&io, GL_REC_NET_CLIENT, &an, why)) != 0)
			return rc;
		if (an.count >= l->awl_clients)
			ac = an;
	}
	if (l->awl_clients > 0 && ac.count >= l->awl_clients) {
		res->status = GL_AWL_CLIENT;
		return awl_count(&io, GL_REC_CLIENT, &ac, why);
	}
	memset(&ad, 0, sizeof(ad));
	if (domain && l->awl_domains > 0 &&
	    (rc = awl_get(&io, GL_REC_DOMAIN, &ad, why)) != 0)
		return rc;
	if (domain && l->awl_domains > 0 && ad.count >= l->awl_domains) {
		res->status = GL_AWL_DOMAIN;
		rc = awl_count(&io, GL_REC_DOMAIN, &ad, why);
		if (rc == 0 && l->awl_clients > 0)
			rc = awl_count(&io, GL_REC_CLIENT, &ac, why);
		return rc;
	}

	if ((rc = triplet(&io, GL_REC_TRIPLET, &e, why)) < 0)
		return rc;
	/*
	 * A retry under a minute after its entry was last written, once
	 * the entry has seen two requests (first sight stays told from an
	 * early retry), from the address the entry holds, that neither
	 * passes now nor starts over: the entry is not written again.
	 * last-seen is kept to the minute (a passed entry expires max_age
	 * after it, days; a pending one retry_window after first-seen) and
	 * the count counts a request a minute: the requests of one
	 * transaction (RCPT, then DATA) and a sender's bursts read instead
	 * of write.
	 */
	again = rc == 0 && e.count >= 2 && e.last <= now &&
	    now - e.last < LAST_STEP && (e.passed_at != 0 ||
	    now - e.first < l->delay) &&
	    (!(op->present & (1u << GL_REC_NET_TRIPLET)) ||
	    addr_equal(&e.client, &op->client));
	/* A pool's miss: the network's triplet, carried over (postgrey
	 * passed it; or it was made before the sender's SPF passed). */
	if (rc == STORE_NOTFOUND &&
	    (op->present & (1u << GL_REC_NET_TRIPLET)) &&
	    (rc = triplet(&io, GL_REC_NET_TRIPLET, &e, why)) < 0)
		return rc;
	if (rc == STORE_NOTFOUND) {
		/* First sight, or an entry too old (or damaged) to count. */
		memset(&e, 0, sizeof(e));
		e.first = now;
	}
	if (!again) {
		e.last = now;
		/* A pool's entry keeps the address (its network key says
		 * none). */
		if (op->present & (1u << GL_REC_NET_TRIPLET))
			e.client = op->client;
		e.count++;
	}
	if (e.passed_at != 0) {
		res->status = GL_KNOWN;
	} else if (now - e.first >= l->delay) {
		res->status = GL_PASS;
		res->delayed = now - e.first;
		e.passed_at = now;
	} else {
		res->status = e.count == 1 ? GL_NEW : GL_EARLY;
		res->wait = l->delay - (now - e.first);
	}
	rc = again ? 0 : io.wr(arg, GL_REC_TRIPLET, v,
	    gl_entry_encode(&e, v), gl_entry_expires(l, &e), why);
	passed = res->status == GL_PASS || res->status == GL_KNOWN;
	if (rc == 0 && passed && l->awl_clients > 0)
		rc = awl_count(&io, GL_REC_CLIENT, &ac, why);
	if (rc == 0 && passed && domain && l->awl_domains > 0)
		rc = awl_count(&io, GL_REC_DOMAIN, &ad, why);
	return rc;
}

int
gl_judge(const void *param, size_t plen, store_script_read_fn *rdf,
    store_script_write_fn *wr, void *io, unsigned char *res, size_t *rlen,
    struct why *why)
{
	struct gl_result r;
	struct gl_args a;
	int rc;

	if (param_decode(param, plen, &a) < 0) {
		why_set(why, "greylist: parameters of %zu bytes that are not a "
			     "judgement's", plen);
		return STORE_ERROR;
	}
	if ((rc = judge(&a, rdf, wr, io, &r, why)) != 0)
		return rc;
	res[0] = (unsigned char)r.status;
	store_put_u64(res + 1, (uint64_t)r.wait);
	store_put_u64(res + 9, (uint64_t)r.delayed);
	*rlen = GL_RESULT_SIZE;
	return 0;
}

int
greylist_run(struct store *st, const struct gl_op *op,
    const struct store_call *c)
{
	unsigned char param[GL_PARAM_SIZE];
	struct store_tkey keys[GL_NRECS];
	int r;

	for (r = 0; r < GL_NRECS; r++) {
		keys[r].table = gl_table((enum gl_rec)r);
		keys[r].key = op->key[r];
		keys[r].klen = op->klen[r];
	}
	param_encode(op, param);
	return st->ops->run(st, GL_SCRIPT, keys, GL_NRECS, param,
	    sizeof(param), c);
}

int
greylist_result(const struct store_reply *r, struct gl_result *res)
{
	memset(res, 0, sizeof(*res));
	if (r->rc != 0 || r->vlen != GL_RESULT_SIZE ||
	    r->val[0] > GL_CORRESPONDENT)
		return -1;
	res->status = (enum gl_status)r->val[0];
	res->wait = (int64_t)store_get_u64(r->val + 1);
	res->delayed = (int64_t)store_get_u64(r->val + 9);
	return 0;
}

/* lower - lower-case s in place */
static void
lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* key_add - n bytes of p to a key of *o bytes, as many as fit (one byte
 * of GL_KEY_MAX is kept for the last NUL) */
static void
key_add(char *key, size_t *o, const char *p, size_t n)
{
	if (n > GL_KEY_MAX - 1 - *o)
		n = GL_KEY_MAX - 1 - *o;
	memcpy(key + *o, p, n);
	*o += n;
}

/*
 * key_join - "a\0b" or "a\0b\0c" (c not NULL), b at most PART_MAX bytes,
 * cut to GL_KEY_MAX with the NUL that ends it: its length
 */
static size_t
key_join(char *key, const char *a, const char *b, const char *c)
{
	size_t o = 0;

	key_add(key, &o, a, strlen(a) + 1);
	key_add(key, &o, b, strnlen(b, PART_MAX));
	if (c != NULL) {
		key_add(key, &o, "", 1);
		key_add(key, &o, c, strlen(c));
	}
	key[o] = '\0';
	return o + 1;
}

/* greylist_op - the keys of one request's records */
bool
greylist_op(const struct gl_conf *c, const struct req *req, const char *pool,
    int64_t now, struct gl_op *op)
{
	char net[GL_POOL_MAX], sender[2 * PART_MAX], rcpt[PART_MAX + 1];
	char netkey[CIDR_STRLEN];

	op->now = now;
	op->lim = gl_limits(c);
	memset(op->klen, 0, sizeof(op->klen));
	memset(&op->client, 0, sizeof(op->client));
	op->dry = false;
	if (!req->has_client_ip || req->rcpt.full == NULL)
		return false;
	op->client = req->client_ip;
	if (pool != NULL && pool[0] != '\0') {
		text_cat(net, sizeof(net), pool, NULL);
		lower(net);
		/* The network's own keys, for a pool's miss. */
		net_text(c, &req->client_ip, netkey, sizeof(netkey));
	} else {
		net_text(c, &req->client_ip, net, sizeof(net));
		netkey[0] = '\0';
	}
	if (req->sender.full == NULL || req->sender.is_null)
		sender[0] = '\0';
	else
		greylist_norm_sender(c, req->sender.full, sender,
		    sizeof(sender));
	text_cat(rcpt, sizeof(rcpt), req->rcpt.full, NULL);
	lower(rcpt);
	/* Keys end in a NUL, so they print and split as strings. */
	op->klen[GL_REC_CLIENT] = strlen(net) + 1;
	memcpy(op->key[GL_REC_CLIENT], net, op->klen[GL_REC_CLIENT]);
	if (!req->sender.is_null && req->sender.domain != NULL)
		op->klen[GL_REC_DOMAIN] = key_join(op->key[GL_REC_DOMAIN], net,
		    req->sender.domain, NULL);
	op->klen[GL_REC_TRIPLET] = key_join(op->key[GL_REC_TRIPLET], net,
	    sender, rcpt);
	if (netkey[0] != '\0') {
		op->klen[GL_REC_NET_CLIENT] = strlen(netkey) + 1;
		memcpy(op->key[GL_REC_NET_CLIENT], netkey,
		    op->klen[GL_REC_NET_CLIENT]);
		op->klen[GL_REC_NET_TRIPLET] = key_join(
		    op->key[GL_REC_NET_TRIPLET], netkey, sender, rcpt);
	}
	return true;
}
