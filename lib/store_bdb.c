/*
 * store_bdb - the store on a Berkeley DB 5.3 transactional environment.
 *
 * One environment in the state directory with locking, logging,
 * transactions and a memory pool, so policyctl can read and change state
 * while the daemon runs. DB_REGISTER + DB_RECOVER: recovery runs at open
 * only when a process died with the environment open, never under the
 * feet of a live one. Commits are DB_TXN_WRITE_NOSYNC (sync: os): a
 * killed process loses nothing, the OS writes the log; sync: full syncs
 * the log at every commit for power-loss safety. The daemon's
 * transactions never wait for a lock (nowait: a lock held by policyctl
 * is STORE_ERETRY at once, never a stalled loop); policyctl's waits are
 * bounded; deadlocks are detected at once; old log files are removed
 * after each checkpoint.
 *
 * A full disk is an error code, never a signal. The region files are
 * memory-mapped, and a page of a mapping with a hole behind it that the
 * file system cannot back is SIGBUS when touched. DB_REGION_INIT makes
 * Berkeley DB write every page of a region when it creates one (a full
 * disk is then ENOSPC from write(2)); regions that grow later (the cache
 * does, up to its size) are extended by writing only their last page, so
 * the room they may grow into is reserved with fallocate(2) at open
 * (reserve_regions). Every table has page checksums: a damaged page is
 * found when it is read, not taken as data.
 *
 * DB_REGISTER allows one environment handle per process and process id.
 * A failed open (recovery that met a full disk) leaves this process's id
 * in the registry, and Berkeley DB then refuses every later open of the
 * same process. Each open after the first presents a fresh id through
 * set_thread_id() (above pid_max, so it is nobody else's); the stale
 * entry then looks like a process that died, and recovery runs, which is
 * what a reopen after trouble needs anyway.
 */
#define _GNU_SOURCE /* fallocate(2) */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <db.h>

#include "xalloc.h"

static const char *const table_files[STORE_NTABLES] = {
	[STORE_GREYLIST] = "greylist.db",
	[STORE_AWL_CLIENT] = "awl_client.db",
	[STORE_AWL_DOMAIN] = "awl_domain.db",
	[STORE_META] = "meta.db",
};

struct bdb {
	struct store pub;
	DB_ENV *env;
	DB *db[STORE_NTABLES];
	bool nowait;      /* transactions never wait for locks */
	pid_t id;         /* the process id the registry knows us by */
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

/* Opens in this process so far: each after the first gets a fresh id. */
static unsigned opens;
static pthread_mutex_t opens_lock = PTHREAD_MUTEX_INITIALIZER;

struct store_txn {
	struct bdb *st;
	DB_TXN *t;
};

/* store_table_name - table name for messages */
const char *
store_table_name(enum store_table t)
{
	return (unsigned)t < STORE_NTABLES ? table_files[t] : "?";
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

	(void)st;
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

/* bdb_close - close tables and environment */
static void
bdb_close(struct store *pub)
{
	struct bdb *st = (struct bdb *)pub;
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < STORE_NTABLES; i++)
		if (st->db[i] != NULL)
			st->db[i]->close(st->db[i], 0);
	if (st->env != NULL)
		st->env->close(st->env, 0);
	free(st);
}

/* bdb_begin - a new transaction */
static int
bdb_begin(struct store *pub, struct store_txn **txnp, struct why *why)
{
	struct bdb *st = (struct bdb *)pub;
	struct store_txn *txn = xmalloc(sizeof(*txn));
	int rc;

	txn->st = st;
	msgs_clear();
	if ((rc = st->env->txn_begin(st->env, NULL, &txn->t,
	    st->nowait ? DB_TXN_NOWAIT : 0)) != 0) {
		free(txn);
		*txnp = NULL;
		return fail(st, rc, "begin transaction", why);
	}
	*txnp = txn;
	return 0;
}

/* bdb_commit - commit and free the transaction */
static int
bdb_commit(struct store_txn *txn, struct why *why)
{
	struct bdb *st = txn->st;
	int rc = txn->t->commit(txn->t, 0);

	free(txn);
	return rc == 0 ? 0 : fail(st, rc, "commit", why);
}

/* bdb_abort - abort and free the transaction */
static void
bdb_abort(struct store_txn *txn)
{
	if (txn == NULL)
		return;
	txn->t->abort(txn->t);
	free(txn);
}

/* bdb_get - one record */
static int
bdb_get(struct store_txn *txn, enum store_table t, const void *key,
    size_t klen, void *val, size_t *vlen, struct why *why)
{
	struct bdb *st = txn->st;
	DBT k = dbt(key, klen), v;
	int rc;

	memset(&v, 0, sizeof(v));
	v.data = val;
	v.ulen = (u_int32_t)*vlen;
	v.flags = DB_DBT_USERMEM;
	rc = st->db[t]->get(st->db[t], txn->t, &k, &v, 0);
	if (rc == DB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc == DB_BUFFER_SMALL) {
		why_set(why, "%s: record of %u bytes is longer than %zu",
		    table_files[t], v.size, *vlen);
		return STORE_ERROR;
	}
	if (rc != 0)
		return fail(st, rc, table_files[t], why);
	*vlen = v.size;
	return 0;
}

/* bdb_put - store one record */
static int
bdb_put(struct store_txn *txn, enum store_table t, const void *key,
    size_t klen, const void *val, size_t vlen, struct why *why)
{
	struct bdb *st = txn->st;
	DBT k = dbt(key, klen), v = dbt(val, vlen);
	int rc = st->db[t]->put(st->db[t], txn->t, &k, &v, 0);

	return rc == 0 ? 0 : fail(st, rc, table_files[t], why);
}

/* bdb_del - delete one record; absent is STORE_NOTFOUND */
static int
bdb_del(struct store_txn *txn, enum store_table t, const void *key,
    size_t klen, struct why *why)
{
	struct bdb *st = txn->st;
	DBT k = dbt(key, klen);
	int rc = st->db[t]->del(st->db[t], txn->t, &k, 0);

	if (rc == DB_NOTFOUND)
		return STORE_NOTFOUND;
	return rc == 0 ? 0 : fail(st, rc, table_files[t], why);
}

/* bdb_scan - walk records in key order from a key, bounded */
static int
bdb_scan(struct store_txn *txn, enum store_table t, const void *from,
    size_t flen, size_t limit, store_scan_fn *fn, void *arg, void *next,
    size_t *nlen, struct why *why)
{
	struct bdb *st = txn->st;
	unsigned char kbuf[STORE_KEY_MAX], vbuf[STORE_VAL_MAX];
	size_t seen = 0;
	DBC *c;
	DBT k, v;
	int rc, r;

	*nlen = 0;
	rc = st->db[t]->cursor(st->db[t], txn->t, &c, DB_READ_COMMITTED);
	if (rc != 0)
		return fail(st, rc, table_files[t], why);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = kbuf;
	k.ulen = sizeof(kbuf);
	k.flags = DB_DBT_USERMEM;
	v.data = vbuf;
	v.ulen = sizeof(vbuf);
	v.flags = DB_DBT_USERMEM;
	if (flen > 0) {
		if (flen > sizeof(kbuf))
			flen = sizeof(kbuf);
		memcpy(kbuf, from, flen);
		k.size = (u_int32_t)flen;
		rc = c->get(c, &k, &v, DB_SET_RANGE);
	} else {
		rc = c->get(c, &k, &v, DB_FIRST);
	}
	while (rc == 0) {
		if (limit > 0 && seen == limit) {
			memcpy(next, kbuf, k.size);
			*nlen = k.size;
			break;
		}
		seen++;
		r = fn(arg, kbuf, k.size, vbuf, v.size);
		if (r == 2 && (rc = c->del(c, 0)) != 0)
			break;
		if (r == 1) {
			rc = c->get(c, &k, &v, DB_NEXT);
			if (rc == 0) {
				memcpy(next, kbuf, k.size);
				*nlen = k.size;
			}
			rc = 0;
			break;
		}
		rc = c->get(c, &k, &v, DB_NEXT);
	}
	c->close(c);
	if (rc == DB_NOTFOUND)
		rc = 0;
	if (rc == DB_BUFFER_SMALL) {
		why_set(why, "%s: a record is longer than this policyd writes",
		    table_files[t]);
		return STORE_ERROR;
	}
	return rc == 0 ? 0 : fail(st, rc, table_files[t], why);
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

/* bdb_verify - structural check of one table */
static int
bdb_verify(struct store *pub, enum store_table t, struct why *why)
{
	struct bdb *st = (struct bdb *)pub;
	DB *db;
	int rc;

	if ((rc = db_create(&db, st->env, 0)) != 0)
		return fail(st, rc, table_files[t], why);
	/* DB->verify destroys the handle, whatever it returns. */
	if ((rc = db->verify(db, table_files[t], NULL, NULL, 0)) != 0)
		return fail(st, rc, table_files[t], why);
	return 0;
}

/* store_verify_file_bdb - one table's file, without the environment */
int
store_verify_file_bdb(const char *dir, enum store_table t, struct why *why)
{
	char path[4096];
	DB *db;
	int rc;

	msgs_clear();
	snprintf(path, sizeof(path), "%s/%s", dir, table_files[t]);
	if ((rc = db_create(&db, NULL, 0)) != 0) {
		why_set(why, "%s: %s", path, db_strerror(rc));
		return STORE_ERROR;
	}
	db->set_errcall(db, errcall);
	/* DB->verify destroys the handle, whatever it returns. */
	if ((rc = db->verify(db, path, NULL, NULL, 0)) != 0)
		return fail(NULL, rc, table_files[t], why);
	return 0;
}

static const struct store_ops bdb_ops = {
	.name = "bdb",
	.close = bdb_close,
	.begin = bdb_begin,
	.commit = bdb_commit,
	.abort = bdb_abort,
	.get = bdb_get,
	.put = bdb_put,
	.del = bdb_del,
	.scan = bdb_scan,
	.maintain = bdb_maintain,
	.verify = bdb_verify,
};

/* check_schema - write ours into a new store; refuse a newer one */
static int
check_schema(struct bdb *st, const char *dir, struct why *why)
{
	unsigned char v[4];
	size_t vlen = sizeof(v);
	struct store_txn *txn;
	int rc;

	if ((rc = bdb_begin(&st->pub, &txn, why)) != 0)
		return rc;
	rc = bdb_get(txn, STORE_META, "schema", 6, v, &vlen, why);
	if (rc == STORE_NOTFOUND) {
		store_put_u32(v, STORE_SCHEMA);
		rc = bdb_put(txn, STORE_META, "schema", 6, v, 4, why);
		if (rc == 0)
			return bdb_commit(txn, why);
	} else if (rc == 0 && vlen != 4) {
		why_set(why, "%s: schema record is damaged", dir);
		rc = STORE_ERROR;
	} else if (rc == 0 && store_get_u32(v) > STORE_SCHEMA) {
		why_set(why, "%s: state written by a newer policyd (schema %u; "
			     "this one knows %d): upgrade policyd or use "
			     "another state_dir", dir, store_get_u32(v),
		    STORE_SCHEMA);
		rc = STORE_ESCHEMA;
	}
	bdb_abort(txn);
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

/* store_open_bdb - open (creating, recovering if needed) the environment */
struct store *
store_open_bdb(const struct store_opts *o, int *err, struct why *why)
{
	struct bdb *st = xcalloc(1, sizeof(*st));
	u_int32_t flags = DB_CREATE | DB_INIT_LOCK | DB_INIT_LOG |
	    DB_INIT_MPOOL | DB_INIT_TXN | DB_RECOVER | DB_REGISTER;
	uint64_t cache = o->cache_bytes ? o->cache_bytes : 64u << 20;
	unsigned n;
	int rc, i;

	*err = STORE_ERROR;
	st->pub.ops = &bdb_ops;
	st->nowait = o->nowait;
	pthread_mutex_lock(&opens_lock);
	n = opens++;
	pthread_mutex_unlock(&opens_lock);
	/* pid_max is at most 2^22: these ids are no other process's. */
	if (n > 0)
		st->id = getpid() + (pid_t)((n - 1) % 511 + 1) * (1 << 22);
	msgs_clear();
	if ((rc = db_env_create(&st->env, 0)) != 0) {
		why_set(why, "%s: %s", o->dir, db_strerror(rc));
		free(st);
		return NULL;
	}
	st->env->app_private = st;
	st->env->set_errcall(st->env, errcall);
	st->env->set_thread_id(st->env, thread_id);
	st->env->set_cachesize(st->env, (u_int32_t)(cache >> 30),
	    (u_int32_t)(cache & ((1u << 30) - 1)), 1);
	st->env->set_lk_detect(st->env, DB_LOCK_DEFAULT);
	st->env->set_timeout(st->env, 500000, DB_SET_LOCK_TIMEOUT);
	st->env->log_set_config(st->env, DB_LOG_AUTO_REMOVE, 1);
	st->env->set_lg_max(st->env, 4u << 20);
	if (o->sync == STORE_SYNC_OS)
		st->env->set_flags(st->env, DB_TXN_WRITE_NOSYNC, 1);
	st->env->set_flags(st->env, DB_REGION_INIT, 1);
	if (o->threads)
		flags |= DB_THREAD;
	if ((rc = st->env->open(st->env, o->dir, flags, 0600)) != 0) {
		*err = fail(st, rc, o->dir, why);
		bdb_close(&st->pub);
		return NULL;
	}
	if ((rc = reserve_regions(st, o->dir, why)) != 0) {
		*err = rc;
		bdb_close(&st->pub);
		return NULL;
	}
	for (i = 0; i < STORE_NTABLES; i++) {
		DB *db;

		/*
		 * Checksums are kept by tables created with them. No reverse
		 * splits: a delete that empties a page would otherwise lock
		 * the pages above it, and while policyctl flushes, every
		 * daemon transaction (which may not wait) met those locks.
		 * The tables grow and shrink in cycles; empty pages are
		 * reused.
		 */
		if ((rc = db_create(&db, st->env, 0)) != 0 ||
		    (st->db[i] = db,
			rc = db->set_flags(db, DB_CHKSUM | DB_REVSPLITOFF)) != 0 ||
		    (rc = db->open(db, NULL, table_files[i], NULL, DB_BTREE,
			DB_CREATE | DB_AUTO_COMMIT | (o->threads ? DB_THREAD : 0),
			0600)) != 0) {
			char what[300];

			snprintf(what, sizeof(what), "%s/%s", o->dir,
			    table_files[i]);
			*err = fail(st, rc, what, why);
			bdb_close(&st->pub);
			return NULL;
		}
	}
	if ((rc = check_schema(st, o->dir, why)) != 0) {
		*err = rc;
		bdb_close(&st->pub);
		return NULL;
	}
	*err = 0;
	return &st->pub;
}
