/*
 * backscatter - the backscatter table as the store keeps it (see
 * lib/checks/backscatter.c): one record per client address, key "h" NUL
 * address; value: first and last hit, hits, blocked since and until, the
 * distinct recipients whose bounces were hits lately (a hash of each
 * address and when), and the last recipients' addresses for policyctl.
 *
 * Two formats are read: version 1 (a first byte 'B', then 1) and the
 * older one without recipients' hashes (a first byte 0: the first hit's
 * time, big-endian), which reads as a record with none counted.
 */
#ifndef POLICYD_BACKSCATTER_H
#define POLICYD_BACKSCATTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BS_TABLE     "backscatter"
#define BS_MAX_RCPTS 16 /* distinct recipients a record counts; the
			 * highest threshold */

struct bs_rcpt {
	uint32_t hash; /* bs_rcpt_hash of the lower-cased address */
	int64_t at;    /* its last hit */
};

struct bs_rec {
	int64_t first, last, since, until;
	uint32_t hits;     /* bounces counted (low 31 bits stored) */
	bool trusted;      /* a hit came from a client a high-trust
			    * allowlisting vouched for: blocked for bounces
			    * only */
	unsigned nr;       /* recipients counted, at most BS_MAX_RCPTS */
	struct bs_rcpt r[BS_MAX_RCPTS];
	char rcpts[200];   /* the last recipients, blank-separated; cut to
			    * what the value has room for */
};

/* bs_key - the key of a client address into buf (64 bytes); its length */
size_t bs_key(char *buf, size_t size, const char *addr);
/* bs_rec_decode - a stored value; false if it is damaged */
bool bs_rec_decode(const unsigned char *v, size_t len, struct bs_rec *r);
/* bs_rec_encode - into v (STORE_VAL_MAX bytes); the value's length */
size_t bs_rec_encode(const struct bs_rec *r, unsigned char *v);
/* bs_rcpt_hash - of a lower-cased address (FNV-1a, 32 bits) */
uint32_t bs_rcpt_hash(const char *addr);
/*
 * bs_rec_recent - recipients counted within window seconds before now
 * (what a block needs threshold of)
 */
unsigned bs_rec_recent(const struct bs_rec *r, int64_t now, int64_t window);

/*
 * A hit, as the store's merge "backscatter.hit" takes it: the bounces'
 * recipients that were hits at now, and the policy's numbers. Data, so
 * the merge runs where the record is (a transaction, a server's script).
 */
#define BS_HIT_TEXT 200 /* of an address, for the record's text */
struct bs_hit {
	int64_t now, hit_window, block_for;
	unsigned threshold;
	bool trusted;      /* a high-trust allowlisting vouches for it */
	unsigned n;        /* at most BS_MAX_RCPTS */
	uint32_t hash[BS_MAX_RCPTS];
	char rcpt[BS_MAX_RCPTS][BS_HIT_TEXT + 1]; /* "" where no room */
};
/* bs_hit_encode - into p (STORE_PARAM_MAX bytes); its length */
size_t bs_hit_encode(const struct bs_hit *h, unsigned char *p);
/* bs_hit_decode - false if it is no hit's parameters */
bool bs_hit_decode(const void *p, size_t len, struct bs_hit *h);
struct store_rec;
/*
 * bs_merge_hit - the store's merge "backscatter.hit": the hits counted
 * into the record there (or a new one), the block set when due; param a
 * bs_hit_encode()d hit. The record written says whether it blocked
 * (since == now, until > now).
 */
bool bs_merge_hit(const void *param, size_t plen,
    const struct store_rec *old, struct store_rec *out);

/*
 * The clients blocked now, as this process knows them: the metrics'
 * gauge without a walk of the table every round. A walk loads it
 * (bs_blocks_load: when bs_blocks_due says so, at the first round and
 * hourly after, for changes nobody told us of: another host's, or a
 * note that was lost to the bound); every change this process makes
 * tells it (bs_blocks_note: the record's block now, until 0 when it has
 * none: made, lengthened, or ended by policyctl). A note during a walk
 * is applied again after it, so the walk's older read does not undo it.
 * At most BS_BLOCKS_MAX clients. Process-wide, from any thread.
 */
#define BS_BLOCKS_MAX 100000
void bs_blocks_note(const void *key, size_t klen, int64_t until);
/* bs_blocks_count - how many blocks have not ended at now */
uint64_t bs_blocks_count(int64_t now);
/* bs_blocks_due - a walk is due (none yet, or the last an hour ago) */
bool bs_blocks_due(int64_t now);
struct store;
struct why;
/* bs_blocks_load - walk the table (store_each, loop as there): 0 or -1 */
int bs_blocks_load(struct store *st, int64_t now, struct why *why);
/* bs_blocks_reset - forget everything (tests; a process's next store) */
void bs_blocks_reset(void);

struct chk_policy;
/*
 * backscatter_bounce_window - the check's bounce_window in a policy (its
 * entry of cfg->checks), for policyctl; 0 when the check is off
 */
int64_t backscatter_bounce_window(const struct chk_policy *pol);
/*
 * A block's length: the policy's block_for (BS_BLOCK_FOR_MIN to _MAX
 * seconds, 4 days by default); policyctl's block --for takes the same
 * range. backscatter_block_for - a policy's (its default if pol has no
 * options)
 */
#define BS_BLOCK_FOR_MIN 3600
#define BS_BLOCK_FOR_MAX (60 * 86400)
#define BS_BLOCK_FOR_DEFAULT (4 * 86400)
int64_t backscatter_block_for(const struct chk_policy *pol);

#endif
