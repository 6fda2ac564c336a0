"""greylist_test - greylisting through the real daemon with a short delay;
policyctl against the running daemon; store trouble; kill -9; postgrey
import from a database made by Debian's postgrey itself."""
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

from pdtest import (BDB_PANIC_ENV, DaemonTest, read_replies, request,
                    start_dnsd)

POLICYCTL = os.environ.get("POLICYCTL", "policyctl")

POLICY = """
listen:
  - inet: 127.0.0.1:0
hostname: mx.test.example
checks:
  greylist:
    delay: 1s
    header: true
    awl_clients: %d
    awl_domains: 0
    sweep_interval: 200ms
%s
"""


def ask_rcpt(sock, client, sender, rcpt, instance="I1"):
    sock.sendall(request(protocol_state="RCPT", client_address=client,
                         client_name="unknown", sender=sender,
                         recipient=rcpt, instance=instance))
    return read_replies(sock, 1)[0]


class CtlTest(DaemonTest):
    def ctl(self, d, *args, check=True):
        r = subprocess.run([POLICYCTL, "-c", d.config_path, "--state-dir",
                            d.path("state")] + list(args),
                           capture_output=True, text=True, timeout=30)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r


class Greylisting(CtlTest):
    def test_sequence_defer_pass_awl(self):
        d = self.daemon(POLICY % (1, ""))
        s = d.connect()
        a = ask_rcpt(s, "192.0.2.10", "alice@example.org", "u@our.example")
        self.assertRegex(a, r"^DEFER_IF_PERMIT 4\.7\.1 Greylisted: .*try "
                         r"again in 1 seconds$")
        self.assertTrue(ask_rcpt(s, "192.0.2.10", "alice@example.org",
                                 "u@our.example").startswith(
            "DEFER_IF_PERMIT 4.7.1"))
        time.sleep(1.1)
        # The retry passes, from a neighbour; the header comes once.
        a = ask_rcpt(s, "192.0.2.11", "alice@example.org", "u@our.example",
                     instance="I2")
        self.assertRegex(a, r"^PREPEND X-Greylist: delayed [12] seconds by "
                         r"policyd at mx\.test\.example; \w{3}, \d\d \w{3} "
                         r"\d{4} \d\d:\d\d:\d\d \+0000$")
        d.wait_log(r'rule="greylist:pass\(delayed=[12]s\)"')
        # awl_clients: 1 - the network is whitelisted after one pass.
        self.assertEqual(ask_rcpt(s, "192.0.2.99", "bob@other.example",
                                  "v@our.example", instance="I3"), "DUNNO")
        d.wait_log(r"rule=greylist:awl-client client=192\.0\.2\.99")
        # Another network is still greylisted; IPv6 too, by /64.
        self.assertTrue(ask_rcpt(s, "198.51.100.1", "alice@example.org",
                                 "u@our.example").startswith("DEFER"))
        self.assertTrue(ask_rcpt(s, "2001:db8:1:2::1", "a@b.example",
                                 "u@our.example").startswith("DEFER"))
        time.sleep(1.1)
        self.assertTrue(ask_rcpt(s, "2001:db8:1:2::ffff", "a@b.example",
                                 "u@our.example", instance="I9")
                        .startswith("PREPEND X-Greylist:"))
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_policyctl_against_running_daemon(self):
        d = self.daemon(POLICY % (5, ""))
        s = d.connect()
        # Times are whole seconds and the delay is 1 s: five requests
        # that straddle a second's turn pass the triplet (first seen at
        # :50, the fifth at :51). Start just after a turn.
        time.sleep(1.02 - time.time() % 1)
        for i in range(5):
            ask_rcpt(s, "192.0.2.%d" % i, "bounce-%d@list.example" % i,
                     "u@our.example")
        ask_rcpt(s, "198.51.100.7", "x@spam.example", "u@our.example")
        ask_rcpt(s, "198.51.100.7", "", "postmaster@our.example")
        r = self.ctl(d, "greylist", "list")
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r"^CLIENT\s+SENDER\s+RECIPIENT\s+STATE\s+"
                         r"FIRST_SEEN\s+LAST_SEEN\s+COUNT\s+LAST_CLIENT$")
        # The five senders fold into one (digits); null sender shown <>.
        # Its count is 2: the entry's first two requests are written, the
        # three that follow within the minute only read it (a triplet's
        # count counts a request a minute; it said 5 when every request
        # rewrote the entry).
        self.assertEqual(len(lines), 4, r.stdout)
        self.assertRegex(r.stdout, r"192\.0\.2\.0/24\s+bounce-#@list\.example\s+"
                         r"u@our\.example\s+pending\s+\S+Z\s+\S+Z\s+2\s+"
                         r"-\n")
        self.assertRegex(r.stdout, r"198\.51\.100\.0/24\s+<>\s+"
                         r"postmaster@our\.example")
        rows = [json.loads(l) for l in
                self.ctl(d, "greylist", "list", "--json").stdout.splitlines()]
        self.assertEqual(len(rows), 3)
        self.assertEqual({r["state"] for r in rows}, {"pending"})
        self.assertEqual(sorted(r["client"] for r in rows),
                         ["192.0.2.0/24", "198.51.100.0/24",
                          "198.51.100.0/24"])
        self.assertIsNone(rows[0]["passed_at"])
        # Filters.
        r = self.ctl(d, "greylist", "list", "--json", "--client",
                     "198.51.100.7", "--sender", "*@SPAM.example")
        self.assertEqual(len(r.stdout.splitlines()), 1)
        r = self.ctl(d, "greylist", "list", "--json", "--sender", "<>")
        self.assertEqual(json.loads(r.stdout)["recipient"],
                         "postmaster@our.example")
        self.assertEqual(self.ctl(d, "greylist", "list", "--passed",
                                  "--json").stdout, "")
        # Delete one; the daemon then sees it as new.
        r = self.ctl(d, "greylist", "delete", "--sender", "x@spam.example")
        self.assertEqual(r.stdout.strip(), "deleted 1 greylist entries")
        time.sleep(1.1)
        self.assertTrue(ask_rcpt(s, "198.51.100.7", "x@spam.example",
                                 "u@our.example").startswith("DEFER"))
        d.wait_log(r'rule="greylist:new\(wait=1s\)" client=198\.51\.100\.7 '
                   r'.*sender=<x@spam\.example>', count=2)
        # The others pass after the delay, as usual.
        self.assertTrue(ask_rcpt(s, "192.0.2.200", "bounce-9@list.example",
                                 "u@our.example").startswith("PREPEND"))
        # stats
        st = {j["table"]: j for j in map(json.loads, self.ctl(
            d, "stats", "--json").stdout.splitlines())}
        self.assertEqual(st["greylist"]["records"], 3)
        self.assertEqual(st["greylist"]["passed"], 1)
        self.assertEqual(st["awl_client"]["records"], 1)
        self.assertRegex(self.ctl(d, "stats").stdout,
                         r"greylist\s+3\s+2\s+1\s+\S+Z\s+\S+Z")
        # awl add: the daemon stops greylisting that network at once.
        self.assertEqual(self.ctl(d, "awl", "add", "--client",
                                  "203.0.113.9").stdout.strip(),
                         "added 203.0.113.0/24")
        self.assertEqual(ask_rcpt(s, "203.0.113.50", "n@new.example",
                                  "u@our.example"), "DUNNO")
        r = self.ctl(d, "awl", "list", "--json")
        # A client's row has domain null: every row the same keys.
        self.assertIn('"client":"203.0.113.0/24","domain":null,"count":5,'
                      '"whitelisted":true', r.stdout)
        self.assertEqual(self.ctl(d, "awl", "delete", "--client",
                                  "203.0.113.0/24").stdout.strip(),
                         "deleted 203.0.113.0/24")
        self.assertTrue(ask_rcpt(s, "203.0.113.50", "n2@new.example",
                                 "u@our.example").startswith("DEFER"))
        # flush; verify while the daemon runs.
        self.assertEqual(self.ctl(d, "greylist", "flush", "--older-than",
                                  "1h").stdout.strip(),
                         "deleted 0 greylist entries")
        r = self.ctl(d, "greylist", "flush", "--all")
        self.assertEqual(r.stdout.strip(), "deleted 4 greylist entries")
        self.assertEqual(self.ctl(d, "greylist", "list", "--json").stdout,
                         "")
        self.assertIn("every table is sound", self.ctl(d, "db",
                                                       "verify").stdout)
        self.assertTrue(ask_rcpt(s, "192.0.2.200", "bounce-9@list.example",
                                 "u@our.example").startswith("DEFER"))
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_policyctl_bad_arguments(self):
        d = self.daemon(POLICY % (5, ""), start=False)
        os.mkdir(d.path("state"))
        cases = [
            (["greylist"], "greylist: needs list, delete or flush"),
            (["greylist", "show"], 'greylist: unknown command "show"'),
            (["greylist", "list", "--client", "10.0.0.1/8"],
             '--client: "10.0.0.1/8" has host bits set'),
            (["greylist", "list", "--pending", "--passed"],
             "--pending and --passed exclude each other"),
            (["greylist", "delete"], "greylist delete: needs --client"),
            (["greylist", "flush"], "needs either --older-than DURATION or "
             "--all"),
            (["greylist", "flush", "--older-than", "5x"],
             '--older-than: "5x" is not a duration'),
            (["awl", "add"], "awl add: needs --client"),
            (["awl", "add", "--client", "192.0.2.0/16"],
             "greylisting groups IPv4 clients by /24"),
            (["awl", "add", "--client", "1.2.3.4", "--domain", "a..b"],
             '--domain: "a..b" is not a domain name'),
            (["stats", "extra"], 'stats: unexpected argument "extra"'),
            (["frobnicate"], 'unknown command "frobnicate"'),
            (["db", "check"], 'db: unknown command "check" (verify, '
             'state)'),
        ]
        for args, msg in cases:
            r = self.ctl(d, *args, check=False)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(msg, r.stderr, args)
        r = self.ctl(d, "awl", "delete", "--client", "192.0.2.1",
                     check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("192.0.2.0/24 is not in the auto-whitelist", r.stderr)
        r = subprocess.run([POLICYCTL, "--state-dir", d.path("nowhere"),
                            "stats"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("nowhere: No such file or directory", r.stderr)

    def test_kill_9_under_load_loses_nothing_answered(self):
        # Issue 25: the store's writes of a loop turn are committed
        # together and the replies go out after them (group commit). A
        # reply must never go out before what it says is kept: kill -9
        # in mid-load, then every triplet a client got an answer for is
        # in the store.
        d = self.daemon(POLICY % (5, ""))
        answered = []
        lock = threading.Lock()
        stop = threading.Event()

        def client(n):
            s = d.connect()
            i = 0
            try:
                while not stop.is_set():
                    rcpt = "c%d-%d@our.example" % (n, i)
                    s.sendall(request(protocol_state="RCPT",
                                      client_address="192.0.2.%d" % (n + 1),
                                      client_name="unknown",
                                      sender="s@x.example", recipient=rcpt,
                                      instance="c%d-%d" % (n, i)))
                    if read_replies(s, 1, timeout=5):
                        with lock:
                            answered.append(rcpt)
                    i += 1
            except (OSError, AssertionError, IndexError):
                pass  # the daemon is gone
            finally:
                s.close()
        threads = [threading.Thread(target=client, args=(n,))
                   for n in range(8)]
        for t in threads:
            t.start()
        time.sleep(0.8)
        d.proc.kill()
        d.proc.wait()
        stop.set()
        for t in threads:
            t.join(timeout=10)
        with lock:
            got = list(answered)
        self.assertGreater(len(got), 50)
        rows = self.ctl(d, "greylist", "list", "--json").stdout.splitlines()
        kept = {json.loads(r)["recipient"] for r in rows}
        lost = [r for r in got if r not in kept]
        self.assertEqual(lost, [], "%d of %d answered triplets lost"
                         % (len(lost), len(got)))

    def test_kill_9_loses_nothing(self):
        d = self.daemon(POLICY % (5, ""))
        s = d.connect()
        for i in range(50):
            ask_rcpt(s, "192.0.2.1", "s%s@x.example" % chr(97 + i % 26) * 2,
                     "r%d@our.example" % i)
        d.proc.kill()
        d.proc.wait()
        rows = self.ctl(d, "greylist", "list", "--json").stdout.splitlines()
        self.assertEqual(len(rows), 50)
        d.start()
        time.sleep(1.0)
        s = d.connect()
        self.assertTrue(ask_rcpt(s, "192.0.2.1", "sa@x.examplesa@x.example",
                                 "r0@our.example").startswith("PREPEND"))
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_store_trouble_and_recovery(self):
        d = self.daemon(POLICY % (5, "    on_error: defer"), start=False)
        # The state directory is a file: the store cannot open.
        with open(d.path("state"), "w") as f:
            f.write("not a directory\n")
        d.start()
        d.wait_log(r"error: store: .*state.*greylisting answers defer")
        s = d.connect()
        self.assertEqual(ask_rcpt(s, "192.0.2.1", "a@b.example", "u@x.example"),
                         "DEFER_IF_PERMIT 4.3.0 Greylisting is temporarily "
                         "unavailable, please try again later")
        # Logged once per interval, not per request.
        for _ in range(20):
            ask_rcpt(s, "192.0.2.1", "a@b.example", "u@x.example")
        self.assertEqual(len(re.findall(r"error: store:", d.log_text())), 1)
        # The cause goes away: the daemon recovers by itself.
        os.unlink(d.path("state"))
        os.mkdir(d.path("state"))
        d.wait_log(r"store: .*state is open again", timeout=10)
        self.assertTrue(ask_rcpt(s, "192.0.2.1", "a@b.example", "u@x.example")
                        .startswith("DEFER_IF_PERMIT 4.7.1 Greylisted"))
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_store_trouble_says_what_every_module_does_meanwhile(self):
        # The keeper's line spoke only of greylisting's on_error, while
        # backscatter blocks, policyctl's whitelist entries and our
        # users' outbound records are as much out of reach.
        d = self.daemon(POLICY % (5, "  backscatter: {}\n  whitelist: {}\n"
                                      "  outbound: { local_domains: "
                                      "[our.example] }"), start=False)
        with open(d.path("state"), "w") as f:
            f.write("not a directory\n")
        d.start()
        d.wait_log(r"error: store: cannot open .*; until it opens, "
                   r"greylisting answers dunno, our users' mail is not "
                   r"recorded, backscatter blocks are not enforced, "
                   r"whitelist entries from policyctl do not apply$")
        self.assertEqual(d.stop(), 0)

    def test_corrupt_database(self):
        d = self.daemon(POLICY % (5, ""))
        s = d.connect()
        for i in range(200):
            ask_rcpt(s, "192.0.2.1", "a%d@b.example" % i, "u@x.example")
        s.close()
        self.assertEqual(d.stop(), 0)
        # As after a reboot that cleared the environment's regions: the
        # pages come from the file, not from the shared cache.
        for n in os.listdir(d.path("state")):
            if n.startswith("__db."):
                os.unlink(d.path("state/" + n))
        path = d.path("state/greylist.db")
        with open(path, "r+b") as f:
            f.seek(4096)
            f.write(os.urandom(8192))
        # Whatever Berkeley DB makes of it: no crash, never a rejection.
        # (Berkeley DB itself leaks a little when it closes after a panic.)
        d.start(env=BDB_PANIC_ENV)
        s = d.connect()
        for i in range(200):
            a = ask_rcpt(s, "192.0.2.1", "a%d@b.example" % i, "u@x.example")
            self.assertRegex(a, r"^(DUNNO|DEFER_IF_PERMIT 4\.7\.1 .*|"
                             r"PREPEND .*)$")
        self.assertIsNone(d.proc.poll())
        d.wait_log(r"error: store: .*greylist\.db")
        r = self.ctl(d, "db", "verify", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("db verify: greylist.db", r.stderr)
        s.close()
        self.assertEqual(d.stop(), 0)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@unittest.skipUnless(shutil.which("postgrey"), "postgrey is not installed")
class Postgrey(CtlTest):
    def test_import_postgrey(self):
        # SPF passes for example.org from 192.0.2.5: policyd keys the
        # triplet on its pool (spf:example.org), postgrey on the network.
        dns = start_dnsd(self, 'example.org. 60 IN TXT '
                               '"v=spf1 ip4:192.0.2.0/24 -all"\n')
        d = self.daemon(POLICY % (5, "  spf: { header: none }\n"
                                     "dns:\n  nameservers: [127.0.0.1:%d]\n"
                                     % dns), start=False)
        pgdir = d.path("postgrey")
        os.mkdir(pgdir)
        os.chmod(d.dir, 0o755)  # postgrey runs as its own user
        user = pwd.getpwuid(os.getuid()).pw_name
        if os.getuid() == 0:
            user = "postgrey"
            shutil.chown(pgdir, user="postgrey")
        port = free_port()
        pg = subprocess.Popen(
            ["postgrey", "--inet=127.0.0.1:%d" % port, "--dbdir=" + pgdir,
             "--delay=1", "--auto-whitelist-clients=1", "--user=" + user,
             "--group=" + user],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: pg.poll() is None and pg.kill())
        deadline = time.monotonic() + 20
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or pg.poll() is not None:
                    raise AssertionError(pg.stderr.read().decode())
                time.sleep(0.1)
        t0 = int(time.time())
        self.assertTrue(ask_rcpt(s, "192.0.2.5", "alice@example.org",
                                 "u@our.example").startswith("DEFER"))
        self.assertTrue(ask_rcpt(s, "198.51.100.9", "bob@example.net",
                                 "v@our.example").startswith("DEFER"))
        time.sleep(2.1)
        self.assertTrue(ask_rcpt(s, "192.0.2.5", "alice@example.org",
                                 "u@our.example").startswith("PREPEND"))
        s.close()
        # postgrey (Net::Server) now and then ignores SIGTERM; a kill is
        # what a crash looks like, and the import runs its recovery.
        pg.send_signal(signal.SIGTERM)
        try:
            pg.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pg.kill()
            pg.wait()
        r = self.ctl(d, "import-postgrey", pgdir)
        self.assertEqual(r.stdout.strip(),
                         "imported 2 triplets (1 passed), 1 auto-whitelisted "
                         "clients; left out 0 expired, 0 unreadable, 0 older "
                         "than ours")
        rows = {r["sender"]: r for r in map(json.loads, self.ctl(
            d, "greylist", "list", "--json").stdout.splitlines())}
        self.assertEqual(rows["alice@example.org"]["state"], "passed")
        self.assertEqual(rows["alice@example.org"]["client"], "192.0.2.0/24")
        self.assertEqual(rows["bob@example.net"]["state"], "pending")
        first = time.strptime(rows["bob@example.net"]["first_seen"],
                              "%Y-%m-%dT%H:%M:%SZ")
        self.assertLessEqual(abs(time.mktime(first) - time.timezone - t0), 3)
        # The daemon takes over: alice's triplet is not greylisted again,
        # although policyd keys it on her SPF pool, postgrey on the
        # network (issue 22: the network's entry is carried over).
        d.start()
        s = d.connect()
        self.assertEqual(ask_rcpt(s, "192.0.2.5", "alice@example.org",
                                  "u@our.example"), "DUNNO")
        d.wait_log(r'rule="greylist:known\(key=spf:example\.org\)" '
                   r'client=192\.0\.2\.5')
        # "Why was 192.0.2.5 delayed?": the pool entry keeps the address.
        rows = [json.loads(l) for l in self.ctl(
            d, "greylist", "list", "--client", "192.0.2.5",
            "--json").stdout.splitlines()]
        self.assertEqual({(r["client"], r["last_client"]) for r in rows},
                         {("spf:example.org", "192.0.2.5"),
                          ("192.0.2.0/24", None)})
        s.close()
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
