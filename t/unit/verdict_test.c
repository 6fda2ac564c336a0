/*
 * verdict_test - the link to refused.md in refusals and deferrals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "log.h"
#include "request.h"
#include "verdict.h"

static void
test_verdict_refusal_anchors(void **state)
{
	static const struct {
		const char *rule, *anchor;
	} cases[] = {
		{ "check:helo", "helo" },
		{ "check:helo_dns", "helo-dns" },
		{ "check:dynamic_helo", "dynamic" },
		{ "check:spf", "spf" },
		{ "score", "score" },
		{ "tempfail:sender", "tempfail" },
		{ "greylist:new(wait=300s)", "greylist" },
		{ "greylist:error", "store" },
		{ "backscatter:blocked(hits=3)", "backscatter" },
		{ "backscatter:deferred(hits=3)", "backscatter" },
		{ "spammers", NULL },
		{ "check:helox", NULL },
		{ "default", NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *a = verdict_refusal_anchor(cases[i].rule);

		if (cases[i].anchor == NULL) {
			assert_null(a);
			continue;
		}
		assert_non_null(a);
		assert_string_equal(a, cases[i].anchor);
	}
}

static void
test_verdict_with_url(void **state)
{
	struct arena *a = arena_new();
	char longer[600];

	(void)state;
	assert_string_equal(verdict_with_url(a, "DEFER_IF_PERMIT 4.7.1 "
	    "Greylisted", "greylist:new(wait=60s)", "https://x.example/r"),
	    "DEFER_IF_PERMIT 4.7.1 Greylisted (see "
	    "https://x.example/r#greylist)");
	assert_string_equal(verdict_with_url(a, "DUNNO", "greylist:pass",
	    "https://x.example/r"), "DUNNO");
	assert_string_equal(verdict_with_url(a, "550 5.7.1 x", "check:helo",
	    NULL), "550 5.7.1 x");
	/* A reply line has 512 octets at most: no link rather than more. */
	memset(longer, 'x', sizeof(longer) - 1);
	memcpy(longer, "550 5.7.1 ", 10);
	longer[480] = '\0';
	assert_string_equal(verdict_with_url(a, longer, "check:helo",
	    "https://x.example/r"), longer);
	arena_free(a);
}

/*
 * The precedence table, once: its order, what a whitelist entry
 * silences in each row, the pick of the strongest row that says
 * something, and the reply each outcome becomes.
 */
static void
test_verdict_precedence_table(void **state)
{
	static const enum verdict_src order[] = { VS_ACCESS, VS_BLOCK,
		VS_REJECT, VS_SCORE, VS_DEFER, VS_TEMPFAIL, VS_BYPASS,
		VS_STATE, VS_DEFAULT };
	static const struct {
		enum verdict_src src;
		bool flagged, unflagged; /* silenced by a whitelist entry */
	} silence[] = {
		{ VS_ACCESS, false, false },
		{ VS_BLOCK, false, false },
		{ VS_REJECT, true, false },
		{ VS_SCORE, true, true },
		{ VS_DEFER, true, false },
		{ VS_TEMPFAIL, true, false },
		{ VS_BYPASS, false, false },
		{ VS_STATE, true, false },
		{ VS_DEFAULT, false, false },
	};
	struct verdict_out out[VS_COUNT];
	struct arena *a = arena_new();
	size_t i, j;

	(void)state;
	for (i = 0; i < VS_COUNT; i++)
		assert_int_equal(verdict_table[i].src, order[i]);
	for (i = 0; i < sizeof(silence) / sizeof(silence[0]); i++) {
		assert_int_equal(verdict_silenced(silence[i].src, true),
		    silence[i].flagged);
		assert_int_equal(verdict_silenced(silence[i].src, false),
		    silence[i].unflagged);
	}
	/* Each row beats every row after it, and loses to those before. */
	for (i = 0; i < VS_COUNT; i++) {
		memset(out, 0, sizeof(out));
		for (j = i; j < VS_COUNT; j++)
			out[order[j]] = (struct verdict_out){ VSAY_PASS, NULL,
				NULL, NULL, verdict_table[j].name };
		assert_int_equal(verdict_pick(out), order[i]);
	}
	memset(out, 0, sizeof(out));
	assert_int_equal(verdict_pick(out), VS_DEFAULT);
	/* The replies. */
	assert_string_equal(verdict_action(a, &(struct verdict_out){
	    VSAY_REFUSE, NULL, "5.7.25", "no PTR", "check:rdns" }),
	    "550 5.7.25 no PTR");
	assert_string_equal(verdict_action(a, &(struct verdict_out){
	    VSAY_REFUSE, "554", "5.7.1", "blocked", "backscatter:blocked" }),
	    "554 5.7.1 blocked");
	assert_string_equal(verdict_action(a, &(struct verdict_out){
	    VSAY_DEFER, NULL, "5.7.1", "later", "check:helo" }),
	    "DEFER_IF_PERMIT 4.7.1 later");
	assert_string_equal(verdict_action(a, &(struct verdict_out){
	    VSAY_DEFER, "451", "5.7.24", "temperror", "check:spf" }),
	    "451 4.7.24 temperror");
	assert_string_equal(verdict_action(a, &(struct verdict_out){
	    VSAY_DEFER, "450", "4.7.1", "held", "backscatter:held" }),
	    "450 4.7.1 held");
	assert_string_equal(verdict_action(a, &(struct verdict_out){
	    VSAY_RAW, NULL, NULL, "REJECT no thanks", "spammers" }),
	    "REJECT no thanks");
	assert_string_equal(verdict_action(a, &(struct verdict_out){
	    VSAY_PASS, NULL, NULL, NULL, "greylist:known" }), "DUNNO");
	arena_free(a);
}

/* expect_pair - " key=value" as the decision line had it before: escaped
 * by text_safe_bufn, quoted when empty or holding a blank, " or = */
static void
expect_pair(char *out, size_t size, const char *key, const char *val,
    size_t max)
{
	char safe[5000];

	text_safe_bufn(safe, sizeof(safe), val, max);
	if (safe[0] == '\0' || strpbrk(safe, " \"=") != NULL)
		snprintf(out, size, "%s=\"%s\"", key, safe);
	else
		snprintf(out, size, "%s=%s", key, safe);
}

/*
 * as_before - the decision line of a verdict whose action and rule are
 * val begins with the two pairs expect_pair makes of it; what names the
 * value when it does not
 */
static void
as_before(struct arena *a, const struct req *req, const char *val,
    const char *what)
{
	struct verdict v;
	char want[12000], pair[6000];
	const char *line;

	memset(&v, 0, sizeof(v));
	v.action = v.rule = val;
	line = verdict_log_line(a, req, &v, 1);
	expect_pair(pair, sizeof(pair), "decision action", val, 1100);
	snprintf(want, sizeof(want), "%s ", pair);
	expect_pair(pair, sizeof(pair), "rule", val, TEXT_SAFE_MAX);
	strcat(want, pair);
	strcat(want, " client=");
	if (strncmp(line, want, strlen(want)) != 0)
		fail_msg("%s:\n%s\nnot\n%s", what, line, want);
}

/*
 * The decision line copies a value that needs no escape as it is, sixteen
 * bytes at a time: every byte that needs an escape or quotes, at every
 * place in a vector and in the bytes after the last whole one, and
 * values cut at their bound, come out as text_safe_bufn and the quoting
 * rule made them.
 */
static void
test_verdict_log_line_values_as_escaped_before(void **state)
{
	static const unsigned char odd[] = { ' ', '=', '"', '\\', 0x01,
		0x09, 0x1f, 0x7f, 0x80, 0xff, 0x21, 0x7e, 0x3d };
	const char *attrs[PA_COUNT] = { 0 };
	struct req_opts net = { 24, 64 };
	struct arena *a = arena_new();
	char val[1300], what[64];
	size_t len, at, o, lens[] = { 255, 256, 257, 1099, 1100, 1101 };
	struct req req;

	(void)state;
	attrs[PA_CLIENT_ADDRESS] = "203.0.113.9";
	assert_int_equal(req_build(&req, a, attrs, &net, NULL), 0);
	for (len = 0; len <= 40; len++)
		for (at = 0; at <= len; at++)
			for (o = 0; o < sizeof(odd); o++) {
				memset(val, 'a' + (int)(len % 26), len);
				if (at < len)
					val[at] = (char)odd[o];
				val[len] = '\0';
				snprintf(what, sizeof(what), "%zu bytes, 0x%02x "
				    "at %zu", len, odd[o], at);
				as_before(a, &req, val, what);
			}
	for (len = 0; len < sizeof(lens) / sizeof(lens[0]); len++)
		for (o = 0; o < 3; o++) {
			memset(val, 'b', lens[len]);
			val[lens[len]] = '\0';
			if (o > 0)
				val[lens[len] - o] = (char)(o == 1 ? ' ' : '"');
			snprintf(what, sizeof(what), "%zu bytes", lens[len]);
			as_before(a, &req, val, what);
		}
	arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdict_precedence_table),
		cmocka_unit_test(test_verdict_refusal_anchors),
		cmocka_unit_test(test_verdict_with_url),
		cmocka_unit_test(test_verdict_log_line_values_as_escaped_before),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
