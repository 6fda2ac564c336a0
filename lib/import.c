/*
 * import - postgrey 1.37 databases into our store.
 */
#include "import.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <db.h>

#include "addr.h"
#include "greylist.h"
#include "store.h"
#include "xalloc.h"

#define BATCH 500 /* records per transaction of ours */

struct pg {
	DB_ENV *env;
	DB *db;
	DBC *cur;
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

/* import_table - walk one postgrey table into ours, in batches */
static int
import_table(struct pg *pg, struct store *st, const struct gl_conf *c,
    int64_t now, int clients, struct import_stats *stats, struct why *why)
{
	const struct store_ops *ops = st->ops;
	char key[1200], val[256];
	struct store_txn *txn = NULL;
	unsigned n = 0;
	int rc = 0, r;

	while ((r = pg_next(pg, key, sizeof(key), val, sizeof(val))) == 0) {
		int64_t a, b;
		char net[CIDR_STRLEN];

		if (txn == NULL && (rc = ops->begin(st, &txn, why)) != 0)
			return rc;
		if (parse_times(val, &a, &b) < 0) {
			stats->skipped++;
			continue;
		}
		if (clients) {
			/* "address" -> "count,last" */
			struct awl_entry e = { (uint32_t)a, b, b, b };
			struct ipaddr ip;

			if (addr_parse(key, &ip) < 0) {
				stats->skipped++;
				continue;
			}
			if (now - b > c->max_age) {
				stats->expired++;
				continue;
			}
			greylist_net(c, key, net, sizeof(net));
			rc = put_client(txn, ops, net, &e, why);
			stats->clients++;
		} else {
			/* "net/sender/recipient" -> "first,last[,host]" */
			char *s1 = strchr(key, '/'), *s2 = strrchr(key, '/');
			char sender[800], gkey[STORE_KEY_MAX];
			struct gl_entry e = { a, b, 0, 1 };
			struct ipaddr ip;
			int klen;

			if (s1 == NULL || s2 == s1) {
				stats->skipped++;
				continue;
			}
			*s1 = *s2 = '\0';
			if (addr_parse(key, &ip) < 0) {
				stats->skipped++;
				continue;
			}
			if (b - a >= c->delay)
				e.passed_at = b;
			if (greylist_expired(c, &e, now)) {
				stats->expired++;
				continue;
			}
			greylist_net(c, key, net, sizeof(net));
			greylist_norm_sender(c, s1 + 1, sender, sizeof(sender));
			klen = snprintf(gkey, sizeof(gkey), "%s%c%.400s%c%s",
			    net, '\0', sender, '\0', s2 + 1);
			if (klen < 0 || (size_t)klen + 1 > sizeof(gkey)) {
				stats->skipped++;
				continue;
			}
			rc = put_triplet(txn, ops, c, gkey, (size_t)klen + 1, &e,
			    stats, why);
		}
		if (rc != 0)
			break;
		if (++n % BATCH == 0) {
			rc = ops->commit(txn, why);
			txn = NULL;
			if (rc != 0)
				return rc;
		}
	}
	if (r < 0 && rc == 0) {
		why_set(why, "reading postgrey's database failed");
		rc = STORE_ERROR;
	}
	if (txn != NULL) {
		if (rc == 0)
			return ops->commit(txn, why);
		ops->abort(txn);
	}
	return rc;
}

/* import_postgrey - both postgrey tables */
int
import_postgrey(const char *dir, struct store *st, const struct gl_conf *c,
    int64_t now, struct import_stats *stats, struct why *why)
{
	DB_ENV *env;
	struct pg pg;
	int rc;

	memset(stats, 0, sizeof(*stats));
	if ((rc = db_env_create(&env, 0)) != 0) {
		why_set(why, "%s: %s", dir, db_strerror(rc));
		return -1;
	}
	/* The flags postgrey opens its environment with. */
	rc = env->open(env, dir, DB_CREATE | DB_RECOVER | DB_INIT_TXN |
		DB_INIT_MPOOL | DB_INIT_LOG, 0600);
	if (rc != 0) {
		why_set(why, "postgrey directory %s: %s", dir, db_strerror(rc));
		env->close(env, 0);
		return -1;
	}
	rc = pg_open(&pg, env, "postgrey.db", why);
	if (rc == 1)
		rc = -1; /* no postgrey.db: not a postgrey directory */
	if (rc == 0) {
		rc = import_table(&pg, st, c, now, 0, stats, why);
		pg_close(&pg);
	}
	if (rc == 0) {
		rc = pg_open(&pg, env, "postgrey_clients.db", why);
		if (rc == 0) {
			rc = import_table(&pg, st, c, now, 1, stats, why);
			pg_close(&pg);
		} else if (rc == 1) {
			rc = 0; /* postgrey ran without --auto-whitelist-clients */
		}
	}
	env->close(env, 0);
	return rc;
}
