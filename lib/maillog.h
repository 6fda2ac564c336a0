/*
 * maillog - our users' past deliveries read from Postfix's mail log, so
 * that a site switching to policyd has its outbound history (what the
 * outbound state module records from then on) at once: backscatter
 * detection needs bounce_window of it, correspondents need it to skip
 * greylisting. policyctl outbound import-log feeds it.
 *
 * A delivery is a qmgr line that names the queue ID's sender,
 *   ... postfix/qmgr[12]: 4F1A2B3C4D: from=<a@our.example>, size=9, ...
 * then an smtp line per recipient it reached,
 *   ... postfix/smtp[34]: 4F1A2B3C4D: to=<b@far.example>, relay=...,
 *       status=sent (250 ok)
 * (any syslog_name ending in "/smtp": postfix-out/smtp too). The time is
 * the line's: RFC 3339 (2026-12-02T18:58:06.123+01:00) or the classic
 * "Dec  2 18:58:06" in local time, in the latest year not after now.
 * Everything else (other programs, deferred or bounced deliveries, lines
 * longer than MAILLOG_LINE_MAX) is skipped; a stranger chose the
 * addresses, so each is bounded and checked like a request's.
 */
#ifndef POLICYD_MAILLOG_H
#define POLICYD_MAILLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#define MAILLOG_LINE_MAX 8192  /* longer lines are skipped */
#define MAILLOG_QUEUE_MAX 65536 /* queue IDs remembered at once */
#define MAILLOG_ADDR_MAX 320

struct maillog;

/* One recipient a sender reached. */
struct maillog_sent {
	int64_t t;
	char sender[MAILLOG_ADDR_MAX + 1]; /* lower-cased */
	char rcpt[MAILLOG_ADDR_MAX + 1];   /* lower-cased */
};

/* maillog_new - a reader; now: the clock classic timestamps are read by */
struct maillog *maillog_new(int64_t now);
void maillog_free(struct maillog *m);
/*
 * maillog_line - one line (without its newline); true and *out filled
 * when it is a delivery to a recipient that a known sender reached
 */
bool maillog_line(struct maillog *m, const char *line, size_t len,
    struct maillog_sent *out);
/*
 * maillog_read_line - the next line of fp without its newline, in buf
 * (size bytes): false at the end. A line that does not fit is read to
 * its end and *overlong set (what fits is in buf); a NUL byte stays in
 * the line (maillog_line refuses it). policyctl reads its input so too.
 */
bool maillog_read_line(FILE *fp, char *buf, size_t size, size_t *len,
    bool *overlong);
/*
 * maillog_time - a line's timestamp (RFC 3339 or classic syslog) and
 * where it ends; false if the line starts with neither
 */
bool maillog_time(const char *s, size_t len, int64_t now, int64_t *t,
    size_t *end);

struct store;
struct why;

struct maillog_stats {
	uint64_t lines, deliveries, strangers, old;
	uint64_t overlong; /* lines longer than MAILLOG_LINE_MAX: skipped */
	int64_t since; /* the earliest delivery imported; 0: none */
	int64_t last_mail; /* the latest delivery imported; 0: none */
	/*
	 * The newest stretch of the log without a gap longer than max_gap
	 * between two lines (in whatever order the files came: zcat -f
	 * mail.log* gives the newest first); 0, 0 if no line had a time.
	 */
	int64_t first, last;
	/* The coverage of our users' history after the import. */
	int64_t cover_since, cover_until, cover_last;
};

/*
 * maillog_import - the deliveries of fp's log whose sender is at one of
 * domains (or below one) into the outbound table, as the outbound module
 * writes them: the sender's last mail, and per remote recipient the last
 * time it was written to (a recipient at one of domains is no
 * correspondent), each kept for keep seconds after it; a newer time in
 * the table stays. The log's newest stretch without a gap (stats->first
 * to ->last) is joined to the history's coverage (OUTBOUND_COVER) when
 * the two meet within max_gap, else it is the coverage if it is newer:
 * a log that misses days covers only what came after them. Deliveries
 * older than keep are left out. 0, or -1 with why (a store error).
 */
int maillog_import(FILE *fp, struct store *st, uv_loop_t *loop,
    char *const *domains, size_t ndomains, int64_t keep, int64_t max_gap,
    int64_t now, struct maillog_stats *stats, struct why *why);

/*
 * The same line by line, for a log that comes in pieces (through the
 * daemon's control socket): new, a line at a time (without its newline;
 * overlong: it was cut), end (the last batch and the coverage; stats
 * filled), free. A line writes at most one batch: bounded work. A store
 * error fails the import (-1 with why); free() it then.
 */
struct maillog_import;
struct maillog_import *maillog_import_new(char *const *domains,
    size_t ndomains, int64_t keep, int64_t max_gap, int64_t now);
int maillog_import_line(struct maillog_import *im, const char *line,
    size_t len, bool overlong, struct store *st, uv_loop_t *loop,
    struct why *why);
int maillog_import_end(struct maillog_import *im, struct store *st,
    uv_loop_t *loop, struct maillog_stats *stats, struct why *why);
void maillog_import_free(struct maillog_import *im);

#endif
