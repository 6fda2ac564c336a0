/*
 * storelock - hold a write lock in a store, as a slow policyctl batch
 * does, for the tests of a daemon that must not wait for it.
 *
 *   storelock DIR SECONDS
 *   storelock DIR panic     the environment panics, as after a process
 *                           died in the middle of a write
 *   storelock DIR foreign   the environment opened as another program
 *                           (postgrey) opens it: other flags, no locking
 *   storelock DIR key       prints the System V key of DIR's regions
 *                           (store_bdb_shm_key), for a test's clean-up
 *
 * Joins the environment in DIR with Berkeley DB's own calls (its regions
 * are System V shared memory under store_bdb_shm_key(DIR); the store's
 * operations are data now: none of them runs a caller's code inside its
 * transaction), reads one greylist record for update in a transaction,
 * prints "locked" and sleeps SECONDS holding the write lock of its page,
 * then lets go. All of a small table sits on one page: the daemon's next
 * greylist check meets the lock.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <db.h>

#include "greylist.h"
#include "store.h"
#include "xalloc.h"

/* hold - a write lock on the greylist table's first page, for seconds */
static int
hold(const char *dir, unsigned seconds)
{
	DB_ENV *env;
	DB_TXN *t;
	DB *db;
	DBT k, v;
	int rc;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)(uintptr_t)"held";
	k.size = 5;
	v.data = (void *)(uintptr_t)"x";
	v.size = 1;
	if ((rc = db_env_create(&env, 0)) != 0 ||
	    (rc = env->set_shm_key(env, store_bdb_shm_key(dir))) != 0 ||
	    (rc = env->open(env, dir, DB_CREATE | DB_INIT_LOCK | DB_INIT_LOG |
	    DB_INIT_MPOOL | DB_INIT_TXN | DB_REGISTER | DB_SYSTEM_MEM,
	    0600)) != 0 ||
	    (rc = db_create(&db, env, 0)) != 0 ||
	    (rc = db->set_flags(db, DB_CHKSUM | DB_REVSPLITOFF)) != 0 ||
	    (rc = db->open(db, NULL, GL_TABLE_TRIPLET ".db", NULL, DB_BTREE,
	    DB_CREATE | DB_AUTO_COMMIT, 0600)) != 0 ||
	    (rc = env->txn_begin(env, NULL, &t, 0)) != 0) {
		fprintf(stderr, "storelock: %s\n", db_strerror(rc));
		return 1;
	}
	/* Read for update, or write: either way the page is ours. */
	if ((rc = db->get(db, t, &k, &v, DB_RMW)) == DB_NOTFOUND)
		rc = db->put(db, t, &k, &v, 0);
	if (rc != 0) {
		fprintf(stderr, "storelock: %s\n", db_strerror(rc));
		return 1;
	}
	printf("locked\n");
	fflush(stdout);
	sleep(seconds);
	t->abort(t);
	db->close(db, 0);
	env->close(env, 0);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr,
		    "usage: storelock DIR SECONDS|panic|foreign|key\n");
		return 2;
	}
	if (strcmp(argv[2], "key") == 0) {
		printf("%ld\n", store_bdb_shm_key(argv[1]));
		return 0;
	}
	if (strcmp(argv[2], "panic") == 0 || strcmp(argv[2], "foreign") == 0) {
		bool panic = strcmp(argv[2], "panic") == 0;
		DB_ENV *env;
		int rc;

		if ((rc = db_env_create(&env, 0)) != 0 ||
		    (rc = env->set_shm_key(env,
		    store_bdb_shm_key(argv[1]))) != 0 ||
		    (rc = env->open(env, argv[1], (panic ? DB_INIT_LOCK |
		    DB_INIT_LOG | DB_INIT_MPOOL | DB_INIT_TXN | DB_REGISTER |
		    DB_CREATE : DB_CREATE | DB_RECOVER | DB_INIT_TXN |
		    DB_INIT_MPOOL | DB_INIT_LOG) | DB_SYSTEM_MEM, 0600)) != 0) {
			fprintf(stderr, "storelock: %s\n", db_strerror(rc));
			return 1;
		}
		if (panic)
			env->set_flags(env, DB_PANIC_ENVIRONMENT, 1);
		env->close(env, 0);
		printf("%s\n", argv[2]);
		return 0;
	}
	return hold(argv[1], (unsigned)atoi(argv[2]));
}
