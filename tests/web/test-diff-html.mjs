// SPDX-License-Identifier: Apache-2.0
// `ember diff --html` opened from a file in Debian's Chromium, with no
// server and no network: the regressed function is drawn as grown (red),
// its tooltip shows both shares and the change, and the table names it.
//
// Usage: node tests/web/test-diff-html.mjs REPORT.html FUNCTION BASE_PCT HEAD_PCT [SCREENSHOT.png]
// BASE_PCT/HEAD_PCT: the function's total share on each side, in percent, as
// `ember diff --format json` reports them. The function's frames in the
// report's tree must add up to those within 0.2 points (a function can
// have more than one frame: one run had 1.1 of leaf_c's 9.9 points
// outside its widest frame), and the widest frame's tooltip must show
// that frame's own two shares. Exit 0 when every check passes.
import fs from 'node:fs';
import path from 'node:path';
import { check, finish, launch } from './harness.mjs';

const [report, fn, basePct, headPct, shotPath] = process.argv.slice(2);
if (!report || !fn || basePct === undefined || headPct === undefined) {
  console.error('usage: test-diff-html.mjs REPORT.html FUNCTION BASE_PCT HEAD_PCT [SCREENSHOT.png]');
  process.exit(2);
}


const chrome = await launch({ files: true });
try {
  const page = await chrome.newPage({ viewport: { width: 1400, height: 1000 } });
  const offsite = [], errors = [];
  await page.route('**/*', (r) => {
    if (!r.request().url().startsWith('file:')) { offsite.push(r.request().url()); return r.abort(); }
    return r.continue();
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto('file://' + path.resolve(report));
  await page.waitForFunction(() => Number(document.body.dataset.loaded || 0) >= 1, null, { timeout: 15000 });
  check(await page.evaluate(() => !!(window.emberApp.tree() && window.emberApp.tree().diff)), 'the report opens in diff mode');
  // Every frame of fn: the table's row is the function's, the sum of its
  // frames; the tooltip and colour are checked on its widest frame.
  const all = await page.evaluate((n) => {
    const t = window.emberApp.tree();
    let base = 0, head = 0, widest = -1;
    for (let k = 1; k < t.n; k++) {
      if (t.names[t.name[k]] !== n) continue;
      base += t.baseTotal[k];
      head += t.total[k];
      if (widest < 0 || t.total[k] > t.total[widest]) widest = k;
    }
    return { widest, base: 100 * base / t.baseSamples, head: 100 * head / t.samples };
  }, fn);
  const i = all.widest;
  check(i >= 0, `${fn} is in the flame graph`);
  const rect = await page.evaluate((k) => window.emberApp.flame.rectOf(k), i);
  const rgb = await page.evaluate((r) => {
    const c = document.getElementById('flame'), dpr = window.devicePixelRatio || 1;
    const d = c.getContext('2d').getImageData(Math.floor((r.x + Math.min(r.w / 2, 4)) * dpr), Math.floor((r.y + 3) * dpr), 1, 1).data;
    return [d[0], d[1], d[2]];
  }, rect);
  check(rgb[0] > rgb[1] + 40 && rgb[0] > rgb[2] + 40, `${fn} is colored as grown (red)`, rgb.join(','));
  // The report's table sits above the graph: bring the graph into view,
  // then move onto the frame from outside it so the hover always fires.
  await page.locator('#flame').scrollIntoViewIfNeeded();
  const box = await page.locator('#flame').boundingBox();
  await page.mouse.move(1, 1);
  await page.mouse.move(box.x + rect.x + rect.w / 2, box.y + rect.y + rect.h / 2, { steps: 4 });
  await page.waitForSelector('#tooltip:not([hidden])');
  const tip = await page.locator('#tooltip').innerText();
  const own = await page.evaluate((k) => {
    const t = window.emberApp.tree();
    return { base: 100 * t.baseTotal[k] / t.baseSamples, head: 100 * t.total[k] / t.samples };
  }, i);
  const b = own.base.toFixed(2), h = own.head.toFixed(2);
  check(tip.includes(b + '%') && tip.includes(h + '%'), `tooltip shows the frame's two shares (${b}% and ${h}%)`, tip.replace(/\n/g, ' | '));
  check(Math.abs(all.base - Number(basePct)) <= 0.2 && Math.abs(all.head - Number(headPct)) <= 0.2,
    `${fn}'s frames add up to its shares in the table, give or take 0.2 points`,
    `${all.base.toFixed(2)}/${all.head.toFixed(2)} vs ${Number(basePct).toFixed(2)}/${Number(headPct).toFixed(2)}`);
  const m = tip.match(/([+-]\d+\.\d+) pp/);
  check(m && Math.abs(Number(m[1]) - (own.head - own.base)) <= 0.01, 'tooltip shows the change in points',
    tip.replace(/\n/g, ' | '));
  const rows = await page.locator('#diff-table tr.regression').allInnerTexts();
  check(rows.some((t) => t.includes(fn)), `the table lists ${fn} as a regression`, rows.join(' / '));
  check(offsite.length === 0, 'nothing is fetched from anywhere', offsite.join(' '));
  check(errors.length === 0, 'no script errors', errors.join(' '));
  if (shotPath) await page.screenshot({ path: shotPath, fullPage: true });
} finally {
  await chrome.close();
}
finish('diff-html');
