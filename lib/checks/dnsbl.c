/*
 * dnsbl - DNS lists (RFC 5782): blocklists of addresses (DNSBL), of
 * domains (RHSBL), and allowlists (DNSWL), in one check so that every
 * list of a request is asked at once and their weights add up. The
 * options are dnsbl_conf.c's, each list's state for the daemon's life
 * dnsbl_lists.c's (dnsbl_int.h); this file is the check itself and the
 * glue that gives the states a clock, a resolver and the store.
 *
 * Per request: each enabled list that applies at the state and whose
 * state (per family: an ip list's IPv4 and IPv6 sides apart) lets it be
 * asked; each answer judged record by record against the list's filters
 * and error codes, and reported to its state (listed, clean, no answer,
 * unusable) once; the weights added up; a listing with txt: true waits
 * for its TXT reason, so the reply carries it.
 *
 * Safe answers: only an A record inside a filter is a listing; one
 * outside 127.0.0.0/8 is bogus (a resolver that rewrites NXDOMAIN), an
 * error code makes the list unusable, a timeout is "not listed" for the
 * request; neither ever lists nor allowlists anyone. The results of a
 * message are kept in its memo for its other recipients.
 *
 * The states' records go to the store's "dnsbl" table (policyctl stats,
 * the metrics file); a --stdio process reads them instead of testing
 * every list again, and writes none.
 */
#include "chk.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "arena.h"
#include "config.h"
#include "dns.h"
#include "dnsbl_int.h"
#include "dynamic.h"
#include "log.h"
#include "request.h"
#include "metrics.h"
#include "store.h"
#include "xalloc.h"

/* State for the daemon's life: the lists' states and their clock. */
struct bl_write {
	char key[80];
	char val[STORE_VAL_MAX];
};

struct bl_proc {
	uv_loop_t *loop;
	struct dns *dns;
	struct store_handle *store;
	bool transient;
	uv_timer_t tick;
	struct bl_lists *lists;
	struct bl_set *set;        /* in force (a reference), or NULL */
	/* Records for the store: the batch being made, the one written. */
	struct bl_write *batch, *out;
	size_t nbatch, nout;
	struct store_rec *recs;
	bool writing, pending;     /* a put under way; a batch waits */
	struct store_op *wop;
	struct store_reply wout;
};

/* One self-test question, for the asker. */
struct bl_ask {
	struct bl_proc *pr;
	void *token;
	struct dns_query *q;
};

static void
ask_done(void *arg, const struct dns_answer *a)
{
	struct bl_ask *k = arg;
	struct bl_proc *pr = k->pr;
	struct bl_probe_answer pa = { .trouble = a->status == DNS_TEMPFAIL ||
		a->status == DNS_BAD };
	void *token = k->token;
	size_t i;

	for (i = 0; a->status == DNS_OK && i < a->n && pa.n < 8; i++)
		if (a->rr[i].addr.family == AF_INET)
			memcpy(pa.a[pa.n++], a->rr[i].addr.a, 4);
	free(k);
	bl_lists_probed(pr->lists, token, &pa, uv_now(pr->loop),
	    (int64_t)time(NULL));
}

/* io_ask - a test point, past the resolver's cache */
static int
io_ask(void *arg, const char *name, void *token, void **handle)
{
	struct bl_proc *pr = arg;
	struct bl_ask *k;

	if (pr->dns == NULL)
		return -1;
	k = xcalloc(1, sizeof(*k));
	k->pr = pr;
	k->token = token;
	if (dns_query_fresh(pr->dns, name, DNS_T_A, ask_done, k, &k->q) < 0) {
		free(k);
		return -1;
	}
	*handle = k;
	return 0;
}

static void
io_cancel(void *arg, void *handle)
{
	struct bl_ask *k = handle;

	(void)arg;
	dns_cancel(k->q);
	free(k);
}

static void put_out(struct bl_proc *pr);

static void
write_done(void *arg, const struct store_reply *r)
{
	struct bl_proc *pr = arg;

	(void)r;
	pr->writing = false;
	pr->wop = NULL;
	if (pr->pending)
		put_out(pr);
}

/* put_out - the batch made last into the store, one write at a time */
static void
put_out(struct bl_proc *pr)
{
	struct store *st = pr->store ? store_get(pr->store) : NULL;
	struct store_call call = { .budget_ms = 5000, .done = write_done,
		.arg = pr, .op = &pr->wop, .out = &pr->wout };
	int64_t now = (int64_t)time(NULL);
	struct bl_write *t;
	size_t i;

	if (st == NULL || pr->writing) {
		pr->pending = st != NULL;
		return;
	}
	pr->pending = false;
	t = pr->out;
	pr->out = pr->batch;
	pr->batch = t;
	pr->nout = pr->nbatch;
	pr->nbatch = 0;
	pr->recs = xreallocarray(pr->recs, pr->nout ? pr->nout : 1,
	    sizeof(*pr->recs));
	for (i = 0; i < pr->nout; i++)
		pr->recs[i] = (struct store_rec){ .key = pr->out[i].key,
			.klen = strlen(pr->out[i].key), .val = pr->out[i].val,
			.vlen = strlen(pr->out[i].val),
			.expires = now + 7 * 86400 };
	if (pr->nout == 0)
		return;
	pr->writing = true;
	store_settle(&call, st->ops->put(st, BL_TABLE, pr->recs, pr->nout,
	    &call));
}

/* io_write - a state's record; the batch goes out with the last */
static void
io_write(void *arg, const char *key, const char *value, bool last)
{
	struct bl_proc *pr = arg;
	struct bl_write *w;

	pr->batch = xreallocarray(pr->batch, pr->nbatch + 1,
	    sizeof(*pr->batch));
	/* The other buffer grows alike: they trade places. */
	pr->out = xreallocarray(pr->out, pr->nbatch + 1, sizeof(*pr->out));
	w = &pr->batch[pr->nbatch++];
	snprintf(w->key, sizeof(w->key), "%s", key);
	snprintf(w->val, sizeof(w->val), "%s", value);
	if (last)
		put_out(pr);
}

/* tick - every second: the states' self-tests, back-offs, records */
static void
tick(uv_timer_t *t)
{
	struct bl_proc *pr = t->data;

	bl_lists_tick(pr->lists, uv_now(pr->loop), (int64_t)time(NULL));
}

static void *
dnsbl_init(const struct chk_ctx *ctx)
{
	struct bl_proc *pr;
	struct bl_lists_io io = { io_ask, io_cancel, io_write, NULL };

	if (ctx->loop == NULL)
		return NULL;
	pr = xcalloc(1, sizeof(*pr));
	pr->loop = ctx->loop;
	pr->dns = ctx->dns;
	pr->store = ctx->store;
	pr->transient = ctx->transient;
	io.arg = pr;
	pr->lists = bl_lists_new(&io, ctx->transient);
	chk_timer_start(pr->loop, &pr->tick, tick, pr, 1000);
	return pr;
}

static void
dnsbl_deinit(void *proc)
{
	struct bl_proc *pr = proc;

	if (pr == NULL)
		return;
	chk_store_cancel(pr->store, &pr->wop);
	bl_lists_free(pr->lists);
	dnsbl__set_unref(pr->set);
	free(pr->batch);
	free(pr->out);
	free(pr->recs);
	chk_timer_free(&pr->tick, pr);
}

/* The daemon's records, read by a --stdio process. */
struct bl_adopt {
	struct bl_proc *pr;
	char key[80];
	struct store_reply out;
};

static void
adopted(void *arg, const struct store_reply *r)
{
	struct bl_adopt *a = arg;

	if (r->rc == 0)
		bl_lists_adopt(a->pr->lists, a->key, r->val, r->vlen);
	free(a);
}

/* adopt - ask the store for one state's record */
static void
adopt(void *arg, const char *key, enum bl_st st, const char *why)
{
	struct bl_proc *pr = arg;
	struct store *s = pr->store ? store_get(pr->store) : NULL;
	struct bl_adopt *a;
	struct store_call call;

	(void)st;
	(void)why;
	if (s == NULL)
		return;
	a = xcalloc(1, sizeof(*a));
	a->pr = pr;
	snprintf(a->key, sizeof(a->key), "%s", key);
	call = (struct store_call){ .budget_ms = 1000, .done = adopted,
		.arg = a, .out = &a->out };
	store_settle(&call, s->ops->get(s, BL_TABLE, a->key, strlen(a->key),
	    &call));
}

/*
 * dnsbl_configure - the lists in force: their states made or dropped
 * here only; a --stdio process takes the daemon's
 */
static void
dnsbl_configure(void *proc, const struct chk_policy *pol)
{
	struct bl_proc *pr = proc;
	const struct dnsbl_conf *c = pol->conf;
	struct bl_set *set = pol->enabled ? c->set : NULL;

	if (set != NULL)
		set->refs++;
	bl_lists_configure(pr->lists, set, uv_now(pr->loop),
	    (int64_t)time(NULL));
	dnsbl__set_unref(pr->set);
	pr->set = set;
	if (pr->transient)
		bl_lists_each(pr->lists, adopt, pr);
}

/* One request. */

/* What one question is about. */
struct bl_item {
	unsigned list;
	const char *subject;   /* "client 192.0.2.7", "sender domain x" */
	const char *value;     /* the address or name, for {item} */
	enum bl_fam fam;       /* whose state it reports to */
	bool done, trouble, txt_pending;
	uint32_t matched;      /* filters matched (bit per filter) */
	bool any;              /* without filters: listed */
	uint8_t code[4];       /* the first listing code */
	const char *err;       /* an error code's meaning */
	char *txt;             /* the list's reason */
};

struct bl_req {
	const struct bl_set *set;
	struct bl_item items[BL_MAX_LISTS * BL_MAX_ITEMS];
	unsigned nitems, pending;
	char skipped[200];     /* lists not asked, for the log */
	size_t so;
	bool failed;           /* a list did not answer: nothing memoized */
	bool reported;
};

/* The memo: a message's result, for its other recipients. */
struct bl_memo {
	const struct bl_set *set;
	unsigned state;        /* the protocol state it is for */
	bool valid, refuse, stop;
	enum chk_status status;
	int score;
	char text[900];        /* reason, listed, list, code, url, label,
				* operators: NUL after each */
	size_t len;
};

static const char *const var_names[] = { "listed", "list", "code", "url",
	"label", "operators" };

/* marked - a filter the item matched carries mark (BL_M_*) */
static bool
marked(const struct bl_list *l, const struct bl_item *it, unsigned mark)
{
	unsigned f;

	for (f = 0; f < l->nfilters; f++)
		if ((it->matched & (1u << f)) && (l->filters[f].marks & mark))
			return true;
	return false;
}

/* item_weight - what an item adds: the weights of the filters it matched */
static int
item_weight(const struct bl_list *l, const struct bl_item *it)
{
	unsigned f;
	int w = 0;

	if (l->nfilters == 0)
		return it->any ? l->weight : 0;
	for (f = 0; f < l->nfilters; f++)
		if (it->matched & (1u << f))
			w += l->filters[f].weight;
	return w;
}

static bool
item_listed(const struct bl_list *l, const struct bl_item *it)
{
	return it->done && (it->any || it->matched != 0) && l != NULL;
}

/* label - the label of the first filter an item matched */
static const char *
item_label(const struct bl_list *l, const struct bl_item *it)
{
	unsigned f;

	for (f = 0; f < l->nfilters; f++)
		if ((it->matched & (1u << f)) && l->filters[f].label)
			return l->filters[f].label;
	return NULL;
}

/* safe_txt - a list's TXT reason, printable and short, for a reply */
static char *
safe_txt(struct arena *a, const char *t, size_t len)
{
	char *out = arena_alloc(a, BL_TXT_MAX + 4);
	size_t i, o = 0;

	for (i = 0; i < len && o < BL_TXT_MAX; i++) {
		unsigned char c = (unsigned char)t[i];

		out[o++] = c >= 0x20 && c < 0x7f && c != '{' && c != '}'
		               ? (char)c
		               : ' ';
	}
	if (i < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* url_of - a list's removal URL with {item} and {code} */
static const char *
url_of(struct arena *a, const struct bl_list *l, const struct bl_item *it)
{
	char buf[400], code[16];
	const char *t = l->url;
	size_t o = 0;

	snprintf(code, sizeof(code), "%u.%u.%u.%u", it->code[0], it->code[1],
	    it->code[2], it->code[3]);
	while (t && *t && o + 1 < sizeof(buf)) {
		const char *v = NULL;
		size_t kl = 0;

		if (strncmp(t, "{item}", 6) == 0)
			v = it->value, kl = 6;
		else if (strncmp(t, "{code}", 6) == 0)
			v = code, kl = 6;
		if (v != NULL) {
			o +=
			    (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", v);
			if (o >= sizeof(buf))
				o = sizeof(buf) - 1;
			t += kl;
			continue;
		}
		buf[o++] = *t++;
	}
	buf[o] = '\0';
	return arena_strdup(a, buf);
}

/*
 * finish - the result from the items answered so far; stop when it is
 * certain before every answer came (or a decisive allowlist matched)
 */
static void
finish(struct chk_run *run, struct bl_req *q, bool stop)
{
	struct arena *a = chk_arena(run);
	struct chk_result r;
	char listed[700], reason[400], lists_seen[BL_MAX_LISTS] = { 0 };
	const char *first_list = NULL, *first_url = NULL, *first_label = NULL;
	char first_code[16] = "";
	size_t lo = 0, ro = 0;
	int pos = 0, neg = 0, nlists = 0;
	bool refuse = false, allow_decides = false;
	uint32_t counted[BL_MAX_LISTS] = { 0 };
	unsigned i;
	struct bl_memo *m;

	q->reported = true;
	memset(&r, 0, sizeof(r));
	r.result = -1;
	listed[0] = reason[0] = '\0';
	for (i = 0; i < q->nitems; i++) {
		struct bl_item *it = &q->items[i];
		const struct bl_list *l = &q->set->lists[it->list];
		const char *lab;
		char code[16];
		int w;

		if (!item_listed(l, it))
			continue;
		/* A filter's weight counts once per list, whatever matched. */
		w = 0;
		if (l->nfilters == 0) {
			if (!(counted[it->list] & 1u))
				w = l->weight;
			counted[it->list] |= 1u;
		} else {
			unsigned f;

			for (f = 0; f < l->nfilters; f++) {
				if ((it->matched & (1u << f)) &&
				    !(counted[it->list] & (1u << f)))
					w += l->filters[f].weight;
				if (it->matched & (1u << f))
					counted[it->list] |= 1u << f;
			}
		}
		lab = item_label(l, it);
		snprintf(code, sizeof(code), "%u.%u.%u.%u", it->code[0],
		    it->code[1], it->code[2], it->code[3]);
		buf_printf(reason, sizeof(reason), &ro, "%s%s at %s (%s%s%s)",
		    ro ? "; " : "", it->value, l->name, code, lab ? " " : "",
		    lab ? lab : "");
		if (item_weight(l, it) < 0 || (l->nfilters == 0 && l->weight <
		    0)) {
			neg += w;
			allow_decides = allow_decides || l->decisive;
			/* A decisive list vouches for whom it lists. */
			if (l->decisive || marked(l, it, BL_M_HIGH_TRUST))
				chk_set_identity(run, CHK_ID_TRUSTED, l->name);
			continue;
		}
		pos += w;
		refuse = refuse || l->reject;
		if (marked(l, it, BL_M_END_USER))
			chk_set_identity(run, CHK_ID_END_USER, l->name);
		if (!lists_seen[it->list]) {
			lists_seen[it->list] = 1;
			nlists++;
		}
		if (first_list == NULL) {
			first_list = l->name;
			first_url = l->url ? url_of(a, l, it) : NULL;
			first_label = lab;
			memcpy(first_code, code, sizeof(code));
		}
		buf_printf(listed, sizeof(listed), &lo, "%s%s is listed at %s",
		    lo ? "; " : "", it->subject, l->name);
		if (lab != NULL || it->txt != NULL)
			buf_printf(listed, sizeof(listed), &lo, " (%s%s%s)",
			    lab ? lab : "", lab && it->txt ? ": " : "",
			    it->txt ? it->txt : "");
		if (l->url != NULL)
			buf_printf(listed, sizeof(listed), &lo, "; see %s",
			    url_of(a, l, it));
	}
	r.scored = true;
	if (allow_decides) {
		/* A decisive allowlisting: trusted, whatever else is listed. */
		r.status = CHK_PASS;
		r.score = neg;
		r.stop = true;
	} else if (pos > 0 || refuse || first_list != NULL) {
		r.status = CHK_FAIL;
		r.score = pos + neg;
		r.refuse = refuse;
		r.code = "554";
		r.stop = stop || refuse;
	} else if (neg < 0) {
		r.status = CHK_PASS;
		r.score = neg;
	} else {
		r.status = CHK_NEUTRAL;
	}
	r.reason = ro > 0 ? arena_strdup(a, reason)
	    : q->nitems > 0 ? "not listed" : "no list to ask";
	/* Lists skipped or without an answer: in the log line too. */
	if (q->so > 0)
		r.reason = arena_printf(a, "%s; %s", r.reason, q->skipped);
	r.vars[0] = (struct chk_var){ "listed", arena_strdup(a, listed) };
	r.vars[1] = (struct chk_var){ "list", first_list ? first_list : "" };
	r.vars[2] = (struct chk_var){ "code", arena_strdup(a, first_code) };
	r.vars[3] = (struct chk_var){ "url", first_url ? first_url : "" };
	r.vars[4] = (struct chk_var){ "label", first_label ? first_label
							  : "listed" };
	r.vars[5] = (struct chk_var){ "operators", nlists > 1
		? "lists' operators" : "list's operator" };
	r.nvars = 6;
	/* Kept for the message's other recipients when every list asked
	 * answered (a skipped list stays skipped for the message). */
	if (!q->failed && (m = chk_memo(run, sizeof(*m))) != NULL) {
		size_t o = 0, k;

		memset(m, 0, sizeof(*m));
		o +=
		    (size_t)snprintf(m->text, sizeof(m->text), "%s", r.reason) +
		    1;
		for (k = 0; k < r.nvars && o < sizeof(m->text); k++)
			o += (size_t)snprintf(m->text + o, sizeof(m->text) - o,
			    "%s", r.vars[k].value) + 1;
		if (o <= sizeof(m->text)) {
			m->set = q->set;
			m->state = chk_state_bit(chk_req(run)->protocol_state);
			m->status = r.status;
			m->score = r.score;
			m->refuse = r.refuse;
			m->stop = r.stop;
			m->len = o;
			m->valid = true;
		}
	}
	chk_done_res(run, &r);
}

/* from_memo - the message's result, kept by its first recipient */
static bool
from_memo(struct chk_run *run, const struct bl_set *set)
{
	struct bl_memo *m = chk_memo(run, sizeof(struct bl_memo));
	struct chk_result r;
	const char *t;
	unsigned k;

	if (m == NULL || !m->valid || m->set != set ||
	    m->state != chk_state_bit(chk_req(run)->protocol_state))
		return false;
	memset(&r, 0, sizeof(r));
	r.result = -1;
	r.status = m->status;
	r.scored = true;
	r.score = m->score;
	r.refuse = m->refuse;
	r.stop = m->stop;
	r.code = "554";
	t = m->text;
	r.reason = arena_strdup(chk_arena(run), t);
	for (k = 0; k < nitems(var_names); k++) {
		t += strlen(t) + 1;
		r.vars[k] = (struct chk_var){ var_names[k],
			arena_strdup(chk_arena(run), t) };
	}
	r.nvars = (unsigned)nitems(var_names);
	chk_done_res(run, &r);
	return true;
}

/*
 * certain - the result cannot change any more: a reject list matched, a
 * decisive allowlist matched, or the score is past scores.reject even
 * if every allowlist still asked matched
 */
static bool
certain(struct chk_run *run, const struct bl_req *q)
{
	int score, reject, greylist, pos = 0, neg_left = 0;
	bool refuse = false;
	unsigned i;

	for (i = 0; i < q->nitems; i++) {
		const struct bl_item *it = &q->items[i];
		const struct bl_list *l = &q->set->lists[it->list];
		int w;

		/*
		 * A listing waits for its TXT reason, so that the reply
		 * carries it (the resolver's own limit bounds the wait).
		 */
		if (it->txt_pending)
			return false;
		if (!it->done) {
			/* What it may still subtract; a decisive one waits. */
			unsigned f;
			int most = l->nfilters ? 0 : l->weight < 0 ? l->weight
								   : 0;

			if (l->decisive)
				return false;
			for (f = 0; f < l->nfilters; f++)
				if (l->filters[f].weight < 0)
					most += l->filters[f].weight;
			neg_left += most;
			continue;
		}
		if (!item_listed(l, it))
			continue;
		w = item_weight(l, it);
		if (w < 0 && l->decisive)
			return true;
		if (w > 0)
			pos += w;
		if (w >= 0 && l->reject)
			refuse = true;
	}
	if (refuse)
		return true;
	chk_scores(run, &score, &reject, &greylist);
	return reject > 0 && pos + neg_left >= reject;
}

static void item_answer(struct chk_run *run, const struct dns_answer *a,
    void *arg);

/* settle - after each answer: done, certain, or wait */
static void
settle(struct chk_run *run, struct bl_req *q)
{
	if (q->reported)
		return;
	if (q->pending == 0)
		finish(run, q, false);
	else if (certain(run, q))
		finish(run, q, true);
}

/* report - what a lookup of item it saw, to its list's state */
static void
report(struct chk_run *run, const struct bl_req *q, const struct bl_item *it,
    enum bl_outcome o, const char *why)
{
	struct bl_proc *pr = chk_proc(run);

	if (pr == NULL)
		return;
	bl_lists_report(pr->lists, bl_lists_find(pr->lists,
	    &q->set->lists[it->list], it->fam), o, why, uv_now(pr->loop),
	    (int64_t)time(NULL));
}

/* note_trouble - a list that did not answer; skipped after a few */
static void
note_trouble(struct chk_run *run, struct bl_req *q, struct bl_item *it,
    const char *why)
{
	const struct bl_list *l = &q->set->lists[it->list];

	it->trouble = true;
	q->failed = true;
	buf_printf(q->skipped, sizeof(q->skipped), &q->so,
	    "%s%s: no answer (%s)", q->so ? "; " : "", l->name, why);
	report(run, q, it, BL_O_TROUBLE, why);
}

static void
txt_answer(struct chk_run *run, const struct dns_answer *a, void *arg)
{
	struct bl_req *q = *chk_state(run);
	struct bl_item *it = arg;

	it->txt_pending = false;
	q->pending--;
	if (a->status == DNS_OK && a->n > 0)
		it->txt = safe_txt(chk_arena(run), a->rr[0].text, a->rr[0].len);
	settle(run, q);
}

/* item_answer - judge each A record of an answer on its own */
static void
item_answer(struct chk_run *run, const struct dns_answer *a, void *arg)
{
	struct bl_req *q = *chk_state(run);
	struct bl_item *it = arg;
	const struct bl_list *l = &q->set->lists[it->list];
	bool first = true;
	size_t i;

	it->done = true;
	q->pending--;
	if (a->status == DNS_TEMPFAIL || a->status == DNS_BAD) {
		note_trouble(run, q, it, a->why ? a->why
						: dns_status_name(a->status));
		settle(run, q);
		return;
	}
	for (i = 0; a->status == DNS_OK && i < a->n; i++) {
		const uint8_t *ip = a->rr[i].addr.a;
		const char *err;
		char w[240];
		unsigned f;
		bool hit = false;

		if (a->rr[i].addr.family != AF_INET)
			continue;
		if ((err = dnsbl__error_code(l, ip, false)) != NULL ||
		    ip[0] != 127) {
			snprintf(w, sizeof(w), "it answers %u.%u.%u.%u: %s",
			    ip[0], ip[1], ip[2], ip[3], err ? err
			    : "outside 127.0.0.0/8, a resolver that rewrites "
			      "NXDOMAIN");
			it->err = arena_strdup(chk_arena(run), w);
			/* Nothing of this answer lists or allowlists. */
			it->matched = 0;
			it->any = false;
			break;
		}
		if (l->nfilters == 0) {
			hit = true;
			it->any = true;
		}
		for (f = 0; f < l->nfilters; f++) {
			if (dnsbl__filter_match(&l->filters[f], ip)) {
				it->matched |= 1u << f;
				hit = true;
			}
		}
		if (hit && first) {
			memcpy(it->code, ip, 4);
			first = false;
		}
	}
	if (it->err != NULL)
		buf_printf(q->skipped, sizeof(q->skipped), &q->so, "%s%s: %s",
		    q->so ? "; " : "", l->name, it->err);
	report(run, q, it, it->err != NULL ? BL_O_UNUSABLE : item_listed(l, it)
	    ? BL_O_LISTED : BL_O_CLEAN, it->err);
	if (item_listed(l, it) && l->txt && item_weight(l, it) >= 0) {
		char name[DNS_MAX_NAME + 2];

		snprintf(name, sizeof(name), "%s", a->name);
		if (chk_query(run, name, DNS_T_TXT, txt_answer, it, NULL) ==
		    0) {
			it->txt_pending = true;
			q->pending++;
		}
	}
	settle(run, q);
}

/* skip - a list not asked, for the log */
static void
skip(struct bl_req *q, const struct bl_list *l, const char *why)
{
	buf_printf(q->skipped, sizeof(q->skipped), &q->so,
	    "%s%s: skipped (%s)", q->so ? "; " : "", l->name, why);
}

/*
 * usable - the list's family may be asked now, by its state (none: a
 * list a reload dropped, asked by a request that began before it)
 */
static bool
usable(struct chk_run *run, struct bl_req *q, unsigned li, enum bl_fam fam)
{
	struct bl_proc *pr = chk_proc(run);
	struct bl_lstate *s;
	char why[80];

	if (pr == NULL || (s = bl_lists_find(pr->lists, &q->set->lists[li],
	    fam)) == NULL)
		return true;
	if (bl_lstate_usable(s, uv_now(pr->loop), why, sizeof(why)))
		return true;
	skip(q, &q->set->lists[li], why);
	bl_lists_report(pr->lists, s, BL_O_SKIPPED, NULL, uv_now(pr->loop),
	    (int64_t)time(NULL));
	return false;
}

/* add_item - one question about value (NULL: none) for list li */
static void
add_item(struct chk_run *run, struct bl_req *q, unsigned li, enum bl_fam fam,
    const char *subject, const char *value, const char *qname)
{
	struct bl_item *it;
	unsigned i;

	if (value == NULL || q->nitems >= nitems(q->items) ||
	    strlen(qname) > DNS_MAX_NAME)
		return;
	for (i = 0; i < q->nitems; i++) /* the same name twice: once */
		if (q->items[i].list == li && strcmp(q->items[i].value,
		    value) == 0)
			return;
	it = &q->items[q->nitems];
	memset(it, 0, sizeof(*it));
	it->list = li;
	it->fam = fam;
	it->subject = arena_printf(chk_arena(run), "%s %s", subject, value);
	it->value = value;
	if (chk_query(run, qname, DNS_T_A, item_answer, it, NULL) < 0)
		return;
	q->nitems++;
	q->pending++;
}

/* ip_name - the reversed address under zone; false: not for this list */
static bool
ip_name(const struct ipaddr *ip, const struct bl_list *l, char *buf,
    size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	int i;

	if (ip->family == AF_INET) {
		if (!l->v4)
			return false;
		snprintf(buf, size, "%u.%u.%u.%u.%s", ip->a[3], ip->a[2],
		    ip->a[1], ip->a[0], l->zone);
		return true;
	}
	if (!l->v6 || size < 64 + strlen(l->zone) + 1)
		return false;
	for (i = 15; i >= 0; i--) {
		buf[o++] = hex[ip->a[i] & 15];
		buf[o++] = '.';
		buf[o++] = hex[ip->a[i] >> 4];
		buf[o++] = '.';
	}
	snprintf(buf + o, size - o, "%s", l->zone);
	return true;
}

/* lower_name - a host name lower-cased, without a final dot, or NULL */
static const char *
lower_name(struct arena *a, const char *s)
{
	char *n;
	size_t i;

	if (s == NULL || !chk_is_fqdn(s))
		return NULL;
	n = arena_strdup(a, s);
	for (i = 0; n[i]; i++)
		n[i] = (char)tolower((unsigned char)n[i]);
	if (i > 0 && n[i - 1] == '.')
		n[i - 1] = '\0';
	return n;
}

/* domain_items - the names a domain list asks about */
static void
domain_items(struct chk_run *run, struct bl_req *q, unsigned li)
{
	const struct req *req = chk_req(run);
	const struct bl_list *l = &q->set->lists[li];
	struct arena *a = chk_arena(run);
	const char *src[3] = {
		req->sender.is_null ? NULL : lower_name(a, req->sender.domain),
		lower_name(a, req->helo),
		req->client_name ? lower_name(a, req->client_name) : NULL,
	};
	static const char *const what[3] = { "sender domain", "HELO name",
		"client name" };
	char name[DNS_MAX_NAME + 64];
	unsigned k;

	for (k = 0; k < 3; k++) {
		unsigned how = (l->names >> (2 * k)) & 3;
		const char *reg;

		if (how == 0 || src[k] == NULL)
			continue;
		reg = dyn_registered_domain(src[k]);
		if ((how & 1) && reg != NULL) {
			snprintf(name, sizeof(name), "%s.%s", reg, l->zone);
			add_item(run, q, li, BL_FAM_NAME, what[k],
			    arena_strdup(a, reg), name);
		}
		if (how & 2) {
			snprintf(name, sizeof(name), "%s.%s", src[k], l->zone);
			add_item(run, q, li, BL_FAM_NAME, what[k], src[k],
			    name);
		}
	}
}

static void
dnsbl_start(struct chk_run *run)
{
	const struct dnsbl_conf *c = chk_conf(run);
	const struct req *req = chk_req(run);
	unsigned bit = chk_state_bit(req->protocol_state), li;
	struct bl_req *q;

	if (from_memo(run, c->set))
		return;
	q = arena_alloc(chk_arena(run), sizeof(*q));
	memset(q, 0, sizeof(*q));
	q->set = c->set;
	*chk_state(run) = q;
	for (li = 0; li < c->set->n; li++) {
		const struct bl_list *l = &c->set->lists[li];
		char name[DNS_MAX_NAME + 80];
		enum bl_fam fam;

		if (!l->enabled || (l->states != 0 && !(l->states & bit)))
			continue;
		if (l->domain) {
			if (usable(run, q, li, BL_FAM_NAME))
				domain_items(run, q, li);
			continue;
		}
		if (!req->has_client_ip || !ip_name(&req->client_ip, l, name,
		    sizeof(name)))
			continue;
		fam = req->client_ip.family == AF_INET ? BL_FAM_V4 : BL_FAM_V6;
		if (usable(run, q, li, fam))
			add_item(run, q, li, fam, "client", req->client_addr,
			    name);
	}
	settle(run, q);
}

/*
 * dnsbl_deadline - ops->deadline: the lists that answered count, the
 * others had no answer (as a timeout of theirs is); a TXT reason still
 * out is left out. Without this a single slow list made the whole
 * check "could not tell", ignored: every listing of the request lost.
 */
static void
dnsbl_deadline(struct chk_run *run)
{
	struct bl_req *q = *chk_state(run);
	unsigned i;

	if (q == NULL || q->reported)
		return;
	for (i = 0; i < q->nitems; i++) {
		struct bl_item *it = &q->items[i];

		it->txt_pending = false;
		if (!it->done) {
			it->done = true;
			note_trouble(run, q, it, "no answer before the "
			    "deadline");
		}
	}
	q->pending = 0;
	finish(run, q, false);
}

/*
 * dnsbl_metrics - ops->metrics: each list's state and counts, from the
 * daemon's memory (not a walk of the store's table each round)
 */
static void
dnsbl_metrics(void *proc, struct mtext *t)
{
	struct bl_proc *pr = proc;
	struct bl_rec *recs;
	size_t n;

	if (pr == NULL || pr->lists == NULL)
		return;
	recs = xcalloc(BL_MAX_LISTS * 2, sizeof(*recs));
	n = bl_lists_recs(pr->lists, recs, BL_MAX_LISTS * 2);
	metrics_lists(t, recs, n);
	free(recs);
}

extern const struct chk_def chk_dnsbl_def; /* dnsbl_conf.c */

const struct chk_ops chk_dnsbl_ops = {
	.def = &chk_dnsbl_def,
	.init = dnsbl_init,
	.deinit = dnsbl_deinit,
	.configure = dnsbl_configure,
	.metrics = dnsbl_metrics,
	.start = dnsbl_start,
	.deadline = dnsbl_deadline,
};
