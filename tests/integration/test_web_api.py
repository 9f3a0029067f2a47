# SPDX-License-Identifier: Apache-2.0
"""The HTTP API (web/API.md) of the real server, `ember serve`, on loopback
over a database recorded from the `split` test program (6:3:1 between
leaf_a, leaf_b and leaf_c): every endpoint answers what the database holds,
and malformed and hostile requests (bad parameters, huge query strings,
path traversal, other methods, garbage, many concurrent connections) get
their status codes and JSON errors while the server stays up and the
database file stays byte for byte the same. Also: `ember serve` works
without root."""
import concurrent.futures
import gzip
import json
import os
import re
import shutil
import socket
import time

from embertest import (check, check_samples_for_cpu, command_cpu_samples, fail, prog, record,
                       require_root, share_tolerance, tmpdir, run, EMBER)
import webtest as w

require_root()
d = tmpdir()
db = os.path.join(d, "split.db")
r = record(db, [prog("split"), "--seconds", "5"], freq=499, extra=["--flush", "1", "--label", "env=test"])
check(r.returncode == 0, "recorded split into a database")
digest = w.sha256(db)

p, base, _ = w.start(["serve", "--db", db, "--listen", "127.0.0.1:0"])
check(base.startswith("http://127.0.0.1:"), f"serve listens on loopback ({base})")

# ---- the page and the plain endpoints
st, h, body = w.request(base, "/")
check(st == 200 and h["content-type"].startswith("text/html") and b"<canvas" in body,
      "/ is the embedded UI page")
check(w.request(base, "/index.html")[2] == body, "/index.html is the same page")
st, h, body = w.request(base, "/healthz")
check(st == 200 and body == b"ok\n", "/healthz answers ok")

meta = w.get_json(base, "/api/v1/meta")
check_samples_for_cpu(meta["samples"], command_cpu_samples(db), "meta: the samples of split", share=0.9)
check(meta["processes"] == 1, f"meta: one process ({meta['processes']})")
check(meta["first"] > 0 and meta["last"] >= meta["first"] and meta["step"] == 1,
      f"meta: first/last buckets and the 1 s flush step ({meta['first']}..{meta['last']}, {meta['step']})")
check("split" in meta["meta"].get("command", "") and meta["meta"].get("frequency") == "499",
      "meta: command and frequency")
total = meta["samples"]

# ---- tree
t = w.get_json(base, "/api/v1/tree")
check(t["samples"] == total and w.tree_check(t) is None, f"tree: every sample, totals add up ({w.tree_check(t)})")
check(t["nodes"]["kind"][0] == 4 and t["names"][0] == "all" and t["modules"][0] == "" and t["files"][0] == "",
      "tree: root 'all' is synthetic, index 0 of modules and files is ''")
leaves = {}
for leaf, caller in (("leaf_a", "run_a"), ("leaf_b", "run_b"), ("leaf_c", "run_c")):
    i = w.node_index(t, leaf, caller)
    check(i > 0, f"tree has {caller} -> {leaf}")
    leaves[leaf] = t["nodes"]["total"][i]
share_a = leaves["leaf_a"] / total
# Shares within 0.1, or four standard deviations when a busy machine left
# split fewer samples; so are the few samples outside split's own code
# (before its exec, at its start and exit): 1 %, or four standard
# deviations of that.
tol_a, tol_out = share_tolerance(total, 0.6, 0.1), share_tolerance(total, 0.01, 0.01)
check(abs(share_a - 0.6) < tol_a and leaves["leaf_a"] > leaves["leaf_b"] > leaves["leaf_c"],
      f"leaf_a is the hot function, about 60% ({share_a:.3f} within {tol_a:.2f}; {leaves})")
run_a = w.node_index(t, "run_a")
kids = [(t["nodes"]["total"][i], t["names"][t["nodes"]["name"][i]])
        for i in range(len(t["nodes"]["parent"])) if t["nodes"]["parent"][i] == run_a and i]
check(max(kids)[1] == "leaf_a", f"leaf_a is the widest child of run_a ({kids})")

small = w.get_json(base, "/api/v1/tree?max_nodes=5")
check(len(small["nodes"]["parent"]) == 5 and small["truncated"] == len(t["nodes"]["parent"]) - 5 and
      w.tree_check(small) is None and small["samples"] == total,
      f"max_nodes=5 keeps 5 nodes, counts the rest as truncated, totals exact ({small['truncated']})")

ft = w.get_json(base, '/api/v1/tree?filter=env%3D%22test%22%2Cpid!%3D%220%22')
check(ft["samples"] == total, f"filter env=\"test\",pid!=\"0\" keeps every sample ({ft['samples']} of {total})")
# the child is named ember until it execs split: a few samples may carry that name
fs = w.get_json(base, '/api/v1/tree?filter=process%3D%22split%22')
fe = w.get_json(base, '/api/v1/tree?filter=process!%3D%22split%22')
check(fs["samples"] + fe["samples"] == total and fs["samples"] >= (1 - tol_out) * total,
      f"process=\"split\" and process!=\"split\" split the samples ({fs['samples']} + {fe['samples']})")
ft = w.get_json(base, "/api/v1/tree?filter=process%3D~%22nomatch.*%22")
check(ft["samples"] == 0 and len(ft["nodes"]["parent"]) <= 1, "a filter matching nothing gives an empty tree")

first, last = meta["first"], meta["last"]
mid = (first + last + 1) // 2
a = w.get_json(base, f"/api/v1/tree?from={first}&to={mid}")
b = w.get_json(base, f"/api/v1/tree?from={mid}&to={last + 1}")
check(a["from"] == first and a["to"] == mid and a["samples"] + b["samples"] == total and a["samples"] > 0,
      f"two halves of the range add up to the whole ({a['samples']} + {b['samples']})")
rel = w.get_json(base, "/api/v1/tree?from=now-1d")
check(rel["samples"] == total, f"a relative time (from=now-1d) works ({rel['samples']} of {total}, {rel['from']}..{rel['to']}, {first}..{last})")

# ---- diff
df = w.get_json(base, f"/api/v1/diff?base_from={first}&base_to={mid}&from={mid}&to={last + 1}")
check(df["base_samples"] == a["samples"] and df["samples"] == b["samples"] and
      len(df["nodes"]["base_total"]) == len(df["nodes"]["parent"]) and df["base_from"] == first,
      "diff: base and head counts of two ranges in one tree")
i = w.node_index(df, "leaf_a", "run_a")
check(i > 0 and df["nodes"]["total"][i] > 0 and df["nodes"]["base_total"][i] > 0, "diff: leaf_a on both sides")

# ---- timeline
tl = w.get_json(base, "/api/v1/timeline")
check(sum(tl["samples"]) == total and len(tl["drops"]) == len(tl["samples"]) and tl["step"] == 1 and
      tl["to"] == tl["from"] + tl["step"] * len(tl["samples"]),
      f"timeline: every sample, one point per 1 s bucket ({len(tl['samples'])} points)")
tl2 = w.get_json(base, f"/api/v1/timeline?step=2&from={first}&to={last + 1}")
check(tl2["step"] == 2 and sum(tl2["samples"]) == total, "timeline with step=2")

# ---- labels
lb = w.get_json(base, "/api/v1/labels")
names = [x["name"] for x in lb["labels"]]
check(names[:6] == ["host", "process", "pid", "thread", "tid", "cgroup"] and "env" in names,
      f"labels: the six built-ins first, then env ({names})")
proc = next(x for x in lb["labels"] if x["name"] == "process")
check(proc["values"][0] == {"value": "split", "samples": fs["samples"]} and
      sum(v["samples"] for v in proc["values"]) == total, "labels: process split with its samples, values add up")
lb1 = w.get_json(base, "/api/v1/labels?limit=1")
check(all(len(x["values"]) <= 1 for x in lb1["labels"]), "labels?limit=1 caps the values")

# ---- top
# burn() is inlined into the three leaves: it is the leaf of nearly every
# sample, so it leads by self
top = w.get_json(base, "/api/v1/top?limit=3")
selfs = [f["self"] for f in top["functions"]]
check(top["samples"] == total and top["functions"][0]["name"] == "burn" and len(top["functions"]) == 3 and
      selfs == sorted(selfs, reverse=True), f"top: burn (inlined in the leaves) first by self ({[f['name'] for f in top['functions']]})")
tt = w.get_json(base, "/api/v1/top?sort=total&limit=0")
tots = [f["total"] for f in tt["functions"]]
la = [f for f in tt["functions"] if f["name"] == "leaf_a"]
check(tots == sorted(tots, reverse=True) and (1 - tol_out) * total <= tots[0] <= total and la and
      leaves["leaf_a"] <= la[0]["total"] <= leaves["leaf_a"] + max(0.02 * leaves["leaf_a"], tol_out * total),
      f"top?sort=total orders by total; leaf_a total is its samples in the tree ({la} vs {leaves['leaf_a']}, {tots[:3]}, {total})")

# ---- exports
st, h, body = w.request(base, f"/api/v1/export/pprof?from={first}&to={last + 1}")
check(st == 200 and body[:2] == b"\x1f\x8b" and len(gzip.decompress(body)) > 100 and
      h.get("content-disposition") == f'attachment; filename="ember-{first}-{last + 1}.pb.gz"',
      f"export/pprof: gzipped profile as an attachment ({h.get('content-disposition')})")
st, h, body = w.request(base, "/api/v1/export/folded")
lines = body.decode().splitlines()
fold_total = sum(int(x.rsplit(" ", 1)[1]) for x in lines)
check(st == 200 and fold_total == total and any("run_a;leaf_a" in x for x in lines),
      "export/folded: every sample, with run_a;leaf_a")
st, h, body = w.request(base, "/api/v1/export/speedscope")
ss = json.loads(body)
check(st == 200 and "speedscope" in ss.get("$schema", ""), "export/speedscope is a speedscope file")

# ---- metrics (serve: from the database)
st, h, body = w.request(base, "/metrics")
text = body.decode()
check(st == 200 and h["content-type"].startswith("text/plain") and f"ember_samples_total {total}\n" in text and
      "ember_database_size_bytes " in text and "ember_resident_memory_bytes " in text and
      "# TYPE ember_samples_total counter" in text,
      "/metrics: Prometheus text with samples, database size and RSS")
check("# TYPE ember_dropped_samples_total counter" in text and "# TYPE ember_sample_events_total counter" in text,
      "/metrics: drops and events are two families")
# The trees above filled the query threads' read caches; /metrics counts
# them and SQLite's memory.
caches = dict(re.findall(r'^ember_cache_memory_bytes\{cache="([a-z-]+)"\} ([0-9]+)$', text, re.M))
check(set(caches) == {"store-reads", "sqlite"} and all(int(v) > 0 for v in caches.values()),
      f"/metrics: the read caches and SQLite's memory are counted ({caches})")

# ---- malformed parameters: 400 naming the parameter
BAD = [
    ("/api/v1/tree?from=yesterday", "from"),
    ("/api/v1/tree?to=12%3A00", "to"),
    ("/api/v1/tree?from=2000&to=1000", "from"),
    ("/api/v1/tree?filter=process%3D~%28", "filter"),
    ("/api/v1/tree?filter=%3D%3D%3D", "filter"),
    ("/api/v1/tree?filter=process%3D%22open", "filter"),
    ("/api/v1/tree?max_nodes=0", "max_nodes"),
    ("/api/v1/tree?max_nodes=-1", "max_nodes"),
    ("/api/v1/tree?max_nodes=99999999999999999999999", "max_nodes"),
    ("/api/v1/tree?max_nodes=1e3", "max_nodes"),
    ("/api/v1/tree?frm=1", "frm"),
    ("/api/v1/tree?from=1&from=2", "from"),
    ("/api/v1/tree?base_from=1", "base_from"),
    ("/api/v1/diff?base_from=2000&base_to=1000", "base_from"),
    ("/api/v1/diff?base_filter=pid%3D~%5B", "base_filter"),
    ("/api/v1/timeline?step=0", "step"),
    ("/api/v1/timeline?step=x", "step"),
    ("/api/v1/timeline?from=0&to=now&step=1", "step"),
    ("/api/v1/labels?limit=abc", "limit"),
    ("/api/v1/labels?filter=x", "filter"),
    ("/api/v1/top?sort=name", "sort"),
    ("/api/v1/top?limit=-5", "limit"),
    ("/api/v1/meta?verbose=1", "verbose"),
    ("/api/v1/export/pprof?to=soon", "to"),
    ("/api/v1/export/folded?max_nodes=5", "max_nodes"),
    ("/metrics?x=1", "x"),
    ("/api/v1/tree?from=99999-01-01", "from"),
]
bad = []
for path, param in BAD:
    st, h, body = w.request(base, path)
    try:
        j = json.loads(body)
    except ValueError:
        j = {}
    if not (st == 400 and j.get("parameter") == param and isinstance(j.get("error"), str) and j["error"]):
        bad.append(f"{path}: {st} {body[:120]!r}")
check(not bad, f"{len(BAD)} malformed requests are 400s naming the parameter" + ("; " + "; ".join(bad) if bad else ""))

st, h, body = w.request(base, "/api/v1/tree?filter=" + "a" * 9000)
check(st == 400 and "error" in json.loads(body), f"a 9 KB query string is a 400 ({st})")
st, h, body = w.request(base, "/api/v1/tree?" + "&".join(f"p{i}=1" for i in range(40)))
check(st == 400, "40 parameters are a 400")
try:
    st, _, _ = w.request(base, "/api/v1/tree?filter=" + "b" * (1 << 20), timeout=30)
    check(st in (400, 413, 414, 431), f"a 1 MB request line is refused ({st})")
except (ConnectionError, OSError) as e:
    check(True, f"a 1 MB request line is refused (connection closed: {type(e).__name__})")

# ---- paths: nothing but the page and the API
TRAVERSAL = ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/api/v1/../../../../etc/passwd",
             "/api/v1/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "//etc/passwd", "/index.html/../../etc/passwd",
             "/web/ui/index.html", "/api/v1/export/..%2f..%2f..%2fetc%2fpasswd", "/api/v1/tree/",
             "/api/v2/tree", "/api/v1/export/", "/favicon.ico", "/" + "x" * 4000,
             "/..%5c..%5cetc%5cpasswd", "/proc/self/environ", "/" + os.path.basename(db)]
bad = []
for path in TRAVERSAL:
    st, h, body = w.request(base, path)
    if st != 404 or b"root:" in body or b"SQLite" in body or json.loads(body) != {"error": "not found"}:
        bad.append(f"{path}: {st} {body[:80]!r}")
check(not bad, f"{len(TRAVERSAL)} traversal and unknown paths are 404 with a JSON error" + ("; " + "; ".join(bad) if bad else ""))

# ---- methods
for m in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
    st, h, body = w.request(base, "/api/v1/tree", method=m)
    check(st == 405 and "GET" in h.get("allow", "") and json.loads(body)["error"],
          f"{m} is a 405 with Allow: GET, HEAD")
st, h, body = w.request(base, "/api/v1/tree", method="HEAD")
check(st == 200 and body == b"", "HEAD /api/v1/tree is a 200 without a body")
st, h, body = w.request(base, "/", method="HEAD")
check(st == 200 and body == b"" and h["content-type"].startswith("text/html"), "HEAD / is a 200")

# ---- Host header: DNS rebinding protection on loopback
port_s = base.rsplit(":", 1)[1]
GOOD_HOSTS = [f"127.0.0.1:{port_s}", "127.0.0.1", f"localhost:{port_s}", "LOCALHOST", "localhost.",
              f"[::1]:{port_s}", "[::1]", "127.1.2.3:80", "app.localhost:8080",
              f"[::ffff:127.0.0.1]:{port_s}"]
BAD_HOSTS = [f"evil.example.com:{port_s}", "evil.example.com", "127.0.0.1.evil.com", "localhost.evil.com",
             "evillocalhost", f"localhost:{port_s}@evil.com", "[::1]x", "[::2]", "127.0.0.1:99999",
             "127.0.0.1:", "", "10.0.0.1", "[::1", "local host", "0.0.0.0", "%6c%6fcalhost"]
bad = []
for h in GOOD_HOSTS:
    st, _, body = w.request(base, "/api/v1/meta", headers={"Host": h})
    if st != 200:
        bad.append(f"Host {h!r}: {st} {body[:100]!r}")
for h in BAD_HOSTS:
    for path in ("/api/v1/tree", "/", "/healthz", "/metrics"):
        st, hd, body = w.request(base, path, headers={"Host": h})
        try:
            j = json.loads(body)
        except ValueError:
            j = {}
        if st != 421 or "rebinding" not in j.get("error", "") or b"leaf_a" in body:
            bad.append(f"Host {h!r} {path}: {st} {body[:100]!r}")
check(not bad, f"{len(GOOD_HOSTS)} loopback Host headers are answered, {len(BAD_HOSTS)} other names get a 421 "
      "JSON error on every path (DNS rebinding)" + ("; " + "; ".join(bad) if bad else ""))

# ---- garbage on the wire and idle connections
host, port = base.split("//")[1].split(":")
port = int(port)
for junk in (b"GARBAGE\r\n\r\n", b"GET /healthz HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 64,
             b"GET /api/v1/tree HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
             b"GET /api/v1/tree HTTP/1.1\r\n" + b"X-A: " + b"a" * 100000 + b"\r\n\r\n"):
    s = socket.create_connection((host, port), timeout=10)
    try:
        s.sendall(junk)
        s.settimeout(10)
        s.recv(4096)
    except OSError:
        pass
    finally:
        s.close()
idle = [socket.create_connection((host, port), timeout=10) for _ in range(8)]
for s in idle:
    s.sendall(b"GET /api/v1/tree HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
st, _, _ = w.request(base, "/healthz")
check(st == 200, "garbage, a TLS hello, a huge header and 8 half-sent requests do not stop the server")
for s in idle:
    s.close()

# ---- many concurrent connections
def one(i):
    path = ["/api/v1/tree", "/api/v1/timeline", "/api/v1/top", "/api/v1/labels", "/metrics"][i % 5]
    try:
        st, h, body = w.request(base, path, timeout=120)
        if st == 503 and h.get("retry-after", "").isdigit() and "busy" in json.loads(body)["error"]:
            return "503 busy"
        return st
    except OSError as e:
        return type(e).__name__

t0 = time.time()
with concurrent.futures.ThreadPoolExecutor(max_workers=150) as ex:
    results = list(ex.map(one, range(600)))
ok = sum(1 for x in results if x == 200)
others = sorted({str(x) for x in results if x != 200})
# At least the server's 64 connections' worth are answered, whatever the
# load (the rest may be refused at the limit, never answered with an error).
check(ok >= 64 and all(x == 200 or isinstance(x, str) for x in results),
      f"600 requests over 150 concurrent connections: {ok} answered 200 in {time.time() - t0:.1f} s, "
      f"the rest refused at the connection limit or as busy with Retry-After ({others}), no other status")
st, _, _ = w.request(base, "/api/v1/meta")
check(st == 200 and p.poll() is None, "the server is alive after all of it")

rc, err = w.stop(p)
check(rc == 0, f"serve exits 0 on SIGTERM ({rc}: {err.strip()})")
check(w.sha256(db) == digest, "the database file is byte for byte unchanged")

# ---- serve without root: a copy owned by root, readable by nobody
ro = os.path.join(d, "ro")
os.mkdir(ro)
shutil.copy(db, os.path.join(ro, "split.db"))
os.chmod(ro, 0o755)
os.chmod(d, 0o755)
os.chmod(os.path.join(ro, "split.db"), 0o644)
digest2 = w.sha256(os.path.join(ro, "split.db"))


def drop_root():
    os.setgid(65534)
    os.setuid(65534)


p2, base2, _ = w.start(["serve", "--db", os.path.join(ro, "split.db"), "--listen", "127.0.0.1:0"],
                       preexec_fn=drop_root)
m2 = w.get_json(base2, "/api/v1/meta")
t2 = w.get_json(base2, "/api/v1/tree")
check(m2["samples"] == total and t2["samples"] == total, "serve as user nobody reads a database it cannot write")
rc, err = w.stop(p2)
check(rc == 0 and w.sha256(os.path.join(ro, "split.db")) == digest2 and sorted(os.listdir(ro)) == ["split.db"],
      "... and leaves it, and its directory, untouched")

# --allow-host: a name for a reverse proxy, or any with '*'
p3, base3, _ = w.start(["serve", "--db", db, "--listen", "127.0.0.1:0", "--allow-host", "ember.example.com",
                        "--allow-host", "[fd00::1]"])
codes = [w.request(base3, "/api/v1/meta", headers={"Host": h})[0]
         for h in ("ember.example.com:8443", "EMBER.example.com", "[fd00::1]:80", "localhost", "evil.example.com",
                   "example.com")]
check(codes == [200, 200, 200, 200, 421, 421],
      f"--allow-host NAME adds NAME (any port) to the loopback names, others stay refused ({codes})")
w.stop(p3)
p3, base3, _ = w.start(["serve", "--db", db, "--listen", "127.0.0.1:0", "--allow-host", "*"])
st = w.request(base3, "/api/v1/meta", headers={"Host": "anything.example"})[0]
check(st == 200, f"--allow-host '*' answers any Host ({st})")
w.stop(p3)
r = run([EMBER, "serve", "--db", db, "--allow-host", "evil.com:80"])
check(r.returncode == 2 and "--allow-host" in r.stderr, "--allow-host with a port is a usage error")

r = run([EMBER, "serve", "--db", os.path.join(d, "missing.db")])
check(r.returncode != 0 and "missing.db" in r.stderr, f"serve of a missing file fails clearly ({r.stderr.strip()})")
r = run([EMBER, "serve", "--db", db, "--listen", "300.1.1.1:80"])
check(r.returncode == 2 and "--listen" in r.stderr, "a bad --listen is a usage error")
shutil.rmtree(d, ignore_errors=True)
print("test_web_api: all checks passed")
