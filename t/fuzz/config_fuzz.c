/*
 * config_fuzz - libFuzzer target: any bytes as a policy file. Either a
 * config or a "file:line:column: message", never a crash or a leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct why why;
	struct cfg *cfg;

	why.text[0] = '\0';
	cfg = cfg_parse("fuzz.yaml", (const char *)data, size, &why);
	if (cfg == NULL && strncmp(why.text, "fuzz.yaml", 9) != 0)
		__builtin_trap(); /* every error names the file */
	cfg_unref(cfg);
	return 0;
}
