/*
 * chk - the interface every check implements. The pipeline (pipeline.h)
 * runs them; checks see only this header.
 *
 * A check is two files: X_conf.c exports its `const struct chk_def`
 * (listed in defs.c), what the policy loader needs; X.c exports its
 * `const struct chk_ops` (listed in registry.c), the code that runs it.
 * The loader never reaches X.c, so it links and is fuzzed without the
 * pipeline. A check owns:
 *   - its options: the loader parses the keys every check has (enabled,
 *     on_fail or the named results, text, on_tempfail, states) and hands
 *     the check's own keys (def->options) to def->setup(), which reads
 *     them with the typed helpers of config.h into the check's conf;
 *   - its result: status, a signed score, a reason for the log, a reply
 *     text with its own template variables, an enhanced code, and the
 *     identities it verified (chk_done_res, chk_set_identity);
 *   - its handling of "could not tell" (tempfail_text, on_tempfail);
 *   - state that outlives requests (ops->init/deinit, with the loop, the
 *     resolver and the store);
 *   - its DNS questions, within the bound it declares (def->max_queries),
 *     which the pipeline owns and cancels.
 *
 * Contract of start(): report exactly once (chk_done or chk_done_res), at
 * once or later from a DNS callback; a second report is a bug (PD_PANIC).
 * The pipeline cancels the check's questions itself at the deadline, when
 * the client leaves, or when another check's result made the verdict
 * certain; cancel(), for work outside chk_query() (a timer), stops it,
 * and nothing may be reported after it. Everything a check allocates for
 * a request comes from chk_arena().
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
struct cfg_node;
struct cfg_parser;
struct dns;
struct dns_answer;
struct req;
struct store_handle;
struct store_op;
struct mtext;

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

/* What a check that could not tell does (its on_tempfail). */
enum chk_tempfail {
	CHK_TF_POLICY,  /* as the policy's on_tempfail says (the default) */
	CHK_TF_DEFER,   /* DEFER_IF_PERMIT 4.4.3 with the tempfail text */
	CHK_TF_DUNNO,   /* no deferral; the log still says it could not tell */
	CHK_TF_IGNORE,  /* as if it had nothing to say (a list that timed
			 * out is "not listed") */
};

/* The protocol states a check applies to (its states: key). */
enum {
	CHK_ST_CONNECT = 1 << 0,
	CHK_ST_HELO = 1 << 1,     /* EHLO and HELO */
	CHK_ST_MAIL = 1 << 2,
	CHK_ST_RCPT = 1 << 3,
	CHK_ST_DATA = 1 << 4,
	CHK_ST_EOM = 1 << 5,      /* END-OF-MESSAGE */
	CHK_ST_VRFY = 1 << 6,
	CHK_ST_ETRN = 1 << 7,
	CHK_ST_NONE = 1 << 8,     /* a request without protocol_state */
	CHK_ST_OTHER = 1 << 9,    /* a state we do not know by name */
	CHK_ST_ALL = (1 << 10) - 1,
};
/* chk_state_bit - the bit of a protocol_state value (never 0) */
unsigned chk_state_bit(const char *protocol_state);

/*
 * A check with several named results (spf) chooses an action per result
 * instead of one on_fail.
 */
#define CHK_MAX_RESULTS 8
struct chk_outcome {
	enum chk_action on;
	int score;       /* CHK_SCORE */
};

/*
 * What the policy file says of one check: the keys every check has. The
 * check's own options are in conf (the check's type, ops->conf_size).
 */
struct chk_policy {
	bool enabled;
	enum chk_action on_fail;
	int score;       /* CHK_SCORE */
	struct chk_outcome results[CHK_MAX_RESULTS]; /* ops->results */
	char *text;      /* refusal template: {client}, {name}, {helo},
			  * {sender}, {reason}, and the check's own vars */
	enum chk_tempfail on_tempfail;
	unsigned states; /* CHK_ST_* it runs at */
	void *conf;      /* the check's options; NULL if it has none */
};

enum chk_kind {
	CHK_KIND_CHECK, /* runs in the CHECKS stage, in parallel */
	CHK_KIND_STATE, /* runs in the STATE stage, after the verdict of
			 * the checks (greylisting) */
	CHK_KIND_PRE,   /* runs in the PRE stage, before any check, one at
			 * a time: store-backed whitelists and blocks */
};

/* Flags of a check. */
enum {
	CHK_F_DNS = 1 << 0,       /* asks DNS (needs the resolver) */
	CHK_F_OUR_USERS = 1 << 1, /* runs for clients that logged in too */
	CHK_F_EARLY = 1 << 2,     /* its rejection is certain: the verdict
				   * answers at once, the rest is cancelled */
	CHK_F_MAIN_OPTIONS = 1 << 3, /* options only in the main policy;
				      * profiles may only switch it */
	CHK_F_STORE = 1 << 4,     /* keeps state in the store: the daemon
				   * opens it */
	CHK_F_BYPASSED = 1 << 5,  /* a whitelist entry skips it (the DNS
				   * lists, greylisting); scores are skipped
				   * for every check */
	CHK_F_RECORDS = 1 << 6,   /* a STATE module that records accepted
				   * mail: it runs after an access rule
				   * accepted our users' mail too */
	CHK_F_ON_FAIL_ALL = 1 << 7, /* with named results that are all
				     * failures: on_fail sets each of them
				     * (dynamic: likely and certain) */
};

/* Where a check runs: given to init() once per daemon. */
struct chk_ctx {
	uv_loop_t *loop;           /* NULL in tests that run without one */
	struct dns *dns;           /* NULL: no resolver */
	struct store_handle *store; /* NULL: no store */
	bool transient;            /* one process per connection (--stdio
				    * under spawn): its life is no daemon's */
};

/*
 * For a check's state for the daemon's life (ops->init): a timer every
 * every_ms that never keeps a loop alive by itself, with data as its
 * handle's data; and its end: the timer closed, and owner freed once it
 * is (at once when the loop closed it already, at shutdown).
 */
void chk_timer_start(uv_loop_t *loop, uv_timer_t *t, uv_timer_cb cb,
    void *data, uint64_t every_ms);
void chk_timer_free(uv_timer_t *t, void *owner);
/* chk_store_cancel - a store operation still under way (*op), let go */
void chk_store_cancel(struct store_handle *h, struct store_op **op);

/* Roles of identities a check verified, used by later stages. */
enum chk_identity {
	CHK_ID_SPF_DOMAIN,   /* SPF passed for it, from a narrow mechanism */
	CHK_ID_CLIENT_NAME,  /* a forward-confirmed name of the client */
	CHK_ID_DYNAMIC_NAME, /* a client name judged a dial-in pool */
	CHK_ID_STATIC_NAME,  /* a client name judged static */
	CHK_ID_TRUSTED,      /* an allowlist that vouches for the client's
			      * operator (its name); it holds for the rest
			      * of the message, and PRE modules see it */
	CHK_ID_END_USER,     /* a list of end-user ranges (Spamhaus PBL)
			      * lists the client: its name */
	CHK_ID_COUNT
};

struct chk_run;

/*
 * What a check is, for the policy loader and everyone: its name, kind,
 * texts, results and options, with the functions that read and keep its
 * options. Each check's X_conf.c holds it, apart from the code that runs
 * it, so the loader links (and is fuzzed) without the pipeline.
 */
struct chk_def {
	const char *name;   /* key under checks: in policyd.yaml */
	enum chk_kind kind;
	unsigned flags;     /* CHK_F_* */
	const char *dsn;    /* enhanced status code of a refusal: 5.7.25 */
	const char *text;   /* default refusal text */
	/*
	 * What the sending postmaster reads when the check could not tell
	 * and the request is deferred (a template like text). The reason
	 * (which server said what) goes to the log only.
	 */
	const char *tempfail_text;
	unsigned states;    /* default CHK_ST_*; 0: all of them */
	/*
	 * Optional: the check's named results (NULL-terminated), their
	 * default actions, and the one a deadline means (a TEMPFAIL).
	 * Such a check ends with chk_done_result().
	 */
	const char *const *results;
	const struct chk_outcome *defaults;
	int tempfail_result;
	unsigned max_queries; /* DNS questions in the air at once; 0: 24 */
	/* on_tempfail when the policy file says none (0: the policy's) */
	enum chk_tempfail on_tempfail;
	/*
	 * Options: the check's own keys (NULL-terminated), its conf's size,
	 * defaults, deep copy (for a profile, which starts from the main
	 * policy's), free. setup() reads vals[i] for options[i] (NULL when
	 * absent) into conf with config.h's helpers, which report
	 * file:line:column; 0 or -1. It runs for the main policy and again,
	 * on a copy, for each profile that names the check.
	 */
	const char *const *options;
	size_t conf_size;
	void (*conf_init)(void *conf);
	void (*conf_copy)(void *dst, const void *src);
	void (*conf_free)(void *conf);
	int (*setup)(struct cfg_parser *p, struct chk_policy *pol,
	    struct cfg_node *const *vals, void *conf);
	/*
	 * Optional: the client is one of our own relays by the check's
	 * options (spf's secondary_mx and forwarders), whether or not the
	 * check is enabled: what such a client relays (a forged bounce
	 * among it) is never held against it (chk_our_relay).
	 */
	bool (*relay)(const void *conf, const struct ipaddr *ip);
	/*
	 * Optional, for a check that keeps state (CHK_F_STORE): what mail
	 * gets while the store is unusable, in a few words for the log
	 * ("greylisting answers defer"); NULL: nothing changes for mail.
	 */
	const char *(*store_trouble)(const void *conf);
};

/* How a check runs: its definition, and the pipeline's calls (X.c). */
struct chk_ops {
	const struct chk_def *def;
	/* Optional: state for the daemon's life (timers, self-tests). */
	void *(*init)(const struct chk_ctx *ctx);
	void (*deinit)(void *proc);
	/*
	 * Optional: the main policy's settings of the check, whenever a
	 * policy file is put in force (at start, at each reload), so that
	 * state for the daemon's life can follow it (the lists to test).
	 */
	void (*configure)(void *proc, const struct chk_policy *pol);
	/*
	 * Optional: the check's own figures for the metrics file, in the
	 * text format (metrics.h's mt_* helpers), from its state for the
	 * daemon's life; on the loop, each metrics round
	 */
	void (*metrics)(void *proc, struct mtext *t);
	void (*start)(struct chk_run *run);
	void (*cancel)(struct chk_run *run); /* NULL if nothing to stop */
	/*
	 * Optional: the deadline came before the check reported; its
	 * questions are cancelled already. It may report now what it has
	 * (the DNS lists that answered), or nothing: then it could not
	 * tell (TEMPFAIL), as a check without this does.
	 */
	void (*deadline)(struct chk_run *run);
	/*
	 * Optional: once every check of the stage reported (or the
	 * deadline passed), before the verdict, the check may revise its
	 * own result from what the others verified (chk_identity: an SPF
	 * pass for the sender, an allowlisting, an end-user range). Only
	 * for a check that reported; it reports again with chk_done*,
	 * or not at all to keep its result.
	 */
	void (*revise)(struct chk_run *run);
};

/*
 * The checks, in the order they start (cheap first): chk_defs
 * (checks/defs.c) for the loader, chk_registry (checks/registry.c) for
 * the pipeline, entry for entry (chk_registry[i]->def == chk_defs[i]).
 */
#define CHK_MAX 16
extern const struct chk_def *const chk_defs[];
extern const struct chk_ops *const chk_registry[];
extern const unsigned chk_count;          /* of chk_defs */
extern const unsigned chk_registry_count; /* the same, or a bug */
/* chk_find - the index of a check by name, or -1 */
int chk_find(const char *name);
/*
 * chk_store_trouble - what mail gets while the store is unusable, by
 * every enabled check of cfg that says (store_trouble), joined by ", "
 * into out; "nothing changes for mail" when none does
 */
void chk_store_trouble(const struct cfg *cfg, char *out, size_t size);

/* For checks: their request, resolver, arena, policy, conf and state. */
const struct req *chk_req(const struct chk_run *run);
struct dns *chk_dns(const struct chk_run *run);
struct arena *chk_arena(const struct chk_run *run);
const struct chk_policy *chk_policy(const struct chk_run *run);
const void *chk_conf(const struct chk_run *run);
const struct cfg *chk_cfg(const struct chk_run *run);
void **chk_state(struct chk_run *run);
void *chk_proc(const struct chk_run *run);  /* what init() returned */
const char *chk_hostname(const struct chk_run *run); /* ours */
int64_t chk_now(const struct chk_run *run);          /* seconds */

/* A template variable of the check's own ({list}, {code}, {url}). */
struct chk_var {
	const char *name;  /* "list": {list} in the text */
	const char *value;
};
#define CHK_MAX_VARS 6

/*
 * The result of a check. reason: for the log and {reason} (from the
 * arena or static); detail: for the log only (the resolver's words);
 * text: a reply text instead of the policy's template (NULL: the
 * template); scored: score counts instead of the policy's score (signed:
 * an allowlist subtracts); refuse: with scored, a refusal of its own (a
 * list the policy marks reject) whatever the score, unless on_fail is
 * log; code: the SMTP code of such a refusal ("554"; NULL: 550); stop:
 * the verdict is certain now (an allowlist hit, a certain listing), the
 * other checks are cancelled.
 */
struct chk_result {
	enum chk_status status;
	int result;          /* index into ops->results, or -1 */
	const char *reason;
	const char *detail;
	const char *text;
	const char *dsn;     /* a code other than ops->dsn, or NULL */
	bool scored;
	int score;
	bool refuse;
	const char *code;
	bool stop;
	const char *note;    /* for the trace: chk_set_note */
	struct chk_var vars[CHK_MAX_VARS];
	unsigned nvars;
};

/* chk_done_res - the check's result (copied; strings must outlive it) */
void chk_done_res(struct chk_run *run, const struct chk_result *res);
/* chk_done - a result with status and reason only */
void chk_done(struct chk_run *run, enum chk_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * chk_done_result - for checks with named results: the status and the
 * index into ops->results whose action the policy file chose.
 */
void chk_done_result(struct chk_run *run, enum chk_status st, int result,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/*
 * chk_set_note - a few words for the trace after the result
 * ("dynamic:likely(3 octets of the client address)"); formatted into the
 * arena, at most 80 characters, commas become semicolons, quotes go
 */
void chk_set_note(struct chk_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* chk_set_dsn - a refusal code other than the check's own (5.7.27) */
void chk_set_dsn(struct chk_run *run, const char *dsn);
/*
 * chk_set_detail - what the log should say besides the reason, never in a
 * reply: the resolver's own words ("SERVFAIL from 127.0.0.1:53") for a
 * check whose reason is its reply text (spf). Formatted into the arena.
 */
void chk_set_detail(struct chk_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * chk_set_identity - an identity the check verified, by role, for the
 * later stages (greylisting keys on the SPF domain or the verified
 * name). The string must live in the request's arena.
 */
void chk_set_identity(struct chk_run *run, enum chk_identity role,
    const char *value);

/*
 * The message memo: what a check keeps for the rest of the message
 * (Postfix's instance) on this connection, such as spf's result for the
 * message's other recipients. chk_memo() returns the check's own block
 * of size bytes (at most CHK_MEMO_MAX), zeroed when a new message
 * begins; NULL when the request has no instance.
 */
#define CHK_MEMO_MAX 1024
void *chk_memo(struct chk_run *run, size_t size);
/* chk_queue_header - a header owed to the message; false if full */
bool chk_queue_header(struct chk_run *run, const char *header);

typedef void chk_dns_fn(struct chk_run *run, const struct dns_answer *a,
    void *arg);
/*
 * chk_query - ask DNS for the check; cb runs later, once, unless the
 * pipeline cancels the check (deadline, client gone, a certain verdict)
 * or the check cancels the question (chk_query_cancel). 0 (and *qp, if
 * qp is not NULL, for that), or <0 (no resolver, not a domain name) and
 * no callback. More than ops->max_queries questions in the air at once
 * is a bug of the check: PD_PANIC.
 */
struct chk_query;
int chk_query(struct chk_run *run, const char *name, uint16_t type,
    chk_dns_fn *cb, void *arg, struct chk_query **qp);
/* chk_query_cancel - cb will not be called; q is gone */
void chk_query_cancel(struct chk_query *q);
/* chk_pending - questions of this check still in the air */
unsigned chk_pending(const struct chk_run *run);
#define CHK_DEFAULT_QUERIES 24

/*
 * chk_join - ask a set of questions, look at each answer, decide when
 * enough are in (fcrdns, helo_dns, sender). judge() sees each answer and
 * returns true when it has decided (it reported); when every question is
 * answered without that, settle() reports from the counts. Questions
 * asked with chk_join_ask() count; the join lives in the arena.
 */
struct chk_join {
	unsigned asked, answered;
	unsigned found;     /* answers with records */
	unsigned nx;        /* NXDOMAIN */
	unsigned trouble;   /* TEMPFAIL or BAD */
	const char *why;    /* the first trouble: "NAME TYPE: why" */
	bool (*judge)(struct chk_run *run, struct chk_join *j,
	    const struct dns_answer *a, void *arg);
	void (*settle)(struct chk_run *run, struct chk_join *j);
	void *arg;
};
/* chk_join_new - a join with its judge and settle functions */
struct chk_join *chk_join_new(struct chk_run *run,
    bool (*judge)(struct chk_run *, struct chk_join *,
	const struct dns_answer *, void *),
    void (*settle)(struct chk_run *, struct chk_join *), void *arg);
/* chk_join_ask - one more question of the join; 0, or <0 (not asked) */
int chk_join_ask(struct chk_run *run, struct chk_join *j, const char *name,
    uint16_t type);

/*
 * SPF's verdict for the sender (the MAIL FROM domain, or the HELO name
 * for the null sender), by type: whitelist entries and correspondents
 * are judged on it. CHK_SPF_UNKNOWN: no SPF verdict (the check is off,
 * did not run at this state, or was cut by the deadline).
 */
enum chk_spf {
	CHK_SPF_UNKNOWN,
	CHK_SPF_PASS,
	CHK_SPF_FAIL,
	CHK_SPF_SOFTFAIL,
	CHK_SPF_NEUTRAL,
	CHK_SPF_NONE,
	CHK_SPF_TEMPERROR,
	CHK_SPF_PERMERROR,
	CHK_SPF_COUNT
};
/* chk_set_spf - the spf check's verdict; the first one stays */
void chk_set_spf(struct chk_run *run, enum chk_spf spf);
/* chk_spf - SPF's verdict so far (STATE modules: the checks' final one) */
enum chk_spf chk_spf(const struct chk_run *run);
/* chk_spf_name - "pass", "softfail", ..., "unknown" */
const char *chk_spf_name(enum chk_spf spf);

/*
 * What a PRE or STATE module decides, typed: the pipeline builds the
 * reply (the code, the enhanced code, the refusal link) and weighs it
 * against every other source by one precedence table (verdict.h).
 */
enum chk_say {
	CHK_SAY_REFUSE, /* 5xx */
	CHK_SAY_DEFER,  /* 4xx */
	CHK_SAY_PASS,   /* the mail goes on; the rule says why */
};
struct chk_decision {
	enum chk_say say;
	const char *code; /* "554", "450"; NULL: 550 for a refusal,
			   * DEFER_IF_PERMIT for a deferral */
	const char *dsn;  /* enhanced status code ("5.7.1"); a deferral
			   * turns it into class 4 */
	const char *text; /* for the sending postmaster; from the arena */
	const char *rule; /* the log's rule=; from the arena or static */
};

/*
 * For state modules (kind STATE), which run after the checks decided not
 * to refuse: whether the verdict so far lets the mail through, their own
 * decision (a deferral, or a pass with its rule), what the checks
 * verified, the scores and thresholds of the policy in force, the
 * daemon's store, and whether state may change at all (policyctl check
 * runs dry). Store trouble is reported for the daemon's keeper.
 */
bool chk_accepted(const struct chk_run *run);
/* chk_state_decide - the module's outcome (copied; strings must outlive
 * the request); may be called from cancel() at the deadline */
void chk_state_decide(struct chk_run *run, const struct chk_decision *d);
const char *chk_identity(const struct chk_run *run, enum chk_identity role);
void chk_scores(const struct chk_run *run, int *score, int *reject,
    int *greylist);
struct store_handle *chk_store(const struct chk_run *run);
bool chk_dry(const struct chk_run *run);
void chk_store_report(struct chk_run *run, int rc, const char *why);
/*
 * chk_our_user - the request comes from our own users (logged in, from
 * local_networks, or with one of local_contexts)
 */
bool chk_our_user(const struct chk_run *run);
/*
 * chk_our_relay - the client is one of our own relays: in
 * local_networks, or named by a check's options (ops->relay: spf's
 * secondary_mx and forwarders)
 */
bool chk_our_relay(const struct chk_run *run);
/*
 * For PRE modules, which return a typed outcome: nothing (report only),
 * a block, or a bypass.
 *
 * chk_block - the request is blocked (refused or deferred): nothing else
 * runs; only the policy file's access rules come before it.
 *
 * chk_set_bypass - a whitelist entry for the request: once the checks
 * are in, if SPF's verdict meets terms (chk_bypass_met), the sources the
 * precedence table marks bypassable do not count (the checks and modules
 * flagged CHK_F_BYPASSED, every score); why names the entry for the log
 * ("whitelist:alice@our.example<-@partner.example"). An entry whose
 * terms are not met is named in the log line (bypass=) with the reason.
 */
enum chk_bypass {
	CHK_BYPASS_NONE,
	CHK_BYPASS_ALWAYS,          /* require_spf: no (forgeable) */
	CHK_BYPASS_UNLESS_SPF_FAIL, /* require_spf: not-fail (forgeable) */
	CHK_BYPASS_IF_SPF_PASS,     /* require_spf: pass */
};
void chk_block(struct chk_run *run, const struct chk_decision *d);
void chk_set_bypass(struct chk_run *run, enum chk_bypass terms,
    const char *why);
/* chk_bypass_met - SPF's verdict meets terms (the one table of it) */
bool chk_bypass_met(enum chk_bypass terms, enum chk_spf spf);
/* chk_time_left_ms - of the request's deadline (a store's budget); >= 1 */
uint64_t chk_time_left_ms(const struct chk_run *run);
/*
 * chk_timed_out - inside cancel(): the deadline came (the run may still
 * set the verdict it stands for), not the client leaving
 */
bool chk_timed_out(const struct chk_run *run);

/*
 * chk_is_fqdn - a fully qualified domain name by RFC 1123/5321 syntax:
 * at least two labels of letters, digits and inner hyphens (63 at most
 * each, 253 in all), a final dot allowed, a top-level label not all digits.
 */
bool chk_is_fqdn(const char *s);
/* chk_local_ok - an RFC 5321 local part (dot-string or quoted-string) */
bool chk_local_ok(const char *s);

#endif
