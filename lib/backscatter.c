/*
 * backscatter - the backscatter table's records (backscatter.h).
 */
#include "backscatter.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "xalloc.h"

#define V0_HDR 36 /* first, last, since, until: 8 bytes; hits: 4 */
#define V1_HDR 39 /* 'B', 1, the same 36, and the count of recipients */
#define V1_RCPT 8 /* a hash, and its age before last: 4 bytes each */

size_t
bs_key(char *buf, size_t size, const char *addr)
{
	int n;

	if (size < 3)
		return 0;
	buf[0] = 'h';
	buf[1] = '\0';
	n = snprintf(buf + 2, size - 2, "%s", addr);
	return n < 0 || (size_t)n >= size - 2 ? 0 : 2 + (size_t)n;
}

/* times - first, last, hits and trusted, since, until at v */
static void
times(const unsigned char *v, struct bs_rec *r)
{
	r->first = (int64_t)store_get_u64(v);
	r->last = (int64_t)store_get_u64(v + 8);
	r->hits = store_get_u32(v + 16) & 0x7fffffffu;
	r->trusted = (store_get_u32(v + 16) >> 31) != 0;
	r->since = (int64_t)store_get_u64(v + 20);
	r->until = (int64_t)store_get_u64(v + 28);
}

/* text - the recipients' addresses at the value's end */
static bool
text(const unsigned char *v, size_t len, struct bs_rec *r)
{
	if (len >= sizeof(r->rcpts))
		return false;
	memcpy(r->rcpts, v, len);
	r->rcpts[len] = '\0';
	return true;
}

bool
bs_rec_decode(const unsigned char *v, size_t len, struct bs_rec *r)
{
	size_t i, o;

	memset(r, 0, sizeof(*r));
	if (len >= V0_HDR && v[0] == 0) {
		times(v, r);
		return text(v + V0_HDR, len - V0_HDR, r);
	}
	if (len < V1_HDR || v[0] != 'B' || v[1] != 1 ||
	    v[V1_HDR - 1] > BS_MAX_RCPTS ||
	    len < V1_HDR + (size_t)v[V1_HDR - 1] * V1_RCPT)
		return false;
	times(v + 2, r);
	r->nr = v[V1_HDR - 1];
	for (i = 0, o = V1_HDR; i < r->nr; i++, o += V1_RCPT) {
		r->r[i].hash = store_get_u32(v + o);
		r->r[i].at = r->last - (int64_t)store_get_u32(v + o + 4);
	}
	return text(v + o, len - o, r);
}

size_t
bs_rec_encode(const struct bs_rec *r, unsigned char *v)
{
	size_t i, o, room, n = strnlen(r->rcpts, sizeof(r->rcpts) - 1);
	unsigned nr = r->nr > BS_MAX_RCPTS ? BS_MAX_RCPTS : r->nr;

	v[0] = 'B';
	v[1] = 1;
	store_put_u64(v + 2, (uint64_t)r->first);
	store_put_u64(v + 10, (uint64_t)r->last);
	store_put_u32(v + 18, (r->hits & 0x7fffffffu) |
	    (r->trusted ? 0x80000000u : 0));
	store_put_u64(v + 22, (uint64_t)r->since);
	store_put_u64(v + 30, (uint64_t)r->until);
	v[V1_HDR - 1] = (unsigned char)nr;
	for (i = 0, o = V1_HDR; i < nr; i++, o += V1_RCPT) {
		int64_t age = r->last - r->r[i].at;

		store_put_u32(v + o, r->r[i].hash);
		store_put_u32(v + o + 4, age < 0 ? 0 : age > UINT32_MAX
		    ? UINT32_MAX : (uint32_t)age);
	}
	/* The addresses are for people: cut at a blank to what fits. */
	room = STORE_VAL_MAX - o;
	if (n > room) {
		n = room;
		while (n > 0 && r->rcpts[n] != ' ')
			n--;
	}
	memcpy(v + o, r->rcpts, n);
	return o + n;
}

uint32_t
bs_rcpt_hash(const char *addr)
{
	uint32_t h = 2166136261u;

	for (; *addr; addr++) {
		h ^= (unsigned char)*addr;
		h *= 16777619u;
	}
	return h;
}

unsigned
bs_rec_recent(const struct bs_rec *r, int64_t now, int64_t window)
{
	unsigned i, n = 0;

	for (i = 0; i < r->nr; i++)
		n += now - r->r[i].at <= window;
	return n;
}

#define HIT_HDR 30 /* now, hit_window, block_for: 8; threshold: 4; trusted,
		    * n: 1 */

size_t
bs_hit_encode(const struct bs_hit *h, unsigned char *p)
{
	size_t o = HIT_HDR, i;

	store_put_u64(p, (uint64_t)h->now);
	store_put_u64(p + 8, (uint64_t)h->hit_window);
	store_put_u64(p + 16, (uint64_t)h->block_for);
	store_put_u32(p + 24, h->threshold);
	p[28] = h->trusted;
	p[29] = (unsigned char)(h->n < BS_MAX_RCPTS ? h->n : BS_MAX_RCPTS);
	for (i = 0; i < p[29]; i++) {
		size_t len = strlen(h->rcpt[i]);

		/* The text is for people: a hash always fits, the text if
		 * there is room (5 bytes kept for each hash after). */
		if (o + 5 + len + 5 * (p[29] - i - 1) > STORE_PARAM_MAX)
			len = 0;
		store_put_u32(p + o, h->hash[i]);
		p[o + 4] = (unsigned char)len;
		memcpy(p + o + 5, h->rcpt[i], len);
		o += 5 + len;
	}
	return o;
}

bool
bs_hit_decode(const void *param, size_t len, struct bs_hit *h)
{
	const unsigned char *p = param;
	size_t o = HIT_HDR, i;

	memset(h, 0, sizeof(*h));
	if (len < HIT_HDR || p[29] > BS_MAX_RCPTS)
		return false;
	h->now = (int64_t)store_get_u64(p);
	h->hit_window = (int64_t)store_get_u64(p + 8);
	h->block_for = (int64_t)store_get_u64(p + 16);
	h->threshold = store_get_u32(p + 24);
	h->trusted = p[28] != 0;
	h->n = p[29];
	for (i = 0; i < h->n; i++) {
		size_t tl;

		if (o + 5 > len || (tl = p[o + 4]) > BS_HIT_TEXT ||
		    o + 5 + tl > len)
			return false;
		h->hash[i] = store_get_u32(p + o);
		memcpy(h->rcpt[i], p + o + 5, tl);
		h->rcpt[i][tl] = '\0';
		o += 5 + tl;
	}
	return o == len;
}

bool
bs_merge_hit(const void *param, size_t plen, const struct store_rec *old,
    struct store_rec *out)
{
	struct bs_hit h;
	struct bs_rec r;
	unsigned i, k, kept;
	size_t n;

	if (!bs_hit_decode(param, plen, &h))
		return false;
	if (old == NULL || !bs_rec_decode(old->val, old->vlen, &r)) {
		memset(&r, 0, sizeof(r));
		r.first = h.now;
	}
	/* Recipients out of hit_window count no more. */
	for (i = kept = 0; i < r.nr; i++)
		if (h.now - r.r[i].at <= h.hit_window)
			r.r[kept++] = r.r[i];
	r.nr = kept;
	if (r.nr == 0 && r.until <= h.now) { /* an old series: anew */
		r.first = h.now;
		r.hits = 0;
		r.trusted = false;
		r.rcpts[0] = '\0';
	}
	r.last = h.now;
	r.hits++;
	/* A client a high-trust allowlisting vouches for is one address of
	 * a shared platform: its block is for bounces only. */
	if (h.trusted)
		r.trusted = true;
	for (k = 0; k < h.n; k++) {
		unsigned at = r.nr, oldest = 0;

		/* The same recipient again counts once. */
		for (i = 0; i < r.nr; i++) {
			if (r.r[i].hash == h.hash[k])
				at = i;
			if (r.r[i].at < r.r[oldest].at)
				oldest = i;
		}
		if (at == r.nr && r.nr == BS_MAX_RCPTS)
			at = oldest;
		else if (at == r.nr)
			r.nr++;
		r.r[at] = (struct bs_rcpt){ h.hash[k], h.now };
		/* The last addresses, newest last, for policyctl. */
		n = strlen(r.rcpts);
		if (h.rcpt[k][0] != '\0' && strstr(r.rcpts, h.rcpt[k]) == NULL &&
		    n + strlen(h.rcpt[k]) + 2 < sizeof(r.rcpts)) {
			if (n > 0)
				r.rcpts[n++] = ' ';
			memcpy(r.rcpts + n, h.rcpt[k], strlen(h.rcpt[k]) + 1);
		}
	}
	if (bs_rec_recent(&r, h.now, h.hit_window) >= h.threshold &&
	    r.until <= h.now) {
		r.since = h.now;
		r.until = h.now + h.block_for;
		/* The evidence made this block; the next needs its own. */
		r.nr = 0;
	}
	out->vlen = bs_rec_encode(&r, (unsigned char *)(uintptr_t)out->val);
	out->expires = (r.until > h.now ? r.until : h.now) +
	    (h.block_for > h.hit_window ? h.block_for : h.hit_window);
	return true;
}

/* One client blocked: its record's key, and when the block ends. */
struct blk {
	unsigned char key[64];
	size_t klen;
	int64_t until;
};

/* A set of blocks: few (a block needs evidence), so an array. */
struct blks {
	struct blk *v;
	size_t n, cap;
};

static struct {
	pthread_mutex_t lock;
	struct blks now;      /* the blocks known */
	struct blks during;   /* notes while a walk runs, in order */
	bool walking;
	bool loaded;
	int64_t loaded_at;
} blocks = { .lock = PTHREAD_MUTEX_INITIALIZER };

#define HOUR 3600

/* blks_set - key's block ends at until (0 or past: none); false: full */
static bool
blks_set(struct blks *b, const void *key, size_t klen, int64_t until,
    bool keep_ended)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (b->v[i].klen == klen && memcmp(b->v[i].key, key, klen) == 0)
			break;
	if (i < b->n && until == 0 && !keep_ended) {
		b->v[i] = b->v[--b->n];
		return true;
	}
	if (i == b->n) {
		if (until == 0 && !keep_ended)
			return true;
		if (b->n == BS_BLOCKS_MAX)
			return false;
		if (b->n == b->cap) {
			b->cap = b->cap ? 2 * b->cap : 16;
			b->v = xrealloc(b->v, b->cap * sizeof(*b->v));
		}
		b->n++;
		memcpy(b->v[i].key, key, klen);
		b->v[i].klen = klen;
	}
	b->v[i].until = until;
	return true;
}

void
bs_blocks_note(const void *key, size_t klen, int64_t until)
{
	if (klen == 0 || klen > sizeof(((struct blk *)0)->key))
		return;
	pthread_mutex_lock(&blocks.lock);
	if (!blks_set(&blocks.now, key, klen, until, false))
		blocks.loaded = false; /* over the bound: a walk next round */
	if (blocks.walking && !blks_set(&blocks.during, key, klen, until,
	    true))
		blocks.loaded = false;
	pthread_mutex_unlock(&blocks.lock);
}

uint64_t
bs_blocks_count(int64_t now)
{
	size_t i = 0;
	uint64_t n;

	pthread_mutex_lock(&blocks.lock);
	while (i < blocks.now.n) {
		if (blocks.now.v[i].until <= now)
			blocks.now.v[i] = blocks.now.v[--blocks.now.n];
		else
			i++;
	}
	n = blocks.now.n;
	pthread_mutex_unlock(&blocks.lock);
	return n;
}

bool
bs_blocks_due(int64_t now)
{
	bool due;

	pthread_mutex_lock(&blocks.lock);
	due = !blocks.walking && (!blocks.loaded ||
	    now - blocks.loaded_at >= HOUR || now < blocks.loaded_at);
	pthread_mutex_unlock(&blocks.lock);
	return due;
}

struct load {
	struct blks got;
	int64_t now;
};

/* load_row - store_row_fn of the walk: a block in force */
static void
load_row(void *arg, const struct store_rec *r)
{
	struct load *l = arg;
	struct bs_rec b;

	if (r->klen <= sizeof(((struct blk *)0)->key) &&
	    bs_rec_decode(r->val, r->vlen, &b) && b.until > l->now)
		blks_set(&l->got, r->key, r->klen, b.until, false);
}

int
bs_blocks_load(struct store *st, int64_t now, struct why *why)
{
	struct load l = { .now = now };
	size_t i;
	int rc;

	pthread_mutex_lock(&blocks.lock);
	if (blocks.walking) {
		pthread_mutex_unlock(&blocks.lock);
		return 0;
	}
	blocks.walking = true;
	blocks.during.n = 0;
	pthread_mutex_unlock(&blocks.lock);

	rc = store_each(st, NULL, BS_TABLE, 500, NULL, load_row, &l, NULL,
	    why);

	pthread_mutex_lock(&blocks.lock);
	if (rc == 0) {
		/* What was noted meanwhile is newer than what the walk
		 * read. */
		for (i = 0; i < blocks.during.n; i++)
			blks_set(&l.got, blocks.during.v[i].key,
			    blocks.during.v[i].klen, blocks.during.v[i].until,
			    false);
		free(blocks.now.v);
		blocks.now = l.got;
		l.got.v = NULL;
		blocks.loaded = true;
		blocks.loaded_at = now;
	}
	blocks.walking = false;
	blocks.during.n = 0;
	pthread_mutex_unlock(&blocks.lock);
	free(l.got.v);
	return rc < 0 ? -1 : 0;
}

void
bs_blocks_reset(void)
{
	pthread_mutex_lock(&blocks.lock);
	free(blocks.now.v);
	free(blocks.during.v);
	memset(&blocks.now, 0, sizeof(blocks.now));
	memset(&blocks.during, 0, sizeof(blocks.during));
	blocks.loaded = false;
	blocks.loaded_at = 0;
	pthread_mutex_unlock(&blocks.lock);
}
