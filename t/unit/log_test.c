/*
 * log_test - escaping and bounding of strangers' text, and the arena.
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
#include "xalloc.h"

static void
test_log_text_safe(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "plain text", "plain text" },
		{ "cr\rlf\n", "cr\\x0dlf\\x0a" },
		{ "tab\there", "tab\\x09here" },
		{ "quote\"back\\", "quote\\\"back\\\\" },
		{ "del\x7f", "del\\x7f" },
		{ "utf-8 \xc3\xa9", "utf-8 \xc3\xa9" },
		{ "", "" },
	};
	char buf[TEXT_SAFE_MAX * 4 + 4];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++)
		assert_string_equal(text_safe_buf(buf, sizeof(buf), cases[i].in),
		    cases[i].want);
}

static void
test_log_text_safe_bounded(void **state)
{
	char in[1000], buf[TEXT_SAFE_MAX * 4 + 4], small[10];
	struct arena *a = arena_new();
	char *s;

	(void)state;
	memset(in, '\n', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	text_safe_buf(buf, sizeof(buf), in);
	assert_int_equal(strlen(buf), TEXT_SAFE_MAX * 4 + 3);
	assert_string_equal(buf + strlen(buf) - 3, "...");
	text_safe_buf(small, sizeof(small), "abcdefghijklmnop");
	assert_string_equal(small, "abcdef...");
	s = text_safe(a, in);
	assert_true(strlen(s) < TEXT_SAFE_MAX * 4 + 4);
	arena_free(a);
}

static void
test_log_arena(void **state)
{
	struct arena *a = arena_new();
	char *p[2000];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(p); i++) {
		p[i] = arena_printf(a, "string %zu", i);
		assert_int_equal((uintptr_t)p[i] % 16, 0);
	}
	for (i = 0; i < nitems(p); i++) {
		char want[32];

		snprintf(want, sizeof(want), "string %zu", i);
		assert_string_equal(p[i], want);
	}
	memset(arena_alloc(a, 100000), 1, 100000);
	arena_reset(a);
	assert_string_equal(arena_strndup(a, "abcdef", 3), "abc");
	arena_free(a);
	arena_free(NULL);
}

/* text_cat: pieces joined, empty ones skipped, cut to the buffer */
static void
test_log_text_cat(void **state)
{
	char b[8];

	(void)state;
	assert_int_equal(text_cat(b, sizeof(b), "", "ab", "", "", "c", "",
			     NULL), 3);
	assert_string_equal(b, "abc");
	assert_int_equal(text_cat(b, sizeof(b), "", NULL), 0);
	assert_string_equal(b, "");
	assert_int_equal(text_cat(b, sizeof(b), "abcd", "", "efgh", "ij",
			     NULL), 7);
	assert_string_equal(b, "abcdefg");
	assert_int_equal(text_cat(b, 1, "x", NULL), 0);
	assert_string_equal(b, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_text_safe),
		cmocka_unit_test(test_log_text_safe_bounded),
		cmocka_unit_test(test_log_arena),
		cmocka_unit_test(test_log_text_cat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
