"""A pydicom basic-profile de-identifier: the "script someone would write" peer of bench/deid/run.sh.

Usage: pydicom_deid.py INPUT_DIR OUTPUT_DIR KEY_FILE

Applies the basic-profile column of PS3.15 Table E.1-1 (tests/data/deid/confidentiality_profile_attributes.json,
the same table dicomguard compiles in) to every Part 10 file below INPUT_DIR, recursively into every sequence,
and writes the result to the same relative path below OUTPUT_DIR, in the input's transfer syntax:

  X remove; Z empty; D a dummy of the VR; U a keyed UID 2.25.<HMAC-SHA-256(key, "uid" | UID) as 128 bits>;
  K keep; C (not in the basic column) a dummy. Compound actions take the conservative side without the IOD:
  X/Z, X/D, X/Z/D, X/Z/U* remove; Z/D empty.
  Private attributes (odd groups) removed; curves (50xx) and overlay data/comments (60xx,3000/4000) removed.
  Patient Identity Removed YES, De-identification Method added; the preamble zeroed.

Files pydicom cannot read as DICOM are counted as errors and not copied. Prints one line:
`files=N written=W errors=E seconds=S`. Debian's /usr/bin/python3 with python3-pydicom only.
"""

import hashlib
import hmac
import json
import os
import sys
import time
import warnings

import pydicom
from pydicom.errors import InvalidDicomError

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = os.path.join(HERE, "..", "..", "tests", "data", "deid", "confidentiality_profile_attributes.json")

DUMMY = {"DA": "19000101", "TM": "000000", "DT": "19000101000000", "AS": "000Y", "DS": "0", "IS": "0",
         "PN": "ANONYMOUS", "UI": "2.25.0"}
TEXT = {"AE", "CS", "LO", "LT", "SH", "ST", "UC", "UR", "UT", "PN"}


def load_actions():
    with open(TABLE) as f:
        rows = json.load(f)
    actions = {}
    for r in rows:
        t = r["tag"]
        if "X" in t[1:10] or "G" in t:
            continue  # pattern rows: handled in code below
        a = r["basicProfile"]
        if "/" in a:
            a = "Z" if a == "Z/D" else "X"
        actions[int(t[1:5] + t[6:10], 16)] = a
    return actions


class Deid:
    def __init__(self, key):
        self.key = key
        self.actions = load_actions()

    def uid(self, value):
        if isinstance(value, bytes):
            value = value.rstrip(b"\0 ").decode("ascii", "replace")
        if not value or str(value).startswith("1.2.840.10008."):
            return value
        d = hmac.new(self.key, b"uid" + str(value).encode(), hashlib.sha256).digest()[:16]
        return "2.25." + str(int.from_bytes(d, "big"))

    def dummy(self, el):
        vr = el.VR
        if vr in DUMMY:
            return DUMMY[vr]
        if vr in TEXT:
            return "ANONYMIZED"
        if vr in ("US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"):
            return 0
        if vr == "SQ":
            return []
        return b"\0\0"

    def apply(self, ds):
        for el in list(ds):
            tag = el.tag
            g, e = tag.group, tag.element
            if g % 2 == 1 or (g & 0xFF00) == 0x5000 or ((g & 0xFF00) == 0x6000 and e in (0x3000, 0x4000)):
                del ds[tag]
                continue
            a = self.actions.get(int(tag))
            if a is None or a == "K":
                if el.VR == "SQ":
                    for item in el.value:
                        self.apply(item)
                continue
            if a == "X":
                del ds[tag]
            elif a == "Z":
                el.value = [] if el.VR == "SQ" else None
            elif a == "U":
                el.value = [self.uid(v) for v in el.value] if el.VM > 1 else self.uid(el.value)
            else:  # D, C
                el.value = self.dummy(el)
            if el.VR in ("UN", "OB", "OW") and isinstance(el.value, str):  # a UID or text pydicom read as UN
                b = el.value.encode()
                el.value = b + b"\0" * (len(b) % 2)

    def file(self, src, dst):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(src)
            self.apply(ds)
            meta = ds.file_meta
            if "MediaStorageSOPInstanceUID" in meta:
                meta.MediaStorageSOPInstanceUID = self.uid(meta.MediaStorageSOPInstanceUID)
            ds.PatientIdentityRemoved = "YES"
            ds.DeidentificationMethod = "bench/deid/pydicom_deid.py: PS3.15 E.1-1 basic profile"
            ds.preamble = bytes(128)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            ds.save_as(dst, write_like_original=False)


def main(argv):
    if len(argv) != 4:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    src, out, keyfile = argv[1:]
    with open(keyfile, "rb") as f:
        deid = Deid(f.read())
    t0 = time.monotonic()
    n = written = errors = 0
    for d, dirs, names in os.walk(src):
        dirs.sort()
        for name in sorted(names):
            p = os.path.join(d, name)
            n += 1
            try:
                deid.file(p, os.path.join(out, os.path.relpath(p, src)))
                written += 1
            except (InvalidDicomError, Exception):  # noqa: BLE001  (any failure: count it, go on)
                errors += 1
    print(f"files={n} written={written} errors={errors} seconds={time.monotonic() - t0:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
