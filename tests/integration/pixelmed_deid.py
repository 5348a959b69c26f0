"""PixelMed's DeidentifyAndRedact as the behavioural reference for `dicomguard deid` (issue 12).

PixelMed (David Clunie, who wrote much of PS3.15 Annex E) ships in Debian as libpixelmed-java / pixelmed-apps.
`com.pixelmed.apps.DeidentifyAndRedact inputPath outputDir redactionControlFile [options]` de-identifies every
file under inputPath into outputDir (flat, named by the new SOP Instance UID); an empty redaction control file
redacts no pixels. It is run here once per input file, each into its own folder, so that every output is known
to come from its input.

`derive_actions(input_file, output_file)` compares two instances with pydicom and gives, for every attribute
at every depth of the input (by tag path, e.g. `(0008,2218)[0](0010,0010)`), what happened to it:
`removed`, `emptied`, `replaced` or `kept`. A sequence is `emptied` when it has no items left; `kept` when its
items are there (what happened inside is reported under the items' own paths). It is used for PixelMed's output
and, in test_deid.py, for ours.

`pixelmed_actions(input_dir)` runs PixelMed over every file below input_dir and merges the per-file results
(an attribute treated differently in different files gets the actions joined by `|`).

`EXPLAINED` is the table of known differences between PixelMed's defaults and Table E.1-1 as dicomguard applies
it: for each entry the attribute (a tag, a tag path suffix or a kind), PixelMed's action, and why it differs.
The cross-check in test_deid.py accepts a difference between the two tools only when it is in this table.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings

sys.dont_write_bytecode = True

CLASS = "com.pixelmed.apps.DeidentifyAndRedact"


def pixelmed_jar():
    for p in ("/usr/share/java/pixelmed.jar", *sorted(glob.glob("/usr/share/java/pixelmed*.jar"))):
        if os.path.isfile(p):
            return p
    return None


def available():
    return bool(pixelmed_jar() and shutil.which("java"))


def run_pixelmed(input_path, output_dir, *options):
    """Runs DeidentifyAndRedact; returns the CompletedProcess (its log goes to stderr)."""
    os.makedirs(output_dir, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".redact") as control:  # empty: no pixel redaction
        return subprocess.run(["java", "-Djava.awt.headless=true", "-cp", pixelmed_jar(), CLASS, input_path,
                               output_dir, control.name, *options],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def _read(path):
    import pydicom
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, force=True)
        ds.decode()
    return ds


def _elements(ds, prefix=""):
    """(path, element) for every element at every depth, file meta first."""
    out = []
    meta = getattr(ds, "file_meta", None)
    if prefix == "" and meta is not None:
        for el in meta:
            out.append((f"({el.tag.group:04X},{el.tag.element:04X})", el))
    for el in ds:
        p = f"{prefix}({el.tag.group:04X},{el.tag.element:04X})"
        out.append((p, el))
        if el.VR == "SQ" and el.value:
            for i, item in enumerate(el.value):
                out += _elements(item, f"{p}[{i}]")
    return out


_STEP = re.compile(r"\((\w{4}),(\w{4})\)(?:\[(\d+)\])?")


def _lookup(ds, path):
    """The element at path in ds, or None."""
    cur = ds
    steps = _STEP.findall(path)
    for n, (g, e, idx) in enumerate(steps):
        tag = (int(g, 16) << 16) | int(e, 16)
        if g.upper() == "0002":
            cur = getattr(ds, "file_meta", None)
            if cur is None:
                return None
        if tag not in cur:
            return None
        el = cur[tag]
        if idx == "":
            return el
        if el.VR != "SQ" or len(el.value) <= int(idx):
            return None
        cur = el.value[int(idx)]
    return None


def _norm(el):
    v = el.value
    if isinstance(v, bytes):
        return v.rstrip(b"\0 ")
    if el.VR == "SQ":
        return len(v)
    return str(v).strip(" \0")


def derive_actions(input_file, output_file):
    """{tag path: removed|emptied|replaced|kept} for every attribute of the input."""
    a, b = _read(input_file), _read(output_file)
    out = {}
    for path, el in _elements(a):
        got = _lookup(b, path)
        if got is None:
            out[path] = "removed"
        elif el.VR == "SQ":
            out[path] = "emptied" if not got.value else "kept"
        elif got.value in (None, "", b"") or (isinstance(got.value, (list, tuple)) and not got.value):
            out[path] = "emptied"
        elif _norm(got) == _norm(el):
            out[path] = "kept"
        else:
            out[path] = "replaced"
    return out


def merge(results):
    merged = {}
    for r in results:
        for k, v in r.items():
            old = merged.get(k)
            merged[k] = v if old is None or old == v else "|".join(sorted(set(old.split("|")) | {v}))
    return merged


def pixelmed_actions(input_dir, *options, per_file=False):
    """PixelMed's action for every attribute (tag path) of every file below input_dir.

    Returns the merged {tag_path: action}, or with per_file {relative path: {tag_path: action}}."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="dg-pixelmed-") as tmp:
        for d, _, names in os.walk(input_dir):
            for n in sorted(names):
                src = os.path.join(d, n)
                rel = os.path.relpath(src, input_dir)
                dst = os.path.join(tmp, rel.replace(os.sep, "__"))
                cp = run_pixelmed(src, dst, *options)
                outs = glob.glob(os.path.join(dst, "*"))
                if cp.returncode != 0 or len(outs) != 1:
                    raise RuntimeError(f"PixelMed on {rel}: exit {cp.returncode}, {len(outs)} outputs\n"
                                       + cp.stderr.decode("utf-8", "replace")[-2000:])
                results[rel] = derive_actions(src, outs[0])
    return results if per_file else merge(results.values())


# --------------------------------------------------------------------------------------- explained differences
#
# DeidentifyAndRedact 20220618 (Debian bookworm) calls, for every file (read with javap from its
# DeidentifyAndRedact$OurMediaImporter.doSomethingWithDicomFile):
#   ClinicalTrialsAttributes.removeClinicalTrialsAttributes(list)
#   ClinicalTrialsAttributes.removeOrNullIdentifyingAttributes(list, HandleUIDs.keep, keepDescriptors=true,
#       keepSeriesDescriptors=true, keepProtocolName=true, keepPatientCharacteristics=true,
#       keepDeviceIdentity=true, keepInstitutionIdentity=true, HandleDates.keep, null, null)
# then remaps the UIDs, keeps safe private attributes by default and adds its own Patient Identity Removed and
# De-identification Method. So by default it applies the basic profile together with the Retain Longitudinal
# Temporal Information with Full Dates, Clean Descriptors (by keeping them), Retain Patient Characteristics,
# Retain Device Identity, Retain Institution Identity and Retain Safe Private options; dicomguard's basic profile
# applies none of them. Beyond those defaults, its list of identifying attributes is its own edition's Table E.1-1:
# the attributes in UNLISTED_2022 are kept by it (rows it does not have or does not act on).
#
# Each entry: (matcher, PixelMed's action, our actions it explains, reason). A matcher is a tag "(GGGG,EEEE)"
# (the attribute at any depth: the last step of the path) or "kind:NAME" (a predicate in _KINDS, on the path and
# the Table E.1-1 row of its last tag). Our actions "*" means any. Found by running PixelMed on deid_corpus.py's
# instances (every E.1-1 attribute at the top level and five sequences deep) and comparing with Table E.1-1.

NOT_KEPT = "removed|emptied|replaced"

# Attributes PixelMed 20220618 keeps although Table E.1-1 (2024b) does not, outside the option defaults above.
UNLISTED_2022 = {
    '(0008,0054)', '(0008,0055)', '(0008,1000)', '(0008,1111)', '(0012,0022)', '(0012,0023)', '(0012,0032)',
    '(0012,0041)', '(0012,0043)', '(0012,0055)', '(0012,0073)', '(0020,3406)', '(0028,4000)', '(0032,1021)',
    '(0034,0001)', '(0034,0002)', '(0034,0005)', '(0040,0001)', '(0040,0241)', '(0040,0555)', '(0040,A730)',
    '(0042,0011)', '(0070,0001)', '(0072,005E)', '(0072,0065)', '(0072,006A)', '(0072,006D)', '(0072,0071)',
    '(0074,1234)', '(0074,1236)', '(0400,0115)', '(2100,0070)', '(2100,0140)', '(3006,004D)', '(3006,004E)',
    '(3010,001B)',
}

EXPLAINED = [
    ("kind:retain-long-full-dates", "kept", NOT_KEPT,
     "PixelMed's default HandleDates.keep is the Retain Longitudinal Temporal Information with Full Dates Option "
     "(column rtnLongFullDatesOpt K); our basic profile removes, empties or replaces the dates and times"),
    ("kind:clean-descriptors", "kept", NOT_KEPT,
     "PixelMed keeps descriptors by default (keepDescriptors, keepSeriesDescriptors, keepProtocolName); the "
     "basic profile removes them and --clean-descriptors cleans them (column cleanDescOpt)"),
    ("kind:retain-patient-characteristics", "kept", NOT_KEPT,
     "PixelMed's default keepPatientCharacteristics is the Retain Patient Characteristics Option "
     "(column rtnPatCharsOpt K)"),
    ("kind:retain-device-identity", "kept", NOT_KEPT,
     "PixelMed's default keepDeviceIdentity is the Retain Device Identity Option (column rtnDevIdOpt K)"),
    ("kind:retain-institution-identity", "kept", NOT_KEPT,
     "PixelMed's default keepInstitutionIdentity is the Retain Institution Identity Option (column rtnInstIdOpt K)"),
    ("kind:safe-private", "kept", "removed",
     "PixelMed keeps the private attributes of its own safe list by default (KEEPSAFEPRIVATE); dicomguard keeps "
     "them only under --retain-safe-private"),
    ("kind:overlay-curve", "kept", NOT_KEPT,
     "DeidentifyAndRedact does not apply the (50XX,XXXX), (60XX,3000) and (60XX,4000) rows (Clean Graphics is "
     "not applied and the groups are kept); Table E.1-1 says X"),
    ("kind:clinical-trial-top", "removed", NOT_KEPT,
     "PixelMed's removeClinicalTrialsAttributes removes every Clinical Trial Subject/Study/Series attribute "
     "(group 0012) from the top-level data set before de-identifying; Table E.1-1 says D or Z for some of them, "
     "which dicomguard applies"),
    ("kind:clinical-trial-nested", "kept", NOT_KEPT,
     "PixelMed removes the clinical trial attributes (group 0012) at the top level only and does not list them "
     "among the identifying attributes, so inside sequence items they are kept; dicomguard applies Table E.1-1 "
     "at every depth"),
    ("kind:unlisted-2022", "kept", NOT_KEPT,
     "not acted on by PixelMed 20220618's ClinicalTrialsAttributes.removeOrNullIdentifyingAttributes (rows of "
     "Table E.1-1 newer than, or missing from, its list); Table E.1-1 2024b, which dicomguard compiles in, has them"),
    ("kind:d-removed-or-emptied", "removed", "*",
     "PixelMed removes this D (dummy) attribute; ours replaces it (for a sequence: empties it, or keeps its "
     "items with their contents replaced); that no original value is left either way is what the survivors "
     "test checks"),
    ("kind:d-removed-or-emptied", "emptied", "*",
     "PixelMed empties this D (dummy) attribute; ours replaces it (for a sequence: removes or empties it, or "
     "keeps its items with their contents replaced); the survivors test checks that no original value is left"),
    ("(0010,0010)", "emptied", "replaced",
     "dicomguard writes the keyed pseudonym of the Patient ID into Patient's Name (docs/deid.md), so that one "
     "patient's de-identified studies stay together in viewers and PACS that list by name; it is made from the key "
     "and the Patient ID and carries nothing of the name. Table E.1-1 says Z, which PixelMed applies"),
    ("(0008,1088)", "replaced", NOT_KEPT, "PixelMed replaces Pyramid Description with a dummy; Table E.1-1 says X"),
    ("(0020,0027)", "replaced", NOT_KEPT, "PixelMed replaces Pyramid Label with a dummy; Table E.1-1 says X"),
    ("(0008,0005)", "removed", "*",
     "PixelMed drops Specific Character Set when the values it writes need none (ours keeps the input's)"),
    ("kind:file-meta", "*", "*",
     "the File Meta Information (group 0002) is written anew by each tool (its own implementation UID, version "
     "name, group length); not an attribute of the data set"),
    ("kind:inside-table-sequence", "*", "*",
     "inside an item of a sequence that Table E.1-1 names: what is left there follows from how each tool applies "
     "the sequence's own action (D, X/Z/D, U*...), which is compared at the sequence's path"),
    ("kind:z-removed", "removed", "emptied",
     "PixelMed removes this Z (zero-length) attribute instead of emptying it; both leave no value"),
    ("kind:compound-resolved", "*", "*",
     "a compound action of Table E.1-1 (X/Z, X/D, Z/D, X/Z/D, X/Z/U*) resolved differently by the two tools "
     "(by the attribute's Type in the IOD, which each tool takes from its own edition of PS3.3); both are "
     "allowed by the table"),
]

_TABLE = None


def table_row(path):
    """The Table E.1-1 row of the last tag of path (pattern rows for 50xx/60xx and odd groups), or None."""
    global _TABLE
    if _TABLE is None:
        import deid_corpus
        rows, _, _ = deid_corpus.load_tables()
        _TABLE = {r["tag"].upper(): r for r in rows}
    last = _STEP.findall(path)[-1]
    g, e = last[0].upper(), last[1].upper()
    if (f"({g},{e})") in _TABLE:
        return _TABLE[f"({g},{e})"]
    if g.startswith("50"):
        return _TABLE["(50XX,XXXX)"]
    if g.startswith("60") and e in ("3000", "4000"):
        return _TABLE[f"(60XX,{e})"]
    if int(g, 16) % 2 == 1:
        return _TABLE["(GGGG,EEEE) WHERE GGGG IS ODD"]
    return None


def _opt(col, val="K"):
    return lambda path, tag, row: bool(row) and row.get(col) == val


_TABLE_ACTIONS = {"X": "removed", "Z": "emptied", "D": "replaced", "U": "replaced", "K": "kept", "C": "replaced",
                  "U*": "kept"}


def table_actions(row):
    """The actions Table E.1-1's basic profile allows for row (None: the attribute is not in the table: kept)."""
    if row is None:
        return {"kept"}
    return {_TABLE_ACTIONS[a] for a in row["basicProfile"].split("/")}


_KINDS = {
    "retain-long-full-dates": _opt("rtnLongFullDatesOpt"),
    "clean-descriptors": lambda path, tag, row: bool(row) and "cleanDescOpt" in row,
    "retain-patient-characteristics": _opt("rtnPatCharsOpt"),
    "retain-device-identity": _opt("rtnDevIdOpt"),
    "retain-institution-identity": _opt("rtnInstIdOpt"),
    "safe-private": lambda path, tag, row: int(tag[1:5], 16) % 2 == 1,
    "overlay-curve": lambda path, tag, row: tag[1:3] in ("50", "60"),
    "clinical-trial-top": lambda path, tag, row: tag.startswith("(0012,") and "[" not in path,
    "clinical-trial-nested": lambda path, tag, row: tag.startswith("(0012,") and "[" in path,
    "unlisted-2022": lambda path, tag, row: tag in UNLISTED_2022,
    "d-removed-or-emptied": lambda path, tag, row: bool(row) and row["basicProfile"] == "D",
    "file-meta": lambda path, tag, row: tag.startswith("(0002,"),
    "inside-table-sequence": lambda path, tag, row: _inside_table_sequence(path),
    "z-removed": lambda path, tag, row: bool(row) and row["basicProfile"] == "Z",
    "compound-resolved": lambda path, tag, row: bool(row) and "/" in row["basicProfile"],
}


def _inside_table_sequence(path):
    steps = _STEP.findall(path)[:-1]
    return any(f"({g.upper()},{e.upper()})" in _TABLE for g, e, _ in steps)


def explained(path, ours, theirs):
    """The reason when a difference between our action and PixelMed's at path is a known one, else None."""
    last = _STEP.findall(path)[-1]
    tag = f"({last[0].upper()},{last[1].upper()})"
    row = table_row(path)
    for matcher, their_action, ours_allowed, reason in EXPLAINED:
        if their_action not in ("*", theirs) or (ours_allowed != "*" and ours not in ours_allowed.split("|")):
            continue
        if matcher == "kind:compound-resolved" and not {ours, theirs} <= table_actions(row):
            continue
        if matcher == tag or (matcher.startswith("kind:") and _KINDS[matcher[5:]](path, tag, row)):
            return reason
    return None
