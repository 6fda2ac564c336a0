#!/usr/bin/env python3
"""install_test - make install's result, in a temporary DESTDIR: every
file where a Debian administrator looks for it, an existing policy kept,
the installed binary accepting the installed policy (policyd -n), the
manuals rendering, the systemd unit verified and scored, and policyd's
readiness protocol (Type=notify) as systemd sees it.

Environment: BUILD (the CMake build directory), PREFIX (its install
prefix)."""
import os
import re
import shutil
import signal
import stat
import socket
import subprocess
import tempfile
import unittest

BUILD = os.environ["BUILD"]
PREFIX = os.environ.get("PREFIX", "/usr/local")


def install(destdir):
    r = subprocess.run(["cmake", "--install", BUILD],
                       env=dict(os.environ, DESTDIR=destdir),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


SOURCE = os.path.normpath(os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", ".."))


class SetUp(unittest.TestCase):
    """make run installs what building and running need, no more."""

    def packages(self):
        r = subprocess.run(["make", "-s", "-C", SOURCE, "print-packages"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        lists = dict(line.split(": ", 1) for line in r.stdout.splitlines())
        return lists["run"].split(), lists["test"].split()

    def test_make_run_installs_no_test_package(self):
        run, test = self.packages()
        # postgrey's package starts postgrey on 127.0.0.1:10023, the port
        # make run listens on; the others only the tests use.
        for p in ("postgrey", "gross", "postfix", "swaks", "libcmocka-dev",
                  "clang", "strace",
                  "python3-spf", "db5.3-util"):
            self.assertNotIn(p, run)
            self.assertIn(p, test)
        for p in ("libuv1-dev", "libldns-dev", "libdb5.3-dev",
                  "libyaml-dev", "libpsl-dev", "publicsuffix"):
            self.assertIn(p, run)

    def test_a_tree_without_the_tests_needs_neither_cmocka_nor_python(self):
        tmp = tempfile.mkdtemp(prefix="policyd-notests-")
        self.addCleanup(shutil.rmtree, tmp)
        r = subprocess.run(["cmake", "-S", SOURCE, "-B", tmp,
                            "-DPOLICYD_TESTS=OFF"], capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(tmp, "CMakeCache.txt")) as f:
            cache = f.read()
        self.assertNotIn("CMOCKA", cache)
        self.assertNotIn("Python3_EXECUTABLE", cache)


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest = tempfile.mkdtemp(prefix="policyd-install-")
        cls.out = install(cls.dest)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest)

    def p(self, path):
        return os.path.join(self.dest, path.lstrip("/"))

    def test_files_where_an_administrator_looks(self):
        for f in ["sbin/policyd", "sbin/policyctl",
                  "share/man/man8/policyd.8", "share/man/man1/policyctl.1",
                  "share/man/man5/policyd.yaml.5",
                  "lib/systemd/system/policyd.service",
                  "lib/tmpfiles.d/policyd.conf",
                  "lib/sysusers.d/policyd.conf",
                  "share/doc/policyd/refused.md",
                  "share/doc/policyd/refused.de.md"]:
            self.assertTrue(os.path.isfile(self.p(PREFIX + "/" + f)), f)
        for f in ["sbin/policyd", "sbin/policyctl"]:
            self.assertTrue(os.access(self.p(PREFIX + "/" + f), os.X_OK))
        for f in ["policyd.yaml", "dynamic.txt"]:
            self.assertTrue(os.path.isfile(self.p("/etc/policyd/" + f)), f)
        with open(self.p(PREFIX + "/lib/systemd/system/policyd.service")) as f:
            unit = f.read()
        self.assertIn("ExecStart=%s/sbin/policyd -f -c "
                      "/etc/policyd/policyd.yaml" % PREFIX, unit)

    def test_every_document_the_readme_names_installed_is_there(self):
        # Issue 24: the README (installed with them) pointed at documents
        # make install did not install.
        with open(os.path.join(SOURCE, "README.md")) as f:
            readme = f.read()
        m = re.search(r"the documents are in `PREFIX/share/doc/policyd/`:"
                      r"(.*?)(\n\n|$)", readme, re.S)
        self.assertIsNotNone(m)
        names = re.findall(r"\b[\w.-]+\.(?:md|dist|cf|json)\b", m.group(1))
        self.assertGreaterEqual(len(names), 9, names)
        for n in names:
            self.assertTrue(os.path.isfile(self.p(
                PREFIX + "/share/doc/policyd/" + n)), n)

    def test_the_policy_is_the_daemons_group_only(self):
        # Issue 24: the policy may hold a DNS list's access key; it was
        # installed 0644, readable by every user.
        mode = stat.S_IMODE(os.stat(self.p("/etc/policyd/policyd.yaml"))
                            .st_mode)
        self.assertEqual(mode, 0o640)
        self.assertEqual(stat.S_IMODE(os.stat(self.p(
            "/etc/policyd/dynamic.txt")).st_mode), 0o644)
        # The group comes from tmpfiles.d once sysusers made it; the unit
        # runs as that group, so the daemon still reads it.
        with open(self.p(PREFIX + "/lib/tmpfiles.d/policyd.conf")) as f:
            self.assertIn("z /etc/policyd/policyd.yaml 0640 root policyd -",
                          f.read())
        with open(self.p(PREFIX + "/lib/systemd/system/policyd.service")) as f:
            unit = f.read()
        self.assertIn("Group=policyd", unit)

    def test_installed_policyd_accepts_installed_policy(self):
        r = subprocess.run([self.p(PREFIX + "/sbin/policyd"), "-n",
                            self.p("/etc/policyd/policyd.yaml")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"policyd\.yaml: ok\n$")
        r = subprocess.run([self.p(PREFIX + "/sbin/policyd"), "--version"],
                           capture_output=True, text=True, timeout=30)
        self.assertRegex(r.stdout, r"^policyd \d+\.\d+")

    def test_existing_policy_is_kept(self):
        dest = tempfile.mkdtemp(prefix="policyd-install-")
        try:
            install(dest)
            mine = os.path.join(dest, "etc/policyd/policyd.yaml")
            with open(mine, "a") as f:
                f.write("# the administrator's own\n")
            out = install(dest)
            self.assertIn("Kept: %s" % mine, out)
            with open(mine) as f:
                self.assertTrue(f.read().endswith("# the administrator's "
                                                  "own\n"))
            self.assertTrue(os.path.isfile(os.path.join(
                dest, PREFIX.lstrip("/"),
                "share/doc/policyd/policyd.yaml.dist")))
        finally:
            shutil.rmtree(dest)

    def test_installed_manuals_render(self):
        for page in ["man8/policyd.8", "man1/policyctl.1",
                     "man5/policyd.yaml.5"]:
            r = subprocess.run(["man", "--warnings", "-l",
                                self.p(PREFIX + "/share/man/" + page)],
                               capture_output=True, text=True,
                               env=dict(os.environ, MANWIDTH="80"))
            self.assertEqual((r.returncode, r.stderr), (0, ""), page)

    def unit_copy(self, tmp):
        """The installed unit with its paths in DESTDIR: systemd-analyze
        checks that each command exists."""
        with open(self.p(PREFIX + "/lib/systemd/system/policyd.service")) as f:
            unit = f.read()
        unit = unit.replace(PREFIX + "/sbin/", self.p(PREFIX + "/sbin/"))
        unit = unit.replace("/etc/policyd/", self.p("/etc/policyd/"))
        path = os.path.join(tmp, "policyd.service")
        with open(path, "w") as f:
            f.write(unit)
        return path

    def test_unit_verifies_and_scores_ok(self):
        tmp = tempfile.mkdtemp()
        try:
            unit = self.unit_copy(tmp)
            r = subprocess.run(["systemd-analyze", "verify", unit],
                               capture_output=True, text=True, cwd=tmp,
                               env=dict(os.environ, MANPATH=self.p(
                                   PREFIX + "/share/man")))
            self.assertEqual((r.returncode, r.stderr), (0, ""))
            r = subprocess.run(["systemd-analyze", "security",
                                "--offline=true", unit],
                               capture_output=True, text=True, cwd=tmp)
            m = re.search(r"Overall exposure level for policyd\.service: "
                          r"(\d+\.\d+) (\w+)", r.stdout)
            self.assertIsNotNone(m, r.stdout + r.stderr)
            print("systemd-analyze security: %s %s" % m.groups())
            self.assertIn(m.group(2), ("PERFECT", "SAFE", "OK"))
            for want in ["Type=notify", "User=policyd",
                         "StateDirectory=policyd", "RuntimeDirectory=policyd",
                         "ProtectSystem=strict", "ProtectHome=yes",
                         "PrivateTmp=yes", "PrivateDevices=yes",
                         "NoNewPrivileges=yes",
                         "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                         "CapabilityBoundingSet=\n",
                         "SystemCallFilter=@system-service",
                         "Restart=on-failure"]:
                with open(unit) as f:
                    self.assertIn(want, f.read())
        finally:
            shutil.rmtree(tmp)

    def test_notify_ready_reloading_stopping(self):
        tmp = tempfile.mkdtemp()
        try:
            with open(self.p("/etc/policyd/policyd.yaml")) as f:
                pol = f.read()
            # Loopback only: a free port, a name server that is not there.
            pol = pol.replace("  - inet: 127.0.0.1:10023",
                              "  - inet: 127.0.0.1:0")
            pol = pol.replace("  # nameservers: [127.0.0.1:53]",
                              "  nameservers: [127.0.0.1:9]")
            self.assertIn("nameservers: [127.0.0.1:9]", pol)
            cfg = os.path.join(tmp, "policyd.yaml")
            with open(cfg, "w") as f:
                f.write(pol)
            shutil.copy(self.p("/etc/policyd/dynamic.txt"), tmp)
            sock_path = os.path.join(tmp, "notify")
            ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            ns.bind(sock_path)
            ns.settimeout(15)
            proc = subprocess.Popen(
                [self.p(PREFIX + "/sbin/policyd"), "-f", "-c", cfg,
                 "--state-dir", os.path.join(tmp, "state")],
                env=dict(os.environ, NOTIFY_SOCKET=sock_path),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            try:
                msg = ns.recv(4096).decode()
                self.assertIn("READY=1", msg.split("\n"))
                self.assertIn("MAINPID=%d" % proc.pid, msg.split("\n"))
                proc.send_signal(signal.SIGHUP)
                self.assertEqual(ns.recv(4096).decode(), "RELOADING=1")
                self.assertIn("READY=1", ns.recv(4096).decode().split("\n"))
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(ns.recv(4096).decode(), "STOPPING=1")
                self.assertEqual(proc.wait(timeout=30), 0)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                ns.close()
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    unittest.main()
