"""`dicomguard scan` against implementations other than DCMTK and Orthanc, each started by the test on 127.0.0.1
(issue 10): CTN's simple_storage, PixelMed's DicomAndWebStorageServer (DICOM and its web server), an SCP of our
own on odil's library (one connection at a time, no listener between associations; and refusing every command
per calling AE with 0124), a scripted single-connection SCP that also rejects unknown called AE titles, and
plaintext twins told from possible ones. Each case asserts what its server really does, proven with DCMTK's
clients where a verdict depends on it.

Run: DICOMGUARD=build/dicomguard DG_SOURCE_DIR=. /usr/bin/python3 -m unittest -v tests/integration/test_scan_peers.py
"""

import json
import os
import shutil
import subprocess
import time
import unittest

import helpers
import peers
from helpers import TempDir, parse_jsonl, run
from scripted_dicom import SingleConnectionScp

SAMPLE = os.path.join(helpers.pydicom_corpus(), "CT_small.dcm")
SAMPLE_NAME = "CompressedSamples^CT1"  # CT_small.dcm's patient name: never in our output


def scan(*args):
    cp = run("scan", "--json", "--timeout", "3", *args)
    objs = parse_jsonl(cp.stdout)
    services = [o for o in objs if o["type"] == "service"]
    findings = [o for o in objs if o["type"] == "finding"]
    summary = [o for o in objs if o["type"] == "summary"][-1]
    return cp, services, findings, summary


def normalized(service):
    """A service record without what differs between runs by design: our random AE titles and timings."""
    s = json.loads(json.dumps(service))
    for a in s.get("associations", []):
        a["calling_ae"] = "*"
        if a.get("called_ae_source") == "random":
            a["called_ae"] = "*"
    for cmd in ("echo", "find", "move", "get", "store"):
        if s.get(cmd):
            s[cmd].pop("error", None)
    return s


def wait_reopen(port):
    """Until the single-connection server listens again (a bare connection would take its one slot)."""
    time.sleep(0.2)


@unittest.skipUnless(peers.have("simple_storage") and peers.have("echoscu"), "CTN (Debian ctn) not installed")
class CtnSimpleStorage(unittest.TestCase):
    def test_made_up_matches_are_noted_and_the_product_named(self):
        with TempDir() as d:
            s = peers.ctn_storage(d.path, "ctn").start().wait()
            try:
                cp, services, _, _ = scan(s.target, "--no-tls")  # CTN exits on a TLS ClientHello
                self.assertEqual(len(services), 1, cp.stdout)
                r = services[0]
                self.assertEqual(r["product"]["product"].split(" ")[0], "CTN")
                self.assertEqual(r["exposure"], "write-open")
                self.assertEqual(r["query_matching"], "ignores-keys")
                self.assertEqual(r["find"]["pending"], 4)
                text = run("scan", s.target, "--no-tls", "--timeout", "3")
                self.assertIn("for a Patient ID that cannot exist", text.stdout)
                self.assertTrue(peers.echo_ok(s.port), "the scan must leave CTN running")
            finally:
                s.stop()


@unittest.skipUnless(os.path.exists("/usr/share/java/pixelmed.jar") and peers.have("java"), "PixelMed not installed")
class PixelMed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.s = peers.pixelmed(cls.tmp.path, "pixelmed").start().wait()
        peers.store(cls.s.port, SAMPLE, called="PIXELMED")
        cls.cp, cls.services, cls.findings, cls.summary = scan(
            f"127.0.0.1:{cls.s.port}", f"127.0.0.1:{cls.s.http_port}", "--called-ae", "PIXELMED", "--no-tls")

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()
        cls.tmp.cleanup()

    def by_port(self, port):
        got = [r for r in self.services if r["port"] == port]
        self.assertEqual(len(got), 1, self.cp.stdout)
        return got[0]

    def test_dicom_port_named_and_its_retrieve_not_proven(self):
        r = self.by_port(self.s.port)
        self.assertEqual(r["product"]["product"], "PixelMed Java DICOM toolkit")
        self.assertEqual(r["ae_titles"], ["PIXELMED"])
        # C000 for a study that does not exist; DCMTK's getscu retrieves the real one from the same stranger.
        self.assertEqual(r["move"]["status"], "C000")
        self.assertEqual(r["retrieve"], "not-proven")
        got = subprocess.run(["getscu", "-S", "-aec", "PIXELMED", "-aet", "DGSTRANGER", "-k", "QueryRetrieveLevel=STUDY",
                              "-k", "StudyInstanceUID=1.3.6.1.4.1.5962.1.2.1.20040119072730.12322", "-od",
                              self.tmp.path, "127.0.0.1", str(self.s.port)], capture_output=True, text=True, timeout=60)
        self.assertTrue([n for n in os.listdir(self.tmp.path) if n.startswith("CT.")], got.stderr)
        text = run("scan", f"127.0.0.1:{self.s.port}", "--called-ae", "PIXELMED", "--no-tls", "--timeout", "3")
        self.assertIn("retrieve not proven", text.stdout)

    def test_web_port_silent_to_dicom_is_found_as_http_with_its_patient_list(self):
        r = self.by_port(self.s.http_port)
        self.assertEqual(r["protocol"], "http")
        self.assertTrue(r["dicom"])
        self.assertEqual(r["patient_list"], "open")
        self.assertEqual(r["patient_rows"] if "patient_rows" in r else None, None)  # rows are evidence, not a field
        found = [f for f in self.findings if f["target"] == f"127.0.0.1:{self.s.http_port}"]
        self.assertIn("http.patient-list.open", {f["check"] for f in found})
        rows = [f for f in found if f["check"] == "http.patient-list.open"][0]["evidence"]["rows"]
        self.assertEqual(rows, 1)  # the one patient stored
        self.assertNotIn(SAMPLE_NAME.split("^")[0], self.cp.stdout)


@unittest.skipUnless(os.path.exists("/usr/lib/python3/dist-packages/odil") or
                     subprocess.run(["/usr/bin/python3", "-c", "import odil"], capture_output=True).returncode == 0,
                     "python3-odil not installed")
class Odil(unittest.TestCase):
    def test_one_connection_at_a_time_scanned_ten_times_gives_one_record(self):
        with TempDir() as d:
            s = peers.odil(d.path, "odil", "--ae", "ODILQR").start().wait()
            try:
                records = []
                for _ in range(10):
                    wait_reopen(s.port)
                    cp, services, _, _ = scan(s.target, "--no-tls")
                    self.assertEqual(len(services), 1, cp.stdout)
                    records.append(normalized(services[0]))
                for r in records[1:]:
                    self.assertEqual(r, records[0])
                self.assertEqual(records[0]["product"]["product"], "Odil")
                self.assertEqual(records[0]["exposure"], "write-open")
            finally:
                s.stop()

    def test_every_command_refused_per_calling_ae_is_not_an_open_server(self):
        with TempDir() as d:
            s = peers.odil(d.path, "odil-refuse", "--allow-calling", "TRUSTED").start().wait()
            try:
                wait_reopen(s.port)
                cp, services, findings, _ = scan(s.target, "--no-tls", "--active-store")
                self.assertEqual(len(services), 1, cp.stdout)
                r = services[0]
                self.assertEqual({f["check"] for f in findings}, {"dimse.plaintext"})
                self.assertEqual(r["calling_ae_check"], "enforced")
                self.assertEqual(r["ae_check_level"], "command")
                self.assertEqual(r["storage"], "refused")
                self.assertEqual(r["exposure"], "identified")
                self.assertEqual(set(r["commands_refused"]), {"echo", "find", "move", "get", "store"})
                # DCMTK's storescu from a stranger is refused the same way.
                wait_reopen(s.port)
                st = subprocess.run(["storescu", "-v", "-aec", "ODILSCP", "-aet", "STRANGER", "127.0.0.1", str(s.port), SAMPLE],
                                    capture_output=True, text=True, timeout=60)
                self.assertIn("Status: 0x124", st.stderr + st.stdout)
            finally:
                s.stop()


@unittest.skipUnless(subprocess.run(["/usr/bin/python3", "-c", "import odil"], capture_output=True).returncode == 0 and
                     peers.have("simple_storage"), "python3-odil or CTN not installed")
class MoveToAnyDestination(unittest.TestCase):
    """--move-probe: our stored test object, moved to a destination AE title that names our listener's address."""

    def move_probe(self, target):
        cp, services, findings, _ = scan(target, "--no-tls", "--active-store", "--move-probe", "127.0.0.1")
        self.assertEqual(len(services), 1, cp.stdout + cp.stderr)
        return services[0], {f["check"] for f in findings}

    def test_a_server_that_reads_the_destination_as_an_address_is_caught(self):
        with TempDir() as d:
            for opts, result, received in ((("--move-aet-as-address",), "moved", True),
                                           ((), "refused-unknown-destination", False)):
                with self.subTest(opts=opts):
                    s = peers.odil(d.path, "odil-move" + str(len(opts)), *opts).start().wait()
                    try:
                        wait_reopen(s.port)
                        r, checks = self.move_probe(s.target)
                        self.assertEqual(r["move_probe"]["result"], result)
                        self.assertEqual(r["move_probe"]["received_by_listener"], received)
                        self.assertEqual("dimse.move.any-destination" in checks, received)
                    finally:
                        s.stop()
            # CTN opens the sub-association to any host:port named (its own made-up list then fails to send).
            c = peers.ctn_storage(d.path, "ctn-move").start().wait()
            try:
                r, checks = self.move_probe(c.target)
                self.assertTrue(r["move_probe"]["connected_to_listener"])
                self.assertIn("dimse.move.any-destination", checks)
            finally:
                c.stop()

    def test_move_probe_needs_active_store_and_a_short_enough_address(self):
        cp = run("scan", "127.0.0.1:104", "--move-probe", "127.0.0.1")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("--move-probe needs --active-store", cp.stderr)
        cp = run("scan", "127.0.0.1:104", "--active-store", "--move-probe", "not-an-address")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("--move-probe", cp.stderr)


class SingleConnectionScripted(unittest.TestCase):
    """A server with no listener while it serves an association, that rejects unknown called AE titles: the AE
    matrix must go on through its refusals, and two runs (ten here) must give the same record."""

    def test_the_ae_matrix_survives_refused_connections_and_ten_runs_agree(self):
        with SingleConnectionScp("SINGLE", reopen_ms=20) as s:
            records = []
            for _ in range(10):
                time.sleep(0.1)
                cp, services, _, _ = scan(f"127.0.0.1:{s.port}", "--no-tls", "--called-ae", "SINGLE")
                self.assertEqual(len(services), 1, cp.stdout)
                records.append(normalized(services[0]))
            for r in records[1:]:
                self.assertEqual({k: v for k, v in r.items() if k not in ("associations", "transport_retries")},
                                 {k: v for k, v in records[0].items() if k not in ("associations", "transport_retries")})
            r = records[0]
            self.assertEqual(r["ae_titles"], ["SINGLE"])
            self.assertEqual(r["called_ae_check"], "enforced")
            self.assertEqual(r["calling_ae_check"], "not-enforced")
            self.assertEqual(r["exposure"], "write-open")
            self.assertGreaterEqual(r["transport_retries"], 1)
            outcomes = [a["outcome"] for a in r["associations"]]
            self.assertEqual(outcomes[0], "rejected")
            self.assertEqual(outcomes[-1], "accepted")
            self.assertIn("refused", outcomes)  # the refused connection is recorded, not hidden

    def test_protected_server_text_says_what_was_tried(self):
        with SingleConnectionScp("SECRETAE", reopen_ms=5) as s:
            cp = run("scan", f"127.0.0.1:{s.port}", "--no-tls", "--timeout", "3")
            self.assertIn("called AE title enforced: 11 titles tried", cp.stdout)
            self.assertEqual(len([c for c in s.connections if c]), 11)


@unittest.skipUnless(peers.have("storescp"), "DCMTK not installed")
class PlaintextTwins(unittest.TestCase):
    def test_twins_on_evidence_possible_twins_and_none(self):
        with TempDir() as d:
            key, cert = peers.self_signed(d.path)
            tls = peers.storescp(d.path, "tls", "+tls", key, cert, "-ic").start().wait()
            plain = peers.storescp(d.path, "plain").start().wait()
            try:
                _, services, _, _ = scan(tls.target, plain.target, "--no-tls-grade")
                t = [r for r in services if r["protocol"] == "dimse-tls"][0]
                self.assertEqual(t["plaintext_twin_check"], "found")  # the same DCMTK identity, any AE on both
                self.assertEqual(t["plaintext_twin"], plain.target)
            finally:
                plain.stop()
            _, services, _, _ = scan(tls.target, "--no-tls-grade")
            self.assertEqual(services[0]["plaintext_twin_check"], "none")
            if subprocess.run(["/usr/bin/python3", "-c", "import odil"], capture_output=True).returncode == 0:
                o = peers.odil(d.path, "odil").start().wait()
                try:
                    wait_reopen(o.port)
                    _, services, _, _ = scan(tls.target, o.target, "--no-tls-grade")
                    t = [r for r in services if r["protocol"] == "dimse-tls"][0]
                    self.assertEqual(t["plaintext_twin_check"], "possible")  # any AE there, but another product
                    self.assertIsNone(t["plaintext_twin"])
                    self.assertEqual(t["plaintext_twin_possible"], [o.target])
                finally:
                    o.stop()
            tls.stop()


if __name__ == "__main__":
    unittest.main()
