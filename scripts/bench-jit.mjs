#!/usr/bin/env node
// Does the engine's compiled code settle? (issue 18: "a warm second pass: under 20 optimising
// compiles, and no function deoptimised more than twice").
//
//   npm run build && npm run bench:jit [-- --passes N] [-- --against DIR]
//
// One thread, in a fresh process run with V8's --trace-opt --trace-deopt: readPe +
// extractEvidence over every driver of the development corpus (x86, x64 and ARM64 mixed, in
// the order of their names, as a scan meets them), --passes times (default 3). For each pass:
// wall and CPU time, TurboFan compiles and the milliseconds they took (on V8's background
// threads), deoptimisations, and the functions compiled or deoptimised most. --against DIR
// (another pooltag checkout, built) runs that build too, first, and prints both side by side.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { REPO_ROOT, requireDevset } from './lib/dev-corpus.mjs';
import { passesArgs } from './lib/passes-args.mjs';

const SELF = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);

if (args[0] === '--child') {
  const [, dist, passes] = args;
  const { readPe, extractEvidence } = await import(pathToFileURL(dist).href);
  const d = requireDevset('bench-jit', () => {});
  const files = d.files.map((f) => f.path).sort((a, b) => (path.basename(a) < path.basename(b) ? -1 : 1));
  const bufs = files.map((f) => fs.readFileSync(f));
  for (let p = 0; p < Number(passes); p++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (const b of bufs) {
      try {
        await extractEvidence(b, readPe(b, { hash: false }));
      } catch {
        // per-file errors are the engine's business; here only time counts
      }
    }
    const c = process.cpuUsage(c0);
    console.log(`@@pass ${p} ${(performance.now() - t0).toFixed(0)} ${((c.user + c.system) / 1000).toFixed(0)}`);
  }
  const all = process.cpuUsage();
  console.log(`@@total ${((all.user + all.system) / 1000).toFixed(0)}`);
  // The main thread's own CPU (Linux: its task's utime + stime, in clock ticks of 10 ms).
  try {
    const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    console.log(`@@main ${(Number(f[11]) + Number(f[12])) * 10}`);
  } catch {
    // not Linux: the stage split is of wall time
  }
  process.exit(0);
}

const { passes, against } = passesArgs('bench-jit', args);
if (!requireDevset('bench-jit')) process.exit(0);

function run(root) {
  const dist = path.join(root, 'dist', 'src', 'index.js');
  const r = spawnSync(process.execPath, ['--trace-opt', '--trace-deopt', SELF, '--child', dist, String(passes)], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  const rows = [];
  let cur = { compiles: 0, compileMs: 0, deopts: 0, byFn: new Map(), deoptByFn: new Map() };
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('@@pass')) {
      const [, , wall, cpu] = line.split(' ');
      rows.push({ ...cur, wall: Number(wall), cpu: Number(cpu) });
      cur = { compiles: 0, compileMs: 0, deopts: 0, byFn: new Map(), deoptByFn: new Map() };
      continue;
    }
    let m = /completed compiling .*<JSFunction (.*?) \(sfi.*took ([0-9.]+), ([0-9.]+), ([0-9.]+) ms/.exec(line);
    if (m) {
      const ms = Number(m[2]) + Number(m[3]) + Number(m[4]);
      cur.compiles++;
      cur.compileMs += ms;
      const e = cur.byFn.get(m[1]) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += ms;
      cur.byFn.set(m[1], e);
      continue;
    }
    m = /bailout \(kind: [^,]*, reason: [^)]*\).*?<JSFunction (\S*)/.exec(line);
    if (m) {
      cur.deopts++;
      cur.deoptByFn.set(m[1], (cur.deoptByFn.get(m[1]) ?? 0) + 1);
    }
  }
  return rows;
}

const top = (map, f, n = 6) => [...map].sort((a, b) => f(b[1]) - f(a[1])).slice(0, n);
function print(name, rows) {
  console.log(`${name}`);
  rows.forEach((r, p) => {
    const worst = top(r.deoptByFn, (v) => v, 1)[0];
    console.log(
      `  pass ${p + 1}: ${String(r.wall).padStart(6)} ms wall, ${String(r.cpu).padStart(6)} ms CPU; ${String(r.compiles).padStart(4)} optimising compiles (${r.compileMs.toFixed(0)} ms); ${String(r.deopts).padStart(4)} deopts` +
        (worst ? ` (most: ${worst[0]} ${worst[1]}×)` : ''),
    );
  });
  const all = new Map();
  for (const r of rows) for (const [k, v] of r.byFn) {
    const e = all.get(k) ?? { n: 0, ms: 0 };
    e.n += v.n;
    e.ms += v.ms;
    all.set(k, e);
  }
  console.log(`  compile time by function: ${top(all, (v) => v.ms, 8).map(([k, v]) => `${k} ${v.ms.toFixed(0)} ms/${v.n}×`).join(', ')}`);
  const deopts = new Map();
  for (const r of rows) for (const [k, v] of r.deoptByFn) deopts.set(k, (deopts.get(k) ?? 0) + v);
  console.log(`  deopts by function: ${top(deopts, (v) => v, 8).map(([k, v]) => `${k} ${v}×`).join(', ') || 'none'}`);
  const warm = rows[rows.length - 1];
  const maxDeopt = Math.max(0, ...[...warm.deoptByFn.values()]);
  console.log(`  compiled in the last pass: ${top(warm.byFn, (v) => v.n, 12).map(([k, v]) => `${k} ${v.n}×`).join(', ') || 'nothing'}`);
  console.log(`  last pass: ${warm.compiles} compiles (target < 20), ${warm.deopts} deopts, most deopts of one function ${maxDeopt} (target <= 2)`);
  return rows;
}

const a = against ? print(`baseline ${against}`, run(against)) : null;
const h = print(`HEAD ${REPO_ROOT}`, run(REPO_ROOT));
if (a) {
  const sum = (rows, k) => rows.reduce((s, r) => s + r[k], 0);
  console.log(`CPU over ${passes} passes: baseline ${sum(a, 'cpu')} ms, HEAD ${sum(h, 'cpu')} ms: ${(sum(a, 'cpu') / sum(h, 'cpu')).toFixed(2)}x less; compile ms ${sum(a, 'compileMs').toFixed(0)} -> ${sum(h, 'compileMs').toFixed(0)}`);
}
