#!/usr/bin/env python3
"""dns_seeds - write the seed corpus of the dns fuzz target (corpus/dns):
real answer shapes, each a byte choosing dns_fuzz.c's question and then
the packet. Run it again after changing the questions:

    python3 t/fuzz/dns_seeds.py t/fuzz/corpus/dns
"""
import os
import struct
import sys

A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, OPT = 1, 2, 5, 6, 12, 15, 16, 28, 41
QUESTIONS = [("example.org", A), ("example.org", AAAA), ("example.org", MX),
             ("example.org", TXT), ("25.2.0.192.in-addr.arpa", PTR),
             ("www.example.org", A), ("example.org", CNAME),
             ("2.0.0.127.zen.example.net", A)]


def name(n):
    out = b""
    for label in n.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def rr(owner, rtype, rdata, ttl=300, cls=1):
    o = owner if isinstance(owner, bytes) else name(owner)
    return o + struct.pack("!HHIH", rtype, cls, ttl, len(rdata)) + rdata


def packet(q, answers=(), authority=(), additional=(), rcode=0, tc=False,
           qid=0x1234, counts=None):
    qname, qtype = QUESTIONS[q]
    flags = 0x8180 | rcode | (0x0200 if tc else 0)
    an, ns, ar = list(answers), list(authority), list(additional)
    c = counts or (1, len(an), len(ns), len(ar))
    body = struct.pack("!HHHHHH", qid, flags, *c)
    body += name(qname) + struct.pack("!HH", qtype, 1)
    for r in an + ns + ar:
        body += r
    return bytes([q]) + body


SOA_RR = rr("example.org", SOA, name("ns.example.org") +
            name("hostmaster.example.org") +
            struct.pack("!IIIII", 1, 7200, 900, 1209600, 300), ttl=3600)
PTR_TO_QNAME = b"\xc0\x0c"  # a compression pointer to the question name

SEEDS = {
    "a-two": packet(0, [rr(PTR_TO_QNAME, A, bytes([192, 0, 2, 25])),
                        rr(PTR_TO_QNAME, A, bytes([192, 0, 2, 26]))]),
    "aaaa": packet(1, [rr("example.org", AAAA,
                          bytes.fromhex("20010db8000000000000000000000025"))]),
    "cname-chain": packet(5, [
        rr("www.example.org", CNAME, name("web.example.org"), ttl=600),
        rr("web.example.org", CNAME, name("host.example.net"), ttl=900),
        rr("host.example.net", A, bytes([192, 0, 2, 80]))]),
    "cname-loop": packet(0, [
        rr("example.org", CNAME, name("b.example.org")),
        rr("b.example.org", CNAME, name("example.org"))]),
    "nxdomain-soa": packet(0, [], [SOA_RR], rcode=3),
    "nodata-soa": packet(1, [], [SOA_RR]),
    "mx-compressed": packet(2, [
        rr(PTR_TO_QNAME, MX, struct.pack("!H", 10) + b"\x03mx1\xc0\x0c"),
        rr(PTR_TO_QNAME, MX, struct.pack("!H", 0) + b"\0")]),
    "txt-strings": packet(3, [rr(PTR_TO_QNAME, TXT,
                                 b"\x07v=spf1 \x04-all\x00")]),
    "ptr": packet(4, [rr(PTR_TO_QNAME, PTR, name("Mail.Example.org"))]),
    "truncated-tc": packet(0, [], tc=True),
    "edns-opt": packet(0, [rr(PTR_TO_QNAME, A, bytes([192, 0, 2, 1]))],
                       additional=[rr(b"\0", OPT, b"", ttl=0, cls=1232)]),
    "rdlength-past-end": packet(0, [rr(PTR_TO_QNAME, A, bytes([192, 0, 2,
                                                            1]))])[:-2],
    "a-short-rdata": packet(0, [rr(PTR_TO_QNAME, A, bytes([192, 0, 2]))]),
    "pointer-loop": packet(0, [rr(b"\xc0\x1d", A, bytes([1, 2, 3, 4]))]),
    "dnsbl-listed": packet(7, [rr(PTR_TO_QNAME, A, bytes([127, 0, 0, 2])),
                               rr(PTR_TO_QNAME, A, bytes([127, 0, 0, 4]))]),
    "servfail": packet(0, rcode=2),
    "counts-lie": packet(0, [rr(PTR_TO_QNAME, A, bytes([192, 0, 2, 1]))],
                         counts=(1, 9, 0, 0)),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "corpus/dns"
    os.makedirs(out, exist_ok=True)
    for label, data in SEEDS.items():
        with open(os.path.join(out, label), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
