/*
 * arena - memory by lifetime: everything that belongs to one request comes
 * from its arena and is freed in one call after the reply is written
 * (Unbound's regional). Allocation never fails (it aborts, as xmalloc).
 * An arena is reference-counted: whoever keeps a request beyond the call
 * that handed it over (the pipeline, until its last stage is done) takes a
 * reference, so the connection can go on with its next request.
 */
#ifndef POLICYD_ARENA_H
#define POLICYD_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

struct arena *arena_new(void);
/* arena_free - drop a reference; the last one releases it all; NULL ok */
void arena_free(struct arena *a);
/* arena_ref - one more reference (arena_free drops it); returns a */
struct arena *arena_ref(struct arena *a);
/* arena_shared - someone else holds a reference too */
int arena_shared(const struct arena *a);
/* arena_reset - release all allocations but keep the first block; only
 * for an arena nobody else holds */
void arena_reset(struct arena *a);
void *arena_alloc(struct arena *a, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* arena_cat - the strings up to the NULL, one after the other (what
 * arena_printf("%s%s...") makes, without the cost of a format on the
 * request path) */
char *arena_cat(struct arena *a, ...) __attribute__((sentinel));
/* arena_num - v in decimal */
char *arena_num(struct arena *a, long long v);
char *arena_printf(struct arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
