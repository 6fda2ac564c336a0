/*
 * addr - IP addresses and CIDR networks: parsing (IPv4, IPv6, IPv4-mapped
 * IPv6, which becomes IPv4), matching, the network of an address for a
 * prefix length, and formatting. Knows no mail.
 */
#ifndef POLICYD_ADDR_H
#define POLICYD_ADDR_H

#include <stdbool.h>
#include <stddef.h>

struct why;

struct ipaddr {
	int family;         /* AF_INET or AF_INET6 */
	unsigned char a[16]; /* network order; IPv4 uses a[0..3] */
};

struct cidr {
	struct ipaddr addr; /* host bits are zero */
	unsigned prefix;    /* 0..32 or 0..128 */
};

/* Longest text of an address, as INET6_ADDRSTRLEN. */
#define ADDR_STRLEN 46
/* Longest text of a CIDR network. */
#define CIDR_STRLEN (ADDR_STRLEN + 4)

/* addr_parse - parse an IPv4 or IPv6 address; 0, or -1 if it is none */
int addr_parse(const char *s, struct ipaddr *ip);
/* addr_format - text form into buf; returns buf */
char *addr_format(const struct ipaddr *ip, char *buf, size_t size);
/* addr_equal - same family and address */
bool addr_equal(const struct ipaddr *x, const struct ipaddr *y);
/* addr_network - ip with all but the first prefix bits cleared */
void addr_network(const struct ipaddr *ip, unsigned prefix,
    struct ipaddr *net);

/*
 * cidr_parse - "addr/len" or a bare address (a host network). Host bits
 * must be zero; an IPv4-mapped IPv6 network of /96 or longer becomes IPv4.
 * 0, or -1 with why set.
 */
int cidr_parse(const char *s, struct cidr *c, struct why *why);
/* cidr_match - ip lies inside c */
bool cidr_match(const struct cidr *c, const struct ipaddr *ip);
/* cidr_format - "addr/len" into buf; returns buf */
char *cidr_format(const struct cidr *c, char *buf, size_t size);

#endif
