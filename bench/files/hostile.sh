#!/usr/bin/env bash
# Peak memory of `dicomguard files` on decompression bombs, at -j1, -j2, -j8 and -j32.
#
# Writes 32 bombs with make_bombs.py (deflated datasets of 512 MiB of zeros, encapsulated PDFs whose object
# streams inflate to 256 MiB, once and twice compressed: about 11 MB on disk), runs
# `/usr/bin/time -v dicomguard files --json -j N` on them and prints the peak resident set size of each run
# against the budget: 64 MiB whatever -j is (a file check holds a bounded window, big buffers are taken from a
# process-wide budget of two leases). Also prints, per run, how many files were flagged.
#
# Usage: bench/files/hostile.sh [--budget-mib N] [path/to/dicomguard]
# Exit: 0 every run within budget with every bomb flagged, 1 otherwise, 2 setup or usage error.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

budget=64 bin_arg=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --budget-mib) [[ $# -ge 2 ]] || die "--budget-mib needs a value"; budget=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) bin_arg=$1 ;;
  esac
  shift
done
BIN=$(resolve_bin "$bin_arg")
[[ -x /usr/bin/time ]] || die "GNU time is needed (Debian package 'time')"

work=$(mktemp -d "${TMPDIR:-/tmp}/dicomguard-bombs.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$PY" "$BENCH_DIR/make_bombs.py" "$work/in" --copies 8
n=$(find "$work/in" -type f | wc -l)
echo "hostile memory: $n bombs ($(du -sh "$work/in" | cut -f1) on disk), budget $budget MiB at every -j"
printf '%-6s %12s %10s %9s  %s\n' jobs "peak RSS" seconds flagged result
status=0
for j in 1 2 8 32; do
  t0=$(now)
  set +e
  /usr/bin/time -v "$BIN" files "$work/in" --json -j "$j" >"$work/out.$j" 2>"$work/time.$j"
  rc=$?
  set -e
  t1=$(now)
  kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.$j")
  flagged=$(grep -c '"type":"file".*"verdict":"\(malformed\|dangerous\|suspicious\)"' "$work/out.$j" || true)
  mib=$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')
  verdict=ok
  if [[ $rc -ne 1 ]] || awk -v m="$mib" -v b="$budget" 'BEGIN { exit !(m > b) }' || [[ $flagged -ne $n ]]; then
    verdict=OVER; status=1
  fi
  printf '%-6s %8s MiB %10s %6s/%s  %s\n' "-j$j" "$mib" "$(elapsed "$t0" "$t1" | cut -c1-5)" "$flagged" "$n" "$verdict"
done
exit $status
