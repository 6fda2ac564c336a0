/*
 * config_test - the policy file: a good file read into every field, the
 * shipped etc/policyd.yaml, and bad files with their exact messages.
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

#include "config.h"
#include "spf.h"
#include "checks/dynamic_conf.h"
#include "checks/spf_conf.h"
#include "xalloc.h"

#ifndef SOURCE_DIR
#error SOURCE_DIR must name the source tree
#endif

/* The spf check's own options in a policy. */
#define SPFC(pol) ((const struct spf_conf *)(pol)->conf)

static struct cfg *
parse(const char *text, struct why *why)
{
	return cfg_parse("t.yaml", text, strlen(text), why);
}

static void
test_config_the_sweep_is_the_stores(void **state)
{
	struct why why;
	struct cfg *cfg;

	(void)state;
	cfg = parse("", &why);
	assert_non_null(cfg);
	assert_int_equal(cfg->store_sweep_interval_ms, 60000);
	assert_int_equal(cfg->store_sweep_batch, 500);
	cfg_unref(cfg);
	cfg = parse("store: { sweep_interval: 2s, sweep_batch: 7 }\n", &why);
	assert_non_null(cfg);
	assert_int_equal(cfg->store_sweep_interval_ms, 2000);
	assert_int_equal(cfg->store_sweep_batch, 7);
	cfg_unref(cfg);
	/* The older keys under greylisting still set it ... */
	cfg = parse("checks:\n  greylist: { sweep_interval: 3s, sweep_batch: "
	    "9 }\n", &why);
	assert_non_null(cfg);
	assert_int_equal(cfg->store_sweep_interval_ms, 3000);
	assert_int_equal(cfg->store_sweep_batch, 9);
	cfg_unref(cfg);
	/* ... unless the store's own are given. */
	cfg = parse("store: { sweep_interval: 2s }\nchecks:\n  greylist: { "
	    "sweep_interval: 3s }\n", &why);
	assert_non_null(cfg);
	assert_int_equal(cfg->store_sweep_interval_ms, 2000);
	cfg_unref(cfg);
	cfg = parse("store: { sweep_batch: 0 }\n", &why);
	assert_null(cfg);
	assert_non_null(strstr(why.text, "store: sweep_batch"));
}

static void
test_config_defaults(void **state)
{
	struct why why;
	struct cfg *cfg = parse("# only a comment\n", &why);
	char buf[CIDR_STRLEN];

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(cfg->nlisten, 1);
	assert_int_equal(cfg->listen[0].kind, CFG_LISTEN_INET);
	assert_string_equal(cfg->listen[0].host, "127.0.0.1");
	assert_int_equal(cfg->listen[0].port, 10023);
	assert_int_equal(cfg->nallow, 2);
	assert_string_equal(cidr_format(&cfg->allow[0], buf, sizeof(buf)),
	    "127.0.0.0/8");
	assert_string_equal(cidr_format(&cfg->allow[1], buf, sizeof(buf)),
	    "::1/128");
	assert_int_equal(cfg->max_connections, 1000);
	assert_int_equal(cfg->idle_timeout_ms, 600000);
	assert_int_equal(cfg->deadline_ms, 10000);
	assert_int_equal(cfg->net.ipv4_prefix, 24);
	assert_int_equal(cfg->net.ipv6_prefix, 64);
	assert_string_equal(cfg->default_action, "DUNNO");
	assert_string_equal(cfg->error_action, "DUNNO");
	assert_int_equal(cfg->naccess, 0);
	/* The metrics file where a collector may read it: the runtime
	 * directory, 0644 (the state directory is the daemon's alone). */
	{
		char m[256];

		cfg_metrics_file(cfg, m, sizeof(m));
		assert_string_equal(m, "/run/policyd/metrics.prom");
		assert_int_equal(cfg->metrics_mode, 0644);
	}
	cfg_unref(cfg);
	/* An empty file is the same. */
	cfg = parse("", &why);
	assert_non_null(cfg);
	cfg_unref(cfg);
}

static void
test_config_good_file(void **state)
{
	const char *text =
	    "listen:\n"
	    "  - inet: 127.0.0.1:0\n"
	    "  - inet: \"[::1]:10024\"\n"
	    "  - unix: /tmp/policyd.sock\n"
	    "    mode: \"0660\"\n"
	    "    group: postfix\n"
	    "allow: [10.0.0.0/8, \"2001:db8::/32\"]\n"
	    "state_dir: /tmp/state\n"
	    "max_connections: 5\n"
	    "idle_timeout: 2m\n"
	    "shutdown_timeout: 1500ms\n"
	    "deadline: 4\n"
	    "network: { ipv4_prefix: 32, ipv6_prefix: 48 }\n"
	    "default_action: DEFER_IF_PERMIT 4.7.1 later\n"
	    "on_error: defer\n"
	    "access:\n"
	    "  - name: office\n"
	    "    client: [192.0.2.0/24, 2001:db8:1::/48]\n"
	    "    action: OK\n"
	    "  - client_name: .Example.NET\n"
	    "    sender: [\"<>\", Bad@Spam.example, .spam.example, "
	    "example.com, user@]\n"
	    "    recipient: postmaster@example.org\n"
	    "    action: 554 5.7.1 no\n";
	struct why why;
	struct cfg *cfg = parse(text, &why);

	(void)state;
	if (cfg == NULL)
		fail_msg("%s", why.text);
	assert_int_equal(cfg->nlisten, 3);
	assert_int_equal(cfg->listen[0].port, 0);
	assert_string_equal(cfg->listen[1].host, "::1");
	assert_int_equal(cfg->listen[1].port, 10024);
	assert_int_equal(cfg->listen[2].kind, CFG_LISTEN_UNIX);
	assert_string_equal(cfg->listen[2].path, "/tmp/policyd.sock");
	assert_int_equal(cfg->listen[2].mode, 0660);
	assert_string_equal(cfg->listen[2].group, "postfix");
	assert_int_equal(cfg->nallow, 2);
	assert_string_equal(cfg->state_dir, "/tmp/state");
	assert_int_equal(cfg->max_connections, 5);
	assert_int_equal(cfg->idle_timeout_ms, 120000);
	assert_int_equal(cfg->shutdown_timeout_ms, 1500);
	assert_int_equal(cfg->deadline_ms, 4000);
	assert_int_equal(cfg->net.ipv4_prefix, 32);
	assert_int_equal(cfg->net.ipv6_prefix, 48);
	assert_string_equal(cfg->default_action, "DEFER_IF_PERMIT 4.7.1 later");
	assert_non_null(strstr(cfg->error_action, "DEFER_IF_PERMIT 4.3.0"));
	assert_int_equal(cfg->naccess, 2);
	assert_string_equal(cfg->access[0].name, "office");
	assert_int_equal(cfg->access[0].nclients, 2);
	assert_string_equal(cfg->access[1].name, "access[2]");
	assert_int_equal(cfg->access[1].line, 20);
	assert_string_equal(cfg->access[1].client_names[0], ".example.net");
	assert_int_equal(cfg->access[1].nsenders, 5);
	assert_string_equal(cfg->access[1].senders[0], "<>");
	assert_string_equal(cfg->access[1].senders[1], "bad@spam.example");
	assert_string_equal(cfg->access[1].senders[2], ".spam.example");
	assert_string_equal(cfg->access[1].senders[3], "@example.com");
	assert_string_equal(cfg->access[1].senders[4], "user@");
	assert_string_equal(cfg->access[1].recipients[0],
	    "postmaster@example.org");
	assert_string_equal(cfg->access[1].action, "554 5.7.1 no");
	assert_int_equal(cfg_ref(cfg)->refs, 2);
	cfg_unref(cfg);
	cfg_unref(cfg);
}

static void
test_config_dns(void **state)
{
	const char *text = "dns:\n"
			   "  nameservers: [127.0.0.1:5353, \"[::1]:53\"]\n"
			   "  timeout: 500ms\n  tries: 3\n  limit: 4s\n"
			   "  cache_size: 100\n  min_ttl: 10s\n"
			   "  max_ttl: 1h\n  negative_ttl: 5m\n"
			   "  max_inflight: 64\n";
	struct why why;
	struct cfg *cfg = parse(text, &why);

	(void)state;
	if (cfg == NULL)
		fail_msg("%s", why.text);
	assert_int_equal(cfg->dns.nservers, 2);
	assert_string_equal(cfg->dns.servers[0].name, "127.0.0.1:5353");
	assert_string_equal(cfg->dns.servers[1].name, "[::1]:53");
	assert_int_equal(cfg->dns.timeout_ms, 500);
	assert_int_equal(cfg->dns.tries, 3);
	assert_int_equal(cfg->dns.limit_ms, 4000);
	assert_int_equal(cfg->dns.cache_size, 100);
	assert_int_equal(cfg->dns.min_ttl, 10);
	assert_int_equal(cfg->dns.max_ttl, 3600);
	assert_int_equal(cfg->dns.neg_max_ttl, 300);
	assert_int_equal(cfg->dns.max_inflight, 64);
	cfg_unref(cfg);
	/* Without a dns section: resolv.conf, documented defaults. */
	cfg = parse("", &why);
	assert_int_equal(cfg->dns.nservers, 0);
	assert_int_equal(cfg->dns.timeout_ms, 2000);
	assert_int_equal(cfg->dns.tries, 2);
	cfg_unref(cfg);
}

/* The spf check's own keys, and a profile's copy of them. */
static void
test_config_spf(void **state)
{
	const char *text = "checks:\n"
			   "  spf:\n"
			   "    fail: { score: 4 }\n"
			   "    permerror: reject\n"
			   "    temperror: log\n"
			   "    helo_first: yes\n"
			   "    header: authentication-results\n"
			   "    forwarders: [192.0.2.0/24, \"2001:db8::/32\"]\n"
			   "    secondary_mx: 198.51.100.25/32\n"
			   "  greylist: { pool_spf: no, pool_fcrdns: off }\n"
			   "profiles:\n"
			   "  relaxed:\n"
			   "    checks:\n"
			   "      spf: { softfail: log, forwarders: [] }\n";
	const struct chk_policy *spf, *pspf;
	struct why why;
	struct cfg *cfg = parse(text, &why);
	char buf[CIDR_STRLEN];

	(void)state;
	if (cfg == NULL)
		fail_msg("%s", why.text);
	spf = &cfg->checks[chk_find("spf")];
	assert_true(spf->enabled);
	assert_int_equal(spf->results[SPF_FAIL].on, CHK_SCORE);
	assert_int_equal(spf->results[SPF_FAIL].score, 4);
	assert_int_equal(spf->results[SPF_PERMERROR].on, CHK_REJECT);
	assert_int_equal(spf->results[SPF_TEMPERROR].on, CHK_LOG);
	/* What the file does not name keeps its default. */
	assert_int_equal(spf->results[SPF_SOFTFAIL].on, CHK_SCORE);
	assert_int_equal(spf->results[SPF_SOFTFAIL].score, 2);
	assert_int_equal(spf->results[SPF_NEUTRAL].score, 0);
	assert_true(SPFC(spf)->helo_first);
	assert_int_equal(SPFC(spf)->header, SPF_HDR_AUTH_RESULTS);
	assert_int_equal(SPFC(spf)->nforwarders, 2);
	assert_string_equal(cidr_format(&SPFC(spf)->forwarders[1], buf,
	    sizeof(buf)),
	    "2001:db8::/32");
	assert_int_equal(SPFC(spf)->nsecondary_mx, 1);
	assert_false(greylist_conf(cfg)->pool_spf);
	assert_false(greylist_conf(cfg)->pool_fcrdns);
	/* The profile starts from the main policy and changes two keys. */
	pspf = &cfg->profiles[0].checks[chk_find("spf")];
	assert_int_equal(pspf->results[SPF_SOFTFAIL].on, CHK_LOG);
	assert_int_equal(pspf->results[SPF_FAIL].score, 4);
	assert_int_equal(SPFC(pspf)->header, SPF_HDR_AUTH_RESULTS);
	assert_int_equal(SPFC(pspf)->nforwarders, 0);
	assert_int_equal(SPFC(pspf)->nsecondary_mx, 1);
	assert_ptr_not_equal(SPFC(pspf)->secondary_mx, SPFC(spf)->secondary_mx);
	cfg_unref(cfg);
	/* Without a section: off, with the documented defaults ready. */
	cfg = parse("", &why);
	spf = &cfg->checks[chk_find("spf")];
	assert_false(spf->enabled);
	assert_int_equal(spf->results[SPF_FAIL].on, CHK_REJECT);
	assert_int_equal(spf->results[SPF_PERMERROR].score, 1);
	cfg_unref(cfg);
}

/*
 * A check whose named results are all failures (dynamic: likely,
 * certain) takes on_fail for each of them, the results' own keys
 * winning; spf, whose results include pass, does not take on_fail.
 */
static void
test_config_on_fail_sets_every_level(void **state)
{
	static const char text[] =
	    "checks:\n"
	    "  dynamic: { on_fail: { score: 4 }, certain: reject }\n"
	    "  dynamic_helo: { on_fail: log }\n";
	const struct chk_policy *d, *h;
	struct why why;
	struct cfg *cfg = parse(text, &why);

	(void)state;
	if (cfg == NULL)
		fail_msg("%s", why.text);
	d = &cfg->checks[chk_find("dynamic")];
	h = &cfg->checks[chk_find("dynamic_helo")];
	/* results: likely (0), certain (1) */
	assert_int_equal(d->results[0].on, CHK_SCORE);
	assert_int_equal(d->results[0].score, 4);
	assert_int_equal(d->results[1].on, CHK_REJECT);
	assert_int_equal(h->results[0].on, CHK_LOG);
	assert_int_equal(h->results[1].on, CHK_LOG);
	cfg_unref(cfg);
	/* Without on_fail: the defaults (certain refuses, likely scores). */
	cfg = parse("checks:\n  dynamic: {}\n", &why);
	d = &cfg->checks[chk_find("dynamic")];
	assert_int_equal(d->results[0].on, CHK_SCORE);
	assert_int_equal(d->results[0].score, 2);
	assert_int_equal(d->results[1].on, CHK_REJECT);
	cfg_unref(cfg);
	assert_null(parse("checks:\n  spf: { on_fail: reject }\n", &why));
	assert_non_null(strstr(why.text, "action per result"));
}

/*
 * Review B9: the network: prefixes were read nowhere. Greylisting groups
 * clients by them unless it names its own prefixes.
 */
static void
test_config_network_prefixes_group_greylisting(void **state)
{
	struct why why;
	struct cfg *cfg;

	(void)state;
	cfg = parse("network: { ipv4_prefix: 16, ipv6_prefix: 48 }\n"
		    "checks:\n  greylist: {}\n", &why);
	if (cfg == NULL)
		fail_msg("%s", why.text);
	assert_int_equal(greylist_conf(cfg)->ipv4_prefix, 16);
	assert_int_equal(greylist_conf(cfg)->ipv6_prefix, 48);
	cfg_unref(cfg);
	cfg = parse("network: { ipv4_prefix: 16 }\n"
		    "checks:\n  greylist: { ipv4_prefix: 28 }\n", &why);
	assert_int_equal(greylist_conf(cfg)->ipv4_prefix, 28);
	assert_int_equal(greylist_conf(cfg)->ipv6_prefix, 64);
	/* The SPF pool's widest mechanism, with its defaults. */
	assert_int_equal(greylist_conf(cfg)->pool_spf_ipv4_prefix, 16);
	assert_int_equal(greylist_conf(cfg)->pool_spf_ipv6_prefix, 32);
	cfg_unref(cfg);
	cfg = parse("checks:\n  greylist: { pool_spf_ipv4_prefix: 20, "
		    "pool_spf_ipv6_prefix: 48 }\n", &why);
	assert_int_equal(greylist_conf(cfg)->pool_spf_ipv4_prefix, 20);
	assert_int_equal(greylist_conf(cfg)->pool_spf_ipv6_prefix, 48);
	cfg_unref(cfg);
}

static void
test_config_shipped_file(void **state)
{
	struct why why;
	struct cfg *cfg = cfg_load(SOURCE_DIR "/etc/policyd.yaml", &why);

	(void)state;
	if (cfg == NULL)
		fail_msg("%s", why.text);
	assert_int_equal(cfg->listen[0].port, 10023);
	/* The seed policy greylists with the documented defaults. */
	assert_true(greylist_enabled(cfg));
	assert_int_equal(greylist_conf(cfg)->delay, 300);
	assert_int_equal(greylist_conf(cfg)->retry_window, 2 * 86400);
	assert_int_equal(greylist_conf(cfg)->max_age, 35 * 86400);
	assert_int_equal(greylist_conf(cfg)->awl_clients, 5);
	assert_int_equal(greylist_conf(cfg)->awl_domains, 2);
	assert_int_equal(cfg->store_sync, STORE_SYNC_OS);
	assert_int_equal(cfg->store_cache, 64u << 20);
	/* ... and runs the identity checks of the seed policy. */
	assert_int_equal(cfg->checks[chk_find("rdns")].on_fail, CHK_REJECT);
	assert_int_equal(cfg->checks[chk_find("helo")].on_fail, CHK_REJECT);
	assert_int_equal(cfg->checks[chk_find("dynamic")].on_fail, CHK_REJECT);
	assert_non_null(((const struct dynamic_conf *)
	    cfg->checks[chk_find("dynamic")].conf)->patterns);
	assert_int_equal(cfg->checks[chk_find("fcrdns")].on_fail, CHK_SCORE);
	assert_int_equal(cfg->checks[chk_find("fcrdns")].score, 2);
	assert_int_equal(cfg->checks[chk_find("helo_dns")].score, 2);
	assert_true(cfg->checks[chk_find("sender")].enabled);
	/* ... and the DNS lists, a list that does not answer never defers. */
	assert_true(cfg->checks[chk_find("dnsbl")].enabled);
	assert_int_equal(cfg->checks[chk_find("dnsbl")].on_tempfail,
	    CHK_TF_IGNORE);
	assert_int_equal(cfg->score_reject, 5);
	assert_int_equal(cfg->score_greylist, 0);
	assert_true(cfg->tempfail_defer);
	/* SPF: fail refuses, softfail scores, temperror defers, header. */
	{
		const struct chk_policy *spf = &cfg->checks[chk_find("spf")];

		assert_true(spf->enabled);
		assert_int_equal(spf->results[SPF_FAIL].on, CHK_REJECT);
		assert_int_equal(spf->results[SPF_SOFTFAIL].on, CHK_SCORE);
		assert_int_equal(spf->results[SPF_SOFTFAIL].score, 2);
		assert_int_equal(spf->results[SPF_TEMPERROR].on, CHK_DEFER);
		assert_int_equal(SPFC(spf)->header, SPF_HDR_RECEIVED_SPF);
		assert_true(greylist_conf(cfg)->pool_spf);
		assert_true(greylist_conf(cfg)->pool_fcrdns);
	}
	cfg_unref(cfg);
}

static const struct {
	const char *label;
	const char *text;
	const char *want; /* the exact message */
} bad_cases[] = {
	{ "unknown key", "lisen: []\n",
	    "t.yaml:1:1: unknown key \"lisen\" in the policy file; did you "
	    "mean \"listen\"?" },
	{ "unknown key, nothing close", "spamtrap: []\n",
	    "t.yaml:1:1: unknown key \"spamtrap\" in the policy file" },
	{ "a check's option at the top", "local_domains: [example.org]\n",
	    "t.yaml:1:1: unknown key \"local_domains\" in the policy file; it "
	    "belongs under checks: outbound: local_domains" },
	{ "a check at the top", "greylist: { delay: 1m }\n",
	    "t.yaml:1:1: unknown key \"greylist\" in the policy file; it is a "
	    "check: under checks: greylist" },
	{ "my_name", "my_name: [mx.example.org]\n",
	    "t.yaml:1:1: unknown key \"my_name\" in the policy file; did you "
	    "mean \"my_names\"?" },
	{ "duplicate key", "deadline: 5s\ndeadline: 6s\n",
	    "t.yaml:2:1: duplicate key \"deadline\" in the policy file" },
	{ "root is a list", "- a\n",
	    "t.yaml:1:1: the policy file: expected a mapping of keys, found "
	    "a list" },
	{ "yaml syntax", "listen: [\n",
	    "t.yaml:2:1: did not find expected node content while parsing "
	    "a flow node" },
	{ "yaml bad indentation", "a: b\n c: d\n",
	    "t.yaml:2:3: mapping values are not allowed in this context" },
	{ "two documents", "deadline: 5s\n---\ndeadline: 6s\n",
	    "t.yaml:3:1: only one YAML document is allowed" },
	{ "not a number", "max_connections: abc\n",
	    "t.yaml:1:18: max_connections: \"abc\" is not a whole number" },
	{ "negative number", "max_connections: -1\n",
	    "t.yaml:1:18: max_connections: \"-1\" is not a whole number" },
	{ "number out of range", "max_connections: 0\n",
	    "t.yaml:1:18: max_connections: 0 is out of range (1 to 100000)" },
	{ "number is a list", "max_connections: [1]\n",
	    "t.yaml:1:18: max_connections: expected a value, found a list" },
	{ "bad duration unit", "idle_timeout: 5x\n",
	    "t.yaml:1:15: idle_timeout: \"5x\" is not a duration (a number "
	    "with ms, s, m, h, d or w, e.g. 300s, 5m, 4d)" },
	{ "duration without number", "idle_timeout: s\n",
	    "t.yaml:1:15: idle_timeout: \"s\" is not a duration (a number "
	    "with ms, s, m, h, d or w, e.g. 300s, 5m, 4d)" },
	{ "negative duration", "idle_timeout: -5s\n",
	    "t.yaml:1:15: idle_timeout: \"-5s\" is not a duration (a number "
	    "with ms, s, m, h, d or w, e.g. 300s, 5m, 4d)" },
	{ "duration with blank", "idle_timeout: 5 s\n",
	    "t.yaml:1:15: idle_timeout: \"5 s\" is not a duration (a number "
	    "with ms, s, m, h, d or w, e.g. 300s, 5m, 4d)" },
	{ "huge duration", "idle_timeout: 99999999999999999999d\n",
	    "t.yaml:1:15: idle_timeout: \"99999999999999999999d\" is longer "
	    "than 10 years" },
	{ "duration out of range", "deadline: 5m\n",
	    "t.yaml:1:11: deadline: 5m is out of range (100ms to 100s)" },
	{ "greylist delay not shorter than retry_window",
	    "checks:\n  greylist:\n    delay: 1h\n    retry_window: 30m\n",
	    "t.yaml:3:12: greylist: delay (3600s) is not shorter than "
	    "retry_window (1800s): no retry could ever pass" },
	{ "greylist pool prefix range",
	    "checks:\n  greylist: { pool_spf_ipv4_prefix: 33 }\n",
	    "t.yaml:2:37: greylist: pool_spf_ipv4_prefix: 33 is out of range "
	    "(0 to 32)" },
	{ "greylist max_age range", "checks:\n  greylist:\n    max_age: 10m\n",
	    "t.yaml:3:14: greylist: max_age: 10m is out of range (1h to "
	    "3650d)" },
	{ "cidr host bits", "allow: [10.0.0.1/8]\n",
	    "t.yaml:1:9: allow: \"10.0.0.1/8\" has host bits set; did you mean "
	    "10.0.0.0/8?" },
	{ "cidr garbage", "allow:\n  - localhost\n",
	    "t.yaml:2:5: allow: \"localhost\" is not an IPv4 or IPv6 address" },
	{ "allow is a mapping", "allow: {a: b}\n",
	    "t.yaml:1:8: allow: expected a list of networks, found a mapping" },
	{ "listen is a value", "listen: 127.0.0.1:10023\n",
	    "t.yaml:1:9: listen: expected a list, found a value" },
	{ "listen empty", "listen: []\n",
	    "t.yaml:1:9: listen: needs at least one listener" },
	{ "listen without port", "listen:\n  - inet: 127.0.0.1\n",
	    "t.yaml:2:11: listen: inet \"127.0.0.1\" is not address:port, "
	    "e.g. 127.0.0.1:10023 or [::1]:10023" },
	{ "listen port too big", "listen:\n  - inet: 127.0.0.1:65536\n",
	    "t.yaml:2:11: listen: inet \"127.0.0.1:65536\": port must be 0 "
	    "to 65535" },
	{ "listen host name", "listen:\n  - inet: localhost:10023\n",
	    "t.yaml:2:11: listen: inet \"localhost:10023\": \"localhost\" is "
	    "not an IP address" },
	{ "listen ipv6 without brackets", "listen:\n  - inet: ::1:10023\n",
	    "t.yaml:2:11: listen: inet \"::1:10023\": write an IPv6 address "
	    "in brackets, e.g. [::1]:10023" },
	{ "listen both kinds", "listen:\n  - inet: 127.0.0.1:1\n    unix: /x\n",
	    "t.yaml:2:5: listen: each listener needs either inet or unix" },
	{ "listen mode on inet", "listen:\n  - inet: 127.0.0.1:1\n    mode: "
				 "\"0600\"\n",
	    "t.yaml:3:11: listen: mode and group are for unix sockets" },
	{ "listen bad mode", "listen:\n  - unix: /x\n    mode: \"0999\"\n",
	    "t.yaml:3:11: listen: mode: \"0999\" is not an octal mode like "
	    "\"0660\"" },
	{ "listen unknown key", "listen:\n  - unix: /x\n    owner: root\n",
	    "t.yaml:3:5: unknown key \"owner\" in listen" },
	{ "network prefix", "network:\n  ipv4_prefix: 33\n",
	    "t.yaml:2:16: network: ipv4_prefix: 33 is out of range (0 to 32)" },
	{ "default action", "default_action: MAYBE\n",
	    "t.yaml:1:17: default_action: \"MAYBE\" is not an action (OK, "
	    "DUNNO, REJECT text, DEFER text, DEFER_IF_PERMIT text, "
	    "DEFER_IF_REJECT text, or 4xx/5xx text)" },
	{ "OK with text", "default_action: OK fine\n",
	    "t.yaml:1:17: default_action: action OK takes no text" },
	{ "code without text", "default_action: 550\n",
	    "t.yaml:1:17: default_action: action \"550\" needs a text after "
	    "the code" },
	{ "on_error", "on_error: reject\n",
	    "t.yaml:1:11: on_error: \"reject\" is neither dunno nor defer" },
	{ "rule without action", "access:\n  - client: 192.0.2.0/24\n",
	    "t.yaml:2:5: access[1]: needs an action" },
	{ "rule without selector", "access:\n  - action: OK\n",
	    "t.yaml:2:5: access[1]: needs at least one of client, client_name, "
	    "sender, recipient" },
	{ "rule bad cidr", "access:\n  - client: 192.0.2.0/33\n    action: OK\n",
	    "t.yaml:2:13: access[1].client: \"192.0.2.0/33\": prefix length "
	    "must be 0 to 32" },
	{ "rule bad sender", "access:\n  - name: x\n    sender: 'a b@c'\n"
			     "    action: OK\n",
	    "t.yaml:3:13: access[x].sender: \"a b@c\" is not an address "
	    "pattern (user@domain, user@, @domain, domain or .domain)" },
	{ "rule null recipient", "access:\n  - recipient: '<>'\n"
				 "    action: OK\n",
	    "t.yaml:2:16: access[1].recipient: \"<>\" (the null sender) is "
	    "only allowed as a sender pattern" },
	{ "rule bad client name", "access:\n  - client_name: '..x'\n"
				  "    action: OK\n",
	    "t.yaml:2:18: access[1].client_name: \"..x\" is not a host name or "
	    ".domain suffix" },
	{ "rule sender wildcard", "access:\n  - sender: \"*@spam.example\"\n"
	    "    action: REJECT\n",
	    "t.yaml:2:13: access[1].sender: \"*@spam.example\" has a "
	    "wildcard, which never matches: write @spam.example for "
	    "every address at spam.example (.spam.example for its "
	    "subdomains)" },
	{ "rule recipient wildcard", "access:\n  - recipient: "
	    "\"*@*.example\"\n    action: REJECT\n",
	    "t.yaml:2:16: access[1].recipient: \"*@*.example\" has a "
	    "wildcard, which never matches: write .example for every "
	    "address below example" },
	{ "rule local part and wildcard", "access:\n  - recipient: "
	    "\"bob@*.example\"\n    action: REJECT\n",
	    "t.yaml:2:16: access[1].recipient: \"bob@*.example\" has a "
	    "wildcard, which never matches: write user@domain, user@, "
	    "@domain or .domain" },
	{ "rule client_name wildcard", "access:\n  - client_name: "
	    "\"*.example.org\"\n    action: OK\n",
	    "t.yaml:2:18: access[1].client_name: \"*.example.org\" has a "
	    "wildcard, which never matches: write .example.org for every "
	    "name below example.org" },
	{ "whitelist sender wildcard", "checks:\n  whitelist:\n    entries:\n"
	    "      - { recipient: a@our.example, sender: \"*@x.example\" }\n",
	    "t.yaml:4:45: whitelist: entries: sender: \"*@x.example\" "
	    "has a wildcard, which never matches: write @x.example for "
	    "every address at x.example (.x.example for its subdomains)" },
	{ "rule unknown key", "access:\n  - clients: 192.0.2.0/24\n",
	    "t.yaml:2:5: unknown key \"clients\" in access[1]; did you mean "
	    "\"client\"?" },
	{ "NUL in value", "state_dir: \"a\\0b\"\n",
	    "t.yaml:1:12: state_dir: value contains a NUL byte" },
	{ "empty string", "state_dir: ''\n",
	    "t.yaml:1:12: state_dir: must not be empty" },
	{ "greylist unknown key", "checks:\n  greylist:\n    dealy: 5m\n",
	    "t.yaml:3:5: unknown key \"dealy\" in checks: greylist; did you "
	    "mean \"delay\"?" },
	{ "greylist bad duration", "checks:\n  greylist:\n    delay: 5 min\n",
	    "t.yaml:3:12: greylist: delay: \"5 min\" is not a duration (a "
	    "number with ms, s, m, h, d or w, e.g. 300s, 5m, 4d)" },
	{ "greylist sub-second delay", "checks:\n  greylist:\n    delay: "
				       "1500ms\n",
	    "t.yaml:3:12: greylist: delay: 1500ms is not a whole number of "
	    "seconds" },
	{ "greylist bool", "checks:\n  greylist:\n    header: maybe\n",
	    "t.yaml:3:13: greylist: header: \"maybe\" is neither true nor "
	    "false" },
	{ "greylist on_error", "checks:\n  greylist:\n    on_error: reject\n",
	    "t.yaml:3:15: greylist: on_error: \"reject\" is neither dunno nor "
	    "defer" },
	{ "unknown check", "checks:\n  spamassassin: {}\n",
	    "t.yaml:2:3: unknown key \"spamassassin\" in checks" },
	{ "spf on_fail", "checks:\n  spf: { on_fail: reject }\n",
	    "t.yaml:2:19: spf: on_fail: the spf check has an action per "
	    "result instead (fail: reject, softfail: { score: 2 }, ...)" },
	{ "spf temperror reject", "checks:\n  spf: { temperror: reject }\n",
	    "t.yaml:2:21: spf: temperror: a temporary error is never a reason "
	    "to refuse: use defer or log" },
	{ "spf temperror score", "checks:\n  spf:\n    temperror: "
	    "{ score: 1 }\n",
	    "t.yaml:3:16: spf: temperror: a temporary error is never a reason "
	    "to refuse: use defer or log" },
	{ "spf pass", "checks:\n  spf: { pass: reject }\n",
	    "t.yaml:2:16: spf: pass: a pass is never refused or scored" },
	{ "spf bad result action", "checks:\n  spf: { softfail: maybe }\n",
	    "t.yaml:2:20: spf: softfail: \"maybe\" is not reject, defer, log "
	    "or { score: N }" },
	{ "spf header", "checks:\n  spf: { header: x-spf }\n",
	    "t.yaml:2:18: spf: header: \"x-spf\" is not received-spf, "
	    "authentication-results or none" },
	{ "spf forwarders", "checks:\n  spf:\n    forwarders: [192.0.2.1/24]\n",
	    "t.yaml:3:18: spf: forwarders: \"192.0.2.1/24\" has host bits "
	    "set; did you mean 192.0.2.0/24?" },
	{ "forwarders elsewhere", "checks:\n  rdns:\n    forwarders: "
	    "[192.0.2.0/24]\n",
	    "t.yaml:3:17: rdns: forwarders: only the spf check has forwarders" },
	{ "outbound without local_domains", "checks:\n  outbound: {}\n",
	    "t.yaml:2:13: outbound: local_domains is required (our own "
	    "domains, e.g. [example.org]): mail to them makes no "
	    "correspondent, or a forged colleague's mail would skip "
	    "greylisting" },
	{ "pool not bool", "checks:\n  greylist: { pool_spf: maybe }\n",
	    "t.yaml:2:25: greylist: pool_spf: \"maybe\" is neither true nor "
	    "false" },
	{ "store cache", "store:\n  cache: 64MB\n",
	    "t.yaml:2:10: store: cache: \"64MB\" is not a size (a number of "
	    "bytes, or with KiB, MiB or GiB, e.g. 64MiB)" },
	{ "store cache too small", "store:\n  cache: 1KiB\n",
	    "t.yaml:2:10: store: cache: 1KiB is out of range (1MiB to 64GiB)" },
	{ "dns nameserver", "dns:\n  nameservers: [127.0.0.1:99999]\n",
	    "t.yaml:2:17: dns: nameservers: \"127.0.0.1:99999\" is not a "
	    "nameserver address (192.0.2.1, 192.0.2.1:5353 or "
	    "[2001:db8::1]:53)" },
	{ "dns tries", "dns:\n  tries: 0\n",
	    "t.yaml:2:10: dns: tries: 0 is out of range (1 to 10)" },
	{ "dns ttl order", "dns:\n  min_ttl: 2h\n  max_ttl: 1h\n",
	    "t.yaml:2:3: dns: min_ttl (7200s) is longer than max_ttl (3600s)" },
	{ "select unknown profile", "select:\n  stress: relaxed\n",
	    "t.yaml:2:11: select: stress: no profile \"relaxed\"" },
	{ "profile unknown key", "profiles:\n  p:\n    listen: []\n",
	    "t.yaml:3:5: unknown key \"listen\" in profiles: p" },
	{ "profile greylist settings", "profiles:\n  p:\n    checks:\n"
				       "      greylist: { delay: 1s }\n",
	    "t.yaml:4:19: unknown key \"delay\" in profile greylist (only "
	    "enabled)" },
	{ "strict only for helo_dns", "checks:\n  helo: { strict: true }\n",
	    "t.yaml:2:19: helo: strict: only the helo_dns check has strict" },
	{ "on_fail value", "checks:\n  rdns: { on_fail: drop }\n",
	    "t.yaml:2:20: rdns: on_fail: \"drop\" is not reject, defer, log or "
	    "{ score: N }" },
	{ "on_tempfail reject", "on_tempfail: reject\n",
	    "t.yaml:1:14: on_tempfail: \"reject\" is neither dunno nor defer "
	    "(never reject)" },
	{ "store sync", "store:\n  sync: always\n",
	    "t.yaml:2:9: store: sync: \"always\" is neither os nor full" },
	{ "a tab in the indentation", "listen:\n\t- inet: 127.0.0.1:10023\n",
	    "t.yaml:2:1: found character that cannot start any token while "
	    "scanning for the next token; a tab: YAML indents with spaces, "
	    "never tabs" },
	{ "an unquoted IPv6 address in a flow sequence",
	    "allow: [127.0.0.1, ::1]\n",
	    "t.yaml:1:20: did not find expected node content while parsing a "
	    "flow node; an IPv6 address inside [ ] or { } must be quoted: "
	    "[\"::1\", \"2001:db8::/32\"]" },
	{ "an unquoted range in a flow mapping", "checks:\n  dnsbl:\n"
	    "    lists:\n      - zone: bl.test\n        codes:\n"
	    "          - { code: 127.0.0.[2..11], label: x }\n",
	    "t.yaml:6:29: did not find expected ',' or '}' while parsing a "
	    "flow mapping; a value with [ ] inside [ ] or { } must be quoted: "
	    "{ code: \"127.0.0.[2..11]\" }" },
	{ "metrics mode executable", "metrics:\n  mode: \"0755\"\n",
	    "t.yaml:2:9: metrics: mode: \"0755\" is not an octal file mode "
	    "like \"0644\" (readable by the owner, executable by nobody)" },
	{ "metrics mode unreadable", "metrics:\n  mode: \"0200\"\n",
	    "t.yaml:2:9: metrics: mode: \"0200\" is not an octal file mode "
	    "like \"0644\" (readable by the owner, executable by nobody)" },
};

static void
test_config_bad_files(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(bad_cases); i++) {
		struct why why;
		struct cfg *cfg;

		print_message("case: %s\n", bad_cases[i].label);
		why.text[0] = '\0';
		cfg = parse(bad_cases[i].text, &why);
		assert_null(cfg);
		assert_string_equal(why.text, bad_cases[i].want);
	}
}

static void
test_config_file_errors(void **state)
{
	char path[] = "/tmp/config_test_XXXXXX";
	struct why why;
	FILE *fp;
	int fd;

	(void)state;
	assert_null(cfg_load("/nonexistent/policyd.yaml", &why));
	assert_string_equal(why.text, "/nonexistent/policyd.yaml: cannot "
				      "open: No such file or directory");
	assert_null(cfg_load("/tmp", &why));
	assert_string_equal(why.text, "/tmp: not a regular file");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fputs("deadline: 5s\nbogus: 1\n", fp);
	fclose(fp);
	assert_null(cfg_load(path, &why));
	assert_non_null(strstr(why.text, ":2:1: unknown key \"bogus\""));
	assert_int_equal(strncmp(why.text, path, strlen(path)), 0);
	unlink(path);
}

static void
test_config_deep_nesting(void **state)
{
	/* Hostile nesting must end in an error, not a crash. */
	size_t depth = 500000, i;
	char *text = xmalloc(depth * 2 + 32);
	struct why why;
	struct cfg *cfg;
	size_t o;

	(void)state;
	o = (size_t)sprintf(text, "access: ");
	for (i = 0; i < depth; i++)
		text[o++] = '[';
	text[o] = '\0';
	cfg = cfg_parse("t.yaml", text, o, &why);
	assert_null(cfg);
	assert_string_equal(why.text, "t.yaml:1:24: nesting deeper than 16 "
				      "levels");
	free(text);
}

static void
test_config_duration(void **state)
{
	static const struct {
		const char *in;
		int ok;
		uint64_t ms;
	} cases[] = {
		{ "300s", 1, 300000 }, { "5m", 1, 300000 },
		{ "4d", 1, 345600000 }, { "2h", 1, 7200000 },
		{ "1w", 1, 604800000 }, { "250ms", 1, 250 },
		{ "30", 1, 30000 }, { "0", 1, 0 }, { "", 0, 0 },
		{ "5S", 0, 0 }, { "1.5h", 0, 0 }, { "5m ", 0, 0 },
		{ "m5", 0, 0 }, { "3650d", 1, UINT64_C(315360000000) },
	};
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		uint64_t ms = 12345;
		struct why why;

		print_message("case: \"%s\"\n", cases[i].in);
		assert_int_equal(cfg_parse_duration(cases[i].in, &ms, &why) == 0,
		    cases[i].ok);
		if (cases[i].ok)
			assert_int_equal(ms, cases[i].ms);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_the_sweep_is_the_stores),
		cmocka_unit_test(test_config_good_file),
		cmocka_unit_test(test_config_spf),
		cmocka_unit_test(test_config_on_fail_sets_every_level),
		cmocka_unit_test(test_config_shipped_file),
		cmocka_unit_test(test_config_network_prefixes_group_greylisting),
		cmocka_unit_test(test_config_dns),
		cmocka_unit_test(test_config_bad_files),
		cmocka_unit_test(test_config_file_errors),
		cmocka_unit_test(test_config_deep_nesting),
		cmocka_unit_test(test_config_duration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
