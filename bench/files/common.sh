# Shared helpers for bench/files/*.sh. Sourced, not run.
# shellcheck shell=bash

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/../.." && pwd)
# Debian's interpreter, whatever python3 is first on PATH (pyenv, venvs, ...).
# shellcheck disable=SC2034  # used by the scripts that source this file
PY=${BENCH_PYTHON:-/usr/bin/python3}

die() { echo "${0##*/}: $*" >&2; exit 2; }

# resolve_bin [PATH] -> prints an absolute path to an executable dicomguard.
# Order: argument, $DICOMGUARD, build/dicomguard. A relative path is tried
# against the current directory first, then against the repository root, so
# the scripts work from any cwd.
resolve_bin() {
  local want=${1:-${DICOMGUARD:-build/dicomguard}} cand
  if [[ $want != */* ]] && cand=$(command -v -- "$want" 2>/dev/null) && [[ -x $cand ]]; then
    echo "$cand"; return 0
  fi
  for cand in "$want" "$REPO_ROOT/$want"; do
    [[ $want == /* && $cand != "$want" ]] && continue
    if [[ -f $cand && -x $cand ]]; then
      echo "$(cd "$(dirname "$cand")" && pwd)/$(basename "$cand")"; return 0
    fi
  done
  die "dicomguard binary not found or not executable: '$want'
  (looked in $PWD and $REPO_ROOT). Build it first (cmake -S . -B build && cmake --build build),
  or pass its path as the first argument or in DICOMGUARD=..."
}

# High-resolution wall clock, seconds with nanoseconds.
now() { date +%s.%N; }

# elapsed T0 T1 -> seconds with 6 decimals.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
