#!/usr/bin/env node
// Benchmark for `pooltag export` (issue 11: "for a generated base of 10,000 drivers: export time
// per format, the HTML file's size, the time until the page answers its first search in
// Chromium"; issue 20, item 4: the same against the code before the bulk export, in one run).
//
//   npm run build && npm run bench:export [-- --reps N] [-- --hosts N] [-- --against REV] [-- --db FILE]
//
// The base is the synthetic fleet of bench:kb (scripts/lib/synthetic-fleet.mjs): 400 inbox
// drivers on every host and a tail of 9,600, here spread over 20 hosts (480 tail drivers each)
// so that all 10,000 distinct drivers are in the base with fewer reports to merge; Microsoft's
// modern pooltag.txt from ../shared/pooltag/ when present. `--db FILE` exports an existing base
// of 10,000 drivers instead of building one.
//
// `--against REV` (default 827d491, the commit before issue 20's bulk export; `--against none`
// to skip) is checked out with `git worktree add` into a temporary folder, built there with this
// checkout's node_modules, and every export and page figure is measured for it too, in the same
// run, alternating with ours; its outputs are compared with ours (the same content: byte for
// byte but the time of the export). The worktree is removed at the end.
//
// Each export runs as a new process (`pooltag export --format F --out FILE`), against
// `node -e ""` and a cold `pooltag lookup` in the same run; each figure is the median of --reps
// runs (default 3), with its CPU time (user + system, as the process counts it when it exits: on
// a loaded machine, wall time says as much about the other work). The page is opened from file:// in Debian's Chromium (playwright-core), a
// tag typed into its search box, and the time until the tag's row shows is measured from
// navigation start, against the same browser opening an empty page. Playwright reaches the page
// only once the browser has read all of it (the load event), so the page's own first answer is
// also measured inside it: a script added before the page's own types the tag the moment the
// page says it is ready (html[data-ready]) and notes when the row shows (`in-page` rows). Our
// page and the one before are opened in turn, run after run (not one block after the other).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
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
const optText = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const reps = opt('--reps', 3);
const HOSTS = opt('--hosts', 20);
const AGAINST = optText('--against', '827d491');
const COMMON = 400;
const TAIL = 9600;
const PER_HOST_TAIL = Math.ceil(TAIL / HOSTS);

const work = mkdtempSync(join(tmpdir(), 'pooltag-bench-export-'));

// The code to compare with: its own worktree, built with our node_modules.
let before = null;
if (AGAINST !== 'none') {
  const t = performance.now();
  const dir = join(work, 'before');
  execFileSync('git', ['-C', root, 'worktree', 'add', '--detach', dir, AGAINST], { stdio: 'ignore' });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.build.json')], { stdio: 'inherit' });
  before = { rev: execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(), dir, bin: join(dir, 'bin/pooltag') };
  console.log(`before: ${AGAINST} (${before.rev}) built in a worktree in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
const cleanup = () => {
  if (before) spawnSync('git', ['-C', root, 'worktree', 'remove', '--force', before.dir], { stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);

let db = optText('--db', null);
let beforeDb = null;
let drivers;
if (db) {
  db = resolve(db);
  drivers = null;
} else {
  const reportsDir = join(work, 'reports');
  mkdirSync(reportsDir);
  db = join(work, 'kb.db');
  let t0 = performance.now();
  const fleet = writeFleet(reportsDir, { hosts: HOSTS, common: COMMON, tail: TAIL, perHostTail: PER_HOST_TAIL, stride: 1 });
  drivers = fleet.drivers;
  console.log(`generated ${HOSTS} reports (${(fleet.bytes / 1e6).toFixed(0)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const modern = resolve(root, '..', 'shared', 'pooltag', 'pooltag-modern.txt');
  if (existsSync(modern)) execFileSync(process.execPath, [bin, 'import-pooltag', '--db', db, modern], { stdio: 'ignore' });
  else console.log(`note: ${modern} is missing; the base has no pooltag.txt`);
  t0 = performance.now();
  execFileSync(process.execPath, [bin, 'merge', '--db', db, reportsDir], { stdio: 'ignore' });
  console.log(`merged in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // The code before reads only bases of its own schema or older: it gets its own, of the same reports.
  if (before) {
    beforeDb = join(work, 'kb-before.db');
    if (existsSync(modern)) execFileSync(process.execPath, [before.bin, 'import-pooltag', '--db', beforeDb, modern], { stdio: 'ignore' });
    execFileSync(process.execPath, [before.bin, 'merge', '--db', beforeDb, reportsDir], { stdio: 'ignore' });
  }
}
if (before && !beforeDb) throw new Error('--db with --against: the code before cannot read a base of a newer schema; leave out --db, or pass --against none');
const stats = JSON.parse(execFileSync(process.execPath, [bin, 'stats', '--json', '--db', db], { encoding: 'utf8' }));
console.log(`base: ${stats.drivers} drivers, ${stats.distinctTags} tags at call sites, ${stats.evidence} evidence rows, ${stats.pooltagEntries} pooltag.txt entries`);
if (stats.drivers < 10000) throw new Error(`the base has ${stats.drivers} drivers, not 10,000`);
// Tags to look up and to type into the page: from the fleet, or from the base given.
const someTags = drivers
  ? [drivers[COMMON + 1234].tags[2], drivers[COMMON + 4321].tags[1]]
  : JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', `const { openSqlite } = await import(${JSON.stringify(join(root, 'dist/src/knowledge/sqlite.js'))});const d=openSqlite(${JSON.stringify(db)},{readonly:true});console.log(JSON.stringify(d.prepare("SELECT DISTINCT tag FROM evidence WHERE shared = 0 AND tag GLOB '[A-Za-z][A-Za-z][A-Za-z][A-Za-z]' ORDER BY tag LIMIT 2 OFFSET 5000").pluck().all()))`], { encoding: 'utf8' }));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// The CPU time each run takes (user + system, all its threads), from the process itself as it
// exits: on a loaded machine wall time says more about the others than about the export.
const cpuHook = join(work, 'cpu-hook.cjs');
writeFileSync(cpuHook, "process.on('exit', () => { const u = process.cpuUsage(); process.stderr.write('\\nBENCH_CPU ' + (u.user + u.system) / 1000 + '\\n'); });\n");
let lastCpu = 0;
const timeRun = (argv) => {
  const t = performance.now();
  const r = spawnSync(process.execPath, ['-r', cpuHook, ...argv], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  lastCpu = Number(/BENCH_CPU ([\d.]+)/.exec(r.stderr)?.[1] ?? NaN);
  return performance.now() - t;
};
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
console.log(`load average at the start: ${loadAverage()}`);

const node = [];
const lookup = [];
for (let i = 0; i < Math.max(reps, 5); i++) {
  node.push(timeRun(['-e', '']));
  lookup.push(timeRun([bin, 'lookup', '--db', db, someTags[0]]));
}
const n = median(node);
const lk = median(lookup);
console.log(`load average after the cold runs: ${loadAverage()}`);
console.log(`node -e ""                      ${n.toFixed(0).padStart(7)} ms`);
console.log(`pooltag lookup (cold)           ${lk.toFixed(0).padStart(7)} ms  ${(lk / n).toFixed(2)}x node -e ""`);

/**
 * An export's bytes with the time of the export and the base's path taken out (the only parts
 * that differ: the code before reads its own copy of the base, kb-before.db).
 */
const timeless = (buf) => buf.toString('latin1').replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?Z/g, 'TIME').split(JSON.stringify(db).slice(1, -1)).join('DB').split(db).join('DB').split(JSON.stringify(beforeDb ?? db).slice(1, -1)).join('DB').split(beforeDb ?? db).join('DB');
const files = {};
const beforeFiles = {};
for (const format of ['pooltag', 'localtag', 'csv', 'json', 'html']) {
  const file = join(work, `export.${format}`);
  const old = join(work, `before.${format}`);
  files[format] = file;
  beforeFiles[format] = old;
  const times = [];
  const oldTimes = [];
  const cpu = [];
  const oldCpu = [];
  for (let i = 0; i < reps; i++) {
    times.push(timeRun([bin, 'export', '--quiet', '--db', db, '--format', format, '--out', file]));
    cpu.push(lastCpu);
    if (before) {
      oldTimes.push(timeRun([before.bin, 'export', '--quiet', '--db', beforeDb, '--format', format, '--out', old]));
      oldCpu.push(lastCpu);
    }
  }
  const m = median(times);
  const c = median(cpu);
  const size = statSync(file).size;
  let line = `export --format ${format.padEnd(9)}      ${m.toFixed(0).padStart(7)} ms (CPU ${c.toFixed(0)} ms)  ${(m / n).toFixed(1)}x node -e "", ${(m / lk).toFixed(1)}x lookup; ${(size / 1e6).toFixed(2)} MB`;
  if (before) {
    const mo = median(oldTimes);
    const co = median(oldCpu);
    const oldSize = statSync(old).size;
    const same = format === 'html' ? 'content compared in the browser below' : timeless(readFileSync(file)) === timeless(readFileSync(old)) ? 'same content' : 'CONTENT DIFFERS';
    line += `  | before ${mo.toFixed(0)} ms (CPU ${co.toFixed(0)} ms), ${(oldSize / 1e6).toFixed(2)} MB: ${(mo / m).toFixed(1)}x faster (CPU ${(co / c).toFixed(1)}x), ${(oldSize / size).toFixed(1)}x smaller; ${same}`;
  }
  console.log(line);
}
console.log(`load average after the exports: ${loadAverage()}`);

// The page in Chromium: navigation start -> the first search answered.
const CHROMIUM = process.env.POOLTAG_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  console.log(`no Chromium at ${CHROMIUM}: page timings skipped (apt-get install chromium)`);
} else {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const empty = join(work, 'empty.html');
  writeFileSync(empty, '<!doctype html><html data-ready="1"><title>x</title><input id="q"></html>');
  const tag = someTags[1];
  const blank = [];
  // Types the tag as soon as the page is ready and notes when its row shows (ms from navigation start).
  const inPage = `(() => {
    const tag = ${JSON.stringify(tag)};
    const found = () => [...document.querySelectorAll('table.grid tr.row code.tag')].some((c) => c.textContent.replace(/\u00a0/g, ' ') === tag);
    new MutationObserver((_, obs) => {
      const html = document.documentElement;
      if (!html) return;
      if (window.__typed === undefined && html.dataset.ready === '1') {
        const q = document.getElementById('q');
        q.value = tag;
        window.__typed = performance.now();
        q.dispatchEvent(new Event('input', { bubbles: true }));
      }
      if (window.__typed !== undefined && window.__answered === undefined && found()) {
        window.__answered = performance.now();
        obs.disconnect();
      }
    }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-ready'] });
  })();`;
  const measure = async (file, r) => {
    {
      const ctx = await browser.newContext();
      const p = await ctx.newPage();
      let t = performance.now();
      await p.goto(pathToFileURL(empty).href);
      await p.waitForSelector('html[data-ready="1"]');
      blank.push(performance.now() - t);
      await ctx.close();

      const ctx2 = await browser.newContext();
      const pg = await ctx2.newPage();
      t = performance.now();
      await pg.goto(pathToFileURL(file).href, { timeout: 120_000 });
      await pg.waitForSelector('html[data-ready="1"]', { timeout: 120_000 });
      r.ready.push(performance.now() - t);
      await pg.locator('#q').fill(tag);
      await pg.locator('table.grid tr.row code.tag', { hasText: new RegExp(`^${tag}$`) }).first().waitFor({ timeout: 60_000 });
      r.answered.push(performance.now() - t);
      await pg.waitForSelector('html[data-index="1"]', { state: 'attached', timeout: 120_000 });
      r.indexed.push(performance.now() - t);
      // What the page shows for the tag (compared between the two pages).
      await pg.goto(`${pathToFileURL(file).href}#tag/${encodeURIComponent(tag)}`);
      await pg.waitForSelector('h1.tagtitle', { timeout: 60_000 });
      r.shown = await pg.locator('main').innerText();
      // A full-text search (a vendor word) once the index is in.
      const t2 = performance.now();
      await pg.locator('#q').fill('');
      await pg.locator('#q').fill('contoso network');
      await pg.locator('table.grid a.drv').first().waitFor({ timeout: 60_000 });
      r.fullText.push(performance.now() - t2);
      await ctx2.close();

      const ctx3 = await browser.newContext();
      await ctx3.addInitScript(inPage);
      const p3 = await ctx3.newPage();
      await p3.goto(pathToFileURL(file).href, { timeout: 120_000 });
      await p3.waitForFunction(() => window.__answered !== undefined, null, { timeout: 60_000 });
      const [typed, answered] = await p3.evaluate(() => [window.__typed, window.__answered]);
      r.inReady.push(typed);
      r.inAnswered.push(answered);
      await ctx3.close();
    }
  };
  const fresh = () => ({ ready: [], answered: [], indexed: [], fullText: [], inReady: [], inAnswered: [], shown: null });
  const ours = fresh();
  const theirs = before ? fresh() : null;
  for (let i = 0; i < reps; i++) {
    await measure(files.html, ours);
    if (theirs) await measure(beforeFiles.html, theirs);
  }
  await browser.close();
  const b = median(blank);
  const row = (label, key, note = '') => {
    const m = median(ours[key]);
    let line = `Chromium: ${label.padEnd(22)}${m.toFixed(0).padStart(7)} ms  ${(m / b).toFixed(1)}x the empty page${note}`;
    if (theirs) line += `  | before ${median(theirs[key]).toFixed(0)} ms (${(median(theirs[key]) / m).toFixed(1)}x)`;
    console.log(line);
  };
  console.log(`Chromium: empty page loaded     ${b.toFixed(0).padStart(7)} ms`);
  row('export page ready', 'ready');
  row('first search answered', 'answered', ` (from navigation start, tag ${tag})`);
  row('full-text index in', 'indexed', ' (from navigation start)');
  row('full-text search', 'fullText', ' ("contoso network", typed into the loaded page)');
  row('in-page: ready', 'inReady', ' (from navigation start, as the page marks it)');
  row('in-page: first answer', 'inAnswered', ' (typed the moment the page is ready; from navigation start)');
  if (theirs) {
    const strip = (s) => s.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?Z/g, 'TIME');
    console.log(`Chromium: the tag's view of ${tag} ${strip(ours.shown) === strip(theirs.shown) ? 'is the same' : 'DIFFERS'} on both pages`);
  }
}
