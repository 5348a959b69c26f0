"""Known-vulnerable products (issue 16): `dicomguard scan` against the lab's DCMTK storescp and Orthanc, started
by the test on 127.0.0.1, must report `product.vulnerable` with exactly the advisories of
data/vulnerabilities.json whose ranges hold the version the peer announces (computed here, independently, from
the JSON and the peer's own version), and `dicomguard report` must list them under "Patch" (Markdown and HTML).

Run: DICOMGUARD=build/dicomguard DG_SOURCE_DIR=. /usr/bin/python3 -m unittest -v tests/integration/test_vulnerable.py
"""

import json
import os
import re
import subprocess
import unittest

import helpers
import peers
from helpers import TempDir, parse_jsonl, run

SEVERITIES = ["info", "low", "medium", "high", "critical"]


def table():
    with open(os.path.join(helpers.SOURCE_DIR, "data", "vulnerabilities.json")) as f:
        return json.load(f)["entries"]


def numbers(version):
    """The leading dotted numbers, as the table's "about" defines them; None when it does not start with a digit."""
    m = re.match(r"\d+(?:\.\d+)*", version or "")
    return [int(x) for x in m.group(0).split(".")] if m else None


def cmp(a, b):
    n = max(len(a), len(b))
    a, b = a + [0] * (n - len(a)), b + [0] * (n - len(b))
    return (a > b) - (a < b)


def in_range(v, r):
    if "introduced" in r and cmp(v, numbers(r["introduced"])) < 0:
        return False
    if "fixed" in r and cmp(v, numbers(r["fixed"])) >= 0:
        return False
    if "last_affected" in r and cmp(v, numbers(r["last_affected"])) > 0:
        return False
    return True


def expected(product, version):
    v = numbers(version)
    return [e for e in table() if e["product"] == product and v is not None and any(in_range(v, r) for r in e["affected"])]


def installed_version(package):
    """The upstream version of an installed Debian package ("3.6.7" of "3.6.7-9~deb12u4"), or None."""
    cp = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True)
    if cp.returncode != 0 or not cp.stdout:
        return None
    return re.sub(r"^\d+:", "", cp.stdout).split("-")[0].split("+")[0]


class Checks:
    def assert_vulnerable(self, service, findings, product):
        version = service["product"]["version"]
        want = expected(product, version)
        got = [f for f in findings if f["target"] == helpers_target(service) and f["check"] == "product.vulnerable"]
        if not want:
            self.assertEqual(got, [], f"{product} {version}: no advisory covers it")
            return
        self.assertEqual(len(got), 1, findings)
        f = got[0]
        self.assertEqual(f["evidence"]["product"], product)
        self.assertEqual(f["evidence"]["version"], version)
        self.assertEqual(f["evidence"]["ids"], [e["id"] for e in want])
        self.assertEqual(f["severity"], max((e["severity"] for e in want), key=SEVERITIES.index))
        for a, e in zip(f["evidence"]["advisories"], want):
            self.assertEqual((a["id"], a["severity"], a["source"], a.get("fixed")), (e["id"], e["severity"], e["source"], e["fixed"]))
        fixes = [e["fixed"] for e in want]
        if all(fixes):
            self.assertEqual(f["evidence"]["fixed_in"], max(fixes, key=numbers))
        else:
            self.assertNotIn("fixed_in", f["evidence"])
        self.assertIn("product.vulnerable", service["checks"])
        return f


def helpers_target(service):
    return f"{service['address']}:{service['port']}"


@unittest.skipUnless(peers.have("storescp"), "DCMTK (Debian dcmtk) not installed")
class DcmtkStorescp(unittest.TestCase, Checks):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.s = peers.storescp(cls.tmp.path, "storescp").start().wait()
        cls.cp = run("scan", "--json", "--timeout", "3", "--no-tls", cls.s.target)
        cls.objs = parse_jsonl(cls.cp.stdout)  # checked against docs/json-lines.schema.json
        cls.path = cls.tmp.join("scan.jsonl")
        with open(cls.path, "w") as f:
            f.write(cls.cp.stdout)

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()
        cls.tmp.cleanup()

    def service(self):
        got = [o for o in self.objs if o["type"] == "service"]
        self.assertEqual(len(got), 1, self.cp.stdout + self.cp.stderr)
        return got[0]

    def test_the_announced_version_is_the_installed_one(self):
        s = self.service()
        self.assertEqual(s["product"]["product"], "DCMTK")
        pkg = installed_version("dcmtk")
        if pkg:
            self.assertEqual(s["product"]["version"], pkg)

    def test_the_advisories_whose_ranges_hold_it_are_reported_with_the_worst_severity(self):
        s = self.service()
        self.assertTrue(expected("DCMTK", s["product"]["version"]),
                        "the table should cover Debian 12's DCMTK 3.6.7; if this fails the data or the peer changed")
        f = self.assert_vulnerable(s, [o for o in self.objs if o["type"] == "finding"], "DCMTK")
        summary = [o for o in self.objs if o["type"] == "summary"][-1]
        self.assertGreaterEqual(summary["findings"][f["severity"]], 1)
        if SEVERITIES.index(f["severity"]) >= SEVERITIES.index("medium"):
            self.assertEqual(self.cp.returncode, 1)  # --fail-on medium, the default

    def test_the_text_output_names_the_advisories(self):
        text = run("scan", "--timeout", "3", "--no-tls", self.s.target)
        want = expected("DCMTK", self.service()["product"]["version"])
        self.assertIn("published advisor", text.stdout)
        self.assertIn(want[0]["id"], text.stdout)

    def test_the_report_lists_them_under_patch(self):
        want = expected("DCMTK", self.service()["product"]["version"])
        md = self.tmp.join("r.md")
        cp = run("report", self.path, "--format", "md", "-o", md)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        with open(md, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("## Patch", text)
        patch = text.split("## Patch", 1)[1].split("\n## ", 1)[0]
        self.assertIn(self.s.target, patch)
        for e in want:
            self.assertIn(e["id"], patch)
        html = self.tmp.join("r.html")
        cp = run("report", self.path, "-o", html)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        with open(html, encoding="utf-8") as f:
            page = f.read()
        m = re.search(r'<section id="patch">(.*?)</section>', page, re.S)
        self.assertIsNotNone(m, "no Patch section in the HTML report")
        for e in want:
            self.assertIn(e["id"], m.group(1))

    def test_a_report_without_vulnerable_products_has_no_patch_section(self):
        clean = self.tmp.join("clean.jsonl")
        with open(clean, "w") as f:
            for o in self.objs:
                if o["type"] == "finding" and o["check"].startswith("product."):
                    continue
                if o["type"] == "service":
                    o = dict(o, checks=[c for c in o["checks"] if not c.startswith("product.")])
                f.write(json.dumps(o) + "\n")
        md = self.tmp.join("clean.md")
        self.assertEqual(run("report", clean, "--format", "md", "-o", md).returncode, 0)
        with open(md, encoding="utf-8") as f:
            self.assertNotIn("## Patch", f.read())


@unittest.skipUnless(peers.have("Orthanc"), "Orthanc not installed")
class OrthancRestApi(unittest.TestCase, Checks):
    def test_the_version_from_system_is_checked_against_orthancs_advisories(self):
        with TempDir() as d:
            s = peers.orthanc(d.path, "orthanc").start().wait()
            try:
                cp = run("scan", "--json", "--timeout", "3", "--no-tls", f"127.0.0.1:{s.http_port}")
                objs = parse_jsonl(cp.stdout)
            finally:
                s.stop()
            web = [o for o in objs if o["type"] == "service" and o["protocol"] == "http"]
            self.assertEqual(len(web), 1, cp.stdout + cp.stderr)
            self.assertEqual(web[0]["product"]["product"], "Orthanc")
            pkg = installed_version("orthanc")
            if pkg:
                self.assertEqual(web[0]["product"]["version"], pkg)
            self.assert_vulnerable(web[0], [o for o in objs if o["type"] == "finding"], "Orthanc")


if __name__ == "__main__":
    unittest.main()
