/*
 * states - Postfix's protocol_state names as the bits checks and the
 * policy file use (chk.h): a file of its own, so the policy loader needs
 * neither the pipeline nor the table of checks for it.
 */
#include "chk.h"

#include <string.h>
#include <strings.h>

#include "xalloc.h"

/* chk_state_bit - a protocol_state by Postfix's names */
unsigned
chk_state_bit(const char *state)
{
	static const struct {
		const char *name;
		unsigned bit;
	} states[] = { { "RCPT", CHK_ST_RCPT }, { "DATA", CHK_ST_DATA },
		{ "END-OF-MESSAGE", CHK_ST_EOM }, { "MAIL", CHK_ST_MAIL },
		{ "CONNECT", CHK_ST_CONNECT }, { "EHLO", CHK_ST_HELO },
		{ "HELO", CHK_ST_HELO }, { "VRFY", CHK_ST_VRFY },
		{ "ETRN", CHK_ST_ETRN } };
	size_t i;

	if (state == NULL || *state == '\0')
		return CHK_ST_NONE;
	for (i = 0; i < nitems(states); i++)
		if (strcasecmp(state, states[i].name) == 0)
			return states[i].bit;
	return CHK_ST_OTHER;
}
