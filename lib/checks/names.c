/*
 * names - syntax of host names and local parts, shared by the checks.
 */
#include "chk.h"

#include <ctype.h>
#include <string.h>

/* chk_is_fqdn - RFC 1123 host name with at least two labels */
bool
chk_is_fqdn(const char *s)
{
	size_t len = strlen(s), label = 0, labels = 0, i;
	bool alldigits = true;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '.';

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			labels++;
			if (i < len)
				alldigits = true;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return false;
		if (label == 0 && c == '-')
			return false;
		if (!isdigit((unsigned char)c))
			alldigits = false;
		if (++label > 63)
			return false;
	}
	return labels >= 2 && !alldigits;
}

/* atext - RFC 5322 atext */
static bool
atext(char c)
{
	return isalnum((unsigned char)c) || strchr("!#$%&'*+-/=?^_`{|}~", c);
}

/* chk_local_ok - dot-string or quoted-string, at most 64 octets */
bool
chk_local_ok(const char *s)
{
	size_t len = strlen(s), i;

	if (len == 0 || len > 64)
		return false;
	if (s[0] == '"') {
		if (len < 2 || s[len - 1] != '"')
			return false;
		for (i = 1; i + 1 < len; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c == '\\') {
				/* The escaped octet must come before the quote. */
				if (++i >= len - 1)
					return false;
				continue;
			}
			if (c < 32 || c == 127 || c == '"')
				return false;
		}
		return true;
	}
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (i == 0 || i + 1 == len || s[i + 1] == '.')
				return false;
		} else if (!atext(s[i]) && (unsigned char)s[i] < 0x80) {
			return false; /* UTF-8 (SMTPUTF8) octets are let by */
		}
	}
	return true;
}
