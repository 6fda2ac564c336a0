/*
 * sender_conf - what the sender check is: its texts; sender.c runs it.
 */
#include "chk.h"

const struct chk_def chk_sender_def = {
	.name = "sender",
	.flags = CHK_F_DNS,
	.dsn = "5.7.1",
	.text = "The envelope sender is not usable: {reason}; use an address "
		"at a domain that exists and receives mail",
	.tempfail_text = "The domain of the sender address {sender} could "
			 "not be looked up in DNS just now; please try again "
			 "later",
};
