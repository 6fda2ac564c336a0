/*
 * spf - check_host() of RFC 7208 section 4, asynchronous on the resolver.
 *
 * A stack of frames: the domain checked, then one frame per include
 * (redirect replaces its frame, so its record's exp= applies). step()
 * drives the top frame term by term; a term that needs DNS starts its
 * questions and step() returns; their callbacks record what they found
 * and call step() again. Limits (section 4.6.4): 10 terms that query DNS,
 * 2 lookups that find nothing, 10 MX or PTR names per term; nesting
 * bounded, so include loops end in permerror.
 *
 * Ownership of questions: every question belongs either to the term that
 * is being evaluated (its A, MX, PTR lookups, an include's TXT) or to the
 * whole evaluation (the %{p} names, the explanation). A term that ends,
 * by its first matching answer or otherwise, cancels its own questions
 * before anything else happens, and bumps the term generation: an mx or
 * ptr term with several names ends on the first name that matches, and
 * the answers for the others must never reach the term that comes next
 * (inside an include that next term may be another frame's, with no
 * record yet). Each slot remembers its generation, and an answer for an
 * older one is dropped (postscreen drops stale DNSBL replies the same way
 * by request id); with the cancel this cannot happen, the check is the
 * second line. The resolver never calls back from inside a question, but
 * step() is re-entered through term_done() (start_term -> a name that
 * cannot be asked -> term_done -> step), so step() keeps no state on its
 * stack across the calls it makes.
 */
#include "spf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "arena.h"
#include "dns.h"
#include "log.h"
#include "xalloc.h"

#define MAX_SLOTS (SPF_MAX_NAMES + 4)

enum tstate {
	T_IDLE,    /* not started */
	T_WAIT,    /* DNS questions out */
	T_DONE,    /* decided: f->matched */
	T_NEED_P,  /* waiting for the %{p} names */
};

struct frame {
	char domain[256];
	struct spf_record rec;
	bool fetching;       /* the TXT question is out */
	bool have_rec;
	bool via_redirect;   /* reached by redirect=: none is a permerror */
	size_t ti;           /* current term */
	enum tstate ts;
	bool counted;        /* this term counted against the DNS limit */
	bool matched;
	char target[256];    /* the term's expanded domain */
	unsigned pending;    /* answers awaited for this term */
	bool found;          /* ptr: a validated name matched */
};

struct slot {
	void *q;             /* the resolver's handle, while asked */
	struct spf_check *c;
	void (*fn)(struct spf_check *c, const struct dns_answer *a, int tag);
	int tag;
	bool eval;           /* the evaluation's (%{p}, exp), not a term's */
	unsigned gen;        /* term generation it was asked in */
};

struct spf_check {
	struct spf_resolver res;
	struct arena *arena;
	struct spf_params p;
	spf_done_fn *done;
	void *arg;
	int depth;
	unsigned dns_terms, voids;
	unsigned gen;        /* term generation: bumped when a term ends */
	uint64_t dropped;    /* stale answers dropped (never, with the cancel) */
	struct slot slots[MAX_SLOTS];
	/* %{p}: validated names of the client address */
	int p_state;         /* 0 not asked, 1 asking, 2 known */
	unsigned p_pending;
	unsigned np, npcand;
	bool in_exp;
	const char *exp_text;  /* an explanation waiting for %{p} */
	bool over;           /* reported (or cancelled): nothing more happens */
	unsigned busy;       /* entry points on the stack; free when 0 */
	char why[256];
	/*
	 * Not zeroed at start (12 KB): a frame is cleared when entered,
	 * the names are written before np/npcand count them.
	 */
	struct frame frames[SPF_MAX_DEPTH];
	char pnames[SPF_MAX_NAMES][256];
	char pcand[SPF_MAX_NAMES][256];
};

static void step(struct spf_check *c);

/* scopy - bounded string copy between fields of one struct */
static void
scopy(char *d, size_t n, const char *s)
{
	size_t l = strnlen(s, n - 1);

	memmove(d, s, l);
	d[l] = '\0';
}

/* finish - report once */
static void
finish(struct spf_check *c, enum spf_result r, const char *expl,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
finish(struct spf_check *c, enum spf_result r, const char *expl,
    const char *fmt, ...)
{
	va_list ap;
	size_t i;

	if (c->over)
		return;
	c->over = true;
	{
		/* fmt's arguments may be c->why itself: format aside. */
		char buf[sizeof(c->why)];

		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		memcpy(c->why, buf, sizeof(buf));
	}
	for (i = 0; i < MAX_SLOTS; i++) {
		if (c->slots[i].q != NULL) {
			c->res.cancel(c->res.ctx, c->slots[i].q);
			c->slots[i].q = NULL;
		}
	}
	/* c itself goes when the outermost entry point unwinds (release). */
	c->done(c->arg, r, expl, c->why);
}

/* release - free a check that is over and no longer on the stack */
static void
release(struct spf_check *c)
{
	if (c->over && c->busy == 0) {
		arena_free(c->arena);
		free(c);
	}
}

/* on_answer - a slot's answer; the slot is free again */
static void
on_answer(void *arg, const struct dns_answer *a)
{
	struct slot *s = arg;
	struct spf_check *c = s->c;

	s->q = NULL;
	if (c->over || (!s->eval && s->gen != c->gen)) {
		c->dropped++; /* its term (or the evaluation) has ended */
		release(c);
		return;
	}
	c->busy++;
	s->fn(c, a, s->tag);
	c->busy--;
	release(c);
}

typedef void answer_fn(struct spf_check *, const struct dns_answer *, int);

/* ask_in - one question of the current term, or of the evaluation */
static int
ask_in(struct spf_check *c, bool eval, const char *name, uint16_t type,
    answer_fn *fn, int tag)
{
	size_t i;

	for (i = 0; i < MAX_SLOTS; i++)
		if (c->slots[i].q == NULL)
			break;
	if (i == MAX_SLOTS)
		return -1;
	c->slots[i].c = c;
	c->slots[i].fn = fn;
	c->slots[i].tag = tag;
	c->slots[i].eval = eval;
	c->slots[i].gen = c->gen;
	return c->res.ask(c->res.ctx, name, type, on_answer, &c->slots[i],
	    &c->slots[i].q);
}

/* ask - a question of the current term; -1 if it cannot be asked */
static int
ask(struct spf_check *c, const char *name, uint16_t type, answer_fn *fn,
    int tag)
{
	return ask_in(c, false, name, type, fn, tag);
}

/* ask_eval - a question of the whole evaluation (%{p} names, exp) */
static int
ask_eval(struct spf_check *c, const char *name, uint16_t type, answer_fn *fn,
    int tag)
{
	return ask_in(c, true, name, type, fn, tag);
}

/* end_term - the current term is over: its questions go with it */
static void
end_term(struct spf_check *c)
{
	size_t i;

	for (i = 0; i < MAX_SLOTS; i++) {
		if (c->slots[i].q != NULL && !c->slots[i].eval) {
			c->res.cancel(c->res.ctx, c->slots[i].q);
			c->slots[i].q = NULL;
		}
	}
	c->gen++;
}

static struct frame *
top(struct spf_check *c)
{
	return &c->frames[c->depth - 1];
}

/* in_domain - name is domain or below it */

/* p_value - section 7.3: a validated name in d, else any, else unknown */
static const char *
p_value(struct spf_check *c, const char *domain)
{
	unsigned i;

	for (i = 0; i < c->np; i++)
		if (name_within(c->pnames[i], domain))
			return c->pnames[i];
	return c->np > 0 ? c->pnames[0] : NULL;
}

/*
 * expand - a domain-spec (or exp text) in the top frame's context. The
 * expansion is built in a full-size buffer first: a domain longer than
 * 253 octets is cut from the left (section 7.3), so only the result has
 * to fit out, never the intermediate text.
 */
static int
expand(struct spf_check *c, const char *spec, bool exp, char *out,
    size_t size, struct why *why)
{
	struct frame *f = top(c);
	struct spf_macro_ctx m = { c->p.sender, f->domain, c->p.ip, c->p.helo,
		NULL, c->p.receiver, c->p.now };
	char buf[SPF_MAX_EXPAND];

	m.ptr = c->p_state == 2 ? p_value(c, f->domain) : NULL;
	if (spf_expand(spec, &m, exp, buf, sizeof(buf), why) < 0)
		return -1;
	if (strlen(buf) >= size) {
		why_set(why, "macro expansion longer than %zu bytes", size - 1);
		return -1;
	}
	scopy(out, size, buf);
	return 0;
}

/* needs_p - the spec uses %{p} */
static bool
needs_p(const char *spec)
{
	return spec != NULL &&
	    (strstr(spec, "%{p") != NULL || strstr(spec, "%{P") != NULL);
}

/* result_of - a matched term's qualifier */
static enum spf_result
result_of(char q)
{
	switch (q) {
	case '-':
		return SPF_FAIL;
	case '~':
		return SPF_SOFTFAIL;
	case '?':
		return SPF_NEUTRAL;
	default:
		return SPF_PASS;
	}
}

/* addr_in - an answer's address within the term's CIDR */
static bool
addr_in(struct spf_check *c, const struct ipaddr *a, int c4, int c6)
{
	struct cidr net;
	int len = a->family == AF_INET ? (c4 < 0 ? 32 : c4)
				       : (c6 < 0 ? 128 : c6);

	if (a->family != c->p.ip->family)
		return false;
	addr_network(a, (unsigned)len, &net.addr);
	net.prefix = (unsigned)len;
	return cidr_match(&net, c->p.ip);
}

/* void_lookup - one more lookup that found nothing */
static bool
void_lookup(struct spf_check *c)
{
	if (++c->voids > SPF_MAX_VOID) {
		finish(c, SPF_PERMERROR, NULL, "more than %d void lookups",
		    SPF_MAX_VOID);
		return true;
	}
	return false;
}

/*
 * term_done - the term is decided: cancel what it still asks (the other
 * MX or PTR names), then go on
 */
static void
term_done(struct spf_check *c, bool matched)
{
	struct frame *f = top(c);

	end_term(c);
	f->matched = matched;
	f->ts = T_DONE;
	step(c);
}

/* p names: PTR, then each name's addresses */
static void
p_addr_answer(struct spf_check *c, const struct dns_answer *a, int tag)
{
	size_t i;

	if (a->status == DNS_OK)
		for (i = 0; i < a->n; i++)
			if (addr_equal(&a->rr[i].addr, c->p.ip) &&
			    c->np < SPF_MAX_NAMES) {
				scopy(c->pnames[c->np++], 256, c->pcand[tag]);
				break;
			}
	if (--c->p_pending == 0) {
		c->p_state = 2;
		if (top(c)->ts == T_NEED_P)
			top(c)->ts = T_IDLE;
		step(c);
	}
}

static void
p_ptr_answer(struct spf_check *c, const struct dns_answer *a, int tag)
{
	uint16_t t = c->p.ip->family == AF_INET ? DNS_T_A : DNS_T_AAAA;
	size_t i;

	(void)tag;
	c->p_pending = 0;
	for (i = 0; a->status == DNS_OK && i < a->n && i < SPF_MAX_NAMES;
	    i++) {
		scopy(c->pcand[i], 256, a->rr[i].text);
		if (ask_eval(c, c->pcand[i], t, p_addr_answer, (int)i) == 0)
			c->p_pending++;
	}
	if (c->p_pending == 0) {
		c->p_state = 2;
		if (top(c)->ts == T_NEED_P)
			top(c)->ts = T_IDLE;
		step(c);
	}
}

/* start_p - look up the client's validated names for %{p} */
static void
start_p(struct spf_check *c)
{
	char name[80];

	c->p_state = 1;
	top(c)->ts = T_NEED_P;
	dns_ptr_name(c->p.ip, name, sizeof(name));
	if (ask_eval(c, name, DNS_T_PTR, p_ptr_answer, 0) < 0) {
		c->p_state = 2;
		top(c)->ts = T_IDLE;
		step(c);
	}
}

/* a_answer - addresses for a, for mx's names (tag: 1), exists (tag: 2) */
static void
a_answer(struct spf_check *c, const struct dns_answer *a, int tag)
{
	struct frame *f = top(c);
	const struct spf_term *t = &f->rec.terms[f->ti];
	size_t i;

	f->pending--;
	if (a->status == DNS_TEMPFAIL || a->status == DNS_BAD) {
		finish(c, SPF_TEMPERROR, NULL, "lookup of %s: %s", a->name,
		    a->why ? a->why : dns_status_name(a->status));
		return;
	}
	if (a->status == DNS_OK) {
		if (tag == 2) {
			term_done(c, true); /* exists: any A record */
			return;
		}
		for (i = 0; i < a->n; i++) {
			if (addr_in(c, &a->rr[i].addr, t->cidr4, t->cidr6)) {
				term_done(c, true);
				return;
			}
		}
	} else if (tag != 1 && void_lookup(c)) {
		return;
	}
	if (f->pending == 0)
		term_done(c, false);
}

/* mx_answer - the MX names, then their addresses */
static void
mx_answer(struct spf_check *c, const struct dns_answer *a, int tag)
{
	struct frame *f = top(c);
	uint16_t t = c->p.ip->family == AF_INET ? DNS_T_A : DNS_T_AAAA;
	size_t i;

	(void)tag;
	f->pending = 0;
	if (a->status == DNS_TEMPFAIL || a->status == DNS_BAD) {
		finish(c, SPF_TEMPERROR, NULL, "MX lookup of %s: %s", a->name,
		    a->why ? a->why : dns_status_name(a->status));
		return;
	}
	if (a->status != DNS_OK) {
		if (!void_lookup(c))
			term_done(c, false);
		return;
	}
	if (a->n > SPF_MAX_NAMES) {
		finish(c, SPF_PERMERROR, NULL, "%s has more than %d MX records",
		    a->name, SPF_MAX_NAMES);
		return;
	}
	for (i = 0; i < a->n; i++) {
		if (a->rr[i].text[0] == '\0' || strcmp(a->rr[i].text, ".") == 0)
			continue; /* null MX */
		if (ask(c, a->rr[i].text, t, a_answer, 1) == 0)
			f->pending++;
	}
	if (f->pending == 0)
		term_done(c, false);
}

/* ptr_addr_answer - is this PTR name validated and within the target */
static void
ptr_addr_answer(struct spf_check *c, const struct dns_answer *a, int tag)
{
	struct frame *f = top(c);
	size_t i;

	(void)tag;
	f->pending--;
	if (a->status == DNS_OK && name_within(a->name, f->target))
		for (i = 0; i < a->n; i++)
			if (addr_equal(&a->rr[i].addr, c->p.ip))
				f->found = true;
	if (f->found) {
		term_done(c, true);
		return;
	}
	if (f->pending == 0)
		term_done(c, false);
}

/* ptr_answer - the client's names (section 5.5: errors do not match) */
static void
ptr_answer(struct spf_check *c, const struct dns_answer *a, int tag)
{
	struct frame *f = top(c);
	uint16_t t = c->p.ip->family == AF_INET ? DNS_T_A : DNS_T_AAAA;
	size_t i;

	(void)tag;
	f->pending = 0;
	if (a->status == DNS_NXDOMAIN || a->status == DNS_NODATA) {
		if (!void_lookup(c))
			term_done(c, false);
		return;
	}
	for (i = 0; a->status == DNS_OK && i < a->n && i < SPF_MAX_NAMES; i++)
		if (name_within(a->rr[i].text, f->target) &&
		    ask(c, a->rr[i].text, t, ptr_addr_answer, 0) == 0)
			f->pending++;
	if (f->pending == 0)
		term_done(c, false);
}

/* txt_answer - the SPF record of the top frame's domain */
static void
txt_answer(struct spf_check *c, const struct dns_answer *a, int tag)
{
	struct frame *f = top(c);
	const char *rec = NULL;
	struct why why;
	size_t i, n = 0;

	(void)tag;
	f->fetching = false;
	if (a->status == DNS_TEMPFAIL || a->status == DNS_BAD) {
		finish(c, SPF_TEMPERROR, NULL, "TXT lookup of %s: %s",
		    f->domain, a->why ? a->why : dns_status_name(a->status));
		return;
	}
	size_t rlen = 0;

	for (i = 0; a->status == DNS_OK && i < a->n; i++) {
		if (spf_is_record(a->rr[i].text, a->rr[i].len)) {
			n++;
			rec = a->rr[i].text;
			rlen = a->rr[i].len;
		}
	}
	if (n > 1) {
		finish(c, SPF_PERMERROR, NULL, "%s has %zu SPF records",
		    f->domain, n);
		return;
	}
	if (n == 0) {
		if (c->depth == 1 && !f->via_redirect)
			finish(c, SPF_NONE, NULL, "%s has no SPF record",
			    f->domain);
		else
			finish(c, SPF_PERMERROR, NULL, "%s (included or "
						       "redirected to) has no "
						       "SPF record", f->domain);
		return;
	}
	if (strlen(rec) != rlen) {
		finish(c, SPF_PERMERROR, NULL, "SPF record of %s contains a "
					       "NUL byte", f->domain);
		return;
	}
	if (spf_parse(c->arena, rec, &f->rec, &why) < 0) {
		finish(c, SPF_PERMERROR, NULL, "SPF record of %s: %s",
		    f->domain, why.text);
		return;
	}
	f->have_rec = true;
	f->ti = 0;
	f->ts = T_IDLE;
	step(c);
}

/* frame_enter - check domain in frame f (new, or replaced by redirect) */
static void
frame_enter(struct spf_check *c, struct frame *f, const char *domain,
    bool redirect)
{
	memset(f, 0, sizeof(*f));
	scopy(f->domain, sizeof(f->domain), domain);
	f->via_redirect = redirect;
	f->fetching = true;
	if (strchr(domain, '.') == NULL ||
	    ask(c, domain, DNS_T_TXT, txt_answer, 0) < 0) {
		if (c->depth == 1 && !redirect)
			finish(c, SPF_NONE, NULL, "\"%s\" is not a domain name",
			    domain);
		else
			finish(c, SPF_PERMERROR, NULL, "\"%s\" is not a domain "
						       "name", domain);
	}
}

/* exp_answer - the explanation TXT after a fail */
static void
exp_answer(struct spf_check *c, const struct dns_answer *a, int tag)
{
	char text[SPF_MAX_EXPAND];

	(void)tag;
	if (a->status == DNS_OK && a->n == 1 && needs_p(a->rr[0].text) &&
	    c->p_state != 2) {
		/* The text wants %{p}: find the names, then expand. */
		c->exp_text = arena_strdup(c->arena, a->rr[0].text);
		c->in_exp = true;
		if (c->p_state == 0)
			start_p(c);
		return;
	}
	if (a->status == DNS_OK && a->n == 1 &&
	    expand(c, a->rr[0].text, true, text, sizeof(text), NULL) == 0) {
		finish(c, SPF_FAIL, text, "%s", c->why);
		return;
	}
	finish(c, SPF_FAIL, NULL, "%s", c->why);
}

/* frame_result - the top frame ended with r */
static void
frame_result(struct spf_check *c, enum spf_result r, const char *why)
{
	struct frame *f = top(c);

	if (c->depth > 1) {
		/* An include: only pass matches; errors end everything. */
		c->depth--;
		if (r == SPF_TEMPERROR || r == SPF_PERMERROR) {
			finish(c, r, NULL, "%s", why);
			return;
		}
		if (r == SPF_NONE) {
			finish(c, SPF_PERMERROR, NULL, "%s", why);
			return;
		}
		term_done(c, r == SPF_PASS);
		return;
	}
	if (r == SPF_FAIL && f->rec.exp != NULL) {
		char dom[SPF_MAX_EXPAND];

		if (why != c->why)
			scopy(c->why, sizeof(c->why), why);
		if (needs_p(f->rec.exp) && c->p_state == 0) {
			c->in_exp = true;
			start_p(c);
			return;
		}
		if (expand(c, f->rec.exp, false, dom, sizeof(dom), NULL) == 0 &&
		    ask_eval(c, dom, DNS_T_TXT, exp_answer, 0) == 0)
			return;
	}
	finish(c, r, NULL, "%s", why);
}

/* start_term - begin the current term */
static void
start_term(struct spf_check *c, struct frame *f, const struct spf_term *t)
{
	uint16_t at = c->p.ip->family == AF_INET ? DNS_T_A : DNS_T_AAAA;
	char ptr[80];
	struct why why;

	switch (t->mech) {
	case SPF_ALL:
		f->matched = true;
		f->ts = T_DONE;
		return;
	case SPF_IP4:
	case SPF_IP6:
		f->matched = cidr_match(&t->net, c->p.ip);
		f->ts = T_DONE;
		return;
	default:
		break;
	}
	if (!f->counted) {
		f->counted = true;
		if (++c->dns_terms > SPF_MAX_DNS_TERMS) {
			finish(c, SPF_PERMERROR, NULL, "more than %d DNS "
						       "lookups",
			    SPF_MAX_DNS_TERMS);
			return;
		}
	}
	if (needs_p(t->domain) && c->p_state != 2) {
		if (c->p_state == 0)
			start_p(c);
		else
			f->ts = T_NEED_P;
		return;
	}
	if (t->domain == NULL)
		scopy(f->target, sizeof(f->target), f->domain);
	else if (expand(c, t->domain, false, f->target, sizeof(f->target),
	    &why) < 0) {
		finish(c, SPF_PERMERROR, NULL, "%s", why.text);
		return;
	}
	f->ts = T_WAIT;
	f->pending = 1;
	switch (t->mech) {
	case SPF_A:
		if (ask(c, f->target, at, a_answer, 0) < 0)
			goto bad_name;
		return;
	case SPF_EXISTS:
		if (ask(c, f->target, DNS_T_A, a_answer, 2) < 0)
			goto bad_name;
		return;
	case SPF_MX:
		if (ask(c, f->target, DNS_T_MX, mx_answer, 0) < 0)
			goto bad_name;
		return;
	case SPF_PTR:
		dns_ptr_name(c->p.ip, ptr, sizeof(ptr));
		if (ask(c, ptr, DNS_T_PTR, ptr_answer, 0) < 0)
			term_done(c, false);
		return;
	case SPF_INCLUDE:
		if (c->depth == SPF_MAX_DEPTH) {
			finish(c, SPF_PERMERROR, NULL, "includes nested deeper "
						       "than %d",
			    SPF_MAX_DEPTH);
			return;
		}
		c->depth++;
		frame_enter(c, top(c), f->target, false);
		return;
	default:
		return;
	}
bad_name:
	/* Not a name the resolver can ask: nothing found. */
	f->pending = 0;
	if (!void_lookup(c))
		term_done(c, false);
}

/* note_match - the mechanism that matched, and how wide it was */
static void
note_match(struct spf_check *c, const struct spf_term *t)
{
	bool v4 = c->p.ip->family == AF_INET;
	unsigned host = v4 ? 32 : 128;
	struct spf_match *m = c->p.match;

	if (m == NULL)
		return;
	m->set = true;
	m->mech = t->mech;
	switch (t->mech) {
	case SPF_IP4:
	case SPF_IP6:
		m->prefix = t->net.prefix;
		break;
	case SPF_A:
	case SPF_MX: {
		int cidr = v4 ? t->cidr4 : t->cidr6;

		m->prefix = cidr < 0 ? host : (unsigned)cidr;
		break;
	}
	case SPF_PTR:
		m->prefix = host;
		break;
	default: /* all, exists: whatever the owner wants */
		m->prefix = 0;
		break;
	}
}

/* step - drive the top frame as far as it goes without waiting */
static void
step(struct spf_check *c)
{
	while (!c->over) {
		struct frame *f = top(c);

		if (c->in_exp) {
			char text[SPF_MAX_EXPAND];

			if (c->p_state != 2)
				return;
			c->in_exp = false;
			if (c->exp_text == NULL) {
				frame_result(c, SPF_FAIL, c->why);
				return;
			}
			if (expand(c, c->exp_text, true, text, sizeof(text),
			    NULL) == 0)
				finish(c, SPF_FAIL, text, "%s", c->why);
			else
				finish(c, SPF_FAIL, NULL, "%s", c->why);
			return;
		}
		if (!f->have_rec || f->ts == T_WAIT || f->ts == T_NEED_P)
			return;
		if (f->ti == f->rec.nterms) {
			char dom[256];
			struct why why;

			if (f->rec.redirect == NULL) {
				frame_result(c, SPF_NEUTRAL, "no term matched");
				return;
			}
			if (needs_p(f->rec.redirect) && c->p_state != 2) {
				if (c->p_state == 0)
					start_p(c);
				return;
			}
			if (++c->dns_terms > SPF_MAX_DNS_TERMS) {
				finish(c, SPF_PERMERROR, NULL, "more than %d "
							       "DNS lookups",
				    SPF_MAX_DNS_TERMS);
				return;
			}
			if (expand(c, f->rec.redirect, false, dom, sizeof(dom),
			    &why) < 0) {
				finish(c, SPF_PERMERROR, NULL, "%s", why.text);
				return;
			}
			frame_enter(c, f, dom, true);
			return;
		}
		if (f->ts == T_IDLE) {
			start_term(c, f, &f->rec.terms[f->ti]);
			continue;
		}
		/* T_DONE */
		if (f->matched) {
			const struct spf_term *t = &f->rec.terms[f->ti];
			char why[320]; /* a result's name, a domain of 255 */

			if (t->mech != SPF_INCLUDE)
				note_match(c, t);
			text_cat(why, sizeof(why),
			    spf_result_name(result_of(t->qualifier)),
			    " matched a term of ", f->domain, NULL);
			frame_result(c, result_of(t->qualifier), why);
			return;
		}
		f->ti++;
		f->ts = T_IDLE;
		f->counted = false;
	}
}

/* domain_ok - a name check_host can look up (section 4.3) */
static bool
domain_ok(const char *d)
{
	size_t len = strlen(d), label = 0, i;

	if (len > 0 && d[len - 1] == '.')
		len--;
	if (len == 0 || len > 253 || memchr(d, '.', len) == NULL)
		return false;
	for (i = 0; i < len; i++) {
		if (d[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((unsigned char)d[i] <= ' ' ||
		    (unsigned char)d[i] >= 0x7f || ++label > 63) {
			return false;
		}
	}
	return true;
}

/* spf_check - check_host(ip, domain, sender) */
int
spf_check(const struct spf_resolver *res, const struct spf_params *p,
    spf_done_fn *done, void *arg, struct spf_check **cp,
    enum spf_result *now_result)
{
	struct spf_check *c;

	if (cp)
		*cp = NULL;
	if (res == NULL || res->ask == NULL || p->ip == NULL ||
	    p->domain == NULL)
		return -1;
	if (!domain_ok(p->domain)) {
		/* Section 4.3: not a domain we can check: none, at once. */
		*now_result = SPF_NONE;
		return 1;
	}
	c = xmalloc(sizeof(*c));
	memset(c, 0, offsetof(struct spf_check, frames));
	memset(&c->frames[0], 0, sizeof(c->frames[0]));
	c->res = *res;
	c->arena = arena_new();
	c->done = done;
	c->arg = arg;
	c->p = *p;
	if (p->match != NULL)
		memset(p->match, 0, sizeof(*p->match));
	{
		struct ipaddr *ip = arena_alloc(c->arena, sizeof(*ip));

		*ip = *p->ip;
		c->p.ip = ip;
	}
	c->p.sender = arena_strdup(c->arena, p->sender ? p->sender : "");
	c->p.domain = arena_strdup(c->arena, p->domain);
	c->p.helo = arena_strdup(c->arena, p->helo ? p->helo : "");
	c->p.receiver = arena_strdup(c->arena, p->receiver ? p->receiver
							   : "unknown");
	c->depth = 1;
	if (cp)
		*cp = c;
	/* The first question by hand: if it cannot be asked (resolver
	 * closing), fail here, without calling back from inside. */
	scopy(top(c)->domain, sizeof(top(c)->domain), c->p.domain);
	top(c)->fetching = true;
	if (ask(c, c->p.domain, DNS_T_TXT, txt_answer, 0) < 0) {
		arena_free(c->arena);
		free(c);
		if (cp)
			*cp = NULL;
		return -1;
	}
	return 0;
}

/* dns_ask - spf_resolver's ask, on the resolver itself */
static int
dns_ask(void *ctx, const char *name, uint16_t type,
    void (*done)(void *arg, const struct dns_answer *a), void *arg, void **h)
{
	struct dns_query *q;
	int rc;

	if (ctx == NULL)
		return -1;
	rc = dns_query(ctx, name, type, done, arg, &q);
	*h = q;
	return rc;
}

/* dns_unask - spf_resolver's cancel, on the resolver itself */
static void
dns_unask(void *ctx, void *h)
{
	(void)ctx;
	dns_cancel(h);
}

/* spf_resolver_dns - ask the resolver directly */
void
spf_resolver_dns(struct spf_resolver *r, struct dns *dns)
{
	r->ask = dns_ask;
	r->cancel = dns_unask;
	r->ctx = dns;
}

/* spf_cancel - no callback */
void
spf_cancel(struct spf_check *c)
{
	size_t i;

	if (c == NULL || c->over)
		return;
	c->over = true;
	for (i = 0; i < MAX_SLOTS; i++) {
		if (c->slots[i].q != NULL) {
			c->res.cancel(c->res.ctx, c->slots[i].q);
			c->slots[i].q = NULL;
		}
	}
	release(c);
}
