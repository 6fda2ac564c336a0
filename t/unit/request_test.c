/*
 * request_test - normalization of one request: client addresses in every
 * form, networks, names, null sender, odd addresses; CIDR parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "addr.h"
#include "arena.h"
#include "proto.h"
#include "request.h"
#include "xalloc.h"

static const struct req_opts opts = { 24, 64 };

static const struct {
	const char *label;
	const char *client; /* client_address as sent */
	int ok;             /* req_build succeeds */
	const char *addr;   /* normalized text */
	const char *net;    /* network for /24 or /64 */
	int v4;             /* family is IPv4 */
} client_cases[] = {
	{ "ipv4", "192.0.2.7", 1, "192.0.2.7", "192.0.2.0", 1 },
	{ "ipv6 full", "2001:0db8:0000:0000:0000:0000:0000:0001", 1,
	    "2001:db8::1", "2001:db8::", 0 },
	{ "ipv6 compressed", "2001:db8:1:2:3::4", 1, "2001:db8:1:2:3::4",
	    "2001:db8:1:2::", 0 },
	{ "ipv6 upper case", "2001:DB8::ABCD", 1, "2001:db8::abcd",
	    "2001:db8::", 0 },
	{ "ipv4-mapped ipv6 becomes ipv4", "::ffff:198.51.100.9", 1,
	    "198.51.100.9", "198.51.100.0", 1 },
	{ "ipv4-mapped, hex form", "::ffff:c633:6409", 1, "198.51.100.9",
	    "198.51.100.0", 1 },
	{ "loopback v6", "::1", 1, "::1", "::", 0 },
	{ "ipv4-compatible is ipv6", "::192.0.2.1", 1, "::192.0.2.1", "::", 0 },
	{ "not sent", NULL, 1, "", NULL, 0 },
	{ "empty", "", 1, "", NULL, 0 },
	{ "garbage", "not-an-ip", 0, NULL, NULL, 0 },
	{ "ipv4 out of range", "256.1.1.1", 0, NULL, NULL, 0 },
	{ "ipv4 short", "192.0.2", 0, NULL, NULL, 0 },
	{ "scoped ipv6", "fe80::1%eth0", 0, NULL, NULL, 0 },
	{ "bracketed literal", "[192.0.2.1]", 0, NULL, NULL, 0 },
	{ "trailing blank", "192.0.2.1 ", 0, NULL, NULL, 0 },
};

/*
 * A request built from the parser keeps its values when the parser goes
 * on to the next request on the connection, which reuses its buffer
 * (the values are copied into the arena as one block).
 */
static void
test_request_from_parser_outlives_the_next_request(void **state)
{
	static const char one[] =
	    "request=smtpd_access_policy\nprotocol_state=RCPT\n"
	    "client_address=192.0.2.7\nclient_name=Mail.Example.NET\n"
	    "helo_name=mail.example.net\nsender=<Who@Sender.Example.>\n"
	    "recipient=rcpt@our.example\nqueue_id=ABC123\n"
	    "unknown_thing=ignored\ninstance=i-1\n\n";
	static const char two[] =
	    "request=smtpd_access_policy\nprotocol_state=DATA\n"
	    "client_address=2001:db8::9\nclient_name=unknown\n"
	    "helo_name=zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\n"
	    "sender=\nqueue_id=XYZ\n\n";
	struct req_opts o = { 24, 64 };
	struct arena *a = arena_new(), *b = arena_new();
	struct proto_parser p;
	enum proto_event ev;
	struct req r1, r2;

	(void)state;
	proto_init(&p);
	assert_int_equal(proto_feed(&p, one, sizeof(one) - 1, &ev),
	    sizeof(one) - 1);
	assert_int_equal(ev, PROTO_REQUEST);
	assert_int_equal(req_from_parser(&r1, a, &p, &o, NULL), 0);
	assert_int_equal(proto_feed(&p, two, sizeof(two) - 1, &ev),
	    sizeof(two) - 1);
	assert_int_equal(ev, PROTO_REQUEST);
	assert_int_equal(req_from_parser(&r2, b, &p, &o, NULL), 0);
	proto_fini(&p); /* the parser's buffer is gone */
	assert_string_equal(r1.client_addr, "192.0.2.7");
	assert_string_equal(r1.client_name, "mail.example.net");
	assert_string_equal(r1.helo, "mail.example.net");
	assert_string_equal(r1.sender.full, "Who@sender.example");
	assert_string_equal(r1.rcpt.full, "rcpt@our.example");
	assert_string_equal(r1.queue_id, "ABC123");
	assert_string_equal(r1.instance, "i-1");
	assert_string_equal(r1.protocol_state, "RCPT");
	assert_string_equal(r1.attr[PA_REQUEST], "smtpd_access_policy");
	assert_null(r1.attr[PA_SASL_USERNAME]);
	assert_string_equal(r2.client_addr, "2001:db8::9");
	assert_null(r2.client_name);
	assert_true(r2.sender.is_null);
	assert_null(r2.rcpt.full);
	assert_string_equal(r2.queue_id, "XYZ");
	assert_string_equal(r2.protocol_state, "DATA");
	assert_string_equal(r2.instance, "");
	arena_free(a);
	arena_free(b);
}

static void
test_request_client_address(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(client_cases); i++) {
		const char *attrs[PA_COUNT] = { 0 };
		struct arena *a = arena_new();
		struct why why;
		struct req req;
		char buf[ADDR_STRLEN];
		int rc;

		print_message("case: %s\n", client_cases[i].label);
		attrs[PA_CLIENT_ADDRESS] = client_cases[i].client;
		rc = req_build(&req, a, attrs, &opts, &why);
		assert_int_equal(rc == 0, client_cases[i].ok);
		if (!client_cases[i].ok) {
			assert_non_null(strstr(why.text, "is not an IP"));
			arena_free(a);
			continue;
		}
		assert_string_equal(req.client_addr, client_cases[i].addr);
		if (client_cases[i].net == NULL) {
			assert_false(req.has_client_ip);
		} else {
			assert_true(req.has_client_ip);
			assert_int_equal(req.client_ip.family == AF_INET,
			    client_cases[i].v4);
			assert_string_equal(addr_format(&req.client_net, buf,
						sizeof(buf)),
			    client_cases[i].net);
			assert_int_equal(req.client_prefix,
			    client_cases[i].v4 ? 24 : 64);
		}
		arena_free(a);
	}
}

static void
test_request_prefix_configurable(void **state)
{
	const char *attrs[PA_COUNT] = { 0 };
	struct req_opts o = { 16, 48 };
	struct arena *a = arena_new();
	char buf[ADDR_STRLEN];
	struct req req;

	(void)state;
	attrs[PA_CLIENT_ADDRESS] = "203.0.113.77";
	assert_int_equal(req_build(&req, a, attrs, &o, NULL), 0);
	assert_string_equal(addr_format(&req.client_net, buf, sizeof(buf)),
	    "203.0.0.0");
	attrs[PA_CLIENT_ADDRESS] = "2001:db8:aaaa:bbbb::1";
	assert_int_equal(req_build(&req, a, attrs, &o, NULL), 0);
	assert_string_equal(addr_format(&req.client_net, buf, sizeof(buf)),
	    "2001:db8:aaaa::");
	o.ipv4_prefix = 32;
	o.ipv6_prefix = 128;
	assert_int_equal(req_build(&req, a, attrs, &o, NULL), 0);
	assert_string_equal(addr_format(&req.client_net, buf, sizeof(buf)),
	    "2001:db8:aaaa:bbbb::1");
	arena_free(a);
}

static const struct {
	const char *label;
	const char *in;
	const char *full, *local, *domain;
	int is_null;
} addr_cases[] = {
	{ "plain", "user@example.org", "user@example.org", "user",
	    "example.org", 0 },
	{ "domain lower-cased, local kept", "User@Example.ORG",
	    "User@example.org", "User", "example.org", 0 },
	{ "angle brackets", "<a@b.example>", "a@b.example", "a", "b.example",
	    0 },
	{ "null sender empty", "", "", "", NULL, 1 },
	{ "null sender brackets", "<>", "", "", NULL, 1 },
	{ "no domain", "postmaster", "postmaster", "postmaster", NULL, 0 },
	{ "last @ splits", "\"a@b\"@c.example", "\"a@b\"@c.example",
	    "\"a@b\"", "c.example", 0 },
	{ "trailing dot", "a@example.org.", "a@example.org", "a",
	    "example.org", 0 },
	{ "empty local", "@example.org", "@example.org", "", "example.org",
	    0 },
	{ "empty domain", "user@", "user@", "user", NULL, 0 },
	{ "plus extension kept", "a+tag@x.example", "a+tag@x.example",
	    "a+tag", "x.example", 0 },
	{ "utf-8 local", "j\xc3\xb6rg@x.example", "j\xc3\xb6rg@x.example",
	    "j\xc3\xb6rg", "x.example", 0 },
	{ "lone bracket kept", "<a@b", "<a@b", "<a", "b", 0 },
};

static void
test_request_addresses(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(addr_cases); i++) {
		struct arena *a = arena_new();
		struct req_addr ra;

		print_message("case: %s\n", addr_cases[i].label);
		req_split_addr(a, addr_cases[i].in, &ra);
		assert_string_equal(ra.full, addr_cases[i].full);
		assert_string_equal(ra.local, addr_cases[i].local);
		if (addr_cases[i].domain)
			assert_string_equal(ra.domain, addr_cases[i].domain);
		else
			assert_null(ra.domain);
		assert_int_equal(ra.is_null, addr_cases[i].is_null);
		arena_free(a);
	}
}

static void
test_request_names_and_fields(void **state)
{
	const char *attrs[PA_COUNT] = { 0 };
	struct arena *a = arena_new();
	struct req req;

	(void)state;
	attrs[PA_CLIENT_ADDRESS] = "192.0.2.1";
	attrs[PA_CLIENT_NAME] = "unknown";
	attrs[PA_REVERSE_CLIENT_NAME] = "Mail.Example.ORG";
	attrs[PA_HELO_NAME] = "Mail.Example.org";
	attrs[PA_SENDER] = "<>";
	attrs[PA_RECIPIENT] = "Postmaster@Example.NET";
	attrs[PA_PROTOCOL_STATE] = "RCPT";
	attrs[PA_INSTANCE] = "123.456.7";
	attrs[PA_SASL_USERNAME] = "";
	attrs[PA_POLICY_CONTEXT] = "submission";
	attrs[PA_STRESS] = "yes";
	attrs[PA_SERVER_ADDRESS] = "10.3.2.1";
	attrs[PA_CCERT_SUBJECT] = "solaris9.porcupine.org";
	assert_int_equal(req_build(&req, a, attrs, &opts, NULL), 0);
	assert_null(req.client_name);
	assert_string_equal(req.reverse_name, "mail.example.org");
	assert_string_equal(req.helo, "Mail.Example.org");
	assert_true(req.sender.is_null);
	assert_string_equal(req.rcpt.domain, "example.net");
	assert_string_equal(req.rcpt.local, "Postmaster");
	assert_string_equal(req.protocol_state, "RCPT");
	assert_string_equal(req.instance, "123.456.7");
	assert_null(req.sasl_username);
	assert_string_equal(req.policy_context, "submission");
	assert_true(req.stress);
	assert_true(req.has_server_addr);
	assert_string_equal(req.attr[PA_CCERT_SUBJECT],
	    "solaris9.porcupine.org");

	/* Stages before MAIL FROM: nothing sent, nothing made up. */
	memset(attrs, 0, sizeof(attrs));
	attrs[PA_HELO_NAME] = "";
	attrs[PA_CLIENT_NAME] = "UNKNOWN";
	attrs[PA_SASL_USERNAME] = "alice";
	attrs[PA_STRESS] = "";
	assert_int_equal(req_build(&req, a, attrs, &opts, NULL), 0);
	assert_null(req.sender.full);
	assert_null(req.rcpt.full);
	assert_null(req.helo);
	assert_null(req.client_name);
	assert_null(req.reverse_name);
	assert_string_equal(req.sasl_username, "alice");
	assert_false(req.stress);
	assert_string_equal(req.queue_id, "");
	arena_free(a);
}

static const struct {
	const char *label;
	const char *in;
	int ok;
	const char *out; /* cidr_format, or a substring of why */
} cidr_cases[] = {
	{ "v4 net", "192.0.2.0/24", 1, "192.0.2.0/24" },
	{ "v4 host", "192.0.2.1", 1, "192.0.2.1/32" },
	{ "v6 net", "2001:db8::/32", 1, "2001:db8::/32" },
	{ "v6 host", "::1", 1, "::1/128" },
	{ "everything", "0.0.0.0/0", 1, "0.0.0.0/0" },
	{ "mapped becomes v4", "::ffff:192.0.2.0/120", 1, "192.0.2.0/24" },
	{ "host bits", "192.0.2.1/24", 0, "did you mean 192.0.2.0/24" },
	{ "v6 host bits", "2001:db8::1/64", 0, "did you mean 2001:db8::/64" },
	{ "prefix too long", "192.0.2.0/33", 0, "prefix length must be 0 to 32" },
	{ "prefix not a number", "192.0.2.0/x", 0, "is not a number" },
	{ "prefix empty", "192.0.2.0/", 0, "is not a number" },
	{ "prefix negative", "192.0.2.0/-1", 0, "is not a number" },
	{ "not an address", "example.org/24", 0, "not an IPv4 or IPv6" },
	{ "too long", "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa/128", 0,
	    "too long" },
};

static void
test_request_cidr(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cidr_cases); i++) {
		struct cidr c;
		struct why why;
		char buf[CIDR_STRLEN];

		print_message("case: %s\n", cidr_cases[i].label);
		why.text[0] = '\0';
		assert_int_equal(cidr_parse(cidr_cases[i].in, &c, &why) == 0,
		    cidr_cases[i].ok);
		if (cidr_cases[i].ok)
			assert_string_equal(cidr_format(&c, buf, sizeof(buf)),
			    cidr_cases[i].out);
		else
			assert_non_null(strstr(why.text, cidr_cases[i].out));
	}
}

static void
test_request_cidr_match(void **state)
{
	struct cidr net4, net6, all;
	struct ipaddr ip;

	(void)state;
	assert_int_equal(cidr_parse("192.0.2.0/25", &net4, NULL), 0);
	assert_int_equal(cidr_parse("2001:db8::/33", &net6, NULL), 0);
	assert_int_equal(cidr_parse("0.0.0.0/0", &all, NULL), 0);
	addr_parse("192.0.2.127", &ip);
	assert_true(cidr_match(&net4, &ip));
	assert_true(cidr_match(&all, &ip));
	addr_parse("192.0.2.128", &ip);
	assert_false(cidr_match(&net4, &ip));
	addr_parse("::ffff:192.0.2.5", &ip);
	assert_true(cidr_match(&net4, &ip));
	addr_parse("2001:db8:7fff::1", &ip);
	assert_true(cidr_match(&net6, &ip));
	assert_false(cidr_match(&all, &ip)); /* other family */
	addr_parse("2001:db8:8000::1", &ip);
	assert_false(cidr_match(&net6, &ip));
}

/* arena_printf copies formats of %s and %% alone: the same text as the
 * format, a NULL string as glibc prints it; others still format */
static void
test_arena_printf_copies_plain_formats(void **state)
{
	struct arena *a = arena_new();
	char want[256];
	const char *volatile null = NULL; /* (no warning of a NULL %s) */

	(void)state;
	assert_string_equal(arena_printf(a, "HELO %s resolves to %s",
				"mx.example", "192.0.2.1"),
	    "HELO mx.example resolves to 192.0.2.1");
	assert_string_equal(arena_printf(a, "100%% %s%%", "sure"),
	    "100% sure%");
	assert_string_equal(arena_printf(a, "no conversion"), "no conversion");
	assert_string_equal(arena_printf(a, "%s", ""), "");
	assert_string_equal(arena_printf(a, "%s%s", "a", "b"), "ab");
	assert_string_equal(arena_printf(a, "%%%s%%x", "y"), "%y%x");
	assert_string_equal(arena_printf(a, "tail %s end", "mid"),
	    "tail mid end");
	assert_string_equal(arena_printf(a, "%s", "x%sy"), "x%sy");
	assert_string_equal(arena_printf(a, "%d%s", 5, "z"), "5z");
	snprintf(want, sizeof(want), "[%s]", null);
	assert_string_equal(arena_printf(a, "[%s]", null), want);
	assert_string_equal(arena_printf(a, "%s:%u:%.2s", "x", 7u, "abc"),
	    "x:7:ab");
	assert_string_equal(arena_cat(a, "a", "", "bc", NULL), "abc");
	assert_string_equal(arena_num(a, -1234567890123LL), "-1234567890123");
	assert_string_equal(arena_num(a, 0), "0");
	arena_free(a);
}

/* IPv4 text is made by hand (not inet_ntop's sprintf): the same text as
 * inet_ntop for the edges and a million addresses from a fixed seed */
static void
test_addr_format_ipv4_is_inet_ntops(void **state)
{
	static const unsigned char edges[][4] = { { 0, 0, 0, 0 },
		{ 255, 255, 255, 255 }, { 10, 0, 0, 1 }, { 100, 9, 99, 199 },
		{ 1, 10, 100, 200 } };
	uint32_t x = 12345;
	char got[64], want[64];
	struct ipaddr ip;
	size_t i;

	(void)state;
	memset(&ip, 0, sizeof(ip));
	ip.family = AF_INET;
	for (i = 0; i < 1000000 + sizeof(edges) / sizeof(edges[0]); i++) {
		if (i < sizeof(edges) / sizeof(edges[0])) {
			memcpy(ip.a, edges[i], 4);
		} else {
			x = x * 1103515245u + 12345u;
			ip.a[0] = (unsigned char)(x >> 24);
			ip.a[1] = (unsigned char)(x >> 16);
			ip.a[2] = (unsigned char)(x >> 8);
			ip.a[3] = (unsigned char)(x >> 3);
		}
		assert_non_null(inet_ntop(AF_INET, ip.a, want, sizeof(want)));
		assert_string_equal(addr_format(&ip, got, sizeof(got)), want);
	}
	/* A buffer too small goes to inet_ntop, as before: "?" */
	memcpy(ip.a, edges[1], 4);
	assert_string_equal(addr_format(&ip, got, 8), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_client_address),
		cmocka_unit_test(
		    test_request_from_parser_outlives_the_next_request),
		cmocka_unit_test(test_addr_format_ipv4_is_inet_ntops),
		cmocka_unit_test(test_arena_printf_copies_plain_formats),
		cmocka_unit_test(test_request_prefix_configurable),
		cmocka_unit_test(test_request_addresses),
		cmocka_unit_test(test_request_names_and_fields),
		cmocka_unit_test(test_request_cidr),
		cmocka_unit_test(test_request_cidr_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
