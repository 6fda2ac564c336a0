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
		{ "backscatter:multi-recipient-bounce", "backscatter" },
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdict_refusal_anchors),
		cmocka_unit_test(test_verdict_with_url),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
