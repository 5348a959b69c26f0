"""`dicomguard gateway` between real DICOM peers on loopback: DCMTK's storescu/echoscu/findscu/movescu (plain and
+tls) -> the gateway -> storescp, dcmqrscp and Orthanc, TLS on either side, certificates from `dicomguard ca`.

Asserted as a user would check: objects stored through the gateway arrive with the same data set bytes as the
file sent; every denial is the DICOM answer a DCMTK client prints (A-ASSOCIATE-RJ with its reason, status 0x0124 or
0xA801 on an accepted association); mutual TLS with an issued client certificate is accepted and one from another
CA refused; C-MOVE through the gateway reaches a TLS-only destination; `dicomguard tls` grades the listener B.12
(and B.13 with --profile B.13); a malformed PDU aborts only its own association; SIGHUP reloads the policy and the
certificates, SIGTERM drains; the ATNA trail reaches a real rsyslogd over syslog+tls and a file, every message valid
against the PS3.15 A.5.1 schema (jing). Only 127.0.0.1.
"""

import base64
import collections
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
import unittest

import peers
import test_audit
from helpers import BINARY, TempDir, parse_jsonl, run

DCMTK_ENV = dict(os.environ, TCP_NODELAY="1")


def dcmtk(*argv, timeout=60):
    cp = subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                        timeout=timeout, env=DCMTK_ENV, stdin=subprocess.DEVNULL)
    return cp.returncode, cp.stdout


def make_object(path, study_uid, instance_uid, patient_id="GW-TEST-1", frames_bytes=300_000):
    """A Secondary Capture with random pixel bytes, explicit VR little endian, written by pydicom."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = instance_uid
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = instance_uid
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = study_uid + ".1"
    ds.PatientID = patient_id
    ds.PatientName = "GATEWAY^TEST"
    ds.Modality = "OT"
    side = int((frames_bytes / 2) ** 0.5)
    ds.Rows = ds.Columns = side
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = os.urandom(side * side * 2)
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)


def dataset_bytes(path):
    """The bytes after the File Meta group: what a C-STORE carries."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[128:132] == b"DICM"
    (meta_len,) = struct.unpack_from("<I", data, 132 + 8)
    return data[132 + 12 + meta_len:]


def tcp_sockets(pid):
    """The established TCP sockets the process holds: {inode: (local port, remote port)}, from /proc (an accepted
    connection has an inode only once accept() made it a descriptor; one still in the backlog has none)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    held = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table, encoding="ascii").read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) > 9 and f[3] == "01" and f[9] in inodes:  # 01: ESTABLISHED
                held[f[9]] = (int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16))
    return held


def wait_new_sockets(pid, before, wanted, seconds=20):
    """Until the process holds established sockets, not in `before`, matching every predicate of `wanted`
    (each called with (local port, remote port)). Counting descriptors instead raced with the gateway closing
    the connection of an earlier client."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        new = [ports for inode, ports in tcp_sockets(pid).items() if inode not in before]
        if all(any(w(*ports) for ports in new) for w in wanted):
            return True
        time.sleep(0.01)
    return False


class Gateway:
    """The binary under test as a foreground process with --json; events() parses what it logged so far."""

    def __init__(self, root, name, *args):
        self.port = peers.free_port()
        self.args = [BINARY, "gateway", "--listen", f"127.0.0.1:{self.port}", "--json", *[str(a) for a in args]]
        self.log_path = os.path.join(root, name + ".jsonl")
        self.err_path = os.path.join(root, name + ".err")
        self.extra_ports = []

    def start(self, wait_ports=()):
        self.out = open(self.log_path, "wb")
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL)
        for p in (self.port, *wait_ports):
            peers.wait_listening(p, self.proc, what="gateway")
        return self

    def events(self):
        with open(self.log_path, encoding="utf-8") as f:
            return parse_jsonl(f.read())

    def wait_for(self, pred, seconds=20):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            evs = [e for e in self.events() if pred(e)]
            if evs:
                return evs
            time.sleep(0.05)
        raise AssertionError("no such event in the gateway's log: " + open(self.log_path).read()[-3000:])

    def stop(self):
        peers.stop_process(self.proc, 40)
        self.out.close()
        self.err.close()
        return self.proc.returncode


class GatewayPeers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir("dg-gw-")
        root = cls.tmp.path
        cls.ca = os.path.join(root, "ca")
        cls.other_ca = os.path.join(root, "other-ca")
        assert run("ca", "init", cls.ca, "--name", "gw-test").returncode == 0
        assert run("ca", "init", cls.other_ca, "--name", "stranger").returncode == 0
        for ca, name, ae in ((cls.ca, "localhost", "GATEWAY"), (cls.ca, "modality.test", "STORESCU"),
                             (cls.ca, "workstation.test", "WS"), (cls.other_ca, "modality.test", "STORESCU")):
            cp = run("ca", "issue", ca, "--name", name, "--ip", "127.0.0.1", "--ae", ae)
            assert cp.returncode == 0, cp.stderr
        cls.root_crt = os.path.join(cls.ca, "ca.crt")
        issued = os.path.join(cls.ca, "issued")
        cls.gw_cert, cls.gw_key = os.path.join(issued, "localhost-chain.pem"), os.path.join(issued, "localhost.key")
        cls.scu_cert, cls.scu_key = os.path.join(issued, "modality.test.crt"), os.path.join(issued, "modality.test.key")
        cls.ws_cert, cls.ws_key = os.path.join(issued, "workstation.test.crt"), os.path.join(issued, "workstation.test.key")
        o = os.path.join(cls.other_ca, "issued")
        cls.stranger_cert, cls.stranger_key = os.path.join(o, "modality.test.crt"), os.path.join(o, "modality.test.key")

        cls.study = "1.2.826.0.1.3680043.10.1427.77.1"
        cls.files = []
        for i in range(3):
            p = os.path.join(root, f"obj{i}.dcm")
            make_object(p, cls.study, f"{cls.study}.{i + 1}")
            cls.files.append(p)

        cls.scp = peers.storescp(root, "scp", "-aet", "STORESCP").start().wait()
        cls.scp_tls = peers.storescp(root, "scp-tls", "-aet", "STORESCP", "+tls", cls.ws_key, cls.ws_cert,
                                     "+cf", cls.root_crt).start()
        peers.wait_listening(cls.scp_tls.port, cls.scp_tls.proc)

    @classmethod
    def tearDownClass(cls):
        cls.scp.stop()
        cls.scp_tls.stop()
        cls.tmp.cleanup()

    def gateway(self, name, *args, wait_ports=()):
        g = Gateway(self.tmp.path, name, *args).start(wait_ports)
        self.addCleanup(g.stop)
        return g

    def tls_scu(self, cert=None, key=None):
        return ["+tls", key or self.scu_key, cert or self.scu_cert, "+cf", self.root_crt]

    def stored_in(self, scp, instance_uid):
        for name in os.listdir(scp.workdir):
            if name.endswith(instance_uid):
                return os.path.join(scp.workdir, name)
        return None

    # ------------------------------------------------------------------------------------------ relaying

    def test_store_plain_through_gateway_arrives_byte_identical(self):
        g = self.gateway("plain", "--upstream", self.scp.target)
        rc, out = dcmtk("storescu", "-aec", "STORESCP", "127.0.0.1", g.port, *self.files)
        self.assertEqual(rc, 0, out)
        for i, f in enumerate(self.files):
            got = self.stored_in(self.scp, f"{self.study}.{i + 1}")
            self.assertIsNotNone(got, f"object {i} did not arrive")
            self.assertEqual(dataset_bytes(got), dataset_bytes(f))
        ev = g.wait_for(lambda e: e["type"] == "association" and e.get("calling_ae") == "STORESCU")[0]
        self.assertEqual(ev["ended"], "released")
        self.assertEqual(ev["commands"], 3)
        self.assertEqual(ev["denied"], 0)
        self.assertGreater(ev["bytes_from_client"], sum(os.path.getsize(f) for f in self.files) * 0.9)

    def test_mutual_tls_in_plain_out_accepts_issued_certificate_refuses_others(self):
        g = self.gateway("mtls", "--tls-cert", self.gw_cert, "--tls-key", self.gw_key, "--tls-ca", self.root_crt,
                         "--require-client-cert", "--upstream", self.scp.target,
                         "--allow-calling", "STORESCU@modality.test")
        rc, out = dcmtk("storescu", *self.tls_scu(), "-aec", "STORESCP", "127.0.0.1", g.port, self.files[0])
        self.assertEqual(rc, 0, out)
        self.assertEqual(dataset_bytes(self.stored_in(self.scp, f"{self.study}.1")), dataset_bytes(self.files[0]))
        ok = g.wait_for(lambda e: e["type"] == "association" and e.get("ended") == "released")[0]
        self.assertEqual(ok["client_identity"], "modality.test")
        self.assertIn(ok["tls_version"], ("TLSv1.2", "TLSv1.3"))
        # A certificate from another CA: the handshake fails, nothing reaches the SCP.
        rc, out = dcmtk("echoscu", *self.tls_scu(self.stranger_cert, self.stranger_key), "-aec", "STORESCP",
                        "127.0.0.1", g.port)
        self.assertNotEqual(rc, 0, out)
        g.wait_for(lambda e: e["type"] == "denial" and e["stage"] == "tls")
        # No certificate at all.
        rc, out = dcmtk("echoscu", "+tls", "-ic", "+cf", self.root_crt, "-aec", "STORESCP", "127.0.0.1", g.port)
        self.assertNotEqual(rc, 0, out)
        # Plain TCP to a TLS listener.
        rc, out = dcmtk("echoscu", "-aec", "STORESCP", "127.0.0.1", g.port)
        self.assertNotEqual(rc, 0, out)
        tls_denials = [e for e in g.events() if e["type"] == "denial" and e["stage"] == "tls"]
        self.assertGreaterEqual(len(tls_denials), 3)

    def test_ae_title_bound_to_certificate_identity(self):
        # STORESCU is allowed only with the certificate of workstation.test: modality.test's is refused.
        g = self.gateway("bound", "--tls-cert", self.gw_cert, "--tls-key", self.gw_key, "--tls-ca", self.root_crt,
                         "--require-client-cert", "--upstream", self.scp.target,
                         "--allow-calling", "STORESCU@workstation.test")
        rc, out = dcmtk("echoscu", *self.tls_scu(), "-aet", "STORESCU", "-aec", "STORESCP", "127.0.0.1", g.port)
        self.assertNotEqual(rc, 0)
        self.assertIn("Calling AE Title Not Recognized", out)
        ev = g.wait_for(lambda e: e["type"] == "denial" and e["stage"] == "association")[0]
        self.assertEqual(ev["reason"], "calling AE title not bound to this client certificate")
        self.assertEqual(ev["rj"], {"result": 1, "source": 1, "reason": 3, "text": "calling-AE-title-not-recognized"})
        self.assertIn("gateway.denied.association", ev["checks"])

    def test_called_and_calling_ae_denials_are_a_associate_rj(self):
        g = self.gateway("aes", "--upstream", self.scp.target, "--called-ae", "STORESCP", "--allow-calling", "GOOD")
        rc, out = dcmtk("echoscu", "-aet", "GOOD", "-aec", "WRONG", "127.0.0.1", g.port)
        self.assertNotEqual(rc, 0)
        self.assertIn("Called AE Title Not Recognized", out)
        rc, out = dcmtk("echoscu", "-aet", "BAD", "-aec", "STORESCP", "127.0.0.1", g.port)
        self.assertNotEqual(rc, 0)
        self.assertIn("Calling AE Title Not Recognized", out)
        rc, out = dcmtk("echoscu", "-aet", "GOOD", "-aec", "STORESCP", "127.0.0.1", g.port)
        self.assertEqual(rc, 0, out)

    def test_source_address_denial(self):
        g = self.gateway("src", "--upstream", self.scp.target, "--allow-source", "10.0.0.0/8")
        rc, out = dcmtk("echoscu", "-aec", "STORESCP", "127.0.0.1", g.port)
        self.assertNotEqual(rc, 0)
        self.assertIn("Rejected Permanent", out)
        ev = g.wait_for(lambda e: e["type"] == "denial")[0]
        self.assertEqual(ev["filter"], "source")

    def test_denied_store_gets_0124_and_nothing_reaches_the_scp(self):
        g = self.gateway("nostore", "--upstream", self.scp.target, "--deny", "C-STORE")
        study = "1.2.826.0.1.3680043.10.1427.77.9"
        f = os.path.join(self.tmp.path, "denied.dcm")
        make_object(f, study, study + ".1")
        rc, out = dcmtk("storescu", "-v", "-aec", "STORESCP", "127.0.0.1", g.port, f)
        self.assertNotEqual(rc, 0)
        self.assertIn("Status: 0x124", out)  # DCMTK 3.6.7 has no name for 0x0124 (Refused: Not Authorized)
        self.assertIsNone(self.stored_in(self.scp, study + ".1"))
        # C-ECHO on the same route still works.
        rc, out = dcmtk("echoscu", "-aec", "STORESCP", "127.0.0.1", g.port)
        self.assertEqual(rc, 0, out)
        ev = g.wait_for(lambda e: e["type"] == "denial" and e["stage"] == "command")[0]
        self.assertEqual((ev["command"], ev["status"]), ("C-STORE", "0x0124"))

    def test_upstream_tls(self):
        g = self.gateway("tlsout", "--upstream", self.scp_tls.target, "--upstream-tls", "--upstream-ca", self.root_crt,
                         "--upstream-cert", self.gw_cert, "--upstream-key", self.gw_key)
        rc, out = dcmtk("storescu", "-aec", "STORESCP", "127.0.0.1", g.port, self.files[1])
        self.assertEqual(rc, 0, out)
        got = self.stored_in(self.scp_tls, f"{self.study}.2")
        self.assertEqual(dataset_bytes(got), dataset_bytes(self.files[1]))

    def test_upstream_tls_refuses_an_upstream_it_cannot_verify(self):
        other_root = os.path.join(self.other_ca, "ca.crt")
        g = self.gateway("tlsout-bad", "--upstream", self.scp_tls.target, "--upstream-tls", "--upstream-ca", other_root)
        rc, out = dcmtk("echoscu", "-aec", "STORESCP", "127.0.0.1", g.port)
        self.assertNotEqual(rc, 0)
        self.assertIn("Rejected Transient", out)
        g.wait_for(lambda e: e["type"] == "denial" and e["stage"] == "tls")

    def test_tls_in_tls_out(self):
        g = self.gateway("tls2", "--tls-cert", self.gw_cert, "--tls-key", self.gw_key, "--tls-ca", self.root_crt,
                         "--require-client-cert", "--upstream", self.scp_tls.target, "--upstream-tls",
                         "--upstream-ca", self.root_crt, "--upstream-cert", self.gw_cert, "--upstream-key", self.gw_key)
        rc, out = dcmtk("storescu", *self.tls_scu(), "-aec", "STORESCP", "127.0.0.1", g.port, self.files[2])
        self.assertEqual(rc, 0, out)
        self.assertEqual(dataset_bytes(self.stored_in(self.scp_tls, f"{self.study}.3")), dataset_bytes(self.files[2]))

    # ------------------------------------------------------------------------------------------ grading

    def grade(self, port, profile):
        cp = run("tls", f"127.0.0.1:{port}", "--ca-file", self.root_crt, "--json")
        objs = parse_jsonl(cp.stdout)
        rec = [o for o in objs if o["type"] == "tls"][0]
        return rec, objs

    def test_dicomguard_tls_grades_the_listener_b12_pass(self):
        g = self.gateway("grade12", "--tls-cert", self.gw_cert, "--tls-key", self.gw_key, "--upstream", self.scp.target)
        rec, objs = self.grade(g.port, "B.12")
        self.assertIn("B.12", rec["meets"], json.dumps(rec)[:3000])
        certs = sorted(o["check"] for o in objs if o["type"] == "finding" and o["check"].startswith("tls.cert."))
        self.assertEqual(certs, [])

    def test_dicomguard_tls_grades_profile_b13_pass(self):
        g = self.gateway("grade13", "--tls-cert", self.gw_cert, "--tls-key", self.gw_key, "--upstream", self.scp.target,
                         "--profile", "B.13")
        rec, _ = self.grade(g.port, "B.13")
        self.assertIn("B.13", rec["meets"], json.dumps(rec)[:3000])

    # ------------------------------------------------------------------------------------------ robustness

    def test_malformed_pdu_aborts_only_that_association(self):
        g = self.gateway("hostile", "--upstream", self.scp.target)
        with socket.create_connection(("127.0.0.1", g.port), timeout=10) as s:
            s.sendall(b"\x09\x00\x00\x00\x00\x04abcd")  # PDU type 9 does not exist
            answer = s.recv(100)
        self.assertEqual(answer[:1], b"\x07", "expected an A-ABORT")
        with socket.create_connection(("127.0.0.1", g.port), timeout=10) as s:
            s.sendall(b"\x01\x00" + struct.pack(">I", 64 << 20))  # an A-ASSOCIATE-RQ claiming 64 MiB
            answer = s.recv(100)
        self.assertEqual(answer[:1], b"\x07")
        rc, out = dcmtk("echoscu", "-aec", "STORESCP", "127.0.0.1", g.port)
        self.assertEqual(rc, 0, out)
        v = [e for e in g.events() if e["type"] == "denial" and e["stage"] == "protocol"]
        self.assertEqual(len(v), 2)
        self.assertTrue(all("gateway.protocol-violation" in e["checks"] for e in v))

    def test_slow_sender_is_cut_off(self):
        g = self.gateway("slow", "--upstream", self.scp.target, "--pdu-timeout", "1", "--setup-timeout", "2")
        with socket.create_connection(("127.0.0.1", g.port), timeout=20) as s:
            s.sendall(b"\x01\x00\x00\x00\x01\x00")  # an RQ header, then nothing
            t0 = time.monotonic()
            answer = s.recv(100)
        self.assertEqual(answer[:1], b"\x07")
        ev = g.wait_for(lambda e: e["type"] == "association" and e["bytes_from_client"] == 6)[0]
        self.assertEqual(ev["ended"], "timeout")

    def test_max_associations_answers_rejected_transient(self):
        g = self.gateway("max", "--upstream", self.scp.target, "--max-associations", "1", "--setup-timeout", "5")
        before = tcp_sockets(g.proc.pid)
        hold = socket.create_connection(("127.0.0.1", g.port), timeout=10)  # takes the one slot, sends nothing
        self.addCleanup(hold.close)
        held = hold.getsockname()[1]
        self.assertTrue(wait_new_sockets(g.proc.pid, before, [lambda local, remote: remote == held]),
                        "the gateway did not accept the first connection")
        rc, out = dcmtk("echoscu", "-aec", "STORESCP", "127.0.0.1", g.port)
        self.assertNotEqual(rc, 0)
        self.assertIn("Rejected Transient", out)
        self.assertIn("Local Limit Exceeded", out)

    def test_sighup_reloads_policy_and_sigterm_drains(self):
        cfg = os.path.join(self.tmp.path, "reload.toml")

        def write(deny):
            with open(cfg + ".tmp", "w") as f:
                f.write(f'[[route]]\nname = "r"\nlisten = "127.0.0.1:{port}"\nupstream = "{self.scp.target}"\n'
                        f'deny = {json.dumps(deny)}\n')
            os.replace(cfg + ".tmp", cfg)

        port = peers.free_port()
        write(["C-ECHO"])
        out = open(os.path.join(self.tmp.path, "reload.jsonl"), "wb")
        proc = subprocess.Popen([BINARY, "gateway", "--config", cfg, "--json"], stdout=out, stderr=subprocess.STDOUT)
        try:
            peers.wait_listening(port, proc, what="gateway")
            rc, text = dcmtk("echoscu", "-v", "-aec", "STORESCP", "127.0.0.1", port)
            self.assertIn("Status: 0x124", text)  # echoscu exits 0 on a failure status; it prints it
            write([])
            proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if b'"reloaded"' in open(out.name, "rb").read():
                    break
                time.sleep(0.05)
            rc, text = dcmtk("echoscu", "-v", "-aec", "STORESCP", "127.0.0.1", port)
            self.assertEqual(rc, 0, text)
            self.assertIn("Received Echo Response (Success)", text)
            # A store running when SIGTERM arrives finishes; then the gateway exits 0.
            big = os.path.join(self.tmp.path, "big.dcm")
            make_object(big, "1.2.826.0.1.3680043.10.1427.77.5", "1.2.826.0.1.3680043.10.1427.77.5.1",
                        frames_bytes=20_000_000)
            before = tcp_sockets(proc.pid)
            scu = subprocess.Popen(["storescu", "-aec", "STORESCP", "127.0.0.1", str(port), big], env=DCMTK_ENV,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            # SIGTERM once the gateway has the association: the client accepted and the upstream connected.
            upstream = int(self.scp.target.rsplit(":", 1)[1])
            self.assertTrue(wait_new_sockets(proc.pid, before, [lambda local, remote: local == port,
                                                                lambda local, remote: remote == upstream]),
                            "the gateway did not take the association")
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(scu.wait(timeout=60), 0, scu.stdout.read())
            self.assertEqual(proc.wait(timeout=60), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
            out.close()
        with open(out.name, encoding="utf-8") as f:
            events = parse_jsonl(f.read())
        self.assertTrue(any(e["type"] == "gateway" and e.get("event") == "draining" for e in events))
        self.assertEqual(self.stored_in(self.scp, "1.2.826.0.1.3680043.10.1427.77.5.1") is not None, True)

    def test_sighup_reloads_certificates(self):
        # The listener's certificate files are replaced (as a renewal does) and SIGHUP sent: a new connection gets
        # the new certificate; an old file that no longer loads would leave the running one in place.
        d = os.path.join(self.tmp.path, "reload-cert")
        os.makedirs(d)
        issued = os.path.join(self.ca, "issued")
        cert, key = os.path.join(d, "gw.pem"), os.path.join(d, "gw.key")
        shutil.copy(self.gw_cert, cert)
        shutil.copy(self.gw_key, key)
        g = self.gateway("reload-cert", "--tls-cert", cert, "--tls-key", key, "--upstream", self.scp.target)

        def served_serial():
            cp = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{g.port}", "-showcerts"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                timeout=30)
            pem = re.search(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", cp.stdout, re.S).group(0)
            x = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=pem, stdout=subprocess.PIPE, timeout=30)
            return x.stdout.decode().strip()

        def file_serial(path):
            x = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", path], stdout=subprocess.PIPE, timeout=30)
            return x.stdout.decode().strip()

        first = served_serial()
        self.assertEqual(first, file_serial(self.gw_cert))
        cp = run("ca", "issue", self.ca, "--name", "gateway2.test", "--ip", "127.0.0.1", "--ae", "GATEWAY")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        new_cert = os.path.join(issued, "gateway2.test-chain.pem")
        shutil.copy(new_cert, cert + ".tmp")
        shutil.copy(os.path.join(issued, "gateway2.test.key"), key + ".tmp")
        os.replace(cert + ".tmp", cert)
        os.replace(key + ".tmp", key)
        g.proc.send_signal(signal.SIGHUP)
        g.wait_for(lambda e: e["type"] == "gateway" and e["event"] == "reloaded")
        self.assertEqual(served_serial(), file_serial(new_cert))
        self.assertNotEqual(file_serial(new_cert), first)
        # A key that does not match: the reload is refused and the running certificate stays.
        shutil.copy(self.gw_key, key)
        g.proc.send_signal(signal.SIGHUP)
        ev = g.wait_for(lambda e: e["type"] == "gateway" and e["event"] == "reload-failed")[0]
        self.assertRegex(ev["error"], "mismatch|does not match")
        self.assertEqual(served_serial(), file_serial(new_cert))

    def test_bad_arguments_are_clear_errors(self):
        cp = run("gateway", "--listen", "127.0.0.1:1", "--upstream", "nowhere")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("not HOST:PORT", cp.stderr)
        cp = run("gateway", "--listen", "1", "--upstream", "127.0.0.1:2", "--deny", "C-DANCE")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("C-DANCE", cp.stderr)
        cp = run("gateway", "--listen", "1", "--upstream", "127.0.0.1:2", "--tls-cert", "/nonexistent.pem",
                 "--tls-key", "/nonexistent.key")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("/nonexistent.pem", cp.stderr)
        bad = os.path.join(self.tmp.path, "bad.toml")
        with open(bad, "w") as f:
            f.write('[[route]]\nlisten = "1"\nupstream = "127.0.0.1:2"\ndeny = "C-ECHO"\ncolour = 1\n')
        cp = run("gateway", "--config", bad)
        self.assertEqual(cp.returncode, 2)
        self.assertIn("unknown key 'colour'", cp.stderr)


class GatewayQueryRetrieve(unittest.TestCase):
    """dcmqrscp behind the gateway: C-FIND allowed or refused, C-MOVE to an allowed destination through the
    gateway's reverse route to a TLS-only storescp, to an unknown one refused with 0xA801."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir("dg-gwqr-")
        root = cls.tmp.path
        cls.ca = os.path.join(root, "ca")
        assert run("ca", "init", cls.ca).returncode == 0
        for name, ae in (("localhost", "GATEWAY"), ("workstation.test", "WS")):
            assert run("ca", "issue", cls.ca, "--name", name, "--ip", "127.0.0.1", "--ae", ae).returncode == 0
        issued = os.path.join(cls.ca, "issued")
        cls.root_crt = os.path.join(cls.ca, "ca.crt")
        cls.gw_cert, cls.gw_key = os.path.join(issued, "localhost-chain.pem"), os.path.join(issued, "localhost.key")
        ws_cert, ws_key = os.path.join(issued, "workstation.test.crt"), os.path.join(issued, "workstation.test.key")
        cls.move_port = peers.free_port()
        cls.ws = peers.storescp(root, "ws", "-aet", "WS", "+tls", ws_key, ws_cert, "+cf", cls.root_crt).start()
        peers.wait_listening(cls.ws.port, cls.ws.proc)
        # The archive sends WS's sub-associations to the gateway's reverse route, as a site would configure it.
        cls.qr = peers.dcmqrscp(root, "qr", ae="QR", hosts=[("ws", "WS", cls.move_port)]).start().wait()
        cls.study = "1.2.826.0.1.3680043.10.1427.78.1"
        cls.files = []
        for i in range(2):
            p = os.path.join(root, f"qr{i}.dcm")
            make_object(p, cls.study, f"{cls.study}.{i + 1}")
            cls.files.append(p)
        rc, out = dcmtk("storescu", "-aec", "QR", "127.0.0.1", cls.qr.port, *cls.files)
        assert rc == 0, out

    @classmethod
    def tearDownClass(cls):
        cls.qr.stop()
        cls.ws.stop()
        cls.tmp.cleanup()

    def gateway(self, name, *args, wait_ports=()):
        g = Gateway(self.tmp.path, name, "--upstream", self.qr.target, *args).start(wait_ports)
        self.addCleanup(g.stop)
        return g

    def test_find_allowed_and_denied(self):
        g = self.gateway("find-ok")
        rc, out = dcmtk("findscu", "-v", "-S", "-aec", "QR", "-k", "QueryRetrieveLevel=STUDY", "-k",
                        f"StudyInstanceUID={self.study}", "127.0.0.1", g.port)
        self.assertEqual(rc, 0, out)
        self.assertIn(self.study, out)
        g2 = self.gateway("find-no", "--deny", "C-FIND")
        rc, out = dcmtk("findscu", "-v", "-S", "-aec", "QR", "-k", "QueryRetrieveLevel=STUDY", "-k",
                        f"StudyInstanceUID={self.study}", "127.0.0.1", g2.port)
        self.assertNotIn(self.study + "]", out.split("Find Response")[-1] if "Find Response" in out else out)
        self.assertIn("Status: 0x124", out)  # DCMTK 3.6.7 has no name for 0x0124 (Refused: Not Authorized)
        ev = g2.wait_for(lambda e: e["type"] == "denial")[0]
        self.assertEqual(ev["command"], "C-FIND")

    def test_move_through_the_gateway_to_a_tls_only_destination(self):
        g = self.gateway("move", "--move-dest", f"WS=tls://127.0.0.1:{self.ws.port}",
                         "--move-listen", f"127.0.0.1:{self.move_port}", "--upstream-ca", self.root_crt,
                         "--upstream-cert", self.gw_cert, "--upstream-key", self.gw_key,
                         wait_ports=(self.move_port,))
        rc, out = dcmtk("movescu", "-v", "-S", "-aec", "QR", "-aem", "WS", "-k", "QueryRetrieveLevel=STUDY", "-k",
                        f"StudyInstanceUID={self.study}", "127.0.0.1", g.port)
        self.assertEqual(rc, 0, out)
        arrived = sorted(n for n in os.listdir(self.ws.workdir) if n.startswith("SC."))
        self.assertEqual(len(arrived), 2, out)
        for i, f in enumerate(self.files):
            got = os.path.join(self.ws.workdir, f"SC.{self.study}.{i + 1}")
            self.assertEqual(dataset_bytes(got), dataset_bytes(f))
        sub = g.wait_for(lambda e: e["type"] == "association" and e["route"] == "default-move" and "calling_ae" in e)[0]
        self.assertEqual((sub["calling_ae"], sub["called_ae"], sub["commands"]), ("QR", "WS", 2))
        # An unknown destination: 0xA801, and nothing moves.
        rc, out = dcmtk("movescu", "-v", "-S", "-aec", "QR", "-aem", "EVIL", "-k", "QueryRetrieveLevel=STUDY", "-k",
                        f"StudyInstanceUID={self.study}", "127.0.0.1", g.port)
        self.assertIn("MoveDestinationUnknown", out)
        ev = g.wait_for(lambda e: e["type"] == "denial" and e.get("move_destination") == "EVIL")[0]
        self.assertEqual(ev["status"], "0xA801")


class GatewayOrthanc(unittest.TestCase):
    """Orthanc behind a TLS gateway: what storescu +tls sends arrives in Orthanc unchanged (read back over its REST
    API)."""

    def test_store_into_orthanc_through_tls_gateway(self):
        import urllib.request
        tmp = TempDir("dg-gwo-")
        self.addCleanup(tmp.cleanup)
        ca = os.path.join(tmp.path, "ca")
        assert run("ca", "init", ca).returncode == 0
        for name, ae in (("localhost", "GATEWAY"), ("modality.test", "STORESCU")):
            assert run("ca", "issue", ca, "--name", name, "--ip", "127.0.0.1", "--ae", ae).returncode == 0
        issued = os.path.join(ca, "issued")
        orthanc = peers.orthanc(tmp.path, "orthanc").start().wait()
        self.addCleanup(orthanc.stop)
        g = Gateway(tmp.path, "gw", "--tls-cert", os.path.join(issued, "localhost-chain.pem"), "--tls-key",
                    os.path.join(issued, "localhost.key"), "--tls-ca", os.path.join(ca, "ca.crt"),
                    "--require-client-cert", "--upstream", orthanc.target, "--called-ae", "ORTHANC").start()
        self.addCleanup(g.stop)
        study = "1.2.826.0.1.3680043.10.1427.79.1"
        f = os.path.join(tmp.path, "o.dcm")
        make_object(f, study, study + ".1")
        rc, out = dcmtk("storescu", "+tls", os.path.join(issued, "modality.test.key"),
                        os.path.join(issued, "modality.test.crt"), "+cf", os.path.join(ca, "ca.crt"), "-aec",
                        "ORTHANC", "127.0.0.1", g.port, f)
        self.assertEqual(rc, 0, out)
        base = f"http://127.0.0.1:{orthanc.http_port}"
        ids = json.load(urllib.request.urlopen(base + "/instances", timeout=10))
        self.assertEqual(len(ids), 1)
        got = urllib.request.urlopen(f"{base}/instances/{ids[0]}/file", timeout=10).read()
        p = os.path.join(tmp.path, "back.dcm")
        with open(p, "wb") as fh:
            fh.write(got)
        self.assertEqual(dataset_bytes(p), dataset_bytes(f))


if __name__ == "__main__":
    unittest.main()


@unittest.skipUnless(os.path.exists(test_audit.RSYSLOGD) and shutil.which("jing") and
                     os.path.exists("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so"),
                     "needs rsyslogd with rsyslog-openssl and jing")
class GatewayAudit(unittest.TestCase):
    """The gateway's ATNA trail into a real rsyslogd over syslog+tls (certificates from `dicomguard ca`) and into a
    file: what passes through (stores, a query) and what is refused (a calling AE, a command, a malformed PDU),
    each message valid against the PS3.15 A.5.1 schema (jing)."""

    def test_audit_trail_of_what_passes_and_what_is_refused(self):
        tmp = TempDir("dg-gwaudit-")
        self.addCleanup(tmp.cleanup)
        ca = os.path.join(tmp.path, "ca")
        for args in (["init", ca, "--name", "gw-audit"],
                     ["issue", ca, "--name", "localhost", "--ip", "127.0.0.1", "--ae", "COLLECTOR"],
                     ["issue", ca, "--name", "gateway.local", "--ae", "GATEWAY"]):
            cp = run("ca", *args)
            self.assertEqual(cp.returncode, 0, cp.stderr)
        col = test_audit.Collector(tmp.path, ca)
        col.start()
        self.addCleanup(col.stop)
        qr = peers.dcmqrscp(tmp.path, "qr", ae="QR").start().wait()
        self.addCleanup(qr.stop)
        trail_file = os.path.join(tmp.path, "audit.log")
        issued = os.path.join(ca, "issued")
        g = Gateway(tmp.path, "gw", "--upstream", qr.target, "--called-ae", "QR",
                    "--allow-calling", "STORESCU", "--allow-calling", "FINDSCU", "--allow-calling", "ECHOSCU",
                    "--deny", "C-ECHO",
                    "--audit", f"syslog+tls://127.0.0.1:{col.tls_port}", "--audit", f"file:{trail_file}",
                    "--audit-spool", os.path.join(tmp.path, "spool"), "--audit-ca", os.path.join(ca, "ca.crt"),
                    "--audit-cert", os.path.join(issued, "gateway.local.crt"),
                    "--audit-key", os.path.join(issued, "gateway.local.key")).start()
        study = "1.2.826.0.1.3680043.10.1427.80.1"
        files = []
        for i in range(2):
            p = os.path.join(tmp.path, f"a{i}.dcm")
            make_object(p, study, f"{study}.{i + 1}", patient_id="AUDIT-PID-7")
            files.append(p)
        rc, out = dcmtk("storescu", "-aec", "QR", "127.0.0.1", g.port, *files)
        self.assertEqual(rc, 0, out)
        rc, out = dcmtk("findscu", "-S", "-aec", "QR", "-k", "QueryRetrieveLevel=STUDY", "-k",
                        f"StudyInstanceUID={study}", "127.0.0.1", g.port)
        self.assertEqual(rc, 0, out)
        dcmtk("echoscu", "-aec", "QR", "127.0.0.1", g.port)                   # refused command
        dcmtk("echoscu", "-aet", "INTRUDER", "-aec", "QR", "127.0.0.1", g.port)  # refused calling AE
        with socket.create_connection(("127.0.0.1", g.port), timeout=10) as s:  # a malformed PDU
            s.sendall(b"\x01\x00\x00\x00\x00\x02\xff\xff")
            s.recv(100)
        self.assertEqual(g.stop(), 0)

        expected = {"110100": 2, "110102": 1, "110104": 1, "110112": 1, "110113": 3}
        lines = col.wait("tls", sum(expected.values()))
        ids = collections.Counter(re.search(r'<EventID csd-code="(\d+)"', m).group(1) for m in lines)
        self.assertEqual(dict(ids), expected, "\n".join(l[:300] for l in lines))
        with open(trail_file, encoding="utf-8") as f:
            file_lines = f.read().splitlines()
        self.assertEqual(len(file_lines), len(lines))
        for m in lines:
            self.assertRegex(m, r"^<85>1 \S+ \S+ dicomguard \d+ DICOM\+RFC3881 - ")
        transferred = [m for m in lines if 'csd-code="110104"' in m][0]
        self.assertIn(study, transferred)
        self.assertIn("1.2.840.10008.5.1.4.1.1.7", transferred)
        self.assertIn("AUDIT-PID-7", transferred)  # the Patient participant object the message requires
        query = [m for m in lines if 'csd-code="110112"' in m][0]
        self.assertIn("1.2.840.10008.5.1.4.1.2.2.1", query)  # Study Root FIND
        # The alert descriptions (ParticipantObjectDetail values are base64, as the schema types them).
        alerts = " ".join(m for m in lines if 'csd-code="110113"' in m)
        alerts += " ".join(base64.b64decode(v).decode() for v in
                           re.findall(r'type="Alert Description" value="([^"]+)"', alerts))
        for words in ("C-ECHO refused", "INTRUDER", "calling AE title not recognized", "protocol violation"):
            self.assertIn(words, alerts)
        # Every message is valid against the A.5.1 schema.
        rc, out = test_audit.jing(lines, os.path.join(tmp.path, "xml"))
        self.assertEqual(rc, 0, out[:3000])
        # The connection log has no patient data.
        self.assertNotIn("AUDIT-PID-7", open(g.log_path, encoding="utf-8").read())

    def test_a_flood_of_hostile_connections_is_counted_not_sent_one_by_one(self):
        tmp = TempDir("dg-gwflood-")
        self.addCleanup(tmp.cleanup)
        scp = peers.storescp(tmp.path, "scp", "-aet", "STORESCP").start().wait()
        self.addCleanup(scp.stop)
        trail = os.path.join(tmp.path, "audit.log")
        g = Gateway(tmp.path, "gw", "--upstream", scp.target, "--audit", f"file:{trail}").start()
        for _ in range(35):
            with socket.create_connection(("127.0.0.1", g.port), timeout=10) as s:
                s.sendall(b"\x09\x00\x00\x00\x00\x00")
                s.recv(100)
        self.assertEqual(g.stop(), 0)
        with open(trail, encoding="utf-8") as f:
            lines = f.read().splitlines()
        alerts = [m for m in lines if 'csd-code="110113"' in m]
        self.assertEqual(len(alerts), 21)  # 20 in the minute, then one that counts the other 15
        last = [base64.b64decode(v).decode() for v in re.findall(r'type="Alert Description" value="([^"]+)"', alerts[-1])]
        self.assertIn("15 further security alerts", " ".join(last))
        rc, out = test_audit.jing(lines, os.path.join(tmp.path, "xml"))
        self.assertEqual(rc, 0, out[:3000])
