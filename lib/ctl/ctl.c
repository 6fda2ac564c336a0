/*
 * ctl - the control protocol's lines, the table of commands, and the job
 * that runs one (lib/ctl.h, lib/ctl/ctl_int.h).
 */
#include "ctl_int.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"

/* encodes - does byte c go as it is in a word */
static bool
plain(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '%';
}

/* ctl_encode - the request line of argv */
size_t
ctl_encode(char *out, size_t size, int argc, char *const *argv)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0, lim = size < CTL_LINE_MAX + 2 ? size : CTL_LINE_MAX + 2;
	int i;

	if (argc > CTL_ARGS_MAX)
		return 0;
#define PUT(c) do { if (n + 1 >= lim) return 0; out[n++] = (c); } while (0)
	for (i = 0; CTL_VERSION[i]; i++)
		PUT(CTL_VERSION[i]);
	for (i = 0; i < argc; i++) {
		const unsigned char *p = (const unsigned char *)argv[i];

		PUT(' ');
		if (*p == '\0')
			PUT('%');
		for (; *p; p++) {
			if (plain(*p)) {
				PUT((char)*p);
				continue;
			}
			PUT('%');
			PUT(hex[*p >> 4]);
			PUT(hex[*p & 15]);
		}
	}
	PUT('\n');
#undef PUT
	out[n] = '\0';
	return n;
}

/* unhex - a hex digit's value, or -1 */
static int
unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* ctl_parse - a request line into words */
int
ctl_parse(const char *line, size_t len, char *buf, size_t bufsize,
    char **argv, int max, struct why *why)
{
	size_t vl = strlen(CTL_VERSION), i, o = 0;
	int argc = 0;

	if (len > CTL_LINE_MAX) {
		why_set(why, "the request is longer than %d bytes", CTL_LINE_MAX);
		return -1;
	}
	if (len < vl || memcmp(line, CTL_VERSION, vl) != 0 ||
	    (len > vl && line[vl] != ' ')) {
		why_set(why, "the request does not start with \"%s\" (a "
			     "policyctl of another version?)", CTL_VERSION);
		return -1;
	}
	if (bufsize < len + 1 || max < 1) {
		why_set(why, "no room for the request");
		return -1;
	}
	i = vl;
	while (i < len) {
		if (line[i] != ' ' || i + 1 >= len || line[i + 1] == ' ') {
			why_set(why, "word %d: one space between words, none "
				     "at the end", argc + 1);
			return -1;
		}
		i++;
		if (argc + 1 >= max || argc >= CTL_ARGS_MAX) {
			why_set(why, "more than %d words", CTL_ARGS_MAX);
			return -1;
		}
		argv[argc++] = buf + o;
		if (line[i] == '%' && (i + 1 == len || line[i + 1] == ' ')) {
			i++; /* the empty word */
		} else {
			while (i < len && line[i] != ' ') {
				unsigned char c = (unsigned char)line[i];
				int h, l;

				if (c == '%') {
					h = i + 2 < len ? unhex(line[i + 1]) : -1;
					l = i + 2 < len ? unhex(line[i + 2]) : -1;
					if (h < 0 || l < 0 || (h == 0 && l == 0)) {
						why_set(why, "word %d: a %% that is "
						    "no %%XX escape (or %%00)", argc);
						return -1;
					}
					buf[o++] = (char)(h << 4 | l);
					i += 3;
					continue;
				}
				if (!plain(c)) {
					why_set(why, "word %d: byte 0x%02x "
						     "must be escaped", argc, c);
					return -1;
				}
				buf[o++] = (char)c;
				i++;
			}
		}
		buf[o++] = '\0';
	}
	argv[argc] = NULL;
	return argc;
}

/* The commands, for usage and dispatch. */
struct entry {
	struct ctl_cmd cmd;
	ctl_run_fn *run;
};
static const struct entry commands[] = {
	{ { "greylist", "list", 0, "greylist list [--client CIDR|POOL] "
	    "[--sender PATTERN] [--recipient PATTERN]\n"
	    "                [--pending|--passed] [--json]" }, ctl_greylist },
	{ { "greylist", "delete", CTL_F_CHANGES, "greylist delete [--client "
	    "CIDR|POOL] [--sender PATTERN] [--recipient PATTERN]\n"
	    "                [--pending|--passed]" }, ctl_greylist },
	{ { "greylist", "flush", CTL_F_CHANGES, "greylist flush --older-than "
	    "DURATION | --all" }, ctl_greylist },
	{ { "awl", "list", 0, "awl list [--json]" }, ctl_awl },
	{ { "awl", "add", CTL_F_CHANGES, "awl add --client ADDRESS|CIDR|POOL "
	    "[--domain DOMAIN]" }, ctl_awl },
	{ { "awl", "delete", CTL_F_CHANGES, "awl delete --client "
	    "ADDRESS|CIDR|POOL [--domain DOMAIN]" }, ctl_awl },
	{ { "backscatter", "list", 0, "backscatter list [--json]" },
	    ctl_backscatter },
	{ { "backscatter", "block", CTL_F_CHANGES, "backscatter block IP "
	    "[--for DURATION]" }, ctl_backscatter },
	{ { "backscatter", "unblock", CTL_F_CHANGES, "backscatter unblock IP" },
	    ctl_backscatter },
	{ { "whitelist", "list", 0, "whitelist list [--json]" },
	    ctl_whitelist },
	{ { "whitelist", "add", CTL_F_CHANGES, "whitelist add --recipient "
	    "ADDR|@DOMAIN --sender ADDR|@DOMAIN" }, ctl_whitelist },
	{ { "whitelist", "delete", CTL_F_CHANGES, "whitelist delete "
	    "--recipient ADDR|@DOMAIN --sender ADDR|@DOMAIN" }, ctl_whitelist },
	{ { "outbound", "list", 0, "outbound list [--sender ADDR] [--json]" },
	    ctl_outbound },
	{ { "outbound", "import-log", CTL_F_CHANGES | CTL_F_INPUT,
	    "outbound import-log FILE|- --domain DOMAIN... [--keep "
	    "DURATION]\n                     [--max-gap DURATION]" },
	    ctl_outbound },
	{ { "stats", NULL, 0, "stats [--json|--prometheus]" }, ctl_stats },
	{ { "db", "verify", 0, "db verify" }, ctl_db },
	{ { "db", "state", CTL_F_DAEMON, "db state" }, ctl_db },
	{ { "reload", NULL, CTL_F_DAEMON | CTL_F_CHANGES, "reload" },
	    ctl_reload },
	{ { "import-postgrey", NULL, CTL_F_OFFLINE | CTL_F_CHANGES,
	    "import-postgrey DIR" }, NULL },
	{ { "check", NULL, CTL_F_INPUT, "check --client-address IP "
	    "[--client-name VERIFIED] [--reverse-name PTR]\n"
	    "        [--helo H] [--sender S] [--recipient R] "
	    "[--protocol-state STATE]\n"
	    "        [--stress] [--policy-context C] [--sasl-username U] "
	    "[--instance I]\n"
	    "        [--config FILE]\n"
	    "  check --request - [--config FILE]   (a whole request on "
	    "standard input)" }, ctl_check },
};

/* find - the entry argv names, or NULL with why */
static const struct entry *
find(int argc, char *const *argv, struct why *why)
{
	const char *fam = argc > 0 ? argv[0] : "", *last = NULL;
	char verbs[256] = "", some[256] = "";
	bool known = false;
	size_t i;

	for (i = 0; i < nitems(commands); i++) {
		const struct entry *e = &commands[i];

		if (strcmp(e->cmd.family, fam) != 0)
			continue;
		known = true;
		if (e->cmd.verb == NULL)
			return e;
		if (argc > 1 && strcmp(argv[1], e->cmd.verb) == 0)
			return e;
		snprintf(verbs + strlen(verbs), sizeof(verbs) - strlen(verbs),
		    "%s%s", verbs[0] ? ", " : "", e->cmd.verb);
		if (last != NULL)
			snprintf(some + strlen(some), sizeof(some) -
			    strlen(some), "%s%s", some[0] ? ", " : "", last);
		last = e->cmd.verb;
	}
	if (!known)
		why_set(why, "unknown command \"%.80s\" (see policyctl --help)",
		    fam);
	else if (argc < 2)
		why_set(why, "%s: needs %s%s%s", fam, some, some[0] ? " or "
		    : "", last);
	else
		why_set(why, "%s: unknown command \"%.80s\" (%s)", fam, argv[1],
		    verbs);
	return NULL;
}

const struct ctl_cmd *
ctl_find(int argc, char *const *argv, struct why *why)
{
	const struct entry *e = find(argc, argv, why);

	return e != NULL ? &e->cmd : NULL;
}

/* ctl_usage - the synopsis of every command */
void
ctl_usage(FILE *fp)
{
	size_t i;

	for (i = 0; i < nitems(commands); i++)
		fprintf(fp, "  %s\n", commands[i].cmd.usage);
}

int
ctl_usage_family(FILE *fp, const char *family)
{
	size_t i;
	int n = 0;

	for (i = 0; i < nitems(commands); i++)
		if (strcmp(commands[i].cmd.family, family) == 0) {
			fprintf(fp, "  %s\n", commands[i].cmd.usage);
			n++;
		}
	return n;
}

/* ctl_reads_input - a "-" where the command takes input */
bool
ctl_reads_input(int argc, char *const *argv)
{
	const struct ctl_cmd *c = ctl_find(argc, argv, NULL);
	int i;

	if (c == NULL || !(c->flags & CTL_F_INPUT))
		return false;
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "-") == 0)
			return true;
	return false;
}

/* emit - one whole line to the sink, control bytes made harmless */
static void
emit(struct ctl_job *j, int s)
{
	char *p = j->line[s - 1];
	size_t n = j->llen[s - 1], i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 && p[i] != '\t')
			p[i] = '?';
	if (!j->cancelled)
		j->sink.line(j->sink.arg, (enum ctl_stream)s, p, n);
	j->llen[s - 1] = 0;
}

/* put - text to stream s, lines as they end */
static void
put(struct ctl_job *j, int s, const char *text, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (text[i] == '\n') {
			emit(j, s);
			continue;
		}
		if (j->llen[s - 1] < CTL_TEXT_MAX)
			j->line[s - 1][j->llen[s - 1]++] = text[i];
	}
}

void
ctl_text(struct ctl_job *j, enum ctl_stream s, const char *text, size_t n)
{
	put(j, s, text, n);
}

static void __attribute__((format(printf, 3, 0)))
vput(struct ctl_job *j, int s, const char *fmt, va_list ap)
{
	char buf[CTL_TEXT_MAX + 1];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	if (n > 0)
		put(j, s, buf, (size_t)n < sizeof(buf) ? (size_t)n
						       : sizeof(buf) - 1);
}

void
ctl_out(struct ctl_job *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vput(j, CTL_OUT, fmt, ap);
	va_end(ap);
}

void
ctl_err(struct ctl_job *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vput(j, CTL_ERR, fmt, ap);
	va_end(ap);
}

/* ctl_json_str - a JSON string literal */
void
ctl_json_str(struct ctl_job *j, const char *s)
{
	put(j, CTL_OUT, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			ctl_out(j, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			ctl_out(j, "\\u%04x", c);
		else
			put(j, CTL_OUT, s, 1);
	}
	put(j, CTL_OUT, "\"", 1);
}

/* ctl_iso - a time for people and JSON */
const char *
ctl_iso(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0)
		return "-";
	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

static int __attribute__((format(printf, 3, 0)))
vend(struct ctl_job *j, int status, const char *fmt, va_list ap)
{
	if (j->finished)
		return -1;
	ctl_err(j, "policyctl: ");
	vput(j, CTL_ERR, fmt, ap);
	ctl_err(j, "\n");
	ctl_finish(j, status);
	return -1;
}

int
ctl_usage_error(struct ctl_job *j, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vend(j, CTL_USAGE, fmt, ap);
	va_end(ap);
	return rc;
}

int
ctl_fail(struct ctl_job *j, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vend(j, CTL_FAILED, fmt, ap);
	va_end(ap);
	return rc;
}

static void run(struct ctl_job *j);

/* tick - the timer: the next step */
static void
tick(uv_timer_t *t)
{
	run(t->data);
}

/* idle_tick - the next step, one a loop turn */
static void
idle_tick(uv_idle_t *h)
{
	uv_idle_stop(h);
	run(h->data);
}

/* schedule - run the job's next step after delay_ms (0: next turn) */
static void
schedule(struct ctl_job *j, uint64_t delay_ms)
{
	if (delay_ms == 0)
		uv_idle_start(&j->idle, idle_tick);
	else
		uv_timer_start(&j->timer, tick, delay_ms, 0);
}

/* job_free - after the timer is closed */
static void
job_free(uv_handle_t *h)
{
	struct ctl_job *j = h->data;
	int i;

	if (j->free_state != NULL)
		j->free_state(j->state);
	for (i = 0; i < j->argc; i++)
		free(j->argv[i]);
	free(j->argv);
	cfg_unref(j->cfg);
	free(j);
}

/* idle_closed - then the timer */
static void
idle_closed(uv_handle_t *h)
{
	struct ctl_job *j = h->data;

	uv_close((uv_handle_t *)&j->timer, job_free);
}

/* release - the job is over: free it, unless work is still out */
static void
release(struct ctl_job *j)
{
	if (j->working || uv_is_closing((uv_handle_t *)&j->idle))
		return;
	uv_close((uv_handle_t *)&j->idle, idle_closed);
}

/* ctl_finish - the status; done() from the loop */
void
ctl_finish(struct ctl_job *j, int status)
{
	if (j->finished)
		return;
	j->finished = true;
	j->status = status;
	j->next = NULL;
	if (!j->running)
		ctl_then(j, NULL, 0);
}

/* ctl_then - the next step, from the loop */
void
ctl_then(struct ctl_job *j, ctl_step_fn *fn, uint64_t delay_ms)
{
	if (!j->finished)
		j->next = fn;
	j->delay_ms = delay_ms;
	if (!j->running && !j->cancelled)
		schedule(j, delay_ms);
}

/* run - steps while there is room; the end */
static void
run(struct ctl_job *j)
{
	if (j->cancelled || j->running)
		return;
	j->running = true;
	while (!j->finished && j->next != NULL && j->op == NULL &&
	    !j->working) {
		ctl_step_fn *fn = j->next;

		if (j->sink.full != NULL && j->sink.full(j->sink.arg)) {
			j->waiting_room = true;
			j->running = false;
			return;
		}
		j->next = NULL;
		fn(j);
		/* A step that named its successor with a delay, or any
		 * step of a walk: the loop has its turn first. */
		if (j->next != NULL)
			break;
	}
	j->running = false;
	if (j->finished) {
		if (j->llen[0] > 0)
			emit(j, CTL_OUT);
		if (j->llen[1] > 0)
			emit(j, CTL_ERR);
		if (j->sink.want_input != NULL && j->on_input != NULL)
			j->sink.want_input(j->sink.arg, false);
		j->on_input = NULL;
		if (!j->cancelled) {
			j->cancelled = true; /* no more lines */
			j->sink.done(j->sink.arg, j->status);
		}
		release(j);
		return;
	}
	if (j->next != NULL && j->op == NULL && !j->working)
		schedule(j, j->delay_ms);
}

/* ctl_job_resume - the sink has room */
void
ctl_job_resume(struct ctl_job *j)
{
	if (j->waiting_room) {
		j->waiting_room = false;
		schedule(j, 0);
	}
}

/* ctl_job_input - a line for the command */
void
ctl_job_input(struct ctl_job *j, const char *line, size_t len, bool eof)
{
	if (j->on_input != NULL && !j->finished)
		j->on_input(j, line, len, eof);
}

/* ctl_job_cancel - the client is gone */
void
ctl_job_cancel(struct ctl_job *j)
{
	struct store *st = j->host->store ? store_get(j->host->store) : NULL;

	j->cancelled = true;
	j->finished = true;
	if (j->op != NULL && st != NULL)
		st->ops->cancel(j->op);
	j->op = NULL;
	uv_timer_stop(&j->timer);
	uv_idle_stop(&j->idle);
	if (j->working)
		uv_cancel((uv_req_t *)&j->work);
	release(j);
}

/* ctl_store - the store, or the job fails */
struct store *
ctl_store(struct ctl_job *j)
{
	struct store *st = j->host->store ? store_get(j->host->store) : NULL;

	if (st == NULL)
		ctl_fail(j, "the store is not open now (%s)", j->host->offline
		    ? "it could not be opened" : "policyd's log says why");
	return st;
}

/* op_done - a store operation is done: its step */
static void
op_done(void *arg, const struct store_reply *r)
{
	struct ctl_job *j = arg;
	ctl_step_fn *after = j->after;

	j->op = NULL;
	if (r != &j->reply)
		j->reply = *r;
	if (j->cancelled)
		return;
	j->after = NULL;
	if (after != NULL && !j->finished) {
		bool was = j->running;

		j->running = true;
		after(j);
		j->running = was;
	}
	if (!j->running)
		run(j);
}

const struct store_call *
ctl_call(struct ctl_job *j, ctl_step_fn *after)
{
	memset(&j->reply, 0, sizeof(j->reply));
	j->call = (struct store_call){ .budget_ms = 0, .done = op_done,
		.arg = j, .op = &j->op, .out = &j->reply };
	j->after = after;
	return &j->call;
}

void
ctl_settle(struct ctl_job *j, int rc)
{
	store_settle(&j->call, rc);
}

static void walk_step(struct ctl_job *j);

/* walk_done - a batch is done */
static void
walk_done(struct ctl_job *j)
{
	if (j->reply.rc == STORE_ERETRY && j->walk.retries++ < 20) {
		ctl_then(j, walk_step, 20); /* lost to a writer: again */
		return;
	}
	if (j->reply.rc < 0) {
		ctl_fail(j, "%s", j->reply.why.text);
		return;
	}
	j->walk.retries = 0;
	j->walk.n += j->reply.n;
	j->walk.cur = j->reply.next;
	if (j->walk.cur.end)
		ctl_then(j, j->walk.then, 0);
	else
		ctl_then(j, walk_step, 0);
}

/* walk_step - one batch */
static void
walk_step(struct ctl_job *j)
{
	struct store *st = ctl_store(j);
	const struct store_call *c;
	int rc;

	if (st == NULL)
		return;
	c = ctl_call(j, walk_done);
	rc = j->walk.row != NULL
	    ? st->ops->list(st, j->walk.table, &j->walk.cur, CTL_BATCH,
		j->walk.match, j->walk.row, j->walk.arg, c)
	    : st->ops->flush(st, j->walk.table, &j->walk.cur, CTL_BATCH,
		j->walk.match, j->walk.arg, c);
	ctl_settle(j, rc);
}

void
ctl_walk(struct ctl_job *j, const char *table, store_match_fn *match,
    store_row_fn *row, void *arg, ctl_step_fn *then)
{
	memset(&j->walk, 0, sizeof(j->walk));
	j->walk.table = table;
	j->walk.match = match;
	j->walk.row = row;
	j->walk.arg = arg;
	j->walk.then = then;
	ctl_then(j, walk_step, 0);
}

/* work_run, work_after - ctl_work on the pool */
static void
work_run(uv_work_t *w)
{
	struct ctl_job *j = w->data;

	j->work_fn(j);
}

static void
work_after(uv_work_t *w, int status)
{
	struct ctl_job *j = w->data;

	(void)status;
	j->working = false;
	if (j->cancelled) {
		release(j);
		return;
	}
	ctl_then(j, j->work_done, 0);
	run(j);
}

void
ctl_work(struct ctl_job *j, ctl_step_fn *fn, ctl_step_fn *done)
{
	int rc;

	j->work.data = j;
	j->work_fn = fn;
	j->work_done = done;
	if ((rc = uv_queue_work(j->host->loop, &j->work, work_run,
	    work_after)) < 0) {
		ctl_fail(j, "cannot start the work: %s", uv_strerror(rc));
		return;
	}
	j->working = true;
}

int
ctl_getopt(int argc, char **argv, const struct option *opts)
{
	/* ":": a missing value is ':', told apart from an unknown '?' */
	return getopt_long(argc, argv, ":", opts, NULL);
}

int
ctl_bad_option(struct ctl_job *j, int ch, char **argv)
{
	const char *w = optind > 0 ? argv[optind - 1] : "?";
	char what[64];

	snprintf(what, sizeof(what), "%s%s%s", j->cmd->family,
	    j->cmd->verb ? " " : "", j->cmd->verb ? j->cmd->verb : "");
	if (ch == ':')
		return ctl_usage_error(j, "%s: %.80s needs a value", what, w);
	return ctl_usage_error(j, "%s: unknown option \"%.80s\" (see "
	    "policyctl --help)", what, w);
}

/* ctl_job_start - a job for argv */
struct ctl_job *
ctl_job_start(struct ctl_host *host, int argc, char *const *argv,
    const struct ctl_sink *sink)
{
	struct ctl_job *j = xcalloc(1, sizeof(*j));
	const struct entry *e;
	struct why why;
	int i;

	j->host = host;
	j->cfg = cfg_ref(host->cfg);
	j->sink = *sink;
	j->now = (int64_t)time(NULL);
	j->argc = argc;
	j->argv = xcalloc((size_t)argc + 1, sizeof(*j->argv));
	for (i = 0; i < argc; i++)
		j->argv[i] = xstrdup(argv[i]);
	uv_timer_init(host->loop, &j->timer);
	uv_idle_init(host->loop, &j->idle);
	j->timer.data = j->idle.data = j;
	j->running = true;
	if ((e = find(argc, argv, &why)) == NULL) {
		ctl_usage_error(j, "%s", why.text);
	} else if ((e->cmd.flags & CTL_F_DAEMON) && host->offline) {
		ctl_fail(j, "%s: needs the running daemon (policyd is not "
			    "running)", e->cmd.family);
	} else if ((e->cmd.flags & CTL_F_OFFLINE) && !host->offline) {
		ctl_fail(j, "%s: policyd is running: stop it first (this "
			    "works on the store directly)", e->cmd.family);
	} else if (e->run == NULL) {
		ctl_fail(j, "%s: not a command the daemon runs",
		    e->cmd.family);
	} else {
		j->cmd = &e->cmd;
		/* getopt: every run from the start, no messages of its own */
		optind = 0;
		opterr = 0;
		e->run(j, e->cmd.verb ? argc - 1 : argc,
		    e->cmd.verb ? j->argv + 1 : j->argv);
	}
	j->running = false;
	if (j->finished)
		ctl_then(j, NULL, 0);
	else if (j->next != NULL && j->op == NULL && !j->working)
		schedule(j, j->delay_ms);
	return j;
}
