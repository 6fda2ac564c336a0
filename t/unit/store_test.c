/*
 * store_test - the Berkeley DB store: records survive a reopen and the
 * kill -9 of a process in the middle of writing; a newer schema is
 * refused and an older one upgraded; lists, flushes and expiry are
 * bounded and resumable, and a batch run again counts once; open
 * failures say why; a failed open does not stop the next one; damaged
 * pages are found.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <db.h>

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

/*
 * release_segments - the shared memory segments under dir's keys (a
 * writer killed with the store open leaves its regions for the next
 * open, a failed open in this process leaves its attachment, and the
 * directory goes now: each goes when its last user lets go); how many
 * nobody used any more
 */
static int
release_segments(void)
{
	long key = store_bdb_shm_key(dir), k;
	int n = 0;

	for (k = key; key != 0 && k < key + 8 * 16; k++) {
		struct shmid_ds ds;
		int id = shmget((key_t)k, 0, 0);

		if (id >= 0 && shmctl(id, IPC_STAT, &ds) == 0 &&
		    shmctl(id, IPC_RMID, NULL) == 0 && ds.shm_nattch == 0)
			n++;
	}
	return n;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	release_segments();
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s; rm -rf %s", dir, dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static struct store *
open_with(bool group)
{
	struct store_opts o = { .dir = dir, .cache_bytes = 4u << 20,
		.group = group };
	struct why why;
	struct store *st;
	int err;

	st = store_open_bdb(&o, &err, &why);
	if (st == NULL)
		fail_msg("open %s: %s", dir, why.text);
	assert_int_equal(err, 0);
	return st;
}

static struct store *
open_ok(void)
{
	return open_with(false);
}

/* Berkeley DB finishes every operation at once: no loop to wait on. */
static struct store_waiter w;

/* The calls are a request's (store_call.group): the writer of the kill
 * tests sets it. */
static bool group_calls;

static struct store_call *
call(void)
{
	store_waiter_init(&w, NULL);
	w.call.group = group_calls;
	return &w.call;
}

/* put_one - key -> val, no expiry; the operation's rc */
static int
put_one(struct store *st, const char *k, const char *v)
{
	struct store_rec r = { k, strlen(k) + 1, v, strlen(v) + 1, 0, NULL };

	return store_wait(&w, st->ops->put(st, "greylist", &r, 1,
	    call()));
}

/* put_range - key-i -> value-i, one operation (transaction) each */
static void
put_range(struct store *st, int from, int to)
{
	int i;

	for (i = from; i < to; i++) {
		char k[32], v[32];

		snprintf(k, sizeof(k), "key-%06d", i);
		snprintf(v, sizeof(v), "value-%d", i);
		if (put_one(st, k, v) != 0)
			fail_msg("put %s: %s", k, w.reply.why.text);
		assert_int_equal(w.reply.n, 1);
	}
}

/* get_one - the operation's rc; the value in w.reply */
static int
get_one(struct store *st, const char *k)
{
	return store_wait(&w, st->ops->get(st, "greylist", k, strlen(k) + 1,
	    call()));
}

/* count_present - how many of key-0..n-1 have the right value */
static int
count_present(struct store *st, int n)
{
	int i, found = 0;

	for (i = 0; i < n; i++) {
		char k[32], want[32];
		int rc;

		snprintf(k, sizeof(k), "key-%06d", i);
		snprintf(want, sizeof(want), "value-%d", i);
		rc = get_one(st, k);
		if (rc == STORE_NOTFOUND)
			continue;
		assert_int_equal(rc, 0);
		assert_string_equal((const char *)w.reply.val, want);
		found++;
	}
	return found;
}

/* verify_all - every table of the directory is sound */
static void
verify_all(struct store *st)
{
	char names[16][STORE_TABLE_MAX + 1];
	struct why why;
	int n, i;

	n = store_bdb_tables(dir, names, 16, &why);
	assert_true(n >= 2); /* greylist and meta at least */
	for (i = 0; i < n; i++)
		if (st->ops->verify(st, names[i], &why) != 0)
			fail_msg("verify %s: %s", names[i], why.text);
}

/* get_first: the first key of several that has a record, and its index */
static void
test_store_get_first(void **state)
{
	struct store *st = open_ok();
	struct store_key k[3] = { { "none-1", 7 }, { "key-000003", 11 },
		{ "key-000002", 11 } };

	(void)state;
	put_range(st, 0, 5);
	assert_int_equal(store_wait(&w, st->ops->get_first(st, "greylist", k,
			     3, call())), 0);
	assert_int_equal(w.reply.n, 1);
	assert_string_equal((const char *)w.reply.val, "value-3");
	assert_int_equal(store_wait(&w, st->ops->get_first(st, "greylist", k,
			     1, call())), STORE_NOTFOUND);
	assert_int_equal(store_wait(&w, st->ops->get_first(st, "greylist", k,
			     0, call())), STORE_ERROR);
	st->ops->close(st);
}

/*
 * The daemon answers a look at a record it read or wrote before from
 * its cache: every way a record changes must show in the next look,
 * found and absent alike (a stale answer would greylist or block by
 * what an administrator deleted, or miss what was just written).
 */
static void
test_store_cached_records_follow_every_write(void **state)
{
	struct store *st = open_ok();
	struct store_key k[2] = { { "key-b", 6 }, { "key-a", 6 } };
	struct store_cursor cur;
	struct why why;
	uint64_t deleted = 0;
	int i;

	(void)state;
	/* A put after a get, a get again (the second from the cache). */
	assert_int_equal(put_one(st, "key-a", "one"), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(get_one(st, "key-a"), 0);
		assert_string_equal((const char *)w.reply.val, "one");
	}
	assert_int_equal(put_one(st, "key-a", "two"), 0);
	assert_int_equal(get_one(st, "key-a"), 0);
	assert_string_equal((const char *)w.reply.val, "two");
	/* Absent, known absent, then written. */
	for (i = 0; i < 2; i++)
		assert_int_equal(get_one(st, "key-b"), STORE_NOTFOUND);
	for (i = 0; i < 2; i++) {
		assert_int_equal(store_wait(&w, st->ops->get_first(st,
				     "greylist", k, 2, call())), 0);
		assert_int_equal(w.reply.n, 1);
		assert_string_equal((const char *)w.reply.val, "two");
	}
	assert_int_equal(put_one(st, "key-b", "three"), 0);
	assert_int_equal(get_one(st, "key-b"), 0);
	assert_string_equal((const char *)w.reply.val, "three");
	assert_int_equal(store_wait(&w, st->ops->get_first(st, "greylist", k,
			     2, call())), 0);
	assert_int_equal(w.reply.n, 0);
	assert_string_equal((const char *)w.reply.val, "three");
	/* A delete. */
	assert_int_equal(store_wait(&w, st->ops->del(st, "greylist", "key-a",
			     6, call())), 0);
	assert_int_equal(get_one(st, "key-a"), STORE_NOTFOUND);
	assert_int_equal(store_wait(&w, st->ops->del(st, "greylist", "key-b",
			     6, call())), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(store_wait(&w, st->ops->get_first(st,
				     "greylist", k, 2, call())), STORE_NOTFOUND);
	/* A flush. */
	assert_int_equal(put_one(st, "key-c", "four"), 0);
	assert_int_equal(get_one(st, "key-c"), 0);
	memset(&cur, 0, sizeof(cur));
	assert_int_equal(store_wait(&w, st->ops->flush(st, "greylist", &cur,
			     100, NULL, NULL, call())), 0);
	assert_int_equal(w.reply.n, 1);
	assert_int_equal(get_one(st, "key-c"), STORE_NOTFOUND);
	/* Expiry. */
	{
		struct store_rec r = { "key-d", 6, "five", 5, 1000, NULL };

		assert_int_equal(store_wait(&w, st->ops->put(st, "greylist",
				     &r, 1, call())), 0);
	}
	assert_int_equal(get_one(st, "key-d"), 0);
	assert_int_equal(st->ops->expire(st, 2000, 100, &deleted, &why), 0);
	assert_int_equal(deleted, 1);
	assert_int_equal(get_one(st, "key-d"), STORE_NOTFOUND);
	/* An injected failure still fails a look the cache could answer. */
	assert_int_equal(put_one(st, "key-e", "six"), 0);
	assert_int_equal(get_one(st, "key-e"), 0);
	store_bdb_fail(st, STORE_BDB_READ, 0, 1, STORE_ERROR, NULL);
	assert_true(get_one(st, "key-e") < 0);
	store_bdb_fail(st, 0, 0, 0, 0, NULL);
	assert_int_equal(get_one(st, "key-e"), 0);
	assert_string_equal((const char *)w.reply.val, "six");
	st->ops->close(st);
}

/*
 * A greylisting pool of a thousand triplets, looked at over and over,
 * stays in the cache together: a table where each record had one slot
 * lost about one in five to another whose hash named the same slot,
 * and both then missed at every turn (a Berkeley DB transaction each).
 * A record too long for the cache is still right, from the tree.
 */
static void
test_store_cache_keeps_a_pool_of_a_thousand_records(void **state)
{
	struct store *st = open_ok();
	char k[400], v[32];
	uint64_t before;
	int i, round;

	(void)state;
	assert_true(store_bdb_cached(st));
	for (i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "192.0.2.%d/sender-%d@example.org/"
		    "postmaster@example.net", i % 250, i);
		snprintf(v, sizeof(v), "value-%d", i);
		assert_int_equal(put_one(st, k, v), 0);
	}
	for (round = 0; round < 3; round++) {
		before = store_bdb_cache_answers(st);
		for (i = 0; i < 1000; i++) {
			snprintf(k, sizeof(k), "192.0.2.%d/sender-%d@"
			    "example.org/postmaster@example.net", i % 250, i);
			snprintf(v, sizeof(v), "value-%d", i);
			assert_int_equal(get_one(st, k), 0);
			assert_string_equal((const char *)w.reply.val, v);
		}
		if (round > 0)
			assert_true(store_bdb_cache_answers(st) - before >= 990);
	}
	/* Key and value longer than a slot holds: never answered from it. */
	memset(k, 'x', 300);
	k[300] = '\0';
	assert_int_equal(put_one(st, k, "long"), 0);
	before = store_bdb_cache_answers(st);
	for (i = 0; i < 2; i++) {
		assert_int_equal(get_one(st, k), 0);
		assert_string_equal((const char *)w.reply.val, "long");
	}
	assert_true(store_bdb_cache_answers(st) == before);
	st->ops->close(st);
}

/* log_files - how many Berkeley DB log files dir holds */
static int
log_files(void)
{
	char cmd[256];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls %s | grep -c '^log\\.'", dir);
	assert_non_null(f = popen(cmd, "r"));
	assert_int_equal(fscanf(f, "%d", &n), 1);
	pclose(f);
	return n;
}

/*
 * A clean close leaves a checkpoint at the end of the log: an open reads
 * the log back to the last checkpoint, and with a minute of writes at
 * full speed since the last sweep's (ten million triplets) the daemon
 * took 1.2 s to start. Writes over three log files, then a close: one
 * file is left, and the records are all there after the open.
 */
static void
test_store_clean_close_leaves_no_log_to_read_at_open(void **state)
{
	struct store *st = open_ok();
	char k[32], v[200];
	int i;

	(void)state;
	memset(v, 'v', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	for (i = 0; i < 40000; i++) {
		snprintf(k, sizeof(k), "key-%06d", i);
		assert_int_equal(put_one(st, k, v), 0);
	}
	assert_true(log_files() >= 3);
	st->ops->close(st);
	assert_int_equal(log_files(), 1);
	st = open_ok();
	assert_int_equal(get_one(st, "key-000000"), 0);
	assert_int_equal(get_one(st, "key-039999"), 0);
	st->ops->close(st);
}

/*
 * The daemon's --stdio siblings share its environment and write to it:
 * what one writes shows in the next look of another that had the record
 * in its cache, found or absent.
 */
static void
test_store_a_siblings_write_shows_in_the_cache(void **state)
{
	struct store *st = open_ok();
	int status, i;
	pid_t pid;

	(void)state;
	assert_int_equal(put_one(st, "key-a", "one"), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(get_one(st, "key-a"), 0);
		assert_string_equal((const char *)w.reply.val, "one");
		assert_int_equal(get_one(st, "key-b"), STORE_NOTFOUND);
	}
	if ((pid = fork()) == 0) {
		/* The sibling: a store of its own on the same directory. */
		struct store *sib = open_ok();

		if (put_one(sib, "key-a", "two") != 0 ||
		    put_one(sib, "key-b", "three") != 0)
			_exit(1);
		sib->ops->close(sib);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(get_one(st, "key-a"), 0);
	assert_string_equal((const char *)w.reply.val, "two");
	assert_int_equal(get_one(st, "key-b"), 0);
	assert_string_equal((const char *)w.reply.val, "three");
	/* And our own writes after it keep the cache working. */
	assert_int_equal(put_one(st, "key-c", "four"), 0);
	assert_int_equal(get_one(st, "key-c"), 0);
	assert_string_equal((const char *)w.reply.val, "four");
	assert_true(store_bdb_cached(st));
	st->ops->close(st);
}

/*
 * A process whose counter of writes did not map when it opened the
 * store (a full disk, here a directory in its way) has no cache, and
 * maps the counter at its next write once it can, so that its writes
 * reach its siblings' caches from then on.
 */
static void
test_store_counter_mapped_at_a_write_when_it_could_not_be_at_open(
    void **state)
{
	char path[128];
	struct store *st;

	(void)state;
	snprintf(path, sizeof(path), "%s/policyd.gen", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	st = open_ok();
	assert_false(store_bdb_cached(st));
	assert_int_equal(put_one(st, "key-a", "one"), 0);
	assert_int_equal(get_one(st, "key-a"), 0);
	assert_false(store_bdb_cached(st));
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(put_one(st, "key-a", "two"), 0);
	assert_true(store_bdb_cached(st));
	assert_int_equal(get_one(st, "key-a"), 0);
	assert_string_equal((const char *)w.reply.val, "two");
	st->ops->close(st);
}

static void
test_store_reopen_keeps_records(void **state)
{
	struct store *st = open_ok();
	struct why why;

	(void)state;
	put_range(st, 0, 100);
	/* A transaction that does not commit leaves nothing. */
	store_bdb_fail(st, STORE_BDB_COMMIT, 0, 1, STORE_ERROR, NULL);
	assert_int_equal(put_one(st, "gone", "x"), STORE_ERROR);
	assert_int_equal(w.reply.n, 0);
	assert_int_equal(st->ops->maintain(st, &why), 0);
	st->ops->close(st);
	st = open_ok();
	assert_int_equal(count_present(st, 100), 100);
	assert_int_equal(get_one(st, "gone"), STORE_NOTFOUND);
	assert_int_equal(store_wait(&w, st->ops->del(st, "greylist",
			     "key-000001", 11, call())), 0);
	assert_int_equal(store_wait(&w, st->ops->del(st, "greylist",
			     "key-000001", 11, call())), STORE_NOTFOUND);
	assert_int_equal(count_present(st, 100), 99);
	verify_all(st);
	st->ops->close(st);
}

/*
 * The regions (the cache above all) are System V shared memory, not
 * files in the state directory: the kernel wrote a file-backed cache
 * back to disk over and over (every page a request touches dirties it),
 * and that writeback stalled the daemon's replies for up to 135 ms about
 * once a minute (doc/performance.md). A clean close gives the memory
 * back; nothing is lost by it.
 */
static void
test_store_regions_are_memory_and_go_at_a_clean_close(void **state)
{
	long key = store_bdb_shm_key(dir);
	struct store *st = open_ok();
	char path[128];
	struct stat sb;
	int i;

	(void)state;
	assert_true(key != 0);
	put_range(st, 0, 100);
	assert_true(shmget((key_t)key, 0, 0) >= 0);
	for (i = 1; i <= 9; i++) {
		snprintf(path, sizeof(path), "%s/__db.%03d", dir, i);
		if (stat(path, &sb) == 0)
			assert_true(sb.st_size < 65536);
	}
	st->ops->close(st);
	assert_true(shmget((key_t)key, 0, 0) < 0);
	snprintf(path, sizeof(path), "%s/__db.001", dir);
	assert_true(stat(path, &sb) < 0);
	st = open_ok();
	assert_int_equal(count_present(st, 100), 100);
	st->ops->close(st);
	/* A killed process's regions stay for the next open, which
	 * recovers and uses them; release_segments() frees them here. */
	assert_int_equal(release_segments(), 0);
}

/*
 * A writer dies with the store open, and its segments go before the
 * next open (a reboot, systemd's RemoveIPC when the unit stops): the
 * open recovers from the log and every record is there.
 */
static void
test_store_segments_removed_after_a_crash_lose_nothing(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st = open_ok();

		put_range(st, 0, 300);
		_exit(0); /* no close: the regions stay, dirty */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(release_segments() > 0);
	{
		struct store *st = open_ok();

		assert_int_equal(count_present(st, 300), 300);
		verify_all(st);
		st->ops->close(st);
	}
}

/*
 * Segments under the directory's key that the opener may not remove (a
 * process run as root killed with the store open, the daemon running as
 * its user): the open makes the regions under the next key, says so,
 * and leaves the other user's segment alone.
 */
static void
test_store_another_users_segments_move_the_key(void **state)
{
	struct passwd *pw = getpwnam("nobody");
	long key = store_bdb_shm_key(dir);
	int id, status;
	pid_t pid;

	(void)state;
	if (getuid() != 0 || pw == NULL)
		skip(); /* needs root: a segment that nobody cannot remove */
	id = shmget((key_t)key, 4096, IPC_CREAT | IPC_EXCL | 0600);
	assert_true(id >= 0);
	assert_int_equal(chown(dir, pw->pw_uid, pw->pw_gid), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct why why, healed = { "" };
		struct store_opts o = { .dir = dir, .cache_bytes = 4u << 20,
			.healed = &healed };
		struct store *st;
		int err;

		if (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
			_exit(2);
		if ((st = store_open_bdb(&o, &err, &why)) == NULL) {
			fprintf(stderr, "open: %s\n", why.text);
			_exit(3);
		}
		st->ops->close(st);
		if (strstr(healed.text, "are another user's") == NULL) {
			fprintf(stderr, "healed: %s\n", healed.text);
			_exit(4);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(shmget((key_t)key, 0, 0), id);
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
}

/*
 * kill_writer - a writer killed mid-stride three times loses nothing it
 * reported: its calls group calls or not, on a store opened with
 * opts.group or not, group_commit() after each or not (what the daemon
 * and --stdio processes do)
 */
static void
kill_writer(bool calls, bool store_group, bool commit_each)
{
	int pfd[2], committed = 0, round;

	for (round = 0; round < 3; round++) {
		pid_t pid;
		int status, n;

		assert_int_equal(pipe(pfd), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			/* The writer: report each commit, keep writing. */
			struct store *st = open_with(store_group);
			struct why why;
			int i;

			close(pfd[0]);
			group_calls = calls;
			for (i = committed;; i++) {
				put_range(st, i, i + 1);
				if (commit_each && st->ops->group_commit(st,
				    &why) != 0)
					_exit(1);
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

			assert_true(count_present(st, committed + 10) >=
			    committed);
			assert_int_equal(count_present(st, committed),
			    committed);
			verify_all(st);
			st->ops->close(st);
		}
	}
}

static void
test_store_kill_9_loses_nothing_committed(void **state)
{
	(void)state;
	kill_writer(false, false, false);
}

static void
test_store_kill_9_a_stdio_process_commits_group_calls_at_once(void **state)
{
	/*
	 * A --stdio process opens the store without opts.group: its
	 * requests' writes are durable at once, with no group_commit()
	 * (its siblings' group commits would all write one meta.db record
	 * and lose to each other's locks).
	 */
	(void)state;
	kill_writer(true, false, false);
}

static void
test_store_kill_9_group_calls_are_kept_once_group_committed(void **state)
{
	(void)state;
	kill_writer(true, true, true);
}

/*
 * raw_table - a table of the store's environment through Berkeley DB
 * itself, as an older (or newer) policyd wrote it
 */
static DB *
raw_table(DB_ENV **envp, const char *file)
{
	DB_ENV *env;
	DB *db;

	assert_int_equal(db_env_create(&env, 0), 0);
	assert_int_equal(env->open(env, dir, DB_CREATE | DB_INIT_LOCK |
			     DB_INIT_LOG | DB_INIT_MPOOL | DB_INIT_TXN |
			     DB_REGISTER | DB_RECOVER, 0600), 0);
	assert_int_equal(db_create(&db, env, 0), 0);
	assert_int_equal(db->open(db, NULL, file, NULL, DB_BTREE,
			     DB_CREATE | DB_AUTO_COMMIT, 0600), 0);
	*envp = env;
	return db;
}

/* set_schema - the schema record, written as an older or newer policyd */
static void
set_schema(uint32_t schema)
{
	unsigned char v[4];
	char name[] = "schema";
	DB_ENV *env;
	DBT k, d;
	DB *db;

	store_put_u32(v, schema);
	db = raw_table(&env, "meta.db");
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = name;
	k.size = 6;
	d.data = v;
	d.size = 4;
	assert_int_equal(db->put(db, NULL, &k, &d, DB_AUTO_COMMIT), 0);
	db->close(db, 0);
	env->close(env, 0);
}

static void
test_store_newer_schema_refused(void **state)
{
	struct store *st = open_ok();
	struct store_opts o = { .dir = dir, .cache_bytes = 4u << 20,
		.sync = STORE_SYNC_FULL };
	char want[128];
	struct why why;
	int err;

	(void)state;
	st->ops->close(st);
	set_schema(STORE_SCHEMA + 1);
	assert_null(store_open_bdb(&o, &err, &why));
	assert_int_equal(err, STORE_ESCHEMA);
	snprintf(want, sizeof(want), "state written by a newer policyd "
	    "(schema %d; this one knows %d)", STORE_SCHEMA + 1, STORE_SCHEMA);
	assert_non_null(strstr(why.text, want));
}

/*
 * A store of schema 1 (no expiry in its records) opens with every record
 * kept, each given an expiry; an upgrade cut short is finished at the
 * next open without touching what it did.
 */
static void
test_store_schema_1_upgraded_keeping_records(void **state)
{
	unsigned char v1[29], v2[8 + 29];
	DB_ENV *env;
	DB *db;
	struct store *st;
	int64_t before = (int64_t)time(NULL);
	int i;

	(void)state;
	memset(v1, 0, sizeof(v1));
	v1[0] = 1;
	db = raw_table(&env, "awl_client.db");
	for (i = 0; i < 2500; i++) {
		char k[32];
		DBT key, val;

		snprintf(k, sizeof(k), "192.0.%d.%d/32", i / 256, i % 256);
		memset(&key, 0, sizeof(key));
		memset(&val, 0, sizeof(val));
		key.data = k;
		key.size = (u_int32_t)strlen(k) + 1;
		v1[4] = (unsigned char)i; /* the count's low byte */
		val.data = v1;
		val.size = sizeof(v1);
		if (i == 7) {
			/* Upgraded already by a run that was cut short. */
			store_put_u64(v2, 12345);
			memcpy(v2 + 8, v1, sizeof(v1));
			val.data = v2;
			val.size = sizeof(v2);
		}
		assert_int_equal(db->put(db, NULL, &key, &val, DB_AUTO_COMMIT),
		    0);
	}
	db->close(db, 0);
	env->close(env, 0);
	set_schema(1);
	st = open_ok();
	for (i = 0; i < 2500; i++) {
		char k[32];

		snprintf(k, sizeof(k), "192.0.%d.%d/32", i / 256, i % 256);
		assert_int_equal(store_wait(&w, st->ops->get(st, "awl_client",
				     k, strlen(k) + 1, call())), 0);
		assert_int_equal(w.reply.vlen, 29);
		assert_int_equal(w.reply.val[0], 1);
		assert_int_equal(w.reply.val[4], (unsigned char)i);
		if (i == 7)
			assert_int_equal(w.reply.expires, 12345);
		else
			assert_true(w.reply.expires >= before + 35 * 86400);
	}
	st->ops->close(st);
	/* Schema 2 now: a second open changes nothing. */
	st = open_ok();
	assert_int_equal(store_wait(&w, st->ops->get(st, "awl_client",
			     "192.0.0.7/32", 13, call())), 0);
	assert_int_equal(w.reply.expires, 12345);
	verify_all(st);
	st->ops->close(st);
}

/* key_index - n of "key-n" */
static int
key_index(const struct store_rec *r)
{
	return atoi((const char *)r->key + 4);
}

struct rows {
	int n;
	unsigned char seen[300];
	int twice;
};

static void
row_seen(void *arg, const struct store_rec *r)
{
	struct rows *c = arg;
	int i = key_index(r);

	c->n++;
	if (i >= 0 && i < 300 && c->seen[i]++)
		c->twice++;
}

static bool
every_tenth(void *arg, const struct store_rec *r)
{
	(void)arg;
	return key_index(r) % 10 == 9;
}

/* list_all - list the table in batches: how many batches */
static int
list_all(struct store *st, size_t batch, struct rows *c, int *rc)
{
	struct store_cursor cur;
	int steps = 0;

	memset(&cur, 0, sizeof(cur));
	do {
		*rc = store_wait(&w, st->ops->list(st, "greylist", &cur, batch,
		    NULL, row_seen, c, call()));
		if (*rc != 0)
			return steps;
		assert_true(w.reply.n <= batch);
		cur = w.reply.next;
		steps++;
	} while (!cur.end);
	return steps;
}

static void
test_store_scan_bounded_and_resumable(void **state)
{
	struct store *st = open_ok();
	struct store_cursor cur;
	struct rows c = { 0 };
	uint64_t deleted = 0;
	int rc, steps = 0;

	(void)state;
	put_range(st, 0, 250);
	assert_int_equal(list_all(st, 100, &c, &rc), 3);
	assert_int_equal(rc, 0);
	assert_int_equal(c.n, 250);
	memset(&cur, 0, sizeof(cur));
	do {
		assert_int_equal(store_wait(&w, st->ops->flush(st, "greylist",
				     &cur, 100, every_tenth, NULL, call())), 0);
		deleted += w.reply.n;
		cur = w.reply.next;
		steps++;
	} while (!cur.end);
	assert_int_equal(steps, 3);
	assert_int_equal(deleted, 25);
	assert_int_equal(count_present(st, 250), 225);
	assert_int_equal(store_wait(&w, st->ops->count(st, "greylist",
			     call())), 0);
	assert_int_equal(w.reply.n, 225);
	st->ops->close(st);
}

/* Records go when they expire, a bounded batch at a time. */
static void
test_store_expire_bounded(void **state)
{
	struct store *st = open_ok();
	struct why why;
	uint64_t deleted = 0;
	int i, calls = 0;

	(void)state;
	for (i = 0; i < 30; i++) {
		char k[32];
		struct store_rec r = { k, 0, "v", 2, i < 20 ? 1000 + i : 0, NULL };

		snprintf(k, sizeof(k), "key-%06d", i);
		r.klen = strlen(k) + 1;
		assert_int_equal(store_wait(&w, st->ops->put(st, "greylist", &r,
				     1, call())), 0);
	}
	/* At 1010, keys 0..10 have expired (expires <= now). */
	while (calls++ < 4)
		assert_int_equal(st->ops->expire(st, 1010, 10, &deleted, &why),
		    0);
	assert_int_equal(deleted, 11);
	assert_int_equal(store_wait(&w, st->ops->count(st, "greylist",
			     call())), 0);
	assert_int_equal(w.reply.n, 19);
	/* One call looks at no more than its batch. */
	deleted = 0;
	assert_int_equal(st->ops->expire(st, 5000, 3, &deleted, &why), 0);
	assert_true(deleted <= 3);
	/* Records without an expiry stay. */
	for (i = 0; i < 10; i++)
		assert_int_equal(st->ops->expire(st, 1 << 30, 100, &deleted,
				     &why), 0);
	assert_int_equal(store_wait(&w, st->ops->count(st, "greylist",
			     call())), 0);
	assert_int_equal(w.reply.n, 10);
	/* A table's name is [a-z0-9_]; meta is the store's own. */
	assert_int_equal(store_wait(&w, st->ops->count(st, "../x", call())),
	    STORE_ERROR);
	assert_non_null(strstr(w.reply.why.text, "is not a table name"));
	assert_int_equal(store_wait(&w, st->ops->count(st, "meta", call())),
	    STORE_ERROR);
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
	struct why why;
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
	for (i = 0, rc = 0; i < 300 && rc == 0; i++) {
		char k[32];

		snprintf(k, sizeof(k), "key-%06d", i);
		rc = get_one(st, k);
	}
	assert_int_equal(rc, STORE_EFATAL);
	assert_non_null(strstr(w.reply.why.text, "checksum"));
	st->ops->close(st);
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
	struct rows c = { 0 };
	uint64_t deleted = 0;
	struct store_cursor cur;
	int rc;

	(void)state;
	put_range(st, 0, 250);
	/* The second batch, after 100 rows were read, loses at commit. */
	store_bdb_fail(st, STORE_BDB_COMMIT, 1, 1, STORE_ERETRY, NULL);
	assert_int_equal(list_all(st, 100, &c, &rc), 3);
	assert_int_equal(rc, 0);
	assert_int_equal(c.n, 250);
	assert_int_equal(c.twice, 0);
	/* A flush whose batch loses counts its deletions once. */
	store_bdb_fail(st, STORE_BDB_COMMIT, 1, 1, STORE_ERETRY, NULL);
	memset(&cur, 0, sizeof(cur));
	do {
		assert_int_equal(store_wait(&w, st->ops->flush(st, "greylist",
				     &cur, 100, every_tenth, NULL, call())), 0);
		deleted += w.reply.n;
		cur = w.reply.next;
	} while (!cur.end);
	assert_int_equal(deleted, 25);
	/* Losing every time: it gives up with the error, nothing shown. */
	memset(&c, 0, sizeof(c));
	store_bdb_fail(st, STORE_BDB_COMMIT, 0, 1000, STORE_ERETRY, NULL);
	list_all(st, 100, &c, &rc);
	assert_int_equal(rc, STORE_ERETRY);
	assert_int_equal(c.n, 0);
	store_bdb_fail(st, 0, 0, 0, 0, NULL);
	st->ops->close(st);
}

/* count - the table's records, as count() answers */
static uint64_t
count(struct store *st)
{
	assert_int_equal(store_wait(&w, st->ops->count(st, "greylist",
	    call())), 0);
	return w.reply.n;
}

static void
test_store_count_is_maintained_through_writes_and_reruns(void **state)
{
	/*
	 * count() walks the table once, then follows every committed write
	 * and delete: the metrics ask it every interval, and a walk of a
	 * million records each time was the metrics job's whole cost.
	 */
	struct store *st = open_ok();
	struct store_cursor cur;
	uint64_t deleted = 0;

	(void)state;
	put_range(st, 0, 10);
	assert_int_equal(count(st), 10);          /* the first: a walk */
	put_range(st, 10, 15);                     /* new: +5 */
	assert_int_equal(count(st), 15);
	put_range(st, 0, 5);                       /* there already */
	assert_int_equal(count(st), 15);
	/* A put that loses at commit and runs again counts once. */
	store_bdb_fail(st, STORE_BDB_COMMIT, 0, 1, STORE_ERETRY, NULL);
	assert_int_equal(put_one(st, "key-new", "v"), 0);
	assert_int_equal(count(st), 16);
	/* A put that fails for good counts nothing. */
	store_bdb_fail(st, STORE_BDB_COMMIT, 0, 1000, STORE_ERETRY, NULL);
	assert_true(put_one(st, "key-lost", "v") < 0);
	store_bdb_fail(st, 0, 0, 0, 0, NULL);
	assert_int_equal(count(st), 16);
	assert_int_equal(store_wait(&w, st->ops->del(st, "greylist",
	    "key-new", 8, call())), 0);
	assert_int_equal(count(st), 15);
	memset(&cur, 0, sizeof(cur));
	do {
		assert_int_equal(store_wait(&w, st->ops->flush(st, "greylist",
		    &cur, 4, NULL, NULL, call())), 0);
		deleted += w.reply.n;
		cur = w.reply.next;
	} while (!cur.end);
	assert_int_equal(deleted, 15);
	assert_int_equal(count(st), 0);
	st->ops->close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_get_first, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_cached_records_follow_every_write, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_a_siblings_write_shows_in_the_cache, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_cache_keeps_a_pool_of_a_thousand_records, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_clean_close_leaves_no_log_to_read_at_open, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_counter_mapped_at_a_write_when_it_could_not_be_at_open,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_reopen_keeps_records,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_kill_9_loses_nothing_committed, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_regions_are_memory_and_go_at_a_clean_close,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_segments_removed_after_a_crash_lose_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_another_users_segments_move_the_key,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_kill_9_a_stdio_process_commits_group_calls_at_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_kill_9_group_calls_are_kept_once_group_committed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_newer_schema_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_schema_1_upgraded_keeping_records, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_expire_bounded,
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
		cmocka_unit_test_setup_teardown(
		    test_store_count_is_maintained_through_writes_and_reruns,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
