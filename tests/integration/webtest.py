# SPDX-License-Identifier: Apache-2.0
"""Helpers for the tests of the web server: start `ember serve` or
`ember agent` on a free loopback port, read the URL it prints, and make
requests with the standard library only."""
import hashlib
import http.client
import json
import os
import select
import signal
import subprocess
import time

from embertest import EMBER, fail


def start(args, preexec_fn=None, timeout=30):
    """Start EMBER args... (serve or agent, with --listen 127.0.0.1:0) and
    wait for its URL. Returns (Popen, base_url, stderr_lines)."""
    p = subprocess.Popen([EMBER, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         preexec_fn=preexec_fn)
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


def stop(p, timeout=60):
    """SIGTERM, wait; returns (exit status, remaining stderr)."""
    p.send_signal(signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=timeout)
        err = err.decode(errors="replace") if err else ""
    except subprocess.TimeoutExpired:
        p.kill()
        fail(f"ember did not stop within {timeout} s of SIGTERM")
    return p.returncode, err


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
