/*
 * storelock - hold a write lock in a store, as a slow policyctl batch
 * does, for the tests of a daemon that must not wait for it.
 *
 *   storelock DIR SECONDS
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
		fprintf(stderr, "usage: storelock DIR SECONDS\n");
		return 2;
	}
	o.dir = argv[1];
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
