/*
 * server - listeners and connections.
 *
 * Data flow per connection: read -> input buffer -> proto_feed() ->
 * req_from_parser() -> pipeline_decide() -> proto_reply() -> write, one
 * log line per decision. Requests of one connection are answered in the
 * order they came; the parser stops while one is being answered (its
 * checks waiting for DNS), so the rest of a pipelined read waits in the
 * input buffer, which stops growing at INBUF_MAX: reading resumes only
 * when a written reply has made room.
 *
 * Lifetimes: a connection is freed in the close callback of its last
 * handle (libuv's rule); it holds a config reference for as long as it
 * lives, and takes the server's current config between requests, so a
 * reload never changes the rules in the middle of a request.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "arena.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "keeper.h"
#include "control.h"
#include "ctl.h"
#include "store.h"
#include "request.h"
#include "msg.h"
#include "pipeline.h"
#include "verdict.h"
#include "dns.h"
#include "checks/chk.h"
#include "xalloc.h"

/* Unanswered input we hold before we stop reading from a peer. */
#define INBUF_MAX (2 * PROTO_MAX_REQUEST)
/*
 * The input buffer never grows past this: reading stops above INBUF_MAX,
 * so a reading connection always has at least INBUF_CAP - INBUF_MAX free.
 */
#define INBUF_CAP (INBUF_MAX + 64 * 1024)
/* Unsent replies we hold before we stop reading from a peer. */
#define OUTQ_MAX (256 * 1024)

struct listener {
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} h;
	struct server *srv;
	bool is_tcp;
	char name[128]; /* inet:addr:port or unix:path, for logs */
};

struct conn {
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} h;
	uv_pipe_t out;       /* --stdio only: stdout; else unused */
	uv_timer_t idle;
	struct server *srv;
	struct conn *next, *prev;
	struct cfg *cfg;     /* reference, refreshed between requests */
	struct proto_parser parser;
	struct pipeline_env env; /* per connection: the current message */
	struct arena *arena; /* the current request's */
	struct req req;      /* the request being answered */
	struct pipeline *pipeline; /* its checks, while they run */
	uint64_t t0;         /* uv_hrtime() when the request ended */
	char *in;            /* unparsed input */
	size_t inlen, incap;
	char peer[136];      /* addr:port, or the listener */
	unsigned handles;    /* open handles; freed when it reaches 0 */
	unsigned writes;     /* replies not yet written */
	/*
	 * Replies of this loop turn, held until the turn's store writes are
	 * durable and its log lines written (server_turn): then one write.
	 */
	char *obuf;
	size_t olen, ocap;
	bool queued;         /* in the server's queue of held replies */
	bool close_held;     /* conn_close_gently once they are out */
	struct conn *qnext, *qprev;
	bool stdio;
	bool reading;
	bool busy;           /* a request is being answered */
	bool closing;        /* close started, or will once writes drain */
	bool eof;            /* the peer sent all it will send */
};

struct server {
	uv_loop_t *loop;
	struct cfg *cfg;
	struct listener *lis;
	size_t nlis;
	struct conn *conns;  /* doubly linked */
	unsigned nconns;
	unsigned conn_limit; /* what the descriptors allow; 0: no limit */
	bool draining;       /* shutting down */
	uv_timer_t force;    /* shutdown bound; closed when all is done */
	uv_prepare_t turn;   /* the end of a loop turn: server_turn */
	struct conn *queue;  /* connections with held replies */
	struct keeper *keeper; /* NULL: greylisting is off, no store */
	struct dns *dns;     /* NULL: no DNS check enabled, or no resolver */
	bool checks_started; /* pipeline_init() was called */
	char hostname[256];
	/* Metrics: counted per answer, written every metrics.interval. */
	struct metrics *metrics;
	struct dns_stats dns_last; /* the resolver's, kept past its close */
	uv_timer_t mtimer;
	uint64_t mtimer_every;     /* 0: not running */
	uv_work_t mwork;
	bool mwriting;             /* mwork is on the thread pool */
	struct mtext mtext;        /* what mwork writes */
	char mpath[4096];
	int mmode;           /* its mode (metrics.mode) */
	int mrc;                   /* mwork's errno, 0 if it worked */
	int mlast_rc;              /* logged once per change */
	bool stdio_mode;           /* one connection: no metrics file */
	/* The control socket and what its commands run against. */
	struct control *control;
	struct ctl_host host;
	int (*reload)(void *arg, struct why *why);
	void *reload_arg;
	/* The operator's figures of the server itself. */
	int64_t started;           /* time() at server_new */
	uint64_t reloads[2];       /* failed, worked */
	bool last_reload_ok;       /* the last reload worked (or none) */
	int64_t last_reload;       /* time() of the last that worked; at
				    * start, the start */
	uint64_t refused_allow;    /* connections not in allow */
	uint64_t refused_limit;    /* past max_connections */
};

static void conn_process(struct conn *c);
static void server_maybe_done(struct server *s);
static void conn_close(struct conn *c);
static void conn_abandoned(struct conn *c);
static void conn_maybe_finish(struct conn *c);
static void conn_read_start(struct conn *c);
static void conn_read_resume(struct conn *c);
static void server_turn(uv_prepare_t *h);
static void unqueue(struct conn *c);

/* server_new - an idle server */
struct server *
server_new(uv_loop_t *loop, struct cfg *cfg)
{
	struct server *s = xcalloc(1, sizeof(*s));

	s->loop = loop;
	s->cfg = cfg_ref(cfg);
	if (gethostname(s->hostname, sizeof(s->hostname) - 1) < 0)
		snprintf(s->hostname, sizeof(s->hostname), "localhost");
	uv_timer_init(loop, &s->force);
	uv_unref((uv_handle_t *)&s->force);
	uv_prepare_init(loop, &s->turn);
	s->turn.data = s;
	uv_prepare_start(&s->turn, server_turn);
	uv_unref((uv_handle_t *)&s->turn);
	log_hold(true);
	s->metrics = metrics_new();
	s->started = s->last_reload = (int64_t)time(NULL);
	s->last_reload_ok = true;
	uv_timer_init(loop, &s->mtimer);
	s->mtimer.data = s;
	s->mwork.data = s;
	return s;
}

/* metrics_text - every figure, into t */
static void
metrics_text(struct server *s, struct mtext *t)
{
	struct keeper_stats ks;
	const char *state;

	t->len = 0;
	{
		const char *l[] = { "version", POLICYD_VERSION };

		mt_family(t, "policyd_build_info", "gauge",
		    "1, with the version of policyd that runs.");
		mt_sample(t, "policyd_build_info", l, 1, 1);
	}
	mt_one(t, "policyd_start_time_seconds", "gauge",
	    "When the daemon started, in seconds since the epoch.",
	    (double)s->started);
	mt_family(t, "policyd_reloads_total", "counter",
	    "Reloads of the policy file (SIGHUP, policyctl reload), by "
	    "result.");
	{
		const char *l0[] = { "result", "failed" };
		const char *l1[] = { "result", "ok" };

		mt_sample(t, "policyd_reloads_total", l0, 1,
		    (double)s->reloads[0]);
		mt_sample(t, "policyd_reloads_total", l1, 1,
		    (double)s->reloads[1]);
	}
	mt_one(t, "policyd_last_reload_successful", "gauge",
	    "1 if the last reload worked (or none was asked for), else 0: the "
	    "policy in force is older than the file.", s->last_reload_ok);
	mt_one(t, "policyd_last_reload_success_timestamp_seconds", "gauge",
	    "When the policy in force was loaded, in seconds since the epoch.",
	    (double)s->last_reload);
	mt_one(t, "policyd_connections", "gauge",
	    "Policy connections open now.", s->nconns);
	mt_family(t, "policyd_connections_refused_total", "counter",
	    "Policy connections refused: not in allow, or past "
	    "max_connections (limit).");
	{
		const char *la[] = { "why", "allow" };
		const char *ll[] = { "why", "limit" };

		mt_sample(t, "policyd_connections_refused_total", la, 1,
		    (double)s->refused_allow);
		mt_sample(t, "policyd_connections_refused_total", ll, 1,
		    (double)s->refused_limit);
	}
	metrics_set_dry_run(s->metrics, s->cfg->dry_run);
	metrics_write(s->metrics, t);
	pipeline_metrics(t);
	if (s->dns != NULL)
		dns_get_stats(s->dns, &s->dns_last);
	{
		static const struct {
			const char *name, *help;
			size_t off;
		} dns[] = {
			{ "policyd_dns_questions_total", "Questions the checks "
			  "asked the resolver.", offsetof(struct dns_stats,
			  asked) },
			{ "policyd_dns_cache_hits_total", "Questions answered "
			  "from the cache.", offsetof(struct dns_stats,
			  cache_hits) },
			{ "policyd_dns_coalesced_total", "Questions that joined "
			  "the same question in flight.",
			  offsetof(struct dns_stats, coalesced) },
			{ "policyd_dns_queries_sent_total", "Queries sent to "
			  "nameservers (UDP and TCP).",
			  offsetof(struct dns_stats, sent) },
			{ "policyd_dns_timeouts_total", "Tries with no answer in "
			  "time, and questions past their limit.",
			  offsetof(struct dns_stats, timeouts) },
			{ "policyd_dns_ignored_answers_total", "Answers that "
			  "matched no query: stray or spoofed.",
			  offsetof(struct dns_stats, ignored) },
		};
		size_t i;

		for (i = 0; i < sizeof(dns) / sizeof(dns[0]); i++) {
			uint64_t v;

			memcpy(&v, (const char *)&s->dns_last + dns[i].off,
			    sizeof(v));
			mt_one(t, dns[i].name, "counter", dns[i].help,
			    (double)v);
		}
		mt_family(t, "policyd_dns_failures_total", "counter",
		    "Tries that failed, by why: unreachable, refused, "
		    "servfail, timeout, malformed, other.");
		for (i = 0; i < DNS_FAIL_KINDS; i++) {
			const char *l[] = { "kind", dns_fail_name(i) };

			mt_sample(t, "policyd_dns_failures_total", l, 1,
			    (double)s->dns_last.failures[i]);
		}
		if (s->dns != NULL)
			mt_one(t, "policyd_dns_up", "gauge", "0 while no "
			    "nameserver answers (checks that need DNS defer), "
			    "else 1.", !s->dns_last.down);
	}
	if (s->keeper == NULL)
		return;
	keeper_get_stats(s->keeper, &ks);
	mt_one(t, "policyd_store_up", "gauge",
	    "1 if the state store is open for requests.", ks.open);
	mt_one(t, "policyd_store_operations_total", "counter",
	    "Store work for requests and upkeep that worked.", (double)ks.ops);
	mt_family(t, "policyd_store_errors_total", "counter",
	    "Store work that failed, by kind.");
	{
		int i;

		for (i = 1; i < KEEPER_ERRORS; i++) {
			const char *l[] = { "kind", store_error_name(-i) };

			mt_sample(t, "policyd_store_errors_total", l, 1,
			    (double)ks.errors[i]);
		}
	}
	if ((state = keeper_state_metrics(s->keeper)) != NULL)
		mt_add_text(t, state);
}

/*
 * metrics_put - write path by a temporary file and rename, mode set
 * whatever the umask (the unit's 0027 would keep node_exporter out); 0
 * or errno
 */
static int
metrics_put(const char *path, int mode, const struct mtext *t)
{
	char tmp[4200];
	size_t off = 0;
	int fd, err = 0;

	/* One name: what a kill -9 in mid-write left is overwritten next. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) < 0)
		return errno;
	if (fchmod(fd, (mode_t)mode) < 0)
		err = errno;
	while (err == 0 && off < t->len) {
		ssize_t n = write(fd, t->p + off, t->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			break;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0 && err == 0)
		err = errno;
	if (err == 0 && rename(tmp, path) < 0)
		err = errno;
	if (err != 0)
		unlink(tmp);
	return err;
}

/* metrics_result - log a change of the writes' fate, once */
static void
metrics_result(struct server *s, int rc)
{
	if (rc != 0 && rc != s->mlast_rc)
		log_warn("metrics: cannot write %s: %s; trying again every "
			 "interval", s->mpath, strerror(rc));
	else if (rc == 0 && s->mlast_rc != 0)
		log_info("metrics: writing %s again", s->mpath);
	s->mlast_rc = rc;
}

static void
metrics_run(uv_work_t *w)
{
	struct server *s = w->data;

	s->mrc = metrics_put(s->mpath, s->mmode, &s->mtext);
}

static void
metrics_ran(uv_work_t *w, int status)
{
	struct server *s = w->data;

	s->mwriting = false;
	if (status == 0)
		metrics_result(s, s->mrc);
}

/* metrics_tick - the figures now, written on the thread pool */
static void
metrics_tick(uv_timer_t *t)
{
	struct server *s = t->data;

	if (s->keeper != NULL)
		keeper_refresh_metrics(s->keeper); /* for the next round */
	if (s->mwriting)
		return; /* a slow disk: this round is skipped */
	metrics_text(s, &s->mtext);
	cfg_metrics_file(s->cfg, s->mpath, sizeof(s->mpath));
	s->mmode = s->cfg->metrics_mode;
	if (uv_queue_work(s->loop, &s->mwork, metrics_run, metrics_ran) == 0)
		s->mwriting = true;
}

/* metrics_follow - the timer follows the policy in force */
static void
metrics_follow(struct server *s)
{
	uint64_t every = s->cfg->metrics_enabled && !s->stdio_mode
	    ? s->cfg->metrics_interval_ms : 0;

	if (every == s->mtimer_every || s->draining)
		return;
	s->mtimer_every = every;
	if (every == 0) {
		uv_timer_stop(&s->mtimer);
		return;
	}
	/* The first soon, so a collector need not wait a whole interval. */
	uv_timer_start(&s->mtimer, metrics_tick, every < 1000 ? every : 1000,
	    every);
}

/* server_metrics_start - write the metrics from now on, if enabled */
void
server_metrics_start(struct server *s)
{
	metrics_follow(s);
	/* The store's figures in time for the first file. */
	if (s->mtimer_every != 0 && s->keeper != NULL)
		keeper_refresh_metrics(s->keeper);
}

/* server_set_config - later requests use cfg */
void
server_set_config(struct server *s, struct cfg *cfg)
{
	cfg_ref(cfg);
	cfg_unref(s->cfg);
	s->cfg = cfg;
	s->host.cfg = cfg; /* jobs under way keep their own reference */
	if (s->keeper != NULL)
		keeper_set_config(s->keeper, cfg);
	if (s->checks_started)
		pipeline_configure(cfg);
	metrics_follow(s);
}

/* server_set_conn_limit - at most n connections, whatever the config */
void
server_set_conn_limit(struct server *s, unsigned n)
{
	s->conn_limit = n;
}

/* server_maybe_done - shutting down and no connection left: let go */
static void
server_maybe_done(struct server *s)
{
	if (s->draining && s->conns == NULL &&
	    !uv_is_closing((uv_handle_t *)&s->force))
		uv_close((uv_handle_t *)&s->force, NULL);
	if (s->draining && s->conns == NULL &&
	    !uv_is_closing((uv_handle_t *)&s->turn)) {
		server_turn(&s->turn); /* the last turn's writes and lines */
		uv_close((uv_handle_t *)&s->turn, NULL);
	}
	if (s->draining && s->conns == NULL && s->dns != NULL) {
		dns_get_stats(s->dns, &s->dns_last);
		dns_close(s->dns);
		s->dns = NULL;
	}
}

/* conn_handle_closed - free the connection with its last handle */
static void
conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->handles > 0)
		return;
	proto_fini(&c->parser);
	msg_fini(&c->env.msg);
	arena_free(c->arena);
	cfg_unref(c->cfg);
	free(c->in);
	free(c->obuf);
	free(c);
}

/* conn_close - unlink and close every handle of the connection */
static void
conn_close(struct conn *c)
{
	struct server *s = c->srv;

	if (c->handles == 0 || uv_is_closing(&c->h.handle))
		return;
	c->closing = true;
	unqueue(c); /* held replies go with the connection */
	c->olen = 0;
	if (c->pipeline != NULL) {
		/* The connection broke before the answer: say so, count it. */
		conn_abandoned(c);
		pipeline_cancel(c->pipeline);
		c->pipeline = NULL;
		c->busy = false;
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	uv_close(&c->h.handle, conn_handle_closed);
	uv_close((uv_handle_t *)&c->idle, conn_handle_closed);
	if (c->stdio)
		uv_close((uv_handle_t *)&c->out, conn_handle_closed);
	server_maybe_done(s);
	/* --stdio serves this one connection: the rest (the store's timer)
	 * must not keep the process alive after it. */
	if (c->stdio)
		server_shutdown(s);
}

/* conn_shutdown_done - all replies are out: close */
static void
conn_shutdown_done(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	(void)status;
	free(req);
	conn_close(c);
}

/* conn_close_gently - close once every queued reply is written */
static void
conn_close_gently(struct conn *c)
{
	uv_shutdown_t *req;
	uv_stream_t *out = c->stdio ? (uv_stream_t *)&c->out : &c->h.stream;

	if (c->closing)
		return;
	if (c->olen > 0) {
		/* Replies are held for this turn: close after they are out. */
		c->close_held = true;
		if (c->reading) {
			uv_read_stop(&c->h.stream);
			c->reading = false;
		}
		return;
	}
	c->closing = true;
	if (c->reading) {
		uv_read_stop(&c->h.stream);
		c->reading = false;
	}
	uv_timer_stop(&c->idle);
	req = xmalloc(sizeof(*req));
	req->data = c;
	if (uv_shutdown(req, out, conn_shutdown_done) < 0) {
		free(req);
		c->closing = false;
		conn_close(c);
	}
}

/* conn_maybe_finish - close when shutting down and nothing is pending */
static void
conn_maybe_finish(struct conn *c)
{
	if (c->closing || c->busy)
		return;
	if (c->eof && (c->inlen > 0 || proto_pending(&c->parser)))
		log_info("connection %s: client disconnected in the middle of "
			 "a request", c->peer);
	if (c->eof || (c->srv->draining && c->inlen == 0 &&
	    !proto_pending(&c->parser)))
		conn_close_gently(c);
}

struct wreq {
	uv_write_t w;
	struct conn *c;
	size_t len;
	char buf[];          /* len bytes */
};

/* conn_written - one reply is out; maybe read again */
static void
conn_written(uv_write_t *w, int status)
{
	struct wreq *wr = (struct wreq *)w;
	struct conn *c = wr->c;

	free(wr);
	c->writes--;
	if (status < 0) {
		if (status != UV_ECANCELED)
			log_info("connection %s: write failed: %s", c->peer,
			    uv_strerror(status));
		conn_close(c);
		return;
	}
	conn_read_resume(c);
}

/* unqueue - out of the server's queue of held replies */
static void
unqueue(struct conn *c)
{
	if (!c->queued)
		return;
	if (c->qprev != NULL)
		c->qprev->qnext = c->qnext;
	else
		c->srv->queue = c->qnext;
	if (c->qnext != NULL)
		c->qnext->qprev = c->qprev;
	c->qnext = c->qprev = NULL;
	c->queued = false;
}

/*
 * conn_reply - hold one reply for the end of this loop turn: it goes out
 * after the turn's store writes are durable and its log lines written
 * (server_turn), with the connection's other replies in one write
 */
static void
conn_reply(struct conn *c, const char *action)
{
	char buf[PROTO_REPLY_SIZE];
	size_t len = proto_reply(buf, action, strlen(action));

	if (c->olen + len > c->ocap) {
		c->ocap = c->olen + len > 2 * c->ocap ? c->olen + len
		    : 2 * c->ocap;
		c->obuf = xrealloc(c->obuf, c->ocap);
	}
	memcpy(c->obuf + c->olen, buf, len);
	c->olen += len;
	if (!c->queued) {
		c->queued = true;
		c->qprev = NULL;
		c->qnext = c->srv->queue;
		if (c->qnext != NULL)
			c->qnext->qprev = c;
		c->srv->queue = c;
	}
}

/* conn_send - the held replies out: at once if the socket takes them */
static void
conn_send(struct conn *c)
{
	uv_stream_t *out = c->stdio ? (uv_stream_t *)&c->out : &c->h.stream;
	uv_buf_t b = uv_buf_init(c->obuf, (unsigned)c->olen);
	struct wreq *wr;
	int rc;

	/* No request, no write queue: no allocation, no epoll_ctl. */
	rc = uv_try_write(out, &b, 1);
	if (rc == (int)c->olen) {
		c->olen = 0;
		return;
	}
	if (rc < 0 && rc != UV_EAGAIN) {
		log_info("connection %s: write failed: %s", c->peer,
		    uv_strerror(rc));
		conn_close(c);
		return;
	}
	/* The socket is full (or a write is queued): the rest waits. */
	wr = xmalloc(sizeof(*wr) + c->olen - (rc > 0 ? (size_t)rc : 0));
	wr->c = c;
	wr->len = c->olen - (rc > 0 ? (size_t)rc : 0);
	memcpy(wr->buf, c->obuf + (rc > 0 ? rc : 0), wr->len);
	c->olen = 0;
	b = uv_buf_init(wr->buf, (unsigned)wr->len);
	if ((rc = uv_write(&wr->w, out, &b, 1, conn_written)) < 0) {
		free(wr);
		log_info("connection %s: write failed: %s", c->peer,
		    uv_strerror(rc));
		conn_close(c);
		return;
	}
	c->writes++;
}

/*
 * server_turn - the end of a loop turn, before it waits again: the
 * turn's store writes made durable (group commit), its log lines
 * written, then the replies, so a reply never goes out before what it
 * says is kept (kill -9 loses nothing answered) or logged
 */
static void
server_turn(uv_prepare_t *h)
{
	struct server *s = h->data;
	struct conn *c;

	if (s->keeper != NULL)
		keeper_group_commit(s->keeper); /* nothing to do: no call */
	log_flush();
	while ((c = s->queue) != NULL) {
		unqueue(c);
		if (c->closing || c->olen == 0)
			continue;
		conn_send(c);
		if (c->closing)
			continue;
		if (c->close_held && c->olen == 0) {
			c->close_held = false;
			conn_close_gently(c);
			continue;
		}
		conn_read_resume(c);
	}
}

/* dns_health - no nameserver answers any more, or one does again */
static void
dns_health(void *arg, bool up, const char *why, uint64_t down_ms)
{
	(void)arg;
	if (up)
		log_info("dns: a nameserver answers again, after %llu s "
			 "without", (unsigned long long)(down_ms / 1000));
	else
		log_err("dns: no nameserver answers (%s; no answer for %llu "
			"s): checks that need DNS could not tell until one "
			"does, and defer as their on_tempfail says", why,
		    (unsigned long long)(down_ms / 1000));
}

/* server_dns_start - a resolver, when an enabled check needs DNS */
void
server_dns_start(struct server *s)
{
	struct dns_opts o;
	struct why why;

	if (s->dns != NULL || s->draining)
		return; /* one resolver for the daemon's life */
	if (!cfg_needs_dns(s->cfg))
		return;
	o = s->cfg->dns;
	o.health = dns_health;
	o.health_arg = s;
	s->dns = s->host.dns = dns_new(s->loop, &o, &why);
	if (s->dns == NULL)
		log_err("dns: %s; checks that need DNS answer tempfail", why.text);
}

/*
 * server_checks_start - the checks' daemon-wide state, once the loop, the
 * resolver (if any) and the store (if any) are there
 */
void
server_checks_start(struct server *s)
{
	struct chk_ctx ctx = {
		.loop = s->loop,
		.dns = s->dns,
		.store = s->keeper ? keeper_handle(s->keeper) : NULL,
		.transient = s->stdio_mode,
	};

	if (s->checks_started)
		return;
	pipeline_init(&ctx);
	pipeline_configure(s->cfg);
	s->checks_started = true;
}

/* server_store_start - open the store and start its timer */
void
server_store_start(struct server *s)
{
	s->keeper = keeper_new(s->loop, s->cfg, !s->stdio_mode);
	s->host.store = keeper_handle(s->keeper);
	keeper_start(s->keeper);
}

/* host_metrics - ctl_host: the metrics text now */
static char *
host_metrics(void *arg)
{
	struct server *s = arg;
	struct mtext t = { NULL, 0, 0 };

	metrics_text(s, &t);
	return t.p; /* malloc'd (mt_free frees p) */
}

/* host_store_state - ctl_host: the keeper's state */
static void
host_store_state(void *arg, char *out, size_t size)
{
	struct server *s = arg;

	if (s->keeper == NULL)
		snprintf(out, size, "store: none (no check that keeps state "
		    "is enabled)");
	else
		keeper_describe(s->keeper, out, size);
}

/* server_reloaded - a reload was asked for: the figures follow */
void
server_reloaded(struct server *s, bool ok)
{
	s->reloads[ok]++;
	s->last_reload_ok = ok;
	if (ok)
		s->last_reload = (int64_t)time(NULL);
}

/* host_reload - ctl_host: as SIGHUP */
static int
host_reload(void *arg, struct why *why)
{
	struct server *s = arg;

	return s->reload(s->reload_arg, why);
}

/* server_control_listen - the control socket */
int
server_control_listen(struct server *s, uid_t uid, gid_t gid,
    int (*reload)(void *arg, struct why *why), void *arg, struct why *why)
{
	s->reload = reload;
	s->reload_arg = arg;
	s->host.loop = s->loop;
	s->host.cfg = s->cfg;
	s->host.dns = s->dns;
	s->host.store = s->keeper ? keeper_handle(s->keeper) : NULL;
	s->host.offline = false;
	s->host.reload = host_reload;
	s->host.metrics = host_metrics;
	s->host.store_state = host_store_state;
	s->host.arg = s;
	s->control = control_new(s->loop, &s->host);
	return control_listen(s->control, s->cfg, uid, gid, why);
}

/*
 * conn_abandoned - the connection broke while a request was being
 * decided (a reset, a failed write, the shutdown's deadline): a decision
 * line of its own, and a count, so every request is accounted for
 */
static void
conn_abandoned(struct conn *c)
{
	struct verdict v = { .action = "none", .rule = "abandoned" };
	uint64_t us = (uv_hrtime() - c->t0) / 1000;

	metrics_abandoned(c->srv->metrics);
	log_info("%s", verdict_log_line(c->arena, &c->req, &v, us));
}

/* conn_finish - log the decision, reply, go on with the input */
static void
conn_finish(struct conn *c, const struct verdict *v)
{
	uint64_t us = (uv_hrtime() - c->t0) / 1000;

	if (c->srv->keeper != NULL && (c->env.store_rc != 0 || c->env.store_used))
		keeper_report(c->srv->keeper, c->env.store_rc, c->env.store_why);
	metrics_decision(c->srv->metrics, v, us);
	if (c->cfg->dry_run && !verdict_accepts(v->action)) {
		/* A watched week: nothing is refused or deferred, the line
		 * says what would have been. */
		struct verdict dry = *v;

		dry.would = v->action;
		dry.action = "DUNNO";
		metrics_dry_run(c->srv->metrics,
		    metrics_action_class(v->action));
		log_info("%s", verdict_log_line(c->arena, &c->req, &dry, us));
		conn_reply(c, "DUNNO");
		return;
	}
	log_info("%s", verdict_log_line(c->arena, &c->req, v, us));
	conn_reply(c, v->action);
}

/* conn_decided - the checks of a request are in (pipeline callback) */
static void
conn_decided(void *arg, const struct verdict *v, const char *trace)
{
	struct conn *c = arg;

	(void)trace;
	c->pipeline = NULL;
	c->busy = false;
	conn_finish(c, v);
	/* After the end of input too: what was read before it is answered. */
	if (!c->closing)
		conn_process(c);
	else
		conn_maybe_finish(c);
}

/* conn_answer - decide one good request: at once, or when DNS answers */
static void
conn_answer(struct conn *c)
{
	struct verdict v;
	struct why why;

	c->t0 = uv_hrtime();
	if (req_from_parser(&c->req, c->arena, &c->parser, &c->cfg->net,
	    &why) < 0) {
		metrics_malformed(c->srv->metrics);
		log_warn("malformed request from %s: %s; answered %s", c->peer,
		    why.text, c->cfg->error_action);
		conn_reply(c, c->cfg->error_action);
		return;
	}
	c->env.store = c->srv->keeper ? keeper_handle(c->srv->keeper) : NULL;
	c->env.hostname = c->cfg->hostname ? c->cfg->hostname
					   : c->srv->hostname;
	c->env.now = (int64_t)time(NULL);
	if (pipeline_decide(c->srv->loop, c->cfg, c->srv->dns, &c->req,
	    &c->env, conn_decided, c, &c->pipeline, &v) == 1) {
		conn_finish(c, &v);
		return;
	}
	c->busy = true; /* the rest of the input waits for this answer */
}

/* conn_process - parse and answer what the input buffer holds */
static void
conn_process(struct conn *c)
{
	size_t off = 0;

	while (!c->busy && !c->closing && off < c->inlen) {
		enum proto_event ev;
		size_t n;

		n = proto_feed(&c->parser, c->in + off, c->inlen - off, &ev);
		off += n;
		if (ev == PROTO_NEED_MORE)
			continue;
		if (ev == PROTO_FATAL) {
			log_warn("closing connection %s: %s", c->peer,
			    proto_why(&c->parser));
			c->inlen = 0;
			conn_close_gently(c);
			return;
		}
		/* A request ended: answer it with the newest config. */
		if (c->cfg != c->srv->cfg) {
			cfg_unref(c->cfg);
			c->cfg = cfg_ref(c->srv->cfg);
		}
		if (arena_shared(c->arena)) {
			/* A cancelled pipeline still holds the last one. */
			arena_free(c->arena);
			c->arena = arena_new();
		} else {
			arena_reset(c->arena);
		}
		if (ev == PROTO_BAD_REQUEST) {
			metrics_malformed(c->srv->metrics);
			log_warn("malformed request from %s: %s; answered %s",
			    c->peer, proto_why(&c->parser),
			    c->cfg->error_action);
			conn_reply(c, c->cfg->error_action);
		} else {
			conn_answer(c);
		}
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
	conn_maybe_finish(c);
}

/* conn_alloc - read into the free end of the input buffer */
static void
conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)suggested;
	if (c->incap - c->inlen < 4096 && c->incap < INBUF_CAP) {
		c->incap = c->incap ? c->incap * 2 : 8192;
		if (c->incap > INBUF_CAP)
			c->incap = INBUF_CAP;
		c->in = xrealloc(c->in, c->incap);
	}
	*buf = uv_buf_init(c->in + c->inlen, (unsigned)(c->incap - c->inlen));
}

/* conn_read - new input, end of input, or an error */
static void
conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = st->data;
	uv_stream_t *out = c->stdio ? (uv_stream_t *)&c->out : &c->h.stream;

	(void)buf;
	if (nread == 0)
		return;
	if (nread < 0) {
		uv_read_stop(st);
		c->reading = false;
		c->eof = true;
		if (nread != UV_EOF) {
			/* The client is gone (a reset): nobody waits for an
			 * answer. */
			log_info("connection %s: read failed: %s", c->peer,
			    uv_strerror((int)nread));
			c->inlen = 0;
			conn_close(c);
			return;
		}
		/*
		 * The end of input means no more requests, not a client that
		 * is gone: one that shut down its sending side (nc -q1,
		 * printf | policyd --stdio) still reads the answers to what
		 * it sent, the one being decided and those behind it.
		 */
		conn_process(c);
		return;
	}
	c->inlen += (size_t)nread;
	uv_timer_again(&c->idle);
	conn_process(c);

	/* Backpressure: a peer that sends faster than it reads waits. */
	if (!c->closing && c->reading &&
	    (c->inlen > INBUF_MAX || uv_stream_get_write_queue_size(out) +
	    c->olen > OUTQ_MAX)) {
		uv_read_stop(st);
		c->reading = false;
	}
}

/* out_stream - where a connection's replies go */
static uv_stream_t *
out_stream(struct conn *c)
{
	return c->stdio ? (uv_stream_t *)&c->out : &c->h.stream;
}

/*
 * conn_read_resume - read again, unless the unanswered input or the
 * unsent replies are over their bounds: a reply that is written is the
 * only thing that makes room, so this runs after each one
 */
static void
conn_read_resume(struct conn *c)
{
	if (c->closing || c->reading || c->eof || c->inlen > INBUF_MAX ||
	    uv_stream_get_write_queue_size(out_stream(c)) > OUTQ_MAX)
		return;
	conn_read_start(c);
}

/* conn_read_start - (re)start reading */
static void
conn_read_start(struct conn *c)
{
	int rc = uv_read_start(&c->h.stream, conn_alloc, conn_read);

	if (rc < 0) {
		log_info("connection %s: cannot read: %s", c->peer,
		    uv_strerror(rc));
		conn_close(c);
		return;
	}
	c->reading = true;
}

/* conn_idle - nothing for idle_timeout: close */
static void
conn_idle(uv_timer_t *t)
{
	struct conn *c = t->data;

	log_debug("connection %s: idle, closing", c->peer);
	conn_close_gently(c);
}

/* conn_new - a connection whose stream the caller initialized */
static struct conn *
conn_new(struct server *s)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->srv = s;
	c->cfg = cfg_ref(s->cfg);
	c->arena = arena_new();
	proto_init(&c->parser);
	c->h.handle.data = c;
	c->idle.data = c;
	c->out.data = c;
	return c;
}

/* conn_start - link the connection in and start serving it */
static void
conn_start(struct server *s, struct conn *c)
{
	c->handles += 1; /* the idle timer */
	uv_timer_init(s->loop, &c->idle);
	uv_timer_start(&c->idle, conn_idle, c->cfg->idle_timeout_ms,
	    c->cfg->idle_timeout_ms);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	conn_read_start(c);
}

/* peer_allowed - is a TCP client in the allow list; sets its name */
static bool
peer_allowed(struct server *s, struct conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	struct ipaddr ip;
	char a[ADDR_STRLEN];
	unsigned port;
	size_t i;

	if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) < 0)
		return false;
	memset(&ip, 0, sizeof(ip));
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		ip.family = AF_INET;
		memcpy(ip.a, &sin->sin_addr, 4);
		port = ntohs(sin->sin_port);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		if (addr_parse(a, &ip) < 0)
			return false;
		port = ntohs(sin6->sin6_port);
	}
	addr_format(&ip, a, sizeof(a));
	snprintf(c->peer, sizeof(c->peer), ip.family == AF_INET6 ? "[%s]:%u"
								 : "%s:%u",
	    a, port);
	for (i = 0; i < s->cfg->nallow; i++)
		if (cidr_match(&s->cfg->allow[i], &ip))
			return true;
	return false;
}

/* on_connection - accept, then decide whether to serve */
static void
on_connection(uv_stream_t *ls, int status)
{
	struct listener *l = ls->data;
	struct server *s = l->srv;
	struct conn *c;
	int rc;

	if (status < 0) {
		log_warn("%s: accept failed: %s", l->name, uv_strerror(status));
		return;
	}
	c = conn_new(s);
	c->handles = 1;
	if (l->is_tcp)
		uv_tcp_init(s->loop, &c->h.tcp);
	else
		uv_pipe_init(s->loop, &c->h.pipe, 0);
	c->h.handle.data = c;
	if ((rc = uv_accept(ls, &c->h.stream)) < 0) {
		log_warn("%s: accept failed: %s", l->name, uv_strerror(rc));
		c->closing = true;
		uv_close(&c->h.handle, conn_handle_closed);
		return;
	}
	if (l->is_tcp) {
		if (!peer_allowed(s, c)) {
			s->refused_allow++;
			log_warn("%s: refusing connection from %s: not in "
				 "allow", l->name, c->peer[0] ? c->peer : "?");
			c->closing = true;
			uv_close(&c->h.handle, conn_handle_closed);
			return;
		}
		uv_tcp_nodelay(&c->h.tcp, 1);
	} else {
		snprintf(c->peer, sizeof(c->peer), "%s", l->name);
	}
	if (s->nconns >= s->cfg->max_connections ||
	    (s->conn_limit > 0 && s->nconns >= s->conn_limit)) {
		s->refused_limit++;
		log_warn("%s: refusing connection from %s: %u connections "
			 "open, max_connections is %u%s", l->name, c->peer,
		    s->nconns, s->cfg->max_connections,
		    s->nconns < s->cfg->max_connections
			? " (fewer fit the descriptor limit)" : "");
		c->closing = true;
		uv_close(&c->h.handle, conn_handle_closed);
		return;
	}
	log_debug("%s: connection from %s", l->name, c->peer);
	conn_start(s, c);
}

/* listen_inet - bind one TCP listener */
static int
listen_inet(struct server *s, const struct cfg_listen *cl,
    struct listener *l, struct why *why)
{
	struct sockaddr_storage ss;
	int rc, len = sizeof(ss);
	char host[ADDR_STRLEN];

	if (strchr(cl->host, ':'))
		rc = uv_ip6_addr(cl->host, (int)cl->port,
		    (struct sockaddr_in6 *)&ss);
	else
		rc = uv_ip4_addr(cl->host, (int)cl->port,
		    (struct sockaddr_in *)&ss);
	if (rc == 0) {
		uv_tcp_init(s->loop, &l->h.tcp);
		l->is_tcp = true;
		rc = uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&ss,
		    strchr(cl->host, ':') ? UV_TCP_IPV6ONLY : 0);
	}
	if (rc == 0)
		rc = uv_listen(&l->h.stream, 511, on_connection);
	if (rc == 0)
		rc = uv_tcp_getsockname(&l->h.tcp, (struct sockaddr *)&ss,
		    &len);
	if (rc == UV_EADDRINUSE) {
		/* Most often another policy server: Debian's postgrey
		 * package starts one on 127.0.0.1:10023. */
		why_set(why, "listen inet %s:%u: %s: another program listens "
			     "there, most likely another policy server (Debian's "
			     "postgrey listens on 127.0.0.1:10023); \"ss -ltnp "
			     "'sport = :%u'\" names it: stop it, or give policyd "
			     "another port in listen:", cl->host, cl->port,
		    uv_strerror(rc), cl->port);
		return -1;
	}
	if (rc < 0) {
		why_set(why, "listen inet %s:%u: %s", cl->host, cl->port,
		    uv_strerror(rc));
		return -1;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		uv_ip6_name(a, host, sizeof(host));
		snprintf(l->name, sizeof(l->name), "inet:[%s]:%u", host,
		    ntohs(a->sin6_port));
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		uv_ip4_name(a, host, sizeof(host));
		snprintf(l->name, sizeof(l->name), "inet:%s:%u", host,
		    ntohs(a->sin_port));
	}
	return 0;
}

/* listen_unix - bind one unix-domain listener, set mode and group */
static int
listen_unix(struct server *s, const struct cfg_listen *cl,
    struct listener *l, struct why *why)
{
	struct stat st;
	int rc;

	/* A socket left by a previous run would make bind fail. */
	if (lstat(cl->path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(cl->path);
	uv_pipe_init(s->loop, &l->h.pipe, 0);
	snprintf(l->name, sizeof(l->name), "unix:%s", cl->path);
	if ((rc = uv_pipe_bind(&l->h.pipe, cl->path)) < 0 ||
	    (rc = uv_listen(&l->h.stream, 511, on_connection)) < 0) {
		why_set(why, "listen unix %s: %s", cl->path, uv_strerror(rc));
		return -1;
	}
	if (cl->group != NULL) {
		struct group *gr = getgrnam(cl->group);

		if (gr == NULL) {
			why_set(why, "listen unix %s: no group %s", cl->path,
			    cl->group);
			return -1;
		}
		if (chown(cl->path, (uid_t)-1, gr->gr_gid) < 0) {
			why_set(why, "listen unix %s: chown to group %s: %s",
			    cl->path, cl->group, strerror(errno));
			return -1;
		}
	}
	if (cl->mode >= 0 && chmod(cl->path, (mode_t)cl->mode) < 0) {
		why_set(why, "listen unix %s: chmod %o: %s", cl->path,
		    (unsigned)cl->mode, strerror(errno));
		return -1;
	}
	return 0;
}

/* server_listen - bind every listener */
int
server_listen(struct server *s, struct why *why)
{
	size_t i;

	s->lis = xcalloc(s->cfg->nlisten, sizeof(*s->lis));
	for (i = 0; i < s->cfg->nlisten; i++) {
		const struct cfg_listen *cl = &s->cfg->listen[i];
		struct listener *l = &s->lis[i];
		int rc;

		l->srv = s;
		l->h.handle.data = l;
		s->nlis = i + 1;
		rc = cl->kind == CFG_LISTEN_INET ? listen_inet(s, cl, l, why)
						 : listen_unix(s, cl, l, why);
		if (rc < 0)
			return -1;
		log_info("listening on %s", l->name);
	}
	return 0;
}

/* server_stdio - one connection on stdin and stdout */
int
server_stdio(struct server *s, struct why *why)
{
	struct conn *c = conn_new(s);
	int rc;

	c->stdio = true;
	s->stdio_mode = true;
	snprintf(c->peer, sizeof(c->peer), "stdio");
	uv_pipe_init(s->loop, &c->h.pipe, 0);
	uv_pipe_init(s->loop, &c->out, 0);
	c->handles = 2;
	if ((rc = uv_pipe_open(&c->h.pipe, 0)) < 0 ||
	    (rc = uv_pipe_open(&c->out, 1)) < 0) {
		why_set(why, "--stdio: %s", uv_strerror(rc));
		c->closing = true;
		uv_close(&c->h.handle, conn_handle_closed);
		uv_close((uv_handle_t *)&c->out, conn_handle_closed);
		return -1;
	}
	conn_start(s, c);
	return 0;
}

/* force_close - the shutdown bound passed: close what is left */
static void
force_close(uv_timer_t *t)
{
	struct server *s = t->data;

	if (s->conns != NULL)
		log_warn("shutdown: closing %u connections after %llu ms",
		    s->nconns, (unsigned long long)s->cfg->shutdown_timeout_ms);
	while (s->conns != NULL)
		conn_close(s->conns);
}

/* server_shutdown - stop accepting; finish; bounded */
void
server_shutdown(struct server *s)
{
	struct conn *c, *next;
	size_t i;

	if (s->draining)
		return;
	s->draining = true;
	/* The checks' own timers and questions first, while the resolver
	 * and the store are still there (requests in flight go on without
	 * that state). */
	if (s->checks_started) {
		pipeline_fini();
		s->checks_started = false;
	}
	for (i = 0; i < s->nlis; i++)
		if (!uv_is_closing(&s->lis[i].h.handle))
			uv_close(&s->lis[i].h.handle, NULL);
	control_shutdown(s->control);
	if (s->keeper != NULL)
		keeper_shutdown(s->keeper);
	uv_close((uv_handle_t *)&s->mtimer, NULL);
	/* The resolver goes once no connection can ask it anything more. */
	server_maybe_done(s);
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		conn_maybe_finish(c);
	}
	if (s->conns != NULL) {
		s->force.data = s;
		uv_ref((uv_handle_t *)&s->force);
		uv_timer_start(&s->force, force_close,
		    s->cfg->shutdown_timeout_ms, 0);
	}
	server_maybe_done(s);
}

/* server_free - release the server after its loop ended */
void
server_free(struct server *s)
{
	if (s == NULL)
		return;
	if (s->checks_started)
		pipeline_fini();
	/* The last figures, for a collector that reads after we are gone. */
	if (s->mtimer_every != 0) {
		metrics_text(s, &s->mtext);
		cfg_metrics_file(s->cfg, s->mpath, sizeof(s->mpath));
		metrics_result(s, metrics_put(s->mpath, s->cfg->metrics_mode,
		    &s->mtext));
	}
	mt_free(&s->mtext);
	metrics_free(s->metrics);
	control_free(s->control);
	keeper_free(s->keeper);
	cfg_unref(s->cfg);
	free(s->lis);
	free(s);
}
