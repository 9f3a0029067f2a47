/* SPDX-License-Identifier: Apache-2.0 */
/*
 * python_layout.h — the CPython structure fields Ember's Python walk reads,
 * listed once for the three places that meet over them: the symbolizer
 * finds their offsets (in the interpreter's debug information, by these
 * type and member names, or in its table of known versions), the sampler
 * hands them to the BPF program (struct ember_py_offsets is part of the
 * ABI in bpf/profile.h), and the tests compare them with what a program
 * compiled against CPython's own headers says.
 *
 * Each entry: the field's name here, the C type (a typedef or struct name,
 * as CPython's debug information names it) and the member path in it
 * (nested members joined with '.'). Offsets are bytes from the start of
 * the structure. Names follow CPython 3.11.
 */
#ifndef EMBER_PYTHON_LAYOUT_H
#define EMBER_PYTHON_LAYOUT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define EMBER_PY_FIELDS(X)                                                    \
	X(runtime_interp_head, "_PyRuntimeState", "interpreters.head")        \
	X(interp_next, "PyInterpreterState", "next")                          \
	X(interp_threads_head, "PyInterpreterState", "threads.head")           \
	X(tstate_next, "PyThreadState", "next")                               \
	X(tstate_native_tid, "PyThreadState", "native_thread_id")             \
	X(tstate_cframe, "PyThreadState", "cframe")                           \
	X(cframe_current_frame, "_PyCFrame", "current_frame")                 \
	X(frame_code, "_PyInterpreterFrame", "f_code")                        \
	X(frame_previous, "_PyInterpreterFrame", "previous")                  \
	X(frame_prev_instr, "_PyInterpreterFrame", "prev_instr")              \
	X(frame_is_entry, "_PyInterpreterFrame", "is_entry")                  \
	X(code_firstlineno, "PyCodeObject", "co_firstlineno")                 \
	X(code_filename, "PyCodeObject", "co_filename")                       \
	X(code_qualname, "PyCodeObject", "co_qualname")                       \
	X(code_linetable, "PyCodeObject", "co_linetable")                     \
	X(code_adaptive, "PyCodeObject", "co_code_adaptive")

/* The walk's offsets, and how many bytes of each structure it reads at
 * once (the end of the last field it uses there; at most
 * EMBER_PY_READ_MAX - 8, so a field read at any of these offsets stays
 * inside the BPF program's window). */
struct ember_py_offsets {
#define EMBER_PY_FIELD_DECL(name, type, member) __u16 name;
	EMBER_PY_FIELDS(EMBER_PY_FIELD_DECL)
#undef EMBER_PY_FIELD_DECL
	__u16 tstate_size;
	__u16 frame_size;
	__u16 code_size;
	__u16 pad;
};

/* The identity of a code object (its file, qualified name and line table
 * objects, and its first line), as the BPF walk and user space compute it:
 * a code object freed and another allocated at its address differs in one
 * of them unless it is the same function again. */
static inline __u64 ember_py_ident(__u64 filename, __u64 qualname, __u64 linetable,
				   __u32 firstlineno)
{
	__u64 h = 0x9e3779b97f4a7c15ULL;

	h = (h ^ filename) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ qualname) * 0x94d049bb133111ebULL;
	h = (h ^ linetable) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ firstlineno) * 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

/* Largest single read of an interpreter structure, bytes. */
#define EMBER_PY_READ_MAX 256

#endif
