#!/usr/bin/env bash
# `dicomguard files` on a tree of 1,000,000 small files: throughput and peak memory.
#
# Generates once (cached) a tree of DIRS folders of PER small files each (bench/files/make_million.py: the
# small files of pydicom's test set, mostly Part 10, each file written with its own bytes, no hard links),
# then in one run, with /usr/bin/time for wall time and peak RSS:
#   iofloor -t 2 -a     C: 2 reader threads read every byte of every file (the floor), after an untimed warm-up
#   dicomguard          dicomguard files -j2 --json TREE >/dev/null
#   before (optional)   the same with the binary in $BENCH_BEFORE (e.g. an older build), for its peak RSS
#   pydicom (sample)    pydicom_loop.py on the first SAMPLE folders, and dicomguard -j2 on the same folders
# and prints files/s, dicomguard ÷ floor (target >= 0.5), peak RSS, and dicomguard ÷ pydicom on the sample.
#
# Usage: bench/files/million.sh [path/to/dicomguard]      (default: $DICOMGUARD, build/dicomguard)
# Environment:
#   BENCH_DIR      where the tree is kept (default /tmp/dg-bench-1m; reused when complete)
#   BENCH_DIRS     folders (default 1000)       BENCH_PER   files per folder (default 1000)
#   BENCH_SAMPLE   folders in the pydicom sample (default 10)
#   BENCH_BEFORE   a second dicomguard binary to measure the same way (optional)
#   BENCH_SOURCE   source files (default Debian's pydicom test_files)
set -euo pipefail
OUT=${BENCH_DIR:-/tmp/dg-bench-1m}  # read before common.sh, which sets BENCH_DIR to this script's folder

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

case ${1:-} in -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[[ $# -le 1 ]] || die "usage: million.sh [path/to/dicomguard]"

BIN=$(resolve_bin "${1:-}")
SRC=${BENCH_SOURCE:-/usr/lib/python3/dist-packages/pydicom/data/test_files}
DIRS=${BENCH_DIRS:-1000}
PER=${BENCH_PER:-1000}
SAMPLE=${BENCH_SAMPLE:-10}
BEFORE=${BENCH_BEFORE:-}
for v in DIRS PER SAMPLE; do [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive integer"; done
[[ $DIRS -le 1000 && $PER -le 1000 ]] || die "BENCH_DIRS and BENCH_PER are at most 1000"
[[ $SAMPLE -le $DIRS ]] || SAMPLE=$DIRS
[[ -z $BEFORE || -x $BEFORE ]] || die "BENCH_BEFORE is not an executable: $BEFORE"
[[ -d $SRC ]] || die "no test files at $SRC (install python3-pydicom: scripts/setup-debian.sh)"
[[ -x $PY ]] && "$PY" -c 'import pydicom' 2>/dev/null || die "$PY cannot import pydicom (install python3-pydicom)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time missing (apt-get install time)"
command -v cc >/dev/null || die "no C compiler 'cc' (install build-essential)"

TREE=$OUT/tree
expected=$((DIRS * PER))
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dicomguard-bench-1m.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tree (cached)
stamp="$DIRS x $PER from $SRC"
if [[ -f $OUT/complete && $(cat "$OUT/complete") == "$stamp" ]]; then
  echo "tree: reusing $TREE ($stamp)"
else
  [[ ! -e $OUT || -f $OUT/complete || -d $OUT/tree.partial ]] || [[ -z $(ls -A "$OUT") ]] ||
    die "$OUT exists and is not this benchmark's folder; set BENCH_DIR to another path"
  echo "tree: writing $expected files ($stamp) under $TREE"
  rm -rf -- "$OUT/tree" "$OUT/tree.partial" "$OUT/complete"
  mkdir -p "$OUT"
  t0=$(now)
  "$PY" "$BENCH_DIR/make_million.py" "$SRC" "$OUT/tree.partial" "$DIRS" "$PER"
  mv -T "$OUT/tree.partial" "$TREE"
  echo "$stamp" >"$OUT/complete"
  echo "tree: written in $(elapsed "$t0" "$(now)") s"
fi
n_bytes=$(du -sb --apparent-size "$TREE" | cut -f1)

IOFLOOR="$WORK/iofloor"
cc -O2 -Wall -pthread -o "$IOFLOOR" "$BENCH_DIR/iofloor.c" || die "cannot compile $BENCH_DIR/iofloor.c"

# timed NAME OUT OKCODES CMD... -> T (wall seconds) and M (peak RSS, KiB); CMD's stdout goes to OUT
timed() {
  local name=$1 out=$2 okcodes=" $3 " rc
  shift 3
  set +e
  /usr/bin/time -f '%e %M' -o "$WORK/$name.time" "$@" >"$out" 2>"$WORK/$name.err"
  rc=$?
  set -e
  if [[ $okcodes != *" $rc "* ]]; then
    echo "$name failed (exit $rc): $*" >&2
    tail -n 20 "$WORK/$name.err" >&2
    exit 1
  fi
  read -r T M < <(tail -n 1 "$WORK/$name.time")
  printf '  %-22s %9.2f s  peak RSS %8.1f MiB\n' "$name" "$T" "$(awk -v m="$M" 'BEGIN { print m / 1024 }')"
}
field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" "$2"; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.2f" : "inf"), (b > 0 ? a / b : 0) }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t ? "PASS" : "MISS") }'; }
mib() { awk -v m="$1" 'BEGIN { printf "%.1f MiB", m / 1024 }'; }

echo "warm-up: the floor once, untimed"
"$IOFLOOR" -t 2 -a "$TREE" >/dev/null
echo "timing: one run each"
timed floor "$WORK/floor.out" "0" "$IOFLOOR" -t 2 -a "$TREE"
t_io=$T m_io=$M
io_files=$(field files "$WORK/floor.out")
[[ $io_files == "$expected" ]] || echo "warning: the floor saw $io_files files, expected $expected" >&2
timed dicomguard /dev/null "0 1" "$BIN" files -j2 --json "$TREE"
t_dg=$T m_dg=$M
if [[ -n $BEFORE ]]; then
  timed before /dev/null "0 1" "$BEFORE" files -j2 --json "$TREE"
  t_b=$T m_b=$M
fi
sample=()
for ((d = 0; d < SAMPLE; d++)); do sample+=("$TREE/$(printf 'd%03d' "$d")"); done
n_sample=$((SAMPLE * PER))
py_secs=0 py_files=0
for s in "${sample[@]}"; do
  "$PY" "$BENCH_DIR/pydicom_loop.py" "$s" >"$WORK/py.out"  # one folder each: the loop time is summed
  py_secs=$(awk -v a="$py_secs" -v b="$(field seconds "$WORK/py.out")" 'BEGIN { print a + b }')
  py_files=$((py_files + $(field files "$WORK/py.out")))
done
printf '  %-22s %9.2f s  (loop time, %d folders)\n' "pydicom (sample)" "$py_secs" "$SAMPLE"
timed dicomguard-sample /dev/null "0 1" "$BIN" files -j2 --json "${sample[@]}"
t_dgs=$T

# ---------------------------------------------------------------- report
echo
echo "machine: $(nproc) CPUs, $(uname -sr), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "tree:    $TREE ($expected files in $DIRS folders, $(numfmt --to=iec-i --suffix=B "$n_bytes" 2>/dev/null || echo "$n_bytes B"))"
echo "load:    $(uptime | sed 's/.*load average/load average/') (shared machine: figures are noisy)"
echo
printf '%-40s %9s %10s %9s %12s\n' tool files seconds files/s "peak RSS"
printf '%-40s %9d %10.2f %9s %12s\n' "I/O floor (C, 2 thr, every byte)" "$io_files" "$t_io" "$(rate "$io_files" "$t_io")" "$(mib "$m_io")"
printf '%-40s %9d %10.2f %9s %12s\n' "dicomguard files -j2 --json" "$expected" "$t_dg" "$(rate "$expected" "$t_dg")" "$(mib "$m_dg")"
[[ -z $BEFORE ]] ||
  printf '%-40s %9d %10.2f %9s %12s\n' "before (BENCH_BEFORE)" \
    "$expected" "$t_b" "$(rate "$expected" "$t_b")" "$(mib "$m_b")"
printf '%-40s %9d %10.2f %9s\n' "pydicom, sample of $SAMPLE folders" "$py_files" "$py_secs" "$(rate "$py_files" "$py_secs")"
printf '%-40s %9d %10.2f %9s\n' "dicomguard -j2, the same sample" "$n_sample" "$t_dgs" "$(rate "$n_sample" "$t_dgs")"
echo
r_io=$(ratio "$t_io" "$t_dg")
r_py=$(awk -v pf="$py_files" -v ps="$py_secs" -v n="$n_sample" -v t="$t_dgs" \
  'BEGIN { printf "%.1f", (ps > 0 && t > 0 ? (n / t) / (pf / ps) : 0) }')
printf '%-48s %8s    target >= 0.5   %s\n' "dicomguard -j2 / floor 2 thr every byte" "$r_io" "$(verdict "$r_io" 0.5)"
r_pyw=$(awk -v pf="$py_files" -v ps="$py_secs" -v n="$expected" -v t="$t_dg" \
  'BEGIN { printf "%.1f", (ps > 0 && t > 0 ? (n / t) / (pf / ps) : 0) }')
printf '%-48s %8sx   (information; /usr/bin/time has 10 ms steps)\n' "dicomguard -j2 / pydicom, both on the sample" "$r_py"
printf '%-48s %8sx   (information)\n' "dicomguard -j2 whole tree / pydicom sample" "$r_pyw"
printf '%-48s %8s\n' "dicomguard peak RSS over $expected files" "$(mib "$m_dg")"
[[ -z $BEFORE ]] || printf '%-48s %8s\n' "before: peak RSS" "$(mib "$m_b")"
echo "(ratios are of throughput, files/s; one run each; targets are informational)"
