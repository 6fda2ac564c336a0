/*
 * spfcheck - the SPF evaluator from the command line, for the openspf
 * suite runner (suite.py). Reads lines "IP<TAB>MAILFROM<TAB>HELO" on
 * standard input, writes "RESULT<TAB>EXPLANATION" for each.
 *
 *   spfcheck PORT      (nameserver 127.0.0.1:PORT, i.e. dnsd)
 *
 * The identity as RFC 7208 section 2.4 and 4.3 say: MAIL FROM, or
 * postmaster@HELO for an empty one; a MAIL FROM without '@' is
 * postmaster@ that domain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "dns.h"
#include "spf.h"

struct got {
	int done;
	enum spf_result r;
	char expl[1024];
};

/* on_resolver - the evaluator asks the resolver itself */
static const struct spf_resolver *
on_resolver(struct dns *dns)
{
	static struct spf_resolver r;

	spf_resolver_dns(&r, dns);
	return &r;
}

static void
on_done(void *arg, enum spf_result r, const char *expl, const char *why)
{
	struct got *g = arg;

	(void)why;
	g->done = 1;
	g->r = r;
	snprintf(g->expl, sizeof(g->expl), "%s", expl ? expl : "");
}

int
main(int argc, char **argv)
{
	char line[4096], srv[64];
	struct dns_opts o;
	uv_loop_t loop;
	struct dns *dns;

	if (argc != 2) {
		fprintf(stderr, "usage: spfcheck PORT\n");
		return 2;
	}
	uv_loop_init(&loop);
	dns_opts_defaults(&o);
	o.timeout_ms = 300;
	o.tries = 1;
	o.limit_ms = 2000;
	o.cache_size = 1; /* every test sees the zone afresh */
	snprintf(srv, sizeof(srv), "127.0.0.1:%s", argv[1]);
	if (dns_server_parse(srv, &o.servers[o.nservers++], NULL) < 0)
		return 2;
	dns = dns_new(&loop, &o, NULL);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *ip = strtok(line, "\t\n");
		const char *mf = strtok(NULL, "\t\n");
		char *helo = strtok(NULL, "\t\n"), sender[600];
		struct spf_params p = { 0 };
		struct got g = { 0 };
		struct spf_check *c;
		enum spf_result now;
		struct ipaddr addr;
		const char *at;

		if (ip == NULL || mf == NULL || helo == NULL ||
		    addr_parse(ip, &addr) < 0) {
			printf("error\tbad input\n");
			fflush(stdout);
			continue;
		}
		if (strcmp(mf, "-") == 0)
			mf = "";
		if (*mf == '\0')
			snprintf(sender, sizeof(sender), "postmaster@%s", helo);
		else if (strchr(mf, '@') == NULL)
			snprintf(sender, sizeof(sender), "postmaster@%s", mf);
		else
			snprintf(sender, sizeof(sender), "%s", mf);
		at = strrchr(sender, '@');
		p.ip = &addr;
		p.sender = sender;
		p.domain = at + 1;
		p.helo = helo;
		p.receiver = "unknown";
		p.now = (int64_t)time(NULL);
		switch (spf_check(on_resolver(dns), &p, on_done, &g, &c, &now)) {
		case 1:
			g.r = now;
			break;
		case 0:
			while (!g.done)
				uv_run(&loop, UV_RUN_ONCE);
			break;
		default:
			printf("error\tcannot ask\n");
			fflush(stdout);
			continue;
		}
		printf("%s\t%s\n", spf_result_name(g.r), g.expl);
		fflush(stdout);
	}
	dns_close(dns);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return 0;
}
