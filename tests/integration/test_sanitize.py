"""Integration tests for `dicomguard sanitize`: lossless preamble rewriting, backups, refusals, quarantine and
crash safety ("a kill -9 at any point leaves either the old or the new file, never a partial one").

Run: DICOMGUARD=build/dicomguard DG_SOURCE_DIR=. /usr/bin/python3 -m unittest -v tests/integration/test_sanitize.py

Self-contained: every DICOM file is built here with struct, so the expected bytes are known exactly.

Note on leftovers: a run killed between creating its temporary file and renaming it leaves a
`.NAME.dicomguard-tmp-XXXXXX` file next to the original (nothing can clean up after SIGKILL). Such a file is
never the original and never replaces it; `sanitize` skips paths containing `.dicomguard-tmp-` and
`/.dicomguard-backup/`, so running it again on the folder neither reports nor touches them. Delete them by hand.
"""

import hashlib
import os
import random
import shutil
import signal
import stat
import struct
import subprocess
import tempfile
import time
import unittest

from helpers import parse_jsonl

SOURCE_DIR = os.environ.get("DG_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DICOMGUARD = os.environ.get("DICOMGUARD") or os.path.join(SOURCE_DIR, "build", "dicomguard")

PATIENT_NAME = "SECRET^PATIENTNAME"
PATIENT_ID = "PIDSECRET4711"
TMP_MARK = ".dicomguard-tmp-"
BACKUP = ".dicomguard-backup"
ZERO_PREAMBLE = bytes(128)
KILL_POINTS = [
    "sanitize-mid-write",
    "sanitize-after-write",
    "sanitize-after-fsync",
    "sanitize-after-verify",
    "sanitize-after-backup",
    "sanitize-after-rename",
]

# ------------------------------------------------------------------------------------------------ DICOM builders

EXPLICIT_VR_LE = b"1.2.840.10008.1.2.1"
SECONDARY_CAPTURE = b"1.2.840.10008.5.1.4.1.1.7"
INSTANCE_UID = b"1.2.826.0.1.3680043.8.498.4711"
IMPLEMENTATION_UID = b"1.2.826.0.1.3680043.8.498.1"
LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UC", b"UN", b"UR", b"UT"}



KEPT_MARKER = ".dicomguard-kept"  # written by sanitize into every backup and quarantine folder


def kept_files(d):
    """The files a backup or quarantine folder keeps (its marker file aside)."""
    return [f for f in os.listdir(d) if f != KEPT_MARKER]

def element(group, elem, vr, value):
    """One explicit VR little endian element, padded to even length."""
    if len(value) % 2:
        value += b"\0" if vr in (b"UI", b"OB", b"UN") else b" "
    if vr in LONG_VRS:
        return struct.pack("<HH2sHI", group, elem, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr, len(value)) + value


def us(v):
    return struct.pack("<H", v)


def part10(preamble=b"", private=None, pixels=bytes(64), patient=PATIENT_NAME):
    """A Secondary Capture Part 10 file (explicit VR LE). Returns (bytes, file offset of the (0029,1010) value)."""
    meta_body = (element(2, 0x01, b"OB", b"\0\1") + element(2, 0x02, b"UI", SECONDARY_CAPTURE)
                 + element(2, 0x03, b"UI", INSTANCE_UID) + element(2, 0x10, b"UI", EXPLICIT_VR_LE)
                 + element(2, 0x12, b"UI", IMPLEMENTATION_UID))
    head = (preamble.ljust(128, b"\0")[:128] + b"DICM"
            + element(2, 0x00, b"UL", struct.pack("<I", len(meta_body))) + meta_body)
    words = len(pixels) // 2
    cols = max(1, min(words, 1024))
    ds = (element(0x08, 0x16, b"UI", SECONDARY_CAPTURE) + element(0x08, 0x18, b"UI", INSTANCE_UID)
          + element(0x08, 0x60, b"CS", b"OT")
          + element(0x10, 0x10, b"PN", patient.encode()) + element(0x10, 0x20, b"LO", PATIENT_ID.encode())
          + element(0x28, 0x02, b"US", us(1)) + element(0x28, 0x04, b"CS", b"MONOCHROME2")
          + element(0x28, 0x10, b"US", us(max(1, words // cols))) + element(0x28, 0x11, b"US", us(cols))
          + element(0x28, 0x100, b"US", us(16)) + element(0x28, 0x101, b"US", us(16))
          + element(0x28, 0x102, b"US", us(15)) + element(0x28, 0x103, b"US", us(0)))
    private_offset = None
    if private is not None:
        ds += element(0x29, 0x10, b"LO", b"DICOMGUARD TEST")
        private_offset = len(head) + len(ds) + 12  # OB header: tag 4, VR 2, reserved 2, length 4
        ds += element(0x29, 0x1010, b"OB", private)
    ds += element(0x7FE0, 0x10, b"OW", pixels)
    return head + ds, private_offset


def pe_signature_and_coff():
    """"PE\\0\\0" + a COFF header (i386, one section) + optional-header-sized padding; no "MZ" anywhere."""
    return b"PE\0\0" + struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, 0xE0, 0x0102) + bytes(224)


def pe_polyglot(pixels=bytes(64), patient=PATIENT_NAME):
    """CVE-2019-11687: an MZ header in the preamble whose e_lfanew points at "PE\\0\\0" inside private (0029,1010)."""
    body = pe_signature_and_coff()
    preamble = bytearray(b"MZ" + b"\x90" * 58 + bytes(4) + b"\xCC" * 64)
    _, offset = part10(bytes(preamble), body, pixels, patient)
    preamble[0x3C:0x40] = struct.pack("<I", offset)
    data, offset2 = part10(bytes(preamble), body, pixels, patient)
    assert offset2 == offset and data[offset:offset + 4] == b"PE\0\0" and data[:2] == b"MZ"
    return data


def pe_image():
    """A complete, validated PE image (MZ header, e_lfanew = 0x40, PE signature, COFF header)."""
    mz = bytearray(b"MZ" + bytes(62))
    mz[0x3C:0x40] = struct.pack("<I", 0x40)
    return bytes(mz) + pe_signature_and_coff()


def payload_file(patient=PATIENT_NAME):
    """Zero preamble, but a whole PE image inside a private OB element: file.payload.executable."""
    return part10(b"", pe_image(), patient=patient)[0]


def tiff_file():
    return part10(b"II*\0\x08\0\0\0" + struct.pack("<H", 0) + bytes(4))[0]


def nonzero_file(text=b"NOT A ZERO PREAMBLE, NOT A HEADER EITHER"):
    return part10(text)[0]


def zero_file():
    return part10(b"")[0]


def truncated_file():
    """Part 10 with a non-zero preamble, cut in the middle of the private element's value."""
    data, offset = part10(b"NOT ZERO " * 10, b"\x01" * 400)
    return data[:offset + 100]


def raw_dataset():
    """A dataset without preamble, DICM and File Meta group (walks cleanly, but is not Part 10)."""
    data = zero_file()
    meta_len = struct.unpack_from("<I", data, 132 + 8)[0]
    return data[132 + 12 + meta_len:]


def sanitized(data):
    return ZERO_PREAMBLE + data[128:]


def big_pixels(mib):
    pattern = bytes(range(1, 256)) + b"\x7F"  # non-zero, no executable signature
    return pattern * (mib * 4096)


# ------------------------------------------------------------------------------------------------ helpers

def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data, mode=None):
    with open(path, "wb") as f:
        f.write(data)
    if mode is not None:
        os.chmod(path, mode)
    return path


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def leftovers(root):
    """Temporary files of ours anywhere below root."""
    found = []
    for d, _, files in os.walk(root):
        found += [os.path.join(d, f) for f in files if TMP_MARK in f]
    return found


class Reference:
    """An original file's identity: size, preamble, SHA-256 of bytes 128..EOF (cheap to compare against)."""

    def __init__(self, original):
        self.size = len(original)
        self.head = original[:128]
        self.tail_sha256 = sha256(original[128:])


def file_digest(path):
    """(size, first 128 bytes, SHA-256 of bytes 128..EOF), streamed: no big allocations for big files."""
    h, buf = hashlib.sha256(), bytearray(1 << 20)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        head = f.read(128)
        size = len(head)
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(view[:n])
            size += n
    return size, head, h.hexdigest()


def state(path, ref):
    """'original', 'sanitized' or 'other' (partial or foreign) for the file at path."""
    size, head, tail = file_digest(path)
    if size != ref.size or tail != ref.tail_sha256:
        return "other"
    if head == ref.head:
        return "original"
    if head == ZERO_PREAMBLE:
        return "sanitized"
    return "other"


def run(args, env_extra=None, **kw):
    env = dict(os.environ)
    env.pop("DICOMGUARD_KILL_AT", None)
    env["NO_COLOR"] = "1"
    if env_extra:
        env.update(env_extra)
    return subprocess.run([DICOMGUARD] + args, capture_output=True, text=True, env=env, **kw)


def sanitize(*args, env_extra=None, **kw):
    """Runs `sanitize --json`; returns (returncode, sanitize records, summary, completed process)."""
    p = run(["sanitize", "--json"] + list(args), env_extra, **kw)
    records, summary = [], None
    for obj in parse_jsonl(p.stdout):  # checked against docs/json-lines.schema.json
        if obj.get("type") == "sanitize":
            records.append(obj)
        elif obj.get("type") == "summary":
            summary = obj
    return p.returncode, records, summary, p


class SanitizeCase(unittest.TestCase):
    maxDiff = 2000

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dg-sanitize-")
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        for d, dirs, _ in os.walk(self.tmp):
            for name in dirs:
                try:
                    os.chmod(os.path.join(d, name), 0o755)
                except OSError:
                    pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def folder(self, *parts):
        d = os.path.join(self.tmp, *parts)
        os.makedirs(d, exist_ok=True)
        return d

    def one(self, records, path=None):
        self.assertEqual(len(records), 1, records)
        if path is not None:
            self.assertEqual(records[0]["path"], path)
        return records[0]

    def assertBytes(self, path, expected, what):
        # assertEqual on megabytes would print them all; say what differs instead.
        got = read(path)
        self.assertTrue(got == expected, f"{what}: {path} differs ({len(got)} bytes, expected {len(expected)})")


# ------------------------------------------------------------------------------------------------ rewriting

class RewriteTest(SanitizeCase):
    def test_pe_polyglot_is_rewritten_losslessly(self):
        d = self.folder("study")
        orig = pe_polyglot()
        path = write(os.path.join(d, "IM0001.dcm"), orig, 0o640)
        self.assertIn("file.preamble.executable", run(["files", "--json", path]).stdout)

        rc, recs, summary, p = sanitize(path)
        self.assertEqual(rc, 0, p.stdout + p.stderr)
        r = self.one(recs, path)
        self.assertEqual(r["action"], "rewritten", r)
        self.assertEqual(r["preamble_before"], "executable")
        self.assertEqual(r["preamble_after"], "zero")
        self.assertEqual(r["verdict"], "dangerous")
        self.assertEqual(r["bytes_changed"], sum(1 for b in orig[:128] if b))
        self.assertEqual(summary["status"], {"rewritten": 1})

        new = read(path)
        self.assertEqual(len(new), len(orig))
        self.assertEqual(new[:128], ZERO_PREAMBLE, "preamble is all zero")
        self.assertTrue(new[128:] == orig[128:], "bytes 128..EOF are byte-identical")
        self.assertEqual(r["sha256_128_to_eof_before"], sha256(orig[128:]))
        self.assertEqual(r["sha256_128_to_eof_after"], sha256(new[128:]))
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o640, "file mode preserved")

        self.assertEqual(r["backup"], os.path.join(d, BACKUP, "IM0001.dcm"))
        self.assertBytes(r["backup"], orig, "backup")
        self.assertEqual(leftovers(self.tmp), [])

        f = run(["files", "--json", path])
        objs = parse_jsonl(f.stdout)
        rec = [o for o in objs if o["type"] == "file"][0]
        self.assertNotIn("file.preamble.executable", rec["checks"])
        self.assertNotIn("file.preamble.executable", [o.get("check") for o in objs])
        self.assertEqual(rec["verdict"], "clean", f.stdout)
        self.assertEqual(f.returncode, 0, f.stdout + f.stderr)

        try:
            import pydicom
        except ImportError:
            self.skipTest("pydicom not installed (Debian python3-pydicom)")
        before = pydicom.dcmread(r["backup"])
        after = pydicom.dcmread(path)
        self.assertEqual(str(after.PatientName), str(before.PatientName))
        self.assertEqual(str(after.PatientName), PATIENT_NAME)
        self.assertEqual(after.SOPInstanceUID, before.SOPInstanceUID)
        self.assertEqual(after.PixelData, before.PixelData)

    def test_json_record_lists_the_checks_found(self):
        # BUG: sanitize_file() stores the check IDs in record.fields["checks"], but the JSON Lines sink overwrites
        # "checks" with the record's findings, which sanitize records never carry: every sanitize record says
        # "checks":[] (and the summary counts no findings), even for a dangerous PE polyglot.
        path = write(os.path.join(self.folder("a"), "poly.dcm"), pe_polyglot())
        rc, recs, _, _ = sanitize("--dry-run", path)
        self.assertIn("file.preamble.executable", self.one(recs)["checks"])

    def test_tiff_preamble_zeroed_by_default_kept_with_keep_tiff(self):
        orig = tiff_file()
        a = write(os.path.join(self.folder("default"), "dual.dcm"), orig)
        b = write(os.path.join(self.folder("keep"), "dual.dcm"), orig)

        rc, recs, _, p = sanitize(a)
        self.assertEqual(rc, 0, p.stdout + p.stderr)
        r = self.one(recs, a)
        self.assertEqual((r["action"], r["preamble_before"], r["preamble_after"]), ("rewritten", "tiff", "zero"))
        self.assertBytes(a, sanitized(orig), "TIFF preamble zeroed")

        st = os.stat(b)
        rc, recs, _, p = sanitize("--keep-tiff", b)
        self.assertEqual(rc, 0, p.stdout + p.stderr)
        r = self.one(recs, b)
        self.assertEqual((r["action"], r["preamble_after"]), ("unchanged", "tiff"))
        self.assertBytes(b, orig, "--keep-tiff")
        self.assertEqual((os.stat(b).st_ino, os.stat(b).st_mtime_ns), (st.st_ino, st.st_mtime_ns))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "keep", BACKUP)))

    def test_zero_preamble_is_left_untouched(self):
        d = self.folder("clean")
        orig = zero_file()
        path = write(os.path.join(d, "clean.dcm"), orig)
        before = os.stat(path)
        rc, recs, summary, p = sanitize(path)
        self.assertEqual(rc, 0, p.stdout + p.stderr)
        r = self.one(recs, path)
        self.assertEqual((r["action"], r["preamble_before"]), ("unchanged", "zero"))
        self.assertNotIn("backup", r)
        after = os.stat(path)
        self.assertEqual((after.st_ino, after.st_mtime_ns, after.st_size),
                         (before.st_ino, before.st_mtime_ns, before.st_size))
        self.assertBytes(path, orig, "zero-preamble file")
        self.assertEqual(sorted(os.listdir(d)), ["clean.dcm"], "no backup folder, no temporary file")

    def test_dry_run_changes_nothing(self):
        d = self.folder("dry")
        files = {"poly.dcm": pe_polyglot(), "tiff.dcm": tiff_file(), "payload.dcm": payload_file()}
        stats = {}
        for name, data in files.items():
            stats[name] = os.stat(write(os.path.join(d, name), data))
        qdir = os.path.join(self.tmp, "quarantine")

        for flag in ("--dry-run", "-n"):
            rc, recs, _, p = sanitize(flag, d)
            self.assertEqual(rc, 0, p.stdout + p.stderr)
            actions = {os.path.basename(r["path"]): r["action"] for r in recs}
            # Without --quarantine only preambles are rewritten; payload.dcm's preamble is already zero.
            self.assertEqual(actions, {"poly.dcm": "would-rewrite", "tiff.dcm": "would-rewrite",
                                       "payload.dcm": "unchanged"})

        rc, recs, _, p = sanitize("--dry-run", "--quarantine", qdir, d)
        self.assertEqual(rc, 0, p.stdout + p.stderr)
        actions = {os.path.basename(r["path"]): r["action"] for r in recs}
        # The polyglot's e_lfanew points at the PE body in (0029,1010): that is an executable payload too.
        self.assertEqual(actions, {"poly.dcm": "would-quarantine", "tiff.dcm": "would-rewrite",
                                   "payload.dcm": "would-quarantine"})

        self.assertEqual(sorted(os.listdir(d)), sorted(files), "no backup folder, no temporary files")
        self.assertFalse(os.path.exists(qdir))
        for name, data in files.items():
            self.assertBytes(os.path.join(d, name), data, "dry run")
            st = os.stat(os.path.join(d, name))
            self.assertEqual((st.st_ino, st.st_mtime_ns), (stats[name].st_ino, stats[name].st_mtime_ns))


# ------------------------------------------------------------------------------------------------ backups

class BackupTest(SanitizeCase):
    def test_no_backup(self):
        d = self.folder("nb")
        orig = nonzero_file()
        path = write(os.path.join(d, "x.dcm"), orig)
        rc, recs, _, p = sanitize("--no-backup", path)
        self.assertEqual(rc, 0, p.stdout + p.stderr)
        r = self.one(recs, path)
        self.assertEqual(r["action"], "rewritten")
        self.assertNotIn("backup", r)
        self.assertBytes(path, sanitized(orig), "rewritten")
        self.assertEqual(os.listdir(d), ["x.dcm"], "no backup folder")

    def test_no_backup_and_backup_dir_exclude_each_other(self):
        path = write(os.path.join(self.folder("x"), "x.dcm"), nonzero_file())
        p = run(["sanitize", "--no-backup", "--backup-dir", os.path.join(self.tmp, "b"), path])
        self.assertNotEqual(p.returncode, 0)
        self.assertBytes(path, nonzero_file(), "usage error changes nothing")

    def test_backup_dir(self):
        d = self.folder("src")
        bdir = os.path.join(self.tmp, "kept", "originals")  # created on demand
        orig = pe_polyglot()
        path = write(os.path.join(d, "x.dcm"), orig)
        rc, recs, _, p = sanitize("--backup-dir", bdir, path)
        self.assertEqual(rc, 0, p.stdout + p.stderr)
        r = self.one(recs, path)
        self.assertEqual(r["action"], "rewritten")
        self.assertEqual(r["backup"], os.path.join(bdir, "x.dcm"))
        self.assertBytes(r["backup"], orig, "backup in --backup-dir")
        self.assertEqual(os.listdir(d), ["x.dcm"], "no default backup folder when --backup-dir is given")

    def test_same_name_from_two_folders_keeps_both(self):
        bdir = os.path.join(self.tmp, "backups")
        a_orig, b_orig = nonzero_file(b"FIRST ORIGINAL"), nonzero_file(b"SECOND ORIGINAL")
        a = write(os.path.join(self.folder("a"), "img.dcm"), a_orig)
        b = write(os.path.join(self.folder("b"), "img.dcm"), b_orig)

        rc, recs, _, _ = sanitize("--backup-dir", bdir, a)
        self.assertEqual((rc, self.one(recs)["backup"]), (0, os.path.join(bdir, "img.dcm")))
        rc, recs, _, _ = sanitize("--backup-dir", bdir, b)
        self.assertEqual((rc, self.one(recs)["backup"]), (0, os.path.join(bdir, "img.dcm.1")))
        self.assertBytes(os.path.join(bdir, "img.dcm"), a_orig, "first backup kept")
        self.assertBytes(os.path.join(bdir, "img.dcm.1"), b_orig, "second backup kept")

        # One run over two more same-named files, one at a time: .2 and .3.
        c_orig, d_orig = nonzero_file(b"THIRD ORIGINAL"), nonzero_file(b"FOURTH ORIGINAL")
        c = write(os.path.join(self.folder("c"), "img.dcm"), c_orig)
        e = write(os.path.join(self.folder("d"), "img.dcm"), d_orig)
        rc, recs, _, _ = sanitize("-j", "1", "--backup-dir", bdir, c, e)
        self.assertEqual(rc, 0)
        kept = {r["path"]: r["backup"] for r in recs}
        self.assertEqual(sorted(kept.values()), [os.path.join(bdir, "img.dcm.2"), os.path.join(bdir, "img.dcm.3")])
        self.assertBytes(kept[c], c_orig, "third backup")
        self.assertBytes(kept[e], d_orig, "fourth backup")
        self.assertEqual(len(kept_files(bdir)), 4)

    def test_parallel_same_name_backups_all_kept(self):
        # BUG (data loss): keep_backup() picks a free name with exists() and then link()s; when a parallel worker
        # takes that name first, link() fails with EEXIST and the fallback copy_durably() rename()s its copy OVER
        # the other file's backup. Seen: 200 files rewritten with -j 16, only 128 backups left, 15 records naming
        # the same backup path. Fix: retry link() with the next suffix on EEXIST (never fall back to a copy for
        # EEXIST), and publish copies with link()/renameat2(RENAME_NOREPLACE) instead of rename().
        for attempt in range(3):
            root = self.folder(f"round{attempt}")
            bdir = os.path.join(root, "backups")
            originals = {}
            for i in range(100):
                data = nonzero_file(b"ORIGINAL NUMBER %d" % i)
                src = os.path.join(self.folder(f"round{attempt}", "in", f"d{i:03d}"), "img.dcm")
                originals[write(src, data)] = data
            rc, recs, _, p = sanitize("-j", "16", "--backup-dir", bdir, os.path.join(root, "in"))
            self.assertEqual(rc, 0, p.stderr)
            self.assertEqual(len(recs), 100)
            backups = [r["backup"] for r in recs]
            self.assertEqual(len(set(backups)), 100, "every record names its own backup")
            kept = {sha256(read(os.path.join(bdir, f))) for f in kept_files(bdir)}
            self.assertEqual(kept, {sha256(v) for v in originals.values()}, "every original is kept")

    def test_relative_path_and_second_run_skip_the_backup_folder(self):
        d = self.folder("cwd")
        orig = pe_polyglot()
        write(os.path.join(d, "x.dcm"), orig, 0o444)  # read-only file in a writable folder
        rc, recs, _, p = sanitize("x.dcm", cwd=d)
        self.assertEqual(rc, 0, p.stdout + p.stderr)
        r = self.one(recs, "x.dcm")
        self.assertEqual(r["action"], "rewritten")
        self.assertEqual(os.path.normpath(os.path.join(d, r["backup"])), os.path.join(d, BACKUP, "x.dcm"))
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(d, "x.dcm")).st_mode), 0o444)
        # `sanitize .` does not walk into .dicomguard-backup (its file still has the executable preamble).
        rc, recs, _, p = sanitize(".", cwd=d)
        self.assertEqual(rc, 0, p.stdout + p.stderr)
        self.assertEqual([(os.path.normpath(r["path"]), r["action"]) for r in recs], [("x.dcm", "unchanged")])
        self.assertBytes(os.path.join(d, BACKUP, "x.dcm"), orig, "backup after a second run")
        self.assertBytes(os.path.join(d, "x.dcm"), sanitized(orig), "sanitized file")

    def test_custom_backup_dir_inside_the_tree_is_not_sanitized_later(self):
        # BUG: cmd_sanitize.cc says "Never walk into our own backup or quarantine folders", but it only skips
        # paths containing "/.dicomguard-backup/": a --backup-dir (or --quarantine folder) inside the tree is
        # walked by the next run, which rewrites the kept originals. With --no-backup on that next run the only
        # copy of the original is gone. Fix: also skip the --backup-dir and --quarantine folders (by realpath).
        root = self.folder("tree")
        kept = os.path.join(root, "kept")
        orig = pe_polyglot()
        write(os.path.join(root, "x.dcm"), orig)
        rc, recs, _, _ = sanitize("--backup-dir", kept, root)
        self.assertEqual((rc, self.one(recs)["action"]), (0, "rewritten"))
        rc, recs, _, _ = sanitize("--no-backup", root)
        self.assertEqual(rc, 0)
        self.assertEqual({os.path.relpath(r["path"], root): r["action"] for r in recs}, {"x.dcm": "unchanged"})
        self.assertBytes(os.path.join(kept, "x.dcm"), orig, "the kept original")

    def test_symlinked_file_backup_is_the_original(self):
        # BUG: for a path that is a symlink, keep_backup() link()s the symlink itself (link(2) does not follow
        # it), so the "backup" is a copy of the link: a relative link dangles inside .dicomguard-backup/. Then
        # rename() replaces the symlink with a sanitized regular file while the real file it pointed to keeps
        # its executable preamble, and the record still says "rewritten". Fix: resolve the path (realpath) and
        # sanitize the target, or refuse symlinks with a clear message.
        real = self.folder("real")
        links = self.folder("links")
        orig = pe_polyglot()
        write(os.path.join(real, "a.dcm"), orig)
        os.symlink(os.path.join("..", "real", "a.dcm"), os.path.join(links, "a.dcm"))
        rc, recs, _, p = sanitize(links)
        r = self.one(recs)
        self.assertIn(r["action"], ("rewritten", "refused"), p.stdout + p.stderr)
        if r["action"] == "refused":
            self.assertTrue(os.path.islink(os.path.join(links, "a.dcm")))
            self.assertBytes(os.path.join(real, "a.dcm"), orig, "refused: the real file is untouched")
        else:
            self.assertTrue(os.path.isfile(r["backup"]), f"backup {r['backup']} is missing or dangling")
            self.assertBytes(r["backup"], orig, "backup of a symlinked file")
            self.assertBytes(os.path.join(real, "a.dcm"), sanitized(orig), "the file the link points to")

    def test_backup_failure_leaves_original_untouched(self):
        d = self.folder("in")
        orig = pe_polyglot()
        path = write(os.path.join(d, "x.dcm"), orig)
        not_a_dir = write(os.path.join(self.tmp, "plainfile"), b"x")
        rc, recs, summary, p = sanitize("--backup-dir", os.path.join(not_a_dir, "sub"), path)
        self.assertEqual(rc, 2, p.stdout + p.stderr)
        r = self.one(recs, path)
        self.assertEqual(r["action"], "error")
        self.assertIn("backup", r["message"])
        self.assertEqual(summary["errors"], 1)
        self.assertBytes(path, orig, "original after a failed backup")
        self.assertEqual(leftovers(self.tmp), [], "temporary file removed")


# ------------------------------------------------------------------------------------------------ refusals

class RefuseTest(SanitizeCase):
    def test_not_part10_is_refused_even_with_force(self):
        d = self.folder("junk")
        text = write(os.path.join(d, "notes.txt"), b"hello, this is not DICOM at all\n" * 20)
        raw = write(os.path.join(d, "raw.dcm"), raw_dataset())
        for extra in ([], ["--force"]):
            rc, recs, summary, p = sanitize(*extra, text, raw)
            self.assertEqual(rc, 2, p.stdout + p.stderr)
            self.assertEqual(len(recs), 2)
            for r in recs:
                self.assertEqual(r["action"], "refused", r)
                self.assertIn("not a DICOM Part 10 file", r["message"])
            self.assertEqual(summary["status"], {"refused": 2})
        self.assertBytes(text, b"hello, this is not DICOM at all\n" * 20, "text file")
        self.assertBytes(raw, raw_dataset(), "raw dataset")
        self.assertEqual(sorted(os.listdir(d)), ["notes.txt", "raw.dcm"])

    def test_unparseable_part10_refused_without_force(self):
        d = self.folder("trunc")
        orig = truncated_file()
        path = write(os.path.join(d, "cut.dcm"), orig)
        rc, recs, _, p = sanitize(path)
        self.assertEqual(rc, 2, p.stdout + p.stderr)
        r = self.one(recs, path)
        self.assertEqual(r["action"], "refused")
        self.assertIn("--force", r["message"])
        self.assertBytes(path, orig, "refused file")
        self.assertEqual(os.listdir(d), ["cut.dcm"])

        rc, recs, _, p = sanitize("--force", path)
        self.assertEqual(rc, 0, p.stdout + p.stderr)
        r = self.one(recs, path)
        self.assertEqual(r["action"], "rewritten")
        self.assertBytes(path, sanitized(orig), "--force rewrite")
        self.assertEqual(r["sha256_128_to_eof_after"], sha256(orig[128:]))
        self.assertBytes(r["backup"], orig, "backup of the forced file")

    def test_one_refusal_gives_exit_2_but_others_are_still_sanitized(self):
        d = self.folder("mixed")
        orig = pe_polyglot()
        good = write(os.path.join(d, "good.dcm"), orig)
        write(os.path.join(d, "junk.bin"), b"\x00junk" * 100)
        rc, recs, summary, p = sanitize(d)
        self.assertEqual(rc, 2, p.stdout + p.stderr)
        self.assertEqual({os.path.basename(r["path"]): r["action"] for r in recs},
                         {"good.dcm": "rewritten", "junk.bin": "refused"})
        self.assertBytes(good, sanitized(orig), "the good file")

    def test_missing_path_is_an_error(self):
        rc, recs, _, p = sanitize(os.path.join(self.tmp, "does-not-exist.dcm"))
        self.assertEqual(rc, 2)
        self.assertEqual(self.one(recs)["action"], "error")


# ------------------------------------------------------------------------------------------------ quarantine

class QuarantineTest(SanitizeCase):
    def test_payload_is_quarantined_others_are_not(self):
        d = self.folder("incoming")
        qdir = os.path.join(self.tmp, "quarantine")
        bad, clean, odd = payload_file(), zero_file(), nonzero_file()
        bad_p = write(os.path.join(d, "bad.dcm"), bad)
        clean_p = write(os.path.join(d, "clean.dcm"), clean)
        odd_p = write(os.path.join(d, "odd.dcm"), odd)
        self.assertIn("file.payload.executable", run(["files", "--json", bad_p]).stdout)

        rc, recs, summary, p = sanitize("--quarantine", qdir, d)
        self.assertEqual(rc, 0, p.stdout + p.stderr)
        by = {os.path.basename(r["path"]): r for r in recs}
        self.assertEqual({k: v["action"] for k, v in by.items()},
                         {"bad.dcm": "quarantined", "clean.dcm": "unchanged", "odd.dcm": "rewritten"})
        self.assertEqual(by["bad.dcm"]["quarantine"], os.path.join(qdir, "bad.dcm"))
        self.assertFalse(os.path.exists(bad_p), "moved out of its folder")
        self.assertBytes(os.path.join(qdir, "bad.dcm"), bad, "quarantined file")
        self.assertEqual(kept_files(qdir), ["bad.dcm"])
        self.assertBytes(clean_p, clean, "clean file stays")
        self.assertBytes(odd_p, sanitized(odd), "non-zero preamble still rewritten")
        self.assertEqual(summary["status"], {"quarantined": 1, "unchanged": 1, "rewritten": 1})

        # A second file of the same name does not replace the first one.
        bad2 = payload_file(patient="OTHER^PATIENT")
        write(os.path.join(d, "bad.dcm"), bad2)
        rc, recs, _, _ = sanitize("--quarantine", qdir, os.path.join(d, "bad.dcm"))
        self.assertEqual((rc, self.one(recs)["quarantine"]), (0, os.path.join(qdir, "bad.dcm.1")))
        self.assertBytes(os.path.join(qdir, "bad.dcm"), bad, "first quarantined file")
        self.assertBytes(os.path.join(qdir, "bad.dcm.1"), bad2, "second quarantined file")

    def test_parallel_same_name_quarantine_loses_nothing(self):
        # BUG (data loss): move_to() picks a free name with exists() and then rename()s, which silently replaces a
        # file another worker moved there in between. Seen: 100 same-named payload files from 100 folders,
        # -j 8: all 100 reported "quarantined", only 62-70 left anywhere (also with taskset -c 0). Fix: claim the
        # name with link() (EEXIST -> next suffix) then unlink the source, or renameat2(RENAME_NOREPLACE).
        for attempt in range(3):
            root = self.folder(f"round{attempt}")
            qdir = os.path.join(root, "q")
            expected = set()
            for i in range(100):
                data = payload_file(patient=f"P{i}")
                expected.add(sha256(data))
                write(os.path.join(self.folder(f"round{attempt}", "in", f"d{i:03d}"), "img.dcm"), data)
            rc, recs, _, p = sanitize("-j", "16", "--quarantine", qdir, os.path.join(root, "in"))
            self.assertEqual(rc, 0, p.stderr)
            self.assertEqual([r["action"] for r in recs], ["quarantined"] * 100)
            kept = {sha256(read(os.path.join(qdir, f))) for f in kept_files(qdir)}
            self.assertEqual(len(kept), 100, "every quarantined file still exists")
            self.assertEqual(kept, expected)


# ------------------------------------------------------------------------------------------------ crash safety

class CrashSafetyTest(SanitizeCase):
    """kill -9 at each step of the rewrite, then a normal run: the original path always holds the old or the new
    file. A leftover `.NAME.dicomguard-tmp-XXXXXX` may remain after a kill (see the module docstring)."""

    @classmethod
    def setUpClass(cls):
        cls.orig = pe_polyglot(pixels=big_pixels(8))  # ~8 MB, so the copy takes a moment
        cls.ref = Reference(cls.orig)

    def test_kill_at_every_step(self):
        for point in KILL_POINTS:
            with self.subTest(point=point):
                d = self.folder(point)
                path = write(os.path.join(d, "big.dcm"), self.orig)
                rc, _, _, p = sanitize(path, env_extra={"DICOMGUARD_KILL_AT": point})
                self.assertEqual(rc, -signal.SIGKILL, f"{point}: the process must die of SIGKILL; {p.stderr}")

                st = state(path, self.ref)
                self.assertIn(st, ("original", "sanitized"), f"{point}: partial file at the original path")
                # Only the final rename changes what the path holds.
                self.assertEqual(st, "sanitized" if point == "sanitize-after-rename" else "original", point)
                bdir = os.path.join(d, BACKUP)
                first_backups = sorted(kept_files(bdir)) if os.path.isdir(bdir) else []
                if point in ("sanitize-after-backup", "sanitize-after-rename"):
                    self.assertEqual(first_backups, ["big.dcm"], point)
                else:
                    self.assertEqual(first_backups, [], f"{point}: no backup before the backup step")
                for b in first_backups:
                    self.assertBytes(os.path.join(bdir, b), self.orig, f"{point}: backup")
                tmps = leftovers(d)
                if point != "sanitize-after-rename":
                    self.assertEqual(len(tmps), 1, f"{point}: the killed run leaves its temporary file")
                    self.assertTrue(os.path.basename(tmps[0]).startswith(".big.dcm" + TMP_MARK), tmps)

                # Run again on the folder: leftovers and the backup folder are ignored, the file ends sanitized.
                rc, recs, _, p = sanitize(d)
                self.assertEqual(rc, 0, f"{point}: {p.stdout}{p.stderr}")
                r = self.one(recs, path)
                self.assertEqual(r["action"], "unchanged" if point == "sanitize-after-rename" else "rewritten", point)
                self.assertEqual(state(path, self.ref), "sanitized", point)
                self.assertEqual(leftovers(d), tmps, f"{point}: leftovers ignored, not touched")
                for b in kept_files(bdir):
                    self.assertBytes(os.path.join(bdir, b), self.orig, f"{point}: every backup is the original")
                shutil.rmtree(d)

    def test_random_kill_timing(self):
        orig = pe_polyglot(pixels=big_pixels(64))  # ~64 MB of non-zero pixel data
        template = write(os.path.join(self.tmp, "template.dcm"), orig)
        ref = Reference(orig)
        del orig
        # Delays are drawn from [0, 50 ms] stretched to the length of one uninterrupted run on this machine:
        # on a fast machine analysing and hashing 64 MB alone take longer than 50 ms, so [0, 50 ms] would only
        # ever kill the process before it creates its temporary file.
        calib = self.folder("calibrate")
        shutil.copyfile(template, os.path.join(calib, "big.dcm"))
        t0 = time.monotonic()
        rc, recs, _, p = sanitize("--no-backup", os.path.join(calib, "big.dcm"))
        window = max(0.050, 1.2 * (time.monotonic() - t0))
        self.assertEqual((rc, self.one(recs)["action"]), (0, "rewritten"), p.stderr)
        self.assertEqual(state(os.path.join(calib, "big.dcm"), ref), "sanitized")
        shutil.rmtree(calib)

        rng = random.Random(20190611)  # fixed seed: reproducible delays (as fractions of the window)
        outcomes = []
        env = dict(os.environ)
        env.pop("DICOMGUARD_KILL_AT", None)
        for i in range(15):
            d = self.folder(f"run{i:02d}")
            path = os.path.join(d, "big.dcm")
            shutil.copyfile(template, path)
            delay = rng.uniform(0.0, window)
            proc = subprocess.Popen([DICOMGUARD, "sanitize", "--json", path], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            try:
                proc.send_signal(signal.SIGKILL)  # no-op if it already finished
            except ProcessLookupError:
                pass
            rc = proc.wait()
            self.assertIn(rc, (-signal.SIGKILL, 0), f"iteration {i} (delay {delay * 1000:.1f} ms)")
            st = state(path, ref)
            outcomes.append((round(delay * 1000, 1), rc, st, len(leftovers(d))))
            self.assertIn(st, ("original", "sanitized"), f"iteration {i} (delay {delay * 1000:.1f} ms)")
            bdir = os.path.join(d, BACKUP)
            if os.path.isdir(bdir):
                for b in kept_files(bdir):
                    self.assertEqual(state(os.path.join(bdir, b), ref), "original", f"iteration {i}: backup")
            rc, recs, _, p = sanitize(path)
            self.assertEqual(rc, 0, p.stdout + p.stderr)
            self.assertIn(self.one(recs)["action"], ("rewritten", "unchanged"))
            self.assertEqual(state(path, ref), "sanitized", f"iteration {i}: after the second run")
            shutil.rmtree(d)
        # outcomes: (delay ms, return code, state after the kill, leftover temporary files), for a failure message.
        self.assertEqual(len(outcomes), 15, outcomes)


# ------------------------------------------------------------------------------------------------ permissions

class PermissionTest(SanitizeCase):
    def test_read_only_folder_reports_error_and_keeps_original(self):
        as_user = {}
        if os.geteuid() == 0:
            # Root bypasses permission bits: run the binary as nobody instead (skip if that cannot be done).
            try:
                import pwd
                nobody = pwd.getpwnam("nobody")
            except (ImportError, KeyError):
                self.skipTest("running as root and there is no 'nobody' user")
            as_user = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
            os.chmod(self.tmp, 0o755)
            if not os.access(DICOMGUARD, os.X_OK):
                self.skipTest("binary not executable")
        d = self.folder("ro")
        orig = pe_polyglot()
        path = write(os.path.join(d, "x.dcm"), orig, 0o644)
        os.chmod(d, 0o555)
        try:
            rc, recs, summary, p = sanitize(path, **as_user)
        except PermissionError as e:
            self.skipTest(f"cannot drop privileges: {e}")
        self.assertEqual(rc, 2, p.stdout + p.stderr)
        r = self.one(recs, path)
        self.assertEqual(r["action"], "error", r)
        self.assertIn("Permission denied", r["message"])
        self.assertEqual(summary["errors"], 1)
        self.assertBytes(path, orig, "original in a read-only folder")
        self.assertEqual(os.listdir(d), ["x.dcm"])


# ------------------------------------------------------------------------------------------------ no PHI

class NoPatientDataTest(SanitizeCase):
    def test_patient_values_never_in_output(self):
        d = self.folder("phi")
        write(os.path.join(d, "poly.dcm"), pe_polyglot())
        write(os.path.join(d, "payload.dcm"), payload_file())
        write(os.path.join(d, "tiff.dcm"), tiff_file())
        write(os.path.join(d, "zero.dcm"), zero_file())
        write(os.path.join(d, "cut.dcm"), truncated_file())
        qdir = os.path.join(self.tmp, "q")
        sarif = os.path.join(self.tmp, "out.sarif")
        runs = [
            ["sanitize", "--dry-run", "-v", d],
            ["sanitize", "--dry-run", "--json", "--quarantine", qdir, d],
            ["sanitize", "--dry-run", "--json", "--force", d],
            ["sanitize", "--sarif", sarif, "--quarantine", qdir, "-v", d],
            ["sanitize", "--json", "--force", d],
        ]
        for args in runs:
            p = run(args)
            self.assertIn(p.returncode, (0, 2), p.stderr)
            self.assertTrue(p.stdout.strip(), args)
            out = p.stdout + p.stderr
            for secret in ("SECRET", "PATIENTNAME", PATIENT_ID):
                self.assertNotIn(secret, out, f"{secret} leaked by {' '.join(args)}")
        self.assertTrue(os.path.exists(sarif))
        with open(sarif, encoding="utf-8", errors="replace") as f:
            self.assertNotIn("SECRET", f.read())


if __name__ == "__main__":
    unittest.main()
