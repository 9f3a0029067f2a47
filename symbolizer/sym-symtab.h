/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sym-symtab.h — building a binary's symbol table (elf-symtab.c), for
 * elf.c only. A struct sym_symtab starts zeroed; collect its entries from
 * one or more ELF handles, then sym_symtab__finish() moves the sorted
 * table into a sym_elf. The caller frees v and names (what finish did not
 * take: NULL afterwards) whether or not a step failed.
 */
#ifndef EMBER_SYM_SYMTAB_H
#define EMBER_SYM_SYMTAB_H

#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sym_elf;
struct raw_sym;

/* The rank bit of a symbol without a size: such an entry ends at the
 * next entry, within its section. */
#define SYM_RANK_UNSIZED (1u << 28)

struct sym_symtab {
	struct raw_sym *v;  /* the entries, unsorted until finished */
	size_t n, cap;
	char *names;        /* their names, NUL-terminated */
	size_t len, names_cap;
};

/* Adds the function symbols of elf's .symtab, and unless symtab_only of
 * its .dynsym. fd is the file elf reads (names are read from it a window
 * at a time), or -1 for an image in memory. An unreadable table adds
 * nothing. Returns 0, -ENOMEM, or -ENOEXEC (more than MAX_SYMS). */
int sym_symtab__collect(struct sym_symtab *b, Elf *elf, int fd, bool symtab_only);

/* Adds elf's PLT stubs (x86-64) as "NAME@plt", named from the relocations
 * of their GOT slots. fd as for sym_symtab__collect(). Returns 0,
 * -ENOMEM or -ENOEXEC. */
int sym_symtab__collect_plt(struct sym_symtab *b, Elf *elf, int fd);

/* Sorts b, merges aliases, turns sizes into ends, and moves the table and
 * its names into e (e->syms, e->n_syms, e->names, e->names_len). Returns
 * 0 or -ENOMEM (e unchanged). */
int sym_symtab__finish(struct sym_symtab *b, struct sym_elf *e);

#endif
