#!/usr/bin/env bash
# Runs gdcmanon's basic profile (-e, with a certificate) once per file of SET into OUT, same relative paths.
# Why not one `gdcmanon -r --continue -i SET -o OUT`: GDCM 3.0.21 stops the whole run at the first file it
# reads but cannot de-identify ("Could not De-indentify", e.g. pydicom's dicomdirtests/98892003/MR700/4648),
# --continue only skips files it cannot read. Prints "files=N written=W errors=E".
# Usage: gdcmanon_each.sh SET OUT CERT
set -uo pipefail
set_dir=$1 out=$2 cert=$3
n=0 w=0 e=0
while IFS= read -r -d '' f; do
  rel=${f#"$set_dir"/}
  mkdir -p "$out/$(dirname "$rel")"
  n=$((n + 1))
  if gdcmanon -e -c "$cert" --continue -i "$f" -o "$out/$rel" >/dev/null 2>&1 && [[ -f $out/$rel ]]; then
    w=$((w + 1))
  else
    e=$((e + 1))
    rm -f -- "$out/$rel"
  fi
done < <(find "$set_dir" -type f -print0 | sort -z)
echo "files=$n written=$w errors=$e"
