"""postfix_test - end to end: a real Postfix (Debian's package) on
127.0.0.1 asks the real policyd; swaks plays the sending server, with
XCLIENT setting the client address. Postfix runs from a private
configuration and queue in a temporary directory; mail it accepts is
deferred in that queue (never delivered), so the test can read the
headers policyd prepends with postcat. policyd's resolver asks dnsd on
127.0.0.1 (the SPF records); Postfix itself looks nothing up (XCLIENT
gives it the client name). Needs root (Postfix's master)."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
from pdtest import Daemon, start_dnsd  # noqa: E402

MAIN_CF = """
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.e2e.example
mydomain = e2e.example
mydestination = our.example
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = reject_unauth_destination,
    check_policy_service {{ inet:127.0.0.1:{policy_port}, timeout=10s,
    default_action=DUNNO }}
smtpd_data_restrictions =
    check_policy_service {{ inet:127.0.0.1:{policy_port}, timeout=10s,
    default_action=DUNNO }}
default_transport = discard
local_transport = discard
defer_transports = discard
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
smtputf8_enable = no
"""

ZONE = """
sender.example. 0 IN SOA ns.sender.example. h.sender.example. 1 2 3 4 0
sender.example. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 -all"
hard.example. 300 IN TXT "v=spf1 -all exp=why.hard.example"
why.hard.example. 300 IN TXT "%{i} is not a hard.example server"
"""

POLICY = """
listen:
  - inet: 127.0.0.1:0
hostname: policyd.e2e.example
dns:
  nameservers: [127.0.0.1:%d]
  timeout: 500ms
access:
  - name: blocked
    sender: "@blocked.example"
    action: REJECT 5.7.1 Mail from blocked.example is not accepted here
checks:
  greylist:
    delay: 2s
    header: true
    awl_clients: 5
  spf: {}
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


NEEDS = [unittest.skipUnless(os.getuid() == 0, "Postfix's master needs root"),
         unittest.skipUnless(shutil.which("postfix") and shutil.which("swaks"),
                             "postfix and swaks are not installed")]


def needs(cls):
    for d in NEEDS:
        cls = d(cls)
    return cls


# Postfix's answer to a refused RCPT: code, enhanced code, its own prefix.
REPLY = re.compile(r"<\*\* (\d{3}) (\d\.\d{1,3}\.\d{1,3}) <([^>]+)>: "
                   r"Recipient address rejected: (.*)")


class PostfixTest(unittest.TestCase):
    def start(self, zone, policy):
        """dnsd with zone, policyd with policy (%d: dnsd's port), and
        Postfix asking policyd where contrib/postfix/main.cf does."""
        dns_port = start_dnsd(self, zone)
        self.pd = Daemon(policy % dns_port, start=False)
        self.addCleanup(self.pd.close)
        self.pd.start()
        self.tmp = tempfile.mkdtemp(prefix="policyd-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        os.chmod(self.tmp, 0o755)
        d = self.tmp
        for sub in ("conf", "queue", "data"):
            os.mkdir(os.path.join(d, sub))
        shutil.chown(os.path.join(d, "data"), user="postfix")
        self.smtp_port = free_port()
        with open(os.path.join(d, "conf", "main.cf"), "w") as f:
            f.write(MAIN_CF.format(d=d, policy_port=self.pd.port))
        # Debian's master.cf, with smtpd on our port and no chroot.
        with open("/etc/postfix/master.cf") as f:
            master = f.read()
        master = re.sub(r"^smtp(\s+inet\s+\S+\s+\S+\s+)\S+",
                        r"%d\1n" % self.smtp_port, master, count=1,
                        flags=re.M)
        master = re.sub(r"^(\S+\s+(?:unix|inet|fifo|pass|unix-dgram)\s+"
                        r"\S+\s+\S+\s+)y", r"\1n", master, flags=re.M)
        with open(os.path.join(d, "conf", "master.cf"), "w") as f:
            f.write(master)
        self.conf = os.path.join(d, "conf")
        subprocess.run(["postfix", "-c", self.conf, "set-permissions",
                        "create-missing"], capture_output=True)
        r = subprocess.run(["postfix", "-c", self.conf, "start"],
                           capture_output=True, text=True)
        self.addCleanup(self.stop_postfix)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.smtp_port),
                                         timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("postfix did not start: %s %s\n%s"
                                         % (r.stdout, r.stderr,
                                            self.maillog()))
                time.sleep(0.2)

    def stop_postfix(self):
        subprocess.run(["postfix", "-c", self.conf, "stop"],
                       capture_output=True)

    def maillog(self):
        try:
            with open(os.path.join(self.tmp, "maillog")) as f:
                return f.read()
        except OSError:
            return ""

    def swaks(self, client, sender, rcpt, name="mail.sender.example",
              reverse=None, helo=None):
        cmd = ["swaks", "--server", "127.0.0.1:%d" % self.smtp_port,
               "--xclient-addr", client, "--xclient-name", name,
               "--helo", helo or name, "--from", sender, "--to", rcpt,
               "--timeout", "30"]
        if reverse is not None:
            cmd += ["--xclient-reverse-name", reverse]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        return r.stdout + r.stderr

    def refused(self, rcpt, want, **kw):
        out = self.swaks(rcpt=rcpt, **kw)
        lines = [m for m in map(REPLY.match, out.splitlines()) if m]
        self.assertEqual(len(lines), 1, out)
        code, dsn, to, text = lines[0].groups()
        self.assertEqual(to, rcpt)
        # What policyd answered, from its own log line.
        m = self.pd.wait_log(r'decision action="([^"\\]*(?:\\.[^"\\]*)*)" '
                             r'.* rcpt=<%s>' % re.escape(rcpt))[-1]
        action = m.group(1).replace('\\"', '"')
        pcode, pdsn, ptext = re.match(r"(\S+) (\S+) (.*)", action).groups()
        self.assertEqual(code, "450" if pcode == "DEFER_IF_PERMIT"
                         else pcode, out)
        self.assertEqual(dsn, pdsn, "Postfix changed the enhanced code:\n"
                         + out)
        self.assertEqual(text, ptext)
        self.assertNotIn("rejected:", text, "a prefix doubled: " + text)
        self.assertNotIn("127.0.0.1", text)
        self.assertNotRegex(text, r"\b(rdns|fcrdns|helo_dns|dynamic|"
                            r"sender|spf):")
        self.assertRegex(text, want)
        return text

    def headers(self, queue_id):
        """The message's headers from Postfix's queue."""
        deadline = time.monotonic() + 20
        while True:
            r = subprocess.run(["postcat", "-c", self.conf, "-hq", queue_id],
                               capture_output=True, text=True)
            if r.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout


@needs
class Postfix(PostfixTest):
    def setUp(self):
        self.start(ZONE, POLICY)

    def test_greylist_then_accept_with_headers(self):
        out = self.swaks("192.0.2.7", "alice@sender.example",
                         "bob@our.example")
        self.assertRegex(out, r"<\*\* 450 4\.7\.1 <bob@our\.example>: "
                         r"Recipient address rejected: Greylisted: .*try "
                         r"again in 2 seconds")
        time.sleep(2.2)
        # The retry comes from another /24 that sender.example's SPF
        # record authorizes: the same sender pool, accepted.
        out = self.swaks("198.51.100.8", "alice@sender.example",
                         "bob@our.example")
        m = re.search(r"<-  250 2\.0\.0 Ok: queued as (\w+)", out)
        self.assertIsNotNone(m, out)
        # Both of policyd's headers, each exactly once: the SPF result on
        # the RCPT reply, X-Greylist on the DATA reply.
        text = self.headers(m.group(1))
        spf = [l for l in text.splitlines() if l.startswith("Received-SPF:")]
        grey = [l for l in text.splitlines() if l.startswith("X-Greylist:")]
        self.assertEqual(len(spf), 1, text)
        self.assertEqual(len(grey), 1, text)
        self.assertEqual(spf[0], "Received-SPF: pass (policyd.e2e.example: "
                         "domain of alice@sender.example designates "
                         "198.51.100.8 as permitted sender) "
                         "client-ip=198.51.100.8; "
                         "envelope-from=\"alice@sender.example\"; "
                         "helo=mail.sender.example; "
                         "receiver=policyd.e2e.example; identity=mailfrom")
        self.assertRegex(grey[0], r"^X-Greylist: delayed [23] seconds by "
                         r"policyd at policyd\.e2e\.example; ")
        self.pd.wait_log(r"rule=\"greylist:pass\(delayed=[23]s,"
                         r"key=spf:sender\.example\)\" "
                         r"client=198\.51\.100\.8 client_name=mail\.sender\."
                         r"example helo=mail\.sender\.example "
                         r"sender=<alice@sender\.example> "
                         r"rcpt=<bob@our\.example>")

    def test_spf_fail_is_refused_with_the_explanation(self):
        out = self.swaks("203.0.113.5", "eve@hard.example", "bob@our.example",
                         name="mail.hard.example")
        self.assertIn("<** 550 5.7.23 <bob@our.example>: Recipient address "
                      "rejected: SPF fail: hard.example does not allow "
                      "203.0.113.5 to send mail for <eve@hard.example>; "
                      "hard.example says: 203.0.113.5 is not a hard.example "
                      "server", out)

    def test_access_rule_rejects_before_greylisting(self):
        out = self.swaks("198.51.100.9", "spam@blocked.example",
                         "bob@our.example")
        self.assertIn("<** 554 5.7.1 <bob@our.example>: Recipient address "
                      "rejected: Mail from blocked.example is not accepted "
                      "here", out)
        self.pd.wait_log(r"rule=blocked client=198\.51\.100\.9")

    def test_policyd_down_mail_still_flows(self):
        self.assertEqual(self.pd.stop(), 0)
        out = self.swaks("203.0.113.5", "carol@sender.example",
                         "bob@our.example")
        self.assertRegex(out, r"<-  250 2\.0\.0 Ok: queued as \w+")


REFUSAL_ZONE = """
sender.example. 0 IN SOA ns.sender.example. h.sender.example. 1 2 3 4 0
sender.example. 300 IN MX 10 mail.sender.example.
sender.example. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
mail.sender.example. 300 IN A 192.0.2.30
30.2.0.192.in-addr.arpa. 300 IN PTR mail.sender.example.
soft.example. 300 IN MX 10 mail.sender.example.
soft.example. 300 IN TXT "v=spf1 ~all"
nullmx.example. 300 IN MX 0 .
mx.other.example. 300 IN A 198.51.100.40
40.100.51.198.in-addr.arpa. 300 IN PTR mx.other.example.
50.100.51.198.in-addr.arpa. 300 IN PTR elsewhere.other.example.
elsewhere.other.example. 300 IN A 203.0.113.99
!servfail broken.example.
!servfail 60.2.0.192.in-addr.arpa.
"""

REFUSAL_POLICY = """
listen:
  - inet: 127.0.0.1:0
hostname: policyd.e2e.example
dns:
  nameservers: [127.0.0.1:%d]
  timeout: 500ms
checks:
  greylist: { enabled: false }
  helo: { on_fail: reject }
  dynamic: { on_fail: reject }
  rdns: { on_fail: reject }
  fcrdns: { on_fail: { score: 2 } }
  helo_dns: { on_fail: { score: 2 } }
  sender: { on_fail: reject }
  spf: {}
scores: { reject: 5 }
"""

@needs
class Refusals(PostfixTest):
    """Review 8: every refusal policyd sends at the stage where
    contrib/postfix/main.cf asks it (smtpd_recipient_restrictions)
    reaches the client with the code policyd chose (Postfix rewrote a
    sender's 5.1.8 to 5.1.2 there), with Postfix's one prefix (policyd's
    own "Sender address rejected:" doubled it), and with none of
    policyd's internals (the resolver's address, check names)."""

    def setUp(self):
        self.start(REFUSAL_ZONE, REFUSAL_POLICY)

    def test_every_refusal_keeps_its_code_and_says_what_to_fix(self):
        good = dict(client="192.0.2.30", name="mail.sender.example",
                    reverse="mail.sender.example")
        self.refused("c1@our.example", r"^Client 203\.0\.113\.20 has no "
                     r"reverse DNS \(PTR\) record; ask the owner",
                     client="203.0.113.20", name="[UNAVAILABLE]",
                     reverse="[UNAVAILABLE]", helo="mail.sender.example",
                     sender="a@sender.example")
        self.refused("c2@our.example", r"HELO/EHLO is wrong \(HELO "
                     r"192\.0\.2\.30 is a bare IP address",
                     helo="192.0.2.30", sender="a@sender.example", **good)
        self.refused("c3@our.example", r"^Client 198\.51\.100\.23: PTR "
                     r"name dyn-198-51-100-23\.isp\.example looks like a "
                     r"dial-in", client="198.51.100.23",
                     name="dyn-198-51-100-23.isp.example",
                     reverse="dyn-198-51-100-23.isp.example",
                     helo="mail.sender.example", sender="a@sender.example")
        self.refused("c4@our.example", r"^The envelope sender is not "
                     r"usable: sender domain nx\.sender\.example does not "
                     r"exist", sender="a@nx.sender.example", **good)
        self.refused("c5@our.example", r"null MX \(RFC 7505\)",
                     sender="a@nullmx.example", **good)
        self.refused("c6@our.example", r"^SPF fail: sender\.example does "
                     r"not allow 198\.51\.100\.40 to send mail",
                     client="198.51.100.40", name="mx.other.example",
                     reverse="mx.other.example", sender="a@sender.example")
        self.refused("c7@our.example", r"^SPF temperror: the SPF record of "
                     r"broken\.example could not be checked",
                     sender="a@broken.example", **good)
        self.refused("c9@our.example", r"^The reverse DNS \(PTR\) of client "
                     r"192\.0\.2\.60 could not be looked up just now; "
                     r"please try again later$", client="192.0.2.60",
                     name="[UNAVAILABLE]", reverse="[UNAVAILABLE]",
                     helo="mail.sender.example", sender="a@sender.example")
        text = self.refused("c8@our.example", r"does not resolve back",
                            client="198.51.100.50", name="[UNAVAILABLE]",
                            reverse="elsewhere.other.example",
                            helo="nx.other.example", sender="a@soft.example")
        self.assertIn("SPF softfail", text)
        self.pd.wait_log(r'rule=score .*rcpt=<c8@our\.example>')

@needs
class RefusalLinks(PostfixTest):
    """refusal_url: the link reaches the client whole, through Postfix,
    after the text that says what to fix; a deferral links too."""

    def setUp(self):
        self.start(REFUSAL_ZONE, REFUSAL_POLICY.replace(
            "hostname: policyd.e2e.example",
            "hostname: policyd.e2e.example\n"
            "refusal_url: https://mx.our.example/refused.html"))

    def test_refusal_links_to_its_section_through_postfix(self):
        self.refused("l1@our.example", r"^Client 203\.0\.113\.20 has no "
                     r"reverse DNS \(PTR\) record; ask the owner of this IP "
                     r"address to publish one \(see "
                     r"https://mx\.our\.example/refused\.html#rdns\)$",
                     client="203.0.113.20", name="[UNAVAILABLE]",
                     reverse="[UNAVAILABLE]", helo="mail.sender.example",
                     sender="a@sender.example")
        self.refused("l2@our.example", r"please try again later \(see "
                     r"https://mx\.our\.example/refused\.html#tempfail\)$",
                     client="192.0.2.60", name="[UNAVAILABLE]",
                     reverse="[UNAVAILABLE]", helo="mail.sender.example",
                     sender="a@sender.example")

LISTS_ZONE = """
2.0.0.127.bl.test. 60 IN A 127.0.0.2
7.2.0.192.bl.test. 60 IN A 127.0.0.4
8.2.0.192.bl.test. 60 IN A 127.0.0.4
2.0.0.127.wl.test. 60 IN A 127.0.10.3
8.2.0.192.wl.test. 60 IN A 127.0.15.3
friend.example. 60 IN TXT "v=spf1 ip4:192.0.2.7 -all"
forger.example. 60 IN TXT "v=spf1 ip4:198.51.100.0/24 ~all"
"""

LISTS_POLICY = """
listen:
  - inet: 127.0.0.1:0
hostname: policyd.e2e.example
dns:
  nameservers: [127.0.0.1:%d]
  timeout: 500ms
checks:
  greylist: { enabled: false }
  spf: { header: none, softfail: log }
  dnsbl:
    lists:
      - zone: bl.test
        name: Test ZEN
        url: https://check.bl.test/
        reject: true
        codes:
          - { code: "127.0.0.[4..7]", label: "XBL: exploited host" }
      - zone: wl.test
        name: Test WL
        decisive: true
        codes:
          - { code: "127.0.[0..255].3", weight: -5, label: high trust }
  whitelist:
    entries:
      - { recipient: l3@our.example, sender: "@friend.example" }
      - { recipient: l3@our.example, sender: "@forger.example" }
  backscatter: { contact: postmaster@our.example }
"""


@needs
class Lists(PostfixTest):
    """Issue 12: a listed client is refused with the list's name and how
    to get removed; a listed client on an allowlist that decides passes."""

    def setUp(self):
        self.start(LISTS_ZONE, LISTS_POLICY)
        self.pd.wait_log(r"dnsbl: Test ZEN passed its self-test")

    def test_listed_refused_allowlisted_passes(self):
        text = self.refused(
            "l1@our.example", r"^Service unavailable; client 192\.0\.2\.7 "
            r"is listed at Test ZEN \(XBL: exploited host\); see "
            r"https://check\.bl\.test/ - ask the list's operator, not "
            r"us, for removal$", client="192.0.2.7", name="mail.bad.example",
            sender="a@bad.example")
        self.assertNotIn("bl.test ", text)
        out = self.swaks("192.0.2.8", "a@good.example", "l2@our.example",
                         name="mail.good.example")
        self.assertRegex(out, r"<-  250 2\.0\.0 Ok: queued as \w+")
        self.pd.wait_log(r"decision action=DUNNO .*client=192\.0\.2\.8 .*"
                         r"dnsbl:pass-5")
        # Issue 13: the recipient trusts the sender: its mail from the
        # listed client is delivered.
        out = self.swaks("192.0.2.7", "a@friend.example", "l3@our.example",
                         name="mail.friend.example")
        self.assertRegex(out, r"<-  250 2\.0\.0 Ok: queued as \w+")
        self.pd.wait_log(r"rule=whitelist:l3@our\.example<-@friend\.example "
                         r"client=192\.0\.2\.7 ")
        # Issue 22: a sender SPF does not prove (~all: softfail) is
        # judged like anyone's: refused by the listing.
        self.refused("l3@our.example", r"^Service unavailable; client "
                     r"192\.0\.2\.7 is listed at Test ZEN",
                     client="192.0.2.7", name="mail.forger.example",
                     sender="a@forger.example")
        self.pd.wait_log(r'bypass="whitelist:l3@our\.example<-@forger\.'
                         r'example:not-applied\(spf=softfail,'
                         r'require_spf=pass\)"')

    def test_blocked_backscatter_source_refused_postmaster_reachable(self):
        """Issue 13: a client blocked for backscatter (here by policyctl:
        a fresh run has no week of outbound history to judge bounces
        by) is refused with since, until and whom to contact; mail to
        postmaster@ still gets through."""
        r = subprocess.run([os.environ.get("POLICYCTL", "policyctl"),
                            "--config", self.pd.config_path, "--state-dir",
                            self.pd.path("state"), "backscatter", "block",
                            "192.0.2.99"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.refused("l4@our.example", r"^Service unavailable; client "
                     r"192\.0\.2\.99 is blocked since \S+ \S+ UTC until "
                     r"\S+ \S+ UTC because it sent us bounces for mail we "
                     r"never sent \(backscatter\); .*contact "
                     r"postmaster@our\.example", client="192.0.2.99",
                     name="mail.bouncer.example", sender="<>")
        out = self.swaks("192.0.2.99", "a@bouncer.example",
                         "postmaster@our.example", name="mail.bouncer.example")
        self.assertRegex(out, r"<-  250 2\.0\.0 Ok: queued as \w+")

    def test_backscatter_source_refused_after_its_bounce(self):
        """Issue 13: with our users' outbound history imported from a
        Postfix mail log (policyctl outbound import-log), a bounce at DATA
        to a local user who sent nothing is backscatter. Issue 22: one
        such bounce blocks nobody; the third distinct recipient within a
        day does: that DATA is refused, the client's next bounce too, and
        its other mail is deferred, at RCPT."""
        now = time.time()
        old = time.strftime("%Y-%m-%dT%H:%M:%S+00:00",
                            time.gmtime(now - 8 * 86400))
        log = os.path.join(self.tmp, "old-mail.log")
        with open(log, "w") as f:
            # A log up to now, without a gap: issue 22 starts detection
            # only on history that reaches the present.
            t = now - 9 * 86400
            recent = time.strftime("%Y-%m-%dT%H:%M:%S+00:00",
                                   time.gmtime(now - 3600))
            # Our users' mail passes policyd: one of theirs an hour ago.
            f.write(f"{recent} mx postfix/qmgr[9]: 5A1B2C3D4E: "
                    "from=<dave@our.example>, size=9, nrcpt=1 (queue "
                    "active)\n"
                    f"{recent} mx postfix/smtp[10]: 5A1B2C3D4E: "
                    "to=<erin@remote.example>, relay=mx.remote.example"
                    "[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent "
                    "(250 ok)\n")
            while t < now:
                f.write(time.strftime("%Y-%m-%dT%H:%M:%S+00:00",
                                      time.gmtime(t)) +
                        " mx postfix/anvil[8]: statistics: max connection "
                        "rate 1/60s\n")
                t += 3600
            f.write(f"{old} mx postfix/qmgr[9]: 4F1A2B3C4D: "
                    "from=<alice@our.example>, size=9, nrcpt=1 (queue "
                    "active)\n"
                    f"{old} mx postfix/smtp[10]: 4F1A2B3C4D: "
                    "to=<bob@remote.example>, relay=mx.remote.example"
                    "[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent "
                    "(250 ok)\n")
        r = subprocess.run([os.environ.get("POLICYCTL", "policyctl"),
                            "--config", self.pd.config_path, "--state-dir",
                            self.pd.path("state"), "outbound", "import-log",
                            log, "--domain", "our.example"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("imported 2 deliveries", r.stdout)
        self.assertIn("backscatter detection: live", r.stdout)
        for rcpt in ("nobody1@our.example", "nobody2@our.example"):
            out = self.swaks("192.0.2.98", "<>", rcpt,
                             name="mail.bouncer.example")
            self.assertRegex(out, r"<-  250 2\.0\.0 Ok: queued as \w+")
        out = self.swaks("192.0.2.98", "<>", "nobody3@our.example",
                         name="mail.bouncer.example")
        self.assertRegex(out, r"<\*\* 554 5\.7\.1 .*Service unavailable; "
                         r"client 192\.0\.2\.98 is blocked since \S+ \S+ "
                         r"UTC until \S+ \S+ UTC because it sent us bounces "
                         r"for mail we never sent \(backscatter\)")
        self.assertNotRegex(out, r"queued as")
        self.pd.wait_log(r"backscatter: 192\.0\.2\.98 bounced to "
                         r"nobody3@our\.example, who sent nothing: 3 of 3 "
                         r"distinct recipients within hit_window; blocked")
        self.refused("l5@our.example", r"^Service unavailable; client "
                     r"192\.0\.2\.98 is blocked since", client="192.0.2.98",
                     name="mail.bouncer.example", sender="<>")
        # Its other mail waits in its queue for the block's end.
        self.refused("l6@our.example", r"^Service temporarily unavailable; "
                     r"client 192\.0\.2\.98 is blocked until \S+ \S+ UTC "
                     r"because it sent us bounces .*not a bounce",
                     client="192.0.2.98", name="mail.bouncer.example",
                     sender="a@bouncer.example")


if __name__ == "__main__":
    unittest.main(verbosity=2)
