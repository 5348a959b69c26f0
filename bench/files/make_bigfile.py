#!/usr/bin/python3
"""Write a large, valid DICOM Part 10 file without holding it in memory.

Layout: 128-byte zero preamble, "DICM", explicit VR little endian file meta
group (with a correct (0002,0000) group length), then an explicit VR little
endian dataset: Secondary Capture SOP class/instance matching the meta,
patient "BENCH^BIG", an image pixel module for 16-bit MONOCHROME2 multi-frame
pixels, and Pixel Data (7FE0,0010) OW with its 32-bit explicit length.

The pixel bytes are produced by extending the file: by default with
truncate() (a sparse file of zeros), with --dense by writing non-zero bytes
in 4 MiB chunks so the data really goes through the page cache and the disk.

Standard library only (no pydicom). Meant for Debian's /usr/bin/python3.

Usage:  make_bigfile.py OUT [--size-mib N] [--rows R] [--columns C] [--dense]
Prints key=value lines (path, bytes, frames, sop_instance_uid, ...).
"""
import argparse
import os
import struct
import sys
import uuid

SOP_CLASS = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image Storage
TRANSFER_SYNTAX = "1.2.840.10008.1.2.1"  # Explicit VR Little Endian
# Fixed, so every file made by this script names the same implementation.
IMPL_CLASS_UID = "2.25.%d" % uuid.uuid5(uuid.NAMESPACE_URL, "dicomguard:bench/files/make_bigfile.py").int
IMPL_VERSION = "DGBENCH_BIGFILE"
LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
MAX_LEN32 = 0xFFFFFFFE  # 0xFFFFFFFF means undefined length
CHUNK = 4 << 20


def new_uid():
    return "2.25.%d" % uuid.uuid4().int  # PS3.5 B.2: UUID-derived UID, <= 44 chars


def element(group, elem, vr, value):
    """One explicit VR little endian element; pads the value to even length."""
    if isinstance(value, str):
        value = value.encode("ascii")
    vr = vr.encode("ascii")
    if len(value) % 2:
        value += b"\0" if vr in (b"UI", b"OB") else b" "
    if vr in LONG_VRS:
        return struct.pack("<HH2sHI", group, elem, vr, 0, len(value)) + value
    if len(value) > 0xFFFF:
        raise ValueError("value too long for a short-form VR")
    return struct.pack("<HH2sH", group, elem, vr, len(value)) + value


def us(v):
    return struct.pack("<H", v)


def build_header(rows, cols, frames, instance_uid, study_uid, series_uid):
    meta_body = b"".join([
        element(0x0002, 0x0001, "OB", b"\x00\x01"),
        element(0x0002, 0x0002, "UI", SOP_CLASS),
        element(0x0002, 0x0003, "UI", instance_uid),
        element(0x0002, 0x0010, "UI", TRANSFER_SYNTAX),
        element(0x0002, 0x0012, "UI", IMPL_CLASS_UID),
        element(0x0002, 0x0013, "SH", IMPL_VERSION),
    ])
    meta = element(0x0002, 0x0000, "UL", struct.pack("<I", len(meta_body))) + meta_body
    dataset = b"".join([
        element(0x0008, 0x0016, "UI", SOP_CLASS),
        element(0x0008, 0x0018, "UI", instance_uid),
        element(0x0008, 0x0060, "CS", "OT"),
        element(0x0008, 0x0064, "CS", "WSD"),
        element(0x0010, 0x0010, "PN", "BENCH^BIG"),
        element(0x0010, 0x0020, "LO", "BENCH-BIG"),
        element(0x0020, 0x000D, "UI", study_uid),
        element(0x0020, 0x000E, "UI", series_uid),
        element(0x0020, 0x0013, "IS", "1"),
        element(0x0028, 0x0002, "US", us(1)),
        element(0x0028, 0x0004, "CS", "MONOCHROME2"),
        element(0x0028, 0x0008, "IS", str(frames)),
        element(0x0028, 0x0010, "US", us(rows)),
        element(0x0028, 0x0011, "US", us(cols)),
        element(0x0028, 0x0100, "US", us(16)),
        element(0x0028, 0x0101, "US", us(16)),
        element(0x0028, 0x0102, "US", us(15)),
        element(0x0028, 0x0103, "US", us(0)),
    ])
    return b"\0" * 128 + b"DICM" + meta + dataset


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="file to create (must not exist)")
    ap.add_argument("--size-mib", type=int, default=2048, help="approximate pixel data size (default 2048)")
    ap.add_argument("--rows", type=int, default=1024)
    ap.add_argument("--columns", type=int, default=1024)
    ap.add_argument("--dense", action="store_true", help="write real non-zero pixel bytes instead of a sparse extension")
    a = ap.parse_args(argv[1:])

    if not (1 <= a.rows <= 0xFFFF and 1 <= a.columns <= 0xFFFF):
        ap.error("rows and columns must be 1..65535")
    if a.size_mib < 1:
        ap.error("--size-mib must be >= 1")
    frame_bytes = a.rows * a.columns * 2
    frames = max(1, round(a.size_mib * (1 << 20) / frame_bytes))
    pixel_len = frames * frame_bytes  # always even
    if pixel_len > MAX_LEN32:
        ap.error("pixel data of %d bytes does not fit a 32-bit length; lower --size-mib" % pixel_len)

    instance_uid = new_uid()
    header = build_header(a.rows, a.columns, frames, instance_uid, new_uid(), new_uid())
    pixel_tag = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, pixel_len)
    total = len(header) + len(pixel_tag) + pixel_len

    try:
        fd = os.open(a.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as e:
        print("make_bigfile.py: cannot create %s: %s" % (a.out, e.strerror), file=sys.stderr)
        return 2
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            f.write(pixel_tag)
            if a.dense:
                # A 16-bit ramp 1..65535, repeated: every pixel non-zero.
                ramp = struct.pack("<65535H", *range(1, 65536))
                chunk = (ramp * (CHUNK // len(ramp) + 1))[:CHUNK]
                left = pixel_len
                while left:
                    n = min(left, CHUNK)
                    f.write(chunk[:n] if n < CHUNK else chunk)
                    left -= n
            else:
                f.truncate(total)
    except BaseException as e:  # ENOSPC, Ctrl-C, ...: leave no half-written file behind
        os.unlink(a.out)
        if isinstance(e, KeyboardInterrupt):
            return 130
        if isinstance(e, OSError):
            print("make_bigfile.py: cannot write %s: %s" % (a.out, e.strerror), file=sys.stderr)
            return 2
        raise

    size = os.stat(a.out).st_size
    if size != total:
        print("make_bigfile.py: %s is %d bytes, expected %d" % (a.out, size, total), file=sys.stderr)
        return 2
    print("path=%s" % a.out)
    print("bytes=%d" % total)
    print("header_bytes=%d" % (len(header) + len(pixel_tag)))
    print("pixel_bytes=%d" % pixel_len)
    print("rows=%d columns=%d frames=%d" % (a.rows, a.columns, frames))
    print("mode=%s" % ("dense" if a.dense else "sparse"))
    print("sop_instance_uid=%s" % instance_uid)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
