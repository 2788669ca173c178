#!/usr/bin/env node
// Benchmark for `pooltag scan`.
//
// DriverStore mode (the default when the development corpus is present, issue 9 "Figures"):
//
//   npm run build && npm run bench:scan [-- --reps N] [-- --min-files N] [-- --against DIR]
//
// Copies the drivers of $POOLTAG_DEVSET (scripts/lib/dev-corpus.mjs) into a temporary
// DriverStore-like tree outside the repository (FileRepository/<name>.inf_<arch>_<n>/...),
// round after round until there are at least --min-files files (default 4,000), each copy made
// distinct by one appended byte (so that no two files share a SHA-256). Then, alternately in
// the same run, --reps rounds (default 3) of:
//   - a cold `bin/pooltag scan --no-cache --jobs 2` in a fresh process (node start-up
//     included; peak RSS of that process, its worker threads included, read at its exit);
//   - GNU `strings -a -n 4` then `strings -a -n 4 -el` over the same files, output discarded.
// Prints the medians, the ratio (target >= 3x, goal 5x), files/s, MB/s and the peak RSS
// (target < 500 MB). The tree is deleted at the end. --against DIR (another pooltag checkout,
// built) adds that build's cold scan to every round, before this build's, and the speed-up.
// --scaling adds this build's cold scan with --jobs 1 to every round, and how much faster
// --jobs 2 is (issue 18: >= 1.6x).
//
// Wine mode (--wine, or when the corpus is absent, or with PATH arguments):
//
// Benchmark for `pooltag scan` (issue: "wall time with 2 workers, MB/s, files/s and peak RSS,
// and in the same run GNU strings -a -n 4 + strings -a -n 4 -el over the same files; a warm
// rescan with the cache at least 20x faster than the first scan; peak RSS under 500 MB").
//
//   npm run build && npm run bench:scan [-- --reps N] [-- PATH...]
//
// Corpus: Debian's libwine PE set (fetched into ~/.cache/pooltag-dev/wine by
// scripts/lib/wine-corpus.mjs) plus the fixture drivers. Every side runs in this one run, on
// the same file list, with the files in the page cache (one untimed warm-up read first):
//   - baseline: `strings -a -n 4` then `strings -a -n 4 -el` over all files, output discarded;
//   - cold scan: scan() with 2 workers and an empty cache, in a fresh process (so that its
//     peak RSS, workers included, is its own);
//   - warm rescan: the same with the cache the cold scan wrote;
//   - the CLI end to end (`bin/pooltag scan`, node start-up included), cold and warm.
// Each figure is the median of --reps runs (default 3).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// Child mode: one scan, figures as JSON on stdout.
if (process.argv[2] === '--child') {
  const [, , , listFile, cache] = process.argv;
  const { scan } = await import(join(root, 'dist/src/scan/scan.js'));
  const paths = JSON.parse(readFileSync(listFile, 'utf8'));
  const t0 = performance.now();
  const r = await scan({ paths, jobs: 2, cache });
  const ms = performance.now() - t0;
  const ru = process.resourceUsage();
  process.stdout.write(JSON.stringify({ ms, rssMB: ru.maxRSS / 1024, cpuMs: (ru.userCPUTime + ru.systemCPUTime) / 1000, summary: r.summary }));
  process.exit(0);
}

const { ensureWineCorpus } = await import('./lib/wine-corpus.mjs');
const args = process.argv.slice(2);
let reps = 3;
let wine = false;
let minFiles = 4000;
let against = null;
let scaling = false;
const given = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--reps') reps = Math.max(1, Number(args[++i]));
  else if (args[i] === '--wine') wine = true;
  else if (args[i] === '--scaling') scaling = true;
  else if (args[i] === '--min-files') minFiles = Math.max(1, Number(args[++i]) || 0);
  else if (args[i] === '--against') {
    against = args[++i];
    if (!against || !existsSync(join(against, 'bin', 'pooltag')) || !existsSync(join(against, 'dist', 'workers', 'scan-worker.js'))) {
      console.error(`bench-scan: --against ${against ?? ''}: not a built pooltag checkout (needs bin/pooltag and dist/; run \`npm run build\` in it)`);
      process.exit(1);
    }
  }
  else if (args[i] === '-h' || args[i] === '--help') {
    console.log('usage: node scripts/bench-scan.mjs [--reps N] [--min-files N] [--against DIR] [--scaling] [--wine] [PATH...]');
    process.exit(0);
  } else given.push(args[i]);
}
if (!wine && !given.length) {
  const { findDevset, howToGetDevset } = await import('./lib/dev-corpus.mjs');
  const corpus = findDevset();
  if (corpus) {
    const { driverStoreBench } = await import('./lib/bench-driverstore.mjs');
    await driverStoreBench({ corpus, reps, minFiles, root, against, scaling });
    process.exit(0);
  }
  console.log(`bench-scan: DriverStore mode skipped: ${howToGetDevset()}\nbench-scan: running the Wine mode instead.`);
}
function walk(p, out) {
  const st = statSync(p);
  if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e), out);
  else if (st.isFile()) out.push(p);
  return out;
}
let files = [];
if (given.length) for (const p of given) walk(p, files);
else {
  files = ensureWineCorpus().files;
  walk(join(root, 'test/fixtures/bin'), files);
}
let bytes = 0;
for (const f of files) bytes += readFileSync(f).length; // also warms the page cache
const mb = bytes / 1e6;
console.log(`corpus: ${files.length} files, ${mb.toFixed(1)} MB; node ${process.version}; reps ${reps} (medians)`);

const work = mkdtempSync(join(tmpdir(), 'pooltag-bench-scan-'));
const listFile = join(work, 'files.json');
writeFileSync(listFile, JSON.stringify(files));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = (fn) => {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
};

// Baseline: the two GNU strings passes over the same files (xargs-free: one strings process
// per pass, all files as arguments, in chunks to stay under ARG_MAX).
function stringsPass(extra) {
  for (let i = 0; i < files.length; i += 500) {
    const r = spawnSync('strings', ['-a', '-n', '4', ...extra, ...files.slice(i, i + 500)], { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 0 });
    if (r.status !== 0) throw new Error(`strings failed (${r.status}); is binutils installed?`);
  }
}
const baseline = [];
for (let i = 0; i < reps; i++) baseline.push(time(() => stringsPass([])) + time(() => stringsPass(['-el'])));

function child(cache) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', listFile, cache], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`scan child failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
const cold = [];
const warm = [];
for (let i = 0; i < reps; i++) {
  const cache = join(work, `cache-${i}.json`);
  cold.push(child(cache));
  warm.push(child(cache));
}
if (cold[0].summary.errors) console.log(`note: ${cold[0].summary.errors} files had errors (non-PE files in the list)`);
if (warm.some((w) => w.summary.cached !== w.summary.scanned)) throw new Error('the warm rescan did not come from the cache');

const cli = (cache, out) => time(() => {
  const r = spawnSync(process.execPath, [join(root, 'bin/pooltag'), 'scan', '--quiet', '--jobs', '2', '--cache', cache, '--out', out, ...(given.length ? given : [join(work, 'corpus')])], { stdio: 'ignore' });
  if (r.status !== 0 && r.status !== 2) throw new Error(`pooltag scan exited ${r.status}`);
});
// The CLI takes folders: link the corpus files into one folder (names made unique).
if (!given.length) {
  const { mkdirSync, symlinkSync } = await import('node:fs');
  mkdirSync(join(work, 'corpus'));
  files.forEach((f, i) => symlinkSync(f, join(work, 'corpus', `${i}-${f.split('/').pop()}.sys`)));
}
const cliCold = [];
const cliWarm = [];
for (let i = 0; i < reps; i++) {
  const cache = join(work, `cli-cache-${i}.json`);
  cliCold.push(cli(cache, join(work, `cli-${i}.json`)));
  cliWarm.push(cli(cache, join(work, `cli-${i}-warm.json`)));
}
rmSync(work, { recursive: true, force: true });

const b = median(baseline);
const c = median(cold.map((x) => x.ms));
const w = median(warm.map((x) => x.ms));
const cc = median(cliCold);
const cw = median(cliWarm);
const rss = Math.max(...cold.map((x) => x.rssMB), ...warm.map((x) => x.rssMB));
const cpu = median(cold.map((x) => x.cpuMs));
console.log(`GNU strings -n 4 + -el : ${(b / 1000).toFixed(2)} s  (${(mb / (b / 1000)).toFixed(0)} MB/s)`);
console.log(`scan, 2 workers, cold  : ${(c / 1000).toFixed(2)} s  (${(mb / (c / 1000)).toFixed(0)} MB/s, ${(files.length / (c / 1000)).toFixed(0)} files/s, CPU ${(cpu / 1000).toFixed(2)} s)  -> ${(b / c).toFixed(2)}x faster than strings (target >= 3x)`);
console.log(`scan, warm rescan      : ${w.toFixed(0)} ms  -> ${(c / w).toFixed(1)}x faster than the cold scan (target >= 20x)`);
console.log(`peak RSS (workers incl): ${rss.toFixed(0)} MB (target < 500 MB)`);
console.log(`CLI end to end         : cold ${(cc / 1000).toFixed(2)} s, warm ${cw.toFixed(0)} ms (node start-up included) -> ${(cc / cw).toFixed(1)}x`);
