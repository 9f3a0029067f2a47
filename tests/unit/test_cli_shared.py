#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Unit (no root): the flags several commands share (profiler/cli_flags.h)
give the same clear message in every command that takes them.

For each shared flag and each bad value, every command that takes it must
exit 2 (a usage error, before anything is loaded, opened or written), print
one line naming the flag that is the same in all of them, then the hint to
that command's --help. Also an unknown option and a missing value, in every
command, and --help exiting 0 with the command's usage on stdout.

Environment (set by tests/unit/meson.build): EMBER."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from embertest import check  # noqa: E402

EMBER = os.environ["EMBER"]

# What each command needs besides the flag under test to get past its own
# checks (never reached: the flag's error comes first).
COMMANDS = {
    "record": ["--", "true"],
    "agent": [],
    "serve": ["--db", "x.db"],
    "report": ["x.db"],
    "diff": ["a.db", "b.db"],
    "import": ["x.pb", "-o", "x.db"],
    "fleet-init": ["clickhouse://127.0.0.1:1/x"],
    "fleet-maintain": ["clickhouse://127.0.0.1:1/x"],
}

SHARDS = [a for i in range(65) for a in ("--shard", f"clickhouse://127.0.0.1:1/s{i}")]

# flag arguments, the commands that take the flag, the message expected
CASES = [
    (["--freq", "abc"], ["record", "agent"], "ember: --freq expects a whole number, not 'abc'"),
    (["-F", "0"], ["record", "agent"],
     "ember: --freq 0 is out of range: use a number from 1 to 100000"),
    (["--flush", "0"], ["record", "agent"],
     "ember: --flush 0 is out of range: use a number from 1 to 3600"),
    (["--flush", "-1"], ["record", "agent"], "ember: --flush expects a whole number, not '-1'"),
    (["--memory", "8"], ["agent", "serve"],
     "ember: --memory 8 is out of range: use a number from 16 to 1048576"),
    (["--limit", "1x"], ["report", "diff"], "ember: --limit expects a whole number, not '1x'"),
    (["--group", "no-such-group-xyz"], ["record", "agent", "report", "diff", "import"],
     "ember: --group no-such-group-xyz: no such group (see getent group)"),
    (["--group", ""], ["record", "agent", "report", "diff", "import"],
     "ember: --group expects a group name or number"),
    (["--label", "1a=b"], ["record", "agent"],
     "ember: --label 1a=b: the key may hold letters, digits and '_' and must not start "
     "with a digit"),
    (["--label", "host=b"], ["record", "agent"],
     "ember: --label host=b: 'host' is set by ember itself; choose another key"),
    (["--label", "novalue"], ["record", "agent"],
     "ember: --label expects KEY=VALUE, like --label env=prod, not 'novalue'"),
    (["--sample-index", "x"], ["report", "import"],
     "ember: --sample-index expects a whole number, not 'x'"),
    (["--sample-type", "cpu", "--sample-index", "1"], ["report", "import"],
     "ember: give --sample-type or --sample-index, not both"),
    (["--sample-index", "1", "--sample-type", "cpu"], ["report", "import"],
     "ember: give --sample-type or --sample-index, not both"),
    (["--db", ""], ["agent", "serve"], "ember: --db expects a file name"),
    (["--listen", "nowhere"], ["agent", "serve"],
     "ember: --listen expects ADDRESS:PORT (like 127.0.0.1:7478 or [::1]:7478), not 'nowhere'"),
    (SHARDS, ["fleet-init", "fleet-maintain"], "ember: --shard: at most 64 shards"),
    (["--bogus"], list(COMMANDS), "ember: unknown option '--bogus'"),
    (["--bogus=1"], list(COMMANDS), "ember: unknown option '--bogus'"),
]


def ember(cmd, args, cwd):
    return subprocess.run([EMBER, cmd] + args, capture_output=True, text=True, cwd=cwd,
                          stdin=subprocess.DEVNULL, timeout=60)


def main():
    d = tempfile.mkdtemp(prefix="ember-cli-")
    for args, cmds, want in CASES:
        for cmd in cmds:
            # the flag first: record and agent stop reading options at
            # their first operand
            r = ember(cmd, args + COMMANDS[cmd], d)
            lines = r.stderr.splitlines()
            what = f"ember {cmd} {' '.join(args[:4])}"
            check(r.returncode == 2, f"{what} exits 2 (got {r.returncode}: {r.stderr.strip()!r})")
            check(lines[:1] == [want], f"{what} says {want!r} (got {lines[:1]!r})")
            check(lines[1:] == [f"Try 'ember {cmd} --help'."],
                  f"{what}: then only the hint to its --help (got {lines[1:]!r})")
    check(os.listdir(d) == [], f"usage errors wrote nothing ({os.listdir(d)})")

    # A missing value, in every command that takes a value.
    for cmd, flag in [("record", "--flush"), ("agent", "--flush"), ("serve", "--memory"),
                      ("report", "--limit"), ("diff", "--limit"), ("import", "--output"),
                      ("fleet-init", "--shard"), ("fleet-maintain", "--shard"),
                      ("record", "-F"), ("agent", "-F")]:
        r = ember(cmd, COMMANDS[cmd][:0] + [flag], d)
        check(r.returncode == 2 and f"option '{flag}' needs a value" in r.stderr,
              f"ember {cmd} {flag} (no value) names the flag ({r.stderr.strip()!r})")

    # --help and -h: the usage on stdout, exit 0, nothing on stderr.
    for cmd in COMMANDS:
        for h in ("--help", "-h"):
            r = ember(cmd, [h], d)
            check(r.returncode == 0 and r.stdout.startswith(f"Usage: ember {cmd}")
                  and r.stderr == "", f"ember {cmd} {h} prints its usage and exits 0")
    print("cli-shared: all checks passed")


if __name__ == "__main__":
    main()
