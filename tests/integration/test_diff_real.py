#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Privileged: the CI gate on real programs nobody here wrote, recorded the
README's recommended way (ember record -F 499, 10 runs a side, labelled
run=N as --repeat labels them; the two sides' runs alternated so that the
machine's load cannot differ between them; bench/diff-calibration's
programs, which this test imports):
an identical pair of Debian's python3 on a script and of xz -6 must exit 0.
And xz's stripped liblzma comes out one frame per function: every
liblzma frame of the profile that an FDE covers is named
liblzma.so.N+0xSTART where START is the first byte of that FDE, as
`readelf --debug-dump=frames` lists it (code no FDE covers, such as .init,
keeps its own offset), and
--coverage still counts those frames as unnamed."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from embertest import *  # noqa: F401,F403


def fde_ranges(path):
    """File offset ranges [start, end) of the FDEs of the ELF file at path."""
    out = subprocess.run(["readelf", "--debug-dump=frames", path], capture_output=True,
                         text=True).stdout
    loads = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True).stdout
    segs = []
    for m in re.finditer(r"LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+"
                         r"(0x[0-9a-f]+)\s+(0x[0-9a-f]+)", loads):
        off, vaddr, _, memsz = (int(x, 16) for x in m.groups())
        segs.append((vaddr, vaddr + memsz, off))
    ranges = []
    for m in re.finditer(r" FDE cie=[0-9a-f]+ pc=([0-9a-f]+)\.\.([0-9a-f]+)", out):
        lo, hi = int(m.group(1), 16), int(m.group(2), 16)
        for v0, v1, off in segs:
            if v0 <= lo < v1:
                ranges.append((lo - v0 + off, hi - v0 + off))
    return ranges


def record_pair(cal, base, head, cmd, args, extra):
    """The pair's runs alternated, base and head, each appended to its side
    labelled run=N as `record --repeat` labels them: a machine whose load
    changes during the test (another job starting) changes both sides
    alike. Back to back, 10 runs of xz then 10 more, a load that rose in
    between moved liblzma's memory-bound match finder by 3.7 points, a
    true change of the profile under other load that no gate can tell
    from the code's (the README asks for a quiet machine)."""
    for run in range(1, args.repeat + 1):
        for db in (base, head):
            r = subprocess.run([EMBER, "record", "-F", str(args.freq), "--append",
                                "--label", f"run={run}", *extra, "-o", db,
                                "--", "sh", "-c", cmd],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                check(False, f"record run {run} into {os.path.basename(db)} "
                      f"({r.returncode} {r.stderr[-300:]})")


def main():
    require_root()
    cal = load_bench("diff-calibration")
    cal.EMBER = EMBER
    args = cal.parse_args(["--programs", "python3,xz", "--steps", ""])
    with tempfile.TemporaryDirectory(prefix="ember-test-diff-real-") as d:
        cal.make_inputs(d)
        for name in args.programs:
            prog = cal.PROGRAMS[name]
            base, head = os.path.join(d, name + "-base.db"), os.path.join(d, name + "-head.db")
            record_pair(cal, base, head, prog["cmd"](d), args, prog.get("extra", ()))
            rc, rep = cal.diff(base, head)
            print(f"{name}: exit {rc}, samples {rep['base']['samples']} / "
                  f"{rep['head']['samples']}, runs {rep['base']['runs']} / "
                  f"{rep['head']['runs']}, tests {rep['tests']}; flagged: "
                  f"{cal.flagged(rep)}")
            check(rep["base"]["runs"] == args.repeat and rep["head"]["runs"] == args.repeat,
                  f"{name}: {args.repeat} runs on each side")
            check(rc == 0, f"{name}: an identical pair exits 0 (flagged {cal.flagged(rep)})")

        # Stripped liblzma: one frame per function, at FDE starts.
        lib = None
        xz_db = os.path.join(d, "xz-head.db")
        names = {}
        for frames, count in folded(xz_db):
            for f in frames:
                m = re.fullmatch(r"(liblzma\.so[.0-9]*)\+0x([0-9a-f]+)", f)
                if m:
                    lib = m.group(1)
                    names[int(m.group(2), 16)] = names.get(int(m.group(2), 16), 0) + count
        check(lib is not None and len(names) >= 3, f"xz's profile has liblzma functions ({names})")
        if lib:
            path = os.path.realpath(os.path.join("/lib/x86_64-linux-gnu", lib))
            ranges = fde_ranges(path)
            starts = {lo for lo, _ in ranges}
            # An address no FDE covers (.init, padding between functions)
            # has no function to be grouped into and keeps its own offset;
            # an address inside an FDE must be named by that FDE's start.
            inside = sorted(o for o in names if o not in starts and
                            any(lo <= o < hi for lo, hi in ranges))
            outside = sorted(o for o in names if not any(lo <= o < hi for lo, hi in ranges))
            print(f"{lib}: {len(names)} unnamed functions in the profile, "
                  f"{len(ranges)} FDEs; in no FDE: {[hex(o) for o in outside]}; "
                  f"inside an FDE but not at its start: {[hex(o) for o in inside]}")
            check(len(ranges) > 100 and not inside and len(outside) * 4 < len(names),
                  f"every unnamed liblzma frame inside an FDE is named by its start "
                  f"(not: {[hex(o) for o in inside]})")
        r = run([EMBER, "report", xz_db, "--coverage"])
        line = next((ln for ln in r.stdout.splitlines() if "liblzma" in ln), "")
        print(line)
        # FRAMES FUNCTION% LINE% BUILD-ID BINARY: most of liblzma's frames
        # have no name (its functions grouped by FDE are still unnamed).
        fields = line.split()
        named = float(fields[1].rstrip("%")) if len(fields) > 2 else 100.0
        check(r.returncode == 0 and named < 50,
              f"--coverage still counts liblzma's grouped frames as unnamed ({line!r})")


if __name__ == "__main__":
    main()
