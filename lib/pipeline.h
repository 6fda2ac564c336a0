/*
 * pipeline - one request's decision, in stages:
 *
 *   PRE     the access rules (a match decides at once); later, the
 *           store-backed whitelists and blocks: before any DNS question
 *   CHECKS  the enabled checks (kind CHECK), in parallel under the
 *           deadline; a certain verdict (CHK_F_EARLY, or a result with
 *           stop) ends the stage at once and cancels what is in flight
 *   STATE   the state modules (kind STATE: greylisting), when the checks
 *           did not refuse; each may finish later (a store on a network)
 *   REPLY   one owed header on a DUNNO reply; done() with the verdict
 *
 * Any stage may complete later, from a callback; the deadline and
 * pipeline_cancel() (the client left) stop whatever is in flight in any
 * stage. The pipeline keeps its own copy of the request and a reference
 * to its arena (arena_ref), so the connection may go on with its next
 * request while a stage still runs.
 *
 * Clients that logged in (sasl_username) are our own users: only checks
 * and modules flagged CHK_F_OUR_USERS run for them.
 */
#ifndef POLICYD_PIPELINE_H
#define POLICYD_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "msg.h"

struct cfg;
struct dns;
struct req;
struct store_handle;
struct verdict;

/* What a decision needs besides the config and the request. */
struct pipeline_env {
	struct store_handle *store; /* the daemon's; NULL: no store */
	const char *hostname;  /* ours, for headers */
	int64_t now;           /* seconds since the epoch */
	struct msg msg;        /* per connection: the current message */
	bool dry;              /* change no state: greylisting is not run */
	int store_rc;          /* out: a store error (STORE_*), or 0 */
	bool store_used;       /* out: the store worked for this request */
	char store_why[512];   /* out: its message */
};

struct chk_ctx;

/*
 * pipeline_init - once per daemon, with its loop, resolver and store:
 * each check's init(), for state that outlives requests; pipeline_fini()
 * lets it go (deinit)
 */
void pipeline_init(const struct chk_ctx *ctx);
void pipeline_fini(void);
/*
 * pipeline_configure - a policy file is in force (at start, after each
 * reload): each check's state follows it (configure)
 */
void pipeline_configure(const struct cfg *cfg);
struct mtext;
/* pipeline_metrics - each check's own figures (ops->metrics), into t */
void pipeline_metrics(struct mtext *t);

struct pipeline;
typedef void pipeline_done_fn(void *arg, const struct verdict *v,
    const char *trace);

/*
 * pipeline_decide - decide req under cfg->deadline_ms. Returns 1 with *v
 * filled when the verdict is certain at once, and never calls done(); or
 * returns 0, sets *pp, and calls done() exactly once later with the
 * verdict and the trace for the log ("rdns:pass:2ms ..."). dns may be
 * NULL when no check needs DNS; loop may be NULL when nothing can wait
 * (no check enabled, the store finishes at once: unit tests, the
 * fuzzer). Strings of the verdict live in req's arena; env must outlive
 * the pipeline.
 */
int pipeline_decide(uv_loop_t *loop, const struct cfg *cfg, struct dns *dns,
    const struct req *req, struct pipeline_env *env, pipeline_done_fn *done,
    void *arg, struct pipeline **pp, struct verdict *v);
/* pipeline_cancel - stop; done() will not be called */
void pipeline_cancel(struct pipeline *p);

#endif
