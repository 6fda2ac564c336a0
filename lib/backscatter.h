/*
 * backscatter - the backscatter table as the store keeps it (see
 * lib/checks/backscatter.c): one record per client address, key "h" NUL
 * address; value: first and last hit, hits (its top bit: trusted),
 * blocked since and until, then the last recipients that caused hits,
 * blank-separated.
 */
#ifndef POLICYD_BACKSCATTER_H
#define POLICYD_BACKSCATTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BS_TABLE "backscatter"
#define BS_HDR   36 /* first, last, since, until: 8 bytes; hits: 4 */

struct bs_rec {
	int64_t first, last, since, until;
	uint32_t hits;     /* stored in the low 31 bits of its word */
	bool trusted;      /* a hit came from a client a high-trust
			    * allowlisting vouched for (the word's top
			    * bit): blocked for bounces only */
	char rcpts[200];
};

/* bs_key - the key of a client address into buf (64 bytes); its length */
size_t bs_key(char *buf, size_t size, const char *addr);
/* bs_rec_decode - a stored value; false if it is damaged */
bool bs_rec_decode(const unsigned char *v, size_t len, struct bs_rec *r);
/* bs_rec_encode - into v (STORE_VAL_MAX bytes); the value's length */
size_t bs_rec_encode(const struct bs_rec *r, unsigned char *v);

#endif
