#!/usr/bin/env node
// Benchmark: our extractStrings() against GNU `strings -a -n 4` + `strings -a -n 4 -el`
// on the same files, single core each.
//
//   npx tsc -p tsconfig.build.json && node scripts/bench-strings.mjs [PATH ...] [--reps N] [--js]
//
// --js also times the plain-JS fallback scanner (used where WebAssembly SIMD is missing).
//
// PATH: a file or a folder (searched recursively). Default: $HOME/.cache/pooltag-dev/wine
// if present, else /usr/lib/x86_64-linux-gnu/*.so*.
//
// Timings are best-of-N wall times with the files in the page cache. GNU strings is run
// over all the files in as few processes as argv allows (so process start-up is a small
// part of its time), stdout to /dev/null; a separate, untimed run pipes its output to
// count lines, which must equal our number of runs.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, openSync, closeSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const modPath = join(root, 'dist/src/strings/strings.js');
if (!existsSync(modPath)) {
  console.error(`${modPath} is missing: build first with  npx tsc -p tsconfig.build.json`);
  process.exit(2);
}
const { extractStrings, classifyStrings, extractClassifiedStrings, stringKernelAvailable, setStringKernelEnabled } = await import(modPath);

const args = process.argv.slice(2);
let reps = 5;
let jsToo = false;
const paths = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--reps') reps = Math.max(1, Number(args[++i]));
  else if (args[i] === '--js') jsToo = true; // also time the plain-JS fallback scanner
  else paths.push(args[i]);
}

function walk(p, out) {
  let st;
  try {
    st = lstatSync(p);
  } catch {
    return;
  }
  if (st.isDirectory()) {
    for (const e of readdirSync(p).sort()) walk(join(p, e), out);
  } else if (st.isFile() && st.size > 0) {
    out.push(p);
  }
}

const files = [];
if (paths.length > 0) {
  for (const p of paths) walk(p, files);
} else {
  const wine = join(homedir(), '.cache/pooltag-dev/wine');
  if (existsSync(wine)) walk(wine, files);
  else {
    const lib = '/usr/lib/x86_64-linux-gnu';
    for (const e of readdirSync(lib).sort()) if (/\.so(\.|$)/.test(e)) walk(join(lib, e), files);
  }
}
if (files.length === 0) {
  console.error('no files to scan');
  process.exit(2);
}

const hr = () => Number(process.hrtime.bigint()) / 1e6; // ms

// --- ours -------------------------------------------------------------------------------
let t0 = hr();
const bufs = files.map((f) => readFileSync(f));
const readMs = hr() - t0;
const totalBytes = bufs.reduce((a, b) => a + b.length, 0);
const MB = totalBytes / 1e6;

let asciiCount = 0;
let utf16Count = 0;
let classified = 0;
for (const b of bufs) {
  const r = extractStrings(b); // warm-up + counts
  asciiCount += r.ascii.length;
  utf16Count += r.utf16.length;
  classified += classifyStrings(r).length;
}

/** Best-of-reps wall time of fn over every buffer; results are dropped at once. */
function timeOurs(fn) {
  for (const b of bufs.slice(0, 50)) fn(b);
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = hr();
    for (const b of bufs) fn(b);
    best = Math.min(best, hr() - t);
  }
  return best;
}

const extractMs = timeOurs((b) => extractStrings(b));
const extractClassifyMs = timeOurs((b) => classifyStrings(extractStrings(b)));
let fastCount = 0;
for (const b of bufs) fastCount += extractClassifiedStrings(b).length;
const fastMs = timeOurs((b) => extractClassifiedStrings(b));
let jsMs = null;
if (jsToo) {
  setStringKernelEnabled(false);
  jsMs = timeOurs((b) => extractStrings(b));
  setStringKernelEnabled(true);
}

// Read + classified strings, from the page cache, as the evidence stage does it.
let pipelineMs = Infinity;
for (let r = 0; r < reps; r++) {
  t0 = hr();
  for (const f of files) extractClassifiedStrings(readFileSync(f));
  pipelineMs = Math.min(pipelineMs, hr() - t0);
}

// --- GNU --------------------------------------------------------------------------------
const which = spawnSync('strings', ['--version'], { encoding: 'utf8' });
if (which.error || which.status !== 0) {
  console.error('GNU strings not found (install binutils)');
  process.exit(2);
}
const gnuVersion = which.stdout.split('\n')[0];

// Batches that keep argv well under ARG_MAX.
const batches = [];
{
  let cur = [];
  let len = 0;
  for (const f of files) {
    if (cur.length > 0 && len + f.length + 1 > 100_000) {
      batches.push(cur);
      cur = [];
      len = 0;
    }
    cur.push(f);
    len += f.length + 1;
  }
  if (cur.length > 0) batches.push(cur);
}

function gnuTime(extra) {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const devnull = openSync('/dev/null', 'w');
    const t = hr();
    for (const b of batches) {
      const res = spawnSync('strings', ['-a', '-n', '4', ...extra, ...b], { stdio: ['ignore', devnull, 'ignore'] });
      if (res.error) throw res.error;
    }
    best = Math.min(best, hr() - t);
    closeSync(devnull);
  }
  return best;
}

function gnuLines(extra) {
  let lines = 0;
  for (const b of batches) {
    const res = spawnSync('strings', ['-a', '-n', '4', ...extra, ...b], {
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 1 << 30,
    });
    if (res.error) throw res.error;
    const out = res.stdout;
    for (let i = 0; i < out.length; i++) if (out[i] === 0x0a) lines++;
  }
  return lines;
}

const gnuAsciiMs = gnuTime([]);
const gnuUtf16Ms = gnuTime(['-el']);
const gnuAsciiLines = gnuLines([]);
const gnuUtf16Lines = gnuLines(['-el']);

// --- report -----------------------------------------------------------------------------
const f1 = (x) => x.toFixed(1);
const rate = (ms) => `${f1(MB / (ms / 1000)).padStart(8)} MB/s`;
const row = (name, ms) => console.log(`${name.padEnd(48)} ${f1(ms).padStart(9)} ms ${rate(ms)}`);

console.log(`files: ${files.length}, ${f1(MB)} MB   (${gnuVersion}; best of ${reps}; node ${process.version}; wasm kernel: ${stringKernelAvailable() ? 'yes' : 'no'})`);
console.log(`runs:  ascii ${asciiCount} (GNU ${gnuAsciiLines}), utf16 ${utf16Count} (GNU ${gnuUtf16Lines}), classified ${classified}`);
const sane = asciiCount === gnuAsciiLines && utf16Count === gnuUtf16Lines && fastCount === classified;
if (!sane) console.log(`!! counts differ (GNU lines, or fast path ${fastCount} vs ${classified})`);
console.log('');
row('ours: extractStrings (ascii + utf16)', extractMs);
row('ours: extractStrings + classifyStrings', extractClassifyMs);
row('ours: extractClassifiedStrings', fastMs);
row('ours: readFileSync + extractClassifiedStrings', pipelineMs);
if (jsMs !== null) row('ours: extractStrings, JS fallback scanner', jsMs);
row('ours: readFileSync (first read)', readMs);
row('GNU:  strings -a -n 4', gnuAsciiMs);
row('GNU:  strings -a -n 4 -el', gnuUtf16Ms);
row('GNU:  both passes', gnuAsciiMs + gnuUtf16Ms);
console.log('');
const gnuBoth = gnuAsciiMs + gnuUtf16Ms;
const ratio = (label, ms) => console.log(`${label.padEnd(56)} ${f1(gnuBoth / ms).padStart(6)}x`);
ratio('ratio GNU both passes / extractStrings:', extractMs);
ratio('ratio GNU both passes / extractStrings + classify:', extractClassifyMs);
ratio('ratio GNU both passes / extractClassifiedStrings:', fastMs);
ratio('ratio GNU both passes / read + extractClassifiedStrings:', pipelineMs);
if (jsMs !== null) ratio('ratio GNU both passes / JS fallback extractStrings:', jsMs);
process.exitCode = sane ? 0 : 1;
