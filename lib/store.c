/*
 * store - what every backend shares: the handle requests hold, error
 * names, and the big-endian codec of records.
 */
#include "store.h"

/* store_get - the store behind the handle now */
struct store *
store_get(const struct store_handle *h)
{
	return h != NULL ? h->st : NULL;
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
