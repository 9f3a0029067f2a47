/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diff_report.h — `ember diff`'s report (diff_report.c). Private to
 * profiler/.
 */
#pragma once

#include <stdio.h>

#include "compare.h"
#include "diff_args.h"
#include "diff_load.h"

/* The report on out: for a terminal, a pull request, a machine. */
void diff_report__text(FILE *out, const struct diff_args *a, const struct cmp_report *r);
void diff_report__markdown(FILE *out, const struct diff_args *a, const struct cmp_report *r);
void diff_report__json(FILE *out, const struct diff_args *a, const struct cmp_report *r);
/* The web UI's page with the diff tree inline, into a->html. Returns 0,
 * -ECANCELED (the file was refused, and that was said) or -errno. */
int diff_report__html(const struct diff_args *a, const struct diff_side *base,
		      const struct diff_side *head, const struct cmp_report *r);
