/*
 * access - static access rules: pattern checks at load time, matching per
 * request. Data flow: request -> access_match() -> verdict.
 */
#include "access.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "request.h"
#include "xalloc.h"

#define MAX_PATTERN 320 /* RFC 5321: 64 local + 1 + 255 domain */

/* lower_inplace - ASCII lower-case */
static void
lower_inplace(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* domain_ok - a plausible domain name: labels of [a-z0-9_-], dots between */
static bool
domain_ok(const char *d)
{
	size_t label = 0;

	if (*d == '\0' || strlen(d) > 253)
		return false;
	for (; *d; d++) {
		if (*d == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (isalnum((unsigned char)*d) || *d == '-' ||
		    *d == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0;
}

/* local_ok - a local part we can match: printable, no blanks or '@' */
static bool
local_ok(const char *l, size_t n)
{
	size_t i;

	if (n > 64)
		return false;
	for (i = 0; i < n; i++)
		if (l[i] <= ' ' || l[i] >= 0x7f)
			return false;
	return true;
}

/* access_wildcard - a * or ?: refused, with the syntax that works */
bool
access_wildcard(const char *pattern, struct why *why)
{
	const char *at = strrchr(pattern, '@');
	bool any_local = at != NULL && (at == pattern ||
	    (at == pattern + 1 && *pattern == '*'));

	if (strpbrk(pattern, "*?") == NULL)
		return false;
	if (any_local && strncmp(at + 1, "*.", 2) == 0 &&
	    strpbrk(at + 3, "*?") == NULL)
		why_set(why, "\"%.80s\" has a wildcard, which never matches: "
		    "write .%.80s for every address below %.80s", pattern,
		    at + 3, at + 3);
	else if (any_local && strpbrk(at + 1, "*?") == NULL && at[1] != '\0')
		why_set(why, "\"%.80s\" has a wildcard, which never matches: "
		    "write @%.80s for every address at %.80s (.%.80s for its "
		    "subdomains)", pattern, at + 1, at + 1, at + 1);
	else
		why_set(why, "\"%.80s\" has a wildcard, which never matches: "
		    "write user@domain, user@, @domain or .domain", pattern);
	return true;
}

/* access_norm_addr - check and normalize an address pattern */
char *
access_norm_addr(const char *pattern, bool null_ok, struct why *why)
{
	const char *at;
	char *out;

	if (access_wildcard(pattern, why))
		return NULL;

	if (strcmp(pattern, "<>") == 0) {
		if (!null_ok) {
			why_set(why, "\"<>\" (the null sender) is only "
				     "allowed as a sender pattern");
			return NULL;
		}
		return xstrdup("<>");
	}
	if (*pattern == '\0' || strlen(pattern) > MAX_PATTERN) {
		why_set(why, "address pattern must be 1 to %d characters",
		    MAX_PATTERN);
		return NULL;
	}
	if ((at = strrchr(pattern, '@')) == NULL) {
		const char *d = pattern[0] == '.' ? pattern + 1 : pattern;

		if (!domain_ok(d)) {
			why_set(why, "\"%s\" is not a domain name", pattern);
			return NULL;
		}
		out = xmalloc(strlen(pattern) + 2);
		strcpy(out, pattern[0] == '.' ? "" : "@");
		strcat(out, pattern);
	} else {
		if (!local_ok(pattern, (size_t)(at - pattern)) ||
		    (at == pattern && at[1] == '\0')) {
			why_set(why, "\"%s\" is not an address pattern "
				     "(user@domain, user@, @domain, domain or "
				     ".domain)", pattern);
			return NULL;
		}
		if (at[1] != '\0' && !domain_ok(at + 1)) {
			why_set(why, "\"%s\": \"%s\" is not a domain name",
			    pattern, at + 1);
			return NULL;
		}
		out = xstrdup(pattern);
	}
	lower_inplace(out);
	return out;
}

/* access_norm_name - check and normalize a client name pattern */
char *
access_norm_name(const char *pattern, struct why *why)
{
	const char *d = pattern[0] == '.' ? pattern + 1 : pattern;
	char *out;

	if (strncmp(pattern, "*.", 2) == 0) {
		why_set(why, "\"%.80s\" has a wildcard, which never matches: "
		    "write .%.80s for every name below %.80s", pattern,
		    pattern + 2, pattern + 2);
		return NULL;
	}

	if (!domain_ok(d)) {
		why_set(why, "\"%s\" is not a host name or .domain suffix",
		    pattern);
		return NULL;
	}
	out = xstrdup(pattern);
	lower_inplace(out);
	return out;
}

/* access_check_action - validate an action for Postfix */
int
access_check_action(const char *action, struct why *why)
{
	static const struct {
		const char *word;
		bool text_ok;
	} words[] = {
		{ "OK", false },
		{ "DUNNO", false },
		{ "REJECT", true },
		{ "DEFER", true },
		{ "DEFER_IF_PERMIT", true },
		{ "DEFER_IF_REJECT", true },
	};
	size_t wlen = strcspn(action, " \t"), i;
	const char *p;

	for (p = action; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			why_set(why, "action contains a control character");
			return -1;
		}
	}
	if (strlen(action) > 500) {
		why_set(why, "action is longer than 500 characters");
		return -1;
	}
	if (wlen == 3 && (action[0] == '4' || action[0] == '5') &&
	    isdigit((unsigned char)action[1]) &&
	    isdigit((unsigned char)action[2])) {
		if (action[3] == '\0') {
			why_set(why, "action \"%s\" needs a text after the "
				     "code", action);
			return -1;
		}
		return 0;
	}
	for (i = 0; i < nitems(words); i++) {
		if (strlen(words[i].word) != wlen ||
		    strncasecmp(action, words[i].word, wlen) != 0)
			continue;
		if (action[wlen] != '\0' && !words[i].text_ok) {
			why_set(why, "action %s takes no text", words[i].word);
			return -1;
		}
		return 0;
	}
	why_set(why, "\"%.40s\" is not an action (OK, DUNNO, REJECT text, "
		     "DEFER text, DEFER_IF_PERMIT text, DEFER_IF_REJECT "
		     "text, or 4xx/5xx text)", action);
	return -1;
}

/* addr_matches - does one normalized pattern match an address */
static bool
addr_matches(const char *pat, const struct req_addr *a)
{
	size_t plen, dlen;

	if (a->full == NULL)
		return false;
	if (a->is_null)
		return strcmp(pat, "<>") == 0;
	if (pat[0] == '@')
		return a->domain != NULL && strcmp(pat + 1, a->domain) == 0;
	if (pat[0] == '.') {
		if (a->domain == NULL)
			return false;
		plen = strlen(pat);
		dlen = strlen(a->domain);
		return dlen > plen && strcmp(a->domain + dlen - plen, pat) == 0;
	}
	plen = strlen(pat);
	if (pat[plen - 1] == '@')
		return strlen(a->local) == plen - 1 &&
		    strncasecmp(a->local, pat, plen - 1) == 0;
	return strcasecmp(pat, a->full) == 0;
}

/* name_matches - exact name, or a name below a .suffix */
static bool
name_matches(const char *pat, const char *name)
{
	size_t plen, nlen;

	if (name == NULL)
		return false;
	if (pat[0] != '.')
		return strcmp(pat, name) == 0;
	plen = strlen(pat);
	nlen = strlen(name);
	return nlen > plen && strcmp(name + nlen - plen, pat) == 0;
}

/* rule_matches - every selector of r matches req */
static bool
rule_matches(const struct access_rule *r, const struct req *req)
{
	size_t i;
	bool ok;

	if (r->nclients > 0) {
		ok = false;
		for (i = 0; i < r->nclients && !ok && req->has_client_ip; i++)
			ok = cidr_match(&r->clients[i], &req->client_ip);
		if (!ok)
			return false;
	}
	if (r->nclient_names > 0) {
		ok = false;
		for (i = 0; i < r->nclient_names && !ok; i++)
			ok = name_matches(r->client_names[i], req->client_name);
		if (!ok)
			return false;
	}
	if (r->nsenders > 0) {
		ok = false;
		for (i = 0; i < r->nsenders && !ok; i++)
			ok = addr_matches(r->senders[i], &req->sender);
		if (!ok)
			return false;
	}
	if (r->nrecipients > 0) {
		ok = false;
		for (i = 0; i < r->nrecipients && !ok; i++)
			ok = addr_matches(r->recipients[i], &req->rcpt);
		if (!ok)
			return false;
	}
	return true;
}

/* access_match - first matching rule */
const struct access_rule *
access_match(const struct access_rule *rules, size_t n, const struct req *req)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (rule_matches(&rules[i], req))
			return &rules[i];
	return NULL;
}

/* access_rule_free_members - release what a rule owns */
void
access_rule_free_members(struct access_rule *r)
{
	free(r->name);
	free(r->clients);
	strv_free(r->client_names, r->nclient_names);
	strv_free(r->senders, r->nsenders);
	strv_free(r->recipients, r->nrecipients);
	free(r->action);
}
