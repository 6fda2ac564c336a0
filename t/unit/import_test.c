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

static void
count(void *arg, const struct store_rec *r)
{
	(void)r;
	++*(int *)arg;
}

static void
test_import_batch_lost_to_a_deadlock_runs_again(void **state)
{
	struct store_opts o = { .dir = ourdir, .cache_bytes = 4u << 20 };
	struct store_cursor cur;
	struct store_waiter w;
	struct import_stats is;
	struct store *real;
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
	/* The second batch of 500 loses a deadlock at its commit. */
	store_bdb_fail(real, STORE_BDB_COMMIT, 1, 1, STORE_ERETRY, NULL);
	if (import_postgrey(pgdir, real, NULL, &c, now, &is, &why) != 0)
		fail_msg("import: %s", why.text);
	assert_int_equal(is.triplets, 1200);
	assert_int_equal(is.passed, 1200);
	assert_int_equal(is.kept, 0);
	memset(&cur, 0, sizeof(cur));
	do {
		store_waiter_init(&w, NULL);
		assert_int_equal(store_wait(&w, real->ops->list(real,
				     GL_TABLE_TRIPLET, &cur, 1000, NULL, count,
				     &n, &w.call)), 0);
		cur = w.reply.next;
	} while (!cur.end);
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
