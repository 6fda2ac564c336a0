/*
 * arena - bump allocator in chained blocks; one free per lifetime.
 */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

#define ARENA_BLOCK 4096
#define ARENA_ALIGN 16

struct arena_block {
	struct arena_block *next;
	size_t size; /* usable bytes after the header */
	size_t used;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena {
	struct arena_block *head; /* newest block; the first one is last */
	unsigned refs;
};

/*
 * Blocks let go (arena_reset, arena_free), kept per thread for the next
 * request: each request needs about the same room past its arena's first
 * block, and without them every request allocated and freed the same
 * blocks (three malloc() calls per greylisting request). At most
 * POOL_MAX bytes per thread, whatever the number of connections.
 */
#define POOL_MAX (256 * 1024)
static __thread struct arena_block *pool;
static __thread size_t pool_bytes;

/* block_put - a block let go: into the pool if it has room, else freed */
static void
block_put(struct arena_block *b)
{
	if (pool_bytes + b->size > POOL_MAX) {
		free(b);
		return;
	}
	b->next = pool;
	pool = b;
	pool_bytes += b->size;
}

/* block_new - a block with at least size usable bytes */
static struct arena_block *
block_new(size_t size)
{
	struct arena_block *b;

	if (size < ARENA_BLOCK)
		size = ARENA_BLOCK;
	if (size > SIZE_MAX - sizeof(*b))
		PD_PANIC("arena block of %zu bytes", size);
	{
		struct arena_block **pp;

		for (pp = &pool; *pp != NULL; pp = &(*pp)->next)
			if ((*pp)->size >= size) {
				b = *pp;
				*pp = b->next;
				pool_bytes -= b->size;
				b->next = NULL;
				b->used = 0;
				return b;
			}
	}
	b = xmalloc(sizeof(*b) + size);
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

/* arena_new - an empty arena with one block */
struct arena *
arena_new(void)
{
	struct arena *a = xmalloc(sizeof(*a));

	a->head = block_new(ARENA_BLOCK);
	a->refs = 1;
	return a;
}

/* arena_ref - one more holder */
struct arena *
arena_ref(struct arena *a)
{
	a->refs++;
	return a;
}

/* arena_shared - held by more than one */
int
arena_shared(const struct arena *a)
{
	return a->refs > 1;
}

/* arena_free - release everything */
void
arena_free(struct arena *a)
{
	struct arena_block *b, *next;

	if (a == NULL || --a->refs > 0)
		return;
	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		block_put(b);
	}
	free(a);
}

/* arena_reset - empty the oldest block; the others go to the pool */
void
arena_reset(struct arena *a)
{
	struct arena_block *b = a->head;

	if (a->refs > 1)
		PD_PANIC("arena_reset of an arena another holds");
	while (b->next != NULL) {
		struct arena_block *next = b->next;

		block_put(b);
		b = next;
	}
	b->used = 0;
	a->head = b;
}

/* arena_alloc - size bytes, aligned for any type */
void *
arena_alloc(struct arena *a, size_t size)
{
	struct arena_block *b = a->head;
	size_t need;
	void *p;

	if (size > SIZE_MAX - ARENA_ALIGN)
		PD_PANIC("arena allocation of %zu bytes", size);
	need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (need == 0)
		need = ARENA_ALIGN;
	if (b->size - b->used < need) {
		struct arena_block *nb = block_new(need);

		nb->next = b;
		a->head = nb;
		b = nb;
	}
	p = b->data + b->used;
	b->used += need;
	return p;
}

/* arena_strndup - copy at most n bytes of s */
char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = arena_alloc(a, len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* arena_strdup - copy s */
char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_cat(struct arena *a, ...)
{
	size_t len = 0, n;
	const char *s;
	va_list ap;
	char *p, *o;

	va_start(ap, a);
	while ((s = va_arg(ap, const char *)) != NULL)
		len += strlen(s);
	va_end(ap);
	p = o = arena_alloc(a, len + 1);
	va_start(ap, a);
	while ((s = va_arg(ap, const char *)) != NULL) {
		n = strlen(s);
		memcpy(o, s, n);
		o += n;
	}
	va_end(ap);
	*o = '\0';
	return p;
}

char *
arena_num(struct arena *a, long long v)
{
	char b[TEXT_NUM];

	return arena_strdup(a, text_num(b, v));
}

/*
 * plain - fmt with no conversion but %s and %%: those are copied (a
 * check's reason, "HELO %s resolves to %s", is made for every check of
 * every request, and vsnprintf costs a thousand instructions a string).
 * NULL for any other format, ap untouched. A NULL string is "(null)", as
 * glibc prints it.
 */
static char *
plain(struct arena *a, const char *fmt, va_list ap)
{
	const char *f, *q, *s;
	size_t len = 0, n;
	va_list aq;
	char *p, *o;

	/* Only %s and %%: from one % to the next, not a byte at a time. */
	for (f = fmt; (f = strchr(f, '%')) != NULL; f += 2)
		if (f[1] != 's' && f[1] != '%')
			return NULL;
	va_copy(aq, ap);
	for (f = fmt;; f = q + 2) {
		if ((q = strchr(f, '%')) == NULL) {
			len += strlen(f);
			break;
		}
		len += (size_t)(q - f);
		if (q[1] == '%')
			len++;
		else
			len += strlen((s = va_arg(aq, const char *)) ? s
			    : "(null)");
	}
	va_end(aq);
	p = o = arena_alloc(a, len + 1);
	for (f = fmt;; f = q + 2) {
		if ((q = strchr(f, '%')) == NULL) {
			n = strlen(f);
			memcpy(o, f, n);
			o += n;
			break;
		}
		memcpy(o, f, (size_t)(q - f));
		o += q - f;
		if (q[1] == '%') {
			*o++ = '%';
			continue;
		}
		if ((s = va_arg(ap, const char *)) == NULL)
			s = "(null)";
		n = strlen(s);
		memcpy(o, s, n);
		o += n;
	}
	*o = '\0';
	return p;
}

/* arena_vprintf - formatted string in the arena */
char *
arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	struct arena_block *b = a->head;
	size_t room = b->size - b->used;
	va_list again;
	int len;
	char *p;

	if ((p = plain(a, fmt, ap)) != NULL)
		return p;

	/*
	 * Format once, straight into the block's free space; only when it
	 * does not fit, again into a new allocation. (The arguments live in
	 * used space or elsewhere, never in the free space written here.)
	 */
	va_copy(again, ap);
	len = vsnprintf((char *)b->data + b->used, room, fmt, ap);
	if (len < 0)
		PD_PANIC("bad format %s", fmt);
	if ((size_t)len < room) {
		p = (char *)b->data + b->used;
		/* size and used are multiples of ARENA_ALIGN: this fits. */
		b->used += ((size_t)len + ARENA_ALIGN) & ~(size_t)(ARENA_ALIGN -
		    1);
		va_end(again);
		return p;
	}
	p = arena_alloc(a, (size_t)len + 1);
	vsnprintf(p, (size_t)len + 1, fmt, again);
	va_end(again);
	return p;
}

/* arena_printf - a formatted string */
char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}
