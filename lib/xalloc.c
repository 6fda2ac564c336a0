/*
 * xalloc - allocation that succeeds or aborts; the why buffer; panics.
 */
#include "xalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

/* oom - there is no sensible way on; state is transactional */
static void
oom(size_t size)
{
	log_err("out of memory allocating %zu bytes", size);
	abort();
}

/* xmalloc - malloc or abort */
void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		oom(size);
	return p;
}

/* xcalloc - zeroed array or abort */
void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom(n * size);
	return p;
}

/* xrealloc - realloc or abort */
void *
xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);

	if (q == NULL)
		oom(size);
	return q;
}

/* xreallocarray - realloc of n elements with an overflow check */
void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		PD_PANIC("array of %zu elements of %zu bytes overflows", n,
		    size);
	return xrealloc(p, n * size);
}

/* xstrdup - strdup or abort */
char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

/* xstrndup - copy at most n bytes of s, always terminated */
char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* why_set - format an explanation into why, if why is not NULL */
void
why_set(struct why *why, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(why->text, sizeof(why->text), fmt, ap);
	va_end(ap);
}

/* strv_free - an array of strings */
void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* buf_printf - append at *off; what does not fit is cut */
void
buf_printf(char *buf, size_t size, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (size == 0 || *off + 1 >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, size - *off, fmt, ap);
	va_end(ap);
	if (n < 0)
		buf[*off] = '\0';
	else
		*off = *off + (size_t)n >= size ? size - 1 : *off + (size_t)n;
}

/* pd_panic - log a broken invariant and abort */
void
pd_panic(const char *file, int line, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_err("panic: %s:%d: %s", file, line, buf);
	abort();
}

bool
name_within(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n == d)
		return strcasecmp(name, domain) == 0;
	return n > d && name[n - d - 1] == '.' &&
	    strcasecmp(name + n - d, domain) == 0;
}

bool
name_within_any(const char *name, char *const *domains, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (name_within(name, domains[i]))
			return true;
	return false;
}
