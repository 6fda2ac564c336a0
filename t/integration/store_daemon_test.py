"""store_daemon_test - the daemon's store under trouble from outside: a
fatal error while requests wait for DNS, a full disk (in a private mount
namespace on a small filesystem), policyctl run as root beside a daemon
that runs as its own user, and policyctl holding locks beside load."""
import ctypes
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from pdtest import (BDB_PANIC_ENV, DaemonTest, read_replies, request,
                    start_dnsd)

POLICYCTL = os.environ.get("POLICYCTL", "policyctl")
DB_RECOVER = shutil.which("db5.3_recover") or shutil.which("db_recover")
STORELOCK = os.environ.get("STORELOCK", "storelock")


def ask(sock, client, sender, rcpt="u@our.example", **kw):
    sock.sendall(request(protocol_state="RCPT", client_address=client,
                         sender=sender, recipient=rcpt, **kw))
    return read_replies(sock, 1, timeout=30)[0]


class StoreTrouble(DaemonTest):

    def test_fatal_store_error_while_requests_wait_for_dns(self):
        # Review B2: each request copied the store pointer; a fatal error
        # from another request closed and freed the store, and requests
        # still waiting for DNS then used freed memory.
        if DB_RECOVER is None:
            self.skipTest("db5.3_recover is not installed (db5.3-util)")
        zone = ("7.113.0.203.in-addr.arpa. 0 IN PTR mail.slow.example.\n"
                "!delay 7.113.0.203.in-addr.arpa. 1500\n")
        port = start_dnsd(self, zone)
        d = self.daemon("""
listen:
  - inet: 127.0.0.1:0
dns: { nameservers: ["127.0.0.1:%d"], min_ttl: 0, timeout: 4s, tries: 1 }
deadline: 8s
checks:
  rdns: { enabled: true, on_fail: reject }
  greylist: { delay: 1s, sweep_interval: 200ms }
""" % port, start=False)
        d.start(env=BDB_PANIC_ENV)
        s = d.connect()
        # The store is open and working.
        self.assertRegex(ask(s, "192.0.2.1", "a@fast.example",
                             reverse_client_name="mx.fast.example"),
                         r"^DEFER_IF_PERMIT 4\.7\.1 Greylisted")
        # Ten requests wait for the slow PTR answer (Postfix sent no
        # reverse name), each on its own connection.
        waiting = []
        for i in range(10):
            c = d.connect(timeout=30)
            c.sendall(request(protocol_state="RCPT",
                              client_address="203.0.113.7",
                              sender="w%d@slow.example" % i,
                              recipient="u@our.example"))
            waiting.append(c)
        time.sleep(0.2)
        # Recovery from outside panics the environment under the daemon
        # (as a policyctl that died and the next one's recovery would).
        subprocess.run([DB_RECOVER, "-h", d.path("state")], check=True,
                       capture_output=True, timeout=30)
        # The next store operation meets the panic and closes the store.
        a = ask(s, "192.0.2.2", "b@fast.example",
                reverse_client_name="mx.fast.example")
        self.assertIn(a, ("DUNNO",), "a fatal store error is on_error")
        d.wait_log(r"store: .*DB_RUNRECOVERY")
        # The waiting requests are answered (greylisting per on_error, or
        # deferred by a reopened store), and the daemon lives on.
        for c in waiting:
            try:
                r = read_replies(c, 1, timeout=30)[0]
            except AssertionError:
                self.fail("policyd died:\n" + d.log_text()[-4000:])
            self.assertRegex(r, r"^(DUNNO|DEFER_IF_PERMIT 4\.7\.1 Grey)")
            c.close()
        self.assertIsNone(d.proc.poll(), "policyd died:\n" + d.log_text())
        # The store comes back by itself.
        d.wait_log(r"store: .* is open again", timeout=10)
        self.assertRegex(ask(s, "192.0.2.3", "c@fast.example",
                             reverse_client_name="mx.fast.example"),
                         r"^DEFER_IF_PERMIT 4\.7\.1 Greylisted")
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_a_lock_held_by_another_process_does_not_stall_requests(self):
        # Review B4: the daemon's transactions waited up to 0.5 s for a
        # lock, three times: one request that met a lock held by
        # policyctl stalled every connection for 1.5 s.
        d = self.daemon("""
listen:
  - inet: 127.0.0.1:0
checks:
  greylist: { delay: 1s }
""")
        s = d.connect()
        self.assertRegex(ask(s, "192.0.2.1", "a@example.org"),
                         r"^DEFER_IF_PERMIT 4\.7\.1 Greylisted")
        holder = subprocess.Popen([STORELOCK, d.path("state"), "4"],
                                  stdout=subprocess.PIPE, text=True)
        self.addCleanup(holder.wait)
        self.addCleanup(holder.kill)
        self.assertEqual(holder.stdout.readline().strip(), "locked")
        worst, answers = 0.0, []
        for i in range(5):
            t0 = time.monotonic()
            answers.append(ask(s, "192.0.2.%d" % (i + 2),
                               "b%d@example.org" % i))
            worst = max(worst, time.monotonic() - t0)
        self.assertLess(worst, 0.4, "a request waited %.2f s for the "
                        "lock" % worst)
        self.assertEqual(answers, ["DUNNO"] * 5)  # greylisting's on_error
        d.wait_log(r"rule=greylist:error ")
        d.wait_log(r"store: .*(DB_LOCK_NOTGRANTED|deadlock|not granted)")
        holder.wait(timeout=10)
        holder.stdout.close()
        # Once the lock is gone, greylisting works again.
        self.assertRegex(ask(s, "192.0.2.9", "c@example.org"),
                         r"^DEFER_IF_PERMIT 4\.7\.1 Greylisted")
        s.close()
        self.assertEqual(d.stop(), 0)


class Ownership(DaemonTest):
    """Review B3: policyctl run as root (the documented postgrey
    migration) made root-owned files mode 0600 in the state directory; a
    daemon that runs as its own user then could not open its store and
    answered on_error for good."""

    POLICY = """
listen:
  - inet: 127.0.0.1:0
checks:
  greylist: { delay: 1s, awl_clients: 1 }
"""

    def setUp(self):
        if os.getuid() != 0:
            self.skipTest("needs root: policyctl as root, the daemon as "
                          "nobody")
        self.nobody = pwd.getpwnam("nobody")

    def ctl(self, d, *args, check=True):
        r = subprocess.run([POLICYCTL, "-c", d.config_path, "--state-dir",
                            d.path("state")] + list(args),
                           capture_output=True, text=True, timeout=30)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def owners(self, d):
        state = d.path("state")
        return {n: os.stat(os.path.join(state, n)).st_uid
                for n in os.listdir(state)}

    def test_policyctl_as_root_beside_a_daemon_running_as_its_user(self):
        d = self.daemon(self.POLICY, start=False,
                        args=["--user", "nobody"])
        os.chmod(d.dir, 0o755)  # nobody must reach its state directory
        d.start()
        d.wait_log(r"running as uid %d " % self.nobody.pw_uid)
        s = d.connect()
        self.assertRegex(ask(s, "192.0.2.1", "a@example.org"),
                         r"^DEFER_IF_PERMIT 4\.7\.1 Greylisted")
        self.assertEqual(os.stat(d.path("state")).st_uid,
                         self.nobody.pw_uid)
        # Root's policyctl while the daemon runs: it acts as the owner.
        self.ctl(d, "awl", "add", "--client", "203.0.113.0/24")
        out = self.ctl(d, "greylist", "list").stdout
        self.assertIn("a@example.org", out)
        self.ctl(d, "db", "verify")
        bad = {n: u for n, u in self.owners(d).items()
               if u != self.nobody.pw_uid}
        self.assertEqual(bad, {}, "files not the daemon's user's")
        # The daemon still works, and sees what policyctl wrote.
        self.assertEqual(ask(s, "203.0.113.5", "b@example.org"), "DUNNO")
        d.wait_log(r"rule=greylist:awl-client client=203\.0\.113\.5 ")
        self.assertRegex(ask(s, "192.0.2.77", "c@example.org"),
                         r"^DEFER_IF_PERMIT 4\.7\.1 Greylisted")
        self.assertNotIn("greylist:error", d.log_text())
        s.close()
        self.assertEqual(d.stop(), 0)
        # With the daemon stopped, policyctl as root still makes files
        # that are the daemon's (a new environment: its regions).
        for n in os.listdir(d.path("state")):
            if n.startswith("__db.0"):
                os.unlink(os.path.join(d.path("state"), n))
        self.ctl(d, "stats")
        self.assertEqual({n: u for n, u in self.owners(d).items()
                          if u != self.nobody.pw_uid}, {})
        d.start()
        s = d.connect()
        time.sleep(1.1)  # the first triplet's delay
        self.assertEqual(ask(s, "192.0.2.1", "a@example.org"), "DUNNO")
        d.wait_log(r"rule=\S*greylist:(pass|known)")
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_root_files_from_before_the_first_start_are_given_over(self):
        # The migration before policyd ever ran: root makes the state
        # directory and policyctl fills it; the daemon, started as root
        # to run as nobody, gives the files to nobody and opens them.
        d = self.daemon(self.POLICY, start=False,
                        args=["--user", "nobody"])
        os.chmod(d.dir, 0o755)
        r = self.ctl(d, "awl", "add", "--client", "203.0.113.0/24",
                     check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("install -d -o policyd", r.stderr)
        # import-postgrey makes it, as root; here as awl add would after.
        os.mkdir(d.path("state"), 0o750)
        self.ctl(d, "awl", "add", "--client", "203.0.113.0/24")
        self.assertIn(0, self.owners(d).values())
        d.start()
        d.wait_log(r"state_dir .*: gave \d+ files made by another user")
        s = d.connect()
        self.assertEqual(ask(s, "203.0.113.5", "b@example.org"), "DUNNO")
        d.wait_log(r"rule=greylist:awl-client client=203\.0\.113\.5 ")
        self.assertNotIn("greylist:error", d.log_text())
        s.close()
        self.assertEqual(d.stop(), 0)


# Set in main: why this process could not get a private mount namespace
# (the full-disk tests then skip), or None.
NAMESPACE_SKIP = "not run as the main program"


def private_mounts():
    """Enter a private mount namespace, so that the small file systems of
    the full-disk tests are seen by this process and its children only.
    Must run before any thread starts. Returns None, or why not."""
    if os.getuid() != 0:
        return "needs root to mount a small file system"
    libc = ctypes.CDLL(None, use_errno=True)
    clone_newns, ms_rec, ms_private = 0x00020000, 0x4000, 1 << 18
    if libc.unshare(clone_newns) != 0:
        return "unshare(CLONE_NEWNS): %s" % os.strerror(ctypes.get_errno())
    if libc.mount(b"none", b"/", None, ms_rec | ms_private, None) != 0:
        return "mount --make-rprivate /: %s" % os.strerror(
            ctypes.get_errno())
    return None


def fill(path):
    """Fill the file system of path with a file of that name; return it."""
    chunk = b"\0" * (1 << 20)
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 4096, 512):
            try:
                while True:
                    f.write(chunk[:size])
            except OSError as e:
                if e.errno != 28:  # ENOSPC
                    raise
    return path


class FullDisk(DaemonTest):
    """Review 12: a full disk killed the daemon (SIGBUS in a region file
    with holes), a restart on a still-full disk did not say why the store
    was missing, and the running daemon never reopened it once there was
    room again."""

    POLICY = """
listen:
  - inet: 127.0.0.1:0
store: { cache: 8MiB }
checks:
  greylist: { delay: 1s, sweep_interval: 200ms, awl_clients: 0,
              awl_domains: 0 }
"""

    def mount(self, d, kind):
        state = d.path("state")
        os.mkdir(state)
        if kind == "tmpfs":
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m",
                                "tmpfs", state], capture_output=True,
                               text=True)
        else:
            img = d.path("ext4.img")
            with open(img, "wb") as f:
                f.truncate(40 << 20)
            subprocess.run(["mkfs.ext4", "-q", "-F", img], check=True,
                           capture_output=True)
            r = subprocess.run(["mount", "-o", "loop", img, state],
                               capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount %s: %s" % (kind, r.stderr.strip()))
        self.addCleanup(subprocess.run, ["umount", "-l", state],
                        capture_output=True)
        return state

    def triplet(self, s, i, sender="new"):
        return ask(s, "192.0.2.%d" % (i % 250 + 1),
                   "%s%d@example.org" % (sender, i))

    def scenario(self, kind):
        if NAMESPACE_SKIP:
            self.skipTest(NAMESPACE_SKIP)
        d = self.daemon(self.POLICY, start=False)
        state = self.mount(d, kind)
        d.start(env=BDB_PANIC_ENV)
        s = d.connect()
        # A triplet that has passed: committed state that must survive.
        self.assertRegex(ask(s, "198.51.100.1", "kept@example.org"),
                         r"^DEFER_IF_PERMIT 4\.7\.1 Greylisted")
        time.sleep(1.2)
        self.assertEqual(ask(s, "198.51.100.1", "kept@example.org"),
                         "DUNNO")
        filler = fill(os.path.join(state, "filler"))

        # Full: every answer is a greylisting answer or on_error, the
        # daemon lives, and the log says the disk is full.
        for i in range(1500):
            a = self.triplet(s, i)
            self.assertRegex(a, r"^(DUNNO|DEFER_IF_PERMIT 4\.7\.1 Grey)")
        self.assertIsNone(d.proc.poll(), "policyd died:\n" +
                          d.log_text()[-3000:])
        d.wait_log(r"store: .*the file system is full")

        # Room again: it writes again by itself.
        os.unlink(filler)
        deadline = time.monotonic() + 10
        while True:
            a = self.triplet(s, 100000 + int(time.monotonic() * 1000))
            if a.startswith("DEFER_IF_PERMIT 4.7.1 Greylisted"):
                break
            self.assertLess(time.monotonic(), deadline,
                            "the store never came back:\n" +
                            d.log_text()[-3000:])
            time.sleep(0.1)
        d.wait_log(r"store: .*(writing again|is open again)")
        self.assertEqual(ask(s, "198.51.100.1", "kept@example.org"),
                         "DUNNO")
        d.wait_log(r"rule=greylist:known client=198\.51\.100\.1 ")
        s.close()

        # Killed, then started on a still-full disk: recovery cannot
        # write. The log says why, and the store opens once there is
        # room, with nothing committed lost.
        d.proc.kill()
        d.proc.wait()
        filler = fill(os.path.join(state, "filler"))
        d.start(env=BDB_PANIC_ENV)
        d.wait_log(r"store: cannot open .*No space left on device.*"
                   r"until it opens, greylisting answers dunno")
        s = d.connect()
        self.assertEqual(self.triplet(s, 7, "again"), "DUNNO")
        os.unlink(filler)
        d.wait_log(r"store: .* is open again after", timeout=15)
        self.assertRegex(self.triplet(s, 8, "again"),
                         r"^DEFER_IF_PERMIT 4\.7\.1 Greylisted")
        self.assertEqual(ask(s, "198.51.100.1", "kept@example.org"),
                         "DUNNO")
        d.wait_log(r"rule=greylist:known client=198\.51\.100\.1 ",
                   count=2)
        s.close()
        self.assertEqual(d.stop(), 0)

    def test_full_tmpfs(self):
        self.scenario("tmpfs")

    def test_full_ext4(self):
        self.scenario("ext4")


if __name__ == "__main__":
    NAMESPACE_SKIP = private_mounts()
    unittest.main(verbosity=2)
