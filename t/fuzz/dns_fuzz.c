/*
 * dns_fuzz - libFuzzer target: an answer from a name server a stranger
 * chooses (a sender picks its domain's DNS: the recursive resolver passes
 * its records through) into the resolver's answer checks and their
 * interpretation, as attempt_reply() takes them: dns__check_answer()
 * against one of our questions, then, for NOERROR and NXDOMAIN,
 * dns__interpret() (CNAME chains, records of each type converted, TTLs,
 * negative TTLs from the SOA), and every converted record read back.
 *
 * Input: one byte choosing the question (name and type), then the
 * packet. The packet's own ID is taken as ours, so the fuzzer need not
 * guess it; a second check with another ID must ignore the packet.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dns_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	const char *name;
	uint16_t type;
} questions[] = {
	{ "example.org", DNS_T_A },
	{ "example.org", DNS_T_AAAA },
	{ "example.org", DNS_T_MX },
	{ "example.org", DNS_T_TXT },
	{ "25.2.0.192.in-addr.arpa", DNS_T_PTR },
	{ "www.example.org", DNS_T_A },
	{ "example.org", DNS_T_CNAME },
	{ "2.0.0.127.zen.example.net", DNS_T_A },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_opts o;
	static int ready;
	const uint8_t *pkt;
	size_t len, i, q;
	ldns_pkt *p = NULL;
	char why[64];
	uint16_t id;
	int rc;

	if (!ready) {
		dns_opts_defaults(&o);
		ready = 1;
	}
	if (size < 1)
		return 0;
	q = data[0] % (sizeof(questions) / sizeof(questions[0]));
	pkt = data + 1;
	len = size - 1;
	id = len >= 2 ? (uint16_t)(pkt[0] << 8 | pkt[1]) : 0;
	/* Another ID is never ours, whatever the rest says. */
	if (dns__check_answer(pkt, len, (uint16_t)(id + 1),
	    questions[q].name, questions[q].type, &p, why, sizeof(why)) !=
	    DNS__IGNORE)
		__builtin_trap();
	rc = dns__check_answer(pkt, len, id, questions[q].name,
	    questions[q].type, &p, why, sizeof(why));
	if (rc != DNS__MATCH) {
		if (p != NULL)
			__builtin_trap(); /* no packet without a match */
		return 0;
	}
	if (ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR ||
	    ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN) {
		struct dns__ans *a = dns__interpret(p, questions[q].name,
		    questions[q].type, &o);
		size_t sum = 0;

		if (a->pub.n > DNS_MAX_RECORDS ||
		    (a->pub.status == DNS_OK) != (a->pub.n > 0))
			__builtin_trap();
		for (i = 0; i < a->pub.n; i++) {
			const struct dns_rr *rr = &a->pub.rr[i];

			if (rr->type != questions[q].type)
				__builtin_trap();
			if (rr->text != NULL)
				sum += strlen(rr->text) + rr->len +
				    (rr->len ? (unsigned char)rr->text[rr->len -
				    1] : 0);
			sum += rr->addr.family + rr->pref + rr->ttl;
		}
		if (a->pub.why != NULL)
			sum += strlen(a->pub.why);
		(void)sum;
		dns__ans_unref(a);
	}
	ldns_pkt_free(p);
	return 0;
}
