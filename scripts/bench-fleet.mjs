#!/usr/bin/env node
/**
 * `pooltag merge` at fleet scale (issue 20, item 2): synthetic host reports as `scan --known`
 * writes them (.json.gz, schema 2), merged from one folder into a base that already holds the
 * fleet's common images. Prints total time, reports per second, base size on disk and the
 * merge's peak RSS, from one run.
 *
 *   node scripts/bench-fleet.mjs [--hosts 10000] [--dir DIR] [--keep]
 *
 * The fleet: 6 Windows builds, each with 500 System32\drivers files (a third of them differ
 * between builds), 6,000 DriverStore packages of which a host has a contiguous run of 0-2,500
 * (500-3,000 files per host), and 1-5 images new to the base per host (reported in full,
 * with evidence), drawn from a pool of hosts/4 images: hosts scanned with the same night's
 * known list send the same new driver, the first merged adds it and the others are sightings. The seed base holds every shared image (merged from one full report per
 * build and one of the DriverStore). Reports are gzipped at level 1 to generate them quickly
 * (pooltag scan writes level 6: a little smaller, as fast to unpack).
 *
 * Needs `npm run build`. 10,000 hosts: about 500 MB of reports, a few minutes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/pooltag');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const HOSTS = Number(arg('--hosts', '10000'));
const dir = arg('--dir', join(tmpdir(), `pooltag-fleet-${HOSTS}`));
const keep = process.argv.includes('--keep');
const BUILDS = 6;
const SYSTEM = 500;
const STORE = 6000;

const sha = (s) => createHash('sha256').update(s).digest('hex');
// deterministic pseudo-random numbers
let seed = 20;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

const systemImage = (b, j) => (j % 3 === 0 ? sha(`sys-${j}-build-${b}`) : sha(`sys-${j}`));
const storeImage = (k) => sha(`store-${k}`);
const systemPath = (j) => `C:\\Windows\\System32\\drivers\\drv${j}.sys`;
const storePath = (k) => `C:\\Windows\\System32\\DriverStore\\FileRepository\\pkg${k}.inf_amd64_${sha(`pkg${k}`).slice(0, 16)}\\pkg${k}.sys`;

function imageRecord(hash, n) {
  const evidence = [];
  for (let e = 0; e < 6; e++) {
    const ulong = (0x41414141 + ((n * 7 + e * 131) % 0x1a1a1a)) >>> 0;
    evidence.push({ ulong: `0x${ulong.toString(16)}`, routine: 'ExAllocatePool2', module: 'ntoskrnl.exe', callSiteRva: 0x1000 + e * 0x40, functionRva: 0x1000, kind: 'direct', arch: 'x64', recovery: 'constant', confidence: 'high' });
  }
  return {
    sha256: hash, size: 20000 + (n % 50000), format: 'PE32+', machine: 0x8664, arch: 'x64', subsystem: 1, timestamp: 1600000000 + n, imageBase: '0x140000000',
    fileVersion: `10.0.${n % 30000}.1`, productVersion: '10.0', versionStrings: { CompanyName: `Vendor ${n % 300}`, FileDescription: `Driver ${n}`, OriginalFilename: `drv${n}.sys` },
    signature: null, pdb: null, importModules: ['ntoskrnl.exe'], issues: [], evidence, unresolved: [], strings: [], tagStrings: [],
    stats: {},
  };
}

function report(hostName, startedAt, files, images) {
  return {
    format: 'pooltag-scan-report', schemaVersion: 2, tool: { name: 'pooltag', version: '0.2.0' },
    host: { name: hostName, platform: 'win32', os: 'Windows 11 Enterprise', release: '10.0.22631', windowsBuild: 22631, wsl: false, arch: 'x64' },
    startedAt, finishedAt: startedAt,
    options: { roots: ['C:\\Windows\\System32\\drivers', 'C:\\Windows\\System32\\DriverStore'], include: [], exclude: [], jobs: 2, maxFileSize: 268435456, timeoutMs: 120000, minStringLength: 4, cache: null, verify: false },
    summary: { files: files.length, scanned: files.length, errors: 0, cached: 0, known: files.filter((f) => f.known).length, images: images.length, imagesWithTags: images.length, distinctTags: 0, bytes: 0, bytesAnalysed: 0, durationMs: 1000 },
    files, images,
  };
}
const file = (path, hash, known) => ({ path, size: 20000, mtime: '2026-01-01T00:00:00.000Z', sha256: hash, ...(known ? { known: true } : {}) });

function generate() {
  const seedDir = join(dir, 'seed');
  const fleetDir = join(dir, 'fleet');
  if (existsSync(join(dir, 'complete'))) return { seedDir, fleetDir };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(seedDir, { recursive: true });
  mkdirSync(fleetDir, { recursive: true });
  let n = 0;
  for (let b = 0; b < BUILDS; b++) {
    const files = [];
    const images = new Map();
    for (let j = 0; j < SYSTEM; j++) {
      const h = systemImage(b, j);
      files.push(file(systemPath(j), h, false));
      images.set(h, imageRecord(h, n++));
    }
    writeFileSync(join(seedDir, `build-${b}.json.gz`), gzipSync(JSON.stringify(report(`SEED-BUILD-${b}`, '2026-01-01T00:00:00.000Z', files, [...images.values()]))));
  }
  const files = [];
  const images = [];
  for (let k = 0; k < STORE; k++) {
    files.push(file(storePath(k), storeImage(k), false));
    images.push(imageRecord(storeImage(k), n++));
  }
  writeFileSync(join(seedDir, 'driverstore.json.gz'), gzipSync(JSON.stringify(report('SEED-STORE', '2026-01-01T00:00:00.000Z', files, images))));

  const t0 = performance.now();
  let bytes = 0;
  for (let h = 0; h < HOSTS; h++) {
    const b = h % BUILDS;
    const files = [];
    for (let j = 0; j < SYSTEM; j++) files.push(file(systemPath(j), systemImage(b, j), true));
    const count = Math.floor(rnd() * 2501);
    const start = Math.floor(rnd() * (STORE - count));
    for (let k = start; k < start + count; k++) files.push(file(storePath(k), storeImage(k), true));
    const images = [];
    const fresh = 1 + Math.floor(rnd() * 5);
    const pool = Math.max(50, Math.floor(HOSTS / 4));
    const picked = new Set();
    for (let x = 0; x < fresh; x++) picked.add(Math.floor(rnd() * pool));
    for (const x of picked) {
      const hh = sha(`fleet-new-${x}`);
      files.push(file(`C:\\Program Files\\Vendor${x % 977}\\agent${x}.sys`, hh, false));
      images.push(imageRecord(hh, 1_000_000 + x));
    }
    const day = String(1 + (h % 28)).padStart(2, '0');
    const gz = gzipSync(JSON.stringify(report(`HOST-${String(h).padStart(6, '0')}`, `2026-02-${day}T08:00:00.000Z`, files, images)), { level: 1 });
    bytes += gz.length;
    writeFileSync(join(fleetDir, `HOST-${String(h).padStart(6, '0')}.json.gz`), gz);
    if (h % 1000 === 999) process.stderr.write(`\rgenerated ${h + 1}/${HOSTS} reports (${(bytes / 1048576).toFixed(0)} MB, ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  process.stderr.write('\n');
  writeFileSync(join(dir, 'complete'), '');
  return { seedDir, fleetDir };
}

/** Runs pooltag with these arguments, measuring wall time and peak RSS (VmHWM, read until it exits). */
async function measured(args) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  let peak = 0;
  let cpu = 0;
  let mainCpu = 0;
  const poll = setInterval(() => {
    try {
      // utime + stime (fields 14 and 15, in clock ticks of 1/100 s): the CPU the merge had, whatever else runs
      const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      cpu = (Number(f[11]) + Number(f[12])) / 100;
      // the merging thread alone (the reading threads run beside it)
      const t = readFileSync(`/proc/${child.pid}/task/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      mainCpu = (Number(t[11]) + Number(t[12])) / 100;
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      /* gone */
    }
  }, 50);
  const code = await new Promise((res) => child.on('exit', res));
  clearInterval(poll);
  return { code, out, ms: performance.now() - t0, peak, cpu, mainCpu };
}

const { seedDir, fleetDir } = generate();
const reports = readdirSync(fleetDir).length;
const reportBytes = readdirSync(fleetDir).reduce((s, f) => s + statSync(join(fleetDir, f)).size, 0);
const db = join(dir, 'fleet.db');
for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
const seeded = spawnSync(process.execPath, [bin, 'merge', '--db', db, seedDir], { encoding: 'utf8' });
if (seeded.status !== 0) throw new Error(seeded.stderr);
const seedSize = statSync(db).size;
const m = await measured(['merge', '--json', '--db', db, fleetDir]);
if (m.code !== 0) throw new Error(`merge exited ${m.code}`);
const j = JSON.parse(m.out);
const size = statSync(db).size + (existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0);
const inv = spawnSync('sqlite3', [db, 'SELECT sum(entries), sum(length(data)) FROM host_inventory'], { encoding: 'utf8' }).stdout?.trim();
const secs = m.ms / 1000;
const merge = j.seconds;
console.log(`fleet: ${reports} host reports, ${(reportBytes / 1048576).toFixed(1)} MB gzipped (${(reportBytes / reports / 1024).toFixed(1)} KiB each)`);
console.log(`merge: ${secs.toFixed(1)} s in all (${merge.toFixed(1)} s merging, ${j.index ? (j.index.ms / 1000).toFixed(1) : '?'} s rebuilding the search index), ${(reports / merge).toFixed(0)} reports/s merging, ${(reports / secs).toFixed(0)} reports/s in all`);
console.log(`       ${j.merged} merged, ${j.newDrivers} new drivers, ${j.failed} failed`);
console.log(`base:  ${(size / 1048576).toFixed(1)} MB on disk (${(seedSize / 1048576).toFixed(1)} MB before the fleet), ${((size - seedSize) / reports).toFixed(0)} bytes per host`);
if (inv) console.log(`       inventory: ${inv.split('|')[0]} entries in ${(Number(inv.split('|')[1]) / 1048576).toFixed(1)} MB of blobs`);
console.log(`peak RSS of the merge: ${(m.peak / 1048576).toFixed(0)} MB; CPU time ${m.cpu.toFixed(1)} s (${((1000 * m.cpu) / reports).toFixed(1)} ms per report), of which the merging thread ${m.mainCpu.toFixed(1)} s (${((1000 * m.mainCpu) / reports).toFixed(1)} ms per report; the load average was ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]} at the end)`);
if (reports < 100000) {
  const f = 100000 / reports;
  console.log(`extrapolated to 100,000 hosts (linear): ${((merge * f) / 60).toFixed(1)} min merging at this wall-clock rate, ${((m.cpu * f) / 60).toFixed(1)} min of CPU + the index rebuild, base ${((seedSize + (size - seedSize) * f) / 1048576 / 1024).toFixed(2)} GB`);
}
if (!keep) rmSync(dir, { recursive: true, force: true });
