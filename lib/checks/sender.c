/*
 * sender - the envelope addresses are RFC 5321 addresses, and the sender's
 * domain exists: MX, else A or AAAA. A null MX (RFC 7505: one MX of
 * preference 0 and target ".") says the domain sends no mail; NXDOMAIN
 * says it does not exist; DNS trouble is a temporary failure. The null
 * sender (bounces) has no domain to check.
 */
#include "chk.h"

#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "dns.h"
#include "request.h"

/*
 * sender_dsn - a refusal code about the sender that Postfix passes on
 * as it is. Postfix rewrites an address code (X.1.N) to fit the stage
 * it asked at (smtpd_dsn_fix: at RCPT 5.1.8 becomes 5.1.2, "bad
 * destination system address"); only at MAIL FROM is a sender code a
 * sender code. Elsewhere (policyd sits in smtpd_recipient_restrictions)
 * the non-address code 5.7.1 says what happened without being changed.
 */
static const char *
sender_dsn(const struct req *req, const char *at_mail)
{
	return strcmp(req->protocol_state, "MAIL") == 0 ? at_mail : "5.7.1";
}

/* addr_ok - local@domain with RFC 5321 syntax */
static bool
addr_ok(const struct req_addr *a)
{
	return a->domain != NULL && chk_local_ok(a->local) &&
	    chk_is_fqdn(a->domain);
}

/* snd_addr_judge - A or AAAA after a domain without MX: any will do */
static bool
snd_addr_judge(struct chk_run *run, struct chk_join *j,
    const struct dns_answer *a, void *arg)
{
	(void)j;
	if (a->status != DNS_OK)
		return false;
	chk_done(run, CHK_PASS, "%s has an address", (const char *)arg);
	return true;
}

/* snd_addr_settle - neither A nor AAAA */
static void
snd_addr_settle(struct chk_run *run, struct chk_join *j)
{
	const char *domain = j->arg;

	if (j->trouble > 0)
		chk_done(run, CHK_TEMPFAIL, "lookup of %s failed (%s)", domain,
		    j->why);
	else
		chk_done(run, CHK_FAIL, "sender domain %s has no MX, A or AAAA "
					"record", domain);
}

/* snd_mx_answer - the sender domain's MX */
static void
snd_mx_answer(struct chk_run *run, const struct dns_answer *a, void *arg)
{
	const char *domain = arg;
	struct chk_join *j;

	switch (a->status) {
	case DNS_OK:
		if (a->n == 1 && a->rr[0].pref == 0 &&
		    (a->rr[0].text[0] == '\0' || strcmp(a->rr[0].text, ".") ==
		    0)) {
			chk_set_dsn(run, "5.7.27");
			chk_done(run, CHK_FAIL, "sender domain %s has a null MX "
						"(RFC 7505): it sends no mail",
			    domain);
			return;
		}
		chk_done(run, CHK_PASS, "%s has MX", domain);
		return;
	case DNS_NXDOMAIN:
		chk_set_dsn(run, sender_dsn(chk_req(run), "5.1.8"));
		chk_done(run, CHK_FAIL, "sender domain %s does not exist",
		    domain);
		return;
	case DNS_NODATA:
		j = chk_join_new(run, snd_addr_judge, snd_addr_settle,
		    (void *)(uintptr_t)domain);
		(void)chk_join_ask(run, j, domain, DNS_T_A);
		(void)chk_join_ask(run, j, domain, DNS_T_AAAA);
		if (j->asked == 0)
			chk_done(run, CHK_TEMPFAIL, "no resolver");
		return;
	default:
		chk_done(run, CHK_TEMPFAIL, "MX lookup of %s: %s", domain,
		    a->why ? a->why : dns_status_name(a->status));
		return;
	}
}

/* sender_start - syntax, then the domain in DNS */
static void
sender_start(struct chk_run *run)
{
	const struct req *req = chk_req(run);

	if (req->rcpt.full != NULL && !addr_ok(&req->rcpt) &&
	    req->rcpt.domain != NULL) {
		chk_set_dsn(run, "5.1.3");
		chk_done(run, CHK_FAIL, "recipient address %s is not valid "
					"(RFC 5321)", req->rcpt.full);
		return;
	}
	if (req->sender.full == NULL || req->sender.is_null) {
		chk_done(run, CHK_NEUTRAL, "null sender");
		return;
	}
	if (!addr_ok(&req->sender)) {
		chk_set_dsn(run, sender_dsn(req, "5.1.7"));
		chk_done(run, CHK_FAIL, "sender address %s is not valid "
					"(RFC 5321)", req->sender.full);
		return;
	}
	if (chk_query(run, req->sender.domain, DNS_T_MX, snd_mx_answer,
	    (void *)(uintptr_t)req->sender.domain, NULL) < 0)
		chk_done(run, CHK_TEMPFAIL, "no resolver");
}

extern const struct chk_def chk_sender_def; /* sender_conf.c */

const struct chk_ops chk_sender_ops = {
	.def = &chk_sender_def,
	.start = sender_start,
};
