/*
 * loadgen - policy protocol load generator for benchmarks.
 *
 *   loadgen [-c CONNECTIONS] [-n REQUESTS] [-p PIPELINE] [-s FIRST]
 *           [-m POOL] [-r RATE] [-S SLOW_US] HOST PORT
 *
 * Opens CONNECTIONS connections to HOST:PORT and keeps PIPELINE requests
 * outstanding on each (1 is what Postfix does: one request, one reply),
 * until REQUESTS replies have come back. Requests vary the client address
 * and sender so no two are alike. Prints requests per second and latency
 * percentiles. FIRST (default 0) numbers the first request: runs with
 * other numbers send other senders (new greylist triplets); POOL makes
 * the requests cycle through that many (a greylisting pool of known
 * triplets after the first round); RATE paces the requests to that many
 * per second in all (an open-loop load for soak runs and for latency at
 * a given load): each goes out at its time on the next connection in
 * turn that has room, and its latency counts from that time, so a
 * server that falls behind shows it however long a request waited for
 * a free connection. SLOW_US: for each tenth of a second in which a
 * reply took longer than that, a line on standard error with the wall
 * clock time (to set beside the daemon's log), how many did and the
 * longest: where a run's tail comes from. LOADGEN_DIST in the
 * environment: the latencies' shape too, every tenth and the tail, on
 * standard error. Loopback only: HOST must be an address literal.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct lconn {
	int fd;
	unsigned outstanding;
	uint64_t sent_at[64]; /* ring of send times */
	unsigned head, tail;
	char buf[65536];
	size_t len;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static unsigned long pool; /* -m: requests cycle through this many */
static unsigned long rate; /* -r: requests per second; 0: as fast as
			    * the replies come */
static uint64_t slow_ns; /* -S: replies slower than this are reported */
static struct {
	uint64_t tenth; /* wall clock, in tenths of a second */
	unsigned long n, slow;
	uint64_t max;
} slowest;

/* slow_flush - the tenth of a second that ended, if it had slow replies */
static void
slow_flush(void)
{
	if (slowest.slow > 0)
		fprintf(stderr, "slow: %llu.%llu replies=%lu slow=%lu "
				"max_us=%llu\n",
		    (unsigned long long)(slowest.tenth / 10),
		    (unsigned long long)(slowest.tenth % 10), slowest.n,
		    slowest.slow, (unsigned long long)(slowest.max / 1000));
	slowest.n = slowest.slow = 0;
	slowest.max = 0;
}

/* slow_note - one reply's latency, for -S */
static void
slow_note(uint64_t ns)
{
	struct timespec ts;
	uint64_t tenth;

	clock_gettime(CLOCK_REALTIME, &ts);
	tenth = (uint64_t)ts.tv_sec * 10 + (uint64_t)ts.tv_nsec / 100000000;
	if (tenth != slowest.tenth) {
		slow_flush();
		slowest.tenth = tenth;
	}
	slowest.n++;
	if (ns > slow_ns)
		slowest.slow++;
	if (ns > slowest.max)
		slowest.max = ns;
}

/* send_one - request number seq; due: its time (0: now) */
static void
send_one(struct lconn *c, unsigned long seq, uint64_t due)
{
	char req[512];
	int n;

	if (pool > 0)
		seq %= pool;
	n = snprintf(req, sizeof(req),
	    "request=smtpd_access_policy\nprotocol_state=RCPT\n"
	    "protocol_name=ESMTP\nclient_address=198.51.%lu.%lu\n"
	    "client_name=mail%lu.example.net\n"
	    "reverse_client_name=mail%lu.example.net\n"
	    "helo_name=mail%lu.example.net\nsender=user%lu@example.net\n"
	    "recipient=rcpt%lu@example.org\nqueue_id=Q%lu\n"
	    "instance=%lx.1\nsize=1234\n\n",
	    (seq >> 8) & 255, seq & 255, seq % 1000, seq % 1000, seq % 1000,
	    seq, seq % 50, seq, seq);
	if (write(c->fd, req, (size_t)n) != n) {
		perror("write");
		exit(1);
	}
	c->sent_at[c->head++ % 64] = due != 0 ? due : now_ns();
	c->outstanding++;
}

int
main(int argc, char **argv)
{
	unsigned long conns = 10, total = 100000, pipeline = 1, seq = 0;
	unsigned long done = 0, i, first = 0, turn = 0;
	struct sockaddr_in sin;
	struct lconn *cs;
	struct pollfd *pfd;
	uint64_t *lat, t0, t1, last;
	int ch;

	while ((ch = getopt(argc, argv, "c:n:p:s:m:r:S:")) != -1) {
		switch (ch) {
		case 'c':
			conns = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			total = strtoul(optarg, NULL, 10);
			break;
		case 'p':
			pipeline = strtoul(optarg, NULL, 10);
			break;
		case 's':
			first = strtoul(optarg, NULL, 10);
			break;
		case 'm':
			pool = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rate = strtoul(optarg, NULL, 10);
			break;
		case 'S':
			slow_ns = strtoull(optarg, NULL, 10) * 1000;
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2 || conns == 0 || total == 0 || pipeline == 0 ||
	    pipeline > 64)
		goto usage;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(argv[optind + 1]));
	if (inet_pton(AF_INET, argv[optind], &sin.sin_addr) != 1)
		goto usage;
	cs = calloc(conns, sizeof(*cs));
	pfd = calloc(conns, sizeof(*pfd));
	lat = calloc(total, sizeof(*lat));
	if (!cs || !pfd || !lat)
		return 1;
	for (i = 0; i < conns; i++) {
		int one = 1;

		cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(cs[i].fd, (struct sockaddr *)&sin, sizeof(sin)) <
		    0) {
			perror("connect");
			return 1;
		}
		setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		pfd[i].fd = cs[i].fd;
		pfd[i].events = POLLIN;
	}
	t0 = now_ns();
	if (rate == 0)
		for (i = 0; i < conns; i++)
			while (cs[i].outstanding < pipeline && seq < total)
				send_one(&cs[i], first + seq++, 0);
	last = now_ns();
	while (done < total) {
		struct timespec wait = { 10, 0 };
		int pr;

		if (rate > 0) {
			/* Paced: each request at its time, on the next
			 * connection in turn that has room (all of them
			 * carry the load); the rest wait for the next. */
			uint64_t now = now_ns(), due = 0;
			unsigned long k;

			for (k = 0; k < conns && seq < total; k++) {
				struct lconn *c = &cs[turn];

				turn = (turn + 1) % conns;
				if (c->outstanding >= pipeline)
					continue;
				due = t0 + seq * 1000000000ull / rate;
				if (now < due)
					break;
				send_one(c, first + seq++, due);
				last = now; /* a wait starts for this one */
				k = 0;
			}
			/* wake at the next one's time, not a tick later: the
			 * delay would count as the server's */
			if (seq < total && due > now) {
				wait.tv_sec = (time_t)((due - now) / 1000000000u);
				wait.tv_nsec = (long)((due - now) % 1000000000u);
			} else if (seq < total) {
				wait.tv_sec = 0;
				wait.tv_nsec = 1000000;
			}
		}
		pr = ppoll(pfd, conns, &wait, NULL);
		if (pr < 0 || (seq > done &&
		    now_ns() - last > 10000000000ull)) {
			fprintf(stderr, "loadgen: no reply for 10 s\n");
			return 1;
		}
		if (pr == 0)
			continue;
		for (i = 0; i < conns; i++) {
			struct lconn *c = &cs[i];
			ssize_t n;
			char *p;

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(c->fd, c->buf + c->len,
			    sizeof(c->buf) - c->len);
			if (n <= 0) {
				fprintf(stderr, "loadgen: connection %lu "
						"closed\n", i);
				return 1;
			}
			c->len += (size_t)n;
			while ((p = memmem(c->buf, c->len, "\n\n", 2)) !=
			    NULL) {
				size_t used = (size_t)(p + 2 - c->buf);

				last = now_ns();
				lat[done] = last - c->sent_at[c->tail++ % 64];
				if (slow_ns > 0)
					slow_note(lat[done]);
				done++;
				c->outstanding--;
				memmove(c->buf, c->buf + used, c->len - used);
				c->len -= used;
				if (seq < total && rate == 0)
					send_one(c, first + seq++, 0);
			}
		}
	}
	t1 = now_ns();
	if (slow_ns > 0)
		slow_flush();
	qsort(lat, total, sizeof(*lat), cmp_u64);
	printf("requests=%lu connections=%lu pipeline=%lu seconds=%.3f "
	       "rps=%.0f p50_us=%.0f p99_us=%.0f max_us=%.0f\n",
	    total, conns, pipeline, (double)(t1 - t0) / 1e9,
	    (double)total / ((double)(t1 - t0) / 1e9),
	    (double)lat[total / 2] / 1e3, (double)lat[total * 99 / 100] / 1e3,
	    (double)lat[total - 1] / 1e3);
	if (getenv("LOADGEN_DIST") != NULL) {
		/* the shape of the latencies: every tenth, and the tail */
		static const unsigned per_mille[] = { 100, 200, 300, 400, 500,
			600, 700, 800, 900, 950, 990, 999 };

		fprintf(stderr, "dist_us:");
		for (i = 0; i < sizeof(per_mille) / sizeof(*per_mille); i++)
			fprintf(stderr, " p%u=%.0f", per_mille[i],
			    (double)lat[total * per_mille[i] / 1000] / 1e3);
		fprintf(stderr, "\n");
	}
	for (i = 0; i < conns; i++)
		close(cs[i].fd);
	free(cs);
	free(pfd);
	free(lat);
	return 0;
usage:
	fprintf(stderr, "usage: loadgen [-c CONNECTIONS] [-n REQUESTS] "
			"[-p PIPELINE] [-s FIRST] [-m POOL] [-r RATE] "
			"[-S SLOW_US] ADDRESS PORT\n");
	return 2;
}
