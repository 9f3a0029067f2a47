# SPDX-License-Identifier: Apache-2.0
"""benchlib: what the bench scripts share, one copy each.

The scripts import it from their own directory (bench/ is put first on
sys.path by each script, so it is found also when a test loads a script
by path). It owns:

  processes      Proc (a child timed exactly: pidfd for its exit, wait4
                 for its rusage, its own session so its group is killed),
                 Children (the children a bench starts, their logs in its
                 temporary directory, and their cleanup), find_tool
  /proc readers  CPU time of a process (stat_cpu_s: utime + stime, exited
                 threads included; proc_cpu_s: its live threads' schedstat),
                 /proc/PID/status fields, perf event file descriptors, the
                 host's busy time and forks (host_counters)
  HTTP           http_get, parse_metrics (ember's /metrics)
  BPF            BPF_ENABLE_STATS through bpf(2), the run-time counters of
                 a process's perf_event BPF programs (bpf_prog_stats)
  the meter      TimerCost: bench/timer_cost --control's protocol
  the run        catch_signals, run_bench (the try/cleanup/keep frame
                 every script's main had), free_port
  figures        fmt, median/spread/med_range over runs, csv for argparse,
                 text and markdown tables

It prints nothing on stdout except through the table helpers.
"""

import argparse
import ctypes
import json
import os
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
APT_PACKAGE = {"perf": "linux-perf", "bpftrace": "bpftrace"}

TIMER_COST_TIMEOUT = 30


class BenchError(Exception):
    """A failure that ends the run with a message and exit status 1."""


def mono_ns():
    return time.monotonic_ns()


# ---- /proc ----------------------------------------------------------------

def stat_fields(pid):
    """The fields of /proc/PID/stat after the command name: [0] is the
    state, [11] utime, [12] stime, [13] cutime, [14] cstime (clock
    ticks). Raises OSError when the process is gone."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def stat_cpu_s(pid):
    """utime + stime of a process, every thread it ever had included
    (/proc/PID/stat counts exited threads too, schedstat does not)."""
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_cpu_s(pid):
    """CPU time so far of a live process, in seconds: the sum of its
    threads' /proc/PID/task/TID/schedstat run times (nanoseconds; threads
    that already ended are not counted), or utime + stime from
    /proc/PID/stat (clock ticks) where schedstat is missing."""
    total, found = 0, False
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
                    found = True
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        pass
    if found:
        return total / 1e9
    return stat_cpu_s(pid)


def proc_status_kb(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def perf_event_fds(pid):
    """How many perf event file descriptors a process holds."""
    n = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == \
                        "anon_inode:[perf_event]":
                    n += 1
            except OSError:
                pass
    except OSError:
        pass
    return n


def host_counters():
    """(busy jiffies, all jiffies, processes forked since boot) of the
    host, from /proc/stat."""
    busy = total = forks = 0
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu "):
                v = [int(x) for x in line.split()[1:]]
                total = sum(v[:8])
                busy = total - v[3] - v[4]          # minus idle, iowait
            elif line.startswith("processes "):
                forks = int(line.split()[1])
    return busy, total, forks


# ---- ember's HTTP endpoints -----------------------------------------------

def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def parse_metrics(text):
    """Prometheus text (ember's /metrics) -> {name or name{labels}:
    float}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            out[key] = float(value)
        except ValueError:
            pass
    return out


# ---- BPF run-time statistics ----------------------------------------------

PERF_EVENT_PROG_TYPE = 7      # BPF_PROG_TYPE_PERF_EVENT
SYS_BPF = {"x86_64": 321, "aarch64": 280}
BPF_ENABLE_STATS = 32         # enum bpf_cmd
BPF_STATS_RUN_TIME = 0        # enum bpf_stats_type


def bpf_enable_stats(hint="; use --no-bpf-stats"):
    """BPF_ENABLE_STATS(BPF_STATS_RUN_TIME): the kernel counts every BPF
    program's run time and runs while the returned file descriptor is
    open (closing it, or the bench exiting however it does, turns the
    counting off again; kernel.bpf_stats_enabled is left alone, and
    another tool's `sysctl` of it does not turn it off under us). hint
    ends the BenchError raised when it fails."""
    nr = SYS_BPF.get(os.uname().machine)
    if nr is None:
        raise BenchError(f"BPF_ENABLE_STATS: no bpf() syscall number for "
                         f"{os.uname().machine}{hint}")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    attr = ctypes.create_string_buffer(struct.pack("=I", BPF_STATS_RUN_TIME),
                                       16)
    fd = libc.syscall(ctypes.c_long(nr), ctypes.c_long(BPF_ENABLE_STATS),
                      attr, ctypes.c_uint(16))
    if fd < 0:
        err = ctypes.get_errno()
        raise BenchError(f"BPF_ENABLE_STATS failed: {os.strerror(err)} "
                         f"(kernel 5.8 or later, as root){hint}")
    return fd


def bpf_prog_stats(pid):
    """{prog_id: (run_time_ns, run_cnt)} of the perf_event BPF programs the
    process holds a file descriptor to, from /proc/PID/fdinfo (the same
    kernel counters `bpftool prog show` prints; they count only while
    BPF statistics are on). Owned by the process, so another profiler
    running at the same time is not counted."""
    progs = {}
    try:
        fds = os.listdir(f"/proc/{pid}/fdinfo")
    except OSError:
        return progs
    for fd in fds:
        info = {}
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    info[key] = value.strip()
        except OSError:
            continue
        # Links carry prog_id too, but no run counters.
        if info.get("prog_type") != str(PERF_EVENT_PROG_TYPE) or \
           "run_cnt" not in info:
            continue
        progs[int(info["prog_id"])] = (int(info["run_time_ns"]),
                                       int(info["run_cnt"]))
    return progs


def bpf_stats_delta(before, after):
    """(run_time_ns, run_cnt) added between two bpf_prog_stats() reads."""
    ns = cnt = 0
    for prog_id, (t1, c1) in after.items():
        t0, c0 = before.get(prog_id, (0, 0))
        ns += t1 - t0
        cnt += c1 - c0
    return ns, cnt


def bpf_prog_totals(pid):
    """(run_time_ns, run_cnt) summed over the process's perf_event BPF
    programs, or None while it holds none."""
    progs = bpf_prog_stats(pid)
    return bpf_stats_delta({}, progs) if progs else None


# ---- processes ------------------------------------------------------------

# GNU time (Debian's package time): the small forking helper profilers
# start from (Proc with helper=True).
TIME = "/usr/bin/time"
HELPER_START_TIMEOUT = 60


def child_pid(pid, proc):
    """The pid of pid's one child, once it has forked it (None when pid
    exited first). Polled: the helper forks at once."""
    path = f"/proc/{pid}/task/{pid}/children"
    deadline = time.monotonic() + HELPER_START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                kids = f.read().split()
        except OSError:
            kids = []
        if kids:
            return int(kids[0])
        if proc.poll() is not None:
            return None
        time.sleep(0.0005)
    return None


class Proc:
    """A child process we time precisely: pidfd for its exit, wait4 for
    its rusage. Started in its own session so cleanup can kill the group.

    With helper (profilers and their reports, whose peak RSS is measured),
    argv runs as the child of GNU time, which forks it from a small fresh
    process: a child this script forked itself would start with this
    script's RSS, and Linux carries a process's peak RSS (ru_maxrss)
    across exec, so every profiler's peak would read at least the Python
    parent's, and so would the helper's own: its peak RSS is what GNU time
    writes for its child (%M, to a file of its own), not wait4's. wait4 on
    the helper gives the CPU times (its own add next to nothing), and pid
    is the profiler's, for /proc, the meter and signals (GNU time ignores
    SIGINT while it waits)."""

    def __init__(self, argv, stdout, stderr, stdin=subprocess.DEVNULL,
                 helper=False):
        self.argv = argv
        self.t_launch = mono_ns()
        self.helper = helper
        self.rss_path = None
        self.helper_peak_kb = None
        if helper:
            fd, self.rss_path = tempfile.mkstemp(prefix="bench-rss-")
            os.close(fd)
        run = [TIME, "-f", "%M", "-o", self.rss_path] + argv if helper else argv
        self.popen = subprocess.Popen(run, stdin=stdin, stdout=stdout,
                                      stderr=stderr, start_new_session=True)
        self.wait_pid = self.popen.pid
        self.pidfd = os.pidfd_open(self.wait_pid)
        self.status = None
        self.rusage = None
        self.t_exit = None
        self.pid = self.wait_pid
        if helper:
            pid = child_pid(self.wait_pid, self.popen)
            if pid is None:
                self.kill()
                raise BenchError(f"{TIME} did not start {' '.join(argv)} "
                                 f"(status {self.popen.returncode})")
            self.pid = pid

    def alive(self):
        return self.status is None and not self.exited(0)

    def exited(self, timeout):
        """Wait up to timeout seconds; True (and reaped) once it exited."""
        if self.status is not None:
            return True
        if not select.select([self.pidfd], [], [], timeout)[0]:
            return False
        self.t_exit = mono_ns()
        _, self.status, self.rusage = os.wait4(self.wait_pid, 0)
        self.popen.returncode = os.waitstatus_to_exitcode(self.status)
        # GNU time exits 128 + N when its child was killed by signal N.
        if self.pid != self.wait_pid and self.popen.returncode > 128:
            self.popen.returncode = 128 - self.popen.returncode
        if self.helper:
            self.read_helper_peak()
        os.close(self.pidfd)
        return True

    def wait(self, timeout, what):
        if not self.exited(timeout):
            self.kill()
            raise BenchError(f"{what} did not exit within {timeout} s "
                             f"(killed): {' '.join(self.argv)}")
        return self.popen.returncode

    def signal(self, sig):
        """Send sig to the process (to the profiler, not its helper)."""
        if self.status is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self):
        if self.status is not None:
            return
        try:
            os.killpg(self.wait_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.exited(10)

    def cpu_total_s(self):
        return self.rusage.ru_utime + self.rusage.ru_stime

    def wall_s(self):
        return (self.t_exit - self.t_launch) / 1e9

    def peak_rss_kb(self):
        """The peak RSS in KiB: the profiler's own with helper (None when
        GNU time wrote none)."""
        return self.helper_peak_kb if self.helper else self.rusage.ru_maxrss

    def read_helper_peak(self):
        """What GNU time wrote (%M: its child's peak RSS), once it exited."""
        try:
            with open(self.rss_path) as f:
                words = f.read().split()
            self.helper_peak_kb = int(words[-1]) if words else None
        except (OSError, ValueError):
            self.helper_peak_kb = None
        try:
            os.unlink(self.rss_path)
        except OSError:
            pass


class Children:
    """The processes a bench starts: each one's stderr (and stdout, unless
    it goes to a file of its own) in a log named in the temporary
    directory; cleanup() kills whatever is still running."""

    def __init__(self, tmpdir):
        self.tmpdir = tmpdir
        self.live = []

    def path(self, name):
        return os.path.join(self.tmpdir, name)

    def tail(self, logname, lines=8):
        try:
            with open(self.path(logname), errors="replace") as f:
                return "".join(f.readlines()[-lines:]).rstrip()
        except OSError:
            return ""

    def start(self, argv, logname, stdout_path=None, stdin=None,
              helper=False):
        """Start argv (through GNU time with helper: see Proc)."""
        with open(self.path(logname), "w") as log, \
                open(stdout_path or os.devnull, "w") as out:
            p = Proc(argv, stdout=out if stdout_path else log, stderr=log,
                     stdin=stdin if stdin is not None else subprocess.DEVNULL,
                     helper=helper)
        self.live.append(p)
        return p

    def finish(self, p, timeout, what, logname, ok=(0,)):
        """Wait for p to exit; BenchError (with its log's tail) unless its
        status is one of ok."""
        status = p.wait(timeout, what)
        self.live.remove(p)
        if status not in ok:
            raise BenchError(f"{what} failed (status {status}): "
                             f"{' '.join(p.argv[:8])}\n" + self.tail(logname))
        return p

    def cleanup(self):
        for p in self.live:
            p.kill()
        self.live = []


def find_tool(name, given):
    path = given or shutil.which(name)
    if not path or not os.access(path, os.X_OK):
        return None
    return path


class TimerCost:
    """bench/timer_cost --control: reset and read the per-sample meter."""

    def __init__(self, path):
        self.proc = Proc([path, "--control"], stdout=subprocess.PIPE,
                         stderr=None, stdin=subprocess.PIPE)
        line = self._readline("starting timer_cost")
        if line != "ready":
            raise BenchError(f"timer_cost did not start: {line!r}")

    def _readline(self, what):
        out = self.proc.popen.stdout
        if not select.select([out], [], [], TIMER_COST_TIMEOUT)[0]:
            raise BenchError(f"timer_cost: no answer while {what}")
        line = out.readline().decode().strip()
        if not line:
            raise BenchError(f"timer_cost exited while {what}")
        return line

    def _command(self, cmd):
        self.proc.popen.stdin.write((cmd + "\n").encode())
        self.proc.popen.stdin.flush()
        return self._readline(cmd)

    def reset(self):
        if self._command("reset") != "ok":
            raise BenchError("timer_cost: reset failed")

    def read(self):
        return json.loads(self._command("read"))

    def owner(self, pid):
        """Measure only the perf events process pid opens (0 = all)."""
        if self._command(f"owner {pid}") != "ok":
            raise BenchError("timer_cost: owner failed (rebuild it?)")

    def wait_quiet(self, tag, timeout):
        """Wait until no perf sampling hrtimer fires. The meter counts only
        the measured profiler's own events, but another profiler (a test
        suite, another benchmark) still competes for the CPUs and caches.
        Returns the expiries seen in the last 0.3 s (0 = quiet); runs go
        on, flagged, after timeout seconds."""
        self.owner(0)
        deadline = time.monotonic() + timeout
        warned = False
        while True:
            self.reset()
            time.sleep(0.3)
            foreign = self.read()["count"]
            if not foreign or time.monotonic() > deadline:
                break
            if not warned:
                print(f"  {tag}: another perf sampler is running "
                      f"({foreign} expiries in 0.3 s); waiting up to "
                      f"{timeout:g} s", file=sys.stderr)
                warned = True
        if foreign:
            print(f"  {tag}: still not quiet; measuring anyway (flagged)",
                  file=sys.stderr)
        return foreign

    def close(self):
        try:
            self.proc.popen.stdin.write(b"quit\n")
            self.proc.popen.stdin.close()
        except OSError:
            pass
        if not self.proc.exited(10):
            self.proc.kill()


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the run --------------------------------------------------------------

def on_sigterm(signum, frame):
    raise KeyboardInterrupt


def catch_signals():
    """SIGTERM and SIGINT end the run the same way, as KeyboardInterrupt,
    so a killed bench cleans up its children as an interrupted one does."""
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def run_bench(name, prefix, keep, make, kept="logs and profiles"):
    """make(tmpdir) in a fresh temporary directory, then its run(): a
    BenchError ends it with status 1, an interrupt with 130 (each with one
    line on stderr); its cleanup() runs in any case; the directory is
    removed unless keep or a failure. Returns (status, what run()
    returned, or None)."""
    tmpdir = tempfile.mkdtemp(prefix=prefix)
    status, result, bench = 0, None, None
    try:
        bench = make(tmpdir)
        result = bench.run()
    except BenchError as e:
        print(f"{name}: {e}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        status = 130
    finally:
        if bench is not None:
            bench.cleanup()
        if keep or status:
            print(f"{name}: {kept} kept in {tmpdir}", file=sys.stderr)
        else:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return status, result


# ---- figures --------------------------------------------------------------

def fmt(v, scale=1.0, digits=1, grouping=False):
    """v x scale with digits decimals (thousands grouped if asked), or
    '-' for None."""
    if v is None:
        return "-"
    return f"{v * scale:,.{digits}f}" if grouping else \
        f"{v * scale:.{digits}f}"


def values(runs, get):
    """get(run) of every run, the Nones left out."""
    return [v for v in (get(r) for r in runs) if v is not None]


def median(runs, get):
    v = values(runs, get)
    return statistics.median(v) if v else None


def spread(runs, get, scale, digits):
    """'min-max' of get over the runs ('x' when both print alike)."""
    v = values(runs, get)
    if not v:
        return "-"
    lo, hi = fmt(min(v), scale, digits), fmt(max(v), scale, digits)
    return lo if lo == hi else f"{lo}-{hi}"


def med_range(vals, scale=1.0, digits=1, grouping=False, unit=""):
    """'median (min-max)' of vals x scale (the Nones left out), the
    median alone for one value, '-' for none."""
    v = sorted(x * scale for x in vals if x is not None)
    if not v:
        return "-"
    f = (lambda x: fmt(x, 1, digits, grouping))
    if len(v) == 1:
        return f"{f(v[0])}{unit}"
    return f"{f(statistics.median(v))}{unit} ({f(v[0])}-{f(v[-1])})"


def csv(kind=str, valid=None):
    """An argparse type: a comma-separated list of kind, each in valid
    when valid is given."""
    def parse(text):
        items = [x for x in text.split(",") if x]
        try:
            items = [kind(x) for x in items]
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad list: {text!r}")
        if valid is not None:
            bad = [x for x in items if x not in valid]
            if bad:
                raise argparse.ArgumentTypeError(
                    f"unknown: {', '.join(map(str, bad))} (known: "
                    f"{', '.join(valid)})")
        return items
    return parse


def text_table(names, rows, label_width, width, skip_empty=True,
               out=None):
    """A column per name, a row per (label, cells); rows whose cells are
    all '-' are left out when skip_empty."""
    out = out or sys.stdout
    print(f"{'':{label_width}}" + "".join(f"{n:>{width}}" for n in names),
          file=out)
    for label, cells in rows:
        if skip_empty and all(c == "-" for c in cells):
            continue
        print(f"{label:{label_width}}" + "".join(f"{c:>{width}}"
                                                 for c in cells), file=out)


def markdown_table(header, rows, align=None, out=None):
    """A markdown table: header cells, then rows of cells; align is the
    separator row's cells (default '---' each)."""
    out = out or sys.stdout
    align = align or ["---"] * len(header)
    print("| " + " | ".join(header) + " |", file=out)
    print("| " + " | ".join(align) + " |", file=out)
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |", file=out)
