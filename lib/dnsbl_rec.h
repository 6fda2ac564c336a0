/*
 * dnsbl_rec - the DNS lists' states as the store keeps them (the table
 * BL_TABLE, one record per list, key: the list's name, "/ipv6" added for
 * an ip list's IPv6 side), written by the dnsbl check and read by
 * --stdio processes, policyctl stats and the metrics: one codec for all.
 * The value is text, "state|since|tested|lookups|hits|errors|skipped|why"
 * (what schema 2 wrote).
 */
#ifndef POLICYD_DNSBL_REC_H
#define POLICYD_DNSBL_REC_H

#include <stddef.h>
#include <stdint.h>

#define BL_TABLE "dnsbl"

struct bl_rec {
	char name[80];    /* the list's name, "/ipv6" for its IPv6 side */
	char state[16];   /* untested, ok, disabled, unusable, backoff */
	char why[320];
	int64_t since;    /* in this state since */
	int64_t tested;   /* the last self-test; 0: none */
	uint64_t lookups, hits, errors, skipped;
};

/* bl_rec_encode - r's value into val (size bytes); its length */
size_t bl_rec_encode(const struct bl_rec *r, char *val, size_t size);
/*
 * bl_rec_decode - a record (key: the name, klen bytes) into r: 0, or -1
 * if it is not one (too long, malformed)
 */
int bl_rec_decode(const void *key, size_t klen, const void *val,
    size_t vlen, struct bl_rec *r);

#endif
