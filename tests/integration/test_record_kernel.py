#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Privileged: a syscall-heavy program shows kernel frames above the
syscall entry, stacked on top of its user chain main;do_syscalls. Then,
when kernel modules are loaded, a whole-system recording while the shell
works on every mounted file system (and the loopback network) shows
module code as "name [module]_[k]"."""
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
    check_samples_for_cpu(all_, command_cpu_samples(db), "syscalls")
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

    check_module_frames(d)


def loaded_modules():
    try:
        with open("/proc/modules") as f:
            return {line.split()[0] for line in f if line.strip()}
    except FileNotFoundError:
        return set()


# A shell loop that touches every writable mounted file system (file
# systems are the modules most often loaded and hot) and the loopback
# network, so module code runs under the recording.
MODULE_WORK = r"""
end=$(( $(date +%s) + 4 ))
dirs=$(awk '$4 ~ /(^|,)rw(,|$)/ {print $2}' /proc/self/mounts | grep -v -e '^/proc' -e '^/sys' -e '^/dev$')
while [ $(date +%s) -lt $end ]; do
  for m in $dirs /tmp; do
    f="$m/.ember-module-test.$$"
    (dd if=/dev/zero of="$f" bs=64k count=16 conv=fsync && cat "$f" >/dev/null; rm -f "$f") 2>/dev/null
    ls -la "$m" >/dev/null 2>&1
  done
  (exec 3<>/dev/tcp/127.0.0.1/9 && echo x >&3) 2>/dev/null
done
"""


def check_module_frames(d):
    mods = loaded_modules()
    if not mods:
        # Only this assertion is skipped, and only for this reason.
        print("module frames: not checked: no kernel modules are loaded "
              "(/proc/modules is missing or empty: a kernel without loadable "
              "modules, or none loaded)", file=sys.stderr)
        return
    db = os.path.join(d, "modules.db")
    r = record(db, ["sh", "-c", MODULE_WORK], freq=999, extra=["-a"], timeout=180)
    check(r.returncode == 0, f"record -a exits 0 (got {r.returncode})")
    frames = {x for f, _ in folded(db) for x in f if x.endswith("_[k]")}
    named = sorted(x for x in frames
                   if x.endswith("]_[k]") and " [" in x
                   and x[x.rindex(" [") + 2:-5] in mods)
    check(len(named) > 0,
          f"a kernel module frame reads 'name [module]' ({len(frames)} kernel frames, "
          f"modules loaded: {', '.join(sorted(mods)[:10])})")
    if named:
        print(f"module frames: {len(named)}, e.g. {named[0]}", file=sys.stderr)


if __name__ == "__main__":
    main()
