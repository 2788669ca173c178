#!/usr/bin/env node
// Where the CPU of a scan goes, by stage (issue 18: "per-stage CPU seconds for the whole tree,
// before and after").
//
//   npm run build && node scripts/profile-stages.mjs [--passes N] [--against DIR]
//
// One thread, in a fresh process per build, with V8's sampling profiler: readPe +
// extractEvidence over every driver of the development corpus (x86, x64 and ARM64 mixed, in
// the order of their names), --passes times (default 3: a cold pass and warm ones, as a scan
// worker meets the files of a DriverStore several times over). The main thread's samples are
// put in stages by the file of the function they fall in; what the process spent beyond the
// main thread (V8's optimising compiler and concurrent GC on background threads) is its CPU
// time minus the main thread's. The profiler samples in wall time, so each stage is given its
// share of the main thread's CPU time (read from /proc on Linux). --against DIR (another pooltag checkout, built) profiles that
// build too, in the same run, and prints both side by side.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT, requireDevset } from './lib/dev-corpus.mjs';
import { passesArgs } from './lib/passes-args.mjs';

const SELF = fileURLToPath(import.meta.url);
const JIT = path.join(path.dirname(SELF), 'bench-jit.mjs');
const args = process.argv.slice(2);
const { passes, against } = passesArgs('profile-stages', args);
if (!requireDevset('profile-stages')) process.exit(0);

/** Stage of a sampled function, by its script's path (first match wins). */
const STAGES = [
  ['x86 decode (iced-x86 wasm and glue, table decoder)', /wasm|iced-x86|decode\/x86/],
  ['ARM64 decode', /decode\/arm64/],
  ['lowering to IR', /lower\/|evidence\/ir\.js/],
  ['prefilter, function bounds, x86 sweep', /sites\/(x86|arm64|backend)\.js/],
  ['control-flow graph, jump tables', /evidence\/(cfg|jumptables)\.js/],
  ['value sets', /evidence\/values\.js/],
  ['rounds, structs, wrappers, outcomes', /evidence\/(engine|structs|wrappers|extract)\.js|sites\/outcomes\.js/],
  ['strings', /strings\//],
  ['PE read, signer, version', /pe\/|pe-library/],
  ['garbage collection (main thread)', /^\(garbage collector\)$/],
];

function run(root) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pooltag-prof-'));
  try {
    const dist = path.join(root, 'dist', 'src', 'index.js');
    const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, JIT, '--child', dist, String(passes)], { encoding: 'utf8', maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
    // The whole process's CPU (every thread), from start-up to the end of the last pass.
    const cpuMs = Number(/@@total (\d+)/.exec(r.stdout)?.[1] ?? NaN);
    const mainMs = Number(/@@main (\d+)/.exec(r.stdout)?.[1] ?? NaN);
    const prof = JSON.parse(fs.readFileSync(path.join(dir, fs.readdirSync(dir)[0]), 'utf8'));
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const stageOf = new Map();
    for (const n of prof.nodes) {
      const key = n.callFrame.url || n.callFrame.functionName;
      stageOf.set(n.id, STAGES.findIndex(([, re]) => re.test(key)));
    }
    const ms = new Float64Array(STAGES.length + 1);
    let total = 0;
    for (let i = 0; i < prof.samples.length; i++) {
      const dt = (prof.timeDeltas[i] ?? 0) / 1000;
      const n = byId.get(prof.samples[i]);
      if (!n || n.callFrame.functionName === '(idle)') continue;
      const s = stageOf.get(n.id);
      ms[s < 0 ? STAGES.length : s] += dt;
      total += dt;
    }
    // Samples are taken in wall time: each stage gets its share of the main thread's CPU.
    const main = Number.isFinite(mainMs) ? mainMs : total;
    for (let i = 0; i < ms.length; i++) ms[i] *= main / total;
    return { ms, total: main, cpuMs };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const rows = [...STAGES.map(([name]) => name), 'everything else on the main thread (start-up, module loading, reading files)'];
const show = (r) => {
  const out = rows.map((_, i) => r.ms[i]);
  out.push(Math.max(0, r.cpuMs - r.total));
  out.push(r.cpuMs);
  return out;
};
const names = [...rows, 'background threads (optimising compiler, concurrent GC)', 'total CPU'];
const a = against ? show(run(against)) : null;
const h = show(run(REPO_ROOT));
console.log(`CPU seconds by stage, ${passes} passes over the development corpus, one thread${against ? `; baseline ${against}` : ''}`);
console.log(`${'stage'.padEnd(78)} ${against ? 'baseline'.padStart(9) : ''} ${'HEAD'.padStart(9)}${against ? '  ratio' : ''}`);
names.forEach((n, i) => {
  const hs = (h[i] / 1000).toFixed(2).padStart(9);
  if (!a) return console.log(`${n.padEnd(78)} ${hs}`);
  console.log(`${n.padEnd(78)} ${(a[i] / 1000).toFixed(2).padStart(9)} ${hs}  ${h[i] > 0 ? (a[i] / h[i]).toFixed(2) + 'x' : '-'}`);
});
