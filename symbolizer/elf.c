/* SPDX-License-Identifier: Apache-2.0 */
/*
 * elf.c — loads one ELF binary with libelf into a sym_elf: the PT_LOAD
 * segments (file offset -> virtual address), the GNU build-id, and the
 * function symbols of .symtab, .dynsym, the separate debug file (found by
 * build-id in DEBUG_DIR/.build-id/xx/yyyy.debug or by .gnu_debuglink) and
 * MiniDebugInfo (.gnu_debugdata, xz), and names for the PLT stubs
 * ("memcpy@plt", from the relocations), sorted and deduplicated once so that
 * lookups are a binary search. Sits between maps (which say which file an
 * address belongs to) and the session (which names frames). Files are read
 * with pread (ELF_C_READ), never mmap'ed, so a file truncated under us gives
 * an error, not SIGBUS; everything kept is copied out before elf_end().
 * It also picks the file whose DWARF dwarf*.c will read, and keeps it
 * open, with the files that DWARF refers to (a dwz / supplementary file,
 * a .dwp, the root .dwo paths resolve in), found now while the process that maps
 * the binary, and so its root, exists. Every debug file is opened by
 * sym_debug_open(), that is by the rules of file.c for files other users
 * control (elf.c: open_named()).
 */
#include "sym-internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <linux/openat2.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>

#include "common.h"
#include "symbolizer.h"

#ifndef STT_GNU_IFUNC
#define STT_GNU_IFUNC 10
#endif
#ifndef NT_GNU_BUILD_ID
#define NT_GNU_BUILD_ID 3
#endif

/* More than any real binary has; a corrupt header cannot make us loop on. */
#define MAX_SYMS (16u << 20)
#define MAX_BUILD_ID 64
/* Nested symbols (a local label symbol inside a bigger function) are found
 * by looking back this far from the nearest lower symbol. */
#define LOOKBACK 8

struct raw_sym {
	uint64_t addr;
	uint64_t size;
	uint64_t sec_end;  /* end of the symbol's section, 0 if unknown */
	uint32_t name;
	uint32_t rank;
};

struct builder {
	struct raw_sym *v;
	size_t n, cap;
	char *names;
	size_t len, names_cap;
};

/*
 * How much of a symbol's name is the function's own name: without the
 * suffixes GCC and LLVM give the parts and copies they make of a function
 * (main.cold, f.part.0, _ZL1fi.constprop.0.isra.0, Rust's .llvm.1234), so
 * a function is named alike from the symbol table and from DWARF, which
 * names every part by its function.
 */
static size_t name_len_unsuffixed(const char *name)
{
	static const char *const words[] = {
		"cold", "part", "isra", "constprop", "lto_priv", "localalias", "llvm", "clone",
	};

	for (const char *dot = strchr(name, '.'); dot && dot > name; dot = strchr(dot + 1, '.')) {
		const char *p = dot;
		bool ok = true;

		while (ok && *p == '.') {
			size_t n = strcspn(p + 1, ".");

			ok = n > 0 && strspn(p + 1, "0123456789") == n;
			for (size_t i = 0; !ok && i < sizeof(words) / sizeof(words[0]); i++)
				ok = strlen(words[i]) == n && !strncmp(p + 1, words[i], n);
			p += 1 + n;
		}
		if (ok && !*p && !isdigit((unsigned char)dot[1]))
			return (size_t)(dot - name);
	}
	return strlen(name);
}

static int builder_name(struct builder *b, const char *name, uint32_t *ret_off)
{
	size_t n = name_len_unsuffixed(name) + 1;

	if (b->len + n > UINT32_MAX)
		return -ENOMEM;
	if (COMMON_GROW(b->names, b->names_cap, b->len + n))
		return -ENOMEM;
	memcpy(b->names + b->len, name, n - 1);
	b->names[b->len + n - 1] = '\0';
	*ret_off = (uint32_t)b->len;
	b->len += n;
	return 0;
}

static int builder_add(struct builder *b, const struct raw_sym *rs)
{
	if (b->n >= MAX_SYMS)
		return -ENOEXEC;
	if (COMMON_GROW(b->v, b->cap, b->n + 1))
		return -ENOMEM;
	b->v[b->n++] = *rs;
	return 0;
}

/*
 * Lower rank = better name for an address shared by several symbols: a sized
 * symbol, then global over weak over local, then fewer leading underscores
 * (qsort over __qsort), then the shorter name.
 */
static uint32_t sym_rank(const char *name, unsigned bind, uint64_t size)
{
	uint32_t underscores = 0, len = (uint32_t)MIN(strlen(name), 0xffffu);
	uint32_t bind_rank = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;

	while (name[underscores] == '_' && underscores < 0xff)
		underscores++;
	return (size ? 0u : 1u << 28) | bind_rank << 24 | underscores << 16 | len;
}

static int collect_table(Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr,
			 struct builder *b)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t entsize = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
	size_t shnum, n;
	int r;

	if (!data || entsize == 0 || elf_getshdrnum(elf, &shnum) < 0)
		return 0;  /* an unreadable table just gives no symbols */
	n = data->d_size / entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym sym;
		GElf_Shdr sec;
		Elf_Scn *sec_scn;
		const char *name;
		unsigned type;
		bool exec;
		struct raw_sym rs;

		if (!gelf_getsym(data, (int)i, &sym))
			break;
		type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_NOTYPE)
			continue;
		if (sym.st_shndx == SHN_UNDEF || sym.st_shndx >= SHN_LORESERVE ||
		    sym.st_shndx >= shnum || sym.st_value == 0)
			continue;
		sec_scn = elf_getscn(elf, sym.st_shndx);
		if (!sec_scn || !gelf_getshdr(sec_scn, &sec))
			continue;
		exec = sec.sh_flags & SHF_EXECINSTR;
		/* Untyped symbols are labels: only those in code name code
		 * (assembly entry points such as ld.so's _start, which have
		 * no size either; finish_symbols() bounds them). */
		if (type == STT_NOTYPE && !exec)
			continue;
		name = elf_strptr(elf, shdr->sh_link, sym.st_name);
		if (!name || !name[0])
			continue;
		rs = (struct raw_sym){
			.addr = sym.st_value,
			.size = sym.st_size,
			.sec_end = sec.sh_addr + sec.sh_size > sec.sh_addr ?
				   sec.sh_addr + sec.sh_size : 0,
			.rank = sym_rank(name, GELF_ST_BIND(sym.st_info), sym.st_size),
		};
		r = builder_name(b, name, &rs.name);
		if (r < 0)
			return r;
		r = builder_add(b, &rs);
		if (r < 0)
			return r;
	}
	return 0;
}

static int collect_symbols(Elf *elf, bool symtab_only, struct builder *b)
{
	Elf_Scn *scn = NULL;
	int r;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;

		if (!gelf_getshdr(scn, &shdr))
			continue;
		if (shdr.sh_type != SHT_SYMTAB &&
		    (symtab_only || shdr.sh_type != SHT_DYNSYM))
			continue;
		r = collect_table(elf, scn, &shdr, b);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * PLT stubs, named as perf, objdump and gdb name them ("memcpy@plt"): no
 * symbol table covers them, yet a program that calls through its PLT a lot
 * (libsqlite3: 5 % of its samples) spends time there. Each stub of .plt,
 * .plt.sec and .plt.got jumps through a GOT slot with `jmp *disp(%rip)`
 * (ff 25), after an endbr64 (f3 0f 1e fa) and a bnd prefix (f2) where the
 * binary was built for them; the JUMP_SLOT or GLOB_DAT relocation that fills
 * that slot names the function. .plt's first entry and the lazy-binding
 * stubs of an IBT .plt jump elsewhere and stay unnamed, as do IRELATIVE
 * slots (no symbol). x86-64 only; the bytes read are the binary's own
 * sections, bounded by MAX_SYMS entries.
 */
#define R_X86_64_GLOB_DAT_ 6
#define R_X86_64_JUMP_SLOT_ 7
#define PLT_MAX_SECTION (16u << 20)

struct got_slot {
	uint64_t addr;
	const char *name;  /* in the dynamic string table, valid until elf_end */
};

static int got_slot_cmp(const void *pa, const void *pb)
{
	const struct got_slot *a = pa, *b = pb;

	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* The GOT slots that relocations fill with a named function's address. */
static int collect_got_slots(Elf *elf, struct got_slot **ret_v, size_t *ret_n)
{
	struct got_slot *v = NULL;
	size_t n = 0, cap = 0;
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr, symhdr;
		Elf_Scn *symscn;
		Elf_Data *data, *syms;
		size_t count;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_RELA || !shdr.sh_entsize)
			continue;
		symscn = elf_getscn(elf, shdr.sh_link);
		if (!symscn || !gelf_getshdr(symscn, &symhdr) || symhdr.sh_type != SHT_DYNSYM)
			continue;
		data = elf_getdata(scn, NULL);
		syms = elf_getdata(symscn, NULL);
		if (!data || !syms)
			continue;
		count = data->d_size / shdr.sh_entsize;
		for (size_t i = 0; i < count; i++) {
			GElf_Rela rela;
			GElf_Sym sym;
			const char *name;
			unsigned type;

			if (!gelf_getrela(data, (int)i, &rela))
				break;
			type = (unsigned)GELF_R_TYPE(rela.r_info);
			if ((type != R_X86_64_JUMP_SLOT_ && type != R_X86_64_GLOB_DAT_) ||
			    !GELF_R_SYM(rela.r_info) ||
			    !gelf_getsym(syms, (int)GELF_R_SYM(rela.r_info), &sym) ||
			    GELF_ST_TYPE(sym.st_info) == STT_OBJECT)
				continue;
			name = elf_strptr(elf, symhdr.sh_link, sym.st_name);
			if (!name || !name[0])
				continue;
			if (n >= MAX_SYMS) {
				free(v);
				return -ENOEXEC;
			}
			if (COMMON_GROW(v, cap, n + 1)) {
				free(v);
				return -ENOMEM;
			}
			v[n++] = (struct got_slot){ rela.r_offset, name };
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), got_slot_cmp);
	*ret_v = v;
	*ret_n = n;
	return 0;
}

/* Where an entry's `jmp *disp(%rip)` starts, or -1 when it has none. */
static int plt_jump_at(const unsigned char *e, size_t size)
{
	static const unsigned char endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };
	size_t at = size >= 4 && !memcmp(e, endbr64, 4) ? 4 : 0;

	if (at + 1 < size && e[at] == 0xf2)  /* bnd */
		at++;
	return at + 6 <= size && e[at] == 0xff && e[at + 1] == 0x25 ? (int)at : -1;
}

static int collect_plt(Elf *elf, struct builder *b)
{
	struct got_slot *slots = NULL;
	size_t n_slots = 0, shstrndx;
	GElf_Ehdr ehdr;
	Elf_Scn *scn = NULL;
	int r;

	if (!gelf_getehdr(elf, &ehdr) || ehdr.e_machine != EM_X86_64 ||
	    elf_getshdrstrndx(elf, &shstrndx) < 0)
		return 0;
	r = collect_got_slots(elf, &slots, &n_slots);
	if (r < 0 || !n_slots)
		return r;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		const char *sec;
		Elf_Data *data;
		size_t ent;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_PROGBITS ||
		    !(shdr.sh_flags & SHF_EXECINSTR) || shdr.sh_size > PLT_MAX_SECTION)
			continue;
		sec = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (!sec || (strcmp(sec, ".plt") && strcmp(sec, ".plt.sec") &&
			     strcmp(sec, ".plt.got")))
			continue;
		ent = shdr.sh_entsize == 8 || shdr.sh_entsize == 16 ? shdr.sh_entsize : 16;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf)
			continue;
		for (size_t off = 0; off + ent <= data->d_size && r >= 0; off += ent) {
			const unsigned char *e = (const unsigned char *)data->d_buf + off;
			int at = plt_jump_at(e, ent);
			struct got_slot key, *hit;
			int32_t disp;
			struct raw_sym rs;
			char *name;

			if (at < 0)
				continue;
			memcpy(&disp, e + at + 2, sizeof(disp));
			key.addr = shdr.sh_addr + off + (uint64_t)at + 6 + (uint64_t)(int64_t)disp;
			hit = bsearch(&key, slots, n_slots, sizeof(*slots), got_slot_cmp);
			if (!hit)
				continue;
			if (asprintf(&name, "%s@plt", hit->name) < 0) {
				r = -ENOMEM;
				break;
			}
			rs = (struct raw_sym){
				.addr = shdr.sh_addr + off,
				.size = ent,
				.sec_end = shdr.sh_addr + shdr.sh_size,
				.rank = sym_rank(name, STB_LOCAL, ent),
			};
			r = builder_name(b, name, &rs.name);
			free(name);
			if (r >= 0)
				r = builder_add(b, &rs);
		}
	}
	free(slots);
	return r < 0 ? r : 0;
}

/* Finds the NT_GNU_BUILD_ID note in data; returns its length or 0. */
static size_t note_build_id(Elf_Data *data, unsigned char *out)
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nhdr;

	while (off < data->d_size &&
	       (next = gelf_getnote(data, off, &nhdr, &name_off, &desc_off)) > 0) {
		if (nhdr.n_type == NT_GNU_BUILD_ID && nhdr.n_namesz == 4 &&
		    memcmp((char *)data->d_buf + name_off, "GNU", 4) == 0 &&
		    nhdr.n_descsz > 0 && nhdr.n_descsz <= MAX_BUILD_ID) {
			memcpy(out, (char *)data->d_buf + desc_off, nhdr.n_descsz);
			return nhdr.n_descsz;
		}
		off = next;
	}
	return 0;
}

int sym_elf_read_build_id(Elf *elf, char **ret_hex)
{
	unsigned char id[MAX_BUILD_ID];
	size_t len = 0, phnum;
	Elf_Scn *scn = NULL;
	char *hex;

	while (!len && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		if (data)
			len = note_build_id(data, id);
	}
	/* Without section headers (sstrip'ed files) the notes are still
	 * reachable through PT_NOTE. */
	for (size_t i = 0; !len && elf_getphdrnum(elf, &phnum) == 0 && i < phnum; i++) {
		GElf_Phdr ph;
		Elf_Data *data;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE)
			continue;
		data = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz,
					    ELF_T_NHDR);
		if (data)
			len = note_build_id(data, id);
	}
	if (!len) {
		*ret_hex = NULL;
		return 0;
	}
	hex = malloc(2 * len + 1);
	if (!hex)
		return -ENOMEM;
	common_hex(id, len, hex);
	*ret_hex = hex;
	return 0;
}

static int read_loads(Elf *elf, struct sym_elf *e)
{
	size_t phnum;

	if (elf_getphdrnum(elf, &phnum) < 0 || phnum == 0 || phnum > 65535)
		return -ENOEXEC;
	e->loads = calloc(phnum, sizeof(*e->loads));
	if (!e->loads)
		return -ENOMEM;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph))
			return -ENOEXEC;
		if (ph.p_type != PT_LOAD || ph.p_filesz == 0)
			continue;
		e->loads[e->n_loads++] = (struct sym_elf_load){
			.offset = ph.p_offset,
			.filesz = ph.p_filesz,
			.vaddr = ph.p_vaddr,
		};
	}
	return e->n_loads ? 0 : -ENOEXEC;
}

static Elf *elf_open(int fd)
{
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	GElf_Ehdr ehdr;

	if (!elf)
		return NULL;
	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr)) {
		elf_end(elf);
		return NULL;
	}
	return elf;
}

/* The section called want, with contents in the file, or NULL. */
static Elf_Scn *find_section(Elf *elf, const char *want)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		const char *name;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS ||
		    shdr.sh_size == 0)
			continue;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (name && !strcmp(name, want))
			return scn;
	}
	return NULL;
}

/*
 * Bytes a load reads whole from elf and builds from what it reads: the
 * symbol tables (the table built from them takes about as much again),
 * their string tables, the CFI copies, MiniDebugInfo (at its bound). What
 * a section header claims is charged before libelf reads anything, so a
 * sparse file whose .symtab claims gigabytes is refused, not read.
 */
static uint64_t elf_cost(Elf *elf, bool symtab_only)
{
	Elf_Scn *scn = NULL;
	uint64_t cost = 0;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr, str;
		Elf_Scn *link;
		const char *name;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (shdr.sh_type == SHT_SYMTAB || (!symtab_only && shdr.sh_type == SHT_DYNSYM)) {
			cost += 2 * shdr.sh_size;
			link = elf_getscn(elf, shdr.sh_link);
			if (link && gelf_getshdr(link, &str) && str.sh_type != SHT_NOBITS)
				cost += str.sh_size;
		} else if (!symtab_only && name &&
			   (!strcmp(name, ".eh_frame") || !strcmp(name, ".eh_frame_hdr") ||
			    !strcmp(name, ".gnu_debugdata"))) {
			cost += shdr.sh_size;
		}
	}
	return cost;
}

static bool has_debug_info(Elf *elf)
{
	return find_section(elf, ".debug_info") || find_section(elf, ".zdebug_info");
}

static Elf_Data *section_data(Elf *elf, const char *want)
{
	Elf_Scn *scn = find_section(elf, want);

	return scn ? elf_getdata(scn, NULL) : NULL;
}

int sym_debug_open(const struct sym_fs *fs, const char *path)
{
	return sym_file_open(fs, path, NULL, NULL);
}

static uint64_t where_max_bytes(const struct sym_elf_where *where)
{
	return where && where->max_bytes ? where->max_bytes : SYM_DEFAULT_MAX_MEMORY;
}

/*
 * Every file a binary or its debug file names (a debug file by build-id or
 * .gnu_debuglink, a dwz / supplementary file, a .dwp) is opened here, by
 * the rules for files other users control (file.c: regular, non-blocking,
 * bounded, refusals counted): a path the process gave resolved inside its
 * root when in_root, else a path in the profiler's root (DEBUG_DIR).
 * Returns an fd or -errno (-EPERM: refused and counted).
 */
static int open_named(const struct sym_elf_where *where, bool in_root, const char *path)
{
	struct sym_fs fs = {
		.root_fd = in_root && where ? where->fs.root_fd : -1,
		.refused = where ? where->fs.refused : NULL,
	};

	return sym_debug_open(&fs, path);
}

/* Where the file holding the DWARF was found, for the files it names
 * relative to itself: a path as the process sees it, or as we do. */
struct dwarf_at {
	char path[4096];
	bool in_root;
};

void sym_dwarf_files__close(struct sym_dwarf_files *f)
{
	if (f->alt_fd >= 0)
		close(f->alt_fd);
	if (f->dwp_fd >= 0)
		close(f->dwp_fd);
	if (f->root_fd >= 0)
		close(f->root_fd);
	f->alt_fd = f->dwp_fd = f->root_fd = -1;
}

/*
 * Uses the debug file open at fd (found at path, in the process's root
 * when in_root): its .symtab, and its DWARF when the binary has none.
 * Takes fd: kept as e->debug_fd (so the binary can be loaded again without
 * looking for it), or closed on failure. *at becomes path when the DWARF
 * is this file's. One whose symbol table alone would pass the memory
 * bound is not used (over-budget).
 */
static int use_debug_file(int fd, Elf *elf, const struct sym_elf_where *where,
			  struct sym_elf *e, struct builder *b, const char *path, bool in_root,
			  struct dwarf_at *at)
{
	int r;

	if (elf_cost(elf, true) > where_max_bytes(where)) {
		sym_fs__refuse(where ? &where->fs : NULL, SYM_REFUSED_BUDGET);
		close(fd);
		return 0;
	}
	r = collect_symbols(elf, true, b);
	if (r < 0) {
		close(fd);
		return r;
	}
	e->debug_file = true;
	e->debug_fd = fd;
	if (e->dwarf_fd < 0 && has_debug_info(elf)) {
		e->dwarf_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (e->dwarf_fd < 0)
			return -errno;
		if (path && at) {
			snprintf(at->path, sizeof(at->path), "%s", path);
			at->in_root = in_root;
		}
	}
	return 0;
}

/*
 * The debug file a previous load chose (where->debug_fd), without looking
 * again: the process whose root it was found through may be gone. Returns
 * 1 when used, 0 when there is none, or -ENOMEM.
 */
static int collect_known_debug_file(int known, const struct sym_elf_where *where,
				    struct sym_elf *e, struct builder *b)
{
	Elf *elf;
	int fd, r;

	if (known < 0)
		return 0;
	fd = fcntl(known, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	elf = elf_open(fd);
	if (!elf) {
		close(fd);
		return 0;
	}
	r = use_debug_file(fd, elf, where, e, b, NULL, false, NULL);
	elf_end(elf);
	return r < 0 ? r : e->debug_file;
}

/*
 * DEBUG_DIR/.build-id/xx/rest.debug, when it exists and its build-id
 * matches. Returns 1 when used, 0 when there is none, or -ENOMEM.
 */
static int collect_build_id_file(const struct sym_elf_where *where, struct sym_elf *e,
				 struct builder *b, struct dwarf_at *at)
{
	char path[4096], *id = NULL;
	Elf *elf = NULL;
	int fd, r = 0;

	if (!where || !where->debug_dir || !e->build_id || strlen(e->build_id) < 4)
		return 0;
	snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", where->debug_dir,
		 e->build_id, e->build_id + 2);
	fd = open_named(where, false, path);
	if (fd < 0)
		return 0;
	elf = elf_open(fd);
	if (!elf)
		goto out;
	r = sym_elf_read_build_id(elf, &id);
	if (r < 0 || !id || strcmp(id, e->build_id) != 0)
		goto out;
	r = use_debug_file(fd, elf, where, e, b, path, false, at);
	fd = -1;
	if (r == 0)
		r = e->debug_file;
out:
	free(id);
	elf_end(elf);
	if (fd >= 0)
		close(fd);
	return r;
}

/* CRC-32 of a whole file, as .gnu_debuglink records it: the file is
 * another user's, so the read is bounded in time (its size is bounded by
 * the open). */
static int file_crc(const struct sym_elf_where *where, int fd, uint32_t *ret_crc)
{
	static const size_t chunk = 1u << 16;
	uint64_t deadline = common_now_ns() + SYM_FILE_READ_NS;
	unsigned char *buf = malloc(chunk);
	uLong crc = crc32(0, Z_NULL, 0);
	struct stat st;
	uint64_t off = 0;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	if (fstat(fd, &st) < 0)
		r = -errno;
	while (r == 0 && off < (uint64_t)st.st_size) {
		size_t n = (size_t)MIN((uint64_t)chunk, (uint64_t)st.st_size - off);

		r = sym_file_read_at(where ? &where->fs : NULL, fd, buf, n, off, deadline);
		if (r < 0)
			break;
		crc = crc32(crc, buf, (uInt)n);
		off += n;
	}
	free(buf);
	if (r < 0)
		return r;
	*ret_crc = (uint32_t)crc;
	return 0;
}

/*
 * The .gnu_debuglink file: next to the binary, in .debug/ next to it, or
 * under DEBUG_DIR with the binary's directory, with a matching CRC.
 * Returns 1 when used, 0 when there is none, or -ENOMEM.
 */
static int collect_debuglink(Elf *self, const struct sym_elf_where *where,
			     struct sym_elf *e, struct builder *b, struct dwarf_at *at)
{
	Elf_Data *data = section_data(self, ".gnu_debuglink");
	const char *link, *slash;
	char dir[4096], path[8192];
	uint32_t want, crc = 0;
	size_t len;

	if (!where || !where->path || !data || data->d_size < 8)
		return 0;
	link = data->d_buf;
	len = strnlen(link, data->d_size);
	if (len == 0 || len + 1 + 4 > data->d_size || strchr(link, '/'))
		return 0;
	/* the CRC is the 4-byte aligned word after the name */
	memcpy(&want, (const char *)data->d_buf + ((len + 4) & ~(size_t)3), 4);
	slash = strrchr(where->path, '/');
	if (!slash)
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - where->path), where->path);
	for (int i = 0; i < 3; i++) {
		Elf *elf;
		int fd, r;

		/* next to the binary and in .debug/ are the process's files:
		 * resolved in its root */
		if (i == 0)
			snprintf(path, sizeof(path), "%s/%s", dir, link);
		else if (i == 1)
			snprintf(path, sizeof(path), "%s/.debug/%s", dir, link);
		else if (where->debug_dir)
			snprintf(path, sizeof(path), "%s%s/%s", where->debug_dir, dir, link);
		else
			break;
		fd = open_named(where, i < 2, path);
		if (fd < 0)
			continue;
		r = file_crc(where, fd, &crc);
		if (r == -ENOMEM) {
			close(fd);
			return r;
		}
		if (r < 0 || crc != want || !(elf = elf_open(fd))) {
			close(fd);
			continue;
		}
		r = use_debug_file(fd, elf, where, e, b, path, i < 2, at);
		elf_end(elf);
		if (r < 0 || e->debug_file)
			return r < 0 ? r : 1;
	}
	return 0;
}

/* ---- the files the DWARF refers to ------------------------------------ */

/*
 * The .debug_sup section of elf (DWARF 5: version 5, is_supplementary, a
 * path, a ULEB128 checksum length and the checksum) when is_supplementary
 * is sup: 1 with the path (empty in a supplementary file) and the
 * checksum, else 0.
 */
static int debug_sup(Elf *elf, bool sup, char *path, size_t path_size, unsigned char *id,
		     size_t *ret_id_len)
{
	Elf_Data *data = section_data(elf, ".debug_sup");
	const unsigned char *p;
	size_t n, len, off, clen = 0;

	if (!data || !data->d_buf || data->d_size < 5)
		return 0;
	p = data->d_buf;
	n = data->d_size;
	if ((p[0] | p[1] << 8) != 5 || p[2] != sup)
		return 0;
	len = strnlen((const char *)p + 3, n - 3);
	if (3 + len >= n || len >= path_size)
		return 0;
	memcpy(path, p + 3, len + 1);
	off = 3 + len + 1;
	for (unsigned shift = 0; off < n && shift < 28; shift += 7) {
		clen |= (size_t)(p[off] & 0x7f) << shift;
		if (!(p[off++] & 0x80))
			break;
	}
	if (clen > n - off)
		return 0;
	*ret_id_len = MIN(clen, (size_t)MAX_BUILD_ID);
	memcpy(id, p + off, *ret_id_len);
	return 1;
}

/*
 * The supplementary file the DWARF file elf names: .gnu_debugaltlink (dwz:
 * the path, a NUL, the file's build-id) or .debug_sup (DWARF 5; the
 * checksum, which the supplementary file's own .debug_sup repeats).
 * Returns 1 with the path, the id (*ret_id_len 0: nothing to check) and
 * *ret_sup, or 0 when it names none.
 */
static int alt_link(Elf *elf, char *path, size_t path_size, unsigned char *id,
		    size_t *ret_id_len, bool *ret_sup)
{
	Elf_Data *data = section_data(elf, ".gnu_debugaltlink");
	const unsigned char *p;
	size_t n, len;

	*ret_sup = false;
	if (data && data->d_buf && data->d_size > 1) {
		p = data->d_buf;
		n = data->d_size;
		len = strnlen((const char *)p, n);
		if (len == 0 || len >= n || len >= path_size)
			return 0;
		memcpy(path, p, len + 1);
		*ret_id_len = MIN(n - len - 1, (size_t)MAX_BUILD_ID);
		memcpy(id, p + len + 1, *ret_id_len);
		return 1;
	}
	*ret_sup = true;
	return debug_sup(elf, false, path, path_size, id, ret_id_len) && path[0];
}

/* The candidate path for a supplementary file whose identity is want
 * (lowercase hex, "" when there is nothing to check): its build-id, or
 * for a DWARF 5 one (sup) its .debug_sup checksum. Returns its fd, or -1;
 * *mismatch is set when it is an ELF file of another identity. */
static int alt_try(const struct sym_elf_where *where, bool in_root, const char *path,
		   const char *want, bool sup, bool *mismatch)
{
	int fd = open_named(where, in_root, path);
	unsigned char sum[MAX_BUILD_ID];
	char *id = NULL, name[8];
	size_t len = 0;
	Elf *elf;
	bool ok;

	if (fd < 0)
		return -1;
	elf = elf_open(fd);
	if (elf && sup && debug_sup(elf, true, name, sizeof(name), sum, &len)) {
		id = malloc(2 * len + 1);
		if (id) {
			common_hex(sum, len, id);
			id[2 * len] = '\0';
		}
	} else if (elf && !sup && sym_elf_read_build_id(elf, &id) < 0) {
		id = NULL;
	}
	ok = elf && (!*want || (id && !strcmp(id, want)));
	if (elf && !ok)
		*mismatch = true;
	free(id);
	elf_end(elf);
	if (!ok) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The supplementary file of the DWARF file elf (found at dwarf_path):
 * as its link says (an absolute path in the process's root and in ours,
 * a relative one beside the debug file, also through its real path),
 * then by its build-id in DEBUG_DIR/.build-id/, then in DEBUG_DIR/.dwz/
 * (Debian's /usr/lib/debug/.dwz/TRIPLET/PACKAGE.debug). The first whose
 * build-id matches is kept in e->files.
 */
static void find_alt(Elf *elf, const struct sym_elf_where *where, const struct dwarf_at *at,
		     int dwarf_fd, struct sym_elf *e)
{
	char link[2048], want[2 * MAX_BUILD_ID + 1], path[8192], dir[4096];
	const char *debug_dir = where ? where->debug_dir : NULL, *base, *slash;
	unsigned char id[MAX_BUILD_ID];
	size_t id_len = 0;
	const char *dwarf_path = at->path;
	bool mismatch = false, sup, in_root;
	int fd = -1;
	ssize_t n;

	if (!alt_link(elf, link, sizeof(link), id, &id_len, &sup))
		return;
	common_hex(id, id_len, want);
	want[2 * id_len] = '\0';
	base = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	for (int i = 0; i < 8 && fd < 0; i++) {
		path[0] = '\0';
		in_root = false;
		switch (i) {
		case 0:  /* absolute, in the process's root */
			if (link[0] == '/' && where && where->fs.root_fd >= 0) {
				snprintf(path, sizeof(path), "%s", link);
				in_root = true;
			}
			break;
		case 1:  /* absolute, in ours */
			if (link[0] == '/')
				snprintf(path, sizeof(path), "%s", link);
			break;
		case 2:  /* relative to the debug file */
			slash = strrchr(dwarf_path, '/');
			if (link[0] != '/' && slash)
				snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - dwarf_path),
					 dwarf_path, link);
			in_root = at->in_root;
			break;
		case 3:  /* relative to where a build-id link points */
			snprintf(dir, sizeof(dir), "/proc/self/fd/%d", dwarf_fd);
			n = link[0] != '/' ? readlink(dir, path, sizeof(path) - 1) : -1;
			path[n > 0 ? n : 0] = '\0';
			slash = strrchr(path, '/');
			if (slash) {
				snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
				snprintf(path, sizeof(path), "%s/%s", dir, link);
			} else {
				path[0] = '\0';
			}
			break;
		case 4:  /* /usr/lib/debug/... under our DEBUG_DIR */
			if (debug_dir && !strncmp(link, "/usr/lib/debug/", 15))
				snprintf(path, sizeof(path), "%s/%s", debug_dir, link + 15);
			break;
		case 5:  /* by build-id */
			if (debug_dir && id_len >= 2 && !sup)
				snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", debug_dir,
					 want, want + 2);
			break;
		case 6:  /* DEBUG_DIR/.dwz/DIR/NAME, DEBUG_DIR/.dwz/NAME */
			slash = base > link + 1 ? memrchr(link, '/', (size_t)(base - link - 1)) : NULL;
			if (debug_dir && slash)
				snprintf(path, sizeof(path), "%s/.dwz/%s", debug_dir, slash + 1);
			break;
		case 7:
			if (debug_dir)
				snprintf(path, sizeof(path), "%s/.dwz/%s", debug_dir, base);
			break;
		}
		if (path[0])
			fd = alt_try(where, in_root, path, want, sup, &mismatch);
	}
	e->files.alt_fd = fd;
	if (fd < 0)
		e->files.alt_issue = mismatch ? SYM_DEBUG_ALT_MISMATCH : SYM_DEBUG_ALT_MISSING;
}

/* Does the DWARF of elf keep its DIEs in .dwo files: a DWARF 5 skeleton
 * unit first, or GCC's DWARF 4 split units (the only DWARF 4 with a
 * .debug_addr)? */
static bool dwarf_is_split(Elf *elf)
{
	Elf_Scn *scn = find_section(elf, ".debug_info");
	bool addr = find_section(elf, ".debug_addr") != NULL;
	const unsigned char *p;
	unsigned version, type;
	GElf_Shdr sh;
	Elf_Data *data;

	if (!scn || !gelf_getshdr(scn, &sh) || (sh.sh_flags & SHF_COMPRESSED))
		return addr;
	data = elf_getdata_rawchunk(elf, (int64_t)sh.sh_offset, MIN(sh.sh_size, 16), ELF_T_BYTE);
	if (!data || data->d_size < 16)
		return false;
	p = data->d_buf;
	if ((p[0] & p[1] & p[2] & p[3]) == 0xff)
		p += 8;  /* 64-bit DWARF */
	version = p[4] | p[5] << 8;
	type = p[6];
	return version == 5 ? type == 4 /* DW_UT_skeleton */ : version < 5 && addr;
}

/* What the DWARF at e->dwarf_fd refers to (see struct sym_dwarf_files). */
static int find_dwarf_files(struct sym_elf *e, const struct sym_elf_where *where,
			    const struct dwarf_at *at)
{
	char path[8192];
	int fd = fcntl(e->dwarf_fd, F_DUPFD_CLOEXEC, 3);
	Elf *elf;

	if (fd < 0)
		return -errno;
	elf = elf_open(fd);
	if (elf) {
		find_alt(elf, where, at, e->dwarf_fd, e);
		if (dwarf_is_split(elf) && where && where->path) {
			snprintf(path, sizeof(path), "%s.dwp", where->path);
			e->files.dwp_fd = open_named(where, true, path);
			if (e->files.dwp_fd < 0)
				e->files.dwp_fd = -1;
			/* .dwo paths resolve in the process's root, also
			 * once the process is gone (-1: ours) */
			if (where->fs.root_fd >= 0)
				e->files.root_fd = fcntl(where->fs.root_fd, F_DUPFD_CLOEXEC, 3);
		}
		e->files.refused = where ? where->fs.refused : NULL;
		elf_end(elf);
	}
	close(fd);
	return 0;
}

/* The xz-compressed ELF image in .gnu_debugdata (MiniDebugInfo) holds a
 * .symtab of the functions .dynsym lacks; it is small (kilobytes). */
#define MAX_MINI_DEBUG (64u << 20)

static int collect_mini_debug(Elf *self, const struct sym_elf_where *where,
			      struct sym_elf *e, struct builder *b)
{
	Elf_Data *data = section_data(self, ".gnu_debugdata");
	size_t out_size = 0, in_pos = 0, out_pos = 0;
	/* the image and xz's own memory, charged to the bound */
	uint64_t max = MIN((uint64_t)MAX_MINI_DEBUG, where_max_bytes(where) / 4);
	uint64_t memlimit = max;
	unsigned char *out = NULL;
	Elf *elf = NULL;
	lzma_ret lr = LZMA_BUF_ERROR;
	int r = 0;

	if (!data || data->d_size == 0)
		return 0;
	for (out_size = MAX(data->d_size * 8, 65536); out_size <= max; out_size *= 4) {
		unsigned char *p = realloc(out, out_size);

		if (!p) {
			free(out);
			return -ENOMEM;
		}
		out = p;
		in_pos = out_pos = 0;
		memlimit = max;
		lr = lzma_stream_buffer_decode(&memlimit, 0, NULL, data->d_buf, &in_pos,
					       data->d_size, out, &out_pos, out_size);
		if (lr != LZMA_BUF_ERROR)
			break;
	}
	if (out_size > max || lr == LZMA_MEMLIMIT_ERROR) {
		sym_fs__refuse(where ? &where->fs : NULL, SYM_REFUSED_BUDGET);
		goto out;
	}
	if (lr != LZMA_OK)
		goto out;
	elf = elf_memory((char *)out, out_pos);
	if (!elf || elf_kind(elf) != ELF_K_ELF)
		goto out;
	r = collect_symbols(elf, true, b);
	if (r == 0)
		e->mini_debug = true;
out:
	elf_end(elf);
	free(out);
	return r;
}

static int raw_cmp(const void *pa, const void *pb, void *names)
{
	const struct raw_sym *a = pa, *b = pb;
	const char *names_ = names;

	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	return strcmp(names_ + a->name, names_ + b->name);
}

/*
 * Sorts, merges aliases and turns sizes into end addresses. An unsized
 * symbol (an assembly label) covers the addresses up to the next symbol,
 * within its section, as addr2line and perf name them; one inside a sized
 * function is a label of that function and covers nothing.
 */
static int finish_symbols(struct builder *b, struct sym_elf *e)
{
	uint64_t sized_end = 0;  /* end of the sized symbols so far */
	size_t n = 0;

	/* qsort_r: sessions on different threads may load binaries at once */
	if (b->n)
		qsort_r(b->v, b->n, sizeof(*b->v), raw_cmp, b->names);
	e->syms = calloc(b->n ? b->n : 1, sizeof(*e->syms));
	if (!e->syms)
		return -ENOMEM;
	for (size_t i = 0; i < b->n;) {
		size_t j = i;
		uint64_t end = 0, sec_end = 0;

		/* i is the best-ranked alias at this address. */
		for (; j < b->n && b->v[j].addr == b->v[i].addr; j++) {
			if (b->v[j].size)
				end = MAX(end, b->v[j].addr + b->v[j].size);
			if (b->v[j].sec_end > b->v[j].addr)
				sec_end = sec_end ? MIN(sec_end, b->v[j].sec_end) : b->v[j].sec_end;
		}
		if (end) {
			sized_end = MAX(sized_end, end);
		} else {
			if (b->v[i].addr < sized_end) {
				i = j;
				continue;
			}
			end = j < b->n ? b->v[j].addr : sec_end;
			if (sec_end && end > sec_end)
				end = sec_end;
		}
		e->syms[n++] = (struct sym_elf_sym){
			.addr = b->v[i].addr,
			.end = end,
			.name = b->v[i].name,
			.rank = b->v[i].rank,
		};
		i = j;
	}
	e->n_syms = n;
	e->names = b->names;
	e->names_len = b->len;
	b->names = NULL;
	return 0;
}

int sym_elf__load_fd(int fd, const struct sym_elf_where *where,
		     struct sym_elf **ret_elf)
{
	struct builder b = { 0 };
	struct sym_elf *e = NULL;
	struct dwarf_at at = { "", false };
	Elf *elf = NULL;
	int r;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EIO;
	elf = elf_open(fd);
	if (!elf)
		return -ENOEXEC;
	if (elf_cost(elf, false) > where_max_bytes(where)) {
		sym_fs__refuse(where ? &where->fs : NULL, SYM_REFUSED_BUDGET);
		elf_end(elf);
		return -EFBIG;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		r = -ENOMEM;
		goto fail;
	}
	e->dwarf_fd = -1;
	e->debug_fd = -1;
	e->files = (struct sym_dwarf_files){ .alt_fd = -1, .dwp_fd = -1, .root_fd = -1 };
	r = read_loads(elf, e);
	if (r < 0)
		goto fail;
	r = sym_elf_read_build_id(elf, &e->build_id);
	if (r < 0)
		goto fail;
	r = collect_symbols(elf, false, &b);
	if (r == 0)
		r = collect_plt(elf, &b);
	if (r < 0)
		goto fail;
	if (has_debug_info(elf)) {
		e->dwarf_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (e->dwarf_fd < 0) {
			r = -errno;
			goto fail;
		}
		if (where && where->path) {
			snprintf(at.path, sizeof(at.path), "%s", where->path);
			at.in_root = true;
		}
	}
	if (where && where->have_debug_fd) {
		r = collect_known_debug_file(where->debug_fd, where, e, &b);
	} else {
		r = collect_build_id_file(where, e, &b, &at);
		if (r == 0)
			r = collect_debuglink(elf, where, e, &b, &at);
		/* a reload keeps what the first load found (the binary has it) */
		if (r >= 0 && e->dwarf_fd >= 0) {
			int r2 = find_dwarf_files(e, where, &at);

			r = r2 < 0 ? r2 : r;
		}
	}
	if (r == 0)
		r = collect_mini_debug(elf, where, e, &b);
	if (r < 0)
		goto fail;
	r = finish_symbols(&b, e);
	if (r < 0)
		goto fail;
	r = sym_cfi__load(elf, &e->cfi);
	if (r < 0)
		goto fail;
	free(b.v);
	elf_end(elf);
	*ret_elf = e;
	return 0;
fail:
	free(b.names);
	free(b.v);
	sym_elf__free(e);
	elf_end(elf);
	return r;
}

void sym_elf__free(struct sym_elf *e)
{
	if (!e)
		return;
	free(e->build_id);
	free(e->loads);
	sym_cfi__fini(&e->cfi);
	free(e->syms);
	free(e->names);
	if (e->dwarf_fd >= 0)
		close(e->dwarf_fd);
	if (e->debug_fd >= 0)
		close(e->debug_fd);
	sym_dwarf_files__close(&e->files);
	free(e);
}

int sym_elf__offset_to_vaddr(const struct sym_elf *e, uint64_t offset,
			     uint64_t *ret_vaddr)
{
	for (size_t i = 0; i < e->n_loads; i++) {
		const struct sym_elf_load *l = &e->loads[i];

		if (offset >= l->offset && offset - l->offset < l->filesz) {
			*ret_vaddr = offset - l->offset + l->vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

size_t sym_elf__memory(const struct sym_elf *e)
{
	if (!e)
		return 0;
	return sizeof(*e) + e->n_loads * sizeof(*e->loads) + e->n_syms * sizeof(*e->syms) +
	       e->names_len + (e->build_id ? strlen(e->build_id) + 1 : 0) +
	       e->cfi.hdr_size + e->cfi.eh_size + e->cfi.n_sig * sizeof(*e->cfi.sig);
}

const char *sym_elf__lookup(const struct sym_elf *e, uint64_t vaddr)
{
	size_t lo = sym_sorted__count_le(e->syms, e->n_syms, sizeof(*e->syms), vaddr);

	for (size_t i = lo, k = 0; i > 0 && k < LOOKBACK; i--, k++) {
		const struct sym_elf_sym *sym = &e->syms[i - 1];

		if (vaddr < sym->end)
			return e->names + sym->name;
	}
	return NULL;
}
