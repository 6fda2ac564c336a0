/*
 * import - postgrey 1.37 databases into our store.
 */
#include "import.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <db.h>
#include <uv.h>

#include "addr.h"
#include "greylist.h"
#include "store.h"
#include "xalloc.h"

#define BATCH 500 /* records per put of ours (one transaction) */
#define PG_KEY_MAX 1200 /* bytes of a key we look at */

struct pg {
	DB_ENV *env;
	DB *db;
	DBC *cur;
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
	snprintf(key, ksz, "%.*s", (int)(k.size < ksz ? k.size : ksz - 1),
	    (const char *)k.data);
	snprintf(val, vsz, "%.*s", (int)(v.size < vsz ? v.size : vsz - 1),
	    (const char *)v.data);
	return 0;
}

/*
 * A batch of records for one table of ours, put at once: the store runs
 * it again by itself if it loses to the daemon. Triplets that passed and
 * pending ones go in two batches, so the counts come from what each
 * wrote.
 */
enum { B_PASSED, B_PENDING, B_CLIENTS, NBATCHES };

struct batch {
	struct store_rec recs[BATCH];
	unsigned char keys[BATCH][STORE_KEY_MAX];
	unsigned char vals[BATCH][GL_ENTRY_SIZE];
	size_t n;
};

struct run {
	struct store *st;
	uv_loop_t *loop;
	const struct gl_conf *c;
	struct gl_limits lim;
	struct batch b[NBATCHES];
	struct import_stats *stats;
};

/* import_merge_triplet - ours stays if it passed, or was seen as late */
bool
import_merge_triplet(const void *param, size_t plen,
    const struct store_rec *old, struct store_rec *out)
{
	struct gl_entry cur, in;

	(void)param;
	(void)plen;
	if (old == NULL || gl_entry_decode(old->val, old->vlen, &cur) < 0 ||
	    gl_entry_decode(out->val, out->vlen, &in) < 0)
		return true;
	return cur.passed_at == 0 && cur.last < in.last;
}

/* import_merge_client - several postgrey addresses in one network */
bool
import_merge_client(const void *param, size_t plen,
    const struct store_rec *old, struct store_rec *out)
{
	struct gl_limits lim = { 0 };
	struct awl_entry cur, in, m;

	if (plen != 8)
		return false;
	lim.max_age = (int64_t)store_get_u64(param);
	if (old == NULL || awl_entry_decode(old->val, old->vlen, &cur) < 0 ||
	    awl_entry_decode(out->val, out->vlen, &in) < 0)
		return true;
	m.count = cur.count > in.count ? cur.count : in.count;
	m.first = cur.first && cur.first < in.first ? cur.first : in.first;
	m.last = cur.last > in.last ? cur.last : in.last;
	m.last_count = m.last;
	awl_entry_encode(&m, (unsigned char *)(uintptr_t)out->val);
	out->expires = awl_entry_expires(&lim, &m);
	return true;
}

/* flush_batch - put one batch; count what it wrote */
static int
flush_batch(struct run *r, int which, struct why *why)
{
	struct batch *b = &r->b[which];
	unsigned char age[8];
	struct store_update up = { STORE_UPD_MERGE, which == B_CLIENTS
	    ? "import.client" : "import.triplet", age, sizeof(age) };
	struct store_waiter w;
	size_t i;
	int rc;

	if (b->n == 0)
		return 0;
	store_put_u64(age, (uint64_t)r->lim.max_age);
	for (i = 0; i < b->n; i++)
		b->recs[i].upd = &up;
	store_waiter_init(&w, r->loop);
	rc = store_wait(&w, r->st->ops->put(r->st, which == B_CLIENTS
	    ? GL_TABLE_CLIENT : GL_TABLE_TRIPLET, b->recs, b->n, &w.call));
	if (rc < 0) {
		*why = w.reply.why;
		return rc;
	}
	if (which != B_CLIENTS) {
		r->stats->triplets += w.reply.n;
		r->stats->kept += b->n - w.reply.n;
		if (which == B_PASSED)
			r->stats->passed += w.reply.n;
	}
	b->n = 0;
	return 0;
}

/* add - one record into its batch; a full batch is put */
static int
add(struct run *r, int which, const char *key, size_t klen,
    const unsigned char *val, size_t vlen, int64_t expires, struct why *why)
{
	struct batch *b = &r->b[which];
	struct store_rec *rec;

	if (b->n == BATCH) {
		int rc = flush_batch(r, which, why);

		if (rc != 0)
			return rc;
	}
	rec = &b->recs[b->n];
	memcpy(b->keys[b->n], key, klen);
	memcpy(b->vals[b->n], val, vlen);
	rec->key = b->keys[b->n];
	rec->klen = klen;
	rec->val = b->vals[b->n];
	rec->vlen = vlen;
	rec->expires = expires;
	b->n++;
	return 0;
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
 * import_one - one postgrey record into its batch: 0 (added, or counted
 * as left out), or a STORE_* error of a batch it filled
 */
static int
import_one(struct run *r, int64_t now, int clients, char *key,
    const char *val, struct why *why)
{
	struct import_stats *stats = r->stats;
	const struct gl_conf *c = r->c;
	unsigned char v[GL_ENTRY_SIZE];
	char net[CIDR_STRLEN];
	struct ipaddr ip;
	int64_t a, b;

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
		awl_entry_encode(&e, v);
		return add(r, B_CLIENTS, net, strlen(net) + 1, v,
		    AWL_ENTRY_SIZE, awl_entry_expires(&r->lim, &e), why);
	} else {
		/* "net/sender/recipient" -> "first,last[,host]" */
		char *s1 = strchr(key, '/'), *s2 = strrchr(key, '/');
		char sender[800], gkey[STORE_KEY_MAX];
		struct gl_entry e = { .first = a, .last = b, .count = 1 };
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
		return add(r, e.passed_at ? B_PASSED : B_PENDING, gkey,
		    (size_t)klen + 1, v, gl_entry_encode(&e, v),
		    gl_entry_expires(&r->lim, &e), why);
	}
}

/* import_table - walk one postgrey table into ours, in batches */
static int
import_table(struct pg *pg, struct run *r, int64_t now, int clients,
    struct why *why)
{
	char key[PG_KEY_MAX], val[256];
	int rc = 0, got, i;

	while (rc == 0 &&
	    (got = pg_next(pg, key, sizeof(key), val, sizeof(val))) == 0)
		rc = import_one(r, now, clients, key, val, why);
	if (rc != 0)
		return rc;
	if (got < 0) {
		why_set(why, "reading postgrey's database failed");
		return STORE_ERROR;
	}
	for (i = 0; i < NBATCHES && rc == 0; i++)
		rc = flush_batch(r, i, why);
	return rc;
}

/* import_postgrey_open - postgrey's environment and its tables */
int
import_postgrey_open(const char *dir, struct import_src **srcp,
    struct why *why)
{
	struct import_src *src;
	char path[4200];
	struct stat sb;
	int rc;

	*srcp = NULL;
	/*
	 * Look before opening: postgrey's flags (DB_RECOVER, no locking)
	 * would rebuild the environment of whatever directory they meet,
	 * and one policyd's store is in would then refuse every open of
	 * the daemon (BDB1540).
	 */
	snprintf(path, sizeof(path), "%s/meta.db", dir);
	if (stat(path, &sb) == 0 ||
	    (snprintf(path, sizeof(path), "%s/%s", dir, STORE_LOCK_FILE),
	    stat(path, &sb) == 0)) {
		why_set(why, "%s holds a policyd store (%s), not postgrey's "
			     "database: give postgrey's --dbdir (as "
			     "/var/lib/postgrey)", dir, strrchr(path, '/') + 1);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/postgrey.db", dir);
	if (stat(path, &sb) < 0) {
		why_set(why, "postgrey directory %s: no postgrey.db (%s): give "
			     "postgrey's --dbdir (as /var/lib/postgrey)", dir,
		    strerror(errno));
		return -1;
	}
	src = xcalloc(1, sizeof(*src));
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
    uv_loop_t *loop, const struct gl_conf *c, int64_t now,
    struct import_stats *stats, struct why *why)
{
	struct run *r = xcalloc(1, sizeof(*r));
	int rc;

	memset(stats, 0, sizeof(*stats));
	r->st = st;
	r->loop = loop;
	r->c = c;
	r->lim = gl_limits(c);
	r->stats = stats;
	rc = import_table(&src->grey, r, now, 0, why);
	if (rc == 0 && src->has_clients)
		rc = import_table(&src->clients, r, now, 1, why);
	free(r);
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
import_postgrey(const char *dir, struct store *st, uv_loop_t *loop,
    const struct gl_conf *c, int64_t now, struct import_stats *stats,
    struct why *why)
{
	struct import_src *src;
	int rc;

	memset(stats, 0, sizeof(*stats));
	if (import_postgrey_open(dir, &src, why) < 0)
		return -1;
	rc = import_postgrey_run(src, st, loop, c, now, stats, why);
	import_postgrey_close(src);
	return rc;
}
