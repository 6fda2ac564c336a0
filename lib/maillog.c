/*
 * maillog - our users' deliveries from Postfix's mail log (maillog.h).
 */
#include "maillog.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outbound.h"
#include "store.h"
#include "xalloc.h"

#define QID_MAX  24
#define BUCKETS  4096

/* A queue ID whose sender a qmgr line named. */
struct qent {
	struct qent *next;
	char qid[QID_MAX + 1];
	char sender[MAILLOG_ADDR_MAX + 1];
};

struct maillog {
	int64_t now;
	struct qent *b[BUCKETS];
	size_t n;
};

struct maillog *
maillog_new(int64_t now)
{
	struct maillog *m = xcalloc(1, sizeof(*m));

	m->now = now;
	return m;
}

static void
clear(struct maillog *m)
{
	size_t i;

	for (i = 0; i < BUCKETS; i++) {
		while (m->b[i] != NULL) {
			struct qent *e = m->b[i];

			m->b[i] = e->next;
			free(e);
		}
	}
	m->n = 0;
}

void
maillog_free(struct maillog *m)
{
	if (m == NULL)
		return;
	clear(m);
	free(m);
}

static unsigned
hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % BUCKETS;
}

static struct qent **
find(struct maillog *m, const char *qid)
{
	struct qent **e;

	for (e = &m->b[hash(qid)]; *e != NULL; e = &(*e)->next)
		if (strcmp((*e)->qid, qid) == 0)
			return e;
	return e;
}

/* digits - n decimal digits at s, or -1 */
static int
digits(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* days_from_civil - days since 1970-01-01 of a proleptic Gregorian date */
static int64_t
days_from_civil(int64_t y, unsigned mo, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= mo <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* rfc3339 - 2026-12-02T18:58:06[.frac](Z|+HH:MM) */
static bool
rfc3339(const char *s, size_t len, int64_t *t, size_t *end)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	size_t i = 19;

	if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' &&
	    s[10] != ' ') || s[13] != ':' || s[16] != ':')
		return false;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 ||
	    h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
		return false;
	if (s[i] == '.')
		for (i++; i < len && isdigit((unsigned char)s[i]); i++)
			;
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i + 6 <= len && (s[i] == '+' || s[i] == '-') &&
	    s[i + 3] == ':') {
		sign = s[i] == '+' ? 1 : -1;
		oh = digits(s + i + 1, 2);
		om = digits(s + i + 4, 2);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return false;
		i += 6;
	} else {
		return false;
	}
	*t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	    h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
	*end = i;
	return true;
}

/* local_time - the time of a local date and clock in year (tm_year) */
static time_t
local_time(int year, int mon, int d, int h, int mi, int sec)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year;
	tm.tm_mon = mon;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

/* classic - "Dec  2 18:58:06", local time, the latest year not after now */
static bool
classic(const char *s, size_t len, int64_t now, int64_t *t, size_t *end)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *p;
	struct tm nt;
	time_t tt = (time_t)now, r;
	int d, h, mi, sec, mon;

	if (len < 15 || s[3] != ' ' || s[6] != ' ' || s[9] != ':' ||
	    s[12] != ':')
		return false;
	for (p = months; *p; p += 3)
		if (strncmp(p, s, 3) == 0)
			break;
	if (*p == '\0')
		return false;
	mon = (int)(p - months) / 3;
	d = s[4] == ' ' ? digits(s + 5, 1) : digits(s + 4, 2);
	h = digits(s + 7, 2);
	mi = digits(s + 10, 2);
	sec = digits(s + 13, 2);
	if (d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    sec < 0 || sec > 60)
		return false;
	localtime_r(&tt, &nt);
	r = local_time(nt.tm_year, mon, d, h, mi, sec);
	/* December's lines read in January are last year's. */
	if (r != (time_t)-1 && (int64_t)r > now + 86400)
		r = local_time(nt.tm_year - 1, mon, d, h, mi, sec);
	if (r == (time_t)-1)
		return false;
	*t = (int64_t)r;
	*end = 15;
	return true;
}

bool
maillog_time(const char *s, size_t len, int64_t now, int64_t *t,
    size_t *end)
{
	return rfc3339(s, len, t, end) || classic(s, len, now, t, end);
}

/*
 * addr - the address of field name=<...> in s (up to the '>' that ends
 * the field), lower-cased into out; false if absent, empty, too long, or
 * not an address
 */
static bool
addr(const char *s, const char *name, char *out, bool *null)
{
	const char *p = strstr(s, name), *q;
	size_t n, i;

	*null = false;
	if (p == NULL || (p != s && p[-1] != ' '))
		return false;
	p += strlen(name);
	if (*p++ != '<')
		return false;
	for (q = p; *q; q++)
		if (*q == '>' && (q[1] == ',' || q[1] == '\0'))
			break;
	if (*q != '>')
		return false;
	n = (size_t)(q - p);
	if (n == 0) {
		*null = true;
		return false;
	}
	if (n > MAILLOG_ADDR_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c <= ' ' || c >= 0x7f)
			return false;
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	q = strrchr(out, '@');
	return q != NULL && q != out && q[1] != '\0';
}

bool
maillog_line(struct maillog *m, const char *line, size_t len,
    struct maillog_sent *out)
{
	char buf[MAILLOG_LINE_MAX + 1], qid[QID_MAX + 1];
	const char *s, *prog, *colon, *rest;
	size_t end, n, i;
	int64_t t;
	bool smtp, null;
	struct qent **e;

	if (len > MAILLOG_LINE_MAX || memchr(line, '\0', len) != NULL)
		return false;
	memcpy(buf, line, len);
	buf[len] = '\0';
	if (!maillog_time(buf, len, m->now, &t, &end))
		return false;
	/* " host prog[pid]: QID: ..." */
	s = buf + end;
	if (*s++ != ' ' || (s = strchr(s, ' ')) == NULL)
		return false;
	prog = s + 1;
	if ((colon = strstr(prog, ": ")) == NULL)
		return false;
	n = (size_t)(colon - prog);
	if (n > 0 && prog[n - 1] == ']')
		while (n > 0 && prog[n - 1] != '[')
			n--;
	if (n == 0)
		return false;
	n--; /* the '[' */
	if (strncmp(prog, "postfix", 7) != 0)
		return false;
	if (n >= 5 && strncmp(prog + n - 5, "/smtp", 5) == 0)
		smtp = true;
	else if (n >= 5 && strncmp(prog + n - 5, "/qmgr", 5) == 0)
		smtp = false;
	else
		return false;
	/* The queue ID: letters and digits. */
	s = colon + 2;
	for (i = 0; i < QID_MAX && isalnum((unsigned char)s[i]); i++)
		qid[i] = s[i];
	if (i < 5 || s[i] != ':' || s[i + 1] != ' ')
		return false;
	qid[i] = '\0';
	rest = s + i + 2;
	e = find(m, qid);
	if (!smtp) {
		char sender[MAILLOG_ADDR_MAX + 1];

		if (strcmp(rest, "removed") == 0) {
			if (*e != NULL) {
				struct qent *gone = *e;

				*e = gone->next;
				free(gone);
				m->n--;
			}
			return false;
		}
		if (strncmp(rest, "from=<", 6) != 0 ||
		    !addr(rest, "from=", sender, &null))
			return false;
		if (*e == NULL) {
			if (m->n >= MAILLOG_QUEUE_MAX) {
				/* A log whose messages never end: start
				 * over rather than grow without bound. */
				clear(m);
				e = find(m, qid);
			}
			*e = xcalloc(1, sizeof(**e));
			memcpy((*e)->qid, qid, strlen(qid) + 1);
			m->n++;
		}
		memcpy((*e)->sender, sender, strlen(sender) + 1);
		return false;
	}
	/* The first status field is Postfix's; the remote server's words
	 * come after it, in parentheses, and may say anything. */
	if (*e == NULL || strncmp(rest, "to=<", 4) != 0 ||
	    (s = strstr(rest, ", status=")) == NULL ||
	    strncmp(s + 9, "sent ", 5) != 0 || memchr(rest, '(',
	    (size_t)(s - rest)) != NULL || !addr(rest, "to=", out->rcpt, &null))
		return false;
	memcpy(out->sender, (*e)->sender, strlen((*e)->sender) + 1);
	out->t = t;
	return true;
}

/* Import. */

#define BATCH 256 /* records per put (one transaction) */

struct batch {
	struct store_rec recs[BATCH];
	char keys[BATCH][STORE_KEY_MAX];
	unsigned char vals[BATCH][8];
	size_t n;
};


/* The log's times, by minute, for its newest stretch without a gap. */
#define MINUTES_MAX (1u << 22) /* distinct minutes kept: 8 years */

struct minutes {
	int64_t *v;
	size_t n, size;
	bool lost;             /* more than MINUTES_MAX: not judged */
};

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* compact - sorted, each minute once */
static void
compact(struct minutes *m)
{
	size_t i, o = 0;

	qsort(m->v, m->n, sizeof(*m->v), cmp_i64);
	for (i = 0; i < m->n; i++)
		if (o == 0 || m->v[i] != m->v[o - 1])
			m->v[o++] = m->v[i];
	m->n = o;
}

/* minute_add - a line's time (files come in any order, each in order) */
static void
minute_add(struct minutes *m, int64_t t)
{
	int64_t min = t / 60;

	if (m->lost || (m->n > 0 && m->v[m->n - 1] == min))
		return;
	if (m->n == m->size) {
		if (m->size == MINUTES_MAX) {
			compact(m);
			if (m->n > MINUTES_MAX / 2) {
				m->lost = true;
				return;
			}
		} else {
			m->size = m->size ? m->size * 2 : 1024;
			m->v = xreallocarray(m->v, m->size, sizeof(*m->v));
		}
	}
	m->v[m->n++] = min;
}

/* newest_stretch - the newest run of minutes without a gap over gap s */
static void
newest_stretch(struct minutes *m, int64_t gap, int64_t *first,
    int64_t *last)
{
	size_t i;

	*first = *last = 0;
	if (m->lost || m->n == 0)
		return;
	compact(m);
	i = m->n - 1;
	*last = m->v[i] * 60 + 59;
	while (i > 0 && (m->v[i] - m->v[i - 1]) * 60 <= gap)
		i--;
	*first = m->v[i] * 60;
}

static int
flush(struct batch *b, struct store *st, uv_loop_t *loop, struct why *why)
{
	static const struct store_update later = { STORE_UPD_LATER, NULL,
		NULL, 0 };
	struct store_waiter w;
	size_t i;
	int rc;

	if (b->n == 0)
		return 0;
	for (i = 0; i < b->n; i++)
		b->recs[i].upd = &later; /* the later time stays */
	store_waiter_init(&w, loop);
	rc = store_wait(&w, st->ops->put(st, OUTBOUND_TABLE, b->recs, b->n,
	    &w.call));
	b->n = 0;
	if (rc < 0) {
		*why = w.reply.why;
		return -1;
	}
	return 0;
}

static int
add(struct batch *b, const char *sender, const char *rcpt, int64_t t,
    int64_t expires, struct store *st, uv_loop_t *loop, struct why *why)
{
	size_t kl;

	if (b->n == BATCH && flush(b, st, loop, why) < 0)
		return -1;
	if ((kl = outbound_key(b->keys[b->n], STORE_KEY_MAX, sender,
	    rcpt)) == 0)
		return 0;
	store_put_u64(b->vals[b->n], (uint64_t)t);
	b->recs[b->n] = (struct store_rec){ b->keys[b->n], kl, b->vals[b->n],
		8, expires, NULL };
	b->n++;
	return 0;
}

/* maillog_read_line - see maillog.h */
bool
maillog_read_line(FILE *fp, char *buf, size_t size, size_t *len, bool *overlong)
{
	int c;

	*len = 0;
	*overlong = false;
	while ((c = getc(fp)) != EOF && c != '\n') {
		if (*len + 1 < size)
			buf[(*len)++] = (char)c;
		else
			*overlong = true;
	}
	buf[*len] = '\0';
	return c != EOF || *len > 0 || *overlong;
}

/* cover - the log's stretch into the coverage; stats get the result */
static int
cover(struct store *st, uv_loop_t *loop, int64_t gap,
    struct maillog_stats *stats, struct why *why)
{
	struct outbound_cover add = { stats->first, stats->last,
		stats->last_mail }, u;
	unsigned char val[STORE_VAL_MAX], g[8];
	struct store_update up = { STORE_UPD_MERGE, "outbound.cover", g,
		sizeof(g) };
	struct store_rec rec = { OUTBOUND_COVER, sizeof(OUTBOUND_COVER) - 1,
		val, 0, 0, &up };
	struct store_waiter w;
	int rc;

	rec.vlen = outbound_cover_encode(&add, val);
	store_put_u64(g, (uint64_t)gap);
	store_waiter_init(&w, loop);
	rc = store_wait(&w, st->ops->put(st, OUTBOUND_TABLE, &rec, 1,
	    &w.call));
	if (rc < 0) {
		*why = w.reply.why;
		return -1;
	}
	store_waiter_init(&w, loop);
	rc = store_wait(&w, st->ops->get(st, OUTBOUND_TABLE, OUTBOUND_COVER,
	    sizeof(OUTBOUND_COVER) - 1, &w.call));
	if (rc < 0 && rc != STORE_NOTFOUND) {
		*why = w.reply.why;
		return -1;
	}
	if (rc == 0 && outbound_cover_decode(w.reply.val, w.reply.vlen, &u)) {
		stats->cover_since = u.since;
		stats->cover_until = u.until;
		stats->cover_last = u.last;
	}
	return 0;
}

/* One import, line by line (maillog_import_new). */
struct maillog_import {
	struct maillog *m;
	struct batch b;
	struct minutes mins;
	char **domains;
	size_t ndomains;
	int64_t keep, max_gap, now;
	struct maillog_stats stats;
	bool failed;
};

struct maillog_import *
maillog_import_new(char *const *domains, size_t ndomains, int64_t keep,
    int64_t max_gap, int64_t now)
{
	struct maillog_import *im = xcalloc(1, sizeof(*im));
	size_t i;

	im->m = maillog_new(now);
	im->domains = xcalloc(ndomains ? ndomains : 1, sizeof(char *));
	for (i = 0; i < ndomains; i++)
		im->domains[i] = xstrdup(domains[i]);
	im->ndomains = ndomains;
	im->keep = keep;
	im->max_gap = max_gap;
	im->now = now;
	return im;
}

void
maillog_import_free(struct maillog_import *im)
{
	if (im == NULL)
		return;
	strv_free(im->domains, im->ndomains);
	free(im->mins.v);
	maillog_free(im->m);
	free(im);
}

int
maillog_import_line(struct maillog_import *im, const char *line, size_t len,
    bool overlong, struct store *st, uv_loop_t *loop, struct why *why)
{
	struct maillog_stats *stats = &im->stats;
	int64_t now = im->now, keep = im->keep, t;
	struct maillog_sent d;
	const char *sd, *rd;
	size_t end;
	bool local;

	if (im->failed) {
		why_set(why, "the import failed before");
		return -1;
	}
	stats->lines++;
	if (overlong || len > MAILLOG_LINE_MAX) {
		stats->overlong++;
		return 0;
	}
	/* Every line with a time says the log was written then; a
	 * time ahead of the clock is no evidence of anything. */
	if (maillog_time(line, len, now, &t, &end) && t <= now + 60)
		minute_add(&im->mins, t);
	if (!maillog_line(im->m, line, len, &d))
		return 0;
	sd = strrchr(d.sender, '@') + 1;
	rd = strrchr(d.rcpt, '@') + 1;
	if (!name_within_any(sd, im->domains, im->ndomains)) {
		stats->strangers++;
		return 0;
	}
	if (d.t > now)
		d.t = now;
	if (d.t + keep <= now) {
		stats->old++;
		return 0;
	}
	stats->deliveries++;
	local = name_within_any(rd, im->domains, im->ndomains);
	if (add(&im->b, d.sender, NULL, d.t, d.t + keep, st, loop, why) < 0 ||
	    (!local && add(&im->b, d.sender, d.rcpt, d.t, d.t + keep, st,
	    loop, why) < 0)) {
		im->failed = true;
		return -1;
	}
	if (stats->since == 0 || d.t < stats->since)
		stats->since = d.t;
	if (d.t > stats->last_mail)
		stats->last_mail = d.t;
	return 0;
}

int
maillog_import_end(struct maillog_import *im, struct store *st,
    uv_loop_t *loop, struct maillog_stats *out, struct why *why)
{
	struct maillog_stats *stats = &im->stats;

	if (im->failed) {
		why_set(why, "the import failed before");
		return -1;
	}
	newest_stretch(&im->mins, im->max_gap, &stats->first, &stats->last);
	if (stats->last > im->now)
		stats->last = im->now;
	*out = *stats;
	if (flush(&im->b, st, loop, why) < 0)
		return -1;
	/* Coverage only for a log that names our users' mail at all. */
	if (stats->first != 0 && stats->deliveries > 0 &&
	    cover(st, loop, im->max_gap, out, why) < 0)
		return -1;
	return 0;
}

int
maillog_import(FILE *fp, struct store *st, uv_loop_t *loop,
    char *const *domains, size_t ndomains, int64_t keep, int64_t max_gap,
    int64_t now, struct maillog_stats *stats, struct why *why)
{
	struct maillog_import *im = maillog_import_new(domains, ndomains,
	    keep, max_gap, now);
	char line[MAILLOG_LINE_MAX + 1];
	size_t len;
	bool overlong;
	int rc = 0;

	memset(stats, 0, sizeof(*stats));
	while (maillog_read_line(fp, line, sizeof(line), &len, &overlong))
		if (maillog_import_line(im, line, len, overlong, st, loop,
		    why) < 0) {
			rc = -1;
			break;
		}
	if (rc == 0)
		rc = maillog_import_end(im, st, loop, stats, why);
	maillog_import_free(im);
	return rc;
}
