# SPDX-License-Identifier: Apache-2.0
"""A damaged database is never read as other stacks. A recording of split
and syscalls (a flush a second) gets one bit flipped, in turn, in every page of the file
(sample blocks, the packed stack/frame/function tables, strings, label
sets, SQLite's B-tree pages, the header): `ember report`, `ember diff` and
`ember serve`'s API each either give exactly the original answer, or fail
(non-zero exit, a 5xx JSON error) with a message that says the file is
damaged and names the time range (or that every range is affected)."""
import json
import os
import random
import re
import shutil

from embertest import EMBER, check, fail, prog, record, require_root, run, tmpdir
import webtest as w

require_root()
d = tmpdir()
db = os.path.join(d, "orig.db")
r = record(db, [prog("split"), "--seconds", "4"], freq=499, extra=["--flush", "1"])
if r.returncode != 0:
    fail("record failed")
# Kernel frames by construction (split alone may have none on a quiet
# machine): a second of a program that lives in system calls, appended.
r = record(db, [prog("syscalls"), "--seconds", "1"], freq=499, extra=["--flush", "1", "--append"])
if r.returncode != 0:
    fail("record --append of syscalls failed")
with open(db, "rb") as f:
    orig = f.read()
page = int.from_bytes(orig[16:18], "big")
page = 65536 if page == 1 else page
check(orig[20] == 8, f"the file reserves 8 bytes per page for checksums ({len(orig) // page} pages)")


def report(path):
    return run([EMBER, "report", path, "--format", "folded"])


def diff(path):
    r = run([EMBER, "diff", path, db, "--format", "json"])
    r.stdout = r.stdout.replace(json.dumps(path), json.dumps(db))  # the base's path
    return r


base_report = report(db)
base_diff = diff(db)
check(base_report.returncode == 0 and base_report.stdout.count("\n") > 3, "the original reads")
srv, base, _ = w.start(["serve", "--db", db, "--listen", "127.0.0.1:0"])
st, _, base_tree = w.request(base, "/api/v1/tree")
w.stop(srv)
check(st == 200, "the original's tree over HTTP")

MARKS = ("damaged", "corrupt")


def named(msg):
    """The message says the file is damaged and what it affects."""
    return any(m in msg for m in MARKS) and (" and " in msg or "every time range" in msg
                                             or "header" in msg or " at " in msg
                                             or "range" in msg or "cannot open" in msg
                                             or "cannot serve" in msg)


rnd = random.Random(14)
bad = damaged = exact = 0
cases = [(0, rnd.randrange(24, 100))]  # the header
cases += [(p, rnd.randrange(page)) for p in range(len(orig) // page)]
for pg, off in cases:
    data = bytearray(orig)
    at = pg * page + off
    data[at] ^= 1 << rnd.randrange(8)
    path = os.path.join(d, f"flip-{pg}-{off}.db")
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)
    for what, res, want in (("report", report(path), base_report),
                            ("diff", diff(path), base_diff)):
        if res.returncode == want.returncode and res.stdout == want.stdout:
            exact += 1
        elif res.returncode != 0 and named(res.stderr):
            damaged += 1
        else:
            bad += 1
            print(f"page {pg} byte {off}: {what} exit {res.returncode}, "
                  f"{'same' if res.stdout == want.stdout else 'different'} output, "
                  f"stderr: {res.stderr.strip()[-300:]!r}")
    r = run([EMBER, "serve", "--db", path, "--listen", "127.0.0.1:1"], timeout=10) \
        if pg == 0 else None
    if r is not None and r.returncode != 0:
        # A damaged header: serve refuses to start, saying why.
        st, body = 599, json.dumps({"error": r.stderr}).encode()
    else:
        srv, base, _ = w.start(["serve", "--db", path, "--listen", "127.0.0.1:0"])
        st, _, body = w.request(base, "/api/v1/tree")
        w.stop(srv)
    if st == 200 and body == base_tree:
        exact += 1
    elif st >= 500 and named(json.loads(body).get("error", "")):
        damaged += 1
    else:
        bad += 1
        print(f"page {pg} byte {off}: serve answered {st}: {body[:300]!r}")
    os.unlink(path)
check(bad == 0, f"{len(cases)} flipped bits: every reader gave the original answer ({exact}) "
      f"or an error naming the damage ({damaged}), never other stacks")
check(damaged > len(cases), "the flips were seen (most pages are read by every query)")

# No kernel address anywhere a reader sees (KASLR): not in names, not in
# the speedscope or the API's JSON (pprof's addresses are the stored
# offsets, which for kernel frames are offsets in the function).
kaddr = re.compile(r"(?i)(0x)?ffff[89a-f][0-9a-f]{11}")
speed = run([EMBER, "report", db, "--format", "speedscope"])
texts = {"folded": base_report.stdout, "speedscope": speed.stdout,
         "API tree": base_tree.decode(errors="replace")}
check("_[k]" in base_report.stdout, "the recording has kernel frames")
for what, text in texts.items():
    m = kaddr.search(text)
    check(not m and "[kernel]+0x" not in text,
          f"{what}: no kernel address{' (found ' + m.group(0) + ')' if m else ''}")
