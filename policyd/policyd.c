/*
 * policyd - the daemon: options, the policy file, listeners, signals,
 * reload, privilege drop; then one libuv loop until SIGTERM or SIGINT.
 *
 *   policyd [-f] [-v] [-c FILE] [--state-dir DIR] [--user U] [--group G]
 *   policyd --stdio [-c FILE]      one connection on stdin/stdout (spawn)
 *   policyd -n FILE                check a policy file: exit 0 or 1
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "ctl.h"
#include "store.h"
#include "xalloc.h"

#define DEFAULT_CONFIG "/etc/policyd/policyd.yaml"

struct daemon {
	uv_loop_t loop;
	uv_signal_t sigterm, sigint, sighup;
	struct server *srv;
	const char *config_path;
	const char *state_dir; /* --state-dir, overrides the file */
	struct cfg *cfg;
};

/* usage - print the synopsis and exit */
static void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: policyd [-f] [-v] [-c FILE] [--state-dir DIR] "
	    "[--user USER] [--group GROUP]\n"
	    "       policyd --stdio [-v] [-c FILE]\n"
	    "       policyd -n FILE\n"
	    "  -c, --config FILE  policy file (default " DEFAULT_CONFIG ")\n"
	    "  -f, --foreground   stay in the foreground, log to stderr\n"
	    "  -n, --check FILE   check a policy file, exit 0 if good, 1 if "
	    "not\n"
	    "  -v, --verbose      more logging (repeat for more)\n"
	    "  --state-dir DIR    state directory (overrides state_dir)\n"
	    "  --user USER        drop privileges to USER after binding\n"
	    "  --group GROUP      drop privileges to GROUP after binding\n"
	    "  --stdio            serve one connection on stdin/stdout\n"
	    "  --version          print the version\n");
	exit(status);
}

static unsigned fd_budget(const struct cfg *cfg, unsigned inflight);

/* load - the policy file, with the command line's overrides */
static struct cfg *
load(struct daemon *d, struct why *why)
{
	struct cfg *cfg = cfg_load(d->config_path, why);

	if (cfg != NULL && d->state_dir != NULL) {
		free(cfg->state_dir);
		cfg->state_dir = xstrdup(d->state_dir);
	}
	return cfg;
}

/* same_listeners - do two configs listen on the same sockets */
static int
same_listeners(const struct cfg *a, const struct cfg *b)
{
	size_t i;

	if (a->nlisten != b->nlisten)
		return 0;
	for (i = 0; i < a->nlisten; i++) {
		const struct cfg_listen *x = &a->listen[i], *y = &b->listen[i];

		if (x->kind != y->kind || x->port != y->port ||
		    strcmp(x->host ? x->host : "", y->host ? y->host : "") ||
		    strcmp(x->path ? x->path : "", y->path ? y->path : ""))
			return 0;
	}
	return 1;
}

/*
 * notify - tell systemd how we are (sd_notify(3)'s protocol: one datagram
 * to $NOTIFY_SOCKET, "@" for the abstract namespace); nothing without it
 */
static void
notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		log_warn("cannot tell systemd \"%s\": %s", state,
		    strerror(errno));
	close(fd);
}

/*
 * reload - the policy file again (SIGHUP, policyctl reload): 0, or -1
 * with why (the policy in force stays)
 */
static int
reload(void *arg, struct why *why)
{
	struct daemon *d = arg;
	struct cfg *cfg;

	notify("RELOADING=1");
	if ((cfg = load(d, why)) == NULL) {
		server_reloaded(d->srv, false);
		notify("READY=1\nSTATUS=reload failed, the policy in force "
		       "stays");
		return -1;
	}
	if (!same_listeners(cfg, d->cfg))
		log_warn("reload: listener changes take effect at the next "
			 "restart");
	if (strcmp(cfg->state_dir, d->cfg->state_dir) != 0 ||
	    cfg_needs_store(cfg) != cfg_needs_store(d->cfg) ||
	    cfg->store_cache != d->cfg->store_cache ||
	    cfg->store_sync != d->cfg->store_sync)
		log_warn("reload: store changes (state_dir, store, greylist or "
			 "dnsbl enabled) take effect at the next restart");
	if (memcmp(&cfg->dns, &d->cfg->dns, sizeof(cfg->dns)) != 0)
		log_warn("reload: dns changes take effect at the next restart");
	{
		char a[108], b[108];

		cfg_control_socket(cfg, a, sizeof(a));
		cfg_control_socket(d->cfg, b, sizeof(b));
		if (strcmp(a, b) != 0 || cfg->control_mode !=
		    d->cfg->control_mode)
			log_warn("reload: control socket changes take effect "
				 "at the next restart");
	}
	server_set_config(d->srv, cfg);
	server_set_conn_limit(d->srv, fd_budget(cfg, d->cfg->dns.max_inflight));
	/* Checks that need DNS may have been switched on. */
	server_dns_start(d->srv);
	cfg_unref(d->cfg);
	d->cfg = cfg;
	server_reloaded(d->srv, true);
	log_info("reloaded policy from %s", d->config_path);
	if (cfg->dry_run)
		log_warn("dry_run is on: nothing is refused or deferred; each "
			 "decision line says what would have been (would=)");
	notify("READY=1\nSTATUS=serving");
	return 0;
}

/* on_signal - SIGHUP reloads; SIGTERM and SIGINT shut down */
static void
on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;

	if (signum == SIGHUP) {
		struct why why;

		if (reload(d, &why) < 0)
			log_err("reload failed, keeping the current policy: %s",
			    why.text);
		return;
	}
	log_info("%s: shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	notify("STOPPING=1");
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
	uv_close((uv_handle_t *)&d->sighup, NULL);
	server_shutdown(d->srv);
}

/* resolve_ids - the uid and gid of --user and --group; fatal if unknown */
static void
resolve_ids(const char *user, const char *group, uid_t *uid, gid_t *gid)
{
	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (user != NULL) {
		struct passwd *pw = getpwnam(user);

		if (pw == NULL) {
			log_err("--user %s: no such user", user);
			exit(1);
		}
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	}
	if (group != NULL) {
		struct group *gr = getgrnam(group);

		if (gr == NULL) {
			log_err("--group %s: no such group", group);
			exit(1);
		}
		*gid = gr->gr_gid;
	}
}

/*
 * give_state_dir - started as root to run as --user: the state directory
 * and the files in it are that user's. policyd made the directory as root
 * a moment ago, or a policyctl run as root before policyd ever ran (the
 * postgrey import) made files there; the daemon could not open them.
 * Only the directory and its own entries, never what a symlink points to.
 */
static void
give_state_dir(const char *dir, const char *user, uid_t uid, gid_t gid)
{
	unsigned n = 0;
	struct dirent *de;
	struct stat sb;
	DIR *dp;

	if (lstat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return;
	if (sb.st_uid != uid && lchown(dir, uid, gid) < 0) {
		log_err("state_dir %s: cannot give it to %s: %s", dir, user,
		    strerror(errno));
		exit(1);
	}
	if ((dp = opendir(dir)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		char path[4096];

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode) ||
		    sb.st_uid == uid)
			continue;
		if (lchown(path, uid, gid) < 0)
			log_warn("state_dir: cannot give %s to %s: %s", path,
			    user, strerror(errno));
		else
			n++;
	}
	closedir(dp);
	if (n > 0)
		log_info("state_dir %s: gave %u files made by another user "
			 "(policyctl run as root) to %s", dir, n, user);
}

/* drop_privileges - become uid and gid; fatal on failure */
static void
drop_privileges(const char *user, uid_t uid, gid_t gid)
{
	if (gid != (gid_t)-1 &&
	    (setgroups(1, &gid) < 0 || setgid(gid) < 0)) {
		log_err("cannot change to group %u: %s", (unsigned)gid,
		    strerror(errno));
		exit(1);
	}
	if (uid != (uid_t)-1) {
		if (setuid(uid) < 0) {
			log_err("cannot change to user %s: %s", user,
			    strerror(errno));
			exit(1);
		}
		if (uid != 0 && setuid(0) == 0) {
			log_err("privileges could be regained after dropping "
				"them to %s", user);
			exit(1);
		}
	}
	if (uid != (uid_t)-1 || gid != (gid_t)-1)
		log_info("running as uid %u gid %u", (unsigned)getuid(),
		    (unsigned)getgid());
}

/*
 * Descriptors besides the connections and the resolver's sockets: the
 * listeners are counted apart; this covers the store (environment,
 * tables, log), the log socket, the loop, its signals and timers, stdio.
 */
#define FD_RESERVE 64

/*
 * fd_budget - room for every descriptor at full load: each connection,
 * each resolver socket (dns.max_inflight are on the wire at once, one
 * socket each, UDP or TCP), each listener, and FD_RESERVE. Raises the
 * soft limit as far as the hard one allows; returns how many connections
 * fit, which is max_connections unless the hard limit is too low (then
 * logged once per change).
 */
static unsigned
fd_budget(const struct cfg *cfg, unsigned inflight)
{
	static unsigned warned;
	rlim_t others = (rlim_t)inflight + cfg->nlisten + FD_RESERVE;
	rlim_t need = others + cfg->max_connections, fit;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return cfg->max_connections;
	if (rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0 &&
		    getrlimit(RLIMIT_NOFILE, &rl) < 0)
			return cfg->max_connections;
	}
	if (rl.rlim_cur >= need) {
		warned = 0;
		return cfg->max_connections;
	}
	fit = rl.rlim_cur > others + 16 ? rl.rlim_cur - others : 16;
	if (warned != (unsigned)fit)
		log_warn("the descriptor limit is %llu, below the %llu that "
			 "max_connections %u, the resolver's %u sockets and "
			 "%u in reserve need; accepting at most %llu "
			 "connections: raise the limit (LimitNOFILE= in the "
			 "systemd unit, ulimit -n) or lower max_connections",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)need,
		    cfg->max_connections, inflight,
		    (unsigned)(FD_RESERVE + cfg->nlisten),
		    (unsigned long long)fit);
	warned = (unsigned)fit;
	return (unsigned)fit;
}

/* close_walk - close whatever handle is left at exit */
static void
close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int
main(int argc, char **argv)
{
	enum { O_STATE_DIR = 256, O_USER, O_GROUP, O_STDIO, O_VERSION };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", required_argument, NULL, 'n' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "state-dir", required_argument, NULL, O_STATE_DIR },
		{ "user", required_argument, NULL, O_USER },
		{ "group", required_argument, NULL, O_GROUP },
		{ "stdio", no_argument, NULL, O_STDIO },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d;
	const char *check = NULL, *user = NULL, *group = NULL;
	int foreground = 0, stdio_mode = 0, ch, rc;
	struct why why;

	/* db verify's child (lib/ctl/db.c): one table, then out. */
	if (argc == 4 && strcmp(argv[1], "--verify-table") == 0)
		return ctl_verify_table(argv[3], argv[2]);
	memset(&d, 0, sizeof(d));
	d.config_path = DEFAULT_CONFIG;
	while ((ch = getopt_long(argc, argv, "c:n:fvh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			d.config_path = optarg;
			break;
		case 'n':
			check = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'v':
			log_verbose++;
			break;
		case 'h':
			usage(0);
			break;
		case O_STATE_DIR:
			d.state_dir = optarg;
			break;
		case O_USER:
			user = optarg;
			break;
		case O_GROUP:
			group = optarg;
			break;
		case O_STDIO:
			stdio_mode = 1;
			break;
		case O_VERSION:
			printf("policyd %s\n", POLICYD_VERSION);
			return 0;
		default:
			usage(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "policyd: unexpected argument \"%s\"\n",
		    argv[optind]);
		usage(2);
	}

	if (check != NULL) {
		struct cfg *cfg = cfg_load(check, &why);

		if (cfg == NULL) {
			fprintf(stderr, "%s\n", why.text);
			return 1;
		}
		printf("%s: ok\n", check);
		cfg_unref(cfg);
		return 0;
	}

	/* --stdio owns stdout for the protocol: log to syslog or stderr. */
	log_init("policyd", foreground ? LOG_TO_STDERR : LOG_TO_SYSLOG);
	signal(SIGPIPE, SIG_IGN);
	if ((d.cfg = load(&d, &why)) == NULL) {
		log_err("%s", why.text);
		if (!foreground)
			fprintf(stderr, "policyd: %s\n", why.text);
		return 1;
	}
	if (!stdio_mode && mkdir(d.cfg->state_dir, 0750) < 0 &&
	    errno != EEXIST) {
		log_err("state_dir %s: %s", d.cfg->state_dir, strerror(errno));
		return 1;
	}
	uv_loop_init(&d.loop);
	d.srv = server_new(&d.loop, d.cfg);
	server_set_conn_limit(d.srv, fd_budget(d.cfg, d.cfg->dns.max_inflight));
	rc = stdio_mode ? server_stdio(d.srv, &why)
			: server_listen(d.srv, &why);
	if (rc < 0) {
		log_err("%s", why.text);
		if (!foreground)
			fprintf(stderr, "policyd: %s\n", why.text);
		return 1;
	}
	{
		uid_t uid;
		gid_t gid;

		resolve_ids(user, group, &uid, &gid);
		if (!stdio_mode && geteuid() == 0 && uid != (uid_t)-1 &&
		    uid != 0)
			give_state_dir(d.cfg->state_dir, user, uid,
			    gid != (gid_t)-1 ? gid : getgid());
		/* Mail goes on without the control socket: only another
		 * daemon answering on it stops this one. */
		if (!stdio_mode && (rc = server_control_listen(d.srv, uid,
		    gid, reload, &d, &why)) < 0) {
			log_err("%s", why.text);
			if (!foreground)
				fprintf(stderr, "policyd: %s\n", why.text);
			if (rc == -2)
				return 1;
			log_err("control: policyctl cannot reach this daemon "
				"until it is restarted with a socket it can "
				"make");
		}
		drop_privileges(user, uid, gid);
	}
	/* An offline policyctl has the store to itself: say so, and wait
	 * for nothing (it may take long). */
	if (!stdio_mode && cfg_needs_store(d.cfg) &&
	    store_lock_probe(d.cfg->state_dir, &why) == STORE_ELOCKED) {
		log_err("cannot start: %s", why.text);
		if (!foreground)
			fprintf(stderr, "policyd: cannot start: %s\n", why.text);
		return 1;
	}
	if (!foreground && !stdio_mode) {
		if (daemon(0, 0) < 0) {
			log_err("cannot go to the background: %s",
			    strerror(errno));
			return 1;
		}
		uv_loop_fork(&d.loop);
	}
	/* After the fork and the privilege drop: the files are ours. */
	if (cfg_needs_store(d.cfg))
		server_store_start(d.srv);
	server_dns_start(d.srv);
	server_checks_start(d.srv);
	server_metrics_start(d.srv);

	uv_signal_init(&d.loop, &d.sigterm);
	uv_signal_init(&d.loop, &d.sigint);
	uv_signal_init(&d.loop, &d.sighup);
	d.sigterm.data = d.sigint.data = d.sighup.data = &d;
	uv_signal_start(&d.sigterm, on_signal, SIGTERM);
	uv_signal_start(&d.sigint, on_signal, SIGINT);
	uv_signal_start(&d.sighup, on_signal, SIGHUP);
	if (stdio_mode) {
		/* The connection alone keeps the loop going. */
		uv_unref((uv_handle_t *)&d.sigterm);
		uv_unref((uv_handle_t *)&d.sigint);
		uv_unref((uv_handle_t *)&d.sighup);
	}
	log_info("policyd %s started, policy %s", POLICYD_VERSION,
	    d.config_path);
	if (d.cfg->dry_run && !stdio_mode)
		log_warn("dry_run is on: nothing is refused or deferred; each "
			 "decision line says what would have been (would=)");
	if (!stdio_mode) {
		char ready[64];

		snprintf(ready, sizeof(ready), "READY=1\nSTATUS=serving\n"
		    "MAINPID=%ld", (long)getpid());
		notify(ready);
	}

	uv_run(&d.loop, UV_RUN_DEFAULT);

	/* --stdio ends with its connection: close the rest in order. */
	server_shutdown(d.srv);
	uv_run(&d.loop, UV_RUN_DEFAULT);
	uv_walk(&d.loop, close_walk, NULL);
	uv_run(&d.loop, UV_RUN_DEFAULT);
	if ((rc = uv_loop_close(&d.loop)) != 0)
		log_warn("loop closed with handles open: %s", uv_strerror(rc));
	server_free(d.srv);
	cfg_unref(d.cfg);
	log_info("stopped");
	return 0;
}
