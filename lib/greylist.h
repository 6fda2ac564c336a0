/*
 * greylist - greylisting with an auto-whitelist, on the store.
 *
 * A triplet (client network, normalized sender, recipient) seen for the
 * first time is deferred; a retry after delay and within retry_window
 * passes and the triplet stays passed until unused for max_age. A client
 * network that passed awl_clients times (counted at most once per hour)
 * is no longer greylisted; nor is a (network, sender domain) pair after
 * awl_domains passes. Time is a parameter (now, in seconds): nothing here
 * reads a clock, so tests use a fake one.
 */
#ifndef POLICYD_GREYLIST_H
#define POLICYD_GREYLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "store.h"

struct req;
struct why;

/*
 * Greylisting's options: the greylist module's own (checks.greylist), as
 * every check's are; greylist_conf() finds them in a policy.
 */
struct gl_conf {
	int64_t delay;        /* seconds before a retry passes */
	int64_t retry_window; /* seconds a first sight waits for its retry */
	int64_t max_age;      /* seconds unused before entries expire */
	unsigned ipv4_prefix; /* client network */
	unsigned ipv6_prefix;
	unsigned awl_clients; /* passes to whitelist a network; 0: off */
	unsigned awl_domains; /* passes to whitelist network+domain; 0: off */
	bool strip_batv;      /* prvs=, msprvs1= */
	bool strip_srs;       /* SRS0, SRS1 */
	bool strip_extension; /* +extension */
	bool fold_digits;     /* digit runs become '#' */
	char *text;           /* deferral text; {seconds} is replaced */
	bool header;          /* PREPEND X-Greylist once per message */
	bool pool_spf;        /* key on the SPF-authorized sender domain */
	unsigned pool_spf_ipv4_prefix; /* ... when the passing mechanism's */
	unsigned pool_spf_ipv6_prefix; /* network is at least this narrow */
	bool pool_fcrdns;     /* key on the verified name's registered domain */
	bool defer_on_error;  /* store trouble: defer instead of DUNNO */
	bool correspondents;  /* a reply to our users' mail is not delayed */
};

/* gl_conf_defaults - the documented defaults */
void gl_conf_defaults(struct gl_conf *c);
/* gl_conf_fini - free what a config owns */
void gl_conf_fini(struct gl_conf *c);
/* gl_conf_copy - a deep copy (a profile's) */
void gl_conf_copy(struct gl_conf *dst, const struct gl_conf *src);
struct cfg;
/*
 * greylist_conf - the main policy's greylisting options (the module's
 * conf); greylist_enabled - whether the main policy greylists
 */
const struct gl_conf *greylist_conf(const struct cfg *cfg);
bool greylist_enabled(const struct cfg *cfg);

enum gl_status {
	GL_NEW,        /* first sight (or started over): defer */
	GL_EARLY,      /* retry before delay: defer */
	GL_PASS,       /* first retry after delay: pass, was delayed */
	GL_KNOWN,      /* triplet passed before: pass */
	GL_AWL_CLIENT, /* client network whitelisted */
	GL_AWL_DOMAIN, /* network + sender domain whitelisted */
	GL_SKIP,       /* not greylisted: no client address or recipient */
	GL_CORRESPONDENT, /* the recipient wrote to the sender lately */
};

struct gl_result {
	enum gl_status status;
	int64_t wait;    /* GL_NEW, GL_EARLY: seconds until a retry passes */
	int64_t delayed; /* GL_PASS: seconds the message was delayed */
};

/* The tables greylisting keeps (store.h). */
#define GL_TABLE_TRIPLET "greylist"   /* net \0 sender \0 recipient \0 */
#define GL_TABLE_CLIENT  "awl_client" /* net \0 */
#define GL_TABLE_DOMAIN  "awl_domain" /* net \0 sender domain \0 */

#define GL_KEY_MAX STORE_KEY_MAX /* longest key */

/*
 * The records one request touches. CORRESPONDENT (outbound.h: the
 * recipient's record of writing to the sender; read only, first, when
 * its key is set) makes a reply to our own users' mail pass at once.
 * NET_CLIENT and NET_TRIPLET, set only when the client part of the keys
 * is a pool: the same records keyed on the client network, read only,
 * when the pool's miss (an entry postgrey passed, imported by network,
 * or one made before the sender's SPF passed): a hit is carried over.
 */
enum gl_rec { GL_REC_CLIENT, GL_REC_DOMAIN, GL_REC_TRIPLET,
	GL_REC_CORRESPONDENT, GL_REC_NET_CLIENT, GL_REC_NET_TRIPLET,
	GL_NRECS };

/* The settings a judgement uses: copied into each operation. */
struct gl_limits {
	int64_t delay;
	int64_t retry_window;
	int64_t max_age;
	unsigned awl_clients;
	unsigned awl_domains;
};

/*
 * One greylisting operation (greylist_run()): the keys of the request's
 * records, the time, and the limits it is judged by.
 */
struct gl_op {
	char key[GL_NRECS][GL_KEY_MAX];
	size_t klen[GL_NRECS]; /* 0: no such record (the null sender has
				* no domain) */
	int64_t now;
	struct gl_limits lim;
	struct ipaddr client;  /* the client's address: kept in the triplet */
	bool dry;              /* judge, write nothing (policyctl check) */
};

/* gl_table - the table record r lives in */
const char *gl_table(enum gl_rec r);

/*
 * greylist_op - the operation for one request: false when the request
 * is not greylisted at all (no client address or no recipient: GL_SKIP).
 * pool, when not NULL, stands for the client network in every key: a
 * verified identity of the sending organization ("spf:example.org",
 * "fcrdns:example.com"), so a retry from another address of its pool is
 * the same client.
 */
bool greylist_op(const struct gl_conf *c, const struct req *req,
    const char *pool, int64_t now, struct gl_op *op);

/*
 * The judgement is the store's named transaction GL_SCRIPT (store.h),
 * the same for every backend: its keys are an operation's records in
 * enum gl_rec order (a key of no bytes: no such record), its parameters
 * the rest of the operation as bytes, its result the gl_result. Records
 * are read only as far as the judgement needs them (a whitelisted
 * client: one read).
 *   gl_judge - the transaction itself (store_script_fn), for the store's
 *              table of them;
 *   greylist_run - the store's run of op;
 *   greylist_result - a finished run's judgement: 0, or -1 for a reply
 *              that holds none (rc not 0, or not a judgement's bytes).
 */
#define GL_SCRIPT "greylist"
int gl_judge(const void *param, size_t plen, store_script_read_fn *rd,
    store_script_write_fn *wr, void *io, unsigned char *res, size_t *rlen,
    struct why *why);
int greylist_run(struct store *st, const struct gl_op *op,
    const struct store_call *c);
int greylist_result(const struct store_reply *r, struct gl_result *res);

/* Longest pool identity kept in a key (longer ones are cut, the same way). */
#define GL_POOL_MAX 220

/*
 * greylist_norm_sender - the sender as the greylist key uses it:
 * lower-case, BATV and SRS reduced to the original sender, +extension
 * removed, digit runs folded, each as configured. Returns out.
 */
char *greylist_norm_sender(const struct gl_conf *c, const char *addr,
    char *out, size_t size);

/* greylist_net - the client network text of an address ("192.0.2.0/24") */
char *greylist_net(const struct gl_conf *c, const char *client, char *out,
    size_t size);

/* Records, decoded. */
struct gl_entry {
	int64_t first;     /* first sight of this try */
	int64_t last;      /* last request */
	int64_t passed_at; /* when it first passed; 0: pending */
	uint32_t count;    /* requests seen */
	struct ipaddr client; /* a pool entry's last address (family 0: a
			       * network's entry, or an import) */
};

struct awl_entry {
	uint32_t count;     /* passes counted */
	int64_t first;
	int64_t last;       /* last pass */
	int64_t last_count; /* last time count went up */
};

#define GL_ENTRY_SIZE_V1 29 /* without the client address */
#define GL_ENTRY_SIZE    46 /* version 2: its family (4, 6) and 16 bytes */
#define AWL_ENTRY_SIZE   29

/*
 * gl_entry_encode - into p (GL_ENTRY_SIZE bytes); its length: version 2
 * with a client address, else version 1 (GL_ENTRY_SIZE_V1)
 */
size_t gl_entry_encode(const struct gl_entry *e, unsigned char *p);
int gl_entry_decode(const void *p, size_t len, struct gl_entry *e);
void awl_entry_encode(const struct awl_entry *e, unsigned char *p);
int awl_entry_decode(const void *p, size_t len, struct awl_entry *e);

/* Split a greylist key into its three parts (pointers into key). */
int gl_key_split(const void *key, size_t klen, const char **net,
    const char **sender, const char **rcpt);

/* greylist_expired - is this entry too old to count now */
bool greylist_expired(const struct gl_conf *c, const struct gl_entry *e,
    int64_t now);
/*
 * gl_entry_expires, awl_entry_expires - when the store may forget an
 * entry (the judgement would no longer count it)
 */
int64_t gl_entry_expires(const struct gl_limits *l, const struct gl_entry *e);
int64_t awl_entry_expires(const struct gl_limits *l,
    const struct awl_entry *e);
/* gl_limits - the limits of a config */
struct gl_limits gl_limits(const struct gl_conf *c);

#endif
