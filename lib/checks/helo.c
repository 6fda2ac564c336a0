/*
 * helo, helo_dns - the HELO/EHLO name, in two checks so a policy can
 * refuse bad syntax and only score a name that does not resolve.
 *
 * helo (no DNS): present; a fully qualified domain name, or an address
 * literal ([192.0.2.1], [IPv6:2001:db8::1]) equal to the client's
 * address; never a bare IP address; not one of our own names or
 * addresses (my_names, my_addresses).
 * helo_dns: a name that passed that resolves (A or AAAA, else MX).
 * Strict: it resolves to the client address, or equals the verified
 * client name.
 */
#include "chk.h"
#include "helo_conf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "arena.h"
#include "config.h"
#include "dns.h"
#include "request.h"

/* strict - the policy wants the name to resolve to the client */
static bool
strict(const struct chk_run *run)
{
	const struct helo_dns_conf *c = chk_conf(run);

	return c->strict;
}

/* helo_settle - all lookups are in */
static void
helo_settle(struct chk_run *run, struct chk_join *j)
{
	const char *name = j->arg;

	if (j->found > 0 && !strict(run)) {
		chk_done(run, CHK_PASS, "HELO %s resolves", name);
		return;
	}
	if (j->trouble > 0) {
		chk_done(run, CHK_TEMPFAIL, "lookup of HELO %s failed (%s)",
		    name, j->why);
		return;
	}
	if (strict(run))
		chk_done(run, CHK_FAIL, "HELO %s does not resolve to %s",
		    name, chk_req(run)->client_addr);
	else
		chk_done(run, CHK_FAIL, "HELO %s does not resolve", name);
}

/* helo_judge - A, AAAA or MX of the HELO name */
static bool
helo_judge(struct chk_run *run, struct chk_join *j, const struct dns_answer *a,
    void *arg)
{
	const struct req *req = chk_req(run);
	const char *name = arg;
	size_t i;

	for (i = 0; a->status == DNS_OK && strict(run) && i < a->n; i++) {
		if ((a->type == DNS_T_A || a->type == DNS_T_AAAA) &&
		    addr_equal(&a->rr[i].addr, &req->client_ip)) {
			chk_done(run, CHK_PASS, "HELO %s resolves to %s", name,
			    req->client_addr);
			return true;
		}
	}
	if (j->answered == j->asked && j->found == 0 && j->trouble == 0 &&
	    a->type != DNS_T_MX && !strict(run))
		/* Neither A nor AAAA: a name with only MX still resolves. */
		(void)chk_join_ask(run, j, name, DNS_T_MX);
	return false;
}

/* literal - "[192.0.2.1]" or "[IPv6:...]" into ip; -1 if no literal */
static int
literal(const char *h, struct ipaddr *ip)
{
	char buf[ADDR_STRLEN + 8];
	size_t len = strlen(h);

	if (len < 3 || h[0] != '[' || h[len - 1] != ']' ||
	    len - 2 >= sizeof(buf))
		return -1;
	memcpy(buf, h + 1, len - 2);
	buf[len - 2] = '\0';
	if (strncasecmp(buf, "IPv6:", 5) == 0)
		return strchr(buf + 5, ':') && addr_parse(buf + 5, ip) == 0
		    ? 0 : -2;
	return strchr(buf, ':') == NULL && addr_parse(buf, ip) == 0 ? 0 : -2;
}

/* helo_start - syntax and our own names first, then DNS */
static void
helo_start(struct chk_run *run)
{
	const struct req *req = chk_req(run);
	const struct cfg *cfg = chk_cfg(run);
	struct ipaddr ip;
	size_t i;
	int rc;

	if (req->helo == NULL) {
		chk_done(run, CHK_FAIL, "no HELO/EHLO name");
		return;
	}
	if ((rc = literal(req->helo, &ip)) != -1) {
		for (i = 0; rc == 0 && i < cfg->nmy_addresses; i++) {
			if (addr_equal(&ip, &cfg->my_addresses[i])) {
				chk_done(run, CHK_FAIL, "HELO %s is our own "
							"address", req->helo);
				return;
			}
		}
		if (rc < 0)
			chk_done(run, CHK_FAIL, "HELO %s is not a valid "
						"address literal", req->helo);
		else if (req->has_client_ip && addr_equal(&ip, &req->client_ip))
			chk_done(run, CHK_PASS, "HELO is the client's address "
						"literal");
		else
			chk_done(run, CHK_FAIL, "HELO %s is not the client's "
						"address %s", req->helo,
			    req->client_addr);
		return;
	}
	if (addr_parse(req->helo, &ip) == 0) {
		chk_done(run, CHK_FAIL, "HELO %s is a bare IP address; use "
					"the server's name, or [%s]", req->helo,
		    req->helo);
		return;
	}
	if (!chk_is_fqdn(req->helo)) {
		chk_done(run, CHK_FAIL, "HELO %s is not a fully qualified "
					"domain name", req->helo);
		return;
	}
	for (i = 0; i < cfg->nmy_names; i++) {
		if (strcasecmp(cfg->my_names[i], req->helo) == 0 ||
		    (strncasecmp(cfg->my_names[i], req->helo,
			strlen(cfg->my_names[i])) == 0 &&
			strcmp(req->helo + strlen(cfg->my_names[i]), ".") ==
			0)) {
			chk_done(run, CHK_FAIL, "HELO %s is our own name",
			    cfg->my_names[i]);
			return;
		}
	}
	chk_done(run, CHK_PASS, "HELO %s is a valid name", req->helo);
}

/* helo_dns_start - a syntactically valid HELO name must resolve */
static void
helo_dns_start(struct chk_run *run)
{
	const struct req *req = chk_req(run);
	struct chk_join *j;
	struct ipaddr ip;
	char *name;
	size_t i;

	if (req->helo == NULL || req->helo[0] == '[' ||
	    addr_parse(req->helo, &ip) == 0 || !chk_is_fqdn(req->helo)) {
		chk_done(run, CHK_NEUTRAL, "no HELO name to look up");
		return;
	}
	name = arena_strdup(chk_arena(run), req->helo);
	for (i = 0; name[i]; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			name[i] = (char)(name[i] - 'A' + 'a');
	if (i > 0 && name[i - 1] == '.')
		name[i - 1] = '\0';
	if (strict(run) && req->client_name != NULL &&
	    strcmp(req->client_name, name) == 0) {
		chk_done(run, CHK_PASS, "HELO is the verified client name");
		return;
	}
	j = chk_join_new(run, helo_judge, helo_settle, name);
	(void)chk_join_ask(run, j, name, DNS_T_A);
	(void)chk_join_ask(run, j, name, DNS_T_AAAA);
	if (j->asked == 0)
		chk_done(run, CHK_TEMPFAIL, "no resolver");
}

extern const struct chk_def chk_helo_def; /* helo_conf.c */

const struct chk_ops chk_helo_ops = {
	.def = &chk_helo_def,
	.start = helo_start,
};

extern const struct chk_def chk_helo_dns_def; /* helo_conf.c */

const struct chk_ops chk_helo_dns_ops = {
	.def = &chk_helo_dns_def,
	.start = helo_dns_start,
};
