/*
 * arena - memory by lifetime: everything that belongs to one request comes
 * from its arena and is freed in one call after the reply is written
 * (Unbound's regional). Allocation never fails (it aborts, as xmalloc).
 */
#ifndef POLICYD_ARENA_H
#define POLICYD_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

struct arena *arena_new(void);
/* arena_free - release the arena and all it gave out; NULL is fine */
void arena_free(struct arena *a);
/* arena_reset - release all allocations but keep the first block */
void arena_reset(struct arena *a);
void *arena_alloc(struct arena *a, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
