/*
 * keeper - the daemon's store over its life: the first open, the expiry
 * sweep, checkpoints, closing after a fatal error and reopening (with
 * recovery) until it works, and one log line per change of state (full,
 * fatal, reopening, open again, writing again). Requests hold the
 * keeper's struct store_handle, which lives as long as the keeper, and
 * report back what the store did for them.
 *
 * Nothing here stalls the loop for long: checkpoints and reopens run on
 * libuv's thread pool (the store is opened for use from two threads);
 * the sweep works in small batches from a timer on the loop.
 */
#ifndef POLICYD_KEEPER_H
#define POLICYD_KEEPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct cfg;
struct keeper;
struct store_handle;

/*
 * keeper_new - a keeper of cfg's store (it takes a reference); group:
 * requests' writes wait for keeper_group_commit (the daemon; not a
 * --stdio process, one of many sharing the store: store_opts.group)
 */
struct keeper *keeper_new(uv_loop_t *loop, struct cfg *cfg, bool group);
/*
 * keeper_start - open the store now (the daemon is not serving yet) and
 * start the timer; a store that cannot be opened is logged and tried
 * again from the timer
 */
void keeper_start(struct keeper *k);
/*
 * keeper_group_commit - the requests' store writes of this loop turn
 * made durable (store.h's group_commit), before their replies; an error
 * is reported as keeper_report does
 */
void keeper_group_commit(struct keeper *k);
/* keeper_handle - the handle requests hold */
struct store_handle *keeper_handle(struct keeper *k);
/* keeper_set_config - the policy in force: the sweep's settings, and
 * what mail gets while the store is unusable */
void keeper_set_config(struct keeper *k, struct cfg *cfg);
/*
 * keeper_report - what the store did for a request: 0 (it worked) or a
 * STORE_* error with its message
 */
void keeper_report(struct keeper *k, int rc, const char *why);
/* What the store did for requests, since the start. */
#define KEEPER_ERRORS 7 /* STORE_ERROR (-1) .. STORE_ETIMEOUT (-6) */
struct keeper_stats {
	uint64_t ops;         /* reported as worked */
	uint64_t errors[KEEPER_ERRORS]; /* [-rc]: by store_error_name(rc) */
	bool open;            /* requests can use the store now */
};
void keeper_get_stats(const struct keeper *k, struct keeper_stats *st);
/*
 * keeper_refresh_metrics - remake the store's figures (records per
 * table, backscatter blocks, DNS lists' states) on the thread pool, unless
 * another job (an open, a checkpoint) is under way; the exporter asks
 * every metrics.interval
 */
void keeper_refresh_metrics(struct keeper *k);
/*
 * keeper_state_metrics - those figures in the Prometheus text format, as
 * the last refresh made them; NULL if none yet
 */
const char *keeper_state_metrics(const struct keeper *k);
/* keeper_describe - the store's state for people, into out */
void keeper_describe(const struct keeper *k, char *out, size_t size);
/* keeper_shutdown - stop the timer; work on the thread pool finishes */
void keeper_shutdown(struct keeper *k);
/* keeper_free - after the loop ended: close the store */
void keeper_free(struct keeper *k);

#endif
