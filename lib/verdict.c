/*
 * verdict - decide from the static rules and describe the decision.
 * Data flow: pipeline -> verdict_greylist() (its last step) -> reply +
 * verdict_log_line().
 */
#include "verdict.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "access.h"
#include "arena.h"
#include "config.h"
#include "greylist.h"
#include "log.h"
#include "request.h"
#include "store.h"
#include "xalloc.h"

/* expand - the text with every {seconds} replaced */
static char *
expand(struct arena *a, const char *text, int64_t seconds)
{
	char out[1024], num[24];
	const char *p = text;
	size_t o = 0, nlen;

	nlen = (size_t)snprintf(num, sizeof(num), "%lld", (long long)seconds);
	while (*p != '\0' && o + nlen + 1 < sizeof(out)) {
		if (strncmp(p, "{seconds}", 9) == 0) {
			memcpy(out + o, num, nlen);
			o += nlen;
			p += 9;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return arena_strdup(a, out);
}

/* rfc5322_date - "Mon, 23 Nov 2026 01:52:34 +0000" */
static char *
rfc5322_date(struct arena *a, int64_t now)
{
	time_t t = (time_t)now;
	struct tm tm;
	char buf[64];

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	return arena_strdup(a, buf);
}

/* verdict_greylist - the greylisting part of a decision */
void
verdict_greylist(const struct cfg *cfg, const struct req *req,
    struct verdict_env *env, const char *pool, struct verdict *v)
{
	const struct gl_conf *g = &cfg->greylist;
	struct store *st = store_get(env->store);
	struct gl_result res;
	struct why why;
	const char *key;
	int rc;

	if (st == NULL) {
		env->store_rc = STORE_ERROR;
		snprintf(env->store_why, sizeof(env->store_why),
		    "the store is not open");
		goto error;
	}
	rc = greylist_check(st, g, req, pool, env->now, &res, &why);
	if (rc != 0) {
		env->store_rc = rc;
		snprintf(env->store_why, sizeof(env->store_why), "%s",
		    why.text);
		goto error;
	}
	env->store_used = true;
	/* The key's client part, when it is a pool and not the network. */
	key = pool ? arena_printf(req->arena, ",key=%s", pool) : "";
	switch (res.status) {
	case GL_SKIP:
		return;
	case GL_NEW:
	case GL_EARLY:
		v->action = arena_printf(req->arena, "DEFER_IF_PERMIT 4.7.1 %s",
		    expand(req->arena, g->text, res.wait));
		v->rule = arena_printf(req->arena, "greylist:%s(wait=%llds%s)",
		    res.status == GL_NEW ? "new" : "early",
		    (long long)res.wait, key);
		return;
	case GL_PASS:
		v->rule = arena_printf(req->arena,
		    "greylist:pass(delayed=%llds%s)", (long long)res.delayed,
		    key);
		if (g->header && !env->msg.greylist_header) {
			char *h = arena_printf(req->arena,
			    "X-Greylist: delayed %lld seconds by policyd at "
			    "%s; %s", (long long)res.delayed, env->hostname,
			    rfc5322_date(req->arena, env->now));

			env->msg.greylist_header = verdict_queue_header(env, h);
		}
		return;
	case GL_KNOWN:
		v->rule = arena_printf(req->arena, "greylist:known%s%s%s",
		    pool ? "(" : "", key + (pool ? 1 : 0), pool ? ")" : "");
		return;
	case GL_AWL_CLIENT:
		v->rule = arena_printf(req->arena, "greylist:awl-client%s%s%s",
		    pool ? "(" : "", key + (pool ? 1 : 0), pool ? ")" : "");
		return;
	case GL_AWL_DOMAIN:
		v->rule = arena_printf(req->arena, "greylist:awl-domain%s%s%s",
		    pool ? "(" : "", key + (pool ? 1 : 0), pool ? ")" : "");
		return;
	}
	return;
error:
	v->rule = "greylist:error";
	if (g->defer_on_error)
		v->action = "DEFER_IF_PERMIT 4.3.0 Greylisting is temporarily "
			    "unavailable, please try again later";
}

/* verdict_msg_begin - the same message keeps its state */
void
verdict_msg_begin(struct verdict_env *env, const struct req *req)
{
	struct verdict_msg *m = &env->msg;

	if (req->instance[0] != '\0' && strcmp(m->instance, req->instance) == 0)
		return;
	memset(m, 0, sizeof(*m));
	/* An instance we cannot keep whole is never matched again. */
	if (strlen(req->instance) < sizeof(m->instance))
		memcpy(m->instance, req->instance, strlen(req->instance) + 1);
}

/* verdict_queue_header - owed to the message, prepended later */
bool
verdict_queue_header(struct verdict_env *env, const char *header)
{
	struct verdict_msg *m = &env->msg;

	if (m->nheaders >= VERDICT_MAX_HEADERS ||
	    strlen(header) > VERDICT_HEADER_MAX)
		return false;
	memcpy(m->headers[m->nheaders++], header, strlen(header) + 1);
	return true;
}

/* verdict_flush_header - the next owed header rides on a DUNNO */
void
verdict_flush_header(struct verdict_env *env, const struct req *req,
    struct verdict *v)
{
	struct verdict_msg *m = &env->msg;

	if (m->sent >= m->nheaders || strcasecmp(v->action, "DUNNO") != 0 ||
	    strcmp(req->protocol_state, "END-OF-MESSAGE") == 0)
		return;
	v->action = arena_printf(req->arena, "PREPEND %s",
	    m->headers[m->sent++]);
}

/*
 * Input bytes kept of the fields that say why (the action, the checks'
 * trace, their reasons): whole, up to what a reply or a trace can hold;
 * the other values are a stranger's and keep TEXT_SAFE_MAX.
 */
#define LOG_WHY_MAX 1100

/* kv_max - " key=value", value escaped (max input bytes), quoted if needed */
static void
kv_max(char *buf, size_t size, size_t *off, const char *key, const char *val,
    size_t max)
{
	char safe[LOG_WHY_MAX * 4 + 4];
	size_t klen = strlen(key), vlen, need;
	bool quote;
	char *p;

	if (*off >= size)
		return;
	text_safe_bufn(safe, sizeof(safe), val, max);
	vlen = strlen(safe);
	quote = vlen == 0 || strpbrk(safe, " \"=") != NULL;
	need = (*off ? 1 : 0) + klen + 1 + vlen + (quote ? 2 : 0);
	if (*off + need >= size) {
		*off = size; /* no room: the line ends before this pair */
		return;
	}
	p = buf + *off;
	if (*off)
		*p++ = ' ';
	memcpy(p, key, klen);
	p += klen;
	*p++ = '=';
	if (quote)
		*p++ = '"';
	memcpy(p, safe, vlen);
	p += vlen;
	if (quote)
		*p++ = '"';
	*p = '\0';
	*off += need;
}

/* kv - a stranger's value, bounded */
static void
kv(char *buf, size_t size, size_t *off, const char *key, const char *val)
{
	kv_max(buf, size, off, key, val, TEXT_SAFE_MAX);
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
	size_t size = 8192, off = 0;
	char *buf = arena_alloc(a, size);
	char us[24];

	buf[0] = '\0';
	kv_max(buf, size, &off, "decision action", v->action, LOG_WHY_MAX);
	kv(buf, size, &off, "rule", v->rule);
	kv(buf, size, &off, "client", req->client_addr);
	kv(buf, size, &off, "client_name",
	    req->client_name ? req->client_name : "unknown");
	kv(buf, size, &off, "helo", req->helo ? req->helo : "");
	kv(buf, size, &off, "sender", addr_text(a, req->sender.full));
	kv(buf, size, &off, "rcpt", addr_text(a, req->rcpt.full));
	kv(buf, size, &off, "queue_id", req->queue_id);
	if (v->trace != NULL) {
		char score[16];

		kv_max(buf, size, &off, "checks", v->trace, LOG_WHY_MAX);
		snprintf(score, sizeof(score), "%d", v->score);
		kv(buf, size, &off, "score", score);
		if (v->detail != NULL)
			kv_max(buf, size, &off, "why", v->detail, LOG_WHY_MAX);
	}
	snprintf(us, sizeof(us), "%llu", (unsigned long long)elapsed_us);
	kv(buf, size, &off, "us", us);
	return buf;
}
