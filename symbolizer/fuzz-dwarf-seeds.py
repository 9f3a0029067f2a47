#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Makes the seed corpus of fuzz-dwarf.c from a small -O2 -g ELF file (the
# debug file of tests/unit/symbolizer-fixtures/fixture-inline.c made with
# objcopy --only-keep-debug): the file itself, then for each debug section
# a copy with the section truncated (its size in the section header
# halved, and the file cut in the middle of it), its unit header zeroed,
# its first length made huge, and bytes overwritten at fixed places; a
# DWARF 5 line header with an impossible address size; and the file with
# its debug sections compressed (zlib, and zlib-gnu's .zdebug_*).
#
# Usage: fuzz-dwarf-seeds.py DEBUG_FILE OUT_DIR
import os
import struct
import subprocess
import sys

SECTIONS = [".debug_info", ".debug_abbrev", ".debug_line", ".debug_str",
            ".debug_line_str", ".debug_rnglists", ".debug_ranges",
            ".debug_aranges", ".debug_loclists"]


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


def main():
    src, out = sys.argv[1], sys.argv[2]
    data = open(src, "rb").read()
    os.makedirs(out, exist_ok=True)
    def put(name, blob):
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)
    put("pristine", data)
    for name, (hdr, off, size) in sorted(sections(data).items()):
        if name not in SECTIONS or size < 16:
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
    # compressed sections, inflated by the reader itself: SHF_COMPRESSED
    # and GNU .zdebug_*
    for kind in ("zlib", "zlib-gnu"):
        tmp = os.path.join(out, ".tmp-" + kind)
        subprocess.run(["objcopy", f"--compress-debug-sections={kind}", src, tmp], check=True)
        put("compressed-" + kind, open(tmp, "rb").read())
        os.unlink(tmp)


if __name__ == "__main__":
    main()
