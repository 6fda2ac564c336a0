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
	const char *would;  /* dry_run: what action would have been; or
			     * NULL */
	const char *rule;   /* what decided: access[name], default, ... */
	const char *trace;  /* each check: name:status:ms; NULL if none ran */
	const char *detail; /* why checks failed or could not tell (the log's
			     * "why="): the resolver's words; NULL if none */
	const char *bypass; /* a whitelist entry found but not applied, and
			     * why (the log's "bypass="); NULL if none */
	int score;          /* summed scores of failed checks */
	const struct chk_report *reports; /* each check that ran */
	size_t nreports;
};

/*
 * The precedence table: every source that can decide a request, strongest
 * first. A request's verdict is the first source that has an outcome;
 * the stages of the pipeline run in this order and stop as soon as
 * nothing after them could win. A whitelist entry whose terms SPF met
 * (VS_BYPASS) silences what its row says (bypass): never, every check
 * of the source, or only the checks and modules flagged CHK_F_BYPASSED
 * (the DNS lists, greylisting). Written once (verdict.c), tested once
 * (verdict_test.c); the pipeline only fills the rows.
 */
enum verdict_src {
	VS_ACCESS,   /* an access rule of the policy file: decides alone */
	VS_BLOCK,    /* a PRE module's block (backscatter): nothing else runs */
	VS_REJECT,   /* a failed check whose policy refuses */
	VS_SCORE,    /* the failed checks' scores reach scores.reject */
	VS_DEFER,    /* a failed check whose policy defers */
	VS_TEMPFAIL, /* a check that could not tell, and defers for it */
	VS_BYPASS,   /* a whitelist entry whose terms SPF met: accepted */
	VS_STATE,    /* a state module: greylisting's deferral or pass */
	VS_DEFAULT,  /* default_action */
	VS_COUNT
};

/* What a whitelist entry silences in a row of the table. */
enum verdict_bypass {
	VB_NEVER,   /* it stands whatever the entry */
	VB_FLAGGED, /* only what comes from checks flagged CHK_F_BYPASSED */
	VB_ALWAYS,  /* all of it (every score) */
};

struct verdict_row {
	enum verdict_src src;
	const char *name;          /* for the manual and the tests */
	enum verdict_bypass bypass;
};
/* verdict_table - the rows, in order of precedence (VS_COUNT of them) */
extern const struct verdict_row verdict_table[VS_COUNT];
/* verdict_silenced - a whitelist entry silences src (flagged: CHK_F_BYPASSED) */
bool verdict_silenced(enum verdict_src src, bool flagged);

/* What one source says. */
enum verdict_say {
	VSAY_NONE,   /* nothing: the next row decides */
	VSAY_RAW,    /* an action as the policy file wrote it (access rules,
		      * default_action) */
	VSAY_REFUSE, /* 5xx: code (550 unless given), dsn, text */
	VSAY_DEFER,  /* 4xx: code (DEFER_IF_PERMIT unless given), dsn, text */
	VSAY_PASS,   /* the mail goes on (DUNNO); rule says why */
};

struct verdict_out {
	enum verdict_say say;
	const char *code; /* "554", "450", "451", "DEFER_IF_PERMIT"; NULL:
			   * 550 for a refusal, DEFER_IF_PERMIT for a
			   * deferral */
	const char *dsn;  /* enhanced status code; a deferral's class is 4
			   * whatever the first digit given */
	const char *text; /* what the sending postmaster reads; RAW: the
			   * whole action */
	const char *rule; /* rule= in the log line */
};

/* verdict_pick - the row that decides: the first that says something */
enum verdict_src verdict_pick(const struct verdict_out out[VS_COUNT]);
/*
 * verdict_action - the reply for an outcome: "550 5.7.1 text",
 * "DEFER_IF_PERMIT 4.7.1 text", "450 4.7.1 text", "DUNNO", or a raw
 * action as written; from the arena
 */
const char *verdict_action(struct arena *a, const struct verdict_out *o);

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
