/*
 * dynamic_fuzz - libFuzzer target: a PTR or HELO name a stranger chose
 * (any bytes, any length) and an address, through the dial-in
 * classifier with the shipped pattern file; the verdict's invariants.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"
#include "dynamic.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dyn_patterns *pats;
static bool loaded;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[600];
	struct ipaddr ip;
	struct dyn_verdict v;
	struct why why;

	if (!loaded) {
		pats = dyn_patterns_load(SOURCE_DIR "/etc/dynamic.txt", &why);
		loaded = true;
	}
	if (size < 4)
		return 0;
	/* The first four bytes are the client's IPv4 address. */
	memset(&ip, 0, sizeof(ip));
	addr_parse("192.0.2.1", &ip);
	memcpy(ip.a, data, 4);
	size -= 4;
	if (size >= sizeof(name))
		size = sizeof(name) - 1;
	memcpy(name, data + 4, size);
	name[size] = '\0';
	dyn_judge(name, &ip, pats, &v);
	if (v.level > DYN_CERTAIN || (v.exempt && v.level != DYN_NO) ||
	    strlen(v.why) >= sizeof(v.why) ||
	    (v.level != DYN_NO) != (v.signals > 0))
		__builtin_trap();
	return 0;
}
