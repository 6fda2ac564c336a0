/*
 * maillog_fuzz - libFuzzer target: a mail log a stranger's addresses and
 * server replies went into, line by line through one reader (so that
 * qmgr and smtp lines of a queue ID meet), each delivery checked for the
 * bounds the importer relies on.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "maillog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct maillog *m = maillog_new(1764700000);
	const char *p = (const char *)data, *end = p + size;
	struct maillog_sent d;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (maillog_line(m, p, len, &d)) {
			/* Addresses as the importer takes them: bounded,
			 * with a domain after the last '@'. */
			if (strlen(d.sender) > MAILLOG_ADDR_MAX ||
			    strlen(d.rcpt) > MAILLOG_ADDR_MAX ||
			    strrchr(d.sender, '@') == NULL ||
			    strrchr(d.rcpt, '@')[1] == '\0')
				__builtin_trap();
		}
		p += len + 1;
	}
	maillog_free(m);
	return 0;
}
