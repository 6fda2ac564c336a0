/*
 * metrics_test - the Prometheus text of the daemon's figures: label
 * escaping, the bound on series, the histogram, the action classes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backscatter.h"
#include "dnsbl_rec.h"
#include "metrics.h"
#include "store.h"
#include "verdict.h"
#include "xalloc.h"

static void
test_metrics_label_values_escaped(void **state)
{
	struct mtext t = { NULL, 0, 0 };
	const char *l[] = { "rule", "a \"quoted\" \\ rule\nend" };

	(void)state;
	mt_sample(&t, "policyd_x_total", l, 1, 3);
	assert_string_equal(t.p, "policyd_x_total{rule=\"a \\\"quoted\\\" "
				 "\\\\ rule\\nend\"} 3\n");
	mt_free(&t);
}

static void
test_metrics_decisions_and_histogram(void **state)
{
	struct metrics *m = metrics_new();
	struct chk_report r[] = { { .name = "rdns", .status = "fail" },
		{ .name = "helo", .status = "pass" } };
	struct verdict v = { .action = "550 5.7.25 no PTR",
		.rule = "check:rdns", .reports = r, .nreports = 2 };
	struct verdict ok = { .action = "DUNNO", .rule = "default" };
	struct verdict gl = { .action = "DEFER_IF_PERMIT 4.7.1 Greylisted",
		.rule = "greylist:new(wait=300s,spf:example.org)" };
	struct verdict wl = { .action = "DUNNO",
		.rule = "whitelist:a@our.example<-b@their.example" };
	struct mtext t = { NULL, 0, 0 };

	(void)state;
	metrics_decision(m, &v, 30000);   /* 30 ms */
	metrics_decision(m, &v, 700);     /* 0.7 ms */
	metrics_decision(m, &ok, 2000000); /* 2 s */
	metrics_decision(m, &gl, 100);
	metrics_decision(m, &wl, 100);
	metrics_malformed(m);
	metrics_write(m, &t);
	assert_non_null(strstr(t.p, "policyd_decisions_total{action=\"reject\","
				    "rule=\"check:rdns\"} 2\n"));
	assert_non_null(strstr(t.p, "policyd_decisions_total{action=\"accept\","
				    "rule=\"default\"} 1\n"));
	assert_non_null(strstr(t.p, "policyd_decisions_total{action=\"defer\","
				    "rule=\"greylist:new\"} 1\n"));
	assert_non_null(strstr(t.p, "policyd_decisions_total{action=\"accept\","
				    "rule=\"whitelist\"} 1\n"));
	assert_non_null(strstr(t.p, "policyd_checks_total{check=\"rdns\","
				    "result=\"fail\"} 2\n"));
	assert_non_null(strstr(t.p, "policyd_malformed_requests_total 1\n"));
	assert_non_null(strstr(t.p, "policyd_request_duration_seconds_bucket"
				    "{le=\"0.001\"} 3\n"));
	assert_non_null(strstr(t.p, "policyd_request_duration_seconds_bucket"
				    "{le=\"0.05\"} 4\n"));
	assert_non_null(strstr(t.p, "policyd_request_duration_seconds_bucket"
				    "{le=\"1\"} 4\n"));
	assert_non_null(strstr(t.p, "policyd_request_duration_seconds_bucket"
				    "{le=\"2.5\"} 5\n"));
	assert_non_null(strstr(t.p, "policyd_request_duration_seconds_bucket"
				    "{le=\"+Inf\"} 5\n"));
	assert_non_null(strstr(t.p, "policyd_request_duration_seconds_count 5\n"));
	assert_non_null(strstr(t.p, "# TYPE policyd_request_duration_seconds "
				    "histogram\n"));
	mt_free(&t);
	metrics_free(m);
}

static void
test_metrics_many_rule_names_bounded(void **state)
{
	struct metrics *m = metrics_new();
	struct mtext t = { NULL, 0, 0 };
	char name[32];
	const char *p;
	size_t i, n = 0;

	(void)state;
	for (i = 0; i < 1000; i++) {
		struct verdict v = { .action = "OK", .rule = name };

		snprintf(name, sizeof(name), "access[r%zu]", i);
		metrics_decision(m, &v, 10);
	}
	metrics_write(m, &t);
	for (p = t.p; (p = strstr(p, "\npolicyd_decisions_total{")) != NULL;
	    p++)
		n++;
	assert_true(n <= 129);
	assert_non_null(strstr(t.p, "policyd_decisions_total{action=\"accept\","
				    "rule=\"other\"} 872\n"));
	mt_free(&t);
	/* Past the bound, each action class keeps its own "other". */
	{
		struct verdict v = { .action = "REJECT no", .rule = "r-x" };

		metrics_decision(m, &v, 10);
		metrics_decision(m, &v, 10);
	}
	metrics_write(m, &t);
	assert_non_null(strstr(t.p, "policyd_decisions_total{action=\"reject\","
				    "rule=\"other\"} 2\n"));
	assert_non_null(strstr(t.p, "policyd_decisions_total{action=\"accept\","
				    "rule=\"other\"} 872\n"));
	mt_free(&t);
	metrics_free(m);
}

static void
test_metrics_action_classes(void **state)
{
	(void)state;
	assert_string_equal(metrics_action_class("OK"), "accept");
	assert_string_equal(metrics_action_class("DUNNO"), "accept");
	assert_string_equal(metrics_action_class("PREPEND X-A: b"), "accept");
	assert_string_equal(metrics_action_class("DEFER_IF_REJECT x"),
	    "accept");
	assert_string_equal(metrics_action_class("REJECT x"), "reject");
	assert_string_equal(metrics_action_class("554 5.7.1 x"), "reject");
	assert_string_equal(metrics_action_class("451 4.7.24 x"), "defer");
	assert_string_equal(metrics_action_class("DEFER_IF_PERMIT x"), "defer");
}

static void
test_metrics_a_suspended_list_shows_its_state(void **state)
{
	/*
	 * The breaker suspends a list that lists nearly every client; the
	 * state gauge had no "suspended" series, so such a list showed 0 in
	 * every state (policyctl stats --prometheus offline, and the
	 * daemon's file).
	 */
	char dir[] = "/tmp/metrics-test-XXXXXX", cmd[64], val[512];
	struct store_opts o = { .cache_bytes = 4u << 20 };
	struct bl_rec r = { .name = "BL", .state = "suspended", .why = "x",
		.since = 1000, .lookups = 20, .hits = 19 };
	struct store_rec rec = { "BL", 2, val, 0, 0, NULL };
	struct mtext t = { NULL, 0, 0 };
	struct store_waiter w;
	struct store *st;
	struct why why;
	int err;

	(void)state;
	assert_non_null(mkdtemp(dir));
	o.dir = dir;
	assert_non_null(st = store_open_bdb(&o, &err, &why));
	rec.vlen = bl_rec_encode(&r, val, sizeof(val));
	store_waiter_init(&w, NULL);
	assert_int_equal(store_wait(&w, st->ops->put(st, BL_TABLE, &rec, 1,
	    &w.call)), 0);
	assert_int_equal(metrics_state(st, 2000, true, &t, &why), 0);
	assert_non_null(strstr(t.p, "policyd_dnsbl_list_state{list=\"BL\","
	    "state=\"suspended\"} 1\n"));
	assert_non_null(strstr(t.p, "policyd_dnsbl_list_state{list=\"BL\","
	    "state=\"ok\"} 0\n"));
	assert_non_null(strstr(t.p, "policyd_dnsbl_lookups_total{list=\"BL\","
	    "outcome=\"listed\"} 19\n"));
	mt_free(&t);
	/* Without the lists: the daemon's module gives them. */
	assert_int_equal(metrics_state(st, 2000, false, &t, &why), 0);
	assert_null(strstr(t.p, "policyd_dnsbl"));
	mt_free(&t);
	st->ops->close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* blocked - the gauge of blocks in a round of metrics_state at now */
static double
blocked(struct store *st, int64_t now)
{
	struct mtext t = { NULL, 0, 0 };
	struct why why;
	const char *p;
	double v;

	assert_int_equal(metrics_state(st, now, false, &t, &why), 0);
	assert_non_null(p = strstr(t.p, "\npolicyd_backscatter_blocked "));
	v = strtod(p + strlen("\npolicyd_backscatter_blocked "), NULL);
	mt_free(&t);
	return v;
}

/* put_block - a block record of addr until until, written behind the
 * tracker's back (another host, or policyctl offline) */
static void
put_block(struct store *st, const char *addr, int64_t until)
{
	unsigned char val[STORE_VAL_MAX];
	char key[64];
	struct bs_rec b;
	struct store_rec rec;
	struct store_waiter w;

	memset(&b, 0, sizeof(b));
	b.first = b.last = b.since = until - 100;
	b.until = until;
	rec = (struct store_rec){ key, bs_key(key, sizeof(key), addr), val,
		bs_rec_encode(&b, val), until + 86400, NULL };
	store_waiter_init(&w, NULL);
	assert_int_equal(store_wait(&w, st->ops->put(st, BS_TABLE, &rec, 1,
	    &w.call)), 0);
}

static void
test_metrics_blocks_are_counted_without_a_walk_each_round(void **state)
{
	/*
	 * The gauge of blocked clients walked the whole backscatter table
	 * every metrics round. Now one walk loads it, hourly; between
	 * walks, it follows the changes this process makes.
	 */
	char dir[] = "/tmp/metrics-test-XXXXXX", cmd[64], key[64];
	struct store_opts o = { .cache_bytes = 4u << 20 };
	struct store *st;
	struct why why;
	int err;

	(void)state;
	bs_blocks_reset();
	assert_non_null(mkdtemp(dir));
	o.dir = dir;
	assert_non_null(st = store_open_bdb(&o, &err, &why));
	put_block(st, "192.0.2.1", 9000);
	put_block(st, "192.0.2.2", 1500); /* ended by 2000 */
	/* The first round walks. */
	assert_true(blocked(st, 2000) == 1);
	/* A record written behind its back is not walked for again... */
	put_block(st, "192.0.2.3", 9000);
	assert_true(blocked(st, 2010) == 1);
	/* ... but a change this process makes is counted at once. */
	bs_blocks_note(key, bs_key(key, sizeof(key), "192.0.2.4"), 4000);
	assert_true(blocked(st, 2020) == 2);
	bs_blocks_note(key, bs_key(key, sizeof(key), "192.0.2.4"), 0);
	assert_true(blocked(st, 2030) == 1);
	/* A block ends by its time. */
	bs_blocks_note(key, bs_key(key, sizeof(key), "192.0.2.5"), 2100);
	assert_true(blocked(st, 2040) == 2);
	assert_true(blocked(st, 2100) == 1);
	/* An hour after the first walk, another finds what others wrote. */
	assert_true(blocked(st, 2000 + 3600) == 2);
	st->ops->close(st);
	bs_blocks_reset();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_label_values_escaped),
		cmocka_unit_test(test_metrics_decisions_and_histogram),
		cmocka_unit_test(test_metrics_many_rule_names_bounded),
		cmocka_unit_test(test_metrics_action_classes),
		cmocka_unit_test(test_metrics_a_suspended_list_shows_its_state),
		cmocka_unit_test(
		    test_metrics_blocks_are_counted_without_a_walk_each_round),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
