// SPDX-License-Identifier: Apache-2.0
// A stand-in for Ember's HTTP server (web/API.md) until the C server
// exists: serves the bundled UI and answers the JSON API from a
// deterministic synthetic profile with a known shape, aggregating per
// request (range, filter), so range selection, filters and diff change what
// the UI receives. Loopback only. The API tests of the real server will
// replace this; the browser tests then point at the real server.
import http from 'node:http';
import fs from 'node:fs';

export const T0 = 1700000000;      // first bucket (Unix seconds)
export const STEP = 10;            // bucket length
export const BUCKETS = 60;         // ten minutes

const U = 0, K = 1, I = 2, J = 3;  // frame kinds (enum store_frame_kind)
const f = (name, kind = U, module = '/usr/bin/split', file = 'split.c', line = 0) => ({ name, kind, module, file, line });
const SPLIT = [f('main', U, '/usr/bin/split', 'split.c', 80)];
const COMPUTE = [...SPLIT, f('compute', U, '/usr/bin/split', 'split.c', 52)];
const SRV = (m) => f(m, U, '/usr/bin/server', 'server.c', 10);
const KWRITE = [f('entry_SYSCALL_64', K, '[kernel]', '', 0), f('__x64_sys_write', K, '[kernel]', '', 0),
  f('vfs_write', K, '[kernel]', '', 0)];

// Stacks per process: [frames, weight in the first half, weight in the second half].
// hot_loop is the known hot function: 6 of 10 samples of split, and it grows
// in the second half (the diff test checks it is red there).
const STACKS = {
  split: [
    [[...COMPUTE, f('hot_loop', U, '/usr/bin/split', 'split.c', 21)], 50, 70],
    [[...COMPUTE, f('warm', U, '/usr/bin/split', 'split.c', 33)], 30, 20],
    [[...COMPUTE, f('mix_hash', I, '/usr/bin/split', 'hash.h', 7)], 6, 4],
    [[...SPLIT, f('cold', U, '/usr/bin/split', 'split.c', 44)], 10, 4],
    [[...SPLIT, f('write', U, '/usr/lib/x86_64-linux-gnu/libc.so.6', '', 0), ...KWRITE], 4, 2],
  ],
  server: [
    [[SRV('main'), SRV('interp'), SRV('recurse'), SRV('recurse'), f('handle_request', J, '[jit]', '', 0)], 12, 12],
    [[SRV('main'), SRV('interp'), SRV('recurse'), f('parse', U, '/usr/bin/server', 'parse.c', 99)], 6, 6],
    [[SRV('main'), f('poll', U, '/usr/lib/x86_64-linux-gnu/libc.so.6'), ...KWRITE.slice(0, 1),
      f('do_sys_poll', K, '[kernel]', '', 0)], 4, 4],
    // a narrow tower 80 frames deep (deep recursion): it must not push the
    // widest frames out of the first screen, nor stretch the page
    [[SRV('main'), SRV('interp'), ...Array.from({ length: 78 }, (_, k) => SRV('descend_' + k))], 1, 1],
  ],
};

// Every sample record: {t, labels, stack, count}. Two hosts, threads, two
// containers and a free-form env label.
export function records() {
  const out = [];
  for (let b = 0; b < BUCKETS; b++) {
    const t = T0 + b * STEP, half = b < BUCKETS / 2 ? 1 : 2;
    for (const [proc, stacks] of Object.entries(STACKS)) {
      stacks.forEach(([stack, w1, w2], si) => {
        const host = (b + si) % 3 === 0 ? 'web-2' : 'web-1';
        const labels = { host, process: proc, pid: proc === 'split' ? '4242' : '777',
          thread: proc === 'split' ? (si % 2 ? 'split-worker' : 'split') : 'server',
          tid: proc === 'split' ? String(4242 + (si % 2)) : '777',
          cgroup: proc === 'split' ? '1001' : '2002', env: host === 'web-1' ? 'prod' : 'staging' };
        out.push({ t, labels, stack, count: half === 1 ? w1 : w2 });
      });
    }
  }
  return out;
}

// store_filter__parse's syntax, the subset the UI sends: label="value" terms.
export function parseFilter(expr) {
  const terms = [];
  let i = 0;
  while (i < expr.length) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|=)\s*/.exec(expr.slice(i));
    if (!m) throw new Error(`expected label=value at ${i}`);
    i += m[0].length;
    let v = '';
    if (expr[i] === '"') {
      i++;
      while (i < expr.length && expr[i] !== '"') { if (expr[i] === '\\') i++; v += expr[i++]; }
      if (expr[i] !== '"') throw new Error('unterminated quote');
      i++;
    } else {
      while (i < expr.length && expr[i] !== ',') v += expr[i++];
      v = v.trim();
    }
    terms.push({ label: m[1], op: m[2], value: v });
    while (expr[i] === ' ') i++;
    if (i < expr.length && expr[i++] !== ',') throw new Error(`expected , at ${i - 1}`);
  }
  return (l) => terms.every(({ label, op, value }) => {
    const have = l[label] ?? '';
    if (op === '=') return have === value;
    if (op === '!=') return have !== value;
    const re = new RegExp(`^(?:${value})$`);
    return op === '=~' ? re.test(have) : !re.test(have);
  });
}

function select(recs, from, to, filter) {
  const pass = parseFilter(filter || '');
  return recs.filter((r) => r.t >= from && r.t < to && pass(r.labels));
}

// The columnar tree of web/API.md from records (and a base side for diff).
export function buildTree(head, base) {
  const names = ['all'], modules = [''], files = [''];
  const ni = new Map([['all', 0]]), mi = new Map([['', 0]]), fi = new Map([['', 0]]);
  const intern = (tbl, map, s) => { s = s || ''; let v = map.get(s); if (v === undefined) { v = tbl.length; tbl.push(s); map.set(s, v); } return v; };
  const n = { parent: [0], name: [0], module: [0], file: [0], line: [0], kind: [4], self: [0], total: [0], base_self: [0], base_total: [0] };
  const kids = [new Map()];
  const child = (p, fr) => {
    const key = `${fr.name}\0${fr.module}\0${fr.file}\0${fr.line}\0${fr.kind}`;
    let c = kids[p].get(key);
    if (c === undefined) {
      c = n.parent.length; kids[p].set(key, c); kids.push(new Map());
      n.parent.push(p); n.name.push(intern(names, ni, fr.name)); n.module.push(intern(modules, mi, fr.module));
      n.file.push(intern(files, fi, fr.file)); n.line.push(fr.line); n.kind.push(fr.kind);
      n.self.push(0); n.total.push(0); n.base_self.push(0); n.base_total.push(0);
    }
    return c;
  };
  const add = (recs, selfK, totalK) => {
    let sum = 0;
    for (const r of recs) {
      let cur = 0;
      n[totalK][0] += r.count; sum += r.count;
      cur = child(cur, { name: r.labels.process, module: '', file: '', line: 0, kind: 4 });
      n[totalK][cur] += r.count;
      for (const fr of r.stack) { cur = child(cur, fr); n[totalK][cur] += r.count; }
      n[selfK][cur] += r.count;
    }
    return sum;
  };
  const samples = add(head, 'self', 'total');
  const out = { samples, names, modules, files, nodes: n, truncated: 0 };
  if (base) out.base_samples = add(base, 'base_self', 'base_total');
  else { delete n.base_self; delete n.base_total; }
  return out;
}

class BadParam extends Error { constructor(msg, parameter) { super(msg); this.parameter = parameter; } }

function params(url, allowed) {
  for (const k of url.searchParams.keys()) if (!allowed.includes(k)) throw new BadParam(`unknown parameter ${k}`, k);
  const time = (k, dflt) => {
    const v = url.searchParams.get(k);
    if (v === null) return dflt;
    if (!/^\d+$/.test(v)) throw new BadParam(`${k} is not a time`, k);
    return Number(v);
  };
  const p = { from: time('from', T0), to: time('to', T0 + BUCKETS * STEP), filter: url.searchParams.get('filter') || '' };
  p.base_from = time('base_from', p.from); p.base_to = time('base_to', p.to);
  p.base_filter = url.searchParams.has('base_filter') ? url.searchParams.get('base_filter') : p.filter;
  for (const k of ['filter', 'base_filter']) {
    try { parseFilter(p[k]); } catch (e) { throw new BadParam(`${k}: ${e.message}`, k); }
  }
  if (p.from > p.to) throw new BadParam('from is after to', 'from');
  return p;
}

// Start the server on 127.0.0.1 (ephemeral port). Returns {url, requests, close}.
export function start({ html }) {
  const recs = records();
  const requests = [];
  const json = (res, code, body) => {
    res.writeHead(code, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const routes = {
    '/api/v1/meta': () => ({ version: '0.1.0', first: T0, last: T0 + (BUCKETS - 1) * STEP, step: STEP,
      samples: recs.reduce((a, r) => a + r.count, 0), processes: 2,
      drops: [{ reason: 'ring-buffer-full', count: 3 }], events: [{ name: 'dwarf-samples', count: 120 }], meta: { command: 'split --seconds 600', frequency: '19' } }),
    '/api/v1/tree': (u) => {
      const p = params(u, ['from', 'to', 'filter', 'max_nodes']);
      return { from: p.from, to: p.to, ...buildTree(select(recs, p.from, p.to, p.filter)) };
    },
    '/api/v1/diff': (u) => {
      const p = params(u, ['from', 'to', 'filter', 'base_from', 'base_to', 'base_filter', 'max_nodes']);
      return { from: p.from, to: p.to, base_from: p.base_from, base_to: p.base_to,
        ...buildTree(select(recs, p.from, p.to, p.filter), select(recs, p.base_from, p.base_to, p.base_filter)) };
    },
    '/api/v1/timeline': (u) => {
      const p = params(u, ['from', 'to', 'filter', 'step']);
      const n = Math.ceil((p.to - p.from) / STEP), samples = new Array(n).fill(0), drops = new Array(n).fill(0);
      for (const r of select(recs, p.from, p.to, p.filter)) samples[Math.floor((r.t - p.from) / STEP)] += r.count;
      drops[17] = 3;
      return { from: p.from, to: p.to, step: STEP, samples, drops };
    },
    '/api/v1/labels': (u) => {
      const p = params(u, ['from', 'to', 'limit']);
      const by = new Map();
      for (const r of select(recs, p.from, p.to, '')) {
        for (const [k, v] of Object.entries(r.labels)) {
          if (!by.has(k)) by.set(k, new Map());
          by.get(k).set(v, (by.get(k).get(v) || 0) + r.count);
        }
      }
      const order = ['host', 'process', 'pid', 'thread', 'tid', 'cgroup'];
      const keys = [...order, ...[...by.keys()].filter((k) => !order.includes(k)).sort()];
      return { labels: keys.map((k) => ({ name: k, truncated: 0,
        values: [...(by.get(k) || new Map())].map(([value, samples]) => ({ value, samples })).sort((a, b) => b.samples - a.samples) })) };
    },
  };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    requests.push(u);
    if (u.pathname === '/' || u.pathname === '/index.html') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      return res.end(fs.readFileSync(html));
    }
    if (u.pathname === '/report.html') {
      // a static report as `ember diff --html` will write it: the same page
      // with the data inline, no API behind it
      const data = { meta: routes['/api/v1/meta'](), tree: buildTree(recs), diff: null };
      const page = fs.readFileSync(html, 'utf8').replace('<script>',
        () => `<script>window.EMBER_DATA = ${JSON.stringify(data).replace(/</g, '\\u003c')};</script>\n<script>`);
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      return res.end(page);
    }
    if (u.pathname.startsWith('/api/v1/export/')) {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      return res.end('export\n');
    }
    const route = routes[u.pathname];
    if (!route) return json(res, 404, { error: 'not found' });
    try { json(res, 200, route(u)); } catch (e) {
      if (e instanceof BadParam) json(res, 400, { error: e.message, parameter: e.parameter });
      else json(res, 500, { error: String(e) });
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    resolve({ url: `http://127.0.0.1:${port}/`, requests, recs,
      close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) });
  }));
}

// Expected numbers straight from the records (independent of the UI).
export function expected(recs, pred, from = T0, to = T0 + BUCKETS * STEP) {
  let all = 0, hit = 0;
  for (const r of recs) {
    if (r.t < from || r.t >= to) continue;
    all += r.count;
    if (pred(r)) hit += r.count;
  }
  return { all, hit, share: all ? hit / all : 0 };
}

// A synthetic tree of about n nodes in the API's columnar form: random
// branching with Zipf-like weights, deterministic (xorshift seed).
export function bigTree(n, seed = 12345) {
  let s = seed >>> 0;
  const rnd = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
  const names = ['all'];
  for (let i = 0; i < 20000; i++) names.push(`fn_${i.toString(36)}_${['parse', 'emit', 'hash', 'alloc', 'lookup', 'send'][i % 6]}`);
  const nodes = { parent: [0], name: [0], module: [0], file: [0], line: [0], kind: [4], self: [0], total: [0] };
  const depth = [0];
  // grow: pick a parent biased to recent/shallow nodes so the tree is deep and bushy
  for (let i = 1; i < n; i++) {
    let p = i < 8 ? 0 : Math.floor(i * Math.pow(rnd(), 0.35));
    if (depth[p] > 60) p = nodes.parent[p];
    nodes.parent.push(p); depth.push(depth[p] + 1);
    nodes.name.push(1 + Math.floor(rnd() * (names.length - 1)));
    nodes.module.push(1 + (i % 3)); nodes.file.push(i % 5 ? 1 : 0); nodes.line.push(i % 997);
    nodes.kind.push(i < 8 ? 4 : depth[p] > 20 && rnd() < 0.3 ? 1 : rnd() < 0.05 ? 2 : rnd() < 0.02 ? 3 : 0);
    nodes.self.push(Math.floor(1 / Math.pow(rnd() + 1e-6, 0.9)));
    nodes.total.push(0);
  }
  for (let i = 0; i < n; i++) nodes.total[i] = nodes.self[i];
  for (let i = n - 1; i > 0; i--) nodes.total[nodes.parent[i]] += nodes.total[i];
  return { samples: nodes.total[0], names, modules: ['', '/usr/bin/app', '/usr/lib/libc.so.6', '[kernel]'],
    files: ['', 'app.c'], nodes, truncated: 0 };
}
