"""A scripted legacy TLS server on 127.0.0.1, for what no real server on this machine can be.

Debian 12's OpenSSL 3.0 has neither SSLv3 nor any 3DES suite, so no `openssl s_server` (and no DCMTK built on it)
can play the old PACS that speaks TLS 1.0 with TLS_RSA_WITH_3DES_EDE_CBC_SHA (PS3.15 B.1), and no client built
on it (sslscan, testssl.sh's openssl, Python's ssl) can see such a server either. This server answers a
ClientHello the way such a PACS does, up to ServerHelloDone: it picks the highest version the client offers
among its own, and the first of its suites (in its preference order) that the client offers; a version it does
not speak gets alert protocol_version (70), no common suite alert handshake_failure (40). It then sends its
certificate (a real DER certificate) and ServerHelloDone, and closes when the client does (or after a few
seconds). It never completes a handshake: that part of a TLS assessment needs a real peer.

Standard library only. Usage: with ScriptedTls(versions, suites, cert_der) as s: ... s.port ...
"""

import os
import socket
import struct
import threading
import time


def _record(content_type, version, body):
    return struct.pack("!BHH", content_type, version, len(body)) + body


def _handshake(msg_type, body):
    return struct.pack("!B", msg_type) + len(body).to_bytes(3, "big") + body


def parse_client_hello(data):
    """Returns (legacy_version, [suites], {ext_type: bytes}) or None when incomplete/not a ClientHello."""
    if len(data) < 5 or data[0] != 22:
        return None
    rec_len = struct.unpack("!H", data[3:5])[0]
    if len(data) < 5 + rec_len:
        return None
    b = data[5:5 + rec_len]
    if len(b) < 4 or b[0] != 1:
        return None
    hs_len = int.from_bytes(b[1:4], "big")
    body = b[4:4 + hs_len]
    p = 0
    version = struct.unpack("!H", body[p:p + 2])[0]
    p += 2 + 32
    sid = body[p]
    p += 1 + sid
    n = struct.unpack("!H", body[p:p + 2])[0]
    p += 2
    suites = [struct.unpack("!H", body[p + i:p + i + 2])[0] for i in range(0, n, 2)]
    p += n
    comp = body[p]
    p += 1 + comp
    exts = {}
    if p + 2 <= len(body):
        total = struct.unpack("!H", body[p:p + 2])[0]
        p += 2
        end = p + total
        while p + 4 <= end:
            t, ln = struct.unpack("!HH", body[p:p + 4])
            exts[t] = body[p + 4:p + 4 + ln]
            p += 4 + ln
    return version, suites, exts


class ScriptedTls:
    def __init__(self, versions, suites, cert_der, stats=None, gmt_skew=None):
        self.versions = sorted(versions)          # e.g. [0x0301]
        # gmt_skew: the ServerHello random starts with gmt_unix_time, this many seconds off (as old servers did,
        # RFC 5246 7.4.1.2); None: 32 random bytes (as OpenSSL does)
        self.gmt_skew = gmt_skew
        self.suites = list(suites)                # server preference order, e.g. [0x000A]
        self.cert_der = cert_der
        self.connections = 0
        # Shared between servers: connections open at once (active) and the most seen (peak).
        self.stats = stats if stats is not None else {"peak": 0, "lock": threading.Lock()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.target = f"127.0.0.1:{self.port}"
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            pass
        self._thread.join(timeout=5)
        self.sock.close()

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self._stop:
                conn.close()
                return
            self.connections += 1
            self._track(conn)
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _track(self, conn):
        """Counts connections open at once, deterministically on loopback: a client that closed its previous
        connection before opening this one has its FIN queued already, so a non-blocking peek sees EOF."""
        with self.stats["lock"]:
            still = set()
            for c in self.stats.setdefault("open", set()):
                try:
                    if c.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b"":
                        still.add(c)
                except BlockingIOError:
                    still.add(c)
                except OSError:
                    pass
            still.add(conn)
            self.stats["open"] = still
            self.stats["peak"] = max(self.stats["peak"], len(still))

    def _answer(self, hello):
        version, suites, exts = hello
        offered = {version}
        if 43 in exts:  # supported_versions: a TLS 1.3 client; take its list
            lst = exts[43]
            offered = {struct.unpack("!H", lst[1 + i:3 + i])[0] for i in range(0, lst[0], 2)}
        else:
            offered = {v for v in range(0x0300, version + 1)}
        common = [v for v in self.versions if v in offered]
        rec_version = min(version, 0x0301) if version >= 0x0301 else 0x0300
        if not common:
            return _record(21, rec_version, bytes([2, 70]))
        v = max(common)
        if 0x5600 in suites and v < max(self.versions):
            return _record(21, v, bytes([2, 86]))
        pick = next((s for s in self.suites if s in suites), None)
        if pick is None:
            return _record(21, v, bytes([2, 40]))
        ext = b""
        if 0x00FF in suites or 0xFF01 in exts:
            ext += struct.pack("!HHB", 0xFF01, 1, 0)
        random = os.urandom(32) if self.gmt_skew is None else \
            struct.pack("!I", int(time.time() + self.gmt_skew) & 0xFFFFFFFF) + os.urandom(28)
        sh = struct.pack("!H", v) + random + b"\x00" + struct.pack("!HB", pick, 0)
        if ext:
            sh += struct.pack("!H", len(ext)) + ext
        cert = len(self.cert_der).to_bytes(3, "big") + self.cert_der
        msgs = _handshake(2, sh) + _handshake(11, len(cert).to_bytes(3, "big") + cert) + _handshake(14, b"")
        return _record(22, v, msgs)

    def _one(self, conn):
        try:
            self._converse(conn)
        finally:
            with self.stats["lock"]:
                self.stats.setdefault("open", set()).discard(conn)

    def _converse(self, conn):
        conn.settimeout(5)
        buf = b""
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
                hello = None
                try:
                    hello = parse_client_hello(buf)
                except (IndexError, struct.error):
                    conn.sendall(_record(21, 0x0301, bytes([2, 50])))
                    return
                if hello:
                    conn.sendall(self._answer(hello))
                    while conn.recv(65536):
                        pass
                    return
        except OSError:
            return
        finally:
            with self.stats["lock"]:
                conn.close()
