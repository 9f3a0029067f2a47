# SPDX-License-Identifier: Apache-2.0
# Shared by scripts/start.sh and scripts/test.sh: install what is missing
# (Debian 12 packages), then configure and build with meson. Sourced, not run.

set -euo pipefail

EMBER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Needed to build and run ember.
EMBER_BUILD_PACKAGES=(
  gcc libc6-dev make pkg-config meson ninja-build clang llvm
  libbpf-dev bpftool libelf-dev zlib1g-dev libdeflate-dev libprotobuf-c-dev protobuf-c-compiler
  libsqlite3-dev libunwind-dev libmicrohttpd-dev
  libc6-dbg python3 binutils liblzma-dev libiberty-dev g++ libzstd-dev
  libcurl4-openssl-dev
)
# Needed by the tests (cross-checks and tools the tests drive): the browser
# tests (tests/web/) run Debian's Chromium under node + playwright-core.
# elfutils: eu-addr2line, a peer in bench/symbolize (llvm-symbolizer comes
# with llvm, addr2line with binutils). sqlite3: the shell bench/storage
# uses to show where the bytes of its file go. dwz: the DWARF tests make
# dwz multifiles (as Debian's and Fedora's debug packages are made).
# golang-go and golang-github-google-pprof-dev: Go's pprof, built from
# Debian's source by the import test (tests/unit/test_import_pprof.py) to
# check what Ember imports and exports against `pprof -sample_index`.
# cppcheck, xz-utils, gzip, sqlite3, nodejs: real programs bench/accuracy
# and test_accuracy profile against perf. rustc: the Rust fixtures of the
# name tests (legacy and v0 mangling; Debian's 1.63 takes
# -C symbol-mangling-version=v0). python3.11 and libpython3.11-dev: the
# Python tests profile Debian's interpreter, statically linked in
# python3.11 and shared in libpython3.11 (tests/testprogs/pyembed.c builds
# against it); python3.11-dbg: its debug information, where Ember reads
# the interpreter's structure offsets from. libbinutils-dbg: the debug
# information of Debian's libbfd (LTO-built, dwz'ed, compressed), whose
# inlined frames test-symbolizer-origin names across units. time: GNU
# time, whose peak RSS figure bench/record-rss reads.
EMBER_TEST_PACKAGES=(
  util-linux procps linux-perf chromium nodejs elfutils sqlite3 dwz
  golang-go golang-github-google-pprof-dev cppcheck xz-utils gzip rustc
  python3.11 libpython3.11-dev python3.11-dbg libclang-rt-14-dev
  clickhouse-server openssl libbinutils-dbg time
)
# libclang-rt-14-dev: libFuzzer's runtime, for the fuzz suite (build-fuzz).
# clickhouse-server (Debian's 18.16): the fleet tests start their own
# servers on loopback ports with temporary data folders (never the
# system service, which the package installs but does not need running);
# openssl makes the certificate of the HTTPS case.

say() { printf '==> [%ss] %s\n' "$SECONDS" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

ember_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing packages: ${missing[*]}; run this script as root to install them"
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed: check the network and /etc/apt/sources.list"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install failed for: ${missing[*]}"
}

# ember_build DIR [meson options...]
ember_build() {
  local dir=$1; shift
  if [ ! -f "$EMBER_ROOT/$dir/build.ninja" ]; then
    say "configuring $dir"
    meson setup "$EMBER_ROOT/$dir" "$EMBER_ROOT" "$@" >/dev/null \
      || die "meson setup failed (see $EMBER_ROOT/$dir/meson-logs/meson-log.txt)"
  fi
  say "building $dir"
  ninja -C "$EMBER_ROOT/$dir" >/dev/null || { ninja -C "$EMBER_ROOT/$dir"; die "build failed"; }
}

# The libFuzzer binaries of the parsers' fuzz entry points, in build-fuzz/
# (clang, -Dfuzzing=true, ASan+UBSan): only those, since the fixtures
# built without sanitizers do not link with coverage instrumentation.
EMBER_FUZZERS=(common-map web-query storage-pprof symbolizer-elf symbolizer-dwarf)
ember_build_fuzzers() {
  local dir="$EMBER_ROOT/build-fuzz" targets=() f
  if [ ! -f "$dir/build.ninja" ]; then
    say "configuring build-fuzz"
    CC=clang meson setup "$dir" "$EMBER_ROOT" -Dfuzzing=true \
      -Db_sanitize=address,undefined -Db_lundef=false >/dev/null \
      || die "meson setup failed (see $dir/meson-logs/meson-log.txt)"
  fi
  for f in "${EMBER_FUZZERS[@]}"; do targets+=("tests/unit/libfuzzer-$f"); done
  say "building build-fuzz (${EMBER_FUZZERS[*]})"
  ninja -C "$dir" "${targets[@]}" >/dev/null || { ninja -C "$dir" "${targets[@]}"; die "build failed"; }
}

# The tests' npm packages (package.json, pinned by package-lock.json):
# playwright-core for the browser tests, pprof-format as an independent
# pprof decoder. npm ci when node_modules is missing or older than the lock
# file. npm comes with NodeSource's nodejs; Debian's nodejs needs the
# separate npm package, which would conflict with NodeSource's.
ember_npm_ci() {
  command -v npm >/dev/null 2>&1 || ember_install npm
  local stamp="$EMBER_ROOT/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$EMBER_ROOT/package-lock.json" -nt "$stamp" ]; then
    say "npm ci (test packages)"
    (cd "$EMBER_ROOT" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
      || die "npm ci failed: check that the npm registry is reachable"
  fi
}
