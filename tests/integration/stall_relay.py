"""A relay on 127.0.0.1 in front of one TLS server that plays a single-process server stalling on another client
(DCMTK's storescp with some OpenSSL 3.0 builds, now and then, after an aborted handshake).

Like storescp it serves one connection at a time. It reads each connection's ClientHello and tells the full
OpenSSL handshakes (their supported_versions extension lists several versions) from the scanner's own hellos
(TLS 1.3 hellos list one version, older ones have no such extension). `hold(kind, n)` says, for the n-th
connection of that kind ("openssl" or "hello", counted from 1), how many seconds to keep silent before forwarding
it: 0 forwards at once, None never (a black hole, until the client gives up). While it holds one connection it
accepts no other, exactly as a stalled storescp: the next client's connect succeeds (the kernel's backlog) and its
ClientHello meets silence. A held connection whose client has gone by the end of the hold is closed, not
forwarded.

Standard library only. Usage: with StallRelay(upstream_port, hold) as r: ... r.target ...; r.seen lists
(kind, n, held seconds or None, forwarded) per connection.
"""

import select
import socket
import struct
import threading
import time

from tls_scripted import parse_client_hello


def hello_kind(hello):
    _, _, exts = hello
    lst = exts.get(43, b"")
    return "openssl" if lst and lst[0] > 2 else "hello"


class StallRelay:
    def __init__(self, upstream_port, hold):
        self.upstream_port, self.hold = upstream_port, hold
        self.seen = []
        self.counts = {"openssl": 0, "hello": 0}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.target = f"127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            pass
        self._thread.join(timeout=10)
        self.sock.close()

    def _serve(self):
        while not self._stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self._stop.is_set():
                c.close()
                return
            try:
                self._one(c)
            except OSError:
                pass
            finally:
                c.close()

    @staticmethod
    def _gone(c):
        """The client closed (or reset) the connection: without waiting (a socket with a timeout would wait in
        recv even with MSG_DONTWAIT)."""
        r, _, _ = select.select([c], [], [], 0)
        if not r:
            return False
        try:
            return c.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _one(self, c):
        c.settimeout(10)
        first = b""
        hello = None
        while hello is None:
            chunk = c.recv(65536)
            if not chunk:
                return
            first += chunk
            try:
                hello = parse_client_hello(first)
            except (IndexError, struct.error):
                break
        kind = hello_kind(hello) if hello else "hello"
        self.counts[kind] += 1
        n = self.counts[kind]
        secs = self.hold(kind, n)
        entry = [kind, n, secs, False]
        self.seen.append(entry)
        deadline = None if secs is None else time.monotonic() + secs
        # Silence: no answer, and no other connection accepted, for the whole hold (the stall is the server's: it
        # does not end when this client gives up), or for a black hole until the client gives up.
        while deadline is None or time.monotonic() < deadline:
            if self._stop.is_set() or (deadline is None and self._gone(c)):
                return
            time.sleep(0.02)
        if self._gone(c):
            return
        entry[3] = True
        with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10) as up:
            up.sendall(first)
            self._pump(c, up)

    def _pump(self, a, b):
        a.setblocking(False)
        b.setblocking(False)
        peers = {a: b, b: a}
        while not self._stop.is_set():
            r, _, _ = select.select([a, b], [], [], 0.2)
            for s in r:
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                peers[s].setblocking(True)
                peers[s].sendall(data)
                peers[s].setblocking(False)
