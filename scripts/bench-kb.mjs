#!/usr/bin/env node
// Benchmark for the knowledge base (issue: "a base of 10,000 drivers, 200,000 evidence rows
// and one pooltag.txt; a cold `pooltag lookup` at most 2x `node -e ""`; `pooltag search` at
// most 3x; merging 1,000 host reports of 500 drivers each in under a minute; index rebuild
// time and size").
//
//   npm run build && npm run bench:kb [-- --reps N] [-- --hosts N]
//
// The fleet is synthetic but shaped like a real one: every host has the same 400 inbox
// drivers, plus 100 from a long tail of 9,600 third-party drivers; each driver has 5 tags at
// 20 call sites, 5 classified strings and 10 tag-like strings. Reports are written as real
// JSON files and merged by the CLI (`pooltag merge FOLDER`), one process, as an
// administrator would. The pooltag.txt is Microsoft's modern copy from ../shared/pooltag/
// when present. Lookup and search run as new processes (cold), against `node -e ""` in the
// same run; each figure is the median of --reps runs (default 7).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/pooltag');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const reps = opt('--reps', 7);
const HOSTS = opt('--hosts', 1000);
const COMMON = 400;
const TAIL = 9600;
const PER_HOST_TAIL = 100;

// Deterministic pseudo-random numbers (mulberry32).
let seed = 0x5eed;
const rnd = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (a) => a[Math.floor(rnd() * a.length)];
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const VENDORS = ['Contoso Ltd.', 'Fabrikam, Inc.', 'Northwind Traders', 'Litware, Inc.', 'Adventure Works', 'Proseware, Inc.', 'Tailspin Toys', 'Wide World Importers', 'Woodgrove Bank', 'Coho Winery', 'Microsoft Corporation', 'NVIDIA Corporation', 'Intel Corporation', 'Realtek Semiconductor Corp.', 'Broadcom Inc.', 'VMware, Inc.', 'CrowdStrike, Inc.', 'Symantec Corporation', 'Citrix Systems, Inc.', 'Qualcomm Technologies'];
const WORDS = ['filter', 'network', 'storage', 'miniport', 'bus', 'audio', 'video', 'usb', 'hid', 'crypto', 'backup', 'antivirus', 'vpn', 'wfp', 'raid', 'nvme', 'bluetooth', 'wifi', 'camera', 'sensor'];
const ROUTINES = ['ExAllocatePoolWithTag', 'ExAllocatePool2', 'ExFreePoolWithTag', 'ExInitializeNPagedLookasideList', 'NdisAllocateMemoryWithTagPriority'];
const hex64 = (s) => createHash('sha256').update(s).digest('hex');
const tag4 = () => Array.from({ length: 4 }, () => pick(ALNUM)).join('');
const ulongOf = (t) => '0x' + Buffer.from(t, 'latin1').readUInt32LE(0).toString(16).padStart(8, '0');

function makeDriver(i) {
  const name = `${pick(WORDS)}${pick(WORDS)}${i}`;
  const vendor = pick(VENDORS);
  const arch = rnd() < 0.8 ? 'x64' : rnd() < 0.5 ? 'arm64' : 'x86';
  const tags = Array.from({ length: 5 }, tag4);
  const evidence = [];
  for (let k = 0; k < 20; k++) {
    const t = tags[k % 5];
    evidence.push({ tag: t, ulong: ulongOf(t), protected: false, kind: 'pool', routine: ROUTINES[k % ROUTINES.length], module: 'ntoskrnl.exe', callSiteRva: 0x1000 + k * 0x40 + i, functionRva: 0x1000 + (k >> 2) * 0x100, arch, recovery: 'immediate', confidence: 'high' });
  }
  const image = {
    sha256: hex64(`driver-${i}`),
    size: 20000 + Math.floor(rnd() * 2e6),
    format: arch === 'x86' ? 'PE32' : 'PE32+',
    machine: arch === 'x64' ? 0x8664 : arch === 'arm64' ? 0xaa64 : 0x14c,
    arch,
    subsystem: 1,
    timestamp: 1600000000 + i,
    imageBase: '0x140000000',
    fileVersion: `${1 + (i % 9)}.${i % 7}.${i % 100}.${i}`,
    productVersion: `${1 + (i % 9)}.${i % 7}`,
    versionStrings: { CompanyName: vendor, FileDescription: `${vendor.split(' ')[0]} ${pick(WORDS)} ${pick(WORDS)} driver`, ProductName: `${vendor.split(' ')[0]} ${pick(WORDS)} suite`, OriginalFilename: `${name}.sys`, InternalName: name },
    signature: { signer: { cn: vendor, o: vendor, text: `CN=${vendor}, O=${vendor}` }, issuer: { cn: 'Microsoft Windows Hardware Compatibility Publisher', o: 'Microsoft Corporation', text: 'CN=Microsoft Windows Hardware Compatibility Publisher' }, serialNumber: hex64(`serial${i}`).slice(0, 32), digestAlgorithm: 'sha256', signingTime: '2024-05-01T00:00:00.000Z', nested: [] },
    pdb: { path: `d:\\build\\${name}\\x64\\release\\${name}.pdb`, guid: hex64(`g${i}`).slice(0, 32).toUpperCase(), age: 1 },
    importModules: ['ntoskrnl.exe', 'hal.dll', pick(['ndis.sys', 'fltmgr.sys', 'wdfldr.sys', 'storport.sys'])],
    issues: [],
    evidence,
    unresolved: [],
    strings: [
      { kind: 'device', text: `\\Device\\${name}`, offset: 0x2000, encoding: 'utf16' },
      { kind: 'symlink', text: `\\DosDevices\\${name}`, offset: 0x2040, encoding: 'utf16' },
      { kind: 'registry', text: `\\Registry\\Machine\\System\\CurrentControlSet\\Services\\${name}\\Parameters`, offset: 0x2080, encoding: 'utf16' },
      { kind: 'pdb', text: `d:\\build\\${name}\\x64\\release\\${name}.pdb`, offset: 0x3000, encoding: 'ascii' },
      { kind: 'url', text: `https://www.${vendor.split(' ')[0].toLowerCase().replace(/\W/g, '')}.example/support`, offset: 0x3100, encoding: 'ascii' },
    ],
    tagStrings: Array.from({ length: 10 }, tag4),
    stats: { functionsDecoded: 12, callSites: 20, unresolved: 0, wrappers: 0, ms: 3 },
  };
  return { name, json: JSON.stringify(image), tags, sha256: image.sha256 };
}

const work = mkdtempSync(join(tmpdir(), 'pooltag-bench-kb-'));
const reportsDir = join(work, 'reports');
mkdirSync(reportsDir);
const db = join(work, 'kb.db');
const t0 = performance.now();
const drivers = Array.from({ length: COMMON + TAIL }, (_, i) => makeDriver(i));
let bytes = 0;
for (let h = 0; h < HOSTS; h++) {
  const ids = [...Array(COMMON).keys()];
  for (let k = 0; k < PER_HOST_TAIL; k++) ids.push(COMMON + ((h * PER_HOST_TAIL + k * 97) % TAIL));
  const host = `SRV${String(h).padStart(4, '0')}`;
  const files = ids.map((id) => JSON.stringify({ path: `C:\\Windows\\System32\\drivers\\${drivers[id].name}.sys`, size: 1, mtime: '2024-05-01T00:00:00.000Z', sha256: drivers[id].sha256 }));
  const header = JSON.stringify({
    format: 'pooltag-scan-report', schemaVersion: 1, tool: { name: 'pooltag', version: '0.1.0' },
    host: { name: host, platform: 'win32', os: 'Windows Server 2022 Datacenter', release: '10.0.20348', windowsBuild: 20348, wsl: false, arch: 'x64' },
    startedAt: `2026-11-0${1 + (h % 9)}T10:00:00.000Z`, finishedAt: `2026-11-0${1 + (h % 9)}T10:01:00.000Z`,
    options: { roots: ['C:\\Windows\\System32\\drivers'], include: ['**/*.sys'], exclude: [], jobs: 2, maxFileSize: 268435456, timeoutMs: 120000, minStringLength: 4, cache: null, verify: false },
    summary: { files: ids.length, scanned: ids.length, errors: 0, cached: 0, images: ids.length, imagesWithTags: ids.length, distinctTags: 0, bytes: 0, bytesAnalysed: 0, durationMs: 60000 },
  });
  const text = `${header.slice(0, -1)},"files":[${files.join(',')}],"images":[${ids.map((id) => drivers[id].json).join(',')}]}`;
  bytes += text.length;
  writeFileSync(join(reportsDir, `${host}.json`), text);
}
console.log(`generated ${HOSTS} reports (${(bytes / 1e9).toFixed(2)} GB, ${COMMON + TAIL} distinct drivers, ${(COMMON + TAIL) * 20} evidence rows) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const timeRun = (argv) => {
  const t = performance.now();
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { ms: performance.now() - t, r };
};

// pooltag.txt first (so that the index built by the merge holds it).
const modern = resolve(root, '..', 'shared', 'pooltag', 'pooltag-modern.txt');
if (existsSync(modern)) execFileSync(process.execPath, [bin, 'import-pooltag', '--db', db, modern], { stdio: 'ignore' });
else console.log(`note: ${modern} is missing; the base has no pooltag.txt`);

const merge = timeRun([bin, 'merge', '--json', '--db', db, reportsDir]);
if (merge.r.status !== 0) throw new Error(`merge failed: ${merge.r.stderr}`);
const mj = JSON.parse(merge.r.stdout);
const again = timeRun([bin, 'merge', '--json', '--db', db, reportsDir]);
const aj = JSON.parse(again.r.stdout);
const stats = JSON.parse(execFileSync(process.execPath, [bin, 'stats', '--json', '--db', db], { encoding: 'utf8' }));
console.log(`merge of ${HOSTS} reports: ${(merge.ms / 1000).toFixed(1)} s (target < 60 s); base: ${stats.drivers} drivers, ${stats.evidence} evidence rows, ${stats.sightings} sightings, ${stats.pooltagEntries} pooltag.txt entries; ${(statSync(db).size / 1e6).toFixed(0)} MB`);
console.log(`  the same reports again: ${(again.ms / 1000).toFixed(1)} s, ${aj.skipped} skipped, ${aj.merged} merged (idempotent)`);
console.log(`index rebuild (in the merge): ${mj.index.documents} documents, ${mj.index.terms} terms, ${(mj.index.bytes / 1e6).toFixed(1)} MB stored, ${(mj.index.ms / 1000).toFixed(2)} s`);

const common = drivers[7].tags[0];
const tail = drivers[COMMON + 1234].tags[2];
const samples = { node: [], lookupCommon: [], lookupTail: [], lookupPooltag: [], lookupUnknown: [], search: [] };
for (let i = 0; i < reps; i++) {
  samples.node.push(timeRun(['-e', '']).ms);
  samples.lookupCommon.push(timeRun([bin, 'lookup', '--db', db, common]).ms);
  samples.lookupTail.push(timeRun([bin, 'lookup', '--db', db, tail]).ms);
  samples.lookupPooltag.push(timeRun([bin, 'lookup', '--db', db, 'Afd?']).ms);
  samples.lookupUnknown.push(timeRun([bin, 'lookup', '--db', db, '~~~~']).ms);
  samples.search.push(timeRun([bin, 'search', '--db', db, 'vendor:contoso', 'network']).ms);
}
const n = median(samples.node);
const line = (label, xs, target) => {
  const m = median(xs);
  console.log(`${label.padEnd(34)} ${m.toFixed(0).padStart(5)} ms  ${(m / n).toFixed(2)}x node -e ""${target ? ` (target <= ${target}x)` : ''}`);
};
console.log(`node -e ""                         ${n.toFixed(0).padStart(5)} ms`);
line('lookup (tag of a common driver)', samples.lookupCommon, 2);
line('lookup (tag of a long-tail driver)', samples.lookupTail, 2);
line('lookup Afd? (pooltag.txt wildcard)', samples.lookupPooltag, 2);
line('lookup of an unknown tag', samples.lookupUnknown, 2);
line('search vendor:contoso network', samples.search, 3);
rmSync(work, { recursive: true, force: true });
