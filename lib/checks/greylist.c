/*
 * greylist - greylisting as a state module (kind STATE): it runs after
 * the checks, when they did not refuse and the score is at or above
 * scores.greylist, for RCPT requests (or requests without a state) of
 * clients that did not log in. Its settings are the daemon's (the keeper
 * sweeps with them), so they live in struct cfg and only the main policy
 * sets them; a profile may only switch greylisting off or on.
 *
 * The triplet's client is the client network, or a verified identity of
 * the sending organization when the checks found one (pool): the SPF-
 * authorized domain, else the registered domain of a forward-confirmed
 * client name when it is the sender's too and the name does not look
 * like a dial-in pool.
 */
#include "chk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "arena.h"
#include "config.h"
#include "dynamic.h"
#include "greylist.h"
#include "metrics.h"
#include "outbound.h"
#include "request.h"
#include "store.h"
#include "verdict.h"
#include "xalloc.h"

/*
 * pick_pool - the verified identity greylisting keys on instead of the
 * client network: the SPF-authorized domain (the spf check names it only
 * for a pass from a narrow enough mechanism), else the registered domain
 * of the forward-confirmed client name (a check's, or Postfix's) when it
 * is the sender's registered domain too, unless that name looks dynamic
 * (a dial-in pool is not one organization's servers).
 */
static const char *
pick_pool(struct chk_run *run)
{
	const struct gl_conf *g = chk_conf(run);
	const struct req *req = chk_req(run);
	const char *spf = chk_identity(run, CHK_ID_SPF_DOMAIN);
	const char *name = chk_identity(run, CHK_ID_CLIENT_NAME);
	const char *dyn = chk_identity(run, CHK_ID_DYNAMIC_NAME);
	const char *stat = chk_identity(run, CHK_ID_STATIC_NAME);
	const char *reg, *sreg;

	if (g->pool_spf && spf != NULL)
		return arena_cat(chk_arena(run), "spf:", spf, NULL);
	if (!g->pool_fcrdns || !req->has_client_ip)
		return NULL;
	if (name == NULL)
		name = req->client_name; /* Postfix verified it */
	if (name == NULL)
		return NULL;
	/* The dynamic check's judgement of the name, else the built-in one. */
	if (dyn != NULL && strcasecmp(dyn, name) == 0)
		return NULL;
	if ((stat == NULL || strcasecmp(stat, name) != 0) &&
	    dyn_classify(name, &req->client_ip, NULL, NULL, 0))
		return NULL;
	if ((reg = dyn_registered_domain(name)) == NULL)
		return NULL;
	/*
	 * Only an organization that sends its own mail: the sender's
	 * registered domain is the name's. Every customer of a hosting
	 * provider has a name under the provider's domain, and one pool
	 * (and one auto-whitelist entry) would cover them all.
	 */
	if (req->sender.domain == NULL || req->sender.is_null ||
	    (sreg = dyn_registered_domain(req->sender.domain)) == NULL ||
	    strcasecmp(reg, sreg) != 0)
		return NULL;
	return arena_cat(chk_arena(run), "fcrdns:", reg, NULL);
}

/* expand - the text with every {seconds} replaced */
static char *
expand(struct arena *a, const char *text, int64_t seconds)
{
	const char *p = text, *q, *num = arena_num(a, seconds);
	size_t o = 0, nlen = strlen(num), n;
	char out[1024];

	while ((q = strstr(p, "{seconds}")) != NULL) {
		n = (size_t)(q - p);
		if (o + n + nlen >= sizeof(out))
			break;
		memcpy(out + o, p, n);
		memcpy(out + o + n, num, nlen);
		o += n + nlen;
		p = q + 9;
	}
	n = strlen(p);
	if (o + n >= sizeof(out))
		n = sizeof(out) - 1 - o;
	memcpy(out + o, p, n);
	out[o + n] = '\0';
	return arena_strdup(a, out);
}

/* rfc5322_date - "Mon, 23 Nov 2026 01:52:34 +0000" */
static char *
rfc5322_date(struct arena *a, int64_t now)
{
	time_t t = (time_t)now;
	struct tm tm;
	char buf[64];

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	return arena_strdup(a, buf);
}

/* The message memo: X-Greylist goes out once per message. */
struct gl_memo {
	bool header;
};

/* pass - the mail goes on; rule says why */
static void
pass(struct chk_run *run, const char *rule)
{
	chk_state_decide(run, &(struct chk_decision){ .say = CHK_SAY_PASS,
	    .rule = rule });
}

/* For the daemon's life: how long senders waited before they passed. */
static const double delay_bounds[] = { 60, 300, 600, 900, 1800, 3600,
	7200, 14400, 43200, 86400 };
#define NDELAYS (sizeof(delay_bounds) / sizeof(delay_bounds[0]))
struct gl_proc {
	uint64_t counts[NDELAYS];
	struct mt_hist delays;
};

static void *
gl_init(const struct chk_ctx *ctx)
{
	struct gl_proc *pr = xcalloc(1, sizeof(*pr));

	(void)ctx;
	pr->delays = (struct mt_hist){ delay_bounds, NDELAYS, pr->counts, 0,
		0 };
	return pr;
}

static void
gl_deinit(void *proc)
{
	free(proc);
}

/* gl_metrics - ops->metrics: the delays, once a sender passed */
static void
gl_metrics(void *proc, struct mtext *t)
{
	const struct gl_proc *pr = proc;

	mt_histogram(t, "policyd_greylist_delay_seconds", "How long senders "
	    "waited, from their first try to the retry that passed "
	    "greylisting.", &pr->delays);
}

/* judge - the store's answer for the triplet, as the module's outcome */
static void
judge(struct chk_run *run, const char *pool, const struct gl_result *res)
{
	const struct gl_conf *g = chk_conf(run);
	struct arena *a = chk_arena(run);
	const char *key;

	/* The key's client part, when it is a pool and not the network. */
	key = pool ? arena_cat(a, ",key=", pool, NULL) : "";
	switch (res->status) {
	case GL_SKIP:
		return;
	case GL_CORRESPONDENT:
		pass(run, "greylist:correspondent");
		return;
	case GL_NEW:
	case GL_EARLY:
		chk_state_decide(run, &(struct chk_decision){
		    .say = CHK_SAY_DEFER, .dsn = "4.7.1",
		    .text = expand(a, g->text, res->wait),
		    .rule = arena_cat(a, "greylist:", res->status == GL_NEW ?
			"new" : "early", "(wait=", arena_num(a, res->wait), "s",
			key, ")", NULL) });
		return;
	case GL_PASS: {
		struct gl_memo *m = chk_memo(run, sizeof(*m));
		struct gl_proc *pr = chk_proc(run);

		/* How long senders wait: the metrics' histogram (not for a
		 * dry run, which passes nothing). */
		if (pr != NULL && !chk_dry(run))
			mt_hist_add(&pr->delays, (double)res->delayed);
		pass(run, arena_cat(a, "greylist:pass(delayed=",
		    arena_num(a, res->delayed), "s", key, ")", NULL));
		if (g->header && (m == NULL || !m->header)) {
			char *h = arena_printf(a, "X-Greylist: delayed %lld "
			    "seconds by policyd at %s; %s",
			    (long long)res->delayed, chk_hostname(run),
			    rfc5322_date(a, chk_now(run)));
			bool queued = chk_queue_header(run, h);

			if (m != NULL)
				m->header = queued;
		}
		return;
	}
	case GL_KNOWN:
	case GL_AWL_CLIENT:
	case GL_AWL_DOMAIN:
		pass(run, arena_cat(a, "greylist:",
		    res->status == GL_KNOWN ? "known" : res->status ==
		    GL_AWL_CLIENT ? "awl-client" : "awl-domain",
		    pool ? "(" : "", key + (pool ? 1 : 0), pool ? ")" : "",
		    NULL));
		return;
	}
}

/* trouble - the store could not answer: on_error */
static void
trouble(struct chk_run *run)
{
	if (!((const struct gl_conf *)chk_conf(run))->defer_on_error) {
		pass(run, "greylist:error");
		return;
	}
	chk_state_decide(run, &(struct chk_decision){ .say = CHK_SAY_DEFER,
	    .dsn = "4.3.0", .text = "Greylisting is temporarily unavailable, "
	    "please try again later", .rule = "greylist:error" });
}

/* One request's greylisting, while the store works on it. */
struct gl_run {
	struct store *st;     /* the store asked */
	struct store_op *op;  /* under way; NULL once done */
	const char *pool;
};

/* stored - the store's reply: the verdict, or on_error */
static void
stored(struct chk_run *run, const struct store_reply *r)
{
	struct gl_run *g = *chk_state(run);
	struct gl_result res;

	if (r->rc < 0) {
		chk_store_report(run, r->rc, r->why.text);
		trouble(run);
		chk_done(run, CHK_TEMPFAIL, "%s", r->why.text);
		return;
	}
	if (greylist_result(r, &res) < 0) {
		/* a backend's script that answered something else */
		chk_store_report(run, STORE_ERROR, "the store's greylist "
		    "judgement came back unreadable");
		trouble(run);
		chk_done(run, CHK_TEMPFAIL, "an unreadable judgement");
		return;
	}
	chk_store_report(run, 0, NULL);
	judge(run, g->pool, &res);
	chk_done(run, CHK_PASS, "greylisted");
}

/* gl_done - store_done_fn: the reply came later */
static void
gl_done(void *arg, const struct store_reply *r)
{
	struct chk_run *run = arg;
	struct gl_run *g = *chk_state(run);

	g->op = NULL;
	stored(run, r);
}

/* gl_start - greylist the request, if it is to be */
static void
gl_start(struct chk_run *run)
{
	const struct gl_conf *gc = chk_conf(run);
	const struct req *req = chk_req(run);
	struct store *st = store_get(chk_store(run));
	struct store_reply reply;
	struct store_call call;
	struct gl_run *g;
	struct gl_op op;
	int score, reject, greylist;

	chk_scores(run, &score, &reject, &greylist);
	if (score < greylist) {
		chk_done(run, CHK_NEUTRAL, "not greylisted");
		return;
	}
	if (chk_dry(run) && chk_store(run) == NULL) {
		/* policyctl check with no store at hand (no state directory,
		 * or another policy tried beside the daemon) */
		pass(run, "greylist(not run: no state is changed)");
		chk_done(run, CHK_NEUTRAL, "dry run");
		return;
	}
	if (st == NULL) {
		chk_store_report(run, STORE_ERROR, "the store is not open");
		trouble(run);
		chk_done(run, CHK_TEMPFAIL, "the store is not open");
		return;
	}
	g = arena_alloc(chk_arena(run), sizeof(*g));
	memset(g, 0, sizeof(*g));
	g->st = st;
	g->pool = pick_pool(run);
	*chk_state(run) = g;
	if (!greylist_op(gc, req, g->pool, chk_now(run), &op)) {
		chk_done(run, CHK_NEUTRAL, "no client address or recipient");
		return;
	}
	/*
	 * A reply to our users' mail passes: the store looks first. Only
	 * when SPF proves the sender (a pass for its domain): anyone can
	 * forge the address of someone our user wrote to.
	 */
	if (gc->correspondents && req->sender.full != NULL &&
	    !req->sender.is_null && chk_spf(run) == CHK_SPF_PASS)
		op.klen[GL_REC_CORRESPONDENT] = outbound_key(
		    op.key[GL_REC_CORRESPONDENT], GL_KEY_MAX, req->rcpt.full,
		    req->sender.full);
	/* A dry run (policyctl check) judges on the store as it is and
	 * writes nothing: the daemon's answer, greylisting included. */
	op.dry = chk_dry(run);
	/* Durable with the loop turn's others, before the reply (group). */
	call = (struct store_call){ .budget_ms = chk_time_left_ms(run),
		.group = true, .done = gl_done, .arg = run, .op = &g->op,
		.out = &reply };
	store_settle(&call, greylist_run(st, &op, &call));
}

/* gl_cancel - the deadline, or the client left: let the store's work go */
static void
gl_cancel(struct chk_run *run)
{
	struct gl_run *g = *chk_state(run);

	if (g == NULL || g->op == NULL)
		return;
	g->st->ops->cancel(g->op);
	g->op = NULL;
	if (chk_timed_out(run)) {
		chk_store_report(run, STORE_ETIMEOUT, "no answer from the store "
		    "before the request's deadline");
		trouble(run);
	}
}

extern const struct chk_def chk_greylist_def; /* greylist_conf.c */

const struct chk_ops chk_greylist_ops = {
	.def = &chk_greylist_def,
	.init = gl_init,
	.deinit = gl_deinit,
	.metrics = gl_metrics,
	.start = gl_start,
	.cancel = gl_cancel,
};
