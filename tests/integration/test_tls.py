"""`dicomguard tls` against real TLS servers on loopback: DCMTK storescp +tls with each of its security profiles
(+py, +px, +pz, +pa, +pn, and +py with a required client certificate), `openssl s_server` set up as a B.12 and a
B.13 server, TLS 1.0, RSA 1024, an expired certificate, a SHA-1-signed one, mutual TLS required and any client
accepted, and a scripted TLS 1.0 + 3DES server (tls_scripted.py: Debian's OpenSSL 3 has no 3DES, so no real
server here can offer it). Each test asserts the exact profile verdicts, failed clauses and check IDs a user
would see, and the cross-check compares our (version, suite) pairs with Debian's sslscan. Only 127.0.0.1.
"""

import concurrent.futures
import socket
import subprocess
import threading
import unittest

import peers
import tls_peers as tp
from helpers import TempDir, parse_jsonl, run
from stall_relay import StallRelay
from tls_scripted import ScriptedTls

TLS_RSA_WITH_3DES_EDE_CBC_SHA = 0x000A


def tls(*args, timeout=3):
    cp = run("tls", "--json", "--timeout", str(timeout), *args)
    objs = parse_jsonl(cp.stdout)
    recs = {o["target"]: o for o in objs if o["type"] == "tls"}
    summary = [o for o in objs if o["type"] == "summary"]
    return cp, recs, summary[-1] if summary else None


def pairs(rec):
    return {(v, s) for v, suites in rec["suites"].items() for s in suites}


def failed(rec, profile):
    return {c["id"] for c in rec["profiles"][profile]["failed"]}


def der(pem):
    return subprocess.run(["openssl", "x509", "-in", pem, "-outform", "DER"], check=True,
                          stdout=subprocess.PIPE).stdout


class TlsProfiles(unittest.TestCase):
    """One `dicomguard tls` run over every server at once (as a user would scan a department)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir("dg-tls-")
        root = cls.tmp.path
        cls.pki = pki = tp.make_pki(root)
        cls.s = {
            "py": tp.storescp_tls(root, "py", "+py", pki), "px": tp.storescp_tls(root, "px", "+px", pki),
            "pz": tp.storescp_tls(root, "pz", "+pz", pki), "pa": tp.storescp_tls(root, "pa", "+pa", pki),
            "pn": tp.storescp_tls(root, "pn", "+pn", pki),
            "rc": tp.storescp_tls(root, "rc", "+py", pki, require_client=True),
            "b12": tp.b12_server(root, pki), "b13": tp.b13_server(root, pki), "tls10": tp.tls10_server(root, pki),
            "rsa1024": tp.rsa1024_server(root, pki), "expired": tp.expired_server(root, pki),
            "sha1": tp.sha1_server(root, pki), "mtls": tp.mtls_server(root, pki),
            "anyclient": tp.anyclient_server(root, pki),
        }
        try:
            for s in cls.s.values():
                s.start()
            for s in cls.s.values():
                s.wait()
            cls.legacy = ScriptedTls([0x0301], [TLS_RSA_WITH_3DES_EDE_CBC_SHA], der(pki.rsa.cert)).__enter__()
            targets = [s.target for s in cls.s.values()] + [cls.legacy.target]
            # Every verdict below is exact, so every measurement must happen: each step waits out a storescp
            # stall (tls_peers.STORESCP_TIMEOUT) instead of racing it. What a stall longer than the step timeout
            # does to a record is TlsBehaviour's part (test_a_stalled_full_handshake_*, StallRelay).
            cls.cp, cls.recs, cls.summary = tls(*targets, "--ca-file", pki.ca, timeout=tp.OUTLASTS_STORESCP_STALL)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "legacy", None):
            cls.legacy.__exit__(None, None, None)
        for s in cls.s.values():
            s.stop()
        cls.tmp.cleanup()

    def rec(self, name):
        target = self.legacy.target if name == "3des" else self.s[name].target
        self.assertIn(target, self.recs, f"no tls record for {name}: {self.cp.stdout[-2000:]} {self.cp.stderr}")
        return self.recs[target]

    def checks(self, name):
        return set(self.rec(name)["checks"])

    def assert_checks(self, name, expected):
        r = self.rec(name)
        self.assertEqual(set(r["checks"]), expected, f"retries {r['retries']}, alpn {r['alpn']}, dicom {r['dicom']}, "
                                                     f"client_auth {r['client_auth']['verdict']}, "
                                                     f"handshake {r['handshake']}")

    def accepted_versions(self, name):
        return {v for v, ok in self.rec(name)["versions"].items() if ok}

    def test_every_endpoint_has_a_record_and_the_exit_code_reports_findings(self):
        self.assertEqual(len(self.recs), len(self.s) + 1, self.cp.stdout[-3000:])
        self.assertEqual(self.cp.returncode, 1)
        self.assertEqual(self.summary["endpoints"], len(self.s) + 1)
        self.assertEqual(self.summary["handshakes"], sum(r["handshakes"] for r in self.recs.values()))
        self.assertEqual(self.summary["connections"], self.summary["handshakes"])
        for r in self.recs.values():
            self.assertFalse(r["budget_exhausted"])
            self.assertLessEqual(r["handshakes"], 300)
            self.assertEqual(set(r["profiles"]), {"B.12", "B.13", "B.10", "B.11", "B.9", "B.3", "B.1"})
            for p in r["profiles"].values():
                self.assertIn(p["verdict"], {"pass", "fail", "not-measured"})
                self.assertEqual(p["verdict"] == "fail", bool(p["failed"]))
                for c in p["failed"]:
                    self.assertTrue(c["section"].strip(), c)

    def test_storescp_bcp195_non_downgrading(self):
        r = self.rec("py")
        self.assertEqual(self.accepted_versions("py"), {"TLSv1.2", "TLSv1.3"})
        self.assertEqual(set(r["suites"]["TLSv1.2"]), {
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"})
        self.assertEqual(r["meets"], ["B.12", "B.10", "B.9"])
        # Of B.13's ECDHE_RSA suites it lacks CHACHA20 (its RSA certificate makes the ECDSA ones not expected), and
        # it misses the CCM TLS 1.3 suites.
        self.assertEqual(failed(r, "B.13"), {"B.13.tls13-suites", "B.13.tls12-suites"})
        self.assertEqual(failed(r, "B.11"), {"B.11.no-tls1.3"})
        self.assertEqual(r["dhe_bits"], 2048)
        self.assertEqual(r["dicom"], {"association": "accepted", "via": "no-certificate"})
        self.assertEqual(r["client_auth"]["verdict"], "not-requested")
        self.assert_checks("py", {"tls.client-auth.not-required", "tls.alpn.dicom-missing"})

    def test_storescp_bcp195_allows_tls10(self):
        r = self.rec("px")
        self.assertEqual(self.accepted_versions("px"), {"TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"})
        self.assertEqual(r["suites"]["TLSv1.0"], ["TLS_RSA_WITH_AES_128_CBC_SHA"])
        self.assertEqual(r["meets"], ["B.9"])
        self.assertEqual(failed(r, "B.12"), {"B.12.no-tls1.0", "B.12.no-tls1.1"})
        self.assertEqual(failed(r, "B.10"), {"B.10.no-tls1.0", "B.10.no-tls1.1"})
        self.assertEqual(r["fallback_scsv"], True)
        self.assert_checks("px", {"tls.profile.none", "tls.version.legacy", "tls.client-auth.not-required",
                                   "tls.alpn.dicom-missing"})

    def test_storescp_extended_bcp195(self):
        r = self.rec("pz")
        self.assertEqual(self.accepted_versions("pz"), {"TLSv1.2"})
        self.assertEqual(r["versions"]["TLSv1.3"], False)
        self.assertEqual(r["meets"], ["B.12", "B.10", "B.11", "B.9"])
        self.assertEqual(r["fallback_scsv"], None)  # one version: nothing to fall back from
        self.assert_checks("pz", {"tls.client-auth.not-required", "tls.alpn.dicom-missing"})

    def test_storescp_aes_profile_lacks_its_3des_fallback_on_this_openssl(self):
        r = self.rec("pa")
        self.assertEqual(self.accepted_versions("pa"), {"TLSv1.0", "TLSv1.1", "TLSv1.2"})
        self.assertEqual(set(pairs(r)), {(v, "TLS_RSA_WITH_AES_128_CBC_SHA") for v in ("TLSv1.0", "TLSv1.1", "TLSv1.2")})
        self.assertEqual(failed(r, "B.3"), {"B.3.3des-fallback"})
        self.assertEqual(r["dicom"]["association"], "accepted")
        self.assertEqual((r["alpn"]["dicom_selected"], r["alpn"]["via"]), (False, "no-certificate"), r["alpn"])
        self.assert_checks("pa", {"tls.profile.none", "tls.version.legacy", "tls.client-auth.not-required",
                                   "tls.alpn.dicom-missing"})

    def test_storescp_null_profile_is_unencrypted(self):
        r = self.rec("pn")
        self.assertEqual(set(pairs(r)), {(v, "TLS_RSA_WITH_NULL_SHA") for v in ("TLSv1.0", "TLSv1.1", "TLSv1.2")})
        weak = next(f for f in parse_jsonl(self.cp.stdout)
                    if f["type"] == "finding" and f["check"] == "tls.cipher.weak" and f["target"] == self.s["pn"].target)
        self.assertEqual({(s["suite"], s["reason"]) for s in weak["evidence"]["suites"]},
                         {("TLS_RSA_WITH_NULL_SHA", "null")})
        self.assertEqual(r["dicom"]["association"], "accepted")  # DICOM in the clear, inside a "TLS" connection
        self.assert_checks("pn", {"tls.profile.none", "tls.version.legacy", "tls.cipher.weak",
                                   "tls.client-auth.not-required", "tls.alpn.dicom-missing"})

    def test_storescp_requiring_a_client_certificate(self):
        r = self.rec("rc")
        self.assertEqual(r["client_auth"]["verdict"], "enforced")
        self.assertFalse(r["client_auth"]["untrusted_certificate"]["passed"])
        self.assertEqual(r["dicom"]["association"], "no-dicom-answer")
        # Our own ClientHellos still enumerate TLS 1.2 (its CertificateRequest comes after the suite is chosen).
        self.assertEqual(len(r["suites"]["TLSv1.2"]), 4)
        self.assert_checks("rc", {"tls.alpn.dicom-missing", "tls.dicom.absent"})

    def test_b12_server(self):
        r = self.rec("b12")
        self.assertEqual(self.accepted_versions("b12"), {"TLSv1.2", "TLSv1.3"})
        self.assertEqual(len(r["suites"]["TLSv1.2"]), 5)
        self.assertEqual(r["meets"], ["B.12", "B.10", "B.9"])
        # Its one RSA certificate serves every ECDHE_RSA suite B.13 lists (the ECDSA ones are not expected of it);
        # it misses the CCM TLS 1.3 suites.
        self.assertEqual(failed(r, "B.13"), {"B.13.tls13-suites"})
        self.assertEqual(set(r["groups"]["TLSv1.3"]), {"secp256r1", "secp384r1", "x25519"})
        self.assert_checks("b12", {"tls.client-auth.not-required", "tls.alpn.dicom-missing",
                                    "tls.kex.x25519", "tls.dicom.absent"})

    def test_b13_server(self):
        r = self.rec("b13")
        self.assertEqual(len(r["suites"]["TLSv1.2"]), 10)
        self.assertEqual(len(r["suites"]["TLSv1.3"]), 5)
        self.assertIn("B.13", r["meets"])
        self.assertIn("B.12", r["meets"])
        self.assertEqual(set(r["groups"]["TLSv1.3"]), {"secp256r1", "secp384r1"})
        self.assert_checks("b13", {"tls.client-auth.not-required", "tls.alpn.dicom-missing",
                                    "tls.dicom.absent"})

    def test_tls10_3des_legacy_server(self):
        r = self.rec("3des")
        self.assertEqual(self.accepted_versions("3des"), {"TLSv1.0"})
        self.assertEqual(pairs(r), {("TLSv1.0", "TLS_RSA_WITH_3DES_EDE_CBC_SHA")})
        self.assertEqual(r["meets"], ["B.1"])
        # (B.12's suite clause is about TLS 1.2, which this server does not speak: B.12.versions fails instead.)
        self.assertEqual(failed(r, "B.12"), {"B.12.versions", "B.12.no-tls1.0", "B.12.extended-master-secret"})
        self.assertEqual(failed(r, "B.3"), {"B.3.aes"})
        self.assertEqual(r["certificate"]["source"], "hello")  # no OpenSSL here can complete that handshake
        self.assertEqual(r["client_auth"]["verdict"], "not-measured")
        self.assert_checks("3des", {"tls.profile.none", "tls.version.legacy", "tls.cipher.weak",
                                     "tls.ems.missing", "tls.dicom.absent"})

    def test_tls10_server(self):
        r = self.rec("tls10")
        self.assertEqual(pairs(r), {("TLSv1.0", "TLS_RSA_WITH_AES_128_CBC_SHA")})
        self.assertEqual(r["meets"], [])
        self.assertIn("tls.version.legacy", self.checks("tls10"))
        self.assertIn("tls.profile.none", self.checks("tls10"))

    def test_rsa1024_certificate(self):
        r = self.rec("rsa1024")
        self.assertEqual(r["certificate"]["chain"][0]["key_bits"], 1024)
        self.assertIn("B.12.rsa-key", failed(r, "B.12"))
        self.assertIn("B.13.rsa-key", failed(r, "B.13"))
        # OpenSSL sizes automatic DH parameters to the certificate: 1024-bit DHE too.
        self.assertEqual(r["dhe_bits"], 1024)
        self.assert_checks("rsa1024", {"tls.profile.none", "tls.cert.weak-key", "tls.kex.weak",
                                        "tls.kex.x25519", "tls.client-auth.not-required",
                                        "tls.alpn.dicom-missing", "tls.dicom.absent"})

    def test_expired_certificate(self):
        r = self.rec("expired")
        self.assertTrue(r["certificate"]["chain"][0]["expired"])
        self.assertEqual(r["certificate"]["chain"][0]["not_after"], "2021-01-01T00:00:00Z")
        self.assert_checks("expired", {"tls.cert.expired", "tls.kex.x25519", "tls.client-auth.not-required",
                                        "tls.alpn.dicom-missing", "tls.dicom.absent"})

    def test_sha1_signed_certificate(self):
        r = self.rec("sha1")
        self.assertEqual(r["certificate"]["chain"][0]["signature_hash"], "SHA-1")
        self.assertEqual(failed(r, "B.12"), {"B.12.cert-hash"})
        self.assertIn("B.13.cert-hash", failed(r, "B.13"))
        self.assert_checks("sha1", {"tls.profile.none", "tls.cert.weak-signature", "tls.kex.x25519",
                                     "tls.client-auth.not-required", "tls.alpn.dicom-missing",
                                     "tls.dicom.absent"})

    def test_mutual_tls_required(self):
        r = self.rec("mtls")
        ca = r["client_auth"]
        self.assertEqual(ca["verdict"], "enforced")
        self.assertTrue(ca["no_certificate"]["certificate_requested"])
        self.assertFalse(ca["no_certificate"]["passed"])
        self.assertFalse(ca["untrusted_certificate"]["passed"])
        self.assertNotIn("tls.client-auth.not-required", self.checks("mtls"))

    def test_any_client_accepted(self):
        r = self.rec("anyclient")
        ca = r["client_auth"]
        self.assertEqual(ca["verdict"], "optional")
        self.assertTrue(ca["no_certificate"]["certificate_requested"])
        self.assertTrue(ca["untrusted_certificate"]["passed"])
        self.assertIn("tls.client-auth.not-required", self.checks("anyclient"))

    def test_text_output_names_failed_clauses(self):
        cp = run("tls", "--color", "never", "--timeout", tp.OUTLASTS_STORESCP_STALL, self.s["px"].target,
                 "--ca-file", self.pki.ca)
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertIn("FAIL", cp.stdout)
        self.assertIn("B.12 fail B.12.no-tls1.0", cp.stdout)
        self.assertIn("tls.version.legacy", cp.stdout)

    def test_sslscan_cross_check(self):
        """For every server, the (version, suite) pairs we report equal sslscan's, with the differences explained."""
        if not peers.have("sslscan"):
            self.skipTest("sslscan not installed")
        client = ("--certs=" + self.pki.client.cert, "--pk=" + self.pki.client.key)

        def sslscan(name):
            # sslscan cannot enumerate TLS 1.2 behind a required client certificate without one; we can.
            extra = client if name in ("mtls", "rc") else ()
            # storescp serves one connection at a time and, with some OpenSSL 3.0 builds (3.0.20 in a fresh
            # Debian 12 chroot), now and then stalls for its socket timeout after an aborted handshake; sslscan
            # does not ask again, so a stall drops pairs from its answer (never adds one). Up to three runs, the
            # union of what sslscan saw accepted.
            theirs, raw = tp.sslscan_pairs(self.s[name].target, extra)
            for _ in range(2 if name in ("py", "px", "pz", "pa", "pn", "rc") else 0):
                if theirs == pairs(self.rec(name)):
                    break
                more, raw = tp.sslscan_pairs(self.s[name].target, extra)
                theirs |= more
            return theirs, raw
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
            futures = {name: ex.submit(sslscan, name) for name in self.s}
        for name, fut in futures.items():
            with self.subTest(server=name):
                theirs, raw = fut.result()
                self.assertEqual(pairs(self.rec(name)), theirs, raw[-2000:])
        # The 3DES server: Debian's sslscan enumerates TLS <= 1.2 suites through its OpenSSL 3, which has no 3DES;
        # it sees TLS 1.0 enabled and (on every run here) no suite. Whatever it sees is a subset of ours, and the
        # only pair it can miss is the 3DES one.
        theirs, raw = tp.sslscan_pairs(self.legacy.target)
        ours = pairs(self.rec("3des"))
        self.assertLessEqual(theirs, ours, raw[-1500:])
        self.assertLessEqual(ours - theirs, {("TLSv1.0", "TLS_RSA_WITH_3DES_EDE_CBC_SHA")})
        self.assertTrue(tp.parse_sslscan_protocols(raw)["TLSv1.0"])


class TlsBehaviour(unittest.TestCase):
    def test_configured_client_certificate_reaches_dicom(self):
        with TempDir("dg-tls-") as d:
            pki = tp.make_pki(d.path)
            srv = tp.storescp_tls(d.path, "rc", "+py", pki, require_client=True).start().wait()
            try:
                _, recs, _ = tls(srv.target, "--tls-cert", pki.client.cert, "--tls-key", pki.client.key,
                                 timeout=tp.OUTLASTS_STORESCP_STALL)
                r = recs[srv.target]
                self.assertEqual(r["client_auth"]["verdict"], "enforced")
                self.assertTrue(r["client_auth"]["configured_certificate"]["passed"])
                self.assertEqual(r["dicom"], {"association": "accepted", "via": "configured-certificate"})
                self.assertNotIn("tls.dicom.absent", r["checks"])
            finally:
                srv.stop()

    # The stalls below are the relay's (StallRelay): deterministic, and in front of `openssl s_server`, which
    # serves one connection at a time as storescp does but never stalls by itself.
    def test_a_stalled_full_handshake_is_asked_again(self):
        """A relay keeps the first full OpenSSL handshake (no certificate, ALPN "dicom") silent for longer than the
        step timeout and shorter than two, as storescp does when it stalls after an aborted handshake: asked once
        more, the handshake completes and the record is the unstalled one. (Without the retry the lost handshake
        dropped tls.alpn.dicom-missing and made client_auth "any-certificate".)"""
        with TempDir("dg-tls-") as d:
            pki = tp.make_pki(d.path)
            srv = tp.s_server(d.path, "stalled", pki.rsa.cert, pki.rsa.key, *tp.TLS12_13).start().wait()
            try:
                _, recs, _ = tls(srv.target, "--ca-file", pki.ca, timeout=2)
                calm = recs[srv.target]
                self.assertEqual(calm["retries"], 0)
                with StallRelay(srv.port, lambda kind, n: 3 if (kind, n) == ("openssl", 1) else 0) as relay:
                    _, recs, summary = tls(relay.target, "--ca-file", pki.ca, timeout=2)
                self.assertEqual([e for e in relay.seen if e[0] == "openssl"],
                                 [["openssl", 1, 3, False], ["openssl", 2, 0, True], ["openssl", 3, 0, True]])
                r = recs[relay.target]
                self.assertEqual(r["retries"], 1)
                self.assertEqual(r["handshakes"], calm["handshakes"] + 1)
                self.assertEqual(summary["connections"], summary["handshakes"])
                self.assertEqual(r["handshake"]["retries"], 1)
                self.assertTrue(r["handshake"]["handshake"])
                self.assertEqual(r["alpn"], {"dicom_selected": False, "via": "no-certificate",
                                             "without_dicom": "accepted"})
                self.assertEqual(r["client_auth"]["verdict"], "not-requested")
                self.assertEqual(r["dicom"], calm["dicom"])
                self.assertEqual(pairs(r), pairs(calm))
                self.assertEqual(r["meets"], calm["meets"])
                self.assertEqual(set(r["checks"]), set(calm["checks"]))
                self.assertIn("tls.alpn.dicom-missing", r["checks"])
            finally:
                srv.stop()

    def test_a_stalled_full_handshake_that_never_answers_is_not_measured(self):
        """Every full OpenSSL handshake meets silence (each asked twice): our hellos still grade versions and
        suites, and ALPN, client authentication and DICOM say "not measured" and why; no finding is made of the
        silence (no tls.dicom.absent, no ALPN "refused"), and none of theirs is left silently out."""
        with TempDir("dg-tls-") as d:
            pki = tp.make_pki(d.path)
            srv = tp.s_server(d.path, "blackholed", pki.rsa.cert, pki.rsa.key, *tp.TLS12_13).start().wait()
            try:
                _, recs, _ = tls(srv.target, "--ca-file", pki.ca, timeout=1)
                calm = recs[srv.target]
                with StallRelay(srv.port, lambda kind, n: None if kind == "openssl" else 0) as relay:
                    _, recs, _ = tls(relay.target, "--ca-file", pki.ca, timeout=1)
                self.assertEqual([e for e in relay.seen if e[0] == "openssl"],
                                 [["openssl", n, None, False] for n in range(1, 7)])
                r = recs[relay.target]
                self.assertEqual(pairs(r), pairs(calm))
                self.assertEqual(r["retries"], 3)  # no-certificate, untrusted-certificate, no-dicom-alpn
                self.assertTrue(r["handshake"]["timed_out"])
                self.assertEqual(r["handshake"]["retries"], 1)
                self.assertIsNone(r["alpn"]["dicom_selected"])
                self.assertIn("no-certificate: no answer within the timeout, asked twice", r["alpn"]["not_measured"])
                self.assertEqual(r["alpn"]["without_dicom"], "not-measured")
                self.assertEqual(r["client_auth"]["verdict"], "not-measured")
                self.assertEqual(r["dicom"]["association"], "not-measured")
                self.assertIn("asked twice", r["dicom"]["not_measured"])
                measured_by_them = {"tls.alpn.dicom-missing", "tls.client-auth.not-required", "tls.dicom.absent"}
                self.assertLessEqual(measured_by_them, set(calm["checks"]))
                self.assertEqual(set(r["checks"]), set(calm["checks"]) - measured_by_them)
            finally:
                srv.stop()

    def test_mutual_tls_required_under_tls12_only(self):
        """TLS 1.2 refuses a client within the handshake (unlike TLS 1.3): the CertificateRequest seen before the
        failure still tells "enforced" from "not measured"."""
        with TempDir("dg-tls-") as d:
            pki = tp.make_pki(d.path)
            srv = tp.s_server(d.path, "mtls12", pki.rsa.cert, pki.rsa.key, "-tls1_2", "-Verify", "1", "-CAfile",
                              pki.client_ca, "-verify_return_error").start().wait()
            try:
                _, recs, _ = tls(srv.target)
                r = recs[srv.target]
                self.assertEqual(self.accepted(r), {"TLSv1.2"})
                ca = r["client_auth"]
                self.assertEqual(ca["verdict"], "enforced")
                self.assertFalse(ca["no_certificate"]["handshake"])
                self.assertTrue(ca["no_certificate"]["certificate_requested"])
                self.assertFalse(ca["untrusted_certificate"]["handshake"])
                self.assertNotIn("tls.client-auth.not-required", r["checks"])
                _, recs, _ = tls(srv.target, "--quick")
                self.assertEqual(recs[srv.target]["client_auth"]["verdict"], "required")
            finally:
                srv.stop()

    @staticmethod
    def accepted(rec):
        return {v for v, ok in rec["versions"].items() if ok}

    def test_untrusted_chain_and_self_signed(self):
        with TempDir("dg-tls-") as d:
            pki = tp.make_pki(d.path)
            a = tp.s_server(d.path, "ca-signed", pki.rsa.cert, pki.rsa.key, *tp.TLS12_13).start()
            b = tp.s_server(d.path, "self", pki.selfsigned.cert, pki.selfsigned.key, *tp.TLS12_13).start()
            try:
                a.wait(), b.wait()
                _, recs, _ = tls(a.target, b.target, "--quick")
                self.assertIn("tls.cert.untrusted", recs[a.target]["checks"])
                self.assertFalse(recs[a.target]["certificate"]["trusted"])
                self.assertTrue(recs[a.target]["certificate"]["name_match"])  # SAN IP:127.0.0.1
                self.assertIn("tls.cert.self-signed", recs[b.target]["checks"])
                self.assertNotIn("tls.cert.untrusted", recs[b.target]["checks"])
                _, recs, _ = tls(a.target, "--quick", "--ca-file", pki.ca)
                self.assertTrue(recs[a.target]["certificate"]["trusted"])
                self.assertNotIn("tls.cert.untrusted", recs[a.target]["checks"])
            finally:
                a.stop(), b.stop()

    def test_quick_grade_uses_fewer_handshakes(self):
        with TempDir("dg-tls-") as d:
            pki = tp.make_pki(d.path)
            srv = tp.anyclient_server(d.path, pki).start().wait()
            try:
                _, full, _ = tls(srv.target)
                _, quick, _ = tls(srv.target, "--quick")
                f, q = full[srv.target], quick[srv.target]
                self.assertEqual((f["mode"], q["mode"]), ("full", "quick"))
                self.assertLess(q["handshakes"], f["handshakes"])
                self.assertEqual(pairs(q), pairs(f))
                self.assertIsNone(q["client_auth"]["untrusted_certificate"])
                self.assertEqual(q["meets"], f["meets"])
            finally:
                srv.stop()

    def test_handshake_budget(self):
        with TempDir("dg-tls-") as d:
            pki = tp.make_pki(d.path)
            srv = tp.b13_server(d.path, pki).start().wait()
            try:
                _, recs, summary = tls(srv.target, "--max-handshakes", "8")
                r = recs[srv.target]
                self.assertTrue(r["budget_exhausted"])
                self.assertEqual(r["handshakes"], 8)
                self.assertEqual(summary["connections"], 8)
                # Cut short: B.13 cannot be confirmed, and is never reported as passed.
                self.assertNotEqual(r["profiles"]["B.13"]["verdict"], "pass")
            finally:
                srv.stop()

    def test_tls_conns_limits_handshakes_at_once_per_host(self):
        with TempDir("dg-tls-") as d:
            pki = tp.make_pki(d.path)
            cert = der(pki.rsa.cert)
            stats = {"peak": 0, "lock": threading.Lock()}
            servers = [ScriptedTls([0x0303], [0xC02F, 0x009C], cert, stats=stats).__enter__() for _ in range(4)]
            try:
                for conns in (1, 2):
                    stats["peak"] = 0
                    _, recs, _ = tls(*[s.target for s in servers], "--tls-conns", str(conns), "--quick")
                    self.assertEqual(len(recs), 4)
                    self.assertEqual(stats["peak"], conns)
            finally:
                for s in servers:
                    s.__exit__(None, None, None)

    def test_not_tls_and_closed_ports(self):
        with TempDir("dg-tls-") as d:
            plain = peers.storescp(d.path, "plain").start().wait()  # closes on a ClientHello
            closed = peers.free_port()
            banner = socket.socket()
            banner.bind(("127.0.0.1", 0))
            banner.listen(8)

            def ssh_like():
                for _ in range(8):
                    try:
                        c, _ = banner.accept()
                    except OSError:
                        return
                    c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
                    c.close()
            t = threading.Thread(target=ssh_like, daemon=True)
            t.start()
            try:
                cp, recs, summary = tls(plain.target, f"127.0.0.1:{closed}", f"127.0.0.1:{banner.getsockname()[1]}")
                self.assertEqual(recs, {})
                self.assertEqual(cp.returncode, 0)
                self.assertEqual(summary["answers"], {"closed": 1, "refused": 1, "not-tls": 1})
                self.assertEqual(summary["handshakes"], 5 + 1 + 1)  # every version tried on the closing one
            finally:
                plain.stop()
                banner.close()

    def test_a_trickling_server_gets_a_verdict(self):
        """A server that sends a valid record header and then one byte at a time cannot hold the assessment:
        the hello ends after three step timeouts (or 256 reads) as a timeout."""
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        stop = threading.Event()

        def trickle():
            while not stop.is_set():
                try:
                    c, _ = srv.accept()
                except OSError:
                    return
                try:
                    c.sendall(bytes([22, 3, 3, 0x40, 0x00, 2, 0, 0x3f, 0xfc]))  # a 16 KiB ServerHello, announced
                    while not stop.is_set():
                        c.sendall(b"\x00")
                        stop.wait(0.1)
                except OSError:
                    pass
                finally:
                    c.close()
        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        try:
            cp = run("tls", "--json", "--timeout", "0.3", f"127.0.0.1:{srv.getsockname()[1]}", timeout=120)
            summary = parse_jsonl(cp.stdout)[-1]
            self.assertEqual(summary["answers"], {"timeout": 1})
            self.assertEqual(summary["handshakes"], 1)
        finally:
            stop.set()
            srv.close()

    def test_usage_errors(self):
        with TempDir("dg-tls-") as d:
            junk = d.write("junk.pem", b"not a certificate\n")
            cp = run("tls", "127.0.0.1", "--ca-file", junk)
            self.assertEqual(cp.returncode, 2)
            self.assertIn("--ca-file", cp.stderr)
            self.assertEqual(run("tls", "127.0.0.1", "--tls-cert", d.join("missing.pem")).returncode, 2)
        self.assertEqual(run("tls").returncode, 2)
        self.assertEqual(run("tls", "not a target!").returncode, 2)
        self.assertEqual(run("tls", "127.0.0.1", "--tls-conns", "0").returncode, 2)

    def test_scan_grades_the_tls_services_it_finds(self):
        with TempDir("dg-tls-") as d:
            pki = tp.make_pki(d.path)
            srv = tp.storescp_tls(d.path, "py", "+py", pki).start().wait()
            plain = peers.storescp(d.path, "plain").start().wait()
            try:
                for extra, mode in (((), "quick"), (("--tls-full",), "full")):
                    cp = run("scan", "--json", srv.target, plain.target, *extra)
                    objs = parse_jsonl(cp.stdout)
                    recs = [o for o in objs if o["type"] == "tls"]
                    self.assertEqual([r["target"] for r in recs], [srv.target])
                    self.assertEqual(recs[0]["mode"], mode)
                    self.assertEqual(recs[0]["meets"], ["B.12", "B.10", "B.9"])
                    self.assertEqual(objs[-1]["tls_graded"], 1)
                cp = run("scan", "--json", srv.target, "--no-tls-grade")
                self.assertEqual([o for o in parse_jsonl(cp.stdout) if o["type"] == "tls"], [])
            finally:
                srv.stop()
                plain.stop()


if __name__ == "__main__":
    unittest.main()
