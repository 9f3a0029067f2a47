/* SPDX-License-Identifier: Apache-2.0 */
/*
 * app.js — wires the page: the state (state.js, mirrored in the URL hash),
 * the data layer (api.js), and the views (flame.js, timeline.js, the top
 * table and the sandwich). Data is fetched again only when the range,
 * filters or diff settings change; zoom, search, mode and view only redraw.
 *
 * window.EMBER_DATA, when a page defines it before this script, makes the
 * page a static report over that data instead of talking to a server.
 */
(function (E) {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var T = E.tree, K = T.KIND;
  var api = window.EMBER_DATA ? E.api.inline(window.EMBER_DATA) : E.api.http(window.EMBER_API_BASE || '');
  var FILTER_LABELS = [['host', 'host'], ['process', 'process'], ['thread', 'thread'], ['cgroup', 'container']];

  var state = E.state.parse(location.hash);
  var meta = null, tree = null, labels = null, timelineData = null;
  var searchRes = null, topRows = null, lastStats = null, dataKey = '', seq = 0;
  var flame = E.flame.create($('flame'), { icicle: state.mode === 'icicle' });
  var callers = E.flame.create($('callers'), { icicle: false });
  var callees = E.flame.create($('callees'), { icicle: true });
  var timeline = E.timeline.create($('timeline'), onRangeSelected);
  var selectBase = false;

  /* ---------- formatting ---------- */
  /* 1234567 -> "1,234,567". Not toLocaleString: its first call in a page
   * loads the ICU number formatter, 20-100 ms on the first draw
   * (bench/ui-render). */
  function fmtN(v) { return String(Math.round(v)).replace(/\B(?=(\d{3})+(?!\d))/g, ','); }
  function pct(v, of) { return of ? (100 * v / of).toFixed(v / of < 0.001 && v ? 3 : 2) + '%' : '–'; }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function fmtRange(a, b) {
    if (a == null || b == null) return 'whole range';
    var d = function (s) { return new Date(s * 1000).toISOString().replace('T', ' ').replace('.000Z', 'Z'); };
    var len = b - a, l = len >= 3600 ? (len / 3600).toFixed(1) + ' h' : len >= 60 ? (len / 60).toFixed(1) + ' min' : len + ' s';
    return d(a) + ' → ' + d(b) + ' (' + l + ')';
  }

  /* ---------- state and URL ---------- */
  function headQuery() { return { from: state.from, to: state.to, filters: state.filters }; }
  function baseQuery() {
    return { from: state.bfrom != null ? state.bfrom : state.from, to: state.bto != null ? state.bto : state.to,
      filters: Object.keys(state.bfilters).length ? state.bfilters : state.filters };
  }
  function keyOf() {
    return JSON.stringify([headQuery(), state.diff ? baseQuery() : null]);
  }
  function commit(reload) {
    var h = E.state.format(state);
    if (location.hash !== h && !(h === '#' && !location.hash)) history.replaceState(null, '', h);
    if (reload || keyOf() !== dataKey) load(); else draw();
  }
  window.addEventListener('hashchange', function () {
    state = E.state.parse(location.hash);
    syncControls();
    commit(false);
  });

  /* ---------- loading ---------- */
  function showError(err) {
    var el = $('error');
    if (!err) { el.hidden = true; return; }
    el.hidden = false;
    el.textContent = err.message + (err.parameter ? ' (parameter: ' + err.parameter + ')' : '');
  }

  function load() {
    var my = ++seq;
    E.api.mark('load');
    dataKey = keyOf();
    document.body.classList.add('loading');
    var treeP = state.diff ? api.diff(headQuery(), baseQuery()) : api.tree(headQuery());
    var tlP = api.timeline(headQuery()).catch(function () { return null; });
    var lbP = api.labels(headQuery()).catch(function () { return null; });
    /* The flame graph is drawn as soon as its tree is here: the label
     * values over a long range can take longer than the tree (bench/
     * api-latency: /labels over 24 h ~1 s), and the timeline and the filters
     * fill in when theirs arrive. The page counts as loaded when all are. */
    var drawnP = treeP.then(function (data) {
      if (my !== seq) return;
      showError(null);
      E.api.mark('data');
      var t0 = performance.now();
      tree = T.fromJSON(data);
      var prepMs = performance.now() - t0;
      E.api.mark('prepared');
      flame.setTree(tree);
      searchRes = null; topRows = null;
      renderSummary();
      draw();
      lastStats.prepareMs = prepMs;
      renderStatus();
      E.api.mark('drawn');
    });
    var tlDone = tlP.then(function (r) {
      if (my !== seq) return;
      timelineData = r;
      return drawnP.then(function () { if (my === seq) { renderTimeline(); refit(); } });
    });
    var lbDone = lbP.then(function (r) {
      if (my !== seq) return;
      labels = r;
      return drawnP.then(function () { if (my === seq) { renderFilters(); refit(); } });
    });
    return Promise.all([drawnP, tlDone, lbDone]).then(function () {
      if (my !== seq) return;
      document.body.classList.remove('loading');
      document.body.dataset.loaded = String(my);
    }).catch(function (err) {
      if (my !== seq || err.name === 'AbortError') return;
      document.body.classList.remove('loading');
      showError(err);
    });
  }

  /* ---------- header ---------- */
  function renderSummary() {
    var parts = [];
    /* Events (a slow path taken, a stack cut short) happened to samples
     * that are in the profile: told on hover, never as losses. Only
     * drops, samples that are not in the profile, are shown as such. */
    var events = meta && meta.events && meta.events.length ? meta.events : [];
    var evTitle = events.length ? ' title="' + esc('Events (these samples were kept):\n' +
      events.map(function (x) { return x.name + ': ' + fmtN(x.count); }).join('\n')) + '"' : '';
    /* an imported heap or contention profile counts bytes or delay */
    var unit = meta && meta.meta && meta.meta.count_unit && meta.meta.count_unit !== 'samples' ? meta.meta.count_unit : 'samples';
    if (tree) parts.push('<span id="summary-samples"' + evTitle + '><b>' + fmtN(tree.samples) + '</b> ' + esc(unit) + '</span>');
    if (tree && tree.diff) parts.push('base <b>' + fmtN(tree.baseSamples) + '</b>');
    var lost = meta && meta.drops ? meta.drops.filter(function (x) { return x.count > 0; }) : [];
    if (lost.length) {
      var d = lost.reduce(function (a, x) { return a + x.count; }, 0);
      parts.push('<span id="summary-dropped" class="warn" title="' + esc('Samples lost, not in the profile:\n' +
        lost.map(function (x) { return x.reason + ': ' + fmtN(x.count); }).join('\n')) +
        '">' + fmtN(d) + ' dropped</span>');
    }
    if (meta && meta.meta && meta.meta.command) parts.push('<span class="muted">' + esc(meta.meta.command) + '</span>');
    /* the fleet store (ember serve --store): every host's samples */
    if (isFleet()) {
      var nh = labelValues('host').length;
      parts.push('<span id="summary-fleet" class="muted">fleet' + (nh ? ' of ' + fmtN(nh) + ' host' + (nh === 1 ? '' : 's') : '') + '</span>');
    }
    $('summary').innerHTML = parts.join(' · ');
    ['pprof', 'folded', 'speedscope'].forEach(function (f) {
      var a = $('export-' + f), u = api.exportUrl(f, headQuery());
      if (u) a.href = u; else a.removeAttribute('href');
      a.classList.toggle('disabled', !u);
    });
  }

  function renderStatus() {
    var s = lastStats;
    if (!s || !tree) { $('status').textContent = ''; return; }
    $('status').textContent = fmtN(tree.n) + ' nodes · drew ' + fmtN(s.drawn) + ' frames, ' + fmtN(s.labels) +
      ' labels in ' + s.ms.toFixed(1) + ' ms' + (s.prepareMs != null ? ' · layout ' + s.prepareMs.toFixed(1) + ' ms' : '');
  }

  /* ---------- filters ---------- */
  function isFleet() { return !!(meta && meta.store === 'clickhouse'); }

  function labelValues(name) {
    if (!labels || !labels.labels) return [];
    var l = labels.labels.filter(function (x) { return x.name === name; })[0];
    return l ? l.values : [];
  }

  function renderFilters() {
    var sets = [['filters-head', state.filters, false], ['filters-base', state.bfilters, true]];
    $('filters-base').hidden = !state.diff;
    sets.forEach(function (s) {
      var row = $(s[0]), filters = s[1];
      while (row.children.length > 1) row.removeChild(row.lastChild);
      var names = FILTER_LABELS.slice();
      if (labels && labels.labels) {
        labels.labels.forEach(function (l) {
          if (E.api.BUILTIN.indexOf(l.name) < 0) names.push([l.name, l.name]);
        });
      }
      Object.keys(filters).forEach(function (k) {
        if (!names.some(function (n) { return n[0] === k; })) names.push([k, k]);
      });
      names.forEach(function (n) {
        var wrap = document.createElement('label');
        wrap.className = 'filter';
        var cap = document.createElement('span');
        cap.textContent = n[1];
        /* a fleet: the host selector comes first, every host, all by default */
        var fleetHost = n[0] === 'host' && isFleet();
        if (fleetHost) { wrap.className = 'filter fleet-host'; cap.textContent = 'host (fleet)'; }
        var sel = document.createElement('select');
        sel.dataset.label = n[0];
        sel.id = (s[2] ? 'bfilter-' : 'filter-') + n[0];
        var opt = new Option(fleetHost ? 'all hosts' : 'any', '');
        sel.add(opt);
        var vals = labelValues(n[0]), cur = filters[n[0]];
        vals.forEach(function (v) { sel.add(new Option(v.value + '  (' + fmtN(v.samples) + ')', v.value)); });
        if (cur && !vals.some(function (v) { return v.value === cur; })) sel.add(new Option(cur, cur));
        sel.value = cur || '';
        sel.disabled = vals.length === 0 && !cur;
        sel.addEventListener('change', function () {
          if (sel.value) filters[n[0]] = sel.value; else delete filters[n[0]];
          state.zoom = [];
          commit(false);
        });
        wrap.appendChild(cap); wrap.appendChild(sel);
        row.appendChild(wrap);
      });
    });
    if (isFleet()) renderSummary(); /* its host count */
  }

  /* ---------- timeline ---------- */
  function renderTimeline() {
    var d = timelineData;
    if (d) timeline.setData({ from: d.from, to: d.from + d.step * d.samples.length, step: d.step, samples: d.samples, drops: d.drops });
    var sel = state.from != null && state.to != null ? [state.from, state.to] : null;
    var base = state.diff ? [baseQuery().from, baseQuery().to] : null;
    if (base && (base[0] == null || base[1] == null)) base = null;
    timeline.setSelection(sel, base);
    $('range-text').textContent = state.diff ? 'head ' + fmtRange(state.from, state.to) + ' · base ' + fmtRange(baseQuery().from, baseQuery().to)
      : fmtRange(state.from, state.to);
  }

  function onRangeSelected(a, b, isBase) {
    if (isBase && state.diff) { state.bfrom = a; state.bto = b; }
    else { state.from = a; state.to = b; }
    state.zoom = [];
    commit(false);
  }

  /* ---------- flame graph ---------- */
  function applySearch() {
    var m = null;
    $('search').classList.remove('bad');
    try { m = T.compileSearch(state.q, state.re); } catch (e) { $('search').classList.add('bad'); }
    if (!m || !tree) { searchRes = null; $('search-result').textContent = ''; return null; }
    searchRes = T.search(tree, m, flame.zoom());
    var r = searchRes, el = $('search-result');
    el.innerHTML = '<b>' + pct(r.samples, r.total) + '</b> of samples matched (' + fmtN(r.samples) + ' of ' + fmtN(r.total) + ')' +
      (flame.zoom() !== 0 ? ' · ' + pct(r.zoomSamples, r.zoomTotal) + ' of zoomed' : '');
    el.dataset.share = (r.total ? r.samples / r.total : 0).toFixed(6);
    return searchRes.match;
  }

  function draw() {
    document.body.dataset.view = state.view;
    if (!tree) return;
    ['flame', 'top', 'sandwich'].forEach(function (v) { $('view-' + v).hidden = state.view !== v; });
    document.querySelectorAll('.tab').forEach(function (b) { b.classList.toggle('on', b.dataset.view === state.view); });
    document.querySelectorAll('#mode-seg .seg-btn').forEach(function (b) { b.classList.toggle('on', b.dataset.mode === state.mode); });
    $('mode-seg').style.visibility = state.view === 'flame' ? '' : 'hidden';
    var z = T.findPath(tree, state.zoom);
    flame.setZoom(z);
    flame.setMode(state.mode);
    var match = applySearch();
    flame.setHighlight(match);
    renderLegend();
    renderCrumbs();
    if (state.view === 'flame') {
      lastStats = flame.render();
      fit($('flame'), flame, firstScreenHeight($('flame')), [tree, z, state.mode]);
    } else if (state.view === 'top') renderTop();
    else renderSandwich();
    renderStatus();
  }

  /*
   * The first screen shows the root and the widest frames: a graph deeper
   * than the room left below its top scrolls in its own box instead of
   * stretching the page, and the box starts at the root (the top in icicle
   * mode, the bottom in flame mode). The scroll position is set again only
   * when what is drawn changes (tree, zoom, mode), not on hover redraws.
   */
  function firstScreenHeight(canvas) {
    var wrap = canvas.parentNode, r = wrap.getBoundingClientRect();
    /* what stays under the graph: the hint, the status line, margins */
    var below = document.documentElement.scrollHeight - (r.bottom + window.scrollY);
    return Math.max(200, Math.floor(window.innerHeight - (r.top + window.scrollY) - Math.max(0, below)));
  }

  function fit(canvas, renderer, maxPx, key) {
    var wrap = canvas.parentNode;
    wrap.style.maxHeight = maxPx + 'px';
    var k = wrap.emberKey;
    if (k && k.length === key.length && k.every(function (v, i) { return v === key[i]; })) return;
    wrap.emberKey = key;
    wrap.scrollTop = renderer.mode() === 'icicle' ? 0 : wrap.scrollHeight;
  }

  /* The filters and the timeline fill in after the graph is drawn and
   * move it down: its box is measured again (its scroll stays). */
  function refit() {
    if (!tree) return;
    if (state.view === 'flame') {
      fit($('flame'), flame, firstScreenHeight($('flame')), $('flame').parentNode.emberKey || []);
    } else if (state.view === 'sandwich') {
      var half = Math.max(160, Math.floor(firstScreenHeight($('callers')) / 2));
      ['callers', 'callees'].forEach(function (id) {
        var r = id === 'callers' ? callers : callees;
        fit($(id), r, half, $(id).parentNode.emberKey || []);
      });
    }
  }

  function renderLegend() {
    var items = E.flame.legend(tree && tree.diff);
    var html = items.map(function (i) {
      return '<span class="lg"><i style="background:' + i.color + '"></i>' + esc(i.label) + '</span>';
    }).join('');
    if (state.q && !(tree && tree.diff)) html += '<span class="lg"><i style="background:' + E.flame.HIGHLIGHT + '"></i>match</span>';
    $('legend').innerHTML = html;
  }

  function renderCrumbs() {
    var el = $('crumbs'), z = flame.zoom();
    var chain = z === 0 ? [] : T.ancestors(tree, z).concat([z]);
    if (!chain.length) chain = [0];
    el.innerHTML = '';
    chain.forEach(function (i, k) {
      if (k) el.appendChild(document.createTextNode(' › '));
      var b = document.createElement('button');
      b.className = 'crumb' + (i === z ? ' cur' : '');
      b.textContent = i === 0 ? 'all' : tree.names[tree.name[i]];
      b.dataset.node = i;
      b.addEventListener('click', function () { zoomTo(i); });
      el.appendChild(b);
    });
  }

  function zoomTo(i) {
    state.zoom = i === 0 ? [] : T.pathOf(tree, i);
    commit(false);
  }

  function tooltipHTML(t, i, zoomNode) {
    var name = t.names[t.name[i]], mod = t.modules[t.module[i]] || '', file = t.files[t.file[i]] || '';
    var rows = [];
    rows.push('<div class="tt-name">' + esc(name) + '</div>');
    rows.push('<div class="tt-kind"><span class="kind k' + t.kind[i] + '">' + T.KIND_NAMES[t.kind[i]] + '</span>' +
      (mod && mod !== file ? ' <span class="muted">' + esc(mod) + '</span>' : '') + '</div>');
    if (file) rows.push('<div class="muted">' + esc(file) + (t.line[i] ? ':' + t.line[i] : '') + '</div>');
    var tbl = '<table>';
    tbl += '<tr><td>Total</td><td>' + fmtN(t.total[i]) + '</td><td>' + pct(t.total[i], t.samples) + '</td>' +
      (zoomNode ? '<td class="muted">' + pct(t.total[i], t.total[zoomNode]) + ' of zoom</td>' : '<td></td>') + '</tr>';
    tbl += '<tr><td>Self</td><td>' + fmtN(t.self[i]) + '</td><td>' + pct(t.self[i], t.samples) + '</td><td></td></tr>';
    if (t.diff) {
      var d = E.flame.diffDelta(t, i);
      tbl += '<tr><td>Base total</td><td>' + fmtN(t.baseTotal[i]) + '</td><td>' + pct(t.baseTotal[i], t.baseSamples) + '</td><td></td></tr>';
      tbl += '<tr><td>Base self</td><td>' + fmtN(t.baseSelf[i]) + '</td><td>' + pct(t.baseSelf[i], t.baseSamples) + '</td><td></td></tr>';
      tbl += '<tr class="' + (d > 0 ? 'grew' : d < 0 ? 'shrank' : '') + '"><td>Change</td><td colspan="3">' +
        (d > 0 ? '+' : '') + d.toFixed(2) + ' pp of samples</td></tr>';
    }
    tbl += '</table>';
    rows.push(tbl);
    return rows.join('');
  }

  function attachCanvas(canvas, renderer, onClick) {
    var tip = $('tooltip');
    canvas.addEventListener('mousemove', function (ev) {
      var t = renderer.tree();
      if (!t) return;
      var r = canvas.getBoundingClientRect();
      var i = renderer.frameAt(ev.clientX - r.left, ev.clientY - r.top);
      renderer.setHover(i);
      if (i < 0) { tip.hidden = true; canvas.style.cursor = ''; renderer.render(); return; }
      canvas.style.cursor = 'pointer';
      tip.innerHTML = tooltipHTML(t, i, renderer.zoom() !== 0 ? renderer.zoom() : 0);
      tip.hidden = false;
      var x = ev.clientX + 14, y = ev.clientY + 16;
      var w = tip.offsetWidth, h = tip.offsetHeight;
      if (x + w > window.innerWidth - 8) x = ev.clientX - w - 14;
      if (y + h > window.innerHeight - 8) y = ev.clientY - h - 12;
      tip.style.left = x + 'px'; tip.style.top = y + 'px';
      renderer.render();
    });
    canvas.addEventListener('mouseleave', function () { tip.hidden = true; renderer.setHover(-1); renderer.render(); });
    canvas.addEventListener('click', function (ev) {
      var r = canvas.getBoundingClientRect();
      var i = renderer.frameAt(ev.clientX - r.left, ev.clientY - r.top);
      if (i >= 0) onClick(i, ev);
    });
    canvas.addEventListener('contextmenu', function (ev) {
      var r = canvas.getBoundingClientRect();
      var i = renderer.frameAt(ev.clientX - r.left, ev.clientY - r.top), t = renderer.tree();
      if (i <= 0 || t.kind[i] === K.PROCESS) return;
      ev.preventDefault();
      tip.hidden = true;
      openSandwich(t.names[t.name[i]], t.modules[t.module[i]] || '');
    });
  }

  function openSandwich(name, module) {
    state.fn = name; state.fnmod = module; state.view = 'sandwich';
    commit(false);
  }

  /* ---------- top table ---------- */
  function bar(v, of) {
    var w = (100 * v / (of || 1)).toFixed(1);
    return '<td class="bar" style="background:linear-gradient(to left,#fde3d0 ' + w + '%,transparent ' + w + '%)">' + pct(v, of) + '</td>';
  }

  function renderTop() {
    if (!topRows) topRows = T.top(tree);
    var t = tree, samples = t.samples, bs = t.baseSamples;
    var rows = topRows;
    var m = null;
    try { m = T.compileSearch(state.q, state.re); } catch (e) { m = null; }
    if (m) rows = rows.filter(function (r) { return m.test(r.name); });
    var delta = function (r) { return t.diff ? (r.total / (samples || 1) - r.baseTotal / (bs || 1)) * 100 : 0; };
    var key = state.sort;
    rows = rows.slice().sort(function (a, b) {
      if (key === 'name') return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
      if (key === 'delta') return delta(b) - delta(a);
      if (key === 'total') return b.total - a.total || b.self - a.self;
      return b.self - a.self || b.total - a.total;
    });
    var shown = rows.slice(0, 500);
    var html = shown.map(function (r) {
      var d = delta(r);
      return '<tr data-name="' + esc(r.name) + '" data-module="' + esc(r.module) + '">' +
        '<td class="l fn"><span class="sw k' + r.kind + '"></span>' + esc(r.name) + '</td>' +
        '<td class="l muted mod" title="' + esc(r.module) + '">' + esc(r.module.split('/').pop()) + '</td>' +
        '<td class="l">' + T.KIND_NAMES[r.kind] + '</td>' +
        '<td>' + fmtN(r.self) + '</td>' + bar(r.self, samples) +
        '<td>' + fmtN(r.total) + '</td>' + bar(r.total, samples) +
        '<td class="diff-only ' + (d > 0 ? 'grew' : d < 0 ? 'shrank' : '') + '">' + (d > 0 ? '+' : '') + d.toFixed(2) + ' pp</td></tr>';
    }).join('');
    $('top-table').querySelector('tbody').innerHTML = html;
    $('top-table').classList.toggle('is-diff', !!t.diff);
    document.querySelectorAll('#top-table th[data-sort]').forEach(function (th) {
      th.classList.toggle('sorted', th.dataset.sort === key);
    });
    $('top-more').textContent = rows.length > shown.length ? 'showing 500 of ' + fmtN(rows.length) + ' functions; search to narrow' :
      fmtN(rows.length) + ' functions · click a row for its sandwich';
    lastStats = { ms: 0, drawn: 0, labels: 0 };
  }

  /* ---------- sandwich ---------- */
  function renderSandwich() {
    var fn = state.fn;
    if (!fn) {
      var rows = topRows || (topRows = T.top(tree));
      var best = rows.slice().sort(function (a, b) { return b.self - a.self; })[0];
      if (best) { fn = best.name; state.fn = fn; state.fnmod = best.module; history.replaceState(null, '', E.state.format(state)); }
    }
    if (!fn) { $('sandwich-title').textContent = 'No function selected.'; return; }
    var s = T.sandwich(tree, fn, state.fnmod == null ? undefined : state.fnmod);
    var occTotal = s.callers.total[0];
    $('sandwich-title').innerHTML = '<b>' + esc(fn) + '</b> ' + (state.fnmod ? '<span class="muted">' + esc(state.fnmod) + '</span> ' : '') +
      '· total ' + fmtN(occTotal) + ' (' + pct(occTotal, tree.samples) + ') · self ' + fmtN(s.callees.self[0]) +
      ' (' + pct(s.callees.self[0], tree.samples) + ')';
    callers.setTree(s.callers); callees.setTree(s.callees);
    var m = null;
    try { m = T.compileSearch(state.q, state.re); } catch (e) { m = null; }
    callers.setHighlight(m ? T.search(s.callers, m).match : null);
    callees.setHighlight(m ? T.search(s.callees, m).match : null);
    var a = callers.render(), b = callees.render();
    /* the function sits where the two graphs meet: callers end at their
     * bottom, callees start at their top */
    var half = Math.max(160, Math.floor(firstScreenHeight($('callers')) / 2));
    fit($('callers'), callers, half, [tree, fn, state.fnmod]);
    fit($('callees'), callees, half, [tree, fn, state.fnmod]);
    lastStats = { ms: a.ms + b.ms, drawn: a.drawn + b.drawn, labels: a.labels + b.labels };
  }

  /* ---------- controls ---------- */
  function syncControls() {
    $('search').value = state.q;
    $('search-re').checked = state.re;
    $('diff-toggle').checked = state.diff;
    $('diff-controls').hidden = !state.diff;
    $('sel-head').classList.toggle('on', !selectBase);
    $('sel-base').classList.toggle('on', selectBase);
    timeline.setSelectBase(selectBase && state.diff);
    flame.setMode(state.mode);
  }

  function bind() {
    attachCanvas($('flame'), flame, function (i) { zoomTo(i); });
    attachCanvas($('callers'), callers, function (i) { var t = callers.tree(); if (i > 0 && t.kind[i] !== K.PROCESS) openSandwich(t.names[t.name[i]], t.modules[t.module[i]] || ''); });
    attachCanvas($('callees'), callees, function (i) { var t = callees.tree(); if (i > 0) openSandwich(t.names[t.name[i]], t.modules[t.module[i]] || ''); });
    var searchTimer = 0;
    $('search').addEventListener('input', function () {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(function () { state.q = $('search').value; commit(false); }, 120);
    });
    $('search').addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter') { clearTimeout(searchTimer); state.q = $('search').value; commit(false); }
      if (ev.key === 'Escape') { $('search').value = ''; state.q = ''; commit(false); }
    });
    $('search-re').addEventListener('change', function () { state.re = $('search-re').checked; commit(false); });
    document.querySelectorAll('.tab').forEach(function (b) {
      b.addEventListener('click', function () { state.view = b.dataset.view; commit(false); });
    });
    document.querySelectorAll('#mode-seg .seg-btn').forEach(function (b) {
      b.addEventListener('click', function () { state.mode = b.dataset.mode; commit(false); });
    });
    document.querySelectorAll('#top-table th[data-sort]').forEach(function (th) {
      th.addEventListener('click', function () { state.sort = th.dataset.sort; commit(false); });
    });
    $('top-table').querySelector('tbody').addEventListener('click', function (ev) {
      var tr = ev.target.closest('tr');
      if (tr) openSandwich(tr.dataset.name, tr.dataset.module);
    });
    $('range-reset').addEventListener('click', function () {
      state.from = state.to = null; state.zoom = [];
      if (state.diff) state.bfrom = state.bto = null;
      commit(false);
    });
    $('diff-toggle').addEventListener('change', function () {
      state.diff = $('diff-toggle').checked;
      if (state.diff && state.bfrom == null && state.from != null) setPreviousPeriod();
      selectBase = false;
      syncControls();
      state.zoom = [];
      commit(false);
    });
    $('sel-head').addEventListener('click', function () { selectBase = false; syncControls(); });
    $('sel-base').addEventListener('click', function () { selectBase = true; syncControls(); });
    $('base-prev').addEventListener('click', function () { setPreviousPeriod(); commit(false); });
    window.addEventListener('keydown', function (ev) {
      if (ev.target.tagName === 'INPUT' || ev.target.tagName === 'SELECT') return;
      if (ev.key === '/') { ev.preventDefault(); $('search').focus(); }
      if (ev.key === 'Escape' && state.zoom.length) { state.zoom = state.zoom.slice(0, -1); commit(false); }
    });
    var resizeTimer = 0;
    window.addEventListener('resize', function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () { timeline.render(); draw(); }, 60);
    });
  }

  function setPreviousPeriod() {
    if (state.from == null || state.to == null) return;
    var len = state.to - state.from;
    state.bfrom = state.from - len; state.bto = state.from;
  }

  bind();
  syncControls();
  api.meta().then(function (m) { meta = m; renderSummary(); if (isFleet() && labels) renderFilters(); }).catch(function () {});
  load();

  /* For tests and the console: the renderer's hit-test API and the state. */
  window.emberApp = {
    state: function () { return JSON.parse(JSON.stringify(state)); },
    tree: function () { return tree; },
    flame: flame, callers: callers, callees: callees, timeline: timeline,
    search: function () { return searchRes; },
    stats: function () { return lastStats; },
    top: function () { return topRows || (tree ? (topRows = T.top(tree)) : null); },
    /* node index of the first node with this name (and parent name), or -1 */
    /* The node named name (under a parent named parentName): the widest
     * when several match (the same call reached along two paths). */
    find: function (name, parentName) {
      var best = -1;
      for (var i = 1; tree && i < tree.n; i++) {
        if (tree.names[tree.name[i]] === name &&
          (parentName === undefined || tree.names[tree.name[tree.parent[i]]] === parentName) &&
          (best < 0 || tree.total[i] > tree.total[best])) best = i;
      }
      return best;
    },
    zoomTo: zoomTo,
  };
})(window.Ember = window.Ember || {});
