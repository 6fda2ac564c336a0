/*
 * whitelist - per-recipient sender whitelists, a PRE module: before any
 * check, a recipient (an address, or @domain for a whole local domain)
 * that trusts the sender (an address, or @domain) lets its mail bypass
 * the DNS lists, every score and greylisting (CHK_F_BYPASSED), once the
 * checks are in and SPF's verdict meets require_spf: pass by default, as
 * a sender address is easy to forge and only a pass proves it (no SPF
 * verdict, the spf check off or cut by the deadline, meets nothing but
 * "no"). Checks that refuse on their own (no PTR, a bad HELO) still
 * refuse.
 *
 * Entries come from the policy file (entries:) and from the store's
 * whitelist table, which policyctl whitelist changes while the daemon
 * runs: key recipient NUL sender, lower-cased; no expiry.
 */
#include "chk.h"
#include "whitelist_conf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "config.h"
#include "request.h"
#include "store.h"
#include "whitelist.h"
#include "xalloc.h"

/* One request: the candidate keys, asked of the store in one step. */
struct wl_run {
	struct store *st;
	struct store_op *op;
	char rcpt[2][330], sender[2][330]; /* address, @domain */
	char keys[4][700];
	struct store_key k[4];
	unsigned which[4];                 /* k[i] is candidate which[i] */
	size_t n;
};

/* found - an entry: the bypass, in the log as the entry */
static void
found(struct chk_run *run, const char *rcpt, const char *sender)
{
	const struct wl_conf *c = chk_conf(run);
	const char *why = arena_printf(chk_arena(run), "whitelist:%s<-%s",
	    rcpt, sender);

	chk_set_bypass(run, c->terms, why);
	chk_done(run, CHK_PASS, "%s trusts %s", rcpt, sender);
}

static void
got(void *arg, const struct store_reply *r)
{
	struct chk_run *run = arg;
	struct wl_run *w = *chk_state(run);

	w->op = NULL;
	if (r->rc == 0 && r->n < w->n) {
		unsigned k = w->which[r->n];

		found(run, w->rcpt[k >> 1], w->sender[k & 1]);
		return;
	}
	if (r->rc < 0) {
		/* No entry can be read: the checks decide as without one. */
		chk_store_report(run, r->rc, r->why.text);
		chk_done(run, CHK_TEMPFAIL, "%s", r->why.text);
		return;
	}
	chk_done(run, CHK_NEUTRAL, "no entry");
}

/* ask - the four candidate keys (most specific first), in one read */
static void
ask(struct chk_run *run)
{
	struct wl_run *w = *chk_state(run);
	struct store_reply reply;
	struct store_call call;
	unsigned k;

	for (k = 0; k < 4; k++) {
		size_t kl = whitelist_key(w->keys[w->n], sizeof(w->keys[0]),
		    w->rcpt[k >> 1], w->sender[k & 1]);

		if (kl == 0)
			continue;
		w->k[w->n] = (struct store_key){ w->keys[w->n], kl };
		w->which[w->n++] = k;
	}
	if (w->n == 0) {
		chk_done(run, CHK_NEUTRAL, "no entry");
		return;
	}
	call = (struct store_call){ .budget_ms = chk_time_left_ms(run),
		.done = got, .arg = run, .op = &w->op, .out = &reply };
	store_settle(&call, w->st->ops->get_first(w->st, WL_TABLE, w->k, w->n,
	    &call));
}

/* fill - the address and its @domain, lower-cased */
static void
fill(char out[2][330], const struct req_addr *a)
{
	size_t i;

	snprintf(out[0], sizeof(out[0]), "%s", a->full);
	for (i = 0; out[0][i]; i++)
		out[0][i] = (char)tolower((unsigned char)out[0][i]);
	snprintf(out[1], sizeof(out[1]), "@%s", a->domain ? a->domain : "");
	if (a->domain == NULL || strlen(a->full) >= sizeof(out[0]))
		out[0][0] = out[1][0] = '\0';
}

static void
wl_start(struct chk_run *run)
{
	const struct wl_conf *c = chk_conf(run);
	const struct req *req = chk_req(run);
	struct wl_run *w;
	size_t i;
	unsigned k;

	if (req->rcpt.full == NULL || req->sender.full == NULL ||
	    req->sender.is_null) {
		chk_done(run, CHK_NEUTRAL, "no sender and recipient");
		return;
	}
	w = arena_alloc(chk_arena(run), sizeof(*w));
	memset(w, 0, sizeof(*w));
	*chk_state(run) = w;
	fill(w->rcpt, &req->rcpt);
	fill(w->sender, &req->sender);
	for (i = 0; i < c->n; i++) {
		for (k = 0; k < 4; k++) {
			if (strcmp(c->v[i].rcpt, w->rcpt[k >> 1]) == 0 &&
			    strcmp(c->v[i].sender, w->sender[k & 1]) == 0) {
				found(run, c->v[i].rcpt, c->v[i].sender);
				return;
			}
		}
	}
	if ((w->st = store_get(chk_store(run))) == NULL) {
		chk_done(run, CHK_NEUTRAL, "no store: the file's entries only");
		return;
	}
	ask(run);
}

static void
wl_cancel(struct chk_run *run)
{
	struct wl_run *w = *chk_state(run);

	if (w != NULL && w->op != NULL) {
		w->st->ops->cancel(w->op);
		w->op = NULL;
	}
}

extern const struct chk_def chk_whitelist_def; /* whitelist_conf.c */

const struct chk_ops chk_whitelist_ops = {
	.def = &chk_whitelist_def,
	.start = wl_start,
	.cancel = wl_cancel,
};
