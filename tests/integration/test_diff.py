#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Privileged: `ember diff` on real recordings. The `split` test program
runs 6:3:1 as the base and 6:3:2 as the head (leaf_c does twice the work):
diff must exit 1 and name exactly leaf_c (self) and its caller run_c
(total), growing by a plausible amount, with its run-to-run noise beside
the change. Both are recorded the README's way, with --repeat, whose runs
diff keeps apart; one run per side (--filter run=1) says that it cannot see
run-to-run noise. Two recordings of the same program, also of different
lengths, must exit 0. Bad input exits 2 with a clear message."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from embertest import *  # noqa: F401,F403

SOURCE_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def diff(base, head, *extra):
    r = run([EMBER, "diff", base, head, *extra])
    sys.stderr.write(r.stderr)
    return r


def main():
    require_root()
    d = tmpdir()
    split = prog("split")

    def rec(name, seconds, weights="6:3:1"):
        """Record split with --repeat 3; on a machine with little CPU free,
        go on with --append (its runs continue the numbering) until the
        profile has the ~3,000 samples the checks below need for their
        power (as a CI job would record longer)."""
        db = os.path.join(d, name + ".db")
        for k in range(6):
            r = record(db, [split, "--seconds", str(seconds), "--threads", "2",
                            "--weights", weights], freq=999,
                       extra=["--repeat", "3"] + (["--append"] if k else []))
            check(r.returncode == 0, f"recorded {name}" + (f" (run {k + 1})" if k else ""))
            if total(folded(db)) >= 3000:
                break
        return db

    base = rec("base", 1)
    head = rec("head", 1, "6:3:2")
    same = rec("same", 1)
    longer = rec("longer", 2)

    r = diff(base, head, "--format", "json")
    check(r.returncode == 1, f"doubled leaf_c: exit 1 (got {r.returncode})")
    rep = json.loads(r.stdout)
    regs = [c for c in rep["changes"] if c["regression"]]
    self_regs = {c["function"] for c in regs if c["metric"] == "self"}
    total_regs = {c["function"] for c in regs if c["metric"] == "total"}
    check(self_regs == {"leaf_c"}, f"exactly leaf_c regressed in self time ({self_regs})")
    # Callers of leaf_c may grow in total terms; nothing else may.
    callers = {f for fr, _ in folded(head) if leaf(fr) == "leaf_c" for f in fr[1:]}
    check({"leaf_c", "run_c"} <= total_regs <= callers,
          f"leaf_c and its callers (run_c, ...) regressed in total, nothing else ({total_regs})")
    lc = next(c for c in regs if c["function"] == "leaf_c" and c["metric"] == "self")
    # 1/10 of the work -> 2/11: +8.2 points
    check(4.0 < lc["delta_pp"] < 12.0, f"leaf_c grew by a plausible {lc['delta_pp']:.2f} points")
    check(lc["head_share"] > lc["base_share"], "direction: head share is larger")
    check(rep["base"]["runs"] >= 3 and rep["head"]["runs"] >= 3 and not rep["dispersion_assumed"],
          f"the runs kept apart ({rep['base']['runs']}, {rep['head']['runs']})")
    check(lc["dispersion"] >= 1 and 0 < lc["noise_pp"] < lc["delta_pp"] and lc["run_sd_pp"] is not None,
          f"leaf_c's run-to-run noise beside its change ({lc['noise_pp']}, {lc['run_sd_pp']})")
    r = run([EMBER, "report", base, "--format", "top", "--filter", "run=1"])
    check(r.returncode == 0 and "leaf_a" in r.stdout, "each run is labelled run=N")
    check(rep["regressions"] == len(self_regs | total_regs),
          f"the regression count is the number of functions ({rep['regressions']})")
    check(not any(c["regression"] for c in rep["changes"] if c["function"] in ("leaf_a", "leaf_b")),
          "leaf_a and leaf_b are not regressions")

    r = diff(base, head)
    check(r.returncode == 1 and "leaf_c" in r.stdout and "FAIL" in r.stdout, "text report names leaf_c")
    check("noise" in r.stdout and "Runs: base" in r.stdout, "text report: runs and noise")
    r = diff(base, head, "--filter", "run=1")
    check("run-to-run noise cannot be seen" in r.stdout,
          f"one run per side: the report says it cannot see run-to-run noise:\n{r.stdout}")
    r = diff(base, head, "--format", "markdown")
    check(r.returncode == 1 and "| `leaf_c` |" in r.stdout, "markdown table row for leaf_c")
    out = os.path.join(d, "report.md")
    r = diff(base, head, "--format", "markdown", "-o", out)
    check(r.returncode == 1 and "leaf_c" in open(out).read(), "report written with -o")

    # The HTML report in Chromium: leaf_c drawn as grown, both shares in
    # its tooltip, listed as a regression; no server, no network.
    html = os.path.join(d, "diff.html")
    r = diff(base, head, "--html", html, "--format", "json")
    check(r.returncode == 1 and os.path.getsize(html) > 10000, "--html writes the report")
    lc_total = next(c for c in json.loads(r.stdout)["changes"]
                    if c["function"] == "leaf_c" and c["metric"] == "total")
    artifacts = os.environ.get("ARTIFACTS", d)
    os.makedirs(artifacts, exist_ok=True)
    node = os.environ.get("NODE") or "node"
    b = run([node, os.path.join(SOURCE_ROOT, "tests/web/test-diff-html.mjs"), html, "leaf_c",
             f"{100 * lc_total['base_share']:.4f}", f"{100 * lc_total['head_share']:.4f}",
             os.path.join(artifacts, "diff-report.png")], timeout=120)
    sys.stderr.write(b.stdout + b.stderr)
    check(b.returncode == 0, "Chromium: leaf_c is red, its tooltip shows both shares, the table lists it")

    # pprof on one side (exported from the head database), database on the
    # other: the same verdict.
    pb = os.path.join(d, "head.pb.gz")
    r = run([EMBER, "report", head, "--format", "pprof", "-o", pb])
    check(r.returncode == 0, "head exported as pprof")
    # A pprof file has no runs: against the base's three, the test would
    # have 2 degrees of freedom, too few to see anything at Holm's alpha.
    # Compared with a base of one run (recorded without --repeat, on until
    # it has 1,500 samples whatever CPU the machine has free), told the
    # noise is sampling's alone (--dispersion 1, as a user who measured it
    # would), the doubled leaf_c is many standard errors away.
    one = os.path.join(d, "base-one-run.db")
    for k in range(20):
        r = record(one, [split, "--seconds", "1", "--threads", "2", "--weights", "6:3:1"], freq=999,
                   extra=["--append"] if k else [])
        check(r.returncode == 0, "recorded a one-run base" + (f" (part {k + 1})" if k else ""))
        if total(folded(one)) >= 1500:
            break
    r = diff(one, pb, "--format", "json", "--dispersion", "1")
    rep = json.loads(r.stdout) if r.stdout else {"changes": []}
    check(r.returncode == 1 and any(c["function"] == "leaf_c" and c["metric"] == "self" and c["regression"]
                                    for c in rep["changes"]),
          f"database vs pprof: leaf_c regressed, exit 1 (exit {r.returncode}; samples "
          f"{rep.get('base', {}).get('samples')} / {rep.get('head', {}).get('samples')}; leaf_c: "
          f"{[c for c in rep['changes'] if c['function'] == 'leaf_c']}; {r.stderr.strip()[-300:]})")
    b1 = os.path.join(d, "base-one-run.pb.gz")
    r = run([EMBER, "report", one, "--format", "pprof", "-o", b1])
    check(r.returncode == 0, "the one-run base exported as pprof")
    r = diff(pb, b1, "--dispersion", "1")
    check(r.returncode in (0, 1) and "leaf_c" in r.stdout, "pprof as the base works too")

    r = diff(base, same)
    check(r.returncode == 0, f"two recordings of the same program: exit 0 (got {r.returncode}):\n{r.stdout}")
    r = diff(base, longer)
    check(r.returncode == 0, f"same split, 3 s vs 6 s: exit 0 (got {r.returncode}):\n{r.stdout}")
    # Reversed, leaf_c's shrinking is an improvement (leaf_a's and leaf_b's
    # shares grow instead: shares add up to 100%).
    r = diff(head, base, "--format", "json")
    rep = json.loads(r.stdout)
    check(any(c["improvement"] and c["function"] == "leaf_c" and c["metric"] == "self"
              for c in rep["changes"]), "reversed: leaf_c is an improvement")

    # Bad input: exit 2 with a clear message.
    def bad(args, text):
        r = run([EMBER, "diff", *args])
        check(r.returncode == 2, f"diff {' '.join(args)}: exit 2 (got {r.returncode})")
        check(text in r.stderr and r.stderr.startswith("ember: "), f"message mentions {text!r}: {r.stderr.strip()!r}")

    bad([base], "give two profiles")
    bad([base, os.path.join(d, "missing.db")], "no such file")
    bad([base, head, "--threshold", "150"], "out of range")
    bad([base, head, "--alpha", "0"], "out of range")
    bad([base, head, "--alpha", "x"], "expects a number")
    bad([base, head, "--format", "html"], "unknown format")
    bad([base, head, "--dispersion", "0.5"], "out of range")
    bad([base, head, "--filter", "process=no-such-process"], "holds no samples in the given range and filter")
    bad([base, head, "--from", "yesterday-ish"], "cannot read time")
    sleeper = subprocess.Popen(["sleep", "5"])
    empty = os.path.join(d, "empty.db")
    r = run([EMBER, "record", "-o", empty, "-p", str(sleeper.pid), "-d", "1"])
    sleeper.kill()
    sleeper.wait()
    check(r.returncode == 0, "recorded a sleeping process")
    bad([base, empty], "holds no samples")
    junk = os.path.join(d, "junk")
    with open(junk, "w") as f:
        f.write("not a profile")
    bad([junk, base], "is neither an Ember database nor a pprof profile")


if __name__ == "__main__":
    main()
