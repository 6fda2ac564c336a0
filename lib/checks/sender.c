/*
 * sender - the envelope addresses are RFC 5321 addresses, and the sender's
 * domain exists: MX, else A or AAAA. A null MX (RFC 7505: one MX of
 * preference 0 and target ".") says the domain sends no mail; NXDOMAIN
 * says it does not exist; DNS trouble is a temporary failure. The null
 * sender (bounces) has no domain to check.
 */
#include "chk.h"

#include <string.h>

#include "arena.h"
#include "dns.h"
#include "request.h"

struct snd_state {
	const char *domain;
	unsigned asked, answered, trouble, found, nx;
	const char *why;   /* the first trouble, for the log */
};

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

/* snd_addr_answer - A or AAAA after a domain without MX */
static void
snd_addr_answer(struct chk_run *run, const struct dns_answer *a, void *arg)
{
	struct snd_state *s = *chk_state(run);

	(void)arg;
	s->answered++;
	if (a->status == DNS_OK) {
		chk_done(run, CHK_PASS, "%s has an address", s->domain);
		return;
	}
	if ((a->status == DNS_TEMPFAIL || a->status == DNS_BAD) &&
	    s->trouble++ == 0)
		s->why = arena_printf(chk_arena(run), "%s %s: %s", a->name,
		    dns_type_name(a->type),
		    a->why ? a->why : dns_status_name(a->status));
	if (s->answered < s->asked)
		return;
	if (s->trouble > 0)
		chk_done(run, CHK_TEMPFAIL, "lookup of %s failed (%s)",
		    s->domain, s->why);
	else
		chk_done(run, CHK_FAIL, "sender domain %s has no MX, A or AAAA "
					"record", s->domain);
}

/* snd_mx_answer - the sender domain's MX */
static void
snd_mx_answer(struct chk_run *run, const struct dns_answer *a, void *arg)
{
	struct snd_state *s = *chk_state(run);

	(void)arg;
	switch (a->status) {
	case DNS_OK:
		if (a->n == 1 && a->rr[0].pref == 0 &&
		    (a->rr[0].text[0] == '\0' || strcmp(a->rr[0].text, ".") ==
		    0)) {
			chk_set_dsn(run, "5.7.27");
			chk_done(run, CHK_FAIL, "sender domain %s has a null MX "
						"(RFC 7505): it sends no mail",
			    s->domain);
			return;
		}
		chk_done(run, CHK_PASS, "%s has MX", s->domain);
		return;
	case DNS_NXDOMAIN:
		chk_set_dsn(run, sender_dsn(chk_req(run), "5.1.8"));
		chk_done(run, CHK_FAIL, "sender domain %s does not exist",
		    s->domain);
		return;
	case DNS_NODATA:
		if (chk_query(run, s->domain, DNS_T_A, snd_addr_answer,
		    NULL) == 0)
			s->asked++;
		if (chk_query(run, s->domain, DNS_T_AAAA, snd_addr_answer,
		    NULL) == 0)
			s->asked++;
		if (s->asked == 0)
			chk_done(run, CHK_TEMPFAIL, "no resolver");
		return;
	default:
		chk_done(run, CHK_TEMPFAIL, "MX lookup of %s: %s", s->domain,
		    a->why ? a->why : dns_status_name(a->status));
		return;
	}
}

/* sender_start - syntax, then the domain in DNS */
static void
sender_start(struct chk_run *run)
{
	const struct req *req = chk_req(run);
	struct snd_state *s;

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
	s = arena_alloc(chk_arena(run), sizeof(*s));
	memset(s, 0, sizeof(*s));
	s->domain = req->sender.domain;
	*chk_state(run) = s;
	if (chk_query(run, s->domain, DNS_T_MX, snd_mx_answer, NULL) < 0)
		chk_done(run, CHK_TEMPFAIL, "no resolver");
}

const struct chk_ops chk_sender_ops = {
	.name = "sender",
	.dsn = "5.7.1",
	.text = "The envelope sender is not usable: {reason}; use an address "
		"at a domain that exists and receives mail",
	.tempfail_text = "The domain of the sender address {sender} could "
			 "not be looked up in DNS just now; please try again "
			 "later",
	.start = sender_start,
};
