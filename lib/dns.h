/*
 * dns - asynchronous stub resolver used by the checks, on the libuv loop
 * given to dns_new(). ldns builds and parses the packets; UDP with EDNS0
 * (1232 bytes), TCP when an answer is truncated; a per-try timeout,
 * retries across the nameservers, an overall limit. Every try uses a new
 * socket (a random source port from the kernel) and a random query ID; an
 * answer counts only if it comes from the server asked and its ID,
 * question name (case-insensitively), type and class match.
 *
 * Identical questions in flight share one query on the wire; at most
 * max_inflight queries (and so sockets) are out at once, the rest wait. Answers are
 * cached for their TTL clamped to [min_ttl, max_ttl]; NXDOMAIN and NODATA
 * for the SOA's negative TTL (RFC 2308), at most neg_max_ttl; the cache
 * holds at most cache_size answers and drops the least recently used.
 *
 * Callbacks: never before dns_query() returns (a cached answer is handed
 * over on a later loop turn), never if it fails, never after dns_cancel().
 * Ownership: the answer passed to a callback is borrowed until it returns.
 */
#ifndef POLICYD_DNS_H
#define POLICYD_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "addr.h"

struct why;

enum dns_status {
	DNS_OK,       /* records of the asked type */
	DNS_NXDOMAIN, /* the name does not exist */
	DNS_NODATA,   /* the name exists, but not with this type */
	DNS_TEMPFAIL, /* timeout, SERVFAIL, REFUSED, network error */
	DNS_BAD,      /* only malformed answers came back */
};

/* Record types we ask for (the numbers are DNS's). */
enum {
	DNS_T_A = 1,
	DNS_T_NS = 2,
	DNS_T_CNAME = 5,
	DNS_T_SOA = 6,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_SPF = 99,
};

/* Bounds. */
#define DNS_MAX_SERVERS 8
#define DNS_MAX_RECORDS 256 /* records of one answer kept; the rest dropped */
#define DNS_MAX_CNAMES  8   /* CNAME hops followed inside one answer */
#define DNS_UDP_SIZE    1232 /* EDNS0 buffer we announce */
#define DNS_MAX_NAME    253

struct dns_rr {
	uint16_t type;
	uint32_t ttl;
	uint16_t pref;       /* MX preference */
	struct ipaddr addr;  /* A, AAAA */
	char *text;          /* PTR, CNAME, NS, MX: lower-case name without
			      * the final dot; TXT, SPF: the strings joined */
	size_t len;          /* bytes of text (TXT may hold any byte) */
};

struct dns_answer {
	enum dns_status status;
	uint16_t type;
	const char *name;         /* as asked: lower-case, no final dot */
	uint32_t ttl;             /* seconds, as cached */
	size_t n;                 /* records of the asked type */
	const struct dns_rr *rr;
	const char *why;          /* TEMPFAIL, BAD: what went wrong */
	/*
	 * TEMPFAIL, BAD: the trouble is our resolver's, not the name's:
	 * every try met a nameserver that is unreachable, refuses us or
	 * sends garbage, or no nameserver has answered anything lately
	 * (dns_down). A timeout or SERVFAIL for one name is the name's.
	 */
	bool ours;
};

typedef void dns_done_fn(void *arg, const struct dns_answer *ans);

struct dns_server {
	struct sockaddr_storage sa;
	char name[64];              /* "127.0.0.1:53", for messages */
};

struct dns_opts {
	struct dns_server servers[DNS_MAX_SERVERS];
	size_t nservers;       /* 0: read /etc/resolv.conf */
	uint64_t timeout_ms;   /* one try */
	unsigned tries;        /* rounds over all servers */
	uint64_t limit_ms;     /* one question, all tries together */
	size_t cache_size;     /* answers */
	uint32_t min_ttl, max_ttl, neg_max_ttl; /* seconds */
	unsigned max_inflight; /* queries on the wire at once; more wait */
	/*
	 * Optional: told once when no nameserver answers any more (up
	 * false, with the last trouble) and once when one answers again
	 * (up true, down_ms how long none did)
	 */
	void (*health)(void *arg, bool up, const char *why, uint64_t down_ms);
	void *health_arg;
};

/* Why a try failed, for the counts (dns_stats.failures). */
enum dns_fail {
	DNS_FAIL_UNREACHABLE, /* no route, port unreachable, a socket error */
	DNS_FAIL_REFUSED,     /* REFUSED: the nameserver will not serve us */
	DNS_FAIL_SERVFAIL,    /* SERVFAIL: it could not resolve the name */
	DNS_FAIL_TIMEOUT,     /* no answer in time */
	DNS_FAIL_MALFORMED,   /* an answer we could not read */
	DNS_FAIL_OTHER,       /* another error code (FORMERR, NOTIMP) */
	DNS_FAIL_KINDS
};
/* dns_fail_name - "unreachable", "refused", ... */
const char *dns_fail_name(enum dns_fail f);

struct dns_stats {
	uint64_t asked;      /* dns_query() calls that succeeded */
	uint64_t cache_hits;
	uint64_t coalesced;  /* joined a question already in flight */
	uint64_t sent;       /* queries put on the wire (UDP and TCP) */
	uint64_t tcp;        /* of those, over TCP */
	uint64_t ignored;    /* answers that did not match: spoofed or stray */
	uint64_t peak;       /* most queries on the wire at once */
	uint64_t timeouts;   /* tries that got no answer in time, and
			      * questions past their limit */
	uint64_t failures[DNS_FAIL_KINDS]; /* tries that failed, by why */
	bool down;           /* no nameserver answers (dns_down) */
};

struct dns;
struct dns_query;

/* dns_opts_defaults - 2s per try, 2 tries, 10s limit, 10000 answers */
void dns_opts_defaults(struct dns_opts *o);
/* dns_server_parse - "192.0.2.1", "192.0.2.1:5353", "[2001:db8::1]:53" */
int dns_server_parse(const char *s, struct dns_server *out, struct why *why);
/* dns_servers_from_file - the nameservers of a resolv.conf file */
int dns_servers_from_file(struct dns_opts *o, const char *path,
    struct why *why);

/* dns_new - a resolver on loop; NULL with why (no nameserver, ...) */
struct dns *dns_new(uv_loop_t *loop, const struct dns_opts *o,
    struct why *why);
/*
 * dns_close - cancel every question (no callback runs) and close; the
 * memory goes once the loop has run the close callbacks.
 */
void dns_close(struct dns *dns);

/*
 * dns_query - ask; 0 and one later done() call, or <0 (a name that is no
 * domain name: -EINVAL) and no call. *qp, if qp is not NULL, is for
 * dns_cancel() until done() is called.
 */
int dns_query(struct dns *dns, const char *name, uint16_t type,
    dns_done_fn *done, void *arg, struct dns_query **qp);
/*
 * dns_query_fresh - dns_query, never answered from the cache (a list's
 * self-test after its zone was fixed); its answer goes to the cache
 */
int dns_query_fresh(struct dns *dns, const char *name, uint16_t type,
    dns_done_fn *done, void *arg, struct dns_query **qp);
/* dns_cancel - done() will not be called; q is gone */
void dns_cancel(struct dns_query *q);

void dns_get_stats(const struct dns *dns, struct dns_stats *st);
/*
 * dns_down - no nameserver has answered anything for a while (several
 * tries in a row failed as a nameserver's fault, none answered for
 * three try timeouts): every TEMPFAIL is ours then
 */
bool dns_down(const struct dns *dns);
const char *dns_status_name(enum dns_status s);
const char *dns_type_name(uint16_t type);
/* dns_ptr_name - the reverse name of an address (in-addr.arpa, ip6.arpa) */
char *dns_ptr_name(const struct ipaddr *ip, char *buf, size_t size);

#endif
