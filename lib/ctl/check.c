/*
 * check - the real pipeline with the host's resolver and store for one
 * request, made up from the options as Postfix would send it, or read
 * whole from the input lines; changes no state, and prints each check,
 * the score and the exact reply the daemon gives the same request.
 */
#include "ctl_int.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "arena.h"
#include "config.h"
#include "pipeline.h"
#include "proto.h"
#include "request.h"
#include "verdict.h"

struct check {
	struct ctl_job *j;
	struct arena *a;
	struct proto_parser pp;
	struct pipeline_env env;
	struct pipeline *p;
	struct req req;
	struct verdict v;
	bool parsing;
};

static void
check_free(void *arg)
{
	struct check *c = arg;

	if (c->p != NULL)
		pipeline_cancel(c->p);
	msg_fini(&c->env.msg);
	proto_fini(&c->pp);
	arena_free(c->a);
	free(c);
}

/* show - the verdict, for people */
static void
show(struct ctl_job *j)
{
	struct check *c = j->state;
	const struct req *req = &c->req;
	const struct verdict *v = &c->v;
	char reply[PROTO_REPLY_SIZE];
	const char *ours;
	size_t k;

	ctl_out(j, "request: client=%s name=%s%s helo=%s sender=%s%s%s "
		   "recipient=%s%s%s\n", req->client_addr,
	    req->reverse_name ? req->reverse_name : "-",
	    req->client_name ? " (verified)" : "",
	    req->helo ? req->helo : "-", req->sender.full ? "<" : "",
	    req->sender.full ? req->sender.full : "-",
	    req->sender.full ? ">" : "", req->rcpt.full ? "<" : "",
	    req->rcpt.full ? req->rcpt.full : "-", req->rcpt.full ? ">" : "");
	if (strcmp(req->protocol_state, "RCPT") != 0 || req->stress ||
	    req->policy_context || req->sasl_username)
		ctl_out(j, "postfix: protocol_state=%s%s%s%s%s%s\n",
		    req->protocol_state[0] ? req->protocol_state : "-",
		    req->stress ? " stress=yes" : "",
		    req->policy_context ? " policy_context=" : "",
		    req->policy_context ? req->policy_context : "",
		    req->sasl_username ? " sasl_username=" : "",
		    req->sasl_username ? req->sasl_username : "");
	/* Our own users' mail skips the checks: say so, and why. */
	if ((ours = cfg_our_user_why(j->cfg, req)) != NULL) {
		const char *why = strcmp(ours, "local:sasl") == 0
		    ? "logged in: sasl_username"
		    : strcmp(ours, "local:network") == 0
		    ? "client in local_networks"
		    : "policy_context in local_contexts";

		ctl_out(j, "our user: checks skipped (%s, %s); only what "
			   "records our users' mail runs\n", why, ours);
	}
	ctl_out(j, "%-13s %-9s %-7s %5s  %s\n", "CHECK", "RESULT", "ON_FAIL",
	    "SCORE", "REASON");
	for (k = 0; k < v->nreports; k++) {
		const struct chk_report *r = &v->reports[k];
		char score[16] = "-";

		if (r->score)
			snprintf(score, sizeof(score), "+%d", r->score);
		ctl_out(j, "%-13s %-9s %-7s %5s  %s (%llums)\n", r->name,
		    r->status, r->on_fail, score, r->reason,
		    (unsigned long long)r->ms);
	}
	ctl_out(j, "score: %d (reject at %d, greylist at %d)\n", v->score,
	    j->cfg->score_reject, j->cfg->score_greylist);
	ctl_out(j, "decided by: %s\n", v->rule);
	proto_reply(reply, v->action, strlen(v->action));
	reply[strcspn(reply, "\n")] = '\0';
	ctl_out(j, "reply: %s\n", reply);
	ctl_finish(j, CTL_OK);
}

/* decided - the pipeline's verdict */
static void
decided(void *arg, const struct verdict *v, const char *trace)
{
	struct ctl_job *j = arg;
	struct check *c = j->state;

	(void)trace;
	c->p = NULL;
	c->v = *v;
	ctl_then(j, show, 0);
}

/* decide - run the pipeline on c->req */
static void
decide(struct ctl_job *j)
{
	struct check *c = j->state;
	struct ctl_host *h = j->host;

	c->env.store = h->store;
	c->env.dry = true;
	c->env.hostname = j->cfg->hostname ? j->cfg->hostname
					   : (h->offline ? "policyctl"
							 : "policyd");
	c->env.now = j->now;
	if (pipeline_decide(h->loop, j->cfg, h->dns, &c->req, &c->env,
	    decided, j, &c->p, &c->v) != 0)
		ctl_then(j, show, 0);
}

/* request_input - the request's lines, as Postfix sends them */
static void
request_input(struct ctl_job *j, const char *line, size_t len, bool eof)
{
	struct check *c = j->state;
	enum proto_event ev = PROTO_NEED_MORE;
	struct why why;
	size_t off = 0;
	char nl = '\n';

	if (!c->parsing)
		return;
	if (eof) {
		ctl_usage_error(j, "check --request -: the request ends before "
		    "its empty line");
		return;
	}
	while (off < len && ev == PROTO_NEED_MORE) {
		size_t n = proto_feed(&c->pp, line + off, len - off, &ev);

		if (n == 0)
			break;
		off += n;
	}
	if (ev == PROTO_NEED_MORE)
		proto_feed(&c->pp, &nl, 1, &ev);
	if (ev == PROTO_NEED_MORE)
		return;
	c->parsing = false;
	j->on_input = NULL;
	if (j->sink.want_input != NULL)
		j->sink.want_input(j->sink.arg, false);
	if (ev != PROTO_REQUEST) {
		ctl_usage_error(j, "check --request -: %s", proto_why(&c->pp));
		return;
	}
	if (req_from_parser(&c->req, c->a, &c->pp, &j->cfg->net, &why) < 0) {
		ctl_usage_error(j, "check --request -: %s", why.text);
		return;
	}
	ctl_then(j, decide, 0);
}

/* ctl_check - options or --request -, then the pipeline */
int
ctl_check(struct ctl_job *j, int argc, char **argv)
{
	enum { O_ADDR = 256, O_NAME, O_REVERSE, O_HELO, O_SENDER, O_RCPT,
		O_STATE, O_STRESS, O_CONTEXT, O_SASL, O_INSTANCE, O_REQUEST };
	static const struct option opts[] = {
		{ "client-address", required_argument, NULL, O_ADDR },
		{ "client-name", required_argument, NULL, O_NAME },
		{ "reverse-name", required_argument, NULL, O_REVERSE },
		{ "helo", required_argument, NULL, O_HELO },
		{ "sender", required_argument, NULL, O_SENDER },
		{ "recipient", required_argument, NULL, O_RCPT },
		{ "protocol-state", required_argument, NULL, O_STATE },
		{ "stress", no_argument, NULL, O_STRESS },
		{ "policy-context", required_argument, NULL, O_CONTEXT },
		{ "sasl-username", required_argument, NULL, O_SASL },
		{ "instance", required_argument, NULL, O_INSTANCE },
		{ "request", required_argument, NULL, O_REQUEST },
		{ NULL, 0, NULL, 0 },
	};
	struct check *c = xcalloc(1, sizeof(*c));
	const char *attrs[PA_COUNT] = { 0 };
	bool from_input = false, given = false;
	struct ipaddr ip;
	struct why why;
	int ch;

	c->j = j;
	c->a = arena_new();
	proto_init(&c->pp);
	j->state = c;
	j->free_state = check_free;
	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		given |= ch != O_REQUEST;
		switch (ch) {
		case O_ADDR:
			if (addr_parse(optarg, &ip) < 0)
				return ctl_usage_error(j, "--client-address: "
				    "\"%.80s\" is not an IP address", optarg);
			attrs[PA_CLIENT_ADDRESS] = optarg;
			break;
		case O_NAME:
			/* Postfix's verified name: it is the PTR name too. */
			attrs[PA_CLIENT_NAME] = optarg;
			if (attrs[PA_REVERSE_CLIENT_NAME] == NULL)
				attrs[PA_REVERSE_CLIENT_NAME] = optarg;
			break;
		case O_REVERSE:
			attrs[PA_REVERSE_CLIENT_NAME] = optarg;
			break;
		case O_HELO:
			attrs[PA_HELO_NAME] = optarg;
			break;
		case O_SENDER:
			attrs[PA_SENDER] = optarg;
			break;
		case O_RCPT:
			attrs[PA_RECIPIENT] = optarg;
			break;
		case O_STATE:
			attrs[PA_PROTOCOL_STATE] = optarg;
			break;
		case O_STRESS:
			attrs[PA_STRESS] = "yes";
			break;
		case O_CONTEXT:
			attrs[PA_POLICY_CONTEXT] = optarg;
			break;
		case O_SASL:
			attrs[PA_SASL_USERNAME] = optarg;
			break;
		case O_INSTANCE:
			attrs[PA_INSTANCE] = optarg;
			break;
		case O_REQUEST:
			if (strcmp(optarg, "-") != 0)
				return ctl_usage_error(j, "check --request: "
				    "only - (standard input)");
			from_input = true;
			break;
		default:
			return ctl_bad_option(j, ch, argv);
		}
	}
	if (optind != argc)
		return ctl_usage_error(j, "check: unexpected argument \"%.80s\"",
		    argv[optind]);
	if (from_input) {
		if (given)
			return ctl_usage_error(j, "check: --request - takes "
			    "the whole request from standard input, no other "
			    "attribute options");
		c->parsing = true;
		j->on_input = request_input;
		if (j->sink.want_input != NULL)
			j->sink.want_input(j->sink.arg, true);
		return 0;
	}
	if (attrs[PA_CLIENT_ADDRESS] == NULL)
		return ctl_usage_error(j, "check: needs --client-address IP");
	attrs[PA_REQUEST] = "smtpd_access_policy";
	if (attrs[PA_PROTOCOL_STATE] == NULL)
		attrs[PA_PROTOCOL_STATE] = "RCPT";
	if (req_build(&c->req, c->a, attrs, &j->cfg->net, &why) < 0)
		return ctl_usage_error(j, "check: %s", why.text);
	ctl_then(j, decide, 0);
	return 0;
}
