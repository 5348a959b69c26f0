"""The scan engine's politeness and robustness, against scripted servers on 127.0.0.1 (Python asyncio, in a
thread): the per-host connection limit, the connection rate, and servers that answer garbage, stay silent, or
flood. Only 127.0.0.1 is contacted."""

import asyncio
import struct
import threading
import time
import unittest

import helpers
import peers
from helpers import parse_jsonl, run

REJECT_NO_REASON = bytes([3, 0, 0, 0, 0, 4, 0, 1, 1, 1])  # A-ASSOCIATE-RJ, service-user, no reason given


class ScriptedServers:
    """Listens on `count` ports; each connection runs `behaviour(reader, writer, done)`; records concurrency:
    a connection counts from its accept until the behaviour calls done() (or ends), so the count does not
    include the moments between our answer and the client's close."""

    def __init__(self, count, behaviour, ssl_context=None):
        self.ssl_context = ssl_context
        self.ports = [peers.free_port() for _ in range(count)]
        self.behaviour = behaviour
        self.active = 0
        self.max_active = 0
        self.connect_times = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    async def _handle(self, reader, writer):
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self.connect_times.append(time.monotonic())
        counted = [True]

        def done():
            if counted[0]:
                counted[0] = False
                self.active -= 1

        try:
            await self.behaviour(reader, writer, done)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError, OSError):
            pass
        finally:
            done()
            writer.close()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        servers = [self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", p,
                                                                     ssl=self.ssl_context))
                   for p in self.ports]
        self.servers = servers
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self):
        self.thread.start()
        if not self.ready.wait(30):
            raise RuntimeError("the scripted servers did not start listening")
        return self

    def __exit__(self, *exc):
        async def shutdown():
            for srv in self.servers:
                srv.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop)
        self.thread.join(10)
        self.loop.close()

    @property
    def port_list(self):
        return ",".join(map(str, self.ports))


async def slow_reject(reader, writer, done):
    await reader.readexactly(6)
    await asyncio.sleep(0.3)
    done()  # before the answer: the client may connect again once it has it
    writer.write(REJECT_NO_REASON)
    await writer.drain()
    await reader.read()  # until the client closes


def summary_of(cp):
    return [o for o in parse_jsonl(cp.stdout) if o["type"] == "summary"][-1]


class Politeness(unittest.TestCase):
    def test_at_most_two_connections_per_host_by_default(self):
        with ScriptedServers(8, slow_reject) as s:
            cp = run("scan", "127.0.0.1", "-p", s.port_list, "--json", "--timeout", "5")
            self.assertEqual(summary_of(cp)["services"], 8, cp.stderr)
            self.assertEqual(s.max_active, 2)

    def test_per_host_limit_is_the_one_asked_for(self):
        with ScriptedServers(8, slow_reject) as s:
            run("scan", "127.0.0.1", "-p", s.port_list, "--per-host", "4", "--json", "--timeout", "5")
            self.assertEqual(s.max_active, 4)

    def test_rate_spaces_new_connections(self):
        async def reject(reader, writer, done):
            await reader.readexactly(6)
            writer.write(REJECT_NO_REASON)
            await writer.drain()

        # 11 connections at 10 per second take at least a second. What the server measures is each accept as its
        # event loop gets to it: a busy machine delays accepts (two or three can then come together), never
        # brings one forward, so only the span from the first to the last is a sound measurement; it is allowed
        # to lose what a delayed first accept costs (up to 0.3 s). Without the limit the 11 come in milliseconds.
        with ScriptedServers(11, reject) as s:
            run("scan", "127.0.0.1", "-p", s.port_list, "--rate", "10", "--json", "--timeout", "5")
            times = sorted(s.connect_times)
            self.assertEqual(len(times), 11)
            self.assertGreaterEqual(times[-1] - times[0], 0.7, [round(b - a, 3) for a, b in zip(times, times[1:])])


class HttpsAndCors(unittest.TestCase):
    """An Orthanc-like REST API over HTTPS that reflects any Origin with credentials. (Debian's Orthanc 1.10.1
    with "SslEnabled" segfaults on its first HTTPS request, curl's included, so HTTPS is scripted here.)"""

    def test_https_api_found_inside_tls_and_cors_with_credentials_flagged(self):
        import json as _json
        import ssl
        with helpers.TempDir() as d:
            key, cert = peers.self_signed(d.path)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)

            async def api(reader, writer, done):
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = await reader.read(4096)
                    if not chunk:
                        return  # our DICOM association request: not HTTP, close without a word
                    head += chunk
                    if not head.startswith(b"GET "):
                        return
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                origin = next((l.split(":", 1)[1].strip() for l in lines if l.lower().startswith("origin:")), "")
                if path == "/system":
                    body, status = _json.dumps({"Name": "scripted", "Version": "1.12.0", "DicomAet": "SCRIPTED",
                                                "DicomPort": 4242, "ApiVersion": 18}), "200 OK"
                elif path == "/patients":
                    body, status = "[]", "200 OK"
                else:
                    body, status = "not found", "404 Not Found"
                writer.write((f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                              f"Access-Control-Allow-Origin: {origin}\r\nAccess-Control-Allow-Credentials: true\r\n"
                              f"Connection: close\r\n\r\n{body}").encode())
                await writer.drain()

            with ScriptedServers(1, api, ssl_context=ctx) as s:
                cp = run("scan", f"127.0.0.1:{s.ports[0]}", "--json", "--timeout", "3")
                objs = parse_jsonl(cp.stdout)
                services = [o for o in objs if o["type"] == "service"]
                self.assertEqual(len(services), 1, cp.stdout)
                self.assertEqual(services[0]["protocol"], "https")
                self.assertEqual(services[0]["ae_titles"], ["SCRIPTED"])
                # product.* (the advisories for the version it announces) is tested in test_vulnerable.py.
                checks = {o["check"] for o in objs if o["type"] == "finding" and not o["check"].startswith(("tls.", "product."))}
                self.assertEqual(checks, {"http.orthanc.open", "http.cors.credentials"})
                # The HTTPS API's TLS is graded too (quick): Python's ssl module with a self-signed certificate.
                tls = [o for o in objs if o["type"] == "tls"]
                self.assertEqual([t["mode"] for t in tls], ["quick"])
                self.assertIsNone(tls[0]["dicom"]["via"])  # no association is attempted on an HTTP service
                self.assertIn("tls.cert.self-signed", tls[0]["checks"])


class HostileServers(unittest.TestCase):
    def test_garbage_silence_and_floods_end_in_verdicts(self):
        async def garbage(reader, writer, done):
            await reader.read(100)
            writer.write(b"\x02\x00\xff\xff\xff\xff" + b"A" * 1000)  # an A-ASSOCIATE-AC claiming 4 GiB
            await writer.drain()
            await asyncio.sleep(1)

        async def silent(reader, writer, done):
            await asyncio.sleep(3)

        async def banner(reader, writer, done):
            writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
            await writer.drain()
            await asyncio.sleep(0.5)

        async def endless(reader, writer, done):  # P-DATA fragments that never complete a command
            await reader.read(100)
            pdv = struct.pack(">BBIIBB", 4, 0, 6 + 4, 4 + 2, 1, 0) + b"\0\0\0\0"
            for _ in range(2000):
                writer.write(pdv)
                await writer.drain()

        with ScriptedServers(1, garbage) as g, ScriptedServers(1, silent) as q, \
                ScriptedServers(1, banner) as b, ScriptedServers(1, endless) as e:
            targets = [f"127.0.0.1:{x.ports[0]}" for x in (g, q, b, e)]
            cp = run("scan", *targets, "--json", "--timeout", "0.5", "--no-tls", timeout=60)
            self.assertEqual(cp.returncode, 3, cp.stderr)  # no DICOM service: nothing assessed
            s = summary_of(cp)
            self.assertEqual(s["endpoints"], 4)
            self.assertEqual(s["services"], 0)
            self.assertEqual(sum(s["answers"].values()), 4)
            self.assertGreaterEqual(s["answers"].get("not-dicom", 0), 2)  # the 4 GiB PDU and the SSH banner


if __name__ == "__main__":
    unittest.main()
