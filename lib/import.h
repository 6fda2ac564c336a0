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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

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

struct import_src;

/*
 * import_postgrey_open - postgrey's environment in dir (its recovery
 * runs, as at postgrey's start) and its tables; 0, or -1 with why. Open
 * it with the rights that can read postgrey's files (root), and the
 * store with those of its own directory's owner.
 */
int import_postgrey_open(const char *dir, struct import_src **srcp,
    struct why *why);
/*
 * import_postgrey_run - copy both tables into st, 500 records per put
 * (a merge: what is newer in ours stays); a put that loses to the daemon
 * is run again by the store, and counted once. loop: where to wait for a
 * store that finishes later (NULL for Berkeley DB). 0, or a negative
 * code with why.
 */
int import_postgrey_run(struct import_src *src, struct store *st,
    uv_loop_t *loop, const struct gl_conf *c, int64_t now,
    struct import_stats *stats, struct why *why);
void import_postgrey_close(struct import_src *src);
/* import_postgrey - open, run and close in one: 0, or <0 with why */
int import_postgrey(const char *dir, struct store *st, uv_loop_t *loop,
    const struct gl_conf *c, int64_t now, struct import_stats *stats,
    struct why *why);

struct store_rec;
/*
 * The store's merges of an import: "import.triplet" (ours stays if it
 * passed, or was seen as late), "import.client" (several postgrey
 * addresses fall into one network: the larger count, the wider span;
 * param: the auto-whitelist's max_age, 8 bytes big-endian)
 */
bool import_merge_triplet(const void *param, size_t plen,
    const struct store_rec *old, struct store_rec *out);
bool import_merge_client(const void *param, size_t plen,
    const struct store_rec *old, struct store_rec *out);

#endif
