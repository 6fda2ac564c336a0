/*
 * whitelist - the whitelist table's keys (whitelist.h).
 */
#include "whitelist.h"

#include <ctype.h>
#include <string.h>

#include "access.h"
#include "xalloc.h"

char *
whitelist_norm(const char *s, struct why *why)
{
	const char *at = strrchr(s, '@');
	char *out;
	size_t i;

	if (access_wildcard(s, why))
		return NULL;
	if (at == NULL || at[1] == '\0' || strlen(s) > WL_ADDR_MAX ||
	    strpbrk(s, " \t\r\n<>") != NULL) {
		why_set(why, "\"%.80s\" is neither an address nor @domain", s);
		return NULL;
	}
	out = xstrdup(s);
	for (i = 0; out[i]; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return out;
}

size_t
whitelist_key(char *buf, size_t size, const char *rcpt, const char *sender)
{
	size_t rl = strlen(rcpt), sl = strlen(sender);

	if (rl == 0 || sl == 0 || rl + 1 + sl > size)
		return 0;
	memcpy(buf, rcpt, rl);
	buf[rl] = '\0';
	memcpy(buf + rl + 1, sender, sl);
	return rl + 1 + sl;
}
