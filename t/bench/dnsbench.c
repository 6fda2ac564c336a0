/*
 * dnsbench - resolver throughput against dnsd on 127.0.0.1.
 *
 *   dnsbench PORT NAMES
 *
 * cold: NAMES distinct names (h0.bulk.example ... ), 100 questions in
 * flight, every one on the wire; cached: the same names again, all from
 * the cache, handed over on the next loop turn. Prints questions per
 * second for each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "dns.h"

static struct dns *dns;
static unsigned long total, started, answered, failed;
static const unsigned long window = 100;

static void ask_next(void);

static void
on_answer(void *arg, const struct dns_answer *a)
{
	(void)arg;
	answered++;
	if (a->status != DNS_OK)
		failed++;
	ask_next();
}

static void
ask_next(void)
{
	char name[64];

	if (started == total)
		return;
	snprintf(name, sizeof(name), "h%lu.bulk.example", started++);
	if (dns_query(dns, name, DNS_T_A, on_answer, NULL, NULL) < 0) {
		fprintf(stderr, "dnsbench: cannot ask %s\n", name);
		exit(1);
	}
}

static double
run(uv_loop_t *loop, const char *what)
{
	struct timespec t0, t1;
	unsigned long i;
	double secs;

	started = answered = failed = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < window; i++)
		ask_next();
	while (answered < total)
		uv_run(loop, UV_RUN_ONCE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%s: questions=%lu failed=%lu seconds=%.3f qps=%.0f\n", what,
	    total, failed, secs, (double)total / secs);
	return secs;
}

int
main(int argc, char **argv)
{
	struct dns_opts o;
	uv_loop_t loop;
	char srv[64];
	struct dns_stats st;

	if (argc != 3) {
		fprintf(stderr, "usage: dnsbench PORT NAMES\n");
		return 2;
	}
	total = strtoul(argv[2], NULL, 10);
	uv_loop_init(&loop);
	dns_opts_defaults(&o);
	o.cache_size = total + 10;
	snprintf(srv, sizeof(srv), "127.0.0.1:%s", argv[1]);
	if (dns_server_parse(srv, &o.servers[o.nservers++], NULL) < 0)
		return 2;
	dns = dns_new(&loop, &o, NULL);
	run(&loop, "cold");
	run(&loop, "cached");
	dns_get_stats(dns, &st);
	printf("asked=%llu cache_hits=%llu sent=%llu\n",
	    (unsigned long long)st.asked, (unsigned long long)st.cache_hits,
	    (unsigned long long)st.sent);
	dns_close(dns);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return 0;
}
