/*
 * access - static access rules from the policy file: client network,
 * client name, sender, recipient, each with an action. The first rule
 * whose selectors all match decides; within one selector any pattern may
 * match. Patterns are normalized when the file is loaded.
 *
 * Address patterns (sender, recipient):
 *   user@example.org   that address (domain case-insensitive)
 *   user@              that local part at any domain
 *   @example.org       any address at exactly that domain
 *   example.org        the same
 *   .example.org       any address at a subdomain of example.org
 *   <>                 the null sender (sender only)
 * Client name patterns: host.example.org (exactly that verified name),
 * .example.org (any name below it). Client: CIDR networks.
 */
#ifndef POLICYD_ACCESS_H
#define POLICYD_ACCESS_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

struct req;
struct why;

struct access_rule {
	char *name;             /* from the file, or "access[N]" */
	struct cidr *clients;   /* any of these networks */
	size_t nclients;
	char **client_names;    /* lower-case patterns */
	size_t nclient_names;
	char **senders;         /* normalized patterns */
	size_t nsenders;
	char **recipients;
	size_t nrecipients;
	char *action;           /* validated Postfix action */
	int line;               /* where it was defined */
};

/*
 * access_norm_addr - check and normalize an address pattern; a new string,
 * or NULL with why set. null_ok allows "<>".
 */
char *access_norm_addr(const char *pattern, bool null_ok, struct why *why);
/*
 * access_wildcard - pattern holds a shell wildcard (* or ?), which no
 * pattern of ours knows (it would never match): true, with why saying
 * the syntax that works ("*@spam.example": @spam.example)
 */
bool access_wildcard(const char *pattern, struct why *why);
/* access_norm_name - check and normalize a client name pattern */
char *access_norm_name(const char *pattern, struct why *why);
/*
 * access_check_action - is this an action we may send to Postfix: OK,
 * DUNNO, REJECT [text], DEFER [text], DEFER_IF_PERMIT [text],
 * DEFER_IF_REJECT [text], or a 4xx/5xx code with text.
 */
int access_check_action(const char *action, struct why *why);

/* access_match - the first rule that matches req, or NULL */
const struct access_rule *access_match(const struct access_rule *rules,
    size_t n, const struct req *req);
/* access_rule_free_members - release what a rule owns */
void access_rule_free_members(struct access_rule *r);

#endif
