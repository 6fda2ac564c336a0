/*
 * dns_test - the resolver's pure parts: query packets, answer checks
 * (spoofed and stray answers ignored), interpretation (CNAMEs, negative
 * TTLs, clamping, record kinds, bounds) and the cache (TTL, LRU).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns_int.h"
#include "xalloc.h"

/* pkt_from - an answer packet for name/type built from record strings */
static ldns_pkt *
pkt_from(const char *qname, uint16_t qtype, uint16_t id, ldns_pkt_rcode rc,
    const char *const *answers, const char *const *authority)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rr *q = ldns_rr_new();

	ldns_pkt_set_id(p, id);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rcode(p, rc);
	ldns_rr_set_owner(q, ldns_dname_new_frm_str(qname));
	ldns_rr_set_type(q, (ldns_rr_type)qtype);
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	ldns_rr_set_question(q, true);
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
	for (; answers && *answers; answers++) {
		ldns_rr *rr;

		assert_int_equal(ldns_rr_new_frm_str(&rr, *answers, 300, NULL,
				     NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	}
	for (; authority && *authority; authority++) {
		ldns_rr *rr;

		assert_int_equal(ldns_rr_new_frm_str(&rr, *authority, 300, NULL,
				     NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, rr);
	}
	return p;
}

static void
test_dns_build_query(void **state)
{
	uint8_t *wire;
	size_t len;
	ldns_pkt *p;
	ldns_rr *q;

	(void)state;
	assert_int_equal(dns__build_query("mail.example.org", DNS_T_MX, 0xbeef,
			     &wire, &len), 0);
	assert_int_equal(wire[0], 0xbe);
	assert_int_equal(wire[1], 0xef);
	assert_int_equal(ldns_wire2pkt(&p, wire, len), LDNS_STATUS_OK);
	assert_true(ldns_pkt_rd(p));
	assert_false(ldns_pkt_qr(p));
	assert_int_equal(ldns_pkt_qdcount(p), 1);
	assert_int_equal(ldns_pkt_edns_udp_size(p), 1232);
	/* On the wire: ARCOUNT 1, and the OPT record (root, type 41) last. */
	assert_int_equal(wire[10] << 8 | wire[11], 1);
	assert_int_equal(wire[len - 11], 0);
	assert_int_equal(wire[len - 10] << 8 | wire[len - 9], 41);
	assert_int_equal(wire[len - 8] << 8 | wire[len - 7], 1232);
	q = ldns_rr_list_rr(ldns_pkt_question(p), 0);
	assert_int_equal(ldns_rr_get_type(q), LDNS_RR_TYPE_MX);
	assert_int_equal(ldns_rr_get_class(q), LDNS_RR_CLASS_IN);
	ldns_pkt_free(p);
	free(wire);
}

static const struct {
	const char *label;
	const char *qname; /* in the answer */
	uint16_t qtype;
	uint16_t id;
	int qr;
	int want;
} check_cases[] = {
	{ "ours", "mail.example.org.", DNS_T_A, 7, 1, DNS__MATCH },
	{ "name in other case is ours", "MAIL.Example.ORG.", DNS_T_A, 7, 1,
	    DNS__MATCH },
	{ "other ID", "mail.example.org.", DNS_T_A, 8, 1, DNS__IGNORE },
	{ "other name", "evil.example.org.", DNS_T_A, 7, 1, DNS__IGNORE },
	{ "other type", "mail.example.org.", DNS_T_AAAA, 7, 1, DNS__IGNORE },
	{ "a query, not an answer", "mail.example.org.", DNS_T_A, 7, 0,
	    DNS__IGNORE },
};

static void
test_dns_check_answer(void **state)
{
	char why[64];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(check_cases); i++) {
		ldns_pkt *p = pkt_from(check_cases[i].qname,
		    check_cases[i].qtype, check_cases[i].id, LDNS_RCODE_NOERROR,
		    NULL, NULL), *got;
		uint8_t *wire;
		size_t len;

		print_message("case: %s\n", check_cases[i].label);
		ldns_pkt_set_qr(p, check_cases[i].qr);
		assert_int_equal(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
		assert_int_equal(dns__check_answer(wire, len, 7,
				     "mail.example.org", DNS_T_A, &got, why,
				     sizeof(why)), check_cases[i].want);
		if (got)
			ldns_pkt_free(got);
		free(wire);
		ldns_pkt_free(p);
	}
	{
		/* Our ID, then garbage; and a packet too short to be DNS. */
		uint8_t junk[40] = { 0, 7, 0x80, 0, 0xff, 0xff, 0xff, 0xff, 9 };
		ldns_pkt *got;

		assert_int_equal(dns__check_answer(junk, sizeof(junk), 7,
				     "mail.example.org", DNS_T_A, &got, why,
				     sizeof(why)), DNS__GARBAGE);
		assert_string_equal(why, "malformed answer");
		assert_int_equal(dns__check_answer(junk, 5, 7,
				     "mail.example.org", DNS_T_A, &got, why,
				     sizeof(why)), DNS__IGNORE);
	}
}

static struct dns_opts opts;

static struct dns__ans *
interpret(const char *qname, uint16_t qtype, ldns_pkt_rcode rc,
    const char *const *an, const char *const *auth)
{
	ldns_pkt *p = pkt_from(qname, qtype, 1, rc, an, auth);
	struct dns__ans *a = dns__interpret(p, qname, qtype, &opts);

	ldns_pkt_free(p);
	return a;
}

static void
test_dns_interpret(void **state)
{
	static const char *const chain[] = {
		"www.example.org. 600 IN CNAME web.example.org.",
		"web.example.org. 900 IN CNAME host.example.net.",
		"host.example.net. 1200 IN A 192.0.2.80",
		"host.example.net. 1200 IN A 192.0.2.81",
		"other.example.net. 1200 IN A 198.51.100.1",
		NULL,
	};
	static const char *const soa[] = {
		"example.org. 7200 IN SOA ns.example.org. h.example.org. 1 2 3 "
		"4 900",
		NULL,
	};
	static const char *const mx[] = {
		"example.org. 300 IN MX 10 MX1.Example.ORG.",
		"example.org. 300 IN MX 20 mx2.example.org.",
		NULL,
	};
	static const char *const txt[] = {
		"example.org. 300 IN TXT \"v=spf1 \" \"-all\"",
		NULL,
	};
	static const char *const v6[] = {
		"example.org. 5 IN AAAA 2001:db8::25",
		NULL,
	};
	static const char *const ptr[] = {
		"25.2.0.192.in-addr.arpa. 999999 IN PTR Mail.Example.org.",
		NULL,
	};
	struct dns__ans *a;
	char buf[ADDR_STRLEN];

	(void)state;
	dns_opts_defaults(&opts);
	/* CNAMEs followed; TTL is the smallest along the chain. */
	a = interpret("www.example.org", DNS_T_A, LDNS_RCODE_NOERROR, chain,
	    NULL);
	assert_int_equal(a->pub.status, DNS_OK);
	assert_int_equal(a->pub.n, 2);
	assert_string_equal(addr_format(&a->pub.rr[0].addr, buf, sizeof(buf)),
	    "192.0.2.80");
	assert_int_equal(a->pub.ttl, 600);
	dns__ans_unref(a);
	/* NODATA: negative TTL is min(SOA TTL, SOA MINIMUM). */
	a = interpret("example.org", DNS_T_A, LDNS_RCODE_NOERROR, NULL, soa);
	assert_int_equal(a->pub.status, DNS_NODATA);
	assert_int_equal(a->pub.ttl, 900);
	dns__ans_unref(a);
	a = interpret("nx.example.org", DNS_T_A, LDNS_RCODE_NXDOMAIN, NULL, soa);
	assert_int_equal(a->pub.status, DNS_NXDOMAIN);
	assert_int_equal(a->pub.ttl, 900);
	dns__ans_unref(a);
	/* Without an SOA a negative answer is not cached (RFC 2308 5). */
	a = interpret("nx.example.org", DNS_T_A, LDNS_RCODE_NXDOMAIN, NULL,
	    NULL);
	assert_int_equal(a->pub.ttl, 0);
	dns__ans_unref(a);
	/* ... and never longer than neg_max_ttl. */
	opts.neg_max_ttl = 60;
	a = interpret("example.org", DNS_T_A, LDNS_RCODE_NOERROR, NULL, soa);
	assert_int_equal(a->pub.ttl, 60);
	dns__ans_unref(a);
	/* A CNAME chain that ends nowhere is NODATA. */
	a = interpret("www.example.org", DNS_T_AAAA, LDNS_RCODE_NOERROR, chain,
	    NULL);
	assert_int_equal(a->pub.status, DNS_NODATA);
	dns__ans_unref(a);
	/* MX: preference and lower-case name without the dot. */
	a = interpret("example.org", DNS_T_MX, LDNS_RCODE_NOERROR, mx, NULL);
	assert_int_equal(a->pub.n, 2);
	assert_int_equal(a->pub.rr[0].pref, 10);
	assert_string_equal(a->pub.rr[0].text, "mx1.example.org");
	dns__ans_unref(a);
	/* TXT strings are joined without blanks. */
	a = interpret("example.org", DNS_T_TXT, LDNS_RCODE_NOERROR, txt, NULL);
	assert_string_equal(a->pub.rr[0].text, "v=spf1 -all");
	assert_int_equal(a->pub.rr[0].len, 11);
	dns__ans_unref(a);
	/* TTLs are clamped to [min_ttl, max_ttl]. */
	a = interpret("example.org", DNS_T_AAAA, LDNS_RCODE_NOERROR, v6, NULL);
	assert_int_equal(a->pub.ttl, 60);
	assert_string_equal(addr_format(&a->pub.rr[0].addr, buf, sizeof(buf)),
	    "2001:db8::25");
	dns__ans_unref(a);
	a = interpret("25.2.0.192.in-addr.arpa", DNS_T_PTR, LDNS_RCODE_NOERROR,
	    ptr, NULL);
	assert_int_equal(a->pub.ttl, 86400);
	assert_string_equal(a->pub.rr[0].text, "mail.example.org");
	dns__ans_unref(a);
}

static void
test_dns_interpret_bounds(void **state)
{
	const char **many = xcalloc(DNS_MAX_RECORDS + 50, sizeof(char *));
	struct dns__ans *a;
	int i;

	(void)state;
	dns_opts_defaults(&opts);
	for (i = 0; i < DNS_MAX_RECORDS + 49; i++)
		many[i] = xstrdup("big.example.org. 300 IN A 192.0.2.1");
	a = interpret("big.example.org", DNS_T_A, LDNS_RCODE_NOERROR, many,
	    NULL);
	assert_int_equal(a->pub.n, DNS_MAX_RECORDS);
	dns__ans_unref(a);
	for (i = 0; i < DNS_MAX_RECORDS + 49; i++)
		free((char *)(uintptr_t)many[i]);
	free(many);
}

/* hop - "hN.example.org. 300 IN CNAME hN+1.example.org." */
static const char *
hop(int n)
{
	static char buf[80];

	snprintf(buf, sizeof(buf), "h%d.example.org. 300 IN CNAME "
	    "h%d.example.org.", n, n + 1);
	return buf;
}

/*
 * A CNAME chain that loops, or runs past the hop bound, never reaches
 * the records: DNS trouble (a recursive resolver answers SERVFAIL), not
 * a "does not exist" that refuses a sender for good.
 */
static void
test_dns_interpret_cname_loop_is_trouble(void **state)
{
	static const char *const loop[] = {
		"a.example.org. 300 IN CNAME b.example.org.",
		"b.example.org. 300 IN CNAME a.example.org.",
		NULL,
	};
	static const char *const self[] = {
		"a.example.org. 300 IN CNAME a.example.org.",
		NULL,
	};
	char *chain[DNS_MAX_CNAMES + 3];
	struct dns__ans *a;
	int i;

	(void)state;
	dns_opts_defaults(&opts);
	a = interpret("a.example.org", DNS_T_A, LDNS_RCODE_NOERROR, loop, NULL);
	assert_int_equal(a->pub.status, DNS_TEMPFAIL);
	assert_string_equal(a->pub.why, "CNAME chain loops after 2 hops");
	dns__ans_unref(a);
	a = interpret("a.example.org", DNS_T_MX, LDNS_RCODE_NOERROR, self, NULL);
	assert_int_equal(a->pub.status, DNS_TEMPFAIL);
	assert_string_equal(a->pub.why, "CNAME chain loops after 1 hops");
	dns__ans_unref(a);
	/* DNS_MAX_CNAMES hops to the address: followed. One more: trouble. */
	for (i = 0; i < DNS_MAX_CNAMES; i++)
		chain[i] = xstrdup(hop(i));
	chain[DNS_MAX_CNAMES] = xstrdup("h8.example.org. 300 IN A 192.0.2.8");
	chain[DNS_MAX_CNAMES + 1] = NULL;
	a = interpret("h0.example.org", DNS_T_A, LDNS_RCODE_NOERROR,
	    (const char *const *)chain, NULL);
	assert_int_equal(a->pub.status, DNS_OK);
	dns__ans_unref(a);
	free(chain[DNS_MAX_CNAMES]);
	chain[DNS_MAX_CNAMES] = xstrdup("h8.example.org. 300 IN CNAME "
					"h9.example.org.");
	chain[DNS_MAX_CNAMES + 1] = xstrdup("h9.example.org. 300 IN A "
					    "192.0.2.9");
	chain[DNS_MAX_CNAMES + 2] = NULL;
	a = interpret("h0.example.org", DNS_T_A, LDNS_RCODE_NOERROR,
	    (const char *const *)chain, NULL);
	assert_int_equal(a->pub.status, DNS_TEMPFAIL);
	assert_string_equal(a->pub.why, "CNAME chain longer than 8 hops");
	dns__ans_unref(a);
	for (i = 0; chain[i] != NULL; i++)
		free(chain[i]);
}

static struct dns__ans *
answer_ttl(const char *name, uint32_t ttl)
{
	struct dns__ans *a = dns__ans_new(name, DNS_T_A, DNS_OK, NULL);

	a->pub.ttl = ttl;
	return a;
}

static void
test_dns_cache(void **state)
{
	struct dns__cache *c = dns__cache_new(3);
	struct dns__ans *a, *got;

	(void)state;
	a = answer_ttl("a.example", 10);
	dns__cache_put(c, a, 1000);
	dns__ans_unref(a);
	/* Found until its TTL runs out, then gone. */
	got = dns__cache_get(c, "a.example", DNS_T_A, 10999);
	assert_non_null(got);
	dns__ans_unref(got);
	assert_null(dns__cache_get(c, "a.example", DNS_T_AAAA, 2000));
	assert_null(dns__cache_get(c, "a.example", DNS_T_A, 11000));
	assert_int_equal(dns__cache_count(c), 0);
	/* TTL 0 is not cached. */
	a = answer_ttl("zero.example", 0);
	dns__cache_put(c, a, 1000);
	dns__ans_unref(a);
	assert_int_equal(dns__cache_count(c), 0);
	/* LRU: b, c, d in; b used; e in: c (least recently used) goes. */
	dns__cache_put(c, a = answer_ttl("b", 100), 0), dns__ans_unref(a);
	dns__cache_put(c, a = answer_ttl("c", 100), 0), dns__ans_unref(a);
	dns__cache_put(c, a = answer_ttl("d", 100), 0), dns__ans_unref(a);
	dns__ans_unref(dns__cache_get(c, "b", DNS_T_A, 1));
	dns__cache_put(c, a = answer_ttl("e", 100), 0), dns__ans_unref(a);
	assert_int_equal(dns__cache_count(c), 3);
	assert_null(dns__cache_get(c, "c", DNS_T_A, 2));
	dns__ans_unref(got = dns__cache_get(c, "b", DNS_T_A, 2));
	assert_non_null(got);
	dns__ans_unref(got = dns__cache_get(c, "d", DNS_T_A, 2));
	assert_non_null(got);
	/* Negative answers are cached like the others. */
	a = dns__ans_new("nx", DNS_T_A, DNS_NXDOMAIN, NULL);
	a->pub.ttl = 5;
	dns__cache_put(c, a, 0);
	dns__ans_unref(a);
	got = dns__cache_get(c, "nx", DNS_T_A, 4999);
	assert_int_equal(got->pub.status, DNS_NXDOMAIN);
	dns__ans_unref(got);
	/* A newer answer replaces an older one. */
	dns__cache_put(c, a = answer_ttl("nx", 100), 0), dns__ans_unref(a);
	got = dns__cache_get(c, "nx", DNS_T_A, 50000);
	assert_int_equal(got->pub.status, DNS_OK);
	dns__ans_unref(got);
	dns__cache_free(c);
}

static void
test_dns_server_parse_and_ptr(void **state)
{
	static const struct {
		const char *in;
		int ok;
		const char *name;
	} cases[] = {
		{ "127.0.0.1", 1, "127.0.0.1:53" },
		{ "127.0.0.1:5353", 1, "127.0.0.1:5353" },
		{ "[::1]:5353", 1, "[::1]:5353" },
		{ "::1", 1, "[::1]:53" },
		{ "[::1]", 1, "[::1]:53" },
		{ "127.0.0.1:0", 0, NULL },
		{ "127.0.0.1:99999", 0, NULL },
		{ "localhost", 0, NULL },
		{ "", 0, NULL },
	};
	struct dns_server s;
	struct ipaddr ip;
	char buf[80];
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		print_message("case: \"%s\"\n", cases[i].in);
		assert_int_equal(dns_server_parse(cases[i].in, &s, NULL) == 0,
		    cases[i].ok);
		if (cases[i].ok)
			assert_string_equal(s.name, cases[i].name);
	}
	addr_parse("192.0.2.7", &ip);
	assert_string_equal(dns_ptr_name(&ip, buf, sizeof(buf)),
	    "7.2.0.192.in-addr.arpa");
	addr_parse("2001:db8::1", &ip);
	assert_string_equal(dns_ptr_name(&ip, buf, sizeof(buf)),
	    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
	    "ip6.arpa");
}

static void
test_dns_resolv_conf(void **state)
{
	char path[] = "/tmp/resolv_test_XXXXXX";
	struct dns_opts o;
	struct why why;
	FILE *fp;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fputs("# comment\nsearch example.org\nnameserver 192.0.2.53\n"
	      "nameserver 2001:db8::53\noptions ndots:2\n", fp);
	fclose(fp);
	dns_opts_defaults(&o);
	assert_int_equal(dns_servers_from_file(&o, path, &why), 0);
	assert_int_equal(o.nservers, 2);
	assert_string_equal(o.servers[0].name, "192.0.2.53:53");
	assert_string_equal(o.servers[1].name, "[2001:db8::53]:53");
	fp = fopen(path, "w");
	fputs("search example.org\n", fp);
	fclose(fp);
	assert_int_equal(dns_servers_from_file(&o, path, &why), -1);
	assert_non_null(strstr(why.text, "no nameserver"));
	unlink(path);
	assert_int_equal(dns_servers_from_file(&o, path, &why), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns_build_query),
		cmocka_unit_test(test_dns_check_answer),
		cmocka_unit_test(test_dns_interpret),
		cmocka_unit_test(test_dns_interpret_bounds),
		cmocka_unit_test(test_dns_interpret_cname_loop_is_trouble),
		cmocka_unit_test(test_dns_cache),
		cmocka_unit_test(test_dns_server_parse_and_ptr),
		cmocka_unit_test(test_dns_resolv_conf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
