/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sym-python.h — what the two files of the CPython reader share:
 * python.c (the interpreter of a process and its structure offsets, the
 * state) and python-code.c (code objects read from the process and
 * named). Private to them; the session sees python.c through
 * sym-internal.h.
 *
 * Invariants: a process in procs is filed under its own pid; n_codes
 * counts the code objects in every process's codes, and memory the bytes
 * of them and their decoded tables since the caches last started again
 * (both checked against PY_MAX_CODES and PY_MAX_MEMORY before a code is
 * added); a code object's ranges are sorted by start, strictly (line_of
 * searches them). Asserted where they change.
 */
#pragma once

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common.h"
#include "sym-internal.h"
#include "symbolizer.h"

/* Bounds on what is read from a process (its memory is not trusted). */
#define PY_MAX_STRING 4096        /* characters of a name or file */
#define PY_MAX_LINETABLE (1u << 20)
#define PY_MAX_SYMBOLS (1u << 22) /* symbols scanned in one table */
/* Code objects kept per session; past it the caches start again. */
#define PY_MAX_CODES 65536
/* Bytes of decoded line tables kept per session; past it, the same. */
#define PY_MAX_MEMORY (64u << 20)
/* A symbol table larger than this is not read (CPython's has about
 * 10,000 symbols, 240 KB). */
#define PY_MAX_SYMTAB (64u << 20)

/*
 * Where CPython keeps what user space reads of its objects, beyond the
 * walk's offsets (struct ember_py_offsets): strings and bytes.
 */
struct py_layout {
	uint32_t version;            /* major << 24 | minor << 16 */
	struct ember_py_offsets off;
	uint16_t unicode_length;     /* PyASCIIObject.length */
	uint16_t unicode_state;      /* PyASCIIObject.state (the bit field) */
	uint16_t unicode_ascii_data; /* sizeof(PyASCIIObject) */
	uint16_t unicode_compact_data; /* sizeof(PyCompactUnicodeObject) */
	uint16_t unicode_legacy_data;  /* PyUnicodeObject.data */
	uint16_t bytes_size;         /* PyVarObject.ob_size */
	uint16_t bytes_data;         /* PyBytesObject.ob_sval */
};

/* What a binary exports that matters here (ELF virtual addresses). */
struct py_syms {
	uint64_t runtime, version, code_type, unicode_type, bytes_type;
};

/* A binary's exports and its layout from its debug information, by file
 * identity: read once. */
struct py_bin {
	uint64_t dev, ino, size, mtime_ns;
	struct py_syms syms;
	int dwarf;               /* 0: not tried, 1: layout read, < 0: none */
	struct py_layout layout; /* when dwarf == 1 */
};

/* One code object as read: its names and its lines by address range. */
struct py_range {
	uint32_t start;  /* bytes from the first instruction */
	int32_t line;
};

struct py_code {
	uint64_t code, ident;
	const char *name, *file;  /* interned; NULL when it could not be read */
	int32_t firstlineno;
	uint32_t n_ranges;
	struct py_range *ranges;
};

struct py_proc {
	pid_t pid;
	bool supported;
	bool from_debug_info;    /* the layout is the debug information's */
	struct py_layout layout;
	struct py_syms at;       /* exports at their addresses in the process */
	uint64_t bias;
	const char *module;
	struct common_map codes; /* (code, ident) -> struct py_code (codes_type) */
};

struct sym_py {
	struct common_map procs; /* pid -> struct py_proc (sym_pid_type) */
	struct py_bin *bins;
	size_t n_bins, cap_bins;
	size_t n_codes;
	uint64_t memory;
	struct sym_py_stats stats;
};

/* A process's code objects: (address, identity) -> what was read. */
struct code_slot {
	uint64_t code, ident;
	struct py_code *c;
};

static const struct common_map_type codes_type = {
	.entry_size = sizeof(struct code_slot),
	.key_size = 2 * sizeof(uint64_t),
};

static inline struct py_proc *sym_py__proc(struct sym_py *py, pid_t pid)
{
	struct py_proc *p = py ? sym_pid_map__find(&py->procs, pid) : NULL;

	assert(!p || p->pid == pid);
	return p;
}

/* ---- python-code.c, for python.c ---- */

/* len bytes at addr in pid's memory. Returns 0, -ESRCH (the process is
 * gone) or -EFAULT (not readable, or fewer bytes). */
int sym_py__read(pid_t pid, uint64_t addr, void *buf, size_t len);
/* Free every code object of p (the process stays). */
void sym_py__clear_codes(struct sym_py *py, struct py_proc *p);
