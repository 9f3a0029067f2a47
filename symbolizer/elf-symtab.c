/* SPDX-License-Identifier: Apache-2.0 */
/*
 * elf-symtab.c — a binary's function symbols gathered into one table:
 * the entries of .symtab and .dynsym (and of a debug file's or a
 * MiniDebugInfo image's .symtab), the PLT stubs named "NAME@plt" from the
 * relocations that fill their GOT slots, then sorted by address with
 * aliases merged into the best-ranked name (sym_symtab__finish()). elf.c
 * loads a binary and calls these; the table it leaves in a sym_elf is
 * described there.
 *
 * Invariants:
 * - What is read was charged by elf.c from the section headers first; at
 *   most MAX_SYMS symbols per table and MAX_SYMS GOT slots.
 * - A string table in the file is read a window of STRTAB_WINDOW bytes
 *   at a time (strtab_name()), never whole; names in a compressed or
 *   in-memory table are read by libelf.
 * - The entries' names are offsets into b->names, NUL-terminated.
 */
#include "sym-internal.h"
#include "sym-symtab.h"

#include <ctype.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

#ifndef STT_GNU_IFUNC
#define STT_GNU_IFUNC 10
#endif

/* More than any real binary has; a corrupt header cannot make us loop on. */
#define MAX_SYMS (16u << 20)
/* Names are read from a string table this much at a time (strtab_name()). */
#define STRTAB_WINDOW (256u << 10)

struct raw_sym {
	uint64_t addr;
	uint64_t size;
	uint64_t sec_end;  /* end of the symbol's section, 0 if unknown */
	uint32_t name;
	uint32_t rank;
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

static int builder_name(struct sym_symtab *b, const char *name, uint32_t *ret_off)
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

static int builder_add(struct sym_symtab *b, const struct raw_sym *rs)
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
 * symbol, then global over weak over local (the kind's bits, above), then
 * fewer leading underscores (qsort over __qsort), then the shorter name
 * (the name's bits, sym_rank_of_name()); a rank is the two ORed.
 */
static uint32_t sym_rank_of_kind(unsigned bind, uint64_t size)
{
	uint32_t bind_rank = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;

	return (size ? 0u : SYM_RANK_UNSIZED) | bind_rank << 24;
}

static uint32_t sym_rank_of_name(const char *name)
{
	uint32_t underscores = 0, len = (uint32_t)MIN(strlen(name), 0xffffu);

	while (name[underscores] == '_' && underscores < 0xff)
		underscores++;
	return underscores << 16 | len;
}

/*
 * The string table of a symbol table, read from the file a window at a
 * time in the order of the names' offsets, instead of whole by libelf
 * (elf_strptr): a big C++ binary's .strtab (13-22 MB on this host) sat
 * beside its symbol table while it was built, the largest part of `ember
 * record -a`'s peak, for a few hundred KB of function names kept.
 */
struct strtab_reader {
	int fd;
	uint64_t off, size;     /* the table in the file */
	char *win;              /* bytes [win_off, win_off + win_len) of it */
	uint64_t win_off;
	size_t win_len, win_cap;
};

/* The NUL-terminated name at offset name of the table, or NULL when the
 * table ends (or the file does) before its NUL; -ENOMEM in *ret_err. */
static const char *strtab_name(struct strtab_reader *t, uint32_t name, int *ret_err)
{
	uint64_t want = STRTAB_WINDOW;

	if (name >= t->size)
		return NULL;
	for (;;) {
		if (name >= t->win_off && name < t->win_off + t->win_len) {
			const char *p = t->win + (name - t->win_off);

			if (memchr(p, '\0', t->win_off + t->win_len - name))
				return p;
			if (t->win_off + t->win_len >= t->size)
				return NULL;  /* the table's last string is cut */
			if (name == t->win_off)
				want = (uint64_t)t->win_len * 2;  /* a name longer than the window */
		}
		want = MIN(want, t->size - name);
		if (want > t->win_cap) {
			char *w = realloc(t->win, want);

			if (!w) {
				*ret_err = -ENOMEM;
				return NULL;
			}
			t->win = w;
			t->win_cap = want;
		}
		t->win_off = name;
		t->win_len = 0;
		while (t->win_len < want) {
			ssize_t n = pread(t->fd, t->win + t->win_len, want - t->win_len,
					  (off_t)(t->off + name + t->win_len));

			if (n <= 0)
				break;  /* the file shrank: the names past it are lost */
			t->win_len += (size_t)n;
		}
		if (t->win_len < want && !memchr(t->win, '\0', t->win_len))
			return NULL;
	}
}

static int raw_name_cmp(const void *pa, const void *pb)
{
	const struct raw_sym *a = pa, *b = pb;

	return a->name < b->name ? -1 : a->name > b->name;
}

/* The entries [first, b->n) hold string table offsets in name: each gets
 * its name copied, followed by suffix when not NULL ("@plt"), and the
 * name's part of its rank; one whose name is empty or unreadable is
 * dropped. Returns 0 or -ENOMEM (then the entries are dropped). */
static int read_names(struct sym_symtab *b, size_t first, struct strtab_reader *t,
		      const char *suffix)
{
	size_t j = first, cap = 0;
	char *joined = NULL;
	int err = 0;

	if (b->n > first)
		qsort(b->v + first, b->n - first, sizeof(*b->v), raw_name_cmp);
	for (size_t i = first; i < b->n; i++) {
		struct raw_sym rs = b->v[i];
		const char *name = strtab_name(t, rs.name, &err);

		if (err)
			break;
		if (!name || !name[0])
			continue;
		if (suffix) {
			size_t len = strlen(name), slen = strlen(suffix);

			if (COMMON_GROW(joined, cap, len + slen + 1)) {
				err = -ENOMEM;
				break;
			}
			memcpy(joined, name, len);
			memcpy(joined + len, suffix, slen + 1);
			name = joined;
		}
		rs.rank |= sym_rank_of_name(name);
		err = builder_name(b, name, &rs.name);
		if (err)
			break;
		b->v[j++] = rs;
	}
	b->n = err ? first : j;
	free(joined);
	free(t->win);
	t->win = NULL;
	return err;
}

/* Whether the string table of section index strndx can be read from fd a
 * window at a time (an uncompressed string table inside the file), into
 * *t. */
static bool strtab_windowed(Elf *elf, int fd, size_t strndx, struct strtab_reader *t)
{
	Elf_Scn *scn;
	GElf_Shdr str;
	struct stat st;

	if (fd < 0 || !(scn = elf_getscn(elf, strndx)) || !gelf_getshdr(scn, &str) ||
	    str.sh_type != SHT_STRTAB || (str.sh_flags & SHF_COMPRESSED) ||
	    fstat(fd, &st) < 0 || str.sh_offset > (uint64_t)st.st_size ||
	    str.sh_size > (uint64_t)st.st_size - str.sh_offset || str.sh_size > UINT32_MAX)
		return false;
	*t = (struct strtab_reader){ .fd = fd, .off = str.sh_offset, .size = str.sh_size };
	return true;
}

/* The function symbols of one symbol table. fd is the file elf reads,
 * or -1 (an image in memory): then libelf reads the names. */
static int collect_table(Elf *elf, int fd, Elf_Scn *scn, const GElf_Shdr *shdr,
			 struct sym_symtab *b)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t entsize = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
	size_t shnum, n, first = b->n;
	struct strtab_reader t;
	bool windowed;
	int r;

	if (!data || entsize == 0 || elf_getshdrnum(elf, &shnum) < 0)
		return 0;  /* an unreadable table just gives no symbols */
	windowed = strtab_windowed(elf, fd, shdr->sh_link, &t);
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
		 * no size either; sym_symtab__finish() bounds them). */
		if (type == STT_NOTYPE && !exec)
			continue;
		rs = (struct raw_sym){
			.addr = sym.st_value,
			.size = sym.st_size,
			.sec_end = sec.sh_addr + sec.sh_size > sec.sh_addr ?
				   sec.sh_addr + sec.sh_size : 0,
			.rank = sym_rank_of_kind(GELF_ST_BIND(sym.st_info), sym.st_size),
			.name = sym.st_name,  /* named by read_names() */
		};
		if (!windowed) {
			name = elf_strptr(elf, shdr->sh_link, sym.st_name);
			if (!name || !name[0])
				continue;
			rs.rank |= sym_rank_of_name(name);
			r = builder_name(b, name, &rs.name);
			if (r < 0)
				return r;
		}
		r = builder_add(b, &rs);
		if (r < 0)
			return r;
	}
	return windowed ? read_names(b, first, &t, NULL) : 0;
}

int sym_symtab__collect(struct sym_symtab *b, Elf *elf, int fd, bool symtab_only)
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
		r = collect_table(elf, fd, scn, &shdr, b);
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
	uint32_t name;  /* the function's name: an offset in the dynamic string table */
};

static int got_slot_cmp(const void *pa, const void *pb)
{
	const struct got_slot *a = pa, *b = pb;

	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/*
 * Where DT_RELA's table starts and how many of its first entries are
 * RELATIVE (DT_RELACOUNT): the linker sorts those first (-z combreloc)
 * and counts them, and none names a function. In a large library they
 * are nearly all of .rela.dyn (libclang-cpp: 5.5 MB of it), which
 * collect_got_slots() then does not read. 0, 0 when the binary says
 * nothing of them; a count that lies only loses PLT names.
 */
static void relative_prefix(Elf *elf, uint64_t *ret_addr, uint64_t *ret_count)
{
	Elf_Scn *scn = NULL;

	*ret_addr = *ret_count = 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		Elf_Data *data;
		GElf_Dyn dyn;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_DYNAMIC ||
		    !(data = elf_getdata(scn, NULL)))
			continue;
		for (int i = 0; gelf_getdyn(data, i, &dyn) && dyn.d_tag != DT_NULL; i++) {
			if (dyn.d_tag == DT_RELA)
				*ret_addr = dyn.d_un.d_ptr;
			else if (dyn.d_tag == DT_RELACOUNT)
				*ret_count = dyn.d_un.d_val;
		}
		return;
	}
}

/* The relocations of scn (shdr) past its first skip, or NULL. */
static Elf_Data *rela_tail(Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr, uint64_t skip)
{
	size_t size = gelf_fsize(elf, ELF_T_RELA, 1, EV_CURRENT);
	uint64_t count = size ? shdr->sh_size / size : 0;

	if (!skip || shdr->sh_entsize != size)
		return elf_getdata(scn, NULL);
	skip = MIN(skip, count);
	return elf_getdata_rawchunk(elf, (int64_t)(shdr->sh_offset + skip * size),
				    (count - skip) * size, ELF_T_RELA);
}

/* The GOT slots that relocations fill with a named function's address,
 * and the string table their names are in (*ret_strndx). */
static int collect_got_slots(Elf *elf, struct got_slot **ret_v, size_t *ret_n,
			     size_t *ret_strndx)
{
	struct got_slot *v = NULL;
	size_t n = 0, cap = 0, strndx = 0;
	Elf_Scn *scn = NULL;
	uint64_t rela_addr, relative;

	relative_prefix(elf, &rela_addr, &relative);
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr, symhdr;
		Elf_Scn *symscn;
		Elf_Data *data, *syms;
		size_t count;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_RELA || !shdr.sh_entsize)
			continue;
		symscn = elf_getscn(elf, shdr.sh_link);
		if (!symscn || !gelf_getshdr(symscn, &symhdr) || symhdr.sh_type != SHT_DYNSYM ||
		    (strndx && symhdr.sh_link != strndx))
			continue;  /* one dynamic symbol table: one string table */
		strndx = symhdr.sh_link;
		data = rela_tail(elf, scn, &shdr,
				 rela_addr && shdr.sh_addr == rela_addr ? relative : 0);
		syms = elf_getdata(symscn, NULL);
		if (!data || !syms)
			continue;
		count = data->d_size / shdr.sh_entsize;
		for (size_t i = 0; i < count; i++) {
			GElf_Rela rela;
			GElf_Sym sym;
			unsigned type;

			if (!gelf_getrela(data, (int)i, &rela))
				break;
			type = (unsigned)GELF_R_TYPE(rela.r_info);
			if ((type != R_X86_64_JUMP_SLOT_ && type != R_X86_64_GLOB_DAT_) ||
			    !GELF_R_SYM(rela.r_info) ||
			    !gelf_getsym(syms, (int)GELF_R_SYM(rela.r_info), &sym) ||
			    GELF_ST_TYPE(sym.st_info) == STT_OBJECT || !sym.st_name)
				continue;
			if (n >= MAX_SYMS) {
				free(v);
				return -ENOEXEC;
			}
			if (COMMON_GROW(v, cap, n + 1)) {
				free(v);
				return -ENOMEM;
			}
			v[n++] = (struct got_slot){ rela.r_offset, sym.st_name };
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), got_slot_cmp);
	*ret_v = v;
	*ret_n = n;
	*ret_strndx = strndx;
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

/* The PLT stubs as symbols "NAME@plt". fd is the file elf reads, or -1:
 * as for collect_table(). */
int sym_symtab__collect_plt(struct sym_symtab *b, Elf *elf, int fd)
{
	struct got_slot *slots = NULL;
	size_t n_slots = 0, shstrndx, strndx = 0, first = b->n;
	struct strtab_reader t;
	bool windowed;
	GElf_Ehdr ehdr;
	Elf_Scn *scn = NULL;
	int r;

	if (!gelf_getehdr(elf, &ehdr) || ehdr.e_machine != EM_X86_64 ||
	    elf_getshdrstrndx(elf, &shstrndx) < 0)
		return 0;
	r = collect_got_slots(elf, &slots, &n_slots, &strndx);
	if (r < 0 || !n_slots)
		return r;
	windowed = strtab_windowed(elf, fd, strndx, &t);
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
			rs = (struct raw_sym){
				.addr = shdr.sh_addr + off,
				.size = ent,
				.sec_end = shdr.sh_addr + shdr.sh_size,
				.rank = sym_rank_of_kind(STB_LOCAL, ent),
				.name = hit->name,  /* named by read_names() */
			};
			if (!windowed) {
				const char *fn = elf_strptr(elf, strndx, hit->name);

				if (!fn || !fn[0])
					continue;
				if (asprintf(&name, "%s@plt", fn) < 0) {
					r = -ENOMEM;
					break;
				}
				rs.rank |= sym_rank_of_name(name);
				r = builder_name(b, name, &rs.name);
				free(name);
			}
			if (r >= 0)
				r = builder_add(b, &rs);
		}
	}
	free(slots);
	if (r >= 0 && windowed)
		r = read_names(b, first, &t, "@plt");
	else if (windowed)
		b->n = first;  /* their names are offsets: not entries yet */
	return r < 0 ? r : 0;
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
 * Sorts b's symbols as raw_cmp() orders them: a stable radix sort on the
 * address, a byte at a time from the lowest (a byte every symbol shares
 * is skipped), then each run of one address by rank and name. qsort_r()
 * over the whole table was a quarter of loading a large library's
 * (libLLVM: 300,000 entries, .symtab and .dynsym). qsort_r: sessions on
 * different threads may load binaries at once. Returns 0 or -ENOMEM.
 */
static int sort_raw(struct sym_symtab *b)
{
	struct raw_sym *src = b->v, *dst, *buf, *tmp;
	size_t n = b->n;

	if (n < 2)
		return 0;
	buf = malloc(n * sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	dst = buf;
	for (unsigned shift = 0; shift < 64; shift += 8) {
		size_t count[256] = { 0 }, at = 0;

		for (size_t i = 0; i < n; i++)
			count[(src[i].addr >> shift) & 0xff]++;
		if (count[(src[0].addr >> shift) & 0xff] == n)
			continue;
		for (size_t k = 0; k < 256; k++) {
			size_t c = count[k];

			count[k] = at;
			at += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[(src[i].addr >> shift) & 0xff]++] = src[i];
		tmp = src;
		src = dst;
		dst = tmp;
	}
	if (src != b->v)
		memcpy(b->v, src, n * sizeof(*src));
	free(buf);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && b->v[j].addr == b->v[i].addr; j++)
			;
		if (j - i > 1)
			qsort_r(b->v + i, j - i, sizeof(*b->v), raw_cmp, b->names);
	}
	return 0;
}

/*
 * Sorts, merges aliases and turns sizes into end addresses. An unsized
 * symbol (an assembly label) covers the addresses up to the next symbol,
 * within its section, as addr2line and perf name them; one inside a sized
 * function is a label of that function and covers nothing.
 */
int sym_symtab__finish(struct sym_symtab *b, struct sym_elf *e)
{
	uint64_t sized_end = 0;  /* end of the sized symbols so far */
	size_t n = 0;

	/* Without the growth's slack (up to half of each) before the sort's
	 * and the table's memory is taken: a big C++ binary's raw entries
	 * took 36 MB, about half of it slack, beside its table while it was
	 * built (record -a). A failed shrink keeps the larger block. */
	if (b->n && b->n < b->cap) {
		struct raw_sym *fit = realloc(b->v, b->n * sizeof(*b->v));

		if (fit) {
			b->v = fit;
			b->cap = b->n;
		}
	}
	if (b->len && b->len < b->names_cap) {
		char *fit = realloc(b->names, b->len);

		if (fit) {
			b->names = fit;
			b->names_cap = b->len;
		}
	}
	if (sort_raw(b) < 0)
		return -ENOMEM;
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
	/* Kept for the binary's life, so without the merged aliases'
	 * entries: what sym_elf__memory counts is what is held. A failed
	 * shrink keeps the larger block. */
	if (n < b->n) {
		struct sym_elf_sym *fit = realloc(e->syms, (n ? n : 1) * sizeof(*e->syms));

		if (fit)
			e->syms = fit;
	}
	e->names = b->names;
	e->names_len = b->len;
	b->names = NULL;
	return 0;
}
