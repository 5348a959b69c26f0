"""Real DICOM servers for the scan tests, started on loopback ports (127.0.0.1 only) and stopped afterwards.

* DCMTK storescp (plain and +tls) and dcmqrscp (with a config file: open or AE-restricted);
* Orthanc (Debian package) with a JSON configuration per test case.

Each server gets a free ephemeral port; start() waits until it accepts connections. Standard library only.
"""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time


def free_port():
    """A port free now for a server to listen on. Chosen below the kernel's ephemeral range (32768 and up on
    Linux), so that the thousands of outgoing connections the scanner makes in a parallel test can never take it
    as their source port between this call and the server's bind."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32000")


def wait_listening(port, proc, seconds=30.0, what="server"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {seconds} s")


class Server:
    def __init__(self, name, argv, port, workdir, log, extra_ports=()):
        self.name, self.argv, self.port, self.workdir, self.log = name, argv, port, workdir, log
        self.extra_ports = extra_ports
        self.proc = None

    def start(self):
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen(self.argv, cwd=self.workdir, stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def wait(self):
        wait_listening(self.port, self.proc, what=self.name)
        for p in self.extra_ports:
            wait_listening(p, self.proc, what=self.name)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "logf", None):
            self.logf.close()

    @property
    def target(self):
        return f"127.0.0.1:{self.port}"


def storescp(root, name, *tls):
    port = free_port()
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    argv = ["storescp", *tls, "-od", d, str(port)]
    return Server(name, argv, port, d, os.path.join(root, name + ".log"))


def dcmqrscp(root, name, ae="COMMON", peers="ANY", hosts=()):
    """dcmqrscp with one storage area. peers: ANY, or a HostTable symbolic name defined in hosts
    (a list of (symbol, ae, port) entries on localhost)."""
    port = free_port()
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "db"), exist_ok=True)
    cfg = os.path.join(d, "dcmqrscp.cfg")
    host_lines = "".join(f"{sym} = ({hae}, localhost, {hport})\n" for sym, hae, hport in hosts)
    with open(cfg, "w") as f:
        f.write(f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 8\n"
                f"HostTable BEGIN\n{host_lines}HostTable END\nVendorTable BEGIN\nVendorTable END\n"
                f"AETable BEGIN\n{ae} {d}/db RW (10, 64mb) {peers}\nAETable END\n")
    # Default (forking) mode: --single-process crashes on the second association in 3.6.7.
    return Server(name, ["dcmqrscp", "-c", cfg], port, d, os.path.join(root, name + ".log"))


def orthanc(root, name, **config):
    port, http = free_port(), free_port()
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    cfg = {"Name": "dg-" + name, "StorageDirectory": d, "IndexDirectory": d, "DicomPort": port, "HttpPort": http,
           "DicomAet": "ORTHANC", "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
           "Plugins": [], "StableAge": 1, "ConcurrentJobs": 1}
    cfg.update(config)
    path = os.path.join(root, name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    s = Server(name, ["Orthanc", path], port, d, os.path.join(root, name + ".log"), extra_ports=(http,))
    s.http_port = http
    return s


def have(tool):
    return shutil.which(tool) is not None


def self_signed(root, cn="localhost"):
    """A throwaway RSA key and self-signed certificate (PEM) for TLS servers."""
    key, cert = os.path.join(root, "key.pem"), os.path.join(root, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", f"/CN={cn}"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return key, cert


def store(target_port, path, called="ANY-SCP", calling="DGTESTSCU"):
    """Sends one file with DCMTK storescu (the test PACS's content)."""
    subprocess.run(["storescu", "-aec", called, "-aet", calling, "127.0.0.1", str(target_port), path], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
