"""ours_daemon_test - our own users' mail through the real daemon: mail
from a user who logged in, or from local_networks, is recorded once
accepted; a reply from its recipient skips greylisting, a stranger's
mail does not; policyctl outbound list shows the records."""
import json
import os
import subprocess
import time
import unittest

from pdtest import DaemonTest, read_replies, request, start_dnsd

POLICYCTL = os.environ.get("POLICYCTL", "policyctl")

# A correspondent's reply skips greylisting only when SPF passes for it.
ZONE = """
remote.example. 60 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
soft.example. 60 IN TXT "v=spf1 ip4:192.0.2.0/24 ~all"
"""

POLICY = """
listen:
  - inet: 127.0.0.1:0
state_dir: @DIR@/state
dns:
  nameservers: [127.0.0.1:@DNS@]
  timeout: 300ms
  tries: 1
local_networks: [10.0.0.0/8]
checks:
  spf: { header: none }
  greylist: { delay: 1m }
  outbound: { local_domains: [our.example] }
  whitelist: {}
  backscatter: { contact: postmaster@our.example }
"""


class Ours(DaemonTest):

    def setUp(self):
        self.dns_port = start_dnsd(self, ZONE)

    def daemon(self, config, **kw):
        return super().daemon(config.replace("@DNS@", str(self.dns_port)),
                              **kw)

    def ask(self, sock, **attrs):
        sock.sendall(request(protocol_state="RCPT", **attrs))
        return read_replies(sock, 1)[0]

    def ctl(self, d, *args):
        r = subprocess.run([POLICYCTL, "--config", d.config_path,
                            "--state-dir", d.path("state")] + list(args),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_reply_skips_greylisting_and_outbound_list(self):
        d = self.daemon(POLICY)
        s = d.connect()
        self.assertEqual(self.ask(s, client_address="203.0.113.9",
                                  sasl_username="alice",
                                  sender="alice@our.example",
                                  recipient="bob@remote.example"), "DUNNO")
        self.assertEqual(self.ask(s, client_address="10.9.8.7",
                                  sender="dave@our.example",
                                  recipient="erin@remote.example"), "DUNNO")
        self.assertEqual(self.ask(s, client_address="10.9.8.7",
                                  sender="dave@our.example",
                                  recipient="zed@soft.example"), "DUNNO")
        # The replies SPF proves pass at once; a stranger is greylisted.
        self.assertEqual(self.ask(s, client_address="192.0.2.1",
                                  sender="bob@remote.example",
                                  recipient="alice@our.example"), "DUNNO")
        d.wait_log(r"decision action=DUNNO rule=greylist:correspondent "
                   r"client=192\.0\.2\.1 ")
        self.assertEqual(self.ask(s, client_address="192.0.2.2",
                                  sender="erin@remote.example",
                                  recipient="dave@our.example"), "DUNNO")
        self.assertTrue(self.ask(
            s, client_address="192.0.2.3", sender="carol@remote.example",
            recipient="alice@our.example").startswith(
                "DEFER_IF_PERMIT 4.7.1 Greylisted"))
        # Issue 22: a correspondent's address forged from a server its
        # domain's SPF does not name (~all: softfail) is greylisted.
        self.assertTrue(self.ask(
            s, client_address="198.51.100.9", sender="zed@soft.example",
            recipient="dave@our.example").startswith(
                "DEFER_IF_PERMIT 4.7.1 Greylisted"))
        rows = [json.loads(l) for l in
                self.ctl(d, "outbound", "list", "--json").splitlines()]
        pairs = {(r["sender"], r["recipient"]) for r in rows}
        self.assertEqual(pairs, {("alice@our.example", None),
                                 ("alice@our.example", "bob@remote.example"),
                                 ("dave@our.example", None),
                                 ("dave@our.example", "erin@remote.example"),
                                 ("dave@our.example", "zed@soft.example")})
        text = self.ctl(d, "outbound", "list", "--sender", "Dave@our.example")
        self.assertIn("erin@remote.example", text)
        self.assertNotIn("alice", text)

    def test_mail_an_access_rule_accepts_is_still_recorded(self):
        d = self.daemon(POLICY.replace("checks:", """access:
  - name: office
    client: 10.1.0.0/16
    action: OK
  - name: refused
    sender: bin@our.example
    action: REJECT 5.7.1 not from this address
  - name: stranger-ok
    client: 198.51.100.0/24
    action: OK
checks:"""))
        s = d.connect()
        self.assertEqual(self.ask(s, client_address="10.1.2.3",
                                  sender="frank@our.example",
                                  recipient="gina@remote.example"), "OK")
        d.wait_log(r"decision action=OK rule=office client=10\.1\.2\.3 ")
        self.assertEqual(self.ask(s, client_address="10.2.2.2",
                                  sender="bin@our.example",
                                  recipient="hal@remote.example"),
                         "REJECT 5.7.1 not from this address")
        # A stranger's mail is never ours to record, whatever the rule.
        self.assertEqual(self.ask(s, client_address="198.51.100.7",
                                  sender="ivy@remote.example",
                                  recipient="jon@far.example"), "OK")
        rows = [json.loads(l) for l in
                self.ctl(d, "outbound", "list", "--json").splitlines()]
        pairs = {(r["sender"], r["recipient"]) for r in rows}
        self.assertEqual(pairs, {("frank@our.example", None),
                                 ("frank@our.example",
                                  "gina@remote.example")})
        # The reply to it skips greylisting like any correspondent's.
        self.assertEqual(self.ask(s, client_address="192.0.2.1",
                                  sender="gina@remote.example",
                                  recipient="frank@our.example"), "DUNNO")
        d.wait_log(r"rule=greylist:correspondent client=192\.0\.2\.1 ")

    @staticmethod
    def write_log(path, start, end, deliveries):
        """A mail log: a line every hour from start to end (seconds since
        the epoch), and the deliveries (time, qid, sender, rcpt)."""
        def stamp(t):
            return time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00",
                                 time.gmtime(t))
        with open(path, "w") as f:
            t = start
            while t <= end:
                f.write(f"{stamp(t)} mx postfix/anvil[8]: statistics: "
                        "max connection rate 1/60s\n")
                t += 3600
            for t, qid, sender, rcpt in deliveries:
                f.write(f"{stamp(t)} mx postfix/qmgr[9]: {qid}: "
                        f"from=<{sender}>, size=9, nrcpt=1 "
                        "(queue active)\n"
                        f"{stamp(t)} mx postfix/smtp[10]: {qid}: "
                        f"to=<{rcpt}>, relay=mx.remote.example"
                        "[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent "
                        "(250 ok)\n")
            f.write("garbage that is no log line\n")

    def test_import_of_a_log_without_its_newest_files_starts_no_detection(
            self):
        # Issue 22: a log that ends 8 days ago ("zcat mail.log.*.gz"
        # leaves out mail.log and mail.log.1) says nothing of our users'
        # mail since: detection must not judge on it.
        d = self.daemon(POLICY)
        now = time.time()
        log = d.path("mail.log")
        self.write_log(log, now - 16 * 86400, now - 8 * 86400,
                       [(now - 8 * 86400, "4F1A2B3C4D", "alice@our.example",
                         "bob@remote.example")])
        r = subprocess.run([POLICYCTL, "--config", d.config_path,
                            "--state-dir", d.path("state"), "outbound",
                            "import-log", log, "--domain", "our.example"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("imported 1 deliveries of our users", r.stdout)
        self.assertIn("warning: the newest line is from", r.stderr)
        self.assertIn("zcat -f /var/log/mail.log*", r.stderr)
        self.assertIn("backscatter detection: not live", r.stdout)
        s = d.connect()
        for rcpt in ("a@our.example", "b@our.example", "c@our.example"):
            s.sendall(request(protocol_state="DATA",
                              client_address="192.0.2.70", sender="",
                              recipient=rcpt, recipient_count="1"))
            self.assertEqual(read_replies(s, 1)[0], "DUNNO")
        d.wait_log(r"backscatter: our users' outbound history does not "
                   r"cover bounce_window yet: detection starts at ")
        self.assertNotIn("bounced to", d.log_text())

    def test_imported_mail_log_up_to_now_starts_backscatter_detection(self):
        d = self.daemon(POLICY)
        now = time.time()
        log = d.path("mail.log")
        self.write_log(log, now - 9 * 86400, now - 60,
                       [(now - 8 * 86400, "4F1A2B3C4D", "alice@our.example",
                         "bob@remote.example"),
                        (now - 3600, "5A1B2C3D4E", "dave@our.example",
                         "erin@remote.example")])
        out = self.ctl(d, "outbound", "import-log", log, "--domain",
                       "our.example")
        self.assertIn("imported 2 deliveries of our users from 221 lines",
                      out)
        self.assertIn("backscatter detection: live", out)
        s = d.connect()
        # The reply from bob skips greylisting already.
        self.assertEqual(self.ask(s, client_address="192.0.2.1",
                                  sender="bob@remote.example",
                                  recipient="alice@our.example"), "DUNNO")

        def bounce(client, rcpt):
            s.sendall(request(protocol_state="DATA", client_address=client,
                              sender="", recipient=rcpt,
                              recipient_count="1"))
            return read_replies(s, 1)[0]
        # alice sent mail 8 days ago, within keep, but not within
        # bounce_window: a bounce to her is a hit after all, but one hit
        # blocks nobody (a vacation reply, a misdirected DSN).
        self.assertEqual(bounce("192.0.2.70", "alice@our.example"), "DUNNO")
        d.wait_log(r"backscatter: 192\.0\.2\.70 bounced to "
                   r"alice@our\.example, who sent nothing: 1 of 3 distinct "
                   r"recipients within hit_window$")
        self.assertEqual(bounce("192.0.2.70", "nobody@our.example"), "DUNNO")
        # The third distinct recipient within a day: blocked.
        self.assertRegex(bounce("192.0.2.70", "noone@our.example"),
                         r"^554 5\.7\.1 Service unavailable; client "
                         r"192\.0\.2\.70 is blocked")
        d.wait_log(r"backscatter: 192\.0\.2\.70 bounced to "
                   r"noone@our\.example, who sent nothing: 3 of 3 distinct "
                   r"recipients within hit_window; blocked until ")
        # Mail alice sends now makes her next bounce a real one.
        self.assertEqual(self.ask(s, client_address="10.1.1.1",
                                  sender="alice@our.example",
                                  recipient="carol@remote.example"), "DUNNO")
        self.assertEqual(bounce("192.0.2.71", "alice@our.example"), "DUNNO")
        r = subprocess.run([POLICYCTL, "--config", d.config_path,
                            "--state-dir", d.path("state"), "outbound",
                            "import-log", log], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("needs --domain", r.stderr)
        r = subprocess.run([POLICYCTL, "--config", d.config_path,
                            "--state-dir", d.path("state"), "outbound",
                            "import-log", d.path("nonesuch"), "--domain",
                            "our.example"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("nonesuch: No such file", r.stderr)

    def test_whitelist_entry_without_spf_pass_is_not_applied(self):
        # Issue 22: SPF none (partner.example publishes none) proves no
        # sender: the entry is found, named in the log, and not applied.
        d = self.daemon(POLICY)
        s = d.connect()
        mail = dict(client_address="192.0.2.9", sender="bob@partner.example",
                    recipient="alice@our.example")
        self.ctl(d, "whitelist", "add", "--recipient", "alice@our.example",
                 "--sender", "@partner.example")
        self.assertTrue(self.ask(s, **mail).startswith("DEFER_IF_PERMIT"))
        d.wait_log(r'rule="greylist:new\(wait=60s\)" .*'
                   r'bypass="whitelist:alice@our\.example<-@partner\.example:'
                   r'not-applied\(spf=none,require_spf=pass\)"')

    def test_whitelist_from_policyctl_counts_at_the_next_request(self):
        # require_spf: "no" (forgeable): partner.example has no SPF.
        d = self.daemon(POLICY.replace("whitelist: {}",
                                       'whitelist: { require_spf: "no" }'))
        s = d.connect()
        mail = dict(client_address="192.0.2.9", sender="bob@partner.example",
                    recipient="alice@our.example")
        self.assertTrue(self.ask(s, **mail).startswith("DEFER_IF_PERMIT"))
        out = self.ctl(d, "whitelist", "add", "--recipient",
                       "Alice@our.example", "--sender", "@partner.example")
        self.assertIn("added: alice@our.example trusts @partner.example", out)
        # No reload: the next request bypasses greylisting.
        self.assertEqual(self.ask(s, **mail), "DUNNO")
        d.wait_log(r"rule=whitelist:alice@our\.example<-@partner\.example ")
        out = self.ctl(d, "check", "--client-address", "192.0.2.9",
                       "--sender", "bob@partner.example", "--recipient",
                       "alice@our.example")
        self.assertIn("decided by: whitelist:alice@our.example<-"
                      "@partner.example", out)
        rows = [json.loads(l) for l in
                self.ctl(d, "whitelist", "list", "--json").splitlines()]
        self.assertEqual(rows, [{"recipient": "alice@our.example",
                                 "sender": "@partner.example"}])
        self.ctl(d, "whitelist", "delete", "--recipient",
                 "alice@our.example", "--sender", "@partner.example")
        self.assertTrue(self.ask(s, **mail).startswith("DEFER_IF_PERMIT"))
        r = subprocess.run([POLICYCTL, "--config", d.config_path,
                            "--state-dir", d.path("state"), "whitelist",
                            "add", "--recipient", "alice", "--sender",
                            "@x.example"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('--recipient: "alice" is neither an address nor '
                      '@domain', r.stderr)
        # Issue 22: a wildcard never matches; refused with what works.
        r = subprocess.run([POLICYCTL, "--config", d.config_path,
                            "--state-dir", d.path("state"), "whitelist",
                            "add", "--recipient", "alice@our.example",
                            "--sender", "*@x.example"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('--sender: "*@x.example" has a wildcard, which never '
                      'matches: write @x.example for every address at '
                      'x.example', r.stderr)

    def test_backscatter_block_from_policyctl_and_warm_up(self):
        d = self.daemon(POLICY)
        s = d.connect()
        # A fresh store has no outbound history: a bounce is no hit.
        s.sendall(request(protocol_state="DATA", client_address="192.0.2.66",
                          sender="", recipient="nobody@our.example",
                          recipient_count="1"))
        self.assertEqual(read_replies(s, 1)[0], "DUNNO")
        d.wait_log(r"backscatter: our users' outbound history does not "
                   r"cover bounce_window yet: detection starts at ")
        out = self.ctl(d, "backscatter", "block", "192.0.2.66", "--for",
                       "2d")
        self.assertIn("blocked 192.0.2.66", out)
        reply = self.ask(s, client_address="192.0.2.66",
                         sender="", recipient="alice@our.example")
        self.assertRegex(reply, r"^554 5\.7\.1 Service unavailable; client "
                         r"192\.0\.2\.66 is blocked since .* UTC until .* "
                         r"UTC because it sent us bounces for mail we never "
                         r"sent \(backscatter\).*contact "
                         r"postmaster@our\.example")
        # Its other mail is deferred, not refused: it waits in its queue.
        reply = self.ask(s, client_address="192.0.2.66",
                         sender="a@x.example", recipient="alice@our.example")
        self.assertRegex(reply, r"^450 4\.7\.1 Service temporarily "
                         r"unavailable; client 192\.0\.2\.66 is blocked "
                         r"until .* UTC because it sent us bounces")
        # The postmaster can still be reached (greylisted like anyone).
        self.assertTrue(self.ask(s, client_address="192.0.2.66",
                                 sender="a@x.example",
                                 recipient="postmaster@our.example")
                        .startswith("DEFER_IF_PERMIT 4.7.1 Greylisted"))
        # policyctl check says why, from the same store.
        out = self.ctl(d, "check", "--client-address", "192.0.2.66",
                       "--sender", "a@x.example", "--recipient",
                       "alice@our.example")
        self.assertIn("decided by: backscatter:deferred(hits=0)", out)
        self.assertRegex(out, r"reply: action=450 4\.7\.1 Service "
                         r"temporarily unavailable")
        rows = [json.loads(l) for l in
                self.ctl(d, "backscatter", "list", "--json").splitlines()]
        self.assertEqual(rows[0]["client"], "192.0.2.66")
        self.assertIsNotNone(rows[0]["blocked_until"])
        stats = {r["table"]: r for r in map(json.loads, self.ctl(
            d, "stats", "--json").splitlines())}
        self.assertEqual(stats["backscatter"]["blocked"], 1)
        self.assertEqual(stats["backscatter"]["records"], 1)
        self.assertIn("whitelist", stats)
        self.ctl(d, "backscatter", "unblock", "192.0.2.66")
        self.assertTrue(self.ask(s, client_address="192.0.2.66",
                                 sender="a@x.example",
                                 recipient="alice@our.example").startswith(
                                     "DEFER_IF_PERMIT"))


if __name__ == "__main__":
    unittest.main()
