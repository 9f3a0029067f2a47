/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dwarf.c — the sym_dwarf object: the DWARF line tables and inlined
 * subroutines of one binary (or of its separate debug file), read by our
 * own DWARF 2-5 decoder (dwarf-reader.c). Opening reads the debug sections
 * (dwarf-sections.c) of the file, of its supplementary (dwz) file and of
 * its .dwp, and lists the units and the compile units' address ranges
 * only. A CU's line table (dwarf-lines.c) and scope tree (subprograms and
 * inlined subroutines, nested: dwarf-scopes.c, named by dwarf-names.c) are
 * read on the first lookup that falls into it, a skeleton's from its split
 * unit (dwarf-split.c), and kept as sorted arrays:
 *
 *   lines   address -> (file, line), last row at an address wins (as BFD)
 *   ivals   disjoint address intervals -> innermost scope
 *   scopes  name, call site (file, line) and parent of each scope
 *
 * so a lookup is three binary searches and a walk up the parents. Sits
 * below elf.c's symbol table: the session asks here first for names, lines
 * and inline chains, and falls back to ELF symbols for names.
 *
 * Why not libdwarf: reading a CU's scope tree through one libdwarf call
 * per attribute, with a malloc'd object per DIE, attribute and line row,
 * made a cold lookup slower than addr2line; here a CU is one pass over
 * its bytes (dwarf-scopes.c).
 */
#include "sym-dwarf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* ---- the scratch of reading a unit ---------------------------------------- */

/* The scratch of reading units from the file, between CUs. */
static void windows_free(struct sym_dwarf *d)
{
	struct dw_win *w[] = { &d->win_unit, &d->win_other, &d->win_line };

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		free(w[i]->buf);
		*w[i] = (struct dw_win){ .max = w[i]->max };
	}
	d->other = NULL;
	dw_pidx__fini(d);
}

/* ---- units ------------------------------------------------------------------ */

static int curange_add(struct sym_dwarf *d, uint64_t lo, uint64_t hi, void *arg)
{
	size_t *cap = arg;

	if (COMMON_GROW(d->ranges, *cap, d->n_ranges + 1) < 0)
		return -ENOMEM;
	d->ranges[d->n_ranges++] = (struct dw_curange){
		.lo = lo, .hi = hi, .cu = (uint32_t)(d->main.n_cus - 1),
	};
	return 0;
}

static int curange_cmp(const void *pa, const void *pb)
{
	const struct dw_curange *a = pa, *b = pb;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return a->cu < b->cu ? -1 : a->cu > b->cu;
}

/* The unit DIE of cu: its bases, comp_dir, line table, whether its DIEs
 * are in a .dwo, and (for a compile or skeleton unit of the binary) its
 * address ranges. Returns 0 or -ENOMEM. */
static int unit_die(struct sym_dwarf *d, struct dw_cu *cu, size_t *cap_ranges)
{
	struct dw_die die;
	const char *s;
	int r;

	r = dw_cu__read_unit_die(d, cu, &die);
	if (r <= 0) {
		if (r == 0 && cu->issue)
			d->issues[cu->issue]++;
		return r;
	}
	dw_cu__set_bases(cu, &die);
	s = dw_val__str(d, cu, &die.comp_dir);
	if (s) {
		cu->comp_dir = sym_strings__intern(&d->strings, s, strlen(s));
		if (!cu->comp_dir)
			return -ENOMEM;
	}
	cu->has_lines = die.stmt_list.kind == V_U;
	cu->stmt_list = die.stmt_list.u;
	cu->code = die.tag == DW_TAG_compile_unit || die.tag == DW_TAG_skeleton_unit;
	if (!cu->code || !cap_ranges)
		return 0;
	/* A skeleton (DWARF 5), or GCC's DWARF 4 split unit: the DIEs are in
	 * DW_AT_dwo_name; lines and ranges are here. */
	if (cu->unit_type == DW_UT_skeleton || die.dwo_name.kind != V_NONE) {
		cu->split = true;
		s = dw_val__str(d, cu, &die.dwo_name);
		if (s) {
			cu->dwo_name = sym_strings__intern(&d->strings, s, strlen(s));
			if (!cu->dwo_name)
				return -ENOMEM;
		}
		if (die.dwo_id.kind == V_U) {
			cu->dwo_id = die.dwo_id.u;
			cu->has_dwo_id = true;
		}
		if (die.ranges_base.kind == V_U)
			cu->dwo_ranges_base = die.ranges_base.u;
	}
	r = dw_die__ranges(d, cu, &die, curange_add, cap_ranges);
	return r < 0 ? r : 0;
}

/* Lists the units of f's .debug_info (space: where references into it
 * point), with the compile units' ranges when ranges. Returns 0 or
 * -ENOMEM; a corrupt unit header ends the list. */
static int list_cus(struct sym_dwarf *d, struct dw_file *f, uint32_t space, bool ranges)
{
	const struct dw_sect *info = &f->sec[SEC_INFO];
	size_t cap_cus = 0, cap_ranges = 0;
	uint64_t off = 0, next;
	int r = 0;

	while (off < info->size) {
		struct dw_cu cu;

		r = dw_cu__read_header(d, info, off, &cu, &next);
		if (r < 0) {
			d->issues[SYM_DEBUG_CORRUPT]++;
			break;
		}
		off = next;
		if (r == 0)
			continue;
		if (COMMON_GROW(f->cus, cap_cus, f->n_cus + 1) < 0)
			return -ENOMEM;
		cu.sec = f->sec;
		cu.space = space;
		f->cus[f->n_cus++] = cu;
		r = unit_die(d, &f->cus[f->n_cus - 1], ranges ? &cap_ranges : NULL);
		if (r < 0)
			return r;
	}
	windows_free(d);
	/* Kept for the binary's life: without the growth's slack (libc's
	 * units and ranges held 1.0 MB, up to half of it slack). A failed
	 * shrink keeps the larger block. */
	if (f->n_cus && f->n_cus < cap_cus) {
		struct dw_cu *fit = realloc(f->cus, f->n_cus * sizeof(*f->cus));

		if (fit) {
			f->cus = fit;
			cap_cus = f->n_cus;
		}
	}
	if (ranges && d->n_ranges && d->n_ranges < cap_ranges) {
		struct dw_curange *fit = realloc(d->ranges, d->n_ranges * sizeof(*d->ranges));

		if (fit) {
			d->ranges = fit;
			cap_ranges = d->n_ranges;
		}
	}
	if (d->n_ranges)
		qsort(d->ranges, d->n_ranges, sizeof(*d->ranges), curange_cmp);
	d->bytes += cap_cus * sizeof(*f->cus) + cap_ranges * sizeof(*d->ranges);
	return 0;
}

/* ---- one compile unit ------------------------------------------------------- */

static int cu_load(struct sym_dwarf *d, struct dw_cu *cu)
{
	const struct dw_cu *ucu = cu;  /* the unit whose DIEs are read */
	struct dw_die die;
	struct dw_cur c = { .bad = false };
	int r = 0;

	cu->loaded = true;
	cu->issue = SYM_DEBUG_OK;
	if (!cu->code) {
		cu->failed = true;
		return 0;
	}
	d->n_raw = 0;
	if (cu->has_lines)
		r = dw_lines__read(d, cu, NULL, cu->stmt_list);
	if (r == 0 && cu->split) {
		r = dw_split__begin(d, cu, (size_t)(cu - d->main.cus));
		ucu = r > 0 ? &d->split : NULL;
		/* the .dwo's file table numbers DW_AT_call_file */
		if (ucu && d->split_sec[SEC_LINE].present)
			r = dw_lines__read(d, cu, ucu, 0);
		r = r < 0 ? r : 0;
	}
	if (r == 0 && ucu) {
		r = dw_abbrevs__load(d, &d->ab_cur, ucu);
		if (r == -EINVAL) {
			cu->issue = cu->issue ? cu->issue : SYM_DEBUG_CORRUPT;
			r = 0;
			ucu = NULL;
		}
	}
	if (r == 0 && ucu) {
		d->unit_base = dw_sect__read(&ucu->sec[SEC_INFO], ucu->off, ucu->end - ucu->off,
					     &d->win_unit);
		if (!d->unit_base)
			cu->failed = true;  /* the file shrank under us */
	}
	if (r == 0 && ucu && d->unit_base) {
		d->loading = ucu;
		c = (struct dw_cur){ .p = d->unit_base + (ucu->die_off - ucu->off),
				     .end = d->unit_base + (ucu->end - ucu->off) };
		r = dw_die__read(ucu, &d->ab_cur, &c, &die);
		if (r > 0 && die.children)
			r = dw_scopes__walk(d, ucu, cu, &c);
		r = r < 0 && r != -EINVAL ? r : 0;
		if (c.bad && !cu->issue)
			cu->issue = c.unknown ? SYM_DEBUG_UNKNOWN_FORM : SYM_DEBUG_CORRUPT;
	}
	if (r == 0)
		r = dw_scopes__build_ivals(d, cu);
	d->loading = NULL;
	d->unit_base = NULL;
	windows_free(d);
	dw_split__end(d);
	if (r == -EFBIG) {
		/* Its tables would pass the memory bound (a corrupt or
		 * hostile unit): given up for good, as a corrupt one. */
		dw_cu__drop(cu);
		cu->failed = true;
		d->issues[SYM_DEBUG_CORRUPT]++;
		return 0;
	}
	if (r < 0) {
		/* Out of memory: forget the half-read CU, try again later. */
		dw_cu__drop(cu);
		cu->loaded = false;
		cu->failed = false;
		return r;
	}
	if (cu->issue)
		d->issues[cu->issue]++;
	/* held for the binary's life: no slack */
	shrink((void **)&cu->scopes, cu->n_scopes, sizeof(*cu->scopes));
	cu->cap_scopes = cu->n_scopes;
	shrink((void **)&cu->ivals, cu->n_ivals, sizeof(*cu->ivals));
	d->bytes += cu->n_lines * sizeof(*cu->lines) + cu->n_files * sizeof(*cu->files) +
		    cu->n_call_files * sizeof(*cu->call_files) +
		    cu->cap_scopes * sizeof(*cu->scopes) + cu->n_ivals * sizeof(*cu->ivals);
	return 0;
}

/* ---- the object ---------------------------------------------------------- */

/* The supplementary file: its units, so that references into it find
 * their DIEs. A file without them is one we do not have. */
static int alt_load(struct sym_dwarf *d, int alt_fd)
{
	int fd = fcntl(alt_fd, F_DUPFD_CLOEXEC, 3), r;

	if (fd < 0)
		return -errno;
	r = dw_file__load(d, &d->alt, fd, false);
	if (r == 0 && d->alt.sec[SEC_INFO].present && d->alt.sec[SEC_ABBREV].present)
		r = list_cus(d, &d->alt, SPACE_ALT, false);
	if (r == -ENOMEM)
		return r;
	if (r < 0 || d->alt.n_cus == 0) {
		dw_file__free(&d->alt);
		d->alt_issue = SYM_DEBUG_CORRUPT;
		d->issues[SYM_DEBUG_CORRUPT]++;
	}
	return 0;
}

int sym_dwarf__cost(int fd, uint64_t *ret_bytes)
{
	return dw_file__cost(fd, false, ret_bytes);
}

int sym_dwarf__open_bounded(int fd, const struct sym_dwarf_files *files, uint64_t max_bytes,
			    struct sym_dwarf **ret_dwarf, uint32_t *ret_issues)
{
	uint64_t cost = 0, more;
	struct sym_dwarf *d;
	int dfd, r;

	if (max_bytes == 0)
		max_bytes = SYM_DEFAULT_MAX_MEMORY;
	/* Charged before anything is read or inflated: a section claiming
	 * hundreds of MB from a few hundred KB is refused, not inflated (the
	 * supplementary file and the .dwp are held too). */
	r = dw_file__cost(fd, false, &cost);
	if (r < 0)
		return r;
	if (r == 0 && files && files->alt_fd >= 0 && dw_file__cost(files->alt_fd, false, &more) == 0)
		cost = more > UINT64_MAX - cost ? UINT64_MAX : cost + more;
	if (r == 0 && files && files->dwp_fd >= 0 && dw_file__cost(files->dwp_fd, true, &more) == 0)
		cost = more > UINT64_MAX - cost ? UINT64_MAX : cost + more;
	if (cost > max_bytes)
		return -EFBIG;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->max_bytes = max_bytes;
	d->win_unit.max = d->win_other.max = d->win_line.max = max_bytes;
	d->refused = files ? files->refused : NULL;
	d->main.fd = d->alt.fd = d->dwp.fd = d->dwo.fd = d->root_fd = -1;
	/* kept: units are read from the file when first looked up */
	dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0) {
		r = -errno;
		free(d);
		return r;
	}
	r = dw_file__load(d, &d->main, dfd, false);
	if (r == 0 && files && files->alt_fd >= 0)
		r = alt_load(d, files->alt_fd);
	else if (r == 0 && files && files->alt_issue) {
		d->alt_issue = files->alt_issue;
		d->issues[files->alt_issue]++;
	}
	if (r == 0 && files && files->dwp_fd >= 0) {
		dfd = fcntl(files->dwp_fd, F_DUPFD_CLOEXEC, 3);
		r = dfd < 0 ? -errno : dw_file__load(d, &d->dwp, dfd, true);
		if (r == -ENODATA) {
			dw_file__free(&d->dwp);
			d->issues[SYM_DEBUG_CORRUPT]++;
			r = 0;
		}
	}
	if (r == 0 && files && files->root_fd >= 0) {
		d->root_fd = fcntl(files->root_fd, F_DUPFD_CLOEXEC, 3);
		if (d->root_fd < 0)
			r = -errno;
	}
	if (r == 0 && (!d->main.sec[SEC_INFO].present || !d->main.sec[SEC_ABBREV].present))
		r = -ENODATA;
	if (r == 0)
		r = list_cus(d, &d->main, SPACE_MAIN, true);
	if (r == 0 && d->n_ranges == 0)
		r = -ENODATA;
	if (ret_issues)
		memcpy(ret_issues, d->issues, sizeof(d->issues));
	if (r < 0) {
		sym_dwarf__free(d);
		return r;
	}
	*ret_dwarf = d;
	return 0;
}

int sym_dwarf__open(int fd, const struct sym_dwarf_files *files,
		    struct sym_dwarf **ret_dwarf, uint32_t *ret_issues)
{
	return sym_dwarf__open_bounded(fd, files, 0, ret_dwarf, ret_issues);
}

void sym_dwarf__free(struct sym_dwarf *d)
{
	if (!d)
		return;
	dw_split__end(d);
	dw_file__free(&d->main);
	dw_file__free(&d->alt);
	dw_file__free(&d->dwp);
	free(d->ranges);
	common_map__fini(&d->names);
	free(d->raw);
	free(d->rows);
	free(d->seqs);
	dw_abbrevs__fini(&d->ab_cur);
	dw_abbrevs__fini(&d->ab_other);
	windows_free(d);
	sym_strings__fini(&d->strings);
	if (d->root_fd >= 0)
		close(d->root_fd);
	free(d);
}

const uint32_t *sym_dwarf__issues(const struct sym_dwarf *d)
{
	return d->issues;
}

int sym_dwarf__range(const struct sym_dwarf *d, size_t i, uint64_t *ret_lo,
		     uint64_t *ret_hi)
{
	if (i >= d->n_ranges)
		return -ENOENT;
	*ret_lo = d->ranges[i].lo;
	*ret_hi = d->ranges[i].hi;
	return 0;
}

size_t sym_dwarf__memory(const struct sym_dwarf *d)
{
	const struct dw_abbrevs *ab[2];
	size_t n;

	if (!d)
		return 0;
	ab[0] = &d->ab_cur;
	ab[1] = &d->ab_other;
	n = sizeof(*d) + d->bytes + d->section_bytes + d->strings.bytes +
	    d->cap_raw * sizeof(*d->raw) + d->cap_rows * sizeof(*d->rows) +
	    d->cap_seqs * sizeof(*d->seqs);
	for (size_t i = 0; i < 2; i++)
		n += ab[i]->cap * sizeof(*ab[i]->v) + ab[i]->cap_specs * sizeof(*ab[i]->specs);
	return n;
}

/* ---- lookups --------------------------------------------------------------- */

static struct dw_cu *cu_find(const struct sym_dwarf *d, uint64_t vaddr)
{
	size_t lo = sym_sorted__count_le(d->ranges, d->n_ranges, sizeof(*d->ranges), vaddr);

	for (size_t i = lo, k = 0; i > 0 && k < CU_LOOKBACK; i--, k++)
		if (vaddr < d->ranges[i - 1].hi)
			return &d->main.cus[d->ranges[i - 1].cu];
	return NULL;
}

/*
 * A unit's tables (16 bytes a kept line row, 24 an interval, 32 a scope,
 * its names, the scratch that grows to the largest unit) came to 1.6x its
 * .debug_info bytes over Debian's libc6-dbg (0.9x over ember's own 119
 * units), up to 4.7x (ember) and 7.7x (libc) on single units, mostly
 * small ones; the fixture's one unit of 1,341 bytes 3.8x. So: its bytes
 * (read whole while it is loaded), 4x them, and 16 KB.
 */
#define CU_COST_PER_BYTE 5
#define CU_COST_MIN (16u << 10)

uint64_t sym_dwarf__cu_cost(const struct sym_dwarf *d, uint64_t vaddr)
{
	const struct dw_cu *cu = cu_find(d, vaddr);

	if (!cu || cu->loaded)
		return 0;
	return CU_COST_PER_BYTE * (cu->end - cu->off) + CU_COST_MIN;
}

int sym_dwarf__lookup(struct sym_dwarf *d, uint64_t vaddr,
		      struct sym_dwarf_frame *ret_frames, size_t max)
{
	struct dw_cu *cu = cu_find(d, vaddr);
	const char *file = NULL;
	uint32_t line = 0;
	size_t i, n = 0;
	int64_t s = -1;
	int r;

	if (!cu || max == 0)
		return 0;
	if (!cu->loaded) {
		r = cu_load(d, cu);
		if (r < 0)
			return r;
	}
	if (cu->failed)
		return 0;
	i = sym_sorted__count_le(cu->lines, cu->n_lines, sizeof(*cu->lines), vaddr);
	/* an end-of-sequence row has line 0 and no file */
	if (i > 0 && cu->lines[i - 1].line && cu->lines[i - 1].file != NO_FILE) {
		file = cu->files[cu->lines[i - 1].file];
		line = cu->lines[i - 1].line;
	}
	i = sym_sorted__count_le(cu->ivals, cu->n_ivals, sizeof(*cu->ivals), vaddr);
	if (i > 0 && vaddr - cu->ivals[i - 1].lo < cu->ivals[i - 1].len)
		s = cu->ivals[i - 1].scope;
	ret_frames[n++] = (struct sym_dwarf_frame){
		.name = s >= 0 ? cu->scopes[s].name : NULL,
		.file = file,
		.line = file ? line : 0,
		/* a unit that lost its DIEs (a .dwo missing, a form we do
		 * not know) costs the innermost frame its inline chain */
		.issue = s >= 0 && cu->scopes[s].lost ? d->alt_issue :
			 s >= 0 && cu->scopes[s].unresolved ? SYM_DEBUG_NAME_UNRESOLVED : cu->issue,
	};
	/* Up the inline chain: each caller is at the call site of its callee.
	 * When max is short, the outermost (real) function replaces the last
	 * inlined one kept. */
	while (s >= 0 && cu->scopes[s].inlined && cu->scopes[s].parent >= 0) {
		const struct dw_scope *sc = &cu->scopes[s];
		const struct dw_scope *up = &cu->scopes[sc->parent];
		struct sym_dwarf_frame f = {
			.name = up->name,
			.file = sc->call_file,
			.line = sc->call_file ? sc->call_line : 0,
			.issue = up->lost ? d->alt_issue :
				 up->unresolved ? SYM_DEBUG_NAME_UNRESOLVED : SYM_DEBUG_OK,
		};

		if (n < max)
			ret_frames[n++] = f;
		else
			ret_frames[max - 1] = f;
		s = sc->parent;
	}
	return (int)n;
}
