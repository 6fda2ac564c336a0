/*
 * store - what every backend shares: the handle requests hold, error
 * names, and the big-endian codec of records.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/* store_get - the store behind the handle now */
struct store *
store_get(const struct store_handle *h)
{
	return h != NULL ? h->st : NULL;
}

/* store_walk - a whole table in batches, a lost batch undone and rerun */
int
store_walk(struct store *st, enum store_table t, size_t batch,
    unsigned tries, store_scan_fn *fn, void *arg, size_t argsize,
    store_batch_fn *done, struct why *why)
{
	unsigned char from[STORE_KEY_MAX], next[STORE_KEY_MAX];
	void *saved = argsize ? xmalloc(argsize) : NULL;
	size_t flen = 0, nlen = 0;
	unsigned lost = 0;
	int rc;

	for (;;) {
		struct store_txn *txn;

		if (saved != NULL)
			memcpy(saved, arg, argsize);
		if ((rc = st->ops->begin(st, &txn, why)) == 0) {
			rc = st->ops->scan(txn, t, from, flen, batch, fn, arg,
			    next, &nlen, why);
			if (rc == 0)
				rc = st->ops->commit(txn, why);
			else
				st->ops->abort(txn);
		}
		if (rc == STORE_ERETRY && ++lost < tries) {
			/* Run again from the same key, as if never run. */
			if (saved != NULL)
				memcpy(arg, saved, argsize);
			if (done != NULL)
				done(arg, false);
			continue;
		}
		if (rc != 0) {
			/* Given up: the batch did not happen either. */
			if (saved != NULL)
				memcpy(arg, saved, argsize);
			if (done != NULL)
				done(arg, false);
			break;
		}
		if (done != NULL)
			done(arg, true);
		lost = 0;
		if (nlen == 0)
			break;
		memcpy(from, next, nlen);
		flen = nlen;
	}
	free(saved);
	return rc;
}

/* store_error_name - a word for an error code */
const char *
store_error_name(int rc)
{
	switch (rc) {
	case 0:
		return "ok";
	case STORE_NOTFOUND:
		return "not found";
	case STORE_ERETRY:
		return "busy";
	case STORE_EFATAL:
		return "fatal";
	case STORE_ESCHEMA:
		return "schema";
	case STORE_EFULL:
		return "full";
	default:
		return "error";
	}
}

/* store_put_u32 - four bytes, big-endian */
void
store_put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* store_put_u64 - eight bytes, big-endian */
void
store_put_u64(unsigned char *p, uint64_t v)
{
	store_put_u32(p, (uint32_t)(v >> 32));
	store_put_u32(p + 4, (uint32_t)v);
}

/* store_get_u32 - four bytes, big-endian */
uint32_t
store_get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* store_get_u64 - eight bytes, big-endian */
uint64_t
store_get_u64(const unsigned char *p)
{
	return (uint64_t)store_get_u32(p) << 32 | store_get_u32(p + 4);
}
