/*
 * spf - SPF (RFC 7208): the record parser (section 4.6 and 12) and the
 * macro expander (section 7), both pure (spf_parse.c), and the evaluator,
 * check_host() on the resolver (spf.c).
 */
#ifndef POLICYD_SPF_H
#define POLICYD_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct arena;
struct why;

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

enum spf_mech {
	SPF_ALL,
	SPF_INCLUDE,
	SPF_A,
	SPF_MX,
	SPF_PTR,
	SPF_IP4,
	SPF_IP6,
	SPF_EXISTS,
};

/* Bound on terms in one record; past it the record is a permerror. */
#define SPF_MAX_TERMS 256
/* Longest expansion of a macro string (a TXT string for exp may be long). */
#define SPF_MAX_EXPAND 1024

struct spf_term {
	enum spf_mech mech;
	char qualifier;      /* '+', '-', '~', '?' */
	const char *domain;  /* domain-spec (unexpanded), or NULL */
	int cidr4, cidr6;    /* a, mx: -1 when not given */
	struct cidr net;     /* ip4, ip6 */
};

struct spf_record {
	struct spf_term *terms;  /* directives, in order */
	size_t nterms;
	const char *redirect;    /* domain-spec, or NULL */
	const char *exp;         /* domain-spec, or NULL */
};

/*
 * spf_is_record - the TXT string is an SPF record: "v=spf1" alone or
 * followed by a space (case-insensitive).
 */
bool spf_is_record(const char *txt, size_t len);

/*
 * spf_parse - parse a record into rec (strings from the arena). 0, or -1
 * with why set: a syntax error, which makes the result a permerror.
 */
int spf_parse(struct arena *a, const char *txt, struct spf_record *rec,
    struct why *why);

/* What macros expand to. */
struct spf_macro_ctx {
	const char *sender;   /* s: the full mailbox (postmaster@helo if <>) */
	const char *domain;   /* d: the current domain */
	const struct ipaddr *ip; /* i, c, v */
	const char *helo;     /* h */
	const char *ptr;      /* p: the validated name, or NULL: "unknown" */
	const char *receiver; /* r (exp only): our host name */
	int64_t now;          /* t (exp only) */
};

/*
 * spf_expand - expand a macro-string into out (size bytes). exp: the
 * explanation context, where c, r and t are allowed and the result is
 * text; otherwise a domain name, shortened from the left to 253 octets
 * (section 7.3). 0, or -1 with why (a permerror).
 */
int spf_expand(const char *ms, const struct spf_macro_ctx *ctx, bool exp,
    char *out, size_t size, struct why *why);

/* The evaluator: check_host() of section 4, on the resolver. */
struct dns;
struct dns_answer;
struct spf_check;

/*
 * How the evaluator asks DNS: the resolver itself (spf_resolver_dns), or
 * a check's own questions, which its pipeline owns and may cancel. ask()
 * returns 0 and calls done(arg, answer) once, later, unless cancelled
 * (*h is for cancel), or <0 and never calls it.
 */
struct spf_resolver {
	int (*ask)(void *ctx, const char *name, uint16_t type,
	    void (*done)(void *arg, const struct dns_answer *a), void *arg,
	    void **h);
	void (*cancel)(void *ctx, void *h);
	void *ctx;
};
/* spf_resolver_dns - ask the resolver dns directly (tools and tests) */
void spf_resolver_dns(struct spf_resolver *r, struct dns *dns);

/* Limits of section 4.6.4. */
#define SPF_MAX_DNS_TERMS 10 /* include, a, mx, ptr, exists, redirect */
#define SPF_MAX_VOID      2  /* lookups that found nothing */
#define SPF_MAX_NAMES     10 /* MX or PTR names looked at per term */
#define SPF_MAX_DEPTH     12 /* include/redirect nesting (loops) */

/*
 * The mechanism that decided: how wide a net the domain cast. For a pass
 * from ip4/ip6 the network's prefix, from a/mx the CIDR length (32 or
 * 128 without one), from ptr a host (32/128, the name was validated);
 * all and exists match whatever the domain's owner wants: prefix 0.
 * Inside an include, the included record's mechanism.
 */
struct spf_match {
	bool set;                 /* a term matched */
	enum spf_mech mech;
	unsigned prefix;          /* bits, for the client's family */
};

struct spf_params {
	const struct ipaddr *ip;  /* the client */
	const char *sender;       /* MAIL FROM, or postmaster@helo for <> */
	const char *domain;       /* the domain to check (sender's or HELO) */
	const char *helo;
	const char *receiver;     /* our name, for %{r} */
	int64_t now;              /* for %{t} */
	struct spf_match *match;  /* out, or NULL: set before done() */
};

/*
 * spf_done_fn - the result; explanation is set for fail (the domain's
 * exp=, or NULL), why says how it came about. Both borrowed until it
 * returns.
 */
typedef void spf_done_fn(void *arg, enum spf_result r,
    const char *explanation, const char *why);

/*
 * spf_check - evaluate, asking through res (copied). 0: done() is called
 * once, later; *cp is for spf_cancel() until then. 1: decided at once (a
 * domain that cannot be checked is none), *now_result set, no call. <0:
 * no question could be asked, no call.
 */
int spf_check(const struct spf_resolver *res, const struct spf_params *p,
    spf_done_fn *done, void *arg, struct spf_check **cp,
    enum spf_result *now_result);
/* spf_cancel - stop; done() will not be called */
void spf_cancel(struct spf_check *c);

/* spf_result_name - "pass", "fail", ... as in Received-SPF */
const char *spf_result_name(enum spf_result r);

#endif
