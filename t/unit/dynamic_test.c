/*
 * dynamic_test - dial-in and dynamic pool names: a table of 115
 * real-world-style names, static and dynamic, with the client address
 * each would come from; the registered domain from libpsl; pattern files.
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

#include "addr.h"
#include "dynamic.h"
#include "xalloc.h"

static const struct {
	const char *name;
	const char *client;
	int dynamic;
} cases[] = {
	{ "c-73-15-12-34.hsd1.ca.comcast.net", "73.15.12.34", 1 },
	{ "c-98-207-45-101.hsd1.ca.comcast.net", "98.207.45.101", 1 },
	{ "pool-71-112-30-41.cmdnca.fios.verizon.net", "71.112.30.41", 1 },
	{ "pool-100-8-44-7.nwrknj.fios.verizon.net", "100.8.44.7", 1 },
	{ "host86-151-10-22.range86-151.btcentralplus.com", "86.151.10.22", 1 },
	{ "host81-132-5-200.range81-132.btcentralplus.com", "81.132.5.200", 1 },
	{ "ip68-5-12-34.oc.oc.cox.net", "68.5.12.34", 1 },
	{ "ip70-179-3-90.sd.sd.cox.net", "70.179.3.90", 1 },
	{ "d14-69-66-113.try.wideopenwest.com", "69.66.113.14", 1 },
	{ "cpe-76-88-12-34.san.res.rr.com", "76.88.12.34", 1 },
	{ "cpe-172-100-3-4.nyc.res.rr.com", "172.100.3.4", 1 },
	{ "dslb-088-066-012-034.088.066.pools.arcor-ip.net", "88.66.12.34", 1 },
	{ "dslb-178-004-100-200.178.004.pools.vodafone-ip.de", "178.4.100.200", 1 },
	{ "p5b0a1c2d.dip0.t-ipconnect.de", "91.10.28.45", 1 },
	{ "p4fd7a9b0.dip0.t-ipconnect.de", "79.215.169.176", 1 },
	{ "x4d0c1222.dyn.telefonica.de", "77.12.18.34", 1 },
	{ "91-115-12-34.adsl.highway.telekom.at", "91.115.12.34", 1 },
	{ "ppp-94-64-12-34.home.otenet.gr", "94.64.12.34", 1 },
	{ "adsl-99-12-34-56.dsl.pltn13.sbcglobal.net", "99.12.34.56", 1 },
	{ "bb121-7-12-34.singnet.com.sg", "121.7.12.34", 1 },
	{ "34.12.5.68.dynamic.example.net", "68.5.12.34", 1 },
	{ "203-0-113-7.example.com", "203.0.113.7", 1 },
	{ "host-203-0-113-7.customer.example.com", "203.0.113.7", 1 },
	{ "customer-203-0-113-7.example.net", "203.0.113.7", 1 },
	{ "ec2-3-120-12-34.eu-central-1.compute.amazonaws.com", "3.120.12.34", 1 },
	{ "ec2-54-12-200-9.compute-1.amazonaws.com", "54.12.200.9", 1 },
	{ "lfbn-idf1-1-123-45.w90-1.abo.wanadoo.fr", "90.1.123.45", 1 },
	{ "lfbn-lyo-1-77-12.w86-210.abo.wanadoo.fr", "86.210.77.12", 1 },
	{ "static-198-51-100-23.example.org", "198.51.100.23", 0 },
	{ "198.51.100.23.static.example.org", "198.51.100.23", 0 },
	{ "dynamic-198-51-100-23.example.org", "198.51.100.23", 1 },
	{ "dyn-198-51-100-24.example.org", "198.51.100.24", 1 },
	{ "unknown.dyn.example.net", "192.0.2.200", 1 },
	{ "dsl.example.net", "192.0.2.201", 1 },
	{ "cable-12-34.example.com", "203.0.113.12", 1 },
	{ "dhcp-10-20.campus.example.edu", "192.0.2.202", 1 },
	{ "broadband.example.co.uk", "192.0.2.203", 1 },
	{ "client-99.example.org", "192.0.2.204", 1 },
	{ "pppoe-123.example.net", "192.0.2.205", 1 },
	{ "dialup-55.example.com", "192.0.2.206", 1 },
	{ "dial-in-12.example.com", "192.0.2.207", 1 },
	{ "adsl123.example.it", "192.0.2.208", 1 },
	{ "vdsl-4711.example.ch", "192.0.2.209", 1 },
	{ "user-12.pool.example.pl", "192.0.2.210", 1 },
	{ "ftth-12.example.se", "192.0.2.211", 1 },
	{ "mobile-12-34.example.net", "192.0.2.212", 1 },
	{ "host-192-0-2-213.example.net", "192.0.2.213", 1 },
	{ "213.2.0.192.example.net", "192.0.2.213", 1 },
	{ "192.0.2.213.example.net", "192.0.2.213", 1 },
	{ "192-0-2-213.example.net", "192.0.2.213", 1 },
	{ "ip-192-0-2-214.example.com.br", "192.0.2.214", 1 },
	{ "c000020d.example.net", "192.0.2.13", 1 },
	{ "192000002013.example.net", "192.0.2.13", 1 },
	{ "h-192-0-2-15.a.example.co.jp", "192.0.2.15", 1 },
	{ "2001-db8-1-2-3-4-5-6.dyn.example.net", "2001:db8:1:2:3:4:5:6", 1 },
	{ "cust-2001-db8-10-20-0-0-0-1.example.net", "2001:db8:10:20::1", 1 },
	{ "ip6-dead-beef-1-2.example.net", "2001:db8:dead:beef:1:2::", 1 },
	{ "res-12.example.com", "192.0.2.216", 1 },
	{ "home-12.example.com", "192.0.2.217", 1 },
	{ "catv-12.example.hu", "192.0.2.218", 1 },
	{ "bredband-12.example.se", "192.0.2.219", 1 },
	{ "wlan-12.example.de", "192.0.2.220", 1 },
	{ "nat-12.example.org", "192.0.2.221", 1 },
	{ "gprs-12.example.ro", "192.0.2.222", 1 },
	{ "cpe-12.example.com.au", "192.0.2.223", 1 },
	{ "modem-12.example.com", "192.0.2.224", 1 },
	{ "pools-12.example.com", "192.0.2.225", 1 },
	{ "mail.example.com", "192.0.2.1", 0 },
	{ "mx1.example.org", "192.0.2.2", 0 },
	{ "mx.example.co.uk", "192.0.2.3", 0 },
	{ "smtp-out.example.net", "192.0.2.4", 0 },
	{ "smtp.gmail.com", "209.85.128.108", 0 },
	{ "mail-ej1-f41.google.com", "209.85.218.41", 0 },
	{ "mail-wm1-f52.google.com", "209.85.128.52", 0 },
	{ "mail-oi1-f170.google.com", "209.85.167.170", 0 },
	{ "mail-db5eur03on2070.outbound.protection.outlook.com", "40.107.4.70", 0 },
	{ "a27-12.smtp-out.amazonses.com", "54.240.27.12", 0 },
	{ "out1.mail.example.com", "192.0.2.5", 0 },
	{ "relay.example.net", "192.0.2.6", 0 },
	{ "mta1.example.com", "192.0.2.7", 0 },
	{ "mailout.example.de", "192.0.2.8", 0 },
	{ "mailhost.example.edu", "192.0.2.9", 0 },
	{ "exchange.example.com", "192.0.2.10", 0 },
	{ "mail.dsl-12-34.example.net", "198.51.100.34", 0 },
	{ "mx-192-0-2-11.example.net", "192.0.2.11", 0 },
	{ "server1.hosting.example.com", "192.0.2.12", 0 },
	{ "www.example.com", "192.0.2.14", 0 },
	{ "vps-12345.example.com", "192.0.2.16", 0 },
	{ "host.example.com", "192.0.2.17", 0 },
	{ "web01.example.org", "192.0.2.18", 0 },
	{ "ns1.example.net", "192.0.2.19", 0 },
	{ "o1.ptr1234.sendgrid.net", "167.89.1.2", 0 },
	{ "mta-12-34.example.com", "192.0.2.20", 0 },
	{ "bounce.example.com", "192.0.2.21", 0 },
	{ "lists.example.org", "192.0.2.22", 0 },
	{ "example.com", "192.0.2.23", 0 },
	{ "example.co.uk", "192.0.2.24", 0 },
	{ "gateway.example.com", "192.0.2.25", 0 },
	{ "fw.example.com", "192.0.2.26", 0 },
	{ "srv12.example.ru", "192.0.2.27", 0 },
	{ "s12-34.example.com", "198.51.100.99", 0 },
	{ "a.b.c.example.com", "192.0.2.28", 0 },
	{ "office.example.com", "192.0.2.29", 0 },
	{ "static.example.com", "192.0.2.30", 0 },
	{ "mail12.static.example.net", "192.0.2.31", 0 },
	{ "host192.example.com", "192.0.2.32", 0 },
	{ "2.example.com", "192.0.2.33", 0 },
	{ "ip.example.com", "192.0.2.34", 0 },
	{ "customers.example-hosting.com", "192.0.2.35", 0 },
	{ "mail.dyn.example.com", "192.0.2.36", 0 },
	{ "mx.pool.example.com", "192.0.2.37", 0 },
	{ "smtp1.cable.example.com", "192.0.2.38", 0 },
	{ "outbound.mail.example.net", "192.0.2.39", 0 },
	{ "mail-2001-db8--1.example.net", "2001:db8::1", 0 },
	{ "host-2001-db8--2.example.net", "2001:db8::2", 0 },
};

static void
test_dynamic_table(void **state)
{
	size_t i, bad = 0, dyn = 0;

	(void)state;
	assert_true(nitems(cases) >= 100);
	for (i = 0; i < nitems(cases); i++) {
		struct ipaddr ip;
		char why[160];
		int got;

		assert_int_equal(addr_parse(cases[i].client, &ip), 0);
		got = dyn_classify(cases[i].name, &ip, NULL, why, sizeof(why));
		dyn += cases[i].dynamic;
		if (got != cases[i].dynamic) {
			print_error("%s (%s): got %s (%s)\n", cases[i].name,
			    cases[i].client, got ? "dynamic" : "static", why);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
	assert_true(dyn >= 40 && nitems(cases) - dyn >= 40);
}

static void
test_dynamic_registered_domain(void **state)
{
	(void)state;
	assert_string_equal(dyn_registered_domain("a.b.example.co.uk"),
	    "example.co.uk");
	assert_string_equal(dyn_registered_domain("c-1.hsd1.ca.comcast.net"),
	    "comcast.net");
	assert_string_equal(dyn_registered_domain("x.dyn.telefonica.de"),
	    "telefonica.de");
	/* The ICANN section only: cloud zones are not suffixes here. */
	assert_string_equal(dyn_registered_domain(
				"ec2-3-1-2-3.eu-central-1.compute.amazonaws.com"),
	    "amazonaws.com");
	assert_string_equal(dyn_registered_domain("a.b.blogspot.com"),
	    "blogspot.com");
	assert_null(dyn_registered_domain("co.uk"));
	assert_null(dyn_registered_domain(""));
}

/*
 * The answers are cached by name: a second asking (a hit), names that
 * share a set (more of them than the cache holds), and the answer
 * pointing into the name asked each time.
 */
static void
test_dynamic_registered_domain_cache(void **state)
{
	char name[64], again[64];
	const char *r;
	unsigned i, round;

	(void)state;
	for (round = 0; round < 2; round++) {
		for (i = 0; i < 5000; i++) { /* more than the cache holds */
			snprintf(name, sizeof(name), "h%u.d%u.example.co.uk", i,
			    i % 7);
			r = dyn_registered_domain(name);
			assert_non_null(r);
			assert_ptr_equal(r, strstr(name, "example.co.uk"));
			memcpy(again, name, sizeof(name));
			assert_ptr_equal(dyn_registered_domain(again),
			    strstr(again, "example.co.uk"));
		}
		assert_null(dyn_registered_domain("co.uk"));
		assert_null(dyn_registered_domain("co.uk"));
		assert_string_equal(dyn_registered_domain("a.b.blogspot.com"),
		    "blogspot.com");
	}
}

static void
test_dynamic_patterns(void **state)
{
	char path[] = "/tmp/dyn_test_XXXXXX", why[160];
	struct dyn_patterns *p;
	struct why w;
	struct ipaddr ip;
	FILE *fp;
	int fd;

	(void)state;
	fd = mkstemp(path);
	fp = fdopen(fd, "w");
	fputs("# comment\n\n!^mail\\.trusted-dsl\\.example$\n"
	      "\\.trusted-dsl\\.example$\n  ^dhcp[0-9]+\\.  \n", fp);
	fclose(fp);
	p = dyn_patterns_load(path, &w);
	if (p == NULL)
		fail_msg("%s", w.text);
	addr_parse("192.0.2.1", &ip);
	assert_int_equal(dyn_classify("x.trusted-dsl.example", &ip, p, why,
			     sizeof(why)), 1);
	assert_string_equal(why, "pattern \\.trusted-dsl\\.example$");
	/* An exemption line wins, even over the heuristics. */
	assert_int_equal(dyn_classify("MAIL.trusted-dsl.example", &ip, p, why,
			     sizeof(why)), 0);
	assert_int_equal(dyn_classify("dhcp12.example.org", &ip, p, why,
			     sizeof(why)), 1);
	dyn_patterns_free(p);
	/* A bad pattern names the file and line. */
	fp = fopen(path, "w");
	fputs("ok\n(unclosed\n", fp);
	fclose(fp);
	assert_null(dyn_patterns_load(path, &w));
	assert_non_null(strstr(w.text, ":2: bad pattern \"(unclosed\""));
	unlink(path);
	assert_null(dyn_patterns_load(path, &w));
	assert_non_null(strstr(w.text, "cannot open"));
}

static void
test_dynamic_shipped_patterns(void **state)
{
	struct why w;
	struct dyn_patterns *p = dyn_patterns_load(SOURCE_DIR
	    "/etc/dynamic.txt", &w);

	(void)state;
	if (p == NULL)
		fail_msg("%s", w.text);
	dyn_patterns_free(p);
}

/* level - the level of name for client, with the patterns p */
static enum dyn_level
level(const char *name, const char *client, const struct dyn_patterns *p,
    char *why, size_t size)
{
	struct dyn_verdict v;
	struct ipaddr ip;

	assert_int_equal(addr_parse(client, &ip), 0);
	dyn_judge(name, &ip, p, &v);
	snprintf(why, size, "%s", v.why);
	return v.level;
}

#define LEVEL(name, client, want) do { \
	char why_[160]; \
	enum dyn_level got_ = level((name), (client), NULL, why_, \
	    sizeof(why_)); \
	if (got_ != (want)) \
		fail_msg("%s (%s): %s, not %s (%s)", (name), (client), \
		    dyn_level_name(got_), dyn_level_name(want), why_); \
} while (0)

/*
 * A mail word outweighs one sign, never two: an ISP that calls its pool
 * addresses "mx-ll-..." and says "dynamic" names a dial-in line.
 */
static void
test_dynamic_mail_word_does_not_outweigh_two_signs(void **state)
{
	char why[160];

	(void)state;
	LEVEL("mx-ll-55.60.24-53.dynamic.tttmaxnet.com", "55.60.24.53",
	    DYN_CERTAIN);
	assert_int_equal(level("mx-ll-55.60.24-53.dynamic.tttmaxnet.com",
	    "55.60.24.53", NULL, why, sizeof(why)), DYN_CERTAIN);
	assert_non_null(strstr(why, "mail word \"mx\" does not outweigh two "
	    "signs"));
	LEVEL("mail.dsl-198-51-100-23.isp.example", "198.51.100.23",
	    DYN_CERTAIN);
	/* One sign: the mail word wins; a static word wins over two. */
	LEVEL("mx-ll-55.60.24-53.tttmaxnet.com", "55.60.24.53", DYN_NO);
	LEVEL("mail.static-dsl-198-51-100-23.isp.example", "198.51.100.23",
	    DYN_NO);
}

/*
 * Levels: two signs are certain, one is likely; the address in every
 * encoding; customer-line codes with digits; mail and static words in
 * any label make a name static, a static DSL line too.
 */
static void
test_dynamic_levels_and_evidence(void **state)
{
	(void)state;
	/* Address and pool word: certain; either alone: likely. */
	LEVEL("dsl-198-51-100-23.isp.example", "198.51.100.23", DYN_CERTAIN);
	LEVEL("198-51-100-23.isp.example", "198.51.100.23", DYN_LIKELY);
	LEVEL("dsl.isp.example", "198.51.100.23", DYN_LIKELY);
	LEVEL("host.isp.example", "198.51.100.23", DYN_NO);
	/* Two different pool words: certain; the same one twice: likely. */
	LEVEL("user12.pool.isp.example", "198.51.100.23", DYN_CERTAIN);
	LEVEL("pool-12.pool.isp.example", "198.51.100.23", DYN_LIKELY);
	/* Encodings of the address. */
	LEVEL("c6336418.isp.example", "198.51.100.23", DYN_NO);
	LEVEL("pc6336417.isp.example", "198.51.100.23", DYN_LIKELY); /* hex */
	LEVEL("x198051100023.isp.example", "198.51.100.23", DYN_LIKELY);
	LEVEL("bas1-3325256727.isp.example", "198.51.100.23", DYN_LIKELY);
	LEVEL("23.100.51.198.isp.example", "198.51.100.23", DYN_LIKELY);
	LEVEL("host23.198-51-100.isp.example", "198.51.100.23", DYN_LIKELY);
	LEVEL("23.red-198-51-100.dynamicip.isp.example", "198.51.100.23",
	    DYN_CERTAIN);
	LEVEL("s51-100.isp.example", "198.51.100.23", DYN_NO); /* 2 octets */
	LEVEL("2001-db8-1-2-3-4-5-6.isp.example", "2001:db8:1:2:3:4:5:6",
	    DYN_LIKELY);
	/* Customer-line codes count with digits only. */
	LEVEL("cpc123456-oxfd27-2-0.isp.example", "198.51.100.23", DYN_LIKELY);
	LEVEL("cpc.isp.example", "198.51.100.23", DYN_NO);
	LEVEL("cpc123456-oxfd27-2-0-cust789.cable.isp.example",
	    "198.51.100.23", DYN_CERTAIN);
	LEVEL("bgp01234567bgs.isp.example", "198.51.100.23", DYN_LIKELY);
	/* A mail word in any label: the big senders' outbound hosts. */
	LEVEL("o123-198-51-100-23.outbound-mail.sender.example",
	    "198.51.100.23", DYN_NO);
	LEVEL("198-51-100-23.mail-mail.sender.example", "198.51.100.23",
	    DYN_NO);
	LEVEL("a100-23.smtp-out.sender.example", "198.51.100.23", DYN_NO);
	LEVEL("mail-198-51-100-23.isp.example", "198.51.100.23", DYN_NO);
	/* Static words, and a static DSL line. */
	LEVEL("static-dsl-198-51-100-23.isp.example", "198.51.100.23", DYN_NO);
	LEVEL("198-51-100-23.sta.isp.example", "198.51.100.23", DYN_NO);
	LEVEL("ded-198-51-100-23.isp.example", "198.51.100.23", DYN_NO);
	LEVEL("leased-line-198-51-100-23.isp.example", "198.51.100.23",
	    DYN_NO);
	LEVEL("fixed-198-51-100-23.isp.example", "198.51.100.23", DYN_NO);
	LEVEL("biz-198-51-100-23.dsl.isp.example", "198.51.100.23", DYN_NO);
	LEVEL("server12.dsl.isp.example", "198.51.100.23", DYN_NO);
	LEVEL("198-51-100-23.colo.isp.example", "198.51.100.23", DYN_NO);
	/* The registered domain itself says nothing (dsl-isp.example). */
	LEVEL("www2.dsl-isp.example", "198.51.100.23", DYN_NO);
}

/*
 * The documented order: the file's exemptions and '+' lines, then the
 * built-in exemptions, then the signs (a pool pattern is one of them).
 */
static void
test_dynamic_exemptions_before_patterns(void **state)
{
	char path[] = "/tmp/dyn_order_XXXXXX", why[160];
	struct dyn_patterns *p;
	struct why w;
	FILE *fp;

	(void)state;
	fp = fdopen(mkstemp(path), "w");
	fputs("!^relay-pool[0-9]+\\.isp\\.example$\n"
	      "+^mx[0-9]+\\.forced\\.example$\n"
	      "\\.isp\\.example$\n\\.forced\\.example$\n", fp);
	fclose(fp);
	p = dyn_patterns_load(path, &w);
	unlink(path);
	if (p == NULL)
		fail_msg("%s", w.text);
	/* A pool pattern: one sign; with the address two. */
	assert_int_equal(level("x.isp.example", "198.51.100.23", p, why,
	    sizeof(why)), DYN_LIKELY);
	assert_string_equal(why, "pattern \\.isp\\.example$");
	assert_int_equal(level("198-51-100-23.isp.example", "198.51.100.23", p,
	    why, sizeof(why)), DYN_CERTAIN);
	/* The mail word comes first: the pattern does not apply. */
	assert_int_equal(level("mx1.isp.example", "198.51.100.23", p, why,
	    sizeof(why)), DYN_NO);
	assert_string_equal(why, "mail word \"mx\"");
	/* The file's exemption, even over a pool word. */
	assert_int_equal(level("relay-pool7.isp.example", "198.51.100.23", p,
	    why, sizeof(why)), DYN_NO);
	assert_string_equal(why,
	    "exempt by pattern ^relay-pool[0-9]+\\.isp\\.example$");
	/* A '+' line overrides the built-in exemptions. */
	assert_int_equal(level("mx7.forced.example", "198.51.100.23", p, why,
	    sizeof(why)), DYN_LIKELY);
	assert_int_equal(level("mail.forced.example", "198.51.100.23", p, why,
	    sizeof(why)), DYN_NO);
	dyn_patterns_free(p);
}

/*
 * The labelled corpus (t/unit/dynamic_corpus.txt: "D|S ADDRESS NAME",
 * groups of names by naming scheme with their source), judged with the
 * shipped pattern file as a new user runs it: the confusion matrix, and
 * the bars of issue 14: at least 95% of dynamic names certain or likely,
 * at most 2% of static names certain and at most 5% likely.
 */
static void
test_dynamic_corpus_confusion_matrix(void **state)
{
	unsigned m[2][3] = { { 0 } }; /* [static, dynamic][no, likely, certain] */
	struct dyn_patterns *p;
	char line[512];
	struct why w;
	FILE *fp;
	unsigned nd, ns;

	(void)state;
	p = dyn_patterns_load(SOURCE_DIR "/etc/dynamic.txt", &w);
	if (p == NULL)
		fail_msg("%s", w.text);
	fp = fopen(SOURCE_DIR "/t/unit/dynamic_corpus.txt", "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		char label, addr[64], name[300];
		struct dyn_verdict v;
		struct ipaddr ip;
		int dyn;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		assert_int_equal(sscanf(line, "%c %63s %299s", &label, addr,
		    name), 3);
		assert_true(label == 'D' || label == 'S');
		assert_int_equal(addr_parse(addr, &ip), 0);
		dyn = label == 'D';
		dyn_judge(name, &ip, p, &v);
		m[dyn][v.level]++;
		if (dyn ? v.level == DYN_NO : v.level != DYN_NO)
			print_message("%s %s %s: %s (%s)\n", dyn ? "missed" :
			    "flagged", addr, name, dyn_level_name(v.level),
			    v.why);
	}
	fclose(fp);
	dyn_patterns_free(p);
	nd = m[1][0] + m[1][1] + m[1][2];
	ns = m[0][0] + m[0][1] + m[0][2];
	print_message("%-8s %8s %8s %8s\n", "", "no", "likely", "certain");
	print_message("%-8s %8u %8u %8u   (%u)\n", "dynamic", m[1][0], m[1][1],
	    m[1][2], nd);
	print_message("%-8s %8u %8u %8u   (%u)\n", "static", m[0][0], m[0][1],
	    m[0][2], ns);
	assert_true(nd + ns >= 300 && nd >= 100 && ns >= 100);
	/* The bars, in whole numbers: 100 * part >= 95 * whole. */
	assert_true(100 * (m[1][1] + m[1][2]) >= 95 * nd);
	assert_true(100 * m[0][2] <= 2 * ns);
	assert_true(100 * m[0][1] <= 5 * ns);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dynamic_table),
		cmocka_unit_test(test_dynamic_registered_domain),
		cmocka_unit_test(test_dynamic_registered_domain_cache),
		cmocka_unit_test(test_dynamic_patterns),
		cmocka_unit_test(test_dynamic_shipped_patterns),
		cmocka_unit_test(test_dynamic_levels_and_evidence),
		cmocka_unit_test(test_dynamic_mail_word_does_not_outweigh_two_signs),
		cmocka_unit_test(test_dynamic_exemptions_before_patterns),
		cmocka_unit_test(test_dynamic_corpus_confusion_matrix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
