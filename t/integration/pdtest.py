"""pdtest - start the real policyd for integration tests and talk to it.

Each Daemon gets its own temporary directory with the policy file, the
state directory and unix sockets; it listens on ephemeral 127.0.0.1 ports
(the test reads the real port from the "listening on" log line). The log
is policyd's stderr (-f), collected by a thread so tests can wait for a
line. stop() sends SIGTERM and returns the exit status; a daemon that is
still running when a test ends is killed.
"""
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

POLICYD = os.environ.get("POLICYD", "policyd")
DNSD = os.environ.get("DNSD", "dnsd")

# For daemons whose Berkeley DB environment panics on purpose: closing it
# then leaves some of Berkeley DB's own allocations behind, which the
# sanitizer build would report at exit.
BDB_PANIC_ENV = {"LSAN_OPTIONS": "suppressions=" + os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "lsan-bdb-panic.supp")}


def start_dnsd(test, zone_text, querylog=None, port=0):
    """Serve zone_text (dnsd's zone syntax) on 127.0.0.1 (port, or a free
    one) for the rest of test, logging each query to querylog if given;
    returns the port."""
    tmp = tempfile.TemporaryDirectory(prefix="dnsd-")
    test.addCleanup(tmp.cleanup)
    zone = os.path.join(tmp.name, "zone")
    with open(zone, "w") as f:
        f.write(zone_text)
    cmd = ([DNSD] + (["-l", querylog] if querylog else []) +
           (["-p", str(port)] if port else []) + [zone])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    # Cleanups run last first: stop, reap, close the pipe.
    test.addCleanup(proc.stdout.close)
    test.addCleanup(proc.wait)
    test.addCleanup(proc.terminate)
    return int(proc.stdout.readline().split()[1])


def request(**attrs):
    """One policy request as bytes; request=smtpd_access_policy first."""
    lines = ["request=smtpd_access_policy"]
    lines += ["%s=%s" % (k, v) for k, v in attrs.items()]
    return ("\n".join(lines) + "\n\n").encode()


def release_regions(state):
    """The shared memory of a store whose last user did not close it (a
    killed daemon, a child of one, a damaged store): its regions are
    System V segments, which a crash leaves for the next open of the
    state directory, and a test's directory is removed. The segments
    under the directory's keys (storelock DIR key; each key Berkeley DB
    may move on to) are removed (each goes when its last user lets
    go)."""
    if not os.path.isdir(state):
        return
    tool = os.environ.get("STORELOCK") or os.path.join(
        os.path.dirname(os.path.dirname(os.environ.get("POLICYD", ""))),
        "t", "integration", "storelock")
    r = subprocess.run([tool, state, "key"], capture_output=True,
                       text=True)
    if r.returncode != 0 or not r.stdout.strip():
        return
    base = int(r.stdout)
    if base == 0:
        return
    out = subprocess.run(["ipcs", "-m"], capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        f = line.split()  # key shmid owner perms bytes nattch
        if (len(f) >= 6 and f[0].startswith("0x")
                and 0 <= int(f[0], 16) - base < 8 * 16):
            subprocess.run(["ipcrm", "-m", f[1]], capture_output=True)


class Daemon:
    def __init__(self, config, args=(), start=True):
        self.tmp = tempfile.TemporaryDirectory(prefix="policyd-test-")
        self.dir = self.tmp.name
        self.config_path = os.path.join(self.dir, "policyd.yaml")
        self.write_config(config)
        self.args = list(args)
        self.proc = None
        self.log = []
        self.log_lock = threading.Condition()
        if start:
            self.start()

    def path(self, name):
        return os.path.join(self.dir, name)

    def write_config(self, text):
        text = text.replace("@DIR@", self.dir)
        tmp = self.config_path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.config_path)

    def start(self, env=None, rlimit_nofile=None):
        """Start the daemon and wait for its start line; rlimit_nofile:
        (soft, hard) descriptor limits to start it with."""
        with self.log_lock:
            skip = len(self.log)
            starts = sum(" started, policy " in l for l in self.log)
        cmd = [POLICYD, "-f", "-c", self.config_path,
               "--state-dir", self.path("state")] + self.args
        full_env = dict(os.environ, **(env or {}))
        preexec = None
        if rlimit_nofile is not None:
            import resource

            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, rlimit_nofile)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=full_env,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE,
                                     preexec_fn=preexec)
        self.reader = threading.Thread(target=self._read_log, daemon=True)
        self.reader.start()
        self.wait_log(r"policyd \S+ started", timeout=10,
                      count=starts + 1)
        with self.log_lock:
            fresh = "\n".join(self.log[skip:])
        self.listeners = re.findall(r"listening on (\S+)", fresh)
        self.port = None
        for l in self.listeners:
            m = re.match(r"inet:127\.0\.0\.1:(\d+)$", l)
            if m:
                self.port = int(m.group(1))
                break

    def _read_log(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.log_lock:
                self.log.append(line)
                self.log_lock.notify_all()

    def log_text(self):
        with self.log_lock:
            return "\n".join(self.log)

    def wait_log(self, pattern, timeout=5.0, count=1):
        """Wait until pattern matched count log lines; return the matches."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.log_lock:
            while True:
                found = [m for m in map(rx.search, self.log) if m]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None
                                 and not self.reader.is_alive()):
                    raise AssertionError(
                        "log never matched %r (%d/%d); log:\n%s"
                        % (pattern, len(found), count, "\n".join(self.log)))
                self.log_lock.wait(min(left, 0.1))

    def connect(self, port=None, timeout=10.0):
        s = socket.create_connection(("127.0.0.1", port or self.port),
                                     timeout=timeout)
        return s

    def connect_unix(self, path, timeout=10.0):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(path)
        return s

    def signal(self, sig):
        self.proc.send_signal(sig)

    def version(self):
        """The version the start line names ("policyd 0.1.0 started")."""
        m = self.wait_log(r"policyd (\S+) started, policy ")
        return m[-1].group(1)

    def stop(self, timeout=15.0):
        """SIGTERM; the exit status (policyd must exit by itself)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        self.reader.join(timeout=5)
        return rc

    def close(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.reader.join(timeout=5)
            self.proc.stderr.close()
            release_regions(self.path("state"))
        self.tmp.cleanup()


def read_replies(sock, n, timeout=10.0):
    """Read n replies; return their action texts in order."""
    sock.settimeout(timeout)
    buf = b""
    while buf.count(b"\n\n") < n:
        data = sock.recv(65536)
        if not data:
            raise AssertionError("connection closed after %r" % buf)
        buf += data
    parts = buf.split(b"\n\n")
    assert parts[n:] == [b""], "extra bytes after replies: %r" % parts[n:]
    out = []
    for p in parts[:n]:
        assert p.startswith(b"action="), p
        assert b"\n" not in p, p
        out.append(p[len(b"action="):].decode())
    return out


def ask(sock, **attrs):
    sock.sendall(request(**attrs))
    return read_replies(sock, 1)[0]


def closed_by_peer(sock, timeout=5.0):
    """True if the peer closes the connection (EOF or reset) in time."""
    sock.settimeout(timeout)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class DaemonTest(unittest.TestCase):
    """A test case whose daemons are cleaned up whatever happens."""

    def daemon(self, config, start=True, **kw):
        # The cleanup is registered before the daemon starts, so a start
        # that fails half-way never leaves a process behind.
        d = Daemon(config, start=False, **kw)
        self.addCleanup(d.close)
        if start:
            d.start()
        return d
