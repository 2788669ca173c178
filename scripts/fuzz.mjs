#!/usr/bin/env node
// Fuzz harness: hostile driver images and hostile text through the real code paths.
//
//   npm run fuzz -- --seconds 60 [--seed S] [--timeout MS] [--out DIR] [--scan-every S]
//   npm run fuzz -- --replay ITER --seed S        (rebuild one iteration's input and run it)
//
// Seeds: the fixture drivers (test/fixtures/bin), real drivers from $POOLTAG_DEVSET or
// /work/devset when present, the inputs kept in test/fuzz-regressions/, the synthetic text in
// test/data/ (and ../shared's real copies when present, read in place); each input is a
// seed mutated by scripts/lib/fuzz-mutate.mjs, a pure function of (--seed, iteration).
//
// Each input runs through what a scan runs for one file (analyseBytes: readPe +
// extractEvidence + the report record), or through the text parsers: pooltag.txt (with a
// byte-exact round trip), poolmon / !poolused / !pool / !poolfind, and scan reports (parsed,
// then merged into an in-memory base). Every few seconds a whole `scan()` with 2 workers runs
// over a folder of fresh mutants plus an empty file, a folder named .sys and a text file, so
// that the per-file time limit and worker isolation are exercised too.
//
// What must hold: no crash (an exception other than the reader's documented per-file errors,
// PeFormatError / NotPeError / FileProblem, ReportError and StoreError for reports), no input
// running past the time limit (the worker is stopped and the input kept), memory bounded (the
// fuzzing thread has a 1 GiB heap limit; peak RSS is printed), and in whole scans every input
// reported exactly once. A crash is minimised and kept in --out with its signature; copy the
// minimised input to test/fuzz-regressions/ once it is fixed. Exit 1 when anything failed.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

import { generate } from './lib/fuzz-mutate.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => pathToFileURL(join(root, 'dist/src', p)).href;

// ---- running one input (worker and main share this) ------------------------------------

async function loadTargets() {
  const { analyseBytes } = await import(dist('scan/analyse.js'));
  const { readPe } = await import(dist('pe/read.js'));
  const { extractEvidence } = await import(dist('evidence/extract.js'));
  const { parsePooltagTxt, encodePooltagTxt, matchTag, writePooltagTxt } = await import(dist('knowledge/pooltag-txt.js'));
  const po = await import(dist('answer/pool-output.js'));
  const { parseReport, ReportError } = await import(dist('report/read.js'));
  const { Store, StoreError } = await import(dist('knowledge/store.js'));
  let store = null;
  let merges = 0;
  const parsers = [po.parsePoolmon, po.parsePoolused, po.parsePool, po.parsePoolFind, po.detectPoolOutput];

  /** Runs one input; returns null, or { message, stack } for a crash. */
  return async function exec(target, buf) {
    try {
      if (target === 'pe') {
        const out = await analyseBytes(buf, { minStringLength: 4 });
        if (out.kind === 'error' && out.error.code === 'internal') {
          // the same path again, outside the catch-all, for the stack
          try {
            const image = readPe(buf);
            await extractEvidence(buf, image, { minStringLength: 4 });
          } catch (err) {
            return crashOf(err);
          }
          return { message: `internal error: ${out.error.message}`, stack: '' };
        }
        JSON.stringify(out);
      } else if (target === 'pooltag') {
        const f = parsePooltagTxt(buf, 'fuzz');
        if (!encodePooltagTxt(f).equals(buf)) return { message: 'pooltag.txt round trip: the bytes written back differ', stack: '' };
        matchTag(f, 'Abcd');
        writePooltagTxt(f);
      } else if (target === 'poolout') {
        const text = buf.toString('utf8');
        for (const parse of parsers) {
          const o = parse(text);
          if (o.unknownCount !== o.unknown.length) return { message: `${parse.name}: unknownCount ${o.unknownCount} but ${o.unknown.length} unknown lines`, stack: '' };
        }
      } else if (target === 'report') {
        let report;
        try {
          report = parseReport(buf.toString('utf8'));
        } catch (err) {
          if (err instanceof ReportError) return null;
          throw err;
        }
        if (!store || merges++ > 500) {
          await store?.close();
          store = await Store.open(':memory:');
          merges = 0;
        }
        try {
          await store.mergeReport(report, 'fuzz');
        } catch (err) {
          if (err instanceof ReportError || err instanceof StoreError) return null;
          throw err;
        }
      }
      return null;
    } catch (err) {
      return crashOf(err);
    }
  };
}

function crashOf(err) {
  const e = err instanceof Error ? err : new Error(String(err));
  return { message: `${e.name}: ${e.message}`.slice(0, 500), stack: e.stack ?? '' };
}

/** Same bug = same exception type and the same innermost frame of our code. */
function signature(target, c) {
  const frame = (c.stack.split('\n').find((l) => l.includes('/dist/src/')) ?? '').replace(/^.*\/dist\/src\//, '').replace(/\)$/, '');
  return `${target}: ${c.message.replace(/\d+/g, 'N').slice(0, 120)} @ ${frame}`;
}

// ---- the fuzzing thread ----------------------------------------------------------------

if (!isMainThread) {
  const { seedSet, seed, startIter, ctl } = workerData;
  const ints = new Int32Array(ctl, 0, 4);
  const times = new Float64Array(ctl, 16, 1);
  const exec = await loadTargets();
  for (const k of Object.keys(seedSet)) seedSet[k] = seedSet[k].map((b) => Buffer.from(b));
  const counts = { pe: 0, pooltag: 0, poolout: 0, report: 0 };
  let maxMs = 0;
  let last = performance.now();
  for (let iter = startIter; ; iter++) {
    if (Atomics.load(ints, 2) === 1) break; // asked to stop
    const input = generate(seedSet, seed, iter);
    times[0] = Date.now();
    Atomics.store(ints, 0, iter);
    Atomics.store(ints, 1, 1);
    const t0 = performance.now();
    const c = await exec(input.target, input.bytes);
    const ms = performance.now() - t0;
    Atomics.store(ints, 1, 0);
    if (ms > maxMs) maxMs = ms;
    counts[input.target]++;
    if (c) parentPort.postMessage({ type: 'crash', iter, target: input.target, how: input.how, ...c });
    if (performance.now() - last > 500) {
      parentPort.postMessage({ type: 'stats', counts: { ...counts }, maxMs, heap: process.memoryUsage().heapUsed });
      for (const k in counts) counts[k] = 0;
      last = performance.now();
    }
  }
  parentPort.postMessage({ type: 'stats', counts, maxMs, heap: process.memoryUsage().heapUsed });
  process.exit(0);
}

// ---- the main thread -------------------------------------------------------------------

function args(argv) {
  const o = { seconds: 60, seed: null, timeout: 10_000, out: null, scanEvery: 15, replay: null, devsetMax: 300 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) fail(`${a} needs a value`);
      return x;
    };
    const num = (name) => {
      const x = Number(v());
      if (!Number.isFinite(x) || x < 0) fail(`${name} must be a non-negative number`);
      return x;
    };
    if (a === '--seconds') o.seconds = num('--seconds');
    else if (a === '--seed') o.seed = num('--seed') >>> 0;
    else if (a === '--timeout') o.timeout = num('--timeout');
    else if (a === '--out') o.out = v();
    else if (a === '--scan-every') o.scanEvery = num('--scan-every');
    else if (a === '--replay') o.replay = num('--replay');
    else if (a === '--devset-max') o.devsetMax = num('--devset-max');
    else if (a === '-h' || a === '--help') {
      console.log('usage: npm run fuzz -- [--seconds N] [--seed S] [--timeout MS] [--out DIR] [--scan-every S] [--devset-max N] [--replay ITER]');
      process.exit(0);
    } else fail(`unknown option ${a}`);
  }
  return o;
}

function fail(msg) {
  process.stderr.write(`fuzz: ${msg}\n`);
  process.exit(1);
}

function walk(dir, out = []) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names.sort()) {
    const p = join(dir, n);
    let st;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) walk(p, out);
    else if (st.isFile()) out.push(p);
  }
  return out;
}

async function seedSet(o) {
  const isPe = (b) => b.length >= 64 && b[0] === 0x4d && b[1] === 0x5a;
  const pe = [];
  const fx = walk(join(root, 'test/fixtures/bin')).filter((f) => /\.sys$/i.test(f));
  for (const f of fx) pe.push(readFileSync(f));
  const peSmall = [...pe];
  const devDir = process.env.POOLTAG_DEVSET || '/work/devset';
  let dev = 0;
  if (existsSync(devDir)) {
    for (const f of walk(devDir).filter((f) => /\.(sys|dll|exe|drv)$/i.test(f))) {
      if (dev >= o.devsetMax) break;
      if (statSync(f).size > 4 << 20) continue;
      const b = readFileSync(f);
      if (isPe(b)) {
        pe.push(b);
        dev++;
      }
    }
  }
  const regDir = join(root, 'test/fuzz-regressions');
  const reg = walk(regDir).filter((f) => !f.endsWith('README.md'));
  const byExt = (re) => reg.filter((f) => re.test(f)).map((f) => readFileSync(f));
  pe.push(...byExt(/\.sys$/i));
  peSmall.push(...byExt(/\.sys$/i));
  const shared = join(root, '..', 'shared');
  const pooltag = [
    ...walk(join(root, 'test/data')).filter((f) => /pooltag-.*\.txt$/.test(f)),
    ...walk(join(shared, 'pooltag')).filter((f) => f.endsWith('.txt')),
  ].map((f) => readFileSync(f));
  pooltag.push(...byExt(/\.pooltag\.txt$/));
  const poolout = [
    ...walk(join(root, 'test/data')).filter((f) => /(poolmon|poolused|pool)-synthetic\.txt$/.test(f)),
    ...walk(join(shared, 'samples')).filter((f) => f.endsWith('.txt')),
  ].map((f) => readFileSync(f));
  poolout.push(...byExt(/\.poolout\.txt$/));
  // reports: a real scan of a few fixtures, as JSON and as NDJSON
  const { scan } = await import(dist('scan/scan.js'));
  const { serialiseReport, reportLines } = await import(dist('report/write.js'));
  const report = await scan({ paths: fx.slice(0, 6), jobs: 1, cache: null });
  const report2 = { ...report, images: report.images.slice(0, 2), files: report.files.slice(0, 3) };
  const reports = [Buffer.from(String(serialiseReport(report, 'json'))), Buffer.from([...reportLines(report)].join('')), Buffer.from([...reportLines(report2)].join('')), Buffer.from(JSON.stringify(report2))];
  reports.push(...byExt(/\.report\.json$/));
  return { seedSet: { pe, peSmall, pooltag, poolout, report: reports }, counts: { fixtures: fx.length, devset: dev, regressions: reg.length } };
}

/** Shrinks a crashing input while it still crashes the same way (truncation, then zeroed chunks). */
async function minimise(exec, target, buf, sig, budgetMs = 20_000) {
  const t0 = Date.now();
  const same = async (b) => {
    const c = await exec(target, b);
    return c !== null && signature(target, c) === sig;
  };
  let best = buf;
  // shortest prefix
  let lo = 0;
  let hi = best.length;
  while (lo < hi && Date.now() - t0 < budgetMs) {
    const mid = (lo + hi) >> 1;
    if (await same(best.subarray(0, mid))) hi = mid;
    else lo = mid + 1;
  }
  if (hi < best.length && (await same(best.subarray(0, hi)))) best = Buffer.from(best.subarray(0, hi));
  // zero (binary) or drop (text) chunks
  for (let chunk = Math.max(1, best.length >> 2); chunk >= 1 && Date.now() - t0 < budgetMs; chunk >>= 1) {
    for (let at = 0; at < best.length && Date.now() - t0 < budgetMs; at += chunk) {
      let cand;
      if (target === 'pe') {
        if (best.subarray(at, at + chunk).every((x) => x === 0)) continue;
        cand = Buffer.from(best);
        cand.fill(0, at, at + chunk);
      } else cand = Buffer.concat([best.subarray(0, at), best.subarray(at + chunk)]);
      if (await same(cand)) {
        best = cand;
        if (target !== 'pe') at -= chunk;
      }
    }
  }
  return best;
}

async function wholeScan(o, seeds, round, outDir, record) {
  const { scan } = await import(dist('scan/scan.js'));
  const dir = mkdtempSync(join(tmpdir(), 'pooltag-fuzz-scan-'));
  try {
    const expected = new Map();
    for (let k = 0; k < 16; k++) {
      const iter = 0x40000000 + round * 16 + k;
      let input = generate(seeds, o.seed, iter);
      for (let n = 0; input.target !== 'pe' && n < 64; n++) input = generate(seeds, o.seed, iter + 0x100000 * (n + 1));
      const p = join(dir, `m${String(k).padStart(2, '0')}.sys`);
      writeFileSync(p, input.bytes);
      expected.set(p, input);
    }
    writeFileSync(join(dir, 'empty.sys'), '');
    writeFileSync(join(dir, 'notes.sys'), 'not a driver\r\n');
    mkdirSync(join(dir, 'folder.sys'));
    writeFileSync(join(dir, 'folder.sys', 'inner.sys'), seeds.pe[round % seeds.pe.length]);
    const all = [...expected.keys(), join(dir, 'empty.sys'), join(dir, 'notes.sys'), join(dir, 'folder.sys'), join(dir, 'folder.sys', 'inner.sys')];
    const report = await scan({ paths: [dir], jobs: 2, cache: null, timeoutMs: o.timeout });
    const seen = new Map();
    for (const f of report.files) seen.set(f.path, (seen.get(f.path) ?? 0) + 1);
    for (const p of all) if (seen.get(p) !== 1) record('scan', `${p} reported ${seen.get(p) ?? 0} times, not exactly once`, null);
    for (const p of seen.keys()) if (!all.includes(p)) record('scan', `${p} reported but not an input`, null);
    for (const f of report.files) {
      if (!f.error && !f.sha256) record('scan', `${f.path}: neither a result nor an error`, null);
      const code = f.error?.code;
      if (code === 'internal' || code === 'worker-died' || code === 'timeout') {
        const input = expected.get(f.path);
        record(code === 'timeout' ? 'hang' : 'scan', `${code}: ${f.error.message}`, input ? { target: 'pe', bytes: input.bytes, how: input.how } : null);
      }
    }
    return all.length;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const o = args(process.argv.slice(2));
  if (!existsSync(join(root, 'dist/src/scan/analyse.js'))) fail('dist/ is missing: run `npm run build` first');
  o.seed ??= (Date.now() ^ (process.pid << 16)) >>> 0;
  const outDir = o.out ?? join(tmpdir(), `pooltag-fuzz-${o.seed}`);
  const { seedSet: seeds, counts: seedCounts } = await seedSet(o);
  const exec = await loadTargets();

  if (o.replay !== null) {
    const input = generate(seeds, o.seed, o.replay);
    const c = await exec(input.target, input.bytes);
    mkdirSync(outDir, { recursive: true });
    const f = join(outDir, `replay-${o.replay}.${input.target}`);
    writeFileSync(f, input.bytes);
    console.log(`iteration ${o.replay} (${input.target}, ${input.how}, ${input.bytes.length} bytes, saved as ${f}): ${c ? `CRASH ${c.message}\n${c.stack}` : 'ok'}`);
    process.exit(c ? 1 : 0);
  }

  console.log(
    `fuzz: seed ${o.seed}, ${o.seconds} s, time limit ${o.timeout} ms per input; seeds: ${seeds.pe.length} PE (${seedCounts.fixtures} fixtures, ${seedCounts.devset} from the devset), ` +
      `${seeds.pooltag.length} pooltag.txt, ${seeds.poolout.length} pool pastes, ${seeds.report.length} reports, ${seedCounts.regressions} kept regressions`,
  );

  const failures = new Map(); // signature -> { kind, message, file }
  let crashes = 0;
  let hangs = 0;
  const record = (kind, message, input) => {
    const sig = `${kind}: ${message.replace(/\d+/g, 'N').slice(0, 160)}`;
    if (kind === 'hang') hangs++;
    else crashes++;
    if (failures.has(sig)) return;
    let file = null;
    if (input) {
      mkdirSync(outDir, { recursive: true });
      file = join(outDir, `${kind}-${createHash('sha256').update(sig).digest('hex').slice(0, 10)}.${input.target}`);
      writeFileSync(file, input.bytes);
      writeFileSync(file + '.txt', `${message}\n${input.how}\n`);
    }
    failures.set(sig, { kind, message, file });
    console.log(`  ${kind.toUpperCase()}: ${message.split('\n')[0]}${file ? ` (input: ${file})` : ''}`);
  };

  const totals = { pe: 0, pooltag: 0, poolout: 0, report: 0 };
  let maxMs = 0;
  let maxHeap = 0;
  let maxRss = 0;
  const ctl = new SharedArrayBuffer(24);
  const ints = new Int32Array(ctl, 0, 4);
  const times = new Float64Array(ctl, 16, 1);
  let worker = null;
  /** Each fuzzing thread's exit, as a promise made when the thread is started. */
  const exited = new WeakMap();
  let nextIter = 0;
  let stopping = false;
  const pendingCrashes = [];

  const start = (from) => {
    Atomics.store(ints, 1, 0);
    const w = new Worker(fileURLToPath(import.meta.url), {
      workerData: { seedSet: seeds, seed: o.seed, startIter: from, ctl },
      resourceLimits: { maxOldGenerationSizeMb: 1024 },
    });
    // Known from the start: the thread may see the stop flag and exit while the last whole
    // scan is still awaited, before anyone could listen for its exit (then the wait for it
    // never ended, and node exited with 13, an unsettled top-level await).
    exited.set(w, new Promise((r) => w.once('exit', r)));
    w.on('message', (m) => {
      if (m.type === 'stats') {
        for (const k in m.counts) totals[k] += m.counts[k];
        maxMs = Math.max(maxMs, m.maxMs);
        maxHeap = Math.max(maxHeap, m.heap);
      } else if (m.type === 'crash') pendingCrashes.push(m);
    });
    w.on('error', (err) => {
      if (w !== worker) return;
      const iter = Atomics.load(ints, 0);
      const input = generate(seeds, o.seed, iter);
      record('crash', `fuzzing thread died on iteration ${iter} (${input.target}): ${err.code ?? err.name}: ${err.message}`, input);
      worker = null;
      if (!stopping) start(iter + 1);
    });
    w.on('exit', () => {
      if (w === worker && !stopping) {
        const iter = Atomics.load(ints, 0);
        worker = null;
        start(iter + 1);
      }
    });
    worker = w;
  };

  const t0 = Date.now();
  start(nextIter);
  let scans = 0;
  let scanFiles = 0;
  let lastScan = Date.now();
  let scanning = null;
  while (Date.now() - t0 < o.seconds * 1000) {
    await new Promise((r) => setTimeout(r, 100));
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
    while (pendingCrashes.length) {
      const m = pendingCrashes.shift();
      const sig = signature(m.target, m);
      crashes++;
      if ([...failures.keys()].includes(sig)) continue;
      const input = generate(seeds, o.seed, m.iter);
      mkdirSync(outDir, { recursive: true });
      const base = join(outDir, `crash-${createHash('sha256').update(sig).digest('hex').slice(0, 10)}`);
      writeFileSync(`${base}.${m.target}`, input.bytes);
      const small = await minimise(exec, m.target, input.bytes, sig);
      writeFileSync(`${base}.min.${m.target}`, small);
      writeFileSync(`${base}.txt`, `${sig}\niteration ${m.iter} of seed ${o.seed}: ${m.how}\n${m.message}\n${m.stack}\n`);
      failures.set(sig, { kind: 'crash', message: m.message, file: `${base}.min.${m.target}` });
      console.log(`  CRASH: ${sig} (iteration ${m.iter}; ${input.bytes.length} bytes, minimised to ${small.length}: ${base}.min.${m.target})`);
    }
    // a hung input: stop the thread, keep the input, go on after it
    if (worker && Atomics.load(ints, 1) === 1 && Date.now() - times[0] > o.timeout) {
      const iter = Atomics.load(ints, 0);
      const input = generate(seeds, o.seed, iter);
      const w = worker;
      worker = null;
      await w.terminate();
      record('hang', `iteration ${iter} (${input.target}, ${input.how}) ran past ${o.timeout} ms`, input);
      start(iter + 1);
    }
    if (o.scanEvery > 0 && !scanning && Date.now() - lastScan > o.scanEvery * 1000) {
      scanning = wholeScan(o, seeds, scans, outDir, record)
        .then((n) => {
          scans++;
          scanFiles += n;
        })
        .catch((err) => record('scan', `scan() threw: ${err.stack ?? err}`, null))
        .finally(() => {
          scanning = null;
          lastScan = Date.now();
        });
    }
  }
  stopping = true;
  Atomics.store(ints, 2, 1);
  if (scanning) await scanning;
  if (worker) {
    const w = worker;
    const done = exited.get(w);
    const t = setTimeout(() => w.terminate(), Math.max(2000, o.timeout));
    await done;
    clearTimeout(t);
  }
  const secs = (Date.now() - t0) / 1000;
  const n = totals.pe + totals.pooltag + totals.poolout + totals.report;
  const rate = (x) => Math.round(x / secs);
  console.log(
    `fuzz: ${n} inputs in ${secs.toFixed(1)} s = ${rate(n)} executions/s ` +
      `(PE ${totals.pe} = ${rate(totals.pe)}/s, pooltag.txt ${totals.pooltag}, pool pastes ${totals.poolout}, reports ${totals.report}); ` +
      `whole scans ${scans} (${scanFiles} files); slowest input ${Math.round(maxMs)} ms; peak heap ${Math.round(maxHeap / 2 ** 20)} MB of the thread's 1024, peak RSS ${Math.round(maxRss / 2 ** 20)} MB`,
  );
  console.log(`fuzz: ${crashes} crashes, ${hangs} hangs${failures.size ? ` (${failures.size} distinct, inputs in ${outDir})` : ''}`);
  process.exit(crashes + hangs > 0 ? 1 : 0);
}

if (isMainThread) await main();
