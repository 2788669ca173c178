#!/usr/bin/env node
// The default scan's discovery cost on a Windows-like tree (issue 19, item 6).
//
// A default scan reads System32's top level (shallow), System32\drivers and the DriverStore's
// FileRepository: tens of thousands of files, most of them not drivers. Every file that is not
// *.sys or a kernel image name is sniffed (its first 4 KiB: is it a NATIVE-subsystem PE?). This
// script builds a synthetic tree with the counts and kinds of files of a Windows 11 machine
// (the table below: approximate counts of a Windows 11 23H2 x64 install with a few vendor
// packages; user-mode DLLs and EXEs are real PE headers with the GUI or console subsystem, so
// each is sniffed and refused as a real one would be), puts the drivers of the development
// corpus (POOLTAG_DEVSET, default /work/devset; else the fixture drivers) where drivers live
// (System32\drivers, and their package copies plus other packages' drivers in the DriverStore,
// as on a real machine), then measures:
//   1. discovery: pooltag's discover() over the three default roots (System32 shallow), with the
//      file system's cache warm, as on the second of two scans;
//   2. the scan of the drivers it found (no cache), with the default workers;
// and prints discovery against the scan.
//
//   node scripts/bench-discover.mjs [--reps 3] [--keep DIR]
//
// Run `npm run build` first (it uses dist/).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (n, d) => (process.argv.includes(n) ? process.argv[process.argv.indexOf(n) + 1] : d);
const reps = Number(arg('--reps', '3'));
const { discover, scan } = await import(pathToFileURL(path.join(ROOT, 'dist', 'src', 'index.js')).href);

/** Files that are not drivers, by folder and kind (a Windows 11 23H2 x64 machine, approximately). */
const TREE = {
  System32: { dll: 3600, exe: 650, mui: 0, other: 420, folders: 110 },
  'System32/drivers': { dll: 40, exe: 0, mui: 560, other: 60, folders: 20 },
  // per package folder (FileRepository\<name>.inf_amd64_<hash>): inf, cat, PNF, then the rest spread
  'System32/DriverStore/FileRepository': { packages: 850, dll: 5200, exe: 900, mui: 300, other: 2400 },
};

/** A PE header of `subsystem` (2 GUI, 3 console), padded to `size`: what a sniff reads of a user-mode image. */
function peHead(subsystem, size) {
  const b = Buffer.alloc(size);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);
  b.write('PE\0\0', 0x80, 'latin1');
  b.writeUInt16LE(0x8664, 0x84);
  b.writeUInt16LE(0xf0, 0x94); // SizeOfOptionalHeader
  b.writeUInt16LE(0x20b, 0x98); // PE32+
  b.writeUInt16LE(subsystem, 0x98 + 68);
  return b;
}
const kinds = {
  dll: () => peHead(2, 8192),
  exe: () => peHead(3, 8192),
  mui: () => Buffer.concat([peHead(2, 4096), Buffer.alloc(2048, 1)]),
  other: (i) => Buffer.from(`; synthetic ${i}\r\n`.repeat(40 + (i % 200))),
};

function corpusDrivers() {
  const dev = path.resolve(process.env.POOLTAG_DEVSET || '/work/devset', 'drivers');
  const dir = fs.existsSync(dev) ? dev : path.join(ROOT, 'test', 'fixtures', 'bin');
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (/\.sys$/i.test(e.name)) out.push(path.join(d, e.name));
    }
  };
  walk(dir);
  return { from: dir, files: out.sort() };
}

function build(base) {
  const win = path.join(base, 'Windows');
  const counts = { files: 0, drivers: 0, bytes: 0 };
  const put = (p, buf) => {
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, buf);
    counts.files++;
    counts.bytes += buf.length;
  };
  for (const [rel, t] of Object.entries(TREE)) {
    if (t.packages) continue;
    const dir = path.join(win, rel);
    for (let f = 0; f < t.folders; f++) fs.mkdirSync(path.join(dir, `sub${f}`), { recursive: true });
    for (const kind of ['dll', 'exe', 'other']) for (let i = 0; i < t[kind]; i++) put(path.join(dir, `${kind}${i}.${kind === 'other' ? 'dat' : kind}`), kinds[kind](i));
    for (let i = 0; i < t.mui; i++) put(path.join(dir, 'en-US', `drv${i}.sys.mui`), kinds.mui(i));
  }
  const { from, files: drivers } = corpusDrivers();
  const loaded = drivers.slice(0, Math.round(drivers.length * 0.65));
  for (const d of loaded) {
    put(path.join(win, 'System32', 'drivers', path.basename(d)), fs.readFileSync(d));
    counts.drivers++;
  }
  // System32's own kernel images: the kernel and the HAL by name
  const kernel = drivers.find((d) => /x64/.test(d)) ?? drivers[0];
  put(path.join(win, 'System32', 'ntoskrnl.exe'), fs.readFileSync(kernel));
  put(path.join(win, 'System32', 'hal.dll'), fs.readFileSync(kernel));
  counts.drivers += 2;
  const repo = path.join(win, TREE['System32/DriverStore/FileRepository'] ? 'System32/DriverStore/FileRepository' : '');
  const t = TREE['System32/DriverStore/FileRepository'];
  const pkgs = Array.from({ length: t.packages }, (_, i) => path.join(repo, `pkg${i}.inf_amd64_${(i * 2654435761 >>> 0).toString(16).padStart(8, '0')}`));
  pkgs.forEach((p, i) => {
    put(path.join(p, `pkg${i}.inf`), kinds.other(i));
    put(path.join(p, `pkg${i}.cat`), kinds.other(i + 1));
    put(path.join(p, `pkg${i}.PNF`), kinds.other(i + 2));
  });
  // every driver has its package copy (the same bytes), as the DriverStore keeps them
  drivers.forEach((d, i) => {
    put(path.join(pkgs[i % pkgs.length], path.basename(d)), fs.readFileSync(d));
    counts.drivers++;
  });
  for (const kind of ['dll', 'exe', 'mui', 'other']) for (let i = 0; i < t[kind]; i++) put(path.join(pkgs[(i * 7) % pkgs.length], kind === 'mui' ? 'en-US' : '', `${kind}${i}.${kind === 'other' ? 'bin' : kind}`), kinds[kind](i));
  return { win, counts, corpus: from, distinctDrivers: drivers.length };
}

const now = () => performance.now();
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const base = arg('--keep', null) ?? fs.mkdtempSync(path.join(os.tmpdir(), 'pooltag-bench-discover-'));
try {
  const t0 = now();
  const { win, counts, corpus, distinctDrivers } = build(base);
  const made = now() - t0;
  const sys32 = path.join(win, 'System32');
  const roots = [path.join(sys32, 'drivers'), path.join(sys32, 'DriverStore', 'FileRepository'), sys32];
  let found;
  const times = [];
  await discover(roots, { shallow: [sys32] }); // warm, as a second scan finds it
  for (let r = 0; r < reps; r++) {
    const t = now();
    found = await discover(roots, { shallow: [sys32] });
    times.push(now() - t);
  }
  const ok = found.filter((c) => !c.problem);
  const byName = ok.filter((c) => /\.sys$/i.test(c.path) || /ntoskrnl\.exe$|hal\.dll$/i.test(c.path)).length;
  const t1 = now();
  const report = await scan({ paths: ok.map((c) => c.path), cache: null });
  const scanMs = now() - t1;
  const discoverMs = median(times);
  const result = {
    tree: { files: counts.files, drivers: counts.drivers, distinctDrivers, mb: +(counts.bytes / 1e6).toFixed(1), builtMs: Math.round(made), corpus },
    discovery: { ms: Math.round(discoverMs), candidates: ok.length, byName, sniffedAndTaken: ok.length - byName, sniffed: counts.files - byName, reps },
    scan: { ms: Math.round(scanMs), files: report.summary.files, images: report.summary.images, mbAnalysed: +(report.summary.bytesAnalysed / 1e6).toFixed(1), jobs: report.options.jobs },
    discoveryOverScan: +(discoverMs / scanMs).toFixed(3),
  };
  console.log(
    `tree: ${result.tree.files} files (${result.tree.mb} MB), ${result.tree.drivers} of them drivers (${distinctDrivers} distinct, from ${corpus})\n` +
      `discovery (3 default roots, System32 shallow; median of ${reps}, warm): ${result.discovery.ms} ms, ${result.discovery.sniffed} files sniffed, ${ok.length} taken (${byName} by name)\n` +
      `scan of those ${result.scan.files} files (${result.scan.images} distinct images, ${result.scan.mbAnalysed} MB analysed, ${result.scan.jobs} workers): ${result.scan.ms} ms\n` +
      `discovery / scan: ${(result.discoveryOverScan * 100).toFixed(1)}%`,
  );
  if (process.argv.includes('--json')) console.log(JSON.stringify(result));
} finally {
  if (!arg('--keep', null)) fs.rmSync(base, { recursive: true, force: true });
}
