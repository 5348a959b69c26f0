"""Writes decompression bombs for `dicomguard files` (bench/files/hostile.sh and the integration tests).

Each is a small Part 10 file that expands enormously when read:
  deflate.dcm       Deflated Explicit VR Little Endian dataset holding a 512 MiB OB value of zeros (~500 KB)
  deflate-tail.dcm  the same, with a private element after the big value
  pdf.dcm           Encapsulated PDF whose object stream inflates to 256 MiB of spaces, then JavaScript
  pdf-chain.dcm     the same stream compressed twice ([/FlateDecode /FlateDecode])

Usage: make_bombs.py OUTDIR [--copies N]   (N copies of each, named NN-kind.dcm; default 1)
Runs on Debian's /usr/bin/python3 with the standard library only.
"""
import os
import struct
import sys
import zlib

SOP_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
SOP_SC = "1.2.840.10008.5.1.4.1.1.7"
INSTANCE = "2.25.1234567890"
LONG_VRS = ("OB", "OW", "SQ", "UN", "UT", "UC", "UR", "OD", "OF", "OL", "OV", "SV", "UV")


def ui(s):
    b = s.encode()
    return b + b"\0" if len(b) % 2 else b


def el(group, elem, vr, value, length=None):
    n = len(value) if length is None else length
    head = struct.pack("<HH", group, elem) + vr.encode()
    head += b"\0\0" + struct.pack("<I", n) if vr in LONG_VRS else struct.pack("<H", n)
    return head + value


def part10(ts, sop, dataset_bytes):
    body = (el(2, 1, "OB", b"\0\1") + el(2, 2, "UI", ui(sop)) + el(2, 3, "UI", ui(INSTANCE)) +
            el(2, 0x10, "UI", ui(ts)) + el(2, 0x12, "UI", ui("1.2.3.4")))
    return b"\0" * 128 + b"DICM" + el(2, 0, "UL", struct.pack("<I", len(body))) + body + dataset_bytes


def compress_repeated(head, fill, count, tail, wbits):
    """Compresses head + fill*count + tail without holding the expanded data."""
    z = zlib.compressobj(9, zlib.DEFLATED, wbits)
    out = [z.compress(head)]
    out += [z.compress(fill) for _ in range(count)]
    out += [z.compress(tail), z.flush()]
    return b"".join(out)


def deflate_bomb(tail):
    size = 512 << 20
    head = (el(8, 0x16, "UI", ui(SOP_SC)) + el(8, 0x18, "UI", ui(INSTANCE)) + el(0x29, 0x10, "LO", b"BOMB") +
            el(0x29, 0x1010, "OB", b"", length=size))
    chunk = b"\0" * (16 << 20)
    return part10("1.2.840.10008.1.2.1.99", SOP_SC, compress_repeated(head, chunk, size // len(chunk), tail, -15))


def pdf_bomb(times):
    data = compress_repeated(b"", b" " * (16 << 20), 16,
                             b"\n<< /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>", 15)
    filters = ["/FlateDecode"]
    for _ in range(times - 1):
        data = zlib.compress(data, 9)
        filters.append("/FlateDecode")
    pdf = (b"%PDF-1.7\n1 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter [" + " ".join(filters).encode() +
           b"] /Length " + str(len(data)).encode() + b" >>\nstream\n" + data + b"\nendstream\nendobj\n%%EOF\n")
    if len(pdf) % 2:
        pdf += b"\n"
    ds = (el(8, 0x16, "UI", ui(SOP_PDF)) + el(8, 0x18, "UI", ui(INSTANCE)) + el(0x42, 0x11, "OB", pdf) +
          el(0x42, 0x12, "LO", b"application/pdf "))
    return part10("1.2.840.10008.1.2.1", SOP_PDF, ds)


KINDS = {
    "deflate": lambda: deflate_bomb(b""),
    "deflate-tail": lambda: deflate_bomb(el(0x29, 0x1011, "LO", b"AFTER ")),
    "pdf": lambda: pdf_bomb(1),
    "pdf-chain": lambda: pdf_bomb(2),
}


def main():
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__)
    out = sys.argv[1]
    copies = int(sys.argv[sys.argv.index("--copies") + 1]) if "--copies" in sys.argv else 1
    os.makedirs(out, exist_ok=True)
    for name, make in KINDS.items():
        data = make()
        for i in range(copies):
            with open(os.path.join(out, "%02d-%s.dcm" % (i, name)), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
