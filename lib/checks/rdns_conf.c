/*
 * rdns_conf - what the rdns check is: its texts; rdns.c runs it.
 */
#include "chk.h"

const struct chk_def chk_rdns_def = {
	.name = "rdns",
	.flags = CHK_F_DNS,
	.dsn = "5.7.25",
	.text = "Client {client} has no reverse DNS (PTR) record; ask the "
		"owner of this IP address to publish one",
	.tempfail_text = "The reverse DNS (PTR) of client {client} could not "
			 "be looked up just now; please try again later",
};
