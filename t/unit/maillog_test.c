/*
 * maillog_test - Postfix's mail log read for our users' deliveries: both
 * timestamp forms (RFC 3339 with offsets, the classic one in the latest
 * year not after now), qmgr then smtp lines of one queue ID, multi-
 * instance syslog names, and what must never count as a delivery: a
 * deferral whose remote text says "status=sent", other programs, a
 * queue ID whose sender was never seen or was removed, the null sender,
 * non-addresses, overlong lines; the queue table stays bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maillog.h"
#include "outbound.h"
#include "store.h"
#include "xalloc.h"

#define NOW 1764700000 /* 2025-12-02T18:26:40Z */

static bool
line(struct maillog *m, const char *s, struct maillog_sent *d)
{
	return maillog_line(m, s, strlen(s), d);
}

static void
test_maillog_rfc3339_times_with_offsets(void **state)
{
	int64_t t;
	size_t end;

	(void)state;
	assert_true(maillog_time("2025-12-02T18:26:40Z x", 22, NOW, &t,
	    &end));
	assert_int_equal(t, NOW);
	assert_int_equal(end, 20);
	assert_true(maillog_time("2025-12-02T19:26:40.123456+01:00 x", 34,
	    NOW, &t, &end));
	assert_int_equal(t, NOW);
	assert_int_equal(end, 32);
	assert_true(maillog_time("2025-12-02T13:26:40-05:00", 25, NOW, &t,
	    &end));
	assert_int_equal(t, NOW);
	/* Leap day, and the epoch. */
	assert_true(maillog_time("2024-02-29T00:00:00Z", 20, NOW, &t, &end));
	assert_int_equal(t, 1709164800);
	assert_true(maillog_time("1970-01-01T00:00:00Z", 20, NOW, &t, &end));
	assert_int_equal(t, 0);
	assert_false(maillog_time("2025-13-02T18:26:40Z", 20, NOW, &t,
	    &end));
	assert_false(maillog_time("2025-12-02T18:26:40", 19, NOW, &t, &end));
	assert_false(maillog_time("2025-12-02T18:26:40+1:00", 24, NOW, &t,
	    &end));
}

static void
test_maillog_classic_times_take_the_latest_year(void **state)
{
	int64_t t;
	size_t end;

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	assert_true(maillog_time("Dec  2 18:26:40 mx", 18, NOW, &t, &end));
	assert_int_equal(t, NOW);
	assert_int_equal(end, 15);
	assert_true(maillog_time("Nov 30 00:00:00", 15, NOW, &t, &end));
	assert_int_equal(t, 1764460800);
	/* Read on 2 December: a line of 20 December is last year's. */
	assert_true(maillog_time("Dec 20 00:00:00", 15, NOW, &t, &end));
	assert_int_equal(t, 1766188800 - 365 * 86400);
	/* In the machine's zone, as syslog wrote it. */
	setenv("TZ", "CET-1", 1);
	tzset();
	assert_true(maillog_time("Dec  2 19:26:40", 15, NOW, &t, &end));
	assert_int_equal(t, NOW);
	setenv("TZ", "UTC", 1);
	tzset();
	assert_false(maillog_time("Foo  2 19:26:40", 15, NOW, &t, &end));
	assert_false(maillog_time("Dec 32 19:26:40", 15, NOW, &t, &end));
	assert_false(maillog_time("Dec  2 19:26", 12, NOW, &t, &end));
}

static void
test_maillog_delivery_from_qmgr_and_smtp_lines(void **state)
{
	struct maillog *m = maillog_new(NOW);
	struct maillog_sent d;

	(void)state;
	assert_false(line(m, "2025-12-02T18:00:00Z mx postfix/qmgr[100]: "
	    "4F1A2B3C4D: from=<Alice@Our.Example>, size=900, nrcpt=2 (queue "
	    "active)", &d));
	assert_true(line(m, "2025-12-02T18:00:01Z mx postfix/smtp[101]: "
	    "4F1A2B3C4D: to=<Bob@Remote.example>, relay=mx.remote.example"
	    "[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent "
	    "(250 2.0.0 Ok)", &d));
	assert_string_equal(d.sender, "alice@our.example");
	assert_string_equal(d.rcpt, "bob@remote.example");
	assert_int_equal(d.t, 1764698401);
	/* Postfix's own status first: a remote text proves nothing. */
	assert_false(line(m, "2025-12-02T18:00:02Z mx postfix/smtp[101]: "
	    "4F1A2B3C4D: to=<carl@remote.example>, relay=mx.remote.example"
	    "[192.0.2.1]:25, delay=1, dsn=4.0.0, status=deferred (host said: "
	    "x, status=sent (250))", &d));
	assert_false(line(m, "2025-12-02T18:00:02Z mx postfix/smtp[101]: "
	    "4F1A2B3C4D: to=<carl@remote.example>, relay=none, delay=1, "
	    "dsn=5.0.0, status=bounced (host (x, status=sent ) said)", &d));
	/* Another instance's syslog name, orig_to; then the queue file goes. */
	assert_false(line(m, "Dec  2 18:00:03 mx postfix-out/qmgr[7]: "
	    "ABCDE12345: from=<dave@our.example>, size=1, nrcpt=1 (queue "
	    "active)", &d));
	assert_true(line(m, "Dec  2 18:00:04 mx postfix-out/smtp[8]: "
	    "ABCDE12345: to=<erin@far.example>, orig_to=<e@far.example>, "
	    "relay=mx.far.example[192.0.2.2]:25, delay=1, dsn=2.0.0, "
	    "status=sent (250 ok)", &d));
	assert_string_equal(d.rcpt, "erin@far.example");
	assert_false(line(m, "Dec  2 18:00:05 mx postfix-out/qmgr[7]: "
	    "ABCDE12345: removed", &d));
	assert_false(line(m, "Dec  2 18:00:06 mx postfix-out/smtp[8]: "
	    "ABCDE12345: to=<erin@far.example>, relay=mx.far.example"
	    "[192.0.2.2]:25, dsn=2.0.0, status=sent (250 ok)", &d));
	maillog_free(m);
}

static void
test_maillog_what_is_no_delivery(void **state)
{
	static const char *const no[] = {
		/* A queue ID never seen. */
		"Dec  2 18:00:00 mx postfix/smtp[1]: 99999ABCDE: to=<a@b.example>"
		", relay=x[192.0.2.1]:25, dsn=2.0.0, status=sent (250)",
		/* Local delivery, lmtp, another program. */
		"Dec  2 18:00:00 mx postfix/local[1]: 4F1A2B3C4D: to=<a@b.example>"
		", relay=local, dsn=2.0.0, status=sent (delivered)",
		"Dec  2 18:00:00 mx postfix/lmtp[1]: 4F1A2B3C4D: to=<a@b.example>"
		", relay=x, dsn=2.0.0, status=sent (250)",
		"Dec  2 18:00:00 mx dovecot/smtp[1]: 4F1A2B3C4D: to=<a@b.example>"
		", relay=x, dsn=2.0.0, status=sent (250)",
		/* Not an address. */
		"Dec  2 18:00:00 mx postfix/smtp[1]: 4F1A2B3C4D: to=<nobody>"
		", relay=x, dsn=2.0.0, status=sent (250)",
		"Dec  2 18:00:00 mx postfix/smtp[1]: 4F1A2B3C4D: to=<a b@c.example>"
		", relay=x, dsn=2.0.0, status=sent (250)",
		"Dec  2 18:00:00 mx postfix/smtp[1]: 4F1A2B3C4D: to=<@c.example>"
		", relay=x, dsn=2.0.0, status=sent (250)",
		"Dec  2 18:00:00 mx postfix/smtp[1]: 4F1A2B3C4D: to=<a@b.example"
		" relay=x, dsn=2.0.0, status=sent (250)",
		/* A short queue ID, no queue ID, no timestamp. */
		"Dec  2 18:00:00 mx postfix/smtp[1]: 4F1A: to=<a@b.example>"
		", relay=x, dsn=2.0.0, status=sent (250)",
		"Dec  2 18:00:00 mx postfix/smtp[1]: to=<a@b.example>"
		", relay=x, dsn=2.0.0, status=sent (250)",
		"mx postfix/smtp[1]: 4F1A2B3C4D: to=<a@b.example>"
		", relay=x, dsn=2.0.0, status=sent (250)",
		"",
	};
	struct maillog *m = maillog_new(NOW);
	struct maillog_sent d;
	char *big;
	size_t i;

	(void)state;
	assert_false(line(m, "Dec  2 18:00:00 mx postfix/qmgr[1]: 4F1A2B3C4D: "
	    "from=<alice@our.example>, size=1, nrcpt=1 (queue active)", &d));
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		print_message("case %zu\n", i);
		assert_false(line(m, no[i], &d));
	}
	/* The null sender (our bounces) is nobody's. */
	assert_false(line(m, "Dec  2 18:00:00 mx postfix/qmgr[1]: 5F1A2B3C4D: "
	    "from=<>, size=1, nrcpt=1 (queue active)", &d));
	assert_false(line(m, "Dec  2 18:00:00 mx postfix/smtp[1]: 5F1A2B3C4D: "
	    "to=<a@b.example>, relay=x, dsn=2.0.0, status=sent (250)", &d));
	/* A line too long is skipped whole. */
	big = malloc(MAILLOG_LINE_MAX + 100);
	snprintf(big, MAILLOG_LINE_MAX + 100, "Dec  2 18:00:00 mx postfix/"
	    "smtp[1]: 4F1A2B3C4D: to=<a@b.example>, relay=x, dsn=2.0.0, "
	    "status=sent (");
	memset(big + strlen(big), 'x', MAILLOG_LINE_MAX);
	big[MAILLOG_LINE_MAX + 50] = '\0';
	assert_false(line(m, big, &d));
	free(big);
	/* The line before still counts. */
	assert_true(line(m, "Dec  2 18:00:00 mx postfix/smtp[1]: 4F1A2B3C4D: "
	    "to=<a@b.example>, relay=x, dsn=2.0.0, status=sent (250)", &d));
	maillog_free(m);
}

/* A log of messages that never end: the table starts over, bounded. */
static void
test_maillog_queue_table_stays_bounded(void **state)
{
	struct maillog *m = maillog_new(NOW);
	struct maillog_sent d;
	char buf[200];
	unsigned i;

	(void)state;
	for (i = 0; i < MAILLOG_QUEUE_MAX + 10; i++) {
		snprintf(buf, sizeof(buf), "Dec  2 18:00:00 mx postfix/qmgr[1]: "
		    "Q%09u: from=<u%u@our.example>, size=1, nrcpt=1", i, i);
		assert_false(line(m, buf, &d));
	}
	/* The newest are known, the oldest were let go. */
	snprintf(buf, sizeof(buf), "Dec  2 18:00:01 mx postfix/smtp[1]: "
	    "Q%09u: to=<x@far.example>, relay=x, dsn=2.0.0, status=sent (ok)",
	    MAILLOG_QUEUE_MAX + 9);
	assert_true(line(m, buf, &d));
	snprintf(buf, sizeof(buf), "Dec  2 18:00:01 mx postfix/smtp[1]: "
	    "Q%09u: to=<x@far.example>, relay=x, dsn=2.0.0, status=sent (ok)",
	    0u);
	assert_false(line(m, buf, &d));
	maillog_free(m);
}

/*
 * The importer reads bounded lines: a line of a megabyte without a
 * newline is skipped and counted, one with a NUL in it is refused alone,
 * and the deliveries around them are imported into the outbound table
 * (the sender's record, the correspondent, the history's start).
 */
static void
test_maillog_import_bounds_lines(void **state)
{
	char dom[] = "our.example", *domains[] = { dom };
	struct maillog_stats ms;
	struct store_waiter w;
	struct why why;
	uv_loop_t loop;
	struct store *st;
	FILE *fp = tmpfile();
	char key[128];
	size_t i, kl;

	(void)state;
	assert_non_null(fp);
	fputs("2025-12-02T18:00:00Z mx postfix/qmgr[1]: 4F1A2B3C4D: "
	    "from=<alice@our.example>, size=1, nrcpt=1 (queue active)\n", fp);
	for (i = 0; i < 1000000; i++)
		fputc('x', fp);
	fputc('\n', fp);
	fputs("2025-12-02T18:00:01Z mx postfix/smtp[2]: 4F1A2B3C4D: "
	    "to=<nul@far.example>, relay=x, dsn=2.0.0, status=sent (ok)", fp);
	fputc('\0', fp);
	fputs("\n2025-12-02T18:00:02Z mx postfix/smtp[2]: 4F1A2B3C4D: "
	    "to=<bob@far.example>, relay=x, dsn=2.0.0, status=sent (ok)", fp);
	rewind(fp);
	assert_int_equal(uv_loop_init(&loop), 0);
	st = store_open_mem(&loop, 0);
	assert_int_equal(maillog_import(fp, st, &loop, domains,
	    1, 35 * 86400, 6 * 3600, NOW, &ms, &why), 0);
	fclose(fp);
	assert_int_equal(ms.lines, 4);
	assert_int_equal(ms.overlong, 1);
	assert_int_equal(ms.deliveries, 1);
	assert_int_equal(ms.since, 1764698402);
	kl = outbound_key(key, sizeof(key), "alice@our.example",
	    "bob@far.example");
	store_waiter_init(&w, &loop);
	assert_int_equal(store_wait(&w, st->ops->get(st, OUTBOUND_TABLE, key,
	    kl, &w.call)), 0);
	assert_int_equal(store_get_u64(w.reply.val), 1764698402);
	kl = outbound_key(key, sizeof(key), "alice@our.example",
	    "nul@far.example");
	store_waiter_init(&w, &loop);
	assert_int_equal(store_wait(&w, st->ops->get(st, OUTBOUND_TABLE, key,
	    kl, &w.call)), STORE_NOTFOUND);
	st->ops->close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* log_day - a day of a log: a delivery of alice's at 18:00, then a
 * line an hour for the rest of the day */
static void
log_day(FILE *fp, const char *day, const char *qid)
{
	int h;

	fprintf(fp, "%sT18:00:00Z mx postfix/qmgr[1]: %s: "
	    "from=<alice@our.example>, size=1, nrcpt=1 (queue active)\n"
	    "%sT18:00:01Z mx postfix/smtp[2]: %s: to=<bob@far.example>, "
	    "relay=x, dsn=2.0.0, status=sent (ok)\n", day, qid, day, qid);
	for (h = 0; h < 24; h++)
		fprintf(fp, "%sT%02d:30:00Z mx postfix/anvil[3]: statistics: "
		    "max connection rate 1/60s\n", day, h);
}

/* import - fp into a fresh memory store; the stats */
static struct maillog_stats
import(FILE *fp, int64_t now, struct outbound_cover *pre)
{
	char dom[] = "our.example", *domains[] = { dom };
	struct maillog_stats ms;
	struct store_waiter w;
	struct why why;
	uv_loop_t loop;
	struct store *st;

	rewind(fp);
	assert_int_equal(uv_loop_init(&loop), 0);
	st = store_open_mem(&loop, 0);
	if (pre != NULL) {
		unsigned char v[24];
		struct store_rec r = { OUTBOUND_COVER,
			sizeof(OUTBOUND_COVER) - 1, v, 24, 0, NULL };

		outbound_cover_encode(pre, v);
		store_waiter_init(&w, &loop);
		assert_int_equal(store_wait(&w, st->ops->put(st,
		    OUTBOUND_TABLE, &r, 1, &w.call)), 0);
	}
	assert_int_equal(maillog_import(fp, st, &loop, domains, 1,
	    35 * 86400, 6 * 3600, now, &ms, &why), 0);
	st->ops->close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	return ms;
}

/*
 * A log without its two newest days (Debian's mail.log and mail.log.1
 * left out of "zcat mail.log.*.gz") covers only up to its newest line:
 * the coverage does not reach the present, so detection does not start
 * on it. Read in zcat -f's order (the newest file first), the history
 * covers only its newest stretch: days missing in the middle cut it.
 */
static void
test_maillog_import_without_the_newest_days_does_not_start_detection(
    void **state)
{
	FILE *fp = tmpfile();
	struct maillog_stats ms;
	struct outbound_cover c;
	int64_t starts, now = 1764720000; /* 2025-12-03T00:00:00Z */

	(void)state;
	assert_non_null(fp);
	/* mail.log.2.gz .. mail.log.9.gz: 2025-11-23 to 2025-11-30. */
	log_day(fp, "2025-11-30", "A0000A");
	log_day(fp, "2025-11-29", "A0000B");
	log_day(fp, "2025-11-28", "A0000C");
	log_day(fp, "2025-11-27", "A0000D");
	log_day(fp, "2025-11-26", "A0000E");
	log_day(fp, "2025-11-25", "A0000F");
	log_day(fp, "2025-11-24", "A0000G");
	log_day(fp, "2025-11-23", "A0000H");
	ms = import(fp, now, NULL);
	assert_int_equal(ms.deliveries, 8);
	assert_int_equal(ms.first, 1763856000 + 30 * 60); /* 11-23 00:30 */
	assert_int_equal(ms.last, 1764545400 + 59);       /* 11-30 23:30 */
	c = (struct outbound_cover){ ms.cover_since, ms.cover_until,
	    ms.cover_last };
	assert_int_equal(c.since, ms.first);
	/* A week of history, but two days short of now: not live. */
	assert_false(outbound_cover_live(&c, now, 7 * 86400, OUTBOUND_MAX_GAP,
	    &starts));
	/* The whole log, newest first as zcat -f mail.log* reads it, with
	 * 11-26 and 11-27 lost: only 11-28 on counts. */
	fclose(fp);
	fp = tmpfile();
	log_day(fp, "2025-12-02", "B0000A");
	log_day(fp, "2025-12-01", "B0000B");
	log_day(fp, "2025-11-30", "A0000A");
	log_day(fp, "2025-11-29", "A0000B");
	log_day(fp, "2025-11-28", "A0000C");
	log_day(fp, "2025-11-25", "A0000F");
	log_day(fp, "2025-11-24", "A0000G");
	ms = import(fp, now, NULL);
	assert_int_equal(ms.first, 1764288000 + 30 * 60); /* 11-28 00:30 */
	assert_int_equal(ms.last, 1764718200 + 59);       /* 12-02 23:30 */
	c = (struct outbound_cover){ ms.cover_since, ms.cover_until,
	    ms.cover_last };
	assert_false(outbound_cover_live(&c, now, 7 * 86400, OUTBOUND_MAX_GAP,
	    &starts));
	assert_int_equal(starts, ms.first + 7 * 86400);
	assert_true(outbound_cover_live(&c, now, 4 * 86400, OUTBOUND_MAX_GAP,
	    &starts));
	/* The daemon's own coverage since 12-02 20:00 joins it. */
	c = (struct outbound_cover){ 1764705600, now, 0 };
	ms = import(fp, now, &c);
	assert_int_equal(ms.cover_since, 1764288000 + 30 * 60);
	assert_int_equal(ms.cover_until, now);
	/* A daemon that ran until a week ago only: the log is newer. */
	c = (struct outbound_cover){ 1763000000, 1763500000, 0 };
	ms = import(fp, now, &c);
	assert_int_equal(ms.cover_since, 1764288000 + 30 * 60);
	fclose(fp);
}

/*
 * The coverage's rules, as the daemon's heartbeat and the importer use
 * them: stretches that meet within the gap join; one after a longer gap
 * starts the history anew; an older one is left out; detection is live
 * only when the coverage reaches now and spans the window.
 */
static void
test_outbound_cover_a_gap_starts_the_history_anew(void **state)
{
	static const struct {
		const char *label;
		struct outbound_cover old, add, want;
	} cases[] = {
		{ "nothing kept", { 0, 0, 0 }, { 100, 200, 0 }, { 100, 200, 0 } },
		{ "a heartbeat a minute later", { 100, 5000, 0 }, { 5060, 5060, 0 },
		    { 100, 5060, 0 } },
		{ "a heartbeat within the gap", { 100, 5000, 0 }, { 8600, 8600, 0 },
		    { 100, 8600, 0 } },
		{ "a heartbeat after a longer stop", { 100, 5000, 0 },
		    { 8601, 8601, 0 }, { 8601, 8601, 0 } },
		{ "an older log that meets it", { 10000, 20000, 0 },
		    { 1000, 9000, 0 }, { 1000, 20000, 0 } },
		{ "an older log apart from it", { 10000, 20000, 0 },
		    { 1000, 6000, 0 }, { 10000, 20000, 0 } },
		{ "a log inside it", { 1000, 20000, 0 }, { 5000, 6000, 0 },
		    { 1000, 20000, 0 } },
	};
	int64_t starts;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outbound_cover u = outbound_cover_join(&cases[i].old,
		    &cases[i].add, OUTBOUND_MAX_GAP);

		print_message("case: %s\n", cases[i].label);
		assert_int_equal(u.since, cases[i].want.since);
		assert_int_equal(u.until, cases[i].want.until);
	}
	assert_true(outbound_cover_live(&(struct outbound_cover){ 1000,
	    1000 + 7 * 86400, 1000 }, 1000 + 7 * 86400 + 60, 7 * 86400,
	    OUTBOUND_MAX_GAP, &starts));
	/* Not reaching now: no start can be said. */
	assert_false(outbound_cover_live(&(struct outbound_cover){ 1000,
	    1000 + 7 * 86400, 1000 }, 1000 + 8 * 86400, 7 * 86400, OUTBOUND_MAX_GAP,
	    &starts));
	assert_int_equal(starts, 0);
	/* Too short: it says when. */
	assert_false(outbound_cover_live(&(struct outbound_cover){ 1000,
	    90000, 1000 }, 90000, 7 * 86400, OUTBOUND_MAX_GAP, &starts));
	assert_int_equal(starts, 1000 + 7 * 86400);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maillog_rfc3339_times_with_offsets),
		cmocka_unit_test(test_maillog_classic_times_take_the_latest_year),
		cmocka_unit_test(test_maillog_delivery_from_qmgr_and_smtp_lines),
		cmocka_unit_test(test_maillog_what_is_no_delivery),
		cmocka_unit_test(test_maillog_queue_table_stays_bounded),
		cmocka_unit_test(test_maillog_import_bounds_lines),
		cmocka_unit_test(
		    test_outbound_cover_a_gap_starts_the_history_anew),
		cmocka_unit_test(
		    test_maillog_import_without_the_newest_days_does_not_start_detection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
