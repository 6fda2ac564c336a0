/*
 * checks_test - the identity checks and the pipeline that combines them,
 * on a real loop, with the real resolver asking dnsd: every outcome of
 * rdns, fcrdns, helo and sender (timeouts included), whitelists, scores,
 * dry runs, the deadline, and temporary failures that never reject.
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
#include "dnsd_run.h"
#include "request.h"
#include "pipeline.h"
#include "verdict.h"
#include "xalloc.h"

static const char zone[] =
    "example.org. 3600 IN SOA ns.example.org. h.example.org. 1 2 3 4 300\n"
    "mail.example.org. 300 IN A 192.0.2.25\n"
    "mail.example.org. 300 IN AAAA 2001:db8::25\n"
    "25.2.0.192.in-addr.arpa. 300 IN PTR mail.example.org.\n"
    "5.2.0.192.in-addr.arpa. 300 IN PTR elsewhere.example.org.\n"
    "elsewhere.example.org. 300 IN A 198.51.100.1\n"
    "7.2.0.192.in-addr.arpa. 300 IN PTR slow.example.org.\n"
    "!servfail 8.2.0.192.in-addr.arpa.\n"
    "example.org. 300 IN MX 10 mail.example.org.\n"
    "mxonly.example.org. 300 IN MX 10 mail.example.org.\n"
    "aonly.example.org. 300 IN A 192.0.2.30\n"
    "nullmx.example.org. 300 IN MX 0 .\n"
    "!servfail broken.example.org.\n"
    "!drop slow.example.org.\n"
    /* CNAME chains that never reach the records: a loop, and 10 hops. */
    "60.2.0.192.in-addr.arpa. 300 IN CNAME loop1.example.org.\n"
    "61.2.0.192.in-addr.arpa. 300 IN PTR loop1.example.org.\n"
    "loop1.example.org. 300 IN CNAME loop2.example.org.\n"
    "loop2.example.org. 300 IN CNAME loop1.example.org.\n"
    "long0.example.org. 300 IN CNAME long1.example.org.\n"
    "long1.example.org. 300 IN CNAME long2.example.org.\n"
    "long2.example.org. 300 IN CNAME long3.example.org.\n"
    "long3.example.org. 300 IN CNAME long4.example.org.\n"
    "long4.example.org. 300 IN CNAME long5.example.org.\n"
    "long5.example.org. 300 IN CNAME long6.example.org.\n"
    "long6.example.org. 300 IN CNAME long7.example.org.\n"
    "long7.example.org. 300 IN CNAME long8.example.org.\n"
    "long8.example.org. 300 IN CNAME long9.example.org.\n"
    "long9.example.org. 300 IN CNAME long10.example.org.\n"
    "long10.example.org. 300 IN A 192.0.2.25\n"
    "long10.example.org. 300 IN MX 10 mail.example.org.\n";

static struct {
	struct dnsd_run d;
	int port;
	uv_loop_t loop;
} E;

static int
setup(void **state)
{
	(void)state;
	memset(&E, 0, sizeof(E));
	uv_loop_init(&E.loop);
	assert_int_equal(dnsd_run_start(&E.d, zone, NULL), 0);
	E.port = E.d.port;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	uv_run(&E.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&E.loop), 0);
	dnsd_run_stop(&E.d);
	return 0;
}

struct result {
	int calls;
	char action[600];
	char rule[64];
	char trace[300];
	char reasons[600];   /* each check's reason, "; " between */
	int score;
};

static void
on_done(void *arg, const struct verdict *v, const char *trace)
{
	struct result *r = arg;

	r->calls++;
	snprintf(r->action, sizeof(r->action), "%s", v->action);
	snprintf(r->rule, sizeof(r->rule), "%s", v->rule);
	snprintf(r->trace, sizeof(r->trace), "%s", trace ? trace : "");
	r->score = v->score;
	r->reasons[0] = '\0';
	for (size_t i = 0; i < v->nreports; i++) {
		size_t o = strlen(r->reasons);

		snprintf(r->reasons + o, sizeof(r->reasons) - o, "%s%s",
		    i ? "; " : "", v->reports[i].reason);
	}
}

/*
 * decide - one request through the pipeline with the given policy
 * (nameservers point at dnsd); attrs: name=value pairs, NULL-ended.
 */
static struct result
decide(const char *policy, const char *const *attrs, int *sync)
{
	const char *av[PA_COUNT] = { 0 };
	char text[2048];
	struct pipeline_env env = { .hostname = "mx.test" };
	struct result r = { 0 };
	struct pipeline *p;
	struct verdict v;
	struct arena *a = arena_new();
	struct why why;
	struct cfg *cfg;
	struct dns *dns;
	struct req req;
	int rc;

	snprintf(text, sizeof(text), "dns:\n  nameservers: [127.0.0.1:%d]\n"
				     "  timeout: 500ms\n  tries: 1\n%s",
	    E.port, policy);
	cfg = cfg_parse("t.yaml", text, strlen(text), &why);
	if (cfg == NULL)
		fail_msg("%s", why.text);
	for (; attrs[0] != NULL; attrs += 2) {
		int i = proto_attr_lookup(attrs[0], strlen(attrs[0]));

		assert_true(i >= 0);
		av[i] = attrs[1];
	}
	assert_int_equal(req_build(&req, a, av, &cfg->net, NULL), 0);
	dns = dns_new(&E.loop, &cfg->dns, &why);
	assert_non_null(dns);
	rc = pipeline_decide(&E.loop, cfg, dns, &req, &env, on_done, &r, &p,
	    &v);
	if (sync)
		*sync = rc;
	if (rc == 1) {
		on_done(&r, &v, v.trace);
	} else {
		assert_int_equal(r.calls, 0);
		while (r.calls == 0)
			uv_run(&E.loop, UV_RUN_ONCE);
	}
	assert_int_equal(r.calls, 1);
	dns_close(dns);
	uv_run(&E.loop, UV_RUN_DEFAULT);
	msg_fini(&env.msg);
	cfg_unref(cfg);
	arena_free(a);
	return r;
}

#define ALL "checks:\n  rdns: {}\n  fcrdns: {}\n  helo: {}\n  helo_dns: {}\n" \
    "  sender: {}\n"

static const struct {
	const char *label;
	const char *policy;
	const char *attrs[16];
	const char *action; /* exact, or prefix ending in '*' */
	const char *trace;  /* substring, or NULL */
} cases[] = {
	{ "all is well", ALL,
	    { "client_address", "192.0.2.25", "reverse_client_name",
		"mail.example.org", "client_name", "mail.example.org",
		"helo_name", "mail.example.org", "sender", "a@example.org",
		"recipient", "u@our.example", NULL },
	    "DUNNO", "rdns:pass:" },
	{ "rdns: Postfix says unknown, our own PTR lookup finds one",
	    "checks:\n  rdns: {}\n",
	    { "client_address", "192.0.2.25", "reverse_client_name", "unknown",
		NULL },
	    "DUNNO", "rdns:pass:" },
	{ "rdns: no PTR refuses with 5.7.25",
	    "checks:\n  rdns: {}\n",
	    { "client_address", "192.0.2.99", "reverse_client_name", "unknown",
		NULL },
	    "550 5.7.25 Client 192.0.2.99 has no reverse DNS (PTR) record; ask "
	    "the owner of this IP address to publish one", "rdns:fail:" },
	{ "refusal_url: a refusal links to its section of refused.md",
	    "refusal_url: https://mx.test/refused\nchecks:\n  rdns: {}\n",
	    { "client_address", "192.0.2.99", "reverse_client_name", "unknown",
		NULL },
	    "550 5.7.25 Client 192.0.2.99 has no reverse DNS (PTR) record; ask "
	    "the owner of this IP address to publish one (see "
	    "https://mx.test/refused#rdns)", "rdns:fail:" },
	{ "refusal_url: a DNS deferral links to the tempfail section",
	    "refusal_url: https://mx.test/refused\nchecks:\n  rdns: {}\n",
	    { "client_address", "192.0.2.8", "reverse_client_name", "unknown",
		NULL },
	    "DEFER_IF_PERMIT 4.4.3 The reverse DNS (PTR) of client 192.0.2.8 "
	    "could not be looked up just now; please try again later (see "
	    "https://mx.test/refused#tempfail)", "rdns:tempfail:" },
	{ "refusal_url: the policy's own access rules get no link",
	    "refusal_url: https://mx.test/refused\naccess:\n"
	    "  - client: 192.0.2.0/24\n    action: REJECT go away\n"
	    "checks:\n  rdns: {}\n",
	    { "client_address", "192.0.2.99", NULL }, "REJECT go away", NULL },
	{ "refusal_url: a pass gets no link",
	    "refusal_url: https://mx.test/refused\nchecks:\n  rdns: {}\n",
	    { "client_address", "192.0.2.25", "reverse_client_name",
		"mail.example.org", NULL }, "DUNNO", NULL },
	{ "rdns: SERVFAIL defers, never rejects",
	    "checks:\n  rdns: {}\n",
	    { "client_address", "192.0.2.8", "reverse_client_name", "unknown",
		NULL },
	    "DEFER_IF_PERMIT 4.4.3 The reverse DNS (PTR) of client 192.0.2.8 "
	    "could not be looked up just now; please try again later",
	    "rdns:tempfail:" },
	{ "rdns: DNS trouble with on_tempfail dunno passes",
	    "on_tempfail: dunno\nchecks:\n  rdns: {}\n",
	    { "client_address", "192.0.2.8", NULL }, "DUNNO", "rdns:tempfail" },
	{ "fcrdns: PTR name resolves back", "checks:\n  fcrdns: {}\n",
	    { "client_address", "192.0.2.25", "client_name", "unknown", NULL },
	    "DUNNO", "fcrdns:pass:" },
	{ "fcrdns: PTR name resolves elsewhere", "checks:\n  fcrdns: {}\n",
	    { "client_address", "192.0.2.5", "client_name", "unknown", NULL },
	    "550 5.7.25 Reverse DNS of client 192.0.2.5 (unknown) does not "
	    "resolve back to it*", "fcrdns:fail:" },
	{ "fcrdns: verified client_name passes without DNS",
	    "checks:\n  fcrdns: {}\n",
	    { "client_address", "203.0.113.1", "client_name", "x.example.net",
		NULL },
	    "DUNNO", "fcrdns:pass:" },
	{ "helo: missing", "checks:\n  helo: {}\n",
	    { "client_address", "192.0.2.25", NULL },
	    "550 5.7.1 Your server's HELO/EHLO is wrong (no HELO/EHLO name)*",
	    NULL },
	{ "helo: bare IP", "checks:\n  helo: {}\n",
	    { "client_address", "192.0.2.25", "helo_name", "192.0.2.25", NULL },
	    "550 5.7.1 Your server's HELO/EHLO is wrong (HELO 192.0.2.25 is a "
	    "bare IP address; use the server's name, or [192.0.2.25])*", NULL },
	{ "helo: matching address literal", "checks:\n  helo: {}\n",
	    { "client_address", "192.0.2.25", "helo_name", "[192.0.2.25]",
		NULL },
	    "DUNNO", "helo:pass:" },
	{ "helo: IPv6 literal", "checks:\n  helo: {}\n",
	    { "client_address", "2001:db8::25", "helo_name",
		"[IPv6:2001:db8::25]", NULL },
	    "DUNNO", "helo:pass:" },
	{ "helo: another address literal", "checks:\n  helo: {}\n",
	    { "client_address", "192.0.2.25", "helo_name", "[192.0.2.26]",
		NULL },
	    "550 5.7.1 *", "helo:fail:" },
	{ "helo: not an FQDN", "checks:\n  helo: {}\n",
	    { "client_address", "192.0.2.25", "helo_name", "localhost", NULL },
	    "550 5.7.1 Your server's HELO/EHLO is wrong (HELO localhost is not "
	    "a fully qualified domain name)*", NULL },
	{ "helo: our own name", "my_names: [mx.our.example]\n"
				"checks:\n  helo: {}\n",
	    { "client_address", "192.0.2.25", "helo_name", "MX.our.example",
		NULL },
	    "550 5.7.1 Your server's HELO/EHLO is wrong (HELO mx.our.example "
	    "is our own name)*", NULL },
	{ "helo: resolves", "checks:\n  helo_dns: {}\n",
	    { "client_address", "203.0.113.9", "helo_name", "mail.example.org",
		NULL },
	    "DUNNO", "helo_dns:pass:" },
	{ "helo: MX only still resolves", "checks:\n  helo_dns: {}\n",
	    { "client_address", "203.0.113.9", "helo_name",
		"mxonly.example.org", NULL },
	    "DUNNO", "helo_dns:pass:" },
	{ "helo: does not resolve", "checks:\n  helo: {}\n  helo_dns: {}\n",
	    { "client_address", "203.0.113.9", "helo_name", "nx.example.org",
		NULL },
	    "550 5.7.1 Your server's HELO/EHLO name does not resolve (HELO "
	    "nx.example.org does not resolve)*", "helo:pass:" },
	{ "helo: syntax refuses, resolution only scores",
	    "checks:\n  helo: {}\n  helo_dns: { on_fail: { score: 2 } }\n",
	    { "client_address", "203.0.113.9", "helo_name", "nx.example.org",
		NULL },
	    "DUNNO", "helo_dns:fail+2:" },
	{ "helo: strict, resolves elsewhere",
	    "checks:\n  helo_dns: { strict: true }\n",
	    { "client_address", "203.0.113.9", "helo_name", "mail.example.org",
		NULL },
	    "550 5.7.1 Your server's HELO/EHLO name does not resolve (HELO "
	    "mail.example.org does not resolve to 203.0.113.9)*", NULL },
	{ "helo: strict, resolves to the client",
	    "checks:\n  helo_dns: { strict: true }\n",
	    { "client_address", "192.0.2.25", "helo_name", "mail.example.org",
		NULL },
	    "DUNNO", "helo_dns:pass:" },
	{ "sender: null sender is fine", "checks:\n  sender: {}\n",
	    { "client_address", "192.0.2.25", "sender", "", NULL }, "DUNNO",
	    "sender:neutral:" },
	{ "sender: bad syntax", "checks:\n  sender: {}\n",
	    { "client_address", "192.0.2.25", "sender", "a..b@example.org",
		NULL },
	    "550 5.7.1 The envelope sender is not usable: sender address "
	    "a..b@example.org is not valid (RFC 5321)*", NULL },
	{ "sender: domain does not exist", "checks:\n  sender: {}\n",
	    { "client_address", "192.0.2.25", "sender", "a@nx.example.org",
		NULL },
	    "550 5.7.1 The envelope sender is not usable: sender domain "
	    "nx.example.org does not exist*", NULL },
	{ "sender: at MAIL FROM, the sender codes Postfix keeps there",
	    "checks:\n  sender: {}\n",
	    { "client_address", "192.0.2.25", "sender", "a@nx.example.org",
		"protocol_state", "MAIL", NULL },
	    "550 5.1.8 The envelope sender is not usable: sender domain "
	    "nx.example.org does not exist*", NULL },
	{ "sender: bad syntax at MAIL FROM", "checks:\n  sender: {}\n",
	    { "client_address", "192.0.2.25", "sender", "a..b@example.org",
		"protocol_state", "MAIL", NULL },
	    "550 5.1.7 *", NULL },
	{ "sender: null MX", "checks:\n  sender: {}\n",
	    { "client_address", "192.0.2.25", "sender", "a@nullmx.example.org",
		NULL },
	    "550 5.7.27 The envelope sender is not usable: sender domain "
	    "nullmx.example.org has a null MX (RFC 7505): it sends no mail*",
	    NULL },
	{ "sender: A without MX", "checks:\n  sender: {}\n",
	    { "client_address", "192.0.2.25", "sender", "a@aonly.example.org",
		NULL },
	    "DUNNO", "sender:pass:" },
	{ "sender: DNS trouble defers", "checks:\n  sender: {}\n",
	    { "client_address", "192.0.2.25", "sender", "a@broken.example.org",
		NULL },
	    "DEFER_IF_PERMIT 4.4.3 The domain of the sender address "
	    "a@broken.example.org could not be looked up in DNS just now; "
	    "please try again later",
	    "sender:tempfail:" },
	{ "dynamic: a pool name refuses", "checks:\n  dynamic: {}\n",
	    { "client_address", "198.51.100.23", "reverse_client_name",
		"dynamic-198-51-100-23.example.org", NULL },
	    "550 5.7.1 Client 198.51.100.23: PTR name "
	    "dynamic-198-51-100-23.example.org looks like a dial-in or dynamic "
	    "address (4 octets of the client address; keyword \"dynamic\")*",
	    "dynamic:certain(4 octets of the client address; keyword "
	    "dynamic):" },
	{ "dynamic: a mail server name passes", "checks:\n  dynamic: {}\n",
	    { "client_address", "198.51.100.23", "reverse_client_name",
		"mail.example.org", NULL },
	    "DUNNO", "dynamic:pass:" },
	{ "dynamic_helo: scored separately",
	    "scores: { reject: 5 }\n"
	    "checks:\n  dynamic: {}\n  dynamic_helo: { on_fail: { score: 1 } }"
	    "\n",
	    { "client_address", "198.51.100.23", "reverse_client_name",
		"mail.example.org", "helo_name", "dsl-12.example.net", NULL },
	    "DUNNO", "dynamic_helo:likely(keyword dsl)+1:" },
	{ "whitelist short-circuits every check",
	    "access:\n  - client: 192.0.2.0/24\n    action: OK\n" ALL,
	    { "client_address", "192.0.2.99", "helo_name", "localhost", NULL },
	    "OK", NULL },
	{ "scores add up to a rejection",
	    "scores: { reject: 5 }\n"
	    "checks:\n  fcrdns: { on_fail: { score: 2 } }\n"
	    "  helo: { on_fail: { score: 3 } }\n",
	    { "client_address", "192.0.2.5", "client_name", "unknown",
		"helo_name", "localhost", NULL },
	    "550 5.7.1 Your server's HELO/EHLO is wrong*; Reverse DNS of "
	    "client 192.0.2.5*", "fcrdns:fail+2:" },
	{ "scores below the threshold pass",
	    "scores: { reject: 6 }\n"
	    "checks:\n  fcrdns: { on_fail: { score: 2 } }\n"
	    "  helo: { on_fail: { score: 3 } }\n",
	    { "client_address", "192.0.2.5", "client_name", "unknown",
		"helo_name", "localhost", NULL },
	    "DUNNO", "helo:fail+3:" },
	{ "log is a dry run", "checks:\n  helo: { on_fail: log }\n",
	    { "client_address", "192.0.2.25", "helo_name", "localhost", NULL },
	    "DUNNO", "helo:fail:" },
	{ "defer instead of reject, with a 4xx code",
	    "checks:\n  rdns: { on_fail: defer }\n",
	    { "client_address", "192.0.2.99", NULL },
	    "DEFER_IF_PERMIT 4.7.25 Client 192.0.2.99 has no reverse DNS*",
	    NULL },
	{ "own text template",
	    "checks:\n  rdns: { text: \"no PTR for {client} ({reason})\" }\n",
	    { "client_address", "192.0.2.99", NULL },
	    "550 5.7.25 no PTR for 192.0.2.99 (no PTR record for 192.0.2.99)",
	    NULL },
	{ "a definite failure rejects even when another check timed out",
	    "checks:\n  rdns: {}\n  helo: {}\n",
	    { "client_address", "192.0.2.8", "helo_name", "localhost", NULL },
	    "550 5.7.1 *", "rdns:tempfail:" },
	{ "the deadline: what did not answer defers",
	    "deadline: 300ms\nchecks:\n  fcrdns: {}\n",
	    { "client_address", "192.0.2.7", "client_name", "unknown", NULL },
	    "DEFER_IF_PERMIT 4.4.3 Whether the reverse DNS of client 192.0.2.7 "
	    "resolves back to it could not be checked just now; please try "
	    "again later",
	    "fcrdns:tempfail:" },
	{ "stress=yes selects the relaxed profile",
	    "checks:\n  helo: {}\nprofiles:\n  relaxed:\n    checks:\n"
	    "      helo: { on_fail: log }\nselect:\n  stress: relaxed\n",
	    { "client_address", "192.0.2.25", "helo_name", "localhost",
		"stress", "yes", NULL },
	    "DUNNO", "profile=relaxed;helo:fail:" },
	{ "without stress the main policy holds",
	    "checks:\n  helo: {}\nprofiles:\n  relaxed:\n    checks:\n"
	    "      helo: { on_fail: log }\nselect:\n  stress: relaxed\n",
	    { "client_address", "192.0.2.25", "helo_name", "localhost", NULL },
	    "550 5.7.1 *", NULL },
	{ "policy_context selects a profile",
	    "checks:\n  helo: {}\n  rdns: {}\nprofiles:\n  sub:\n"
	    "    checks:\n      rdns: { enabled: false }\n"
	    "    scores: { reject: 0 }\n"
	    "select:\n  policy_context:\n    submission: sub\n",
	    { "client_address", "192.0.2.99", "helo_name", "mail.example.org",
		"policy_context", "submission", NULL },
	    "DUNNO", "profile=sub;helo:pass:" },
	{ "authenticated clients skip the identity checks", ALL,
	    { "client_address", "192.0.2.99", "helo_name", "localhost",
		"sasl_username", "alice", NULL },
	    "DUNNO", NULL },
};

/* A CNAME loop or an endless chain is DNS trouble, never "absent". */
static const struct {
	const char *label;
	const char *policy;
	const char *attrs[16];
	const char *action;
	const char *trace;
	const char *reason; /* substring of the checks' reasons */
} cname_cases[] = {
	{ "rdns: a CNAME loop on the PTR name defers, never rejects",
	    "checks:\n  rdns: {}\n",
	    { "client_address", "192.0.2.60", "reverse_client_name", "unknown",
		NULL },
	    "DEFER_IF_PERMIT 4.4.3 *", "rdns:tempfail:",
	    "CNAME chain loops after 3 hops" },
	{ "fcrdns: a CNAME loop on the PTR name's address defers",
	    "checks:\n  fcrdns: {}\n",
	    { "client_address", "192.0.2.61", "client_name", "unknown", NULL },
	    "DEFER_IF_PERMIT 4.4.3 *", "fcrdns:tempfail:",
	    "CNAME chain loops after 2 hops" },
	{ "helo_dns: a HELO name behind a CNAME loop defers",
	    "checks:\n  helo_dns: {}\n",
	    { "client_address", "192.0.2.25", "helo_name", "loop1.example.org",
		NULL },
	    "DEFER_IF_PERMIT 4.4.3 *", "helo_dns:tempfail:",
	    "CNAME chain loops after 2 hops" },
	{ "helo_dns: a HELO name behind 10 CNAMEs defers",
	    "checks:\n  helo_dns: {}\n",
	    { "client_address", "192.0.2.25", "helo_name", "long0.example.org",
		NULL },
	    "DEFER_IF_PERMIT 4.4.3 *", "helo_dns:tempfail:",
	    "CNAME chain longer than 8 hops" },
	{ "sender: a sender domain behind a CNAME loop defers, no 5.1.8",
	    "checks:\n  sender: {}\n",
	    { "client_address", "192.0.2.25", "sender", "a@loop1.example.org",
		NULL },
	    "DEFER_IF_PERMIT 4.4.3 *", "sender:tempfail:",
	    "CNAME chain loops after 2 hops" },
	{ "sender: a sender domain behind 10 CNAMEs defers, no 5.1.8",
	    "checks:\n  sender: {}\n",
	    { "client_address", "192.0.2.25", "sender", "a@long0.example.org",
		NULL },
	    "DEFER_IF_PERMIT 4.4.3 *", "sender:tempfail:",
	    "CNAME chain longer than 8 hops" },
};

/* run_case - decide one case; the action, trace and reasons as wanted */
static void
run_case(const char *label, const char *policy, const char *const *attrs,
    const char *action, const char *trace, const char *reason)
{
	struct result r;
	size_t len = strlen(action);

	print_message("case: %s\n", label);
	r = decide(policy, attrs, NULL);
	if (action[len - 1] == '*') {
		/* A prefix; a "*" inside stands for any text. */
		char pat[600], *star;
		const char *at = r.action;

		snprintf(pat, sizeof(pat), "%.*s", (int)(len - 1), action);
		for (star = strtok(pat, "*"); star != NULL;
		    star = strtok(NULL, "*")) {
			const char *f = strstr(at, star);

			if (f == NULL || (at == r.action && f != at))
				fail_msg("action \"%s\" does not match \"%s\"",
				    r.action, action);
			at = f + strlen(star);
		}
	} else if (strcmp(r.action, action) != 0) {
		fail_msg("action \"%s\", want \"%s\"", r.action, action);
	}
	if (trace && strstr(r.trace, trace) == NULL)
		fail_msg("trace \"%s\" lacks \"%s\"", r.trace, trace);
	if (reason && strstr(r.reasons, reason) == NULL)
		fail_msg("reasons \"%s\" lack \"%s\"", r.reasons, reason);
}

static void
test_checks_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++)
		run_case(cases[i].label, cases[i].policy, cases[i].attrs,
		    cases[i].action, cases[i].trace, NULL);
}

static void
test_checks_cname_loop_is_dns_trouble(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cname_cases); i++)
		run_case(cname_cases[i].label, cname_cases[i].policy,
		    cname_cases[i].attrs, cname_cases[i].action,
		    cname_cases[i].trace, cname_cases[i].reason);
}

static void
test_checks_sync_without_dns(void **state)
{
	static const char *const attrs[] = { "client_address", "192.0.2.25",
		"reverse_client_name", "mail.example.org", "client_name",
		"mail.example.org", "helo_name", "[192.0.2.25]", NULL };
	int sync = -1;
	struct result r;

	(void)state;
	/* Nothing needs DNS: the verdict is there at once. */
	r = decide("checks:\n  rdns: {}\n  fcrdns: {}\n  helo: {}\n", attrs,
	    &sync);
	assert_int_equal(sync, 1);
	assert_string_equal(r.action, "DUNNO");
	assert_non_null(strstr(r.trace, "helo:pass:0ms,rdns:pass:0ms,"
					"fcrdns:pass:0ms"));
}

/*
 * A refusal by a check that asked DNS, with greylisting enabled: the
 * reply came only at the deadline (10 s; Postfix's own timeout may come
 * first and accept the mail), because the pipeline took the state
 * module it skipped after a refusal for one still at work.
 */
static void
test_checks_refusal_with_greylisting_answers_at_once(void **state)
{
	static const char *const attrs[] = { "client_address", "192.0.2.99",
		"reverse_client_name", "unknown", "recipient",
		"u@our.example", NULL };
	uint64_t t0 = uv_hrtime();
	struct result r;

	(void)state;
	r = decide("deadline: 5s\nchecks:\n  rdns: {}\n  greylist: {}\n",
	    attrs, NULL);
	assert_string_equal(r.rule, "check:rdns");
	if ((uv_hrtime() - t0) / 1000000 >= 2000)
		fail_msg("the refusal took %llu ms",
		    (unsigned long long)((uv_hrtime() - t0) / 1000000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_checks_table, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_checks_sync_without_dns,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_checks_cname_loop_is_dns_trouble, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_checks_refusal_with_greylisting_answers_at_once, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
