"""metrics_test - the daemon's metrics file, read with the rules of the
Prometheus text exposition format (0.0.4): names, types, label escaping,
histogram buckets; written atomically every interval and once more at
exit; policyctl stats --prometheus prints the same figures."""
import math
import os
import re
import signal
import socket
import stat
import subprocess
import time
import unittest

from pdtest import DaemonTest, ask, closed_by_peer, request, read_replies

POLICYCTL = os.environ.get("POLICYCTL", "policyctl")

POLICY = """
listen:
  - inet: 127.0.0.1:0
metrics:
  interval: 1s
access:
  - name: 'office "main" \\ net'
    client: 192.0.2.0/24
    action: OK
checks:
  greylist:
    delay: 1s
    awl_clients: 0
    awl_domains: 0
    sweep_interval: 200ms
"""

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*$")


def parse_value(s):
    if s in ("+Inf", "-Inf", "NaN"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    return float(s)


def parse_labels(s, where):
    """'{a="x\\"y",b="z"}' -> dict, with the format's escapes undone."""
    labels, i = {}, 1
    while s[i] != "}":
        m = re.match(r"([^=]+)=\"", s[i:])
        if not m or not LABEL.match(m.group(1)):
            raise AssertionError("%s: bad label name in %r" % (where, s))
        name, i = m.group(1), i + m.end()
        val = ""
        while s[i] != '"':
            if s[i] == "\\":
                esc = s[i + 1]
                if esc not in '\\"n':
                    raise AssertionError("%s: bad escape \\%s" % (where, esc))
                val += "\n" if esc == "n" else esc
                i += 2
            else:
                if s[i] == "\n":
                    raise AssertionError("%s: raw newline" % where)
                val += s[i]
                i += 1
        i += 1
        if name in labels:
            raise AssertionError("%s: label %s twice" % (where, name))
        labels[name] = val
        if s[i] == ",":
            i += 1
        elif s[i] != "}":
            raise AssertionError("%s: bad label list %r" % (where, s))
    return labels, i + 1


def parse(text):
    """The families: name -> {type, help, samples: [(name, labels, v)]},
    checked as Prometheus's text parser would check them."""
    if text and not text.endswith("\n"):
        raise AssertionError("no newline at the end")
    fams, order, current, seen = {}, [], None, set()
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d" % n
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, name, rest = line[2:6], *line[7:].split(" ", 1)
            if not NAME.match(name):
                raise AssertionError("%s: bad name %r" % (where, name))
            f = fams.setdefault(name, {"type": "untyped", "help": None,
                                       "samples": []})
            if kind == "TYPE":
                if f.get("typed") or f["samples"]:
                    raise AssertionError("%s: TYPE of %s late or twice"
                                         % (where, name))
                if rest not in ("counter", "gauge", "histogram",
                                "summary", "untyped"):
                    raise AssertionError("%s: type %r" % (where, rest))
                f["type"], f["typed"] = rest, True
            else:
                if f["help"] is not None:
                    raise AssertionError("%s: HELP twice" % where)
                f["help"] = rest
            if name not in order:
                order.append(name)
            current = name
            continue
        if line.startswith("#") or line == "":
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
        if not m:
            raise AssertionError("%s: bad sample %r" % (where, line))
        sname, rest = m.group(1), line[m.end():]
        labels = {}
        if rest.startswith("{"):
            labels, used = parse_labels(rest, where)
            rest = rest[used:]
        if not rest.startswith(" "):
            raise AssertionError("%s: no value in %r" % (where, line))
        parts = rest.split()
        value = parse_value(parts[0])
        fam = sname
        for suffix in ("_bucket", "_sum", "_count"):
            if sname.endswith(suffix) and sname[:-len(suffix)] in fams and \
                    fams[sname[:-len(suffix)]]["type"] == "histogram":
                fam = sname[:-len(suffix)]
        if fam not in fams:
            raise AssertionError("%s: %s has no TYPE" % (where, sname))
        if fam != current:
            raise AssertionError("%s: %s apart from its family" %
                                 (where, sname))
        key = (sname, tuple(sorted(labels.items())))
        if key in seen:
            raise AssertionError("%s: series twice: %r" % (where, key))
        seen.add(key)
        fams[fam]["samples"].append((sname, labels, value))
    for name, f in fams.items():
        if f["type"] == "counter":
            assert name.endswith("_total"), name
            for s in f["samples"]:
                assert s[2] >= 0 and not math.isnan(s[2]), s
        if f["type"] == "histogram":
            check_histogram(name, f["samples"])
    return fams


def check_histogram(name, samples):
    groups = {}
    for sname, labels, v in samples:
        rest = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        g = groups.setdefault(rest, {"buckets": [], "sum": None,
                                     "count": None})
        if sname == name + "_bucket":
            g["buckets"].append((parse_value(labels["le"]), v))
        elif sname == name + "_sum":
            g["sum"] = v
        elif sname == name + "_count":
            g["count"] = v
    for g in groups.values():
        les = [b[0] for b in g["buckets"]]
        assert les == sorted(les) and len(set(les)) == len(les), les
        assert les and les[-1] == math.inf, "no +Inf bucket"
        counts = [b[1] for b in g["buckets"]]
        assert counts == sorted(counts), "buckets not cumulative: %r" % counts
        assert g["count"] == counts[-1], (g["count"], counts[-1])
        assert g["sum"] is not None


def value(fams, name, **labels):
    for fam in fams.values():
        for sname, l, v in fam["samples"]:
            if sname == name and l == labels:
                return v
    raise AssertionError("no %s%r" % (name, labels))


class Metrics(DaemonTest):
    def read_when(self, d, pred, timeout=10):
        path = d.path("state/metrics.prom")
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                with open(path) as f:
                    text = f.read()
                fams = parse(text)
                if pred(fams):
                    return text, fams
                last = text
            except FileNotFoundError:
                pass
            time.sleep(0.1)
        self.fail("metrics never as wanted; last:\n%s" % last)

    def test_metrics_file_follows_the_format_and_counts(self):
        d = self.daemon(POLICY)
        s = d.connect()
        for i in range(3):
            self.assertEqual(ask(s, client_address="192.0.2.%d" % (i + 1),
                                 sender="a@b.example"), "OK")
        a = ask(s, protocol_state="RCPT", client_address="198.51.100.7",
                client_name="unknown", sender="x@y.example",
                recipient="u@our.example")
        self.assertTrue(a.startswith("DEFER_IF_PERMIT 4.7.1"), a)
        s.sendall(b"request=smtpd_access_policy\nno_equals_sign\n\n")
        read_replies(s, 1)
        s.close()

        def ready(f):
            return ("policyd_greylist_entries" in f and
                    "policyd_decisions_total" in f and
                    value(f, "policyd_request_duration_seconds_count") == 4
                    and value(f, "policyd_greylist_entries") == 1)
        text, f = self.read_when(d, ready)
        self.assertEqual(value(f, "policyd_decisions_total", action="accept",
                               rule='office "main" \\ net'), 3)
        self.assertEqual(value(f, "policyd_decisions_total", action="defer",
                               rule="greylist:new"), 1)
        self.assertEqual(value(f, "policyd_malformed_requests_total"), 1)
        self.assertEqual(value(f, "policyd_store_records", table="greylist"),
                         1)
        self.assertEqual(value(f, "policyd_backscatter_blocked"), 0)
        self.assertEqual(value(f, "policyd_store_up"), 1)
        self.assertGreaterEqual(value(f, "policyd_store_operations_total"), 1)
        self.assertEqual(value(f, "policyd_store_errors_total", kind="fatal"),
                         0)
        for name in ("policyd_dns_questions_total",
                     "policyd_dns_cache_hits_total",
                     "policyd_dns_timeouts_total",
                     "policyd_checks_total"):
            self.assertIn(name, f)
        self.assertEqual(f["policyd_request_duration_seconds"]["type"],
                         "histogram")
        # The escaping as it is on disk, too.
        self.assertIn('rule="office \\"main\\" \\\\ net"', text)
        # Written by rename: the file is replaced, never left half-written
        # and no temporary files stay.
        ino = os.stat(d.path("state/metrics.prom")).st_ino
        deadline = time.monotonic() + 5
        while os.stat(d.path("state/metrics.prom")).st_ino == ino:
            self.assertLess(time.monotonic(), deadline, "never rewritten")
            time.sleep(0.1)
        self.assertEqual([n for n in os.listdir(d.path("state"))
                          if n.startswith("metrics.prom.")], [])

        # policyctl prints the daemon's figures.
        r = subprocess.run([POLICYCTL, "-c", d.config_path, "--state-dir",
                            d.path("state"), "stats", "--prometheus"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        pf = parse(r.stdout)
        self.assertEqual(value(pf, "policyd_decisions_total", action="defer",
                               rule="greylist:new"), 1)

        # The last figures at exit: a request just before SIGTERM counts.
        s = d.connect()
        ask(s, client_address="192.0.2.99")
        s.close()
        self.assertEqual(d.stop(), 0)
        with open(d.path("state/metrics.prom")) as fh:
            f = parse(fh.read())
        self.assertEqual(value(f, "policyd_decisions_total", action="accept",
                               rule='office "main" \\ net'), 4)

        # Stale (no daemon): policyctl says so and counts the store itself.
        old = time.time() - 3600
        os.utime(d.path("state/metrics.prom"), (old, old))
        r = subprocess.run([POLICYCTL, "-c", d.config_path, "--state-dir",
                            d.path("state"), "stats", "--prometheus"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("older than three metrics intervals", r.stderr)
        pf = parse(r.stdout)
        self.assertEqual(value(pf, "policyd_greylist_entries"), 1)
        self.assertNotIn("policyd_decisions_total", pf)

    def test_blocked_gauge_follows_policyctl_block_and_unblock(self):
        # The gauge no longer walks the table every round: a block made
        # through the daemon must still show in the next round, and end.
        d = self.daemon(POLICY)

        def ctl(*args):
            r = subprocess.run([POLICYCTL, "-c", d.config_path,
                                "--state-dir", d.path("state")] +
                               list(args), capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)

        self.read_when(d, lambda f: "policyd_backscatter_blocked" in f and
                       value(f, "policyd_backscatter_blocked") == 0)
        ctl("backscatter", "block", "203.0.113.9")
        ctl("backscatter", "block", "2001:db8::9", "--for", "1h")
        self.read_when(d, lambda f:
                       value(f, "policyd_backscatter_blocked") == 2)
        ctl("backscatter", "unblock", "203.0.113.9")
        self.read_when(d, lambda f:
                       value(f, "policyd_backscatter_blocked") == 1)

    def test_the_file_is_readable_by_a_collector_whatever_the_umask(self):
        # Issue 24: the unit's UMask=0027 made the file 0640 policyd:
        # policyd, and node_exporter, another user, could not read it.
        old = os.umask(0o027)
        try:
            d = self.daemon(POLICY)
        finally:
            os.umask(old)
        path = d.path("state/metrics.prom")
        self.read_when(d, lambda f: "policyd_build_info" in f)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o644)
        self.assertEqual(d.stop(), 0)
        # metrics.mode chooses another.
        d = self.daemon(POLICY.replace("  interval: 1s",
                                       "  interval: 1s\n  mode: \"0640\""))
        self.read_when(d, lambda f: "policyd_build_info" in f)
        self.assertEqual(stat.S_IMODE(os.stat(
            d.path("state/metrics.prom")).st_mode), 0o640)
        self.assertEqual(d.stop(), 0)

    def test_what_an_operator_expects_of_the_daemon_itself(self):
        d = self.daemon(POLICY.replace(
            "access:", "max_connections: 2\nallow: [127.0.0.1/32]\naccess:"))
        t0 = time.time()
        f = self.read_when(d, lambda f: "policyd_build_info" in f)[1]
        self.assertEqual(value(f, "policyd_build_info",
                               version=d.version()), 1)
        started = value(f, "policyd_start_time_seconds")
        self.assertLess(abs(started - t0), 10)
        self.assertEqual(value(f, "policyd_last_reload_successful"), 1)
        self.assertEqual(value(f, "policyd_reloads_total", result="ok"), 0)
        # Two connections open; a third is past max_connections.
        a, b = d.connect(), d.connect()
        ask(a, client_address="192.0.2.1")
        ask(b, client_address="192.0.2.2")
        c = d.connect()
        self.assertTrue(closed_by_peer(c))
        c.close()
        self.read_when(d, lambda f: value(f, "policyd_connections") == 2 and
                       value(f, "policyd_connections_refused_total",
                             why="limit") == 1)
        a.close()
        b.close()
        # A reload that works, then one that fails: the policy in force
        # is older than the file.
        d.signal(signal.SIGHUP)
        d.wait_log(r"reloaded policy from")
        self.read_when(d, lambda f: value(f, "policyd_reloads_total",
                                          result="ok") == 1)
        with open(d.config_path, "a") as fh:
            fh.write("no_such_key: 1\n")
        d.signal(signal.SIGHUP)
        d.wait_log(r"reload failed")
        f = self.read_when(d, lambda f: value(f, "policyd_reloads_total",
                                              result="failed") == 1)[1]
        self.assertEqual(value(f, "policyd_last_reload_successful"), 0)
        self.assertGreaterEqual(
            value(f, "policyd_last_reload_success_timestamp_seconds"),
            started)
        self.assertEqual(d.stop(), 0)

    def test_a_client_outside_allow_is_counted(self):
        d = self.daemon(POLICY.replace("access:",
                                       "allow: [192.0.2.0/24]\naccess:"))
        c = d.connect()
        self.assertTrue(closed_by_peer(c))
        c.close()
        self.read_when(d, lambda f: value(f, "policyd_connections_refused"
                                          "_total", why="allow") == 1)
        self.assertEqual(d.stop(), 0)

    def test_greylisting_delays_are_a_histogram(self):
        d = self.daemon(POLICY)
        s = d.connect()
        a = ask(s, protocol_state="RCPT", client_address="198.51.100.7",
                sender="x@y.example", recipient="u@our.example")
        self.assertTrue(a.startswith("DEFER_IF_PERMIT 4.7.1"), a)
        time.sleep(1.2)
        self.assertEqual(ask(s, protocol_state="RCPT",
                             client_address="198.51.100.7",
                             sender="x@y.example",
                             recipient="u@our.example"), "DUNNO")
        s.close()
        f = self.read_when(d, lambda f: value(
            f, "policyd_greylist_delay_seconds_count") == 1)[1]
        self.assertEqual(f["policyd_greylist_delay_seconds"]["type"],
                         "histogram")
        self.assertEqual(value(f, "policyd_greylist_delay_seconds_bucket",
                               le="60"), 1)
        self.assertGreaterEqual(value(f, "policyd_greylist_delay_seconds"
                                      "_sum"), 1)
        self.assertEqual(d.stop(), 0)

    def test_a_dry_run_week_refuses_nothing_and_says_what_would_have_been(self):
        # Issue 24: a site coming from postgrey watches a week first.
        policy = POLICY.replace("access:", """dry_run: true
access:
  - name: blocked net
    client: 203.0.113.0/24
    action: REJECT not from here""")
        d = self.daemon(policy)
        d.wait_log(r"warning: dry_run is on: nothing is refused or deferred")
        s = d.connect()
        self.assertEqual(ask(s, client_address="203.0.113.5"), "DUNNO")
        d.wait_log(r'decision action=DUNNO would="REJECT not from here" '
                   r'rule="blocked net" client=203\.0\.113\.5 ')
        rcpt = dict(protocol_state="RCPT", client_address="198.51.100.7",
                    sender="x@y.example", recipient="u@our.example")
        self.assertEqual(ask(s, **rcpt), "DUNNO")
        d.wait_log(r'decision action=DUNNO would="DEFER_IF_PERMIT 4\.7\.1 '
                   r'Greylisted: .*" rule="greylist:new\(wait=1s\)"')
        # Greylisting learns meanwhile: the retry passes as it would.
        time.sleep(1.2)
        self.assertEqual(ask(s, **rcpt), "DUNNO")
        d.wait_log(r'decision action=DUNNO rule="greylist:pass\(delayed=')
        # What is let through is no refusal: no would= on it.
        self.assertEqual(ask(s, client_address="192.0.2.1"), "OK")
        s.close()
        f = self.read_when(d, lambda f: value(
            f, "policyd_dry_run_answers_total", would="defer") == 1)[1]
        self.assertEqual(value(f, "policyd_dry_run"), 1)
        self.assertEqual(value(f, "policyd_dry_run_answers_total",
                               would="reject"), 1)
        # The decisions count what policyd decided.
        self.assertEqual(value(f, "policyd_decisions_total",
                               action="defer", rule="greylist:new"), 1)
        self.assertEqual(d.stop(), 0)

    def test_metrics_disabled_writes_nothing(self):
        d = self.daemon(POLICY.replace("  interval: 1s",
                                       "  enabled: false"))
        s = d.connect()
        ask(s, client_address="192.0.2.1")
        s.close()
        time.sleep(1.5)
        self.assertEqual(d.stop(), 0)
        self.assertFalse(os.path.exists(d.path("state/metrics.prom")))

    def test_metrics_unwritable_file_logged_once_and_serving_goes_on(self):
        d = self.daemon(POLICY.replace(
            "  interval: 1s", "  interval: 1s\n  file: @DIR@/no/such/m.prom"))
        d.wait_log(r"metrics: cannot write .*/no/such/m.prom: No such file",
                   timeout=5)
        s = d.connect()
        self.assertEqual(ask(s, client_address="192.0.2.1"), "OK")
        s.close()
        time.sleep(1.2)
        self.assertEqual(len(d.wait_log(r"metrics: cannot write")), 1)
        self.assertEqual(d.stop(), 0)

    def test_stdio_process_does_no_store_figures_work(self):
        """Under spawn(8) every connection is a process (--stdio), which
        writes no metrics file: it must not walk the store for figures
        nobody reads (the walk made the tables it counted, too)."""
        d = self.daemon(POLICY, start=False)
        os.mkdir(d.path("state"))  # spawn's processes share the daemon's
        proc = subprocess.Popen(
            [os.environ.get("POLICYD", "policyd"), "--stdio", "-f", "-c",
             d.config_path, "--state-dir", d.path("state")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        try:
            proc.stdin.write(request(protocol_state="RCPT",
                                     client_address="198.51.100.9",
                                     sender="a@b.example",
                                     recipient="u@our.example"))
            proc.stdin.flush()
            self.assertTrue(proc.stdout.readline().startswith(
                b"action=DEFER_IF_PERMIT 4.7.1"))
            time.sleep(1.5)  # several sweeps (sweep_interval: 200ms)
            proc.stdin.close()
            self.assertEqual(proc.wait(timeout=15), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        files = os.listdir(d.path("state"))
        self.assertIn("greylist.db", files)
        for name in ("whitelist.db", "backscatter.db", "metrics.prom"):
            self.assertNotIn(name, files)


if __name__ == "__main__":
    unittest.main()
