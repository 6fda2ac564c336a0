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
	struct chk_policy checks[CHK_MAX]; /* patterns borrowed if inherited */
	int score_reject;
	int score_greylist;
	bool greylist;               /* greylisting runs under this profile */
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
	struct gl_conf greylist;     /* checks.greylist */
	struct dns_opts dns;         /* nservers 0: /etc/resolv.conf */
	struct chk_policy checks[CHK_MAX]; /* by chk_registry index */
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
	struct cfg_context *contexts; /* policy_context -> profile */
	size_t ncontexts;
};

/* cfg_load - read and check a policy file; NULL with why set on error */
struct cfg *cfg_load(const char *path, struct why *why);
/* cfg_parse - the same from a string; path names it in messages */
struct cfg *cfg_parse(const char *path, const char *text, size_t len,
    struct why *why);
struct cfg *cfg_ref(struct cfg *cfg);
/*
 * cfg_uses_checks - some check is enabled, in the main policy or in a
 * profile: the daemon (and policyctl check) needs a resolver
 */
bool cfg_uses_checks(const struct cfg *cfg);
void cfg_unref(struct cfg *cfg);

/*
 * cfg_parse_duration - "300s", "5m", "4d", "2h", "1w", "250ms", or a bare
 * number of seconds, into milliseconds. 0, or -1 with why set.
 */
int cfg_parse_duration(const char *s, uint64_t *ms, struct why *why);
/* cfg_parse_size - "64MiB", "512KiB", "1GiB", "65536" bytes */
int cfg_parse_size(const char *s, uint64_t *bytes, struct why *why);

#endif
