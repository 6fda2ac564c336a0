/*
 * store_mem - a store in memory that finishes every operation later, from
 * the loop, as a store on a network server does: each operation is
 * copied, waits delay_ms on a timer, and then happens at once (nothing
 * else runs on the loop meanwhile, so it is atomic), or ends with
 * STORE_ETIMEOUT when its budget is shorter than the delay. Tests run
 * greylisting, the pipeline and policyctl's helpers on it to prove the
 * asynchronous path; nothing is kept past close.
 *
 * Tables are sorted arrays of records, in the order Berkeley DB's btree
 * keeps them (bytes, then length), so cursors behave alike.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

#define MAX_TABLES 32
#define BATCH 1000 /* list, flush: records a call examines by default */

struct mrec {
	unsigned char *key;
	size_t klen;
	unsigned char val[STORE_VAL_MAX];
	size_t vlen;
	int64_t expires;
};

struct mtable {
	char name[STORE_TABLE_MAX + 1];
	struct mrec *recs;
	size_t n, cap;
	unsigned char sweep[STORE_KEY_MAX]; /* expire() goes on from here */
	size_t sweep_len;
};

struct mem {
	struct store pub;
	uv_loop_t *loop;
	uint64_t delay_ms;
	struct mtable tables[MAX_TABLES];
	int ntables;
	struct store_op *under_way; /* doubly linked */
	unsigned fail_count;        /* store_mem_fail() */
	int fail_code;
	char fail_msg[128];
};

enum op_kind { OP_RUN, OP_GET, OP_PUT, OP_DEL, OP_LIST, OP_FLUSH,
	OP_COUNT, OP_GET_FIRST };

/* A run's key, copied; and a write it holds until the run ends. */
struct mkey {
	char table[STORE_TABLE_MAX + 1];
	unsigned char key[STORE_KEY_MAX];
	size_t klen;
	bool written;             /* val holds what the run writes */
	unsigned char val[STORE_VAL_MAX];
	size_t vlen;
	int64_t expires;
};

/* An operation under way: copies of all it was given. */
struct store_op {
	struct mem *st;
	struct store_op *next, *prev;
	uv_timer_t timer;
	enum op_kind kind;
	bool timeout;              /* the budget ends before the delay */
	char table[STORE_TABLE_MAX + 1];
	const struct store_script *script; /* run: its keys, parameters */
	struct mkey *keys;
	unsigned char param[STORE_PARAM_MAX];
	size_t plen;
	unsigned char key[STORE_KEY_MAX];
	size_t klen;
	struct store_rec *recs;    /* put: n records, their bytes in buf */
	unsigned char *buf;
	size_t n;
	struct store_cursor from;
	size_t limit;
	struct store_update *upds; /* put: the records' updates, copied */
	store_match_fn *match;
	store_row_fn *row;
	void *arg;
	store_done_fn *done;
	void *done_arg;
	struct store_reply reply;
};

/* cmp - btree order: bytes, then the shorter first */
static int
cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* lower_bound - the first record with a key >= key */
static size_t
lower_bound(const struct mtable *t, const void *key, size_t klen)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp(t->recs[mid].key, t->recs[mid].klen, key, klen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* find - a record by key, or NULL */
static struct mrec *
find(struct mtable *t, const void *key, size_t klen)
{
	size_t i = lower_bound(t, key, klen);

	if (i < t->n && cmp(t->recs[i].key, t->recs[i].klen, key, klen) == 0)
		return &t->recs[i];
	return NULL;
}

/* put_rec - insert or replace */
static void
put_rec(struct mtable *t, const void *key, size_t klen, const void *val,
    size_t vlen, int64_t expires)
{
	size_t i = lower_bound(t, key, klen);
	struct mrec *r;

	if (i == t->n || cmp(t->recs[i].key, t->recs[i].klen, key, klen) != 0) {
		if (t->n == t->cap) {
			t->cap = t->cap ? 2 * t->cap : 16;
			t->recs = xrealloc(t->recs, t->cap * sizeof(*t->recs));
		}
		memmove(&t->recs[i + 1], &t->recs[i],
		    (t->n - i) * sizeof(*t->recs));
		t->n++;
		r = &t->recs[i];
		r->key = xmalloc(klen);
		memcpy(r->key, key, klen);
		r->klen = klen;
	}
	r = &t->recs[i];
	memcpy(r->val, val, vlen);
	r->vlen = vlen;
	r->expires = expires;
}

/* del_at - remove record i */
static void
del_at(struct mtable *t, size_t i)
{
	free(t->recs[i].key);
	memmove(&t->recs[i], &t->recs[i + 1], (t->n - i - 1) * sizeof(*t->recs));
	t->n--;
}

/* table - by name, made on first use */
static struct mtable *
table(struct mem *st, const char *name, struct why *why)
{
	struct mtable *t;
	int i;

	for (i = 0; i < st->ntables; i++)
		if (strcmp(st->tables[i].name, name) == 0)
			return &st->tables[i];
	if (!store_table_ok(name) || st->ntables == MAX_TABLES) {
		why_set(why, "\"%.40s\" is not a table name here", name);
		return NULL;
	}
	t = &st->tables[st->ntables++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	return t;
}

/* as_rec - a record as the interface hands it over */
static struct store_rec
as_rec(const struct mrec *r)
{
	struct store_rec s = { r->key, r->klen, r->val, r->vlen, r->expires, NULL };

	return s;
}

/* A run's reads (its own writes first) and writes (held until it ends). */
static int
run_rd(void *arg, size_t k, unsigned char *val, size_t *len,
    struct why *why)
{
	struct store_op *op = arg;
	struct mkey *mk = &op->keys[k];
	struct mtable *t;
	struct mrec *m;

	if (k >= op->script->nkeys || mk->klen == 0)
		return STORE_NOTFOUND;
	if (mk->written) {
		memcpy(val, mk->val, mk->vlen);
		*len = mk->vlen;
		return 0;
	}
	if ((t = table(op->st, mk->table, why)) == NULL)
		return STORE_ERROR;
	if ((m = find(t, mk->key, mk->klen)) == NULL)
		return STORE_NOTFOUND;
	*len = m->vlen;
	memcpy(val, m->val, *len);
	return 0;
}

static int
run_wr(void *arg, size_t k, const unsigned char *val, size_t len,
    int64_t expires, struct why *why)
{
	struct store_op *op = arg;
	struct mkey *mk = &op->keys[k];

	if (k >= op->script->nkeys || mk->klen == 0 || len > STORE_VAL_MAX) {
		why_set(why, "%s: a write of key %zu (%zu bytes) it may not "
			     "make", op->script->name, k, len);
		return STORE_ERROR;
	}
	if (table(op->st, mk->table, why) == NULL)
		return STORE_ERROR;
	mk->written = true;
	memcpy(mk->val, val, len);
	mk->vlen = len;
	mk->expires = expires;
	return 0;
}

/* run_script - the named transaction; its writes land only if it ends well */
static void
run_script(struct store_op *op)
{
	struct store_reply *r = &op->reply;
	size_t k;

	r->vlen = 0;
	r->rc = op->script->fn(op->param, op->plen, run_rd, run_wr, op, r->val,
	    &r->vlen, &r->why);
	for (k = 0; r->rc >= 0 && k < op->script->nkeys; k++) {
		struct mkey *mk = &op->keys[k];

		if (mk->written)
			put_rec(table(op->st, mk->table, &r->why), mk->key,
			    mk->klen, mk->val, mk->vlen, mk->expires);
	}
}

/* run_put - the records, merged or replaced */
static void
run_put(struct store_op *op, struct mtable *t)
{
	size_t i;

	for (i = 0; i < op->n; i++) {
		struct store_rec out = op->recs[i], old;
		unsigned char buf[STORE_VAL_MAX];
		struct mrec *m = find(t, out.key, out.klen);
		bool write;
		int err;

		memcpy(buf, out.val, out.vlen);
		out.val = buf;
		if (m != NULL)
			old = as_rec(m);
		if (op->n == 1) {
			op->reply.prev_found = m != NULL;
			if (m != NULL) {
				memcpy(op->reply.prev, old.val, old.vlen);
				op->reply.prev_len = old.vlen;
			}
		}
		write = store_update_apply(&op->recs[i], m != NULL ? &old
		    : NULL, &out, &err, &op->reply.why);
		if (err < 0) {
			op->reply.rc = STORE_ERROR;
			return;
		}
		if (op->n == 1) {
			const struct store_rec *now = write ? &out : &old;

			if (write || m != NULL) {
				memcpy(op->reply.val, now->val, now->vlen);
				op->reply.vlen = now->vlen;
				op->reply.expires = now->expires;
			}
		}
		if (!write)
			continue;
		put_rec(t, out.key, out.klen, out.val, out.vlen, out.expires);
		op->reply.n++;
	}
}

/* run_walk - list or flush a batch from the cursor */
static void
run_walk(struct store_op *op, struct mtable *t)
{
	size_t i = op->from.len ? lower_bound(t, op->from.pos, op->from.len)
				: 0;
	size_t limit = op->limit ? op->limit : BATCH, seen = 0;

	while (i < t->n && seen < limit) {
		struct store_rec r = as_rec(&t->recs[i]);

		seen++;
		if (op->match != NULL && !op->match(op->arg, &r)) {
			i++;
			continue;
		}
		op->reply.n++;
		if (op->kind == OP_FLUSH) {
			del_at(t, i);
			continue;
		}
		op->row(op->arg, &r);
		i++;
	}
	op->reply.next.end = i == t->n;
	if (i < t->n) {
		memcpy(op->reply.next.pos, t->recs[i].key, t->recs[i].klen);
		op->reply.next.len = t->recs[i].klen;
	}
}

/* run - the operation happens now */
static void
run(struct store_op *op)
{
	struct store_reply *r = &op->reply;
	struct mtable *t = NULL;
	struct mrec *m;

	if (op->st->fail_count > 0) {
		op->st->fail_count--;
		r->rc = op->st->fail_code;
		why_set(&r->why, "injected: %s", op->st->fail_msg[0]
		    ? op->st->fail_msg : store_error_name(r->rc));
		return;
	}
	if (op->kind != OP_RUN &&
	    (t = table(op->st, op->table, &r->why)) == NULL) {
		r->rc = STORE_ERROR;
		return;
	}
	switch (op->kind) {
	case OP_RUN:
		run_script(op);
		break;
	case OP_GET:
		if ((m = find(t, op->key, op->klen)) == NULL) {
			r->rc = STORE_NOTFOUND;
			break;
		}
		memcpy(r->val, m->val, m->vlen);
		r->vlen = m->vlen;
		r->expires = m->expires;
		break;
	case OP_GET_FIRST: {
		size_t i;

		r->rc = STORE_NOTFOUND;
		for (i = 0; i < op->n; i++) {
			if ((m = find(t, op->recs[i].key, op->recs[i].klen)) ==
			    NULL)
				continue;
			memcpy(r->val, m->val, m->vlen);
			r->vlen = m->vlen;
			r->expires = m->expires;
			r->n = i;
			r->rc = 0;
			break;
		}
		break;
	}
	case OP_PUT:
		run_put(op, t);
		break;
	case OP_DEL:
		if ((m = find(t, op->key, op->klen)) == NULL)
			r->rc = STORE_NOTFOUND;
		else
			del_at(t, (size_t)(m - t->recs));
		break;
	case OP_LIST:
	case OP_FLUSH:
		run_walk(op, t);
		break;
	case OP_COUNT:
		r->n = t->n;
		break;
	}
}

/* op_freed - its timer closed: the operation goes */
static void
op_freed(uv_handle_t *h)
{
	struct store_op *op = h->data;

	free(op->keys);
	free(op->recs);
	free(op->upds);
	free(op->buf);
	free(op);
}

/* unlink_op - no longer under way; its timer closes, then it is freed */
static void
unlink_op(struct store_op *op)
{
	struct mem *st = op->st;

	if (op->prev != NULL)
		op->prev->next = op->next;
	else
		st->under_way = op->next;
	if (op->next != NULL)
		op->next->prev = op->prev;
	uv_timer_stop(&op->timer);
	uv_close((uv_handle_t *)&op->timer, op_freed);
}

/* fire - the delay (or the budget) is over */
static void
fire(uv_timer_t *tm)
{
	struct store_op *op = tm->data;

	if (op->timeout) {
		op->reply.rc = STORE_ETIMEOUT;
		why_set(&op->reply.why, "the store did not answer within "
		    "its budget");
	} else {
		run(op);
	}
	unlink_op(op);
	op->done(op->done_arg, &op->reply);
}

/* submit - an operation under way, answered from the loop */
static int
submit(struct mem *st, struct store_op *op, const struct store_call *c)
{
	uint64_t wait = st->delay_ms;

	op->st = st;
	op->done = c->done;
	op->done_arg = c->arg;
	if (c->budget_ms > 0 && c->budget_ms < wait) {
		op->timeout = true;
		wait = c->budget_ms;
	}
	uv_timer_init(st->loop, &op->timer);
	op->timer.data = op;
	op->next = st->under_way;
	if (op->next != NULL)
		op->next->prev = op;
	st->under_way = op;
	uv_timer_start(&op->timer, fire, wait, 0);
	if (c->op != NULL)
		*c->op = op;
	return 0;
}

/* new_op - a zeroed operation of a kind, on a table */
static struct store_op *
new_op(enum op_kind kind, const char *table)
{
	struct store_op *op = xcalloc(1, sizeof(*op));

	op->kind = kind;
	if (table != NULL)
		snprintf(op->table, sizeof(op->table), "%s", table);
	return op;
}

/* copy_key - a key into the operation; false if too long */
static bool
copy_key(struct store_op *op, const void *key, size_t klen,
    const struct store_call *c)
{
	if (klen == 0 || klen > STORE_KEY_MAX) {
		why_set(&c->out->why, "a key of %zu bytes", klen);
		c->out->rc = STORE_ERROR;
		free(op);
		return false;
	}
	memcpy(op->key, key, klen);
	op->klen = klen;
	return true;
}

/* mem_group_commit - nothing to write: nothing is kept past close */
static int
mem_group_commit(struct store *pub, struct why *why)
{
	(void)pub;
	(void)why;
	return 0;
}

/* mem_run - a named transaction, later */
static int
mem_run(struct store *pub, const char *script, const struct store_tkey *keys,
    size_t n, const void *param, size_t plen, const struct store_call *c)
{
	const struct store_script *sc;
	struct store_op *op;
	size_t k;

	if ((sc = store_run_check(script, keys, n, plen, &c->out->why)) ==
	    NULL) {
		c->out->rc = STORE_ERROR;
		return STORE_ERROR;
	}
	op = new_op(OP_RUN, NULL);
	op->script = sc;
	op->keys = xcalloc(n > 0 ? n : 1, sizeof(*op->keys));
	for (k = 0; k < n; k++) {
		if (keys[k].klen == 0)
			continue;
		snprintf(op->keys[k].table, sizeof(op->keys[k].table), "%s",
		    keys[k].table);
		memcpy(op->keys[k].key, keys[k].key, keys[k].klen);
		op->keys[k].klen = keys[k].klen;
	}
	if (plen > 0)
		memcpy(op->param, param, plen);
	op->plen = plen;
	return submit((struct mem *)pub, op, c);
}

/* mem_get - one record, later */
static int
mem_get(struct store *pub, const char *table, const void *key, size_t klen,
    const struct store_call *c)
{
	struct store_op *op = new_op(OP_GET, table);

	if (!copy_key(op, key, klen, c))
		return STORE_ERROR;
	return submit((struct mem *)pub, op, c);
}

/* copy_recs - records into the operation; false if one is too big */
static bool
copy_recs(struct store_op *op, const struct store_rec *recs, size_t n,
    const struct store_call *c)
{
	size_t i, total = 0, off = 0;

	for (i = 0; i < n; i++) {
		const struct store_update *u = recs[i].upd;

		if (recs[i].klen == 0 || recs[i].klen > STORE_KEY_MAX ||
		    recs[i].vlen > STORE_VAL_MAX ||
		    (u != NULL && u->plen > STORE_PARAM_MAX)) {
			why_set(&c->out->why, "a record of %zu+%zu bytes",
			    recs[i].klen, recs[i].vlen);
			c->out->rc = STORE_ERROR;
			free(op);
			return false;
		}
		/* Refused before anything is written: a put is atomic. */
		if (u != NULL && u->kind == STORE_UPD_MERGE &&
		    store_merge_find(u->merge) == NULL) {
			why_set(&c->out->why, "no merge named \"%.40s\"",
			    u->merge ? u->merge : "");
			c->out->rc = STORE_ERROR;
			free(op);
			return false;
		}
		total += recs[i].klen + recs[i].vlen;
		if (u != NULL)
			total += u->plen + (u->merge ? strlen(u->merge) + 1
						     : 0);
	}
	op->recs = xmalloc((n ? n : 1) * sizeof(*op->recs));
	op->upds = xcalloc(n ? n : 1, sizeof(*op->upds));
	op->buf = xmalloc(total ? total : 1);
	for (i = 0; i < n; i++) {
		const struct store_update *u = recs[i].upd;

		op->recs[i] = recs[i];
		memcpy(op->buf + off, recs[i].key, recs[i].klen);
		op->recs[i].key = op->buf + off;
		off += recs[i].klen;
		memcpy(op->buf + off, recs[i].val, recs[i].vlen);
		op->recs[i].val = op->buf + off;
		off += recs[i].vlen;
		if (u == NULL)
			continue;
		/* The update is data: copied, as the records are. */
		op->upds[i] = *u;
		if (u->plen > 0)
			memcpy(op->buf + off, u->param, u->plen);
		op->upds[i].param = op->buf + off;
		off += u->plen;
		if (u->merge != NULL) {
			memcpy(op->buf + off, u->merge, strlen(u->merge) + 1);
			op->upds[i].merge = (char *)op->buf + off;
			off += strlen(u->merge) + 1;
		}
		op->recs[i].upd = &op->upds[i];
	}
	op->n = n;
	return true;
}

/* mem_put - records (copied now), later */
static int
mem_put(struct store *pub, const char *table, const struct store_rec *recs,
    size_t n, const struct store_call *c)
{
	struct store_op *op = new_op(OP_PUT, table);

	if (!copy_recs(op, recs, n, c))
		return STORE_ERROR;
	return submit((struct mem *)pub, op, c);
}

/* mem_get_first - the first of several keys with a record, later */
static int
mem_get_first(struct store *pub, const char *table,
    const struct store_key *keys, size_t n, const struct store_call *c)
{
	struct store_rec recs[STORE_GET_MAX];
	struct store_op *op;
	size_t i;

	if (n == 0 || n > STORE_GET_MAX) {
		why_set(&c->out->why, "get_first of %zu keys", n);
		c->out->rc = STORE_ERROR;
		return STORE_ERROR;
	}
	for (i = 0; i < n; i++)
		recs[i] = (struct store_rec){ keys[i].key, keys[i].klen, "", 0,
			0, NULL };
	/* The keys are copied as a put's records are. */
	op = new_op(OP_GET_FIRST, table);
	if (!copy_recs(op, recs, n, c))
		return STORE_ERROR;
	return submit((struct mem *)pub, op, c);
}

/* mem_del - one record, later */
static int
mem_del(struct store *pub, const char *table, const void *key, size_t klen,
    const struct store_call *c)
{
	struct store_op *op = new_op(OP_DEL, table);

	if (!copy_key(op, key, klen, c))
		return STORE_ERROR;
	return submit((struct mem *)pub, op, c);
}

/* mem_list - a batch of rows, later */
static int
mem_list(struct store *pub, const char *table,
    const struct store_cursor *from, size_t limit, store_match_fn *match,
    store_row_fn *row, void *arg, const struct store_call *c)
{
	struct store_op *op = new_op(OP_LIST, table);

	if (from != NULL)
		op->from = *from;
	op->limit = limit;
	op->match = match;
	op->row = row;
	op->arg = arg;
	return submit((struct mem *)pub, op, c);
}

/* mem_flush - a batch deleted, later */
static int
mem_flush(struct store *pub, const char *table,
    const struct store_cursor *from, size_t limit, store_match_fn *match,
    void *arg, const struct store_call *c)
{
	struct store_op *op = new_op(OP_FLUSH, table);

	if (from != NULL)
		op->from = *from;
	op->limit = limit;
	op->match = match;
	op->arg = arg;
	return submit((struct mem *)pub, op, c);
}

/* mem_count - the records of a table, later */
static int
mem_count(struct store *pub, const char *table, const struct store_call *c)
{
	return submit((struct mem *)pub, new_op(OP_COUNT, table), c);
}

/* mem_cancel - no answer, no effect */
static void
mem_cancel(struct store_op *op)
{
	if (op != NULL)
		unlink_op(op);
}

/* mem_close - what is under way ends with an error first */
static void
mem_close(struct store *pub)
{
	struct mem *st = (struct mem *)pub;
	int i;

	while (st->under_way != NULL) {
		struct store_op *op = st->under_way;

		op->reply.rc = STORE_ERROR;
		why_set(&op->reply.why, "the store was closed");
		unlink_op(op);
		op->done(op->done_arg, &op->reply);
	}
	for (i = 0; i < st->ntables; i++) {
		struct mtable *t = &st->tables[i];

		while (t->n > 0)
			del_at(t, t->n - 1);
		free(t->recs);
	}
	free(st);
}

/* mem_expire - a batch of each table from where the last one ended */
static int
mem_expire(struct store *pub, int64_t now, size_t limit, uint64_t *deleted,
    struct why *why)
{
	struct mem *st = (struct mem *)pub;
	int k;

	(void)why;
	for (k = 0; k < st->ntables; k++) {
		struct mtable *t = &st->tables[k];
		size_t i = t->sweep_len ? lower_bound(t, t->sweep, t->sweep_len)
					: 0, seen = 0;

		while (i < t->n && seen++ < limit) {
			if (t->recs[i].expires != 0 &&
			    t->recs[i].expires <= now) {
				del_at(t, i);
				++*deleted;
			} else {
				i++;
			}
		}
		t->sweep_len = 0;
		if (i < t->n) {
			memcpy(t->sweep, t->recs[i].key, t->recs[i].klen);
			t->sweep_len = t->recs[i].klen;
		}
	}
	return 0;
}

static const struct store_ops mem_ops = {
	.name = "memory",
	.run = mem_run,
	.group_commit = mem_group_commit,
	.get = mem_get,
	.get_first = mem_get_first,
	.put = mem_put,
	.del = mem_del,
	.list = mem_list,
	.flush = mem_flush,
	.count = mem_count,
	.cancel = mem_cancel,
	.close = mem_close,
	.expire = mem_expire,
};

/* store_open_mem - an empty store that answers later */
struct store *
store_open_mem(uv_loop_t *loop, uint64_t delay_ms)
{
	struct mem *st = xcalloc(1, sizeof(*st));

	st->pub.ops = &mem_ops;
	st->loop = loop;
	st->delay_ms = delay_ms;
	return &st->pub;
}

/* store_mem_fail - the next count operations fail */
void
store_mem_fail(struct store *pub, unsigned count, int code, const char *msg)
{
	struct mem *st = (struct mem *)pub;

	snprintf(st->fail_msg, sizeof(st->fail_msg), "%s", msg ? msg : "");
	st->fail_count = count;
	st->fail_code = code;
}
