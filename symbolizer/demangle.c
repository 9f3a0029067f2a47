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

char *sym_demangle(const char *name)
{
	return demangle(name, 0);
}

char *sym_demangle_scope(const char *name)
{
	return demangle(name, DMGL_RET_DROP);
}
