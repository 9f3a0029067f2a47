// SPDX-License-Identifier: Apache-2.0
// The web UI in Debian's Chromium against the real server (`ember serve`)
// over a recording of tests/testprogs/pysplit.py (Python functions leaf_a,
// leaf_b, leaf_c take 6:3:1 of its CPU). Driven by
// tests/integration/test_python.py, which records the database (root) and
// starts the server. Checks what a user checks: the legend names Python
// frames, they are drawn in their own colour, leaf_a is the widest Python
// frame under run_a, and the tooltip says "python" with the .py file and
// line. Screenshot: ARTIFACT_DIR/python-flame.png.
//
// Usage: node test-ui-python.mjs BASE_URL ARTIFACT_DIR SCRIPT_PATH LEAF_A_LINE
import fs from 'node:fs';
import path from 'node:path';
import { check, finish, launch } from './harness.mjs';

const [base, artifacts, script, leafLine] = process.argv.slice(2);
if (!base || !artifacts || !script || !leafLine) {
  console.error('usage: test-ui-python.mjs BASE_URL ARTIFACT_DIR SCRIPT_PATH LEAF_A_LINE');
  process.exit(2);
}
fs.mkdirSync(artifacts, { recursive: true });


const chrome = await launch();
try {
  const ctx = await chrome.newContext({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: 1 });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(base + '/');
  await page.waitForFunction(() => Number(document.body.dataset.loaded || 0) >= 1, null, { timeout: 20000 });

  check(/Python/.test(await page.locator('#legend').innerText()), 'the legend names Python frames');
  // The run_a with the most samples, and its children.
  const info = await page.evaluate(() => {
    const t = window.emberApp.tree(), K = window.Ember.tree.KIND;
    let runA = -1;
    for (let i = 1; i < t.n; i++)
      if (t.names[t.name[i]] === 'run_a' && (runA < 0 || t.total[i] > t.total[runA])) runA = i;
    const kids = [];
    for (let k = t.childStart[runA]; k < t.childStart[runA + 1]; k++) kids.push(t.childList[k]);
    return {
      runA, runAKind: t.kind[runA], python: K.PYTHON,
      kids: kids.map((i) => ({ i, name: t.names[t.name[i]], kind: t.kind[i], w: window.emberApp.flame.rectOf(i).w })),
    };
  });
  check(info.runA > 0 && info.runAKind === info.python, 'run_a is a Python frame (kind python)');
  const widest = info.kids.slice().sort((a, b) => b.w - a.w)[0];
  check(widest && widest.name === 'leaf_a' && widest.kind === info.python,
    'leaf_a is the widest Python frame under run_a', info.kids.map((k) => `${k.name}=${k.w.toFixed(1)}`).join(' '));

  const r = await page.evaluate((i) => window.emberApp.flame.rectOf(i), widest.i);
  const px = await page.evaluate((rr) => {
    const d = document.getElementById('flame').getContext('2d')
      .getImageData(Math.floor(rr.x + Math.min(rr.w / 2, 4)), Math.floor(rr.y + 3), 1, 1).data;
    return [d[0], d[1], d[2]];
  }, r);
  // The Python palette: sea green (hue 160-176), unlike the warm user,
  // blue kernel, green inlined and purple JIT frames.
  check(px[1] > px[0] + 40 && px[1] > px[2], 'Python frames are drawn in the Python (sea green) palette',
    px.join(','));

  const box = await page.locator('#flame').boundingBox();
  await page.mouse.move(box.x + r.x + r.w / 2, box.y + r.y + r.h / 2);
  await page.waitForSelector('#tooltip:not([hidden])');
  const tip = await page.locator('#tooltip').innerText();
  check(tip.includes('leaf_a') && /python/.test(tip) && tip.includes(`${script}:${leafLine}`),
    'the tooltip says leaf_a, python, and its file and line', tip.replace(/\n/g, ' | '));
  await page.screenshot({ path: path.join(artifacts, 'python-flame.png'), fullPage: true });
  check(errors.length === 0, 'no script errors', errors.join('; '));
} finally {
  await chrome.close();
}
finish('web-ui-python');
