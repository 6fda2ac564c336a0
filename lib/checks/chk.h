/*
 * chk - the interface every check implements, and the pipeline that runs
 * them for one request.
 *
 * A check is one file exporting one `const struct chk_ops`, listed in
 * registry.c. The pipeline starts every enabled check of a request (cheap
 * ones finish at once, DNS ones run in parallel), waits for all of them
 * or for the request's deadline, and combines the results into one
 * verdict; checks never see the socket or each other.
 *
 * Contract of start(): call chk_done() exactly once, at once or later from
 * a DNS callback (a second call is a bug: PD_PANIC). The pipeline owns
 * the questions asked through chk_query() and cancels them itself at the
 * deadline or when the client leaves; cancel(), for a check that works
 * outside chk_query() (spf's evaluator), stops that work, and chk_done()
 * must not be called after it. Everything a check allocates for a
 * request comes from chk_arena().
 */
#ifndef POLICYD_CHK_H
#define POLICYD_CHK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "addr.h"

struct arena;
struct cfg;
struct dyn_patterns;
struct dns;
struct req;
struct store;
struct verdict;
struct verdict_env;

enum chk_status {
	CHK_NEUTRAL,  /* nothing to say (or not applicable) */
	CHK_PASS,     /* the identity is established */
	CHK_FAIL,     /* the identity is wrong or missing */
	CHK_TEMPFAIL, /* could not tell: DNS trouble, deadline */
};

/* What a failing check does, from the policy file. */
enum chk_action {
	CHK_REJECT, /* 5xx with the check's text */
	CHK_DEFER,  /* 4xx with the check's text */
	CHK_SCORE,  /* add score; thresholds decide */
	CHK_LOG,    /* dry run: only the log line */
};

/*
 * A check with several named results (spf) chooses an action per result
 * instead of one on_fail.
 */
#define CHK_MAX_RESULTS 8
struct chk_outcome {
	enum chk_action on;
	int score;       /* CHK_SCORE */
};

/* Which SPF result header a message gets. */
enum chk_header {
	CHK_HDR_NONE,
	CHK_HDR_RECEIVED_SPF,   /* RFC 7208 section 9.1 */
	CHK_HDR_AUTH_RESULTS,   /* RFC 8601 */
};

struct chk_policy {
	bool enabled;
	enum chk_action on_fail;
	int score;       /* CHK_SCORE */
	struct chk_outcome results[CHK_MAX_RESULTS]; /* ops->results */
	char *text;      /* refusal template; {client}, {name}, {helo},
			  * {sender}, {reason} are replaced */
	bool strict;     /* helo_dns: resolves to the client / is its name */
	struct dyn_patterns *patterns; /* dynamic, dynamic_helo */
	bool patterns_borrowed;  /* a profile's copy of the main policy's */
	/* spf */
	bool helo_first;         /* HELO identity first (RFC 7208 2.3) */
	enum chk_header header;  /* result header, once per message */
	struct cidr *forwarders; /* clients that skip SPF (owned) */
	size_t nforwarders;
	struct cidr *secondary_mx; /* our backup MX hosts: skip SPF (owned) */
	size_t nsecondary_mx;
};

struct chk_run;

struct chk_ops {
	const char *name;   /* key under checks: in policyd.yaml */
	const char *dsn;    /* enhanced status code of a refusal: 5.7.25 */
	const char *text;   /* default refusal text */
	void (*start)(struct chk_run *run);
	void (*cancel)(struct chk_run *run); /* NULL if never asynchronous */
	/*
	 * Optional: the check's named results (NULL-terminated), their
	 * default actions, and the one a deadline means (a TEMPFAIL).
	 * Such a check ends with chk_done_result().
	 */
	const char *const *results;
	const struct chk_outcome *defaults;
	int tempfail_result;
	/*
	 * Optional: what the sending postmaster reads when the check could
	 * not tell and the request is deferred (a template like text). The
	 * check's reason (which server said what) goes to the log only.
	 */
	const char *tempfail_text;
};

/* The checks, in the order they run (cheap first). */
#define CHK_MAX 12
extern const struct chk_ops *const chk_registry[];
extern const unsigned chk_count;
/* chk_find - the index of a check by name, or -1 */
int chk_find(const char *name);

/* For checks: their request, resolver, arena, policy and own state. */
const struct req *chk_req(const struct chk_run *run);
struct dns *chk_dns(const struct chk_run *run);
struct arena *chk_arena(const struct chk_run *run);
const struct chk_policy *chk_policy(const struct chk_run *run);
const struct cfg *chk_cfg(const struct chk_run *run);
void **chk_state(struct chk_run *run);
/* chk_done - the check's result; reason is formatted into the arena */
void chk_done(struct chk_run *run, enum chk_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * chk_done_result - for checks with named results: the status and the
 * index into ops->results whose action the policy file chose.
 */
void chk_done_result(struct chk_run *run, enum chk_status st, int result,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/*
 * chk_set_detail - what the log should say besides the reason, never in a
 * reply: the resolver's own words ("SERVFAIL from 127.0.0.1:53") for a
 * check whose reason is its reply text (spf). Formatted into the arena.
 */
void chk_set_detail(struct chk_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* chk_set_dsn - a refusal code other than the check's own (5.7.27) */
void chk_set_dsn(struct chk_run *run, const char *dsn);
/*
 * chk_set_pool - a verified identity greylisting may key on instead of
 * the client network: the SPF-authorized domain (spf), the verified
 * client name (fcrdns). The string must live in the request's arena.
 */
void chk_set_pool(struct chk_run *run, const char *identity);
/* chk_env - the connection's decision state (message memo, headers) */
struct verdict_env *chk_env(const struct chk_run *run);

struct dns_answer;
typedef void chk_dns_fn(struct chk_run *run, const struct dns_answer *a,
    void *arg);
/*
 * chk_query - ask DNS for the check; cb runs later, once, unless the
 * pipeline cancels the check (deadline, client gone): the pipeline keeps
 * the questions and cancels them itself. 0, or <0 (no resolver, not a
 * domain name) and no callback. More than CHK_MAX_QUERIES questions in
 * the air at once is a bug of the check: PD_PANIC.
 */
int chk_query(struct chk_run *run, const char *name, uint16_t type,
    chk_dns_fn *cb, void *arg);
/* chk_pending - questions of this check still in the air */
unsigned chk_pending(const struct chk_run *run);
#define CHK_MAX_QUERIES 24

/*
 * chk_is_fqdn - a fully qualified domain name by RFC 1123/5321 syntax:
 * at least two labels of letters, digits and inner hyphens (63 at most
 * each, 253 in all), a final dot allowed, a top-level label not all digits.
 */
bool chk_is_fqdn(const char *s);
/* chk_local_ok - an RFC 5321 local part (dot-string or quoted-string) */
bool chk_local_ok(const char *s);

/* The pipeline: one per request. */
struct pipeline;
typedef void pipeline_done_fn(void *arg, const struct verdict *v,
    const char *trace);

/*
 * pipeline_decide - decide req: access rules, then the enabled checks,
 * then greylisting, under cfg->deadline_ms. Returns 1 with *v (and the
 * trace) filled when the verdict is certain at once, and never calls
 * done(); or returns 0, sets *pp, and calls done() exactly once later
 * with the verdict and a trace for the log ("rdns:pass:2ms ..."). dns may
 * be NULL when no DNS check is enabled; loop may be NULL when no check is
 * enabled at all (the decision is then always at once: access rules and
 * greylisting, as in unit tests and the fuzzer). Strings live in req's
 * arena.
 */
int pipeline_decide(uv_loop_t *loop, const struct cfg *cfg, struct dns *dns,
    const struct req *req, struct verdict_env *env, pipeline_done_fn *done,
    void *arg, struct pipeline **pp, struct verdict *v);
/* pipeline_cancel - stop; done() will not be called */
void pipeline_cancel(struct pipeline *p);

#endif
