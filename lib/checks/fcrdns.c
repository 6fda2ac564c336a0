/*
 * fcrdns - forward-confirmed reverse DNS: a PTR name of the client
 * resolves (A or AAAA) back to the client address. Postfix's verified
 * client_name settles it at once; otherwise we look up the PTR names (at
 * most 10) and their addresses ourselves; any name that confirms passes.
 */
#include "chk.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "arena.h"
#include "dns.h"
#include "request.h"

#define MAX_NAMES 10

struct fc_state {
	unsigned asked;    /* address lookups sent */
	unsigned answered;
	unsigned trouble;  /* lookups that could not tell */
	const char *first; /* a PTR name, for the reason */
	const char *why;   /* the first trouble, for the log */
};

/* fc_addr_answer - addresses of one PTR name */
static void
fc_addr_answer(struct chk_run *run, const struct dns_answer *a, void *arg)
{
	struct fc_state *s = *chk_state(run);
	const struct req *req = chk_req(run);
	size_t i;

	(void)arg;
	s->answered++;
	if (a->status == DNS_OK) {
		for (i = 0; i < a->n; i++) {
			if (addr_equal(&a->rr[i].addr, &req->client_ip)) {
				chk_set_pool(run, arena_strdup(chk_arena(run),
				    a->name));
				chk_done(run, CHK_PASS, "%s resolves to %s",
				    a->name, req->client_addr);
				return;
			}
		}
	} else if (a->status == DNS_TEMPFAIL || a->status == DNS_BAD) {
		if (s->trouble++ == 0)
			s->why = arena_printf(chk_arena(run), "%s: %s", a->name,
			    a->why ? a->why : dns_status_name(a->status));
	}
	if (s->answered < s->asked)
		return;
	if (s->trouble > 0)
		chk_done(run, CHK_TEMPFAIL, "address lookup of %s failed (%s)",
		    s->first, s->why);
	else
		chk_done(run, CHK_FAIL, "%s does not resolve to %s", s->first,
		    req->client_addr);
}

/* fc_names - look up the addresses of up to MAX_NAMES names */
static void
fc_names(struct chk_run *run, const char *const *names, size_t n)
{
	struct fc_state *s = *chk_state(run);
	const struct req *req = chk_req(run);
	uint16_t type = req->client_ip.family == AF_INET ? DNS_T_A
							 : DNS_T_AAAA;
	size_t i;

	s->first = names[0];
	for (i = 0; i < n && i < MAX_NAMES; i++)
		if (chk_query(run, names[i], type, fc_addr_answer, NULL) == 0)
			s->asked++;
	if (s->asked == 0)
		chk_done(run, CHK_FAIL, "PTR name %s is not a domain name",
		    names[0]);
}

/* fc_ptr_answer - the client's PTR names */
static void
fc_ptr_answer(struct chk_run *run, const struct dns_answer *a, void *arg)
{
	const char *names[MAX_NAMES];
	size_t i;

	(void)arg;
	if (a->status == DNS_NXDOMAIN || a->status == DNS_NODATA) {
		chk_done(run, CHK_FAIL, "no PTR record for %s",
		    chk_req(run)->client_addr);
		return;
	}
	if (a->status != DNS_OK) {
		chk_done(run, CHK_TEMPFAIL, "PTR lookup: %s",
		    a->why ? a->why : dns_status_name(a->status));
		return;
	}
	for (i = 0; i < a->n && i < MAX_NAMES; i++)
		names[i] = arena_strdup(chk_arena(run), a->rr[i].text);
	fc_names(run, names, i);
}

/* fcrdns_start - Postfix's verified name, or our own lookups */
static void
fcrdns_start(struct chk_run *run)
{
	const struct req *req = chk_req(run);
	char name[80];

	if (!req->has_client_ip) {
		chk_done(run, CHK_NEUTRAL, "no client address");
		return;
	}
	if (req->client_name != NULL) {
		chk_set_pool(run, req->client_name);
		chk_done(run, CHK_PASS, "verified as %s", req->client_name);
		return;
	}
	*chk_state(run) = arena_alloc(chk_arena(run), sizeof(struct fc_state));
	memset(*chk_state(run), 0, sizeof(struct fc_state));
	if (req->reverse_name != NULL) {
		const char *names[1] = { req->reverse_name };

		fc_names(run, names, 1);
		return;
	}
	dns_ptr_name(&req->client_ip, name, sizeof(name));
	if (chk_query(run, name, DNS_T_PTR, fc_ptr_answer, NULL) < 0)
		chk_done(run, CHK_TEMPFAIL, "no resolver");
}

const struct chk_ops chk_fcrdns_ops = {
	.name = "fcrdns",
	.dsn = "5.7.25",
	.text = "Reverse DNS of client {client} ({name}) does not resolve "
		"back to it; ask the owner of this IP address to make the "
		"PTR name's A/AAAA record point to it",
	.tempfail_text = "Whether the reverse DNS of client {client} resolves "
			 "back to it could not be checked just now; please "
			 "try again later",
	.start = fcrdns_start,
};
