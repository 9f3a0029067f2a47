# SPDX-License-Identifier: Apache-2.0
"""Helpers for the privileged tests: run `ember record` on the real kernel
against the test programs, read the result back with `ember report`, and
turn folded stacks into something assertions can use.

Environment (set by tests/integration/meson.build):
  EMBER      path to the ember binary
  TESTPROGS  directory of the built test programs
"""
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import tempfile

EMBER = os.environ.get("EMBER", "")
TESTPROGS = os.environ.get("TESTPROGS", "")
SKIP = 77


def load_bench(name):
    """The script bench/NAME as a module (tests reuse its cases)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", name)
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), path)
    spec = importlib.util.spec_from_loader(name.replace("-", "_"), loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def require_root():
    if os.geteuid() != 0:
        print("SKIP: needs root to load BPF programs", file=sys.stderr)
        sys.exit(SKIP)
    if not EMBER or not os.path.exists(EMBER):
        fail(f"EMBER={EMBER!r} does not exist")


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print(f"ok: {msg}")


def prog(name):
    p = os.path.join(TESTPROGS, name)
    if not os.path.exists(p):
        fail(f"test program {p} is missing")
    return p


def tmpdir():
    return tempfile.mkdtemp(prefix="ember-test-")


def padded_copies(src, directory, prefix, n, pad_bytes):
    """n copies of the program src in directory (prefix0, prefix1, ...),
    each without its build-id (told apart by file identity, so each is a
    binary of its own to the symbolizer) and with its .debug_str grown by
    pad_bytes of empty strings (the DWARF stays valid). Returns their
    paths."""
    strs = os.path.join(directory, f"{prefix}.debug_str")
    subprocess.run(["objcopy", "--dump-section", f".debug_str={strs}", src,
                    os.path.join(directory, f"{prefix}.x")], check=True)
    with open(strs, "ab") as f:
        f.write(b"\0" * pad_bytes)
    copies = []
    for i in range(n):
        c = os.path.join(directory, f"{prefix}{i}")
        subprocess.run(["objcopy", "--remove-section", ".note.gnu.build-id",
                        "--update-section", f".debug_str={strs}", src, c], check=True)
        copies.append(c)
    return copies


def run(args, timeout=120, **kw):
    """Run a command, return CompletedProcess with text output."""
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


def record(db, target, *, freq=None, extra=(), timeout=120):
    """ember record -o db [extra] -- target...; returns CompletedProcess."""
    args = [EMBER, "record", "-o", db]
    if freq:
        args += ["-F", str(freq)]
    args += list(extra)
    if target:
        args += ["--"] + list(target)
    r = run(args, timeout=timeout)
    sys.stderr.write(r.stderr)
    return r


def folded(db, extra=()):
    """Return [(frames list, count)] from ember report --format folded."""
    r = run([EMBER, "report", db, "--format", "folded", *extra])
    if r.returncode != 0:
        fail(f"ember report failed ({r.returncode}): {r.stderr.strip()}")
    out = []
    for line in r.stdout.splitlines():
        stack, _, count = line.rpartition(" ")
        out.append((stack.split(";"), int(count)))
    return out


def user_frames(frames, inlined=False):
    """Frames without the process name and without kernel frames: the real
    functions, and with inlined=True also the inlined ones (_[i])."""
    return [f for f in frames[1:] if not f.endswith("_[k]")
            and (inlined or not f.endswith("_[i]"))]


def leaf(frames):
    u = user_frames(frames)
    return u[-1] if u else None


def total(stacks, pred=lambda f: True):
    return sum(c for f, c in stacks if pred(f))


def has_chain(frames, chain):
    """True when chain (root first) appears, contiguous, in the user frames
    and ends at the user leaf."""
    u = user_frames(frames)
    n = len(chain)
    return len(u) >= n and u[-n:] == list(chain)


def read_meta(db):
    """The database's metadata, read-only (sqlite3 from Python's stdlib)."""
    import sqlite3
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return dict(con.execute("select key, value from meta"))
    finally:
        con.close()


# Tests never depend on how much CPU the machine has free: a workload on a
# busy machine gets less CPU, and so fewer samples. Counts are checked
# against the CPU time the workload got, shares with a tolerance that
# widens when fewer samples came.

def command_cpu_samples(db):
    """Samples the recorded command's CPU time should give: its CPU time
    (meta command_cpu_ns, the command and its reaped descendants) times
    the recording's frequency."""
    meta = read_meta(db)
    return int(meta["command_cpu_ns"]) / 1e9 * int(meta["frequency_hz"])


def child_cpu_seconds(p):
    """Wait for Popen p and return the CPU time (user + system) it and its
    reaped children used."""
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return ru.ru_utime + ru.ru_stime


def check_samples_for_cpu(n, cpu_samples, what, share=0.8):
    """n samples of what a workload ran are at least share of what its CPU
    time gives (each sampled CPU ticks at the frequency while it runs)."""
    check(cpu_samples > 0 and n >= share * cpu_samples,
          f"{what}: {n} samples for the {cpu_samples:.0f} its CPU time gives (at least {share:.0%})")


def sched_seconds(pid, tid=None):
    """(on-CPU, waiting for a CPU) seconds of thread tid of pid (its main
    thread by default) so far, from /proc/PID/task/TID/schedstat: a
    thread's time is on a CPU, waiting in a run queue for one (the run
    delay, which a busy machine makes long), or asleep. Expectations
    about what a thread does in wall time count only the time it slept:
    the rest it was working or denied the CPU."""
    with open(f"/proc/{pid}/task/{tid or pid}/schedstat") as f:
        on_cpu, run_delay, _ = f.read().split()
    return int(on_cpu) / 1e9, int(run_delay) / 1e9


def split_leaf_shares(folded, what):
    """split's leaves in folded ({stack: samples}): (their shares a:b:c,
    the samples in them), or (None, samples) when fewer than 10, too few
    to judge a share (said so, naming what)."""
    leaves = [sum(n for st, n in folded.items() if f";leaf_{c};" in st + ";") for c in "abc"]
    tot = sum(leaves)
    if tot < 10:
        print(f"# {what}: {tot} samples in the leaves, too few to judge a share")
        return None, tot
    return [v / tot for v in leaves], tot


def share_tolerance(n, p, floor):
    """A share measured over n samples: floor, or four binomial standard
    deviations when fewer samples make that wider."""
    import math
    return max(floor, 4 * math.sqrt(p * (1 - p) / max(n, 1)))
