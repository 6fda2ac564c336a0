/*
 * store - policyd's state, as operations in the language of the features
 * that keep it: greylist one request (check and update its triplet with
 * its auto-whitelists, atomically), and for any table get, put, delete,
 * list with a filter from an opaque cursor, flush, count. Every record
 * has an expiry time; the backend forgets it after that.
 *
 * Every operation is described as data, so that a backend can run it in
 * one transaction (Berkeley DB) or ship it to a server as one script
 * (Redis): a put's records each carry how they meet what is there (set,
 * set if absent, the later time, or a named pure merge of the store's
 * table of merges, store_merge_find(), with its parameters as bytes), and
 * a decision that reads before it writes is a named transaction (run) of
 * the store's table of them, store_script_find(), a pure function of its
 * parameters and the records it reads (greylisting's judgement is one).
 * No operation calls back into its caller while it runs but match() (a
 * pure filter of list and flush).
 *
 * Tables are named by the features that use them ([a-z0-9_], at most
 * STORE_TABLE_MAX bytes: greylist.h names greylisting's three); a backend
 * makes a table when it is first written. Nothing here lists them.
 *
 * Completion. Every operation takes a struct store_call and returns:
 *   1   finished at once: *call->out holds the reply (rc 0, or
 *       STORE_NOTFOUND for a get or a delete of nothing); done() is not
 *       called;
 *   0   under way: done(arg, reply) is called exactly once, later, from
 *       the loop, unless the caller cancels first; *call->op is the
 *       operation until then;
 *  <0   failed at once: the STORE_* code, with *call->out's why set; no
 *       call.
 * Berkeley DB (store_bdb.c) always finishes at once; a store on a network
 * server finishes later. An operation that is under way belongs to the
 * store: it keeps copies of its inputs, so the caller's buffers may go;
 * the callbacks it was given (match, row) and their arg must stay
 * until done() or cancel() (the updates' parameters are copied). cancel(op):
 * done() will not be called; the
 * operation may or may not have taken effect. call->budget_ms bounds how
 * long an operation may take: past it, it ends with STORE_ETIMEOUT.
 *
 * Errors: STORE_ERETRY means the operation kept losing to other writers
 * (a deadlock, a lock it may not wait for) and was given up: no effect;
 * STORE_EFATAL means the store must be closed and opened again
 * (recovery); STORE_EFULL means the file system is full: nothing was
 * written, a later try works once there is room. Nothing here logs: the
 * caller decides what an error means.
 *
 * Requests never hold a store itself but a struct store_handle, which
 * outlives every close and reopen of the store behind it.
 */
#ifndef POLICYD_STORE_H
#define POLICYD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "xalloc.h"

#define STORE_NOTFOUND 1
#define STORE_ERROR    (-1) /* anything else; see why */
#define STORE_ERETRY   (-2) /* kept losing to other writers: given up */
#define STORE_EFATAL   (-3) /* close and reopen (run recovery) */
#define STORE_ESCHEMA  (-4) /* written by a newer policyd */
#define STORE_EFULL    (-5) /* no space left on the file system */
#define STORE_ETIMEOUT (-6) /* not done within its budget */
#define STORE_ELOCKED  (-7) /* another owner holds the store's lock */

/*
 * The schema this code writes; a newer one is refused, an older one
 * upgraded at open. 3: greylist entries keep the last client address
 * (version 2 of the value), backscatter records count distinct
 * recipients, the outbound table keeps its coverage (m\0cover); schema
 * 2's values are all read as they are.
 */
#define STORE_SCHEMA 3
#define STORE_KEY_MAX   1024       /* longest key */
#define STORE_VAL_MAX   256        /* longest value */
#define STORE_TABLE_MAX 32         /* longest table name */

enum store_sync {
	STORE_SYNC_OS,   /* commit to the OS: survives kill -9, not power loss */
	STORE_SYNC_FULL, /* fsync each commit: survives power loss */
};

/*
 * Who may share a store's directory (its lock file, STORE_LOCK_FILE): the
 * daemon and its --stdio siblings share it; policyctl working offline
 * (no daemon) holds it alone, so the two never share an environment. A
 * helper the owner starts (db verify's child) takes none.
 */
enum store_lock {
	STORE_LOCK_SHARED,
	STORE_LOCK_EXCLUSIVE,
	STORE_LOCK_NONE,
};
#define STORE_LOCK_FILE "policyd.lock"

/* How a Berkeley DB store is opened. */
struct store_opts {
	const char *dir;      /* state directory */
	uint64_t cache_bytes; /* Berkeley DB cache */
	enum store_sync sync;
	/*
	 * The daemon's operations never wait for a lock: a lock another
	 * process holds (policyctl) is lost at once and tried again, a few
	 * times. policyctl's own operations wait, bounded.
	 */
	bool nowait;
	/*
	 * Another thread may run maintain() while this one runs
	 * operations (the daemon checkpoints off its loop).
	 */
	bool threads;
	enum store_lock lock;
	/*
	 * Group calls (store_call.group) wait for group_commit(): only for
	 * the daemon, the one process writing the store. --stdio siblings
	 * commit every call at once: their group commits would all write
	 * one record of meta.db, and lose to each other's locks.
	 */
	bool group;
	/*
	 * Out, if not NULL: what the open had to do to heal the environment
	 * (empty if nothing). An environment that cannot be joined (a
	 * panic, flags another program set, a region a dead process left)
	 * is rebuilt when this opener can hold the lock alone: the region
	 * files are removed and recovery replays the log, which holds every
	 * committed transaction.
	 */
	struct why *healed;
};

struct store;
struct store_op;

/*
 * How a record of a put meets the record there: data, not code, so a
 * backend may run it where the data is.
 */
enum store_upd_kind {
	STORE_UPD_SET,       /* replace (a NULL update is this) */
	STORE_UPD_IF_ABSENT, /* write only where there is no record */
	STORE_UPD_LATER,     /* values start with a big-endian 64-bit time:
			      * the later stays */
	STORE_UPD_MERGE,     /* a named merge (store_merge_find) */
};
#define STORE_PARAM_MAX 1024 /* the longest parameters of a merge */
struct store_update {
	enum store_upd_kind kind;
	const char *merge;  /* STORE_UPD_MERGE: its name */
	const void *param;  /* its parameters, copied with the operation */
	size_t plen;
};

/* One record. key and val are borrowed where a record is handed over. */
struct store_rec {
	const void *key;
	size_t klen;
	const void *val;
	size_t vlen;
	int64_t expires; /* seconds since the epoch; 0: never */
	const struct store_update *upd; /* a put's: NULL is a set */
};

/* A key to look up (get_first). */
struct store_key {
	const void *key;
	size_t klen;
};
#define STORE_GET_MAX 8

/*
 * Where a list or a flush goes on: opaque, the backend's own. A zeroed
 * cursor is the start of the table; end is set when nothing is left.
 */
struct store_cursor {
	unsigned char pos[STORE_KEY_MAX];
	size_t len;
	bool end;
};

/* What an operation came to. */
struct store_reply {
	int rc;                   /* 0, STORE_NOTFOUND, or a STORE_* error */
	struct why why;           /* rc < 0: what went wrong */
	uint64_t n;               /* count: records; put: written; flush:
				   * deleted; list: rows given */
	struct store_cursor next; /* list, flush: where to go on */
	unsigned char val[STORE_VAL_MAX]; /* get; a put of one record: the
					   * value there after it; run: the
					   * script's result */
	size_t vlen;
	int64_t expires;
	/* A put of one record: what was there before (prev_found false:
	 * nothing). */
	bool prev_found;
	unsigned char prev[STORE_VAL_MAX];
	size_t prev_len;
};

typedef void store_done_fn(void *arg, const struct store_reply *r);

struct store_call {
	uint64_t budget_ms;       /* longest it may take; 0: the backend's */
	/*
	 * A request's write, durable at the next group_commit() instead
	 * of at once: the caller answers only after it (one write of the
	 * log for a loop turn's requests, not one each)
	 */
	bool group;
	store_done_fn *done;      /* when it finishes later */
	void *arg;
	struct store_op **op;     /* set while under way, for cancel(); or NULL */
	struct store_reply *out;  /* when it finishes (or fails) at once */
};

/*
 * store_match_fn - does a record belong to a list or a flush. It may be
 * asked again about a record (a batch that lost to another writer runs
 * again): no side effects.
 */
typedef bool store_match_fn(void *arg, const struct store_rec *r);
/* store_row_fn - one listed record, borrowed until it returns */
typedef void store_row_fn(void *arg, const struct store_rec *r);
/*
 * store_merge_fn - a named merge: param (plen bytes) as the put gave it,
 * old the record there now (NULL if none); out starts as the new record,
 * its val writable (STORE_VAL_MAX bytes), and may be changed. true writes
 * out, false keeps old. A pure function: it may run again (a transaction
 * that lost), and a network backend runs its own copy (a script of the
 * same name).
 */
typedef bool store_merge_fn(const void *param, size_t plen,
    const struct store_rec *old, struct store_rec *out);
struct store_merge {
	const char *name;
	store_merge_fn *fn;
};
/* store_merge_find - a merge of the table by name; NULL if none */
const struct store_merge *store_merge_find(const char *name);
/*
 * store_update_apply - what a put's record becomes over old (NULL: none):
 * true with out to write, false to keep old; -1 in *err for an unknown
 * merge or parameters longer than STORE_PARAM_MAX (why set). For the
 * backends that run updates themselves.
 */
bool store_update_apply(const struct store_rec *in, const struct store_rec
    *old, struct store_rec *out, int *err, struct why *why);

/*
 * A named transaction: it reads some records of the keys it is given,
 * decides, and writes some of them, as one step. A pure function of its
 * parameters and what it reads: a backend may run it again (a
 * transaction that lost) or run its own copy where the data is (a script
 * of the same name, given the keys and the parameters as they are).
 *   rd - key k's value into val (STORE_VAL_MAX bytes), *len set: 0,
 *        STORE_NOTFOUND (also for a key of no bytes: no such record), or
 *        a negative STORE_* error with why;
 *   wr - key k's record is to be val (len bytes) until expires: 0 or an
 *        error.
 * It returns 0 with its result in res (up to STORE_VAL_MAX bytes, *rlen
 * set), or the first error of rd or wr, or STORE_ERROR for parameters it
 * cannot read (why set); on an error the backend undoes what it wrote.
 */
#define STORE_RUN_KEYS 8
struct store_tkey {
	const char *table;
	const void *key;
	size_t klen;        /* 0: no such record (nothing is read) */
};
typedef int store_script_read_fn(void *io, size_t k, unsigned char *val,
    size_t *len, struct why *why);
typedef int store_script_write_fn(void *io, size_t k,
    const unsigned char *val, size_t len, int64_t expires, struct why *why);
typedef int store_script_fn(const void *param, size_t plen,
    store_script_read_fn *rd, store_script_write_fn *wr, void *io,
    unsigned char *res, size_t *rlen, struct why *why);
struct store_script {
	const char *name;
	size_t nkeys;       /* the keys it is given, always this many */
	store_script_fn *fn;
};
/* store_script_find - a named transaction by name; NULL if none */
const struct store_script *store_script_find(const char *name);
/*
 * store_run_check - the inputs of a run, checked as every backend must:
 * the script, its number of keys, their lengths, the parameters' length
 * (a backend refuses a table name it does not take when it opens it,
 * before anything is written). NULL with why set when one is wrong.
 */
const struct store_script *store_run_check(const char *script,
    const struct store_tkey *keys, size_t n, size_t plen, struct why *why);

struct store_ops {
	const char *name;
	/*
	 * run - the named transaction script on n keys (its nkeys) with
	 * param (plen bytes, at most STORE_PARAM_MAX), atomically; its
	 * result in reply.val and reply.vlen
	 */
	int (*run)(struct store *st, const char *script,
	    const struct store_tkey *keys, size_t n, const void *param,
	    size_t plen, const struct store_call *c);
	/* get - the record's value, length and expiry in the reply */
	int (*get)(struct store *st, const char *table, const void *key,
	    size_t klen, const struct store_call *c);
	/*
	 * get_first - the first of n keys (1 to STORE_GET_MAX) that has a
	 * record, read in one step (a whitelist's candidates): reply.n its
	 * index, and its value as get's; STORE_NOTFOUND if none has one
	 */
	int (*get_first)(struct store *st, const char *table,
	    const struct store_key *keys, size_t n,
	    const struct store_call *c);
	/*
	 * put - n records at once, atomically, each as its update says
	 * (recs[i].upd). reply.n: records written; for one record, the
	 * value before (prev) and after (val).
	 */
	int (*put)(struct store *st, const char *table,
	    const struct store_rec *recs, size_t n,
	    const struct store_call *c);
	/* del - one record; STORE_NOTFOUND if it was not there */
	int (*del)(struct store *st, const char *table, const void *key,
	    size_t klen, const struct store_call *c);
	/*
	 * list - up to limit records from the cursor, each record of the
	 * table once over a whole walk, in no promised order; row()
	 * for those match() takes (match NULL: all). reply.next goes on.
	 */
	int (*list)(struct store *st, const char *table,
	    const struct store_cursor *from, size_t limit,
	    store_match_fn *match, store_row_fn *row, void *arg,
	    const struct store_call *c);
	/* flush - as list, deleting what match() takes; reply.n deleted */
	int (*flush)(struct store *st, const char *table,
	    const struct store_cursor *from, size_t limit,
	    store_match_fn *match, void *arg, const struct store_call *c);
	/* count - records in the table, reply.n */
	int (*count)(struct store *st, const char *table,
	    const struct store_call *c);
	/*
	 * group_commit - the writes of group calls finished since the last
	 * one made as durable as the store's sync says (the OS has them;
	 * with sync: full, the disk); 0, or an error with why. Replies to
	 * the requests that made them go out after it.
	 */
	int (*group_commit)(struct store *st, struct why *why);
	/* cancel - an operation under way: done() will not be called */
	void (*cancel)(struct store_op *op);
	/*
	 * close - operations still under way end first, each with done()
	 * and STORE_ERROR
	 */
	void (*close)(struct store *st);

	/* Upkeep; NULL where the backend's server does its own. */
	/*
	 * expire - delete what expired before now: at most limit records
	 * of each table examined, going on from where the last call ended;
	 * *deleted counts
	 */
	int (*expire)(struct store *st, int64_t now, size_t limit,
	    uint64_t *deleted, struct why *why);
	/* maintain - a checkpoint and old logs removed; from any thread */
	int (*maintain)(struct store *st, struct why *why);
	/*
	 * verify - the structure of one table. Berkeley DB's verifier can
	 * crash (abort) on some damage: run it in a child process.
	 */
	int (*verify)(struct store *st, const char *table, struct why *why);
};

struct store {
	const struct store_ops *ops;
};

/*
 * store_handle - the store as requests hold it. Its owner (the daemon's
 * keeper) opens and closes the store behind it and sets st; a request
 * reads st each time it needs the store (NULL: not open now), so one
 * that waited for DNS never meets a store that another request's fatal
 * error closed meanwhile: the handle lives as long as its owner.
 */
struct store_handle {
	struct store *st;
};

/* store_get - the store behind a handle now, or NULL */
struct store *store_get(const struct store_handle *h);

/* store_table_ok - a table name a backend takes */
bool store_table_ok(const char *table);

/*
 * For callers that can wait (policyctl, import, tests): a call whose
 * reply lands in the struct, and store_wait(), which runs loop until an
 * operation that is under way is done. loop may be NULL for a store that
 * always finishes at once (a wait is then a bug, and a panic).
 */
struct store_waiter {
	struct store_call call;
	struct store_reply reply;
	struct store_op *op;
	uv_loop_t *loop;
	bool done;
};

/*
 * store_settle - what an operation returned, for a caller whose done()
 * handles every outcome: finished at once (1, or <0 with out->rc set to
 * it), done(arg, out) now; under way (0), nothing (done comes later)
 */
void store_settle(const struct store_call *c, int rc);

/* store_waiter_init - a call whose reply lands in w, waited for on loop */
void store_waiter_init(struct store_waiter *w, uv_loop_t *loop);
/*
 * store_wait - rc is what the operation returned: the reply's rc, once
 * it is done (s->reply holds the rest)
 */
int store_wait(struct store_waiter *w, int rc);

/*
 * store_each - a whole table, batch records per operation, so that no
 * transaction holds the others up for long: row() for each record match()
 * takes (match NULL: all), or, with row NULL, deleting them (flush);
 * *n (if not NULL) counts them. loop as for store_wait(). 0, or the
 * error with why.
 */
int store_each(struct store *st, uv_loop_t *loop, const char *table,
    size_t batch, store_match_fn *match, store_row_fn *row, void *arg,
    uint64_t *n, struct why *why);

/* store_open_bdb - the Berkeley DB backend; NULL with why on failure */
struct store *store_open_bdb(const struct store_opts *opts, int *err,
    struct why *why);

/*
 * store_lock_probe - could a store in dir be opened shared now (no
 * policyctl holds it alone): 0, or STORE_ELOCKED (or another error)
 * with why
 */
int store_lock_probe(const char *dir, struct why *why);

/*
 * store_bdb_tables - the tables of a Berkeley DB store in dir (for db
 * verify), into names (up to max); how many there are, or -1 with why
 */
int store_bdb_tables(const char *dir, char (*names)[STORE_TABLE_MAX + 1],
    int max, struct why *why);
/*
 * store_verify_file_bdb - check one table's file with no environment: for
 * an environment that cannot be opened (recovery meets a damaged page).
 * Run it in a child process (see verify).
 */
int store_verify_file_bdb(const char *dir, const char *table,
    struct why *why);

/*
 * store_bdb_shm_key - the System V shared memory key of the regions of
 * the Berkeley DB environment in dir (Berkeley DB adds the region's
 * number, 0 to 15), for a program that joins it with Berkeley DB's own
 * calls (DB_ENV->set_shm_key, DB_SYSTEM_MEM); 0: dir cannot be looked at
 */
long store_bdb_shm_key(const char *dir);

/*
 * For tests: the next steps of the Berkeley DB store's transactions (a
 * mask of STORE_BDB_*) fail as Berkeley DB would, with code and msg (NULL:
 * one for the code): skip of them pass, then count fail (each failure
 * aborts its transaction).
 */
#define STORE_BDB_BEGIN  1u
#define STORE_BDB_READ   2u
#define STORE_BDB_WRITE  4u
#define STORE_BDB_COMMIT 8u
void store_bdb_fail(struct store *st, unsigned steps, unsigned skip,
    unsigned count, int code, const char *msg);
/*
 * For tests: whether the Berkeley DB store's cache of records is on (it
 * is once the state directory's counter of writes, policyd.gen, maps)
 */
bool store_bdb_cached(struct store *st);
/* For tests: how many looks at a record the cache answered */
uint64_t store_bdb_cache_answers(struct store *st);

/*
 * store_open_mem - a store in memory that finishes every operation later,
 * delay_ms after it was asked, from loop: the asynchronous path, for
 * tests. Nothing is kept past close.
 */
struct store *store_open_mem(uv_loop_t *loop, uint64_t delay_ms);
/*
 * store_mem_fail - for tests: the next count operations fail with code
 * and msg (NULL: the code's name)
 */
void store_mem_fail(struct store *st, unsigned count, int code,
    const char *msg);

/* store_error_name - "full", "fatal", ... for an error code, for logs */
const char *store_error_name(int rc);

/* Big-endian encoding helpers for records. */
void store_put_u32(unsigned char *p, uint32_t v);
void store_put_u64(unsigned char *p, uint64_t v);
uint32_t store_get_u32(const unsigned char *p);
uint64_t store_get_u64(const unsigned char *p);

#endif
