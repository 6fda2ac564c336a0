/*
 * proto_test - the policy protocol parser and reply writer: every
 * malformed case, every split position, bounds, pipelining.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "xalloc.h"

#define GOOD "request=smtpd_access_policy\n"

/* One event as the tests record it, with the value of one attribute. */
struct seen {
	enum proto_event ev;
	char sender[64];
	char why[160];
};

/* feed_chunks - feed data split at the given offsets; record events */
static size_t
feed_chunks(const char *data, size_t len, const size_t *cuts, size_t ncuts,
    struct seen *out, size_t max)
{
	struct proto_parser p;
	size_t n = 0, start = 0, c;

	proto_init(&p);
	for (c = 0; c <= ncuts; c++) {
		size_t end = c < ncuts ? cuts[c] : len;
		size_t off = start;

		while (off < end) {
			enum proto_event ev;
			size_t used;

			used = proto_feed(&p, data + off, end - off, &ev);
			off += used;
			if (ev == PROTO_NEED_MORE)
				continue;
			assert_true(n < max);
			out[n].ev = ev;
			snprintf(out[n].sender, sizeof(out[n].sender), "%s",
			    proto_get(&p, PA_SENDER) ? proto_get(&p, PA_SENDER)
						      : "(none)");
			snprintf(out[n].why, sizeof(out[n].why), "%s",
			    proto_why(&p));
			n++;
			if (ev == PROTO_FATAL)
				goto done;
		}
		start = end;
	}
done:
	proto_fini(&p);
	return n;
}

/* feed_whole - everything in one read */
static size_t
feed_whole(const char *data, size_t len, struct seen *out, size_t max)
{
	return feed_chunks(data, len, NULL, 0, out, max);
}

static void
test_proto_one_request(void **state)
{
	const char in[] = GOOD "sender=a@b.example\nrecipient=c@d.example\n\n";
	struct seen s[4];

	(void)state;
	assert_int_equal(feed_whole(in, strlen(in), s, 4), 1);
	assert_int_equal(s[0].ev, PROTO_REQUEST);
	assert_string_equal(s[0].sender, "a@b.example");
}

static const struct {
	const char *label; /* what this case shows */
	const char *in;    /* one request, maybe followed by a good one */
	size_t len;        /* 0: strlen(in) */
	enum proto_event want;
	const char *why; /* substring of the reason */
} bad_cases[] = {
	{ "line without =", GOOD "sender\n\n", 0, PROTO_BAD_REQUEST,
	    "line 2 has no '='" },
	{ "empty name", GOOD "=x\n\n", 0, PROTO_BAD_REQUEST,
	    "empty attribute name" },
	{ "NUL byte in value", GOOD "sender=a\0b\n\n",
	    sizeof(GOOD "sender=a\0b\n\n") - 1, PROTO_BAD_REQUEST,
	    "NUL byte" },
	{ "NUL byte in name", GOOD "sen\0der=a\n\n",
	    sizeof(GOOD "sen\0der=a\n\n") - 1, PROTO_BAD_REQUEST,
	    "NUL byte" },
	{ "no request attribute", "sender=a@b\n\n", 0, PROTO_BAD_REQUEST,
	    "no request attribute" },
	{ "wrong request type", "request=junk\nsender=a@b\n\n", 0,
	    PROTO_BAD_REQUEST, "not smtpd_access_policy" },
	{ "empty request", "\n", 0, PROTO_BAD_REQUEST, "empty request" },
	{ "CRLF only line ends request", "\r\n", 0, PROTO_BAD_REQUEST,
	    "empty request" },
};

static void
test_proto_malformed(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(bad_cases); i++) {
		char buf[256];
		size_t len = bad_cases[i].len ? bad_cases[i].len
					      : strlen(bad_cases[i].in);
		const char next[] = GOOD "sender=next@x.example\n\n";
		struct seen s[4];
		size_t n;

		print_message("case: %s\n", bad_cases[i].label);
		/* The bad request, then a good one: the parser resyncs. */
		memcpy(buf, bad_cases[i].in, len);
		memcpy(buf + len, next, sizeof(next) - 1);
		n = feed_whole(buf, len + sizeof(next) - 1, s, 4);
		assert_int_equal(n, 2);
		assert_int_equal(s[0].ev, bad_cases[i].want);
		assert_non_null(strstr(s[0].why, bad_cases[i].why));
		assert_int_equal(s[1].ev, PROTO_REQUEST);
		assert_string_equal(s[1].sender, "next@x.example");
	}
}

static void
test_proto_long_line_resyncs(void **state)
{
	size_t len = PROTO_MAX_LINE + 200, n;
	char *buf = xmalloc(len + 200);
	struct seen s[4];
	size_t o = 0;

	(void)state;
	o += (size_t)sprintf(buf, GOOD "sender=");
	memset(buf + o, 'x', PROTO_MAX_LINE);
	o += PROTO_MAX_LINE;
	o += (size_t)sprintf(buf + o, "\n\n" GOOD "sender=ok@x\n\n");
	n = feed_whole(buf, o, s, 4);
	assert_int_equal(n, 2);
	assert_int_equal(s[0].ev, PROTO_BAD_REQUEST);
	assert_non_null(strstr(s[0].why, "longer than 4096 bytes"));
	assert_int_equal(s[1].ev, PROTO_REQUEST);
	assert_string_equal(s[1].sender, "ok@x");
	free(buf);
}

static void
test_proto_line_at_limit(void **state)
{
	/* A line of exactly PROTO_MAX_LINE bytes is fine, CRLF or LF. */
	char *buf = xmalloc(PROTO_MAX_LINE + 100);
	const char *crlf[] = { "\n", "\r\n" };
	struct seen s[2];
	size_t o, k;

	(void)state;
	for (k = 0; k < 2; k++) {
		o = (size_t)sprintf(buf, GOOD);
		memcpy(buf + o, "sender=", 7);
		memset(buf + o + 7, 'y', PROTO_MAX_LINE - 7);
		o += PROTO_MAX_LINE;
		o += (size_t)sprintf(buf + o, "%s%s", crlf[k], crlf[k]);
		assert_int_equal(feed_whole(buf, o, s, 2), 1);
		assert_int_equal(s[0].ev, PROTO_REQUEST);
	}
	free(buf);
}

static void
test_proto_too_many_attributes(void **state)
{
	char *buf = xmalloc(32 * (PROTO_MAX_ATTRS + 10));
	struct seen s[2];
	size_t o;
	int i;

	(void)state;
	/* Exactly PROTO_MAX_ATTRS lines pass. */
	o = (size_t)sprintf(buf, GOOD);
	for (i = 1; i < PROTO_MAX_ATTRS; i++)
		o += (size_t)sprintf(buf + o, "x_%d=1\n", i);
	o += (size_t)sprintf(buf + o, "\n");
	assert_int_equal(feed_whole(buf, o, s, 2), 1);
	assert_int_equal(s[0].ev, PROTO_REQUEST);
	/* One more is a bad request. */
	o = (size_t)sprintf(buf, GOOD);
	for (i = 0; i < PROTO_MAX_ATTRS; i++)
		o += (size_t)sprintf(buf + o, "x_%d=1\n", i);
	o += (size_t)sprintf(buf + o, "\n");
	assert_int_equal(feed_whole(buf, o, s, 2), 1);
	assert_int_equal(s[0].ev, PROTO_BAD_REQUEST);
	assert_non_null(strstr(s[0].why, "more than 128 attributes"));
	free(buf);
}

static void
test_proto_request_too_big_is_fatal(void **state)
{
	/* Many long lines, no end: past PROTO_MAX_REQUEST bytes. */
	size_t len = PROTO_MAX_REQUEST + 4096, o = 0;
	char *buf = xmalloc(len);
	struct seen s[2];

	(void)state;
	while (o + 1001 <= len) {
		memset(buf + o, 'a', 1000);
		buf[o + 1000] = '\n';
		buf[o] = 'x';
		buf[o + 1] = '=';
		o += 1001;
	}
	assert_int_equal(feed_whole(buf, o, s, 2), 1);
	assert_int_equal(s[0].ev, PROTO_FATAL);
	assert_non_null(strstr(s[0].why, "longer than 65536 bytes"));
	/* A line without newline that never ends is fatal too. */
	memset(buf, 'z', len);
	assert_int_equal(feed_whole(buf, len, s, 2), 1);
	assert_int_equal(s[0].ev, PROTO_FATAL);
	free(buf);
}

/* The reference stream for the split tests: two requests and a bad one. */
static const char stream[] =
    "request=smtpd_access_policy\r\n"
    "protocol_state=RCPT\n"
    "sender=first@a.example\n"
    "unknown_attribute=ignored\n"
    "\n"
    "request=smtpd_access_policy\n"
    "sender=second@b.example\r\n"
    "\r\n"
    "request=smtpd_access_policy\n"
    "junk\n"
    "\n";

static void
check_stream(const struct seen *s, size_t n)
{
	assert_int_equal(n, 3);
	assert_int_equal(s[0].ev, PROTO_REQUEST);
	assert_string_equal(s[0].sender, "first@a.example");
	assert_int_equal(s[1].ev, PROTO_REQUEST);
	assert_string_equal(s[1].sender, "second@b.example");
	assert_int_equal(s[2].ev, PROTO_BAD_REQUEST);
}

static void
test_proto_every_split_position(void **state)
{
	size_t len = sizeof(stream) - 1, i, j;
	struct seen s[4];

	(void)state;
	check_stream(s, feed_whole(stream, len, s, 4));
	for (i = 0; i <= len; i++) {
		size_t cut[1] = { i };

		check_stream(s, feed_chunks(stream, len, cut, 1, s, 4));
	}
	/* Two cuts at every pair of positions of the first request. */
	for (i = 0; i < 60; i++) {
		for (j = i; j < 120; j++) {
			size_t cut[2] = { i, j };

			check_stream(s, feed_chunks(stream, len, cut, 2, s, 4));
		}
	}
}

static void
test_proto_byte_by_byte(void **state)
{
	size_t len = sizeof(stream) - 1, i;
	size_t cuts[sizeof(stream)];
	struct seen s[4];

	(void)state;
	for (i = 0; i < len; i++)
		cuts[i] = i + 1;
	check_stream(s, feed_chunks(stream, len, cuts, len, s, 4));
}

static void
test_proto_every_attribute_by_name(void **state)
{
	char buf[4096];
	struct proto_parser p;
	enum proto_event ev;
	size_t o = 0;
	int i;

	(void)state;
	for (i = 0; i < PA_COUNT; i++) {
		const char *name = proto_attr_name((enum proto_attr)i);

		assert_int_equal(proto_attr_lookup(name, strlen(name)), i);
		if (i == PA_REQUEST)
			o += (size_t)sprintf(buf + o,
			    "request=smtpd_access_policy\n");
		else
			o += (size_t)sprintf(buf + o, "%s=value-%d\n", name,
			    i);
	}
	o += (size_t)sprintf(buf + o, "\n");
	proto_init(&p);
	assert_int_equal(proto_feed(&p, buf, o, &ev), o);
	assert_int_equal(ev, PROTO_REQUEST);
	for (i = 1; i < PA_COUNT; i++) {
		char want[32];

		snprintf(want, sizeof(want), "value-%d", i);
		assert_string_equal(proto_get(&p, (enum proto_attr)i), want);
	}
	/* Names from Postfix 3.2 and 3.8 are known. */
	assert_int_equal(proto_attr_lookup("server_port", 11), PA_SERVER_PORT);
	assert_int_equal(proto_attr_lookup("mail_version", 12),
	    PA_MAIL_VERSION);
	assert_int_equal(proto_attr_lookup("sender_x", 8), -1);
	assert_int_equal(proto_attr_lookup("send", 4), -1);
	/* Names of a known name's length, longer than any, other case. */
	assert_int_equal(proto_attr_lookup("recipienx", 9), -1);
	assert_int_equal(proto_attr_lookup("helo_namf", 9), -1);
	assert_int_equal(proto_attr_lookup("SENDER", 6), -1);
	assert_int_equal(proto_attr_lookup("ccert_pubkey_fingerprintx", 25),
	    -1);
	assert_int_equal(proto_attr_lookup("sender=x", 6), PA_SENDER);
	proto_fini(&p);
}

static void
test_proto_repeat_keeps_last_and_empty_value(void **state)
{
	const char in[] = GOOD "sender=one@x\nsender=two@x\nhelo_name=\n\n";
	struct proto_parser p;
	enum proto_event ev;

	(void)state;
	proto_init(&p);
	proto_feed(&p, in, strlen(in), &ev);
	assert_int_equal(ev, PROTO_REQUEST);
	assert_string_equal(proto_get(&p, PA_SENDER), "two@x");
	assert_string_equal(proto_get(&p, PA_HELO_NAME), "");
	assert_null(proto_get(&p, PA_RECIPIENT));
	/* Values are gone with the next request. */
	proto_feed(&p, in, strlen(in), &ev);
	assert_string_equal(proto_get(&p, PA_SENDER), "two@x");
	proto_fini(&p);
}

static void
test_proto_pending(void **state)
{
	struct proto_parser p;
	enum proto_event ev;

	(void)state;
	proto_init(&p);
	assert_false(proto_pending(&p));
	proto_feed(&p, "request=smtpd", 13, &ev);
	assert_int_equal(ev, PROTO_NEED_MORE);
	assert_true(proto_pending(&p));
	proto_feed(&p, "_access_policy\n\n", 16, &ev);
	assert_int_equal(ev, PROTO_REQUEST);
	assert_false(proto_pending(&p));
	proto_fini(&p);
}

static const struct {
	const char *label;
	const char *action;
	size_t len;
	const char *want;
} reply_cases[] = {
	{ "plain", "DUNNO", 5, "action=DUNNO\n\n" },
	{ "CR LF stripped", "REJECT a\r\nb", 11, "action=REJECT ab\n\n" },
	{ "NUL stripped", "REJECT a\0b", 10, "action=REJECT ab\n\n" },
	{ "trailing blanks dropped", "OK  ", 4, "action=OK\n\n" },
	{ "empty", "", 0, "action=\n\n" },
};

static void
test_proto_reply(void **state)
{
	char out[PROTO_REPLY_SIZE];
	size_t i, n;

	(void)state;
	for (i = 0; i < nitems(reply_cases); i++) {
		print_message("case: %s\n", reply_cases[i].label);
		n = proto_reply(out, reply_cases[i].action, reply_cases[i].len);
		assert_string_equal(out, reply_cases[i].want);
		assert_int_equal(n, strlen(reply_cases[i].want));
	}
}

static void
test_proto_reply_bounded(void **state)
{
	char big[2000], out[PROTO_REPLY_SIZE];
	size_t n, i;

	(void)state;
	memset(big, 'r', sizeof(big));
	n = proto_reply(out, big, sizeof(big));
	assert_int_equal(n, 7 + PROTO_MAX_ACTION + 2);
	assert_memory_equal(out + n - 2, "\n\n", 2);
	/* A 2-byte UTF-8 character straddling the limit is dropped whole. */
	big[0] = 'x'; /* shift so a character straddles the cut */
	for (i = 1; i + 1 < sizeof(big); i += 2) {
		big[i] = (char)0xc3;
		big[i + 1] = (char)0xa9; /* e acute */
	}
	n = proto_reply(out, big, 1 + 2 * 300);
	assert_true(n - 9 <= PROTO_MAX_ACTION);
	assert_int_equal((n - 9) % 2, 1); /* 'x' + whole characters */
	assert_int_equal((unsigned char)out[n - 3], 0xa9);
	/* At the bound exactly, all of it, as is; a CR or NUL anywhere in
	 * a long text still goes (one copy at once is only for a text
	 * with nothing to take out). */
	memset(big, 'r', sizeof(big));
	n = proto_reply(out, big, PROTO_MAX_ACTION);
	assert_int_equal(n, 7 + PROTO_MAX_ACTION + 2);
	big[PROTO_MAX_ACTION - 1] = '\r';
	big[100] = '\0';
	n = proto_reply(out, big, PROTO_MAX_ACTION);
	assert_int_equal(n, 7 + PROTO_MAX_ACTION - 2 + 2);
	assert_null(memchr(out, '\r', n));
	assert_int_equal(strlen(out), n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_one_request),
		cmocka_unit_test(test_proto_malformed),
		cmocka_unit_test(test_proto_long_line_resyncs),
		cmocka_unit_test(test_proto_line_at_limit),
		cmocka_unit_test(test_proto_too_many_attributes),
		cmocka_unit_test(test_proto_request_too_big_is_fatal),
		cmocka_unit_test(test_proto_every_split_position),
		cmocka_unit_test(test_proto_byte_by_byte),
		cmocka_unit_test(test_proto_every_attribute_by_name),
		cmocka_unit_test(test_proto_repeat_keeps_last_and_empty_value),
		cmocka_unit_test(test_proto_pending),
		cmocka_unit_test(test_proto_reply),
		cmocka_unit_test(test_proto_reply_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
