/*
 * msg - what one message (Postfix's instance) has had on a connection: a
 * memo block per check (spf keeps its result there for the message's
 * other recipients) and the headers owed to the message. A policy reply
 * carries one action, so headers are queued and go out one per DUNNO
 * reply (RCPT, then DATA), in the order they were queued.
 *
 * The connection owns its struct msg; msg_begin() keeps it for a request
 * of the same instance and clears it for any other (or for none).
 */
#ifndef POLICYD_MSG_H
#define POLICYD_MSG_H

#include <stdbool.h>
#include <stddef.h>

struct arena;
struct req;

#define MSG_MAX_HEADERS 4
#define MSG_HEADER_MAX  500
#define MSG_MEMO_SLOTS  16   /* checks that keep something per message */
#define MSG_MEMO_MAX    1024 /* bytes of one check's memo */

struct msg {
	char instance[64];       /* "": no instance, nothing is kept */
	/* Each check's block, by registry index; NULL until asked for. */
	unsigned char *memo[MSG_MEMO_SLOTS];
	size_t memo_size[MSG_MEMO_SLOTS];
	char headers[MSG_MAX_HEADERS][MSG_HEADER_MAX + 1];
	unsigned nheaders;       /* queued */
	unsigned sent;           /* of them, prepended */
	/* An allowlist that vouched for the client earlier in the message
	 * (CHK_ID_TRUSTED): a list's name, at most 60 characters (dnsbl's
	 * bound); "" if none. */
	char trusted[64];
};

/* msg_begin - a request: keep the message state, or start anew */
void msg_begin(struct msg *m, const struct req *req);
/*
 * msg_memo - slot's block of size bytes (at most MSG_MEMO_MAX), zeroed
 * when the message began; NULL when there is no instance to keep it for
 */
void *msg_memo(struct msg *m, unsigned slot, size_t size);
/* msg_queue_header - a header owed to the message; false if full */
bool msg_queue_header(struct msg *m, const char *header);
/*
 * msg_flush_header - the action, or PREPEND of the next queued header
 * when the action is DUNNO (never at END-OF-MESSAGE, where Postfix
 * cannot prepend); from the arena
 */
const char *msg_flush_header(struct msg *m, const struct req *req,
    struct arena *a, const char *action);
/* msg_fini - free what the memo holds */
void msg_fini(struct msg *m);

#endif
