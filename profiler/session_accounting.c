/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session_accounting.c — what the session counts and tells: the set of
 * processes seen, the totals for record's summary and the agent's
 * /metrics, and the accounting written into the file's metadata, where
 * every sample the kernel counted is either written or dropped.
 */
#include <string.h>

#include "session-internal.h"


static const struct common_map_type tgid_type = {
	.entry_size = sizeof(uint32_t),
	.key_size = sizeof(uint32_t),
};

/* Out of memory, the process goes uncounted: the count is a summary's. */
void session_note_tgid(struct session *s, uint32_t tgid)
{
	if (tgid)
		(void)common_map__insert(&s->tgids, &tgid_type, &tgid, NULL);
}

/* Retention every maintain_seconds, right after a flush so the store has
 * the whole interval to itself. A failure (a full disk) is counted; the
 * next run tries again. */
/* ---- accounting -------------------------------------------------------- */

void session__write_accounting(struct session *s, struct store_db *db)
{
	struct session_totals t;

	session__totals(s, &t);
	store_db__set_metaf(db, "end_time", "%llu",
			    (unsigned long long)(common_wall_ns() / 1000000000ULL));
	store_db__set_metaf(db, "samples_kernel", "%llu",
			    (unsigned long long)t.sampler[SAMPLER_STAT_SAMPLES]);
	store_db__set_metaf(db, "samples_written", "%llu",
			    (unsigned long long)(t.samples_seen - t.samples_lost_store));
	store_db__set_metaf(db, "samples_dropped", "%llu", (unsigned long long)session_dropped(&t));
	store_db__set_metaf(db, "samples_dwarf", "%llu", (unsigned long long)t.dwarf_samples);
	store_db__set_metaf(db, "leaf_repairs", "%llu", (unsigned long long)t.leaf_repairs);
	store_db__set_metaf(db, "ustack_samples", "%llu", (unsigned long long)t.samples_with_ustack);
	store_db__set_metaf(db, "ustack_complete", "%llu", (unsigned long long)t.ustack_complete);
	store_db__set_metaf(db, "flushes", "%llu", (unsigned long long)t.flushes);
	coverage__write_quality(s->cov, db);
}

uint64_t session_dropped(const struct session_totals *t)
{
	uint64_t n = t->samples_lost_store;

	for (int i = 0; i < SAMPLER_STAT__COUNT; i++)
		if (sampler_stat_is_drop(i))
			n += t->sampler[i];
	return n;
}

uint64_t session__flushes(const struct session *s)
{
	return s->totals.flushes;
}

void session__totals(struct session *s, struct session_totals *ret_totals)
{
	*ret_totals = s->totals;
	ret_totals->processes = common_map__size(&s->tgids);
	ret_totals->pending_memory = aggregate__bytes(s->agg) + aggregate__bytes(s->agg_spare);
	ret_totals->session_memory = common_map__bytes(&s->tgids, &tgid_type) +
				     coverage__memory(s->cov) +
				     s->cap_exited * sizeof(*s->exited) +
				     s->cap_exited_later * sizeof(*s->exited_later);
	ret_totals->memory_trims = budget__trims(s->budget);
	store_db__frame_memo_stats(s->db, &ret_totals->frame_memo_memory,
				   &ret_totals->frame_memo_resets);
	if (s->autou)
		unwind_auto__counts(s->autou, &ret_totals->auto_fp,
				    &ret_totals->auto_fp_kept_dwarf);
	sampler__stats(s->sampler, ret_totals->sampler);
	ret_totals->btf_source = sampler__btf_source(s->sampler, &ret_totals->btf_refused);
	if (sampler__path_stats(s->sampler, ret_totals->path_ns, ret_totals->path_runs) < 0) {
		memset(ret_totals->path_ns, 0, sizeof(ret_totals->path_ns));
		memset(ret_totals->path_runs, 0, sizeof(ret_totals->path_runs));
	}
	sym_session__stats(s->sym, &ret_totals->sym);
	for (int i = 0; i < SYM_REFUSED__COUNT; i++)
		ret_totals->sym.refused[i] += s->refused_before[i];
	session_python__totals(s->python, s->sym, &ret_totals->python);
}

const char *session__flush_error(const struct session *s)
{
	return s->has_flush_error ? s->flush_error : NULL;
}
