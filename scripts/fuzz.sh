#!/usr/bin/env bash
# Runs every libFuzzer target of a DG_FUZZ build for FUZZ_SECONDS each, seeded with real DICOM files
# (Debian's python3-pydicom test files) and prints executions and crashes per target.
# Usage: FUZZ_SECONDS=30 scripts/fuzz.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: scripts/fuzz.sh BUILD_DIR}
seconds=${FUZZ_SECONDS:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${FUZZ_WORK:-$root/$build/fuzz-work}
seeds=/usr/lib/python3/dist-packages/pydicom/data/test_files
mkdir -p "$work"
status=0
for fuzzer in "$build"/fuzz_*; do
  [[ -x "$fuzzer" && -f "$fuzzer" ]] || continue
  name=$(basename "$fuzzer")
  corpus="$work/$name-corpus"
  mkdir -p "$corpus" "$work/$name-crashes"
  if [[ -z "$(ls -A "$corpus")" ]]; then
    # Seed: real files (the walker target) or their small ones (all targets); libFuzzer keeps what adds coverage.
    find "$seeds" -type f -size -64k -exec cp -t "$corpus" {} + 2>/dev/null || true
    # Seeds of a target's own (fuzz/seeds/NAME); the PDU parser also starts from real A-ASSOCIATE-RQ/AC captured
    # from DCMTK (tests/data/pdu, tools/capture_pdu.py).
    if [[ -d "$root/fuzz/seeds/$name" ]]; then cp -t "$corpus" "$root/fuzz/seeds/$name"/*; fi
    if [[ $name == fuzz_pdu ]]; then cp -t "$corpus" "$root"/tests/data/pdu/*.bin; fi
  fi
  log="$work/$name.log"
  # Inputs that once crashed a target are replayed first, every run.
  regressions="$root/fuzz/regressions/$name"
  if [[ -d "$regressions" ]]; then
    if ! "$fuzzer" "$regressions"/* >"$work/$name-regressions.log" 2>&1; then
      echo "fuzz: $name FAILED on a kept regression input:"; tail -40 "$work/$name-regressions.log"; status=1; continue
    fi
    echo "fuzz: $name: $(ls "$regressions" | wc -l) regression inputs pass"
  fi
  echo "fuzz: $name for ${seconds}s"
  dict=()
  [[ -f "$root/fuzz/$name.dict" ]] && dict=(-dict="$root/fuzz/$name.dict")
  set +e
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$fuzzer" "$corpus" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$work/$name-crashes/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  echo "fuzz: $name: ${execs:-?} executions, exit $rc"
  if [[ $rc -ne 0 ]]; then
    status=1
    echo "fuzz: $name FAILED; last lines of $log:"
    tail -40 "$log"
    ls -la "$work/$name-crashes/"
  fi
done
exit $status
