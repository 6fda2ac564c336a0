/*
 * stats [--json|--prometheus] - records per table, oldest and newest,
 * backscatter blocks, the DNS lists' states; --prometheus: the daemon's
 * metrics as they are now (offline: the store's figures only).
 */
#include "ctl_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "backscatter.h"
#include "config.h"
#include "dnsbl_rec.h"
#include "greylist.h"
#include "metrics.h"
#include "outbound.h"
#include "whitelist.h"

static const char *const gl_names[] = { GL_TABLE_TRIPLET, GL_TABLE_CLIENT,
	GL_TABLE_DOMAIN };
static const char *const feature_names[] = { BS_TABLE, WL_TABLE,
	OUTBOUND_TABLE };

struct stats {
	struct ctl_job *j;
	bool json;
	size_t table;  /* the one being walked: gl_names, then features */
	/* this table's figures */
	uint64_t records, pending, passed, bad, blocked, hits;
	int64_t oldest, newest;
	struct bl_rec rows[64];
	size_t nrows;
};

/* stat_row - store_row_fn for greylisting's tables */
static void
stat_row(void *arg, const struct store_rec *r)
{
	struct stats *s = arg;
	int64_t first, last;

	if (s->table == 0) {
		struct gl_entry e;

		if (gl_entry_decode(r->val, r->vlen, &e) < 0) {
			s->bad++;
			return;
		}
		first = e.first;
		last = e.last;
		if (e.passed_at)
			s->passed++;
		else
			s->pending++;
	} else {
		struct awl_entry e;

		if (awl_entry_decode(r->val, r->vlen, &e) < 0) {
			s->bad++;
			return;
		}
		first = e.first;
		last = e.last;
	}
	s->records++;
	if (s->oldest == 0 || first < s->oldest)
		s->oldest = first;
	if (last > s->newest)
		s->newest = last;
}

/* count_row - records, and for backscatter blocks and hits */
static void
count_row(void *arg, const struct store_rec *r)
{
	struct stats *s = arg;
	struct bs_rec b;

	s->records++;
	if (s->table == nitems(gl_names) && bs_rec_decode(r->val, r->vlen,
	    &b)) {
		s->hits += b.hits;
		if (b.until > s->j->now)
			s->blocked++;
	}
}

/* list_row - the dnsbl table's records */
static void
list_row(void *arg, const struct store_rec *r)
{
	struct stats *s = arg;

	if (s->nrows < nitems(s->rows) && bl_rec_decode(r->key, r->klen,
	    r->val, r->vlen, &s->rows[s->nrows]) == 0)
		s->nrows++;
}

/* lists_done - each DNS list's state, last self-test and counts */
static void
lists_done(struct ctl_job *j)
{
	struct stats *s = j->state;
	size_t i;

	if (s->nrows > 0 && !s->json)
		ctl_out(j, "\n%-24s %-9s %-20s %9s %7s %7s %7s  %s\n", "LIST",
		    "STATE", "LAST-TEST", "LOOKUPS", "HITS", "ERRORS",
		    "SKIPPED", "WHY");
	for (i = 0; i < s->nrows; i++) {
		const struct bl_rec *l = &s->rows[i];
		char t1[32], t2[32];

		if (s->json) {
			ctl_out(j, "{\"list\":");
			ctl_json_str(j, l->name);
			ctl_out(j, ",\"state\":\"%s\",\"since\":\"%s\","
			    "\"last_test\":%s%s%s,\"lookups\":%llu,"
			    "\"hits\":%llu,\"errors\":%llu,\"skipped\":%llu,"
			    "\"why\":", l->state, ctl_iso(l->since, t1,
			    sizeof(t1)), l->tested ? "\"" : "",
			    l->tested ? ctl_iso(l->tested, t2, sizeof(t2))
				      : "null",
			    l->tested ? "\"" : "",
			    (unsigned long long)l->lookups,
			    (unsigned long long)l->hits,
			    (unsigned long long)l->errors,
			    (unsigned long long)l->skipped);
			ctl_json_str(j, l->why);
			ctl_out(j, "}\n");
			continue;
		}
		ctl_out(j, "%-24s %-9s %-20s %9llu %7llu %7llu %7llu  %s\n",
		    l->name, l->state, ctl_iso(l->tested, t2, sizeof(t2)),
		    (unsigned long long)l->lookups,
		    (unsigned long long)l->hits,
		    (unsigned long long)l->errors,
		    (unsigned long long)l->skipped, l->why);
	}
	ctl_finish(j, CTL_OK);
}

static void next_table(struct ctl_job *j);

/* table_done - one table's line, then the next */
static void
table_done(struct ctl_job *j)
{
	struct stats *s = j->state;
	char t1[32], t2[32];

	if (s->table < nitems(gl_names)) {
		const char *name = gl_names[s->table];

		if (s->json) {
			ctl_out(j, "{\"table\":\"%s\",\"records\":%llu", name,
			    (unsigned long long)s->records);
			if (s->table == 0)
				ctl_out(j, ",\"pending\":%llu,\"passed\":%llu",
				    (unsigned long long)s->pending,
				    (unsigned long long)s->passed);
			ctl_out(j, ",\"oldest\":%s%s%s,\"newest\":%s%s%s}\n",
			    s->oldest ? "\"" : "",
			    s->oldest ? ctl_iso(s->oldest, t1, sizeof(t1))
				      : "null",
			    s->oldest ? "\"" : "", s->newest ? "\"" : "",
			    s->newest ? ctl_iso(s->newest, t2, sizeof(t2))
				      : "null",
			    s->newest ? "\"" : "");
		} else if (s->table == 0) {
			ctl_out(j, "%-11s %9llu %9llu %9llu %-20s %-20s\n",
			    name, (unsigned long long)s->records,
			    (unsigned long long)s->pending,
			    (unsigned long long)s->passed,
			    ctl_iso(s->oldest, t1, sizeof(t1)),
			    ctl_iso(s->newest, t2, sizeof(t2)));
		} else {
			ctl_out(j, "%-11s %9llu %9s %9s %-20s %-20s\n", name,
			    (unsigned long long)s->records, "-", "-",
			    ctl_iso(s->oldest, t1, sizeof(t1)),
			    ctl_iso(s->newest, t2, sizeof(t2)));
		}
	} else {
		const char *name = feature_names[s->table - nitems(gl_names)];
		bool bs = s->table == nitems(gl_names);

		if (s->json && bs)
			ctl_out(j, "{\"table\":\"%s\",\"records\":%llu,"
			    "\"blocked\":%llu,\"hits\":%llu}\n", name,
			    (unsigned long long)s->records,
			    (unsigned long long)s->blocked,
			    (unsigned long long)s->hits);
		else if (s->json)
			ctl_out(j, "{\"table\":\"%s\",\"records\":%llu}\n",
			    name, (unsigned long long)s->records);
		else if (bs)
			ctl_out(j, "%-11s %9llu   blocked now: %llu, hits: "
			    "%llu\n", name, (unsigned long long)s->records,
			    (unsigned long long)s->blocked,
			    (unsigned long long)s->hits);
		else
			ctl_out(j, "%-11s %9llu\n", name,
			    (unsigned long long)s->records);
	}
	if (s->bad)
		ctl_err(j, "policyctl: %llu damaged records skipped\n",
		    (unsigned long long)s->bad);
	s->table++;
	next_table(j);
}

/* next_table - walk the next table, or the lists */
static void
next_table(struct ctl_job *j)
{
	struct stats *s = j->state;

	s->records = s->pending = s->passed = s->bad = 0;
	s->blocked = s->hits = 0;
	s->oldest = s->newest = 0;
	if (s->table < nitems(gl_names))
		ctl_walk(j, gl_names[s->table], NULL, stat_row, s, table_done);
	else if (s->table < nitems(gl_names) + nitems(feature_names))
		ctl_walk(j, feature_names[s->table - nitems(gl_names)], NULL,
		    count_row, s, table_done);
	else
		ctl_walk(j, BL_TABLE, NULL, list_row, s, lists_done);
}

/* prometheus - the daemon's metrics now; offline, the store's figures */
static int
prometheus(struct ctl_job *j)
{
	struct mtext t = { NULL, 0, 0 };
	struct store *st;
	struct why why;
	char *text;

	if (j->host->metrics != NULL) {
		text = j->host->metrics(j->host->arg);
		if (text != NULL)
			ctl_text(j, CTL_OUT, text, strlen(text));
		free(text);
		ctl_finish(j, CTL_OK);
		return 0;
	}
	/* Offline: the file a daemon wrote, if it is fresh (a daemon whose
	 * socket is elsewhere), else the store's figures, counted now. */
	{
		char path[4096], buf[65536];
		struct stat sb;
		size_t n;
		FILE *f;

		cfg_metrics_file(j->cfg, path, sizeof(path));
		if ((f = fopen(path, "r")) != NULL &&
		    fstat(fileno(f), &sb) == 0 &&
		    (int64_t)sb.st_mtime * 1000 +
		    3 * (int64_t)j->cfg->metrics_interval_ms >= j->now * 1000) {
			while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
				ctl_text(j, CTL_OUT, buf, n);
			fclose(f);
			ctl_finish(j, CTL_OK);
			return 0;
		}
		if (f != NULL) {
			ctl_err(j, "policyctl: %s is older than three metrics "
				   "intervals: is policyd running? the store's "
				   "figures only, counted now\n", path);
			fclose(f);
		} else {
			ctl_err(j, "policyctl: %s: %s%s; the store's figures "
				   "only, counted now\n", path, strerror(errno),
			    j->cfg->metrics_enabled
				? " (is policyd running?)"
				: " (metrics.enabled is false)");
		}
	}
	if ((st = ctl_store(j)) == NULL)
		return -1;
	if (metrics_state(st, j->now, true, &t, &why) < 0)
		return ctl_fail(j, "%s", why.text);
	if (t.p != NULL)
		ctl_text(j, CTL_OUT, t.p, t.len);
	mt_free(&t);
	ctl_finish(j, CTL_OK);
	return 0;
}

/* ctl_stats - counts per table, oldest and newest */
int
ctl_stats(struct ctl_job *j, int argc, char **argv)
{
	struct stats *s = xcalloc(1, sizeof(*s));
	bool prom = false;
	int a;

	s->j = j;
	j->state = s;
	j->free_state = free;
	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--json") == 0)
			s->json = true;
		else if (strcmp(argv[a], "--prometheus") == 0)
			prom = true;
		else
			return ctl_usage_error(j, "stats: unexpected argument "
			    "\"%.80s\"", argv[a]);
	}
	if (s->json && prom)
		return ctl_usage_error(j, "stats: --json or --prometheus, not "
		    "both");
	if (prom)
		return prometheus(j);
	if (!s->json)
		ctl_out(j, "%-11s %9s %9s %9s %-20s %-20s\n", "TABLE",
		    "RECORDS", "PENDING", "PASSED", "OLDEST", "NEWEST");
	next_table(j);
	return 0;
}
