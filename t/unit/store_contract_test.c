/*
 * store_contract_test - what lib/store.h promises, run against every
 * backend: Berkeley DB (finishes at once) and the in-memory store that
 * answers later from the loop. The door a network backend (Redis) must
 * pass through: records and their expiry, a put's updates as data (set,
 * set if absent, the later time, named merges, an unknown merge refused
 * with nothing written), the value before and after a put of one
 * record, get_first, list and flush from an opaque cursor (every record
 * once, no order promised), count, named transactions (run): checked
 * before they change anything, writing the records of their keys, and a
 * dry greylisting judgement that writes nothing; a group call (a
 * request's write) read at once and committed by group_commit().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "greylist.h"
#include "request.h"
#include "outbound.h"
#include "store.h"
#include "xalloc.h"

struct fx {
	uv_loop_t loop;
	struct store *st;
	char dir[64];
	bool mem;
	struct store_waiter w;
};

static int
setup_with(void **state, bool mem)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	uv_loop_init(&f->loop);
	f->mem = mem;
	if (mem) {
		f->st = store_open_mem(&f->loop, 1);
	} else {
		struct store_opts o = { .cache_bytes = 4u << 20 };
		struct why why;
		int err;

		snprintf(f->dir, sizeof(f->dir), "/tmp/contract-XXXXXX");
		assert_non_null(mkdtemp(f->dir));
		o.dir = f->dir;
		f->st = store_open_bdb(&o, &err, &why);
	}
	assert_non_null(f->st);
	*state = f;
	return 0;
}

static int
setup_bdb(void **state)
{
	return setup_with(state, false);
}

static int
setup_mem(void **state)
{
	return setup_with(state, true);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	f->st->ops->close(f->st);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	if (!f->mem) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
		assert_int_equal(system(cmd), 0);
	}
	free(f);
	return 0;
}

/* wait - an operation's outcome */
static int
wait(struct fx *f, int rc)
{
	return store_wait(&f->w, rc);
}

static struct store_call *
call(struct fx *f)
{
	store_waiter_init(&f->w, &f->loop);
	return &f->w.call;
}

static int
put(struct fx *f, const char *key, const void *val, size_t vlen,
    int64_t expires, const struct store_update *u)
{
	struct store_rec r = { key, strlen(key), val, vlen, expires, u };
	struct store_call *c = call(f);

	return wait(f, f->st->ops->put(f->st, "contract", &r, 1, c));
}

static int
get(struct fx *f, const char *key)
{
	struct store_call *c = call(f);

	return wait(f, f->st->ops->get(f->st, "contract", key, strlen(key),
	    c));
}

static void
test_contract_records_and_their_expiry(void **state)
{
	struct fx *f = *state;

	assert_int_equal(get(f, "a"), STORE_NOTFOUND);
	assert_int_equal(put(f, "a", "one", 3, 4000000000, NULL), 0);
	assert_int_equal(f->w.reply.n, 1);
	assert_false(f->w.reply.prev_found);
	assert_int_equal(get(f, "a"), 0);
	assert_int_equal(f->w.reply.vlen, 3);
	assert_memory_equal(f->w.reply.val, "one", 3);
	assert_int_equal(f->w.reply.expires, 4000000000);
	/* A put of one record says what was there and what is now. */
	assert_int_equal(put(f, "a", "two", 3, 0, NULL), 0);
	assert_true(f->w.reply.prev_found);
	assert_memory_equal(f->w.reply.prev, "one", 3);
	assert_memory_equal(f->w.reply.val, "two", 3);
	assert_int_equal(wait(f, f->st->ops->del(f->st, "contract", "a", 1,
	    call(f))), 0);
	assert_int_equal(wait(f, f->st->ops->del(f->st, "contract", "a", 1,
	    call(f))), STORE_NOTFOUND);
	assert_int_equal(get(f, "a"), STORE_NOTFOUND);
}

static void
test_contract_updates_are_data(void **state)
{
	struct fx *f = *state;
	static const struct store_update absent = { STORE_UPD_IF_ABSENT, NULL,
		NULL, 0 };
	static const struct store_update later = { STORE_UPD_LATER, NULL,
		NULL, 0 };
	unsigned char t1[8], t2[8], gap[8], v[STORE_VAL_MAX];
	struct store_update cover = { STORE_UPD_MERGE, "outbound.cover", gap,
		sizeof(gap) };
	struct outbound_cover a = { 1000, 2000, 1500 }, b = { 2100, 3000,
		2900 }, u;

	/* Set if absent: the first stays. */
	assert_int_equal(put(f, "k", "first", 5, 0, &absent), 0);
	assert_int_equal(f->w.reply.n, 1);
	assert_int_equal(put(f, "k", "second", 6, 0, &absent), 0);
	assert_int_equal(f->w.reply.n, 0);
	assert_memory_equal(f->w.reply.val, "first", 5);
	/* The later time stays. */
	store_put_u64(t1, 500);
	store_put_u64(t2, 400);
	assert_int_equal(put(f, "t", t1, 8, 0, &later), 0);
	assert_int_equal(put(f, "t", t2, 8, 0, &later), 0);
	assert_int_equal(f->w.reply.n, 0);
	assert_int_equal(get(f, "t"), 0);
	assert_int_equal(store_get_u64(f->w.reply.val), 500);
	store_put_u64(t2, 600);
	assert_int_equal(put(f, "t", t2, 8, 0, &later), 0);
	assert_int_equal(f->w.reply.n, 1);
	/* A named merge: two stretches within the gap join. */
	store_put_u64(gap, 3600);
	assert_int_equal(put(f, "c", v, outbound_cover_encode(&a, v), 0,
	    &cover), 0);
	assert_int_equal(put(f, "c", v, outbound_cover_encode(&b, v), 0,
	    &cover), 0);
	assert_true(outbound_cover_decode(f->w.reply.val, f->w.reply.vlen,
	    &u));
	assert_int_equal(u.since, 1000);
	assert_int_equal(u.until, 3000);
	assert_int_equal(u.last, 2900);
}

static void
test_contract_an_unknown_merge_writes_nothing(void **state)
{
	struct fx *f = *state;
	struct store_update bad = { STORE_UPD_MERGE, "no.such", NULL, 0 };
	struct store_rec r[2] = {
		{ "x", 1, "1", 1, 0, NULL },
		{ "y", 1, "2", 1, 0, &bad },
	};
	int rc;

	rc = wait(f, f->st->ops->put(f->st, "contract", r, 2, call(f)));
	assert_true(rc < 0);
	assert_non_null(strstr(f->w.reply.why.text, "no.such"));
	assert_int_equal(get(f, "x"), STORE_NOTFOUND);
	assert_int_equal(get(f, "y"), STORE_NOTFOUND);
}

static void
test_contract_get_first(void **state)
{
	struct fx *f = *state;
	struct store_key keys[3] = { { "p", 1 }, { "q", 1 }, { "r", 1 } };

	assert_int_equal(put(f, "q", "Q", 1, 0, NULL), 0);
	assert_int_equal(put(f, "r", "R", 1, 0, NULL), 0);
	assert_int_equal(wait(f, f->st->ops->get_first(f->st, "contract",
	    keys, 3, call(f))), 0);
	assert_int_equal(f->w.reply.n, 1);
	assert_memory_equal(f->w.reply.val, "Q", 1);
	assert_int_equal(wait(f, f->st->ops->get_first(f->st, "contract",
	    keys, 1, call(f))), STORE_NOTFOUND);
}

struct seen {
	unsigned char hits[300];
	unsigned rows;
};

/* num - the number of a key "kN" (keys are bytes, not strings) */
static int
num(const struct store_rec *r)
{
	char b[16];

	assert_true(r->klen > 1 && r->klen < sizeof(b));
	memcpy(b, (const char *)r->key + 1, r->klen - 1);
	b[r->klen - 1] = '\0';
	return atoi(b);
}

static void
row(void *arg, const struct store_rec *r)
{
	struct seen *s = arg;
	int i = num(r);

	assert_true(i >= 0 && i < 300);
	s->hits[i]++;
	s->rows++;
}

static bool
odd(void *arg, const struct store_rec *r)
{
	(void)arg;
	return num(r) % 2 == 1;
}

static void
test_contract_list_and_flush_see_every_record_once(void **state)
{
	struct fx *f = *state;
	struct store_cursor cur;
	struct seen s;
	char key[16];
	uint64_t deleted = 0;
	int i, batches = 0;

	for (i = 0; i < 250; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(put(f, key, "v", 1, 0, NULL), 0);
	}
	assert_int_equal(wait(f, f->st->ops->count(f->st, "contract",
	    call(f))), 0);
	assert_int_equal(f->w.reply.n, 250);
	/* Every record once, in whatever order, from an opaque cursor. */
	memset(&s, 0, sizeof(s));
	memset(&cur, 0, sizeof(cur));
	do {
		assert_int_equal(wait(f, f->st->ops->list(f->st, "contract",
		    &cur, 100, NULL, row, &s, call(f))), 0);
		cur = f->w.reply.next;
		batches++;
	} while (!cur.end);
	assert_true(batches >= 3);
	assert_int_equal(s.rows, 250);
	for (i = 0; i < 250; i++)
		assert_int_equal(s.hits[i], 1);
	/* A flush deletes what its filter takes, and no more. */
	memset(&cur, 0, sizeof(cur));
	do {
		assert_int_equal(wait(f, f->st->ops->flush(f->st, "contract",
		    &cur, 100, odd, NULL, call(f))), 0);
		deleted += f->w.reply.n;
		cur = f->w.reply.next;
	} while (!cur.end);
	assert_int_equal(deleted, 125);
	assert_int_equal(wait(f, f->st->ops->count(f->st, "contract",
	    call(f))), 0);
	assert_int_equal(f->w.reply.n, 125);
	assert_int_equal(get(f, "k7"), STORE_NOTFOUND);
	assert_int_equal(get(f, "k8"), 0);
}

/* gl_request - a RCPT request of a@b.example to u@our.example from
 * 192.0.2.1, into op (the judgement's time: 1000) */
static void
gl_request(const struct gl_conf *c, struct gl_op *op)
{
	struct req req;

	memset(&req, 0, sizeof(req));
	req.client_addr = "192.0.2.1";
	assert_int_equal(addr_parse("192.0.2.1", &req.client_ip), 0);
	req.has_client_ip = true;
	req.sender.full = "a@b.example";
	req.sender.domain = "b.example";
	req.rcpt.full = "u@our.example";
	assert_true(greylist_op(c, &req, NULL, 1000, op));
}

/* judged - the status of the greylist judgement that just ended */
static enum gl_status
judged(struct fx *f)
{
	struct gl_result res;

	assert_int_equal(greylist_result(&f->w.reply, &res), 0);
	return res.status;
}

static void
test_contract_a_dry_judgement_writes_nothing(void **state)
{
	struct fx *f = *state;
	struct gl_conf c;
	struct gl_op op;

	gl_conf_defaults(&c);
	gl_request(&c, &op);
	gl_conf_fini(&c);
	op.dry = true;
	assert_int_equal(wait(f, greylist_run(f->st, &op, call(f))),
	    0);
	assert_int_equal(judged(f), GL_NEW);
	/* Again: still new, nothing was written. */
	assert_int_equal(wait(f, greylist_run(f->st, &op, call(f))),
	    0);
	assert_int_equal(judged(f), GL_NEW);
	assert_int_equal(wait(f, f->st->ops->count(f->st, GL_TABLE_TRIPLET,
	    call(f))), 0);
	assert_int_equal(f->w.reply.n, 0);
	op.dry = false;
	assert_int_equal(wait(f, greylist_run(f->st, &op, call(f))),
	    0);
	assert_int_equal(wait(f, f->st->ops->count(f->st, GL_TABLE_TRIPLET,
	    call(f))), 0);
	assert_int_equal(f->w.reply.n, 1);
	/* The same triplet again: an update, still one record. */
	op.now += 10;
	assert_int_equal(wait(f, greylist_run(f->st, &op, call(f))),
	    0);
	assert_int_equal(judged(f), GL_EARLY);
	assert_int_equal(wait(f, f->st->ops->count(f->st, GL_TABLE_TRIPLET,
	    call(f))), 0);
	assert_int_equal(f->w.reply.n, 1);
}

/* run - a named transaction on the keys given */
static int
run(struct fx *f, const char *script, const struct store_tkey *keys,
    size_t n, const void *param, size_t plen)
{
	return wait(f, f->st->ops->run(f->st, script, keys, n, param, plen,
	    call(f)));
}

static void
test_contract_a_run_is_checked_before_it_changes_anything(void **state)
{
	struct fx *f = *state;
	struct store_tkey keys[GL_NRECS], bad[GL_NRECS];
	unsigned char param[STORE_PARAM_MAX + 1];
	struct gl_conf c;
	struct gl_op op;
	int r;

	gl_conf_defaults(&c);
	gl_request(&c, &op);
	gl_conf_fini(&c);
	for (r = 0; r < GL_NRECS; r++) {
		keys[r] = (struct store_tkey){ gl_table((enum gl_rec)r),
			op.key[r], op.klen[r] };
		bad[r] = keys[r];
	}
	memset(param, 0, sizeof(param));

	/* A name the store's table does not hold. */
	assert_int_equal(run(f, "no.such", keys, GL_NRECS, param, 8),
	    STORE_ERROR);
	assert_non_null(strstr(f->w.reply.why.text, "no.such"));
	/* Too few keys. */
	assert_int_equal(run(f, GL_SCRIPT, keys, 2, param, 8), STORE_ERROR);
	assert_non_null(strstr(f->w.reply.why.text, "keys"));
	/* A key in a table no store takes. */
	bad[GL_REC_TRIPLET].table = "../meta";
	assert_int_equal(run(f, GL_SCRIPT, bad, GL_NRECS, param, 8),
	    STORE_ERROR);
	/* Parameters longer than any. */
	assert_int_equal(run(f, GL_SCRIPT, keys, GL_NRECS, param,
	    sizeof(param)), STORE_ERROR);
	/* Parameters that are not a judgement's: refused by the script. */
	assert_int_equal(run(f, GL_SCRIPT, keys, GL_NRECS, param, 8),
	    STORE_ERROR);
	assert_non_null(strstr(f->w.reply.why.text, "greylist"));
	param[0] = 0xff; /* records that the judgement has not */
	assert_int_equal(run(f, GL_SCRIPT, keys, GL_NRECS, param, 59),
	    STORE_ERROR);
	assert_int_equal(wait(f, f->st->ops->count(f->st, GL_TABLE_TRIPLET,
	    call(f))), 0);
	assert_int_equal(f->w.reply.n, 0);
}

static void
test_contract_a_run_writes_the_records_of_its_keys(void **state)
{
	struct fx *f = *state;
	struct gl_result res;
	struct gl_conf c;
	struct gl_op op;

	gl_conf_defaults(&c);
	gl_request(&c, &op);
	assert_int_equal(wait(f, greylist_run(f->st, &op, call(f))), 0);
	assert_int_equal(greylist_result(&f->w.reply, &res), 0);
	assert_int_equal(res.status, GL_NEW);
	assert_int_equal(res.wait, c.delay);
	/* The triplet is a record of its table, under its key. */
	assert_int_equal(wait(f, f->st->ops->get(f->st, GL_TABLE_TRIPLET,
	    op.key[GL_REC_TRIPLET], op.klen[GL_REC_TRIPLET], call(f))), 0);
	assert_true(f->w.reply.expires > 1000);
	/* The retry after the delay passes and counts the client. */
	op.now = 1000 + c.delay + 1;
	assert_int_equal(wait(f, greylist_run(f->st, &op, call(f))), 0);
	assert_int_equal(greylist_result(&f->w.reply, &res), 0);
	assert_int_equal(res.status, GL_PASS);
	assert_int_equal(res.delayed, c.delay + 1);
	assert_int_equal(wait(f, f->st->ops->get(f->st, GL_TABLE_CLIENT,
	    op.key[GL_REC_CLIENT], op.klen[GL_REC_CLIENT], call(f))), 0);
	assert_int_equal(f->w.reply.vlen, AWL_ENTRY_SIZE);
	gl_conf_fini(&c);
}

static void
test_contract_group_calls_commit_together(void **state)
{
	struct fx *f = *state;
	struct store_rec r = { "g", 1, "v", 1, 0, NULL };
	struct store_call *c = call(f);
	struct why why;

	/* A request's write (group): seen at once, by the next request
	 * too, before the loop turn's group_commit. */
	c->group = true;
	assert_int_equal(wait(f, f->st->ops->put(f->st, "contract", &r, 1, c)),
	    0);
	assert_int_equal(get(f, "g"), 0);
	assert_int_equal(f->st->ops->group_commit(f->st, &why), 0);
	/* Nothing pending: a second one has nothing to do. */
	assert_int_equal(f->st->ops->group_commit(f->st, &why), 0);
	assert_int_equal(get(f, "g"), 0);
}

#define BOTH(t) \
	cmocka_unit_test_setup_teardown(t, setup_bdb, teardown), \
	cmocka_unit_test_setup_teardown(t, setup_mem, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_contract_records_and_their_expiry),
		BOTH(test_contract_updates_are_data),
		BOTH(test_contract_an_unknown_merge_writes_nothing),
		BOTH(test_contract_get_first),
		BOTH(test_contract_list_and_flush_see_every_record_once),
		BOTH(test_contract_a_dry_judgement_writes_nothing),
		BOTH(test_contract_a_run_is_checked_before_it_changes_anything),
		BOTH(test_contract_a_run_writes_the_records_of_its_keys),
		BOTH(test_contract_group_calls_commit_together),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
