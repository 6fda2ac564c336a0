#!/usr/bin/env python3
"""The manuals: each renders without a warning, and policyd.yaml(5)
documents exactly the keys the loader accepts.

policyd.yaml(5) names each key in a ".TP" entry whose first line is
".B path" (dns.timeout, access[].client, checks.CHECK.on_fail: an
upper-case segment stands for any name) and says its default. Its
examples (.EX ... .EE) are whole policy files. The test loads each
example with cfgkeys, which prints every mapping the loader checked and
the keys it accepts there; the YAML's own structure says where each
mapping is, so that gives the accepted key paths. Then:
  - every example loads;
  - every accepted key of every mapping the examples reach is
    documented;
  - every documented key is accepted, and used in some example (so that
    the mappings below it are reached too).

Environment: CFGKEYS (the helper), MANDIR (doc/man), ETC (etc/).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

CFGKEYS = os.environ.get("CFGKEYS", "cfgkeys")
MANDIR = os.environ.get("MANDIR", "../../doc/man")
ETC = os.environ.get("ETC", "../../etc")
PAGES = ["policyd.8", "policyctl.1", "policyd.yaml.5"]


def page(name):
    with open(os.path.join(MANDIR, name), encoding="utf-8") as f:
        return f.read()


def unroff(line):
    """The text of a line of an example, roff escapes undone."""
    for a, b in (("\\-", "-"), ("\\(dq", '"'), ("\\(aq", "'"),
                 ("\\e", "\\"), ("\\&", ""), ("\\~", " ")):
        line = line.replace(a, b)
    return line


def examples(text):
    """The .EX ... .EE blocks, as text."""
    out, cur = [], None
    for line in text.split("\n"):
        if line.startswith(".EX"):
            cur = []
        elif line.startswith(".EE"):
            out.append("\n".join(cur) + "\n")
            cur = None
        elif cur is not None:
            if line.startswith(".") and not line.startswith(".\\\""):
                continue  # a request inside an example (.sp)
            cur.append(unroff(line))
    return out


def documented(text):
    """Documented key paths -> the entry's text."""
    keys, lines = {}, text.split("\n")
    for i, line in enumerate(lines):
        if line == ".TP" and i + 1 < len(lines) and \
                lines[i + 1].startswith(".B "):
            path = unroff(lines[i + 1][3:].strip().strip('"'))
            if not re.match(r"^[a-z_A-Z][a-zA-Z_0-9.\[\]]*$", path):
                continue
            body = []
            for j in range(i + 2, len(lines)):
                if lines[j].startswith((".TP", ".SS", ".SH")):
                    break
                body.append(lines[j])
            keys[path] = "\n".join(body)
    return keys


def normalize(path):
    """A profile's checks and scores are the main policy's keys."""
    return re.sub(r"^profiles\.\*\.(checks|scores)\.", r"\1.", path)


def walk(node, path, places, observed, used):
    """places: (line, column) of each mapping -> its path; used: the key
    paths present. A mapping the loader does not check key by key (its
    keys are names: profiles) gives '*' to its keys."""
    if isinstance(node, yaml.MappingNode):
        where = (node.start_mark.line + 1, node.start_mark.column + 1)
        places[where] = path
        free = where not in observed
        for k, v in node.value:
            seg = "*" if free else k.value
            sub = f"{path}.{seg}" if path else seg
            used.add(normalize(sub))
            walk(v, sub, places, observed, used)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            walk(item, path + "[]", places, observed, used)


def matches(doc, path):
    """A documented path (upper-case segments: any name) and a real one."""
    d = re.split(r"\.", doc.replace("[]", ".[]"))
    p = re.split(r"\.", path.replace("[]", ".[]"))
    if len(d) != len(p):
        return False
    return all(a == b or (a.isupper() and b != "[]") for a, b in zip(d, p))


class Manuals(unittest.TestCase):
    def test_manuals_render_without_warnings(self):
        for name in PAGES:
            r = subprocess.run(["groff", "-man", "-ww", "-z",
                                os.path.join(MANDIR, name)],
                               capture_output=True, text=True)
            self.assertEqual((r.returncode, r.stderr), (0, ""), name)
            r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l",
                                os.path.join(MANDIR, name)],
                               capture_output=True, text=True,
                               env=dict(os.environ, MANWIDTH="80",
                                        MAN_KEEP_FORMATTING="0"))
            self.assertEqual((r.returncode, r.stderr), (0, ""), name)
            plain = re.sub(r".\x08", "", r.stdout)  # overstrike
            self.assertIn("\nNAME\n", plain, name)

    def test_policyd_yaml_documents_every_key_the_loader_accepts(self):
        text = page("policyd.yaml.5")
        docs = documented(text)
        self.assertGreater(len(docs), 50, "few keys found: the format?")
        for path, body in docs.items():
            self.assertRegex(body, r"Default", f"{path}: no default given")
        accepted, used = set(), set()
        tmp = tempfile.mkdtemp()
        try:
            shutil.copy(os.path.join(ETC, "dynamic.txt"), tmp)
            exs = examples(text)
            self.assertGreater(len(exs), 5)
            for n, ex in enumerate(exs):
                f = os.path.join(tmp, f"example{n}.yaml")
                with open(f, "w") as out:
                    out.write(ex)
                r = subprocess.run([CFGKEYS, f], capture_output=True,
                                   text=True)
                self.assertEqual(r.returncode, 0,
                                 f"example {n} does not load: {r.stderr}"
                                 f"\n{ex}")
                observed = {}
                for line in r.stdout.split("\n"):
                    if line:
                        where, *keys = line.split(" ")
                        ln, col = where.split(":")
                        observed[(int(ln), int(col))] = keys
                places = {}
                walk(yaml.compose(ex), "", places, observed, used)
                for where, keys in observed.items():
                    self.assertIn(where, places, f"example {n}: {where}")
                    base = places[where]
                    for k in keys:
                        accepted.add(normalize(f"{base}.{k}" if base
                                               else k))
        finally:
            shutil.rmtree(tmp)
        undocumented = sorted(a for a in accepted
                              if not any(matches(d, a) for d in docs))
        self.assertEqual(undocumented, [], "accepted, not documented")
        def reached(d):
            # accepted, or the path of a mapping of names above an
            # accepted key (profiles.NAME)
            for a in accepted:
                parts = a.replace("[]", ".[]").split(".")
                for k in range(1, len(parts) + 1):
                    if matches(d, ".".join(parts[:k]).replace(".[]", "[]")):
                        return True
            return False
        for d in docs:
            self.assertTrue(reached(d), f"{d}: documented, not accepted")
            if re.search(r"setting\s+it\s+is\s+an\s+error", docs[d]):
                continue  # a key accepted only to be refused by name
            self.assertTrue(any(matches(d, u) for u in used),
                            f"{d}: in no example")

    def test_policyctl_documents_every_command(self):
        text = page("policyctl.1")
        # The table of commands (family, verb, ...) policyctl and the
        # daemon share.
        with open(os.path.join(os.path.dirname(__file__), "..", "..",
                               "lib", "ctl", "ctl.c")) as f:
            src = f.read()
        cmds = set(re.findall(r'\{ \{ "([a-z-]+)", ', src))
        self.assertGreater(len(cmds), 5)
        for c in cmds:
            self.assertRegex(text, r"\.B %s\b" % re.escape(c),
                             f"policyctl {c}: not in policyctl(1)")

    def test_policyd_documents_every_option(self):
        text = page("policyd.8")
        with open(os.path.join(os.path.dirname(__file__), "..", "..",
                               "policyd", "policyd.c")) as f:
            src = f.read()
        opts = re.findall(r'\{ "([a-z-]+)", (?:no|required)_argument', src)
        self.assertGreater(len(opts), 5)
        plain = text.replace("\\-", "-")
        for o in opts:
            self.assertTrue("--" + o in plain, f"--{o} not in policyd(8)")


class RefusedPage(unittest.TestCase):
    """doc/refused.md and its German translation have a section for every
    anchor a reply can link to (the rule table of lib/verdict.c), the
    same ones, and every link inside them lands."""

    def test_every_reply_link_has_its_section_in_both_languages(self):
        root = os.path.join(os.path.dirname(__file__), "..", "..")
        with open(os.path.join(root, "lib", "verdict.c")) as f:
            src = f.read()
        m = re.search(r"\} anchors\[\] = \{(.*?)\};", src, re.S)
        self.assertIsNotNone(m)
        want = set(re.findall(r'\{ "[^"]+", "([a-z-]+)", (?:true|false) \}',
                              m.group(1)))
        self.assertGreater(len(want), 10)
        for name in ("refused.md", "refused.de.md"):
            with open(os.path.join(root, "doc", name),
                      encoding="utf-8") as f:
                text = f.read()
            have = re.findall(r'<a id="([a-z-]+)"></a>\n## ', text)
            self.assertEqual(len(have), len(set(have)), name)
            self.assertEqual(set(have), want, name)
            for link in re.findall(r"\]\(#([a-z-]+)\)", text):
                self.assertIn(link, have, f"{name}: #{link}")


if __name__ == "__main__":
    unittest.main()
