#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Privileged: one function table everywhere. On one recording (the `split`
test program, whose leaves have burn() inlined into them, then `recurse`,
appended, which recurses 20 deep), `ember report --format top`, the head
side of `ember diff --format json` and the web API's /api/v1/top show every
function with the same self and total, and those are what the folded
stacks give by the rule storage.h states: total = samples whose stack
holds the function (recursion once); self = samples whose leaf is the
function, and an inlined leaf's also for the function it is inlined into."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
from embertest import check, fail, folded, prog, record, require_root, run, tmpdir, EMBER  # noqa: E402
import webtest as w  # noqa: E402

require_root()
d = tmpdir()
db = os.path.join(d, "one.db")
# On a machine with little CPU free, record again (--append) until the
# profile has enough samples for every leaf to show.
for k in range(6):
    r = record(db, [prog("split"), "--seconds", "2"], freq=499, extra=["--append"] if k else [])
    check(r.returncode == 0, "recorded split" + (f" (run {k + 1})" if k else ""))
    if sum(c for _, c in folded(db)) >= 1000:
        break
r = record(db, [prog("recurse"), "--seconds", "1", "--depth", "20"], freq=499, extra=["--append"])
check(r.returncode == 0, "appended recurse")

SUFFIX = {"_[k]": "kernel", "_[i]": "inlined", "_[j]": "jit"}


def name_kind(frame):
    for s, k in SUFFIX.items():
        if frame.endswith(s):
            return frame[:-len(s)], k
    return frame, "user"


# ---- ground truth from the folded stacks, by the rule in storage.h
truth = {}
stacks = folded(db)
for frames, count in stacks:
    fs = [name_kind(f) for f in frames[1:]]  # the process name is no function
    if not fs:
        continue
    for f in set(fs):
        truth.setdefault(f, [0, 0])[1] += count
    leaf = fs[-1]
    truth[leaf][0] += count
    if leaf[1] == "inlined":
        j = len(fs) - 2
        while j >= 0 and fs[j][1] == "inlined":
            j -= 1
        if j >= 0:
            truth[fs[j]][0] += count
samples = sum(c for _, c in stacks)
inl = {f for f in truth if f[1] == "inlined"}
check(("burn", "inlined") in inl and truth[("burn", "inlined")][0] > samples // 2,
      f"burn() is inlined into the leaves and is the leaf of most samples ({sorted(inl)})")
for leafname in ("leaf_a", "leaf_b", "leaf_c", "deep_leaf"):
    t = truth.get((leafname, "user"))
    check(t and t[0] > 0, f"{leafname} has self samples through its inlined burn() ({t})")
check(truth.get(("descend", "user"), [0, 0])[1] > 0, "descend() recursed")

# Functions are (name, module, kind). Report prints each as its text
# (name, marker, the module's file name); diff and the API give the fields.
def table(rows):
    out = {}
    for key, v in rows:
        if key in out:
            fail(f"two rows for {key}")
        out[key] = v
    return out


def by_name(t):
    """(name, kind) -> (self, total) summed over modules: what the folded
    stacks, which have no module, can be held against (burn() is inlined
    in split and in recurse)."""
    out = {}
    for (name, kind, _), (s_, t_) in t.items():
        v = out.setdefault((name, kind), [0, 0])
        v[0] += s_
        v[1] += t_
    return {k: tuple(v) for k, v in out.items()}


def as_report(key):
    """The text `ember report --format top` prints for a function."""
    name, kind, module = key
    suffix = {v: k for k, v in SUFFIX.items()}.get(kind, "")
    if not module or module == "[unknown]":
        return name + suffix
    return name + suffix + (" " + module if module.startswith("[") else f" [{module}]")


# ---- ember report --format top
r = run([EMBER, "report", db, "--format", "top", "--limit", "0"])
check(r.returncode == 0, f"report --format top ({r.stderr.strip()})")
rows = []
for line in r.stdout.splitlines()[1:]:
    if "total:" in line:
        break
    m = re.match(r"\s*(\d+)\s+[\d.]+%\s+(\d+)\s+[\d.]+%  (.+)$", line)
    if not m:
        fail(f"report: unexpected line {line!r}")
    rows.append((m.group(3), (int(m.group(1)), int(m.group(2)))))
report = table(rows)

# ---- ember diff: the head side of a profile against itself
r = run([EMBER, "diff", db, db, "--format", "json", "--min-samples", "1"])
check(r.returncode == 0, f"diff of a profile with itself: exit 0 ({r.returncode}, {r.stderr.strip()})")
rep = json.loads(r.stdout)
counts = {}
for c in rep["changes"]:
    key = (c["function"], c["kind"], os.path.basename(c["module"] or ""))
    # a metric whose count is 0 on both sides has no row
    counts.setdefault(key, [0, 0])[0 if c["metric"] == "self" else 1] = c["head_count"]
diff = {k: tuple(v) for k, v in counts.items()}

# ---- the web API
p, base, _ = w.start(["serve", "--db", db, "--listen", "127.0.0.1:0"])
top = w.get_json(base, "/api/v1/top?limit=0")
w.stop(p)
kinds = {0: "user", 1: "kernel", 2: "inlined", 3: "jit"}
api = table(((f["name"], kinds[f["kind"]], os.path.basename(f["module"])), (f["self"], f["total"]))
            for f in top["functions"])
check(top["samples"] == samples, f"/top counts every sample ({top['samples']} of {samples})")

# ---- all agree, with each other and with the folded stacks
check(diff == api, f"diff and the web API: the same {len(api)} functions with the same self and total "
      f"(differing: {[(k, diff.get(k), api.get(k)) for k in set(diff) | set(api) if diff.get(k) != api.get(k)][:5]})")
as_text = table((as_report(k), v) for k, v in api.items())
check(report == as_text, f"report and the web API: the same {len(report)} functions with the same self and total "
      f"(differing: {[(k, report.get(k), as_text.get(k)) for k in set(report) | set(as_text) if report.get(k) != as_text.get(k)][:5]})")
named = by_name(api)
wrong = [(f, named.get(f), tuple(truth[f])) for f in set(truth) | set(named) if named.get(f) != tuple(truth.get(f, ()))]
check(not wrong, f"self and total of every function as the folded stacks give them "
      f"({len(named)} functions; differing: {wrong[:5]})")
for f in (("burn", "inlined", "split"), ("burn", "inlined", "recurse"), ("leaf_a", "user", "split")):
    check(f in api and api[f][0] > 0, f"{f[0]} ({f[1]}, in {f[2]}) in all three with self: {api.get(f)}")
f = ("descend", "user", "recurse")
check(f in api and api[f][1] > 0, f"descend (recursing) in all three with its total once: {api.get(f)}")
print("ok")
