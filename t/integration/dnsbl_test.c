/*
 * dnsbl_test - the DNS lists check through the real pipeline and the real
 * resolver against dnsd: the RFC 5782 test points, filters, ranges,
 * bitmasks, several A records in one answer, every error code that makes
 * a list unusable, a list that lists the world and one that went empty
 * (disabled by the self-test, back when it passes), timeouts and
 * back-off, weights, negative weights, thresholds, the early answer,
 * TXT reasons, RHSBL names, a DQS-style key that appears in no reply or
 * reason, a CNAME into another zone, the per-message reuse counted in
 * dnsd's query log, and a high-trust allowlisting that makes a
 * backscatter block one for bounces only (a memory store, fake clock).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "arena.h"
#include "checks/chk.h"
#include "config.h"
#include "dns.h"
#include "dnsd_run.h"
#include "msg.h"
#include "outbound.h"
#include "pipeline.h"
#include "store.h"
#include "request.h"
#include "verdict.h"
#include "xalloc.h"

#define KEY "k3y5ecretabcdefghijklmnop"

static const char zone[] =
    /* bl.test: an IP list with categories, like ZEN. */
    "2.0.0.127.bl.test. 60 IN A 127.0.0.2\n"
    "2.0.0.127.bl.test. 60 IN A 127.0.0.4\n"
    "2.0.0.127.bl.test. 60 IN A 127.0.0.10\n"
    "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.test."
    " 60 IN A 127.0.0.2\n"
    "7.2.0.192.bl.test. 60 IN A 127.0.0.4\n"
    "7.2.0.192.bl.test. 60 IN A 127.0.0.10\n"
    "7.2.0.192.bl.test. 60 IN TXT \"Exploited host: see the removal page\"\n"
    "8.2.0.192.bl.test. 60 IN A 127.0.0.11\n"
    "9.2.0.192.bl.test. 60 IN A 127.0.0.200\n"
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test."
    " 60 IN A 127.0.0.2\n"
    /* bits.test: categories in bits. */
    "2.0.0.127.bits.test. 60 IN A 127.0.0.2\n"
    "7.2.0.192.bits.test. 60 IN A 127.0.0.12\n"
    /* world.test lists everyone, 127.0.0.1 too. */
    "1.0.0.127.world.test. 60 IN A 127.0.0.2\n"
    "2.0.0.127.world.test. 60 IN A 127.0.0.2\n"
    "5.2.0.192.world.test. 60 IN A 127.0.0.2\n"
    /* empty.test went empty: not even its test point. */
    "!nxdomain 2.0.0.127.empty.test.\n"
    "empty.test. 60 IN SOA ns.empty.test. hostmaster.empty.test. 1 3600 "
    "600 86400 3600\n"
    /* refused.test answers Spamhaus' error codes. */
    "2.0.0.127.refused.test. 60 IN A 127.255.255.254\n"
    "7.2.0.192.refused.test. 60 IN A 127.255.255.254\n"
    "2.0.0.127.limit.test. 60 IN A 127.0.0.2\n"
    "7.2.0.192.limit.test. 60 IN A 127.255.255.255\n"
    "2.0.0.127.wrongzone.test. 60 IN A 127.0.0.2\n"
    "7.2.0.192.wrongzone.test. 60 IN A 127.255.255.252\n"
    "2.0.0.127.dq.test. 60 IN A 127.0.0.2\n"
    "2.0.0.127.keyerr.test. 60 IN A 127.0.0.2\n"
    "7.2.0.192.keyerr.test. 60 IN A 127.255.255.250\n"
    "2.0.0.127.wl3.dnswl.org. 60 IN A 127.0.10.3\n"
    "7.2.0.192.wl3.dnswl.org. 60 IN A 127.0.10.5\n"
    "7.2.0.192.askdomain.test. 60 IN A 127.0.1.255\n"
    "2.0.0.127.askdomain.test. 60 IN A 127.0.0.2\n"
    /* rewrite.test: a resolver that rewrites NXDOMAIN. */
    "2.0.0.127.rewrite.test. 60 IN A 127.0.0.2\n"
    "7.2.0.192.rewrite.test. 60 IN A 198.51.100.80\n"
    /* slow.test never answers about .7; servfail.test fails. */
    "2.0.0.127.slow.test. 60 IN A 127.0.0.2\n"
    "!drop 7.2.0.192.slow.test.\n"
    "2.0.0.127.servfail.test. 60 IN A 127.0.0.2\n"
    "!servfail 7.2.0.192.servfail.test.\n"
    /* wl.test: an allowlist with trust levels (DNSWL-style). */
    "2.0.0.127.wl.test. 60 IN A 127.0.10.3\n"
    "7.2.0.192.wl.test. 60 IN A 127.0.15.3\n"
    "9.2.0.192.wl.test. 60 IN A 127.0.15.0\n"
    "2.0.0.127.wl2.test. 60 IN A 127.0.10.3\n"
    "!delay 7.2.0.192.wl2.test. 200\n"
    "7.2.0.192.wl2.test. 60 IN A 127.0.15.3\n"
    /* dnswl.org's own error codes. */
    "2.0.0.127.list.dnswl.org. 60 IN A 127.0.10.3\n"
    "7.2.0.192.list.dnswl.org. 60 IN A 127.0.0.255\n"
    /* dbl.test: a domain list. */
    "test.dbl.test. 60 IN A 127.0.1.2\n"
    "spammer.example.dbl.test. 60 IN A 127.0.1.2\n"
    "bad.helo.example.dbl.test. 60 IN A 127.0.1.4\n"
    "badclient.example.dbl.test. 60 IN A 127.0.1.5\n"
    /* The DQS-style zone with its key, and a CNAME into it. */
    "2.0.0.127." KEY ".dq.test. 60 IN A 127.0.0.2\n"
    "7.2.0.192." KEY ".dq.test. 60 IN A 127.0.0.2\n"
    "2.0.0.127." KEY ".zen.dq.spamhaus.net. 60 IN A 127.0.0.2\n"
    "7.2.0.192." KEY ".zen.dq.spamhaus.net. 60 IN A 127.0.0.4\n"
    "2.0.0.127.cn.test. 60 IN A 127.0.0.2\n"
    "7.2.0.192.cn.test. 60 IN CNAME 7.2.0.192." KEY ".dq.test.\n"
    /* delay.test answers .7 late, for the early answer. */
    "2.0.0.127.delay.test. 60 IN A 127.0.0.2\n"
    "!delay 7.2.0.192.delay.test. 1500\n"
    "7.2.0.192.delay.test. 60 IN A 127.0.0.2\n"
    "!drop 7.2.0.192.in-addr.arpa.\n"
    "partner.example. 60 IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
    "soft.example. 60 IN TXT \"v=spf1 ip4:198.51.100.0/24 ~all\"\n"
    "neutral.example. 60 IN TXT \"v=spf1 ?all\"\n"
    "!drop slowspf.example.\n"
    /* v4only.test: its IPv6 test point is gone; IPv4 serves on. */
    "2.0.0.127.v4only.test. 60 IN A 127.0.0.2\n"
    "7.2.0.192.v4only.test. 60 IN A 127.0.0.2\n"
    /* everyone.test lists every client that comes (a slow test point). */
    "2.0.0.127.everyone.test. 60 IN A 127.0.0.2\n"
    "!delay 2.0.0.127.everyone.test. 1000\n"
    "100.2.0.192.everyone.test. 60 IN A 127.0.0.2\n"
    "101.2.0.192.everyone.test. 60 IN A 127.0.0.2\n"
    "102.2.0.192.everyone.test. 60 IN A 127.0.0.2\n"
    "103.2.0.192.everyone.test. 60 IN A 127.0.0.2\n"
    "104.2.0.192.everyone.test. 60 IN A 127.0.0.2\n"
    "105.2.0.192.everyone.test. 60 IN A 127.0.0.2\n"
    "106.2.0.192.everyone.test. 60 IN A 127.0.0.2\n"
    "107.2.0.192.everyone.test. 60 IN A 127.0.0.2\n"
    "108.2.0.192.everyone.test. 60 IN A 127.0.0.2\n"
    "109.2.0.192.everyone.test. 60 IN A 127.0.0.2\n"
    "110.2.0.192.everyone.test. 60 IN A 127.0.0.2\n"
    "111.2.0.192.everyone.test. 60 IN A 127.0.0.2\n"
    /* late.test answers after the request's deadline. */
    "2.0.0.127.late.test. 60 IN A 127.0.0.2\n"
    "!delay 7.2.0.192.late.test. 3000\n"
    "7.2.0.192.late.test. 60 IN A 127.0.0.2\n"
    /* txtslow.test: a listing and its reason, both late. */
    "2.0.0.127.txtslow.test. 60 IN A 127.0.0.2\n"
    "7.2.0.192.txtslow.test. 60 IN A 127.0.0.2\n"
    "7.2.0.192.txtslow.test. 60 IN TXT \"Spam run seen 2026-12-01\"\n"
    "!delay 7.2.0.192.txtslow.test. 400\n"
    "forged.example. 60 IN TXT \"v=spf1 -all\"\n";

static struct {
	struct dnsd_run d;
	uv_loop_t loop;
	struct dns *pdns; /* the checks' daemon-wide resolver */
	struct cfg *cfg;
	struct msg msg;
	struct store_handle store; /* .st NULL: none (use_store) */
	int64_t now;               /* the requests' clock, with a store */
	bool started;
} E;

struct result {
	int calls;
	char action[1200];
	char rule[64];
	char trace[400];
	char why[1200];
	char bypass[300];  /* an entry found but not applied */
	int score;
	uint64_t ms;
};

static void
on_done(void *arg, const struct verdict *v, const char *trace)
{
	struct result *r = arg;

	r->calls++;
	snprintf(r->action, sizeof(r->action), "%s", v->action);
	snprintf(r->rule, sizeof(r->rule), "%s", v->rule);
	snprintf(r->trace, sizeof(r->trace), "%s", trace ? trace : "");
	snprintf(r->why, sizeof(r->why), "%s", v->detail ? v->detail : "");
	snprintf(r->bypass, sizeof(r->bypass), "%s", v->bypass ? v->bypass
							       : "");
	for (size_t i = 0; i < v->nreports; i++) {
		size_t o = strlen(r->why);

		snprintf(r->why + o, sizeof(r->why) - o, " | %s",
		    v->reports[i].reason);
	}
	r->score = v->score;
}

static void
waited(uv_timer_t *t)
{
	uv_close((uv_handle_t *)t, NULL);
}

/*
 * wait_ms - run the loop for ms (a timer of ours keeps it alive: the
 * self-test timer alone does not, as in the daemon)
 */
static void
wait_ms(uint64_t ms)
{
	uv_timer_t t;

	uv_timer_init(&E.loop, &t);
	uv_timer_start(&t, waited, ms, 0);
	uv_run(&E.loop, UV_RUN_DEFAULT);
}

/* The resolver's cache: none, unless a test wants one. */
static const char *cache_opts = "  min_ttl: 0\n  negative_ttl: 0\n";
/* One try's timeout: short, unless a test waits for late answers. */
static const char *dns_timeout = "300ms";

/* start - dnsd, the policy, the checks' state and their first tests */
static void
start(const char *policy)
{
	char text[8192];
	struct why why;

	memset(&E, 0, sizeof(E));
	uv_loop_init(&E.loop);
	assert_int_equal(dnsd_run_start(&E.d, zone, NULL), 0);
	snprintf(text, sizeof(text), "dns:\n  nameservers: [127.0.0.1:%d]\n"
				     "  timeout: %s\n  tries: 1\n%s"
				     "%s", E.d.port, dns_timeout, cache_opts, policy);
	E.cfg = cfg_parse("t.yaml", text, strlen(text), &why);
	if (E.cfg == NULL)
		fail_msg("%s", why.text);
	E.pdns = dns_new(&E.loop, &E.cfg->dns, &why);
	assert_non_null(E.pdns);
	pipeline_init(&(struct chk_ctx){ .loop = &E.loop, .dns = E.pdns });
	pipeline_configure(E.cfg);
	E.started = true;
	wait_ms(200); /* the self-tests */
}

/* stop - all of it; also the teardown, after a failure in the middle */
static int
stop(void **state)
{
	(void)state;
	if (!E.started) {
		dnsd_run_stop(&E.d);
		return 0;
	}
	E.started = false;
	if (E.store.st != NULL)
		E.store.st->ops->close(E.store.st);
	pipeline_fini();
	dns_close(E.pdns);
	uv_run(&E.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&E.loop), 0);
	msg_fini(&E.msg);
	cfg_unref(E.cfg);
	dnsd_run_stop(&E.d);
	return 0;
}

/* decide - one request; attrs: name=value pairs, NULL-ended */
static struct result
decide(const char *const *attrs)
{
	const char *av[PA_COUNT] = { 0 };
	struct pipeline_env env = { .hostname = "mx.test" };
	struct result r = { 0 };
	struct pipeline *p;
	struct verdict v;
	struct arena *a = arena_new();
	struct why why;
	struct dns *dns;
	struct req req;
	uint64_t t0 = uv_hrtime();

	for (; attrs[0] != NULL; attrs += 2) {
		int i = proto_attr_lookup(attrs[0], strlen(attrs[0]));

		assert_true(i >= 0);
		av[i] = attrs[1];
	}
	if (av[PA_PROTOCOL_STATE] == NULL)
		av[PA_PROTOCOL_STATE] = "RCPT";
	assert_int_equal(req_build(&req, a, av, &E.cfg->net, NULL), 0);
	/* A resolver per request: no cache between them. */
	dns = dns_new(&E.loop, &E.cfg->dns, &why);
	assert_non_null(dns);
	env.msg = E.msg;
	if (E.store.st != NULL) {
		env.store = &E.store;
		env.now = E.now;
	}
	if (pipeline_decide(&E.loop, E.cfg, dns, &req, &env, on_done, &r, &p,
	    &v) == 1)
		on_done(&r, &v, v.trace);
	while (r.calls == 0)
		uv_run(&E.loop, UV_RUN_ONCE);
	r.ms = (uv_hrtime() - t0) / 1000000;
	E.msg = env.msg;
	assert_int_equal(r.calls, 1);
	dns_close(dns);
	uv_run(&E.loop, UV_RUN_NOWAIT);
	arena_free(a);
	return r;
}

static struct result
client(const char *addr)
{
	const char *attrs[] = { "client_address", addr, NULL };

	return decide(attrs);
}

#define has(hay, needle) do { \
	if (strstr((hay), (needle)) == NULL) \
		fail_msg("\"%s\" lacks \"%s\"", (hay), (needle)); \
} while (0)
#define hasnt(hay, needle) do { \
	if (strstr((hay), (needle)) != NULL) \
		fail_msg("\"%s\" has \"%s\"", (hay), (needle)); \
} while (0)

#define ZEN \
    "    - zone: bl.test\n" \
    "      name: Test ZEN\n" \
    "      families: [ipv4, ipv6]\n" \
    "      url: https://check.bl.test/?ip={item}\n" \
    "      codes:\n" \
    "        - { code: \"127.0.0.[2;3]\", weight: 5, label: \"SBL: spam " \
    "source\" }\n" \
    "        - { code: \"127.0.0.[4..7]\", weight: 4, label: \"XBL: " \
    "exploited host\" }\n" \
    "        - { code: \"127.0.0.[10;11]\", weight: 2, label: \"PBL: " \
    "end-user address\" }\n"

/* The RFC 5782 test point, ranges, several A records, each on its own. */
static void
test_dnsbl_filters_ranges_and_several_records(void **state)
{
	struct result r;

	(void)state;
	start("scores: { reject: 5 }\nchecks:\n  dnsbl:\n    lists:\n" ZEN);
	/* .7: XBL (4) and PBL (2) in one answer: 6, past 5. */
	r = client("192.0.2.7");
	assert_string_equal(r.rule, "score");
	assert_int_equal(r.score, 6);
	has(r.action, "550 5.7.1 Service unavailable; client 192.0.2.7 is "
		      "listed at Test ZEN (XBL: exploited host); see "
		      "https://check.bl.test/?ip=192.0.2.7 - ask the list's "
		      "operator, not us, for removal");
	has(r.trace, "dnsbl:fail+6:");
	/* .8: PBL alone, 2: under the threshold. */
	r = client("192.0.2.8");
	assert_string_equal(r.action, "DUNNO");
	assert_int_equal(r.score, 2);
	/* .9: 127.0.0.200 is in no filter: no listing. */
	r = client("192.0.2.9");
	assert_string_equal(r.action, "DUNNO");
	assert_int_equal(r.score, 0);
	has(r.trace, "dnsbl:neutral:");
	/* Not in the list at all. */
	r = client("192.0.2.5");
	assert_int_equal(r.score, 0);
	has(r.why, "not listed");
	/* IPv6 nibbles. */
	r = client("2001:db8::1");
	assert_int_equal(r.score, 5);
	has(r.why, "2001:db8::1 at Test ZEN (127.0.0.2 SBL: spam source)");
	/* An IPv4-mapped address is asked as IPv4. */
	r = client("::ffff:192.0.2.7");
	assert_int_equal(r.score, 6);
	stop(state);
}

/* A list marked reject refuses on its own, with 554, weights aside. */
static void
test_dnsbl_reject_list_refuses_with_554(void **state)
{
	struct result r;

	(void)state;
	start("checks:\n  dnsbl:\n    lists:\n      - zone: bl.test\n"
	      "        name: Test BL\n        reject: true\n        weight: 0\n"
	      "        txt: true\n");
	r = client("192.0.2.7");
	assert_string_equal(r.rule, "check:dnsbl");
	assert_string_equal(r.action,
	    "554 5.7.1 Service unavailable; client "
	    "192.0.2.7 is listed at Test BL (Exploited "
	    "host: see the removal page) - ask the "
	    "list's operator, not us, for removal");
	r = client("192.0.2.5");
	assert_string_equal(r.action, "DUNNO");
	stop(state);
}

/* Bitmask filters, for lists that encode categories in bits. */
static void
test_dnsbl_bitmask_filters(void **state)
{
	struct result r;

	(void)state;
	start("checks:\n  dnsbl:\n    lists:\n      - zone: bits.test\n"
	      "        codes:\n"
	      "          - { mask: 0.0.0.4, weight: 3, label: phish }\n"
	      "          - { mask: 0.0.0.8, weight: 1, label: malware }\n"
	      "          - { mask: 0.0.0.64, weight: 50, label: never }\n");
	r = client("192.0.2.7"); /* 127.0.0.12: bits 4 and 8 */
	assert_int_equal(r.score, 4);
	has(r.why, "phish");
	stop(state);
}

/* Every error code: never a listing, the list unusable and skipped. */
static void
test_dnsbl_error_codes_are_never_listings(void **state)
{
	static const struct {
		const char *zone, *code, *want; /* want: NULL, said at start */
	} cases[] = {
		{ "refused.test", "127.255.255.254", NULL },
		{ "limit.test", "127.255.255.255", "too many queries" },
		{ "wrongzone.test", "127.255.255.252", "name is wrong" },
		{ "askdomain.test", "127.0.1.255",
		    "domain list asked about an address" },
		{ "rewrite.test", "198.51.100.80", "rewrites NXDOMAIN" },
		{ "list.dnswl.org", "127.0.0.255", "over its free-use limit" },
		{ "keyerr.test", "127.255.255.250", "a DQS key that is wrong" },
		/* DNSWL's own test point answers 127.0.10.3: no error there. */
		{ "wl3.dnswl.org", "127.0.10.5",
		    "resolvers it does not serve" },
	};
	char policy[600], want[80];
	struct result r;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		print_message("case: %s\n", cases[i].zone);
		snprintf(policy, sizeof(policy), "scores: { reject: 1 }\n"
		    "checks:\n  dnsbl:\n    lists:\n      - zone: %s\n"
		    "        reject: true\n        weight: 5\n"
		    "      - zone: wl.test\n        weight: -3\n",
		    cases[i].zone);
		start(policy);
		r = client("192.0.2.7");
		assert_string_equal(r.action, "DUNNO");
		snprintf(want, sizeof(want), "it answers %s", cases[i].code);
		has(r.why, want);
		if (cases[i].want != NULL)
			has(r.why, cases[i].want);
		/* The allowlist still counts; the broken list adds nothing. */
		assert_int_equal(r.score, -3);
		/* Now skipped, without asking. */
		r = client("192.0.2.7");
		snprintf(want, sizeof(want),
		    "skipped (unusable: it answers %s)", cases[i].code);
		has(r.why, want);
		assert_int_equal(r.score, -3);
		snprintf(policy, sizeof(policy), "7.2.0.192.%s", cases[i].zone);
		assert_true(dnsd_run_queries(&E.d, policy) <= 1);
		stop(state);
	}
}

/* Without self-tests, an unusable list is asked again after the back-off. */
static void
test_dnsbl_unusable_list_without_self_test_is_asked_again(void **state)
{
	struct result r;

	(void)state;
	start("checks:\n  dnsbl:\n    backoff: 1s\n    lists:\n"
	      "      - { zone: limit.test, self_test: false }\n");
	r = client("192.0.2.7");
	has(r.why, "it answers 127.255.255.255");
	r = client("192.0.2.7");
	has(r.why, "skipped (unusable");
	assert_int_equal(dnsd_run_queries(&E.d, "7.2.0.192.limit.test"), 1);
	wait_ms(1200);
	r = client("192.0.2.7");
	has(r.why, "it answers 127.255.255.255");
	assert_int_equal(dnsd_run_queries(&E.d, "7.2.0.192.limit.test"), 2);
	/* No self-test asked its test points. */
	assert_int_equal(dnsd_run_queries(&E.d, "0.0.127.limit.test"), 0);
	stop(state);
}

/* The self-test disables a list that lists the world or went empty. */
static void
test_dnsbl_self_test_disables_dead_lists(void **state)
{
	struct result r;

	(void)state;
	start("checks:\n  dnsbl:\n    self_test_every: 1s\n    lists:\n"
	      "      - { zone: world.test, reject: true }\n"
	      "      - { zone: empty.test, reject: true }\n");
	r = client("192.0.2.5");
	assert_string_equal(r.action, "DUNNO");
	has(r.why, "world.test: skipped (disabled: failed its self-test)");
	has(r.why, "empty.test: skipped (disabled: failed its self-test)");
	assert_int_equal(dnsd_run_queries(&E.d, "5.2.0.192."), 0);
	stop(state);
}

/* A disabled list comes back once its self-test passes again. */
static void
test_dnsbl_disabled_list_comes_back(void **state)
{
	struct result r;

	(void)state;
	start("checks:\n  dnsbl:\n    self_test_every: 1s\n    lists:\n"
	      "      - { zone: empty.test, reject: true }\n");
	r = client("192.0.2.5");
	has(r.why, "disabled");
	/* The list is back: dnsd answers its test point again. */
	assert_int_equal(dnsd_run_restart(&E.d, "2.0.0.127.empty.test. 60 IN "
	    "A 127.0.0.2\n5.2.0.192.empty.test. 60 IN A 127.0.0.2\n"), 0);
	/* Failed lists are tested again within a minute: here, a second. */
	wait_ms(2200);
	r = client("192.0.2.5");
	assert_string_equal(r.rule, "check:dnsbl");
	stop(state);
}

/* Timeouts and SERVFAIL: not listed; after a few, skipped for a while. */
static void
test_dnsbl_timeouts_back_off(void **state)
{
	struct result r;
	int i;

	(void)state;
	start("checks:\n  dnsbl:\n    failures: 2\n    backoff: 1s\n"
	      "    lists:\n      - { zone: slow.test, reject: true }\n"
	      "      - { zone: servfail.test, reject: true }\n"
	      "      - { zone: bl.test, weight: 1 }\n");
	for (i = 0; i < 2; i++) {
		r = client("192.0.2.7");
		assert_string_equal(r.action, "DUNNO");
		assert_int_equal(r.score, 1);
		has(r.why, "slow.test: no answer");
		has(r.why, "servfail.test: no answer");
	}
	r = client("192.0.2.7");
	has(r.why, "slow.test: skipped (backing off after failures)");
	has(r.why, "servfail.test: skipped (backing off after failures)");
	assert_int_equal(dnsd_run_queries(&E.d, "7.2.0.192.slow.test"), 2);
	wait_ms(1300);
	r = client("192.0.2.7");
	has(r.why, "slow.test: no answer");
	assert_int_equal(dnsd_run_queries(&E.d, "7.2.0.192.slow.test"), 3);
	stop(state);
}

/* Negative weights subtract; a decisive allowlist answers at once. */
static void
test_dnsbl_allowlist_weights_and_decisive(void **state)
{
	struct result r;

	(void)state;
	start("scores: { reject: 5 }\nchecks:\n  dnsbl:\n"
	      "    lists:\n" ZEN
	      "    - zone: wl.test\n      name: Test WL\n      codes:\n"
	      "        - { code: \"127.0.[0..255].3\", weight: -4, label: "
	      "high }\n"
	      "        - { code: \"127.0.[0..255].0\", weight: -1, label: "
	      "none }\n");
	r = client("192.0.2.7"); /* 6 - 4 */
	assert_int_equal(r.score, 2);
	assert_string_equal(r.action, "DUNNO");
	stop(state);
	/* Decisive: the check still at work (rdns, waiting) is cancelled. */
	start("scores: { reject: 5 }\ndeadline: 5s\nchecks:\n  rdns: {}\n"
	      "  dnsbl:\n    lists:\n" ZEN
	      "    - zone: wl.test\n      decisive: true\n      codes:\n"
	      "        - { code: \"127.0.[0..255].3\", weight: -4 }\n");
	r = client("192.0.2.7");
	assert_string_equal(r.action, "DUNNO");
	has(r.trace, "rdns:cancelled:");
	has(r.trace, "dnsbl:pass-4:");
	if (r.ms >= 200)
		fail_msg("the decisive allowlisting took %llu ms",
		    (unsigned long long)r.ms);
	stop(state);
}

/* A certain refusal answers before the slow lists do. */
static void
test_dnsbl_certain_refusal_answers_early(void **state)
{
	struct result r;

	(void)state;
	start("scores: { reject: 5 }\ndeadline: 5s\nchecks:\n  dnsbl:\n"
	      "    lists:\n      - { zone: bl.test, reject: true }\n"
	      "      - { zone: delay.test, weight: 1 }\n");
	r = client("192.0.2.7");
	assert_string_equal(r.rule, "check:dnsbl");
	if (r.ms >= 200)
		fail_msg("the certain refusal took %llu ms",
		    (unsigned long long)r.ms);
	stop(state);
	/* By score: 5 is past 5 whatever delay.test says. */
	start("scores: { reject: 5 }\ndeadline: 5s\nchecks:\n  dnsbl:\n"
	      "    lists:\n      - { zone: bl.test, weight: 5 }\n"
	      "      - { zone: delay.test, weight: 1 }\n");
	r = client("192.0.2.7");
	assert_string_equal(r.rule, "score");
	if (r.ms >= 200)
		fail_msg("the certain score took %llu ms",
		    (unsigned long long)r.ms);
	stop(state);
	/* An allowlist still out could bring it back: wait for it. */
	start("scores: { reject: 5 }\ndeadline: 5s\nchecks:\n  dnsbl:\n"
	      "    lists:\n      - { zone: bl.test, weight: 5 }\n"
	      "      - { zone: wl2.test, weight: -3 }\n");
	r = client("192.0.2.7");
	assert_string_equal(r.action, "DUNNO");
	assert_int_equal(r.score, 2);
	if (r.ms < 150)
		fail_msg("answered in %llu ms, before the allowlist",
		    (unsigned long long)r.ms);
	stop(state);
}

/* RHSBL: each name source, registered and full. */
static void
test_dnsbl_domain_list_names(void **state)
{
	struct result r;
	static const char *const sender[] = { "client_address", "192.0.2.5",
		"sender", "a@mx.spammer.example", NULL };
	static const char *const helo[] = { "client_address", "192.0.2.5",
		"helo_name", "bad.helo.example", NULL };
	static const char *const name[] = { "client_address", "192.0.2.5",
		"client_name", "mx1.badclient.example", NULL };
	static const char *const null_sender[] = { "client_address",
		"192.0.2.5", "sender", "", "helo_name", "mail.spammer.example",
		NULL };

	(void)state;
	start("checks:\n  dnsbl:\n    lists:\n      - zone: dbl.test\n"
	      "        type: domain\n        name: Test DBL\n"
	      "        reject: true\n"
	      "        names: { sender: registered, helo: full, client: "
	      "registered }\n");
	r = decide(sender);
	has(r.action, "554 5.7.1 Service unavailable; sender domain "
		      "spammer.example is listed at Test DBL");
	r = decide(helo);
	has(r.action, "HELO name bad.helo.example is listed at Test DBL");
	r = decide(name);
	has(r.action, "client name badclient.example is listed at Test DBL");
	/* helo: full asks mail.spammer.example, not spammer.example. */
	r = decide(null_sender);
	assert_string_equal(r.action, "DUNNO");
	assert_int_equal(dnsd_run_queries(&E.d, "mail.spammer.example.dbl"),
	    1);
	stop(state);
}

/* A key in the zone appears in no reply, reason or trace. */
static void
test_dnsbl_key_appears_nowhere(void **state)
{
	struct result r;

	(void)state;
	start("checks:\n  dnsbl:\n    lists:\n"
	      "      - { zone: dq.test, key: " KEY ", weight: 1 }\n"
	      "      - { zone: " KEY ".zen.dq.spamhaus.net, weight: 1 }\n"
	      "      - { zone: cn.test, name: Rewritten, weight: 2 }\n");
	r = client("192.0.2.7");
	has(r.why, "192.0.2.7 at dq.test (127.0.0.2)");
	has(r.why, "192.0.2.7 at zen.dq.spamhaus.net (127.0.0.4)");
	/* The CNAME into the keyed zone was followed. */
	has(r.why, "at Rewritten (127.0.0.2)");
	hasnt(r.action, KEY);
	hasnt(r.why, KEY);
	hasnt(r.trace, KEY);
	assert_true(dnsd_run_queries(&E.d, KEY) >= 2);
	stop(state);
}

/* The message's other recipients ask nothing again. */
static void
test_dnsbl_results_kept_for_the_message(void **state)
{
	static const char *const rcpt1[] = { "client_address", "192.0.2.8",
		"instance", "abc.1", "recipient", "u1@our.example", NULL };
	static const char *const rcpt2[] = { "client_address", "192.0.2.8",
		"instance", "abc.1", "recipient", "u2@our.example", NULL };
	static const char *const other[] = { "client_address", "192.0.2.8",
		"instance", "abc.2", "recipient", "u2@our.example", NULL };
	struct result r1, r2;

	(void)state;
	/* refused.test is skipped (unusable): the memo still holds. */
	start("checks:\n  dnsbl:\n    lists:\n" ZEN
	      "    - { zone: dbl.test, type: domain }\n"
	      "    - { zone: refused.test }\n");
	r1 = decide(rcpt1);
	has(r1.why, "refused.test: skipped");
	assert_int_equal(dnsd_run_queries(&E.d, "8.2.0.192.bl.test"), 1);
	r2 = decide(rcpt2);
	assert_int_equal(dnsd_run_queries(&E.d, "8.2.0.192.bl.test"), 1);
	assert_int_equal(r1.score, r2.score);
	assert_string_equal(r1.action, r2.action);
	assert_int_equal(r2.score, 2);
	/* Another message asks again. */
	(void)decide(other);
	assert_int_equal(dnsd_run_queries(&E.d, "8.2.0.192.bl.test"), 2);
	stop(state);
}

/*
 * A recipient's whitelist entry bypasses a listing (even a reject list),
 * when SPF does not fail; a forged sender (SPF fail) is refused.
 */
static void
test_dnsbl_whitelist_bypasses_listing_unless_spf_fails(void **state)
{
	static const char *const partner[] = { "client_address", "192.0.2.7",
		"sender", "bob@partner.example", "recipient",
		"alice@our.example", NULL };
	static const char *const forged[] = { "client_address", "192.0.2.7",
		"sender", "bob@forged.example", "recipient",
		"alice@our.example", NULL };
	static const char *const stranger[] = { "client_address", "192.0.2.7",
		"sender", "bob@partner.example", "recipient",
		"carol@our.example", NULL };
	struct result r;

	(void)state;
	start("checks:\n  spf: { header: none }\n  dnsbl:\n    lists:\n"
	      "      - { zone: bl.test, reject: true }\n"
	      "  whitelist:\n    entries:\n"
	      "      - { recipient: alice@our.example, sender: "
	      "\"@partner.example\" }\n"
	      "      - { recipient: alice@our.example, sender: "
	      "\"@forged.example\" }\n");
	r = decide(partner);
	assert_string_equal(r.action, "DUNNO");
	assert_string_equal(r.rule,
	    "whitelist:alice@our.example<-@partner.example");
	has(r.trace, "dnsbl:fail");
	has(r.trace, "spf:pass");
	/* Forged: no bypass; the listing refuses (the first in order). */
	r = decide(forged);
	assert_string_equal(r.rule, "check:dnsbl");
	has(r.action, "554 5.7.1");
	has(r.trace, "spf:fail");
	r = decide(stranger);
	assert_string_equal(r.rule, "check:dnsbl");
	has(r.action, "554 5.7.1");
	stop(state);
	/* require_spf: pass, and SPF says none: no bypass. */
	start("checks:\n  spf: { header: none }\n  dnsbl:\n    lists:\n"
	      "      - { zone: bl.test, reject: true }\n"
	      "  whitelist:\n    require_spf: pass\n    entries:\n"
	      "      - { recipient: alice@our.example, sender: "
	      "\"@nospf.example\" }\n");
	{
		static const char *const nospf[] = { "client_address",
			"192.0.2.7", "sender", "bob@nospf.example",
			"recipient", "alice@our.example", NULL };

		r = decide(nospf);
		assert_string_equal(r.rule, "check:dnsbl");
	}
	stop(state);
}

/*
 * A whitelist entry skips the lists only when SPF proves the sender
 * (require_spf: pass, the default): a forged sender of a domain with
 * ~all (softfail), ?all (neutral) or no SPF, of any domain with the spf
 * check off, or while SPF is cut by the deadline, is judged like anyone
 * (here: refused by the listing), and the decision line says the entry
 * was found but not applied, and why.
 */
static void
test_whitelist_forged_sender_without_spf_pass_is_not_let_through(
    void **state)
{
	static const char *const senders[][2] = {
		{ "bob@soft.example", "spf=softfail" },
		{ "bob@neutral.example", "spf=neutral" },
		{ "bob@nospf.example", "spf=none" },
	};
	const char *mail[] = { "client_address", "192.0.2.7", "sender", NULL,
		"recipient", "alice@our.example", NULL };
	struct result r;
	size_t i;

	(void)state;
	start("deadline: 1500ms\n"
	      "checks:\n  spf: { header: none, softfail: log, neutral: log }\n"
	      "  dnsbl:\n    lists:\n"
	      "      - { zone: bl.test, reject: true }\n"
	      "  whitelist:\n    entries:\n"
	      "      - { recipient: alice@our.example, sender: "
	      "\"@partner.example\" }\n"
	      "      - { recipient: alice@our.example, sender: "
	      "\"@soft.example\" }\n"
	      "      - { recipient: alice@our.example, sender: "
	      "\"@neutral.example\" }\n"
	      "      - { recipient: alice@our.example, sender: "
	      "\"@nospf.example\" }\n"
	      "      - { recipient: alice@our.example, sender: "
	      "\"@slowspf.example\" }\n");
	/* The partner's own server: SPF passes, the entry applies. */
	mail[3] = "bob@partner.example";
	r = decide(mail);
	assert_string_equal(r.rule,
	    "whitelist:alice@our.example<-@partner.example");
	assert_string_equal(r.bypass, "");
	for (i = 0; i < nitems(senders); i++) {
		mail[3] = senders[i][0];
		r = decide(mail);
		assert_string_equal(r.rule, "check:dnsbl");
		has(r.action, "554 5.7.1");
		has(r.bypass, ":not-applied(");
		has(r.bypass, senders[i][1]);
		has(r.bypass, "require_spf=pass");
	}
	/* SPF's DNS does not answer: temperror, no bypass. */
	mail[3] = "bob@slowspf.example";
	r = decide(mail);
	assert_string_equal(r.rule, "check:dnsbl");
	has(r.bypass, "whitelist:alice@our.example<-@slowspf.example:"
	    "not-applied(spf=temperror,require_spf=pass)");
	stop(state);
	/* SPF cut by the deadline: no verdict at all, no bypass. */
	start("deadline: 150ms\n"
	      "checks:\n  spf: { header: none, on_tempfail: dunno }\n"
	      "  dnsbl:\n    lists:\n"
	      "      - { zone: bl.test, reject: true }\n"
	      "  whitelist:\n    entries:\n"
	      "      - { recipient: alice@our.example, sender: "
	      "\"@slowspf.example\" }\n");
	r = decide(mail);
	assert_string_equal(r.rule, "check:dnsbl");
	has(r.bypass, "whitelist:alice@our.example<-@slowspf.example:"
	    "not-applied(spf=unknown,require_spf=pass)");
	stop(state);
	/* The spf check off: nothing proves the sender. */
	start("checks:\n  dnsbl:\n    lists:\n"
	      "      - { zone: bl.test, reject: true }\n"
	      "  whitelist:\n    entries:\n"
	      "      - { recipient: alice@our.example, sender: "
	      "\"@partner.example\" }\n");
	mail[3] = "bob@partner.example";
	r = decide(mail);
	assert_string_equal(r.rule, "check:dnsbl");
	has(r.bypass, "not-applied(spf=unknown,require_spf=pass)");
	stop(state);
	/* not-fail, chosen: softfail is let through (forgeable). */
	start("checks:\n  spf: { header: none, softfail: log }\n"
	      "  dnsbl:\n    lists:\n"
	      "      - { zone: bl.test, reject: true }\n"
	      "  whitelist:\n    require_spf: not-fail\n    entries:\n"
	      "      - { recipient: alice@our.example, sender: "
	      "\"@soft.example\" }\n");
	mail[3] = "bob@soft.example";
	r = decide(mail);
	assert_string_equal(r.rule,
	    "whitelist:alice@our.example<-@soft.example");
	stop(state);
}

/*
 * A list with IPv4 and IPv6 whose IPv6 test point is gone still serves
 * IPv4 (each family is judged on its own evidence); the log names the
 * test point that failed.
 */
static void
test_dnsbl_ipv6_test_failure_keeps_ipv4(void **state)
{
	struct result r;

	(void)state;
	start("checks:\n  dnsbl:\n    lists:\n"
	      "      - { zone: v4only.test, name: V4, reject: true, "
	      "families: [ipv4, ipv6] }\n");
	r = client("192.0.2.7");
	has(r.action, "554 5.7.1 Service unavailable; client 192.0.2.7 is "
	    "listed at V4");
	r = client("2001:db8::1");
	has(r.why, "V4: skipped (disabled: failed its self-test)");
	stop(state);
}

/*
 * A list that starts listing nearly every client between self-tests is
 * suspended at once (the breaker) and self-tested; it serves again once
 * the test passes.
 */
static void
test_dnsbl_list_that_lists_everyone_is_suspended(void **state)
{
	struct result r;
	char ip[32];
	unsigned i;

	(void)state;
	dns_timeout = "4s";
	start("checks:\n  dnsbl:\n    breaker_percent: 100\n"
	      "    breaker_lookups: 10\n    lists:\n"
	      "      - { zone: everyone.test, name: Everyone }\n");
	dns_timeout = "300ms";
	wait_ms(1500); /* its first self-test is slow */
	for (i = 0; i < 10; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%u", 100 + i);
		r = client(ip);
		has(r.trace, "dnsbl:fail+1");
	}
	/* The eleventh: the list is suspended, its self-test under way. */
	r = client("192.0.2.110");
	has(r.why, "Everyone: skipped (suspended: listed nearly every "
	    "client)");
	wait_ms(1500);
	r = client("192.0.2.111");
	has(r.trace, "dnsbl:fail+1");
	stop(state);
}

/*
 * The self-tests never read the resolver's cache: a reload tests the
 * lists again with questions on the wire, so a zone fixed meanwhile is
 * seen, not its cached NXDOMAIN.
 */
static void
test_dnsbl_self_test_bypasses_the_cache(void **state)
{
	(void)state;
	cache_opts = "  negative_ttl: 1h\n";
	start("checks:\n  dnsbl:\n    lists:\n      - { zone: empty.test }\n");
	cache_opts = "  min_ttl: 0\n  negative_ttl: 0\n";
	assert_int_equal(dnsd_run_queries(&E.d, "2.0.0.127.empty.test"), 1);
	/* A reload: tested again, past the cached NXDOMAIN. */
	pipeline_configure(E.cfg);
	wait_ms(200);
	assert_int_equal(dnsd_run_queries(&E.d, "2.0.0.127.empty.test"), 2);
	stop(state);
}

/*
 * The deadline comes with one list still out: the lists that answered
 * count (one slow list made the whole check "could not tell", ignored,
 * and every listing of the request was lost).
 */
static void
test_dnsbl_lists_that_answered_count_at_the_deadline(void **state)
{
	struct result r;

	(void)state;
	dns_timeout = "5s";
	start("deadline: 1500ms\nchecks:\n  dnsbl:\n    lists:\n"
	      "      - { zone: bl.test, name: Fast }\n"
	      "      - { zone: late.test, name: Late }\n");
	dns_timeout = "300ms";
	r = client("192.0.2.7");
	has(r.trace, "dnsbl:fail+1");
	has(r.why, "Late: no answer (no answer before the deadline)");
	stop(state);
}

/*
 * With txt: true, a listing that decides alone (its weight reaches
 * scores.reject) waits for its TXT reason, so the reply carries it.
 */
static void
test_dnsbl_deciding_listing_waits_for_its_txt(void **state)
{
	struct result r;

	(void)state;
	dns_timeout = "3s";
	start("scores: { reject: 5 }\nchecks:\n  dnsbl:\n    lists:\n"
	      "      - { zone: txtslow.test, name: Slow, weight: 5, "
	      "txt: true }\n");
	dns_timeout = "300ms";
	r = client("192.0.2.7");
	assert_string_equal(r.rule, "score");
	has(r.action, "client 192.0.2.7 is listed at Slow (Spam run seen "
	    "2026-12-01)");
	stop(state);
}

/*
 * A reply to our users' mail skips greylisting only when SPF passes for
 * its sender's domain: the address of someone our user wrote to is as
 * easy to forge as any (here a ~all domain's, from a server its SPF does
 * not name). Past max_age the reply waits like anyone's.
 */
static void
test_correspondent_reply_skips_greylisting_only_when_spf_passes(void **state)
{
	static const char *const to_bob[] = { "client_address", "10.1.1.1",
		"sender", "alice@our.example", "recipient",
		"bob@partner.example", NULL };
	static const char *const to_carol[] = { "client_address", "10.1.1.1",
		"sender", "alice@our.example", "recipient",
		"carol@soft.example", NULL };
	static const char *const bob[] = { "client_address", "192.0.2.7",
		"sender", "bob@partner.example", "recipient",
		"alice@our.example", NULL };
	static const char *const carol[] = { "client_address", "192.0.2.7",
		"sender", "carol@soft.example", "recipient",
		"alice@our.example", NULL };
	static const char *const bob_to_dave[] = { "client_address",
		"192.0.2.7", "sender", "bob@partner.example", "recipient",
		"dave@our.example", NULL };
	struct result r;

	(void)state;
	start("local_networks: [10.0.0.0/8]\n"
	      "checks:\n  spf: { header: none, softfail: log }\n"
	      "  greylist: { max_age: 10d }\n"
	      "  outbound: { local_domains: [our.example] }\n");
	E.store.st = store_open_mem(&E.loop, 1);
	E.now = 1700000000;
	assert_string_equal(decide(to_bob).action, "DUNNO");
	assert_string_equal(decide(to_carol).action, "DUNNO");
	E.now += 60;
	/* SPF passes for partner.example: a correspondent's reply. */
	r = decide(bob);
	assert_string_equal(r.action, "DUNNO");
	assert_string_equal(r.rule, "greylist:correspondent");
	has(r.trace, "spf:pass");
	/* soft.example's SPF does not name this server: greylisted. */
	r = decide(carol);
	has(r.action, "DEFER_IF_PERMIT 4.7.1 Greylisted");
	has(r.trace, "spf:softfail");
	/* bob to another of our users is no correspondent's mail. */
	r = decide(bob_to_dave);
	has(r.action, "DEFER_IF_PERMIT 4.7.1 Greylisted");
	/* Past max_age the reply waits like anyone's. */
	E.now += 11 * 86400;
	r = decide(bob);
	has(r.action, "DEFER_IF_PERMIT 4.7.1 Greylisted");
	stop(state);
}

/*
 * Backscatter from a client that a high-trust allowlisting vouches for
 * (DNSWL's .3: one address of a large platform) blocks its bounces only;
 * its other mail still passes. A client the list knows with no trust
 * (.0) has its other mail deferred during the block. The allowlisting
 * is asked at the bounce's RCPT and holds for its DATA, where the hit
 * is counted (threshold 1 here: one hit blocks).
 */
static void
test_dnsbl_high_trust_backscatter_blocks_bounces_only(void **state)
{
	static const char *const ours[] = { "client_address", "10.1.1.1",
		"sender", "alice@our.example", "recipient",
		"bob@remote.example", NULL };
	const char *rcpt[] = { "client_address", NULL, "instance", NULL,
		"sender", "", "recipient", "nobody@our.example", NULL };
	const char *data[] = { "protocol_state", "DATA", "client_address",
		NULL, "instance", NULL, "sender", "", "recipient",
		"nobody@our.example", "recipient_count", "1", NULL };
	const char *later[] = { "client_address", NULL, "instance", NULL,
		"sender", "carol@remote.example", "recipient",
		"alice@our.example", NULL };
	static const char *const who[] = { "192.0.2.7", "192.0.2.9" };
	struct result r;
	unsigned i;

	(void)state;
	start("local_networks: [10.0.0.0/8]\n"
	      "checks:\n  outbound: { local_domains: [our.example] }\n"
	      "  backscatter: { threshold: 1 }\n"
	      "  dnsbl:\n    lists:\n"
	      "      - zone: wl.test\n"
	      /* A name as long as a list's may be: it is what the
	       * message keeps from RCPT to DATA. */
	      "        name: A long name for a DNS allowlist of trusted "
	      "senders ok\n"
	      "        codes:\n"
	      "          - { code: \"127.0.[0..255].0\", weight: -1 }\n"
	      "          - { code: \"127.0.[0..255].3\", weight: -5, "
	      "high_trust: true }\n");
	E.store.st = store_open_mem(&E.loop, 1);
	E.now = 1700000000;
	assert_string_equal(decide(ours).action, "DUNNO");
	E.now += 8 * 86400; /* a week and a day of outbound history */
	{
		/* As the daemon's heartbeat records it. */
		struct outbound_cover c = { 1700000000, E.now, E.now };
		unsigned char v[24];
		struct store_rec rec = { OUTBOUND_COVER,
			sizeof(OUTBOUND_COVER) - 1, v, 24, 0, NULL };
		struct store_waiter w;

		outbound_cover_encode(&c, v);
		store_waiter_init(&w, &E.loop);
		assert_int_equal(store_wait(&w, E.store.st->ops->put(
		    E.store.st, OUTBOUND_TABLE, &rec, 1, &w.call)),
		    0);
	}
	for (i = 0; i < nitems(who); i++) {
		char inst[2][16];

		snprintf(inst[0], sizeof(inst[0]), "bounce.%u", i);
		snprintf(inst[1], sizeof(inst[1]), "later.%u", i);
		rcpt[1] = data[3] = later[1] = who[i];
		rcpt[3] = data[5] = inst[0];
		later[3] = inst[1];
		r = decide(rcpt);
		assert_string_equal(r.action, "DUNNO");
		has(r.trace, "dnsbl:pass");
		r = decide(data);
		has(r.action, "554 5.7.1 Service unavailable; client ");
		assert_string_equal(r.rule, "backscatter:blocked(hits=1)");
		r = decide(later);
		if (i == 0) {
			/* Trusted: its other mail passes. */
			assert_string_equal(r.action, "DUNNO");
			has(r.trace, "dnsbl:pass");
		} else {
			/* Not trusted: deferred until the block ends. */
			has(r.action, "450 4.7.1 ");
			assert_string_equal(r.rule,
			    "backscatter:deferred(hits=1)");
		}
		/* Its bounces are refused either way, at RCPT already. */
		rcpt[3] = "again";
		has(decide(rcpt).action, "554 5.7.1");
	}
	stop(state);
}

/*
 * The dynamic check's second look, with the other checks' evidence: an
 * end-user range listing (PBL) raises its level, a high-trust
 * allowlisting clears the name, an SPF pass from a narrow mechanism
 * lowers it; each says so in the trace.
 */
static void
test_dnsbl_evidence_moves_the_dynamic_level(void **state)
{
	static const char *const pbl[] = { "client_address", "192.0.2.8",
		"reverse_client_name", "host-192-0-2-8.isp.example", NULL };
	static const char *const trusted[] = { "client_address", "192.0.2.7",
		"reverse_client_name", "dsl-192-0-2-7.isp.example", NULL };
	static const char *const spf[] = { "client_address", "192.0.2.9",
		"reverse_client_name", "dsl-192-0-2-9.isp.example", "sender",
		"bob@partner.example", NULL };
	static const char *const forged[] = { "client_address", "192.0.2.9",
		"reverse_client_name", "dsl-192-0-2-9.isp.example", "sender",
		"bob@forged.example", NULL };
	struct result r;

	(void)state;
	start("checks:\n  dynamic: { certain: reject, likely: { score: 1 } }\n"
	      "  spf: { header: none }\n"
	      "  dnsbl:\n    lists:\n"
	      "      - zone: bl.test\n        name: Test ZEN\n        codes:\n"
	      "          - { code: \"127.0.0.[10;11]\", weight: 1, "
	      "label: PBL, end_user: true }\n"
	      "      - zone: wl.test\n        name: Test WL\n        codes:\n"
	      "          - { code: \"127.0.[0..255].3\", weight: -1, "
	      "high_trust: true }\n");
	/* The address alone is likely; with the PBL listing certain. */
	r = decide(pbl);
	has(r.trace, "dynamic:certain(4 octets of the client address; listed "
	    "at Test ZEN):");
	has(r.action, "550 5.7.1 Client 192.0.2.8: PTR name "
	    "host-192-0-2-8.isp.example looks like a dial-in");
	/* Address and pool word, but DNSWL-style high trust: cleared. */
	r = decide(trusted);
	has(r.trace, "dynamic:pass(allowlisted at Test WL):");
	assert_string_equal(r.action, "DUNNO");
	/* Certain, but the sender's SPF names this server: likely. */
	r = decide(spf);
	has(r.trace, "spf:pass");
	has(r.trace, "dynamic:likely(4 octets of the client address; keyword "
	    "dsl; SPF names it for partner.example)+1:");
	assert_string_equal(r.action, "DUNNO");
	/* An SPF fail lowers nothing. */
	r = decide(forged);
	has(r.trace, "dynamic:certain(4 octets of the client address; keyword "
	    "dsl):");
	stop(state);
}

/* Policy file mistakes, each with its place. */
static void
test_dnsbl_config_errors(void **state)
{
	static const struct {
		const char *yaml, *want;
	} cases[] = {
		{ "checks:\n  dnsbl: {}\n",
		    "t.yaml:2:10: dnsbl: needs lists:" },
		{ "checks:\n  dnsbl:\n    lists:\n      - { zone: bl.test, "
		  "codes: [ { code: \"127.0.0.[2..x]\" } ] }\n",
		    "is not an address pattern" },
		{ "checks:\n  dnsbl:\n    lists:\n      - { zone: bl.test, "
		  "codes: [ { weight: 2 } ] }\n",
		    "needs code:" },
		{ "checks:\n  dnsbl:\n    lists:\n      - { zone: \"bl test\" }"
		  "\n",
		    "zone is not a domain name" },
		{ "checks:\n  dnsbl:\n    lists:\n      - { zone: bl.test, "
		  "weight: 1000 }\n",
		    "1000 is out of range (-100 to 100)" },
		{ "checks:\n  dnsbl:\n    lists:\n      - { zone: bl.test, "
		  "decisive: true }\n",
		    "only an allowlist" },
		{ "checks:\n  dnsbl:\n    lists:\n      - { zone: bl.test, "
		  "names: { sender: full } }\n",
		    "only a domain list" },
		{ "checks:\n  dnsbl:\n    lists:\n      - { zone: bl.test }\n"
		  "      - { zone: bl.test }\n",
		    "two lists named" },
		{ "checks:\n  dnsbl:\n    lists:\n      - { zone: bl.test, "
		  "states: [ NOPE ] }\n",
		    "is no protocol state" },
		{ "checks:\n  dnsbl:\n    lists:\n      - { zone: bl.test, "
		  "codes: [ { mask: 1.0.0.0 } ] }\n",
		    "is not a mask" },
		{ "checks:\n  dnsbl:\n    lists:\n      - { zone: bl.test, "
		  "codes: [ { code: 127.0.0.2, weight: 3, high_trust: true } ] "
		  "}\n",
		    "high_trust: only for an allowlisting" },
		{ "checks:\n  dnsbl:\n    lists:\n      - { zone: bl.test, "
		  "errors: [ { code: 127.255.255.254, high_trust: true } ] }\n",
		    "an error code is no allowlisting" },
		{ "checks:\n  dnsbl:\n    lists:\n      - { zone: bl.test, "
		  "codes: [ { code: 127.0.0.10, weight: -1, end_user: true } ] "
		  "}\n",
		    "end_user: only for a listing" },
		/* A mistake in a keyed list: the message names it without
		 * the key (both ways of giving one). */
		{ "checks:\n  dnsbl:\n    lists:\n      - { zone: dq.test, "
		  "key: " KEY ", weight: 1000 }\n",
		    "dnsbl: dq.test: 1000 is out of range" },
		{ "checks:\n  dnsbl:\n    lists:\n      - { zone: " KEY
		  ".zen.dq.spamhaus.net, codes: [ { code: 127.0.0.300 } ] }\n",
		    "zen.dq.spamhaus.net: codes: code:" },
	};
	struct why why;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		struct cfg *c = cfg_parse("t.yaml", cases[i].yaml,
		    strlen(cases[i].yaml), &why);

		print_message("case: %s\n", cases[i].want);
		assert_null(c);
		has(why.text, cases[i].want);
		hasnt(why.text, KEY);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
		    test_dnsbl_filters_ranges_and_several_records, stop),
		cmocka_unit_test_teardown(
		    test_dnsbl_reject_list_refuses_with_554, stop),
		cmocka_unit_test_teardown(test_dnsbl_bitmask_filters, stop),
		cmocka_unit_test_teardown(
		    test_dnsbl_error_codes_are_never_listings, stop),
		cmocka_unit_test_teardown(
		    test_dnsbl_unusable_list_without_self_test_is_asked_again,
		    stop),
		cmocka_unit_test_teardown(
		    test_dnsbl_self_test_disables_dead_lists, stop),
		cmocka_unit_test_teardown(
		    test_dnsbl_disabled_list_comes_back, stop),
		cmocka_unit_test_teardown(test_dnsbl_timeouts_back_off, stop),
		cmocka_unit_test_teardown(
		    test_dnsbl_allowlist_weights_and_decisive, stop),
		cmocka_unit_test_teardown(
		    test_dnsbl_certain_refusal_answers_early, stop),
		cmocka_unit_test_teardown(test_dnsbl_domain_list_names, stop),
		cmocka_unit_test_teardown(test_dnsbl_key_appears_nowhere, stop),
		cmocka_unit_test_teardown(
		    test_whitelist_forged_sender_without_spf_pass_is_not_let_through,
		    stop),
		cmocka_unit_test_teardown(
		    test_correspondent_reply_skips_greylisting_only_when_spf_passes,
		    stop),
		cmocka_unit_test_teardown(test_dnsbl_ipv6_test_failure_keeps_ipv4,
		    stop),
		cmocka_unit_test_teardown(
		    test_dnsbl_list_that_lists_everyone_is_suspended, stop),
		cmocka_unit_test_teardown(test_dnsbl_self_test_bypasses_the_cache,
		    stop),
		cmocka_unit_test_teardown(
		    test_dnsbl_deciding_listing_waits_for_its_txt, stop),
		cmocka_unit_test_teardown(
		    test_dnsbl_lists_that_answered_count_at_the_deadline, stop),
		cmocka_unit_test_teardown(
		    test_dnsbl_results_kept_for_the_message, stop),
		cmocka_unit_test_teardown(
		    test_dnsbl_whitelist_bypasses_listing_unless_spf_fails,
		    stop),
		cmocka_unit_test_teardown(
		    test_dnsbl_high_trust_backscatter_blocks_bounces_only,
		    stop),
		cmocka_unit_test_teardown(
		    test_dnsbl_evidence_moves_the_dynamic_level, stop),
		cmocka_unit_test_teardown(test_dnsbl_config_errors, stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
