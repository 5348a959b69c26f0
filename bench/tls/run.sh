#!/usr/bin/env bash
# TLS benchmark: dicomguard tls against sslscan and testssl.sh on the same DICOM-TLS test endpoints, in one run.
#
# Starts the test servers of tests/integration/tls_peers.py on 127.0.0.1 (openssl s_server: b12, b13, rsa1024,
# expired, sha1, mtls, anyclient, tls10; DCMTK storescp +tls: +py, +px, +pz, +pa, +pn), puts a counting TCP relay
# in front of each, and runs once per endpoint, against the relay:
#   dicomguard   dicomguard tls 127.0.0.1:PORT --json                      (full assessment)
#   sslscan      sslscan --no-colour 127.0.0.1:PORT                       (Debian sslscan 2.0.7)
#   testssl.sh   testssl --quiet --color 0 --warnings off --openssl /usr/bin/openssl --nodns none 127.0.0.1:PORT
# It prints, per endpoint and in total, wall seconds and TCP connections of each tool, the ratios ours/sslscan
# and ours/testssl (time and connections), our DICOM profile verdict ("meets"), and issue 4's targets (faster
# than sslscan; at least 10x faster than testssl.sh with fewer handshakes) as met / NOT met.
# Only 127.0.0.1 is contacted. Exit status 0 unless the setup is wrong (2) or the run fails (1) or is interrupted.
#
# Usage: bench/tls/run.sh [path/to/dicomguard]
# Environment: BENCH_OUT (results folder, default /tmp/dg-bench-tls), TLS_BENCH_ENDPOINTS (subset, e.g.
#   "b12 mtls storescp-py"; default all), TESTSSL=0 (skip testssl.sh), TLS_BENCH_TIMEOUT (s per tool run, 300)
set -euo pipefail

case ${1:-} in -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[[ $# -le 1 ]] || { echo "usage: bench/tls/run.sh [path/to/dicomguard]" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
PY=${BENCH_PYTHON:-python3}
OUT=${BENCH_OUT:-/tmp/dg-bench-tls}
want=${1:-${DICOMGUARD:-build/dicomguard}}

die() { echo "bench/tls: $*" >&2; exit 2; }

resolve() {
  local cand
  for cand in "$want" "$root/$want"; do
    [[ $want == /* && $cand != "$want" ]] && continue
    if [[ -f $cand && -x $cand ]]; then echo "$(cd "$(dirname "$cand")" && pwd)/$(basename "$cand")"; return 0; fi
  done
  return 1
}
BIN=""
for _ in $(seq 1 30); do  # build/ may be being rebuilt: the binary can be missing for a moment
  BIN=$(resolve) && break
  sleep 2
done
[[ -n $BIN ]] || die "no dicomguard binary at '$want' (looked in $PWD and $root; build it first)"
for tool in "$PY" openssl storescp sslscan; do
  command -v "$tool" >/dev/null || die "$tool is not installed (scripts/setup-debian.sh)"
done
if [[ ${TESTSSL:-1} != 0 ]]; then
  [[ -x /usr/bin/testssl ]] || die "testssl (Debian package testssl.sh) is not installed; or set TESTSSL=0"
  [[ -x /usr/bin/openssl ]] || die "/usr/bin/openssl is missing (testssl.sh is pointed at it)"
fi

# The results folder: ours (marked) is emptied; anything else non-empty is never touched.
if [[ -e $OUT ]]; then
  [[ -d $OUT ]] || die "BENCH_OUT=$OUT exists and is not a folder"
  if [[ -e $OUT/.dg-bench-tls ]]; then
    find "$OUT" -mindepth 1 -delete
  elif [[ -n $(find "$OUT" -mindepth 1 -maxdepth 1 -print -quit) ]]; then
    die "BENCH_OUT=$OUT is not empty and not an earlier bench/tls result; choose another folder"
  fi
fi
mkdir -p "$OUT"
: >"$OUT/.dg-bench-tls"
# Run a copy, so a rebuild of build/ during the run cannot swap or remove the binary under us.
cp "$BIN" "$OUT/dicomguard"
echo "bench/tls: dicomguard $BIN (sha256 $(sha256sum "$OUT/dicomguard" | cut -c1-16)..., copied to $OUT/dicomguard)" >&2
pidfile="$OUT/.pgids"
: >"$pidfile"

bench_pid=""
# shellcheck disable=SC2317  # invoked by the traps
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [[ -n $bench_pid ]] && kill -0 "$bench_pid" 2>/dev/null; then
    kill -TERM "$bench_pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$bench_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$bench_pid" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
  # Process groups bench.py started (servers, a tool run) that it could not stop itself.
  if [[ -s $pidfile ]]; then
    while read -r pgid what; do
      [[ $pgid =~ ^[0-9]+$ ]] || continue
      if kill -0 -- "-$pgid" 2>/dev/null; then
        echo "bench/tls: stopping left-over $what (process group $pgid)" >&2
        kill -TERM -- "-$pgid" 2>/dev/null || true
        sleep 0.5
        kill -KILL -- "-$pgid" 2>/dev/null || true
      fi
    done <"$pidfile"
  fi
  rm -f "$pidfile" "$pidfile.tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# bench.py runs in the background so that a signal to this script is handled at once (the trap forwards it).
TLS_BENCH_PIDFILE=$pidfile TLS_BENCH_BIN=$BIN "$PY" "$here/bench.py" "$OUT/dicomguard" "$OUT" &
bench_pid=$!
set +e
wait "$bench_pid"
rc=$?
set -e
bench_pid=""
exit "$rc"
