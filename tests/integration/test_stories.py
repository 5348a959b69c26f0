"""dicomguard explain: every story in data/stories/ (read here with tomllib, independently of the engine) follows the
rules of docs/stories.md, and the real binary renders each for all six audiences, without results and with the
results of a real demo run (the lab on 127.0.0.1 scanned, the bundled samples checked) plus a search engine's
record:

* six audiences, at most 700 words each as rendered, with and without results; nothing of the template left;
* every token with a digit in a story is a figure of one of its cited sources or one of its terms, and every
  figure a source lists is used; every source has an id, a cite, a url and figures; each story ends with them;
* the reader's own numbers appear, as counted here from the JSON Lines (search engines' records are not
  measured, except exposure.internet); host lists and host addresses only in the admin story;
* no patient name or ID of the lab's or the samples' files in any output;
* the communications matrix lists every topic present, and the issue's thirteen topics exist;
* every dicomguard command a story gives names a real subcommand, with flags its --help lists.
"""

import json
import os
import re
import subprocess
import tomllib
import unittest

from helpers import BINARY, SOURCE_DIR, TempDir, parse_jsonl, run

STORIES_DIR = os.path.join(SOURCE_DIR, "data", "stories")
TOPICS = ["why-no-mandate", "am-i-exposed", "turn-on-encryption", "shodan", "have-you-looked", "rfp",
          "healthcare-different", "misconfigured", "certificates", "malware", "basic-rules", "auditing", "patching"]
AUDIENCES = ["admin", "ciso", "journalist", "product-manager", "regulator", "public"]
MAX_WORDS = 700
HOST_LISTS = ("hosts_list", "query_open_hosts", "plaintext_hosts")
COUNTS = ("services", "hosts", "plaintext", "tls_services", "any_ae", "query_open", "retrieve_open", "store_open",
          "tls_weak", "cert_problems", "vulnerable", "internet", "files", "files_flagged", "audit_problems",
          "critical", "high")
# Counts that only a scan can give, and those only a files check can give (docs/stories.md: their guards).
SCAN_COUNTS = {"services", "hosts", "plaintext", "tls_services", "any_ae", "query_open", "retrieve_open", "store_open",
               "tls_weak", "cert_problems", "vulnerable", "hosts_list", "query_open_hosts", "plaintext_hosts"}
FILE_COUNTS = {"files", "files_flagged"}
TAG = re.compile(r"\{\{([#^/]?)([^{}]*)\}\}")
LAB_PATIENTS = ("LABSYNTHETIC",)  # the lab's synthetic patients (as test_report.py)
SAMPLE_PATIENTS = ("DEMO^CLEAN", "DEMO^PE", "DEMO^ELF", "DEMO^SCRIPT", "DEMO^PAYLOAD", "DEMO^DOCUMENT", "DEMO-0001")

# A search engine's record of an endpoint (dicomguard shodan's shape): its exposure.internet counts, its other
# findings are what the banner proved, not measured today.
SEEN_ADDRESS = "192.0.2.77"
SEEN = [
    {"type": "service", "source": "shodan", "address": SEEN_ADDRESS, "port": 104, "protocol": "dimse",
     "checks": ["exposure.internet", "dimse.query.open"]},
    {"type": "finding", "check": "exposure.internet", "severity": "high", "target": f"{SEEN_ADDRESS}:104"},
    {"type": "finding", "check": "dimse.query.open", "severity": "high", "target": f"{SEEN_ADDRESS}:104"},
]


def load_stories():
    out = {}
    for name in sorted(os.listdir(STORIES_DIR)):
        if name.endswith(".toml"):
            with open(os.path.join(STORIES_DIR, name), "rb") as f:
                out[name[:-5]] = tomllib.load(f)
    return out


def flat(text):
    return re.sub(r"\s+", " ", text)


def strip_markup(text):
    """The story's own words: without {{...}} and without `code` (commands and addresses)."""
    return re.sub(r"`[^`]*`", " ", TAG.sub(" ", text))


def occurs(needle, text):
    return re.search(r"(?<![\w.,])" + re.escape(needle) + r"(?![\w%]|[.,]\d)", text) is not None


def remove_all(needles, text):
    for n in sorted(needles, key=len, reverse=True):
        text = re.sub(r"(?<![\w.,])" + re.escape(n) + r"(?![\w%]|[.,]\d)", " ", text)
    return text


def patient_values(folder):
    """PatientName (0010,0010) and PatientID (0010,0020) of the sample files, read from their bytes (explicit VR
    little endian, as the samples are written), plus the names test_report.py knows."""
    values = set(LAB_PATIENTS + SAMPLE_PATIENTS)
    for d, _, names in os.walk(folder):
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                data = f.read()
            for tag in (b"\x10\x00\x10\x00PN", b"\x10\x00\x20\x00LO"):
                i = data.find(tag)
                if i >= 0 and i + 8 <= len(data):
                    length = int.from_bytes(data[i + 6:i + 8], "little")
                    v = data[i + 8:i + 8 + length].decode("latin-1").strip(" \0")
                    if len(v) >= 4:
                        values.add(v)
    return values


def expected_values(paths):
    """The names of docs/stories.md, counted here from the JSON Lines."""
    services, files, targets, findings = [], [], {}, []
    for p in paths:
        with open(p) as f:
            observed = False
            for o in parse_jsonl(f.read(), validate=False):
                if o["type"] == "finding":
                    if observed and o["check"] != "exposure.internet":
                        continue  # what a banner proved: not measured
                    findings.append(o)
                    continue
                observed = o["type"] == "service" and "source" in o
                if o["type"] == "service" and not observed:
                    services.append(o)
                elif o["type"] == "file":
                    files.append(o)

    def with_checks(*checks, prefix=None, min_medium=False):
        out = set()
        for f in findings:
            c = f["check"]
            if c in checks or (prefix and c.startswith(prefix)):
                if not min_medium or f["severity"] in ("medium", "high", "critical"):
                    out.add(f["target"])
        return out

    flagged = [f for f in files if any(c in ("file.preamble.executable", "file.polyglot.document",
                                             "file.encapsulated.active") or c.startswith("file.payload.")
                                       for c in f.get("checks", []))]
    query = with_checks("dimse.query.open", "http.dicomweb.open", "http.orthanc.open", "http.patient-list.open")
    plain = with_checks("dimse.plaintext", "http.plaintext")
    v = {
        "services": len(services),
        "hosts": len({s["address"] for s in services}),
        "plaintext": len(plain),
        "tls_services": sum(1 for s in services if s["protocol"] in ("dimse-tls", "https")),
        "any_ae": len(with_checks("dimse.ae.any-called")),
        "query_open": len(query),
        "retrieve_open": len(with_checks("dimse.retrieve.open", "dimse.move.any-destination")),
        "store_open": len(with_checks("dimse.store.open")),
        "tls_weak": len(with_checks(prefix="tls.", min_medium=True)),
        "cert_problems": len(with_checks(prefix="tls.cert.")),
        "vulnerable": len(with_checks("product.vulnerable")),
        "internet": len(with_checks("exposure.internet")),
        "files": len(files),
        "files_flagged": len(flagged),
        "audit_problems": sum(1 for f in findings if f["check"].startswith("audit.")),
        "critical": sum(1 for f in findings if f["severity"] == "critical"),
        "high": sum(1 for f in findings if f["severity"] == "high"),
    }
    lists = {"hosts_list": sorted({s["address"] for s in services}), "query_open_hosts": sorted(query),
             "plaintext_hosts": sorted(plain)}
    return v, lists


def shown_values(text, values, lists, has_results):
    """The value tags of a template that show, by the brief's section rules (evaluated here, not by the engine)."""
    stack, shown = [], []

    def amount(name):
        return len(lists[name]) if name in lists else values[name]

    for m in TAG.finditer(text):
        sigil, name = m.group(1), m.group(2)
        if sigil in ("#", "^"):
            if name == "results":
                ok = has_results if sigil == "#" else not has_results
            else:
                ok = has_results and ((amount(name) > 0) == (sigil == "#"))
            stack.append(ok)
        elif sigil == "/":
            stack.pop()
        elif "|" not in name and all(stack):
            shown.append(name)
    return shown


def body_of(md):
    """A story's own text in `explain --format md`: after the title and the 'For ...' line, before the sources."""
    lines = md.split("\n")
    body = "\n".join(lines[4:])
    return body.split("\n## Sources")[0]


class Stories(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stories = load_stories()
        cls.tmp = TempDir("dg-stories-")
        out = cls.tmp.join("demo")
        cls.demo = run("demo", "--out", out, timeout=300)
        seen = cls.tmp.write("seen.jsonl", "".join(json.dumps(o) + "\n" for o in SEEN).encode())
        cls.results = [os.path.join(out, "scan.jsonl"), os.path.join(out, "files.jsonl"), seen]
        cls.values, cls.lists = expected_values(cls.results)
        cls.patients = patient_values(os.path.join(out, "samples"))
        cls.rendered = {}  # (topic, audience, with results) -> CompletedProcess of --format md
        for topic in cls.stories:
            for a in AUDIENCES:
                for with_results in (False, True):
                    extra = cls.results if with_results else []
                    cls.rendered[topic, a, with_results] = run("explain", topic, "--audience", a, "--format", "md",
                                                               *extra)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_demo_gave_results(self):
        self.assertEqual(self.demo.returncode, 0, self.demo.stderr)
        self.assertGreater(self.values["services"], 0)
        self.assertGreater(self.values["files"], 0)
        self.assertEqual(self.values["internet"], 1)

    def test_shape_sources_and_six_audiences(self):
        self.assertIn("am-i-exposed", self.stories)
        for topic, s in self.stories.items():
            with self.subTest(topic=topic):
                self.assertEqual(s.get("id"), topic)
                for key in ("title", "summary"):
                    self.assertIsInstance(s.get(key), str)
                    self.assertTrue(s[key].strip())
                for a in AUDIENCES:
                    self.assertIsInstance(s.get(a, {}).get("text"), str, f"{topic}: [{a}] text missing")
                ids = [src.get("id") for src in s.get("source", [])]
                self.assertEqual(len(ids), len(set(ids)), f"{topic}: source ids repeat")
                for src in s.get("source", []):
                    for key in ("id", "cite", "url", "figures"):
                        self.assertIn(key, src, f"{topic}: source {src.get('id')} has no {key}")
                    self.assertRegex(src["url"], r"^https?://\S+$")
                    self.assertIsInstance(src["figures"], list)

    def test_every_number_is_a_cited_figure_or_a_term_and_every_figure_is_used(self):
        for topic, s in self.stories.items():
            figures = [f for src in s.get("source", []) for f in src["figures"]]
            known = figures + list(s.get("terms", []))
            texts = {a: flat(strip_markup(s[a]["text"])) for a in AUDIENCES}
            for a, text in texts.items():
                with self.subTest(topic=topic, audience=a):
                    left = re.findall(r"\S*\d\S*", remove_all(known, text))
                    self.assertEqual(left, [], f"{topic} [{a}]: numbers that are neither a source's figure nor a "
                                               f"term")
            for src in s.get("source", []):
                for f in src["figures"]:
                    with self.subTest(topic=topic, source=src["id"], figure=f):
                        self.assertTrue(any(occurs(f, t) for t in texts.values()),
                                        f"{topic}: figure {f!r} of {src['id']} is used by no audience")

    def test_rendered_for_every_audience_with_and_without_results(self):
        for (topic, a, with_results), cp in self.rendered.items():
            with self.subTest(topic=topic, audience=a, results=with_results):
                self.assertEqual(cp.returncode, 0, cp.stderr)
                self.assertNotIn("{{", cp.stdout)
                self.assertNotIn("}}", cp.stdout)
                words = len(body_of(cp.stdout).split())
                self.assertLessEqual(words, MAX_WORDS, f"{topic} [{a}]: {words} words")
                self.assertGreater(words, 50)
                for src in self.stories[topic].get("source", []):
                    self.assertIn(f"- {src['cite']}. <{src['url']}>", cp.stdout.split("\n## Sources\n")[-1])

    def test_results_tell_the_readers_own_numbers(self):
        used = 0
        for topic, s in self.stories.items():
            changed = False
            for a in AUDIENCES:
                out = flat(self.rendered[topic, a, True].stdout)
                changed |= out != flat(self.rendered[topic, a, False].stdout)
                for name in shown_values(s[a]["text"], self.values, self.lists, True):
                    with self.subTest(topic=topic, audience=a, value=name):
                        if name in HOST_LISTS:
                            for host in self.lists[name][:12]:
                                self.assertIn(host, out)
                        else:
                            self.assertRegex(out, r"(?<![\d,.])" + re.escape(f"{self.values[name]:,}") + r"(?!\d|,\d)")
                            used += name == "services"
                # Without results, no value shows.
                self.assertEqual(shown_values(s[a]["text"], self.values, self.lists, False), [])
            with self.subTest(topic=topic):
                self.assertTrue(changed, f"{topic}: no audience's story changes with results")
        self.assertGreater(used, 0, "no story shows the number of services measured")

    def test_hosts_only_for_the_administrator(self):
        addresses = {a for a in self.lists["hosts_list"]} | {SEEN_ADDRESS}
        for topic, s in self.stories.items():
            for a in AUDIENCES:
                if a == "admin":
                    continue
                with self.subTest(topic=topic, audience=a):
                    names = {m.group(2).split("|")[0] for m in TAG.finditer(s[a]["text"])}
                    self.assertEqual(names & set(HOST_LISTS), set())
                    out = self.rendered[topic, a, True].stdout
                    for host in addresses:
                        self.assertNotIn(host, out)

    def test_no_patient_data_in_any_output(self):
        self.assertGreater(len(self.patients), len(LAB_PATIENTS + SAMPLE_PATIENTS) - 1)
        for key, cp in self.rendered.items():
            for p in self.patients:
                with self.subTest(story=key, patient=p):
                    self.assertNotIn(p, cp.stdout)

    def test_text_and_html_handouts(self):
        for topic in self.stories:
            with self.subTest(topic=topic):
                text = run("explain", topic, "--audience", "ciso", *self.results)
                self.assertEqual(text.returncode, 0, text.stderr)
                self.assertTrue(all(len(line) <= 78 or " " not in line.strip() for line in text.stdout.split("\n")))
                self.assertIn("\nSources\n", text.stdout)
                html = run("explain", topic, "--audience", "public", "--format", "html")
                self.assertEqual(html.returncode, 0, html.stderr)
                self.assertTrue(html.stdout.startswith("<!DOCTYPE html>"))
                self.assertNotRegex(html.stdout, r"<script|<link|<img|<iframe|src=|url\(|@import|\{\{")
                self.assertIn(">Sources</h2>", html.stdout)

    def test_matrix_lists_every_topic_and_audience(self):
        for fmt in ("text", "md", "html"):
            with self.subTest(format=fmt):
                cp = run("explain", "--format", fmt)
                self.assertEqual(cp.returncode, 0, cp.stderr)
                for topic, s in self.stories.items():
                    self.assertIn(topic, cp.stdout)
                for a in AUDIENCES:
                    self.assertIn(a, cp.stdout)
        html = run("explain", "--format", "html", *self.results).stdout
        self.assertEqual(set(re.findall(r'<tr data-topic="([a-z0-9-]+)"', html)), set(self.stories))

    def test_the_issues_thirteen_topics(self):
        self.assertEqual(set(self.stories) - set(TOPICS), set(), "stories that are not one of the issue's topics")
        self.assertEqual([t for t in TOPICS if t not in self.stories], [], "topics of the issue without a story")

    def test_a_count_is_told_only_when_its_measurement_was_given(self):
        """A reader who gives only a files check must not read "0 services ... none answered a stranger" (nothing was
        scanned), nor one who gives only a scan "0 files checked, none flagged": every count that comes from a scan
        sits inside {{#services}}, every count of files inside {{#files}}; and with only one kind of results no
        story says "0 of 0"."""
        outside = []
        for topic, story in self.stories.items():
            for audience in AUDIENCES:
                stack = []
                for m in TAG.finditer(story[audience]["text"]):
                    kind, name = m.group(1), m.group(2).split("|")[0].strip()
                    if kind == "/":
                        if stack:
                            stack.pop()
                        continue
                    for guard, names in (("services", SCAN_COUNTS), ("files", FILE_COUNTS)):
                        if name in names and not (name == guard and kind in ("#", "^")) and ("#", guard) not in stack:
                            outside.append(f"{topic} [{audience}]: {{{{{kind}{name}}}}} outside {{{{#{guard}}}}}")
                    if kind in ("#", "^"):
                        stack.append((kind, name))
        self.assertEqual(outside, [], "counts told where no such result may have been given")
        scan_only, files_only = self.results[0], self.results[1]
        for topic in self.stories:
            for audience in AUDIENCES:
                for given in (scan_only, files_only):
                    with self.subTest(topic=topic, audience=audience, given=os.path.basename(given)):
                        cp = run("explain", topic, "--audience", audience, given)
                        self.assertEqual(cp.returncode, 0, cp.stderr)
                        self.assertNotRegex(flat(cp.stdout), r"\b0 of 0\b")

    def test_every_command_a_story_gives_exists_with_its_flags(self):
        """A reader pastes the commands: each `dicomguard SUB [SUB2] ...` names a real subcommand, and each of its
        flags is in that subcommand's --help."""
        helps = {}

        def help_of(words):
            key = " ".join(words)
            if key not in helps:
                cp = run(*words, "--help")
                helps[key] = (cp.returncode, cp.stdout + cp.stderr)
            return helps[key]

        for topic, story in self.stories.items():
            for audience in AUDIENCES:
                for cmd in re.findall(r"`(dicomguard [^`]*)`", story[audience]["text"]):
                    words = cmd.split()[1:]
                    if not words:
                        continue
                    with self.subTest(topic=topic, audience=audience, command=cmd):
                        sub = words[:1]
                        if len(words) > 1 and not words[1].startswith("-"):
                            rc, h = help_of(words[:2])
                            if rc == 0 and f"Usage: dicomguard {words[0]} {words[1]}" in h:
                                sub = words[:2]
                        rc, h = help_of(sub)
                        self.assertEqual(rc, 0, f"no subcommand {' '.join(sub)}")
                        for flag in re.findall(r"(?<![\w-])(--[a-zA-Z][\w-]*|-[a-zA-Z])", " ".join(words[len(sub):])):
                            self.assertRegex(h, r"(?<![\w-])" + re.escape(flag) + r"(?![\w-])", f"unknown flag {flag}")

    def test_bad_input_is_one_line_and_exit_2(self):
        for args, says in ((["no-such-topic"], "topics: "), (["am-i-exposed", "--audience", "boss"], "audiences: "),
                           (["am-i-exposed", "--format", "pdf"], "formats: "),
                           (["am-i-exposed", self.tmp.join("missing.jsonl")], "cannot read"),
                           (["am-i-exposed", self.tmp.write("bad.jsonl", b"not json\n")], "not dicomguard results"),
                           (["am-i-exposed", self.tmp.write("empty.jsonl", b"")], "no dicomguard results")):
            with self.subTest(args=args):
                cp = run("explain", *args)
                self.assertEqual(cp.returncode, 2)
                self.assertEqual(cp.stdout, "")
                self.assertEqual(len(cp.stderr.strip().split("\n")), 1, cp.stderr)
                self.assertIn(says, cp.stderr)
        cp = run("explain", "no-such-topic")
        for t in self.stories:
            self.assertIn(t, cp.stderr)

    def test_a_full_disk_is_an_error_not_a_story_that_vanished(self):
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full")
        for args in (["am-i-exposed", "--audience", "admin"], []):
            with self.subTest(args=args), open("/dev/full", "w") as full:
                cp = subprocess.run([BINARY, "explain", *args], stdout=full, stderr=subprocess.PIPE, text=True)
                self.assertEqual(cp.returncode, 2)
                self.assertIn("cannot write to standard output", cp.stderr)


if __name__ == "__main__":
    unittest.main()
