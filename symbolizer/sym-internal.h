/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sym-internal.h — private interfaces between the files of the symbolizer
 * module: the string interner (strings.c), the per-binary ELF
 * object (elf.c, its debug files found by debugfile.c, the libelf helpers
 * of elf-sections.c), /proc/PID/maps parsing (maps.c), kallsyms (kernel.c),
 * the DWARF reader (dwarf*.c), and what the unwinder (unwind.c) and the
 * CPython reader (python.c) ask of a session. The session's files
 * (symbolizer.c, process.c, binary.c, frames.c; sym-session.h) tie them
 * into the public sym_session API. Nothing outside symbolizer/ includes
 * this header except the module's own tests and the fuzz entry point.
 */
#pragma once

#include <elf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "map.h"
#include "symbolizer.h"

/* ---- strings.c: interned strings, sorted tables ------------------------ */

/*
 * For an array of n elements of elem_size bytes sorted by a leading uint64_t
 * field (an address), the number of elements whose field is <= key: the
 * candidate covering key, if any, is at index result - 1.
 */
size_t sym_sorted__count_le(const void *base, size_t n, size_t elem_size,
			    uint64_t key);

/* Strings interned, each copied once into arena chunks; pointers stay
 * valid until fini. A zeroed struct is empty. (Its own table, not a
 * common_map: see strings.c.) */
struct sym_string_slot {
	uint64_t hash;
	const char *s;  /* NULL: empty */
};

struct sym_strings {
	struct sym_string_slot *slots;
	size_t cap, n;
	struct sym_chunk *chunks;
	size_t bytes;  /* total interned bytes, for bounding memory */
};

/* Returns the interned copy of s[0..len), or NULL on ENOMEM. */
const char *sym_strings__intern(struct sym_strings *st, const char *s, size_t len);
const char *sym_strings__printf(struct sym_strings *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sym_strings__fini(struct sym_strings *st);

/* ---- file.c: files other users control ----------------------------------- */

/*
 * Where sym_file_open() resolves a path, and where it counts what it
 * refuses. Every file opened on behalf of a profiled process goes through
 * sym_file_open(): binaries, debug files (build-id, .gnu_debuglink, and
 * any other file a debug file names), perf maps, /proc/PID/mem.
 */
struct sym_fs {
	int root_fd;        /* the process's root (an O_PATH directory):
	                       paths resolve inside it as the process sees
	                       them; -1: the profiler's own root (trusted
	                       places: DEBUG_DIR, ROOT/proc; and processes
	                       whose root is the profiler's) */
	uint64_t *refused;  /* SYM_REFUSED__COUNT counters, or NULL */
};

/* sym_file_rules.flags */
enum {
	SYM_FILE_NOFOLLOW = 1 << 0,  /* the file itself may not be a symlink */
	SYM_FILE_OWNER = 1 << 1,     /* owned by root or by rules.owner */
	SYM_FILE_MATCH = 1 << 2,     /* must be the file rules.dev:rules.ino */
	SYM_FILE_PROC_LINK = 1 << 3, /* path is /proc/PID/map_files/A-B (the
	                                kernel's own link): followed */
};

struct sym_file_rules {
	unsigned flags;
	uid_t owner;        /* SYM_FILE_OWNER */
	uint64_t max_size;  /* 0: SYM_FILE_MAX_SIZE */
	dev_t dev;          /* SYM_FILE_MATCH */
	ino_t ino;
};

/* The largest file read on behalf of a process (debug files of big C++
 * programs run to a few GB; a sparse file of a terabyte must not be
 * read, its CRC computed, for an hour). */
#define SYM_FILE_MAX_SIZE (4ULL << 30)
/* How long one whole-file read (a debuglink CRC, a perf map, a cache
 * copy) may take. */
#define SYM_FILE_READ_NS (10ULL * 1000000000ULL)

/*
 * Open path for reading on behalf of a process: O_NONBLOCK (never waits
 * on a FIFO or a lease), resolved in fs->root_fd (see sym_fs; absolute
 * symlinks and ".." stay inside the root, /proc magic links are refused),
 * then checked with fstat: a regular file, within rules->max_size, and
 * what rules->flags ask. rules may be NULL. Returns the fd (O_NONBLOCK,
 * the caller's) and *ret_st (may be NULL), -EPERM when the file was
 * refused (counted in fs->refused), or open's -errno (-ENOENT, -EACCES).
 */
int sym_file_open(const struct sym_fs *fs, const char *path,
		  const struct sym_file_rules *rules, struct stat *ret_st);

/*
 * Opens a debug file other users may control, at path inside fs->root_fd
 * (-1: path as it is), by the rules of sym_file_open() (asserted on the
 * fd): the one place every separate debug file, dwz file, .dwo and .dwp
 * is opened. Returns the fd or -errno (-EPERM: refused, counted in
 * fs->refused).
 */
int sym_debug_open(const struct sym_fs *fs, const char *path);

/* The profiler's own root and mount namespace, learnt once (zero it). */
struct sym_own_root {
	bool known, has_ns;
	dev_t dev, ns_dev;
	ino_t ino, ns_ino;
};

/*
 * Set fs->root_fd to the root of process pid (ROOT/proc/PID/root), or to
 * -1 when that is the profiler's own root in its own mount namespace
 * (own: the session's, filled on first use). Returns 0 or -errno (the
 * process is gone). The caller closes a root_fd >= 0.
 */
int sym_fs__open_root(struct sym_fs *fs, const char *root, pid_t pid,
		      struct sym_own_root *own);

/* Count a refusal in fs (NULL is fine). */
void sym_fs__refuse(const struct sym_fs *fs, enum sym_refusal reason);

/*
 * Read exactly len bytes at off. deadline_ns (CLOCK_MONOTONIC, 0: none)
 * is checked before every read of at most 1 MiB, so a caller reading a
 * file piece by piece passes the same deadline to each call. Returns 0,
 * -EIO (the file is shorter), -EPERM (past the deadline: counted as
 * too-slow in fs), or -errno.
 */
int sym_file_read_at(const struct sym_fs *fs, int fd, void *buf, size_t len, uint64_t off,
		     uint64_t deadline_ns);

/* ---- cfi.c: call frame information for DWARF unwinding ----------------- */

/*
 * Copies of .eh_frame_hdr and .eh_frame with their virtual addresses (each
 * followed by zeroed slack, so whole-word reads at the end are safe), and a
 * count of FDEs that use %rbp as the CFA register.
 */
struct sym_cfi_range {
	uint64_t lo, hi;  /* virtual addresses, hi exclusive */
};

struct sym_cfi {
	uint8_t *hdr;
	uint64_t hdr_vaddr;
	size_t hdr_size;
	uint8_t *eh_frame;
	uint64_t eh_vaddr;
	size_t eh_size;
	size_t fdes, fdes_with_fp;
	struct sym_cfi_range *sig;  /* signal trampolines (CIE "S"), at most 8 */
	size_t n_sig;
	uint64_t serial;  /* this load's, never another's: what the
	                     unwinder's memo of rules knows it by */
};

typedef struct Elf Elf;

/* Fill c from elf. Returns 0 (also when there is no CFI) or -ENOMEM. */
int sym_cfi__load(Elf *elf, struct sym_cfi *c);
void sym_cfi__fini(struct sym_cfi *c);
/* True when at least half of the functions keep a frame pointer. */
bool sym_cfi__has_frame_pointers(const struct sym_cfi *c);
/* True when addr is in one of the n ranges r (signal trampolines, at
 * virtual addresses or at their addresses in a process). */
bool sym_cfi__in_ranges(const struct sym_cfi_range *r, size_t n, uint64_t addr);
/* Read the 8 bytes at vaddr from the copied sections; -ENOENT outside. */
int sym_cfi__read(const struct sym_cfi *c, uint64_t vaddr, uint64_t *ret_word);
/* The start (virtual address) of the function whose FDE covers vaddr,
 * found through .eh_frame_hdr's table: 0 and *ret_lo, or -ENOENT when no
 * FDE covers it or the CFI cannot be read. */
int sym_cfi__function(const struct sym_cfi *c, uint64_t vaddr, uint64_t *ret_lo);

/*
 * How to unwind one frame at vaddr, in the common case: the CFA is %rsp
 * or %rbp plus cfa_off; the return address is saved at CFA + ra_off (or
 * undefined: the outermost frame); %rbp saved at CFA + rbp_off, or kept.
 */
struct sym_cfi_rule {
	bool cfa_rbp;        /* CFA from %rbp, else from %rsp */
	bool ra_undefined;   /* no caller */
	bool rbp_saved;
	int32_t cfa_off, ra_off, rbp_off;
};

/*
 * The rule at vaddr from the FDE that covers it (its CIE's initial
 * instructions, then its own up to vaddr). Returns 0 and *ret, -ENOENT
 * (no FDE covers vaddr, or it cannot be read), -ENOTSUP (a signal
 * frame, a DWARF expression for the CFA, %rbp or the return address,
 * another register as the CFA's, an instruction the fast walk does not
 * know: libunwind's to follow).
 */
int sym_cfi__rule(const struct sym_cfi *c, uint64_t vaddr, struct sym_cfi_rule *ret);

/* ---- compress.c: compressed sections ------------------------------------- */

typedef struct Elf_Scn Elf_Scn;

/* How a section is compressed (filled by sym_section_compression()). */
struct sym_compressed {
	bool compressed;
	bool gnu;            /* .zdebug_*: "ZLIB" and a big-endian size */
	uint32_t type;       /* ELFCOMPRESS_ZLIB, ELFCOMPRESS_ZSTD, ... */
	uint64_t size;       /* inflated size (GNU: read by the inflate) */
	uint64_t align;
	uint64_t data_off;   /* the compressed bytes in the file */
	uint64_t data_len;
};

/*
 * Is the section (named name) compressed, and how: 1 and *ret when it is
 * (SHF_COMPRESSED or .zdebug_*), 0 when not, -EINVAL when its header is
 * unreadable. shdr is the section's header (a GElf_Shdr).
 */
int sym_section_compression(Elf *elf, Elf_Scn *scn, const Elf64_Shdr *shdr,
			    const char *name, struct sym_compressed *ret);

/*
 * The inflated bytes of a compressed section of the file open at fd, of
 * file_size bytes, read with pread: *ret_buf (c->size bytes and a NUL
 * after them, the caller's to free). zlib and zstd. Returns 0,
 * -EPROTONOSUPPORT for another compression, -EINVAL when corrupt (or
 * claiming more than 1100 times its compressed size), -ENOMEM.
 */
int sym_section_inflate(int fd, uint64_t file_size, const Elf64_Shdr *shdr,
			struct sym_compressed *c, uint8_t **ret_buf);

/* ---- elf-sections.c: one ELF file as libelf opens it --------------------- */

/* libelf over the ELF file open at fd, read with pread (ELF_C_READ), or
 * NULL when it is not an ELF file with a readable header. */
Elf *sym_elf_open(int fd);
/* The section called name, with contents in the file, or NULL. */
Elf_Scn *sym_elf_section(Elf *elf, const char *name);
/* The bytes of that section (read by libelf now, valid until elf_end)
 * and *ret_size, or NULL. */
const unsigned char *sym_elf_section_bytes(Elf *elf, const char *name, size_t *ret_size);
/* Has elf DWARF of its own (.debug_info or .zdebug_info)? */
bool sym_elf_has_dwarf(Elf *elf);
/* Bytes a load would read whole from elf and build from it (its symbol
 * tables twice and their strings; unless symtab_only, .dynsym too, the
 * CFI and .gnu_debugdata), from the section headers alone. */
uint64_t sym_elf_cost(Elf *elf, bool symtab_only);
/* The GNU build-id of elf as malloc'ed lowercase hex in *ret_hex (NULL if
 * it has none). Returns 0 or -ENOMEM. */
int sym_elf_read_build_id(Elf *elf, char **ret_hex);

/* ---- debugfile.c (found), dwarf.c (read): the files a binary's DWARF
 * refers to ------------------------------------------------------------- */

/*
 * Found when the binary is loaded, while its process (and so its root)
 * still exists, and kept with the binary: the dwz / DWARF 5
 * supplementary file named by .gnu_debugaltlink or .debug_sup (its
 * build-id checked), PATH.dwp next to the binary, and the root that the
 * .dwo paths of split units resolve in. fds are -1 when absent.
 */
struct sym_dwarf_files {
	int alt_fd;
	uint8_t alt_issue;  /* enum sym_debug_issue: why a named
	                       supplementary file is not alt_fd */
	int dwp_fd;
	int root_fd;        /* O_PATH directory: the process's root, or -1
	                       for ours */
	uint64_t *refused;  /* the session's refusal counters (sym_fs), for
	                       the .dwo files opened later, or NULL */
};

/* Closes the fds and sets them to -1. */
void sym_dwarf_files__close(struct sym_dwarf_files *f);

/* The most bytes of a GNU build-id (or a .debug_sup checksum) read. */
#define SYM_MAX_BUILD_ID 64

/* ---- elf.c: one ELF binary's symbol table ----------------------------- */

/*
 * What the symbolizer keeps of one binary: its PT_LOAD segments (for the
 * file offset -> virtual address conversion), its GNU build-id and a sorted,
 * deduplicated table of function symbols from .symtab, .dynsym and the
 * separate build-id debug file when there is one. Built once and read-only
 * afterwards. The DWARF issue adds line tables and inline trees here.
 */
struct sym_elf_sym {
	uint64_t addr;   /* first: sym_sorted__count_le() searches it */
	uint64_t end;    /* exclusive */
	uint32_t name;   /* offset into sym_elf.names */
	uint32_t rank;   /* lower is a better name among aliases */
};

struct sym_elf_load {
	uint64_t offset;
	uint64_t filesz;
	uint64_t vaddr;
};

struct sym_elf {
	char *build_id;  /* lowercase hex, or NULL */
	struct sym_elf_load *loads;
	size_t n_loads;
	struct sym_elf_sym *syms;
	size_t n_syms;
	char *names;
	size_t names_len;
	bool debug_file;  /* symbols were taken from a separate debug file too */
	bool mini_debug;  /* symbols were taken from .gnu_debugdata too */
	bool syms_later;  /* the table is read on its first lookup
	                     (sym_elf__load_symbols) */
	int dwarf_fd;     /* the file holding .debug_info (this one or its
	                     debug file), or -1 */
	int debug_fd;     /* the separate debug file used, or -1 */
	struct sym_dwarf_files files;  /* what the DWARF refers to */
	struct sym_cfi cfi;
};

/*
 * Where to look for the separate debug file of a binary: debug_dir holds
 * DEBUG_DIR/.build-id/xx/rest.debug and DEBUG_DIR/PATH-DIR/LINK; path is the
 * binary's path as the process sees it, resolved in fs.root_fd (the
 * process's root); .gnu_debuglink files are looked for in PATH-DIR and
 * PATH-DIR/.debug there too. Every file a binary names is opened with
 * sym_debug_open() (debugfile.c), its refusals counted in
 * fs.refused. max_bytes bounds what one load reads whole (0: the default
 * bound). Any pointer may be NULL.
 */
struct sym_elf_where {
	const char *debug_dir;
	struct sym_fs fs;
	uint64_t max_bytes;
	const char *path;
	/* Reloading: use debug_fd (-1: none) instead of looking again. */
	bool have_debug_fd;
	int debug_fd;
	/* The symbol tables are read by sym_elf__load_symbols(), on the
	 * first lookup, not by the load: most binaries of a host's new
	 * processes are never asked for a name (never sampled, or named by
	 * their DWARF). */
	bool symbols_later;
};

/*
 * Load the ELF file open at fd (the fd is not closed; a dup is kept in
 * dwarf_fd when it holds DWARF). Symbols come from the file, from its
 * separate debug file (by build-id, else by .gnu_debuglink with a matching
 * CRC) and from MiniDebugInfo (.gnu_debugdata); DWARF from the file, else
 * from the debug file. where may be NULL (then fs.root_fd must be -1).
 * Returns 0 and *ret_elf, -ENOEXEC for anything that is not a usable ELF
 * file (truncated, corrupt), -EFBIG when its symbol tables and CFI would
 * pass where->max_bytes (counted as over-budget), -ENOMEM, or -EIO.
 */
int sym_elf__load_fd(int fd, const struct sym_elf_where *where,
		     struct sym_elf **ret_elf);
void sym_elf__free(struct sym_elf *e);

/*
 * The symbol tables of e, loaded with where->symbols_later, read now from
 * fd (the binary, as loaded), debug_fd (its separate debug file, -1:
 * none) or its MiniDebugInfo; once (a failure leaves the table empty).
 * fd and debug_fd are not closed. Returns 0 (also when e has its table),
 * -ENOEXEC, -ENOMEM or -EIO.
 */
int sym_elf__load_symbols(struct sym_elf *e, int fd, int debug_fd,
			  const struct sym_elf_where *where);

/*
 * Convert a file offset to the ELF virtual address through the PT_LOAD
 * segment that contains it. Returns 0 and *ret_vaddr, or -ENOENT.
 */
int sym_elf__offset_to_vaddr(const struct sym_elf *e, uint64_t offset,
			     uint64_t *ret_vaddr);

/* Bytes held by e: segments, symbols, names, CFI copies. NULL gives 0. */
size_t sym_elf__memory(const struct sym_elf *e);

/* The name of the function symbol covering vaddr, or NULL. Borrowed. */
const char *sym_elf__lookup(const struct sym_elf *e, uint64_t vaddr);

/* What one load may read whole (where->max_bytes, else the default). */
static inline uint64_t sym_elf_where__max_bytes(const struct sym_elf_where *where)
{
	return where && where->max_bytes ? where->max_bytes : SYM_DEFAULT_MAX_MEMORY;
}

/* ---- debugfile.c: where a binary's debug information is ---------------- */

/* A binary's separate debug file: fd and libelf open on it (ELF_C_READ),
 * and where it was found, for the files its DWARF names relative to it. */
struct sym_debug_file {
	int fd;             /* -1 once taken or closed */
	Elf *elf;
	char path[4096];    /* "" when unknown (where->debug_fd) */
	bool in_root;       /* path is in the process's root */
};

/*
 * The separate debug file of the binary open as self, whose build-id is
 * build_id (lowercase hex, or NULL): where->debug_fd when a previous load
 * chose it (where->have_debug_fd), else DEBUG_DIR/.build-id/xx/rest.debug
 * with that build-id, else the .gnu_debuglink file with its CRC (beside
 * the binary, in .debug/ beside it, under DEBUG_DIR). A file whose
 * symbol table alone would pass the memory bound is passed over (counted
 * over-budget). Returns 1 and *ret (the caller's: close it with
 * sym_debug_file__close()), 0 when there is none, -ENOMEM or -errno.
 */
int sym_debug_file__find(Elf *self, const char *build_id, const struct sym_elf_where *where,
			 struct sym_debug_file *ret);
/* Ends its libelf handle and closes its fd (when not taken). */
void sym_debug_file__close(struct sym_debug_file *f);

/*
 * The files the DWARF at dwarf_fd refers to, found at dwarf_path (in the
 * process's root when dwarf_in_root; "" when unknown): its supplementary
 * file (as its link says, beside it, by build-id or in DEBUG_DIR/.dwz/;
 * or why none is usable, in files->alt_issue), PATH.dwp and the root for
 * .dwo paths when its units are split. Fills the fields of files (which
 * the caller set to -1); returns 0, or -errno when dwarf_fd cannot be
 * duplicated.
 */
int sym_dwarf_files__find(int dwarf_fd, const char *dwarf_path, bool dwarf_in_root,
			 const struct sym_elf_where *where, struct sym_dwarf_files *files);

/*
 * The MiniDebugInfo image of self (.gnu_debugdata, xz), inflated within
 * a quarter of the memory bound (past it: counted over-budget). Returns 1
 * with *ret_elf (libelf over *ret_image: end it, then free the image), 0
 * when there is none or it is unusable, or -ENOMEM.
 */
int sym_mini_debug__open(Elf *self, const struct sym_elf_where *where, Elf **ret_elf,
			 void **ret_image);

/* ---- dwarf.c: DWARF lines and inlined subroutines ------------------ */

struct sym_dwarf;

/* One frame from DWARF; strings are borrowed from the sym_dwarf. */
struct sym_dwarf_frame {
	const char *name;  /* linkage name or name, or NULL */
	const char *file;  /* source file, or NULL */
	uint32_t line;     /* 0 when file is NULL */
	uint8_t issue;     /* enum sym_debug_issue: what this frame lost */
};

/*
 * Open the DWARF of the ELF file at fd (a dup of fd is kept; the CU list is
 * read now, everything else on first use), with the files it refers to
 * (files may be NULL: none; their fds are borrowed, dups are kept).
 * ret_issues (SYM_DEBUG__COUNT counters, or NULL) gets what could not be
 * read at the open, also when it fails. Returns 0 and *ret_dwarf,
 * -ENODATA when the file has no usable DWARF, or -ENOMEM.
 */
int sym_dwarf__open(int fd, const struct sym_dwarf_files *files,
		    struct sym_dwarf **ret_dwarf, uint32_t *ret_issues);

/* No one debug section is held above this (per-section cap). */
#define SYM_DWARF_MAX_SECTION (1ULL << 30)

/*
 * sym_dwarf__open() under a memory bound (0: SYM_DEFAULT_MAX_MEMORY): the
 * sections it would hold, compressed ones at the size they claim
 * inflated, are added up from the section headers first, and over
 * max_bytes (or one over SYM_DWARF_MAX_SECTION) nothing is read:
 * -EFBIG. Afterwards a unit's window and a CU's tables are bounded by it
 * too (a unit over it gives no lines, counted as a corrupt one), and so
 * is each .dwo (refused as over-budget in files->refused). Other returns
 * as sym_dwarf__open().
 */
int sym_dwarf__open_bounded(int fd, const struct sym_dwarf_files *files, uint64_t max_bytes,
			    struct sym_dwarf **ret_dwarf, uint32_t *ret_issues);

/*
 * What sym_dwarf__open_bounded() would charge for the file at fd, from
 * its section headers: 0 and *ret_bytes (UINT64_MAX when one section
 * passes SYM_DWARF_MAX_SECTION), or -ENODATA.
 */
int sym_dwarf__cost(int fd, uint64_t *ret_bytes);
/* What an open holds beyond its sections, made room for with them (not
 * charged: binaries of this pass are not unloaded for it): the object, its
 * unit list, its tables' first capacities (12 KB for the one unit of the
 * unit fixture, 55 KB for ember's 119 units, 85 KB for one C++ unit's
 * abbreviations and names). Counted after the open. */
#define SYM_DWARF_OPEN_BYTES (64u << 10)

/*
 * What reading the compile unit holding vaddr would add to
 * sym_dwarf__memory() at most, estimated from its size in .debug_info
 * (its bytes while it is read, and the tables they become); 0 when it is
 * read already or no unit holds vaddr.
 */
uint64_t sym_dwarf__cu_cost(const struct sym_dwarf *d, uint64_t vaddr);


/* What could not be read so far, per enum sym_debug_issue (units are
 * counted when first looked up). */
const uint32_t *sym_dwarf__issues(const struct sym_dwarf *d);
void sym_dwarf__free(struct sym_dwarf *d);

/*
 * Resolve an ELF virtual address: up to max frames, innermost (inlined)
 * first, the real function last; each caller's file:line is the call site.
 * Returns the number of frames (0 when no CU covers vaddr; a single frame
 * may have a NULL name but a line), or -ENOMEM.
 */
int sym_dwarf__lookup(struct sym_dwarf *d, uint64_t vaddr,
		      struct sym_dwarf_frame *ret_frames, size_t max);

/* The i-th compile unit address range [*ret_lo, *ret_hi), in address
 * order. Returns 0, or -ENOENT past the last one. */
int sym_dwarf__range(const struct sym_dwarf *d, size_t i, uint64_t *ret_lo,
		     uint64_t *ret_hi);

/*
 * Structure layouts (dwarf-layout.c, for python.c): the DIE offsets of the definitions of
 * the structures, unions or typedefs (resolved to what they name) called
 * names[0..n), 0 for those not found, in ret_offs (n entries); the byte
 * size of a type; the offset of a member (a path of member names joined
 * with '.', nested structures added up) in a structure. Return 0, -ENOENT
 * (no such type, size or member), -EINVAL (corrupt) or -ENOMEM.
 */
int sym_dwarf__find_types(struct sym_dwarf *d, const char *const *names, size_t n,
			  uint64_t *ret_offs);
int sym_dwarf__type_size(struct sym_dwarf *d, uint64_t type, uint64_t *ret_size);
int sym_dwarf__member_offset(struct sym_dwarf *d, uint64_t type, const char *path,
			     uint64_t *ret_off);

/* Bytes held by d: tables, strings, and the debug sections kept in
 * memory (all but .debug_info and .debug_line, which are read a unit at
 * a time, unless compressed). */
size_t sym_dwarf__memory(const struct sym_dwarf *d);

/* ---- demangle.c ------------------------------------------------------- */

/* The demangled form of a C++ or Rust name (caller frees), or NULL when
 * name is not mangled or cannot be demangled. */
char *sym_demangle(const char *name);
/* The same, without the return type a template function's name begins
 * with: the function as the scope of what is declared in it, as in
 * "f<int>(int)::{lambda(int)#1}". */
char *sym_demangle_scope(const char *name);

/* ---- perfmap.c: JIT symbols from /tmp/perf-PID.map --------------------- */

struct sym_perfmap;

/* Lines longer than this are skipped (real ones are well under 1 KiB). */
#define SYM_PERFMAP_MAX_LINE 4096

/*
 * Read the perf map open at fd ("START SIZE NAME" per line, hex): at most
 * its last max_bytes (the newest code), lines longer than
 * SYM_PERFMAP_MAX_LINE skipped, within SYM_FILE_READ_NS; a cut is counted
 * as too-big in fs, a read past its time as too-slow. Malformed lines are
 * skipped. Returns 0 and *ret_map, -EPERM (too slow), -ENOMEM or -errno.
 */
int sym_perfmap__read_fd(int fd, uint64_t max_bytes, const struct sym_fs *fs,
			 struct sym_perfmap **ret_map);
/* Bytes m holds (0 for NULL). */
size_t sym_perfmap__memory(const struct sym_perfmap *m);
void sym_perfmap__free(struct sym_perfmap *m);
/* The name covering addr, or NULL. Borrowed. */
const char *sym_perfmap__lookup(const struct sym_perfmap *m, uint64_t addr);

/* ---- maps.c: /proc/PID/maps ------------------------------------------- */

enum sym_map_kind {
	SYM_MAP_FILE = 0,
	SYM_MAP_VDSO,
	SYM_MAP_VSYSCALL,
	SYM_MAP_ANON,     /* anonymous executable memory (JIT) */
	SYM_MAP_SPECIAL,  /* another "[...]" mapping, e.g. [uprobes] */
};

struct sym_maps_entry {
	uint64_t start;
	uint64_t end;
	uint64_t offset;
	uint64_t inode;
	unsigned dev_major;
	unsigned dev_minor;
	bool deleted;       /* path ended in " (deleted)" (suffix removed) */
	enum sym_map_kind kind;
	char *path;         /* owned; "" for anonymous mappings */
};

/*
 * Parse one line of a maps file, line[0..len) without its newline. Returns 1
 * and *ret_entry (path owned by the caller) for an executable mapping, 0 for
 * a line to skip (not executable), -EINVAL for a malformed line, or -ENOMEM.
 */
int sym_maps__parse_line(const char *line, size_t len,
			 struct sym_maps_entry *ret_entry);

/*
 * Read ROOT/proc/PID/maps and return its executable mappings sorted by start.
 * *buf (capacity *buf_cap; NULL and 0 at first) holds the file's text and is
 * kept for the next call; the caller frees it. Returns 0, -ESRCH (no such
 * process), -EACCES, or -ENOMEM.
 */
int sym_maps__read(const char *root, pid_t pid, char **buf, size_t *buf_cap,
		   struct sym_maps_entry **ret_entries, size_t *ret_n);

/*
 * The same in two steps, for a process read several times: open its maps
 * file (0 and *ret_fd, the caller's to close, or an error as above), then
 * read through the fd as often as needed. The fd stays bound to the
 * address space it was opened on: after the process's exec, or its exit,
 * a read gives -ESRCH, and only a new open tells the two apart.
 */
int sym_maps__open(const char *root, pid_t pid, int *ret_fd);
int sym_maps__read_fd(int fd, char **buf, size_t *buf_cap,
		   struct sym_maps_entry **ret_entries, size_t *ret_n);
void sym_maps__free(struct sym_maps_entry *entries, size_t n);
/* Tests: read the maps file's text even where PROCMAP_QUERY works. */
extern bool sym_maps_no_query;

/* ---- the session (process.c, binary.c), for unwind.c -------------------- */

struct sym_session;
struct sym_binary;

/*
 * The binary mapped at addr in pid (snapshotting or refreshing the process
 * as sym_session__user does): its ELF object, the binary (for
 * sym_binary__read(); ret_bin may be NULL), the bias to add to its virtual
 * addresses to get addresses in the process, and the executable mapping's
 * range. Returns 0, or -ENOENT (no file-backed mapping with a usable ELF).
 */
int sym_session__locate(struct sym_session *s, pid_t pid, uint64_t addr,
			const struct sym_elf **ret_elf, struct sym_binary **ret_bin,
			uint64_t *ret_bias, uint64_t *ret_start, uint64_t *ret_end);

/*
 * The binary whose image (its PT_LOAD segments' file contents, all of
 * them: ld.so maps an object's segments with one bias) covers addr in
 * pid, and that bias: for the words the unwinder reads outside the
 * executable mappings the snapshot lists (.eh_frame, .data.rel.ro).
 * Binaries evicted since the process was snapshotted, whose bias was never
 * needed, are not looked at. Returns 0, or -ENOENT.
 */
int sym_session__locate_image(struct sym_session *s, pid_t pid, uint64_t addr,
			      struct sym_binary **ret_bin, uint64_t *ret_bias);

/*
 * The 8 bytes at ELF virtual address vaddr of bin as its file maps them
 * into a process: from the CFI copies, else from the file contents of the
 * PT_LOAD segment holding vaddr (.text, .rodata, .data.rel.ro, .got,
 * .data: the bytes before relocation), read from the binary's kept fd
 * through a few cached blocks accounted to the binary. A word running
 * past the segment's file contents reads zeros there. Returns 0 and
 * *ret_word, -ENOENT (vaddr in no segment's file contents: .bss, heap,
 * another binary), -EIO (the file could not be read) or -ENOMEM.
 */
int sym_binary__read(struct sym_session *s, struct sym_binary *bin, uint64_t vaddr,
		     uint64_t *ret_word);

/*
 * The signal trampolines of pid's binaries (sym_cfi.sig) at their
 * addresses in the process, found on first need after each change of its
 * mappings. Borrowed until the next snapshot of pid. Returns 0, -ENOENT
 * (no snapshot) or -ENOMEM.
 */
int sym_session__signal_ranges(struct sym_session *s, pid_t pid,
			       const struct sym_cfi_range **ret_ranges, size_t *ret_n);

/* process.c: the generation of pid's maps (changes whenever they are
 * read anew and differ: an exec; 0 without a snapshot). */
uint64_t sym_session__maps_generation(const struct sym_session *s, pid_t pid);

/* process.c: reads the unwinder asked for that nothing could serve. */
void sym_session__count_unserved(struct sym_session *s, uint64_t reads);
/* process.c: a word the unwinder did not get, told to the session's
 * unwind_trace (if any) with what pid's snapshot holds at miss->addr
 * (the fields after frame_ip are filled here). */
void sym_session__trace_miss(struct sym_session *s, struct sym_unwind_miss *miss);
/* A stack walked by the fast rules (unwind.c), for sym_stats. */
void sym_session__count_fast_unwind(struct sym_session *s);
/* Tests: every stack through libunwind (unwind.c). */
extern bool sym_unwind_fast_off;

/* unwind.c: drop libunwind's cached frames of pid (exit, forget), or of
 * every process of s when pid is 0 (s ends). A new snapshot of pid's maps
 * (an exec) is seen by its generation (sym_session__maps_generation). */
void sym_unwind__forget(const struct sym_session *s, pid_t pid);
/* Bytes the unwinder holds, every thread's: libunwind's address spaces
 * (created on first use, kept for reuse until the process exits) and the
 * memos of rules (bounded); *ret_resets (when not NULL): the times a memo
 * was emptied for its bound. */
uint64_t sym_unwind__memory(uint64_t *ret_resets);

/* ---- process.c, for python.c --------------------------------------------- */

/*
 * A table of objects by pid, each owned by the table's user (process.c's
 * snapshots, python.c's processes): a common_map of struct sym_pid_slot.
 * sym_pid_map__add returns pid's object, else a new one of size bytes,
 * zeroed (*ret_new says which), or NULL without memory (the table
 * unchanged). sym_pid_map__remove takes pid's object out and returns it
 * (the caller frees it), or NULL.
 */
struct sym_pid_slot {
	pid_t pid;
	void *obj;
};

static const struct common_map_type sym_pid_type = {
	.entry_size = sizeof(struct sym_pid_slot),
	.key_size = sizeof(pid_t),
};

static inline void *sym_pid_map__find(const struct common_map *m, pid_t pid)
{
	const struct sym_pid_slot *e = common_map__find(m, &sym_pid_type, &pid);

	return e ? e->obj : NULL;
}

void *sym_pid_map__add(struct common_map *m, pid_t pid, size_t size, bool *ret_new);
void *sym_pid_map__remove(struct common_map *m, pid_t pid);

/*
 * The i-th file-backed executable mapping of pid (snapshotting it first
 * as sym_session__user does): its path, its binary's kept fd (-1 when the
 * file could not be opened) and its start. Returns 0, -ENOENT past the
 * last one, -ESRCH (no snapshot of pid) or -ENOMEM.
 */
int sym_session__mapping(struct sym_session *s, pid_t pid, size_t i,
			 const char **ret_module, int *ret_fd, uint64_t *ret_start);

/* The DWARF of the binary mapped at addr in pid (from its debug file
 * when it has one), or NULL. Borrowed: valid until the next call into
 * the session. */
struct sym_dwarf;
struct sym_dwarf *sym_session__dwarf_at(struct sym_session *s, pid_t pid, uint64_t addr);

/* s[0..len) interned in the session (valid until it is freed), or NULL. */
const char *sym_session__intern(struct sym_session *s, const char *str, size_t len);

/* python.c's state in the session (NULL until python.c makes it). */
struct sym_py;
struct sym_py **sym_session__py(struct sym_session *s);
void sym_py__free(struct sym_py *py);
void sym_py__forget(struct sym_py *py, pid_t pid);


/* ---- cache.c: the on-disk cache ----------------------------------------- */

/* mkdir -p with mode 0755. Returns 0 or -errno. */
int sym_cache__mkdirs(const char *path);
/* A new temporary file in dir (created if missing): returns its fd and
 * *ret_tmp_path (the caller's), or -errno. */
int sym_cache__create(const char *dir, char **ret_tmp_path);
/* Makes the temporary file durable, gives it mode and renames it to path;
 * closes fd and frees tmp_path whatever happens. Returns 0 or -errno (then
 * it is gone). */
int sym_cache__commit(int fd, char *tmp_path, const char *path, mode_t mode);
/* Closes and removes a temporary file that will not be committed. */
void sym_cache__abandon(int fd, char *tmp_path);

/*
 * The uncompressed copy of the debug file open at fd, whose build-id is
 * build_id (lowercase hex), in CACHE_DIR/debug/: opened when present and
 * valid, else written when fd has compressed DWARF sections (keeping the
 * copies under max_bytes, 0 for the default) and writing it costs no
 * more than max_memory (the file and its sections inflated, in memory).
 * Returns 0 (found) or 1 (written) with *ret_fd, the caller's; -ENOENT
 * when there is nothing to cache (no cache_dir or build-id, nothing
 * compressed); -EFBIG when inflating would pass max_memory (nothing is
 * written); other -errno when the cache could not be used (the caller
 * reads fd).
 */
int sym_cache__debug_copy(const char *cache_dir, uint64_t max_bytes, const char *build_id,
			  int fd, uint64_t max_memory, int *ret_fd);

/* ---- kernel.c: /proc/kallsyms ----------------------------------------- */

struct sym_kernel;

/*
 * Load ROOT/proc/kallsyms (root "" for the host). With cache_dir, the core
 * kernel's and the modules' symbols come from CACHE_DIR/kallsyms/BOOT-ID
 * (the boot id read from ROOT/proc/sys/kernel/random/boot_id) when present
 * and ROOT/proc/modules lists the modules it was written with, else are
 * written there after the parse (and mapped from it); *ret_cache says
 * what happened: 0 no cache, 1 read from it, 2 written, -1 it failed (the
 * file was parsed). Returns 0 and *ret_kernel, -ENOENT/-EACCES when it
 * cannot be read, -ENODATA when it holds no usable address (kptr_restrict),
 * or -ENOMEM.
 */
int sym_kernel__load(const char *root, const char *cache_dir, struct sym_kernel **ret_kernel,
		     int *ret_cache);
void sym_kernel__free(struct sym_kernel *k);
/* Bytes the table holds (0 for NULL). */
size_t sym_kernel__memory(const struct sym_kernel *k);

/*
 * Look addr up. Returns 0 and the borrowed *ret_name and *ret_module (NULL
 * for the core kernel) and *ret_offset (addr minus the symbol's start), or
 * -ENOENT. An address outside the core kernel and the modules of a table
 * read from the cache makes it read the rest of kallsyms (the symbols
 * outside those), once.
 */
int sym_kernel__lookup(struct sym_kernel *k, uint64_t addr,
		       const char **ret_name, const char **ret_module,
		       uint64_t *ret_offset);
