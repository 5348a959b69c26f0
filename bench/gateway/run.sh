#!/usr/bin/env bash
# Throughput benchmark for `dicomguard gateway` (issue 13), the DICOM-aware TLS relay, against no relay and
# against stunnel. One corpus of uncompressed multi-frame CT files (explicit VR little endian, BENCH_FILE_MB MiB
# each, together >= BENCH_GB GiB; bench/deid/make_large.py), C-STOREd with DCMTK storescu over ONE association
# (-aet BENCH -aec STORESCP, --max-pdu 131072 on storescu and storescp, the largest DCMTK 3.6.7 takes) in 4 legs:
#   1 direct    storescu -> storescp                                               (plain TCP)
#   2 gateway   storescu +tls -> dicomguard gateway (TLS in, plain out) -> storescp
#   3 stunnel   storescu +tls -> stunnel (server mode) -> storescp                 (plain out)
#   4 gw-tls    storescu +tls -> dicomguard gateway (TLS in, TLS out) -> storescp +tls
# storescp runs with --ignore (it receives every byte and answers every C-STORE, but writes nothing), so the
# disk does not set the pace; the corpus is read once before the runs (page cache warm). TCP_NODELAY=1 is set for
# every DCMTK program (DCMTK leaves Nagle's algorithm on unless that variable is set; with it on, each store's last
# segment waits for a delayed ACK and the direct leg measured 346 MB/s instead of about 1,400), and stunnel is
# given TCP_NODELAY on both its sockets. Each leg is timed BENCH_RUNS times; the ratios use each leg's best run.
# TLS: TLS 1.2, ECDHE-ECDSA with AES-GCM: certificates from `dicomguard ca` (ECDSA P-256: `ca init`, `ca issue
# --name localhost --ip 127.0.0.1 --ae STORESCP` for the servers, BENCH for storescu, GATEWAY for the gateway's
# upstream side), mutual TLS on every TLS hop (the client certificate required and checked against the root).
# DCMTK 3.6.7's +py/+px profiles have no ECDSA suite under TLS 1.2 (they would negotiate TLS 1.3 with an ECDSA
# certificate), so DCMTK runs with +pz (Extended BCP 195: TLS 1.2 only, ECDHE-ECDSA AES-128/256-GCM offered);
# stunnel is pinned to TLS 1.2 and ECDHE-ECDSA-AES128-GCM-SHA256 (the first B.12 suite of
# data/tls_profiles.json); the gateway runs with --profile B.12. The suite each leg negotiated is shown (an
# echoscu -d through the same path before the timed run).
# Each run prints seconds, MB/s, and CPU seconds per GB of the relay process (gateway or stunnel: utime+stime
# from /proc/PID/stat before and after the transfer) and of storescu and storescp; then the ratios
#   gateway (TLS in, plain out) / direct     target >= 0.9  (throughput)
#   gateway / stunnel                        target >= 1.5  (throughput)
# and, informational, stunnel's relay CPU per GB / the gateway's (how much less CPU the gateway spends per GB).
# Every leg must store every file: storescu exits 0 and reports one "Store Response (Success)" per file. A
# verification pass first sends BENCH_VERIFY files through each leg to a storescp that keeps them (+B, bit
# preserving) and checks that each data set arrived byte for byte as it did directly (leg 1).
# When the dicomguard in use has no gateway command (`dicomguard gateway --help` does not show --upstream), legs
# 2 and 4 print "gateway: not built" and legs 1 and 3 still run. Exit status: 0, 1 when a leg lost or changed a
# file, 2 when the setup is wrong. Every listener is on 127.0.0.1; every process started is stopped on exit.
#
# Usage: bench/gateway/run.sh [path/to/dicomguard]      (default: $DICOMGUARD, build/dicomguard)
# Environment:
#   BENCH_GB        corpus size in GiB (default 1; decimals allowed, e.g. 0.2 for a quick run)
#   BENCH_FILE_MB   size of each file, MiB (default 32)
#   BENCH_PDU       maximum PDU size on both sides of every hop (default 131072)
#   BENCH_CORPUS    corpus dir (default ${TMPDIR:-/tmp}/dicomguard-bench-gateway-corpus; reused if complete)
#   BENCH_LEGS      legs to run (default "1 2 3 4")
#   BENCH_VERIFY    files per leg in the verification pass (default 2; 0 skips it)
#   BENCH_RUNS      timed runs per leg (default 3)
#   BENCH_SINK      ignore (default: storescp --ignore, the network path alone) or disk (storescp writes every
#                   object, bit-preserving, to the work folder on disk, as a real archive does; deleted after each run)
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../files/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../files/common.sh"
GW_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

case ${1:-} in -h|--help) sed -n '2,43p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[[ $# -le 1 ]] || die "usage: run.sh [path/to/dicomguard]"

GB=${BENCH_GB:-1}
FILE_MB=${BENCH_FILE_MB:-32}
PDU=${BENCH_PDU:-131072}
CORPUS=${BENCH_CORPUS:-${TMPDIR:-/tmp}/dicomguard-bench-gateway-corpus}
LEGS=" ${BENCH_LEGS:-1 2 3 4} "
VERIFY=${BENCH_VERIFY:-2}
RUNS=${BENCH_RUNS:-3}
SINK=${BENCH_SINK:-ignore}
[[ $SINK == ignore || $SINK == disk ]] || die "BENCH_SINK must be ignore or disk, got '$SINK'"
[[ $RUNS =~ ^[1-9]$ ]] || die "BENCH_RUNS must be 1..9, got '$RUNS'"
export TCP_NODELAY=1  # DCMTK: disable Nagle's algorithm on its sockets (see above)
if ! [[ $GB =~ ^[0-9]+(\.[0-9]+)?$ ]] || ! awk -v g="$GB" 'BEGIN { exit !(g > 0 && g <= 64) }'; then
  die "BENCH_GB must be a number in (0, 64], got '$GB'"
fi
[[ $FILE_MB =~ ^[1-9][0-9]*$ && $FILE_MB -le 1024 ]] || die "BENCH_FILE_MB must be 1..1024, got '$FILE_MB'"
[[ $PDU =~ ^[0-9]+$ && $PDU -ge 4096 && $PDU -le 131072 ]] || die "BENCH_PDU must be 4096..131072 (DCMTK's range)"
[[ $VERIFY =~ ^[0-9]+$ ]] || die "BENCH_VERIFY must be a count, got '$VERIFY'"
for t in storescu storescp echoscu openssl; do command -v "$t" >/dev/null || die "$t missing (scripts/setup-debian.sh)"; done
[[ $LEGS != *" 3 "* ]] || command -v stunnel >/dev/null || die "stunnel missing (apt-get install stunnel4), or leave leg 3 out"
"$PY" -c 'import pydicom' 2>/dev/null || die "$PY cannot import pydicom (install python3-pydicom)"
BIN=$(resolve_bin "${1:-}")
"$BIN" ca --help >/dev/null 2>&1 || die "$BIN has no ca command (needed for the certificates)"
GATEWAY=1
if ! "$BIN" gateway --help 2>&1 | grep -q -- '--upstream'; then
  GATEWAY=0
  echo "gateway: not built ($BIN has no gateway command): legs 2 and 4 are skipped"
fi
CLK_TCK=$(getconf CLK_TCK)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dicomguard-bench-gateway.XXXXXX")
PIDS=()
PARTIAL=""
stop_pid() {  # stop_pid PID: SIGTERM, up to 5 s, then SIGKILL; reaps it
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local p
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  rm -rf -- "$WORK"
  [[ -z $PARTIAL ]] || rm -rf -- "$PARTIAL"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_bg LOG CMD... -> sets BG_PID
start_bg() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  BG_PID=$!
  PIDS+=("$BG_PID")
}
# free_port: a port nothing listens on now (the kernel's pick on 127.0.0.1)
free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
# wait_port PORT PID LOG: until 127.0.0.1:PORT accepts a TCP connection (10 s), while PID lives
wait_port() {
  local port=$1 pid=$2 log=$3 i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2; die "process $pid exited before listening on $port"; }
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  tail -n 20 "$log" >&2
  die "nothing listens on 127.0.0.1:$port after 10 s"
}
# cpu_ticks PID: utime + stime of the whole process (all its threads), in clock ticks
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

# ---------------------------------------------------------------- corpus
NFILES=$(awk -v g="$GB" -v m="$FILE_MB" 'BEGIN { n = g * 1024 / m; print (n == int(n) ? n : int(n) + 1) }')
stamp="files=$NFILES file_mb=$FILE_MB"
if [[ -f $CORPUS/.bench-gateway && $(cat "$CORPUS/.bench-gateway") == "$stamp" ]]; then
  echo "corpus: reusing $CORPUS"
else
  if [[ -e $CORPUS ]]; then
    [[ -f $CORPUS/.bench-gateway ]] || die "$CORPUS exists and is not a gateway benchmark corpus; set BENCH_CORPUS"
    echo "corpus: $CORPUS was made with other settings, rebuilding"
    rm -rf -- "$CORPUS"
  fi
  PARTIAL="$CORPUS.partial.$$"
  mkdir -p "$PARTIAL"
  echo "corpus: writing $NFILES multi-frame CT files of $FILE_MB MiB (explicit VR little endian, uncompressed)"
  for ((i = 0; i < NFILES; i++)); do
    "$PY" "$GW_DIR/../deid/make_large.py" "$PARTIAL/$(printf 'ct_%04d.dcm' "$i")" "$FILE_MB" "$((1000 + i))"
  done
  echo "$stamp" >"$PARTIAL/.bench-gateway"
  mv -T "$PARTIAL" "$CORPUS"
  PARTIAL=""
fi
mapfile -t FILES < <(find "$CORPUS" -name 'ct_*.dcm' -type f | sort)
[[ ${#FILES[@]} -eq $NFILES ]] || die "corpus $CORPUS holds ${#FILES[@]} files, expected $NFILES"
BYTES=$(cat "${FILES[@]}" | wc -c)  # also the warm-up read
echo "corpus: ${#FILES[@]} files, $(awk -v b="$BYTES" 'BEGIN { printf "%.1f", b / 1048576 }') MiB (page cache warm)"

# ---------------------------------------------------------------- certificates
CA=$WORK/ca
"$BIN" ca init "$CA" --key ec --name bench >/dev/null
"$BIN" ca issue "$CA" --name localhost --ip 127.0.0.1 --ae STORESCP --key ec >/dev/null
"$BIN" ca issue "$CA" --name bench-scu --ae BENCH --key ec >/dev/null
"$BIN" ca issue "$CA" --name bench-gateway --ae GATEWAY --key ec >/dev/null
ROOT=$CA/ca.crt
SRV_KEY=$CA/issued/localhost.key SRV_CRT=$CA/issued/localhost.crt
SCU_KEY=$CA/issued/bench-scu.key SCU_CRT=$CA/issued/bench-scu.crt
GWC_KEY=$CA/issued/bench-gateway.key GWC_CRT=$CA/issued/bench-gateway.crt
DCMTK_TLS_SCU=(+tls "$SCU_KEY" "$SCU_CRT" +cf "$ROOT" +pz -rc)
DCMTK_TLS_SCP=(+tls "$SRV_KEY" "$SRV_CRT" +cf "$ROOT" +pz -rc)
STUNNEL_SUITE=ECDHE-ECDSA-AES128-GCM-SHA256

# ---------------------------------------------------------------- one leg
LEG_NAME=([1]=direct [2]=gateway [3]=stunnel [4]=gw-tls)
LEG_PATH=([1]="storescu -> storescp (plain)"
  [2]="storescu +tls -> gateway (TLS in, plain out) -> storescp"
  [3]="storescu +tls -> stunnel -> storescp (plain)"
  [4]="storescu +tls -> gateway (TLS in, TLS out) -> storescp +tls")
RESULTS=$WORK/results
: >"$RESULTS"
FAILED=0

# run_leg N MODE [RUN]: MODE bench (every file, storescp --ignore) or verify (the first $VERIFY files, kept by storescp)
run_leg() {
  local leg=$1 mode=$2 run=${3:-1} files sp rp target relay="" spid log
  if [[ $mode == bench ]]; then files=("${FILES[@]}"); else files=("${FILES[@]:0:$VERIFY}"); fi
  local d=$WORK/leg$leg-$mode$run
  mkdir -p "$d/recv"
  sp=$(free_port)
  local scp_args=(-aet STORESCP --max-pdu "$PDU")
  [[ $leg != 4 ]] || scp_args+=("${DCMTK_TLS_SCP[@]}")
  if [[ $mode == bench && $SINK == ignore ]]; then scp_args+=(--ignore); else scp_args+=(+B -od "$d/recv"); fi
  start_bg "$d/storescp.log" storescp "${scp_args[@]}" "$sp"
  spid=$BG_PID
  wait_port "$sp" "$spid" "$d/storescp.log"
  target=$sp
  if [[ $leg != 1 ]]; then
    rp=$(free_port)
    log=$d/relay.log
    case $leg in
      2 | 4)
        local gw=("$BIN" gateway --listen "127.0.0.1:$rp" --tls-cert "$SRV_CRT" --tls-key "$SRV_KEY" --tls-ca "$ROOT"
          --require-client-cert --profile B.12 --upstream "127.0.0.1:$sp" --called-ae STORESCP --allow-calling BENCH)
        [[ $leg != 4 ]] || gw+=(--upstream-tls --upstream-ca "$ROOT" --upstream-cert "$GWC_CRT" --upstream-key "$GWC_KEY")
        start_bg "$log" "${gw[@]}"
        ;;
      3)
        cat >"$d/stunnel.conf" <<EOF
foreground = yes
pid =
output = $d/stunnel.out
debug = info
[dicom]
accept = 127.0.0.1:$rp
connect = 127.0.0.1:$sp
cert = $SRV_CRT
key = $SRV_KEY
CAfile = $ROOT
requireCert = yes
verifyChain = yes
sslVersionMin = TLSv1.2
sslVersionMax = TLSv1.2
ciphers = $STUNNEL_SUITE
socket = l:TCP_NODELAY=1
socket = r:TCP_NODELAY=1
EOF
        start_bg "$log" stunnel "$d/stunnel.conf"
        ;;
    esac
    relay=$BG_PID
    wait_port "$rp" "$relay" "$log"
    target=$rp
  fi
  local tls=()
  [[ $leg == 1 ]] || tls=("${DCMTK_TLS_SCU[@]}")
  # What a DCMTK client with storescu's TLS settings negotiates on this path (and that the path works at all).
  local suite="plain"
  if ! echoscu -d -aet BENCH -aec STORESCP "${tls[@]}" 127.0.0.1 "$target" >"$d/echo.log" 2>&1; then
    echo "  leg $leg: C-ECHO through ${LEG_PATH[$leg]} failed:" >&2
    grep -E '^[EF]:' "$d/echo.log" | tail -n 5 >&2
    FAILED=1
  fi
  [[ $leg == 1 ]] || suite=$(awk '/Protocol +:/ { p = $NF } /Ciphersuite :/ { c = $4 } END { print p " " c }' "$d/echo.log" | tr -d ,)
  local r0 s0 t0 t1 r1 s1 rc
  r0=$([[ -z $relay ]] || cpu_ticks "$relay")
  s0=$(cpu_ticks "$spid")
  t0=$(now)
  set +e
  # In the background and waited for, so that a signal reaches the trap at once (and cleanup stops it too).
  /usr/bin/time -f '%U %S' -o "$d/scu.time" storescu -v -aet BENCH -aec STORESCP --max-pdu "$PDU" "${tls[@]}" \
    127.0.0.1 "$target" "${files[@]}" >"$d/storescu.log" 2>&1 &
  local scu=$!
  PIDS+=("$scu")
  wait "$scu"
  rc=$?
  set -e
  t1=$(now)
  r1=$([[ -z $relay ]] || cpu_ticks "$relay")
  s1=$(cpu_ticks "$spid")
  [[ -z $relay ]] || stop_pid "$relay"
  stop_pid "$spid"
  local ok sent pdv
  ok=$(grep -c 'Received Store Response (Success)' "$d/storescu.log" || true)
  pdv=$(sed -n 's/.*Association Accepted (Max Send PDV: \([0-9]*\)).*/\1/p' "$d/storescu.log" | head -n 1)
  sent=$(cat "${files[@]}" | wc -c)
  if [[ $rc -ne 0 || $ok -ne ${#files[@]} ]]; then
    echo "  leg $leg ($mode): storescu exit $rc, $ok of ${#files[@]} stores succeeded:" >&2
    grep -E '^[EFW]:' "$d/storescu.log" | tail -n 5 >&2
    [[ -z $relay ]] || tail -n 5 "$log" >&2
    FAILED=1
  fi
  if [[ $mode == verify ]]; then
    local n
    n=$(find "$d/recv" -type f | wc -l)
    [[ $n -eq ${#files[@]} ]] || { echo "  leg $leg (verify): storescp kept $n of ${#files[@]} files" >&2; FAILED=1; }
    printf '  verify leg %d %-8s %d/%d stored, max send PDV %s, %s\n' "$leg" "${LEG_NAME[$leg]}" "$ok" "${#files[@]}" \
      "${pdv:-?}" "$suite"
    return 0
  fi
  [[ $SINK != disk ]] || rm -rf -- "$d/recv"
  local secs
  secs=$(elapsed "$t0" "$t1")
  local scu_cpu
  scu_cpu=$(awk '{ print $1 + $2 }' "$d/scu.time")
  echo "$leg ${LEG_NAME[$leg]} $run $sent $secs ${r0:-x} ${r1:-x} $s0 $s1 $scu_cpu $rc $ok ${#files[@]} $suite" >>"$RESULTS"
  printf '  leg %d %-8s run %d  exit %d  %d/%d stored  %8.3f s  (max send PDV %s, %s)\n' "$leg" "${LEG_NAME[$leg]}" "$run" "$rc" "$ok" \
    "${#files[@]}" "$secs" "${pdv:-?}" "$suite"
}

legs=()
for l in 1 2 3 4; do
  [[ $LEGS == *" $l "* ]] || continue
  if [[ $l == 2 || $l == 4 ]] && [[ $GATEWAY == 0 ]]; then
    echo "  leg $l ${LEG_NAME[$l]}: gateway: not built"
    continue
  fi
  legs+=("$l")
done

# ---------------------------------------------------------------- verification pass
if [[ $VERIFY -gt 0 ]]; then
  echo "verification: $VERIFY files through each leg, kept by storescp +B, compared with what arrived directly"
  [[ ${#FILES[@]} -ge $VERIFY ]] || VERIFY=${#FILES[@]}
  run_leg 1 verify 1
  for l in "${legs[@]}"; do
    [[ $l == 1 ]] && continue
    run_leg "$l" verify 1
    # Each received file's data set (everything after the File Meta group, which names the sender) must equal leg 1's.
    if ! "$PY" - "$WORK/leg1-verify1/recv" "$WORK/leg$l-verify1/recv" <<'EOF'
import hashlib, os, struct, sys
def body(p):
    with open(p, "rb") as f:
        head = f.read(144)
        if head[128:132] != b"DICM" or head[132:136] != b"\x02\x00\x00\x00":
            raise SystemExit(f"{p}: no File Meta group length")
        f.seek(144 + struct.unpack("<I", head[140:144])[0])
        h = hashlib.sha256()
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
        return h.hexdigest()
ref, got = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(ref))
bad = [n for n in names if not os.path.exists(os.path.join(got, n)) or body(os.path.join(ref, n)) != body(os.path.join(got, n))]
if bad or sorted(os.listdir(got)) != names:
    print(f"    differs from the direct leg: {bad or sorted(set(os.listdir(got)) ^ set(names))}")
    sys.exit(1)
EOF
    then
      echo "  leg $l: a data set arrived changed" >&2
      FAILED=1
    fi
  done
  rm -rf -- "$WORK"/leg*-verify1/recv
fi

# ---------------------------------------------------------------- timed runs
echo "timing: ${#FILES[@]} files, one association per run, max PDU $PDU, storescp $([[ $SINK == ignore ]] && echo --ignore || echo 'writing to disk (+B)'), $RUNS runs per leg"
for ((r = 1; r <= RUNS; r++)); do
  for l in "${legs[@]}"; do run_leg "$l" bench "$r"; done
done

# ---------------------------------------------------------------- report
echo
echo "machine: $(nproc) CPUs, $(uname -sr), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
# shellcheck disable=SC2016  # a literal $ in the sed pattern
echo "versions: $(storescu --version 2>&1 | sed -n 's/^\$dcmtk: \(storescu v[^ ]*\).*/DCMTK \1/p' | head -n 1), \
$(stunnel -version 2>&1 | sed -n 's/^\(stunnel [0-9.]*\).*/\1/p' | head -n 1), $(openssl version | cut -d' ' -f1-2)"
echo "corpus: $CORPUS ($stamp); MB = 2^20 bytes, GB = 2^30 bytes; CPU = utime + stime"
echo
printf '%-5s %-9s %3s %9s %9s %9s %14s %16s %16s  %s\n' leg path run MB seconds MB/s "relay CPU s/GB" "storescp CPU s/GB" \
  "storescu CPU s/GB" "TLS on storescu's hop (echoscu -d)"
sort -k1,1n -k3,3n "$RESULTS" | awk -v tck="$CLK_TCK" '{ mb = $4 / 1048576; gb = $4 / 1073741824; ms = ($5 > 0 ? mb / $5 : 0)
  relay = ($6 == "x" ? "-" : sprintf("%.2f", ($7 - $6) / tck / gb)); scp = ($9 - $8) / tck / gb; scu = $10 / gb
  suite = $14; for (i = 15; i <= NF; i++) suite = suite " " $i
  printf "%-5s %-9s %3d %9.1f %9.3f %9.1f %14s %16.2f %16.2f  %s\n", $1, $2, $3, mb, $5, ms, relay, scp, scu, suite }'
echo

# best (shortest) run of a leg: seconds, and that run's relay CPU seconds per GB
secs_of() { awk -v n="$1" '$2 == n && (best == "" || $5 < best) { best = $5 } END { print best }' "$RESULTS"; }
relay_cpu_of() { awk -v n="$1" -v tck="$CLK_TCK" '$2 == n && $6 != "x" { c = ($7 - $6) / tck / ($4 / 1073741824)
  if (best == "" || c < best) best = c } END { print best }' "$RESULTS"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "n/a" }'; }  # throughput a/b = time b/a
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t ? "PASS" : "MISS") }'; }
report_ratio() {  # report_ratio LABEL LEG_A LEG_B TARGET
  local a b r
  a=$(secs_of "$2")
  b=$(secs_of "$3")
  if [[ -z $a || -z $b ]]; then
    printf '%-34s n/a (%s)\n' "$1" "$([[ $GATEWAY == 0 ]] && echo "gateway: not built" || echo "leg not run")"
    return
  fi
  r=$(ratio "$a" "$b")
  printf '%-34s %6sx   target >= %sx   %s\n' "$1" "$r" "$4" "$(verdict "$r" "$4")"
}
report_ratio "gateway (TLS in, plain out) / direct" gateway direct 0.9
report_ratio "gateway / stunnel" gateway stunnel 1.5
a=$(secs_of stunnel) b=$(secs_of direct)
[[ -z $a || -z $b ]] || printf '%-34s %6sx   (no target)\n' "stunnel / direct" "$(ratio "$a" "$b")"
a=$(secs_of gw-tls) b=$(secs_of direct)
[[ -z $a || -z $b ]] || printf '%-34s %6sx   (no target)\n' "gateway TLS-in-TLS-out / direct" "$(ratio "$a" "$b")"
a=$(relay_cpu_of gateway) b=$(relay_cpu_of stunnel)
[[ -z $a || -z $b ]] ||
  printf '%-34s %6sx   (no target: stunnel CPU s/GB / gateway CPU s/GB, best runs)\n' "gateway / stunnel, relay CPU" \
    "$(ratio "$a" "$b")"
echo "(ratios are of throughput, i.e. inverse time on the same corpus, best of $RUNS runs; targets are informational)"
[[ $FAILED -eq 0 ]] || { echo "FAILED: a leg did not store every file unchanged (see above)" >&2; exit 1; }
