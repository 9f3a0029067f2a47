#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Privileged: Ember against perf --call-graph dwarf on real programs
nobody here wrote, the cases of bench/accuracy that fit in a minute each
(this test imports it): Debian's python3 in a loop, bash in a loop, gzip -9,
xz -9 -T2 (two worker threads), cppcheck (C++ with exceptions and deep
stacks) and node with JIT frames. Both profilers are attached to the same
process for the same window (the program is stopped while they attach).
Perf is the cross-check: every top-10 self function's share must be within
2 points of perf's, or within 3.5 standard errors of the difference when
counts are small (a busy machine gives the program less CPU, so fewer
samples); and Ember's stacks must reach the process's root at least as
often as perf's, within the same error.

Both name PLT stubs (memcpy@plt): the sqlite3 shell, whose library spends
about 5 % of its samples in them, checks that."""
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from embertest import *  # noqa: F401,F403

PROGRAMS = ["python3", "sqlite3", "bash", "gzip", "xz-threads", "cppcheck", "node"]
SECONDS = 4
Z = 3.5  # standard errors: ~60 comparisons, none may fail by chance


def main():
    require_root()
    acc = load_bench("accuracy")
    args = acc.parse_args(["--ember", EMBER, "--seconds", str(SECONDS),
                           "--programs", ",".join(PROGRAMS)])
    missing = acc.check_tools(args)
    check(missing is None, f"the programs and perf are installed ({missing})")
    with tempfile.TemporaryDirectory(prefix="ember-test-accuracy-") as d:
        try:
            results = acc.run(args, d)
        except acc.BenchError as e:
            fail(f"bench/accuracy could not run: {e}")
    for r in results:
        acc.print_program(r, args.top, out=sys.stdout)
        e, p = r["ember"], r["perf"]
        name = r["program"]
        check(e.samples >= 100 and p.samples >= 100,
              f"{name}: both have samples (ember {e.samples}, perf {p.samples})")
        check(0.8 <= e.samples / p.samples <= 1.25,
              f"{name}: the same window gives as many samples "
              f"(ember {e.samples}, perf {p.samples})")
        for fn, a, b, d, se2, _ in acc.compare(e, p, args.top):
            tol = max(2.0, Z * se2 / 2)
            check(abs(d) <= tol, f"{name}: {fn} self {a:.1f} % in ember, "
                  f"{b:.1f} % in perf (|{d:+.1f}| <= {tol:.1f})")
        a, b = e.root_share(), p.root_share()
        check(a is not None and b is not None, f"{name}: both have user stacks")
        n_a, n_b = e.samples - e.no_user, p.samples - p.no_user
        se = math.sqrt(a * (1 - a) / n_a + b * (1 - b) / n_b)
        check(a >= b - Z * se, f"{name}: {100 * a:.1f} % of ember's stacks reach "
              f"the root, {100 * b:.1f} % of perf's")
    # The program where the whole stack needs every frame's CFI and more
    # than perf's default copy: cppcheck's stacks are ~18 KB deep.
    cpp = next(r for r in results if r["program"] == "cppcheck")
    check(cpp["ember"].root_share() >= 0.95,
          f"cppcheck: {100 * cpp['ember'].root_share():.1f} % of stacks reach "
          f"main through its C++ frames")


if __name__ == "__main__":
    main()
