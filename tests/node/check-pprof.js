#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// check-pprof.js — reads an Ember pprof export with an independent decoder
// (npm's pprof-format, installed by `npm ci` in this folder; scripts/test.sh
// does that), checks that it is a well-formed CPU profile, and compares its
// stacks with what Ember's folded export says.
//
// Usage: node check-pprof.js FILE.pb.gz [--expect-folded FILE] [--folded]
//   --expect-folded F  the stacks (process label first, then the frames
//                      root first, kernel frames with _[k], inlined _[i],
//                      Python _[py]: the mapping "[python]")
//                      and their sample counts must equal F's exactly
//   --folded           print the stacks in folded form on standard output
// Exits 0 when every check passes, 1 otherwise (one "not ok" line each).
'use strict';

const fs = require('fs');
const zlib = require('zlib');
const { Profile } = require('pprof-format');

let failures = 0;
function check(cond, msg) {
  if (!cond) {
    failures++;
    console.error(`not ok: ${msg}`);
  } else if (!printFolded) {
    console.log(`ok: ${msg}`);
  }
}

const args = process.argv.slice(2);
const file = args[0];
const expectAt = args.indexOf('--expect-folded');
const expectFile = expectAt >= 0 ? args[expectAt + 1] : null;
const printFolded = args.includes('--folded');
if (!file) {
  console.error('usage: node check-pprof.js FILE.pb.gz [--expect-folded FILE] [--folded]');
  process.exit(2);
}

const raw = fs.readFileSync(file);
check(raw[0] === 0x1f && raw[1] === 0x8b, 'the file is gzip-compressed');
const p = Profile.decode(zlib.gunzipSync(raw));
const s = p.stringTable.strings;
const num = (v) => Number(v);
const str = (i) => s[num(i)];

check(s[0] === '', 'string table starts with ""');
const types = p.sampleType.map((t) => `${str(t.type)}/${str(t.unit)}`);
check(types[0] === 'samples/count', `first sample type is samples/count (${types})`);
const cpu = types.indexOf('cpu/nanoseconds');
check(cpu > 0, 'there is a cpu/nanoseconds sample type');
check(p.periodType && `${str(p.periodType.type)}/${str(p.periodType.unit)}` === 'cpu/nanoseconds',
  'period type is cpu/nanoseconds');
const period = num(p.period);
check(period > 0, `period ${period} ns is positive`);
check(num(p.timeNanos) > 1e18, `time_nanos ${p.timeNanos} is a time after 2001`);
check(num(p.durationNanos) > 0, `duration_nanos ${p.durationNanos} is positive`);

const functions = new Map(p.function.map((f) => [num(f.id), f]));
const mappings = new Map(p.mapping.map((m) => [num(m.id), m]));
const locations = new Map(p.location.map((l) => [num(l.id), l]));
check(functions.size === p.function.length && functions.size > 0, 'function ids are unique');
check(locations.size === p.location.length && locations.size > 0, 'location ids are unique');

const clean = (name) => name.replace(/[;\n\r]/g, ':');
const stacks = new Map();
let total = 0;
let refsOk = true;
let valuesOk = true;
for (const sample of p.sample) {
  const count = num(sample.value[0]);
  if (sample.value.length !== types.length || num(sample.value[cpu]) !== count * period)
    valuesOk = false;
  total += count;
  const proc = sample.label.find((l) => str(l.key) === 'process');
  const names = [];
  for (const id of [...sample.locationId].reverse()) {
    const loc = locations.get(num(id));
    if (!loc) {
      refsOk = false;
      continue;
    }
    const m = mappings.get(num(loc.mappingId));
    const kernel = m && str(m.filename).startsWith('[kernel');
    const python = m && str(m.filename) === '[python]';
    const lines = [...loc.line].reverse();
    lines.forEach((line, i) => {
      const f = functions.get(num(line.functionId));
      if (!f) {
        refsOk = false;
        return;
      }
      const suffix = i > 0 ? '_[i]' : kernel ? '_[k]' : python ? '_[py]' : '';
      names.push(clean(str(f.name)) + suffix);
    });
  }
  const key = [proc ? clean(str(proc.str)) : '[no process]', ...names].join(';');
  stacks.set(key, (stacks.get(key) || 0) + count);
}
check(refsOk, 'every location and function a sample names exists');
check(valuesOk, 'every sample has one value per type, cpu = count x period');
check(total > 0, `the profile has samples (${total})`);

if (expectFile) {
  const want = new Map();
  let wantTotal = 0;
  for (const line of fs.readFileSync(expectFile, 'utf8').split('\n')) {
    if (!line) continue;
    const at = line.lastIndexOf(' ');
    want.set(line.slice(0, at), Number(line.slice(at + 1)));
    wantTotal += Number(line.slice(at + 1));
  }
  check(total === wantTotal, `sample total ${total} equals the folded total ${wantTotal}`);
  const names = new Set(p.function.map((f) => str(f.name)));
  for (const key of want.keys())
    for (const frame of key.split(';').slice(1)) {
      const bare = frame.replace(/_\[(k|i|py)\]$/, '');
      if (!names.has(bare) && !names.has(bare.replace(/:/g, ';')))
        check(false, `function ${bare} is in the profile`);
    }
  for (const [key, count] of want)
    check(stacks.get(key) === count, `stack ${key}: ${stacks.get(key)} = ${count}`);
  check(stacks.size === want.size, `${stacks.size} stacks, as in the folded export (${want.size})`);
}

if (printFolded)
  for (const [key, count] of [...stacks].sort())
    console.log(`${key} ${count}`);
if (failures) {
  console.error(`check-pprof: ${failures} checks failed`);
  process.exit(1);
}
