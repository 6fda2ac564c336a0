/*
 * backscatter - servers that bounce mail to forged senders, a PRE module.
 *
 * A block refuses mail for days, so it needs evidence that neither a
 * forger nor an ordinary auto-reply can supply. A bounce (null sender)
 * is judged at DATA or END-OF-MESSAGE only (a sender-verification probe
 * stops at RCPT), recipient by recipient: the one recipient Postfix
 * names, or, for a bounce to several, those the message's RCPT requests
 * named (kept in the message memo; when they do not add up to
 * recipient_count, nobody is judged). A recipient is a hit when it is
 * not our own tag (BATV prvs=, SRS, VERP), not exempt (postmaster@,
 * abuse@), and sent nothing within bounce_window (the outbound table,
 * outbound.h). A vacation reply or one misdirected DSN is one such
 * recipient; a backscatter source bounces to many: the client is
 * blocked once threshold distinct recipients were hits within
 * hit_window (3 in a day by default), for block_for.
 *
 * Our own relays are never blocked: local_networks (they are our users
 * and skip PRE modules) and every relay a check names (spf's
 * secondary_mx and forwarders: chk_our_relay), with never_block on top.
 *
 * During a block (scope: defer, the default) a bounce gets 554 and any
 * other mail 450: a real message from a server that also sent
 * backscatter waits in its queue and comes after the block instead of
 * bouncing. scope: all refuses everything (the seed's rule); scope:
 * bounces, shared_platforms and a client a high-trust allowlisting
 * vouched for (CHK_ID_TRUSTED, kept for the message) refuse bounces
 * only. Mail to exempt_recipients always passes.
 *
 * Until the outbound table holds bounce_window of history, nobody is
 * blocked (a fresh store would take every bounce for backscatter); the
 * log says when detection starts.
 *
 * Bounces are judged at DATA only, so detection needs Postfix to ask in
 * smtpd_data_restrictions: when RCPT requests have come for an hour and
 * no DATA request at all, the log says so once and the metrics file
 * shows it (policyd_backscatter_data_requests_missing).
 *
 * Table backscatter: key "h" NUL client address; value lib/backscatter.h.
 */
#include "chk.h"
#include "backscatter_conf.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "arena.h"
#include "backscatter.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "outbound.h"
#include "request.h"
#include "store.h"
#include "xalloc.h"

#define BS_ADDR_MAX 330 /* a recipient we judge, lower-cased */

/* The warm-up's start, logged once per value (process-wide). */
static bool said;
static int64_t said_start;

#define DATA_WAIT 3600 /* seconds of RCPT requests without any at DATA */

/* For the daemon's life: whether Postfix asks at DATA at all. */
struct bs_proc {
	bool on;            /* backscatter is enabled in the policy */
	int64_t rcpt_since; /* the first RCPT since the last DATA; 0: none */
	bool missing;       /* an hour of RCPTs, and no DATA request */
	bool warned;
};

static void *
bs_init(const struct chk_ctx *ctx)
{
	(void)ctx;
	return xcalloc(1, sizeof(struct bs_proc));
}

static void
bs_deinit(void *proc)
{
	free(proc);
}

/* bs_configure - ops->configure: only an enabled check is watched */
static void
bs_configure(void *proc, const struct chk_policy *pol)
{
	struct bs_proc *pr = proc;

	pr->on = pol->enabled;
	if (!pr->on) {
		pr->rcpt_since = 0;
		pr->missing = false;
	}
}

/* bs_metrics - ops->metrics: DATA requests missing */
static void
bs_metrics(void *proc, struct mtext *t)
{
	const struct bs_proc *pr = proc;

	if (!pr->on)
		return;
	mt_one(t, "policyd_backscatter_data_requests_missing", "gauge",
	    "1 if RCPT requests came for an hour and none at DATA: bounces "
	    "are judged at DATA, so backscatter detection needs "
	    "smtpd_data_restrictions to ask policyd.", pr->missing);
}

/* watch_data - a request's state: does Postfix ask at DATA at all? */
static void
watch_data(struct chk_run *run, unsigned state)
{
	struct bs_proc *pr = chk_proc(run);
	int64_t now = chk_now(run);

	if (pr == NULL)
		return;
	if (state & (CHK_ST_DATA | CHK_ST_EOM)) {
		pr->rcpt_since = 0;
		pr->missing = false;
		return;
	}
	if (state != CHK_ST_RCPT)
		return;
	if (pr->rcpt_since == 0 || pr->rcpt_since > now)
		pr->rcpt_since = now;
	if (now - pr->rcpt_since < DATA_WAIT)
		return;
	pr->missing = true;
	if (!pr->warned) {
		pr->warned = true;
		log_warn("backscatter: RCPT requests for an hour and not one at "
		    "DATA: bounces are judged at DATA, so no backscatter is "
		    "ever detected; add check_policy_service to "
		    "smtpd_data_restrictions in main.cf");
	}
}

/* One request's steps. */
enum bs_step { BS_RECORD, BS_SINCE, BS_SENT, BS_HIT };

/*
 * The message memo: the recipients its RCPT requests named while the
 * sender was null, for the judgement at DATA of a bounce to several.
 */
struct bs_memo {
	unsigned n;        /* addresses in buf */
	bool full;         /* one did not fit: the list is not whole */
	size_t len;
	char buf[CHK_MEMO_MAX - 64]; /* lower-cased, NUL after each */
};

struct bs_run {
	struct store *st;
	struct store_op *op;
	enum bs_step step;
	char key[64];
	size_t klen;
	int64_t now;
	bool blocked_now;  /* the hits made the block */
	bool any_exempt;   /* a recipient of the message is exempt */
	struct bs_rec rec;
	/* The recipients judged (DATA, EOM): candidates, and the hits. */
	char rcpt[BS_MAX_RCPTS][BS_ADDR_MAX];
	unsigned nrcpt, next;
	bool hit[BS_MAX_RCPTS];
	unsigned nhits;
};

/* iso - UTC time for the refusal text */
static const char *
iso(struct arena *a, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[32];

	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", &tm);
	return arena_strdup(a, buf);
}

/* lower - an address lower-cased into out; false if it does not fit */
static bool
lower(char *out, size_t size, const char *in)
{
	size_t i;

	for (i = 0; in[i] != '\0'; i++) {
		if (i + 1 >= size)
			return false;
		out[i] = (char)tolower((unsigned char)in[i]);
	}
	out[i] = '\0';
	return i > 0;
}

/* exempt - a recipient that always gets through (postmaster@) */
static bool
exempt(const struct bs_conf *c, const char *rcpt)
{
	size_t i, n;

	for (i = 0; rcpt[0] && i < c->nexempt; i++) {
		n = strlen(c->exempt[i]);
		if (c->exempt[i][n - 1] == '@'
		    ? strncmp(rcpt, c->exempt[i], n) == 0
		    : strcmp(rcpt, c->exempt[i]) == 0)
			return true;
	}
	return false;
}

/* shared - the client is one address of a shared outbound platform */
static bool
shared(const struct bs_conf *c, const struct req *req)
{
	size_t i, nl = req->client_name ? strlen(req->client_name) : 0;

	for (i = 0; i < c->nshared; i++)
		if (cidr_match(&c->shared[i], &req->client_ip))
			return true;
	for (i = 0; nl > 0 && i < c->nshared_names; i++) {
		size_t sl = strlen(c->shared_names[i]);

		if (nl > sl && strcasecmp(req->client_name + nl - sl,
		    c->shared_names[i]) == 0)
			return true;
	}
	return false;
}

/* tagged - a local part our own outbound system tags (BATV, SRS) */
static bool
tagged(const struct bs_conf *c, const char *rcpt)
{
	size_t i;

	for (i = 0; i < c->ntags; i++)
		if (strncmp(rcpt, c->tags[i], strlen(c->tags[i])) == 0)
			return true;
	return false;
}

/* remember - a recipient of a bounce at RCPT, for its DATA */
static void
remember(struct chk_run *run, const char *addr)
{
	struct bs_memo *m = chk_memo(run, sizeof(*m));
	size_t n = strlen(addr), o;

	if (m == NULL)
		return;
	for (o = 0; o < m->len; o += strlen(m->buf + o) + 1)
		if (strcmp(m->buf + o, addr) == 0)
			return;
	if (m->len + n + 1 > sizeof(m->buf)) {
		m->full = true;
		return;
	}
	memcpy(m->buf + m->len, addr, n + 1);
	m->len += n + 1;
	m->n++;
}

/*
 * recipients - the message's recipients, as far as they are known: the
 * request's own (one), or at DATA of a bounce to several those its RCPT
 * requests named, when they add up to recipient_count. false: unknown.
 */
static bool
recipients(struct chk_run *run, struct bs_run *b)
{
	const struct req *req = chk_req(run);
	const char *cnt = req->attr[PA_RECIPIENT_COUNT];
	unsigned long count = cnt != NULL ? strtoul(cnt, NULL, 10) : 0;
	const struct bs_memo *m;
	size_t o;

	b->nrcpt = 0;
	if (count <= 1 || chk_state_bit(req->protocol_state) == CHK_ST_RCPT) {
		if (req->rcpt.full == NULL)
			return false;
		if (lower(b->rcpt[0], sizeof(b->rcpt[0]), req->rcpt.full))
			b->nrcpt = 1;
		return b->nrcpt == 1;
	}
	/* Postfix names no recipient at DATA when there are several. */
	m = chk_memo(run, sizeof(*m));
	if (m == NULL || m->full || m->n != count)
		return false;
	for (o = 0; o < m->len && b->nrcpt < BS_MAX_RCPTS;
	    o += strlen(m->buf + o) + 1)
		snprintf(b->rcpt[b->nrcpt++], sizeof(b->rcpt[0]), "%s",
		    m->buf + o);
	return true;
}

static void step_done(void *arg, const struct store_reply *r);

/* call - the store call of a step, whose reply comes to step_done */
static struct store_call
call(struct chk_run *run, struct bs_run *b, struct store_reply *out)
{
	return (struct store_call){ .budget_ms = chk_time_left_ms(run),
		.group = true, .done = step_done, .arg = run, .op = &b->op,
		.out = out };
}

/*
 * blocked - the block's outcome for this request: a bounce is refused,
 * other mail deferred (or refused with scope: all); what was already
 * counted says since when and until when
 */
static void
blocked(struct chk_run *run, const struct bs_run *b, bool bounce)
{
	const struct bs_conf *c = chk_conf(run);
	struct arena *a = chk_arena(run);
	const char *client = chk_req(run)->client_addr;
	const char *who = c->contact ? c->contact : "our postmaster";
	struct chk_decision d = { .dsn = "5.7.1" };

	if (bounce || c->scope == BS_SCOPE_ALL) {
		d.say = CHK_SAY_REFUSE;
		d.code = "554";
		d.text = arena_printf(a, "Service unavailable; client %s is "
		    "blocked since %s until %s because it sent us bounces for "
		    "mail we never sent (backscatter); accept mail only for "
		    "recipients you can deliver to, and contact %s to be "
		    "unblocked sooner", client, iso(a, b->rec.since),
		    iso(a, b->rec.until), who);
		d.rule = arena_printf(a, "backscatter:blocked(hits=%u)",
		    b->rec.hits);
		chk_block(run, &d);
		chk_done(run, CHK_FAIL, "blocked until %s",
		    iso(a, b->rec.until));
		return;
	}
	d.say = CHK_SAY_DEFER;
	d.code = "450";
	d.dsn = "4.7.1";
	d.text = arena_printf(a, "Service temporarily unavailable; client %s "
	    "is blocked until %s because it sent us bounces for mail we never "
	    "sent (backscatter); this message is not a bounce, so it is "
	    "only deferred: keep it queued and it is accepted after %s, or "
	    "contact %s to be unblocked sooner", client, iso(a, b->rec.until),
	    iso(a, b->rec.until), who);
	d.rule = arena_printf(a, "backscatter:deferred(hits=%u)", b->rec.hits);
	chk_block(run, &d);
	chk_done(run, CHK_FAIL, "blocked until %s: deferred",
	    iso(a, b->rec.until));
}

/* ask_sent - the next candidate's outbound record, or the hits */
static void
ask_sent(struct chk_run *run, struct bs_run *b)
{
	struct store_reply out;
	struct store_call sc;
	char k[STORE_KEY_MAX];
	unsigned char val[STORE_VAL_MAX];
	struct store_rec rec;
	size_t kl = 0;

	while (b->next < b->nrcpt && (kl = outbound_key(k, sizeof(k),
	    b->rcpt[b->next], NULL)) == 0)
		b->next++; /* no key for it: judged as no hit */
	if (b->next < b->nrcpt) {
		b->step = BS_SENT;
		sc = call(run, b, &out);
		store_settle(&sc, b->st->ops->get(b->st, OUTBOUND_TABLE, k, kl,
		    &sc));
		return;
	}
	if (b->nhits == 0) {
		chk_done(run, CHK_PASS, "%s sent mail lately: a real bounce",
		    b->nrcpt == 1 ? b->rcpt[0] : "every recipient");
		return;
	}
	b->step = BS_HIT;
	{
		const struct bs_conf *c = chk_conf(run);
		struct bs_hit *h = arena_alloc(chk_arena(run), sizeof(*h));
		unsigned char *param = arena_alloc(chk_arena(run),
		    STORE_PARAM_MAX);
		struct store_update *up = arena_alloc(chk_arena(run),
		    sizeof(*up));
		unsigned i;

		memset(h, 0, sizeof(*h));
		h->now = b->now;
		h->hit_window = c->hit_window;
		h->block_for = c->block_for;
		h->threshold = c->threshold;
		h->trusted = chk_identity(run, CHK_ID_TRUSTED) != NULL;
		for (i = 0; i < b->nrcpt; i++) {
			size_t len = strlen(b->rcpt[i]);

			if (!b->hit[i])
				continue;
			h->hash[h->n] = bs_rcpt_hash(b->rcpt[i]);
			/* the text for people, if it fits (memset: "") */
			if (len <= BS_HIT_TEXT)
				memcpy(h->rcpt[h->n], b->rcpt[i], len + 1);
			h->n++;
		}
		*up = (struct store_update){ STORE_UPD_MERGE,
			"backscatter.hit", param, bs_hit_encode(h, param) };
		rec = (struct store_rec){ b->key, b->klen, val, 0, 0, up };
	}
	sc = call(run, b, &out);
	store_settle(&sc, b->st->ops->put(b->st, BS_TABLE, &rec, 1, &sc));
}

/*
 * judge_bounce - a bounce at DATA/EOM: its recipients, each a hit if it
 * is backscatter
 */
static void
judge_bounce(struct chk_run *run, struct bs_run *b)
{
	const struct bs_conf *c = chk_conf(run);
	struct store_reply out;
	struct store_call sc;
	unsigned i, n;

	if (!recipients(run, b)) {
		chk_done(run, CHK_NEUTRAL, "the bounce's recipients are not "
		    "known: nothing counted");
		return;
	}
	/* Our own tags and exempt recipients are no hits. */
	for (i = n = 0; i < b->nrcpt; i++) {
		if (exempt(c, b->rcpt[i]))
			b->any_exempt = true;
		else if (!tagged(c, b->rcpt[i]))
			memmove(b->rcpt[n++], b->rcpt[i], sizeof(b->rcpt[0]));
	}
	b->nrcpt = n;
	if (n == 0) {
		chk_done(run, CHK_NEUTRAL, "no bounce to judge");
		return;
	}
	b->step = BS_SINCE;
	sc = call(run, b, &out);
	store_settle(&sc, b->st->ops->get(b->st, OUTBOUND_TABLE,
	    OUTBOUND_COVER, sizeof(OUTBOUND_COVER) - 1, &sc));
}

/*
 * warming - the history does not cover bounce_window up to now: said
 * once per start time
 */
static void
warming(struct chk_run *run, int64_t start)
{
	if (start != said_start || !said) {
		said = true;
		said_start = start;
		if (start != 0)
			log_info("backscatter: our users' outbound history "
			    "does not cover bounce_window yet: detection "
			    "starts at %s", iso(chk_arena(run), start));
		else
			log_info("backscatter: no outbound history that "
			    "reaches the present: detection starts "
			    "bounce_window after the outbound module (or an "
			    "import of the mail log up to now) covers it");
	}
	chk_done(run, CHK_NEUTRAL, "outbound history does not cover "
	    "bounce_window: detection starts later");
}

/*
 * unseen - no mail of our users was recorded within bounce_window: said
 * once per process
 */
static void
unseen(struct chk_run *run)
{
	static bool told;

	if (!told) {
		told = true;
		log_warn("backscatter: no mail of our users recorded within "
		    "bounce_window, so no bounce can be told from backscatter "
		    "and nobody is blocked; if they do send mail, it does not "
		    "pass policyd: ask it before permit_mynetworks and "
		    "permit_sasl_authenticated (and on the submission port), "
		    "or import the mail log");
	}
	chk_done(run, CHK_NEUTRAL, "no mail of our users recorded within "
	    "bounce_window: nothing judged");
}

/* record_read - the client's record: blocked, or on to the bounce */
static void
record_read(struct chk_run *run, struct bs_run *b, const struct store_reply *r)
{
	const struct bs_conf *c = chk_conf(run);
	const struct req *req = chk_req(run);
	unsigned state = chk_state_bit(req->protocol_state), i;
	bool bounce = req->sender.is_null;
	bool rcpt_known = (state & (CHK_ST_RCPT | CHK_ST_DATA | CHK_ST_EOM))
	    != 0;

	if (r->rc == 0 && bs_rec_decode(r->val, r->vlen, &b->rec) &&
	    b->rec.until > b->now) {
		bool others = c->scope != BS_SCOPE_BOUNCES &&
		    !shared(c, req) && !b->rec.trusted &&
		    chk_identity(run, CHK_ID_TRUSTED) == NULL;
		bool known;

		/* Before RCPT nobody is judged, so that postmaster@ stays
		 * reachable; scope: all refuses at every state (the seed's
		 * rule). */
		if (!rcpt_known) {
			if (c->scope == BS_SCOPE_ALL && others)
				blocked(run, b, bounce);
			else
				chk_done(run, CHK_NEUTRAL, "blocked: judged "
				    "at RCPT");
			return;
		}
		known = recipients(run, b);
		for (i = 0; known && i < b->nrcpt; i++)
			b->any_exempt = b->any_exempt ||
			    exempt(c, b->rcpt[i]);
		if (b->any_exempt) {
			/* Accepted: its DATA must know it was. */
			if (bounce && state == CHK_ST_RCPT)
				remember(run, b->rcpt[0]);
			chk_done(run, CHK_NEUTRAL, "blocked, but %s is exempt",
			    b->nrcpt == 1 ? b->rcpt[0] : "a recipient");
			return;
		}
		/* DATA of a message to several: RCPT judged each. */
		if (!known) {
			chk_done(run, CHK_NEUTRAL, "blocked: its recipients "
			    "were judged at RCPT");
			return;
		}
		if (bounce || others) {
			blocked(run, b, bounce);
			return;
		}
		chk_done(run, CHK_NEUTRAL, "blocked for bounces only");
		return;
	}
	if (!bounce) {
		chk_done(run, CHK_NEUTRAL, "not blocked");
		return;
	}
	if (state == CHK_ST_RCPT && req->rcpt.full != NULL) {
		char a[BS_ADDR_MAX];

		if (lower(a, sizeof(a), req->rcpt.full))
			remember(run, a);
		chk_done(run, CHK_NEUTRAL, "not blocked");
		return;
	}
	if (!(state & (CHK_ST_DATA | CHK_ST_EOM))) {
		chk_done(run, CHK_NEUTRAL, "not blocked");
		return;
	}
	if (chk_dry(run)) {
		chk_done(run, CHK_NEUTRAL, "dry run: no hit counted");
		return;
	}
	judge_bounce(run, b);
}

/* step_done - the store's reply to the step under way */
static void
step_done(void *arg, const struct store_reply *r)
{
	struct chk_run *run = arg;
	const struct bs_conf *c = chk_conf(run);
	const struct req *req = chk_req(run);
	struct bs_run *b = *chk_state(run);
	struct arena *a = chk_arena(run);
	unsigned i;

	b->op = NULL;
	if (r->rc < 0) {
		/* Store trouble: nobody is blocked for it. */
		chk_store_report(run, r->rc, r->why.text);
		chk_done(run, CHK_TEMPFAIL, "%s", r->why.text);
		return;
	}
	chk_store_report(run, 0, NULL);
	switch (b->step) {
	case BS_RECORD:
		record_read(run, b, r);
		return;
	case BS_SINCE: {
		struct outbound_cover cov;
		int64_t starts = 0;

		if (r->rc != 0 || !outbound_cover_decode(r->val, r->vlen,
		    &cov) || !outbound_cover_live(&cov, b->now, c->window,
		    OUTBOUND_MAX_GAP, &starts)) {
			warming(run, r->rc == 0 ? starts : 0);
			return;
		}
		/* No mail of our users at all in the window: their mail
		 * does not pass policyd, and no bounce can be told from
		 * backscatter. */
		if (b->now - cov.last > c->window) {
			unseen(run);
			return;
		}
		b->next = 0;
		ask_sent(run, b);
		return;
	}
	case BS_SENT:
		/* Sent within bounce_window: a real bounce to this one. */
		if (!(r->rc == 0 && r->vlen == 8 && b->now -
		    (int64_t)store_get_u64(r->val) <= c->window)) {
			b->hit[b->next] = true;
			b->nhits++;
		}
		b->next++;
		ask_sent(run, b);
		return;
	case BS_HIT:
	default: {
		struct bs_rec prev;

		/* What the merge wrote, and whether it made the block: none
		 * in force before, one now. */
		memset(&b->rec, 0, sizeof(b->rec));
		bs_rec_decode(r->val, r->vlen, &b->rec);
		b->blocked_now = b->rec.until > b->now && b->rec.since ==
		    b->now && !(r->prev_found && bs_rec_decode(r->prev,
		    r->prev_len, &prev) && prev.until > b->now);
		/* The metrics' count of blocks follows (a block made or
		 * lengthened). */
		if (r->rc == 0 && b->rec.until > b->now)
			bs_blocks_note(b->key, b->klen, b->rec.until);
		for (i = 0; i < b->nrcpt; i++)
			if (b->hit[i])
				log_warn("backscatter: %s bounced to %s, who "
				    "sent nothing: %u of %u distinct recipients "
				    "within hit_window%s%s", req->client_addr,
				    b->rcpt[i], b->blocked_now ? c->threshold
				    : bs_rec_recent(&b->rec, b->now,
					c->hit_window), c->threshold,
				    b->blocked_now ? "; blocked until " : "",
				    b->blocked_now ? iso(a, b->rec.until) : "");
		/* The bounce that completes the evidence is refused, unless
		 * the message also goes to an exempt recipient. */
		if (b->blocked_now && !b->any_exempt) {
			blocked(run, b, true);
			return;
		}
		chk_done(run, CHK_FAIL, "backscatter: %u hit%s", b->nhits,
		    b->nhits == 1 ? "" : "s");
		return;
	}
	}
}

static void
bs_start(struct chk_run *run)
{
	const struct bs_conf *c = chk_conf(run);
	const struct req *req = chk_req(run);
	struct bs_run *b;
	struct store_reply out;
	struct store_call sc;
	size_t i;

	watch_data(run, chk_state_bit(req->protocol_state));
	if (!req->has_client_ip) {
		chk_done(run, CHK_NEUTRAL, "no client address");
		return;
	}
	for (i = 0; i < c->nnever; i++) {
		if (cidr_match(&c->never[i], &req->client_ip)) {
			chk_done(run, CHK_NEUTRAL, "never blocked");
			return;
		}
	}
	if (chk_our_relay(run)) {
		chk_done(run, CHK_NEUTRAL, "our own relay: never blocked");
		return;
	}
	b = arena_alloc(chk_arena(run), sizeof(*b));
	memset(b, 0, sizeof(*b));
	*chk_state(run) = b;
	if ((b->st = store_get(chk_store(run))) == NULL) {
		chk_done(run, CHK_NEUTRAL, "the store is not open");
		return;
	}
	b->now = chk_now(run);
	b->klen = bs_key(b->key, sizeof(b->key), req->client_addr);
	b->step = BS_RECORD;
	sc = call(run, b, &out);
	store_settle(&sc, b->st->ops->get(b->st, BS_TABLE, b->key, b->klen,
	    &sc));
}

static void
bs_cancel(struct chk_run *run)
{
	struct bs_run *b = *chk_state(run);

	if (b != NULL && b->op != NULL) {
		b->st->ops->cancel(b->op);
		b->op = NULL;
	}
}

extern const struct chk_def chk_backscatter_def; /* backscatter_conf.c */

const struct chk_ops chk_backscatter_ops = {
	.def = &chk_backscatter_def,
	.init = bs_init,
	.deinit = bs_deinit,
	.configure = bs_configure,
	.metrics = bs_metrics,
	.start = bs_start,
	.cancel = bs_cancel,
};
