#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's second command (and all .ci/run does): install what is
# missing, build a normal and an ASan+UBSan tree, run every test suite
# (unit in both trees; privileged, which loads BPF, in the normal one; the
# parsers' fuzzers for a short run each in a clang tree), and
# fail if any test failed or was skipped: on these machines everything can
# run, so a skip is a failure. The web suite drives Chromium (tests/web/).
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "run as root: the privileged tests load BPF programs (sudo $0)"
ember_install "${EMBER_BUILD_PACKAGES[@]}" "${EMBER_TEST_PACKAGES[@]}"
ember_npm_ci
ember_build build
ember_build build-asan -Db_sanitize=address,undefined -Db_lundef=false

ember_build_fuzzers

status=0
say "tests: all suites (build)"
meson test -C "$EMBER_ROOT/build" --print-errorlogs --no-rebuild || status=1
say "tests: unit suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan)"
meson test -C "$EMBER_ROOT/build-asan" --suite unit --print-errorlogs --no-rebuild || status=1
# The parsers of outside input (ELF, DWARF, HTTP query, pprof) under
# libFuzzer with ASan+UBSan, ${EMBER_FUZZ_SECONDS:-20} s each from their corpora.
say "tests: fuzz suite, libFuzzer under ASan+UBSan (build-fuzz)"
meson test -C "$EMBER_ROOT/build-fuzz" --suite fuzz --print-errorlogs --no-rebuild || status=1

python3 - "$EMBER_ROOT/build" "$EMBER_ROOT/build-asan" "$EMBER_ROOT/build-fuzz" <<'PY' || status=1
import json, sys
passed = failed = skipped = 0
bad = []
for d in sys.argv[1:]:
    with open(f"{d}/meson-logs/testlog.json") as f:
        for line in f:
            t = json.loads(line)
            r = t["result"]
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                skipped += 1
                bad.append(f"SKIPPED {d.rsplit('/', 1)[-1]}: {t['name']}")
            else:
                failed += 1
                bad.append(f"{r} {d.rsplit('/', 1)[-1]}: {t['name']}")
for b in bad:
    print(b)
print(f"ember-tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or skipped or passed == 0 else 0)
PY
exit $status
