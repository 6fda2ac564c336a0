/*
 * dns_int - the resolver's parts that tests reach directly: query
 * building, answer checking and interpretation, answer objects, the cache.
 * Not for the checks: they use dns.h.
 */
#ifndef POLICYD_DNS_INT_H
#define POLICYD_DNS_INT_H

#include <ldns/ldns.h>

#include "dns.h"

/* A shared, reference-counted answer: owned by the cache and by waiters. */
struct dns__ans {
	int refs;
	struct dns_answer pub;
	struct dns_rr *rrs;
	char *name;
	char *why;
	uint64_t expires; /* ms on the loop's clock */
	/* cache links */
	struct dns__ans *hnext;          /* hash chain */
	struct dns__ans *lru_prev, *lru_next;
	uint32_t hash;
	int cached;
};

/* dns__ans_new - an answer without records (status, why) */
struct dns__ans *dns__ans_new(const char *name, uint16_t type,
    enum dns_status st, const char *why);
void dns__ans_unref(struct dns__ans *a);

/* dns__build_query - a query in wire form (free() it); 0 or -1 */
int dns__build_query(const char *name, uint16_t type, uint16_t id,
    uint8_t **wire, size_t *len);

enum { DNS__MATCH, DNS__IGNORE, DNS__GARBAGE };
/*
 * dns__check_answer - is buf the answer to our question: DNS__MATCH (and
 * *pkt, to be freed), DNS__IGNORE (another ID, a question not ours, not
 * an answer: spoofed or stray), or DNS__GARBAGE (our ID, but malformed).
 */
int dns__check_answer(const uint8_t *buf, size_t len, uint16_t id,
    const char *name, uint16_t type, ldns_pkt **pkt, char *why,
    size_t whysize);

/*
 * dns__interpret - the answer a matching NOERROR or NXDOMAIN packet gives:
 * CNAMEs followed, records converted, TTLs clamped. Other RCODEs are the
 * caller's business.
 */
struct dns__ans *dns__interpret(const ldns_pkt *pkt, const char *name,
    uint16_t type, const struct dns_opts *o);

struct dns__cache;
struct dns__cache *dns__cache_new(size_t max);
void dns__cache_free(struct dns__cache *c);
/* dns__cache_put - keep a (referenced) answer until now + its TTL */
void dns__cache_put(struct dns__cache *c, struct dns__ans *a, uint64_t now);
/* dns__cache_get - a referenced answer, or NULL; expired ones go */
struct dns__ans *dns__cache_get(struct dns__cache *c, const char *name,
    uint16_t type, uint64_t now);
size_t dns__cache_count(const struct dns__cache *c);

#endif
