"""`dicomguard audit listen` receiving real audit messages from real senders on loopback: rsyslogd (Debian rsyslog +
rsyslog-openssl) fed by `logger --rfc5424` and forwarding over UDP, TCP (octet counting) and TLS (RFC 5425, mutual,
certificates from `dicomguard ca`); `logger` straight to our TCP and UDP ports; the project's own `dicomguard
gateway --audit syslog+tls://` while `dicomguard scan` probes it; hand-made senders for a deliberately invalid
message of each kind, an oversized one, a slowloris sender and 100 concurrent senders. Every valid message is
accepted, every invalid one reported with its problem code, and jing (Debian) agrees with our schema verdict on
every well-formed test message; the connection limit, --duration and usage errors. Then `audit check` on the same
messages saved, `audit expect` on the scan and the capture, and `report`'s audit item. Only 127.0.0.1.
"""

import datetime
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import unittest

import peers
import test_audit
import test_gateway
import test_report
from helpers import BINARY, TempDir, parse_jsonl, run

SCHEMA = test_audit.SCHEMA
RSYSLOGD = test_audit.RSYSLOGD
HAVE_TOOLS = (os.path.exists(RSYSLOGD) and shutil.which("jing") and shutil.which("logger")
              and os.path.exists("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so"))


def udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def query_xml(tag, when=None, outcome="0", event="110112", pad=0):
    """A PS3.15 A.5.3.10 Query message, as our gateway writes one, with AuditSourceID = tag."""
    desc = f"<EventOutcomeDescription>{'x' * pad}</EventOutcomeDescription>" if pad else ""
    return ('<?xml version="1.0" encoding="UTF-8"?><AuditMessage><EventIdentification EventActionCode="E" '
            f'EventDateTime="{when or now_utc()}" EventOutcomeIndicator="{outcome}"><EventID csd-code="{event}" '
            f'codeSystemName="DCM" originalText="Query"/>{desc}</EventIdentification>'
            '<ActiveParticipant UserID="FINDSCU" UserIsRequestor="true" NetworkAccessPointID="127.0.0.1" '
            'NetworkAccessPointTypeCode="2"><RoleIDCode csd-code="110153" codeSystemName="DCM" '
            'originalText="Source Role ID"/></ActiveParticipant><ActiveParticipant UserID="PACS" '
            'UserIsRequestor="false"><RoleIDCode csd-code="110152" codeSystemName="DCM" '
            'originalText="Destination Role ID"/></ActiveParticipant>'
            f'<AuditSourceIdentification AuditSourceID="{tag}"><AuditSourceTypeCode csd-code="4"/>'
            '</AuditSourceIdentification><ParticipantObjectIdentification ParticipantObjectID="1.2.840.10008.5.1.4.1.2.2.1" '
            'ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="3"><ParticipantObjectIDTypeCode '
            'csd-code="110181" codeSystemName="DCM" originalText="SOP Class UID"/><ParticipantObjectQuery>AQI=</ParticipantObjectQuery>'
            '<ParticipantObjectDetail type="TransferSyntax" value="MS4yLjg0MC4xMDAwOC4xLjIuMQ=="/>'
            '</ParticipantObjectIdentification></AuditMessage>')


def frame5424(xml, host="sender", app="testsender"):
    return f"<85>1 {now_utc()} {host} {app} {os.getpid()} DICOM+RFC3881 - \ufeff{xml}"


def octet(msg):
    b = msg.encode("utf-8")
    return str(len(b)).encode() + b" " + b


def jing_verdicts(xmls, folder):
    """jing's verdict (True: valid) on each XML text, one jing run per document."""
    os.makedirs(folder, exist_ok=True)
    out = []
    for i, x in enumerate(xmls):
        p = os.path.join(folder, f"{i}.xml")
        with open(p, "w", encoding="utf-8") as f:
            f.write(x)
        cp = subprocess.run(["jing", "-c", SCHEMA, p], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        out.append(cp.returncode == 0)
    return out


class Listener:
    """`dicomguard audit listen` as a foreground process writing -o FILE; records() reads what it wrote so far."""

    def __init__(self, d, name, *args, udp=True, tcp=True, tls=None):
        self.udp = udp_port() if udp else None
        self.tcp = peers.free_port() if tcp else None
        self.tls = peers.free_port() if tls else None
        self.path = os.path.join(d, name + ".jsonl")
        self.err_path = os.path.join(d, name + ".err")
        self.args = [BINARY, "audit", "listen", "--bind", "127.0.0.1", "-o", self.path, *args]
        if self.udp:
            self.args += ["--udp", str(self.udp)]
        if self.tcp:
            self.args += ["--tcp", str(self.tcp)]
        if self.tls:
            self.args += ["--tls", str(self.tls), *tls]

    def start(self):
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=self.err, stdin=subprocess.DEVNULL)
        for p in (self.tcp, self.tls):
            if p:
                peers.wait_listening(p, self.proc, what="audit listen")
        return self

    def records(self, validate=True):
        try:
            with open(self.path, encoding="utf-8") as f:
                return parse_jsonl(f.read(), validate=validate)
        except FileNotFoundError:
            return []

    def audits(self, tag=None):
        return [r for r in self.records() if r["type"] == "audit" and
                (tag is None or r.get("source_id", "").startswith(tag))]

    def wait(self, n, tag=None, pred=None, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [r for r in self.audits(tag) if pred is None or pred(r)]
            if len(got) >= n:
                return got
            time.sleep(0.05)
        return [r for r in self.audits(tag) if pred is None or pred(r)]

    def stop(self):
        rc = peers.stop_process(self.proc, 30)
        self.err.close()
        return rc


@unittest.skipUnless(HAVE_TOOLS, "needs rsyslogd with rsyslog-openssl, logger and jing")
class AuditListen(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir("dg-auditlisten-")
        cls.ca = os.path.join(cls.tmp.path, "ca")
        for args in (["init", cls.ca, "--name", "audit-listen-test"],
                     ["issue", cls.ca, "--name", "localhost", "--ip", "127.0.0.1", "--ae", "COLLECTOR"],
                     ["issue", cls.ca, "--name", "sender.local", "--ae", "SENDER"]):
            cp = run("ca", *args)
            assert cp.returncode == 0, cp.stderr
        issued = os.path.join(cls.ca, "issued")
        cls.ca_crt = os.path.join(cls.ca, "ca.crt")
        cls.client = (os.path.join(issued, "sender.local.crt"), os.path.join(issued, "sender.local.key"))
        cls.server_tls = ["--tls-cert", os.path.join(issued, "localhost.crt"), "--tls-key",
                          os.path.join(issued, "localhost.key"), "--tls-ca", cls.ca_crt, "--require-client-cert"]
        cls.rx = Listener(cls.tmp.path, "listen", tls=cls.server_tls).start()

    @classmethod
    def tearDownClass(cls):
        cls.rx.stop()
        cls.tmp.cleanup()

    def tls_context(self):
        ctx = ssl.create_default_context(cafile=self.ca_crt)
        ctx.load_cert_chain(*self.client)
        return ctx

    def send_tcp(self, *payloads, tls=False):
        with socket.create_connection(("127.0.0.1", self.rx.tls if tls else self.rx.tcp), timeout=30) as raw:
            s = self.tls_context().wrap_socket(raw, server_hostname="127.0.0.1") if tls else raw
            for p in payloads:
                s.sendall(p)
            time.sleep(0.2)  # let the last bytes be read before the close
            s.close()

    # ------------------------------------------------------------------ rsyslog and logger, every transport
    def test_rsyslog_forwards_logger_messages_over_udp_tcp_and_tls(self):
        d = os.path.join(self.tmp.path, "rsyslog")
        os.makedirs(d)
        in_port = peers.free_port()
        conf = os.path.join(d, "rsyslog.conf")
        fmt = "RSYSLOG_SyslogProtocol23Format"
        with open(conf, "w") as f:
            f.write(f'''
global(workDirectory="{d}" maxMessageSize="256k" defaultNetstreamDriverCAFile="{self.ca_crt}"
       defaultNetstreamDriverCertFile="{self.client[0]}" defaultNetstreamDriverKeyFile="{self.client[1]}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{in_port}" ruleset="fwd")
ruleset(name="fwd") {{
  action(type="omfwd" target="127.0.0.1" port="{self.rx.udp}" protocol="udp" template="{fmt}")
  action(type="omfwd" target="127.0.0.1" port="{self.rx.tcp}" protocol="tcp" TCP_Framing="octet-counted"
         template="{fmt}")
  action(type="omfwd" target="127.0.0.1" port="{self.rx.tls}" protocol="tcp" TCP_Framing="octet-counted"
         StreamDriver="ossl" StreamDriverMode="1" StreamDriverAuthMode="x509/certvalid" template="{fmt}")
}}
''')
        err = open(os.path.join(d, "rsyslogd.err"), "wb")
        proc = subprocess.Popen([RSYSLOGD, "-n", "-f", conf, "-i", os.path.join(d, "pid")], stdin=subprocess.DEVNULL,
                                stdout=err, stderr=err)
        try:
            peers.wait_listening(in_port, proc, what="rsyslogd")
            xmls = [query_xml(f"rsys-{i}") for i in range(3)]
            for x in xmls:
                cp = subprocess.run(["logger", "--rfc5424", "-n", "127.0.0.1", "-P", str(in_port), "-T",
                                     "--octet-count", "--size", "70000", "-t", "pacs", "--msgid", "DICOM+RFC3881",
                                     "--", x], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
                self.assertEqual(cp.returncode, 0, cp.stdout)
            got = self.rx.wait(9, "rsys-")
        finally:
            proc.kill()
            proc.wait()
            err.close()
        by = {}
        for r in got:
            by.setdefault(r["transport"], []).append(r)
        with open(os.path.join(d, "rsyslogd.err")) as f:
            rsyslog_err = f.read()[-2000:]
        self.assertEqual({k: len(v) for k, v in by.items()}, {"udp": 3, "tcp": 3, "tls": 3}, rsyslog_err)
        for r in got:
            self.assertEqual(r["status"], "valid", r)
            self.assertEqual(r["event_id"], "110112")
            self.assertEqual(r["app_name"], "pacs")
            self.assertEqual(r["msgid"], "DICOM+RFC3881")
            self.assertEqual(r["sender"], "127.0.0.1")
        # Plain transports are reported once per sender and transport; TLS is not.
        checks = [c for r in got for c in r["checks"]]
        self.assertNotIn("audit.invalid", checks)
        tls_checks = [c for r in by["tls"] for c in r["checks"]]
        self.assertNotIn("audit.plaintext", tls_checks)
        self.assertTrue(all(v for v in jing_verdicts(xmls, os.path.join(d, "xml"))))

    def test_logger_straight_to_our_tcp_and_udp_ports(self):
        for transport, flags, port in (("tcp", ["-T", "--octet-count"], self.rx.tcp), ("tcp", ["-T"], self.rx.tcp),
                                       ("udp", ["-d"], self.rx.udp)):
            tag = f"logger-{transport}-{len(flags)}-"
            cp = subprocess.run(["logger", "--rfc5424", "-n", "127.0.0.1", "-P", str(port), *flags, "--size", "70000",
                                 "-t", "modality", "--", query_xml(tag + "0")], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=30)
            self.assertEqual(cp.returncode, 0, cp.stdout)
            got = self.rx.wait(1, tag)
            self.assertEqual(len(got), 1, tag)
            self.assertEqual(got[0]["status"], "valid", got[0])
            self.assertEqual(got[0]["transport"], transport)

    # ------------------------------------------------------------------ invalid on purpose, jing agrees
    def invalid_cases(self):
        base = query_xml("inv-valid")
        cases = {
            "valid": (base, None),
            "outcome": (query_xml("inv-outcome", outcome="3"), "schema.invalid"),
            "no-source": (re.sub(r"<AuditSourceIdentification.*?</AuditSourceIdentification>", "",
                                 query_xml("inv-nosource")), "schema.invalid"),
            "unknown-event": (query_xml("inv-event", event="110199"), "event.unknown-id"),
            "local-time": (query_xml("inv-time", when="2026-12-02T05:40:41.123"), "time.not-utc"),
            "no-requestor": (query_xml("inv-req").replace('UserIsRequestor="true"', 'UserIsRequestor="false"'),
                             "participant.no-requestor"),
            "broken": (query_xml("inv-broken")[:-20], "xml.not-well-formed"),
        }
        return cases

    def test_each_invalid_message_is_reported_with_its_problem_and_jing_agrees(self):
        cases = self.invalid_cases()
        tags = {}
        payload = b""
        for name, (xml, _) in cases.items():
            payload += octet(frame5424(xml, host=f"case-{name}"))
        self.send_tcp(payload, tls=True)
        got = self.rx.wait(len(cases), pred=lambda r: r.get("hostname", "").startswith("case-"))
        by_host = {r["hostname"][5:]: r for r in got}
        self.assertEqual(set(by_host), set(cases), got)
        xmls, ours = [], []
        for name, (xml, problem) in cases.items():
            r = by_host[name]
            with self.subTest(name):
                if problem is None:
                    self.assertEqual(r["status"], "valid", r)
                    self.assertEqual(r["problems"], [])
                else:
                    self.assertEqual(r["status"], "invalid", r)
                    self.assertIn(problem, [p["code"] for p in r["problems"]])
                    self.assertIn("audit.invalid", r["checks"])
            xmls.append(xml)
            ours.append(r["schema_valid"])
        self.assertEqual(jing_verdicts(xmls, os.path.join(self.tmp.path, "jing-invalid")), ours)
        # The same messages saved one per line: audit check says the same.
        saved = os.path.join(self.tmp.path, "saved.log")
        with open(saved, "w", encoding="utf-8") as f:
            for name, (xml, _) in cases.items():
                f.write(frame5424(xml, host=f"case-{name}") + "\n")
        cp = run("audit", "check", "--json", saved)
        self.assertEqual(cp.returncode, 1, cp.stderr)
        recs = [r for r in parse_jsonl(cp.stdout) if r["type"] == "audit"]
        self.assertEqual([r["status"] for r in recs], [by_host[n]["status"] for n in cases])
        self.assertEqual([r["problems"] for r in recs], [by_host[n]["problems"] for n in cases])
        summary = parse_jsonl(cp.stdout)[-1]
        self.assertEqual(summary["status"], {"valid": 1, "invalid": len(cases) - 1})

    def test_a_doctype_is_refused_and_no_entity_is_read(self):
        secret = os.path.join(self.tmp.path, "secret.txt")
        with open(secret, "w") as f:
            f.write("TOP-SECRET-MARKER")
        xml = query_xml("doctype").replace(
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE AuditMessage [<!ENTITY x SYSTEM "file://{secret}">]>'
        ).replace("<EventOutcomeDescription>", "").replace('originalText="Query"/>', 'originalText="Query"/>'
                                                           '<EventOutcomeDescription>&x;</EventOutcomeDescription>', 1)
        self.send_tcp(octet(frame5424(xml, host="doctype")))
        got = self.rx.wait(1, pred=lambda r: r.get("hostname") == "doctype")
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["status"], "invalid")
        self.assertEqual([p["code"] for p in got[0]["problems"]], ["xml.doctype"])
        with open(self.rx.path, encoding="utf-8") as f:
            self.assertNotIn("TOP-SECRET-MARKER", f.read())

    def test_an_event_an_hour_old_is_clock_skew(self):
        old = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).strftime(
            "%Y-%m-%dT%H:%M:%S.000Z")
        self.send_tcp(octet(frame5424(query_xml("skew-0", when=old))), tls=True)
        got = self.rx.wait(1, "skew-")
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["status"], "valid")  # a late message is still a valid one
        self.assertIn("audit.clock-skew", got[0]["checks"])
        self.assertLess(abs(got[0]["skew_s"] + 3600), 60)

    # ------------------------------------------------------------------ limits
    def test_oversized_message_is_refused_and_the_connection_goes_on(self):
        big = query_xml("size-big", pad=70000)      # above the default 64 KiB
        ok32 = query_xml("size-32k", pad=33000)     # at least 32 KiB is accepted
        small = query_xml("size-small")
        self.send_tcp(octet(frame5424(big)), octet(frame5424(ok32)), octet(frame5424(small)))
        got = self.rx.wait(2, "size-")
        self.assertEqual(sorted(r["source_id"] for r in got), ["size-32k", "size-small"])
        self.assertTrue(all(r["status"] == "valid" for r in got), got)
        refused = [r for r in self.rx.audits() if r["status"] == "refused" and r.get("reason") == "message.too-large"]
        self.assertTrue(refused)
        self.assertGreater(refused[-1]["bytes"], 65536)
        self.assertIn("audit.refused", refused[-1]["checks"])
        self.assertEqual(self.rx.proc.poll(), None)  # still running

    def test_slowloris_sender_is_cut_off_and_others_are_served(self):
        # Its own listener with a short --message-timeout (the class's keeps the default 10 s, which the TLS
        # handshakes of 100 concurrent senders on a loaded machine need).
        rx = Listener(self.tmp.path, "slow", "--message-timeout", "2", udp=False).start()
        self.addCleanup(rx.stop)
        slow = socket.create_connection(("127.0.0.1", rx.tcp), timeout=30)
        slow_port = slow.getsockname()[1]
        msg = octet(frame5424(query_xml("slow-0")))
        slow.sendall(msg[:20])
        cut_after = None
        t0 = time.monotonic()
        served = False
        try:
            for i in range(60):  # one byte every 0.25 s: the message would take minutes
                if i == 2:
                    with socket.create_connection(("127.0.0.1", rx.tcp), timeout=30) as other:
                        other.sendall(octet(frame5424(query_xml("slow-other"))))
                        served = len(rx.wait(1, "slow-other")) == 1
                slow.sendall(msg[20 + i:21 + i])
                time.sleep(0.25)
        except OSError:
            cut_after = time.monotonic() - t0
        finally:
            slow.close()
        self.assertTrue(served, "another sender was not served while the slow one held its connection")
        self.assertIsNotNone(cut_after, "the slow sender was never cut off")
        refused = rx.wait(1, pred=lambda r: r.get("reason") == "connection.slow" and r.get("sender_port") == slow_port,
                          timeout=30)
        self.assertEqual(len(refused), 1)
        self.assertEqual(rx.audits("slow-0"), [])

    def test_100_concurrent_senders_over_tcp_and_tls(self):
        n, each = 100, 3
        barrier = threading.Barrier(n)
        errors = []

        def sender(i):
            try:
                tls = i % 2 == 0
                raw = socket.create_connection(("127.0.0.1", self.rx.tls if tls else self.rx.tcp), timeout=60)
                s = self.tls_context().wrap_socket(raw, server_hostname="127.0.0.1") if tls else raw
                barrier.wait(timeout=60)
                for k in range(each):
                    s.sendall(octet(frame5424(query_xml(f"many-{i}-{k}"))))
                time.sleep(0.5)
                s.close()
            except Exception as e:  # noqa: BLE001
                errors.append(f"{i}: {'tls' if i % 2 == 0 else 'tcp'} {e!r}")
                barrier.abort()  # the others stop waiting for this one

        threads = [threading.Thread(target=sender, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        self.assertEqual(errors, [], (sorted(set(e.split(": ", 1)[1][:60] for e in errors)),
                                      [r for r in self.rx.audits() if r["status"] == "refused"][-5:],
                                      open(self.rx.err_path, errors="replace").read()[-1500:]))
        got = self.rx.wait(n * each, "many-", timeout=120)
        self.assertEqual(sorted(r["source_id"] for r in got),
                         sorted(f"many-{i}-{k}" for i in range(n) for k in range(each)))
        self.assertTrue(all(r["status"] == "valid" for r in got))
        self.assertEqual(sum(r["transport"] == "tls" for r in got), n // 2 * each)

    def test_tls_client_without_certificate_is_refused(self):
        ctx = ssl.create_default_context(cafile=self.ca_crt)
        with socket.create_connection(("127.0.0.1", self.rx.tls), timeout=30) as raw:
            try:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    s.sendall(octet(frame5424(query_xml("nocert-0"))))
                    s.recv(10)
            except (ssl.SSLError, OSError):
                pass
        refused = self.rx.wait(1, pred=lambda r: r.get("reason") == "tls.handshake")
        self.assertTrue(refused)
        self.assertEqual(self.rx.audits("nocert-"), [])


@unittest.skipUnless(HAVE_TOOLS, "needs jing")
class GatewayIntoAuditListen(unittest.TestCase):
    """The project's gateway sends its ATNA trail over syslog+tls to audit listen while dicomguard scan probes it
    with AE titles it refuses: audit expect finds the Security Alerts, report's audit item passes; without them it
    fails."""

    def test_gateway_scan_expect_and_report(self):
        tmp = TempDir("dg-auditgw-")
        self.addCleanup(tmp.cleanup)
        ca = os.path.join(tmp.path, "ca")
        for args in (["init", ca, "--name", "gw-listen"],
                     ["issue", ca, "--name", "localhost", "--ip", "127.0.0.1", "--ae", "COLLECTOR"],
                     ["issue", ca, "--name", "gateway.local", "--ae", "GATEWAY"]):
            cp = run("ca", *args)
            self.assertEqual(cp.returncode, 0, cp.stderr)
        issued = os.path.join(ca, "issued")
        # --max-skew 30: the gateway's trail queues, connects and confirms TLS before its first message goes out;
        # under load that delay (not a clock error) can pass the default 2 s.
        rx = Listener(tmp.path, "listen", "--max-skew", "30", udp=False, tcp=False,
                      tls=["--tls-cert", os.path.join(issued, "localhost.crt"), "--tls-key",
                           os.path.join(issued, "localhost.key"), "--tls-ca", os.path.join(ca, "ca.crt"),
                           "--require-client-cert"]).start()
        self.addCleanup(rx.stop)
        scp = peers.storescp(tmp.path, "scp", "-aet", "STORESCP").start().wait()
        self.addCleanup(scp.stop)
        trail = os.path.join(tmp.path, "trail.log")
        g = test_gateway.Gateway(tmp.path, "gw", "--upstream", scp.target, "--allow-calling", "STORESCU",
                                 "--audit", f"syslog+tls://127.0.0.1:{rx.tls}", "--audit", f"file:{trail}",
                                 "--audit-ca", os.path.join(ca, "ca.crt"),
                                 "--audit-cert", os.path.join(issued, "gateway.local.crt"),
                                 "--audit-key", os.path.join(issued, "gateway.local.key")).start()
        scan = os.path.join(tmp.path, "scan.jsonl")
        cp = run("scan", "127.0.0.1", "-p", str(g.port), "--no-tls", "--json")
        with open(scan, "w") as f:
            f.write(cp.stdout)
        services = [o for o in parse_jsonl(cp.stdout) if o["type"] == "service"]
        self.assertEqual(len(services), 1, cp.stdout[-2000:] + cp.stderr)
        self.assertTrue(any(a["outcome"] == "rejected" for a in services[0]["associations"]), services[0])
        self.assertEqual(g.stop(), 0)
        with open(trail, encoding="utf-8") as f:
            sent = f.read().splitlines()
        got = rx.wait(len(sent), timeout=60)
        rc = rx.stop()
        records = rx.records()
        self.assertEqual(rc, 0, [r for r in records if r.get("checks")])  # every message valid, over TLS: no finding
        audits = [r for r in records if r["type"] == "audit"]
        self.assertEqual(len(audits), len(sent))
        self.assertEqual(len(got), len(sent))
        self.assertTrue(all(r["status"] == "valid" and r["transport"] == "tls" for r in audits), audits)
        events = sorted(r["event_id"] for r in audits)
        self.assertEqual(events.count("110100"), 2)  # start and stop
        self.assertIn("110113", events)
        summary = records[-1]
        self.assertEqual(summary["type"], "summary")
        self.assertEqual(summary["status"], {"valid": len(sent)})
        # jing agrees: every message the gateway sent is valid against the .rnc.
        rc, out = test_audit.jing(sent, os.path.join(tmp.path, "xml"))
        self.assertEqual(rc, 0, out[:2000])
        self.assertTrue(all(r["schema_valid"] for r in audits))

        cp = run("audit", "expect", "--json", scan, rx.path)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        exp = [o for o in parse_jsonl(cp.stdout) if o["type"] == "audit-expect"]
        self.assertEqual(len(exp), 1)
        self.assertEqual(exp[0]["status"], "complete", exp[0])
        self.assertIn("110113", exp[0]["events_seen"])

        md = os.path.join(tmp.path, "r.html")
        cp = run("report", scan, rx.path, "-o", md)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        with open(md, encoding="utf-8") as f:
            self.assertEqual(test_report.html_checklist(f.read())["audit"], "pass")

        # A capture with nothing from the gateway: the Security Alerts are missing, the item fails.
        other = os.path.join(tmp.path, "other.jsonl")
        with open(other, "w") as f:
            f.write('{"type":"audit","status":"valid","target":"10.9.9.9","transport":"tls","sender":"10.9.9.9",'
                    '"bytes":10,"valid":true,"problems":[],"checks":[],"event_id":"110112"}\n')
        cp = run("audit", "expect", "--json", scan, other)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        out = parse_jsonl(cp.stdout)
        exp = [o for o in out if o["type"] == "audit-expect"][0]
        self.assertEqual(exp["missing"], ["110113"])
        self.assertIn("audit.missing-event", [o["check"] for o in out if o["type"] == "finding"])
        cp = run("report", scan, other, "-o", md)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        with open(md, encoding="utf-8") as f:
            self.assertEqual(test_report.html_checklist(f.read())["audit"], "fail")


class AuditCheckUsage(unittest.TestCase):
    def test_duration_ends_the_capture_with_a_summary(self):
        tmp = TempDir("dg-auditdur-")
        self.addCleanup(tmp.cleanup)
        out = os.path.join(tmp.path, "cap.jsonl")
        t0 = time.monotonic()
        cp = run("audit", "listen", "--bind", "127.0.0.1", "--udp", "0", "--tcp", "0", "--duration", "1", "-o", out,
                 timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)
        self.assertRegex(cp.stderr, r"audit listen: udp 127\.0\.0\.1:[1-9]\d*")
        with open(out, encoding="utf-8") as f:
            objs = parse_jsonl(f.read())
        self.assertEqual(len(objs), 1)
        self.assertEqual(objs[0]["command"], "audit-listen")
        self.assertEqual(objs[0]["messages"], 0)

    def test_connections_beyond_the_limit_are_closed_and_reported(self):
        tmp = TempDir("dg-auditmax-")
        self.addCleanup(tmp.cleanup)
        rx = Listener(tmp.path, "max", "--max-connections", "2", udp=False).start()
        self.addCleanup(rx.stop)
        held = [socket.create_connection(("127.0.0.1", rx.tcp), timeout=30) for _ in range(2)]
        self.addCleanup(lambda: [h.close() for h in held])
        for h in held:
            h.sendall(octet(frame5424(query_xml(f"held-{held.index(h)}"))))
        self.assertEqual(len(rx.wait(2, "held-")), 2)
        with socket.create_connection(("127.0.0.1", rx.tcp), timeout=30) as extra:
            self.assertEqual(extra.recv(10), b"")  # closed at once
        refused = rx.wait(1, pred=lambda r: r.get("reason") == "connection.limit")
        self.assertEqual(len(refused), 1)
        self.assertIn("audit.refused", refused[0]["checks"])
        held[0].close()
        time.sleep(0.3)
        after = octet(frame5424(query_xml("after-0")))
        with socket.create_connection(("127.0.0.1", rx.tcp), timeout=30) as again:
            again.sendall(after)
            self.assertEqual(len(rx.wait(1, "after-")), 1)

    def test_bad_input_is_a_clear_error(self):
        cp = run("audit", "check", "/nonexistent/file.log")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("/nonexistent/file.log", cp.stderr)
        cp = run("audit", "listen", "--tcp", "1", "--max-message", "1000")
        self.assertEqual(cp.returncode, 2)
        cp = run("audit", "listen", "--bind", "127.0.0.1")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("no listener", cp.stderr)


if __name__ == "__main__":
    unittest.main()
