/*
 * chk_contract_test - the check interface's contract is enforced: a check
 * that reports twice, or asks more questions than the pipeline keeps, is
 * a bug said loudly (PD_PANIC), never silently absorbed (review B13: a
 * second chk_done() was ignored and the 25th question failed without a
 * word, so fcrdns and helo counted only what they had asked).
 *
 * This program brings its own registry of broken checks: it defines
 * chk_registry, chk_count and chk_find, so registry.o and the real
 * checks are not linked in. Each case runs in a child, which must abort
 * with the message on standard error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "arena.h"
#include "checks/chk.h"
#include "config.h"
#include "dns.h"
#include "request.h"
#include "pipeline.h"
#include "verdict.h"
#include "xalloc.h"

/* twice - reports, then reports again */
static void
twice_start(struct chk_run *run)
{
	chk_done(run, CHK_PASS, "first");
	chk_done(run, CHK_FAIL, "second");
}

static void
ignored(struct chk_run *run, const struct dns_answer *a, void *arg)
{
	(void)run;
	(void)a;
	(void)arg;
}

/* greedy - asks one question more than the pipeline keeps */
static void
greedy_start(struct chk_run *run)
{
	char name[64];
	int i;

	for (i = 0; i <= CHK_DEFAULT_QUERIES; i++) {
		snprintf(name, sizeof(name), "q%d.example.org", i);
		if (chk_query(run, name, DNS_T_A, ignored, NULL, NULL) < 0)
			chk_done(run, CHK_TEMPFAIL, "could not ask");
	}
}

/* polite - asks CHK_DEFAULT_QUERIES questions: allowed */
static void
polite_start(struct chk_run *run)
{
	char name[64];
	int i;

	for (i = 0; i < CHK_DEFAULT_QUERIES; i++) {
		snprintf(name, sizeof(name), "p%d.example.org", i);
		assert_int_equal(chk_query(run, name, DNS_T_A, ignored, NULL, NULL),
		    0);
	}
	chk_done(run, CHK_PASS, "asked %d", CHK_DEFAULT_QUERIES);
}

/* roomy - declares a bound of its own (40) and asks up to it, or one more */
static void
roomy_start(struct chk_run *run)
{
	const char *over = chk_cfg(run)->hostname;
	char name[64];
	int i, n = over != NULL ? 41 : 40;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "r%d.example.org", i);
		if (chk_query(run, name, DNS_T_A, ignored, NULL, NULL) < 0)
			chk_done(run, CHK_TEMPFAIL, "could not ask");
	}
	chk_done(run, CHK_PASS, "asked %d", n);
}

static const struct chk_def twice_def = { .name = "twice", .dsn = "5.7.1",
	.text = "{reason}" };
static const struct chk_ops twice_ops = { .def = &twice_def,
	.start = twice_start };
static const struct chk_def greedy_def = { .name = "greedy", .dsn = "5.7.1",
	.text = "{reason}" };
static const struct chk_ops greedy_ops = { .def = &greedy_def,
	.start = greedy_start };
static const struct chk_def polite_def = { .name = "polite", .dsn = "5.7.1",
	.text = "{reason}" };
static const struct chk_ops polite_ops = { .def = &polite_def,
	.start = polite_start };
static const struct chk_def roomy_def = { .name = "roomy", .dsn = "5.7.1",
	.text = "{reason}", .max_queries = 40 };
static const struct chk_ops roomy_ops = { .def = &roomy_def,
	.start = roomy_start };

const struct chk_ops *const chk_registry[] = { &twice_ops, &greedy_ops,
	&polite_ops, &roomy_ops };
const struct chk_def *const chk_defs[] = { &twice_def, &greedy_def,
	&polite_def, &roomy_def };
const unsigned chk_count = 4;
const unsigned chk_registry_count = 4;

int
chk_find(const char *name)
{
	unsigned i;

	for (i = 0; i < chk_count; i++)
		if (strcmp(chk_defs[i]->name, name) == 0)
			return (int)i;
	return -1;
}

/* run_policy - one request through the pipeline under policy */
static void
run_policy(const char *policy)
{
	const char *attrs[PA_COUNT] = { 0 };
	struct pipeline_env env = { .hostname = "mx.test" };
	struct arena *a = arena_new();
	struct pipeline *p;
	struct verdict v;
	struct why why;
	struct cfg *cfg;
	struct dns *dns;
	uv_loop_t loop;
	struct req req;
	char text[512];

	/* A nameserver on the discard port: nothing ever answers. */
	snprintf(text, sizeof(text), "dns: { nameservers: [127.0.0.1:9] }\n%s",
	    policy);
	cfg = cfg_parse("t.yaml", text, strlen(text), &why);
	if (cfg == NULL)
		fail_msg("%s", why.text);
	attrs[PA_CLIENT_ADDRESS] = "192.0.2.1";
	assert_int_equal(req_build(&req, a, attrs, &cfg->net, NULL), 0);
	uv_loop_init(&loop);
	dns = dns_new(&loop, &cfg->dns, &why);
	assert_non_null(dns);
	if (pipeline_decide(&loop, cfg, dns, &req, &env, NULL, NULL, &p,
	    &v) == 0)
		pipeline_cancel(p);
	dns_close(dns);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	cfg_unref(cfg);
	arena_free(a);
}

/* dies_saying - run policy in a child: it must abort, saying what */
static void
dies_saying(const char *policy, const char *what)
{
	char buf[4096];
	int pfd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 2);
		close(pfd[0]);
		signal(SIGABRT, SIG_DFL);
		run_policy(policy);
		_exit(0);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
		fail_msg("the broken check went unnoticed (status %d): %s",
		    status, buf);
	if (strstr(buf, what) == NULL)
		fail_msg("the panic does not say \"%s\": %s", what, buf);
}

static void
test_chk_done_twice_is_a_panic(void **state)
{
	(void)state;
	dies_saying("checks:\n  twice: {}\n",
	    "check twice: chk_done() called twice");
}

static void
test_chk_too_many_questions_is_a_panic(void **state)
{
	(void)state;
	dies_saying("checks:\n  greedy: {}\n",
	    "check greedy: more than 24 DNS questions at once");
}

static void
test_chk_questions_up_to_the_bound_are_fine(void **state)
{
	(void)state;
	run_policy("checks:\n  polite: {}\n");
}

/* A check that needs more (a list of blocklists) says so in its ops. */
static void
test_chk_declared_bound_is_the_bound(void **state)
{
	(void)state;
	run_policy("checks:\n  roomy: {}\n");
	dies_saying("hostname: over.example\nchecks:\n  roomy: {}\n",
	    "check roomy: more than 40 DNS questions at once");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chk_done_twice_is_a_panic),
		cmocka_unit_test(test_chk_too_many_questions_is_a_panic),
		cmocka_unit_test(test_chk_declared_bound_is_the_bound),
		cmocka_unit_test(test_chk_questions_up_to_the_bound_are_fine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
