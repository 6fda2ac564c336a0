/*
 * dnsbl_int - what the three parts of the DNS lists check share:
 *
 *   dnsbl_conf.c   the options: the lists, their filters and error codes
 *                  (pure: no loop, no resolver; the loader runs it)
 *   dnsbl_lists.c  each list's state for the daemon's life, per family
 *                  of questions: self-tests, back-off, the circuit
 *                  breaker, made and dropped only by a configuration and
 *                  changed only by the judging side's reports; time is a
 *                  parameter, questions go through an asker (a unit test
 *                  drives it on a fake clock)
 *   dnsbl.c        the check: a request's questions, their judging, the
 *                  result; it reads the states and reports what it saw
 */
#ifndef POLICYD_CHECKS_DNSBL_INT_H
#define POLICYD_CHECKS_DNSBL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "chk.h"
#include "dnsbl_rec.h"

#define BL_MAX_LISTS   16
#define BL_MAX_FILTERS 16
#define BL_MAX_ITEMS   6  /* names one domain list asks about */
#define BL_LABEL_MAX   80
#define BL_TXT_MAX     120 /* of a list's TXT reason, in a reply */
#define BL_WINDOW_MAX  1024 /* the breaker's window, in lookups */

/* The names a domain list asks about. */
enum {
	BL_N_SENDER_REG = 1 << 0,
	BL_N_SENDER_FULL = 1 << 1,
	BL_N_HELO_REG = 1 << 2,
	BL_N_HELO_FULL = 1 << 3,
	BL_N_CLIENT_REG = 1 << 4,
	BL_N_CLIENT_FULL = 1 << 5,
};

/*
 * A return-code filter: per octet the values it takes (a bitmap), or a
 * mask of which any bit set matches (in 127.0.0.0/8).
 */
struct bl_filter {
	bool is_mask;
	bool test_ok;  /* an error code that the list's test point answers */
	uint8_t mask[4];
	uint8_t bits[4][32];
	int weight;
	char *label;
	unsigned marks;  /* BL_M_*: what a match says besides its weight */
};

/* Marks of a filter, for the other checks (identities). */
enum {
	BL_M_HIGH_TRUST = 1 << 0, /* an allowlisting that vouches for the
				   * client's operator (DNSWL's .3):
				   * backscatter treats it as a shared
				   * platform (CHK_ID_TRUSTED) */
	BL_M_END_USER = 1 << 1,   /* a listing of end-user ranges (PBL):
				   * evidence for the dynamic checks
				   * (CHK_ID_END_USER) */
};

struct bl_list {
	char *zone;       /* as asked: key.zone; never shown */
	char *name;       /* for replies, logs and policyctl */
	bool domain;      /* a domain list (RHSBL) */
	bool v4, v6;      /* ip lists: the families it holds */
	unsigned names;   /* domain lists: BL_N_* */
	struct bl_filter filters[BL_MAX_FILTERS];
	unsigned nfilters; /* 0: any code in 127.0.0.0/8 lists */
	struct bl_filter errors[BL_MAX_FILTERS]; /* label: what it means */
	unsigned nerrors;
	int weight;       /* without filters, or a filter's default */
	bool reject;      /* a listing refuses, whatever the score */
	bool decisive;    /* an allowlisting answers at once */
	bool txt;         /* ask TXT for the reason */
	bool self_test;
	struct ipaddr test6; /* the IPv6 test point that is listed (RFC
			      * 5782: ::ffff:127.0.0.2; DNSWL: ::2); the
			      * one that is not ends in 1 instead */
	bool enabled;     /* false: kept in the file, never asked */
	char *url;        /* removal URL: {item}, {code} */
	unsigned states;  /* CHK_ST_*; 0: the check's */
};

/* The check's options, shared by the profiles (reference counted). */
struct bl_set {
	int refs;
	struct bl_list lists[BL_MAX_LISTS];
	unsigned n;
	uint64_t test_every_ms; /* self-tests; 0: never */
	uint64_t backoff_ms;    /* first skip after failures */
	unsigned failures;      /* in a row before skipping */
	uint64_t stats_every_ms; /* counts written to the store */
	unsigned breaker_percent; /* listed in this share of ... */
	unsigned breaker_lookups; /* ... the last this many: suspended;
				   * 0: no breaker */
};

struct dnsbl_conf {
	struct bl_set *set;
};

/* dnsbl_conf.c */
extern const char *const dnsbl__options[];
struct bl_set *dnsbl__set_new(void);
void dnsbl__set_unref(struct bl_set *s);
void dnsbl__conf_init(void *conf);
void dnsbl__conf_copy(void *dst, const void *src);
void dnsbl__conf_free(void *conf);
int dnsbl__setup(struct cfg_parser *p, struct chk_policy *pol,
    struct cfg_node *const *v, void *conf);
/* dnsbl__filter_match - an answer's address taken by f */
bool dnsbl__filter_match(const struct bl_filter *f, const uint8_t a[4]);
/*
 * dnsbl__error_code - the meaning of an error code of the list, or
 * NULL; at a test point, the codes its test entry answers (DNSWL's
 * 127.0.10.x) are none
 */
const char *dnsbl__error_code(const struct bl_list *l, const uint8_t a[4],
    bool test_point);

/* dnsbl_lists.c: a list's state, per family of questions. */
enum bl_fam {
	BL_FAM_V4,   /* an ip list asked about IPv4 clients */
	BL_FAM_V6,   /* ... about IPv6 clients */
	BL_FAM_NAME, /* a domain list */
};

enum bl_st {
	BL_UNTESTED, /* used; no self-test has finished yet */
	BL_OK,
	BL_DISABLED, /* a self-test failed: the list is dead or lists all */
	BL_UNUSABLE, /* it answers error codes (or bogus answers) to us */
	BL_BACKOFF,  /* it kept failing: skipped for a while */
	BL_SUSPENDED, /* it listed nearly every client lately: skipped
		       * until its self-test passes (the breaker) */
};

/* What the judging side saw of one lookup. */
enum bl_outcome {
	BL_O_LISTED,     /* an answer that lists (or allowlists) */
	BL_O_CLEAN,      /* an answer that does not */
	BL_O_TROUBLE,    /* no answer: timeout, SERVFAIL */
	BL_O_UNUSABLE,   /* an error code, or an answer outside 127/8 */
	BL_O_SKIPPED,    /* not asked: the state said so */
};

/* A self-test answer, as the asker hands it over. */
struct bl_probe_answer {
	bool trouble;    /* no answer (timeout, SERVFAIL, malformed) */
	unsigned n;      /* A records (IPv4), at most 8 kept */
	uint8_t a[8][4];
};

/*
 * What the lists need from outside. ask: a self-test question (name, A)
 * that the cache must not answer; 0 and a later bl_lists_probed(token)
 * call unless cancelled, or <0 and none. cancel: a question asked.
 * write: a state's record for policyctl and --stdio processes (key: the
 * list's name, "/ipv6" added for an ip list's IPv6 side; value as
 * lib/dnsbl_rec.h encodes it), written in one batch per call of flush.
 */
struct bl_lists_io {
	int (*ask)(void *arg, const char *name, void *token, void **handle);
	void (*cancel)(void *arg, void *handle);
	void (*write)(void *arg, const char *key, const char *value,
	    bool last);
	void *arg;
};

struct bl_lists;
struct bl_lstate;

/*
 * bl_lists_new - no state yet; transient: a --stdio process, which asks
 * no self-test and takes its states from the daemon's (bl_lists_adopt)
 */
struct bl_lists *bl_lists_new(const struct bl_lists_io *io, bool transient);
/* bl_lists_free - every state, and its questions cancelled */
void bl_lists_free(struct bl_lists *ls);
/*
 * bl_lists_configure - the lists in force (set NULL: none): a state for
 * each enabled list and family, kept when it was there, dropped when no
 * list in force has it; the new ones are self-tested at once
 */
void bl_lists_configure(struct bl_lists *ls, const struct bl_set *set,
    uint64_t now_ms, int64_t wall);
/* bl_lists_tick - self-tests due, back-offs over, records written */
void bl_lists_tick(struct bl_lists *ls, uint64_t now_ms, int64_t wall);
/* bl_lists_probed - a self-test answer (token from io->ask) */
void bl_lists_probed(struct bl_lists *ls, void *token,
    const struct bl_probe_answer *a, uint64_t now_ms, int64_t wall);
/*
 * bl_lists_find - the state of list l's family in force, or NULL (a list
 * a reload dropped, asked by a request that began before it: no state
 * is made again for it). Borrowed until the next configure.
 */
struct bl_lstate *bl_lists_find(struct bl_lists *ls, const struct bl_list *l,
    enum bl_fam fam);
/*
 * bl_lstate_usable - may a request ask it now; else a few words why
 * ("disabled: failed its self-test")
 */
bool bl_lstate_usable(const struct bl_lstate *s, uint64_t now_ms,
    char *why, size_t size);
/* bl_lists_report - what a request saw of one lookup of s */
void bl_lists_report(struct bl_lists *ls, struct bl_lstate *s,
    enum bl_outcome o, const char *why, uint64_t now_ms, int64_t wall);
/* bl_lists_adopt - a daemon's record of a state (transient processes) */
void bl_lists_adopt(struct bl_lists *ls, const char *key, const void *val,
    size_t vlen);
/* bl_lists_recs - each state as a record (up to max) into out; how many */
size_t bl_lists_recs(const struct bl_lists *ls, struct bl_rec *out,
    size_t max);
/* bl_lists_each - fn on each state in force: its key, state and why */
void bl_lists_each(const struct bl_lists *ls,
    void (*fn)(void *arg, const char *key, enum bl_st st, const char *why),
    void *arg);

#endif
