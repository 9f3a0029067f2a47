# SPDX-License-Identifier: Apache-2.0
"""accuracy_profiles: bench/accuracy's two profiles in one shape, and
their comparison.

It owns how a name is spelled for the comparison (norm_name, NORMALISATION:
symbol versions, clone suffixes and C++ parameter lists dropped, aliases
of one address counted as one, code without a symbol as '[unknown]
MODULE'), what the target's binaries tell (Binaries: name aliases from
their symbol tables and debug files, entry points, for stacks that reach
the root), the readers of ember's folded report and of `perf script
--no-inline` into a Profile (self counts and root share), and compare /
root_ok (the shares and their binomial standard errors). bench/accuracy
runs the programs and the profilers and prints the report.
"""

import collections
import math
import os
import re
import struct
import subprocess

# A stack reaches the process's root when its outermost user frame is one
# of these (after normalisation): the entry point, libc's start-up code or
# main itself (a frame-pointer walk ends in __libc_start_call_main), or a
# thread's start.
ROOTS = {"_start", "__libc_start_main", "__libc_start_main_impl",
         "__libc_start_call_main", "main", "clone", "clone3", "__clone",
         "__clone3", "start_thread"}

NORMALISATION = (
    "names compared after: perf's symbol versions (@@GLIBC_2.34) and GCC's "
    "clone suffixes (.part.0, .isra.0, .constprop.0, .cold) dropped; C++ "
    "parameter lists and trailing const dropped; aliases (names of one "
    "address in a mapped binary's symbol tables or its debug file's, such as "
    "malloc and __libc_malloc) counted as one, shown as the shortest; code "
    "without a symbol "
    "('[unknown]' in perf, 'module+0xOFF' in Ember) as '[unknown] MODULE'; "
    "Ember's JIT mark '_[j]' dropped; inlined frames (Ember's '_[i]', perf "
    "--no-inline) and kernel frames left out: a sample's self function is "
    "its innermost user function")

# ---- names ---------------------------------------------------------------

def strip_params(name):
    """A C++ name without its parameter list and trailing qualifiers."""
    s = name.strip()
    for q in (" const", " &&", " &", " volatile"):
        if s.endswith(q):
            s = s[:-len(q)]
    if not s.endswith(")") or s.endswith("operator()"):
        return s
    depth = 0
    for i in range(len(s) - 1, -1, -1):
        if s[i] == ")":
            depth += 1
        elif s[i] == "(":
            depth -= 1
            if depth == 0:
                # "operator()(int)" keeps its "()"
                return s[:i] if i else s
    return s


def norm_name(name, module=None):
    """The spelling both tools are compared in (see NORMALISATION)."""
    if name.endswith("_[j]"):
        name = name[:-4]
    m = re.fullmatch(r"([^\s(]+)\+0x[0-9a-f]+", name)
    if name == "[unknown]" or m:
        mod = os.path.basename(module) if module else (m.group(1) if m else "?")
        return f"[unknown] {mod}"
    # symbol versions, not perf's "@plt" (a PLT stub is not the function)
    name = re.sub(r"@@?(?!plt$)[A-Za-z_][\w.]*$", "", name)
    name = re.sub(r"(\.(part|constprop|isra|cold|lto_priv|localalias)"
                  r"(\.\d+)?)+$", "", name)
    return strip_params(name)


def debug_file(path):
    """The build-id debug file of path under /usr/lib/debug, or None."""
    try:
        out = subprocess.run(["readelf", "-n", path], capture_output=True,
                             text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"Build ID: ([0-9a-f]{3,})", out)
    if not m:
        return None
    bid = m.group(1)
    f = f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug"
    return f if os.path.exists(f) else None


def alias_map(paths):
    """name -> the shortest name of the same address, over the function
    symbols of the binaries at paths (their .dynsym and .symtab, and the
    .symtab of their build-id debug file), demangled and normalised."""
    aliases = {}
    for path in paths:
        at = collections.defaultdict(set)
        for f in filter(None, (path, debug_file(path))):
            for dyn in (["-D"], []):
                try:
                    out = subprocess.run(["nm", "-C", "--defined-only", *dyn, f],
                                         capture_output=True, text=True,
                                         errors="replace", timeout=120).stdout
                except (OSError, subprocess.TimeoutExpired):
                    continue
                for line in out.splitlines():
                    parts = line.split(None, 2)
                    if len(parts) == 3 and parts[1] in "TtWwi":
                        try:
                            at[int(parts[0], 16)].add(norm_name(parts[2]))
                        except ValueError:
                            pass
        for names in at.values():
            if len(names) > 1:
                rep = min(names, key=lambda n: (len(n), n))
                for n in names:
                    aliases.setdefault(n, rep)
    return aliases


def entry_offset(path):
    """The file offset of path's ELF entry point, or None: a stripped
    executable's _start has no name, and a stack ending there has still
    reached the process's root."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2:
                return None
            entry, phoff = struct.unpack_from("<QQ", head, 24)
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            f.seek(phoff)
            ph = f.read(phentsize * phnum)
    except OSError:
        return None
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz = \
            struct.unpack_from("<IIQQQQ", ph, i * phentsize)
        if p_type == 1 and p_vaddr <= entry < p_vaddr + p_filesz:
            return entry - p_vaddr + p_offset
    return None


def mapped_files(pid):
    """The files mapped executable in pid (its binaries)."""
    files = []
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6 and "x" in parts[1] and parts[5].startswith("/"):
                    path = parts[5].strip()
                    if path not in files and os.path.exists(path):
                        files.append(path)
    except OSError:
        pass
    return files


# ---- reading what the profilers wrote -------------------------------------

class Binaries:
    """What the comparison needs of the target's binaries: the aliases of
    their function names, and their entry points' file offsets."""

    def __init__(self, paths):
        self.aliases = alias_map(paths)
        self.entries = {}
        for path in paths:
            off = entry_offset(path)
            if off is not None:
                self.entries.setdefault(os.path.basename(path), off)

    def at_entry(self, module, offset):
        """True when file offset (of a return address - 1) of module is in
        its entry function's first bytes (where _start calls
        __libc_start_main)."""
        e = self.entries.get(os.path.basename(module))
        return e is not None and e <= offset < e + 64


class Profile:
    """One tool's samples of the process: per sample its user frames,
    root first, normalised, and whether it reached the process's root."""

    def __init__(self, tool, binaries=None):
        self.tool = tool
        self.aliases = binaries.aliases if binaries else {}
        self.samples = 0
        self.self_counts = collections.Counter()
        self.rooted = 0
        self.no_user = 0
        self.plt = collections.Counter()  # samples in PLT stubs, by module

    def add(self, frames, count, rooted):
        frames = [self.aliases.get(f, f) for f in frames]
        self.samples += count
        if not frames:
            self.no_user += count
            self.self_counts["[no user stack]"] += count
            return
        self.self_counts[frames[-1]] += count
        if rooted:
            self.rooted += count

    def share(self, name):
        return self.self_counts.get(name, 0) / self.samples if self.samples else 0.0

    def top(self, k):
        return [n for n, _ in self.self_counts.most_common(k)]

    def plt_share(self, module=None):
        """The share of samples in the PLT stubs of module (all if None)
        that the tool named as such (perf: "memcpy@plt")."""
        n = sum(self.plt.values()) if module is None else self.plt.get(module, 0)
        return n / self.samples if self.samples else 0.0

    def root_share(self):
        n = self.samples - self.no_user
        return self.rooted / n if n > 0 else None


def ember_profile(folded_text, binaries=None):
    p = Profile("ember", binaries)
    for line in folded_text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        raw = [f for f in stack.split(";")[1:] if not f.endswith(("_[k]", "_[i]"))]
        rooted = False
        if raw and raw[0] != "[truncated]":
            m = re.fullmatch(r"([^\s(]+)\+0x([0-9a-f]+)", raw[0])
            rooted = norm_name(raw[0]) in ROOTS or bool(
                m and binaries and binaries.at_entry(m.group(1), int(m.group(2), 16)))
        frames = [norm_name(f) for f in raw if f != "[truncated]"]
        p.add(frames, int(count), rooted)
    return p


PERF_FRAME = re.compile(r"^\s+([0-9a-f]+) (.*) \((.*)\)$")


def perf_profile(script_text, binaries=None):
    """From `perf script -F comm,tid,ip,sym,dso --no-inline`: a header
    line per sample, its frames leaf first (with the file offset of
    return address - 1 where perf has no symbol), a blank line."""
    p = Profile("perf", binaries)
    frames, in_sample = [], False
    outer = None

    def flush():
        if not in_sample:
            return
        rooted = False
        if frames:
            sym, dso, ip = outer
            rooted = frames[-1] in ROOTS or bool(
                sym == "[unknown]" and binaries and binaries.at_entry(dso, ip))
        p.add(frames[::-1], 1, rooted)

    for line in script_text.splitlines():
        if not line.strip():
            flush()
            frames, in_sample = [], False
            continue
        if not line[0].isspace():
            flush()
            frames, in_sample = [], True
            continue
        m = PERF_FRAME.match(line)
        if not m or not in_sample:
            continue
        sym, dso = m.group(2), m.group(3)
        if dso.startswith("[kernel") or dso.endswith(".ko") or \
           (dso.startswith("[") and dso not in ("[unknown]", "[vdso]")):
            continue
        sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
        if not frames and sym.endswith("@plt"):
            p.plt[os.path.basename(dso)] += 1
        outer = (sym, dso, int(m.group(1), 16))
        frames.append(norm_name(sym, dso))
    flush()
    return p


SUMMARY_UNWIND = re.compile(r"unwinding \((\w+)\): ([\d.]+)% of user stacks "
                            r"reach their root frame(.*)")


# ---- comparing -------------------------------------------------------------

def compare(ember, perf, k=10):
    """Rows for the union of both tools' top-k self functions: (name,
    ember share, perf share, difference in points, 2 standard errors of
    the difference in points, within target)."""
    names = list(dict.fromkeys(ember.top(k) + perf.top(k)))
    rows = []
    for n in names:
        a, b = ember.share(n), perf.share(n)
        se = math.sqrt((a * (1 - a) / ember.samples if ember.samples else 0) +
                       (b * (1 - b) / perf.samples if perf.samples else 0))
        d = 100 * (a - b)
        ok = abs(d) <= 2.0 or abs(d) <= 200 * se
        rows.append((n, 100 * a, 100 * b, d, 200 * se, ok))
    rows.sort(key=lambda r: -max(r[1], r[2]))
    return rows


def root_ok(ember, perf):
    """Ember's root share against perf's: (met strictly, met within two
    standard errors)."""
    a, b = ember.root_share(), perf.root_share()
    if a is None or b is None:
        return None, None
    n_a = ember.samples - ember.no_user
    n_b = perf.samples - perf.no_user
    se = math.sqrt(a * (1 - a) / n_a + b * (1 - b) / n_b)
    return a >= b, a >= b - 2 * se
