"""`dicomguard lab` (practice services on 127.0.0.1) checked with DCMTK's own clients, and scanned."""

import os
import re
import signal
import subprocess
import time
import unittest

import helpers
from helpers import TempDir, parse_jsonl, run

SYNTHETIC = ["LABSYNTHETIC^ALPHA", "LABSYNTHETIC^BRAVO", "LABSYNTHETIC^CHARLIE"]


class Lab(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen([helpers.BINARY, "lab"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
        lines = [cls.proc.stdout.readline() for _ in range(3)]
        ports = {}
        for line in lines[:2]:
            m = re.match(r"(leaky|hardened)\s+127\.0\.0\.1:(\d+)", line)
            assert m, f"unexpected lab output: {lines!r}"
            ports[m.group(1)] = int(m.group(2))
        cls.leaky, cls.hardened = ports["leaky"], ports["hardened"]
        # No legacy archive without --legacy: the third line is the scan hint, with the two ports only.
        assert re.fullmatch(rf"scan them: dicomguard scan 127\.0\.0\.1:{cls.leaky} 127\.0\.0\.1:{cls.hardened}\s+"
                            r"\(Ctrl-C stops the lab\)\n", lines[2]), f"unexpected lab output: {lines!r}"

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGINT)
        cls.out, cls.err = cls.proc.communicate(timeout=30)

    def test_dcmtk_findscu_gets_the_synthetic_patients(self):
        cp = subprocess.run(["findscu", "-aec", "ANY", "-aet", "TESTSCU", "-S", "-k", "QueryRetrieveLevel=STUDY",
                             "-k", "PatientName", "-k", "PatientID", "127.0.0.1", str(self.leaky)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout)
        for name in SYNTHETIC:
            self.assertIn(name, cp.stdout)

    def test_dcmtk_echoscu_and_storescu(self):
        cp = subprocess.run(["echoscu", "-aec", "WHATEVER", "127.0.0.1", str(self.leaky)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout)
        with TempDir() as d:
            f = os.path.join(d.path, "x.dcm")
            with open(f, "wb") as fh:
                fh.write(helpers.clean_image())
            cp = subprocess.run(["storescu", "127.0.0.1", str(self.leaky), f], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=60)
            self.assertEqual(cp.returncode, 0, cp.stdout)

    def test_hardened_refuses_plaintext(self):
        cp = subprocess.run(["echoscu", "-aec", "HARDENED_PACS", "-aet", "LAB_VIEWER", "127.0.0.1",
                             str(self.hardened)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=60)
        self.assertNotEqual(cp.returncode, 0)  # plain TCP to a TLS-only service

    def test_scan_of_the_lab(self):
        cp = run("scan", "--json", f"127.0.0.1:{self.leaky}", f"127.0.0.1:{self.hardened}", "--count-records",
                 "--called-ae", "HARDENED_PACS")
        objs = parse_jsonl(cp.stdout)
        services = {o["port"]: o for o in objs if o["type"] == "service"}
        checks, tls_checks = {}, {}
        for o in objs:
            if o["type"] == "finding":
                into = tls_checks if o["check"].startswith("tls.") else checks
                into.setdefault(int(o["target"].rsplit(":", 1)[1]), set()).add(o["check"])
        self.assertEqual(checks[self.leaky], {"dimse.ae.any-called", "dimse.ae.any-calling", "dimse.echo.open",
                                              "dimse.query.open", "dimse.retrieve.open", "dimse.store.open",
                                              "dimse.plaintext"})
        self.assertEqual(services[self.leaky]["study_count"], 3)
        hard = services[self.hardened]
        self.assertEqual(hard["protocol"], "dimse-tls")
        self.assertEqual(hard["exposure"], "reachable")
        self.assertEqual(hard["calling_ae_check"], "enforced")
        self.assertEqual(hard["tls"]["alpn"], "dicom")
        self.assertNotIn(self.hardened, checks)
        # Its TLS (quick grade): PS3.15 B.12 met (TLS 1.2 ECDHE AES-GCM/ChaCha20 and TLS 1.3), but a throwaway
        # self-signed certificate and no client certificate asked for; OpenSSL's default group, X25519, is noted.
        tls = {o["port"]: o for o in objs if o["type"] == "tls"}
        self.assertEqual(tls[self.hardened]["mode"], "quick")
        self.assertIn("B.12", tls[self.hardened]["meets"])
        self.assertEqual(tls[self.hardened]["dicom"]["association"], "rejected")
        self.assertEqual(tls_checks[self.hardened], {"tls.cert.self-signed", "tls.client-auth.not-required",
                                                     "tls.kex.x25519"})
        self.assertNotIn(self.leaky, tls)
        for name in SYNTHETIC:
            self.assertNotIn(name, cp.stdout + cp.stderr)


class LegacyLab(unittest.TestCase):
    """`lab --legacy`: a plaintext-only archive, called AE LEGACY_PACS, any calling AE, C-ECHO and C-STORE only."""

    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen([helpers.BINARY, "lab", "--legacy"], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        cls.lines = [cls.proc.stdout.readline() for _ in range(4)]
        ports = {}
        for line in cls.lines[:3]:
            m = re.match(r"(leaky|hardened|legacy)\s+127\.0\.0\.1:(\d+)\s+(\S+)\s+(.*)", line)
            assert m, f"unexpected lab output: {cls.lines!r}"
            ports[m.group(1)] = (int(m.group(2)), m.group(3), m.group(4))
        cls.port, cls.protocol, cls.description = ports["legacy"]

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGINT)
        cls.out, cls.err = cls.proc.communicate(timeout=30)

    def dcmtk(self, *args):
        return subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)

    def test_table_line_and_scan_hint(self):
        self.assertEqual(self.protocol, "dimse")
        self.assertIn("called AE LEGACY_PACS", self.description)
        self.assertIn("plain TCP only (no TLS)", self.description)
        self.assertIn(f"127.0.0.1:{self.port}", self.lines[3])  # "scan them: ..." names all three

    def test_dcmtk_echoscu_and_storescu_in_plain_tcp(self):
        cp = self.dcmtk("echoscu", "-aet", "OLD_CT_4", "-aec", "LEGACY_PACS", "127.0.0.1", str(self.port))
        self.assertEqual(cp.returncode, 0, cp.stdout)
        with TempDir() as d:
            files = []
            for i in range(3):
                uid = f"1.2.826.0.1.3680043.10.1427.13.{i + 1}"
                files.append(d.write(f"x{i}.dcm", helpers.part10(helpers.dataset(
                    helpers.image_elements(sop_instance=uid)), sop_instance=uid)))
            cp = self.dcmtk("storescu", "-v", "-aet", "ANY_MODALITY", "-aec", "LEGACY_PACS", "127.0.0.1",
                            str(self.port), *files)
            self.assertEqual(cp.returncode, 0, cp.stdout)
            self.assertEqual(cp.stdout.count("Received Store Response (Success)"), 3, cp.stdout)

    def test_tls_fails(self):
        # DCMTK's TLS client (anonymous: no client certificate, server certificate not checked) to the plain
        # port: the ClientHello is not a PDU, the archive aborts, the handshake fails.
        cp = self.dcmtk("echoscu", "+tla", "-ic", "-aec", "LEGACY_PACS", "127.0.0.1", str(self.port))
        self.assertNotEqual(cp.returncode, 0, cp.stdout)
        self.assertIn("TLS error", cp.stdout)
        self.assertNotIn("Received Echo Response", cp.stdout)

    def test_wrong_called_ae_is_rejected(self):
        cp = self.dcmtk("echoscu", "-aec", "LEAKY_PACS", "127.0.0.1", str(self.port))
        self.assertNotEqual(cp.returncode, 0, cp.stdout)
        self.assertIn("Called AE Title Not Recognized", cp.stdout)

    def test_only_echo_and_store(self):
        # C-FIND's SOP classes are refused at association: findscu gets no accepted presentation context.
        cp = self.dcmtk("findscu", "-aec", "LEGACY_PACS", "-S", "-k", "QueryRetrieveLevel=STUDY", "-k",
                        "PatientName", "127.0.0.1", str(self.port))
        self.assertNotEqual(cp.returncode, 0, cp.stdout)
        for name in SYNTHETIC:
            self.assertNotIn(name, cp.stdout)

    def test_scan_reports_plaintext(self):
        def scan(*extra):
            cp = run("scan", "--json", f"127.0.0.1:{self.port}", *extra)
            objs = parse_jsonl(cp.stdout)
            service = [o for o in objs if o["type"] == "service" and o["port"] == self.port]
            self.assertEqual(len(service), 1, cp.stdout)
            self.assertEqual(service[0]["protocol"], "dimse")
            self.assertFalse([o for o in objs if o["type"] == "tls"], cp.stdout)
            return service[0], {o["check"] for o in objs if o["type"] == "finding"}

        # Not knowing its AE title, the scan finds the called AE enforced and still reports the plain port.
        service, checks = scan()
        self.assertEqual(service["called_ae_check"], "enforced")
        self.assertEqual(checks, {"dimse.plaintext"})
        # With its AE title: anyone may store, nobody may query or retrieve.
        service, checks = scan("--called-ae", "LEGACY_PACS")
        self.assertEqual(service["exposure"], "write-open")
        self.assertEqual(service["calling_ae_check"], "not-enforced")
        self.assertEqual(checks, {"dimse.plaintext", "dimse.ae.any-calling", "dimse.echo.open", "dimse.store.open"})

if __name__ == "__main__":
    unittest.main()
