/*
 * proto - the Postfix policy delegation protocol (SMTPD_POLICY_README):
 * an incremental, bounded parser of name=value lines ending in an empty
 * line, and the writer of the one-line reply.
 *
 * Input may arrive split at any byte, or several requests in one read:
 * proto_feed() consumes bytes up to the end of at most one request and
 * says what it found. CRLF is accepted as LF. Unknown attributes are
 * ignored; a repeated attribute keeps its last value.
 *
 * Malformed input makes the request bad, but the parser keeps reading to
 * the empty line that ends it, so the connection stays in step and the
 * request gets the safe answer: a line without '=', an empty name, a NUL
 * byte, a line longer than PROTO_MAX_LINE, more than PROTO_MAX_ATTRS lines,
 * no "request=smtpd_access_policy". Only a request that grows past
 * PROTO_MAX_REQUEST bytes without ending cannot be resynchronized: that
 * is fatal and the connection must be closed.
 *
 * Ownership: the parser owns the values; they are borrowed until the next
 * proto_feed() or proto_fini().
 */
#ifndef POLICYD_PROTO_H
#define POLICYD_PROTO_H

#include <stdbool.h>
#include <stddef.h>

/* Bounds, documented in doc/design.md and policyd(8). */
#define PROTO_MAX_LINE    4096  /* bytes in one line, without CR LF */
#define PROTO_MAX_ATTRS   128   /* lines in one request */
#define PROTO_MAX_REQUEST 65536 /* bytes of one request, newlines included */
#define PROTO_MAX_ACTION  512   /* bytes of reply text after "action=" */
/* Room a reply buffer needs: "action=" + text + "\n\n" + NUL. */
#define PROTO_REPLY_SIZE (PROTO_MAX_ACTION + 10)

/* Every attribute Postfix sends, up to 3.12. */
enum proto_attr {
	PA_REQUEST,
	PA_PROTOCOL_STATE,
	PA_PROTOCOL_NAME,
	PA_HELO_NAME,
	PA_QUEUE_ID,
	PA_SENDER,
	PA_RECIPIENT,
	PA_RECIPIENT_COUNT,
	PA_CLIENT_ADDRESS,
	PA_CLIENT_NAME,
	PA_REVERSE_CLIENT_NAME,
	PA_INSTANCE,
	PA_SASL_METHOD, /* 2.2 */
	PA_SASL_USERNAME,
	PA_SASL_SENDER,
	PA_SIZE,
	PA_CCERT_SUBJECT,
	PA_CCERT_ISSUER,
	PA_CCERT_FINGERPRINT,
	PA_ENCRYPTION_PROTOCOL, /* 2.3 */
	PA_ENCRYPTION_CIPHER,
	PA_ENCRYPTION_KEYSIZE,
	PA_ETRN_DOMAIN,
	PA_STRESS,                   /* 2.5 */
	PA_CCERT_PUBKEY_FINGERPRINT, /* 2.9 */
	PA_CLIENT_PORT,              /* 3.0 */
	PA_POLICY_CONTEXT,           /* 3.1 */
	PA_SERVER_ADDRESS,           /* 3.2 */
	PA_SERVER_PORT,
	PA_COMPATIBILITY_LEVEL, /* 3.8 */
	PA_MAIL_VERSION,
	PA_COUNT
};

enum proto_event {
	PROTO_NEED_MORE,   /* all input consumed, no request ended */
	PROTO_REQUEST,     /* a good request ended: read it with proto_get() */
	PROTO_BAD_REQUEST, /* a malformed request ended: proto_why() says why */
	PROTO_FATAL,       /* cannot resynchronize: close the connection */
};

/* The parser; embed it, but touch its members only through this API. */
struct proto_parser {
	char *buf;          /* current line, then the stored values */
	size_t bufsize;     /* allocated */
	size_t vallen;      /* bytes of stored values at the start of buf */
	size_t linelen;     /* bytes of the current line after vallen */
	size_t reqbytes;    /* bytes of the current request so far */
	unsigned nlines;    /* attribute lines of the current request */
	unsigned val[PA_COUNT]; /* offset + 1 into buf; 0: not sent */
	bool line_long;     /* current line passed PROTO_MAX_LINE */
	bool ended;         /* last feed ended a request; reset on next */
	bool bad;           /* current request is malformed */
	char why[160];      /* first reason it is malformed */
};

void proto_init(struct proto_parser *p);
void proto_fini(struct proto_parser *p);

/*
 * proto_feed - consume input; returns the bytes consumed, which are fewer
 * than len only when a request ended (or on PROTO_FATAL). The event says
 * what happened; call again with the rest.
 */
size_t proto_feed(struct proto_parser *p, const char *buf, size_t len,
    enum proto_event *ev);
/* proto_pending - bytes of an unfinished request are buffered */
bool proto_pending(const struct proto_parser *p);

/* proto_get - the attribute's value, or NULL if it was not sent */
const char *proto_get(const struct proto_parser *p, enum proto_attr a);
/*
 * proto_values - the values of the request that ended, one block of *len
 * bytes (each ends with a NUL) that every pointer proto_get() gives falls
 * in; NULL when no value was kept
 */
const char *proto_values(const struct proto_parser *p, size_t *len);
/* proto_why - why the last request was bad or the input fatal */
const char *proto_why(const struct proto_parser *p);
/* proto_attr_name - the attribute's name on the wire */
const char *proto_attr_name(enum proto_attr a);
/* proto_attr_lookup - the attribute of a name, or -1 if unknown */
int proto_attr_lookup(const char *name, size_t len);

/*
 * proto_reply - write "action=TEXT\n\n" into out (PROTO_REPLY_SIZE bytes).
 * CR, LF and NUL are removed from the text, which is cut to
 * PROTO_MAX_ACTION bytes (never inside a UTF-8 sequence). Returns the
 * length written, without the terminating NUL.
 */
size_t proto_reply(char *out, const char *action, size_t len);

#endif
