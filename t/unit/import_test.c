/*
 * import_test - postgrey's databases into ours: a batch that loses a
 * deadlock against the daemon is run again, counted once (the import
 * gave up half-way before).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <db.h>

#include "greylist.h"
#include "import.h"
#include "store.h"
#include "xalloc.h"

static char dir[64], pgdir[80], ourdir[80];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/import_test_XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(pgdir, sizeof(pgdir), "%s/postgrey", dir);
	snprintf(ourdir, sizeof(ourdir), "%s/state", dir);
	assert_int_equal(mkdir(pgdir, 0700), 0);
	assert_int_equal(mkdir(ourdir, 0700), 0);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[160];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* make_postgrey - postgrey.db with n triplets, as postgrey 1.37 writes */
static void
make_postgrey(int n, int64_t now)
{
	DB_ENV *env;
	DB *db;
	int i;

	assert_int_equal(db_env_create(&env, 0), 0);
	assert_int_equal(env->open(env, pgdir, DB_CREATE | DB_INIT_TXN |
			     DB_INIT_MPOOL | DB_INIT_LOG, 0600), 0);
	assert_int_equal(db_create(&db, env, 0), 0);
	assert_int_equal(db->open(db, NULL, "postgrey.db", NULL, DB_BTREE,
			     DB_CREATE | DB_AUTO_COMMIT, 0600), 0);
	for (i = 0; i < n; i++) {
		char k[128], v[64];
		DBT key, val;

		snprintf(k, sizeof(k), "192.0.%d.0/user%05d@example.org/"
		    "rcpt@our.example", i % 200, i);
		snprintf(v, sizeof(v), "%lld,%lld", (long long)(now - 3600),
		    (long long)(now - 60));
		memset(&key, 0, sizeof(key));
		memset(&val, 0, sizeof(val));
		key.data = k;
		key.size = (u_int32_t)strlen(k);
		val.data = v;
		val.size = (u_int32_t)strlen(v);
		assert_int_equal(db->put(db, NULL, &key, &val, DB_AUTO_COMMIT), 0);
	}
	db->close(db, 0);
	env->close(env, 0);
}

static struct store *real;
static int commits, lose_at;

static int
lossy_begin(struct store *st, struct store_txn **txn, struct why *why)
{
	(void)st;
	return real->ops->begin(real, txn, why);
}

static int
lossy_commit(struct store_txn *txn, struct why *why)
{
	if (++commits == lose_at) {
		real->ops->abort(txn);
		why_set(why, "injected: deadlock");
		return STORE_ERETRY;
	}
	return real->ops->commit(txn, why);
}

static int
count(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)k;
	(void)kl;
	(void)v;
	(void)vl;
	++*(int *)arg;
	return 0;
}

static void
test_import_batch_lost_to_a_deadlock_runs_again(void **state)
{
	struct store_opts o = { .dir = ourdir, .cache_bytes = 4u << 20 };
	struct store_ops ops;
	struct store lossy = { &ops };
	struct import_stats is;
	struct gl_conf c;
	struct why why;
	int64_t now = 1700000000;
	int err, n = 0;

	(void)state;
	make_postgrey(1200, now);
	gl_conf_defaults(&c);
	real = store_open_bdb(&o, &err, &why);
	if (real == NULL)
		fail_msg("%s", why.text);
	ops = *real->ops;
	ops.begin = lossy_begin;
	ops.commit = lossy_commit;
	commits = 0;
	lose_at = 2; /* the second batch of 500 */
	if (import_postgrey(pgdir, &lossy, &c, now, &is, &why) != 0)
		fail_msg("import: %s", why.text);
	assert_int_equal(is.triplets, 1200);
	assert_int_equal(is.passed, 1200);
	assert_int_equal(is.kept, 0);
	assert_int_equal(store_walk(real, STORE_GREYLIST, 1000, 3, count, &n,
			     sizeof(n), NULL, &why), 0);
	assert_int_equal(n, 1200);
	real->ops->close(real);
	gl_conf_fini(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_import_batch_lost_to_a_deadlock_runs_again, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
