#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Privileged: the store survives what happens to an agent. A real `ember
record --append` is killed with SIGKILL at random moments, several times
over the same file: each time the file passes PRAGMA integrity_check, keeps
every earlier flush, and the next `--append` run continues in it. Then a
full disk (a tmpfs in a private mount namespace, shrunk to what is in use
while recording, grown again later): flushes fail and are counted, sampling
goes on, writing resumes, and every sample is accounted for."""
import os
import zlib
import random
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from embertest import *  # noqa: F401,F403


def integrity(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("pragma integrity_check").fetchone()[0]
    finally:
        con.close()


def query(db, sql):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql).fetchone()[0] or 0
    finally:
        con.close()


# Progress is waited for (a flush in the file, a line on stderr), however
# long a busy machine makes it take; this limit only catches a hang, and
# the test then fails saying what did not happen.
HANG_S = 240


def flushes_in(db):
    """Flushes committed to db so far (0 while it has none, or no tables
    yet: a writer is creating it)."""
    try:
        return query(db, "select count(*) from flushes")
    except sqlite3.Error:
        return 0


def wait_flushes(db, n, p, what):
    """Wait until db holds more than n flushes while p records into it."""
    deadline = time.time() + HANG_S
    while flushes_in(db) <= n:
        if p.poll() is not None:
            fail(f"{what}: ember record exited ({p.returncode}) before a flush")
        if time.time() > deadline:
            fail(f"{what}: no flush in {HANG_S} s (hung?)")
        time.sleep(0.1)


def kill_rounds(d, split):
    db = os.path.join(d, "agent.db")
    seed = int(time.time())
    random.seed(seed)
    print(f"seed {seed}")
    work = subprocess.Popen([split, "--seconds", "60"], stdout=subprocess.DEVNULL)
    try:
        prev_samples = prev_flushes = 0
        for rnd in range(6):
            p = subprocess.Popen([EMBER, "record", "--append", "--flush", "1", "-F", "199",
                                  "--label", f"round={rnd}", "-a", "-o", db],
                                 stderr=subprocess.DEVNULL)
            # at a random moment after it wrote a flush of its own (a new
            # one is due every second: the kill may land inside one)
            wait_flushes(db, prev_flushes, p, f"round {rnd}")
            time.sleep(random.random() * 2)
            p.send_signal(signal.SIGKILL)
            p.wait()
            check(p.returncode == -signal.SIGKILL, f"round {rnd}: ember record killed by SIGKILL")
            check(integrity(db) == "ok", f"round {rnd}: integrity_check is ok after kill -9")
            samples = query(db, "select sum(total) from sample_blocks")
            flushes = query(db, "select count(*) from flushes")
            check(samples >= prev_samples and flushes > prev_flushes,
                  f"round {rnd}: earlier flushes kept and new ones added "
                  f"({prev_flushes} -> {flushes} flushes, {prev_samples} -> {samples} samples)")
            r = run([EMBER, "report", db, "--filter", f"round={rnd}", "--format", "top"])
            check(r.returncode == 0, f"round {rnd}: report reads the file ({r.stderr.strip()!r})")
            prev_samples, prev_flushes = samples, flushes
        # A clean run continues in the same file and marks it complete.
        r = run([EMBER, "record", "--append", "-a", "-d", "2", "-o", db, "--label", "round=clean"])
        check(r.returncode == 0, f"a clean --append run after the kills exits 0 ({r.stderr.strip()!r})")
        check(query(db, "select sum(total) from sample_blocks") > prev_samples, "it added samples to the file")
        check(read_meta(db).get("status") == "complete", "the file is complete again")
        check(integrity(db) == "ok", "integrity_check ok at the end")
        stacks = folded(db, ["--filter", "round=~[0-5]"])
        check(total(stacks) > 0, "every killed round's data is still filterable by its label")
    finally:
        work.kill()
        work.wait()

    # --append never replaces another application's file.
    junk = os.path.join(d, "junk.db")
    with open(junk, "wb") as f:
        f.write(b"not a database\n" * 100)
    r = run([EMBER, "record", "--append", "-a", "-d", "1", "-o", junk])
    check(r.returncode == 1 and "not an Ember database" in r.stderr,
          f"--append on a foreign file is refused ({r.stderr.strip()!r})")
    with open(junk, "rb") as f:
        check(f.read() == b"not a database\n" * 100, "the foreign file is untouched")


# Run in a private mount namespace: record -a into a tmpfs; after its
# first flush the tmpfs shrinks to what is in use, and grows again once
# record said writing failed; once it said writing resumed, SIGINT. Each
# step waits for the one before (a flush in the file, a line on stderr),
# at most hang_s: past that it says what did not happen, and stops.
FULL_DISK = r'''
import os, signal, sqlite3, subprocess, sys, time
mnt, ember, split, out, hang_s = sys.argv[1:6]
hang_s = float(hang_s)
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "ember-test", mnt], check=True)
db = os.path.join(mnt, "full.db")
log = os.path.join(os.path.dirname(out), "full-disk.log")
work = subprocess.Popen([split, "--seconds", "600"], stdout=subprocess.DEVNULL)
p = subprocess.Popen([ember, "record", "--flush", "1", "-F", "499", "-a", "-o", db],
                     stderr=open(log, "w"))


def flushes():
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return con.execute("select count(*) from flushes").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def wait(cond, what):
    deadline = time.time() + hang_s
    while not cond():
        if p.poll() is not None or time.time() > deadline:
            print(f"STEP {what} did not happen in {hang_s:.0f} s (record: {p.poll()})")
            return False
        time.sleep(0.1)
    return True


def said(text):
    with open(log) as f:
        return text in f.read()


ok = wait(lambda: flushes() >= 1, "a first flush")
if ok:
    # Shrink the file system to what is in use: the next growth fails.
    st = os.statvfs(mnt)
    used_kb = (st.f_blocks - st.f_bfree) * st.f_frsize // 1024
    subprocess.run(["mount", "-o", f"remount,size={used_kb}k", mnt], check=True)
    ok = wait(lambda: said("sampling goes on"), "a failed flush")
    subprocess.run(["mount", "-o", "remount,size=64m", mnt], check=True)
    print(f"GROWN {int(time.time())}")
if ok:
    ok = wait(lambda: said("resumed;"), "writing resumed")
p.send_signal(signal.SIGINT)
try:
    p.wait(timeout=hang_s)
except subprocess.TimeoutExpired:
    print(f"STEP record stopping on SIGINT did not happen in {hang_s:.0f} s")
    p.kill()
    p.wait()
work.kill()
with open(log) as f:
    sys.stderr.write(f.read())
print(f"STATUS {p.returncode}")
import shutil
shutil.copy(db, out)
'''


def full_disk(d, split):
    mnt = os.path.join(d, "mnt")
    os.mkdir(mnt)
    out = os.path.join(d, "full-copy.db")
    r = run(["unshare", "-m", "--propagation", "private", sys.executable, "-c", FULL_DISK,
             mnt, EMBER, split, out, str(HANG_S)], timeout=5 * HANG_S)
    sys.stderr.write(r.stderr)
    check("STATUS" in r.stdout and "STEP" not in r.stdout,
          f"the full-disk run finished each step ({r.stdout.strip()!r})")
    status = int(r.stdout.split("STATUS")[1].split()[0])
    check("disk" in r.stderr and "full" in r.stderr, "the full disk is reported")
    check("sampling goes on" in r.stderr, "the user is told sampling goes on")
    check("resumed" in r.stderr, "writing resumed once there was room")
    check(status == 1, f"record -a exits 1 after failed flushes (got {status})")
    check(integrity(out) == "ok", "the file passes integrity_check")
    lost = query(out, "select sum(d.count) from drops d join strings s on s.id = d.reason "
                      "where s.text = 'database-write-failed'")
    check(lost > 0, f"the lost samples are in the file as drops ({lost})")
    meta = read_meta(out)
    written = query(out, "select sum(total) from sample_blocks")
    check(written == int(meta["samples_written"]),
          f"samples in the file ({written}) = samples written ({meta['samples_written']})")
    # The kernel goes on counting while the final flush is written (-a),
    # so the kernel's count may only be larger.
    check(int(meta["samples_written"]) + int(meta["samples_dropped"]) <= int(meta["samples_kernel"]),
          f"written + dropped <= counted in the kernel ({meta['samples_written']} + "
          f"{meta['samples_dropped']} vs {meta['samples_kernel']})")
    summary = int(r.stderr.split("database-write-failed ")[-1].split(")")[0])
    check(summary == lost, f"the summary's database-write-failed ({summary}) = drops in the file ({lost})")
    grown = int(r.stdout.split("GROWN")[1].split()[0])
    after = query(out, f"select count(*) from flushes where time_s + duration_s >= {grown}")
    check(after >= 1, f"flushes were written after the disk had room again ({after})")


def bad(args, code, text):
    r = run([EMBER] + args)
    check(r.returncode == code and text in r.stderr and r.stderr.startswith("ember: ")
          and "Segmentation" not in r.stderr,
          f"{' '.join(args[2:])!r} exits {code} with {text!r} (got {r.returncode}: {r.stderr.strip()!r})")


def report_errors(d):
    """ember report on bad filters, ranges and damaged files: one clear
    line, no crash, the file unchanged."""
    db = os.path.join(d, "agent.db")
    with open(db, "rb") as f:
        before = f.read()
    bad(["report", db, "--filter", "process"], 2, "expected =, !=, =~ or !~ after label 'process'")
    bad(["report", db, "--filter", "process=~("], 2, "bad regular expression")
    bad(["report", db, "--filter", "a=1,"], 2, "expected a label name")
    bad(["report", db, "--from", "yesterday"], 2, "cannot read time 'yesterday'")
    bad(["report", db, "--from", "-1h", "--to", "-2h"], 2, "inverted")
    bad(["report", db, "--from", "2001-01-01", "--to", "2001-01-02"], 1, "outside the recording")
    r = run([EMBER, "report", db, "--from", "-1d", "--to", "now", "--filter", "process=~.*", "--format", "top"])
    check(r.returncode == 0 and "FUNCTION" in r.stdout, "a good range and filter work")
    with open(db, "rb") as f:
        check(f.read() == before, "report never modified the file")

    # A newer schema, a corrupt page: clean errors.
    newer = os.path.join(d, "newer.db")
    with open(newer, "wb") as f:
        data = bytearray(before)
        data[60:64] = (99).to_bytes(4, "big")
        # As a newer Ember would write it: page 1 keeps a valid checksum
        # (CRC32 of all but the 8 reserved bytes, then "EMBc").
        size = int.from_bytes(data[16:18], "big") or 65536
        crc = zlib.crc32(bytes(data[:size - 8]))
        data[size - 8:size] = crc.to_bytes(4, "little") + b"EMBc"
        f.write(data)
    bad(["report", newer], 1, "newer Ember")
    with open(newer, "wb") as f:
        data[100] ^= 1
        f.write(data)
    bad(["report", newer], 1, "damaged")
    corrupt = os.path.join(d, "corrupt.db")
    with open(corrupt, "wb") as f:
        data = bytearray(before)
        page = int.from_bytes(data[16:18], "big") or 65536
        for p in range(2, len(data) // page):
            data[p * page:p * page + 64] = b"\xa5" * 64
        f.write(data)
    r = run([EMBER, "report", corrupt])
    check(r.returncode == 1 and r.stderr.startswith("ember: ") and "Segmentation" not in r.stderr,
          f"a file with corrupt pages gives a clean error ({r.stderr.strip()!r})")


def main():
    require_root()
    d = tmpdir()
    split = prog("split")
    if os.environ.get("ONLY_FULL") is None:
        kill_rounds(d, split)
        report_errors(d)
    full_disk(d, split)


if __name__ == "__main__":
    main()
