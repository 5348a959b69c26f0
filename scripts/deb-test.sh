#!/usr/bin/env bash
# Proves the Debian package installs and runs on a machine that has nothing of the build: a fresh minimal
# Debian 12 (debootstrap --variant=minbase bookworm) in a temporary folder, `apt-get install ./dicomguard_*.deb`
# inside it (apt brings the Depends that dpkg-shlibdeps computed, so a missing one fails here), then
# `dicomguard --version`, the man page, and `dicomguard demo` (lab, scan, TLS, gateway, report) inside it.
# Downloads the base system and the Depends from the Debian mirror of this machine's apt sources: not part of
# `make test`. The base system's packages are kept in BUILD/deb-test/ so that re-runs download only the Depends.
# Usage: scripts/deb-test.sh [BUILD]     (as root; make deb first; `make deb-test` does both)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
deb=$(ls -t "$build"/dicomguard_*.deb 2>/dev/null | head -1 || true)
[[ -n $deb ]] || { echo "deb-test: no $build/dicomguard_*.deb (run make deb)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "deb-test: needs root (debootstrap, chroot, mount)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "deb-test: needs debootstrap (scripts/setup-debian.sh)" >&2; exit 2; }

# The mirror this machine's apt uses for bookworm (debootstrap's default if none is found).
mirror=$(awk '/^URIs:/ {u=$2} /^Suites:.*bookworm/ && u {print u; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[[ -n $mirror ]] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)

cache=$build/deb-test
tarball=$cache/bookworm-minbase.tgz
root=$(mktemp -d /tmp/dicomguard-deb-test.XXXXXX)
cleanup() {
  local rc=$?
  # ours (/proc) and any that an interrupted debootstrap left, deepest first
  local m
  for m in $(awk -v r="$root/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" || true; done
  rm -rf --one-file-system "$root"
  if [[ $rc -eq 0 ]]; then echo "deb-test: PASS"; else echo "deb-test: FAIL ($rc)" >&2; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t0=$SECONDS
step() { echo "deb-test: [$((SECONDS - t0)) s] $*"; }

mkdir -p "$cache"
if [[ ! -s $tarball ]]; then
  step "downloading the bookworm minbase packages into $tarball (${mirror:-debootstrap default})"
  debootstrap --variant=minbase --make-tarball="$tarball.part" bookworm "$root" $mirror >"$cache/make-tarball.log" 2>&1 \
    || { tail -20 "$cache/make-tarball.log" >&2; exit 1; }
  mv "$tarball.part" "$tarball"
  rm -rf --one-file-system "$root" && mkdir -p "$root"
fi
step "debootstrap --variant=minbase bookworm $root (from the cached packages)"
debootstrap --variant=minbase --unpack-tarball="$tarball" bookworm "$root" $mirror >"$cache/debootstrap.log" 2>&1 \
  || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
mount -t proc proc "$root/proc"
cp /etc/resolv.conf "$root/etc/resolv.conf"
if [[ -n $mirror ]]; then
  security=$(awk '/^URIs:/ {u=$2} /^Suites:.*bookworm-security/ && u {print u; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  { echo "deb $mirror bookworm main"; echo "deb $mirror bookworm-updates main"
    [[ -n $security ]] && echo "deb $security bookworm-security main"; } >"$root/etc/apt/sources.list"
fi
cp "$deb" "$root/tmp/"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive "$@"; }

step "apt-get install ./$(basename "$deb") ($(du -h "$deb" | cut -f1))"
dpkg-deb -f "$deb" Depends | sed 's/^/deb-test: Depends: /'
in_root apt-get -o APT::Sandbox::User=root update -qq
in_root sh -c "cd /tmp && apt-get install -y -qq --no-install-recommends ./$(basename "$deb")" >"$cache/apt-install.log" 2>&1 \
  || { tail -20 "$cache/apt-install.log" >&2; exit 1; }

step "dicomguard --version"
in_root dicomguard --version
step "the man pages"
for page in dicomguard dicomguard-scan; do
  [[ -s $root/usr/share/man/man1/$page.1.gz ]] || { echo "deb-test: no /usr/share/man/man1/$page.1.gz" >&2; exit 1; }
done
if [[ -x $root/usr/bin/man ]]; then in_root man -w dicomguard-scan; else echo "deb-test: man-db not in the chroot; /usr/share/man/man1/dicomguard-scan.1.gz is there"; fi
[[ -s $root/usr/share/bash-completion/completions/dicomguard ]] || { echo "deb-test: no bash completion" >&2; exit 1; }

step "dicomguard demo --out /tmp/demo"
in_root dicomguard demo --out /tmp/demo >"$cache/demo.log" 2>&1 || { tail -20 "$cache/demo.log" >&2; exit 1; }
grep '^==' "$cache/demo.log" | sed 's/^/deb-test:   /' | cut -c1-150
[[ -s $root/tmp/demo/report.html ]] || { echo "deb-test: demo wrote no /tmp/demo/report.html" >&2; exit 1; }
step "report.html: $(du -h "$root/tmp/demo/report.html" | cut -f1)"
