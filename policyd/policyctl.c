/*
 * policyctl - inspect and change policyd's state. With the daemon
 * running, every command goes through its control socket (lib/ctl.h's
 * protocol) and policyctl opens no file of the store; with no daemon
 * answering, policyctl runs the same command itself ("offline"), holding
 * the store's lock alone, so the two never share an environment.
 *
 *   policyctl [-c FILE] [--state-dir DIR] [--socket PATH] COMMAND [ARGS]
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
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
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
#include "ctl.h"
#include "xalloc.h"

#define DEFAULT_CONFIG "/etc/policyd/policyd.yaml"

static struct cfg *cfg;
static struct store *st;
static int64_t now;
/* Where an operation of a store that answers later is waited for. */
static uv_loop_t ctl_loop;

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
		.cache_bytes = cfg->store_cache, .sync = cfg->store_sync,
		.lock = STORE_LOCK_EXCLUSIVE };
	struct why healed;
	char path[108];
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
	o.healed = &healed;
	if ((st = store_open_bdb(&o, &err, &why)) == NULL) {
		if (err != STORE_ELOCKED)
			die("%s", why.text);
		cfg_control_socket(cfg, path, sizeof(path));
		die("%s; but nothing answers on its control socket %s: is "
		    "control.socket the same for both (policyctl -c, "
		    "--socket)?", why.text, path);
	}
	if (o.healed != NULL && o.healed->text[0] != '\0')
		fprintf(stderr, "policyctl: %s\n", o.healed->text);
}

static void
open_store(void)
{
	open_store_in(false);
}


/* usage - the synopsis; exits */
static void
usage(int status)
{
	FILE *fp = status ? stderr : stdout;

	fprintf(fp, "usage: policyctl [-c FILE] [--state-dir DIR] [--socket "
		    "PATH] COMMAND ...\n");
	ctl_usage(fp);
	fprintf(fp, "PATTERN is a shell pattern (*, ?), case-insensitive; <> "
		    "is the null sender.\n"
		    "POOL is a sender pool greylisting keyed on: spf:DOMAIN or "
		    "fcrdns:DOMAIN.\n"
		    "With policyd running, commands go through its control "
		    "socket; without, policyctl\nworks on the store itself.\n");
	exit(status);
}

/* Offline: a job on our own loop, its lines to stdout and stderr. */
struct local {
	int status;
	bool done, want;
};

static void
local_line(void *arg, enum ctl_stream s, const char *text, size_t len)
{
	FILE *fp = s == CTL_OUT ? stdout : stderr;

	(void)arg;
	fwrite(text, 1, len, fp);
	fputc('\n', fp);
}

static void
local_done(void *arg, int status)
{
	struct local *l = arg;

	l->status = status;
	l->done = true;
}

static void
local_want(void *arg, bool want)
{
	struct local *l = arg;

	l->want = want;
}

/*
 * run_local - the command here, against the store we opened (or none)
 * and a resolver if it is check; input from in (NULL: none)
 */
static int
run_local(int argc, char **argv, FILE *in, bool with_store)
{
	static struct store_handle handle;
	struct ctl_host host = { .loop = &ctl_loop, .cfg = cfg,
		.offline = true };
	struct local l = { 0, false, false };
	struct ctl_sink sink = { local_line, NULL, local_done, local_want,
		&l };
	struct dns *dns = NULL;
	struct ctl_job *job;
	struct why why;
	bool check = strcmp(argv[0], "check") == 0;

	if (with_store) {
		handle.st = st;
		host.store = &handle;
	}
	if (check) {
		/* As the daemon: a resolver if any check, of any profile,
		 * needs it. */
		if (cfg_needs_dns(cfg) &&
		    (dns = dns_new(&ctl_loop, &cfg->dns, &why)) == NULL)
			fprintf(stderr, "policyctl: dns: %s\n", why.text);
		host.dns = dns;
		pipeline_init(&(struct chk_ctx){ .loop = &ctl_loop, .dns = dns,
		    .transient = true });
	}
	job = ctl_job_start(&host, argc, argv, &sink);
	while (!l.done) {
		if (l.want && in != NULL) {
			static char line[CTL_INPUT_MAX];
			size_t len;
			bool cut;

			/* A cut line stays longer than any line a command
			 * reads whole: it is counted as too long. */
			while (!l.done && l.want && maillog_read_line(in, line,
			    sizeof(line), &len, &cut))
				ctl_job_input(job, line, len, false);
			if (!l.done && l.want) {
				l.want = false;
				ctl_job_input(job, NULL, 0, true);
			}
			continue;
		}
		uv_run(&ctl_loop, UV_RUN_ONCE);
	}
	if (check) {
		pipeline_fini(); /* before the resolver its state may ask */
		if (dns != NULL)
			dns_close(dns);
	}
	fflush(stdout);
	return l.status;
}

/*
 * remote - the command through the daemon's control socket fd: the
 * request, input from in when the daemon asks for it, the answer's
 * lines to stdout and stderr; the status it ends with
 */
static int
remote(int fd, int argc, char **argv, FILE *in, const char *path)
{
	static char line[CTL_INPUT_MAX + 8];
	char req[CTL_LINE_MAX + 2];
	FILE *rx, *tx;
	size_t n;
	int status = -1;

	if ((n = ctl_encode(req, sizeof(req), argc, argv)) == 0)
		bad("the command is longer than %d bytes", CTL_LINE_MAX);
	if ((rx = fdopen(fd, "r")) == NULL || (tx = fdopen(dup(fd), "w")) ==
	    NULL)
		die("control socket %s: %s", path, strerror(errno));
	fwrite(req, 1, n, tx);
	fflush(tx);
	while (fgets(line, sizeof(line), rx) != NULL) {
		size_t len = strcspn(line, "\n");

		line[len] = '\0';
		if (strncmp(line, "out ", 4) == 0 || strcmp(line, "out") == 0) {
			printf("%s\n", line + (len > 3 ? 4 : 3));
		} else if (strncmp(line, "err ", 4) == 0) {
			fflush(stdout);
			fprintf(stderr, "%s\n", line + 4);
		} else if (strcmp(line, "more") == 0) {
			static char in_line[CTL_INPUT_MAX];
			bool cut;

			while (in != NULL && maillog_read_line(in, in_line,
			    sizeof(in_line), &n, &cut)) {
				fputc('+', tx);
				fwrite(in_line, 1, n, tx);
				fputc('\n', tx);
			}
			fputs(".\n", tx);
			if (fflush(tx) != 0)
				break;
		} else if (strncmp(line, "end ", 4) == 0) {
			status = atoi(line + 4);
			break;
		}
	}
	fflush(stdout);
	fclose(tx);
	fclose(rx);
	if (status < 0)
		die("control socket %s: the connection ended before the "
		    "answer did (did policyd stop? its log may say why); a "
		    "change may or may not have been made", path);
	return status;
}

/*
 * dial - the daemon's control socket: its descriptor, or -1 if no
 * daemon answers there (ENOENT, ECONNREFUSED); other errors are fatal
 */
static int
dial(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		bad("--socket: \"%s\" is longer than %zu bytes", path,
		    sizeof(sa.sun_path) - 1);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		die("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (errno == ENOENT || errno == ECONNREFUSED) {
		close(fd);
		return -1;
	}
	if (errno == EACCES || errno == EPERM)
		die("control socket %s: %s: policyctl must run as root, as "
		    "policyd's user, or as a member of the socket's group "
		    "(control.group)", path, strerror(errno));
	die("control socket %s: %s", path, strerror(errno));
}

/* import_postgrey_cmd - offline only: postgrey's files into a fresh store */
static int
import_postgrey_cmd(int argc, char **argv)
{
	struct import_stats is;
	struct import_src *src;
	struct why why;

	if (argc != 2)
		bad("import-postgrey: needs the postgrey database directory");
	/*
	 * postgrey's files are postgrey's: read them with our own rights
	 * (root), before acting as the state directory's owner. A site
	 * switching over imports before policyd first runs: the directory
	 * is made if need be, and the daemon gives it to its --user when it
	 * starts.
	 */
	if (import_postgrey_open(argv[1], &src, &why) != 0)
		die("import-postgrey: %s", why.text);
	open_store_in(true);
	if (import_postgrey_run(src, st, &ctl_loop, greylist_conf(cfg), now, &is,
	    &why) != 0)
		die("import-postgrey: %s", why.text);
	import_postgrey_close(src);
	printf("imported %llu triplets (%llu passed), %llu auto-whitelisted "
	       "clients; left out %llu expired, %llu unreadable, %llu older "
	       "than ours\n", (unsigned long long)is.triplets,
	    (unsigned long long)is.passed, (unsigned long long)is.clients,
	    (unsigned long long)is.expired, (unsigned long long)is.skipped,
	    (unsigned long long)is.kept);
	return 0;
}

/*
 * check_offline - check with no daemon: the store's state read if the
 * policy keeps any and the state directory is there (none yet: a site
 * that tries a policy before policyd first ran)
 */
static int
check_offline(int argc, char **argv, FILE *in)
{
	struct stat sb;
	bool with = cfg_needs_store(cfg) && stat(cfg->state_dir, &sb) == 0;

	if (with)
		open_store();
	return run_local(argc, argv, in, with);
}

/*
 * split_config - check --config FILE: the policy to try, taken out of
 * the words (the command then runs here, with that policy)
 */
static const char *
split_config(int *argc, char **argv)
{
	const char *file = NULL;
	int i, o = 0;

	for (i = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < *argc) {
			file = argv[++i];
			continue;
		}
		if (strncmp(argv[i], "--config=", 9) == 0) {
			file = argv[i] + 9;
			continue;
		}
		argv[o++] = argv[i];
	}
	argv[o] = NULL;
	*argc = o;
	return file;
}

/*
 * input_of - the input a command reads: the log file of import-log
 * (opened with our own rights, then sent as "-"), or standard input for
 * a "-"; NULL if none
 */
static FILE *
input_of(int argc, char **argv)
{
	FILE *fp;
	int i;

	if (argc >= 2 && strcmp(argv[0], "outbound") == 0 &&
	    strcmp(argv[1], "import-log") == 0) {
		for (i = 2; i < argc; i++) {
			if (argv[i][0] == '-' && argv[i][1] != '\0') {
				if (strchr(argv[i], '=') == NULL)
					i++; /* --domain x */
				continue;
			}
			if (strcmp(argv[i], "-") == 0)
				return stdin;
			if ((fp = fopen(argv[i], "r")) == NULL)
				die("outbound import-log: %s: %s", argv[i],
				    strerror(errno));
			argv[i] = (char *)(uintptr_t)"-";
			return fp;
		}
		return NULL;
	}
	return ctl_reads_input(argc, argv) ? stdin : NULL;
}

int
main(int argc, char **argv)
{
	enum { O_STATE_DIR = 256, O_SOCKET };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, O_STATE_DIR },
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *state_dir = NULL, *sock = NULL, *try;
	const struct ctl_cmd *cmd;
	char path[108];
	struct why why, broken = { "" };
	FILE *in;
	int ch, rc, fd, i;

	if (argc == 4 && strcmp(argv[1], "--verify-table") == 0)
		return ctl_verify_table(argv[3], argv[2]);
	log_init("policyctl", LOG_TO_STDERR);
	signal(SIGPIPE, SIG_IGN);
	/* Options before the command only; the command parses the rest. */
	while ((ch = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case O_STATE_DIR:
			state_dir = optarg;
			break;
		case O_SOCKET:
			sock = optarg;
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
	argc -= optind;
	argv += optind;
	/* FAMILY --help (or -h anywhere after the family, or help as its
	 * verb): its commands' usage, as policyctl --help shows them all.
	 * No command takes -h or --help, and a value "help" is not one. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") != 0 &&
		    strcmp(argv[i], "-h") != 0 &&
		    !(i == 1 && strcmp(argv[i], "help") == 0))
			continue;
		printf("usage: policyctl [-c FILE] [--state-dir DIR] [--socket "
		       "PATH] COMMAND ...\n");
		if (ctl_usage_family(stdout, argv[0]) == 0)
			bad("no command family \"%.40s\" (see policyctl --help)",
			    argv[0]);
		exit(0);
	}
	if ((cmd = ctl_find(argc, argv, &why)) == NULL)
		bad("%s", why.text);
	if (config == NULL && access(DEFAULT_CONFIG, R_OK) != 0)
		cfg = cfg_parse("(defaults)", "", 0, &why);
	else
		cfg = cfg_load(config ? config : DEFAULT_CONFIG, &why);
	if (cfg == NULL) {
		/*
		 * A policy file with a mistake: the daemon still runs with
		 * the one it had, and answers on the default socket (or
		 * --socket); a reload through it names the mistake again.
		 * Offline, nothing works without the policy.
		 */
		broken = why;
		cfg = cfg_parse("(defaults)", "", 0, &why);
	}
	if (state_dir != NULL) {
		free(cfg->state_dir);
		cfg->state_dir = xstrdup(state_dir);
	}
	now = (int64_t)time(NULL);
	uv_loop_init(&ctl_loop);
	if (sock != NULL)
		snprintf(path, sizeof(path), "%s", sock);
	else
		cfg_control_socket(cfg, path, sizeof(path));
	/* check --config FILE tries a policy here, not the daemon's. */
	if (strcmp(cmd->family, "check") == 0 &&
	    (try = split_config(&argc, argv)) != NULL) {
		struct cfg *c = cfg_load(try, &why);

		if (c == NULL)
			die("%s", why.text);
		if (state_dir != NULL) {
			free(c->state_dir);
			c->state_dir = xstrdup(state_dir);
		}
		cfg_unref(cfg);
		cfg = c;
		in = input_of(argc, argv);
		fd = dial(path);
		if (fd >= 0) {
			close(fd);
			fprintf(stderr, "policyctl: check --config: policyd is "
				"running: its state (blocks, whitelists) is not "
				"consulted\n");
			rc = run_local(argc, argv, in, false);
		} else {
			rc = check_offline(argc, argv, in);
		}
		goto out;
	}
	if (broken.text[0] != '\0' && strcmp(cmd->family, "check") == 0)
		die("%s", broken.text);
	in = input_of(argc, argv);
	fd = dial(path);
	if (fd >= 0 && (cmd->flags & CTL_F_OFFLINE)) {
		close(fd);
		die("%s: policyd is running: stop it first (this works on the "
		    "store directly)", cmd->family);
	}
	if (fd >= 0) {
		if (broken.text[0] != '\0' && strcmp(cmd->family, "reload"))
			fprintf(stderr, "policyctl: warning: %s\n",
			    broken.text);
		rc = remote(fd, argc, argv, in, path);
		goto out;
	}
	if (broken.text[0] != '\0')
		die("%s", broken.text);
	if (cmd->flags & CTL_F_DAEMON)
		die("%s: policyd is not running (nothing answers on %s)",
		    cmd->family, path);
	if (strcmp(cmd->family, "import-postgrey") == 0) {
		rc = import_postgrey_cmd(argc, argv);
		goto out;
	}
	if (strcmp(cmd->family, "check") == 0) {
		rc = check_offline(argc, argv, in);
		goto out;
	}
	open_store_in(strcmp(cmd->family, "outbound") == 0 &&
	    cmd->verb != NULL && strcmp(cmd->verb, "import-log") == 0);
	rc = run_local(argc, argv, in, true);
out:
	if (in != NULL && in != stdin)
		fclose(in);
	if (st != NULL)
		st->ops->close(st);
	uv_run(&ctl_loop, UV_RUN_DEFAULT);
	uv_loop_close(&ctl_loop);
	cfg_unref(cfg);
	return rc;
}
