/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api.js — the UI's only data layer. Two sources with one interface:
 * Ember.api.http(base) talks to the server's JSON API (web/API.md);
 * Ember.api.inline(data) answers from data embedded in the page (static
 * reports such as `ember diff --html`). Each method returns a Promise of
 * the endpoint's JSON; errors reject with Error(message) carrying .status
 * and .parameter from the server's {"error", "parameter"} body.
 */
(function (E) {
  'use strict';

  var BUILTIN = ['host', 'process', 'pid', 'thread', 'tid', 'cgroup'];

  /*
   * Timing marks for benchmarks (bench/ui-render) and the devtools
   * Performance panel: performance.mark('ember:' + what), the previous mark
   * of that name cleared first, so a long session keeps one of each.
   */
  function mark(what) {
    if (typeof performance === 'undefined' || !performance.mark) return;
    performance.clearMarks('ember:' + what);
    performance.mark('ember:' + what);
  }

  function quote(v) { return '"' + String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"'; }

  /* {label: value} -> 'label="value",...' (store_filter__parse syntax) */
  function filterExpr(filters) {
    var keys = Object.keys(filters || {}).filter(function (k) { return filters[k] !== '' && filters[k] != null; });
    keys.sort(function (a, b) {
      var ia = BUILTIN.indexOf(a), ib = BUILTIN.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || (a < b ? -1 : a > b ? 1 : 0);
    });
    return keys.map(function (k) { return k + '=' + quote(filters[k]); }).join(',');
  }

  /* Query parameters for a range + filters; prefix 'base_' for a diff's base. */
  function params(p, q, prefix) {
    prefix = prefix || '';
    if (q.from != null) p.set(prefix + 'from', String(q.from));
    if (q.to != null) p.set(prefix + 'to', String(q.to));
    var f = filterExpr(q.filters);
    if (f) p.set(prefix + 'filter', f);
    return p;
  }

  function http(base) {
    base = (base || '').replace(/\/$/, '');
    var inflight = {};
    function get(name, path, p) {
      /* a newer request of the same kind supersedes an older one */
      if (inflight[name]) inflight[name].abort();
      var ac = typeof AbortController !== 'undefined' ? new AbortController() : null;
      inflight[name] = ac;
      var qs = p.toString();
      return fetch(base + path + (qs ? '?' + qs : ''), { signal: ac ? ac.signal : undefined, headers: { Accept: 'application/json' } })
        .then(function (r) {
          return r.text().then(function (body) {
            var j = null;
            mark(name + ':body');
            try { j = body ? JSON.parse(body) : null; } catch (e) { j = null; }
            mark(name + ':parsed');
            if (!r.ok) {
              var err = new Error((j && j.error) || ('HTTP ' + r.status + ' from ' + path));
              err.status = r.status; err.parameter = j && j.parameter;
              throw err;
            }
            if (!j) throw new Error('bad JSON from ' + path);
            return j;
          });
        })
        .finally(function () { if (inflight[name] === ac) delete inflight[name]; });
    }
    return {
      meta: function () { return get('meta', '/api/v1/meta', new URLSearchParams()); },
      tree: function (q) { return get('tree', '/api/v1/tree', params(new URLSearchParams(), q)); },
      diff: function (head, baseQ) {
        var p = params(new URLSearchParams(), baseQ, 'base_');
        return get('tree', '/api/v1/diff', params(p, head));
      },
      timeline: function (q) {
        /* the timeline shows the whole data range under the head's filters */
        return get('timeline', '/api/v1/timeline', params(new URLSearchParams(), { filters: q.filters }));
      },
      labels: function (q) { return get('labels', '/api/v1/labels', params(new URLSearchParams(), { from: q.from, to: q.to })); },
      exportUrl: function (fmt, q) {
        var qs = params(new URLSearchParams(), q).toString();
        return base + '/api/v1/export/' + fmt + (qs ? '?' + qs : '');
      },
      live: true,
    };
  }

  /*
   * Inline data: {meta, tree, diff, timeline, labels} objects as the API
   * would answer them (any may be missing). Queries are ignored: the data
   * is what it is.
   */
  function inline(data) {
    function give(k) {
      return function () {
        return data[k] ? Promise.resolve(data[k]) : Promise.reject(new Error('not in this report: ' + k));
      };
    }
    return { meta: give('meta'), tree: give('tree'), diff: give('diff'), timeline: give('timeline'),
      labels: give('labels'), exportUrl: function () { return null; }, live: false };
  }

  E.api = { http: http, inline: inline, filterExpr: filterExpr, mark: mark, BUILTIN: BUILTIN };
})(window.Ember = window.Ember || {});
