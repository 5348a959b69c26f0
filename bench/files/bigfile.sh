#!/usr/bin/env bash
# Peak-memory benchmark for `dicomguard files` on one ~2 GiB DICOM file.
#
# Generates a ~2 GiB Part 10 file (explicit VR little endian, 16-bit
# MONOCHROME2 multi-frame, Pixel Data OW with a 32-bit length) with
# make_bigfile.py in a temporary folder, checks it with DCMTK's dcmdump, then
# runs `/usr/bin/time -v dicomguard files --json FILE` and reports the peak
# resident set size against the 64 MB target (informational). The folder is
# removed at exit unless --keep is given.
#
# Usage: bench/files/bigfile.sh [--dense] [--size-mib N] [--keep] [path/to/dicomguard]
#   --dense       write real non-zero pixel bytes (exercises page cache and disk);
#                 default: a sparse file, extended with truncate
#   --size-mib N  pixel data size in MiB (default 2048)
#   --keep        keep the generated file and print its path
# Environment: DICOMGUARD (binary when no argument), BIGFILE_DIR (parent of the
#   temporary folder, default ${TMPDIR:-/tmp}).
# Exit: 0 measured (PASS or MISS), 1 a tool failed, 2 setup or usage error.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

TARGET_MB=64
dense=0 keep=0 size_mib=2048 bin_arg=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --dense) dense=1 ;;
    --keep) keep=1 ;;
    --size-mib) [[ $# -ge 2 ]] || die "--size-mib needs a value"; size_mib=$2; shift ;;
    --size-mib=*) size_mib=${1#*=} ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [[ -z $bin_arg ]] || die "more than one binary given (see --help)"; bin_arg=$1 ;;
  esac
  shift
done
[[ $size_mib =~ ^[1-9][0-9]*$ ]] || die "--size-mib must be a positive integer, got '$size_mib'"

BIN=$(resolve_bin "$bin_arg")
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found: install the 'time' package (scripts/setup-debian.sh does)"
command -v dcmdump >/dev/null || die "dcmdump not found: install the 'dcmtk' package (scripts/setup-debian.sh does)"
[[ -x $PY ]] || die "$PY missing: install the 'python3' package (scripts/setup-debian.sh does)"

parent=${BIGFILE_DIR:-${TMPDIR:-/tmp}}
[[ -d $parent ]] || die "no such folder: $parent"
WORK=$(mktemp -d "$parent/dicomguard-bigfile.XXXXXX")
cleanup() {
  if [[ $keep -eq 1 && -f $WORK/big.dcm ]]; then
    echo "kept: $WORK/big.dcm"
  else
    rm -rf -- "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Room for the file (dense) or its first blocks (sparse), plus a margin.
need=$(( (dense ? size_mib : 0) * 1024 * 1024 + 64 * 1024 * 1024 ))
avail=$(df --output=avail -B1 "$WORK" | tail -n 1 | tr -d ' ')
[[ $avail -ge $need ]] || die "not enough space in $parent: need $need bytes, $avail available (set BIGFILE_DIR)"

FILE=$WORK/big.dcm
mode_flag=()
[[ $dense -eq 1 ]] && mode_flag=(--dense)
echo "generating: $FILE (${size_mib} MiB of pixels, $([[ $dense -eq 1 ]] && echo dense || echo sparse))"
t0=$(now)
"$PY" "$BENCH_DIR/make_bigfile.py" "$FILE" --size-mib "$size_mib" "${mode_flag[@]}" >"$WORK/gen.txt" \
  || die "make_bigfile.py failed"
t1=$(now)
uid=$(sed -n 's/^sop_instance_uid=//p' "$WORK/gen.txt")
bytes=$(sed -n 's/^bytes=//p' "$WORK/gen.txt")
pixel_bytes=$(sed -n 's/^pixel_bytes=//p' "$WORK/gen.txt")
alloc=$(( $(du -k "$FILE" | cut -f1) * 1024 ))
echo "generated:  $bytes bytes ($(grep '^rows=' "$WORK/gen.txt")), $alloc bytes allocated on disk, in $(elapsed "$t0" "$t1") s"

# Validate with DCMTK (an independent parser): the instance UID must come back
# and the Pixel Data length must be the one we wrote. -M (do not load long
# values) matters: plain `dcmdump -q +P 0008,0018` reads all 2 GiB into RAM.
dcmdump -q -M +P 0008,0018 +P 7fe0,0010 "$FILE" >"$WORK/dump.txt" 2>&1 \
  || { cat "$WORK/dump.txt" >&2; die "dcmdump rejected $FILE"; }
grep -qF "[$uid]" "$WORK/dump.txt" || { cat "$WORK/dump.txt" >&2; die "dcmdump did not find SOP Instance UID $uid"; }
grep -qE "# *$pixel_bytes, 1 PixelData" "$WORK/dump.txt" \
  || { cat "$WORK/dump.txt" >&2; die "dcmdump did not see Pixel Data of $pixel_bytes bytes"; }
echo "validated:  dcmdump finds SOP Instance UID $uid and Pixel Data of $pixel_bytes bytes"

echo "measuring:  /usr/bin/time -v $BIN files --json $FILE"
set +e
/usr/bin/time -v -o "$WORK/time.txt" "$BIN" files --json "$FILE" >"$WORK/out.jsonl" 2>"$WORK/err.txt"
rc=$?
set -e
if [[ $rc -ne 0 && $rc -ne 1 ]]; then
  echo "dicomguard failed (exit $rc): $BIN files --json $FILE" >&2
  tail -n 20 "$WORK/err.txt" >&2
  tail -n 30 "$WORK/time.txt" >&2 || true
  exit 1
fi
rss_kb=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): *//p' "$WORK/time.txt")
wall=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): *//p' "$WORK/time.txt")
[[ $rss_kb =~ ^[0-9]+$ ]] || { cat "$WORK/time.txt" >&2; echo "cannot read peak RSS from /usr/bin/time -v" >&2; exit 1; }

echo "dicomguard: exit $rc, $(wc -l <"$WORK/out.jsonl") JSON lines, wall $wall"
head -n 3 "$WORK/out.jsonl" | cut -c1-200 | sed 's/^/  /'
echo
awk -v kb="$rss_kb" -v t="$TARGET_MB" 'BEGIN {
  mb = kb / 1024
  printf "peak RSS: %.1f MB (%d kB)   target <= %d MB   %s\n", mb, kb, t, (mb <= t ? "PASS" : "MISS")
}'
echo "(MB = 1024 kB as reported by /usr/bin/time; the target is informational)"
