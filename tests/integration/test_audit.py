"""The audit trail (src/audit) against a real collector: rsyslogd (Debian rsyslog + rsyslog-openssl) on loopback
ports, over syslog+tls (RFC 5425, mutual TLS with certificates from `dicomguard ca`), syslog+tcp (RFC 6587 octet
counting), syslog+udp (RFC 5426) and file:. Every message received is validated against the PS3.15 A.5.1 schema
(data/audit/audit-message.rnc) with jing. The spool: the collector stopped while messages are submitted, then
started again; and the sender killed with -9 while the collector is down, restarted: every message arrives, in
order, once.

The messages come from tests/tools/audit_send (built next to the dicomguard binary), which tags each one with
TAG-SEQ in a participant's UserName.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import unittest

from helpers import BINARY, SOURCE_DIR, TempDir, run

AUDIT_SEND = os.path.join(os.path.dirname(BINARY), "audit_send")
SCHEMA = os.path.join(SOURCE_DIR, "data", "audit", "audit-message.rnc")
RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
HAVE_TOOLS = (os.path.exists(RSYSLOGD) and shutil.which("jing") and os.path.exists(AUDIT_SEND)
              and os.path.exists("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so"))


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    """rsyslogd with its own configuration: a TLS input, a plain TCP input and a UDP input, each written to its
    own file with a template that keeps the raw message."""

    def __init__(self, d, ca):
        self.d = d
        self.tls_port, self.tcp_port, self.udp_port = free_port(), free_port(), free_port(socket.SOCK_DGRAM)
        self.logs = {k: os.path.join(d, k + ".log") for k in ("tls", "tcp", "udp")}
        self.conf = os.path.join(d, "rsyslog.conf")
        with open(self.conf, "w") as f:
            f.write(f'''
global(workDirectory="{d}" defaultNetstreamDriverCAFile="{ca}/ca.crt"
       defaultNetstreamDriverCertFile="{ca}/issued/localhost.crt"
       defaultNetstreamDriverKeyFile="{ca}/issued/localhost.key"
       maxMessageSize="256k")
module(load="imtcp" maxSessions="50")
module(load="imudp")
template(name="raw" type="string" string="%rawmsg%\\n")
ruleset(name="tls") {{ action(type="omfile" file="{self.logs['tls']}" template="raw") }}
ruleset(name="tcp") {{ action(type="omfile" file="{self.logs['tcp']}" template="raw") }}
ruleset(name="udp") {{ action(type="omfile" file="{self.logs['udp']}" template="raw") }}
input(type="imtcp" address="127.0.0.1" port="{self.tls_port}" ruleset="tls" streamDriver.name="ossl"
      streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
input(type="imtcp" address="127.0.0.1" port="{self.tcp_port}" ruleset="tcp")
input(type="imudp" address="127.0.0.1" port="{self.udp_port}" ruleset="udp")
''')
        self.proc = None

    def start(self):
        self.stderr = open(os.path.join(self.d, "rsyslogd.err"), "ab")
        self.proc = subprocess.Popen([RSYSLOGD, "-n", "-f", self.conf, "-i", os.path.join(self.d, "rsyslogd.pid")],
                                     stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=self.stderr)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise AssertionError("rsyslogd did not start listening")
        time.sleep(0.2)  # the UDP and TLS inputs come up with the TCP one

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None
        if getattr(self, "stderr", None):
            self.stderr.close()
            self.stderr = None

    def messages(self, kind, tag=None):
        try:
            with open(self.logs[kind], "rb") as f:
                lines = f.read().decode("utf-8").splitlines()
        except FileNotFoundError:
            return []
        if tag is not None:
            lines = [m for m in lines if re.search(rf'UserName="{re.escape(tag)}-\d+"', m)]
        return lines

    def wait(self, kind, n, tag=None, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.messages(kind, tag)
            if len(got) >= n:
                time.sleep(0.3)  # and nothing more (no duplicates) arrives
                return self.messages(kind, tag)
            time.sleep(0.05)
        return self.messages(kind, tag)


def tags(lines, tag):
    """The sequence numbers of the messages' TAG-SEQ (one message may carry several: the lowest)."""
    return [min(int(n) for n in re.findall(rf'UserName="{re.escape(tag)}-(\d+)"', m)) for m in lines]


def jing(lines, folder):
    """Writes the XML of each syslog line into FOLDER and checks them all against the A.5.1 schema with jing:
    (exit code, jing's output)."""
    os.makedirs(folder)
    files = []
    for i, line in enumerate(lines):
        p = os.path.join(folder, f"{i}.xml")
        with open(p, "w", encoding="utf-8") as f:
            f.write(xml_of(line))
        files.append(p)
    cp = subprocess.run(["jing", "-c", SCHEMA, *files], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                        timeout=300)
    return cp.returncode, cp.stdout


def xml_of(line):
    i = line.find("<?xml")
    assert i >= 0, line[:200]
    return line[i:]


@unittest.skipUnless(HAVE_TOOLS, "needs rsyslogd with rsyslog-openssl, jing and the audit_send test program")
class AuditTrail(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir("dg-audit-")
        cls.ca = os.path.join(cls.tmp.path, "ca")
        for args in (["init", cls.ca, "--name", "audit-test"],
                     ["issue", cls.ca, "--name", "localhost", "--ip", "127.0.0.1", "--ae", "COLLECTOR"],
                     ["issue", cls.ca, "--name", "gateway.local", "--ae", "DICOMGUARD"]):
            cp = run("ca", *args)
            assert cp.returncode == 0, cp.stderr
        cls.col = Collector(cls.tmp.path, cls.ca)
        cls.col.start()

    @classmethod
    def tearDownClass(cls):
        cls.col.stop()
        cls.tmp.cleanup()

    def tls_args(self):
        return ["--ca", os.path.join(self.ca, "ca.crt"),
                "--cert", os.path.join(self.ca, "issued", "gateway.local.crt"),
                "--key", os.path.join(self.ca, "issued", "gateway.local.key")]

    def urls(self, *kinds):
        out = []
        for k in kinds:
            port = {"tls": self.col.tls_port, "tcp": self.col.tcp_port, "udp": self.col.udp_port}[k]
            host = "127.0.0.1"  # by address (its certificate has the IP SAN): no test needs /etc/hosts
            out += ["--url", f"syslog+{k}://{host}:{port}"]
        return out

    def send(self, *args, timeout=120):
        return subprocess.run([AUDIT_SEND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout)

    def validate(self, lines):
        rc, out = jing(lines, os.path.join(self.tmp.path, "xml-%d" % time.monotonic_ns()))
        self.assertEqual(rc, 0, out[:3000])

    def check_kinds(self, lines, count):
        ids = [re.search(r'<EventID csd-code="(\d+)"', m).group(1) for m in lines]
        self.assertEqual(sorted(ids), sorted(["110100", "110113", "110102", "110104", "110112", "110100"] * count))
        for m in lines:
            self.assertRegex(m, r"^<85>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ dicomguard \d+ DICOM\+RFC3881 - "
                                "\ufeff<\\?xml ")

    def test_every_kind_over_every_transport(self):
        out = os.path.join(self.tmp.path, "audit-file.log")
        cp = self.send(*self.urls("tls", "tcp", "udp"), "--url", "file:" + out, *self.tls_args(), "--count", "2",
                       "--tag", "all")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        with open(out, encoding="utf-8") as f:
            file_lines = f.read().splitlines()
        for kind in ("tls", "tcp", "udp"):
            with self.subTest(kind):
                lines = self.col.wait(kind, 12, "all")
                self.assertEqual(len(lines), 12, kind)
                self.check_kinds(lines, 2)
                self.assertEqual(tags(lines, "all"), sorted(tags(lines, "all")))  # in order
                self.validate(lines)
        self.assertEqual(len(file_lines), 12)
        self.check_kinds(file_lines, 2)
        self.validate(file_lines)
        # The escaping survived the trip: the site name with & and < is in every message, escaped.
        self.assertIn('AuditEnterpriseSiteID="Test &amp; &lt;Site&gt;"', file_lines[0])

    def test_untrusted_collector_certificate_is_refused(self):
        other = os.path.join(self.tmp.path, "other-ca")
        cp = run("ca", "init", other, "--name", "someone-else")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        args = self.tls_args()
        args[1] = os.path.join(other, "ca.crt")
        cp = self.send(*self.urls("tls"), *args, "--count", "1", "--tag", "untrusted", "--flush", "2")
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn("certificate not trusted", cp.stdout)
        self.assertEqual(self.col.messages("tls", "untrusted"), [])

    def test_collector_without_our_certificate_refuses(self):
        cp = self.send(*self.urls("tls"), "--ca", os.path.join(self.ca, "ca.crt"), "--count", "1", "--tag",
                       "nocert", "--flush", "3")
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn("TLS handshake", cp.stdout)
        self.assertEqual(self.col.messages("tls", "nocert"), [])

    def spooled_run(self, spool, tag, count, hold):
        p = subprocess.Popen([AUDIT_SEND, *self.urls("tls", "tcp"), *self.tls_args(), "--spool", spool, "--count",
                              str(count), "--tag", tag] + (["--hold"] if hold else []) + ["--flush", "120"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        self.assertTrue(line.startswith("submitted"), line + p.stderr.read() if not line else line)
        return p

    def test_collector_down_messages_wait_in_the_spool(self):
        spool = os.path.join(self.tmp.path, "spool-down")
        self.col.stop()
        try:
            p = self.spooled_run(spool, "down", 10, hold=True)
            time.sleep(1.5)  # the sender tries, fails, backs off
            self.assertEqual(self.col.messages("tls", "down"), [])
        finally:
            self.col.start()
        out, err = p.communicate(input="", timeout=180)
        self.assertEqual(p.returncode, 0, out + err)
        for kind in ("tls", "tcp"):
            with self.subTest(kind):
                lines = self.col.wait(kind, 60, "down")
                self.assertEqual(len(lines), 60, kind)
                seqs = tags(lines, "down")
                self.assertEqual(seqs, sorted(seqs))
                self.assertEqual(len(set(seqs)), 60)  # none twice
        self.validate(self.col.messages("tls", "down")[:6])

    def test_collector_killed_while_connected(self):
        """Connected and sending; the collector dies (kill -9); messages submitted while it is down are not written
        into the dead connections (the sender sees the collector's EOF first) but wait in the spool, and arrive,
        in order and once, when it is back."""
        spool = os.path.join(self.tmp.path, "spool-live")
        p = subprocess.Popen([AUDIT_SEND, *self.urls("tls", "tcp"), *self.tls_args(), "--spool", spool, "--count",
                              "1", "--tag", "live1", "--commands", "--flush", "120"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertTrue(p.stdout.readline().startswith("submitted"))
            for kind in ("tls", "tcp"):
                self.assertEqual(len(self.col.wait(kind, 6, "live1")), 6, kind)
            self.col.stop()
            try:
                p.stdin.write("send 10 live2\n")
                p.stdin.flush()
                self.assertTrue(p.stdout.readline().startswith("submitted"))
                time.sleep(1.5)
                p.stdin.write("stats\n")
                p.stdin.flush()
                self.assertTrue(p.stdout.readline().startswith("pending 120 "))  # 60 for each destination
            finally:
                self.col.start()
            out, err = p.communicate(input="", timeout=180)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        self.assertEqual(p.returncode, 0, out + err)
        for kind in ("tls", "tcp"):
            with self.subTest(kind):
                lines = self.col.wait(kind, 60, "live2")
                seqs = tags(lines, "live2")
                self.assertEqual(len(lines), 60, kind)
                self.assertEqual(seqs, sorted(seqs))
                self.assertEqual(len(set(seqs)), 60)
                self.assertEqual(len(self.col.messages(kind, "live1")), 6)

    def test_sender_killed_while_collector_down_loses_nothing(self):
        spool = os.path.join(self.tmp.path, "spool-kill")
        self.col.stop()
        try:
            p = self.spooled_run(spool, "k9", 5, hold=True)
            time.sleep(0.5)
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=30)
            p.stdout.close()
            p.stdin.close()
            p.stderr.close()
            self.assertEqual(self.col.messages("tls", "k9"), [])
        finally:
            self.col.start()
        cp = self.send(*self.urls("tls", "tcp"), *self.tls_args(), "--spool", spool, "--count", "0", "--flush",
                       "120")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        for kind in ("tls", "tcp"):
            with self.subTest(kind):
                lines = self.col.wait(kind, 30, "k9")
                seqs = tags(lines, "k9")
                self.assertEqual(len(lines), 30, kind)
                self.assertEqual(seqs, sorted(seqs))
                self.assertEqual(len(set(seqs)), 30)
        # A third run finds nothing left to send.
        cp = self.send(*self.urls("tcp"), "--spool", spool, "--count", "0", "--flush", "30")
        self.assertIn("pending 0", cp.stdout)


if __name__ == "__main__":
    unittest.main()
