#!/usr/bin/env bash
# Throughput benchmark for `dicomguard deid` (issue 12) against the de-identifiers people use.
#
# Corpus: BENCH_COPIES copies of pydicom's test files (small, many files, mixed transfer syntaxes, some
# non-DICOM) plus BENCH_LARGE multi-frame CT instances of BENCH_LARGE_MB MiB each (make_large.py). One run
# of each tool, each into its own fresh output folder, page cache warm, on the small set and on the large set:
#   dicomguard   dicomguard deid SET -o OUT --key-file KEY -jJOBS               (basic profile)
#   gdcmanon     gdcmanon -e -c CERT -i FILE -o OUT/FILE, once per file (gdcmanon_each.sh: GDCM stops a
#                directory run at the first file it cannot de-identify). -e is GDCM's PS3.15 E.1.1 basic
#                profile: it needs a certificate, made here with openssl, and also encrypts the original
#                values into the Encrypted Attributes Sequence. --dumb is not used: it applies only the tag
#                operations given on its command line, no profile)
#   pydicom      bench/deid/pydicom_deid.py SET OUT KEY                           (Table E.1-1 basic actions)
#   PixelMed     java com.pixelmed.apps.DeidentifyAndRedact SET OUT EMPTY-REDACTION-FILE   (its defaults)
#   cp -r        cp -r SET OUT                                                   (the floor: read + write)
# Reports files/s, MB/s (input bytes / wall time), peak RSS (GNU time %M), and dicomguard's ratios to each.
# Targets (informational; the exit status is 0 unless the setup is wrong (2) or a run fails (1)):
#   >= 20x pydicom, >= 3x gdcmanon, >= 0.5x cp -r on the large files, peak RSS < 64 MB on a 2 GB file.
# When the dicomguard in use has no deid command yet, the script says so and still times the peers.
#
# Usage: bench/deid/run.sh [path/to/dicomguard]      (default: $DICOMGUARD, build/dicomguard)
# Environment:
#   BENCH_CORPUS    corpus dir (default ${TMPDIR:-/tmp}/dicomguard-bench-deid-corpus; reused if complete)
#   BENCH_COPIES    copies of the pydicom test files (default 40)
#   BENCH_LARGE     number of large multi-frame files (default 3)
#   BENCH_LARGE_MB  size of each, MiB (default 200)
#   BENCH_JOBS      dicomguard -j value (default 2)
#   BENCH_2GB       1: also a 2 GiB file, dicomguard only, for the peak RSS target (needs ~4.5 GB of disk)
#   BENCH_SKIP      space-separated tools to leave out (dicomguard gdcmanon pydicom pixelmed cp)
#   BENCH_SOURCE    source files (default Debian's pydicom test_files)
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../files/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../files/common.sh"
DEID_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

case ${1:-} in -h|--help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[[ $# -le 1 ]] || die "usage: run.sh [path/to/dicomguard]"

SRC=${BENCH_SOURCE:-/usr/lib/python3/dist-packages/pydicom/data/test_files}
CORPUS=${BENCH_CORPUS:-${TMPDIR:-/tmp}/dicomguard-bench-deid-corpus}
COPIES=${BENCH_COPIES:-40}
LARGE=${BENCH_LARGE:-3}
LARGE_MB=${BENCH_LARGE_MB:-200}
JOBS=${BENCH_JOBS:-2}
SKIP=" ${BENCH_SKIP:-} "

[[ $COPIES =~ ^[1-9][0-9]?$ ]] || die "BENCH_COPIES must be 1..99, got '$COPIES'"
[[ $LARGE =~ ^[0-9]$ ]] || die "BENCH_LARGE must be 0..9, got '$LARGE'"
[[ $LARGE_MB =~ ^[1-9][0-9]*$ ]] || die "BENCH_LARGE_MB must be a positive integer, got '$LARGE_MB'"
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "BENCH_JOBS must be a positive integer, got '$JOBS'"
[[ -d $SRC ]] || die "no test files at $SRC (install python3-pydicom: scripts/setup-debian.sh)"
"$PY" -c 'import pydicom' 2>/dev/null || die "$PY cannot import pydicom (install python3-pydicom)"
[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time) missing: scripts/setup-debian.sh installs 'time'"

# dicomguard: present and with a deid command? (CLI11 prints the top-level help for an unknown subcommand.)
BIN=""
DG_NOTE=""
if [[ $SKIP != *" dicomguard "* ]]; then
  if BIN=$(resolve_bin "${1:-}" 2>/dev/null); then
    if ! "$BIN" deid --help 2>&1 | grep -q -- '--key-file'; then
      DG_NOTE="dicomguard deid: not available in $BIN (issue 12 not merged in this build); timing the peers only"
      BIN=""
    fi
  else
    DG_NOTE="dicomguard deid: no dicomguard binary (build it, or pass its path); timing the peers only"
    BIN=""
  fi
fi
[[ -z $DG_NOTE ]] || echo "$DG_NOTE"
have() { [[ $SKIP != *" $1 "* ]] && command -v "$2" >/dev/null; }
PIXELMED_JAR=/usr/share/java/pixelmed.jar

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dicomguard-bench-deid.XXXXXX")
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
sum_bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d", s }'; }
src_files=$(count_files "$SRC")
stamp="copies=$COPIES large=$LARGE large_mb=$LARGE_MB src_files=$src_files"

if [[ -f $CORPUS/.bench-deid && $(cat "$CORPUS/.bench-deid") == "$stamp" ]]; then
  echo "corpus: reusing $CORPUS"
else
  if [[ -e $CORPUS ]]; then
    [[ -f $CORPUS/.bench-deid ]] || die "$CORPUS exists and is not a deid benchmark corpus; set BENCH_CORPUS"
    echo "corpus: $CORPUS was made with other settings, rebuilding"
    rm -rf -- "$CORPUS"
  fi
  PARTIAL="$CORPUS.partial.$$"
  mkdir -p "$PARTIAL/small/copy_00" "$PARTIAL/large"
  echo "corpus: copying $src_files files from $SRC $COPIES times"
  (cd "$SRC" && find . -type f -print0 | xargs -0 -r cp --parents -t "$PARTIAL/small/copy_00")
  for ((i = 1; i < COPIES; i++)); do
    cp -R "$PARTIAL/small/copy_00" "$PARTIAL/small/$(printf 'copy_%02d' "$i")"
  done
  for ((i = 0; i < LARGE; i++)); do
    echo "corpus: writing large/mf_$i.dcm ($LARGE_MB MiB)"
    "$PY" "$DEID_DIR/make_large.py" "$PARTIAL/large/mf_$i.dcm" "$LARGE_MB" "$i"
  done
  echo "$stamp" >"$PARTIAL/.bench-deid"
  mv -T "$PARTIAL" "$CORPUS"
  PARTIAL=""
fi

# ---------------------------------------------------------------- keys and peers' setup
head -c 32 /dev/urandom >"$WORK/key"
chmod 600 "$WORK/key"
[[ -z $BIN ]] || "$BIN" deid --new-key "$WORK/dgkey" >/dev/null
: >"$WORK/empty.redact"
if have gdcmanon gdcmanon; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/gdcm.key" -out "$WORK/gdcm.pem" -days 2 \
    -subj "/CN=dicomguard-bench" 2>/dev/null || die "openssl could not make gdcmanon's certificate"
fi

# ---------------------------------------------------------------- timing
# measure NAME SET CMD... (OUT in the command is $OUT) -> appends "set name files bytes seconds rss_kb outs"
RESULTS="$WORK/results"
: >"$RESULTS"
measure() {
  local name=$1 set=$2 rc
  shift 2
  OUT="$WORK/out"
  rm -rf -- "$OUT"
  local argv=()
  for a in "$@"; do argv+=("${a//@OUT@/$OUT}"); done
  set +e
  [[ $name != pixelmed ]] || mkdir -p "$OUT"  # PixelMed writes only into an existing folder
  local t0 t1
  t0=$(now)
  /usr/bin/time -f '%M' -o "$WORK/time" "${argv[@]}" >"$WORK/stdout" 2>"$WORK/stderr"
  rc=$?
  t1=$(now)
  set -e
  local secs rss outs
  secs=$(elapsed "$t0" "$t1")
  rss=$(tail -n 1 "$WORK/time")
  outs=$( [[ -d $OUT ]] && count_files "$OUT" || echo 0)
  printf '  %-10s %-6s exit %3d  %9.3f s  %8d KB peak RSS  %6d outputs\n' "$name" "$set" "$rc" "$secs" "$rss" "$outs"
  if [[ $rc -gt 1 && $name != pixelmed && $name != gdcmanon ]]; then
    echo "$name failed (exit $rc): ${argv[*]}" >&2
    tail -n 20 "$WORK/stderr" >&2
    exit 1
  fi
  [[ $rc -eq 0 ]] || echo "    ($name exit $rc: $(grep -v '^\s*$' "$WORK/stderr" | tail -n 1 | cut -c1-150))"
  [[ ! -s $WORK/stdout || $name == dicomguard ]] || echo "    ($name: $(tail -n 1 "$WORK/stdout" | cut -c1-150))"
  if [[ $name == pixelmed ]]; then
    # Its output is flat, named by the new SOP Instance UID: copies of one instance overwrite each other.
    echo "    (pixelmed: $(grep -c 'Deidentified and Redacted' "$WORK/stderr" || true) files de-identified," \
      "$(grep -c 'failed to deidentify\|Exception' "$WORK/stderr" || true) failure lines; outputs overwrite by UID)"
  fi
  echo "$set $name $(count_files "$CORPUS/$set") $(sum_bytes "$CORPUS/$set") $secs $rss $outs" >>"$RESULTS"
  rm -rf -- "$OUT"
}

echo "warm-up: reading every corpus file once"
find "$CORPUS" -type f -print0 | xargs -0 -r cat >/dev/null

sets=(small)
[[ $LARGE -eq 0 ]] || sets+=(large)
for s in "${sets[@]}"; do
  echo "timing: $s set ($(count_files "$CORPUS/$s") files)"
  [[ -z $BIN ]] || measure dicomguard "$s" "$BIN" deid "$CORPUS/$s" -o @OUT@ --key-file "$WORK/dgkey" "-j$JOBS"
  ! have gdcmanon gdcmanon || measure gdcmanon "$s" bash "$DEID_DIR/gdcmanon_each.sh" "$CORPUS/$s" @OUT@ "$WORK/gdcm.pem"
  [[ $SKIP == *" pydicom "* ]] || measure pydicom "$s" "$PY" "$DEID_DIR/pydicom_deid.py" "$CORPUS/$s" @OUT@ "$WORK/key"
  if have pixelmed java && [[ -f $PIXELMED_JAR ]]; then
    measure pixelmed "$s" java -Djava.awt.headless=true -cp "$PIXELMED_JAR" com.pixelmed.apps.DeidentifyAndRedact \
      "$CORPUS/$s" @OUT@ "$WORK/empty.redact"
  fi
  [[ $SKIP == *" cp "* ]] || measure cp "$s" cp -r "$CORPUS/$s" @OUT@
done

if [[ ${BENCH_2GB:-0} == 1 ]]; then
  if [[ -z $BIN ]]; then
    echo "2 GB case: skipped (no dicomguard deid)"
  else
    mkdir -p "$WORK/huge"
    echo "2 GB case: writing a 2048 MiB file"
    "$PY" "$DEID_DIR/make_large.py" "$WORK/huge/mf_2g.dcm" 2048 9
    measure dicomguard huge "$BIN" deid "$WORK/huge" -o @OUT@ --key-file "$WORK/dgkey" -j1
    CORPUS_HUGE=1
  fi
fi

# ---------------------------------------------------------------- report
echo
echo "machine: $(nproc) CPUs, $(uname -sr), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "corpus:  $CORPUS ($stamp)"
echo "versions: pydicom $("$PY" -c 'import pydicom; print(pydicom.__version__)'), \
gdcm $(gdcmanon --version 2>/dev/null | sed -n 's/.*gdcm \([0-9.]*\).*/\1/p' | head -n 1), \
pixelmed $(dpkg-query -W -f='${Version}' pixelmed-apps 2>/dev/null || echo '?')"
[[ -z $DG_NOTE ]] || echo "$DG_NOTE"
echo
printf '%-6s %-12s %7s %10s %10s %10s %10s %12s %8s\n' set tool files MB seconds files/s MB/s "peak RSS MB" outputs
awk '{ $2 = ($2 == "cp" ? "cp-r" : $2); mb = $4 / 1048576; fs = ($5 > 0 ? $3 / $5 : 0); ms = ($5 > 0 ? mb / $5 : 0);
       printf "%-6s %-12s %7d %10.1f %10.3f %10.1f %10.1f %12.1f %8d\n", $1, $2, $3, mb, $5, fs, ms, $6 / 1024, $7 }' \
  "$RESULTS"
echo

secs_of() { awk -v s="$1" -v n="$2" '$1 == s && $2 == n { print $5 }' "$RESULTS"; }
rss_of() { awk -v s="$1" -v n="$2" '$1 == s && $2 == n { print $6 }' "$RESULTS"; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t ? "PASS" : "MISS") }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
if [[ -n $BIN ]]; then
  for s in "${sets[@]}"; do
    dg=$(secs_of "$s" dicomguard)
    for peer in pydicom gdcmanon pixelmed cp; do
      t=$(secs_of "$s" "$peer")
      [[ -n $t ]] || continue
      r=$(ratio "$t" "$dg")  # throughput ratio = inverse time ratio on the same set
      case $peer in
        pydicom) target=20 ;;
        gdcmanon) target=3 ;;
        cp) target=$([[ $s == large ]] && echo 0.5 || echo "") ;;
        *) target="" ;;
      esac
      if [[ -n $target ]]; then
        printf '%-6s dicomguard / %-9s %8sx   target >= %sx   %s\n' "$s" "$peer" "$r" "$target" "$(verdict "$r" "$target")"
      else
        printf '%-6s dicomguard / %-9s %8sx   (no target)\n' "$s" "$peer" "$r"
      fi
    done
  done
  if [[ -n ${CORPUS_HUGE:-} ]]; then
    rss=$(rss_of huge dicomguard)
    printf 'huge   dicomguard peak RSS on a 2 GiB file: %.1f MB   target < 64 MB   %s\n' "$(awk -v r="$rss" 'BEGIN { print r / 1024 }')" \
      "$(awk -v r="$rss" 'BEGIN { print (r / 1024 < 64 ? "PASS" : "MISS") }')"
  fi
  echo "(ratios are of throughput on the same set; targets are informational)"
else
  echo "no ratios: dicomguard deid was not timed (see above)"
  for s in "${sets[@]}"; do
    cpt=$(secs_of "$s" cp)
    for peer in pydicom gdcmanon pixelmed; do
      t=$(secs_of "$s" "$peer")
      [[ -n $t && -n $cpt ]] || continue
      printf '%-6s %-9s takes %8sx the time of cp -r\n' "$s" "$peer" "$(ratio "$t" "$cpt")"
    done
  done
fi
