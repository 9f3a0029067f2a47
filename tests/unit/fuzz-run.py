# SPDX-License-Identifier: Apache-2.0
"""Run one libFuzzer binary for a short while, as a test of the 'fuzz'
suite (the build-fuzz tree: clang, -Dfuzzing=true, ASan+UBSan; see
scripts/test.sh): seeded with the entry point's corpus, new inputs go to a
temporary directory (never into the source tree), any sanitizer report,
crash, leak, hang (an input taking over 10 s) or input using over 2 GB
fails the test. A failing input is left in the fuzz tree's fuzz-crashes/
and printed as hex, so it can be added to the corpus as a regression seed.

Usage: fuzz-run.py FUZZER SEED_DIR [SECONDS]  (EMBER_FUZZ_SECONDS overrides)
"""
import os
import shutil
import subprocess
import sys
import tempfile

fuzzer, seeds = sys.argv[1], sys.argv[2]
secs = int(os.environ.get("EMBER_FUZZ_SECONDS") or (sys.argv[3] if len(sys.argv) > 3 else 20))
name = os.path.basename(fuzzer)
crashes = os.path.join(os.path.dirname(os.path.abspath(fuzzer)), "fuzz-crashes", name)
os.makedirs(crashes, exist_ok=True)
work = tempfile.mkdtemp(prefix=f"ember-{name}-")
env = dict(os.environ,
           ASAN_OPTIONS="detect_leaks=1:abort_on_error=1",
           UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
try:
    r = subprocess.run([fuzzer, f"-max_total_time={secs}", "-timeout=10", "-rss_limit_mb=2048",
                        "-print_final_stats=1", f"-artifact_prefix={crashes}/", work, seeds],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       errors="replace")
finally:
    new = len(os.listdir(work))
    shutil.rmtree(work, ignore_errors=True)
out = r.stdout
# the statistics and whatever went wrong, not every "NEW" line
keep = [l for l in out.splitlines() if not l.startswith("#") or "DONE" in l or "INITED" in l]
print("\n".join(keep[-80:]))
print(f"{name}: {secs} s, {new} new inputs beyond the {len(os.listdir(seeds))} seeds, exit {r.returncode}")
if r.returncode != 0:
    for f in sorted(os.listdir(crashes)):
        p = os.path.join(crashes, f)
        with open(p, "rb") as fh:
            data = fh.read(4096)
        print(f"failing input {p} ({os.path.getsize(p)} bytes): {data.hex()[:2000]}")
    sys.exit(1)
