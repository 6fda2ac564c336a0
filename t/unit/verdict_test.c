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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdict_precedence_table),
		cmocka_unit_test(test_verdict_refusal_anchors),
		cmocka_unit_test(test_verdict_with_url),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
