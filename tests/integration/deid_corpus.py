"""A marker corpus for `dicomguard deid`: every PS3.15 Table E.1-1 attribute, filled with a findable value.

`generate(outdir)` writes a few CT instances of one patient and one study, in which EVERY attribute of Table E.1-1
that the PS3.6 dictionary knows (617 of the 621 rows: the two group-0000 command rows and the two pattern rows
without a dictionary entry are not attributes of a file; the curve pattern row (50XX,XXXX) is filled anyway) holds
a unique marker value valid for its VR:

* text VRs: a unique uppercase token `ZQnnnnnX` (8 characters; `ZQ` does not occur in DICOM vocabulary);
* UI: a unique UID under a private root, fixed width so that none is a prefix of another
  (`1.2.826.0.1.3680043.10.54321.1nnnnn`);
* DA: a unique valid date from 1901 on; TM: a unique time with a unique 6-digit fraction; DT: both;
* AS, DS, IS and the binary numbers (US, SS, UL, ...): unique values, recorded with their exact byte encodings;
* OB, OW, UN: an 8-byte token;
* SQ: one item whose Code Meaning is a token (a marker of the sequence's row; for the X/Z/U* rows the item also
  holds a Referenced SOP Class/Instance UID pointing at another instance of the corpus).

Also: every non-sequence marker again at the bottom of a chain of five nested sequences that Table E.1-1 does not
name (so the chain itself is kept and the markers inside must be handled "at every depth"); private blocks with
safe creators from Table E.3.10-1 (in a non-default block number, so a match by raw tag would fail) including an
element offset not in the safe list, and a block with an unknown creator; overlay groups 6000 and 6002 (60xx,3000)
and (60xx,4000); curve group 5000; cross-references between instances; explicit VR little endian, implicit VR
little endian and deflated explicit VR little endian.

The manifest (`manifest.json` beside the instances, not inside the input tree) lists every marker: file, tag path,
E.1-1 row (tag, name, basic action, option columns), VR and the needle: the exact bytes to look for, and whether
they are "strong" (unique enough to be searched for in every output byte) or "weak" (short numbers and dates,
compared with the value of every element of the same tag in the output instead, at any depth).

`survivors(manifest, output_dir, options)` returns the markers found in the output that the options do not allow
to be retained.

Run as a script: /usr/bin/python3 tests/integration/deid_corpus.py OUTDIR  (writes OUTDIR/input and
OUTDIR/manifest.json). Standard library and Debian's python3-pydicom (2.3) only; reads only tests/data/deid.
"""

import datetime
import json
import os
import struct
import sys
import warnings
import zlib

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "deid")

UID_ROOT = "1.2.826.0.1.3680043.10.54321."
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
DEFLATED = "1.2.840.10008.1.2.1.99"

# The CLI's option flags and the Table E.1-1 column each one selects.
OPTION_COLUMNS = {
    "--retain-safe-private": "rtnSafePrivOpt",
    "--retain-uids": "rtnUIDsOpt",
    "--retain-device-identity": "rtnDevIdOpt",
    "--retain-institution-identity": "rtnInstIdOpt",
    "--retain-patient-characteristics": "rtnPatCharsOpt",
    "--retain-long-full-dates": "rtnLongFullDatesOpt",
    "--retain-long-modified-dates": "rtnLongModifDatesOpt",
    "--clean-descriptors": "cleanDescOpt",
    "--clean-structured-content": "cleanStructContOpt",
    "--clean-graphics": "cleanGraphOpt",
}

TEXT_VRS = {"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"}
BIN_NUM = {"US": "<H", "SS": "<h", "UL": "<I", "SL": "<i", "FL": "<f", "FD": "<d", "UV": "<Q", "SV": "<q"}

# Sequences that Table E.1-1 does not name: the five-deep chain, and the path that carries cross-references.
CHAIN = ["(0008,2218)", "(0054,0220)", "(0028,3010)", "(0040,0260)", "(0008,9215)"]
# Private blocks. Safe ones are rows of PS3.15 Table E.3.10-1 (creator, group, element offset, VR).
SAFE_PRIVATE = [("GEMS_PARM_01", 0x0043, 0x27, "SH"), ("ELSCINT1", 0x01F1, 0x01, "CS"),
                ("Philips PET Private Group", 0x7053, 0x00, "DS")]
SAFE_BLOCK = 0x42           # not the usual 0x10: a match by raw tag instead of creator + offset fails
UNSAFE_OFFSET = 0xF7        # GEMS_PARM_01 offset not in the safe list (checked in load_tables)
UNKNOWN_CREATOR = "ZQ UNKNOWN CREATOR"


def tag_str(group, elem):
    return f"({group:04X},{elem:04X})"


def load_tables():
    with open(os.path.join(DATA, "confidentiality_profile_attributes.json")) as f:
        rows = json.load(f)
    with open(os.path.join(DATA, "attributes.json")) as f:
        dictionary = {r["tag"].upper(): r for r in json.load(f)}
    with open(os.path.join(DATA, "safe_private_attributes.json")) as f:
        safe = json.load(f)["rows"]
    safe_keys = {(r["private_creator"], int(r["tag"][1:5], 16), int(r["tag"][-3:-1], 16)) for r in safe}
    for c, g, e, _ in SAFE_PRIVATE:
        assert (c, g, e) in safe_keys, (c, g, e)
    assert ("GEMS_PARM_01", 0x0043, UNSAFE_OFFSET) not in safe_keys
    return rows, dictionary, safe_keys


def dictionary_rows(rows, dictionary):
    """The E.1-1 rows whose tag the PS3.6 dictionary has (including (60XX,3000) and (60XX,4000))."""
    return [r for r in rows if r["tag"].upper() in dictionary]


def row_info(r):
    return {"tag": r["tag"], "name": r["name"], "basic": r["basicProfile"],
            "options": {k: v for k, v in r.items() if k.endswith("Opt")}}


class Markers:
    """Hands out unique marker values, one counter for the whole corpus."""

    def __init__(self):
        self.n = 0

    def next(self):
        self.n += 1
        return self.n

    def token(self):
        return f"ZQ{self.next():05d}X"

    def value(self, vr):
        """(pydicom value, needle bytes, strong) for a VR."""
        n = self.next()
        if vr in TEXT_VRS:
            tok = f"ZQ{n:05d}X"
            if vr == "PN":
                return f"{tok}^GIVEN", tok.encode(), True
            if vr == "UR":
                return f"http://example.invalid/{tok}", tok.encode(), True
            if vr in ("LT", "ST", "UT", "UC"):
                return f"{tok} FREE TEXT", tok.encode(), True
            return tok, tok.encode(), True
        if vr == "UI":
            u = f"{UID_ROOT}{100000 + n}"
            return u, u.encode(), True
        if vr == "DA":
            d = (datetime.date(1901, 1, 1) + datetime.timedelta(days=n)).strftime("%Y%m%d")
            return d, d.encode(), False
        if vr == "TM":
            t = f"{(n // 3600) % 24:02d}{(n // 60) % 60:02d}{n % 60:02d}.{n % 1000000:06d}"
            return t, t.encode(), True
        if vr == "DT":
            d = (datetime.date(1901, 1, 1) + datetime.timedelta(days=n)).strftime("%Y%m%d")
            t = f"{d}{(n // 3600) % 24:02d}{(n // 60) % 60:02d}{n % 60:02d}.{n % 1000000:06d}"
            return t, t.encode(), True
        if vr == "AS":
            s = f"{n % 1000:03d}W"
            return s, s.encode(), False
        if vr == "DS":
            s = f"{n}.25"
            return s, s.encode(), False
        if vr == "IS":
            s = str(700000 + n)
            return s, s.encode(), False
        if vr in BIN_NUM:
            v = 1000 + n if vr not in ("FL", "FD") else 1000.5 + n
            return v, struct.pack(BIN_NUM[vr], v), False
        if vr == "AT":
            v = 0x00990000 | n
            return v, struct.pack("<HH", v >> 16, v & 0xFFFF), False
        # OB, OW, OF, OD, OL, OV, UN and anything else: an even-length byte token
        b = f"ZQ{n:05d}X".encode()
        return b, b, True


def first_vr(vr):
    vr = vr.split(" or ")[0].strip()
    return vr or "UN"


def new_dataset():
    from pydicom.dataset import Dataset
    return Dataset()


class Builder:
    def __init__(self, rows, dictionary, markers):
        self.rows = dictionary_rows(rows, dictionary)
        self.dictionary = dictionary
        self.m = markers

    def fill(self, ds, file, prefix, manifest, skip, with_sequences, refs):
        """Every E.1-1 attribute (not in skip) into ds, recording markers under path prefix."""
        for r in self.rows:
            t = r["tag"].upper()
            if "X" in t[1:5] or t in skip:
                continue
            vr = first_vr(self.dictionary[t]["valueRepresentation"])
            g, e = int(t[1:5], 16), int(t[6:10], 16)
            path = prefix + tag_str(g, e)
            if vr == "SQ":
                if not with_sequences:
                    continue
                item = new_dataset()
                val, needle, strong = self.m.value("LO")
                item.add_new(0x00080104, "LO", val)
                ds.add_new((g, e), "SQ", [item])
                manifest.append(self.entry(file, path + "[0](0008,0104)", r, "LO", needle, strong, val, kind="sq"))
                if "U*" in r["basicProfile"] and refs:
                    target_file, target_uid = refs[0]
                    item.add_new(0x00081150, "UI", CT_IMAGE)
                    item.add_new(0x00081155, "UI", target_uid)
                    ref_row = next(x for x in self.rows if x["tag"] == "(0008,1155)")
                    manifest.append(self.entry(file, path + "[0](0008,1155)", ref_row, "UI", target_uid.encode(),
                                               True, target_uid, kind="reference", target=target_file))
                continue
            val, needle, strong = self.m.value(vr)
            ds.add_new((g, e), vr, val)
            manifest.append(self.entry(file, path, r, vr, needle, strong, val))

    @staticmethod
    def entry(file, path, row, vr, needle, strong, value, kind="value", target=None):
        e = {"file": file, "path": path, "row": row_info(row) if row else None, "vr": vr,
             "needle": needle.hex(), "text": needle.decode("latin-1") if strong or vr not in BIN_NUM else None,
             "strong": strong, "kind": kind}
        if not strong:
            e["value"] = value if not isinstance(value, bytes) else value.hex()
        if target:
            e["target"] = target
        return e


def build_instance(b, name, shared, own_uids, refs, manifest):
    """One CT instance with every marker; returns the pydicom Dataset."""
    from pydicom.dataset import FileMetaDataset
    ds = new_dataset()
    structural = {"(0008,0018)": own_uids["sop"], "(0020,000D)": shared["study"], "(0020,000E)": shared["series"],
                  "(0020,0052)": shared["frame"], "(0010,0020)": shared["patient_id"],
                  "(0010,0010)": shared["patient_name"], "(0008,0020)": shared["study_date"],
                  "(0020,0010)": shared["study_id"], "(0008,0050)": shared["accession"]}
    all_rows = {r["tag"]: r for r in b.rows}
    for t, (val, vr) in structural.items():
        g, e = int(t[1:5], 16), int(t[6:10], 16)
        ds.add_new((g, e), vr, val)
        needle = val.encode() if vr != "PN" else val.split("^")[0].encode()
        manifest.append(Builder.entry(name, t, all_rows[t], vr, needle, vr != "DA", val))
    b.fill(ds, name, "", manifest, set(structural) | {"(0002,0003)"}, True, refs)
    # Media Storage SOP Instance UID is the SOP Instance UID, in the file meta information.
    manifest.append(Builder.entry(name, "(0002,0003)", all_rows["(0002,0003)"], "UI", own_uids["sop"][0].encode(),
                                  True, own_uids["sop"][0]))

    # Five nested sequences E.1-1 does not name; every non-sequence marker again at the bottom.
    top = ds
    prefix = ""
    for t in CHAIN:
        item = new_dataset()
        item.add_new(0x00080100, "SH", "ZZ1")       # Code Value / Scheme: harmless, not markers
        item.add_new(0x00080102, "SH", "99TEST")
        top.add_new((int(t[1:5], 16), int(t[6:10], 16)), "SQ", [item])
        prefix += t + "[0]"
        top = item
    b.fill(top, name, prefix, manifest, {"(0002,0003)", "(FFFC,FFFC)"}, False, refs)

    # Cross-references along a path E.1-1 does not name (kept, UIDs inside replaced).
    if refs:
        items = []
        for target_file, target_uid in refs:
            sop = new_dataset()
            sop.add_new(0x00081150, "UI", CT_IMAGE)
            sop.add_new(0x00081155, "UI", target_uid)
            series = new_dataset()
            series.add_new(0x0020000E, "UI", shared["series"][0])
            series.add_new(0x00081199, "SQ", [sop])
            study = new_dataset()
            study.add_new(0x0020000D, "UI", shared["study"][0])
            study.add_new(0x00081115, "SQ", [series])
            items.append(study)
        ds.add_new(0x00081200, "SQ", items)
        ref_row = all_rows["(0008,1155)"]
        for i, (target_file, target_uid) in enumerate(refs):
            manifest.append(Builder.entry(name, f"(0008,1200)[{i}](0008,1115)[0](0008,1199)[0](0008,1155)", ref_row,
                                          "UI", target_uid.encode(), True, target_uid, kind="reference",
                                          target=target_file))

    # Private blocks: safe creators in block SAFE_BLOCK, one unsafe offset, one unknown creator.
    priv_row = next(r for r in b.all_rows if r["tag"].startswith("(GGGG"))
    for creator, g, off, vr in SAFE_PRIVATE:
        ds.add_new((g, SAFE_BLOCK), "LO", creator)
        val, needle, strong = b.m.value(vr)
        ds.add_new((g, (SAFE_BLOCK << 8) | off), vr, val)
        manifest.append(Builder.entry(name, tag_str(g, (SAFE_BLOCK << 8) | off), priv_row, vr, needle, strong, val,
                                      kind="private-safe"))
        if creator == "GEMS_PARM_01":
            val, needle, strong = b.m.value("LO")
            ds.add_new((g, (SAFE_BLOCK << 8) | UNSAFE_OFFSET), "LO", val)
            manifest.append(Builder.entry(name, tag_str(g, (SAFE_BLOCK << 8) | UNSAFE_OFFSET), priv_row, "LO",
                                          needle, strong, val, kind="private-unsafe"))
    ds.add_new((0x0009, 0x0010), "LO", UNKNOWN_CREATOR)
    for off, vr in ((0x01, "LO"), (0x02, "OB")):
        val, needle, strong = b.m.value(vr)
        ds.add_new((0x0009, 0x1000 | off), vr, val)
        manifest.append(Builder.entry(name, tag_str(0x0009, 0x1000 | off), priv_row, vr, needle, strong, val,
                                      kind="private-unknown"))

    # Overlays (60xx) and curves (50xx).
    ov_rows = {r["tag"]: r for r in b.all_rows if r["tag"].startswith("(60XX") or r["tag"].startswith("(50XX")}
    for g in (0x6000, 0x6002):
        ds.add_new((g, 0x0010), "US", 8)
        ds.add_new((g, 0x0011), "US", 8)
        ds.add_new((g, 0x0040), "CS", "G")
        ds.add_new((g, 0x0050), "SS", [1, 1])
        ds.add_new((g, 0x0100), "US", 1)
        ds.add_new((g, 0x0102), "US", 0)
        tok = b.m.token().encode()
        ds.add_new((g, 0x3000), "OW", tok)
        manifest.append(Builder.entry(name, tag_str(g, 0x3000), ov_rows["(60XX,3000)"], "OW", tok, True, tok,
                                      kind="overlay"))
        val, needle, strong = b.m.value("LT")
        ds.add_new((g, 0x4000), "LT", val)
        manifest.append(Builder.entry(name, tag_str(g, 0x4000), ov_rows["(60XX,4000)"], "LT", needle, strong, val,
                                      kind="overlay"))
    ds.add_new((0x5000, 0x0005), "US", 1)
    ds.add_new((0x5000, 0x0010), "US", 4)
    ds.add_new((0x5000, 0x0020), "CS", "TAC")
    ds.add_new((0x5000, 0x0103), "US", 0)
    val, needle, strong = b.m.value("LO")
    ds.add_new((0x5000, 0x0022), "LO", val)
    manifest.append(Builder.entry(name, "(5000,0022)", ov_rows["(50XX,XXXX)"], "LO", needle, strong, val,
                                  kind="curve"))
    tok = b.m.token().encode()
    ds.add_new((0x5000, 0x3000), "OB", tok)
    manifest.append(Builder.entry(name, "(5000,3000)", ov_rows["(50XX,XXXX)"], "OB", tok, True, tok, kind="curve"))

    # What a CT image needs to be one (none of these are in Table E.1-1).
    ds.SOPClassUID = CT_IMAGE
    ds.Modality = "CT"
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.BurnedInAnnotation = "NO"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 8
    ds.Columns = 8
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.add_new(0x7FE00010, "OW", bytes(128))

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE
    meta.MediaStorageSOPInstanceUID = own_uids["sop"][0]
    meta.ImplementationClassUID = UID_ROOT + "999999"
    ds.file_meta = meta
    return ds


INSTANCES = [  # (relative path, transfer syntax, indexes of the instances it references)
    ("explicit/inst1.dcm", EXPLICIT, [1]),
    ("explicit/inst2.dcm", EXPLICIT, [0, 2]),
    ("implicit/inst3.dcm", IMPLICIT, [0]),
    ("deflated/inst4.dcm", DEFLATED, [1]),
]


def generate(outdir):
    """Writes outdir/input/... and outdir/manifest.json; returns the manifest dict."""
    rows, dictionary, _ = load_tables()
    m = Markers()
    b = Builder(rows, dictionary, m)
    b.all_rows = rows
    shared = {"study": (m.value("UI")[0], "UI"), "series": (m.value("UI")[0], "UI"),
              "frame": (m.value("UI")[0], "UI"), "patient_id": (m.token(), "LO"),
              "patient_name": (m.token() + "^GIVEN", "PN"), "study_date": (m.value("DA")[0], "DA"),
              "study_id": (m.token(), "SH"), "accession": (m.token(), "SH")}
    sops = [m.value("UI")[0] for _ in INSTANCES]
    indir = os.path.join(outdir, "input")
    markers = []
    files = []
    for i, (rel, ts, ref_idx) in enumerate(INSTANCES):
        refs = [(INSTANCES[j][0], sops[j]) for j in ref_idx]
        ds = build_instance(b, rel, shared, {"sop": (sops[i], "UI")}, refs, markers)
        ds.file_meta.TransferSyntaxUID = ts
        ds.is_little_endian = True
        ds.is_implicit_VR = ts == IMPLICIT
        ds.preamble = b"\0" * 128
        p = os.path.join(indir, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        ds.save_as(p, write_like_original=False)
        files.append({"file": rel, "transfer_syntax": ts, "sop_instance_uid": sops[i]})
    manifest = {"uid_root": UID_ROOT, "files": files, "markers": markers,
                "rows_covered": sorted({mk["row"]["tag"] for mk in markers if mk["row"]}),
                "dictionary_rows": sorted(r["tag"] for r in dictionary_rows(rows, dictionary))}
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return manifest


# ------------------------------------------------------------------------------------------------ checking outputs

def dataset_bytes(path):
    """The file's bytes, with the data set of a deflated file inflated (markers are searched in both)."""
    with open(path, "rb") as f:
        raw = f.read()
    i = raw.find(DEFLATED.encode())
    if 0 < i < 4096:
        try:
            import pydicom
            with open(path, "rb") as f:
                pydicom.filereader.read_preamble(f, False)
                pydicom.filereader._read_file_meta_info(f)
                pos = f.tell()
            raw += zlib.decompressobj(-zlib.MAX_WBITS).decompress(raw[pos:])
        except Exception:  # noqa: BLE001  (not readable as deflated: search the raw bytes only)
            pass
    return raw


def read_output(path):
    """An output as pydicom reads it (forced, decoded), or None when it cannot."""
    import pydicom
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, force=True)
            ds.decode()
        return ds
    except Exception:  # noqa: BLE001
        return None


def element_values(path):
    """Every (tag, value) of every element at every depth of the output (for the weak markers).

    Tags as "(GGGG,EEEE)"; values as text (stripped of padding), decimal integers, repr() of floats, and for bytes
    both their hex and their latin-1 text (attributes pydicom 2.3 does not know are read as UN bytes)."""
    import pydicom
    out = set()
    ds = read_output(path)
    if ds is None:
        return out
    for el in ds.iterall():
        if el.VR == "SQ":
            continue
        t = tag_str(el.tag.group, el.tag.element)
        v = el.value
        vals = v if isinstance(v, (list, tuple, pydicom.multival.MultiValue)) else [v]
        for x in vals:
            if isinstance(x, bytes):
                out.add((t, x.hex()))
                out.add((t, x.decode("latin-1").strip(" \0")))
            elif isinstance(x, float):
                out.add((t, repr(float(x))))
            elif isinstance(x, int):
                out.add((t, str(x)))
            else:
                out.add((t, str(x).strip(" \0")))
    return out


def may_retain(marker, options):
    """True when the options allow this marker's value to remain in the output.

    A marker may remain when, for the options given, the action of its row is K (an option column K, or the
    Retain Safe Private Option's C on a safe private attribute), or U* (a sequence whose items are kept with their
    UIDs replaced: the non-UID content of the item may stay). Otherwise (D, Z, X, C, U and their combinations)
    the original value must be gone. One allowed exception: under --retain-long-modified-dates, times (TM) may
    stay, since dates are shifted by whole days (issue 12), which leaves a time of day as it was."""
    row = marker["row"]
    cols = {OPTION_COLUMNS[o] for o in options if o in OPTION_COLUMNS}
    kind = marker["kind"]
    if kind.startswith("private"):
        return kind == "private-safe" and "rtnSafePrivOpt" in cols
    actions = [row["options"][c] for c in cols if c in row["options"]]
    if not actions:
        actions = [row["basic"]]
    for a in actions:
        if a == "K":
            return True
        if "U*" in a and marker["vr"] != "UI":
            return True
        if a == "C" and "rtnLongModifDatesOpt" in cols and marker["vr"] == "TM" \
                and row["options"].get("rtnLongModifDatesOpt") == "C":
            return True
    return False


def last_tag(path):
    return path[-11:]


def output_files(output_dir):
    out = []
    for d, dirs, names in os.walk(output_dir):
        dirs[:] = [x for x in dirs if x != ".quarantine"]
        out += [os.path.join(d, n) for n in names]
    return sorted(out)


def path_values(path):
    """{manifest path "(GGGG,EEEE)[i](GGGG,EEEE)": set of values as element_values gives them} of an output."""
    import pydicom
    out = {}
    ds = read_output(path)
    if ds is None:
        return out

    def walk(d, prefix):
        for el in d:
            p = prefix + tag_str(el.tag.group, el.tag.element)
            if el.VR == "SQ":
                for i, item in enumerate(el.value or []):
                    walk(item, f"{p}[{i}]")
                continue
            v = el.value
            for x in (v if isinstance(v, (list, tuple, pydicom.multival.MultiValue)) else [v]):
                vals = out.setdefault(p, set())
                if isinstance(x, bytes):
                    vals.update({x.hex(), x.decode("latin-1").strip(" \0")})
                else:
                    vals.add(str(x).strip(" \0"))
    walk(ds, "")
    return out


def find_markers(markers, output_dir):
    """(output file relative to output_dir, marker) for each of markers found in any output file.

    Strong needles are searched for in every byte of every output (a deflated data set also inflated); weak ones
    (short dates and numbers) are compared with the value of every element of the same tag at every depth: a
    weak value moved into another attribute is not seen, but a date shifted by whole days (Retain Longitudinal
    Temporal Information with Modified Dates) is not mistaken for another marker's date either. Every output file is
    searched for every marker, not only the file its marker was written into; dates, though, only at their own path
    in their own file: the whole-day shift of Retain Longitudinal Temporal Information with Modified Dates, one
    per patient, can land a date on another instance's (or another depth's) marker date. The quarantine folder is
    skipped (nothing there is output)."""
    found = []
    strong, weak = {}, {}
    for mk in markers:
        (strong if mk["strong"] else weak).setdefault(mk["needle"], []).append(mk)
    for p in output_files(output_dir):
        rel = os.path.relpath(p, output_dir)
        data = dataset_bytes(p)
        for needle, mks in strong.items():
            if bytes.fromhex(needle) in data:
                found += [(rel, mk) for mk in mks]
        if weak:
            vals = element_values(p)
            at = path_values(p)
            for needle, mks in weak.items():
                for mk in mks:
                    if mk["vr"] in ("DA", "DT"):
                        if mk["file"] == rel and (str(mk.get("value")) in at.get(mk["path"], ()) or
                                                  needle in at.get(mk["path"], ())):
                            found.append((rel, mk))
                        continue
                    v = mk.get("value")
                    key = repr(float(v)) if isinstance(v, float) else str(v)
                    t = last_tag(mk["path"])
                    if (t, key) in vals or (t, needle) in vals:
                        found.append((rel, mk))
    return found


def survivors(manifest, output_dir, options=()):
    """Markers found in the output (see find_markers) that the options do not allow to be retained."""
    options = list(options)
    return find_markers([mk for mk in manifest["markers"] if not may_retain(mk, options)], output_dir)


def main(argv):
    if len(argv) != 2:
        print("usage: deid_corpus.py OUTDIR", file=sys.stderr)
        return 2
    man = generate(argv[1])
    print(f"{len(man['files'])} files, {len(man['markers'])} markers, {len(man['rows_covered'])} rows of "
          f"Table E.1-1 covered ({len(man['dictionary_rows'])} in the dictionary)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
