#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Unit (no root): pprof in and out, checked against independent tools.

Profiles of a known shape are written by npm's pprof-format
(tests/node/make-pprof.js): a Go-style heap profile with four sample
types and a CPU profile whose default_sample_type is its first. Then:

- `ember import` takes the sample type pprof would (default_sample_type,
  else the last), says so, and takes --sample-type NAME / --sample-index N;
  each type's per-function values (`ember report --format top`) equal what
  pprof-format decodes from the file and, where Go's pprof can be built
  (Debian's golang-go and golang-github-google-pprof-dev, scripts/lib.sh),
  what `pprof -top -sample_index=NAME` prints;
- a name the profile lacks is a usage error that lists its types; legacy
  (pre-protobuf) profiles are refused with the hint `pprof -proto`;
- `ember report FILE.pb.gz` reads pprof directly; `--format top` ends with
  the total;
- the export of an import keeps the type, the duration (2.0003 s, not 3 s)
  and names the program in its first mapping (Go's pprof: "File: heapy");
- an empty speedscope export is valid speedscope;
- `ember report` leaves the directory of what it reads as it was.

Environment (tests/unit/meson.build): EMBER, NODE, NODE_DIR, GO_PPROF_DIR
(where Go's pprof is built once), EXPORT_STORE (test-storage-export, whose
--write leaves a store in WAL mode)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from embertest import check, fail  # noqa: E402

EMBER = os.environ["EMBER"]
EXPORT_STORE = os.environ["EXPORT_STORE"]
NODE = os.environ.get("NODE", "")
NODE_DIR = os.environ["NODE_DIR"]
GO_PPROF_DIR = os.environ.get("GO_PPROF_DIR", "")
MAKE = os.path.join(NODE_DIR, "make-pprof.js")


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


def node(*args):
    r = run([NODE, MAKE, *args])
    if r.returncode != 0:
        fail(f"make-pprof.js {' '.join(args)}: {r.stderr}")
    return json.loads(r.stdout)


def go_pprof():
    """Go's pprof from Debian's source package, built once; None without Go."""
    src = "/usr/share/gocode/src/github.com/google/pprof"
    go = shutil.which("go")
    if not go or not os.path.isdir(src) or not GO_PPROF_DIR:
        return None
    exe = os.path.join(GO_PPROF_DIR, "pprof")
    if not os.path.exists(exe):
        os.makedirs(GO_PPROF_DIR, exist_ok=True)
        env = dict(os.environ, GOPATH="/usr/share/gocode", GO111MODULE="off",
                   GOCACHE=os.path.join(GO_PPROF_DIR, "cache"), GOFLAGS="")
        r = subprocess.run([go, "build", "-o", exe, "github.com/google/pprof"],
                           capture_output=True, text=True, timeout=600, env=env)
        if r.returncode != 0:
            fail(f"building Go's pprof failed: {r.stderr}")
    return exe


def top_self(db_or_file, extra=()):
    """{function: self} and the total line of ember report --format top."""
    r = run([EMBER, "report", db_or_file, "--format", "top", "--limit", "0", *extra])
    if r.returncode != 0:
        fail(f"ember report {db_or_file} failed: {r.stderr}")
    lines = r.stdout.splitlines()
    out = {}
    for line in lines[1:-1]:
        f = line.split()
        if int(f[0]):
            out[f[4]] = int(f[0])
    return out, lines[-1], r.stderr


def pprof_top(exe, path, index):
    """{function: flat} of Go's pprof -top -sample_index, units stripped."""
    r = run([exe, "-top", f"-sample_index={index}", "-unit=B" if index.endswith("space") else "-unit=ns"
             if index == "cpu" else "-unit=minimum", path])
    if r.returncode != 0:
        fail(f"pprof -top -sample_index={index} failed: {r.stderr}")
    out = {}
    for line in r.stdout.splitlines():
        m = re.match(r"^\s*([0-9.]+)([a-zA-Z]*)\s+[0-9.]+%\s+[0-9.]+%\s+\S+\s+\S+\s+(\S+)$", line)
        if m and float(m.group(1)):
            out[m.group(3)] = int(float(m.group(1)))
    return out, r.stdout


def main():
    if not NODE or not os.path.exists(NODE):
        fail("node was not found when meson configured this build: install nodejs")
    d = tempfile.mkdtemp(prefix="ember-import-")
    heap, cpu = os.path.join(d, "heap.pb.gz"), os.path.join(d, "cpu.pb.gz")
    want_heap, want_cpu = node("heap", heap), node("cpu", cpu)
    dec = node("decode", heap)
    check(dec["leaves"] == want_heap, "pprof-format decodes the heap profile as it was written")
    gp = go_pprof()
    print(f"# Go's pprof: {gp or 'not available (golang-go, golang-github-google-pprof-dev)'}")

    # The default: pprof's (no default_sample_type: the last type).
    db = os.path.join(d, "heap.db")
    r = run([EMBER, "import", heap, "-o", db])
    check(r.returncode == 0 and "sample type inuse_space/bytes" in r.stderr,
          f"import takes the last type, inuse_space, as pprof does, and says so: {r.stderr.strip()}")
    check("alloc_objects/count, alloc_space/bytes, inuse_objects/count, inuse_space/bytes" in r.stderr,
          "import lists the profile's types")
    got, total, _ = top_self(db)
    check(got == dec["leaves"]["inuse_space"], f"default import: self per function {got}")
    check(total.split()[0] == "33280" and "total: 33280 bytes in 5 functions" in total,
          f"--format top ends with the total: {total.strip()}")
    if gp:
        g, text = pprof_top(gp, heap, "inuse_space")
        check(g == got, f"default import equals pprof's default view ({g})")
        check("Type: inuse_space" in run([gp, "-top", heap]).stdout, "pprof's default is inuse_space too")

    # Every type, by name and by index, against both decoders.
    for i, t in enumerate(dec["types"]):
        name = t.split("/")[0]
        for how in (["--sample-type", name], ["--sample-index", str(i)]):
            db = os.path.join(d, f"{name}-{how[0][9:]}.db")
            r = run([EMBER, "import", heap, "-o", db, *how])
            check(r.returncode == 0 and f"sample type {t}" in r.stderr,
                  f"import {' '.join(how)} takes {t}")
            got, _, _ = top_self(db)
            check(got == dec["leaves"][name], f"{' '.join(how)}: {got} as pprof-format decodes")
            if gp:
                g, _ = pprof_top(gp, heap, name)
                check(g == got, f"{' '.join(how)}: {got} as pprof -sample_index={name} shows")
    # pprof's shorthand: inuse_ may be left out... of a profile whose types lack it
    r = run([EMBER, "import", cpu, "-o", os.path.join(d, "x.db"), "--sample-type", "inuse_cpu"])
    check(r.returncode == 0 and "sample type cpu/nanoseconds" in r.stderr,
          "--sample-type inuse_cpu finds cpu (pprof's inuse_ rule)")

    # Wrong name or index: a usage error listing the types, no file.
    bad = os.path.join(d, "bad.db")
    r = run([EMBER, "import", heap, "-o", bad, "--sample-type", "objects_in_flight"])
    check(r.returncode == 2 and "no sample type 'objects_in_flight'" in r.stderr and
          "alloc_space/bytes" in r.stderr and not os.path.exists(bad),
          f"an unknown type is a usage error that lists the types: {r.stderr.strip()}")
    r = run([EMBER, "import", heap, "-o", bad, "--sample-index", "4"])
    check(r.returncode == 2 and "outside 0..3" in r.stderr and not os.path.exists(bad),
          "an index past the types is a usage error")

    # default_sample_type wins over the last type; nanoseconds per period are samples.
    r = run([EMBER, "report", cpu, "--format", "top"])
    check(r.returncode == 0 and "sample type samples/count" in r.stderr,
          "report reads pprof directly and takes default_sample_type (samples)")
    got, total, _ = top_self(cpu)
    check(got == want_cpu["samples"] and "total: 42 samples" in total, f"report of the cpu profile: {got}")
    got, _, err = top_self(cpu, ["--sample-type", "cpu"])
    check(got == {k: v // 10000000 for k, v in want_cpu["cpu"].items()},
          f"cpu/nanoseconds divided by the 10 ms period gives samples: {got}")
    if gp:
        g, _ = pprof_top(gp, cpu, "cpu")
        check({k: v // 10000000 for k, v in g.items()} == got, "and pprof -sample_index=cpu agrees")
    r = run([EMBER, "report", os.path.join(d, "heap.db"), "--sample-type", "cpu"])
    check(r.returncode == 2 and "Ember database" in r.stderr, "--sample-type on a database is a usage error")

    # Legacy profiles: refused with the hint.
    for name, data in (("heap.txt", b"heap profile: 1: 2 [3: 4] @ heap/1048576\n1: 2 [3: 4] @ 0x1\n"),
                       ("cpu.prof", bytes(8) + (3).to_bytes(8, "little") + bytes(8) +
                        (10000).to_bytes(8, "little") + bytes(8))):
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(data)
        r = run([EMBER, "import", path, "-o", bad])
        check(r.returncode != 0 and "legacy format" in r.stderr and "pprof -proto" in r.stderr,
              f"a legacy {name} is refused with the hint: {r.stderr.strip()}")

    # Out again: type, duration and the program's mapping survive.
    out = os.path.join(d, "again.pb.gz")
    r = run([EMBER, "report", os.path.join(d, "heap.db"), "--format", "pprof", "-o", out])
    check(r.returncode == 0, "export of the imported heap profile")
    back = node("decode", out)
    check(back["types"] == ["inuse_space/bytes"], f"the export keeps the type: {back['types']}")
    check(back["mapping0"] == "/usr/bin/heapy", f"the first mapping is the program's: {back['mapping0']}")
    check(back["durationNanos"] == dec["durationNanos"] and back["timeNanos"] == dec["timeNanos"],
          f"the export keeps time and duration ({back['durationNanos']} ns)")
    check(back["leaves"]["inuse_space"] == dec["leaves"]["inuse_space"], "and the values")
    out_cpu = os.path.join(d, "cpu-again.pb.gz")
    run([EMBER, "import", cpu, "-o", os.path.join(d, "cpu.db")])
    run([EMBER, "report", os.path.join(d, "cpu.db"), "--format", "pprof", "-o", out_cpu])
    check(node("decode", out_cpu)["mapping0"] == "/usr/bin/heapy",
          "a profile whose first sample is in libc still names the program first")
    if gp:
        head = run([gp, "-top", out]).stdout
        check("File: heapy" in head and "Duration: 2s" in head and "Type: inuse_space" in head,
              f"Go's pprof names the program and the duration: {head.splitlines()[:4]}")

    # An empty speedscope export is valid speedscope.
    r = run([EMBER, "report", os.path.join(d, "heap.db"), "--format", "speedscope",
             "--filter", "process=nothing"])
    j = json.loads(r.stdout)
    check(r.returncode == 0 and len(j["profiles"]) >= 1 and 0 <= j["activeProfileIndex"] < len(j["profiles"])
          and all(p["samples"] == [] and p["weights"] == [] for p in j["profiles"]),
          "an empty speedscope export has a profile for activeProfileIndex to point at")

    # report reads, and leaves the directory as it was: imports are one
    # file, and so is a WAL-mode file whose writer closed without leaving
    # WAL mode (as recordings were before), which SQLite's read-only opens
    # would leave -wal and -shm beside.
    old = os.path.join(d, "old.db")
    subprocess.run([EXPORT_STORE, "--write", old], check=True)
    with open(old, "rb") as f:
        head = f.read(20)
    check(head[18:20] == b"\x02\x02" and not os.path.exists(old + "-wal"),
          "the store's writer left a WAL-mode file alone")
    before = sorted(os.listdir(d))
    for f in ("heap.db", "cpu.db", "heap.pb.gz", "old.db"):
        for fmt in ("top", "folded"):
            r = run([EMBER, "report", os.path.join(d, f), "--format", fmt])
            check(r.returncode == 0, f"report --format {fmt} {f}")
    r = run([EMBER, "diff", old, old])
    check(r.returncode == 0, "diff of the WAL-mode file with itself")
    check(sorted(os.listdir(d)) == before, f"ember report and diff leave no file beside what they read "
          f"({sorted(os.listdir(d))})")
    shutil.rmtree(d)


if __name__ == "__main__":
    main()
