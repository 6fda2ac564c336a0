/*
 * cfgkeys - the loader's keys for the manual's test: loads a policy file
 * and prints, for each mapping the loader checked, "LINE:COLUMN" and the
 * keys it accepts there; exit 0 if the file loaded, 1 (with the error on
 * stderr) if not.
 *
 *   cfgkeys FILE
 */
#include <stdio.h>

#include "config.h"

/* seen - one mapping the loader checked */
static void
seen(unsigned line, unsigned column, const char *const keys[], size_t n)
{
	size_t i;

	printf("%u:%u", line, column);
	for (i = 0; i < n; i++)
		printf(" %s", keys[i]);
	printf("\n");
}

int
main(int argc, char **argv)
{
	struct why why;
	struct cfg *cfg;

	if (argc != 2) {
		fprintf(stderr, "usage: cfgkeys FILE\n");
		return 2;
	}
	cfg_set_key_observer(seen);
	if ((cfg = cfg_load(argv[1], &why)) == NULL) {
		fprintf(stderr, "%s\n", why.text);
		return 1;
	}
	cfg_unref(cfg);
	return 0;
}
