/*
 * dynamic - how sure are we that a host name is a dial-in or dynamic pool
 * name: certain, likely, or no, and why.
 *
 * Only the labels left of the registered domain (the Public Suffix
 * List's ICANN section, through libpsl) are read, split into words and
 * numbers ("host86" -> "host", "86"). In this order:
 *   1. the pattern file's exemptions ('!' lines) and overriding pool
 *      patterns ('+' lines), the first match deciding which applies;
 *   2. the built-in exemptions: a mail word (mail, mx, smtp, outbound,
 *      relay, mta, ...) or a static word (static, sta, fixed, ded,
 *      dedicated, leased, biz, business, server, srv, colo, hosting,
 *      vps, ns, ...) in any label: no (a static DSL line is static);
 *   3. the evidence, each kind one signal: the client's address in the
 *      name (all four octets in any order, dotted, dashed, reversed or
 *      zero-padded, or three of them; as one hex or zero-padded run; as
 *      its 32-bit number; IPv6: four groups), a pool word (dyn, dsl,
 *      ppp, pool, cable, dhcp, broadband, abo, ...; a second different
 *      one counts again), a customer-line code with digits (cm12,
 *      cpc123456, pcp0123456, bgp01234567, hsd1, fls-2), a pool
 *      pattern of the file. One signal: likely; two or more: certain.
 * Other checks' evidence changes the count afterwards (dyn_level).
 * Pure: no DNS, no I/O after loading the file.
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

enum dyn_level { DYN_NO, DYN_LIKELY, DYN_CERTAIN };

struct dyn_verdict {
	enum dyn_level level;
	int signals;     /* the evidence counted */
	bool exempt;     /* a mail or static word, or a '!' line: no,
			  * whatever else is said */
	char why[160];   /* "4 octets of the client address; keyword
			  * \"dsl\"" */
};

/*
 * dyn_judge - the verdict on name; ip may be NULL (no address evidence),
 * pats may be NULL
 */
void dyn_judge(const char *name, const struct ipaddr *ip,
    const struct dyn_patterns *pats, struct dyn_verdict *v);
/* dyn_level - the level of a count of signals, unless exempt */
enum dyn_level dyn_level(const struct dyn_verdict *v, int signals);
/* dyn_level_name - "no", "likely", "certain" */
const char *dyn_level_name(enum dyn_level l);

/*
 * dyn_classify - 1 if name is likely or certainly dynamic (why says
 * why), 0 if not; as dyn_judge
 */
int dyn_classify(const char *name, const struct ipaddr *ip,
    const struct dyn_patterns *pats, char *why, size_t whysize);

/* dyn_registered_domain - the registrable domain of name, or NULL */
const char *dyn_registered_domain(const char *name);

#endif
