/* SPDX-License-Identifier: Apache-2.0 */
/*
 * timeline.js — samples over time on a canvas (GET /api/v1/timeline), with
 * a drag that selects a time range. Shows the selected range (and, in diff
 * mode, the base range). No fetch: the app hands it data and listens.
 */
(function (E) {
  'use strict';

  var PAD_L = 44, PAD_R = 8, PAD_T = 6, PAD_B = 18;

  /* span: the whole axis; tick: seconds between labels (seconds shown when < 1 min) */
  function fmtTime(s, span, tick) {
    var d = new Date(s * 1000);
    var p = function (v) { return v < 10 ? '0' + v : '' + v; };
    var hm = p(d.getHours()) + ':' + p(d.getMinutes());
    if ((tick || span) < 60) hm += ':' + p(d.getSeconds());
    if (span > 2 * 86400) hm = (d.getMonth() + 1) + '/' + d.getDate() + ' ' + hm;
    return hm;
  }

  function fmtCount(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(1) + 'M';
    if (v >= 1e3) return (v / 1e3).toFixed(v >= 1e4 ? 0 : 1) + 'k';
    return '' + Math.round(v);
  }

  /* onSelect(from, to, isBase) is called at the end of a drag. */
  function create(canvas, onSelect) {
    var ctx = canvas.getContext('2d');
    var st = { data: null, sel: null, base: null, drag: null, selectBase: false };

    function plotW() { return canvas.clientWidth - PAD_L - PAD_R; }
    function timeAt(px) {
      var d = st.data, f = Math.min(1, Math.max(0, (px - PAD_L) / plotW()));
      return d.from + f * (d.to - d.from);
    }
    function xAt(t) { var d = st.data; return PAD_L + (t - d.from) / (d.to - d.from) * plotW(); }

    function render() {
      var dpr = window.devicePixelRatio || 1, w = canvas.clientWidth, h = canvas.clientHeight;
      if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
        canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
      }
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, w, h);
      var d = st.data;
      ctx.font = '10px system-ui, sans-serif';
      ctx.fillStyle = '#6b7280';
      if (!d || !d.samples.length || d.to <= d.from) {
        ctx.fillText('no samples in this range', PAD_L, h / 2);
        return;
      }
      var max = 1, i;
      for (i = 0; i < d.samples.length; i++) max = Math.max(max, d.samples[i]);
      var ph = h - PAD_T - PAD_B, pw = plotW(), n = d.samples.length;
      /* grid + y labels */
      ctx.strokeStyle = '#eceef1'; ctx.lineWidth = 1; ctx.textBaseline = 'middle'; ctx.textAlign = 'right';
      for (var g = 0; g <= 2; g++) {
        var gy = Math.round(PAD_T + ph * g / 2) + 0.5;
        ctx.beginPath(); ctx.moveTo(PAD_L, gy); ctx.lineTo(PAD_L + pw, gy); ctx.stroke();
        ctx.fillText(fmtCount(max * (1 - g / 2)), PAD_L - 6, gy);
      }
      /* bars */
      ctx.fillStyle = '#f08a3c';
      var bw = pw / n;
      for (i = 0; i < n; i++) {
        var v = d.samples[i];
        if (!v) continue;
        var bh = Math.max(1, v / max * ph);
        ctx.fillRect(PAD_L + i * bw, PAD_T + ph - bh, Math.max(bw - (bw > 3 ? 1 : 0), 0.5), bh);
      }
      if (d.drops) {
        ctx.fillStyle = '#b91c1c';
        for (i = 0; i < n; i++) if (d.drops[i]) ctx.fillRect(PAD_L + i * bw, PAD_T + ph + 1, Math.max(bw, 1), 2);
      }
      /* x labels */
      ctx.fillStyle = '#6b7280'; ctx.textAlign = 'center'; ctx.textBaseline = 'top';
      /* ticks at round times (1 s .. 1 week apart), about 110 px apart */
      var span = d.to - d.from, want = span / Math.max(2, Math.floor(pw / 110));
      var steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
      var tick = steps[steps.length - 1];
      for (var si = 0; si < steps.length; si++) if (steps[si] >= want) { tick = steps[si]; break; }
      var tz = tick >= 3600 ? new Date(d.from * 1000).getTimezoneOffset() * 60 : 0;
      for (var tt = Math.ceil((d.from - tz) / tick) * tick + tz; tt <= d.to; tt += tick) {
        var tx = xAt(tt);
        ctx.textAlign = tx - PAD_L < 30 ? 'left' : PAD_L + pw - tx < 30 ? 'right' : 'center';
        ctx.fillRect(tx, PAD_T + ph, 1, 3);
        ctx.fillText(fmtTime(tt, span, tick), tx, PAD_T + ph + 4);
      }
      /* selections: dim outside the head range */
      var drawSel = function (r, fill, stroke) {
        var a = xAt(r[0]), b = xAt(r[1]);
        ctx.fillStyle = fill; ctx.fillRect(a, PAD_T, b - a, ph);
        ctx.strokeStyle = stroke; ctx.lineWidth = 1.5;
        ctx.strokeRect(a, PAD_T, b - a, ph);
      };
      if (st.sel && !st.base) { /* fade what lies outside the selected range */
        ctx.fillStyle = 'rgba(255,255,255,0.6)';
        var sa = Math.max(PAD_L, xAt(st.sel[0])), sb = Math.min(PAD_L + pw, xAt(st.sel[1]));
        ctx.fillRect(PAD_L, PAD_T, sa - PAD_L, ph);
        ctx.fillRect(sb, PAD_T, PAD_L + pw - sb, ph);
      }
      if (st.base) drawSel(st.base, 'rgba(37,99,235,0.14)', 'rgba(37,99,235,0.8)');
      if (st.sel) drawSel(st.sel, 'rgba(220,38,38,0.10)', 'rgba(220,38,38,0.75)');
      if (st.drag) drawSel([Math.min(st.drag.a, st.drag.b), Math.max(st.drag.a, st.drag.b)],
        st.drag.base ? 'rgba(37,99,235,0.2)' : 'rgba(17,24,39,0.12)', '#111827');
    }

    canvas.addEventListener('mousedown', function (ev) {
      if (!st.data || ev.button !== 0) return;
      var r = canvas.getBoundingClientRect(), t = timeAt(ev.clientX - r.left);
      st.drag = { a: t, b: t, base: st.selectBase || ev.shiftKey };
      ev.preventDefault();
    });
    window.addEventListener('mousemove', function (ev) {
      if (!st.drag) return;
      var r = canvas.getBoundingClientRect();
      st.drag.b = timeAt(ev.clientX - r.left);
      render();
    });
    window.addEventListener('mouseup', function () {
      if (!st.drag) return;
      var d = st.drag; st.drag = null;
      var a = Math.floor(Math.min(d.a, d.b)), b = Math.ceil(Math.max(d.a, d.b));
      if (b - a < 1 || Math.abs(xAt(d.a) - xAt(d.b)) < 3) { render(); return; }
      onSelect(a, b, d.base);
    });

    return {
      setData: function (d) { st.data = d; render(); },
      setSelection: function (sel, base) { st.sel = sel; st.base = base; render(); },
      setSelectBase: function (b) { st.selectBase = b; },
      render: render,
      /* css x of a time, for tests and tooltips */
      xAt: function (t) { return st.data ? xAt(t) : 0; },
    };
  }

  E.timeline = { create: create, fmtTime: fmtTime, fmtCount: fmtCount };
})(window.Ember = window.Ember || {});
