/*
 * backscatter - the backscatter table's records (backscatter.h).
 */
#include "backscatter.h"

#include <stdio.h>
#include <string.h>

#include "store.h"

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

bool
bs_rec_decode(const unsigned char *v, size_t len, struct bs_rec *r)
{
	memset(r, 0, sizeof(*r));
	if (len < BS_HDR || len - BS_HDR >= sizeof(r->rcpts))
		return false;
	r->first = (int64_t)store_get_u64(v);
	r->last = (int64_t)store_get_u64(v + 8);
	r->hits = store_get_u32(v + 16) & 0x7fffffffu;
	r->trusted = (store_get_u32(v + 16) >> 31) != 0;
	r->since = (int64_t)store_get_u64(v + 20);
	r->until = (int64_t)store_get_u64(v + 28);
	memcpy(r->rcpts, v + BS_HDR, len - BS_HDR);
	r->rcpts[len - BS_HDR] = '\0';
	return true;
}

size_t
bs_rec_encode(const struct bs_rec *r, unsigned char *v)
{
	size_t n = strnlen(r->rcpts, sizeof(r->rcpts) - 1);

	store_put_u64(v, (uint64_t)r->first);
	store_put_u64(v + 8, (uint64_t)r->last);
	store_put_u32(v + 16, (r->hits & 0x7fffffffu) |
	    (r->trusted ? 0x80000000u : 0));
	store_put_u64(v + 20, (uint64_t)r->since);
	store_put_u64(v + 28, (uint64_t)r->until);
	memcpy(v + BS_HDR, r->rcpts, n);
	return BS_HDR + n;
}
