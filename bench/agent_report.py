# SPDX-License-Identifier: Apache-2.0
"""agent_report: bench/agent's report and scale projection.

It owns the tables bench/agent prints from its results: per rate, one
column per profiler (CPU, RSS and its slope, data written, samples,
start-up and end of run) with ember's /metrics and bpftrace's key counts
below and the ratios ember/perf and ember/bpftrace; and with
--projection, each profiler's CPU fitted (least squares over a round's
phases) as base + per sample + per new process, projected to 16, 64 and
128 CPUs at 19 Hz. bench/agent runs the profilers and measures.
"""

import os
import statistics

import benchlib
from benchlib import med_range

# ---- report ---------------------------------------------------------------

def fmt(v, digits=1):
    """Thousands grouped; a float of 1000 or more without decimals."""
    if isinstance(v, float) and abs(v) >= 1000:
        digits = 0
    return benchlib.fmt(v, 1, digits, grouping=True)


# (label, key, digits, ratio?)
ROWS = [
    ("CPU, % of one CPU", "cpu_pct", 3, True),
    ("CPU ms per sample (nominal)", "ms_per_sample", 4, True),
    ("CPU over the window, s", "cpu_window_s", 2, True),
    ("CPU at exit, s", "cpu_exit_s", 2, True),
    ("CPU whole life, s", "cpu_total_s", 2, True),
    ("perf report CPU, s", "report_cpu_s", 2, False),
    ("perf report wall, s", "report_wall_s", 2, False),
    ("perf report peak RSS, MiB", "report_rss_mib", 1, False),
    ("pipeline CPU (record + report), s", "pipeline_cpu_s", 2, True),
    ("RSS mean, MiB", "rss_mean_mib", 1, True),
    ("RSS max, MiB", "rss_max_mib", 1, True),
    ("RSS first minute, MiB", "rss_first_min_mib", 1, False),
    ("RSS last minute, MiB", "rss_last_min_mib", 1, False),
    ("RSS slope after 1st minute, MiB/h", "rss_slope_mib_h", 2, False),
    ("peak RSS (whole life), MiB", "peak_rss_mib", 1, True),
    ("file after exit, MB", "data_mb_final", 2, True),
    ("  per minute measured, MB", "data_mb_per_min", 3, True),
    ("on disk during the run, max MB", "disk_max_mb", 2, True),
    ("samples recorded", "samples", 0, False),
    ("start-up (to sampling), s", "startup_s", 2, False),
    ("end of run (SIGINT -> exit), s", "endrun_s", 2, True),
    ("SIGINT sent again (missed)", "sigint_resent", 0, False),
]


def report(results, args):
    print(f"agent: {os.cpu_count()} CPUs, kernel {os.uname().release}; "
          f"workload split --threads {args.threads}"
          + (" + bench/churn at each phase's rate (shortlived --child 4, "
             "/bin/true, sh -c)" if args.projection else
             " + process churn (shortlived, forker, coreutils)"
             if args.churn else "")
          + f"; the profilers run side by side, {args.minutes:g} min "
          f"per rate")
    for r in results:
        hz, names = r["hz"], list(r["tools"])
        print(f"\n== {hz} Hz"
              + (f", churn {r['churn_rate']:g}/s" if args.projection
                 else "") + f", {r['window_s']:.0f} s window, nominal "
              f"{hz * r['cpus'] * r['window_s']:,.0f} samples "
              f"({hz} Hz x {r['cpus']} CPUs)")
        print(f"host: {r['host_busy_pct']:.0f}% busy, "
              f"{r['host_forks_per_s']:.1f} processes started per s, load "
              f"{' '.join(r['loadavg_start'])} -> "
              f"{' '.join(r['loadavg_end'])}")
        others = sorted(set(r["other_samplers_start"] +
                            r["other_samplers_end"]))
        if others:
            print(f"warning: other processes held perf events: "
                  f"{', '.join(others)}")
        w = 14
        print(f"{'':38}" + "".join(f"{n:>{w}}" for n in names))
        for label, key, digits, _ in ROWS:
            cells = [fmt(r["tools"][n].get(key), digits) for n in names]
            if all(c == "-" for c in cells):
                continue
            print(f"{label:38}" + "".join(f"{c:>{w}}" for c in cells))
        e = r["tools"].get("ember")
        if e:
            drops = ", ".join(f"{k} {v:.0f}" for k, v in e["drops"].items()
                              if v) or "none"
            print(f"ember: {e['samples_window']:.0f} samples in the window "
                  f"(/metrics), drops: {drops}; {e['processes']:.0f} "
                  f"processes; symbolizer {(e['sym_mem'] or 0) / 2**20:.1f}"
                  f" MiB; {e['cache_resets']:.0f} cache resets; "
                  f"{e['flushes']:.0f} flushes ({e['flush_errors']:.0f} "
                  f"failed, {e['flush_s_total']:.1f} s in all); user stacks "
                  f"complete {100 * (e['unwind_complete'] or 0):.1f}%, "
                  f"frames named {100 * (e['symbolized'] or 0):.1f}%")
        b = r["tools"].get("bpftrace")
        if b and b.get("keys") is not None:
            print(f"bpftrace: {b['keys']} distinct keys printed, "
                  f"{b['stack_errors']} of them with a stack it could not "
                  f"look up (stack id error, e.g. -17: a collision in its "
                  f"stack map)"
                  + (" (its map's default limit is 4096 keys: when full, "
                     "new stacks are not counted)" if b["keys"] >= 4096
                     else ""))
        if "ember" not in r["tools"]:
            continue
        for peer in ("perf", "bpftrace"):
            if peer not in r["tools"]:
                continue
            print(f"ember/{peer} at {hz} Hz:", ", ".join(
                f"{label.split(',')[0]} {e[key] / r['tools'][peer][key]:.2f}"
                for label, key, _, ratio in ROWS
                if ratio and e.get(key) is not None
                and r["tools"][peer].get(key)))


# ---- scale projection -----------------------------------------------------

PROJECT_CPUS = (16, 64, 128)
PROJECT_CHURN = (10, 50, 200)
PROJECT_HZ = 19


def solve3(m, v):
    """x with m x = v for a 3x3 m (Gaussian elimination, partial pivoting);
    None when m is singular."""
    a = [list(m[i]) + [v[i]] for i in range(3)]
    for c in range(3):
        piv = max(range(c, 3), key=lambda r: abs(a[r][c]))
        if abs(a[piv][c]) < 1e-12:
            return None
        a[c], a[piv] = a[piv], a[c]
        for r in range(3):
            if r != c:
                f = a[r][c] / a[c][c]
                a[r] = [x - f * y for x, y in zip(a[r], a[c])]
    return [a[i][3] / a[i][i] for i in range(3)]


def fit_cost(points):
    """Least squares of CPU s/s = base + per_sample x samples/s +
    per_process x new processes/s over [(samples/s, processes/s, CPU
    s/s)]: (base, per_sample s, per_process s, residual rms), or None."""
    if len(points) < 3:
        return None
    xs = [(1.0, smp, proc) for smp, proc, _ in points]
    m = [[sum(x[i] * x[j] for x in xs) for j in range(3)] for i in range(3)]
    v = [sum(x[i] * y for x, (_, _, y) in zip(xs, points)) for i in range(3)]
    sol = solve3(m, v)
    if sol is None:
        return None
    res = [y - sum(c * xi for c, xi in zip(sol, x))
           for x, (_, _, y) in zip(xs, points)]
    rms = (sum(r * r for r in res) / len(res)) ** 0.5
    return sol[0], sol[1], sol[2], rms


def report_projection(results):
    """Each profiler's CPU split into a base, a cost per sample and a cost
    per new process (least squares over the phases of a round), and what
    that projects for bigger hosts at 19 Hz: medians and ranges over the
    rounds."""
    tools = list(results[0]["tools"])
    rounds = sorted({r.get("round", 0) for r in results})
    w = 26
    print("\n== scale projection: CPU = base + per sample x samples/s + "
          "per new process x processes/s,\n   least squares over the "
          "phases of each round (samples/s = HZ x CPUs; processes/s = the "
          "host's forks, every process started on the host, the other "
          "sessions' included); median (range) over "
          f"{len(rounds)} round(s)")
    print(f"{'phase':18}{'host busy %':>18}{'forks/s':>20}" +
          "".join(f"{t + ' CPU %':>{w}}" for t in tools))
    phases = []
    for r in results:
        key = (r["hz"], r["churn_rate"] or 0)
        if key not in phases:
            phases.append(key)
    for hz, churn in phases:
        rs = [r for r in results if (r["hz"], r["churn_rate"] or 0) ==
              (hz, churn)]
        print(f"{hz:>4} Hz churn {churn:>4g}"
              f"{med_range([r['host_busy_pct'] for r in rs], 1, 0):>18}"
              f"{med_range([r['host_forks_per_s'] for r in rs], 1, 0):>20}" +
              "".join(f"{med_range([r['tools'][t]['cpu_pct'] for r in rs], 1, 3):>{w}}"
                      for t in tools))
    fits = {t: [] for t in tools}
    for rnd in rounds:
        rs = [r for r in results if r.get("round", 0) == rnd]
        for t in tools:
            fits[t].append(fit_cost([
                (r["hz"] * r["cpus"], r["host_forks_per_s"],
                 r["tools"][t]["cpu_window_s"] / r["window_s"])
                for r in rs]))
    print(f"\n{'':34}" + "".join(f"{t:>{w}}" for t in tools))
    rows = (("base, % of one CPU", 0, 100, 3),
            ("per sample, us CPU", 1, 1e6, 2),
            ("per new process, us CPU", 2, 1e6, 1),
            ("fit residual (rms), % of a CPU", 3, 100, 3))
    for label, i, scale, digits in rows:
        print(f"{label:34}" + "".join(
            f"{med_range([f[i] for f in fits[t] if f], scale, digits):>{w}}"
            for t in tools))
    print(f"\nprojected CPU at {PROJECT_HZ} Hz, % of one CPU "
          f"(base + per sample x {PROJECT_HZ} x CPUs + per process x "
          f"churn; each round's fit)")
    peers = [t for t in tools if t != "ember" and "ember" in tools]
    print(f"{'CPUs, churn/s':18}" + "".join(f"{t:>{w}}" for t in tools) +
          "".join(f"{'ember/' + t:>16}" for t in peers))
    for cpus in PROJECT_CPUS:
        for churn in PROJECT_CHURN:
            line = f"{cpus:>4} CPUs, {churn:>3}/s  "
            cost = {t: [(f[0] + f[1] * PROJECT_HZ * cpus + f[2] * churn)
                        if f else None for f in fits[t]] for t in tools}
            for t in tools:
                line += f"{med_range(cost[t], 100, 3):>{w}}"
            # The median of the rounds' ratios (each round's peers ran
            # in the same windows as ember).
            for t in peers:
                ratios = [e / c for e, c in zip(cost["ember"], cost[t])
                          if e is not None and c]
                line += f"{statistics.median(ratios):>16.1f}" if ratios \
                    else f"{'-':>16}"
            print(line)
    return fits
