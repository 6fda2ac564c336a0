/*
 * keeper - the daemon's store over its life (see keeper.h).
 *
 * States: OPEN (working), TROUBLE (open, but operations fail: a busy
 * lock, an I/O error), FULL (open, the file system has no room), CLOSED
 * (after a fatal error, or never opened: reopened from the timer). A
 * change of state is logged once, with what it means for mail (each
 * module that keeps state says: chk_store_trouble); errors within a
 * state are counted and reported at most once a minute.
 *
 * Threads: a job on libuv's thread pool (a checkpoint, or an open) uses
 * the store while the loop goes on with requests; the store is opened
 * with threads set, so that is allowed. A fatal error meanwhile takes the
 * store away from requests at once (the handle's st is NULL), but it is
 * closed only when the job is back, on the loop.
 */
#include "keeper.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "checks/chk.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "xalloc.h"

#define REPORT_MS     60000 /* errors within a state: once a minute */
/*
 * A full disk lets some commits through (room in pages and log buffers
 * Berkeley DB already has): the store counts as writing again only when
 * it worked with no error for this long.
 */
#define CALM_MS       2000
#define CHECKPOINT_MS 60000

enum kstate { K_OPEN, K_TROUBLE, K_FULL, K_CLOSED };
enum kjob { J_NONE, J_OPEN, J_CHECKPOINT, J_METRICS };

struct keeper {
	uv_loop_t *loop;
	struct cfg *cfg;
	struct store_handle handle; /* what requests see */
	bool group;          /* requests' writes wait for group_commit */
	struct store *st;    /* the open store, also while a job uses it */
	enum kstate state;
	uint64_t since;      /* uv_now() when the state began */
	uint64_t last_report; /* uv_now() of the last report in this state */
	uint64_t last_error; /* uv_now() of the last error */
	unsigned errors;     /* since that report */
	unsigned attempts;   /* reopens tried while closed */
	char last_why[512];  /* the last error logged, to log a new one */
	char action[256];    /* what mail gets meanwhile: action() */
	bool timer_on;
	uv_timer_t timer;    /* sweep, checkpoint, reopen */
	uint64_t last_checkpoint;
	/* The job on the thread pool. */
	enum kjob job;
	bool stopping;
	uv_work_t work;
	struct store_opts job_opts; /* J_OPEN: a copy, the config may go */
	char job_dir[4096];
	struct store *job_st; /* J_OPEN: what it opened */
	struct why job_healed; /* J_OPEN: what the open did to heal */
	int job_rc;
	char job_why[512];
	int64_t job_now;     /* J_METRICS: the time of its figures */
	struct mtext job_text; /* J_METRICS: the figures it made */
	struct mtext state_text; /* the last figures of the store */
	struct keeper_stats stats;
};

/* keeper_new - idle, nothing open */
struct keeper *
keeper_new(uv_loop_t *loop, struct cfg *cfg, bool group)
{
	struct keeper *k = xcalloc(1, sizeof(*k));

	k->loop = loop;
	k->group = group;
	k->cfg = cfg_ref(cfg);
	k->state = K_CLOSED;
	k->work.data = k;
	return k;
}

/* keeper_handle - the handle requests hold */
struct store_handle *
keeper_handle(struct keeper *k)
{
	return &k->handle;
}

/* keeper_set_config - a reload */
void
keeper_set_config(struct keeper *k, struct cfg *cfg)
{
	cfg_ref(cfg);
	cfg_unref(k->cfg);
	k->cfg = cfg;
}

/*
 * action - what mail gets while the store is unusable, by every module
 * that keeps state (their definitions say)
 */
static const char *
action(struct keeper *k)
{
	chk_store_trouble(k->cfg, k->action, sizeof(k->action));
	return k->action;
}

/* enter - a new state, from now */
static void
enter(struct keeper *k, enum kstate st)
{
	k->state = st;
	k->since = k->last_report = k->last_error = uv_now(k->loop);
	k->errors = 0;
}

/* close_store - no request reaches it any more; closed unless in use */
static void
close_store(struct keeper *k)
{
	k->handle.st = NULL;
	if (k->st != NULL && k->job == J_NONE) {
		k->st->ops->close(k->st);
		k->st = NULL;
	}
}

/* count - one more error in the current state; report once a minute */
static void
count(struct keeper *k, const char *why)
{
	uint64_t now = uv_now(k->loop);

	k->errors++;
	k->last_error = now;
	if (now - k->last_report < REPORT_MS)
		return;
	log_err("store: %s; %u errors in the last %llu s; meanwhile %s",
	    why, k->errors,
	    (unsigned long long)((now - k->last_report) / 1000), action(k));
	k->last_report = now;
	k->errors = 0;
}

void
keeper_group_commit(struct keeper *k)
{
	struct store *st = k->handle.st;
	struct why why;
	int rc;

	if (st == NULL || st->ops->group_commit == NULL)
		return;
	if ((rc = st->ops->group_commit(st, &why)) < 0)
		keeper_report(k, rc, why.text);
}

/* keeper_report - what the store did for a request (or the sweep) */
void
keeper_report(struct keeper *k, int rc, const char *why)
{
	const char *dir = k->cfg->state_dir;

	if (rc == 0)
		k->stats.ops++;
	else
		k->stats.errors[rc < 0 && -rc < KEEPER_ERRORS ? -rc : 1]++;
	if (rc == 0) {
		if ((k->state == K_TROUBLE || k->state == K_FULL) &&
		    uv_now(k->loop) - k->last_error >= CALM_MS) {
			log_info("store: %s: writing again after %llu s%s "
				 "(%u errors since the last report)", dir,
			    (unsigned long long)((uv_now(k->loop) - k->since) /
				1000), k->state == K_FULL ? " of a full disk"
							  : "", k->errors);
			enter(k, K_OPEN);
		}
		return;
	}
	switch (rc) {
	case STORE_EFATAL:
		if (k->state == K_CLOSED)
			return; /* a request that held the old one */
		log_err("store: %s; closing it until it is open again "
			"(reopened with recovery): meanwhile %s", why,
		    action(k));
		close_store(k);
		enter(k, K_CLOSED);
		k->attempts = 0;
		return;
	case STORE_EFULL:
		if (k->state != K_FULL && k->state != K_CLOSED) {
			log_err("store: %s: the file system is full (%s); "
				"until there is room, %s", dir, why,
			    action(k));
			enter(k, K_FULL);
			return;
		}
		count(k, why);
		return;
	default:
		if (k->state == K_OPEN) {
			log_err("store: %s; for the requests it fails, %s",
			    why, action(k));
			enter(k, K_TROUBLE);
			return;
		}
		count(k, why);
		return;
	}
}

/* opts - how the daemon opens its store */
static struct store_opts
opts(const struct keeper *k)
{
	struct store_opts o = { .dir = k->cfg->state_dir,
		.cache_bytes = k->cfg->store_cache, .sync = k->cfg->store_sync,
		.nowait = true, .threads = true, .lock = STORE_LOCK_SHARED,
		.group = k->group };

	return o;
}

/* opened - a store is open: requests may use it */
static void
opened(struct keeper *k, struct store *st)
{
	if (k->attempts > 0)
		log_info("store: %s is open again after %llu s (%u tries)",
		    k->cfg->state_dir,
		    (unsigned long long)((uv_now(k->loop) - k->since) / 1000),
		    k->attempts);
	k->st = st;
	k->handle.st = st;
	k->attempts = 0;
	k->last_why[0] = '\0';
	k->last_checkpoint = uv_now(k->loop);
	enter(k, K_OPEN);
}

/* open_failed - log the first failure, and each new reason */
static void
open_failed(struct keeper *k, int rc, const char *why)
{
	uint64_t now = uv_now(k->loop);

	if (k->state != K_CLOSED)
		enter(k, K_CLOSED);
	if (strcmp(why, k->last_why) != 0 || now - k->last_report >= REPORT_MS) {
		log_err("store: cannot open %s%s: %s; tried every %llu ms; "
			"until it opens, %s", k->cfg->state_dir,
		    rc == STORE_EFULL ? ", the file system is full" : "", why,
		    (unsigned long long)k->cfg->store_sweep_interval_ms,
		    action(k));
		snprintf(k->last_why, sizeof(k->last_why), "%s", why);
		k->last_report = now;
	}
}

/* job_run - on the thread pool: open, or checkpoint */
static void
job_run(uv_work_t *w)
{
	struct keeper *k = w->data;
	struct why why;

	why.text[0] = '\0';
	if (k->job == J_OPEN) {
		k->job_opts.healed = &k->job_healed;
		k->job_st = store_open_bdb(&k->job_opts, &k->job_rc, &why);
	} else if (k->job == J_METRICS) {
		k->job_text.len = 0;
		k->job_rc = metrics_state(k->st, k->job_now, false, &k->job_text,
		    &why);
	} else {
		k->job_rc = k->st->ops->maintain(k->st, &why);
	}
	snprintf(k->job_why, sizeof(k->job_why), "%s", why.text);
}

/* job_done - back on the loop */
static void
job_done(uv_work_t *w, int status)
{
	struct keeper *k = w->data;
	enum kjob job = k->job;

	k->job = J_NONE;
	if (job == J_OPEN) {
		if (k->job_st != NULL && (status < 0 || k->stopping)) {
			k->st = k->job_st; /* closed by keeper_free */
			return;
		}
		if (k->job_st != NULL && k->job_healed.text[0] != '\0')
			log_warn("store: %s", k->job_healed.text);
		if (k->job_st != NULL)
			opened(k, k->job_st);
		else if (status == 0)
			open_failed(k, k->job_rc, k->job_why);
		return;
	}
	/* A checkpoint, or the store's figures. */
	if (k->handle.st == NULL) {
		close_store(k); /* a fatal error came meanwhile */
		return;
	}
	if (job == J_METRICS) {
		struct mtext t = k->state_text;

		/* Losing to writers only costs this round's figures. */
		if (status == 0 && k->job_rc == 0) {
			k->state_text = k->job_text;
			k->job_text = t;
		} else if (status == 0 && k->job_rc != STORE_ERETRY) {
			keeper_report(k, k->job_rc, k->job_why);
		}
		return;
	}
	if (status == 0)
		keeper_report(k, k->job_rc, k->job_why);
}

/* job_start - hand a job to the thread pool */
static void
job_start(struct keeper *k, enum kjob job)
{
	k->job = job;
	k->job_st = NULL;
	/* The worker must not read the config: a reload may free it. */
	k->job_opts = opts(k);
	snprintf(k->job_dir, sizeof(k->job_dir), "%s", k->job_opts.dir);
	k->job_opts.dir = k->job_dir;
	if (uv_queue_work(k->loop, &k->work, job_run, job_done) < 0)
		k->job = J_NONE;
}

/* tick - reopen after trouble, sweep a batch, checkpoint */
static void
tick(uv_timer_t *t)
{
	struct keeper *k = t->data;
	uint64_t now = uv_now(k->loop);
	struct why why;
	int rc;

	if (k->job != J_NONE)
		return; /* a checkpoint or an open is under way */
	if (k->handle.st == NULL) {
		if (k->attempts++ == 0)
			log_info("store: reopening %s (recovery runs if a "
				 "process died with it open)",
			    k->cfg->state_dir);
		job_start(k, J_OPEN);
		return;
	}
	if (k->st->ops->expire != NULL) {
		uint64_t deleted = 0;

		rc = k->st->ops->expire(k->st, (int64_t)time(NULL),
		    k->cfg->store_sweep_batch, &deleted, &why);
		if (rc != 0 && rc != STORE_ERETRY) {
			keeper_report(k, rc, why.text);
			return;
		}
		if (rc == 0)
			keeper_report(k, 0, NULL);
		if (deleted > 0)
			log_info("store: expired %llu records",
			    (unsigned long long)deleted);
	}
	if (k->st->ops->maintain != NULL &&
	    now - k->last_checkpoint >= CHECKPOINT_MS) {
		k->last_checkpoint = now;
		job_start(k, J_CHECKPOINT);
	}
}

/* keeper_refresh_metrics - the store's figures again, on the pool */
void
keeper_refresh_metrics(struct keeper *k)
{
	if (k->job != J_NONE || k->handle.st == NULL || k->stopping)
		return; /* the next round asks again */
	k->job_now = (int64_t)time(NULL);
	job_start(k, J_METRICS);
}

/* keeper_get_stats - what the store did for requests */
void
keeper_get_stats(const struct keeper *k, struct keeper_stats *st)
{
	*st = k->stats;
	st->open = k->handle.st != NULL;
}

/* keeper_state_metrics - the store's last figures; NULL if none yet */
const char *
keeper_state_metrics(const struct keeper *k)
{
	return k->state_text.len > 0 ? k->state_text.p : NULL;
}

/* keeper_describe - the state for people (policyctl db state) */
void
keeper_describe(const struct keeper *k, char *out, size_t size)
{
	static const char *const names[] = { "open", "trouble", "full",
		"closed" };
	uint64_t s = (uv_now(k->loop) - k->since) / 1000;

	snprintf(out, size, "store: %s: %s for %llu s; %llu operations "
	    "worked%s%s", k->cfg->state_dir, names[k->state],
	    (unsigned long long)s, (unsigned long long)k->stats.ops,
	    k->last_why[0] ? "; last error: " : "", k->last_why);
}

/* keeper_start - the first open, on the loop thread before serving */
void
keeper_start(struct keeper *k)
{
	uint64_t every = (uint64_t)k->cfg->store_sweep_interval_ms;
	struct store_opts o = opts(k);
	struct store *st;
	struct why why, healed;
	int err;

	k->since = uv_now(k->loop);
	o.healed = &healed;
	if ((st = store_open_bdb(&o, &err, &why)) != NULL) {
		if (healed.text[0] != '\0')
			log_warn("store: %s", healed.text);
		opened(k, st);
	}
	else
		open_failed(k, err, why.text);
	uv_timer_init(k->loop, &k->timer);
	k->timer.data = k;
	k->timer_on = true;
	uv_timer_start(&k->timer, tick, every, every);
}

/* keeper_shutdown - no more timer; a job on the pool still comes back */
void
keeper_shutdown(struct keeper *k)
{
	k->stopping = true;
	if (k->job != J_NONE)
		uv_cancel((uv_req_t *)&k->work);
	if (k->timer_on) {
		uv_close((uv_handle_t *)&k->timer, NULL);
		k->timer_on = false;
	}
}

/* keeper_free - after the loop: close what is open */
void
keeper_free(struct keeper *k)
{
	if (k == NULL)
		return;
	if (k->st != NULL)
		k->st->ops->close(k->st);
	mt_free(&k->job_text);
	mt_free(&k->state_text);
	cfg_unref(k->cfg);
	free(k);
}
