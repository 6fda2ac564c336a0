/*
 * request - one normalized policy request, built from the attributes the
 * parser found. Everything in it lives in the request's arena and is
 * freed with it after the reply is written.
 *
 * Normalization: the client address is parsed (IPv4, IPv6; IPv4-mapped
 * IPv6 becomes IPv4) and its network computed for the configured prefix;
 * Postfix's "unknown" client names become NULL; names are lower-cased;
 * sender and recipient lose surrounding <> and split at the last '@' into
 * local part and lower-cased domain; the null sender is recognized.
 */
#ifndef POLICYD_REQUEST_H
#define POLICYD_REQUEST_H

#include <stdbool.h>

#include "addr.h"
#include "proto.h"

struct arena;
struct why;

struct req_addr {
	const char *full;   /* without <>, domain lower-cased; NULL: not sent */
	const char *local;  /* local part as sent; "" for the null sender */
	const char *domain; /* lower-case, no final dot; NULL if none */
	bool is_null;       /* the null sender (empty or <>) */
};

struct req {
	struct arena *arena;         /* owns everything below */
	const char *attr[PA_COUNT];  /* every attribute as sent, or NULL */
	bool has_client_ip;          /* client_address was sent */
	struct ipaddr client_ip;
	struct ipaddr client_net;    /* client_ip with the prefix applied */
	unsigned client_prefix;      /* bits of client_net */
	const char *client_addr;     /* text form of client_ip, or "" */
	const char *client_name;     /* verified name, lower-case; NULL: unknown */
	const char *reverse_name;    /* PTR name, lower-case; NULL: unknown */
	const char *helo;            /* as sent; NULL when empty */
	struct req_addr sender;
	struct req_addr rcpt;
	const char *protocol_state;  /* RCPT, DATA, ...; "" if not sent */
	const char *instance;        /* "" if not sent */
	const char *queue_id;        /* "" if not sent */
	const char *sasl_username;   /* NULL unless authenticated */
	const char *policy_context;  /* NULL if empty */
	bool stress;                 /* stress=yes */
	bool has_server_addr;
	struct ipaddr server_addr;
};

/* Network prefixes for client_net. */
struct req_opts {
	unsigned ipv4_prefix; /* 0..32 */
	unsigned ipv6_prefix; /* 0..128 */
};

/*
 * req_build - normalize attrs (indexed by enum proto_attr, NULL when not
 * sent) into req, copying into arena. 0, or -1 with why set when an
 * attribute is unusable (a client_address that is no IP address).
 */
int req_build(struct req *req, struct arena *arena,
    const char *const attrs[PA_COUNT], const struct req_opts *opts,
    struct why *why);
/* req_from_parser - req_build with the values of the parser's request */
int req_from_parser(struct req *req, struct arena *arena,
    const struct proto_parser *p, const struct req_opts *opts,
    struct why *why);
/* req_split_addr - normalize one address into out, copying into arena */
void req_split_addr(struct arena *arena, const char *s, struct req_addr *out);

#endif
