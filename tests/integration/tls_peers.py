"""Real TLS test servers (loopback 127.0.0.1 only) for the DICOM TLS assessment tests, plus an sslscan parser.

* make_pki(root): a throwaway PKI (test CA, server certificates of several kinds, a client CA and client cert),
  all made with the openssl CLI, fresh on every call.
* s_server(...) and named configurations (b12_server, b13_server, tls10_3des_server, rsa1024_server,
  expired_server, sha1_server, mtls_server, anyclient_server): `openssl s_server` peers.
* storescp_tls(...): DCMTK storescp +tls with one of its security profiles (+py, +px, +pz, +pa, +pn).
* sslscan_pairs / sslscan_groups: run Debian's sslscan 2.0.7 and normalise its XML output to
  ("TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")-style pairs.
* s_client(...): one `openssl s_client` handshake, summarised (protocol, cipher, alerts), for cross-checks.

All servers are peers.Server objects (start()/wait()/stop()/target/port) and log to files under root.
Standard library only. Run this file directly for a self-check (python3 tls_peers.py).
"""

import concurrent.futures
import functools
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import Server, free_port  # noqa: E402

HOST = "127.0.0.1"

# ---------------------------------------------------------------------------------------------------------------
# PKI
# ---------------------------------------------------------------------------------------------------------------

_OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_rsa]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[server_ec]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ca]
default_ca = ca_sect
[ca_sect]
database = {db}/index.txt
new_certs_dir = {db}
serial = {db}/serial
default_md = sha256
policy = ca_policy
unique_subject = no
copy_extensions = none
[ca_policy]
commonName = supplied
"""


class NS(dict):
    """A dict whose keys can also be read as attributes: pki.rsa.cert == pki["rsa"]["cert"]."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _run_all(cmds, cwd):
    """Runs each command list (a list of argv's, run in order) in parallel with the others."""
    def one(seq):
        for argv in seq:
            r = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            if r.returncode != 0:
                raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}):\n{r.stdout.decode(errors='replace')}")
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, len(cmds))) as ex:
        for f in [ex.submit(one, seq) for seq in cmds]:
            f.result()


def make_pki(root):
    """Creates a fresh PKI under root/pki (nothing is cached between calls) and returns an NS:

    ca, ca_key           test CA (RSA 2048, SHA-256, CN=dg-test-ca)
    client_ca, client_ca_key   separate client CA (EC P-256, CN=dg-test-client-ca)
    rsa, ecdsa, rsa1024, expired, sha1, selfsigned, client   entries NS(cert=..., key=...):
      rsa        RSA 2048 leaf, SHA-256, signed by ca
      ecdsa      EC P-256 leaf, SHA-256 (ecdsa-with-SHA256 key, RSA-SHA256 signature by ca)
      rsa1024    RSA 1024 leaf, SHA-256, signed by ca
      expired    RSA 2048 leaf, notBefore 2020-01-01, notAfter 2021-01-01 (openssl ca -startdate/-enddate)
      sha1       RSA 2048 leaf signed by ca with sha1WithRSAEncryption
      selfsigned RSA 2048 self-signed, SHA-256 (not issued by ca)
      client     EC P-256 leaf with EKU clientAuth (CN=dg-test-client), signed by client_ca
    All server leaves: CN=localhost, SAN DNS:localhost,IP:127.0.0.1, EKU serverAuth.
    dhparam              RFC 7919 ffdhe2048 DH parameters (PEM "DH PARAMETERS"), for -dhparam / storescp +dp
    """
    d = os.path.join(os.path.abspath(root), "pki")
    db = os.path.join(d, "cadb")
    os.makedirs(db, exist_ok=True)
    cnf = os.path.join(d, "openssl.cnf")
    with open(cnf, "w") as f:
        f.write(_OPENSSL_CNF.format(db=db))
    open(os.path.join(db, "index.txt"), "w").close()
    with open(os.path.join(db, "serial"), "w") as f:
        f.write("1000\n")
    p = lambda n: os.path.join(d, n)  # noqa: E731
    rsa2048, p256 = ["-newkey", "rsa:2048"], ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    base = ["openssl", "req", "-config", cnf, "-nodes", "-days", "365"]

    def leaf(name, newkey, ext, md="-sha256", issuer=("ca.pem", "ca.key"), cn="localhost"):
        return [[*base, "-x509", "-CA", p(issuer[0]), "-CAkey", p(issuer[1]), *newkey, md, "-extensions", ext,
                 "-subj", f"/CN={cn}", "-keyout", p(name + ".key"), "-out", p(name + ".pem")]]

    # 1. the two CAs and the self-signed leaf (independent of the CAs)
    _run_all([
        [[*base, "-x509", *rsa2048, "-sha256", "-extensions", "ca_ext", "-subj", "/CN=dg-test-ca",
          "-keyout", p("ca.key"), "-out", p("ca.pem")]],
        [[*base, "-x509", *p256, "-sha256", "-extensions", "ca_ext", "-subj", "/CN=dg-test-client-ca",
          "-keyout", p("client-ca.key"), "-out", p("client-ca.pem")]],
        [[*base, "-x509", *rsa2048, "-sha256", "-extensions", "server_rsa", "-subj", "/CN=localhost",
          "-keyout", p("selfsigned.key"), "-out", p("selfsigned.pem")]],
        [["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048",
          "-out", p("dh2048.pem")]],
    ], d)
    # 2. the leaves, in parallel
    _run_all([
        leaf("rsa", rsa2048, "server_rsa"),
        leaf("ecdsa", p256, "server_ec"),
        leaf("rsa1024", ["-newkey", "rsa:1024"], "server_rsa"),
        leaf("sha1", rsa2048, "server_rsa", md="-sha1"),
        leaf("client", p256, "client_ext", issuer=("client-ca.pem", "client-ca.key"), cn="dg-test-client"),
        [["openssl", "req", "-config", cnf, "-new", "-nodes", *rsa2048, "-subj", "/CN=localhost",
          "-keyout", p("expired.key"), "-out", p("expired.csr")],
         ["openssl", "ca", "-config", cnf, "-batch", "-notext", "-md", "sha256",
          "-cert", p("ca.pem"), "-keyfile", p("ca.key"), "-extensions", "server_rsa",
          "-startdate", "20200101000000Z", "-enddate", "20210101000000Z",
          "-in", p("expired.csr"), "-out", p("expired.pem")]],
    ], d)
    entry = lambda n: NS(cert=p(n + ".pem"), key=p(n + ".key"))  # noqa: E731
    return NS(root=d, ca=p("ca.pem"), ca_key=p("ca.key"), client_ca=p("client-ca.pem"),
              client_ca_key=p("client-ca.key"), dhparam=p("dh2048.pem"),
              **{n: entry(n) for n in ("rsa", "ecdsa", "rsa1024", "expired", "sha1", "selfsigned", "client")})


# ---------------------------------------------------------------------------------------------------------------
# openssl s_server peers
# ---------------------------------------------------------------------------------------------------------------

def s_server(root, name, cert, key, *extra_args, dcert=None, dkey=None):
    """`openssl s_server -accept 127.0.0.1:PORT -cert CERT -key KEY -quiet [-dcert -dkey] EXTRA...`.

    Listens on 127.0.0.1 only and accepts any number of connections in sequence (no -naccept). Output and
    errors go to root/NAME.log (with -quiet only errors, e.g. failed handshakes and verify errors, appear).

    stdin is /dev/null (peers.Server). Without -quiet, s_server treats stdin EOF as "quit": the whole server
    prints DONE and exits at the first connection. With -quiet (which implies -ign_eof) it survives, but it
    still sees stdin EOF inside each connection, so it closes EVERY connection right after the handshake
    (a close_notify, within a few ms; measured TLS 1.2 and 1.3; see post_handshake_probe). It never answers
    application data: a client
    that sends 100 bytes of binary after the handshake and then reads gets EOF (empty read / close_notify)
    promptly, not a hang; the bytes are discarded and not logged. (A client writing after that close may
    instead see ECONNRESET; the handshake result itself is unaffected.) The plain TCP connect-and-close that
    Server.wait() does only adds an error line to the log.
    """
    port = free_port()
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    argv = ["openssl", "s_server", "-accept", f"{HOST}:{port}", "-cert", cert, "-key", key, "-quiet"]
    if dcert:
        argv += ["-dcert", dcert, "-dkey", dkey or dcert]
    argv += list(extra_args)
    s = Server(name, argv, port, d, os.path.join(root, name + ".log"))
    return s


TLS12_13 = ("-min_protocol", "TLSv1.2", "-max_protocol", "TLSv1.3")

B12_CIPHERS = ("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:"
               "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384")
B13_CIPHERS = ("ECDHE-ECDSA-AES128-CCM:ECDHE-ECDSA-AES256-CCM:ECDHE-ECDSA-AES128-CCM8:ECDHE-ECDSA-AES256-CCM8:"
               "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
               "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-CHACHA20-POLY1305")
TLS13_ALL = ("TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
             "TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256")


def b12_server(root, pki, name="b12"):
    """BCP 195-style (RFC 9325 sec. 4.2) server: TLS 1.2 and 1.3 only, RSA 2048 SHA-256 cert (pki.rsa).
    TLS 1.2 suites exactly ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-AES256-GCM-SHA384, ECDHE-RSA-CHACHA20-POLY1305,
    DHE-RSA-AES128-GCM-SHA256, DHE-RSA-AES256-GCM-SHA384 (DHE with the RFC 7919 ffdhe2048 group, -dhparam);
    TLS 1.3 default suites (AES-128-GCM, AES-256-GCM, CHACHA20); groups P-256:P-384:X25519."""
    return s_server(root, name, pki.rsa.cert, pki.rsa.key, *TLS12_13, "-cipher", B12_CIPHERS,
                    "-dhparam", pki.dhparam, "-groups", "P-256:P-384:X25519")


def b13_server(root, pki, name="b13"):
    """Dual-certificate server: ECDSA P-256 cert (pki.ecdsa) plus RSA 2048 cert (pki.rsa, via -dcert/-dkey);
    TLS 1.2 and 1.3 only; TLS 1.2 suites exactly the ten ECDHE AEAD suites of B13_CIPHERS (CCM, CCM8, GCM,
    CHACHA20; ECDSA and RSA); all five TLS 1.3 suites (incl. CCM and CCM_8); groups P-256:P-384 (no X25519)."""
    return s_server(root, name, pki.ecdsa.cert, pki.ecdsa.key, *TLS12_13, "-cipher", B13_CIPHERS,
                    "-ciphersuites", TLS13_ALL, "-groups", "P-256:P-384", dcert=pki.rsa.cert, dkey=pki.rsa.key)


class Unavailable(RuntimeError):
    """The local OpenSSL cannot provide this configuration (tests should skip)."""


def have_cipher(spec):
    """True if the local libssl knows the TLS <= 1.2 cipher spec (e.g. "DES-CBC3-SHA") at security level 0."""
    r = subprocess.run(["openssl", "ciphers", f"{spec}:@SECLEVEL=0"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return r.returncode == 0


def tls10_3des_server(root, pki, name="tls10-3des"):
    """Legacy server: TLS 1.0 only (-tls1), the single suite DES-CBC3-SHA (TLS_RSA_WITH_3DES_EDE_CBC_SHA),
    RSA 2048 cert, @SECLEVEL=0 (OpenSSL 3.0 refuses TLS 1.0 / SHA-1 MACs at level >= 1).

    Raises Unavailable when libssl has no 3DES suites, which is the case for Debian 12's OpenSSL 3.0.x
    (`openssl ciphers 3DES:@SECLEVEL=0` -> "no cipher match": s_server cannot offer it, and no client linked
    against that libssl -- sslscan, s_client, python ssl -- can negotiate it either). Use tls10_server() instead.
    """
    if not have_cipher("DES-CBC3-SHA"):
        raise Unavailable("this libssl has no DES-CBC3-SHA (3DES) ciphersuite")
    return s_server(root, name, pki.rsa.cert, pki.rsa.key, "-tls1", "-cipher", "DES-CBC3-SHA:@SECLEVEL=0")


def tls10_server(root, pki, name="tls10", cipher="AES128-SHA"):
    """Legacy server available on this OpenSSL: TLS 1.0 only (-tls1), one suite (default AES128-SHA =
    TLS_RSA_WITH_AES_128_CBC_SHA: static RSA key exchange, CBC, SHA-1 MAC), RSA 2048 cert, @SECLEVEL=0.
    (sslscan reports it as TLSv1.0 enabled; TLS 1.1-1.3 disabled.)"""
    return s_server(root, name, pki.rsa.cert, pki.rsa.key, "-tls1", "-cipher", f"{cipher}:@SECLEVEL=0")


def rsa1024_server(root, pki, name="rsa1024"):
    """TLS 1.2/1.3, default suites and groups, RSA 1024-bit leaf (pki.rsa1024). Debian builds OpenSSL with
    default security level 2, which refuses a 1024-bit key ("ee key too small"), hence DEFAULT:@SECLEVEL=0."""
    return s_server(root, name, pki.rsa1024.cert, pki.rsa1024.key, *TLS12_13, "-cipher", "DEFAULT:@SECLEVEL=0")


def expired_server(root, pki, name="expired"):
    """TLS 1.2/1.3, default suites and groups, RSA 2048 leaf valid 2020-01-01..2021-01-01 (pki.expired)."""
    return s_server(root, name, pki.expired.cert, pki.expired.key, *TLS12_13)


def sha1_server(root, pki, name="sha1"):
    """TLS 1.2/1.3, default suites and groups, RSA 2048 leaf signed with SHA-1 (pki.sha1). OpenSSL 3.0 refuses
    to load a SHA-1-signed cert at level >= 1 ("ca md too weak"; Debian's default is 2), hence
    DEFAULT:@SECLEVEL=0."""
    return s_server(root, name, pki.sha1.cert, pki.sha1.key, *TLS12_13, "-cipher", "DEFAULT:@SECLEVEL=0")


def mtls_server(root, pki, name="mtls"):
    """TLS 1.2/1.3, RSA 2048 cert; a client certificate is required and must verify against pki.client_ca
    (-Verify 1 -CAfile client-ca -verify_return_error). Behaviour (measured with openssl s_client):
    * no client cert, TLS 1.2: handshake fails; server sends alert 40 handshake_failure
      ("peer did not return a certificate" in the log).
    * no client cert, TLS 1.3: the client's handshake "succeeds" (it sends its Finished first), then its first
      read gets alert 116 certificate_required.
    * untrusted self-signed client cert, TLS 1.2: handshake fails with alert 48 unknown_ca.
    * untrusted self-signed client cert, TLS 1.3: client-side handshake completes, then alert 48 unknown_ca.
    * pki.client cert: accepted under both.
    sslscan without a client cert therefore lists only the three TLS 1.3 suites; with
    --certs=pki.client.cert --pk=pki.client.key it lists the same 23 pairs as anyclient_server.
    """
    return s_server(root, name, pki.rsa.cert, pki.rsa.key, *TLS12_13, "-Verify", "1", "-CAfile", pki.client_ca,
                    "-verify_return_error")


def anyclient_server(root, pki, name="anyclient"):
    """TLS 1.2/1.3, RSA 2048 cert; requests a client certificate (CertificateRequest, CA names from
    pki.client_ca) but accepts anything: -verify 1 without -verify_return_error. Measured with openssl
    s_client, TLS 1.2 and TLS 1.3 alike: no client cert -> handshake completes; untrusted self-signed client cert
    -> handshake completes (the verify error is only written to the log); pki.client -> completes."""
    return s_server(root, name, pki.rsa.cert, pki.rsa.key, *TLS12_13, "-verify", "1", "-CAfile", pki.client_ca)


NAMED_SERVERS = (b12_server, b13_server, tls10_3des_server, tls10_server, rsa1024_server, expired_server, sha1_server,
                 mtls_server, anyclient_server)


# ---------------------------------------------------------------------------------------------------------------
# DCMTK storescp +tls
# ---------------------------------------------------------------------------------------------------------------

STORESCP_PROFILES = ("+py", "+px", "+pz", "+pa", "+pn")
STORESCP_TIMEOUT = 5  # storescp's ACSE and socket timeouts (-ta, -ts): the longest it stalls on another client
# A `dicomguard tls --timeout` that outlasts any such stall: each step waits for the stalled storescp.
OUTLASTS_STORESCP_STALL = STORESCP_TIMEOUT + 3


def storescp_tls(root, name, profile_flag, pki, require_client=False, entry=None, dhparam=None):
    """DCMTK storescp +tls KEY CERT PROFILE (-ic | -rc +cf client-ca) -od DIR PORT.

    storescp has no bind option and listens on 0.0.0.0: only ever connect to 127.0.0.1 (Server.target).
    entry: the pki entry for the server cert (default pki.rsa: the +pa/+pn profiles only have RSA suites).
    dhparam: passed as +dp (default: none; DCMTK/OpenSSL 3 then use automatic DH parameters).
    Measured on DCMTK 3.6.7 / Debian OpenSSL 3.0 with the RSA 2048 cert (sslscan, cross-checked with s_client);
    every profile starts and completes a handshake; none needs +dp (DHE uses automatic 2048-bit parameters):
      +py  TLS 1.2: ECDHE-RSA and DHE-RSA AES-128/256-GCM (4); TLS 1.3: AES-128-GCM, AES-256-GCM, CHACHA20
      +px  as +py, plus TLS_RSA_WITH_AES_128_CBC_SHA under TLS 1.0, 1.1 and 1.2
      +pz  TLS 1.2 only: the same 4 RSA GCM suites (ECDHE-ECDSA AES-128/256-GCM instead, with an ECDSA cert)
      +pa  TLS 1.0-1.2, TLS_RSA_WITH_AES_128_CBC_SHA only (its 3DES suite is missing from this libssl)
      +pn  TLS 1.0-1.2, TLS_RSA_WITH_NULL_SHA only (clients need -cipher NULL-SHA:@SECLEVEL=0)
    With an ECDSA cert +py/+px offer TLS 1.3 only and +pa/+pn nothing: use RSA. With require_client (-rc),
    TLS 1.2 handshakes without a trusted client cert fail (alert 40 no cert / 48 untrusted), TLS 1.3 ones
    complete client-side and then get alert 116 / 48; sslscan then sees TLS 1.3 only unless given
    --certs=pki.client.cert --pk=pki.client.key. sslscan reports no TLS 1.2 groups for storescp (only the
    P-256 curve in the cipher lines) and TLS 1.3 groups P-256, P-384, P-521.
    """
    if profile_flag not in STORESCP_PROFILES:
        raise ValueError(f"unknown storescp TLS profile {profile_flag}")
    e = entry or pki.rsa
    port = free_port()
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    # --fork: one child per association, as a PACS serves them, so that a client stalled on one connection (see
    # below) never holds the next ones: a loaded machine otherwise let sslscan time out behind a stall on every try.
    argv = ["storescp", "--fork", "+tls", e.key, e.cert, profile_flag]
    if dhparam:
        argv += ["+dp", dhparam]
    argv += ["-rc", "+cf", pki.client_ca] if require_client else ["-ic"]
    # storescp serves one connection at a time: a client that connects and says nothing (sslscan does, between
    # its tests) holds it for the ACSE timeout (30 s by default) or, inside a TLS handshake, the socket timeout
    # (60 s). Five seconds each keeps a test from stalling. With some OpenSSL 3.0 builds (3.0.20 in a fresh
    # Debian 12 chroot) storescp also stalls, now and then, for its socket timeout after an aborted handshake:
    # a client that waits longer than STORESCP_TIMEOUT for each step is never cut off by such a stall.
    argv += ["-ta", str(STORESCP_TIMEOUT), "-ts", str(STORESCP_TIMEOUT), "-od", d, str(port)]
    return Server(name, argv, port, d, os.path.join(root, name + ".log"))


# ---------------------------------------------------------------------------------------------------------------
# sslscan
# ---------------------------------------------------------------------------------------------------------------

_VERSIONS = {"sslv2": "SSLv2", "sslv3": "SSLv3", "tlsv1": "TLSv1.0", "tlsv1.0": "TLSv1.0", "tlsv1.1": "TLSv1.1",
             "tlsv1.2": "TLSv1.2", "tlsv1.3": "TLSv1.3"}


def norm_version(v):
    return _VERSIONS.get(v.strip().lower().replace("_", "."), v.strip())


@functools.lru_cache(maxsize=1)
def suite_names():
    """(by_id, by_openssl_name) maps to IANA names, from `openssl ciphers -stdname -V` (all suites, level 0)."""
    out = subprocess.run(["openssl", "ciphers", "-stdname", "-V", "-ciphersuites", TLS13_ALL,
                          "ALL:COMPLEMENTOFALL:@SECLEVEL=0"], check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout
    by_id, by_name = {}, {}
    for line in out.splitlines():
        m = re.match(r"\s*0x([0-9A-Fa-f]{2}),0x([0-9A-Fa-f]{2})\s+-\s+(\S+)\s+-\s+(\S+)", line)
        if m:
            by_id[int(m.group(1) + m.group(2), 16)] = m.group(3)
            by_name[m.group(4)] = m.group(3)
    return by_id, by_name


def iana_name(cipher, cid=None):
    by_id, by_name = suite_names()
    if cid:
        try:
            n = by_id.get(int(cid, 16))
            if n:
                return n
        except ValueError:
            pass
    return by_name.get(cipher, cipher)


def run_sslscan(target, extra_args=(), timeout=180):
    """Runs `sslscan --no-colour --xml=- EXTRA TARGET` and returns its stdout (the XML document only)."""
    r = subprocess.run(["sslscan", "--no-colour", "--xml=-", *extra_args, target], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return r.stdout.decode("utf-8", errors="replace")


def _xml(raw):
    start = raw.find("<?xml")
    return ET.fromstring(raw[start:] if start >= 0 else raw)


def parse_sslscan_pairs(raw):
    return {(norm_version(c.get("sslversion", "")), iana_name(c.get("cipher", ""), c.get("id")))
            for c in _xml(raw).iter("cipher")}


def parse_sslscan_groups(raw):
    """{(version, name)} with names like secp256r1, x25519, ffdhe2048 ("secp256r1 (NIST P-256)" -> secp256r1)."""
    return {(norm_version(g.get("sslversion", "")), g.get("name", "").split(" ")[0].lower())
            for g in _xml(raw).iter("group")}


def parse_sslscan_protocols(raw):
    """{"TLSv1.2": True, ...}: sslscan's per-protocol enabled flags."""
    res = {}
    for p in _xml(raw).iter("protocol"):
        v = ("SSLv" if p.get("type") == "ssl" else "TLSv") + p.get("version", "")
        res[norm_version(v)] = p.get("enabled") == "1"
    return res


def sslscan_pairs(target, extra_args=()):
    """-> (set of (version, IANA suite) pairs, raw XML output). Versions are SSLv2..TLSv1.3 ("TLSv1.0" style)."""
    raw = run_sslscan(target, extra_args)
    return parse_sslscan_pairs(raw), raw


def sslscan_groups(target, extra_args=()):
    """-> (set of (version, group) pairs, raw XML output). Caveats seen with sslscan 2.0.7: the TLS 1.2 list is
    empty for storescp (the curve attribute of the TLS 1.2 cipher lines is another source), and with only an
    ECDSA P-256 cert the TLS 1.2 list is just secp256r1 (OpenSSL needs the cert's curve among the client's
    groups in TLS 1.2, and sslscan offers one group at a time). TLS 1.3 lists include ffdhe* groups when offered."""
    raw = run_sslscan(target, extra_args)
    return parse_sslscan_groups(raw), raw


# ---------------------------------------------------------------------------------------------------------------
# openssl s_client, for cross-checks
# ---------------------------------------------------------------------------------------------------------------

def s_client(target, *args, cert=None, key=None, linger=0.3, timeout=15):
    """One `openssl s_client -brief -connect TARGET -servername localhost ARGS [-cert -key]` handshake. stdin stays
    open for `linger` seconds (so alerts the server sends after the client's Finished -- TLS 1.3 client-certificate
    rejection -- are read), then is closed and s_client quits.
    -> NS(handshake, protocol, cipher, alerts, alert_numbers, accepted, rc, output):
    handshake: "CONNECTION ESTABLISHED" was printed (client-side handshake completed);
    protocol: "TLSv1.0".."TLSv1.3"; cipher: OpenSSL name (IANA name for TLS 1.3);
    alerts: names of alerts received, e.g. ["handshake failure"], alert_numbers: e.g. [40];
    accepted: handshake and no alert (in TLS 1.3 a rejected client cert gives handshake=True, accepted=False)."""
    argv = ["openssl", "s_client", "-brief", "-connect", target, "-servername", "localhost", *args]
    if cert:
        argv += ["-cert", cert, "-key", key or cert]
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        try:
            p.wait(timeout=linger)
        except subprocess.TimeoutExpired:
            pass
        out = p.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        p.kill()
        out = p.communicate()[0]
    out = out.decode("utf-8", errors="replace")
    hs = "CONNECTION ESTABLISHED" in out
    proto = re.search(r"^Protocol version: (\S+)", out, re.M)
    cipher = re.search(r"^Ciphersuite: (\S+)", out, re.M)
    alerts = re.findall(r"(?:ssl|tls)v\d+ alert ([a-z ]+?):", out)
    numbers = [int(n) for n in re.findall(r"SSL alert number (\d+)", out)]
    return NS(handshake=hs, protocol=norm_version(proto.group(1)) if proto else None,
              cipher=cipher.group(1) if cipher else None, alerts=alerts, alert_numbers=numbers,
              accepted=hs and not numbers, rc=p.returncode, output=out)


def post_handshake_probe(port, nbytes=100, read_timeout=5.0, max_version=None):
    """TLS handshake (no verification) with 127.0.0.1:port, send nbytes of binary, then read once.
    -> (tls version, what happened: "eof" | "data:<n>" | "timeout" | "reset", seconds)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    if max_version:
        ctx.maximum_version = max_version
    t = time.monotonic()
    with socket.create_connection((HOST, port), timeout=read_timeout) as raw:
        with ctx.wrap_socket(raw) as s:
            ver = s.version()
            try:
                s.sendall(bytes(range(nbytes)))
                data = s.recv(4096)
                what = "eof" if not data else f"data:{len(data)}"
            except (socket.timeout, TimeoutError):
                what = "timeout"
            except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
                what = "reset"
    return ver, what, round(time.monotonic() - t, 3)


# ---------------------------------------------------------------------------------------------------------------
# self-check
# ---------------------------------------------------------------------------------------------------------------

def _fmt(pairs):
    return "\n".join(f"    {v} {s}" for v, s in sorted(pairs)) or "    (none)"


def _main():
    import tempfile
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dg-tls-peers-") as root:
        t = time.monotonic()
        pki = make_pki(root)
        print(f"PKI built in {time.monotonic() - t:.2f} s under {pki.root}")
        for e in ("rsa", "ecdsa", "rsa1024", "expired", "sha1", "selfsigned", "client"):
            txt = subprocess.run(["openssl", "x509", "-in", pki[e].cert, "-noout", "-subject", "-issuer",
                                  "-dates", "-text"], stdout=subprocess.PIPE, text=True).stdout
            sig = re.search(r"Signature Algorithm: (\S+)", txt).group(1)
            pk = re.search(r"Public-Key: \((\d+) bit\)", txt).group(1)
            nb = re.search(r"notBefore=(.*)", txt).group(1)
            na = re.search(r"notAfter=(.*)", txt).group(1)
            print(f"  {e:10} {sig:24} {pk:>4} bit  {nb} .. {na}")
        servers = []
        for f in NAMED_SERVERS:
            try:
                servers.append(f(root, pki))
            except Unavailable as e:
                print(f"\n== {f.__name__}: unavailable: {e}")
        servers += [storescp_tls(root, "storescp" + p.replace("+", "-"), p, pki) for p in STORESCP_PROFILES]
        servers.append(storescp_tls(root, "storescp-py-rc", "+py", pki, require_client=True))
        pgids = []
        for s in servers:
            t = time.monotonic()
            s.start()
            pgids.append(s.proc.pid)
            try:
                s.wait()
                raw = run_sslscan(s.target)
                pairs = parse_sslscan_pairs(raw)
                groups = parse_sslscan_groups(raw)
                print(f"\n== {s.name} ({s.target}) {' '.join(s.argv[:2])}: {len(pairs)} pairs, "
                      f"scan {time.monotonic() - t:.1f} s")
                print(_fmt(pairs))
                print("  groups: " + ", ".join(f"{v}:{g}" for v, g in sorted(groups)))
                for ver in ("-tls1_2", "-tls1_3") if not s.name.startswith("tls10") else ("-tls1",):
                    extra = ("-cipher", "ALL:@SECLEVEL=0") if ver == "-tls1" else ()
                    if s.name == "storescp-pn":
                        extra = ("-cipher", "NULL-SHA:@SECLEVEL=0")
                    who = ((("no cert", None, None), ("untrusted", pki.selfsigned.cert, pki.selfsigned.key),
                            ("client", pki.client.cert, pki.client.key))
                           if s.name in ("mtls", "anyclient", "storescp-py-rc") else (("", None, None),))
                    for label, c, k in who:
                        r = s_client(s.target, ver, *extra, cert=c, key=k)
                        print(f"  s_client {ver:7} {label:9}: handshake={r.handshake} accepted={r.accepted} "
                              f"{r.protocol} {r.cipher} alerts={r.alert_numbers}{r.alerts}")
                if s.name in ("mtls", "storescp-py-rc"):
                    pairs = sslscan_pairs(s.target, [f"--certs={pki.client.cert}", f"--pk={pki.client.key}"])[0]
                    print(f"  sslscan with --certs/--pk client cert: {len(pairs)} pairs")
                    print(_fmt(pairs))
                if s.name == "b12":
                    for mv in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
                        print("  post-handshake 100 bytes:", post_handshake_probe(s.port, max_version=mv))
                assert s.proc.poll() is None, f"{s.name} exited"
            finally:
                s.stop()
            print(f"  stopped: rc={s.proc.returncode}")
        time.sleep(0.2)
        ps = subprocess.run(["ps", "-eo", "pid,pgid,args"], stdout=subprocess.PIPE, text=True).stdout
        stray = [l for l in ps.splitlines()[1:] if l.split()[1] in map(str, pgids)]
        print("\nstray processes:", stray or "none")
    print(f"self-check took {time.monotonic() - t0:.1f} s")
    return 1 if stray else 0


if __name__ == "__main__":
    sys.exit(_main())
