/*
 * greylist list|delete|flush, awl list|add|delete: greylisting's tables
 * (lib/greylist.h) for people and JSON.
 */
#define _GNU_SOURCE /* FNM_CASEFOLD */
#include "ctl_int.h"

#include <ctype.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "access.h"
#include "addr.h"
#include "config.h"
#include "greylist.h"

/* Filters of greylist list and delete. */
struct filter {
	bool has_client;
	struct cidr client;
	char pool[GL_POOL_MAX];     /* a pool identity instead, or "" */
	char *sender, *recipient;
	int state; /* 0 any, 1 pending, 2 passed */
	int64_t older_than; /* flush: last seen before now - this; -1 off */
	int64_t now;
	bool json, delete;
	bool one;           /* delete (not flush): nothing matching fails */
	uint64_t bad;    /* damaged records, skipped */
	struct ctl_job *j;
};

/*
 * pool_id - "spf:DOMAIN" or "fcrdns:DOMAIN", the client part of keys
 * that greylisting made for a sender pool: lower-cased into out. 1 if
 * arg is one, 0 if it is no pool identity (a network, then), -1 if it is
 * a malformed one (the job has failed).
 */
static int
pool_id(struct ctl_job *j, const char *arg, char *out, size_t size)
{
	size_t i;

	if (strncasecmp(arg, "spf:", 4) != 0 &&
	    strncasecmp(arg, "fcrdns:", 7) != 0)
		return 0;
	if (strlen(arg) >= size || strchr(arg, ':')[1] == '\0')
		return ctl_usage_error(j, "--client: \"%.80s\" is not a pool "
		    "(spf:DOMAIN or fcrdns:DOMAIN)", arg);
	for (i = 0; arg[i]; i++)
		out[i] = (char)tolower((unsigned char)arg[i]);
	out[i] = '\0';
	return 1;
}

/* nets_overlap - does the stored network overlap the filter's */
static bool
nets_overlap(const struct cidr *f, const char *net)
{
	struct cidr e;

	if (cidr_parse(net, &e, NULL) < 0 || e.addr.family != f->addr.family)
		return false;
	return f->prefix <= e.prefix ? cidr_match(f, &e.addr)
				     : cidr_match(&e, &f->addr);
}

/* pattern_matches - a shell pattern, case-insensitive; <> for "" */
static bool
pattern_matches(const char *pat, const char *s)
{
	if (strcmp(pat, "<>") == 0)
		return *s == '\0';
	return fnmatch(pat, s, FNM_CASEFOLD) == 0;
}

/*
 * filter_matches - does a greylist record pass the filter: a network
 * takes the entries of its networks and those whose last request came
 * from inside it (a pool's: "why was 192.0.2.25 delayed?")
 */
static bool
filter_matches(const struct filter *f, const char *net, const char *sender,
    const char *rcpt, const struct gl_entry *e)
{
	if (f->pool[0] != '\0' ? strcmp(f->pool, net) != 0
	    : f->has_client && !nets_overlap(&f->client, net) &&
	    !(e->client.family != 0 && cidr_match(&f->client, &e->client)))
		return false;
	if (f->sender && !pattern_matches(f->sender, sender))
		return false;
	if (f->recipient && !pattern_matches(f->recipient, rcpt))
		return false;
	if (f->state == 1 && e->passed_at != 0)
		return false;
	if (f->state == 2 && e->passed_at == 0)
		return false;
	if (f->older_than >= 0 && e->last >= f->now - f->older_than)
		return false;
	return true;
}

/* gl_match - store_match_fn: a greylist record the filter takes */
static bool
gl_match(void *arg, const struct store_rec *r)
{
	const struct filter *f = arg;
	const char *net, *sender, *rcpt;
	struct gl_entry e;

	if (gl_key_split(r->key, r->klen, &net, &sender, &rcpt) < 0 ||
	    gl_entry_decode(r->val, r->vlen, &e) < 0)
		return false;
	return filter_matches(f, net, sender, rcpt, &e);
}

/* gl_row - store_row_fn: one greylist entry, as a line or JSON */
static void
gl_row(void *arg, const struct store_rec *r)
{
	struct filter *f = arg;
	struct ctl_job *j = f->j;
	const char *net, *sender, *rcpt;
	struct gl_entry e;
	char t1[32], t2[32], t3[32], last[ADDR_STRLEN];

	if (gl_key_split(r->key, r->klen, &net, &sender, &rcpt) < 0 ||
	    gl_entry_decode(r->val, r->vlen, &e) < 0) {
		f->bad++;
		return;
	}
	if (e.client.family != 0)
		addr_format(&e.client, last, sizeof(last));
	else
		snprintf(last, sizeof(last), "-");
	if (f->json) {
		ctl_out(j, "{\"client\":");
		ctl_json_str(j, net);
		ctl_out(j, ",\"last_client\":%s%s%s", e.client.family ? "\""
		    : "", e.client.family ? last : "null",
		    e.client.family ? "\"" : "");
		ctl_out(j, ",\"sender\":");
		ctl_json_str(j, sender);
		ctl_out(j, ",\"recipient\":");
		ctl_json_str(j, rcpt);
		ctl_out(j, ",\"state\":\"%s\",\"first_seen\":\"%s\","
		       "\"last_seen\":\"%s\",\"passed_at\":%s%s%s,"
		       "\"count\":%u}\n",
		    e.passed_at ? "passed" : "pending",
		    ctl_iso(e.first, t1, sizeof(t1)),
		    ctl_iso(e.last, t2, sizeof(t2)), e.passed_at ? "\"" : "",
		    e.passed_at ? ctl_iso(e.passed_at, t3, sizeof(t3)) : "null",
		    e.passed_at ? "\"" : "", e.count);
		return;
	}
	ctl_out(j, "%-20s %-32s %-32s %-7s %-20s %-20s %5u %s\n", net,
	    *sender ? sender : "<>", rcpt, e.passed_at ? "passed" : "pending",
	    ctl_iso(e.first, t1, sizeof(t1)), ctl_iso(e.last, t2, sizeof(t2)),
	    e.count, last);
}

static void
filter_free(void *arg)
{
	struct filter *f = arg;

	free(f->sender);
	free(f->recipient);
	free(f);
}

/* gl_end - after the walk: what was deleted, what was damaged */
static void
gl_end(struct ctl_job *j)
{
	struct filter *f = j->state;

	/* As awl, whitelist and backscatter: deleting what is not there
	 * fails (a flush of nothing does not). */
	if (f->one && j->walk.n == 0) {
		ctl_fail(j, "greylist delete: no entry matches");
		return;
	}
	if (f->delete)
		ctl_out(j, "deleted %llu greylist entries\n",
		    (unsigned long long)j->walk.n);
	if (f->bad)
		ctl_err(j, "policyctl: %llu damaged records skipped\n",
		    (unsigned long long)f->bad);
	ctl_finish(j, CTL_OK);
}

/* ctl_greylist - list, delete, flush */
int
ctl_greylist(struct ctl_job *j, int argc, char **argv)
{
	enum { O_CLIENT = 256, O_SENDER, O_RCPT, O_PENDING, O_PASSED, O_JSON,
		O_OLDER, O_ALL };
	static const struct option opts[] = {
		{ "client", required_argument, NULL, O_CLIENT },
		{ "sender", required_argument, NULL, O_SENDER },
		{ "recipient", required_argument, NULL, O_RCPT },
		{ "pending", no_argument, NULL, O_PENDING },
		{ "passed", no_argument, NULL, O_PASSED },
		{ "json", no_argument, NULL, O_JSON },
		{ "older-than", required_argument, NULL, O_OLDER },
		{ "all", no_argument, NULL, O_ALL },
		{ NULL, 0, NULL, 0 },
	};
	struct filter *f = xcalloc(1, sizeof(*f));
	const char *sub = argv[0];
	bool all = false;
	struct why why;
	uint64_t ms;
	int ch, rc;

	f->older_than = -1;
	f->now = j->now;
	f->j = j;
	j->state = f;
	j->free_state = filter_free;
	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case O_CLIENT:
			f->has_client = true;
			if ((rc = pool_id(j, optarg, f->pool,
			    sizeof(f->pool))) != 0) {
				if (rc < 0)
					return -1;
				break;
			}
			if (cidr_parse(optarg, &f->client, &why) < 0)
				return ctl_usage_error(j, "--client: %s",
				    why.text);
			break;
		case O_SENDER:
			free(f->sender);
			f->sender = xstrdup(optarg);
			break;
		case O_RCPT:
			free(f->recipient);
			f->recipient = xstrdup(optarg);
			break;
		case O_PENDING:
		case O_PASSED:
			if (f->state != 0)
				return ctl_usage_error(j, "--pending and "
				    "--passed exclude each other");
			f->state = ch == O_PENDING ? 1 : 2;
			break;
		case O_JSON:
			f->json = true;
			break;
		case O_OLDER:
			if (cfg_parse_duration(optarg, &ms, &why) < 0)
				return ctl_usage_error(j, "--older-than: %s",
				    why.text);
			f->older_than = (int64_t)(ms / 1000);
			break;
		case O_ALL:
			all = true;
			break;
		default:
			return ctl_bad_option(j, ch, argv);
		}
	}
	if (optind != argc)
		return ctl_usage_error(j, "greylist %s: unexpected argument "
		    "\"%.80s\"", sub, argv[optind]);
	if (strcmp(sub, "flush") == 0) {
		if (all == (f->older_than >= 0))
			return ctl_usage_error(j, "greylist flush: needs "
			    "either --older-than DURATION or --all");
		if (f->has_client || f->sender || f->recipient || f->state ||
		    f->json)
			return ctl_usage_error(j, "greylist flush: takes only "
			    "--older-than or --all");
	} else if (all || f->older_than >= 0) {
		return ctl_usage_error(j, "greylist %s: --all and "
		    "--older-than are for flush", sub);
	}
	if (strcmp(sub, "delete") == 0 && !f->has_client && !f->sender &&
	    !f->recipient && !f->state)
		return ctl_usage_error(j, "greylist delete: needs --client, "
		    "--sender, --recipient, --pending or --passed (greylist "
		    "flush --all deletes everything)");
	if (strcmp(sub, "list") != 0 && f->json)
		return ctl_usage_error(j, "greylist %s: --json is for list",
		    sub);
	f->delete = strcmp(sub, "list") != 0;
	f->one = strcmp(sub, "delete") == 0;
	if (!f->delete && !f->json)
		ctl_out(j, "%-20s %-32s %-32s %-7s %-20s %-20s %5s %s\n",
		    "CLIENT", "SENDER", "RECIPIENT", "STATE", "FIRST_SEEN",
		    "LAST_SEEN", "COUNT", "LAST_CLIENT");
	ctl_walk(j, GL_TABLE_TRIPLET, gl_match, f->delete ? NULL : gl_row, f,
	    gl_end);
	return 0;
}

struct awl_walk {
	struct ctl_job *j;
	bool json;
	bool domain;
	uint64_t bad;
	char key[STORE_KEY_MAX];
	size_t klen;
	char *domain_arg;
	bool add;
};

/* awl_row - store_row_fn for awl list */
static void
awl_row(void *arg, const struct store_rec *r)
{
	struct awl_walk *w = arg;
	struct ctl_job *j = w->j;
	const struct gl_conf *g = greylist_conf(j->cfg);
	const char *k = r->key, *dom = "";
	struct awl_entry e;
	unsigned need;
	char t1[32], t2[32];

	if (awl_entry_decode(r->val, r->vlen, &e) < 0 || r->klen == 0 ||
	    k[r->klen - 1] != '\0') {
		w->bad++;
		return;
	}
	if (w->domain) {
		const char *z = memchr(k, '\0', r->klen);

		if (z == NULL || z + 1 >= k + r->klen) {
			w->bad++;
			return;
		}
		dom = z + 1;
	}
	need = w->domain ? g->awl_domains : g->awl_clients;
	if (w->json) {
		ctl_out(j, "{\"type\":\"%s\",\"client\":", w->domain ? "domain"
								: "client");
		ctl_json_str(j, k);
		/* The same keys in every row: a client's has no domain. */
		ctl_out(j, ",\"domain\":");
		if (w->domain)
			ctl_json_str(j, dom);
		else
			ctl_out(j, "null");
		ctl_out(j, ",\"count\":%u,\"whitelisted\":%s,\"first_seen\":"
		       "\"%s\",\"last_seen\":\"%s\"}\n", e.count,
		    need && e.count >= need ? "true" : "false",
		    ctl_iso(e.first, t1, sizeof(t1)),
		    ctl_iso(e.last, t2, sizeof(t2)));
		return;
	}
	ctl_out(j, "%-6s %-20s %-32s %5u %-11s %-20s %-20s\n",
	    w->domain ? "domain" : "client", k, w->domain ? dom : "-", e.count,
	    need && e.count >= need ? "yes" : "no",
	    ctl_iso(e.first, t1, sizeof(t1)), ctl_iso(e.last, t2, sizeof(t2)));
}

/*
 * awl_key - the table key of --client [--domain], as greylisting forms
 * it; 0 if the client is bad (the job has failed)
 */
static size_t
awl_key(struct ctl_job *j, const char *client, const char *domain,
    char *key, size_t size)
{
	const struct gl_conf *g = greylist_conf(j->cfg);
	struct why why;
	struct cidr c;
	char net[GL_POOL_MAX], a[ADDR_STRLEN];
	const char *slash = strchr(client, '/');
	unsigned want;
	size_t n;
	int rc;

	if ((rc = pool_id(j, client, net, sizeof(net))) < 0)
		return 0;
	if (rc > 0)
		goto key;
	if (cidr_parse(client, &c, &why) < 0) {
		/* An address with host bits is fine: its network is meant. */
		struct ipaddr ip;
		char host[ADDR_STRLEN];

		if (slash == NULL) {
			if (addr_parse(client, &ip) < 0) {
				ctl_usage_error(j, "--client: %s", why.text);
				return 0;
			}
			c.addr = ip;
			c.prefix = ip.family == AF_INET ? 32 : 128;
		} else {
			snprintf(host, sizeof(host), "%.*s",
			    (int)(slash - client), client);
			if (addr_parse(host, &ip) < 0) {
				ctl_usage_error(j, "--client: %s", why.text);
				return 0;
			}
			c.addr = ip;
			c.prefix = (unsigned)atoi(slash + 1);
		}
	}
	want = c.addr.family == AF_INET ? g->ipv4_prefix : g->ipv6_prefix;
	if (slash != NULL && c.prefix != want) {
		ctl_usage_error(j, "--client: greylisting groups %s clients by "
		    "/%u; give an address or a /%u network",
		    c.addr.family == AF_INET ? "IPv4" : "IPv6", want, want);
		return 0;
	}
	greylist_net(g, addr_format(&c.addr, a, sizeof(a)), net, sizeof(net));
key:
	if (domain == NULL) {
		snprintf(key, size, "%s", net);
		return strlen(key) + 1;
	}
	n = (size_t)snprintf(key, size, "%s%c%s", net, '\0', domain);
	return n + 1;
}

static void
awl_free(void *arg)
{
	struct awl_walk *w = arg;

	free(w->domain_arg);
	free(w);
}

/* awl_client_done, awl_list_end - the steps of awl list */
static void
awl_list_end(struct ctl_job *j)
{
	struct awl_walk *w = j->state;

	if (w->bad)
		ctl_err(j, "policyctl: %llu damaged records skipped\n",
		    (unsigned long long)w->bad);
	ctl_finish(j, CTL_OK);
}

static void
awl_clients_done(struct ctl_job *j)
{
	struct awl_walk *w = j->state;

	w->domain = true;
	ctl_walk(j, GL_TABLE_DOMAIN, NULL, awl_row, w, awl_list_end);
}

/* awl_changed - an add or a delete is done */
static void
awl_changed(struct ctl_job *j)
{
	struct awl_walk *w = j->state;
	const char *d = w->domain_arg;

	if (j->reply.rc == STORE_NOTFOUND) {
		ctl_fail(j, "awl delete: %s%s%s is not in the auto-whitelist",
		    w->key, d ? " " : "", d ? d : "");
		return;
	}
	if (j->reply.rc < 0) {
		ctl_fail(j, "%s", j->reply.why.text);
		return;
	}
	ctl_out(j, "%s %s%s%s\n", w->add ? "added" : "deleted", w->key,
	    d ? " " : "", d ? d : "");
	ctl_finish(j, CTL_OK);
}

/* ctl_awl - list, add, delete */
int
ctl_awl(struct ctl_job *j, int argc, char **argv)
{
	enum { O_CLIENT = 256, O_DOMAIN, O_JSON };
	static const struct option opts[] = {
		{ "client", required_argument, NULL, O_CLIENT },
		{ "domain", required_argument, NULL, O_DOMAIN },
		{ "json", no_argument, NULL, O_JSON },
		{ NULL, 0, NULL, 0 },
	};
	struct awl_walk *w = xcalloc(1, sizeof(*w));
	const char *sub = argv[0], *client = NULL, *t;
	const struct gl_conf *g = greylist_conf(j->cfg);
	struct store *st;
	char *p;
	int ch, rc;

	w->j = j;
	j->state = w;
	j->free_state = awl_free;
	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case O_CLIENT:
			client = optarg;
			break;
		case O_DOMAIN:
			free(w->domain_arg);
			w->domain_arg = xstrdup(optarg);
			for (p = w->domain_arg; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
			p = access_norm_name(w->domain_arg, NULL);
			if (p == NULL || *w->domain_arg == '.') {
				free(p);
				return ctl_usage_error(j, "--domain: \"%.80s\" "
				    "is not a domain name", optarg);
			}
			free(p);
			break;
		case O_JSON:
			w->json = true;
			break;
		default:
			return ctl_bad_option(j, ch, argv);
		}
	}
	if (optind != argc)
		return ctl_usage_error(j, "awl %s: unexpected argument "
		    "\"%.80s\"", sub, argv[optind]);
	if (strcmp(sub, "list") == 0) {
		if (client || w->domain_arg)
			return ctl_usage_error(j, "awl list: takes only "
			    "--json");
		if (!w->json)
			ctl_out(j, "%-6s %-20s %-32s %5s %-11s %-20s %-20s\n",
			    "TYPE", "CLIENT", "DOMAIN", "COUNT",
			    "WHITELISTED", "FIRST_SEEN", "LAST_SEEN");
		ctl_walk(j, GL_TABLE_CLIENT, NULL, awl_row, w,
		    awl_clients_done);
		return 0;
	}
	if (client == NULL)
		return ctl_usage_error(j, "awl %s: needs --client "
		    "ADDRESS|CIDR", sub);
	if (w->json)
		return ctl_usage_error(j, "awl %s: --json is for list", sub);
	if ((w->klen = awl_key(j, client, w->domain_arg, w->key,
	    sizeof(w->key))) == 0)
		return -1;
	if ((st = ctl_store(j)) == NULL)
		return -1;
	t = w->domain_arg ? GL_TABLE_DOMAIN : GL_TABLE_CLIENT;
	w->add = strcmp(sub, "add") == 0;
	if (w->add) {
		unsigned char v[AWL_ENTRY_SIZE];
		struct awl_entry e = { 0, j->now, j->now, j->now };
		struct gl_limits lim = gl_limits(g);
		unsigned need = w->domain_arg ? g->awl_domains
					      : g->awl_clients;
		struct store_rec r = { w->key, w->klen, v, sizeof(v), 0, NULL };

		e.count = need ? need : 1;
		awl_entry_encode(&e, v);
		r.expires = awl_entry_expires(&lim, &e);
		rc = st->ops->put(st, t, &r, 1,
		    ctl_call(j, awl_changed));
	} else {
		rc = st->ops->del(st, t, w->key, w->klen,
		    ctl_call(j, awl_changed));
	}
	ctl_settle(j, rc);
	return 0;
}
