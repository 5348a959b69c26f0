#!/usr/bin/python3
"""Writes the tree for bench/files/million.sh: DIRS folders of PER files each, d000/f000.dcm ...

Every file is written with its own bytes (no hard links: each has its own inode and data blocks, as on a real
archive). The bytes are the small (< 16 KiB) files of SOURCE: mostly its Part 10 files, one in ten one of its
other files (non-DICOM, truncated ...), cycled.

Usage: make_million.py SOURCE OUT DIRS PER
"""
import os
import sys


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    src, out, dirs, per = argv[1], argv[2], int(argv[3]), int(argv[4])
    dicom, other = [], []
    for root, ds, names in os.walk(src):
        ds.sort()
        for n in sorted(names):
            p = os.path.join(root, n)
            if not os.path.isfile(p) or os.path.getsize(p) >= 16384:
                continue
            with open(p, "rb") as f:
                data = f.read()
            (dicom if data[128:132] == b"DICM" else other).append(data)
    if not dicom:
        print("make_million.py: no small Part 10 files under " + src, file=sys.stderr)
        return 2
    k = 0
    for d in range(dirs):
        folder = os.path.join(out, "d%03d" % d)
        os.makedirs(folder)
        for i in range(per):
            data = other[k % len(other)] if other and k % 10 == 9 else dicom[k % len(dicom)]
            k += 1
            with open(os.path.join(folder, "f%03d.dcm" % i), "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
