#!/usr/bin/env node
// Scores the evidence engine on the real-driver development corpus (issue 9).
//
//   npm run build && npm run check:devset [-- --json FILE] [-- --arch x64] [-- --all-misses]
//
// Runs readPe + extractEvidence (the public API of dist/src/index.js) over every driver of
// $POOLTAG_DEVSET (default /work/devset, see scripts/lib/dev-corpus.mjs), in a worker thread
// with a time limit per file, and prints:
//   - for each driver with expectations (scripts/devset/expected.json, derived from its
//     source): the (tag, routine) pairs found / expected, the misses and the invented pairs;
//   - totals: recall over expected pairs, precision (pairs that are expected / all pairs the
//     engine reported for those drivers); pairs expected.json lists as `uncertain` (calls in
//     headers or macros, linked libraries) count neither way and are totalled apart;
//   - over the whole corpus, per architecture: files, MB, call sites, evidence records,
//     unresolved call sites counted by reason class, files that errored or timed out.
// --json FILE writes every figure (and the per-driver detail) to FILE, so that two runs can
// be compared (before/after an engine change). Exits 0 when the corpus is absent (saying
// how to get it), 1 when a file crashed the engine or timed out, 0 otherwise: the scores are
// figures to compare, not pass/fail.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ARCHES, EXPECTED_FILE, REPO_ROOT, SOURCES_FILE, loadJson, requireDevset, sha256 } from './lib/dev-corpus.mjs';

const DIST = path.join(REPO_ROOT, 'dist', 'src', 'index.js');
const SELF = fileURLToPath(import.meta.url);
/** Evidence recovered from strings is not a call-site pair. */
const NOT_CALL_SITE = new Set(['string', 'raw-bytes']);

// ---------------------------------------------------------------------------------------
// Worker: one result per file.

async function workerMain() {
  const { readPe, extractEvidence } = await import(pathToFileURL(DIST).href);
  for (const [index, file] of workerData.files) {
    parentPort.postMessage({ type: 'start', index });
    const r = { type: 'done', index };
    try {
      const buf = fs.readFileSync(file);
      r.size = buf.length;
      r.sha256 = sha256(buf);
      const t0 = performance.now();
      let stage = 'readPe';
      try {
        const image = readPe(buf, { hash: false });
        stage = 'extractEvidence';
        const x = await extractEvidence(buf, image);
        r.ms = performance.now() - t0;
        r.arch = x.arch;
        r.callSites = x.stats.callSites;
        r.functionsDecoded = x.stats.functionsDecoded;
        r.wrappers = x.stats.wrappers;
        const pairs = new Set();
        let evidence = 0;
        for (const e of x.evidence) {
          if (NOT_CALL_SITE.has(e.recovery)) continue;
          evidence++;
          pairs.add(`${e.tag}|${e.routine}`);
        }
        r.evidence = evidence;
        r.pairs = [...pairs];
        r.unresolved = x.unresolved.map((u) => ({ routine: u.routine, reason: u.reason, rva: u.callSiteRva }));
      } catch (e) {
        r.ms = performance.now() - t0;
        r.error = `${stage}: ${e?.name ?? 'Error'}: ${e?.message ?? e}`;
        r.crash = !(e?.name === 'PeFormatError' || e?.name === 'NotPeError');
        if (r.crash) r.stack = String(e?.stack ?? '').split('\n').slice(0, 5).join('\n');
      }
    } catch (e) {
      r.error = `reading the file: ${e.message}`;
    }
    parentPort.postMessage(r);
  }
}

/** Runs the files through a worker; a file that takes longer than timeoutMs is reported and skipped. */
function runAll(files, timeoutMs, onResult) {
  return new Promise((resolve, reject) => {
    let next = 0;
    const launch = () => {
      if (next >= files.length) return resolve();
      const chunk = [];
      for (let i = next; i < files.length; i++) chunk.push([i, files[i]]);
      const w = new Worker(SELF, { workerData: { files: chunk } });
      let current = null;
      let timer = null;
      let over = false;
      w.on('message', (m) => {
        if (over) return;
        if (m.type === 'start') {
          current = m.index;
          clearTimeout(timer);
          timer = setTimeout(() => {
            over = true;
            onResult({ index: current, error: `timeout: no result within ${timeoutMs / 1000} s`, crash: true });
            next = current + 1;
            w.terminate().then(launch);
          }, timeoutMs);
        } else {
          clearTimeout(timer);
          next = m.index + 1;
          onResult(m);
        }
      });
      w.on('error', (e) => {
        if (over) return;
        over = true;
        clearTimeout(timer);
        if (current === null) return reject(new Error(`the engine could not be loaded from ${DIST}: ${e?.message ?? e}`));
        onResult({ index: current, error: `worker crashed: ${e?.message ?? e}`, crash: true });
        next = current + 1;
        launch();
      });
      w.on('exit', () => {
        clearTimeout(timer);
        if (over) return;
        over = true;
        if (next < files.length) {
          onResult({ index: next, error: 'worker exited (out of memory?)', crash: true });
          next++;
          launch();
        } else resolve();
      });
    };
    launch();
  });
}

/**
 * Groups unresolved reasons into classes: addresses, numbers and the location named at the
 * start ("rdx is computed at 0x1a2b" -> "<loc> is computed at <addr>") are abstracted.
 */
export function reasonClass(reason) {
  let s = String(reason);
  s = s.replace(/^[A-Z_][A-Z0-9_]*\.[A-Za-z0-9_]+: /, '<struct field>: ').replace(/^[A-Z_][A-Z0-9_]* pointer: /, '<struct> pointer: ');
  s = s.replace(/0x[0-9a-f]+/gi, '<addr>').replace(/\[[^\]]*\]/g, '<mem>');
  s = s.replace(/^(<struct field>: |<struct> pointer: )?\S+ (is computed|is not set|is overwritten)/, (m, p, v) => `${p ?? ''}<loc> ${v}`);
  s = s.replace(/(upper half of|logical operation on) \S+/, '$1 <loc>');
  s = s.replace(/\b\d+\b/g, '<n>');
  return s;
}

function usage() {
  return (
    'usage: node scripts/check-devset.mjs [--json FILE] [--arch x86|x64|arm64] [--timeout SECONDS] [--all-misses]\n' +
    'Env: POOLTAG_DEVSET (default /work/devset) is the corpus folder.'
  );
}

function parseArgs(argv) {
  const o = { json: null, arch: null, timeout: 120, allMisses: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--json') o.json = val();
    else if (a === '--arch') {
      o.arch = val();
      if (!ARCHES.includes(o.arch)) throw new Error(`--arch must be one of ${ARCHES.join(', ')}, got ${JSON.stringify(o.arch)}`);
    } else if (a === '--timeout') {
      o.timeout = Number(val());
      if (!(o.timeout > 0)) throw new Error('--timeout needs a number of seconds > 0');
    } else if (a === '--all-misses') o.allMisses = true;
    else if (a === '-h' || a === '--help') o.help = true;
    else throw new Error(`unknown argument ${JSON.stringify(a)}`);
  }
  return o;
}

const r1 = (x) => Math.round(x * 10) / 10;
const pct = (a, b) => (b ? `${r1((100 * a) / b)}%` : 'n/a');

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`check-devset: ${e.message}\n${usage()}`);
    return 1;
  }
  if (opts.help) {
    console.log(usage());
    return 0;
  }
  const corpus = requireDevset('check-devset');
  if (!corpus) return 0;
  if (!fs.existsSync(DIST)) {
    console.error(`check-devset: ${path.relative(process.cwd(), DIST)} is missing: run \`npm run build\` first.`);
    return 1;
  }
  const expected = loadJson(EXPECTED_FILE, { drivers: {} }).drivers ?? {};
  const sources = new Map((loadJson(SOURCES_FILE, { files: [] }).files ?? []).map((f) => [f.sha256, f]));
  const files = corpus.files.filter((f) => !opts.arch || f.arch === opts.arch);
  const started = performance.now();
  console.log(`check-devset: ${files.length} drivers in ${corpus.dir}${opts.arch ? ` (${opts.arch})` : ''}; ${Object.keys(expected).length} with expectations from source`);

  const results = new Array(files.length);
  let done = 0;
  await runAll(files.map((f) => f.path), opts.timeout * 1000, (r) => {
    results[r.index] = r;
    if (process.stderr.isTTY && ++done % 25 === 0) process.stderr.write(`  ${done}/${files.length}\r`);
  });

  const byArch = {};
  const reasons = {};
  const errors = [];
  const drivers = [];
  let expTotal = 0;
  let foundTotal = 0;
  let reportedTotal = 0;
  let inventedTotal = 0;
  let unconfirmedTotal = 0;
  for (let i = 0; i < files.length; i++) {
    const f = files[i];
    const r = results[i] ?? { error: 'no result', crash: true };
    const a = (byArch[f.arch] ??= { files: 0, mb: 0, callSites: 0, evidence: 0, unresolved: 0, errors: 0, withCallSites: 0, ms: 0 });
    a.files++;
    a.mb += (r.size ?? 0) / 1e6;
    if (r.error) {
      a.errors++;
      errors.push({ file: f.rel, error: r.error, crash: !!r.crash, stack: r.stack });
      continue;
    }
    a.callSites += r.callSites;
    a.evidence += r.evidence;
    a.unresolved += r.unresolved.length;
    a.ms += r.ms;
    if (r.callSites) a.withCallSites++;
    for (const u of r.unresolved) {
      const k = reasonClass(u.reason);
      const e = (reasons[k] ??= { count: 0, files: new Set(), examples: [] });
      e.count++;
      e.files.add(f.rel);
      if (e.examples.length < 3) e.examples.push(`${f.rel} @0x${u.rva.toString(16)} ${u.routine}: ${u.reason}`);
    }
    const exp = expected[r.sha256];
    if (exp) {
      const want = new Set(exp.pairs.map((p) => `${p.tag}|${p.routine}`));
      const got = new Set(r.pairs);
      const found = [...want].filter((p) => got.has(p));
      const missed = [...want].filter((p) => !got.has(p));
      const maybe = new Set((exp.uncertain ?? []).map((p) => `${p.tag}|${p.routine}`));
      const invented = [...got].filter((p) => !want.has(p) && !maybe.has(p));
      const unconfirmed = [...got].filter((p) => !want.has(p) && maybe.has(p));
      unconfirmedTotal += unconfirmed.length;
      expTotal += want.size;
      foundTotal += found.length;
      reportedTotal += got.size - unconfirmed.length;
      inventedTotal += invented.length;
      drivers.push({ file: f.rel, sha256: r.sha256, name: sources.get(r.sha256)?.name ?? path.basename(f.rel), arch: f.arch, expected: want.size, found: found.length, missed, invented, unconfirmed, callSites: r.callSites, unresolved: r.unresolved.length });
    }
  }
  const reasonList = Object.entries(reasons)
    .map(([k, v]) => ({ reason: k, count: v.count, files: v.files.size, examples: v.examples }))
    .sort((x, y) => y.count - x.count);
  const figures = {
    format: 'pooltag-devset-check',
    version: 1,
    date: new Date().toISOString(),
    corpus: corpus.dir,
    files: files.length,
    seconds: r1((performance.now() - started) / 1000),
    byArch: Object.fromEntries(Object.entries(byArch).map(([k, v]) => [k, { ...v, mb: r1(v.mb), ms: Math.round(v.ms) }])),
    totals: {
      callSites: Object.values(byArch).reduce((s, v) => s + v.callSites, 0),
      evidence: Object.values(byArch).reduce((s, v) => s + v.evidence, 0),
      unresolved: Object.values(byArch).reduce((s, v) => s + v.unresolved, 0),
      errors: errors.length,
      crashes: errors.filter((e) => e.crash).length,
    },
    source: {
      drivers: drivers.length,
      expectedPairs: expTotal,
      foundPairs: foundTotal,
      reportedPairs: reportedTotal,
      inventedPairs: inventedTotal,
      uncertainPairsFound: unconfirmedTotal,
      recall: expTotal ? foundTotal / expTotal : null,
      precision: reportedTotal ? (reportedTotal - inventedTotal) / reportedTotal : null,
      driversComplete: drivers.filter((d) => d.missed.length === 0).length,
    },
    unresolvedByReason: reasonList,
    errors,
    drivers,
  };

  // ---- print
  const say = console.log;
  say('');
  say('per architecture:');
  for (const [k, v] of Object.entries(figures.byArch)) {
    say(`  ${k.padEnd(6)} ${String(v.files).padStart(4)} files ${String(v.mb).padStart(7)} MB  call sites ${String(v.callSites).padStart(6)}  evidence ${String(v.evidence).padStart(6)}  unresolved ${String(v.unresolved).padStart(5)} (${pct(v.unresolved, v.callSites)})  files with call sites ${v.withCallSites}  errors ${v.errors}`);
  }
  const t = figures.totals;
  say(`  total  call sites ${t.callSites}, evidence ${t.evidence}, unresolved ${t.unresolved} (${pct(t.unresolved, t.callSites)}), files in error ${t.errors} (${t.crashes} crashes/timeouts)`);
  say('');
  say(`unresolved call sites by reason (${reasonList.length} classes):`);
  for (const x of reasonList) {
    say(`  ${String(x.count).padStart(6)} in ${String(x.files).padStart(4)} files  ${x.reason}`);
    say(`         e.g. ${x.examples[0]}`);
  }
  if (errors.length) {
    say('');
    say(`files in error (${errors.length}):`);
    for (const e of errors.slice(0, 40)) say(`  ${e.crash ? 'CRASH ' : ''}${e.file}: ${e.error}${e.stack ? `\n    ${e.stack.split('\n').slice(1, 3).join('\n    ')}` : ''}`);
    if (errors.length > 40) say(`  ... ${errors.length - 40} more (see --json)`);
  }
  say('');
  say(`drivers with tags derived from source (${drivers.length}):`);
  const shown = new Set();
  for (const d of [...drivers].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : x.file < y.file ? -1 : 1))) {
    say(`  ${d.found === d.expected ? 'ok  ' : 'MISS'} ${String(d.found).padStart(3)}/${String(d.expected).padEnd(3)} invented ${String(d.invented.length).padEnd(3)} ${d.arch.padEnd(5)} ${d.file}`);
    // Many builds of one driver miss the same pairs: list each distinct set once unless asked.
    const key = `${d.name}|${d.arch}|${d.missed.join(',')}|${d.invented.join(',')}`;
    if (!opts.allMisses && shown.has(key)) continue;
    shown.add(key);
    if (d.missed.length) say(`         missed:   ${d.missed.join('  ')}`);
    if (d.invented.length) say(`         invented: ${d.invented.join('  ')}`);
  }
  const s = figures.source;
  say('');
  say(`from source: recall ${foundTotal}/${expTotal} pairs = ${pct(foundTotal, expTotal)} (target 100%); ` +
    `precision ${reportedTotal - inventedTotal}/${reportedTotal} = ${pct(reportedTotal - inventedTotal, reportedTotal)}, ${inventedTotal} invented pairs; ` +
    `${s.driversComplete}/${drivers.length} drivers complete; ${unconfirmedTotal} pairs found that the source lists as uncertain (headers, macros, linked libraries: not counted)`);
  say(`check-devset: ${files.length} files in ${figures.seconds} s`);
  if (opts.json) {
    fs.writeFileSync(opts.json, JSON.stringify(figures, null, 1) + '\n');
    say(`figures written to ${opts.json}`);
  }
  return t.crashes ? 1 : 0;
}

if (!isMainThread) await workerMain();
else if (process.argv[1] && path.resolve(process.argv[1]) === SELF) process.exitCode = await main();
