"""spf_daemon_test - the spf check through the real daemon, its resolver
asking dnsd: the action of each result, the result header once per
message (Received-SPF or Authentication-Results, through PREPEND), the
HELO identity, trusted forwarders and secondary MX hosts, and greylisting
keyed on the SPF-authorized domain or the verified client name's
registered domain (a retry from another /24, or over IPv6, passes).

The SPF records have TTL 0 and the resolver min_ttl 0: nothing is cached,
so dnsd's query log counts every evaluation."""
import os
import subprocess
import tempfile
import time
import unittest

from pdtest import DaemonTest, read_replies, request, start_dnsd

POLICYCTL = os.environ.get("POLICYCTL", "policyctl")

ZONE = """
example.org. 0 IN SOA ns.example.org. h.example.org. 1 2 3 4 0
example.org. 0 IN TXT "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ip6:2001:db8::/32 -all"
hard.example. 0 IN TXT "v=spf1 ip4:192.0.2.0/24 -all exp=why.hard.example"
why.hard.example. 0 IN TXT "%{i} is not one of our servers, see https://hard.example/mail"
soft.example. 0 IN TXT "v=spf1 ~all"
neutral.example. 0 IN TXT "v=spf1 ?all"
broken.example. 0 IN TXT "v=spf1 ip4:192.0.2.0/33 -all"
helo.example. 0 IN TXT "v=spf1 a -all"
helo.example. 0 IN A 192.0.2.30
badhelo.example. 0 IN TXT "v=spf1 -all"
!servfail trouble.example.
slow.example. 0 IN TXT "v=spf1 -all"
!delay slow.example. 1500
mail.pool.example. 0 IN A 192.0.2.40
mail.pool.example. 0 IN A 203.0.113.40
40.2.0.192.in-addr.arpa. 0 IN PTR mail.pool.example.
40.113.0.203.in-addr.arpa. 0 IN PTR mail.pool.example.
wide.example. 0 IN TXT "v=spf1 +all"
wide1.example. 0 IN TXT "v=spf1 ip4:0.0.0.0/1 ip4:128.0.0.0/1 -all"
exists.example. 0 IN TXT "v=spf1 exists:%{i}.ok.exists.example -all"
192.0.2.9.ok.exists.example. 0 IN A 127.0.0.2
198.51.100.9.ok.exists.example. 0 IN A 127.0.0.2
wideinc.example. 0 IN TXT "v=spf1 include:wide.example -all"
big.example. 0 IN TXT "v=spf1 ip4:192.0.0.0/16 ip4:198.51.0.0/16 -all"
crash.example. 0 IN TXT "v=spf1 include:a.crash.example include:b.crash.example -all"
a.crash.example. 0 IN TXT "v=spf1 -mx ?all"
a.crash.example. 0 IN MX 10 mx1.a.crash.example.
a.crash.example. 0 IN MX 20 mx2.a.crash.example.
mx1.a.crash.example. 0 IN A 192.0.2.50
mx2.a.crash.example. 0 IN A 198.51.100.50
!delay mx2.a.crash.example. 200
b.crash.example. 0 IN TXT "v=spf1 ?all"
!delay b.crash.example. 280
"""

POLICY = """
listen:
  - inet: 127.0.0.1:0
hostname: mx.our.example
dns:
  nameservers: [127.0.0.1:%(port)d]
  timeout: 300ms
  tries: 1
  min_ttl: 0
deadline: 2s
scores: { reject: 5, greylist: 0 }
checks:
  greylist:
    enabled: %(greylist)s
    delay: 1s
    header: true
  spf:
%(spf)s
"""

SPF_DEFAULT = """    forwarders: [198.18.0.0/15]
    secondary_mx: [2001:db8:ff::/48]
"""


class SpfDaemon(DaemonTest):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="spf-daemon-")
        self.addCleanup(self.tmp.cleanup)
        self.qlog = os.path.join(self.tmp.name, "queries")
        self.dns_port = start_dnsd(self, ZONE, self.qlog)

    def start(self, spf=SPF_DEFAULT, greylist="false"):
        return self.daemon(POLICY % {"port": self.dns_port, "spf": spf,
                                     "greylist": greylist})

    def txt_queries(self, name):
        """How often dnsd was asked for name's TXT records."""
        try:
            with open(self.qlog) as f:
                return sum(1 for l in f
                           if l.split()[1:] == [name + ".", "16"])
        except FileNotFoundError:
            return 0

    @staticmethod
    def ask(sock, **attrs):
        attrs.setdefault("protocol_state", "RCPT")
        sock.sendall(request(**attrs))
        return read_replies(sock, 1)[0]

    def test_results_and_their_actions(self):
        d = self.start()
        s = d.connect()
        base = dict(helo_name="mail.example.org", recipient="u@our.example")
        # fail: 550 5.7.23 with the domain's explanation.
        self.assertEqual(self.ask(s, client_address="198.51.100.7",
                                  sender="a@hard.example", instance="F1",
                                  **base),
                         "550 5.7.23 SPF fail: hard.example does not allow "
                         "198.51.100.7 to send mail for <a@hard.example>; "
                         "hard.example says: 198.51.100.7 is not one of our "
                         "servers, see https://hard.example/mail")
        d.wait_log(r'action=.*rule=check:spf .*checks=spf:fail:\d+ms')
        # softfail scores 2 (under 5): accepted, with the header.
        self.assertEqual(self.ask(s, client_address="198.51.100.7",
                                  sender="a@soft.example", instance="S1",
                                  **base),
                         "PREPEND Received-SPF: softfail (mx.our.example: "
                         "domain of transitioning a@soft.example does not "
                         "designate 198.51.100.7 as permitted sender) "
                         "client-ip=198.51.100.7; "
                         "envelope-from=\"a@soft.example\"; "
                         "helo=mail.example.org; receiver=mx.our.example; "
                         "identity=mailfrom")
        d.wait_log(r'checks=spf:softfail\+2:\d+ms score=2 ')
        # neutral counts 0.
        self.assertRegex(self.ask(s, client_address="198.51.100.7",
                                  sender="a@neutral.example", instance="N1",
                                  **base),
                         r"^PREPEND Received-SPF: neutral \(mx\.our\.example:"
                         r" 198\.51\.100\.7 is neither permitted nor denied ")
        d.wait_log(r'checks=spf:neutral:\d+ms score=0 ')
        # permerror scores 1 by default.
        self.assertRegex(self.ask(s, client_address="198.51.100.7",
                                  sender="a@broken.example", instance="P1",
                                  **base),
                         r"^PREPEND Received-SPF: permerror ")
        d.wait_log(r'checks=spf:permerror\+1:\d+ms score=1 ')
        # none: no record at all.
        self.assertRegex(self.ask(s, client_address="198.51.100.7",
                                  sender="a@nothing.example.org",
                                  instance="O1", **base),
                         r"^PREPEND Received-SPF: none ")
        # temperror: 451 4.7.24, never a rejection.
        self.assertRegex(self.ask(s, client_address="198.51.100.7",
                                  sender="a@trouble.example", instance="T1",
                                  **base),
                         r"^451 4\.7\.24 SPF temperror: the SPF record of "
                         r"trouble\.example could not be checked \(a DNS "
                         r"lookup failed or timed out\); please try again "
                         r"later$")
        # Which server said what: in the log line, not in the reply.
        d.wait_log(r'why="spf: TXT lookup of trouble\.example: SERVFAIL '
                   r'from 127\.0\.0\.1:\d+"')
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_pools_a_sender_chooses_are_not_pools(self):
        # Review B6: an SPF pass keyed greylisting on the sender's domain
        # whatever the mechanism, so a spammer's +all (or a /1) made every
        # bot one client; a verified name keyed it on the provider's
        # domain, merging every customer of a hosting provider. Such a
        # retry from another /24 is now a new triplet; a big sender's
        # pass from a /16 or narrower still is the same client.
        d = self.start(greylist="true")
        s = d.connect()
        wide = ["wide.example", "wide1.example", "exists.example",
                "wideinc.example"]
        first = dict(client_address="192.0.2.9", recipient="u@our.example",
                     helo_name="out.example.org")
        retry = dict(first, client_address="198.51.100.9")
        for dom in wide + ["big.example"]:
            self.assertRegex(self.ask(s, sender="x@" + dom,
                                      instance="W1" + dom, **first),
                             r"^DEFER_IF_PERMIT 4\.7\.1 Greylisted")
        hosted = dict(recipient="u@our.example", sender="a@customer.example",
                      helo_name="host1.hoster.example")
        self.assertRegex(self.ask(s, client_address="192.0.2.60",
                                  client_name="host1.hoster.example",
                                  instance="H1", **hosted),
                         r"^DEFER_IF_PERMIT 4\.7\.1 Greylisted")
        time.sleep(1.1)
        for dom in wide:
            self.assertRegex(self.ask(s, sender="x@" + dom,
                                      instance="W2" + dom, **retry),
                             r"^DEFER_IF_PERMIT 4\.7\.1 Greylisted",
                             "%s: a pass for anyone made a pool" % dom)
        d.wait_log(r'rule="greylist:new\(wait=1s\)" client=198\.51\.100\.9 '
                   r'.*sender=<x@wideinc\.example>')
        self.assertNotIn("key=spf:wide", d.log_text())
        self.assertNotIn("key=spf:exists", d.log_text())
        # Another customer of the same provider, from another /24.
        self.assertRegex(self.ask(s, client_address="198.51.100.60",
                                  client_name="host2.hoster.example",
                                  instance="H2", **hosted),
                         r"^DEFER_IF_PERMIT 4\.7\.1 Greylisted")
        self.assertNotIn("key=fcrdns:hoster.example", d.log_text())
        # A big sender's retry from another /24 of its /16 passes.
        self.assertRegex(self.ask(s, sender="x@big.example",
                                  instance="W2big", **retry),
                         r"^PREPEND Received-SPF: pass ")
        d.wait_log(r'rule="greylist:pass\(delayed=[12]s,key=spf:big\.example'
                   r'\)" client=198\.51\.100\.9 ')
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_late_dns_answers_of_an_ended_term_do_not_crash_the_daemon(self):
        # Review B1: the sender's DNS answers the second MX name of an
        # include's -mx term after the term ended, while the next include
        # still waits for its record. The right answer is SPF fail.
        d = self.start()
        s = d.connect()
        for i in range(3):
            self.assertEqual(
                self.ask(s, client_address="192.0.2.50",
                         sender="x@crash.example", instance="C%d" % i,
                         helo_name="mail.example.org",
                         recipient="u@our.example"),
                "550 5.7.23 SPF fail: crash.example does not allow "
                "192.0.2.50 to send mail for <x@crash.example>; if the "
                "mail is genuine, the owner of crash.example must list "
                "this server in its SPF record")
        # A client that leaves in the middle of the evaluation, with
        # answers in flight: the daemon cancels it and goes on serving.
        for i in range(3):
            c = d.connect()
            c.sendall(request(protocol_state="RCPT",
                              client_address="192.0.2.50",
                              sender="x@crash.example", instance="L%d" % i,
                              helo_name="mail.example.org",
                              recipient="u@our.example"))
            time.sleep(0.05 * i)
            c.close()
        time.sleep(0.5)
        self.assertIsNone(d.proc.poll(), "policyd died:\n" + d.log_text())
        self.assertRegex(self.ask(s, client_address="192.0.2.7",
                                  sender="a@example.org", instance="OK1",
                                  helo_name="mail.example.org",
                                  recipient="u@our.example"),
                         r"^PREPEND Received-SPF: pass ")

    def test_deadline_is_a_temperror(self):
        # The resolver would wait longer than the request may: the
        # deadline cuts the evaluation, and that is a temperror too.
        d = self.daemon(POLICY.replace("timeout: 300ms", "timeout: 3s")
                        .replace("deadline: 2s", "deadline: 400ms")
                        % {"port": self.dns_port, "spf": SPF_DEFAULT,
                           "greylist": "false"})
        s = d.connect()
        t0 = time.monotonic()
        self.assertEqual(self.ask(s, client_address="198.51.100.7",
                                  sender="a@slow.example",
                                  helo_name="x.example",
                                  recipient="u@our.example"),
                         "451 4.7.24 SPF temperror: the SPF record of the "
                         "sender's domain could not be checked in time (DNS "
                         "did not answer); please try again later")
        self.assertLess(time.monotonic() - t0, 1.4)
        d.wait_log(r'rule=check:spf .*checks=spf:temperror:.* why="spf: no '
                   r'answer before the deadline"')
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_actions_from_the_policy_file(self):
        d = self.start(spf="""    fail: { score: 3 }
    softfail: reject
    permerror: reject
    temperror: log
    header: authentication-results
""")
        s = d.connect()
        base = dict(client_address="198.51.100.7", recipient="u@our.example",
                    helo_name="mail.example.org")
        self.assertEqual(self.ask(s, sender="a@hard.example", **base),
                         "PREPEND Authentication-Results: mx.our.example; "
                         "spf=fail (domain of a@hard.example does not "
                         "designate 198.51.100.7 as permitted sender) "
                         "smtp.mailfrom=a@hard.example")
        d.wait_log(r'checks=spf:fail\+3:\d+ms score=3 ')
        self.assertRegex(self.ask(s, sender="a@soft.example", **base),
                         r"^550 5\.7\.23 SPF softfail: soft\.example says "
                         r"198\.51\.100\.7 is probably not allowed")
        self.assertRegex(self.ask(s, sender="a@broken.example", **base),
                         r"^550 5\.7\.24 SPF permerror: the SPF record of "
                         r"broken\.example is broken \(.*\); the owner of "
                         r"broken\.example must fix it$")
        # temperror: log only, the message goes on.
        self.assertRegex(self.ask(s, sender="a@trouble.example", **base),
                         r"^PREPEND Authentication-Results: mx\.our\.example; "
                         r"spf=temperror \(error in processing during lookup "
                         r"of a@trouble\.example: [^()]+\) "
                         r"smtp\.mailfrom=a@trouble\.example$")
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_once_per_message(self):
        d = self.start()
        s = d.connect()
        msg = dict(client_address="192.0.2.7", sender="a@example.org",
                   helo_name="mail.example.org")
        # The first recipient: evaluated, and the header.
        self.assertEqual(self.ask(s, recipient="u1@our.example",
                                  instance="M1", **msg),
                         "PREPEND Received-SPF: pass (mx.our.example: domain "
                         "of a@example.org designates 192.0.2.7 as permitted "
                         "sender) client-ip=192.0.2.7; "
                         "envelope-from=\"a@example.org\"; "
                         "helo=mail.example.org; receiver=mx.our.example; "
                         "identity=mailfrom")
        self.assertEqual(self.txt_queries("example.org"), 1)
        # The other recipients and DATA: the same result, no DNS, no
        # second header.
        self.assertEqual(self.ask(s, recipient="u2@our.example",
                                  instance="M1", **msg), "DUNNO")
        self.assertEqual(self.ask(s, recipient="u3@our.example",
                                  instance="M1", **msg), "DUNNO")
        self.assertEqual(self.ask(s, protocol_state="DATA", instance="M1",
                                  **msg), "DUNNO")
        self.assertEqual(self.txt_queries("example.org"), 1)
        d.wait_log(r'rcpt=<u3@our\.example> .*checks=spf:pass:')
        # A failing message refuses every recipient, evaluated once.
        for rcpt in ("u1@our.example", "u2@our.example"):
            self.assertRegex(self.ask(s, client_address="198.51.100.7",
                                      sender="b@hard.example",
                                      helo_name="x.example", recipient=rcpt,
                                      instance="M2"), r"^550 5\.7\.23 ")
        self.assertEqual(self.txt_queries("hard.example"), 1)
        # The next message is evaluated again and gets its own header.
        self.assertRegex(self.ask(s, recipient="u1@our.example",
                                  instance="M3", **msg),
                         r"^PREPEND Received-SPF: pass ")
        self.assertEqual(self.txt_queries("example.org"), 2)
        # Without an instance nothing is kept: each request evaluates.
        self.assertRegex(self.ask(s, recipient="u1@our.example", **msg),
                         r"^PREPEND Received-SPF: pass ")
        self.assertRegex(self.ask(s, recipient="u2@our.example", **msg),
                         r"^PREPEND Received-SPF: pass ")
        self.assertEqual(self.txt_queries("example.org"), 4)
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_helo_identity(self):
        d = self.start(spf="    helo_first: true\n")
        s = d.connect()
        # The null sender: the HELO name is the identity.
        self.assertEqual(self.ask(s, client_address="192.0.2.30", sender="",
                                  helo_name="helo.example",
                                  recipient="u@our.example"),
                         "PREPEND Received-SPF: pass (mx.our.example: domain "
                         "of helo.example designates 192.0.2.30 as permitted "
                         "sender) client-ip=192.0.2.30; helo=helo.example; "
                         "receiver=mx.our.example; identity=helo")
        self.assertRegex(self.ask(s, client_address="192.0.2.31", sender="",
                                  helo_name="helo.example",
                                  recipient="u@our.example"),
                         r"^550 5\.7\.23 SPF fail: helo\.example does not "
                         r"allow 192\.0\.2\.31 to send mail for HELO "
                         r"helo\.example; if the mail is genuine")
        # helo_first: a HELO fail is conclusive, though MAIL FROM passes.
        self.assertRegex(self.ask(s, client_address="192.0.2.7",
                                  sender="a@example.org",
                                  helo_name="badhelo.example",
                                  recipient="u@our.example"),
                         r"^550 5\.7\.23 SPF fail: badhelo\.example does not "
                         r"allow 192\.0\.2\.7 to send mail for HELO ")
        # Any other HELO result goes on to MAIL FROM, which decides.
        self.assertRegex(self.ask(s, client_address="192.0.2.7",
                                  sender="a@example.org",
                                  helo_name="nospf.example.org",
                                  recipient="u@our.example"),
                         r"^PREPEND Received-SPF: pass \(mx\.our\.example: "
                         r"domain of a@example\.org designates")
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_hostile_values_in_the_header(self):
        d = self.start(spf="    fail: log\n")
        s = d.connect()
        # A local part with a quote and a backslash, a HELO with blanks
        # and control characters: quoted and escaped in values, dropped
        # from the comment (no parentheses or backslashes there), never
        # breaking the header or the reply.
        reply = self.ask(s, client_address="198.51.100.7",
                         sender='a"b\\c@soft.example',
                         helo_name="evil (x) \x01; y=z",
                         recipient="u@our.example")
        self.assertEqual(reply,
                         'PREPEND Received-SPF: softfail (mx.our.example: '
                         'domain of transitioning a"bc@soft.example does '
                         'not designate 198.51.100.7 as permitted sender) '
                         'client-ip=198.51.100.7; '
                         'envelope-from="a\\"b\\\\c@soft.example"; '
                         'helo="evil (x) ; y=z"; receiver=mx.our.example; '
                         'identity=mailfrom')
        # Long values: the header stays within a Postfix reply, dropping
        # the comment and then the values, never cut in the middle.
        long_local = "x" * 200
        long_helo = "h" * 60 + "." + "i" * 60 + "." + "j" * 60 + ".example"
        reply = self.ask(s, client_address="198.51.100.7",
                         sender=long_local + "@soft.example",
                         helo_name=long_helo, recipient="u@our.example")
        self.assertEqual(reply,
                         "PREPEND Received-SPF: softfail "
                         "client-ip=198.51.100.7; receiver=mx.our.example; "
                         "identity=mailfrom")
        # A fail that only logs: the explanation of a hostile domain
        # never reaches the reply unescaped.
        self.assertRegex(self.ask(s, client_address="198.51.100.7",
                                  sender="a@hard.example",
                                  helo_name="x.example",
                                  recipient="u@our.example"),
                         r"^PREPEND Received-SPF: fail ")
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_not_before_mail_from(self):
        # At CONNECT or HELO Postfix sends an empty sender: no identity
        # yet, not the null sender. Nothing is evaluated or kept.
        d = self.start()
        s = d.connect()
        for state in ("CONNECT", "EHLO"):
            self.assertEqual(self.ask(s, protocol_state=state,
                                      client_address="192.0.2.31", sender="",
                                      helo_name="helo.example",
                                      instance="E1"), "DUNNO")
        d.wait_log(r'client=192\.0\.2\.31 .*checks=spf:neutral:', count=2)
        self.assertEqual(self.txt_queries("helo.example"), 0)
        # The same message at RCPT is checked (and here refused).
        self.assertRegex(self.ask(s, client_address="192.0.2.31", sender="",
                                  helo_name="helo.example", instance="E1",
                                  recipient="u@our.example"),
                         r"^550 5\.7\.23 ")
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_forwarders_and_secondary_mx_skip(self):
        d = self.start()
        s = d.connect()
        self.assertEqual(self.ask(s, client_address="198.18.5.9",
                                  sender="a@hard.example",
                                  helo_name="fwd.example",
                                  recipient="u@our.example"), "DUNNO")
        d.wait_log(r'client=198\.18\.5\.9 .*checks=spf:neutral:')
        self.assertEqual(self.ask(s, client_address="2001:db8:ff::25",
                                  sender="a@hard.example",
                                  helo_name="mx2.our.example",
                                  recipient="u@our.example"), "DUNNO")
        self.assertEqual(self.txt_queries("hard.example"), 0)
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_pool_aware_greylisting(self):
        d = self.start(greylist="true")
        s = d.connect()
        msg = dict(sender="a@example.org", recipient="u@our.example",
                   helo_name="out1.example.org")
        self.assertRegex(self.ask(s, client_address="192.0.2.7",
                                  instance="G1", **msg),
                         r"^DEFER_IF_PERMIT 4\.7\.1 Greylisted")
        d.wait_log(r'rule="greylist:new\(wait=1s,key=spf:example\.org\)"')
        v6 = dict(msg, recipient="v@our.example")
        self.assertRegex(self.ask(s, client_address="192.0.2.7",
                                  instance="G1b", **v6),
                         r"^DEFER_IF_PERMIT 4\.7\.1 Greylisted")
        time.sleep(1.1)
        # The retry comes from another /24 of the sender's pool: SPF
        # passes for the same domain, so it is the same client.
        self.assertEqual(self.ask(s, client_address="198.51.100.50",
                                  instance="G2", **msg),
                         "PREPEND Received-SPF: pass (mx.our.example: domain "
                         "of a@example.org designates 198.51.100.50 as "
                         "permitted sender) client-ip=198.51.100.50; "
                         "envelope-from=\"a@example.org\"; "
                         "helo=out1.example.org; receiver=mx.our.example; "
                         "identity=mailfrom")
        d.wait_log(r'rule="greylist:pass\(delayed=[12]s,key=spf:example\.org\)"')
        # The second header waits for the next reply of the message.
        self.assertRegex(self.ask(s, client_address="198.51.100.50",
                                  instance="G2", protocol_state="DATA",
                                  **msg),
                         r"^PREPEND X-Greylist: delayed [12] seconds by policyd "
                         r"at mx\.our\.example; ")
        self.assertEqual(self.ask(s, client_address="198.51.100.50",
                                  instance="G2",
                                  protocol_state="END-OF-MESSAGE", **msg),
                         "DUNNO")
        # A retry over IPv6 of a triplet first seen over IPv4 passes.
        self.assertRegex(self.ask(s, client_address="2001:db8::25",
                                  instance="G3", **v6),
                         r"^PREPEND Received-SPF: pass ")
        d.wait_log(r'rule="greylist:pass\(delayed=[12]s,key=spf:example\.'
                   r'org\)" client=2001:db8::25 ')
        # And the first triplet, passed, is known there too.
        self.assertRegex(self.ask(s, client_address="2001:db8::26",
                                  instance="G3b", **msg),
                         r"^PREPEND Received-SPF: pass ")
        d.wait_log(r'rule="greylist:known\(key=spf:example\.org\)" '
                   r'client=2001:db8::26 ')
        # Without SPF: the verified client name's registered domain,
        # when it is the sender's too (an organization's own servers).
        fc = dict(sender="b@pool.example", recipient="u@our.example",
                  helo_name="mail.pool.example")
        self.assertRegex(self.ask(s, client_address="192.0.2.40",
                                  client_name="mail.pool.example",
                                  instance="G4", **fc),
                         r"^DEFER_IF_PERMIT 4\.7\.1 Greylisted")
        d.wait_log(r'key=fcrdns:pool\.example')
        time.sleep(1.1)
        self.assertRegex(self.ask(s, client_address="203.0.113.40",
                                  client_name="mail.pool.example",
                                  instance="G5", **fc),
                         r"^PREPEND Received-SPF: none ")
        d.wait_log(r'rule="greylist:pass\(delayed=[12]s,key=fcrdns:pool\.'
                   r'example\)" client=203\.0\.113\.40 ')
        # A client with neither is keyed on its network as before.
        nm = dict(sender="c@nospf.example.org", recipient="u@our.example",
                  helo_name="x.example")
        self.assertRegex(self.ask(s, client_address="192.0.2.99",
                                  instance="G6", **nm),
                         r"^DEFER_IF_PERMIT 4\.7\.1 Greylisted")
        d.wait_log(r'rule="greylist:new\(wait=1s\)" client=192\.0\.2\.99 ')
        # policyctl names pools as greylisting keys them.
        out = self.ctl(d, "greylist", "list", "--client", "SPF:Example.org")
        self.assertRegex(out, r"(?m)^spf:example\.org +a@example\.org +"
                         r"u@our\.example +passed ")
        self.assertRegex(out, r"(?m)^spf:example\.org +a@example\.org +"
                         r"v@our\.example +passed ")
        self.assertEqual(len(out.strip().splitlines()), 3, out)
        out = self.ctl(d, "greylist", "list", "--client", "192.0.2.0/24")
        self.assertEqual(len(out.strip().splitlines()), 2, out)
        self.assertIn("192.0.2.0/24", out)
        self.ctl(d, "awl", "add", "--client", "fcrdns:pool.example")
        self.assertRegex(self.ctl(d, "awl", "list"),
                         r"(?m)^client +fcrdns:pool\.example ")
        r = subprocess.run([POLICYCTL, "-c", d.config_path, "--state-dir",
                            d.path("state"), "greylist", "list", "--client",
                            "spf:"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn('--client: "spf:" is not a pool', r.stderr)
        # The whitelisted pool is no longer greylisted, from anywhere.
        self.assertRegex(self.ask(s, client_address="192.0.2.41",
                                  client_name="mx9.pool.example",
                                  instance="G7", sender="n@pool.example",
                                  recipient="v@our.example",
                                  helo_name="mx9.pool.example"),
                         r"^PREPEND Received-SPF: none ")
        d.wait_log(r'rule="greylist:awl-client\(key=fcrdns:pool\.example\)"')
        s.close()
        self.assertEqual(d.stop(), 0)

    def ctl(self, d, *args):
        r = subprocess.run([POLICYCTL, "-c", d.config_path, "--state-dir",
                            d.path("state")] + list(args),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout


if __name__ == "__main__":
    unittest.main(verbosity=2)
