/*
 * backscatter list|block|unblock (lib/backscatter.h), whitelist
 * list|add|delete (lib/whitelist.h): small tables, one record a change.
 */
#include "ctl_int.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "backscatter.h"
#include "config.h"
#include "whitelist.h"

struct one {
	struct ctl_job *j;
	bool json;
	char text[ADDR_STRLEN];
	bool set;   /* block, add */
	int64_t until; /* block: its end */
	char *rcpt, *sender;
};

static void
one_free(void *arg)
{
	struct one *o = arg;

	free(o->rcpt);
	free(o->sender);
	free(o);
}

static struct one *
one_new(struct ctl_job *j)
{
	struct one *o = xcalloc(1, sizeof(*o));

	o->j = j;
	j->state = o;
	j->free_state = one_free;
	return o;
}

static void
done_ok(struct ctl_job *j)
{
	ctl_finish(j, CTL_OK);
}

/* bs_row - store_row_fn for backscatter list */
/* json_words - a blank-separated text as a JSON array of its words */
static void
json_words(struct ctl_job *j, const char *text)
{
	char w[sizeof(((struct bs_rec *)0)->rcpts)];
	const char *p = text;
	bool first = true;
	size_t n;

	ctl_out(j, "[");
	while (*p != '\0') {
		p += strspn(p, " ");
		if ((n = strcspn(p, " ")) == 0)
			break;
		memcpy(w, p, n < sizeof(w) ? n : sizeof(w) - 1);
		w[n < sizeof(w) ? n : sizeof(w) - 1] = '\0';
		ctl_out(j, first ? "" : ",");
		ctl_json_str(j, w);
		first = false;
		p += n;
	}
	ctl_out(j, "]");
}

static void
bs_row(void *arg, const struct store_rec *r)
{
	struct one *o = arg;
	struct ctl_job *j = o->j;
	const char *k = r->key;
	char addr[64], t1[32], t2[32], t3[32];
	int64_t now = j->now;
	struct bs_rec b;

	if (r->klen < 3 || r->klen - 2 >= sizeof(addr) || k[0] != 'h' ||
	    k[1] != '\0' || !bs_rec_decode(r->val, r->vlen, &b))
		return;
	memcpy(addr, k + 2, r->klen - 2);
	addr[r->klen - 2] = '\0';
	if (o->json) {
		ctl_out(j, "{\"client\":");
		ctl_json_str(j, addr);
		ctl_out(j, ",\"hits\":%u,\"first_hit\":%s%s%s,"
		    "\"last_hit\":%s%s%s,\"blocked_until\":%s%s%s,"
		    "\"trusted\":%s,\"recipients\":", b.hits,
		    b.first ? "\"" : "", b.first ? ctl_iso(b.first, t1,
		    sizeof(t1)) : "null", b.first ? "\"" : "",
		    b.last ? "\"" : "", b.last ? ctl_iso(b.last, t2,
		    sizeof(t2)) : "null", b.last ? "\"" : "",
		    b.until > now ? "\"" : "", b.until > now ? ctl_iso(b.until,
		    t3, sizeof(t3)) : "null", b.until > now ? "\"" : "",
		    b.trusted ? "true" : "false");
		json_words(j, b.rcpts);
		ctl_out(j, "}\n");
		return;
	}
	ctl_out(j, "%-40s %5u %-20s %-20s %s%s\n", addr, b.hits,
	    ctl_iso(b.last, t1, sizeof(t1)), b.until > now ? ctl_iso(b.until,
	    t2, sizeof(t2)) : "-", b.trusted ? "(allowlisted: bounces only) "
	    : "", b.rcpts);
}

/* bs_changed - a block or an unblock is done */
static void
bs_changed(struct ctl_job *j)
{
	struct one *o = j->state;
	char key[64];
	size_t klen;

	if (j->reply.rc == STORE_NOTFOUND) {
		ctl_fail(j, "backscatter unblock: %s has no record", o->text);
		return;
	}
	if (j->reply.rc < 0) {
		ctl_fail(j, "%s", j->reply.why.text);
		return;
	}
	/* The metrics' count of blocks follows. */
	klen = bs_key(key, sizeof(key), o->text);
	bs_blocks_note(key, klen, o->set ? o->until : 0);
	ctl_out(j, "%s %s\n", o->set ? "blocked" : "unblocked", o->text);
	ctl_finish(j, CTL_OK);
}

/*
 * ctl_backscatter - list [--json], block IP [--for DURATION] (4d),
 * unblock IP
 */
int
ctl_backscatter(struct ctl_job *j, int argc, char **argv)
{
	enum { O_JSON = 256, O_FOR };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "for", required_argument, NULL, O_FOR },
		{ NULL, 0, NULL, 0 },
	};
	struct one *o = one_new(j);
	const char *sub = argv[0], *target = NULL;
	int bi = chk_find("backscatter");
	/* Default: the policy's block_for. */
	uint64_t ms = (uint64_t)backscatter_block_for(bi >= 0 ?
	    &j->cfg->checks[bi] : NULL) * 1000;
	unsigned char v[STORE_VAL_MAX];
	struct store_rec r = { NULL, 0, v, 0, 0, NULL };
	struct store *st;
	struct ipaddr ip;
	struct why why;
	char key[64];
	size_t klen;
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case O_JSON:
			o->json = true;
			break;
		case O_FOR:
			/* The policy's block_for range: a block of a second
			 * or a year is a typo. */
			if (cfg_parse_duration(optarg, &ms, &why) < 0 ||
			    ms < BS_BLOCK_FOR_MIN * 1000ull ||
			    ms > BS_BLOCK_FOR_MAX * 1000ull)
				return ctl_usage_error(j, "--for: \"%.80s\" "
				    "is no duration of 1h to 60d (the range of "
				    "backscatter.block_for)", optarg);
			break;
		default:
			return ctl_bad_option(j, ch, argv);
		}
	}
	/* getopt put the address (block IP --for 2d) after the options. */
	if (optind < argc)
		target = argv[optind++];
	if (strcmp(sub, "list") == 0) {
		if (target != NULL)
			return ctl_usage_error(j, "backscatter list: "
			    "unexpected argument \"%.80s\"", target);
		if (!o->json)
			ctl_out(j, "%-40s %5s %-20s %-20s %s\n", "CLIENT",
			    "HITS", "LAST_HIT", "BLOCKED_UNTIL", "RECIPIENTS");
		ctl_walk(j, BS_TABLE, NULL, bs_row, o, done_ok);
		return 0;
	}
	if (target == NULL || optind != argc || addr_parse(target, &ip) < 0)
		return ctl_usage_error(j, "backscatter %s: needs one IP "
		    "address", sub);
	if (o->json)
		return ctl_usage_error(j, "backscatter %s: --json is for list",
		    sub);
	addr_format(&ip, o->text, sizeof(o->text));
	klen = bs_key(key, sizeof(key), o->text);
	if ((st = ctl_store(j)) == NULL)
		return -1;
	r.key = key;
	r.klen = klen;
	o->set = strcmp(sub, "block") == 0;
	if (o->set) {
		struct bs_rec b;

		memset(&b, 0, sizeof(b));
		b.first = b.last = b.since = j->now;
		b.until = j->now + (int64_t)(ms / 1000);
		o->until = b.until;
		snprintf(b.rcpts, sizeof(b.rcpts), "(policyctl)");
		r.vlen = bs_rec_encode(&b, v);
		r.expires = b.until + 86400;
		rc = st->ops->put(st, BS_TABLE, &r, 1,
		    ctl_call(j, bs_changed));
	} else {
		rc = st->ops->del(st, BS_TABLE, key, klen,
		    ctl_call(j, bs_changed));
	}
	ctl_settle(j, rc);
	return 0;
}

/* wl_row - store_row_fn for whitelist list */
static void
wl_row(void *arg, const struct store_rec *r)
{
	struct one *o = arg;
	struct ctl_job *j = o->j;
	const char *k = r->key, *sep = memchr(k, '\0', r->klen);
	char rcpt[400], sender[400];
	size_t rl;

	if (sep == NULL || (rl = (size_t)(sep - k)) >= sizeof(rcpt) ||
	    r->klen - rl - 1 >= sizeof(sender) || r->klen - rl - 1 == 0)
		return;
	memcpy(rcpt, k, rl);
	rcpt[rl] = '\0';
	memcpy(sender, sep + 1, r->klen - rl - 1);
	sender[r->klen - rl - 1] = '\0';
	if (o->json) {
		ctl_out(j, "{\"recipient\":");
		ctl_json_str(j, rcpt);
		ctl_out(j, ",\"sender\":");
		ctl_json_str(j, sender);
		ctl_out(j, "}\n");
		return;
	}
	ctl_out(j, "%-40s %s\n", rcpt, sender);
}

/* wl_changed - an add or a delete is done */
static void
wl_changed(struct ctl_job *j)
{
	struct one *o = j->state;

	if (j->reply.rc == STORE_NOTFOUND) {
		ctl_fail(j, "whitelist delete: %s does not trust %s", o->rcpt,
		    o->sender);
		return;
	}
	if (j->reply.rc < 0) {
		ctl_fail(j, "%s", j->reply.why.text);
		return;
	}
	ctl_out(j, "%s: %s trusts %s\n", o->set ? "added" : "deleted",
	    o->rcpt, o->sender);
	ctl_finish(j, CTL_OK);
}

/*
 * ctl_whitelist - add|delete --recipient ADDR|@DOMAIN --sender
 * ADDR|@DOMAIN, list [--json]: the daemon reads the store at each
 * request, so a change counts from the next one
 */
int
ctl_whitelist(struct ctl_job *j, int argc, char **argv)
{
	enum { O_RCPT = 256, O_SENDER, O_JSON };
	static const struct option opts[] = {
		{ "recipient", required_argument, NULL, O_RCPT },
		{ "sender", required_argument, NULL, O_SENDER },
		{ "json", no_argument, NULL, O_JSON },
		{ NULL, 0, NULL, 0 },
	};
	struct one *o = one_new(j);
	const char *sub = argv[0];
	char key[2 * WL_ADDR_MAX + 2];
	unsigned char v[8];
	struct store_rec r = { key, 0, v, sizeof(v), 0, NULL };
	struct store *st;
	struct why why;
	char **dst;
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case O_RCPT:
		case O_SENDER:
			dst = ch == O_RCPT ? &o->rcpt : &o->sender;
			free(*dst);
			if ((*dst = whitelist_norm(optarg, &why)) == NULL)
				return ctl_usage_error(j, "%s: %s", ch == O_RCPT
				    ? "--recipient" : "--sender", why.text);
			break;
		case O_JSON:
			o->json = true;
			break;
		default:
			return ctl_bad_option(j, ch, argv);
		}
	}
	if (optind != argc)
		return ctl_usage_error(j, "whitelist %s: unexpected argument "
		    "\"%.80s\"", sub, argv[optind]);
	if (strcmp(sub, "list") == 0) {
		if (o->rcpt || o->sender)
			return ctl_usage_error(j, "whitelist list: takes only "
			    "--json");
		if (!o->json)
			ctl_out(j, "%-40s %s\n", "RECIPIENT", "SENDER");
		ctl_walk(j, WL_TABLE, NULL, wl_row, o, done_ok);
		return 0;
	}
	if (o->rcpt == NULL || o->sender == NULL)
		return ctl_usage_error(j, "whitelist %s: needs --recipient "
		    "and --sender", sub);
	if (o->json)
		return ctl_usage_error(j, "whitelist %s: --json is for list",
		    sub);
	if ((st = ctl_store(j)) == NULL)
		return -1;
	r.klen = whitelist_key(key, sizeof(key), o->rcpt, o->sender);
	store_put_u64(v, (uint64_t)j->now);
	o->set = strcmp(sub, "add") == 0;
	rc = o->set ? st->ops->put(st, WL_TABLE, &r, 1,
			  ctl_call(j, wl_changed))
		    : st->ops->del(st, WL_TABLE, key, r.klen,
			  ctl_call(j, wl_changed));
	ctl_settle(j, rc);
	return 0;
}
