#!/usr/bin/env bash
# Installs every Debian package dicomguard needs to build, test, fuzz and benchmark.
# Idempotent: calls apt-get only when a package is missing. Debian 12 (bookworm) or later.
# Usage: scripts/setup-debian.sh            (as root, or with sudo available)
set -euo pipefail

packages=(
  # toolchain
  build-essential g++ clang libclang-rt-14-dev cmake ninja-build make pkg-config git ca-certificates
  # libraries
  libssl-dev zlib1g-dev nlohmann-json3-dev libcli11-dev libfmt-dev libasio-dev libtomlplusplus-dev
  # the allocator the dicomguard binary links (CMakeLists.txt, DG_JEMALLOC)
  libjemalloc-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  # real peers used by tests and benchmarks
  dcmtk dicom3tools python3 python3-pydicom orthanc orthanc-dicomweb nmap openssl sslscan testssl.sh
  # DICOM implementations other than DCMTK for the scan tests: CTN, PixelMed (Java), odil
  ctn pixelmed-apps python3-odil
  # de-identification peers (bench/deid, tests/integration/test_deid.py): GDCM's gdcmanon; PixelMed needs a JRE
  libgdcm-tools default-jre-headless
  # the report: headless Chromium prints and screenshots it; poppler-utils reads the PDF back
  chromium poppler-utils
  # the audit trail's collector and schema check (tests/integration/test_audit.py): rsyslogd over TLS, jing for RELAX NG
  rsyslog rsyslog-openssl jing
  # audit listen's XML parser and RELAX NG validation (libxml2); weblog's real web server; the clock tests' NTP server
  libxml2-dev nginx chrony
  # installing: man pages (help2man, man-db), the completions' tests (zsh, bash-completion), the Debian package
  # (dpkg-dev's dpkg-shlibdeps computes its Depends) and make deb-test's fresh Debian (debootstrap)
  help2man man-db zsh bash-completion dpkg-dev debootstrap
  # tools used by tests (kill -9 test, process inspection)
  procps coreutils util-linux time
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 2; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only if they are absent or older than a day.
if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]]; then
  $SUDO apt-get update -qq
fi
# These packages are test peers: the tests start nginx, chronyd, rsyslogd and Orthanc themselves, on loopback,
# with their own configurations. Keep apt from starting them as system services (chronyd would otherwise reach
# out to the public NTP pool): a policy-rc.d that refuses every start, only for this install and only if the
# machine has none of its own.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee $policy >/dev/null && $SUDO chmod 755 $policy && made_policy=1
fi
status=0
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" || status=$?
[[ $made_policy == 1 ]] && $SUDO rm -f $policy
[[ $status == 0 ]] || { echo "setup: apt-get install failed ($status)" >&2; exit $status; }
echo "setup: done"
