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
        lines = [cls.proc.stdout.readline() for _ in range(2)]
        ports = {}
        for line in lines:
            m = re.match(r"(leaky|hardened)\s+127\.0\.0\.1:(\d+)", line)
            assert m, f"unexpected lab output: {lines!r}"
            ports[m.group(1)] = int(m.group(2))
        cls.leaky, cls.hardened = ports["leaky"], ports["hardened"]

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


if __name__ == "__main__":
    unittest.main()
