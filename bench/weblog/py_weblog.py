#!/usr/bin/python3
"""The Python baseline of bench/weblog/run.sh: what a careful script would do for `dicomguard weblog` on a
combined-format access log. A regular expression per line (client, time, request, referer), urllib's query
parser (percent and '+' decoding), the same PHI key set (KEYS file: "ggggeeee KEYWORD" lines from
`dicomguard weblog --list-keys`, keywords matched in any case, tags in any case), includefield harmless.
Prints: lines, PHI requests.

Usage: py_weblog.py KEYS LOG
"""
import re
import sys
from urllib.parse import parse_qsl, urlsplit

LINE = re.compile(rb'^(\S+) \S+ \S+ \[([^\]]*)\] "(?:[A-Z]+) (\S+)[^"]*" \d+ \S+(?: "([^"]*)")?')
DICOMWEB = re.compile(r"/(studies|series|instances|workitems|dicom-web|dicomweb|wado)", re.I)


def main():
    keys = set()
    with open(sys.argv[1]) as f:
        for line in f:
            tag, name = line.split()
            keys.add(tag.lower())
            keys.add(name.lower())
    lines = phi = 0
    with open(sys.argv[2], "rb") as f:
        for raw in f:
            lines += 1
            m = LINE.match(raw)
            if not m:
                continue
            target = m.group(3).decode("latin-1")
            ref = (m.group(4) or b"").decode("latin-1")
            found = False
            dicomweb = bool(DICOMWEB.search(urlsplit(target).path))
            for url in (target, ref):
                # The referer counts on a DICOMweb request, or when it is a DICOMweb URL itself.
                if "?" not in url or not (dicomweb or DICOMWEB.search(urlsplit(url).path)):
                    continue
                for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True):
                    if v.strip("*?") and k.lower() in keys:
                        found = True
            phi += found
    print(lines, phi)


if __name__ == "__main__":
    main()
