/*
 * verdict - what policyd answers for one request, why, and the one log
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
struct cfg;
struct req;

struct store;

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
	int score;          /* summed scores of failed checks */
	const struct chk_report *reports; /* each check that ran */
	size_t nreports;
};

/* What a decision needs besides the config and the request. */
struct verdict_env {
	struct store *store;   /* NULL: the store is unavailable */
	const char *hostname;  /* ours, for headers */
	int64_t now;           /* seconds since the epoch */
	char header_instance[64]; /* per connection: the message that got
				   * its X-Greylist header */
	bool dry;              /* change no state: greylisting is not run */
	int store_rc;          /* out: a store error (STORE_*), or 0 */
	char store_why[512];   /* out: its message */
};

/* verdict_greylist - the greylisting step alone (v keeps its default) */
void verdict_greylist(const struct cfg *cfg, const struct req *req,
    struct verdict_env *env, struct verdict *v);
/* verdict_log_line - the decision line, from the arena */
char *verdict_log_line(struct arena *a, const struct req *req,
    const struct verdict *v, uint64_t elapsed_us);

#endif
