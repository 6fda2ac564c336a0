"""identity_test - the identity checks through the real daemon, with its
resolver asking dnsd on 127.0.0.1: refusals with their codes and texts,
the decision log line with every check, DNS trouble deferring, a client
that leaves while its checks wait, SIGTERM while they wait."""
import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from pdtest import DaemonTest, read_replies, request, start_dnsd

POLICYD = os.environ.get("POLICYD", "policyd")


ZONE = """
example.org. 3600 IN SOA ns.example.org. h.example.org. 1 2 3 4 300
mail.example.org. 300 IN A 192.0.2.25
25.2.0.192.in-addr.arpa. 300 IN PTR mail.example.org.
example.org. 300 IN MX 10 mail.example.org.
example.org. 300 IN TXT "v=spf1 ip4:192.0.2.25 -all"
soft.example.org. 300 IN MX 10 mail.example.org.
soft.example.org. 300 IN TXT "v=spf1 ~all"
!servfail broken.example.org.
!drop 77.2.0.192.in-addr.arpa.
"""

POLICY = """
listen:
  - inet: 127.0.0.1:0
dns:
  nameservers: [127.0.0.1:%d]
  timeout: 300ms
  tries: 1
deadline: %s
shutdown_timeout: 5s
scores: { reject: 5 }
checks:
  helo: { on_fail: reject }
  rdns: { on_fail: reject }
  fcrdns: { on_fail: { score: 2 } }
  dynamic: { on_fail: reject }
  helo_dns: { on_fail: { score: 2 } }
  sender: { on_fail: reject }
"""


# Two requests: the first waits 300 ms for DNS (its PTR is dropped), the
# second needs none; both must be answered, in order.
SLOW_THEN_FAST = (
    request(client_address="192.0.2.77", reverse_client_name="unknown",
            helo_name="mail.example.org") +
    request(client_address="192.0.2.25", client_name="mail.example.org",
            reverse_client_name="mail.example.org",
            helo_name="mail.example.org", sender="a@example.org",
            recipient="u@our.example", protocol_state="RCPT"))


class DnsTest(DaemonTest):
    """A dnsd serving ZONE for each test."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="identity-")
        self.addCleanup(self.tmp.cleanup)
        self.dns_port = start_dnsd(self, ZONE)

    def start(self, deadline="2s"):
        return self.daemon(POLICY % (self.dns_port, deadline))

    def ask(self, sock, **attrs):
        sock.sendall(request(protocol_state="RCPT", **attrs))
        return read_replies(sock, 1)[0]


class Identity(DnsTest):

    def test_refusals_and_the_log_line(self):
        d = self.start()
        s = d.connect()
        # A good client: every check passes.
        self.assertEqual(self.ask(
            s, client_address="192.0.2.25", client_name="unknown",
            reverse_client_name="unknown", helo_name="mail.example.org",
            sender="a@example.org", recipient="u@our.example"), "DUNNO")
        line = d.wait_log(r"decision action=DUNNO .*client=192\.0\.2\.25 "
                          r".*")[0].group(0)
        # (dynamic has no name to judge: Postfix sent "unknown".)
        self.assertRegex(line, r'checks="?helo:pass:\d+ms,dynamic:neutral:'
                         r'\d+ms,rdns:pass:\d+ms,fcrdns:pass:\d+ms,'
                         r'helo_dns:pass:\d+ms,sender:pass:\d+ms"? score=0 ')
        # No PTR: the refusal names the failure and the fix.
        self.assertEqual(self.ask(
            s, client_address="192.0.2.99", reverse_client_name="unknown",
            helo_name="mail.example.org", sender="a@example.org",
            recipient="u@our.example"),
            "550 5.7.25 Client 192.0.2.99 has no reverse DNS (PTR) record; "
            "ask the owner of this IP address to publish one")
        d.wait_log(r'rule=check:rdns .*checks=.*rdns:fail:')
        # A dial-in name.
        self.assertRegex(self.ask(
            s, client_address="198.51.100.23",
            reverse_client_name="dyn-198-51-100-23.isp.example.net",
            client_name="dyn-198-51-100-23.isp.example.net",
            helo_name="[198.51.100.23]", sender="a@example.org",
            recipient="u@our.example"),
            r"^550 5\.7\.1 Client 198\.51\.100\.23: PTR name "
            r"dyn-198-51-100-23\.isp\.example\.net looks like a dial-in")
        # A bare-IP HELO.
        self.assertRegex(self.ask(
            s, client_address="192.0.2.25", client_name="mail.example.org",
            reverse_client_name="mail.example.org", helo_name="192.0.2.25",
            sender="a@example.org", recipient="u@our.example"),
            r"^550 5\.7\.1 Your server's HELO/EHLO is wrong \(HELO "
            r"192\.0\.2\.25 is a bare IP address")
        # DNS trouble on the sender domain: a deferral, never a reject.
        self.assertRegex(self.ask(
            s, client_address="192.0.2.25", client_name="mail.example.org",
            reverse_client_name="mail.example.org",
            helo_name="mail.example.org", sender="a@broken.example.org",
            recipient="u@our.example"),
            r"^DEFER_IF_PERMIT 4\.4\.3 The domain of the sender address "
            r"a@broken\.example\.org could not be looked up in DNS just "
            r"now; please try again later$")
        # The resolver's words are in the log line, never in the reply.
        d.wait_log(r'why="sender: MX lookup of broken\.example\.org: '
                   r'SERVFAIL from 127\.0\.0\.1:\d+"')
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_reload_enables_dns_checks(self):
        # Started with no check that needs DNS: no resolver yet.
        d = self.daemon("listen:\n  - inet: 127.0.0.1:0\ndns:\n"
                        "  nameservers: [127.0.0.1:%d]\n" % self.dns_port)
        d.write_config(POLICY % (self.dns_port, "2s"))
        d.signal(signal.SIGHUP)
        d.wait_log(r"reloaded policy from")
        s = d.connect()
        self.assertEqual(self.ask(
            s, client_address="192.0.2.99", reverse_client_name="unknown",
            helo_name="mail.example.org", sender="a@example.org",
            recipient="u@our.example"),
            "550 5.7.25 Client 192.0.2.99 has no reverse DNS (PTR) record; "
            "ask the owner of this IP address to publish one")
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_client_leaves_while_checks_wait(self):
        d = self.start(deadline="2s")
        for _ in range(3):
            s = d.connect()
            s.sendall(request(client_address="192.0.2.77",
                              reverse_client_name="unknown"))
            time.sleep(0.1)
            s.close()
        time.sleep(0.3)
        s = d.connect()
        self.assertEqual(self.ask(
            s, client_address="192.0.2.25", client_name="mail.example.org",
            reverse_client_name="mail.example.org",
            helo_name="mail.example.org", sender="a@example.org",
            recipient="u@our.example"), "DUNNO")
        s.close()
        self.assertIsNone(d.proc.poll())
        self.assertEqual(d.stop(), 0)

    def test_a_client_that_resets_before_the_answer_is_logged_abandoned(self):
        # Issue 24: a request whose client left before the answer left
        # no log line and no metric.
        d = self.daemon(POLICY % (self.dns_port, "2s"), start=False)
        prom = d.path("metrics.prom")
        d.write_config((POLICY % (self.dns_port, "2s")) +
                       "metrics: { interval: 1s, file: %s }\n" % prom)
        d.start()
        s = d.connect()
        s.sendall(request(client_address="192.0.2.77",
                          reverse_client_name="unknown",
                          helo_name="mail.example.org"))
        time.sleep(0.1)
        # A reset (SO_LINGER 0): the connection is gone, not half-closed.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        s.close()
        m = d.wait_log(r"decision action=none rule=abandoned "
                       r"client=192\.0\.2\.77 .* us=(\d+)$")
        self.assertGreaterEqual(int(m[0].group(1)), 50000)

        def abandoned():
            try:
                with open(prom) as f:
                    m = re.search(r"^policyd_requests_abandoned_total "
                                  r"(\d+)$", f.read(), re.M)
            except FileNotFoundError:
                return None
            return int(m.group(1)) if m else None
        deadline = time.monotonic() + 5
        while abandoned() != 1:
            self.assertLess(time.monotonic(), deadline, "never counted")
            time.sleep(0.1)
        self.assertEqual(d.stop(), 0)

    def test_a_client_that_only_stops_sending_still_gets_its_answers(self):
        # nc -q1 in README's hand test: the end of input after a request
        # whose answer waits for DNS (300 ms: the PTR is dropped) is "no
        # more requests", not "gone". Before, the answer was dropped.
        d = self.start(deadline="2s")
        s = d.connect()
        s.sendall(SLOW_THEN_FAST)
        s.shutdown(socket.SHUT_WR)
        replies = read_replies(s, 2)
        self.assertTrue(replies[0].startswith("DEFER_IF_PERMIT 4.4.3 "),
                        replies)
        self.assertEqual(replies[1], "DUNNO")
        s.close()
        self.assertEqual(len(re.findall(r"rule=abandoned", d.log_text())), 0)
        self.assertEqual(d.stop(), 0)

    def test_stdio_answers_what_it_read_before_the_end_of_input(self):
        # README's printf ... | policyd --stdio printed nothing when the
        # answer waited for DNS: the end of input dropped it.
        d = self.daemon(POLICY % (self.dns_port, "2s"), start=False)
        reqs = SLOW_THEN_FAST
        r = subprocess.run([POLICYD, "-f", "--stdio", "-c", d.config_path],
                           input=reqs, capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertEqual(out.count("action="), 2, out)
        self.assertIn("action=DEFER_IF_PERMIT 4.4.3 ", out)
        self.assertTrue(out.endswith("action=DUNNO\n\n"), out)

    def test_deadline_and_sigterm_while_checks_wait(self):
        d = self.start(deadline="1s")
        s = d.connect()
        t0 = time.monotonic()
        s.sendall(request(client_address="192.0.2.77",
                          reverse_client_name="unknown",
                          helo_name="mail.example.org"))
        time.sleep(0.2)
        d.signal(signal.SIGTERM)
        # The request in flight is still answered: the deadline defers.
        reply = read_replies(s, 1)[0]
        self.assertEqual(reply, "DEFER_IF_PERMIT 4.4.3 The reverse DNS "
                         "(PTR) of client 192.0.2.77 could not be looked "
                         "up just now; please try again later")
        self.assertLess(time.monotonic() - t0, 3)
        self.assertEqual(d.proc.wait(timeout=10), 0)


DOWN_POLICY = """
listen:
  - inet: 127.0.0.1:0
dns:
  nameservers: [127.0.0.1:%d]
  timeout: 200ms
  tries: 1
deadline: 2s
metrics: { interval: 1s, file: %s }
checks:
  rdns: { on_fail: reject }
  spf: {}
"""


def free_udp_port():
    """A port free for UDP and TCP, below Linux's ephemeral range (32768
    up), so that no other test's socket takes it before dnsd binds it
    there later."""
    import random
    for _ in range(200):
        port = random.randint(20000, 32000)
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
                 socket.socket(socket.AF_INET, socket.SOCK_STREAM)]
        try:
            for s in socks:
                s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free port")


class DnsDown(DaemonTest):
    """Issue 24: with every nameserver unreachable the metrics showed
    questions but no failures, nothing was logged, and the reply blamed
    the sender ("SPF temperror: the SPF record of ... could not be
    checked")."""

    def figures(self, prom):
        try:
            with open(prom) as f:
                text = f.read()
        except FileNotFoundError:
            return {}
        return {m.group(1): float(m.group(2)) for m in re.finditer(
            r'^(policyd_dns_\S+) (\S+)$', text, re.M)}

    def test_unreachable_nameserver_is_counted_logged_and_ours(self):
        port = free_udp_port()   # nobody listens: port unreachable
        prom = os.path.join(tempfile.mkdtemp(prefix="dnsdown-"), "m.prom")
        self.addCleanup(lambda: os.path.exists(prom) and os.unlink(prom))
        d = self.daemon(DOWN_POLICY % (port, prom))
        s = d.connect()
        # No HELO name and no sender: SPF has nothing to check here.
        rdns = dict(client_address="192.0.2.25",
                    reverse_client_name="unknown")
        spf = dict(protocol_state="RCPT", client_address="192.0.2.25",
                   reverse_client_name="mail.example.org",
                   helo_name="mail.example.org", sender="a@example.org",
                   recipient="u@our.example")
        # Our resolver's trouble, not the sender's: the reply says so.
        s.sendall(request(**rdns))
        self.assertEqual(read_replies(s, 1)[0],
                         "DEFER_IF_PERMIT 4.4.3 A temporary problem on our "
                         "side (our DNS resolver is not answering) kept us "
                         "from checking this message; please try again "
                         "later")
        d.wait_log(r"rule=tempfail:rdns client=192\.0\.2\.25 ")
        s.sendall(request(**spf))
        self.assertEqual(read_replies(s, 1)[0],
                         "451 4.4.3 A temporary problem on our side (our "
                         "DNS resolver is not answering) kept us from "
                         "checking this message; please try again later")
        d.wait_log(r"rule=tempfail:spf client=192\.0\.2\.25 ")
        # A few more over a second: the resolver is logged down, once.
        deadline = time.monotonic() + 5
        while not re.search(r"dns: no nameserver answers", d.log_text()):
            self.assertLess(time.monotonic(), deadline, d.log_text())
            s.sendall(request(**dict(rdns, client_address="192.0.2.%d" %
                                     int(time.monotonic() * 10 % 200))))
            read_replies(s, 1)
            time.sleep(0.2)
        d.wait_log(r"error: dns: no nameserver answers \(127\.0\.0\.1:%d:"
                   r" .*\): checks that need DNS could not tell" % port)

        def down():
            f = self.figures(prom)
            return f.get("policyd_dns_up") == 0 and f.get(
                'policyd_dns_failures_total{kind="unreachable"}', 0) >= 4
        deadline = time.monotonic() + 5
        while not down():
            self.assertLess(time.monotonic(), deadline, self.figures(prom))
            time.sleep(0.1)
        self.assertEqual(len(re.findall(r"dns: no nameserver answers",
                                        d.log_text())), 1)
        # A nameserver comes up on that port: it answers again, logged.
        start_dnsd(self, ZONE, port=port)
        s.sendall(request(**dict(rdns, client_address="192.0.2.26")))
        read_replies(s, 1)
        d.wait_log(r"info: dns: a nameserver answers again, after \d+ s")
        deadline = time.monotonic() + 5
        while self.figures(prom).get("policyd_dns_up") != 1:
            self.assertLess(time.monotonic(), deadline, self.figures(prom))
            time.sleep(0.1)
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_a_timeout_for_one_name_is_the_senders(self):
        # A name whose nameserver does not answer (dropped) while ours
        # answers everything else: the reply still names the sender's
        # side, as before.
        port = start_dnsd(self, ZONE)
        prom = os.path.join(tempfile.mkdtemp(prefix="dnsdown-"), "m.prom")
        d = self.daemon(DOWN_POLICY % (port, prom))
        s = d.connect()
        s.sendall(request(client_address="192.0.2.77",
                          reverse_client_name="unknown",
                          helo_name="mail.example.org"))
        self.assertEqual(read_replies(s, 1)[0],
                         "DEFER_IF_PERMIT 4.4.3 The reverse DNS (PTR) of "
                         "client 192.0.2.77 could not be looked up just "
                         "now; please try again later")
        s.close()
        self.assertEqual(d.stop(), 0)


GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
POLICYCTL = os.environ.get("POLICYCTL", "policyctl")
CHECK_POLICY = """
state_dir: %s
dns:
  nameservers: [127.0.0.1:%d]
  timeout: 500ms
  tries: 1
my_names: [mx.our.example]
hostname: mx.our.example
scores: { reject: 5 }
checks:
  greylist: {}
  helo: { on_fail: reject }
  dynamic: { on_fail: reject }
  rdns: { on_fail: reject }
  fcrdns: { on_fail: { score: 2 } }
  helo_dns: { on_fail: { score: 2 } }
  sender: { on_fail: reject }
  spf: {}
"""

CHECKS = {
    "check-good": ["--client-address", "192.0.2.25", "--reverse-name",
                   "mail.example.org", "--helo", "mail.example.org",
                   "--sender", "a@example.org", "--recipient",
                   "u@our.example"],
    "check-no-ptr": ["--client-address", "192.0.2.99", "--helo",
                     "mail.example.org", "--sender", "a@example.org",
                     "--recipient", "u@our.example"],
    "check-scores": ["--client-address", "192.0.2.25", "--reverse-name",
                     "other.example.org", "--helo", "nx.example.org",
                     "--sender", "b@example.org", "--recipient",
                     "u@our.example"],
    "check-spf-softfail": ["--client-address", "192.0.2.25", "--reverse-name",
                           "mail.example.org", "--helo", "mail.example.org",
                           "--sender", "a@soft.example.org", "--recipient",
                           "u@our.example"],
    "check-our-name": ["--client-address", "192.0.2.25", "--reverse-name",
                       "mail.example.org", "--helo", "mx.our.example",
                       "--sender", "a@example.org"],
}


class CheckCommand(DnsTest):
    """policyctl check: each check, the score and the exact reply, compared
    with golden files (times replaced by N)."""

    def test_golden_output(self):
        path = os.path.join(self.tmp.name, "policy.yaml")
        with open(path, "w") as f:
            state = os.path.join(self.tmp.name, "state")
            f.write(CHECK_POLICY % (state, self.dns_port))
        for name, args in sorted(CHECKS.items()):
            r = subprocess.run([POLICYCTL, "check", "--config", path] + args,
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = re.sub(r"\(\d+ms\)", "(Nms)", r.stdout)
            with open(os.path.join(GOLDEN, name + ".out")) as f:
                self.assertEqual(got, f.read(), name)
        # Greylisting is on in that policy, yet nothing was written.
        self.assertFalse(os.path.exists(state))

    def test_bad_arguments(self):
        r = subprocess.run([POLICYCTL, "check", "--helo", "x"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("check: needs --client-address IP", r.stderr)
        r = subprocess.run([POLICYCTL, "check", "--client-address", "x"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn('--client-address: "x" is not an IP address', r.stderr)

    def test_same_reply_as_the_daemon(self):
        # Review 9: check set the PTR name for --client-name (not
        # Postfix's verified client_name), could not select a profile,
        # and had no resolver for a check enabled only in a profile.
        policy = os.path.join(self.tmp.name, "same.yaml")
        with open(policy, "w") as f:
            f.write(SAME_POLICY % self.dns_port)
        d = self.daemon(SAME_POLICY % self.dns_port)
        s = d.connect()
        for label, attrs, opts in SAME_CASES:
            sent = dict(protocol_state="RCPT")
            sent.update(attrs)
            s.sendall(request(**sent))
            want = read_replies(s, 1)[0]
            # As options, the way an administrator types them ...
            r = subprocess.run([POLICYCTL, "check", "--config", policy] +
                               opts, capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = re.findall(r"(?m)^reply: action=(.*)$", r.stdout)
            self.assertEqual(got, [want], "%s (options):\n%s"
                             % (label, r.stdout))
            # ... and the whole request on standard input.
            r = subprocess.run([POLICYCTL, "check", "--config", policy,
                                "--request", "-"], input=request(**sent),
                               capture_output=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = re.findall(r"(?m)^reply: action=(.*)$",
                             r.stdout.decode())
            self.assertEqual(got, [want], "%s (stdin):\n%s"
                             % (label, r.stdout.decode()))
        s.close()
        self.assertEqual(d.stop(), 0)


# The main policy needs no DNS; a profile does.
SAME_POLICY = """
listen:
  - inet: 127.0.0.1:0
dns:
  nameservers: [127.0.0.1:%d]
  timeout: 300ms
  tries: 1
my_names: [mx.our.example]
scores: { reject: 5 }
checks:
  helo: { on_fail: reject }
profiles:
  strict:
    checks:
      rdns: { enabled: true, on_fail: reject }
      fcrdns: { enabled: true, on_fail: { score: 5 } }
      sender: { enabled: true, on_fail: reject }
  calm:
    checks:
      helo: { on_fail: log }
select:
  stress: calm
  policy_context:
    strict-mx: strict
"""

SAME_CASES = [
    ("a bare-IP HELO",
     dict(client_address="192.0.2.25", helo_name="192.0.2.25",
          sender="a@example.org", recipient="u@our.example"),
     ["--client-address", "192.0.2.25", "--helo", "192.0.2.25",
      "--sender", "a@example.org", "--recipient", "u@our.example"]),
    ("stress=yes: a calmer profile",
     dict(client_address="192.0.2.25", helo_name="192.0.2.25",
          sender="a@example.org", recipient="u@our.example", stress="yes"),
     ["--client-address", "192.0.2.25", "--helo", "192.0.2.25",
      "--sender", "a@example.org", "--recipient", "u@our.example",
      "--stress"]),
    ("a profile's DNS checks: Postfix verified the name",
     dict(client_address="203.0.113.5", client_name="mx.example.net",
          reverse_client_name="mx.example.net", helo_name="mx.example.net",
          sender="a@example.org", recipient="u@our.example",
          policy_context="strict-mx"),
     ["--client-address", "203.0.113.5", "--client-name", "mx.example.net",
      "--helo", "mx.example.net", "--sender", "a@example.org",
      "--recipient", "u@our.example", "--policy-context", "strict-mx"]),
    ("a profile's DNS checks: a PTR name that does not resolve back",
     dict(client_address="203.0.113.5", client_name="unknown",
          reverse_client_name="mx.example.net", helo_name="mx.example.net",
          sender="a@example.org", recipient="u@our.example",
          policy_context="strict-mx"),
     ["--client-address", "203.0.113.5", "--reverse-name", "mx.example.net",
      "--helo", "mx.example.net", "--sender", "a@example.org",
      "--recipient", "u@our.example", "--policy-context", "strict-mx"]),
    ("a profile's DNS checks: no PTR at all",
     dict(client_address="192.0.2.99", client_name="unknown",
          reverse_client_name="unknown", helo_name="mail.example.org",
          sender="a@example.org", recipient="u@our.example",
          policy_context="strict-mx"),
     ["--client-address", "192.0.2.99", "--reverse-name", "unknown",
      "--helo", "mail.example.org", "--sender", "a@example.org",
      "--recipient", "u@our.example", "--policy-context", "strict-mx"]),
    ("at MAIL FROM, a bad sender",
     dict(client_address="192.0.2.25", helo_name="mail.example.org",
          sender="a..b@example.org", protocol_state="MAIL",
          policy_context="strict-mx", client_name="mail.example.org",
          reverse_client_name="mail.example.org"),
     ["--client-address", "192.0.2.25", "--client-name", "mail.example.org",
      "--helo", "mail.example.org", "--sender", "a..b@example.org",
      "--protocol-state", "MAIL", "--policy-context", "strict-mx"]),
    ("a client that logged in",
     dict(client_address="192.0.2.25", helo_name="localhost",
          sender="a@example.org", recipient="u@our.example",
          sasl_username="alice"),
     ["--client-address", "192.0.2.25", "--helo", "localhost",
      "--sender", "a@example.org", "--recipient", "u@our.example",
      "--sasl-username", "alice"]),
]


if __name__ == "__main__":
    unittest.main(verbosity=2)
