#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run one fuzz entry point under libFuzzer for a while: build a clang tree
# with ASan+UBSan and -Dfuzzing=true (build-fuzz/), then fuzz starting
# from the entry point's seed corpus. (scripts/test.sh runs each for 30 s
# as the 'fuzz' test suite; this is for longer runs.) New interesting inputs go to
# build-fuzz/corpus-NAME/ (copy the useful ones into the seed corpus);
# a crash leaves crash-* in the current directory and exits non-zero.
#
# Usage: scripts/fuzz.sh NAME [SECONDS] [libFuzzer options...]
#   NAME: web-query, storage-pprof, symbolizer-elf, symbolizer-dwarf, common-map
source "$(dirname "$0")/lib.sh"

name=${1:-}
secs=${2:-300}
shift 2 2>/dev/null || shift $#
case "$name" in
  web-query) seeds=web/fuzz-query-corpus ;;
  storage-pprof) seeds=storage/fuzz-pprof-corpus ;;
  symbolizer-elf) seeds=symbolizer/fuzz-elf-corpus ;;
  symbolizer-dwarf) seeds=symbolizer/fuzz-dwarf-corpus ;;
  common-map) seeds=common/fuzz-map-corpus ;;
  *) die "usage: $0 web-query|storage-pprof|symbolizer-elf|symbolizer-dwarf|common-map [SECONDS]" ;;
esac
# libFuzzer's runtime comes with Debian's compiler-rt package.
ember_install "${EMBER_BUILD_PACKAGES[@]}" libclang-rt-14-dev
ember_build_fuzzers
out="$EMBER_ROOT/build-fuzz/corpus-$name"
mkdir -p "$out"
say "fuzzing $name for $secs s (new inputs in $out)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  "$EMBER_ROOT/build-fuzz/tests/unit/libfuzzer-$name" -max_total_time="$secs" \
  -print_final_stats=1 "$@" "$out" "$EMBER_ROOT/$seeds"
