/*
 * ctl_fuzz - libFuzzer target: a control socket's request line from a
 * stranger (a local user in the socket's group, or a broken tool). A
 * line that parses must encode back to a line that parses to the same
 * words; the command table must find or refuse its words without harm.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[CTL_LINE_MAX + 1], buf2[CTL_LINE_MAX + 1];
	static char line[CTL_LINE_MAX + 2];
	char *argv[CTL_ARGS_MAX + 1], *argv2[CTL_ARGS_MAX + 1];
	struct why why;
	size_t n;
	int argc, argc2, i;

	argc = ctl_parse((const char *)data, size, buf, sizeof(buf), argv,
	    CTL_ARGS_MAX + 1, &why);
	if (argc < 0)
		return 0;
	(void)ctl_find(argc, argv, &why);
	(void)ctl_reads_input(argc, argv);
	n = ctl_encode(line, sizeof(line), argc, argv);
	if (n == 0)
		return 0; /* escapes can make it longer than the limit */
	if (line[n - 1] != '\n')
		abort();
	argc2 = ctl_parse(line, n - 1, buf2, sizeof(buf2), argv2,
	    CTL_ARGS_MAX + 1, &why);
	if (argc2 != argc)
		abort();
	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], argv2[i]) != 0)
			abort();
	return 0;
}
