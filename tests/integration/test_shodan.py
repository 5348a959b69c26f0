"""dicomguard shodan: export files built to Shodan's published banner format (https://developer.shodan.io/api/
banner-specification: ip_str, port, transport, timestamp, data, _shodan.module, http, ssl) and Censys' host record
(https://docs.censys.com: ip, services[].port / service_name / observed_at / banner_hex / http.response), holding
the banners real peers give: the A-ASSOCIATE-AC of DCMTK storescp and of Orthanc, the A-ASSOCIATE-RJ of an
AE-restricted dcmqrscp, Orthanc's HTTP answer with and without a login, a Python web server and an SSH banner, and
malformed lines. Then --verify scans those endpoints now, and report shows both views. Only 127.0.0.1 is contacted.
"""

import gzip
import json
import os
import socket
import struct
import subprocess
import unittest

import peers
from helpers import TempDir, parse_jsonl, run
from test_vulnerable import expected as advisories_for


def _item(t, data):
    return struct.pack(">BBH", t, 0, len(data)) + data


def associate_rq(called, calling=b"SHODAN"):
    """The A-ASSOCIATE-RQ a search engine's DICOM probe sends: Verification, Implicit VR Little Endian."""
    body = struct.pack(">HH", 1, 0) + called.ljust(16) + calling.ljust(16) + b"\0" * 32
    body += _item(0x10, b"1.2.840.10008.3.1.1.1")
    body += _item(0x20, bytes([1, 0, 0, 0]) + _item(0x30, b"1.2.840.10008.1.1") + _item(0x40, b"1.2.840.10008.1.2"))
    body += _item(0x50, _item(0x51, struct.pack(">I", 16384)) + _item(0x52, b"1.2.3.4.5"))
    return struct.pack(">BBI", 1, 0, len(body)) + body


def dimse_banner(port, called):
    """What the server answers the probe: its whole A-ASSOCIATE-AC or -RJ, as bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(associate_rq(called))
        head = b""
        while len(head) < 6:
            head += s.recv(6 - len(head))
        n = struct.unpack(">I", head[2:6])[0]
        body = b""
        while len(body) < n:
            chunk = s.recv(n - len(body))
            if not chunk:
                break
            body += chunk
        if head[0] == 2:
            s.sendall(b"\x05\x00" + struct.pack(">I", 4) + b"\0\0\0\0")  # A-RELEASE-RQ
        return head + body


def http_banner(port):
    """The response head to GET / (what Shodan's HTTP module stores in "data")."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n\r\n")[0].decode("latin-1") + "\r\n\r\n"


def shodan(ip, port, data, ts, module, **extra):
    b = {"ip_str": ip, "port": port, "transport": "tcp", "timestamp": ts, "hash": 0, "org": "Example Hospital",
         "hostnames": ["pacs.example.org"], "location": {"country_code": "XX"},
         "data": data.decode("latin-1") if isinstance(data, bytes) else data, "_shodan": {"module": module}}
    b.update(extra)
    return b


class ShodanTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        root = cls.tmp.path
        cls.store = peers.storescp(root, "store").start()
        cls.qr = peers.dcmqrscp(root, "qr", ae="ARCHIVE").start()
        cls.orthanc = peers.orthanc(root, "orthanc").start()
        cls.locked = peers.orthanc(root, "locked", AuthenticationEnabled=True, RemoteAccessAllowed=True,
                                   RegisteredUsers={"alice": "a-long-password"}).start()
        cls.web_port = peers.free_port()
        cls.web = subprocess.Popen(["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", str(cls.web_port)],
                                   cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for s in (cls.store, cls.qr, cls.orthanc, cls.locked):
            s.wait()
        peers.wait_listening(cls.web_port, cls.web, what="http.server")
        cls.ac_store = dimse_banner(cls.store.port, b"ANY-SCP")
        cls.rj_qr = dimse_banner(cls.qr.port, b"SHODAN")
        cls.ac_orthanc = dimse_banner(cls.orthanc.port, b"ANY-SCP")
        cls.http_open = http_banner(cls.orthanc.http_port)
        cls.http_locked = http_banner(cls.locked.http_port)
        cls.http_other = http_banner(cls.web_port)

    @classmethod
    def tearDownClass(cls):
        for s in (cls.store, cls.qr, cls.orthanc, cls.locked):
            s.stop()
        cls.web.terminate()
        cls.web.wait()
        cls.tmp.cleanup()

    def exports(self, d):
        """A Shodan export (gzip JSON Lines, with malformed lines) and a Censys host (pretty-printed JSON)."""
        ip = "127.0.0.1"
        lines = [
            shodan(ip, self.store.port, self.ac_store, "2026-10-01T08:00:00.000000", "dicom"),
            shodan(ip, self.qr.port, self.rj_qr, "2026-11-20T08:15:30.123456", "dicom"),
            shodan(ip, self.orthanc.http_port, self.http_open, "2026-11-21T09:00:00.000000", "http",
                   http={"status": 301, "title": None, "server": None, "location": "app/explorer.html", "html": ""}),
            shodan(ip, self.locked.http_port, self.http_locked, "2026-11-21T09:00:00.000000", "http",
                   http={"status": 401, "title": None, "server": None, "html": ""}),
            shodan(ip, self.web_port, self.http_other, "2026-11-21T09:00:00.000000", "http",
                   http={"status": 200, "title": "Directory listing for /", "server": "SimpleHTTP/0.6"}),
            shodan(ip, 22, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", "2026-11-21T09:00:00.000000", "ssh"),
            # the same storescp seen again, later: one record, first and last seen
            shodan(ip, self.store.port, self.ac_store, "2026-11-25T08:00:00.000000", "dicom"),
        ]
        text = "".join(json.dumps(l) + "\n" for l in lines)
        text += "{\"ip_str\": \"127.0.0.1\", \"port\": 104, \"data\n"     # cut in the middle of a string
        text += "this is not json\n"
        text += json.dumps({"ip_str": "127.0.0.1"}) + "\n"               # no port
        text += json.dumps({"ip_str": "127.0.0.1", "port": 70000}) + "\n"  # not a port
        text += "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"
        sh = os.path.join(d, "shodan-mynet.json.gz")
        with gzip.open(sh, "wt") as f:
            f.write(text)
        censys = {"code": 200, "status": "OK", "result": {"ip": "127.0.0.1", "last_updated_at": "2026-11-22T10:00:00Z",
                  "services": [{"port": self.orthanc.port, "service_name": "DICOM", "extended_service_name": "DICOM",
                                "transport_protocol": "TCP", "observed_at": "2026-11-22T10:00:00.25Z",
                                "banner_hex": self.ac_orthanc.hex()},
                               {"port": 22, "service_name": "SSH", "transport_protocol": "TCP",
                                "banner": "SSH-2.0-OpenSSH_9.2p1"}]}}
        ce = os.path.join(d, "censys-mynet.json")
        with open(ce, "w") as f:
            json.dump(censys, f, indent=2)
        return sh, ce

    def test_exports_become_dicom_services_with_what_each_banner_proves(self):
        with TempDir() as t:
            sh, ce = self.exports(t.path)
            cp = run("shodan", "--json", sh, ce)
            self.assertEqual(cp.returncode, 1, cp.stderr)  # findings at or above medium
            objs = parse_jsonl(cp.stdout)  # checked against docs/json-lines.schema.json
            recs = {(o["source"], o["port"]): o for o in objs if o["type"] == "service"}
            checks = {}
            for o in objs:
                if o["type"] == "finding":
                    checks.setdefault(o["target"], set()).add(o["check"])
            summary = objs[-1]
            self.assertEqual(summary["type"], "summary")
            self.assertEqual(summary["command"], "shodan")
            # DICOM: storescp, dcmqrscp, open Orthanc HTTP, locked Orthanc HTTP (Shodan); Orthanc DIMSE (Censys)
            self.assertEqual(set(recs), {("shodan", self.store.port), ("shodan", self.qr.port),
                                         ("shodan", self.orthanc.http_port), ("shodan", self.locked.http_port),
                                         ("censys", self.orthanc.port)})
            st = recs[("shodan", self.store.port)]
            self.assertEqual((st["recognised_by"], st["association"], st["exposure"]), ("a-associate-ac", "accepted", "ae-open"))
            self.assertEqual(st["product"]["product"], "DCMTK")
            self.assertEqual((st["seen_first"], st["seen_last"], st["observations"]),
                             ("2026-10-01T08:00:00Z", "2026-11-25T08:00:00Z", 2))
            # the DCMTK version the banner announced, looked up in data/vulnerabilities.json as scan does
            hits = advisories_for("DCMTK", st["product"]["version"])
            self.assertEqual(checks[f"127.0.0.1:{self.store.port}"],
                             {"exposure.internet", "dimse.ae.any-called", "dimse.ae.any-calling", "dimse.plaintext"}
                             | ({"product.vulnerable"} if hits else set()))
            for o in objs:
                if o["type"] == "finding" and o["check"] == "product.vulnerable" and \
                        o["target"] == f"127.0.0.1:{self.store.port}":
                    self.assertEqual(o["evidence"]["ids"], [e["id"] for e in hits])
                    self.assertEqual((o["evidence"]["observed_by"], o["evidence"]["seen"]),
                                     ("shodan", "2026-11-25T08:00:00Z"))
            qr = recs[("shodan", self.qr.port)]
            self.assertEqual((qr["recognised_by"], qr["association"], qr["exposure"]), ("a-associate-rj", "rejected", "reachable"))
            self.assertEqual(qr["reject_reason"], "called-AE-title-not-recognized")
            self.assertEqual(checks[f"127.0.0.1:{self.qr.port}"], {"exposure.internet", "dimse.plaintext"})
            op = recs[("shodan", self.orthanc.http_port)]
            self.assertEqual((op["recognised_by"], op["auth"], op["exposure"]), ("orthanc", "open", "retrieve-open"))
            self.assertIn("http.orthanc.open", checks[f"127.0.0.1:{self.orthanc.http_port}"])
            lk = recs[("shodan", self.locked.http_port)]
            self.assertEqual((lk["recognised_by"], lk["auth"], lk["http_status"]), ("orthanc", "auth-required", 401))
            self.assertNotIn("http.orthanc.open", checks[f"127.0.0.1:{self.locked.http_port}"])
            cz = recs[("censys", self.orthanc.port)]
            self.assertEqual((cz["recognised_by"], cz["exposure"], cz["seen_last"]),
                             ("a-associate-ac", "ae-open", "2026-11-22T10:00:00Z"))
            # 7 Shodan banners (one SSH, one Python web server: not DICOM) + 2 Censys services (one SSH)
            self.assertEqual((summary["banners"], summary["not_dicom"], summary["malformed"]), (9, 3, 5))
            self.assertEqual(summary["services"], 5)
            for n in range(8, 13):  # each malformed line named (the first five of a file)
                self.assertIn(f"shodan-mynet.json.gz:{n}: ", cp.stderr)
            self.assertNotIn("Traceback", cp.stderr)
            # the text output says the same, without the hostnames or the organisation
            txt = run("shodan", sh, ce)
            self.assertIn("5 services", txt.stdout)
            self.assertIn("9 banners read, 3 not DICOM, 5 malformed skipped", txt.stdout)

    def test_a_truncated_gzip_export_is_an_error_and_what_was_read_is_kept(self):
        with TempDir() as t:
            sh, _ = self.exports(t.path)
            with open(sh, "rb") as f:
                z = f.read()
            cut = t.write("cut.json.gz", z[: len(z) * 2 // 3])
            cp = run("shodan", "--json", cut)
            self.assertEqual(cp.returncode, 2)
            self.assertIn("cut.json.gz", cp.stderr)
            summary = parse_jsonl(cp.stdout)[-1]
            self.assertEqual(summary["errors"], 1)
            self.assertGreaterEqual(summary["services"], 1)
            missing = run("shodan", t.join("nope.json"))
            self.assertEqual(missing.returncode, 2)
            self.assertIn("nope.json", missing.stderr)

    def test_verify_scans_those_endpoints_now_and_report_shows_both(self):
        with TempDir() as t:
            sh, ce = self.exports(t.path)
            gone = peers.orthanc(t.path, "gone").start().wait()
            banner = dimse_banner(gone.port, b"ANY-SCP")
            gone.stop()  # seen by Shodan last month, switched off since
            extra = t.write("gone.jsonl", json.dumps(shodan("127.0.0.1", gone.port, banner,
                                                            "2026-11-01T00:00:00.000000", "dicom")).encode() + b"\n")
            out = t.join("seen.jsonl")
            with open(out, "w") as f:
                cp = subprocess.run([os.environ["DICOMGUARD"], "shodan", "--verify", "--json", "--seed", "7", sh, ce,
                                     extra], stdout=f, stderr=subprocess.PIPE, timeout=300)
            self.assertEqual(cp.returncode, 1, cp.stderr.decode())
            with open(out) as f:
                objs = parse_jsonl(f.read())
            today = {o["port"]: o for o in objs if o["type"] == "service" and "source" not in o}
            # only the endpoints the exports named were scanned: not the SSH port, not the Python web server
            self.assertTrue(set(today) <= {self.store.port, self.qr.port, self.orthanc.port, self.orthanc.http_port,
                                           self.locked.http_port, gone.port})
            self.assertNotIn(self.web_port, today)
            self.assertNotIn(gone.port, today)
            self.assertEqual(today[self.store.port]["exposure"], "write-open")
            summary = objs[-1]
            v = summary["verify"]
            self.assertEqual(v["endpoints"], 6)
            self.assertEqual(v["mode"], "assess")
            self.assertEqual((v["still_dicom"], v["not_dicom_now"]), (5, 1))
            md = t.join("r.md")
            rp = run("report", "--format", "md", "-o", md, out)
            self.assertEqual(rp.returncode, 0, rp.stderr)
            with open(md) as f:
                text = f.read()
            section = text.split("## Seen from the internet", 1)[1].split("\n## ", 1)[0]
            rows = [l for l in section.splitlines() if l.startswith("| 127.0.0.1:")]
            self.assertEqual(len(rows), 6)
            row = next(l for l in rows if l.startswith(f"| 127.0.0.1:{self.store.port} "))
            self.assertIn("ae-open: dimse.ae.any-called", row)
            self.assertIn("| write-open: ", row)
            self.assertIn("no DICOM answer now", next(l for l in rows if l.startswith(f"| 127.0.0.1:{gone.port} ")))
            self.assertNotIn("pacs.example.org", text)

    def test_query_and_org_print_the_searches(self):
        cp = run("shodan", "--query", "192.0.2.0/24", "198.51.100.7")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("net:192.0.2.0/24,198.51.100.7 port:104,11112,4242,2761,2762", cp.stdout)
        self.assertIn("shodan download --limit -1", cp.stdout)
        self.assertIn('ip: "192.0.2.0/24" or ip: "198.51.100.7"', cp.stdout)
        org = run("shodan", "--org", "Example Hospital")
        self.assertIn('org:"Example Hospital"', org.stdout)
        for bad in (["--query", "not-a-net"], ["--query", "10.0.0.0/40"], ["--org", 'x" OR "y'], [],
                    ["--query", "192.0.2.0/24", "--verify"]):
            r = run("shodan", *bad)
            self.assertEqual(r.returncode, 2, bad)
            self.assertTrue(r.stderr.startswith("dicomguard shodan: "), (bad, r.stderr))


if __name__ == "__main__":
    unittest.main()
