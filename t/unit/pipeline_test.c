/*
 * pipeline_test - the check interface and the staged pipeline, with a
 * registry of checks written for the test (this program defines
 * chk_registry, so the real checks are not linked in):
 *
 *   deny    refuses with a certain verdict (CHK_F_EARLY) when the HELO is
 *           its option "when": the answer comes at once;
 *   allow   an allowlist: later (a timer), a pass that subtracts 3 and
 *           stops the others, publishing a verified name;
 *   listed  a blocklist with its own option "weight", its own score and
 *           template variables {list} and {code};
 *   slow    never answers by itself (a 10 s timer): the deadline, and its
 *           on_tempfail;
 *   stamp   a state module that finishes later (CHK_F_OUR_USERS), reading
 *           what the checks verified;
 *   gate    a PRE module that answers later: a block for the sender
 *           blocked@x.example (chk_block), a whitelist entry for
 *           trusted@x.example (chk_set_bypass; listed is bypassed), and
 *           for HELO gatestall.example nothing before the deadline.
 *
 * Each check counts its timers, so a test can see that what was
 * cancelled stopped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "arena.h"
#include "checks/chk.h"
#include "config.h"
#include "msg.h"
#include "pipeline.h"
#include "request.h"
#include "verdict.h"
#include "xalloc.h"

/* What init() made: one per check, for the daemon's life. */
struct proc {
	uv_loop_t *loop;
	int inits;
};
static struct proc procs_made[8];
static int deinits;
static int timers;   /* running, of all checks */

/* A check's timer: fires into its callback unless cancelled. */
struct ticker {
	uv_timer_t t;
	struct chk_run *run;
	void (*fire)(struct chk_run *run);
};

static void
ticker_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
ticker_fired(uv_timer_t *t)
{
	struct ticker *k = t->data;
	struct chk_run *run = k->run;

	timers--;
	uv_close((uv_handle_t *)&k->t, ticker_closed);
	*chk_state(run) = NULL;
	k->fire(run);
}

/* tick - the check reports after ms, from its timer */
static void
tick(struct chk_run *run, uint64_t ms, void (*fire)(struct chk_run *))
{
	struct proc *pr = chk_proc(run);
	struct ticker *k = xcalloc(1, sizeof(*k));

	k->run = run;
	k->fire = fire;
	uv_timer_init(pr->loop, &k->t);
	k->t.data = k;
	uv_timer_start(&k->t, ticker_fired, ms, 0);
	timers++;
	*chk_state(run) = k;
}

/* untick - cancel(): the timer stops, nothing is reported */
static void
untick(struct chk_run *run)
{
	struct ticker *k = *chk_state(run);

	if (k == NULL)
		return; /* never started, or already fired */
	uv_timer_stop(&k->t);
	uv_close((uv_handle_t *)&k->t, ticker_closed);
	timers--;
	*chk_state(run) = NULL;
}

static void *
init_proc(const struct chk_ctx *ctx)
{
	static int n;
	struct proc *pr = &procs_made[n++ % 8];

	pr->loop = ctx->loop;
	pr->inits++;
	return pr;
}

static void
deinit_proc(void *proc)
{
	(void)proc;
	deinits++;
}

/* deny: its option "when" (a HELO name) */
struct deny_conf {
	char *when;
};

static const char *const deny_options[] = { "when", NULL };

static void
deny_init(void *conf)
{
	((struct deny_conf *)conf)->when = NULL;
}

static void
deny_copy(void *dst, const void *src)
{
	const struct deny_conf *s = src;

	((struct deny_conf *)dst)->when = s->when ? xstrdup(s->when) : NULL;
}

static void
deny_free(void *conf)
{
	free(((struct deny_conf *)conf)->when);
}

static int
deny_setup(struct cfg_parser *p, struct chk_policy *pol,
    struct cfg_node *const *v, void *conf)
{
	(void)pol;
	return v[0] ? cfg_string(p, v[0], "deny: when",
	    &((struct deny_conf *)conf)->when) : 0;
}

static void
deny_start(struct chk_run *run)
{
	const struct deny_conf *c = chk_conf(run);
	const char *helo = chk_req(run)->helo;

	if (c->when != NULL && helo != NULL && strcmp(helo, c->when) == 0)
		chk_done(run, CHK_FAIL, "HELO %s", helo);
	else
		chk_done(run, CHK_PASS, "fine");
}

/* allow: a pass later that subtracts and stops, for friend@x.example */
static void
allow_fire(struct chk_run *run)
{
	struct chk_result r;

	memset(&r, 0, sizeof(r));
	r.status = CHK_PASS;
	r.result = -1;
	r.reason = "on the allowlist";
	r.scored = true;
	r.score = -3;
	r.stop = true;
	chk_set_identity(run, CHK_ID_CLIENT_NAME, "friend.example");
	chk_done_res(run, &r);
}

static void
allow_start(struct chk_run *run)
{
	const struct req *req = chk_req(run);

	if (req->sender.full != NULL &&
	    strcmp(req->sender.full, "friend@x.example") == 0)
		tick(run, 20, allow_fire);
	else
		chk_done(run, CHK_NEUTRAL, "not listed");
}

/* listed: weight (its own option), {list} and {code} */
struct listed_conf {
	unsigned weight;
};

static const char *const listed_options[] = { "weight", NULL };

static void
listed_init(void *conf)
{
	((struct listed_conf *)conf)->weight = 2;
}

static void
listed_copy(void *dst, const void *src)
{
	memcpy(dst, src, sizeof(struct listed_conf));
}

static int
listed_setup(struct cfg_parser *p, struct chk_policy *pol,
    struct cfg_node *const *v, void *conf)
{
	(void)pol;
	return v[0] ? cfg_uint(p, v[0], "listed: weight", 0, 10,
	    &((struct listed_conf *)conf)->weight) : 0;
}

static void
listed_start(struct chk_run *run)
{
	const struct listed_conf *c = chk_conf(run);
	struct chk_result r;

	if (strncmp(chk_req(run)->client_addr, "192.0.2.", 8) != 0) {
		chk_done(run, CHK_NEUTRAL, "not listed");
		return;
	}
	memset(&r, 0, sizeof(r));
	r.status = CHK_FAIL;
	r.result = -1;
	r.reason = "listed";
	r.scored = true;
	r.score = (int)c->weight;
	r.vars[0] = (struct chk_var){ "list", "bl.example" };
	r.vars[1] = (struct chk_var){ "code", "127.0.0.2" };
	r.nvars = 2;
	chk_done_res(run, &r);
}

/* slow: only the deadline ends it */
static void
slow_fire(struct chk_run *run)
{
	chk_done(run, CHK_PASS, "late");
}

static void
slow_start(struct chk_run *run)
{
	tick(run, 10000, slow_fire);
}

/* stamp: a state module that answers later */
static void
stamp_fire(struct chk_run *run)
{
	const char *name = chk_identity(run, CHK_ID_CLIENT_NAME);
	int score, reject, greylist;

	chk_scores(run, &score, &reject, &greylist);
	chk_state_decide(run, &(struct chk_decision){ .say = CHK_SAY_PASS,
	    .rule = arena_printf(chk_arena(run), "stamp(score=%d,name=%s)",
		score, name ? name : "-") });
	chk_done(run, CHK_PASS, "stamped");
}

static void
stamp_start(struct chk_run *run)
{
	const char *helo = chk_req(run)->helo;

	/* HELO stall.example: longer than any deadline of these tests. */
	tick(run, helo && strcmp(helo, "stall.example") == 0 ? 10000 : 20,
	    stamp_fire);
}

static void
stamp_cancel(struct chk_run *run)
{
	untick(run);
	if (chk_timed_out(run))
		chk_state_decide(run, &(struct chk_decision){
		    .say = CHK_SAY_PASS, .rule = "stamp:late" });
}

/* gate: a PRE module */
static void
gate_fire(struct chk_run *run)
{
	const char *sender = chk_req(run)->sender.full;

	if (sender != NULL && strcmp(sender, "blocked@x.example") == 0) {
		chk_block(run, &(struct chk_decision){ .say = CHK_SAY_REFUSE,
		    .code = "554", .dsn = "5.7.1", .text = "gated",
		    .rule = "gate:blocked" });
		chk_done(run, CHK_FAIL, "blocked");
		return;
	}
	if (sender != NULL && strcmp(sender, "trusted@x.example") == 0)
		chk_set_bypass(run, CHK_BYPASS_ALWAYS, "gate:trusted");
	chk_done(run, CHK_NEUTRAL, "looked");
}

/* gate_init - its loop, for its timer; not among the counted checks */
static void *
gate_init(const struct chk_ctx *ctx)
{
	static struct proc pr;

	pr.loop = ctx->loop;
	return &pr;
}

static void
gate_start(struct chk_run *run)
{
	const char *helo = chk_req(run)->helo;

	tick(run, helo && strcmp(helo, "gatestall.example") == 0 ? 10000 : 20,
	    gate_fire);
}

static const struct chk_def deny_def = { .name = "deny", .dsn = "5.7.1",
	.text = "Go away ({reason})", .flags = CHK_F_EARLY,
	.options = deny_options, .conf_size = sizeof(struct deny_conf),
	.conf_init = deny_init, .conf_copy = deny_copy, .conf_free = deny_free,
	.setup = deny_setup };
static const struct chk_ops deny_ops = { .def = &deny_def,
	.start = deny_start };
static const struct chk_def allow_def = { .name = "allow", .dsn = "5.7.1",
	.text = "{reason}" };
static const struct chk_ops allow_ops = { .def = &allow_def, .init = init_proc,
	.deinit = deinit_proc, .start = allow_start, .cancel = untick };
static const struct chk_def listed_def = { .name = "listed", .dsn = "5.7.1",
	.text = "{client} is on {list} ({code})", .flags = CHK_F_BYPASSED,
	.options = listed_options, .conf_size = sizeof(struct listed_conf),
	.conf_init = listed_init, .conf_copy = listed_copy,
	.setup = listed_setup };
static const struct chk_ops listed_ops = { .def = &listed_def,
	.start = listed_start };
static const struct chk_def slow_def = { .name = "slow", .dsn = "5.7.1",
	.text = "{reason}", .tempfail_text = "slow could not tell" };
static const struct chk_ops slow_ops = { .def = &slow_def, .init = init_proc,
	.deinit = deinit_proc, .start = slow_start, .cancel = untick };
static const struct chk_def stamp_def = { .name = "stamp",
	.kind = CHK_KIND_STATE, .flags = CHK_F_OUR_USERS };
static const struct chk_ops stamp_ops = { .def = &stamp_def, .init = init_proc,
	.deinit = deinit_proc, .start = stamp_start, .cancel = stamp_cancel };
static const struct chk_def gate_def = { .name = "gate",
	.kind = CHK_KIND_PRE };
static const struct chk_ops gate_ops = { .def = &gate_def, .init = gate_init,
	.start = gate_start, .cancel = untick };

const struct chk_ops *const chk_registry[] = { &deny_ops, &allow_ops,
	&listed_ops, &slow_ops, &stamp_ops, &gate_ops };
const struct chk_def *const chk_defs[] = { &deny_def, &allow_def,
	&listed_def, &slow_def, &stamp_def, &gate_def };
const unsigned chk_count = 6;
const unsigned chk_registry_count = 6;

int
chk_find(const char *name)
{
	unsigned i;

	for (i = 0; i < chk_count; i++)
		if (strcmp(chk_defs[i]->name, name) == 0)
			return (int)i;
	return -1;
}

static uv_loop_t loop;

struct outcome {
	int sync;          /* pipeline_decide() returned 1 */
	int calls;
	uint64_t ms;       /* until the verdict */
	char action[400];
	char rule[120];
	char trace[300];
	int score;
	char reasons[400]; /* each report "name=reason", "; " between */
};

static void
keep(struct outcome *o, const struct verdict *v)
{
	size_t i, off = 0;

	snprintf(o->action, sizeof(o->action), "%s", v->action);
	snprintf(o->rule, sizeof(o->rule), "%s", v->rule);
	snprintf(o->trace, sizeof(o->trace), "%s", v->trace ? v->trace : "");
	o->score = v->score;
	for (i = 0; i < v->nreports && off < sizeof(o->reasons); i++)
		off += (size_t)snprintf(o->reasons + off,
		    sizeof(o->reasons) - off, "%s%s=%s", i ? "; " : "",
		    v->reports[i].name, v->reports[i].reason);
}

static void
on_done(void *arg, const struct verdict *v, const char *trace)
{
	struct outcome *o = arg;

	(void)trace;
	o->calls++;
	keep(o, v);
}

/*
 * decide - one request under policy: helo, sender, client; sasl may be
 * NULL. The pipeline's own init and fini around it, as the daemon's.
 */
static struct outcome
decide(const char *policy, const char *client, const char *helo,
    const char *sender, const char *sasl)
{
	const char *attrs[PA_COUNT] = { 0 };
	struct pipeline_env env = { .hostname = "mx.test" };
	struct outcome o = { 0 };
	struct arena *a = arena_new();
	uint64_t t0 = uv_now(&loop);
	struct pipeline *p;
	struct verdict v;
	struct why why;
	struct cfg *cfg;
	struct req req;

	cfg = cfg_parse("t.yaml", policy, strlen(policy), &why);
	if (cfg == NULL)
		fail_msg("%s", why.text);
	attrs[PA_CLIENT_ADDRESS] = client;
	attrs[PA_HELO_NAME] = helo;
	attrs[PA_SENDER] = sender;
	attrs[PA_RECIPIENT] = "u@our.example";
	attrs[PA_SASL_USERNAME] = sasl;
	attrs[PA_PROTOCOL_STATE] = "RCPT";
	assert_int_equal(req_build(&req, a, attrs, &cfg->net, NULL), 0);
	if (pipeline_decide(&loop, cfg, NULL, &req, &env, on_done, &o, &p,
	    &v) == 1) {
		o.sync = 1;
		o.calls = 1;
		keep(&o, &v);
	} else {
		while (o.calls == 0)
			uv_run(&loop, UV_RUN_ONCE);
	}
	uv_update_time(&loop);
	o.ms = uv_now(&loop) - t0;
	assert_int_equal(o.calls, 1);
	uv_run(&loop, UV_RUN_DEFAULT); /* what was cancelled closes */
	assert_int_equal(timers, 0);
	msg_fini(&env.msg);
	cfg_unref(cfg);
	arena_free(a);
	return o;
}

static int
setup(void **state)
{
	struct chk_ctx ctx = { 0 };

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	ctx.loop = &loop;
	memset(procs_made, 0, sizeof(procs_made));
	deinits = 0;
	pipeline_init(&ctx);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	pipeline_fini();
	assert_int_equal(uv_loop_close(&loop), 0);
	return 0;
}

#define ALL "checks:\n  deny: { when: bad.example }\n  allow: {}\n" \
    "  listed: {}\n  slow: {}\n  stamp: {}\n"

/* Each check with init() got its state once, and lets it go at the end. */
static void
test_pipeline_init_once_per_check(void **state)
{
	int i, inits = 0;

	(void)state;
	for (i = 0; i < 8; i++) {
		inits += procs_made[i].inits;
		if (procs_made[i].inits)
			assert_ptr_equal(procs_made[i].loop, &loop);
	}
	assert_int_equal(inits, 3); /* allow, slow, stamp */
	pipeline_fini();
	assert_int_equal(deinits, 3);
	pipeline_fini(); /* once only */
	assert_int_equal(deinits, 3);
	pipeline_init(&(struct chk_ctx){ .loop = &loop });
}

/* A certain refusal answers at once; what had not answered is cancelled. */
static void
test_pipeline_certain_refusal_answers_at_once(void **state)
{
	struct outcome o;

	(void)state;
	o = decide(ALL, "203.0.113.1", "bad.example", "a@b.example", NULL);
	assert_int_equal(o.sync, 1);
	assert_string_equal(o.action, "550 5.7.1 Go away (HELO bad.example)");
	assert_string_equal(o.rule, "check:deny");
	assert_non_null(strstr(o.trace, "slow:cancelled"));
	assert_non_null(strstr(o.reasons,
	    "slow=not needed: the verdict was certain"));
}

/*
 * An allowlist hit later stops the check still at work (its timer
 * stops), its own negative score counts, and the state module sees the
 * score and the name it verified.
 */
static void
test_pipeline_allowlist_stops_the_others(void **state)
{
	struct outcome o;

	(void)state;
	o = decide(ALL, "203.0.113.1", "good.example", "friend@x.example",
	    NULL);
	assert_int_equal(o.sync, 0);
	assert_true(o.ms < 2000);
	assert_int_equal(o.score, -3);
	assert_string_equal(o.action, "DUNNO");
	assert_string_equal(o.rule, "stamp(score=-3,name=friend.example)");
	assert_non_null(strstr(o.trace, "allow:pass"));
	assert_non_null(strstr(o.trace, "slow:cancelled"));
}

/*
 * A blocklist's own score and template variables; its own option, with a
 * profile that changes it; another check's option is refused by name.
 */
/*
 * item - trace holds head followed by milliseconds and "ms", then the end
 * or a comma: the whole of one check's entry ("listed:fail+3:0ms")
 */
static bool
item(const char *trace, const char *head)
{
	const char *p = strstr(trace, head);

	if (p == NULL)
		return false;
	p += strlen(head);
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	return strncmp(p, "ms", 2) == 0 && (p[2] == '\0' || p[2] == ',');
}

static void
test_pipeline_own_score_vars_and_options(void **state)
{
	static const char policy[] = "scores: { reject: 3 }\n"
				     "checks:\n  listed: { weight: 3 }\n"
				     "profiles:\n  light:\n"
				     "    checks: { listed: { weight: 1 } }\n"
				     "select: { stress: light }\n";
	static const char bad_option[] = "checks:\n  deny: { weight: 2 }\n";
	static const char bad_weight[] = "checks:\n  listed: { weight: 11 }\n";
	struct why why;
	struct outcome o;
	struct cfg *cfg;

	(void)state;
	o = decide(policy, "192.0.2.7", "good.example", "a@b.example", NULL);
	assert_int_equal(o.score, 3);
	assert_string_equal(o.action,
	    "550 5.7.1 192.0.2.7 is on bl.example (127.0.0.2)");
	assert_string_equal(o.rule, "score");
	assert_non_null(strstr(o.trace, "listed:fail+3:"));
	assert_true(item(o.trace, "listed:fail+3:"));
	cfg = cfg_parse("t.yaml", policy, strlen(policy), &why);
	assert_non_null(cfg);
	assert_int_equal(((const struct listed_conf *)
	    cfg->checks[chk_find("listed")].conf)->weight, 3);
	assert_int_equal(((const struct listed_conf *)
	    cfg->profiles[0].checks[chk_find("listed")].conf)->weight, 1);
	cfg_unref(cfg);
	cfg = cfg_parse("t.yaml", bad_option, strlen(bad_option), &why);
	assert_null(cfg);
	assert_non_null(strstr(why.text, "deny: weight: only the listed check "
					 "has weight"));
	cfg = cfg_parse("t.yaml", bad_weight, strlen(bad_weight), &why);
	assert_null(cfg);
	assert_non_null(strstr(why.text, "t.yaml:2:21: listed: weight: 11 is out of range (0 to 10)"));
}

/* Each check's on_tempfail: a slow list defers, passes, or is ignored. */
static void
test_pipeline_on_tempfail_per_check(void **state)
{
	struct outcome o;

	(void)state;
	o = decide("deadline: 100ms\nchecks:\n  slow: {}\n", "203.0.113.1",
	    "good.example", "a@b.example", NULL);
	assert_string_equal(o.action, "DEFER_IF_PERMIT 4.4.3 slow could not "
				      "tell");
	assert_string_equal(o.rule, "tempfail:slow");
	assert_true(o.ms >= 90 && o.ms < 2000);
	o = decide("deadline: 100ms\nchecks:\n  slow: { on_tempfail: dunno }\n",
	    "203.0.113.1", "good.example", "a@b.example", NULL);
	assert_string_equal(o.action, "DUNNO");
	assert_non_null(strstr(o.trace, "slow:tempfail:"));
	o = decide("deadline: 100ms\n"
		   "checks:\n  slow: { on_tempfail: ignore }\n",
	    "203.0.113.1", "good.example", "a@b.example", NULL);
	assert_string_equal(o.action, "DUNNO");
	assert_non_null(strstr(o.trace, "slow:tempfail(ignored)"));
	assert_true(item(o.trace, "slow:tempfail(ignored):"));
	/* The policy's default stays for the checks that do not say. */
	o = decide("deadline: 100ms\non_tempfail: dunno\n"
		   "checks:\n  slow: {}\n",
	    "203.0.113.1", "good.example", "a@b.example", NULL);
	assert_string_equal(o.action, "DUNNO");
}

/*
 * Clients that logged in go through what concerns them (stamp), not the
 * checks; a state module past the deadline is cancelled and answers as
 * it can.
 */
static void
test_pipeline_our_users_and_state_deadline(void **state)
{
	struct outcome o;

	(void)state;
	o = decide(ALL, "192.0.2.7", "bad.example", "a@b.example", "alice");
	assert_string_equal(o.action, "DUNNO");
	assert_string_equal(o.rule, "stamp(score=0,name=-)");
	assert_string_equal(o.trace, "");
	o = decide("deadline: 100ms\nchecks:\n  stamp: {}\n", "203.0.113.1",
	    "stall.example", "a@b.example", NULL);
	assert_string_equal(o.rule, "stamp:late");
	assert_true(o.ms < 2000);
}

/*
 * PRE: a module that answers later runs before any check; its block is
 * the verdict and no check runs; its whitelist entry bypasses a list's
 * score; the deadline in PRE starts no check (they could not tell).
 */
static void
test_pipeline_pre_stage(void **state)
{
	static const char policy[] = "scores: { reject: 2 }\ndeadline: 300ms\n"
				     "checks:\n  listed: {}\n  gate: {}\n";
	struct outcome o;

	(void)state;
	o = decide(policy, "192.0.2.1", "mx.example", "blocked@x.example",
	    NULL);
	assert_string_equal(o.action, "554 5.7.1 gated");
	assert_string_equal(o.rule, "gate:blocked");
	assert_string_equal(o.trace, ""); /* no check ran */
	o = decide(policy, "192.0.2.1", "mx.example", "other@x.example", NULL);
	assert_string_equal(o.rule, "score");
	o = decide(policy, "192.0.2.1", "mx.example", "trusted@x.example",
	    NULL);
	assert_string_equal(o.action, "DUNNO");
	assert_string_equal(o.rule, "gate:trusted");
	assert_int_equal(o.score, 0);
	o = decide(policy, "192.0.2.1", "gatestall.example", "other@x.example",
	    NULL);
	assert_non_null(strstr(o.reasons, "listed=no answer before the "
					  "deadline"));
	if (o.ms >= 1000)
		fail_msg("the deadline in PRE took %llu ms",
		    (unsigned long long)o.ms);
}

/*
 * A whitelisted request deferred when a scored check could not tell: a
 * score the entry bypasses must not defer either.
 */
static void
test_pipeline_whitelisted_not_deferred_by_a_scored_tempfail(void **state)
{
	static const char policy[] = "deadline: 200ms\nchecks:\n"
				     "  slow: { on_fail: { score: 1 }, "
				     "on_tempfail: defer }\n  gate: {}\n";
	struct outcome o;

	(void)state;
	o = decide(policy, "192.0.2.1", "mx.example", "trusted@x.example",
	    NULL);
	assert_string_equal(o.action, "DUNNO");
	assert_string_equal(o.rule, "gate:trusted");
	/* Without the entry the same tempfail defers. */
	o = decide(policy, "192.0.2.1", "mx.example", "other@x.example", NULL);
	assert_non_null(strstr(o.action, "DEFER_IF_PERMIT 4.4.3"));
}

/* What lets the mail through, for the recorders (outbound). */
static void
test_verdict_accepts_what_passes(void **state)
{
	static const char *const yes[] = { "OK", "DUNNO", "PREPEND X-A: b",
		"DEFER_IF_REJECT 4.7.1 later", "defer_if_reject x", "HOLD",
		"WARN x" };
	static const char *const no[] = { "REJECT no", "reject no",
		"DEFER 4.7.1 later", "DEFER_IF_PERMIT 4.7.1 Greylisted",
		"450 4.7.1 later", "554 5.7.1 no", "defer_if_permit x" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!verdict_accepts(yes[i]))
			fail_msg("%s: not accepted", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (verdict_accepts(no[i]))
			fail_msg("%s: accepted", no[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdict_accepts_what_passes),
		cmocka_unit_test_setup_teardown(
		    test_pipeline_init_once_per_check, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pipeline_certain_refusal_answers_at_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_pipeline_allowlist_stops_the_others, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pipeline_own_score_vars_and_options, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pipeline_on_tempfail_per_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_pre_stage, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_pipeline_whitelisted_not_deferred_by_a_scored_tempfail,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pipeline_our_users_and_state_deadline, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
