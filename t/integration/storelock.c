/*
 * storelock - hold a write lock in a store, as a slow policyctl batch
 * does, for the tests of a daemon that must not wait for it.
 *
 *   storelock DIR SECONDS
 *
 * Opens the store in DIR, writes one greylist record in a transaction,
 * prints "locked" and keeps the transaction open for SECONDS, then
 * aborts it. All of a small table sits on one page: the daemon's next
 * greylist check meets the lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "xalloc.h"

int
main(int argc, char **argv)
{
	struct store_opts o = { .cache_bytes = 4u << 20 };
	struct store_txn *txn;
	struct store *st;
	struct why why;
	int err;

	if (argc != 3) {
		fprintf(stderr, "usage: storelock DIR SECONDS\n");
		return 2;
	}
	o.dir = argv[1];
	if ((st = store_open_bdb(&o, &err, &why)) == NULL) {
		fprintf(stderr, "storelock: %s\n", why.text);
		return 1;
	}
	if (st->ops->begin(st, &txn, &why) != 0 ||
	    st->ops->put(txn, STORE_GREYLIST, "held\0", 5, "x", 1, &why) != 0) {
		fprintf(stderr, "storelock: %s\n", why.text);
		return 1;
	}
	printf("locked\n");
	fflush(stdout);
	sleep((unsigned)atoi(argv[2]));
	st->ops->abort(txn);
	st->ops->close(st);
	return 0;
}
