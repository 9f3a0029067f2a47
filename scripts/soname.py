#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""soname.py LIBDIR NAME: print LIBDIR/SONAME for the library LIBDIR/libNAME.so.

The build's absolute path of a library that `ember` loads only when a
command needs it (common_dl_load): the SONAME the linker would record,
read from the development symlink's ELF dynamic section, joined to the
libdir pkg-config gave. Fails (exit 1, a message) when the file is missing
or is not a 64- or 32-bit ELF shared object with a SONAME.
"""
import os
import struct
import sys


def soname(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
        sh_fmt, dyn_fmt = end + "IIQQQQIIQQ", end + "qQ"
    else:
        shoff, = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
        sh_fmt, dyn_fmt = end + "IIIIIIIIII", end + "iI"
    sections = [struct.unpack_from(sh_fmt, data, shoff + i * shentsize)
                for i in range(shnum)]
    for sh in sections:
        if sh[1] != 6:  # SHT_DYNAMIC
            continue
        strtab = sections[sh[6]]  # sh_link: its string table
        str_off = strtab[4]
        step = struct.calcsize(dyn_fmt)
        for off in range(sh[4], sh[4] + sh[5], step):
            tag, val = struct.unpack_from(dyn_fmt, data, off)
            if tag == 0:
                break
            if tag == 14:  # DT_SONAME
                start = str_off + val
                return data[start:data.index(b"\0", start)].decode()
    raise ValueError("no SONAME")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: soname.py LIBDIR NAME")
    libdir, name = sys.argv[1], sys.argv[2]
    path = os.path.join(libdir, "lib" + name + ".so")
    try:
        print(os.path.join(libdir, soname(path)))
    except (OSError, ValueError, struct.error, IndexError) as e:
        sys.exit(f"soname.py: {path}: {e}")


main()
