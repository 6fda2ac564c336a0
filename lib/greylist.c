/*
 * greylist - greylisting and auto-whitelist on the store.
 * Data flow: request -> greylist_check() -> store (one transaction) ->
 * result for the decision. The expiry sweep runs from a timer.
 */
#include "greylist.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "addr.h"
#include "request.h"
#include "store.h"
#include "xalloc.h"

#define HOUR 3600
#define TRIES 3 /* a transaction that loses a deadlock runs again */
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
	c->pool_spf_ipv4_prefix = 16;
	c->pool_spf_ipv6_prefix = 32;
	c->text = xstrdup("Greylisted: this is the first delivery attempt "
			  "for this sender and recipient from your network; "
			  "a correctly configured server retries, please "
			  "try again in {seconds} seconds");
	c->sweep_interval_ms = 60000;
	c->sweep_batch = 500;
}

/* gl_conf_fini - free the owned strings */
void
gl_conf_fini(struct gl_conf *c)
{
	free(c->text);
	c->text = NULL;
}

void
gl_entry_encode(const struct gl_entry *e, unsigned char *p)
{
	p[0] = 1; /* record version */
	store_put_u64(p + 1, (uint64_t)e->first);
	store_put_u64(p + 9, (uint64_t)e->last);
	store_put_u64(p + 17, (uint64_t)e->passed_at);
	store_put_u32(p + 25, e->count);
}

int
gl_entry_decode(const void *v, size_t len, struct gl_entry *e)
{
	const unsigned char *p = v;

	if (len != GL_ENTRY_SIZE || p[0] != 1)
		return -1;
	e->first = (int64_t)store_get_u64(p + 1);
	e->last = (int64_t)store_get_u64(p + 9);
	e->passed_at = (int64_t)store_get_u64(p + 17);
	e->count = store_get_u32(p + 25);
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

	snprintf(buf, sizeof(buf), "%s", addr);
	for (q = buf; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	if (c->strip_srs && (at = strrchr(buf, '@')) != NULL) {
		*at = '\0';
		if (unsrs(buf, srs, sizeof(srs)))
			snprintf(buf, sizeof(buf), "%s", srs);
		else
			*at = '@';
	}
	if ((at = strrchr(buf, '@')) == NULL) {
		snprintf(out, size, "%s", buf);
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
	snprintf(out + o, size - o, "@%s", domain);
	return out;
}

/* greylist_net - "addr/prefix" of the client's network */
char *
greylist_net(const struct gl_conf *c, const char *client, char *out,
    size_t size)
{
	struct ipaddr ip, net;
	char a[ADDR_STRLEN];
	unsigned prefix;

	if (addr_parse(client, &ip) < 0) {
		snprintf(out, size, "%s", client);
		return out;
	}
	prefix = ip.family == AF_INET ? c->ipv4_prefix : c->ipv6_prefix;
	addr_network(&ip, prefix, &net);
	snprintf(out, size, "%s/%u", addr_format(&net, a, sizeof(a)), prefix);
	return out;
}

/* greylist_expired - entry unused too long, or a try that never came */
bool
greylist_expired(const struct gl_conf *c, const struct gl_entry *e,
    int64_t now)
{
	if (now - e->last > c->max_age)
		return true;
	return e->passed_at == 0 && now - e->first > c->retry_window;
}

/* awl_get - an AWL record, or a zero one when absent or expired */
static int
awl_get(struct store_txn *txn, const struct store_ops *ops,
    enum store_table t, const char *key, size_t klen, int64_t now,
    int64_t max_age, struct awl_entry *e, struct why *why)
{
	unsigned char v[STORE_VAL_MAX];
	size_t vlen = sizeof(v);
	int rc;

	memset(e, 0, sizeof(*e));
	rc = ops->get(txn, t, key, klen, v, &vlen, why);
	if (rc == STORE_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (awl_entry_decode(v, vlen, e) < 0 || now - e->last > max_age)
		memset(e, 0, sizeof(*e)); /* damaged or expired: start over */
	return 0;
}

/* awl_count - a pass: count it at most once per hour, store */
static int
awl_count(struct store_txn *txn, const struct store_ops *ops,
    enum store_table t, const char *key, size_t klen, int64_t now,
    struct awl_entry *e, struct why *why)
{
	unsigned char v[AWL_ENTRY_SIZE];

	if (e->first == 0)
		e->first = now;
	if (e->count == 0 || now >= e->last_count + HOUR ||
	    e->last_count > now) {
		e->count++;
		e->last_count = now;
	}
	e->last = now;
	awl_entry_encode(e, v);
	return ops->put(txn, t, key, klen, v, sizeof(v), why);
}

/* check_once - the whole check in one transaction */
static int
check_once(struct store *st, const struct gl_conf *c, const char *net,
    const char *domain, const char *key, size_t klen, int64_t now,
    struct gl_result *res, struct why *why)
{
	const struct store_ops *ops = st->ops;
	struct awl_entry ac, ad;
	struct store_txn *txn;
	struct gl_entry e;
	unsigned char v[STORE_VAL_MAX];
	char dkey[STORE_KEY_MAX];
	size_t vlen = sizeof(v), nlen = strlen(net) + 1, dlen = 0;
	bool passed;
	int rc;

	if ((rc = ops->begin(st, &txn, why)) != 0)
		return rc;
	if (domain != NULL) {
		/* Keys end in a NUL, so they print and split as strings. */
		dlen = (size_t)snprintf(dkey, sizeof(dkey), "%s%c%.*s", net,
		    '\0', PART_MAX, domain) + 1;
		if (dlen > sizeof(dkey))
			dlen = sizeof(dkey);
	}

	/* The auto-whitelists decide first. */
	rc = awl_get(txn, ops, STORE_AWL_CLIENT, net, nlen, now, c->max_age,
	    &ac, why);
	if (rc == 0 && c->awl_clients > 0 && ac.count >= c->awl_clients) {
		res->status = GL_AWL_CLIENT;
		rc = awl_count(txn, ops, STORE_AWL_CLIENT, net, nlen, now, &ac,
		    why);
		goto done;
	}
	memset(&ad, 0, sizeof(ad));
	if (rc == 0 && dlen > 0)
		rc = awl_get(txn, ops, STORE_AWL_DOMAIN, dkey, dlen, now,
		    c->max_age, &ad, why);
	if (rc == 0 && dlen > 0 && c->awl_domains > 0 &&
	    ad.count >= c->awl_domains) {
		res->status = GL_AWL_DOMAIN;
		rc = awl_count(txn, ops, STORE_AWL_DOMAIN, dkey, dlen, now, &ad,
		    why);
		if (rc == 0 && c->awl_clients > 0)
			rc = awl_count(txn, ops, STORE_AWL_CLIENT, net, nlen,
			    now, &ac, why);
		goto done;
	}
	if (rc != 0)
		goto done;

	rc = ops->get(txn, STORE_GREYLIST, key, klen, v, &vlen, why);
	if (rc == STORE_NOTFOUND || (rc == 0 &&
	    (gl_entry_decode(v, vlen, &e) < 0 || greylist_expired(c, &e, now) ||
	    e.first > now))) {
		/* First sight, or an entry too old (or damaged) to count. */
		memset(&e, 0, sizeof(e));
		e.first = now;
		rc = 0;
	} else if (rc != 0) {
		goto done;
	}
	e.last = now;
	e.count++;
	if (e.passed_at != 0) {
		res->status = GL_KNOWN;
	} else if (now - e.first >= c->delay) {
		res->status = GL_PASS;
		res->delayed = now - e.first;
		e.passed_at = now;
	} else {
		res->status = e.count == 1 ? GL_NEW : GL_EARLY;
		res->wait = c->delay - (now - e.first);
	}
	gl_entry_encode(&e, v);
	rc = ops->put(txn, STORE_GREYLIST, key, klen, v, GL_ENTRY_SIZE, why);
	passed = res->status == GL_PASS || res->status == GL_KNOWN;
	if (rc == 0 && passed && c->awl_clients > 0)
		rc = awl_count(txn, ops, STORE_AWL_CLIENT, net, nlen, now, &ac,
		    why);
	if (rc == 0 && passed && dlen > 0 && c->awl_domains > 0)
		rc = awl_count(txn, ops, STORE_AWL_DOMAIN, dkey, dlen, now, &ad,
		    why);
done:
	if (rc != 0) {
		ops->abort(txn);
		return rc;
	}
	return ops->commit(txn, why);
}

/* greylist_check - judge and record one request */
int
greylist_check(struct store *st, const struct gl_conf *c,
    const struct req *req, const char *pool, int64_t now,
    struct gl_result *res, struct why *why)
{
	char net[GL_POOL_MAX], sender[2 * PART_MAX], key[STORE_KEY_MAX];
	char rcpt[PART_MAX + 1], *q;
	size_t klen;
	int rc = 0, i;

	memset(res, 0, sizeof(*res));
	if (!req->has_client_ip || req->rcpt.full == NULL) {
		res->status = GL_SKIP;
		return 0;
	}
	if (pool != NULL && pool[0] != '\0') {
		snprintf(net, sizeof(net), "%s", pool);
		for (q = net; *q; q++)
			*q = (char)tolower((unsigned char)*q);
	} else {
		greylist_net(c, req->client_addr, net, sizeof(net));
	}
	if (req->sender.full == NULL || req->sender.is_null)
		sender[0] = '\0';
	else
		greylist_norm_sender(c, req->sender.full, sender,
		    sizeof(sender));
	snprintf(rcpt, sizeof(rcpt), "%s", req->rcpt.full);
	for (q = rcpt; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	klen = (size_t)snprintf(key, sizeof(key), "%s%c%.*s%c%s", net, '\0',
	    PART_MAX, sender, '\0', rcpt) + 1;
	if (klen > sizeof(key))
		klen = sizeof(key);
	key[klen - 1] = '\0';

	for (i = 0; i < TRIES; i++) {
		memset(res, 0, sizeof(*res));
		rc = check_once(st, c, net,
		    req->sender.is_null ? NULL : req->sender.domain, key, klen,
		    now, res, why);
		if (rc != STORE_ERETRY)
			break;
	}
	return rc;
}

struct sweep_ctx {
	const struct gl_conf *c;
	enum store_table t;
	int64_t now;
	uint64_t deleted;
};

/* sweep_one - store_scan_fn: delete what has expired */
static int
sweep_one(void *arg, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct sweep_ctx *s = arg;

	(void)key;
	(void)klen;
	if (s->t == STORE_GREYLIST) {
		struct gl_entry e;

		if (gl_entry_decode(val, vlen, &e) < 0 ||
		    greylist_expired(s->c, &e, s->now)) {
			s->deleted++;
			return 2;
		}
	} else {
		struct awl_entry e;

		if (awl_entry_decode(val, vlen, &e) < 0 ||
		    s->now - e.last > s->c->max_age) {
			s->deleted++;
			return 2;
		}
	}
	return 0;
}

/* greylist_sweep - one bounded step of expiry in each table */
int
greylist_sweep(struct store *st, const struct gl_conf *c, int64_t now,
    struct gl_sweep *sw, struct why *why)
{
	static const enum store_table tables[3] = { STORE_GREYLIST,
		STORE_AWL_CLIENT, STORE_AWL_DOMAIN };
	int i, rc;

	for (i = 0; i < 3; i++) {
		struct sweep_ctx s = { c, tables[i], now, 0 };
		unsigned char next[STORE_KEY_MAX];
		struct store_txn *txn;
		size_t nlen = 0;

		if ((rc = st->ops->begin(st, &txn, why)) != 0)
			return rc;
		rc = st->ops->scan(txn, tables[i], sw->next[i], sw->nlen[i],
		    c->sweep_batch, sweep_one, &s, next, &nlen, why);
		if (rc == 0)
			rc = st->ops->commit(txn, why);
		else
			st->ops->abort(txn);
		if (rc != 0)
			return rc;
		memcpy(sw->next[i], next, nlen);
		sw->nlen[i] = nlen;
		sw->deleted += s.deleted;
	}
	return 0;
}
