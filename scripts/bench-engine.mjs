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

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ARCHES, REPO_ROOT, median, requireDevset } from './lib/dev-corpus.mjs';

const TARGET_MBS = 40;
const DIST = path.join(REPO_ROOT, 'dist', 'src', 'index.js');
const USAGE = 'usage: node scripts/bench-engine.mjs [--reps N] [--arch x86|x64|arm64] [--against DIR [--rounds N]]';

const args = process.argv.slice(2);
let reps = 3;
let rounds = 3;
let only = null;
let against = null;
/** Child mode (`--against`): measure the build at this index.js, print the rows as JSON. */
let child = null;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const value = () => {
    if (i + 1 >= args.length) {
      console.error(`bench-engine: ${a} needs a value\n${USAGE}`);
      process.exit(1);
    }
    return args[++i];
  };
  if (a === '--reps') reps = Math.max(1, Number(value()) || 0);
  else if (a === '--rounds') rounds = Math.max(1, Number(value()) || 0);
  else if (a === '--arch') only = value();
  else if (a === '--against') against = value();
  else if (a === '--child') child = value();
  else if (a === '-h' || a === '--help') {
    console.log(USAGE);
    process.exit(0);
  } else {
    console.error(`bench-engine: unknown argument ${JSON.stringify(a)}\n${USAGE}`);
    process.exit(1);
  }
}
if (only && !ARCHES.includes(only)) {
  console.error(`bench-engine: --arch must be one of ${ARCHES.join(', ')}`);
  process.exit(1);
}

/** The index.js of a pooltag build: DIR/dist/src/index.js, DIR/src/index.js (DIR is dist/) or DIR/index.js (DIR is dist/src). */
function buildIndex(dir) {
  for (const c of [path.join(dir, 'dist', 'src', 'index.js'), path.join(dir, 'src', 'index.js'), path.join(dir, 'index.js')]) if (fs.existsSync(c)) return path.resolve(c);
  return null;
}

const corpus = requireDevset('bench-engine', child ? () => {} : console.log);
if (!corpus) process.exit(0);
if (!fs.existsSync(DIST)) {
  console.error('bench-engine: dist/ is missing: run `npm run build` first.');
  process.exit(1);
}
const now = () => Number(process.hrtime.bigint()) / 1e6;
const f1 = (x) => x.toFixed(1);

/** One build's figures per architecture (in this process). */
async function measure(indexJs, log) {
  const { readPe, extractEvidence } = await import(pathToFileURL(indexJs).href);
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
    if (!log) continue;
    console.log(`${arch}: ${row.files} files, ${f1(mb)} MB, ${row.callSites} call sites${row.unreadable ? `, ${row.unreadable} unreadable (left out)` : ''}${row.failed ? `, ${row.failed} failed in extractEvidence` : ''}`);
    console.log(`  read PE            ${f1(tRead).padStart(8)} ms  ${f1(mb / (tRead / 1000)).padStart(7)} MB/s`);
    console.log(`  strings scanner    ${f1(tStr).padStart(8)} ms  ${f1(row.stringsMBs).padStart(7)} MB/s`);
    console.log(`  call-site engine   ${f1(tEngine).padStart(8)} ms  ${f1(row.engineMBs).padStart(7)} MB/s per core, ${Math.round(row.sitesPerS)} call sites/s  -> ${(row.engineMBs / TARGET_MBS).toFixed(2)}x the ${TARGET_MBS} MB/s target`);
    console.log(`  read + extract     ${f1(tRead + tFull).padStart(8)} ms  ${f1(row.totalMBs).padStart(7)} MB/s per core  -> ${(row.totalMBs / TARGET_MBS).toFixed(2)}x the ${TARGET_MBS} MB/s target`);
  }
  return rows;
}

if (child) {
  process.stdout.write(JSON.stringify(await measure(child, false)));
  process.exit(0);
}

if (!against) {
  console.log(`bench-engine: ${corpus.files.length} drivers in ${corpus.dir}; node ${process.version}; one thread; medians of ${reps} after a warm-up`);
  console.log('');
  const rows = await measure(DIST, true);
  if (process.env.BENCH_ENGINE_JSON) fs.writeFileSync(process.env.BENCH_ENGINE_JSON, JSON.stringify({ date: new Date().toISOString(), reps, rows }, null, 1) + '\n');
  process.exit(0);
}

// --against: the baseline and this build, each in a fresh process, alternately.
const base = buildIndex(against);
if (!base) {
  console.error(`bench-engine: --against ${against}: no pooltag build there (looked for dist/src/index.js, src/index.js and index.js; run \`npm run build\` in it)`);
  process.exit(1);
}
const runChild = (indexJs) => {
  const extra = [...(only ? ['--arch', only] : []), '--reps', String(reps)];
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', indexJs, ...extra], { encoding: 'utf8', maxBuffer: 16 << 20, env: process.env });
  if (r.status !== 0) throw new Error(`bench-engine child for ${indexJs} failed: ${String(r.stderr).trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(r.stdout);
};
console.log(`bench-engine: ${corpus.files.length} drivers in ${corpus.dir}; node ${process.version}; one thread`);
console.log(`  baseline   ${base}`);
console.log(`  this build ${DIST}`);
console.log(`  ${rounds} rounds, alternating, a fresh process per build and round (medians of ${reps} passes after a warm-up in each)`);
console.log('');
const byArch = new Map();
for (let k = 0; k < rounds; k++) {
  for (const [side, indexJs] of [['base', base], ['head', DIST]]) {
    for (const row of runChild(indexJs)) {
      const e = byArch.get(row.arch) ?? { base: [], head: [], row };
      e[side].push(row.engineMs);
      if (side === 'head') e.row = row;
      byArch.set(row.arch, e);
    }
  }
  process.stdout.write(`  round ${k + 1}: ${[...byArch].map(([a, e]) => `${a} ${f1(e.base[k])} -> ${f1(e.head[k])} ms`).join(', ')}\n`);
}
console.log('');
console.log('arch    MB    baseline engine          this build engine        speed-up   this build vs the 40 MB/s target');
for (const [arch, e] of byArch) {
  const b = median(e.base);
  const h = median(e.head);
  const mbs = (ms) => e.row.mb / (ms / 1000);
  console.log(`${arch.padEnd(6)} ${f1(e.row.mb).padStart(5)}  ${f1(b).padStart(7)} ms ${f1(mbs(b)).padStart(6)} MB/s   ${f1(h).padStart(7)} ms ${f1(mbs(h)).padStart(6)} MB/s   ${(b / h).toFixed(2).padStart(5)}x    ${(mbs(h) / TARGET_MBS).toFixed(2)}x`);
}
