#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// make-pprof.js — writes pprof profiles of a known shape with an
// independent encoder (npm's pprof-format), for the import tests:
//   heap FILE   a Go-style heap profile: sample types alloc_objects/count,
//               alloc_space/bytes, inuse_objects/count, inuse_space/bytes
//               (no default_sample_type: pprof takes the last), period
//               type space/bytes, the program's own mapping first and
//               libc's second, time_nanos, duration 2.0003 s;
//   cpu FILE    a CPU profile whose default_sample_type is "samples" (the
//               first of samples/count and cpu/nanoseconds, period 10 ms).
// Prints the expected values as JSON: per sample type, the self value of
// each leaf function ({"inuse_space": {"leak": 4096, ...}, ...}).
//   decode FILE reads any pprof file (gzipped or not) and prints the same
//               per-type leaf sums, with the sample types, the first
//               mapping's file, time_nanos and duration_nanos.
//
// Usage: node make-pprof.js heap|cpu|decode FILE.pb.gz
'use strict';

const fs = require('fs');
const zlib = require('zlib');
const { Profile, ValueType, Sample, Location, Line, Function: Fn, Mapping, Label,
  StringTable } = require('pprof-format');

const [kind, file] = process.argv.slice(2);
if (!['heap', 'cpu', 'decode'].includes(kind) || !file) {
  console.error('usage: node make-pprof.js heap|cpu|decode FILE.pb.gz');
  process.exit(2);
}
if (kind === 'decode') {
  let raw = fs.readFileSync(file);
  if (raw[0] === 0x1f && raw[1] === 0x8b) raw = zlib.gunzipSync(raw);
  const p = Profile.decode(raw);
  const str = (i) => p.stringTable.strings[Number(i)];
  const loc = new Map(p.location.map((l) => [Number(l.id), l]));
  const fn = new Map(p.function.map((f) => [Number(f.id), f]));
  const types = p.sampleType.map((t) => str(t.type));
  const leaves = {};
  types.forEach((t) => { leaves[t] = {}; });
  for (const s of p.sample) {
    const l = loc.get(Number(s.locationId[0]));
    const name = l.line.length ? str(fn.get(Number(l.line[0].functionId)).name) : '0x' + Number(l.address).toString(16);
    types.forEach((t, k) => { leaves[t][name] = (leaves[t][name] || 0) + Number(s.value[k]); });
  }
  console.log(JSON.stringify({ types: p.sampleType.map((t) => `${str(t.type)}/${str(t.unit)}`), leaves,
    mapping0: p.mapping.length ? str(p.mapping[0].filename) : null,
    timeNanos: String(p.timeNanos), durationNanos: String(p.durationNanos) }));
  process.exit(0);
}

const st = new StringTable();
const S = (x) => st.dedup(x);
const mappings = [
  new Mapping({ id: 1, memoryStart: 0x400000, memoryLimit: 0x500000, fileOffset: 0,
    filename: S('/usr/bin/heapy'), buildId: S('aa11'), hasFunctions: true }),
  new Mapping({ id: 2, memoryStart: 0x7f0000000000, memoryLimit: 0x7f0000100000, fileOffset: 0,
    filename: S('/usr/lib/x86_64-linux-gnu/libc.so.6'), buildId: S('bb22'), hasFunctions: true }),
];
const fnames = ['main', 'serve', 'leak', 'churn', 'malloc'];
const functions = fnames.map((n, i) => new Fn({ id: i + 1, name: S(n), systemName: S(n),
  filename: S(n === 'malloc' ? 'malloc.c' : 'heapy.go') }));
const fid = (n) => fnames.indexOf(n) + 1;
const locations = fnames.map((n, i) => new Location({ id: i + 1, mappingId: n === 'malloc' ? 2 : 1,
  address: (n === 'malloc' ? 0x7f0000001000 : 0x401000) + 16 * i,
  line: [new Line({ functionId: fid(n), line: 10 + i })] }));
const lid = fid;

// Stacks leaf first (pprof's order), with one value per sample type.
let types, stacks, extra = {};
if (kind === 'heap') {
  types = [['alloc_objects', 'count'], ['alloc_space', 'bytes'], ['inuse_objects', 'count'], ['inuse_space', 'bytes']];
  // the first sample's leaf is in libc: the export must still name heapy
  stacks = [
    [['malloc', 'churn', 'serve', 'main'], [900, 115200, 3, 384]],
    [['leak', 'serve', 'main'], [10, 40960, 8, 32768]],
    [['churn', 'main'], [50, 6400, 1, 128]],
  ];
  extra = { periodType: new ValueType({ type: S('space'), unit: S('bytes') }), period: 524288 };
} else {
  types = [['samples', 'count'], ['cpu', 'nanoseconds']];
  stacks = [
    [['malloc', 'churn', 'serve', 'main'], [12, 120000000]],
    [['leak', 'serve', 'main'], [30, 300000000]],
  ];
  extra = { periodType: new ValueType({ type: S('cpu'), unit: S('nanoseconds') }), period: 10000000,
    defaultSampleType: S('samples') };
}
const p = new Profile({
  sampleType: types.map(([t, u]) => new ValueType({ type: S(t), unit: S(u) })),
  sample: stacks.map(([frames, values]) => new Sample({ locationId: frames.map(lid), value: values,
    label: [new Label({ key: S('thread'), str: S('worker') })] })),
  mapping: mappings,
  location: locations,
  function: functions,
  stringTable: st,
  timeNanos: 1700000000123456789n,
  durationNanos: 2000300000, // 2.0003 s: not a whole second
  ...extra,
});
fs.writeFileSync(file, zlib.gzipSync(Buffer.from(p.encode())));
const expect = {};
types.forEach(([t], k) => {
  expect[t] = {};
  for (const [frames, values] of stacks) expect[t][frames[0]] = (expect[t][frames[0]] || 0) + values[k];
});
console.log(JSON.stringify(expect));
