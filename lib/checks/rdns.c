/*
 * rdns - the client address has a PTR record.
 *
 * Postfix's reverse_client_name, when it is a name, settles it. Its
 * "unknown" cannot tell NXDOMAIN from a timeout, so then we ask
 * ourselves, and fail only on NXDOMAIN or NODATA; DNS trouble is a
 * temporary failure, never a reason to refuse.
 */
#include "chk.h"

#include "dns.h"
#include "request.h"

/* rdns_answer - our own PTR lookup */
static void
rdns_answer(struct chk_run *run, const struct dns_answer *a, void *arg)
{
	(void)arg;
	switch (a->status) {
	case DNS_OK:
		chk_done(run, CHK_PASS, "PTR %s", a->rr[0].text);
		return;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		chk_done(run, CHK_FAIL, "no PTR record for %s",
		    chk_req(run)->client_addr);
		return;
	default:
		chk_done(run, CHK_TEMPFAIL, "PTR lookup: %s",
		    a->why ? a->why : dns_status_name(a->status));
		return;
	}
}

/* rdns_start - Postfix's answer, or our own lookup */
static void
rdns_start(struct chk_run *run)
{
	const struct req *req = chk_req(run);
	char name[80];

	if (!req->has_client_ip) {
		chk_done(run, CHK_NEUTRAL, "no client address");
		return;
	}
	if (req->reverse_name != NULL) {
		chk_done(run, CHK_PASS, "PTR %s", req->reverse_name);
		return;
	}
	dns_ptr_name(&req->client_ip, name, sizeof(name));
	if (chk_query(run, name, DNS_T_PTR, rdns_answer, NULL, NULL) < 0)
		chk_done(run, CHK_TEMPFAIL, "no resolver");
}

extern const struct chk_def chk_rdns_def; /* rdns_conf.c */

const struct chk_ops chk_rdns_ops = {
	.def = &chk_rdns_def,
	.start = rdns_start,
};
