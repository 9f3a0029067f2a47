/* SPDX-License-Identifier: Apache-2.0 */
/*
 * python.c — CPython processes: finding the interpreter in a process, the
 * offsets of its structures, and naming the code objects the sampler's
 * Python walk (bpf/python.bpf.h) reports.
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
 * Naming: a code object is read from the process's memory with
 * process_vm_readv (its type checked against PyCode_Type, its strings
 * against PyUnicode_Type, its line table against PyBytes_Type, sizes
 * bounded), once per (process, address, identity): the identity the walk
 * computed at sample time (ember_py_ident) must be the one the object has
 * when it is read, else the object was freed and its address reused, and
 * the frame stays unnamed rather than misnamed. The caller resolves a
 * sample's frames as the sample arrives (milliseconds after it was
 * taken), so the objects it names are almost always still there.
 * Lines come from the code object's location table (PEP 657's format,
 * 3.11), decoded once into address ranges.
 */
#include "symbolizer.h"
#include "sym-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"

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
	struct common_map procs; /* pid -> struct py_proc (procs_type) */
	struct py_bin *bins;
	size_t n_bins, cap_bins;
	size_t n_codes;
	uint64_t memory;
	struct sym_py_stats stats;
};

/* ---- the state ---------------------------------------------------------- */

/* py->procs' entries. */
struct proc_slot {
	pid_t pid;
	struct py_proc *p;
};

static const struct common_map_type procs_type = {
	.entry_size = sizeof(struct proc_slot),
	.key_size = sizeof(pid_t),
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

static void code_free(struct py_code *c)
{
	if (c)
		free(c->ranges);
	free(c);
}

static void proc_clear_codes(struct sym_py *py, struct py_proc *p)
{
	struct code_slot *e;
	size_t pos = 0;

	py->n_codes -= common_map__size(&p->codes);
	while ((e = common_map__next(&p->codes, &codes_type, &pos)))
		code_free(e->c);
	common_map__fini(&p->codes);
}

static void proc_free(struct sym_py *py, struct py_proc *p)
{
	if (p)
		proc_clear_codes(py, p);
	free(p);
}

void sym_py__free(struct sym_py *py)
{
	struct proc_slot *e;
	size_t pos = 0;

	if (!py)
		return;
	while ((e = common_map__next(&py->procs, &procs_type, &pos)))
		proc_free(py, e->p);
	common_map__fini(&py->procs);
	free(py->bins);
	free(py);
}

void sym_py__forget(struct sym_py *py, pid_t pid)
{
	struct proc_slot e = { 0 };

	if (!py)
		return;
	common_map__remove(&py->procs, &procs_type, &pid, &e);
	proc_free(py, e.p);
}

static struct sym_py *state(struct sym_session *s)
{
	struct sym_py **slot = sym_session__py(s);

	if (!*slot)
		*slot = calloc(1, sizeof(**slot));
	return *slot;
}

/* ---- reading the process ----------------------------------------------- */

static int mem_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n;

	if (!addr)
		return -EFAULT;
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return errno == ESRCH ? -ESRCH : -EFAULT;
	return (size_t)n == len ? 0 : -EFAULT;
}

static uint64_t word_at(const uint8_t *buf, size_t off)
{
	uint64_t v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

static uint32_t u32_at(const uint8_t *buf, size_t off)
{
	uint32_t v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

/* Append code point c as UTF-8. */
static size_t put_utf8(char *out, uint32_t c)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		if (c >= 0xd800 && c < 0xe000)
			c = 0xfffd;
		out[0] = (char)(0xe0 | c >> 12);
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	if (c > 0x10ffff)
		return put_utf8(out, 0xfffd);
	out[0] = (char)(0xf0 | c >> 18);
	out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/*
 * The str object at addr as an interned UTF-8 string. Returns 0 and
 * *ret, -EFAULT (unreadable, not a str, too long) or -ENOMEM.
 */
static int read_str(struct sym_session *s, const struct py_proc *p, uint64_t addr,
		    const char **ret)
{
	const struct py_layout *l = &p->layout;
	uint8_t hdr[128] = { 0 }, *raw = NULL;
	uint64_t len, data;
	uint32_t state, kind;
	char *out = NULL;
	size_t n = 0;
	int r;

	if (l->unicode_compact_data > sizeof(hdr) - 8)
		return -EFAULT;
	r = mem_read(p->pid, addr, hdr, l->unicode_compact_data + 8);
	if (r < 0)
		return r;
	if (word_at(hdr, 8) != p->at.unicode_type)
		return -EFAULT;
	len = word_at(hdr, l->unicode_length);
	state = u32_at(hdr, l->unicode_state);
	kind = (state >> 2) & 7;
	if (len > PY_MAX_STRING || (kind != 1 && kind != 2 && kind != 4))
		return -EFAULT;
	if (state & (1u << 5))      /* compact */
		data = addr + ((state & (1u << 6)) ? l->unicode_ascii_data : l->unicode_compact_data);
	else                        /* legacy: a pointer to the characters */
		data = word_at(hdr, l->unicode_legacy_data);
	raw = malloc(len * kind + 1);
	out = malloc(len * 4 + 1);
	if (!raw || !out) {
		r = -ENOMEM;
		goto out;
	}
	r = len ? mem_read(p->pid, data, raw, len * kind) : 0;
	if (r < 0)
		goto out;
	for (uint64_t i = 0; i < len; i++) {
		uint32_t c = kind == 1 ? raw[i] : kind == 2 ? ((uint16_t *)raw)[i]
							   : ((uint32_t *)raw)[i];

		n += put_utf8(out + n, c ? c : 0xfffd);
	}
	*ret = sym_session__intern(s, out, n);
	r = *ret ? 0 : -ENOMEM;
out:
	free(raw);
	free(out);
	return r;
}

/* ---- line tables ------------------------------------------------------- */

static uint32_t varint(const uint8_t *t, size_t n, size_t *i)
{
	uint32_t v = 0, shift = 0;
	uint8_t b;

	do {
		if (*i >= n || shift > 28)
			return v;
		b = t[(*i)++];
		v |= (uint32_t)(b & 63) << shift;
		shift += 6;
	} while (b & 64);
	return v;
}

static int32_t svarint(const uint8_t *t, size_t n, size_t *i)
{
	uint32_t u = varint(t, n, i);

	return (u & 1) ? -(int32_t)(u >> 1) : (int32_t)(u >> 1);
}

/*
 * Decode a 3.11 location table (Objects/locations.md) into ranges of
 * instruction bytes with their line (-1: no line). Each entry starts with
 * a byte whose top bit is set: code (bits 3-6) and length in code units
 * minus one (bits 0-2).
 */
static int decode_lines(struct py_code *c, const uint8_t *t, size_t n)
{
	size_t i = 0, cap = 0;
	uint32_t addr = 0;
	int32_t line = c->firstlineno;

	while (i < n) {
		uint8_t b = t[i++];
		unsigned code = (b >> 3) & 15;
		uint32_t end = addr + ((b & 7) + 1) * 2;
		int32_t at;

		if (!(b & 128))
			return -EINVAL;
		switch (code) {
		case 15:                /* no location */
			break;
		case 14:                /* long: line delta, end line, columns */
			line += svarint(t, n, &i);
			varint(t, n, &i);
			varint(t, n, &i);
			varint(t, n, &i);
			break;
		case 13:                /* line delta, no columns */
			line += svarint(t, n, &i);
			break;
		case 10: case 11: case 12: /* one line: delta code - 10, columns */
			line += (int32_t)code - 10;
			i += 2;
			break;
		default:                /* short forms: same line, one column byte */
			i += 1;
			break;
		}
		at = code == 15 ? -1 : line;
		if (c->n_ranges && c->ranges[c->n_ranges - 1].line == at) {
			addr = end;
			continue;
		}
		if (COMMON_GROW(c->ranges, cap, c->n_ranges + 1))
			return -ENOMEM;
		c->ranges[c->n_ranges++] = (struct py_range){ addr, at };
		addr = end;
	}
	return 0;
}

/* The line of the instruction lasti (code units), as CPython's
 * PyCode_Addr2Line gives it: the first line before the first
 * instruction, and the first line where the table says "no line". */
static uint32_t line_of(const struct py_code *c, int32_t lasti)
{
	uint32_t addr;
	size_t lo = 0, hi = c->n_ranges;

	if (lasti < 0 || c->n_ranges == 0)
		return c->firstlineno > 0 ? (uint32_t)c->firstlineno : 0;
	addr = (uint32_t)lasti * 2;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (c->ranges[mid].start <= addr)
			lo = mid;
		else
			hi = mid;
	}
	if (c->ranges[lo].line < 0)
		return c->firstlineno > 0 ? (uint32_t)c->firstlineno : 0;
	return (uint32_t)c->ranges[lo].line;
}

/* ---- code objects ------------------------------------------------------ */

/* Read the code object at code whose identity must be ident into c. */
static int read_code(struct sym_session *s, struct sym_py *py, struct py_proc *p,
		     struct py_code *c)
{
	const struct ember_py_offsets *o = &p->layout.off;
	uint8_t obj[EMBER_PY_READ_MAX], hdr[64], *table = NULL;
	uint64_t filename, qualname, linetable, size;
	uint32_t first;
	int r;

	if (o->code_size > sizeof(obj))
		return -EFAULT;
	r = mem_read(p->pid, c->code, obj, o->code_size);
	if (r < 0)
		return r;
	if (word_at(obj, 8) != p->at.code_type)
		return -EFAULT;
	filename = word_at(obj, o->code_filename);
	qualname = word_at(obj, o->code_qualname);
	linetable = word_at(obj, o->code_linetable);
	first = u32_at(obj, o->code_firstlineno);
	/* Freed and its address reused since the sample: not this one. */
	if (ember_py_ident(filename, qualname, linetable, first) != c->ident)
		return -ESTALE;
	c->firstlineno = (int32_t)first;
	if ((r = read_str(s, p, qualname, &c->name)) < 0 ||
	    (r = read_str(s, p, filename, &c->file)) < 0)
		return r;
	py->stats.code_reads++;

	/* Without its line table a frame keeps the function's first line. */
	if ((size_t)p->layout.bytes_data + 8 > sizeof(hdr) ||
	    mem_read(p->pid, linetable, hdr, p->layout.bytes_data) < 0 ||
	    word_at(hdr, 8) != p->at.bytes_type)
		return 0;
	size = word_at(hdr, p->layout.bytes_size);
	if (size == 0 || size > PY_MAX_LINETABLE)
		return 0;
	table = malloc(size);
	if (!table)
		return -ENOMEM;
	if (mem_read(p->pid, linetable + p->layout.bytes_data, table, size) == 0 &&
	    decode_lines(c, table, size) == -ENOMEM)
		r = -ENOMEM;
	free(table);
	py->memory += c->n_ranges * sizeof(*c->ranges);
	return r;
}

static struct py_proc *proc_find(struct sym_py *py, pid_t pid)
{
	const struct proc_slot *e = py ? common_map__find(&py->procs, &procs_type, &pid) : NULL;

	return e ? e->p : NULL;
}

int sym_session__python_frame(struct sym_session *s, pid_t pid, uint64_t code,
			      uint64_t ident, int32_t lasti, struct sym_frame *ret_frame)
{
	struct sym_py *py = *sym_session__py(s);
	struct py_proc *p = proc_find(py, pid);
	struct code_slot key = { code, ident, NULL }, *e;
	struct py_code *c;
	struct sym_frame f = {
		.name = "[python]",
		.module = "[python]",
		.addr = code,
		.offset = lasti > 0 ? (uint64_t)lasti * 2 : 0,
		.kind = SYM_FRAME_PYTHON,
		.miss = SYM_MISS_NO_PROCESS,
	};
	int r = 0;

	if (!p)
		goto out;
	py->stats.frames++;
	e = common_map__find(&p->codes, &codes_type, &key);
	c = e ? e->c : NULL;
	if (!c && !p->supported)
		goto out;
	if (!c) {
		if (py->n_codes >= PY_MAX_CODES || py->memory >= PY_MAX_MEMORY) {
			/* Bounded: start again (names stay interned). */
			const struct proc_slot *q;
			size_t pos = 0;

			while ((q = common_map__next(&py->procs, &procs_type, &pos)))
				proc_clear_codes(py, q->p);
			py->memory = 0;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			r = -ENOMEM;
			goto out;
		}
		c->code = code;
		c->ident = ident;
		r = read_code(s, py, p, c);
		if (r == -ENOMEM ||
		    common_map__insert(&p->codes, &codes_type, &key, (void **)&e) < 0) {
			code_free(c);
			r = -ENOMEM;
			goto out;
		}
		e->c = c;
		py->n_codes++;
		py->memory += sizeof(*c);
		if (r == -ESTALE)
			py->stats.stale++;
		/* A failed read is kept too: the next sample of it would
		 * fail the same way. (A process gone is not cached.) */
		if (r == -ESRCH) {
			common_map__remove(&p->codes, &codes_type, &key, NULL);
			py->n_codes--;
			code_free(c);
			c = NULL;
		}
		r = 0;
	}
	if (!c || !c->name || !c->file) {
		f.miss = c ? SYM_MISS_NO_SYMBOL : SYM_MISS_NO_PROCESS;
		goto out;
	}
	f.name = c->name;
	f.module = c->file;
	f.file = c->file;
	f.line = line_of(c, lasti);
	f.miss = SYM_MISS_NONE;
	py->stats.resolved++;
out:
	*ret_frame = f;
	return r;
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

		r = mem_read(pid, bias + syms.version, &hex, sizeof(hex));
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
	p = proc_find(py, pid);
	if (!p) {
		struct proc_slot *e;

		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		if (common_map__insert(&py->procs, &procs_type, &pid, (void **)&e) < 0) {
			free(p);
			return -ENOMEM;
		}
		e->p = p;
	}
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
