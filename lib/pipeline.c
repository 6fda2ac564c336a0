/*
 * pipeline - one request's decision in stages (see pipeline.h), and the
 * run-time side of the check interface (chk.h).
 *
 * Data flow: request -> PRE: access rules (a match decides at once) ->
 * CHECKS: every enabled check started (cheap ones end at once, DNS ones
 * in parallel) -> all done, a certain verdict, or the deadline ->
 * combine: a failed check whose policy is reject refuses (first in
 * registry order), defer defers, scores add up against scores.reject; a
 * check that could not tell defers or passes per its on_tempfail and
 * never refuses -> STATE: the state modules (greylisting), one after the
 * other, when nothing refused -> REPLY: an owed header on a DUNNO.
 *
 * Lifetimes: the pipeline is malloc'ed with its runs; it keeps a copy of
 * the request and a reference to its arena. When it waited, its deadline
 * timer is closed at the end and the memory goes in the close callback.
 * Questions of the checks are the pipeline's: it cancels them at the
 * deadline, when the client goes away, or when the verdict is certain,
 * so no callback comes late.
 */
#include "pipeline.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "arena.h"
#include "checks/chk.h"
#include "config.h"
#include "dns.h"
#include "log.h"
#include "request.h"
#include "store.h"
#include "verdict.h"
#include "xalloc.h"

#define CHK_REASON_MAX 511 /* bytes of a check's reason */

struct chk_query {
	struct dns_query *q;
	chk_dns_fn *cb;
	void *arg;
	struct chk_run *run;
	struct chk_query *next, *prev; /* the run's questions in the air */
};

struct chk_run {
	struct pipeline *p;
	const struct chk_ops *ops;
	const struct chk_policy *pol;
	unsigned idx;        /* registry index: the memo's slot */
	void *state;
	struct chk_result res;
	bool done;           /* it has its result (reported or not) */
	bool reported;       /* the check called chk_done() */
	bool cancelled;      /* a certain verdict ended it */
	bool revising;       /* in ops->revise: a report replaces */
	bool timed_out;      /* the deadline ended it */
	bool dns_ours;       /* a DNS answer failed by our resolver's fault */
	uint64_t t0;
	uint64_t us;
	struct chk_query *queries;  /* in the air */
	struct chk_query *spare;    /* answered, for reuse */
	unsigned nqueries;
};

enum stage { STAGE_PRE, STAGE_CHECKS, STAGE_STATE, STAGE_DONE };

struct pipeline {
	uv_loop_t *loop;
	const struct cfg *cfg;
	struct dns *dns;
	struct req req;                /* a copy; its arena referenced */
	struct pipeline_env *env;
	pipeline_done_fn *done;
	void *arg;
	const struct chk_policy *pols; /* the profile's, or the main ones */
	int score_reject, score_greylist;
	bool ours;           /* the request is our own users' */
	const char *profile;           /* NULL: the main policy */
	enum stage stage;
	unsigned nruns;
	unsigned nchecks;              /* runs[0..nchecks): kind CHECK */
	unsigned next_state;           /* the state run to start next */
	unsigned state_end;            /* runs[nchecks..state_end): STATE,
					* runs[state_end..nruns): PRE */
	unsigned next_pre;             /* the PRE run to start next */
	struct chk_run *at_work;       /* the PRE or state run started last */
	bool late;                     /* the deadline came in PRE */
	enum chk_bypass bypass;        /* a whitelist entry, and its terms */
	const char *bypass_why;
	enum chk_spf spf;              /* SPF's verdict, by type */
	/* What each source of the precedence table says (verdict.h). */
	struct verdict_out out[VS_COUNT];
	unsigned pending;              /* checks without their result */
	bool in_decide;                /* pipeline_decide() is on the stack */
	bool advancing;                /* advance() is on the stack */
	bool over;                     /* reported (or cancelled) */
	bool timer_on;
	uint64_t t0;                   /* ms: the loop's time at the start */
	const char *identity[CHK_ID_COUNT];
	uv_timer_t deadline;
	struct verdict v;
	struct chk_run runs[];
};

static void advance(struct pipeline *p);

/* What each check's init() returned, by registry index. */
static void *procs[CHK_MAX];
static bool procs_on;

/* pipeline_init - each check's state for the daemon's life */
void
pipeline_init(const struct chk_ctx *ctx)
{
	unsigned i;

	if (chk_registry_count != chk_count)
		PD_PANIC("%u checks in registry.c, %u in defs.c",
		    chk_registry_count, chk_count);
	for (i = 0; i < chk_count; i++) {
		/* The two lists are kept by hand, entry for entry. */
		if (chk_registry[i]->def != chk_defs[i])
			PD_PANIC("check %u: registry.c and defs.c differ", i);
		procs[i] = chk_registry[i]->init ? chk_registry[i]->init(ctx)
						 : NULL;
	}
	procs_on = true;
}

/* pipeline_configure - the policy in force, to each check's state */
void
pipeline_configure(const struct cfg *cfg)
{
	unsigned i;

	for (i = 0; procs_on && i < chk_count; i++)
		if (chk_registry[i]->configure && procs[i])
			chk_registry[i]->configure(procs[i], &cfg->checks[i]);
}

/* chk_timer_start - a state's timer, unreferenced */
void
chk_timer_start(uv_loop_t *loop, uv_timer_t *t, uv_timer_cb cb, void *data,
    uint64_t every_ms)
{
	uv_timer_init(loop, t);
	t->data = data;
	uv_timer_start(t, cb, every_ms, every_ms);
	/* A state's timer never keeps a loop that has nothing else alive. */
	uv_unref((uv_handle_t *)t);
}

static void
owner_free(uv_handle_t *h)
{
	free(h->data);
}

/* chk_timer_free - the timer closed, then its owner freed */
void
chk_timer_free(uv_timer_t *t, void *owner)
{
	t->data = owner;
	if (uv_is_closing((uv_handle_t *)t))
		free(owner); /* a loop that closed every handle, and ran */
	else
		uv_close((uv_handle_t *)t, owner_free);
}

/* chk_store_cancel - let an operation under way go */
void
chk_store_cancel(struct store_handle *h, struct store_op **op)
{
	struct store *st = h != NULL ? store_get(h) : NULL;

	if (st != NULL && *op != NULL)
		st->ops->cancel(*op);
	*op = NULL;
}

/* pipeline_metrics - each check's own figures */
void
pipeline_metrics(struct mtext *t)
{
	unsigned i;

	for (i = 0; procs_on && i < chk_count; i++)
		if (chk_registry[i]->metrics && procs[i])
			chk_registry[i]->metrics(procs[i], t);
}

/* pipeline_fini - let each check's state go */
void
pipeline_fini(void)
{
	unsigned i;

	for (i = 0; procs_on && i < chk_count; i++) {
		if (chk_registry[i]->deinit)
			chk_registry[i]->deinit(procs[i]);
		procs[i] = NULL;
	}
	procs_on = false;
}

/* The check interface: accessors. */

const struct req *
chk_req(const struct chk_run *run)
{
	return &run->p->req;
}

struct dns *
chk_dns(const struct chk_run *run)
{
	return run->p->dns;
}

struct arena *
chk_arena(const struct chk_run *run)
{
	return run->p->req.arena;
}

const struct chk_policy *
chk_policy(const struct chk_run *run)
{
	return run->pol;
}

const void *
chk_conf(const struct chk_run *run)
{
	return run->pol->conf;
}

const struct cfg *
chk_cfg(const struct chk_run *run)
{
	return run->p->cfg;
}

void **
chk_state(struct chk_run *run)
{
	return &run->state;
}

void *
chk_proc(const struct chk_run *run)
{
	return procs[run->idx];
}

const char *
chk_hostname(const struct chk_run *run)
{
	return run->p->env->hostname;
}

int64_t
chk_now(const struct chk_run *run)
{
	return run->p->env->now;
}

void
chk_set_dsn(struct chk_run *run, const char *dsn)
{
	run->res.dsn = dsn;
}

/* chk_set_detail - for the log line, never a reply */
void
chk_set_detail(struct chk_run *run, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	run->res.detail = arena_vprintf(run->p->req.arena, fmt, ap);
	va_end(ap);
}

/* chk_set_note - a few words for the trace */
void
chk_set_note(struct chk_run *run, const char *fmt, ...)
{
	va_list ap;
	char *n, *q, *o;

	va_start(ap, fmt);
	n = arena_vprintf(run->p->req.arena, fmt, ap);
	va_end(ap);
	if (strlen(n) > 80)
		n[80] = '\0';
	/* The trace separates checks with commas; quotes are dropped. */
	for (q = n, o = n; *q; q++) {
		if (*q == '"')
			continue;
		*o++ = *q == ',' ? ';' : *q == '\r' || *q == '\n' ? ' ' : *q;
	}
	*o = '\0';
	run->res.note = n;
}

/* chk_set_identity - a verified identity, by role; the first one stays */
void
chk_set_identity(struct chk_run *run, enum chk_identity role,
    const char *value)
{
	struct msg *m = &run->p->env->msg;

	if ((unsigned)role >= CHK_ID_COUNT || run->p->identity[role] != NULL)
		return;
	run->p->identity[role] = value;
	/* Kept for the message's later requests (DATA after RCPT). */
	if (role == CHK_ID_TRUSTED && m->instance[0] != '\0' &&
	    strlen(value) < sizeof(m->trusted))
		memcpy(m->trusted, value, strlen(value) + 1);
}

/* chk_set_bypass - a PRE module found a whitelist entry */
void
chk_set_bypass(struct chk_run *run, enum chk_bypass terms, const char *why)
{
	run->p->bypass = terms;
	run->p->bypass_why = why;
}

/*
 * chk_bypass_met - which SPF verdicts meet which terms. Only a pass
 * proves the sender. not-fail, an explicit choice the manual marks as
 * forgeable, also takes the verdicts that deny nothing (softfail,
 * neutral, none); no verdict at all (the check off, not run at this
 * state, cut by the deadline) and the errors meet no terms but "no".
 */
bool
chk_bypass_met(enum chk_bypass terms, enum chk_spf spf)
{
	static const bool met[][CHK_SPF_COUNT] = {
		[CHK_BYPASS_NONE] = { false },
		[CHK_BYPASS_ALWAYS] = { true, true, true, true, true, true,
		    true, true },
		[CHK_BYPASS_UNLESS_SPF_FAIL] = { [CHK_SPF_PASS] = true,
		    [CHK_SPF_SOFTFAIL] = true, [CHK_SPF_NEUTRAL] = true,
		    [CHK_SPF_NONE] = true },
		[CHK_BYPASS_IF_SPF_PASS] = { [CHK_SPF_PASS] = true },
	};

	if ((unsigned)terms >= nitems(met) || (unsigned)spf >= CHK_SPF_COUNT)
		return false;
	return met[terms][spf];
}

/* out_of - a module's decision as its row of the table says it */
static struct verdict_out
out_of(const struct chk_decision *d)
{
	return (struct verdict_out){ .say = d->say == CHK_SAY_REFUSE
		    ? VSAY_REFUSE : d->say == CHK_SAY_DEFER ? VSAY_DEFER
		    : VSAY_PASS, .code = d->code, .dsn = d->dsn,
		.text = d->text, .rule = d->rule };
}

/* chk_block - a PRE module's block: nothing else runs */
void
chk_block(struct chk_run *run, const struct chk_decision *d)
{
	run->p->out[VS_BLOCK] = out_of(d);
}

/* chk_state_decide - a state module's outcome */
void
chk_state_decide(struct chk_run *run, const struct chk_decision *d)
{
	run->p->out[VS_STATE] = out_of(d);
}

/* chk_set_spf - SPF's verdict by type */
void
chk_set_spf(struct chk_run *run, enum chk_spf spf)
{
	if (run->p->spf == CHK_SPF_UNKNOWN)
		run->p->spf = spf;
}

enum chk_spf
chk_spf(const struct chk_run *run)
{
	return run->p->spf;
}

const char *
chk_spf_name(enum chk_spf spf)
{
	static const char *const names[] = { "unknown", "pass", "fail",
		"softfail", "neutral", "none", "temperror", "permerror" };

	return (unsigned)spf < nitems(names) ? names[spf] : "unknown";
}

/* chk_our_user - the request is our own users' (cfg_our_user) */
bool
chk_our_user(const struct chk_run *run)
{
	return run->p->ours;
}

/* chk_our_relay - local_networks, or a check's relays */
bool
chk_our_relay(const struct chk_run *run)
{
	const struct pipeline *p = run->p;
	const struct req *req = &p->req;
	size_t i;

	if (!req->has_client_ip)
		return false;
	for (i = 0; i < p->cfg->nlocal_nets; i++)
		if (cidr_match(&p->cfg->local_nets[i], &req->client_ip))
			return true;
	for (i = 0; i < chk_count; i++)
		if (chk_registry[i]->def->relay != NULL &&
		    p->cfg->checks[i].conf != NULL &&
		    chk_registry[i]->def->relay(p->cfg->checks[i].conf,
			&req->client_ip))
			return true;
	return false;
}

/* chk_memo - the check's block of the message memo */
void *
chk_memo(struct chk_run *run, size_t size)
{
	return msg_memo(&run->p->env->msg, run->idx, size);
}

/* chk_queue_header - owed to the message */
bool
chk_queue_header(struct chk_run *run, const char *header)
{
	return msg_queue_header(&run->p->env->msg, header);
}

/* For state modules. */

/* accepts - an outcome that lets the mail through */
static bool
accepts(const struct verdict_out *o)
{
	return o->say == VSAY_RAW ? verdict_accepts(o->text)
				  : o->say != VSAY_REFUSE && o->say != VSAY_DEFER;
}

/* chk_accepted - the verdict so far lets the mail through */
bool
chk_accepted(const struct chk_run *run)
{
	const struct pipeline *p = run->p;

	return accepts(&p->out[verdict_pick(p->out)]);
}

const char *
chk_identity(const struct chk_run *run, enum chk_identity role)
{
	return (unsigned)role < CHK_ID_COUNT ? run->p->identity[role] : NULL;
}

void
chk_scores(const struct chk_run *run, int *score, int *reject, int *greylist)
{
	*score = run->p->v.score;
	*reject = run->p->score_reject;
	*greylist = run->p->score_greylist;
}

struct store_handle *
chk_store(const struct chk_run *run)
{
	return run->p->env->store;
}

bool
chk_dry(const struct chk_run *run)
{
	return run->p->env->dry;
}

uint64_t
chk_time_left_ms(const struct chk_run *run)
{
	const struct pipeline *p = run->p;
	uint64_t spent = (p->loop != NULL ? uv_now(p->loop)
					  : uv_hrtime() / 1000000) - p->t0;
	uint64_t limit = run->p->cfg->deadline_ms;

	return spent + 1 < limit ? limit - spent : 1;
}

bool
chk_timed_out(const struct chk_run *run)
{
	return run->timed_out;
}

/* chk_store_report - what the store did, for the daemon's keeper */
void
chk_store_report(struct chk_run *run, int rc, const char *why)
{
	struct pipeline_env *env = run->p->env;

	if (rc == 0) {
		env->store_used = true;
		return;
	}
	env->store_rc = rc;
	snprintf(env->store_why, sizeof(env->store_why), "%s",
	    why ? why : "");
}

/* Questions. */

/* cancel_queries - the run's questions, without callbacks */
static void
cancel_queries(struct chk_run *run)
{
	struct chk_query *q;

	while ((q = run->queries) != NULL) {
		run->queries = q->next;
		dns_cancel(q->q);
		q->q = NULL;
	}
	run->nqueries = 0;
}

/* unlink_query - out of the list in the air, into the spares */
static void
unlink_query(struct chk_query *q)
{
	struct chk_run *run = q->run;

	if (q->prev)
		q->prev->next = q->next;
	else
		run->queries = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->next = run->spare;
	q->prev = NULL;
	run->spare = q;
	run->nqueries--;
}

/* query_done - a DNS answer for a check */
static void
query_done(void *arg, const struct dns_answer *a)
{
	struct chk_query *q = arg;
	struct chk_run *run = q->run;
	chk_dns_fn *cb = q->cb;
	void *cbarg = q->arg;

	q->q = NULL;
	unlink_query(q);
	if (run->done || run->p->over)
		return;
	if ((a->status == DNS_TEMPFAIL || a->status == DNS_BAD) && a->ours)
		run->dns_ours = true;
	cb(run, a, cbarg);
}

/* chk_query - ask DNS on behalf of a check */
int
chk_query(struct chk_run *run, const char *name, uint16_t type,
    chk_dns_fn *cb, void *arg, struct chk_query **qp)
{
	unsigned max = run->ops->def->max_queries ? run->ops->def->max_queries
					     : CHK_DEFAULT_QUERIES;
	struct chk_query *q;

	if (qp != NULL)
		*qp = NULL;
	if (run->p->dns == NULL)
		return -1;
	/* Checks bound their questions: going past the bound is a bug. */
	if (run->nqueries >= max)
		PD_PANIC("check %s: more than %u DNS questions at once",
		    run->ops->def->name, max);
	if ((q = run->spare) != NULL)
		run->spare = q->next;
	else
		q = arena_alloc(run->p->req.arena, sizeof(*q));
	memset(q, 0, sizeof(*q));
	q->cb = cb;
	q->arg = arg;
	q->run = run;
	if (dns_query(run->p->dns, name, type, query_done, q, &q->q) < 0) {
		q->next = run->spare;
		run->spare = q;
		return -1;
	}
	q->next = run->queries;
	if (run->queries)
		run->queries->prev = q;
	run->queries = q;
	run->nqueries++;
	if (qp != NULL)
		*qp = q;
	return 0;
}

/* chk_query_cancel - one question, without its callback */
void
chk_query_cancel(struct chk_query *q)
{
	if (q == NULL || q->q == NULL)
		return;
	dns_cancel(q->q);
	q->q = NULL;
	unlink_query(q);
}

/* chk_pending - questions in the air */
unsigned
chk_pending(const struct chk_run *run)
{
	return run->nqueries;
}

/* join_answer - one answer of a join */
static void
join_answer(struct chk_run *run, const struct dns_answer *a, void *arg)
{
	struct chk_join *j = arg;

	j->answered++;
	switch (a->status) {
	case DNS_OK:
		j->found++;
		break;
	case DNS_NXDOMAIN:
		j->nx++;
		break;
	case DNS_NODATA:
		break;
	default:
		if (j->trouble++ == 0)
			j->why = arena_printf(chk_arena(run), "%s %s: %s",
			    a->name, dns_type_name(a->type),
			    a->why ? a->why : dns_status_name(a->status));
		break;
	}
	if (j->judge != NULL && j->judge(run, j, a, j->arg))
		return;
	if (j->answered == j->asked && !run->done)
		j->settle(run, j);
}

/* chk_join_new - a join in the arena */
struct chk_join *
chk_join_new(struct chk_run *run,
    bool (*judge)(struct chk_run *, struct chk_join *,
	const struct dns_answer *, void *),
    void (*settle)(struct chk_run *, struct chk_join *), void *arg)
{
	struct chk_join *j = arena_alloc(chk_arena(run), sizeof(*j));

	memset(j, 0, sizeof(*j));
	j->judge = judge;
	j->settle = settle;
	j->arg = arg;
	return j;
}

/* chk_join_ask - one question of the join */
int
chk_join_ask(struct chk_run *run, struct chk_join *j, const char *name,
    uint16_t type)
{
	if (chk_query(run, name, type, join_answer, j, NULL) < 0)
		return -1;
	j->asked++;
	return 0;
}

/* Results. */

/* acts_as - the action and score a finished check asks for; false: none */
static bool
acts_as(const struct chk_run *r, enum chk_action *on, int *score)
{
	if (r->cancelled)
		return false;
	if (r->res.result >= 0) {
		*on = r->pol->results[r->res.result].on;
		*score = r->res.scored ? r->res.score
				       : r->pol->results[r->res.result].score;
		return r->res.status == CHK_FAIL ||
		    r->res.status == CHK_TEMPFAIL;
	}
	*on = r->pol->on_fail;
	if (r->res.scored) {
		/* The check's own score (a list's weight, an allowlist's
		 * minus) counts whatever the status, but a tempfail; its own
		 * refusal refuses; on_fail: log leaves both to the log. */
		*on = r->pol->on_fail == CHK_LOG ? CHK_LOG
		    : r->res.refuse ? CHK_REJECT : CHK_SCORE;
		*score = r->res.score;
		return r->res.status != CHK_TEMPFAIL &&
		    (r->res.score != 0 || *on == CHK_REJECT);
	}
	*score = r->pol->score;
	return r->res.status == CHK_FAIL;
}

/* certain - a reject by r can no longer be beaten: answer now */
static bool
certain(const struct chk_run *r)
{
	const struct pipeline *p = r->p;
	enum chk_action on;
	unsigned i;
	int score;

	/* A whitelist entry waits for SPF, whatever the lists say. */
	if (p->bypass != CHK_BYPASS_NONE && (r->ops->def->flags & CHK_F_BYPASSED))
		return false;
	if (r->res.stop)
		return true;
	if (!(r->ops->def->flags & CHK_F_EARLY) || !acts_as(r, &on, &score) ||
	    on != CHK_REJECT || r->res.status != CHK_FAIL)
		return false;
	/* The first refusal in registry order wins: none may be pending. */
	for (i = 0; &p->runs[i] != r; i++)
		if (!p->runs[i].done)
			return false;
	return true;
}

/* cut_short - the verdict is certain: the other checks end now */
static void
cut_short(struct pipeline *p)
{
	unsigned i;

	for (i = 0; i < p->nchecks; i++) {
		struct chk_run *r = &p->runs[i];

		if (r->done)
			continue;
		cancel_queries(r);
		if (r->ops->cancel)
			r->ops->cancel(r);
		r->done = r->cancelled = true;
		r->res.status = CHK_NEUTRAL;
		r->res.reason = "not needed: the verdict was certain";
		r->us = r->t0 ? (uv_hrtime() - r->t0) / 1000 : 0;
		p->pending--;
	}
}

/* run_done - a check's result */
static void
run_done(struct chk_run *run, const struct chk_result *res)
{
	struct pipeline *p = run->p;
	char *reason;

	/*
	 * Once, exactly: a second report is a broken check (it would have
	 * been ignored silently, hiding the bug). A run the deadline ended
	 * is done without a report; its questions were cancelled, so only
	 * a check that broke the contract could report now.
	 */
	if (run->reported)
		PD_PANIC("check %s: chk_done() called twice", run->ops->def->name);
	run->reported = true;
	if ((run->done && !run->revising) || p->over)
		return;
	run->res = *res;
	reason = arena_strdup(p->req.arena, res->reason ? res->reason : "");
	if (strlen(reason) > CHK_REASON_MAX)
		reason[CHK_REASON_MAX] = '\0'; /* names can be long */
	run->res.reason = reason;
	if (run->revising)
		return; /* a revision: the new result, nothing else moves */
	run->done = true;
	run->us = (uv_hrtime() - run->t0) / 1000;
	cancel_queries(run); /* a check may end before all answers came */
	if (run->ops->def->kind == CHK_KIND_CHECK) {
		p->pending--;
		if (p->pending > 0 && certain(run))
			cut_short(p);
	}
	advance(p);
}

/* chk_done_res - a check's result, whole */
void
chk_done_res(struct chk_run *run, const struct chk_result *res)
{
	struct chk_result r = *res;

	/* What the check set beforehand stays unless the result says. */
	if (r.dsn == NULL)
		r.dsn = run->res.dsn;
	if (r.detail == NULL)
		r.detail = run->res.detail;
	if (r.note == NULL)
		r.note = run->res.note;
	run_done(run, &r);
}

/* done_fmt - a result with a formatted reason */
static void done_fmt(struct chk_run *run, enum chk_status st, int result,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void
done_fmt(struct chk_run *run, enum chk_status st, int result, const char *fmt,
    va_list ap)
{
	struct chk_result r;

	memset(&r, 0, sizeof(r));
	r.status = st;
	r.result = result;
	/* (arena_vprintf copies formats of %s alone, most reasons) */
	r.reason = arena_vprintf(run->p->req.arena, fmt, ap);
	r.dsn = run->res.dsn;
	r.detail = run->res.detail;
	r.note = run->res.note;
	run_done(run, &r);
}

/* chk_done - a check's result */
void
chk_done(struct chk_run *run, enum chk_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	done_fmt(run, st, -1, fmt, ap);
	va_end(ap);
}

/* chk_done_result - a check's named result */
void
chk_done_result(struct chk_run *run, enum chk_status st, int result,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	done_fmt(run, st, result, fmt, ap);
	va_end(ap);
}

static const char *const status_names[] = { "neutral", "pass", "fail",
	"tempfail" };

/* expand - a template with the request's values and the check's own */
static char *
expand(const struct chk_run *run, const char *tmpl)
{
	const struct req *req = &run->p->req;
	const char *name = req->client_name ? req->client_name
		: req->reverse_name ? req->reverse_name : "unknown";
	const struct {
		const char *key, *val;
	} vars[] = {
		{ "client", req->client_addr[0] ? req->client_addr : "?" },
		{ "name", name },
		{ "helo", req->helo ? req->helo : "(none)" },
		{ "sender", req->sender.full && !req->sender.is_null
			? req->sender.full : "<>" },
		{ "reason", run->res.reason ? run->res.reason : "" },
	};
	char out[1024];
	size_t o = 0, i;
	const char *t = tmpl;

	while (*t != '\0' && o + 1 < sizeof(out)) {
		const char *val = NULL;
		size_t kl = 0;

		if (*t == '{') {
			const char *end = strchr(t, '}');

			kl = end ? (size_t)(end - t - 1) : 0;
			for (i = 0; end && val == NULL && i < nitems(vars); i++)
				if (strlen(vars[i].key) == kl &&
				    strncmp(t + 1, vars[i].key, kl) == 0)
					val = vars[i].val;
			for (i = 0; end && val == NULL && i < run->res.nvars;
			    i++)
				if (strlen(run->res.vars[i].name) == kl &&
				    strncmp(t + 1, run->res.vars[i].name, kl) ==
				    0)
					val = run->res.vars[i].value;
		}
		if (val == NULL) {
			out[o++] = *t++;
			continue;
		}
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%.200s", val);
		if (o >= sizeof(out))
			o = sizeof(out) - 1;
		t += kl + 2;
	}
	out[o] = '\0';
	return arena_strdup(req->arena, out);
}

/* reply_text - what the sender reads when r decides */
static char *
reply_text(const struct chk_run *r)
{
	return expand(r, r->res.text ? r->res.text : r->pol->text);
}

/* status_name - the trace's word: a named result, or the status */
static const char *
status_name(const struct chk_run *r)
{
	if (r->cancelled)
		return "cancelled";
	if (r->res.result >= 0)
		return r->ops->def->results[r->res.result];
	return status_names[r->res.status];
}

/* tempfail_text - the deferral text of a check that could not tell */
static const char *
tempfail_text(const struct chk_run *r)
{
	return r->ops->def->tempfail_text ? r->ops->def->tempfail_text
	    : "Your server could not be checked just now (a DNS lookup "
	      "failed or timed out); please try again later";
}

/*
 * ours - r could not tell because of our own resolver (a nameserver
 * unreachable or refusing us, or none answering), not the sender's DNS:
 * the reply must not blame the sender
 */
static bool
ours(const struct chk_run *r)
{
	return r->res.status == CHK_TEMPFAIL && (r->dns_ours ||
	    ((r->ops->def->flags & CHK_F_DNS) && dns_down(r->p->dns)));
}

#define OUR_TROUBLE "A temporary problem on our side (our DNS resolver " \
	"is not answering) kept us from checking this message; please try " \
	"again later"

/* tempfail_action - what a check that could not tell does */
static enum chk_tempfail
tempfail_action(const struct pipeline *p, const struct chk_run *r)
{
	if (r->pol->on_tempfail != CHK_TF_POLICY)
		return r->pol->on_tempfail;
	return p->cfg->tempfail_defer ? CHK_TF_DEFER : CHK_TF_DUNNO;
}

static bool bypass_on(const struct pipeline *p);
static bool bypassed(const struct pipeline *p, const struct chk_run *r);

/* src_of - the row of the precedence table a check's action fills */
static enum verdict_src
src_of(enum chk_action on)
{
	switch (on) {
	case CHK_REJECT:
		return VS_REJECT;
	case CHK_DEFER:
		return VS_DEFER;
	case CHK_SCORE:
		return VS_SCORE;
	case CHK_LOG:
		break;
	}
	return VS_TEMPFAIL; /* log: only its "could not tell" may count */
}

/* combine - the verdict from the checks' results */
static void
combine(struct pipeline *p)
{
	struct arena *a = p->req.arena;
	const struct chk_run *reject = NULL, *defer = NULL, *tempfail = NULL;
	char trace[1024], scored[1024], detail[1024];
	bool bypass;
	size_t to = 0, so = 0, wo = 0;
	unsigned i;

	static const char *const actions[] = { "reject", "defer", "score",
		"log" };
	struct chk_report *rep = arena_alloc(a, (p->nchecks ? p->nchecks : 1) *
	    sizeof(*rep));

	trace[0] = scored[0] = detail[0] = '\0';
	p->v.score = 0;
	/* Each check's second look, with all the others' identities. */
	for (i = 0; i < p->nchecks; i++) {
		struct chk_run *r = &p->runs[i];

		if (r->ops->revise == NULL || !r->done || r->cancelled ||
		    r->timed_out || !r->reported)
			continue;
		r->revising = true;
		r->reported = false;
		r->ops->revise(r);
		r->reported = true;
		r->revising = false;
	}
	bypass = bypass_on(p);
	for (i = 0; i < p->nchecks; i++) {
		const struct chk_run *r = &p->runs[i];
		enum chk_action on = r->pol->on_fail;
		int score = 0;
		bool acts = acts_as(r, &on, &score), plus;
		bool ignored = r->res.status == CHK_TEMPFAIL &&
		    r->res.result < 0 && tempfail_action(p, r) == CHK_TF_IGNORE;

		/*
		 * A whitelist entry: what the precedence table says it
		 * silences does not count (the lists, every score), nor its
		 * "could not tell" (a score it skips cannot defer).
		 */
		bool skip = bypass && verdict_silenced(src_of(on),
		    (r->ops->def->flags & CHK_F_BYPASSED) != 0);

		if (skip) {
			acts = false;
			ignored = r->res.status == CHK_TEMPFAIL;
		}

		rep[i].name = r->ops->def->name;
		rep[i].status = status_name(r);
		/* A pass, or a check with results that had none (skipped),
		 * has no action to show. */
		rep[i].on_fail = r->ops->def->results != NULL &&
		    (r->res.status == CHK_PASS || r->res.result < 0) ? "-"
								     : actions[on];
		rep[i].score = acts && on == CHK_SCORE ? score : 0;
		rep[i].ms = r->us / 1000;
		rep[i].reason = r->res.reason ? r->res.reason : "";
		/* "+2" for a score; a named result scoring 0 shows none. */
		plus = acts && on == CHK_SCORE &&
		    (score > 0 || (score == 0 && r->res.result < 0));
		/* "name:status(note)(ignored)+2:3ms", copied: this runs for
		 * every check of every request (a format was a fifth of the
		 * identity checks' instructions). */
		{
			char sc[TEXT_NUM], ms[TEXT_NUM];

			to += text_cat(trace + to, sizeof(trace) - to,
			    i ? "," : "", r->ops->def->name, ":",
			    status_name(r), r->res.note ? "(" : "",
			    r->res.note ? r->res.note : "",
			    r->res.note ? ")" : "",
			    ignored ? "(ignored)" : "", plus ? "+" : "",
			    acts && on == CHK_SCORE && score != 0 ?
			    text_num(sc, score) : "", ":",
			    text_num(ms, (long long)(r->us / 1000)), "ms",
			    NULL);
		}
		/* Why each check failed or could not tell: for the log. */
		if ((r->res.status == CHK_FAIL || r->res.status == CHK_TEMPFAIL) &&
		    wo + 1 < sizeof(detail)) {
			wo += text_cat(detail + wo, sizeof(detail) - wo,
			    wo ? "; " : "", r->ops->def->name, ": ",
			    r->res.detail ? r->res.detail : r->res.reason ?
			    r->res.reason : "", NULL);
		}
		/* A named TEMPFAIL result acts by its own policy below. */
		if (r->res.status == CHK_TEMPFAIL && r->res.result < 0 &&
		    tempfail == NULL && r->pol->on_fail != CHK_LOG && !skip &&
		    tempfail_action(p, r) == CHK_TF_DEFER)
			tempfail = r;
		if (!acts)
			continue;
		switch (on) {
		case CHK_REJECT:
			if (reject == NULL && r->res.status == CHK_FAIL)
				reject = r;
			break;
		case CHK_DEFER:
			if (defer == NULL)
				defer = r;
			break;
		case CHK_SCORE:
			if (score == 0 || (r->res.status != CHK_FAIL &&
			    !r->res.scored))
				break;
			p->v.score += score;
			if (score > 0 && r->res.status == CHK_FAIL) {
				so += text_cat(scored + so, sizeof(scored) - so,
				    so ? "; " : "", reply_text(r), NULL);
			}
			break;
		case CHK_LOG:
			break;
		}
	}
	p->v.reports = rep;
	p->v.nreports = p->nchecks;
	p->v.detail = wo > 0 ? arena_strdup(a, detail) : NULL;
	/* No check ran: no checks= and score= in the log line at all. */
	if (p->nchecks == 0 && p->profile == NULL)
		p->v.trace = NULL;
	else if (p->profile != NULL)
		p->v.trace = arena_cat(a, "profile=", p->profile, ";", trace,
		    NULL);
	else
		p->v.trace = arena_strdup(a, trace);
	if (reject != NULL)
		p->out[VS_REJECT] = (struct verdict_out){ VSAY_REFUSE,
			reject->res.code, reject->res.dsn ? reject->res.dsn
			: reject->ops->def->dsn, reply_text(reject),
			arena_printf(a, "check:%s", reject->ops->def->name) };
	if (p->score_reject > 0 && p->v.score >= p->score_reject)
		p->out[VS_SCORE] = (struct verdict_out){ VSAY_REFUSE, "550",
			"5.7.1", arena_strdup(a, scored), "score" };
	/*
	 * Checks with named results (SPF) defer with their own code, as RFC
	 * 7208 8.6 and RFC 7372 ask (451 4.7.24); the others leave room for
	 * a later rejection (DEFER_IF_PERMIT).
	 */
	if (defer != NULL && ours(defer))
		/* SPF's temperror from our own resolver: not the sender's
		 * record, whatever the result's text says. */
		p->out[VS_DEFER] = (struct verdict_out){ VSAY_DEFER,
			defer->res.result >= 0 ? "451" : NULL, "4.4.3",
			OUR_TROUBLE, arena_printf(a, "tempfail:%s",
			defer->ops->def->name) };
	else if (defer != NULL)
		p->out[VS_DEFER] = (struct verdict_out){ VSAY_DEFER,
			defer->res.result >= 0 ? "451" : NULL, defer->res.dsn
			? defer->res.dsn : defer->ops->def->dsn, reply_text(defer),
			arena_printf(a, "check:%s", defer->ops->def->name) };
	/*
	 * Never a rejection for DNS trouble: ask to come back, in the
	 * sending postmaster's terms; which server said what is for the log
	 * line.
	 */
	if (tempfail != NULL)
		p->out[VS_TEMPFAIL] = (struct verdict_out){ VSAY_DEFER, NULL,
			"4.4.3", ours(tempfail) ? OUR_TROUBLE
			: expand(tempfail, tempfail_text(tempfail)),
			arena_printf(a, "tempfail:%s", tempfail->ops->def->name) };
	if (bypass)
		p->out[VS_BYPASS] = (struct verdict_out){ .say = VSAY_PASS,
			.rule = p->bypass_why };
	else if (p->bypass != CHK_BYPASS_NONE)
		/* Found but not applied: the log line says so, and why. */
		p->v.bypass = arena_printf(a, "%s:not-applied(spf=%s,"
		    "require_spf=%s)", p->bypass_why, chk_spf_name(p->spf),
		    p->bypass == CHK_BYPASS_UNLESS_SPF_FAIL ? "not-fail"
		    : "pass");
}

static void end_checks(struct pipeline *p);
static void start_run(struct chk_run *r);

/* start_checks - the CHECKS stage: every check at once */
static void
start_checks(struct pipeline *p)
{
	unsigned i;

	if (p->late) {
		end_checks(p); /* the deadline came first: none could tell */
		return;
	}
	for (i = 0; i < p->nchecks && !p->over; i++) {
		if (p->runs[i].done)
			continue; /* cut short by a certain verdict */
		start_run(&p->runs[i]);
	}
}

/* bypass_on - a whitelist entry applies: found, and its terms met */
static bool
bypass_on(const struct pipeline *p)
{
	return chk_bypass_met(p->bypass, p->spf);
}

/* bypassed - r is a check or module a whitelist entry skips */
static bool
bypassed(const struct pipeline *p, const struct chk_run *r)
{
	return (r->ops->def->flags & CHK_F_BYPASSED) && bypass_on(p);
}

/* refused - the verdict so far is a refusal or a deferral */
static bool
refused(const struct pipeline *p)
{
	return !accepts(&p->out[verdict_pick(p->out)]);
}

/* pipeline_closed - the deadline timer is closed: free */
static void
pipeline_closed(uv_handle_t *h)
{
	struct pipeline *p = h->data;

	arena_free(p->req.arena);
	free(p);
}

/* start_run - a check or a module begins */
static void
start_run(struct chk_run *r)
{
	r->t0 = uv_hrtime();
	r->ops->start(r);
}

/*
 * advance - go through the stages as far as nothing waits: the checks'
 * verdict, each state module in turn, the reply. Re-entered from a
 * result reported inside it; the outer call goes on.
 */
static void
advance(struct pipeline *p)
{
	if (p->advancing || p->over)
		return;
	p->advancing = true;
	for (;;) {
		if (p->stage == STAGE_PRE) {
			struct chk_run *r;

			if (p->at_work != NULL && !p->at_work->done)
				break; /* a module is still at work */
			if (p->out[VS_BLOCK].say != VSAY_NONE) {
				p->stage = STAGE_DONE; /* nothing can beat it */
				continue;
			}
			if (p->next_pre == p->nruns || p->late) {
				p->at_work = NULL;
				p->stage = STAGE_CHECKS;
				start_checks(p);
				continue;
			}
			r = p->at_work = &p->runs[p->next_pre++];
			start_run(r);
			continue;
		}
		if (p->stage == STAGE_CHECKS) {
			if (p->pending > 0)
				break;
			combine(p);
			p->stage = STAGE_STATE;
			p->next_state = p->nchecks;
			if (refused(p))
				p->next_state = p->state_end; /* nothing to add */
			continue;
		}
		if (p->stage == STAGE_STATE) {
			struct chk_run *r;

			if (p->at_work != NULL && !p->at_work->done)
				break; /* a module is still at work */
			if (p->next_state == p->state_end) {
				p->stage = STAGE_DONE;
				continue;
			}
			r = p->at_work = &p->runs[p->next_state++];
			if (bypassed(p, r)) {
				r->done = true;
				r->res.reason = "bypassed: a whitelist entry";
				continue;
			}
			start_run(r);
			continue;
		}
		/* REPLY: the strongest source, by the table */
		{
			const struct verdict_out *o =
			    &p->out[verdict_pick(p->out)];

			p->v.action = verdict_action(p->req.arena, o);
			p->v.rule = o->rule;
		}
		p->v.action = verdict_with_url(p->req.arena, p->v.action,
		    p->v.rule, p->cfg->refusal_url);
		p->v.action = msg_flush_header(&p->env->msg, &p->req,
		    p->req.arena, p->v.action);
		p->over = true;
		break;
	}
	p->advancing = false;
	if (p->over && !p->in_decide) {
		/* Later, from a callback: report, then let go. */
		p->done(p->arg, &p->v, p->v.trace);
		uv_close((uv_handle_t *)&p->deadline, pipeline_closed);
	}
}

/* end_checks - the deadline: what did not answer could not tell */
static void
end_checks(struct pipeline *p)
{
	bool advancing = p->advancing;
	unsigned i;

	/* A check may still report what it has: nothing moves on until
	 * every check is ended (the caller advances then). */
	p->advancing = true;
	for (i = 0; i < p->nchecks; i++) {
		struct chk_run *r = &p->runs[i];

		if (r->done)
			continue;
		r->timed_out = true;
		cancel_queries(r);
		if (r->ops->deadline != NULL && r->t0 != 0) {
			r->ops->deadline(r);
			if (r->done)
				continue; /* it reported what it had */
		}
		if (r->ops->cancel)
			r->ops->cancel(r);
		r->res.status = CHK_TEMPFAIL;
		r->res.reason = "no answer before the deadline";
		if (r->ops->def->results != NULL) {
			/* Its own temporary-error result, and a reply text
			 * that stands on its own ({reason} is the text). */
			r->res.result = r->ops->def->tempfail_result;
			r->res.detail = r->res.reason;
			r->res.reason = expand(r, tempfail_text(r));
		}
		r->us = (uv_hrtime() - r->t0) / 1000;
		r->done = true;
	}
	p->pending = 0;
	p->advancing = advancing;
}

/* on_deadline - the request's time is up, in whatever stage */
static void
on_deadline(uv_timer_t *t)
{
	struct pipeline *p = t->data;

	if (p->stage == STAGE_CHECKS) {
		end_checks(p);
	} else if (p->stage == STAGE_STATE || p->stage == STAGE_PRE) {
		/* No check may start after the deadline: they could not tell. */
		if (p->stage == STAGE_PRE)
			p->late = true;
		/* The module at work stops, and answers as it can at once. */
		struct chk_run *r = p->at_work;

		if (r != NULL && !r->done) {
			r->timed_out = true;
			r->res.status = CHK_TEMPFAIL;
			r->res.reason = "no answer before the deadline";
			r->us = (uv_hrtime() - r->t0) / 1000;
			if (r->ops->cancel)
				r->ops->cancel(r);
		}
		if (r != NULL)
			r->done = true;
	}
	advance(p);
}

/* The policy in force for a request. */
struct policy_in_force {
	const struct chk_policy *pols;
	int score_reject, score_greylist;
	const char *profile; /* NULL: the main policy */
};

/*
 * select_profile - stress=yes, then policy_context, may name a profile;
 * otherwise the main policy.
 */
static struct policy_in_force
select_profile(const struct cfg *cfg, const struct req *req)
{
	const struct cfg_profile *pr = NULL;
	struct policy_in_force f = { cfg->checks, cfg->score_reject,
		cfg->score_greylist, NULL };
	size_t i;

	if (req->stress && cfg->stress_profile >= 0)
		pr = &cfg->profiles[cfg->stress_profile];
	for (i = 0; pr == NULL && req->policy_context != NULL &&
	    i < cfg->ncontexts; i++)
		if (strcmp(cfg->contexts[i].context, req->policy_context) == 0)
			pr = &cfg->profiles[cfg->contexts[i].profile];
	if (pr != NULL) {
		f.pols = pr->checks;
		f.score_reject = pr->score_reject;
		f.score_greylist = pr->score_greylist;
		f.profile = pr->name;
	}
	return f;
}

/* applies - the entry runs for this request */
static bool
applies(const struct chk_ops *ops, const struct chk_policy *pol, bool ours,
    unsigned state)
{
	if (!pol->enabled || !(pol->states & state))
		return false;
	/* Our users (logged in, local networks or contexts): only some. */
	return !ours || (ops->def->flags & CHK_F_OUR_USERS);
}

/* runs_here - applies, and after an accepting access rule: a recorder */
static bool
runs_here(const struct chk_ops *ops, const struct chk_policy *pol,
    bool ours, unsigned state, bool by_rule)
{
	return applies(ops, pol, ours, state) && (!by_rule ||
	    (ops->def->kind == CHK_KIND_STATE && (ops->def->flags & CHK_F_RECORDS)));
}

/* pipeline_decide - the whole decision for one request */
int
pipeline_decide(uv_loop_t *loop, const struct cfg *cfg, struct dns *dns,
    const struct req *req, struct pipeline_env *env, pipeline_done_fn *done,
    void *arg, struct pipeline **pp, struct verdict *v)
{
	const struct access_rule *r;
	struct policy_in_force pf;
	struct pipeline *p;
	unsigned i, n = 0, state = chk_state_bit(req->protocol_state);
	const char *ours_why;
	bool ours, by_rule = false;

	*pp = NULL;
	memset(v, 0, sizeof(*v));
	env->store_rc = 0;
	env->store_used = false;
	msg_begin(&env->msg, req);
	/* The table's last row; an access rule's is its first. */
	v->action = cfg->default_action;
	v->rule = "default";
	/* PRE: whitelists and static rules short-circuit. */
	r = access_match(cfg->access, cfg->naccess, req);
	ours_why = cfg_our_user_why(cfg, req);
	ours = ours_why != NULL;
	/* Our own users' mail that no rule decides: named, not "default". */
	if (ours)
		v->rule = ours_why;
	if (r != NULL) {
		v->action = r->action;
		v->rule = r->name;
		/* Our users' mail that a rule accepts is still recorded
		 * (outbound): nothing else runs. */
		if (!ours || !verdict_accepts(r->action))
			return 1;
		by_rule = true;
	}
	pf = select_profile(cfg, req);
	for (i = 0; i < chk_count; i++)
		n += runs_here(chk_registry[i], &pf.pols[i], ours, state,
		    by_rule);
	if (by_rule && n == 0)
		return 1;
	/* Only the runs that apply: each is a few hundred bytes. */
	p = xmalloc(sizeof(*p) + n * sizeof(p->runs[0]));
	/* A memset per piece, not one calloc: each stays below the size at
	 * which glibc's memset turns to rep stosb (many times the
	 * instructions under callgrind, t/bench/instructions.sh); the runs
	 * together crossed it once their results grew. */
	memset(p, 0, sizeof(*p));
	p->req = *req;
	p->pols = pf.pols;
	p->score_reject = pf.score_reject;
	p->score_greylist = pf.score_greylist;
	p->profile = pf.profile;
	p->t0 = loop != NULL ? uv_now(loop) : uv_hrtime() / 1000000;
	p->cfg = cfg;
	p->ours = ours;
	p->loop = loop;
	p->dns = dns;
	p->env = env;
	p->done = done;
	p->arg = arg;
	p->v = *v;
	p->out[VS_DEFAULT] = (struct verdict_out){ .say = VSAY_RAW,
		.text = cfg->default_action, .rule = ours ? ours_why
		: "default" };
	if (by_rule)
		p->out[VS_ACCESS] = (struct verdict_out){ .say = VSAY_RAW,
			.text = r->action, .rule = r->name };
	if (env->msg.trusted[0] != '\0')
		p->identity[CHK_ID_TRUSTED] = arena_strdup(req->arena,
		    env->msg.trusted);
	arena_ref(req->arena);
	/* Checks first, then the state modules, each in registry order. */
	for (int kind = CHK_KIND_CHECK; kind <= CHK_KIND_PRE; kind++) {
		for (i = 0; i < chk_count; i++) {
			const struct chk_ops *ops = chk_registry[i];
			struct chk_run *run;

			if ((int)ops->def->kind != kind || !runs_here(ops,
			    &p->pols[i], ours, state, by_rule))
				continue;
			run = &p->runs[p->nruns++];
			memset(run, 0, sizeof(*run));
			run->p = p;
			run->ops = ops;
			run->pol = &p->pols[i];
			run->idx = i;
			run->res.result = -1;
		}
		if (kind == CHK_KIND_CHECK)
			p->nchecks = p->nruns;
		if (kind == CHK_KIND_STATE)
			p->state_end = p->next_pre = p->nruns;
	}
	p->pending = p->nchecks;
	if (by_rule) {
		/* The rule's verdict stands; only the recorders run. */
		p->stage = STAGE_STATE;
		p->next_state = p->nchecks;
	}
	p->in_decide = true;
	advance(p); /* PRE, then the checks */
	p->in_decide = false;
	if (p->over) {
		*v = p->v;
		/* The caller's arena: the verdict's strings stay valid. */
		arena_free(p->req.arena);
		free(p);
		return 1;
	}
	if (loop == NULL)
		PD_PANIC("pipeline_decide: a stage waits, but there is no loop");
	uv_timer_init(loop, &p->deadline);
	p->deadline.data = p;
	p->timer_on = true;
	uv_timer_start(&p->deadline, on_deadline, cfg->deadline_ms, 0);
	*pp = p;
	return 0;
}

/* pipeline_cancel - the client went away: stop, no callback */
void
pipeline_cancel(struct pipeline *p)
{
	unsigned i;

	if (p == NULL || p->over)
		return;
	p->over = true;
	for (i = 0; i < p->nruns; i++) {
		struct chk_run *r = &p->runs[i];

		/* Only what began: PRE and state modules one at a time, the
		 * checks once PRE is over. */
		if (r->done || r->t0 == 0)
			continue;
		cancel_queries(r);
		if (r->ops->cancel)
			r->ops->cancel(r);
	}
	uv_close((uv_handle_t *)&p->deadline, pipeline_closed);
}
