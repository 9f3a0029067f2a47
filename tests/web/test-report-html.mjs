// SPDX-License-Identifier: Apache-2.0
// `ember report FILE --format html -o flame.html` opened from a file in
// Debian's Chromium, with no server and no network: the page loads the
// profile inline (no request beyond the file), its widest frame under the
// root is the expected process, the hottest function (most self samples)
// is the expected one and is drawn, the root and that frame are in the
// first screen (1400x900, default view), the header counts the samples of
// the profile, and the console stays clean.
//
// Usage: node tests/web/test-report-html.mjs REPORT.html PROCESS FUNCTION SAMPLES [SCREENSHOT.png]
// Exit 0 when every check passes.
import path from 'node:path';
import { check, finish, launch } from './harness.mjs';

const [report, proc, fn, samples, shotPath] = process.argv.slice(2);
if (!report || !proc || !fn || !samples) {
  console.error('usage: test-report-html.mjs REPORT.html PROCESS FUNCTION SAMPLES [SCREENSHOT.png]');
  process.exit(2);
}


const chrome = await launch({ files: true });
try {
  const page = await chrome.newPage({ viewport: { width: 1400, height: 900 } });
  const requests = [], errors = [];
  const url = 'file://' + path.resolve(report);
  await page.route('**/*', (r) => {
    const u = r.request().url();
    if (u !== url) { requests.push(u); return r.abort(); }
    return r.continue();
  });
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => Number(document.body.dataset.loaded || 0) >= 1, null, { timeout: 15000 });
  const v = await page.evaluate(([fname]) => {
    const app = window.emberApp, t = app.tree(), f = app.flame;
    const c = document.getElementById('flame'), box = c.getBoundingClientRect(), wrap = c.parentNode.getBoundingClientRect();
    let widest = -1;
    for (let k = t.childStart[0]; k < t.childStart[1]; k++) {
      const i = t.childList[k];
      if (widest < 0 || t.total[i] > t.total[widest]) widest = i;
    }
    const hot = app.top().slice().sort((a, b) => b.self - a.self)[0];
    const node = app.find(fname);
    const inView = (i) => {
      const r = f.rectOf(i);
      if (!r || r.w <= 0) return false;
      const y0 = box.top + r.y;
      return y0 >= Math.max(0, wrap.top) - 0.5 && y0 + r.h <= Math.min(window.innerHeight, wrap.bottom) + 0.5;
    };
    return { samples: t.samples, widest: t.names[t.name[widest]], hot: hot && hot.name,
      mode: f.mode(), rootSeen: inView(0), hotSeen: node >= 0 && inView(node),
      header: document.getElementById('summary').innerText };
  }, [fn]);
  check(requests.length === 0, 'the report asks for nothing beyond its own file', requests.join(' '));
  check(v.samples === Number(samples), `the page holds the profile's ${samples} samples`, String(v.samples));
  check(v.widest === proc, `the widest frame under the root is ${proc}`, v.widest);
  check(v.hot === fn, `the hottest function is ${fn}`, v.hot);
  check(v.mode === 'icicle' && v.rootSeen && v.hotSeen, `the root and ${fn} are in the first screen (1400x900)`,
    JSON.stringify(v));
  check(v.header.includes(Number(samples).toLocaleString('en-US')) && !/dropped/.test(v.header),
    'the header counts the samples and shows no drops', v.header);
  if (shotPath) await page.screenshot({ path: shotPath, fullPage: true });
  check(errors.length === 0, 'no errors in the console', errors.join(' | '));
} catch (e) {
  check(false, 'the report opened', e.stack || String(e));
} finally {
  await chrome.close();
}
finish('report-html');
