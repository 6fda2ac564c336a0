/*
 * outbound list, outbound import-log - (lib/outbound.h, lib/maillog.h):
 * what our users sent, and their past mail read from Postfix's log. The
 * log comes as input lines (policyctl reads the file with its own
 * rights and sends it); each line writes at most one batch.
 */
#include "ctl_int.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backscatter.h"
#include "checks/chk.h"
#include "config.h"
#include "maillog.h"
#include "outbound.h"

struct ob {
	struct ctl_job *j;
	char *sender; /* lower-cased, or NULL: all */
	bool json;
	/* import-log */
	struct maillog_import *im;
	char **domains;
	size_t nd;
	uint64_t keep_ms, gap_ms;
	struct why why;
};

static void
ob_free(void *arg)
{
	struct ob *o = arg;

	free(o->sender);
	maillog_import_free(o->im);
	strv_free(o->domains, o->nd);
	free(o);
}

/* ob_row - store_row_fn for outbound list */
static void
ob_row(void *arg, const struct store_rec *r)
{
	struct ob *o = arg;
	struct ctl_job *j = o->j;
	char sender[STORE_KEY_MAX], rcpt[STORE_KEY_MAX], t1[32], t2[32];
	int64_t last;

	if (r->vlen != 8 || !outbound_parse(r->key, r->klen, sender,
	    sizeof(sender), rcpt, sizeof(rcpt)))
		return;
	if (o->sender != NULL && strcmp(o->sender, sender) != 0)
		return;
	last = (int64_t)store_get_u64(r->val);
	if (o->json) {
		ctl_out(j, "{\"sender\":");
		ctl_json_str(j, sender);
		ctl_out(j, ",\"recipient\":");
		if (rcpt[0] != '\0')
			ctl_json_str(j, rcpt);
		else
			ctl_out(j, "null");
		ctl_out(j, ",\"last\":\"%s\",\"expires\":\"%s\"}\n",
		    ctl_iso(last, t1, sizeof(t1)), ctl_iso(r->expires, t2,
		    sizeof(t2)));
		return;
	}
	ctl_out(j, "%-40s %-40s %s\n", sender, rcpt[0] ? rcpt : "(sent)",
	    ctl_iso(last, t1, sizeof(t1)));
}

static void
list_end(struct ctl_job *j)
{
	ctl_finish(j, CTL_OK);
}

/*
 * detection_says - when backscatter detection judges, by the coverage
 * the import left
 */
static void
detection_says(struct ctl_job *j, const struct maillog_stats *ms)
{
	int i = chk_find("backscatter");
	int64_t now = j->now, window = i >= 0
	    ? backscatter_bounce_window(&j->cfg->checks[i]) : 0, starts;
	struct outbound_cover c = { ms->cover_since, ms->cover_until,
		ms->cover_last };
	char t1[32], t2[32];

	if (window == 0)
		return;
	if (c.since == 0 || c.until + OUTBOUND_MAX_GAP < now) {
		ctl_out(j, "backscatter detection: not live yet: it needs our "
			   "users' history up to now (the daemon's own "
			   "records, or a log whose newest line is recent)\n");
		return;
	}
	if (now - c.last > window) {
		ctl_out(j, "backscatter detection: not live: no mail of our "
			   "users within bounce_window, neither in the log nor "
			   "in the daemon's records; their mail must pass "
			   "policyd\n");
		return;
	}
	if (outbound_cover_live(&c, now, window, OUTBOUND_MAX_GAP, &starts))
		ctl_out(j, "backscatter detection: live (our users' history "
			   "covers %s to %s without a gap)\n",
		    ctl_iso(c.since, t1, sizeof(t1)),
		    ctl_iso(c.until, t2, sizeof(t2)));
	else
		ctl_out(j, "backscatter detection: not live yet: it starts at "
			   "%s, when the history (from %s) covers "
			   "bounce_window, if the daemon records our users' "
			   "mail until then\n", ctl_iso(starts, t1, sizeof(t1)),
		    ctl_iso(c.since, t2, sizeof(t2)));
}

/* import_input - a line of the log, or its end */
static void
import_input(struct ctl_job *j, const char *line, size_t len, bool eof)
{
	struct ob *o = j->state;
	struct maillog_stats ms;
	struct store *st;
	char t1[32], t2[32];

	if ((st = ctl_store(j)) == NULL)
		return;
	if (!eof) {
		if (maillog_import_line(o->im, line, len,
		    len > MAILLOG_LINE_MAX, st, j->host->loop, &o->why) < 0)
			ctl_fail(j, "outbound import-log: %s", o->why.text);
		return;
	}
	if (maillog_import_end(o->im, st, j->host->loop, &ms, &o->why) < 0) {
		ctl_fail(j, "outbound import-log: %s", o->why.text);
		return;
	}
	ctl_out(j, "imported %llu deliveries of our users from %llu lines; "
		   "left out %llu from other senders, %llu older than --keep, "
		   "%llu lines longer than %d bytes; the earliest from %s\n",
	    (unsigned long long)ms.deliveries, (unsigned long long)ms.lines,
	    (unsigned long long)ms.strangers, (unsigned long long)ms.old,
	    (unsigned long long)ms.overlong, MAILLOG_LINE_MAX,
	    ms.since ? ctl_iso(ms.since, t1, sizeof(t1))
		     : "(nothing imported)");
	if (ms.first != 0)
		ctl_out(j, "the log covers %s to %s without a gap of more "
			   "than --max-gap\n", ctl_iso(ms.first, t1,
		    sizeof(t1)), ctl_iso(ms.last, t2, sizeof(t2)));
	/* A log without its newest files misses the days a bounce of our
	 * users' latest mail comes back in. */
	if (ms.first != 0 && j->now - ms.last > 3600)
		ctl_err(j, "policyctl: warning: the newest line is from %s, "
			   "more than an hour ago: were the newest files left "
			   "out? Read them all, newest first: zcat -f "
			   "/var/log/mail.log* | policyctl outbound import-log "
			   "- --domain ...\n", ctl_iso(ms.last, t1,
		    sizeof(t1)));
	detection_says(j, &ms);
	ctl_finish(j, CTL_OK);
}

/*
 * import_log - outbound import-log - --domain DOMAIN... [--keep D]
 * [--max-gap D]
 */
static int
import_log(struct ctl_job *j, struct ob *o, int argc, char **argv)
{
	enum { O_DOMAIN = 256, O_KEEP, O_MAX_GAP };
	static const struct option opts[] = {
		{ "domain", required_argument, NULL, O_DOMAIN },
		{ "keep", required_argument, NULL, O_KEEP },
		{ "max-gap", required_argument, NULL, O_MAX_GAP },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL;
	struct why why;
	int ch;

	o->keep_ms = 35ull * 86400 * 1000;
	o->gap_ms = 6ull * 3600 * 1000;
	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case O_DOMAIN:
			if (optarg[0] == '\0' || strchr(optarg, '@') != NULL ||
			    strlen(optarg) > 253)
				return ctl_usage_error(j, "--domain: \"%.80s\" "
				    "is not a domain name", optarg);
			o->domains = xreallocarray(o->domains, o->nd + 1,
			    sizeof(*o->domains));
			o->domains[o->nd++] = xstrdup(optarg[0] == '.'
			    ? optarg + 1 : optarg);
			break;
		case O_KEEP:
			if (cfg_parse_duration(optarg, &o->keep_ms, &why) < 0 ||
			    o->keep_ms < 86400ull * 1000 ||
			    o->keep_ms > 3650ull * 86400 * 1000)
				return ctl_usage_error(j, "--keep: \"%.80s\" "
				    "is no duration of 1d to 3650d", optarg);
			break;
		case O_MAX_GAP:
			if (cfg_parse_duration(optarg, &o->gap_ms, &why) < 0 ||
			    o->gap_ms < 600ull * 1000 ||
			    o->gap_ms > 7ull * 86400 * 1000)
				return ctl_usage_error(j, "--max-gap: "
				    "\"%.80s\" is no duration of 10m to 7d",
				    optarg);
			break;
		default:
			return ctl_bad_option(j, ch, argv);
		}
	}
	if (optind < argc)
		file = argv[optind++];
	if (file == NULL || optind != argc)
		return ctl_usage_error(j, "outbound import-log: needs one log "
		    "file (- for standard input)");
	if (o->nd == 0)
		return ctl_usage_error(j, "outbound import-log: needs --domain "
		    "for each of our own domains (mail from them is our "
		    "users')");
	if (strcmp(file, "-") != 0)
		return ctl_usage_error(j, "outbound import-log: the log comes "
		    "as input lines (-): policyctl reads the file and sends "
		    "it");
	if (ctl_store(j) == NULL)
		return -1;
	o->im = maillog_import_new(o->domains, o->nd,
	    (int64_t)(o->keep_ms / 1000), (int64_t)(o->gap_ms / 1000), j->now);
	j->on_input = import_input;
	if (j->sink.want_input != NULL)
		j->sink.want_input(j->sink.arg, true);
	return 0;
}

/* ctl_outbound - list [--sender ADDR] [--json] | import-log */
int
ctl_outbound(struct ctl_job *j, int argc, char **argv)
{
	enum { O_SENDER = 256, O_JSON };
	static const struct option opts[] = {
		{ "sender", required_argument, NULL, O_SENDER },
		{ "json", no_argument, NULL, O_JSON },
		{ NULL, 0, NULL, 0 },
	};
	struct ob *o = xcalloc(1, sizeof(*o));
	char *p;
	int ch;

	o->j = j;
	j->state = o;
	j->free_state = ob_free;
	if (strcmp(argv[0], "import-log") == 0)
		return import_log(j, o, argc, argv);
	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case O_SENDER:
			free(o->sender);
			o->sender = xstrdup(optarg);
			for (p = o->sender; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
			if (strchr(o->sender, '@') == NULL)
				return ctl_usage_error(j, "--sender: \"%.80s\" "
				    "is not an address", optarg);
			break;
		case O_JSON:
			o->json = true;
			break;
		default:
			return ctl_bad_option(j, ch, argv);
		}
	}
	if (optind < argc)
		return ctl_usage_error(j, "outbound list: unexpected argument "
		    "\"%.80s\"", argv[optind]);
	if (!o->json)
		ctl_out(j, "%-40s %-40s %s\n", "SENDER", "RECIPIENT", "LAST");
	ctl_walk(j, OUTBOUND_TABLE, NULL, ob_row, o, list_end);
	return 0;
}
