#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Privileged: whole C++ stacks. cxxchain (tests/testprogs/cxxchain.cpp)
runs eight call chains through C++ frames that carry exception-handling
data (a try/catch, destructors: CIE augmentation "zPLR", whose personality
pointer libunwind reads from the binary's data), std::function, a lambda
given to a template, a virtual call, libstdc++'s std::ostream::write, and a
shared library of ours with a callback. In all four builds (g++ and
clang++, with and without frame pointers) and every unwinding mode that
suits the build (dwarf, auto, and fp for frame-pointer builds, with its
leaf repair), at least 99% of each hot function's samples must have the
whole chain up to main, and up to the process's root where the mode
reaches it. Also through a signal handler (libc's __restore_rt, CIE "zRS")
and in std::threads (libstdc++'s execute_native_thread_routine).

What frame pointers cannot express is checked as what it is: a
frame-pointer walk through libstdc++ (built without them) ends in a
[truncated] stack, never a wrong whole one, and through a signal frame it
skips the interrupted function, as the kernel's walk (and perf's) does."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
from embertest import *  # noqa: F401,F403

FREQ = 999
SECONDS = "2"

# Real frames (not inlined) after main, by hot function; names reduced to
# their base name (see base_name) so that the test holds whichever way
# the symbolizer qualifies C++ names.
CHAINS = {
    "hot_try": ["via_try", "try_body", "hot_try"],
    "hot_raii": ["via_raii", "hot_raii"],
    "hot_function": ["via_function", "_M_invoke", "hot_function"],
    "hot_lambda": ["via_lambda", "apply_each", "operator()", "hot_lambda"],
    "hot_virtual": ["via_virtual", "work", "hot_virtual"],
    "hot_stream": ["via_stream", "write", "xsputn", "hot_stream"],
    "cxxlib_hot": ["via_library", "cxxlib_run", "cxxlib_hot"],
    "hot_callback": ["via_callback", "cxxlib_call_back", "hot_callback"],
}
# The roots: all the way (DWARF), or where the frame-pointer walk ends
# (auto mode gives a frame-pointer program's DWARF stacks that shape too).
MAIN_ROOTS = (["_start", "__libc_start_main_impl", "__libc_start_call_main", "main"],
              ["_start", "__libc_start_main", "__libc_start_call_main", "main"],
              ["__libc_start_call_main", "main"])
# std::thread's trampoline in libstdc++ is a local symbol, which Debian's
# stripped libstdc++ keeps only in its debug file: it may read
# "libstdc++.so.6.0.30+0x...". _M_run, which calls worker_main, ends in a
# tail call (no frame of its own) with both compilers.
NATIVE_ROUTINE = re.compile(r"execute_native_thread_routine|libstdc\+\+\.so[.0-9]*\+0x[0-9a-f]+")
THREAD_ROOTS = (["clone3", "start_thread", NATIVE_ROUTINE, "worker_main"],
                ["start_thread", NATIVE_ROUTINE, "worker_main"])
SIGNAL_CHAIN = ["spin_loop", "spin_leaf", "__restore_rt", "on_signal", "hot_signal"]

VARIANTS = {
    # name: has frame pointers
    "cxxchain": True,            # clang++, leaves keep them too
    "cxxchain-gccfp": True,      # g++, frameless leaves
    "cxxchain-nofp": False,      # g++ -fomit-frame-pointer
    "cxxchain-clang-nofp": False,
}


def base_name(name):
    """The function's own name: no return type, scope, template arguments
    or parameters ("void apply_each<F>(unsigned long, F)" -> "apply_each",
    "main::{lambda(int)#1}::operator()(int) const" -> "operator()")."""
    s = name.strip()
    if s.endswith(" const"):
        s = s[:-len(" const")]

    def strip_group(s, open_, close):
        if not s.endswith(close):
            return s
        depth = 0
        for i in range(len(s) - 1, -1, -1):
            if s[i] == close:
                depth += 1
            elif s[i] == open_:
                depth -= 1
                if depth == 0:
                    return s[:i]
        return s

    if not s.endswith("operator()"):
        s = strip_group(s, "(", ")")
    if s.endswith("operator"):
        s += "()"
    s = strip_group(s, "<", ">").rstrip()
    depth = 0
    cut = 0
    for i, ch in enumerate(s):
        if ch in "<({":
            depth += 1
        elif ch in ">)}":
            depth -= 1
        elif depth == 0 and ch == " " and not s[i + 1:].startswith("const"):
            cut = i + 1
        elif depth == 0 and s.startswith("::", i):
            cut = i + 2
    return s[cut:]


def chains_of(db):
    """[(base names of the real user frames root first, truncated?, count)]"""
    out = []
    for frames, count in folded(db):
        u = user_frames(frames)
        trunc = bool(u) and u[0] == "[truncated]"
        out.append(([base_name(x) for x in u if x != "[truncated]"], trunc, count))
    return out


def matches(chain, want):
    """chain equals want, whose elements are names or compiled patterns."""
    return len(chain) == len(want) and all(
        w.fullmatch(c) if isinstance(w, re.Pattern) else w == c for c, w in zip(chain, want))


def whole(chain, roots, tail):
    return any(matches(chain, r + tail) for r in roots)


def check_run(label, db, roots, expect, fp_walked):
    """expect: hot function -> chain after the root. fp_walked: samples may
    have been walked by frame pointers (fp mode, or auto before a switch):
    hot_stream's then end [truncated] at libstdc++'s write."""
    stacks = chains_of(db)
    pooled_ok = pooled_n = 0
    for hot, tail in expect.items():
        mine = [(c, t, n) for c, t, n in stacks if c and c[-1] == hot]
        n = sum(k for _, _, k in mine)
        ok = sum(k for c, t, k in mine if not t and whole(c, roots, tail))
        if hot == "hot_stream" and fp_walked:
            # (libstdc++ keeps no frame pointers: the walk cannot get
            # past std::ostream::write, and must say so)
            cut = sum(k for c, t, k in mine if t and c[-3:] == tail[-3:])
            ok += cut
        bad = [(c, t, k) for c, t, k in mine if not (not t and whole(c, roots, tail))]
        check(n >= 20, f"{label}: {hot} has samples ({n})")
        check(ok >= 0.99 * n, f"{label}: {ok}/{n} {hot} samples have the whole chain "
              f"...;{';'.join(tail)} (first other: {bad[:1]})")
        pooled_ok += ok
        pooled_n += n
    return pooled_ok, pooled_n


def record_variant(d, name, mode, args, tag):
    db = os.path.join(d, f"{name}-{mode}-{tag}.db")
    r = record(db, [prog(name), "--cpu-seconds", SECONDS] + args, freq=FREQ,
               extra=["--unwind", mode, "--flush", "1"])
    check(r.returncode == 0, f"recorded {name} {' '.join(args)} with --unwind {mode}")
    return db, r


def main():
    require_root()
    d = tmpdir()
    for name, has_fp in VARIANTS.items():
        modes = ["dwarf", "auto"] + (["fp"] if has_fp else [])
        for mode in modes:
            fp_walked = mode == "fp" or (mode == "auto" and has_fp)
            label = f"{name} --unwind {mode}"
            db, r = record_variant(d, name, mode, [], "main")
            if mode == "dwarf" or (mode == "auto" and not has_fp):
                check("bad-frame" not in r.stderr and "memory-not-served" not in r.stderr,
                      f"{label}: no DWARF unwind failed on a bad frame or unserved memory")
            roots = MAIN_ROOTS
            ok, n = check_run(label, db, roots, CHAINS, fp_walked)
            check(ok >= 0.99 * n, f"{label}: {ok}/{n} hot samples whole in all")

            # std::threads: their chains start in libstdc++, which has no
            # frame pointers, so only DWARF gets them whole.
            if mode != "fp":
                db, r = record_variant(d, name, mode, ["--threads", "2"], "threads")
                check_run(label + " --threads 2", db, THREAD_ROOTS, CHAINS, fp_walked)

            # A signal handler: __restore_rt's CIE has the "S" augmentation.
            db, r = record_variant(d, name, mode, ["--signal"], "signal")
            stacks = chains_of(db)
            mine = [(c, t, k) for c, t, k in stacks if c and c[-1] == "hot_signal"]
            n = sum(k for _, _, k in mine)
            if mode == "fp":
                # The walk goes from the handler to the frame the
                # interrupted code's %rbp points to: the interrupted
                # function (and with GCC's frameless spin_leaf, its
                # caller) is not in the chain, as with perf --call-graph fp.
                def good(c, t):
                    if t:
                        return False
                    for r_ in MAIN_ROOTS:
                        if c[:len(r_)] == r_ and c[-3:] == SIGNAL_CHAIN[-3:]:
                            mid = c[len(r_):-3]
                            return mid in ([], ["spin_loop"], ["spin_loop", "spin_leaf"])
                    return False
            else:
                def good(c, t):
                    return not t and whole(c, MAIN_ROOTS, SIGNAL_CHAIN)
            ok = sum(k for c, t, k in mine if good(c, t))
            other = [(c, t, k) for c, t, k in mine if not good(c, t)]
            check(n >= 50, f"{label} --signal: hot_signal has samples ({n})")
            check(ok >= 0.99 * n, f"{label} --signal: {ok}/{n} hot_signal samples have "
                  f"the chain through __restore_rt (first other: {other[:1]})")

    # The names the chains are checked with.
    for full, want in (("void apply_each<via_lambda(unsigned long)::$_0>(unsigned long, "
                        "via_lambda(unsigned long)::$_0)", "apply_each"),
                       ("via_lambda(unsigned long)::$_0::operator()(unsigned long) const", "operator()"),
                       ("operator()", "operator()"),
                       ("apply_each<via_lambda(uint64_t)::<lambda(uint64_t)> >", "apply_each"),
                       ("std::ostream::write(char const*, long)", "write"),
                       ("std::_Function_handler<void (unsigned long), main::$_1>::_M_invoke("
                        "std::_Any_data const&, unsigned long&&)", "_M_invoke"),
                       ("hot_try(unsigned long)", "hot_try"), ("main", "main")):
        check(base_name(full) == want, f"base_name({full!r}) = {base_name(full)!r}")


if __name__ == "__main__":
    main()
