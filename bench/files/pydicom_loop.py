#!/usr/bin/python3
"""pydicom baseline for the `dicomguard files` benchmark.

Reads every regular file under CORPUS with
    pydicom.dcmread(path, stop_before_pixels=True, force=False)
in one process, counting the files pydicom rejects (non-DICOM, truncated, ...).
Meant for Debian's /usr/bin/python3 with python3-pydicom.

Usage:  /usr/bin/python3 pydicom_loop.py CORPUS
Prints: files=N ok=M errors=E seconds=S   (S: time spent in the loop only)
Exit:   0 after a complete walk, 2 on usage error or missing pydicom.
"""
import logging
import os
import stat
import sys
import time
import warnings


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print("usage: pydicom_loop.py CORPUS_DIR", file=sys.stderr)
        return 2
    try:
        import pydicom
    except ImportError:
        print("pydicom_loop.py: pydicom missing (apt-get install python3-pydicom)", file=sys.stderr)
        return 2

    # Malformed test files make pydicom warn; printing those warnings would
    # measure the terminal, not the parser.
    warnings.simplefilter("ignore")
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)

    files = ok = errors = 0
    t0 = time.perf_counter()
    for root, dirs, names in os.walk(argv[1]):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            try:
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    continue
            except OSError:
                continue
            files += 1
            try:
                pydicom.dcmread(path, stop_before_pixels=True, force=False)
                ok += 1
            except Exception:  # noqa: BLE001 - any rejection counts as an error
                errors += 1
    dt = time.perf_counter() - t0
    print(f"files={files} ok={ok} errors={errors} seconds={dt:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
