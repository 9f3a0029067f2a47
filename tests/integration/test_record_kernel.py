#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Privileged: a syscall-heavy program shows kernel frames above the
syscall entry, stacked on top of its user chain main;do_syscalls."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from embertest import *  # noqa: F401,F403


def main():
    require_root()
    d = tmpdir()
    db = os.path.join(d, "sys.db")
    r = record(db, [prog("syscalls"), "--seconds", "3"], freq=499)
    check(r.returncode == 0, f"record exits 0 (got {r.returncode})")
    stacks = [(f, c) for f, c in folded(db) if f[0] == "syscalls"]
    all_ = total(stacks)
    check(all_ > 500, f"enough samples ({all_})")
    kern = [(f, c) for f, c in stacks if any(x.endswith("_[k]") for x in f)]
    k = total(kern)
    check(k / all_ >= 0.4, f"{k}/{all_} samples have kernel frames")

    def above_entry(f):
        # user frames first (root first), then the kernel part, entry first
        i = next(i for i, x in enumerate(f) if x.endswith("_[k]"))
        return f[i - 2:i] == ["main", "do_syscalls"] and f[i].startswith("entry_SYSCALL_64")

    good = total(kern, above_entry)
    # The kernel's ORC unwinder cannot step out of a retpoline thunk
    # (__x86_indirect_thunk_*): such samples have a one-frame kernel stack.
    check(good / k >= 0.90, f"{good}/{k} kernel stacks start at entry_SYSCALL_64 right above main;do_syscalls")
    names = {x for f, _ in kern for x in f}
    check(any(n.startswith("do_syscall_64") for n in names), "do_syscall_64 is among the kernel frames")
    check(any("write" in n and n.endswith("_[k]") for n in names), "a *write* kernel function is sampled")


if __name__ == "__main__":
    main()
