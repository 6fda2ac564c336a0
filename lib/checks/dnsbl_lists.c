/*
 * dnsbl_lists - each DNS list's state for the daemon's life, one per
 * list and family of questions (an ip list's IPv4 and IPv6 sides are
 * judged apart: a list whose IPv6 test point went away still serves
 * IPv4). See dnsbl_int.h for the interface.
 *
 * States are made and dropped only by bl_lists_configure() (a policy put
 * in force); requests find them read-only and report what they saw, so
 * a request that began under an older policy never brings back a list
 * the reload dropped, and the table has no fixed size.
 *
 * A state:
 *   untested -> ok            its self-test passed
 *   any -> disabled           a self-test failed: the listed test point
 *                             is not listed (the list went empty), or the
 *                             one that must not be is (it lists everyone)
 *   any -> unusable           an error code or an answer outside 127/8:
 *                             the list refuses us; self-tested again
 *                             within a minute (sooner if self_test_every
 *                             is shorter), or asked again after the
 *                             back-off without self-tests
 *   untested|ok -> backoff    failures lookups in a row had no answer;
 *                             asked again after a doubling back-off
 *   untested|ok -> suspended  it listed breaker_percent of the last
 *                             breaker_lookups lookups: a list that lists
 *                             the world between self-tests; self-tested
 *                             at once, back when the test passes
 * Self-tests (RFC 5782 section 5) bypass the resolver's cache, so a zone
 * fixed since is seen at once. A transient process (--stdio, one per
 * SMTP session under spawn) asks no self-test: it takes the daemon's
 * states from the store (bl_lists_adopt), and uses a list it knows
 * nothing of.
 */
#include "dnsbl_int.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "xalloc.h"

#define TICK_SLACK_MS   100      /* a test due within this of a tick: now */
#define RETEST_MS       60000    /* a failed or unusable list, again */
#define BACKOFF_MAX_MS  (30 * 60 * 1000)
#define PROBES          2        /* per state: listed, and not listed */

static const char *const st_names[] = { "untested", "ok", "disabled",
	"unusable", "backoff", "suspended" };

struct bl_lists;

static void flush(struct bl_lists *ls);

/* One self-test question. */
struct bl_probe {
	struct bl_lstate *s;
	void *handle;        /* the asker's, while in the air */
	bool listed_wanted;
	char point[48];      /* the test point, for the log */
};

struct bl_lstate {
	struct bl_lists *ls;
	char *zone;          /* as asked; never printed */
	char key[80];        /* the name, "/ipv6" for an IPv6 side */
	bool domain;
	enum bl_fam fam;
	struct ipaddr test6; /* BL_FAM_V6: the listed test point */
	const struct bl_list *l; /* of the set in force (error codes) */
	bool self_test;
	bool in_force;       /* for configure: still named */
	enum bl_st st;
	char why[320];       /* of the state, for the log and stats */
	int64_t since, last_test;
	uint64_t next_test_ms, test_started_ms;
	unsigned fails;      /* in a row */
	uint64_t backoff_ms, until_ms; /* backoff, suspended, unusable */
	uint64_t lookups, hits, errors, skipped;
	/* The breaker: whether each of the last lookups listed. */
	uint64_t window[BL_WINDOW_MAX / 64];
	unsigned wpos, wseen, wlisted;
	struct bl_probe probes[PROBES];
	unsigned probing;
	bool test_bad, test_unusable, test_trouble;
	char test_why[320];
	bool dirty;          /* to be written */
};

struct bl_lists {
	struct bl_lists_io io;
	bool transient;
	const struct bl_set *set; /* in force (the caller holds it) */
	struct bl_lstate **v;
	size_t n;
	uint64_t last_write_ms;
	bool changed;        /* a state changed: its record goes out now */
};

struct bl_lists *
bl_lists_new(const struct bl_lists_io *io, bool transient)
{
	struct bl_lists *ls = xcalloc(1, sizeof(*ls));

	ls->io = *io;
	ls->transient = transient;
	return ls;
}

/* cancel_probes - the state's self-test questions, without answers */
static void
cancel_probes(struct bl_lstate *s)
{
	unsigned k;

	for (k = 0; k < PROBES; k++) {
		if (s->probes[k].handle != NULL) {
			s->ls->io.cancel(s->ls->io.arg, s->probes[k].handle);
			s->probes[k].handle = NULL;
		}
	}
	s->probing = 0;
}

static void
state_free(struct bl_lstate *s)
{
	cancel_probes(s);
	free(s->zone);
	free(s);
}

void
bl_lists_free(struct bl_lists *ls)
{
	size_t i;

	if (ls == NULL)
		return;
	for (i = 0; i < ls->n; i++)
		state_free(ls->v[i]);
	free(ls->v);
	free(ls);
}

/* same - s is list l's family fam */
static bool
same(const struct bl_lstate *s, const struct bl_list *l, enum bl_fam fam)
{
	return s->fam == fam && s->domain == l->domain &&
	    strcmp(s->zone, l->zone) == 0;
}

struct bl_lstate *
bl_lists_find(struct bl_lists *ls, const struct bl_list *l, enum bl_fam fam)
{
	size_t i;

	for (i = 0; ls != NULL && i < ls->n; i++)
		if (same(ls->v[i], l, fam))
			return ls->v[i];
	return NULL;
}

/* set_state - a state change, said loudly once */
static void
set_state(struct bl_lstate *s, enum bl_st st, const char *why, int64_t wall)
{
	if (s->st == st && strcmp(s->why, why) == 0)
		return;
	if (st == BL_OK && s->st == BL_UNTESTED)
		log_info("dnsbl: %s %s", s->key, why);
	else if (st == BL_OK || st == BL_UNTESTED)
		log_info("dnsbl: %s is usable again%s%s", s->key,
		    *why ? ": " : "", why);
	else if (st == BL_DISABLED)
		log_err("dnsbl: %s DISABLED until it passes its self-test: %s",
		    s->key, why);
	else if (st == BL_UNUSABLE)
		log_err("dnsbl: %s is UNUSABLE from here, skipped: %s", s->key,
		    why);
	else if (st == BL_BACKOFF)
		log_warn("dnsbl: %s skipped for a while: %s", s->key, why);
	else if (st == BL_SUSPENDED)
		log_err("dnsbl: %s SUSPENDED until it passes its self-test: %s",
		    s->key, why);
	s->st = st;
	snprintf(s->why, sizeof(s->why), "%s", why);
	s->since = wall;
	s->dirty = true;
	s->ls->changed = true;
}

/* window_reset - the breaker starts counting anew */
static void
window_reset(struct bl_lstate *s)
{
	memset(s->window, 0, sizeof(s->window));
	s->wpos = s->wseen = s->wlisted = 0;
}

/* testing - the set in force tests this state at all */
static bool
testing(const struct bl_lists *ls, const struct bl_lstate *s)
{
	return !ls->transient && s->self_test && ls->set != NULL &&
	    ls->set->test_every_ms > 0;
}

/* retest_ms - how soon a failed or unusable list is tested again */
static uint64_t
retest_ms(const struct bl_lists *ls)
{
	uint64_t every = ls->set != NULL ? ls->set->test_every_ms : RETEST_MS;

	return every > 0 && every < RETEST_MS ? every : RETEST_MS;
}

void
bl_lists_configure(struct bl_lists *ls, const struct bl_set *set,
    uint64_t now_ms, int64_t wall)
{
	size_t i, o;
	unsigned li;

	for (i = 0; i < ls->n; i++)
		ls->v[i]->in_force = false;
	ls->set = set;
	for (li = 0; set != NULL && li < set->n; li++) {
		const struct bl_list *l = &set->lists[li];
		enum bl_fam fams[2];
		unsigned nf = 0, f;

		if (!l->enabled)
			continue;
		if (l->domain)
			fams[nf++] = BL_FAM_NAME;
		if (!l->domain && l->v4)
			fams[nf++] = BL_FAM_V4;
		if (!l->domain && l->v6)
			fams[nf++] = BL_FAM_V6;
		for (f = 0; f < nf; f++) {
			struct bl_lstate *s = bl_lists_find(ls, l, fams[f]);

			if (s == NULL) {
				s = xcalloc(1, sizeof(*s));
				s->ls = ls;
				s->zone = xstrdup(l->zone);
				s->domain = l->domain;
				s->fam = fams[f];
				s->since = wall;
				s->dirty = true;
				s->next_test_ms = now_ms; /* at once */
				ls->v = xreallocarray(ls->v, ls->n + 1,
				    sizeof(*ls->v));
				ls->v[ls->n++] = s;
			}
			/* A reload tests every list again, at once: its
			 * zone may have been fixed meanwhile. */
			if (s->probing == 0)
				s->next_test_ms = now_ms;
			snprintf(s->key, sizeof(s->key), "%s%s", l->name,
			    fams[f] == BL_FAM_V6 ? "/ipv6" : "");
			s->l = l;
			s->test6 = l->test6;
			s->self_test = l->self_test;
			s->in_force = true;
		}
	}
	/* Dropped: no list in force has it any more. */
	for (i = o = 0; i < ls->n; i++) {
		if (ls->v[i]->in_force)
			ls->v[o++] = ls->v[i];
		else
			state_free(ls->v[i]);
	}
	ls->n = o;
	/* The first self-tests go out now, not at the next tick. */
	bl_lists_tick(ls, now_ms, wall);
}

/* probe_judge - one self-test answer: as wanted, or why not */
static void
probe_judge(struct bl_lstate *s, const struct bl_probe *pb,
    const struct bl_probe_answer *a)
{
	bool listed = false;
	unsigned i;

	if (a->trouble) {
		s->test_trouble = true;
		return;
	}
	for (i = 0; i < a->n && i < 8; i++) {
		const uint8_t *ip = a->a[i];
		const char *err;

		if ((err = dnsbl__error_code(s->l, ip, pb->listed_wanted)) !=
		    NULL || ip[0] != 127) {
			/* Unusable from here rather than dead. */
			snprintf(s->test_why, sizeof(s->test_why), "it answers "
			    "%u.%u.%u.%u: %s (its test point %s)", ip[0],
			    ip[1], ip[2], ip[3], err ? err
			    : "outside 127.0.0.0/8, a resolver that rewrites "
			      "NXDOMAIN", pb->point);
			s->test_unusable = true;
			return;
		}
		listed = true;
	}
	if (listed == pb->listed_wanted || s->test_bad)
		return;
	s->test_bad = true;
	if (pb->listed_wanted)
		snprintf(s->test_why, sizeof(s->test_why), "its test entry %s "
		    "is not listed: the list looks empty or dead", pb->point);
	else
		snprintf(s->test_why, sizeof(s->test_why), "it lists %s, which "
		    "no list may list: it lists everyone (a dead list's "
		    "domain?)", pb->point);
}

void
bl_lists_probed(struct bl_lists *ls, void *token,
    const struct bl_probe_answer *a, uint64_t now_ms, int64_t wall)
{
	struct bl_probe *pb = token;
	struct bl_lstate *s = pb->s;
	uint64_t every = ls->set ? ls->set->test_every_ms : 0;

	pb->handle = NULL;
	s->probing--;
	probe_judge(s, pb, a);
	if (s->probing > 0)
		return;
	s->last_test = wall;
	s->dirty = true;
	if (s->test_unusable) {
		set_state(s, BL_UNUSABLE, s->test_why, wall);
	} else if (s->test_bad) {
		set_state(s, BL_DISABLED, s->test_why, wall);
	} else if (s->test_trouble) {
		/* Could not tell: the state stays, a new try comes sooner. */
		every = retest_ms(ls);
	} else {
		s->fails = 0;
		s->backoff_ms = 0;
		window_reset(s);
		set_state(s, BL_OK, "passed its self-test", wall);
	}
	/* A failed list is tried again sooner, to come back soon. */
	if (s->st == BL_DISABLED || s->st == BL_UNUSABLE ||
	    s->st == BL_SUSPENDED)
		every = retest_ms(ls);
	s->next_test_ms = s->test_started_ms + every;
	(void)now_ms;
	/* State changes are written at once (counts every stats_every). */
	if (ls->changed)
		flush(ls);
}

/* probe_name - a test point under the zone, and its text for the log */
static void
probe_name(const struct bl_lstate *s, bool listed, char *buf, size_t size,
    char *point, size_t psize)
{
	static const char hex[] = "0123456789abcdef";
	struct ipaddr t = s->test6;
	size_t o = 0;
	int i;

	if (s->fam == BL_FAM_NAME) {
		snprintf(buf, size, "%s.%s", listed ? "test" : "invalid",
		    s->zone);
		snprintf(point, psize, "%s", listed ? "TEST" : "INVALID");
		return;
	}
	if (s->fam == BL_FAM_V4) {
		snprintf(buf, size, "%d.0.0.127.%s", listed ? 2 : 1, s->zone);
		snprintf(point, psize, "127.0.0.%d", listed ? 2 : 1);
		return;
	}
	t.a[15] = listed ? 2 : 1;
	if (inet_ntop(AF_INET6, t.a, point, (socklen_t)psize) == NULL)
		snprintf(point, psize, "?");
	for (i = 15; i >= 0 && o + 4 < size; i--) {
		buf[o++] = hex[t.a[i] & 15];
		buf[o++] = '.';
		buf[o++] = hex[t.a[i] >> 4];
		buf[o++] = '.';
	}
	snprintf(buf + o, size - o, "%s", s->zone);
}

/* self_test - ask the state's two test points */
static void
self_test(struct bl_lists *ls, struct bl_lstate *s, uint64_t now_ms)
{
	unsigned k;

	s->test_bad = s->test_trouble = s->test_unusable = false;
	s->test_started_ms = now_ms;
	s->test_why[0] = '\0';
	for (k = 0; k < PROBES; k++) {
		struct bl_probe *pb = &s->probes[k];
		char name[300];

		pb->s = s;
		pb->listed_wanted = k == 0;
		probe_name(s, pb->listed_wanted, name, sizeof(name), pb->point,
		    sizeof(pb->point));
		if (ls->io.ask(ls->io.arg, name, pb, &pb->handle) == 0)
			s->probing++;
	}
	if (s->probing == 0)
		s->next_test_ms = now_ms + retest_ms(ls);
}

/* rec_of - a state as a record (lib/dnsbl_rec.h) */
static void
rec_of(const struct bl_lstate *s, struct bl_rec *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", s->key);
	snprintf(r->state, sizeof(r->state), "%s", st_names[s->st]);
	snprintf(r->why, sizeof(r->why), "%s", s->why);
	r->since = s->since;
	r->tested = s->last_test;
	r->lookups = s->lookups;
	r->hits = s->hits;
	r->errors = s->errors;
	r->skipped = s->skipped;
}

/* rec_value - a state as the store keeps it */
static void
rec_value(const struct bl_lstate *s, char *buf, size_t size)
{
	struct bl_rec r;

	rec_of(s, &r);
	bl_rec_encode(&r, buf, size);
}

size_t
bl_lists_recs(const struct bl_lists *ls, struct bl_rec *out, size_t max)
{
	size_t i, n = 0;

	for (i = 0; ls != NULL && i < ls->n && n < max; i++)
		rec_of(ls->v[i], &out[n++]);
	return n;
}

/* flush - the changed states to io->write, one batch */
static void
flush(struct bl_lists *ls)
{
	size_t i, last = ls->n;
	char v[512];

	ls->changed = false;
	if (ls->io.write == NULL || ls->transient)
		return;
	for (i = 0; i < ls->n; i++)
		if (ls->v[i]->dirty)
			last = i;
	for (i = 0; last < ls->n && i <= last; i++) {
		struct bl_lstate *s = ls->v[i];

		if (!s->dirty)
			continue;
		s->dirty = false;
		rec_value(s, v, sizeof(v));
		ls->io.write(ls->io.arg, s->key, v, i == last);
	}
}

void
bl_lists_tick(struct bl_lists *ls, uint64_t now_ms, int64_t wall)
{
	size_t i;

	for (i = 0; i < ls->n; i++) {
		struct bl_lstate *s = ls->v[i];

		if (testing(ls, s) && s->probing == 0 &&
		    now_ms + TICK_SLACK_MS >= s->next_test_ms)
			self_test(ls, s, now_ms);
		/* Without self-tests, a pause ends by itself. */
		if ((s->st == BL_BACKOFF || ((s->st == BL_UNUSABLE ||
		    s->st == BL_SUSPENDED) && !testing(ls, s))) &&
		    now_ms >= s->until_ms) {
			window_reset(s);
			set_state(s, BL_UNTESTED, s->st == BL_BACKOFF
			    ? "its back-off is over" : "asked again after its "
			    "pause", wall);
		}
	}
	/* Counts every stats_every; state changes at once. */
	if (ls->set != NULL && now_ms - ls->last_write_ms + TICK_SLACK_MS >=
	    ls->set->stats_every_ms) {
		ls->last_write_ms = now_ms;
		for (i = 0; !ls->transient && i < ls->n; i++)
			ls->v[i]->dirty = true;
	}
	flush(ls);
}

bool
bl_lstate_usable(const struct bl_lstate *s, uint64_t now_ms, char *why,
    size_t size)
{
	const char *colon;

	switch (s->st) {
	case BL_DISABLED:
		snprintf(why, size, "disabled: failed its self-test");
		return false;
	case BL_UNUSABLE:
		if (!testing(s->ls, s) && now_ms >= s->until_ms)
			return true;
		/* The meaning was logged at the change; here its code. */
		colon = strchr(s->why, ':');
		snprintf(why, size, "unusable: %.*s", colon
		    ? (int)(colon - s->why) : 40, s->why);
		return false;
	case BL_SUSPENDED:
		if (!testing(s->ls, s) && now_ms >= s->until_ms)
			return true;
		snprintf(why, size, "suspended: listed nearly every client");
		return false;
	case BL_BACKOFF:
		if (now_ms >= s->until_ms)
			return true; /* over: this request asks again */
		snprintf(why, size, "backing off after failures");
		return false;
	default:
		return true;
	}
}

/* breaker - one more lookup in the window; true when it trips */
static bool
breaker(struct bl_lists *ls, struct bl_lstate *s, bool listed)
{
	unsigned n = ls->set ? ls->set->breaker_lookups : 0;
	uint64_t bit;

	if (n == 0 || n > BL_WINDOW_MAX)
		return false;
	bit = 1ull << (s->wpos % 64);
	if (s->wseen == n && (s->window[s->wpos / 64] & bit))
		s->wlisted--; /* the oldest leaves the window */
	if (listed) {
		s->window[s->wpos / 64] |= bit;
		s->wlisted++;
	} else {
		s->window[s->wpos / 64] &= ~bit;
	}
	s->wpos = (s->wpos + 1) % n;
	if (s->wseen < n)
		s->wseen++;
	return s->wseen == n && (uint64_t)s->wlisted * 100 >=
	    (uint64_t)ls->set->breaker_percent * n;
}

static void report(struct bl_lists *ls, struct bl_lstate *s,
    enum bl_outcome o, const char *why, uint64_t now_ms, int64_t wall);

void
bl_lists_report(struct bl_lists *ls, struct bl_lstate *s, enum bl_outcome o,
    const char *why, uint64_t now_ms, int64_t wall)
{
	if (s == NULL)
		return;
	report(ls, s, o, why, now_ms, wall);
	if (ls->changed)
		flush(ls);
}

/* report - bl_lists_report's judgement */
static void
report(struct bl_lists *ls, struct bl_lstate *s, enum bl_outcome o,
    const char *why, uint64_t now_ms, int64_t wall)
{
	char w[320];

	switch (o) {
	case BL_O_SKIPPED:
		s->skipped++;
		return;
	case BL_O_LISTED:
	case BL_O_CLEAN:
		s->lookups++;
		s->fails = 0;
		if (s->st == BL_BACKOFF || ((s->st == BL_UNUSABLE ||
		    s->st == BL_SUSPENDED) && !testing(ls, s))) {
			s->backoff_ms = 0;
			window_reset(s);
			set_state(s, BL_UNTESTED, "it answers again", wall);
		}
		if (o == BL_O_LISTED)
			s->hits++;
		if (!breaker(ls, s, o == BL_O_LISTED))
			return;
		snprintf(w, sizeof(w), "it listed %u of the last %u lookups: "
		    "a list that lists everyone (its domain expired?)",
		    s->wlisted, s->wseen);
		window_reset(s);
		s->until_ms = now_ms + (ls->set ? ls->set->backoff_ms : 60000);
		set_state(s, BL_SUSPENDED, w, wall);
		/* Its self-test now: back as soon as it passes. */
		s->next_test_ms = now_ms;
		if (testing(ls, s) && s->probing == 0)
			self_test(ls, s, now_ms);
		return;
	case BL_O_TROUBLE:
		s->lookups++;
		s->errors++;
		if (ls->set == NULL || ++s->fails < ls->set->failures ||
		    s->st == BL_BACKOFF)
			return;
		s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2
					      : ls->set->backoff_ms;
		if (s->backoff_ms > BACKOFF_MAX_MS)
			s->backoff_ms = BACKOFF_MAX_MS;
		s->until_ms = now_ms + s->backoff_ms;
		snprintf(w, sizeof(w), "%u lookups in a row failed (%s); "
		    "asked again in %" PRIu64 "s", s->fails, why ? why : "",
		    s->backoff_ms / 1000);
		set_state(s, BL_BACKOFF, w, wall);
		return;
	case BL_O_UNUSABLE:
		s->lookups++;
		s->errors++;
		set_state(s, BL_UNUSABLE, why ? why : "", wall);
		/* The self-test looks again within a minute, sooner when
		 * self_test_every is shorter; without self-tests a request
		 * asks again after the back-off. */
		if (testing(ls, s)) {
			uint64_t at = now_ms + retest_ms(ls);

			if (s->probing == 0 && at < s->next_test_ms)
				s->next_test_ms = at;
		} else {
			s->until_ms = now_ms + (ls->set ? ls->set->backoff_ms
							: 60000);
		}
		return;
	}
}

void
bl_lists_adopt(struct bl_lists *ls, const char *key, const void *val,
    size_t vlen)
{
	struct bl_rec r;
	size_t i;
	unsigned k;

	if (bl_rec_decode(key, strlen(key), val, vlen, &r) < 0)
		return;
	for (i = 0; i < ls->n; i++) {
		struct bl_lstate *s = ls->v[i];

		if (strcmp(s->key, key) != 0)
			continue;
		for (k = 0; k < nitems(st_names); k++) {
			if (strcmp(r.state, st_names[k]) != 0)
				continue;
			/* A pause the daemon ends is ended by the daemon:
			 * its record is read anew by the next process. */
			s->st = (enum bl_st)k;
			snprintf(s->why, sizeof(s->why), "%s", r.why);
			s->until_ms = UINT64_MAX;
		}
	}
}

void
bl_lists_each(const struct bl_lists *ls,
    void (*fn)(void *arg, const char *key, enum bl_st st, const char *why),
    void *arg)
{
	size_t i;

	for (i = 0; ls != NULL && i < ls->n; i++)
		fn(arg, ls->v[i]->key, ls->v[i]->st, ls->v[i]->why);
}
