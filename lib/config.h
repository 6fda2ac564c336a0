/*
 * config - the YAML policy file, loaded into an immutable, reference-
 * counted struct cfg. Every mistake is reported as "file:line:column:
 * message" and the whole file is refused: a daemon keeps the config it has.
 *
 * Ownership: cfg_load() returns one reference; cfg_ref() adds one and
 * cfg_unref() drops one, freeing the config with the last. A connection
 * holds a reference for as long as it answers with that config, so a
 * reload never pulls a config from under a request in flight.
 */
#ifndef POLICYD_CONFIG_H
#define POLICYD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "checks/chk.h"
#include "addr.h"
#include "dns.h"
#include "greylist.h"
#include "request.h"
#include "store.h"

struct why;

/* The biggest policy file we read. */
#define CFG_MAX_FILE (1024 * 1024)
/* The deepest nesting of lists and mappings we read. */
#define CFG_MAX_DEPTH 16

enum cfg_listen_kind { CFG_LISTEN_INET, CFG_LISTEN_UNIX };

struct cfg_listen {
	enum cfg_listen_kind kind;
	char *host;   /* inet: address literal */
	unsigned port; /* inet: 0 picks a free port */
	char *path;   /* unix: socket path */
	int mode;     /* unix: permission bits, -1 to leave as created */
	char *group;  /* unix: group name, or NULL */
};

/* A named set of check policies and thresholds (stress, policy_context). */
struct cfg_profile {
	char *name;
	struct chk_policy checks[CHK_MAX]; /* copies of the main policy's */
	int score_reject;
	int score_greylist;
};

struct cfg_context {
	char *context;               /* policy_context value */
	int profile;                 /* index into profiles */
};

struct cfg {
	int refs;
	char *path;                  /* the file it came from */
	struct cfg_listen *listen;   /* at least one */
	size_t nlisten;
	struct cidr *allow;          /* TCP clients that may ask */
	size_t nallow;
	char *state_dir;
	unsigned max_connections;    /* open at once; past it: closed */
	uint64_t idle_timeout_ms;    /* close a connection idle this long */
	uint64_t shutdown_timeout_ms; /* SIGTERM: longest wait for requests */
	uint64_t deadline_ms;        /* per request */
	struct req_opts net;         /* client network prefixes */
	char *default_action;        /* when no rule decides */
	char *error_action;          /* malformed request: the safe answer */
	struct access_rule *access;  /* in file order; the first match wins */
	size_t naccess;
	char *hostname;              /* our name in headers; NULL: the host's */
	uint64_t store_cache;        /* bytes of Berkeley DB cache */
	enum store_sync store_sync;
	uint64_t store_sweep_interval_ms; /* the expiry sweep's period */
	unsigned store_sweep_batch;  /* records per table per sweep */
	bool store_sweep_given;      /* store.sweep_*: greylist's old keys
				      * give way */
	struct dns_opts dns;         /* nservers 0: /etc/resolv.conf */
	struct chk_policy checks[CHK_MAX]; /* by chk_defs index */
	int score_reject;            /* reject at this score; 0: never */
	int score_greylist;          /* greylist at or above; 0: everyone */
	bool tempfail_defer;         /* on_tempfail: defer (else dunno) */
	char **my_names;             /* ours: a HELO with them is forged */
	size_t nmy_names;
	struct ipaddr *my_addresses;
	size_t nmy_addresses;
	struct cfg_profile *profiles; /* besides the main policy */
	size_t nprofiles;
	int stress_profile;          /* for stress=yes; -1: the main policy */
	struct cidr *local_nets;     /* local_networks: our own users' */
	size_t nlocal_nets;
	char **local_contexts;       /* policy_context values of our users */
	size_t nlocal_contexts;
	struct cfg_context *contexts; /* policy_context -> profile */
	size_t ncontexts;
	/* metrics: the Prometheus text file, rewritten every interval */
	bool metrics_enabled;
	char *metrics_file;          /* NULL: cfg_metrics_file's default */
	uint64_t metrics_interval_ms;
	int metrics_mode;            /* the file's mode, whatever the umask */
	/*
	 * dry_run: every refusal and deferral is answered DUNNO, and the log
	 * line says what it would have been (would=); state is kept as
	 * usual (a watched week: greylisting learns the senders)
	 */
	bool dry_run;
	/* refusal_url: where a refused sender's postmaster reads what to
	 * fix (doc/refused.md published); NULL: no link in replies */
	char *refusal_url;
	/* control: the socket policyctl and other tools talk to */
	char *control_socket;        /* NULL: the default (cfg_control_socket) */
	int control_mode;            /* permission bits */
	char *control_group;         /* NULL: the daemon's own group */
	unsigned control_max_connections;
	uint64_t control_idle_timeout_ms; /* a client that sends no request */
};

/*
 * cfg_control_socket - the control socket in force (into out): the
 * file's control.socket, else /run/policyd/control.sock for the default
 * state directory and STATE_DIR/control.sock for another (an instance of
 * its own, such as a test or "make run", gets a socket of its own)
 */
#define CFG_CONTROL_SOCKET "/run/policyd/control.sock"
#define CFG_METRICS_FILE "/run/policyd/metrics.prom"
void cfg_control_socket(const struct cfg *cfg, char *out, size_t size);

/*
 * cfg_metrics_file - the metrics file in force (into out): metrics.file,
 * else CFG_METRICS_FILE for the default state directory (the runtime
 * directory others may read: the state directory is the daemon's
 * alone), else STATE_DIR/metrics.prom
 */
void cfg_metrics_file(const struct cfg *cfg, char *out, size_t size);

/*
 * cfg_our_user - the request comes from our own users: logged in
 * (sasl_username), from local_networks, or with one of local_contexts
 */
bool cfg_our_user(const struct cfg *cfg, const struct req *req);
/*
 * cfg_our_user_why - why the request is our own users' (the decision
 * line's rule): "local:sasl", "local:network", "local:context"; NULL if
 * it is not
 */
const char *cfg_our_user_why(const struct cfg *cfg, const struct req *req);

/*
 * cfg_set_key_observer - for the manual's test (t/doc): fn is called for
 * each mapping the loader checks, with its place (1-based line and
 * column) and the keys it accepts there; NULL: none
 */
typedef void cfg_key_observer_fn(unsigned line, unsigned column,
    const char *const keys[], size_t nkeys);
void cfg_set_key_observer(cfg_key_observer_fn *fn);
/* cfg_load - read and check a policy file; NULL with why set on error */
struct cfg *cfg_load(const char *path, struct why *why);
/* cfg_parse - the same from a string; path names it in messages */
struct cfg *cfg_parse(const char *path, const char *text, size_t len,
    struct why *why);
struct cfg *cfg_ref(struct cfg *cfg);
/*
 * cfg_needs_dns - a check that asks DNS (CHK_F_DNS) is enabled, in the
 * main policy or in a profile: the daemon (and policyctl check) needs a
 * resolver
 */
bool cfg_needs_dns(const struct cfg *cfg);
/*
 * cfg_needs_store - greylisting, or a check that keeps state in the store
 * (CHK_F_STORE), is enabled: the daemon opens the store
 */
bool cfg_needs_store(const struct cfg *cfg);
void cfg_unref(struct cfg *cfg);

/*
 * For the checks' setup(): the file being read and its values. Each
 * helper reads one value (what names it in messages: "spf: header") and
 * returns 0, or -1 with the message "file:line:column: what: why" kept
 * for the loader, which refuses the whole file.
 */
struct cfg_parser;
struct cfg_node;
/* cfg_fail - the message at n (NULL: the check's mapping) */
int cfg_fail(struct cfg_parser *p, const struct cfg_node *n,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* cfg_parser_cfg - the config being built (for a module's settings) */
struct cfg *cfg_parser_cfg(struct cfg_parser *p);
/* cfg_scalar - the text of a value; NULL (with the message) otherwise */
const char *cfg_scalar(struct cfg_parser *p, const struct cfg_node *n,
    const char *what);
int cfg_bool(struct cfg_parser *p, const struct cfg_node *n,
    const char *what, bool *out);
int cfg_uint(struct cfg_parser *p, const struct cfg_node *n,
    const char *what, unsigned long min, unsigned long max, unsigned *out);
/* cfg_int - a signed whole number within [min, max] (a weight: -5) */
int cfg_int(struct cfg_parser *p, const struct cfg_node *n,
    const char *what, long min, long max, int *out);
/* cfg_duration - in milliseconds, within [min, max] */
int cfg_duration(struct cfg_parser *p, const struct cfg_node *n,
    const char *what, uint64_t min, uint64_t max, uint64_t *ms);
/* cfg_seconds - a duration in whole seconds, within [min, max] */
int cfg_seconds(struct cfg_parser *p, const struct cfg_node *n,
    const char *what, int64_t min, int64_t max, int64_t *out);
/* cfg_string - a non-empty string (replaces *out, malloc'ed) */
int cfg_string(struct cfg_parser *p, const struct cfg_node *n,
    const char *what, char **out);
/* cfg_defer - "defer" (true) or "dunno" (false); suffix ends a message */
int cfg_defer(struct cfg_parser *p, const struct cfg_node *n,
    const char *what, const char *suffix, bool *defer);
/* cfg_choice - one of names (NULL-terminated): its index */
int cfg_choice(struct cfg_parser *p, const struct cfg_node *n,
    const char *what, const char *const names[], int *out);
/* cfg_nets - a network or a list of them (replaces *v, malloc'ed) */
int cfg_nets(struct cfg_parser *p, const struct cfg_node *n,
    const char *what, struct cidr **v, size_t *nv);
/* cfg_action - a Postfix action (replaces *out) */
int cfg_action(struct cfg_parser *p, const struct cfg_node *n,
    const char *what, char **out);
/* cfg_strings - a value or a list of them (appended to *v, malloc'ed) */
int cfg_strings(struct cfg_parser *p, const struct cfg_node *n,
    const char *what, char ***v, size_t *nv);
/*
 * cfg_map - a mapping whose keys are all in keys[] (NULL-terminated):
 * vals[i] the value of keys[i], NULL when absent
 */
int cfg_map(struct cfg_parser *p, const struct cfg_node *n,
    const char *what, const char *const keys[], struct cfg_node *vals[]);
/*
 * cfg_map_n - cfg_map where only the first accepted keys are the
 * mapping's own; the rest are known to say why they do not apply here
 */
int cfg_map_n(struct cfg_parser *p, const struct cfg_node *n,
    const char *what, const char *const keys[], size_t accepted,
    struct cfg_node *vals[]);
/* cfg_each - fn on each item of a list (or on a lone value) */
int cfg_each(struct cfg_parser *p, const struct cfg_node *n,
    const char *what,
    int (*fn)(struct cfg_parser *, struct cfg_node *, void *), void *arg);
/* cfg_path - a file named in the policy: beside it when relative */
void cfg_path(struct cfg_parser *p, const char *name, char *out,
    size_t size);

/*
 * cfg_parse_duration - "300s", "5m", "4d", "2h", "1w", "250ms", or a bare
 * number of seconds, into milliseconds. 0, or -1 with why set.
 */
int cfg_parse_duration(const char *s, uint64_t *ms, struct why *why);
/* cfg_parse_size - "64MiB", "512KiB", "1GiB", "65536" bytes */
int cfg_parse_size(const char *s, uint64_t *bytes, struct why *why);

#endif
