/*
 * proto_fuzz - libFuzzer target: bytes from a stranger into the policy
 * protocol parser (split at a point the input chooses), each request
 * normalized, decided by the static rules and logged, each reply written.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "config.h"
#include "proto.h"
#include "request.h"
#include "pipeline.h"
#include "verdict.h"
#include "checks/chk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cfg *cfg;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char policy[] =
	    "access:\n"
	    "  - client: [192.0.2.0/24, \"2001:db8::/32\"]\n"
	    "    action: OK\n"
	    "  - sender: [.spam.example, \"<>\", user@]\n"
	    "    client_name: .example.net\n"
	    "    action: REJECT no\n";
	struct proto_parser p;
	struct arena *a = arena_new();
	size_t cut, off = 0;

	if (cfg == NULL)
		cfg = cfg_parse("fuzz", policy, sizeof(policy) - 1, NULL);
	if (size == 0) {
		arena_free(a);
		return 0;
	}
	cut = data[0] % size;
	data++;
	size--;
	proto_init(&p);
	while (off < size) {
		size_t end = off < cut && cut <= size ? cut : size;
		enum proto_event ev;
		size_t n = proto_feed(&p, (const char *)data + off, end - off,
		    &ev);
		char out[PROTO_REPLY_SIZE];
		struct pipeline_env env = { 0 };
		struct verdict v;
		struct req req;

		off += n;
		if (ev == PROTO_FATAL)
			break;
		if (ev == PROTO_REQUEST &&
		    req_from_parser(&req, a, &p, &cfg->net, NULL) == 0) {
			struct pipeline *pl;

			/* No check enabled: decided at once, no loop. */
			pipeline_decide(NULL, cfg, NULL, &req, &env, NULL,
			    NULL, &pl, &v);
			verdict_log_line(a, &req, &v, 1);
			proto_reply(out, v.action, strlen(v.action));
		}
		if (ev == PROTO_BAD_REQUEST)
			proto_reply(out, proto_why(&p), strlen(proto_why(&p)));
		if (n == 0 && ev == PROTO_NEED_MORE)
			off = end;
		arena_reset(a);
	}
	proto_fini(&p);
	arena_free(a);
	return 0;
}
