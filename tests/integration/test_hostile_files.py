# SPDX-License-Identifier: Apache-2.0
"""The files Ember reads on behalf of profiled processes, made by an
attacker: unprivileged processes (user nobody, by setuid in the child)
whose files try to hang, blow up, trick or read through the root
profiler, all at once, next to ordinary workloads:

  fifo-debuglink  a stripped binary whose .gnu_debuglink file is a FIFO
                  (an open() would block the profiler's loop for good)
  fifo-perfmap    a JIT whose /tmp/perf-PID.map is a FIFO (the JITs run in
                  a mount namespace with a /tmp of its own: a container)
  zero-perfmap    a JIT whose perf map is a symlink to /dev/zero (read
                  with getline(): one endless line, all of memory)
  long-perfmap    a JIT whose perf map is an 8 GB sparse file of one line
  leased-perfmap  a JIT whose perf map its owner holds a write lease on
                  (an open() would wait 45 s for the lease, each time)
  foreign-map     a root JIT whose perf map was written by nobody, naming
                  its frames EVIL_*
  chroot-escape   a static program in a chroot (its own tmpfs) whose
                  mapped path, seen from inside the chroot, is an absolute
                  symlink to a root-only host file with the same inode
                  number on another tmpfs
  bomb            a 300 KB binary whose compressed .debug_str claims
                  200 MB inflated (zlib, ~1000:1)

and a JIT of nobody with its own map and `split` as the control. First
`ember agent --memory 64`, then `ember record -a`: the agent keeps
flushing and sampling (split's 6:3:1 split is there), stays near its
memory budget, names every workload right (never from the attacker's map
or the host file), writes nothing big to its cache, and /metrics and the
summary count every refusal by its reason."""
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from embertest import EMBER, check, fail, folded, prog, require_root, sched_seconds, tmpdir
import webtest as w

require_root()
NOBODY = 65534
BUDGET_MB = 64
DURATION = 24
FLUSH = 2
# Each phase runs at least DURATION (record: RECORD_S) seconds and until
# every attacker has had RAN_S of CPU, enough to be sampled (~5 samples at
# 49 Hz), and the agent has made FLUSHES flushes: on a busy machine that
# takes longer (nice 19, the attackers get the CPU last). The limits only
# catch a hang; past them the checks below say what did not happen.
RAN_S = 0.1
FLUSHES = 4
RECORD_S = 8
AGENT_LIMIT_S = 300
RECORD_LIMIT_S = 120

d = tmpdir()
os.chmod(d, 0o755)
ud = os.path.join(d, "nobody")
os.mkdir(ud)
os.chown(ud, NOBODY, NOBODY)
cache = os.path.join(d, "cache")
procs, mounts, fifos, jits = [], [], [], []
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS = 0x00020000
ns_path = None


def as_nobody(nice=True):
    # nice: the workloads take the CPU the agent leaves (seven of them on
    # two CPUs must not starve the profiler under test)
    if nice:
        os.nice(19)
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def in_ns(then):
    """preexec_fn: join the JITs' mount namespace (the container, with a
    /tmp of its own), then then()."""
    def enter():
        fd = os.open(ns_path, os.O_RDONLY)
        if libc.setns(fd, CLONE_NEWNS) != 0:
            os._exit(126)
        os.close(fd)
        then()
    return enter


def nobody_run(args, ns=False):
    r = subprocess.run(args, preexec_fn=in_ns(as_nobody) if ns else as_nobody,
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{args} as nobody: {r.stderr.strip()}")


def cpu_seconds(pid):
    """User and system CPU time of pid so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def give(path):
    os.chown(path, NOBODY, NOBODY)


def start(args, **kw):
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, **kw)
    procs.append(p)
    return p


# The container's /tmp is its own: a build tree under /tmp (a CI clone)
# is not there, so the JIT program runs from a copy in /var/tmp, which both
# see.
jit_dir = tempfile.mkdtemp(prefix="ember-test-jit-", dir="/var/tmp")
os.chmod(jit_dir, 0o755)
jit_prog = shutil.copy2(prog("jit"), os.path.join(jit_dir, "jit"))


def start_jit(user_nobody, own_map=False):
    """A JIT in the container, with its own map or none; returns (Popen,
    pid, base address)."""
    p = start([jit_prog, "--seconds", "600", "--print"] + ([] if own_map else ["--no-map"]),
              preexec_fn=in_ns(as_nobody if user_nobody else lambda: os.nice(19)))
    m = re.match(r"pid=(\d+) base=0x([0-9a-f]+)", p.stdout.readline())
    if not m:
        fail("jit did not print its pid and code address")
    jits.append(p)
    return p, int(m.group(1)), int(m.group(2), 16)


def release_fifos():
    """A profiler without the fix (another one on this shared machine)
    blocks opening the FIFOs for good: open them for writing when someone
    is waiting on them, so it reads an end of file instead. Ours never
    waits, and must not need this."""
    for f in fifos:
        try:
            os.close(os.open(f, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass


stop_release = threading.Event()


def releaser():
    while not stop_release.wait(4):
        release_fifos()


def cleanup():
    stop_release.set()
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    # their processes gone, nobody can reach the FIFOs anew: release
    # whoever still waits, then remove them
    for _ in range(3):
        release_fifos()
        time.sleep(0.2)
    for m in mounts:
        # lazily: another profiler on this machine may hold a file open
        subprocess.run(["umount", "-l", m])
    shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(jit_dir, ignore_errors=True)


try:
    # The JITs run in a container of their own: a mount namespace whose
    # /tmp is its own tmpfs. Their perf maps are /tmp/perf-PID.map there,
    # as they see it (and other profilers on this machine, which read the
    # host's /tmp, never meet them).
    holder = start(["unshare", "-m", "--propagation", "private", "sh", "-c",
                    "mount -t tmpfs -o mode=1777,size=16m tmpfs /tmp && echo ready && exec sleep 600"])
    if holder.stdout.readline().strip() != "ready":
        fail("could not make the JITs' mount namespace")
    ns_path = f"/proc/{holder.pid}/ns/mnt"
    threading.Thread(target=releaser, daemon=True).start()

    # --- fifo-debuglink: the debug file is split off, then a FIFO
    dbg = os.path.join(ud, "split-dbg")
    subprocess.run(["objcopy", "--only-keep-debug", prog("split"), dbg + ".debug"], check=True)
    subprocess.run(["objcopy", "--strip-debug", "--remove-section", ".note.gnu.build-id",
                    f"--add-gnu-debuglink={dbg}.debug", prog("split"), dbg], check=True)
    os.unlink(dbg + ".debug")
    give(dbg)
    nobody_run(["mkfifo", dbg + ".debug"])
    fifos.append(dbg + ".debug")
    p_dbg = start([dbg, "--seconds", "600"], preexec_fn=as_nobody, cwd=ud)

    # --- perf maps that are a FIFO, a /dev/zero symlink, one endless line
    p_fifo_map, pid, _ = start_jit(True)
    nobody_run(["mkfifo", f"/tmp/perf-{pid}.map"], ns=True)
    p_zero_map, pid, _ = start_jit(True)
    nobody_run(["ln", "-s", "/dev/zero", f"/tmp/perf-{pid}.map"], ns=True)
    p_long_map, pid, _ = start_jit(True)
    nobody_run(["truncate", "-s", "8G", f"/tmp/perf-{pid}.map"], ns=True)
    # --- a map its owner holds a write lease on: an open would wait for
    # the lease to be given up (45 s, fs.lease-break-time), every time.
    # An open for reading that is not waited for still starts a break:
    # after 45 s the kernel makes the lease a read lease, which no longer
    # stops anyone, so the lessee takes its write lease back (not nice: it
    # sleeps, and must get the CPU in time when the phases last longer
    # than 45 s on a busy machine).
    p_leased_map, pid, _ = start_jit(True)
    leased = f"/tmp/perf-{pid}.map"
    # (Debian's python: nobody may not run the one under /root)
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    lessee = start([py, "-c",
                    "import fcntl, os, signal, time\n"
                    "signal.signal(signal.SIGIO, signal.SIG_IGN)\n"
                    f"fd = os.open({leased!r}, os.O_RDONLY | os.O_CREAT, 0o644)\n"
                    "fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)\n"
                    "print('leased', flush=True)\n"
                    "while True:\n"
                    "    time.sleep(0.5)\n"
                    "    # broken (a read lease, or none): take the write lease again\n"
                    "    if fcntl.fcntl(fd, fcntl.F_GETLEASE) != fcntl.F_WRLCK:\n"
                    "        try:\n"
                    "            fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)\n"
                    "            fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)\n"
                    "        except OSError:\n"
                    "            pass\n"], preexec_fn=in_ns(lambda: as_nobody(nice=False)))
    if lessee.stdout.readline().strip() != "leased":
        fail("could not take a lease on the perf map")
    # --- another user's map for a root process
    p_foreign_map, root_jit, base = start_jit(False)  # root, nice 19 too (start_jit)
    nobody_run(["sh", "-c", f"printf '%x 9 EVIL_hot\\n%x 9 EVIL_cold\\n' {base} {base + 0x1000} "
                f"> /tmp/perf-{root_jit}.map"], ns=True)
    # --- the control: nobody's JIT with its own map
    start_jit(True, own_map=True)

    # --- chroot-escape: two fresh tmpfs, the first file of each gets the
    # same inode number; inside the chroot, the program's path as
    # /proc/PID/maps shows it (the host path) is the attacker's symlink
    # to the host file.
    host_dir, root_dir = os.path.join(d, "host"), os.path.join(d, "chroot")
    for m in (host_dir, root_dir):
        os.mkdir(m)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0755", "tmpfs", m], check=True)
        mounts.append(m)
    secret = os.path.join(host_dir, "secret")
    shutil.copy(prog("recurse"), secret)
    os.chmod(secret, 0o600)
    static = os.path.join(root_dir, "split-static")
    shutil.copy(prog("split-static"), static)
    check(os.stat(secret).st_ino == os.stat(static).st_ino,
          f"the host file and the chroot's program share inode number {os.stat(static).st_ino} "
          f"(on two file systems)")
    inside = root_dir + static  # the host path, under the chroot
    os.makedirs(os.path.dirname(inside))
    give(os.path.dirname(inside))
    nobody_run(["ln", "-s", secret, inside])

    def enter_chroot():
        os.chroot(root_dir)
        os.chdir("/")
        as_nobody()
    p_static = start(["/split-static", "--seconds", "600"], preexec_fn=enter_chroot)

    # --- bomb: .debug_str grows by 200 MB of zeros, then zlib: ~1000:1
    bomb = os.path.join(ud, "bomb")
    strs = os.path.join(d, "str.bin")
    subprocess.run(["objcopy", f"--dump-section=.debug_str={strs}", prog("split-nofp"), bomb + ".tmp"],
                   check=True)
    os.truncate(strs, 200 << 20)  # sparse: no disk written
    subprocess.run(["objcopy", f"--update-section=.debug_str={strs}", prog("split-nofp"), bomb + ".raw"],
                   check=True)
    subprocess.run(["objcopy", "--compress-debug-sections=zlib", bomb + ".raw", bomb], check=True)
    for f in (strs, bomb + ".raw", bomb + ".tmp"):
        os.unlink(f)
    check(os.path.getsize(bomb) < 1 << 20, f"the bomb is {os.path.getsize(bomb) >> 10} KB on disk")
    give(bomb)
    p_bomb = start([bomb, "--seconds", "600"], preexec_fn=as_nobody, cwd=ud)

    # --- the ordinary workload (not nice: it has the samples to show a split)
    p_split = start([prog("split"), "--seconds", "600"])
    workloads = {"split": p_split, "split-dbg": p_dbg, "split-static": p_static, "bomb": p_bomb}

    # ---- the agent
    db = os.path.join(d, "agent.db")
    os.environ["EMBER_CACHE_DIR"] = cache
    # which process each refusal needs to have run (and been sampled)
    by_reason = {"not-regular": [p_dbg, p_fifo_map], "symlink": [p_zero_map],
                 "wrong-owner": [p_foreign_map], "outside-root": [p_static],
                 "too-big": [p_long_map], "over-budget": [p_bomb], "too-slow": [p_leased_map]}

    def reason_cpu():
        return {k: sum(cpu_seconds(p_.pid) for p_ in v) for k, v in by_reason.items()}
    def all_ran(cpu0):
        return all(v - cpu0[k] >= RAN_S for k, v in reason_cpu().items())
    cpu0 = {k: cpu_seconds(v.pid) for k, v in workloads.items()}
    rcpu0 = reason_cpu()
    t0 = time.time()
    p, base_url, _ = w.start(["agent", "--db", db, "--listen", "127.0.0.1:0", "--flush", str(FLUSH),
                              "-F", "49", "--memory", str(BUDGET_MB)])
    t_up, sched_up = time.time(), sched_seconds(p.pid)
    # resident sizes after the first flush (start-up: BPF maps, kallsyms,
    # every binary on the host), as the agent's /metrics tells it
    rss, watch = [], w.FlushWatch(base_url)
    while p.poll() is None and time.time() - t0 < AGENT_LIMIT_S and (
            time.time() - t0 < DURATION or watch.flushes < FLUSHES or not all_ran(rcpu0)):
        if watch.flushes >= 1:
            rss.append((time.time() - t0, w.rss_kb(p.pid)))
        time.sleep(0.25)
    watch.stop()
    # what ran until now is sampled; its refusals are counted when a flush
    # has symbolized it: two flushes on, however far behind a busy machine
    # left the agent
    ran = {k: v - rcpu0[k] for k, v in reason_cpu().items()}
    n = w.metric(w.request(base_url, "/metrics", timeout=AGENT_LIMIT_S)[2].decode(), "ember_flushes_total")
    w.wait_metric(base_url, "ember_flushes_total", n + 2, "two flushes after the workloads ran",
                  limit_s=AGENT_LIMIT_S)
    st, _, body = w.request(base_url, "/metrics", timeout=AGENT_LIMIT_S)
    t_end, sched_end = time.time(), sched_seconds(p.pid)
    text = body.decode()
    rc, err = w.stop(p)
    cpu = {k: cpu_seconds(v.pid) - cpu0[k] for k, v in workloads.items()}
    check(rc == 0, "the agent exits 0 on SIGTERM")

    def metric(name):
        m = re.search(r"^" + re.escape(name) + r" ([0-9.e+]+)$", text, re.M)
        return float(m.group(1)) if m else None

    refused = {k: int(v) for k, v in
               re.findall(r'^ember_files_refused_total\{reason="([a-z-]+)"\} ([0-9]+)$', text, re.M)}
    print(f"# /metrics refused: {refused}")
    issues = {k: int(v) for k, v in
              re.findall(r'^ember_debug_issues_total\{reason="([a-z-]+)"\} ([0-9]+)$', text, re.M)}
    print(f"# /metrics debug issues: {issues}")
    check(set(issues) == {"alt-missing", "alt-build-id-mismatch", "dwo-missing", "dwo-id-mismatch",
                          "unknown-form", "unsupported-compression", "corrupt",
                          "name-unresolved"},
          "/metrics has a debug-issue counter for every reason")
    print("# " + " ".join(l for l in text.splitlines() if l.startswith("ember_flush")))
    # The agent's loop (its main thread) sleeps only until the next flush
    # is due, at most --flush seconds before each flush: the time it
    # slept, neither on a CPU nor waiting for one, must hold a flush every
    # --flush seconds, half of them at least. A loop blocked in an
    # attacker's file (a FIFO, a lease) sleeps too, and flushes nothing;
    # one denied the CPU by a busy machine does not sleep.
    flushes = metric("ember_flushes_total")
    on_cpu, waited = (b - a for a, b in zip(sched_up, sched_end))
    slept = (t_end - t_up) - on_cpu - waited
    check(flushes is not None and flushes >= FLUSHES and flushes >= (slept / FLUSH - 1) / 2,
          f"the agent kept flushing: {flushes} flushes at --flush {FLUSH} in {t_end - t_up:.0f} s, "
          f"of which its loop slept {slept:.1f} s, ran {on_cpu:.1f} s and waited {waited:.1f} s for a CPU")
    check(set(refused) == {"not-regular", "symlink", "wrong-owner", "outside-root", "too-big",
                           "not-mapped-file", "over-budget", "too-slow"},
          "/metrics has a refusal counter for every reason")
    # Each reason when its process ran long enough to be sampled (a
    # tenth of a CPU second: ~5 samples at 49 Hz), as it nearly always
    # does; the attackers are nice 19 on a shared machine.
    what = {"not-regular": "FIFOs refused (the debuglink file and a perf map)",
            "symlink": "the /dev/zero perf map refused",
            "wrong-owner": "nobody's map of a root process refused",
            "outside-root": "the chroot's absolute symlink not followed out",
            "too-big": "the endless perf map line cut",
            "over-budget": "the compressed section refused",
            "too-slow": "the leased perf map not waited for"}
    print(f"# CPU s of the attackers: { {k: round(v, 2) for k, v in ran.items()} }")
    counted = [k for k in by_reason if ran[k] >= RAN_S]
    check(len(counted) >= 4, f"most attackers ran ({counted})")
    for k in counted:
        check(refused[k] >= 1, f"{what[k]}: {k} {refused[k]}")

    check(len(rss) >= 8, f"resident sizes sampled after the first flush ({len(rss)})")
    peak, median = max(kb for _, kb in rss), sorted(kb for _, kb in rss)[len(rss) // 2]
    print(f"# rss (s, MB): {[(round(a), b // 1024) for a, b in rss[::8]]}")
    # as test_agent_memory: the caches give way, some 25-30 MB are not caches
    check(peak <= BUDGET_MB * 1024 * 3 // 2 and median <= BUDGET_MB * 1024 * 5 // 4,
          f"resident memory stays near the {BUDGET_MB} MB budget: median {median // 1024} MB, "
          f"peak {peak // 1024} MB")
    big = [(f, os.path.getsize(os.path.join(r, f))) for r, _, fs in os.walk(cache) for f in fs
           if os.path.getsize(os.path.join(r, f)) > 32 << 20]
    check(not big, f"nothing the budget refused is in the cache ({big})")

    # by pid: other tests on this machine may run the same programs
    stacks = {k: folded(db, ["--filter", f"pid={v.pid}"]) for k, v in workloads.items()}
    stacks["jit"] = [x for p_ in procs if p_ in jits for x in folded(db, ["--filter", f"pid={p_.pid}"])]

    def samples(comm, pred=lambda fr: True):
        return sum(n for fr, n in stacks[comm] if pred(fr))

    def leaves(comm, names):
        return {x: samples(comm, lambda fr, x=x: x in fr) for x in names}

    # Samples scale with the CPU each workload got (they are nice 19 on
    # a shared machine): at -F 49 about 49 a CPU second, half at least.
    split = leaves("split", ["leaf_a", "leaf_b", "leaf_c"])
    tot = sum(split.values())
    want = max(8, int(0.5 * 49 * cpu["split"]))
    check(tot >= want and 0.4 <= split["leaf_a"] / tot <= 0.8 and 0.1 <= split["leaf_b"] / tot <= 0.5,
          f"split's samples arrive with its 6:3:1 split: {split} ({cpu['split']:.1f} CPU s, "
          f"{want} samples at least)")
    for comm in ("split-dbg", "split-static", "bomb"):
        got = leaves(comm, ["leaf_a", "leaf_b", "leaf_c"])
        allp = samples(comm)
        want = int(0.5 * 49 * cpu[comm])
        if cpu[comm] < 0.1:
            print(f"# {comm} got {cpu[comm]:.2f} CPU s: too little to be sampled for sure")
            continue
        check(allp >= want and sum(got.values()) >= 0.8 * allp,
              f"{comm} is sampled ({cpu[comm]:.1f} CPU s) and named from its own symbols: "
              f"{got} of {allp}")
    secret_names = samples("split-static", lambda fr: any("descend" in f or "deep_leaf" in f for f in fr))
    check(secret_names == 0, "no frame of the chroot's program is named from the host file")
    check(samples("jit", lambda fr: any(f.startswith("EVIL") for f in fr)) == 0,
          "no frame is named from another user's perf map")
    own_named = samples("jit", lambda fr: "jit_hot_[j]" in fr or "jit_cold_[j]" in fr)
    check(own_named > 0, f"nobody's JIT is named from its own map ({own_named} samples)")

    # ---- ember record -a: the summary says what was refused. split is
    # stopped, so the (nice) attackers get the CPUs; each reason is
    # checked when its process ran long enough to be sampled (a tenth of
    # a CPU second: ~10 samples at 99 Hz), as it nearly always does.
    p_split.kill()
    p_split.wait()
    rdb = os.path.join(d, "record.db")
    rlog = os.path.join(d, "record.log")
    with open(rlog, "w") as f:
        rp = subprocess.Popen([EMBER, "record", "-a", "-F", "99", "-o", rdb, "--symbolizer-memory", "64",
                               "--cache-dir", os.path.join(d, "cache-record")],
                              stdout=subprocess.DEVNULL, stderr=f)
    procs.append(rp)
    # record samples before it opens its file: from then on, the
    # attackers' CPU time is sampled
    t_r = time.time()
    while not os.path.exists(rdb) and rp.poll() is None and time.time() - t_r < RECORD_LIMIT_S:
        time.sleep(0.1)
    cpu0 = reason_cpu()
    t_r = time.time()
    while rp.poll() is None and (time.time() - t_r < RECORD_S or
                                 (not all_ran(cpu0) and time.time() - t_r < RECORD_LIMIT_S)):
        time.sleep(0.25)
    rp.send_signal(signal.SIGINT)
    try:
        rp.wait(timeout=300)
    except subprocess.TimeoutExpired:
        fail("ember record -a did not stop within 300 s of SIGINT (hung?)")
    ran = {k: v - cpu0[k] for k, v in reason_cpu().items()}
    with open(rlog) as f:
        rerr = f.read()
    sys.stderr.write(rerr)
    line = next((l for l in rerr.splitlines() if "files refused:" in l), "")
    print(f"# {line.strip()}; CPU s during record: { {k: round(v, 2) for k, v in ran.items()} }")
    check(rp.returncode == 0, f"ember record -a exits 0 on SIGINT next to the attackers ({rp.returncode})")
    counted = [k for k in by_reason if ran[k] >= RAN_S]
    check(len(counted) >= 4, f"most attackers ran during record ({counted})")
    for reason in counted:
        check(re.search(rf"\b{reason} [1-9]", line), f"record's summary counts {reason}")
    print("test_hostile_files: all checks passed")
finally:
    cleanup()
