#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Privileged: `ember record -- forker` follows children from the kernel
side: forked children (no exec) and children that exec another program are
profiled, with their chains, and the CPU split between parent and children
holds (each child burns as much CPU as the parent)."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from embertest import *  # noqa: F401,F403


def main():
    require_root()
    d = tmpdir()
    forker = prog("forker")

    db = os.path.join(d, "fork.db")
    r = record(db, [forker, "--children", "3", "--seconds", "1"], freq=499)
    check(r.returncode == 0, f"record exits with forker's status 0 (got {r.returncode})")
    stacks = [(f, c) for f, c in folded(db) if f[0] == "forker"]
    child = total(stacks, lambda f: leaf(f) == "child_leaf")
    parent = total(stacks, lambda f: leaf(f) == "parent_leaf")
    check(child > 0 and parent > 0, f"samples from children ({child}) and parent ({parent})")
    check_samples_for_cpu(child + parent, command_cpu_samples(db), "forker and its children")
    share = child / (child + parent)
    check(abs(share - 0.75) <= 0.06, f"children's share {share:.3f} is about 3/4")
    chained = total(stacks, lambda f: has_chain(f, ["main", "child_main", "child_work", "child_leaf"]))
    check(chained / child >= 0.99, f"child chain main;child_main;child_work;child_leaf ({chained}/{child})")
    chained = total(stacks, lambda f: has_chain(f, ["main", "parent_work", "parent_leaf"]))
    check(chained / parent >= 0.99, f"parent chain main;parent_work;parent_leaf ({chained}/{parent})")
    check("from 4 processes" in r.stderr, "summary counts 4 processes")

    db = os.path.join(d, "exec.db")
    r = record(db, [forker, "--children", "2", "--seconds", "1", "--exec", prog("split")], freq=499)
    check(r.returncode == 0, f"record of forker --exec exits 0 (got {r.returncode})")
    stacks = folded(db)
    split_all = total(stacks, lambda f: f[0] == "split")
    split_leaves = total(stacks, lambda f: f[0] == "split" and leaf(f) in ("leaf_a", "leaf_b", "leaf_c"))
    # Every sample of the command is in the file: as many as the CPU time
    # of forker and its children gives at 499 Hz, whatever the load.
    check_samples_for_cpu(total(stacks), command_cpu_samples(db), "forker and its exec'd children")
    check(split_all > 0 and split_leaves / split_all >= 0.95,
          f"exec'd children are profiled as 'split' ({split_leaves} of {split_all} in its leaves)")
    chained = total(stacks, lambda f: f[0] == "split" and has_chain(f, ["main", "run_a", "leaf_a"]))
    check(chained > 0, "exec'd children's chains are symbolized (main;run_a;leaf_a)")


if __name__ == "__main__":
    main()
