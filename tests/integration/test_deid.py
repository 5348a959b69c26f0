"""Integration tests for `dicomguard deid` (issue 12: PS3.15 Annex E de-identification).

1. The marker corpus itself (deid_corpus.py), which needs no CLI: the manifest covers every row of Table E.1-1
   that the PS3.6 dictionary has; every marker is found in its input (also in the deflated one) by the same
   search the de-identification checks use; pydicom and dcmdump read every instance; dciodvfy runs on each;
   PixelMed's defaults differ from Table E.1-1 only as explained in pixelmed_deid.EXPLAINED.
2. The CLI (skipped, with the reason, while `dicomguard deid --help` fails): the basic profile and each option
   leave no marker except those the option retains (and keep those it says K for); outputs parse with dcmdump,
   pydicom and dciodvfy with no error the input did not have; the same key gives byte-identical output on two
   runs and on two --shard halves; another key gives other UIDs; references between instances stay consistent;
   kill -9 at random moments leaves no partial output at a final name, and --resume completes the run;
   `dicomguard files` on the output finds no preamble or payload; exit codes; the key is never printed;
   our action for every attribute equals PixelMed DeidentifyAndRedact's or the difference is explained.

Run: DICOMGUARD=build/dicomguard /usr/bin/python3 -m unittest -v tests/integration/test_deid.py
(from tests/integration, or with that folder on sys.path; ctest registers it as integration.test_deid).
"""

import base64
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import warnings

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import deid_corpus as C  # noqa: E402
import helpers as H  # noqa: E402
import pixelmed_deid as P  # noqa: E402

VERBOSE = "-v" in sys.argv or "--verbose" in sys.argv or bool(os.environ.get("DG_VERBOSE"))


def _cli_reason():
    """None when `dicomguard deid` exists, else why the CLI tests are skipped."""
    if not os.access(H.BINARY, os.X_OK):
        return f"dicomguard binary not found at {H.BINARY} (set DICOMGUARD)"
    try:
        cp = H.run("deid", "--help", timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        return f"`dicomguard deid --help` did not run: {e}"
    # CLI11 answers `X --help` with the top-level help (exit 0) when X is not a subcommand: look for deid's flag.
    if cp.returncode != 0 or "--key-file" not in cp.stdout + cp.stderr:
        return (f"`{H.BINARY} deid --help` exits {cp.returncode} without deid's --key-file: the deid command "
                f"(issue 12) is not in this build yet")
    return None


CLI_REASON = _cli_reason()
needs_cli = unittest.skipIf(CLI_REASON is not None, CLI_REASON or "")
needs_pixelmed = unittest.skipUnless(P.available(), "PixelMed (pixelmed-apps) or java not installed")


def tree_bytes(root, skip_quarantine=True):
    """{relative path: bytes} of every file below root."""
    out = {}
    for d, dirs, names in os.walk(root):
        if skip_quarantine:
            dirs[:] = [x for x in dirs if x != ".quarantine"]
        for n in names:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = f.read()
    return out


def dcmdump_errors(path):
    cp = subprocess.run(["dcmdump", "+E", path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                        stdin=subprocess.DEVNULL)
    text = cp.stderr.decode("utf-8", "replace")
    return cp.returncode, [line for line in text.splitlines() if line.startswith(("E:", "F:"))]


_VALUES = re.compile(r'"[^"]*"|<[^>]*>|\[[^\]]*\]|0x[0-9a-fA-F]+|\d+(\.\d+)*')


def dciodvfy_errors(path):
    """dciodvfy's Error lines, with values and numbers taken out (so an input and its output compare).

    dciodvfy does not inflate a deflated data set (it reads the compressed bytes as tags): such a file is first
    converted to explicit VR little endian with DCMTK's dcmconv +te, and that copy is verified."""
    with open(path, "rb") as f:
        head = f.read(4096)
    target = path
    tmp = None
    if C.DEFLATED.encode() + b"\0" in head or head.find(C.DEFLATED.encode()) > 0:
        tmp = tempfile.NamedTemporaryFile(suffix=".dcm", delete=False)
        tmp.close()
        subprocess.run(["dcmconv", "+te", path, tmp.name], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        target = tmp.name
    try:
        cp = subprocess.run(["dciodvfy", "-filename", target], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    finally:
        if tmp:
            os.unlink(tmp.name)
    text = cp.stdout.decode("utf-8", "replace").replace(target, "FILE")
    return cp.returncode, {_VALUES.sub("#", line).strip() for line in text.splitlines()
                           if "Error" in line or "Abort" in line}


def pydicom_read_all(path):
    """Reads path with pydicom and touches every value at every depth; raises on failure."""
    import pydicom
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        for _ in ds.iterall():
            pass
    return ds


# ========================================================================================= 1. the marker corpus

class CorpusGeneratorTest(unittest.TestCase):
    """deid_corpus.py on its own: what the CLI tests rely on."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = H.TempDir("dg-deid-corpus-")
        cls.manifest = C.generate(cls.tmp.path)
        cls.input = cls.tmp.join("input")
        cls.files = [os.path.join(cls.input, f["file"]) for f in cls.manifest["files"]]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_manifest_covers_every_e11_row_in_the_dictionary(self):
        rows, dictionary, _ = C.load_tables()
        self.assertEqual(len(rows), 621)
        in_dict = {r["tag"] for r in C.dictionary_rows(rows, dictionary)}
        self.assertEqual(len(in_dict), 617)
        covered = set(self.manifest["rows_covered"])
        self.assertEqual(in_dict - covered, set())
        # and the two pattern rows the dictionary lacks: curves and private attributes
        self.assertIn("(50XX,XXXX)", covered)
        self.assertIn("(GGGG,EEEE) WHERE GGGG IS ODD", covered)

    def test_every_row_is_filled_at_top_level_and_five_deep_in_every_instance(self):
        rows, dictionary, _ = C.load_tables()
        want = {r["tag"] for r in C.dictionary_rows(rows, dictionary)
                if "X" not in r["tag"][1:5] and r["tag"] != "(0002,0003)"}
        deep = "".join(t + "[0]" for t in C.CHAIN)
        for f in self.manifest["files"]:
            mks = [m for m in self.manifest["markers"] if m["file"] == f["file"]]
            top = {m["row"]["tag"] for m in mks if "[" not in m["path"] or m["kind"] == "sq"}
            self.assertEqual(want - top, set(), f["file"])
            nested = {m["row"]["tag"] for m in mks if m["path"].startswith(deep)}
            seqs = {r["tag"] for r in rows if r["tag"] in want
                    and dictionary[r["tag"]]["valueRepresentation"] == "SQ"}
            self.assertEqual(want - seqs - {"(FFFC,FFFC)"} - nested, set(), f["file"])
            kinds = {m["kind"] for m in mks}
            self.assertLessEqual({"private-safe", "private-unsafe", "private-unknown", "overlay", "curve", "sq",
                                  "reference"}, kinds, f["file"])

    def test_markers_are_unique(self):
        shared = {"(0008,0018)", "(0002,0003)", "(0020,000D)", "(0020,000E)", "(0020,0052)", "(0010,0020)",
                  "(0010,0010)", "(0008,0020)", "(0020,0010)", "(0008,0050)"}
        seen = {}
        for m in self.manifest["markers"]:
            if m["kind"] == "reference" or m["path"] in shared:
                continue
            self.assertNotIn(m["needle"], seen, f"{m['file']} {m['path']} repeats {seen.get(m['needle'])}")
            seen[m["needle"]] = (m["file"], m["path"])
        strong = [bytes.fromhex(n) for n in seen if len(n) >= 12]
        self.assertGreater(len(strong), 3000)

    def test_transfer_syntaxes_explicit_implicit_deflated(self):
        import pydicom
        got = {pydicom.dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID for p in self.files}
        self.assertEqual(got, {C.EXPLICIT, C.IMPLICIT, C.DEFLATED})

    def test_every_marker_is_found_in_its_input(self):
        """The detector works: on the unchanged input, every marker is found in its own file (deflated too)."""
        found = {(rel, m["file"], m["path"]) for rel, m in C.find_markers(self.manifest["markers"], self.input)}
        missing = [(m["file"], m["path"]) for m in self.manifest["markers"]
                   if (m["file"], m["file"], m["path"]) not in found]
        self.assertEqual(missing, [])

    def test_survivors_of_an_empty_output_is_empty(self):
        with H.TempDir() as t:
            self.assertEqual(C.survivors(self.manifest, t.path, ()), [])

    def test_may_retain_follows_the_option_columns(self):
        by = {(m["file"], m["path"]): m for m in self.manifest["markers"]}
        sop = by[("explicit/inst1.dcm", "(0008,0018)")]
        self.assertFalse(C.may_retain(sop, []))
        self.assertTrue(C.may_retain(sop, ["--retain-uids"]))
        date = by[("explicit/inst1.dcm", "(0008,0022)")]  # Acquisition Date: X/Z, K under full dates
        self.assertFalse(C.may_retain(date, []))
        self.assertTrue(C.may_retain(date, ["--retain-long-full-dates"]))
        self.assertFalse(C.may_retain(date, ["--retain-long-modified-dates"]))
        self.assertFalse(C.may_retain(date, ["--clean-descriptors"]))
        safe = next(m for m in self.manifest["markers"] if m["kind"] == "private-safe")
        unsafe = next(m for m in self.manifest["markers"] if m["kind"] == "private-unsafe")
        unknown = next(m for m in self.manifest["markers"] if m["kind"] == "private-unknown")
        self.assertTrue(C.may_retain(safe, ["--retain-safe-private"]))
        self.assertFalse(C.may_retain(safe, []))
        self.assertFalse(C.may_retain(unsafe, ["--retain-safe-private"]))
        self.assertFalse(C.may_retain(unknown, ["--retain-safe-private"]))

    def test_survivors_finds_what_an_option_does_not_retain(self):
        # the input itself, judged as if it were the output of --retain-uids: UIDs pass, names do not
        got = {(m["file"], m["path"]) for _, m in C.survivors(self.manifest, self.input, ["--retain-uids"])}
        self.assertNotIn(("explicit/inst1.dcm", "(0008,0018)"), got)
        self.assertIn(("explicit/inst1.dcm", "(0010,0010)"), got)

    def test_pydicom_reads_every_file(self):
        for p in self.files:
            with self.subTest(p=os.path.relpath(p, self.input)):
                pydicom_read_all(p)

    @unittest.skipUnless(shutil.which("dcmdump"), "dcmdump (dcmtk) not installed")
    def test_dcmdump_reads_every_file(self):
        for p in self.files:
            with self.subTest(p=os.path.relpath(p, self.input)):
                rc, errors = dcmdump_errors(p)
                self.assertEqual((rc, errors), (0, []))

    @unittest.skipUnless(shutil.which("dciodvfy"), "dciodvfy (dicom3tools) not installed")
    def test_dciodvfy_runs_on_every_file(self):
        for p in self.files:
            with self.subTest(p=os.path.relpath(p, self.input)):
                rc, errors = dciodvfy_errors(p)
                self.assertGreaterEqual(rc, 0, "dciodvfy died on a signal")
                self.assertFalse([e for e in errors if "Abort" in e or "read failed" in e], errors)
                if VERBOSE:
                    print(f"\n{os.path.relpath(p, self.input)}: dciodvfy, {len(errors)} distinct errors "
                          f"(the output may add none)")

    @needs_pixelmed
    def test_pixelmed_defaults_differ_from_table_e11_only_as_explained(self):
        """Stands in for our side until the CLI exists: an output that follows Table E.1-1 exactly (any of the
        actions of a compound row) differs from PixelMed's only where pixelmed_deid.EXPLAINED says why."""
        actions = P.pixelmed_actions(self.input, per_file=True)
        self.assertEqual(set(actions), {f["file"] for f in self.manifest["files"]})
        unexplained = []
        for rel, acts in actions.items():
            for path, theirs in acts.items():
                allowed = P.table_actions(P.table_row(path))
                if theirs in allowed:
                    continue
                bad = sorted(o for o in allowed if not P.explained(path, o, theirs))
                if bad:
                    unexplained.append((rel, path, theirs, bad))
        self.assertEqual(unexplained, [])


# ================================================================================================== 2. the CLI

OPTIONS = sorted(C.OPTION_COLUMNS)
# Every option at once, but one of the two longitudinal date options: they are alternatives (PS3.15 E.3.6), and
# deid refuses both together.
ALL_TOGETHER = [o for o in OPTIONS if o != "--retain-long-modified-dates"]

# dciodvfy errors that removing what Table E.1-1 says X can cause in a conforming output: a conditional attribute
# the table keeps, whose condition named an attribute the table removes ("present when condition unsatisfied",
# "X present but Y absent"). They are not errors of the writer; every other new error is.
PROFILE_CONSEQUENCE = re.compile(r"present when condition unsatisfied|present but")


def rec_get(rec, *keys):
    for k in keys:
        if k in rec:
            return rec[k]
    return None


@needs_cli
class DeidCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = H.TempDir("dg-deid-cli-")
        cls.manifest = C.generate(cls.tmp.path)
        cls.input = cls.tmp.join("input")
        cls.input_hashes = {k: hashlib.sha256(v).hexdigest() for k, v in tree_bytes(cls.input).items()}
        cls.key = cls.tmp.join("key")
        cp = H.run("deid", "--new-key", cls.key)
        assert cp.returncode == 0, cp.stderr
        cls.key2 = cls.tmp.join("key2")
        cp = H.run("deid", "--new-key", cls.key2)
        assert cp.returncode == 0, cp.stderr
        cls.runs = {}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    # ------------------------------------------------------------------------------------------------ helpers

    def deid(self, *options, key=None, out=None, inputs=None, json_lines=True):
        """Runs deid; returns (CompletedProcess, output dir, records or None)."""
        out = out or self.tmp.join(f"out-{len(os.listdir(self.tmp.path))}")
        args = ["deid", *(inputs or [self.input]), "-o", out, "--key-file", key or self.key, *options]
        if json_lines:
            args.append("--json")
        cp = H.run(*args)
        recs = H.parse_jsonl(cp.stdout) if json_lines and cp.returncode in (0, 1) else None
        return cp, out, recs

    def basic(self, *options):
        """One cached run per option set, with the main key."""
        k = tuple(sorted(options))
        if k not in self.runs:
            cp, out, recs = self.deid(*k)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.runs[k] = (cp, out, recs)
        return self.runs[k]

    def output_of(self, out, rel):
        return os.path.join(out, rel)

    def assert_no_survivors(self, out, options):
        # an output that is not there has no survivors: first, every input has its output
        missing = sorted({f["file"] for f in self.manifest["files"]} - set(tree_bytes(out)))
        self.assertEqual(missing, [], f"no output for these inputs under {list(options) or 'the basic profile'}")
        found = C.survivors(self.manifest, out, options)
        shown = "\n  ".join(f"{rel}: {m['path']} ({m['row']['name'] if m['row'] else m['kind']}, "
                            f"basic {m['row']['basic'] if m['row'] else '-'}) {m['text'] or m['needle']}"
                            for rel, m in found[:40])
        self.assertEqual(len(found), 0, f"{len(found)} markers survive {list(options) or 'the basic profile'}:"
                                        f"\n  {shown}")

    # -------------------------------------------------------------------------------------------------- tests

    def test_new_key_is_32_random_bytes_mode_0600(self):
        st = os.stat(self.key)
        self.assertEqual(st.st_mode & 0o777, 0o600)
        with open(self.key, "rb") as f, open(self.key2, "rb") as g:
            a, b = f.read(), g.read()
        self.assertNotEqual(a, b)
        raw = a if len(a) == 32 else bytes.fromhex(a.decode().strip())
        self.assertEqual(len(raw), 32)

    def test_basic_profile_no_marker_survives(self):
        cp, out, recs = self.basic()
        self.assert_no_survivors(out, [])

    def test_each_option_no_marker_survives_but_what_it_retains(self):
        for opt in OPTIONS:
            with self.subTest(option=opt):
                cp, out, recs = self.basic(opt)
                self.assert_no_survivors(out, [opt])

    def test_all_options_together(self):
        cp, out, recs = self.basic(*ALL_TOGETHER)
        self.assert_no_survivors(out, ALL_TOGETHER)

    def test_the_two_longitudinal_date_options_exclude_each_other(self):
        cp, out, _ = self.deid("--retain-long-full-dates", "--retain-long-modified-dates")
        self.assertEqual(cp.returncode, 2)
        self.assertFalse(os.path.exists(out))
        self.assertIn("exclude each other", cp.stderr)

    def test_k_under_an_option_keeps_the_value(self):
        """What an option's column says K for is still there (top level, non-sequence markers)."""
        for opt, col in C.OPTION_COLUMNS.items():
            keep = [m for m in self.manifest["markers"] if m["row"] and m["row"]["options"].get(col) == "K"
                    and "[" not in m["path"] and m["kind"] == "value"]
            if not keep:
                continue
            with self.subTest(option=opt):
                cp, out, recs = self.basic(opt)
                found = {(m["file"], m["path"]) for rel, m in C.find_markers(keep, out) if rel == m["file"]}
                lost = [(m["file"], m["path"], m["row"]["name"]) for m in keep if (m["file"], m["path"]) not in found]
                self.assertEqual(lost, [], f"{opt} should keep these")

    def test_safe_private_kept_by_creator_and_offset_only_under_the_option(self):
        cp, out, recs = self.basic("--retain-safe-private")
        safe = [m for m in self.manifest["markers"] if m["kind"] == "private-safe"]
        found = {(m["file"], m["path"]) for rel, m in C.find_markers(safe, out) if rel == m["file"]}
        self.assertEqual({(m["file"], m["path"]) for m in safe}, found)

    def test_json_one_record_per_input_and_summary(self):
        cp, out, recs = self.basic()
        deids = [r for r in recs if r["type"] == "deid"]
        self.assertEqual(len(deids), len(self.manifest["files"]))
        self.assertEqual({r["status"] for r in deids}, {"written"})
        summary = [r for r in recs if r["type"] == "summary"]
        self.assertEqual(len(summary), 1)
        self.assertEqual(summary[0].get("command"), "deid")

    def test_never_a_patient_value_in_stdout_or_stderr(self):
        for opts in ((), ("--retain-uids",)):
            cp, out, recs = self.basic(*opts)
            text = (cp.stdout + cp.stderr).encode()
            leaked = [m["path"] for m in self.manifest["markers"]
                      if m["strong"] and m["vr"] != "UI" and bytes.fromhex(m["needle"]) in text]
            self.assertEqual(leaked, [])

    def test_output_tree_mirrors_the_input(self):
        cp, out, recs = self.basic()
        self.assertEqual(sorted(tree_bytes(out)), sorted(f["file"] for f in self.manifest["files"]))

    def test_inputs_never_modified(self):
        self.basic()
        now = {k: hashlib.sha256(v).hexdigest() for k, v in tree_bytes(self.input).items()}
        self.assertEqual(now, self.input_hashes)

    @unittest.skipUnless(shutil.which("dcmdump"), "dcmdump not installed")
    def test_outputs_parse_with_dcmdump(self):
        for opts in ((), tuple(ALL_TOGETHER), ("--retain-long-modified-dates",)):
            cp, out, recs = self.basic(*opts)
            for rel in tree_bytes(out):
                with self.subTest(options=opts, file=rel):
                    self.assertEqual(dcmdump_errors(os.path.join(out, rel)), (0, []))

    def test_outputs_parse_with_pydicom_and_keep_the_transfer_syntax(self):
        cp, out, recs = self.basic()
        for f in self.manifest["files"]:
            with self.subTest(file=f["file"]):
                ds = pydicom_read_all(os.path.join(out, f["file"]))
                self.assertEqual(ds.file_meta.TransferSyntaxUID, f["transfer_syntax"])
                self.assertEqual(ds.SOPClassUID, C.CT_IMAGE)  # registry UIDs never change
                self.assertEqual(ds.file_meta.MediaStorageSOPInstanceUID, ds.SOPInstanceUID)

    @unittest.skipUnless(shutil.which("dciodvfy"), "dciodvfy not installed")
    def test_outputs_no_dciodvfy_error_the_input_did_not_have(self):
        for opts in ((), tuple(ALL_TOGETHER), ("--retain-long-modified-dates",)):
            cp, out, recs = self.basic(*opts)
            for f in self.manifest["files"]:
                with self.subTest(options=opts, file=f["file"]):
                    _, before = dciodvfy_errors(os.path.join(self.input, f["file"]))
                    rc, after = dciodvfy_errors(os.path.join(out, f["file"]))
                    self.assertGreaterEqual(rc, 0)
                    self.assertEqual(sorted(e for e in after - before if not PROFILE_CONSEQUENCE.search(e)), [])

    def test_added_attributes_per_e3(self):
        cp, out, recs = self.basic("--retain-uids")
        ds = pydicom_read_all(os.path.join(out, "explicit/inst1.dcm"))
        self.assertEqual(ds.PatientIdentityRemoved, "YES")
        self.assertIn("dicomguard", str(ds.get("DeidentificationMethod", "")))
        codes = {i.CodeValue for i in ds.DeidentificationMethodCodeSequence}
        self.assertIn("113100", codes)
        self.assertIn("113110", codes)  # Retain UIDs Option
        with open(os.path.join(out, "explicit/inst1.dcm"), "rb") as f:
            self.assertEqual(f.read(128), bytes(128), "the preamble is zeroed")

    def test_method_code_sequence_names_every_option(self):
        """CID 7050: 113100 for the profile and one code per option used."""
        codes = {"--clean-graphics": "113103", "--clean-structured-content": "113104",
                 "--clean-descriptors": "113105", "--retain-long-full-dates": "113106",
                 "--retain-long-modified-dates": "113107", "--retain-patient-characteristics": "113108",
                 "--retain-device-identity": "113109", "--retain-uids": "113110", "--retain-safe-private": "113111",
                 "--retain-institution-identity": "113112"}
        for opt, code in codes.items():
            with self.subTest(option=opt):
                cp, out, recs = self.basic(opt)
                ds = pydicom_read_all(os.path.join(out, "explicit/inst1.dcm"))
                got = {i.CodeValue for i in ds.DeidentificationMethodCodeSequence}
                self.assertLessEqual({"113100", code}, got)
                others = set(codes.values()) - {code}
                self.assertEqual(got & others, set(), "a code for an option not used")

    def test_same_key_twice_byte_identical(self):
        cp, out, recs = self.basic()
        cp2, out2, _ = self.deid()
        self.assertEqual(cp2.returncode, 0, cp2.stderr)
        self.assertEqual(tree_bytes(out), tree_bytes(out2))

    def test_two_shard_halves_byte_identical_to_one_run(self):
        cp, out, recs = self.basic()
        full = tree_bytes(out)
        for first, second in (("1/2", "2/2"), ("0/2", "1/2")):
            a = self.deid("--shard", first, json_lines=False)
            b = self.deid("--shard", second, json_lines=False)
            if a[0].returncode == 0 and b[0].returncode == 0:
                break
        else:
            self.fail(f"--shard 1/2,2/2 and 0/2,1/2 both fail: {a[0].stderr} {b[0].stderr}")
        ta, tb = tree_bytes(a[1]), tree_bytes(b[1])
        self.assertEqual(set(ta) & set(tb), set(), "the halves overlap")
        self.assertEqual({**ta, **tb}, full)

    def test_different_key_different_uids(self):
        cp, out, recs = self.basic()
        cp2, out2, _ = self.deid(key=self.key2)
        self.assertEqual(cp2.returncode, 0, cp2.stderr)
        for f in self.manifest["files"]:
            a = pydicom_read_all(os.path.join(out, f["file"]))
            b = pydicom_read_all(os.path.join(out2, f["file"]))
            for kw in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
                with self.subTest(file=f["file"], attribute=kw):
                    self.assertNotEqual(a.get(kw), b.get(kw))
                    self.assertTrue(str(a.get(kw)).startswith("2.25."), a.get(kw))

    def test_references_consistent_across_instances(self):
        cp, out, recs = self.basic()
        outs = {f["file"]: pydicom_read_all(os.path.join(out, f["file"])) for f in self.manifest["files"]}
        study = {str(ds.StudyInstanceUID) for ds in outs.values()}
        self.assertEqual(len(study), 1, "one study in, one study out")
        checked = 0
        for m in self.manifest["markers"]:
            if m["kind"] != "reference":
                continue
            el = P._lookup(outs[m["file"]], m["path"])
            if el is None:  # a reference inside an X/Z/U* sequence the tool removed or emptied
                continue
            with self.subTest(file=m["file"], path=m["path"]):
                self.assertEqual(str(el.value), str(outs[m["target"]].SOPInstanceUID))
                checked += 1
        self.assertGreaterEqual(checked, sum(len(r) for _, _, r in C.INSTANCES))

    def test_rename_hides_the_names_and_is_keyed(self):
        cp, out, _ = self.deid("--rename", json_lines=False)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        names = sorted(tree_bytes(out))
        self.assertEqual(len(names), len(self.manifest["files"]))
        self.assertFalse([n for n in names if "inst" in n or "explicit" in n], names)
        cp2, out2, _ = self.deid("--rename", key=self.key2, json_lines=False)
        self.assertNotEqual(names, sorted(tree_bytes(out2)))

    def test_linkage_maps_old_to_new(self):
        link = self.tmp.join("linkage.csv")
        cp, out, _ = self.deid("--linkage", link, json_lines=False)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        with open(link) as f:
            pairs = dict(line.strip().split(",", 1) for line in f if line.strip() and "," in line)
        for fl in self.manifest["files"]:
            ds = pydicom_read_all(os.path.join(out, fl["file"]))
            self.assertEqual(pairs.get(fl["sop_instance_uid"]), str(ds.SOPInstanceUID))

    def test_files_on_the_output_finds_no_preamble_or_payload(self):
        cp, out, recs = self.basic()
        fcp, report = H.files_json(out)
        self.assertIn(fcp.returncode, (0, 1), fcp.stderr)
        bad = [(fr.obj["path"], c) for fr in report.files for c in fr.checks
               if c.startswith("file.preamble.") or c.startswith("file.payload.")]
        self.assertEqual(bad, [])

    # ------------------------------------------------------------------------------------------------ --verify

    def verify(self, target, *against):
        args = ["deid", "--verify", target, "--json"]
        for a in against:
            args += ["--against", a]
        cp = H.run(*args)
        self.assertIn(cp.returncode, (0, 1), cp.stderr)
        objs = H.parse_jsonl(cp.stdout)
        return cp, [o for o in objs if o["type"] == "verify"], [o for o in objs if o["type"] == "finding"], objs[-1]

    def test_verify_finds_every_output_clean_against_its_input(self):
        for opts in ((), tuple(ALL_TOGETHER), ("--retain-long-modified-dates",)):
            with self.subTest(options=opts):
                _, out, _ = self.basic(*opts)
                cp, recs, findings, summary = self.verify(out, self.input)
                self.assertEqual(cp.returncode, 0, [(f["target"], f["check"], f["title"]) for f in findings][:10])
                self.assertEqual(len(recs), len(self.manifest["files"]))
                self.assertEqual({r["status"] for r in recs}, {"clean"})
                self.assertGreater(summary["against"]["values"], 1000)
                self.assertTrue(all(r["deidentified"] for r in recs))

    def test_verify_finds_the_input_full_of_patient_data(self):
        cp, recs, findings, summary = self.verify(self.input, self.input)
        self.assertEqual(cp.returncode, 1)
        self.assertEqual({r["status"] for r in recs}, {"residual"})
        by_file = {}
        for f in findings:
            by_file.setdefault(f["target"], set()).add(f["check"])
        for checks in by_file.values():
            self.assertTrue({"deid.residual.attribute", "deid.residual.private", "deid.residual.uid",
                             "deid.residual.value"} <= checks, checks)
        # Tags and counts, never the values found.
        markers = [m["text"] for m in self.manifest["markers"] if m.get("text") and len(m["text"]) >= 8][:200]
        leaked = [m for m in markers if m in cp.stdout or m in cp.stderr]
        self.assertEqual(leaked, [])

    def test_verify_finds_a_value_a_tool_left_behind(self):
        """A de-identified copy with one input marker spliced back in (as a tool that missed a text would leave
        it) is residual, and the finding names the attribute the value came from."""
        _, out, _ = self.basic()
        leaky = self.tmp.join("leaky")
        shutil.copytree(out, leaky)
        f = self.manifest["files"][0]["file"]
        marker = next(m for m in self.manifest["markers"]
                      if m.get("text") and len(m["text"]) >= 6 and m["path"].count("(") == 1 and m["kind"] == "value"
                      and m["vr"] in ("LO", "SH")  # whole values (LT and the like add words around the marker)
                      and m["row"] and m["row"]["basic"] == "X")
        path = os.path.join(leaky, f)
        with open(path, "rb") as fh:
            data = fh.read()
        at = data.find(b"dicomguard")
        self.assertGreater(at, 0)
        text = marker["text"].encode()
        data = data[:at] + text + data[at + len(text):]
        with open(path, "wb") as fh:
            fh.write(data)
        cp, recs, findings, _ = self.verify(leaky, self.input)
        self.assertEqual(cp.returncode, 1)
        values = [x for x in findings if x["check"] == "deid.residual.value"]
        self.assertEqual([x["target"] for x in values], [path])
        self.assertIn(marker["path"][:11], values[0]["evidence"]["source_tags"])
        self.assertNotIn(marker["text"], cp.stdout)

    def test_report_checklist_judges_deidentification_from_verify(self):
        _, out, _ = self.basic()
        results = self.tmp.join("verify-clean.jsonl")
        with open(results, "w") as fh:
            fh.write(self.verify(out, self.input)[0].stdout)
        leaky = self.tmp.join("verify-input.jsonl")
        with open(leaky, "w") as fh:
            fh.write(self.verify(self.input)[0].stdout)
        for path, want in ((results, "pass"), (leaky, "fail")):
            with self.subTest(results=path):
                html = self.tmp.join(os.path.basename(path) + ".html")
                cp = H.run("report", path, "-o", html)
                self.assertEqual(cp.returncode, 0, cp.stderr)
                with open(html, encoding="utf-8") as fh:
                    page = fh.read()
                self.assertIn(f'data-item="deid" data-status="{want}"', page)

    def test_key_never_printed_or_written(self):
        with open(self.key, "rb") as f:
            k = f.read()
        raw = k if len(k) == 32 else bytes.fromhex(k.decode().strip())
        forms = {raw, raw.hex().encode(), raw.hex().upper().encode(), base64.b64encode(raw),
                 base64.urlsafe_b64encode(raw).rstrip(b"=")}
        link = self.tmp.join("linkage-key.csv")
        cp, out, _ = self.deid("--linkage", link)
        texts = [cp.stdout.encode(), cp.stderr.encode(), *tree_bytes(out).values()]
        with open(link, "rb") as f:
            texts.append(f.read())
        hcp = H.run("deid", "--help")
        texts += [hcp.stdout.encode(), hcp.stderr.encode()]
        for t in texts:
            for form in forms:
                self.assertNotIn(form, t)

    def test_exit_codes(self):
        cp = H.run("deid", self.input, "--key-file", self.key)  # no -o
        self.assertEqual(cp.returncode, 2, "usage error")
        cp = H.run("deid", self.input, "-o", self.tmp.join("x1"), "--key-file", self.tmp.join("no-such-key"))
        self.assertEqual(cp.returncode, 2, "missing key")
        cp = H.run("deid", self.tmp.join("no-such-input"), "-o", self.tmp.join("x2"), "--key-file", self.key)
        self.assertEqual(cp.returncode, 2, "missing input")
        cp = H.run("deid", self.input, "-o", self.tmp.join("x3"), "--key-file", self.key, "--burned-in", "maybe")
        self.assertEqual(cp.returncode, 2, "bad --burned-in value")
        cp = H.run("deid", self.input, "-o", self.tmp.join("x4"), "--key-file", self.key, "--no-such-option")
        self.assertEqual(cp.returncode, 2, "unknown option")

    def test_burned_in_quarantine_keep_fail(self):
        """A Secondary Capture without Burned In Annotation is quarantined by default (exit 1), written with
        keep (exit 0), refused with fail (non-zero)."""
        import pydicom
        src = pydicom.dcmread(os.path.join(self.input, "explicit/inst1.dcm"))
        src.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
        src.file_meta.MediaStorageSOPClassUID = src.SOPClassUID
        src.Modality = "OT"
        del src.BurnedInAnnotation
        d = self.tmp.join("sc-in")
        os.makedirs(d, exist_ok=True)
        src.save_as(os.path.join(d, "sc.dcm"))
        cp, out, recs = self.deid(inputs=[d])
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertEqual([r["status"] for r in recs if r["type"] == "deid"], ["quarantined"])
        self.assertEqual(tree_bytes(out), {})
        self.assertTrue(os.listdir(os.path.join(out, ".quarantine")))
        cp, out, recs = self.deid("--burned-in", "keep", inputs=[d])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual([r["status"] for r in recs if r["type"] == "deid"], ["written"])
        cp, out, recs = self.deid("--burned-in", "fail", inputs=[d], json_lines=False)
        self.assertNotEqual(cp.returncode, 0)
        self.assertEqual(tree_bytes(out) if os.path.isdir(out) else {}, {})

    def test_non_dicom_and_dicomdir_reported_not_copied(self):
        d = self.tmp.join("mixed-in")
        os.makedirs(d, exist_ok=True)
        shutil.copy(os.path.join(self.input, "explicit/inst1.dcm"), os.path.join(d, "a.dcm"))
        with open(os.path.join(d, "notes.txt"), "w") as f:
            f.write("not dicom\n")
        cp, out, recs = self.deid(inputs=[d])
        self.assertIn(cp.returncode, (0, 1), cp.stderr)
        self.assertEqual(sorted(tree_bytes(out)), ["a.dcm"])
        st = {os.path.basename(str(rec_get(r, "input", "path", "input_path"))): r["status"]
              for r in recs if r["type"] == "deid"}
        self.assertEqual(st.get("a.dcm"), "written")
        self.assertIn(st.get("notes.txt"), ("skipped", "refused", "error"))

    def test_kill9_leaves_no_partial_output_and_resume_completes(self):
        """kill -9 at random moments of a run over a larger input: every file at a final output name is
        complete (byte-identical to an uninterrupted run); --resume then completes the tree."""
        big = self.tmp.join("big-in")
        if not os.path.isdir(big):
            for i in range(12):
                shutil.copytree(self.input, os.path.join(big, f"copy{i:02d}"))
            make_multiframe(os.path.join(big, "large", "mf.dcm"), frames=40)
        ref = self.tmp.join("big-ref")
        cp = H.run("deid", big, "-o", ref, "--key-file", self.key)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        want = tree_bytes(ref)
        t0 = time.monotonic()
        H.run("deid", big, "-o", self.tmp.join("big-timing"), "--key-file", self.key)
        full = time.monotonic() - t0
        rnd = random.Random(int(os.environ.get("DG_KILL_SEED", "12")))
        for n in range(6):
            out = self.tmp.join(f"big-kill-{n}")
            delay = rnd.uniform(0, full)
            proc = subprocess.Popen([H.BINARY, "deid", big, "-o", out, "--key-file", self.key, "-j2"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            got = tree_bytes(out) if os.path.isdir(out) else {}
            with self.subTest(kill=n, delay=round(delay, 3)):
                partial = [k for k, v in got.items() if k in want and v != want[k]]
                self.assertEqual(partial, [], "partial output at a final name")
                cp = H.run("deid", big, "-o", out, "--key-file", self.key, "--resume")
                self.assertEqual(cp.returncode, 0, cp.stderr)
                self.assertEqual({k: v for k, v in tree_bytes(out).items() if k in want}, want)

    @needs_pixelmed
    def test_every_attribute_same_action_as_pixelmed_or_explained(self):
        cp, out, recs = self.basic()
        theirs_by_file = P.pixelmed_actions(self.input, per_file=True)
        unexplained = []
        for rel, theirs in theirs_by_file.items():
            ours = P.derive_actions(os.path.join(self.input, rel), os.path.join(out, rel))
            for path, t in theirs.items():
                o = ours[path]
                if o != t and not P.explained(path, o, t):
                    unexplained.append((rel, path, f"ours {o}", f"PixelMed {t}"))
        shown = "\n  ".join(map(str, unexplained[:60]))
        self.assertEqual(unexplained, [], f"{len(unexplained)} unexplained differences:\n  {shown}")


def make_multiframe(path, frames=40, rows=512, cols=512):
    """A CT-like multi-frame instance of frames x rows x cols 16-bit pixels (no markers; only for volume)."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"  # Enhanced CT
    ds.SOPInstanceUID = C.UID_ROOT + "900001"
    ds.StudyInstanceUID = C.UID_ROOT + "900002"
    ds.SeriesInstanceUID = C.UID_ROOT + "900003"
    ds.PatientName = "ZQBIGFILEX^GIVEN"
    ds.PatientID = "ZQBIGPIDX"
    ds.Modality = "CT"
    ds.BurnedInAnnotation = "NO"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = frames
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (bytes(range(256)) * (rows * cols * 2 // 256)) * frames
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = C.EXPLICIT
    ds.file_meta = meta
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.preamble = bytes(128)
    pydicom.dcmwrite(path, ds, write_like_original=False)


if __name__ == "__main__":
    unittest.main()
