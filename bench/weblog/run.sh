#!/usr/bin/env bash
# Throughput benchmark for `dicomguard weblog` (issue 14): PHI in DICOMweb URLs of a web-server access log.
# One synthetic nginx access log (combined format, BENCH_GB GiB, bench/weblog/make_log.py: static assets, API
# calls, WADO-RS paths, includefield-only QIDO-RS and 10% QIDO-RS with patient names, IDs, birth dates and
# accession numbers, some in the Referer) is read, page cache warm, by
#   1 dicomguard weblog --json LOG       (parses every line's format, time, client, request and referer; decodes
#                                          the queries of DICOMweb requests; the full Table E.1-1 key set)
#   2 grep -F -c -f PATTERNS LOG          (the same keys as fixed strings "KEY=", keyword and tag, upper and
#                                          lower-case tag: counts lines, parses nothing)
#   3 bench/weblog/py_weblog.py KEYS LOG  (a careful Python script: a regex per line, urllib's query parser)
#   4 dicomguard weblog --redact -o OUT LOG  (informational: the redacted copy, written durably)
# one run each (BENCH_RUNS to change), and prints seconds, MB/s, CPU seconds (user + system) and peak RSS of
# each, then the ratios (of MB/s, and of CPU seconds, which a machine shared with other work changes less)
#   dicomguard / grep -F      target >= 1   (MB/s)
#   dicomguard / Python       target >= 20  (MB/s)
# and the PHI lines each counted (grep counts any line holding a key string, ours only DICOMweb requests with a
# value). Exit status 0, 2 when the setup is wrong.
#
# Usage: bench/weblog/run.sh [path/to/dicomguard]      (default: $DICOMGUARD, build/dicomguard)
# Environment:
#   BENCH_GB      log size in GiB (default 1; decimals allowed, e.g. 0.1 for a quick run)
#   BENCH_LOG     the log (default ${TMPDIR:-/tmp}/dicomguard-bench-weblog.log; reused when big enough)
#   BENCH_RUNS    timed runs of each (default 1; the best is used)
#   BENCH_PYTHON  (default /usr/bin/python3)
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../files/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../files/common.sh"
WL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

case ${1:-} in -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[[ $# -le 1 ]] || die "usage: run.sh [path/to/dicomguard]"
DG=$(resolve_bin "${1:-}")
"$DG" weblog --help >/dev/null 2>&1 || die "$DG has no weblog command"
[[ -x /usr/bin/time ]] || die "/usr/bin/time (Debian package time) is needed for the peak RSS"

GB=${BENCH_GB:-1}
LOG=${BENCH_LOG:-${TMPDIR:-/tmp}/dicomguard-bench-weblog.log}
RUNS=${BENCH_RUNS:-1}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dicomguard-bench-weblog.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

want=$(awk -v g="$GB" 'BEGIN { printf "%d", g * 1024 * 1024 * 1024 }')
have=$(stat -c %s "$LOG" 2>/dev/null || echo 0)
if (( have < want )); then
  echo "generating $LOG ($GB GiB) ..."
  "$PY" "$WL_DIR/make_log.py" "$LOG" "$want" >/dev/null
fi
bytes=$(stat -c %s "$LOG")
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
cat "$LOG" >/dev/null  # page cache warm

"$DG" weblog --list-keys > "$WORK/keys.txt"
awk '{ print $1 "="; print tolower($1) "="; print $2 "=" }' "$WORK/keys.txt" | sort -u > "$WORK/patterns.txt"
echo "log: $LOG, $mb MB, $(wc -l < "$WORK/keys.txt") keys ($(wc -l < "$WORK/patterns.txt") grep patterns)"

# timed NAME CMD...: best of RUNS; sets SECS_NAME (wall), CPU_NAME (user + system seconds of that run), RSS_NAME
# (KiB, the largest) and leaves the stdout of the last run in $WORK/out.NAME.
timed() {
  local name=$1 best="" cpu="" rss=0; shift
  for ((r = 0; r < RUNS; r++)); do
    /usr/bin/time -f "%e %M %U %S" -o "$WORK/time" "$@" > "$WORK/out.$name" || [[ $? == 1 ]]
    read -r s m u k < <(tail -n 1 "$WORK/time")
    if [[ -z $best ]] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best=$s
      cpu=$(awk -v u="$u" -v k="$k" 'BEGIN { printf "%.2f", u + k }')
    fi
    (( m > rss )) && rss=$m
  done
  printf -v "SECS_$name" '%s' "$best"
  printf -v "CPU_$name" '%s' "$cpu"
  printf -v "RSS_$name" '%s' "$rss"
}
rate() { awk -v m="$mb" -v s="$1" 'BEGIN { printf "%.1f", (s > 0 ? m / s : 0) }'; }
row() { printf "%-32s %7s s %8s MB/s %7s s CPU %6.1f MiB peak RSS   %s\n" "$1" "$2" "$(rate "$2")" "$5" "$(awk -v k="$3" 'BEGIN { print k / 1024 }')" "$4"; }

timed dg "$DG" weblog --json "$LOG"
dg_phi=$(grep '"type":"weblog"' "$WORK/out.dg" | sed -E 's/.*"phi_requests":([0-9]+).*/\1/')
timed grep grep -F -c -f "$WORK/patterns.txt" "$LOG"
timed py "$PY" "$WL_DIR/py_weblog.py" "$WORK/keys.txt" "$LOG"
timed red "$DG" weblog --redact -o "$WORK/redacted.log" "$LOG"
rm -f "$WORK/redacted.log"

echo
row "dicomguard weblog" "$SECS_dg" "$RSS_dg" "PHI requests: $dg_phi" "$CPU_dg"
row "grep -F -c (same keys)" "$SECS_grep" "$RSS_grep" "lines with a key: $(cat "$WORK/out.grep")" "$CPU_grep"
row "Python regex + urllib" "$SECS_py" "$RSS_py" "PHI requests: $(cut -d' ' -f2 < "$WORK/out.py")" "$CPU_py"
row "dicomguard weblog --redact -o" "$SECS_red" "$RSS_red" "(writes the copy)" "$CPU_red"
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }'; }
echo "dicomguard / grep -F : $(ratio "$SECS_dg" "$SECS_grep")x MB/s, $(ratio "$CPU_dg" "$CPU_grep")x per CPU second   (target >= 1)"
echo "dicomguard / Python  : $(ratio "$SECS_dg" "$SECS_py")x MB/s, $(ratio "$CPU_dg" "$CPU_py")x per CPU second   (target >= 20)"
