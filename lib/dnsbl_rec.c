/*
 * dnsbl_rec - the DNS lists' state records (see dnsbl_rec.h).
 */
#include "dnsbl_rec.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

size_t
bl_rec_encode(const struct bl_rec *r, char *val, size_t size)
{
	int n = snprintf(val, size, "%s|%" PRId64 "|%" PRId64 "|%" PRIu64
	    "|%" PRIu64 "|%" PRIu64 "|%" PRIu64 "|%s", r->state, r->since,
	    r->tested, r->lookups, r->hits, r->errors, r->skipped, r->why);

	if (n < 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}

int
bl_rec_decode(const void *key, size_t klen, const void *val, size_t vlen,
    struct bl_rec *r)
{
	char v[512];
	long long since, tested;
	unsigned long long lookups, hits, errors, skipped;
	int used = 0;

	memset(r, 0, sizeof(*r));
	if (klen == 0 || klen >= sizeof(r->name) || vlen >= sizeof(v))
		return -1;
	memcpy(r->name, key, klen);
	memcpy(v, val, vlen);
	v[vlen] = '\0';
	if (sscanf(v, "%15[a-z]|%lld|%lld|%llu|%llu|%llu|%llu|%n", r->state,
	    &since, &tested, &lookups, &hits, &errors, &skipped, &used) < 7 ||
	    used == 0)
		return -1;
	r->since = since;
	r->tested = tested;
	r->lookups = lookups;
	r->hits = hits;
	r->errors = errors;
	r->skipped = skipped;
	snprintf(r->why, sizeof(r->why), "%s", v + used);
	return 0;
}
