/*
 * store_bdb - the store on a Berkeley DB 5.3 transactional environment.
 *
 * One environment in the state directory with locking, logging,
 * transactions and a memory pool, so policyctl can read and change state
 * while the daemon runs. DB_REGISTER + DB_RECOVER: recovery runs at open
 * only when a process died with the environment open, never under the
 * feet of a live one. Commits are DB_TXN_WRITE_NOSYNC (sync: os): a
 * killed process loses nothing, the OS writes the log; sync: full syncs
 * the log at every commit for power-loss safety. Lock waits are bounded
 * (a lock held by a slow policyctl becomes STORE_ERETRY, never a stalled
 * loop), deadlocks are detected at once, and old log files are removed
 * after each checkpoint.
 */
#include "store.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	char errmsg[256]; /* the environment's last message */
};

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

/* errcall - keep Berkeley DB's own message for the next why */
static void
errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	struct bdb *st = env->app_private;

	(void)pfx;
	if (st != NULL)
		snprintf(st->errmsg, sizeof(st->errmsg), "%s", msg);
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

/* fail - map a Berkeley DB error to ours, with its message in why */
static int
fail(struct bdb *st, int rc, const char *what, struct why *why)
{
	if (st->errmsg[0] != '\0' && strstr(st->errmsg, db_strerror(rc)) == NULL)
		why_set(why, "%s: %s (%s)", what, db_strerror(rc), st->errmsg);
	else
		why_set(why, "%s: %s", what, db_strerror(rc));
	st->errmsg[0] = '\0';
	switch (rc) {
	case DB_LOCK_DEADLOCK:
	case DB_LOCK_NOTGRANTED:
		return STORE_ERETRY;
	case DB_RUNRECOVERY:
		return STORE_EFATAL;
	default:
		return STORE_ERROR;
	}
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
	if ((rc = st->env->txn_begin(st->env, NULL, &txn->t, 0)) != 0) {
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
	int rc = st->env->txn_checkpoint(st->env, 0, 0, 0);

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

/* store_open_bdb - open (creating, recovering if needed) the environment */
struct store *
store_open_bdb(const struct store_opts *o, int *err, struct why *why)
{
	struct bdb *st = xcalloc(1, sizeof(*st));
	u_int32_t flags = DB_CREATE | DB_INIT_LOCK | DB_INIT_LOG |
	    DB_INIT_MPOOL | DB_INIT_TXN | DB_RECOVER | DB_REGISTER;
	uint64_t cache = o->cache_bytes ? o->cache_bytes : 64u << 20;
	int rc, i;

	*err = STORE_ERROR;
	st->pub.ops = &bdb_ops;
	if ((rc = db_env_create(&st->env, 0)) != 0) {
		why_set(why, "%s: %s", o->dir, db_strerror(rc));
		free(st);
		return NULL;
	}
	st->env->app_private = st;
	st->env->set_errcall(st->env, errcall);
	st->env->set_cachesize(st->env, (u_int32_t)(cache >> 30),
	    (u_int32_t)(cache & ((1u << 30) - 1)), 1);
	st->env->set_lk_detect(st->env, DB_LOCK_DEFAULT);
	st->env->set_timeout(st->env, 500000, DB_SET_LOCK_TIMEOUT);
	st->env->log_set_config(st->env, DB_LOG_AUTO_REMOVE, 1);
	st->env->set_lg_max(st->env, 4u << 20);
	if (o->sync == STORE_SYNC_OS)
		st->env->set_flags(st->env, DB_TXN_WRITE_NOSYNC, 1);
	if ((rc = st->env->open(st->env, o->dir, flags, 0600)) != 0) {
		*err = fail(st, rc, o->dir, why);
		bdb_close(&st->pub);
		return NULL;
	}
	for (i = 0; i < STORE_NTABLES; i++) {
		DB *db;

		if ((rc = db_create(&db, st->env, 0)) != 0 ||
		    (st->db[i] = db,
			rc = db->open(db, NULL, table_files[i], NULL, DB_BTREE,
			    DB_CREATE | DB_AUTO_COMMIT, 0600)) != 0) {
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

void
store_put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

void
store_put_u64(unsigned char *p, uint64_t v)
{
	store_put_u32(p, (uint32_t)(v >> 32));
	store_put_u32(p + 4, (uint32_t)v);
}

uint32_t
store_get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

uint64_t
store_get_u64(const unsigned char *p)
{
	return (uint64_t)store_get_u32(p) << 32 | store_get_u32(p + 4);
}
