#!/usr/bin/python3
"""Writes a synthetic nginx access log (combined format) of at least SIZE bytes: the traffic of a PACS web front
end. About 55% of the lines are static assets, API and viewer pages, 35% DICOMweb without PHI (WADO-RS paths,
includefield-only QIDO-RS), 10% QIDO-RS with PHI-bearing keys (names, IDs, birth dates, accession numbers; raw,
percent-encoded, by tag), 1% with PHI in the Referer. Deterministic (seeded).

Usage: make_log.py OUT SIZE_BYTES     (prints the number of lines and of PHI lines)
"""
import random
import sys


def main():
    out, size = sys.argv[1], int(float(sys.argv[2]))
    rnd = random.Random(14)
    names = [f"DOE{n}^JOHN" for n in range(500)] + [f"SMITH{n}%5EJANE" for n in range(500)]
    agents = ['"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"',
              '"OHIF-Viewer/3.7"', '"curl/8.4.0"', '"python-requests/2.31.0"']
    static = ["/index.html", "/app.js", "/styles.css", "/favicon.ico", "/api/health", "/viewer/", "/system",
              "/assets/logo.png", "/api/v1/worklist?page=2&size=50", "/login?next=/viewer/"]
    uid = lambda: "1.2.826.0.1.3680043.8.498." + str(rnd.randrange(10**12, 10**13))
    lines = phi = 0
    written = 0
    with open(out, "w", buffering=1 << 22) as f:
        chunk = []
        while written < size:
            ip = f"10.{rnd.randrange(4)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
            t = f"02/Dec/2026:{rnd.randrange(24):02d}:{rnd.randrange(60):02d}:{rnd.randrange(60):02d} +0000"
            r = rnd.random()
            ref = '"-"'
            if r < 0.55:
                path = rnd.choice(static)
            elif r < 0.90:
                k = rnd.randrange(4)
                if k == 0:
                    path = f"/dicom-web/studies/{uid()}/series/{uid()}/instances/{uid()}"
                elif k == 1:
                    path = f"/dicom-web/studies/{uid()}/metadata"
                elif k == 2:
                    path = "/dicom-web/studies?includefield=PatientName&includefield=00100020&limit=25&offset=" + str(rnd.randrange(1000))
                else:
                    path = f"/dicom-web/studies/{uid()}/series?includefield=00080060&Modality=CT"
            else:
                k = rnd.randrange(5)
                phi += 1
                if k == 0:
                    path = f"/dicom-web/studies?PatientName={rnd.choice(names)}&limit=10"
                elif k == 1:
                    path = f"/dicom-web/studies?PatientID=PID{rnd.randrange(10**6)}&includefield=all"
                elif k == 2:
                    path = f"/dicom-web/studies?00100020=PID{rnd.randrange(10**6)}&00100030=19{rnd.randrange(30, 99)}0101"
                elif k == 3:
                    path = f"/dicom-web/series?AccessionNumber=ACC{rnd.randrange(10**7)}&Modality=MR"
                else:
                    path = "/dicom-web/studies"
                    ref = f'"https://pacs.example.org/viewer?PatientID=PID{rnd.randrange(10**6)}"'
                    if rnd.random() < 0.9:
                        path = f"/dicom-web/studies?PatientBirthDate=19{rnd.randrange(30, 99)}0101"
                        ref = '"-"'
            line = (f'{ip} - - [{t}] "GET {path} HTTP/1.1" {rnd.choice((200, 200, 200, 304, 404))} '
                    f'{rnd.randrange(100, 500000)} {ref} {rnd.choice(agents)}\n')
            chunk.append(line)
            written += len(line)
            lines += 1
            if len(chunk) >= 10000:
                f.write("".join(chunk))
                chunk.clear()
        f.write("".join(chunk))
    print(lines, phi)


if __name__ == "__main__":
    main()
