/*
 * verdict - the decision log line. Data flow: pipeline -> struct verdict
 * -> verdict_log_line() -> log_info().
 */
#include "verdict.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "log.h"
#include "request.h"

/*
 * Input bytes kept of the fields that say why (the action, the checks'
 * trace, their reasons): whole, up to what a reply or a trace can hold;
 * the other values are a stranger's and keep TEXT_SAFE_MAX.
 */
#define LOG_WHY_MAX 1100

/* Sixteen bytes, compared at once (SSE2 on x86-64, NEON on arm64). */
typedef unsigned char v16 __attribute__((vector_size(16)));

/*
 * plain - whether none of the n bytes at s is one text_safe_bufn escapes
 * (controls, DEL, \ and "), sixteen at a time; *blank: one of them is a
 * blank or an =, which makes the value quoted
 */
static bool
plain(const char *s, size_t n, bool *blank)
{
	v16 w, odd = { 0 }, q = { 0 };
	uint64_t h[4];
	size_t i;

	for (i = 0; i < n; i += 16) {
		if (n - i >= 16) {
			memcpy(&w, s + i, 16);
		} else {
			/* the last bytes, after bytes that are neither */
			memset(&w, 'a', sizeof(w));
			memcpy(&w, s + i, n - i);
		}
		odd |= (v16)((w < 0x20) | (w == '"') | (w == '\\') |
		    (w == 0x7f));
		q |= (v16)((w == ' ') | (w == '='));
	}
	memcpy(h, &odd, 16);
	memcpy(h + 2, &q, 16);
	*blank = (h[2] | h[3]) != 0;
	return (h[0] | h[1]) == 0;
}

/* kv_max - " key=value", value escaped (max input bytes), quoted if needed */
static void
kv_max(char *buf, size_t size, size_t *off, const char *key, const char *val,
    size_t max)
{
	char safe[LOG_WHY_MAX * 4 + 4];
	size_t klen = strlen(key), vlen, need;
	const char *v = val;
	bool quote, blank;
	char *p;

	if (*off >= size)
		return;
	/*
	 * Most values need no escape and are not cut: copied as they are,
	 * not through safe (which cost a decision line three more passes).
	 */
	vlen = strnlen(val, max);
	if (val[vlen] == '\0' && plain(val, vlen, &blank)) {
		quote = vlen == 0 || blank;
	} else {
		text_safe_bufn(safe, sizeof(safe), val, max);
		v = safe;
		vlen = strlen(safe);
		quote = vlen == 0 || strpbrk(safe, " \"=") != NULL;
	}
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
	memcpy(p, v, vlen);
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
	return full ? arena_cat(a, "<", full, ">", NULL) : "";
}

/* verdict_log_line - one key=value line for the decision */
char *
verdict_log_line(struct arena *a, const struct req *req,
    const struct verdict *v, uint64_t elapsed_us)
{
	size_t size = 8192, off = 0;
	char *buf = arena_alloc(a, size);

	buf[0] = '\0';
	kv_max(buf, size, &off, "decision action", v->action, LOG_WHY_MAX);
	if (v->would != NULL)
		kv_max(buf, size, &off, "would", v->would, LOG_WHY_MAX);
	kv(buf, size, &off, "rule", v->rule);
	kv(buf, size, &off, "client", req->client_addr);
	kv(buf, size, &off, "client_name",
	    req->client_name ? req->client_name : "unknown");
	kv(buf, size, &off, "helo", req->helo ? req->helo : "");
	kv(buf, size, &off, "sender", addr_text(a, req->sender.full));
	kv(buf, size, &off, "rcpt", addr_text(a, req->rcpt.full));
	kv(buf, size, &off, "queue_id", req->queue_id);
	if (v->bypass != NULL)
		kv(buf, size, &off, "bypass", v->bypass);
	if (v->trace != NULL) {
		kv_max(buf, size, &off, "checks", v->trace, LOG_WHY_MAX);
		kv(buf, size, &off, "score", arena_num(a, v->score));
		if (v->detail != NULL)
			kv_max(buf, size, &off, "why", v->detail, LOG_WHY_MAX);
	}
	kv(buf, size, &off, "us", arena_num(a, (long long)elapsed_us));
	return buf;
}

const struct verdict_row verdict_table[VS_COUNT] = {
	{ VS_ACCESS, "access rule", VB_NEVER },
	{ VS_BLOCK, "block", VB_NEVER },
	{ VS_REJECT, "check refuses", VB_FLAGGED },
	{ VS_SCORE, "score", VB_ALWAYS },
	{ VS_DEFER, "check defers", VB_FLAGGED },
	{ VS_TEMPFAIL, "check could not tell", VB_FLAGGED },
	{ VS_BYPASS, "whitelist entry", VB_NEVER },
	{ VS_STATE, "state module", VB_FLAGGED },
	{ VS_DEFAULT, "default", VB_NEVER },
};

/* verdict_silenced - by the table's bypass column */
bool
verdict_silenced(enum verdict_src src, bool flagged)
{
	switch (verdict_table[src].bypass) {
	case VB_NEVER:
		return false;
	case VB_FLAGGED:
		return flagged;
	case VB_ALWAYS:
		return true;
	}
	return false;
}

/* verdict_pick - the strongest row with an outcome */
enum verdict_src
verdict_pick(const struct verdict_out out[VS_COUNT])
{
	unsigned i;

	for (i = 0; i < VS_COUNT; i++)
		if (out[verdict_table[i].src].say != VSAY_NONE)
			return verdict_table[i].src;
	return VS_DEFAULT;
}

/* verdict_action - the reply line of one outcome */
const char *
verdict_action(struct arena *a, const struct verdict_out *o)
{
	const char *dsn = o->dsn ? o->dsn : "5.7.1";

	switch (o->say) {
	case VSAY_NONE:
	case VSAY_PASS:
		return "DUNNO";
	case VSAY_RAW:
		return o->text;
	case VSAY_REFUSE:
		return arena_cat(a, o->code ? o->code : "550", " ", dsn, " ",
		    o->text, NULL);
	case VSAY_DEFER:
		/* A deferral's enhanced code is of class 4, whatever the
		 * check's refusal code says (5.7.1 -> 4.7.1). */
		return arena_cat(a, o->code ? o->code : "DEFER_IF_PERMIT",
		    " 4", dsn + 1, " ", o->text, NULL);
	}
	return "DUNNO";
}

bool
verdict_accepts(const char *a)
{
	/* DEFER_IF_REJECT defers only what a later restriction refuses. */
	if (strncasecmp(a, "DEFER_IF_REJECT", 15) == 0)
		return true;
	return !(a[0] == '4' || a[0] == '5' ||
	    strncasecmp(a, "REJECT", 6) == 0 || strncasecmp(a, "DEFER", 5) == 0);
}

/* Rules and their sections of refused.md: exact, or a prefix ("...:"). */
static const struct {
	const char *rule, *anchor;
	bool prefix;
} anchors[] = {
	{ "check:helo", "helo", false },
	{ "check:helo_dns", "helo-dns", false },
	{ "check:rdns", "rdns", false },
	{ "check:fcrdns", "fcrdns", false },
	{ "check:dynamic", "dynamic", false },
	{ "check:dynamic_helo", "dynamic", false },
	{ "check:sender", "sender", false },
	{ "check:spf", "spf", false },
	{ "check:dnsbl", "dnsbl", false },
	{ "score", "score", false },
	{ "tempfail:", "tempfail", true },
	{ "greylist:error", "store", false },
	{ "greylist", "greylist", true },
	{ "backscatter:", "backscatter", true },
};

const char *
verdict_refusal_anchor(const char *rule)
{
	size_t i;

	if (rule == NULL)
		return NULL;
	for (i = 0; i < sizeof(anchors) / sizeof(anchors[0]); i++)
		if (anchors[i].prefix
			? strncmp(rule, anchors[i].rule,
			      strlen(anchors[i].rule)) == 0
			: strcmp(rule, anchors[i].rule) == 0)
			return anchors[i].anchor;
	return NULL;
}

const char *
verdict_with_url(struct arena *a, const char *action, const char *rule,
    const char *base)
{
	const char *anchor;

	if (base == NULL || verdict_accepts(action) ||
	    (anchor = verdict_refusal_anchor(rule)) == NULL)
		return action;
	/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets. */
	if (strlen(action) + strlen(base) + strlen(anchor) + 9 > 510)
		return action;
	return arena_printf(a, "%s (see %s#%s)", action, base, anchor);
}
