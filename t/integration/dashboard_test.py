#!/usr/bin/env python3
"""dashboard_test - contrib/grafana/policyd.json asks only for what the
daemon writes: every metric a panel queries is in the metrics file of a
real daemon (greylisting, a DNS list, backscatter, the store), with the
labels the panel groups by, so a renamed metric breaks this test and not
an operator's dashboard."""
import json
import os
import re
import time
import unittest

from pdtest import DaemonTest, ask, start_dnsd

DASHBOARD = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "..", "..", "contrib", "grafana", "policyd.json")

ZONE = """
2.0.0.127.bl.test. 60 IN A 127.0.0.2
"""

POLICY = """
listen:
  - inet: 127.0.0.1:0
dns:
  nameservers: [127.0.0.1:%d]
  timeout: 300ms
  tries: 1
metrics:
  interval: 1s
checks:
  rdns: {}
  dnsbl:
    lists:
      - zone: bl.test
  greylist: { delay: 1s, awl_clients: 0, awl_domains: 0 }
  backscatter: {}
"""


def families(text):
    """{family: set of label names seen} from the text format."""
    fams, types = {}, {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)$", line)
        if m:
            types[m.group(1)] = m.group(2)
            fams.setdefault(m.group(1), set())
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? \S+$", line)
        assert m, line
        name = m.group(1)
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[:-len(suffix)]
            if name.endswith(suffix) and types.get(base) == "histogram":
                fam = base
        labels = set(re.findall(r'([a-zA-Z_]\w*)="', m.group(3) or ""))
        fams.setdefault(fam, set()).update(labels)
    return fams


class Dashboard(DaemonTest):
    def test_every_query_names_a_metric_the_daemon_writes(self):
        with open(DASHBOARD) as f:
            dash = json.load(f)
        port = start_dnsd(self, ZONE)
        d = self.daemon(POLICY % port)
        s = d.connect()
        ask(s, protocol_state="RCPT", client_address="192.0.2.1",
            reverse_client_name="mail.example.org", sender="a@b.example",
            recipient="u@our.example")
        s.close()
        path = d.path("state/metrics.prom")
        deadline = time.monotonic() + 10
        while True:
            try:
                with open(path) as f:
                    fams = families(f.read())
                if "policyd_dnsbl_list_state" in fams and \
                        "policyd_greylist_entries" in fams:
                    break
            except FileNotFoundError:
                pass
            self.assertLess(time.monotonic(), deadline, "no metrics file")
            time.sleep(0.2)
        self.assertEqual(d.stop(), 0)

        queried = 0
        for panel in dash["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                names = set(re.findall(r"\bpolicyd_\w+", expr))
                self.assertTrue(names, "%s: no policyd metric in %s"
                                % (panel["title"], expr))
                fam_of = {}
                for n in names:
                    fam = n
                    for suffix in ("_bucket", "_sum", "_count"):
                        if n.endswith(suffix) and n[:-len(suffix)] in fams:
                            fam = n[:-len(suffix)]
                    self.assertIn(fam, fams, "%s: %s is not a metric the "
                                  "daemon writes" % (panel["title"], n))
                    fam_of[n] = fam
                    queried += 1
                # Labels grouped by, or matched, exist on those metrics.
                grouped = set()
                for by in re.findall(r"by \(([^)]*)\)", expr):
                    grouped.update(x.strip() for x in by.split(","))
                grouped.update(re.findall(r"(\w+)=~?\"", expr))
                grouped -= {"instance", "le"}
                have = set().union(*(fams[f] for f in fam_of.values()))
                for label in grouped:
                    self.assertIn(label, have, "%s: no label %s on %s"
                                  % (panel["title"], label,
                                     sorted(fam_of.values())))
        self.assertGreater(queried, 10)
        # The variables query a metric the daemon writes too.
        for var in dash["templating"]["list"]:
            q = var.get("query")
            if isinstance(q, dict):
                for n in re.findall(r"\bpolicyd_\w+", q["query"]):
                    self.assertIn(n, fams)


if __name__ == "__main__":
    unittest.main()
