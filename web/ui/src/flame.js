/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flame.js — the flame graph renderer: draws a prepared tree (tree.js) on a
 * 2D canvas and answers hit tests. Pure over its inputs (tree, view,
 * highlight): no fetch, no URL, no global state, so static reports can use
 * it with inline data.
 *
 * Speed: one fillRect per visible frame; a subtree narrower than
 * MIN_WIDTH css pixels is skipped whole (its children are narrower still),
 * so cost follows what is visible, not the node count. Labels use a
 * monospace font so truncation needs no measureText per frame.
 */
(function (E) {
  'use strict';

  var ROW = 18, MIN_WIDTH = 0.5, FONT_PX = 11;
  var FONT = FONT_PX + 'px ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace';
  var K = E.tree.KIND;

  /* Kind palettes (hue ranges) for the legend and the frames. */
  var PALETTE = [
    { kind: K.USER, label: 'user', h: [18, 42], s: 78, l: [62, 70] },
    { kind: K.KERNEL, label: 'kernel', h: [196, 214], s: 60, l: [64, 72] },
    { kind: K.INLINED, label: 'inlined', h: [88, 118], s: 45, l: [60, 68] },
    { kind: K.JIT, label: 'JIT', h: [268, 290], s: 48, l: [70, 77] },
    { kind: K.PROCESS, label: 'process', h: [220, 220], s: 10, l: [78, 82] },
    { kind: K.PYTHON, label: 'Python', h: [160, 176], s: 52, l: [56, 66] },
  ];
  var HIGHLIGHT = '#e6007e';

  function hash(s) {
    var h = 2166136261;
    for (var i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); }
    return (h >>> 0) / 4294967296;
  }

  function kindColor(kind, name) {
    var p = PALETTE[kind] || PALETTE[0], v = hash(name);
    var h = p.h[0] + (p.h[1] - p.h[0]) * v;
    var l = p.l[0] + (p.l[1] - p.l[0]) * ((v * 7) % 1);
    return 'hsl(' + h.toFixed(1) + ',' + p.s + '%,' + l.toFixed(1) + '%)';
  }

  /* Share change in percentage points (head minus base) of node i. */
  function diffDelta(t, i) {
    var head = t.samples ? t.total[i] / t.samples : 0;
    var base = t.baseSamples ? t.baseTotal[i] / t.baseSamples : 0;
    return (head - base) * 100;
  }

  /* Red grew, blue shrank; |delta| >= scale points is full strength. */
  function diffColor(delta, scale) {
    var a = Math.min(1, Math.abs(delta) / scale);
    if (a < 0.02) return 'hsl(0,0%,86%)';
    var l = 88 - 38 * a, s = 30 + 55 * a;
    return delta > 0 ? 'hsl(0,' + s.toFixed(0) + '%,' + l.toFixed(0) + '%)'
      : 'hsl(215,' + s.toFixed(0) + '%,' + l.toFixed(0) + '%)';
  }

  function diffScale(t) {
    var m = 0;
    for (var i = 1; i < t.n; i++) {
      var d = Math.abs(diffDelta(t, i));
      if (d > m) m = d;
    }
    return Math.max(m, 1);
  }

  /*
   * Create a renderer on a canvas. opts: {icicle: bool}. Methods:
   *   setTree(tree), setZoom(node), setHighlight(Uint8Array|null),
   *   setMode('flame'|'icicle'), render() -> stats, frameAt(cssX, cssY),
   *   rectOf(node) -> {x, y, w, h} in css px or null, height().
   */
  function create(canvas, opts) {
    opts = opts || {};
    var ctx = canvas.getContext('2d', { alpha: false });
    var st = { tree: null, zoom: 0, icicle: !!opts.icicle, match: null, scale: 1,
      colors: null, charW: 0, dscale: 1, selected: -1, hover: -1 };

    function setTree(t) {
      st.tree = t; st.zoom = 0; st.match = null; st.hover = -1;
      st.colors = new Array(t.n);
      st.dscale = t.diff ? diffScale(t) : 1;
    }

    function color(i) {
      var c = st.colors[i];
      if (c === undefined) {
        var t = st.tree;
        c = t.diff && t.kind[i] !== K.PROCESS && i !== 0 ? diffColor(diffDelta(t, i), st.dscale)
          : kindColor(t.kind[i], t.names[t.name[i]]);
        st.colors[i] = c;
      }
      return c;
    }

    /* rows: ancestors of the zoom node, then the zoom subtree */
    function rows() {
      var t = st.tree;
      return t.depth[st.zoom] + (t.maxDepth[st.zoom] - t.depth[st.zoom]) + 1;
    }

    function height() { return st.tree ? rows() * ROW + 4 : ROW; }

    function rowY(depth, nrows) {
      return st.icicle ? depth * ROW : (nrows - 1 - depth) * ROW;
    }

    function render() {
      var t0 = performance.now();
      var t = st.tree, dpr = window.devicePixelRatio || 1;
      var cssW = canvas.clientWidth || canvas.parentNode.clientWidth || 800;
      var cssH = height();
      if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
        canvas.width = Math.round(cssW * dpr); canvas.height = Math.round(cssH * dpr);
        canvas.style.height = cssH + 'px';
      }
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(0, 0, cssW, cssH);
      var drawn = 0, labels = 0, skipped = 0;
      if (!t || t.n === 0 || t.total[0] === 0) return { ms: performance.now() - t0, drawn: 0, labels: 0, skipped: 0 };
      ctx.font = FONT; ctx.textBaseline = 'middle';
      if (!st.charW) st.charW = ctx.measureText('0000000000').width / 10;
      var z = st.zoom, nrows = rows(), x0 = t.x[z];
      var scale = cssW / t.total[z];
      st.scale = scale;
      var match = st.match, dim = !!match;
      var textQueue = [];
      var drawFrame = function (i, x, w, depth) {
        var y = rowY(depth, nrows);
        var c = match && match[i] ? HIGHLIGHT : color(i);
        if (dim && !match[i]) { ctx.globalAlpha = 0.35; }
        ctx.fillStyle = c;
        ctx.fillRect(x, y, w - (w > 2 ? 0.5 : 0), ROW - 1);
        if (dim && !match[i]) ctx.globalAlpha = 1;
        drawn++;
        if (w > st.charW * 3 + 6) textQueue.push(i, x, w, y);
      };
      /* ancestors of the zoom node at full width */
      var anc = E.tree.ancestors(t, z);
      for (var a = 0; a < anc.length; a++) drawFrame(anc[a], 0, cssW, t.depth[anc[a]]);
      /* the zoom subtree, skipping subtrees too narrow to see */
      var stack = [z];
      var cs = t.childStart, cl = t.childList, tot = t.total, xs = t.x, dep = t.depth;
      while (stack.length) {
        var i = stack.pop();
        var w = tot[i] * scale;
        if (w < MIN_WIDTH) { skipped++; continue; }
        drawFrame(i, (xs[i] - x0) * scale, w, dep[i]);
        for (var k = cs[i]; k < cs[i + 1]; k++) stack.push(cl[k]);
      }
      /* labels in one pass: one fillStyle, no per-frame measureText */
      ctx.fillStyle = '#1d1f23';
      for (var q = 0; q < textQueue.length; q += 4) {
        var n = textQueue[q], tx = textQueue[q + 1], tw = textQueue[q + 2], ty = textQueue[q + 3];
        var name = t.names[t.name[n]];
        var fit = Math.floor((tw - 6) / st.charW);
        if (fit < 3) continue;
        var s = name.length <= fit ? name : name.slice(0, fit - 1) + '\u2026';
        if (dim && !match[n]) ctx.globalAlpha = 0.5;
        ctx.fillStyle = match && match[n] ? '#ffffff' : '#1d1f23';
        ctx.fillText(s, tx + 3, ty + ROW / 2);
        if (dim && !match[n]) ctx.globalAlpha = 1;
        labels++;
      }
      if (st.hover >= 0) {
        var r = rectOf(st.hover);
        if (r) { ctx.strokeStyle = '#111'; ctx.lineWidth = 1; ctx.strokeRect(r.x + 0.5, r.y + 0.5, Math.max(r.w - 1, 1), r.h - 2); }
      }
      return { ms: performance.now() - t0, drawn: drawn, labels: labels, skipped: skipped, nodes: t.n };
    }

    /* Node under a css-pixel point, or -1. */
    function frameAt(px, py) {
      var t = st.tree;
      if (!t || !t.n) return -1;
      var nrows = rows(), r = Math.floor(py / ROW);
      var depth = st.icicle ? r : nrows - 1 - r;
      if (depth < 0 || depth >= nrows || py - r * ROW >= ROW - 1) return -1;
      var z = st.zoom;
      if (depth < t.depth[z]) {
        var anc = E.tree.ancestors(t, z);
        return anc[depth];
      }
      var sx = t.x[z] + px / st.scale, cur = z;
      if (sx < t.x[z] || sx >= t.x[z] + t.total[z]) return -1;
      for (var d = t.depth[z]; d < depth; d++) {
        var lo = t.childStart[cur], hi = t.childStart[cur + 1] - 1, found = -1;
        while (lo <= hi) { /* children are in x order */
          var mid = (lo + hi) >> 1, c = t.childList[mid];
          if (sx < t.x[c]) hi = mid - 1;
          else if (sx >= t.x[c] + t.total[c]) lo = mid + 1;
          else { found = c; break; }
        }
        if (found < 0) return -1;
        cur = found;
      }
      return t.total[cur] * st.scale < MIN_WIDTH ? -1 : cur;
    }

    /* Where node i is drawn (css px), or null when it is not drawn. */
    function rectOf(i) {
      var t = st.tree, z = st.zoom;
      if (!t || i < 0 || i >= t.n) return null;
      var nrows = rows(), y = rowY(t.depth[i], nrows);
      var isAnc = false;
      for (var a = z; a !== 0; a = t.parent[a]) if (t.parent[a] === i) isAnc = true;
      if (isAnc || (i === 0 && z !== 0)) return { x: 0, y: y, w: canvas.clientWidth, h: ROW };
      var v = i;
      while (v !== z && v !== 0) v = t.parent[v];
      if (v !== z) return null;
      var w = t.total[i] * st.scale;
      if (w < MIN_WIDTH) return null;
      return { x: (t.x[i] - t.x[z]) * st.scale, y: y, w: w, h: ROW };
    }

    return {
      setTree: setTree,
      setZoom: function (i) { st.zoom = i; },
      zoom: function () { return st.zoom; },
      setHighlight: function (m) { st.match = m; },
      setHover: function (i) { st.hover = i; },
      setMode: function (m) { st.icicle = m === 'icicle'; },
      mode: function () { return st.icicle ? 'icicle' : 'flame'; },
      render: render, frameAt: frameAt, rectOf: rectOf, height: height,
      tree: function () { return st.tree; },
      colorOf: function (i) { return color(i); },
    };
  }

  /* Legend entries: [{label, color}] for the kinds, or the diff scale. */
  function legend(diff) {
    if (diff) {
      return [{ label: 'grew', color: diffColor(1, 1) }, { label: 'unchanged', color: diffColor(0, 1) },
        { label: 'shrank', color: diffColor(-1, 1) }];
    }
    return PALETTE.map(function (p) {
      return { label: p.label, color: 'hsl(' + ((p.h[0] + p.h[1]) / 2) + ',' + p.s + '%,' + ((p.l[0] + p.l[1]) / 2) + '%)' };
    });
  }

  E.flame = { create: create, legend: legend, diffDelta: diffDelta, diffColor: diffColor,
    kindColor: kindColor, ROW: ROW, HIGHLIGHT: HIGHLIGHT };
})(window.Ember = window.Ember || {});
