/*
 * outbound - what our own users sent, as the store keeps it (table
 * "outbound"): per local sender when it last sent, and per (local sender,
 * remote recipient) when it last wrote to that recipient. The outbound
 * state module writes them; greylisting reads them (a reply from a
 * correspondent is not delayed), and so will backscatter detection (a
 * bounce to a local address that sent nothing is backscatter).
 *
 * Keys: "s" NUL sender, and "r" NUL sender NUL recipient, the addresses
 * lower-cased; values: the time, 8 bytes big-endian.
 */
#ifndef POLICYD_OUTBOUND_H
#define POLICYD_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OUTBOUND_TABLE "outbound"
/*
 * The record of the history's coverage (value: since, until and last, 8
 * bytes each): our users' mail was recorded without a gap from since to
 * until, by the daemon (the outbound module's heartbeat, every minute
 * while it runs) or from an imported mail log; last is when the latest
 * mail of theirs was recorded, the evidence that their mail passes
 * policyd at all. Backscatter detection judges only when the coverage
 * reaches the present and spans bounce_window, and some mail of theirs
 * was recorded within it. No address key looks like it. (An older
 * "m\0since", the first record's time whatever came after, is no longer
 * read; a value of 16 bytes reads with last 0.)
 */
#define OUTBOUND_COVER   "m\0cover"
#define OUTBOUND_MAX_GAP 3600 /* seconds without the daemon's heartbeat
			       * that make a gap */

struct outbound_cover {
	int64_t since, until; /* 0, 0: nothing covered */
	int64_t last;         /* our users' latest mail recorded; 0: none */
};

/* outbound_cover_decode - a stored value; false if it is none */
bool outbound_cover_decode(const void *v, size_t len,
    struct outbound_cover *c);
/* outbound_cover_encode - into v (24 bytes); the length */
size_t outbound_cover_encode(const struct outbound_cover *c,
    unsigned char *v);
/*
 * outbound_cover_join - the stretch add joined to what is kept (old, or
 * NULL): their union when they meet or lie at most gap seconds apart,
 * else the newer of the two (coverage must reach the present); the later
 * last of the two either way
 */
struct outbound_cover outbound_cover_join(const struct outbound_cover *old,
    const struct outbound_cover *add, int64_t gap);
/*
 * outbound_cover_live - the coverage reaches now (within gap) and spans
 * window: detection may judge. Otherwise *starts: when it would be live
 * if nothing breaks the coverage from now on (0: not before a new
 * stretch begins)
 */
bool outbound_cover_live(const struct outbound_cover *c, int64_t now,
    int64_t window, int64_t gap, int64_t *starts);

/*
 * outbound_key - the key of a sender's record (rcpt NULL) or of a
 * (sender, recipient) record into buf; its length, or 0 if it does not
 * fit
 */
size_t outbound_key(char *buf, size_t size, const char *sender,
    const char *rcpt);
/*
 * outbound_parse - a key back into its sender and recipient (NULL for a
 * sender's record), copied into the buffers; false if it is no such key
 */
bool outbound_parse(const void *key, size_t klen, char *sender,
    size_t ssize, char *rcpt, size_t rsize);

struct store_rec;
/*
 * outbound_merge_cover - the store's merge "outbound.cover": the put's
 * value (an encoded coverage: the stretch to add) joined to the one kept
 * (outbound_cover_join); param: the longest gap, 8 bytes big-endian
 */
bool outbound_merge_cover(const void *param, size_t plen,
    const struct store_rec *old, struct store_rec *out);

#endif
