"""Clock checks of `dicomguard scan` and its --ntp pass, against real peers on loopback:

* chronyd (Debian chrony) as an NTP server on a port of its own (its own config, pid, drift and NTS files in a
  temporary folder, -x: it never touches the system clock), with and without NTS-KE (its own TLS certificate);
* a scripted UDP responder in Python where chrony cannot serve: an ntpd-like server that answers mode 6 READVAR
  (chrony never does) and whose clock is 5 minutes fast, and that counts every datagram it gets;
* a scripted HTTP server whose Date header is 10 minutes slow;
* Orthanc (Debian orthanc), whose Date header is its real clock.

Every peer listens on its own 127.0.0.x address so that each host's clock record is its own.
"""

import http.server
import os
import re
import shutil
import socket
import socketserver
import struct
import subprocess
import threading
import time
import unittest

import helpers as H
import peers
from tls_scripted import ScriptedTls

NTP_UNIX = 2208988800


def free_udp_port(host="127.0.0.1"):
    """A UDP port free now on host, below the kernel's ephemeral range (the scanner's own sockets use that)."""
    import random
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free UDP port")


def ntp_query(port, host="127.0.0.1", timeout=1.0):
    """One mode 3 request of our own (to wait until a server answers); the reply or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        now = time.time() + NTP_UNIX
        s.sendto(b"\x23" + b"\0" * 39 + struct.pack("!II", int(now), int((now % 1) * 2**32)), (host, port))
        try:
            return s.recv(1024)
        except OSError:
            return None


class Chrony:
    """chronyd serving its local clock (stratum 8) on 127.0.0.1:port, optionally NTS-KE on nts_port."""

    def __init__(self, root, nts=False):
        self.dir = os.path.join(root, "chrony-nts" if nts else "chrony")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_udp_port()
        self.nts_port = peers.free_port() if nts else None
        lines = [f"port {self.port}", "bindaddress 127.0.0.1", "allow 127.0.0.1", "local stratum 8", "cmdport 0",
                 f"pidfile {self.dir}/chronyd.pid", f"driftfile {self.dir}/drift"]
        if nts:
            key, cert = os.path.join(self.dir, "key.pem"), os.path.join(self.dir, "cert.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1"],
                           check=True, capture_output=True)
            lines += [f"ntsserverkey {key}", f"ntsservercert {cert}", f"ntsport {self.nts_port}", "ntsprocesses 0",
                      f"ntsdumpdir {self.dir}"]
        self.conf = os.path.join(self.dir, "chrony.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = open(os.path.join(self.dir, "chronyd.log"), "wb")
        # -d: in the foreground, -x: never adjust the system clock, -u root: no switch to the _chrony user
        # (the temporary files are ours).
        self.proc = subprocess.Popen(["chronyd", "-d", "-x", "-f", self.conf, "-u", "root"], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while ntp_query(self.port, timeout=0.3) is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                with open(os.path.join(self.dir, "chronyd.log"), "rb") as f:
                    raise RuntimeError("chronyd did not answer NTP: " + f.read().decode(errors="replace"))
        if nts:
            peers.wait_listening(self.nts_port, self.proc, what="chronyd NTS-KE")

    def stop(self):
        peers.stop_process(self.proc, 10)
        self.log.close()


class ScriptedNtpd:
    """An ntpd-like UDP server on host:port: answers mode 3 with its clock `skew` seconds off ours (stratum 2,
    reference 192.0.2.7) and, when mode6 is set, READVAR with ntpd's system variables in two fragments ("error":
    an answer with the error bit, as to a request ntpd will not serve). Counts
    the datagrams it receives by mode."""

    VARS = ('version="ntpd 4.2.8p15@1.3728-o Wed Sep 23 11:46:38 UTC 2020 (1)", processor="x86_64", '
            'system="Linux/6.1.0-13-amd64", leap=00, stratum=2, precision=-24, rootdelay=1.234, rootdisp=5.678, '
            'refid=192.0.2.7, reftime=0xe9b1b2c3.d4e5f607, clock=0xe9b1b2c4.01020304, peer=12345, tc=10, mintc=3, '
            'offset=+0.123456, frequency=-12.345, sys_jitter=0.234567, clk_jitter=0.345, clk_wander=0.012, '
            'tai=37, leapsec=201701010000, expire=202712280000')

    def __init__(self, host, skew=0.0, mode6=True):
        self.host, self.skew, self.mode6 = host, skew, mode6
        self.port = free_udp_port(host)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, self.port))
        self.sock.settimeout(0.2)
        self.received = {}
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @staticmethod
    def ts(t):
        t += NTP_UNIX
        return struct.pack("!II", int(t) & 0xFFFFFFFF, int((t % 1) * 2**32))

    def serve(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(2048)
            except OSError:
                continue
            if not data:
                continue
            mode = data[0] & 7
            self.received[mode] = self.received.get(mode, 0) + 1
            if mode == 3 and len(data) >= 48:
                t2 = time.time() + self.skew
                reply = (bytes([0x24, 2, 6, 0xE8]) + struct.pack("!II", 0x100, 0x200) + socket.inet_aton("192.0.2.7")
                         + self.ts(t2 - 30) + data[40:48] + self.ts(t2) + self.ts(time.time() + self.skew))
                self.sock.sendto(reply, peer)
            elif mode == 6 and self.mode6 == "error" and len(data) >= 12:
                # ntpd's answer to a request it will not serve: the error bit, no data
                self.sock.sendto(bytes([0x16, 0xC0 | 2]) + data[2:4] + struct.pack("!HHHH", 0x0400, 0, 0, 0), peer)
            elif mode == 6 and self.mode6 and len(data) >= 12 and data[1] & 0x1F == 2:
                text = self.VARS.encode()
                half = (len(text) // 2) & ~3
                for offset, chunk, more in ((0, text[:half], 0x20), (half, text[half:], 0)):
                    hdr = bytes([0x16, 0x80 | more | 2]) + data[2:4] + struct.pack("!HHHH", 0x0615, 0, offset,
                                                                                     len(chunk))
                    pad = b"\0" * ((4 - len(chunk) % 4) % 4)
                    self.sock.sendto(hdr + chunk + pad, peer)

    def stop(self):
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()


class SkewedHttp:
    """An HTTP server on host whose Date header is `skew` seconds off (its only content: a 404)."""

    def __init__(self, host, skew):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def date_time_string(self, timestamp=None):
                return super().date_time_string(time.time() + outer.skew)

            def do_GET(self):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.skew = skew
        socketserver.TCPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def of_type(objs, t):
    return [o for o in objs if o["type"] == t]


def checks_of(objs, t):
    return sorted({o["check"] for o in objs if o["type"] == "finding" and o["check"].startswith(t)})


@unittest.skipUnless(shutil.which("chronyd"), "chrony not installed")
class NtpPass(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = H.TempDir("dg-clock-")
        cls.chrony = Chrony(cls.tmp.path)
        cls.chrony_nts = Chrony(cls.tmp.path, nts=True)

    @classmethod
    def tearDownClass(cls):
        cls.chrony.stop()
        cls.chrony_nts.stop()
        cls.tmp.cleanup()

    def scan(self, *args, host="127.0.0.1"):
        # A closed TCP port of the host is enough to make it a scanned address.
        cp = H.run("scan", "--json", "--timeout", "2", "--progress", "never", *args, f"{host}:{peers.free_port()}",
                   timeout=120)
        self.assertIn(cp.returncode, (0, 1, 3), cp.stderr)
        return cp, H.parse_jsonl(cp.stdout)

    def test_chrony_serves_time_in_step_without_mode6(self):
        cp, objs = self.scan("--ntp", "--ntp-port", self.chrony.port, "--nts-port", peers.free_port())
        [ntp] = of_type(objs, "ntp")
        self.assertEqual(ntp["target"], f"127.0.0.1:{self.chrony.port}")
        self.assertEqual(ntp["answer"], "answered")
        self.assertEqual(ntp["stratum"], 8)
        self.assertEqual(ntp["reference_id"], "127.127.1.1")  # chrony's local reference
        self.assertEqual(ntp["version"], 4)
        self.assertLess(abs(ntp["offset_seconds"]), 0.05)  # its clock is ours
        self.assertGreaterEqual(ntp["delay_seconds"], 0)
        self.assertFalse(ntp["mode6"]["answered"])  # chrony does not answer mode 6
        self.assertEqual(ntp["nts_ke"]["result"], "refused")
        self.assertEqual(checks_of(objs, "ntp."), ["ntp.exposed", "ntp.unauthenticated"])
        [clock] = of_type(objs, "clock")
        self.assertEqual(clock["address"], "127.0.0.1")
        self.assertEqual(clock["status"], "in-sync")
        self.assertEqual(clock["source"], "ntp")
        self.assertNotIn("clock.skew", checks_of(objs, "clock."))
        summary = of_type(objs, "summary")[0]
        self.assertEqual(summary["ntp"], {"queried": 1, "answered": 1})
        self.assertEqual(cp.returncode, 3, "low and info findings only, and no DICOM service")

    def test_nts_ke_offered_means_authenticated_time_is_available(self):
        _, objs = self.scan("--ntp", "--ntp-port", self.chrony_nts.port, "--nts-port", self.chrony_nts.nts_port)
        [ntp] = of_type(objs, "ntp")
        self.assertEqual(ntp["nts_ke"]["result"], "offered")
        self.assertEqual(ntp["nts_ke"]["tls_version"], "TLSv1.3")
        self.assertEqual(checks_of(objs, "ntp."), ["ntp.exposed"])

    def test_mode6_and_a_fast_clock(self):
        ntpd = ScriptedNtpd("127.0.0.3", skew=300)
        try:
            cp, objs = self.scan("--ntp", "--ntp-port", ntpd.port, "--nts-port", peers.free_port(), host="127.0.0.3")
        finally:
            ntpd.stop()
        self.assertEqual(ntpd.received, {3: 1, 6: 1}, "one client request and one READVAR, nothing else")
        [ntp] = of_type(objs, "ntp")
        self.assertEqual(ntp["status"], "mode6")
        self.assertEqual(ntp["reference_id"], "192.0.2.7")
        m6 = ntp["mode6"]
        self.assertTrue(m6["answered"])
        self.assertEqual(m6["fragments"], 2)
        self.assertEqual(m6["request_bytes"], 12)
        self.assertGreater(m6["amplification"], 20)
        self.assertEqual(m6["disclosed"]["system"], "Linux/6.1.0-13-amd64")
        self.assertTrue(m6["disclosed"]["version"].startswith("ntpd 4.2.8p15"))
        self.assertEqual(checks_of(objs, "ntp."), ["ntp.exposed", "ntp.mode6", "ntp.unauthenticated"])
        self.assertAlmostEqual(ntp["offset_seconds"], 300, delta=0.5)
        [clock] = of_type(objs, "clock")
        self.assertEqual(clock["status"], "skewed")
        [skew] = [o for o in objs if o["type"] == "finding" and o["check"] == "clock.skew"]
        self.assertEqual(skew["target"], "127.0.0.3")
        self.assertEqual(skew["evidence"]["source"], "ntp")
        self.assertAlmostEqual(skew["evidence"]["offset_seconds"], 300, delta=0.5)
        self.assertEqual(cp.returncode, 1, "ntp.mode6 is medium: at --fail-on's default")

    def test_the_report_checklist_is_measured_from_the_clock_records(self):
        with H.TempDir("dg-clock-report-") as d:
            _, ok = self.scan("--ntp", "--ntp-port", self.chrony.port, "--nts-port", peers.free_port())
            good = d.write("good.jsonl", "".join(__import__("json").dumps(o) + "\n" for o in ok).encode())
            ntpd = ScriptedNtpd("127.0.0.6", skew=0)
            try:
                cp, _ = self.scan("--ntp", "--ntp-port", ntpd.port, host="127.0.0.6")
            finally:
                ntpd.stop()
            bad = d.write("bad.jsonl", cp.stdout.encode())
            items = {}
            for name, res in (("good", good), ("bad", bad)):
                rc = H.run("report", res, "-o", d.join(name + ".html"), "--format", "html")
                self.assertEqual(rc.returncode, 0, rc.stderr)
                with open(d.join(name + ".html"), encoding="utf-8") as f:
                    html = f.read()
                items[name] = dict(re.findall(r'<tr data-item="([a-z]+)" data-status="([a-z-]+)"', html))
                items[name + "-html"] = html
        self.assertEqual(items["good"]["clock"], "pass")
        self.assertIn("within the allowed skew", items["good-html"])
        self.assertEqual(items["bad"]["clock"], "fail")  # in step, but it answers mode 6
        self.assertIn(f"127.0.0.6:{ntpd.port}", items["bad-html"])

    def test_a_mode6_error_answer_is_no_mode6_finding(self):
        ntpd = ScriptedNtpd("127.0.0.7", mode6="error")
        try:
            _, objs = self.scan("--ntp", "--ntp-port", ntpd.port, "--nts-port", peers.free_port(), host="127.0.0.7")
        finally:
            ntpd.stop()
        self.assertEqual(ntpd.received, {3: 1, 6: 1})
        [ntp] = of_type(objs, "ntp")
        self.assertEqual(ntp["mode6"], {"answered": False})
        self.assertEqual(checks_of(objs, "ntp."), ["ntp.exposed", "ntp.unauthenticated"])

    def test_no_udp_without_ntp(self):
        ntpd = ScriptedNtpd("127.0.0.4", mode6=True)
        try:
            _, objs = self.scan("--ntp-port", ntpd.port, host="127.0.0.4")
            time.sleep(0.5)
        finally:
            ntpd.stop()
        self.assertEqual(ntpd.received, {}, "a scan without --ntp sent NTP traffic")
        self.assertEqual(of_type(objs, "ntp"), [])
        self.assertNotIn("ntp", of_type(objs, "summary")[0])

    def test_a_silent_ntp_port_gives_no_record(self):
        _, objs = self.scan("--ntp", "--ntp-port", free_udp_port(), host="127.0.0.5")
        self.assertEqual(of_type(objs, "ntp"), [])
        self.assertEqual(of_type(objs, "summary")[0]["ntp"], {"queried": 1, "answered": 0})


class HttpDate(unittest.TestCase):
    def test_a_date_ten_minutes_slow_is_clock_skew(self):
        srv = SkewedHttp("127.0.0.2", -600)
        try:
            cp = H.run("scan", "--json", "--timeout", "2", "--progress", "never", f"127.0.0.2:{srv.port}",
                       timeout=120)
            text = H.run("scan", "--timeout", "2", "--progress", "never", f"127.0.0.2:{srv.port}", timeout=120)
        finally:
            srv.stop()
        objs = H.parse_jsonl(cp.stdout)
        [clock] = of_type(objs, "clock")
        self.assertEqual(clock["address"], "127.0.0.2")
        self.assertEqual(clock["status"], "skewed")
        self.assertEqual(clock["source"], "http-date")
        self.assertAlmostEqual(clock["offset_seconds"], -600, delta=1.5)
        [obs] = clock["observations"]
        self.assertEqual(obs["target"], f"127.0.0.2:{srv.port}")
        self.assertEqual(obs["resolution_seconds"], 1)
        [skew] = [o for o in objs if o["type"] == "finding" and o["check"] == "clock.skew"]
        self.assertEqual(skew["target"], "127.0.0.2")
        self.assertEqual(skew["evidence"]["from"], f"127.0.0.2:{srv.port}")
        self.assertEqual(of_type(objs, "summary")[0]["clock"], {"hosts": 1, "skewed": 1, "max_skew_seconds": 2})
        # The text output says so too: the host, its offset, where it was read, and the check.
        self.assertRegex(text.stdout, r"127\.0\.0\.2 clock -(599|600|601)\.\d+ s")
        self.assertIn("clock.skew", text.stdout)

    def test_a_wider_max_skew_accepts_it(self):
        srv = SkewedHttp("127.0.0.2", -600)
        try:
            cp = H.run("scan", "--json", "--timeout", "2", "--max-skew", "900", f"127.0.0.2:{srv.port}", timeout=120)
        finally:
            srv.stop()
        objs = H.parse_jsonl(cp.stdout)
        [clock] = of_type(objs, "clock")
        self.assertEqual(clock["status"], "in-sync")
        self.assertEqual(checks_of(objs, "clock."), [])

    def test_bad_max_skew_is_a_usage_error(self):
        cp = H.run("scan", "--max-skew", "-1", "127.0.0.1:1")
        self.assertEqual(cp.returncode, 2)
        cp = H.run("scan", "--ntp-port", "0", "127.0.0.1:1")
        self.assertEqual(cp.returncode, 2)


class TlsGmtUnixTime(unittest.TestCase):
    """A scripted TLS 1.2 server (tls_scripted.py) whose ServerHello random starts with its clock, as servers did
    before RFC 8446; and the same server with 32 random bytes there, as OpenSSL sends."""

    def scan(self, skew):
        with H.TempDir("dg-clock-tls-") as d:
            key, cert = peers.self_signed(d.path)
            der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], check=True,
                                 capture_output=True).stdout
        # Two suites: the grading gets two ServerHellos (one settles nothing, see clock.h).
        with ScriptedTls([0x0303], [0xC02F, 0x009C], der, gmt_skew=skew) as srv:
            cp = H.run("scan", "--json", "--timeout", "3", "--probe", "tls", srv.target, timeout=300)
        return H.parse_jsonl(cp.stdout), srv

    def test_a_time_in_the_server_random_is_read(self):
        objs, srv = self.scan(-3600)
        [clock] = of_type(objs, "clock")
        self.assertEqual(clock["source"], "tls-gmt-unix-time")
        self.assertEqual(clock["status"], "skewed")
        self.assertAlmostEqual(clock["offset_seconds"], -3600, delta=2)
        self.assertEqual({o["target"] for o in clock["observations"]}, {srv.target})
        self.assertEqual(checks_of(objs, "clock."), ["clock.skew"])

    def test_random_bytes_are_not_a_time(self):
        objs, _ = self.scan(None)
        self.assertEqual(of_type(objs, "tls")[0]["versions"]["TLSv1.2"], True)
        self.assertEqual(of_type(objs, "clock"), [])


@unittest.skipUnless(shutil.which("Orthanc"), "Orthanc not installed")
class OrthancClock(unittest.TestCase):
    def test_orthanc_date_is_in_step(self):
        with H.TempDir("dg-clock-orthanc-") as d:
            srv = peers.orthanc(d.path, "clock").start().wait()
            try:
                cp = H.run("scan", "--json", "--timeout", "5", "--progress", "never",
                           f"127.0.0.1:{srv.http_port}", timeout=180)
                import urllib.request
                with urllib.request.urlopen(f"http://127.0.0.1:{srv.http_port}/system", timeout=10) as r:
                    system = r.read().decode()
                    date_header = r.headers.get("Date")
            finally:
                srv.stop()
        objs = H.parse_jsonl(cp.stdout)
        [svc] = of_type(objs, "service")
        self.assertEqual(svc["product"]["product"], "Orthanc")
        [clock] = of_type(objs, "clock")
        self.assertEqual(clock["address"], "127.0.0.1")
        self.assertEqual(clock["source"], "orthanc-tools-now")
        self.assertEqual(clock["status"], "in-sync")
        self.assertLessEqual(abs(clock["offset_seconds"]), clock["uncertainty_seconds"] + 0.1)
        self.assertEqual([o["target"] for o in clock["observations"]], [f"127.0.0.1:{srv.http_port}"])
        self.assertEqual(checks_of(objs, "clock."), [])
        # Orthanc's /system says nothing of its time, and it sends no Date header (docs/json-lines.md says so).
        self.assertNotRegex(system, r'"[A-Za-z]*(Time|Date|Clock)[A-Za-z]*"\s*:')
        self.assertIsNone(date_header)


if __name__ == "__main__":
    unittest.main()
