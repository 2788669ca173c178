#!/usr/bin/env node
// Real-world PE check: runs the compiled reader (`readPe` from dist/src/index.js) on every
// PE file of Debian's libwine package (plus a few small packages with 32-bit x86 PE files,
// see scripts/lib/wine-corpus.mjs) and compares the imports of a deterministic sample
// with `x86_64-w64-mingw32-objdump -p`. Files are only read, never executed.
//
//   node scripts/check-wine.mjs [--sample N|all] [--json]
//
// Exit 0 only when every file parses (headers, sections and imports without an issue,
// machine and section count agreeing with the file) and every sampled file's imports
// match objdump exactly. Exit 1 otherwise, listing every failure. Exit 2 on bad usage.
//
// Each file is parsed in a worker thread, so a reader that loops forever on one file is
// reported (as a failure naming the file) instead of hanging CI.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ensureWineCorpus, packageOf, probePe } from './lib/wine-corpus.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.resolve(HERE, '..', 'dist', 'src', 'index.js');
const OBJDUMP = 'x86_64-w64-mingw32-objdump';
/** A file whose parse takes longer than this is reported as hung. */
const PER_FILE_TIMEOUT_MS = Number(process.env.CHECK_WINE_FILE_TIMEOUT_MS) || 30_000;
/** Issues in these parts mean the file did not parse. Others are reported, not fatal. */
const FATAL_PARTS = new Set(['headers', 'sections', 'imports', 'delay-imports']);
const MACHINE_NAMES = { 0x14c: 'x86', 0x8664: 'x64', 0xaa64: 'arm64', 0x1c4: 'arm', 0x200: 'ia64' };
const MIN_SAMPLE = 40;
/** Each arch present gets at least this many sampled files (or all of them). */
const MIN_SAMPLE_PER_ARCH = 10;

// ---------------------------------------------------------------------------------------
// Worker: parse files, post one small result per file.

async function workerMain() {
  const { distUrl, files, sampled } = workerData;
  const { readPe } = await import(distUrl);
  const want = new Set(sampled);
  for (const [index, file] of files) {
    parentPort.postMessage({ type: 'start', index });
    const result = { type: 'done', index, size: 0, readMs: 0, parseMs: 0 };
    try {
      const t0 = performance.now();
      const buf = fs.readFileSync(file);
      const t1 = performance.now();
      result.size = buf.length;
      result.readMs = t1 - t0;
      let image;
      try {
        image = readPe(buf);
      } catch (e) {
        result.parseMs = performance.now() - t1;
        result.error = `${e?.name ?? 'Error'}: ${e?.message ?? String(e)}`;
        if (!(e?.name === 'PeFormatError')) result.stack = String(e?.stack ?? '').split('\n').slice(0, 6).join('\n');
        parentPort.postMessage(result);
        continue;
      }
      result.parseMs = performance.now() - t1;
      const h = image.headers ?? {};
      result.headers = { machine: h.machine, arch: h.arch, format: h.format };
      result.sectionCount = Array.isArray(image.sections) ? image.sections.length : -1;
      result.issues = (image.issues ?? []).map((i) => ({ part: i.part, message: i.message }));
      result.hasSignature = image.signature != null;
      result.hasVersion = image.version != null;
      result.pdata = Array.isArray(image.functions) ? image.functions.length : 0;
      const imports = Array.isArray(image.imports) ? image.imports : [];
      result.importModules = imports.filter((m) => !m.delayLoad).length;
      result.delayModules = imports.filter((m) => m.delayLoad).length;
      result.importFunctions = imports.reduce((n, m) => n + (m.functions?.length ?? 0), 0);
      if (!Array.isArray(image.imports)) result.error = 'readPe returned no imports array';
      if (want.has(index)) result.imports = imports;
    } catch (e) {
      result.error = `while reading the file or summarising the image: ${e?.stack ?? e}`;
    }
    parentPort.postMessage(result);
  }
}

// ---------------------------------------------------------------------------------------
// objdump

function execFileP(cmd, args) {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', maxBuffer: 512 << 20 }, (err, stdout, stderr) => resolve({ err, stdout, stderr }));
  });
}

/**
 * Parses the "The Import Tables" part of `objdump -p` (binutils 2.40, pe_print_idata):
 *
 *   The Import Tables (interpreted .idata section contents)
 *    vma:            Hint    Time      Forward  DLL       First
 *                    Table   Stamp     Chain    Name      Thunk
 *    000dd000\t000dd0a0 00000000 00000000 000e1740 000de178      <- descriptor
 *
 *   \tDLL Name: advapi32.dll
 *   \tvma:  Hint/Ord Member-Name Bound-To
 *   \tdf250\t   21  AdjustTokenPrivileges                        <- by name: hint (decimal), name
 *   \t8000000000000011\t    000000011  <none>                     <- by ordinal, PE32+: ordinal in HEX
 *   \t80000005\t    5  <none>                                     <- by ordinal, PE32: ordinal in decimal
 *   \t<corrupt: 0x1234>                                           <- hint/name RVA outside the section
 *
 * A "Bound-To" address follows after a tab when the descriptor's TimeDateStamp is set.
 * The IAT slot of the j-th entry is FirstThunk + j * pointer size. objdump 2.40 does not
 * print delay-load imports, so only the normal import table can be compared.
 */
export function parseObjdumpImports(text, is64) {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('The Import Tables'));
  const out = { present: start >= 0, modules: [], problems: [] };
  for (const l of lines) {
    if (/^There is an import table/.test(l) && /could not be found|has no contents/.test(l)) out.problems.push(l.trim());
  }
  if (start < 0) return out;
  const ptr = is64 ? 8 : 4;
  let pendingThunk = null;
  let mod = null;
  for (let i = start + 1; i < lines.length; i++) {
    const l = lines[i];
    if (l !== '' && !/^\s/.test(l)) break; // next top-level part of the dump
    let m;
    if ((m = /^ ([0-9a-fA-F]+)\t([0-9a-fA-F]+) ([0-9a-fA-F]+) ([0-9a-fA-F]+) ([0-9a-fA-F]+) ([0-9a-fA-F]+)\s*$/.exec(l))) {
      pendingThunk = parseInt(m[6], 16);
    } else if ((m = /^\tDLL Name: (.*)$/.exec(l))) {
      mod = { module: m[1], firstThunk: pendingThunk, functions: [] };
      pendingThunk = null;
      out.modules.push(mod);
    } else if (/^\tvma:\s+Hint\/Ord/.test(l)) {
      // column header
    } else if ((m = /^\t<corrupt: 0x([0-9a-fA-F]+)>/.exec(l))) {
      if (!mod) throw new Error(`objdump import row outside a module: ${JSON.stringify(l)}`);
      mod.functions.push({ corrupt: parseInt(m[1], 16), iatRva: slot(mod, ptr) });
    } else if ((m = /^\t([0-9a-fA-F]+)\t\s*([0-9a-fA-F]+)  (.*)$/.exec(l))) {
      if (!mod) throw new Error(`objdump import row outside a module: ${JSON.stringify(l)}`);
      const rest = m[3].split('\t')[0];
      if (rest === '<none>') {
        const ordinal = is64 ? Number(BigInt('0x' + m[2]) & 0xffffn) : Number(m[2]) & 0xffff;
        mod.functions.push({ name: null, ordinal, hint: null, iatRva: slot(mod, ptr) });
      } else {
        mod.functions.push({ name: rest, ordinal: null, hint: Number(m[2]), iatRva: slot(mod, ptr) });
      }
    } else if (l.trim() === '' || /^\s+vma:\s+Hint\s+Time/.test(l) || /^\s+Table\s+Stamp/.test(l)) {
      // blank or table header
    } else {
      out.problems.push(`unrecognised objdump import line: ${JSON.stringify(l)}`);
    }
  }
  return out;
}

function slot(mod, ptr) {
  return mod.firstThunk == null ? null : mod.firstThunk + mod.functions.length * ptr;
}

const fmtFn = (f) =>
  f.corrupt !== undefined
    ? `<corrupt 0x${f.corrupt.toString(16)}>`
    : `${f.name !== null ? `${f.name} (hint ${f.hint})` : `#${f.ordinal}`} @IAT 0x${f.iatRva?.toString(16)}`;

/** Differences between readPe's normal imports and objdump's, as readable lines. */
export function compareImports(mine, theirs) {
  const diffs = [];
  const a = mine.filter((m) => !m.delayLoad);
  const b = theirs.modules;
  const names = (xs) => xs.map((m) => m.module).join(', ');
  if (a.length !== b.length || a.some((m, i) => m.module !== b[i].module)) {
    diffs.push(`modules differ: readPe [${names(a)}] vs objdump [${names(b)}]`);
  }
  const byName = new Map();
  for (const m of a) byName.set(m.module, [...(byName.get(m.module) ?? []), m]);
  const seen = new Map();
  for (const ob of b) {
    const k = seen.get(ob.module) ?? 0;
    seen.set(ob.module, k + 1);
    const mm = byName.get(ob.module)?.[k];
    if (!mm) continue;
    if (mm.functions.length !== ob.functions.length) {
      diffs.push(`${ob.module}: ${mm.functions.length} functions in readPe vs ${ob.functions.length} in objdump`);
    }
    const n = Math.min(mm.functions.length, ob.functions.length);
    for (let j = 0; j < n; j++) {
      const x = mm.functions[j];
      const y = ob.functions[j];
      const same =
        y.corrupt === undefined &&
        x.name === y.name &&
        (y.name === null ? x.ordinal === y.ordinal : x.hint === y.hint) &&
        (y.iatRva === null || x.iatRva === y.iatRva);
      if (!same) diffs.push(`${ob.module}[${j}]: readPe ${fmtFn(x)} vs objdump ${fmtFn(y)}`);
    }
  }
  return diffs;
}

// ---------------------------------------------------------------------------------------
// Main thread

function usage() {
  return 'usage: node scripts/check-wine.mjs [--sample N|all] [--json]\n' +
    `  --sample N   compare the imports of N files with objdump (default: max(${MIN_SAMPLE}, files/10));\n` +
    `               every arch present gets at least ${MIN_SAMPLE_PER_ARCH}; "all" compares every file\n` +
    '  --json       print the summary as JSON on stdout (progress goes to stderr)\n' +
    'Env: POOLTAG_WINE_DIR overrides the corpus cache folder (default ~/.cache/pooltag-dev/wine).';
}

function parseArgs(argv) {
  const o = { sample: null, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') o.json = true;
    else if (a === '--sample' || a.startsWith('--sample=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === 'all') o.sample = Infinity;
      else if (v !== undefined && /^\d+$/.test(v)) o.sample = Number(v);
      else throw new Error(`--sample needs a number or "all", got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
    } else if (a === '-h' || a === '--help') o.help = true;
    else throw new Error(`unknown argument ${JSON.stringify(a)}`);
  }
  return o;
}

/** Evenly spaced, per arch, deterministic: indices into `files`. */
function pickSample(files, archOf, n) {
  const groups = new Map();
  files.forEach((f, i) => {
    const k = archOf[i];
    groups.set(k, [...(groups.get(k) ?? []), i]);
  });
  const picked = [];
  for (const idx of groups.values()) {
    const s = idx.length;
    const k = n === Infinity ? s : Math.min(s, Math.max(Math.min(s, MIN_SAMPLE_PER_ARCH), Math.round((n * s) / files.length)));
    for (let j = 0; j < k; j++) picked.push(idx[Math.floor((j * s) / k)]);
  }
  return [...new Set(picked)].sort((a, b) => a - b);
}

/** Parses files in a worker; restarts it past a file that hangs. */
function parseAll(files, sampled, onResult) {
  return new Promise((resolve) => {
    let next = 0;
    const launch = () => {
      if (next >= files.length) return resolve();
      const chunk = [];
      for (let i = next; i < files.length; i++) chunk.push([i, files[i]]);
      const w = new Worker(fileURLToPath(import.meta.url), {
        workerData: { distUrl: pathToFileURL(DIST).href, files: chunk, sampled },
      });
      let current = null;
      let timer = null;
      let finished = false;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          finished = true;
          onResult({ index: current, error: `readPe did not finish within ${PER_FILE_TIMEOUT_MS / 1000} s (hang?)`, size: 0, parseMs: PER_FILE_TIMEOUT_MS });
          next = current + 1;
          w.terminate().then(launch);
        }, PER_FILE_TIMEOUT_MS);
      };
      w.on('message', (msg) => {
        if (finished) return; // late message from a worker being terminated
        if (msg.type === 'start') {
          current = msg.index;
          arm();
        } else {
          clearTimeout(timer);
          next = msg.index + 1;
          onResult(msg);
        }
      });
      w.on('error', (e) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        if (current === null || next > current) {
          // Failed before parsing anything (e.g. the import of dist failed).
          onResult({ fatal: `parser worker failed: ${e?.stack ?? e}` });
          return resolve();
        }
        onResult({ index: current, error: `worker crashed: ${e?.stack ?? e}`, size: 0, parseMs: 0 });
        next = current + 1;
        launch();
      });
      w.on('exit', () => {
        clearTimeout(timer);
        if (finished) return;
        finished = true;
        if (next < files.length) {
          // exited without an error event (e.g. out of memory)
          onResult({ index: next, error: 'worker exited while parsing this file', size: 0, parseMs: 0 });
          next += 1;
          launch();
        } else resolve();
      });
    };
    launch();
  });
}

async function pool(items, limit, fn) {
  const out = new Array(items.length);
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) {
        const k = i++;
        out[k] = await fn(items[k], k);
      }
    }),
  );
  return out;
}

const median = (xs) => {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (xs, p) => {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const r2 = (x) => Math.round(x * 100) / 100;

async function main() {
  const started = performance.now();
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`check-wine: ${e.message}\n${usage()}`);
    return 2;
  }
  if (opts.help) {
    console.log(usage());
    return 0;
  }
  const say = opts.json ? (m) => console.error(m) : (m) => console.log(m);
  const fail = (m) => {
    console.error(`check-wine: FAIL: ${m}`);
    if (opts.json) console.log(JSON.stringify({ ok: false, error: m }, null, 2));
    return 1;
  };

  // 1. Tools and the library, before any download.
  const od = await execFileP(OBJDUMP, ['--version']);
  if (od.err) {
    return fail(`${OBJDUMP} is needed to cross-check imports and was not found (${od.err.code ?? od.err.message}). ` +
      'Install it with: apt-get install binutils-mingw-w64-x86-64');
  }
  const objdumpVersion = od.stdout.split('\n')[0];
  if (!fs.existsSync(DIST)) return fail(`${path.relative(process.cwd(), DIST)} is missing: run \`npm run build\` first.`);
  let lib;
  try {
    lib = await import(pathToFileURL(DIST).href);
  } catch (e) {
    return fail(`importing ${DIST} failed (is the build complete? run \`npm run build\`):\n${e?.stack ?? e}`);
  }
  if (typeof lib.readPe !== 'function') return fail(`${DIST} does not export readPe.`);

  // 2. The corpus.
  let corpus;
  try {
    corpus = ensureWineCorpus({ log: (m) => console.error(m) });
  } catch (e) {
    return fail(e.message);
  }
  const { dir, files } = corpus;
  const rel = (f) => path.relative(dir, f);
  const probes = files.map((f) => probePe(f));
  const archOf = probes.map((p) => MACHINE_NAMES[p.machine] ?? `0x${p.machine.toString(16)}`);
  const sampleN = opts.sample ?? Math.max(MIN_SAMPLE, Math.ceil(files.length / 10));
  const sampled = pickSample(files, archOf, sampleN);
  say(`check-wine: ${files.length} PE files (${corpus.mainFiles} from libwine) in ${dir}${corpus.cached ? ' (cached)' : ''}; ` +
    `comparing imports of ${sampled.length} with ${objdumpVersion}`);

  // 3. objdump on the sample, concurrently with the parse.
  const objdumpDone = pool(sampled, Math.max(1, os.availableParallelism?.() ?? os.cpus().length), async (i) => {
    const r = await execFileP(OBJDUMP, ['-p', files[i]]);
    if (r.err) return { error: `${OBJDUMP} -p failed: ${String(r.stderr || r.err.message).trim().split('\n').slice(-3).join(' | ')}` };
    try {
      return { parsed: parseObjdumpImports(r.stdout, probes[i].magic === 0x20b) };
    } catch (e) {
      return { error: `could not parse objdump output: ${e.message}` };
    }
  });

  // 4. Parse everything.
  const results = new Array(files.length);
  let fatal = null;
  let done = 0;
  const tParse = performance.now();
  await parseAll(files, sampled, (r) => {
    if (r.fatal) {
      fatal = r.fatal;
      return;
    }
    results[r.index] = r;
    done++;
    if (!opts.json && process.stdout.isTTY && done % 50 === 0) process.stdout.write(`  parsed ${done}/${files.length}\r`);
  });
  const parseWall = performance.now() - tParse;
  if (fatal) return fail(fatal);

  const failures = [];
  const issuesByPart = {};
  const archCounts = {};
  let bytes = 0;
  let withSignature = 0;
  let withVersion = 0;
  let withPdata = 0;
  let withDelay = 0;
  let importModules = 0;
  let importFunctions = 0;
  const parseTimes = [];
  const byPackage = {};
  for (let i = 0; i < files.length; i++) {
    const r = results[i];
    const f = rel(files[i]);
    const pkg = packageOf(dir, files[i]);
    byPackage[pkg] = (byPackage[pkg] ?? 0) + 1;
    if (!r) {
      failures.push({ file: f, error: 'no result from the parser' });
      continue;
    }
    bytes += r.size;
    parseTimes.push(r.parseMs);
    if (r.error) {
      failures.push({ file: f, error: r.error + (r.stack ? `\n${r.stack}` : '') });
      continue;
    }
    const p = probes[i];
    const why = [];
    if (r.headers.machine !== p.machine) why.push(`headers.machine 0x${r.headers.machine?.toString(16)} but the COFF header says 0x${p.machine.toString(16)}`);
    const wantFormat = p.magic === 0x20b ? 'PE32+' : p.magic === 0x10b ? 'PE32' : null;
    if (r.headers.format !== wantFormat) why.push(`headers.format ${r.headers.format} but the optional header magic is 0x${p.magic.toString(16)}`);
    const wantArch = MACHINE_NAMES[p.machine];
    if (wantArch && r.headers.arch !== wantArch) why.push(`headers.arch ${r.headers.arch} but the machine is ${wantArch}`);
    if (r.sectionCount !== p.numberOfSections) why.push(`${r.sectionCount} sections but NumberOfSections is ${p.numberOfSections}`);
    if (f.includes(`${path.sep}x86_64-windows${path.sep}`) && r.headers.arch !== 'x64') why.push(`in x86_64-windows but arch ${r.headers.arch}`);
    if (f.includes(`${path.sep}i386-windows${path.sep}`) && r.headers.arch !== 'x86') why.push(`in i386-windows but arch ${r.headers.arch}`);
    for (const is of r.issues) {
      if (FATAL_PARTS.has(is.part)) why.push(`issue in ${is.part}: ${is.message}`);
      const e = (issuesByPart[is.part] ??= { files: 0, count: 0, fatal: FATAL_PARTS.has(is.part), examples: [] });
      e.count++;
      if (e.examples.length < 5) e.examples.push(`${f}: ${is.message}`);
    }
    for (const part of new Set(r.issues.map((x) => x.part))) issuesByPart[part].files++;
    if (why.length) failures.push({ file: f, error: why.join('; ') });
    archCounts[r.headers.arch] = (archCounts[r.headers.arch] ?? 0) + 1;
    if (r.hasSignature) withSignature++;
    if (r.hasVersion) withVersion++;
    if (r.pdata > 0) withPdata++;
    if (r.delayModules > 0) withDelay++;
    importModules += r.importModules;
    importFunctions += r.importFunctions;
  }

  // 5. Compare the sample with objdump.
  const od2 = await objdumpDone;
  const mismatches = [];
  const cmpArch = {};
  let cmpModules = 0;
  let cmpFunctions = 0;
  let cmpOrdinals = 0;
  let cmpDelaySkipped = 0;
  for (let k = 0; k < sampled.length; k++) {
    const i = sampled[k];
    const f = rel(files[i]);
    const r = results[i];
    const o = od2[k];
    cmpArch[archOf[i]] = (cmpArch[archOf[i]] ?? 0) + 1;
    if (o.error) {
      mismatches.push({ file: f, diffs: [o.error] });
      continue;
    }
    if (!r || r.error || !r.imports) continue; // already a parse failure
    const diffs = [...o.parsed.problems.map((p) => `objdump: ${p}`), ...compareImports(r.imports, o.parsed)];
    cmpModules += o.parsed.modules.length;
    for (const m of o.parsed.modules) {
      cmpFunctions += m.functions.length;
      cmpOrdinals += m.functions.filter((x) => x.name === null).length;
    }
    cmpDelaySkipped += r.imports.filter((m) => m.delayLoad).length;
    if (diffs.length) mismatches.push({ file: f, diffs });
  }

  const sumIssues = Object.fromEntries(Object.entries(issuesByPart).sort(([a], [b]) => (a < b ? -1 : 1)));
  const summary = {
    ok: failures.length === 0 && mismatches.length === 0,
    corpus: { dir, packages: corpus.packages, cached: corpus.cached, files: files.length, libwineFiles: corpus.mainFiles, byPackage, mb: r2(bytes / 1e6) },
    arch: archCounts,
    parse: {
      medianMs: r2(median(parseTimes)),
      p90Ms: r2(pct(parseTimes, 90)),
      maxMs: r2(Math.max(0, ...parseTimes)),
      totalMs: Math.round(parseTimes.reduce((a, b) => a + b, 0)),
      wallMs: Math.round(parseWall),
      slowest: files
        .map((f, i) => ({ file: rel(f), ms: r2(results[i]?.parseMs ?? 0) }))
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 3),
    },
    withSignature,
    withVersion,
    withPdata,
    withDelayImports: withDelay,
    imports: { modules: importModules, functions: importFunctions },
    issuesByPart: sumIssues,
    failures,
    compare: {
      tool: objdumpVersion,
      files: sampled.length,
      arch: cmpArch,
      modules: cmpModules,
      functions: cmpFunctions,
      ordinalImports: cmpOrdinals,
      delayModulesNotCompared: cmpDelaySkipped,
      mismatches,
    },
    seconds: r2((performance.now() - started) / 1000),
  };

  if (opts.json) {
    console.log(JSON.stringify(summary, null, 2));
  } else {
    const s = summary;
    const archStr = (o) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
    say(`files:       ${s.corpus.files} PE files, ${s.corpus.mb} MB (${Object.entries(byPackage).map(([k, v]) => `${k} ${v}`).join(', ')})`);
    say(`arch:        ${archStr(s.arch)}`);
    say(`parse:       median ${s.parse.medianMs} ms/file, p90 ${s.parse.p90Ms} ms, max ${s.parse.maxMs} ms (${s.parse.slowest[0]?.file ?? '-'}), ` +
      `total ${(s.parse.totalMs / 1000).toFixed(1)} s`);
    say(`found:       signature ${withSignature}, version resource ${withVersion}, .pdata ${withPdata}, delay-load imports ${withDelay}; ` +
      `${importModules} import modules, ${importFunctions} imported functions`);
    const parts = Object.entries(sumIssues);
    say(`issues:      ${parts.length ? parts.map(([p, e]) => `${p} ${e.count} in ${e.files} files${e.fatal ? ' (FATAL)' : ''}`).join(', ') : 'none'}`);
    for (const [p, e] of parts) for (const ex of e.examples) say(`               [${p}] ${ex}`);
    say(`objdump:     ${sampled.length} files (${archStr(cmpArch)}), ${cmpModules} modules, ${cmpFunctions} functions (${cmpOrdinals} by ordinal) compared` +
      (cmpDelaySkipped ? `; ${cmpDelaySkipped} delay-load modules not compared (objdump -p does not print them)` : ''));
    if (failures.length) {
      say(`\nPARSE FAILURES (${failures.length}):`);
      for (const x of failures) say(`  ${x.file}: ${x.error}`);
    }
    if (mismatches.length) {
      say(`\nIMPORT MISMATCHES vs objdump (${mismatches.length} files):`);
      for (const x of mismatches) {
        say(`  ${x.file}:`);
        for (const d of x.diffs.slice(0, 20)) say(`    ${d}`);
        if (x.diffs.length > 20) say(`    ... ${x.diffs.length - 20} more`);
      }
    }
    say(`\ncheck-wine: ${s.ok ? 'OK' : 'FAIL'}: ${files.length - failures.length}/${files.length} files parsed, ` +
      `${sampled.length - mismatches.length}/${sampled.length} sampled files match objdump (${s.seconds} s)`);
  }
  return summary.ok ? 0 : 1;
}

// Last, so that every const above is initialised before it runs.
if (!isMainThread) {
  await workerMain();
} else if (process.argv[1] && pathToFileURL(fs.realpathSync(process.argv[1])).href === import.meta.url) {
  process.exitCode = await main();
}
