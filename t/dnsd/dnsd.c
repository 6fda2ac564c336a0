/*
 * dnsd - the test suites' DNS server: answers from zone data, and per
 * name a scripted fault. 127.0.0.1 only, UDP and TCP on one port.
 *
 *   dnsd [-p PORT] [-l QUERYLOG] ZONEFILE
 *
 * Prints "port N" on standard output once it listens (PORT 0, the
 * default, picks a free one). QUERYLOG gets one line per query received:
 * "udp|tcp NAME TYPE". ZONEFILE holds records in zone-file syntax, one per
 * line (absolute names), and fault lines:
 *
 *   !nxdomain NAME     NXDOMAIN (with the zone's SOA, if there is one)
 *   !nodata NAME       NOERROR, no records (with the SOA)
 *   !servfail NAME     SERVFAIL          !refused NAME   REFUSED
 *   !drop NAME         no answer at all (a timeout)
 *   !droptype NAME T   no answer to queries of type number T only
 *   !delay NAME MS     the normal answer, MS milliseconds late; other
 *                      queries are answered meanwhile
 *   !tc NAME           over UDP: an empty answer with TC set (over TCP:
 *                      the normal answer)
 *   !wrongid NAME      first an answer with another ID, then the right one
 *   !spoof NAME        first a forged answer (A 192.0.2.66) from another
 *                      port, then the right one
 *   !garbage NAME      the query's ID followed by random bytes
 *
 * A fault applies to every type of its name. Unlike ldns-testns, a delay
 * does not stall other queries; that is why this server exists.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <ldns/ldns.h>

struct fault {
	ldns_rdf *name;
	char kind[16];
	long arg;
};

struct later {
	uint64_t due;
	struct sockaddr_in to;
	uint8_t *wire;
	size_t len;
};

static ldns_rr_list *data;

/* Records sorted by owner (lower-case text), for a binary search. */
struct entry {
	char *owner;
	ldns_rr *rr;
};
static struct entry *index_;
static size_t nindex;

static char *
owner_key(const ldns_rdf *name)
{
	char *s = ldns_rdf2str(name), *p;

	for (p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->owner,
	    ((const struct entry *)b)->owner);
}

static void
build_index(void)
{
	size_t i;

	nindex = ldns_rr_list_rr_count(data);
	index_ = calloc(nindex ? nindex : 1, sizeof(*index_));
	for (i = 0; i < nindex; i++) {
		index_[i].rr = ldns_rr_list_rr(data, i);
		index_[i].owner = owner_key(ldns_rr_owner(index_[i].rr));
	}
	qsort(index_, nindex, sizeof(*index_), entry_cmp);
}

/* find - the records owned by name: [*first, *first + count) */
static size_t
find(const ldns_rdf *name, size_t *first)
{
	char *key = owner_key(name);
	size_t lo = 0, hi = nindex, n = 0;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(index_[mid].owner, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = lo;
	while (lo + n < nindex && strcmp(index_[lo + n].owner, key) == 0)
		n++;
	free(key);
	return n;
}
static struct fault faults[1024];
static size_t nfaults;
static struct later laters[4096];
static size_t nlaters;
static FILE *qlog;
static int udp_fd, spoof_fd;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
die(const char *msg)
{
	fprintf(stderr, "dnsd: %s\n", msg);
	exit(1);
}

static void
load(const char *path)
{
	FILE *fp = fopen(path, "r");
	char line[4096];
	ldns_rdf *prev = NULL;
	int lineno = 0;

	if (fp == NULL)
		die("cannot open the zone file");
	data = ldns_rr_list_new();
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *p = line, kind[16], name[1024];
		long arg = 0;
		ldns_rr *rr;
		ldns_status st;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0' || *p == '#' || *p == ';')
			continue;
		if (*p == '!') {
			if (sscanf(p + 1, "%15s %1023s %ld", kind, name, &arg) <
			    2 || nfaults == sizeof(faults) / sizeof(faults[0])) {
				fprintf(stderr, "dnsd: line %d: bad fault\n",
				    lineno);
				exit(1);
			}
			faults[nfaults].name = ldns_dname_new_frm_str(name);
			snprintf(faults[nfaults].kind,
			    sizeof(faults[nfaults].kind), "%s", kind);
			faults[nfaults].arg = arg;
			nfaults++;
			continue;
		}
		st = ldns_rr_new_frm_str(&rr, p, 300, NULL, &prev);
		if (st != LDNS_STATUS_OK) {
			fprintf(stderr, "dnsd: line %d: %s\n", lineno,
			    ldns_get_errorstr_by_id(st));
			exit(1);
		}
		ldns_rr_list_push_rr(data, rr);
	}
	fclose(fp);
}

static const struct fault *
fault_for(const ldns_rdf *name, ldns_rr_type type)
{
	size_t i;

	for (i = 0; i < nfaults; i++) {
		if (ldns_dname_compare(faults[i].name, name) != 0)
			continue;
		if (strcmp(faults[i].kind, "droptype") == 0 &&
		    faults[i].arg != (long)type)
			continue;
		return &faults[i];
	}
	return NULL;
}

/* answer - the reply a query gets from the data */
static ldns_pkt *
answer(const ldns_pkt *q, const ldns_rdf *qname, ldns_rr_type qtype)
{
	ldns_pkt *r = ldns_pkt_new();
	ldns_rdf *name = ldns_rdf_clone(qname);
	size_t i, first, n;
	int hops, exists;

	ldns_pkt_set_id(r, ldns_pkt_id(q));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_aa(r, true);
	ldns_pkt_set_rd(r, ldns_pkt_rd(q));
	ldns_pkt_set_ra(r, true);
	ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION,
	    ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(q), 0)));
	if (ldns_pkt_edns(q))
		ldns_pkt_set_edns_udp_size(r, 1232);
	exists = find(qname, &first) > 0;
	/*
	 * CNAMEs are followed in the data and put in the answer, as a
	 * recursive resolver would, for up to 16 hops: more than the
	 * resolver under test follows, so a long chain reaches it whole. A
	 * loop is put in as it goes round (what a broken server sends).
	 */
	for (hops = 0; hops < 16 && qtype != LDNS_RR_TYPE_CNAME; hops++) {
		ldns_rr *cn = NULL;

		n = find(name, &first);
		for (i = first; i < first + n; i++) {
			ldns_rr *rr = index_[i].rr;

			if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME)
				cn = rr;
		}
		if (cn == NULL)
			break;
		ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, ldns_rr_clone(cn));
		ldns_rdf_deep_free(name);
		name = ldns_rdf_clone(ldns_rr_rdf(cn, 0));
	}
	n = find(name, &first);
	for (i = first; i < first + n; i++) {
		ldns_rr *rr = index_[i].rr;

		if (ldns_rr_get_type(rr) == qtype)
			ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER,
			    ldns_rr_clone(rr));
	}
	ldns_rdf_deep_free(name);
	if (!exists)
		ldns_pkt_set_rcode(r, LDNS_RCODE_NXDOMAIN);
	if (ldns_pkt_ancount(r) == 0) {
		for (i = 0; i < ldns_rr_list_rr_count(data); i++) {
			ldns_rr *rr = ldns_rr_list_rr(data, i);

			if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA &&
			    (ldns_dname_compare(ldns_rr_owner(rr), qname) == 0 ||
			    ldns_dname_is_subdomain(qname, ldns_rr_owner(rr))))
				ldns_pkt_push_rr(r, LDNS_SECTION_AUTHORITY,
				    ldns_rr_clone(rr));
		}
	}
	return r;
}

static void
send_udp(int fd, const struct sockaddr_in *to, const uint8_t *w, size_t n)
{
	sendto(fd, w, n, 0, (const struct sockaddr *)to, sizeof(*to));
}

/* reply - the wire reply to one query, or nothing; *delay for later */
static int
reply(const uint8_t *buf, size_t len, int tcp, uint8_t **out, size_t *outlen,
    long *delay, int *wrongid, int *spoof)
{
	ldns_pkt *q, *r;
	ldns_rr *qr;
	const struct fault *f;
	size_t max = 512;
	char *name;

	*delay = 0;
	*wrongid = *spoof = 0;
	if (ldns_wire2pkt(&q, buf, len) != LDNS_STATUS_OK)
		return -1;
	if (ldns_pkt_qdcount(q) != 1) {
		ldns_pkt_free(q);
		return -1;
	}
	qr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	name = ldns_rdf2str(ldns_rr_owner(qr));
	if (qlog) {
		fprintf(qlog, "%s %s %u\n", tcp ? "tcp" : "udp", name,
		    ldns_rr_get_type(qr));
		fflush(qlog);
	}
	free(name);
	if (ldns_pkt_edns(q) && ldns_pkt_edns_udp_size(q) > 512)
		max = ldns_pkt_edns_udp_size(q);
	f = fault_for(ldns_rr_owner(qr), ldns_rr_get_type(qr));
	if (f && (strcmp(f->kind, "drop") == 0 ||
	    strcmp(f->kind, "droptype") == 0)) {
		ldns_pkt_free(q);
		return -1;
	}
	if (f && strcmp(f->kind, "garbage") == 0) {
		size_t i;

		*outlen = 40;
		*out = malloc(*outlen);
		(*out)[0] = buf[0];
		(*out)[1] = buf[1];
		for (i = 2; i < *outlen; i++)
			(*out)[i] = (uint8_t)random();
		(*out)[2] |= 0x80; /* QR, to look like an answer */
		ldns_pkt_free(q);
		return 0;
	}
	r = answer(q, ldns_rr_owner(qr), ldns_rr_get_type(qr));
	if (f && strcmp(f->kind, "nxdomain") == 0) {
		ldns_rr_list_deep_free(ldns_pkt_answer(r));
		ldns_pkt_set_answer(r, ldns_rr_list_new());
		ldns_pkt_set_ancount(r, 0);
		ldns_pkt_set_rcode(r, LDNS_RCODE_NXDOMAIN);
	} else if (f && strcmp(f->kind, "nodata") == 0) {
		ldns_rr_list_deep_free(ldns_pkt_answer(r));
		ldns_pkt_set_answer(r, ldns_rr_list_new());
		ldns_pkt_set_ancount(r, 0);
		ldns_pkt_set_rcode(r, LDNS_RCODE_NOERROR);
	} else if (f && strcmp(f->kind, "servfail") == 0) {
		ldns_pkt_set_rcode(r, LDNS_RCODE_SERVFAIL);
	} else if (f && strcmp(f->kind, "refused") == 0) {
		ldns_pkt_set_rcode(r, LDNS_RCODE_REFUSED);
	} else if (f && strcmp(f->kind, "delay") == 0) {
		*delay = f->arg;
	} else if (f && strcmp(f->kind, "wrongid") == 0 && !tcp) {
		*wrongid = 1;
	} else if (f && strcmp(f->kind, "spoof") == 0 && !tcp) {
		*spoof = 1;
	}
	if (ldns_pkt2wire(out, r, outlen) != LDNS_STATUS_OK)
		die("cannot build an answer");
	if (!tcp && ((f && strcmp(f->kind, "tc") == 0) || *outlen > max)) {
		ldns_pkt *t = ldns_pkt_new();

		free(*out);
		ldns_pkt_set_id(t, ldns_pkt_id(q));
		ldns_pkt_set_qr(t, true);
		ldns_pkt_set_tc(t, true);
		ldns_pkt_push_rr(t, LDNS_SECTION_QUESTION, ldns_rr_clone(qr));
		ldns_pkt2wire(out, t, outlen);
		ldns_pkt_free(t);
	}
	ldns_pkt_free(r);
	ldns_pkt_free(q);
	return 0;
}

static void
serve_udp(void)
{
	uint8_t buf[65536], *out;
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	ssize_t n = recvfrom(udp_fd, buf, sizeof(buf), 0,
	    (struct sockaddr *)&from, &fl);
	size_t outlen;
	long delay;
	int wrongid, spoof;

	if (n <= 0 || reply(buf, (size_t)n, 0, &out, &outlen, &delay, &wrongid,
	    &spoof) < 0)
		return;
	if (wrongid) {
		out[0] ^= 0x55;
		send_udp(udp_fd, &from, out, outlen);
		out[0] ^= 0x55;
	}
	if (spoof) {
		/* A forged answer with the right ID from the wrong port. */
		ldns_pkt *f;

		if (ldns_wire2pkt(&f, out, outlen) == LDNS_STATUS_OK) {
			uint8_t *w;
			size_t wl;
			ldns_rr *rr;

			ldns_rr_new_frm_str(&rr, "spoofed. 300 IN A 192.0.2.66",
			    300, NULL, NULL);
			ldns_rr_set_owner(rr, ldns_rdf_clone(ldns_rr_owner(
			    ldns_rr_list_rr(ldns_pkt_question(f), 0))));
			ldns_pkt_push_rr(f, LDNS_SECTION_ANSWER, rr);
			if (ldns_pkt2wire(&w, f, &wl) == LDNS_STATUS_OK) {
				send_udp(spoof_fd, &from, w, wl);
				free(w);
			}
			ldns_pkt_free(f);
		}
	}
	if (delay > 0 && nlaters < sizeof(laters) / sizeof(laters[0])) {
		laters[nlaters].due = now_ms() + (uint64_t)delay;
		laters[nlaters].to = from;
		laters[nlaters].wire = out;
		laters[nlaters].len = outlen;
		nlaters++;
		return;
	}
	send_udp(udp_fd, &from, out, outlen);
	free(out);
}

static int
read_full(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void
serve_tcp(int lfd)
{
	int fd = accept(lfd, NULL, NULL);
	struct timeval tv = { 2, 0 };
	uint8_t lb[2], buf[65535], *out;
	size_t outlen, len;
	long delay;
	int wrongid, spoof;

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (read_full(fd, lb, 2) == 0) {
		len = (size_t)lb[0] << 8 | lb[1];
		if (read_full(fd, buf, len) == 0 &&
		    reply(buf, len, 1, &out, &outlen, &delay, &wrongid,
			&spoof) == 0) {
			if (delay > 0)
				usleep((useconds_t)delay * 1000);
			lb[0] = (uint8_t)(outlen >> 8);
			lb[1] = (uint8_t)outlen;
			if (write(fd, lb, 2) == 2 &&
			    write(fd, out, outlen) != (ssize_t)outlen)
				fprintf(stderr, "dnsd: short TCP write\n");
			free(out);
		}
	}
	close(fd);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int port = 0, ch, tcp_fd, one = 1;

	while ((ch = getopt(argc, argv, "p:l:")) != -1) {
		switch (ch) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'l':
			if ((qlog = fopen(optarg, "a")) == NULL)
				die("cannot open the query log");
			break;
		default:
			die("usage: dnsd [-p PORT] [-l QUERYLOG] ZONEFILE");
		}
	}
	if (optind + 1 != argc)
		die("usage: dnsd [-p PORT] [-l QUERYLOG] ZONEFILE");
	load(argv[optind]);
	build_index();
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)getpid());
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (;;) {
		udp_fd = socket(AF_INET, SOCK_DGRAM, 0);
		tcp_fd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		sin.sin_port = htons((uint16_t)port);
		if (bind(udp_fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
			die("cannot bind UDP");
		getsockname(udp_fd, (struct sockaddr *)&sin, &sl);
		if (bind(tcp_fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			break;
		if (port != 0)
			die("cannot bind TCP");
		close(udp_fd);
		close(tcp_fd);
		sin.sin_port = 0;
	}
	listen(tcp_fd, 64);
	{
		/* Room for bursts of a thousand queries. */
		int sz = 4 << 20;

		if (setsockopt(udp_fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz,
			sizeof(sz)) < 0)
			setsockopt(udp_fd, SOL_SOCKET, SO_RCVBUF, &sz,
			    sizeof(sz));
	}
	spoof_fd = socket(AF_INET, SOCK_DGRAM, 0);
	sin.sin_port = 0;
	bind(spoof_fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(udp_fd, (struct sockaddr *)&sin, &sl);
	printf("port %u\n", ntohs(sin.sin_port));
	fflush(stdout);
	for (;;) {
		struct pollfd p[2] = { { udp_fd, POLLIN, 0 },
			{ tcp_fd, POLLIN, 0 } };
		uint64_t now = now_ms();
		int timeout = -1;
		size_t i;

		for (i = 0; i < nlaters;) {
			if (laters[i].due <= now) {
				send_udp(udp_fd, &laters[i].to, laters[i].wire,
				    laters[i].len);
				free(laters[i].wire);
				laters[i] = laters[--nlaters];
				continue;
			}
			if (timeout < 0 || (int)(laters[i].due - now) < timeout)
				timeout = (int)(laters[i].due - now);
			i++;
		}
		if (poll(p, 2, timeout) < 0 && errno != EINTR)
			die("poll");
		if (p[0].revents & POLLIN)
			serve_udp();
		if (p[1].revents & POLLIN)
			serve_tcp(tcp_fd);
	}
}
