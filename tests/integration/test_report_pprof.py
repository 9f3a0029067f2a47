#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Privileged: record the `split` test program (6:3:1 CPU split across
leaf_a/leaf_b/leaf_c), export it with `ember report --format pprof`, decode
the file with npm's pprof-format (tests/node/check-pprof.js) and check that
an independent reader sees the same shares, the same total as the folded
report, and the process as the "process" label."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from embertest import *  # noqa: F401,F403

NODE = os.environ.get("NODE", "")
NODE_DIR = os.environ.get("NODE_DIR", "")
EXPECTED = {"leaf_a": 0.6, "leaf_b": 0.3, "leaf_c": 0.1}
TOLERANCE = 0.05  # as in test_record_split.py


def main():
    require_root()
    if not NODE or not os.path.isdir(os.path.join(NODE_DIR, "..", "..", "node_modules", "pprof-format")):
        fail("node and pprof-format are needed: install nodejs and run 'npm ci' at the repository root "
             "(scripts/test.sh does both)")
    d = tmpdir()
    db = os.path.join(d, "split.db")
    r = record(db, [prog("split"), "--seconds", "4"], freq=999)
    check(r.returncode == 0, f"ember record exits 0 (got {r.returncode})")

    pb = os.path.join(d, "x.pb.gz")
    r = run([EMBER, "report", db, "--format", "pprof", "-o", pb])
    check(r.returncode == 0 and os.path.getsize(pb) > 100,
          f"ember report --format pprof -o x.pb.gz exits 0 ({r.stderr.strip()})")
    r = run([NODE, os.path.join(NODE_DIR, "check-pprof.js"), pb, "--folded"], cwd=NODE_DIR)
    check(r.returncode == 0, f"pprof-format decodes the export ({r.stderr.strip()})")
    stacks = []
    for line in r.stdout.splitlines():
        stack, _, count = line.rpartition(" ")
        stacks.append((stack.split(";"), int(count)))

    check(total(stacks) == total(folded(db)),
          f"pprof total {total(stacks)} equals the folded report's {total(folded(db))}")
    ours = [(f, c) for f, c in stacks if f[0] == "split"]
    all_split = total(ours)
    check_samples_for_cpu(all_split, command_cpu_samples(db), "samples labelled process=split", share=0.9)
    in_leaves = {n: total(ours, lambda f, n=n: leaf(f) == n) for n in EXPECTED}
    leaves = sum(in_leaves.values())
    check(leaves / all_split >= 0.95, f"{leaves}/{all_split} samples end in a leaf_* function")
    for name, want in EXPECTED.items():
        got = in_leaves[name] / leaves
        tol = share_tolerance(leaves, want, TOLERANCE)
        check(abs(got - want) <= tol,
              f"pprof: {name} share {got:.3f} is within {tol:.3f} of {want} ({leaves} samples)")
        chained = total(ours, lambda f, n=name: leaf(f) == n and has_chain(f, ["main", "run_" + n[-1], n]))
        check(chained / in_leaves[name] >= 0.99, f"pprof: {name} keeps its caller chain main;run_{name[-1]}")

    # And back: importing the export gives the same folded report.
    imported = os.path.join(d, "imported.db")
    r = run([EMBER, "import", pb, "-o", imported])
    check(r.returncode == 0, f"ember import of the export exits 0 ({r.stderr.strip()})")
    a, b = sorted(folded(imported)), sorted(folded(db))
    diff = [x for x in a if x not in b] + [x for x in b if x not in a]
    for x in diff[:10]:
        print(f"  differs: {';'.join(x[0])} {x[1]}")
    # (A difference seen once in many runs was a kernel module's frame,
    # a BPF program's at a process's exit, coming back as a user frame.)
    check(sum(c for _, c in a) == sum(c for _, c in b), "the import keeps the sample total")
    check(not diff, f"the imported profile reports the same folded stacks as the recording ({len(diff)} differ)")


if __name__ == "__main__":
    main()
