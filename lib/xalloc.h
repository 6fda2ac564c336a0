/*
 * xalloc - allocation that succeeds or aborts (Postfix mymalloc), and the
 * "why" buffer that carries one human-readable error line to the caller.
 * State that matters is transactional, so an abort on exhaustion loses
 * nothing; every size that comes from input is bounded before it gets here.
 */
#ifndef POLICYD_XALLOC_H
#define POLICYD_XALLOC_H

#include <stdbool.h>
#include <stddef.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
/* xreallocarray - grow an array of n elements of size bytes, checked */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* One line of explanation, owned by the caller; a NULL why is allowed. */
#define WHY_MAX 512
struct why {
	char text[WHY_MAX];
};

/* why_set - format an explanation into why, if why is not NULL */
void why_set(struct why *why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* name_within - name is domain or a name below it, case-insensitive */
bool name_within(const char *name, const char *domain);
/* name_within_any - name_within one of the n domains */
bool name_within_any(const char *name, char *const *domains, size_t n);
/* strv_free - n strings and the array that holds them */
void strv_free(char **v, size_t n);

/*
 * buf_printf - append to the string in buf (size bytes in all) at *off,
 * which moves on; what does not fit is cut, and *off stays below size
 */
void buf_printf(char *buf, size_t size, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* PD_PANIC - a broken invariant (our bug): log and abort for a core */
#define PD_PANIC(...) pd_panic(__FILE__, __LINE__, __VA_ARGS__)
void pd_panic(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

#endif
