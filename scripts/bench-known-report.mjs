#!/usr/bin/env node
/**
 * Report size with a known list (issue 20, item 1): one host (by default the development
 * corpus's drivers, /work/devset/drivers) scanned in full, then with `--known` when the base
 * holds every image, and when it lacks 1% of them. Prints the sizes (JSON and gzipped) and the
 * ratios against the full report, from one run.
 *
 *   node scripts/bench-known-report.mjs [folder]
 *
 * Needs `npm run build`. The scans share a private cache in a temporary folder (the first scan
 * analyses everything; the others only hash and read that cache), so it takes about as long as
 * one scan of the folder.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/pooltag');
const host = process.argv[2] ?? '/work/devset/drivers';
const tmp = mkdtempSync(join(tmpdir(), 'pooltag-known-'));
const cache = join(tmp, 'cache.json');

function run(args) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0 && r.status !== 2) throw new Error(`pooltag ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r;
}
const size = (f) => statSync(f).size;
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;

try {
  const t0 = performance.now();
  const full = join(tmp, 'full.json');
  run(['scan', '-q', '--cache', cache, '--jobs', '2', '--out', full, host]);
  const fullGz = join(tmp, 'full.json.gz');
  writeFileSync(fullGz, gzipSync(readFileSync(full), { level: 6 }));
  const db = join(tmp, 'base.db');
  run(['merge', '--db', db, full]);
  const known = join(tmp, 'known.gz');
  run(['export', '--format', 'known', '--db', db, '--out', known]);
  const hashes = gunzipSync(readFileSync(known)).toString('latin1').split('\n').filter((l) => /^[0-9a-f]{64}$/.test(l));

  // every image known
  const allKnown = join(tmp, 'all-known.json');
  run(['scan', '-q', '--cache', cache, '--known', known, '--out', allKnown, host]);
  run(['scan', '-q', '--cache', cache, '--known', known, '--out', `${allKnown}.gz`, host]);

  // 1% of the images new: a list without every 100th hash
  const partial = hashes.filter((_, i) => i % 100 !== 0);
  const known99 = join(tmp, 'known-99.txt');
  writeFileSync(known99, `# pooltag-known 1 ${partial.length}\n${partial.join('\n')}\n`);
  const onePct = join(tmp, 'one-percent-new.json');
  run(['scan', '-q', '--cache', cache, '--known', known99, '--out', onePct, host]);
  run(['scan', '-q', '--cache', cache, '--known', known99, '--out', `${onePct}.gz`, host]);

  const r = JSON.parse(readFileSync(full, 'utf8'));
  const p = JSON.parse(readFileSync(onePct, 'utf8'));
  const rows = [
    ['full report', full, fullGz],
    ['all images known', allKnown, `${allKnown}.gz`],
    [`1% new (${p.images.length} of ${r.images.length} images)`, onePct, `${onePct}.gz`],
  ];
  console.log(`host: ${host}: ${r.files.length} files, ${r.images.length} distinct images, ${(r.summary.bytes / 1048576).toFixed(1)} MB`);
  console.log(`known list: ${hashes.length} hashes, ${kb(size(known))} gzipped`);
  const base = size(full);
  const baseGz = size(fullGz);
  for (const [what, json, gz] of rows) {
    console.log(`${what.padEnd(36)} JSON ${kb(size(json)).padStart(11)} (${((100 * size(json)) / base).toFixed(2)}% of full)   .json.gz ${kb(size(gz)).padStart(10)} (${((100 * size(gz)) / baseGz).toFixed(2)}% of full gz, ${((100 * size(gz)) / base).toFixed(2)}% of full JSON)`);
  }
  console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
