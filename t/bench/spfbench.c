/*
 * spfbench - SPF evaluations per second against dnsd, DNS cached after
 * the first round: what the evaluator itself costs.
 *
 *   spfbench PORT DOMAIN N
 *
 * Evaluates check_host(192.0.2.N%250, DOMAIN) N times, 50 in flight.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <uv.h>

#include "dns.h"
#include "spf.h"

/* on_resolver - the evaluator asks the resolver itself */
static const struct spf_resolver *
on_resolver(struct dns *dns)
{
	static struct spf_resolver r;

	spf_resolver_dns(&r, dns);
	return &r;
}

static struct dns *dns;
static const char *domain;
static unsigned long total, started, finished, counts[7];
static struct ipaddr ips[250];

static void next(void);

static void
on_done(void *arg, enum spf_result r, const char *expl, const char *why)
{
	(void)arg;
	(void)expl;
	(void)why;
	counts[r]++;
	finished++;
	next();
}

static void
next(void)
{
	struct spf_params p = { 0 };
	struct spf_check *c;
	enum spf_result now;

	if (started == total)
		return;
	p.ip = &ips[started % 250];
	p.sender = "user@bench.example";
	p.domain = domain;
	p.helo = "mx.client.example";
	started++;
	if (spf_check(on_resolver(dns), &p, on_done, NULL, &c, &now) != 0) {
		counts[now]++;
		finished++;
		next();
	}
}

int
main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct dns_opts o;
	uv_loop_t loop;
	char srv[64];
	int i;

	if (argc != 4)
		return 2;
	domain = argv[2];
	uv_loop_init(&loop);
	dns_opts_defaults(&o);
	snprintf(srv, sizeof(srv), "127.0.0.1:%s", argv[1]);
	dns_server_parse(srv, &o.servers[o.nservers++], NULL);
	dns = dns_new(&loop, &o, NULL);
	for (i = 0; i < 250; i++) {
		char a[32];

		snprintf(a, sizeof(a), "192.0.2.%d", i + 1);
		addr_parse(a, &ips[i]);
	}
	/* Warm the cache. */
	total = 250;
	next();
	while (finished < total)
		uv_run(&loop, UV_RUN_ONCE);
	started = finished = 0;
	for (i = 0; i < 7; i++)
		counts[i] = 0;
	total = strtoul(argv[3], NULL, 10);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 50; i++)
		next();
	while (finished < total)
		uv_run(&loop, UV_RUN_ONCE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	{
		double s = (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

		printf("evaluations=%lu seconds=%.3f per_second=%.0f pass=%lu "
		       "fail=%lu softfail=%lu other=%lu\n", total, s,
		    (double)total / s, counts[SPF_PASS], counts[SPF_FAIL],
		    counts[SPF_SOFTFAIL], total - counts[SPF_PASS] -
		    counts[SPF_FAIL] - counts[SPF_SOFTFAIL]);
	}
	dns_close(dns);
	uv_run(&loop, UV_RUN_DEFAULT);
	return 0;
}
