/*
 * greylist_test - greylisting and the auto-whitelist with a fake clock,
 * each test on a real Berkeley DB store in a temporary directory and
 * again on the memory store that answers later from the loop; sender
 * normalization; the decision with its header once per message; store
 * trouble through a store that fails on demand; a store slower than the
 * deadline, and a client that leaves while the store works.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "config.h"
#include "backscatter.h"
#include "greylist.h"
#include "metrics.h"
#include "outbound.h"
#include "request.h"
#include "store.h"
#include "pipeline.h"
#include "proto.h"
#include "verdict.h"
#include "checks/chk.h"
#include "xalloc.h"

#define T0 1700000000 /* the fake clock starts here */

/*
 * Every test runs twice: on Berkeley DB, which finishes each operation at
 * once, and on the memory store, which finishes each later from the loop
 * (the path of a store on a network server).
 */
struct fixture {
	char dir[64];
	bool mem;
	uv_loop_t loop;
	struct store *st;
	struct gl_conf c;
	struct arena *a;
};

static int
setup_with(void **state, bool mem)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	/* As the daemon opens it: operations never wait for a lock. */
	struct store_opts o = { .cache_bytes = 8u << 20, .nowait = true };
	struct why why;
	int err;

	f->mem = mem;
	assert_int_equal(uv_loop_init(&f->loop), 0);
	if (mem) {
		f->st = store_open_mem(&f->loop, 2);
	} else {
		snprintf(f->dir, sizeof(f->dir), "/tmp/greylist_test_XXXXXX");
		assert_non_null(mkdtemp(f->dir));
		o.dir = f->dir;
		f->st = store_open_bdb(&o, &err, &why);
		if (f->st == NULL)
			fail_msg("%s", why.text);
	}
	gl_conf_defaults(&f->c);
	f->a = arena_new();
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
	struct fixture *f = *state;
	char cmd[128];

	f->st->ops->close(f->st);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	gl_conf_fini(&f->c);
	arena_free(f->a);
	if (!f->mem) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
		assert_int_equal(system(cmd), 0);
	}
	free(f);
	return 0;
}

struct decided {
	int calls;
	struct verdict v;
};

static void
on_decided(void *arg, const struct verdict *v, const char *trace)
{
	struct decided *d = arg;

	(void)trace;
	d->calls++;
	d->v = *v;
}

/*
 * pipeline_decide_now - the daemon's decision (no check is enabled here):
 * at once on Berkeley DB, from the loop on the memory store
 */
static void
pipeline_decide_now(struct fixture *f, const struct cfg *cfg,
    const struct req *req, struct pipeline_env *env, struct verdict *v)
{
	struct decided d = { 0 };
	struct pipeline *p;
	int rc = pipeline_decide(&f->loop, cfg, NULL, req, env, on_decided,
	    &d, &p, v);

	if (rc == 1)
		return;
	while (d.calls == 0)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(d.calls, 1);
	*v = d.v;
}

/* check_pool - one RCPT request at time t, keyed on pool (or NULL) */
static enum gl_status
check_pool(struct fixture *f, const char *client, const char *pool,
    const char *sender, const char *rcpt, int64_t t, struct gl_result *res)
{
	const char *attrs[PA_COUNT] = { 0 };
	struct req_opts o = { 24, 64 };
	struct store_waiter w;
	struct gl_result got;
	struct gl_op op;
	struct req req;
	int rc;

	attrs[PA_CLIENT_ADDRESS] = client;
	attrs[PA_SENDER] = sender;
	attrs[PA_RECIPIENT] = rcpt;
	assert_int_equal(req_build(&req, f->a, attrs, &o, NULL), 0);
	if (!greylist_op(&f->c, &req, pool, t, &op)) {
		if (res != NULL)
			res->status = GL_SKIP;
		return GL_SKIP;
	}
	store_waiter_init(&w, &f->loop);
	rc = greylist_run(f->st, &op, &w.call);
	/* Berkeley DB at once, the memory store later. */
	assert_int_equal(rc, f->mem ? 0 : 1);
	if ((rc = store_wait(&w, rc)) != 0)
		fail_msg("greylist: %s", w.reply.why.text);
	assert_int_equal(greylist_result(&w.reply, &got), 0);
	if (res != NULL)
		*res = got;
	return got.status;
}

/* check - one RCPT request at time t, keyed on the client network */
static enum gl_status
check(struct fixture *f, const char *client, const char *sender,
    const char *rcpt, int64_t t, struct gl_result *res)
{
	return check_pool(f, client, NULL, sender, rcpt, t, res);
}

static void
test_greylist_first_sight_early_retry_pass(void **state)
{
	struct fixture *f = *state;
	struct gl_result r;

	f->c.awl_domains = 0; /* tested on its own below */
	assert_int_equal(check(f, "192.0.2.10", "a@b.example", "u@our.example",
			     T0, &r), GL_NEW);
	assert_int_equal(r.wait, 300);
	/* An early retry is deferred again; first-seen does not move. */
	assert_int_equal(check(f, "192.0.2.10", "a@b.example", "u@our.example",
			     T0 + 120, &r), GL_EARLY);
	assert_int_equal(r.wait, 180);
	assert_int_equal(check(f, "192.0.2.10", "a@b.example", "u@our.example",
			     T0 + 299, &r), GL_EARLY);
	assert_int_equal(r.wait, 1);
	/* After the delay, from a neighbour in the same /24: passes. */
	assert_int_equal(check(f, "192.0.2.77", "a@b.example", "u@our.example",
			     T0 + 300, &r), GL_PASS);
	assert_int_equal(r.delayed, 300);
	assert_int_equal(check(f, "192.0.2.10", "a@b.example", "u@our.example",
			     T0 + 5000, &r), GL_KNOWN);
	/* Another /24, another recipient, another sender: all new. */
	assert_int_equal(check(f, "192.0.3.10", "a@b.example", "u@our.example",
			     T0 + 5000, NULL), GL_NEW);
	assert_int_equal(check(f, "192.0.2.10", "a@b.example", "v@our.example",
			     T0 + 5000, NULL), GL_NEW);
	assert_int_equal(check(f, "192.0.2.10", "c@b.example", "u@our.example",
			     T0 + 5000, NULL), GL_NEW);
}

static void
test_greylist_retry_after_window_starts_over(void **state)
{
	struct fixture *f = *state;
	struct gl_result r;
	int64_t late = T0 + 2 * 86400 + 1;

	check(f, "198.51.100.1", "a@b.example", "u@x.example", T0, NULL);
	assert_int_equal(check(f, "198.51.100.1", "a@b.example", "u@x.example",
			     late, &r), GL_NEW);
	assert_int_equal(r.wait, 300);
	assert_int_equal(check(f, "198.51.100.1", "a@b.example", "u@x.example",
			     late + 300, NULL), GL_PASS);
}

/*
 * A retry the daemon has seen is answered from its cache of records;
 * a triplet an administrator deletes (policyctl, the control socket:
 * a flush of the table) is new again at the next request, not early
 * from what the cache remembered.
 */
static void
test_greylist_deleted_triplet_is_new_again(void **state)
{
	struct fixture *f = *state;
	struct store_waiter w;
	struct store_cursor cur;
	struct gl_result r;

	f->c.awl_domains = 0;
	assert_int_equal(check(f, "192.0.2.10", "a@b.example", "u@our.example",
			     T0, &r), GL_NEW);
	assert_int_equal(check(f, "192.0.2.10", "a@b.example", "u@our.example",
			     T0 + 1, &r), GL_EARLY);
	assert_int_equal(check(f, "192.0.2.10", "a@b.example", "u@our.example",
			     T0 + 2, &r), GL_EARLY);
	memset(&cur, 0, sizeof(cur));
	store_waiter_init(&w, &f->loop);
	assert_int_equal(store_wait(&w, f->st->ops->flush(f->st,
			     GL_TABLE_TRIPLET, &cur, 100, NULL, NULL, &w.call)),
	    0);
	assert_int_equal(w.reply.n, 1);
	assert_int_equal(check(f, "192.0.2.10", "a@b.example", "u@our.example",
			     T0 + 3, &r), GL_NEW);
	assert_int_equal(r.wait, 300);
}

/*
 * A look at a triplet before its first sight (policyctl's, say), then
 * its first sight: the next look finds it, whatever its key's length.
 * The cache of records kept the first look's "absent" for a key too
 * long to keep with its value, and the first sight, which dropped
 * nothing, left it there.
 */
static void
test_greylist_triplet_found_after_a_look_before_its_first_sight(
    void **state)
{
	struct fixture *f = *state;
	const char *attrs[PA_COUNT] = { 0 };
	struct req_opts o = { 24, 64 };
	struct store_waiter w;
	char sender[300];
	struct gl_op op;
	struct req req;
	size_t len;

	f->c.awl_domains = 0;
	for (len = 100; len <= 260; len += 8) {
		memset(sender, 's', len);
		snprintf(sender + len, sizeof(sender) - len, "@b.example");
		attrs[PA_CLIENT_ADDRESS] = "192.0.2.10";
		attrs[PA_SENDER] = sender;
		attrs[PA_RECIPIENT] = "u@our.example";
		assert_int_equal(req_build(&req, f->a, attrs, &o, NULL), 0);
		assert_true(greylist_op(&f->c, &req, NULL, T0, &op));
		store_waiter_init(&w, &f->loop);
		assert_int_equal(store_wait(&w, f->st->ops->get(f->st,
				     GL_TABLE_TRIPLET, op.key[GL_REC_TRIPLET],
				     op.klen[GL_REC_TRIPLET], &w.call)),
		    STORE_NOTFOUND);
		assert_int_equal(check(f, "192.0.2.10", sender,
				     "u@our.example", T0, NULL), GL_NEW);
		store_waiter_init(&w, &f->loop);
		if (store_wait(&w, f->st->ops->get(f->st, GL_TABLE_TRIPLET,
			op.key[GL_REC_TRIPLET], op.klen[GL_REC_TRIPLET],
			&w.call)) != 0)
			fail_msg("a key of %zu bytes: not found",
			    op.klen[GL_REC_TRIPLET]);
		assert_int_equal(check(f, "192.0.2.10", sender,
				     "u@our.example", T0 + 1, NULL), GL_EARLY);
	}
}

static void
test_greylist_expiry(void **state)
{
	struct fixture *f = *state;
	uint64_t deleted = 0;
	unsigned batch;
	struct why why;
	int64_t t = T0;

	f->c.awl_clients = 0;
	f->c.awl_domains = 0;
	check(f, "203.0.113.1", "a@b.example", "u@x.example", t, NULL);
	check(f, "203.0.113.1", "a@b.example", "u@x.example", t + 400, NULL);
	check(f, "203.0.113.2", "p@q.example", "u@x.example", t + 400, NULL);
	/* Passed and used within max_age: still known. */
	assert_int_equal(check(f, "203.0.113.1", "a@b.example", "u@x.example",
			     t + 30 * 86400, NULL), GL_KNOWN);
	/* The pending one is past retry_window: the sweep takes it. */
	batch = 1; /* bounded: one record per table per step */
	assert_int_equal(f->st->ops->expire(f->st, t + 30 * 86400,
			     batch, &deleted, &why), 0);
	assert_int_equal(f->st->ops->expire(f->st, t + 30 * 86400,
			     batch, &deleted, &why), 0);
	assert_int_equal(f->st->ops->expire(f->st, t + 30 * 86400,
			     batch, &deleted, &why), 0);
	assert_int_equal(deleted, 1);
	/* Unused for more than max_age: first sight again, swept too. */
	assert_int_equal(check(f, "203.0.113.1", "a@b.example", "u@x.example",
			     t + 66 * 86400, NULL), GL_NEW);
	deleted = 0;
	batch = 100;
	assert_int_equal(f->st->ops->expire(f->st, t + 102 * 86400,
			     batch, &deleted, &why), 0);
	assert_int_equal(deleted, 1);
}

static void
test_greylist_awl_clients(void **state)
{
	struct fixture *f = *state;
	int64_t t = T0;
	int i;

	f->c.awl_domains = 0;
	/* Five passes, an hour or more apart, whitelist the /24. */
	for (i = 0; i < 5; i++) {
		char rcpt[32];

		snprintf(rcpt, sizeof(rcpt), "u%d@x.example", i);
		assert_int_equal(check(f, "192.0.2.1", "a@b.example", rcpt, t,
				     NULL), GL_NEW);
		assert_int_equal(check(f, "192.0.2.1", "a@b.example", rcpt,
				     t + 300, NULL), GL_PASS);
		/* More passes within the hour do not count; the fifth
		 * counted pass whitelists the network. */
		assert_int_equal(check(f, "192.0.2.1", "a@b.example", rcpt,
				     t + 400, NULL),
		    i < 4 ? GL_KNOWN : GL_AWL_CLIENT);
		t += 3600;
		if (i < 4) {
			/* Not whitelisted yet: a new triplet is deferred. */
			snprintf(rcpt, sizeof(rcpt), "v%d@x.example", i);
			assert_int_equal(check(f, "192.0.2.9", "new@s.example",
					     rcpt, t, NULL), GL_NEW);
		}
	}
	assert_int_equal(check(f, "192.0.2.200", "other@s.example",
			     "w@x.example", t, NULL), GL_AWL_CLIENT);
	/* The whitelist expires after max_age without traffic. */
	assert_int_equal(check(f, "192.0.2.200", "other2@s.example",
			     "w@x.example", t + 35 * 86400 + 1, NULL), GL_NEW);
}

/*
 * A whitelisted client's entry is not written again for a pass under a
 * minute after the last written one: last-seen (and so expiry) is kept
 * to the minute, and a busy sender's requests read instead of write.
 * Fails on a judgement that writes every pass (the entry then lives 30 s
 * longer).
 */
static void
test_greylist_awl_entry_written_once_a_minute(void **state)
{
	struct fixture *f = *state;
	int64_t t = T0, m = f->c.max_age;

	f->c.awl_domains = 0;
	f->c.awl_clients = 1;
	assert_int_equal(check(f, "192.0.2.1", "a@b.example", "u@x.example", t,
			     NULL), GL_NEW);
	/* The counted pass: the entry's last-seen is t + 300. */
	assert_int_equal(check(f, "192.0.2.1", "a@b.example", "u@x.example",
			     t + 300, NULL), GL_PASS);
	/* 30 s later: whitelisted, the entry not written. */
	assert_int_equal(check(f, "192.0.2.2", "c@d.example", "v@x.example",
			     t + 330, NULL), GL_AWL_CLIENT);
	/* So it has expired a second after max_age from t + 300 (it would
	 * live until t + 330 + max_age, written at t + 330). */
	assert_int_equal(check(f, "192.0.2.4", "g@h.example", "y@x.example",
			     t + 300 + m + 1, NULL), GL_NEW);

	/* A pass a minute or more after the last written one is written. */
	assert_int_equal(check(f, "198.51.100.1", "a@b.example", "u@x.example",
			     t, NULL), GL_NEW);
	assert_int_equal(check(f, "198.51.100.1", "a@b.example", "u@x.example",
			     t + 300, NULL), GL_PASS);
	assert_int_equal(check(f, "198.51.100.2", "c@d.example", "v@x.example",
			     t + 360, NULL), GL_AWL_CLIENT);
	assert_int_equal(check(f, "198.51.100.3", "e@f.example", "w@x.example",
			     t + 360 + m, NULL), GL_AWL_CLIENT);
}

static void
test_greylist_awl_domains(void **state)
{
	struct fixture *f = *state;
	int64_t t = T0;

	f->c.awl_clients = 0;
	check(f, "192.0.2.1", "a@b.example", "u1@x.example", t, NULL);
	check(f, "192.0.2.1", "a@b.example", "u1@x.example", t + 300, NULL);
	check(f, "192.0.2.1", "c@b.example", "u2@x.example", t + 3600, NULL);
	assert_int_equal(check(f, "192.0.2.1", "c@b.example", "u2@x.example",
			     t + 3900, NULL), GL_PASS);
	/* Two passes: anyone at b.example from that /24 goes through. */
	assert_int_equal(check(f, "192.0.2.1", "z@b.example", "u3@x.example",
			     t + 4000, NULL), GL_AWL_DOMAIN);
	assert_int_equal(check(f, "192.0.2.1", "z@B.EXAMPLE", "u4@x.example",
			     t + 4000, NULL), GL_AWL_DOMAIN);
	/* Not another domain, not another network. */
	assert_int_equal(check(f, "192.0.2.1", "z@c.example", "u3@x.example",
			     t + 4000, NULL), GL_NEW);
	assert_int_equal(check(f, "192.0.9.1", "z@b.example", "u3@x.example",
			     t + 4000, NULL), GL_NEW);
	/* The null sender has no domain to whitelist. */
	assert_int_equal(check(f, "192.0.2.1", "", "u3@x.example", t + 4000,
			     NULL), GL_NEW);
}

static void
test_greylist_ipv6_64(void **state)
{
	struct fixture *f = *state;
	char net[CIDR_STRLEN];

	assert_int_equal(check(f, "2001:db8:1:2::25", "a@b.example",
			     "u@x.example", T0, NULL), GL_NEW);
	assert_int_equal(check(f, "2001:db8:1:2:ffff::99", "a@b.example",
			     "u@x.example", T0 + 300, NULL), GL_PASS);
	assert_int_equal(check(f, "2001:db8:1:3::25", "a@b.example",
			     "u@x.example", T0 + 300, NULL), GL_NEW);
	assert_string_equal(greylist_net(&f->c, "2001:db8:1:2:3:4:5:6", net,
				sizeof(net)), "2001:db8:1:2::/64");
	f->c.ipv6_prefix = 48;
	f->c.ipv4_prefix = 32;
	assert_string_equal(greylist_net(&f->c, "2001:db8:1:2:3:4:5:6", net,
				sizeof(net)), "2001:db8:1::/48");
	assert_string_equal(greylist_net(&f->c, "192.0.2.7", net, sizeof(net)),
	    "192.0.2.7/32");
}

/*
 * A pool identity stands for the network: a retry from another address
 * of the sender's pool, IPv4 or IPv6, is the same client; without it
 * the other /24 starts over.
 */
static void
test_greylist_pool(void **state)
{
	struct fixture *f = *state;
	unsigned i;

	f->c.awl_domains = 0; /* the client list alone */
	assert_int_equal(check_pool(f, "192.0.2.1", "spf:big.example",
			     "a@big.example", "u@x.example", T0, NULL), GL_NEW);
	assert_int_equal(check_pool(f, "198.51.100.7", "spf:big.example",
			     "a@big.example", "u@x.example", T0 + 300, NULL),
	    GL_PASS);
	assert_int_equal(check_pool(f, "2001:db8::25", "SPF:Big.Example",
			     "a@big.example", "u@x.example", T0 + 400, NULL),
	    GL_KNOWN);
	/* Keyed on the network, the other /24 is a stranger. */
	assert_int_equal(check(f, "198.51.100.7", "a@big.example",
			     "u@x.example", T0 + 500, NULL), GL_NEW);
	/* Another pool with the same sender is another client. */
	assert_int_equal(check_pool(f, "192.0.2.1", "fcrdns:other.example",
			     "a@big.example", "u@x.example", T0 + 500, NULL),
	    GL_NEW);
	/* The pool earns the client auto-whitelist: 5 passes, an hour apart
	 * (the first pass above is one). */
	for (i = 1; i <= 4; i++) {
		char rcpt[32];
		int64_t t = T0 + (int64_t)i * 7200;

		snprintf(rcpt, sizeof(rcpt), "r%u@x.example", i);
		assert_int_equal(check_pool(f, "203.0.113.9", "spf:big.example",
				     "b@big.example", rcpt, t, NULL), GL_NEW);
		assert_int_equal(check_pool(f, "203.0.113.10",
				     "spf:big.example", "b@big.example", rcpt,
				     t + 300, NULL), GL_PASS);
	}
	assert_int_equal(check_pool(f, "192.0.2.200", "spf:big.example",
			     "new@big.example", "z@x.example", T0 + 50000,
			     NULL), GL_AWL_CLIENT);
}

/* log_sum - a checksum of the log files' bytes in dir (Berkeley DB
 * makes each file its full size at once: the sizes do not move) */
static uint64_t
log_sum(const char *dir)
{
	uint64_t h = 1469598103934665603ull;
	char path[256];
	int i, c;

	for (i = 1; i < 100; i++) {
		FILE *fp;

		snprintf(path, sizeof(path), "%s/log.%010d", dir, i);
		if ((fp = fopen(path, "rb")) == NULL)
			continue;
		while ((c = getc(fp)) != EOF)
			h = (h ^ (unsigned char)c) * 1099511628211ull;
		fclose(fp);
	}
	return h;
}

/* grouped - one greylisting judgement as the daemon makes it: a group
 * call, then the loop turn's group commit */
static enum gl_status
grouped(struct fixture *f, struct store *st, const char *sender, int64_t t)
{
	const char *attrs[PA_COUNT] = { 0 };
	struct req_opts o = { 24, 64 };
	struct store_waiter w;
	struct gl_result res;
	struct gl_op op;
	struct why why;
	struct req req;

	attrs[PA_CLIENT_ADDRESS] = "192.0.2.10";
	attrs[PA_SENDER] = sender;
	attrs[PA_RECIPIENT] = "u@x.example";
	assert_int_equal(req_build(&req, f->a, attrs, &o, NULL), 0);
	assert_true(greylist_op(&f->c, &req, NULL, t, &op));
	store_waiter_init(&w, &f->loop);
	w.call.group = true;
	assert_int_equal(store_wait(&w, greylist_run(st, &op, &w.call)), 0);
	assert_int_equal(greylist_result(&w.reply, &res), 0);
	assert_int_equal(st->ops->group_commit(st, &why), 0);
	return res.status;
}

/*
 * A judgement that only read (a retry within the minute) commits nothing:
 * the loop turn's group commit writes no log for it (the record it
 * commits to get the log written is for turns that wrote). Fails when
 * every group call's commit asks for a group commit.
 */
static void
test_greylist_read_only_judgement_writes_no_log(void **state)
{
	struct fixture *f = *state;
	struct store_opts o = { .cache_bytes = 8u << 20, .nowait = true,
		.group = true };
	char dir[64];
	struct store *st;
	struct why why;
	uint64_t before;
	int err;

	snprintf(dir, sizeof(dir), "/tmp/greylist_test_XXXXXX");
	assert_non_null(mkdtemp(dir));
	o.dir = dir;
	assert_non_null(st = store_open_bdb(&o, &err, &why));
	assert_int_equal(grouped(f, st, "a@b.example", T0), GL_NEW);
	assert_int_equal(grouped(f, st, "a@b.example", T0 + 10), GL_EARLY);
	before = log_sum(dir);
	assert_int_equal(grouped(f, st, "a@b.example", T0 + 20), GL_EARLY);
	assert_int_equal(grouped(f, st, "a@b.example", T0 + 30), GL_EARLY);
	assert_true(log_sum(dir) == before);
	/* A write is logged, and group-committed. */
	assert_int_equal(grouped(f, st, "c@d.example", T0 + 40), GL_NEW);
	assert_true(log_sum(dir) != before);
	st->ops->close(st);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
}

/* entry - the triplet record under key (klen bytes) */
static struct gl_entry
entry(struct fixture *f, const char *key, size_t klen)
{
	struct store_waiter w;
	struct gl_entry e;

	store_waiter_init(&w, &f->loop);
	assert_int_equal(store_wait(&w, f->st->ops->get(f->st,
	    GL_TABLE_TRIPLET, key, klen, &w.call)), 0);
	assert_int_equal(gl_entry_decode(w.reply.val, w.reply.vlen, &e), 0);
	return e;
}

/*
 * A triplet retried under a minute after its entry was last written, once
 * the entry has seen two requests, is not written again (the requests of
 * one transaction, a sender's bursts): last-seen to the minute, a request
 * a minute counted. First sight is still told from an early retry, a pass
 * is still written, and a pool entry from another address is. Fails on a
 * judgement that writes every request (count 5, last-seen T0 + 40).
 */
static void
test_greylist_retry_within_a_minute_is_not_rewritten(void **state)
{
	struct fixture *f = *state;
	static const char key[] = "192.0.2.0/24\0a@b.example\0u@x.example";
	static const char pkey[] = "spf:b.example\0a@b.example\0u@x.example";
	struct gl_entry e;

	f->c.awl_domains = 0;
	assert_int_equal(check(f, "192.0.2.10", "a@b.example", "u@x.example",
			     T0, NULL), GL_NEW);
	/* The second request is written: it is what says "early". */
	assert_int_equal(check(f, "192.0.2.10", "a@b.example", "u@x.example",
			     T0 + 10, NULL), GL_EARLY);
	assert_int_equal(check(f, "192.0.2.10", "a@b.example", "u@x.example",
			     T0 + 20, NULL), GL_EARLY);
	assert_int_equal(check(f, "192.0.2.10", "a@b.example", "u@x.example",
			     T0 + 40, NULL), GL_EARLY);
	e = entry(f, key, sizeof(key));
	assert_int_equal(e.count, 2);
	assert_int_equal(e.last, T0 + 10);
	assert_int_equal(e.first, T0);
	/* A minute on: written again. */
	assert_int_equal(check(f, "192.0.2.10", "a@b.example", "u@x.example",
			     T0 + 70, NULL), GL_EARLY);
	e = entry(f, key, sizeof(key));
	assert_int_equal(e.count, 3);
	assert_int_equal(e.last, T0 + 70);
	/* The pass is written, however soon; then known, not rewritten. */
	assert_int_equal(check(f, "192.0.2.10", "a@b.example", "u@x.example",
			     T0 + 300, NULL), GL_PASS);
	assert_int_equal(check(f, "192.0.2.10", "a@b.example", "u@x.example",
			     T0 + 310, NULL), GL_KNOWN);
	e = entry(f, key, sizeof(key));
	assert_int_equal(e.passed_at, T0 + 300);
	assert_int_equal(e.last, T0 + 300);
	assert_int_equal(e.count, 4);
	/* A pool entry from another address is written (it holds the
	 * address of its last request). */
	assert_int_equal(check_pool(f, "192.0.2.10", "spf:b.example",
			     "a@b.example", "u@x.example", T0 + 400, NULL),
	    GL_KNOWN);
	assert_int_equal(check_pool(f, "192.0.2.10", "spf:b.example",
			     "a@b.example", "u@x.example", T0 + 405, NULL),
	    GL_KNOWN);
	assert_int_equal(entry(f, pkey, sizeof(pkey)).last, T0 + 400);
	assert_int_equal(check_pool(f, "198.51.100.7", "spf:b.example",
			     "a@b.example", "u@x.example", T0 + 410, NULL),
	    GL_KNOWN);
	e = entry(f, pkey, sizeof(pkey));
	assert_int_equal(e.last, T0 + 410);
	assert_int_equal(e.client.a[0], 198);
}

/*
 * Entries keyed on the network (postgrey's, imported; or made before the
 * sender's SPF passed) count for a pool that misses: a triplet postgrey
 * passed is not greylisted again when policyd keys it on the sender's
 * SPF domain, a pending one keeps its first sight, and a network postgrey
 * auto-whitelisted stays so; the pool's entry keeps the address.
 */
static void
test_greylist_pool_miss_carries_the_network_entry_over(void **state)
{
	struct fixture *f = *state;
	struct gl_entry e;
	char buf[32];
	static const char key[] = "spf:example.org\0alice@example.org\0"
				  "u@our.example";

	f->c.awl_domains = 0;
	f->c.awl_clients = 2;
	assert_int_equal(check(f, "192.0.2.5", "alice@example.org",
			     "u@our.example", T0, NULL), GL_NEW);
	assert_int_equal(check(f, "192.0.2.5", "alice@example.org",
			     "u@our.example", T0 + 300, NULL), GL_PASS);
	assert_int_equal(check_pool(f, "192.0.2.5", "spf:example.org",
			     "alice@example.org", "u@our.example", T0 + 1000,
			     NULL), GL_KNOWN);
	/* Carried over: the pool's own entry now, from any address. */
	assert_int_equal(check_pool(f, "198.51.100.1", "spf:example.org",
			     "alice@example.org", "u@our.example", T0 + 1100,
			     NULL), GL_KNOWN);
	e = entry(f, key, sizeof(key));
	assert_string_equal(addr_format(&e.client, buf, sizeof(buf)),
	    "198.51.100.1");
	assert_int_equal(e.passed_at, T0 + 300);
	/* A pending network entry: its first sight counts for the pool. */
	assert_int_equal(check(f, "192.0.2.9", "bob@x.example",
			     "v@our.example", T0, NULL), GL_NEW);
	assert_int_equal(check_pool(f, "192.0.2.9", "spf:x.example",
			     "bob@x.example", "v@our.example", T0 + 300, NULL),
	    GL_PASS);
	/* A network auto-whitelisted (two passes an hour apart). */
	assert_int_equal(check(f, "203.0.113.7", "c@y.example",
			     "w@our.example", T0, NULL), GL_NEW);
	assert_int_equal(check(f, "203.0.113.7", "c@y.example",
			     "w@our.example", T0 + 300, NULL), GL_PASS);
	assert_int_equal(check(f, "203.0.113.7", "c@y.example",
			     "w@our.example", T0 + 4000, NULL), GL_KNOWN);
	assert_int_equal(check_pool(f, "203.0.113.8", "spf:z.example",
			     "d@z.example", "w@our.example", T0 + 5000, NULL),
	    GL_AWL_CLIENT);
}

static void
test_greylist_skips_without_client_or_recipient(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(check(f, NULL, "a@b.example", "u@x.example", T0, NULL),
	    GL_SKIP);
	assert_int_equal(check(f, "192.0.2.1", "a@b.example", NULL, T0, NULL),
	    GL_SKIP);
}

static const struct {
	const char *label;
	const char *in, *want;
} norm_cases[] = {
	{ "plain, lower-cased", "Alice@Example.ORG", "alice@example.org" },
	{ "extension", "alice+lists@example.org", "alice@example.org" },
	{ "leading plus kept", "+x@example.org", "+x@example.org" },
	{ "digit run folded", "bounce-12345-678@lists.example",
	    "bounce-#-#@lists.example" },
	{ "digits inside a word kept", "user123@example.org",
	    "user123@example.org" },
	{ "digits alone folded", "12345@example.org", "#@example.org" },
	{ "dot separated", "a.2024.b@x.example", "a.#.b@x.example" },
	{ "BATV prvs tag first", "prvs=1234abcdef=alice@example.org",
	    "alice@example.org" },
	{ "BATV prvs tag last", "prvs=alice=1234abcdef@example.org",
	    "alice@example.org" },
	{ "BATV upper case", "PRVS=0123456789=Bob@Example.org",
	    "bob@example.org" },
	{ "msprvs1", "msprvs1=19723a1b2c3d4=bounces@microsoft.example",
	    "bounces@microsoft.example" },
	{ "SRS0", "SRS0=HHH=TT=orig.example=alice@forwarder.example",
	    "alice@orig.example" },
	{ "SRS0 with plus separator",
	    "SRS0+xyz=2a=orig.example=bob@fwd.example", "bob@orig.example" },
	{ "SRS1", "SRS1=HHH=first.example==HHH=TT=orig.example=carol@"
		  "second.example", "carol@orig.example" },
	{ "SRS1 then extension and digits",
	    "SRS1=x=f.example==y=zz=orig.example=list+9@s.example",
	    "list@orig.example" },
	{ "broken SRS kept", "SRS0=only@fwd.example", "srs0=only@fwd.example" },
	{ "no domain", "MAILER-DAEMON", "mailer-daemon" },
};

static void
test_greylist_sender_normalization(void **state)
{
	struct fixture *f = *state;
	char out[512];
	size_t i;

	for (i = 0; i < nitems(norm_cases); i++) {
		print_message("case: %s\n", norm_cases[i].label);
		assert_string_equal(greylist_norm_sender(&f->c, norm_cases[i].in,
					out, sizeof(out)),
		    norm_cases[i].want);
	}
	/* Each normalization can be switched off. */
	f->c.strip_extension = false;
	assert_string_equal(greylist_norm_sender(&f->c, "a+b@x.example", out,
				sizeof(out)), "a+b@x.example");
	f->c.fold_digits = false;
	assert_string_equal(greylist_norm_sender(&f->c, "b-123@x.example", out,
				sizeof(out)), "b-123@x.example");
	f->c.strip_batv = false;
	assert_string_equal(greylist_norm_sender(&f->c,
				"prvs=1234abcdef=a@x.example", out,
				sizeof(out)), "prvs=1234abcdef=a@x.example");
	f->c.strip_srs = false;
	assert_string_equal(greylist_norm_sender(&f->c,
				"SRS0=h=t=o.example=a@f.example", out,
				sizeof(out)), "srs0=h=t=o.example=a@f.example");
	/* Normalized senders share one triplet. */
	f->c.strip_extension = f->c.fold_digits = true;
	assert_int_equal(check(f, "192.0.2.1", "list+1001@x.example",
			     "u@y.example", T0, NULL), GL_NEW);
	assert_int_equal(check(f, "192.0.2.1", "list+1002@x.example",
			     "u@y.example", T0 + 300, NULL), GL_PASS);
}

/* decide - a full decision through the daemon's pipeline */
static const char *
decide(struct fixture *f, struct cfg *cfg, struct pipeline_env *env,
    const char *instance, const char *rcpt, int64_t t, const char **rule)
{
	const char *attrs[PA_COUNT] = { 0 };
	struct verdict v;
	struct req req;

	attrs[PA_CLIENT_ADDRESS] = "192.0.2.1";
	attrs[PA_SENDER] = "a@b.example";
	attrs[PA_RECIPIENT] = rcpt;
	attrs[PA_INSTANCE] = instance;
	attrs[PA_PROTOCOL_STATE] = "RCPT";
	assert_int_equal(req_build(&req, f->a, attrs, &cfg->net, NULL), 0);
	env->now = t;
	pipeline_decide_now(f, cfg, &req, env, &v);
	if (rule)
		*rule = v.rule;
	return v.action;
}

static void
test_greylist_decision_and_header_once(void **state)
{
	static const char policy[] = "checks:\n  greylist:\n    delay: 5m\n"
				     "    header: true\n    awl_domains: 0\n"
				     "    text: please retry in {seconds}s "
				     "({seconds})\n";
	struct fixture *f = *state;
	struct pipeline_env env = { .hostname = "mx.test" };
	struct why why;
	struct cfg *cfg = cfg_parse("t.yaml", policy, strlen(policy), &why);
	const char *rule;

	struct store_handle h = { f->st };

	if (cfg == NULL)
		fail_msg("%s", why.text);
	env.store = &h;
	assert_string_equal(decide(f, cfg, &env, "I1", "u@x", T0, &rule),
	    "DEFER_IF_PERMIT 4.7.1 please retry in 300s (300)");
	assert_string_equal(rule, "greylist:new(wait=300s)");
	assert_string_equal(decide(f, cfg, &env, "I1", "v@x", T0, NULL),
	    "DEFER_IF_PERMIT 4.7.1 please retry in 300s (300)");
	assert_string_equal(decide(f, cfg, &env, "I2", "u@x", T0 + 100, &rule),
	    "DEFER_IF_PERMIT 4.7.1 please retry in 200s (200)");
	assert_string_equal(rule, "greylist:early(wait=200s)");
	/* The retry: the first recipient gets the header, the second not. */
	assert_string_equal(decide(f, cfg, &env, "I3", "u@x", 1700000400, &rule),
	    "PREPEND X-Greylist: delayed 400 seconds by policyd at mx.test; "
	    "Tue, 14 Nov 2023 22:20:00 +0000");
	assert_string_equal(rule, "greylist:pass(delayed=400s)");
	assert_string_equal(decide(f, cfg, &env, "I3", "v@x", 1700000400, NULL),
	    "DUNNO");
	assert_string_equal(decide(f, cfg, &env, "I4", "u@x", T0 + 500, &rule),
	    "DUNNO");
	assert_string_equal(rule, "greylist:known");
	assert_int_equal(env.store_rc, 0);
	msg_fini(&env.msg);
	cfg_unref(cfg);
}

/*
 * fail_next - the store's next n steps fail with code. Berkeley DB runs a
 * transaction that loses a deadlock again (three times in all); the
 * memory store has no transactions to run again: a failure is the
 * operation's.
 */
static void
fail_next(struct fixture *f, unsigned n, int code, const char *msg)
{
	if (f->mem)
		store_mem_fail(f->st, code == STORE_ERETRY && n < 3 ? 0 : 1,
		    code, msg);
	else
		store_bdb_fail(f->st, STORE_BDB_BEGIN | STORE_BDB_WRITE, 0, n,
		    code, msg);
}

static void
test_greylist_store_trouble(void **state)
{
	static const char policy[] = "checks:\n  greylist: {}\n";
	static const char policy_defer[] = "checks:\n  greylist:\n"
					   "    on_error: defer\n";
	struct fixture *f = *state;
	struct store_handle flaky_handle = { f->st }, gone = { NULL };
	struct pipeline_env env = { .hostname = "mx" };
	struct why why;
	struct cfg *cfg = cfg_parse("t.yaml", policy, strlen(policy), &why);
	struct cfg *cfgd = cfg_parse("t.yaml", policy_defer,
	    strlen(policy_defer), &why);
	const char *rule;

	env.store = &flaky_handle;

	/* A full disk: never a rejection; DUNNO by default, logged. */
	fail_next(f, 1, STORE_ERROR, "No space left on device");
	assert_string_equal(decide(f, cfg, &env, "I", "u@x", T0, &rule),
	    "DUNNO");
	assert_string_equal(rule, "greylist:error");
	assert_int_equal(env.store_rc, STORE_ERROR);
	assert_non_null(strstr(env.store_why, "No space left on device"));
	/* on_error: defer */
	fail_next(f, 1, STORE_ERROR, NULL);
	assert_non_null(strstr(decide(f, cfgd, &env, "I", "u@x", T0, NULL),
	    "DEFER_IF_PERMIT 4.3.0"));
	/* A store that is gone (closed after trouble). */
	env.store = &gone;
	assert_string_equal(decide(f, cfg, &env, "I", "u@x", T0, &rule),
	    "DUNNO");
	assert_string_equal(rule, "greylist:error");
	/* A lost deadlock is retried and the request is judged normally. */
	env.store = &flaky_handle;
	fail_next(f, 2, STORE_ERETRY, NULL);
	assert_non_null(strstr(decide(f, cfg, &env, "I", "u@x", T0, &rule),
	    "DEFER_IF_PERMIT 4.7.1"));
	assert_string_equal(rule, "greylist:new(wait=300s)");
	assert_int_equal(env.store_rc, 0);
	/* Three lost deadlocks in a row: an error, not a rejection. */
	fail_next(f, 3, STORE_ERETRY, NULL);
	assert_string_equal(decide(f, cfg, &env, "I", "u@x", T0, &rule),
	    "DUNNO");
	assert_int_equal(env.store_rc, STORE_ERETRY);
	/* The cause is gone: it works again, and nothing was lost. */
	assert_non_null(strstr(decide(f, cfg, &env, "I", "u@x", T0 + 10,
	    &rule), "DEFER_IF_PERMIT 4.7.1"));
	assert_string_equal(rule, "greylist:early(wait=290s)");
	msg_fini(&env.msg);
	cfg_unref(cfg);
	cfg_unref(cfgd);
}

static void
test_greylist_authenticated_and_other_stages_skip(void **state)
{
	static const char policy[] = "checks:\n  greylist: {}\n";
	struct fixture *f = *state;
	struct pipeline_env env = { .hostname = "mx" };
	const char *attrs[PA_COUNT] = { 0 };
	struct why why;
	struct cfg *cfg = cfg_parse("t.yaml", policy, strlen(policy), &why);
	struct store_handle h = { f->st };
	struct verdict v;
	struct req req;

	env.store = &h;
	attrs[PA_CLIENT_ADDRESS] = "192.0.2.1";
	attrs[PA_SENDER] = "a@b.example";
	attrs[PA_RECIPIENT] = "u@x.example";
	attrs[PA_SASL_USERNAME] = "alice";
	attrs[PA_PROTOCOL_STATE] = "RCPT";
	assert_int_equal(req_build(&req, f->a, attrs, &cfg->net, NULL), 0);
	pipeline_decide_now(f, cfg, &req, &env, &v);
	/* Named as our user's mail, not "default" (issue 24). */
	assert_string_equal(v.rule, "local:sasl");
	attrs[PA_SASL_USERNAME] = NULL;
	attrs[PA_PROTOCOL_STATE] = "DATA";
	assert_int_equal(req_build(&req, f->a, attrs, &cfg->net, NULL), 0);
	pipeline_decide_now(f, cfg, &req, &env, &v);
	assert_string_equal(v.rule, "default");
	msg_fini(&env.msg);
	cfg_unref(cfg);
}

/*
 * A store that answers later: an answer past the request's deadline is
 * store trouble (on_error), never a rejection; a client that leaves while
 * the store works cancels the operation, and nothing is called back.
 */
static void
test_greylist_store_later_deadline_and_client_gone(void **state)
{
	static const char policy[] = "deadline: 100ms\n"
				     "checks:\n  greylist: {}\n";
	struct fixture *f = *state;
	struct store *slow = store_open_mem(&f->loop, 300);
	struct store_handle h = { slow };
	struct pipeline_env env = { .hostname = "mx", .store = &h };
	const char *attrs[PA_COUNT] = { 0 };
	struct why why;
	struct cfg *cfg = cfg_parse("t.yaml", policy, strlen(policy), &why);
	struct decided d = { 0 };
	struct pipeline *p;
	struct verdict v;
	struct req req;
	uint64_t t0;

	if (cfg == NULL)
		fail_msg("%s", why.text);
	attrs[PA_CLIENT_ADDRESS] = "192.0.2.1";
	attrs[PA_SENDER] = "a@b.example";
	attrs[PA_RECIPIENT] = "u@x.example";
	attrs[PA_PROTOCOL_STATE] = "RCPT";
	assert_int_equal(req_build(&req, f->a, attrs, &cfg->net, NULL), 0);
	env.now = T0;
	t0 = uv_hrtime();
	pipeline_decide_now(f, cfg, &req, &env, &v);
	/* Answered at the deadline, not when the store would have. */
	assert_true((uv_hrtime() - t0) / 1000000 < 250);
	assert_string_equal(v.rule, "greylist:error");
	assert_string_equal(v.action, "DUNNO");
	assert_int_equal(env.store_rc, STORE_ETIMEOUT);
	/* The client leaves while the store works: no call, no effect. */
	h.st = f->st;
	assert_int_equal(pipeline_decide(&f->loop, cfg, NULL, &req, &env,
			     on_decided, &d, &p, &v), f->mem ? 0 : 1);
	if (f->mem) {
		pipeline_cancel(p);
		uv_run(&f->loop, UV_RUN_DEFAULT);
		assert_int_equal(d.calls, 0);
		assert_int_equal(check(f, "192.0.2.1", "a@b.example",
				     "u@x.example", T0, NULL), GL_NEW);
	}
	msg_fini(&env.msg);
	cfg_unref(cfg);
	slow->ops->close(slow);
	uv_run(&f->loop, UV_RUN_DEFAULT);
}

/*
 * The keys are made with copies now, not snprintf("%s%c%.*s%c%s"): the
 * same bytes and lengths as that format made, long parts cut where it
 * cut them (400 bytes of a sender), upper case folded.
 */
static void
test_greylist_keys_are_what_the_format_made(void **state)
{
	struct fixture *f = *state;
	static const char *const pools[] = { NULL, "fcrdns:Example.NET",
		"spf:a-very-long-pool-name-that-goes-on-and-on.example" };
	const char *attrs[PA_COUNT] = { 0 };
	struct req_opts o = { 24, 64 };
	char sender[700], rcpt[460], want[GL_KEY_MAX], norm[800];
	char net[GL_POOL_MAX];
	size_t i, j, k, n;
	struct gl_op op;
	struct req req;

	for (i = 0; i < 3; i++)
		for (j = 0; j < nitems(pools); j++) {
			size_t slen = i == 0 ? 5 : i == 1 ? 398 : 650;
			size_t rlen = i == 0 ? 3 : 440;

			memset(sender, 'S', slen);
			memcpy(sender + slen, "@Sender.example", 16);
			memset(rcpt, 'R', rlen);
			memcpy(rcpt + rlen, "@our.example", 13);
			attrs[PA_CLIENT_ADDRESS] = "192.0.2.77";
			attrs[PA_SENDER] = sender;
			attrs[PA_RECIPIENT] = rcpt;
			assert_int_equal(req_build(&req, f->a, attrs, &o, NULL),
			    0);
			assert_true(greylist_op(&f->c, &req, pools[j], T0, &op));
			greylist_norm_sender(&f->c, req.sender.full, norm,
			    sizeof(norm));
			if (pools[j] == NULL) {
				snprintf(net, sizeof(net), "192.0.2.0/24");
			} else {
				snprintf(net, sizeof(net), "%s", pools[j]);
				for (k = 0; net[k]; k++)
					net[k] = (char)tolower(
					    (unsigned char)net[k]);
			}
			/* (the recipient was copied into 401 bytes first) */
			n = (size_t)snprintf(want, sizeof(want),
			    "%s%c%.*s%c%.*s", net, '\0', 400, norm, '\0', 400,
			    req.rcpt.full) + 1;
			if (n > GL_KEY_MAX)
				n = GL_KEY_MAX;
			want[n - 1] = '\0';
			for (k = 0; k < n; k++)
				want[k] = (char)tolower((unsigned char)want[k]);
			assert_int_equal(op.klen[GL_REC_TRIPLET], n);
			assert_memory_equal(op.key[GL_REC_TRIPLET], want, n);
			n = (size_t)snprintf(want, sizeof(want), "%s%c%.*s",
			    net, '\0', 400, req.sender.domain) + 1;
			assert_int_equal(op.klen[GL_REC_DOMAIN], n);
			assert_memory_equal(op.key[GL_REC_DOMAIN], want, n);
		}
}

#define BOTH(t) \
	cmocka_unit_test_setup_teardown(t, setup_bdb, teardown), \
	cmocka_unit_test_setup_teardown(t, setup_mem, teardown)

/* ask - one RCPT request through the pipeline; attrs: pairs, NULL-ended */
static const char *
ask(struct fixture *f, struct cfg *cfg, struct pipeline_env *env, int64_t t,
    const char **rule, const char *const *attrs)
{
	const char *av[PA_COUNT] = { 0 };
	struct verdict v;
	struct req req;

	av[PA_PROTOCOL_STATE] = "RCPT";
	for (; attrs[0] != NULL; attrs += 2)
		av[proto_attr_lookup(attrs[0], strlen(attrs[0]))] = attrs[1];
	assert_int_equal(req_build(&req, f->a, av, &cfg->net, NULL), 0);
	env->now = t;
	pipeline_decide_now(f, cfg, &req, env, &v);
	if (rule)
		*rule = v.rule;
	return v.action;
}

/*
 * Our users' mail is recorded once accepted (logged in, or from
 * local_networks), but a "reply" from an address our user wrote to is
 * no correspondent's without an SPF pass for its domain (no spf check
 * runs here): anyone can forge that address. The reply that SPF proves
 * is tested with DNS in t/integration/dnsbl_test.c.
 *
 * Changed with the safety issue: this test asserted that such replies
 * skip greylisting with no SPF verdict at all.
 */
static void
test_greylist_reply_without_spf_pass_is_no_correspondent(void **state)
{
	static const char policy[] =
	    "local_networks: [10.0.0.0/8]\n"
	    "access:\n  - recipient: blocked@remote.example\n"
	    "    action: REJECT 5.7.1 not that one\n"
	    "checks:\n  greylist: { max_age: 10d }\n"
	    "  outbound: { local_domains: [Our.example] }\n";
	static const char *const alice_to_dave[] = { "client_address",
		"203.0.113.9", "sasl_username", "alice", "sender",
		"alice@our.example", "recipient", "dave@our.example", NULL };
	static const char *const dave_from_outside[] = { "client_address",
		"192.0.2.5", "sender", "dave@our.example", "recipient",
		"alice@our.example", NULL };
	static const char *const alice_out[] = { "client_address", "203.0.113.9",
		"sasl_username", "alice", "sender", "Alice@Our.example",
		"recipient", "bob@remote.example", NULL };
	static const char *const dave_out[] = { "client_address", "10.1.2.3",
		"sender", "dave@our.example", "recipient", "erin@remote.example",
		NULL };
	static const char *const blocked_out[] = { "client_address",
		"10.1.2.3", "sender", "dave@our.example", "recipient",
		"blocked@remote.example", NULL };
	static const char *const bob_reply[] = { "client_address",
		"192.0.2.1", "sender", "bob@remote.example", "recipient",
		"alice@our.example", NULL };
	static const char *const bob_to_dave[] = { "client_address",
		"192.0.2.1", "sender", "bob@remote.example", "recipient",
		"dave@our.example", NULL };
	static const char *const erin_reply[] = { "client_address",
		"192.0.2.2", "sender", "erin@remote.example", "recipient",
		"dave@our.example", NULL };
	static const char *const carol[] = { "client_address", "192.0.2.3",
		"sender", "carol@remote.example", "recipient",
		"alice@our.example", NULL };
	static const char *const blocked_reply[] = { "client_address",
		"192.0.2.4", "sender", "blocked@remote.example", "recipient",
		"dave@our.example", NULL };
	struct fixture *f = *state;
	struct pipeline_env env = { .hostname = "mx" };
	struct store_handle h = { f->st };
	struct why why;
	struct cfg *cfg = cfg_parse("t.yaml", policy, strlen(policy), &why);
	const char *rule;

	if (cfg == NULL)
		fail_msg("%s", why.text);
	env.store = &h;
	/* Our users' mail: accepted, recorded, never greylisted. */
	assert_string_equal(ask(f, cfg, &env, T0, &rule, alice_out), "DUNNO");
	assert_string_equal(rule, "local:sasl");
	assert_string_equal(ask(f, cfg, &env, T0, &rule, dave_out), "DUNNO");
	assert_string_equal(ask(f, cfg, &env, T0, &rule, blocked_out),
	    "REJECT 5.7.1 not that one");
	/* The replies wait like anyone's without SPF: a stranger, bob to
	 * another user, a recipient whose mail was refused. */
	assert_non_null(strstr(ask(f, cfg, &env, T0 + 60, &rule, bob_reply),
	    "DEFER_IF_PERMIT 4.7.1"));
	assert_string_equal(rule, "greylist:new(wait=300s)");
	assert_non_null(strstr(ask(f, cfg, &env, T0 + 60, &rule, erin_reply),
	    "DEFER_IF_PERMIT 4.7.1"));
	assert_non_null(strstr(ask(f, cfg, &env, T0 + 60, &rule, carol),
	    "DEFER_IF_PERMIT 4.7.1"));
	assert_string_equal(rule, "greylist:new(wait=300s)");
	assert_non_null(strstr(ask(f, cfg, &env, T0 + 60, &rule, bob_to_dave),
	    "DEFER_IF_PERMIT 4.7.1"));
	assert_non_null(strstr(ask(f, cfg, &env, T0 + 60, &rule,
	    blocked_reply), "DEFER_IF_PERMIT 4.7.1"));
	/* A local recipient is no correspondent: mail claiming to be
	 * dave's, from outside, to alice is greylisted. */
	assert_string_equal(ask(f, cfg, &env, T0 + 60, &rule, alice_to_dave),
	    "DUNNO");
	assert_non_null(strstr(ask(f, cfg, &env, T0 + 60, &rule,
	    dave_from_outside), "DEFER_IF_PERMIT 4.7.1"));
	/* Past max_age the reply waits like anyone's. */
	assert_non_null(strstr(ask(f, cfg, &env, T0 + 11 * 86400, &rule,
	    bob_reply), "DEFER_IF_PERMIT 4.7.1"));
	assert_int_equal(env.store_rc, 0);
	msg_fini(&env.msg);
	cfg_unref(cfg);
}

/* correspondents: false greylists the reply too */
static void
test_greylist_correspondents_off(void **state)
{
	static const char policy[] =
	    "checks:\n  greylist: { correspondents: false }\n"
	    "  outbound: { local_domains: [our.example] }\n";
	static const char *const out[] = { "client_address", "203.0.113.9",
		"sasl_username", "alice", "sender", "alice@our.example",
		"recipient", "bob@remote.example", NULL };
	static const char *const reply[] = { "client_address", "192.0.2.1",
		"sender", "bob@remote.example", "recipient",
		"alice@our.example", NULL };
	struct fixture *f = *state;
	struct pipeline_env env = { .hostname = "mx" };
	struct store_handle h = { f->st };
	struct why why;
	struct cfg *cfg = cfg_parse("t.yaml", policy, strlen(policy), &why);
	const char *rule;

	env.store = &h;
	assert_string_equal(ask(f, cfg, &env, T0, &rule, out), "DUNNO");
	assert_non_null(strstr(ask(f, cfg, &env, T0 + 60, &rule, reply),
	    "DEFER_IF_PERMIT 4.7.1"));
	msg_fini(&env.msg);
	cfg_unref(cfg);
}

/*
 * A per-recipient whitelist entry (the policy file's, or the store's):
 * greylisting and scores are bypassed for that recipient and sender; a
 * check that refuses on its own still refuses; other recipients and
 * senders are greylisted.
 */
static void
test_greylist_whitelist_bypasses_greylisting_and_scores(void **state)
{
	static const char policy[] =
	    "scores: { reject: 5 }\n"
	    "checks:\n  greylist: {}\n"
	    "  helo: { on_fail: { score: 6 } }\n"
	    "  whitelist:\n    require_spf: \"no\"\n"
	    "    entries:\n"
	    "      - { recipient: alice@our.example, sender: "
	    "\"@Partner.example\" }\n";
	static const char policy_reject[] =
	    "checks:\n  greylist: {}\n  helo: { on_fail: reject }\n"
	    "  whitelist:\n    require_spf: \"no\"\n"
	    "    entries:\n"
	    "      - { recipient: alice@our.example, sender: "
	    "\"@partner.example\" }\n";
	static const char *const partner[] = { "client_address", "192.0.2.1",
		"sender", "Bob@partner.example", "recipient",
		"Alice@our.example", NULL };
	static const char *const other_rcpt[] = { "client_address",
		"192.0.2.1", "sender", "bob@partner.example", "recipient",
		"carol@our.example", NULL };
	static const char *const stored[] = { "client_address", "192.0.2.1",
		"sender", "eve@friend.example", "recipient",
		"dave@our.example", NULL };
	struct fixture *f = *state;
	struct pipeline_env env = { .hostname = "mx" };
	struct store_handle h = { f->st };
	struct why why;
	struct cfg *cfg = cfg_parse("t.yaml", policy, strlen(policy), &why);
	struct cfg *cfgr = cfg_parse("t.yaml", policy_reject,
	    strlen(policy_reject), &why);
	struct store_waiter w;
	const char *rule;
	static const char key[] = "@our.example\0eve@friend.example";
	unsigned char val[8] = { 0 };
	struct store_rec rec = { key, sizeof(key) - 1, val, 8, 0, NULL };

	if (cfg == NULL || cfgr == NULL)
		fail_msg("%s", why.text);
	env.store = &h;
	/* No HELO: helo's 6 would refuse; the entry bypasses it all. */
	assert_string_equal(ask(f, cfg, &env, T0, &rule, partner), "DUNNO");
	assert_string_equal(rule,
	    "whitelist:alice@our.example<-@partner.example");
	assert_string_equal(ask(f, cfg, &env, T0, &rule, other_rcpt),
	    "550 5.7.1 Your server's HELO/EHLO is wrong (no HELO/EHLO name); "
	    "configure it to greet with its own fully qualified name, one "
	    "that resolves in DNS");
	/* A refusal of its own is no score: it still refuses. */
	assert_non_null(strstr(ask(f, cfgr, &env, T0, &rule, partner),
	    "550 5.7.1"));
	/* An entry in the store (as policyctl writes it): the next request. */
	assert_non_null(strstr(ask(f, cfgr, &env, T0, &rule, stored),
	    "550 5.7.1"));
	store_waiter_init(&w, &f->loop);
	assert_int_equal(store_wait(&w, f->st->ops->put(f->st, "whitelist",
	    &rec, 1, &w.call)), 0);
	assert_string_equal(ask(f, cfg, &env, T0, &rule, stored), "DUNNO");
	assert_string_equal(rule, "whitelist:@our.example<-eve@friend.example");
	msg_fini(&env.msg);
	cfg_unref(cfg);
	cfg_unref(cfgr);
}

/* bs - one request for the backscatter test: state, client, sender, rcpt */
static const char *
bs(struct fixture *f, struct cfg *cfg, struct pipeline_env *env, int64_t t,
    const char *state, const char *client, const char *sender,
    const char *rcpt, const char *count, const char **rule)
{
	const char *attrs[] = { "protocol_state", state, "client_address",
		client, "sender", sender, "recipient", rcpt,
		"recipient_count", count, NULL };

	if (count == NULL)
		attrs[8] = NULL;
	return ask(f, cfg, env, t, rule, attrs);
}

/* bounce - a bounce at DATA from client to rcpt in message inst */
static const char *
bounce(struct fixture *f, struct cfg *cfg, struct pipeline_env *env,
    int64_t t, const char *client, const char *rcpt, const char *inst,
    const char **rule)
{
	const char *attrs[] = { "protocol_state", "DATA", "client_address",
		client, "sender", "", "recipient", rcpt, "recipient_count", "1",
		"instance", inst, NULL };

	return ask(f, cfg, env, t, rule, attrs);
}

/*
 * history - our user alice sends at t, and the daemon's heartbeat has
 * recorded our users' mail without a gap since T0 (the outbound
 * module's, which needs the daemon's loop)
 */
static void
history(struct fixture *f, struct cfg *cfg, struct pipeline_env *env,
    int64_t t)
{
	static const char *const alice[] = { "client_address", "203.0.113.9",
		"sasl_username", "alice", "sender", "alice@our.example",
		"recipient", "bob@remote.example", NULL };
	struct outbound_cover c = { T0, t, t };
	unsigned char v[24];
	struct store_rec r = { OUTBOUND_COVER, sizeof(OUTBOUND_COVER) - 1, v,
		24, 0, NULL };
	struct store_waiter w;
	const char *rule;

	assert_string_equal(ask(f, cfg, env, t, &rule, alice), "DUNNO");
	outbound_cover_encode(&c, v);
	store_waiter_init(&w, &f->loop);
	assert_int_equal(store_wait(&w, f->st->ops->put(f->st, OUTBOUND_TABLE,
	    &r, 1, &w.call)), 0);
}

/*
 * live - the policy with the store, after a week and a day of our
 * users' history up to *t (T0 + 8 days): backscatter detection is live
 */
static struct cfg *
live(struct fixture *f, const char *policy, struct pipeline_env *env,
    struct store_handle *h, int64_t *t)
{
	struct why why;
	struct cfg *cfg = cfg_parse("t.yaml", policy, strlen(policy), &why);

	if (cfg == NULL)
		fail_msg("%s", why.text);
	env->store = h;
	history(f, cfg, env, T0);
	*t = T0 + 8 * 86400;
	history(f, cfg, env, *t);
	return cfg;
}

/*
 * Backscatter with a fake clock: nobody is blocked while the outbound
 * history is shorter than bounce_window; a bounce to a user who sent
 * mail passes; a probe at RCPT and a tagged recipient are no hits; one
 * bounce blocks nobody, nor do bounces to the same recipient again; the
 * third distinct recipient within a day blocks the client for 4 days:
 * its bounces are refused, its other mail deferred, but for
 * postmaster@; a shared platform's client only for bounces.
 *
 * Changed with the safety issue: the seed's rule (threshold 1, every
 * contact refused, a bounce to two recipients refused) refused innocent
 * mail for days; this test asserted it.
 */
static void
test_greylist_backscatter_block(void **state)
{
	static const char policy[] =
	    "checks:\n  outbound: { local_domains: [our.example] }\n"
	    "  backscatter:\n    contact: postmaster@our.example\n"
	    "    shared_platforms: [198.51.100.0/24]\n";
	struct fixture *f = *state;
	struct pipeline_env env = { .hostname = "mx" };
	struct store_handle h = { f->st };
	struct why why;
	struct cfg *cfg = cfg_parse("t.yaml", policy, strlen(policy), &why);
	const char *rule, *a;
	const char *bad = "192.0.2.66", *pool = "198.51.100.5";
	int64_t t = T0;

	if (cfg == NULL)
		fail_msg("%s", why.text);
	env.store = &h;
	/* A fresh store: no history, no hits. */
	assert_string_equal(bs(f, cfg, &env, t, "DATA", bad, "",
	    "nobody@our.example", "1", &rule), "DUNNO");
	history(f, cfg, &env, t);
	t += 8 * 86400; /* the history is a week and a day old */
	history(f, cfg, &env, t);
	/* A real bounce: alice sent mail lately. */
	assert_string_equal(bs(f, cfg, &env, t, "DATA", bad, "",
	    "alice@our.example", "1", &rule), "DUNNO");
	/* A sender-verification probe stops at RCPT: no hit. */
	assert_string_equal(bs(f, cfg, &env, t, "RCPT", bad, "",
	    "nobody@our.example", NULL, &rule), "DUNNO");
	/* Our own BATV tag: no hit. */
	assert_string_equal(bs(f, cfg, &env, t, "DATA", bad, "",
	    "prvs=0123abcd=nobody@our.example", "1", &rule), "DUNNO");
	/* One bounce, and the same recipient again: one hit, no block. */
	assert_string_equal(bounce(f, cfg, &env, t, bad, "nobody@our.example",
	    "m.1", &rule), "DUNNO");
	assert_string_equal(bounce(f, cfg, &env, t + 60, bad,
	    "Nobody@our.example", "m.2", &rule), "DUNNO");
	assert_string_equal(bounce(f, cfg, &env, t + 120, bad,
	    "nobody2@our.example", "m.3", &rule), "DUNNO");
	assert_string_equal(bs(f, cfg, &env, t + 120, "RCPT", bad,
	    "a@x.example", "alice@our.example", NULL, &rule), "DUNNO");
	/* The third distinct recipient within hit_window: blocked, and
	 * the bounce that made the block is refused. The metrics' count of
	 * blocks hears of it (it walks the table only hourly). */
	bs_blocks_reset();
	assert_int_equal(bs_blocks_count(t + 180), 0);
	a = bounce(f, cfg, &env, t + 180, bad, "nobody3@our.example", "m.4",
	    &rule);
	assert_int_equal(bs_blocks_count(t + 180), 1);
	bs_blocks_reset();
	assert_non_null(strstr(a, "554 5.7.1 Service unavailable; client "
	    "192.0.2.66 is blocked since 2023-11-22 22:16 UTC until "
	    "2023-11-26 22:16 UTC because it sent us bounces for mail we "
	    "never sent (backscatter)"));
	assert_non_null(strstr(a, "contact postmaster@our.example"));
	assert_string_equal(rule, "backscatter:blocked(hits=4)");
	/* Its bounces are refused, its other mail deferred: a real message
	 * waits in its queue for the block's end, postmaster@ gets all. */
	assert_non_null(strstr(bs(f, cfg, &env, t + 240, "RCPT", bad, "",
	    "alice@our.example", NULL, &rule), "554 5.7.1"));
	a = bs(f, cfg, &env, t + 240, "RCPT", bad, "a@x.example",
	    "alice@our.example", NULL, &rule);
	assert_non_null(strstr(a, "450 4.7.1 Service temporarily unavailable; "
	    "client 192.0.2.66 is blocked until 2023-11-26 22:16 UTC"));
	assert_non_null(strstr(a, "not a bounce"));
	assert_string_equal(rule, "backscatter:deferred(hits=4)");
	assert_string_equal(bs(f, cfg, &env, t + 240, "RCPT", bad,
	    "a@x.example", "postmaster@our.example", NULL, &rule), "DUNNO");
	assert_string_equal(bs(f, cfg, &env, t + 240, "RCPT", bad, "",
	    "postmaster@our.example", NULL, &rule), "DUNNO");
	/* Nobody is judged before RCPT. */
	assert_string_equal(bs(f, cfg, &env, t + 240, "CONNECT", bad, NULL,
	    NULL, NULL, &rule), "DUNNO");
	/* Four days later it is over. */
	assert_string_equal(bs(f, cfg, &env, t + 4 * 86400 + 181, "RCPT", bad,
	    "a@x.example", "alice@our.example", NULL, &rule), "DUNNO");
	/* A shared platform's address: only its bounces are refused. */
	bounce(f, cfg, &env, t, pool, "n1@our.example", "p.1", &rule);
	bounce(f, cfg, &env, t, pool, "n2@our.example", "p.2", &rule);
	assert_non_null(strstr(bounce(f, cfg, &env, t, pool,
	    "n3@our.example", "p.3", &rule), "554 5.7.1"));
	assert_string_equal(bs(f, cfg, &env, t + 60, "RCPT", pool,
	    "a@x.example", "alice@our.example", NULL, &rule), "DUNNO");
	assert_non_null(strstr(bs(f, cfg, &env, t + 60, "RCPT", pool, "",
	    "alice@our.example", NULL, &rule), "554 5.7.1"));
	/* At END-OF-MESSAGE too; a verified name of a shared platform
	 * (a suffix of shared_platform_names) is blocked for bounces only. */
	{
		const char *attrs[] = { "protocol_state", "END-OF-MESSAGE",
			"client_address", "203.0.113.77", "client_name",
			"mail-x.outbound.protection.outlook.com", "sender", "",
			"recipient", NULL, "recipient_count", "1",
			"instance", NULL, NULL };
		const char *later[] = { "protocol_state", "RCPT",
			"client_address", "203.0.113.77", "client_name",
			"mail-x.outbound.protection.outlook.com", "sender",
			"a@x.example", "recipient", "alice@our.example", NULL };
		static const char *const who[] = { "o1@our.example",
			"o2@our.example", "o3@our.example" };
		unsigned i;

		for (i = 0; i < 3; i++) {
			attrs[9] = who[i];
			attrs[13] = who[i];
			a = ask(f, cfg, &env, t, &rule, attrs);
		}
		assert_non_null(strstr(a, "554 5.7.1 Service unavailable; "
		    "client 203.0.113.77 is blocked"));
		assert_string_equal(ask(f, cfg, &env, t + 60, &rule, later),
		    "DUNNO");
	}
	assert_int_equal(env.store_rc, 0);
	msg_fini(&env.msg);
	cfg_unref(cfg);
}

/*
 * One vacation reply (RFC 3834: the null sender) or one DSN for mail a
 * stranger forged with our user's address must not block the server
 * that sent it: it is one recipient, and hits more than hit_window
 * apart do not add up.
 */
static void
test_backscatter_one_vacation_reply_blocks_nobody(void **state)
{
	static const char policy[] = "checks:\n"
	    "  outbound: { local_domains: [our.example] }\n"
	    "  backscatter: {}\n";
	struct fixture *f = *state;
	struct pipeline_env env = { .hostname = "mx" };
	struct store_handle h = { f->st };
	const char *rule, *mx = "192.0.2.80";
	int64_t t;
	struct cfg *cfg = live(f, policy, &env, &h, &t);

	/* The vacation reply to carol, who sent nothing lately. */
	assert_string_equal(bounce(f, cfg, &env, t, mx, "carol@our.example",
	    "v.1", &rule), "DUNNO");
	/* The server's own mail, now and later: never refused for it. */
	assert_string_equal(bs(f, cfg, &env, t + 60, "RCPT", mx,
	    "friend@remote.example", "carol@our.example", NULL, &rule),
	    "DUNNO");
	/* Two more, each more than a day after the one before. */
	assert_string_equal(bounce(f, cfg, &env, t + 86400 + 10, mx,
	    "dave@our.example", "v.2", &rule), "DUNNO");
	assert_string_equal(bounce(f, cfg, &env, t + 2 * 86400 + 20, mx,
	    "erin@our.example", "v.3", &rule), "DUNNO");
	assert_string_equal(bs(f, cfg, &env, t + 2 * 86400 + 30, "RCPT", mx,
	    "", "frank@our.example", NULL, &rule), "DUNNO");
	assert_int_equal(env.store_rc, 0);
	msg_fini(&env.msg);
	cfg_unref(cfg);
}

/*
 * Our own relays are never blocked, whatever they relay: our secondary
 * MX and forwarders (named under spf, whether or not spf runs), our
 * local networks, and never_block; even with the seed's threshold of 1.
 */
static void
test_backscatter_our_secondary_mx_is_never_blocked(void **state)
{
	static const char policy[] =
	    "local_networks: [10.0.0.0/8]\n"
	    "checks:\n  outbound: { local_domains: [our.example] }\n"
	    "  spf: { enabled: false, secondary_mx: [198.51.100.25], "
	    "forwarders: [203.0.113.0/24] }\n"
	    "  backscatter: { threshold: 1, never_block: [192.0.2.128/25] }\n";
	static const char *const relays[] = { "198.51.100.25", "203.0.113.40",
		"10.1.2.3", "192.0.2.200" };
	struct fixture *f = *state;
	struct pipeline_env env = { .hostname = "mx" };
	struct store_handle h = { f->st };
	const char *rule;
	char inst[16];
	int64_t t;
	unsigned i;
	struct cfg *cfg = live(f, policy, &env, &h, &t);

	for (i = 0; i < nitems(relays); i++) {
		snprintf(inst, sizeof(inst), "r.%u", i);
		assert_string_equal(bounce(f, cfg, &env, t, relays[i],
		    "nobody@our.example", inst, &rule), "DUNNO");
		assert_string_equal(bs(f, cfg, &env, t + 60, "RCPT",
		    relays[i], "", "alice@our.example", NULL, &rule),
		    "DUNNO");
	}
	/* Anyone else: threshold 1 blocks at the first hit. */
	assert_non_null(strstr(bounce(f, cfg, &env, t, "192.0.2.9",
	    "nobody@our.example", "r.9", &rule), "554 5.7.1"));
	assert_int_equal(env.store_rc, 0);
	msg_fini(&env.msg);
	cfg_unref(cfg);
}

/*
 * A bounce to several recipients (a remote alias that forwards one DSN
 * to two of ours) is never refused for being one: each recipient its
 * RCPT named is judged at DATA. A blocked client's bounce still reaches
 * postmaster@ and abuse@ together.
 */
static void
test_backscatter_bounce_to_two_recipients_is_not_refused(void **state)
{
	static const char policy[] = "checks:\n"
	    "  outbound: { local_domains: [our.example] }\n"
				     "  backscatter: {}\n";
	struct fixture *f = *state;
	struct pipeline_env env = { .hostname = "mx" };
	struct store_handle h = { f->st };
	struct why why;
	struct cfg *cfg = cfg_parse("t.yaml", policy, strlen(policy), &why);
	const char *rule, *bad = "192.0.2.70";
	int64_t t = T0;
	const char *rcpt[] = { "protocol_state", "RCPT", "client_address",
		NULL, "sender", "", "recipient", NULL, "instance", NULL, NULL };
	const char *data[] = { "protocol_state", "DATA", "client_address",
		NULL, "sender", "", "recipient_count", NULL, "instance", NULL,
		NULL };

	if (cfg == NULL)
		fail_msg("%s", why.text);
	env.store = &h;
	/* During warm-up: a bounce to two passes. */
	rcpt[3] = data[3] = bad;
	rcpt[9] = data[9] = "w.1";
	rcpt[7] = "a@our.example";
	assert_string_equal(ask(f, cfg, &env, t, &rule, rcpt), "DUNNO");
	rcpt[7] = "postmaster@our.example";
	assert_string_equal(ask(f, cfg, &env, t, &rule, rcpt), "DUNNO");
	data[7] = "2";
	assert_string_equal(ask(f, cfg, &env, t, &rule, data), "DUNNO");
	history(f, cfg, &env, t);
	t += 8 * 86400;
	history(f, cfg, &env, t);
	/* Live: two recipients of one bounce are two hits, not a refusal;
	 * a third recipient in another makes the block. */
	rcpt[9] = data[9] = "m.1";
	rcpt[7] = "a@our.example";
	assert_string_equal(ask(f, cfg, &env, t, &rule, rcpt), "DUNNO");
	rcpt[7] = "b@our.example";
	assert_string_equal(ask(f, cfg, &env, t, &rule, rcpt), "DUNNO");
	assert_string_equal(ask(f, cfg, &env, t, &rule, data), "DUNNO");
	/* A count that the RCPTs do not add up to: nobody is judged. */
	rcpt[9] = data[9] = "m.2";
	rcpt[7] = "c@our.example";
	assert_string_equal(ask(f, cfg, &env, t, &rule, rcpt), "DUNNO");
	data[7] = "3";
	assert_string_equal(ask(f, cfg, &env, t, &rule, data), "DUNNO");
	assert_string_equal(bs(f, cfg, &env, t, "RCPT", bad, "x@y.example",
	    "alice@our.example", NULL, &rule), "DUNNO");
	assert_non_null(strstr(bounce(f, cfg, &env, t, bad, "c@our.example",
	    "m.3", &rule), "554 5.7.1"));
	/* Blocked: postmaster@ and abuse@ get its bounce, at DATA too. */
	rcpt[9] = data[9] = "m.4";
	rcpt[7] = "alice@our.example";
	assert_non_null(strstr(ask(f, cfg, &env, t + 60, &rule, rcpt),
	    "554 5.7.1"));
	rcpt[7] = "postmaster@our.example";
	assert_string_equal(ask(f, cfg, &env, t + 60, &rule, rcpt), "DUNNO");
	rcpt[7] = "abuse@our.example";
	assert_string_equal(ask(f, cfg, &env, t + 60, &rule, rcpt), "DUNNO");
	data[7] = "2";
	assert_string_equal(ask(f, cfg, &env, t + 60, &rule, data), "DUNNO");
	assert_int_equal(env.store_rc, 0);
	msg_fini(&env.msg);
	cfg_unref(cfg);
}

/*
 * scope: all and threshold: 1 keep the seed's literal rule for a site
 * that wants it: one hit blocks, and every contact is refused.
 */
static void
test_backscatter_scope_all_refuses_everything(void **state)
{
	static const char policy[] =
	    "checks:\n  outbound: { local_domains: [our.example] }\n"
	    "  backscatter: { threshold: 1, scope: all }\n";
	struct fixture *f = *state;
	struct pipeline_env env = { .hostname = "mx" };
	struct store_handle h = { f->st };
	const char *rule, *bad = "192.0.2.90";
	int64_t t;
	struct cfg *cfg = live(f, policy, &env, &h, &t);

	assert_non_null(strstr(bounce(f, cfg, &env, t, bad,
	    "nobody@our.example", "a.1", &rule), "554 5.7.1"));
	assert_non_null(strstr(bs(f, cfg, &env, t + 60, "CONNECT", bad, NULL,
	    NULL, NULL, &rule), "554 5.7.1"));
	assert_non_null(strstr(bs(f, cfg, &env, t + 60, "RCPT", bad,
	    "a@x.example", "alice@our.example", NULL, &rule), "554 5.7.1"));
	assert_string_equal(rule, "backscatter:blocked(hits=1)");
	assert_string_equal(bs(f, cfg, &env, t + 60, "RCPT", bad,
	    "a@x.example", "postmaster@our.example", NULL, &rule), "DUNNO");
	msg_fini(&env.msg);
	cfg_unref(cfg);
}

/* missing - the metric of DATA requests missing, as the file shows it */
static int
missing(void)
{
	struct mtext t = { 0 };
	const char *p;
	int v = -1;

	pipeline_metrics(&t);
	if (t.p != NULL && (p = strstr(t.p,
	    "\npolicyd_backscatter_data_requests_missing ")) != NULL)
		v = atoi(p + strlen("\npolicyd_backscatter_data_requests_"
		    "missing "));
	mt_free(&t);
	return v;
}

/*
 * Our users' mail that never passes policyd (permit_mynetworks or
 * permit_sasl_authenticated before check_policy_service) leaves no
 * outbound record: every bounce would look like backscatter. With no
 * mail of theirs recorded within bounce_window, nobody is blocked.
 */
static void
test_backscatter_blocks_nobody_when_our_users_mail_never_passes_policyd(
    void **state)
{
	static const char policy[] = "checks:\n"
	    "  outbound: { local_domains: [our.example] }\n"
				     "  backscatter: { threshold: 1 }\n";
	struct fixture *f = *state;
	struct pipeline_env env = { .hostname = "mx" };
	struct store_handle h = { f->st };
	struct why why;
	struct cfg *cfg = cfg_parse("t.yaml", policy, strlen(policy), &why);
	struct outbound_cover c = { T0, T0 + 8 * 86400, 0 };
	unsigned char v[24];
	struct store_rec r = { OUTBOUND_COVER, sizeof(OUTBOUND_COVER) - 1, v,
		24, 0, NULL };
	struct store_waiter w;
	const char *rule;
	int64_t t = T0 + 8 * 86400;

	if (cfg == NULL)
		fail_msg("%s", why.text);
	env.store = &h;
	/* The daemon ran for 8 days; not one mail of our users came. */
	outbound_cover_encode(&c, v);
	store_waiter_init(&w, &f->loop);
	assert_int_equal(store_wait(&w, f->st->ops->put(f->st, OUTBOUND_TABLE,
	    &r, 1, &w.call)), 0);
	assert_string_equal(bounce(f, cfg, &env, t, "192.0.2.40",
	    "alice@our.example", "u.1", &rule), "DUNNO");
	assert_string_equal(bounce(f, cfg, &env, t, "192.0.2.40",
	    "bob@our.example", "u.2", &rule), "DUNNO");
	/* One mail of theirs recorded: now a bounce can be judged. */
	history(f, cfg, &env, t);
	assert_non_null(strstr(bounce(f, cfg, &env, t, "192.0.2.40",
	    "carol@our.example", "u.3", &rule), "554 5.7.1"));
	msg_fini(&env.msg);
	cfg_unref(cfg);
}

/*
 * Bounces are judged at DATA: RCPT requests for an hour and not one at
 * DATA (smtpd_data_restrictions does not ask) mean no backscatter is
 * ever detected: a warning once, and a metric until DATA requests come.
 */
static void
test_backscatter_says_when_postfix_never_asks_at_data(void **state)
{
	static const char policy[] = "checks:\n  backscatter: {}\n";
	struct fixture *f = *state;
	struct pipeline_env env = { .hostname = "mx" };
	struct store_handle h = { f->st };
	struct why why;
	struct cfg *cfg = cfg_parse("t.yaml", policy, strlen(policy), &why);
	const char *rule;

	if (cfg == NULL)
		fail_msg("%s", why.text);
	env.store = &h;
	pipeline_init(&(struct chk_ctx){ .loop = &f->loop, .store = &h });
	pipeline_configure(cfg);
	assert_int_equal(missing(), 0);
	bs(f, cfg, &env, T0, "RCPT", "192.0.2.1", "a@x.example",
	    "u@our.example", NULL, &rule);
	bs(f, cfg, &env, T0 + 1800, "RCPT", "192.0.2.1", "a@x.example",
	    "u@our.example", NULL, &rule);
	assert_int_equal(missing(), 0);
	bs(f, cfg, &env, T0 + 3600, "RCPT", "192.0.2.1", "a@x.example",
	    "u@our.example", NULL, &rule);
	assert_int_equal(missing(), 1);
	/* Postfix asks at DATA now. */
	bs(f, cfg, &env, T0 + 3700, "DATA", "192.0.2.1", "a@x.example",
	    "u@our.example", "1", &rule);
	assert_int_equal(missing(), 0);
	bs(f, cfg, &env, T0 + 3800, "RCPT", "192.0.2.1", "a@x.example",
	    "u@our.example", NULL, &rule);
	assert_int_equal(missing(), 0);
	pipeline_fini();
	msg_fini(&env.msg);
	cfg_unref(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_greylist_first_sight_early_retry_pass),
		BOTH(test_greylist_retry_after_window_starts_over),
		BOTH(test_greylist_deleted_triplet_is_new_again),
		BOTH(test_greylist_triplet_found_after_a_look_before_its_first_sight),
		BOTH(test_greylist_retry_within_a_minute_is_not_rewritten),
		cmocka_unit_test_setup_teardown(
		    test_greylist_read_only_judgement_writes_no_log, setup_bdb,
		    teardown),
		BOTH(test_greylist_expiry),
		BOTH(test_greylist_awl_clients),
		BOTH(test_greylist_awl_entry_written_once_a_minute),
		BOTH(test_greylist_awl_domains),
		BOTH(test_greylist_pool),
		BOTH(test_greylist_pool_miss_carries_the_network_entry_over),
		BOTH(test_greylist_ipv6_64),
		BOTH(test_greylist_skips_without_client_or_recipient),
		BOTH(test_greylist_sender_normalization),
		BOTH(test_greylist_keys_are_what_the_format_made),
		BOTH(test_greylist_decision_and_header_once),
		BOTH(test_greylist_store_trouble),
		BOTH(test_greylist_authenticated_and_other_stages_skip),
		BOTH(test_greylist_store_later_deadline_and_client_gone),
		BOTH(test_greylist_reply_without_spf_pass_is_no_correspondent),
		BOTH(test_greylist_correspondents_off),
		BOTH(test_greylist_whitelist_bypasses_greylisting_and_scores),
		BOTH(test_greylist_backscatter_block),
		BOTH(test_backscatter_one_vacation_reply_blocks_nobody),
		BOTH(test_backscatter_our_secondary_mx_is_never_blocked),
		BOTH(test_backscatter_bounce_to_two_recipients_is_not_refused),
		BOTH(test_backscatter_scope_all_refuses_everything),
		BOTH(test_backscatter_says_when_postfix_never_asks_at_data),
		BOTH(
		    test_backscatter_blocks_nobody_when_our_users_mail_never_passes_policyd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
