/*
 * dunnod - the do-nothing policy server the benchmarks compare against:
 * it reads requests and answers each "action=DUNNO" at once, with no
 * parsing but the blank line that ends a request, on a libuv loop as
 * policyd is. What the machine does for one request with no decision
 * at all: policyd's figures are reported as ratios to it.
 *
 *   dunnod [PORT]      (127.0.0.1; 0, the default: a free one)
 *
 * Prints "listening on inet:127.0.0.1:N" on standard error, as policyd
 * logs it, so t/bench/port.sh finds the port the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct client {
	uv_tcp_t h;
	char in[65536];
	size_t len;
	int nl;              /* a newline just ended the last line */
};

static const char reply[] = "action=DUNNO\n\n";

static void
closed(uv_handle_t *h)
{
	free(h->data);
}

static void
alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
	struct client *c = h->data;

	(void)size;
	*b = uv_buf_init(c->in, sizeof(c->in));
}

static void
got(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct client *c = s->data;
	char out[sizeof(reply) * 256];
	size_t k = 0;
	ssize_t i;

	if (n < 0) {
		uv_close((uv_handle_t *)s, closed);
		return;
	}
	for (i = 0; i < n; i++) {
		if (b->base[i] != '\n') {
			c->nl = 0;
			continue;
		}
		if (c->nl) {
			if (k + sizeof(reply) - 1 > sizeof(out)) {
				uv_buf_t o = uv_buf_init(out, (unsigned)k);

				uv_try_write(s, &o, 1);
				k = 0;
			}
			memcpy(out + k, reply, sizeof(reply) - 1);
			k += sizeof(reply) - 1;
			c->nl = 0;
		} else {
			c->nl = 1;
		}
	}
	if (k > 0) {
		uv_buf_t o = uv_buf_init(out, (unsigned)k);

		uv_try_write(s, &o, 1); /* a benchmark: the socket has room */
	}
}

static void
accepted(uv_stream_t *srv, int status)
{
	struct client *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	uv_tcp_init(srv->loop, &c->h);
	c->h.data = c;
	if (uv_accept(srv, (uv_stream_t *)&c->h) < 0) {
		uv_close((uv_handle_t *)&c->h, closed);
		return;
	}
	uv_tcp_nodelay(&c->h, 1);
	uv_read_start((uv_stream_t *)&c->h, alloc, got);
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	struct sockaddr_in a;
	uv_tcp_t srv;
	int len = sizeof(ss);

	uv_tcp_init(uv_default_loop(), &srv);
	uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 0, &a);
	if (uv_tcp_bind(&srv, (struct sockaddr *)&a, 0) < 0 ||
	    uv_listen((uv_stream_t *)&srv, 4096, accepted) < 0) {
		fprintf(stderr, "dunnod: cannot listen\n");
		return 1;
	}
	uv_tcp_getsockname(&srv, (struct sockaddr *)&ss, &len);
	fprintf(stderr, "listening on inet:127.0.0.1:%u\n",
	    ntohs(((struct sockaddr_in *)&ss)->sin_port));
	return uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}
