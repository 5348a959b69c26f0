#!/usr/bin/env python3
"""Writes the demo sample set: synthetic DICOM Part 10 files, some clean, some polyglots or active.

Standard library only (no pydicom needed). Every patient in these files is invented.
Usage: python3 tools/make_samples.py OUT_DIR
"""
import os
import struct
import sys
import zlib

LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}


def el(group, elem, vr, value, length=None):
    vr = vr.encode()
    if len(value) % 2:
        value += b"\0" if vr in (b"UI", b"OB") else b" "
    n = len(value) if length is None else length
    head = struct.pack("<HH", group, elem) + vr
    head += struct.pack("<HI", 0, n) if vr in LONG_VRS else struct.pack("<H", n)
    return head + value


def meta(sop_class, sop_instance, ts="1.2.840.10008.1.2.1"):
    body = (el(2, 1, "OB", b"\0\1") + el(2, 2, "UI", sop_class.encode()) + el(2, 3, "UI", sop_instance.encode())
            + el(2, 0x10, "UI", ts.encode()) + el(2, 0x12, "UI", b"1.2.826.0.1.3680043.10.1411")
            + el(2, 0x13, "SH", b"DICOMGUARD_DEMO"))
    return el(2, 0, "UL", struct.pack("<I", len(body))) + body


SC = "1.2.840.10008.5.1.4.1.1.7"
PDF_CLASS = "1.2.840.10008.5.1.4.1.1.104.1"
CDA_CLASS = "1.2.840.10008.5.1.4.1.1.104.2"


def image(uid, name, extra=b"", pixels=b"\x20" * 64):
    return (el(8, 0x16, "UI", SC.encode()) + el(8, 0x18, "UI", uid.encode()) + el(8, 0x60, "CS", b"OT")
            + el(0x10, 0x10, "PN", name.encode()) + el(0x10, 0x20, "LO", b"DEMO-0001")
            + el(0x28, 2, "US", struct.pack("<H", 1)) + el(0x28, 4, "CS", b"MONOCHROME2")
            + el(0x28, 0x10, "US", struct.pack("<H", 8)) + el(0x28, 0x11, "US", struct.pack("<H", 8))
            + el(0x28, 0x100, "US", struct.pack("<H", 8)) + el(0x28, 0x101, "US", struct.pack("<H", 8))
            + el(0x28, 0x102, "US", struct.pack("<H", 7)) + el(0x28, 0x103, "US", struct.pack("<H", 0))
            + extra + el(0x7FE0, 0x10, "OB", pixels))


def part10(ds, uid, sop_class=SC, preamble=b"", ts="1.2.840.10008.1.2.1"):
    pre = preamble[:128].ljust(128, b"\0")
    return pre + b"DICM" + meta(sop_class, uid, ts) + ds


def mz(lfanew):
    b = bytearray(64)
    b[0:2] = b"MZ"
    b[0x3C:0x40] = struct.pack("<I", lfanew)
    return bytes(b)


def pe_body():
    return b"PE\0\0" + struct.pack("<HH", 0x8664, 1) + b"\0" * 16 + b"\x90" * 232


def document(uid, sop_class, data, mime):
    return (el(8, 0x16, "UI", sop_class.encode()) + el(8, 0x18, "UI", uid.encode())
            + el(0x10, 0x10, "PN", b"DEMO^DOCUMENT") + el(0x42, 0x11, "OB", data) + el(0x42, 0x12, "LO", mime.encode()))


def main(out):
    os.makedirs(out, exist_ok=True)
    root = "1.2.826.0.1.3680043.10.1411.1."
    files = {}
    files["clean.dcm"] = part10(image(root + "1", "DEMO^CLEAN"), root + "1")
    files["tiff-dual.dcm"] = part10(image(root + "2", "DEMO^TIFF"), root + "2", preamble=b"II*\0\x08\0\0\0")
    # CVE-2019-11687 layout: MZ in the preamble, e_lfanew into an illegal (0009,0000) OB element before group 0008.
    head = 128 + 4 + len(meta(SC, root + "3"))
    files["polyglot-pe.dcm"] = part10(el(9, 0, "OB", pe_body()) + image(root + "3", "DEMO^PE"), root + "3",
                                      preamble=mz(head + 12))
    elf = bytearray(120)
    elf[0:7] = b"\x7fELF\x02\x01\x01"
    struct.pack_into("<HHI", elf, 16, 2, 0x3E, 1)
    struct.pack_into("<Q", elf, 32, 64)
    struct.pack_into("<HHH", elf, 52, 64, 56, 1)
    struct.pack_into("<IIQQQQQQ", elf, 64, 1, 5, 4096, 0, 0, 64, 64, 4096)
    files["polyglot-elf.dcm"] = part10(image(root + "4", "DEMO^ELF"), root + "4", preamble=bytes(elf))
    files["polyglot-script.dcm"] = part10(image(root + "5", "DEMO^SCRIPT"), root + "5",
                                          preamble=b"#!/bin/sh\necho this file is also a shell script\nexit 0\n")
    files["payload-private-pe.dcm"] = part10(
        image(root + "6", "DEMO^PAYLOAD", extra=el(0x29, 0x10, "LO", b"DEMO PRIVATE") + el(0x29, 0x1010, "OB", mz(64) + pe_body())),
        root + "6")
    clean = part10(image(root + "7", "DEMO^ZIP"), root + "7")
    name, data = b"evil.class", b"\xca\xfe\xba\xbe\0\0\0\x34"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, zlib.crc32(data), len(data), len(data), len(name), 0) + name + data
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, zlib.crc32(data), len(data), len(data),
                          len(name), 0, 0, 0, 0, 0, len(clean)) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(clean) + len(local), 0)
    files["polyglot-zip-appended.dcm"] = clean + local + central + end
    files["nonzero-preamble.dcm"] = part10(image(root + "8", "DEMO^NOISE"), root + "8",
                                           preamble=bytes((i * 37 + 11) % 251 + 1 for i in range(128)))
    pdf = (b"%PDF-1.7\n1 0 obj << /Type /Catalog /OpenAction 2 0 R >> endobj\n"
           b"2 0 obj << /S /JavaScript /JS (app.alert('demo')) >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    files["document-active.pdf.dcm"] = part10(document(root + "9", PDF_CLASS, pdf, "application/pdf"), root + "9", PDF_CLASS)
    benign = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    files["document-benign.pdf.dcm"] = part10(document(root + "10", PDF_CLASS, benign, "application/pdf"), root + "10", PDF_CLASS)
    xml = (b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
           b"<ClinicalDocument xmlns=\"urn:hl7-org:v3\">&x;</ClinicalDocument>\n")
    files["document-cda-xxe.dcm"] = part10(document(root + "11", CDA_CLASS, xml, "text/xml"), root + "11", CDA_CLASS)
    trunc = part10(image(root + "12", "DEMO^TRUNCATED"), root + "12")
    files["malformed-truncated.dcm"] = trunc[:-20]
    files["malformed-meta-mismatch.dcm"] = part10(image(root + "13", "DEMO^MISMATCH"), root + "13.999")
    files["README.txt"] = b"Synthetic samples written by tools/make_samples.py for the dicomguard demo.\n"
    for n, b in files.items():
        with open(os.path.join(out, n), "wb") as f:
            f.write(b)
    print(f"wrote {len(files)} samples to {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "samples")
