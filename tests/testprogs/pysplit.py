# SPDX-License-Identifier: Apache-2.0
"""pysplit: a Python program whose CPU split across Python functions is
known by construction (tests/testprogs/README.md), for Debian's python3.

    <module> -> main -> run_a -> leaf_a     60 %  (6 units a round)
    <module> -> main -> run_b -> leaf_b     30 %  (3 units a round)
    <module> -> main -> run_c -> leaf_c     10 %  (1 unit a round)

Every leaf runs the same loop (spin_units), so equal units cost equal CPU.
Each round is scaled by 1..4, drawn per round (as in split.c): the split
within a round stays exact, but rounds stop being strictly periodic. A
round of fixed length (~0.66 ms here) sampled by a periodic timer aliases:
the samples keep landing at the same phase of the round. Without the
scaling, three CI runs read leaf_a at 0.46-0.51 where the work is 0.6
(5 s at 499 Hz, no other thread to shift the phase).
The lines the profiler must report are marked with "# line:NAME" comments;
the tests read them from this file.

Options:
  --seconds S        run this long (default 3)
  --threads N        run the split in N threads (worker -> run_X -> leaf_X)
  --asyncio          run it as asyncio tasks (arun_X -> leaf_X, awaited)
  --zlib             instead of the split: zlib_leaf compresses in a loop
                     (a C extension called from Python)
  --recurse N        reach the split through descend() N frames deep
  --fork             fork once: parent and child both run the split
  --exec S           run S seconds, then exec this program again (the
                     rest of the time, entered through exec_main)
  --self-sample F    an in-process sampler: a thread reads
                     sys._current_frames() every 5 ms and counts, per
                     Python function on the main thread's stack, the
                     samples it is in (recursion once); writes "name
                     count" lines and "samples N" to F at the end
  --ready            print "ready" once running (for record -p)
"""
import os
import random
import sys
import time

UNIT = 2000  # loop iterations per unit of work


def spin_units(units):
    x = 0
    for i in range(units * UNIT):  # line:loop
        x ^= i * i  # line:body (stays one 30-bit digit: every unit costs alike)
    return x


def leaf_a(scale=1):
    return spin_units(6 * scale)  # line:leaf_a


def leaf_b(scale=1):
    return spin_units(3 * scale)  # line:leaf_b


def leaf_c(scale=1):
    return spin_units(1 * scale)  # line:leaf_c


def run_a(scale):
    leaf_a(scale)  # line:run_a


def run_b(scale):
    leaf_b(scale)  # line:run_b


def run_c(scale):
    leaf_c(scale)  # line:run_c


def split_until(end):
    rng = random.Random(os.getpid())
    while time.time() < end:
        scale = rng.randint(1, 4)
        run_a(scale)  # line:split_a
        run_b(scale)  # line:split_b
        run_c(scale)  # line:split_c


def descend(n, end):
    if n <= 1:
        return split_until(end)
    return descend(n - 1, end)  # line:descend


def worker(end):
    split_until(end)  # line:worker


async def arun(fn, scale):
    import asyncio
    fn(scale)  # line:arun
    await asyncio.sleep(0)


async def amain(end):
    import asyncio
    rng = random.Random(os.getpid())
    while time.time() < end:
        scale = rng.randint(1, 4)
        await asyncio.gather(arun(leaf_a, scale), arun(leaf_b, scale), arun(leaf_c, scale))


def zlib_leaf(end):
    import zlib
    data = bytes(range(256)) * 2048
    while time.time() < end:
        zlib.compress(data, 9)  # line:zlib


def self_sampler(path, main_id, stop):
    counts = {}
    samples = 0
    while not stop():
        time.sleep(0.005)
        frame = sys._current_frames().get(main_id)
        names = set()
        while frame is not None:
            names.add(frame.f_code.co_qualname)
            frame = frame.f_back
        if names:
            samples += 1
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    with open(path, "w") as f:
        f.write(f"samples {samples}\n")
        for name, n in sorted(counts.items()):
            f.write(f"{name} {n}\n")


def exec_main(seconds):
    split_until(time.time() + seconds)  # line:exec_main


def main(opts):
    end = time.time() + opts["seconds"]
    if opts["ready"]:
        print("ready", flush=True)
    if opts["exec"] is not None:
        split_until(time.time() + opts["exec"])
        rest = max(opts["seconds"] - opts["exec"], 0.5)
        os.execv(sys.executable, [sys.executable, __file__, "--after-exec", str(rest)])
    if opts["fork"]:
        pid = os.fork()
        split_until(end)  # line:main_fork
        if pid:
            os.waitpid(pid, 0)
        else:
            os._exit(0)
        return
    if opts["zlib"]:
        zlib_leaf(end)  # line:main_zlib
    elif opts["asyncio"]:
        import asyncio
        asyncio.run(amain(end))  # line:main_asyncio
    elif opts["threads"]:
        import threading
        ts = [threading.Thread(target=worker, args=(end,), name=f"pyworker{i}")
              for i in range(opts["threads"])]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    elif opts["recurse"]:
        descend(opts["recurse"], end)  # line:main_recurse
    else:
        split_until(end)  # line:main


def parse(argv):
    opts = {"seconds": 3.0, "threads": 0, "asyncio": False, "zlib": False,
            "recurse": 0, "fork": False, "exec": None, "self_sample": None,
            "ready": False, "after_exec": None}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--seconds", "--threads", "--recurse", "--exec", "--self-sample",
                 "--after-exec"):
            if i + 1 >= len(argv):
                sys.exit(f"pysplit: {a} needs a value")
            v = argv[i + 1]
            key = a[2:].replace("-", "_")
            opts[key] = v if key == "self_sample" else (
                float(v) if key in ("seconds", "exec", "after_exec") else int(v))
            i += 2
        elif a in ("--asyncio", "--zlib", "--fork", "--ready"):
            opts[a[2:]] = True
            i += 1
        else:
            sys.exit(f"pysplit: unknown option {a}")
    return opts


if __name__ == "__main__":
    OPTS = parse(sys.argv[1:])
    if OPTS["after_exec"] is not None:
        exec_main(OPTS["after_exec"])  # line:module_exec
        sys.exit(0)
    sampler = None
    if OPTS["self_sample"]:
        import threading
        done = []
        sampler = threading.Thread(target=self_sampler,
                                   args=(OPTS["self_sample"], threading.get_ident(),
                                         lambda: bool(done)), daemon=True)
        sampler.start()
    main(OPTS)  # line:module
    if sampler:
        done.append(1)
        sampler.join()
