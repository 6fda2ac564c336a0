/*
 * spf_test - SPF record syntax (RFC 7208 section 4.6, 12) and macro
 * expansion (section 7), with the RFC's own examples of section 7.4.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "arena.h"
#include "spf.h"
#include "xalloc.h"

static const struct {
	const char *in, *want;
} rfc_examples[] = {
	{ "%{s}", "strong-bad@email.example.com" },
	{ "%{o}", "email.example.com" },
	{ "%{d}", "email.example.com" },
	{ "%{d4}", "email.example.com" },
	{ "%{d3}", "email.example.com" },
	{ "%{d2}", "example.com" },
	{ "%{d1}", "com" },
	{ "%{dr}", "com.example.email" },
	{ "%{d2r}", "example.email" },
	{ "%{l}", "strong-bad" },
	{ "%{l-}", "strong.bad" },
	{ "%{lr}", "strong-bad" },
	{ "%{lr-}", "bad.strong" },
	{ "%{l1r-}", "strong" },
	{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com" },
	{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
	{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
	    "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
	{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
	    "3.2.0.192.in-addr.strong.lp._spf.example.com" },
	{ "%{d2}.trusted-domains.example.net",
	    "example.com.trusted-domains.example.net" },
	{ "%{S}", "strong-bad%40email.example.com" },
	{ "%%%_%-", "% %20" },
	{ "%{p}", "unknown" },
	{ "%{h}.%{d1}", "mx.example.org.com" },
	{ "%{d100}", "email.example.com" },
};

static struct spf_macro_ctx
ctx_v4(struct ipaddr *ip)
{
	struct spf_macro_ctx c = { 0 };

	addr_parse("192.0.2.3", ip);
	c.sender = "strong-bad@email.example.com";
	c.domain = "email.example.com";
	c.ip = ip;
	c.helo = "mx.example.org";
	c.receiver = "mx.our.example";
	c.now = 1700000000;
	return c;
}

static void
test_spf_macro_rfc_examples(void **state)
{
	struct ipaddr ip;
	struct spf_macro_ctx c = ctx_v4(&ip);
	char out[SPF_MAX_EXPAND];
	struct why why;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rfc_examples); i++) {
		print_message("case: %s\n", rfc_examples[i].in);
		if (spf_expand(rfc_examples[i].in, &c, false, out, sizeof(out),
		    &why) < 0)
			fail_msg("%s: %s", rfc_examples[i].in, why.text);
		assert_string_equal(out, rfc_examples[i].want);
	}
	/* IPv6: i is dot-separated nibbles, v is ip6. */
	addr_parse("2001:db8::cb01", &ip);
	assert_int_equal(spf_expand("%{ir}.%{v}._spf.%{d2}", &c, false, out,
			     sizeof(out), &why), 0);
	assert_string_equal(out, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
				 "0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

static void
test_spf_macro_explanations(void **state)
{
	struct ipaddr ip;
	struct spf_macro_ctx c = ctx_v4(&ip);
	char out[SPF_MAX_EXPAND];
	struct why why;

	(void)state;
	assert_int_equal(spf_expand("%{i} is not one of %{d}'s designated "
				    "mail servers (%{c}, %{r}, %{t})",
			     &c, true, out, sizeof(out), &why), 0);
	assert_string_equal(out, "192.0.2.3 is not one of email.example.com's "
				 "designated mail servers (192.0.2.3, "
				 "mx.our.example, 1700000000)");
	/* c, r and t belong to explanations only. */
	assert_int_equal(spf_expand("%{c}.example.com", &c, false, out,
			     sizeof(out), &why), -1);
	assert_non_null(strstr(why.text, "only for explanations"));
}

static const struct {
	const char *in;
	const char *why;
} bad_macros[] = {
	{ "%{x}", "unknown macro letter" },
	{ "%{d0}", "transformer 0" },
	{ "%{d", "not closed" },
	{ "abc%", "at the end" },
	{ "%a", "is not a macro" },
	{ "%{d2*}", "not closed" },
};

static void
test_spf_macro_errors(void **state)
{
	struct ipaddr ip;
	struct spf_macro_ctx c = ctx_v4(&ip);
	char out[SPF_MAX_EXPAND];
	struct why why;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(bad_macros); i++) {
		print_message("case: %s\n", bad_macros[i].in);
		why.text[0] = '\0';
		assert_int_equal(spf_expand(bad_macros[i].in, &c, false, out,
				     sizeof(out), &why), -1);
		assert_non_null(strstr(why.text, bad_macros[i].why));
	}
}

static void
test_spf_macro_truncation(void **state)
{
	struct ipaddr ip;
	struct spf_macro_ctx c = ctx_v4(&ip);
	char longname[400], out[SPF_MAX_EXPAND];
	struct why why;
	size_t i, o = 0;

	(void)state;
	/* 40 labels of 9 octets: 400 octets; shortened from the left. */
	for (i = 0; i < 40; i++)
		o += (size_t)snprintf(longname + o, sizeof(longname) - o,
		    "%s%08zu", i ? "." : "", i);
	c.domain = longname;
	assert_int_equal(spf_expand("%{d}", &c, false, out, sizeof(out), &why),
	    0);
	assert_true(strlen(out) <= 253);
	assert_string_equal(out + strlen(out) - 8, "00000039");
	assert_int_equal(strncmp(out, "000000", 6), 0); /* whole labels */
}

static void
test_spf_parse_good(void **state)
{
	struct arena *a = arena_new();
	struct spf_record r;
	struct why why;
	char buf[CIDR_STRLEN];

	(void)state;
	if (spf_parse(a, "v=spf1 +a mx/24 -a:mail.example.com/28//64 "
			 "ip4:192.0.2.1/24 ip6:2001:DB8::/32 ~include:_spf."
			 "example.net ?exists:%{ir}.%{l1r+-}._spf.%{d} ptr "
			 "ptr:example.org redirect=_spf.example.com "
			 "exp=explain._spf.%{d} moo=%{d}  -all ", &r, &why) < 0)
		fail_msg("%s", why.text);
	assert_int_equal(r.nterms, 10);
	assert_int_equal(r.terms[0].mech, SPF_A);
	assert_int_equal(r.terms[0].qualifier, '+');
	assert_null(r.terms[0].domain);
	assert_int_equal(r.terms[1].mech, SPF_MX);
	assert_int_equal(r.terms[1].cidr4, 24);
	assert_int_equal(r.terms[1].cidr6, -1);
	assert_int_equal(r.terms[2].qualifier, '-');
	assert_string_equal(r.terms[2].domain, "mail.example.com");
	assert_int_equal(r.terms[2].cidr4, 28);
	assert_int_equal(r.terms[2].cidr6, 64);
	/* Host bits are allowed in SPF: the network is meant. */
	assert_string_equal(cidr_format(&r.terms[3].net, buf, sizeof(buf)),
	    "192.0.2.0/24");
	assert_string_equal(cidr_format(&r.terms[4].net, buf, sizeof(buf)),
	    "2001:db8::/32");
	assert_int_equal(r.terms[5].qualifier, '~');
	assert_string_equal(r.terms[6].domain, "%{ir}.%{l1r+-}._spf.%{d}");
	assert_int_equal(r.terms[7].mech, SPF_PTR);
	assert_string_equal(r.terms[8].domain, "example.org");
	assert_int_equal(r.terms[9].mech, SPF_ALL);
	assert_string_equal(r.redirect, "_spf.example.com");
	assert_string_equal(r.exp, "explain._spf.%{d}");
	assert_int_equal(spf_parse(a, "v=spf1", &r, &why), 0);
	assert_int_equal(r.nterms, 0);
	assert_int_equal(spf_parse(a, "V=SPF1 A:Example.COM -ALL", &r, &why),
	    0);
	assert_int_equal(r.nterms, 2);
	arena_free(a);
}

static const struct {
	const char *in;
	const char *why;
} bad_records[] = {
	{ "v=spf10 -all", "not an SPF record" },
	{ "spf1 -all", "not an SPF record" },
	{ "v=spf1 foo", "unknown mechanism" },
	{ "v=spf1 a:", "bad term" },
	{ "v=spf1 include", "bad term" },
	{ "v=spf1 all:x.example", "bad term" },
	{ "v=spf1 ip4:192.0.2.1/33", "bad ip4 network" },
	{ "v=spf1 ip4:192.0.2.1/032", "bad ip4 network" },
	{ "v=spf1 ip4:192.0.2", "bad ip4 network" },
	{ "v=spf1 ip4:2001:db8::1", "bad ip4 network" },
	{ "v=spf1 ip6:192.0.2.1", "bad ip6 network" },
	{ "v=spf1 ip6:::1/129", "bad ip6 network" },
	{ "v=spf1 mx//129", "bad term" },
	{ "v=spf1 a/", "bad term" },
	{ "v=spf1 ptr/24", "bad term" },
	{ "v=spf1 include:example.123", "top-level label" },
	{ "v=spf1 a:foo-.example-", "top-level label" },
	{ "v=spf1 redirect=a.example redirect=b.example", "twice" },
	{ "v=spf1 exp=a.example exp=b.example", "twice" },
	{ "v=spf1 exp=%{x}.example", "unknown macro letter" },
	{ "v=spf1 moo=%{z}", "unknown macro letter" },
	{ "v=spf1 exists:%{c}.example.com", "only for explanations" },
};

static void
test_spf_parse_bad(void **state)
{
	struct arena *a = arena_new();
	struct spf_record r;
	struct why why;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(bad_records); i++) {
		print_message("case: %s\n", bad_records[i].in);
		why.text[0] = '\0';
		assert_int_equal(spf_parse(a, bad_records[i].in, &r, &why), -1);
		if (strstr(why.text, bad_records[i].why) == NULL)
			fail_msg("\"%s\": \"%s\" lacks \"%s\"", bad_records[i].in,
			    why.text, bad_records[i].why);
	}
	arena_free(a);
}

static void
test_spf_parse_bounds(void **state)
{
	struct arena *a = arena_new();
	char rec[16 * (SPF_MAX_TERMS + 2)];
	struct spf_record r;
	struct why why;
	size_t o, i;

	(void)state;
	o = (size_t)snprintf(rec, sizeof(rec), "v=spf1");
	for (i = 0; i < SPF_MAX_TERMS; i++)
		o += (size_t)snprintf(rec + o, sizeof(rec) - o, " ip4:10.0.%zu.1",
		    i % 250);
	assert_int_equal(spf_parse(a, rec, &r, &why), 0);
	snprintf(rec + o, sizeof(rec) - o, " -all");
	assert_int_equal(spf_parse(a, rec, &r, &why), -1);
	assert_non_null(strstr(why.text, "more than 256 terms"));
	assert_true(spf_is_record("v=spf1", 6));
	assert_true(spf_is_record("v=spf1 -all", 11));
	assert_false(spf_is_record("v=spf1-all", 10));
	arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spf_macro_rfc_examples),
		cmocka_unit_test(test_spf_macro_explanations),
		cmocka_unit_test(test_spf_macro_errors),
		cmocka_unit_test(test_spf_macro_truncation),
		cmocka_unit_test(test_spf_parse_good),
		cmocka_unit_test(test_spf_parse_bad),
		cmocka_unit_test(test_spf_parse_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
