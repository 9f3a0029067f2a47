# SPDX-License-Identifier: Apache-2.0
"""The fleet store's retention, run by the server side (`ember
fleet-maintain`), on Debian's ClickHouse 18.16 (servers of the test's own,
tests/integration/clickhouse.py): a single server, and a cluster of two
shards behind Distributed tables.

The samples are rows as agents ship them (one per bucket, label set and
stack; the shipment's batch id on the first row of each shipment), at four
ages: 40 days (past the 30-day limit), 8 days (1 h buckets), 2 days (1 min
buckets) and the last hour (kept as it is), with drops.

1. One run drops the 40-day-old day partitions of samples and drops,
   merges the 8-day-old buckets into hours and the 2-day-old ones into
   minutes: every sum per host, process, stack and coarse bucket is what it
   was (downsampling never changes a sum), `ember report` on the store
   gives the same folded totals, after ClickHouse's merges the old ranges
   hold only coarse rows (and the rows that name a shipment: the agents'
   exactly-once lookups find them still), the last hour is untouched. A
   second run merges nothing and changes nothing.
2. Two maintainers at once on new old rows: totals exact (a host's day is
   one statement with a fixed query id; the second is refused while the
   first runs, and finds nothing left after). `ember serve --store
   --maintain` runs it at its start.
3. The cluster: without --shard a clear message; with both shards the
   same guarantees, the partitions dropped on each shard.
4. A store of an older schema: `ember report` and `ember fleet-maintain`
   say which version they found and what to do.
5. The daily roll-ups (after 1 and 3): the fleet's roll-up of each day
   is its samples' sums over the hosts; `ember report` over whole days, a
   range with edges, the whole store, all hosts and one (by name, by a
   regex), gives exactly the samples' sums; a row added to either
   roll-up shows in a fresh day (the read takes it: all hosts from the
   fleet's, one host from the hosts'), a sample shipped late into the day makes it stale
   (read from the samples, exact) until the maintainer's next run rolls
   it up again.
"""
import collections
import os
import random
import subprocess
import time

from embertest import EMBER, check, fail
import clickhouse as chs

if not chs.available():
    fail(f"{chs.SERVER} is missing: scripts/lib.sh installs clickhouse-server")

NOW = int(time.time())
HOUR = 3600
DAY = 86400
rng = random.Random(17)

# stacks: (id, frame ids); frames: (id, function); functions: (id, name)
FUNCS = [(101, "main"), (102, "work"), (103, "parse"), (104, "hash")]
FRAMES = [(201, 101), (202, 102), (203, 103), (204, 104)]
STACKS = [(301, [201]), (302, [201, 202]), (303, [201, 202, 203]), (304, [201, 204])]
LABELSETS = [("api", 10, "api", 11), ("api", 10, "worker", 12), ("db", 20, "db", 21)]


def period_start(age):
    """an hour-aligned start about age seconds ago"""
    return (NOW - age) // HOUR * HOUR


PERIODS = {"40d": period_start(40 * DAY), "8d": period_start(8 * DAY + 2 * HOUR),
           "2d": period_start(2 * DAY + 2 * HOUR), "now": period_start(HOUR)}
BUCKETS = 90  # 15 minutes of 10 s buckets


def rows_for(hosts, start, buckets=BUCKETS):
    """TabSeparated samples rows, and drops rows"""
    out, drops = [], []
    for host in hosts:
        for b in range(buckets):
            t = start + 10 * b
            batch = rng.randrange(1, 2**63)
            first = True
            for proc, pid, thread, tid in LABELSETS:
                for stack, _ in STACKS:
                    if rng.random() < 0.3:
                        continue
                    n = rng.randrange(1, 6)
                    out.append(f"{t}\t10\t{host}\t{proc}\t{pid}\t{thread}\t{tid}\t0\t[]\t[]\t"
                               f"{stack}\t{n}\t{batch if first else 0}")
                    first = False
            if b % 30 == 0:
                drops.append(f"{t}\t10\t{host}\t0\tring-full\t{b + 1}\t{batch}")
                drops.append(f"{t}\t10\t{host}\t1\tdwarf-samples\t{b + 2}\t{batch}")
    return "\n".join(out) + "\n", "\n".join(drops) + "\n"


def load(server, hosts, periods, **settings):
    server.query("INSERT INTO ember.functions (function, name, module, file) FORMAT TabSeparated",
                 "".join(f"{i}\t{n}\tapp\t\n" for i, n in FUNCS), **settings)
    server.query("INSERT INTO ember.frames (frame, function, line, kind, build_id, file_offset) "
                 "FORMAT TabSeparated", "".join(f"{i}\t{f}\t0\t0\t\t0\n" for i, f in FRAMES),
                 **settings)
    server.query("INSERT INTO ember.stacks (stack, frames) FORMAT TabSeparated",
                 "".join(f"{i}\t[{','.join(map(str, fr))}]\n" for i, fr in STACKS), **settings)
    for p in periods:
        samples, drops = rows_for(hosts, PERIODS[p])
        server.query("INSERT INTO ember.samples_in (time, duration, host, process, pid, thread, tid, "
                     "cgroup, label_keys, label_values, stack, count, batch) FORMAT TabSeparated",
                     samples, **settings)
        server.query("INSERT INTO ember.drops (time, duration, host, kind, reason, count, batch) "
                     "FORMAT TabSeparated", drops, **settings)


def sums(server, step, start, end):
    """sum(count) per (host, process, stack, bucket of step) in [start, end)"""
    return {tuple(r[:4]): int(r[4]) for r in server.rows(
        f"SELECT host, process, stack, intDiv(toUInt32(time), {step}) AS k, sum(count) AS n "
        f"FROM ember.samples WHERE time >= toDateTime({start}) AND time < toDateTime({end}) "
        "GROUP BY host, process, stack, k HAVING n != 0")}


def totals(server):
    return {h: int(n) for h, n in server.rows(
        "SELECT host, sum(count) FROM ember.samples GROUP BY host")}


def fine_rows(server, local, start, end, step):
    """rows finer than step that name no shipment in [start, end), after the merges"""
    return int(server.rows(f"SELECT count() FROM ember.samples{local} WHERE time >= "
                           f"toDateTime({start}) AND time < toDateTime({end}) AND duration < {step} "
                           "AND batch = 0")[0][0])


def maintain(url, *extra, ok=True):
    r = subprocess.run([EMBER, "fleet-maintain", url, *extra], capture_output=True, text=True,
                       timeout=600)
    if ok and r.returncode != 0:
        fail(f"ember fleet-maintain {url}: {r.stderr.strip()}")
    return r


def report_total(url):
    r = subprocess.run([EMBER, "report", url, "--format", "folded"], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"ember report {url}: {r.stderr.strip()}")
    return sum(int(line.rpartition(" ")[2]) for line in r.stdout.splitlines())


def prepare_single(server):
    r = subprocess.run([EMBER, "fleet-init", server.url()], capture_output=True, text=True)
    check(r.returncode == 0, f"fleet-init on a single server: {r.stdout.strip()} {r.stderr.strip()}")


def check_store(server, hosts, url, local="", shards=(), what=""):
    """Case 1 on server (or a cluster's entry)."""
    end_of = {p: PERIODS[p] + BUCKETS * 10 for p in PERIODS}
    hour_before = sums(server, HOUR, PERIODS["8d"], end_of["8d"])
    min_before = sums(server, 60, PERIODS["2d"], end_of["2d"])
    now_before = sums(server, 10, PERIODS["now"], end_of["now"])
    tot_before = totals(server)
    old = {h: int(n) for h, n in server.rows(
        f"SELECT host, sum(count) FROM ember.samples WHERE time < toDateTime({end_of['40d']}) "
        "GROUP BY host")}
    markers_before = int(server.rows("SELECT count() FROM ember.samples WHERE batch != 0 AND "
                                     f"time >= toDateTime({PERIODS['8d']})")[0][0])
    drops_now = server.rows("SELECT kind, reason, sum(count) FROM ember.drops WHERE time >= "
                            f"toDateTime({PERIODS['8d']}) GROUP BY kind, reason ORDER BY kind, reason")
    r = maintain(url, *[a for s in shards for a in ("--shard", s)])
    # (samples and drops, on each server holding a host)
    dropped = 2 * (len(shards) or 1)
    check(f" {dropped} day partitions dropped" in r.stdout and f"({sum(old.values())} samples)" in r.stdout
          and "0 sample rows merged" not in r.stdout,
          f"{what}one run: {r.stdout.strip()}")
    tot_after = totals(server)
    check(all(tot_after.get(h, 0) == tot_before[h] - old.get(h, 0) for h in hosts),
          f"{what}the 40-day-old day is gone, every other sample kept: per host {tot_after} "
          f"(before {tot_before}, 40 days old {old})")
    check(sums(server, HOUR, PERIODS["8d"], end_of["8d"]) == hour_before and
          sums(server, 60, PERIODS["2d"], end_of["2d"]) == min_before and
          sums(server, 10, PERIODS["now"], end_of["now"]) == now_before,
          f"{what}sums per host, process, stack and hour (8 days old), minute (2 days) and "
          f"10 s bucket (the last hour) are what they were ({len(hour_before)}, {len(min_before)}, "
          f"{len(now_before)} sums)")
    check(report_total(url) == sum(tot_after.values()),
          f"{what}ember report on the store gives the same total ({sum(tot_after.values())})")
    servers = [server] if not local else [chs_by_url[s] for s in shards]
    for s in servers:
        for t in ("samples", "drops"):
            s.query(f"OPTIMIZE TABLE ember.{t}{local} FINAL")
    fine = [sum(fine_rows(s, local, PERIODS[p], end_of[p], step) for s in servers)
            for p, step in (("8d", HOUR), ("2d", 60))]
    kept = sum(fine_rows(s, local, PERIODS["now"], end_of["now"], 11) for s in servers)
    coarse = int(server.rows("SELECT count() FROM ember.samples WHERE duration = 3600")[0][0])
    markers = int(server.rows("SELECT count() FROM ember.samples WHERE batch != 0 AND "
                              f"time >= toDateTime({PERIODS['8d']})")[0][0])
    check(fine == [0, 0] and coarse > 0 and kept > 0 and markers == markers_before,
          f"{what}after ClickHouse's merges the old ranges hold coarse rows only ({fine} finer "
          f"rows left; {coarse} hour rows), the rows naming a shipment stay ({markers} of "
          f"{markers_before}), the last hour is as it was ({kept} rows)")
    check(server.rows("SELECT kind, reason, sum(count) FROM ember.drops WHERE time >= "
                      f"toDateTime({PERIODS['8d']}) GROUP BY kind, reason ORDER BY kind, reason")
          == drops_now and not server.rows("SELECT count() FROM ember.drops WHERE time < "
                                           f"toDateTime({end_of['40d']}) HAVING count() > 0"),
          f"{what}drops and events: the old day's gone, the others as they were")
    r = maintain(url, *[a for s in shards for a in ("--shard", s)])
    check("0 day partitions dropped" in r.stdout and "0 sample rows merged" in r.stdout and
          totals(server) == tot_after, f"{what}a second run changes nothing: {r.stdout.strip()}")


FOLDED = {sid: ";".join(dict(FUNCS)[dict(FRAMES)[f]] for f in frames) for sid, frames in STACKS}


def folded(url, *args):
    r = subprocess.run([EMBER, "report", url, "--format", "folded", *args], capture_output=True,
                       text=True)
    if r.returncode != 0:
        fail(f"ember report {url} {' '.join(args)}: {r.stderr.strip()}")
    out = {}
    for line in r.stdout.splitlines():
        k, _, n = line.rpartition(" ")
        out[k] = out.get(k, 0) + int(n)
    return out


def raw_folded(server, frm=None, to=None, host=None):
    """the folded sums straight from the samples (ground truth)"""
    where = ["1"]
    if frm is not None:
        where.append(f"time >= toDateTime({frm}) AND toUInt32(time) < {to}")
    if host:
        where.append(f"host = '{host}'")
    return {f"{p};{FOLDED[int(st)]}": int(n) for p, st, n in server.rows(
        f"SELECT process, stack, sum(count) AS n FROM ember.samples WHERE {' AND '.join(where)} "
        "GROUP BY process, stack HAVING n != 0")}


def check_rollup(server, hosts, url, what="", fleet_table="samples_1d_fleet", **settings):
    """Case 5: the reads that take whole days from the daily roll-up give
    exactly the samples' sums: aligned days, a range with edges, the whole
    store, all hosts and one; a tampered roll-up row shows the fresh day
    is read from it; a late sample makes the day stale (read from the
    samples, exact) until the maintainer rolls it up again."""
    day_of = lambda t: [int(x) for x in server.rows(  # noqa: E731
        f"SELECT toUInt32(toDateTime(toDate(toDateTime({t})))), "
        f"toUInt32(toDateTime(toDate(toDateTime({t})) + 1))")[0]]
    d8 = day_of(PERIODS["8d"])
    d2 = day_of(PERIODS["2d"])
    # (and whole hours, which all hosts' trees read from the fleet's sums
    # per hour: one alone, and with edges)
    ranges = [(d8[0], d8[1]), (d8[0], d2[1]), (PERIODS["8d"] + 300, NOW), (None, None),
              (PERIODS["now"], PERIODS["now"] + HOUR),
              (PERIODS["now"] - HOUR - 600, PERIODS["now"] + 600)]
    rolled = int(server.rows("SELECT count() FROM ember.samples_1d")[0][0])
    check(rolled > 0, f"{what}the maintainer rolled the old days up ({rolled} roll-up rows)")
    # the fleet's roll-up: each rolled-up day's sums over the hosts, per
    # process and stack, are the samples' (straight from the tables)
    fleet_rows = server.rows(
        "SELECT toDate(time) AS d, process, stack, sum(count) AS n FROM ember.samples_1d_fleet "
        "WHERE d GLOBAL IN (SELECT toDate(time) FROM ember.samples_1d) AND d GLOBAL NOT IN (SELECT day FROM "
        "ember.rollup_stale) GROUP BY d, process, stack HAVING n != 0 "
        "ORDER BY d, process, stack")
    sample_rows = server.rows(
        "SELECT toDate(time) AS d, process, stack, sum(count) AS n FROM ember.samples "
        "WHERE d GLOBAL IN (SELECT toDate(time) FROM ember.samples_1d) AND d GLOBAL NOT IN (SELECT day FROM "
        "ember.rollup_stale) GROUP BY d, process, stack HAVING n != 0 "
        "ORDER BY d, process, stack")
    check(fleet_rows and fleet_rows == sample_rows,
          f"{what}the fleet's roll-up of each day rolled up is its samples' sums over the hosts "
          f"({len(fleet_rows)} rows)")
    bad = []
    # all hosts (the fleet's roll-up), one host by name and by a regex
    # (the hosts' roll-up), a regex that passes every host (the fleet's)
    filters = [(None, None), (hosts[0], f'host="{hosts[0]}"'),
               (hosts[0], f'host=~"{hosts[0]}|no-such-host"'), (None, 'host=~".+"')]
    for frm, to in ranges:
        args = ["--from", str(frm), "--to", str(to)] if frm is not None else []
        for host, flt in filters:
            want = raw_folded(server, frm, to, host)
            got = folded(url, *args, *(["--filter", flt] if flt else []))
            if got != want or not want:
                bad.append((frm, to, flt, got, want))
    check(not bad, f"{what}the roll-ups' reads equal the samples' sums ({len(ranges)} ranges, "
          f"{len(filters)} filters; {bad[:1]})")
    # tampered roll-up rows: read while the day is fresh, all hosts from
    # the fleet's roll-up, one host from the hosts'
    fake = f"{d8[0]}\t{hosts[0]}\tapi\t301\t1000000\n"
    server.query("INSERT INTO ember.samples_1d (time, host, process, stack, count) FORMAT "
                 "TabSeparated", fake, **settings)
    # (on the server of hosts[0]'s shard: the maintainer keeps each
    # shard's fleet roll-up from that shard's hosts, and the late sample
    # below makes that shard's day stale)
    server.query(f"INSERT INTO ember.{fleet_table} (time, process, stack, count) FORMAT "
                 "TabSeparated", f"{d8[0]}\tapi\t301\t2000000\n")
    got = folded(url, "--from", str(d8[0]), "--to", str(d8[1]))
    want = raw_folded(server, d8[0], d8[1])
    check(got.get("api;main", 0) == want.get("api;main", 0) + 2000000,
          f"{what}a fresh day of all hosts is read from the fleet's roll-up (a row added to it shows)")
    got = folded(url, "--from", str(d8[0]), "--to", str(d8[1]), "--filter", f'host="{hosts[0]}"')
    want = raw_folded(server, d8[0], d8[1], hosts[0])
    check(got.get("api;main", 0) == want.get("api;main", 0) + 1000000,
          f"{what}a fresh day of one host is read from the hosts' roll-up (a row added to it shows)")
    if fleet_table == "samples_1d_fleet":
        # a whole hour of all hosts: read from the fleet's sums per hour
        # (a row added to it shows); one host's from the samples
        h = PERIODS["now"]
        server.query("INSERT INTO ember.samples_1h_fleet (hour, process, stack, count) FORMAT "
                     "TabSeparated", f"{h}\tapi\t301\t3000000\n")
        got = folded(url, "--from", str(h), "--to", str(h + HOUR))
        want = raw_folded(server, h, h + HOUR)
        got1 = folded(url, "--from", str(h), "--to", str(h + HOUR), "--filter",
                      f'host="{hosts[0]}"')
        check(got.get("api;main", 0) == want.get("api;main", 0) + 3000000 and
              got1 == raw_folded(server, h, h + HOUR, hosts[0]),
              f"{what}a whole hour of all hosts is read from the fleet's sums per hour (a row "
              "added to it shows), one host's from the samples")
        server.query("INSERT INTO ember.samples_1h_fleet (hour, process, stack, count) FORMAT "
                     "TabSeparated", f"{h}\tapi\t301\t-3000000\n")
    # a late sample into that day: stale, read from the samples
    server.query("INSERT INTO ember.samples_in (time, duration, host, process, pid, thread, tid, "
                 "cgroup, label_keys, label_values, stack, count, batch) FORMAT TabSeparated",
                 f"{d8[0] + 7}\t10\t{hosts[0]}\tapi\t10\tapi\t11\t0\t[]\t[]\t302\t3\t0\n",
                 **settings)
    got = folded(url, "--from", str(d8[0]), "--to", str(d8[1]))
    want = raw_folded(server, d8[0], d8[1])
    got1 = folded(url, "--from", str(d8[0]), "--to", str(d8[1]), "--filter", f'host="{hosts[0]}"')
    want1 = raw_folded(server, d8[0], d8[1], hosts[0])
    check(got == want and got1 == want1, f"{what}a sample shipped into a rolled-up day makes it "
          f"stale: read from the samples, exact ({sum(want.values())} samples, "
          f"{sum(want1.values())} of one host)")
    # the tables ClickHouse keeps from every insert into the samples (the
    # shipments, the downsampling, the late sample): equal to their sums
    for table, key, raw_key in (
            ("samples_ts", "host, time, duration", "host, time, duration"),
            ("samples_sets", "host, hour, labelset, process, pid, thread, tid, cgroup, "
             "label_keys, label_values", "host, toStartOfHour(time) AS hour, labelset, process, "
             "pid, thread, tid, cgroup, label_keys, label_values"),
            ("samples_1h_fleet", "hour, process, stack", "toDateTime(intDiv(toUInt32(time), 3600) "
             "* 3600) AS hour, process, stack")):
        kept = server.rows(f"SELECT {key}, sum(count) AS n FROM ember.{table} GROUP BY {key} "
                           f"HAVING n != 0 ORDER BY {key}")
        raw = server.rows(f"SELECT {raw_key}, sum(count) AS n FROM ember.samples GROUP BY "
                          f"{key} HAVING n != 0 ORDER BY {key}")
        check(kept and kept == raw, f"{what}{table} holds the samples' sums per {key.split(',')[0]}"
              f", ... ({len(kept)} rows)")
    return got


chs_by_url = {}

# ---- 1, 2. a single server ----
single = chs.single()
print(f"# ClickHouse {single.rows('SELECT version()')[0][0]}")
prepare_single(single)
hosts = ["web-1", "web-2"]
load(single, hosts, PERIODS)
check_store(single, hosts, single.url())

# two maintainers at once: new fine rows three days old
start3 = period_start(3 * DAY + 2 * HOUR)
PERIODS["3d"] = start3
samples, _ = rows_for(hosts, start3, buckets=360)
single.query("INSERT INTO ember.samples_in (time, duration, host, process, pid, thread, tid, cgroup, "
             "label_keys, label_values, stack, count, batch) FORMAT TabSeparated", samples)
before = sums(single, 60, start3, start3 + 3600)
tot = totals(single)
procs = [subprocess.Popen([EMBER, "fleet-maintain", single.url()], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) for _ in range(2)]
outs = [p.communicate(timeout=600) for p in procs]
check(all(p.returncode == 0 for p in procs) and totals(single) == tot and
      sums(single, 60, start3, start3 + 3600) == before,
      f"two maintainers at once: totals exact ({[o[0].strip() for o in outs]})")
single.query("OPTIMIZE TABLE ember.samples FINAL")
check(fine_rows(single, "", start3, start3 + 3600, 60) == 0 and
      sums(single, 60, start3, start3 + 3600) == before,
      "... and once ClickHouse merged, the range holds only minute rows with the same sums")

# ember serve --store --maintain runs it too (now, then every 10 minutes)
start4 = period_start(4 * DAY + 2 * HOUR)
samples, _ = rows_for(hosts, start4, buckets=60)
single.query("INSERT INTO ember.samples_in (time, duration, host, process, pid, thread, tid, cgroup, "
             "label_keys, label_values, stack, count, batch) FORMAT TabSeparated", samples)
before = sums(single, 60, start4, start4 + 600)
tot = totals(single)
sp = subprocess.Popen([EMBER, "serve", "--store", single.url(), "--maintain", "--listen",
                       "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
line = sp.stdout.readline()
sp.terminate()
out, err = sp.communicate(timeout=60)
check(sp.returncode == 0 and "retention done" in line and "0 sample rows merged" not in line and
      totals(single) == tot and sums(single, 60, start4, start4 + 600) == before,
      f"serve --store --maintain: {line.strip()} (exit {sp.returncode}); totals exact")
check_rollup(single, hosts, single.url())
r = maintain(single.url())
check(" 1 days rolled up" in r.stdout, f"the maintainer rolls the stale day up again: {r.stdout.strip()}")
check(folded(single.url(), "--from", str(PERIODS["8d"] - 86400 * 2), "--to", str(NOW)) ==
      raw_folded(single, PERIODS["8d"] - 86400 * 2, NOW) and not single.rows(
          "SELECT * FROM ember.rollup_stale WHERE toUInt32(toDateTime(day + 1)) <= now()"),
      "... and its reads equal the samples' sums again (the tampered row is gone too)")
r = subprocess.run([EMBER, "serve", "--db", "x.db", "--maintain"], capture_output=True, text=True)
check(r.returncode == 2 and "--store" in r.stderr, f"--maintain without --store: {r.stderr.strip()}")

# ---- 3. a cluster of two shards ----
shards = chs.cluster(2)
entry = shards[0]
shard_urls = [s.url() for s in shards]
for s, u in zip(shards, shard_urls):
    chs_by_url[u] = s
r = subprocess.run([EMBER, "fleet-init", entry.url(), "--cluster", chs.CLUSTER, "--shard",
                    shard_urls[0], "--shard", shard_urls[1]], capture_output=True, text=True)
check(r.returncode == 0, f"fleet-init --cluster: {r.stderr.strip()}")
cands = [f"fleet-{c}" for c in "abcdefgh"]
shard_of = dict(entry.rows("SELECT h, cityHash64(h) % 2 FROM (SELECT arrayJoin([" +
                           ",".join(f"'{c}'" for c in cands) + "]) AS h)"))
chosts = [next(c for c in cands if shard_of[c] == "0"), next(c for c in cands if shard_of[c] == "1")]
PERIODS.pop("3d")
load(entry, chosts, PERIODS, insert_distributed_sync=1)
r = maintain(entry.url(), ok=False)
check(r.returncode != 0 and "--shard" in r.stderr, f"a cluster without --shard: {r.stderr.strip()}")
check_store(entry, chosts, entry.url(), local="_local", shards=shard_urls, what="cluster: ")
per_shard = [int(s.rows("SELECT count() FROM system.parts WHERE database = 'ember' AND table = "
                        f"'samples_local' AND active AND partition = toString(toDate(toDateTime({PERIODS['40d']})))")[0][0])
             for s in shards]
check(per_shard == [0, 0], f"cluster: the old day's partition is gone on both shards ({per_shard} parts)")
# (chosts[0] is on the first shard, the entry's server)
check_rollup(entry, chosts, entry.url(), what="cluster: ", fleet_table="samples_1d_fleet_local",
             insert_distributed_sync=1)
r = maintain(entry.url(), *[a for u in shard_urls for a in ("--shard", u)])
check(" 1 days rolled up" in r.stdout and folded(entry.url()) == raw_folded(entry),
      f"cluster: the stale day rolled up again, reads exact: {r.stdout.strip()}")

# ---- 4. an older schema ----
single.query("CREATE DATABASE old")
single.query("CREATE TABLE old.ember_schema (version UInt32, layout String, created DateTime) "
             "ENGINE = TinyLog")
single.query("INSERT INTO old.ember_schema VALUES (1, 'single', now())")
single.query("CREATE TABLE old.samples (time DateTime, host String) ENGINE = TinyLog")
r = subprocess.run([EMBER, "report", single.url(database="old")], capture_output=True, text=True)
check(r.returncode != 0 and "schema version 1" in r.stderr and "older Ember" in r.stderr,
      f"report on a store of schema 1: {r.stderr.strip()}")
r = maintain(single.url(database="old"), ok=False)
check(r.returncode != 0 and "schema version 1" in r.stderr, f"fleet-maintain on it: {r.stderr.strip()}")
print("test_fleet_maintain: all checks passed")
