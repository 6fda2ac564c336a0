/*
 * dynamic, dynamic_helo - the client's PTR name (dynamic) or its HELO
 * name (dynamic_helo, scored separately) looks like a dial-in or dynamic
 * pool: such hosts should send through their provider's relay.
 */
#include "chk.h"

#include "addr.h"
#include "dynamic.h"
#include "request.h"

/* judge - one name */
static void
judge(struct chk_run *run, const char *what, const char *name)
{
	const struct req *req = chk_req(run);
	char why[160];

	if (name == NULL || name[0] == '[') {
		chk_done(run, CHK_NEUTRAL, "no %s", what);
		return;
	}
	if (dyn_classify(name, req->has_client_ip ? &req->client_ip : NULL,
	    chk_policy(run)->patterns, why, sizeof(why)))
		chk_done(run, CHK_FAIL, "%s %s looks like a dial-in or dynamic "
					"address (%s)", what, name, why);
	else
		chk_done(run, CHK_PASS, "%s %s looks static", what, name);
}

static void
dynamic_start(struct chk_run *run)
{
	const struct req *req = chk_req(run);

	judge(run, "PTR name",
	    req->reverse_name ? req->reverse_name : req->client_name);
}

static void
dynamic_helo_start(struct chk_run *run)
{
	judge(run, "HELO", chk_req(run)->helo);
}

const struct chk_ops chk_dynamic_ops = {
	.name = "dynamic",
	.dsn = "5.7.1",
	.text = "Client {client}: {reason}; mail from dial-in or dynamic "
		"addresses is not accepted here: send through your provider's "
		"mail relay, or ask for a static address with a proper name",
	.start = dynamic_start,
};

const struct chk_ops chk_dynamic_helo_ops = {
	.name = "dynamic_helo",
	.dsn = "5.7.1",
	.text = "Client {client}: {reason}; greet with the server's own "
		"static name",
	.start = dynamic_helo_start,
};
