/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tree.js — the profile tree as typed arrays, and the pure computations over
 * it: layout (children sorted by name, x offsets, depths), search (matched
 * share counting each sample once), the top-functions table, and the two
 * derived trees of the sandwich view. No DOM, no fetch: used by the live UI
 * and by static reports that embed the data inline (`ember diff --html`).
 *
 * Input is the columnar JSON of GET /api/v1/tree or /diff (web/API.md).
 */
(function (E) {
  'use strict';

  var KIND = { USER: 0, KERNEL: 1, INLINED: 2, JIT: 3, PROCESS: 4, PYTHON: 5 };
  var KIND_NAMES = ['user', 'kernel', 'inlined', 'jit', 'process', 'python'];

  function typed(Ctor, arr, n) {
    /* the constructor copies a whole array natively: several times faster
     * than an element loop at 200,000 nodes (bench/ui-render) */
    if (arr && arr.length === n) return new Ctor(arr);
    var a = new Ctor(n);
    if (arr) for (var i = 0; i < n; i++) a[i] = arr[i];
    return a;
  }

  /* Build a tree from API JSON and lay it out. Throws on malformed input. */
  function fromJSON(j) {
    var c = j.nodes;
    if (!c || !c.parent || !j.names) throw new Error('tree: missing nodes or names');
    var n = c.parent.length;
    var t = {
      n: n,
      names: j.names,
      modules: j.modules && j.modules.length ? j.modules : [''],
      files: j.files && j.files.length ? j.files : [''],
      parent: typed(Uint32Array, c.parent, n),
      name: typed(Uint32Array, c.name, n),
      module: typed(Uint32Array, c.module, n),
      file: typed(Uint32Array, c.file, n),
      line: typed(Uint32Array, c.line, n),
      kind: typed(Uint8Array, c.kind, n),
      self: typed(Float64Array, c.self, n),
      total: typed(Float64Array, c.total, n),
      diff: !!c.base_total,
      samples: j.samples !== undefined ? j.samples : (n ? c.total[0] : 0),
    };
    if (t.diff) {
      t.baseSelf = typed(Float64Array, c.base_self, n);
      t.baseTotal = typed(Float64Array, c.base_total, n);
      t.baseSamples = j.base_samples !== undefined ? j.base_samples : (n ? c.base_total[0] : 0);
    }
    for (var i = 1; i < n; i++) {
      if (t.parent[i] >= i) throw new Error('tree: node ' + i + ' has parent ' + t.parent[i] + ' (must be smaller)');
      if (t.name[i] >= t.names.length) throw new Error('tree: node ' + i + ' name index out of range');
    }
    return prepare(t);
  }

  /*
   * Children in CSR form (childStart/childList), siblings sorted by name;
   * x = offset in samples from the left edge of the root; depth; maxDepth =
   * deepest node of the subtree. parent[i] < i lets every pass be one loop.
   */
  function prepare(t) {
    var n = t.n, i, parent = t.parent, name = t.name, total = t.total;
    var rank = nameRanks(t.names);
    var count = new Uint32Array(n + 1);
    for (i = 1; i < n; i++) count[parent[i] + 1]++;
    for (i = 0; i < n; i++) count[i + 1] += count[i];
    var childStart = count; /* children of p: childList[childStart[p] .. childStart[p+1]) */
    var fill = childStart.slice(0, n);
    var childList = new Uint32Array(Math.max(n - 1, 0));
    /* siblings by name: a counting sort of all nodes by name rank, then a
     * stable distribution by parent (no comparator sort: 200k nodes in ms) */
    var nr = t.names.length, byRankStart = new Uint32Array(nr + 1);
    for (i = 1; i < n; i++) byRankStart[rank[name[i]] + 1]++;
    for (i = 0; i < nr; i++) byRankStart[i + 1] += byRankStart[i];
    var byRank = new Uint32Array(Math.max(n - 1, 0));
    for (i = 1; i < n; i++) byRank[byRankStart[rank[name[i]]]++] = i;
    for (var r = 0; r < byRank.length; r++) {
      var v = byRank[r];
      childList[fill[parent[v]]++] = v;
    }
    var x = new Float64Array(n), depth = new Uint16Array(n), maxDepth = new Uint16Array(n);
    for (i = 0; i < n; i++) {
      var off = x[i], d = depth[i] + 1, ce = childStart[i + 1];
      for (var k = childStart[i]; k < ce; k++) {
        var c = childList[k];
        x[c] = off; off += total[c];
        depth[c] = d;
      }
    }
    for (i = n - 1; i > 0; i--) {
      if (depth[i] > maxDepth[i]) maxDepth[i] = depth[i];
      var p = parent[i];
      if (maxDepth[i] > maxDepth[p]) maxDepth[p] = maxDepth[i];
    }
    t.childStart = childStart; t.childList = childList;
    t.x = x; t.depth = depth; t.maxDepth = maxDepth;
    return t;
  }

  function nameRanks(names) {
    var idx = names.map(function (_, i) { return i; });
    idx.sort(function (a, b) { return names[a] < names[b] ? -1 : names[a] > names[b] ? 1 : 0; });
    var rank = new Uint32Array(names.length);
    for (var i = 0; i < idx.length; i++) rank[idx[i]] = i;
    return rank;
  }

  /* Path of node i from the root's child down: [names...] (for the URL). */
  function pathOf(t, i) {
    var p = [];
    while (i !== 0) { p.push(t.names[t.name[i]]); i = t.parent[i]; }
    return p.reverse();
  }

  /* Node reached by following names from the root; the deepest match.
   * Siblings may share a name (an inlined call at two lines, the same
   * function in two modules): every one is tried, and the path that goes
   * deepest wins, the widest on a tie. */
  function findPath(t, path) {
    var best = 0, bestDepth = 0;
    function walk(cur, k) {
      if (k > bestDepth || (k === bestDepth && k > 0 && t.total[cur] > t.total[best])) {
        best = cur; bestDepth = k;
      }
      if (k === path.length) return;
      for (var j = t.childStart[cur]; j < t.childStart[cur + 1]; j++) {
        var c = t.childList[j];
        if (t.names[t.name[c]] === path[k]) walk(c, k + 1);
      }
    }
    walk(0, 0);
    return best;
  }

  function ancestors(t, i) {
    var a = [];
    while (i !== 0) { i = t.parent[i]; a.push(i); }
    return a.reverse();
  }

  /*
   * Compile a search: plain text is a case-insensitive substring, regex
   * mode a case-insensitive RegExp. Returns {test: fn(name)} or throws
   * with a message fit for the user on a bad regex.
   */
  function compileSearch(text, isRegex) {
    if (!text) return null;
    if (isRegex) {
      var re = new RegExp(text, 'i');
      return { test: function (s) { return re.test(s); } };
    }
    var needle = text.toLowerCase();
    return { test: function (s) { return s.toLowerCase().indexOf(needle) >= 0; } };
  }

  /*
   * Mark nodes whose name matches; matched = samples under a matching node
   * with no matching ancestor, so a sample counts once however many frames
   * on its path match. within: only that node's subtree (default root).
   * Returns {match: Uint8Array, samples, total}.
   */
  function search(t, matcher, within) {
    var n = t.n, i;
    var nameHit = new Int8Array(t.names.length); /* 0 untested, 1 hit, -1 miss */
    var match = new Uint8Array(n), under = new Uint8Array(n);
    var samples = 0;
    for (i = 1; i < n; i++) {
      var ni = t.name[i];
      if (nameHit[ni] === 0) nameHit[ni] = matcher.test(t.names[ni]) ? 1 : -1;
      var p = t.parent[i];
      if (nameHit[ni] === 1 && t.kind[i] !== KIND.PROCESS) {
        match[i] = 1;
        if (!under[p]) samples += t.total[i];
      }
      under[i] = under[p] | match[i];
    }
    var root = within || 0, inZoom = samples;
    if (root !== 0) {
      inZoom = 0;
      if (under[root]) inZoom = t.total[root];
      else {
        /* matched subtrees inside the zoomed node: walk it */
        var stack = [root];
        while (stack.length) {
          var v = stack.pop();
          for (var k = t.childStart[v]; k < t.childStart[v + 1]; k++) {
            var c = t.childList[k];
            if (match[c]) inZoom += t.total[c];
            else stack.push(c);
          }
        }
      }
    }
    return { match: match, samples: samples, total: t.total[0], zoomSamples: inZoom, zoomTotal: t.total[root] };
  }

  /*
   * The function an inlined node v's own samples also count for: that of
   * the first frame above it that is not inlined, -1 when a process node
   * or the root comes first. key: function id per node.
   */
  function inlinedInto(t, key, v) {
    var j = t.parent[v];
    while (j !== 0 && t.kind[j] === KIND.INLINED) j = t.parent[j];
    return j === 0 ? -1 : key[j];
  }

  /*
   * Top functions by (name, module, kind), with the storage API's rule
   * (storage.h, store_tree__top), so the UI's table shows what report,
   * diff and /api/v1/top show: self is the samples whose leaf is the
   * function, and an inlined leaf's also count for the function it is
   * inlined into; total counted once per sample even under recursion
   * (only outermost occurrences add).
   * Returns [{name, module, kind, self, total, baseSelf?, baseTotal?}].
   */
  function top(t) {
    var n = t.n, map = new Map(), rows = [];
    var key = new Int32Array(n); /* function id per node */
    for (var i = 1; i < n; i++) {
      if (t.kind[i] === KIND.PROCESS) { key[i] = -1; continue; }
      var k = (t.name[i] * t.modules.length + t.module[i]) * 8 + t.kind[i];
      var id = map.get(k);
      if (id === undefined) {
        id = rows.length; map.set(k, id);
        rows.push({ name: t.names[t.name[i]], module: t.modules[t.module[i]] || '',
          kind: t.kind[i], self: 0, total: 0, baseSelf: 0, baseTotal: 0, node: i });
      }
      key[i] = id;
    }
    /* iterative DFS keeping how many times each function is on the path */
    var onPath = new Int32Array(rows.length);
    var stack = [0], exit = [];
    var visited = new Uint8Array(n);
    while (stack.length) {
      var v = stack[stack.length - 1];
      if (visited[v]) {
        stack.pop();
        if (v && key[v] >= 0) onPath[key[v]]--;
        continue;
      }
      visited[v] = 1;
      if (v && key[v] >= 0) {
        var r = rows[key[v]];
        r.self += t.self[v];
        if (t.diff) r.baseSelf += t.baseSelf[v];
        if (t.kind[v] === KIND.INLINED) {
          var into = inlinedInto(t, key, v);
          if (into >= 0) {
            rows[into].self += t.self[v];
            if (t.diff) rows[into].baseSelf += t.baseSelf[v];
          }
        }
        if (onPath[key[v]] === 0) {
          r.total += t.total[v];
          if (t.diff) r.baseTotal += t.baseTotal[v];
        }
        onPath[key[v]]++;
      }
      for (var j = t.childStart[v + 1] - 1; j >= t.childStart[v]; j--) stack.push(t.childList[j]);
    }
    void exit;
    return rows;
  }

  /* Outermost nodes of function (name, module, kind) — recursion counted once. */
  function occurrences(t, fname, fmodule) {
    var out = [], n = t.n, inside = new Uint8Array(n);
    for (var i = 1; i < n; i++) {
      var p = t.parent[i];
      var hit = t.kind[i] !== KIND.PROCESS && t.names[t.name[i]] === fname &&
        (fmodule === undefined || (t.modules[t.module[i]] || '') === fmodule);
      if (hit && !inside[p]) out.push(i);
      inside[i] = inside[p] | (hit ? 1 : 0);
    }
    return out;
  }

  /* A trie builder producing the same columnar shape as the API. */
  function builder(src) {
    var b = { parent: [0], name: [0], module: [0], file: [0], line: [0], kind: [KIND.PROCESS],
      self: [0], total: [0], base_self: [0], base_total: [0], kids: [new Map()] };
    var names = src.names.slice(), nameIdx = new Map();
    names.forEach(function (s, i) { if (!nameIdx.has(s)) nameIdx.set(s, i); });
    b.child = function (p, srcNode) {
      var k = src.name[srcNode] + ':' + src.module[srcNode] + ':' + src.file[srcNode] + ':' + src.line[srcNode] + ':' + src.kind[srcNode];
      var c = b.kids[p].get(k);
      if (c === undefined) {
        c = b.parent.length; b.kids[p].set(k, c); b.kids.push(new Map());
        b.parent.push(p); b.name.push(src.name[srcNode]); b.module.push(src.module[srcNode]);
        b.file.push(src.file[srcNode]); b.line.push(src.line[srcNode]); b.kind.push(src.kind[srcNode]);
        b.self.push(0); b.total.push(0); b.base_self.push(0); b.base_total.push(0);
      }
      return c;
    };
    b.done = function (rootName) {
      if (rootName !== undefined) {
        var ri = nameIdx.get(rootName);
        if (ri === undefined) { ri = names.length; names.push(rootName); }
        b.name[0] = ri;
      }
      var nodes = { parent: b.parent, name: b.name, module: b.module, file: b.file, line: b.line,
        kind: b.kind, self: b.self, total: b.total };
      if (src.diff) { nodes.base_self = b.base_self; nodes.base_total = b.base_total; }
      return fromJSON({ names: names, modules: src.modules, files: src.files, nodes: nodes,
        samples: src.samples, base_samples: src.baseSamples });
    };
    return b;
  }

  /*
   * Sandwich view of one function: callers (root = the function, children
   * = its callers, up to the process) and callees (root = the function,
   * its merged subtrees). Both weighted by the outermost occurrences'
   * totals; returned as ordinary trees for the same renderer.
   */
  function sandwich(t, fname, fmodule) {
    var occ = occurrences(t, fname, fmodule);
    var up = builder(t), down = builder(t);
    var diff = t.diff;
    occ.forEach(function (o) {
      /* callers: o's ancestors, nearest first, below the function node */
      var w = t.total[o], bw = diff ? t.baseTotal[o] : 0;
      up.total[0] += w; if (diff) up.base_total[0] += bw;
      var cur = 0, a = t.parent[o];
      while (a !== 0) {
        cur = up.child(cur, a);
        up.total[cur] += w; if (diff) up.base_total[cur] += bw;
        a = t.parent[a];
      }
      up.self[cur] += w; if (diff) up.base_self[cur] += bw;
      /* callees: merge o's subtree */
      down.total[0] += w; down.self[0] += t.self[o];
      if (diff) { down.base_total[0] += bw; down.base_self[0] += t.baseSelf[o]; }
      var stack = [[o, 0]];
      while (stack.length) {
        var e = stack.pop(), v = e[0], into = e[1];
        for (var k = t.childStart[v]; k < t.childStart[v + 1]; k++) {
          var c = t.childList[k], d = down.child(into, c);
          down.total[d] += t.total[c]; down.self[d] += t.self[c];
          if (diff) { down.base_total[d] += t.baseTotal[c]; down.base_self[d] += t.baseSelf[c]; }
          stack.push([c, d]);
        }
      }
    });
    var callers = up.done(fname), callees = down.done(fname);
    if (occ.length) {
      var o0 = occ[0];
      [callers, callees].forEach(function (s) {
        s.module[0] = t.module[o0]; s.file[0] = t.file[o0]; s.line[0] = t.line[o0]; s.kind[0] = t.kind[o0];
      });
    }
    return { callers: callers, callees: callees, occurrences: occ.length };
  }

  E.tree = {
    KIND: KIND, KIND_NAMES: KIND_NAMES,
    fromJSON: fromJSON, prepare: prepare, pathOf: pathOf, findPath: findPath,
    ancestors: ancestors, compileSearch: compileSearch, search: search, top: top,
    occurrences: occurrences, sandwich: sandwich,
  };
})(window.Ember = window.Ember || {});
