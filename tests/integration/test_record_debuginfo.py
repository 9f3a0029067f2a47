#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Debug information as build systems and distributions ship it, through
`ember record` and `ember report`: the split test program (its leaves inline
burn() from burn.h) built -O2 -g with gcc

- plain, the reference;
- with -gsplit-dwarf (its .dwo beside the object);
- processed with `dwz -m` together with a second copy (one multifile);
- with its debug sections compressed with zstd;

must give the same inlined frames (burn_[i] with its burn.h line, under the
same leaves) as the plain build. Then with its .dwo removed, and with its
multifile removed: the samples still name leaf_a, the summary says
"debug info not read: dwo-missing" / "alt-missing", and `report --coverage`
lists the reason under the binary with the share of its frames it cost.
"""
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
from embertest import (EMBER, check, command_cpu_samples, fail, folded, record, require_root, run,  # noqa: E402
                       tmpdir, total)

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testprogs")


def build(d, name, extra=(), obj=False):
    src = os.path.join(SRC, "split.c")
    args = ["-O2", "-g", "-std=gnu11", "-D_GNU_SOURCE", "-pthread", "-I", SRC, *extra]
    if obj:
        r = run(["gcc", *args, "-c", src, "-o", name + ".o"], cwd=d)
        if r.returncode == 0:
            r = run(["gcc", "-pthread", name + ".o", "-o", name], cwd=d)
    else:
        r = run(["gcc", *args, src, "-o", name], cwd=d)
    if r.returncode != 0:
        fail(f"building {name}: {r.stderr.strip()}")
    return os.path.join(d, name)


def inlined_burn(db):
    """Samples whose leaf_a frame has burn_[i] (file burn.h) below it, and
    all samples in leaf_a."""
    stacks = folded(db, ["--lines"])
    in_a = with_burn = 0
    for frames, count in stacks:
        names = [f.split(" (")[0] for f in frames]
        if "leaf_a" not in names:
            continue
        in_a += count
        i = names.index("leaf_a")
        if any(re.match(r"burn_\[i\] \(.*burn\.h:\d+\)$", f) for f in frames[i + 1:]):
            with_burn += count
    return in_a, with_burn


# leaf_a takes 60 % of split's CPU: at least 40 % of the samples its CPU
# time gives land under it, however much CPU the machine had free.
LEAF_A_SHARE = 0.4


def profile(d, binary, tag):
    db = os.path.join(d, tag + ".db")
    r = record(db, [binary, "--seconds", "3"], freq=199, extra=["--cache-dir", "none"])
    check(r.returncode == 0, f"{tag}: record exits 0 (got {r.returncode})")
    return db, r.stderr


def main():
    require_root()
    for tool in ("gcc", "dwz", "objcopy"):
        if not shutil.which(tool):
            fail(f"{tool} is missing: scripts/test.sh installs it (EMBER_TEST_PACKAGES)")
    d = tmpdir()

    plain = build(d, "plain")
    db, _ = profile(d, plain, "plain")
    a, b = inlined_burn(db)
    check(a >= LEAF_A_SHARE * command_cpu_samples(db) and b >= 0.99 * a,
          f"plain -g: burn_[i] (burn.h) under leaf_a in {b} of {a} samples")

    split = build(d, "splitprog", ["-gsplit-dwarf"], obj=True)
    check(os.path.exists(os.path.join(d, "splitprog.dwo")), "-gsplit-dwarf wrote the .dwo")
    db, err = profile(d, split, "split")
    a, b = inlined_burn(db)
    check(a >= LEAF_A_SHARE * command_cpu_samples(db) and b >= 0.99 * a,
          f"split DWARF: burn_[i] (burn.h) under leaf_a in {b} of {a} samples")
    check("debug info not read" not in err, "split DWARF: nothing reported unread")

    os.rename(os.path.join(d, "splitprog.dwo"), os.path.join(d, "splitprog.dwo.away"))
    db, err = profile(d, split, "split-nodwo")
    a, b = inlined_burn(db)
    check(a >= LEAF_A_SHARE * command_cpu_samples(db) and b == 0, f".dwo removed: leaf_a named ({a} samples), no inlined frames")
    check(re.search(r"debug info not read: .*dwo-missing 1\b", err) is not None,
          ".dwo removed: the summary says dwo-missing")
    r = run([EMBER, "report", db, "--coverage"])
    check(r.returncode == 0, "report --coverage exits 0")
    lines = r.stdout.splitlines()
    row = next((i for i, l in enumerate(lines) if l.endswith("/splitprog")), None)
    check(row is not None, "coverage lists the split binary")
    issue = lines[row + 1] if row is not None and row + 1 < len(lines) else ""
    m = re.match(r"\s*(\d+)\s+([\d.]+)%\s+debug info not read: dwo-missing$", issue)
    check(m is not None and float(m.group(2)) > 50,
          f"coverage: the split binary's frames lost to dwo-missing ({issue.strip()})")

    # dwz: two binaries sharing one multifile
    one, two = build(d, "dwzprog"), build(d, "dwzprog2", ["-DEMBER_SECOND_COPY"])
    r = run(["dwz", "-m", os.path.join(d, "common.debug"),
             "-M", os.path.join(d, "common.debug"), one, two])
    check(r.returncode == 0, f"dwz -m exits 0 ({r.stderr.strip()})")
    r = run(["readelf", "-S", one])
    check(".gnu_debugaltlink" in r.stdout, "dwz linked the multifile")
    db, err = profile(d, one, "dwz")
    a, b = inlined_burn(db)
    check(a >= LEAF_A_SHARE * command_cpu_samples(db) and b >= 0.99 * a,
          f"dwz: burn_[i] (burn.h) under leaf_a in {b} of {a} samples")
    check("debug info not read" not in err, "dwz: nothing reported unread")
    os.rename(os.path.join(d, "common.debug"), os.path.join(d, "common.debug.away"))
    db, err = profile(d, one, "dwz-noalt")
    check(re.search(r"debug info not read: .*alt-missing 1\b", err) is not None,
          "multifile removed: the summary says alt-missing")
    r = run([EMBER, "report", db, "--coverage"])
    check(re.search(r"debug info not read: alt-missing", r.stdout) is not None,
          "multifile removed: report --coverage says alt-missing")
    stacks = folded(db)
    check(total(stacks, lambda f: "leaf_a" in f) >= LEAF_A_SHARE * command_cpu_samples(db),
          "multifile removed: leaf_a still named (symbol table)")

    # zstd-compressed debug sections (objcopy from binutils 2.40)
    zstd = os.path.join(d, "zstdprog")
    r = run(["objcopy", "--compress-debug-sections=zstd", plain, zstd])
    check(r.returncode == 0, "objcopy --compress-debug-sections=zstd exits 0")
    db, err = profile(d, zstd, "zstd")
    a, b = inlined_burn(db)
    check(a >= LEAF_A_SHARE * command_cpu_samples(db) and b >= 0.99 * a,
          f"zstd: burn_[i] (burn.h) under leaf_a in {b} of {a} samples")
    check("debug info not read" not in err, "zstd: nothing reported unread")


if __name__ == "__main__":
    main()
