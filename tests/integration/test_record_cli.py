#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Privileged: `ember record` as a user drives it: exit status passed
through, -p and -a targets, SIGINT ending a recording cleanly, and bad input
(unknown flags, missing command, dead pid, unwritable output, no BTF, not
root) giving one clear line, a non-zero exit and no file that looks
complete."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from embertest import *  # noqa: F401,F403


def bad(args, want_code, want_text, db=None, **kw):
    r = run([EMBER] + args, **kw)
    check(r.returncode == want_code,
          f"{' '.join(args)!r} exits {want_code} (got {r.returncode}; stderr: {r.stderr.strip()!r})")
    check(want_text in r.stderr, f"message mentions {want_text!r}")
    check(r.stderr.startswith("ember: "), "message starts with 'ember: '")
    check("Traceback" not in r.stderr and "Segmentation" not in r.stderr, "no crash")
    if db:
        check(not os.path.exists(db), f"no output file {db} left behind")
    return r


def main():
    require_root()
    d = tmpdir()
    split = prog("split")

    # Exit status of the command is ember's exit status.
    db = os.path.join(d, "status.db")
    r = record(db, ["sh", "-c", "exit 3"])
    check(r.returncode == 3, f"ember record -- sh -c 'exit 3' exits 3 (got {r.returncode})")
    r = record(db, ["sh", "-c", "kill -TERM $$"])
    check(r.returncode == 128 + 15, f"a command killed by SIGTERM gives 143 (got {r.returncode})")

    # --repeat runs the command again into the same database, and stops at
    # the first failing run with that run's status.
    db = os.path.join(d, "repeat.db")
    r = record(db, [split, "--seconds", "1"], freq=199, extra=["--repeat", "3"])
    meta = read_meta(db)
    check(r.returncode == 0 and meta.get("runs") == "3", f"--repeat 3 ran 3 times ({meta.get('runs')})")
    cpu = int(meta["command_cpu_ns"]) / 1e9
    kernel = int(meta["samples_kernel"])
    check(abs(kernel - cpu * 199) <= 0.1 * cpu * 199,
          f"samples of all runs ({kernel}) match their summed CPU time ({cpu:.2f} s x 199 Hz)")
    check("samples per side" in r.stderr, "summary says how many samples a diff needs")
    r = record(db, ["sh", "-c", "exit 4"], extra=["--repeat", "3"])
    check(r.returncode == 4 and read_meta(db).get("runs") == "1", "--repeat stops at a failing run")

    # Bad input.
    bad(["record", "--repeat", "2", "-a"], 2, "--repeat needs a command")
    bad(["record", "--bogus"], 2, "unknown option '--bogus'")
    bad(["record", "-F"], 2, "option '-F' needs a value")
    bad(["record", "--stack-snapshot"], 2, "option '--stack-snapshot' needs a value")
    bad(["report", "x.db", "--format"], 2, "option '--format' needs a value")
    bad(["record", "-F", "abc", "--", "true"], 2, "--freq expects a whole number")
    bad(["record", "-F", "0", "--", "true"], 2, "out of range")
    bad(["record"], 2, "nothing to profile")
    bad(["record", "-p", "1", "--", "true"], 2, "either a command or -p")
    db = os.path.join(d, "nocmd.db")
    bad(["record", "-o", db, "--", "/nonexistent/command-xyz"], 127, "cannot run '/nonexistent/command-xyz'", db=db)
    db = os.path.join(d, "nopid.db")
    bad(["record", "-o", db, "-p", "4000000"], 2, "no process with pid 4000000", db=db)
    bad(["record", "-o", "/nonexistent-dir/x.db", "--", "true"], 1, "does not exist")
    bad(["record", "-o", d, "--", "true"], 1, "is a directory")
    bad(["frobnicate"], 2, "unknown command 'frobnicate'")
    bad(["report"], 2, "which database")
    bad(["report", os.path.join(d, "missing.db")], 1, "no such file")
    junk = os.path.join(d, "junk.db")
    with open(junk, "wb") as f:
        f.write(b"this is not a database\n" * 100)
    bad(["report", junk], 1, "cannot open")
    with open(junk, "rb") as f:
        check(f.read() == b"this is not a database\n" * 100, "report left the junk file untouched")
    bad(["report", "--format", "svg", junk], 2, "unknown format 'svg'")

    # No kernel BTF: hide it in a private mount namespace.
    db = os.path.join(d, "nobtf.db")
    r = run(["unshare", "-m", "sh", "-c",
             f"mount -t tmpfs none /sys/kernel/btf && exec {EMBER} record -o {db} -- true"])
    check(r.returncode == 1 and "BTF" in r.stderr, f"missing BTF is explained ({r.stderr.strip()!r})")
    check(not os.path.exists(db), "no file left without BTF")

    # Not root.
    db = os.path.join(d, "user.db")
    os.chmod(d, 0o777)
    r = run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
             "--inh-caps=-all", EMBER, "record", "-o", db, "--", "true"])
    check(r.returncode == 1 and "root" in r.stderr, f"non-root is told to use root ({r.stderr.strip()!r})")
    check(not os.path.exists(db), "no file left when not root")

    # -p: profile a running process until it exits.
    p = subprocess.Popen([split, "--seconds", "3"])
    time.sleep(0.3)
    db = os.path.join(d, "pid.db")
    r = run([EMBER, "record", "-F", "299", "-o", db, "-p", str(p.pid)])
    child_cpu_seconds(p)
    check(r.returncode == 0, f"record -p ends when the process exits, status 0 (got {r.returncode})")
    stacks = folded(db)
    check(stacks and all(f[0] == "split" for f, _ in stacks), "only the given process is in the profile")
    hot = total(stacks, lambda f: leaf(f) == "leaf_a")
    check(hot / total(stacks) >= 0.5, f"its hot leaf is there ({hot} of {total(stacks)} samples)")

    # -a --duration: the whole system, split included, ends on time.
    # (It runs twice as long as the recording: split's CPU time while
    # recorded is not known, so its samples are checked against what half
    # of its CPU time would give, less a margin.)
    p = subprocess.Popen([split, "--seconds", "4"])
    db = os.path.join(d, "all.db")
    r = run([EMBER, "record", "-a", "-d", "2", "-o", db])
    cpu_s = child_cpu_seconds(p)
    check(r.returncode == 0, f"record -a -d 2 exits 0, on its own (got {r.returncode})")
    check(int(read_meta(db)["duration_ns"]) >= 2e9, "it recorded for the 2 s asked")
    stacks = folded(db)
    check_samples_for_cpu(total(stacks, lambda f: f[0] == "split"), cpu_s * 99 / 2,
                          "the system-wide profile contains split", share=0.5)
    check(total(stacks, lambda f: f[0] == "swapper/0" or f[0].startswith("swapper")) == 0,
          "idle is excluded by default")
    meta = read_meta(db)
    check(meta.get("status") == "complete", "the file is marked complete")
    check(int(meta["samples_written"]) + int(meta["samples_dropped"]) == int(meta["samples_kernel"]),
          "system-wide: every sample counted in the kernel is written or counted as dropped")

    # SIGINT ends a recording cleanly and keeps what was collected.
    db = os.path.join(d, "sigint.db")
    p = subprocess.Popen([EMBER, "record", "-a", "-o", db], stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    # record maps neither libcurl nor libmicrohttpd (and their TLS stacks):
    # only the commands that reach ClickHouse or serve HTTP load them.
    with open(f"/proc/{p.pid}/maps") as f:
        mapped = f.read()
    check("libcurl" not in mapped and "libmicrohttpd" not in mapped
          and "libgnutls" not in mapped,
          "record maps neither libcurl nor libmicrohttpd")
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    check(p.returncode == 0, f"SIGINT ends record -a with status 0 (got {p.returncode}: {err.strip()!r})")
    check("samples from" in err, "summary printed after SIGINT")
    check(read_meta(db).get("status") == "complete", "the file is complete after SIGINT")

    # kill -9 keeps what was flushed; report says it did not finish.
    db = os.path.join(d, "killed.db")
    p = subprocess.Popen([EMBER, "record", "--flush", "1", "-o", db, "--", split, "--seconds", "5"],
                         stderr=subprocess.DEVNULL)
    time.sleep(3)
    p.kill()
    p.wait()
    r = run([EMBER, "report", db])
    check(r.returncode == 0 and "leaf_a" in r.stdout, "a killed recording keeps its flushed samples")
    check("did not finish" in r.stderr, "report warns that the recording did not finish")
    subprocess.run(["pkill", "-f", split], check=False)


if __name__ == "__main__":
    main()
