"""`dicomguard scan` against real DCMTK and Orthanc servers on loopback ports.

Every configuration is a real server started here; the tests assert the exact set of check IDs a user would see
for it, the AE-title verdicts, and that the patient names stored in the test PACS never appear in dicomguard's
output. Only 127.0.0.1 is contacted.
"""

import json
import os
import subprocess
import unittest
import struct
import xml.etree.ElementTree as ET

import helpers
import peers
from helpers import TempDir, parse_jsonl, run
from scripted_dicom import SingleConnectionScp, parse_rq
import test_vulnerable

DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"  # Debian orthanc-dicomweb
PLAIN_OPEN_STORE = {"dimse.ae.any-called", "dimse.ae.any-calling", "dimse.echo.open", "dimse.store.open",
                    "dimse.plaintext"}


def scan(*args):
    cp = run("scan", "--json", "--timeout", "5", *args)
    objs = parse_jsonl(cp.stdout)
    services = {f"{o['address']}:{o['port']}": o for o in objs if o["type"] == "service"}
    findings = {}
    for o in objs:
        # The TLS grade of TLS services (tls.* findings, after a {"type":"tls"} record) is tested in test_tls.py;
        # the published advisories of a product (product.*) depend on data/vulnerabilities.json, tested below
        # (test_product_findings_follow_the_advisory_table) and in test_vulnerable.py.
        if o["type"] == "finding" and not o["check"].startswith(("tls.", "product.")):
            findings.setdefault(o["target"], set()).add(o["check"])
    summary = [o for o in objs if o["type"] == "summary"]
    return cp, services, findings, summary[-1] if summary else None


class ScanAgainstRealServers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir("dg-scan-")
        root = cls.tmp.path
        key, cert = peers.self_signed(root)
        cls.sample = os.path.join(root, "patient.dcm")
        with open(cls.sample, "wb") as f:
            f.write(helpers.clean_image())
        known_port = peers.free_port()  # a peer that exists only in the allow-lists
        cls.s = {
            "storescp": peers.storescp(root, "storescp"),
            "storescp_tls": peers.storescp(root, "storescp_tls", "+tls", key, cert, "-ic"),
            "qr_open": peers.dcmqrscp(root, "qr_open", ae="COMMON", peers="ANY"),
            "qr_locked": peers.dcmqrscp(root, "qr_locked", ae="SITEPACS", peers="known",
                                        hosts=[("known", "KNOWNSCU", known_port)]),
            "orthanc_default": peers.orthanc(root, "orthanc_default"),
            "orthanc_called": peers.orthanc(root, "orthanc_called", DicomCheckCalledAet=True),
            "orthanc_allowlist": peers.orthanc(root, "orthanc_allowlist",
                                               DicomModalities={"known": ["KNOWNSCU", "127.0.0.1", known_port]},
                                               DicomAlwaysAllowEcho=False, DicomAlwaysAllowStore=False,
                                               DicomCheckModalityHost=True),
            "orthanc_find": peers.orthanc(root, "orthanc_find", DicomAlwaysAllowFind=True),
            "orthanc_auth": peers.orthanc(root, "orthanc_auth", AuthenticationEnabled=True,
                                          RegisteredUsers={"orthanc": "orthanc"}),
            "orthanc_learn": peers.orthanc(root, "orthanc_learn", DicomCheckCalledAet=True, DicomAet="SITEPACS2"),
        }
        if os.path.exists(DICOMWEB_PLUGIN):
            cls.s["orthanc_web"] = peers.orthanc(root, "orthanc_web", Plugins=[DICOMWEB_PLUGIN])
        cls.closed_port = peers.free_port()
        try:
            for s in cls.s.values():
                s.start()
            for s in cls.s.values():
                s.wait()
            # The test PACS holds a patient whose name must never leave it through dicomguard.
            peers.store(cls.s["qr_open"].port, cls.sample, called="COMMON")
            peers.store(cls.s["orthanc_default"].port, cls.sample, called="ORTHANC")
            peers.store(cls.s["orthanc_find"].port, cls.sample, called="ORTHANC")
        except Exception:
            cls.tearDownClass()
            raise
        cls.http_targets = [f"127.0.0.1:{s.http_port}" for s in cls.s.values() if hasattr(s, "http_port")]
        targets = [s.target for s in cls.s.values()] + [f"127.0.0.1:{cls.closed_port}"] + cls.http_targets
        cls.cp, cls.services, cls.findings, cls.summary = scan(*targets, "--called-ae", "COMMON",
                                                               "--count-records", "--try-default-credentials")

    @classmethod
    def tearDownClass(cls):
        for s in cls.s.values():
            s.stop()
        cls.tmp.cleanup()

    def test_product_findings_follow_the_advisory_table(self):
        objs = parse_jsonl(self.cp.stdout)
        products = [o for o in objs if o["type"] == "finding" and o["check"].startswith("product.")]
        named = 0
        for target, svc in self.services.items():
            if not svc.get("product"):
                continue
            named += 1
            prod, version = svc["product"]["product"], svc["product"]["version"]
            want = [e["id"] for e in test_vulnerable.expected(prod, version)]
            got = [f for f in products if f["target"] == target]
            if want:
                self.assertEqual([(f["check"], f["evidence"]["ids"]) for f in got], [("product.vulnerable", want)],
                                 f"{target}\n{self.story()}")
            else:
                self.assertEqual([f for f in got if f["check"] == "product.vulnerable"], [], target)
        self.assertGreater(named, 0)

    def checks(self, name, http=False):
        return self.findings.get(self.http(name) if http else self.s[name].target, set())

    def http(self, name):
        return f"127.0.0.1:{self.s[name].http_port}"

    def service(self, name):
        self.assertIn(self.s[name].target, self.services, f"{name} was not reported: {self.cp.stdout[-2000:]}")
        return self.services[self.s[name].target]

    def story(self):
        """What the scan said about each peer, for a failure message: a missing or doubled record shows here."""
        ports = {s.port: n for n, s in self.s.items()}
        ports.update({s.http_port: n + " (http)" for n, s in self.s.items() if hasattr(s, "http_port")})
        lines = []
        for o in parse_jsonl(self.cp.stdout):
            if o["type"] == "service":
                lines.append(f"service {o['port']} {ports.get(o['port'], '?')}: {o.get('exposure')} "
                             f"{[(a.get('called_ae'), a.get('outcome')) for a in o.get('associations', [])]}")
            elif o["type"] == "finding":
                lines.append(f"  finding {o['target']} {o['check']}")
        return "\n".join(lines) + "\n" + self.cp.stderr[-1500:]

    def test_exit_code_and_summary(self):
        self.assertEqual(self.cp.returncode, 1, self.cp.stderr)  # findings at or above medium
        self.assertEqual(self.summary["endpoints"], len(self.s) + 1 + len(self.http_targets), self.story())
        self.assertEqual(self.summary["services"], len(self.s) + len(self.http_targets), self.story())
        self.assertEqual(self.summary["answers"].get("refused"), 1)

    def test_storescp_accepts_anyone_and_any_storage(self):
        self.assertEqual(self.checks("storescp"), PLAIN_OPEN_STORE)
        svc = self.service("storescp")
        self.assertEqual(svc["protocol"], "dimse")
        self.assertEqual(svc["exposure"], "write-open")
        self.assertEqual(svc["product"]["product"], "DCMTK")
        self.assertTrue(svc["released"])
        self.assertIsNone(svc["find"])  # storescp offers no query service: nothing to prove

    def test_store_is_judged_passively_unless_active_store_is_asked(self):
        out = self.s["storescp"].workdir
        self.assertEqual([n for n in os.listdir(out) if not n.startswith(".")], [])  # the main scan stored nothing
        cp, services, _, _ = scan(self.s["storescp"].target, "--active-store")
        store = services[self.s["storescp"].target]["store"]
        self.assertEqual(store["result"], "success")
        stored = [n for n in os.listdir(out) if not n.startswith(".")]
        self.assertEqual(len(stored), 1)
        finding = [o for o in parse_jsonl(cp.stdout) if o.get("check") == "dimse.store.open"][0]
        uid = finding["evidence"]["stored_sop_instance_uid"]
        with open(os.path.join(out, stored[0]), "rb") as f:
            data = f.read()
        self.assertIn(uid.encode(), data)
        self.assertIn(b"DICOMGUARD^TEST^OBJECT", data)
        os.remove(os.path.join(out, stored[0]))

    def test_dicom_inside_tls_is_found_and_not_called_plaintext(self):
        svc = self.service("storescp_tls")
        self.assertEqual(svc["protocol"], "dimse-tls")
        self.assertTrue(svc["tls"]["version"].startswith("TLS"))
        self.assertEqual(self.checks("storescp_tls"), PLAIN_OPEN_STORE - {"dimse.plaintext"})
        # The same address also serves plain DIMSE to any AE title (several do): TLS can be bypassed.
        self.assertEqual(svc["plaintext_twin_check"], "found")
        plain_any = {t for t, o in self.services.items() if o["protocol"] == "dimse"
                     and o["called_ae_check"] == "not-enforced"}
        self.assertIn(svc["plaintext_twin"], plain_any)

    def test_dcmqrscp_enforcing_called_ae_with_known_title(self):
        svc = self.service("qr_open")
        self.assertEqual(svc["called_ae_check"], "enforced")
        self.assertEqual(svc["ae_titles"], ["COMMON"])
        self.assertEqual(self.checks("qr_open"),
                         {"dimse.ae.any-calling", "dimse.echo.open", "dimse.query.open", "dimse.retrieve.open",
                          "dimse.store.open", "dimse.plaintext"})
        self.assertEqual(svc["find"]["pending"], 0)  # the random Patient ID matched no one
        self.assertEqual(svc["study_count"], 1)       # --count-records: the number, nothing else

    def test_dcmqrscp_with_a_peer_allow_list_gives_a_stranger_nothing(self):
        self.assertEqual(self.checks("qr_locked"), {"dimse.plaintext"})
        svc = self.service("qr_locked")
        self.assertEqual(svc["exposure"], "reachable")
        self.assertEqual(svc["called_ae_check"], "enforced")
        # A forking dcmqrscp on a loaded machine may drop a connection before it answers; the probe retries those
        # (retried: true). Every answer it did give is a rejection.
        answered = [a for a in svc["associations"] if not a.get("retried")]
        self.assertTrue(answered, svc["associations"])
        self.assertTrue(all(a["outcome"] == "rejected" for a in answered), svc["associations"])

    def test_orthanc_defaults_echo_and_store_open_find_refused(self):
        self.assertEqual(self.checks("orthanc_default"), PLAIN_OPEN_STORE)
        svc = self.service("orthanc_default")
        self.assertEqual(svc["find"]["result"], "aborted")  # Orthanc refuses C-FIND by aborting

    def test_orthanc_checking_called_ae_answers_its_default_title(self):
        self.assertEqual(self.checks("orthanc_called"),
                         {"dimse.ae.default-called", "dimse.ae.any-calling", "dimse.echo.open",
                          "dimse.store.open", "dimse.plaintext"})
        svc = self.service("orthanc_called")
        self.assertEqual(svc["called_ae_check"], "enforced")
        self.assertEqual(svc["ae_titles"], ["ORTHANC"])
        self.assertEqual(svc["associations"][0]["reason"], 7)

    def test_orthanc_modality_allow_list_rejects_unknown_calling_ae(self):
        self.assertEqual(self.checks("orthanc_allowlist"), {"dimse.plaintext"})
        svc = self.service("orthanc_allowlist")
        self.assertEqual(svc["calling_ae_check"], "enforced")
        self.assertEqual(svc["associations"][0]["reason"], 3)

    def test_orthanc_with_find_allowed_is_query_open(self):
        self.assertEqual(self.checks("orthanc_find"), PLAIN_OPEN_STORE | {"dimse.query.open"})
        self.assertEqual(self.service("orthanc_find")["find"]["result"], "success")

    def test_orthanc_rest_api_open_by_default(self):
        self.assertEqual(self.checks("orthanc_default", http=True), {"http.orthanc.open", "http.plaintext"})
        svc = self.services[self.http("orthanc_default")]
        self.assertEqual(svc["protocol"], "http")
        self.assertEqual(svc["product"]["product"], "Orthanc")
        self.assertEqual(svc["ae_titles"], ["ORTHANC"])
        self.assertEqual(svc["dicom_port"], self.s["orthanc_default"].port)

    def test_orthanc_default_password_found_only_when_asked(self):
        self.assertEqual(self.checks("orthanc_auth", http=True), {"http.default-credentials", "http.plaintext"})
        cp, services, findings, _ = scan(self.http("orthanc_auth"))
        self.assertEqual(findings.get(self.http("orthanc_auth")), {"http.plaintext"})
        self.assertEqual(services[self.http("orthanc_auth")]["orthanc"], "auth-required")
        # The record says whether the default account was tried (rfp's "no default web credentials" needs it).
        self.assertEqual(self.services[self.http("orthanc_auth")]["default_credentials"], "accepted")
        self.assertNotIn("default_credentials", services[self.http("orthanc_auth")])

    def test_dicomweb_zero_match_query_proves_it_open(self):
        if "orthanc_web" not in self.s:
            self.skipTest("orthanc-dicomweb not installed")
        self.assertEqual(self.checks("orthanc_web", http=True),
                         {"http.orthanc.open", "http.dicomweb.open", "http.plaintext"})
        self.assertEqual(self.services[self.http("orthanc_web")]["dicomweb_path"], "/dicom-web/studies")
        self.assertEqual(self.checks("orthanc_default", http=True) & {"http.dicomweb.open"}, set())

    def test_ae_title_learned_from_orthanc_system_is_used(self):
        # Called AE checked, and a site-specific title no list holds: /system on the HTTP port names it.
        svc = self.service("orthanc_learn")
        self.assertEqual(svc["ae_titles"], ["SITEPACS2"])
        self.assertEqual(svc["called_ae_check"], "enforced")
        self.assertEqual(self.checks("orthanc_learn"), PLAIN_OPEN_STORE - {"dimse.ae.any-called"})

    def test_baseline_reports_new_gone_and_changed(self):
        with TempDir() as d:
            old = os.path.join(d.path, "old.jsonl")
            storescp, qr = self.s["storescp"].target, self.s["qr_locked"].target
            closed = f"127.0.0.1:{self.closed_port}"
            with open(old, "w") as f:
                for line in self.cp.stdout.splitlines():
                    o = json.loads(line)
                    target = o.get("target") or (f"{o['address']}:{o['port']}" if o["type"] == "service" else "")
                    if target == storescp:
                        if o["type"] == "service":
                            o["exposure"] = "ae-open"  # as if the server had been tightened before
                        f.write(json.dumps(o) + "\n")
                # A service seen before on a port that is closed now.
                f.write(json.dumps({"type": "service", "address": "127.0.0.1", "port": self.closed_port,
                                    "protocol": "dimse", "exposure": "reachable"}) + "\n")
            cp, _, _, summary = scan(storescp, qr, closed, "--baseline", old, "--called-ae", "SITEPACS")
            changes = {o["target"]: o for o in parse_jsonl(cp.stdout) if o["type"] == "change"}
            self.assertEqual(set(changes), {storescp, closed, qr}, cp.stdout[-3000:])
            self.assertEqual(changes[storescp]["change"], "changed")
            self.assertEqual(changes[storescp]["before"]["exposure"], "ae-open")
            self.assertEqual(changes[storescp]["after"]["exposure"], "write-open")
            self.assertEqual(changes[closed]["change"], "gone")
            self.assertEqual(changes[qr]["change"], "new")
            self.assertEqual(summary["baseline"], {"new": 1, "gone": 1, "changed": 1})

    def test_baseline_that_is_not_jsonl_is_an_error(self):
        cp = run("scan", self.s["storescp"].target, "--baseline", helpers.__file__)
        self.assertEqual(cp.returncode, 2)
        self.assertIn("not a dicomguard JSON Lines record", cp.stderr)

    def test_no_patient_data_in_any_output(self):
        for text in (self.cp.stdout, self.cp.stderr):
            self.assertNotIn(helpers.SECRET_NAME, text)
            self.assertNotIn(helpers.SECRET_NAME.split("^")[0], text)
            self.assertNotIn(helpers.SECRET_ID, text)

    def test_text_output_names_each_service_and_its_ladder_step(self):
        cp = run("scan", self.s["qr_locked"].target, self.s["storescp"].target, "--timeout", "5")
        self.assertEqual(cp.returncode, 1)
        self.assertRegex(cp.stdout, r"WRITE-OPEN\s+127\.0\.0\.1:%d dimse DCMTK 3\.6\.\d" % self.s["storescp"].port)
        self.assertRegex(cp.stdout, r"REACHABLE\s+127\.0\.0\.1:%d dimse" % self.s["qr_locked"].port)
        self.assertIn("dimse.store.open", cp.stdout)

    def test_discover_makes_one_association_per_service_and_releases(self):
        targets = [self.s[n].target for n in ("storescp", "qr_locked", "orthanc_default")]
        cp, services, findings, summary = scan(*targets, "--discover")
        self.assertEqual(summary["connections"], 3)
        self.assertEqual(summary["mode"], "discover")
        for t in targets:
            self.assertEqual(len(services[t]["associations"]), 1)
        self.assertTrue(services[self.s["storescp"].target]["released"])
        self.assertNotIn("dimse.echo.open", findings.get(self.s["storescp"].target, set()))
        # Only Verification is proposed: storescp accepts it and nothing else, storage is not tried, and the
        # product is still named from the A-ASSOCIATE-AC.
        storescp = services[self.s["storescp"].target]
        self.assertEqual(storescp["accepted_services"], ["verification"])
        self.assertEqual(storescp["storage"], "not-tried")
        self.assertNotIn("dimse.store.open", findings.get(self.s["storescp"].target, set()))
        self.assertEqual(storescp["product"]["product"], "DCMTK")
        self.assertIn("dimse.ae.any-called", findings[self.s["storescp"].target])
        self.assertIn(services[self.s["orthanc_default"].target]["protocol"], ("dimse", "http"))

    @unittest.skipUnless(peers.have("nmap"), "nmap not installed")
    def test_random_ae_titles_differ_between_runs_and_between_probes(self):
        _, again, _, _ = scan(self.s["storescp"].target)
        first = self.service("storescp")["associations"][0]
        second = again[self.s["storescp"].target]["associations"][0]
        self.assertNotEqual((first["called_ae"], first["calling_ae"]), (second["called_ae"], second["calling_ae"]))
        # Within one run, every probe draws its own titles.
        titles = [o["associations"][0]["calling_ae"] for o in self.services.values() if o.get("associations")]
        self.assertEqual(len(titles), len(set(titles)), titles)

    def test_every_field_of_a_record_is_declared_by_its_probe(self):
        cp = run("scan", "--list-probes", "--json")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        probes = {o["name"]: o for o in parse_jsonl(cp.stdout)}
        self.assertEqual(set(probes), {"service", "tls"})
        declared = set(probes["service"]["fields"])
        for target, svc in self.services.items():
            self.assertEqual(set(svc) - {"type", "checks"} - declared, set(), f"{target}: undeclared fields")
        text = run("scan", "--list-probes")
        self.assertEqual([line.split()[0] for line in text.stdout.splitlines()], ["service", "tls"])

    def test_the_tls_probe_grades_an_endpoint_instead_of_the_service_probe(self):
        cp = run("scan", "--json", "--timeout", "5", "--probe", "tls", self.s["storescp_tls"].target)
        objs = parse_jsonl(cp.stdout)
        types = [o["type"] for o in objs]
        self.assertIn("tls", types, cp.stderr)
        self.assertNotIn("service", types)
        probes = {o["name"]: o for o in parse_jsonl(run("scan", "--list-probes", "--json").stdout)}
        tls = next(o for o in objs if o["type"] == "tls")
        self.assertEqual(set(tls) - {"type", "checks"} - set(probes["tls"]["fields"]), set())
        self.assertEqual(f"{tls['address']}:{tls['port']}", self.s["storescp_tls"].target)
        bad = run("scan", "--probe", "nosuch", self.s["storescp"].target)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("nosuch", bad.stderr)

    def test_nmap_dicom_ping_finds_nothing_we_miss(self):
        # nmap's dicom-ping, forced onto our ports with '+'; every service it flags must be one we report.
        ports = ",".join(str(s.port) for s in self.s.values()) + f",{self.closed_port}"
        cp = subprocess.run(["nmap", "-Pn", "-n", "-p", ports, "--script", "+dicom-ping", "-oX", "-", "127.0.0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300, text=True)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        flagged = set()
        for port in ET.fromstring(cp.stdout).iter("port"):
            for script in port.iter("script"):
                if script.get("id") == "dicom-ping" and "DICOM Service Provider discovered" in script.get("output", ""):
                    flagged.add(int(port.get("portid")))
        ours = {svc["port"] for svc in self.services.values()}
        self.assertTrue(flagged, "nmap flagged nothing: " + cp.stdout[-1500:])
        self.assertLessEqual(flagged, ours)
        # What we find and nmap does not: DICOM inside TLS (nmap's probe is plaintext only).
        self.assertNotIn(self.s["storescp_tls"].port, flagged)
        self.assertIn(self.s["storescp_tls"].port, ours)


class ScanTlsClientCertificate(unittest.TestCase):
    def test_mutual_tls_service_is_found_only_with_a_trusted_client_certificate(self):
        with TempDir() as d:
            key, cert = peers.self_signed(d.path)
            srv = peers.storescp(d.path, "mtls", "+tls", key, cert, "-rc", "+cf", cert).start().wait()
            try:
                cp, services, _, summary = scan(srv.target)
                self.assertEqual(services, {})
                self.assertIn(next(iter(summary["answers"])), {"tls-no-dicom-answer", "tls-handshake-failed"})
                cp, services, findings, _ = scan(srv.target, "--tls-cert", cert, "--tls-key", key)
                self.assertEqual(services[srv.target]["protocol"], "dimse-tls")
                self.assertNotIn("dimse.plaintext", findings[srv.target])
            finally:
                srv.stop()

    def test_sarif_output(self):
        with TempDir() as d:
            srv = peers.storescp(d.path, "plain").start().wait()
            try:
                sarif = os.path.join(d.path, "scan.sarif")
                cp = run("scan", srv.target, "--sarif", sarif)
                self.assertEqual(cp.returncode, 1, cp.stderr)
                with open(sarif) as f:
                    doc = json.load(f)
                self.assertEqual(doc["version"], "2.1.0")
                results = doc["runs"][0]["results"]
                self.assertEqual({r["ruleId"] for r in results if not r["ruleId"].startswith("product.")}, PLAIN_OPEN_STORE)
                rules = {r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]}
                self.assertLessEqual(PLAIN_OPEN_STORE, rules)
            finally:
                srv.stop()


class ScanArguments(unittest.TestCase):
    def test_no_targets_is_a_usage_error(self):
        cp = run("scan")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("no targets", cp.stderr)

    def test_bad_port_and_bad_cidr_are_named(self):
        cp = run("scan", "127.0.0.1", "-p", "104,70000")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("70000", cp.stderr)
        cp = run("scan", "127.0.0.1/33")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("127.0.0.1/33", cp.stderr)

    def test_unreadable_target_list(self):
        cp = run("scan", "-iL", "/nonexistent/targets.txt")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("/nonexistent/targets.txt", cp.stderr)

    def test_target_list_formats_and_exclusions(self):
        with TempDir() as d:
            lst = os.path.join(d.path, "t.txt")
            p1, p2, p3 = peers.free_port(), peers.free_port(), peers.free_port()
            with open(lst, "w") as f:
                f.write(f"# plain, masscan -oL and zmap csv\n127.0.0.1:{p1}\nopen tcp {p2} 127.0.0.2 1700000000\n"
                        f"saddr,sport\n127.0.0.3,{p3}\n")
            cp = run("scan", "-iL", lst, "-p", str(p3), "--exclude", "127.0.0.2", "--json", "--timeout", "2")
            # Nothing listens: nothing was assessed, which is not "clean" (exit code 3).
            self.assertEqual(cp.returncode, 3, cp.stderr)
            summary = [o for o in parse_jsonl(cp.stdout) if o["type"] == "summary"][0]
            self.assertEqual(summary["dicom_services"], 0)
            text = run("scan", "-iL", lst, "-p", str(p3), "--exclude", "127.0.0.2", "--timeout", "2")
            self.assertEqual(text.returncode, 3)
            self.assertIn("No DICOM service answered on any of the 2 endpoints probed", text.stdout)
            # 127.0.0.1:p1 and 127.0.0.3 on -p's port; 127.0.0.2 is excluded.
            self.assertEqual(summary["endpoints"], 2)
            self.assertEqual(summary["answers"], {"refused": 2})


class DiscoverRequestOnTheWire(unittest.TestCase):
    """What --discover sends, read from the bytes a scripted peer received rather than from dicomguard's record."""

    def test_discover_proposes_exactly_one_verification_context_and_releases(self):
        with SingleConnectionScp(None) as s:  # accepts any called AE title
            cp, services, _, _ = scan(f"127.0.0.1:{s.port}", "--discover")
            self.assertEqual(len(services), 1, cp.stdout + cp.stderr)
        self.assertEqual(len(s.requests), 1)
        rq = s.requests[0]
        self.assertEqual(rq[0], 0x01)  # A-ASSOCIATE-RQ
        types, i = [], 74  # variable items after the fixed fields (PS3.8 9.3.2)
        while i + 4 <= len(rq):
            types.append(rq[i])
            i += 4 + struct.unpack(">H", rq[i + 2:i + 4])[0]
        self.assertEqual(i, len(rq))
        self.assertEqual(types.count(0x20), 1, types)  # one presentation context item
        _, _, contexts = parse_rq(rq)
        self.assertEqual(contexts, [(1, "1.2.840.10008.1.1", ["1.2.840.10008.1.2"])])  # Verification, Implicit LE
        self.assertEqual(services[f"127.0.0.1:{s.port}"]["accepted_services"], ["verification"])
        self.assertEqual(s.releases, 1)


if __name__ == "__main__":
    unittest.main()
