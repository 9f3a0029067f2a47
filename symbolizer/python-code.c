/* SPDX-License-Identifier: Apache-2.0 */
/*
 * python-code.c — naming the code objects the sampler's Python walk
 * (bpf/python.bpf.h) reports, with the layout python.c found for their
 * process.
 *
 * A code object is read from the process's memory with process_vm_readv
 * (its type checked against PyCode_Type, its strings against
 * PyUnicode_Type, its line table against PyBytes_Type, sizes bounded),
 * once per (process, address, identity): the identity the walk computed
 * at sample time (ember_py_ident) must be the one the object has when it
 * is read, else the object was freed and its address reused, and the
 * frame stays unnamed rather than misnamed. The caller resolves a
 * sample's frames as the sample arrives (milliseconds after it was
 * taken), so the objects it names are almost always still there. Lines
 * come from the code object's location table (PEP 657's format, 3.11),
 * decoded once into address ranges, sorted by their start (asserted as
 * they are made).
 */
#include "sym-python.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

/* ---- the code caches --------------------------------------------------- */

static void code_free(struct py_code *c)
{
	if (c)
		free(c->ranges);
	free(c);
}

void sym_py__clear_codes(struct sym_py *py, struct py_proc *p)
{
	struct code_slot *e;
	size_t pos = 0;

	assert(py->n_codes >= common_map__size(&p->codes));
	py->n_codes -= common_map__size(&p->codes);
	while ((e = common_map__next(&p->codes, &codes_type, &pos)))
		code_free(e->c);
	common_map__fini(&p->codes);
}

/* ---- reading the process ----------------------------------------------- */

int sym_py__read(pid_t pid, uint64_t addr, void *buf, size_t len)
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
	r = sym_py__read(p->pid, addr, hdr, l->unicode_compact_data + 8);
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
	r = len ? sym_py__read(p->pid, data, raw, len * kind) : 0;
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
		assert(!c->n_ranges || c->ranges[c->n_ranges - 1].start < addr);
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
	r = sym_py__read(p->pid, c->code, obj, o->code_size);
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
	    sym_py__read(p->pid, linetable, hdr, p->layout.bytes_data) < 0 ||
	    word_at(hdr, 8) != p->at.bytes_type)
		return 0;
	size = word_at(hdr, p->layout.bytes_size);
	if (size == 0 || size > PY_MAX_LINETABLE)
		return 0;
	table = malloc(size);
	if (!table)
		return -ENOMEM;
	if (sym_py__read(p->pid, linetable + p->layout.bytes_data, table, size) == 0 &&
	    decode_lines(c, table, size) == -ENOMEM)
		r = -ENOMEM;
	free(table);
	py->memory += c->n_ranges * sizeof(*c->ranges);
	return r;
}

int sym_session__python_frame(struct sym_session *s, pid_t pid, uint64_t code,
			      uint64_t ident, int32_t lasti, struct sym_frame *ret_frame)
{
	struct sym_py *py = *sym_session__py(s);
	struct py_proc *p = sym_py__proc(py, pid);
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
			const struct sym_pid_slot *q;
			size_t pos = 0;

			while ((q = common_map__next(&py->procs, &sym_pid_type, &pos)))
				sym_py__clear_codes(py, q->obj);
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
