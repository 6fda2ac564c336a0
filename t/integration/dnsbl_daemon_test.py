"""dnsbl_daemon_test - the DNS lists through the real daemon and dnsd: the
refusal on the wire, the log said once per state change, policyctl stats
with each list's state and counts, a DQS-style key that appears in no
reply, log line or policyctl output, and the self-tests following a
reload."""
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

from pdtest import DaemonTest, read_replies, request, start_dnsd

POLICYCTL = os.environ.get("POLICYCTL", "policyctl")
KEY = "zzsecretdqskey0123456789ab"

ZONE = """
2.0.0.127.bl.test. 60 IN A 127.0.0.2
2.0.0.127.bl.test. 60 IN A 127.0.0.4
7.2.0.192.bl.test. 60 IN A 127.0.0.4
2.0.0.127.%(key)s.zen.dq.spamhaus.net. 60 IN A 127.0.0.2
9.2.0.192.%(key)s.zen.dq.spamhaus.net. 60 IN A 127.0.0.4
2.0.0.127.refused.test. 60 IN A 127.255.255.254
2.0.0.127.wl.test. 60 IN A 127.0.10.3
8.2.0.192.wl.test. 60 IN A 127.0.15.3
8.2.0.192.bl.test. 60 IN A 127.0.0.4
""" % {"key": KEY}

POLICY = """
listen:
  - inet: 127.0.0.1:0
state_dir: @DIR@/state
dns:
  nameservers: [127.0.0.1:%d]
  timeout: 300ms
  tries: 1
checks:
  dnsbl:
    stats_every: 1s
    lists:
      - zone: bl.test
        name: Test ZEN
        url: https://check.bl.test/
        reject: true
        codes:
          - { code: "127.0.0.[4..7]", label: "XBL: exploited host" }
      - zone: %s.zen.dq.spamhaus.net
        weight: 1
      - zone: refused.test
        reject: true
      - zone: wl.test
        name: Test WL
        decisive: true
        weight: -5
"""


class Lists(DaemonTest):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="dnsbl-")
        self.addCleanup(self.tmp.cleanup)
        self.dns_port = start_dnsd(self, ZONE)

    def ask(self, sock, **attrs):
        sock.sendall(request(protocol_state="RCPT", **attrs))
        return read_replies(sock, 1)[0]

    def stats(self, d, *args):
        r = subprocess.run([POLICYCTL, "--config", d.config_path,
                            "--state-dir", d.path("state"), "stats"] +
                           list(args), capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout + r.stderr

    def test_refusal_log_stats_and_no_key_anywhere(self):
        d = self.daemon(POLICY % (self.dns_port, KEY))
        # The self-tests at start: refused.test is unusable, said once.
        d.wait_log(r"dnsbl: refused\.test is UNUSABLE from here, skipped: "
                   r"it answers 127\.255\.255\.254: the list refuses our "
                   r"resolver")
        d.wait_log(r"dnsbl: Test ZEN passed its self-test")
        s = d.connect()
        reply = self.ask(s, client_address="192.0.2.7",
                         recipient="u@our.example", instance="i1")
        self.assertEqual(
            reply, "554 5.7.1 Service unavailable; client 192.0.2.7 is "
            "listed at Test ZEN (XBL: exploited host); see "
            "https://check.bl.test/ - ask the list's operator, not us, "
            "for removal")
        # Listed on the keyed list (weight 1, no threshold): accepted,
        # and its reason in the log names the list, never the key.
        self.assertEqual(self.ask(s, client_address="192.0.2.9",
                                  recipient="u@our.example"), "DUNNO")
        d.wait_log(r"decision action=DUNNO .*client=192\.0\.2\.9 .*"
                   r"dnsbl:fail\+1")
        # Listed, but on the allowlist that decides: accepted.
        self.assertEqual(self.ask(s, client_address="192.0.2.8",
                                  recipient="u@our.example"), "DUNNO")
        for i in range(5):
            self.assertEqual(self.ask(s, client_address="192.0.2.%d" %
                                      (20 + i), recipient="u@our.example"),
                             "DUNNO")
        line = d.wait_log(r'decision action="554 .*')[0].group(0)
        self.assertIn("dnsbl:fail", line)
        # The state changes were logged once, not per request.
        self.assertEqual(d.log_text().count("refused.test is UNUSABLE"), 1)
        # policyctl stats: each list, its state and counts (written
        # within a minute; a state change at once, so wait for a write).
        deadline = time.time() + 10
        while True:
            out = self.stats(d, "--json")
            rows = [json.loads(l) for l in out.splitlines()
                    if l.startswith('{"list"')]
            byname = {r["list"]: r for r in rows}
            if ("Test ZEN" in byname and byname["Test ZEN"]["lookups"] >= 7
                    or time.time() > deadline):
                break
            time.sleep(1)
        self.assertEqual(byname["Test ZEN"]["state"], "ok")
        self.assertGreaterEqual(byname["Test ZEN"]["hits"], 2)
        self.assertIsNotNone(byname["Test ZEN"]["last_test"])
        self.assertEqual(byname["refused.test"]["state"], "unusable")
        self.assertIn("public or unattributable",
                      byname["refused.test"]["why"])
        self.assertIn("zen.dq.spamhaus.net", byname)
        text = self.stats(d)
        self.assertRegex(text, r"Test ZEN\s+ok\s+\S+\s+\d+\s+\d+")
        # The key: in no reply, log line or policyctl output.
        self.assertNotIn(KEY, reply)
        self.assertNotIn(KEY, d.log_text())
        self.assertNotIn(KEY, out + text)
        d.stop()
        self.assertNotIn(KEY, d.log_text())

    def test_check_through_the_daemon_answers_as_the_daemon_does(self):
        # policyctl check runs in the daemon: its lists' states (one it
        # took out of use stays out), its store read for greylisting, and
        # nothing written: the daemon then answers the same request the
        # same way.
        d = self.daemon(POLICY % (self.dns_port, KEY) +
                        "  greylist:\n    enabled: true\n    delay: 1s\n")
        d.wait_log(r"dnsbl: refused\.test is UNUSABLE")
        d.wait_log(r"dnsbl: Test ZEN passed its self-test")
        s = d.connect()

        def both(client, sender):
            r = subprocess.run(
                [POLICYCTL, "--config", d.config_path, "--state-dir",
                 d.path("state"), "check", "--client-address", client,
                 "--sender", sender, "--recipient", "u@our.example"],
                capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            daemon = self.ask(s, client_address=client, sender=sender,
                              recipient="u@our.example")
            reply = re.search(r"^reply: (.*)$", r.stdout, re.M).group(1)
            self.assertEqual(reply, "action=" + daemon, r.stdout)
            return r.stdout, daemon

        out, reply = both("192.0.2.7", "a@x.example")
        self.assertTrue(reply.startswith("554 5.7.1"), reply)
        self.assertRegex(out, r"refused\.test.*(UNUSABLE|unusable|skipped)")
        out, reply = both("192.0.2.50", "b@x.example")
        self.assertTrue(reply.startswith("DEFER_IF_PERMIT 4.7.1 Greylisted"),
                        reply)
        self.assertIn("greylist:new", out)
        time.sleep(1.1)
        out, reply = both("192.0.2.50", "b@x.example")
        self.assertEqual(reply, "DUNNO")
        self.assertIn("decided by: greylist:pass(delayed=", out)
        out, reply = both("192.0.2.8", "c@x.example")
        self.assertEqual(reply, "DUNNO")
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_metrics_give_the_lists_states_from_the_daemon(self):
        d = self.daemon(POLICY % (self.dns_port, KEY) +
                        "metrics:\n  interval: 1s\n")
        d.wait_log(r"dnsbl: refused\.test is UNUSABLE")
        d.wait_log(r"dnsbl: Test ZEN passed its self-test")
        s = d.connect()
        self.ask(s, client_address="192.0.2.7", recipient="u@our.example")
        s.close()
        want = ['policyd_dnsbl_list_state{list="refused.test",'
                'state="unusable"} 1',
                'policyd_dnsbl_list_state{list="Test ZEN",state="ok"} 1',
                'policyd_dnsbl_lookups_total{list="Test ZEN",'
                'outcome="listed"} 1']
        deadline = time.monotonic() + 10
        while True:
            try:
                with open(d.path("state/metrics.prom")) as f:
                    text = f.read()
            except FileNotFoundError:
                text = ""
            if all(w in text for w in want):
                break
            self.assertLess(time.monotonic(), deadline, text)
            time.sleep(0.2)
        # Each family once: the daemon's lists, not the store's as well.
        self.assertEqual(text.count("# TYPE policyd_dnsbl_list_state "), 1)
        self.assertEqual(d.stop(), 0)

    def test_reload_tests_the_new_lists(self):
        d = self.daemon(POLICY % (self.dns_port, KEY))
        d.wait_log(r"dnsbl: Test ZEN passed its self-test")
        d.write_config((POLICY % (self.dns_port, KEY)).replace(
            "name: Test ZEN", "name: Renamed ZEN") +
            "      - { zone: new.test, reject: true }\n")
        d.signal(signal.SIGHUP)
        # The new list is tested at once; a dead one is disabled.
        d.wait_log(r"dnsbl: new\.test DISABLED until it passes its "
                   r"self-test: its test entry 127\.0\.0\.2 is not listed")
        s = d.connect()
        self.assertIn("listed at Renamed ZEN",
                      self.ask(s, client_address="192.0.2.7",
                               recipient="u@our.example"))


class Stdio(DaemonTest):
    """Issue 22: a --stdio process (one per SMTP session under spawn)
    tests no list itself: it uses the daemon's last states."""

    def test_stdio_process_takes_the_daemons_states(self):
        tmp = tempfile.TemporaryDirectory(prefix="dnsbl-")
        self.addCleanup(tmp.cleanup)
        qlog = os.path.join(tmp.name, "queries")
        port = start_dnsd(self, ZONE, querylog=qlog)
        d = self.daemon(POLICY % (port, KEY))
        d.wait_log(r"dnsbl: refused\.test is UNUSABLE from here")
        d.wait_log(r"dnsbl: Test ZEN passed its self-test")
        self.assertEqual(d.stop(), 0)

        def tests_asked():
            with open(qlog) as f:
                return sum("2.0.0.127." in l or "1.0.0.127." in l
                           for l in f)

        def refused_asked():
            with open(qlog) as f:
                return sum("refused.test" in l for l in f)
        before, refused_before = tests_asked(), refused_asked()
        p = subprocess.Popen([os.environ.get("POLICYD", "policyd"), "-f",
                              "--stdio", "-c", d.config_path, "--state-dir",
                              d.path("state")], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        p.stdin.write(request(protocol_state="RCPT",
                              client_address="192.0.2.7",
                              recipient="u@our.example"))
        p.stdin.flush()
        reply = p.stdout.readline()
        p.stdout.readline()
        p.stdin.write(request(protocol_state="RCPT",
                              client_address="192.0.2.5",
                              recipient="u@our.example"))
        p.stdin.flush()
        self.assertEqual(p.stdout.readline(), b"action=DUNNO\n")
        p.stdin.close()
        err = p.stderr.read().decode()
        p.wait(timeout=10)
        self.assertTrue(reply.startswith(b"action=554 5.7.1 Service "
                                         b"unavailable; client 192.0.2.7 "
                                         b"is listed at Test ZEN"), reply)
        # The list the daemon found unusable is not asked, no test
        # point is, no state change is logged.
        self.assertEqual(refused_asked(), refused_before)
        self.assertEqual(tests_asked(), before)
        self.assertNotIn("self-test", err)
        self.assertNotIn("UNUSABLE", err)


if __name__ == "__main__":
    unittest.main()
