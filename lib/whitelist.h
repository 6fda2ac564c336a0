/*
 * whitelist - per-recipient sender entries as the store keeps them
 * (table "whitelist"; lib/checks/whitelist.c reads them, policyctl
 * writes them): key recipient NUL sender, each an address or @domain,
 * lower-cased; value: when it was added (8 bytes); no expiry.
 */
#ifndef POLICYD_WHITELIST_H
#define POLICYD_WHITELIST_H

#include <stddef.h>

#define WL_TABLE    "whitelist"
#define WL_ADDR_MAX 320 /* longest address or @domain of an entry */

struct why;
/*
 * whitelist_norm - s as an entry's side, lower-cased (malloc'ed), or
 * NULL with why set when it is neither an address nor @domain (a
 * wildcard among it: what to write instead)
 */
char *whitelist_norm(const char *s, struct why *why);
/* whitelist_key - the key of (rcpt, sender) into buf; 0 if it does not fit */
size_t whitelist_key(char *buf, size_t size, const char *rcpt,
    const char *sender);

#endif
