/* SPDX-License-Identifier: Apache-2.0 */
/*
 * elf.c — one binary read into a sym_elf: its PT_LOAD segments (file
 * offset -> virtual address), its GNU build-id, its function symbols
 * (.symtab, .dynsym, names for the PLT stubs, "memcpy@plt" from the
 * relocations; the .symtab of its separate debug file and of its
 * MiniDebugInfo image, which debugfile.c finds), gathered and sorted
 * once by elf-symtab.c so that lookups are a binary search, its CFI
 * copies (cfi.c), and the
 * file whose DWARF dwarf*.c will read, kept open with the files that
 * DWARF refers to. Sits between maps (which say which file an address
 * belongs to) and the session (which names frames); above debugfile.c,
 * elf-sections.c and cfi.c.
 *
 * Invariants:
 * - Files are read with libelf's ELF_C_READ (pread, never mmap:
 *   sym_elf_open()), so a file truncated under us is an error, not
 *   SIGBUS; everything kept is copied out before elf_end().
 * - What a load reads (symbol tables and their strings, CFI,
 *   MiniDebugInfo) is charged against where->max_bytes from the section
 *   headers before libelf reads it; elf-symtab.c bounds the symbols per
 *   table and reads a string table in the file a window at a time.
 * - After a load the table is sorted by address, one entry per address
 *   (aliases merged into the best-ranked name), each name a NUL-
 *   terminated string inside names; an unsized symbol ends at or before
 *   the next entry (sized ones may nest: a lookup looks back LOOKBACK
 *   entries), and an entry whose end is not above its address covers
 *   nothing. There is at least one PT_LOAD segment with file contents.
 *   All asserted at the end of the load (one pass over the table). The
 *   table is read-only from then on.
 */
#include "sym-internal.h"
#include "sym-symtab.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* Nested symbols (a local label symbol inside a bigger function) are found
 * by looking back this far from the nearest lower symbol. */
#define LOOKBACK 8

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
#ifndef NDEBUG
/* The invariants of a loaded table (see the top of this file). */
static bool table_ok(const struct sym_elf *e)
{
	if (e->n_loads == 0 || (e->n_syms && (!e->names_len || e->names[e->names_len - 1])))
		return false;
	for (size_t i = 0; i < e->n_loads; i++)
		if (!e->loads[i].filesz)
			return false;
	for (size_t i = 0; i < e->n_syms; i++) {
		const struct sym_elf_sym *s = &e->syms[i];

		if (s->name >= e->names_len || (i + 1 < e->n_syms && s->addr >= s[1].addr) ||
		    ((s->rank & SYM_RANK_UNSIZED) && i + 1 < e->n_syms && s->end > s[1].addr))
			return false;
	}
	return true;
}
#endif

/*
 * The debug file found for e (by debugfile.c): its .symtab, and its DWARF
 * when the binary has none (*dwarf_path and *dwarf_in_root then say
 * where it was found). Takes dbg->fd as e->debug_fd, so the binary can be
 * loaded again without looking for it.
 */
static int use_debug_file(struct sym_debug_file *dbg, struct sym_elf *e, struct sym_symtab *b,
			  const char **dwarf_path, bool *dwarf_in_root)
{
	int r = b ? sym_symtab__collect(b, dbg->elf, dbg->fd, true) : 0;

	if (r < 0)
		return r;
	e->debug_file = true;
	e->debug_fd = dbg->fd;
	dbg->fd = -1;
	if (e->dwarf_fd < 0 && sym_elf_has_dwarf(dbg->elf)) {
		e->dwarf_fd = fcntl(e->debug_fd, F_DUPFD_CLOEXEC, 3);
		if (e->dwarf_fd < 0)
			return -errno;
		*dwarf_path = dbg->path;
		*dwarf_in_root = dbg->in_root;
	}
	return 0;
}

/* The .symtab of the MiniDebugInfo image, when there is one. */
static int use_mini_debug(Elf *elf, const struct sym_elf_where *where, struct sym_elf *e,
			  struct sym_symtab *b)
{
	Elf *mini = NULL;
	void *image = NULL;
	int r = sym_mini_debug__open(elf, where, &mini, &image);

	if (r <= 0)
		return r;
	r = sym_symtab__collect(b, mini, -1, true);
	if (r == 0)
		e->mini_debug = true;
	elf_end(mini);
	free(image);
	return r;
}

int sym_elf__load_fd(int fd, const struct sym_elf_where *where,
		     struct sym_elf **ret_elf)
{
	struct sym_debug_file dbg = { .fd = -1 };
	struct sym_symtab b = { 0 };
	struct sym_elf *e = NULL;
	const char *dwarf_path = "";
	bool dwarf_in_root = false, later;
	Elf *elf = NULL;
	int r;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EIO;
	elf = sym_elf_open(fd);
	if (!elf)
		return -ENOEXEC;
	if (sym_elf_cost(elf, false) > sym_elf_where__max_bytes(where)) {
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
	later = where && where->symbols_later;
	r = later ? 0 : sym_symtab__collect(&b, elf, fd, false);
	if (r == 0 && !later)
		r = sym_symtab__collect_plt(&b, elf, fd);
	if (r < 0)
		goto fail;
	if (sym_elf_has_dwarf(elf)) {
		e->dwarf_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (e->dwarf_fd < 0) {
			r = -errno;
			goto fail;
		}
		if (where && where->path) {
			dwarf_path = where->path;
			dwarf_in_root = true;
		}
	}
	r = sym_debug_file__find(elf, e->build_id, where, &dbg);
	if (r > 0)
		r = use_debug_file(&dbg, e, later ? NULL : &b, &dwarf_path, &dwarf_in_root);
	/* a reload keeps what the first load found (the binary has it) */
	if (r >= 0 && e->dwarf_fd >= 0 && !(where && where->have_debug_fd))
		r = sym_dwarf_files__find(e->dwarf_fd, dwarf_path, dwarf_in_root, where, &e->files);
	/* MiniDebugInfo only without a debug file, whose .symtab has it all */
	if (r >= 0 && !e->debug_file && !later)
		r = use_mini_debug(elf, where, e, &b);
	sym_debug_file__close(&dbg);
	if (r < 0)
		goto fail;
	e->syms_later = later;
	r = later ? 0 : sym_symtab__finish(&b, e);
	if (r < 0)
		goto fail;
	r = sym_cfi__load(elf, &e->cfi);
	if (r < 0)
		goto fail;
	assert(table_ok(e));
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

int sym_elf__load_symbols(struct sym_elf *e, int fd, int debug_fd,
			  const struct sym_elf_where *where)
{
	struct sym_symtab b = { 0 };
	Elf *elf = NULL, *dbg = NULL;
	int r;

	if (!e->syms_later)
		return 0;
	e->syms_later = false;
	elf = sym_elf_open(fd);
	if (!elf)
		return -ENOEXEC;
	r = sym_symtab__collect(&b, elf, fd, false);
	if (r == 0)
		r = sym_symtab__collect_plt(&b, elf, fd);
	/* The debug file the load chose, else the MiniDebugInfo (as the
	 * load would have taken them). */
	if (r == 0 && debug_fd >= 0 && e->debug_file) {
		dbg = sym_elf_open(debug_fd);
		r = dbg ? sym_symtab__collect(&b, dbg, debug_fd, true) : 0;
	} else if (r == 0 && !e->debug_file) {
		r = use_mini_debug(elf, where, e, &b);
	}
	/* The names are copied out: libelf's copies of the symbol and
	 * string tables go before the sort's and the table's memory is
	 * taken (on a whole host, 26 of 153 MiB of record's peak were a big
	 * C++ binary's .strtab and .symtab beside its sorted table). */
	if (dbg)
		elf_end(dbg);
	elf_end(elf);
	if (r == 0)
		r = sym_symtab__finish(&b, e);
	if (r == 0)
		assert(table_ok(e));
	free(b.names);
	free(b.v);
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
