"""A scripted DICOM SCP on 127.0.0.1 for behaviours no packaged server here has on demand.

`SingleConnectionScp` serves one association at a time and has no listener while it does: it closes its
listening socket when it accepts a connection and opens a new one `reopen_ms` after that connection ends, so a
client that connects again at once gets ECONNREFUSED (what odil's acceptor and some embedded SCPs do). It
rejects an unknown called AE title with A-ASSOCIATE-RJ (1, 1, 7), accepts every presentation context of its
own AE title, and answers C-ECHO (0000), C-FIND (0000, no matches), C-MOVE and C-GET (C000: no such study) and
C-STORE (0000), or, for calling AE titles not in `trusted`, every command with `refuse_status` when given (0124,
refused: not authorized); with `ae=None` it accepts any called AE title. Every connection is counted, with its
called and calling AE title, and every A-ASSOCIATE-RQ is kept as received (`requests`), as is the number of
A-RELEASE-RQ answered (`releases`).

Standard library only. Usage: with SingleConnectionScp("SINGLE") as s: ... s.port ...
"""

import socket
import struct
import threading
import time

import peers

CMD_FIELDS = {0x0030: 0x8030, 0x0020: 0x8020, 0x0021: 0x8021, 0x0010: 0x8010, 0x0001: 0x8001}  # RQ -> RSP


def _items(body):
    i = 0
    while i + 4 <= len(body):
        t, n = body[i], struct.unpack(">H", body[i + 2:i + 4])[0]
        yield t, body[i + 4:i + 4 + n]
        i += 4 + n


def parse_rq(pdu):
    called = pdu[10:26].decode("ascii", "replace").strip()
    calling = pdu[26:42].decode("ascii", "replace").strip()
    contexts = []
    for t, v in _items(pdu[74:]):
        if t != 0x20:
            continue
        cid, syntaxes = v[0], [s.decode().rstrip("\0") for tt, s in _items(v[4:]) if tt in (0x30, 0x40)]
        contexts.append((cid, syntaxes[0], syntaxes[1:]))
    return called, calling, contexts


def _item(t, payload):
    return bytes([t, 0]) + struct.pack(">H", len(payload)) + payload


def associate_ac(rq, contexts):
    body = b"\0\x01\0\0" + rq[10:42] + b"\0" * 32 + _item(0x10, b"1.2.840.10008.3.1.1.1")
    for cid, _, tss in contexts:
        body += _item(0x21, bytes([cid, 0, 0, 0]) + _item(0x40, tss[0].encode()))
    ui = _item(0x51, struct.pack(">I", 16384)) + _item(0x52, b"1.2.826.0.1.3680043.10.1427.99") + _item(0x55, b"SCRIPTED_SCP")
    body += _item(0x50, ui)
    return b"\x02\0" + struct.pack(">I", len(body)) + body


def reject(reason):
    return bytes([3, 0, 0, 0, 0, 4, 0, 1, 1, reason])


def _elements(data):
    i, out = 0, {}
    while i + 8 <= len(data):
        g, e, n = struct.unpack("<HHI", data[i:i + 8])
        out[(g, e)] = data[i + 8:i + 8 + n]
        i += 8 + n
    return out


def _el(g, e, v):
    return struct.pack("<HHI", g, e, len(v)) + v


def response(cid, rq_cmd, status):
    els = _elements(rq_cmd)
    field = struct.unpack("<H", els[(0, 0x0100)])[0]
    sop = els.get((0, 0x0002), b"")
    msg = els.get((0, 0x0110), b"\x01\x00")
    cs = (_el(0, 0x0002, sop) + _el(0, 0x0100, struct.pack("<H", CMD_FIELDS.get(field, 0x8030))) +
          _el(0, 0x0120, msg) + _el(0, 0x0800, struct.pack("<H", 0x0101)) + _el(0, 0x0900, struct.pack("<H", status)))
    cs = _el(0, 0x0000, struct.pack("<I", len(cs))) + cs
    pdv = struct.pack(">I", len(cs) + 2) + bytes([cid, 0x03]) + cs
    return b"\x04\0" + struct.pack(">I", len(pdv)) + pdv, field


class SingleConnectionScp:
    def __init__(self, ae, *, reopen_ms=15, trusted=None, refuse_status=None):
        self.ae, self.reopen = ae, reopen_ms / 1000.0
        self.trusted, self.refuse_status = trusted, refuse_status
        self.port = peers.free_port()
        self.connections = []  # (called, calling) per association request, None for a connection without one
        self.requests = []  # the A-ASSOCIATE-RQ PDUs, bytes as received
        self.releases = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self._ready = threading.Event()
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)

    def _listen(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(1)
        s.settimeout(0.2)
        return s

    def _serve(self):
        while not self._stop.is_set():
            ls = self._listen()
            self._ready.set()
            conn = None
            while not self._stop.is_set():
                try:
                    conn, _ = ls.accept()
                    break
                except socket.timeout:
                    continue
            ls.close()  # no listener while an association runs
            if conn is None:
                return
            try:
                self._one(conn)
            except (OSError, struct.error, IndexError, KeyError, ValueError):
                pass
            finally:
                conn.close()
            time.sleep(self.reopen)

    @staticmethod
    def _pdu(conn):
        head = b""
        while len(head) < 6:
            chunk = conn.recv(6 - len(head))
            if not chunk:
                return None
            head += chunk
        n = struct.unpack(">I", head[2:6])[0]
        body = b""
        while len(body) < n:
            chunk = conn.recv(min(65536, n - len(body)))
            if not chunk:
                return None
            body += chunk
        return head + body

    def _one(self, conn):
        conn.settimeout(5)
        rq = self._pdu(conn)
        if rq is None or rq[0] != 1:
            self.connections.append(None)
            return
        called, calling, contexts = parse_rq(rq)
        self.connections.append((called, calling))
        self.requests.append(rq)
        if self.ae is not None and called != self.ae:
            conn.sendall(reject(7))
            return
        conn.sendall(associate_ac(rq, contexts))
        refuse = self.refuse_status is not None and (self.trusted is None or calling not in self.trusted)
        command, waiting = b"", None  # waiting: (context, command) whose dataset is still to come
        while True:
            p = self._pdu(conn)
            if p is None:
                return
            if p[0] == 5:  # A-RELEASE-RQ
                conn.sendall(bytes([6, 0, 0, 0, 0, 4, 0, 0, 0, 0]))
                self.releases += 1
                return
            if p[0] != 4:
                return
            i = 6
            while i + 6 <= len(p):
                n = struct.unpack(">I", p[i:i + 4])[0]
                cid, ctl = p[i + 4], p[i + 5]
                frag = p[i + 6:i + 4 + n]
                i += 4 + n
                if not ctl & 1:  # a dataset: read and dropped; its last fragment lets the command be answered
                    if ctl & 2 and waiting:
                        self._answer(conn, *waiting, refuse)
                        waiting = None
                    continue
                command += frag
                if not ctl & 2:
                    continue
                els = _elements(command)
                if struct.unpack("<H", els.get((0, 0x0800), b"\x01\x01"))[0] != 0x0101:
                    waiting = (cid, command)
                else:
                    self._answer(conn, cid, command, refuse)
                command = b""

    def _answer(self, conn, cid, command, refuse):
        field = struct.unpack("<H", _elements(command)[(0, 0x0100)])[0]
        status = self.refuse_status if refuse else {0x0021: 0xC000, 0x0010: 0xC000}.get(field, 0x0000)
        out, _ = response(cid, command, status)
        conn.sendall(out)
