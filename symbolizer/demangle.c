/* SPDX-License-Identifier: Apache-2.0 */
/*
 * demangle.c — C++ and Rust names made readable with libiberty's demangler
 * (the one binutils and GDB use), so that frames say
 * "ns::Box<int>::get() const" rather than "_ZNK2ns3BoxIiE3getEv". The session
 * calls it on every name it interns for a frame (the per-binary address
 * cache keeps the result); only names that look mangled are passed on.
 * The DWARF reader asks for a function as the scope of a lambda or a
 * local class, which the demangler writes without its return type.
 */
#include "sym-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libiberty/demangle.h>

static char *demangle(const char *name, int options)
{
	/* _Z: Itanium C++ (and Rust legacy); _R: Rust v0. */
	if (!name || name[0] != '_' || (name[1] != 'Z' && name[1] != 'R'))
		return NULL;
	return cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO | options);
}

/* A PLT stub's name is its function's with "@plt" (elf.c), demangled as
 * perf and objdump -C write it: "std::ostream::flush()@plt". */
char *sym_demangle(const char *name)
{
	static const char plt[] = "@plt";
	size_t len = name ? strlen(name) : 0;
	char *fn, *dem, *out = NULL;

	if (len <= sizeof(plt) - 1 || strcmp(name + len - (sizeof(plt) - 1), plt))
		return demangle(name, 0);
	fn = strndup(name, len - (sizeof(plt) - 1));
	dem = fn ? demangle(fn, 0) : NULL;
	if (dem && asprintf(&out, "%s%s", dem, plt) < 0)
		out = NULL;
	free(dem);
	free(fn);
	return out;
}

char *sym_demangle_scope(const char *name)
{
	return demangle(name, DMGL_RET_DROP);
}
