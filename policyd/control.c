/*
 * control - the control socket (see control.h).
 *
 * A connection is IDLE (waiting for a request line), RUNNING (a job is
 * under way; what the client sends meanwhile waits in the buffer), or
 * INPUT (the job reads "+LINE"s until "."). Answer lines gather in a
 * chunk that goes out when it is full or at the next loop turn; a job
 * waits while more than HIGH_WATER bytes wait to be written.
 */
#define _GNU_SOURCE /* struct ucred */
#include "control.h"

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "log.h"
#include "xalloc.h"

#define CHUNK       (32 * 1024)
#define HIGH_WATER  (1024 * 1024)
#define BUF_MAX     (CTL_INPUT_MAX + 3)

enum cstate { C_IDLE, C_RUNNING, C_INPUT };

struct cconn {
	uv_pipe_t h;
	struct control *ctl;
	struct cconn *next;
	enum cstate state;
	struct ctl_job *job;
	char buf[BUF_MAX];    /* what was read and not used */
	size_t len;
	bool reading, closing, eof;
	bool draining;        /* refused: what comes is read and dropped */
	bool processing;      /* in conn_process */
	uv_timer_t idle;
	uv_timer_t flush;
	char *chunk;          /* answer lines not yet handed to libuv */
	size_t clen;
	/* Who it is. */
	uid_t uid;
	gid_t gid;
	pid_t pid;
	char who[96];
	/* The command under way, for the log. */
	char cmdline[400];
	unsigned flags;
	char first[200];      /* its first output line */
};

struct control {
	uv_loop_t *loop;
	struct ctl_host *host;
	uv_pipe_t lis;
	bool listening;
	char path[108];
	gid_t gid;            /* the socket's group */
	unsigned nconns, max;
	uint64_t idle_ms;     /* a client that sends no request */
	struct cconn *conns;
};

struct control *
control_new(uv_loop_t *loop, struct ctl_host *host)
{
	struct control *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	c->host = host;
	return c;
}

static void conn_process(struct cconn *k);
static void drained(uv_shutdown_t *sd, int status);
static void conn_read_start(struct cconn *k);
static void idle_tick(uv_timer_t *t);

/* conn_freed - the last handle of a connection is closed */
static void
conn_freed(uv_handle_t *h)
{
	struct cconn *k = h->data;

	free(k->chunk);
	free(k);
}

static void
flush_closed(uv_handle_t *h)
{
	struct cconn *k = h->data;

	uv_close((uv_handle_t *)&k->h, conn_freed);
}

static void
idle_closed(uv_handle_t *h)
{
	struct cconn *k = h->data;

	uv_close((uv_handle_t *)&k->flush, flush_closed);
}

/* conn_close - cancel the job, close the connection */
static void
conn_close(struct cconn *k)
{
	struct control *c = k->ctl;
	struct cconn **pp;

	if (k->closing)
		return;
	k->closing = true;
	if (k->job != NULL) {
		if (k->flags & CTL_F_CHANGES)
			log_info("control: %s: %s: cancelled, the client went "
				 "away", k->who, k->cmdline);
		ctl_job_cancel(k->job);
		k->job = NULL;
	}
	for (pp = &c->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	c->nconns--;
	uv_close((uv_handle_t *)&k->idle, idle_closed);
}

static void
written(uv_write_t *w, int status)
{
	struct cconn *k = w->data;

	free(w);
	if (status < 0) {
		conn_close(k);
		return;
	}
	if (k->closing)
		return;
	if (k->job != NULL &&
	    k->h.write_queue_size < HIGH_WATER / 2) {
		if (k->state == C_RUNNING)
			uv_timer_stop(&k->idle);
		ctl_job_resume(k->job);
	}
	if (k->eof && k->job == NULL && k->h.write_queue_size == 0)
		conn_close(k);
}

/* send_chunk - hand what gathered to libuv */
static void
send_chunk(struct cconn *k)
{
	uv_write_t *w;
	uv_buf_t b;
	int rc;

	if (k->clen == 0 || k->closing)
		return;
	w = xmalloc(sizeof(*w) + k->clen);
	memcpy(w + 1, k->chunk, k->clen);
	b = uv_buf_init((char *)(w + 1), (unsigned)k->clen);
	w->data = k;
	k->clen = 0;
	if ((rc = uv_write(w, (uv_stream_t *)&k->h, &b, 1, written)) < 0) {
		free(w);
		conn_close(k);
	}
}

static void
flush_tick(uv_timer_t *t)
{
	send_chunk(t->data);
}

/* put - an answer line, "TAG TEXT\n" */
static void
put(struct cconn *k, const char *tag, const char *text, size_t len)
{
	size_t tl = strlen(tag), need = tl + 1 + len + 1;

	if (k->closing)
		return;
	if (k->clen + need > CHUNK)
		send_chunk(k);
	if (k->chunk == NULL)
		k->chunk = xmalloc(CHUNK + CTL_TEXT_MAX + 64);
	memcpy(k->chunk + k->clen, tag, tl);
	k->clen += tl;
	if (len > 0 || strcmp(tag, "end") == 0) {
		k->chunk[k->clen++] = ' ';
		memcpy(k->chunk + k->clen, text, len);
		k->clen += len;
	}
	k->chunk[k->clen++] = '\n';
	if (k->clen >= CHUNK)
		send_chunk(k);
	else if (!uv_is_active((uv_handle_t *)&k->flush))
		uv_timer_start(&k->flush, flush_tick, 0, 0);
}

/* refuse - an error line and a status, for a request that runs nothing */
static void
refuse(struct cconn *k, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
refuse(struct cconn *k, int status, const char *fmt, ...)
{
	char text[600], st[8];
	va_list ap;
	int n;

	memcpy(text, "policyctl: ", 11);
	va_start(ap, fmt);
	n = vsnprintf(text + 11, sizeof(text) - 11, fmt, ap);
	va_end(ap);
	put(k, "err", text, 11 + (n < 0 ? 0 : (size_t)n < sizeof(text) - 11
	    ? (size_t)n : sizeof(text) - 12));
	n = snprintf(st, sizeof(st), "%d", status);
	put(k, "end", st, (size_t)n);
}

/* Sink callbacks of a job. */
static void
sink_line(void *arg, enum ctl_stream s, const char *text, size_t len)
{
	struct cconn *k = arg;

	/* For the log line of a change: its first output, or its error. */
	if ((s == CTL_OUT && k->first[0] == '\0') ||
	    (s == CTL_ERR && (k->flags & CTL_F_CHANGES)))
		snprintf(k->first, sizeof(k->first), "%.*s",
		    (int)(len < sizeof(k->first) ? len : sizeof(k->first) - 1),
		    text);
	put(k, s == CTL_OUT ? "out" : "err", text, len);
}

static bool
sink_full(void *arg)
{
	struct cconn *k = arg;
	bool full = k->h.write_queue_size + k->clen > HIGH_WATER;

	/* A client that stopped reading gets idle_timeout to go on. */
	if (full && !uv_is_active((uv_handle_t *)&k->idle))
		uv_timer_start(&k->idle, idle_tick, k->ctl->idle_ms, 0);
	return full;
}

static void
sink_input(void *arg, bool want)
{
	struct cconn *k = arg;

	k->state = want ? C_INPUT : C_RUNNING;
	if (want) {
		/* Its input must keep coming: idle_timeout between lines. */
		uv_timer_start(&k->idle, idle_tick, k->ctl->idle_ms, 0);
		put(k, "more", "", 0); /* the client sends its input now */
		if (!k->processing)
			conn_process(k);
	}
}

/* sink_done - the job ended: its status; the next request */
static void
sink_done(void *arg, int status)
{
	struct cconn *k = arg;
	char st[8];
	int n = snprintf(st, sizeof(st), "%d", status);

	k->job = NULL;
	put(k, "end", st, (size_t)n);
	if (k->flags & CTL_F_CHANGES)
		log_info("control: %s: %s: %s%s%s", k->who, k->cmdline,
		    status == 0 ? "done" : status == 2 ? "refused" : "failed",
		    k->first[0] ? ": " : "", k->first);
	k->state = C_IDLE;
	k->flags = 0;
	uv_timer_start(&k->idle, idle_tick, k->ctl->idle_ms, 0);
	/* Requests the client sent meanwhile, even if it has closed its
	 * side since: they are answered in order. */
	if (!k->processing)
		conn_process(k);
	if (k->closing)
		return;
	if (k->eof && k->job == NULL) {
		send_chunk(k);
		if (k->h.write_queue_size == 0)
			conn_close(k);
		return;
	}
	conn_read_start(k);
}

/* start_job - a request line */
static void
start_job(struct cconn *k, const char *line, size_t len)
{
	struct control *c = k->ctl;
	char *argv[CTL_ARGS_MAX + 1], *buf = xmalloc(CTL_LINE_MAX + 1);
	const struct ctl_cmd *cmd;
	struct ctl_sink sink = { sink_line, sink_full, sink_done, sink_input,
		k };
	struct why why;
	size_t o = 0;
	int argc, i;

	uv_timer_stop(&k->idle);
	if ((argc = ctl_parse(line, len, buf, CTL_LINE_MAX + 1, argv,
	    CTL_ARGS_MAX + 1, &why)) < 0) {
		log_warn("control: %s: a malformed request: %s", k->who,
		    why.text);
		refuse(k, CTL_USAGE, "%s", why.text);
		free(buf);
		uv_timer_start(&k->idle, idle_tick, k->ctl->idle_ms, 0);
		return;
	}
	cmd = ctl_find(argc, argv, NULL);
	k->flags = cmd != NULL ? cmd->flags : 0;
	k->first[0] = '\0';
	k->cmdline[0] = '\0';
	for (i = 0; i < argc && o + 2 < sizeof(k->cmdline); i++)
		o += (size_t)snprintf(k->cmdline + o, sizeof(k->cmdline) - o,
		    "%s%s", i ? " " : "", argv[i]);
	for (o = 0; k->cmdline[o]; o++)
		if ((unsigned char)k->cmdline[o] < 0x20)
			k->cmdline[o] = '?';
	k->state = C_RUNNING;
	k->job = ctl_job_start(c->host, argc, argv, &sink);
	free(buf);
}

/*
 * drain - the last answer is out; the connection closes once the client
 * has closed its side (or idle_timeout passes): closing with its bytes
 * unread would reset the connection and lose the answer
 */
static void
drain(struct cconn *k)
{
	uv_shutdown_t *sd;

	if (k->job != NULL) {
		ctl_job_cancel(k->job);
		k->job = NULL;
	}
	send_chunk(k);
	k->draining = true;
	k->len = 0;
	sd = xcalloc(1, sizeof(*sd));
	sd->data = k;
	if (uv_shutdown(sd, (uv_stream_t *)&k->h, drained) < 0)
		free(sd);
	uv_timer_start(&k->idle, idle_tick, k->ctl->idle_ms, 0);
	conn_read_start(k);
}

/* take_line - the next whole line in the buffer; false if none */
static bool
take_line(struct cconn *k, char *line, size_t *len)
{
	char *nl = memchr(k->buf, '\n', k->len);
	size_t n;

	if (nl == NULL)
		return false;
	n = (size_t)(nl - k->buf);
	memcpy(line, k->buf, n);
	line[n] = '\0';
	*len = n;
	memmove(k->buf, nl + 1, k->len - n - 1);
	k->len -= n + 1;
	return true;
}

/* conn_process - whole lines in the buffer, as the state takes them */
static void
conn_process(struct cconn *k)
{
	char line[BUF_MAX];
	size_t len;

	k->processing = true;
	while (!k->closing && !k->draining && k->state != C_RUNNING) {
		if (!take_line(k, line, &len)) {
			if (k->len >= BUF_MAX - 1) {
				log_warn("control: %s: a line longer than %d "
					 "bytes: closing", k->who,
				    CTL_LINE_MAX);
				if (k->job != NULL) {
					ctl_job_cancel(k->job);
					k->job = NULL;
				}
				refuse(k, CTL_USAGE, "a line longer than %d "
				    "bytes", CTL_INPUT_MAX);
				drain(k);
				return;
			}
			if (k->eof && k->state == C_INPUT) {
				/* The client left in the middle of its input:
				 * what it sent is not all there is. */
				conn_close(k);
			}
			break;
		}
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (k->state == C_IDLE) {
			if (len == 0)
				continue;
			start_job(k, line, len);
			continue;
		}
		/* C_INPUT */
		uv_timer_start(&k->idle, idle_tick, k->ctl->idle_ms, 0);
		if (len == 1 && line[0] == '.') {
			uv_timer_stop(&k->idle);
			k->state = C_RUNNING;
			ctl_job_input(k->job, NULL, 0, true);
		} else if (len >= 1 && line[0] == '+') {
			ctl_job_input(k->job, line + 1, len - 1, false);
		} else {
			log_warn("control: %s: an input line without + or .",
			    k->who);
			ctl_job_cancel(k->job);
			k->job = NULL;
			k->state = C_IDLE;
			refuse(k, CTL_USAGE, "an input line must start with + "
			    "(or be . at the end)");
			drain(k);
		}
	}
	k->processing = false;
}

static void
conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct cconn *k = h->data;

	(void)suggested;
	*b = uv_buf_init(k->buf + k->len, (unsigned)(BUF_MAX - k->len));
}

static void
conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct cconn *k = s->data;

	(void)b;
	if (n == 0)
		return;
	if (k->draining) {
		k->len = 0;
		if (n < 0)
			conn_close(k);
		return;
	}
	if (n < 0) {
		k->eof = true;
		uv_read_stop(s);
		k->reading = false;
		if (k->job != NULL && k->state != C_INPUT) {
			/* Gone, or only done writing: a finished job's
			 * answer may still reach it. */
			if (n != UV_EOF) {
				conn_close(k);
				return;
			}
		}
		conn_process(k);
		if (!k->closing && k->job == NULL) {
			send_chunk(k);
			if (k->h.write_queue_size == 0)
				conn_close(k);
		}
		return;
	}
	k->len += (size_t)n;
	conn_process(k);
	/* A full buffer the job does not read from: wait for it. */
	if (!k->closing && k->len >= BUF_MAX - 1 && k->state == C_RUNNING) {
		uv_read_stop(s);
		k->reading = false;
	}
}

static void
conn_read_start(struct cconn *k)
{
	if (k->reading || k->eof || k->closing)
		return;
	k->reading = true;
	uv_read_start((uv_stream_t *)&k->h, conn_alloc, conn_read);
}

/* idle_tick - no request in time */
static void
idle_tick(uv_timer_t *t)
{
	struct cconn *k = t->data;

	if (k->closing)
		return;
	if (k->draining) {
		conn_close(k); /* a client that never closes its side */
		return;
	}
	if (k->state == C_INPUT) {
		log_warn("control: %s: %s: no input for %llu ms: cancelled",
		    k->who, k->cmdline, (unsigned long long)k->ctl->idle_ms);
		refuse(k, CTL_USAGE, "no input line within %llu ms: "
		    "cancelled, nothing more imported", (unsigned long long)
		    k->ctl->idle_ms);
		drain(k);
		return;
	}
	if (k->state == C_RUNNING) {
		if (k->h.write_queue_size + k->clen > HIGH_WATER / 2) {
			log_warn("control: %s: %s: the client has not read its "
			    "answer for %llu ms: closing", k->who, k->cmdline,
			    (unsigned long long)k->ctl->idle_ms);
			conn_close(k);
		}
		return;
	}
	refuse(k, CTL_USAGE, "no request within %llu ms",
	    (unsigned long long)k->ctl->idle_ms);
	drain(k);
}

/* drained - our side is shut: the answer is out */
static void
drained(uv_shutdown_t *sd, int status)
{
	(void)status;
	free(sd);
}

/* peer - who the client is; false if it may not ask */
static bool
peer(struct control *c, struct cconn *k)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	uv_os_fd_t fd;
	struct passwd *pw;

	if (uv_fileno((uv_handle_t *)&k->h, &fd) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		snprintf(k->who, sizeof(k->who), "uid ? pid ?");
		return false;
	}
	k->uid = cr.uid;
	k->gid = cr.gid;
	k->pid = cr.pid;
	pw = getpwuid(cr.uid);
	snprintf(k->who, sizeof(k->who), "uid %u%s%s%s pid %ld",
	    (unsigned)cr.uid, pw ? " (" : "", pw ? pw->pw_name : "",
	    pw ? ")" : "", (long)cr.pid);
	if (cr.uid == 0 || cr.uid == geteuid() || cr.gid == c->gid)
		return true;
#ifdef SO_PEERGROUPS
	{
		gid_t groups[256];
		socklen_t gl = sizeof(groups);
		size_t i;

		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &gl) == 0)
			for (i = 0; i < gl / sizeof(gid_t); i++)
				if (groups[i] == c->gid)
					return true;
	}
#endif
	return false;
}

static void
on_connection(uv_stream_t *ls, int status)
{
	struct control *c = ls->data;
	struct cconn *k;

	if (status < 0) {
		log_warn("control: accept: %s", uv_strerror(status));
		return;
	}
	k = xcalloc(1, sizeof(*k));
	k->ctl = c;
	uv_pipe_init(c->loop, &k->h, 0);
	k->h.data = k;
	uv_timer_init(c->loop, &k->idle);
	uv_timer_init(c->loop, &k->flush);
	k->idle.data = k->flush.data = k;
	k->next = c->conns;
	c->conns = k;
	c->nconns++;
	if (uv_accept(ls, (uv_stream_t *)&k->h) < 0) {
		conn_close(k);
		return;
	}
	if (!peer(c, k)) {
		log_warn("control: refusing %s: not root, not policyd's user, "
			 "not in the socket's group", k->who);
		refuse(k, CTL_FAILED, "permission denied: not in the control "
		    "socket's group");
		drain(k);
		return;
	}
	if (c->nconns > c->max) {
		log_warn("control: refusing %s: %u control connections open, "
			 "control.max_connections is %u", k->who,
		    c->nconns - 1, c->max);
		refuse(k, CTL_FAILED, "policyd is busy with %u other control "
		    "connections; try again", c->nconns - 1);
		drain(k);
		return;
	}
	log_debug("control: connection from %s", k->who);
	uv_timer_start(&k->idle, idle_tick, k->ctl->idle_ms, 0);
	conn_read_start(k);
}

/* answers - does a server answer on path */
static bool
answers(const char *path)
{
	struct sockaddr_un sa;
	bool yes;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return false;
	yes = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return yes;
}

int
control_listen(struct control *c, const struct cfg *cfg, uid_t uid,
    gid_t gid, struct why *why)
{
	char dir[108];
	struct stat sb;
	char *slash;
	int rc;

	cfg_control_socket(cfg, c->path, sizeof(c->path));
	c->max = cfg->control_max_connections;
	c->idle_ms = cfg->control_idle_timeout_ms;
	if (strlen(c->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		why_set(why, "control socket %s: longer than %zu bytes: set "
			     "control.socket", c->path,
		    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return -1;
	}
	/* The runtime directory, if nothing (systemd) made it. */
	snprintf(dir, sizeof(dir), "%s", c->path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == 0 && uid != (uid_t)-1 &&
		    chown(dir, uid, gid) < 0)
			log_warn("control: cannot give %s to uid %u: %s", dir,
			    (unsigned)uid, strerror(errno));
	}
	if (lstat(c->path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			why_set(why, "control socket %s: exists and is no "
				     "socket", c->path);
			return -1;
		}
		if (answers(c->path)) {
			why_set(why, "control socket %s: another policyd "
				     "answers there (one per state "
				     "directory: set control.socket for "
				     "another)", c->path);
			return -2;
		}
		unlink(c->path); /* left by a process that died */
	}
	c->gid = gid != (gid_t)-1 ? gid : getegid();
	if (cfg->control_group != NULL) {
		struct group *gr = getgrnam(cfg->control_group);

		if (gr == NULL) {
			why_set(why, "control: group: no group %s",
			    cfg->control_group);
			return -1;
		}
		c->gid = gr->gr_gid;
	}
	uv_pipe_init(c->loop, &c->lis, 0);
	c->lis.data = c;
	c->listening = true;
	if ((rc = uv_pipe_bind(&c->lis, c->path)) < 0 ||
	    (rc = uv_listen((uv_stream_t *)&c->lis, 16, on_connection)) < 0) {
		why_set(why, "control socket %s: %s", c->path,
		    uv_strerror(rc));
		return -1;
	}
	if (chown(c->path, uid, c->gid) < 0 && geteuid() == 0) {
		why_set(why, "control socket %s: chown: %s", c->path,
		    strerror(errno));
		return -1;
	}
	if (chmod(c->path, (mode_t)cfg->control_mode) < 0) {
		why_set(why, "control socket %s: chmod %o: %s", c->path,
		    (unsigned)cfg->control_mode, strerror(errno));
		return -1;
	}
	log_info("control socket %s (mode %04o)", c->path,
	    (unsigned)cfg->control_mode);
	return 0;
}

void
control_shutdown(struct control *c)
{
	if (c == NULL)
		return;
	if (c->listening) {
		c->listening = false;
		uv_close((uv_handle_t *)&c->lis, NULL);
		unlink(c->path);
	}
	while (c->conns != NULL)
		conn_close(c->conns);
}

void
control_free(struct control *c)
{
	free(c);
}
