/*
 * db verify, db state, reload - the store's structure and state, and the
 * policy file read again.
 *
 * db verify checks each table in a child process (the running program
 * again, with --verify-table): Berkeley DB's verifier can crash (abort)
 * on some damage, and a crash must read as "damaged", not take the
 * daemon or policyctl down without a word. The children run one after
 * the other from the thread pool, which waits for them.
 */
#define _GNU_SOURCE /* pipe2 */
#include "ctl_int.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "store.h"

extern char **environ;

struct verify {
	char dir[4096];
	char (*names)[STORE_TABLE_MAX + 1];
	int n, bad_table;
	char msg[WHY_MAX + 128];
};

static void
verify_free(void *arg)
{
	struct verify *v = arg;

	free(v->names);
	free(v);
}

/* verify_one - a child for one table: 0 sound, 1 damaged (msg says) */
static int
verify_one(struct verify *v, const char *table)
{
	char a0[] = "policyd-verify", a1[] = "--verify-table";
	char tb[STORE_TABLE_MAX + 1];
	char *argv[] = { a0, a1, tb, v->dir, NULL };
	posix_spawn_file_actions_t fa;
	int pfd[2], status, rc;
	ssize_t got;
	size_t len = 0;
	pid_t pid;

	snprintf(tb, sizeof(tb), "%s", table);
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(v->msg, sizeof(v->msg), "db verify: pipe: %s",
		    strerror(errno));
		return 1;
	}
	/* Its verdict on standard output; what it says on standard error
	 * (Berkeley DB, a sanitizer's report of a crash) goes to ours. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		snprintf(v->msg, sizeof(v->msg), "db verify: cannot start the "
		    "verifier: %s", strerror(rc));
		return 1;
	}
	v->msg[0] = '\0';
	while (len + 1 < sizeof(v->msg) && (got = read(pfd[0], v->msg + len,
	    sizeof(v->msg) - 1 - len)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			break;
		len += (size_t)got;
	}
	v->msg[len] = '\0';
	v->msg[strcspn(v->msg, "\n")] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		snprintf(v->msg, sizeof(v->msg), "db verify: %s.db: Berkeley "
		    "DB's verifier crashed (signal %d): the table is damaged",
		    table, WTERMSIG(status));
		return 1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char m[sizeof(v->msg)];

		snprintf(m, sizeof(m), "%s", v->msg);
		if (m[0] == '\0')
			snprintf(v->msg, sizeof(v->msg), "db verify: %s.db: "
			    "failed", table);
		else
			snprintf(v->msg, sizeof(v->msg), "db verify: %.*s",
			    (int)(sizeof(v->msg) - 12), m);
		return 1;
	}
	return 0;
}

/* verify_work - on the thread pool: every table */
static void
verify_work(struct ctl_job *j)
{
	struct verify *v = j->state;
	int t;

	v->bad_table = -1;
	for (t = 0; t < v->n; t++)
		if (verify_one(v, v->names[t]) != 0) {
			v->bad_table = t;
			return;
		}
}

static void
verify_done(struct ctl_job *j)
{
	struct verify *v = j->state;

	if (v->bad_table >= 0) {
		ctl_fail(j, "%s", v->msg);
		return;
	}
	ctl_out(j, "db verify: %s: every table is sound\n", v->dir);
	ctl_finish(j, CTL_OK);
}

/* ctl_verify_table - the child's part: one table; its exit status */
int
ctl_verify_table(const char *dir, const char *table)
{
	struct store_opts o = { .dir = dir, .cache_bytes = 8u << 20,
		.lock = STORE_LOCK_NONE };
	struct store *st;
	struct why why;
	int bad, err;

	if ((st = store_open_bdb(&o, &err, &why)) == NULL) {
		/* An environment that cannot open (recovery meets a damaged
		 * page): the file alone. */
		bad = store_verify_file_bdb(dir, table, &why) != 0;
		if (bad)
			printf("%s\n", why.text);
		return bad;
	}
	bad = st->ops->verify(st, table, &why) != 0;
	/* Close before leaving: an open handle at exit reads as a crashed
	 * process. */
	st->ops->close(st);
	if (bad)
		printf("%s\n", why.text);
	return bad;
}

/* ctl_db - verify, state */
int
ctl_db(struct ctl_job *j, int argc, char **argv)
{
	struct verify *v;
	struct why why;
	char line[1024];

	if (argc != 1)
		return ctl_usage_error(j, "db %s: unexpected argument \"%.80s\"",
		    argv[0], argv[1]);
	if (strcmp(argv[0], "state") == 0) {
		line[0] = '\0';
		j->host->store_state(j->host->arg, line, sizeof(line));
		ctl_out(j, "%s\n", line);
		ctl_finish(j, CTL_OK);
		return 0;
	}
	v = xcalloc(1, sizeof(*v));
	j->state = v;
	j->free_state = verify_free;
	snprintf(v->dir, sizeof(v->dir), "%s", j->cfg->state_dir);
	v->names = xcalloc(64, sizeof(*v->names));
	if ((v->n = store_bdb_tables(v->dir, v->names, 64, &why)) < 0)
		return ctl_fail(j, "db verify: %s", why.text);
	ctl_work(j, verify_work, verify_done);
	return 0;
}

/* ctl_reload - the policy file again, as SIGHUP */
int
ctl_reload(struct ctl_job *j, int argc, char **argv)
{
	struct why why;

	if (argc != 1)
		return ctl_usage_error(j, "reload: unexpected argument "
		    "\"%.80s\"", argv[1]);
	if (j->host->reload(j->host->arg, &why) < 0)
		return ctl_fail(j, "reload: %s (the daemon keeps the policy it "
		    "has)", why.text);
	ctl_out(j, "reloaded the policy\n");
	ctl_finish(j, CTL_OK);
	return 0;
}

