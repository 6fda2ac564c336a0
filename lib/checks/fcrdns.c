/*
 * fcrdns - forward-confirmed reverse DNS: a PTR name of the client
 * resolves (A or AAAA) back to the client address. Postfix's verified
 * client_name settles it at once; otherwise we look up the PTR names (at
 * most 10) and their addresses ourselves; any name that confirms passes.
 */
#include "chk.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "arena.h"
#include "dns.h"
#include "request.h"

#define MAX_NAMES 10

/* fc_judge - the addresses of one PTR name: any match confirms */
static bool
fc_judge(struct chk_run *run, struct chk_join *j, const struct dns_answer *a,
    void *arg)
{
	const struct req *req = chk_req(run);
	size_t i;

	(void)j;
	(void)arg;
	for (i = 0; a->status == DNS_OK && i < a->n; i++) {
		if (addr_equal(&a->rr[i].addr, &req->client_ip)) {
			chk_set_identity(run, CHK_ID_CLIENT_NAME,
			    arena_strdup(chk_arena(run), a->name));
			chk_done(run, CHK_PASS, "%s resolves to %s", a->name,
			    req->client_addr);
			return true;
		}
	}
	return false;
}

/* fc_settle - no name confirmed */
static void
fc_settle(struct chk_run *run, struct chk_join *j)
{
	const char *first = j->arg;

	if (j->trouble > 0)
		chk_done(run, CHK_TEMPFAIL, "address lookup of %s failed (%s)",
		    first, j->why);
	else
		chk_done(run, CHK_FAIL, "%s does not resolve to %s", first,
		    chk_req(run)->client_addr);
}

/* fc_names - look up the addresses of up to MAX_NAMES names */
static void
fc_names(struct chk_run *run, const char *const *names, size_t n)
{
	const struct req *req = chk_req(run);
	uint16_t type = req->client_ip.family == AF_INET ? DNS_T_A
							 : DNS_T_AAAA;
	struct chk_join *j = chk_join_new(run, fc_judge, fc_settle,
	    (void *)(uintptr_t)names[0]);
	size_t i;

	for (i = 0; i < n && i < MAX_NAMES; i++)
		(void)chk_join_ask(run, j, names[i], type);
	if (j->asked == 0)
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
		chk_set_identity(run, CHK_ID_CLIENT_NAME, req->client_name);
		chk_done(run, CHK_PASS, "verified as %s", req->client_name);
		return;
	}
	if (req->reverse_name != NULL) {
		const char *names[1] = { req->reverse_name };

		fc_names(run, names, 1);
		return;
	}
	dns_ptr_name(&req->client_ip, name, sizeof(name));
	if (chk_query(run, name, DNS_T_PTR, fc_ptr_answer, NULL, NULL) < 0)
		chk_done(run, CHK_TEMPFAIL, "no resolver");
}

extern const struct chk_def chk_fcrdns_def; /* fcrdns_conf.c */

const struct chk_ops chk_fcrdns_ops = {
	.def = &chk_fcrdns_def,
	.start = fcrdns_start,
};
