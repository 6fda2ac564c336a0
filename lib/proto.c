/*
 * proto - Postfix policy protocol parser and reply writer.
 *
 * Data flow: socket bytes -> proto_feed() -> attribute values -> request.
 * The parser never allocates more than PROTO_MAX_REQUEST plus one line,
 * whatever the peer sends, and never looks at a byte twice except to copy
 * a known attribute's value into place.
 */
#include "proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static const char *const attr_names[PA_COUNT] = {
	[PA_REQUEST] = "request",
	[PA_PROTOCOL_STATE] = "protocol_state",
	[PA_PROTOCOL_NAME] = "protocol_name",
	[PA_HELO_NAME] = "helo_name",
	[PA_QUEUE_ID] = "queue_id",
	[PA_SENDER] = "sender",
	[PA_RECIPIENT] = "recipient",
	[PA_RECIPIENT_COUNT] = "recipient_count",
	[PA_CLIENT_ADDRESS] = "client_address",
	[PA_CLIENT_NAME] = "client_name",
	[PA_REVERSE_CLIENT_NAME] = "reverse_client_name",
	[PA_INSTANCE] = "instance",
	[PA_SASL_METHOD] = "sasl_method",
	[PA_SASL_USERNAME] = "sasl_username",
	[PA_SASL_SENDER] = "sasl_sender",
	[PA_SIZE] = "size",
	[PA_CCERT_SUBJECT] = "ccert_subject",
	[PA_CCERT_ISSUER] = "ccert_issuer",
	[PA_CCERT_FINGERPRINT] = "ccert_fingerprint",
	[PA_ENCRYPTION_PROTOCOL] = "encryption_protocol",
	[PA_ENCRYPTION_CIPHER] = "encryption_cipher",
	[PA_ENCRYPTION_KEYSIZE] = "encryption_keysize",
	[PA_ETRN_DOMAIN] = "etrn_domain",
	[PA_STRESS] = "stress",
	[PA_CCERT_PUBKEY_FINGERPRINT] = "ccert_pubkey_fingerprint",
	[PA_CLIENT_PORT] = "client_port",
	[PA_POLICY_CONTEXT] = "policy_context",
	[PA_SERVER_ADDRESS] = "server_address",
	[PA_SERVER_PORT] = "server_port",
	[PA_COMPATIBILITY_LEVEL] = "compatibility_level",
	[PA_MAIL_VERSION] = "mail_version",
};

/* proto_init - an empty parser; allocates nothing yet */
void
proto_init(struct proto_parser *p)
{
	memset(p, 0, sizeof(*p));
}

/* proto_fini - release the buffer */
void
proto_fini(struct proto_parser *p)
{
	free(p->buf);
	p->buf = NULL;
	p->bufsize = 0;
}

/* proto_attr_name - wire name of an attribute */
const char *
proto_attr_name(enum proto_attr a)
{
	return (unsigned)a < PA_COUNT ? attr_names[a] : "?";
}

/*
 * The names by length: a request has a dozen lines, each looked up among
 * thirty names; only those of its length are compared (made once, from
 * attr_names, before main).
 */
#define NAME_LEN_MAX 24 /* ccert_pubkey_fingerprint */
#define SAME_LEN_MAX 8
static signed char by_len[NAME_LEN_MAX + 1][SAME_LEN_MAX];

__attribute__((constructor)) static void
by_len_make(void)
{
	size_t i, len, k;

	memset(by_len, -1, sizeof(by_len));
	for (i = 0; i < PA_COUNT; i++) {
		len = strlen(attr_names[i]);
		for (k = 0; len <= NAME_LEN_MAX && k < SAME_LEN_MAX; k++)
			if (by_len[len][k] < 0) {
				by_len[len][k] = (signed char)i;
				break;
			}
		if (len > NAME_LEN_MAX || k == SAME_LEN_MAX)
			abort(); /* a name the table cannot hold: make it so */
	}
}

/* proto_attr_lookup - attribute of a wire name, -1 if unknown */
int
proto_attr_lookup(const char *name, size_t len)
{
	const signed char *c;
	size_t k;

	if (len == 0 || len > NAME_LEN_MAX)
		return -1;
	c = by_len[len];
	for (k = 0; k < SAME_LEN_MAX && c[k] >= 0; k++)
		if (attr_names[c[k]][0] == name[0] &&
		    memcmp(attr_names[c[k]], name, len) == 0)
			return c[k];
	return -1;
}

/* request_reset - forget the request that ended */
static void
request_reset(struct proto_parser *p)
{
	/* Do not keep a big buffer for an idle persistent connection. */
	if (p->bufsize > 2 * PROTO_MAX_LINE)
		proto_fini(p);
	p->vallen = 0;
	p->linelen = 0;
	p->reqbytes = 0;
	p->nlines = 0;
	memset(p->val, 0, sizeof(p->val));
	p->line_long = false;
	p->ended = false;
	p->bad = false;
	p->why[0] = '\0';
}

/* mark_bad - remember the first reason this request is malformed */
static void
mark_bad(struct proto_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
mark_bad(struct proto_parser *p, const char *fmt, ...)
{
	va_list ap;

	if (p->bad)
		return;
	p->bad = true;
	va_start(ap, fmt);
	vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
}

/* line_append - add bytes to the current line, unless it is too long */
static void
line_append(struct proto_parser *p, const char *s, size_t n)
{
	size_t need;

	if (p->line_long || n == 0)
		return;
	if (p->linelen + n > PROTO_MAX_LINE + 1) { /* +1: a final CR */
		p->line_long = true;
		return;
	}
	need = p->vallen + p->linelen + n;
	if (need > p->bufsize) {
		size_t size = p->bufsize ? p->bufsize : 512;

		while (size < need)
			size *= 2;
		p->buf = xrealloc(p->buf, size);
		p->bufsize = size;
	}
	memcpy(p->buf + p->vallen + p->linelen, s, n);
	p->linelen += n;
}

/* line_end - a complete line; returns the event it causes */
static enum proto_event
line_end(struct proto_parser *p)
{
	/* No buffer yet when the very first line is empty: no arithmetic
	 * on a null pointer (the fuzzer's first find). */
	char *line = p->buf != NULL ? p->buf + p->vallen : NULL;
	size_t len = p->linelen;
	const char *eq;
	int a;

	if (!p->line_long && len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0 && !p->line_long) {
		const char *req = proto_get(p, PA_REQUEST);

		p->ended = true;
		if (p->bad)
			return PROTO_BAD_REQUEST;
		if (req == NULL) {
			mark_bad(p, p->nlines ? "no request attribute"
					      : "empty request");
			return PROTO_BAD_REQUEST;
		}
		if (strcmp(req, "smtpd_access_policy") != 0) {
			mark_bad(p, "request type is not smtpd_access_policy");
			return PROTO_BAD_REQUEST;
		}
		return PROTO_REQUEST;
	}

	p->linelen = 0;
	if (++p->nlines > PROTO_MAX_ATTRS)
		mark_bad(p, "more than %d attributes", PROTO_MAX_ATTRS);
	if (p->line_long || len > PROTO_MAX_LINE) {
		p->line_long = false;
		mark_bad(p, "line %u longer than %d bytes", p->nlines,
		    PROTO_MAX_LINE);
		return PROTO_NEED_MORE;
	}
	if (p->bad)
		return PROTO_NEED_MORE;
	if (memchr(line, '\0', len) != NULL) {
		mark_bad(p, "line %u contains a NUL byte", p->nlines);
		return PROTO_NEED_MORE;
	}
	if ((eq = memchr(line, '=', len)) == NULL) {
		mark_bad(p, "line %u has no '='", p->nlines);
		return PROTO_NEED_MORE;
	}
	if (eq == line) {
		mark_bad(p, "line %u has an empty attribute name", p->nlines);
		return PROTO_NEED_MORE;
	}
	if ((a = proto_attr_lookup(line, (size_t)(eq - line))) < 0)
		return PROTO_NEED_MORE; /* unknown: ignored */

	/* Keep the value: slide it down to the end of the stored values. */
	{
		size_t vlen = len - (size_t)(eq + 1 - line);

		memmove(p->buf + p->vallen, eq + 1, vlen);
		p->buf[p->vallen + vlen] = '\0';
		p->val[a] = (unsigned)p->vallen + 1;
		p->vallen += vlen + 1;
	}
	return PROTO_NEED_MORE;
}

/* proto_feed - consume input up to the end of one request */
size_t
proto_feed(struct proto_parser *p, const char *buf, size_t len,
    enum proto_event *ev)
{
	size_t i = 0;

	if (p->ended)
		request_reset(p);
	*ev = PROTO_NEED_MORE;
	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t chunk = nl ? (size_t)(nl - (buf + i)) : len - i;

		if (p->reqbytes + chunk + (nl != NULL) > PROTO_MAX_REQUEST) {
			snprintf(p->why, sizeof(p->why),
			    "request longer than %d bytes", PROTO_MAX_REQUEST);
			*ev = PROTO_FATAL;
			return i;
		}
		p->reqbytes += chunk + (nl != NULL);
		line_append(p, buf + i, chunk);
		i += chunk;
		if (nl == NULL)
			break;
		i++;
		*ev = line_end(p);
		if (*ev != PROTO_NEED_MORE)
			return i;
	}
	return i;
}

/* proto_pending - part of a request is buffered */
bool
proto_pending(const struct proto_parser *p)
{
	return !p->ended && p->reqbytes > 0;
}

/* proto_get - value of an attribute of the request that ended */
const char *
proto_get(const struct proto_parser *p, enum proto_attr a)
{
	if ((unsigned)a >= PA_COUNT || p->val[a] == 0)
		return NULL;
	return p->buf + p->val[a] - 1;
}

/* proto_values - the block of the ended request's values */
const char *
proto_values(const struct proto_parser *p, size_t *len)
{
	*len = p->buf != NULL ? p->vallen : 0;
	return *len > 0 ? p->buf : NULL;
}

/* proto_why - reason for a bad request or a fatal error */
const char *
proto_why(const struct proto_parser *p)
{
	return p->why;
}

/* proto_reply - "action=TEXT\n\n", TEXT cleaned and bounded */
size_t
proto_reply(char *out, const char *action, size_t len)
{
	size_t o = 0, i, start;

	memcpy(out, "action=", 7);
	o = start = 7;
	if (len <= PROTO_MAX_ACTION && memchr(action, '\n', len) == NULL &&
	    memchr(action, '\r', len) == NULL &&
	    memchr(action, '\0', len) == NULL) {
		/* The common case, a reply of ours: nothing to take out or
		 * cut, one copy (not a byte at a time, per request). */
		memcpy(out + o, action, len);
		o += len;
		len = 0;
	}
	for (i = 0; i < len; i++) {
		char c = action[i];

		if (c == '\r' || c == '\n' || c == '\0')
			continue;
		if (o - start == PROTO_MAX_ACTION) {
			/* Cut before a UTF-8 sequence that would not fit. */
			if (((unsigned char)c & 0xc0) == 0x80) {
				while (o > start &&
				    ((unsigned char)out[o - 1] & 0xc0) == 0x80)
					o--;
				if (o > start &&
				    ((unsigned char)out[o - 1] & 0xc0) == 0xc0)
					o--;
			}
			break;
		}
		out[o++] = c;
	}
	while (o > start && out[o - 1] == ' ')
		o--; /* Postfix would keep trailing blanks in the text */
	out[o++] = '\n';
	out[o++] = '\n';
	out[o] = '\0';
	return o;
}
