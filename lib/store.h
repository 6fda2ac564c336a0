/*
 * store - policyd's state: a few tables of byte keys and values, changed
 * in transactions. This header is the interface (a table of operations);
 * Berkeley DB (store_bdb.c) is the one backend today, so a shared backend
 * for several MX hosts can come later without touching the checks.
 *
 * Errors: 0 on success, STORE_NOTFOUND for a missing key, or a negative
 * code with a line in why (the backend's own message). STORE_ERETRY means
 * a transaction lost a deadlock or met a lock it may not wait for, and
 * was aborted: run it again (or give up: the caller never waits).
 * STORE_EFATAL means the store must be closed and opened again (recovery).
 * STORE_EFULL means the file system is full: nothing was written, and a
 * later try works once there is room. Nothing here logs: the caller
 * decides what an error means.
 *
 * Requests never hold a store itself but a struct store_handle, which
 * outlives every close and reopen of the store behind it.
 */
#ifndef POLICYD_STORE_H
#define POLICYD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct why;

enum store_table {
	STORE_GREYLIST,   /* net \0 sender \0 recipient -> struct gl_entry */
	STORE_AWL_CLIENT, /* net -> struct awl_entry */
	STORE_AWL_DOMAIN, /* net \0 sender domain -> struct awl_entry */
	STORE_META,       /* "schema" -> version */
	STORE_NTABLES
};

#define STORE_NOTFOUND 1
#define STORE_ERROR    (-1) /* anything else; see why */
#define STORE_ERETRY   (-2) /* deadlock: the transaction was aborted */
#define STORE_EFATAL   (-3) /* close and reopen (run recovery) */
#define STORE_ESCHEMA  (-4) /* written by a newer policyd */
#define STORE_EFULL    (-5) /* no space left on the file system */

/* The schema this code writes; a newer one is refused. */
#define STORE_SCHEMA 1
#define STORE_KEY_MAX 1024 /* longest key */
#define STORE_VAL_MAX 256  /* longest value */

enum store_sync {
	STORE_SYNC_OS,   /* commit to the OS: survives kill -9, not power loss */
	STORE_SYNC_FULL, /* fsync each commit: survives power loss */
};

struct store_opts {
	const char *dir;      /* state directory */
	uint64_t cache_bytes; /* Berkeley DB cache */
	enum store_sync sync;
	/*
	 * The daemon's transactions never wait for a lock: a lock another
	 * process holds (policyctl) is STORE_ERETRY at once. policyctl's
	 * own transactions wait, bounded.
	 */
	bool nowait;
	/*
	 * Another thread may run maintain() while this one runs
	 * transactions (the daemon checkpoints off its loop).
	 */
	bool threads;
};

struct store;
struct store_txn;

/*
 * store_scan_fn - one record of a scan; borrowed until it returns.
 * Return 0 to go on, 1 to stop, 2 to delete this record and go on.
 */
typedef int store_scan_fn(void *arg, const void *key, size_t klen,
    const void *val, size_t vlen);

struct store_stats_table {
	uint64_t records;
};

struct store_ops {
	const char *name;
	void (*close)(struct store *st);
	int (*begin)(struct store *st, struct store_txn **txn, struct why *why);
	int (*commit)(struct store_txn *txn, struct why *why);
	void (*abort)(struct store_txn *txn);
	/* get - val (size *vlen) filled, *vlen set; STORE_NOTFOUND if absent */
	int (*get)(struct store_txn *txn, enum store_table t, const void *key,
	    size_t klen, void *val, size_t *vlen, struct why *why);
	int (*put)(struct store_txn *txn, enum store_table t, const void *key,
	    size_t klen, const void *val, size_t vlen, struct why *why);
	int (*del)(struct store_txn *txn, enum store_table t, const void *key,
	    size_t klen, struct why *why);
	/*
	 * scan - records from the first key >= from (all if flen is 0), in
	 * key order, at most limit of them (0: no limit); *next (size
	 * STORE_KEY_MAX) gets the key after the last one visited, *nlen 0
	 * when the table ended.
	 */
	int (*scan)(struct store_txn *txn, enum store_table t, const void *from,
	    size_t flen, size_t limit, store_scan_fn *fn, void *arg,
	    void *next, size_t *nlen, struct why *why);
	/* maintain - checkpoint and remove old logs; cheap, call often */
	int (*maintain)(struct store *st, struct why *why);
	/*
	 * verify - check the structure of one table. Berkeley DB's verifier
	 * can crash on some damage: callers that must survive it run it in
	 * a child process (policyctl does).
	 */
	int (*verify)(struct store *st, enum store_table t, struct why *why);
};

struct store {
	const struct store_ops *ops;
};

/*
 * store_handle - the store as requests hold it. Its owner (the daemon's
 * server) opens and closes the store behind it and sets st; a request
 * reads st each time it needs the store (NULL: not open now), so one
 * that waited for DNS never meets a store that another request's fatal
 * error closed meanwhile: the handle lives as long as its owner.
 */
struct store_handle {
	struct store *st;
};

/* store_get - the store behind a handle now, or NULL */
struct store *store_get(const struct store_handle *h);

/*
 * store_walk - every record of table t, batch records per transaction,
 * fn as in scan (it may delete). A batch that loses a deadlock is run
 * again from its first record, at most tries times, and what fn did in
 * it is undone first: the argsize bytes at arg (fn's state: counts) are
 * restored from a copy taken when the batch began, and done(arg, false)
 * tells fn to drop what it kept for the batch (rows it would print);
 * done(arg, true) after each commit makes it final. done may be NULL.
 * 0, or a STORE_* error with why (the failed batch undone as well).
 */
typedef void store_batch_fn(void *arg, bool committed);
int store_walk(struct store *st, enum store_table t, size_t batch,
    unsigned tries, store_scan_fn *fn, void *arg, size_t argsize,
    store_batch_fn *done, struct why *why);

/* store_open_bdb - the Berkeley DB backend; NULL with why on failure */
struct store *store_open_bdb(const struct store_opts *opts, int *err,
    struct why *why);

/*
 * store_verify_file_bdb - check one table's file with no environment: for
 * an environment that cannot be opened (recovery meets a damaged page).
 * Run it in a child process (see verify).
 */
int store_verify_file_bdb(const char *dir, enum store_table t,
    struct why *why);

/* store_table_name - the table's name, for messages */
const char *store_table_name(enum store_table t);
/* store_error_name - "full", "fatal", ... for an error code, for logs */
const char *store_error_name(int rc);

/* Big-endian encoding helpers for records. */
void store_put_u32(unsigned char *p, uint32_t v);
void store_put_u64(unsigned char *p, uint64_t v);
uint32_t store_get_u32(const unsigned char *p);
uint64_t store_get_u64(const unsigned char *p);

#endif
