#!/usr/bin/env node
// Benchmark for `pooltag triage` (issue 10: "a generated snapshot of 5,000 tags, and a series
// of 10 such snapshots, triage in under a second each").
//
//   npm run build && npm run bench:triage [-- --reps N]
//
// The inputs are generated: a poolmon screen (deltas, Mapped_Driver) of 5,000 tags in both
// pools, and 10 `/n`-style snapshots of the same 5,000 tags 30 minutes apart (a timestamp
// line each; 50 tags grow in every interval, 50 grow then shrink, the rest wander). The
// knowledge base is the fixture drivers' scan (and Microsoft's modern pooltag.txt from
// ../shared/pooltag/ when present). Every run is a new process through the CLI, against
// `node -e ""` in the same run; each figure is the median of --reps runs (default 7).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/pooltag');
const args = process.argv.slice(2);
const i = args.indexOf('--reps');
const reps = i >= 0 ? Number(args[i + 1]) : 7;
const TAGS = 5000;
const SNAPSHOTS = 10;
if (!existsSync(join(root, 'dist/src/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first');

// Deterministic pseudo-random numbers (mulberry32).
let seed = 0x7a9e;
const rnd = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const FIXTURE_TAGS = ['FxAp', 'FxQt', 'FxPr', 'FlAl', 'FlPg', 'NxMt', 'KmDr', 'VpAl', 'SpAl', 'None', 'Io  '];
const tags = [...FIXTURE_TAGS];
const seen = new Set(tags);
while (tags.length < TAGS) {
  const t = Array.from({ length: 4 }, () => ALNUM[Math.floor(rnd() * ALNUM.length)]).join('');
  if (!seen.has(t)) seen.add(t), tags.push(t);
}
const base = tags.map((tag, k) => ({
  tag,
  type: k % 3 === 0 ? 'Paged' : 'Nonp',
  allocs: 1000 + Math.floor(rnd() * 5_000_000),
  diff: 1 + Math.floor(rnd() * 20_000),
  per: 16 << Math.floor(rnd() * 8),
  mapped: k % 4 === 0 ? `[drv${k}.sys  -  generated tag ${k}]` : k % 4 === 1 ? 'Unknown Driver' : '',
}));

const row = (t, allocs, diff, bytes, deltas) => {
  const frees = allocs - diff;
  const d = (x) => (deltas ? ` (${String(x).padStart(4)})` : '');
  return ` ${t.tag.padEnd(4)} ${t.type.padEnd(5)} ${String(allocs).padStart(9)}${d(3)} ${String(frees).padStart(9)}${d(2)} ${String(diff).padStart(8)} ${String(bytes).padStart(10)}${deltas ? ` (${'128'.padStart(6)})` : ''} ${String(t.per).padStart(6)}${deltas && t.mapped ? ' ' + t.mapped : ''}`;
};
const HEAD = [
  ' Memory:33473120K Avail:20055132K  PageFlts:     5   InRam Krnl:10444K P:1843072K',
  ' Commit:15035764K Limit:67027552K Peak:16677444K            Pool N:1023400K P:1955448K',
  ' System pool information',
];

const work = mkdtempSync(join(tmpdir(), 'pooltag-bench-triage-'));
const screen = join(work, 'poolmon-5000.txt');
writeFileSync(screen, [...HEAD, ' Tag  Type     Allocs            Frees            Diff   Bytes       Per Alloc  Mapped_Driver', '', ...base.map((t) => row(t, t.allocs, t.diff, t.diff * t.per, true))].join('\r\n') + '\r\n');
const series = [];
for (let s = 0; s < SNAPSHOTS; s++) {
  const when = new Date(Date.UTC(2024, 4, 1, 9, 0) + s * 30 * 60_000).toISOString().slice(0, 19).replace('T', ' ');
  const lines = base.map((t, k) => {
    // 50 leak (grow every interval), 50 grow then shrink back, the rest wander.
    const diff = k < 50 ? t.diff + s * 100 : k < 100 ? t.diff + (s < SNAPSHOTS / 2 ? s : SNAPSHOTS - s) * 100 : Math.max(1, t.diff + Math.floor((rnd() - 0.5) * 200));
    return row(t, t.allocs + s * 1000, diff, diff * t.per, false);
  });
  const f = join(work, `snap-${String(s).padStart(2, '0')}.txt`);
  writeFileSync(f, [`Snapshot taken: ${when}`, ...HEAD, ' Tag  Type     Allocs     Frees      Diff   Bytes  Per Alloc', '', ...lines].join('\n') + '\n');
  series.push(f);
}

// The knowledge base: the fixture drivers, and Microsoft's pooltag.txt when we have it.
const db = join(work, 'kb.db');
const report = join(work, 'fixtures.json');
execFileSync(process.execPath, [bin, 'scan', '--quiet', '--no-cache', '--jobs', '2', '--out', report, join(root, 'test/fixtures/bin')], { stdio: 'ignore' });
execFileSync(process.execPath, [bin, 'merge', '--db', db, report], { stdio: 'ignore' });
const modern = resolve(root, '..', 'shared', 'pooltag', 'pooltag-modern.txt');
if (existsSync(modern)) execFileSync(process.execPath, [bin, 'import-pooltag', '--db', db, modern], { stdio: 'ignore' });
else console.log(`note: ${modern} is missing; the base has no pooltag.txt`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const timeRun = (argv) => {
  const t = performance.now();
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 256 << 20 });
  const ms = performance.now() - t;
  if (argv[0] === bin && r.status !== 0) throw new Error(`${argv.slice(1).join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, r };
};

// A first run checks the outputs (and warms the file cache, as a user's second try would be).
const check = JSON.parse(timeRun([bin, 'triage', '--json', '--db', db, ...series]).r.stdout);
const suspects = check.growth.filter((g) => g.suspect).length;
const one = JSON.parse(timeRun([bin, 'triage', '--json', '--top', '0', '--db', db, screen]).r.stdout);
const rows = one.pools.reduce((n, p) => n + p.tags, 0);
console.log(`generated: one poolmon screen of ${TAGS} tags (${rows} tag rows read), ${SNAPSHOTS} snapshots of ${TAGS} tags (${suspects} leak suspects in the top 20; 50 grow in every interval)`);

const samples = { node: [], screen: [], screenJson: [], screenAll: [], series: [], seriesAll: [] };
for (let k = 0; k < reps; k++) {
  samples.node.push(timeRun(['-e', '']).ms);
  samples.screen.push(timeRun([bin, 'triage', '--db', db, screen]).ms);
  samples.screenJson.push(timeRun([bin, 'triage', '--json', '--db', db, screen]).ms);
  samples.screenAll.push(timeRun([bin, 'triage', '--top', '0', '--db', db, screen]).ms);
  samples.series.push(timeRun([bin, 'triage', '--db', db, ...series]).ms);
  samples.seriesAll.push(timeRun([bin, 'triage', '--json', '--top', '0', '--db', db, ...series]).ms);
}
const n = median(samples.node);
let over = 0;
const line = (label, xs, limitMs) => {
  const m = median(xs);
  if (limitMs && m >= limitMs) over++;
  console.log(`${label.padEnd(46)} ${m.toFixed(0).padStart(5)} ms  ${(m / n).toFixed(2)}x node -e ""${limitMs ? ` (target < ${limitMs} ms${m < limitMs ? ', met' : ', MISSED'})` : ''}`);
};
console.log(`node -e ""                                     ${n.toFixed(0).padStart(5)} ms`);
line(`triage: 1 snapshot of ${TAGS} tags`, samples.screen, 1000);
line(`triage --json: 1 snapshot of ${TAGS} tags`, samples.screenJson, 1000);
line(`triage --top 0: all ${TAGS} owners looked up`, samples.screenAll);
line(`triage: ${SNAPSHOTS} snapshots of ${TAGS} tags`, samples.series, 1000);
line(`triage --json --top 0: ${SNAPSHOTS} snapshots, all`, samples.seriesAll);
if (!args.includes("--keep")) rmSync(work, { recursive: true, force: true });
else console.log(`inputs kept in ${work}`);
process.exitCode = over ? 1 : 0;
