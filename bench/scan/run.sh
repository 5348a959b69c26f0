#!/usr/bin/env bash
# Scan benchmark: dicomguard scan against nmap's dicom-ping and a minimal reference client on the same real DICOM
# listeners, in one run.
#
# Starts N DCMTK storescp processes on loopback ports (each target is given its own 127.x.y.z address, so the
# per-host limit applies per listener), writes the targets as ip:port lines, and times, best of RUNS:
#   reference  refclient TARGETS 1024   (bench/scan/refclient.c, built here with cc -O2: epoll, one association
#              with one Verification context, release; the least a discovery client can do, so its rate is the
#              listeners' measured capacity; 1024 in flight, dicomguard's default --max-inflight)
#   discover   dicomguard scan --discover -iL TARGETS   (one association per service, classify, release)
#   assess     dicomguard scan -iL TARGETS              (AE matrix, contexts, C-ECHO, zero-match C-FIND, release)
#   nmap       nmap -Pn -n -p PORTS --script +dicom-ping 127.0.0.1   (one association, one byte read, no release;
#              one host, so each listener once whatever BENCH_REPEAT is)
# and prints services/s, the ratios (targets: discover / reference >= 0.9, discover / nmap >= 1.8,
# assess / nmap >= 1), and CPU per service in microseconds: each client's own user+sys (/usr/bin/time), and the
# listeners' (time on CPU of the storescp processes from /proc/PID/schedstat, before and after each client's best run).
# "own" is the scan time each client reports itself (refclient, the summary's seconds, nmap's elapsed).
# Then scans INFLIGHT endpoints (the same listeners on more addresses) with --max-inflight INFLIGHT and reports
# the peak in-flight count and peak RSS (target: 10,000 in flight under 256 MB). One table at the end.
# Only 127.0.0.0/8 is contacted. Exit status 0 unless a tool fails to run.
#
# Usage: bench/scan/run.sh [path/to/dicomguard]
# Environment: BENCH_LISTENERS (default 800), BENCH_RUNS (3), BENCH_INFLIGHT (10000), BENCH_BASE_PORT (30000),
#   BENCH_REPEAT (1: addresses per listener; 20 gives 16,000 targets and steadier ratios)
set -euo pipefail

case ${1:-} in -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${1:-${DICOMGUARD:-$root/build/dicomguard}}
N=${BENCH_LISTENERS:-800}
RUNS=${BENCH_RUNS:-3}
INFLIGHT=${BENCH_INFLIGHT:-10000}
REPEAT=${BENCH_REPEAT:-1}
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || { echo "bench/scan: BENCH_REPEAT must be a positive integer, got '$REPEAT'" >&2; exit 2; }
BASE=${BENCH_BASE_PORT:-30000}
for tool in storescp nmap python3 cc /usr/bin/time; do
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
cc -O2 -o "$work/refclient" "$root/bench/scan/refclient.c"
# The reference client keeps as many associations in flight as dicomguard does by default (its --help says).
REF_INFLIGHT=$("$BIN" scan --help | grep -A1 -e '--max-inflight' | sed -n 's/.*(default: \([0-9]*\)).*/\1/p' | head -1 || true)
REF_INFLIGHT=${REF_INFLIGHT:-1024}

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
# Each listener is reached at REPEAT addresses (REPEAT x N targets): runs long enough that a client's start-up
# (dicomguard's is about 9 ms, refclient's under 1) and the VM's noise weigh less than the steady-state rate.
for r in $(seq 0 $((REPEAT - 1))); do
  for i in "${!ports[@]}"; do echo "$(addr "$((r * N + i))"):${ports[$i]}"; done
done >"$work/targets.txt"
portlist=$(IFS=,; echo "${ports[*]}")

now() { date +%s.%N; }
listener_cpu() {  # CPU seconds used so far by the storescp listeners
  # /proc/PID/schedstat's first field is the time on CPU in nanoseconds; utime+stime in /proc/PID/stat count
  # clock ticks (10 ms), which over 800 processes that each work a few hundred microseconds per run is noise.
  python3 - "${pids[@]}" <<'PY'
import os, sys
hz = os.sysconf("SC_CLK_TCK"); t = 0.0
for p in sys.argv[1:]:
    try:
        t += int(open(f"/proc/{p}/schedstat").read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            t += (int(f[11]) + int(f[12])) / hz
        except OSError:
            pass
print(f"{t:.6f}")
PY
}
best() {  # best wall time of RUNS runs of "$@"; output of the best run in $work/best, its CPU ("client listeners"
          # seconds) in $work/cpu
  local b=999999 t0 t1 c0 c1
  for _ in $(seq 1 "$RUNS"); do
    c0=$(listener_cpu)
    t0=$(now); /usr/bin/time -f "%U %S" -o "$work/time" "$@" >"$work/last" 2>"$work/last.err" || true; t1=$(now)
    c1=$(listener_cpu)
    if python3 -c "import sys; sys.exit(0 if $t1 - $t0 < $b else 1)"; then
      b=$(python3 -c "print($t1 - $t0)")
      cp "$work/last" "$work/best"
      python3 -c "u, s = open('$work/time').read().split()[-2:]; print(float(u) + float(s), $c1 - $c0)" >"$work/cpu"
    fi
  done
  echo "$b"
}
count_services() { python3 -c "
import json,sys
n=0
for l in open('$work/best'):
    o=json.loads(l)
    if o['type']=='service': n+=1
print(n)"; }
own_seconds() {  # the scan time the best run reports itself (no process start-up): refclient, dicomguard, nmap
  python3 - "$work/best" "$1" <<'PY'
import json, sys, xml.etree.ElementTree as ET
path, kind = sys.argv[1:]
if kind == "refclient":
    print(open(path).read().split()[9])
elif kind == "dicomguard":
    print([json.loads(l) for l in open(path) if '"summary"' in l][-1]["seconds"])
else:
    print(ET.parse(path).getroot().find("runstats/finished").get("elapsed"))
PY
}

t_ref=$(best "$work/refclient" "$work/targets.txt" "$REF_INFLIGHT" 5)
s_ref=$(python3 -c "f = open('$work/best').read().split(); print(int(f[3]) + int(f[5]))")  # accepted + rejected
c_ref="$(cat "$work/cpu") $(own_seconds refclient)"
t_disc=$(best "$BIN" scan --discover -iL "$work/targets.txt" --json --timeout 5)
s_disc=$(count_services); c_disc="$(cat "$work/cpu") $(own_seconds dicomguard)"
t_full=$(best "$BIN" scan -iL "$work/targets.txt" --json --timeout 5)
s_full=$(count_services); c_full="$(cat "$work/cpu") $(own_seconds dicomguard)"
t_nmap=$(best nmap -Pn -n -p "$portlist" --script +dicom-ping -oX - 127.0.0.1)
c_nmap="$(cat "$work/cpu") $(own_seconds nmap)"
s_nmap=$(python3 -c "
import xml.etree.ElementTree as ET
n=0
for p in ET.parse('$work/best').getroot().iter('port'):
    for s in p.iter('script'):
        if s.get('id')=='dicom-ping' and 'DICOM Service Provider discovered' in s.get('output',''): n+=1
print(n)")

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
python3 - "$work/last" "$work/rss" "$INFLIGHT" >"$work/inflight" <<'EOF'
import json, sys
summary = [json.loads(l) for l in open(sys.argv[1]) if '"summary"' in l][-1]
rss_mb = int(open(sys.argv[2]).read().split()[-1]) / 1024
peak = summary["peak_inflight"]
ok = peak >= int(sys.argv[3]) and rss_mb < 256
print(f"in flight: {summary['endpoints']} endpoints, peak {peak} probes in flight, {summary['services']} services, "
      f"{summary['seconds']:.2f} s, peak RSS {rss_mb:.1f} MB (target: {sys.argv[3]} in flight under 256 MB: "
      f"{'PASS' if ok else 'MISS'})")
EOF

python3 - "$N" "$RUNS" "$REF_INFLIGHT" "$t_ref" "$s_ref" "$c_ref" "$t_disc" "$s_disc" "$c_disc" \
  "$t_full" "$s_full" "$c_full" "$t_nmap" "$s_nmap" "$c_nmap" <<'EOF'
import sys
a = sys.argv[1:]
n, runs, ref_inflight = a[0], a[1], a[2]
rows = {}
for i, name in enumerate(("reference", "discover", "assess", "nmap")):
    t, s, cpu = a[3 + 3 * i: 6 + 3 * i]
    client, listeners, own = (float(x) for x in cpu.split())
    rows[name] = (int(s), float(t), client, listeners, own)
rate = {k: r[0] / r[1] for k, r in rows.items()}
label = {"reference": f"refclient ({ref_inflight} in flight; one Verification context, release)",
         "discover": "`dicomguard scan --discover` (one Verification context, release)",
         "assess": "`dicomguard scan` (AE matrix, contexts, C-ECHO, C-FIND, release)",
         "nmap": "nmap dicom-ping (one association, 1 byte read, no release)"}
print(f"\nbench/scan: {n} storescp listeners, {rows['reference'][0]} targets, best of {runs}")
print("| | services | best s (own) | services/s | CPU us/service: client, listeners |")
print("|---|---|---|---|---|")
for k, (s, t, c, l, own) in rows.items():
    per = lambda x: f"{x / s * 1e6:.0f}" if s else "-"
    print(f"| {label[k]} | {s} | {t:.3f} ({own:.3f}) | {rate[k]:,.0f} | {per(c)}, {per(l)} |")
for num, den, target in (("discover", "reference", 0.9), ("discover", "nmap", 1.8), ("assess", "nmap", 1.0)):
    r = rate[num] / rate[den]
    print(f"{num} / {den} = {r:.2f} (target >= {target:g}: {'PASS' if r >= target else 'MISS'})")
EOF
cat "$work/inflight"
