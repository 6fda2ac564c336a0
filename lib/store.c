/*
 * store - what every backend shares: the handle requests hold, table
 * names, waiting for an operation, error names, and the big-endian codec
 * of records.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/* store_get - the store behind the handle now */
struct store *
store_get(const struct store_handle *h)
{
	return h != NULL ? h->st : NULL;
}

/* store_table_ok - [a-z0-9_], 1 to STORE_TABLE_MAX bytes */
bool
store_table_ok(const char *table)
{
	size_t n = strspn(table, "abcdefghijklmnopqrstuvwxyz0123456789_");

	return n > 0 && n <= STORE_TABLE_MAX && table[n] == '\0';
}

/* sync_done - store_done_fn of a waiting caller */
static void
sync_done(void *arg, const struct store_reply *r)
{
	struct store_waiter *s = arg;

	s->reply = *r;
	s->op = NULL;
	s->done = true;
}

/* store_settle - at once: done() now; later: done() then */
void
store_settle(const struct store_call *c, int rc)
{
	if (rc == 0)
		return;
	if (rc < 0)
		c->out->rc = rc;
	c->done(c->arg, c->out);
}

/* store_waiter_init - a call that lands in s */
void
store_waiter_init(struct store_waiter *s, uv_loop_t *loop)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->call.done = sync_done;
	s->call.arg = s;
	s->call.op = &s->op;
	s->call.out = &s->reply;
}

/* store_wait - the operation's outcome, waiting for it if need be */
int
store_wait(struct store_waiter *s, int rc)
{
	if (rc != 0)
		return rc < 0 ? rc : s->reply.rc;
	if (s->loop == NULL)
		PD_PANIC("store_wait: an operation is under way, but there is "
			 "no loop to wait on");
	while (!s->done)
		uv_run(s->loop, UV_RUN_ONCE);
	s->done = false;
	return s->reply.rc;
}

/* store_each - a whole table in batches: rows, or deletions */
int
store_each(struct store *st, uv_loop_t *loop, const char *table,
    size_t batch, store_match_fn *match, store_row_fn *row, void *arg,
    uint64_t *n, struct why *why)
{
	struct store_cursor cur;

	memset(&cur, 0, sizeof(cur));
	do {
		struct store_waiter w;
		int rc;

		store_waiter_init(&w, loop);
		rc = row != NULL
		    ? st->ops->list(st, table, &cur, batch, match, row, arg,
			&w.call)
		    : st->ops->flush(st, table, &cur, batch, match, arg,
			&w.call);
		if ((rc = store_wait(&w, rc)) < 0) {
			why_set(why, "%s", w.reply.why.text);
			return rc;
		}
		if (n != NULL)
			*n += w.reply.n;
		cur = w.reply.next;
	} while (!cur.end);
	return 0;
}

/* store_error_name - a word for an error code */
const char *
store_error_name(int rc)
{
	switch (rc) {
	case 0:
		return "ok";
	case STORE_NOTFOUND:
		return "not found";
	case STORE_ERETRY:
		return "busy";
	case STORE_EFATAL:
		return "fatal";
	case STORE_ESCHEMA:
		return "schema";
	case STORE_EFULL:
		return "full";
	case STORE_ETIMEOUT:
		return "timeout";
	case STORE_ELOCKED:
		return "locked";
	default:
		return "error";
	}
}

/* store_put_u32 - four bytes, big-endian */
void
store_put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* store_put_u64 - eight bytes, big-endian */
void
store_put_u64(unsigned char *p, uint64_t v)
{
	store_put_u32(p, (uint32_t)(v >> 32));
	store_put_u32(p + 4, (uint32_t)v);
}

/* store_get_u32 - four bytes, big-endian */
uint32_t
store_get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* store_get_u64 - eight bytes, big-endian */
uint64_t
store_get_u64(const unsigned char *p)
{
	return (uint64_t)store_get_u32(p) << 32 | store_get_u32(p + 4);
}
