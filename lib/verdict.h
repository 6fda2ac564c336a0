/*
 * verdict - what policyd answers for one request and why, and the one log
 * line per decision (key=value, like Postfix's own logging):
 *
 *   decision action="REJECT no thanks" rule=access[spammers]
 *     client=192.0.2.7 client_name=unknown helo=x.example
 *     sender=<a@b.example> rcpt=<c@d.example> queue_id=8045F2AB23 us=41
 *
 * Values a stranger controls are escaped (text_safe); a value with a
 * blank, a quote or nothing in it is quoted.
 */
#ifndef POLICYD_VERDICT_H
#define POLICYD_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct req;

/* One check's part in a decision (for policyctl check). */
struct chk_report {
	const char *name;
	const char *status;  /* pass, fail, neutral, tempfail */
	const char *on_fail; /* reject, defer, score, log */
	int score;           /* counted: a failed scored check */
	uint64_t ms;
	const char *reason;
};

struct verdict {
	const char *action; /* reply text after "action=" */
	const char *rule;   /* what decided: access[name], default, ... */
	const char *trace;  /* each check: name:status:ms; NULL if none ran */
	const char *detail; /* why checks failed or could not tell (the log's
			     * "why="): the resolver's words; NULL if none */
	int score;          /* summed scores of failed checks */
	const struct chk_report *reports; /* each check that ran */
	size_t nreports;
};

/*
 * verdict_accepts - an action that lets the mail through (OK, DUNNO,
 * DEFER_IF_REJECT), not a refusal or a deferral (4xx, 5xx, REJECT,
 * DEFER, DEFER_IF_PERMIT)
 */
bool verdict_accepts(const char *action);

/*
 * verdict_refusal_anchor - the section of doc/refused.md that explains a
 * refusal or deferral decided by rule (check:rdns -> "rdns", greylist:new
 * -> "greylist"); NULL for the policy's own access rules and what is no
 * refusal. Every anchor of the table in verdict.c has its section in
 * doc/refused.md and refused.de.md (t/doc checks).
 */
const char *verdict_refusal_anchor(const char *rule);
/*
 * verdict_with_url - action with " (see BASE#ANCHOR)" appended when base
 * is set, the action refuses or defers and its rule has an anchor; the
 * action itself otherwise (or if the reply would pass 512 bytes)
 */
const char *verdict_with_url(struct arena *a, const char *action,
    const char *rule, const char *base);

/* verdict_log_line - the decision line, from the arena */
char *verdict_log_line(struct arena *a, const struct req *req,
    const struct verdict *v, uint64_t elapsed_us);

#endif
