/*
 * dnsbl_lists_test - the DNS lists' states on a fake clock, with a fake
 * asker: each family judged apart, the circuit breaker, states made and
 * dropped only by a configuration (and no limit on how many), the next
 * self-test of an unusable list, and a transient (--stdio) process that
 * asks nothing and takes the daemon's states.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks/chk.h"
#include "checks/dnsbl_int.h"
#include "config.h"
#include "xalloc.h"

#define WALL 1700000000

/* The fake asker: the questions in the air, in order. */
struct asked {
	char name[300];
	void *token;
	bool live;
};

static struct {
	struct asked q[256];
	unsigned n;
	unsigned writes;
	char last_key[80], last_val[512];
} F;

static int
fake_ask(void *arg, const char *name, void *token, void **handle)
{
	struct asked *a;

	(void)arg;
	assert_true(F.n < 256);
	a = &F.q[F.n++];
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->token = token;
	a->live = true;
	*handle = a;
	return 0;
}

static void
fake_cancel(void *arg, void *handle)
{
	(void)arg;
	((struct asked *)handle)->live = false;
}

static void
fake_write(void *arg, const char *key, const char *value, bool last)
{
	(void)arg;
	(void)last;
	F.writes++;
	snprintf(F.last_key, sizeof(F.last_key), "%s", key);
	snprintf(F.last_val, sizeof(F.last_val), "%s", value);
}

static const struct bl_lists_io io = { fake_ask, fake_cancel, fake_write,
	NULL };

/* asked_for - the question in the air for name, or NULL */
static struct asked *
asked_for(const char *name)
{
	unsigned i;

	for (i = 0; i < F.n; i++)
		if (F.q[i].live && strcmp(F.q[i].name, name) == 0)
			return &F.q[i];
	return NULL;
}

/* answer - the question for name, answered with addr (NULL: nothing) */
static void
answer(struct bl_lists *ls, const char *name, const char *addr,
    uint64_t now)
{
	struct asked *a = asked_for(name);
	struct bl_probe_answer pa = { 0 };
	unsigned b[4];

	if (a == NULL)
		fail_msg("no question for %s", name);
	if (addr != NULL) {
		assert_int_equal(sscanf(addr, "%u.%u.%u.%u", &b[0], &b[1],
		    &b[2], &b[3]), 4);
		pa.n = 1;
		pa.a[0][0] = (uint8_t)b[0];
		pa.a[0][1] = (uint8_t)b[1];
		pa.a[0][2] = (uint8_t)b[2];
		pa.a[0][3] = (uint8_t)b[3];
	}
	a->live = false;
	bl_lists_probed(ls, a->token, &pa, now, WALL);
}

/* policy - the dnsbl check's options of a policy */
static struct cfg *
policy(const char *text, const struct bl_set **set)
{
	struct why why;
	struct cfg *cfg = cfg_parse("t.yaml", text, strlen(text), &why);

	if (cfg == NULL)
		fail_msg("%s", why.text);
	*set = ((const struct dnsbl_conf *)
	    cfg->checks[chk_find("dnsbl")].conf)->set;
	return cfg;
}

static bool
usable(struct bl_lists *ls, const struct bl_list *l, enum bl_fam fam,
    uint64_t now, char *why)
{
	struct bl_lstate *s = bl_lists_find(ls, l, fam);
	char w[80];

	if (s == NULL)
		fail_msg("no state for %s", l->name);
	return bl_lstate_usable(s, now, why ? why : w, 80);
}

/* The state's why, by its key. */
struct find_why {
	const char *key;
	char why[320];
	enum bl_st st;
};

static void
find_why(void *arg, const char *key, enum bl_st st, const char *why)
{
	struct find_why *f = arg;

	if (strcmp(key, f->key) == 0) {
		snprintf(f->why, sizeof(f->why), "%s", why);
		f->st = st;
	}
}

static struct find_why
state_of(struct bl_lists *ls, const char *key)
{
	struct find_why f = { key, "", BL_UNTESTED };

	bl_lists_each(ls, find_why, &f);
	return f;
}

#define V6_LISTED \
	"2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
#define V6_CLEAN \
	"1.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."

/*
 * A list with IPv4 and IPv6 has a state for each: a failed IPv6 test
 * point disables the IPv6 side only, and the log names that test point;
 * a list's own IPv6 test point (DNSWL's ::2) is what is asked.
 */
static void
test_dnsbl_lists_ipv6_failure_leaves_ipv4_in_service(void **state)
{
	const struct bl_set *set;
	struct cfg *cfg = policy("checks:\n  dnsbl:\n    lists:\n"
	    "      - { zone: zen.test, name: ZEN, families: [ipv4, ipv6] }\n"
	    "      - { zone: wl.test, name: WL, families: [ipv4, ipv6], "
	    "ipv6_test_point: \"::2\", weight: -2 }\n", &set);
	struct bl_lists *ls = bl_lists_new(&io, false);
	struct find_why f;

	(void)state;
	memset(&F, 0, sizeof(F));
	bl_lists_configure(ls, set, 1000, WALL);
	assert_int_equal(F.n, 8); /* 2 lists, 2 families, 2 points */
	answer(ls, "2.0.0.127.zen.test", "127.0.0.2", 1100);
	answer(ls, "1.0.0.127.zen.test", NULL, 1100);
	answer(ls, V6_LISTED "zen.test", NULL, 1100); /* gone */
	answer(ls, V6_CLEAN "zen.test", NULL, 1100);
	assert_true(usable(ls, &set->lists[0], BL_FAM_V4, 1200, NULL));
	assert_false(usable(ls, &set->lists[0], BL_FAM_V6, 1200, NULL));
	f = state_of(ls, "ZEN/ipv6");
	assert_int_equal(f.st, BL_DISABLED);
	assert_non_null(strstr(f.why, "its test entry ::ffff:127.0.0.2 is "
	    "not listed"));
	assert_int_equal(state_of(ls, "ZEN").st, BL_OK);
	/* DNSWL's test point is ::2 (nibbles), and ::1 is not listed. */
	assert_non_null(asked_for("2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.0.0.0.0.0.0.0.0.wl.test"));
	assert_non_null(asked_for("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.0.0.0.0.0.0.0.0.wl.test"));
	bl_lists_free(ls);
	cfg_unref(cfg);
}

/*
 * A list that starts listing nearly every client between self-tests (a
 * dead list's domain taken over) is suspended at once and self-tested;
 * it comes back when the test passes, or stays off when it fails.
 */
static void
test_dnsbl_lists_breaker_suspends_a_list_that_lists_everyone(void **state)
{
	const struct bl_set *set;
	struct cfg *cfg = policy("checks:\n  dnsbl:\n"
	    "    breaker_percent: 95\n    breaker_lookups: 20\n"
	    "    lists:\n      - { zone: bl.test, name: BL }\n", &set);
	struct bl_lists *ls = bl_lists_new(&io, false);
	struct bl_lstate *s;
	char why[80];
	unsigned i, asked;

	(void)state;
	memset(&F, 0, sizeof(F));
	bl_lists_configure(ls, set, 1000, WALL);
	answer(ls, "2.0.0.127.bl.test", "127.0.0.2", 1000);
	answer(ls, "1.0.0.127.bl.test", NULL, 1000);
	s = bl_lists_find(ls, &set->lists[0], BL_FAM_V4);
	/* A spam wave: 18 of 20 listed is no trip. */
	for (i = 0; i < 20; i++)
		bl_lists_report(ls, s, i % 10 == 0 ? BL_O_CLEAN : BL_O_LISTED,
		    NULL, 2000 + i, WALL);
	assert_int_equal(state_of(ls, "BL").st, BL_OK);
	/* Then everyone: 19 of the last 20, and a self-test at once. */
	asked = F.n;
	for (i = 0; i < 17 && state_of(ls, "BL").st == BL_OK; i++)
		bl_lists_report(ls, s, BL_O_LISTED, NULL, 3000 + i, WALL);
	assert_int_equal(state_of(ls, "BL").st, BL_SUSPENDED);
	assert_non_null(strstr(state_of(ls, "BL").why, "of the last 20 "
	    "lookups"));
	assert_false(usable(ls, &set->lists[0], BL_FAM_V4, 3100, why));
	assert_string_equal(why, "suspended: listed nearly every client");
	assert_int_equal(F.n, asked + 2);
	/* Its test entries are right: back in service, counting anew. */
	answer(ls, "2.0.0.127.bl.test", "127.0.0.2", 3200);
	answer(ls, "1.0.0.127.bl.test", NULL, 3200);
	assert_int_equal(state_of(ls, "BL").st, BL_OK);
	assert_true(usable(ls, &set->lists[0], BL_FAM_V4, 3300, NULL));
	for (i = 0; i < 20; i++)
		bl_lists_report(ls, s, BL_O_LISTED, NULL, 4000 + i, WALL);
	assert_int_equal(state_of(ls, "BL").st, BL_SUSPENDED);
	/* Now it lists 127.0.0.1 too: disabled. */
	answer(ls, "2.0.0.127.bl.test", "127.0.0.2", 4100);
	answer(ls, "1.0.0.127.bl.test", "127.0.0.2", 4100);
	assert_int_equal(state_of(ls, "BL").st, BL_DISABLED);
	assert_non_null(strstr(state_of(ls, "BL").why, "it lists 127.0.0.1"));
	bl_lists_free(ls);
	cfg_unref(cfg);
}

/*
 * States are made and dropped by a configuration only: a list a reload
 * dropped has no state (a request of the old policy finds none and makes
 * none), and there is no limit past which new lists go untested.
 */
static void
test_dnsbl_lists_made_and_dropped_only_by_configure(void **state)
{
	const struct bl_set *a, *b;
	struct cfg *ca = policy("checks:\n  dnsbl:\n    lists:\n"
	    "      - { zone: x.test }\n      - { zone: y.test }\n", &a);
	struct cfg *cb = policy("checks:\n  dnsbl:\n    lists:\n"
	    "      - { zone: y.test }\n", &b);
	struct bl_lists *ls = bl_lists_new(&io, false);
	unsigned r, i;

	(void)state;
	memset(&F, 0, sizeof(F));
	bl_lists_configure(ls, a, 1000, WALL);
	assert_non_null(bl_lists_find(ls, &a->lists[0], BL_FAM_V4));
	bl_lists_configure(ls, b, 2000, WALL);
	/* x.test was dropped: the old policy's request finds nothing. */
	assert_null(bl_lists_find(ls, &a->lists[0], BL_FAM_V4));
	assert_non_null(bl_lists_find(ls, &a->lists[1], BL_FAM_V4));
	assert_non_null(bl_lists_find(ls, &b->lists[0], BL_FAM_V4));
	/* A hundred reloads, each of 16 new lists: each tested. */
	for (r = 0; r < 100; r++) {
		char text[4096];
		size_t o = 0;
		const struct bl_set *s;
		struct cfg *c;

		o += (size_t)snprintf(text + o, sizeof(text) - o,
		    "checks:\n  dnsbl:\n    lists:\n");
		for (i = 0; i < 16; i++)
			o += (size_t)snprintf(text + o, sizeof(text) - o,
			    "      - { zone: l%u-%u.test }\n", r, i);
		c = policy(text, &s);
		F.n = 0;
		bl_lists_configure(ls, s, 3000 + r, WALL);
		assert_int_equal(F.n, 32);
		for (i = 0; i < 16; i++)
			assert_non_null(bl_lists_find(ls, &s->lists[i],
			    BL_FAM_V4));
		cfg_unref(c);
		bl_lists_configure(ls, NULL, 3000 + r, WALL);
	}
	bl_lists_free(ls);
	cfg_unref(ca);
	cfg_unref(cb);
}

/*
 * An error answer makes a list unusable: its next self-test comes
 * within a minute, sooner when self_test_every is shorter; without
 * self-tests a request asks again after the back-off.
 */
static void
test_dnsbl_lists_unusable_list_is_tested_again_within_a_minute(void **state)
{
	const struct bl_set *slow, *fast, *none;
	struct cfg *c1 = policy("checks:\n  dnsbl:\n    self_test_every: 15m\n"
	    "    lists:\n      - { zone: bl.test, name: BL }\n", &slow);
	struct cfg *c2 = policy("checks:\n  dnsbl:\n    self_test_every: 20s\n"
	    "    lists:\n      - { zone: bl.test, name: BL }\n", &fast);
	struct cfg *c3 = policy("checks:\n  dnsbl:\n    backoff: 30s\n"
	    "    lists:\n      - { zone: bl.test, name: BL, "
	    "self_test: false }\n", &none);
	const struct bl_set *sets[] = { slow, fast };
	const uint64_t within[] = { 60000, 20000 };
	unsigned k;

	(void)state;
	for (k = 0; k < 2; k++) {
		struct bl_lists *ls = bl_lists_new(&io, false);
		struct bl_lstate *s;
		uint64_t t, next = 0;
		unsigned n;

		memset(&F, 0, sizeof(F));
		bl_lists_configure(ls, sets[k], 1000, WALL);
		/* The daemon's ticks, every second; tests pass. */
		for (t = 1000; t <= 100000; t += 1000) {
			bl_lists_tick(ls, t, WALL);
			if (asked_for("2.0.0.127.bl.test") != NULL) {
				answer(ls, "2.0.0.127.bl.test", "127.0.0.2", t);
				answer(ls, "1.0.0.127.bl.test", NULL, t);
			}
		}
		s = bl_lists_find(ls, &sets[k]->lists[0], BL_FAM_V4);
		bl_lists_report(ls, s, BL_O_UNUSABLE, "it answers "
		    "127.255.255.254: refused", 100000, WALL);
		assert_int_equal(state_of(ls, "BL").st, BL_UNUSABLE);
		assert_false(usable(ls, &sets[k]->lists[0], BL_FAM_V4, 100001,
		    NULL));
		n = F.n;
		for (t = 101000; next == 0 && t <= 1000000; t += 1000) {
			bl_lists_tick(ls, t, WALL);
			if (F.n > n)
				next = t;
		}
		/* Within a minute, or self_test_every when shorter. */
		assert_true(next > 100000 && next <= 100000 + within[k]);
		answer(ls, "2.0.0.127.bl.test", "127.0.0.2", next);
		answer(ls, "1.0.0.127.bl.test", NULL, next);
		assert_int_equal(state_of(ls, "BL").st, BL_OK);
		bl_lists_free(ls);
	}
	{
		struct bl_lists *ls = bl_lists_new(&io, false);
		struct bl_lstate *s;

		memset(&F, 0, sizeof(F));
		bl_lists_configure(ls, none, 1000, WALL);
		assert_int_equal(F.n, 0);
		s = bl_lists_find(ls, &none->lists[0], BL_FAM_V4);
		bl_lists_report(ls, s, BL_O_UNUSABLE, "it answers x: y", 5000,
		    WALL);
		assert_false(usable(ls, &none->lists[0], BL_FAM_V4, 34999,
		    NULL));
		assert_true(usable(ls, &none->lists[0], BL_FAM_V4, 35000,
		    NULL));
		bl_lists_free(ls);
	}
	cfg_unref(c1);
	cfg_unref(c2);
	cfg_unref(c3);
}

/*
 * A --stdio process (one per SMTP session under spawn) asks no
 * self-test: it takes the daemon's states, and uses a list the daemon
 * has none for; it writes nothing.
 */
static void
test_dnsbl_lists_transient_process_asks_nothing(void **state)
{
	const struct bl_set *set;
	struct cfg *cfg = policy("checks:\n  dnsbl:\n    lists:\n"
	    "      - { zone: dead.test, name: Dead }\n"
	    "      - { zone: fine.test, name: Fine }\n"
	    "      - { zone: new.test, name: New }\n", &set);
	struct bl_lists *ls = bl_lists_new(&io, true);
	static const char dead[] = "disabled|1700000000|1700000000|0|0|0|0|"
				   "its test entry 127.0.0.2 is not listed";
	static const char fine[] = "ok|1700000000|1700000000|9|1|0|0|passed";
	unsigned t;

	(void)state;
	memset(&F, 0, sizeof(F));
	bl_lists_configure(ls, set, 1000, WALL);
	bl_lists_adopt(ls, "Dead", dead, strlen(dead));
	bl_lists_adopt(ls, "Fine", fine, strlen(fine));
	for (t = 1000; t < 1000 + 3600 * 1000; t += 60000)
		bl_lists_tick(ls, t, WALL);
	assert_int_equal(F.n, 0);
	assert_int_equal(F.writes, 0);
	assert_false(usable(ls, &set->lists[0], BL_FAM_V4, 5000, NULL));
	assert_true(usable(ls, &set->lists[1], BL_FAM_V4, 5000, NULL));
	assert_true(usable(ls, &set->lists[2], BL_FAM_V4, 5000, NULL));
	bl_lists_free(ls);
	cfg_unref(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_dnsbl_lists_ipv6_failure_leaves_ipv4_in_service),
		cmocka_unit_test(
		    test_dnsbl_lists_breaker_suspends_a_list_that_lists_everyone),
		cmocka_unit_test(
		    test_dnsbl_lists_made_and_dropped_only_by_configure),
		cmocka_unit_test(
		    test_dnsbl_lists_unusable_list_is_tested_again_within_a_minute),
		cmocka_unit_test(test_dnsbl_lists_transient_process_asks_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
