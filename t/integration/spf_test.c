/*
 * spf_test - the SPF evaluator on a real loop against dnsd: every
 * mechanism and modifier, macros in queries and explanations, and each
 * way to a none, neutral, permerror or temperror.
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

#include "dns.h"
#include "dnsd_run.h"
#include "spf.h"
#include "xalloc.h"

/* on_resolver - the evaluator asks the resolver itself */
static const struct spf_resolver *
on_resolver(struct dns *dns)
{
	static struct spf_resolver r;

	spf_resolver_dns(&r, dns);
	return &r;
}

static const char zone[] =
    "ip4.example. 300 IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
    "ip6.example. 300 IN TXT \"v=spf1 ip6:2001:db8::/32 -all\"\n"
    "a.example. 300 IN TXT \"v=spf1 a -all\"\n"
    "a.example. 300 IN A 192.0.2.10\n"
    "acidr.example. 300 IN TXT \"v=spf1 a:a.example/28 -all\"\n"
    "mx.example. 300 IN TXT \"v=spf1 mx/24 -all\"\n"
    "mx.example. 300 IN MX 10 mail.mx.example.\n"
    "mail.mx.example. 300 IN A 198.51.100.1\n"
    "inc.example. 300 IN TXT \"v=spf1 include:sub.example -all\"\n"
    "sub.example. 300 IN TXT \"v=spf1 ip4:203.0.113.0/24 -all\"\n"
    "redir.example. 300 IN TXT \"v=spf1 redirect=target.example\"\n"
    "target.example. 300 IN TXT \"v=spf1 ip4:203.0.113.5 ~all\"\n"
    "exists.example. 300 IN TXT \"v=spf1 exists:%{i}.ok.exists.example "
    "-all\"\n"
    "192.0.2.77.ok.exists.example. 300 IN A 127.0.0.2\n"
    "ptr.example. 300 IN TXT \"v=spf1 ptr -all\"\n"
    "25.2.0.192.in-addr.arpa. 300 IN PTR mail.ptr.example.\n"
    "mail.ptr.example. 300 IN A 192.0.2.25\n"
    "pmacro.example. 300 IN TXT \"v=spf1 exists:%{p}.pm.example -all\"\n"
    "mail.ptr.example.pm.example. 300 IN A 127.0.0.2\n"
    "exp.example. 300 IN TXT \"v=spf1 -all exp=why.exp.example\"\n"
    "why.exp.example. 300 IN TXT \"%{i} is not allowed to send for %{d}\"\n"
    "neutral.example. 300 IN TXT \"v=spf1 ?all\"\n"
    "empty.example. 300 IN TXT \"v=spf1\"\n"
    "none.example. 300 IN A 192.0.2.1\n"
    "other-txt.example. 300 IN TXT \"google-site-verification=x\"\n"
    "two.example. 300 IN TXT \"v=spf1 -all\"\n"
    "two.example. 300 IN TXT \"v=spf1 +all\"\n"
    "syntax.example. 300 IN TXT \"v=spf1 foo -all\"\n"
    "!servfail temp.example.\n"
    "loop.example. 300 IN TXT \"v=spf1 include:loop.example -all\"\n"
    "many.example. 300 IN TXT \"v=spf1 a:x1.example a:x2.example "
    "a:x3.example a:x4.example a:x5.example a:x6.example a:x7.example "
    "a:x8.example a:x9.example a:x10.example a:x11.example -all\"\n"
    "void.example. 300 IN TXT \"v=spf1 a:nx1.void.example a:nx2.void.example "
    "a:nx3.void.example -all\"\n"
    "incnone.example. 300 IN TXT \"v=spf1 include:none.example -all\"\n"
    "redirnone.example. 300 IN TXT \"v=spf1 redirect=none.example\"\n"
    "inctemp.example. 300 IN TXT \"v=spf1 include:temp.example -all\"\n"
    "softinc.example. 300 IN TXT \"v=spf1 include:neutral.example ~all\"\n"
    "longexp.example. 300 IN TXT \"v=spf1 exists:%{d}.%{d}.%{d}.%{d}."
    "%{d}.%{d}.%{d}.%{d}.%{d}.%{d}.%{d}.%{d}.%{d}.%{d}.%{d}.%{d}.%{d} "
    "-all\"\n"
    "x1.example. 300 IN A 10.0.0.1\n"
    "x2.example. 300 IN A 10.0.0.2\n"
    "x3.example. 300 IN A 10.0.0.3\n"
    "x4.example. 300 IN A 10.0.0.4\n"
    "x5.example. 300 IN A 10.0.0.5\n"
    "x6.example. 300 IN A 10.0.0.6\n"
    "x7.example. 300 IN A 10.0.0.7\n"
    "x8.example. 300 IN A 10.0.0.8\n"
    "x9.example. 300 IN A 10.0.0.9\n"
    "x10.example. 300 IN A 10.0.0.10\n"
    "x11.example. 300 IN A 10.0.0.11\n"
    /*
     * Stale answers (review B1): a non-pass mx (or ptr) term inside an
     * include ends on its first matching name; the answer for the other
     * name comes later, while the parent is in its next include.
     */
    "crash.example. 300 IN TXT \"v=spf1 include:a.crash.example "
    "include:b.crash.example -all\"\n"
    "a.crash.example. 300 IN TXT \"v=spf1 -mx ?all\"\n"
    "a.crash.example. 300 IN MX 10 mx1.a.crash.example.\n"
    "a.crash.example. 300 IN MX 20 mx2.a.crash.example.\n"
    "mx1.a.crash.example. 300 IN A 192.0.2.40\n"
    "mx2.a.crash.example. 300 IN A 198.51.100.40\n"
    "!delay mx2.a.crash.example. 200\n"
    "b.crash.example. 300 IN TXT \"v=spf1 ?all\"\n"
    "!delay b.crash.example. 280\n"
    "ptrcrash.example. 300 IN TXT \"v=spf1 include:a.ptrcrash.example "
    "include:c.falsefail.example -all\"\n"
    "a.ptrcrash.example. 300 IN TXT \"v=spf1 -ptr ?all\"\n"
    "41.2.0.192.in-addr.arpa. 300 IN PTR h1.a.ptrcrash.example.\n"
    "41.2.0.192.in-addr.arpa. 300 IN PTR h2.a.ptrcrash.example.\n"
    "h1.a.ptrcrash.example. 300 IN A 192.0.2.41\n"
    "h2.a.ptrcrash.example. 300 IN A 192.0.2.41\n"
    "!delay h2.a.ptrcrash.example. 200\n"
    /* The next include has its record: the stale answer ends its term. */
    "falsefail.example. 300 IN TXT \"v=spf1 include:a.crash.example "
    "include:c.falsefail.example -all\"\n"
    "c.falsefail.example. 300 IN TXT \"v=spf1 a:slow.falsefail.example "
    "-all\"\n"
    "slow.falsefail.example. 300 IN A 192.0.2.40\n"
    "slow.falsefail.example. 300 IN A 192.0.2.41\n"
    "!delay slow.falsefail.example. 400\n"
    /* CNAME loops: DNS trouble (temperror), never "no record". */
    "cnameloop.example. 300 IN CNAME l2.cnameloop.example.\n"
    "l2.cnameloop.example. 300 IN CNAME cnameloop.example.\n"
    "incloop.example. 300 IN TXT \"v=spf1 include:cnameloop.example "
    "-all\"\n"
    "aloop.example. 300 IN TXT \"v=spf1 a:cnameloop.example -all\"\n";

static struct {
	struct dnsd_run d;
	uv_loop_t loop;
	struct dns *dns;
} E;

static int
setup(void **state)
{
	char srv[64];
	struct dns_opts o;

	(void)state;
	memset(&E, 0, sizeof(E));
	uv_loop_init(&E.loop);
	assert_int_equal(dnsd_run_start(&E.d, zone, NULL), 0);
	dns_opts_defaults(&o);
	o.timeout_ms = 500;
	o.tries = 1;
	snprintf(srv, sizeof(srv), "127.0.0.1:%d", E.d.port);
	dns_server_parse(srv, &o.servers[o.nservers++], NULL);
	E.dns = dns_new(&E.loop, &o, NULL);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	dns_close(E.dns);
	uv_run(&E.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&E.loop), 0);
	dnsd_run_stop(&E.d);
	return 0;
}

struct got {
	int calls;
	enum spf_result r;
	char expl[512];
	char why[256];
};

static void
on_done(void *arg, enum spf_result r, const char *expl, const char *why)
{
	struct got *g = arg;

	g->calls++;
	g->r = r;
	snprintf(g->expl, sizeof(g->expl), "%s", expl ? expl : "");
	snprintf(g->why, sizeof(g->why), "%s", why ? why : "");
}

/* start - begin an evaluation that reports into g; 1: decided at once */
static int
start(struct got *g, const char *client, const char *domain,
    struct spf_check **cp)
{
	struct spf_params p = { 0 };
	enum spf_result now;
	struct ipaddr ip;
	char sender[300];
	int rc;

	memset(g, 0, sizeof(*g));
	assert_int_equal(addr_parse(client, &ip), 0);
	snprintf(sender, sizeof(sender), "user@%s", domain);
	p.ip = &ip;
	p.sender = sender;
	p.domain = domain;
	p.helo = "mx.client.example";
	p.receiver = "mx.our.example";
	rc = spf_check(on_resolver(E.dns), &p, on_done, g, cp, &now);
	if (rc == 1) {
		g->r = now;
		g->calls = 1;
		return 1;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(g->calls, 0);
	return 0;
}

/* check_into - evaluate and wait for the result, reported into g */
static void
check_into(struct got *g, const char *client, const char *domain)
{
	struct spf_check *c;

	if (start(g, client, domain, &c) == 1)
		return;
	while (g->calls == 0)
		uv_run(&E.loop, UV_RUN_ONCE);
	assert_int_equal(g->calls, 1);
}

static struct got
check(const char *client, const char *domain)
{
	struct got g;

	check_into(&g, client, domain);
	return g;
}

static void
on_timer(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

/* run_for - run the loop for ms milliseconds */
static void
run_for(uint64_t ms)
{
	uv_timer_t t;
	bool fired = false;

	uv_timer_init(&E.loop, &t);
	t.data = &fired;
	uv_timer_start(&t, on_timer, ms, 0);
	while (!fired)
		uv_run(&E.loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&E.loop, UV_RUN_NOWAIT);
}

static const struct {
	const char *label, *client, *domain;
	enum spf_result want;
	const char *why; /* substring, or NULL */
} cases[] = {
	{ "ip4 in", "192.0.2.9", "ip4.example", SPF_PASS, NULL },
	{ "ip4 out", "198.51.100.9", "ip4.example", SPF_FAIL, NULL },
	{ "ip6 in", "2001:db8::1", "ip6.example", SPF_PASS, NULL },
	{ "ip6 does not match an IPv4 client", "192.0.2.1", "ip6.example",
	    SPF_FAIL, NULL },
	{ "a", "192.0.2.10", "a.example", SPF_PASS, NULL },
	{ "a other", "192.0.2.11", "a.example", SPF_FAIL, NULL },
	{ "a with cidr", "192.0.2.11", "acidr.example", SPF_PASS, NULL },
	{ "mx with cidr", "198.51.100.200", "mx.example", SPF_PASS, NULL },
	{ "mx other", "198.51.101.1", "mx.example", SPF_FAIL, NULL },
	{ "include pass", "203.0.113.9", "inc.example", SPF_PASS, NULL },
	{ "include fail is no match", "192.0.2.1", "inc.example", SPF_FAIL,
	    NULL },
	{ "redirect", "203.0.113.5", "redir.example", SPF_PASS, NULL },
	{ "redirect's all", "203.0.113.6", "redir.example", SPF_SOFTFAIL,
	    NULL },
	{ "exists with a macro", "192.0.2.77", "exists.example", SPF_PASS,
	    NULL },
	{ "exists nothing", "192.0.2.78", "exists.example", SPF_FAIL, NULL },
	{ "ptr validated", "192.0.2.25", "ptr.example", SPF_PASS, NULL },
	{ "ptr none", "192.0.2.26", "ptr.example", SPF_FAIL, NULL },
	{ "p macro", "192.0.2.25", "pmacro.example", SPF_PASS, NULL },
	{ "neutral", "192.0.2.1", "neutral.example", SPF_NEUTRAL, NULL },
	{ "empty record", "192.0.2.1", "empty.example", SPF_NEUTRAL, NULL },
	{ "no record", "192.0.2.1", "none.example", SPF_NONE, NULL },
	{ "other TXT only", "192.0.2.1", "other-txt.example", SPF_NONE, NULL },
	{ "no such domain", "192.0.2.1", "nx.example", SPF_NONE, NULL },
	{ "not a domain", "192.0.2.1", "localhost", SPF_NONE, NULL },
	{ "two records", "192.0.2.1", "two.example", SPF_PERMERROR,
	    "2 SPF records" },
	{ "syntax", "192.0.2.1", "syntax.example", SPF_PERMERROR,
	    "unknown mechanism" },
	{ "SERVFAIL", "192.0.2.1", "temp.example", SPF_TEMPERROR, "SERVFAIL" },
	{ "include loop", "192.0.2.1", "loop.example", SPF_PERMERROR, NULL },
	{ "more than 10 lookups", "192.0.2.1", "many.example", SPF_PERMERROR,
	    "more than 10 DNS lookups" },
	{ "more than 2 void lookups", "192.0.2.1", "void.example",
	    SPF_PERMERROR, "more than 2 void lookups" },
	{ "include of none", "192.0.2.1", "incnone.example", SPF_PERMERROR,
	    "no SPF record" },
	{ "redirect to none", "192.0.2.1", "redirnone.example", SPF_PERMERROR,
	    "no SPF record" },
	{ "include of a temperror", "192.0.2.1", "inctemp.example",
	    SPF_TEMPERROR, NULL },
	{ "a target longer than 253 octets is cut from the left (7.3)",
	    "192.0.2.1", "longexp.example", SPF_FAIL, "fail matched a term" },
	{ "include's neutral is no match", "192.0.2.1", "softinc.example",
	    SPF_SOFTFAIL, NULL },
	{ "a record behind a CNAME loop is a temperror, not none",
	    "192.0.2.1", "cnameloop.example", SPF_TEMPERROR,
	    "CNAME chain loops after 2 hops" },
	{ "an include behind a CNAME loop is a temperror", "192.0.2.1",
	    "incloop.example", SPF_TEMPERROR, "CNAME chain loops" },
	{ "an a: target behind a CNAME loop is a temperror", "192.0.2.1",
	    "aloop.example", SPF_TEMPERROR, "CNAME chain loops" },
};

/*
 * Answers that come after their term ended (review B1). Each case runs on
 * a fresh resolver (nothing cached), so the delays line up as in the
 * report: the other MX (or PTR) name answers while the parent waits for
 * its next include.
 */
static const struct {
	const char *label, *client, *domain;
	enum spf_result want;
	const char *why;
} stale_cases[] = {
	{ "a late answer of an ended mx term does not crash the next include",
	    "192.0.2.40", "crash.example", SPF_FAIL, "fail matched a term of "
	    "crash.example" },
	{ "a late answer of an ended ptr term does not end the next include's "
	  "term (false fail)", "192.0.2.41", "ptrcrash.example", SPF_PASS,
	    "pass matched a term of ptrcrash.example" },
	{ "a late answer of an ended mx term does not end the next include's "
	  "term (false fail)", "192.0.2.40", "falsefail.example", SPF_PASS,
	    "pass matched a term of falsefail.example" },
};

static void
test_spf_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		struct got g;

		print_message("case: %s\n", cases[i].label);
		g = check(cases[i].client, cases[i].domain);
		if (g.r != cases[i].want)
			fail_msg("%s: %s, want %s (%s)", cases[i].label,
			    spf_result_name(g.r),
			    spf_result_name(cases[i].want), g.why);
		if (cases[i].why && strstr(g.why, cases[i].why) == NULL)
			fail_msg("%s: why \"%s\" lacks \"%s\"", cases[i].label,
			    g.why, cases[i].why);
	}
}

/* fresh_dns - a new resolver, so that no answer comes from the cache */
static void
fresh_dns(void)
{
	char srv[64];
	struct dns_opts o;

	dns_close(E.dns);
	uv_run(&E.loop, UV_RUN_DEFAULT);
	dns_opts_defaults(&o);
	o.timeout_ms = 2000;
	o.tries = 1;
	snprintf(srv, sizeof(srv), "127.0.0.1:%d", E.d.port);
	dns_server_parse(srv, &o.servers[o.nservers++], NULL);
	E.dns = dns_new(&E.loop, &o, NULL);
}

static void
test_spf_late_answers_of_ended_terms(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(stale_cases); i++) {
		static struct got g; /* late callbacks would still land here */

		print_message("case: %s\n", stale_cases[i].label);
		fresh_dns();
		check_into(&g, stale_cases[i].client, stale_cases[i].domain);
		if (g.r != stale_cases[i].want)
			fail_msg("%s: %s, want %s (%s)", stale_cases[i].label,
			    spf_result_name(g.r),
			    spf_result_name(stale_cases[i].want), g.why);
		if (strstr(g.why, stale_cases[i].why) == NULL)
			fail_msg("%s: why \"%s\" lacks \"%s\"",
			    stale_cases[i].label, g.why, stale_cases[i].why);
		/* The late answers still arrive: nothing may act on them. */
		run_for(500);
		assert_int_equal(g.calls, 1);
	}
}

static void
test_spf_explanation(void **state)
{
	struct got g;

	(void)state;
	g = check("192.0.2.99", "exp.example");
	if (g.r != SPF_FAIL)
		fail_msg("%s (%s)", spf_result_name(g.r), g.why);
	assert_string_equal(g.expl, "192.0.2.99 is not allowed to send for "
				    "exp.example");
	g = check("198.51.100.99", "ip4.example");
	assert_int_equal(g.r, SPF_FAIL);
	assert_string_equal(g.expl, "");
}

static void
test_spf_cancel(void **state)
{
	struct spf_params p = { 0 };
	struct got g = { 0 };
	struct spf_check *c;
	enum spf_result now;
	struct ipaddr ip;

	(void)state;
	addr_parse("192.0.2.1", &ip);
	p.ip = &ip;
	p.sender = "a@mx.example";
	p.domain = "mx.example";
	assert_int_equal(spf_check(on_resolver(E.dns), &p, on_done, &g, &c, &now), 0);
	spf_cancel(c);
	uv_run(&E.loop, UV_RUN_DEFAULT);
	assert_int_equal(g.calls, 0);
}

/*
 * A cancel in the middle of an evaluation, with answers in flight: the
 * first MX name has answered and ended its term, the second name's answer
 * and the next include's record are still on the way.
 */
static void
test_spf_cancel_with_answers_in_flight(void **state)
{
	static struct got g;
	struct spf_check *c;
	struct dns_stats before, after;

	(void)state;
	fresh_dns();
	assert_int_equal(start(&g, "192.0.2.40", "crash.example", &c), 0);
	run_for(100); /* TXT, a's TXT, MX, mx1: answered; mx2, b: delayed */
	dns_get_stats(E.dns, &before);
	assert_true(before.sent >= 5);
	assert_int_equal(g.calls, 0);
	spf_cancel(c);
	run_for(500); /* the delayed answers arrive and are dropped */
	dns_get_stats(E.dns, &after);
	assert_int_equal(g.calls, 0);
	assert_int_equal(after.sent, before.sent); /* nothing asked since */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_spf_cases, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_spf_explanation, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_spf_cancel, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_spf_late_answers_of_ended_terms, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_spf_cancel_with_answers_in_flight, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
