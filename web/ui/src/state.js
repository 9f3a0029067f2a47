/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state.js — the whole view state and its URL form (the hash), so that a
 * link reproduces what someone saw. Pure: parse(hash) -> state,
 * format(state) -> hash.
 *
 *   from, to          head range (Unix seconds)
 *   f.LABEL=VALUE     head filters (one value per label)
 *   diff=1            diff mode; bfrom, bto, bf.LABEL=VALUE the base
 *   q, re=1           search text, regex mode
 *   mode=flame        root at the bottom (default: icicle, root at the
 *                     top, as Pyroscope, Parca and speedscope start)
 *   view=top|sandwich the table or the sandwich of fn (+ fnmod)
 *   zoom=a;b;c        zoomed frame as its path of names from the process
 *   sort=total        top table order
 */
(function (E) {
  'use strict';

  function defaults() {
    return { from: null, to: null, filters: {}, diff: false, bfrom: null, bto: null, bfilters: {},
      q: '', re: false, mode: 'icicle', view: 'flame', zoom: [], fn: '', fnmod: null, sort: 'self' };
  }

  function num(v) {
    if (v == null || v === '') return null;
    var n = Number(v);
    return isFinite(n) ? Math.floor(n) : null;
  }

  function parse(hash) {
    var s = defaults();
    var p = new URLSearchParams((hash || '').replace(/^#/, ''));
    s.from = num(p.get('from')); s.to = num(p.get('to'));
    s.bfrom = num(p.get('bfrom')); s.bto = num(p.get('bto'));
    s.diff = p.get('diff') === '1';
    s.q = p.get('q') || ''; s.re = p.get('re') === '1';
    s.mode = p.get('mode') === 'flame' ? 'flame' : 'icicle';
    var v = p.get('view');
    s.view = v === 'top' || v === 'sandwich' ? v : 'flame';
    s.zoom = p.get('zoom') ? p.get('zoom').split(';') : [];
    s.fn = p.get('fn') || '';
    s.fnmod = p.has('fnmod') ? p.get('fnmod') : null;
    s.sort = p.get('sort') === 'total' ? 'total' : p.get('sort') === 'name' ? 'name' : 'self';
    p.forEach(function (val, key) {
      if (key.indexOf('f.') === 0) s.filters[key.slice(2)] = val;
      else if (key.indexOf('bf.') === 0) s.bfilters[key.slice(3)] = val;
    });
    return s;
  }

  function format(s) {
    var p = new URLSearchParams();
    if (s.from != null) p.set('from', s.from);
    if (s.to != null) p.set('to', s.to);
    Object.keys(s.filters).sort().forEach(function (k) { if (s.filters[k] !== '') p.set('f.' + k, s.filters[k]); });
    if (s.diff) {
      p.set('diff', '1');
      if (s.bfrom != null) p.set('bfrom', s.bfrom);
      if (s.bto != null) p.set('bto', s.bto);
      Object.keys(s.bfilters).sort().forEach(function (k) { if (s.bfilters[k] !== '') p.set('bf.' + k, s.bfilters[k]); });
    }
    if (s.q) p.set('q', s.q);
    if (s.q && s.re) p.set('re', '1');
    if (s.mode !== 'icicle') p.set('mode', s.mode);
    if (s.view !== 'flame') p.set('view', s.view);
    if (s.zoom.length) p.set('zoom', s.zoom.join(';'));
    if (s.fn) p.set('fn', s.fn);
    if (s.fn && s.fnmod != null) p.set('fnmod', s.fnmod);
    if (s.sort !== 'self') p.set('sort', s.sort);
    return '#' + p.toString();
  }

  E.state = { defaults: defaults, parse: parse, format: format };
})(window.Ember = window.Ember || {});
