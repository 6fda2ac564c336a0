/*
 * access_test - static access rules and the decision they make, and the
 * decision log line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "config.h"
#include "request.h"
#include "pipeline.h"
#include "verdict.h"
#include "checks/chk.h"
#include "xalloc.h"

/* decide - the daemon's decision; no check is enabled, so it is at once */
static void
decide(const struct cfg *cfg, const struct req *req, struct pipeline_env *env,
    struct verdict *v)
{
	struct pipeline *p;

	assert_int_equal(pipeline_decide(NULL, cfg, NULL, req, env, NULL, NULL,
			     &p, v), 1);
}

static const char policy[] =
    "default_action: DEFER_IF_PERMIT 4.7.1 default\n"
    "access:\n"
    "  - name: office\n"
    "    client: [192.0.2.0/25, \"2001:db8:1::/48\"]\n"
    "    action: OK\n"
    "  - name: relay\n"
    "    client_name: [.relay.example, mx.partner.example]\n"
    "    action: OK\n"
    "  - name: null-to-postmaster\n"
    "    sender: \"<>\"\n"
    "    recipient: [postmaster@, abuse@example.org]\n"
    "    action: DUNNO\n"
    "  - name: spam-domains\n"
    "    sender: [.spam.example, junk.example]\n"
    "    action: REJECT 5.7.1 not from you\n"
    "  - name: one-address\n"
    "    sender: Bad.Guy@Example.NET\n"
    "    action: 554 5.7.1 not you either\n"
    "  - name: both\n"
    "    client: 198.51.100.0/24\n"
    "    recipient: \"@secret.example\"\n"
    "    action: REJECT 5.7.1 no access\n";

static const struct {
	const char *label;
	const char *client, *name, *sender, *rcpt;
	const char *rule; /* "default" if none */
} cases[] = {
	{ "client net", "192.0.2.100", NULL, "a@b.example", "c@d.example",
	    "office" },
	{ "just outside the net", "192.0.2.128", NULL, "a@b.example",
	    "c@d.example", "default" },
	{ "v6 client net", "2001:db8:1:ffff::9", NULL, "a@b", "c@d",
	    "office" },
	{ "mapped v4 in net", "::ffff:192.0.2.1", NULL, "a@b", "c@d",
	    "office" },
	{ "name suffix", "203.0.113.1", "out1.Relay.Example", "a@b", "c@d",
	    "relay" },
	{ "suffix needs a label before it", "203.0.113.1", "relay.example",
	    "a@b", "c@d", "default" },
	{ "exact name", "203.0.113.1", "mx.partner.example", "a@b", "c@d",
	    "relay" },
	{ "exact name is not a suffix", "203.0.113.1",
	    "x.mx.partner.example", "a@b", "c@d", "default" },
	{ "unknown name never matches", "203.0.113.1", "unknown", "a@b",
	    "c@d", "default" },
	{ "null sender to postmaster", "203.0.113.1", NULL, "", "Postmaster@x",
	    "null-to-postmaster" },
	{ "null sender to abuse", "203.0.113.1", NULL, "<>",
	    "abuse@EXAMPLE.org", "null-to-postmaster" },
	{ "null sender elsewhere", "203.0.113.1", NULL, "", "bob@x",
	    "default" },
	{ "sender subdomain", "203.0.113.1", NULL, "x@mail.spam.example",
	    "c@d", "spam-domains" },
	{ "sender parent not subdomain", "203.0.113.1", NULL,
	    "x@spam.example", "c@d", "default" },
	{ "sender domain exact", "203.0.113.1", NULL, "x@JUNK.example", "c@d",
	    "spam-domains" },
	{ "sender domain exact only", "203.0.113.1", NULL,
	    "x@a.junk.example", "c@d", "default" },
	{ "address any case", "203.0.113.1", NULL, "bad.guy@example.net",
	    "c@d", "one-address" },
	{ "address other local", "203.0.113.1", NULL, "good.guy@example.net",
	    "c@d", "default" },
	{ "both selectors", "198.51.100.3", NULL, "a@b", "x@secret.example",
	    "both" },
	{ "one of two selectors", "198.51.100.3", NULL, "a@b",
	    "x@public.example", "default" },
	{ "no client address", NULL, NULL, "a@b", "x@secret.example",
	    "default" },
	{ "first match wins", "192.0.2.1", NULL, "x@junk.example", "c@d",
	    "office" },
};

static void
test_access_rules(void **state)
{
	struct why why;
	struct cfg *cfg = cfg_parse("t.yaml", policy, strlen(policy), &why);
	size_t i;

	(void)state;
	if (cfg == NULL)
		fail_msg("%s", why.text);
	for (i = 0; i < nitems(cases); i++) {
		const char *attrs[PA_COUNT] = { 0 };
		struct arena *a = arena_new();
		struct pipeline_env env = { 0 };
		struct verdict v;
		struct req req;

		print_message("case: %s\n", cases[i].label);
		attrs[PA_CLIENT_ADDRESS] = cases[i].client;
		attrs[PA_CLIENT_NAME] = cases[i].name;
		attrs[PA_SENDER] = cases[i].sender;
		attrs[PA_RECIPIENT] = cases[i].rcpt;
		assert_int_equal(req_build(&req, a, attrs, &cfg->net, NULL), 0);
		decide(cfg, &req, &env, &v);
		assert_string_equal(v.rule, cases[i].rule);
		if (strcmp(cases[i].rule, "default") == 0)
			assert_string_equal(v.action,
			    "DEFER_IF_PERMIT 4.7.1 default");
		arena_free(a);
	}
	cfg_unref(cfg);
}

static void
test_access_log_line(void **state)
{
	const char *attrs[PA_COUNT] = { 0 };
	struct why why;
	struct cfg *cfg = cfg_parse("t.yaml", policy, strlen(policy), &why);
	struct arena *a = arena_new();
	struct pipeline_env env = { 0 };
	struct verdict v;
	struct req req;

	(void)state;
	attrs[PA_CLIENT_ADDRESS] = "203.0.113.9";
	attrs[PA_CLIENT_NAME] = "mail.Spam.example";
	attrs[PA_HELO_NAME] = "evil \"helo\"\r\n";
	attrs[PA_SENDER] = "x@spam.spam.example";
	attrs[PA_RECIPIENT] = "c@d.example";
	attrs[PA_QUEUE_ID] = "8045F2AB23";
	assert_int_equal(req_build(&req, a, attrs, &cfg->net, NULL), 0);
	decide(cfg, &req, &env, &v);
	assert_string_equal(verdict_log_line(a, &req, &v, 41),
	    "decision action=\"REJECT 5.7.1 not from you\" rule=spam-domains "
	    "client=203.0.113.9 client_name=mail.spam.example "
	    "helo=\"evil \\\"helo\\\"\\x0d\\x0a\" "
	    "sender=<x@spam.spam.example> rcpt=<c@d.example> "
	    "queue_id=8045F2AB23 us=41");

	memset(attrs, 0, sizeof(attrs));
	attrs[PA_SENDER] = "";
	assert_int_equal(req_build(&req, a, attrs, &cfg->net, NULL), 0);
	decide(cfg, &req, &env, &v);
	assert_string_equal(verdict_log_line(a, &req, &v, 0),
	    "decision action=\"DEFER_IF_PERMIT 4.7.1 default\" rule=default "
	    "client=\"\" client_name=unknown helo=\"\" sender=<> rcpt=\"\" "
	    "queue_id=\"\" us=0");
	arena_free(a);
	cfg_unref(cfg);
}

/*
 * Review B12: the decision line cut action= and checks= after 256 input
 * bytes, and that line is the one meant to say why. They are kept whole
 * (up to what a reply and a trace hold), with why= the checks' reasons.
 */
static void
test_access_log_line_keeps_why_whole(void **state)
{
	const char *attrs[PA_COUNT] = { 0 };
	struct arena *a = arena_new();
	struct verdict v;
	struct req req;
	char action[520], trace[1000], detail[900], *line;
	struct req_opts net = { 24, 64 };
	size_t i;

	(void)state;
	attrs[PA_CLIENT_ADDRESS] = "203.0.113.9";
	assert_int_equal(req_build(&req, a, attrs, &net, NULL), 0);
	memset(&v, 0, sizeof(v));
	snprintf(action, sizeof(action), "550 5.7.23 SPF fail: ");
	for (i = strlen(action); i < sizeof(action) - 2; i++)
		action[i] = 'a' + (char)(i % 26);
	action[i] = 'Z';
	action[i + 1] = '\0';
	for (i = 0; i < sizeof(trace) - 1; i++)
		trace[i] = i % 20 == 19 ? ',' : 'x';
	trace[i] = '\0';
	for (i = 0; i < sizeof(detail) - 1; i++)
		detail[i] = 'd';
	detail[i] = '\0';
	v.action = action;
	v.rule = "check:spf";
	v.trace = trace;
	v.detail = detail;
	line = verdict_log_line(a, &req, &v, 7);
	assert_non_null(strstr(line, action));
	assert_non_null(strstr(line, trace));
	assert_non_null(strstr(line, detail));
	assert_null(strstr(line, "..."));
	assert_non_null(strstr(line, " us=7"));
	arena_free(a);
}

static void
test_access_actions(void **state)
{
	static const struct {
		const char *action;
		int ok;
	} actions[] = {
		{ "OK", 1 }, { "ok", 1 }, { "DUNNO", 1 }, { "REJECT", 1 },
		{ "REJECT 5.7.1 go away", 1 }, { "DEFER later", 1 },
		{ "DEFER_IF_PERMIT 4.7.1 x", 1 }, { "DEFER_IF_REJECT", 1 },
		{ "450 4.7.1 later", 1 }, { "554 no", 1 }, { "250 ok", 0 },
		{ "550", 0 }, { "OK please", 0 }, { "PREPEND X: y", 0 },
		{ "", 0 }, { "REJECT a\tb", 0 }, { "5xx bad", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < nitems(actions); i++) {
		print_message("case: \"%s\"\n", actions[i].action);
		assert_int_equal(
		    access_check_action(actions[i].action, NULL) == 0,
		    actions[i].ok);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_access_rules),
		cmocka_unit_test(test_access_log_line),
		cmocka_unit_test(test_access_log_line_keeps_why_whole),
		cmocka_unit_test(test_access_actions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
