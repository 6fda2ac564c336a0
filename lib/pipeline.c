/*
 * pipeline - runs the checks of one request and combines their results.
 *
 * Data flow: request -> access rules (a match decides at once) -> every
 * enabled check started (cheap ones end at once, DNS ones in parallel)
 * -> all done, or the deadline -> combine: a failed check whose policy is
 * reject refuses (first in registry order), defer defers, scores add up
 * against scores.reject; a check that could not tell (TEMPFAIL) defers or
 * passes per on_tempfail and never refuses; otherwise greylisting for
 * requests at or above scores.greylist; otherwise default_action.
 *
 * Lifetimes: the pipeline is malloc'ed; when it waited, its deadline
 * timer is closed at the end and the memory goes in the close callback.
 * The DNS questions of the checks are the pipeline's: it cancels them at
 * the deadline or when the client goes away, so no callback comes late.
 */
#include "checks/chk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "arena.h"
#include "config.h"
#include "dns.h"
#include "dynamic.h"
#include "greylist.h"
#include "request.h"
#include "verdict.h"
#include "xalloc.h"

#define CHK_REASON_MAX 511 /* bytes of a check's reason */

struct chk_query_slot {
	struct dns_query *q;
	chk_dns_fn *cb;
	void *arg;
	struct chk_run *run;
};

struct chk_run {
	struct pipeline *p;
	const struct chk_ops *ops;
	const struct chk_policy *pol;
	void *state;
	enum chk_status st;
	int result;          /* index into ops->results, or -1 */
	const char *reason;
	const char *detail;  /* chk_set_detail(): for the log only */
	const char *dsn;
	const char *pool;    /* chk_set_pool() */
	bool done;
	bool reported;       /* the check called chk_done() */
	uint64_t t0;
	uint64_t us;
	struct chk_query_slot slots[CHK_MAX_QUERIES];
};

struct pipeline {
	uv_loop_t *loop;
	const struct cfg *cfg;
	struct dns *dns;
	const struct req *req;
	struct verdict_env *env;
	pipeline_done_fn *done;
	void *arg;
	const struct chk_policy *pols; /* the profile's, or the main ones */
	int score_reject, score_greylist;
	bool greylist_on;
	const char *profile;           /* NULL: the main policy */
	unsigned nruns;
	unsigned pending;
	bool starting;
	bool over;        /* combined (or cancelled): nothing more happens */
	bool timer_on;
	uv_timer_t deadline;
	struct verdict v;
	struct chk_run runs[]; /* the enabled checks only */
};

const struct req *
chk_req(const struct chk_run *run)
{
	return run->p->req;
}

struct dns *
chk_dns(const struct chk_run *run)
{
	return run->p->dns;
}

struct arena *
chk_arena(const struct chk_run *run)
{
	return run->p->req->arena;
}

const struct chk_policy *
chk_policy(const struct chk_run *run)
{
	return run->pol;
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

/* chk_set_detail - for the log line, never a reply */
void
chk_set_detail(struct chk_run *run, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	run->detail = arena_vprintf(run->p->req->arena, fmt, ap);
	va_end(ap);
}

void
chk_set_dsn(struct chk_run *run, const char *dsn)
{
	run->dsn = dsn;
}

void
chk_set_pool(struct chk_run *run, const char *identity)
{
	run->pool = identity;
}

struct verdict_env *
chk_env(const struct chk_run *run)
{
	return run->p->env;
}

/* cancel_queries - the check's questions, without callbacks */
static void
cancel_queries(struct chk_run *run)
{
	size_t i;

	for (i = 0; i < CHK_MAX_QUERIES; i++) {
		if (run->slots[i].q != NULL) {
			dns_cancel(run->slots[i].q);
			run->slots[i].q = NULL;
		}
	}
}

static void finish(struct pipeline *p);

/* run_done - a check's result, with its named result or -1 */
static void run_done(struct chk_run *run, enum chk_status st, int result,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void
run_done(struct chk_run *run, enum chk_status st, int result, const char *fmt,
    va_list ap)
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
		PD_PANIC("check %s: chk_done() called twice", run->ops->name);
	run->reported = true;
	if (run->done || p->over)
		return;
	run->st = st;
	run->result = result;
	reason = arena_vprintf(p->req->arena, fmt, ap);
	if (strlen(reason) > CHK_REASON_MAX)
		reason[CHK_REASON_MAX] = '\0'; /* names can be long */
	run->reason = reason;
	run->done = true;
	run->us = (uv_hrtime() - run->t0) / 1000;
	cancel_queries(run); /* a check may end before all answers came */
	if (--p->pending == 0 && !p->starting)
		finish(p);
}

/* chk_done - a check's result */
void
chk_done(struct chk_run *run, enum chk_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	run_done(run, st, -1, fmt, ap);
	va_end(ap);
}

/* chk_done_result - a check's named result */
void
chk_done_result(struct chk_run *run, enum chk_status st, int result,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	run_done(run, st, result, fmt, ap);
	va_end(ap);
}

/* query_done - a DNS answer for a check */
static void
query_done(void *arg, const struct dns_answer *a)
{
	struct chk_query_slot *slot = arg;
	struct chk_run *run = slot->run;

	slot->q = NULL;
	if (run->done || run->p->over)
		return;
	slot->cb(run, a, slot->arg);
}

/* chk_query - ask DNS on behalf of a check */
int
chk_query(struct chk_run *run, const char *name, uint16_t type,
    chk_dns_fn *cb, void *arg)
{
	size_t i;

	if (run->p->dns == NULL)
		return -1;
	for (i = 0; i < CHK_MAX_QUERIES; i++)
		if (run->slots[i].q == NULL)
			break;
	/* Checks bound their questions well below this: a bug, loudly. */
	if (i == CHK_MAX_QUERIES)
		PD_PANIC("check %s: more than %d DNS questions at once",
		    run->ops->name, CHK_MAX_QUERIES);
	run->slots[i].cb = cb;
	run->slots[i].arg = arg;
	run->slots[i].run = run;
	return dns_query(run->p->dns, name, type, query_done, &run->slots[i],
	    &run->slots[i].q);
}

/* chk_pending - questions in the air */
unsigned
chk_pending(const struct chk_run *run)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < CHK_MAX_QUERIES; i++)
		n += run->slots[i].q != NULL;
	return n;
}

static const char *const status_names[] = { "neutral", "pass", "fail",
	"tempfail" };

/* expand - a refusal template with the request's values */
static char *
expand(const struct chk_run *run, const char *tmpl)
{
	const struct req *req = run->p->req;
	const char *name = req->client_name ? req->client_name
		: req->reverse_name ? req->reverse_name : "unknown";
	const struct {
		const char *key, *val;
	} vars[] = {
		{ "{client}", req->client_addr[0] ? req->client_addr : "?" },
		{ "{name}", name },
		{ "{helo}", req->helo ? req->helo : "(none)" },
		{ "{sender}", req->sender.full && !req->sender.is_null
			? req->sender.full : "<>" },
		{ "{reason}", run->reason ? run->reason : "" },
	};
	char out[1024];
	size_t o = 0, i;
	const char *t = tmpl;

	while (*t != '\0' && o + 1 < sizeof(out)) {
		for (i = 0; i < nitems(vars); i++) {
			size_t kl = strlen(vars[i].key);

			if (strncmp(t, vars[i].key, kl) == 0) {
				o += (size_t)snprintf(out + o, sizeof(out) - o,
				    "%.200s", vars[i].val);
				if (o >= sizeof(out))
					o = sizeof(out) - 1;
				t += kl;
				break;
			}
		}
		if (i == nitems(vars))
			out[o++] = *t++;
	}
	out[o] = '\0';
	return arena_strdup(req->arena, out);
}

/*
 * outcome - what a finished check asks for: its action and score. A
 * check with named results takes the action of its result (a TEMPFAIL
 * included); any other check acts only when it failed.
 */
static bool
outcome(const struct chk_run *r, enum chk_action *on, int *score)
{
	if (r->result >= 0) {
		*on = r->pol->results[r->result].on;
		*score = r->pol->results[r->result].score;
		return r->st == CHK_FAIL || r->st == CHK_TEMPFAIL;
	}
	*on = r->pol->on_fail;
	*score = r->pol->score;
	return r->st == CHK_FAIL;
}

/* status_name - the trace's word: a named result, or the status */
static const char *
status_name(const struct chk_run *r)
{
	if (r->result >= 0)
		return r->ops->results[r->result];
	return status_names[r->st];
}

/*
 * pick_pool - the verified identity greylisting keys on instead of the
 * client network: the SPF-authorized domain (the spf check sets it only
 * for a pass from a narrow enough mechanism), else the registered domain
 * of the forward-confirmed client name (ours or Postfix's) when it is the
 * sender's registered domain too, unless that name looks dynamic (a
 * dial-in pool is not one organization's servers).
 */
static const char *
pick_pool(const struct pipeline *p)
{
	const struct gl_conf *g = &p->cfg->greylist;
	const struct req *req = p->req;
	const char *spf = NULL, *name = NULL, *reg, *sreg;
	int dyn = chk_find("dynamic");
	unsigned i;

	for (i = 0; i < p->nruns; i++) {
		const struct chk_run *r = &p->runs[i];

		if (r->st != CHK_PASS || r->pool == NULL)
			continue;
		if (strcmp(r->ops->name, "spf") == 0)
			spf = r->pool;
		else if (strcmp(r->ops->name, "fcrdns") == 0)
			name = r->pool;
	}
	if (g->pool_spf && spf != NULL)
		return arena_printf(req->arena, "spf:%s", spf);
	if (!g->pool_fcrdns || !req->has_client_ip)
		return NULL;
	if (name == NULL)
		name = req->client_name; /* Postfix verified it */
	if (name == NULL || dyn_classify(name, &req->client_ip, dyn >= 0 ?
	    p->pols[dyn].patterns : NULL, NULL, 0))
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
	return arena_printf(req->arena, "fcrdns:%s", reg);
}

/* tempfail_text - the deferral text of a check that could not tell */
static const char *
tempfail_text(const struct chk_run *r)
{
	return r->ops->tempfail_text ? r->ops->tempfail_text
	    : "Your server could not be checked just now (a DNS lookup "
	      "failed or timed out); please try again later";
}

/* combine - the verdict from the checks' results */
static void
combine(struct pipeline *p)
{
	struct arena *a = p->req->arena;
	const struct chk_run *reject = NULL, *defer = NULL, *tempfail = NULL;
	char trace[1024], scored[1024], detail[1024];
	size_t to = 0, so = 0, wo = 0;
	unsigned i;

	static const char *const actions[] = { "reject", "defer", "score",
		"log" };
	struct chk_report *rep = arena_alloc(a, (p->nruns ? p->nruns : 1) *
	    sizeof(*rep));

	trace[0] = scored[0] = detail[0] = '\0';
	p->v.score = 0;
	for (i = 0; i < p->nruns; i++) {
		const struct chk_run *r = &p->runs[i];
		enum chk_action on;
		int score;
		bool acts = outcome(r, &on, &score);

		rep[i].name = r->ops->name;
		rep[i].status = status_name(r);
		/* A pass, or a check with results that had none (skipped),
		 * has no action to show. */
		rep[i].on_fail = r->ops->results != NULL && (r->st == CHK_PASS ||
		    r->result < 0) ? "-" : actions[on];
		rep[i].score = acts && on == CHK_SCORE ? score : 0;
		rep[i].ms = r->us / 1000;
		rep[i].reason = r->reason ? r->reason : "";
		to += (size_t)snprintf(trace + to, to < sizeof(trace)
			? sizeof(trace) - to : 0, "%s%s:%s%s%.0d:%llums",
		    i ? "," : "", r->ops->name, status_name(r),
		    acts && on == CHK_SCORE && (score || r->result < 0) ? "+"
									 : "",
		    acts && on == CHK_SCORE ? score : 0,
		    (unsigned long long)(r->us / 1000));
		if (to >= sizeof(trace))
			to = sizeof(trace) - 1;
		/* Why each check failed or could not tell: for the log. */
		if ((r->st == CHK_FAIL || r->st == CHK_TEMPFAIL) &&
		    wo + 1 < sizeof(detail)) {
			wo += (size_t)snprintf(detail + wo, sizeof(detail) - wo,
			    "%s%s: %s", wo ? "; " : "", r->ops->name,
			    r->detail ? r->detail : r->reason ? r->reason : "");
			if (wo >= sizeof(detail))
				wo = sizeof(detail) - 1;
		}
		/* A named TEMPFAIL result acts by its own policy below. */
		if (r->st == CHK_TEMPFAIL && r->result < 0 && tempfail == NULL &&
		    r->pol->on_fail != CHK_LOG)
			tempfail = r;
		if (!acts)
			continue;
		switch (on) {
		case CHK_REJECT:
			if (reject == NULL && r->st == CHK_FAIL)
				reject = r;
			break;
		case CHK_DEFER:
			if (defer == NULL)
				defer = r;
			break;
		case CHK_SCORE:
			if (score == 0 || r->st != CHK_FAIL)
				break;
			p->v.score += score;
			so += (size_t)snprintf(scored + so, so < sizeof(scored)
				? sizeof(scored) - so : 0, "%s%s",
			    so ? "; " : "", expand(r, r->pol->text));
			if (so >= sizeof(scored))
				so = sizeof(scored) - 1;
			break;
		case CHK_LOG:
			break;
		}
	}
	p->v.reports = rep;
	p->v.nreports = p->nruns;
	p->v.detail = wo > 0 ? arena_strdup(a, detail) : NULL;
	/* No check ran: no checks= and score= in the log line at all. */
	if (p->nruns == 0 && p->profile == NULL)
		p->v.trace = NULL;
	else if (p->profile != NULL)
		p->v.trace = arena_printf(a, "profile=%s;%s", p->profile,
		    trace);
	else
		p->v.trace = arena_strdup(a, trace);
	if (reject != NULL) {
		p->v.action = arena_printf(a, "550 %s %s",
		    reject->dsn ? reject->dsn : reject->ops->dsn,
		    expand(reject, reject->pol->text));
		p->v.rule = arena_printf(a, "check:%s", reject->ops->name);
		return;
	}
	if (p->score_reject > 0 && p->v.score >= p->score_reject) {
		p->v.action = arena_printf(a, "550 5.7.1 %s", scored);
		p->v.rule = "score";
		return;
	}
	if (defer != NULL) {
		const char *dsn = defer->dsn ? defer->dsn : defer->ops->dsn;

		/*
		 * Checks with named results (SPF) defer with their own code,
		 * as RFC 7208 8.6 and RFC 7372 ask (451 4.7.24); the others
		 * leave room for a later rejection (DEFER_IF_PERMIT).
		 */
		p->v.action = arena_printf(a, "%s 4%s %s", defer->result >= 0 ?
		    "451" : "DEFER_IF_PERMIT", dsn + 1,
		    expand(defer, defer->pol->text));
		p->v.rule = arena_printf(a, "check:%s", defer->ops->name);
		return;
	}
	if (tempfail != NULL && p->cfg->tempfail_defer) {
		/*
		 * Never a rejection for DNS trouble: ask to come back, in the
		 * sending postmaster's terms; which server said what is for
		 * the log line.
		 */
		p->v.action = arena_printf(a, "DEFER_IF_PERMIT 4.4.3 %s",
		    expand(tempfail, tempfail_text(tempfail)));
		p->v.rule = arena_printf(a, "tempfail:%s", tempfail->ops->name);
		return;
	}
	if (p->greylist_on && p->cfg->greylist.enabled &&
	    p->v.score >= p->score_greylist &&
	    p->req->sasl_username == NULL &&
	    (p->req->protocol_state[0] == '\0' ||
	    strcmp(p->req->protocol_state, "RCPT") == 0)) {
		if (p->env->dry)
			p->v.rule = "greylist(not run: no state is changed)";
		else
			verdict_greylist(p->cfg, p->req, p->env, pick_pool(p),
			    &p->v);
	}
	verdict_flush_header(p->env, p->req, &p->v);
}

/* pipeline_closed - the deadline timer is closed: free */
static void
pipeline_closed(uv_handle_t *h)
{
	free(h->data);
}

/* finish - all checks are in (or the deadline passed): decide, report */
static void
finish(struct pipeline *p)
{
	if (p->over)
		return;
	p->over = true;
	combine(p);
	if (!p->timer_on)
		return; /* synchronous: pipeline_decide reports and frees */
	p->done(p->arg, &p->v, p->v.trace);
	uv_close((uv_handle_t *)&p->deadline, pipeline_closed);
}

/* on_deadline - the request's time is up: what did not answer could not tell */
static void
on_deadline(uv_timer_t *t)
{
	struct pipeline *p = t->data;
	unsigned i;

	for (i = 0; i < p->nruns; i++) {
		struct chk_run *r = &p->runs[i];

		if (r->done)
			continue;
		cancel_queries(r);
		if (r->ops->cancel)
			r->ops->cancel(r);
		r->st = CHK_TEMPFAIL;
		r->reason = "no answer before the deadline";
		if (r->ops->results != NULL) {
			/* Its own temporary-error result, and a reply text
			 * that stands on its own ({reason} is the text). */
			r->result = r->ops->tempfail_result;
			r->detail = r->reason;
			r->reason = expand(r, tempfail_text(r));
		}
		r->us = (uv_hrtime() - r->t0) / 1000;
		r->done = true;
	}
	p->pending = 0;
	finish(p);
}

/*
 * select_profile - stress=yes, then policy_context, may name a profile;
 * otherwise the main policy.
 */
static void
select_profile(struct pipeline *p)
{
	const struct cfg *cfg = p->cfg;
	const struct cfg_profile *pr = NULL;
	size_t i;

	if (p->req->stress && cfg->stress_profile >= 0)
		pr = &cfg->profiles[cfg->stress_profile];
	for (i = 0; pr == NULL && p->req->policy_context != NULL &&
	    i < cfg->ncontexts; i++)
		if (strcmp(cfg->contexts[i].context, p->req->policy_context) ==
		    0)
			pr = &cfg->profiles[cfg->contexts[i].profile];
	if (pr == NULL) {
		p->pols = cfg->checks;
		p->score_reject = cfg->score_reject;
		p->score_greylist = cfg->score_greylist;
		p->greylist_on = true;
		return;
	}
	p->pols = pr->checks;
	p->score_reject = pr->score_reject;
	p->score_greylist = pr->score_greylist;
	p->greylist_on = pr->greylist;
	p->profile = pr->name;
}

/* pipeline_decide - the whole decision for one request */
int
pipeline_decide(uv_loop_t *loop, const struct cfg *cfg, struct dns *dns,
    const struct req *req, struct verdict_env *env, pipeline_done_fn *done,
    void *arg, struct pipeline **pp, struct verdict *v)
{
	const struct access_rule *r;
	struct pipeline head, *p;
	unsigned i, n = 0;

	*pp = NULL;
	memset(v, 0, sizeof(*v));
	env->store_rc = 0;
	env->store_used = false;
	verdict_msg_begin(env, req);
	v->action = cfg->default_action;
	v->rule = "default";
	r = access_match(cfg->access, cfg->naccess, req);
	if (r != NULL) {
		/* Whitelists and static rules short-circuit. */
		v->action = r->action;
		v->rule = r->name;
		return 1;
	}
	memset(&head, 0, sizeof(head));
	head.loop = loop;
	head.cfg = cfg;
	head.dns = dns;
	head.req = req;
	head.env = env;
	head.done = done;
	head.arg = arg;
	head.v = *v;
	select_profile(&head);
	/* Clients that logged in are our users: no identity checks. */
	for (i = 0; req->sasl_username == NULL && i < chk_count; i++)
		n += head.pols[i].enabled;
	/* Only the enabled checks' state: each run is ~800 bytes. */
	p = xcalloc(1, sizeof(*p) + n * sizeof(p->runs[0]));
	*p = head;
	if (n > 0) {
		for (i = 0; i < chk_count; i++) {
			if (!p->pols[i].enabled)
				continue;
			p->runs[p->nruns].p = p;
			p->runs[p->nruns].ops = chk_registry[i];
			p->runs[p->nruns].pol = &p->pols[i];
			p->runs[p->nruns].result = -1;
			p->nruns++;
		}
	}
	p->pending = p->nruns;
	p->starting = true;
	for (i = 0; i < p->nruns && !p->over; i++) {
		p->runs[i].t0 = uv_hrtime();
		p->runs[i].ops->start(&p->runs[i]);
	}
	p->starting = false;
	if (p->pending == 0) {
		finish(p);
		*v = p->v;
		free(p);
		return 1;
	}
	if (loop == NULL)
		PD_PANIC("pipeline_decide: checks wait for DNS, but no loop");
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
		if (p->runs[i].done)
			continue;
		cancel_queries(&p->runs[i]);
		if (p->runs[i].ops->cancel)
			p->runs[i].ops->cancel(&p->runs[i]);
	}
	uv_close((uv_handle_t *)&p->deadline, pipeline_closed);
}
