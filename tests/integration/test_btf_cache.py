#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Privileged: the small BTF the sampler's CO-RE relocations use instead of
the kernel's whole one (bpf/sampler-btf.c). Made once per kernel into
CACHE_DIR/btf, then read from there without libbpf loading
/sys/kernel/btf/vmlinux; every relocation lands where the kernel's whole
BTF puts it (libbpf's own log of both loads is the ground truth); an
entry that is not to be trusted (writable by others, a symlink, another
owner, a directory others may write) or not this kernel's (junk, a BTF
without the types) is refused, said so in the summary, and the recording
goes on with a new entry or the kernel's BTF."""
import os
import re
import stat
import sys

sys.path.insert(0, os.path.dirname(__file__))
from embertest import *  # noqa: F401,F403

KERNEL = "the kernel's whole BTF"
CACHED = "the cached small BTF"
MADE = "a small BTF made from the kernel's"


def rec(d, cache, debug=False):
    db = os.path.join(d, "r.db")
    env = dict(os.environ)
    if debug:
        env["EMBER_DEBUG_LIBBPF"] = "1"
    r = run([EMBER, "record", "-F", "199", "-o", db, "--cache-dir", cache, "--",
             prog("split"), "--seconds", "1"], env=env)
    check(r.returncode == 0, f"record exits 0 (got {r.returncode}: {r.stderr[-400:]!r})")
    check(int(read_meta(db)["samples_kernel"]) > 0, "it sampled")
    m = re.search(r"kernel types: (.*)", r.stderr)
    check(m is not None, "the summary says where the kernel types came from")
    return m.group(1), r.stderr


def relocations(log):
    """What libbpf wrote into the instructions, per program: the ground
    truth is the same lines against the kernel's whole BTF."""
    return sorted(re.sub(r"\[\d+\] ", "", l) for l in log.splitlines()
                  if re.search(r"relo #\d+: (patched insn|matching candidate)", l))


def entries(btf_dir):
    return sorted(e for e in os.listdir(btf_dir) if not e.startswith("."))


def main():
    require_root()
    d = tmpdir()
    cache = os.path.join(d, "cache")
    btf_dir = os.path.join(cache, "btf")

    # Made once, then read from the cache.
    src, _ = rec(d, cache)
    check(src == MADE, f"first start makes it ({src!r})")
    check(stat.S_IMODE(os.stat(btf_dir).st_mode) == 0o700, "CACHE/btf is 0700")
    (entry,) = entries(btf_dir)
    path = os.path.join(btf_dir, entry)
    st = os.stat(path)
    check(stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0, "the entry is root's, 0600")
    check(st.st_size < 256 * 1024, f"it is small ({st.st_size} bytes; the kernel's is "
          f"{os.stat('/sys/kernel/btf/vmlinux').st_size})")
    src, log = rec(d, cache, debug=True)
    check(src == CACHED, f"second start reads it ({src!r})")
    check("loading kernel BTF" not in log, "libbpf did not load the kernel's whole BTF")
    _, whole = rec(d, "none", debug=True)
    check("loading kernel BTF" in whole, "without a cache libbpf loads the kernel's BTF")
    mine, truth = relocations(log), relocations(whole)
    check(len(truth) > 50 and mine == truth,
          f"all {len(truth)} relocation lines match the kernel's whole BTF's "
          f"({len(set(mine) ^ set(truth))} differ)")
    good = open(path, "rb").read()

    # Not to be trusted: refused, made again, replaced by a good one.
    def refused(why, expect=MADE):
        src, _ = rec(d, cache)
        check(src.startswith(expect) and "refused" in src, f"{why}: refused ({src!r})")
        check(open(path, "rb").read() == good, f"{why}: a good entry is back")
        st = os.lstat(path)
        check(stat.S_ISREG(st.st_mode) and st.st_uid == 0 and
              stat.S_IMODE(st.st_mode) == 0o600, f"{why}: root's and 0600 again")

    os.chmod(path, 0o620)
    refused("group-writable")
    os.chown(path, 65534, 65534)
    refused("owned by nobody")
    other = os.path.join(d, "elsewhere.btf")
    with open(other, "wb") as f:
        f.write(good)
    os.unlink(path)
    os.symlink(other, path)
    refused("a symlink")
    with open(path, "wb") as f:
        f.write(b"\x9f\xeb junk" * 100)
    refused("junk")
    # A BTF that names the key but holds none of the types: it parses,
    # the load against it fails, the programs load against the kernel's
    # BTF, and the entry is removed.
    name = b"ember_btf_key_" + entry.encode()
    strs = b"\0" + name + b"\0"
    hdr = (0xeB9F).to_bytes(2, "little") + bytes([1, 0]) + (24).to_bytes(4, "little")
    hdr += b"".join(n.to_bytes(4, "little") for n in (0, 12, 12, len(strs)))
    typ = (1).to_bytes(4, "little") + (4 << 24).to_bytes(4, "little") + (0).to_bytes(4, "little")
    with open(path, "wb") as f:
        f.write(hdr + typ + strs)
    src, _ = rec(d, cache)
    check(src.startswith(KERNEL) and "damaged" in src and "refused" in src, f"an entry without the types: kernel BTF ({src!r})")
    check(entries(btf_dir) == [], "and the entry is gone")
    src, _ = rec(d, cache)
    check(src == MADE, f"the next start makes it again ({src!r})")

    # Another kernel's entry goes when this kernel's is written.
    stale = os.path.join(btf_dir, "00" * 20 + "_1_0000000000000000")
    with open(stale, "wb") as f:
        f.write(good)
    os.unlink(path)
    src, _ = rec(d, cache)
    check(src == MADE and entries(btf_dir) == [entry], f"another kernel's entry removed ({entries(btf_dir)})")

    # A directory others may write: not used at all, made in memory.
    os.chmod(btf_dir, 0o777)
    src, _ = rec(d, cache)
    check(src.startswith(MADE) and "refused" in src, f"a world-writable CACHE/btf is not used ({src!r})")
    check(open(path, "rb").read() == good, "nothing written into it")
    print("ok")


if __name__ == "__main__":
    main()
