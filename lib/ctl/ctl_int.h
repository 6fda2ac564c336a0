/*
 * ctl_int - what the command families (the files of lib/ctl/) share: the job, its
 * output, its steps, and a walk of a table in batches.
 *
 * A step is a function the job runs from the loop; it ends by starting a
 * store operation (whose completion runs the next step), by naming the
 * next step (ctl_then: run after the loop has had its turn), or by
 * finishing the job. A job never calls back into its sink's done() from
 * ctl_job_start().
 */
#ifndef POLICYD_CTL_INT_H
#define POLICYD_CTL_INT_H

#include <stdarg.h>

#include "ctl.h"
#include "store.h"

#define CTL_BATCH 100 /* records per store operation: short lock holds */

typedef void ctl_step_fn(struct ctl_job *j);
typedef int ctl_run_fn(struct ctl_job *j, int argc, char **argv);
typedef void ctl_input_fn(struct ctl_job *j, const char *line, size_t len,
    bool eof);

struct ctl_job {
	struct ctl_host *host;
	struct cfg *cfg;          /* a reference, for the job's life */
	struct ctl_sink sink;
	const struct ctl_cmd *cmd;
	int64_t now;
	int argc;
	char **argv;              /* a copy */
	char line[2][CTL_TEXT_MAX + 1]; /* a line being written, per stream */
	size_t llen[2];
	bool finished, cancelled, running, waiting_room;
	int status;
	ctl_step_fn *next;        /* to run from the loop */
	/*
	 * The next step: from an idle handle when it is due at once (it
	 * runs once per loop turn, after the loop polled for I/O; a timer
	 * of 0 ms started in its own callback would run again in the same
	 * turn, and a walk would starve every connection), from the timer
	 * after a delay.
	 */
	uv_idle_t idle;
	uv_timer_t timer;
	uint64_t delay_ms;        /* before next runs */
	struct store_op *op;      /* under way */
	struct store_call call;
	struct store_reply reply;
	ctl_step_fn *after;       /* when the operation is done */
	/* A walk of a table (ctl_walk). */
	struct {
		const char *table;
		struct store_cursor cur;
		store_match_fn *match;
		store_row_fn *row;    /* NULL: delete (flush) */
		void *arg;
		uint64_t n;
		unsigned retries;
		ctl_step_fn *then;
	} walk;
	/* Work on the thread pool (ctl_work). */
	uv_work_t work;
	bool working;
	ctl_step_fn *work_fn, *work_done;
	ctl_input_fn *on_input;
	/* The command's own. */
	void *state;
	void (*free_state)(void *state);
};

/* ctl_out, ctl_err - text to a stream; a \n ends a line */
void ctl_out(struct ctl_job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ctl_err(struct ctl_job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * ctl_text - n bytes of text to a stream as they are, however long (a
 * format goes through a buffer of CTL_TEXT_MAX); a \n ends a line
 */
void ctl_text(struct ctl_job *j, enum ctl_stream s, const char *text,
    size_t n);
/* ctl_json_str - a JSON string literal of s, to standard output */
void ctl_json_str(struct ctl_job *j, const char *s);
/* ctl_iso - a time for people and JSON ("-" for 0) */
const char *ctl_iso(int64_t t, char *buf, size_t size);
/*
 * ctl_usage_error, ctl_fail - "policyctl: message" on standard error and
 * the job ends with 2 (a bad argument) or 1 (it failed). They return -1,
 * for a command's run().
 */
int ctl_usage_error(struct ctl_job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int ctl_fail(struct ctl_job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* ctl_finish - the job ends with status */
void ctl_finish(struct ctl_job *j, int status);
/* ctl_then - fn runs next, from the loop, after delay_ms */
void ctl_then(struct ctl_job *j, ctl_step_fn *fn, uint64_t delay_ms);
/*
 * ctl_store - the store now, or NULL: the job has failed ("not open
 * now")
 */
struct store *ctl_store(struct ctl_job *j);
/*
 * ctl_call - a store call whose reply lands in j->reply, and then runs
 * after; the operation's return goes to ctl_settle()
 */
const struct store_call *ctl_call(struct ctl_job *j, ctl_step_fn *after);
void ctl_settle(struct ctl_job *j, int rc);
/*
 * ctl_walk - a whole table, CTL_BATCH records per operation, the loop
 * going on between them: row() for each record match() takes (match
 * NULL: all), or with row NULL deleting them; j->walk.n counts them;
 * then runs after the last batch. A store error fails the job.
 */
void ctl_walk(struct ctl_job *j, const char *table, store_match_fn *match,
    store_row_fn *row, void *arg, ctl_step_fn *then);
/*
 * ctl_work - fn on the thread pool (it may use the store: it is opened
 * for two threads), then done on the loop; a cancel waits for it
 */
void ctl_work(struct ctl_job *j, ctl_step_fn *fn, ctl_step_fn *done);
/*
 * ctl_getopt - getopt_long over a command's words (argv[0] its verb),
 * from the start; unknown options are the command's to report
 */
struct option;
int ctl_getopt(int argc, char **argv, const struct option *opts);
/*
 * ctl_bad_option - what getopt stopped at (ch: what it returned): an
 * option without its value, or an unknown one
 */
int ctl_bad_option(struct ctl_job *j, int ch, char **argv);

/* The families: run(j, argc, argv), argv[0] the verb. */
ctl_run_fn ctl_greylist, ctl_awl, ctl_backscatter, ctl_whitelist,
    ctl_outbound, ctl_stats, ctl_check, ctl_db, ctl_reload;

#endif
