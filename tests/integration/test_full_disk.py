# SPDX-License-Identifier: Apache-2.0
"""A full disk and its recovery, with `ember agent` writing to a tiny tmpfs
(8 MiB) that another file fills and then frees: while it is full, flushes
fail and are counted (/metrics, the log); once there is room, writing
resumes by itself (the log and /metrics say so), the WAL stays small, and
every sample that was in a committed flush is still in the file. Then the
disk fills again, the agent is stopped while it is full, the space is
freed and a new agent continues the file: it writes from its first flush
on."""
import os
import re
import sqlite3
import subprocess
import time

from embertest import check, fail, prog, require_root, tmpdir
import webtest as w

require_root()
FLUSH = 1
WAL_LIMIT = 2 << 20   # storage's STORE_WAL_LIMIT_BYTES
mnt = tmpdir()
r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", mnt],
                   capture_output=True, text=True)
if r.returncode != 0:
    fail(f"cannot mount a tmpfs: {r.stderr.strip()}")
db = os.path.join(mnt, "agent.db")
filler = os.path.join(mnt, "filler")
work = []


def metrics(base):
    st, _, body = w.request(base, "/metrics")
    if st != 200:
        fail(f"/metrics answered {st}")
    return {k: float(v) for k, v in re.findall(r"^(ember_[a-z_]+(?:\{[^}]*\})?) ([0-9.e+]+)$",
                                                body.decode(), re.M)}


def wait_for(base, what, cond, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = metrics(base)
        if cond(m):
            return m
        time.sleep(0.5)
    fail(f"{what} within {timeout} s; /metrics: "
         + ", ".join(f"{k} {v:g}" for k, v in m.items() if "flush" in k or "write" in k))


def fill():
    """Take every free byte of the tmpfs."""
    # Unbuffered: a buffered file raises ENOSPC again when it is closed.
    with open(filler, "wb", buffering=0) as f:
        chunk = b"\0" * 65536
        while True:
            try:
                if f.write(chunk) < len(chunk):
                    chunk = chunk[:4096]
            except OSError:
                if len(chunk) <= 512:
                    break
                chunk = chunk[:len(chunk) // 8]
    st = os.statvfs(mnt)
    return st.f_bavail * st.f_frsize


def blocks():
    """(time_s, total) of every committed sample block, read-only."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return dict(con.execute("select time_s, total from sample_blocks"))
    finally:
        con.close()


def busy():
    global work
    work = [x for x in work if x.poll() is None]
    if not work:
        work.append(subprocess.Popen([prog("split"), "--seconds", "600"],
                                     stdout=subprocess.DEVNULL))


try:
    busy()
    p, base, _ = w.start(["agent", "--db", db, "--listen", "127.0.0.1:0", "--flush", str(FLUSH),
                          "-F", "49"])
    m = wait_for(base, "three flushes written", lambda m: m.get("ember_flushes_total", 0) >= 3
                 and m.get("ember_samples_written_total", 0) > 0, 60)
    check(m["ember_flush_errors_total"] == 0, "with room, flushes write")

    # Full: flushes fail, are counted, and sampling goes on.
    free = fill()
    # The agent may win back its own WAL's space between failures (the
    # checkpoint after a failed commit truncates it), so failures need not
    # come in a row: count them.
    errors0 = m["ember_flush_errors_total"]
    m = wait_for(base, "flushes failing on the full disk",
                 lambda m: m.get("ember_flush_errors_total", 0) >= errors0 + 2, 120)
    committed = blocks()
    check(free < 64 << 10 and m["ember_flush_errors_total"] >= 2,
          f"the full disk ({free} bytes free) fails flushes, counted: "
          f"{m['ember_flush_errors_total']:g} in /metrics")
    check(m['ember_dropped_samples_total{reason="database-write-failed"}'] > 0,
          "their samples are counted as database-write-failed")
    seen = m["ember_samples_total"]
    time.sleep(2 * FLUSH)
    check(metrics(base)["ember_samples_total"] > seen, "sampling goes on while the disk is full")

    # Room again: writing resumes by itself.
    os.unlink(filler)
    m = wait_for(base, "writing resumed after the space came back",
                 lambda m: m.get("ember_database_write_resumes_total", 0) >= 1
                 and m.get("ember_database_write_failing", 1) == 0, 60)
    check(True, f"writing resumed: /metrics says so (write_failing 0, resumes "
          f"{m['ember_database_write_resumes_total']:g})")
    flushes = m["ember_flushes_total"]
    errors = m["ember_flush_errors_total"]
    wal_max = 0
    while metrics(base)["ember_flushes_total"] < flushes + 10:
        wal_max = max(wal_max, os.path.getsize(db + "-wal") if os.path.exists(db + "-wal") else 0)
        time.sleep(0.3)
    m = metrics(base)
    check(m["ember_flush_errors_total"] == errors and
          m["ember_database_write_failing"] == 0, "the next ten flushes all write")
    check(wal_max <= WAL_LIMIT + (1 << 20),
          f"the WAL stays small over ten flushes: at most {wal_max >> 10} KiB")
    now = blocks()
    lost = [t for t, n in committed.items() if now.get(t, -1) < n]
    check(not lost, f"every sample of the {len(committed)} flushes committed before the disk "
          "filled is still in the file")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    failed_in_file = con.execute("select sum(count) from drops d join strings s on s.id = d.reason "
                                 "where s.text = 'database-write-failed'").fetchone()[0] or 0
    con.close()
    check(failed_in_file > 0, f"the file records the {failed_in_file} samples the full disk cost")

    # Full again, stopped while full, restarted once there is room.
    # Flushes fail again only once the WAL file, which the agent keeps and
    # reuses, must grow: that may take long, and the restart below does
    # not depend on it (the agent already failed flushes in its life).
    fill()
    deadline = time.time() + 30
    while time.time() < deadline and metrics(base).get("ember_database_write_failing", 0) < 1:
        time.sleep(0.5)
    rc, err = w.stop(p)
    check("resumed" in err, "the log says that writing resumed: "
          + next((x for x in err.splitlines() if "resumed" in x), "(no line)"))
    check(rc != 0, f"an agent stopped with flushes that failed exits non-zero ({rc})")
    os.unlink(filler)
    before = blocks()
    p, base, _ = w.start(["agent", "--db", db, "--listen", "127.0.0.1:0", "--flush", str(FLUSH),
                          "-F", "49"])
    m = wait_for(base, "the restarted agent writing", lambda m: m.get("ember_flushes_total", 0) >= 5,
                 60)
    check(m["ember_flush_errors_total"] == 0,
          "restarted on a disk with room again, the agent writes from its first flush")
    wal = os.path.getsize(db + "-wal") if os.path.exists(db + "-wal") else 0
    check(wal <= WAL_LIMIT + (1 << 20), f"and its WAL is small ({wal >> 10} KiB)")
    rc, err = w.stop(p)
    check(rc == 0, "it stops cleanly")
    after = blocks()
    check(all(after.get(t, -1) >= n for t, n in before.items()) and len(after) > len(before),
          f"the file keeps what it held and gained {len(after) - len(before)} blocks")
finally:
    for x in work:
        x.kill()
    subprocess.run(["umount", "-l", mnt])
