#!/usr/bin/env bash
# Scan benchmark: dicomguard scan against nmap's dicom-ping on the same real DICOM listeners, in one run.
#
# Starts N DCMTK storescp processes on loopback ports (each target is given its own 127.x.y.z address, so the
# per-host limit applies per listener), writes the targets as ip:port lines, and times, best of RUNS:
#   discover   dicomguard scan --discover -iL TARGETS   (one association per service, classify, release)
#   assess     dicomguard scan -iL TARGETS              (AE matrix, contexts, C-ECHO, zero-match C-FIND, release)
#   nmap       nmap -Pn -n -p PORTS --script +dicom-ping 127.0.0.1   (one association, one byte read, no release)
# and prints services/s and the ratios ours / nmap (targets: discover >= 3x, assess >= 1x).
# Then scans INFLIGHT endpoints (the same listeners on more addresses) with --max-inflight INFLIGHT and reports
# the peak in-flight count and peak RSS (target: 10,000 in flight under 256 MB).
# Only 127.0.0.0/8 is contacted. Exit status 0 unless a tool fails to run.
#
# Usage: bench/scan/run.sh [path/to/dicomguard]
# Environment: BENCH_LISTENERS (default 800), BENCH_RUNS (3), BENCH_INFLIGHT (10000), BENCH_BASE_PORT (30000)
set -euo pipefail

case ${1:-} in -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${1:-${DICOMGUARD:-$root/build/dicomguard}}
N=${BENCH_LISTENERS:-800}
RUNS=${BENCH_RUNS:-3}
INFLIGHT=${BENCH_INFLIGHT:-10000}
BASE=${BENCH_BASE_PORT:-30000}
for tool in storescp nmap python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench/scan: $tool is not installed (scripts/setup-debian.sh)" >&2; exit 2; }
done
[[ -x $BIN ]] || { echo "bench/scan: no dicomguard binary at $BIN (make build)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/dg-bench-scan.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

echo "bench/scan: starting $N storescp listeners on 127.0.0.1:$BASE.."
ports=()
port=$BASE
while [[ ${#ports[@]} -lt $N ]]; do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    mkdir -p "$work/out"
    storescp -od "$work/out" --disable-host-lookup "$port" >/dev/null 2>&1 &
    pids+=($!)
    ports+=("$port")
  fi
  port=$((port + 1))
done
for p in "${ports[@]}"; do
  for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.05; done
done

addr() {  # the i-th address in 127.1.0.0/16 (never 127.0.0.x, never .0 or .255)
  local i=$1
  echo "127.$((1 + i / 64516)).$(((i / 254) % 254 + 1)).$((i % 254 + 1))"
}
for i in "${!ports[@]}"; do echo "$(addr "$i"):${ports[$i]}"; done >"$work/targets.txt"
portlist=$(IFS=,; echo "${ports[*]}")

now() { date +%s.%N; }
listener_cpu() {  # CPU seconds used so far by the storescp listeners
  python3 - "${pids[@]}" <<'PY'
import os, sys
hz = os.sysconf("SC_CLK_TCK"); t = 0
for p in sys.argv[1:]:
    try:
        f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        t += int(f[11]) + int(f[12])
    except OSError:
        pass
print(t / hz)
PY
}
best() {  # best wall time of RUNS runs of "$@"; output of the last run in $work/last, CPU of the best in $work/cpu
  local b=999999 t0 t1 c0 c1
  for _ in $(seq 1 "$RUNS"); do
    c0=$(listener_cpu)
    t0=$(now); /usr/bin/time -f "%U %S" -o "$work/time" "$@" >"$work/last" 2>"$work/last.err" || true; t1=$(now)
    c1=$(listener_cpu)
    if python3 -c "import sys; sys.exit(0 if $t1 - $t0 < $b else 1)"; then
      b=$(python3 -c "print($t1 - $t0)")
      python3 -c "u, s = open('$work/time').read().split()[-2:]; print(f'client {float(u) + float(s):.2f} s CPU, listeners {$c1 - $c0:.2f} s CPU')" >"$work/cpu"
    fi
  done
  echo "$b"
}
count_services() { python3 -c "
import json,sys
n=0
for l in open('$work/last'):
    o=json.loads(l)
    if o['type']=='service': n+=1
print(n)"; }

t_disc=$(best "$BIN" scan --discover -iL "$work/targets.txt" --json --timeout 5)
s_disc=$(count_services); c_disc=$(cat "$work/cpu")
t_full=$(best "$BIN" scan -iL "$work/targets.txt" --json --timeout 5)
s_full=$(count_services); c_full=$(cat "$work/cpu")
t_nmap=$(best nmap -Pn -n -p "$portlist" --script +dicom-ping -oX - 127.0.0.1)
c_nmap=$(cat "$work/cpu")
s_nmap=$(python3 -c "
import xml.etree.ElementTree as ET
n=0
for p in ET.parse('$work/last').getroot().iter('port'):
    for s in p.iter('script'):
        if s.get('id')=='dicom-ping' and 'DICOM Service Provider discovered' in s.get('output',''): n+=1
print(n)")

python3 - "$N" "$t_disc" "$s_disc" "$t_full" "$s_full" "$t_nmap" "$s_nmap" "$c_disc" "$c_full" "$c_nmap" <<'EOF'
import sys
n, td, sd, tf, sf, tn, sn, cd, cf, cn = sys.argv[1:]
n = int(n); td, tf, tn = float(td), float(tf), float(tn); sd, sf, sn = int(sd), int(sf), int(sn)
rn = sn / tn
print(f"listeners {n}")
print(f"nmap dicom-ping     {sn:5d} services in {tn:6.3f} s = {rn:8.0f} services/s   ({cn})")
for name, t, s, target, cpu in (("dicomguard discover", td, sd, 3.0, cd), ("dicomguard assess", tf, sf, 1.0, cf)):
    r = s / t
    verdict = "PASS" if r / rn >= target else "MISS"
    print(f"{name:19s} {s:5d} services in {t:6.3f} s = {r:8.0f} services/s   ours/nmap = {r / rn:5.2f}x "
          f"(target >= {target:g}x: {verdict})   ({cpu})")
EOF

# In-flight memory: the same listeners behind INFLIGHT addresses.
python3 - "$work/targets.txt" "$INFLIGHT" >"$work/many.txt" <<'EOF'
import sys
lines = [l.split(":")[1].strip() for l in open(sys.argv[1])]
want = int(sys.argv[2])
for i in range(want):
    port = lines[i % len(lines)]
    print(f"127.{2 + i // 64516}.{(i // 254) % 254 + 1}.{i % 254 + 1}:{port}")
EOF
/usr/bin/time -f "%M" -o "$work/rss" "$BIN" scan --discover -iL "$work/many.txt" --max-inflight "$INFLIGHT" --json \
  --timeout 30 >"$work/last" 2>"$work/last.err" || true
python3 - "$work/last" "$work/rss" "$INFLIGHT" <<'EOF'
import json, sys
summary = [json.loads(l) for l in open(sys.argv[1]) if '"summary"' in l][-1]
rss_mb = int(open(sys.argv[2]).read().split()[-1]) / 1024
peak = summary["peak_inflight"]
ok = peak >= int(sys.argv[3]) and rss_mb < 256
print(f"in flight: {summary['endpoints']} endpoints, peak {peak} probes in flight, {summary['services']} services, "
      f"{summary['seconds']:.2f} s, peak RSS {rss_mb:.1f} MB (target: {sys.argv[3]} in flight under 256 MB: "
      f"{'PASS' if ok else 'MISS'})")
EOF
