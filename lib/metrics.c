/*
 * metrics - counters of the daemon's answers and the store's figures, in
 * the Prometheus text format (see metrics.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backscatter.h"
#include "greylist.h"
#include "metrics.h"
#include "dnsbl_rec.h"
#include "outbound.h"
#include "store.h"
#include "verdict.h"
#include "whitelist.h"
#include "xalloc.h"

#define MAX_RULES  128 /* (action, rule) series */
#define MAX_CHECKS 256 /* (check, result) series */
#define NAME_MAX_  64  /* of a rule, a check or a result in a label */
#define OTHERS     4   /* room for the "other" series past the bound */
#define SLOTS      1024 /* of the hash index: a power of 2, > 2 series */

/* Upper bounds of the latency histogram, seconds. */
static const double buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct series {
	char a[NAME_MAX_ + 1], b[NAME_MAX_ + 1];
	uint32_t h;
	uint64_t n;
};

/*
 * A bounded set of series with two labels, found by a hash of both (a
 * request counts one decision and a dozen checks: a scan with strcmp
 * cost ~3,000 instructions a request).
 */
struct sset {
	struct series s[MAX_CHECKS + OTHERS];
	size_t n, max;
	uint16_t slot[SLOTS]; /* index + 1; 0: empty */
};

#define HINTS 32 /* report positions remembered */

struct metrics {
	struct sset rules, checks;
	/* The series each report position counted last: a check's result
	 * is mostly the same as last time, so two strcmp find it. */
	struct series *hint[HINTS];
	struct series *rule_hint;
	uint64_t bucket[NBUCKETS]; /* not cumulative here */
	uint64_t count, malformed, abandoned;
	uint64_t dry_reject, dry_defer; /* dry_run answered DUNNO */
	bool dry_run;
	double sum;
};

/* mt_add - append n bytes */
static void
mt_add(struct mtext *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;

		while (cap < t->len + n + 1)
			cap *= 2;
		t->p = xrealloc(t->p, cap);
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void
mt_str(struct mtext *t, const char *s)
{
	mt_add(t, s, strlen(s));
}

void
mt_add_text(struct mtext *t, const char *s)
{
	mt_str(t, s);
}

void
mt_free(struct mtext *t)
{
	free(t->p);
	memset(t, 0, sizeof(*t));
}

void
mt_family(struct mtext *t, const char *name, const char *type,
    const char *help)
{
	mt_str(t, "# HELP ");
	mt_str(t, name);
	mt_str(t, " ");
	mt_str(t, help); /* ours: no backslash, no newline */
	mt_str(t, "\n# TYPE ");
	mt_str(t, name);
	mt_str(t, " ");
	mt_str(t, type);
	mt_str(t, "\n");
}

/* mt_label_value - a label's value, escaped: \\, \" and \n */
static void
mt_label_value(struct mtext *t, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			mt_str(t, "\\\\");
		else if (*v == '"')
			mt_str(t, "\\\"");
		else if (*v == '\n')
			mt_str(t, "\\n");
		else
			mt_add(t, v, 1);
	}
}

void
mt_sample(struct mtext *t, const char *name, const char *const *labels,
    size_t nl, double value)
{
	char num[64];
	size_t i;

	mt_str(t, name);
	if (nl > 0) {
		mt_str(t, "{");
		for (i = 0; i < nl; i++) {
			if (i > 0)
				mt_str(t, ",");
			mt_str(t, labels[2 * i]);
			mt_str(t, "=\"");
			mt_label_value(t, labels[2 * i + 1]);
			mt_str(t, "\"");
		}
		mt_str(t, "}");
	}
	if (value == (double)(uint64_t)value && value < 1e15)
		snprintf(num, sizeof(num), " %" PRIu64 "\n", (uint64_t)value);
	else
		snprintf(num, sizeof(num), " %.9g\n", value);
	mt_str(t, num);
}

void
mt_one(struct mtext *t, const char *name, const char *type,
    const char *help, double value)
{
	mt_family(t, name, type, help);
	mt_sample(t, name, NULL, 0, value);
}

struct metrics *
metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof(*m));

	m->rules.max = MAX_RULES;
	m->checks.max = MAX_CHECKS;
	return m;
}

void
metrics_free(struct metrics *m)
{
	free(m);
}

const char *
metrics_action_class(const char *a)
{
	if (verdict_accepts(a))
		return "accept";
	if (a[0] == '5' || strncasecmp(a, "REJECT", 6) == 0)
		return "reject";
	return "defer";
}

/* hash2 - FNV-1a of a, a NUL, and b */
static uint32_t
hash2(const char *a, const char *b)
{
	uint32_t h = 2166136261u;

	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 16777619u;
	h *= 16777619u;
	for (; *b; b++)
		h = (h ^ (unsigned char)*b) * 16777619u;
	return h;
}

/* find - the series (a, b); made if room allows (n < limit); or NULL */
static struct series *
find(struct sset *t, const char *a, const char *b, size_t limit)
{
	uint32_t h = hash2(a, b);
	size_t i = h & (SLOTS - 1);
	struct series *x;

	for (; t->slot[i] != 0; i = (i + 1) & (SLOTS - 1)) {
		x = &t->s[t->slot[i] - 1];
		if (x->h == h && strcmp(x->a, a) == 0 && strcmp(x->b, b) == 0)
			return x;
	}
	if (t->n >= limit || strlen(a) > NAME_MAX_ || strlen(b) > NAME_MAX_)
		return NULL;
	x = &t->s[t->n];
	snprintf(x->a, sizeof(x->a), "%s", a);
	snprintf(x->b, sizeof(x->b), "%s", b);
	x->h = h;
	x->n = 0;
	t->slot[i] = (uint16_t)++t->n;
	return x;
}

/*
 * bump - count one for (a, b), trying *hint first; past the bound (or
 * for a name too long) for (other_a, "other"), a series made in the room
 * kept for it
 */
static void
bump(struct sset *t, struct series **hint, const char *a, const char *b,
    const char *other_a)
{
	struct series *x = *hint;

	if (x == NULL || strcmp(x->a, a) != 0 || strcmp(x->b, b) != 0) {
		if ((x = find(t, a, b, t->max)) == NULL)
			x = find(t, other_a, "other", t->max + OTHERS);
		*hint = x;
	}
	if (x != NULL)
		x->n++;
}

/*
 * rule_label - the rule without what is particular to one request: the
 * details in parentheses of greylist:new(wait=300s...) and
 * backscatter:blocked(hits=3), the addresses of whitelist:a<-b. Access
 * rules' names are the policy's own, kept whole.
 */
static const char *
rule_label(const char *rule, char *buf, size_t size)
{
	size_t n;

	if (rule == NULL)
		return "default";
	if (rule[0] == 'w' && strncmp(rule, "whitelist:", 10) == 0)
		return "whitelist";
	if ((rule[0] != 'g' || strncmp(rule, "greylist", 8) != 0) &&
	    (rule[0] != 'b' || strncmp(rule, "backscatter:", 12) != 0))
		return rule;
	n = strcspn(rule, "(");
	if (n > size - 1)
		n = size - 1;
	memcpy(buf, rule, n);
	buf[n] = '\0';
	return buf;
}

void
metrics_decision(struct metrics *m, const struct verdict *v,
    uint64_t elapsed_us)
{
	double secs = (double)elapsed_us / 1e6;
	const char *class = metrics_action_class(v->action);
	struct series *spare = NULL;
	char rule[NAME_MAX_ + 1];
	size_t i;

	bump(&m->rules, &m->rule_hint, class,
	    rule_label(v->rule, rule, sizeof(rule)), class);
	for (i = 0; i < v->nreports; i++)
		bump(&m->checks, i < HINTS ? &m->hint[i] : &spare,
		    v->reports[i].name, v->reports[i].status, "other");
	for (i = 0; i < NBUCKETS && secs > buckets[i]; i++)
		;
	if (i < NBUCKETS)
		m->bucket[i]++;
	m->count++;
	m->sum += secs;
}

void
metrics_malformed(struct metrics *m)
{
	m->malformed++;
}

void
metrics_abandoned(struct metrics *m)
{
	m->abandoned++;
}

void
metrics_dry_run(struct metrics *m, const char *class)
{
	if (strcmp(class, "reject") == 0)
		m->dry_reject++;
	else
		m->dry_defer++;
}

void
metrics_set_dry_run(struct metrics *m, bool on)
{
	m->dry_run = on;
}

/* series_write - each series of a family with two labels */
static void
series_write(struct mtext *t, const char *name, const char *la,
    const char *lb, const struct sset *set)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		const char *l[] = { la, set->s[i].a, lb, set->s[i].b };

		mt_sample(t, name, l, 2, (double)set->s[i].n);
	}
}

void
metrics_write(const struct metrics *m, struct mtext *t)
{
	mt_family(t, "policyd_decisions_total", "counter",
	    "Answers by action class (accept, reject, defer) and by the rule "
	    "that decided.");
	series_write(t, "policyd_decisions_total", "action", "rule",
	    &m->rules);
	mt_family(t, "policyd_checks_total", "counter",
	    "Results of the checks that ran, by check and result.");
	series_write(t, "policyd_checks_total", "check", "result",
	    &m->checks);
	mt_one(t, "policyd_malformed_requests_total", "counter",
	    "Requests that were not valid policy requests.",
	    (double)m->malformed);
	mt_one(t, "policyd_dry_run", "gauge", "1 while dry_run is on: "
	    "refusals and deferrals are answered DUNNO (the decisions count "
	    "what would have been answered).", m->dry_run);
	mt_family(t, "policyd_dry_run_answers_total", "counter",
	    "Answers dry_run turned into DUNNO, by what they would have "
	    "been.");
	{
		const char *lr[] = { "would", "reject" };
		const char *ld[] = { "would", "defer" };

		mt_sample(t, "policyd_dry_run_answers_total", lr, 1,
		    (double)m->dry_reject);
		mt_sample(t, "policyd_dry_run_answers_total", ld, 1,
		    (double)m->dry_defer);
	}
	mt_one(t, "policyd_requests_abandoned_total", "counter",
	    "Requests whose connection broke before their answer (a reset, a "
	    "failed write, the shutdown's deadline); not in the decisions.",
	    (double)m->abandoned);
	{
		uint64_t counts[NBUCKETS];
		struct mt_hist h = { buckets, NBUCKETS, counts, m->count,
			m->sum };

		memcpy(counts, m->bucket, sizeof(counts));
		mt_histogram(t, "policyd_request_duration_seconds",
		    "Time from a request to its answer.", &h);
	}
}

void
mt_hist_add(struct mt_hist *h, double v)
{
	size_t i;

	for (i = 0; i < h->n && v > h->bounds[i]; i++)
		;
	if (i < h->n)
		h->counts[i]++;
	h->count++;
	h->sum += v;
}

void
mt_histogram(struct mtext *t, const char *name, const char *help,
    const struct mt_hist *h)
{
	char bucket[128], le[32];
	uint64_t cum = 0;
	size_t i;

	mt_family(t, name, "histogram", help);
	snprintf(bucket, sizeof(bucket), "%s_bucket", name);
	for (i = 0; i < h->n; i++) {
		const char *l[] = { "le", le };

		cum += h->counts[i];
		snprintf(le, sizeof(le), "%g", h->bounds[i]);
		mt_sample(t, bucket, l, 1, (double)cum);
	}
	{
		const char *l[] = { "le", "+Inf" };

		mt_sample(t, bucket, l, 1, (double)h->count);
	}
	snprintf(bucket, sizeof(bucket), "%s_sum", name);
	mt_sample(t, bucket, NULL, 0, h->sum);
	snprintf(bucket, sizeof(bucket), "%s_count", name);
	mt_sample(t, bucket, NULL, 0, (double)h->count);
}

struct state_walk {
	struct bl_rec lists[64];
	size_t nlists;
};

static void
list_row(void *arg, const struct store_rec *r)
{
	struct state_walk *w = arg;

	if (w->nlists < sizeof(w->lists) / sizeof(w->lists[0]) &&
	    bl_rec_decode(r->key, r->klen, r->val, r->vlen,
	    &w->lists[w->nlists]) == 0)
		w->nlists++;
}

/* metrics_lists - each DNS list's state and counts */
void
metrics_lists(struct mtext *t, const struct bl_rec *lists, size_t n)
{
	static const char *const states[] = { "untested", "ok", "disabled",
		"unusable", "backoff", "suspended" };
	size_t i, j;

	if (n == 0)
		return;
	mt_family(t, "policyd_dnsbl_list_state", "gauge",
	    "Each DNS list's state: 1 for the state it is in.");
	for (i = 0; i < n; i++)
		for (j = 0; j < sizeof(states) / sizeof(states[0]); j++) {
			const char *l[] = { "list", lists[i].name, "state",
				states[j] };

			mt_sample(t, "policyd_dnsbl_list_state", l, 2,
			    strcmp(lists[i].state, states[j]) == 0);
		}
	mt_family(t, "policyd_dnsbl_lookups_total", "counter",
	    "Questions to each DNS list, by outcome (since the list was "
	    "first used).");
	for (i = 0; i < n; i++) {
		static const char *const what[] = { "asked", "listed",
			"error", "skipped" };
		uint64_t v[] = { lists[i].lookups, lists[i].hits,
			lists[i].errors, lists[i].skipped };

		for (j = 0; j < 4; j++) {
			const char *l[] = { "list", lists[i].name, "outcome",
				what[j] };

			mt_sample(t, "policyd_dnsbl_lookups_total", l, 2,
			    (double)v[j]);
		}
	}
}

int
metrics_state(struct store *st, int64_t now, bool lists, struct mtext *t,
    struct why *why)
{
	static const char *const tables[] = { GL_TABLE_TRIPLET,
		GL_TABLE_CLIENT, GL_TABLE_DOMAIN, BS_TABLE, WL_TABLE,
		OUTBOUND_TABLE };
	struct state_walk *w = xcalloc(1, sizeof(*w));
	uint64_t counts[sizeof(tables) / sizeof(tables[0])];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		struct store_waiter sw;

		store_waiter_init(&sw, NULL);
		rc = st->ops->count(st, tables[i], &sw.call);
		if ((rc = store_wait(&sw, rc)) < 0) {
			why_set(why, "%s", sw.reply.why.text);
			goto out;
		}
		counts[i] = sw.reply.n;
	}
	/* The blocks as the daemon keeps count of them; the table is
	 * walked only at the first round and hourly after. */
	if ((bs_blocks_due(now) && (rc = bs_blocks_load(st, now, why)) < 0) ||
	    (lists && (rc = store_each(st, NULL, BL_TABLE, 500, NULL,
	    list_row, w, NULL, why)) < 0))
		goto out;

	mt_family(t, "policyd_store_records", "gauge",
	    "Records in each table of the state store.");
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		const char *l[] = { "table", tables[i] };

		mt_sample(t, "policyd_store_records", l, 1, (double)counts[i]);
	}
	mt_one(t, "policyd_greylist_entries", "gauge",
	    "Greylist entries (sender, recipient, client) waiting or passed.",
	    (double)counts[0]);
	mt_one(t, "policyd_backscatter_blocked", "gauge",
	    "Clients blocked now for sending backscatter.",
	    (double)bs_blocks_count(now));
	if (lists)
		metrics_lists(t, w->lists, w->nlists);
	rc = 0;
out:
	free(w);
	return rc;
}
