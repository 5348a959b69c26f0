#!/usr/bin/python3
"""Generate data/deid/iod_types.json from GDCM's copy of DICOM PS3.3 (2008 edition).

For every IOD of Part3.xml that maps to a Storage SOP Class UID, the Type ("1", "1C", "2", "2C",
"3") of each top-level attribute (nesting level 0 of its modules; macros included at level 0
expanded, recursively) is written out. When a tag appears in several modules of one IOD (or twice
in one module), the most demanding Type is kept: 1 < 1C < 2 < 2C < 3.

IOD names ("CT Image IOD Modules") are mapped to SOP Class UIDs through GDCM's UIDs.xml (names
such as "CT Image Storage"), after normalisation and a short alias table for the abbreviations
PS3.3 uses (CR, US, NM, PET, ...). UIDs that UIDs.xml (2007 edition) lacks are taken from the
project's src/dicom/uids.h. IODs that map to no Storage SOP Class are listed under "unmapped".

Usage: tools/gen_iod_types.py [--part3 FILE] [--uids FILE] [--uids-h FILE] [-o OUT] [--check]
Standard library only (Debian's /usr/bin/python3).
"""

import argparse
import hashlib
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

TYPE_ORDER = {"1": 0, "1C": 1, "2": 2, "2C": 3, "3": 4}
STORAGE_PREFIX = "1.2.840.10008.5.1.4.1.1."
HANGING_PROTOCOL_STORAGE = "1.2.840.10008.5.1.4.38.1"

# PS3.3 IOD name (normalised, see norm()) -> the normalised UIDs.xml name(s) of its SOP classes.
ALIASES = {
    "cr": ["computed radiography"],
    "us": ["ultrasound"],
    "us multi frame": ["ultrasound multi frame"],
    "nm": ["nuclear medicine"],
    "pet": ["positron emission tomography"],
    "sc": ["secondary capture"],
    "multi frame single bit sc": ["multi frame single bit secondary capture"],
    "multi frame grayscale byte sc": ["multi frame grayscale byte secondary capture"],
    "multi frame grayscale word sc": ["multi frame grayscale word secondary capture"],
    "multi frame true color sc": ["multi frame true color secondary capture"],
    "xrf": ["x ray radiofluoroscopic"],
    "digital intra oral x ray": ["digital intra oral x ray"],
    "enhanced x ray angiographic": ["enhanced xa"],
    "enhanced x ray rf": ["enhanced xrf"],
    "vl slide coordinates microscopic": ["vl slide coordinates microscopic"],
    "pseudo color softcopy presentation state": ["pseudo color softcopy presentation state"],
    "12 lead ecg": ["12 lead ecg"],
    "basic cardiac ep": ["cardiac electrophysiology"],
    "hemodynamic": ["hemodynamic"],
    "basic voice audio": ["basic voice audio"],
}

# SOP classes missing from UIDs.xml (2007 edition): IOD name (normalised) -> constant in uids.h.
FROM_UIDS_H = {"encapsulated cda": "kEncapsulatedCda"}


def norm(name):
    s = name.replace("\u2013", "-").replace("\u2014", "-")
    s = re.sub(r"-\s*for (presentation|processing)", "", s, flags=re.I)
    s = s.lower().replace("-", " ")
    for w in ("iod modules", "sop class", "storage", "waveform", "image"):
        s = s.replace(w, " ")
    return " ".join(s.split())


def level(text):
    t = text.strip()
    n = 0
    while n < len(t) and t[n] == ">":
        n += 1
    return n


def table_id(ref):
    m = re.search(r"Table\s*\(?\s*([A-Z]\.[0-9][0-9A-Za-z.\-]*|[0-9][0-9A-Za-z.\-]*)", ref)
    if not m:
        return None
    return m.group(1).rstrip(".")


def macro_key(name):
    """'Primary Anatomic Structure Macro Attributes' and "'Primary Anatomic Structure Macro'" alike."""
    s = name.lower().replace("-", " ")
    s = re.sub(r"\b(attributes|description|include)\b", " ", s)
    return " ".join(re.sub(r"[^a-z0-9/ ]", " ", s).split())


def resolve(ref, tables, by_macro_name):
    """The table an include names: by its number (as written, in any letter case, or with the
    last '.' read as '-': 'C.8.82' is Table C.8-82), else by the macro's quoted name."""
    tid = table_id(ref)
    if tid:
        for cand in (tid, tid.lower(), re.sub(r"\.([0-9]+)$", r"-\1", tid).lower()):
            if cand.lower() in tables:
                return cand.lower()
    m = re.search(r"'([^']+)'", ref)
    if m and macro_key(m.group(1)) in by_macro_name:
        return by_macro_name[macro_key(m.group(1))]
    return None


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root_dir = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part3", default="/usr/share/gdcm-3.0/XML/Part3.xml")
    ap.add_argument("--uids", default="/usr/share/gdcm-3.0/XML/UIDs.xml")
    ap.add_argument("--uids-h", default=os.path.join(root_dir, "src/dicom/uids.h"))
    ap.add_argument("-o", "--output", default=os.path.join(root_dir, "data/deid/iod_types.json"))
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 when OUTPUT differs from what would be generated")
    args = ap.parse_args()

    part3 = ET.parse(args.part3).getroot()
    edition = part3.get("edition")

    modules = {}  # section ref "C.7.2.1" -> element
    tables = {}  # table id "10-12" -> element (macros and modules)
    for el in part3:
        if el.tag == "module" and el.get("ref"):
            modules.setdefault(el.get("ref"), el)
        if el.tag in ("module", "macro") and el.get("table"):
            tables.setdefault(el.get("table").lower(), el)
    by_macro_name = {}
    for el in part3.iter("macro"):
        by_macro_name.setdefault(macro_key(el.get("name") or ""), (el.get("table") or "").lower())

    warnings = []

    def top_level(el, seen):
        """(tag, type) of the level-0 entries of el, with level-0 includes expanded."""
        out = []
        for child in el:
            if child.tag == "entry":
                name = child.get("name") or ""
                if level(name) != 0:
                    continue
                g, e, t = child.get("group") or "", child.get("element") or "", (child.get("type") or "").strip()
                if not re.fullmatch(r"[0-9A-Fa-f]{4}", g) or not re.fullmatch(r"[0-9A-Fa-f]{4}", e):
                    warnings.append("%s: entry (%s,%s) %r is no single tag, skipped" % (el.get("table"), g, e, name))
                    continue
                if t not in TYPE_ORDER:
                    warnings.append("%s: (%s,%s) has type %r, skipped" % (el.get("table"), g, e, t))
                    continue
                out.append(((g + e).upper(), t))
            elif child.tag == "include":
                ref = child.get("ref") or ""
                if level(ref) != 0:
                    continue
                tid = resolve(ref, tables, by_macro_name)
                target = tables.get(tid) if tid else None
                if target is None:
                    if ref.strip().lower().startswith("include"):
                        warnings.append("%s: include %r not resolved" % (el.get("table"), ref))
                    continue
                if tid in seen:
                    continue
                out.extend(top_level(target, seen | {tid}))
        return out

    # UIDs.xml: normalised name -> [uid] (SOP classes in the storage range, not retired)
    by_name = {}
    for u in ET.parse(args.uids).getroot().iter("uid"):
        uid, name = u.get("value") or "", u.get("name") or ""
        if u.get("retired") == "true" or u.get("type") != "SOP Class":
            continue
        if not (uid.startswith(STORAGE_PREFIX) or uid == HANGING_PROTOCOL_STORAGE):
            continue
        by_name.setdefault(norm(name), []).append(uid)

    uids_h = {}
    if os.path.exists(args.uids_h):
        with open(args.uids_h, encoding="utf-8") as f:
            for m in re.finditer(r'(k\w+)\s*=\s*"([0-9.]+)"', f.read()):
                uids_h[m.group(1)] = m.group(2)

    iods = {}
    unmapped = []
    mapped_names = set()
    for iod in part3.iter("iod"):
        raw = iod.get("name") or ""
        display = re.sub(r"\s*IOD Modules\s*$", "", raw).strip()
        key = norm(raw)
        uids = []
        for n in ALIASES.get(key, [key]):
            uids.extend(by_name.get(n, []))
        if not uids and key in FROM_UIDS_H and FROM_UIDS_H[key] in uids_h:
            uids.append(uids_h[FROM_UIDS_H[key]])
        if not uids:
            unmapped.append({"table": iod.get("table"), "name": display})
            continue
        types = {}
        for entry in iod.findall("entry"):
            ref = entry.get("ref") or ""
            mod = modules.get(ref)
            if mod is None:
                warnings.append("IOD %s: module %s (%s) not found" % (iod.get("table"), ref, entry.get("name")))
                continue
            for tag, t in top_level(mod, {(mod.get("table") or "").lower()}):
                if tag not in types or TYPE_ORDER[t] < TYPE_ORDER[types[tag]]:
                    types[tag] = t
        for uid in uids:
            if uid in iods:
                warnings.append("UID %s mapped twice (%s, %s)" % (uid, iods[uid]["name"], display))
                continue
            iods[uid] = {"name": display, "table": iod.get("table"), "types": dict(sorted(types.items()))}
            mapped_names.add(uid)

    unused = sorted(u for lst in by_name.values() for u in lst if u not in iods)
    out = {
        "source": "GDCM's PS3.3 module tables, /usr/share/gdcm-3.0/XML/Part3.xml (Debian libgdcm3.0), "
                  "edition %s; SOP class UIDs from UIDs.xml of the same package and src/dicom/uids.h; "
                  "generated by tools/gen_iod_types.py" % edition,
        "licence": "GDCM: Copyright (c) 2006-2011 Mathieu Malaterre, BSD-3-clause-alike, see data/deid/GDCM-LICENSE.txt",
        "part3_sha256": sha256(args.part3),
        "uids_sha256": sha256(args.uids),
        "rule": "Type of each top-level attribute of the IOD's modules (macros included at level 0 expanded); "
                "the most demanding when a tag appears more than once (1 < 1C < 2 < 2C < 3)",
        "unmapped_iods": unmapped,
        "storage_uids_without_iod": unused,
        "iods": dict(sorted(iods.items())),
    }
    text = json.dumps(out, separators=(",", ":"), ensure_ascii=True, sort_keys=False)
    if ")dgiod" in text:
        sys.exit("the output contains the raw-string delimiter of src/deid/iod_types_data.cc.in")
    if args.check:
        try:
            with open(args.output, encoding="utf-8") as f:
                current = f.read()
        except OSError:
            current = None
        if current != text + "\n":
            sys.exit("%s is not what tools/gen_iod_types.py generates: regenerate it" % args.output)
        print("%s is up to date" % args.output, file=sys.stderr)
        return
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    counts = {}
    for w in warnings:  # a module shared by many IODs gives the same warning once per IOD
        counts[w] = counts.get(w, 0) + 1
    for w, n in counts.items():
        print("warning: %s%s" % (w, " (x%d)" % n if n > 1 else ""), file=sys.stderr)
    print("%d SOP classes from %d IODs; %d IODs unmapped; %d storage UIDs without IOD; wrote %s"
          % (len(iods), len({v["table"] for v in iods.values()}), len(unmapped), len(unused), args.output),
          file=sys.stderr)


if __name__ == "__main__":
    main()
