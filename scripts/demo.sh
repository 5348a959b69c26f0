#!/usr/bin/env bash
# The demo: start the practice lab on 127.0.0.1 and scan it, then check a bundled sample set (synthetic
# polyglots, active documents, malformed files, and real files from Debian's python3-pydicom), and show how
# sanitize makes the dangerous ones safe. The report (a later issue) will be written from these results.
set -euo pipefail
bin=${1:-build/dicomguard}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build/demo
rm -rf "$out"
mkdir -p "$out"
/usr/bin/python3 "$root/tools/make_samples.py" "$out/samples" >/dev/null
mkdir -p "$out/samples/pydicom"
cp /usr/lib/python3/dist-packages/pydicom/data/test_files/{CT_small,MR_small,JPEG2000,image_dfl,MR_truncated,rtplan}.dcm "$out/samples/pydicom/"

echo "== dicomguard lab   (a leaky PACS and a hardened TLS-only one, on 127.0.0.1 only)"
"$bin" lab >"$out/lab.txt" 2>"$out/lab.log" &
lab_pid=$!
trap 'kill -INT $lab_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [[ $(grep -c 127.0.0.1 "$out/lab.txt" 2>/dev/null) -ge 2 ]] && break; sleep 0.05; done
cat "$out/lab.txt"
mapfile -t lab_targets < <(awk '/^(leaky|hardened)/ {print $2}' "$out/lab.txt")
echo
echo "== dicomguard scan ${lab_targets[*]}   (JSON Lines written alongside)"
set +e
"$bin" scan "${lab_targets[@]}" --called-ae HARDENED_PACS
"$bin" scan "${lab_targets[@]}" --called-ae HARDENED_PACS --json >"$out/scan.jsonl"
set -e
kill -INT $lab_pid 2>/dev/null || true
wait $lab_pid 2>/dev/null || true
trap - EXIT
echo

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
echo "Results: $out/scan.jsonl and $out/files.jsonl (JSON Lines), $out/files.sarif (SARIF 2.1.0)"
echo "Next: 'dicomguard checks' lists every check; 'dicomguard checks ID' explains one."
