#!/usr/bin/env node
// Benchmark for tag extraction (issue: "evidence extraction over the libwine set,
// single-threaded, in MB/s, against GNU strings -a -n 4 plus strings -a -n 4 -el").
//
//   npm run build && node scripts/bench-extract.mjs [--reps N] [PATH...]
//
// Default corpus: Debian's libwine PE files (fetched into ~/.cache/pooltag-dev/wine by
// scripts/lib/wine-corpus.mjs), plus the fixture drivers. Both sides run in this one
// process/run, with the files in the page cache: ours = readPe (no hash) + extractEvidence
// (call sites, strings and classification), one thread; baseline = the two GNU strings
// passes, output to /dev/null. Prints MB/s for each and the ratio.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureWineCorpus } from './lib/wine-corpus.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { readPe, extractEvidence } = await import(join(root, 'dist/src/index.js'));

const args = process.argv.slice(2);
let reps = 3;
const paths = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--reps') reps = Math.max(1, Number(args[++i]));
  else paths.push(args[i]);
}

function walk(p, out) {
  const st = statSync(p);
  if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e), out);
  else if (st.isFile() && st.size > 64) out.push(p);
  return out;
}

let files = [];
if (paths.length) for (const p of paths) walk(p, files);
else {
  files = ensureWineCorpus().files;
  const fx = join(root, 'test/fixtures/bin');
  if (existsSync(fx)) walk(fx, files);
}
const bufs = files.map((f) => readFileSync(f)).filter((b) => b[0] === 0x4d && b[1] === 0x5a);
const bytes = bufs.reduce((a, b) => a + b.length, 0);
const mb = bytes / 1e6;
console.log(`corpus: ${bufs.length} PE files, ${mb.toFixed(1)} MB`);

async function ours() {
  let ev = 0;
  let failed = 0;
  const t0 = process.hrtime.bigint();
  for (const b of bufs) {
    try {
      const img = readPe(b, { hash: false });
      const r = await extractEvidence(b, img);
      ev += r.evidence.length;
    } catch {
      failed++;
    }
  }
  return { s: Number(process.hrtime.bigint() - t0) / 1e9, ev, failed };
}

function gnu() {
  // As few processes as argv allows; both passes timed together.
  const chunks = [];
  for (let i = 0; i < files.length; i += 200) chunks.push(files.slice(i, i + 200));
  const t0 = process.hrtime.bigint();
  for (const enc of [[], ['-el']]) {
    for (const c of chunks) {
      const r = spawnSync('strings', ['-a', '-n', '4', ...enc, ...c], { stdio: ['ignore', 'ignore', 'inherit'] });
      if (r.error) throw new Error(`GNU strings could not run (${r.error.message}); install binutils`);
    }
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

await ours(); // warm up JIT and the decoder
let best = Infinity;
let last;
for (let i = 0; i < reps; i++) {
  last = await ours();
  best = Math.min(best, last.s);
}
let bestGnu = Infinity;
for (let i = 0; i < reps; i++) bestGnu = Math.min(bestGnu, gnu());

console.log(`pooltag extraction (1 thread): ${best.toFixed(2)} s, ${(mb / best).toFixed(0)} MB/s, ${last.ev} evidence items, ${last.failed} files not readable`);
console.log(`GNU strings -n 4 + -el:        ${bestGnu.toFixed(2)} s, ${(mb / bestGnu).toFixed(0)} MB/s`);
console.log(`ratio: pooltag is ${(bestGnu / best).toFixed(2)}x the speed of the two strings passes (target >= 2x)`);
