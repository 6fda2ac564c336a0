/*
 * ctl_test - the control protocol's lines (every malformed case, round
 * trips) and policyctl's commands as jobs on a store that answers later
 * (the in-memory one): what they print, their status, what they change,
 * a walk in batches, a cancel in the middle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "ctl/ctl_int.h" /* CTL_BATCH */
#include "greylist.h"
#include "store.h"
#include "whitelist.h"
#include "xalloc.h"

static void
test_ctl_round_trip_of_awkward_words(void **state)
{
	char w0[] = "greylist", w1[] = "list", w2[] = "--sender",
	    w3[] = "a b%c\t\xc3\xa9", w4[] = "", w5[] = "<>";
	char *words[] = { w0, w1, w2, w3, w4, w5 };
	char line[CTL_LINE_MAX + 2], buf[CTL_LINE_MAX + 1];
	char *argv[CTL_ARGS_MAX + 1];
	struct why why;
	size_t n;
	int argc, i;

	(void)state;
	n = ctl_encode(line, sizeof(line), 6, words);
	assert_true(n > 0);
	assert_int_equal(line[n - 1], '\n');
	assert_string_equal(line, "policyd-control/1 greylist list --sender "
	    "a%20b%25c%09%C3%A9 % <>\n");
	argc = ctl_parse(line, n - 1, buf, sizeof(buf), argv, CTL_ARGS_MAX + 1,
	    &why);
	assert_int_equal(argc, 6);
	for (i = 0; i < 6; i++)
		assert_string_equal(argv[i], words[i]);
	assert_null(argv[6]);
}

static void
test_ctl_malformed_requests_are_named(void **state)
{
	static const struct {
		const char *line, *why;
	} cases[] = {
		{ "policyd-control/2 stats", "does not start with" },
		{ "stats", "does not start with" },
		{ "policyd-control/1x stats", "does not start with" },
		{ "policyd-control/1  stats", "one space between words" },
		{ "policyd-control/1 stats ", "one space between words" },
		{ "policyd-control/1 st%zzats", "no %XX escape" },
		{ "policyd-control/1 st%0", "no %XX escape" },
		{ "policyd-control/1 a%00b", "no %XX escape" },
		{ "policyd-control/1 a\x01", "must be escaped" },
		{ "policyd-control/1 \xff", "must be escaped" },
	};
	char buf[CTL_LINE_MAX + 1], *argv[CTL_ARGS_MAX + 1];
	struct why why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why.text[0] = '\0';
		assert_int_equal(ctl_parse(cases[i].line, strlen(cases[i].line),
		    buf, sizeof(buf), argv, CTL_ARGS_MAX + 1, &why), -1);
		if (strstr(why.text, cases[i].why) == NULL)
			fail_msg("%s: %s", cases[i].line, why.text);
	}
}

static void
test_ctl_bounds_of_a_request(void **state)
{
	char *line = xmalloc(2 * CTL_LINE_MAX), buf[CTL_LINE_MAX + 1];
	char *argv[CTL_ARGS_MAX + 2], *words[CTL_ARGS_MAX + 1];
	char x[] = "x";
	struct why why;
	size_t n;
	int i;

	(void)state;
	/* Too many words. */
	n = (size_t)sprintf(line, "policyd-control/1");
	for (i = 0; i < CTL_ARGS_MAX + 1; i++)
		n += (size_t)sprintf(line + n, " w");
	assert_int_equal(ctl_parse(line, n, buf, sizeof(buf), argv,
	    CTL_ARGS_MAX + 2, &why), -1);
	assert_non_null(strstr(why.text, "more than 64 words"));
	/* Exactly the most words. */
	n = (size_t)sprintf(line, "policyd-control/1");
	for (i = 0; i < CTL_ARGS_MAX; i++)
		n += (size_t)sprintf(line + n, " w");
	assert_int_equal(ctl_parse(line, n, buf, sizeof(buf), argv,
	    CTL_ARGS_MAX + 1, &why), CTL_ARGS_MAX);
	/* Too long. */
	n = (size_t)sprintf(line, "policyd-control/1 ");
	memset(line + n, 'a', CTL_LINE_MAX);
	n += CTL_LINE_MAX;
	assert_int_equal(ctl_parse(line, n, buf, sizeof(buf), argv,
	    CTL_ARGS_MAX + 1, &why), -1);
	assert_non_null(strstr(why.text, "longer than 4096"));
	/* An encoding that does not fit is refused, not cut. */
	for (i = 0; i < CTL_ARGS_MAX + 1; i++)
		words[i] = x;
	assert_int_equal(ctl_encode(line, 2 * CTL_LINE_MAX, CTL_ARGS_MAX + 1,
	    words), 0);
	memset(buf, ' ', 2000);
	buf[2000] = '\0';
	words[0] = buf; /* 2000 spaces: 6000 bytes escaped */
	assert_int_equal(ctl_encode(line, 2 * CTL_LINE_MAX, 1, words), 0);
	free(line);
}

/* A job's outcome, as a client would read it. */
struct outcome {
	char out[32768], err[4096];
	int status;
	bool done;
};

static void
o_line(void *arg, enum ctl_stream s, const char *text, size_t len)
{
	struct outcome *o = arg;
	char *b = s == CTL_OUT ? o->out : o->err;
	size_t size = s == CTL_OUT ? sizeof(o->out) : sizeof(o->err);

	snprintf(b + strlen(b), size - strlen(b), "%.*s\n", (int)len, text);
}

static void
o_done(void *arg, int status)
{
	struct outcome *o = arg;

	o->status = status;
	o->done = true;
}

struct env {
	uv_loop_t loop;
	struct store *st;
	struct store_handle h;
	struct cfg *cfg;
	struct ctl_host host;
};

static int
setup(void **state)
{
	struct env *e = xcalloc(1, sizeof(*e));
	struct why why;

	uv_loop_init(&e->loop);
	e->st = store_open_mem(&e->loop, 1);
	e->h.st = e->st;
	e->cfg = cfg_parse("test", "", 0, &why);
	e->host = (struct ctl_host){ .loop = &e->loop, .cfg = e->cfg,
		.store = &e->h, .offline = true };
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;

	e->st->ops->close(e->st);
	uv_run(&e->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&e->loop), 0);
	cfg_unref(e->cfg);
	free(e);
	return 0;
}

/* run - a command to its end; the outcome */
static struct outcome *
run(struct env *e, const char *cmdline)
{
	static struct outcome o;
	char copy[512], *argv[32], *p;
	struct ctl_sink sink = { o_line, NULL, o_done, NULL, &o };
	int argc = 0;

	memset(&o, 0, sizeof(o));
	snprintf(copy, sizeof(copy), "%s", cmdline);
	for (p = strtok(copy, " "); p != NULL; p = strtok(NULL, " "))
		argv[argc++] = p;
	argv[argc] = NULL;
	ctl_job_start(&e->host, argc, argv, &sink);
	while (!o.done)
		uv_run(&e->loop, UV_RUN_ONCE);
	return &o;
}

static void
test_ctl_whitelist_on_a_store_that_answers_later(void **state)
{
	struct env *e = *state;
	struct outcome *o;

	o = run(e, "whitelist add --recipient U@Our.Example --sender "
	    "@partner.example");
	assert_int_equal(o->status, 0);
	assert_string_equal(o->out, "added: u@our.example trusts "
	    "@partner.example\n");
	o = run(e, "whitelist list --json");
	assert_int_equal(o->status, 0);
	assert_string_equal(o->out, "{\"recipient\":\"u@our.example\","
	    "\"sender\":\"@partner.example\"}\n");
	o = run(e, "whitelist delete --recipient u@our.example --sender "
	    "@other.example");
	assert_int_equal(o->status, 1);
	assert_string_equal(o->err, "policyctl: whitelist delete: "
	    "u@our.example does not trust @other.example\n");
	o = run(e, "whitelist delete --recipient u@our.example --sender "
	    "@partner.example");
	assert_int_equal(o->status, 0);
	o = run(e, "whitelist list --json");
	assert_string_equal(o->out, "");
}

static void
test_ctl_a_bad_argument_changes_nothing(void **state)
{
	struct env *e = *state;
	struct outcome *o;

	o = run(e, "awl add --client 192.0.2.0/16");
	assert_int_equal(o->status, 2);
	assert_non_null(strstr(o->err, "greylisting groups IPv4 clients by "
	    "/24"));
	o = run(e, "awl add --client 192.0.2.1 --frobnicate");
	assert_int_equal(o->status, 2);
	assert_non_null(strstr(o->err, "unknown option \"--frobnicate\""));
	o = run(e, "awl add --client");
	assert_int_equal(o->status, 2);
	assert_string_equal(o->err, "policyctl: awl add: --client needs a "
	    "value\n");
	o = run(e, "awl list --json");
	assert_string_equal(o->out, "");
	o = run(e, "greylist");
	assert_int_equal(o->status, 2);
	assert_string_equal(o->err, "policyctl: greylist: needs list, delete "
	    "or flush\n");
	o = run(e, "nonsense");
	assert_int_equal(o->status, 2);
	o = run(e, "reload");
	assert_int_equal(o->status, 1);
	assert_non_null(strstr(o->err, "needs the running daemon"));
}

/* put_triplets - n greylist entries, as greylisting writes them */
static void
put_triplets(struct env *e, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		struct gl_entry en = { .first = 1000, .last = 1000 + i,
			.count = 1 };
		unsigned char v[STORE_VAL_MAX];
		char key[STORE_KEY_MAX];
		struct store_rec r = { key, 0, v, 0, 0, NULL };
		struct store_waiter w;

		r.klen = (size_t)snprintf(key, sizeof(key), "192.0.2.0/24%c"
		    "s%d@x.example%cu@our.example", 0, i, 0) + 1;
		r.vlen = gl_entry_encode(&en, v);
		store_waiter_init(&w, &e->loop);
		assert_int_equal(store_wait(&w, e->st->ops->put(e->st,
		    GL_TABLE_TRIPLET, &r, 1, &w.call)), 0);
	}
}

static void
test_ctl_flush_walks_the_table_in_batches(void **state)
{
	struct env *e = *state;
	struct outcome *o;

	put_triplets(e, 250);
	o = run(e, "greylist list --sender s1*");
	/* the header, s1, s10..s19, s100..s199 */
	{
		int lines = 0;
		char *p;

		for (p = o->out; (p = strchr(p, '\n')) != NULL; p++)
			lines++;
		assert_int_equal(lines, 1 + 1 + 10 + 100);
	}
	o = run(e, "greylist flush --all");
	assert_int_equal(o->status, 0);
	assert_string_equal(o->out, "deleted 250 greylist entries\n");
	o = run(e, "greylist list --json");
	assert_string_equal(o->out, "");
}

static void
test_ctl_a_cancelled_walk_lets_go_of_everything(void **state)
{
	struct env *e = *state;
	struct outcome o;
	struct ctl_sink sink = { o_line, NULL, o_done, NULL, &o };
	char a0[] = "greylist", a1[] = "list", a2[] = "--json";
	char *argv[] = { a0, a1, a2, NULL };
	struct ctl_job *j;
	int turns;

	memset(&o, 0, sizeof(o));
	/*
	 * Twenty batches: a UV_RUN_ONCE turn runs the timers twice (before
	 * and after the poll), so three turns may finish up to six batches
	 * of the memory store's; with 300 triplets (three) a slow turn
	 * finished the walk before the cancel (one run in twenty under the
	 * sanitizers).
	 */
	put_triplets(e, 20 * CTL_BATCH);
	j = ctl_job_start(&e->host, 3, argv, &sink);
	for (turns = 0; turns < 3; turns++)
		uv_run(&e->loop, UV_RUN_ONCE);
	assert_false(o.done);
	ctl_job_cancel(j);
	uv_run(&e->loop, UV_RUN_NOWAIT);
	/* No done() after a cancel; the sanitizer build sees the frees. */
	assert_false(o.done);
}

static void
test_ctl_offline_prometheus_prints_a_long_metrics_file_whole(void **state)
{
	/*
	 * Offline, stats --prometheus prints a fresh metrics file a daemon
	 * wrote as it is; it went through a format of 8 KiB a chunk, so a
	 * file of some size came out cut.
	 */
	struct env *e = *state;
	char dir[] = "/tmp/ctl-prom-XXXXXX", path[64], cmd[64];
	struct outcome *o;
	char *want = xmalloc(12000);
	size_t n = 0;
	FILE *f;
	int i;

	assert_non_null(mkdtemp(dir));
	free(e->cfg->state_dir);
	e->cfg->state_dir = xstrdup(dir);
	for (i = 0; n < 11000; i++)
		n += (size_t)sprintf(want + n, "policyd_x{n=\"%d\"} %d\n", i,
		    i);
	snprintf(path, sizeof(path), "%s/metrics.prom", dir);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(want, 1, n, f), n);
	fclose(f);
	o = run(e, "stats --prometheus");
	assert_int_equal(o->status, 0);
	assert_int_equal(strlen(o->out), n);
	assert_string_equal(o->out, want);
	free(want);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* turns - a uv_check handle counting the loop's turns (its polls) */
static void
turn(uv_check_t *h)
{
	(*(unsigned *)h->data)++;
}

static void
test_ctl_a_walk_lets_the_loop_turn_between_batches(void **state)
{
	/*
	 * On Berkeley DB every operation finishes at once: only the job's
	 * own scheduling lets the loop poll between batches. A timer of 0
	 * ms started from its own callback runs again in the same turn, and
	 * a flush of 100,000 entries stalled every connection for 0.9 s.
	 */
	char dir[] = "/tmp/ctl-test-XXXXXX";
	struct store_opts o = { .cache_bytes = 4u << 20 };
	struct outcome *r;
	unsigned turns = 0;
	uv_check_t check;
	struct env *e = *state;
	struct store *mem = e->st;
	struct why why;
	int err;

	assert_non_null(mkdtemp(dir));
	o.dir = dir;
	e->st = store_open_bdb(&o, &err, &why);
	assert_non_null(e->st);
	e->h.st = e->st;
	put_triplets(e, 1000);
	uv_check_init(&e->loop, &check);
	check.data = &turns;
	uv_check_start(&check, turn);
	r = run(e, "greylist flush --all");
	uv_close((uv_handle_t *)&check, NULL);
	e->st->ops->close(e->st);
	e->st = mem;
	e->h.st = mem;
	{
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
	assert_string_equal(r->out, "deleted 1000 greylist entries\n");
	/* ten batches of 100: the loop polled between them */
	if (turns < 10)
		fail_msg("the loop turned %u times in ten batches", turns);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctl_round_trip_of_awkward_words),
		cmocka_unit_test(test_ctl_malformed_requests_are_named),
		cmocka_unit_test(test_ctl_bounds_of_a_request),
		cmocka_unit_test_setup_teardown(
		    test_ctl_whitelist_on_a_store_that_answers_later, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_ctl_a_bad_argument_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ctl_flush_walks_the_table_in_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ctl_a_cancelled_walk_lets_go_of_everything, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_ctl_a_walk_lets_the_loop_turn_between_batches, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_ctl_offline_prometheus_prints_a_long_metrics_file_whole,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
