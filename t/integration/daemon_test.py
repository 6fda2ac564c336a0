"""daemon_test - the real policyd on 127.0.0.1 and on a unix socket:
decisions, pipelining, concurrency, limits, reload, shutdown, stdio."""
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import unittest

from pdtest import (POLICYD, DaemonTest, ask, closed_by_peer, read_replies,
                    request)

BASE = """
listen:
  - inet: 127.0.0.1:0
  - unix: @DIR@/policy.sock
    mode: "0660"
access:
  - name: office
    client: 192.0.2.0/24
    action: OK
  - name: spammers
    sender: .spam.example
    action: REJECT 5.7.1 no mail from %s
"""


def policy(word="spam", extra=""):
    return BASE % word + extra


class Decisions(DaemonTest):
    def test_rules_default_and_log_line(self):
        d = self.daemon(policy())
        s = d.connect()
        self.assertEqual(ask(s, client_address="192.0.2.9",
                             sender="a@b.example"), "OK")
        self.assertEqual(
            ask(s, client_address="203.0.113.5", client_name="mx.x.example",
                helo_name="mx.x.example", sender="a@mx.spam.example",
                recipient="u@our.example", queue_id="4ABC"),
            "REJECT 5.7.1 no mail from spam")
        self.assertEqual(ask(s, client_address="203.0.113.5",
                             sender="a@ok.example"), "DUNNO")
        line = d.wait_log(r"decision action=\"REJECT.*")[0].group(0)
        self.assertRegex(
            line, r'^decision action="REJECT 5.7.1 no mail from spam" '
            r'rule=spammers client=203.0.113.5 client_name=mx.x.example '
            r'helo=mx.x.example sender=<a@mx.spam.example> '
            r'rcpt=<u@our.example> queue_id=4ABC us=\d+$')
        d.wait_log(r"decision action=DUNNO rule=default ")
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_pipelined_requests_answered_in_order(self):
        d = self.daemon(policy())
        s = d.connect()
        reqs, want = b"", []
        for i in range(300):
            if i % 3 == 0:
                reqs += request(client_address="192.0.2.%d" % (i % 250))
                want.append("OK")
            elif i % 3 == 1:
                reqs += request(client_address="198.51.100.1",
                                sender="x%d@a.spam.example" % i)
                want.append("REJECT 5.7.1 no mail from spam")
            else:
                reqs += request(client_address="198.51.100.1",
                                sender="x%d@fine.example" % i)
                want.append("DUNNO")
        s.sendall(reqs)
        self.assertEqual(read_replies(s, len(want)), want)
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_request_split_across_reads(self):
        d = self.daemon(policy())
        s = d.connect()
        r = request(client_address="192.0.2.1") * 2
        for cut in (1, 17, 27, 28, len(r) // 2, len(r) - 1):
            s.sendall(r[:cut])
            time.sleep(0.02)
            s.sendall(r[cut:])
            self.assertEqual(read_replies(s, 2), ["OK", "OK"])
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_unix_socket(self):
        d = self.daemon(policy())
        path = d.path("policy.sock")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o660)
        s = d.connect_unix(path)
        self.assertEqual(ask(s, client_address="192.0.2.1"), "OK")
        self.assertEqual(ask(s, client_address="10.1.1.1",
                             sender="a@b.spam.example"),
                         "REJECT 5.7.1 no mail from spam")
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_unix_socket_group(self):
        if os.getuid() != 0:
            self.skipTest("needs root to give a socket to another group")
        import grp
        gid = grp.getgrnam("nogroup").gr_gid
        d = self.daemon('listen:\n  - unix: @DIR@/g.sock\n    mode: "0620"\n'
                        '    group: nogroup\n')
        st = os.stat(d.path("g.sock"))
        self.assertEqual(st.st_gid, gid)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o620)
        self.assertEqual(d.stop(), 0)

    def test_ipv6_listener(self):
        try:
            t = socket.socket(socket.AF_INET6)
            t.bind(("::1", 0))
            t.close()
        except OSError:
            self.skipTest("no IPv6 loopback on this machine")
        d = self.daemon('listen:\n  - inet: "[::1]:0"\n')
        port = int(re.search(r"listening on inet:\[::1\]:(\d+)",
                             d.log_text()).group(1))
        s = socket.create_connection(("::1", port), timeout=5)
        self.assertEqual(ask(s, client_address="2001:db8::1"), "DUNNO")
        d.wait_log(r"client=2001:db8::1 ")
        s.close()
        self.assertEqual(d.stop(), 0)


class Malformed(DaemonTest):
    def test_bad_requests_get_the_safe_answer(self):
        d = self.daemon(policy())
        s = d.connect()
        s.sendall(b"request=smtpd_access_policy\nno equals sign\n\n")
        self.assertEqual(read_replies(s, 1), ["DUNNO"])
        s.sendall(b"request=smtpd_access_policy\nsender=a\0b\n\n")
        self.assertEqual(read_replies(s, 1), ["DUNNO"])
        s.sendall(b"request=junk\n\n")
        self.assertEqual(read_replies(s, 1), ["DUNNO"])
        s.sendall(b"request=smtpd_access_policy\nsender="
                  + b"x" * 10000 + b"\n\n")
        self.assertEqual(read_replies(s, 1), ["DUNNO"])
        s.sendall(request(client_address="not-an-ip"))
        self.assertEqual(read_replies(s, 1), ["DUNNO"])
        # The connection is still in step.
        self.assertEqual(ask(s, client_address="192.0.2.1"), "OK")
        d.wait_log(r"malformed request from 127\.0\.0\.1:\d+: line 2 has "
                   r"no '='; answered DUNNO")
        d.wait_log(r"malformed request from .*: line 2 contains a NUL byte")
        d.wait_log(r"malformed request from .*: request type is not "
                   r"smtpd_access_policy")
        d.wait_log(r"malformed request from .*: line 2 longer than 4096")
        d.wait_log(r"malformed request from .*: client_address "
                   r"\"not-an-ip\" is not an IP address")
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_on_error_defer(self):
        d = self.daemon(policy(extra="on_error: defer\n"))
        s = d.connect()
        s.sendall(b"request=smtpd_access_policy\nbroken\n\n")
        self.assertEqual(read_replies(s, 1),
                         ["DEFER_IF_PERMIT 4.3.0 Policy service problem, "
                          "try again later"])
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_endless_request_closes_connection(self):
        d = self.daemon(policy())
        s = d.connect()
        try:
            for _ in range(100):
                s.sendall(b"x=" + b"y" * 1000 + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assertTrue(closed_by_peer(s))
        d.wait_log(r"closing connection 127\.0\.0\.1:\d+: request longer "
                   r"than 65536 bytes")
        s2 = d.connect()
        self.assertEqual(ask(s2, client_address="192.0.2.1"), "OK")
        s2.close()
        self.assertEqual(d.stop(), 0)

    def test_client_disconnects_mid_request(self):
        d = self.daemon(policy())
        for _ in range(5):
            s = d.connect()
            s.sendall(b"request=smtpd_access_policy\nclient_addr")
            time.sleep(0.05)
            s.close()
        d.wait_log(r"client disconnected in the middle of a request",
                   count=5)
        s = d.connect()
        self.assertEqual(ask(s, client_address="192.0.2.1"), "OK")
        s.close()
        self.assertEqual(d.stop(), 0)


class Connections(DaemonTest):
    def test_200_concurrent_connections(self):
        d = self.daemon(policy())
        socks = [d.connect() for _ in range(200)]
        for i, s in enumerate(socks):
            s.sendall(request(client_address="192.0.2.%d" % (i % 200),
                              sender="u%d@x.example" % i))
        for s in socks:
            self.assertEqual(read_replies(s, 1), ["OK"])
        # A second round on the same persistent connections, in threads.
        errors = []

        def worker(s, i):
            try:
                for _ in range(5):
                    got = ask(s, client_address="198.51.100.%d" % (i % 250),
                              sender="a@b.spam.example")
                    if got != "REJECT 5.7.1 no mail from spam":
                        errors.append(got)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
        threads = [threading.Thread(target=worker, args=(s, i))
                   for i, s in enumerate(socks)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        for s in socks:
            s.close()
        self.assertEqual(d.stop(), 0)

    def test_connection_limit(self):
        d = self.daemon(policy(extra="max_connections: 3\n"))
        socks = [d.connect() for _ in range(3)]
        for s in socks:
            self.assertEqual(ask(s, client_address="192.0.2.1"), "OK")
        extra = d.connect()
        self.assertTrue(closed_by_peer(extra))
        d.wait_log(r"refusing connection from 127\.0\.0\.1:\d+: 3 "
                   r"connections open, max_connections is 3")
        socks[0].close()
        time.sleep(0.2)
        s = d.connect()
        self.assertEqual(ask(s, client_address="192.0.2.1"), "OK")
        for s in socks[1:] + [s]:
            s.close()
        self.assertEqual(d.stop(), 0)

    def test_allowlist(self):
        d = self.daemon(policy(extra="allow: [10.0.0.0/8]\n"))
        s = d.connect()
        self.assertTrue(closed_by_peer(s))
        d.wait_log(r"refusing connection from 127\.0\.0\.1:\d+: not in "
                   r"allow")
        # The unix socket is not subject to the TCP allowlist.
        u = d.connect_unix(d.path("policy.sock"))
        self.assertEqual(ask(u, client_address="192.0.2.1"), "OK")
        u.close()
        self.assertEqual(d.stop(), 0)

    def test_idle_timeout(self):
        d = self.daemon(policy(extra="idle_timeout: 1s\n"))
        s = d.connect()
        self.assertEqual(ask(s, client_address="192.0.2.1"), "OK")
        t0 = time.monotonic()
        self.assertTrue(closed_by_peer(s, timeout=5))
        self.assertGreater(time.monotonic() - t0, 0.5)
        s.close()
        self.assertEqual(d.stop(), 0)


class Signals(DaemonTest):
    def test_sighup_bad_file_keeps_old_policy(self):
        d = self.daemon(policy("spam"))
        s = d.connect()
        self.assertEqual(ask(s, client_address="1.2.3.4",
                             sender="a@b.spam.example"),
                         "REJECT 5.7.1 no mail from spam")
        d.write_config(policy("spam") + "bogus_key: 1\n")
        d.signal(signal.SIGHUP)
        d.wait_log(r"reload failed, keeping the current policy: "
                   r".*policyd\.yaml:\d+:1: unknown key \"bogus_key\"")
        self.assertEqual(ask(s, client_address="1.2.3.4",
                             sender="a@b.spam.example"),
                         "REJECT 5.7.1 no mail from spam")
        s2 = d.connect()
        self.assertEqual(ask(s2, client_address="192.0.2.1"), "OK")
        # A good file takes effect, on old and new connections alike.
        d.write_config(policy("junk"))
        d.signal(signal.SIGHUP)
        d.wait_log(r"reloaded policy from")
        self.assertEqual(ask(s, client_address="1.2.3.4",
                             sender="a@b.spam.example"),
                         "REJECT 5.7.1 no mail from junk")
        self.assertEqual(ask(d.connect(), client_address="1.2.3.4",
                             sender="a@b.spam.example"),
                         "REJECT 5.7.1 no mail from junk")
        s.close()
        s2.close()
        self.assertEqual(d.stop(), 0)

    def test_sigterm_answers_requests_in_flight(self):
        d = self.daemon(policy())
        busy = d.connect()
        idle = d.connect()
        self.assertEqual(ask(idle, client_address="192.0.2.1"), "OK")
        half = request(client_address="192.0.2.2")
        busy.sendall(half[:20])
        time.sleep(0.1)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        d.wait_log(r"SIGTERM: shutting down")
        # No new connections; the idle one is closed.
        self.assertTrue(closed_by_peer(idle))
        with self.assertRaises(OSError):
            d.connect().recv(1)
        # The request in flight is answered, then its connection closes.
        busy.sendall(half[20:])
        self.assertEqual(read_replies(busy, 1), ["OK"])
        self.assertTrue(closed_by_peer(busy))
        self.assertEqual(d.proc.wait(timeout=10), 0)
        self.assertLess(time.monotonic() - t0, 5)
        d.wait_log(r"stopped")

    def test_sigterm_bounded_by_shutdown_timeout(self):
        d = self.daemon(policy(extra="shutdown_timeout: 1s\n"))
        stuck = d.connect()
        stuck.sendall(b"request=smtpd_access_policy\nsender=")
        time.sleep(0.1)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        self.assertEqual(d.proc.wait(timeout=10), 0)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        self.assertLess(time.monotonic() - t0, 5)
        d.wait_log(r"shutdown: closing 1 connections after 1000 ms")
        stuck.close()

    def test_sigint_stops(self):
        d = self.daemon(policy())
        d.signal(signal.SIGINT)
        self.assertEqual(d.proc.wait(timeout=10), 0)


class CommandLine(DaemonTest):
    def test_check_good_and_bad_files(self):
        d = self.daemon(policy(), start=False)
        r = subprocess.run([POLICYD, "-n", d.config_path],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(": ok", r.stdout)
        d.write_config("deadline: 10s\nallow: [10.0.0.1/8]\n")
        r = subprocess.run([POLICYD, "-n", d.config_path],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.strip(),
                         d.config_path + ':2:9: allow: "10.0.0.1/8" has '
                         'host bits set; did you mean 10.0.0.0/8?')
        r = subprocess.run([POLICYD, "-n", d.path("missing.yaml")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot open: No such file or directory", r.stderr)

    def test_bad_arguments(self):
        r = subprocess.run([POLICYD, "--no-such-option"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage: policyd", r.stderr)
        r = subprocess.run([POLICYD, "-f", "extra-arg"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn('unexpected argument "extra-arg"', r.stderr)

    def test_bad_config_at_start(self):
        d = self.daemon("listen: [\n", start=False)
        r = subprocess.run([POLICYD, "-f", "-c", d.config_path],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("policyd.yaml:2:1: did not find expected node", r.stderr)

    def test_port_in_use(self):
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        self.addCleanup(blocker.close)
        d = self.daemon("listen:\n  - inet: 127.0.0.1:%d\n" % port,
                        start=False)
        r = subprocess.run([POLICYD, "-f", "-c", d.config_path,
                            "--state-dir", d.path("state")],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("listen inet 127.0.0.1:%d: address already in use"
                      % port, r.stderr)
        # The likely cause and how to find it: Debian's postgrey package
        # starts postgrey on 127.0.0.1:10023, policyd's own port.
        self.assertIn("most likely another policy server (Debian's "
                      "postgrey listens on 127.0.0.1:10023)", r.stderr)
        self.assertIn("\"ss -ltnp 'sport = :%d'\" names it" % port, r.stderr)

    def test_stdio(self):
        d = self.daemon(policy(), start=False)
        reqs = (request(client_address="192.0.2.1")
                + request(client_address="1.1.1.1", sender="a@b.spam.example")
                + b"request=smtpd_access_policy\nbad\n\n")
        r = subprocess.run([POLICYD, "-f", "--stdio", "-c", d.config_path],
                           input=reqs, capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout,
                         b"action=OK\n\naction=REJECT 5.7.1 no mail from "
                         b"spam\n\naction=DUNNO\n\n")
        self.assertIn(b"rule=office", r.stderr)

    def test_stdio_with_greylisting_exits_when_its_connection_ends(self):
        """Under spawn(8) every SMTP session is one --stdio process: with
        a store open, the store's timer kept the loop alive after EOF, so
        the process never exited and spawn's processes piled up."""
        d = self.daemon(policy(extra="checks:\n  greylist: { delay: 1s, "
                                     "sweep_interval: 200ms }\n"),
                        start=False)
        os.mkdir(d.path("state"))
        r = subprocess.run([POLICYD, "-f", "--stdio", "-c", d.config_path,
                            "--state-dir", d.path("state")],
                           input=request(protocol_state="RCPT",
                                         client_address="198.51.100.9",
                                         sender="a@b.example",
                                         recipient="u@our.example"),
                           capture_output=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith(b"action=DEFER_IF_PERMIT 4.7.1"),
                        r.stdout)

    def test_privilege_drop(self):
        if os.getuid() != 0:
            self.skipTest("needs root to drop privileges")
        d = self.daemon(policy(), args=["--user", "nobody"])
        s = d.connect()
        self.assertEqual(ask(s, client_address="192.0.2.1"), "OK")
        d.wait_log(r"running as uid %d " % 65534)
        with open("/proc/%d/status" % d.proc.pid) as f:
            uids = [l for l in f if l.startswith("Uid:")][0].split()[1:]
        self.assertEqual(set(uids), {"65534"})
        s.close()
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
