/*
 * policyctl - inspect and change policyd's state while the daemon runs:
 * the same Berkeley DB environment, in transactions of a bounded size.
 *
 *   policyctl [-c FILE] [--state-dir DIR] COMMAND [ARGS]
 *
 * Tables for people by default, one JSON object per line with --json.
 * A bad argument is named in a message and exits 2; a failed operation
 * exits 1.
 */
#define _GNU_SOURCE /* FNM_CASEFOLD */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <grp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "addr.h"
#include "arena.h"
#include "checks/chk.h"
#include "dns.h"
#include "request.h"
#include "msg.h"
#include "pipeline.h"
#include "verdict.h"
#include "config.h"
#include "greylist.h"
#include "import.h"
#include "maillog.h"
#include "metrics.h"
#include "log.h"
#include "backscatter.h"
#include "outbound.h"
#include "whitelist.h"
#include "store.h"
#include "xalloc.h"

#define DEFAULT_CONFIG "/etc/policyd/policyd.yaml"
#define BATCH 100 /* records per transaction: short lock holds */

static struct cfg *cfg;
static struct store *st;
static int64_t now;
/* Where an operation of a store that answers later is waited for. */
static uv_loop_t ctl_loop;

/* usage - the synopsis; exits */
static void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: policyctl [-c FILE] [--state-dir DIR] COMMAND ...\n"
	    "  greylist list [--client CIDR|POOL] [--sender PATTERN] "
	    "[--recipient PATTERN]\n"
	    "                [--pending|--passed] [--json]\n"
	    "  greylist delete [--client CIDR|POOL] [--sender PATTERN] "
	    "[--recipient PATTERN]\n"
	    "                [--pending|--passed]\n"
	    "  greylist flush --older-than DURATION | --all\n"
	    "  awl list [--json]\n"
	    "  awl add --client ADDRESS|CIDR|POOL [--domain DOMAIN]\n"
	    "  awl delete --client ADDRESS|CIDR|POOL [--domain DOMAIN]\n"
	    "  backscatter list [--json]\n"
	    "  backscatter block IP [--for DURATION]\n"
	    "  backscatter unblock IP\n"
	    "  whitelist add|delete --recipient ADDR|@DOMAIN --sender "
	    "ADDR|@DOMAIN\n"
	    "  whitelist list [--json]\n"
	    "  outbound list [--sender ADDR] [--json]\n"
	    "  outbound import-log FILE|- --domain DOMAIN... [--keep "
	    "DURATION]\n"
	    "                     [--max-gap DURATION]\n"
	    "  stats [--json|--prometheus]\n"
	    "  db verify\n"
	    "  import-postgrey DIR\n"
	    "  check --client-address IP [--client-name VERIFIED] "
	    "[--reverse-name PTR]\n"
	    "        [--helo H] [--sender S] [--recipient R] "
	    "[--protocol-state STATE]\n"
	    "        [--stress] [--policy-context C] [--sasl-username U] "
	    "[--instance I]\n"
	    "        [--config FILE]\n"
	    "  check --request - [--config FILE]   (a whole request on "
	    "standard input)\n"
	    "PATTERN is a shell pattern (*, ?), case-insensitive; <> is the "
	    "null sender.\n"
	    "POOL is a sender pool greylisting keyed on: spf:DOMAIN or "
	    "fcrdns:DOMAIN.\n");
	exit(status);
}

/* vquit - "policyctl: message" on stderr, exit with status */
static void __attribute__((format(printf, 2, 0), noreturn))
vquit(int status, const char *fmt, va_list ap)
{
	fprintf(stderr, "policyctl: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	exit(status);
}

/* bad - a bad argument: say which and why, exit 2 */
static void __attribute__((format(printf, 1, 2), noreturn))
bad(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vquit(2, fmt, ap);
}

/* die - an operation failed: exit 1 */
static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vquit(1, fmt, ap);
}

/*
 * become_owner - as root, act with the rights of the state directory's
 * owner, as Postfix's postsuper and postdrop act with their owner's: the
 * files policyctl creates there (the environment's regions, a new table,
 * the next log file) are then the daemon's own, and a daemon that runs as
 * its own user can still open them. A directory that does not exist yet
 * is refused (but by import-postgrey, which makes it as root: a daemon
 * started as root gives it to its --user).
 */
static void
become_owner(void)
{
	struct stat sb;

	if (geteuid() != 0)
		return;
	if (stat(cfg->state_dir, &sb) < 0) {
		if (errno == ENOENT)
			die("state directory %s: %s: start policyd once (it "
			    "makes it for its --user), or make it for the user "
			    "policyd runs as, e.g. install -d -o policyd -g "
			    "policyd -m 0750 %s", cfg->state_dir,
			    strerror(errno), cfg->state_dir);
		die("state directory %s: %s", cfg->state_dir, strerror(errno));
	}
	if (sb.st_uid == 0)
		return; /* root's own: a daemon that runs as root */
	if (setgroups(0, NULL) < 0 || setgid(sb.st_gid) < 0 ||
	    setuid(sb.st_uid) < 0)
		die("cannot act as the owner of %s (uid %u, gid %u): %s",
		    cfg->state_dir, (unsigned)sb.st_uid, (unsigned)sb.st_gid,
		    strerror(errno));
}

/* open_store_in - the daemon's environment; create: make the directory */
static void
open_store_in(bool create)
{
	struct store_opts o = { .dir = cfg->state_dir,
		.cache_bytes = cfg->store_cache, .sync = cfg->store_sync };
	struct why why;
	struct stat sb;
	int err;

	if (create && mkdir(cfg->state_dir, 0750) < 0 && errno != EEXIST)
		die("state directory %s: %s", cfg->state_dir, strerror(errno));
	become_owner();
	errno = 0;
	if (stat(cfg->state_dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
		die("state directory %s: %s", cfg->state_dir,
		    errno ? strerror(errno) : "not a directory");
	if ((st = store_open_bdb(&o, &err, &why)) == NULL)
		die("%s", why.text);
}

static void
open_store(void)
{
	open_store_in(false);
}

struct check_result {
	int done;
	struct verdict v;
};

/* check_done - pipeline callback */
static void
check_done(void *arg, const struct verdict *v, const char *trace)
{
	struct check_result *r = arg;

	(void)trace;
	r->v = *v;
	r->done = 1;
}

/* read_request - one policy request from standard input, as Postfix sends */
static void
read_request(struct req *req, struct arena *a, struct proto_parser *pp)
{
	char buf[4096];
	struct why why;
	size_t n;

	for (;;) {
		enum proto_event ev = PROTO_NEED_MORE;
		size_t off = 0;

		if ((n = fread(buf, 1, sizeof(buf), stdin)) == 0)
			bad("check --request -: the request ends before its "
			    "empty line");
		while (off < n) {
			off += proto_feed(pp, buf + off, n - off, &ev);
			if (ev == PROTO_NEED_MORE)
				continue;
			if (ev != PROTO_REQUEST)
				bad("check --request -: %s", proto_why(pp));
			if (req_from_parser(req, a, pp, &cfg->net, &why) < 0)
				bad("check --request -: %s", why.text);
			return;
		}
	}
}

/*
 * check_cmd - the real pipeline with real DNS for one request, made up
 * from the options as Postfix would send it, or read whole from standard
 * input; changes no state (greylisting is not run) and prints each check,
 * the score and the exact reply the daemon gives the same request.
 */
static int
check_cmd(int argc, char **argv)
{
	enum { O_ADDR = 256, O_NAME, O_REVERSE, O_HELO, O_SENDER, O_RCPT,
		O_CONFIG, O_STATE, O_STRESS, O_CONTEXT, O_SASL, O_INSTANCE,
		O_REQUEST };
	static const struct option opts[] = {
		{ "client-address", required_argument, NULL, O_ADDR },
		{ "client-name", required_argument, NULL, O_NAME },
		{ "reverse-name", required_argument, NULL, O_REVERSE },
		{ "helo", required_argument, NULL, O_HELO },
		{ "sender", required_argument, NULL, O_SENDER },
		{ "recipient", required_argument, NULL, O_RCPT },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "protocol-state", required_argument, NULL, O_STATE },
		{ "stress", no_argument, NULL, O_STRESS },
		{ "policy-context", required_argument, NULL, O_CONTEXT },
		{ "sasl-username", required_argument, NULL, O_SASL },
		{ "instance", required_argument, NULL, O_INSTANCE },
		{ "request", required_argument, NULL, O_REQUEST },
		{ NULL, 0, NULL, 0 },
	};
	const char *attrs[PA_COUNT] = { 0 };
	struct check_result r = { 0 };
	struct pipeline_env env = { .dry = true };
	static struct store_handle check_store;
	struct arena *a = arena_new();
	char reply[PROTO_REPLY_SIZE];
	struct proto_parser pp;
	struct pipeline *p;
	struct dns *dns = NULL;
	bool from_stdin = false, given = false;
	struct ipaddr ip;
	struct why why;
	uv_loop_t loop;
	struct req req;
	size_t k;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		given |= ch != O_CONFIG && ch != O_REQUEST;
		switch (ch) {
		case O_ADDR:
			if (addr_parse(optarg, &ip) < 0)
				bad("--client-address: \"%s\" is not an IP "
				    "address", optarg);
			attrs[PA_CLIENT_ADDRESS] = optarg;
			break;
		case O_NAME:
			/* Postfix's verified name: it is the PTR name too. */
			attrs[PA_CLIENT_NAME] = optarg;
			if (attrs[PA_REVERSE_CLIENT_NAME] == NULL)
				attrs[PA_REVERSE_CLIENT_NAME] = optarg;
			break;
		case O_REVERSE:
			attrs[PA_REVERSE_CLIENT_NAME] = optarg;
			break;
		case O_HELO:
			attrs[PA_HELO_NAME] = optarg;
			break;
		case O_SENDER:
			attrs[PA_SENDER] = optarg;
			break;
		case O_RCPT:
			attrs[PA_RECIPIENT] = optarg;
			break;
		case O_STATE:
			attrs[PA_PROTOCOL_STATE] = optarg;
			break;
		case O_STRESS:
			attrs[PA_STRESS] = "yes";
			break;
		case O_CONTEXT:
			attrs[PA_POLICY_CONTEXT] = optarg;
			break;
		case O_SASL:
			attrs[PA_SASL_USERNAME] = optarg;
			break;
		case O_INSTANCE:
			attrs[PA_INSTANCE] = optarg;
			break;
		case O_REQUEST:
			if (strcmp(optarg, "-") != 0)
				bad("check --request: only - (standard input)");
			from_stdin = true;
			break;
		case O_CONFIG: {
			struct cfg *c = cfg_load(optarg, &why);

			if (c == NULL)
				die("%s", why.text);
			cfg_unref(cfg);
			cfg = c;
			break;
		}
		default:
			bad("check: unknown option (see policyctl --help)");
		}
	}
	if (optind != argc)
		bad("check: unexpected argument \"%s\"", argv[optind]);
	proto_init(&pp);
	if (from_stdin) {
		if (given)
			bad("check: --request - takes the whole request from "
			    "standard input, no other attribute options");
		read_request(&req, a, &pp);
	} else {
		if (attrs[PA_CLIENT_ADDRESS] == NULL)
			bad("check: needs --client-address IP");
		attrs[PA_REQUEST] = "smtpd_access_policy";
		if (attrs[PA_PROTOCOL_STATE] == NULL)
			attrs[PA_PROTOCOL_STATE] = "RCPT";
		if (req_build(&req, a, attrs, &cfg->net, &why) < 0)
			bad("check: %s", why.text);
	}
	uv_loop_init(&loop);
	/* As the daemon: a resolver if any check, of any profile, needs it. */
	if (cfg_needs_dns(cfg) &&
	    (dns = dns_new(&loop, &cfg->dns, &why)) == NULL)
		fprintf(stderr, "policyctl: dns: %s\n", why.text);
	pipeline_init(&(struct chk_ctx){ .loop = &loop, .dns = dns });
	/* Blocks and whitelist entries are the store's: read, never written
	 * (the run is dry). No state directory yet: none of them. */
	{
		struct stat sb;

		if (cfg_needs_store(cfg) && stat(cfg->state_dir, &sb) == 0) {
			open_store();
			check_store.st = st;
			env.store = &check_store;
		}
	}
	env.hostname = cfg->hostname ? cfg->hostname : "policyctl";
	env.now = now;
	if (pipeline_decide(&loop, cfg, dns, &req, &env, check_done, &r, &p,
	    &r.v) == 0) {
		while (!r.done)
			uv_run(&loop, UV_RUN_ONCE);
	}
	printf("request: client=%s name=%s%s helo=%s sender=%s%s%s "
	       "recipient=%s%s%s\n", req.client_addr,
	    req.reverse_name ? req.reverse_name : "-",
	    req.client_name ? " (verified)" : "",
	    req.helo ? req.helo : "-", req.sender.full ? "<" : "",
	    req.sender.full ? req.sender.full : "-", req.sender.full ? ">" : "",
	    req.rcpt.full ? "<" : "", req.rcpt.full ? req.rcpt.full : "-",
	    req.rcpt.full ? ">" : "");
	if (strcmp(req.protocol_state, "RCPT") != 0 || req.stress ||
	    req.policy_context || req.sasl_username)
		printf("postfix: protocol_state=%s%s%s%s%s%s\n",
		    req.protocol_state[0] ? req.protocol_state : "-",
		    req.stress ? " stress=yes" : "",
		    req.policy_context ? " policy_context=" : "",
		    req.policy_context ? req.policy_context : "",
		    req.sasl_username ? " sasl_username=" : "",
		    req.sasl_username ? req.sasl_username : "");
	printf("%-13s %-9s %-7s %5s  %s\n", "CHECK", "RESULT", "ON_FAIL",
	    "SCORE", "REASON");
	for (k = 0; k < r.v.nreports; k++) {
		const struct chk_report *c = &r.v.reports[k];
		char score[16] = "-";

		if (c->score)
			snprintf(score, sizeof(score), "+%d", c->score);
		printf("%-13s %-9s %-7s %5s  %s (%llums)\n", c->name, c->status,
		    c->on_fail, score, c->reason, (unsigned long long)c->ms);
	}
	printf("score: %d (reject at %d, greylist at %d)\n", r.v.score,
	    cfg->score_reject, cfg->score_greylist);
	printf("decided by: %s\n", r.v.rule);
	proto_reply(reply, r.v.action, strlen(r.v.action));
	reply[strcspn(reply, "\n")] = '\0';
	printf("reply: %s\n", reply);
	pipeline_fini(); /* before the resolver its state may be asking */
	if (dns != NULL)
		dns_close(dns);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	msg_fini(&env.msg);
	proto_fini(&pp);
	arena_free(a);
	return 0;
}

/*
 * verify_cmd - every table, each in a child process: Berkeley DB's
 * verifier can crash (abort) on some damage, and a crash must read as
 * "damaged", not take policyctl down without a word.
 */
static int
verify_cmd(void)
{
	char (*names)[STORE_TABLE_MAX + 1] = xcalloc(64, sizeof(*names));
	struct why why;
	int t, n;

	if ((n = store_bdb_tables(cfg->state_dir, names, 64, &why)) < 0)
		die("db verify: %s", why.text);
	for (t = 0; t < n; t++) {
		int pfd[2], status;
		char msg[WHY_MAX] = "";
		ssize_t got;
		pid_t pid;

		if (pipe(pfd) < 0)
			die("db verify: pipe: %s", strerror(errno));
		fflush(stdout);
		if ((pid = fork()) < 0)
			die("db verify: fork: %s", strerror(errno));
		if (pid == 0) {
			struct store_opts o = { .dir = cfg->state_dir,
				.cache_bytes = cfg->store_cache,
				.sync = cfg->store_sync };
			int bad, err;

			close(pfd[0]);
			if ((st = store_open_bdb(&o, &err, &why)) == NULL) {
				/* An environment that cannot open (recovery
				 * meets a damaged page): the file alone. */
				bad = store_verify_file_bdb(cfg->state_dir,
				    names[t], &why) != 0;
				if (bad && write(pfd[1], why.text,
				    strlen(why.text)) < 0)
					_exit(3);
				_exit(bad);
			}
			bad = st->ops->verify(st, names[t], &why) != 0;
			/*
			 * Close before leaving: under DB_REGISTER an open
			 * handle at exit reads as a crashed process, and the
			 * next opener would run recovery under the daemon.
			 */
			st->ops->close(st);
			if (bad && write(pfd[1], why.text, strlen(why.text)) < 0)
				_exit(3);
			_exit(bad);
		}
		close(pfd[1]);
		got = read(pfd[0], msg, sizeof(msg) - 1);
		msg[got > 0 ? got : 0] = '\0';
		close(pfd[0]);
		if (waitpid(pid, &status, 0) < 0)
			die("db verify: wait: %s", strerror(errno));
		if (WIFSIGNALED(status))
			die("db verify: %s.db: Berkeley DB's verifier crashed "
			    "(signal %d): the table is damaged", names[t],
			    WTERMSIG(status));
		if (WEXITSTATUS(status) != 0)
			die("db verify: %s", msg[0] ? msg : "failed");
	}
	free(names);
	printf("db verify: %s: every table is sound\n", cfg->state_dir);
	return 0;
}

/* iso - a time for people and JSON */
static const char *
iso(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0)
		return "-";
	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* json_str - a JSON string literal of s */
static void
json_str(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(fp, "\\u%04x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

/* Filters of greylist list and delete. */
struct filter {
	bool has_client;
	struct cidr client;
	char pool[GL_POOL_MAX];     /* a pool identity instead, or "" */
	const char *sender, *recipient;
	int state; /* 0 any, 1 pending, 2 passed */
	int64_t older_than; /* flush: last seen before now - this; -1 off */
	bool json;
};

/*
 * pool_id - "spf:DOMAIN" or "fcrdns:DOMAIN", the client part of keys
 * that greylisting made for a sender pool: lower-cased into out. false
 * if arg is no pool identity (a network, then).
 */
static bool
pool_id(const char *arg, char *out, size_t size)
{
	size_t i;

	if (strncasecmp(arg, "spf:", 4) != 0 &&
	    strncasecmp(arg, "fcrdns:", 7) != 0)
		return false;
	if (strlen(arg) >= size || strchr(arg, ':')[1] == '\0')
		bad("--client: \"%.80s\" is not a pool (spf:DOMAIN or "
		    "fcrdns:DOMAIN)", arg);
	for (i = 0; arg[i]; i++)
		out[i] = (char)tolower((unsigned char)arg[i]);
	out[i] = '\0';
	return true;
}

/* nets_overlap - does the stored network overlap the filter's */
static bool
nets_overlap(const struct cidr *f, const char *net)
{
	struct cidr e;

	if (cidr_parse(net, &e, NULL) < 0 || e.addr.family != f->addr.family)
		return false;
	return f->prefix <= e.prefix ? cidr_match(f, &e.addr)
				     : cidr_match(&e, &f->addr);
}

/* pattern_matches - a shell pattern, case-insensitive; <> for "" */
static bool
pattern_matches(const char *pat, const char *s)
{
	if (strcmp(pat, "<>") == 0)
		return *s == '\0';
	return fnmatch(pat, s, FNM_CASEFOLD) == 0;
}

/*
 * filter_matches - does a greylist record pass the filter: a network
 * takes the entries of its networks and those whose last request came
 * from inside it (a pool's: "why was 192.0.2.25 delayed?")
 */
static bool
filter_matches(const struct filter *f, const char *net, const char *sender,
    const char *rcpt, const struct gl_entry *e)
{
	if (f->pool[0] != '\0' ? strcmp(f->pool, net) != 0
	    : f->has_client && !nets_overlap(&f->client, net) &&
	    !(e->client.family != 0 && cidr_match(&f->client, &e->client)))
		return false;
	if (f->sender && !pattern_matches(f->sender, sender))
		return false;
	if (f->recipient && !pattern_matches(f->recipient, rcpt))
		return false;
	if (f->state == 1 && e->passed_at != 0)
		return false;
	if (f->state == 2 && e->passed_at == 0)
		return false;
	if (f->older_than >= 0 && e->last >= now - f->older_than)
		return false;
	return true;
}

/* What a list or a flush of greylist entries looks at. */
struct walk {
	const struct filter *f;
	uint64_t bad;    /* damaged records, skipped */
};

/* gl_match - store_match_fn: a greylist record the filter takes */
static bool
gl_match(void *arg, const struct store_rec *r)
{
	const struct walk *w = arg;
	const char *net, *sender, *rcpt;
	struct gl_entry e;

	if (gl_key_split(r->key, r->klen, &net, &sender, &rcpt) < 0 ||
	    gl_entry_decode(r->val, r->vlen, &e) < 0)
		return false;
	return filter_matches(w->f, net, sender, rcpt, &e);
}

/* gl_row - store_row_fn: one greylist entry, as a line or JSON */
static void
gl_row(void *arg, const struct store_rec *r)
{
	struct walk *w = arg;
	const char *net, *sender, *rcpt;
	struct gl_entry e;
	char t1[32], t2[32], t3[32], last[ADDR_STRLEN];

	if (gl_key_split(r->key, r->klen, &net, &sender, &rcpt) < 0 ||
	    gl_entry_decode(r->val, r->vlen, &e) < 0) {
		w->bad++;
		return;
	}
	if (e.client.family != 0)
		addr_format(&e.client, last, sizeof(last));
	else
		snprintf(last, sizeof(last), "-");
	if (w->f->json) {
		printf("{\"client\":");
		json_str(stdout, net);
		printf(",\"last_client\":%s%s%s", e.client.family ? "\"" : "",
		    e.client.family ? last : "null", e.client.family ? "\"" : "");
		printf(",\"sender\":");
		json_str(stdout, sender);
		printf(",\"recipient\":");
		json_str(stdout, rcpt);
		printf(",\"state\":\"%s\",\"first_seen\":\"%s\","
		       "\"last_seen\":\"%s\",\"passed_at\":%s%s%s,"
		       "\"count\":%u}\n",
		    e.passed_at ? "passed" : "pending",
		    iso(e.first, t1, sizeof(t1)), iso(e.last, t2, sizeof(t2)),
		    e.passed_at ? "\"" : "",
		    e.passed_at ? iso(e.passed_at, t3, sizeof(t3)) : "null",
		    e.passed_at ? "\"" : "", e.count);
		return;
	}
	printf("%-20s %-32s %-32s %-7s %-20s %-20s %5u %s\n", net,
	    *sender ? sender : "<>", rcpt, e.passed_at ? "passed" : "pending",
	    iso(e.first, t1, sizeof(t1)), iso(e.last, t2, sizeof(t2)),
	    e.count, last);
}

/*
 * each_batch - a whole table, BATCH records per operation, so no
 * transaction holds the daemon up for long: rows (list) or deletions
 * (row NULL: flush) of what match takes. Rows of a batch come once it is
 * done, once, whatever the store had to run again. What was deleted.
 */
static uint64_t
each_batch(const char *table, store_match_fn *match, store_row_fn *row,
    void *arg)
{
	struct why why;
	uint64_t n = 0;

	if (store_each(st, &ctl_loop, table, BATCH, match, row, arg, &n,
	    &why) < 0)
		die("%s", why.text);
	return n;
}

/* greylist_cmd - list, delete, flush */
static int
greylist_cmd(int argc, char **argv)
{
	enum { O_CLIENT = 256, O_SENDER, O_RCPT, O_PENDING, O_PASSED, O_JSON,
		O_OLDER, O_ALL };
	static const struct option opts[] = {
		{ "client", required_argument, NULL, O_CLIENT },
		{ "sender", required_argument, NULL, O_SENDER },
		{ "recipient", required_argument, NULL, O_RCPT },
		{ "pending", no_argument, NULL, O_PENDING },
		{ "passed", no_argument, NULL, O_PASSED },
		{ "json", no_argument, NULL, O_JSON },
		{ "older-than", required_argument, NULL, O_OLDER },
		{ "all", no_argument, NULL, O_ALL },
		{ NULL, 0, NULL, 0 },
	};
	struct filter f = { .older_than = -1 };
	struct walk w = { &f, 0 };
	bool delete;
	uint64_t n;
	const char *sub;
	bool all = false;
	struct why why;
	uint64_t ms;
	int ch;

	if (argc < 2)
		bad("greylist: needs list, delete or flush");
	sub = argv[1];
	if (strcmp(sub, "list") && strcmp(sub, "delete") && strcmp(sub, "flush"))
		bad("greylist: unknown command \"%s\" (list, delete, flush)",
		    sub);
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_CLIENT:
			f.has_client = true;
			if (pool_id(optarg, f.pool, sizeof(f.pool)))
				break;
			if (cidr_parse(optarg, &f.client, &why) < 0)
				bad("--client: %s", why.text);
			break;
		case O_SENDER:
			f.sender = optarg;
			break;
		case O_RCPT:
			f.recipient = optarg;
			break;
		case O_PENDING:
		case O_PASSED:
			if (f.state != 0)
				bad("--pending and --passed exclude each other");
			f.state = ch == O_PENDING ? 1 : 2;
			break;
		case O_JSON:
			f.json = true;
			break;
		case O_OLDER:
			if (cfg_parse_duration(optarg, &ms, &why) < 0)
				bad("--older-than: %s", why.text);
			f.older_than = (int64_t)(ms / 1000);
			break;
		case O_ALL:
			all = true;
			break;
		default:
			bad("greylist %s: unknown option (see policyctl "
			    "--help)", sub);
		}
	}
	if (optind != argc)
		bad("greylist %s: unexpected argument \"%s\"", sub,
		    argv[optind]);
	if (strcmp(sub, "flush") == 0) {
		if (all == (f.older_than >= 0))
			bad("greylist flush: needs either --older-than "
			    "DURATION or --all");
		if (f.has_client || f.sender || f.recipient || f.state ||
		    f.json)
			bad("greylist flush: takes only --older-than or --all");
	} else if (all || f.older_than >= 0) {
		bad("greylist %s: --all and --older-than are for flush", sub);
	}
	if (strcmp(sub, "delete") == 0 && !f.has_client && !f.sender &&
	    !f.recipient && !f.state)
		bad("greylist delete: needs --client, --sender, --recipient, "
		    "--pending or --passed (greylist flush --all deletes "
		    "everything)");
	if (strcmp(sub, "list") != 0 && f.json)
		bad("greylist %s: --json is for list", sub);
	open_store();
	delete = strcmp(sub, "list") != 0;
	if (!delete && !f.json)
		printf("%-20s %-32s %-32s %-7s %-20s %-20s %5s %s\n",
		    "CLIENT", "SENDER", "RECIPIENT", "STATE", "FIRST_SEEN",
		    "LAST_SEEN", "COUNT", "LAST_CLIENT");
	n = each_batch(GL_TABLE_TRIPLET, gl_match, delete ? NULL : gl_row, &w);
	if (delete)
		printf("deleted %llu greylist entries\n",
		    (unsigned long long)n);
	if (w.bad)
		fprintf(stderr, "policyctl: %llu damaged records skipped\n",
		    (unsigned long long)w.bad);
	return 0;
}

struct awl_walk {
	bool json;
	bool domain;
	uint64_t bad;
};

/* awl_row - store_row_fn for awl list */
static void
awl_row(void *arg, const struct store_rec *r)
{
	struct awl_walk *w = arg;
	const char *k = r->key, *dom = "";
	struct awl_entry e;
	unsigned need;
	char t1[32], t2[32];

	if (awl_entry_decode(r->val, r->vlen, &e) < 0 || r->klen == 0 ||
	    k[r->klen - 1] != '\0') {
		w->bad++;
		return;
	}
	if (w->domain) {
		const char *z = memchr(k, '\0', r->klen);

		if (z == NULL || z + 1 >= k + r->klen) {
			w->bad++;
			return;
		}
		dom = z + 1;
	}
	need = w->domain ? cfg->greylist.awl_domains : cfg->greylist.awl_clients;
	if (w->json) {
		printf("{\"type\":\"%s\",\"client\":", w->domain ? "domain"
							     : "client");
		json_str(stdout, k);
		if (w->domain) {
			printf(",\"domain\":");
			json_str(stdout, dom);
		}
		printf(",\"count\":%u,\"whitelisted\":%s,\"first_seen\":"
		       "\"%s\",\"last_seen\":\"%s\"}\n", e.count,
		    need && e.count >= need ? "true" : "false",
		    iso(e.first, t1, sizeof(t1)), iso(e.last, t2, sizeof(t2)));
		return;
	}
	printf("%-6s %-20s %-32s %5u %-11s %-20s %-20s\n",
	    w->domain ? "domain" : "client", k, w->domain ? dom : "-", e.count,
	    need && e.count >= need ? "yes" : "no", iso(e.first, t1, sizeof(t1)),
	    iso(e.last, t2, sizeof(t2)));
}

/* awl_key - the table key of --client [--domain], as greylisting forms it */
static size_t
awl_key(const char *client, const char *domain, char *key, size_t size)
{
	const struct gl_conf *g = &cfg->greylist;
	struct why why;
	struct cidr c;
	char net[GL_POOL_MAX], a[ADDR_STRLEN];
	unsigned want;
	size_t n;

	if (pool_id(client, net, sizeof(net)))
		goto key;
	if (cidr_parse(client, &c, &why) < 0) {
		/* An address with host bits is fine: its network is meant. */
		struct ipaddr ip;

		if (addr_parse(client, &ip) < 0 && strchr(client, '/') == NULL)
			bad("--client: %s", why.text);
		if (strchr(client, '/') != NULL) {
			char host[ADDR_STRLEN];

			snprintf(host, sizeof(host), "%.*s",
			    (int)(strchr(client, '/') - client), client);
			if (addr_parse(host, &ip) < 0)
				bad("--client: %s", why.text);
			c.addr = ip;
			c.prefix = (unsigned)atoi(strchr(client, '/') + 1);
		} else {
			c.addr = ip;
			c.prefix = ip.family == AF_INET ? 32 : 128;
		}
	}
	want = c.addr.family == AF_INET ? g->ipv4_prefix : g->ipv6_prefix;
	if (strchr(client, '/') != NULL && c.prefix != want)
		bad("--client: greylisting groups %s clients by /%u; give an "
		    "address or a /%u network", c.addr.family == AF_INET
						   ? "IPv4" : "IPv6",
		    want, want);
	greylist_net(g, addr_format(&c.addr, a, sizeof(a)), net, sizeof(net));
key:
	if (domain == NULL) {
		snprintf(key, size, "%s", net);
		return strlen(key) + 1;
	}
	n = (size_t)snprintf(key, size, "%s%c%s", net, '\0', domain);
	return n + 1;
}

/* awl_cmd - list, add, delete */
static int
awl_cmd(int argc, char **argv)
{
	enum { O_CLIENT = 256, O_DOMAIN, O_JSON };
	static const struct option opts[] = {
		{ "client", required_argument, NULL, O_CLIENT },
		{ "domain", required_argument, NULL, O_DOMAIN },
		{ "json", no_argument, NULL, O_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub, *client = NULL;
	char *domain = NULL, *p;
	bool json = false;
	int ch;

	if (argc < 2)
		bad("awl: needs list, add or delete");
	sub = argv[1];
	if (strcmp(sub, "list") && strcmp(sub, "add") && strcmp(sub, "delete"))
		bad("awl: unknown command \"%s\" (list, add, delete)", sub);
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_CLIENT:
			client = optarg;
			break;
		case O_DOMAIN:
			domain = xstrdup(optarg);
			for (p = domain; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
			p = access_norm_name(domain, NULL);
			if (p == NULL || *domain == '.')
				bad("--domain: \"%s\" is not a domain name",
				    optarg);
			free(p);
			break;
		case O_JSON:
			json = true;
			break;
		default:
			bad("awl %s: unknown option (see policyctl --help)",
			    sub);
		}
	}
	if (optind != argc)
		bad("awl %s: unexpected argument \"%s\"", sub, argv[optind]);
	if (strcmp(sub, "list") == 0) {
		struct awl_walk w = { json, false, 0 };

		if (client || domain)
			bad("awl list: takes only --json");
		open_store();
		if (!json)
			printf("%-6s %-20s %-32s %5s %-11s %-20s %-20s\n",
			    "TYPE", "CLIENT", "DOMAIN", "COUNT",
			    "WHITELISTED", "FIRST_SEEN", "LAST_SEEN");
		each_batch(GL_TABLE_CLIENT, NULL, awl_row, &w);
		w.domain = true;
		each_batch(GL_TABLE_DOMAIN, NULL, awl_row, &w);
		if (w.bad)
			fprintf(stderr, "policyctl: %llu damaged records "
			    "skipped\n", (unsigned long long)w.bad);
		return 0;
	}
	if (client == NULL)
		bad("awl %s: needs --client ADDRESS|CIDR", sub);
	if (json)
		bad("awl %s: --json is for list", sub);
	{
		const char *t = domain ? GL_TABLE_DOMAIN : GL_TABLE_CLIENT;
		char key[STORE_KEY_MAX];
		size_t klen = awl_key(client, domain, key, sizeof(key));
		struct store_waiter w;
		int rc;

		open_store();
		store_waiter_init(&w, &ctl_loop);
		if (strcmp(sub, "add") == 0) {
			unsigned char v[AWL_ENTRY_SIZE];
			struct awl_entry e = { 0, now, now, now };
			struct gl_limits lim = gl_limits(&cfg->greylist);
			unsigned need = domain ? cfg->greylist.awl_domains
					       : cfg->greylist.awl_clients;
			struct store_rec r = { key, klen, v, sizeof(v), 0 };

			e.count = need ? need : 1;
			awl_entry_encode(&e, v);
			r.expires = awl_entry_expires(&lim, &e);
			rc = st->ops->put(st, t, &r, 1, NULL, NULL, &w.call);
		} else {
			rc = st->ops->del(st, t, key, klen, &w.call);
		}
		rc = store_wait(&w, rc);
		if (rc == STORE_NOTFOUND)
			die("awl delete: %s%s%s is not in the auto-whitelist",
			    key, domain ? " " : "", domain ? domain : "");
		if (rc < 0)
			die("%s", w.reply.why.text);
		printf("%s %s%s%s\n", strcmp(sub, "add") == 0 ? "added"
							     : "deleted",
		    key, domain ? " " : "", domain ? domain : "");
	}
	free(domain);
	return 0;
}

struct stat_walk {
	bool triplets;   /* the greylist table: pending and passed */
	uint64_t records, pending, passed, bad;
	int64_t oldest, newest; /* first seen, last seen */
};

/* stat_row - store_row_fn for stats */
static void
stat_row(void *arg, const struct store_rec *r)
{
	struct stat_walk *s = arg;
	int64_t first, last;

	if (s->triplets) {
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

/* backscatter: hits and blocks (lib/backscatter.h) */
struct bs_walk {
	bool json;
};

/* bs_row - store_row_fn for backscatter list */
static void
bs_row(void *arg, const struct store_rec *r)
{
	struct bs_walk *w = arg;
	const char *k = r->key;
	char addr[64], t1[32], t2[32], t3[32];
	struct bs_rec b;

	if (r->klen < 3 || r->klen - 2 >= sizeof(addr) || k[0] != 'h' ||
	    k[1] != '\0' || !bs_rec_decode(r->val, r->vlen, &b))
		return;
	memcpy(addr, k + 2, r->klen - 2);
	addr[r->klen - 2] = '\0';
	if (w->json) {
		printf("{\"client\":\"%s\",\"hits\":%u,\"first_hit\":%s%s%s,"
		    "\"last_hit\":%s%s%s,\"blocked_until\":%s%s%s,"
		    "\"trusted\":%s,\"recipients\":", addr, b.hits,
		    b.first ? "\"" : "", b.first ? iso(b.first, t1,
		    sizeof(t1)) : "null", b.first ? "\"" : "",
		    b.last ? "\"" : "", b.last ? iso(b.last, t2,
		    sizeof(t2)) : "null", b.last ? "\"" : "",
		    b.until > now ? "\"" : "", b.until > now ? iso(b.until, t3,
		    sizeof(t3)) : "null", b.until > now ? "\"" : "",
		    b.trusted ? "true" : "false");
		json_str(stdout, b.rcpts);
		printf("}\n");
		return;
	}
	printf("%-40s %5u %-20s %-20s %s%s\n", addr, b.hits,
	    iso(b.last, t1, sizeof(t1)), b.until > now ? iso(b.until, t2,
	    sizeof(t2)) : "-", b.trusted ? "(allowlisted: bounces only) " :
	    "", b.rcpts);
}

/*
 * backscatter_cmd - list [--json], block IP [--for DURATION] (4d),
 * unblock IP
 */
static int
backscatter_cmd(int argc, char **argv)
{
	enum { O_JSON = 256, O_FOR };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "for", required_argument, NULL, O_FOR },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub, *target = NULL;
	bool json = false;
	uint64_t ms = 4ull * 86400 * 1000;
	struct ipaddr ip;
	struct why why;
	char key[64], text[ADDR_STRLEN];
	size_t klen;
	int ch, rc;

	if (argc < 2 || (strcmp(argv[1], "list") && strcmp(argv[1], "block") &&
	    strcmp(argv[1], "unblock")))
		bad("backscatter: needs list, block or unblock");
	sub = argv[1];
	/* The address may come first: block IP --for 2d. */
	if (argc > 2 && argv[2][0] != '-') {
		target = argv[2];
		optind = 3;
	} else {
		optind = 2;
	}
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_JSON:
			json = true;
			break;
		case O_FOR:
			if (cfg_parse_duration(optarg, &ms, &why) < 0 ||
			    ms < 1000 || ms > 365ull * 86400 * 1000)
				bad("--for: \"%s\" is no duration of 1s to 365d",
				    optarg);
			break;
		default:
			bad("backscatter %s: unknown option (see policyctl "
			    "--help)", sub);
		}
	}
	open_store();
	if (strcmp(sub, "list") == 0) {
		struct bs_walk w = { json };

		if (optind != argc || target != NULL)
			bad("backscatter list: unexpected argument \"%s\"",
			    target ? target : argv[optind]);
		if (!json)
			printf("%-40s %5s %-20s %-20s %s\n", "CLIENT", "HITS",
			    "LAST_HIT", "BLOCKED_UNTIL", "RECIPIENTS");
		each_batch(BS_TABLE, NULL, bs_row, &w);
		return 0;
	}
	if (target == NULL && optind + 1 == argc)
		target = argv[optind++];
	if (target == NULL || optind != argc || addr_parse(target, &ip) < 0)
		bad("backscatter %s: needs one IP address", sub);
	addr_format(&ip, text, sizeof(text));
	klen = bs_key(key, sizeof(key), text);
	{
		struct store_waiter w;
		unsigned char v[STORE_VAL_MAX];
		struct bs_rec b;
		struct store_rec r = { key, klen, v, 0, 0 };

		store_waiter_init(&w, &ctl_loop);
		if (strcmp(sub, "block") == 0) {
			memset(&b, 0, sizeof(b));
			b.first = b.last = b.since = now;
			b.until = now + (int64_t)(ms / 1000);
			snprintf(b.rcpts, sizeof(b.rcpts), "(policyctl)");
			r.vlen = bs_rec_encode(&b, v);
			r.expires = b.until + 86400;
			rc = st->ops->put(st, BS_TABLE, &r, 1, NULL, NULL,
			    &w.call);
		} else {
			rc = st->ops->del(st, BS_TABLE, key, klen, &w.call);
		}
		rc = store_wait(&w, rc);
		if (rc == STORE_NOTFOUND)
			die("backscatter unblock: %s has no record", text);
		if (rc < 0)
			die("%s", w.reply.why.text);
	}
	printf("%s %s\n", strcmp(sub, "block") == 0 ? "blocked" : "unblocked",
	    text);
	return 0;
}

/* whitelist: per-recipient sender entries (lib/checks/whitelist.c) */
static char *
wl_norm(const char *opt, const char *s)
{
	struct why why;
	char *out = whitelist_norm(s, &why);

	if (out == NULL)
		bad("%s: %s", opt, why.text);
	return out;
}

struct wl_walk {
	bool json;
	uint64_t n;
};

/* wl_row - store_row_fn for whitelist list */
static void
wl_row(void *arg, const struct store_rec *r)
{
	struct wl_walk *w = arg;
	const char *k = r->key, *sep = memchr(k, '\0', r->klen);
	char rcpt[400], sender[400];
	size_t rl;

	if (sep == NULL || (rl = (size_t)(sep - k)) >= sizeof(rcpt) ||
	    r->klen - rl - 1 >= sizeof(sender) || r->klen - rl - 1 == 0)
		return;
	memcpy(rcpt, k, rl);
	rcpt[rl] = '\0';
	memcpy(sender, sep + 1, r->klen - rl - 1);
	sender[r->klen - rl - 1] = '\0';
	w->n++;
	if (w->json) {
		printf("{\"recipient\":");
		json_str(stdout, rcpt);
		printf(",\"sender\":");
		json_str(stdout, sender);
		printf("}\n");
		return;
	}
	printf("%-40s %s\n", rcpt, sender);
}

/*
 * whitelist_cmd - add|delete --recipient ADDR|@DOMAIN --sender
 * ADDR|@DOMAIN, list [--json]: the daemon reads the store at each
 * request, so a change counts from the next one
 */
static int
whitelist_cmd(int argc, char **argv)
{
	enum { O_RCPT = 256, O_SENDER, O_JSON };
	static const struct option opts[] = {
		{ "recipient", required_argument, NULL, O_RCPT },
		{ "sender", required_argument, NULL, O_SENDER },
		{ "json", no_argument, NULL, O_JSON },
		{ NULL, 0, NULL, 0 },
	};
	char *rcpt = NULL, *sender = NULL, key[2 * WL_ADDR_MAX + 2];
	const char *sub;
	bool json = false;
	size_t klen;
	int ch, rc;

	if (argc < 2 || (strcmp(argv[1], "add") && strcmp(argv[1], "delete") &&
	    strcmp(argv[1], "list")))
		bad("whitelist: needs add, delete or list");
	sub = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_RCPT:
			free(rcpt);
			rcpt = wl_norm("--recipient", optarg);
			break;
		case O_SENDER:
			free(sender);
			sender = wl_norm("--sender", optarg);
			break;
		case O_JSON:
			json = true;
			break;
		default:
			bad("whitelist %s: unknown option (see policyctl "
			    "--help)", sub);
		}
	}
	if (optind != argc)
		bad("whitelist %s: unexpected argument \"%s\"", sub,
		    argv[optind]);
	open_store();
	if (strcmp(sub, "list") == 0) {
		struct wl_walk w = { json, 0 };

		if (rcpt || sender)
			bad("whitelist list: takes only --json");
		if (!json)
			printf("%-40s %s\n", "RECIPIENT", "SENDER");
		each_batch(WL_TABLE, NULL, wl_row, &w);
		return 0;
	}
	if (rcpt == NULL || sender == NULL)
		bad("whitelist %s: needs --recipient and --sender", sub);
	if (json)
		bad("whitelist %s: --json is for list", sub);
	klen = whitelist_key(key, sizeof(key), rcpt, sender);
	{
		struct store_waiter w;
		unsigned char v[8];
		struct store_rec r = { key, klen, v, sizeof(v), 0 };

		store_put_u64(v, (uint64_t)now);
		store_waiter_init(&w, &ctl_loop);
		rc = strcmp(sub, "add") == 0
		    ? st->ops->put(st, WL_TABLE, &r, 1, NULL, NULL, &w.call)
		    : st->ops->del(st, WL_TABLE, key, klen, &w.call);
		rc = store_wait(&w, rc);
		if (rc == STORE_NOTFOUND)
			die("whitelist delete: %s does not trust %s", rcpt,
			    sender);
		if (rc < 0)
			die("%s", w.reply.why.text);
	}
	printf("%s: %s trusts %s\n", strcmp(sub, "add") == 0 ? "added"
	    : "deleted", rcpt, sender);
	free(rcpt);
	free(sender);
	return 0;
}

/* outbound list: what our users sent (lib/outbound.h) */
struct ob_walk {
	const char *sender; /* lower-cased, or NULL: all */
	bool json;
	uint64_t n;
};

/* ob_row - store_row_fn for outbound list */
static void
ob_row(void *arg, const struct store_rec *r)
{
	struct ob_walk *w = arg;
	char sender[STORE_KEY_MAX], rcpt[STORE_KEY_MAX], t1[32], t2[32];
	int64_t last;

	if (r->vlen != 8 || !outbound_parse(r->key, r->klen, sender,
	    sizeof(sender), rcpt, sizeof(rcpt)))
		return;
	if (w->sender != NULL && strcmp(w->sender, sender) != 0)
		return;
	last = (int64_t)store_get_u64(r->val);
	w->n++;
	if (w->json) {
		printf("{\"sender\":");
		json_str(stdout, sender);
		printf(",\"recipient\":");
		if (rcpt[0] != '\0')
			json_str(stdout, rcpt);
		else
			printf("null");
		printf(",\"last\":\"%s\",\"expires\":\"%s\"}\n",
		    iso(last, t1, sizeof(t1)), iso(r->expires, t2,
		    sizeof(t2)));
		return;
	}
	printf("%-40s %-40s %s\n", sender, rcpt[0] ? rcpt : "(sent)",
	    iso(last, t1, sizeof(t1)));
}

/*
 * detection_says - when backscatter detection judges, by the coverage
 * the import left
 */
static void
detection_says(const struct maillog_stats *ms)
{
	int i = chk_find("backscatter");
	int64_t window = i >= 0 ? backscatter_bounce_window(&cfg->checks[i])
				: 0, starts;
	struct outbound_cover c = { ms->cover_since, ms->cover_until,
		ms->cover_last };
	char t1[32], t2[32];

	if (window == 0)
		return;
	if (c.since == 0 || c.until + OUTBOUND_MAX_GAP < now) {
		printf("backscatter detection: not live yet: it needs our "
		       "users' history up to now (the daemon's own records, or "
		       "a log whose newest line is recent)\n");
		return;
	}
	if (now - c.last > window) {
		printf("backscatter detection: not live: no mail of our users "
		       "within bounce_window, neither in the log nor in the "
		       "daemon's records; their mail must pass policyd\n");
		return;
	}
	if (outbound_cover_live(&c, now, window, OUTBOUND_MAX_GAP, &starts))
		printf("backscatter detection: live (our users' history covers "
		       "%s to %s without a gap)\n", iso(c.since, t1,
		    sizeof(t1)), iso(c.until, t2, sizeof(t2)));
	else
		printf("backscatter detection: not live yet: it starts at "
		       "%s, when the history (from %s) covers bounce_window, "
		       "if the daemon records our users' mail until then\n",
		    iso(starts, t1,
		    sizeof(t1)), iso(c.since, t2, sizeof(t2)));
}

/*
 * import_log - outbound import-log FILE|- --domain DOMAIN... [--keep D]
 * [--max-gap D]: our users' past deliveries from Postfix's mail log
 * (lib/maillog.h)
 */
static int
import_log(int argc, char **argv)
{
	enum { O_DOMAIN = 256, O_KEEP, O_MAX_GAP };
	static const struct option opts[] = {
		{ "domain", required_argument, NULL, O_DOMAIN },
		{ "keep", required_argument, NULL, O_KEEP },
		{ "max-gap", required_argument, NULL, O_MAX_GAP },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL;
	char **domains = NULL, t1[32], t2[32];
	size_t nd = 0;
	uint64_t keep_ms = 35ull * 86400 * 1000, gap_ms = 6ull * 3600 * 1000;
	struct maillog_stats ms;
	struct why why;
	FILE *fp;
	int ch;

	/* The file may come first: import-log mail.log --domain x. */
	if (argc > 2 && (argv[2][0] != '-' || strcmp(argv[2], "-") == 0)) {
		file = argv[2];
		optind = 3;
	} else {
		optind = 2;
	}
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_DOMAIN:
			if (optarg[0] == '\0' || strchr(optarg, '@') != NULL ||
			    strlen(optarg) > 253)
				bad("--domain: \"%s\" is not a domain name",
				    optarg);
			domains = xreallocarray(domains, nd + 1,
			    sizeof(*domains));
			domains[nd++] = xstrdup(optarg[0] == '.' ? optarg + 1
								 : optarg);
			break;
		case O_KEEP:
			if (cfg_parse_duration(optarg, &keep_ms, &why) < 0 ||
			    keep_ms < 86400ull * 1000 ||
			    keep_ms > 3650ull * 86400 * 1000)
				bad("--keep: \"%s\" is no duration of 1d to "
				    "3650d", optarg);
			break;
		case O_MAX_GAP:
			if (cfg_parse_duration(optarg, &gap_ms, &why) < 0 ||
			    gap_ms < 600ull * 1000 ||
			    gap_ms > 7ull * 86400 * 1000)
				bad("--max-gap: \"%s\" is no duration of 10m "
				    "to 7d", optarg);
			break;
		default:
			bad("outbound import-log: unknown option (see "
			    "policyctl --help)");
		}
	}
	if (file == NULL && optind < argc)
		file = argv[optind++];
	if (file == NULL || optind != argc)
		bad("outbound import-log: needs one log file (- for standard "
		    "input)");
	if (nd == 0)
		bad("outbound import-log: needs --domain for each of our own "
		    "domains (mail from them is our users')");
	/* The log is read with our own rights, before acting as the
	 * state directory's owner. */
	if (strcmp(file, "-") == 0)
		fp = stdin;
	else if ((fp = fopen(file, "r")) == NULL)
		die("outbound import-log: %s: %s", file, strerror(errno));
	open_store_in(true);
	if (maillog_import(fp, st, &ctl_loop, domains, nd,
	    (int64_t)(keep_ms / 1000), (int64_t)(gap_ms / 1000), now, &ms,
	    &why) < 0)
		die("outbound import-log: %s", why.text);
	if (ferror(fp))
		die("outbound import-log: %s: read error", file);
	if (fp != stdin)
		fclose(fp);
	printf("imported %llu deliveries of our users from %llu lines; left "
	       "out %llu from other senders, %llu older than --keep, %llu "
	       "lines longer than %d bytes; the earliest from %s\n",
	    (unsigned long long)ms.deliveries, (unsigned long long)ms.lines,
	    (unsigned long long)ms.strangers, (unsigned long long)ms.old,
	    (unsigned long long)ms.overlong, MAILLOG_LINE_MAX,
	    ms.since ? iso(ms.since, t1,
	    sizeof(t1)) : "(nothing imported)");
	if (ms.first != 0)
		printf("the log covers %s to %s without a gap of more than "
		       "--max-gap\n", iso(ms.first, t1, sizeof(t1)),
		    iso(ms.last, t2, sizeof(t2)));
	/* A log without its newest files misses the days a bounce of our
	 * users' latest mail comes back in. */
	if (ms.first != 0 && now - ms.last > 3600)
		fprintf(stderr, "policyctl: warning: the newest line is from "
				"%s, more than an hour ago: were the newest "
				"files left out? Read them all, newest first: "
				"zcat -f /var/log/mail.log* | policyctl "
				"outbound import-log - --domain ...\n",
		    iso(ms.last, t1, sizeof(t1)));
	detection_says(&ms);
	strv_free(domains, nd);
	return 0;
}

/* outbound_cmd - outbound list [--sender ADDR] [--json] | import-log */
static int
outbound_cmd(int argc, char **argv)
{
	enum { O_SENDER = 256, O_JSON };
	static const struct option opts[] = {
		{ "sender", required_argument, NULL, O_SENDER },
		{ "json", no_argument, NULL, O_JSON },
		{ NULL, 0, NULL, 0 },
	};
	struct ob_walk w = { NULL, false, 0 };
	char *sender = NULL, *p;
	int ch;

	if (argc >= 2 && strcmp(argv[1], "import-log") == 0)
		return import_log(argc, argv);
	if (argc < 2 || strcmp(argv[1], "list") != 0)
		bad("outbound: needs list or import-log");
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_SENDER:
			free(sender);
			sender = xstrdup(optarg);
			for (p = sender; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
			if (strchr(sender, '@') == NULL)
				bad("--sender: \"%s\" is not an address",
				    optarg);
			break;
		case O_JSON:
			w.json = true;
			break;
		default:
			bad("outbound list: unknown option (see policyctl "
			    "--help)");
		}
	}
	if (optind < argc)
		bad("outbound list: unexpected argument \"%s\"", argv[optind]);
	w.sender = sender;
	open_store();
	if (!w.json)
		printf("%-40s %-40s %s\n", "SENDER", "RECIPIENT", "LAST");
	each_batch(OUTBOUND_TABLE, NULL, ob_row, &w);
	free(sender);
	return 0;
}

struct list_walk {
	struct list_rec rows[64];
	size_t n;
};

/* list_row - store_row_fn for the dnsbl table */
static void
list_row(void *arg, const struct store_rec *r)
{
	struct list_walk *w = arg;

	if (w->n < nitems(w->rows) && list_rec_decode(r->key, r->klen,
	    r->val, r->vlen, &w->rows[w->n]) == 0)
		w->n++;
}

/* list_stats - each DNS list's state, last self-test and counts */
static void
list_stats(bool json)
{
	struct list_walk w = { .n = 0 };
	size_t i;

	each_batch("dnsbl", NULL, list_row, &w);
	if (w.n == 0)
		return;
	if (!json)
		printf("\n%-24s %-9s %-20s %9s %7s %7s %7s  %s\n", "LIST",
		    "STATE", "LAST-TEST", "LOOKUPS", "HITS", "ERRORS",
		    "SKIPPED", "WHY");
	for (i = 0; i < w.n; i++) {
		const struct list_rec *l = &w.rows[i];
		char t1[32], t2[32];

		if (json) {
			printf("{\"list\":");
			json_str(stdout, l->name);
			printf(",\"state\":\"%s\",\"since\":\"%s\","
			    "\"last_test\":%s%s%s,\"lookups\":%llu,"
			    "\"hits\":%llu,\"errors\":%llu,\"skipped\":%llu,"
			    "\"why\":", l->state, iso(l->since, t1, sizeof(t1)),
			    l->tested ? "\"" : "",
			    l->tested ? iso(l->tested, t2, sizeof(t2)) : "null",
			    l->tested ? "\"" : "", l->lookups, l->hits,
			    l->errors, l->skipped);
			json_str(stdout, l->why);
			printf("}\n");
			continue;
		}
		printf("%-24s %-9s %-20s %9llu %7llu %7llu %7llu  %s\n", l->name,
		    l->state, iso(l->tested, t2, sizeof(t2)), l->lookups,
		    l->hits, l->errors, l->skipped, l->why);
	}
}

struct count_walk {
	uint64_t records, blocked, hits;
	bool backscatter;
};

/* count_row - store_row_fn: records, and for backscatter blocks and hits */
static void
count_row(void *arg, const struct store_rec *r)
{
	struct count_walk *w = arg;
	struct bs_rec b;

	w->records++;
	if (w->backscatter && bs_rec_decode(r->val, r->vlen, &b)) {
		w->hits += b.hits;
		if (b.until > now)
			w->blocked++;
	}
}

/* feature_stats - the backscatter, whitelist and outbound tables */
static void
feature_stats(bool json)
{
	static const char *const names[] = { BS_TABLE, WL_TABLE,
		OUTBOUND_TABLE };
	size_t i;

	for (i = 0; i < nitems(names); i++) {
		struct count_walk w = { 0, 0, 0, i == 0 };

		each_batch(names[i], NULL, count_row, &w);
		if (json && i == 0)
			printf("{\"table\":\"%s\",\"records\":%llu,"
			    "\"blocked\":%llu,\"hits\":%llu}\n", names[i],
			    (unsigned long long)w.records,
			    (unsigned long long)w.blocked,
			    (unsigned long long)w.hits);
		else if (json)
			printf("{\"table\":\"%s\",\"records\":%llu}\n",
			    names[i], (unsigned long long)w.records);
		else if (i == 0)
			printf("%-11s %9llu   blocked now: %llu, hits: %llu\n",
			    names[i], (unsigned long long)w.records,
			    (unsigned long long)w.blocked,
			    (unsigned long long)w.hits);
		else
			printf("%-11s %9llu\n", names[i],
			    (unsigned long long)w.records);
	}
}

/*
 * prometheus - the daemon's metrics file, as it is; if it is missing or
 * stale (the daemon is not running, or metrics are off), say so and give
 * the store's figures, counted now
 */
static int
prometheus(void)
{
	char path[4096], buf[65536];
	struct mtext t = { NULL, 0, 0 };
	struct why why;
	struct stat sb;
	FILE *f;
	size_t n;

	cfg_metrics_file(cfg, path, sizeof(path));
	if ((f = fopen(path, "r")) != NULL && fstat(fileno(f), &sb) == 0 &&
	    (int64_t)sb.st_mtime * 1000 + 3 * (int64_t)cfg->metrics_interval_ms
	    >= now * 1000) {
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			if (fwrite(buf, 1, n, stdout) != n)
				die("standard output: %s", strerror(errno));
		fclose(f);
		return 0;
	}
	if (f != NULL) {
		fprintf(stderr, "policyctl: %s is older than three metrics "
				"intervals: is policyd running? the store's "
				"figures only, counted now\n", path);
		fclose(f);
	} else {
		fprintf(stderr, "policyctl: %s: %s%s; the store's figures "
				"only, counted now\n", path, strerror(errno),
		    cfg->metrics_enabled ? " (is policyd running?)"
					 : " (metrics.enabled is false)");
	}
	open_store();
	if (metrics_state(st, now, &t, &why) < 0)
		die("%s", why.text);
	fputs(t.p != NULL ? t.p : "", stdout);
	mt_free(&t);
	return 0;
}

/* stats_cmd - counts per table, oldest and newest */
static int
stats_cmd(int argc, char **argv)
{
	static const char *const names[] = { GL_TABLE_TRIPLET,
		GL_TABLE_CLIENT, GL_TABLE_DOMAIN };
	bool json = false, prom = false;
	size_t i;
	int a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--json") == 0)
			json = true;
		else if (strcmp(argv[a], "--prometheus") == 0)
			prom = true;
		else
			bad("stats: unexpected argument \"%s\"", argv[a]);
	}
	if (json && prom)
		bad("stats: --json or --prometheus, not both");
	if (prom)
		return prometheus();
	open_store();
	if (!json)
		printf("%-11s %9s %9s %9s %-20s %-20s\n", "TABLE", "RECORDS",
		    "PENDING", "PASSED", "OLDEST", "NEWEST");
	for (i = 0; i < nitems(names); i++) {
		struct stat_walk s = { .triplets = i == 0 };
		char t1[32], t2[32];

		each_batch(names[i], NULL, stat_row, &s);
		if (json) {
			printf("{\"table\":\"%s\",\"records\":%llu", names[i],
			    (unsigned long long)s.records);
			if (s.triplets)
				printf(",\"pending\":%llu,\"passed\":%llu",
				    (unsigned long long)s.pending,
				    (unsigned long long)s.passed);
			printf(",\"oldest\":%s%s%s,\"newest\":%s%s%s}\n",
			    s.oldest ? "\"" : "",
			    s.oldest ? iso(s.oldest, t1, sizeof(t1)) : "null",
			    s.oldest ? "\"" : "", s.newest ? "\"" : "",
			    s.newest ? iso(s.newest, t2, sizeof(t2)) : "null",
			    s.newest ? "\"" : "");
			continue;
		}
		if (s.triplets)
			printf("%-11s %9llu %9llu %9llu %-20s %-20s\n", names[i],
			    (unsigned long long)s.records,
			    (unsigned long long)s.pending,
			    (unsigned long long)s.passed,
			    iso(s.oldest, t1, sizeof(t1)),
			    iso(s.newest, t2, sizeof(t2)));
		else
			printf("%-11s %9llu %9s %9s %-20s %-20s\n", names[i],
			    (unsigned long long)s.records, "-", "-",
			    iso(s.oldest, t1, sizeof(t1)),
			    iso(s.newest, t2, sizeof(t2)));
	}
	feature_stats(json);
	list_stats(json);
	return 0;
}

int
main(int argc, char **argv)
{
	enum { O_STATE_DIR = 256, O_HELP };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, O_STATE_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *state_dir = NULL, *cmd;
	struct why why;
	int ch, rc;

	log_init("policyctl", LOG_TO_STDERR);
	/* Options before the command only; the command parses the rest. */
	while ((ch = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case O_STATE_DIR:
			state_dir = optarg;
			break;
		case 'h':
			usage(0);
			break;
		default:
			usage(2);
		}
	}
	if (optind >= argc)
		bad("needs a command (see policyctl --help)");
	if (config == NULL && access(DEFAULT_CONFIG, R_OK) != 0)
		cfg = cfg_parse("(defaults)", "", 0, &why);
	else
		cfg = cfg_load(config ? config : DEFAULT_CONFIG, &why);
	if (cfg == NULL)
		die("%s", why.text);
	if (state_dir != NULL) {
		free(cfg->state_dir);
		cfg->state_dir = xstrdup(state_dir);
	}
	now = (int64_t)time(NULL);
	uv_loop_init(&ctl_loop);
	argc -= optind;
	argv += optind;
	cmd = argv[0];
	if (strcmp(cmd, "greylist") == 0) {
		rc = greylist_cmd(argc, argv);
	} else if (strcmp(cmd, "awl") == 0) {
		rc = awl_cmd(argc, argv);
	} else if (strcmp(cmd, "stats") == 0) {
		rc = stats_cmd(argc, argv);
	} else if (strcmp(cmd, "backscatter") == 0) {
		rc = backscatter_cmd(argc, argv);
	} else if (strcmp(cmd, "whitelist") == 0) {
		rc = whitelist_cmd(argc, argv);
	} else if (strcmp(cmd, "outbound") == 0) {
		rc = outbound_cmd(argc, argv);
	} else if (strcmp(cmd, "db") == 0) {
		if (argc != 2 || strcmp(argv[1], "verify") != 0)
			bad("db: the only command is \"db verify\"");
		rc = verify_cmd();
	} else if (strcmp(cmd, "check") == 0) {
		rc = check_cmd(argc, argv);
	} else if (strcmp(cmd, "import-postgrey") == 0) {
		struct import_stats is;

		if (argc != 2)
			bad("import-postgrey: needs the postgrey database "
			    "directory");
		struct import_src *src;

		/*
		 * postgrey's files are postgrey's: read them with our own
		 * rights (root), before acting as the state directory's
		 * owner. A site switching over imports before policyd first
		 * runs: the directory is made if need be, and the daemon
		 * gives it to its --user when it starts.
		 */
		if (import_postgrey_open(argv[1], &src, &why) != 0)
			die("import-postgrey: %s", why.text);
		open_store_in(true);
		if (import_postgrey_run(src, st, &ctl_loop, &cfg->greylist,
		    now, &is, &why) != 0)
			die("import-postgrey: %s", why.text);
		import_postgrey_close(src);
		printf("imported %llu triplets (%llu passed), %llu "
		       "auto-whitelisted clients; left out %llu expired, %llu "
		       "unreadable, %llu older than ours\n",
		    (unsigned long long)is.triplets,
		    (unsigned long long)is.passed,
		    (unsigned long long)is.clients,
		    (unsigned long long)is.expired,
		    (unsigned long long)is.skipped, (unsigned long long)is.kept);
		rc = 0;
	} else {
		bad("unknown command \"%s\" (see policyctl --help)", cmd);
	}
	if (st != NULL)
		st->ops->close(st);
	uv_run(&ctl_loop, UV_RUN_DEFAULT);
	uv_loop_close(&ctl_loop);
	cfg_unref(cfg);
	return rc;
}
