/*
 * dynamic - does a host name look like a dial-in or dynamic pool name.
 *
 * Built-in heuristics on the labels left of the registered domain (the
 * Public Suffix List, through libpsl): the client address's digits
 * embedded (dotted, dashed, reversed, zero-padded, hex), or a pool
 * keyword (dyn, dsl, ppp, pool, cable, dhcp, ...). A first label that
 * looks like a mail server (mail, mx, smtp, out, relay, ...) exempts the
 * name. Patterns from a file (POSIX extended regular expressions, one a
 * line, case-insensitive; a line starting with '!' exempts) are tried
 * first. Pure: no DNS, no I/O after loading the file.
 */
#ifndef POLICYD_DYNAMIC_H
#define POLICYD_DYNAMIC_H

#include <stdbool.h>
#include <stddef.h>

struct ipaddr;
struct why;

#define DYN_MAX_PATTERNS 2000
#define DYN_MAX_LINE     512

struct dyn_patterns;

/* dyn_patterns_load - read a pattern file; NULL with "file:line: why" */
struct dyn_patterns *dyn_patterns_load(const char *path, struct why *why);
void dyn_patterns_free(struct dyn_patterns *p);

/*
 * dyn_classify - 1 if name looks dynamic (why says which rule), 0 if not.
 * ip may be NULL (no address heuristic); pats may be NULL.
 */
int dyn_classify(const char *name, const struct ipaddr *ip,
    const struct dyn_patterns *pats, char *why, size_t whysize);

/* dyn_registered_domain - the registrable domain of name, or NULL */
const char *dyn_registered_domain(const char *name);

#endif
