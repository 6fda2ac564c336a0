/*
 * storelock - hold a write lock in a store, as a slow policyctl batch
 * does, for the tests of a daemon that must not wait for it.
 *
 *   storelock DIR SECONDS
 *   storelock DIR panic     the environment panics, as after a process
 *                           died in the middle of a write
 *   storelock DIR foreign   the environment opened as another program
 *                           (postgrey) opens it: other flags, no locking
 *
 * Opens the store in DIR and puts one greylist record with a merge that
 * prints "locked" and sleeps SECONDS inside the put's transaction, which
 * holds the write lock of the record's page (the merge read it for
 * update), then keeps what is there. All of a small table sits on one
 * page: the daemon's next greylist check meets the lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <db.h>

#include "store.h"
#include "xalloc.h"

static unsigned seconds;

/* hold - store_merge_fn: the lock is held while it sleeps */
static bool
hold(void *arg, const struct store_rec *old, struct store_rec *out)
{
	(void)arg;
	(void)old;
	(void)out;
	printf("locked\n");
	fflush(stdout);
	sleep(seconds);
	return false;
}

int
main(int argc, char **argv)
{
	struct store_opts o = { .cache_bytes = 4u << 20 };
	struct store_rec r = { "held", 5, "x", 1, 0 };
	struct store_waiter w;
	struct store *st;
	struct why why;
	int err;

	if (argc != 3) {
		fprintf(stderr, "usage: storelock DIR SECONDS|panic|foreign\n");
		return 2;
	}
	o.dir = argv[1];
	/* The store's own lock is the daemon's: a stranger takes none. */
	o.lock = STORE_LOCK_NONE;
	if (strcmp(argv[2], "panic") == 0 || strcmp(argv[2], "foreign") == 0) {
		bool panic = strcmp(argv[2], "panic") == 0;
		DB_ENV *env;
		int rc;

		if ((rc = db_env_create(&env, 0)) != 0 ||
		    (rc = env->open(env, argv[1], panic ? DB_INIT_LOCK |
		    DB_INIT_LOG | DB_INIT_MPOOL | DB_INIT_TXN | DB_REGISTER |
		    DB_CREATE : DB_CREATE | DB_RECOVER | DB_INIT_TXN |
		    DB_INIT_MPOOL | DB_INIT_LOG, 0600)) != 0) {
			fprintf(stderr, "storelock: %s\n", db_strerror(rc));
			return 1;
		}
		if (panic)
			env->set_flags(env, DB_PANIC_ENVIRONMENT, 1);
		env->close(env, 0);
		printf("%s\n", argv[2]);
		return 0;
	}
	seconds = (unsigned)atoi(argv[2]);
	if ((st = store_open_bdb(&o, &err, &why)) == NULL) {
		fprintf(stderr, "storelock: %s\n", why.text);
		return 1;
	}
	store_waiter_init(&w, NULL);
	if (store_wait(&w, st->ops->put(st, GL_TABLE_TRIPLET, &r, 1, hold,
	    NULL, &w.call)) < 0) {
		fprintf(stderr, "storelock: %s\n", w.reply.why.text);
		return 1;
	}
	st->ops->close(st);
	return 0;
}
