/*
 * metrics - the daemon's figures in the Prometheus text exposition
 * format (version 0.0.4), for node_exporter's textfile collector and
 * policyctl stats --prometheus:
 *
 *   # HELP policyd_decisions_total Answers by action class and rule.
 *   # TYPE policyd_decisions_total counter
 *   policyd_decisions_total{action="reject",rule="check:rdns"} 12
 *
 * struct metrics counts what requests did (decisions, checks, latency);
 * metrics_state() adds what the store holds (records per table,
 * backscatter blocks, each DNS list's state), for the daemon (from a
 * worker thread) and policyctl alike. Label values are escaped as the
 * format says (\\, \", \n); series of names an administrator or a
 * stranger chose are bounded in number (the rest counted as "other").
 */
#ifndef POLICYD_METRICS_H
#define POLICYD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct verdict;
struct why;

/* A growing text. */
struct mtext {
	char *p;
	size_t len, cap;
};

void mt_free(struct mtext *t);
/* mt_add_text - append text as it is */
void mt_add_text(struct mtext *t, const char *s);
/* mt_family - "# HELP" and "# TYPE" of one metric family */
void mt_family(struct mtext *t, const char *name, const char *type,
    const char *help);
/* mt_one - a family of one sample without labels */
void mt_one(struct mtext *t, const char *name, const char *type,
    const char *help, double value);
/*
 * mt_sample - one sample: name, nl label pairs (labels[2*i] the name,
 * labels[2*i+1] the value, escaped here), the value
 */
void mt_sample(struct mtext *t, const char *name, const char *const *labels,
    size_t nl, double value);
/*
 * A histogram: counts per bucket (not cumulative) of n upper bounds, and
 * the sum; mt_histogram writes the family, its buckets, +Inf, sum and
 * count. mt_hist_add counts one value.
 */
struct mt_hist {
	const double *bounds;
	size_t n;
	uint64_t *counts;  /* n of them */
	uint64_t count;
	double sum;
};
void mt_hist_add(struct mt_hist *h, double v);
void mt_histogram(struct mtext *t, const char *name, const char *help,
    const struct mt_hist *h);

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);
/* metrics_decision - one answer: its action class, rule, checks, time */
void metrics_decision(struct metrics *m, const struct verdict *v,
    uint64_t elapsed_us);
/* metrics_malformed - a request that was not a valid policy request */
void metrics_malformed(struct metrics *m);
/*
 * metrics_abandoned - a request whose connection broke before its
 * answer (not in the decisions)
 */
void metrics_abandoned(struct metrics *m);
/*
 * metrics_dry_run - dry_run answered DUNNO for an answer of class
 * ("reject", "defer"); on, whether dry_run is on now
 */
void metrics_dry_run(struct metrics *m, const char *class);
void metrics_set_dry_run(struct metrics *m, bool on);
/* metrics_action_class - accept, reject or defer */
const char *metrics_action_class(const char *action);
/* metrics_write - the request figures, appended to t */
void metrics_write(const struct metrics *m, struct mtext *t);

/*
 * metrics_state - records per table, backscatter clients blocked at now,
 * and with lists each DNS list's state and counts as the store keeps
 * them (policyctl offline; the daemon's dnsbl module gives its own from
 * memory), appended to t; for a store that finishes every operation at
 * once (Berkeley DB). 0, or <0 with why.
 */
int metrics_state(struct store *st, int64_t now, bool lists,
    struct mtext *t, struct why *why);
struct bl_rec;
/* metrics_lists - the DNS lists' families for n states */
void metrics_lists(struct mtext *t, const struct bl_rec *lists, size_t n);

#endif
