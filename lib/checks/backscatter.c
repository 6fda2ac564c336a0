/*
 * backscatter - servers that bounce mail to forged senders, a PRE module.
 *
 * A hit: at DATA or END-OF-MESSAGE (a bounce really being delivered; a
 * sender-verification probe stops at RCPT), mail from the null sender
 * to one local recipient that sent nothing within bounce_window (the
 * outbound table, outbound.h), unless its local part carries a tag our
 * own outbound system adds (BATV prvs=, SRS, VERP: tags). threshold
 * hits within block_for block the client for block_for: every contact
 * refused (scope: all) or only null-sender mail (scope: bounces, and
 * always for clients of shared_platforms, and for a client that a
 * high-trust allowlisting vouched for when it caused a hit: the DNS
 * lists run after PRE, so their word comes from the bounce's own RCPT,
 * kept for the message, CHK_ID_TRUSTED), except mail to
 * exempt_recipients (postmaster@, abuse@: RFC 5321 4.5.1) and from
 * never_block networks. A bounce with more than one recipient is
 * refused at DATA. Until the outbound table holds bounce_window of
 * history, nobody is blocked (a fresh store would take every bounce for
 * backscatter); the log says when detection starts.
 *
 * Table backscatter: key "h" NUL client address; value: first and last
 * hit, hits, blocked since and until (8 bytes each but hits, 4), then
 * the last recipients that caused hits ("a@x b@y").
 */
#include "chk.h"

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
#include "outbound.h"
#include "request.h"
#include "store.h"
#include "xalloc.h"


struct bs_conf {
	int64_t window, block_for;
	unsigned threshold;
	bool scope_all;
	char **exempt;   /* "postmaster@", "abuse@", or whole addresses */
	size_t nexempt;
	char **tags;     /* local-part prefixes that are our own */
	size_t ntags;
	struct cidr *never;
	size_t nnever;
	struct cidr *shared;
	size_t nshared;
	char **shared_names; /* verified-name suffixes: .outlook.com */
	size_t nshared_names;
	char *contact;   /* whom a blocked sender writes to */
};

static const char *const bs_options[] = { "bounce_window", "block_for",
	"threshold", "scope", "exempt_recipients", "tags", "never_block",
	"shared_platforms", "shared_platform_names", "contact", NULL };

static void
add(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(char *));
	(*v)[(*n)++] = xstrdup(s);
}

static void
bs_conf_init(void *conf)
{
	struct bs_conf *c = conf;
	static const char *const tags[] = { "prvs=", "msprvs1=", "btv1==",
		"srs0=", "srs1=" };
	static const char *const shared[] = { ".outlook.com",
		".protection.outlook.com", ".google.com", ".amazonses.com",
		".mailchimpapp.net", ".sendgrid.net", ".yahoo.com",
		".mail.ru", ".gmx.net", ".web.de" };
	size_t i;

	memset(c, 0, sizeof(*c));
	c->window = 7 * 86400;
	c->block_for = 4 * 86400;
	c->threshold = 1;
	c->scope_all = true;
	add(&c->exempt, &c->nexempt, "postmaster@");
	add(&c->exempt, &c->nexempt, "abuse@");
	for (i = 0; i < nitems(tags); i++)
		add(&c->tags, &c->ntags, tags[i]);
	for (i = 0; i < nitems(shared); i++)
		add(&c->shared_names, &c->nshared_names, shared[i]);
}

static void
bs_conf_free(void *conf)
{
	struct bs_conf *c = conf;

	strv_free(c->exempt, c->nexempt);
	strv_free(c->tags, c->ntags);
	strv_free(c->shared_names, c->nshared_names);
	free(c->never);
	free(c->shared);
	free(c->contact);
}

static void
copyv(char ***dst, size_t *nd, char **src, size_t ns)
{
	size_t i;

	*dst = NULL;
	*nd = 0;
	for (i = 0; i < ns; i++)
		add(dst, nd, src[i]);
}

static void
bs_conf_copy(void *dst, const void *src)
{
	const struct bs_conf *s = src;
	struct bs_conf *d = dst;

	*d = *s;
	copyv(&d->exempt, &d->nexempt, s->exempt, s->nexempt);
	copyv(&d->tags, &d->ntags, s->tags, s->ntags);
	copyv(&d->shared_names, &d->nshared_names, s->shared_names,
	    s->nshared_names);
	d->never = s->nnever ? xmalloc(s->nnever * sizeof(*s->never)) : NULL;
	if (s->nnever)
		memcpy(d->never, s->never, s->nnever * sizeof(*s->never));
	d->shared = s->nshared ? xmalloc(s->nshared * sizeof(*s->shared))
			       : NULL;
	if (s->nshared)
		memcpy(d->shared, s->shared, s->nshared * sizeof(*s->shared));
	d->contact = s->contact ? xstrdup(s->contact) : NULL;
}

/* lowerv - a list of strings replaced by the file's, lower-cased */
static int
lowerv(struct cfg_parser *p, struct cfg_node *n, const char *what,
    char ***v, size_t *nv)
{
	size_t i;
	char *q;

	strv_free(*v, *nv);
	*v = NULL;
	*nv = 0;
	if (cfg_strings(p, n, what, v, nv) < 0)
		return -1;
	for (i = 0; i < *nv; i++)
		for (q = (*v)[i]; *q; q++)
			*q = (char)tolower((unsigned char)*q);
	return 0;
}

static int
bs_setup(struct cfg_parser *p, struct chk_policy *pol,
    struct cfg_node *const *v, void *conf)
{
	static const char *const scopes[] = { "all", "bounces", NULL };
	struct bs_conf *c = conf;
	int scope;

	(void)pol;
	if (v[0] && cfg_seconds(p, v[0], "backscatter: bounce_window", 86400,
	    60 * 86400, &c->window) < 0)
		return -1;
	if (v[1] && cfg_seconds(p, v[1], "backscatter: block_for", 3600,
	    60 * 86400, &c->block_for) < 0)
		return -1;
	if (v[2] && cfg_uint(p, v[2], "backscatter: threshold", 1, 1000,
	    &c->threshold) < 0)
		return -1;
	if (v[3]) {
		if (cfg_choice(p, v[3], "backscatter: scope", scopes,
		    &scope) < 0)
			return -1;
		c->scope_all = scope == 0;
	}
	if (v[4] && lowerv(p, v[4], "backscatter: exempt_recipients",
	    &c->exempt, &c->nexempt) < 0)
		return -1;
	if (v[5] && lowerv(p, v[5], "backscatter: tags", &c->tags,
	    &c->ntags) < 0)
		return -1;
	if (v[6] && cfg_nets(p, v[6], "backscatter: never_block", &c->never,
	    &c->nnever) < 0)
		return -1;
	if (v[7] && cfg_nets(p, v[7], "backscatter: shared_platforms",
	    &c->shared, &c->nshared) < 0)
		return -1;
	if (v[8] && lowerv(p, v[8], "backscatter: shared_platform_names",
	    &c->shared_names, &c->nshared_names) < 0)
		return -1;
	if (v[9]) {
		if (cfg_string(p, v[9], "backscatter: contact", &c->contact) <
		    0)
			return -1;
		if (strlen(c->contact) > 100 ||
		    strpbrk(c->contact, "\r\n\t") != NULL)
			return cfg_fail(p, v[9], "backscatter: contact: at "
						 "most 100 characters, no "
						 "control characters");
	}
	return 0;
}

/* The warm-up's start, logged once per value (process-wide). */
static bool said;
static int64_t said_start;

/* One request's steps. */
enum bs_step { BS_RECORD, BS_SINCE, BS_SENT, BS_HIT };

struct bs_run {
	struct store *st;
	struct store_op *op;
	enum bs_step step;
	char key[64];
	size_t klen;
	char rcpt[330];
	int64_t now;
	bool blocked_now;  /* the hit made the block */
	struct bs_rec rec;
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

static void step_done(void *arg, const struct store_reply *r);

/* call - the store call of a step, whose reply comes to step_done */
static struct store_call
call(struct chk_run *run, struct bs_run *b, struct store_reply *out)
{
	return (struct store_call){ .budget_ms = chk_time_left_ms(run),
		.done = step_done, .arg = run, .op = &b->op, .out = out };
}

/* refuse_blocked - the block's refusal, in the sender's terms */
static void
refuse_blocked(struct chk_run *run, const struct bs_run *b)
{
	const struct bs_conf *c = chk_conf(run);
	struct arena *a = chk_arena(run);

	chk_block(run, &(struct chk_decision){ .say = CHK_SAY_REFUSE,
	    .code = "554", .dsn = "5.7.1", .text = arena_printf(a, "Service "
	    "unavailable; client %s is blocked since %s until %s because it "
	    "sent us bounces for mail we never sent (backscatter); accept "
	    "mail only for recipients you can deliver to, and contact %s to "
	    "be unblocked sooner", chk_req(run)->client_addr,
	    iso(a, b->rec.since), iso(a, b->rec.until),
	    c->contact ? c->contact : "our postmaster"),
	    .rule = arena_printf(a, "backscatter:blocked(hits=%u)",
		b->rec.hits) });
	chk_done(run, CHK_FAIL, "blocked until %s", iso(a, b->rec.until));
}

/* hit_merge - store_merge_fn: one more hit, and the block when due */
static bool
hit_merge(void *arg, const struct store_rec *old, struct store_rec *out)
{
	struct chk_run *run = arg;
	const struct bs_conf *c = chk_conf(run);
	struct bs_run *b = *chk_state(run);
	struct bs_rec r;
	size_t n;

	if (old == NULL || !bs_rec_decode(old->val, old->vlen, &r)) {
		memset(&r, 0, sizeof(r));
		r.first = b->now;
	}
	if (b->now - r.first > c->block_for) { /* an old series: anew */
		r.first = b->now;
		r.hits = 0;
		r.trusted = false;
		r.rcpts[0] = '\0';
	}
	r.last = b->now;
	r.hits++;
	/* A client a high-trust allowlisting vouches for is one address of
	 * a shared platform: its block is for bounces only. */
	if (chk_identity(run, CHK_ID_TRUSTED) != NULL)
		r.trusted = true;
	n = strlen(r.rcpts);
	if (n + strlen(b->rcpt) + 2 < sizeof(r.rcpts)) {
		size_t rl = strlen(b->rcpt);

		if (n > 0)
			r.rcpts[n++] = ' ';
		memcpy(r.rcpts + n, b->rcpt, rl + 1);
	}
	b->blocked_now = false;
	if (r.hits >= c->threshold && r.until <= b->now) {
		r.since = b->now;
		r.until = b->now + c->block_for;
		b->blocked_now = true;
	}
	b->rec = r;
	out->vlen = bs_rec_encode(&r, (unsigned char *)(uintptr_t)out->val);
	out->expires = (r.until > b->now ? r.until : b->now) + c->block_for;
	return true;
}

/* judge_bounce - a DATA/EOM bounce: count it if it is backscatter */
static void
judge_bounce(struct chk_run *run, struct bs_run *b)
{
	const struct bs_conf *c = chk_conf(run);
	const struct req *req = chk_req(run);
	const char *cnt = req->attr[PA_RECIPIENT_COUNT];
	struct store_reply out;
	struct store_call sc;

	if (cnt != NULL && strtoul(cnt, NULL, 10) > 1) {
		chk_block(run, &(struct chk_decision){ .say = CHK_SAY_REFUSE,
		    .code = "554", .dsn = "5.7.1", .text = arena_printf(
		    chk_arena(run), "A delivery status notification (bounce) "
		    "goes to one recipient; this one has %s", cnt),
		    .rule = "backscatter:multi-recipient-bounce" });
		chk_done(run, CHK_FAIL, "a bounce to %s recipients", cnt);
		return;
	}
	if (b->rcpt[0] == '\0' || tagged(c, b->rcpt) || exempt(c, b->rcpt)) {
		chk_done(run, CHK_NEUTRAL, "no bounce to judge");
		return;
	}
	b->step = BS_SINCE;
	sc = call(run, b, &out);
	store_settle(&sc, b->st->ops->get(b->st, OUTBOUND_TABLE,
	    OUTBOUND_SINCE, sizeof(OUTBOUND_SINCE) - 1, &sc));
}

/* step_done - the store's reply to the step under way */
static void
step_done(void *arg, const struct store_reply *r)
{
	struct chk_run *run = arg;
	const struct bs_conf *c = chk_conf(run);
	const struct req *req = chk_req(run);
	struct bs_run *b = *chk_state(run);
	struct store_reply out;
	struct store_call sc;
	char k[STORE_KEY_MAX];
	unsigned char val[STORE_VAL_MAX];
	struct store_rec rec;
	size_t kl;

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
		if (r->rc == 0 && bs_rec_decode(r->val, r->vlen, &b->rec) &&
		    b->rec.until > b->now) {
			bool all = c->scope_all && !shared(c, req) &&
			    !b->rec.trusted &&
			    chk_identity(run, CHK_ID_TRUSTED) == NULL;

			if (exempt(c, b->rcpt)) {
				chk_done(run, CHK_NEUTRAL, "blocked, but %s is "
				    "exempt", b->rcpt);
				return;
			}
			if (all || req->sender.is_null) {
				refuse_blocked(run, b);
				return;
			}
		}
		if (!req->sender.is_null || !(chk_state_bit(req->protocol_state) &
		    (CHK_ST_DATA | CHK_ST_EOM))) {
			chk_done(run, CHK_NEUTRAL, "not blocked");
			return;
		}
		if (chk_dry(run)) {
			chk_done(run, CHK_NEUTRAL, "dry run: no hit counted");
			return;
		}
		judge_bounce(run, b);
		return;
	case BS_SINCE:
		if (r->rc != 0 || r->vlen != 8 || b->now -
		    (int64_t)store_get_u64(r->val) < c->window) {
			int64_t start = r->rc == 0 && r->vlen == 8
			    ? (int64_t)store_get_u64(r->val) + c->window : 0;

			/* Said once per start time, not per bounce. */
			if (start != said_start || !said) {
				said = true;
				said_start = start;
				if (start != 0)
					log_info("backscatter: outbound history "
					    "is shorter than bounce_window: "
					    "detection starts at %s",
					    iso(chk_arena(run), start));
				else
					log_info("backscatter: no outbound "
					    "history yet: detection starts "
					    "bounce_window after our users' "
					    "first mail");
			}
			chk_done(run, CHK_NEUTRAL, "outbound history shorter "
			    "than bounce_window: detection starts later");
			return;
		}
		b->step = BS_SENT;
		kl = outbound_key(k, sizeof(k), b->rcpt, NULL);
		sc = call(run, b, &out);
		store_settle(&sc, b->st->ops->get(b->st, OUTBOUND_TABLE, k, kl,
		    &sc));
		return;
	case BS_SENT:
		if (r->rc == 0 && r->vlen == 8 && b->now -
		    (int64_t)store_get_u64(r->val) <= c->window) {
			chk_done(run, CHK_PASS, "%s sent mail lately: a real "
			    "bounce", b->rcpt);
			return;
		}
		b->step = BS_HIT;
		rec = (struct store_rec){ b->key, b->klen, val, 0, 0 };
		sc = call(run, b, &out);
		store_settle(&sc, b->st->ops->put(b->st, BS_TABLE, &rec, 1,
		    hit_merge, run, &sc));
		return;
	case BS_HIT:
	default:
		log_warn("backscatter: %s bounced to %s, who sent nothing: "
			 "hit %u%s", req->client_addr, b->rcpt, b->rec.hits,
		    b->blocked_now ? "; blocked" : "");
		if (b->blocked_now) {
			refuse_blocked(run, b);
			return;
		}
		chk_done(run, CHK_FAIL, "backscatter hit %u", b->rec.hits);
		return;
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
	b = arena_alloc(chk_arena(run), sizeof(*b));
	memset(b, 0, sizeof(*b));
	*chk_state(run) = b;
	if ((b->st = store_get(chk_store(run))) == NULL) {
		chk_done(run, CHK_NEUTRAL, "the store is not open");
		return;
	}
	b->now = chk_now(run);
	b->klen = bs_key(b->key, sizeof(b->key), req->client_addr);
	if (req->rcpt.full != NULL) {
		snprintf(b->rcpt, sizeof(b->rcpt), "%s", req->rcpt.full);
		for (i = 0; b->rcpt[i]; i++)
			b->rcpt[i] = (char)tolower((unsigned char)b->rcpt[i]);
	}
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

const struct chk_ops chk_backscatter_ops = {
	.name = "backscatter",
	.kind = CHK_KIND_PRE,
	.flags = CHK_F_MAIN_OPTIONS | CHK_F_STORE,
	.options = bs_options,
	.conf_size = sizeof(struct bs_conf),
	.conf_init = bs_conf_init,
	.conf_copy = bs_conf_copy,
	.conf_free = bs_conf_free,
	.setup = bs_setup,
	.start = bs_start,
	.cancel = bs_cancel,
};
