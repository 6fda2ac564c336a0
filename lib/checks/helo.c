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

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "arena.h"
#include "config.h"
#include "dns.h"
#include "request.h"

struct helo_state {
	char *name;
	unsigned asked, answered, trouble, found;
	bool mx_asked;
	const char *why;   /* the first trouble, for the log */
};

/* helo_settle - all address lookups are in */
static void
helo_settle(struct chk_run *run)
{
	struct helo_state *s = *chk_state(run);

	if (s->answered < s->asked)
		return;
	if (s->found > 0 && !chk_policy(run)->strict) {
		chk_done(run, CHK_PASS, "HELO %s resolves", s->name);
		return;
	}
	if (s->trouble > 0) {
		chk_done(run, CHK_TEMPFAIL, "lookup of HELO %s failed (%s)",
		    s->name, s->why);
		return;
	}
	if (chk_policy(run)->strict)
		chk_done(run, CHK_FAIL, "HELO %s does not resolve to %s",
		    s->name, chk_req(run)->client_addr);
	else
		chk_done(run, CHK_FAIL, "HELO %s does not resolve", s->name);
}

/* helo_answer - A, AAAA or MX of the HELO name */
static void
helo_answer(struct chk_run *run, const struct dns_answer *a, void *arg)
{
	struct helo_state *s = *chk_state(run);
	const struct req *req = chk_req(run);
	size_t i;

	(void)arg;
	s->answered++;
	if (a->status == DNS_OK) {
		s->found++;
		for (i = 0; i < a->n && chk_policy(run)->strict; i++) {
			if ((a->type == DNS_T_A || a->type == DNS_T_AAAA) &&
			    addr_equal(&a->rr[i].addr, &req->client_ip)) {
				chk_done(run, CHK_PASS, "HELO %s resolves to "
							"%s", s->name,
				    req->client_addr);
				return;
			}
		}
	} else if (a->status == DNS_TEMPFAIL || a->status == DNS_BAD) {
		if (s->trouble++ == 0)
			s->why = arena_printf(chk_arena(run), "%s %s: %s",
			    a->name, dns_type_name(a->type),
			    a->why ? a->why : dns_status_name(a->status));
	}
	if (s->answered == s->asked && s->found == 0 && s->trouble == 0 &&
	    !s->mx_asked && !chk_policy(run)->strict) {
		/* Neither A nor AAAA: a name with only MX still resolves. */
		s->mx_asked = true;
		if (chk_query(run, s->name, DNS_T_MX, helo_answer, NULL) == 0) {
			s->asked++;
			return;
		}
	}
	helo_settle(run);
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
	struct helo_state *s;
	struct ipaddr ip;
	size_t i;

	if (req->helo == NULL || req->helo[0] == '[' ||
	    addr_parse(req->helo, &ip) == 0 || !chk_is_fqdn(req->helo)) {
		chk_done(run, CHK_NEUTRAL, "no HELO name to look up");
		return;
	}
	s = arena_alloc(chk_arena(run), sizeof(*s));
	memset(s, 0, sizeof(*s));
	s->name = arena_strdup(chk_arena(run), req->helo);
	for (i = 0; s->name[i]; i++)
		if (s->name[i] >= 'A' && s->name[i] <= 'Z')
			s->name[i] = (char)(s->name[i] - 'A' + 'a');
	if (i > 0 && s->name[i - 1] == '.')
		s->name[i - 1] = '\0';
	*chk_state(run) = s;
	if (chk_policy(run)->strict && req->client_name != NULL &&
	    strcmp(req->client_name, s->name) == 0) {
		chk_done(run, CHK_PASS, "HELO is the verified client name");
		return;
	}
	if (chk_query(run, s->name, DNS_T_A, helo_answer, NULL) == 0)
		s->asked++;
	if (chk_query(run, s->name, DNS_T_AAAA, helo_answer, NULL) == 0)
		s->asked++;
	if (s->asked == 0)
		chk_done(run, CHK_TEMPFAIL, "no resolver");
}

const struct chk_ops chk_helo_ops = {
	.name = "helo",
	.dsn = "5.7.1",
	.text = "Your server's HELO/EHLO is wrong ({reason}); configure it "
		"to greet with its own fully qualified name, one that "
		"resolves in DNS",
	.start = helo_start,
};

const struct chk_ops chk_helo_dns_ops = {
	.name = "helo_dns",
	.dsn = "5.7.1",
	.text = "Your server's HELO/EHLO name does not resolve ({reason}); "
		"publish an A or AAAA record for it, or greet with a name "
		"that has one",
	.tempfail_text = "Your server's HELO/EHLO name {helo} could not be "
			 "looked up in DNS just now; please try again later",
	.start = helo_dns_start,
};
