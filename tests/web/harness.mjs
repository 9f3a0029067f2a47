// SPDX-License-Identifier: Apache-2.0
// What every browser test here starts and ends with: Debian's Chromium
// through playwright-core (headless, no sandbox, no background traffic),
// a clear message when either is missing, the TAP-style check() and the
// exit code. Each test is its own node process, so the counts are the
// process's.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

let passed = 0, failed = 0;
export const results = [];

// One check: prints "ok - WHAT" or "not ok - WHAT: DETAIL"; returns cond.
export function check(cond, what, detail = '') {
  if (cond) passed++;
  else failed++;
  console.log(`${cond ? 'ok' : 'not ok'} - ${what}${!cond && detail ? ': ' + detail : ''}`);
  results.push({ what, ok: !!cond, detail });
  return cond;
}

// Headless Chromium with a fresh temporary profile; files: true lets a
// file:// page (a self-contained report) load its own file.
export async function launch({ files = false } = {}) {
  if (!fs.existsSync(CHROMIUM)) {
    console.error(`${CHROMIUM} not found: install Debian's chromium (scripts/test.sh does: apt-get install chromium)`);
    process.exit(1);
  }
  let chromium;
  try {
    ({ chromium } = createRequire(path.join(ROOT, 'package.json'))('playwright-core'));
  } catch (e) {
    console.error('playwright-core is not installed: run `npm ci` at the repository root (scripts/test.sh does)');
    process.exit(1);
  }
  const args = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'];
  if (files) args.push('--allow-file-access-from-files');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

// Watch page on the server at base: console errors and script errors go
// to errors, answers of 400 and above and failed requests to bad, and a
// request to any other host is aborted. Returns { errors, bad }.
export async function watchPage(page, base) {
  const errors = [], bad = [], host = new URL(base).host;
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('response', (r) => { if (r.status() >= 400) bad.push(`${r.status()} ${r.url()}`); });
  page.on('requestfailed', (r) => bad.push(`failed ${r.url()}`));
  await page.route('**/*', (r) => (new URL(r.request().url()).host === host ? r.continue() : r.abort()));
  return { errors, bad };
}

// A page of the UI served at base, watched (watchPage), once it has drawn
// its first tree (body's data-loaded >= 1) within timeoutMs. Returns
// { page, errors, bad }.
export async function openUI(chrome, base, timeoutMs) {
  const ctx = await chrome.newContext({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: 1 });
  const page = await ctx.newPage();
  const { errors, bad } = await watchPage(page, base);
  await page.goto(base + '/');
  await page.waitForFunction(() => Number(document.body.dataset.loaded || 0) >= 1, null, { timeout: timeoutMs });
  return { page, errors, bad };
}

// Prints "NAME: P passed, F failed" and exits 1 if any check failed.
export function finish(name) {
  console.log(`${name}: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
