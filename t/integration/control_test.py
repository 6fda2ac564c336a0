"""control_test - one owner of the state: policyctl through the daemon's
control socket (and offline only with the store to itself), hostile
control clients, and a store that heals itself."""
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import unittest

from pdtest import BDB_PANIC_ENV, DaemonTest, ask, read_replies, request

POLICYCTL = os.environ.get("POLICYCTL", "policyctl")
STORELOCK = os.environ.get("STORELOCK", "storelock")

POLICY = """
listen:
  - inet: 127.0.0.1:0
hostname: mx.test.example
checks:
  greylist:
    delay: 1s
    header: true
    awl_clients: 5
    awl_domains: 0
    sweep_interval: 200ms
control:
  idle_timeout: 1s
  max_connections: 3
"""

STORE_TROUBLE = re.compile(r"error: store|RUNRECOVERY|PANIC|BDB\d+")


def ask_rcpt(sock, client, sender, rcpt="u@our.example"):
    sock.sendall(request(protocol_state="RCPT", client_address=client,
                         client_name="unknown", sender=sender,
                         recipient=rcpt))
    return read_replies(sock, 1)[0]


def talk(path, data, timeout=10.0, shut=True):
    """Send data on the control socket; everything it answers until it
    closes (or stops answering)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        pass
    s.close()
    return out.decode()


class Control(DaemonTest):
    def ctl(self, d, *args, check=True, **kw):
        r = subprocess.run([POLICYCTL, "-c", d.config_path, "--state-dir",
                            d.path("state")] + list(args),
                           capture_output=True, text=True, timeout=60, **kw)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def sock(self, d):
        return d.path("state/control.sock")

    def test_failed_policyctl_commands_beside_load_leave_the_store_sound(self):
        # Review: a policyctl command that failed exited with the shared
        # environment open; about one run in forty left the daemon's
        # store in DB_RUNRECOVERY, answering without greylisting.
        d = self.daemon(POLICY)
        stop = threading.Event()
        answers = []

        def load():
            s = d.connect()
            i = 0
            while not stop.is_set():
                answers.append(ask_rcpt(s, "192.0.2.%d" % (i % 200),
                                        "s%d@load.example" % i))
                i += 1
            s.close()

        t = threading.Thread(target=load)
        t.start()
        try:
            for i in range(100):
                r = self.ctl(d, "awl", "delete", "--client",
                             "198.51.100.%d" % i, check=False)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("is not in the auto-whitelist", r.stderr)
                r = self.ctl(d, "whitelist", "delete", "--recipient",
                             "u@our.example", "--sender", "x%d@y.example" % i,
                             check=False)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("does not trust", r.stderr)
                r = self.ctl(d, "backscatter", "unblock", "203.0.113.%d" % i,
                             check=False)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("has no record", r.stderr)
        finally:
            stop.set()
            t.join()
        self.assertGreater(len(answers), 100)
        for a in answers:
            self.assertTrue(a.startswith("DEFER_IF_PERMIT 4.7.1 Greylisted"),
                            a)
        self.assertIsNone(STORE_TROUBLE.search(d.log_text()), d.log_text())
        # Each refusal is logged with who asked.
        d.wait_log(r"control: uid \d+.* pid \d+: awl delete --client "
                   r"198\.51\.100\.99: failed: policyctl: awl delete: "
                   r"198\.51\.100\.0/24 is not in the auto-whitelist")
        self.assertEqual(d.stop(), 0)

    def test_policyctl_opens_no_store_file_while_the_daemon_runs(self):
        strace = shutil.which("strace")
        if strace is None:
            self.skipTest("strace is not installed")
        d = self.daemon(POLICY)
        s = d.connect()
        ask_rcpt(s, "192.0.2.1", "a@b.example")
        s.close()
        trace = d.path("trace")
        for args in (["greylist", "list"], ["stats", "--json"],
                     ["awl", "add", "--client", "192.0.2.9"],
                     ["db", "verify"]):
            r = subprocess.run([strace, "-f", "-qq", "-e",
                                "trace=open,openat,creat", "-o", trace,
                                POLICYCTL, "-c", d.config_path,
                                "--state-dir", d.path("state")] + args,
                               capture_output=True, text=True, timeout=60,
                               # LeakSanitizer cannot run under ptrace
                               env=dict(os.environ,
                                        ASAN_OPTIONS="detect_leaks=0"))
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(trace) as f:
                opened = [l for l in f
                          if d.path("state") in l and "control.sock" not in l
                          and "--verify-table" not in l]
            # db verify's children are the daemon's, not policyctl's.
            self.assertEqual(opened, [], args)
        self.assertIn("192.0.2.0/24", self.ctl(d, "awl", "list").stdout)
        self.assertEqual(d.stop(), 0)

    def test_offline_policyctl_and_the_daemon_never_share_the_store(self):
        d = self.daemon(POLICY)
        s = d.connect()
        self.assertTrue(ask_rcpt(s, "192.0.2.1", "a@b.example")
                        .startswith("DEFER"))
        s.close()
        # A socket nobody answers on while the daemon has the store:
        # offline policyctl refuses, and says what to check.
        r = subprocess.run([POLICYCTL, "-c", d.config_path, "--state-dir",
                            d.path("state"), "--socket", d.path("nowhere"),
                            "greylist", "list"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("the store is in use by policyd", r.stderr)
        self.assertIn("nothing answers on its control socket", r.stderr)
        self.assertEqual(d.stop(), 0)
        # Offline now: policyctl holds the store while it reads its
        # input; the daemon refuses to start, and says who has it.
        p = subprocess.Popen([POLICYCTL, "-c", d.config_path, "--state-dir",
                              d.path("state"), "outbound", "import-log",
                              "-", "--domain", "our.example"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 10
            while True:
                with open(d.path("state/policyd.lock")) as f:
                    if f.read().startswith("policyctl %d" % p.pid):
                        break
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)
            r = subprocess.run([os.environ.get("POLICYD", "policyd"), "-f",
                                "-c", d.config_path, "--state-dir",
                                d.path("state")], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertIn("policyctl (pid %d) works on the store offline"
                          % p.pid, r.stderr)
        finally:
            out, err = p.communicate("", timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("imported 0 deliveries", out)
        d.start()
        self.assertIn("a@b.example", self.ctl(d, "greylist", "list").stdout)
        self.assertEqual(d.stop(), 0)

    def test_import_postgrey_of_the_state_directory_is_refused(self):
        # Review: import-postgrey pointed at policyd's own state
        # directory rebuilt its environment with postgrey's flags; every
        # open failed after that (BDB1540), restarts included.
        d = self.daemon(POLICY)
        s = d.connect()
        ask_rcpt(s, "192.0.2.1", "a@b.example")
        s.close()
        r = self.ctl(d, "import-postgrey", d.path("state"), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("policyd is running: stop it first", r.stderr)
        self.assertEqual(d.stop(), 0)

        def regions():
            return {n: (st.st_ino, st.st_mtime_ns, st.st_size)
                    for n in os.listdir(d.path("state"))
                    if n.startswith("__db.")
                    for st in [os.stat(d.path("state/" + n))]}

        before = regions()
        r = self.ctl(d, "import-postgrey", d.path("state"), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("holds a policyd store", r.stderr)
        self.assertEqual(regions(), before,
                         "import-postgrey touched the environment")
        d.start()
        time.sleep(1.1)
        s = d.connect()
        self.assertTrue(ask_rcpt(s, "192.0.2.1", "a@b.example")
                        .startswith("PREPEND"))
        s.close()
        self.assertIsNone(STORE_TROUBLE.search(d.log_text()), d.log_text())
        self.assertNotIn("could not be joined", d.log_text())
        self.assertEqual(d.stop(), 0)

    def break_store_under_the_daemon(self, how, logs):
        """Twenty entries, then storelock HOW on the running daemon's
        environment; the next request meets it. The daemon must log each
        of logs within a minute and lose nothing committed: the entries
        pass after their delay. The daemon, for more checks."""
        # (Berkeley DB itself leaks a little when it closes after a panic.)
        d = self.daemon(POLICY, start=False)
        d.start(env=BDB_PANIC_ENV)
        s = d.connect()
        for i in range(20):
            ask_rcpt(s, "192.0.2.1", "s%d@b.example" % i)
        r = subprocess.run([STORELOCK, d.path("state"), how],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, **BDB_PANIC_ENV))
        self.assertEqual(r.returncode, 0, r.stderr)
        ask_rcpt(s, "192.0.2.1", "s0@b.example")
        for pattern in logs + [r"store: .* is open again"]:
            d.wait_log(pattern, timeout=60)
        time.sleep(1.1)
        for i in range(20):
            self.assertTrue(ask_rcpt(s, "192.0.2.1", "s%d@b.example" % i)
                            .startswith("PREPEND"), i)
        s.close()
        self.assertEqual(d.stop(), 0)
        return d

    def test_a_panicked_environment_is_recovered_by_the_running_daemon(self):
        # Greylisting answers on_error meanwhile.
        self.break_store_under_the_daemon("panic", [])

    def test_a_region_another_program_rebuilt_is_healed_by_the_running_daemon(
            self):
        # As import-postgrey did to a running daemon's directory: the
        # environment rebuilt with other flags under it. Before, every
        # open failed from then on (BDB1540), restarts included.
        d = self.break_store_under_the_daemon("foreign", [
            r"warning: store: .*: the environment could not be joined .*: "
            r"removed its region files .* every committed transaction is "
            r"kept"])
        d.start()
        self.assertIsNone(re.search(r"error: store", d.log_text()
                                    .split("started, policy")[-1]))
        self.assertEqual(d.stop(), 0)

    def test_an_environment_another_program_opened_is_rebuilt_at_start(self):
        d = self.daemon(POLICY)
        s = d.connect()
        for i in range(20):
            ask_rcpt(s, "192.0.2.1", "s%d@b.example" % i)
        s.close()
        self.assertEqual(d.stop(), 0)
        # As postgrey's flags did (review: BDB1540 at every open after).
        r = subprocess.run([STORELOCK, d.path("state"), "foreign"],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, **BDB_PANIC_ENV))
        self.assertEqual(r.returncode, 0, r.stderr)
        d.start(env=BDB_PANIC_ENV)
        d.wait_log(r"removed its region files")
        time.sleep(1.1)
        s = d.connect()
        for i in range(20):
            self.assertTrue(ask_rcpt(s, "192.0.2.1", "s%d@b.example" % i)
                            .startswith("PREPEND"), i)
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_hostile_control_clients_get_an_error_and_the_daemon_goes_on(self):
        d = self.daemon(POLICY)
        path = self.sock(d)
        cases = [
            (b"hello\n", "does not start with \"policyd-control/1\""),
            (b"policyd-control/1 frobnicate\n", "unknown command "
             "\"frobnicate\""),
            (b"policyd-control/1 greylist list --sender %zz\n",
             "no %XX escape"),
            (b"policyd-control/1 greylist list --sender " + b"a" * 5000
             + b"\n", "longer than"),
            (b"policyd-control/1 " + b"x " * 70 + b"x\n", "more than 64 "
             "words"),
            (b"policyd-control/1 check --request -\nnot an input line\n",
             "an input line must start with +"),
        ]
        for data, msg in cases:
            out = talk(path, data)
            self.assertIn(msg, out, data[:60])
            self.assertRegex(out, r"end 2\n", data[:60])
        # Nothing at all: told so after idle_timeout, then closed.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(path)
        t0 = time.monotonic()
        got = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIn(b"no request within 1000 ms", got)
        s.close()
        # Two requests on one connection, the answers in order.
        out = talk(path, b"policyd-control/1 awl list --json\n"
                         b"policyd-control/1 db state\n")
        self.assertRegex(out, r"^end 0\nout store: .*: open for \d+ s.*\n"
                              r"end 0\n$")
        s = d.connect()
        self.assertTrue(ask_rcpt(s, "192.0.2.1", "a@b.example")
                        .startswith("DEFER"))
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_a_client_that_stalls_is_not_kept_for_ever(self):
        d = self.daemon(POLICY)
        path = self.sock(d)
        # Asked for input, sends none: told so after idle_timeout.
        t0 = time.monotonic()
        out = talk(path, b"policyd-control/1 check --request -\n",
                   shut=False, timeout=10)
        self.assertLess(time.monotonic() - t0, 8)
        self.assertIn("more\n", out)
        self.assertIn("no input line within 1000 ms", out)
        self.assertIn("end 2\n", out)
        d.wait_log(r"control: .*: check --request -: no input for 1000 ms")
        # Asks for a long answer and never reads it: the daemon stops
        # and closes (its buffer is bounded), and serves the others.
        s = d.connect()
        s.sendall(b"".join(request(protocol_state="RCPT",
                                   client_address="192.0.2.%d" % (i % 250),
                                   client_name="unknown",
                                   sender="s%d@long-sender-name.example" % i,
                                   recipient="u%d@our.example" % i)
                           for i in range(12000)))
        read_replies(s, 12000, timeout=60)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.connect(path)
        c.sendall(b"policyd-control/1 greylist list\n")
        d.wait_log(r"control: .*: greylist list: the client has not read "
                   r"its answer for 1000 ms: closing", timeout=20)
        c.close()
        self.assertEqual(self.ctl(d, "stats", "--json").returncode, 0)
        self.assertTrue(ask_rcpt(s, "192.0.2.1", "x@y.example")
                        .startswith("DEFER"))
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_a_flood_of_control_connections_leaves_policy_requests_alone(self):
        d = self.daemon(POLICY.replace("idle_timeout: 1s",
                                       "idle_timeout: 30s"))
        path = self.sock(d)
        held = []
        for _ in range(3):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(path)
            held.append(c)
        time.sleep(0.2)
        out = talk(path, b"policyd-control/1 stats\n")
        self.assertIn("busy with 3 other control connections", out)
        self.assertIn("end 1", out)
        s = d.connect()
        t0 = time.monotonic()
        self.assertTrue(ask_rcpt(s, "192.0.2.1", "a@b.example")
                        .startswith("DEFER"))
        self.assertLess(time.monotonic() - t0, 2)
        s.close()
        for c in held:
            c.close()
        # Once they are gone, policyctl gets in again.
        deadline = time.monotonic() + 5
        while self.ctl(d, "stats", check=False).returncode != 0:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.1)
        self.assertEqual(d.stop(), 0)

    @unittest.skipUnless(os.getuid() == 0, "needs root to be someone else")
    def test_a_peer_outside_the_socket_group_gets_nothing(self):
        d = self.daemon(POLICY)
        path = self.sock(d)
        # Open every door but the daemon's own check.
        os.chmod(d.dir, 0o755)
        os.chmod(d.path("state"), 0o755)
        os.chmod(path, 0o666)

        def as_nobody():
            os.setgid(65534)
            os.setgroups([])
            os.setuid(65534)

        r = subprocess.run([POLICYCTL, "--socket", path, "--state-dir",
                            d.path("state"), "awl", "add", "--client",
                            "192.0.2.1"], capture_output=True, text=True,
                           timeout=30, preexec_fn=as_nobody)
        self.assertEqual(r.returncode, 1)
        self.assertIn("permission denied", r.stderr)
        d.wait_log(r"control: refusing uid 65534")
        self.assertNotIn("192.0.2.0/24", self.ctl(d, "awl", "list").stdout)
        self.assertEqual(d.stop(), 0)

    def test_policyctl_rough_edges(self):
        # Issue 24, item 9.
        d = self.daemon(POLICY.replace(
            "    sweep_interval: 200ms\n", "    sweep_interval: 200ms\n"
            "  backscatter:\n    block_for: 2d\n  whitelist: {}\n"))
        # Deleting what is not there fails the same way in every family
        # (greylist delete of nothing said "deleted 0" and exited 0).
        for args, said in [
                (["greylist", "delete", "--client", "203.0.113.0/24"],
                 "greylist delete: no entry matches"),
                (["awl", "delete", "--client", "203.0.113.0/24"],
                 "is not in the auto-whitelist"),
                (["whitelist", "delete", "--recipient", "a@our.example",
                  "--sender", "@x.example"], "does not trust"),
                (["backscatter", "unblock", "203.0.113.9"],
                 "has no record")]:
            r = self.ctl(d, *args, check=False)
            self.assertEqual(r.returncode, 1, (args, r.stderr))
            self.assertIn(said, r.stderr)
        # A flush of nothing is no failure.
        self.ctl(d, "greylist", "flush", "--all")
        # FAMILY --help: that family's commands.
        for args in (["awl", "--help"], ["awl", "-h"], ["awl", "help"],
                     ["awl", "add", "--help"]):
            r = self.ctl(d, *args)
            self.assertIn("awl add --client", r.stdout)
            self.assertNotIn("greylist", r.stdout)
        r = self.ctl(d, "nosuch", "--help", check=False)
        self.assertEqual(r.returncode, 2)
        # JSON rows have the same keys in every row.
        self.ctl(d, "awl", "add", "--client", "192.0.2.0/24")
        self.ctl(d, "awl", "add", "--client", "192.0.2.0/24", "--domain",
                 "b.example")
        rows = [json.loads(l) for l in
                self.ctl(d, "awl", "list", "--json").stdout.splitlines()]
        self.assertEqual(len(rows), 2)
        self.assertEqual(set(rows[0]), set(rows[1]))
        self.assertIn(None, [r["domain"] for r in rows])
        # block --for is bounded as backscatter.block_for is; by default
        # a block lasts the policy's block_for.
        for bad in ("1s", "61d"):
            r = self.ctl(d, "backscatter", "block", "192.0.2.9", "--for",
                         bad, check=False)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("is no duration of 1h to 60d", r.stderr)
        t0 = time.time()
        self.ctl(d, "backscatter", "block", "192.0.2.9")
        row = json.loads(self.ctl(d, "backscatter", "list",
                                  "--json").stdout.splitlines()[0])
        self.assertIsInstance(row["recipients"], list)
        until = time.mktime(time.strptime(row["blocked_until"],
                                          "%Y-%m-%dT%H:%M:%SZ")) - \
            time.timezone
        self.assertLess(abs(until - (t0 + 2 * 86400)), 120)
        self.assertEqual(d.stop(), 0)

    def test_check_says_when_our_users_mail_skips_the_checks(self):
        d = self.daemon(POLICY + "local_networks: [198.51.100.0/24]\n")
        r = self.ctl(d, "check", "--client-address", "192.0.2.9",
                     "--sender", "a@b.example", "--recipient",
                     "c@d.example", "--sasl-username", "alice")
        self.assertIn("our user: checks skipped (logged in: "
                      "sasl_username, local:sasl)", r.stdout)
        self.assertIn("decided by: local:sasl", r.stdout)
        r = self.ctl(d, "check", "--client-address", "198.51.100.7",
                     "--sender", "a@our.example", "--recipient",
                     "c@d.example")
        self.assertIn("our user: checks skipped (client in "
                      "local_networks, local:network)", r.stdout)
        self.assertIn("decided by: local:network", r.stdout)
        self.assertRegex(r.stdout, r"reply: action=DUNNO")
        # The daemon's own decision lines name them too, not "default".
        s = d.connect()
        ask(s, protocol_state="RCPT", client_address="198.51.100.7",
            sender="a@our.example", recipient="c@d.example")
        ask(s, protocol_state="RCPT", client_address="192.0.2.9",
            sender="a@b.example", recipient="c@d.example",
            sasl_username="alice")
        s.close()
        d.wait_log(r"decision action=DUNNO rule=local:network "
                   r"client=198\.51\.100\.7 ")
        d.wait_log(r"decision action=DUNNO rule=local:sasl "
                   r"client=192\.0\.2\.9 ")
        r = self.ctl(d, "check", "--client-address", "192.0.2.9",
                     "--sender", "a@b.example", "--recipient",
                     "c@d.example")
        self.assertNotIn("ours:", r.stdout)
        self.assertEqual(d.stop(), 0)

    def test_reload_through_the_socket(self):
        d = self.daemon(POLICY)
        text = open(d.config_path).read()
        d.write_config(text + "nonsense_key: 1\n")
        r = self.ctl(d, "reload", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"reload: .*policyd\.yaml:\d+:\d+: .*"
                                   r"nonsense_key.*keeps the policy it has")
        d.write_config(text.replace("delay: 1s", "delay: 2s"))
        r = self.ctl(d, "reload")
        self.assertEqual(r.stdout, "reloaded the policy\n")
        d.wait_log(r"control: uid \d+.*: reload: done")
        s = d.connect()
        self.assertIn("try again in 2 seconds",
                      ask_rcpt(s, "192.0.2.1", "a@b.example"))
        d.wait_log(r"greylist:new\(wait=2s\)")
        s.close()
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main()
