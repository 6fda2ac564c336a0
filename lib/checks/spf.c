/*
 * spf - the SPF check (RFC 7208): does the sender's domain allow the
 * client to send its mail?
 *
 * Identity: the MAIL FROM domain, or the HELO name when the sender is
 * <> (section 2.4); with helo_first, the HELO name first and a fail of
 * it is conclusive (section 2.3). Evaluated once per message: the result
 * is kept on the connection for Postfix's `instance` and reused for the
 * message's other recipients (and its DATA request). Each result has its
 * own action in the policy file. The result header (Received-SPF or
 * Authentication-Results) is queued once per message; the pipeline
 * prepends it on a DUNNO reply. Clients listed as trusted forwarders or
 * as our secondary MX hosts are not checked: forwarding breaks SPF.
 *
 * Data flow: start -> memo | skip | spf_check() -> got() -> chk_done_result
 */
#include "chk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "checks/spf_conf.h"
#include "config.h"
#include "dns.h"
#include "log.h"
#include "greylist.h"
#include "msg.h"
#include "request.h"
#include "spf.h"
#include "xalloc.h"

/*
 * The message memo: the result for the message's other recipients and
 * its DATA request, keyed also by what the result depends on.
 */
struct spf_memo {
	bool known;
	uint64_t key;        /* client, sender, HELO it was for */
	int status;          /* enum chk_status */
	int result;          /* enum spf_result */
	char reason[400];
	char dsn[8];
	char pool[260];      /* the SPF domain for greylisting, or "" */
};

struct spf_state {
	struct spf_check *c;  /* in flight, or NULL */
	bool helo_phase;      /* evaluating the HELO identity first */
	bool helo_identity;   /* the identity being evaluated is HELO */
	const char *domain;   /* that identity's domain */
	const char *sender;   /* the mailbox for %{s} */
	uint64_t key;         /* client, sender, HELO: the memo's key */
	struct spf_match match; /* the mechanism of the result */
};

static void evaluate(struct chk_run *run);

/* chk_spf_of - the library's result as the pipeline types it */
static enum chk_spf
chk_spf_of(enum spf_result r)
{
	switch (r) {
	case SPF_PASS:
		return CHK_SPF_PASS;
	case SPF_FAIL:
		return CHK_SPF_FAIL;
	case SPF_SOFTFAIL:
		return CHK_SPF_SOFTFAIL;
	case SPF_NEUTRAL:
		return CHK_SPF_NEUTRAL;
	case SPF_NONE:
		return CHK_SPF_NONE;
	case SPF_TEMPERROR:
		return CHK_SPF_TEMPERROR;
	case SPF_PERMERROR:
		return CHK_SPF_PERMERROR;
	}
	return CHK_SPF_UNKNOWN;
}

/* ident_key - FNV-1a over what the result depends on */
static uint64_t
ident_key(const struct req *req)
{
	const char *parts[3] = { req->client_addr,
		req->sender.full ? req->sender.full : "",
		req->helo ? req->helo : "" };
	uint64_t h = UINT64_C(14695981039346656037);
	size_t i;
	const char *p;

	for (i = 0; i < 3; i++) {
		for (p = parts[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * UINT64_C(1099511628211);
		h = (h ^ 0xff) * UINT64_C(1099511628211);
	}
	return h;
}

/* clean - a stranger's text for a reply or a header: printable ASCII */
static char *
clean(struct arena *a, const char *s, size_t max)
{
	size_t n = strlen(s) < max ? strlen(s) : max, i;
	char *out = arena_alloc(a, n + 1);

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	out[n] = '\0';
	return out;
}

/* is_atext - RFC 5322 atext */
static bool
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~",
	    c) != NULL);
}

/* is_dot_atom - RFC 5322 dot-atom-text */
static bool
is_dot_atom(const char *s)
{
	bool prev_dot = true;

	if (*s == '\0')
		return false;
	for (; *s; s++) {
		if (*s == '.') {
			if (prev_dot)
				return false;
			prev_dot = true;
		} else if (is_atext((unsigned char)*s)) {
			prev_dot = false;
		} else {
			return false;
		}
	}
	return !prev_dot;
}

/* local_is_atom - the mailbox's local part needs no quoting */
static bool
local_is_atom(struct arena *a, const char *mailbox)
{
	const char *at = strrchr(mailbox, '@');

	return at != NULL && is_dot_atom(arena_strndup(a, mailbox,
	    (size_t)(at - mailbox))) && strpbrk(at + 1, " \"\\()") == NULL;
}

/* hvalue - a header value: dot-atom as it is, else a quoted-string */
static void
hvalue(char *out, size_t size, const char *s)
{
	size_t o = 0;

	if (size == 0)
		return;
	if (is_dot_atom(s)) {
		text_cat(out, size, s, NULL);
		return;
	}
	out[o++] = '"';
	for (; *s && o + 3 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f)
			continue;
		if (c == '"' || c == '\\')
			out[o++] = '\\';
		out[o++] = (char)c;
	}
	if (o < size - 1)
		out[o++] = '"';
	out[o] = '\0';
}

/* comment_text - RFC 7208 9.1's comment, without ( ) and \ */
static void
comment_text(char *out, size_t size, enum spf_result r, const char *who,
    const char *ip, const char *why)
{
	char tmp[300], w80[81];
	size_t o = 0;
	const char *p;

	/* (why cut to 80 bytes, as "%.80s" cut it) */
	text_cat(w80, sizeof(w80), why, NULL);
	switch (r) {
	case SPF_PASS:
		text_cat(tmp, sizeof(tmp), "domain of ", who, " designates ",
		    ip, " as permitted sender", NULL);
		break;
	case SPF_FAIL:
		text_cat(tmp, sizeof(tmp), "domain of ", who,
		    " does not designate ", ip, " as permitted sender", NULL);
		break;
	case SPF_SOFTFAIL:
		text_cat(tmp, sizeof(tmp), "domain of transitioning ", who,
		    " does not designate ", ip, " as permitted sender", NULL);
		break;
	case SPF_NEUTRAL:
		text_cat(tmp, sizeof(tmp), ip, " is neither permitted nor "
		    "denied by domain of ", who, NULL);
		break;
	case SPF_NONE:
		text_cat(tmp, sizeof(tmp), "domain of ", who, " does not "
		    "designate permitted sender hosts", NULL);
		break;
	case SPF_TEMPERROR:
		text_cat(tmp, sizeof(tmp), "error in processing during lookup "
		    "of ", who, ": ", w80, NULL);
		break;
	case SPF_PERMERROR:
		text_cat(tmp, sizeof(tmp), "permanent error in processing "
		    "domain of ", who, ": ", w80, NULL);
		break;
	}
	for (p = tmp; *p && o + 1 < size; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c >= 0x7f || c == '(' || c == ')' || c == '\\')
			continue;
		out[o++] = (char)c;
	}
	out[o] = '\0';
}

/*
 * header - the result header for this message, at most
 * MSG_HEADER_MAX bytes: the comment goes first, then the sender and
 * HELO values, when it would be longer.
 */
static char *
header(struct chk_run *run, enum spf_result r, const char *why)
{
	const struct req *req = chk_req(run);
	const struct spf_state *s = *chk_state(run);
	const char *host = chk_hostname(run);
	const struct spf_conf *conf = chk_conf(run);
	struct arena *a = chk_arena(run);
	char comment[320], from[300], helo[300], *h = NULL;
	const char *who = s->helo_identity ? s->domain : s->sender;
	int pass;

	comment_text(comment, sizeof(comment), r, who, req->client_addr,
	    why ? why : "");
	hvalue(from, sizeof(from), s->helo_identity ? "" : s->sender);
	hvalue(helo, sizeof(helo), req->helo ? req->helo : "");
	for (pass = 0; pass < 3; pass++) {
		bool with_comment = pass == 0, with_values = pass < 2;

		if (conf->header == SPF_HDR_AUTH_RESULTS) {
			/* RFC 8601: the mailbox, or its domain alone when the
			 * local part would need quoting. */
			const char *prop = s->helo_identity ? "smtp.helo"
							    : "smtp.mailfrom";
			const char *val = s->helo_identity ? helo
			    : local_is_atom(a, s->sender) ? s->sender
							 : s->domain;

			h = arena_cat(a, "Authentication-Results: ", host,
			    "; spf=", spf_result_name(r),
			    with_comment ? " (" : "",
			    with_comment ? comment : "",
			    with_comment ? ")" : "", " ", prop, "=",
			    with_values ? val : s->domain, NULL);
		} else {
			h = arena_cat(a, "Received-SPF: ", spf_result_name(r),
			    with_comment ? " (" : "",
			    with_comment ? host : "", with_comment ? ": " : "",
			    with_comment ? comment : "",
			    with_comment ? ")" : "", " client-ip=",
			    req->client_addr, ";",
			    with_values && !s->helo_identity
				? " envelope-from=" : "",
			    with_values && !s->helo_identity ? from : "",
			    with_values && !s->helo_identity ? ";" : "",
			    with_values && req->helo ? " helo=" : "",
			    with_values && req->helo ? helo : "",
			    with_values && req->helo ? ";" : "", " receiver=",
			    host, "; identity=",
			    s->helo_identity ? "helo" : "mailfrom", NULL);
		}
		if (strlen(h) <= MSG_HEADER_MAX)
			return h;
	}
	return NULL;
}

/* reason - what the log and {reason} say: the result and what to fix */
static const char *
reason(struct chk_run *run, enum spf_result r, const char *exp,
    const char *why)
{
	const struct req *req = chk_req(run);
	const struct spf_state *s = *chk_state(run);
	struct arena *a = chk_arena(run);
	const char *ip = req->client_addr, *d = s->domain;
	const char *id = s->helo_identity ? arena_cat(a, "HELO ", d, NULL)
					  : arena_cat(a, "<", s->sender, ">", NULL);

	why = clean(a, why ? why : "", 160);
	switch (r) {
	case SPF_PASS:
		return arena_cat(a, "SPF pass: ", d, " allows ", ip,
		    " to send mail for ", id, NULL);
	case SPF_FAIL:
		if (exp != NULL && *exp != '\0')
			return arena_cat(a, "SPF fail: ", d, " does not allow ",
			    ip, " to send mail for ", id, "; ", d, " says: ",
			    clean(a, exp, 200), NULL);
		return arena_cat(a, "SPF fail: ", d, " does not allow ", ip,
		    " to send mail for ", id, "; if the mail is genuine, the "
		    "owner of ", d, " must list this server in its SPF record",
		    NULL);
	case SPF_SOFTFAIL:
		return arena_cat(a, "SPF softfail: ", d, " says ", ip,
		    " is probably not allowed to send mail for ", id, NULL);
	case SPF_NEUTRAL:
		return arena_cat(a, "SPF neutral: ", d, " says nothing about ",
		    ip, " sending mail for ", id, NULL);
	case SPF_NONE:
		return arena_cat(a, "SPF none: ", d, " publishes no SPF record",
		    *why ? ": " : "", why, NULL);
	case SPF_TEMPERROR:
		/* Which resolver said what is for the log (detail). */
		return arena_cat(a, "SPF temperror: the SPF record of ", d,
		    " could not be checked (a DNS lookup failed or timed out); "
		    "please try again later", NULL);
	case SPF_PERMERROR:
		return arena_cat(a, "SPF permerror: the SPF record of ", d,
		    " is broken (", why, "); the owner of ", d, " must fix it",
		    NULL);
	}
	return "";
}

/*
 * narrow_pass - a pass greylisting may key on the domain for: from a
 * mechanism no wider than pool_spf_ipv4_prefix / pool_spf_ipv6_prefix.
 * A domain that passes the world (+all, exists:, a /0 network) would
 * make every bot one client, and the auto-whitelist would whitelist it.
 */
static bool
narrow_pass(const struct chk_run *run, const struct spf_match *m)
{
	const struct gl_conf *g = greylist_conf(chk_cfg(run));

	if (g == NULL || !m->set || m->mech == SPF_ALL || m->mech == SPF_EXISTS)
		return false;
	return m->prefix >= (chk_req(run)->client_ip.family == AF_INET
	    ? g->pool_spf_ipv4_prefix : g->pool_spf_ipv6_prefix);
}

/* finish - the final result: memo, header, pool, report */
static void
finish(struct chk_run *run, enum spf_result r, const char *exp,
    const char *why)
{
	struct spf_state *s = *chk_state(run);
	const struct spf_conf *conf = chk_conf(run);
	struct spf_memo *m = chk_memo(run, sizeof(*m));
	enum chk_status st = r == SPF_PASS ? CHK_PASS
	    : r == SPF_TEMPERROR ? CHK_TEMPFAIL : CHK_FAIL;
	const char *dsn = r == SPF_TEMPERROR || r == SPF_PERMERROR ? "5.7.24"
								   : "5.7.23";
	const char *text = reason(run, r, exp, why);
	bool pool = r == SPF_PASS && narrow_pass(run, &s->match);

	chk_set_dsn(run, dsn);
	if (why != NULL && *why != '\0')
		chk_set_detail(run, "%s", why);
	if (pool)
		chk_set_identity(run, CHK_ID_SPF_DOMAIN, s->domain);
	/* The verdict by type: whitelist entries and correspondents. */
	chk_set_spf(run, chk_spf_of(r));
	if (conf->header != SPF_HDR_NONE) {
		const char *h = header(run, r, why);

		if (h != NULL)
			chk_queue_header(run, h);
	}
	/* Once per message: the other recipients get the same answer. */
	if (m != NULL) {
		m->known = true;
		m->key = s->key;
		m->status = (int)st;
		m->result = (int)r;
		text_cat(m->reason, sizeof(m->reason), text, NULL);
		text_cat(m->dsn, sizeof(m->dsn), dsn, NULL);
		text_cat(m->pool, sizeof(m->pool), pool ? s->domain : "", NULL);
	}
	chk_done_result(run, st, (int)r, "%s", text);
}

/* got - one identity's result; HELO first goes on to MAIL FROM */
static void
got(struct chk_run *run, enum spf_result r, const char *exp, const char *why)
{
	struct spf_state *s = *chk_state(run);

	if (s->helo_phase && r != SPF_FAIL) {
		/* Only a HELO fail is conclusive (RFC 7208 2.3). */
		s->helo_phase = false;
		evaluate(run);
		return;
	}
	finish(run, r, exp, why);
}

/* spf_answer - spf_check's callback */
static void
spf_answer(void *arg, enum spf_result r, const char *explanation,
    const char *why)
{
	struct chk_run *run = arg;
	struct spf_state *s = *chk_state(run);

	s->c = NULL; /* the evaluator frees itself after this call */
	got(run, r, explanation, why);
}

/* A question of the evaluator's, asked as the check's own. */
struct spf_q {
	void (*done)(void *arg, const struct dns_answer *a);
	void *arg;
};

/* spf_q_answer - the pipeline hands the answer to the evaluator */
static void
spf_q_answer(struct chk_run *run, const struct dns_answer *a, void *arg)
{
	struct spf_q *q = arg;

	(void)run;
	q->done(q->arg, a);
}

/*
 * spf_ask - the evaluator's questions are the check's: the pipeline
 * owns them and cancels them with the check's other work
 */
static int
spf_ask(void *ctx, const char *name, uint16_t type,
    void (*done)(void *arg, const struct dns_answer *a), void *arg, void **h)
{
	struct chk_run *run = ctx;
	struct spf_q *q = arena_alloc(chk_arena(run), sizeof(*q));
	struct chk_query *cq;

	q->done = done;
	q->arg = arg;
	if (chk_query(run, name, type, spf_q_answer, q, &cq) < 0)
		return -1;
	*h = cq;
	return 0;
}

/* spf_unask - the evaluator cancels one of its questions */
static void
spf_unask(void *ctx, void *h)
{
	(void)ctx;
	chk_query_cancel(h);
}

/* evaluate - check_host() for the current identity */
static void
evaluate(struct chk_run *run)
{
	const struct req *req = chk_req(run);
	struct spf_state *s = *chk_state(run);
	struct arena *a = chk_arena(run);
	struct spf_resolver res = { spf_ask, spf_unask, run };
	struct spf_params prm;
	enum spf_result r;
	int rc;

	s->helo_identity = s->helo_phase || req->sender.full == NULL ||
	    req->sender.is_null || req->sender.domain == NULL;
	if (s->helo_identity) {
		if (req->helo == NULL || req->helo[0] == '\0') {
			s->domain = "(no HELO)";
			s->sender = "postmaster";
			got(run, SPF_NONE, NULL, "no HELO name to check");
			return;
		}
		char *d = arena_strdup(a, req->helo), *q;

		for (q = d; *q; q++)
			if (*q >= 'A' && *q <= 'Z')
				*q = (char)(*q - 'A' + 'a');
		s->domain = d;
		s->sender = arena_cat(a, "postmaster@", s->domain, NULL);
	} else {
		s->domain = req->sender.domain;
		s->sender = req->sender.full;
	}
	memset(&prm, 0, sizeof(prm));
	prm.ip = &req->client_ip;
	prm.sender = s->sender;
	prm.domain = s->domain;
	prm.helo = req->helo;
	prm.receiver = chk_hostname(run);
	prm.now = chk_now(run);
	prm.match = &s->match;
	rc = chk_dns(run) == NULL ? -1
	    : spf_check(&res, &prm, spf_answer, run, &s->c, &r);
	if (rc == 1)
		got(run, r, NULL, r == SPF_NONE ? "not a domain name" : NULL);
	else if (rc < 0)
		got(run, SPF_TEMPERROR, NULL, "no resolver");
}

/* before_mail - a request from a stage that has no sender yet */
static bool
before_mail(const char *state)
{
	static const char *const early[] = { "CONNECT", "EHLO", "HELO", "VRFY",
		"ETRN" };
	size_t i;

	for (i = 0; i < sizeof(early) / sizeof(early[0]); i++)
		if (strcmp(state, early[i]) == 0)
			return true;
	return false;
}

static void
spf_start(struct chk_run *run)
{
	const struct req *req = chk_req(run);
	const struct spf_conf *conf = chk_conf(run);
	const struct spf_memo *m = chk_memo(run, sizeof(*m));
	struct spf_state *s;
	const struct cidr *net;
	char buf[CIDR_STRLEN];

	if (!req->has_client_ip) {
		chk_done(run, CHK_NEUTRAL, "no client address");
		return;
	}
	if (before_mail(req->protocol_state)) {
		/* Postfix sends sender= empty before MAIL FROM too: that is
		 * no null sender, there is no identity yet. */
		chk_done(run, CHK_NEUTRAL, "not checked before MAIL FROM (%s)",
		    req->protocol_state);
		return;
	}
	if ((net = spf_in_nets(conf->forwarders, conf->nforwarders,
	    &req->client_ip)) != NULL) {
		chk_done(run, CHK_NEUTRAL, "not checked: %s is a trusted "
					   "forwarder (%s)", req->client_addr,
		    cidr_format(net, buf, sizeof(buf)));
		return;
	}
	if ((net = spf_in_nets(conf->secondary_mx, conf->nsecondary_mx,
	    &req->client_ip)) != NULL) {
		chk_done(run, CHK_NEUTRAL, "not checked: %s is our secondary MX "
					   "(%s)", req->client_addr,
		    cidr_format(net, buf, sizeof(buf)));
		return;
	}
	s = arena_alloc(chk_arena(run), sizeof(*s));
	memset(s, 0, sizeof(*s));
	*chk_state(run) = s;
	s->key = ident_key(req);
	if (m != NULL && m->known && m->key == s->key) {
		/* The same message: no second evaluation, no second header. */
		chk_set_dsn(run, arena_strdup(chk_arena(run), m->dsn));
		if (m->pool[0] != '\0')
			chk_set_identity(run, CHK_ID_SPF_DOMAIN,
			    arena_strdup(chk_arena(run), m->pool));
		chk_set_spf(run, chk_spf_of((enum spf_result)m->result));
		chk_done_result(run, (enum chk_status)m->status, m->result,
		    "%s (once per message)", m->reason);
		return;
	}
	s->helo_phase = conf->helo_first && req->sender.full != NULL &&
	    !req->sender.is_null && req->helo != NULL;
	evaluate(run);
}

static void
spf_cancel_run(struct chk_run *run)
{
	struct spf_state *s = *chk_state(run);

	/* Cut by the deadline: a temperror, whose code is 4.7.24. */
	chk_set_dsn(run, "5.7.24");
	if (s != NULL && s->c != NULL) {
		spf_cancel(s->c);
		s->c = NULL;
	}
}

extern const struct chk_def chk_spf_def; /* spf_conf.c */

const struct chk_ops chk_spf_ops = {
	.def = &chk_spf_def,
	.start = spf_start,
	.cancel = spf_cancel_run,
};
