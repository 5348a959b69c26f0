"""`dicomguard ca` against real peers on loopback: the issued certificates verify with `openssl verify`, carry
both EKUs (`openssl x509 -text`), are graded by `dicomguard tls` on an `openssl s_server` with no tls.cert.*
finding (only tls.cert.untrusted when the root is not given as a trust anchor), and DCMTK's storescp +tls
accepts a C-ECHO from echoscu +tls with a second issued certificate (mutual TLS, the root as the only trust
anchor on both sides) and refuses a client certificate from another CA. `ca list --json` matches the schema.
Only 127.0.0.1.
"""

import os
import stat
import subprocess
import unittest

import peers
import tls_peers as tp
from helpers import TempDir, parse_jsonl, run


def ca(*args):
    return run("ca", *args)


def openssl(*args):
    return subprocess.run(["openssl", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)


def cert_checks(objs):
    return sorted(o["check"] for o in objs if o["type"] == "finding" and o["check"].startswith("tls.cert."))


class CaCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir("dg-ca-")
        cls.dir = os.path.join(cls.tmp.path, "ca")
        cp = ca("init", cls.dir, "--name", "integration")
        assert cp.returncode == 0, cp.stderr
        cls.init_out = cp.stdout
        for args in (["--name", "localhost", "--ip", "127.0.0.1", "--ae", "TESTAE"],
                     ["--name", "scu.local", "--ip", "127.0.0.1", "--ae", "TESTSCU"],
                     ["--name", "rsa.local", "--name", "localhost", "--ip", "127.0.0.1", "--ae", "RSASCP",
                      "--key", "rsa"]):
            cp = ca("issue", cls.dir, *args)
            assert cp.returncode == 0, cp.stderr
        cls.root = os.path.join(cls.dir, "ca.crt")

        def f(name, ext):
            return os.path.join(cls.dir, "issued", f"{name}{ext}")
        cls.f = staticmethod(f)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_files_and_modes(self):
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.dir, "ca.key")).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.dir).st_mode), 0o700)
        for n in ("localhost", "scu.local", "rsa.local"):
            self.assertEqual(stat.S_IMODE(os.stat(self.f(n, ".key")).st_mode), 0o600)
            for ext in (".crt", "-chain.pem"):
                self.assertTrue(os.path.isfile(self.f(n, ext)))
        self.assertNotIn("PRIVATE KEY", self.init_out)

    def test_openssl_verify_and_text(self):
        for n in ("localhost", "scu.local", "rsa.local"):
            cp = openssl("verify", "-CAfile", self.root, "-purpose", "sslserver", self.f(n, ".crt"))
            self.assertEqual(cp.returncode, 0, cp.stdout)
            self.assertIn(": OK", cp.stdout)
            cp = openssl("verify", "-CAfile", self.root, "-purpose", "sslclient", self.f(n, ".crt"))
            self.assertEqual(cp.returncode, 0, cp.stdout)
        text = openssl("x509", "-in", self.f("localhost", ".crt"), "-noout", "-text").stdout
        self.assertIn("TLS Web Server Authentication, TLS Web Client Authentication", text)
        self.assertIn("DNS:localhost, IP Address:127.0.0.1, URI:urn:dicom:ae:TESTAE", text)
        self.assertIn("CA:FALSE", text)
        self.assertIn("OU = TESTAE", text)
        self.assertIn("ecdsa-with-SHA256", text)
        rsa = openssl("x509", "-in", self.f("rsa.local", ".crt"), "-noout", "-text").stdout
        self.assertIn("Digital Signature, Key Encipherment", rsa)
        self.assertIn("(3072 bit)", rsa)
        root = openssl("x509", "-in", self.root, "-noout", "-text").stdout
        self.assertIn("CA:TRUE, pathlen:0", root)
        self.assertIn("Certificate Sign, CRL Sign", root)

    def test_list_json_matches_the_schema(self):
        cp = ca("list", self.dir, "--json")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        objs = parse_jsonl(cp.stdout)
        self.assertEqual([o["name"] for o in objs], ["localhost", "scu.local", "rsa.local"])
        self.assertEqual(objs[0]["ae"], "TESTAE")
        self.assertEqual(objs[0]["ip"], ["127.0.0.1"])
        self.assertIn(objs[0]["days_left"], (89, 90))
        self.assertEqual(objs[2]["key"], "RSA 3072")
        text = ca("list", self.dir).stdout
        self.assertIn("TESTAE", text)
        self.assertNotIn("PRIVATE", text)

    def test_refusals(self):
        cases = [
            (["init", self.dir], "already holds a CA"),
            (["issue", os.path.join(self.tmp.path, "nope"), "--name", "x", "--ae", "X"], "is not a folder"),
            (["issue", self.dir, "--name", "y", "--ip", "1.2.3", "--ae", "X"], "not an IPv4 or IPv6"),
            (["issue", self.dir, "--name", "y", "--ae", "SEVENTEEN_CHARS_X"], "at most 16"),
            (["issue", self.dir, "--name", "y", "--ae", "A\\B"], "backslash"),
            (["issue", self.dir, "--name", "", "--ae", "X"], "must not be empty"),
            (["issue", self.dir, "--name", "localhost", "--ae", "X"], "issued already"),
        ]
        for args, want in cases:
            cp = ca(*args)
            self.assertEqual(cp.returncode, 2, (args, cp.stdout, cp.stderr))
            self.assertIn(want, cp.stderr, args)

    def test_renew(self):
        with TempDir("dg-ca-renew-") as t:
            d = os.path.join(t.path, "ca")
            self.assertEqual(ca("init", d).returncode, 0)
            self.assertEqual(ca("issue", d, "--name", "soon", "--ae", "SOON", "--days", "5").returncode, 0)
            self.assertEqual(ca("issue", d, "--name", "later", "--ae", "LATER").returncode, 0)
            cp = ca("renew", d, "--within", "30")
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assertIn("soon (AE SOON) renewed", cp.stdout)
            self.assertNotIn("later", cp.stdout)
            objs = parse_jsonl(ca("list", d, "--json").stdout)
            self.assertEqual([(o["name"], o["status"]) for o in objs],
                             [("soon", "superseded"), ("later", "current"), ("soon", "current")])
            self.assertEqual(objs[2]["replaces"], objs[0]["serial"])
            self.assertEqual(openssl("verify", "-CAfile", os.path.join(d, "ca.crt"),
                                     os.path.join(d, "issued", "soon.crt")).returncode, 0)
            cp = ca("renew", d)
            self.assertIn("nothing expires within 30 days", cp.stdout)

    def test_dicomguard_tls_grades_an_issued_certificate(self):
        srv = tp.s_server(self.tmp.path, "s_server", self.f("localhost", ".crt"), self.f("localhost", ".key"),
                          *tp.TLS12_13, "-cert_chain", self.f("localhost", "-chain.pem"))
        srv.start().wait()
        try:
            cp = run("tls", srv.target, "--json", "--timeout", "3", "--no-associate", "--ca-file", self.root)
            trusted = parse_jsonl(cp.stdout)
            cp = run("tls", srv.target, "--json", "--timeout", "3", "--no-associate")
            untrusted = parse_jsonl(cp.stdout)
        finally:
            srv.stop()
        self.assertEqual(cert_checks(trusted), [], [o for o in trusted if o["type"] != "tls"])
        self.assertEqual(cert_checks(untrusted), ["tls.cert.untrusted"])  # our root is in no system store
        rec = [o for o in trusted if o["type"] == "tls"][0]
        for p in ("B.12", "B.13"):
            failed = {c["id"] for c in rec["profiles"][p]["failed"]}
            self.assertFalse({c for c in failed if c.endswith(("rsa-key", "ecdsa-key", "cert-hash"))}, failed)

    def test_storescp_mutual_tls_with_issued_certificates(self):
        if not peers.have("storescp") or not peers.have("echoscu"):
            self.skipTest("DCMTK not installed")
        port = peers.free_port()
        d = os.path.join(self.tmp.path, "storescp")
        os.makedirs(d, exist_ok=True)
        srv = peers.Server("storescp", ["storescp", "+tls", self.f("rsa.local", ".key"), self.f("rsa.local", ".crt"),
                                        "-rc", "+cf", self.root, "-aet", "RSASCP", "-ta", "5", "-ts", "5", "-od", d,
                                        str(port)], port, d, os.path.join(self.tmp.path, "storescp.log"))
        srv.start().wait()
        try:
            def echo(key, cert):
                return subprocess.run(["echoscu", "+tls", key, cert, "+cf", self.root, "-aet", "TESTSCU", "-aec",
                                       "RSASCP", "-to", "10", "-ta", "10", "-v", "127.0.0.1", str(port)],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
            ok = echo(self.f("scu.local", ".key"), self.f("scu.local", ".crt"))
            self.assertEqual(ok.returncode, 0, ok.stdout)
            self.assertIn("Received Echo Response (Success)", ok.stdout)
            # A client certificate from another CA is refused.
            with TempDir("dg-ca-other-") as t:
                other = os.path.join(t.path, "other")
                self.assertEqual(ca("init", other).returncode, 0)
                self.assertEqual(ca("issue", other, "--name", "intruder", "--ae", "INTRUDER").returncode, 0)
                bad = echo(os.path.join(other, "issued", "intruder.key"), os.path.join(other, "issued", "intruder.crt"))
            self.assertNotEqual(bad.returncode, 0, bad.stdout)
            self.assertNotIn("Echo Response (Success)", bad.stdout)
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
