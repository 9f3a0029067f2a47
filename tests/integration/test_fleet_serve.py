# SPDX-License-Identifier: Apache-2.0
"""The fleet VIEW: `ember serve --store clickhouse://...`, `ember report`
and `ember diff` reading the fleet store in Debian's ClickHouse 18.16
(servers of the test's own, tests/integration/clickhouse.py: two shards
behind Distributed tables made by `ember fleet-init`).

1. Two agents (--host, one per shard) profile the machine while two
   `split` programs of known weights run, and ship to ClickHouse. Then
   `ember report clickhouse://... --filter host=H` prints exactly what
   `ember report H.db` prints, stack by stack (folded), for each host;
   the fleet without a filter is the sum of both files; each split
   program's leaves keep their 6:3:1 / 1:3:6 shares on each host (the
   ground truth of tests/testprogs/split.c). For each host, its file
   and the fleet store give the same timeline split by each label and
   the same frame sites (build-id, smallest offset: pprof's addresses)
   through storage.h (tests/unit/fleet-compare.c), and a pprof export
   of the host from the fleet store imports as its file's export does.
2. `ember serve --store` answers /api/v1/top and /api/v1/tree with the
   same functions and counts as `ember serve --db H.db` for host H
   (filter host="H"), and the fleet's as their sum; /labels lists both
   hosts; /meta says the store is clickhouse; the timeline sums to the
   tree; /meta's drops and events are the sum of the agents' files' (the
   agents ship them with the samples), the timeline has the drops per
   step; what the fleet store cannot do (coverage) is told, not crashed
   on (/metrics answers).
3. Hostile filters (quotes, backslashes, SQL in label values and regexes)
   select nothing they should not and change nothing in ClickHouse: the
   filter text never reaches SQL.
4. `ember diff` of one host against the other over the fleet store.
5. Errors, each one clear line and a non-zero exit (never a crash): a bad
   URL, nothing listening, an unknown database, a database without
   Ember's tables, a wrong password; `serve --store` answering 502 with
   text while ClickHouse is stopped, and 200 again once it is back.
6. The browser (tests/web/test-ui-fleet.mjs, Chromium): the UI over the
   fleet store shows a host selector with both hosts; picking one shows
   that host's samples.
"""
import collections
import json
import os
import re
import subprocess
import time
import urllib.parse

from embertest import (EMBER, check, fail, prog, require_root, share_tolerance,
                       split_leaf_shares, tmpdir)
import clickhouse as chs
import webtest as w

require_root()
if not chs.available():
    fail(f"{chs.SERVER} is missing: scripts/lib.sh installs clickhouse-server")

PW = chs.PASSWORD
d = tmpdir()
# (the agents, serve and report read the password from the environment)
os.environ["EMBER_CLICKHOUSE_PASSWORD"] = PW
env = dict(os.environ)


def run(*args, ok=True, e=None):
    r = subprocess.run([EMBER, *args], capture_output=True, text=True, env=e or env, timeout=300)
    if ok and r.returncode != 0:
        fail(f"ember {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    if PW in r.stdout + r.stderr:
        fail(f"ember {' '.join(args)} printed the password")
    return r


def folded(source, *extra):
    out = collections.Counter()
    for line in run("report", source, "--format", "folded", *extra).stdout.splitlines():
        stack, _, n = line.rpartition(" ")
        out[stack] += int(n)
    return out


def get(base, path):
    st, _, body = w.request(base, path)
    return st, body


def q(filt):
    return urllib.parse.quote(filt, safe="")


# ---- servers, two agents ----
t0 = time.time()
shards = chs.cluster(2)
entry = shards[0]
print(f"# ClickHouse {entry.rows('SELECT version()')[0][0]}: 2 shards up in {time.time() - t0:.1f} s")
r = run("fleet-init", entry.url(user="ember"), "--cluster", chs.CLUSTER,
        "--shard", shards[0].url(user="ember"), "--shard", shards[1].url(user="ember"))
url = entry.url(user="ember")

cands = [f"view-{c}" for c in "abcdefghijklmnop"]
shard_of = dict(entry.rows("SELECT h, cityHash64(h) % 2 FROM (SELECT arrayJoin([" +
                           ",".join(f"'{c}'" for c in cands) + "]) AS h)"))
hosts = [next(c for c in cands if shard_of[c] == "0"), next(c for c in cands if shard_of[c] == "1")]

FREQ = 99
agents = []
for h in hosts:
    db = os.path.join(d, f"{h}.db")
    p, base, _ = w.start(["agent", "--db", db, "--listen", "127.0.0.1:0", "--flush", "1",
                          "--host", h, "--remote", url, "-F", str(FREQ)])
    agents.append((p, base, db))
weights = ["6:3:1", "1:3:6"]
work = [subprocess.Popen([prog("split"), "--seconds", "5", "--weights", wt]) for wt in weights]
for x in work:
    x.wait()


def metrics(base):
    st, _, body = w.request(base, "/metrics")
    return {k: float(v) for k, v in re.findall(r"^(ember_[a-z_]+) ([0-9.e+-]+)$", body.decode(), re.M)}


for p, base, _ in agents:
    deadline = time.time() + 120
    while time.time() < deadline:
        m = metrics(base)
        if m.get("ember_shipped_flushes_total", 0) >= 3 and m.get("ember_ship_backlog_flushes", 1) == 0:
            break
        time.sleep(0.5)
for p, base, _ in agents:
    rc, err = w.stop(p)
    check(rc == 0, f"the agent stops cleanly ({err.strip().splitlines()[-1]})")
# what was queued at the stop ships at the stop; every flush is in ClickHouse
for (p, base, db), h in zip(agents, hosts):
    n_local = sum(folded(db).values())
    n_fleet = int(entry.rows(f"SELECT sum(count) FROM ember.samples WHERE host = '{h}'")[0][0] or 0)
    if n_fleet != n_local:
        fail(f"host {h}: ClickHouse has {n_fleet} samples, its file {n_local}: the agents' "
             "shipping is test_fleet's subject")

# ---- 1. report: each host's file, exactly ----
total = collections.Counter()
for (_, _, db), h in zip(agents, hosts):
    local = folded(db)
    total.update(local)
    fleet = folded(url, "--filter", f'host="{h}"')
    diff = [(k, local.get(k, 0), fleet.get(k, 0)) for k in set(local) | set(fleet)
            if local.get(k, 0) != fleet.get(k, 0)]
    check(not diff and sum(local.values()) > 0,
          f"ember report {url} --filter host={h} equals ember report {h}.db stack by stack "
          f"({sum(fleet.values())} samples in {len(fleet)} stacks; differing: {diff[:3]})")
fleet_all = folded(url)
check(fleet_all == total, f"the fleet without a filter is the sum of both files "
      f"({sum(fleet_all.values())} vs {sum(total.values())} samples)")

judged = 0
for x, wt in zip(work, weights):
    want = [int(v) / sum(int(v) for v in wt.split(":")) for v in wt.split(":")]
    for h in hosts:
        f = folded(url, "--filter", f'host="{h}",pid={x.pid}')
        got, tot = split_leaf_shares(f, f"host {h}, pid {x.pid}")
        if got is None:
            continue
        judged += 1
        check(all(abs(g - v) <= share_tolerance(tot, v, 0.15) for g, v in zip(got, want)),
              f"fleet, host {h}, split --weights {wt}: leaves a:b:c "
              f"{' '.join(f'{g:.2f}' for g in got)} of {tot} samples")
check(judged > 0, f"the splits' shares judged on {judged} host-program pairs")

# ---- 1b. timelines split by a label, pprof's addresses: the file's ----
FLEET_COMPARE = os.environ.get("FLEET_COMPARE", "")
if not os.path.exists(FLEET_COMPARE):
    fail(f"FLEET_COMPARE={FLEET_COMPARE!r} is missing: run this test through meson")
for (_, _, db), h in zip(agents, hosts):
    r = subprocess.run([FLEET_COMPARE, db, url, h], capture_output=True, text=True, env=env,
                       timeout=300)
    print(r.stdout.strip())
    check(r.returncode == 0, f"host {h}: its file and the fleet store give the same timelines split "
          f"by each label and the same frame sites ({r.stderr.strip()[:300]})")
    pbs = []
    for src, extra in ((db, []), (url, ["--filter", f'host="{h}"'])):
        pb = os.path.join(d, f"{h}-{len(pbs)}.pb.gz")
        run("report", src, *extra, "--format", "pprof", "-o", pb)
        back = os.path.join(d, f"{h}-{len(pbs)}.db")
        run("import", pb, "-o", back)
        pbs.append(folded(back))
    check(pbs[0] == pbs[1] and sum(pbs[0].values()) > 0,
          f"host {h}: ember report --format pprof of the fleet store imports as its file's export "
          f"does ({sum(pbs[1].values())} samples in {len(pbs[1])} stacks)")

top = run("report", url, "--format", "top", "--filter", f'host="{hosts[0]}"').stdout
top_local = run("report", agents[0][2], "--format", "top").stdout
check(top == top_local, "ember report --format top: the fleet's host equals its file")

# ---- 2. serve --store against serve --db ----
fp, fbase, flines = w.start(["serve", "--store", url, "--listen", "127.0.0.1:0"], timeout=60)
check(any("serving the fleet store" in l for l in flines) and not any(PW in l for l in flines),
      f"serve --store says what it serves, never the password ({flines})")
meta = w.get_json(fbase, "/api/v1/meta")
check(meta.get("store") == "clickhouse" and meta["samples"] == sum(total.values()),
      f"/api/v1/meta: store clickhouse, {meta.get('samples')} samples")
labels = w.get_json(fbase, "/api/v1/labels")
hv = sorted(v["value"] for l in labels["labels"] if l["name"] == "host" for v in l["values"])
check(hv == sorted(hosts), f"/api/v1/labels lists both hosts ({hv})")


def tree_paths(t):
    """path -> (self, total) of a columnar tree, siblings in any order."""
    nd, out, paths = t["nodes"], {}, []
    for i in range(len(nd["parent"])):
        key = (t["names"][nd["name"][i]], t["modules"][nd["module"][i]], t["files"][nd["file"][i]],
               nd["line"][i], nd["kind"][i])
        paths.append((paths[nd["parent"][i]] if i else ()) + (key,))
        out[paths[i]] = (nd["self"][i], nd["total"][i])
    return out


local_drops = {"drops": collections.Counter(), "events": collections.Counter()}
for (_, _, db), h in zip(agents, hosts):
    sp, sbase, _ = w.start(["serve", "--db", db, "--listen", "127.0.0.1:0"])
    hf = q(f'host="{h}"')
    try:
        lm = w.get_json(sbase, "/api/v1/meta")
        for k, name in (("drops", "reason"), ("events", "name")):
            for x in lm[k]:
                local_drops[k][x[name]] += x["count"]
        a = w.get_json(sbase, "/api/v1/top?limit=0")
        b = w.get_json(fbase, f"/api/v1/top?limit=0&filter={hf}")
        check(a == b and a["samples"] > 0, f"/api/v1/top of host {h}: the fleet store answers as its "
              f"file ({len(b['functions'])} functions, {b['samples']} samples)")
        ta = tree_paths(w.get_json(sbase, "/api/v1/tree"))
        tb = tree_paths(w.get_json(fbase, f"/api/v1/tree?filter={hf}"))
        check(ta == tb, f"/api/v1/tree of host {h}: the same paths and counts ({len(tb)} nodes)")
    finally:
        w.stop(sp)
fleet_drops = {k: collections.Counter({x[name]: x["count"] for x in meta[k]})
               for k, name in (("drops", "reason"), ("events", "name"))}
check(fleet_drops == local_drops and (local_drops["drops"] or local_drops["events"]),
      f"/api/v1/meta: the drops and events the agents shipped are their files' "
      f"({dict(fleet_drops['drops'])}, {dict(fleet_drops['events'])})")
tl = w.get_json(fbase, "/api/v1/timeline")
check(sum(tl["samples"]) == meta["samples"] and tl["drops"] is not None and
      sum(tl["drops"]) <= sum(fleet_drops["drops"].values()),
      f"/api/v1/timeline sums to the samples ({sum(tl['samples'])}), with the drops per step "
      f"({sum(tl['drops'] or [])})")
hf = q(f'host="{hosts[1]}"')
tl1 = w.get_json(fbase, f"/api/v1/timeline?filter={hf}")
n1 = sum(folded(agents[1][2]).values())
check(sum(tl1["samples"]) == n1, f"the timeline of host {hosts[1]}: {sum(tl1['samples'])} of {n1}")
st, body = get(fbase, "/metrics")
check(st == 200 and b"ember_samples_total" in body, f"/metrics answers over the fleet store ({st})")

# ---- 3. hostile filters ----
before = entry.rows("SELECT count(), sum(count) FROM ember.samples")
hostile = [
    ("host=\"x' OR 1=1 --\"", 0),
    ("host=\"x\\\\' OR '1'='1\"", 0),
    (f"host=\"{hosts[0]}') OR (1=1\"", 0),
    ("process=~\"x'|y' OR '1'='1\"", 0),
    ("process=~\".*') OR 1=1 --\"", None),  # an unbalanced ( : the parser's 400
    ("host=\"'; DROP TABLE ember.samples_local; --\"", 0),
    (f"host=~\"{hosts[0]}|x'\"", sum(folded(agents[0][2]).values())),
]
for filt, want in hostile:
    st, body = get(fbase, f"/api/v1/top?filter={q(filt)}")
    got = json.loads(body).get("samples") if st == 200 else None
    check(st == (200 if want is not None else 400) and got == want,
          f"filter {filt}: {st}, {got} samples (want {want}) {body[:120]!r}")
r = run("report", url, "--filter", "host=\"a'b\\\\\"", "--format", "folded", ok=False)
check(r.returncode == 0 and r.stdout == "", f"report --filter with quotes and a backslash: nothing, no error "
      f"({r.returncode}: {r.stderr.strip()[:200]})")
check(entry.rows("SELECT count(), sum(count) FROM ember.samples") == before,
      "ClickHouse's samples are as they were after the hostile filters")

# ---- 4. diff one host against the other ----
r = run("diff", url, url, "--base-filter", f'host="{hosts[0]}"', "--filter", f'host="{hosts[1]}"', ok=False)
n0, n1 = (sum(folded(db).values()) for _, _, db in agents)
check(r.returncode in (0, 1) and re.search(rf"base \S+: {n0} samples; head \S+: {n1} samples", r.stdout),
      f"ember diff over the fleet store, host against host (exit {r.returncode}): each side is "
      f"its host's samples ({n0}, {n1}): {r.stdout.strip().splitlines()[:1]} {r.stderr.strip()[:200]}")

# ---- 5. errors ----
port = chs.free_port()
bad = [
    (["report", "clickhouse://127.0.0.1:8123"], r"names no database"),
    (["report", f"clickhouse://127.0.0.1:{port}/ember"], r"nothing answers at 127\.0\.0\.1:%d" % port),
    (["report", entry.url(database="nope", user="ember")], r"no database 'nope'"),
    (["report", entry.url(database="default", user="ember")], r"no fleet store"),
    (["report", entry.url(user="ember", password="wrong")], r"wrong user or password"),
    (["serve", "--store", f"clickhouse://127.0.0.1:{port}/ember", "--listen", "127.0.0.1:0"],
     r"nothing answers"),
    (["serve", "--store", "/tmp/x.db"], r"--store takes a fleet store's URL"),
]
for args, pattern in bad:
    r = run(*args, ok=False, e={k: v for k, v in env.items() if k != "EMBER_CLICKHOUSE_PASSWORD"}
            if "wrong" in " ".join(args) else env)
    lines = r.stderr.strip().splitlines()
    check(r.returncode not in (0, -11, -6) and re.search(pattern, r.stderr) and len(lines) <= 2,
          f"ember {' '.join(a.replace(PW, '***') for a in args)}: exit {r.returncode}, "
          f"{r.stderr.strip()[:300]}")
r = run("report", url, "--coverage", ok=False) if "--coverage" in run("report", "--help").stdout else None
if r is not None:
    check(r.returncode != 0 and "has no symbolization coverage" in r.stderr,
          f"report --coverage over the fleet store: told ({r.stderr.strip()[:200]})")

entry.stop()
st, body = get(fbase, "/api/v1/top")
check(st == 502 and b"nothing answers" in body, f"ClickHouse stopped: serve answers {st} {body[:160]!r}")
entry.start()
st, body = get(fbase, "/api/v1/top")
check(st == 200, f"ClickHouse back: serve answers {st}")

# ---- 6. the browser ----
NODE = os.environ.get("NODE", "")
if not NODE or not os.path.exists(NODE):
    fail("node was not found when meson configured this build: install nodejs (scripts/test.sh does)")
ARTIFACTS = os.environ.get("ARTIFACTS", "")
script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "web", "test-ui-fleet.mjs")
counts = {h: sum(folded(db).values()) for (_, _, db), h in zip(agents, hosts)}
res = subprocess.run([NODE, script, fbase, json.dumps(counts),
                      os.path.join(ARTIFACTS, "fleet-ui.png") if ARTIFACTS else ""],
                     capture_output=True, text=True, timeout=240)
print(res.stdout)
print(res.stderr)
check(res.returncode == 0, "the browser test of the fleet UI passed")
rc, err = w.stop(fp)
check(rc == 0 and PW not in err, f"serve --store stops cleanly ({err.strip()[-200:]})")
