#!/usr/bin/env python3
"""Captures real A-ASSOCIATE PDUs from DCMTK tools on 127.0.0.1 (loopback only), for tests/data/pdu/.
  tools/capture_pdu.py listen PORT OUT   saves the first PDU a client sends to 127.0.0.1:PORT, answers A-ABORT
  tools/capture_pdu.py ask PORT IN OUT   sends the PDU in IN to a server on 127.0.0.1:PORT, saves its answer
  tools/capture_pdu.py all OUTDIR        runs echoscu, storescu (user identity, role selection, extended
                                         negotiation: tools/capture_pdu.cfg), getscu and storescp and saves
                                         their requests and answers"""
import os
import socket
import struct
import subprocess
import sys
import time

ABORT = bytes([7, 0, 0, 0, 0, 4, 0, 0, 0, 0])
HERE = os.path.dirname(os.path.abspath(__file__))
CT = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm"


def read_pdu(c):
    buf = b""
    while len(buf) < 6 or len(buf) < 6 + struct.unpack(">I", buf[2:6])[0]:
        d = c.recv(65536)
        if not d:
            raise SystemExit("connection closed before a whole PDU")
        buf += d
    return buf[: 6 + struct.unpack(">I", buf[2:6])[0]]


def listen(port, out, client=None):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1)
    s.settimeout(20)
    proc = subprocess.Popen(client, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, TCP_NODELAY="1")) if client else None
    c, _ = s.accept()
    c.settimeout(10)
    pdu = read_pdu(c)
    c.sendall(ABORT)
    c.close()
    s.close()
    if proc:
        proc.wait(timeout=20)
    open(out, "wb").write(pdu)
    print(f"{out}: {len(pdu)} bytes")


def ask(port, rq, out):
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(open(rq, "rb").read())
    pdu = read_pdu(c)
    c.sendall(ABORT)
    c.close()
    open(out, "wb").write(pdu)
    print(f"{out}: {len(pdu)} bytes")


def serve(port, args, workdir):
    os.makedirs(workdir, exist_ok=True)
    p = subprocess.Popen(["storescp", "--aetitle", "STORESCP", "-od", workdir] + args + [str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, TCP_NODELAY="1"))
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p
        except OSError:
            time.sleep(0.025)
    p.kill()
    raise SystemExit("storescp did not listen")


def capture_all(d):
    os.makedirs(d, exist_ok=True)
    cfg = os.path.join(HERE, "capture_pdu.cfg")
    port = 11201
    listen(port, f"{d}/echoscu-rq.bin", ["echoscu", "-aec", "ANY-SCP", "127.0.0.1", str(port)])
    listen(port + 1, f"{d}/storescu-rq.bin",
           ["storescu", "-aec", "STORESCP", "-xf", cfg, "Neg", "--user", "alice", "--password", "s3cr3t-pw",
            "--pos-response", "127.0.0.1", str(port + 1), CT])
    listen(port + 2, f"{d}/getscu-rq.bin",
           ["getscu", "-aec", "ANY-SCP", "-k", "0008,0052=STUDY", "-k", "0020,000D=1.2.3", "127.0.0.1",
            str(port + 2)])
    scp = serve(port + 3, [], f"{d}/.scp")
    try:
        ask(port + 3, f"{d}/echoscu-rq.bin", f"{d}/storescp-ac-echo.bin")
        ask(port + 3, f"{d}/storescu-rq.bin", f"{d}/storescp-ac-store.bin")
    finally:
        scp.terminate()
        scp.wait()
    scp = serve(port + 4, ["-xf", cfg, "Neg"], f"{d}/.scp")
    try:
        ask(port + 4, f"{d}/storescu-rq.bin", f"{d}/storescp-ac-neg.bin")
        ask(port + 4, f"{d}/getscu-rq.bin", f"{d}/storescp-ac-get.bin")
    finally:
        scp.terminate()
        scp.wait()
    subprocess.run(["rm", "-rf", f"{d}/.scp"], check=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "listen":
        listen(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "ask":
        ask(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 3 and sys.argv[1] == "all":
        capture_all(sys.argv[2])
    else:
        raise SystemExit(__doc__)
