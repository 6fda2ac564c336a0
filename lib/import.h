/*
 * import - bring another greylister's state into ours, keeping its times,
 * so a site that switches does not greylist its regular correspondents
 * again. Today: postgrey 1.37 (a Berkeley DB environment with
 * postgrey.db: "net/sender/recipient" -> "first,last[,host]", and
 * postgrey_clients.db: "address" -> "count,last"). Stop postgrey first:
 * opening its environment runs its recovery, as postgrey itself does at
 * start.
 */
#ifndef POLICYD_IMPORT_H
#define POLICYD_IMPORT_H

#include <stdint.h>

struct gl_conf;
struct store;
struct why;

struct import_stats {
	uint64_t triplets;  /* greylist entries written */
	uint64_t passed;    /* of those, already passed */
	uint64_t clients;   /* AWL client entries written or merged */
	uint64_t expired;   /* older than max_age: left out */
	uint64_t skipped;   /* unreadable (e.g. postgrey --privacy hashes) */
	uint64_t kept;      /* ours was newer: left alone */
};

/* import_postgrey - 0, or a negative code with why */
int import_postgrey(const char *dir, struct store *st,
    const struct gl_conf *c, int64_t now, struct import_stats *stats,
    struct why *why);

#endif
