#!/usr/bin/env node
// Benchmark for `pooltag export` (issue 11: "for a generated base of 10,000 drivers: export time
// per format, the HTML file's size, the time until the page answers its first search in
// Chromium").
//
//   npm run build && npm run bench:export [-- --reps N] [-- --hosts N]
//
// The base is the synthetic fleet of bench:kb (scripts/lib/synthetic-fleet.mjs): 400 inbox
// drivers on every host and a tail of 9,600, here spread over 20 hosts (480 tail drivers each)
// so that all 10,000 distinct drivers are in the base with fewer reports to merge; Microsoft's
// modern pooltag.txt from ../shared/pooltag/ when present. Each export runs as a new process
// (`pooltag export --format F --out FILE`), against `node -e ""` and a cold `pooltag lookup` in
// the same run; each figure is the median of --reps runs (default 3). The page is opened from
// file:// in Debian's Chromium (playwright-core), a tag typed into its search box, and the time
// until the tag's row shows is measured from navigation start, against the same browser
// opening an empty page.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { writeFleet } from './lib/synthetic-fleet.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/pooltag');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const reps = opt('--reps', 3);
const HOSTS = opt('--hosts', 20);
const COMMON = 400;
const TAIL = 9600;
const PER_HOST_TAIL = Math.ceil(TAIL / HOSTS);

const work = mkdtempSync(join(tmpdir(), 'pooltag-bench-export-'));
const reportsDir = join(work, 'reports');
mkdirSync(reportsDir);
const db = join(work, 'kb.db');
let t0 = performance.now();
const { drivers, bytes } = writeFleet(reportsDir, { hosts: HOSTS, common: COMMON, tail: TAIL, perHostTail: PER_HOST_TAIL, stride: 1 });
console.log(`generated ${HOSTS} reports (${(bytes / 1e6).toFixed(0)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const modern = resolve(root, '..', 'shared', 'pooltag', 'pooltag-modern.txt');
if (existsSync(modern)) execFileSync(process.execPath, [bin, 'import-pooltag', '--db', db, modern], { stdio: 'ignore' });
else console.log(`note: ${modern} is missing; the base has no pooltag.txt`);
t0 = performance.now();
execFileSync(process.execPath, [bin, 'merge', '--db', db, reportsDir], { stdio: 'ignore' });
const stats = JSON.parse(execFileSync(process.execPath, [bin, 'stats', '--json', '--db', db], { encoding: 'utf8' }));
console.log(`base: ${stats.drivers} drivers, ${stats.distinctTags} tags at call sites, ${stats.evidence} evidence rows, ${stats.pooltagEntries} pooltag.txt entries (merged in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
if (stats.drivers < 10000) throw new Error(`the base has ${stats.drivers} drivers, not 10,000`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const timeRun = (argv) => {
  const t = performance.now();
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return performance.now() - t;
};

const node = [];
const lookup = [];
for (let i = 0; i < Math.max(reps, 5); i++) {
  node.push(timeRun(['-e', '']));
  lookup.push(timeRun([bin, 'lookup', '--db', db, drivers[COMMON + 1234].tags[2]]));
}
const n = median(node);
const lk = median(lookup);
console.log(`node -e ""                      ${n.toFixed(0).padStart(7)} ms`);
console.log(`pooltag lookup (cold)           ${lk.toFixed(0).padStart(7)} ms  ${(lk / n).toFixed(2)}x node -e ""`);

const files = {};
for (const format of ['pooltag', 'localtag', 'csv', 'json', 'html']) {
  const file = join(work, `export.${format}`);
  files[format] = file;
  const times = [];
  for (let i = 0; i < reps; i++) times.push(timeRun([bin, 'export', '--quiet', '--db', db, '--format', format, '--out', file]));
  const m = median(times);
  const size = statSync(file).size;
  console.log(`export --format ${format.padEnd(9)}      ${m.toFixed(0).padStart(7)} ms  ${(m / n).toFixed(1)}x node -e "", ${(m / lk).toFixed(1)}x lookup; ${(size / 1e6).toFixed(2)} MB`);
}

// The page in Chromium: navigation start -> the first search answered.
const CHROMIUM = process.env.POOLTAG_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  console.log(`no Chromium at ${CHROMIUM}: page timings skipped (apt-get install chromium)`);
} else {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const empty = join(work, 'empty.html');
  writeFileSync(empty, '<!doctype html><html data-ready="1"><title>x</title><input id="q"></html>');
  const tag = drivers[COMMON + 4321].tags[1];
  const blank = [];
  const ready = [];
  const answered = [];
  const indexed = [];
  const fullText = [];
  for (let i = 0; i < reps; i++) {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    let t = performance.now();
    await p.goto(pathToFileURL(empty).href);
    await p.waitForSelector('html[data-ready="1"]');
    blank.push(performance.now() - t);
    await ctx.close();

    const ctx2 = await browser.newContext();
    const page = await ctx2.newPage();
    t = performance.now();
    await page.goto(pathToFileURL(files.html).href, { timeout: 120_000 });
    await page.waitForSelector('html[data-ready="1"]', { timeout: 120_000 });
    ready.push(performance.now() - t);
    await page.locator('#q').fill(tag);
    await page.locator('table.grid tr.row code.tag', { hasText: new RegExp(`^${tag}$`) }).first().waitFor({ timeout: 60_000 });
    answered.push(performance.now() - t);
    await page.waitForSelector('html[data-index="1"]', { state: 'attached', timeout: 120_000 });
    indexed.push(performance.now() - t);
    // A full-text search (a vendor word) once the index is in.
    const t2 = performance.now();
    await page.locator('#q').fill('');
    await page.locator('#q').fill('contoso network');
    await page.locator('table.grid a.drv').first().waitFor({ timeout: 60_000 });
    fullText.push(performance.now() - t2);
    await ctx2.close();
  }
  await browser.close();
  const b = median(blank);
  console.log(`Chromium: empty page loaded     ${b.toFixed(0).padStart(7)} ms`);
  console.log(`Chromium: export page ready     ${median(ready).toFixed(0).padStart(7)} ms  ${(median(ready) / b).toFixed(1)}x the empty page`);
  console.log(`Chromium: first search answered ${median(answered).toFixed(0).padStart(7)} ms  ${(median(answered) / b).toFixed(1)}x the empty page (from navigation start, tag ${tag})`);
  console.log(`Chromium: full-text index in    ${median(indexed).toFixed(0).padStart(7)} ms  ${(median(indexed) / b).toFixed(1)}x the empty page (from navigation start)`);
  console.log(`Chromium: full-text search      ${median(fullText).toFixed(0).padStart(7)} ms  ${(median(fullText) / b).toFixed(1)}x the empty page ("contoso network", typed into the loaded page)`);
}
rmSync(work, { recursive: true, force: true });
