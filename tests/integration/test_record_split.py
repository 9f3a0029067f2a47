#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Privileged: record the `split` test program (6:3:1 CPU split across
leaf_a/leaf_b/leaf_c through run_a/run_b/run_c), single- and
multi-threaded, and check the shares and every leaf's caller chain.

The program is the clang -fno-omit-frame-pointer build, walked by frame
pointers in auto mode; its leaves are frameless (register-only loops), so
their callers come from Ember's leaf repair. test_unwind.py covers builds
without frame pointers."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from embertest import *  # noqa: F401,F403

EXPECTED = {"leaf_a": 0.6, "leaf_b": 0.3, "leaf_c": 0.1}
TOLERANCE = 0.05  # share points; ~4000 samples give a s.d. under 0.8 points,
                  # the rest is room for a noisy 2-vCPU VM; fewer samples
                  # (less CPU for split) widen it (share_tolerance)


def check_split(db, root, threads):
    stacks = folded(db)
    check(stacks, "the database has stacks")
    ours = [(f, c) for f, c in stacks if f[0] == "split"]
    all_split = total(ours)
    check_samples_for_cpu(all_split, command_cpu_samples(db), "process 'split'", share=0.9)
    in_leaves = {name: total(ours, lambda f, n=name: leaf(f) == n) for name in EXPECTED}
    leaves = sum(in_leaves.values())
    check(leaves / all_split >= 0.95,
          f"{leaves}/{all_split} samples have a leaf_* function as user leaf")
    for name, want in EXPECTED.items():
        got = in_leaves[name] / leaves
        tol = share_tolerance(leaves, want, TOLERANCE)
        check(abs(got - want) <= tol,
              f"{name} share {got:.3f} is within {tol:.3f} of {want} ({leaves} samples)")
        run_fn = "run_" + name[-1]
        chained = total(ours, lambda f, n=name, r=run_fn: leaf(f) == n and has_chain(f, [root, r, n]))
        check(chained / in_leaves[name] >= 0.99,
              f"{chained}/{in_leaves[name]} samples of {name} have the chain {root};{run_fn};{name}")
    # Nothing else but our three chains in user frames at the leaf level.
    if threads:
        tnames = {f[0] for f, _ in ours}
        check(tnames == {"split"}, "process name is 'split'")


def main():
    require_root()
    d = tmpdir()
    split = prog("split")

    db = os.path.join(d, "single.db")
    r = record(db, [split, "--seconds", "4"], freq=999)
    check(r.returncode == 0, f"ember record exits with split's status 0 (got {r.returncode})")
    check("samples from" in r.stderr and "dropped" in r.stderr, "summary printed on stderr")
    check_split(db, "main", threads=0)

    # Many drains (--flush 1): the double-buffered maps must neither lose
    # nor double-count a sample. Every sample the kernel counted is in the
    # database or counted as dropped, and the count matches the CPU time
    # the workload used (cpu-clock ticks while it runs).
    db = os.path.join(d, "threads.db")
    r = record(db, [split, "--seconds", "4", "--threads", "2"], freq=999, extra=["--flush", "1"])
    check(r.returncode == 0, f"multi-threaded record exits 0 (got {r.returncode})")
    check_split(db, "worker_main", threads=2)
    meta = read_meta(db)
    stored = total(folded(db))
    kernel = int(meta["samples_kernel"])
    dropped = int(meta["samples_dropped"])
    check(stored == int(meta["samples_written"]), f"report totals ({stored}) = samples written")
    check(stored + dropped == kernel,
          f"written {stored} + dropped {dropped} = counted in the kernel {kernel}")
    check(dropped == 0, "nothing dropped at 999 Hz on 2 CPUs")
    cpu_s = int(meta["command_cpu_ns"]) / 1e9
    expected = cpu_s * 999
    check(abs(kernel - expected) / expected <= 0.05,
          f"samples {kernel} match the command's CPU time {cpu_s:.2f} s x 999 Hz = {expected:.0f} within 5%")

    # Maps far too small: stack id collisions and full maps send samples
    # through the ring buffer (the slow path). They must all be kept, with
    # the same shares and chains, and the events counted in the summary.
    db = os.path.join(d, "tiny.db")
    r = record(db, [split, "--seconds", "3", "--threads", "2"], freq=999,
               extra=["--stack-map-entries", "4", "--counts-map-entries", "2", "--flush", "1"])
    check(r.returncode == 0, f"record with tiny maps exits 0 (got {r.returncode})")
    check("stack-collision" in r.stderr or "map-full" in r.stderr,
          "summary reports slow-path events")
    check_split(db, "worker_main", threads=2)
    meta = read_meta(db)
    stored = total(folded(db))
    check(stored + int(meta["samples_dropped"]) == int(meta["samples_kernel"]),
          f"slow path: written {stored} + dropped {meta['samples_dropped']} = kernel {meta['samples_kernel']}")
    check(int(meta["samples_dropped"]) == 0, "slow path: nothing dropped")


if __name__ == "__main__":
    main()
