#!/usr/bin/env bash
# Throughput benchmark for `dicomguard files`.
#
# Builds a corpus of N copies of pydicom's test files (real Part 10 files plus
# non-DICOM ones), warms the page cache, then times, best of RUNS runs each:
#   dicomguard   dicomguard files -jJOBS --json CORPUS >/dev/null, and with -j1
#   pydicom      pydicom.dcmread(stop_before_pixels=True) on every file, one process
#   iofloor      C: nftw + open + read first 8 KiB + close for every file (1 thread)
#   iofloor -t   the same with JOBS reader threads (first 8 KiB), and reading every byte
# and reports dicomguard's throughput against pydicom (target >= 50x) and
# against the whole-file JOBS-thread I/O floor (target >= 0.5), from each tool's best run and as the median of
# the ratios within a round (the tools take turns, one run each per round). Targets are
# informational: the exit status is 0 unless a tool fails to run (1) or the
# setup is wrong (2).
#
# Usage: bench/files/run.sh [path/to/dicomguard]      (default: $DICOMGUARD, build/dicomguard)
# Environment:
#   BENCH_CORPUS   corpus dir (default ${TMPDIR:-/tmp}/dicomguard-bench-corpus; reused if complete)
#   BENCH_COPIES   copies of the test files (default 40)
#   BENCH_RUNS     runs per tool, best is kept (default 3)
#   BENCH_JOBS     dicomguard -j value (default 2)
#   BENCH_SOURCE   source files (default Debian's pydicom test_files)
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

case ${1:-} in -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[[ $# -le 1 ]] || die "usage: run.sh [path/to/dicomguard]"

BIN=$(resolve_bin "${1:-}")
SRC=${BENCH_SOURCE:-/usr/lib/python3/dist-packages/pydicom/data/test_files}
CORPUS=${BENCH_CORPUS:-${TMPDIR:-/tmp}/dicomguard-bench-corpus}
COPIES=${BENCH_COPIES:-40}
RUNS=${BENCH_RUNS:-3}
JOBS=${BENCH_JOBS:-2}

[[ $COPIES =~ ^[1-9][0-9]?$ ]] || die "BENCH_COPIES must be 1..99, got '$COPIES'"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, got '$RUNS'"
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "BENCH_JOBS must be a positive integer, got '$JOBS'"
[[ -d $SRC ]] || die "no test files at $SRC (install python3-pydicom: scripts/setup-debian.sh)"
[[ -x $PY ]] || die "$PY missing (install python3 and python3-pydicom: scripts/setup-debian.sh)"
"$PY" -c 'import pydicom' 2>/dev/null || die "$PY cannot import pydicom (install python3-pydicom)"
command -v cc >/dev/null || die "no C compiler 'cc' (install build-essential)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dicomguard-bench.XXXXXX")
PARTIAL=""
cleanup() {
  rm -rf -- "$WORK"
  [[ -z $PARTIAL ]] || rm -rf -- "$PARTIAL"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- corpus
count_files() { find "$1" -type f | wc -l; }

src_files=$(count_files "$SRC")
[[ $src_files -gt 0 ]] || die "no regular files under $SRC"
expected=$((src_files * COPIES))

corpus_ok() {
  [[ -d $CORPUS ]] || return 1
  # Only copy_NN folders, and exactly the expected number of files.
  [[ -z $(find "$CORPUS" -mindepth 1 -maxdepth 1 ! -name 'copy_[0-9][0-9]' -print -quit) ]] || return 1
  [[ $(find "$CORPUS" -mindepth 1 -maxdepth 1 -name 'copy_[0-9][0-9]' | wc -l) -eq $COPIES ]] || return 1
  [[ $(count_files "$CORPUS") -eq $expected ]]
}

if corpus_ok; then
  echo "corpus: reusing $CORPUS"
else
  if [[ -e $CORPUS ]]; then
    # Never delete a folder we did not make: ours holds only copy_NN folders.
    if [[ -n $(find "$CORPUS" -mindepth 1 -maxdepth 1 ! -name 'copy_[0-9][0-9]' -print -quit) ]]; then
      die "$CORPUS exists and is not a benchmark corpus; set BENCH_CORPUS to another path"
    fi
    echo "corpus: $CORPUS is stale or incomplete, rebuilding"
    rm -rf -- "$CORPUS"
  fi
  echo "corpus: copying $src_files files from $SRC $COPIES times"
  mkdir -p "$(dirname "$CORPUS")"
  PARTIAL="$CORPUS.partial.$$"
  mkdir -p "$PARTIAL/copy_00"
  # Regular files only, keeping the sub-folder layout.
  (cd "$SRC" && find . -type f -print0 | xargs -0 -r cp --parents -t "$PARTIAL/copy_00")
  for ((i = 1; i < COPIES; i++)); do
    cp -R "$PARTIAL/copy_00" "$PARTIAL/$(printf 'copy_%02d' "$i")"
  done
  mv -T "$PARTIAL" "$CORPUS"  # appears complete or not at all
  PARTIAL=""
  corpus_ok || die "corpus at $CORPUS does not hold the expected $expected files"
fi

n_files=$(count_files "$CORPUS")
n_bytes=$(find "$CORPUS" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d", s }')
human() { numfmt --to=iec-i --suffix=B --format='%.1f' "$1" 2>/dev/null || echo "$1 B"; }
echo "corpus: $n_files files, $n_bytes bytes ($(human "$n_bytes")) in $COPIES copies of $src_files"

# ---------------------------------------------------------------- tools
IOFLOOR="$WORK/iofloor"
cc -O2 -Wall -pthread -o "$IOFLOOR" "$BENCH_DIR/iofloor.c" || die "cannot compile $BENCH_DIR/iofloor.c"

echo "warm-up: reading every corpus file once"
find "$CORPUS" -type f -print0 | xargs -0 -r cat >/dev/null

# Sanity run of dicomguard (untimed): exit status, output lines, stderr.
set +e
"$BIN" files "-j$JOBS" --json "$CORPUS" >"$WORK/dg.out" 2>"$WORK/dg.err"
rc=$?
set -e
if [[ $rc -ne 0 && $rc -ne 1 ]]; then
  echo "dicomguard failed (exit $rc): $BIN files -j$JOBS --json $CORPUS" >&2
  tail -n 20 "$WORK/dg.err" >&2
  exit 1
fi
echo "dicomguard: exit $rc, $(wc -l <"$WORK/dg.out") JSON lines, $(wc -l <"$WORK/dg.err") stderr lines (untimed check run)"

# time_once NAME OUT OKCODES CMD... -> sets DT (seconds); CMD stdout goes to OUT.
# OKCODES is a space-separated list of acceptable exit statuses.
time_once() {
  local name=$1 out=$2 okcodes=" $3 " t0 t1 rc
  shift 3
  t0=$(now)
  set +e
  "$@" >"$out" 2>"$WORK/err"
  rc=$?
  set -e
  t1=$(now)
  if [[ $okcodes != *" $rc "* ]]; then
    echo "$name failed (exit $rc): $*" >&2
    tail -n 20 "$WORK/err" >&2
    exit 1
  fi
  DT=$(elapsed "$t0" "$t1")
}

# The tools take turns, one run each per round, so that a slow minute of a shared machine falls on all of
# them rather than on one tool's whole series; each tool's best run is kept, and the two target ratios are
# also given as the median of the ratios within each round.
tool_run() {
  case $1 in
    dicomguard) time_once "$1" /dev/null "0 1" "$BIN" files "-j$JOBS" --json "$CORPUS" ;;
    dicomguard-j1) time_once "$1" /dev/null "0 1" "$BIN" files -j1 --json "$CORPUS" ;;
    pydicom) time_once "$1" "$WORK/py.out" "0" "$PY" "$BENCH_DIR/pydicom_loop.py" "$CORPUS" ;;
    iofloor) time_once "$1" "$WORK/io.out" "0" "$IOFLOOR" "$CORPUS" ;;
    iofloor-head) time_once "$1" "$WORK/ioh.out" "0" "$IOFLOOR" -t "$JOBS" "$CORPUS" ;;
    iofloor-all) time_once "$1" "$WORK/ioa.out" "0" "$IOFLOOR" -t "$JOBS" -a "$CORPUS" ;;
  esac
}
tools=(dicomguard dicomguard-j1 pydicom iofloor iofloor-head iofloor-all)
declare -A best
round_py=() round_ioa=()
echo "timing: $RUNS rounds, each tool once per round; best run of each kept"
for ((i = 1; i <= RUNS; i++)); do
  declare -A this=()
  for t in "${tools[@]}"; do
    tool_run "$t"
    this[$t]=$DT
    printf '  %-14s round %d/%d: %10.3f s\n' "$t" "$i" "$RUNS" "$DT"
    if [[ -z ${best[$t]:-} ]] || awk -v a="$DT" -v b="${best[$t]}" 'BEGIN { exit !(a < b) }'; then
      best[$t]=$DT
    fi
  done
  round_py+=("$(awk -v a="${this[pydicom]}" -v b="${this[dicomguard]}" 'BEGIN { printf "%.4f", a / b }')")
  round_ioa+=("$(awk -v a="${this[iofloor-all]}" -v b="${this[dicomguard]}" 'BEGIN { printf "%.4f", a / b }')")
done
t_dg=${best[dicomguard]}
t_dg1=${best[dicomguard-j1]}
t_py=${best[pydicom]}
t_io=${best[iofloor]}
t_ioh=${best[iofloor-head]}
t_ioa=${best[iofloor-all]}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
m_py=$(median "${round_py[@]}")
m_ioa=$(median "${round_ioa[@]}")

field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" "$2"; }
py_files=$(field files "$WORK/py.out")
py_errors=$(field errors "$WORK/py.out")
io_files=$(field files "$WORK/io.out")
ioh_files=$(field files "$WORK/ioh.out")
ioa_files=$(field files "$WORK/ioa.out")
for pair in "pydicom:$py_files" "iofloor:$io_files" "iofloor-head:$ioh_files" "iofloor-all:$ioa_files"; do
  [[ ${pair#*:} == "$n_files" ]] || echo "warning: ${pair%%:*} saw ${pair#*:} files, corpus has $n_files" >&2
done

# ---------------------------------------------------------------- report
echo
echo "machine: $(nproc) CPUs, $(uname -sr), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "corpus:  $CORPUS ($n_files files, $(human "$n_bytes"))"
echo "load:    $(uptime | sed 's/.*load average/load average/') (shared machine: figures are noisy)"
echo "pydicom: $("$PY" -c 'import pydicom; print(pydicom.__version__)'), $py_errors of $py_files files rejected"
echo
printf '%-34s %8s %10s %12s\n' tool files seconds files/s
row() { awk -v n="$2" -v t="$3" -v name="$1" 'BEGIN { printf "%-34s %8d %10.3f %12.1f\n", name, n, t, (t > 0 ? n / t : 0) }'; }
row "dicomguard -j$JOBS" "$n_files" "$t_dg"
row "dicomguard -j1" "$n_files" "$t_dg1"
row "pydicom (1 process)" "$py_files" "$t_py"
row "I/O floor (C, 1 thr, first 8 KiB)" "$io_files" "$t_io"
row "I/O floor (C, $JOBS thr, first 8 KiB)" "$ioh_files" "$t_ioh"
row "I/O floor (C, $JOBS thr, every byte)" "$ioa_files" "$t_ioa"
echo

# Ratios of throughput (files/s) = inverse ratio of times over the same corpus.
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t ? "PASS" : "MISS") }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.2f" : "inf"), (b > 0 ? a / b : 0) }'; }
r_py=$(ratio "$t_py" "$t_dg")
r_io=$(ratio "$t_io" "$t_dg")
r_ioh=$(ratio "$t_ioh" "$t_dg")
r_ioa=$(ratio "$t_ioa" "$t_dg")
printf '%-44s %10sx   target >= 50x   %s\n' "dicomguard -j$JOBS / pydicom" "$r_py" "$(verdict "$r_py" 50)"
printf '%-44s %10s    target >= 0.5   %s\n' "dicomguard -j$JOBS / floor $JOBS thr every byte" "$r_ioa" "$(verdict "$r_ioa" 0.5)"
printf '%-44s %10s    (information)\n' "dicomguard -j$JOBS / floor $JOBS thr first 8 KiB" "$r_ioh"
printf '%-44s %10s    (information)\n' "dicomguard -j$JOBS / floor 1 thr first 8 KiB" "$r_io"
printf '%-44s %10sx   (median of the %d rounds)\n' "dicomguard -j$JOBS / pydicom, within a round" "$m_py" "$RUNS"
printf '%-44s %10s    (median of the %d rounds)\n' "dicomguard -j$JOBS / floor every byte, in a round" "$m_ioa" "$RUNS"
echo "(ratios are of throughput, files/s; targets are informational)"
