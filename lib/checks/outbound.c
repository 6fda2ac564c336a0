/*
 * outbound - a state module (kind STATE) that records our own users'
 * mail: for each accepted RCPT of a request from our users (logged in,
 * local_networks, local_contexts), when the local sender last sent and
 * when it last wrote to that recipient, in the store's outbound table
 * (outbound.h), kept for keep (35 days by default); recipients in
 * local_domains are not recorded as correspondents. It runs after the
 * verdict, only when the mail is accepted, and never waits for the
 * store: the reply goes out while a store on a network still writes.
 *
 * While it is enabled, the daemon's heartbeat says every minute that
 * the history is being recorded (OUTBOUND_COVER): a stop of more than
 * OUTBOUND_MAX_GAP is a gap, and the coverage starts anew, so that
 * backscatter detection never judges on a history with a hole in it. A
 * --stdio process (one per SMTP session under spawn) extends the
 * coverage without ever making a gap: between sessions there is no mail
 * to record.
 */
#include "chk.h"
#include "outbound_conf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "outbound.h"
#include "request.h"
#include "store.h"
#include "xalloc.h"

/* written - a write that finished later: nothing waits for it */
static void
written(void *arg, const struct store_reply *r)
{
	(void)arg;
	(void)r;
}

/* The daemon's heartbeat. */
#define BEAT_MS 60000

struct ob_proc {
	uv_loop_t *loop;
	struct store_handle *store;
	uv_timer_t beat;
	bool on;          /* outbound is enabled in the policy in force */
	bool transient;   /* --stdio: never a gap */
	bool writing;
	int64_t beat_at;  /* the time the write under way records */
	unsigned char gap_param[8]; /* the merge's: the longest gap */
	struct store_update wupd;
	unsigned char wval[STORE_VAL_MAX];
	struct store_op *wop;
	struct store_reply wout;
};

static void
beat_done(void *arg, const struct store_reply *r)
{
	struct ob_proc *pr = arg;
	struct outbound_cover o, u;

	/* The coverage before and after: one that started anew had a gap. */
	if (r->rc >= 0 && r->prev_found && outbound_cover_decode(r->prev,
	    r->prev_len, &o) && o.since != 0 && outbound_cover_decode(r->val,
	    r->vlen, &u) && u.since != o.since)
		log_warn("outbound: no record of our users' mail for %lld "
		    "minutes (the daemon did not run): the history starts "
		    "anew, and backscatter detection waits bounce_window",
		    (long long)((pr->beat_at - o.until) / 60));
	pr->writing = false;
	pr->wop = NULL;
}

/* beat - the history is being recorded, now */
static void
beat(uv_timer_t *t)
{
	struct ob_proc *pr = t->data;
	struct store *st = pr->store ? store_get(pr->store) : NULL;
	struct outbound_cover now = { 0, 0, 0 };
	struct store_rec rec = { OUTBOUND_COVER, sizeof(OUTBOUND_COVER) - 1,
		pr->wval, 0, 0, &pr->wupd };
	struct store_call call = { .budget_ms = 5000, .done = beat_done,
		.arg = pr, .op = &pr->wop, .out = &pr->wout };

	if (!pr->on || st == NULL || pr->writing)
		return;
	/* Now joined to the coverage kept; a --stdio process never makes a
	 * gap. */
	pr->beat_at = now.since = now.until = (int64_t)time(NULL);
	rec.vlen = outbound_cover_encode(&now, pr->wval);
	store_put_u64(pr->gap_param, (uint64_t)(pr->transient ? INT64_MAX / 4
	    : OUTBOUND_MAX_GAP));
	pr->wupd = (struct store_update){ STORE_UPD_MERGE, "outbound.cover",
		pr->gap_param, sizeof(pr->gap_param) };
	pr->writing = true;
	store_settle(&call, st->ops->put(st, OUTBOUND_TABLE, &rec, 1, &call));
}

static void *
ob_init(const struct chk_ctx *ctx)
{
	struct ob_proc *pr;

	if (ctx->loop == NULL || ctx->store == NULL)
		return NULL;
	pr = xcalloc(1, sizeof(*pr));
	pr->loop = ctx->loop;
	pr->store = ctx->store;
	pr->transient = ctx->transient;
	chk_timer_start(pr->loop, &pr->beat, beat, pr, BEAT_MS);
	return pr;
}

static void
ob_deinit(void *proc)
{
	struct ob_proc *pr = proc;

	if (pr == NULL)
		return;
	chk_store_cancel(pr->store, &pr->wop);
	chk_timer_free(&pr->beat, pr);
}

/* ob_configure - the policy in force: beat while outbound is enabled */
static void
ob_configure(void *proc, const struct chk_policy *pol)
{
	struct ob_proc *pr = proc;

	pr->on = pol->enabled;
	beat(&pr->beat); /* at once: a start right after a stop is no gap */
}

static void
ob_start(struct chk_run *run)
{
	const struct outbound_conf *c = chk_conf(run);
	const struct req *req = chk_req(run);
	struct store *st = store_get(chk_store(run));
	char ks[STORE_KEY_MAX], kr[STORE_KEY_MAX];
	unsigned char val[8], cval[STORE_VAL_MAX], gap[8];
	struct outbound_cover last = { 0, 0, 0 };
	struct store_update up = { STORE_UPD_MERGE, "outbound.cover", gap,
		sizeof(gap) };
	struct store_rec recs[3];
	struct store_reply out;
	int64_t now = chk_now(run);
	size_t ls, lr;
	bool local;
	int rc;

	if (!chk_our_user(run)) {
		chk_done(run, CHK_NEUTRAL, "not our users' mail");
		return;
	}
	if (req->sender.full == NULL || req->sender.is_null ||
	    req->rcpt.full == NULL || !chk_accepted(run) ||
	    chk_dry(run)) {
		chk_done(run, CHK_NEUTRAL, "nothing to record");
		return;
	}
	if (st == NULL) {
		chk_done(run, CHK_NEUTRAL, "the store is not open");
		return;
	}
	ls = outbound_key(ks, sizeof(ks), req->sender.full, NULL);
	lr = outbound_key(kr, sizeof(kr), req->sender.full, req->rcpt.full);
	if (ls == 0 || lr == 0) {
		chk_done(run, CHK_NEUTRAL, "addresses too long to record");
		return;
	}
	store_put_u64(val, (uint64_t)now);
	recs[0] = (struct store_rec){ ks, ls, val, sizeof(val), now + c->keep,
		NULL };
	/* Our users' mail passes policyd: evidence backscatter needs (the
	 * coverage takes the time of their latest mail). */
	last.last = now;
	store_put_u64(gap, OUTBOUND_MAX_GAP);
	recs[1] = (struct store_rec){ OUTBOUND_COVER,
		sizeof(OUTBOUND_COVER) - 1, cval, outbound_cover_encode(&last,
		    cval), 0, &up };
	/* A remote recipient is a correspondent; a local one is not. */
	recs[2] = (struct store_rec){ kr, lr, val, sizeof(val), now + c->keep,
		NULL };
	/* The store copies what it keeps; the reply does not wait. */
	local = req->rcpt.domain != NULL && name_within_any(req->rcpt.domain,
	    c->local, c->nlocal);
	rc = st->ops->put(st, OUTBOUND_TABLE, recs, local ? 2 : 3,
	    &(struct store_call){ .budget_ms = 10000, .group = true,
		.done = written, .out = &out });
	if (rc < 0)
		chk_store_report(run, rc, out.why.text);
	chk_done(run, CHK_PASS, rc < 0 ? "not recorded" : "recorded");
}

extern const struct chk_def chk_outbound_def; /* outbound_conf.c */

const struct chk_ops chk_outbound_ops = {
	.def = &chk_outbound_def,
	.init = ob_init,
	.deinit = ob_deinit,
	.configure = ob_configure,
	.start = ob_start,
};
