#!/usr/bin/env node
// Benchmark: median time for readPe() on one driver-sized image, hash included.
// Baseline, in the same process: SHA-256 of the same bytes alone (the part no reader can skip).
// Usage: node scripts/bench-read.mjs [FILE...]   (default: every fixture .sys, plus the Wine
// corpus when it is cached, see scripts/lib/wine-corpus.mjs)
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wineCacheDir } from './lib/wine-corpus.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { readPe } = await import(join(root, 'dist/src/index.js'));

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

function isPe(buf) {
  return buf.length > 64 && buf[0] === 0x4d && buf[1] === 0x5a;
}

let files = process.argv.slice(2);
if (files.length === 0) {
  const fx = join(root, 'test/fixtures/bin');
  if (existsSync(fx)) files.push(...walk(fx).filter((f) => f.endsWith('.sys')));
  const wine = join(wineCacheDir(), 'root');
  if (existsSync(wine)) files.push(...walk(wine).filter((f) => /\.(dll|sys|exe|drv)$/i.test(f)));
}
const bufs = files.map((f) => ({ f, b: readFileSync(f) })).filter((x) => isPe(x.b));
if (bufs.length === 0) {
  console.error('bench-read: no PE files found; build the fixtures or pass files');
  process.exit(1);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
function timeIt(fn, reps) {
  const t = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(t);
}

// 1. The ~100 KB driver closest to 100 KB.
const target = bufs.reduce((a, b) => (Math.abs(b.b.length - 100_000) < Math.abs(a.b.length - 100_000) ? b : a));
for (let i = 0; i < 200; i++) readPe(target.b); // warm up the JIT
const read = timeIt(() => readPe(target.b), 2000);
const hash = timeIt(() => createHash('sha256').update(target.b).digest('hex'), 2000);
const noHash = timeIt(() => readPe(target.b, { hash: false }), 2000);
console.log(`file: ${target.f} (${(target.b.length / 1024).toFixed(1)} KB)`);
console.log(`readPe, hash included: median ${(read * 1000).toFixed(1)} us`);
console.log(`readPe, no hash:       median ${(noHash * 1000).toFixed(1)} us`);
console.log(`baseline SHA-256 only: median ${(hash * 1000).toFixed(1)} us`);
console.log(`ratio readPe / SHA-256 alone: ${(read / hash).toFixed(2)}x`);

// 2. Every file once, for the spread.
const per = [];
let bytes = 0;
const t0 = process.hrtime.bigint();
let failed = 0;
for (const { b } of bufs) {
  const s = process.hrtime.bigint();
  try {
    readPe(b);
  } catch {
    failed++;
  }
  per.push(Number(process.hrtime.bigint() - s) / 1e6);
  bytes += b.length;
}
const total = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`all ${bufs.length} files (${(bytes / 1e6).toFixed(1)} MB): median ${(median(per) * 1000).toFixed(1)} us/file, ${(bytes / 1e6 / total).toFixed(0)} MB/s, ${failed} not readable`);
