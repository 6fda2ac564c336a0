/*
 * msg - the per-message memo and header queue of a connection.
 */
#include "msg.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "request.h"
#include "xalloc.h"

/* msg_begin - the same message keeps its state */
void
msg_begin(struct msg *m, const struct req *req)
{
	size_t i;

	if (req->instance[0] != '\0' && strcmp(m->instance, req->instance) == 0)
		return;
	/* The blocks stay allocated for the next message, zeroed. */
	for (i = 0; i < MSG_MEMO_SLOTS; i++)
		if (m->memo[i] != NULL)
			memset(m->memo[i], 0, m->memo_size[i]);
	m->nheaders = m->sent = 0;
	m->trusted[0] = '\0';
	m->instance[0] = '\0';
	/* An instance we cannot keep whole is never matched again. */
	if (strlen(req->instance) < sizeof(m->instance))
		memcpy(m->instance, req->instance, strlen(req->instance) + 1);
}

/* msg_memo - a check's block, allocated on first use */
void *
msg_memo(struct msg *m, unsigned slot, size_t size)
{
	if (m->instance[0] == '\0' || slot >= MSG_MEMO_SLOTS ||
	    size > MSG_MEMO_MAX)
		return NULL;
	if (m->memo[slot] == NULL || m->memo_size[slot] < size) {
		m->memo[slot] = xrealloc(m->memo[slot], size);
		memset(m->memo[slot], 0, size);
		m->memo_size[slot] = size;
	}
	return m->memo[slot];
}

/* msg_queue_header - owed to the message, prepended later */
bool
msg_queue_header(struct msg *m, const char *header)
{
	if (m->nheaders >= MSG_MAX_HEADERS || strlen(header) > MSG_HEADER_MAX)
		return false;
	memcpy(m->headers[m->nheaders++], header, strlen(header) + 1);
	return true;
}

/* msg_flush_header - the next owed header rides on a DUNNO */
const char *
msg_flush_header(struct msg *m, const struct req *req, struct arena *a,
    const char *action)
{
	if (m->sent >= m->nheaders || strcasecmp(action, "DUNNO") != 0 ||
	    strcmp(req->protocol_state, "END-OF-MESSAGE") == 0)
		return action;
	return arena_printf(a, "PREPEND %s", m->headers[m->sent++]);
}

/* msg_fini - the memo blocks */
void
msg_fini(struct msg *m)
{
	size_t i;

	for (i = 0; i < MSG_MEMO_SLOTS; i++) {
		free(m->memo[i]);
		m->memo[i] = NULL;
	}
}
