"""Real DICOM servers for the scan tests, started on loopback ports (127.0.0.1 only) and stopped afterwards.

* DCMTK storescp (plain and +tls) and dcmqrscp (with a config file: open or AE-restricted);
* Orthanc (Debian package) with a JSON configuration per test case;
* implementations other than DCMTK (Debian packages): CTN's simple_storage, PixelMed's DicomAndWebStorageServer
  (DICOM and its web server), and an SCP of our own on odil's library (peer_odil_scp.py).

Each server gets a free port; start() then wait() waits until it accepts connections, or, for servers that a
bare connection disturbs (CTN exits on one, odil serves one connection at a time), until it answers C-ECHO.
DCMTK, CTN, PixelMed and odil listen on every interface (none has a listen-address option); tests send traffic
to 127.0.0.1 only. Standard library only.
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


def echo_ok(port, called="ANY-SCP", calling="DGREADY", timeout=2):
    argv = ["echoscu", "-to", str(timeout), "-ta", str(timeout), "-td", str(timeout), "-aec", called, "-aet", calling,
            "127.0.0.1", str(port)]
    return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout * 4).returncode == 0


def wait_echo(port, proc, called, seconds=60.0, what="server", calling="DGREADY"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before answering C-ECHO on {port}")
        if echo_ok(port, called, calling):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer C-ECHO on 127.0.0.1:{port} within {seconds} s")



def stop_process(proc, timeout, sig=signal.SIGTERM):
    """Ask a process we started to end (sig), wait up to timeout seconds, then kill it; returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Server:
    def __init__(self, name, argv, port, workdir, log, extra_ports=(), echo_ae=None, env=None):
        self.name, self.argv, self.port, self.workdir, self.log = name, argv, port, workdir, log
        self.extra_ports = extra_ports
        self.echo_ae = echo_ae  # readiness by C-ECHO to this AE title instead of a bare connection
        self.echo_calling = "DGREADY"
        self.env = env
        self.proc = None

    def start(self):
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen(self.argv, cwd=self.workdir, stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, env=self.env)
        return self

    def wait(self):
        if self.echo_ae:
            wait_echo(self.port, self.proc, self.echo_ae, what=self.name, calling=self.echo_calling)
        else:
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
    # --fork: one child per association, as a PACS serves them. A single-process storescp holds every later
    # connection behind one that is slow to end, which under load (a fresh Debian 12 chroot with a second ctest
    # beside it) turned into timeouts and retried connections in tests that count them.
    argv = ["storescp", "--fork", *tls, "-od", d, str(port)]
    return Server(name, argv, port, d, os.path.join(root, name + ".log"))


def dcmqrscp(root, name, ae="COMMON", peers="ANY", hosts=()):
    """dcmqrscp with one storage area. peers: ANY, or a HostTable symbolic name defined in hosts
    (a list of (symbol, ae, port) entries on 127.0.0.1: by address, so that no test needs /etc/hosts)."""
    port = free_port()
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "db"), exist_ok=True)
    cfg = os.path.join(d, "dcmqrscp.cfg")
    host_lines = "".join(f"{sym} = ({hae}, 127.0.0.1, {hport})\n" for sym, hae, hport in hosts)
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


def ctn_storage(root, name, ae=None):
    """CTN's simple_storage (Debian ctn): C-ECHO and C-STORE, and made-up C-FIND and C-MOVE answers (4 matches
    for any query). It exits when a connection closes without an association request or sends other bytes (a
    bare connection, HTTP, a TLS ClientHello): scan it with --no-tls."""
    port = free_port()
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    argv = ["simple_storage", *(["-c", ae] if ae else []), "-s", "-x", d, str(port)]
    return Server(name, argv, port, d, os.path.join(root, name + ".log"), echo_ae=ae or "ANY-SCP")


def pixelmed(root, name, ae="PIXELMED"):
    """PixelMed's DicomAndWebStorageServer (Debian libpixelmed-java, pixelmed-apps): storage, query/retrieve
    (HSQLDB) and a web server with patient lists and WADO-URI, both without authentication. Its network discovery
    (multicast DNS through JmDNS, which the jar's manifest puts on the class path) is kept off: a copy of the jar
    without its manifest, and JmDNS not on the class path, so PixelMed finds no JmDNS class and skips it."""
    import zipfile
    port, http = free_port(), free_port()
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "db"), exist_ok=True)
    os.makedirs(os.path.join(d, "images"), exist_ok=True)
    jar = os.path.join(d, "pixelmed-nomanifest.jar")
    with zipfile.ZipFile("/usr/share/java/pixelmed.jar") as zi, zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as zo:
        for it in zi.infolist():
            if it.filename != "META-INF/MANIFEST.MF":
                zo.writestr(it, zi.read(it.filename))
    props = os.path.join(d, "pixelmed.properties")
    with open(props, "w") as f:
        f.write(f"Dicom.ListeningPort={port}\nDicom.CalledAETitle={ae}\nDicom.CallingAETitle={ae}\n"
                f"Dicom.PrimaryDeviceType=ARCHIVE\nApplication.DatabaseFileName={d}/db/pixelmeddb\n"
                f"Application.SavedImagesFolderName={d}/images\nWebServer.ListeningPort={http}\n"
                f"WebServer.RootURL=http://127.0.0.1:{http}/\nWebServer.NumberOfWorkers=2\n")
    cp = ":".join([jar] + [f"/usr/share/java/{j}.jar" for j in ("hsqldb", "commons-codec", "vecmath", "commons-net",
                                                               "javax.json-api", "slf4j-api", "slf4j-jdk14")])
    argv = ["java", "-Djava.awt.headless=true", "-Djava.net.preferIPv4Stack=true", "-Xmx256m", "-cp", cp,
            "com.pixelmed.server.DicomAndWebStorageServer", props]
    s = Server(name, argv, port, d, os.path.join(root, name + ".log"), extra_ports=(http,), echo_ae=ae)
    s.http_port = http
    return s


def odil(root, name, *options):
    """An SCP of our own on odil's library (Debian python3-odil; tests/integration/peer_odil_scp.py): odil accepts
    one connection at a time and has no listener between associations (a connection then is refused)."""
    port = free_port()
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer_odil_scp.py")
    argv = ["/usr/bin/python3", "-u", script, "--port", str(port), *options]
    s = Server(name, argv, port, d, os.path.join(root, name + ".log"), echo_ae="ANY-SCP")
    if "--allow-calling" in options:  # only that calling AE title gets its C-ECHO answered
        s.echo_calling = options[list(options).index("--allow-calling") + 1].split(",")[0]
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
