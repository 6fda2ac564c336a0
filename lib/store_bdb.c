/*
 * store_bdb - the store on a Berkeley DB 5.3 transactional environment.
 *
 * One environment in the state directory with locking, logging,
 * transactions and a memory pool, so policyctl can read and change state
 * while the daemon runs. DB_REGISTER + DB_RECOVER: recovery runs at open
 * only when a process died with the environment open, never under the
 * feet of a live one. Commits are DB_TXN_WRITE_NOSYNC (sync: os): a
 * killed process loses nothing, the OS writes the log; sync: full syncs
 * the log at every commit for power-loss safety. A request's commit
 * (store_call.group) is DB_TXN_NOSYNC instead, and group_commit() writes the
 * log of all of them once per loop turn (group commit), before their
 * replies go out; a transaction that only read asks for none. The
 * daemon's store starts the log's writeback from a thread of its own
 * (writeback()), so the sync Berkeley DB makes as it moves on to the next
 * log file does not stall the loop. The daemon's transactions never
 * wait for a lock (nowait: a lock held by policyctl is STORE_ERETRY at
 * once, never a stalled loop); policyctl's waits are bounded; deadlocks
 * are detected at once; old log files are removed after each
 * checkpoint.
 *
 * The regions (cache, locks, log buffer) are System V shared memory
 * (DB_SYSTEM_MEM) under a key made from the state directory
 * (store_bdb_shm_key), not memory-mapped files there: the kernel wrote
 * a file-backed cache back to disk over and over (every page a request
 * touches dirties it), and that writeback stopped the replies for up to
 * 135 ms about once a minute. A clean close removes them when nobody
 * else uses them (release_regions); a killed process's stay for the next
 * open, which recovers and makes them anew.
 *
 * A full disk is an error code, never a signal. Regions in memory take
 * no disk. Were they files (no key: dir cannot be looked at), a page of
 * a mapping with a hole behind it that the file system cannot back is
 * SIGBUS when touched: DB_REGION_INIT makes Berkeley DB write every page
 * of a region when it creates one (a full disk is then ENOSPC from
 * write(2)), and the room the cache may grow into is reserved with
 * fallocate(2) at open (reserve_regions). Every table has page
 * checksums: a damaged page is found when it is read, not taken as
 * data.
 *
 * DB_REGISTER allows one environment handle per process and process id.
 * A failed open (recovery that met a full disk) leaves this process's id
 * in the registry, and Berkeley DB then refuses every later open of the
 * same process. Each open after the first presents a fresh id through
 * set_thread_id() (above pid_max, so it is nobody else's); the stale
 * entry then looks like a process that died, and recovery runs, which is
 * what a reopen after trouble needs anyway.
 */
#define _GNU_SOURCE /* fallocate(2), sync_file_range(2) */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <db.h>

#include "xalloc.h"

#define MAX_TABLES 32
#define HDR 8          /* a value starts with its expiry, big-endian */
#define BATCH 1000     /* list, flush, upgrade: records per transaction */
#define V1_VAL 29      /* schema 1's values (greylist, awl): no expiry */
#define V1_KEEP (35 * 86400) /* what an upgraded record keeps */

struct table {
	char name[STORE_TABLE_MAX + 1];
	char file[STORE_TABLE_MAX + 4];
	DB *db;
	unsigned char sweep[STORE_KEY_MAX]; /* expire() goes on from here */
	size_t sweep_len;
	/*
	 * Its records, maintained: counted once (a walk of the leaf pages,
	 * Berkeley DB's stat) when first asked and again after RECOUNT_S
	 * (a --stdio sibling's writes are not seen here), and moved by
	 * every committed write and delete of this process since. Read and
	 * moved with atomics: the metrics job asks from the thread pool.
	 */
	int64_t count;
	int64_t counted_at; /* 0: never counted */
};

#define RECOUNT_S 3600

/*
 * What a transaction adds to tables' counts, per thread (a transaction
 * runs on one): applied when it commits, dropped when it runs again or
 * aborts.
 */
static _Thread_local struct {
	struct table *tb[8];
	int64_t d[8];
	int n;
	bool lost; /* more tables than slots: a recount is due */
} deltas;

/* delta_add - a record more (1) or less (-1) in tb, once committed */
static void
delta_add(struct table *tb, int64_t d)
{
	int i;

	for (i = 0; i < deltas.n; i++)
		if (deltas.tb[i] == tb) {
			deltas.d[i] += d;
			return;
		}
	if (deltas.n == (int)(sizeof(deltas.tb) / sizeof(deltas.tb[0]))) {
		deltas.lost = true;
		__atomic_store_n(&tb->counted_at, 0, __ATOMIC_RELAXED);
		return;
	}
	deltas.tb[deltas.n] = tb;
	deltas.d[deltas.n++] = d;
}

/* deltas_commit - the transaction committed: its counts move */
static void
deltas_commit(void)
{
	int i;

	for (i = 0; i < deltas.n; i++)
		__atomic_add_fetch(&deltas.tb[i]->count, deltas.d[i],
		    __ATOMIC_RELAXED);
	deltas.n = 0;
	deltas.lost = false;
}

/*
 * The record cache: what a get or a named transaction read or wrote,
 * by table and key, as its transaction committed it, so that the next
 * look at a record that has not changed costs a hash and a comparison,
 * not a Berkeley DB transaction (begin, locks, a walk down the tree,
 * commit: about 13,000 instructions). Every change to a table passes
 * through this file, in this process or in a sibling's (policyctl goes
 * through the daemon's control socket, or works alone when it is not
 * running):
 *
 * - a named transaction (bdb_run) or a get (bdb_get) that committed
 *   fills the cache with what it read and wrote (rc_fill), unless a
 *   write outside them happened meanwhile (seq moved: the values might
 *   be older than that write);
 * - every other write drops its key (rec_put, rec_del, a walk's delete,
 *   the upgrade's rewrite: rc_wrote, which moves seq);
 * - a run answers from the cache only when every record it reads is
 *   there and it writes none (rc_try); else it runs in a transaction,
 *   as before. A run's script is a function of what it reads and its
 *   parameters (the time among them), so its answer is the one the
 *   transaction would give.
 *
 * The daemon's --stdio siblings share the environment, and write too.
 * Every process that opens the store maps one counter of the state
 * directory's (RC_GEN_FILE, its block reserved with fallocate(2): a
 * full disk cannot make the page a SIGBUS) and adds one to it with each
 * write to a table (rc_wrote). A process that finds the counter other
 * than its own writes left it knows another wrote, and forgets every
 * record (rc_sync, before each look and each fill); a fill after a
 * transaction that such a write overtook is dropped (seq). Without the
 * counter (it could not be made: a full disk when the store opened)
 * the cache stays off, and each write tries to map it again first, so
 * that what this process writes reaches its siblings once it can.
 *
 * A table of RC_SETS sets of RC_WAYS records, allocated when first
 * used: a record goes in the set its hash names, in a free way or in
 * place of the way least recently looked at, so a thousand records of a
 * greylisting pool stay known together (a table of one way lost one in
 * five to another whose hash named its slot, and both missed at every
 * turn of the pool). A record whose key and value together are longer
 * than RC_DATA is not kept. The lock makes it safe from the thread
 * pool's jobs too (they do not use it today). With a fault injected
 * (tests), nothing is answered from it.
 */
#define RC_WAYS 4
#define RC_SETS 2048
#define RC_DATA 216 /* key and value: a greylist key of 170 bytes */
#define RC_GEN_FILE "policyd.gen"

struct rc_slot {
	const void *tb;     /* the table; NULL: empty */
	uint32_t epoch;
	uint32_t tag;       /* the hash's low half: most misses end here */
	uint32_t used;      /* the cache's clock when last looked at */
	uint16_t klen, vlen;
	bool found;         /* else the record was absent */
	int64_t expires;
	unsigned char data[RC_DATA]; /* the key, then the value */
};

struct rcache {
	pthread_mutex_t lock;
	struct rc_slot *slots; /* RC_SETS * RC_WAYS; NULL until a fill */
	uint32_t epoch;     /* slots of another epoch are empty */
	uint32_t clock;     /* counts looks: a slot's used */
	uint64_t seq;       /* writes outside runs and gets, forgettings */
	uint64_t *gen;      /* RC_GEN_FILE's counter; NULL: cache off */
	uint64_t known;     /* the counter as our own writes left it */
	uint64_t answers;   /* looks the cache answered (tests) */
	const char *dir;    /* the state directory (struct bdb's) */
};

struct bdb {
	struct store pub;
	DB_ENV *env;
	DB *meta;
	/*
	 * Opened as they are first used, by whichever thread runs an
	 * operation (the daemon's loop, its metrics job on the thread
	 * pool): tables_lock guards finding and adding one; a table once
	 * added stays where it is until close. maintain() does not look at
	 * them.
	 */
	struct table tables[MAX_TABLES];
	int ntables;
	pthread_mutex_t tables_lock;
	bool nowait;      /* transactions never wait for locks */
	bool threads;
	unsigned tries;   /* a transaction that loses runs this often */
	pid_t id;         /* the process id the registry knows us by */
	unsigned serial;  /* this open's number in the process (opens) */
	enum store_sync sync;
	bool group;       /* opts.group: group calls wait for group_commit */
	bool pending;     /* group calls' commits not yet written */
	bool shm;         /* the regions are System V shared memory */
	unsigned slot;    /* which of SHM_SLOTS keys they were made under */
	bool opened;      /* store_open_bdb() finished */
	int lock_fd;      /* STORE_LOCK_FILE, held; -1 none */
	struct {          /* writeback(): the log's writer behind the loop */
		pthread_t thread;
		bool running, stop;
		pthread_mutex_t lock;
		pthread_cond_t cond;
	} wb;
	char dir[4096];
	struct {          /* store_bdb_fail() */
		unsigned steps, skip, count;
		int code;
		char msg[128];
	} fault;
	struct rcache rc; /* records as the last transactions left them */
};

/*
 * Berkeley DB's messages for the operation under way, per thread (the
 * daemon checkpoints on another thread than its transactions): the first
 * one names the cause, the last one the consequence.
 */
static _Thread_local struct {
	char first[256];
	char file[256];   /* the first that names a table ("greylist.db: ") */
	char last[256];
	bool full;        /* a write met a full file system */
	bool damaged;     /* a page failed its checksum */
} msgs;

/*
 * The state directories whose store met a damaged page in this process,
 * since they last opened: no rebuild for them (recovery replaying the
 * log into a damaged file can spin in Berkeley DB for good). Kept here,
 * past the close of the store that met it, for the reopen after.
 */
#define DAMAGED_MAX 8
static char damaged_dirs[DAMAGED_MAX][4096];
static pthread_mutex_t damaged_lock = PTHREAD_MUTEX_INITIALIZER;

/* damaged_set - dir met damage (on) or opened again (off) */
static void
damaged_set(const char *dir, bool on)
{
	int i, free_slot = -1;

	pthread_mutex_lock(&damaged_lock);
	for (i = 0; i < DAMAGED_MAX; i++) {
		if (damaged_dirs[i][0] == '\0') {
			if (free_slot < 0)
				free_slot = i;
		} else if (strcmp(damaged_dirs[i], dir) == 0) {
			if (!on)
				damaged_dirs[i][0] = '\0';
			free_slot = -2;
			break;
		}
	}
	if (on && free_slot >= 0)
		snprintf(damaged_dirs[free_slot], sizeof(damaged_dirs[0]), "%s",
		    dir);
	pthread_mutex_unlock(&damaged_lock);
}

/* damaged_was - did dir's store meet damage since it last opened */
static bool
damaged_was(const char *dir)
{
	bool yes = false;
	int i;

	pthread_mutex_lock(&damaged_lock);
	for (i = 0; i < DAMAGED_MAX && !yes; i++)
		yes = strcmp(damaged_dirs[i], dir) == 0;
	pthread_mutex_unlock(&damaged_lock);
	return yes;
}

/* Opens in this process so far: each after the first gets a fresh id. */
static unsigned opens;
static pthread_mutex_t opens_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * The operation under way on this thread is a group call: its commit
 * leaves the log in memory for group_commit() (loop thread only).
 */
static __thread bool grouped;
/* The transaction under way has written (rec_put, rec_del). */
static __thread bool wrote;
/*
 * The writes under way are a named transaction's own: bdb_run fills the
 * cache with them once it commits (rec_put drops no key for them).
 */
static __thread bool rc_own;

/*
 * rc_hash - a record's hash: the table and the key mixed eight bytes at
 * a time (a byte at a time cost more than the look-ups it saves on a
 * request whose keys are all new); the high half names the set, the low
 * half is the tag
 */
static uint64_t
rc_hash(const void *tb, const void *key, size_t klen)
{
	const unsigned char *p = key;
	uint64_t h = (uint64_t)(uintptr_t)tb ^ klen, w;

	for (; klen >= 8; p += 8, klen -= 8) {
		memcpy(&w, p, 8);
		h = (((h << 5) | (h >> 59)) ^ w) * 0x9e3779b97f4a7c15u;
	}
	if (klen > 0) {
		w = 0;
		memcpy(&w, p, klen);
		h = (((h << 5) | (h >> 59)) ^ w) * 0x9e3779b97f4a7c15u;
	}
	return h;
}

/* rc_forget - every record forgotten (lock held) */
static void
rc_forget(struct rcache *c)
{
	c->seq++;
	if (++c->epoch == 0)
		c->epoch = 1; /* 0 is the epoch of a slot never filled */
}

/*
 * rc_sync - another process wrote since we last looked (the shared
 * counter is not where our own writes left it): forget (lock held)
 */
static void
rc_sync(struct rcache *c)
{
	uint64_t g;

	if (c->gen == NULL)
		return;
	g = __atomic_load_n(c->gen, __ATOMIC_ACQUIRE);
	if (g != c->known) {
		rc_forget(c);
		c->known = g;
	}
}

static void rc_map(struct rcache *c);
static struct rc_slot *rc_find(struct rcache *c, const void *tb,
    const void *key, size_t klen);

/*
 * rc_wrote - this process wrote the record: the shared counter moves,
 * so siblings forget (if it had moved before, a sibling wrote: we do);
 * drop: a write outside a named transaction, so the record is no longer
 * known and a fill that the write overtook is dropped (seq)
 */
static void
rc_wrote(struct rcache *c, const void *tb, const void *key, size_t klen,
    bool drop)
{
	struct rc_slot *sl;
	uint64_t old;

	pthread_mutex_lock(&c->lock);
	if (c->gen == NULL)
		rc_map(c); /* not mapped at open: a full disk, say */
	if (c->gen != NULL) {
		old = __atomic_fetch_add(c->gen, 1, __ATOMIC_ACQ_REL);
		if (old != c->known)
			rc_forget(c);
		c->known = old + 1;
	}
	if (drop) {
		c->seq++;
		if ((sl = rc_find(c, tb, key, klen)) != NULL)
			sl->tb = NULL;
	}
	pthread_mutex_unlock(&c->lock);
}

/*
 * rc_map - the shared counter of the state directory mapped (lock held,
 * or before anyone else uses c); the cache stays off while it cannot
 * be (its reason is not the store's: nothing is said)
 */
static void
rc_map(struct rcache *c)
{
	char path[4200];
	struct stat sb;
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", c->dir, RC_GEN_FILE);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return;
	if (fstat(fd, &sb) < 0 || (sb.st_size < 4096 &&
	    fallocate(fd, 0, 0, 4096) < 0)) {
		close(fd);
		return;
	}
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return;
	c->gen = p;
	c->known = __atomic_load_n(c->gen, __ATOMIC_ACQUIRE);
	rc_forget(c); /* whatever it held, from before, is not known */
}

/* rc_open - the cache of a store in dir, and its counter if it maps */
static void
rc_open(struct rcache *c, const char *dir)
{
	c->epoch = 1;
	c->dir = dir;
	rc_map(c);
}

/* rc_close - the cache's memory and the counter's mapping let go */
static void
rc_close(struct rcache *c)
{
	if (c->gen != NULL)
		munmap(c->gen, 4096);
	free(c->slots);
	pthread_mutex_destroy(&c->lock);
}

/* rc_set - the first way of the set a hash names */
static struct rc_slot *
rc_set(struct rcache *c, uint64_t h)
{
	return &c->slots[((size_t)(h >> 32) & (RC_SETS - 1)) * RC_WAYS];
}

/* rc_look - the slot of the set h names holding the record, or NULL */
static struct rc_slot *
rc_look(struct rcache *c, uint64_t h, const void *tb, const void *key,
    size_t klen)
{
	struct rc_slot *sl = rc_set(c, h);
	size_t i;

	for (i = 0; i < RC_WAYS; i++, sl++)
		if (sl->tag == (uint32_t)h && sl->tb == tb &&
		    sl->epoch == c->epoch && sl->klen == klen &&
		    memcmp(sl->data, key, klen) == 0)
			return sl;
	return NULL;
}

/* rc_find - the slot holding the record, or NULL (lock held) */
static struct rc_slot *
rc_find(struct rcache *c, const void *tb, const void *key, size_t klen)
{
	if (c->gen == NULL || c->slots == NULL || klen == 0 ||
	    klen > RC_DATA)
		return NULL;
	return rc_look(c, rc_hash(tb, key, klen), tb, key, klen);
}

/*
 * rc_get - a record as the cache has it: true with *found (and the value
 * as rec_get gives it when found), false when the cache does not know
 */
static bool
rc_get(struct rcache *c, const void *tb, const void *key, size_t klen,
    void *val, size_t *vlen, int64_t *expires, bool *found)
{
	struct rc_slot *sl;
	bool hit = false;

	pthread_mutex_lock(&c->lock);
	rc_sync(c);
	if ((sl = rc_find(c, tb, key, klen)) != NULL) {
		sl->used = ++c->clock;
		c->answers++;
		*found = sl->found;
		if (sl->found) {
			memcpy(val, sl->data + sl->klen, sl->vlen);
			*vlen = sl->vlen;
			*expires = sl->expires;
		}
		hit = true;
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

/* rc_mark - the writes the cache has seen, before a transaction */
static void
rc_mark(struct rcache *c, uint64_t *seq)
{
	pthread_mutex_lock(&c->lock);
	rc_sync(c);
	*seq = c->seq;
	pthread_mutex_unlock(&c->lock);
}

/*
 * rc_victim - the way of a set a new record goes in: an empty one, else
 * the one least recently looked at (lock held)
 */
static struct rc_slot *
rc_victim(struct rcache *c, struct rc_slot *set)
{
	struct rc_slot *v = set;
	size_t i;

	for (i = 0; i < RC_WAYS; i++) {
		if (set[i].tb == NULL || set[i].epoch != c->epoch)
			return &set[i];
		/* the clock wraps: the oldest is the one furthest behind */
		if (c->clock - set[i].used > c->clock - v->used)
			v = &set[i];
	}
	return v;
}

/*
 * rc_fill - a record as a committed transaction left it (found, or
 * absent); when a write was dropped since rc_mark gave seq, or the
 * record is too long to keep, its slot is dropped instead
 */
static void
rc_fill(struct rcache *c, uint64_t seq, const void *tb,
    const void *key, size_t klen, bool found, const void *val,
    size_t vlen, int64_t expires)
{
	struct rc_slot *sl;
	uint64_t h;

	if (klen == 0 || klen > RC_DATA)
		return; /* never kept: nothing to drop */
	pthread_mutex_lock(&c->lock);
	rc_sync(c);
	if (c->gen != NULL && c->slots == NULL)
		c->slots = calloc((size_t)RC_SETS * RC_WAYS, sizeof(*c->slots));
	if (c->gen == NULL || c->slots == NULL)
		goto out;
	h = rc_hash(tb, key, klen);
	sl = rc_look(c, h, tb, key, klen);
	if (c->seq != seq || klen + (found ? vlen : 0) > RC_DATA) {
		/*
		 * Not kept: what the slot says may be older than this
		 * transaction's own writes, which dropped nothing (rc_own).
		 */
		if (sl != NULL)
			sl->tb = NULL;
		goto out;
	}
	if (sl == NULL)
		sl = rc_victim(c, rc_set(c, h));
	sl->tb = tb;
	sl->epoch = c->epoch;
	sl->tag = (uint32_t)h;
	sl->used = ++c->clock;
	sl->klen = (uint16_t)klen;
	memcpy(sl->data, key, klen);
	sl->found = found;
	sl->vlen = found ? (uint16_t)vlen : 0;
	if (found)
		memcpy(sl->data + klen, val, vlen);
	sl->expires = found ? expires : 0;
out:
	pthread_mutex_unlock(&c->lock);
}

/* msgs_clear - a new operation: forget older messages */
static void
msgs_clear(void)
{
	msgs.first[0] = msgs.file[0] = msgs.last[0] = '\0';
	msgs.full = msgs.damaged = false;
}

/* errcall - keep Berkeley DB's own messages for the next why */
static void
errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env;
	(void)pfx;
	if (strstr(msg, strerror(ENOSPC)) != NULL)
		msgs.full = true;
	if (strstr(msg, "checksum error") != NULL)
		msgs.damaged = true;
	if (msgs.file[0] == '\0' && strstr(msg, ".db: ") != NULL)
		snprintf(msgs.file, sizeof(msgs.file), "%s", msg);
	if (msgs.first[0] == '\0')
		snprintf(msgs.first, sizeof(msgs.first), "%s", msg);
	snprintf(msgs.last, sizeof(msgs.last), "%s", msg);
}

/* thread_id - the registry's idea of who we are (see the header) */
static void
thread_id(DB_ENV *env, pid_t *pid, db_threadid_t *tid)
{
	struct bdb *st = env->app_private;

	if (pid != NULL)
		*pid = st != NULL && st->id != 0 ? st->id : getpid();
	if (tid != NULL)
		*tid = pthread_self();
}

/* dbt - a DBT over caller memory; Berkeley DB's DBT.data is not const */
static DBT
dbt(const void *p, size_t len)
{
	DBT d;

	memset(&d, 0, sizeof(d));
	d.data = (void *)(uintptr_t)p;
	d.size = (u_int32_t)len;
	return d;
}

/*
 * key_dbt - a key to look up, copied into buf (STORE_KEY_MAX): with a
 * comparison of ours, Berkeley DB gives back the key it found (equal
 * need not mean the same bytes, though with ours it does), and under
 * DB_THREAD only into memory the caller names; klen at most
 * STORE_KEY_MAX
 */
static DBT
key_dbt(unsigned char *buf, const void *key, size_t klen)
{
	DBT d;

	memset(&d, 0, sizeof(d));
	memcpy(buf, key, klen);
	d.data = buf;
	d.size = (u_int32_t)klen;
	d.ulen = STORE_KEY_MAX;
	d.flags = DB_DBT_USERMEM;
	return d;
}

/*
 * fail - map a Berkeley DB error to ours, with its messages in why: a
 * full file system is named as such whatever Berkeley DB made of it (a
 * recovery that cannot write ends in DB_RUNRECOVERY, "unable to join the
 * environment", which does not say why)
 */
static int
fail(struct bdb *st, int rc, const char *what, struct why *why)
{
	bool full = rc == ENOSPC || msgs.full;
	char detail[800];
	size_t o = 0;
	int code;

	if (msgs.damaged && st != NULL)
		damaged_set(st->dir, true);
	/* Berkeley DB's own messages: the cause, the table, the outcome. */
	detail[0] = '\0';
	if (msgs.first[0] != '\0' && strstr(msgs.first, db_strerror(rc)) == NULL)
		o += (size_t)snprintf(detail + o, sizeof(detail) - o, "%s",
		    msgs.first);
	if (msgs.file[0] != '\0' && strcmp(msgs.file, msgs.first) != 0 &&
	    o < sizeof(detail))
		o += (size_t)snprintf(detail + o, sizeof(detail) - o, "%s%s",
		    o ? "; " : "", msgs.file);
	if (msgs.last[0] != '\0' && strcmp(msgs.last, msgs.first) != 0 &&
	    strcmp(msgs.last, msgs.file) != 0 && o < sizeof(detail))
		snprintf(detail + o, sizeof(detail) - o, "%s%s", o ? "; " : "",
		    msgs.last);
	why_set(why, "%s: %s%s%s%s%s", what,
	    full ? strerror(ENOSPC) : db_strerror(rc), detail[0] ? " (" : "",
	    detail, detail[0] ? ")" : "",
	    msgs.damaged ? "; a table is damaged: policyctl db verify names "
			   "it; restore it from a backup, or remove it and "
			   "its state starts over" : "");
	msgs_clear();
	switch (rc) {
	case DB_LOCK_DEADLOCK:
	case DB_LOCK_NOTGRANTED:
		code = STORE_ERETRY;
		break;
	case DB_RUNRECOVERY:
		code = STORE_EFATAL;
		break;
	default:
		code = STORE_ERROR;
		break;
	}
	/* A full disk under a panic is still fatal: only a reopen helps. */
	if (full && code != STORE_EFATAL)
		code = STORE_EFULL;
	return code;
}

/*
 * writeback - the log's writer behind the loop (the daemon, sync: os).
 * Berkeley DB syncs a log file when it moves on to the next one, on the
 * thread whose record did not fit: the daemon's loop, which then stood
 * still while the kernel wrote the whole file out (4 MiB, some 100 ms of
 * greylisting at full speed: 3 to 5 ms on the project's machines, twice a
 * second). This thread asks the kernel every WRITEBACK_MS to start
 * writing what the current file has gained (sync_file_range, which
 * neither waits nor flushes the disk's cache), through a descriptor of
 * its own, so a switch finds little left to write.
 */
#define WRITEBACK_MS 20

static void *
writeback(void *arg)
{
	struct bdb *st = arg;
	u_int32_t cur = 0, off = 0;
	int fd = -1;

	pthread_mutex_lock(&st->wb.lock);
	while (!st->wb.stop) {
		DB_LOG_STAT *ls;
		struct timespec ts;
		bool grew = false;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += WRITEBACK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&st->wb.cond, &st->wb.lock, &ts);
		if (st->wb.stop)
			break;
		pthread_mutex_unlock(&st->wb.lock);
		if (st->env->log_stat(st->env, &ls, 0) == 0) {
			if (fd < 0 || ls->st_cur_file != cur) {
				char path[4200];

				if (fd >= 0)
					close(fd);
				cur = ls->st_cur_file;
				snprintf(path, sizeof(path), "%s/log.%010u", st->dir,
				    (unsigned)cur);
				fd = open(path, O_RDONLY | O_CLOEXEC);
				off = 0;
			}
			grew = ls->st_cur_offset != off;
			off = ls->st_cur_offset;
			free(ls);
		}
		if (fd >= 0 && grew)
			(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		pthread_mutex_lock(&st->wb.lock);
	}
	pthread_mutex_unlock(&st->wb.lock);
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* writeback_start - the thread, when this open is the daemon's */
static void
writeback_start(struct bdb *st)
{
	if (!st->group || !st->threads || st->sync != STORE_SYNC_OS)
		return;
	pthread_mutex_init(&st->wb.lock, NULL);
	pthread_cond_init(&st->wb.cond, NULL);
	st->wb.stop = false;
	st->wb.running = pthread_create(&st->wb.thread, NULL, writeback,
	    st) == 0;
	if (!st->wb.running) {
		pthread_cond_destroy(&st->wb.cond);
		pthread_mutex_destroy(&st->wb.lock);
	}
}

/* writeback_stop - the thread gone, before the environment goes */
static void
writeback_stop(struct bdb *st)
{
	if (!st->wb.running)
		return;
	pthread_mutex_lock(&st->wb.lock);
	st->wb.stop = true;
	pthread_cond_signal(&st->wb.cond);
	pthread_mutex_unlock(&st->wb.lock);
	pthread_join(st->wb.thread, NULL);
	pthread_cond_destroy(&st->wb.cond);
	pthread_mutex_destroy(&st->wb.lock);
	st->wb.running = false;
}

/*
 * release_regions - after a clean close, the regions' memory back to the
 * system when nobody else uses them (a stopped daemon holds no memory):
 * only with the lock to ourselves (no other opener is joining), and
 * Berkeley DB removes nothing another process still has open. Only
 * after a close that wrote every table's pages to its file: the next
 * open runs no recovery when no process died (DB_REGISTER), so pages
 * left in a removed cache (a close after a panic) would be lost. There
 * the regions stay, for the recovery that comes with the reopen.
 */
static int env_setup(struct bdb *st, const struct store_opts *o,
    DB_ENV **envp);

static void
release_regions(struct bdb *st)
{
	struct store_opts o = { .dir = st->dir };
	DB_ENV *env;

	if (!st->shm || st->lock_fd < 0 ||
	    flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return;
	if (env_setup(st, &o, &env) == 0)
		(void)env->remove(env, st->dir, 0); /* frees env */
}

/* bdb_close - close tables and environment */
static void
bdb_close(struct store *pub)
{
	struct bdb *st = (struct bdb *)pub;
	bool clean;
	int i;

	if (st == NULL)
		return;
	clean = st->opened;
	writeback_stop(st);
	/* Group commits not yet written: written now, not left to a
	 * recovery that a clean close does not run. */
	if (st->pending && st->env != NULL &&
	    st->env->log_flush(st->env, NULL) != 0)
		clean = false;
	/*
	 * A checkpoint, so the next open finds the last one at the end of
	 * the log: it reads the log back to it, and a minute of writes at
	 * full speed since the last sweep's (a gigabyte, ten million
	 * triplets) took a start 1.2 s. The old files go with it. A failure
	 * (a full disk) leaves that work to the next open, as before.
	 */
	if (clean && st->env != NULL)
		(void)st->env->txn_checkpoint(st->env, 0, 0, 0);
	for (i = 0; i < st->ntables; i++)
		if (st->tables[i].db->close(st->tables[i].db, 0) != 0)
			clean = false;
	if (st->meta != NULL && st->meta->close(st->meta, 0) != 0)
		clean = false;
	if (st->env != NULL && st->env->close(st->env, 0) == 0 && clean)
		release_regions(st);
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* the lock goes with it */
	pthread_mutex_destroy(&st->tables_lock);
	rc_close(&st->rc);
	free(st);
}

/* step - a transaction step; an injected failure (store_bdb_fail) */
static int
step(struct bdb *st, unsigned kind, struct why *why)
{
	if (st->fault.count == 0 || !(st->fault.steps & kind))
		return 0;
	if (st->fault.skip > 0) {
		st->fault.skip--;
		return 0;
	}
	st->fault.count--;
	if (st->fault.msg[0] != '\0')
		why_set(why, "injected: %s", st->fault.msg);
	else
		why_set(why, "injected: %s", st->fault.code == STORE_ERETRY
			     ? "deadlock" : st->fault.code == STORE_EFULL
			     ? strerror(ENOSPC) : "I/O error");
	return st->fault.code;
}

/* store_bdb_cached - the cache of records is on (tests) */
bool
store_bdb_cached(struct store *pub)
{
	struct bdb *st = (struct bdb *)pub;
	bool on;

	pthread_mutex_lock(&st->rc.lock);
	on = st->rc.gen != NULL;
	pthread_mutex_unlock(&st->rc.lock);
	return on;
}

/* store_bdb_cache_answers - looks the cache of records answered (tests) */
uint64_t
store_bdb_cache_answers(struct store *pub)
{
	struct bdb *st = (struct bdb *)pub;
	uint64_t n;

	pthread_mutex_lock(&st->rc.lock);
	n = st->rc.answers;
	pthread_mutex_unlock(&st->rc.lock);
	return n;
}

/* store_bdb_fail - make the next steps fail (tests) */
void
store_bdb_fail(struct store *pub, unsigned steps, unsigned skip,
    unsigned count, int code, const char *msg)
{
	struct bdb *st = (struct bdb *)pub;

	snprintf(st->fault.msg, sizeof(st->fault.msg), "%s", msg ? msg : "");
	st->fault.steps = steps;
	st->fault.skip = skip;
	st->fault.count = count;
	st->fault.code = code;
}

/*
 * key_cmp - the tables' order: Berkeley DB's own (bytes as unsigned,
 * a prefix first), with memcmp instead of its loop of a byte a step:
 * greylisting's keys share long heads ("net\0sender\0"), and the
 * comparisons of a lookup were a twentieth of a request's instructions.
 * The order is the same, so tables written before read the same.
 */
static int
key_cmp(DB *db, const DBT *a, const DBT *b)
{
	size_t n = a->size < b->size ? a->size : b->size;
	int c = n > 0 ? memcmp(a->data, b->data, n) : 0;

	(void)db;
	if (c != 0)
		return c;
	return a->size < b->size ? -1 : a->size > b->size;
}

/*
 * key_prefix - the bytes of b (which sorts after a) that set it apart:
 * what Berkeley DB's own does for its own order, which a table with a
 * comparison of ours would otherwise go without (longer keys in the
 * pages above the leaves)
 */
static size_t
key_prefix(DB *db, const DBT *a, const DBT *b)
{
	const unsigned char *p = a->data, *q = b->data;
	size_t n = a->size < b->size ? a->size : b->size, i;

	(void)db;
	for (i = 0; i < n; i++)
		if (p[i] != q[i])
			return i + 1;
	return a->size < b->size ? a->size + 1 : b->size;
}

/* open_db - a table's file in the environment, created if need be */
static int
open_db(struct bdb *st, const char *file, DB **dbp, struct why *why)
{
	DB *db;
	int rc;

	*dbp = NULL;
	/*
	 * Checksums are kept by tables created with them. No reverse
	 * splits: a delete that empties a page would otherwise lock the
	 * pages above it, and while policyctl flushes, every daemon
	 * transaction (which may not wait) met those locks. The tables grow
	 * and shrink in cycles; empty pages are reused.
	 */
	if ((rc = db_create(&db, st->env, 0)) != 0)
		return fail(st, rc, file, why);
	if ((rc = db->set_flags(db, DB_CHKSUM | DB_REVSPLITOFF)) != 0 ||
	    (rc = db->set_bt_compare(db, key_cmp)) != 0 ||
	    (rc = db->set_bt_prefix(db, key_prefix)) != 0 ||
	    (rc = db->open(db, NULL, file, NULL, DB_BTREE,
		DB_CREATE | DB_AUTO_COMMIT | (st->threads ? DB_THREAD : 0),
		0600)) != 0) {
		char what[4200];

		snprintf(what, sizeof(what), "%s/%s", st->dir, file);
		db->close(db, 0);
		return fail(st, rc, what, why);
	}
	*dbp = db;
	return 0;
}

/* table_locked - table(), with tables_lock held */
static int
table_locked(struct bdb *st, const char *name, struct table **tp,
    struct why *why)
{
	struct table *t;
	int i, rc;

	for (i = 0; i < st->ntables; i++)
		if (strcmp(st->tables[i].name, name) == 0) {
			*tp = &st->tables[i];
			return 0;
		}
	if (!store_table_ok(name) || strcmp(name, "meta") == 0) {
		why_set(why, "\"%.40s\" is not a table name", name);
		return STORE_ERROR;
	}
	if (st->ntables == MAX_TABLES) {
		why_set(why, "%s: more than %d tables", st->dir, MAX_TABLES);
		return STORE_ERROR;
	}
	t = &st->tables[st->ntables];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->file, sizeof(t->file), "%s.db", name);
	msgs_clear();
	if ((rc = open_db(st, t->file, &t->db, why)) != 0)
		return rc;
	st->ntables++;
	*tp = t;
	return 0;
}

/* table - a table by name, opened (and created) on first use */
static int
table(struct bdb *st, const char *name, struct table **tp, struct why *why)
{
	int rc;

	pthread_mutex_lock(&st->tables_lock);
	rc = table_locked(st, name, tp, why);
	pthread_mutex_unlock(&st->tables_lock);
	return rc;
}

/*
 * A thread's tables found lately, by the name's pointer (a transaction's
 * keys name their tables with the same constants every time): table()
 * without its lock and its search, on the request path. An entry is
 * its open's (serial: a store opened again at the same address is not
 * the same), and the name is compared too.
 */
#define RECENT_MAX 8
static __thread struct recent {
	unsigned serial;
	const char *name;
	struct table *tb;
} recent[RECENT_MAX];
static __thread unsigned recent_next;

/* table_recent - table(), a thread's recent finds first */
static int
table_recent(struct bdb *st, const char *name, struct table **tp,
    struct why *why)
{
	struct recent *r;
	int i, rc;

	for (i = 0; i < RECENT_MAX; i++) {
		r = &recent[i];
		if (r->serial == st->serial && r->name == name &&
		    strcmp(r->tb->name, name) == 0) {
			*tp = r->tb;
			return 0;
		}
	}
	if ((rc = table(st, name, tp, why)) != 0)
		return rc;
	r = &recent[recent_next++ % RECENT_MAX];
	r->serial = st->serial;
	r->name = name;
	r->tb = *tp;
	return 0;
}

/* ntables - how many tables are open now */
static int
ntables(struct bdb *st)
{
	int n;

	pthread_mutex_lock(&st->tables_lock);
	n = st->ntables;
	pthread_mutex_unlock(&st->tables_lock);
	return n;
}

/* begin - a new transaction */
static int
begin(struct bdb *st, DB_TXN **t, struct why *why)
{
	int rc;

	msgs_clear();
	if ((rc = step(st, STORE_BDB_BEGIN, why)) != 0)
		return rc;
	if ((rc = st->env->txn_begin(st->env, NULL, t,
	    st->nowait ? DB_TXN_NOWAIT : 0)) != 0)
		return fail(st, rc, "begin transaction", why);
	return 0;
}

/* commit - commit (or, with an injected failure, abort) */
static int
commit(struct bdb *st, DB_TXN *t, struct why *why)
{
	int rc;

	if ((rc = step(st, STORE_BDB_COMMIT, why)) != 0) {
		t->abort(t);
		return rc;
	}
	rc = t->commit(t, grouped ? DB_TXN_NOSYNC : 0);
	/* A transaction that only read logged nothing: no group commit
	 * for it (nor the record group_commit writes to get one). */
	if (rc == 0 && grouped && wrote)
		st->pending = true;
	return rc == 0 ? 0 : fail(st, rc, "commit", why);
}

/*
 * rec_get - one record: its payload into val (STORE_VAL_MAX), *vlen and
 * *expires set; STORE_NOTFOUND if absent. A value too short to hold an
 * expiry is damage: an empty record that has already expired.
 */
static int
rec_get(struct bdb *st, DB_TXN *t, struct table *tb, const void *key,
    size_t klen, u_int32_t flags, void *val, size_t *vlen, int64_t *expires,
    struct why *why)
{
	unsigned char buf[HDR + STORE_VAL_MAX], kbuf[STORE_KEY_MAX];
	DBT k, v;
	int rc;

	if ((rc = step(st, STORE_BDB_READ, why)) != 0)
		return rc;
	if (klen == 0 || klen > STORE_KEY_MAX)
		return STORE_NOTFOUND; /* no such key is ever written */
	k = key_dbt(kbuf, key, klen);
	memset(&v, 0, sizeof(v));
	v.data = buf;
	v.ulen = sizeof(buf);
	v.flags = DB_DBT_USERMEM;
	rc = tb->db->get(tb->db, t, &k, &v, flags);
	if (rc == DB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc == DB_BUFFER_SMALL) {
		why_set(why, "%s: a record of %u bytes is longer than this "
			     "policyd writes", tb->file, v.size);
		return STORE_ERROR;
	}
	if (rc != 0)
		return fail(st, rc, tb->file, why);
	if (v.size < HDR) {
		*vlen = 0;
		*expires = 1;
		return 0;
	}
	*expires = (int64_t)store_get_u64(buf);
	*vlen = v.size - HDR;
	memcpy(val, buf + HDR, *vlen);
	return 0;
}

/*
 * rec_put_db - one record with its expiry; exists: 1 it is there, 0 it is
 * not (both read in this transaction), -1 not known (the put finds out,
 * for the table's count)
 */
static int
rec_put_db(struct bdb *st, DB_TXN *t, struct table *tb, const void *key,
    size_t klen, const void *val, size_t vlen, int64_t expires, int exists,
    struct why *why)
{
	unsigned char buf[HDR + STORE_VAL_MAX];
	DBT k, v;
	int rc;

	wrote = true; /* at the try: never a write missed */
	if ((rc = step(st, STORE_BDB_WRITE, why)) != 0)
		return rc;
	if (klen == 0 || klen > STORE_KEY_MAX || vlen > STORE_VAL_MAX) {
		why_set(why, "%s: a record of %zu+%zu bytes is longer than a "
			     "store takes", tb->file, klen, vlen);
		return STORE_ERROR;
	}
	store_put_u64(buf, (uint64_t)expires);
	memcpy(buf + HDR, val, vlen);
	k = dbt(key, klen);
	v = dbt(buf, HDR + vlen);
	if (exists < 0) {
		rc = tb->db->put(tb->db, t, &k, &v, DB_NOOVERWRITE);
		if (rc == 0) {
			delta_add(tb, 1);
			return 0;
		}
		if (rc != DB_KEYEXIST)
			return fail(st, rc, tb->file, why);
	}
	rc = tb->db->put(tb->db, t, &k, &v, 0);
	if (rc == 0 && exists == 0)
		delta_add(tb, 1);
	return rc == 0 ? 0 : fail(st, rc, tb->file, why);
}

/*
 * rec_put - rec_put_db, and the record no longer known to the cache
 * (after the write: a run that read it before cannot fill it in), but
 * for a named transaction's own writes, which it fills in itself
 */
static int
rec_put(struct bdb *st, DB_TXN *t, struct table *tb, const void *key,
    size_t klen, const void *val, size_t vlen, int64_t expires, int exists,
    struct why *why)
{
	int rc = rec_put_db(st, t, tb, key, klen, val, vlen, expires, exists,
	    why);

	rc_wrote(&st->rc, tb, key, klen, !rc_own);
	return rc;
}

/* rec_del_db - one record; STORE_NOTFOUND if absent */
static int
rec_del_db(struct bdb *st, DB_TXN *t, struct table *tb, const void *key,
    size_t klen, struct why *why)
{
	DBT k = dbt(key, klen);
	int rc;

	wrote = true;
	if ((rc = step(st, STORE_BDB_WRITE, why)) != 0)
		return rc;
	rc = tb->db->del(tb->db, t, &k, 0);
	if (rc == DB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc == 0)
		delta_add(tb, -1);
	return rc == 0 ? 0 : fail(st, rc, tb->file, why);
}

/* rec_del - rec_del_db, and the record no longer known to the cache */
static int
rec_del(struct bdb *st, DB_TXN *t, struct table *tb, const void *key,
    size_t klen, struct why *why)
{
	int rc = rec_del_db(st, t, tb, key, klen, why);

	rc_wrote(&st->rc, tb, key, klen, true);
	return rc;
}

/*
 * A transaction's work: 0 or STORE_NOTFOUND (committed), or an error
 * (aborted). reset() puts its state back before each run.
 */
typedef int txn_fn(struct bdb *st, DB_TXN *t, void *arg, struct why *why);

/* in_txn - fn in a transaction; one that loses runs again (tries) */
static int
in_txn(struct bdb *st, txn_fn *fn, void (*reset)(void *), void *arg,
    struct why *why)
{
	unsigned i;
	int rc = 0;

	for (i = 0; i < st->tries; i++) {
		DB_TXN *t;

		if (reset != NULL)
			reset(arg);
		deltas.n = 0;
		wrote = false;
		if ((rc = begin(st, &t, why)) == 0) {
			rc = fn(st, t, arg, why);
			if (rc >= 0) {
				int crc = commit(st, t, why);

				rc = crc != 0 ? crc : rc;
				if (crc == 0)
					deltas_commit();
			} else {
				t->abort(t);
			}
		}
		deltas.n = 0;
		if (rc != STORE_ERETRY)
			break;
	}
	return rc;
}

/* reply - an operation finished at once: the 1 / <0 of store.h */
static int
reply(const struct store_call *c, int rc, const struct why *why)
{
	if (c->op != NULL)
		*c->op = NULL;
	c->out->rc = rc;
	if (rc < 0) {
		if (why != &c->out->why)
			c->out->why = *why;
		return rc;
	}
	return 1;
}

/*
 * flush_run - txn_fn of group_commit(): a record whose commit writes the
 * log. A debug record (log_printf) in the transaction, not a table write:
 * it touches no page and takes no lock, and recovery and db_printlog
 * know it (a record of our own type would stop db_recover). Its commit
 * logs a commit record, which DB_TXN_WRITE_NOSYNC writes, with every
 * record before it.
 */
static int
flush_run(struct bdb *st, DB_TXN *t, void *arg, struct why *why)
{
	int rc;

	(void)arg;
	if ((rc = st->env->log_printf(st->env, t, "%s", "group commit")) != 0)
		return fail(st, rc, "log", why);
	return 0;
}

/*
 * bdb_group_commit - the group calls' log written: sync: full, log_flush
 * (the write and one fsync for them all); sync: os, a record of our own
 * committed DB_TXN_WRITE_NOSYNC, whose commit writes the log up to it,
 * every group commit before it included, with no fsync (log_flush
 * would sync)
 */
static int
bdb_group_commit(struct store *pub, struct why *why)
{
	struct bdb *st = (struct bdb *)pub;
	int rc;

	if (!st->pending)
		return 0;
	st->pending = false;
	if (st->sync == STORE_SYNC_FULL) {
		if ((rc = st->env->log_flush(st->env, NULL)) != 0)
			return fail(st, rc, "log flush", why);
		return 0;
	}
	return in_txn(st, flush_run, NULL, NULL, why);
}

/* A named transaction's records. */
struct run_txn {
	struct bdb *st;
	const struct store_script *s;
	const struct store_tkey *keys;
	const void *param;
	size_t plen;
	struct table *tb[STORE_RUN_KEYS]; /* looked up on first use */
	DB_TXN *t;
	struct store_reply *out;
	signed char exists[STORE_RUN_KEYS]; /* as run_rd found them; -1 unread */
	/*
	 * For the cache, each key as this try last read or wrote it: -1
	 * not looked at, 0 absent, 1 found (val, vlen, expires).
	 */
	struct {
		signed char state;
		uint16_t vlen;
		int64_t expires;
		unsigned char val[STORE_VAL_MAX];
	} seen[STORE_RUN_KEYS];
	bool miss;        /* rc_try: a record the cache did not know */
};

/* run_seen - what the try read or wrote of key k, for the cache */
static void
run_seen(struct run_txn *g, size_t k, bool found, const void *val,
    size_t vlen, int64_t expires)
{
	g->seen[k].state = found;
	g->seen[k].vlen = found ? (uint16_t)vlen : 0;
	g->seen[k].expires = found ? expires : 0;
	if (found)
		memcpy(g->seen[k].val, val, vlen);
}

/* run_table - key k's table */
static int
run_table(struct run_txn *g, size_t k, struct why *why)
{
	if (g->tb[k] != NULL)
		return 0;
	return table_recent(g->st, g->keys[k].table, &g->tb[k], why);
}

/* run_rd - store_script_read_fn: a record, in the transaction */
static int
run_rd(void *arg, size_t k, unsigned char *val, size_t *len,
    struct why *why)
{
	struct run_txn *g = arg;
	int64_t expires;
	int rc;

	if (k >= g->s->nkeys || g->keys[k].klen == 0)
		return STORE_NOTFOUND;
	if ((rc = run_table(g, k, why)) != 0)
		return rc;
	*len = STORE_VAL_MAX;
	rc = rec_get(g->st, g->t, g->tb[k], g->keys[k].key, g->keys[k].klen,
	    0, val, len, &expires, why);
	if (rc >= 0) {
		g->exists[k] = rc == 0;
		run_seen(g, k, rc == 0, val, *len, expires);
	}
	return rc;
}

/* run_wr - store_script_write_fn: a record, in the transaction */
static int
run_wr(void *arg, size_t k, const unsigned char *val, size_t len,
    int64_t expires, struct why *why)
{
	struct run_txn *g = arg;
	int rc;

	if (k >= g->s->nkeys || g->keys[k].klen == 0 || len > STORE_VAL_MAX) {
		why_set(why, "%s: a write of key %zu (%zu bytes) it may not "
			     "make", g->s->name, k, len);
		return STORE_ERROR;
	}
	if ((rc = run_table(g, k, why)) != 0)
		return rc;
	rc = rec_put(g->st, g->t, g->tb[k], g->keys[k].key, g->keys[k].klen,
	    val, len, expires, g->exists[k], why);
	if (rc == 0)
		run_seen(g, k, true, val, len, expires);
	else
		g->seen[k].state = -1; /* not known: nothing filled in */
	return rc;
}

/* run_run - txn_fn of a named transaction */
static int
run_run(struct bdb *st, DB_TXN *t, void *arg, struct why *why)
{
	struct run_txn *g = arg;

	size_t k;

	(void)st;
	g->t = t;
	memset(g->exists, -1, sizeof(g->exists));
	for (k = 0; k < STORE_RUN_KEYS; k++)
		g->seen[k].state = -1;
	g->out->vlen = 0;
	return g->s->fn(g->param, g->plen, run_rd, run_wr, g, g->out->val,
	    &g->out->vlen, why);
}

/* rc_rd - store_script_read_fn of rc_try: a record from the cache */
static int
rc_rd(void *arg, size_t k, unsigned char *val, size_t *len,
    struct why *why)
{
	struct run_txn *g = arg;
	int64_t expires;
	bool found;
	int rc;

	if (k >= g->s->nkeys || g->keys[k].klen == 0)
		return STORE_NOTFOUND; /* as run_rd */
	if ((rc = run_table(g, k, why)) != 0) {
		g->miss = true;
		return rc;
	}
	if (!rc_get(&g->st->rc, g->tb[k], g->keys[k].key, g->keys[k].klen,
	    val, len, &expires, &found)) {
		g->miss = true;
		why_set(why, "not in the cache");
		return STORE_ERROR;
	}
	return found ? 0 : STORE_NOTFOUND;
}

/* rc_wr - store_script_write_fn of rc_try: a write needs a transaction */
static int
rc_wr(void *arg, size_t k, const unsigned char *val, size_t len,
    int64_t expires, struct why *why)
{
	struct run_txn *g = arg;

	(void)k;
	(void)val;
	(void)len;
	(void)expires;
	g->miss = true;
	why_set(why, "a write");
	return STORE_ERROR;
}

/*
 * rc_try - the run answered from the cache: true with its result in
 * *rcp and g->out, when every record it read was known and it wrote none
 */
static bool
rc_try(struct run_txn *g, int *rcp)
{
	struct why why;
	int rc;

	if (g->st->fault.count > 0)
		return false; /* an injected failure: the steps as they were */
	why.text[0] = '\0';
	g->miss = false;
	g->out->vlen = 0;
	rc = g->s->fn(g->param, g->plen, rc_rd, rc_wr, g, g->out->val,
	    &g->out->vlen, &why);
	if (g->miss || rc < 0) {
		/* The transaction says it, an error of the script's too. */
		g->out->vlen = 0;
		return false;
	}
	*rcp = rc;
	return true;
}

/* bdb_run - a named transaction, in one Berkeley DB transaction */
static int
bdb_run(struct store *pub, const char *script, const struct store_tkey *keys,
    size_t n, const void *param, size_t plen, const struct store_call *c)
{
	struct bdb *st = (struct bdb *)pub;
	struct run_txn g = { .st = st, .keys = keys, .param = param,
		.plen = plen, .out = c->out };
	int rc;

	uint64_t seq;
	size_t k;

	if ((g.s = store_run_check(script, keys, n, plen, &c->out->why)) ==
	    NULL)
		return reply(c, STORE_ERROR, &c->out->why);
	if (rc_try(&g, &rc))
		return reply(c, rc, &c->out->why);
	rc_mark(&st->rc, &seq);
	grouped = c->group && st->group;
	rc_own = true;
	rc = in_txn(st, run_run, NULL, &g, &c->out->why);
	rc_own = false;
	grouped = false;
	if (rc >= 0)
		for (k = 0; k < g.s->nkeys; k++)
			if (g.seen[k].state >= 0)
				rc_fill(&st->rc, seq, g.tb[k],
				    g.keys[k].key, g.keys[k].klen,
				    g.seen[k].state == 1, g.seen[k].val,
				    g.seen[k].vlen, g.seen[k].expires);
	return reply(c, rc, &c->out->why);
}

/* A get, put or delete. */
struct rec_txn {
	struct table *tb;
	const void *key;
	size_t klen;
	const struct store_rec *recs;
	size_t n;
	struct store_reply *out;
};

/* get_run - txn_fn of a get */
static int
get_run(struct bdb *st, DB_TXN *t, void *arg, struct why *why)
{
	struct rec_txn *x = arg;

	return rec_get(st, t, x->tb, x->key, x->klen, 0, x->out->val,
	    &x->out->vlen, &x->out->expires, why);
}

/* bdb_get - one record */
static int
bdb_get(struct store *pub, const char *name, const void *key, size_t klen,
    const struct store_call *c)
{
	struct bdb *st = (struct bdb *)pub;
	struct rec_txn x = { .key = key, .klen = klen, .out = c->out };
	int rc;

	uint64_t seq;
	bool found;

	c->out->vlen = 0;
	c->out->expires = 0;
	if ((rc = table(st, name, &x.tb, &c->out->why)) != 0)
		return reply(c, rc, &c->out->why);
	if (st->fault.count == 0 && rc_get(&st->rc, x.tb, key, klen,
	    c->out->val, &c->out->vlen, &c->out->expires, &found))
		return reply(c, found ? 0 : STORE_NOTFOUND, &c->out->why);
	rc_mark(&st->rc, &seq);
	rc = in_txn(st, get_run, NULL, &x, &c->out->why);
	if (rc == 0 || rc == STORE_NOTFOUND)
		rc_fill(&st->rc, seq, x.tb, key, klen, rc == 0,
		    c->out->val, c->out->vlen, c->out->expires);
	return reply(c, rc, &c->out->why);
}

/* What a get_first asks. */
struct first_txn {
	struct table *tb;
	const struct store_key *keys;
	size_t n;
	struct store_reply *out;
};

/* first_run - txn_fn of a get_first: the keys in turn */
static int
first_run(struct bdb *st, DB_TXN *t, void *arg, struct why *why)
{
	struct first_txn *x = arg;
	size_t i;
	int rc;

	for (i = 0; i < x->n; i++) {
		rc = rec_get(st, t, x->tb, x->keys[i].key, x->keys[i].klen, 0,
		    x->out->val, &x->out->vlen, &x->out->expires, why);
		if (rc != STORE_NOTFOUND) {
			x->out->n = i;
			return rc;
		}
	}
	return STORE_NOTFOUND;
}

/* bdb_get_first - the first key of several with a record, one txn */
static int
bdb_get_first(struct store *pub, const char *name,
    const struct store_key *keys, size_t n, const struct store_call *c)
{
	struct bdb *st = (struct bdb *)pub;
	struct first_txn x = { .keys = keys, .n = n, .out = c->out };
	int rc;

	c->out->vlen = 0;
	c->out->expires = 0;
	c->out->n = 0;
	uint64_t seq;
	size_t i;
	bool found;

	if (n == 0 || n > STORE_GET_MAX) {
		why_set(&c->out->why, "get_first of %zu keys", n);
		return reply(c, STORE_ERROR, &c->out->why);
	}
	if ((rc = table(st, name, &x.tb, &c->out->why)) != 0)
		return reply(c, rc, &c->out->why);
	/* From the cache when it knows each key up to the first found. */
	for (i = 0; st->fault.count == 0 && i < n; i++) {
		if (!rc_get(&st->rc, x.tb, keys[i].key, keys[i].klen,
		    c->out->val, &c->out->vlen, &c->out->expires, &found))
			break;
		if (found) {
			c->out->n = i;
			return reply(c, 0, &c->out->why);
		}
	}
	if (st->fault.count == 0 && i == n)
		return reply(c, STORE_NOTFOUND, &c->out->why);
	c->out->vlen = 0;
	c->out->expires = 0;
	rc_mark(&st->rc, &seq);
	rc = in_txn(st, first_run, NULL, &x, &c->out->why);
	/* first_run read the keys before the one found (or all): absent */
	if (rc == 0 || rc == STORE_NOTFOUND)
		for (i = 0; i < (rc == 0 ? c->out->n : n); i++)
			rc_fill(&st->rc, seq, x.tb, keys[i].key,
			    keys[i].klen, false, NULL, 0, 0);
	if (rc == 0)
		rc_fill(&st->rc, seq, x.tb, keys[c->out->n].key,
		    keys[c->out->n].klen, true, c->out->val, c->out->vlen,
		    c->out->expires);
	return reply(c, rc, &c->out->why);
}

/* put_reset - a put runs again: nothing written yet */
static void
put_reset(void *arg)
{
	((struct rec_txn *)arg)->out->n = 0;
}

/* put_run - txn_fn of a put: each record as its update says */
static int
put_run(struct bdb *st, DB_TXN *t, void *arg, struct why *why)
{
	struct rec_txn *x = arg;
	size_t i;
	int rc;

	for (i = 0; i < x->n; i++) {
		const struct store_rec *in = &x->recs[i];
		unsigned char old[STORE_VAL_MAX], buf[STORE_VAL_MAX];
		struct store_rec o, out = *in;
		bool have = false;

		if (in->vlen > STORE_VAL_MAX) {
			why_set(why, "%s: a value of %zu bytes is longer than "
				     "%d", x->tb->file, in->vlen,
			    STORE_VAL_MAX);
			return STORE_ERROR;
		}
		memcpy(buf, in->val, in->vlen);
		out.val = buf;
		/* An update other than a set, or one record (whose reply
		 * says what was there), reads what is there first. */
		if ((in->upd != NULL && in->upd->kind != STORE_UPD_SET) ||
		    x->n == 1) {
			bool write;
			int err;

			o.key = in->key;
			o.klen = in->klen;
			o.val = old;
			rc = rec_get(st, t, x->tb, in->key, in->klen, DB_RMW,
			    old, &o.vlen, &o.expires, why);
			if (rc < 0)
				return rc;
			have = rc == 0;
			if (x->n == 1) {
				x->out->prev_found = have;
				if (have)
					memcpy(x->out->prev, old, o.vlen);
				x->out->prev_len = have ? o.vlen : 0;
			}
			write = store_update_apply(in, have ? &o : NULL, &out,
			    &err, why);
			if (err < 0)
				return STORE_ERROR;
			if (!write) {
				if (x->n == 1 && have) {
					memcpy(x->out->val, old, o.vlen);
					x->out->vlen = o.vlen;
					x->out->expires = o.expires;
				}
				continue;
			}
		}
		if ((rc = rec_put(st, t, x->tb, out.key, out.klen, out.val,
		    out.vlen, out.expires, (in->upd != NULL && in->upd->kind !=
		    STORE_UPD_SET) || x->n == 1 ? have : -1, why)) != 0)
			return rc;
		if (x->n == 1) {
			memcpy(x->out->val, out.val, out.vlen);
			x->out->vlen = out.vlen;
			x->out->expires = out.expires;
		}
		x->out->n++;
	}
	return 0;
}

/* bdb_put - records in one transaction, merged or replaced */
static int
bdb_put(struct store *pub, const char *name, const struct store_rec *recs,
    size_t n, const struct store_call *c)
{
	struct bdb *st = (struct bdb *)pub;
	struct rec_txn x = { .recs = recs, .n = n, .out = c->out };
	int rc;

	c->out->n = 0;
	if ((rc = table(st, name, &x.tb, &c->out->why)) == 0) {
		grouped = c->group && st->group;
		rc = in_txn(st, put_run, put_reset, &x, &c->out->why);
		grouped = false;
	}
	if (rc < 0)
		c->out->n = 0;
	return reply(c, rc, &c->out->why);
}

/* del_run - txn_fn of a delete */
static int
del_run(struct bdb *st, DB_TXN *t, void *arg, struct why *why)
{
	struct rec_txn *x = arg;

	return rec_del(st, t, x->tb, x->key, x->klen, why);
}

/* bdb_del - one record */
static int
bdb_del(struct store *pub, const char *name, const void *key, size_t klen,
    const struct store_call *c)
{
	struct bdb *st = (struct bdb *)pub;
	struct rec_txn x = { .key = key, .klen = klen, .out = c->out };
	int rc;

	if ((rc = table(st, name, &x.tb, &c->out->why)) == 0) {
		grouped = c->group && st->group;
		rc = in_txn(st, del_run, NULL, &x, &c->out->why);
		grouped = false;
	}
	return reply(c, rc, &c->out->why);
}

/* A walk over a batch of a table: list, flush, expire. */
struct walk {
	struct table *tb;
	const unsigned char *from; /* first key >= this; NULL: the start */
	size_t flen;
	size_t limit;
	/* What to do with a record: 0 keep, 1 row (list), 2 delete. */
	int (*what)(struct walk *w, const struct store_rec *r);
	store_match_fn *match;
	void *arg;
	int64_t now;
	/* Out, reset before each run. */
	uint64_t n;
	unsigned char next[STORE_KEY_MAX];
	size_t nlen;              /* 0 and !more: the table ended */
	bool more;
	unsigned char *rows;      /* list: the batch's rows, given after commit */
	size_t rows_len, rows_cap;
};

/* walk_reset - a batch runs again: its counts and rows start over */
static void
walk_reset(void *arg)
{
	struct walk *w = arg;

	w->n = 0;
	w->nlen = 0;
	w->more = false;
	w->rows_len = 0;
}

/* keep_row - a listed record, kept until the batch commits */
static void
keep_row(struct walk *w, const struct store_rec *r)
{
	size_t need = 3 * sizeof(uint64_t) + r->klen + r->vlen;
	unsigned char *p;

	if (w->rows_len + need > w->rows_cap) {
		w->rows_cap = (w->rows_len + need) * 2;
		w->rows = xrealloc(w->rows, w->rows_cap);
	}
	p = w->rows + w->rows_len;
	store_put_u64(p, r->klen);
	store_put_u64(p + 8, r->vlen);
	store_put_u64(p + 16, (uint64_t)r->expires);
	memcpy(p + 24, r->key, r->klen);
	memcpy(p + 24 + r->klen, r->val, r->vlen);
	w->rows_len += need;
}

/* give_rows - the committed batch's rows to the caller */
static void
give_rows(const struct walk *w, store_row_fn *row, void *arg)
{
	size_t off = 0;

	while (off < w->rows_len) {
		const unsigned char *p = w->rows + off;
		struct store_rec r;

		r.klen = store_get_u64(p);
		r.vlen = store_get_u64(p + 8);
		r.expires = (int64_t)store_get_u64(p + 16);
		r.key = p + 24;
		r.val = p + 24 + r.klen;
		row(arg, &r);
		off += 24 + r.klen + r.vlen;
	}
}

/* A cursor positioned for a walk, with room for what it reads. */
struct cur {
	DBC *c;
	DBT k, v;
	unsigned char kbuf[STORE_KEY_MAX];
	unsigned char vbuf[HDR + STORE_VAL_MAX];
};

/*
 * cur_open - a cursor on the first record >= from (flen 0: the first of
 * all): 0 with *first Berkeley DB's code of that read (0, DB_NOTFOUND,
 * ...), or a STORE_* error if there is no cursor
 */
static int
cur_open(struct bdb *st, struct table *tb, DB_TXN *t, u_int32_t cflags,
    u_int32_t gflags, const void *from, size_t flen, struct cur *cu,
    int *first, struct why *why)
{
	int rc;

	if ((rc = tb->db->cursor(tb->db, t, &cu->c, cflags)) != 0)
		return fail(st, rc, tb->file, why);
	memset(&cu->k, 0, sizeof(cu->k));
	memset(&cu->v, 0, sizeof(cu->v));
	cu->k.data = cu->kbuf;
	cu->k.ulen = sizeof(cu->kbuf);
	cu->k.flags = DB_DBT_USERMEM;
	cu->v.data = cu->vbuf;
	cu->v.ulen = sizeof(cu->vbuf);
	cu->v.flags = DB_DBT_USERMEM;
	if (from == NULL || flen == 0) {
		*first = cu->c->get(cu->c, &cu->k, &cu->v, DB_FIRST | gflags);
		return 0;
	}
	memcpy(cu->kbuf, from, flen < sizeof(cu->kbuf) ? flen
						       : sizeof(cu->kbuf));
	cu->k.size = (u_int32_t)flen;
	*first = cu->c->get(cu->c, &cu->k, &cu->v, DB_SET_RANGE | gflags);
	return 0;
}

/* cur_close - the cursor goes; the walk's outcome as a STORE_* code */
static int
cur_close(struct bdb *st, struct table *tb, struct cur *cu, int rc,
    struct why *why)
{
	cu->c->close(cu->c);
	if (rc == DB_NOTFOUND)
		rc = 0;
	if (rc == DB_BUFFER_SMALL) {
		why_set(why, "%s: a record is longer than this policyd writes",
		    tb->file);
		return STORE_ERROR;
	}
	return rc == 0 ? 0 : fail(st, rc, tb->file, why);
}

/* walk_run - txn_fn: one batch from the cursor */
static int
walk_run(struct bdb *st, DB_TXN *t, void *arg, struct why *why)
{
	struct walk *w = arg;
	struct cur cu;
	size_t seen = 0;
	int rc, r, err;

	if ((rc = step(st, STORE_BDB_READ, why)) != 0)
		return rc;
	/* Read locks go at once: a long walk never holds up writers. */
	if ((err = cur_open(st, w->tb, t, DB_READ_COMMITTED, 0, w->from,
	    w->flen, &cu, &rc, why)) != 0)
		return err;
	for (; rc == 0; rc = cu.c->get(cu.c, &cu.k, &cu.v, DB_NEXT)) {
		struct store_rec rec = { cu.kbuf, cu.k.size, cu.vbuf, 0, 1, NULL };

		if (seen++ == w->limit) {
			memcpy(w->next, cu.kbuf, cu.k.size);
			w->nlen = cu.k.size;
			w->more = true;
			break;
		}
		if (cu.v.size >= HDR) { /* else damage: empty, gone */
			rec.val = cu.vbuf + HDR;
			rec.vlen = cu.v.size - HDR;
			rec.expires = (int64_t)store_get_u64(cu.vbuf);
		}
		r = w->what(w, &rec);
		if (r == 1) {
			keep_row(w, &rec);
			w->n++;
		} else if (r == 2) {
			if ((rc = step(st, STORE_BDB_WRITE, why)) != 0) {
				cu.c->close(cu.c);
				return rc;
			}
			wrote = true;
			rc = cu.c->del(cu.c, 0);
			rc_wrote(&st->rc, w->tb, cu.k.data, cu.k.size, true);
			if (rc != 0)
				break;
			delta_add(w->tb, -1);
			w->n++;
		}
	}
	return cur_close(st, w->tb, &cu, rc, why);
}

/* walk - a batch, in a transaction that runs again if it loses */
static int
walk(struct bdb *st, struct walk *w, struct why *why)
{
	if (w->limit == 0)
		w->limit = BATCH;
	return in_txn(st, walk_run, walk_reset, w, why);
}

/* walk_next - the reply's cursor after a walk */
static void
walk_next(const struct walk *w, struct store_cursor *next)
{
	memcpy(next->pos, w->next, w->nlen);
	next->len = w->nlen;
	next->end = !w->more;
}

/* list_what - a walk's verdict on a record: a row if it matches */
static int
list_what(struct walk *w, const struct store_rec *r)
{
	return w->match == NULL || w->match(w->arg, r) ? 1 : 0;
}

/* bdb_list - a batch of records; rows given once it committed */
static int
bdb_list(struct store *pub, const char *name, const struct store_cursor *from,
    size_t limit, store_match_fn *match, store_row_fn *row, void *arg,
    const struct store_call *c)
{
	struct bdb *st = (struct bdb *)pub;
	struct walk w = { .from = from ? from->pos : NULL,
		.flen = from ? from->len : 0, .limit = limit,
		.what = list_what, .match = match, .arg = arg };
	int rc;

	if ((rc = table(st, name, &w.tb, &c->out->why)) == 0 &&
	    (rc = walk(st, &w, &c->out->why)) == 0) {
		c->out->n = w.n;
		walk_next(&w, &c->out->next);
		give_rows(&w, row, arg);
	}
	free(w.rows);
	return reply(c, rc, &c->out->why);
}

/* flush_what - a walk's verdict on a record: deleted if it matches */
static int
flush_what(struct walk *w, const struct store_rec *r)
{
	return w->match == NULL || w->match(w->arg, r) ? 2 : 0;
}

/* bdb_flush - a batch, deleting what matches */
static int
bdb_flush(struct store *pub, const char *name, const struct store_cursor *from,
    size_t limit, store_match_fn *match, void *arg,
    const struct store_call *c)
{
	struct bdb *st = (struct bdb *)pub;
	struct walk w = { .from = from ? from->pos : NULL,
		.flen = from ? from->len : 0, .limit = limit,
		.what = flush_what, .match = match, .arg = arg };
	int rc;

	if ((rc = table(st, name, &w.tb, &c->out->why)) == 0 &&
	    (rc = walk(st, &w, &c->out->why)) == 0) {
		c->out->n = w.n;
		walk_next(&w, &c->out->next);
	}
	return reply(c, rc, &c->out->why);
}

/* bdb_count - records in a table: maintained, counted now and then */
static int
bdb_count(struct store *pub, const char *name, const struct store_call *c)
{
	struct bdb *st = (struct bdb *)pub;
	DB_BTREE_STAT *sp;
	struct table *tb;
	int64_t now, at;
	int rc;

	c->out->n = 0;
	if ((rc = table(st, name, &tb, &c->out->why)) != 0)
		return reply(c, rc, &c->out->why);
	now = (int64_t)time(NULL);
	at = __atomic_load_n(&tb->counted_at, __ATOMIC_RELAXED);
	if (at != 0 && now - at < RECOUNT_S) {
		int64_t n = __atomic_load_n(&tb->count, __ATOMIC_RELAXED);

		c->out->n = n > 0 ? (uint64_t)n : 0;
		return reply(c, 0, &c->out->why);
	}
	/* The walk: once, and again after RECOUNT_S. */
	msgs_clear();
	if ((rc = tb->db->stat(tb->db, NULL, &sp, DB_READ_COMMITTED)) != 0)
		return reply(c, fail(st, rc, tb->file, &c->out->why),
		    &c->out->why);
	c->out->n = sp->bt_nkeys;
	__atomic_store_n(&tb->count, (int64_t)sp->bt_nkeys, __ATOMIC_RELAXED);
	__atomic_store_n(&tb->counted_at, now, __ATOMIC_RELAXED);
	free(sp);
	return reply(c, 0, &c->out->why);
}

/* bdb_cancel - nothing is ever under way */
static void
bdb_cancel(struct store_op *op)
{
	(void)op;
}

/* expire_what - a walk's verdict on a record: deleted once expired */
static int
expire_what(struct walk *w, const struct store_rec *r)
{
	return r->expires != 0 && r->expires <= w->now ? 2 : 0;
}

/* bdb_expire - a batch of each table, from where the last one ended */
static int
bdb_expire(struct store *pub, int64_t now, size_t limit, uint64_t *deleted,
    struct why *why)
{
	struct bdb *st = (struct bdb *)pub;
	int i, n = ntables(st), rc;

	for (i = 0; i < n; i++) {
		struct table *tb = &st->tables[i];
		struct walk w = { .tb = tb, .from = tb->sweep,
			.flen = tb->sweep_len, .limit = limit,
			.what = expire_what, .now = now };

		if ((rc = walk(st, &w, why)) != 0)
			return rc;
		memcpy(tb->sweep, w.next, w.nlen);
		tb->sweep_len = w.nlen;
		*deleted += w.n;
	}
	return 0;
}

/* bdb_maintain - checkpoint; logs before it are removed automatically */
static int
bdb_maintain(struct store *pub, struct why *why)
{
	struct bdb *st = (struct bdb *)pub;
	int rc;

	msgs_clear();
	rc = st->env->txn_checkpoint(st->env, 0, 0, 0);
	return rc == 0 ? 0 : fail(st, rc, "checkpoint", why);
}

/* table_file - "name.db" of a table, or of meta */
static int
table_file(const char *table, char *file, size_t size, struct why *why)
{
	if (!store_table_ok(table)) {
		why_set(why, "\"%.40s\" is not a table name", table);
		return STORE_ERROR;
	}
	snprintf(file, size, "%s.db", table);
	return 0;
}

/* bdb_verify - structural check of one table */
static int
bdb_verify(struct store *pub, const char *name, struct why *why)
{
	struct bdb *st = (struct bdb *)pub;
	char file[STORE_TABLE_MAX + 4];
	DB *db;
	int rc;

	if ((rc = table_file(name, file, sizeof(file), why)) != 0)
		return rc;
	msgs_clear();
	if ((rc = db_create(&db, st->env, 0)) != 0)
		return fail(st, rc, file, why);
	/* DB->verify destroys the handle, whatever it returns. */
	if ((rc = db->verify(db, file, NULL, NULL, 0)) != 0)
		return fail(st, rc, file, why);
	return 0;
}

/* store_verify_file_bdb - one table's file, without the environment */
int
store_verify_file_bdb(const char *dir, const char *table, struct why *why)
{
	char file[STORE_TABLE_MAX + 4], path[4200];
	DB *db;
	int rc;

	if ((rc = table_file(table, file, sizeof(file), why)) != 0)
		return rc;
	msgs_clear();
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((rc = db_create(&db, NULL, 0)) != 0) {
		why_set(why, "%s: %s", path, db_strerror(rc));
		return STORE_ERROR;
	}
	db->set_errcall(db, errcall);
	/* DB->verify destroys the handle, whatever it returns. */
	if ((rc = db->verify(db, path, NULL, NULL, 0)) != 0)
		return fail(NULL, rc, file, why);
	return 0;
}

/* cmp_names - qsort of table names */
static int
cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* store_bdb_tables - the *.db files of dir, sorted */
int
store_bdb_tables(const char *dir, char (*names)[STORE_TABLE_MAX + 1],
    int max, struct why *why)
{
	struct dirent *de;
	DIR *dp;
	int n = 0;

	if ((dp = opendir(dir)) == NULL) {
		why_set(why, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(dp)) != NULL) {
		size_t len = strlen(de->d_name);
		char name[STORE_TABLE_MAX + 1];

		if (len < 4 || len - 3 > STORE_TABLE_MAX ||
		    strcmp(de->d_name + len - 3, ".db") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(len - 3),
		    de->d_name);
		if (!store_table_ok(name) || n == max)
			continue;
		snprintf(names[n++], STORE_TABLE_MAX + 1, "%s", name);
	}
	closedir(dp);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
	return n;
}

static const struct store_ops bdb_ops = {
	.name = "bdb",
	.run = bdb_run,
	.group_commit = bdb_group_commit,
	.get = bdb_get,
	.get_first = bdb_get_first,
	.put = bdb_put,
	.del = bdb_del,
	.list = bdb_list,
	.flush = bdb_flush,
	.count = bdb_count,
	.cancel = bdb_cancel,
	.close = bdb_close,
	.expire = bdb_expire,
	.maintain = bdb_maintain,
	.verify = bdb_verify,
};

/* An upgrade of one table from schema 1, a batch at a time. */
struct upgrade {
	struct table *tb;
	int64_t now;
	unsigned char from[STORE_KEY_MAX]; /* the batch starts here */
	size_t flen;
	unsigned char next[STORE_KEY_MAX]; /* the next one, when more */
	size_t nlen;
	bool more;
};

/* upgrade_reset - an upgrade batch runs again */
static void
upgrade_reset(void *arg)
{
	struct upgrade *u = arg;

	u->more = false;
}

/* upgrade_run - txn_fn: a batch of values given their expiry */
static int
upgrade_run(struct bdb *st, DB_TXN *t, void *arg, struct why *why)
{
	struct upgrade *u = arg;
	unsigned seen = 0;
	struct cur cu;
	int rc, err;

	if ((err = cur_open(st, u->tb, t, 0, DB_RMW, u->from, u->flen, &cu,
	    &rc, why)) != 0)
		return err;
	for (; rc == 0; rc = cu.c->get(cu.c, &cu.k, &cu.v, DB_NEXT | DB_RMW)) {
		unsigned char nbuf[HDR + V1_VAL];
		DBT nv;

		if (seen++ == BATCH) {
			memcpy(u->next, cu.kbuf, cu.k.size);
			u->nlen = cu.k.size;
			u->more = true;
			break;
		}
		if (cu.v.size != V1_VAL)
			continue; /* upgraded already (a run cut short) */
		store_put_u64(nbuf, (uint64_t)(u->now + V1_KEEP));
		memcpy(nbuf + HDR, cu.vbuf, V1_VAL);
		nv = dbt(nbuf, sizeof(nbuf));
		rc = cu.c->put(cu.c, &cu.k, &nv, DB_CURRENT);
		rc_wrote(&st->rc, u->tb, cu.k.data, cu.k.size, true);
		if (rc != 0)
			break;
	}
	return cur_close(st, u->tb, &cu, rc, why);
}

/*
 * upgrade_v1 - schema 1 kept no expiry: every value of 29 bytes (all that
 * schema 1 wrote) gets one V1_KEEP from now (the default max_age: any use
 * renews it; greylisting judges age by its own limits anyway), a batch
 * per transaction. A run cut short is taken up at the next open: values
 * already upgraded are longer.
 */
static int
upgrade_v1(struct bdb *st, int64_t now, struct why *why)
{
	char (*names)[STORE_TABLE_MAX + 1] = xcalloc(MAX_TABLES,
	    sizeof(*names));
	int i, n, rc = 0;

	if ((n = store_bdb_tables(st->dir, names, MAX_TABLES, why)) < 0) {
		free(names);
		return STORE_ERROR;
	}
	for (i = 0; rc == 0 && i < n; i++) {
		struct upgrade u = { .now = now };

		if (strcmp(names[i], "meta") == 0)
			continue;
		if ((rc = table(st, names[i], &u.tb, why)) != 0)
			break;
		do {
			rc = in_txn(st, upgrade_run, upgrade_reset, &u, why);
			memcpy(u.from, u.next, u.nlen);
			u.flen = u.nlen;
		} while (rc == 0 && u.more);
	}
	free(names);
	return rc;
}

/* The schema record: read, or ours written. */
struct meta_txn {
	DB *db;
	bool write;
	uint32_t schema; /* read: 0 if none */
	bool damaged;
};

/* meta_run - txn_fn: the schema record read, or ours written */
static int
meta_run(struct bdb *st, DB_TXN *t, void *arg, struct why *why)
{
	struct meta_txn *m = arg;
	unsigned char v[4], kbuf[STORE_KEY_MAX];
	DBT k = key_dbt(kbuf, "schema", 6), d;
	int rc;

	if (m->write) {
		store_put_u32(v, STORE_SCHEMA);
		d = dbt(v, 4);
		rc = m->db->put(m->db, t, &k, &d, 0);
		return rc == 0 ? 0 : fail(st, rc, "meta.db", why);
	}
	memset(&d, 0, sizeof(d));
	d.data = v;
	d.ulen = sizeof(v);
	d.flags = DB_DBT_USERMEM;
	rc = m->db->get(m->db, t, &k, &d, 0);
	if (rc == DB_NOTFOUND)
		return 0;
	if (rc == DB_BUFFER_SMALL || (rc == 0 && d.size != 4)) {
		m->damaged = true;
		return 0;
	}
	if (rc != 0)
		return fail(st, rc, "meta.db", why);
	m->schema = store_get_u32(v);
	return 0;
}

/*
 * check_schema - write ours into a new store; upgrade an older one;
 * refuse a newer one
 */
static int
check_schema(struct bdb *st, struct why *why)
{
	struct meta_txn m = { .db = st->meta };
	int rc;

	if ((rc = in_txn(st, meta_run, NULL, &m, why)) != 0)
		return rc;
	if (m.damaged) {
		why_set(why, "%s: schema record is damaged", st->dir);
		return STORE_ERROR;
	}
	if (m.schema > STORE_SCHEMA) {
		why_set(why, "%s: state written by a newer policyd (schema %u; "
			     "this one knows %d): upgrade policyd or use "
			     "another state_dir", st->dir, m.schema,
		    STORE_SCHEMA);
		return STORE_ESCHEMA;
	}
	if (m.schema == STORE_SCHEMA)
		return 0;
	if (m.schema == 1 &&
	    (rc = upgrade_v1(st, (int64_t)time(NULL), why)) != 0)
		return rc;
	m.write = true;
	return in_txn(st, meta_run, NULL, &m, why);
}

/* open_tables - every table there is, so expire() sees them all */
static int
open_tables(struct bdb *st, struct why *why)
{
	char (*names)[STORE_TABLE_MAX + 1] = xcalloc(MAX_TABLES,
	    sizeof(*names));
	struct table *tb;
	int i, n, rc = 0;

	if ((n = store_bdb_tables(st->dir, names, MAX_TABLES, why)) < 0)
		rc = STORE_ERROR;
	for (i = 0; rc == 0 && i < n; i++)
		if (strcmp(names[i], "meta") != 0)
			rc = table(st, names[i], &tb, why);
	free(names);
	return rc;
}

/* region_max - the largest a region of this file's size may grow to */
static uint64_t
region_max(const uint64_t (*regions)[2], size_t n, uint64_t size)
{
	uint64_t max = 0;
	size_t i;

	/* A grown region's file ends within a page of the region's size. */
	for (i = 0; i < n; i++)
		if (size + 8192 >= regions[i][0] && size <= regions[i][0] + 8192 &&
		    regions[i][1] > max)
			max = regions[i][1];
	return max;
}

/*
 * reserve_regions - room on disk for what the regions may grow into (see
 * the header): each __db.NNN file is matched by its size to a region
 * (the environment's own, which also holds the lock, log and transaction
 * tables; the mutexes; the cache) and reserved up to that region's
 * maximum, without changing the file's size. 0, or a STORE_* error.
 */
static int
reserve_regions(struct bdb *st, const char *dir, struct why *why)
{
	uint64_t regions[3][2] = { { 0 } };
	DB_MPOOL_STAT *mp = NULL;
	DB_MUTEX_STAT *mx = NULL;
	DB_LOCK_STAT *lk = NULL;
	u_int32_t gb = 0, b = 0;
	struct dirent *de;
	DIR *dp;
	int rc = 0;

	if (st->shm)
		return 0; /* in memory, made whole at creation: no files */
	if (st->env->memp_stat(st->env, &mp, NULL, 0) == 0) {
		regions[0][0] = mp->st_regsize;
		regions[0][1] = mp->st_regmax;
	}
	if (st->env->mutex_stat(st->env, &mx, 0) == 0) {
		regions[1][0] = mx->st_regsize;
		regions[1][1] = mx->st_regmax;
	}
	if (st->env->lock_stat(st->env, &lk, 0) == 0 &&
	    st->env->get_memory_max(st->env, &gb, &b) == 0) {
		regions[2][0] = lk->st_regsize;
		regions[2][1] = (uint64_t)gb << 30 | b;
	}
	free(mp);
	free(mx);
	free(lk);
	if ((dp = opendir(dir)) == NULL)
		return 0; /* the open just worked: nothing to reserve here */
	while (rc == 0 && (de = readdir(dp)) != NULL) {
		char path[4096];
		struct stat sb;
		uint64_t max;
		int fd;

		if (strncmp(de->d_name, "__db.", 5) != 0 ||
		    strspn(de->d_name + 5, "0123456789") != 3 ||
		    de->d_name[8] != '\0')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
			continue;
		if (fstat(fd, &sb) == 0 &&
		    (max = region_max(regions, 3, (uint64_t)sb.st_size)) >
		    (uint64_t)sb.st_size &&
		    fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)max) < 0 &&
		    errno != EOPNOTSUPP && errno != ENOSYS) {
			int e = errno;

			why_set(why, "%s: cannot reserve %llu bytes for the "
				     "Berkeley DB region %s: %s (free space "
				     "on the file system, or lower store: "
				     "cache)", dir, (unsigned long long)max,
			    de->d_name, strerror(e));
			rc = e == ENOSPC ? STORE_EFULL : STORE_ERROR;
		}
		close(fd);
	}
	closedir(dp);
	return rc;
}

/*
 * take_lock - the store's lock file in dir, shared or alone, without
 * waiting: the descriptor, or -1 with why (STORE_ELOCKED in *err when
 * another holds it)
 */
static int
take_lock(const char *dir, enum store_lock how, int *err, struct why *why)
{
	char path[4200], who[128] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, STORE_LOCK_FILE);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		why_set(why, "%s: %s", path, strerror(errno));
		*err = errno == ENOSPC ? STORE_EFULL : STORE_ERROR;
		return -1;
	}
	if (flock(fd, (how == STORE_LOCK_EXCLUSIVE ? LOCK_EX : LOCK_SH) |
	    LOCK_NB) == 0) {
		if (how == STORE_LOCK_EXCLUSIVE) {
			/* Who holds it, for a daemon that cannot start. */
			n = snprintf(who, sizeof(who), "policyctl %ld\n",
			    (long)getpid());
			if (ftruncate(fd, 0) < 0 ||
			    pwrite(fd, who, (size_t)n, 0) != n)
				(void)0; /* only a message is lost */
		}
		return fd;
	}
	if (errno != EWOULDBLOCK) {
		why_set(why, "%s: %s", path, strerror(errno));
		close(fd);
		*err = STORE_ERROR;
		return -1;
	}
	if (how == STORE_LOCK_EXCLUSIVE) {
		why_set(why, "%s: the store is in use by policyd (the daemon, "
			     "or its --stdio processes)", dir);
	} else {
		long pid = 0;

		n = pread(fd, who, sizeof(who) - 1, 0);
		who[n > 0 ? n : 0] = '\0';
		if (sscanf(who, "policyctl %ld", &pid) == 1)
			why_set(why, "%s: policyctl (pid %ld) works on the "
				     "store offline; policyd opens it when "
				     "that is done", dir, pid);
		else
			why_set(why, "%s: another process holds the store "
				     "alone", dir);
	}
	close(fd);
	*err = STORE_ELOCKED;
	return -1;
}

/* store_lock_probe - could the store be opened shared now */
int
store_lock_probe(const char *dir, struct why *why)
{
	int err, fd = take_lock(dir, STORE_LOCK_SHARED, &err, why);

	if (fd < 0)
		return err;
	close(fd);
	return 0;
}

/*
 * store_bdb_shm_key - the System V key of dir's regions (see the header):
 * a hash of the directory's device, inode and birth time, the same in
 * every process that opens it, different for another state directory
 * (odds of a clash: one in 2^24 a pair) and for one made anew where a
 * removed one was (the same inode: the segments a crash left there may
 * be another user's, which Berkeley DB could not remove to make its
 * own). Berkeley DB adds the region's number, a handful: the low four
 * bits are left for that. Only an environment's creation uses it; a
 * process that joins finds the segments through __db.001. 0 when dir
 * cannot be looked at (then the regions are files, and the open says
 * what is wrong with dir).
 */
#define SHM_SLOTS 8

long
store_bdb_shm_key(const char *dir)
{
	uint64_t v[3] = { 0 }, h = 1469598103934665603ull; /* FNV-1a */
	const unsigned char *p = (const unsigned char *)v;
	struct statx sx;
	size_t i;

	if (statx(AT_FDCWD, dir, 0, STATX_INO | STATX_BTIME, &sx) < 0)
		return 0;
	v[0] = (uint64_t)sx.stx_dev_major << 32 | sx.stx_dev_minor;
	v[1] = sx.stx_ino;
	if (sx.stx_mask & STATX_BTIME)
		v[2] = (uint64_t)sx.stx_btime.tv_sec * 1000000000u +
		    sx.stx_btime.tv_nsec;
	for (i = 0; i < sizeof(v); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return 0x70000000L | (long)((h ^ h >> 24 ^ h >> 48) & 0xffffff) << 4;
}

/* env_setup - an environment handle, as every open configures it */
static int
env_setup(struct bdb *st, const struct store_opts *o, DB_ENV **envp)
{
	uint64_t cache = o->cache_bytes ? o->cache_bytes : 64u << 20;
	DB_ENV *env;
	long key;
	int rc;

	if ((rc = db_env_create(&env, 0)) != 0)
		return rc;
	if ((key = store_bdb_shm_key(o->dir)) != 0 &&
	    env->set_shm_key(env, key + 16 * st->slot) == 0)
		st->shm = true;
	env->app_private = st;
	env->set_errcall(env, errcall);
	env->set_thread_id(env, thread_id);
	env->set_cachesize(env, (u_int32_t)(cache >> 30),
	    (u_int32_t)(cache & ((1u << 30) - 1)), 1);
	env->set_lk_detect(env, DB_LOCK_DEFAULT);
	env->set_timeout(env, 500000, DB_SET_LOCK_TIMEOUT);
	env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1);
	env->set_lg_max(env, 4u << 20);
	if (o->sync == STORE_SYNC_OS)
		env->set_flags(env, DB_TXN_WRITE_NOSYNC, 1);
	env->set_flags(env, DB_REGION_INIT, 1);
	*envp = env;
	return 0;
}

/*
 * heal - the environment cannot be joined: with the lock held alone,
 * remove its region files and run recovery from the log in a private
 * open; note says what was done. 0, or a Berkeley DB error (why set).
 */
static int
heal(struct bdb *st, const struct store_opts *o, int cause,
    struct why *note, struct why *why)
{
	char removed[300] = "";
	struct dirent *de;
	DB_ENV *env;
	DIR *dp;
	int rc;

	if (st->lock_fd >= 0 && flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		/* Others have it open: they must end first. Back to shared
		 * (the conversion let go of it). */
		if (flock(st->lock_fd, LOCK_SH | LOCK_NB) < 0) {
			why_set(why, "%s: %s; and policyctl took the store's "
				     "lock meanwhile", o->dir,
			    db_strerror(cause));
			return STORE_ELOCKED;
		}
		why_set(why, "%s: %s; it is rebuilt when no other policyd "
			     "process (--stdio) has it open", o->dir,
		    db_strerror(cause));
		return cause;
	}
	if ((dp = opendir(o->dir)) != NULL) {
		while ((de = readdir(dp)) != NULL) {
			char path[4400];

			if (strncmp(de->d_name, "__db.", 5) != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", o->dir,
			    de->d_name);
			if (unlink(path) == 0 && strlen(removed) + 40 <
			    sizeof(removed))
				snprintf(removed + strlen(removed),
				    sizeof(removed) - strlen(removed), "%s%s",
				    removed[0] ? " " : "", de->d_name);
		}
		closedir(dp);
	}
	msgs_clear();
	if ((rc = env_setup(st, o, &env)) == 0) {
		rc = env->open(env, o->dir, DB_CREATE | DB_INIT_LOCK |
		    DB_INIT_LOG | DB_INIT_MPOOL | DB_INIT_TXN | DB_RECOVER |
		    (st->shm ? DB_SYSTEM_MEM : 0), 0600);
		if (rc != 0)
			fail(st, rc, o->dir, why);
		env->close(env, 0);
	}
	if (st->lock_fd >= 0 && o->lock == STORE_LOCK_SHARED &&
	    flock(st->lock_fd, LOCK_SH | LOCK_NB) < 0) {
		why_set(why, "%s: policyctl took the store's lock while it was "
			     "rebuilt", o->dir);
		return STORE_ELOCKED;
	}
	if (rc != 0)
		return rc;
	why_set(note, "%s: the environment could not be joined (%s): "
		      "removed its region files (%s) and ran recovery from the "
		      "log; every committed transaction is kept", o->dir,
	    db_strerror(cause), removed[0] ? removed : "none");
	return 0;
}

/* healable - an environment-level failure that a rebuild cures */
static bool
healable(int rc)
{
	return rc == DB_RUNRECOVERY || rc == EINVAL ||
	    rc == DB_VERSION_MISMATCH;
}

/* store_open_bdb - open (creating, recovering if needed) the environment */
struct store *
store_open_bdb(const struct store_opts *o, int *err, struct why *why)
{
	struct bdb *st = xcalloc(1, sizeof(*st));
	u_int32_t flags = DB_CREATE | DB_INIT_LOCK | DB_INIT_LOG |
	    DB_INIT_MPOOL | DB_INIT_TXN | DB_RECOVER | DB_REGISTER;
	unsigned n;
	int rc;

	*err = STORE_ERROR;
	if (o->healed != NULL)
		o->healed->text[0] = '\0';
	st->lock_fd = -1;
	pthread_mutex_init(&st->tables_lock, NULL);
	pthread_mutex_init(&st->rc.lock, NULL);
	st->pub.ops = &bdb_ops;
	st->nowait = o->nowait;
	st->sync = o->sync;
	st->group = o->group;
	st->threads = o->threads;
	st->tries = o->nowait ? 3 : 10;
	snprintf(st->dir, sizeof(st->dir), "%s", o->dir);
	if (o->lock != STORE_LOCK_NONE &&
	    (st->lock_fd = take_lock(o->dir, o->lock, err, why)) < 0) {
		bdb_close(&st->pub);
		return NULL;
	}
	rc_open(&st->rc, st->dir);
	pthread_mutex_lock(&opens_lock);
	n = opens++;
	pthread_mutex_unlock(&opens_lock);
	st->serial = n + 1;
	/*
	 * pid_max is at most 2^22: these ids are no other process's. The
	 * first open's id is the process id, asked here once: Berkeley DB
	 * asks thread_id() on every mutex, and getpid() there was 51 system
	 * calls per greylisting request.
	 */
	st->id = getpid();
	if (n > 0)
		st->id += (pid_t)((n - 1) % 511 + 1) * (1 << 22);
	msgs_clear();
	if ((rc = env_setup(st, o, &st->env)) != 0) {
		why_set(why, "%s: %s", o->dir, db_strerror(rc));
		bdb_close(&st->pub);
		return NULL;
	}
	if (o->threads)
		flags |= DB_THREAD;
	if (st->shm)
		flags |= DB_SYSTEM_MEM;
	/*
	 * Not when a table's page is damaged: recovery replays the log
	 * into that file, and Berkeley DB can spin on it for good (the
	 * damage is for policyctl db verify and a person, policyd(8)).
	 */
	rc = st->env->open(st->env, o->dir, flags, 0600);
	/*
	 * Segments under our key that we may not remove (a policyctl run
	 * as root was killed, and the daemon runs as its user): made under
	 * the next key instead. A process that joins finds them through
	 * __db.001, whatever the key.
	 */
	while (rc == EAGAIN && st->shm && st->slot + 1 < SHM_SLOTS) {
		st->env->close(st->env, 0);
		st->env = NULL;
		st->slot++;
		msgs_clear();
		if ((rc = env_setup(st, o, &st->env)) != 0) {
			why_set(why, "%s: %s", o->dir, db_strerror(rc));
			bdb_close(&st->pub);
			return NULL;
		}
		rc = st->env->open(st->env, o->dir, flags, 0600);
	}
	if (rc != 0 &&
	    healable(rc) && o->lock != STORE_LOCK_NONE && !msgs.damaged &&
	    !damaged_was(o->dir)) {
		struct why ignored;
		int hr;

		fail(st, rc, o->dir, &ignored);
		st->env->close(st->env, 0);
		st->env = NULL;
		if ((hr = heal(st, o, rc, o->healed, why)) != 0) {
			*err = hr == STORE_ELOCKED ? STORE_ELOCKED
			    : hr == DB_RUNRECOVERY ? STORE_EFATAL : STORE_ERROR;
			bdb_close(&st->pub);
			return NULL;
		}
		if ((rc = env_setup(st, o, &st->env)) == 0)
			rc = st->env->open(st->env, o->dir, flags, 0600);
	}
	if (rc != 0) {
		*err = fail(st, rc, o->dir, why);
		bdb_close(&st->pub);
		return NULL;
	}
	if (st->slot > 0 && o->healed != NULL) {
		long key = store_bdb_shm_key(o->dir);
		size_t used = strlen(o->healed->text);

		snprintf(o->healed->text + used, sizeof(o->healed->text) - used,
		    "%s%s: the shared memory segments under key 0x%lx are "
		    "another user's (a process killed with the store open, as "
		    "root?): the regions are under key 0x%lx instead (ipcs -m "
		    "lists the old ones, keys 0x%lx to 0x%lx; ipcrm -M KEY "
		    "frees one)", used > 0 ? "; " : "", o->dir, key,
		    key + 16 * (long)st->slot, key, key + 15);
	}
	if ((rc = reserve_regions(st, o->dir, why)) != 0) {
		*err = rc;
		bdb_close(&st->pub);
		return NULL;
	}
	if ((rc = open_db(st, "meta.db", &st->meta, why)) != 0) {
		*err = rc;
		bdb_close(&st->pub);
		return NULL;
	}
	if ((rc = check_schema(st, why)) != 0 ||
	    (rc = open_tables(st, why)) != 0) {
		*err = rc;
		bdb_close(&st->pub);
		return NULL;
	}
	damaged_set(o->dir, false);
	writeback_start(st);
	st->opened = true;
	*err = 0;
	return &st->pub;
}
