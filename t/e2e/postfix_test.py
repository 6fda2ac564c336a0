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


@unittest.skipUnless(os.getuid() == 0, "Postfix's master needs root")
@unittest.skipUnless(shutil.which("postfix") and shutil.which("swaks"),
                     "postfix and swaks are not installed")
class Postfix(unittest.TestCase):
    def setUp(self):
        dns_port = start_dnsd(self, ZONE)
        self.pd = Daemon(POLICY % dns_port, start=False)
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

    def swaks(self, client, sender, rcpt, name="mail.sender.example"):
        r = subprocess.run(
            ["swaks", "--server", "127.0.0.1:%d" % self.smtp_port,
             "--xclient-addr", client, "--xclient-name", name,
             "--helo", name, "--from", sender, "--to", rcpt,
             "--timeout", "30"],
            capture_output=True, text=True, timeout=60)
        return r.stdout + r.stderr

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
