/* SPDX-License-Identifier: Apache-2.0 */
/*
 * python.c — CPython processes: finding the interpreter in a process and
 * the offsets of its structures, which the sampler's Python walk
 * (bpf/python.bpf.h) reads with and python-code.c names code objects
 * with.
 *
 * Finding it: a binary mapped by the process (the executable, or a
 * library named like libpython) that exports _PyRuntime. Its version is
 * the Py_Version it exports (3.11 on; older versions are named by their
 * file name only to be reported). The offsets of the structures the walk
 * reads come from the interpreter's own debug information when it has
 * some (its DWARF, or its debug file's: Debian's python3.11-dbg; the
 * types and members by name, dwarf-layout.c), else from
 * the table of known versions below. Only a version whose walk Ember knows
 * (3.11) is walked, whatever its debug information says: another is
 * reported as unsupported and its stacks stay native, never a guessed
 * layout.
 *
 * Naming the code objects is python-code.c's; this file keeps the
 * session's Python state (its processes, the binaries already looked
 * at) that both use.
 */
#include "sym-python.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Known versions. CPython 3.11's layouts are the same in every 3.11
 * release (checked against the headers of 3.11.2 and 3.11.7 by
 * tests/unit/test-symbolizer-python.c, which compiles against the
 * installed headers).
 */
static const struct py_layout known[] = {
	{
		.version = 0x030b0000,
		.off = {
			.runtime_interp_head = 40,
			.interp_next = 0,
			.interp_threads_head = 16,
			.tstate_next = 8,
			.tstate_native_tid = 160,
			.tstate_cframe = 56,
			.cframe_current_frame = 8,
			.frame_code = 32,
			.frame_previous = 48,
			.frame_prev_instr = 56,
			.frame_is_entry = 68,
			.code_firstlineno = 72,
			.code_filename = 112,
			.code_qualname = 128,
			.code_linetable = 136,
			.code_adaptive = 184,
		},
		.unicode_length = 16,
		.unicode_state = 32,
		.unicode_ascii_data = 48,
		.unicode_compact_data = 72,
		.unicode_legacy_data = 72,
		.bytes_size = 16,
		.bytes_data = 32,
	},
};

/* ---- the state ---------------------------------------------------------- */

static void proc_free(struct sym_py *py, struct py_proc *p)
{
	if (p)
		sym_py__clear_codes(py, p);
	free(p);
}

void sym_py__free(struct sym_py *py)
{
	struct sym_pid_slot *e;
	size_t pos = 0;

	if (!py)
		return;
	while ((e = common_map__next(&py->procs, &sym_pid_type, &pos)))
		proc_free(py, e->obj);
	common_map__fini(&py->procs);
	free(py->bins);
	free(py);
}

void sym_py__forget(struct sym_py *py, pid_t pid)
{
	if (py)
		proc_free(py, sym_pid_map__remove(&py->procs, pid));
}

static struct sym_py *state(struct sym_session *s)
{
	struct sym_py **slot = sym_session__py(s);

	if (!*slot)
		*slot = calloc(1, sizeof(**slot));
	return *slot;
}

/* ---- finding the interpreter -------------------------------------------- */

/* Scan a symbol table section for the exports we need. */
static void scan_symbols(Elf *elf, Elf_Scn *scn, struct py_syms *out)
{
	static const struct {
		const char *name;
		size_t off;
	} wanted[] = {
		{ "_PyRuntime", offsetof(struct py_syms, runtime) },
		{ "Py_Version", offsetof(struct py_syms, version) },
		{ "PyCode_Type", offsetof(struct py_syms, code_type) },
		{ "PyUnicode_Type", offsetof(struct py_syms, unicode_type) },
		{ "PyBytes_Type", offsetof(struct py_syms, bytes_type) },
	};
	GElf_Shdr sh, ssh;
	Elf_Scn *strs;
	Elf_Data *data;
	size_t n;

	/* (A file of the process's user: the tables and their strings are
	 * bounded before libelf reads them into memory.) */
	if (!gelf_getshdr(scn, &sh) || sh.sh_entsize == 0 || sh.sh_size > PY_MAX_SYMTAB)
		return;
	strs = elf_getscn(elf, sh.sh_link);
	if (!strs || !gelf_getshdr(strs, &ssh) || ssh.sh_size > PY_MAX_SYMTAB)
		return;
	data = elf_getdata(scn, NULL);
	if (!data)
		return;
	n = MIN(sh.sh_size / sh.sh_entsize, (size_t)PY_MAX_SYMBOLS);
	for (size_t i = 0; i < n; i++) {
		GElf_Sym sym;
		const char *name;

		if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
		    GELF_ST_TYPE(sym.st_info) != STT_OBJECT || sym.st_value == 0)
			continue;
		name = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (!name || (name[0] != '_' && name[0] != 'P'))
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(wanted); k++)
			if (!strcmp(name, wanted[k].name))
				*(uint64_t *)((char *)out + wanted[k].off) = sym.st_value;
	}
}

/* The exports of the binary open at fd (cached by file identity). */
static int binary_syms(struct sym_py *py, int fd, struct py_syms *ret, struct py_bin **ret_bin)
{
	struct py_syms syms = { 0 };
	struct py_bin b;
	struct stat st;
	Elf_Scn *scn = NULL;
	Elf *elf;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return -ENOENT;
	b = (struct py_bin){ .dev = st.st_dev, .ino = st.st_ino, .size = st.st_size,
			     .mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ULL +
					 st.st_mtim.tv_nsec };
	for (size_t i = 0; i < py->n_bins; i++)
		if (py->bins[i].dev == b.dev && py->bins[i].ino == b.ino &&
		    py->bins[i].size == b.size && py->bins[i].mtime_ns == b.mtime_ns) {
			*ret = py->bins[i].syms;
			*ret_bin = &py->bins[i];
			return 0;
		}
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF) {
		/* .symtab when there is one (it holds .dynsym's too). */
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;

			if (gelf_getshdr(scn, &sh) &&
			    (sh.sh_type == SHT_DYNSYM || sh.sh_type == SHT_SYMTAB))
				scan_symbols(elf, scn, &syms);
		}
	}
	elf_end(elf);
	if (COMMON_GROW(py->bins, py->cap_bins, py->n_bins + 1))
		return -ENOMEM;
	b.syms = syms;
	py->bins[py->n_bins++] = b;
	*ret = syms;
	*ret_bin = &py->bins[py->n_bins - 1];
	return 0;
}

/* "python3.10", "libpython3.9.so.1.0": the version a file name says. */
static uint32_t version_from_name(const char *base)
{
	const char *p = strstr(base, "python");
	unsigned major, minor;

	if (p && sscanf(p, "python%u.%u", &major, &minor) == 2 && major < 256 && minor < 256)
		return major << 24 | minor << 16;
	return 0;
}

/*
 * The layout from the interpreter's debug information: every field the
 * walk and the naming read, found by type and member name (the walk's
 * from common/python_layout.h). Returns 0, -ENOENT (a type or member
 * missing, or an offset the walk cannot use), -EINVAL or -ENOMEM.
 */
static int dwarf_layout(struct sym_dwarf *d, struct py_layout *ret)
{
	static const char *const types[] = {
		"_PyRuntimeState", "PyInterpreterState", "PyThreadState", "_PyCFrame",
		"_PyInterpreterFrame", "PyCodeObject", "PyASCIIObject",
		"PyCompactUnicodeObject", "PyUnicodeObject", "PyBytesObject", "PyVarObject",
	};
	enum { T_ASCII = 6, T_COMPACT, T_UNICODE, T_BYTES, T_VAR };
	static const struct {
		const char *type, *member;
		size_t at;
	} walk[] = {
#define WALK_FIELD(name, type, member) { type, member, offsetof(struct ember_py_offsets, name) },
		EMBER_PY_FIELDS(WALK_FIELD)
#undef WALK_FIELD
	};
	uint64_t at[ARRAY_SIZE(types)], v[7];
	struct py_layout l = { 0 };
	int r;

	r = sym_dwarf__find_types(d, types, ARRAY_SIZE(types), at);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(walk); i++) {
		uint64_t off;
		size_t t;

		for (t = 0; t < ARRAY_SIZE(types) && strcmp(types[t], walk[i].type); t++)
			;
		if (t == ARRAY_SIZE(types) || !at[t])
			return -ENOENT;
		r = sym_dwarf__member_offset(d, at[t], walk[i].member, &off);
		if (r < 0)
			return r;
		/* The walk reads each field inside a window of its structure;
		 * its pointers are whole, aligned words. */
		if (off > EMBER_PY_READ_MAX - 8)
			return -ENOENT;
		*(uint16_t *)((char *)&l.off + walk[i].at) = (uint16_t)off;
	}
	for (size_t t = T_ASCII; t <= T_VAR; t++)
		if (!at[t])
			return -ENOENT;
	if ((r = sym_dwarf__member_offset(d, at[T_ASCII], "length", &v[0])) < 0 ||
	    (r = sym_dwarf__member_offset(d, at[T_ASCII], "state", &v[1])) < 0 ||
	    (r = sym_dwarf__type_size(d, at[T_ASCII], &v[2])) < 0 ||
	    (r = sym_dwarf__type_size(d, at[T_COMPACT], &v[3])) < 0 ||
	    (r = sym_dwarf__member_offset(d, at[T_UNICODE], "data", &v[4])) < 0 ||
	    (r = sym_dwarf__member_offset(d, at[T_VAR], "ob_size", &v[5])) < 0 ||
	    (r = sym_dwarf__member_offset(d, at[T_BYTES], "ob_sval", &v[6])) < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		if (v[i] > 120)  /* read in a 128-byte header */
			return -ENOENT;
	l.unicode_length = (uint16_t)v[0];
	l.unicode_state = (uint16_t)v[1];
	l.unicode_ascii_data = (uint16_t)v[2];
	l.unicode_compact_data = (uint16_t)v[3];
	l.unicode_legacy_data = (uint16_t)v[4];
	l.bytes_size = (uint16_t)v[5];
	l.bytes_data = (uint16_t)v[6];
	if (l.off.tstate_next % 8 || l.off.tstate_cframe % 8 || l.off.tstate_native_tid % 8 ||
	    l.off.cframe_current_frame % 8 || l.off.frame_code % 8 || l.off.frame_previous % 8 ||
	    l.off.frame_prev_instr % 8 || l.off.code_filename % 8 || l.off.code_qualname % 8 ||
	    l.off.code_linetable % 8 || l.off.code_firstlineno % 4 ||
	    l.off.runtime_interp_head % 8 || l.off.interp_threads_head % 8 ||
	    l.off.interp_next % 8)
		return -ENOENT;
	*ret = l;
	return 0;
}

static const struct py_layout *layout_for(uint32_t version)
{
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if ((known[i].version >> 16) == (version >> 16))
			return &known[i];
	return NULL;
}

/* The offsets the walk needs and how much of each structure it reads. */
static void window_sizes(struct ember_py_offsets *o)
{
	o->tstate_size = MAX(MAX(o->tstate_next, o->tstate_native_tid), o->tstate_cframe) + 8;
	o->frame_size = MAX(MAX(o->frame_code, o->frame_previous),
			    MAX(o->frame_prev_instr, o->frame_is_entry)) + 8;
	o->code_size = MAX(MAX(MAX(o->code_firstlineno, o->code_filename), o->code_qualname),
			   MAX(o->code_linetable, 8)) + 8;
	/* A window never reads past the structure it starts at: the last
	 * field used may be narrower than 8 bytes (is_entry is a bool, the
	 * first line an int), the structure is not. */
}

int sym_session__python(struct sym_session *s, pid_t pid, unsigned flags,
			struct sym_python *ret)
{
	struct sym_py *py = state(s);
	const struct py_layout *layout = NULL;
	struct py_proc *p;
	const char *module;
	uint64_t start, bias, end;
	const struct sym_elf *elf;
	struct py_syms syms;
	struct py_bin *bin = NULL;
	int fd, last_fd = -1, r;
	uint32_t version = 0;
	bool fresh;
	size_t i;

	if (!py)
		return -ENOMEM;
	for (i = 0;; i++) {
		const char *base;

		r = sym_session__mapping(s, pid, i, &module, &fd, &start);
		if (r == -ENOENT && i > 0)
			return -ENOENT;
		if (r < 0)
			return r;
		base = strrchr(module, '/');
		base = base ? base + 1 : module;
		/* python3.11, libpython3.11.so.1.0: no other binary is
		 * opened (the agent sees every program of the host). */
		if (!strstr(base, "python") || fd < 0 || fd == last_fd)
			continue;
		last_fd = fd;
		r = binary_syms(py, fd, &syms, &bin);
		if (r == -ENOMEM)
			return r;
		if (r == 0 && syms.runtime)
			break;
	}
	if (sym_session__locate(s, pid, start, &elf, NULL, &bias, &start, &end) < 0)
		return -ENOENT;
	if (syms.version) {
		uint32_t hex;

		r = sym_py__read(pid, bias + syms.version, &hex, sizeof(hex));
		if (r < 0)
			return r == -ESRCH ? -ESRCH : -ENOENT;
		version = hex;
	} else {
		const char *base = strrchr(module, '/');

		version = version_from_name(base ? base + 1 : module);
	}

	/* Found again (a re-read, an exec): the code objects named so far
	 * stay, for the samples taken before an exec that are still to be
	 * written (the new image's objects have other identities). */
	p = sym_pid_map__add(&py->procs, pid, sizeof(*p), &fresh);
	if (!p)
		return -ENOMEM;
	p->pid = pid;
	p->bias = bias;
	p->module = module;
	p->at = (struct py_syms){
		.runtime = bias + syms.runtime,
		.version = syms.version ? bias + syms.version : 0,
		.code_type = syms.code_type ? bias + syms.code_type : 0,
		.unicode_type = syms.unicode_type ? bias + syms.unicode_type : 0,
		.bytes_type = syms.bytes_type ? bias + syms.bytes_type : 0,
	};
	/* A version whose walk Ember knows: the layout from the
	 * interpreter's debug information when it has it, else the table. */
	if (syms.code_type && syms.unicode_type && syms.bytes_type)
		layout = layout_for(version);
	if (layout && bin->dwarf == 0 && !(flags & SYM_PYTHON_QUICK)) {
		struct sym_dwarf *d = sym_session__dwarf_at(s, pid, start);

		bin->dwarf = d ? dwarf_layout(d, &bin->layout) : -ENOENT;
		if (bin->dwarf == -ENOMEM) {
			bin->dwarf = 0;
			return -ENOMEM;
		}
		bin->dwarf = bin->dwarf == 0 ? 1 : bin->dwarf;
		if (bin->dwarf == 1)
			bin->layout.version = layout->version;
	}
	if (layout && bin->dwarf == 1) {
		layout = &bin->layout;
		p->from_debug_info = true;
	} else {
		p->from_debug_info = false;
	}
	p->supported = layout != NULL;
	if (layout) {
		p->layout = *layout;
		window_sizes(&p->layout.off);
	}
	*ret = (struct sym_python){
		.version = version,
		.supported = p->supported,
		.runtime = p->at.runtime,
		.code_type = p->at.code_type,
		.from_debug_info = p->from_debug_info,
		.off = p->layout.off,
		.module = module,
	};
	if (p->supported)
		py->stats.processes++;
	else
		py->stats.unsupported++;
	return 0;
}

void sym_session__python_stats(struct sym_session *s, struct sym_py_stats *ret_stats)
{
	struct sym_py *py = *sym_session__py(s);

	*ret_stats = py ? py->stats : (struct sym_py_stats){ 0 };
	if (py)
		ret_stats->memory = py->memory + py->n_bins * sizeof(*py->bins);
}
