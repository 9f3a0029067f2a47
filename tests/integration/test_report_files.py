#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Privileged: every file a user gets is one they can hand on, and reading
one changes nothing beside it.

- a finished `ember record` file is one self-contained file (no -wal or
  -shm; SQLite's header says rollback journal), also after --append, and
  it holds every sample the summary counted;
- `ember report` (every format) leaves the directory exactly as it was:
  for a finished recording and for a recording killed with SIGKILL (its -wal stays
  unchanged, and its -shm, the WAL's index, stays);
- `ember report --format html -o flame.html` opens from the file in
  Chromium with no request beyond it, the recorded program as the widest
  frame under the root, its hottest function drawn, the root and that
  frame in the first screen (tests/web/test-report-html.mjs)."""
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from embertest import *  # noqa: F401,F403

SOURCE_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
NODE = os.environ.get("NODE", "")
ARTIFACTS = os.environ.get("ARTIFACTS", "")


def listing(d):
    """Every file of d with its content hash; a -shm only by name: it is
    the WAL's index in shared memory, which any reader rebuilds after a
    crash (SQLite's recovery), not data."""
    out = {}
    for f in sorted(os.listdir(d)):
        with open(os.path.join(d, f), "rb") as fh:
            out[f] = "index" if f.endswith("-shm") else hashlib.sha256(fh.read()).hexdigest()
    return out


def journal_mode_byte(db):
    """SQLite header bytes 18-19: 1 rollback journal, 2 WAL."""
    with open(db, "rb") as f:
        head = f.read(20)
    return head[18], head[19]


def reports_leave_dir(d, db, what):
    before = listing(d)
    out = tmpdir()
    for fmt in ("folded", "top", "speedscope"):
        r = run([EMBER, "report", db, "--format", fmt])
        check(r.returncode == 0, f"{what}: report --format {fmt} reads it")
    for fmt, name in (("pprof", "p.pb.gz"), ("html", "f.html")):
        r = run([EMBER, "report", db, "--format", fmt, "-o", os.path.join(out, name)])
        check(r.returncode == 0, f"{what}: report --format {fmt} -o elsewhere")
    r = run([EMBER, "report", db, "--coverage"])
    check(r.returncode == 0, f"{what}: report --coverage")
    after = listing(d)
    check(after == before, f"{what}: the directory holds exactly what it held "
          f"({sorted(before)} -> {sorted(after)})")
    shutil.rmtree(out)


def main():
    require_root()
    split = prog("split")

    # A finished recording: one file.
    d = tmpdir()
    db = os.path.join(d, "split.db")
    r = record(db, [split, "--seconds", "2"], freq=199)
    check(r.returncode == 0, "recorded split")
    check(sorted(os.listdir(d)) == ["split.db"], f"a finished recording is one file: {os.listdir(d)}")
    check(journal_mode_byte(db) == (1, 1), "its header says rollback journal (not WAL)")
    top = run([EMBER, "report", db, "--format", "top", "--limit", "0"]).stdout.splitlines()
    total = int(top[-1].split()[0])
    written = int(read_meta(db)["samples_written"])
    check(total == written and total > 0, f"it holds every sample written ({total} of {written})")
    reports_leave_dir(d, db, "a finished recording")

    # --append continues in it and leaves one file again.
    r = record(db, [split, "--seconds", "1"], freq=199, extra=["--append"])
    check(r.returncode == 0 and sorted(os.listdir(d)) == ["split.db"],
          f"after --append still one file: {os.listdir(d)}")

    # report --format html in Chromium.
    html = os.path.join(d, "..", os.path.basename(d) + "-flame.html")
    r = run([EMBER, "report", db, "--format", "html", "-o", html])
    check(r.returncode == 0 and os.path.getsize(html) > 10000, "report --format html wrote the page")
    samples = int(run([EMBER, "report", db, "--format", "top"]).stdout.splitlines()[-1].split()[0])
    hot = run([EMBER, "report", db, "--format", "top", "--limit", "1"]).stdout.splitlines()[1].split()[4]
    hot = hot[:-4] if hot.endswith("_[i]") else hot
    if not NODE or not os.path.exists(NODE):
        fail("node was not found when meson configured this build: install nodejs")
    shot = os.path.join(ARTIFACTS, "report-html.png") if ARTIFACTS else ""
    if ARTIFACTS:
        os.makedirs(ARTIFACTS, exist_ok=True)
    b = run([NODE, os.path.join(SOURCE_ROOT, "tests/web/test-report-html.mjs"), html, "split", hot,
             str(samples)] + ([shot] if shot else []), timeout=180)
    print(b.stdout, b.stderr)
    check(b.returncode == 0, f"the HTML report opens in Chromium with split on top and {hot} hottest")
    os.unlink(html)

    # (A WAL-mode file without -wal, as older versions left recordings, is
    # tests/unit/test_import_pprof.py's: the store's own writer makes one.)

    # A recording killed with SIGKILL: its -wal and -shm are its data.
    d3 = tmpdir()
    killed = os.path.join(d3, "killed.db")
    p = subprocess.Popen([EMBER, "record", "-o", killed, "--flush", "1", "-F", "199", "--",
                          split, "--seconds", "30"], stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.5)
        try:
            con = sqlite3.connect(f"file:{killed}?mode=ro", uri=True)
            n = con.execute("select count(*) from flushes").fetchone()[0]
            con.close()
        except sqlite3.Error:
            n = 0
        if n >= 2:
            break
    with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
        children = [int(x) for x in f.read().split()]
    p.send_signal(signal.SIGKILL)
    p.wait()
    for c in children:  # the workload record started, orphaned now
        os.kill(c, signal.SIGKILL)
    check("killed.db-wal" in os.listdir(d3), f"a killed recording keeps its -wal: {os.listdir(d3)}")
    reports_leave_dir(d3, killed, "a recording killed with SIGKILL")
    for x in (d, d3):
        shutil.rmtree(x)


if __name__ == "__main__":
    main()
