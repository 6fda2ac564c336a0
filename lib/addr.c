/*
 * addr - IP addresses and CIDR networks.
 */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "xalloc.h"

static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0xff, 0xff };

/* addr_parse - IPv4 dotted quad or IPv6; mapped IPv4 becomes IPv4 */
int
addr_parse(const char *s, struct ipaddr *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, s, ip->a) == 1) {
		ip->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, ip->a) == 1) {
		ip->family = AF_INET6;
		if (memcmp(ip->a, v4mapped, sizeof(v4mapped)) == 0) {
			memmove(ip->a, ip->a + 12, 4);
			memset(ip->a + 4, 0, 12);
			ip->family = AF_INET;
		}
		return 0;
	}
	return -1;
}

/* addr_format - text form */
char *
addr_format(const struct ipaddr *ip, char *buf, size_t size)
{
	/* IPv4 by hand: glibc's inet_ntop runs sprintf("%u.%u.%u.%u"),
	 * 1,800 instructions of every request (the client's address). */
	if (ip->family == AF_INET && size >= 16) {
		char *p = buf;
		int i;

		for (i = 0; i < 4; i++) {
			unsigned v = ip->a[i];

			if (v >= 100)
				*p++ = (char)('0' + v / 100);
			if (v >= 10)
				*p++ = (char)('0' + v / 10 % 10);
			*p++ = (char)('0' + v % 10);
			*p++ = i < 3 ? '.' : '\0';
		}
		return buf;
	}
	if (inet_ntop(ip->family, ip->a, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "?");
	return buf;
}

/* addr_equal - same family and bytes */
bool
addr_equal(const struct ipaddr *x, const struct ipaddr *y)
{
	return x->family == y->family && memcmp(x->a, y->a, 16) == 0;
}

/* addr_bits - address length in bits */
static unsigned
addr_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

/* addr_network - clear the host bits */
void
addr_network(const struct ipaddr *ip, unsigned prefix, struct ipaddr *net)
{
	unsigned bits = addr_bits(ip->family), i;

	*net = *ip;
	if (prefix > bits)
		prefix = bits;
	/* The partial byte, then whole bytes: greylisting asks this of
	 * every request. */
	if (prefix % 8 != 0)
		net->a[prefix / 8] &= (unsigned char)(0xff00u >> (prefix % 8));
	for (i = (prefix + 7) / 8; i < 16; i++)
		net->a[i] = 0;
}

/* cidr_parse - network in CIDR notation, strict about host bits */
int
cidr_parse(const char *s, struct cidr *c, struct why *why)
{
	char buf[CIDR_STRLEN + 1], net[ADDR_STRLEN];
	const char *slash;
	unsigned long prefix;
	int mapped = 0;

	memset(c, 0, sizeof(*c));
	if (strlen(s) >= sizeof(buf)) {
		why_set(why, "\"%.60s...\" is too long for a network", s);
		return -1;
	}
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash != NULL)
		buf[slash - buf] = '\0';
	memset(&c->addr, 0, sizeof(c->addr));
	if (inet_pton(AF_INET, buf, c->addr.a) == 1) {
		c->addr.family = AF_INET;
	} else if (inet_pton(AF_INET6, buf, c->addr.a) == 1) {
		c->addr.family = AF_INET6;
		mapped = memcmp(c->addr.a, v4mapped, sizeof(v4mapped)) == 0;
	} else {
		why_set(why, "\"%s\" is not an IPv4 or IPv6 address", buf);
		return -1;
	}
	if (slash == NULL) {
		prefix = addr_bits(c->addr.family);
	} else {
		const char *p = s + (slash - buf) + 1;
		char *end;

		if (*p < '0' || *p > '9' || strlen(p) > 3) {
			why_set(why, "\"%s\": prefix length \"%s\" is not a "
				     "number", s, p);
			return -1;
		}
		errno = 0;
		prefix = strtoul(p, &end, 10);
		if (*end != '\0' || prefix > addr_bits(c->addr.family)) {
			why_set(why, "\"%s\": prefix length must be 0 to %u",
			    s, addr_bits(c->addr.family));
			return -1;
		}
	}
	c->prefix = (unsigned)prefix;
	{
		struct ipaddr masked;

		addr_network(&c->addr, c->prefix, &masked);
		if (!addr_equal(&masked, &c->addr)) {
			why_set(why, "\"%s\" has host bits set; did you mean "
				     "%s/%u?", s, addr_format(&masked, net,
				     sizeof(net)), c->prefix);
			return -1;
		}
	}
	if (mapped && c->prefix >= 96) {
		memmove(c->addr.a, c->addr.a + 12, 4);
		memset(c->addr.a + 4, 0, 12);
		c->addr.family = AF_INET;
		c->prefix -= 96;
	}
	return 0;
}

/* cidr_match - does the network contain ip */
bool
cidr_match(const struct cidr *c, const struct ipaddr *ip)
{
	struct ipaddr net;

	if (ip->family != c->addr.family)
		return false;
	addr_network(ip, c->prefix, &net);
	return memcmp(net.a, c->addr.a, 16) == 0;
}

/* cidr_format - "addr/len" */
char *
cidr_format(const struct cidr *c, char *buf, size_t size)
{
	char a[ADDR_STRLEN];

	snprintf(buf, size, "%s/%u", addr_format(&c->addr, a, sizeof(a)),
	    c->prefix);
	return buf;
}
