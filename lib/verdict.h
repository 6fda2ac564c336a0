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

struct store_handle;

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
 * What one message (Postfix's `instance`) has had on this connection:
 * the SPF result, evaluated once and reused for its other recipients,
 * and the headers owed to it. A reply carries one action, so headers are
 * queued and go out one per DUNNO reply (RCPT, then DATA) in order.
 */
#define VERDICT_MAX_HEADERS 4
#define VERDICT_HEADER_MAX  500
struct verdict_msg {
	char instance[64];       /* "": no instance, nothing is kept */
	bool spf_known;          /* SPF was evaluated for this message */
	uint64_t spf_key;        /* hash of client, sender, HELO it was for */
	int spf_status;          /* enum chk_status */
	int spf_result;          /* index into the check's results */
	char spf_reason[400];
	char spf_dsn[8];
	char spf_pool[260];      /* SPF-authorized domain, or "" */
	char headers[VERDICT_MAX_HEADERS][VERDICT_HEADER_MAX + 1];
	unsigned nheaders;       /* queued */
	unsigned sent;           /* of them, prepended */
	bool greylist_header;    /* X-Greylist was queued */
};

/* What a decision needs besides the config and the request. */
struct verdict_env {
	struct store_handle *store; /* the daemon's; NULL: no store */
	const char *hostname;  /* ours, for headers */
	int64_t now;           /* seconds since the epoch */
	struct verdict_msg msg; /* per connection: the current message */
	bool dry;              /* change no state: greylisting is not run */
	int store_rc;          /* out: a store error (STORE_*), or 0 */
	bool store_used;       /* out: the store worked for this request */
	char store_why[512];   /* out: its message */
};

/*
 * verdict_greylist - the greylisting step alone (v keeps its default).
 * pool: the verified sender identity to key on instead of the client
 * network ("spf:example.org"), or NULL.
 */
void verdict_greylist(const struct cfg *cfg, const struct req *req,
    struct verdict_env *env, const char *pool, struct verdict *v);
/* verdict_msg_begin - a request: keep the message state, or start anew */
void verdict_msg_begin(struct verdict_env *env, const struct req *req);
/* verdict_queue_header - a header owed to this message; false if full */
bool verdict_queue_header(struct verdict_env *env, const char *header);
/*
 * verdict_flush_header - turn a DUNNO reply into PREPEND of the next
 * queued header (not at END-OF-MESSAGE, where Postfix cannot prepend).
 */
void verdict_flush_header(struct verdict_env *env, const struct req *req,
    struct verdict *v);
/* verdict_log_line - the decision line, from the arena */
char *verdict_log_line(struct arena *a, const struct req *req,
    const struct verdict *v, uint64_t elapsed_us);

#endif
