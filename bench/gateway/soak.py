#!/usr/bin/python3
"""Soak test for `dicomguard gateway` (issue 13): many associations at once, thousands of hostile PDU streams,
and a good client that must never notice, while the gateway's memory is watched.

  upstream  DCMTK `storescp --ignore -aet STORESCP PORT` (plain TCP, TCP_NODELAY=1); with --fork (one process
            per association, the default here) since storescp's default single-process mode serves one
            association at a time and could never hold 500 at once (SOAK_UPSTREAM_SINGLE=1 drops --fork)
  gateway   `dicomguard gateway --listen 127.0.0.1:P --upstream 127.0.0.1:U --json --max-associations 600`
            (free ports in 20000-32000, as tests/integration/peers.py chooses them)

Phases, in order:
  1 warm-up        20 C-ECHO associations one after another; then the first RSS sample
  2 concurrent     500 (SOAK_CONCURRENT) clients each send an A-ASSOCIATE-RQ (Verification 1.2.840.10008.1.1,
                   implicit VR little endian), get the A-ASSOCIATE-AC and hold it until all 500 are held; then each
                   sends a C-ECHO-RQ, checks the C-ECHO-RSP (status 0000, the message id answered), sends
                   A-RELEASE-RQ and expects A-RELEASE-RP. All must succeed. RSS sampled after.
  3 malformed      10,000 (SOAK_MALFORMED) hostile streams, 4 (SOAK_WORKERS) at a time: unknown PDU types,
                   declared lengths far above the bytes sent (then a half-close), truncated A-ASSOCIATE-RQs,
                   item and sub-item lengths that overrun, P-DATA and other PDUs before an association, and after a
                   valid RQ/AC: P-DATA with bad PDV lengths, on a context id not accepted, a command set that does
                   not parse; random bytes. Each case i draws from random.Random(f"{seed}-{i}"), seed printed
                   (SOAK_SEED overrides; --case I replays one case and prints its bytes). A stream passes when the
                   gateway answers A-ABORT (07) or A-ASSOCIATE-RJ (03), or closes (EOF/reset), within 10 s per
                   read; any other answer, or a timeout, fails (bytes written to failures.jsonl in the work dir).
                   The gateway answers a command set without a usable Command Field (absent, or a 1-byte US) with
                   a C-xxx-RSP of status 0124 ("unknown command", its policy) and keeps the association: that
                   fails too, unless SOAK_ACCEPT_REFUSAL=1 (then it counts as "refused 0x0124"). The calling AE
                   title of case i is H<i>, so the gateway's log records can be matched to cases.
                   Meanwhile one good client loops C-ECHO associations (one at a time): every one must succeed.
                   RSS sampled every 1,000 cases.
  4 end            RSS sampled; SIGTERM: the gateway must exit 0 within 40 s; its stdout must be JSON Lines
                   (every line parses); association records counted by "ended", denials by "stage".
RSS is VmRSS of /proc/PID/status; growth end - start above 20 MB (SOAK_RSS_MB) fails (for an ASan build the
figures are printed but not judged: ASan's quarantine keeps up to 256 MB of freed memory by design).

--asan BINARY (or SOAK_ASAN=BINARY) runs the same soak again against an ASan/UBSan build, with
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 (SOAK_ASAN_EXTRA appends options, e.g. quarantine_size_mb=0 to see
the RSS without ASan's quarantine), and fails when the gateway's stderr has a sanitizer report.

Usage: /usr/bin/python3 bench/gateway/soak.py [path/to/dicomguard] [--asan path/to/asan/dicomguard] [--case I]
Exit status: 0 when everything held, 1 otherwise, 2 when the setup is wrong. Standard library only.
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
import peers  # noqa: E402  free_port, wait_listening
from scripted_dicom import _el, _elements, _item  # noqa: E402  item / element builders and parser

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
APP_CONTEXT = "1.2.840.10008.3.1.1.1"
IMPL_UID = "1.2.826.0.1.3680043.10.1427.13.99"
CALLED = "STORESCP"
READ_TIMEOUT = 10.0
A_RELEASE_RQ = bytes([5, 0, 0, 0, 0, 4, 0, 0, 0, 0])


def log(*a):
    print(*a, flush=True)


# ------------------------------------------------------------------------------------------------ PDU builders

def uid(s):
    b = s.encode("ascii")
    return b + b"\0" if len(b) % 2 else b


def ae(s):
    return s.encode("ascii").ljust(16, b" ")[:16]


def pdu(t, body):
    return bytes([t, 0]) + struct.pack(">I", len(body)) + body


def rq_items(contexts=((1, VERIFICATION, (IMPLICIT_LE,)),), max_len=16384):
    """The variable items of an A-ASSOCIATE-RQ (PS3.8 9.3.2.2-9.3.2.3): application context, presentation contexts
    (abstract syntax 0x30, transfer syntaxes 0x40), user information (maximum length 0x51, implementation class UID
    0x52, version name 0x55). Returned as a list of items so cases can cut or corrupt one."""
    items = [_item(0x10, APP_CONTEXT.encode())]
    for cid, abstract, tss in contexts:
        sub = _item(0x30, abstract.encode()) + b"".join(_item(0x40, ts.encode()) for ts in tss)
        items.append(_item(0x20, bytes([cid, 0, 0, 0]) + sub))
    ui = _item(0x51, struct.pack(">I", max_len)) + _item(0x52, IMPL_UID.encode()) + _item(0x55, b"DG_SOAK")
    items.append(_item(0x50, ui))
    return items


def rq_fixed(calling="SOAK"):
    """The fixed part of an A-ASSOCIATE-RQ body: protocol version 1, reserved, called and calling AE, 32 reserved."""
    return b"\0\x01\0\0" + ae(CALLED) + ae(calling) + b"\0" * 32


def associate_rq(calling="SOAK", **kw):
    return pdu(0x01, rq_fixed(calling) + b"".join(rq_items(**kw)))


def echo_command(msg_id, sop=VERIFICATION):
    """C-ECHO-RQ command set, implicit VR little endian (PS3.7 9.3.5): group length, Affected SOP Class UID,
    Command Field 0x0030, Message ID, Command Data Set Type 0x0101 (no data set)."""
    cs = (_el(0, 0x0002, uid(sop)) + _el(0, 0x0100, struct.pack("<H", 0x0030)) +
          _el(0, 0x0110, struct.pack("<H", msg_id)) + _el(0, 0x0800, struct.pack("<H", 0x0101)))
    return _el(0, 0x0000, struct.pack("<I", len(cs))) + cs


def pdv(cid, ctl, data):
    return struct.pack(">I", len(data) + 2) + bytes([cid, ctl]) + data


def p_data(*pdvs):
    return pdu(0x04, b"".join(pdvs))


def echo_rq(msg_id, cid=1):
    return p_data(pdv(cid, 0x03, echo_command(msg_id)))


# ------------------------------------------------------------------------------------------------ PDU reading

class Closed(Exception):
    pass


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(min(65536, n - len(buf)))
        if not chunk:
            raise Closed(len(buf))
        buf += chunk
    return bytes(buf)


def recv_pdu(s):
    head = recv_exact(s, 6)
    n = struct.unpack(">I", head[2:6])[0]
    if n > (4 << 20):
        raise ValueError(f"PDU type {head[0]:#04x} of {n} bytes from the gateway")
    return head + recv_exact(s, n)


def read_echo_rsp(s, msg_id):
    """Reads P-DATA PDUs until the command set's last fragment; returns None when it is a C-ECHO-RSP with status
    0000 answering msg_id, else a description of what came."""
    command = b""
    while True:
        p = recv_pdu(s)
        if p[0] != 0x04:
            return f"PDU type {p[0]:#04x} instead of P-DATA: {p[:32].hex()}"
        i = 6
        while i + 6 <= len(p):
            n = struct.unpack(">I", p[i:i + 4])[0]
            ctl = p[i + 5]
            frag = p[i + 6:i + 4 + n]
            i += 4 + n
            if not ctl & 1:
                return "a data set fragment in the C-ECHO-RSP"
            command += frag
            if ctl & 2:
                els = _elements(command)
                field = struct.unpack("<H", els.get((0, 0x0100), b"\0\0"))[0]
                status = struct.unpack("<H", els.get((0, 0x0900), b"\xff\xff"))[0]
                answered = struct.unpack("<H", els.get((0, 0x0120), b"\0\0"))[0]
                if field != 0x8030 or status != 0 or answered != msg_id:
                    return f"C-ECHO-RSP field {field:#06x} status {status:#06x} answering {answered} (sent {msg_id})"
                return None


# ------------------------------------------------------------------------------------------------ good clients

class Association:
    """One good client association: connect + RQ + AC, then C-ECHO, then release. Raises on any deviation."""

    def __init__(self, port, calling="SOAK", timeout=READ_TIMEOUT):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.sendall(associate_rq(calling))
        ac = recv_pdu(self.s)
        if ac[0] != 0x02:
            raise RuntimeError(f"PDU type {ac[0]:#04x} instead of A-ASSOCIATE-AC: {ac[:16].hex()}")
        # The first presentation context item's result must be 0 (acceptance).
        i, result = 74, None
        while i + 4 <= len(ac):
            t, n = ac[i], struct.unpack(">H", ac[i + 2:i + 4])[0]
            if t == 0x21:
                result = ac[i + 6]
            i += 4 + n
        if result != 0:
            raise RuntimeError(f"presentation context result {result}")

    def echo(self, msg_id=1):
        self.s.sendall(echo_rq(msg_id))
        err = read_echo_rsp(self.s, msg_id)
        if err:
            raise RuntimeError(err)

    def release(self):
        self.s.sendall(A_RELEASE_RQ)
        rp = recv_pdu(self.s)
        if rp[0] != 0x06:
            raise RuntimeError(f"PDU type {rp[0]:#04x} instead of A-RELEASE-RP")
        self.s.close()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def one_echo_association(port, msg_id=1, calling="SOAK"):
    a = None
    try:
        a = Association(port, calling)
        a.echo(msg_id)
        a.release()
    finally:
        if a:
            a.close()


def concurrent_phase(port, n, gw_pid):
    """n clients associate and hold; when every one has its AC (or failed), all echo and release."""
    held = [0]
    reported = [0]
    lock = threading.Lock()
    go = threading.Event()
    errors = []
    ok = [0]

    def client(k):
        a = None
        try:
            try:
                a = Association(port, calling=f"SOAK{k:04d}", timeout=60)
                with lock:
                    held[0] += 1
            finally:
                with lock:
                    reported[0] += 1
            if not go.wait(180):
                raise RuntimeError("never told to go")
            a.s.settimeout(60)
            a.echo(k + 1)
            a.release()
            with lock:
                ok[0] += 1
        except Exception as e:  # noqa: BLE001 - every failure is counted and shown
            with lock:
                errors.append(f"client {k}: {type(e).__name__}: {e}")
        finally:
            if a:
                a.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(n)]
    for t in threads:
        t.start()
    while time.monotonic() - t0 < 180:
        with lock:
            if reported[0] >= n:
                break
        time.sleep(0.05)
    t_held = time.monotonic() - t0
    fds = len(os.listdir(f"/proc/{gw_pid}/fd")) if os.path.exists(f"/proc/{gw_pid}/fd") else -1
    log(f"  {held[0]}/{n} associations held at once after {t_held:.1f} s (gateway has {fds} open fds)")
    go.set()
    for t in threads:
        t.join(240)
    return ok[0], held[0], errors, time.monotonic() - t0


class GoodLoop(threading.Thread):
    """One good client, one association at a time, until stopped."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.ok, self.failed, self.errors, self.slowest = port, 0, 0, [], 0.0
        self.stop = threading.Event()

    def run(self):
        k = 0
        while not self.stop.is_set():
            k += 1
            t = time.monotonic()
            try:
                one_echo_association(self.port, msg_id=k % 65535 + 1, calling="GOODLOOP")
                self.ok += 1
            except Exception as e:  # noqa: BLE001
                self.failed += 1
                self.errors.append(f"association {k}: {type(e).__name__}: {e}")
            self.slowest = max(self.slowest, time.monotonic() - t)
            time.sleep(0.01)


# ------------------------------------------------------------------------------------------------ hostile cases
# A case is (kind, steps, half_close): steps are byte strings sent in order; a step None means "read one PDU and
# require an A-ASSOCIATE-AC" (the valid-association prefix). half_close: shut our write side after the last step
# (the stream ended mid-PDU: the gateway only learns that it will never be completed from the EOF).

def rand_bytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def case_unknown_type(rng):
    t = rng.choice([0x00] + list(range(0x08, 0x100)))
    body = rand_bytes(rng, rng.randrange(0, 64))
    return [pdu(t, body)], False


def case_huge_length(rng):
    t = rng.randrange(1, 8)
    sent = rand_bytes(rng, rng.randrange(0, 200))
    if t == 1 and rng.random() < 0.5:
        sent = associate_rq()[6:][:rng.randrange(0, 120)]
    declared = rng.choice([rng.randrange(len(sent) + 1000, 1 << 20),            # within --max-pdu, never completed
                           rng.randrange(1 << 20, 1 << 32)])                     # above --max-pdu
    return [bytes([t, 0]) + struct.pack(">I", declared) + sent], True


def _boundaries(items):
    out, off = set(), 0
    for it in items:
        off += len(it)
        out.add(off)
    return out


def case_truncated_rq(rng):
    """A-ASSOCIATE-RQ cut inside its fixed part or inside an item; either the PDU length says so (consistent, the
    items truncated) or it still declares the whole (then a half-close)."""
    fixed, items = rq_fixed(), rq_items()
    body = fixed + b"".join(items)
    bounds = {len(fixed) + b for b in _boundaries(items)} | {len(fixed)}
    cut = rng.choice([c for c in range(1, len(body)) if c not in bounds])
    if rng.random() < 0.6:
        return [pdu(0x01, body[:cut])], False
    return [bytes([1, 0]) + struct.pack(">I", len(body)) + body[:cut]], True


def case_item_overrun(rng):
    """An item (or a sub-item of a presentation context or of the user information) declares more bytes than its
    parent holds; the PDU length is consistent with the bytes sent."""
    items = rq_items(contexts=[(1, VERIFICATION, (IMPLICIT_LE,)), (3, VERIFICATION, (IMPLICIT_LE, "1.2.840.10008.1.2.1"))])
    k = rng.randrange(len(items))
    it = bytearray(items[k])
    if rng.random() < 0.5 or it[0] == 0x10:
        remaining = sum(len(x) for x in items[k:]) - 4
        new = min(0xFFFF, remaining + rng.choice([1, 2, 7, rng.randrange(1, 0x10000)]))
        it[2:4] = struct.pack(">H", new)
    else:
        off = 8 if it[0] == 0x20 else 4  # the sub-items: after cid/reserved (0x20) or at once (0x50)
        subs = []
        while off + 4 <= len(it):
            subs.append(off)
            off += 4 + struct.unpack(">H", it[off + 2:off + 4])[0]
        j = rng.randrange(len(subs))
        remaining = len(it) - subs[j] - 4
        it[subs[j] + 2:subs[j] + 4] = struct.pack(">H", min(0xFFFF, remaining + rng.randrange(1, 300)))
    items[k] = bytes(it)
    return [pdu(0x01, rq_fixed() + b"".join(items))], False


def case_before_association(rng):
    """A PDU other than A-ASSOCIATE-RQ first: P-DATA (a C-ECHO), A-RELEASE-RQ/RP, AC, RJ, A-ABORT."""
    which = rng.choice(["pdata", "pdata", "pdata", "release-rq", "release-rp", "ac", "rj", "abort"])
    first = {
        "pdata": echo_rq(1),
        "release-rq": A_RELEASE_RQ,
        "release-rp": bytes([6, 0, 0, 0, 0, 4, 0, 0, 0, 0]),
        "ac": pdu(0x02, rq_fixed() + b"".join(rq_items())),
        "rj": bytes([3, 0, 0, 0, 0, 4, 0, 1, 1, 1]),
        "abort": bytes([7, 0, 0, 0, 0, 4, 0, 0, 0, 0]),
    }[which]
    return [first], False


def case_bad_pdv(rng):
    """After a valid association: a P-DATA whose PDV length is 0, 1, overruns the PDU, or leaves a tail."""
    cmd = echo_command(1)
    kind = rng.randrange(5)
    if kind == 0:
        body = struct.pack(">I", 0) + cmd
    elif kind == 1:
        body = struct.pack(">I", 1) + bytes([1]) + cmd
    elif kind == 2:
        body = struct.pack(">I", len(cmd) + 2 + rng.randrange(1, 100000)) + bytes([1, 3]) + cmd
    elif kind == 3:
        body = pdv(1, 0x03, cmd) + rand_bytes(rng, rng.randrange(1, 6))  # a tail too short for a PDV header
    else:
        body = pdv(1, 0x01, cmd[:10]) + struct.pack(">I", 0xFFFFFFF0) + bytes([1, 3]) + cmd[10:]
    return [associate_rq(), None, pdu(0x04, body)], False


def case_wrong_context(rng):
    """After a valid association (context 1 only): a C-ECHO on a context id that was not proposed or accepted."""
    cid = rng.choice([0, 2, 3, 5, 127, 255, rng.randrange(2, 256)])
    return [associate_rq(), None, echo_rq(1, cid=cid)], False


def case_bad_command(rng):
    """After a valid association: a command set that does not parse."""
    good = echo_command(1)
    kind = rng.randrange(6)
    if kind == 0:
        cs = good[:rng.randrange(1, len(good) - 1)]                                # cut inside an element
    elif kind == 1:
        cs = bytearray(good)
        cs[16:20] = struct.pack("<I", rng.randrange(len(good), 0xFFFFFFFF))         # an element length overruns
        cs = bytes(cs)
    elif kind == 2:
        cs = _el(0, 0x0002, uid(VERIFICATION)) + _el(0, 0x0110, b"\x01\x00")       # no Command Field
    elif kind == 3:
        cs = rand_bytes(rng, rng.randrange(1, 200))
    elif kind == 4:
        cs = b"\x00\x00\x00\x00UL\x04\x00" + struct.pack("<I", 999)               # explicit VR bytes, wrong length
    else:
        cs = _el(0, 0x0100, b"\x30")                                              # a US of 1 byte
    return [associate_rq(), None, p_data(pdv(1, 0x03, cs))], False


def case_random(rng):
    return [rand_bytes(rng, rng.randrange(1, 4097))], True


def case_valid_then_random(rng):
    return [associate_rq(), None, rand_bytes(rng, rng.randrange(1, 2049))], True


KINDS = [
    ("unknown-type", case_unknown_type, 12),
    ("huge-length", case_huge_length, 12),
    ("truncated-rq", case_truncated_rq, 12),
    ("item-overrun", case_item_overrun, 12),
    ("before-association", case_before_association, 10),
    ("bad-pdv", case_bad_pdv, 10),
    ("wrong-context", case_wrong_context, 8),
    ("bad-command", case_bad_command, 10),
    ("random", case_random, 8),
    ("valid-then-random", case_valid_then_random, 6),
]


def make_case(seed, i):
    rng = random.Random(f"{seed}-{i}")
    names, fns, weights = zip(*KINDS)
    k = rng.choices(range(len(KINDS)), weights=weights)[0]
    steps, half = fns[k](rng)
    # The calling AE title names the case (H<i>), so that the gateway's log records can be matched to cases.
    tag = ae(f"H{i}")
    steps = [None if st is None else st.replace(ae("SOAK"), tag) for st in steps]
    return names[k], steps, half


ACCEPT_REFUSAL = os.environ.get("SOAK_ACCEPT_REFUSAL") == "1"


def refusal_status(p):
    """The status of a one-PDV command response with a failure status (as the gateway's policy answers a command
    it refuses), as '0xXXXX'; None for anything else."""
    try:
        n = struct.unpack(">I", p[6:10])[0]
        if p[11] & 3 != 3 or 10 + n - 2 > len(p):
            return None
        els = _elements(p[12:10 + n])
        field = struct.unpack("<H", els[(0, 0x0100)])[0]
        status = struct.unpack("<H", els[(0, 0x0900)])[0]
    except (KeyError, struct.error, IndexError):
        return None
    return f"{status:#06x}" if field & 0x8000 and status != 0 else None


def run_case(port, steps, half_close):
    """Returns (ok, outcome). outcome: 'abort', 'reject', 'closed', or a failure description."""
    s = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT)
    try:
        for st in steps:
            if st is None:
                try:
                    p = recv_pdu(s)
                except Closed:
                    return False, "closed before the A-ASSOCIATE-AC of a valid RQ"
                if p[0] != 0x02:
                    return False, f"valid RQ answered with PDU type {p[0]:#04x} ({p[:16].hex()})"
                continue
            try:
                s.sendall(st)
            except (BrokenPipeError, ConnectionResetError):
                return True, "closed"  # the gateway already gave up on us: a close
        if half_close:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:  # ENOTCONN: the gateway reset the connection already
                return True, "closed"
        outcome = None
        while True:
            try:
                p = recv_pdu(s)
            except Closed:
                return True, outcome or "closed"
            except ConnectionResetError:
                return True, outcome or "closed"
            if p[0] == 0x07:
                outcome = outcome or "abort"
            elif p[0] == 0x03:
                outcome = outcome or "reject"
            elif p[0] == 0x04 and ACCEPT_REFUSAL and refusal_status(p):
                return True, f"refused {refusal_status(p)}"
            elif p[0] == 0x04 and refusal_status(p):
                return False, (f"answered a DIMSE response, status {refusal_status(p)}, instead of A-ABORT "
                               f"(association kept): {p.hex()}")
            else:
                return False, f"answered PDU type {p[0]:#04x} ({p[:24].hex()})"
    except socket.timeout:
        return False, "timeout: no answer and no close within 10 s"
    except ValueError as e:
        return False, str(e)
    finally:
        s.close()


def malformed_phase(port, seed, n, workers, gw_pid, rss_samples, fail_path):
    lock = threading.Lock()
    nxt = [0]
    done = [0]
    outcomes, by_kind, failures = {}, {}, []
    sample_at = set(range(1000, n + 1, 1000))

    def worker():
        while True:
            with lock:
                i = nxt[0]
                if i >= n:
                    return
                nxt[0] += 1
            kind, steps, half = make_case(seed, i)
            try:
                ok, outcome = run_case(port, steps, half)
            except OSError as e:
                ok, outcome = False, f"{type(e).__name__}: {e}"
            with lock:
                done[0] += 1
                key = outcome if ok else "FAIL"
                outcomes[key] = outcomes.get(key, 0) + 1
                by_kind.setdefault(kind, {}).setdefault(key, 0)
                by_kind[kind][key] += 1
                if not ok:
                    rec = {"case": i, "kind": kind, "outcome": outcome, "half_close": half,
                           "steps": [None if st is None else st.hex() for st in steps]}
                    failures.append(rec)
                    with open(fail_path, "a") as f:
                        f.write(json.dumps(rec) + "\n")
                if done[0] in sample_at:
                    sample_at.discard(done[0])
                    rss_samples.append((f"after {done[0]} malformed", rss_kb(gw_pid)))
                    log(f"  {done[0]:>6} malformed: RSS {rss_kb(gw_pid) / 1024:.1f} MB, failures so far {len(failures)}")

    ts = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return outcomes, by_kind, failures


# ------------------------------------------------------------------------------------------------ processes

def rss_kb(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def start_storescp(work):
    port = peers.free_port()
    fork = [] if os.environ.get("SOAK_UPSTREAM_SINGLE") == "1" else ["--fork"]
    argv = ["storescp", *fork, "--ignore", "-aet", CALLED, str(port)]
    env = dict(os.environ, TCP_NODELAY="1")
    logf = open(os.path.join(work, "storescp.log"), "wb")
    proc = subprocess.Popen(argv, cwd=work, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env=env)
    peers.wait_listening(port, proc, what="storescp")
    return proc, port, argv


def stop_group(proc):
    if proc and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def soak(binary, label, asan, seed, args):
    work = tempfile.mkdtemp(prefix=f"dg-soak-{label}-")
    log(f"\n=== soak [{label}] {binary}  (work dir {work})")
    failures_all = []
    t_start = time.monotonic()
    scp, scp_port, scp_argv = start_storescp(work)
    gw_port = peers.free_port()
    gw_argv = [binary, "gateway", "--listen", f"127.0.0.1:{gw_port}", "--upstream", f"127.0.0.1:{scp_port}",
               "--json", "--max-associations", "600"]
    env = dict(os.environ)
    if asan:
        env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1" + (
            ":" + os.environ["SOAK_ASAN_EXTRA"] if os.environ.get("SOAK_ASAN_EXTRA") else "")
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    out_path, err_path = os.path.join(work, "gateway.jsonl"), os.path.join(work, "gateway.stderr")
    out, err = open(out_path, "wb"), open(err_path, "wb")
    log("  upstream: TCP_NODELAY=1 " + " ".join(scp_argv))
    log("  gateway:  " + " ".join(gw_argv) + (f" (ASAN_OPTIONS={env['ASAN_OPTIONS']})" if asan else ""))
    gw = subprocess.Popen(gw_argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
    rss = []
    loop = None
    try:
        peers.wait_listening(gw_port, gw, what="gateway")
        # 1 warm-up
        for k in range(20):
            one_echo_association(gw_port, msg_id=k + 1, calling="WARMUP")
        time.sleep(0.5)
        rss.append(("start (after warm-up)", rss_kb(gw.pid)))
        log(f"  warm-up: 20 C-ECHO associations ok; RSS {rss[-1][1] / 1024:.1f} MB")

        # 2 concurrent
        n = args.concurrent
        ok, held, errors, secs = concurrent_phase(gw_port, n, gw.pid)
        time.sleep(1.0)
        rss.append((f"after the {n}", rss_kb(gw.pid)))
        log(f"  concurrent: {ok}/{n} echoed and released ({held} held at once) in {secs:.1f} s; "
            f"RSS {rss[-1][1] / 1024:.1f} MB")
        for e in errors[:10]:
            log("    " + e)
        if ok != n or held != n:
            failures_all.append(f"concurrent: {ok}/{n} succeeded, {held}/{n} held at once")

        # 3 malformed + the good loop
        loop = GoodLoop(gw_port)
        loop.start()
        t0 = time.monotonic()
        fail_path = os.path.join(work, "failures.jsonl")
        outcomes, by_kind, failures = malformed_phase(gw_port, seed, args.malformed, args.workers, gw.pid, rss,
                                                      fail_path)
        t_mal = time.monotonic() - t0
        loop.stop.set()
        loop.join(30)
        log(f"  malformed: {args.malformed} streams in {t_mal:.1f} s, {args.workers} at a time; outcomes "
            + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
        for kind, d in sorted(by_kind.items()):
            log(f"    {kind:<20} " + ", ".join(f"{k} {v}" for k, v in sorted(d.items())))
        if failures:
            failures_all.append(f"malformed: {len(failures)} streams failed (bytes in {fail_path})")
            for f in failures[:8]:
                log(f"    FAIL case {f['case']} ({f['kind']}): {f['outcome']}; sent "
                    + " | ".join("<read AC>" if s is None else s[:160] for s in f["steps"]))
        log(f"  good client during it: {loop.ok} C-ECHO associations ok, {loop.failed} failed, "
            f"slowest {loop.slowest * 1000:.0f} ms")
        for e in loop.errors[:10]:
            log("    " + e)
        if loop.failed or loop.ok == 0:
            failures_all.append(f"good client: {loop.failed} of {loop.ok + loop.failed} failed")

        # 4 end
        time.sleep(1.0)
        rss.append(("end", rss_kb(gw.pid)))
        hwm = rss_kb(gw.pid, "VmHWM")
    except Exception as e:  # noqa: BLE001
        failures_all.append(f"aborted: {type(e).__name__}: {e}")
        log(f"  ABORTED: {type(e).__name__}: {e}")
        hwm = rss_kb(gw.pid, "VmHWM")
    finally:
        if loop:
            loop.stop.set()

    log("  RSS (VmRSS): " + "; ".join(f"{k} {v / 1024:.1f} MB" for k, v in rss) + f"; peak (VmHWM) {hwm / 1024:.1f} MB")
    if len(rss) >= 2 and rss[0][1] > 0 and rss[-1][1] > 0:
        growth = (rss[-1][1] - rss[0][1]) / 1024
        after = (rss[-1][1] - rss[1][1]) / 1024 if len(rss) > 2 else 0.0
        verdict = ("informational (ASan)" if asan else
                   ("FAIL" if growth > args.rss_mb else "ok"))
        log(f"  RSS growth start -> end: {growth:+.1f} MB (after the {args.concurrent} -> end: {after:+.1f} MB); "
            f"limit {args.rss_mb} MB: {verdict}")
        if verdict == "FAIL":
            failures_all.append(f"RSS grew {growth:.1f} MB")
    elif gw.poll() is None:
        failures_all.append("RSS not sampled")

    # SIGTERM
    crashed = gw.poll()
    if crashed is not None:
        failures_all.append(f"the gateway exited by itself with {crashed} during the soak")
        log(f"  the gateway exited by itself with {crashed}")
    else:
        t = time.monotonic()
        gw.send_signal(signal.SIGTERM)
        try:
            rc = gw.wait(40)
            log(f"  SIGTERM: exited {rc} after {time.monotonic() - t:.1f} s")
            if rc != 0:
                failures_all.append(f"exit status {rc} after SIGTERM")
        except subprocess.TimeoutExpired:
            failures_all.append("did not exit within 40 s of SIGTERM")
            log("  SIGTERM: still running after 40 s; killed")
            gw.kill()
            gw.wait()
    out.close()
    err.close()
    stop_group(scp)

    # The log
    types, ended, stages, bad = {}, {}, {}, []
    with open(out_path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                o = json.loads(raw.decode("utf-8"))
                t = o["type"]
            except (ValueError, KeyError, TypeError) as e:
                bad.append(f"line {n}: {e}: {raw[:200]!r}")
                continue
            types[t] = types.get(t, 0) + 1
            if t == "association":
                ended[o.get("ended")] = ended.get(o.get("ended"), 0) + 1
            elif t == "denial":
                stages[o.get("stage")] = stages.get(o.get("stage"), 0) + 1
    log(f"  JSON log: {sum(types.values())} records parse ({len(bad)} lines do not): "
        + ", ".join(f"{k} {v}" for k, v in sorted(types.items())))
    log("    associations by ended: " + ", ".join(f"{k} {v}" for k, v in sorted(ended.items(), key=str)))
    log("    denials by stage:      " + ", ".join(f"{k} {v}" for k, v in sorted(stages.items(), key=str)))
    for b in bad[:5]:
        log("    " + b)
    if bad:
        failures_all.append(f"{len(bad)} log lines are not JSON")
    with open(err_path, "rb") as f:
        stderr = f.read().decode("utf-8", "replace")
    if asan:
        reports = [ln for ln in stderr.splitlines()
                   if "AddressSanitizer" in ln or "LeakSanitizer" in ln or "runtime error" in ln or "SUMMARY:" in ln]
        log(f"  ASan/UBSan stderr: {len(stderr)} bytes" + (", no sanitizer report" if not reports else ":"))
        for ln in reports[:20]:
            log("    " + ln)
        if reports:
            failures_all.append("sanitizer report on stderr (gateway.stderr in the work dir)")
    if stderr.strip() and not asan:
        log(f"  gateway stderr ({len(stderr)} bytes): {stderr[:500]}")
    log(f"  [{label}] total {time.monotonic() - t_start:.0f} s: " + ("PASS" if not failures_all else "FAIL"))
    for f in failures_all:
        log("    FAIL: " + f)
    return failures_all


def replay(binary, seed, i):
    kind, steps, half = make_case(seed, i)
    log(f"case {i} of seed {seed}: {kind}, half-close {half}")
    for st in steps:
        log("  <read A-ASSOCIATE-AC>" if st is None else "  send " + st.hex())
    work = tempfile.mkdtemp(prefix="dg-soak-case-")
    scp, scp_port, _ = start_storescp(work)
    gw_port = peers.free_port()
    gw = subprocess.Popen([binary, "gateway", "--listen", f"127.0.0.1:{gw_port}", "--upstream",
                           f"127.0.0.1:{scp_port}", "--json"], stdout=open(os.path.join(work, "gateway.jsonl"), "wb"),
                          stderr=subprocess.STDOUT)
    try:
        peers.wait_listening(gw_port, gw, what="gateway")
        ok, outcome = run_case(gw_port, steps, half)
        log(f"  -> {'ok' if ok else 'FAIL'}: {outcome}")
        time.sleep(0.3)
    finally:
        gw.send_signal(signal.SIGTERM)
        gw.wait(40)
        stop_group(scp)
    log(open(os.path.join(work, "gateway.jsonl")).read())
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", nargs="?", default=os.environ.get("DICOMGUARD", "build/dicomguard"))
    ap.add_argument("--asan", default=os.environ.get("SOAK_ASAN"), help="an ASan build of dicomguard: soak it too")
    ap.add_argument("--asan-only", action="store_true", help="soak the --asan binary only")
    ap.add_argument("--case", type=int, help="replay one hostile case of the seed and print its bytes")
    ap.add_argument("--concurrent", type=int, default=int(os.environ.get("SOAK_CONCURRENT", 500)))
    ap.add_argument("--malformed", type=int, default=int(os.environ.get("SOAK_MALFORMED", 10000)))
    ap.add_argument("--workers", type=int, default=int(os.environ.get("SOAK_WORKERS", 4)))
    ap.add_argument("--rss-mb", type=float, default=float(os.environ.get("SOAK_RSS_MB", 20)))
    args = ap.parse_args()
    seed = int(os.environ.get("SOAK_SEED", "1313"))
    if shutil.which("storescp") is None:
        log("storescp (DCMTK) not found: scripts/setup-debian.sh installs it")
        return 2
    bins = [] if args.asan_only else [(args.binary, "release", False)]
    if args.asan:
        bins.append((args.asan, "asan", True))
    for b, _, _ in bins:
        if not os.access(b, os.X_OK):
            log(f"{b}: not an executable")
            return 2
        h = subprocess.run([b, "gateway", "--help"], capture_output=True, text=True)
        if "--upstream" not in h.stdout:
            log(f"{b}: has no gateway command")
            return 2
    if args.case is not None:
        return replay(bins[0][0], seed, args.case)
    log(f"soak seed {seed} (SOAK_SEED overrides); {args.concurrent} concurrent, {args.malformed} malformed, "
        f"{args.workers} at a time")
    t = time.monotonic()
    results = [(label, soak(b, label, asan, seed, args)) for b, label, asan in bins]
    log(f"\nsummary ({time.monotonic() - t:.0f} s, seed {seed}):")
    for label, fails in results:
        log(f"  {label}: " + ("PASS" if not fails else "FAIL: " + "; ".join(fails)))
    return 0 if all(not f for _, f in results) else 1


if __name__ == "__main__":
    sys.exit(main())
