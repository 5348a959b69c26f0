"""Integration tests for `dicomguard weblog`: PHI in DICOMweb URLs of real web logs, and their redaction.

A real nginx (Debian `nginx`, its own configuration on a loopback port, the default `combined` log format, run in
the foreground with its own prefix, pid and log paths in a temporary folder) proxies to a real Orthanc with the
DICOMweb plugin (Debian `orthanc` + `orthanc-dicomweb`, run with --verbose so that its own log names the QIDO-RS
arguments). The test sends real QIDO-RS and WADO-RS requests with patient names and IDs (raw, percent-encoded,
with '+', by keyword and by lower-case tag, in the Referer) and includefield-only ones, then runs `weblog` on
nginx's access log and on Orthanc's log: every PHI request is found, no includefield-only request is, and
`--redact` writes copies that hold none of the values and are byte for byte the same elsewhere. A generated log of
a few MB checks long lines (3 MB, PHI at its end), gzip and stdin. The 1 GB case is bench/weblog/run.sh.

Run: DICOMGUARD=build/dicomguard DG_SOURCE_DIR=. /usr/bin/python3 -m unittest -v test_weblog   (in tests/integration)
"""

import gzip
import json
import os
import re
import shutil
import subprocess
import time
import unittest
import urllib.error
import urllib.request

import peers
from helpers import BINARY, TempDir, parse_jsonl, pydicom_corpus, run

DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"

# (path and query as sent, referer or None, PHI values it carries (as they appear in the log), PHI?)
# The values are unique strings, so a test can look for each in any output.
REQUESTS = [
    ("/dicom-web/studies?PatientName=DOE^JOHNWL", None, ["DOE^JOHNWL"], True),
    ("/dicom-web/studies?PatientName=SMITH%5EJANEWL&limit=5", None, ["SMITH%5EJANEWL"], True),
    ("/dicom-web/studies?00100020=PIDWL12345", None, ["PIDWL12345"], True),
    ("/dicom-web/studies?0008009c=DR%5EWHOWL&includefield=00100010", None, ["DR%5EWHOWL"], True),
    ("/dicom-web/studies?PatientName=ROE+RICHARDWL", None, ["ROE+RICHARDWL"], True),
    ("/dicom-web/series?PatientID=PIDWL12345&Modality=CT", None, ["PIDWL12345"], True),
    ("/dicom-web/studies?PatientBirthDate=19700101&PatientSex=F", None, ["19700101", "F"], True),
    ("/dicom-web/studies?includefield=PatientName&includefield=00100020&includefield=PatientBirthDate", None, [],
     False),
    ("/dicom-web/studies?PatientName=*&limit=3", None, [], False),
    ("/dicom-web/studies?includefield=all&fuzzymatching=true", None, [], False),
    ("/dicom-web/studies", "http://127.0.0.1/viewer/dicom-web/studies?PatientID=REFPIDWL99", ["REFPIDWL99"], True),
    ("/system", None, [], False),
]
SECRETS = ["JOHNWL", "JANEWL", "PIDWL12345", "WHOWL", "RICHARDWL", "19700101", "REFPIDWL99"]


def nginx_conf(root, port, upstream):
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}daemon off;
master_process on;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log {root}/access.log combined;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  client_max_body_size 64m;
  server {{
    listen 127.0.0.1:{port};
    location / {{ proxy_pass http://127.0.0.1:{upstream}; proxy_set_header Host 127.0.0.1; }}
  }}
}}
"""


def only_values_differ(orig, red, token=r'[^&\s"\]]*'):
    """red is orig with some values replaced: each REDACTED (or keyed token) stands for one value of orig."""
    pattern = re.escape(red).replace("REDACTED", token)
    return re.fullmatch(pattern, orig) is not None


class WeblogWithNginxAndOrthanc(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("nginx") or not shutil.which("Orthanc") or not os.path.exists(DICOMWEB_PLUGIN):
            raise unittest.SkipTest("nginx, orthanc and orthanc-dicomweb are needed (scripts/setup-debian.sh)")
        cls.tmp = TempDir("dg-weblog-")
        root = cls.tmp.path
        cls.orthanc = peers.orthanc(root, "orthanc", Plugins=[DICOMWEB_PLUGIN])
        cls.orthanc.argv = ["Orthanc", "--verbose", cls.orthanc.argv[1]]
        cls.orthanc.start()
        ng = os.path.join(root, "nginx")
        os.makedirs(ng)
        cls.port = peers.free_port()
        with open(os.path.join(ng, "nginx.conf"), "w") as f:
            f.write(nginx_conf(ng, cls.port, cls.orthanc.http_port))
        cls.nginx = peers.Server("nginx", ["nginx", "-p", ng, "-e", os.path.join(ng, "error.log"), "-c",
                                           os.path.join(ng, "nginx.conf")], cls.port, ng,
                                 os.path.join(root, "nginx.out"))
        try:
            cls.orthanc.wait()
            cls.nginx.start().wait()
            cls.send_requests()
        except BaseException:
            cls.tearDownClass()
            raise
        cls.access_log = os.path.join(ng, "access.log")
        cls.orthanc_log = cls.orthanc.log

    @classmethod
    def tearDownClass(cls):
        for s in ("nginx", "orthanc"):
            if getattr(cls, s, None):
                getattr(cls, s).stop()
        cls.tmp.cleanup()

    @classmethod
    def get(cls, path, referer=None, data=None, ctype=None):
        req = urllib.request.Request(f"http://127.0.0.1:{cls.port}{path}", data=data)
        if referer:
            req.add_header("Referer", referer)
        if ctype:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    @classmethod
    def send_requests(cls):
        # A real study through nginx (Orthanc's REST upload), then WADO-RS on it.
        corpus = pydicom_corpus()
        cls.study = None
        if corpus and os.path.exists(os.path.join(corpus, "CT_small.dcm")):
            with open(os.path.join(corpus, "CT_small.dcm"), "rb") as f:
                status, body = cls.get("/instances", data=f.read(), ctype="application/dicom")
            assert status == 200, status
            parent = json.loads(body)["ParentStudy"]
            cls.study = json.loads(cls.get(f"/studies/{parent}")[1])["MainDicomTags"]["StudyInstanceUID"]
        cls.sent = list(REQUESTS)
        if cls.study:
            cls.sent.append((f"/dicom-web/studies/{cls.study}/series", None, [], False))
            cls.sent.append((f"/dicom-web/studies/{cls.study}/metadata", None, [], False))
        cls.status = {}
        for path, ref, _, _ in cls.sent:
            cls.status[path] = cls.get(path, ref)[0]
        # nginx writes each line when the request ends; Orthanc logs before it answers. Wait until both are there.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(os.path.join(cls.nginx.workdir, "access.log"), "rb") as f:
                n = f.read().count(b"\n")
            if n >= len(cls.sent) + (2 if cls.study else 0):
                break
            time.sleep(0.1)

    def weblog(self, *args, expect=None):
        cp = run("weblog", "--json", *args)
        if expect is not None:
            self.assertEqual(cp.returncode, expect, cp.stderr + cp.stdout[-2000:])
        objs = parse_jsonl(cp.stdout)
        return [o for o in objs if o["type"] == "weblog"], [o for o in objs if o["type"] == "finding"], cp

    def test_nginx_access_log_every_phi_request_found_and_no_includefield_one(self):
        for path, _, _, _ in self.sent:
            self.assertLess(self.status[path], 500, path)
        with open(self.access_log, "rb") as f:
            lines = f.read().decode().splitlines()
        recs, finds, cp = self.weblog(self.access_log, expect=1)
        rec = recs[0]
        self.assertEqual(rec["format"], "combined")
        self.assertEqual(rec["lines"], len(lines))
        self.assertEqual(rec["requests"], len(lines))
        # Which lines carry PHI, worked out here from what was sent.
        want_lines = []
        for n, line in enumerate(lines, 1):
            for path, ref, values, phi in self.sent:
                if f'"GET {path} HTTP/1.1"' in line and (ref is None or f'"{ref}"' in line) and phi:
                    want_lines.append(n)
        self.assertEqual(len(want_lines), sum(1 for s in self.sent if s[3]))
        self.assertEqual(rec["phi_lines"], want_lines)
        self.assertEqual(rec["phi_requests"], len(want_lines))
        # The DICOMweb requests, and Orthanc's REST upload (POST /instances, GET /studies/ID) too.
        self.assertEqual(rec["dicomweb_requests"], sum(1 for s in self.sent if s[0].startswith("/dicom-web/"))
                         + (2 if self.study else 0))
        self.assertEqual(rec["phi_referer_requests"], 1)
        self.assertEqual(rec["keys"], {"PatientName": 3, "PatientID": 3, "ConsultingPhysicianName": 1,
                                       "PatientBirthDate": 1, "PatientSex": 1})
        self.assertEqual(rec["clients"], ["127.0.0.1"])
        self.assertEqual(sorted(f["check"] for f in finds), ["web.phi-in-referer", "web.phi-in-url"])
        self.assertEqual(rec["checks"], ["web.phi-in-url", "web.phi-in-referer"])
        url = next(f for f in finds if f["check"] == "web.phi-in-url")
        self.assertEqual(url["severity"], "high")
        self.assertEqual(url["evidence"]["requests"], len(want_lines) - 1)
        # Never a value in the output, text or JSON.
        text = run("weblog", "-v", self.access_log).stdout
        for out in (cp.stdout, text):
            for s in SECRETS:
                self.assertNotIn(s, out)
        self.assertIn("with PHI", text)
        # Only with --show-values.
        shown, _, _ = self.weblog("--show-values", self.access_log, expect=1)
        self.assertIn({"line": want_lines[0], "key": "PatientName", "value": "DOE^JOHNWL", "in": "url"},
                      shown[0]["values"])
        self.assertIn(f"line {want_lines[0]}: PatientName=DOE^JOHNWL (url)",
                      run("weblog", "--show-values", self.access_log).stdout)

    def test_nginx_access_log_redacted_copy(self):
        out = self.tmp.join("access.redacted.log")
        recs, _, _ = self.weblog("--redact", "-o", out, self.access_log, expect=0)
        self.assertEqual(recs[0]["status"], "redacted")
        with open(self.access_log, "rb") as f:
            orig = f.read()
        with open(out, "rb") as f:
            red = f.read()
        for s in SECRETS:
            self.assertNotIn(s.encode(), red)
        ol, rl = orig.decode().split("\n"), red.decode().split("\n")
        self.assertEqual(len(ol), len(rl))
        changed = [n for n, (a, b) in enumerate(zip(ol, rl), 1) if a != b]
        self.assertEqual(changed, recs[0]["phi_lines"])
        for n in changed:
            self.assertTrue(only_values_differ(ol[n - 1], rl[n - 1]), (ol[n - 1], rl[n - 1]))
        # includefield values stay as they were.
        self.assertIn(b"includefield=PatientName&includefield=00100020", red)
        self.assertEqual(recs[0]["values_redacted"], red.count(b"REDACTED"))
        # The redacted copy has nothing left to find.
        again, finds, _ = self.weblog(out, expect=0)
        self.assertEqual(again[0]["phi_requests"], 0)
        self.assertEqual(finds, [])

    def test_orthanc_log_found_and_redacted_with_the_same_tokens_as_nginx(self):
        with open(self.orthanc_log, "rb") as f:
            orig = f.read()
        qido_lines = [l for l in orig.decode(errors="replace").split("\n") if "Arguments of QIDO-RS request" in l]
        self.assertGreaterEqual(len(qido_lines), 9, "Orthanc --verbose logs the QIDO-RS arguments")
        recs, finds, _ = self.weblog(self.orthanc_log, expect=1)
        rec = recs[0]
        self.assertEqual(rec["format"], "orthanc")
        # Orthanc sees no Referer; the URL PHI requests (QIDO-RS with a PHI key) are all found.
        want = sum(1 for s in self.sent if s[3] and s[1] is None)
        self.assertEqual(rec["phi_requests"], want)
        self.assertEqual(rec["keys"]["PatientName"], 3)
        self.assertNotIn("includefield", rec["keys"])
        self.assertGreaterEqual(rec["dicomweb_requests"], sum(1 for s in self.sent if s[0].startswith("/dicom-web/")))

        key = self.tmp.join("weblog.key")
        if not os.path.exists(key):
            self.assertEqual(run("deid", "--new-key", key).returncode, 0)
        out_o, out_n = self.tmp.join("orthanc.redacted.log"), self.tmp.join("access.keyed.log")
        r1, _, _ = self.weblog("--redact", "--key-file", key, "-o", out_o, self.orthanc_log, expect=0)
        r2, _, _ = self.weblog("--redact", "--key-file", key, "-o", out_n, self.access_log, expect=0)
        with open(out_o, "rb") as f:
            red = f.read()
        for s in SECRETS[:-1]:
            self.assertNotIn(s.encode(), red)
        ol, rl = orig.decode().split("\n"), red.decode().split("\n")
        self.assertEqual(len(ol), len(rl))
        for a, b in zip(ol, rl):
            if a != b:
                # Keyed tokens: 16 characters of base32, or a 2.25 UID for UIDs (Orthanc's body of a WADO-RS
                # call queries by StudyInstanceUID).
                b = re.sub(r"(?<=[=\[\"])([A-Z2-7]{16}|2\.25\.\d+)(?=[\]&\s\"])", "REDACTED", b)
                self.assertTrue(only_values_differ(a, b), (a, b))
        # The same Patient ID gets the same keyed token in both logs (analyses across logs still work).
        with open(out_n, "rb") as f:
            nginx_red = f.read().decode()
        tok_n = re.search(r"00100020=([A-Z2-7]{16})", nginx_red).group(1)
        self.assertIn(f"[00100020={tok_n}]", red.decode())
        self.assertGreater(r1[0]["values_redacted"], 0)
        self.assertEqual(r2[0]["values_redacted"], sum(len(s[2]) for s in self.sent))

    def test_in_place_keeps_a_backup(self):
        d = self.tmp.join("inplace")
        os.makedirs(d, exist_ok=True)
        log = os.path.join(d, "access.log")
        shutil.copyfile(self.access_log, log)
        with open(log, "rb") as f:
            orig = f.read()
        recs, _, _ = self.weblog("--redact", "--in-place", log, expect=0)
        self.assertEqual(recs[0]["backup"], os.path.join(d, ".dicomguard-backup", "access.log"))
        with open(recs[0]["backup"], "rb") as f:
            self.assertEqual(f.read(), orig)
        with open(log, "rb") as f:
            self.assertNotIn(b"PIDWL12345", f.read())
        self.assertEqual([n for n in os.listdir(d) if ".dicomguard-tmp-" in n], [])


class WeblogGeneratedLogs(unittest.TestCase):
    """A few MB: a 3 MB line with PHI at its end, gzip in and out, stdin, and usage errors."""

    def setUp(self):
        self.tmp = TempDir("dg-weblog-gen-")

    def tearDown(self):
        self.tmp.cleanup()

    def make(self):
        lines = []
        for i in range(20000):
            lines.append(f'10.0.{i % 200}.{i % 250} - - [02/Dec/2026:14:{i % 60:02d}:00 +0000] "GET /dicom-web/studies?'
                         f'includefield=00100010&limit={i} HTTP/1.1" 200 {i} "-" "curl/8.0"')
            if i % 1000 == 7:
                lines.append(f'10.9.9.9 - - [02/Dec/2026:15:00:00 +0000] "GET /dicom-web/studies?PatientID=GENPID{i}'
                             f' HTTP/1.1" 200 1 "-" "curl/8.0"')
        lines.insert(5000, '10.9.9.8 - - [02/Dec/2026:15:00:00 +0000] "GET /dicom-web/studies?includefield='
                     + "x" * 3_000_000 + '&PatientName=LONG%5ELINEWL HTTP/1.1" 200 1 "-" "curl/8.0"')
        return ("\n".join(lines) + "\n").encode()

    def test_long_lines_gzip_and_stdin(self):
        data = self.make()
        plain = self.tmp.write("gen.log", data)
        gz = self.tmp.write("gen.log.gz", gzip.compress(data))
        recs = parse_jsonl(run("weblog", "--json", plain).stdout)
        rec = recs[0]
        self.assertEqual(rec["lines"], data.count(b"\n"))
        self.assertEqual(rec["phi_requests"], 21)
        self.assertEqual(rec["long_lines"], 1)
        self.assertEqual(rec["keys"], {"PatientID": 20, "PatientName": 1})
        self.assertEqual(rec["phi_lines"][0], 9)
        self.assertIn(5001, rec["phi_lines"])
        # The same from gzip and from stdin.
        grec = parse_jsonl(run("weblog", "--json", gz).stdout)[0]
        self.assertTrue(grec["gzip"])
        cp = subprocess.run([BINARY, "weblog", "--json", "-"], input=data, stdout=subprocess.PIPE)
        srec = parse_jsonl(cp.stdout.decode())[0]
        for r in (grec, srec):
            for k in ("lines", "phi_requests", "keys", "phi_lines", "long_lines"):
                self.assertEqual(r[k], rec[k], k)
        # Redacted: plain and gzip give the same bytes; only the values differ.
        want = re.sub(rb"PatientID=GENPID\d+", b"PatientID=REDACTED", data).replace(b"LONG%5ELINEWL", b"REDACTED")
        out = self.tmp.join("gen.red.log")
        self.assertEqual(run("weblog", "--redact", "-o", out, plain).returncode, 0)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), want)
        gout = self.tmp.join("gen.red.log.gz")
        self.assertEqual(run("weblog", "--redact", "-o", gout, gz).returncode, 0)
        with gzip.open(gout, "rb") as f:
            self.assertEqual(f.read(), want)

    def test_usage_errors_and_unreadable_input(self):
        log = self.tmp.write("a.log", b"x\n")
        for args in (["weblog"], ["weblog", "--redact", log], ["weblog", "--redact", "-o", log, log],
                     ["weblog", "-o", "x", log], ["weblog", "--redact", "--in-place", "-"],
                     ["weblog", "--redact", "--key-file", self.tmp.join("nokey"), "-o", self.tmp.join("o"), log]):
            cp = run(*args)
            self.assertEqual(cp.returncode, 2, args)
            self.assertIn("dicomguard weblog", cp.stderr + cp.stdout)
        cp = run("weblog", "--json", self.tmp.join("missing.log"))
        self.assertEqual(cp.returncode, 2)
        self.assertEqual(parse_jsonl(cp.stdout)[0]["status"], "error")
        # A truncated gzip: an error, and no copy.
        gz = self.tmp.write("t.log.gz", gzip.compress(b"a\n" * 100000)[:-20])
        cp = run("weblog", "--redact", "-o", self.tmp.join("t.out"), gz)
        self.assertEqual(cp.returncode, 2)
        self.assertFalse(os.path.exists(self.tmp.join("t.out")))


if __name__ == "__main__":
    unittest.main()
