/*
 * request - normalize the parser's attributes into one struct req.
 * Data flow: proto -> request -> decision. No I/O, no clock.
 */
#include "request.h"

#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "arena.h"
#include "log.h"
#include "xalloc.h"

/* lower_dup - lower-cased copy of s */
static char *
lower_dup(struct arena *a, const char *s)
{
	char *p = arena_strdup(a, s), *q;

	for (q = p; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	return p;
}

/* name_or_null - Postfix sends "unknown" (or nothing) for no name */
static const char *
name_or_null(struct arena *a, const char *s)
{
	if (s == NULL || *s == '\0' || strcasecmp(s, "unknown") == 0)
		return NULL;
	return lower_dup(a, s);
}

/* empty_or - s, or dflt when s is NULL */
static const char *
empty_or(const char *s, const char *dflt)
{
	return s != NULL ? s : dflt;
}

/* req_split_addr - strip <>, split at the last '@', lower-case the domain */
void
req_split_addr(struct arena *a, const char *s, struct req_addr *out)
{
	size_t len;
	char *copy, *at, *domain;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return;
	len = strlen(s);
	if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
		s++;
		len -= 2;
	}
	copy = arena_strndup(a, s, len);
	if (*copy == '\0') {
		out->full = copy;
		out->local = copy;
		out->is_null = true;
		return;
	}
	if ((at = strrchr(copy, '@')) == NULL) {
		out->full = copy;
		out->local = copy;
		return;
	}
	out->local = arena_strndup(a, copy, (size_t)(at - copy));
	domain = lower_dup(a, at + 1);
	len = strlen(domain);
	if (len > 0 && domain[len - 1] == '.')
		domain[len - 1] = '\0';
	out->domain = *domain ? domain : NULL;
	out->full = arena_cat(a, out->local, "@", domain, NULL);
}

/* req_fill - normalize one request whose attrs are the arena's already */
static int
req_fill(struct req *req, struct arena *a, const char *const attrs[PA_COUNT],
    const struct req_opts *opts, struct why *why)
{
	const char *v;

	memset(req, 0, sizeof(*req));
	req->arena = a;
	memcpy(req->attr, attrs, sizeof(req->attr));

	req->client_addr = "";
	v = attrs[PA_CLIENT_ADDRESS];
	if (v != NULL && *v != '\0') {
		char buf[ADDR_STRLEN];

		if (addr_parse(v, &req->client_ip) < 0) {
			char safe[64 * 4 + 4]; /* a stranger's: escaped */

			why_set(why, "client_address \"%s\" is not an IP "
				     "address",
			    text_safe_bufn(safe, sizeof(safe), v, 64));
			return -1;
		}
		req->has_client_ip = true;
		req->client_prefix = req->client_ip.family == AF_INET
		    ? opts->ipv4_prefix : opts->ipv6_prefix;
		addr_network(&req->client_ip, req->client_prefix,
		    &req->client_net);
		req->client_addr = arena_strdup(a,
		    addr_format(&req->client_ip, buf, sizeof(buf)));
	}
	v = attrs[PA_SERVER_ADDRESS];
	if (v != NULL && *v != '\0' && addr_parse(v, &req->server_addr) == 0)
		req->has_server_addr = true;

	req->client_name = name_or_null(a, attrs[PA_CLIENT_NAME]);
	req->reverse_name = name_or_null(a, attrs[PA_REVERSE_CLIENT_NAME]);
	v = attrs[PA_HELO_NAME];
	req->helo = v != NULL && *v != '\0' ? req->attr[PA_HELO_NAME] : NULL;
	req_split_addr(a, attrs[PA_SENDER], &req->sender);
	v = attrs[PA_RECIPIENT];
	if (v != NULL && *v != '\0')
		req_split_addr(a, v, &req->rcpt);

	req->protocol_state = empty_or(req->attr[PA_PROTOCOL_STATE], "");
	req->instance = empty_or(req->attr[PA_INSTANCE], "");
	req->queue_id = empty_or(req->attr[PA_QUEUE_ID], "");
	v = req->attr[PA_SASL_USERNAME];
	req->sasl_username = v != NULL && *v != '\0' ? v : NULL;
	v = req->attr[PA_POLICY_CONTEXT];
	req->policy_context = v != NULL && *v != '\0' ? v : NULL;
	v = req->attr[PA_STRESS];
	req->stress = v != NULL && strcasecmp(v, "yes") == 0;
	return 0;
}

/* req_build - normalize one request */
int
req_build(struct req *req, struct arena *a, const char *const attrs[PA_COUNT],
    const struct req_opts *opts, struct why *why)
{
	const char *own[PA_COUNT];
	int i;

	for (i = 0; i < PA_COUNT; i++)
		own[i] = attrs[i] ? arena_strdup(a, attrs[i]) : NULL;
	return req_fill(req, a, own, opts, why);
}

/*
 * req_from_parser - build from the request the parser just ended: its
 * values copied into the arena as the one block they are (a copy of
 * each cost an allocation and a measure apiece)
 */
int
req_from_parser(struct req *req, struct arena *a,
    const struct proto_parser *p, const struct req_opts *opts,
    struct why *why)
{
	const char *attrs[PA_COUNT], *blk, *v;
	char *copy = NULL;
	size_t len;
	int i;

	if ((blk = proto_values(p, &len)) != NULL) {
		copy = arena_alloc(a, len);
		memcpy(copy, blk, len);
	}
	for (i = 0; i < PA_COUNT; i++) {
		v = proto_get(p, (enum proto_attr)i);
		attrs[i] = v != NULL ? copy + (v - blk) : NULL;
	}
	return req_fill(req, a, attrs, opts, why);
}
