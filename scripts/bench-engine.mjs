#!/usr/bin/env node
// Engine throughput per architecture on the real-driver development corpus (issue 9,
// "Figures": target >= 40 MB/s per core on x64 and ARM64).
//
//   npm run build && npm run bench:engine [-- --reps N] [-- --arch x64]
//
// One thread, in this process, files in memory. For each architecture, after one untimed
// warm-up pass, each rep times three passes over the same buffers (public API only):
//   read     readPe(buf, { hash: false })
//   strings  extractEvidence(buf, image, { noCode: true })      the strings scanner alone
//   full     extractEvidence(buf, image)                        call sites + strings
// and the call-site engine is full - strings. Figures are medians of --reps (default 3):
// MB/s per core of the engine alone and of read + full, call sites/s, and the ratio to the
// 40 MB/s target. Exits 0 (with how to get it) when the corpus is absent.

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ARCHES, REPO_ROOT, median, requireDevset } from './lib/dev-corpus.mjs';

const TARGET_MBS = 40;
const DIST = path.join(REPO_ROOT, 'dist', 'src', 'index.js');

const args = process.argv.slice(2);
let reps = 3;
let only = null;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--reps') reps = Math.max(1, Number(args[++i]) || 0);
  else if (args[i] === '--arch') only = args[++i];
  else if (args[i] === '-h' || args[i] === '--help') {
    console.log('usage: node scripts/bench-engine.mjs [--reps N] [--arch x86|x64|arm64]');
    process.exit(0);
  } else {
    console.error(`bench-engine: unknown argument ${JSON.stringify(args[i])}`);
    process.exit(1);
  }
}
if (only && !ARCHES.includes(only)) {
  console.error(`bench-engine: --arch must be one of ${ARCHES.join(', ')}`);
  process.exit(1);
}
const corpus = requireDevset('bench-engine');
if (!corpus) process.exit(0);
if (!fs.existsSync(DIST)) {
  console.error('bench-engine: dist/ is missing: run `npm run build` first.');
  process.exit(1);
}
const { readPe, extractEvidence } = await import(pathToFileURL(DIST).href);

const now = () => Number(process.hrtime.bigint()) / 1e6;
console.log(`bench-engine: ${corpus.files.length} drivers in ${corpus.dir}; node ${process.version}; one thread; medians of ${reps} after a warm-up`);
console.log('');
const rows = [];
for (const arch of ARCHES) {
  if (only && arch !== only) continue;
  const bufs = [];
  for (const f of corpus.files) if (f.arch === arch) bufs.push(fs.readFileSync(f.path));
  if (!bufs.length) continue;
  // Files the reader refuses are left out of every pass (check:devset lists them).
  const images = [];
  const ok = [];
  for (const b of bufs) {
    try {
      images.push(readPe(b, { hash: false }));
      ok.push(b);
    } catch {
      /* counted below */
    }
  }
  const mb = ok.reduce((s, b) => s + b.length, 0) / 1e6;
  const pass = async (opts) => {
    let sites = 0;
    let failed = 0;
    const t0 = now();
    for (let i = 0; i < ok.length; i++) {
      try {
        const r = await extractEvidence(ok[i], images[i], opts);
        sites += r.stats.callSites;
      } catch {
        failed++;
      }
    }
    return { ms: now() - t0, sites, failed };
  };
  const readPass = () => {
    const t0 = now();
    for (const b of ok) readPe(b, { hash: false });
    return now() - t0;
  };
  readPass();
  await pass({ noCode: true });
  const warm = await pass({});
  const read = [];
  const strings = [];
  const full = [];
  for (let i = 0; i < reps; i++) {
    read.push(readPass());
    strings.push((await pass({ noCode: true })).ms);
    full.push((await pass({})).ms);
  }
  const tRead = median(read);
  const tStr = median(strings);
  const tFull = median(full);
  const tEngine = Math.max(0.001, tFull - tStr);
  const row = {
    arch,
    files: ok.length,
    unreadable: bufs.length - ok.length,
    failed: warm.failed,
    mb,
    callSites: warm.sites,
    readMs: tRead,
    stringsMs: tStr,
    fullMs: tFull,
    engineMs: tEngine,
    engineMBs: mb / (tEngine / 1000),
    totalMBs: mb / ((tRead + tFull) / 1000),
    stringsMBs: mb / (tStr / 1000),
    sitesPerS: warm.sites / (tEngine / 1000),
  };
  rows.push(row);
  const f1 = (x) => x.toFixed(1);
  console.log(`${arch}: ${row.files} files, ${f1(mb)} MB, ${row.callSites} call sites${row.unreadable ? `, ${row.unreadable} unreadable (left out)` : ''}${row.failed ? `, ${row.failed} failed in extractEvidence` : ''}`);
  console.log(`  read PE            ${f1(tRead).padStart(8)} ms  ${f1(mb / (tRead / 1000)).padStart(7)} MB/s`);
  console.log(`  strings scanner    ${f1(tStr).padStart(8)} ms  ${f1(row.stringsMBs).padStart(7)} MB/s`);
  console.log(`  call-site engine   ${f1(tEngine).padStart(8)} ms  ${f1(row.engineMBs).padStart(7)} MB/s per core, ${Math.round(row.sitesPerS)} call sites/s  -> ${(row.engineMBs / TARGET_MBS).toFixed(2)}x the ${TARGET_MBS} MB/s target`);
  console.log(`  read + extract     ${f1(tRead + tFull).padStart(8)} ms  ${f1(row.totalMBs).padStart(7)} MB/s per core  -> ${(row.totalMBs / TARGET_MBS).toFixed(2)}x the ${TARGET_MBS} MB/s target`);
}
if (process.env.BENCH_ENGINE_JSON) fs.writeFileSync(process.env.BENCH_ENGINE_JSON, JSON.stringify({ date: new Date().toISOString(), reps, rows }, null, 1) + '\n');
