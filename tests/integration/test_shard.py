"""--shard i/N on `scan` and `files`: N shards run as N processes at once split the job into disjoint parts whose
union equals the unsharded run record for record, and `report` on the shards equals `report` on the unsharded
run (also when a shard is given twice, as an overlapping rerun). Real DCMTK storescp and Orthanc on 127.0.0.1,
the pydicom corpus for files. Only 127.0.0.1 is contacted.
"""

import json
import os
import re
import shutil
import subprocess
import unittest

import helpers
import peers
from helpers import TempDir, parse_jsonl, run

N = 3


def start_all(args_list):
    procs = [subprocess.Popen([helpers.BINARY, *a], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL) for a in args_list]
    return [(p.returncode, out.decode(), err.decode()) for p in procs for out, err in [p.communicate()]]


def records(text):
    return [o for o in parse_jsonl(text) if o["type"] not in ("summary",)]


def strip(o, volatile=()):
    o = dict(o)
    o.pop("shard", None)
    for k in volatile:
        o.pop(k, None)
    # random AE titles (DG + 10 characters) are drawn in the order endpoints are probed
    return re.sub(r'"DG[A-Z0-9]{10}"', '"DG<random>"', json.dumps(o, sort_keys=True))


def report_md(tmp, name, inputs):
    out = os.path.join(tmp, name + ".md")
    cp = run("report", "--format", "md", "-o", out, *inputs)
    assert cp.returncode == 0, cp.stderr
    with open(out) as f:
        lines = f.read().splitlines()
    # a clock offset is measured anew by each run
    return [re.sub(r"offset -?[0-9.]+ s", "offset N s", l) for l in lines if not l.startswith("Made by dicomguard")], \
        cp.stderr


class FilesShards(unittest.TestCase):
    def test_union_of_shards_equals_unsharded_run(self):
        corpus = helpers.pydicom_corpus()
        if not corpus:
            self.skipTest("python3-pydicom is not installed")
        with TempDir("dg-shard-") as t:
            tree = t.join("tree")
            shutil.copytree(corpus, os.path.join(tree, "a"))
            shutil.copytree(corpus, os.path.join(tree, "b", "c"))
            whole = run("files", "--json", tree)
            self.assertIn(whole.returncode, (0, 1), whole.stderr)
            outs = start_all([["files", "--json", "--shard", f"{i}/{N}", tree] for i in range(N)])
            parts, seen = [], set()
            for i, (rc, out, err) in enumerate(outs):
                self.assertIn(rc, (0, 1), err)
                objs = parse_jsonl(out)
                summary = objs[-1]
                self.assertEqual(summary["type"], "summary")
                self.assertEqual(summary["shard"], f"{i}/{N}")
                recs = [o for o in objs if o["type"] == "file"]
                self.assertTrue(recs, f"shard {i} is empty")
                for o in recs:
                    self.assertEqual(o["shard"], f"{i}/{N}")
                    self.assertNotIn(o["path"], seen, "a file in two shards")
                    seen.add(o["path"])
                self.assertEqual(summary["files"], len(recs))
                parts.append(out)
            self.assertEqual(sorted(strip(o) for p in parts for o in records(p)),
                             sorted(strip(o) for o in records(whole.stdout)))
            # the same split whatever the folder is called or where it is mounted
            moved = t.join("elsewhere")
            shutil.copytree(tree, moved)
            again = run("files", "--json", "--shard", f"1/{N}", moved)
            self.assertEqual(sorted(os.path.relpath(o["path"], moved) for o in records(again.stdout) if o["type"] == "file"),
                             sorted(os.path.relpath(o["path"], tree) for o in records(parts[1]) if o["type"] == "file"))
            # report: the shards (one given twice, as an overlapping rerun) tell the same as the whole run
            paths = []
            for i, p in enumerate(parts):
                paths.append(t.write(f"s{i}.jsonl", p.encode()))
            one = t.write("whole.jsonl", whole.stdout.encode())
            a, _ = report_md(t.path, "whole", [one])
            b, err = report_md(t.path, "shards", paths + [paths[0]])
            self.assertEqual(a[1:], b[1:])
            self.assertIn("merged", err)
            c, err = report_md(t.path, "partial", paths[:2])
            self.assertIn(f"files: 1 of {N} shards missing (2/{N})", err)
            self.assertTrue(any("Incomplete results" in l for l in c))

    def test_bad_shard_is_a_usage_error(self):
        for bad in ("3/3", "x", "1/0", "-1/2"):
            cp = run("files", "--shard", bad, "/nonexistent")
            self.assertEqual(cp.returncode, 2, bad)
            self.assertIn("--shard", cp.stderr)
            cp = run("scan", "--shard", bad, "127.0.0.1", "-p", "1")
            self.assertEqual(cp.returncode, 2, bad)
            self.assertIn("--shard", cp.stderr)


class ScanShards(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir("dg-shard-scan-")
        cls.servers = [peers.storescp(cls.tmp.path, f"s{i}") for i in range(5)]
        cls.servers.append(peers.orthanc(cls.tmp.path, "orthanc"))
        for s in cls.servers:
            s.start()
        try:
            for s in cls.servers:
                s.wait()
        except Exception:
            cls.tearDownClass()
            raise
        ports = [s.port for s in cls.servers] + [cls.servers[-1].http_port, peers.free_port()]
        cls.ports = ",".join(str(p) for p in ports)

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.stop()
        cls.tmp.cleanup()

    def scan_args(self):
        return ["scan", "--json", "--seed", "7", "--timeout", "5", "-p", self.ports, "127.0.0.1"]

    def test_union_of_shards_equals_unsharded_run(self):
        whole = run(*self.scan_args())
        self.assertEqual(whole.returncode, 1, whole.stderr)
        outs = start_all([self.scan_args() + ["--shard", f"{i}/{N}"] for i in range(N)])
        services, parts = set(), []
        for i, (rc, out, err) in enumerate(outs):
            self.assertIn(rc, (0, 1, 3), err)
            objs = parse_jsonl(out)
            self.assertEqual(objs[-1]["shard"], f"{i}/{N}")
            for o in objs:
                if o["type"] != "finding":  # a finding belongs to the record before it
                    self.assertEqual(o.get("shard"), f"{i}/{N}", o)
                if o["type"] == "service":
                    self.assertNotIn((o["address"], o["port"]), services)
                    services.add((o["address"], o["port"]))
            parts.append(out)
        want = [o for o in records(whole.stdout) if o["type"] in ("service", "tls", "finding")]
        got = [o for p in parts for o in records(p) if o["type"] in ("service", "tls", "finding")]
        self.assertGreaterEqual(len([o for o in want if o["type"] == "service"]), 7)
        # timings differ from run to run; everything else is the same record
        volatile = ("latency_ms", "seconds", "rtt_ms", "handshake_ms")
        self.maxDiff = 4000
        self.assertEqual(sorted(strip(o, volatile) for o in got), sorted(strip(o, volatile) for o in want))
        # report on the shards equals report on the whole run
        paths = [self.tmp.write(f"shard{i}.jsonl", p.encode()) for i, p in enumerate(parts)]
        one = self.tmp.write("whole.jsonl", whole.stdout.encode())
        a, _ = report_md(self.tmp.path, "whole", [one])
        b, _ = report_md(self.tmp.path, "shards", paths + [paths[1]])
        self.assertEqual(a[1:], b[1:])
        # --baseline takes the shard files together: nothing new, nothing gone
        cp = run(*self.scan_args(), *sum((["--baseline", p] for p in paths), []))
        summary = parse_jsonl(cp.stdout)[-1]
        self.assertEqual(summary["baseline"]["new"], 0, cp.stdout)
        self.assertEqual(summary["baseline"]["gone"], 0, cp.stdout)


if __name__ == "__main__":
    unittest.main()
