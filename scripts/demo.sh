#!/usr/bin/env bash
# The demo: check a bundled sample set (synthetic polyglots, active documents, malformed files, and real
# files from Debian's python3-pydicom), then show how sanitize makes the dangerous ones safe.
# Later issues extend this to the lab, the network scan and the report.
set -euo pipefail
bin=${1:-build/dicomguard}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build/demo
rm -rf "$out"
mkdir -p "$out"
/usr/bin/python3 "$root/tools/make_samples.py" "$out/samples" >/dev/null
mkdir -p "$out/samples/pydicom"
cp /usr/lib/python3/dist-packages/pydicom/data/test_files/{CT_small,MR_small,JPEG2000,image_dfl,MR_truncated,rtplan}.dcm "$out/samples/pydicom/"

echo "== dicomguard files $out/samples   (text; JSON Lines and SARIF written alongside)"
set +e
"$bin" files "$out/samples" --sarif "$out/files.sarif"
rc=$?
"$bin" files --json "$out/samples" >"$out/files.jsonl"
set -e
echo "(exit code $rc: 0 clean, 1 findings, 2 error)"
echo
echo "== dicomguard sanitize --quarantine $out/quarantine $out/samples"
cp -r "$out/samples" "$out/sanitized"
set +e
"$bin" sanitize --quarantine "$out/quarantine" "$out/sanitized"
set -e
echo
echo "== after sanitize: dicomguard files $out/sanitized"
set +e
"$bin" files "$out/sanitized"
set -e
echo
echo "Results: $out/files.jsonl (JSON Lines), $out/files.sarif (SARIF 2.1.0)"
echo "Next: 'dicomguard checks' lists every check; 'dicomguard checks ID' explains one."
