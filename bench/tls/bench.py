#!/usr/bin/env python3
"""TLS benchmark driver: dicomguard tls against sslscan and testssl.sh on the same loopback test servers.

Started by bench/tls/run.sh (which also sweeps up anything left behind). Standard library only.

For every endpoint (an `openssl s_server` or `storescp +tls` configuration from tests/integration/tls_peers.py,
listening on 127.0.0.1) a counting TCP relay listens on another 127.0.0.1 port and forwards to the server; every
tool is pointed at the relay, so the relay's accept count for one tool run is the number of TCP connections
(handshake attempts) that tool made. Each tool runs once per endpoint, one after another:

    dicomguard tls 127.0.0.1:RELAY --json
    sslscan --no-colour 127.0.0.1:RELAY
    testssl --quiet --color 0 --warnings off --openssl /usr/bin/openssl --nodns none 127.0.0.1:RELAY

Raw outputs, server logs and results.json go under OUT. Only 127.0.0.1 is ever contacted.

Usage: bench.py DICOMGUARD OUT
Environment: TLS_BENCH_ENDPOINTS (names, comma or space separated; default all), TESTSSL (0 skips testssl.sh),
             TLS_BENCH_TIMEOUT (seconds per tool run, default 300), TLS_BENCH_PIDFILE (process groups we started,
             for run.sh's trap).
"""

import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
import tls_peers  # noqa: E402

HOST = "127.0.0.1"

# name -> function(root, pki) returning a (not yet started) peers.Server
ENDPOINTS = {
    "b12": tls_peers.b12_server,
    "b13": tls_peers.b13_server,
    "rsa1024": tls_peers.rsa1024_server,
    "expired": tls_peers.expired_server,
    "sha1": tls_peers.sha1_server,
    "mtls": tls_peers.mtls_server,
    "anyclient": tls_peers.anyclient_server,
    "tls10": tls_peers.tls10_server,
}
for _flag in tls_peers.STORESCP_PROFILES:  # +py +px +pz +pa +pn
    _name = "storescp" + _flag.replace("+", "-")
    ENDPOINTS[_name] = (lambda n, f: lambda root, pki: tls_peers.storescp_tls(root, n, f, pki))(_name, _flag)

# testssl.sh: no prompts (--warnings off), the system openssl, no DNS at all (--nodns none; the target is an
# address, so nothing needs resolving). NXCONNECT: testssl probes its openssl's features with
# `s_client -connect invalid.` by default, and resolving "invalid." sends DNS queries to the configured
# resolver; 127.0.0.1:0 keeps those probes on loopback (the variable exists for WSL, same purpose).
TESTSSL_ARGS = ["--quiet", "--color", "0", "--warnings", "off", "--openssl", "/usr/bin/openssl", "--nodns", "none"]
TESTSSL_ENV = {"NXCONNECT": "127.0.0.1:0", "TERM": "dumb"}

# Words that would show a DICOM profile verdict in the other tools' output (none is expected).
DICOM_VERDICT = re.compile(r"DICOM|PS3\.15|\bB\.1[23]\b")


class Interrupted(Exception):
    pass


def _on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


# ---------------------------------------------------------------------------------------------------------------
# process groups we started (so run.sh can sweep them up if this process dies without cleaning up)
# ---------------------------------------------------------------------------------------------------------------

class PidFile:
    def __init__(self, path):
        self.path, self.groups, self.lock = path, {}, threading.Lock()

    def _write(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            for pgid, what in self.groups.items():
                f.write(f"{pgid} {what}\n")
        os.replace(tmp, self.path)

    def add(self, pgid, what):
        with self.lock:
            self.groups[pgid] = what
            self._write()

    def remove(self, pgid):
        with self.lock:
            self.groups.pop(pgid, None)
            self._write()


def kill_group(proc, grace=5.0):
    """SIGTERM, then SIGKILL, to the process group of proc (started with start_new_session=True)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:  # children may outlive the leader (testssl's openssl and subshells)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


# ---------------------------------------------------------------------------------------------------------------
# counting relay
# ---------------------------------------------------------------------------------------------------------------

class _Hub:
    """One thread with an epoll selector that serves every relay: no thread per connection, no lock hand-offs
    on the data path (an earlier thread-per-direction relay added 0.1-0.3 s to a 60-connection dicomguard run)."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, None)
        self.calls, self.calls_lock = [], threading.Lock()
        self.thread = threading.Thread(target=self._loop, name="relay-hub", daemon=True)
        self.thread.start()

    def call(self, fn):
        """Runs fn() in the hub thread and waits for it."""
        done = threading.Event()
        box = []

        def run():
            try:
                box.append(fn())
            finally:
                done.set()
        with self.calls_lock:
            self.calls.append(run)
        self.wake_w.send(b"x")
        done.wait(10)
        return box[0] if box else None

    def _loop(self):
        while True:
            for key, mask in self.sel.select(timeout=1.0):
                if key.data is None:
                    try:
                        self.wake_r.recv(4096)
                    except BlockingIOError:
                        pass
                    with self.calls_lock:
                        calls, self.calls = self.calls, []
                    for fn in calls:
                        fn()
                else:
                    try:
                        key.data(key.fileobj, mask)
                    except Exception as e:  # never let one connection stop the hub
                        print(f"bench/tls: relay error: {e!r}", file=sys.stderr, flush=True)

    def set_mask(self, sock, mask, handler):
        try:
            if mask:
                try:
                    self.sel.modify(sock, mask, handler)
                except KeyError:
                    self.sel.register(sock, mask, handler)
            else:
                self.sel.unregister(sock)
        except (KeyError, ValueError, OSError):
            pass


_hub = None


def hub():
    global _hub
    if _hub is None:
        _hub = _Hub()
    return _hub


class Relay:
    """Listens on 127.0.0.1:ephemeral and forwards each accepted connection to 127.0.0.1:upstream.

    Bytes are passed on as soon as recv returns them (non-blocking sockets, TCP_NODELAY on both, nothing held
    back); EOF from one side becomes shutdown(SHUT_WR) towards the other once its pending bytes are written (a
    half-close stays a half-close); both sockets are closed when both directions are done; an error (e.g. a
    reset) on one side resets the other (SO_LINGER 0), so a tool sees what it would see directly. Counters are
    read from the main thread (plain ints, written only by the hub thread).
    """

    def __init__(self, name, upstream):
        self.name, self.upstream = name, upstream
        self.accepted = self.active = self.peak = 0
        self.bytes_up = self.bytes_down = 0
        self.upstream_failures = 0
        self.pipes = set()
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind((HOST, 0))
        self.ls.listen(128)
        self.ls.setblocking(False)
        self.port = self.ls.getsockname()[1]
        self.hub = hub()
        self.hub.call(lambda: self.hub.set_mask(self.ls, selectors.EVENT_READ, self._on_accept))

    @property
    def target(self):
        return f"{HOST}:{self.port}"

    def snapshot(self):
        return self.hub.call(lambda: dict(accepted=self.accepted, bytes_up=self.bytes_up,
                                          bytes_down=self.bytes_down, upstream_failures=self.upstream_failures))

    def reset_peak(self):
        def f():
            self.peak = self.active
        self.hub.call(f)

    def wait_idle(self, seconds=3.0):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.active == 0:
                return True
            time.sleep(0.005)
        return False

    def _on_accept(self, _sock, _mask):
        while True:
            try:
                c, _ = self.ls.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self.accepted += 1
            try:
                # loopback: the kernel completes the TCP handshake at once (the server's listen backlog)
                u = socket.create_connection((HOST, self.upstream), timeout=5)
            except OSError:
                self.upstream_failures += 1
                _reset(c)
                continue
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.pipes.add(_Pipe(self, c, u))

    def stop(self):
        def f():
            self.hub.set_mask(self.ls, 0, None)
            self.ls.close()
            for p in list(self.pipes):
                p.abort()
        self.hub.call(f)


class _Side:
    __slots__ = ("sock", "out", "eof", "shut_after", "shut")

    def __init__(self, sock):
        self.sock, self.out, self.eof, self.shut_after, self.shut = sock, bytearray(), False, False, False


class _Pipe:
    MAX_PENDING = 1 << 20

    def __init__(self, relay, c, u):
        self.relay, self.done = relay, False
        for s in (c, u):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.c, self.u = _Side(c), _Side(u)
        self._update()

    def _other(self, side):
        return self.u if side is self.c else self.c

    def _handler(self, side):
        return lambda sock, mask: self._event(side, mask)

    def _update(self):
        if self.done:
            return
        for side in (self.c, self.u):
            other = self._other(side)
            mask = 0
            if not side.eof and len(other.out) < self.MAX_PENDING:
                mask |= selectors.EVENT_READ
            if side.out:
                mask |= selectors.EVENT_WRITE
            self.relay.hub.set_mask(side.sock, mask, self._handler(side))
        if self.c.eof and self.u.eof and not self.c.out and not self.u.out:
            self._finish(reset=False)

    def _event(self, side, mask):
        if self.done:
            return
        if mask & selectors.EVENT_WRITE:
            if not self._flush(side):
                return
        if mask & selectors.EVENT_READ:
            other = self._other(side)
            try:
                data = side.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                self.abort()
                return
            if data == b"":
                side.eof = True
                other.shut_after = True
                if not other.out:
                    self._shutdown(other)
            elif data:
                if side is self.c:
                    self.relay.bytes_up += len(data)
                else:
                    self.relay.bytes_down += len(data)
                if other.out:
                    other.out += data
                else:
                    try:
                        n = other.sock.send(data)
                    except (BlockingIOError, InterruptedError):
                        n = 0
                    except OSError:
                        self.abort()
                        return
                    if n < len(data):
                        other.out += data[n:]
        self._update()

    def _flush(self, side):
        try:
            n = side.sock.send(side.out)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            self.abort()
            return False
        del side.out[:n]
        if not side.out and side.shut_after:
            self._shutdown(side)
        return True

    def _shutdown(self, side):
        if not side.shut:
            side.shut = True
            try:
                side.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def abort(self):
        self._finish(reset=True)

    def _finish(self, reset):
        if self.done:
            return
        self.done = True
        for side in (self.c, self.u):
            self.relay.hub.set_mask(side.sock, 0, None)
            if reset:
                _reset(side.sock)
            else:
                try:
                    side.sock.close()
                except OSError:
                    pass
        self.relay.pipes.discard(self)
        self.relay.active -= 1


def _reset(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


# ---------------------------------------------------------------------------------------------------------------
# tool runs
# ---------------------------------------------------------------------------------------------------------------

def run_tool(argv, out_path, err_path, cwd, timeout, pidfile, env=None, relay=None):
    """Runs argv once (stdout -> out_path, stderr -> err_path), in its own process group. -> dict."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    if relay:
        relay.wait_idle()
        relay.reset_peak()
        before = relay.snapshot()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd, env=full_env,
                             start_new_session=True)
        pidfile.add(p.pid, os.path.basename(argv[0]))
        timed_out = False
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            seconds = time.monotonic() - t0
            kill_group(p)  # the leader has exited (or timed out); nothing of the group may linger
            pidfile.remove(p.pid)
    res = dict(argv=argv, seconds=round(seconds, 6), rc=p.returncode, timed_out=timed_out,
               stdout=os.path.relpath(out_path, cwd), stderr=os.path.relpath(err_path, cwd))
    if relay:
        idle = relay.wait_idle()
        after = relay.snapshot()
        res.update(connections=after["accepted"] - before["accepted"],
                   bytes_to_server=after["bytes_up"] - before["bytes_up"],
                   bytes_to_client=after["bytes_down"] - before["bytes_down"],
                   upstream_failures=after["upstream_failures"] - before["upstream_failures"],
                   peak_concurrent=relay.peak, relay_idle_after=idle)
    return res


def parse_dicomguard(path):
    tls, summary = [], None
    with open(path, errors="replace") as f:
        for line in f:
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if o.get("type") == "tls":
                tls.append(o)
            elif o.get("type") == "summary":
                summary = o
    return tls, summary


def mentions_dicom_verdict(path):
    with open(path, errors="replace") as f:
        return bool(DICOM_VERDICT.search(f.read()))


def testssl_targets(path):
    """The (target, address) pairs of testssl's "-->> 127.0.0.1:PORT (127.0.0.1) <<--" lines (sanity check)."""
    with open(path, errors="replace") as f:
        return sorted(set(re.findall(r"-->> (\S+) \(([^)]*)\) <<--", f.read())))


# ---------------------------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------------------------

def fmt_s(x):
    return "-" if x is None else (f"{x:.3f}" if x < 10 else f"{x:.1f}")


def fmt_n(x):
    return "-" if x is None else str(x)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def fmt_r(x):
    if x is None:
        return "-"
    return f"{x:.4f}" if x < 0.01 else f"{x:.3f}" if x < 10 else f"{x:.1f}"


def report(rows, all_run, testssl_on, bin_path):
    lines = []
    p = lines.append
    p("DICOM-TLS assessment benchmark: one run of each tool per endpoint, through a counting relay on 127.0.0.1")
    p(f"dicomguard: {bin_path}; sslscan 2.0.7 (--no-colour); testssl.sh 3.0.8 "
      + ("(" + " ".join(TESTSSL_ARGS) + ")" if testssl_on else "(skipped: TESTSSL=0)"))
    p("s = wall seconds, conn = TCP connections the tool opened (relay accepts); ratios are ours / theirs "
      "(below 1 = ours is faster / makes fewer)")
    p("")
    hdr = (f"{'endpoint':13} | {'dicomguard':>13} | {'sslscan':>13} | {'testssl.sh':>13} | "
           f"{'ours/sslscan':>15} | {'ours/testssl':>15} | DICOM profile verdict")
    sub = (f"{'':13} | {'s':>7} {'conn':>5} | {'s':>7} {'conn':>5} | {'s':>7} {'conn':>5} | "
           f"{'time':>7} {'conn':>7} | {'time':>7} {'conn':>7} | ours (meets) / sslscan / testssl")
    p(hdr)
    p(sub)
    p("-" * len(sub))
    tot = {k: [0.0, 0, True] for k in ("dg", "ss", "ts")}
    for r in rows:
        cells = {}
        for k in ("dg", "ss", "ts"):
            run = r.get(k)
            if run is None:
                cells[k] = (None, None)
                tot[k][2] = False
            else:
                cells[k] = (run["seconds"], run["connections"])
                tot[k][0] += run["seconds"]
                tot[k][1] += run["connections"]
        (ds, dc), (ss, sc), (ts, tc) = cells["dg"], cells["ss"], cells["ts"]
        meets = r.get("meets")
        verdict = (("none" if meets == [] else ",".join(meets)) if meets is not None else "(no grade)")
        other = lambda k: "-" if r.get(k) is None else ("yes?" if r[k].get("dicom_verdict") else "no")  # noqa
        p(f"{r['name']:13} | {fmt_s(ds):>7} {fmt_n(dc):>5} | {fmt_s(ss):>7} {fmt_n(sc):>5} | "
          f"{fmt_s(ts):>7} {fmt_n(tc):>5} | {fmt_r(ratio(ds, ss)):>7} {fmt_r(ratio(dc, sc)):>7} | "
          f"{fmt_r(ratio(ds, ts)):>7} {fmt_r(ratio(dc, tc)):>7} | {verdict} / {other('ss')} / {other('ts')}")
    p("-" * len(sub))
    T = {k: ((tot[k][0], tot[k][1]) if tot[k][2] and rows else (None, None)) for k in tot}
    (ds, dc), (ss, sc), (ts, tc) = T["dg"], T["ss"], T["ts"]
    p(f"{'TOTAL':13} | {fmt_s(ds):>7} {fmt_n(dc):>5} | {fmt_s(ss):>7} {fmt_n(sc):>5} | "
      f"{fmt_s(ts):>7} {fmt_n(tc):>5} | {fmt_r(ratio(ds, ss)):>7} {fmt_r(ratio(dc, sc)):>7} | "
      f"{fmt_r(ratio(ds, ts)):>7} {fmt_r(ratio(dc, tc)):>7} |")
    p("")
    graded = sum(1 for r in rows if r.get("meets") is not None)
    p(f"DICOM profile verdict: dicomguard graded {graded}/{len(rows)} endpoints against PS3.15 Annex B "
      f"(its \"meets\" field above); sslscan and testssl.sh give none (\"no\": their output never names DICOM, "
      f"PS3.15 or B.12/B.13).")
    # cross-checks
    for r in rows:
        dg = r.get("dg")
        if dg and dg.get("reported_connections") is not None and dg["reported_connections"] != dg["connections"]:
            p(f"note: {r['name']}: dicomguard reports {dg['reported_connections']} connections, the relay counted "
              f"{dg['connections']}")
        for k, label in (("dg", "dicomguard"), ("ss", "sslscan"), ("ts", "testssl.sh")):
            run = r.get(k)
            if run and run["timed_out"]:
                p(f"note: {r['name']}: {label} timed out after {run['seconds']:.0f} s (killed)")
            if run and run.get("upstream_failures"):
                p(f"note: {r['name']}: {run['upstream_failures']} relay connections to the server failed during "
                  f"{label}")
            if run and any(addr != HOST for _, addr in run.get("targets", ())):
                p(f"note: {r['name']}: testssl.sh names other addresses: {run['targets']}")
            if run and not run.get("relay_idle_after", True):
                p(f"note: {r['name']}: connections of {label} were still open 3 s after it exited")
    if all_run:
        p(f"dicomguard, all {len(rows)} relays in one invocation: {all_run['seconds']:.3f} s, "
          f"{all_run['connections']} connections (reported {all_run.get('reported_connections')}), "
          f"exit {all_run['rc']}")
    direct = [r["dg_direct"]["seconds"] for r in rows if r.get("dg_direct")]
    if direct and ds is not None:
        p(f"dicomguard without the relay (direct to the servers): {sum(direct):.3f} s in total "
          f"(via the relay {ds:.3f} s)")
    p("")
    p("Targets (issue 4), per endpoint and in total:")

    def target(label, per_endpoint_ok, total_ok, detail):
        n = sum(1 for x in per_endpoint_ok if x)
        met = total_ok and n == len(per_endpoint_ok) and len(per_endpoint_ok) > 0
        p(f"  {label:70} {'met' if met else 'NOT met'}   ({n}/{len(per_endpoint_ok)} endpoints; {detail})")
        return met

    ok = []
    if ss is not None:
        ok.append(target("faster than sslscan", [r["dg"]["seconds"] < r["ss"]["seconds"] for r in rows],
                         ds < ss, f"total {ds:.3f} s vs {ss:.3f} s = {ss / ds:.1f}x faster"))
    else:
        p("  faster than sslscan: not measured")
    if ts is not None:
        ok.append(target("at least 10x faster than testssl.sh, with fewer handshakes than testssl.sh",
                         [r["ts"]["seconds"] >= 10 * r["dg"]["seconds"] and r["dg"]["connections"] <
                          r["ts"]["connections"] for r in rows],
                         ts >= 10 * ds and dc < tc,
                         f"total {ds:.3f} s vs {ts:.1f} s = {ts / ds:.0f}x faster, {dc} vs {tc} connections"))
    else:
        p("  at least 10x faster than testssl.sh, with fewer handshakes than testssl.sh: not measured "
          "(TESTSSL=0)")
    return "\n".join(lines) + "\n", ok


# ---------------------------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------------------------

def select_endpoints(spec):
    if not spec.strip():
        return list(ENDPOINTS)
    names = []
    for tok in re.split(r"[\s,]+", spec.strip()):
        if not tok:
            continue
        key = tok if tok in ENDPOINTS else "storescp-" + tok.lstrip("+-") if tok.lstrip("+-") in (
            "py", "px", "pz", "pa", "pn") else tok
        if key not in ENDPOINTS:
            raise SystemExit(f"bench/tls: unknown endpoint '{tok}' in TLS_BENCH_ENDPOINTS; known: "
                             + " ".join(ENDPOINTS))
        if key not in names:
            names.append(key)
    return names


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: bench.py DICOMGUARD OUT")
    bin_path, out = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    names = select_endpoints(os.environ.get("TLS_BENCH_ENDPOINTS", ""))
    testssl_on = os.environ.get("TESTSSL", "1") not in ("0", "no", "false", "")
    timeout = float(os.environ.get("TLS_BENCH_TIMEOUT", "300"))
    pidfile = PidFile(os.environ.get("TLS_BENCH_PIDFILE", ""))
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

    servers_root = os.path.join(out, "servers")
    raw_root = os.path.join(out, "raw")
    os.makedirs(servers_root, exist_ok=True)
    os.makedirs(raw_root, exist_ok=True)

    servers, relays, rows, all_run = {}, {}, [], None
    code = 0
    try:
        log(f"bench/tls: building the test PKI under {servers_root}/pki")
        pki = tls_peers.make_pki(servers_root)
        for n in names:
            s = ENDPOINTS[n](servers_root, pki)
            servers[n] = s
            s.start()
            pidfile.add(s.proc.pid, "server-" + n)
        for n, s in servers.items():
            s.wait()
            relays[n] = Relay(n, s.port)
            log(f"bench/tls: {n:13} server 127.0.0.1:{s.port}  relay {relays[n].target}  ({' '.join(s.argv[:2])})")

        for i, n in enumerate(names, 1):
            relay, d = relays[n], os.path.join(raw_root, n)
            os.makedirs(d, exist_ok=True)
            row = dict(name=n, server_port=servers[n].port, relay_port=relay.port, server_argv=servers[n].argv)
            f = lambda name: os.path.join(d, name)  # noqa: E731

            dg = run_tool([bin_path, "tls", relay.target, "--json"], f("dicomguard.jsonl"), f("dicomguard.err"),
                          d, timeout, pidfile, relay=relay)
            tls, summary = parse_dicomguard(f("dicomguard.jsonl"))
            dg["reported_connections"] = summary.get("connections") if summary else None
            dg["reported_handshakes"] = tls[0].get("handshakes") if tls else None
            row["meets"] = tls[0].get("meets") if tls else None
            if dg["rc"] not in (0, 1):
                log(f"bench/tls: warning: dicomguard exited {dg['rc']} on {n} (see {f('dicomguard.err')})")
            row["dg"] = dg
            log(f"[{i}/{len(names)}] {n:13} dicomguard {dg['seconds']:8.3f} s {dg['connections']:5d} conn  "
                f"meets {row['meets']}")

            ss = run_tool(["sslscan", "--no-colour", relay.target], f("sslscan.txt"), f("sslscan.err"), d, timeout,
                          pidfile, relay=relay)
            ss["dicom_verdict"] = mentions_dicom_verdict(f("sslscan.txt"))
            row["ss"] = ss
            log(f"[{i}/{len(names)}] {n:13} sslscan    {ss['seconds']:8.3f} s {ss['connections']:5d} conn  "
                f"exit {ss['rc']}")

            if testssl_on:
                ts = run_tool(["testssl", *TESTSSL_ARGS, relay.target], f("testssl.txt"), f("testssl.err"), d,
                              timeout, pidfile, env=TESTSSL_ENV, relay=relay)
                ts["dicom_verdict"] = mentions_dicom_verdict(f("testssl.txt"))
                ts["targets"] = testssl_targets(f("testssl.txt"))
                row["ts"] = ts
                log(f"[{i}/{len(names)}] {n:13} testssl    {ts['seconds']:8.3f} s {ts['connections']:5d} conn  "
                    f"exit {ts['rc']}{'  TIMED OUT' if ts['timed_out'] else ''}")

            # untimed extra: ours without the relay, to show what the relay costs
            row["dg_direct"] = run_tool([bin_path, "tls", servers[n].target, "--json"], f("dicomguard-direct.jsonl"),
                                        f("dicomguard-direct.err"), d, timeout, pidfile)
            rows.append(row)

        # extra: ours on every endpoint in one invocation (endpoints assessed in parallel)
        d = os.path.join(raw_root, "_all")
        os.makedirs(d, exist_ok=True)
        before = sum(r.snapshot()["accepted"] for r in relays.values())
        all_run = run_tool([bin_path, "tls", *[r.target for r in relays.values()], "--json"],
                           os.path.join(d, "dicomguard.jsonl"), os.path.join(d, "dicomguard.err"), d, timeout, pidfile)
        for r in relays.values():
            r.wait_idle()
        all_run["connections"] = sum(r.snapshot()["accepted"] for r in relays.values()) - before
        summary = parse_dicomguard(os.path.join(d, "dicomguard.jsonl"))[1]
        all_run["reported_connections"] = summary.get("connections") if summary else None

        text, ok = report(rows, all_run, testssl_on, os.environ.get("TLS_BENCH_BIN", bin_path))
        print()
        print(text, end="", flush=True)
        with open(os.path.join(out, "summary.txt"), "w") as fh:
            fh.write(text)
        with open(os.path.join(out, "results.json"), "w") as fh:
            json.dump(dict(endpoints=rows, all_in_one=all_run, testssl=testssl_on, dicomguard=bin_path,
                           targets_met=ok), fh, indent=1)
        log(f"bench/tls: raw outputs, server logs, summary.txt and results.json under {out}")
    except Interrupted as e:
        log(f"bench/tls: interrupted ({e}), stopping servers and relays")
        code = 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for r in relays.values():
            r.stop()
        for s in servers.values():
            s.stop()
            if s.proc:
                pidfile.remove(s.proc.pid)
    return code


if __name__ == "__main__":
    sys.exit(main())
