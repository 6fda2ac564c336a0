/*
 * store_test - the Berkeley DB store: records survive a reopen and the
 * kill -9 of a process in the middle of writing; a newer schema is
 * refused; scans are bounded and resumable; open failures say why; a
 * failed open does not stop the next one; damaged pages are found.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "xalloc.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/store_test_XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s; rm -rf %s", dir, dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static struct store *
open_ok(void)
{
	struct store_opts o = { .dir = dir, .cache_bytes = 4u << 20 };
	struct why why;
	struct store *st;
	int err;

	st = store_open_bdb(&o, &err, &why);
	if (st == NULL)
		fail_msg("open %s: %s", dir, why.text);
	assert_int_equal(err, 0);
	return st;
}

/* put_n - n records key-i -> value-i, one transaction each */
static void
put_range(struct store *st, int from, int to)
{
	int i;

	for (i = from; i < to; i++) {
		struct store_txn *txn;
		char k[32], v[32];
		struct why why;

		snprintf(k, sizeof(k), "key-%06d", i);
		snprintf(v, sizeof(v), "value-%d", i);
		assert_int_equal(st->ops->begin(st, &txn, &why), 0);
		assert_int_equal(st->ops->put(txn, STORE_GREYLIST, k,
				     strlen(k) + 1, v, strlen(v) + 1, &why),
		    0);
		assert_int_equal(st->ops->commit(txn, &why), 0);
	}
}

/* count_present - how many of key-0..n-1 have the right value */
static int
count_present(struct store *st, int n)
{
	struct store_txn *txn;
	struct why why;
	int i, found = 0;

	assert_int_equal(st->ops->begin(st, &txn, &why), 0);
	for (i = 0; i < n; i++) {
		char k[32], v[64], want[32];
		size_t vlen = sizeof(v);
		int rc;

		snprintf(k, sizeof(k), "key-%06d", i);
		snprintf(want, sizeof(want), "value-%d", i);
		rc = st->ops->get(txn, STORE_GREYLIST, k, strlen(k) + 1, v,
		    &vlen, &why);
		if (rc == STORE_NOTFOUND)
			continue;
		assert_int_equal(rc, 0);
		assert_string_equal(v, want);
		found++;
	}
	st->ops->abort(txn);
	return found;
}

static void
test_store_reopen_keeps_records(void **state)
{
	struct store *st = open_ok();
	struct store_txn *txn;
	struct why why;

	(void)state;
	put_range(st, 0, 100);
	/* An aborted transaction leaves nothing. */
	assert_int_equal(st->ops->begin(st, &txn, &why), 0);
	assert_int_equal(st->ops->put(txn, STORE_GREYLIST, "gone", 5, "x", 2,
			     &why), 0);
	st->ops->abort(txn);
	assert_int_equal(st->ops->maintain(st, &why), 0);
	st->ops->close(st);
	st = open_ok();
	assert_int_equal(count_present(st, 100), 100);
	assert_int_equal(st->ops->begin(st, &txn, &why), 0);
	{
		char v[8];
		size_t vlen = sizeof(v);

		assert_int_equal(st->ops->get(txn, STORE_GREYLIST, "gone", 5,
				     v, &vlen, &why), STORE_NOTFOUND);
		assert_int_equal(st->ops->del(txn, STORE_GREYLIST, "key-000001",
				     11, &why), 0);
		assert_int_equal(st->ops->del(txn, STORE_GREYLIST, "key-000001",
				     11, &why), STORE_NOTFOUND);
	}
	assert_int_equal(st->ops->commit(txn, &why), 0);
	assert_int_equal(count_present(st, 100), 99);
	for (int tb = 0; tb < STORE_NTABLES; tb++)
		assert_int_equal(st->ops->verify(st, (enum store_table)tb, &why), 0);
	st->ops->close(st);
}

static void
test_store_kill_9_loses_nothing_committed(void **state)
{
	int pfd[2], committed = 0, round;

	(void)state;
	for (round = 0; round < 3; round++) {
		pid_t pid;
		int status, n;

		assert_int_equal(pipe(pfd), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			/* The writer: report each commit, keep writing. */
			struct store *st = open_ok();
			int i;

			close(pfd[0]);
			for (i = committed;; i++) {
				put_range(st, i, i + 1);
				if (write(pfd[1], &i, sizeof(i)) != sizeof(i))
					_exit(1);
			}
		}
		close(pfd[1]);
		/* Let it commit a few hundred, then kill it mid-stride. */
		while (read(pfd[0], &n, sizeof(n)) == sizeof(n)) {
			if (n + 1 - committed >= 300)
				break;
		}
		kill(pid, SIGKILL);
		/* Every commit it reported before dying is durable. */
		while (read(pfd[0], &n, sizeof(n)) == sizeof(n))
			;
		close(pfd[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		committed = n + 1;
		{
			/* Recovery runs at open: the writer did not close. */
			struct store *st = open_ok();
			struct why why;

			assert_true(count_present(st, committed + 10) >=
			    committed);
			assert_int_equal(count_present(st, committed),
			    committed);
			for (int tb = 0; tb < STORE_NTABLES; tb++)
		assert_int_equal(st->ops->verify(st, (enum store_table)tb, &why), 0);
			st->ops->close(st);
		}
	}
}

static void
test_store_newer_schema_refused(void **state)
{
	struct store *st = open_ok();
	struct store_opts o = { .dir = dir, .cache_bytes = 4u << 20,
		.sync = STORE_SYNC_FULL };
	struct store_txn *txn;
	unsigned char v[4];
	struct why why;
	int err;

	(void)state;
	assert_int_equal(st->ops->begin(st, &txn, &why), 0);
	store_put_u32(v, STORE_SCHEMA + 1);
	assert_int_equal(st->ops->put(txn, STORE_META, "schema", 6, v, 4, &why),
	    0);
	assert_int_equal(st->ops->commit(txn, &why), 0);
	st->ops->close(st);
	assert_null(store_open_bdb(&o, &err, &why));
	assert_int_equal(err, STORE_ESCHEMA);
	assert_non_null(strstr(why.text, "state written by a newer policyd "
					 "(schema 2; this one knows 1)"));
}

struct collect {
	int n;
	char first[32];
	int del_every; /* delete every n-th record; 0: none */
};

static int
collect(void *arg, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct collect *c = arg;

	(void)val;
	(void)vlen;
	if (c->n == 0)
		snprintf(c->first, sizeof(c->first), "%.*s", (int)klen,
		    (const char *)key);
	c->n++;
	return c->del_every && c->n % c->del_every == 0 ? 2 : 0;
}

static void
test_store_scan_bounded_and_resumable(void **state)
{
	struct store *st = open_ok();
	unsigned char next[STORE_KEY_MAX];
	struct store_txn *txn;
	struct collect c = { 0 };
	struct why why;
	size_t nlen;
	int total = 0, steps = 0;

	(void)state;
	put_range(st, 0, 250);
	next[0] = 0;
	nlen = 0;
	do {
		unsigned char from[STORE_KEY_MAX];
		size_t flen = nlen;

		memcpy(from, next, nlen);
		memset(&c, 0, sizeof(c));
		c.del_every = 10;
		assert_int_equal(st->ops->begin(st, &txn, &why), 0);
		assert_int_equal(st->ops->scan(txn, STORE_GREYLIST, from, flen,
				     100, collect, &c, next, &nlen, &why),
		    0);
		assert_int_equal(st->ops->commit(txn, &why), 0);
		assert_true(c.n <= 100);
		total += c.n;
		steps++;
	} while (nlen > 0);
	assert_int_equal(total, 250);
	assert_int_equal(steps, 3);
	assert_int_equal(count_present(st, 250), 225);
	st->ops->close(st);
}

static void
test_store_open_failures_say_why(void **state)
{
	struct store_opts o = { .dir = "/nonexistent/state",
		.cache_bytes = 4u << 20 };
	struct why why;
	int err;

	(void)state;
	assert_null(store_open_bdb(&o, &err, &why));
	assert_true(err < 0);
	assert_non_null(strstr(why.text, "/nonexistent/state"));
	assert_non_null(strstr(why.text, "No such file or directory"));
	if (geteuid() != 0) {
		chmod(dir, 0500);
		o.dir = dir;
		assert_null(store_open_bdb(&o, &err, &why));
		assert_non_null(strstr(why.text, "Permission denied"));
	}
}

/*
 * A failed open must not stop the next one in the same process: a
 * recovery that fails (a full disk, a damaged page, a missing log) left
 * this process registered, and Berkeley DB then refused every
 * later open of the process ("one open DB_ENV handle per environment"),
 * so a running daemon never got its store back.
 */
static void
test_store_reopens_in_the_same_process_after_a_failed_open(void **state)
{
	char path[128], saved[8192], junk[8192];
	struct store_opts o = { .dir = dir, .cache_bytes = 4u << 20 };
	struct why why;
	struct store *st;
	int status, err, fd;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* A writer that dies with the environment open. */
		st = open_ok();
		put_range(st, 0, 200);
		if (st->ops->maintain(st, &why) != 0)
			_exit(1);
		put_range(st, 200, 400);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Damage the first data pages: recovery has to read them. */
	snprintf(path, sizeof(path), "%s/greylist.db", dir);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, saved, sizeof(saved), 4096), sizeof(saved));
	memset(junk, 0x5a, sizeof(junk));
	assert_int_equal(pwrite(fd, junk, sizeof(junk), 4096), sizeof(junk));
	assert_null(store_open_bdb(&o, &err, &why));
	assert_non_null(strstr(why.text, "checksum"));
	assert_non_null(strstr(why.text, "greylist.db"));
	/* Repaired (restored from a backup): the same process opens it. */
	assert_int_equal(pwrite(fd, saved, sizeof(saved), 4096), sizeof(saved));
	close(fd);
	st = store_open_bdb(&o, &err, &why);
	if (st == NULL)
		fail_msg("reopen in the same process: %s", why.text);
	assert_int_equal(count_present(st, 400), 400);
	st->ops->close(st);
}

/* A damaged page is found when it is read, never taken as data. */
static void
test_store_damaged_page_is_found(void **state)
{
	char path[128], junk[4096];
	struct store *st = open_ok();
	struct store_txn *txn;
	struct why why;
	char v[64];
	size_t vlen = sizeof(v);
	int fd, rc, i;

	(void)state;
	put_range(st, 0, 300);
	assert_int_equal(st->ops->maintain(st, &why), 0);
	st->ops->close(st);
	/* As after a reboot: the environment's cache is gone. */
	{
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "rm -f %s/__db.0*", dir);
		assert_int_equal(system(cmd), 0);
	}
	/* One byte in the middle of a data page. */
	snprintf(path, sizeof(path), "%s/greylist.db", dir);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, junk, sizeof(junk), 8192), sizeof(junk));
	junk[2000] ^= 0x01;
	assert_int_equal(pwrite(fd, junk, sizeof(junk), 8192), sizeof(junk));
	close(fd);
	st = open_ok();
	assert_int_equal(st->ops->begin(st, &txn, &why), 0);
	for (i = 0, rc = 0; i < 300 && rc == 0; i++) {
		char k[32];

		snprintf(k, sizeof(k), "key-%06d", i);
		vlen = sizeof(v);
		rc = st->ops->get(txn, STORE_GREYLIST, k, strlen(k) + 1, v,
		    &vlen, &why);
	}
	assert_int_equal(rc, STORE_EFATAL);
	assert_non_null(strstr(why.text, "checksum"));
	st->ops->abort(txn);
	st->ops->close(st);
}

/* A store whose commit loses a deadlock on demand: wraps the real one. */
static struct store_ops lossy_ops;
static struct store *lossy_real;
static int lossy_commits;   /* commits so far */
static int lossy_lose_at;   /* this commit (1-based) loses; 0: none */

static int
lossy_begin(struct store *st, struct store_txn **txn, struct why *why)
{
	(void)st;
	return lossy_real->ops->begin(lossy_real, txn, why);
}

static int
lossy_commit_always(struct store_txn *txn, struct why *why)
{
	lossy_real->ops->abort(txn);
	why_set(why, "injected: deadlock");
	return STORE_ERETRY;
}

static int
lossy_commit(struct store_txn *txn, struct why *why)
{
	if (++lossy_commits == lossy_lose_at) {
		lossy_real->ops->abort(txn);
		why_set(why, "injected: deadlock");
		return STORE_ERETRY;
	}
	return lossy_real->ops->commit(txn, why);
}

struct walk_count {
	int seen;       /* records visited, kept per batch */
	int shown;      /* rows "shown": made final by done(true) */
	int pending;    /* rows of the batch under way */
	int dropped;    /* done(false) calls */
};

static int
walk_visit(void *arg, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct walk_count *w = arg;

	(void)key;
	(void)klen;
	(void)val;
	(void)vlen;
	w->seen++;
	w->pending++;
	return 0;
}

static void
walk_done(void *arg, bool committed)
{
	struct walk_count *w = arg;

	if (committed)
		w->shown += w->pending;
	else
		w->dropped++;
	w->pending = 0;
}

/*
 * A batch that loses a deadlock runs again: its rows are shown once and
 * its counts made once (policyctl listed rows twice and counted deleted
 * records twice after a rerun).
 */
static void
test_store_walk_rerun_batch_counts_and_shows_once(void **state)
{
	struct store *st = open_ok();
	struct store lossy = { &lossy_ops };
	struct walk_count w = { 0 };
	struct why why;

	(void)state;
	put_range(st, 0, 250);
	lossy_ops = *st->ops;
	lossy_ops.begin = lossy_begin;
	lossy_ops.commit = lossy_commit;
	lossy_real = st;
	lossy_commits = 0;
	lossy_lose_at = 2; /* the second batch, after 100 rows were kept */
	assert_int_equal(store_walk(&lossy, STORE_GREYLIST, 100, 10,
			     walk_visit, &w, sizeof(w), walk_done, &why), 0);
	assert_int_equal(w.dropped, 1);
	assert_int_equal(w.seen, 250);
	assert_int_equal(w.shown, 250);
	/* Losing every time: it gives up with the error, nothing kept. */
	memset(&w, 0, sizeof(w));
	lossy_ops.commit = lossy_commit_always;
	assert_int_equal(store_walk(&lossy, STORE_GREYLIST, 100, 3, walk_visit,
			     &w, sizeof(w), walk_done, &why), STORE_ERETRY);
	assert_int_equal(w.shown, 0);
	assert_int_equal(w.seen, 0);
	assert_int_equal(w.dropped, 3);
	st->ops->close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_reopen_keeps_records,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_kill_9_loses_nothing_committed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_newer_schema_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_scan_bounded_and_resumable, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_open_failures_say_why, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_reopens_in_the_same_process_after_a_failed_open,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_damaged_page_is_found, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_walk_rerun_batch_counts_and_shows_once, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
