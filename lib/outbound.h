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
 * The record of when the table began (value: the time, 8 bytes): the
 * history backscatter detection needs. No address key looks like it.
 */
#define OUTBOUND_SINCE "m\0since"

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

#endif
