/* SPDX-License-Identifier: Apache-2.0 */
/*
 * frames.c — addresses to sym_frames: a file-backed address through its
 * binary's address cache, else its DWARF (names, lines, inline chain) and
 * ELF symbols, and where no symbol names it, the start of the function
 * its FDE bounds (cfi.c: module+0xSTART); JIT code through the process's
 * perf map (process.c); [vsyscall] and other special mappings; kernel
 * addresses through kallsyms. Every string handed out is interned in the session (names
 * demangled once), through a per-binary memo of the binary's own string
 * pointers.
 */
#include "symbolizer.h"
#include "sym-internal.h"
#include "sym-session.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char unknown[] = "[unknown]";

static void frame_count(struct sym_session *s, const struct sym_frame *f)
{
	s->stats.frames++;
	if (f->miss == SYM_MISS_NONE)
		s->stats.resolved++;
	else
		s->stats.misses[f->miss]++;
}

static const char *vsyscall_name(uint64_t offset)
{
	/* The legacy vsyscall page has three fixed entry points. */
	switch (offset >> 10) {
	case 0: return "gettimeofday";
	case 1: return "time";
	case 2: return "getcpu";
	default: return NULL;
	}
}

static const char *intern(struct sym_session *s, const char *str)
{
	return str ? sym_strings__intern(&s->strings, str, strlen(str)) : NULL;
}

static const char *intern_name(struct sym_session *s, const char *str);

/* intern_name() (names) or intern() (files) of a binary's string, through
 * the binary's memo. */
static const char *memo_intern(struct sym_session *s, struct str_memo *m, const char *str,
			       bool name)
{
	const char *to;

	if (!str)
		return NULL;
	to = sym_memo__find(m, str);
	if (to)
		return to;
	to = name ? intern_name(s, str) : intern(s, str);
	if (to)
		sym_memo__put(m, str, to);
	return to;
}

/* s->demangled's entries: an interned mangled name (by pointer) and its
 * interned demangled name. */
struct demangled {
	const char *mangled;
	const char *name;
};

static const struct common_map_type demangled_type = {
	.entry_size = sizeof(struct demangled),
	.key_size = sizeof(const char *),
};

void sym_frames__fini(struct sym_session *s)
{
	common_map__fini(&s->demangled);
}

/* A function name as frames show it: interned, demangled unless the
 * session says not to (each mangled name is demangled once). NULL on
 * ENOMEM; str NULL gives NULL. */
static const char *intern_name(struct sym_session *s, const char *str)
{
	const char *mangled, *name;
	struct demangled *d;
	char *dem;

	if (!str || s->no_demangle || str[0] != '_' || (str[1] != 'Z' && str[1] != 'R'))
		return intern(s, str);
	mangled = intern(s, str);
	if (!mangled)
		return NULL;
	d = common_map__find(&s->demangled, &demangled_type, &mangled);
	if (d)
		return d->name;
	dem = sym_demangle(str);
	name = dem ? intern(s, dem) : mangled;
	free(dem);
	if (!name || common_map__insert(&s->demangled, &demangled_type, &mangled, (void **)&d) < 0)
		return NULL;
	d->name = name;
	return name;
}

/*
 * The frames of a file-backed address: DWARF names, lines and inline chain,
 * the ELF symbol for the name where DWARF has none. ret_frames[0..*ret_n)
 * get name, file, line, kind and miss; the caller fills the rest. Returns
 * 0 or -ENOMEM.
 */
static int binary_frames(struct sym_session *s, struct sym_binary *bin,
			 const struct sym_mapping *m, uint64_t offset,
			 struct sym_frame *ret_frames, size_t max, size_t *ret_n)
{
	struct sym_dwarf_frame df[MAX_INLINE];
	const struct cache_slot *slot;
	struct sym_dwarf *dwarf;
	const char *elf_name = NULL;
	uint64_t vaddr;
	size_t n = 0;
	int nd = 0;

	if (sym_elf__offset_to_vaddr(bin->elf, offset, &vaddr) < 0)
		goto unnamed;
	slot = sym_addr_cache__find(bin, vaddr);
	if (slot) {
		n = MIN(slot->n, max);
		for (size_t i = 0; i < n; i++) {
			/* keep the outermost frame when cut */
			const struct cached_frame *c =
				&bin->cache_frames[slot->first + (i == n - 1 ? slot->n - 1 : i)];

			ret_frames[i].name = c->name;
			ret_frames[i].file = c->file;
			ret_frames[i].line = c->line;
			ret_frames[i].kind = c->kind;
			ret_frames[i].miss = c->miss;
			ret_frames[i].debug = c->debug;
		}
		*ret_n = n;
		return 0;
	}
	dwarf = sym_binary__dwarf(s, bin);
	if (dwarf) {
		sym_binary__reserve_cu(s, bin, vaddr);
		nd = sym_dwarf__lookup(dwarf, vaddr, df, MIN(max, MAX_INLINE));
		if (nd < 0)
			return nd;
		sym_binary__count_issues(s, bin, sym_dwarf__issues(dwarf));
	}
	if (nd == 0 || !df[nd - 1].name) {
		if (sym_binary__symbols(s, bin) == -ENOMEM)
			return -ENOMEM;
		elf_name = sym_elf__lookup(bin->elf, vaddr);
	}
	for (int i = 0; i < nd; i++) {
		bool outer = i == nd - 1;
		const char *name = df[i].name ? df[i].name : outer ? elf_name : "[inlined]";

		ret_frames[n] = (struct sym_frame){
			.name = memo_intern(s, &bin->names, name, true),
			.file = memo_intern(s, &bin->files, df[i].file, false),
			.line = df[i].file ? df[i].line : 0,
			.kind = outer ? SYM_FRAME_USER : SYM_FRAME_INLINED,
			.miss = name ? SYM_MISS_NONE : SYM_MISS_NO_SYMBOL,
			.debug = df[i].issue,
		};
		if ((name && !ret_frames[n].name) || (df[i].file && !ret_frames[n].file))
			return -ENOMEM;
		n++;
	}
	if (n == 0) {
		ret_frames[0] = (struct sym_frame){
			.name = memo_intern(s, &bin->names, elf_name, true),
			.kind = SYM_FRAME_USER,
			.miss = elf_name ? SYM_MISS_NONE : SYM_MISS_NO_SYMBOL,
			.debug = bin->dwarf_issue,
		};
		if (elf_name && !ret_frames[0].name)
			return -ENOMEM;
		n = 1;
	}
	/* No name: module+0xoffset, so that it can be symbolized later; the
	 * offset of the function's start where an FDE bounds it, so that a
	 * stripped function is one function, not one per instruction. */
	if (!ret_frames[n - 1].name) {
		uint64_t lo;

		ret_frames[n - 1].name = sym_strings__printf(
			&s->strings, "%s+0x%" PRIx64, m->base,
			sym_cfi__function(&bin->elf->cfi, vaddr, &lo) == 0 ? offset - (vaddr - lo)
									   : offset);
		if (!ret_frames[n - 1].name)
			return -ENOMEM;
	}
	sym_addr_cache__put(bin, vaddr, ret_frames, n);
	*ret_n = n;
	return 0;
unnamed:
	ret_frames[0] = (struct sym_frame){
		.name = sym_strings__printf(&s->strings, "%s+0x%" PRIx64, m->base, offset),
		.kind = SYM_FRAME_USER,
		.miss = SYM_MISS_NO_SYMBOL,
	};
	*ret_n = 1;
	return ret_frames[0].name ? 0 : -ENOMEM;
}

/* Fills frames[0..*ret_n) from mapping m; returns 0 or -ENOMEM. Every
 * frame gets the common fields of proto. */
static int frames_from_mapping(struct sym_session *s, struct sym_process *proc,
			       const struct sym_mapping *m,
			       uint64_t addr, const struct sym_frame *proto,
			       struct sym_frame *frames, size_t max, size_t *ret_n)
{
	struct sym_frame f = *proto;
	const char *name = NULL;
	size_t n = 1;
	int r = 0;

	f.module = m->module;
	f.offset = addr - m->start + m->offset;
	f.miss = SYM_MISS_NO_SYMBOL;
	switch (m->kind) {
	case SYM_MAP_FILE:
	case SYM_MAP_VDSO:
		if (!m->bin || !sym_binary__elf(s, m->bin)) {
			f.miss = m->bin && m->bin->fail ? m->bin->fail :
				 m->fail ? m->fail : SYM_MISS_NO_FILE;
			break;
		}
		f.build_id = m->bin->build_id;
		r = binary_frames(s, m->bin, m, f.offset, frames, max, &n);
		sym_binary__account(s, m->bin);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n; i++) {
			frames[i].module = f.module;
			frames[i].build_id = f.build_id;
			frames[i].addr = f.addr;
			frames[i].offset = f.offset;
		}
		*ret_n = n;
		return 0;
	case SYM_MAP_VSYSCALL:
		name = vsyscall_name(addr - m->start);
		break;
	case SYM_MAP_ANON:
		f.kind = SYM_FRAME_JIT;
		f.offset = addr - m->start;
		name = sym_process__jit_name(s, proc, addr);
		break;
	case SYM_MAP_SPECIAL:
		f.offset = addr - m->start;
		break;
	}
	if (name) {
		f.miss = SYM_MISS_NONE;
		f.name = intern_name(s, name);
	} else {
		f.name = sym_strings__printf(&s->strings, "%s+0x%" PRIx64, m->base,
					     f.offset);
	}
	frames[0] = f;
	*ret_n = 1;
	return f.name ? 0 : -ENOMEM;
}

/* sym_session__user_frames() without counting. */
int sym_frames__user(struct sym_session *s, pid_t pid, uint64_t addr,
		     struct sym_frame *ret_frames, size_t max, size_t *ret_n)
{
	struct sym_frame f = {
		.name = unknown,
		.module = unknown,
		.addr = addr,
		.kind = SYM_FRAME_USER,
	};
	const struct sym_mapping *m = NULL;
	struct sym_process *proc = NULL;
	int r;

	r = sym_process__mapping(s, pid, addr, &proc, &m, &f.miss);
	if (r == -ENOMEM)
		goto fail;
	if (m) {
		r = frames_from_mapping(s, proc, m, addr, &f, ret_frames, max, ret_n);
		if (r < 0)
			goto fail;
		return 0;
	}
	ret_frames[0] = f;
	*ret_n = 1;
	return 0;
fail:
	f.name = unknown;
	f.module = unknown;
	ret_frames[0] = f;
	*ret_n = 1;
	return -ENOMEM;
}

void sym_frames__count_user(struct sym_session *s, const struct sym_frame *f)
{
	frame_count(s, f);
	if (f->file)
		s->stats.with_line++;
}

int sym_session__kernel(struct sym_session *s, uint64_t addr,
			struct sym_frame *ret_frame)
{
	/* No kernel address leaves here but in f.addr: with KASLR one
	 * address gives away the kernel's random offset to whoever reads a
	 * profile. A frame keeps its offset in its function (as perf shows
	 * "name+0x1a"); one that kallsyms does not name is "[unknown]". */
	struct sym_frame f = {
		.module = "[kernel.kallsyms]",
		.addr = addr,
		.kind = SYM_FRAME_KERNEL,
		.miss = SYM_MISS_NO_SYMBOL,
	};
	const char *name, *module;
	uint64_t offset;
	int r = 0;

	if (!s->kernel_tried && !s->no_kernel) {
		int cache = 0;

		s->kernel_tried = true;
		/* Without kallsyms kernel frames are "[unknown]". */
		r = sym_kernel__load(s->root, s->cache_dir, &s->kernel, &cache);
		if (r != -ENOMEM)
			r = 0;
		s->stats.cache_hits += cache == 1;
		s->stats.cache_writes += cache == 2;
		s->stats.cache_errors += cache < 0;
	}
	if (r == 0 && s->kernel &&
	    sym_kernel__lookup(s->kernel, addr, &name, &module, &offset) == 0) {
		f.offset = offset;
		if (module) {
			/* "name [module]", as perf shows module frames */
			f.name = sym_strings__printf(&s->strings, "%s [%s]", name, module);
			f.module = sym_strings__intern(&s->strings, module, strlen(module));
		} else {
			f.name = sym_strings__intern(&s->strings, name, strlen(name));
		}
		f.miss = SYM_MISS_NONE;
	} else {
		f.name = unknown;
	}
	if (!f.name || !f.module) {
		r = -ENOMEM;
		f.name = unknown;
		f.module = "[kernel.kallsyms]";
		f.miss = SYM_MISS_NO_SYMBOL;
	}
	frame_count(s, &f);
	*ret_frame = f;
	return r;
}
