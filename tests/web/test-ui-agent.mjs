// SPDX-License-Identifier: Apache-2.0
// The web UI in Debian's Chromium over a running `ember agent` whose
// database holds real events (DWARF-unwound samples and the like, samples
// that were kept) and the drops the agent counted. Driven by
// tests/integration/test_agent_ui.py. Checks what a new user sees first
// (1400x900, default view): the header shows as dropped exactly what
// /api/v1/meta lists as drops (none: no "dropped" at all) and never the
// events, which the samples' tooltip names; the root and the widest
// function frame are in the first screen and the page does not grow past
// it whatever the deepest stack; the page asks for no file that fails
// (no favicon 404) and the console has no errors.
//
// Usage: node test-ui-agent.mjs BASE_URL SCREENSHOT.png
// Prints one JSON line "RESULT {...}" for the driver, exits 1 on a failed check.
import { check, finish, launch, openUI } from './harness.mjs';

const [base, shotPath] = process.argv.slice(2);
if (!base) { console.error('usage: test-ui-agent.mjs BASE_URL [SCREENSHOT.png]'); process.exit(2); }


const chrome = await launch();
try {
  const { page, errors, bad } = await openUI(chrome, base, 30000);
  await page.waitForFunction(() => !/loading/.test(document.getElementById('summary').innerText), null, { timeout: 10000 });
  // What the page was told, from the same endpoint.
  const meta = await page.evaluate(async () => (await fetch('/api/v1/meta')).json());
  const v = await page.evaluate(() => {
    const app = window.emberApp, t = app.tree(), f = app.flame;
    const c = document.getElementById('flame'), box = c.getBoundingClientRect(), wrap = c.parentNode.getBoundingClientRect();
    let widest = -1, deepest = 0;
    for (let i = 1; i < t.n; i++) {
      if (t.kind[i] !== 4 && (widest < 0 || t.total[i] > t.total[widest])) widest = i;
      if (t.depth[i] > t.depth[deepest]) deepest = i;
    }
    const inView = (i) => {
      const r = f.rectOf(i);
      if (!r || r.w <= 0) return false;
      const y0 = box.top + r.y;
      return y0 >= Math.max(0, wrap.top) - 0.5 && y0 + r.h <= Math.min(window.innerHeight, wrap.bottom) + 0.5;
    };
    const samples = document.getElementById('summary-samples');
    return { mode: f.mode(), root: inView(0), widest: inView(widest), widestName: t.names[t.name[widest]],
      depth: t.depth[deepest], page: document.documentElement.scrollHeight,
      header: document.getElementById('summary').innerText,
      dropped: document.getElementById('summary-dropped') ? document.getElementById('summary-dropped').innerText : '',
      eventsTip: samples ? samples.getAttribute('title') || '' : '' };
  });
  const drops = (meta.drops || []).reduce((a, x) => a + x.count, 0);
  const events = meta.events || [];
  check(events.length > 0, 'the database holds real events', JSON.stringify(events));
  if (drops === 0) {
    check(!/dropped/.test(v.header), 'no drops: the header shows none', v.header);
  } else {
    check(v.dropped === `${drops.toLocaleString('en-US')} dropped`, 'the header shows exactly the drops of /api/v1/meta',
      `${v.dropped} vs ${drops}`);
  }
  // Not counted as drops: the header's figure is not the drops plus the
  // events (a test for an event's count in the text matched small counts
  // such as "3" by chance).
  const evsum = events.reduce((a, e) => a + e.count, 0);
  check(events.every((e) => v.eventsTip.includes(e.name)) &&
        v.dropped !== `${(drops + evsum).toLocaleString('en-US')} dropped`,
    'events are named in the samples\' tooltip, not counted as drops', v.eventsTip);
  check(v.mode === 'icicle' && v.root && v.widest, 'the root and the widest frame are in the first screen', JSON.stringify(v));
  check(v.page <= 900, `the page stays within the first screen (deepest stack: ${v.depth} frames)`, String(v.page));
  if (shotPath) await page.screenshot({ path: shotPath });
  check(bad.length === 0, 'the page asks for no file that fails', bad.join(' | '));
  check(errors.length === 0, 'no errors in the console', errors.join(' | '));
  console.log('RESULT ' + JSON.stringify({ drops, events, header: v.header }));
} catch (e) {
  check(false, 'the page opened', e.stack || String(e));
} finally {
  await chrome.close();
}
finish('web-ui-agent');
