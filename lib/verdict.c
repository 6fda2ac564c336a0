/*
 * verdict - decide from the static rules and describe the decision.
 * Data flow: request -> verdict_decide() -> reply + verdict_log_line().
 */
#include "verdict.h"

#include <stdio.h>
#include <string.h>

#include "access.h"
#include "arena.h"
#include "config.h"
#include "log.h"
#include "request.h"

/* verdict_decide - first matching access rule, else the default */
void
verdict_decide(const struct cfg *cfg, const struct req *req,
    struct verdict *v)
{
	const struct access_rule *r;

	r = access_match(cfg->access, cfg->naccess, req);
	if (r != NULL) {
		v->action = r->action;
		v->rule = r->name;
		return;
	}
	v->action = cfg->default_action;
	v->rule = "default";
}

/* kv - " key=value", value escaped and quoted when it needs to be */
static void
kv(char *buf, size_t size, size_t *off, const char *key, const char *val)
{
	char safe[TEXT_SAFE_MAX * 4 + 4];
	bool quote;
	int n;

	if (*off >= size)
		return;
	text_safe_buf(safe, sizeof(safe), val);
	quote = *safe == '\0' || strpbrk(safe, " \"=") != NULL;
	n = snprintf(buf + *off, size - *off, "%s%s=%s%s%s",
	    *off ? " " : "", key, quote ? "\"" : "", safe, quote ? "\"" : "");
	if (n > 0)
		*off += (size_t)n;
}

/* addr_text - "<address>" as Postfix logs it, or "" when not sent */
static const char *
addr_text(struct arena *a, const char *full)
{
	return full ? arena_printf(a, "<%s>", full) : "";
}

/* verdict_log_line - one key=value line for the decision */
char *
verdict_log_line(struct arena *a, const struct req *req,
    const struct verdict *v, uint64_t elapsed_us)
{
	size_t size = 4096, off = 0;
	char *buf = arena_alloc(a, size);
	char us[24];

	buf[0] = '\0';
	kv(buf, size, &off, "decision action", v->action);
	kv(buf, size, &off, "rule", v->rule);
	kv(buf, size, &off, "client", req->client_addr);
	kv(buf, size, &off, "client_name",
	    req->client_name ? req->client_name : "unknown");
	kv(buf, size, &off, "helo", req->helo ? req->helo : "");
	kv(buf, size, &off, "sender", addr_text(a, req->sender.full));
	kv(buf, size, &off, "rcpt", addr_text(a, req->rcpt.full));
	kv(buf, size, &off, "queue_id", req->queue_id);
	snprintf(us, sizeof(us), "%llu", (unsigned long long)elapsed_us);
	kv(buf, size, &off, "us", us);
	return buf;
}
