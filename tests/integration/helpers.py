"""Shared helpers for dicomguard's integration tests.

* where things are: the binary under test ($DICOMGUARD), the source tree ($DG_SOURCE_DIR), pydicom's corpus;
* running the binary and parsing its JSON Lines output;
* pure-Python (struct only) builders for DICOM Part 10 files, executable headers and polyglots, so every test
  writes the exact bytes it reasons about.

Standard library only: the tests run under Debian's /usr/bin/python3 without a virtualenv.
"""

import io
import json
import os
import shutil
import struct
import subprocess
import tempfile
import zipfile
import zlib

import jsonl_schema

# ----------------------------------------------------------------------------------------------------- locations

SOURCE_DIR = os.environ.get("DG_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("DICOMGUARD") or os.path.join(SOURCE_DIR, "build", "dicomguard")


def pydicom_corpus():
    """The folder of real Part 10 files that Debian's python3-pydicom ships (None when not installed)."""
    try:
        import pydicom.data  # noqa: F401  (only to find the folder)
        d = os.path.join(os.path.dirname(pydicom.data.__file__), "test_files")
    except ImportError:
        d = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
    return d if os.path.isdir(d) else None


def corpus_files(root):
    """Every regular file below root, sorted (what `dicomguard files root` should report on)."""
    out = []
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            if os.path.isfile(p) and not os.path.islink(p):
                out.append(p)
    return sorted(out)


class TempDir:
    """A temporary folder removed on exit, also when a test made parts of it unreadable."""

    def __init__(self, prefix="dg-it-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def cleanup(self):
        for d, dirs, files in os.walk(self.path):
            for n in dirs + files:
                p = os.path.join(d, n)
                if not os.path.islink(p):
                    try:
                        os.chmod(p, 0o700)
                    except OSError:
                        pass
        shutil.rmtree(self.path, ignore_errors=True)

    def write(self, name, data):
        p = os.path.join(self.path, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def join(self, *names):
        return os.path.join(self.path, *names)


# ----------------------------------------------------------------------------------------------- running the tool

def run(*args, **kw):
    """Runs the binary; returns CompletedProcess with str stdout/stderr (undecodable bytes escaped)."""
    cp = subprocess.run([BINARY, *[str(a) for a in args]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        stdin=subprocess.DEVNULL, **kw)
    cp.stdout = cp.stdout.decode("utf-8", "backslashreplace")
    cp.stderr = cp.stderr.decode("utf-8", "backslashreplace")
    return cp


# Linux counts the parent's resident set in a child's peak RSS (ru_maxrss): the memory image a child is forked
# with, and the one it replaces at exec, are part of its high-water mark. A test process that has grown (pydicom,
# big fixtures) would therefore see its own size in every child it measures. A fresh, small interpreter starts
# the program and reports its peak instead.
_PEAK_LAUNCHER = r"""
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measuring_peak_rss(args, **kw):
    """Runs args (args[0] an absolute path); returns (CompletedProcess, peak RSS of that program in KiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as f:
        proc = subprocess.run(["/usr/bin/python3", "-c", _PEAK_LAUNCHER, f.name, *args], **kw)
        return proc, int(f.read() or "0")


def parse_jsonl(text, validate=True):
    """Parses JSON Lines; raises AssertionError naming the line when one does not parse or lacks "type".

    With validate (the default), every object is also checked against docs/json-lines.schema.json and the lines
    against the rules between them (jsonl_schema.py): an undocumented type or field, a missing required field, a
    wrong JSON type or a value outside a closed set fails the test that parsed the output, so that
    docs/json-lines.md stays complete."""
    objs = []
    errors = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            o = json.loads(line)
        except ValueError as e:
            raise AssertionError(f"line {n} is not JSON ({e}): {line[:200]!r}")
        if not isinstance(o, dict) or "type" not in o:
            raise AssertionError(f"line {n} has no \"type\": {line[:200]!r}")
        if validate:
            errors += [f"line {n}: {e}" for e in jsonl_schema.validate(o)]
        objs.append(o)
    if validate:
        if not errors:
            errors = jsonl_schema.validate_stream(objs)
        if errors:
            shown = "\n  ".join(errors[:20]) + (f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else "")
            raise AssertionError(f"output does not match docs/json-lines.schema.json (see docs/json-lines.md):\n  "
                                 f"{shown}")
    return objs


class FileResult:
    def __init__(self, obj):
        self.obj = obj
        self.findings = []

    @property
    def verdict(self):
        return self.obj["verdict"]

    @property
    def checks(self):
        return [f["check"] for f in self.findings]

    def find(self, check, **evidence):
        """Findings of `check` whose evidence has every key=value given."""
        return [f for f in self.findings if f["check"] == check
                and all(f["evidence"].get(k) == v for k, v in evidence.items())]

    def problems(self, check="file.structure.invalid"):
        return [(f["evidence"].get("problem"), f["evidence"].get("tag")) for f in self.findings if f["check"] == check]

    def __repr__(self):
        return json.dumps({"file": self.obj, "findings": self.findings}, indent=1)[:4000]


class Report:
    """A parsed `files --json` run: file results in output order (findings attached), and the summary."""

    def __init__(self, objs):
        self.objects = objs
        self.files = []
        self.summary = None
        for o in objs:
            if o["type"] == "file":
                self.files.append(FileResult(o))
            elif o["type"] == "finding":
                if not self.files:
                    raise AssertionError("a finding precedes every file object")
                if o.get("target") != self.files[-1].obj["path"]:
                    raise AssertionError(f"finding for {o.get('target')} follows file {self.files[-1].obj['path']}")
                self.files[-1].findings.append(o)
            elif o["type"] == "summary":
                self.summary = o
        self.by_path = {}
        for fr in self.files:
            self.by_path.setdefault(fr.obj["path"], []).append(fr)

    def one(self, path):
        got = self.by_path.get(path, [])
        if len(got) != 1:
            raise AssertionError(f"{len(got)} file objects for {path}")
        return got[0]


def files_json(*args, **kw):
    """Runs `dicomguard files --json ARGS`; returns (CompletedProcess, Report)."""
    cp = run("files", "--json", *args, **kw)
    return cp, Report(parse_jsonl(cp.stdout))


# -------------------------------------------------------------------------------------------------- DICOM bytes

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"

SC_IMAGE = "1.2.840.10008.5.1.4.1.1.7"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
ENCAPSULATED_CDA = "1.2.840.10008.5.1.4.1.1.104.2"
IMPLEMENTATION_UID = "1.2.826.0.1.3680043.10.1427.1"  # only a syntactically valid UID, not a registered root

# Values no output of the tool may ever show (the "no PHI leaves a check" rule).
SECRET_NAME = "SECRET^PATIENTNAME"
SECRET_ID = "PID-SECRET-42"  # 13 characters: odd, handy for odd-length tests
SECRETS = (SECRET_NAME, SECRET_ID)

LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"}
BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN", "SV", "UV", "SL", "SS", "UL", "US", "FL", "FD", "AT"}
UNDEFINED = 0xFFFFFFFF


def tag_str(group, elem):
    """The spelling dicomguard uses in evidence: "(0010,0010)"."""
    return f"({group:04X},{elem:04X})"


def pad(value, vr):
    """Pads to even length as PS3.5 6.2 asks: NUL for UI and binary VRs, space for text."""
    if len(value) % 2:
        value += b"\0" if (vr == "UI" or vr in BINARY_VRS) else b" "
    return value


def el(group, elem, vr, value=b"", *, length=None, raw=False, implicit=False, big_endian=False):
    """One data element. value: bytes or str (ASCII). Padded to even length unless raw=True.
    length overrides the declared length (for malformed files); implicit=True writes implicit VR."""
    if isinstance(value, str):
        value = value.encode("ascii")
    if not raw:
        value = pad(value, vr)
    n = len(value) if length is None else length
    e = ">" if big_endian else "<"
    if implicit:
        return struct.pack(e + "HHI", group, elem, n) + value
    if vr in LONG_VRS:
        return struct.pack(e + "HH", group, elem) + vr.encode() + b"\0\0" + struct.pack(e + "I", n) + value
    return struct.pack(e + "HH", group, elem) + vr.encode() + struct.pack(e + "H", n) + value


def us(v):
    return struct.pack("<H", v)


def ul(v):
    return struct.pack("<I", v)


def item(content=b"", *, undefined=False, length=None):
    if undefined:
        return struct.pack("<HHI", 0xFFFE, 0xE000, UNDEFINED) + content + struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
    return struct.pack("<HHI", 0xFFFE, 0xE000, len(content) if length is None else length) + content


ITEM_DELIM = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
SEQ_DELIM = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def sequence(group, elem, items, *, undefined=True, length=None):
    """An SQ element (explicit VR LE) holding already encoded items."""
    body = b"".join(items)
    if undefined:
        return struct.pack("<HH", group, elem) + b"SQ\0\0" + struct.pack("<I", UNDEFINED) + body + SEQ_DELIM
    n = len(body) if length is None else length
    return struct.pack("<HH", group, elem) + b"SQ\0\0" + struct.pack("<I", n) + body


def encapsulated_pixel_data(fragments, offset_table=b""):
    """(7FE0,0010) OB with undefined length: Basic Offset Table item, one item per fragment, delimiter."""
    body = item(offset_table) + b"".join(item(pad(f, "OB")) for f in fragments)
    return struct.pack("<HH", 0x7FE0, 0x0010) + b"OB\0\0" + struct.pack("<I", UNDEFINED) + body + SEQ_DELIM


def tag_of(encoded):
    g, e = struct.unpack("<HH", encoded[:4])
    return (g, e)


def dataset(elements, sort=True):
    """Concatenates encoded elements, in ascending tag order unless sort=False."""
    return b"".join(sorted(elements, key=tag_of) if sort else elements)


def file_meta(sop_class, sop_instance, ts=EXPLICIT_LE, *, group_length=None, extra=(), omit=(), override=None):
    """The File Meta group (explicit VR LE) with a correct (0002,0000) unless group_length is given.
    omit: element numbers to leave out; override: {element number: encoded element} replacements."""
    parts = {
        0x0001: el(2, 0x0001, "OB", b"\0\1"),
        0x0002: el(2, 0x0002, "UI", sop_class),
        0x0003: el(2, 0x0003, "UI", sop_instance),
        0x0010: el(2, 0x0010, "UI", ts),
        0x0012: el(2, 0x0012, "UI", IMPLEMENTATION_UID),
        0x0013: el(2, 0x0013, "SH", "DGTEST_1"),
    }
    for k, v in (override or {}).items():
        parts[k] = v
    body = b"".join(v for k, v in sorted(parts.items()) if k not in omit) + b"".join(extra)
    gl = len(body) if group_length is None else group_length
    return el(2, 0x0000, "UL", ul(gl)) + body


def part10(ds_bytes, *, sop_class=SC_IMAGE, sop_instance="1.2.826.0.1.3680043.10.1427.2.1", ts=EXPLICIT_LE,
           preamble=None, meta=None):
    """A Part 10 file: 128-byte preamble (zeros unless given), "DICM", File Meta group, dataset."""
    if preamble is None:
        preamble = b"\0" * 128
    if len(preamble) > 128:
        raise ValueError("preamble longer than 128 bytes")
    preamble = preamble + b"\0" * (128 - len(preamble))
    if meta is None:
        meta = file_meta(sop_class, sop_instance, ts)
    return preamble + b"DICM" + meta + ds_bytes


def find_element(data, group, elem, vr=None, start=132):
    """(header offset, value offset) of the first explicit VR LE element group/elem at or after start."""
    pat = struct.pack("<HH", group, elem) + (vr.encode() if vr else b"")
    i = data.find(pat, start)
    if i < 0:
        raise ValueError(f"{tag_str(group, elem)} not found")
    v = data[i + 4:i + 6].decode("latin-1")
    return i, i + (12 if v in LONG_VRS else 8)


def _skip_undefined(data, pos):
    """Returns the offset after the sequence delimiter closing the undefined-length value starting at pos."""
    while pos + 8 <= len(data):
        g, e, n = struct.unpack_from("<HHI", data, pos)
        if (g, e) == (0xFFFE, 0xE0DD):
            return pos + 8
        if (g, e) != (0xFFFE, 0xE000):
            raise ValueError(f"expected an item at {pos}")
        pos += 8
        if n == UNDEFINED:
            pos = _skip_items_content(data, pos)
        else:
            pos += n
    raise ValueError("no sequence delimiter")


def _skip_items_content(data, pos):
    """Skips explicit VR LE elements of an undefined-length item up to and including its item delimiter."""
    while pos + 8 <= len(data):
        g, e = struct.unpack_from("<HH", data, pos)
        if (g, e) == (0xFFFE, 0xE00D):
            return pos + 8
        _, _, pos = _element_extent(data, pos)
    raise ValueError("no item delimiter")


def _element_extent(data, pos):
    """(tag, VR, end offset) of the explicit VR LE element at pos, skipping nested undefined-length values."""
    g, e = struct.unpack_from("<HH", data, pos)
    vr = data[pos + 4:pos + 6].decode("latin-1")
    if vr in LONG_VRS:
        n = struct.unpack_from("<I", data, pos + 8)[0]
        hdr = 12
    else:
        n = struct.unpack_from("<H", data, pos + 6)[0]
        hdr = 8
    if n == UNDEFINED:
        return (g, e), vr, _skip_undefined(data, pos + hdr)
    return (g, e), vr, pos + hdr + n


def explicit_le_top_level(data, start):
    """[(tag, header offset, value offset, declared length)] of the top-level elements of an explicit VR little
    endian dataset starting at `start`: an independent, minimal reader for cross-checking evidence offsets."""
    out = []
    pos = start
    while pos + 8 <= len(data):
        tag, vr, end = _element_extent(data, pos)
        hdr = 12 if vr in LONG_VRS else 8
        n = struct.unpack_from("<I" if hdr == 12 else "<H", data, pos + (8 if hdr == 12 else 6))[0]
        out.append((tag, pos, pos + hdr, n))
        pos = end
    return out


def patch(data, offset, new):
    return data[:offset] + new + data[offset + len(new):]


# A small 8x8 MONOCHROME2 Secondary Capture image carrying the two secret PHI values.
DEFAULT_INSTANCE = "1.2.826.0.1.3680043.10.1427.2.1"


def image_elements(sop_class=SC_IMAGE, sop_instance=DEFAULT_INSTANCE, *, pixel=True, name=SECRET_NAME,
                   pid=SECRET_ID, skip=()):
    """Elements of a tiny valid image (list of encoded elements, unsorted). skip: tags (g, e) to leave out."""
    els = [
        el(0x0008, 0x0016, "UI", sop_class),
        el(0x0008, 0x0018, "UI", sop_instance),
        el(0x0008, 0x0060, "CS", "OT"),
        el(0x0008, 0x0064, "CS", "WSD"),
        el(0x0010, 0x0010, "PN", name),
        el(0x0010, 0x0020, "LO", pid),
        el(0x0020, 0x000D, "UI", "1.2.826.0.1.3680043.10.1427.3.1"),
        el(0x0020, 0x000E, "UI", "1.2.826.0.1.3680043.10.1427.4.1"),
        el(0x0028, 0x0002, "US", us(1)),
        el(0x0028, 0x0004, "CS", "MONOCHROME2"),
        el(0x0028, 0x0010, "US", us(8)),
        el(0x0028, 0x0011, "US", us(8)),
        el(0x0028, 0x0100, "US", us(8)),
        el(0x0028, 0x0101, "US", us(8)),
        el(0x0028, 0x0102, "US", us(7)),
        el(0x0028, 0x0103, "US", us(0)),
    ]
    if pixel:
        els.append(el(0x7FE0, 0x0010, "OB", bytes(range(64))))
    return [e for e in els if tag_of(e) not in skip]


def clean_image(**kw):
    """A complete, valid Part 10 Secondary Capture file."""
    return part10(dataset(image_elements()), **kw)


def private_block(payloads, group=0x0029, creator="DGTEST POLYGLOT"):
    """A private creator (gggg,0010) and OB elements (gggg,1010), (gggg,1011), ... holding the payloads."""
    els = [el(group, 0x0010, "LO", creator)]
    for i, p in enumerate(payloads):
        els.append(el(group, 0x1010 + i, "OB", p))
    return els


# ---------------------------------------------------------------------------------------- executable headers

def pe_headers(machine=0x8664):
    """"PE\\0\\0", a COFF header and a PE32+ optional header and one .text section header: what the Windows
    loader and file(1) check. 24 + 240 + 40 bytes, followed by a few bytes of "code"."""
    coff = struct.pack("<4sHHIIIHH", b"PE\0\0", machine, 1, 0, 0, 0, 240, 0x0022)
    opt = struct.pack("<HBBIIIII", 0x20B, 14, 0, 0x200, 0, 0, 0x1000, 0x1000)  # magic .. BaseOfCode
    opt += struct.pack("<QIIHHHHHHIIIIHHQQQQII", 0x140000000, 0x1000, 0x200, 6, 0, 0, 0, 6, 0, 0, 0x2000,
                       0x200, 0, 3, 0x8160, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    opt += b"\0" * (16 * 8)
    assert len(opt) == 240, len(opt)
    section = struct.pack("<8sIIIIIIHHI", b".text", 0x10, 0x1000, 0x200, 0x200, 0, 0, 0, 0, 0x60000020)
    code = b"\x48\x31\xc0\xc3" * 4  # xor rax,rax; ret
    return coff + opt + section + code


def mz_header(lfanew):
    """DOS MZ header (64 bytes) with e_lfanew = lfanew and a DOS stub message after it."""
    h = bytearray(64)
    h[0:2] = b"MZ"
    struct.pack_into("<HHHHHHHHHHHHH", h, 2, 0x90, 3, 0, 4, 0, 0xFFFF, 0, 0xB8, 0, 0, 0, 0x40, 0)
    struct.pack_into("<I", h, 0x3C, lfanew)
    return bytes(h)


def pe_image():
    """A small complete PE32+ image (e_lfanew = 0x40): what a payload hidden in an element looks like."""
    return mz_header(0x40) + pe_headers()


def pe_preamble(lfanew):
    """A 128-byte preamble that is a DOS/PE header whose e_lfanew points past the preamble."""
    return mz_header(lfanew) + b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21" + \
        b"This program cannot be run in DOS mode.\r\r\n$".ljust(50, b"\0")


def elf64_header(load_offset, filesz=0x40, phoff=64):
    """ELF64 LE executable header + one PT_LOAD program header at phoff (120 bytes with phoff 64)."""
    eh = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    eh += struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0x400000, phoff, 0, 0, 64, 56, 1, 0, 0, 0)
    eh = eh.ljust(phoff, b"\0")
    ph = struct.pack("<IIQQQQQQ", 1, 5, load_offset, 0x400000, 0x400000, filesz, filesz, 0x1000)
    return eh + ph


def macho64_header(seg_fileoff, filesize=0x40):
    """Mach-O 64-bit x86-64 (little endian) with one LC_SEGMENT_64 loading from seg_fileoff (104 bytes)."""
    h = struct.pack("<IIIIIIII", 0xFEEDFACF, 0x01000007, 3, 2, 1, 72, 0, 0)
    seg = struct.pack("<II16sQQQQIIII", 0x19, 72, b"__TEXT", 0x100000000, 0x1000, seg_fileoff, filesize, 5, 5, 0, 0)
    return h + seg


def macho_fat_header(offsets, size=0x40):
    """Universal (fat) Mach-O header, big endian, one x86-64/arm64 slice per offset."""
    cpus = [0x01000007, 0x0100000C]
    h = struct.pack(">II", 0xCAFEBABE, len(offsets))
    for i, off in enumerate(offsets):
        h += struct.pack(">IIIII", cpus[i % 2], 3 if i % 2 == 0 else 0, off, size, 12)
    return h


def java_class_header():
    """A Java class file start (Java 8, major version 52) with a tiny constant pool."""
    return struct.pack(">IHHH", 0xCAFEBABE, 0, 52, 3) + b"\x07\x00\x02\x01\x00\x04Evil"


def ole_header():
    """OLE2 compound file header (what .msi installers and legacy Office files start with)."""
    h = bytearray(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16)
    h += struct.pack("<HHHHHH", 0x3E, 3, 0xFFFE, 9, 6, 0)
    return bytes(h)


def shell_script_preamble():
    return b"#!/bin/sh\necho polyglot; exit 0\n"


def zip_archive(name="payload.txt", data=b"not a medical image\n"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(name, data)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------- documents

def pdf_document(objects, extra_streams=()):
    """A syntactically complete PDF (header, objects, xref, trailer). objects: bodies of 1 0 obj, 2 0 obj, ...
    given as bytes (dictionary text or a full "<<...>> stream ... endstream")."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def pdf_stream(dictionary, data, compress=True):
    if compress:
        data = zlib.compress(data)
        dictionary += b" /Filter /FlateDecode"
    return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def encapsulated_document(doc, mime, sop_class=ENCAPSULATED_PDF, sop_instance="1.2.826.0.1.3680043.10.1427.5.1"):
    """An Encapsulated PDF/CDA Part 10 file with the two secret PHI values."""
    els = [
        el(0x0008, 0x0016, "UI", sop_class),
        el(0x0008, 0x0018, "UI", sop_instance),
        el(0x0008, 0x0060, "CS", "DOC"),
        el(0x0008, 0x0064, "CS", "WSD"),
        el(0x0010, 0x0010, "PN", SECRET_NAME),
        el(0x0010, 0x0020, "LO", SECRET_ID),
        el(0x0020, 0x000D, "UI", "1.2.826.0.1.3680043.10.1427.3.1"),
        el(0x0020, 0x000E, "UI", "1.2.826.0.1.3680043.10.1427.4.2"),
        el(0x0028, 0x0301, "CS", "NO"),
        el(0x0042, 0x0010, "ST", "Report"),
        el(0x0042, 0x0011, "OB", doc),
        el(0x0042, 0x0012, "LO", mime),
    ]
    return part10(dataset(els), sop_class=sop_class, sop_instance=sop_instance)


# ------------------------------------------------------------------------------------------- reference tools

def have(tool):
    return shutil.which(tool) is not None
