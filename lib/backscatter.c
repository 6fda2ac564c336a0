/*
 * backscatter - the backscatter table's records (backscatter.h).
 */
#include "backscatter.h"

#include <stdio.h>
#include <string.h>

#include "store.h"

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
