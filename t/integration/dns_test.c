/*
 * dns_test - the real resolver on a real loop against dnsd on 127.0.0.1:
 * every scripted fault, TCP after truncation, spoofed answers ignored,
 * questions shared in flight, the cache handing over on a later turn,
 * cancellation, 1,000 questions at once, a dead server skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "dns.h"
#include "dnsd_run.h"
#include "xalloc.h"

static const char zone[] =
    "example.org. 3600 IN SOA ns.example.org. h.example.org. 1 2 3 4 300\n"
    "mail.example.org. 300 IN A 192.0.2.25\n"
    "mail.example.org. 300 IN AAAA 2001:db8::25\n"
    "www.example.org. 300 IN CNAME mail.example.org.\n"
    "example.org. 300 IN MX 10 mail.example.org.\n"
    "example.org. 300 IN TXT \"v=spf1 \" \"ip4:192.0.2.0/24 -all\"\n"
    "25.2.0.192.in-addr.arpa. 300 IN PTR mail.example.org.\n"
    "servfail.example.org. 300 IN A 192.0.2.1\n"
    "!servfail servfail.example.org.\n"
    "!refused refused.example.org.\n"
    "!drop drop.example.org.\n"
    "slow.example.org. 300 IN A 192.0.2.2\n"
    "!delay slow.example.org. 100\n"
    "tooslow.example.org. 300 IN A 192.0.2.3\n"
    "!delay tooslow.example.org. 700\n"
    "big.example.org. 300 IN A 192.0.2.4\n"
    "!tc big.example.org.\n"
    "wrongid.example.org. 300 IN A 192.0.2.5\n"
    "!wrongid wrongid.example.org.\n"
    "spoof.example.org. 300 IN A 192.0.2.6\n"
    "!spoof spoof.example.org.\n"
    "!garbage garbage.example.org.\n"
    "nodata.example.org. 300 IN A 192.0.2.7\n"
    "odd\\032name%.example.org. 300 IN A 192.0.2.9\n"
    "!nodata nodata.example.org.\n";

struct env {
	struct dnsd_run d;
	int port;
	uv_loop_t loop;
	struct dns *dns;
};

static struct env E;

/* start_dnsd - dnsd with the zone and extra lines */
static void
start_dnsd(const char *extra)
{
	assert_int_equal(dnsd_run_start(&E.d, zone, extra), 0);
	E.port = E.d.port;
}

/* new_dns - a resolver at dnsd, with short timeouts */
static struct dns *
new_dns(uint64_t timeout_ms, unsigned tries, const char *first_server)
{
	struct dns_opts o;
	char srv[64];
	struct why why;
	struct dns *dns;

	dns_opts_defaults(&o);
	o.timeout_ms = timeout_ms;
	o.tries = tries;
	o.limit_ms = 5000;
	if (first_server)
		assert_int_equal(dns_server_parse(first_server,
				     &o.servers[o.nservers++], NULL), 0);
	snprintf(srv, sizeof(srv), "127.0.0.1:%d", E.port);
	assert_int_equal(dns_server_parse(srv, &o.servers[o.nservers++], NULL),
	    0);
	dns = dns_new(&E.loop, &o, &why);
	if (dns == NULL)
		fail_msg("%s", why.text);
	return dns;
}

static int
setup(void **state)
{
	(void)state;
	memset(&E, 0, sizeof(E));
	uv_loop_init(&E.loop);
	start_dnsd(NULL);
	E.dns = new_dns(300, 2, NULL);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	dns_close(E.dns);
	uv_run(&E.loop, UV_RUN_DEFAULT);
	/* Every handle is closed: nothing leaks past the loop. */
	assert_int_equal(uv_loop_close(&E.loop), 0);
	dnsd_run_stop(&E.d);
	return 0;
}

/* One answer as the tests keep it. */
struct got {
	int calls;
	enum dns_status status;
	size_t n;
	char first[128];
	char why[200];
	uint32_t ttl;
};

static void
on_answer(void *arg, const struct dns_answer *a)
{
	struct got *g = arg;

	g->calls++;
	g->status = a->status;
	g->n = a->n;
	g->ttl = a->ttl;
	snprintf(g->why, sizeof(g->why), "%s", a->why ? a->why : "");
	g->first[0] = '\0';
	if (a->n > 0) {
		const struct dns_rr *rr = &a->rr[0];

		if (rr->type == DNS_T_A || rr->type == DNS_T_AAAA)
			addr_format(&rr->addr, g->first, sizeof(g->first));
		else if (rr->type == DNS_T_MX)
			snprintf(g->first, sizeof(g->first), "%u %s", rr->pref,
			    rr->text);
		else
			snprintf(g->first, sizeof(g->first), "%s", rr->text);
	}
}

/* ask - one question, run the loop until it is answered */
static struct got
ask(const char *name, uint16_t type)
{
	struct got g = { 0 };

	assert_int_equal(dns_query(E.dns, name, type, on_answer, &g, NULL), 0);
	assert_int_equal(g.calls, 0); /* never from inside the call */
	while (g.calls == 0)
		uv_run(&E.loop, UV_RUN_ONCE);
	assert_int_equal(g.calls, 1);
	return g;
}

/* queries_for - lines of the query log naming name */
static int
queries_for(const char *name)
{
	return dnsd_run_queries(&E.d, name);
}

static const struct {
	const char *label;
	const char *name;
	uint16_t type;
	enum dns_status want;
	const char *first; /* first record, or a substring of why */
} cases[] = {
	{ "A", "mail.example.org", DNS_T_A, DNS_OK, "192.0.2.25" },
	{ "AAAA", "mail.example.org", DNS_T_AAAA, DNS_OK, "2001:db8::25" },
	{ "CNAME followed", "WWW.Example.Org.", DNS_T_A, DNS_OK,
	    "192.0.2.25" },
	{ "MX", "example.org", DNS_T_MX, DNS_OK, "10 mail.example.org" },
	{ "TXT joined", "example.org", DNS_T_TXT, DNS_OK,
	    "v=spf1 ip4:192.0.2.0/24 -all" },
	{ "PTR", "25.2.0.192.in-addr.arpa", DNS_T_PTR, DNS_OK,
	    "mail.example.org" },
	{ "NXDOMAIN", "nothing.example.org", DNS_T_A, DNS_NXDOMAIN, "" },
	{ "NODATA, name exists", "mail.example.org", DNS_T_MX, DNS_NODATA, "" },
	{ "NODATA scripted", "nodata.example.org", DNS_T_A, DNS_NODATA, "" },
	{ "SERVFAIL is temporary", "servfail.example.org", DNS_T_A,
	    DNS_TEMPFAIL, "SERVFAIL from 127.0.0.1" },
	{ "REFUSED is temporary", "refused.example.org", DNS_T_A,
	    DNS_TEMPFAIL, "REFUSED from 127.0.0.1" },
	{ "no answer is a timeout", "drop.example.org", DNS_T_A, DNS_TEMPFAIL,
	    "timeout after 2 tries" },
	{ "a delay within the timeout", "slow.example.org", DNS_T_A, DNS_OK,
	    "192.0.2.2" },
	{ "a delay past every try", "tooslow.example.org", DNS_T_A,
	    DNS_TEMPFAIL, "timeout" },
	{ "truncated: TCP", "big.example.org", DNS_T_A, DNS_OK, "192.0.2.4" },
	{ "wrong ID first: ignored", "wrongid.example.org", DNS_T_A, DNS_OK,
	    "192.0.2.5" },
	{ "forged answer from another port: ignored", "spoof.example.org",
	    DNS_T_A, DNS_OK, "192.0.2.6" },
	{ "garbage", "garbage.example.org", DNS_T_A, DNS_BAD,
	    "malformed answer from 127.0.0.1" },
	{ "a name with a blank and '%' (SPF macros make them)",
	    "odd name%.example.org", DNS_T_A, DNS_OK, "192.0.2.9" },
};

static void
test_dns_faults(void **state)
{
	struct dns_stats st;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		struct got g;

		print_message("case: %s\n", cases[i].label);
		g = ask(cases[i].name, cases[i].type);
		assert_int_equal(g.status, cases[i].want);
		if (cases[i].want == DNS_OK)
			assert_string_equal(g.first, cases[i].first);
		else
			assert_non_null(strstr(g.why, cases[i].first));
	}
	dns_get_stats(E.dns, &st);
	assert_int_equal(st.tcp, 1);
	assert_true(st.ignored >= 1); /* the wrong ID */
	assert_int_equal(queries_for("tcp big.example.org"), 1);
	/* Temporary failures are asked twice (two tries), never cached. */
	assert_int_equal(queries_for("servfail.example.org"), 2);
	ask("servfail.example.org", DNS_T_A);
	assert_int_equal(queries_for("servfail.example.org"), 4);
}

static void
test_dns_cache_and_sharing(void **state)
{
	struct got a = { 0 }, b = { 0 }, c = { 0 };
	struct dns_stats st;

	(void)state;
	/* Two questions in flight: one query on the wire. */
	assert_int_equal(dns_query(E.dns, "slow.example.org", DNS_T_A,
			     on_answer, &a, NULL), 0);
	assert_int_equal(dns_query(E.dns, "SLOW.example.org.", DNS_T_A,
			     on_answer, &b, NULL), 0);
	while (a.calls == 0 || b.calls == 0)
		uv_run(&E.loop, UV_RUN_ONCE);
	assert_string_equal(a.first, "192.0.2.2");
	assert_string_equal(b.first, "192.0.2.2");
	assert_int_equal(queries_for("slow.example.org"), 1);
	/* Then from the cache, on a later loop turn, not on the wire. */
	assert_int_equal(dns_query(E.dns, "slow.example.org", DNS_T_A,
			     on_answer, &c, NULL), 0);
	assert_int_equal(c.calls, 0);
	uv_run(&E.loop, UV_RUN_NOWAIT);
	assert_int_equal(c.calls, 1);
	assert_string_equal(c.first, "192.0.2.2");
	assert_int_equal(queries_for("slow.example.org"), 1);
	/* Negative answers are cached too (SOA minimum 300). */
	ask("nothing.example.org", DNS_T_A);
	ask("nothing.example.org", DNS_T_A);
	assert_int_equal(queries_for("nothing.example.org"), 1);
	dns_get_stats(E.dns, &st);
	assert_int_equal(st.coalesced, 1);
	assert_int_equal(st.cache_hits, 2);
}

static void
test_dns_cancel(void **state)
{
	struct got a = { 0 }, b = { 0 }, c = { 0 };
	struct dns_query *qa, *qb, *qc;
	int i;

	(void)state;
	/* Cancel one of two waiters: only the other is called. */
	dns_query(E.dns, "slow.example.org", DNS_T_A, on_answer, &a, &qa);
	dns_query(E.dns, "slow.example.org", DNS_T_A, on_answer, &b, &qb);
	dns_cancel(qa);
	while (b.calls == 0)
		uv_run(&E.loop, UV_RUN_ONCE);
	assert_int_equal(a.calls, 0);
	/* Cancel a cached answer before its turn. */
	dns_query(E.dns, "slow.example.org", DNS_T_A, on_answer, &c, &qc);
	dns_cancel(qc);
	/* Cancel questions still on the wire, then close: no callback. */
	for (i = 0; i < 5; i++) {
		dns_query(E.dns, "drop.example.org", DNS_T_A, on_answer, &a,
		    &qa);
		dns_cancel(qa);
	}
	dns_query(E.dns, "tooslow.example.org", DNS_T_A, on_answer, &a, NULL);
	for (i = 0; i < 3; i++)
		uv_run(&E.loop, UV_RUN_NOWAIT);
	assert_int_equal(a.calls, 0);
	assert_int_equal(c.calls, 0);
	/* teardown closes the resolver with a question in flight */
}

static void
test_dns_thousand_at_once(void **state)
{
	enum { N = 1000 };
	struct got *g = xcalloc(N, sizeof(*g));
	char name[64];
	int i, done = 0;

	(void)state;
	/* A fresh server whose zone has the thousand names. */
	{
		char *extra = xmalloc(N * 64), *p = extra;

		for (i = 0; i < N; i++)
			p += sprintf(p, "h%d.bulk.example. 300 IN A 10.0.%d.%d\n",
			    i, i / 256, i % 256);
		dns_close(E.dns);
		uv_run(&E.loop, UV_RUN_DEFAULT);
		dnsd_run_stop(&E.d);
		start_dnsd(extra);
		E.dns = new_dns(2000, 2, NULL);
		free(extra);
	}
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "h%d.bulk.example", i);
		assert_int_equal(dns_query(E.dns, name, DNS_T_A, on_answer,
				     &g[i], NULL), 0);
	}
	while (done < N) {
		uv_run(&E.loop, UV_RUN_ONCE);
		for (done = 0, i = 0; i < N; i++)
			done += g[i].calls;
	}
	for (i = 0; i < N; i++) {
		char want[32];

		snprintf(want, sizeof(want), "10.0.%d.%d", i / 256, i % 256);
		if (g[i].status != DNS_OK)
			fail_msg("h%d: %s: %s", i, dns_status_name(g[i].status),
			    g[i].why);
		assert_string_equal(g[i].first, want);
	}
	{
		/* Never more than max_inflight sockets at once. */
		struct dns_stats st;

		dns_get_stats(E.dns, &st);
		assert_int_equal(st.peak, 256);
		assert_int_equal(st.asked, N);
	}
	free(g);
}

static void
test_dns_dead_server_skipped_and_limits(void **state)
{
	struct got g;

	(void)state;
	/* Nothing listens on port 9 of loopback: refused, next server. */
	dns_close(E.dns);
	E.dns = new_dns(300, 2, "127.0.0.1:9");
	g = ask("mail.example.org", DNS_T_A);
	assert_int_equal(g.status, DNS_OK);
	/* Not a domain name: refused at once, no callback. */
	assert_int_equal(dns_query(E.dns, "bad\tname.example", DNS_T_A,
			     on_answer, &g, NULL), -EINVAL);
	assert_int_equal(dns_query(E.dns, "a..b", DNS_T_A, on_answer, &g,
			     NULL), -EINVAL);
	assert_int_equal(dns_query(E.dns, "", DNS_T_A, on_answer, &g, NULL),
	    -EINVAL);
	{
		char long_label[80];

		memset(long_label, 'x', 64);
		strcpy(long_label + 64, ".example");
		assert_int_equal(dns_query(E.dns, long_label, DNS_T_A,
				     on_answer, &g, NULL), -EINVAL);
	}
}

static void
test_dns_overall_limit(void **state)
{
	struct dns_opts o;
	char srv[64];
	struct got g = { 0 };
	uint64_t t0;

	(void)state;
	dns_close(E.dns);
	dns_opts_defaults(&o);
	o.timeout_ms = 1000;
	o.tries = 5;
	o.limit_ms = 300;
	snprintf(srv, sizeof(srv), "127.0.0.1:%d", E.port);
	dns_server_parse(srv, &o.servers[o.nservers++], NULL);
	E.dns = dns_new(&E.loop, &o, NULL);
	uv_update_time(&E.loop);
	t0 = uv_now(&E.loop);
	dns_query(E.dns, "drop.example.org", DNS_T_A, on_answer, &g, NULL);
	while (g.calls == 0)
		uv_run(&E.loop, UV_RUN_ONCE);
	assert_int_equal(g.status, DNS_TEMPFAIL);
	assert_non_null(strstr(g.why, "no answer within 300 ms"));
	assert_true(uv_now(&E.loop) - t0 < 900);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dns_faults, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dns_cache_and_sharing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_dns_cancel, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dns_thousand_at_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_dns_dead_server_skipped_and_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dns_overall_limit, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
