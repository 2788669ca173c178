#!/usr/bin/env node
// Benchmark for the knowledge base (issue: "a base of 10,000 drivers, 200,000 evidence rows
// and one pooltag.txt; a cold `pooltag lookup` at most 2x `node -e ""`; `pooltag search` at
// most 3x; merging 1,000 host reports of 500 drivers each in under a minute; index rebuild
// time and size").
//
//   npm run build && npm run bench:kb [-- --reps N] [-- --hosts N]
//
// The fleet is synthetic but shaped like a real one: every host has the same 400 inbox
// drivers, plus 100 from a long tail of 9,600 third-party drivers; each driver has 5 tags at
// 20 call sites, 5 classified strings and 10 tag-like strings. Reports are written as real
// JSON files and merged by the CLI (`pooltag merge FOLDER`), one process, as an
// administrator would. The pooltag.txt is Microsoft's modern copy from ../shared/pooltag/
// when present. Lookup and search run as new processes (cold), against `node -e ""` in the
// same run; each figure is the median of --reps runs (default 7).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { writeFleet } from './lib/synthetic-fleet.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/pooltag');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const reps = opt('--reps', 7);
const HOSTS = opt('--hosts', 1000);
const COMMON = 400;
const TAIL = 9600;
const PER_HOST_TAIL = 100;

const work = mkdtempSync(join(tmpdir(), 'pooltag-bench-kb-'));
const reportsDir = join(work, 'reports');
mkdirSync(reportsDir);
const db = join(work, 'kb.db');
const t0 = performance.now();
const { drivers, bytes } = writeFleet(reportsDir, { hosts: HOSTS, common: COMMON, tail: TAIL, perHostTail: PER_HOST_TAIL });
console.log(`generated ${HOSTS} reports (${(bytes / 1e9).toFixed(2)} GB, ${COMMON + TAIL} distinct drivers, ${(COMMON + TAIL) * 20} evidence rows) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const timeRun = (argv) => {
  const t = performance.now();
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { ms: performance.now() - t, r };
};

// pooltag.txt first (so that the index built by the merge holds it).
const modern = resolve(root, '..', 'shared', 'pooltag', 'pooltag-modern.txt');
if (existsSync(modern)) execFileSync(process.execPath, [bin, 'import-pooltag', '--db', db, modern], { stdio: 'ignore' });
else console.log(`note: ${modern} is missing; the base has no pooltag.txt`);

const merge = timeRun([bin, 'merge', '--json', '--db', db, reportsDir]);
if (merge.r.status !== 0) throw new Error(`merge failed: ${merge.r.stderr}`);
const mj = JSON.parse(merge.r.stdout);
const again = timeRun([bin, 'merge', '--json', '--db', db, reportsDir]);
const aj = JSON.parse(again.r.stdout);
const stats = JSON.parse(execFileSync(process.execPath, [bin, 'stats', '--json', '--db', db], { encoding: 'utf8' }));
console.log(`merge of ${HOSTS} reports: ${(merge.ms / 1000).toFixed(1)} s (target < 60 s); base: ${stats.drivers} drivers, ${stats.evidence} evidence rows, ${stats.sightings} sightings, ${stats.pooltagEntries} pooltag.txt entries; ${(statSync(db).size / 1e6).toFixed(0)} MB`);
console.log(`  the same reports again: ${(again.ms / 1000).toFixed(1)} s, ${aj.skipped} skipped, ${aj.merged} merged (idempotent)`);
console.log(`index rebuild (in the merge): ${mj.index.documents} documents, ${mj.index.terms} terms, ${(mj.index.bytes / 1e6).toFixed(1)} MB stored, ${(mj.index.ms / 1000).toFixed(2)} s`);

const common = drivers[7].tags[0];
const tail = drivers[COMMON + 1234].tags[2];
const samples = { node: [], lookupCommon: [], lookupTail: [], lookupPooltag: [], lookupUnknown: [], search: [] };
for (let i = 0; i < reps; i++) {
  samples.node.push(timeRun(['-e', '']).ms);
  samples.lookupCommon.push(timeRun([bin, 'lookup', '--db', db, common]).ms);
  samples.lookupTail.push(timeRun([bin, 'lookup', '--db', db, tail]).ms);
  samples.lookupPooltag.push(timeRun([bin, 'lookup', '--db', db, 'Afd?']).ms);
  samples.lookupUnknown.push(timeRun([bin, 'lookup', '--db', db, '~~~~']).ms);
  samples.search.push(timeRun([bin, 'search', '--db', db, 'vendor:contoso', 'network']).ms);
}
const n = median(samples.node);
const line = (label, xs, target) => {
  const m = median(xs);
  console.log(`${label.padEnd(34)} ${m.toFixed(0).padStart(5)} ms  ${(m / n).toFixed(2)}x node -e ""${target ? ` (target <= ${target}x)` : ''}`);
};
console.log(`node -e ""                         ${n.toFixed(0).padStart(5)} ms`);
line('lookup (tag of a common driver)', samples.lookupCommon, 2);
line('lookup (tag of a long-tail driver)', samples.lookupTail, 2);
line('lookup Afd? (pooltag.txt wildcard)', samples.lookupPooltag, 2);
line('lookup of an unknown tag', samples.lookupUnknown, 2);
line('search vendor:contoso network', samples.search, 3);
rmSync(work, { recursive: true, force: true });
