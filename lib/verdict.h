/*
 * verdict - what policyd answers for one request, why, and the one log
 * line per decision (key=value, like Postfix's own logging):
 *
 *   decision action="REJECT no thanks" rule=access[spammers]
 *     client=192.0.2.7 client_name=unknown helo=x.example
 *     sender=<a@b.example> rcpt=<c@d.example> queue_id=8045F2AB23 us=41
 *
 * Values a stranger controls are escaped (text_safe); a value with a
 * blank, a quote or nothing in it is quoted.
 */
#ifndef POLICYD_VERDICT_H
#define POLICYD_VERDICT_H

#include <stdint.h>

struct arena;
struct cfg;
struct req;

struct verdict {
	const char *action; /* reply text after "action=" */
	const char *rule;   /* what decided: access[name], default, ... */
};

/* verdict_decide - static access rules, else the default action */
void verdict_decide(const struct cfg *cfg, const struct req *req,
    struct verdict *v);
/* verdict_log_line - the decision line, from the arena */
char *verdict_log_line(struct arena *a, const struct req *req,
    const struct verdict *v, uint64_t elapsed_us);

#endif
