/*
 * dynamic, dynamic_helo - the client's PTR name (dynamic) or its HELO
 * name (dynamic_helo, scored separately) looks like a dial-in or dynamic
 * pool: such hosts should send through their provider's relay.
 */
#include "chk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "arena.h"
#include "checks/dynamic_conf.h"
#include "config.h"
#include "dynamic.h"
#include "request.h"
#include "xalloc.h"

/* What revise() needs of the first look. */
struct dyn_state {
	const char *what, *name;
	struct dyn_verdict v;
};

/* report - the verdict at its level, with signals counted */
static void
report(struct chk_run *run, const struct dyn_state *s, int signals,
    const char *more)
{
	enum dyn_level l = dyn_level(&s->v, signals);
	const char *why = s->v.why[0] ? s->v.why : "no sign of a pool";

	if (l == DYN_NO) {
		/* Cleared by another check's word: the trace says whose. */
		if (more[0] != '\0')
			chk_set_note(run, "%s", more);
		chk_done(run, CHK_PASS, "%s %s looks static (%s%s%s)", s->what,
		    s->name, why, more[0] ? "; " : "", more);
		return;
	}
	chk_set_note(run, "%s%s%s", why, more[0] ? "; " : "", more);
	chk_done_result(run, CHK_FAIL, l == DYN_CERTAIN ? R_CERTAIN : R_LIKELY,
	    "%s %s looks like a dial-in or dynamic address (%s%s%s)",
	    s->what, s->name, why, more[0] ? "; " : "", more);
}

/* judge - one name; publish: the client's name, judged (for pools) */
static void
judge(struct chk_run *run, const char *what, const char *name, bool publish)
{
	const struct req *req = chk_req(run);
	const struct dynamic_conf *c = chk_conf(run);
	struct dyn_state *s;

	if (name == NULL || name[0] == '[') {
		chk_done(run, CHK_NEUTRAL, "no %s", what);
		return;
	}
	s = arena_alloc(chk_arena(run), sizeof(*s));
	s->what = what;
	s->name = name;
	*chk_state(run) = s;
	dyn_judge(name, req->has_client_ip ? &req->client_ip : NULL,
	    c->patterns, &s->v);
	if (publish)
		chk_set_identity(run, s->v.level != DYN_NO ? CHK_ID_DYNAMIC_NAME
		    : CHK_ID_STATIC_NAME, name);
	report(run, s, s->v.signals, "");
}

/*
 * revise - the other checks' evidence: a high-trust allowlisting clears
 * the name, an SPF pass from a narrow mechanism (the sender's domain
 * names this server) lowers it a level, an end-user range listing (PBL)
 * raises a name with a sign already a level; an exempt name stays
 * exempt.
 */
static void
dyn_revise(struct chk_run *run)
{
	const struct dyn_state *s = *chk_state(run);
	const char *trusted = chk_identity(run, CHK_ID_TRUSTED);
	const char *spf = chk_identity(run, CHK_ID_SPF_DOMAIN);
	const char *pbl = chk_identity(run, CHK_ID_END_USER);
	int signals;
	char more[160];

	if (s == NULL || s->v.exempt || (trusted == NULL && spf == NULL &&
	    pbl == NULL))
		return;
	signals = s->v.signals;
	more[0] = '\0';
	if (trusted != NULL) {
		signals = 0;
		snprintf(more, sizeof(more), "allowlisted at %s", trusted);
	} else {
		if (pbl != NULL && signals > 0) {
			signals++;
			snprintf(more, sizeof(more), "listed at %s", pbl);
		}
		if (spf != NULL && signals > 0) {
			size_t o = strlen(more);

			signals--;
			snprintf(more + o, sizeof(more) - o, "%sSPF names it "
			    "for %s", o ? "; " : "", spf);
		}
	}
	if (more[0] == '\0' || dyn_level(&s->v, signals) ==
	    dyn_level(&s->v, s->v.signals))
		return;
	report(run, s, signals, more);
}

static void
dynamic_start(struct chk_run *run)
{
	const struct req *req = chk_req(run);

	judge(run, "PTR name",
	    req->reverse_name ? req->reverse_name : req->client_name, true);
}

static void
dynamic_helo_start(struct chk_run *run)
{
	judge(run, "HELO", chk_req(run)->helo, false);
}

extern const struct chk_def chk_dynamic_def; /* dynamic_conf.c */

const struct chk_ops chk_dynamic_ops = {
	.def = &chk_dynamic_def,
	.revise = dyn_revise,
	.start = dynamic_start,
};

extern const struct chk_def chk_dynamic_helo_def; /* dynamic_conf.c */

const struct chk_ops chk_dynamic_helo_ops = {
	.def = &chk_dynamic_helo_def,
	.revise = dyn_revise,
	.start = dynamic_helo_start,
};
