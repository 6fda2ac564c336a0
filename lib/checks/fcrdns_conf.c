/*
 * fcrdns_conf - what the fcrdns check is: its texts; fcrdns.c runs it.
 */
#include "chk.h"

const struct chk_def chk_fcrdns_def = {
	.name = "fcrdns",
	.flags = CHK_F_DNS,
	.dsn = "5.7.25",
	.text = "Reverse DNS of client {client} ({name}) does not resolve "
		"back to it; ask the owner of this IP address to make the "
		"PTR name's A/AAAA record point to it",
	.tempfail_text = "Whether the reverse DNS of client {client} resolves "
			 "back to it could not be checked just now; please "
			 "try again later",
};
