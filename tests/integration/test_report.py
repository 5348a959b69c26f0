"""`dicomguard demo`, `report` and `matrix`: the report of a real demo run (the lab on 127.0.0.1, scanned with TLS,
and the bundled samples checked), rendered in headless Chromium: a screenshot and a PDF, no console errors, no
network requests by the page, the checklist alone on the first printed page, every checklist item's status as
the JSON results say, and no patient name in the HTML. Partial and empty results say "not measured".
"""

import json
import os
import re
import shutil
import subprocess
import unittest

import peers
from helpers import TempDir, parse_jsonl, run

CHROMIUM = shutil.which("chromium")
# Chromium's own background traffic (updates, accounts, time) goes to a dead proxy on loopback; names never resolve.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
                  "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
                  "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"]
LAB_PATIENTS = ("LABSYNTHETIC",)          # the lab's synthetic patients (dicomguard lab)
SAMPLE_PATIENTS = ("DEMO^CLEAN", "DEMO^PE", "DEMO^ELF", "DEMO^SCRIPT", "DEMO^PAYLOAD", "DEMO^DOCUMENT", "DEMO-0001")


def load(*paths):
    objs = []
    for p in paths:
        with open(p) as f:
            objs += parse_jsonl(f.read())  # checked against docs/json-lines.schema.json
    return objs


def expected_checklist(objs):
    """The checklist statuses derived here, independently, from the JSON results (what a user would check)."""
    findings = {}
    for o in objs:
        if o["type"] == "finding":
            findings.setdefault(o["check"], set()).add(o["target"])
    services = [o for o in objs if o["type"] == "service"]
    tls = [o for o in objs if o["type"] == "tls"]
    files = [o for o in objs if o["type"] == "file"]
    verified = [o for o in objs if o["type"] == "verify"]
    summaries = [o for o in objs if o["type"] == "summary"]
    scanned = any(s.get("command") == "scan" for s in summaries)
    assessed = any(s.get("command") == "scan" and s.get("mode") == "assess" for s in summaries)
    dimse = [s for s in services if s["protocol"] in ("dimse", "dimse-tls")]

    def judge(checks, measured):
        if any(c in findings for c in checks):
            return "fail"
        return "pass" if measured else "not-measured"
    tls_services = [s for s in services if s["protocol"] in ("dimse-tls", "https")]
    if any(c in findings for c in ("dimse.plaintext", "http.plaintext", "tls.profile.none")):
        tls_status = "fail"
    elif not tls or (scanned and not services) or (scanned and len(tls) < len(tls_services)):
        tls_status = "not-measured"
    else:
        tls_status = "pass"
    return {
        "ae": judge(["dimse.ae.any-called", "dimse.ae.any-calling", "dimse.ae.default-called"], scanned and dimse),
        "tls": tls_status,
        "certificates": judge(["tls.cert.expired", "tls.cert.not-yet-valid", "tls.cert.weak-key",
                               "tls.cert.weak-signature", "tls.cert.self-signed", "tls.client-auth.not-required"],
                              bool(tls)),
        "query": judge(["dimse.query.open", "dimse.retrieve.open", "http.orthanc.open", "http.dicomweb.open",
                        "http.default-credentials"], assessed and services),
        "store": judge(["dimse.store.open", "http.orthanc.open", "http.default-credentials"], assessed and services),
        "files": "fail" if any(f["verdict"] == "dangerous" for f in files) else ("pass" if files else "not-measured"),
        "audit": "not-measured",
        "clock": judge(["clock.skew", "ntp.mode6"], any(o["type"] == "clock" for o in objs)),
        "deid": ("fail" if any(v["status"] != "clean" for v in verified) else "pass") if verified else "not-measured",
    }


def html_checklist(html):
    return dict(re.findall(r'<tr data-item="([a-z]+)" data-status="([a-z-]+)"', html))


def chromium(*args, cwd):
    profile = os.path.join(cwd, "chromium-profile")
    shutil.rmtree(profile, ignore_errors=True)
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=180)


class DemoReport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir("dg-report-")
        cls.out = cls.tmp.join("demo")
        cls.cp = run("demo", "--out", cls.out, timeout=300)
        cls.scan, cls.files = os.path.join(cls.out, "scan.jsonl"), os.path.join(cls.out, "files.jsonl")
        cls.verify = os.path.join(cls.out, "verify.jsonl")
        cls.html_path = os.path.join(cls.out, "report.html")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def html(self):
        with open(self.html_path, encoding="utf-8") as f:
            return f.read()

    def test_demo_runs_everything_and_says_where_the_report_is(self):
        self.assertEqual(self.cp.returncode, 0, self.cp.stderr)
        self.assertIn(self.html_path, self.cp.stdout)
        objs = load(self.scan, self.files)
        types = {o["type"] for o in objs}
        self.assertTrue({"service", "tls", "file", "finding", "summary"} <= types, types)
        tls = [o for o in objs if o["type"] == "tls"]
        self.assertEqual([t["mode"] for t in tls], ["full"])  # the hardened lab service, graded in full
        verdicts = {os.path.basename(o["path"]): o["verdict"] for o in objs if o["type"] == "file"}
        self.assertEqual(verdicts["polyglot-pe.dcm"], "dangerous")
        self.assertEqual(verdicts["document-active.pdf.dcm"], "dangerous")
        self.assertEqual(verdicts["clean.dcm"], "clean")
        # The samples were de-identified and verified: no sample patient's name in any output byte.
        verified = [o for o in load(self.verify) if o["type"] == "verify"]
        self.assertGreater(len(verified), 0)
        for v in verified:
            with open(v["path"], "rb") as f:
                data = f.read()
            for name in SAMPLE_PATIENTS:
                self.assertNotIn(name.encode(), data, v["path"])
        # The lab was stopped: nothing listens on its ports any more.
        ports = {o["port"] for o in objs if o["type"] == "service"}
        self.assertEqual(len(ports), 2)
        for p in ports:
            with self.assertRaises(OSError):
                peers.socket.create_connection(("127.0.0.1", p), timeout=1).close()

    def test_the_commands_the_demo_suggests_run_as_given(self):
        """The demo's last line names the story and the purchase check for its own results: pasted, each runs."""
        line = next(l for l in self.cp.stdout.splitlines() if l.startswith("Told for people:"))
        commands = re.findall(r"'dicomguard ([^']+)'", line)
        self.assertEqual(len(commands), 3, line)
        story = run(*commands[0].split())
        self.assertEqual(story.returncode, 0, story.stderr)
        self.assertIn("For the CISO. Told with the numbers of your own results.", story.stdout)
        self.assertEqual(run(*commands[1].split()).returncode, 0)  # the communications matrix
        rfp = run(*commands[2].split())
        self.assertEqual(rfp.returncode, 1, rfp.stderr)  # the demo's leaky PACS fails requirements
        self.assertIn("not met", rfp.stdout)

    def test_demo_measures_the_fix_before_and_after(self):
        # Before: the lab's legacy archive, plain DIMSE. After: the gateway in front of it, graded B.12 with a
        # certificate from dicomguard ca, mutual TLS and one calling AE bound to one certificate.
        before = load(os.path.join(self.out, "before.jsonl"))
        after = load(os.path.join(self.out, "after.jsonl"))
        b = [o for o in before if o["type"] == "service"]
        a = [o for o in after if o["type"] == "service"]
        self.assertEqual(len(b), 1)
        self.assertEqual(len(a), 1)
        self.assertEqual(b[0]["protocol"], "dimse")
        self.assertIn("dimse.plaintext", b[0]["checks"])
        self.assertEqual(a[0]["protocol"], "dimse-tls")
        self.assertNotIn("dimse.ae.any-calling", a[0]["checks"])
        tls = [o for o in after if o["type"] == "tls"]
        self.assertEqual(len(tls), 1)
        self.assertIn("B.12", tls[0]["meets"])
        self.assertEqual([c for c in tls[0]["checks"] if c.startswith("tls.cert.")], [])
        # The report's before/after table says what the fix changed, from those two files.
        rows = dict(re.findall(r'<tr data-item="([a-z]+)" data-before="[a-z-]+" data-after="([a-z-]+)"', self.html()))
        befores = dict(re.findall(r'<tr data-item="([a-z]+)" data-before="([a-z-]+)"', self.html()))
        self.assertEqual((befores["tls"], rows["tls"]), ("fail", "pass"))
        self.assertEqual((befores["ae"], rows["ae"]), ("fail", "pass"))
        self.assertEqual(rows["certificates"], "pass")
        # The gateway was stopped with the lab.
        with self.assertRaises(OSError):
            peers.socket.create_connection(("127.0.0.1", a[0]["port"]), timeout=1).close()

    def test_checklist_items_match_the_json_results(self):
        got = html_checklist(self.html())
        want = expected_checklist(load(self.scan, self.files, self.verify))
        self.assertEqual(got, want)
        self.assertEqual(got["deid"], "pass")      # the samples it de-identified, verified against the originals
        self.assertEqual(got["ae"], "fail")        # the leaky PACS takes any AE title
        self.assertEqual(got["files"], "fail")     # the samples hold polyglots
        self.assertEqual(got["audit"], "not-measured")
        with open(os.path.join(self.out, "report.md")) as f:
            md = f.read()
        for item in ("No DICOM service accepts an unknown AE title", "NOT MEASURED"):
            self.assertIn(item, md)

    def test_no_patient_data_and_no_external_resources(self):
        html = self.html()
        with open(os.path.join(self.out, "report.md")) as f:
            md = f.read()
        for name in LAB_PATIENTS + SAMPLE_PATIENTS:
            self.assertNotIn(name, html)
            self.assertNotIn(name, md)
        self.assertNotIn("samples/", html)  # file paths are left out unless --show-paths
        self.assertNotRegex(html, r"<script|<link|<img|<iframe|src=|url\(|@import")

    def test_threat_matrix_cells_follow_the_results(self):
        html = self.html()
        cells = dict(re.findall(r'data-technique="([a-z0-9-]+)" data-state="([a-z-]+)"', html))
        with open(os.path.join(os.environ.get("DG_SOURCE_DIR", "../.."), "data", "threat_matrix.json")) as f:
            matrix = json.load(f)
        self.assertEqual(set(cells), {t["id"] for t in matrix["techniques"]})
        found = {o["check"] for o in load(self.scan, self.files) if o["type"] == "finding"}
        for t in matrix["techniques"]:
            with self.subTest(technique=t["id"]):
                if not t["checks"]:
                    self.assertEqual(cells[t["id"]], "not-covered")
                elif found & set(t["checks"]):
                    self.assertEqual(cells[t["id"]], "exposed")
                else:
                    self.assertIn(cells[t["id"]], {"not-seen", "not-measured"})
        cp = run("matrix", self.scan, self.files)
        self.assertEqual(cp.returncode, 0)
        self.assertIn("exposed", cp.stdout)
        self.assertIn("Reconnaissance", cp.stdout)

    @unittest.skipUnless(CHROMIUM, "chromium not installed")
    def test_rendered_in_chromium_without_errors_or_network(self):
        shot, netlog = os.path.join(self.out, "report.png"), os.path.join(self.out, "net.json")

        def render(page):
            cp = chromium("--enable-logging=stderr", "--v=0", f"--log-net-log={netlog}", "--window-size=1000,2600",
                          f"--screenshot={shot}", "file://" + page, cwd=self.out)
            self.assertEqual(cp.returncode, 0, cp.stderr[-2000:])
            with open(netlog) as f:
                log = json.load(f)
            names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
            requests = [e["params"]["url"] for e in log["events"]
                        if names.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in e.get("params", {})
                        and e["params"].get("initiator") != "not an origin"  # Chromium's own, not the page's
                        and not e["params"]["url"].startswith("file:")]
            return cp.stderr, requests
        # The method sees what it should: a page that logs an error and loads an image (from a dead loopback port).
        control = os.path.join(self.out, "control.html")
        with open(control, "w") as f:
            f.write('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/probe.png">'
                    '<script>console.error("control error")</script></body></html>')
        err, requests = render(control)
        self.assertIn("CONSOLE", err)
        self.assertIn("http://127.0.0.1:9/probe.png", requests)
        # The report: no console message at all, no request.
        err, requests = render(self.html_path)
        self.assertGreater(os.path.getsize(shot), 10000)
        self.assertNotIn("CONSOLE", err)  # console messages (errors included) are logged as CONSOLE(...)
        self.assertEqual(requests, [])

    @unittest.skipUnless(CHROMIUM and shutil.which("pdftotext"), "chromium or poppler-utils not installed")
    def test_checklist_prints_on_one_page(self):
        pdf = os.path.join(self.out, "report.pdf")
        cp = run("report", self.scan, self.files, "-o", os.path.join(self.out, "again.html"), "--pdf", pdf,
                 timeout=240)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", pdf], stdout=subprocess.PIPE,
                                                                 text=True).stdout).group(1))
        self.assertGreater(pages, 1)

        def page(n):
            return subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), "-layout", pdf, "-"],
                                  stdout=subprocess.PIPE, text=True).stdout
        first, second = page(1), page(2)
        titles = re.findall(r'<tr data-item="[a-z]+" data-status="[a-z-]+"><td><span [^>]*>[^<]*</span></td><td><b>([^<]+)</b>',
                            self.html())
        self.assertEqual(len(titles), 9)
        for t in titles:
            self.assertIn(t.replace("&amp;", "&")[:30], " ".join(first.split()))
            self.assertNotIn(t[:30], " ".join(second.split()))
        self.assertIn("Security checklist", first)
        self.assertNotIn("Summary", first)
        self.assertTrue(second.lstrip().startswith("Summary"), second[:200])


class PartialResults(unittest.TestCase):
    def test_empty_results_are_not_measured_never_pass(self):
        with TempDir("dg-report-") as d:
            empty = d.write("empty.jsonl", b"")
            cp = run("report", empty, "-o", d.join("r.html"))
            self.assertEqual(cp.returncode, 0, cp.stderr)
            with open(d.join("r.html")) as f:
                items = html_checklist(f.read())
            self.assertEqual(len(items), 9)
            self.assertEqual(set(items.values()), {"not-measured"})
            cp = run("report", empty, "--format", "md", "-o", d.join("r.md"))
            with open(d.join("r.md")) as f:
                md = f.read()
            self.assertNotIn("| PASS |", md)
            self.assertNotIn("| FAIL |", md)

    def test_files_only_results(self):
        with TempDir("dg-report-") as d:
            clean = d.write("samples/clean.dcm", b"\0" * 128 + b"DICM")
            cp = run("files", "--json", os.path.dirname(clean))
            res = d.write("files.jsonl", cp.stdout.encode())
            run("report", res, "-o", d.join("r.html"))
            with open(d.join("r.html")) as f:
                items = html_checklist(f.read())
            self.assertEqual(items, expected_checklist(load(res)))
            self.assertEqual(items["ae"], "not-measured")
            self.assertEqual(items["tls"], "not-measured")
            self.assertEqual(items["files"], "pass")  # no executable or active content in that file

    def test_discover_scan_does_not_measure_queries(self):
        with TempDir("dg-report-") as d:
            srv = peers.storescp(d.path, "plain").start().wait()
            try:
                cp = run("scan", "--json", "--discover", srv.target)
                res = d.write("scan.jsonl", cp.stdout.encode())
                run("report", res, "-o", d.join("r.html"))
                with open(d.join("r.html")) as f:
                    items = html_checklist(f.read())
                self.assertEqual(items, expected_checklist(load(res)))
                self.assertEqual(items["query"], "not-measured")
                self.assertEqual(items["ae"], "fail")
            finally:
                srv.stop()

    def test_bad_input(self):
        with TempDir("dg-report-") as d:
            self.assertEqual(run("report", d.join("missing.jsonl")).returncode, 2)
            junk = d.write("junk.jsonl", b"not json\n{\"no type\": 1}\n")
            cp = run("report", junk, "-o", d.join("r.html"))
            self.assertEqual(cp.returncode, 0)
            self.assertIn("2 lines were not dicomguard results", cp.stderr)
            ro = d.join("ro")
            os.makedirs(ro)
            os.chmod(ro, 0o500)
            if os.geteuid() != 0:
                self.assertEqual(run("report", junk, "-o", os.path.join(ro, "r.html")).returncode, 2)


if __name__ == "__main__":
    unittest.main()
