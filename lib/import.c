/*
 * import - postgrey 1.37 databases into our store.
 */
#include "import.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <db.h>

#include "addr.h"
#include "greylist.h"
#include "store.h"
#include "xalloc.h"

#define BATCH 500 /* records per transaction of ours */
#define TRIES 10  /* a batch that loses a deadlock runs again */
#define PG_KEY_MAX 1200 /* bytes of a key we look at */

struct pg {
	DB_ENV *env;
	DB *db;
	DBC *cur;
	unsigned char *last;  /* the key pg_next returned (malloc'ed) */
	size_t llen, lcap;    /* 0: none yet */
	unsigned char *mark;  /* where the batch began (malloc'ed) */
	size_t mlen, mcap;    /* 0: at the beginning */
};

struct import_src {
	DB_ENV *env;
	struct pg grey, clients;
	bool has_clients;
};

/* pg_open - open one of postgrey's tables and a cursor on it */
static int
pg_open(struct pg *pg, DB_ENV *env, const char *file, struct why *why)
{
	int rc;

	memset(pg, 0, sizeof(*pg));
	pg->env = env;
	if ((rc = db_create(&pg->db, env, 0)) != 0 ||
	    (rc = pg->db->open(pg->db, NULL, file, NULL, DB_BTREE, DB_RDONLY,
		0)) != 0 ||
	    (rc = pg->db->cursor(pg->db, NULL, &pg->cur, 0)) != 0) {
		why_set(why, "postgrey %s: %s", file, db_strerror(rc));
		if (pg->db != NULL)
			pg->db->close(pg->db, 0);
		pg->db = NULL;
		return rc == ENOENT ? 1 : -1;
	}
	return 0;
}

/* pg_close - cursor, table, buffers */
static void
pg_close(struct pg *pg)
{
	if (pg->cur != NULL)
		pg->cur->close(pg->cur);
	if (pg->db != NULL)
		pg->db->close(pg->db, 0);
	free(pg->last);
	free(pg->mark);
}

/* keep - a copy of a key in a growing buffer */
static void
keep(unsigned char **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (n > *cap) {
		*buf = xrealloc(*buf, n);
		*cap = n;
	}
	if (n > 0)
		memcpy(*buf, p, n);
	*len = n;
}

/* pg_next - the next record as NUL-terminated strings; 1 at the end */
static int
pg_next(struct pg *pg, char *key, size_t ksz, char *val, size_t vsz)
{
	DBT k, v;
	int rc;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	rc = pg->cur->get(pg->cur, &k, &v, DB_NEXT);
	if (rc == DB_NOTFOUND)
		return 1;
	if (rc != 0)
		return -1;
	keep(&pg->last, &pg->llen, &pg->lcap, k.data, k.size);
	snprintf(key, ksz, "%.*s", (int)(k.size < ksz ? k.size : ksz - 1),
	    (const char *)k.data);
	snprintf(val, vsz, "%.*s", (int)(v.size < vsz ? v.size : vsz - 1),
	    (const char *)v.data);
	return 0;
}

/* pg_mark - a batch begins after the record returned last */
static void
pg_mark(struct pg *pg)
{
	keep(&pg->mark, &pg->mlen, &pg->mcap, pg->last, pg->llen);
}

/* pg_rewind - back to the mark: the batch runs again from its start */
static int
pg_rewind(struct pg *pg)
{
	DBT k, v;

	/* The record before the batch is the one returned last again. */
	keep(&pg->last, &pg->llen, &pg->lcap, pg->mark, pg->mlen);
	if (pg->mlen == 0) {
		/* From the first record: a new cursor starts there. */
		pg->cur->close(pg->cur);
		pg->cur = NULL;
		return pg->db->cursor(pg->db, NULL, &pg->cur, 0) == 0 ? 0 : -1;
	}
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = pg->mark;
	k.size = (u_int32_t)pg->mlen;
	return pg->cur->get(pg->cur, &k, &v, DB_SET) == 0 ? 0 : -1;
}

/* put_triplet - merge one postgrey triplet into ours */
static int
put_triplet(struct store_txn *txn, const struct store_ops *ops,
    const struct gl_conf *c, const char *key, size_t klen,
    const struct gl_entry *in, struct import_stats *stats, struct why *why)
{
	unsigned char v[STORE_VAL_MAX];
	size_t vlen = sizeof(v);
	struct gl_entry cur;
	int rc;

	(void)c;
	rc = ops->get(txn, STORE_GREYLIST, key, klen, v, &vlen, why);
	if (rc == 0 && gl_entry_decode(v, vlen, &cur) == 0 &&
	    (cur.passed_at != 0 || cur.last >= in->last)) {
		stats->kept++;
		return 0;
	}
	if (rc < 0)
		return rc;
	gl_entry_encode(in, v);
	if ((rc = ops->put(txn, STORE_GREYLIST, key, klen, v, GL_ENTRY_SIZE,
	    why)) != 0)
		return rc;
	stats->triplets++;
	stats->passed += in->passed_at != 0;
	return 0;
}

/* put_client - merge one postgrey AWL client into ours */
static int
put_client(struct store_txn *txn, const struct store_ops *ops,
    const char *net, const struct awl_entry *in, struct why *why)
{
	unsigned char v[STORE_VAL_MAX];
	size_t vlen = sizeof(v);
	struct awl_entry cur, out = *in;
	int rc;

	rc = ops->get(txn, STORE_AWL_CLIENT, net, strlen(net) + 1, v, &vlen,
	    why);
	if (rc < 0)
		return rc;
	if (rc == 0 && awl_entry_decode(v, vlen, &cur) == 0) {
		/* Several postgrey addresses fall into one network of ours. */
		out.count = cur.count > in->count ? cur.count : in->count;
		out.first = cur.first && cur.first < in->first ? cur.first
							      : in->first;
		out.last = cur.last > in->last ? cur.last : in->last;
		out.last_count = out.last;
	}
	awl_entry_encode(&out, v);
	return ops->put(txn, STORE_AWL_CLIENT, net, strlen(net) + 1, v,
	    AWL_ENTRY_SIZE, why);
}

/* parse_times - "first,last[,...]" */
static int
parse_times(const char *s, int64_t *a, int64_t *b)
{
	char *end;

	*a = strtoll(s, &end, 10);
	if (end == s || *end != ',')
		return -1;
	s = end + 1;
	*b = strtoll(s, &end, 10);
	if (end == s || (*end != '\0' && *end != ','))
		return -1;
	return 0;
}

/*
 * import_one - one postgrey record into the transaction: 0 (written, or
 * counted as left out), or a STORE_* error
 */
static int
import_one(struct store_txn *txn, const struct store_ops *ops,
    const struct gl_conf *c, int64_t now, int clients, char *key,
    const char *val, struct import_stats *stats, struct why *why)
{
	int64_t a, b;
	char net[CIDR_STRLEN];
	struct ipaddr ip;

	if (parse_times(val, &a, &b) < 0) {
		stats->skipped++;
		return 0;
	}
	if (clients) {
		/* "address" -> "count,last" */
		struct awl_entry e = { (uint32_t)a, b, b, b };

		if (addr_parse(key, &ip) < 0) {
			stats->skipped++;
			return 0;
		}
		if (now - b > c->max_age) {
			stats->expired++;
			return 0;
		}
		greylist_net(c, key, net, sizeof(net));
		stats->clients++;
		return put_client(txn, ops, net, &e, why);
	} else {
		/* "net/sender/recipient" -> "first,last[,host]" */
		char *s1 = strchr(key, '/'), *s2 = strrchr(key, '/');
		char sender[800], gkey[STORE_KEY_MAX];
		struct gl_entry e = { a, b, 0, 1 };
		int klen;

		if (s1 == NULL || s2 == s1) {
			stats->skipped++;
			return 0;
		}
		*s1 = *s2 = '\0';
		if (addr_parse(key, &ip) < 0) {
			stats->skipped++;
			return 0;
		}
		if (b - a >= c->delay)
			e.passed_at = b;
		if (greylist_expired(c, &e, now)) {
			stats->expired++;
			return 0;
		}
		greylist_net(c, key, net, sizeof(net));
		greylist_norm_sender(c, s1 + 1, sender, sizeof(sender));
		klen = snprintf(gkey, sizeof(gkey), "%s%c%.400s%c%s", net, '\0',
		    sender, '\0', s2 + 1);
		if (klen < 0 || (size_t)klen + 1 > sizeof(gkey)) {
			stats->skipped++;
			return 0;
		}
		return put_triplet(txn, ops, c, gkey, (size_t)klen + 1, &e,
		    stats, why);
	}
}

/*
 * import_table - walk one postgrey table into ours, BATCH records per
 * transaction. A batch that loses a deadlock (the daemon runs beside
 * us) is aborted and run again from its first record, with the counts
 * it had made undone.
 */
static int
import_table(struct pg *pg, struct store *st, const struct gl_conf *c,
    int64_t now, int clients, struct import_stats *stats, struct why *why)
{
	const struct store_ops *ops = st->ops;
	char key[PG_KEY_MAX], val[256];
	int rc = 0, r = 0, tries = 0;

	for (;;) {
		struct import_stats before = *stats;
		struct store_txn *txn;
		unsigned n;

		pg_mark(pg);
		if ((rc = ops->begin(st, &txn, why)) != 0)
			return rc;
		for (n = 0; n < BATCH && rc == 0 &&
		    (r = pg_next(pg, key, sizeof(key), val, sizeof(val))) == 0;
		    n++)
			rc = import_one(txn, ops, c, now, clients, key, val, stats,
			    why);
		if (rc == 0 && r >= 0)
			rc = ops->commit(txn, why);
		else
			ops->abort(txn);
		if (rc == STORE_ERETRY && ++tries < TRIES) {
			*stats = before;
			if (pg_rewind(pg) < 0) {
				why_set(why, "reading postgrey's database "
					     "again after a deadlock failed");
				return STORE_ERROR;
			}
			continue;
		}
		if (rc != 0)
			return rc;
		if (r < 0) {
			why_set(why, "reading postgrey's database failed");
			return STORE_ERROR;
		}
		tries = 0;
		if (r == 1)
			return 0; /* the end */
	}
}

/* import_postgrey_open - postgrey's environment and its tables */
int
import_postgrey_open(const char *dir, struct import_src **srcp,
    struct why *why)
{
	struct import_src *src = xcalloc(1, sizeof(*src));
	int rc;

	*srcp = NULL;
	if ((rc = db_env_create(&src->env, 0)) != 0) {
		why_set(why, "%s: %s", dir, db_strerror(rc));
		free(src);
		return -1;
	}
	/* The flags postgrey opens its environment with. */
	rc = src->env->open(src->env, dir, DB_CREATE | DB_RECOVER |
		DB_INIT_TXN | DB_INIT_MPOOL | DB_INIT_LOG, 0600);
	if (rc != 0) {
		why_set(why, "postgrey directory %s: %s", dir, db_strerror(rc));
		src->env->close(src->env, 0);
		free(src);
		return -1;
	}
	rc = pg_open(&src->grey, src->env, "postgrey.db", why);
	if (rc != 0) {
		/* No postgrey.db: not a postgrey directory. */
		src->env->close(src->env, 0);
		free(src);
		return -1;
	}
	rc = pg_open(&src->clients, src->env, "postgrey_clients.db", why);
	if (rc < 0) {
		pg_close(&src->grey);
		src->env->close(src->env, 0);
		free(src);
		return -1;
	}
	/* rc 1: postgrey ran without --auto-whitelist-clients. */
	src->has_clients = rc == 0;
	*srcp = src;
	return 0;
}

/* import_postgrey_run - both of postgrey's tables into ours */
int
import_postgrey_run(struct import_src *src, struct store *st,
    const struct gl_conf *c, int64_t now, struct import_stats *stats,
    struct why *why)
{
	int rc;

	memset(stats, 0, sizeof(*stats));
	rc = import_table(&src->grey, st, c, now, 0, stats, why);
	if (rc == 0 && src->has_clients)
		rc = import_table(&src->clients, st, c, now, 1, stats, why);
	return rc;
}

/* import_postgrey_close - let postgrey's environment go */
void
import_postgrey_close(struct import_src *src)
{
	if (src == NULL)
		return;
	pg_close(&src->grey);
	if (src->has_clients)
		pg_close(&src->clients);
	src->env->close(src->env, 0);
	free(src);
}

/* import_postgrey - open, run, close */
int
import_postgrey(const char *dir, struct store *st, const struct gl_conf *c,
    int64_t now, struct import_stats *stats, struct why *why)
{
	struct import_src *src;
	int rc;

	memset(stats, 0, sizeof(*stats));
	if (import_postgrey_open(dir, &src, why) < 0)
		return -1;
	rc = import_postgrey_run(src, st, c, now, stats, why);
	import_postgrey_close(src);
	return rc;
}
