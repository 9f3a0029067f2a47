# SPDX-License-Identifier: Apache-2.0
"""unwind_read: bench/unwind's workloads and the readers of what the
profilers wrote.

It owns WORKLOADS (each test program built without frame pointers, its
hot functions and the one correct stack of a hot sample), the
completeness count (Completeness: the share of hot samples whose stack
runs from the root frame to the hot function) over ember's folded report
and over `perf script --no-inline` text, a streaming perf.data reader
(samples and the user stack bytes the kernel copied for each), and the
reader of ember's record summary. bench/unwind runs the profilers and
prints the report.
"""

import re
import struct

from benchlib import BenchError

# Each workload: the binary, its arguments, the hot (leaf) functions, and
# the one correct stack of a hot sample: its physical user frames (inlined
# and kernel frames left out), root first, joined with ";". The libc names
# differ between symbolizers (perf: __libc_start_main@@GLIBC_2.34,
# msort_with_tmp.part.0), so libc frames are matched loosely; the
# program's own frames exactly.
LIBC_START = r"_start(;__libc_start[^;]*){1,2};main"
THREAD_START = r"((clone3|clone);)?start_thread"
WORKLOADS = {
    "qsort": {
        "binary": "qsort-nofp", "args": [],
        "hot": {"cmp_values"},
        "chain": "_start -> libc start -> main -> sort_loop -> qsort "
                 "(libc, msort_with_tmp...) -> cmp_values",
        "full": LIBC_START + r";sort_loop(;[^;]*(qsort|msort)[^;]*)+"
                             r";cmp_values",
    },
    "recurse": {
        "binary": "recurse-nofp", "args": ["--depth", "100"],
        "hot": {"deep_leaf"},
        "chain": "_start -> libc start -> main -> descend x100 -> deep_leaf",
        "full": LIBC_START + r"(;descend){100};deep_leaf",
    },
    "split-threads": {
        "binary": "split-nofp", "args": ["--threads", "2"],
        "hot": {"leaf_a", "leaf_b", "leaf_c"},
        "chain": "[clone3 ->] start_thread -> worker_main -> run_X -> leaf_X",
        "full": THREAD_START + r";worker_main;run_(?P<x>[abc]);leaf_(?P=x)",
    },
}


# ---- reading what the profilers wrote -------------------------------------

def norm_symbol(name):
    """A function name without perf's version and clone suffixes."""
    name = name.split("@@")[0].split("@")[0]
    return re.sub(r"\.(part|constprop|isra|cold|lto_priv)\.\d+$", "", name)


class Completeness:
    """Counts hot samples and the share of them with the full stack."""

    def __init__(self, wl):
        self.comm = WORKLOADS[wl]["binary"][:15]
        self.hot = WORKLOADS[wl]["hot"]
        self.full = re.compile("^(" + WORKLOADS[wl]["full"] + ")$")
        self.samples = self.hot_samples = self.complete = 0
        self.example_bad = None

    def add(self, comm, frames, count, truncated):
        """frames: physical user frames, root first."""
        if comm != self.comm:
            return
        self.samples += count
        if not frames or norm_symbol(frames[-1]) not in self.hot:
            return
        self.hot_samples += count
        stack = ";".join(norm_symbol(f) for f in frames)
        if not truncated and self.full.match(stack):
            self.complete += count
        elif self.example_bad is None:
            self.example_bad = ("[truncated];" if truncated else "") + stack

    def pct(self):
        return (100.0 * self.complete / self.hot_samples
                if self.hot_samples else None)


def ember_folded_completeness(path, wl):
    c = Completeness(wl)
    with open(path, errors="replace") as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            parts = stack.split(";")
            frames = [p for p in parts[1:]
                      if not p.endswith(("_[k]", "_[i]"))]
            truncated = "[truncated]" in frames
            frames = [p for p in frames if p != "[truncated]"]
            c.add(parts[0], frames, int(count), truncated)
    return c


PERF_HEADER = re.compile(r"^(\S.*?)\s+\d+(/\d+)?\s+(\[\d+\]\s+)?[\d.]+:")
PERF_FRAME = re.compile(r"^\s+[0-9a-f]+ (.*) \((.*)\)$")


def perf_script_completeness(path, wl):
    """From `perf script --no-inline` text: one header line per sample,
    then its frames leaf first, then a blank line."""
    c = Completeness(wl)
    comm, frames = None, []

    def flush():
        if comm is not None:
            c.add(comm, frames[::-1], 1, False)

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                flush()
                comm, frames = None, []
                continue
            m = PERF_HEADER.match(line)
            if m and not line[0].isspace():
                flush()
                comm, frames = m.group(1), []
                continue
            m = PERF_FRAME.match(line)
            if m and comm is not None:
                sym, dso = m.group(1), m.group(2)
                # Kernel and module frames; user frames perf could not
                # place ([unknown]) stay and break the chain.
                if dso.startswith("[kernel") or dso.endswith(".ko") or \
                   (dso.startswith("[") and
                    dso not in ("[unknown]", "[vdso]", "[vsyscall]")):
                    continue
                frames.append(re.sub(r"\+0x[0-9a-f]+$", "", sym))
    flush()
    return c


# perf_event_attr.sample_type bits, in the order perf_output_sample()
# writes them (include/uapi/linux/perf_event.h).
S_IP, S_TID, S_TIME, S_ADDR, S_READ, S_CALLCHAIN, S_ID, S_CPU, S_PERIOD, \
    S_STREAM_ID, S_RAW, S_BRANCH, S_REGS_USER, S_STACK_USER = \
    [1 << b for b in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)]
S_IDENTIFIER = 1 << 16
PERF_RECORD_SAMPLE = 9


def perf_data_stacks(path):
    """Read perf.data: (samples, user stack bytes the kernel copied, summed
    over samples (each sample's dyn_size), the stack dump size asked for,
    data section bytes). None when the file is in a layout this reader
    does not know (several event types, READ/RAW/BRANCH samples,
    compressed records). Streamed record by record: the bench must stay
    small, because a child it starts inherits its peak RSS (see
    bench/unwind's bench_rss_floor_kb)."""
    with open(path, "rb") as f:
        head = f.read(56)
        if len(head) < 56 or head[:8] != b"PERFILE2":
            return None
        _, attr_size = struct.unpack_from("<QQ", head, 8)
        attrs_off, attrs_size, data_off, data_size = \
            struct.unpack_from("<QQQQ", head, 24)
        f.seek(attrs_off)
        attrs = f.read(attrs_size)
        types = set()
        for i in range(attrs_size // attr_size):
            base = i * attr_size
            sample_type, = struct.unpack_from("<Q", attrs, base + 24)
            regs_mask, = struct.unpack_from("<Q", attrs, base + 80)
            stack_user, = struct.unpack_from("<I", attrs, base + 88)
            types.add((sample_type, bin(regs_mask).count("1"), stack_user))
        f.seek(data_off)
        return perf_samples(f, data_size, types)


def perf_samples(f, data_size, types):
    if len(types) != 1:
        return None
    sample_type, nregs, stack_user = types.pop()
    if sample_type & (S_READ | S_RAW | S_BRANCH) or \
       not sample_type & S_STACK_USER:
        return None
    fixed = 8 * sum(bool(sample_type & b) for b in
                    (S_IDENTIFIER, S_IP, S_TID, S_TIME, S_ADDR, S_ID,
                     S_STREAM_ID, S_CPU, S_PERIOD))
    samples = copied = 0
    left = data_size
    while left >= 8:
        head = f.read(8)
        if len(head) < 8:
            return None
        rtype, _, rsize = struct.unpack_from("<IHH", head)
        if rsize < 8:
            return None
        if rtype == 81:         # PERF_RECORD_COMPRESSED
            return None
        data = f.read(rsize - 8)
        left -= rsize
        if rtype == PERF_RECORD_SAMPLE:
            data = head + data
            p = 8 + fixed
            if sample_type & S_CALLCHAIN:
                nr, = struct.unpack_from("<Q", data, p)
                p += 8 + 8 * nr
            if sample_type & S_REGS_USER:
                abi, = struct.unpack_from("<Q", data, p)
                p += 8 + (8 * nregs if abi else 0)
            size, = struct.unpack_from("<Q", data, p)
            p += 8
            if size:
                dyn, = struct.unpack_from("<Q", data, p + size)
                copied += dyn
            samples += 1
    return samples, copied, stack_user, data_size


SUMMARY_SAMPLES = re.compile(r"recorded [\d.]+ s at \d+ Hz: (\d+) samples")
SUMMARY_DROPPED = re.compile(r"dropped (\d+) samples")
SUMMARY_UNWIND = re.compile(
    r"unwinding \((\w+)\): ([\d.]+)% of user stacks reach their root "
    r"frame(.*)")
SUMMARY_DWARF = re.compile(
    r"(\d+) samples unwound with DWARF \(([\d.]+) us, (\d+) stack bytes "
    r"each\)([^;]*)")


def ember_summary(log_path):
    with open(log_path, errors="replace") as f:
        text = f.read()
    s = {"summary_samples": None, "dropped": None, "own_complete_pct": None,
         "dwarf_samples": 0, "unwind_us": None, "dwarf_bytes": None,
         "unwind_ends": "", "unwind_line": ""}
    m = SUMMARY_SAMPLES.search(text)
    if m:
        s["summary_samples"] = int(m.group(1))
    m = SUMMARY_DROPPED.search(text)
    if m:
        s["dropped"] = int(m.group(1))
    m = SUMMARY_UNWIND.search(text)
    if not m:
        raise BenchError(f"no unwinding line in ember's summary "
                         f"({log_path}); is this ember too old?")
    s["unwind_line"] = m.group(0)
    s["own_complete_pct"] = float(m.group(2))
    d = SUMMARY_DWARF.search(m.group(3))
    if d:
        s["dwarf_samples"] = int(d.group(1))
        s["unwind_us"] = float(d.group(2))
        s["dwarf_bytes"] = int(d.group(3))
        s["unwind_ends"] = d.group(4).strip(", ")
    return s
