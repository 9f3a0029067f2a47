#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Unit (no root): Ember's exports read back by independent decoders.

A known store (written by test-storage-export --write) goes through
`ember report` in every format: folded is parsed here and must hold the
known stacks; speedscope must be valid JSON in speedscope's file format
whose stacks and totals equal the folded ones (also for names that need
escaping); pprof is decoded by npm's pprof-format (tests/node/check-pprof.js)
and must hold the same stacks. Then `ember import` of the pprof file must
give back the same folded text, and bad files must fail cleanly.

Environment (set by tests/unit/meson.build): EMBER, EXPORT_STORE (the
test-storage-export binary), NODE, NODE_DIR (tests/node; `npm ci` at the root
installed pprof-format)."""
import json
import os
import pty
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from embertest import check, fail  # noqa: E402

EMBER = os.environ["EMBER"]
EXPORT_STORE = os.environ["EXPORT_STORE"]
NODE = os.environ["NODE"]
NODE_DIR = os.environ["NODE_DIR"]

KNOWN = {
    "app;main;compute": 30,
    "app;main;compute;inner_[i]": 20,
    "app;main;compute;write_[k];vfs_write_[k]": 5,
    "app;main;idle": 4,
    "db": 1,
    "db;main;query": 10,
}


def run(args, **kw):
    return subprocess.run(args, capture_output=True, timeout=60, **kw)


def report(db, fmt, out=None):
    args = [EMBER, "report", db, "--format", fmt] + (["-o", out] if out else [])
    r = run(args)
    if r.returncode != 0:
        fail(f"{' '.join(args)} failed: {r.stderr.decode(errors='replace')}")
    return r.stdout


def parse_folded(text):
    stacks = {}
    for line in text.decode("utf-8", errors="surrogateescape").splitlines():
        stack, _, count = line.rpartition(" ")
        stacks[stack] = stacks.get(stack, 0) + int(count)
    return stacks


def speedscope_stacks(path):
    """Validate the speedscope file's structure; return its stacks the way
    folded names them: process (the profile's name) first."""
    with open(path, "rb") as f:
        doc = json.loads(f.read().decode("utf-8"))  # strict UTF-8, strict JSON
    check(doc["$schema"] == "https://www.speedscope.app/file-format-schema.json",
          "speedscope: $schema")
    frames = doc["shared"]["frames"]
    check(all(isinstance(fr["name"], str) for fr in frames), "speedscope: every frame has a name")
    check(0 <= doc["activeProfileIndex"] < len(doc["profiles"]), "speedscope: activeProfileIndex")
    stacks = {}
    for p in doc["profiles"]:
        check(p["type"] == "sampled" and p["unit"] == "none",
              f"speedscope: profile {p['name']!r} is sampled, unit none")
        check(len(p["samples"]) == len(p["weights"]),
              f"speedscope: {p['name']!r} has one weight per sample")
        check(p["startValue"] == 0 and p["endValue"] == sum(p["weights"]),
              f"speedscope: {p['name']!r} endValue is the sum of weights ({p['endValue']})")
        for stack, w in zip(p["samples"], p["weights"]):
            assert all(0 <= i < len(frames) for i in stack), "frame index out of range"
            key = ";".join([p["name"]] + [frames[i]["name"] for i in stack])
            stacks[key] = stacks.get(key, 0) + w
    return doc, stacks


def test_known(d):
    db = os.path.join(d, "known.db")
    subprocess.run([EXPORT_STORE, "--write", db], check=True)

    folded = parse_folded(report(db, "folded"))
    check(folded == KNOWN, f"folded export holds the known stacks ({len(folded)})")
    out = os.path.join(d, "known.folded")
    report(db, "folded", out)
    with open(out, "rb") as f:
        check(parse_folded(f.read()) == KNOWN, "folded export with -o equals standard output")

    ss = os.path.join(d, "known.speedscope.json")
    report(db, "speedscope", ss)
    doc, stacks = speedscope_stacks(ss)
    check(stacks == KNOWN, "speedscope stacks and weights equal the folded export")
    files = {(fr["name"], fr.get("file"), fr.get("line")) for fr in doc["shared"]["frames"]}
    check(("compute", "app.c", 20) in files, "speedscope frames carry file and line")
    check(("write_[k]", "[kernel.kallsyms]", None) in files, "speedscope kernel frames are marked")

    pb = os.path.join(d, "known.pb.gz")
    report(db, "pprof", pb)
    r = run([NODE, os.path.join(NODE_DIR, "check-pprof.js"), pb, "--expect-folded", out],
            cwd=NODE_DIR)
    sys.stdout.write(r.stdout.decode())
    if r.returncode != 0:
        fail(f"pprof-format disagrees with the folded export: {r.stderr.decode()}")
    check(True, "pprof-format decodes the pprof export to the folded stacks")

    # Round trip: pprof -> ember import -> the same folded text.
    imported = os.path.join(d, "imported.db")
    r = run([EMBER, "import", pb, "-o", imported])
    check(r.returncode == 0, f"ember import exits 0 ({r.stderr.decode().strip()})")
    check(parse_folded(report(imported, "folded")) == KNOWN,
          "the imported profile reports the same folded stacks")
    # Importing again replaces the database instead of adding to it.
    r = run([EMBER, "import", pb, "-o", imported])
    check(r.returncode == 0 and parse_folded(report(imported, "folded")) == KNOWN,
          "importing again replaces the database")

    # Binary to a terminal is refused with a message; to a pipe it works.
    master, slave = pty.openpty()
    r = subprocess.run([EMBER, "report", db, "--format", "pprof"], stdout=slave,
                       stderr=subprocess.PIPE, timeout=60)
    os.close(slave)
    os.close(master)
    check(r.returncode == 2 and b"binary" in r.stderr,
          f"pprof to a terminal is refused: {r.stderr.decode().strip()}")
    piped = report(db, "pprof")
    check(piped[:2] == b"\x1f\x8b", "pprof to a pipe is written (gzip)")


def test_odd_names(d):
    db = os.path.join(d, "odd.db")
    subprocess.run([EXPORT_STORE, "--write-odd", db], check=True)
    ss = os.path.join(d, "odd.json")
    report(db, "speedscope", ss)
    doc, stacks = speedscope_stacks(ss)
    names = [fr["name"] for fr in doc["shared"]["frames"]]
    check("quote\"back\\slash" in names, "speedscope: quotes and backslashes survive")
    check("semi;colon\nnewline\ttab\x01" in names, "speedscope: control characters survive")
    check("bad\ufffd\ufffd utf8 \u00e9 \ufffd\ufffd" in names,
          "speedscope: invalid UTF-8 becomes U+FFFD, valid stays")
    check("snow \u2603 \U0001f525" in names, "speedscope: 3- and 4-byte UTF-8 survive")
    check(doc["profiles"][0]["name"] == 'odd "proc"', "speedscope: process name escaped")
    check(sum(stacks.values()) == 10, "speedscope: odd store total is 10")
    folded = parse_folded(report(db, "folded"))
    check(sum(folded.values()) == 10 and all(";" not in k.split(";")[0] for k in folded),
          "folded: names with ';' and newlines stay one line each")
    check(len(folded) == 2, "folded: two stacks")


def test_bad_imports(d):
    out = os.path.join(d, "bad.db")
    good = os.path.join(d, "known.pb.gz")
    with open(good, "rb") as f:
        data = f.read()
    cases = {
        "empty": b"",
        "text": b"hello, this is not a profile\n",
        "truncated-gzip": data[: len(data) // 2],
        "gzip-of-garbage": __import__("gzip").compress(b"\xff" * 100),
    }
    for name, content in cases.items():
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(content)
        r = run([EMBER, "import", path, "-o", out])
        msg = r.stderr.decode().strip()
        check(r.returncode == 1 and msg.startswith("ember: cannot import") and "\n" not in msg,
              f"import of {name}: one clear error line ({msg})")
        check(not os.path.exists(out) and
              not [f for f in os.listdir(d) if f.startswith("bad.db")],
              f"import of {name}: no database left behind")
    r = run([EMBER, "import", os.path.join(d, "missing.pb.gz"), "-o", out])
    check(r.returncode == 1 and b"No such file" in r.stderr, "import of a missing file")
    r = run([EMBER, "import", good])
    check(r.returncode == 2 and b"-o" in r.stderr, "import without -o is a usage error")
    # A file that is not an Ember database is never replaced.
    other = os.path.join(d, "notes.txt")
    with open(other, "w") as f:
        f.write("my notes\n" * 100)
    r = run([EMBER, "import", good, "-o", other])
    with open(other) as f:
        check(r.returncode == 1 and f.read() == "my notes\n" * 100,
              "import refuses to replace a file that is not an Ember database")


def main():
    if not NODE:
        fail("node was not found when the build was configured: install nodejs "
             "(scripts/test.sh does) and run 'meson setup --reconfigure'")
    if not os.path.isdir(os.path.join(NODE_DIR, "..", "..", "node_modules", "pprof-format")):
        fail(f"pprof-format is not installed: run 'npm ci' at the repository root "
             "(scripts/test.sh does)")
    with tempfile.TemporaryDirectory(prefix="ember-exports-") as d:
        test_known(d)
        test_odd_names(d)
        test_bad_imports(d)


if __name__ == "__main__":
    main()
