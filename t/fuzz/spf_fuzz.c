/*
 * spf_fuzz - libFuzzer target: a stranger's TXT record as an SPF record;
 * every domain-spec and modifier of a record that parses is expanded.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "spf.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new();
	struct spf_macro_ctx c = { 0 };
	struct spf_record r;
	struct ipaddr ip;
	char out[SPF_MAX_EXPAND];
	char *txt;
	size_t i;

	txt = arena_strndup(a, (const char *)data, size);
	addr_parse(size % 2 ? "2001:db8::1" : "192.0.2.1", &ip);
	c.sender = "user+ext@example.org";
	c.domain = "example.org";
	c.ip = &ip;
	c.helo = "mx.example.org";
	if (spf_parse(a, txt, &r, NULL) == 0) {
		for (i = 0; i < r.nterms; i++)
			if (r.terms[i].domain)
				spf_expand(r.terms[i].domain, &c, false, out,
				    sizeof(out), NULL);
		if (r.redirect)
			spf_expand(r.redirect, &c, false, out, sizeof(out),
			    NULL);
		if (r.exp)
			spf_expand(r.exp, &c, true, out, sizeof(out), NULL);
	}
	/* Anything as an explanation string too. */
	spf_expand(txt, &c, true, out, sizeof(out), NULL);
	arena_free(a);
	return 0;
}
