# SPDX-License-Identifier: Apache-2.0
"""Helpers for the tests of the web server: start `ember serve` or
`ember agent` on a free loopback port, read the URL it prints, and make
requests with the standard library only."""
import atexit
import hashlib
import http.client
import json
import os
import select
import signal
import subprocess
import time

from embertest import EMBER, fail


def _kill_left(p):
    if p.poll() is None:
        p.kill()
        p.wait()


def start(args, preexec_fn=None, timeout=30):
    """Start EMBER args... (serve or agent, with --listen 127.0.0.1:0) and
    wait for its URL. Returns (Popen, base_url, stderr_lines)."""
    p = subprocess.Popen([EMBER, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         preexec_fn=preexec_fn)
    # a check that fails before stop() leaves no server or agent running
    atexit.register(_kill_left, p)
    buf = b""
    deadline = time.time() + timeout
    fd = p.stderr.fileno()
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
            text = buf.decode(errors="replace")
            for line in text.splitlines(keepends=True):
                if "web UI at http://" in line and line.endswith("\n"):
                    url = line.split("web UI at ", 1)[1].strip().rstrip("/")
                    return p, url, text.splitlines()
        if p.poll() is not None:
            break
    p.kill()
    fail(f"ember {args[0]} did not print its URL: {buf.decode(errors='replace')}")


def awake(pid):
    """True when a thread of pid is running or waiting for a CPU (state
    R), or in an uninterruptible wait (D, I/O); False when every thread
    sleeps, or pid is gone."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("R", "D"):
                    return True
        except OSError:
            pass
    return False


def stop(p, asleep_s=60, limit_s=900):
    """SIGTERM, wait; returns (exit status, remaining stderr).

    Stopping is work (a final flush, queries that run): on a busy machine
    it takes as long as the CPU it gets. A stop that hangs sleeps: the
    test fails once every thread of the process has slept asleep_s s in
    all since SIGTERM (sampled every 0.1 s). An agent may sleep a little
    while it stops: waiting for ClickHouse to take the last flush (5 s, and
    a request's own 10 s). limit_s only ends a stop that never ends."""
    p.send_signal(signal.SIGTERM)
    err_chunks = []
    fd = p.stderr.fileno() if p.stderr else None
    t0 = last = time.time()
    slept = 0.0
    while p.poll() is None:
        if fd is not None:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                chunk = os.read(fd, 65536)
                if chunk:
                    err_chunks.append(chunk)
                else:
                    fd = None
        else:
            time.sleep(0.1)
        now = time.time()
        if not awake(p.pid) and p.poll() is None:
            slept += now - last
        last = now
        if slept >= asleep_s or now - t0 >= limit_s:
            p.kill()
            p.wait()
            fail(f"ember did not stop after SIGTERM: {now - t0:.0f} s, of which every thread "
                 f"slept {slept:.0f} s (hung)")
    if fd is not None:
        err_chunks.append(p.stderr.read() or b"")
    return p.returncode, b"".join(err_chunks).decode(errors="replace")


def request(base, path, method="GET", timeout=60, headers=None):
    """One request on a fresh connection: (status, headers dict with
    lower-case names, body bytes). A "Host" in headers replaces the one
    http.client would send."""
    host, port = base.split("//", 1)[1].rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        c.putrequest(method, path, skip_accept_encoding=True,
                     skip_host="Host" in (headers or {}))
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        c.close()


def get_json(base, path):
    status, hdrs, body = request(base, path)
    if status != 200:
        fail(f"GET {path}: {status} {body[:300]!r}")
    if not hdrs.get("content-type", "").startswith("application/json"):
        fail(f"GET {path}: content type {hdrs.get('content-type')}")
    return json.loads(body)


def metric(text, name):
    """The value of the unlabelled metric name in a /metrics text, or None."""
    import re
    m = re.search(r"^" + re.escape(name) + r" ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else None


def wait_metric(base, name, at_least, what, limit_s=300):
    """Poll /metrics until metric name reaches at_least (the agent made
    that much progress, however much CPU the machine left it) and return
    its text. limit_s only catches a hang: past it the test fails with
    what did not happen."""
    deadline = time.time() + limit_s
    while True:
        st, _, body = request(base, "/metrics", timeout=limit_s)
        text = body.decode(errors="replace")
        value = metric(text, name) if st == 200 else None
        if value is not None and value >= at_least:
            return text
        if time.time() > deadline:
            fail(f"{what}: {name} is {value}, not {at_least}, after {limit_s} s (hung?)")
        time.sleep(0.2)


class FlushWatch:
    """A thread that reads the agent's ember_flushes_total from /metrics
    about every half second, so a test's own loop (a workload, RSS
    samples) never waits on a CPU-starved agent's answer. flushes is the
    latest count (0 until the first answer)."""

    def __init__(self, base):
        import threading
        self.base, self.flushes = base, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                st, _, body = request(self.base, "/metrics", timeout=600)
                if st == 200:
                    self.flushes = metric(body.decode(errors="replace"), "ember_flushes_total") or 0
            except OSError:
                pass
            self._stop.wait(0.5)

    def stop(self):
        """Stop polling (a request under way ends on its own)."""
        self._stop.set()


def rss_kb(pid):
    """VmRSS of pid in KiB (0 once it has none: exited)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_check(t):
    """The columnar tree's invariants (web/API.md); returns an error text or
    None."""
    n = t["nodes"]
    size = len(n["parent"])
    for k in ("name", "module", "file", "line", "kind", "self", "total"):
        if len(n[k]) != size:
            return f"column {k} has {len(n[k])} entries, not {size}"
    child_sum = [0] * size
    for i in range(1, size):
        if not n["parent"][i] < i:
            return f"node {i}: parent {n['parent'][i]} is not smaller"
        child_sum[n["parent"][i]] += n["total"][i]
    for i in range(size):
        if n["total"][i] != n["self"][i] + child_sum[i]:
            return f"node {i}: total {n['total'][i]} != self {n['self'][i]} + children {child_sum[i]}"
    if size and n["total"][0] != t["samples"]:
        return "root total is not the samples"
    return None


def node_index(t, name, parent=None):
    n, names = t["nodes"], t["names"]
    for i in range(1, len(n["parent"])):
        if names[n["name"][i]] == name and (parent is None or names[n["name"][n["parent"][i]]] == parent):
            return i
    return -1


# ---- a pprof profile written by hand (profile.proto), for `ember import`

def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num, value):
    """One protobuf field: an int (varint) or bytes (length-delimited)."""
    if isinstance(value, int):
        return _varint(num << 3) + _varint(value)
    return _varint(num << 3 | 2) + _varint(len(value)) + value


def _packed(num, ints):
    return _field(num, b"".join(_varint(i) for i in ints))


def write_pprof(path, stacks):
    """Write stacks, [(frames root first, count, {label: text})], as an
    uncompressed pprof profile: samples/count, one function and location
    per distinct frame name."""
    strings, funcs = [""], {}

    def s(text):
        if text not in strings_index:
            strings_index[text] = len(strings)
            strings.append(text)
        return strings_index[text]

    strings_index = {"": 0}
    out = bytearray()
    out += _field(1, _field(1, s("samples")) + _field(2, s("count")))
    for frames, count, labels in stacks:
        locs = []
        for name in reversed(frames):  # pprof: leaf first
            if name not in funcs:
                funcs[name] = len(funcs) + 1
            locs.append(funcs[name])
        body = _packed(1, locs) + _packed(2, [count])
        for k, v in labels.items():
            body += _field(3, _field(1, s(k)) + _field(2, s(v)))
        out += _field(2, body)
    for name, fid in funcs.items():
        out += _field(4, _field(1, fid) + _field(4, _field(1, fid) + _field(2, 1)))
        out += _field(5, _field(1, fid) + _field(2, s(name)))
    for text in strings:
        out += _field(6, text.encode())
    with open(path, "wb") as f:
        f.write(out)
