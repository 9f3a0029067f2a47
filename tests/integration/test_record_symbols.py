#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Symbolization as a user sees it in `ember report`:

- short-lived processes: `shortlived` starts hundreds of processes that
  each burn ~30 ms and exit; they are gone long before the flush, and >= 95%
  of their samples must still name short_leaf (the mappings and binaries
  are captured when a process is first seen);
- `report --lines` prints `function (file:line)`, with the line addr2line
  gives for the same function, and inlined frames end in _[i];
- `report --coverage` lists the test program with its frames resolved to
  a function and a line.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
from embertest import (EMBER, check, check_samples_for_cpu, command_cpu_samples, fail,  # noqa: E402
                       folded, leaf, prog, record,
                       require_root, run, tmpdir, total)


def main():
    require_root()
    d = tmpdir()

    # Hundreds of ~30 ms processes.
    db = os.path.join(d, "short.db")
    r = record(db, [prog("shortlived"), "--count", "300", "--parallel", "2", "--ms", "30"],
               freq=499, timeout=300)
    check(r.returncode == 0, f"record of shortlived exits 0 (got {r.returncode})")
    stacks = folded(db)
    # The children re-exec /proc/self/exe (comm "exe"); the parent, which
    # only waits, keeps the name "shortlived".
    children = [(f, c) for f, c in stacks if f[0] != "shortlived"]
    all_child = total(children)
    check_samples_for_cpu(all_child, command_cpu_samples(db) - total(stacks, lambda f: f[0] == "shortlived"),
                          "the short-lived processes")
    # Of the samples taken in the program's own code (below main: not the
    # exec, ld.so's start-up or exit_group's teardown, 1-2 % here), short_leaf
    # is named. Where it burns CPU it calls clock_gettime, and a leaf in
    # libc or the vdso keeps short_leaf as its caller: named all the same.
    in_main = [(f, c) for f, c in children if "main" in f]
    all_main = total(in_main)
    named = total(in_main, lambda f: leaf(f) == "short_leaf" or "short_leaf" in f)
    bad = sorted(((c, ";".join(f)) for f, c in in_main
                  if leaf(f) != "short_leaf" and "short_leaf" not in f), reverse=True)[:5]
    for c, f in bad:
        print(f"  not short_leaf: {c} {f}")
    check(all_main >= 0.9 * all_child,
          f">= 90% of short-lived samples are in main ({all_main}/{all_child})")
    check(named >= 0.95 * all_main,
          f">= 95% of short-lived samples in main name short_leaf ({named}/{all_main})")
    unknown = total(children, lambda f: any(x == "[unknown]" or "+0x" in x for x in f[1:]
                                            if not x.endswith("_[k]")))
    check(unknown <= 0.05 * all_child, f"few unknown user frames ({unknown}/{all_child})")

    # --lines on the same file: short_leaf's line is the one addr2line gives
    # for the start of short_leaf's body.
    r = run([EMBER, "report", db, "--format", "folded", "--lines"])
    check(r.returncode == 0, "report --lines exits 0")
    m = re.search(r"short_leaf \(([^:;]+/shortlived\.c):(\d+)\)", r.stdout)
    check(m is not None, "report --lines prints 'short_leaf (.../shortlived.c:LINE)'")
    src = open(m.group(1)).read().splitlines()
    line = int(m.group(2))
    lo = next(i for i, s in enumerate(src, 1) if s.startswith("__attribute__((noinline)) void short_leaf(uint64_t cpu_ns)") and not s.endswith(";"))
    check(lo < line <= lo + 4, f"short_leaf's line {line} is inside short_leaf (starts at {lo})")
    check(re.search(r"_\[i\] \(([^;]+):\d+\)", r.stdout) is not None,
          "inlined frames end in _[i], then carry file:line")
    check(re.search(r"\)_\[i\]", r.stdout) is None,
          "no marker after a file:line")

    r = run([EMBER, "report", db, "--coverage"])
    check(r.returncode == 0, "report --coverage exits 0")
    row = next((l for l in r.stdout.splitlines() if l.endswith("/shortlived")), None)
    check(row is not None, "coverage lists the shortlived binary")
    frames, fn, ln = row.split()[:3]
    check(int(frames) > 0 and float(fn.rstrip("%")) >= 95 and float(ln.rstrip("%")) >= 95,
          f"shortlived's frames have names and lines ({row.strip()})")


if __name__ == "__main__":
    main()
