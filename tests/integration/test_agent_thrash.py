# SPDX-License-Identifier: Apache-2.0
"""`ember agent --memory 64` (a 32 MB symbolizer bound) while three
processes run, each from a binary of its own whose DWARF takes some 12 MB
of held debug sections (split's .debug_str padded, build-id removed: told
apart by file identity): two fit in the bound, three do not. Their samples
interleave in every flush, so a symbolizer that evicts the least recently
used binary to load the next one reads the same files again and again
within one flush (thrash: a flush of 207 s, 5,428 evictions and 73 GB
re-read on a busy host). The binaries a flush uses are pinned in it: the
one that does not fit is refused for that flush (counted as over-budget),
so each binary is evicted and read again a few times a flush at most
(asserted from /metrics and the binaries the database names, not from
time), every sample is still stored, and each process is still named from
its ELF symbols."""
import os
import re
import shutil
import subprocess

from embertest import EMBER, check, folded, padded_copies, prog, require_root, run, tmpdir
import webtest as w

require_root()
BUDGET_MB = 64          # the symbolizer's bound is half: 32 MB
PAD_MB = 12             # held debug sections added to each copy
FLUSH = 4               # long flushes: thrashing grows with a flush's
                        # samples, the bounds below do not
FLUSHES = 6             # flushes measured while the three run
LIMIT_S = 600           # only catches a hang
d = tmpdir()
db = os.path.join(d, "agent.db")

# Three copies of split with .debug_str grown by PAD_MB of zeros (empty
# strings: the DWARF stays valid) and no build-id.
copies = padded_copies(prog("split"), d, "big", 3, PAD_MB << 20)

p, base, _ = w.start(["agent", "--db", db, "--listen", "127.0.0.1:0", "--flush", str(FLUSH),
                      "-F", "199", "--memory", str(BUDGET_MB)])
text = w.wait_metric(base, "ember_flushes_total", 1, "a first flush", limit_s=LIMIT_S)
work = [subprocess.Popen([c, "--seconds", "3600", "--threads", "4"]) for c in copies]


def coverage_binaries(db):
    """How many binaries (by path; not the kernel, not [unknown]) the stored
    frames name: report --coverage's first table."""
    r = run([EMBER, "report", db, "--coverage"])
    check(r.returncode == 0, f"report --coverage exits 0 ({r.stderr.strip()})")
    names = set()
    for line in r.stdout.splitlines()[1:]:
        if not line.strip():
            break
        name = line.split()[-1]
        if name not in ("[kernel.kallsyms]", "[unknown]"):
            names.add(name)
    return len(names)


def counters(text):
    ev = re.search(r'^ember_cache_evictions_total\{cache="symbolizer-binaries"\} ([0-9]+)$', text, re.M)
    ob = re.search(r'^ember_files_refused_total\{reason="over-budget"\} ([0-9]+)$', text, re.M)
    return (w.metric(text, "ember_flushes_total"), int(ev.group(1)), int(ob.group(1)) if ob else 0,
            w.metric(text, "ember_symbolizer_binary_reloads_total"))


# from the second flush with the three running (the first may have begun
# before them) to FLUSHES flushes later
text = w.wait_metric(base, "ember_flushes_total", w.metric(text, "ember_flushes_total") + 2,
                     "two flushes with the three running", limit_s=LIMIT_S)
f0, e0, o0, r0 = counters(text)
text = w.wait_metric(base, "ember_flushes_total", f0 + FLUSHES, f"{FLUSHES} more flushes",
                     limit_s=LIMIT_S)
f1, e1, o1, r1 = counters(text)
for x in work:
    x.kill()
    x.wait()
rc, err = w.stop(p)
check(rc == 0, f"the agent exits 0 on SIGTERM ({err.strip().splitlines()[-1] if err.strip() else ''})")

flushes, evicted, refused, reloads = f1 - f0, e1 - e0, o1 - o0, r1 - r0
# The binaries the symbolizer may have loaded: every one a stored frame
# names (report --coverage, by path), over the whole run, so at least
# those of any one flush. Besides the three copies, they are what else the
# host runs, and how many of them run between two flushes is up to the
# host: on an idle one a few dozen, on one at load 20-57 enough for 223
# evictions a flush. So the bounds are per binary and flush, not per
# flush.
binaries = coverage_binaries(db)
print(f"# {flushes:.0f} flushes: {evicted} binary evictions, {reloads:.0f} reloads, "
      f"{refused} over-budget refusals; {binaries} binaries named")
# Each binary is read at most twice a flush (loaded, or read again after
# the bound unloaded it; once more after the bound unloaded it while
# pinned, then held), so it gives up its DWARF or its whole load a few
# times a flush at most (4 allowed). Thrashing, the three copies alone
# evict each other on every change of process among a flush's
# interleaved stacks.
check(evicted <= 4 * binaries * flushes,
      f"evictions stay bounded: {evicted} in {flushes:.0f} flushes ({evicted / flushes:.1f} a "
      f"flush; at most 4 a flush for each of the {binaries} binaries named)")
# ... and so read again at most twice a flush; the three copies take
# turns between flushes. Thrashing, every change of process among a
# flush's interleaved stacks read a copy again (22 a flush at 99 Hz
# without threads; at 199 Hz with four threads each flush took minutes).
check(reloads <= 2 * binaries * flushes,
      f"reloads stay bounded: {reloads:.0f} in {flushes:.0f} flushes ({reloads / flushes:.1f} a "
      f"flush; at most 2 a flush for each of the {binaries} binaries named)")
check(refused >= 1, f"the binary that did not fit beside the pinned ones is counted as over-budget "
      f"({refused} in {flushes:.0f} flushes)")

stacks = folded(db)
for c in copies:
    name = os.path.basename(c)
    n = sum(k for frames, k in stacks if frames and frames[0] == name)
    named = sum(k for frames, k in stacks
                if frames and frames[0] == name and any(f in ("leaf_a", "leaf_b", "leaf_c") for f in frames))
    check(n > 0 and named >= 0.9 * n,
          f"{name}'s samples are stored and named from its symbols ({named} of {n} in a leaf)")
shutil.rmtree(d, ignore_errors=True)
print("test_agent_thrash: all checks passed")
