// SPDX-License-Identifier: Apache-2.0
// The web UI in Debian's Chromium over `ember serve --store
// clickhouse://...` (the fleet store), driven by
// tests/integration/test_fleet_serve.py with the samples each host's own
// file holds. Checks: the header says it is a fleet and how many hosts;
// the host selector comes first, offers "all hosts" and every host with
// its samples; by default the flame graph holds every host's samples;
// picking a host shows exactly that host's (the root's total), and the
// URL keeps the choice; the console is clean.
//
// Usage: node test-ui-fleet.mjs BASE_URL '{"host": samples, ...}' [SCREENSHOT.png]
// Exits 1 on a failed check (tests/web/harness.mjs).
import { check, finish, launch, openUI } from './harness.mjs';

const [base, countsJson, shotPath] = process.argv.slice(2);
if (!base || !countsJson) { console.error('usage: test-ui-fleet.mjs BASE_URL COUNTS_JSON [SCREENSHOT.png]'); process.exit(2); }
const counts = JSON.parse(countsJson);
const hosts = Object.keys(counts).sort();
const all = hosts.reduce((a, h) => a + counts[h], 0);

const chrome = await launch();
try {
  const { page, errors, bad } = await openUI(chrome, base, 60000);
  await page.waitForFunction(() => {
    const s = document.getElementById('filter-host');
    return s && s.options.length > 1 && /fleet/.test(s.parentNode.innerText) && document.getElementById('summary-fleet');
  }, null, { timeout: 60000 });
  const v = await page.evaluate(() => {
    const s = document.getElementById('filter-host');
    const row = document.getElementById('filters-head');
    return {
      first: row.children[1] === s.parentNode,
      caption: s.parentNode.querySelector('span').innerText,
      options: Array.from(s.options).map((o) => [o.value, o.text]),
      total: window.emberApp.tree().total[0],
      fleet: document.getElementById('summary-fleet').innerText,
    };
  });
  check(v.first && /host/.test(v.caption) && /fleet/.test(v.caption), 'the host selector comes first and says fleet', JSON.stringify(v));
  check(v.options[0][0] === '' && /all hosts/.test(v.options[0][1]), 'its first choice is all hosts', JSON.stringify(v.options[0]));
  const offered = v.options.slice(1).map((o) => o[0]).sort();
  check(JSON.stringify(offered) === JSON.stringify(hosts), 'it offers every host', JSON.stringify(offered));
  check(v.options.slice(1).every((o) => o[1].includes(counts[o[0]].toLocaleString('en-US'))),
    'each host with its samples', JSON.stringify(v.options));
  check(v.fleet === `fleet of ${hosts.length} hosts`, 'the header says fleet and how many hosts', v.fleet);
  check(v.total === all, 'all hosts: the flame graph holds every host\'s samples', `${v.total} vs ${all}`);
  for (const h of hosts) {
    const before = await page.evaluate(() => Number(document.body.dataset.loaded || 0));
    await page.selectOption('#filter-host', h);
    await page.waitForFunction((b) => Number(document.body.dataset.loaded || 0) > b, before, { timeout: 60000 });
    const got = await page.evaluate(() => ({ total: window.emberApp.tree().total[0], url: location.href }));
    check(got.total === counts[h], `host ${h} picked: the flame graph holds its samples`, `${got.total} vs ${counts[h]}`);
    check(decodeURIComponent(got.url).includes(h), 'the URL keeps the host', got.url);
  }
  if (shotPath) await page.screenshot({ path: shotPath });
  check(bad.length === 0, 'the page asks for no file that fails', bad.join(' | '));
  check(errors.length === 0, 'no errors in the console', errors.join(' | '));
} catch (e) {
  check(false, 'the page opened', e.stack || String(e));
} finally {
  await chrome.close();
}
finish('web-ui-fleet');
