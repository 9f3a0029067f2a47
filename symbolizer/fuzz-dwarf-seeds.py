#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Makes the seed corpus of fuzz-dwarf.c from small -O2 -g ELF files: the
# file itself, then for each debug section a copy with the section
# truncated (its size in the section header halved, and the file cut in
# the middle of it), its unit header zeroed, its first length made huge,
# and bytes overwritten at fixed places. The files (from
# tests/unit/symbolizer-fixtures/fixture-inline.c):
#   pristine    its debug file (objcopy --only-keep-debug); seeds unprefixed
#   dwz, dwz5   the binary after dwz -m with a second one (GNU forms; -5
#               for DWARF 5's .debug_sup forms), the multifile added as a
#               section .fuzz_alt (fuzz-dwarf.c hands it over as the alt)
#   split5      -gsplit-dwarf, its llvm-dwp package as .fuzz_dwp
#   split4      -gdwarf-4 -gsplit-dwarf, binutils dwp's package (index v2)
#   zstd        objcopy --compress-debug-sections=zstd
# Each but pristine gives seeds NAME-SECTION-MUTATION; .fuzz_alt and
# .fuzz_dwp are mutated as a whole like the debug sections. pristine also
# gives a DWARF 5 line header with an impossible address size, and
# itself with its debug sections compressed by zlib and zlib-gnu
# (.zdebug_*), which the reader inflates itself.
#
# Usage: fuzz-dwarf-seeds.py OUT_DIR NAME=FILE...
import os
import struct
import subprocess
import sys

SECTIONS = [".debug_info", ".debug_abbrev", ".debug_line", ".debug_str",
            ".debug_line_str", ".debug_rnglists", ".debug_ranges",
            ".debug_aranges", ".debug_loclists", ".debug_addr",
            ".debug_str_offsets", ".fuzz_alt", ".fuzz_dwp"]


def sections(data):
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    def hdr(i):
        base = shoff + i * shentsize
        name, typ, flags, addr, off, size = struct.unpack_from("<IIQQQQ", data, base)
        return base, name, off, size
    _, _, stroff, _ = hdr(shstrndx)
    out = {}
    for i in range(shnum):
        base, name, off, size = hdr(i)
        end = data.index(b"\0", stroff + name)
        out[data[stroff + name:end].decode()] = (base, off, size)
    return out


# The sections the new forms and files are read through (the others are
# the same code as pristine's).
EXTRA = [".debug_info", ".debug_abbrev", ".debug_str", ".debug_addr",
         ".debug_str_offsets", ".fuzz_alt", ".fuzz_dwp"]


def seeds(out, label, data):
    prefix = "" if label == "pristine" else label + "-"
    wanted = SECTIONS if label == "pristine" else EXTRA
    def put(name, blob):
        with open(os.path.join(out, prefix + name), "wb") as f:
            f.write(blob)
    put("pristine" if label == "pristine" else "whole", data)
    for name, (hdr, off, size) in sorted(sections(data).items()):
        if name not in wanted or size < 16:
            continue
        tag = name.lstrip(".")
        b = bytearray(data)
        struct.pack_into("<Q", b, hdr + 0x20, size // 2)
        put(tag + "-size-halved", bytes(b))
        put(tag + "-file-cut", data[:off + size // 2])
        b = bytearray(data)
        b[off:off + 16] = bytes(16)
        put(tag + "-header-zeroed", bytes(b))
        b = bytearray(data)
        struct.pack_into("<I", b, off, 0xfffffff0)
        put(tag + "-length-huge", bytes(b))
        b = bytearray(data)
        for k in range(1, 8):
            b[off + size * k // 8] = 0xff
        put(tag + "-bytes-ff", bytes(b))
        b = bytearray(data)
        struct.pack_into("<Q", b, hdr + 0x18, len(data) - 8)
        put(tag + "-offset-past-end", bytes(b))
        if name == ".debug_line" and struct.unpack_from("<H", data, off + 4)[0] >= 5:
            # DWARF 5: an address size no value has, and the directory
            # entries' path in DW_FORM_addr, read at that size (UBSan
            # found cur_u shifting by 64 for it)
            b = bytearray(data)
            b[off + 6] = 16
            opcode_base = data[off + 17]
            fmt = off + 18 + opcode_base - 1  # directory_entry_format_count
            if data[fmt] >= 1 and data[fmt + 1] == 1:  # DW_LNCT_path
                b[fmt + 2] = 0x01  # DW_FORM_addr
            put(tag + "-address-size-16", bytes(b))
    if label == "pristine":
        src = os.path.join(out, ".tmp-src")
        with open(src, "wb") as f:
            f.write(data)
        for kind in ("zlib", "zlib-gnu"):
            tmp = os.path.join(out, ".tmp-" + kind)
            subprocess.run(["objcopy", f"--compress-debug-sections={kind}", src, tmp], check=True)
            put("compressed-" + kind, open(tmp, "rb").read())
            os.unlink(tmp)
        os.unlink(src)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for arg in sys.argv[2:]:
        label, _, path = arg.partition("=")
        seeds(out, label, open(path, "rb").read())


if __name__ == "__main__":
    main()
