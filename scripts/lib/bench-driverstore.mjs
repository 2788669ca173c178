// bench:scan's DriverStore mode (see the header of scripts/bench-scan.mjs).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { median } from './dev-corpus.mjs';

const ARCH_DIR = { x64: 'amd64', x86: 'x86', arm64: 'arm64' };

/** Copies the corpus into dir until there are at least minFiles files; returns their paths and total bytes. */
export function makeDriverStore(corpus, dir, minFiles) {
  const bufs = corpus.files.map((f) => ({ f, buf: fs.readFileSync(f.path) }));
  const rounds = Math.ceil(minFiles / bufs.length);
  if (rounds > 256) throw new Error(`${minFiles} files would need ${rounds} copies of each driver; one appended byte makes at most 256 distinct`);
  const files = [];
  let bytes = 0;
  for (let k = 0; k < rounds; k++) {
    for (const { f, buf } of bufs) {
      const name = path.basename(f.path).replace(/-[0-9a-f]{8}\.sys$/i, '').toLowerCase();
      const pkg = path.join(dir, 'FileRepository', `${name}.inf_${ARCH_DIR[f.arch] ?? f.arch}_${path.basename(f.path).slice(-12, -4)}${k.toString(16).padStart(2, '0')}`);
      fs.mkdirSync(pkg, { recursive: true });
      const p = path.join(pkg, `${name}.sys`);
      const copy = Buffer.allocUnsafe(buf.length + 1);
      buf.copy(copy);
      copy[buf.length] = k; // one byte: every copy has its own SHA-256
      fs.writeFileSync(p, copy);
      files.push(p);
      bytes += copy.length;
    }
  }
  return { files, bytes };
}

function stringsPass(files, extra) {
  for (let i = 0; i < files.length; i += 500) {
    const r = spawnSync('strings', ['-a', '-n', '4', ...extra, ...files.slice(i, i + 500)], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.error || r.status !== 0) throw new Error(`strings failed (${r.error?.message ?? `exit ${r.status}`}); is binutils installed?`);
  }
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

export async function driverStoreBench({ corpus, reps, minFiles, root, against = null, scaling = false }) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pooltag-bench-driverstore-'));
  try {
    const store = path.join(work, 'DriverStore');
    const t0 = now();
    const { files, bytes } = makeDriverStore(corpus, store, minFiles);
    const mb = bytes / 1e6;
    for (const f of files) fs.readFileSync(f); // warm the page cache (untimed)
    console.log(`bench-scan (DriverStore mode): ${files.length} files, ${mb.toFixed(1)} MB in ${store} ` +
      `(${corpus.files.length} drivers of ${corpus.dir}, each copy + one byte; made in ${((now() - t0) / 1000).toFixed(1)} s); ` +
      `node ${process.version}; ${reps} rounds, alternating, medians`);
    if (against) console.log(`  baseline build (--against): ${against}`);
    const preload = pathToFileURL(path.join(root, 'scripts', 'lib', 'rss-at-exit.mjs')).href;
    let lastStatus = null;
    /** One cold scan by the build at `buildRoot` (its bin/pooltag), in a fresh process. */
    const scanOnce = (buildRoot, i, tag, jobs = 2) => {
      const rssFile = path.join(work, `rss-${tag}-${i}.json`);
      const out = path.join(work, `report-${tag}-${i}.json`);
      const s0 = now();
      const r = spawnSync(process.execPath, ['--import', preload, path.join(buildRoot, 'bin', 'pooltag'), 'scan', '--no-cache', '--jobs', String(jobs), '--quiet', '--out', out, store], {
        env: { ...process.env, POOLTAG_BENCH_RSS_FILE: rssFile, NO_COLOR: '1' },
        stdio: ['ignore', 'ignore', 'pipe'],
        encoding: 'utf8',
      });
      const ms = now() - s0;
      if (r.status !== 0 && r.status !== 2) throw new Error(`${buildRoot}/bin/pooltag scan exited ${r.status}: ${String(r.stderr).trim().split('\n').slice(-3).join(' | ')}`);
      if (tag === 'head') lastStatus = r.status;
      const ru = JSON.parse(fs.readFileSync(rssFile, 'utf8'));
      fs.rmSync(out, { force: true });
      return { ms, rssMB: ru.maxRSSKB / 1024, cpuMs: ru.cpuMs };
    };
    const scans = [];
    const bases = [];
    const strs = [];
    const ones = [];
    for (let i = 0; i < reps; i++) {
      if (against) bases.push(scanOnce(against, i, 'base'));
      if (scaling) ones.push(scanOnce(root, i, 'one', 1));
      scans.push(scanOnce(root, i, 'head'));
      const g0 = now();
      stringsPass(files, []);
      stringsPass(files, ['-el']);
      strs.push(now() - g0);
      const rss = scans[i].rssMB.toFixed(0);
      const cpuOf = (x) => ` (CPU ${(x.cpuMs / 1000).toFixed(1)} s)`;
      console.log(`  round ${i + 1}: ${against ? `baseline scan ${(bases[i].ms / 1000).toFixed(2)} s${cpuOf(bases[i])}, ` : ''}${scaling ? `scan --jobs 1 ${(ones[i].ms / 1000).toFixed(2)} s${cpuOf(ones[i])}, ` : ''}scan ${(scans[i].ms / 1000).toFixed(2)} s${cpuOf(scans[i])} (peak RSS ${rss} MB), strings ${(strs[i] / 1000).toFixed(2)} s`);
    }
    const c = median(scans.map((x) => x.ms));
    const b = median(strs);
    const rss = Math.max(...scans.map((x) => x.rssMB));
    const cpu = median(scans.map((x) => x.cpuMs));
    console.log(`GNU strings -n 4 + -el        : ${(b / 1000).toFixed(2)} s  (${(mb / (b / 1000)).toFixed(0)} MB/s, ${(files.length / (b / 1000)).toFixed(0)} files/s)`);
    if (against) {
      const a = median(bases.map((x) => x.ms));
      console.log(`baseline scan (--against)     : ${(a / 1000).toFixed(2)} s  (${(b / a).toFixed(2)}x the speed of strings; CPU ${(median(bases.map((x) => x.cpuMs)) / 1000).toFixed(1)} s; peak RSS ${Math.max(...bases.map((x) => x.rssMB)).toFixed(0)} MB)`);
    }
    console.log(`pooltag scan, 2 workers, cold : ${(c / 1000).toFixed(2)} s  (${(mb / (c / 1000)).toFixed(1)} MB/s, ${(files.length / (c / 1000)).toFixed(0)} files/s, CPU ${(cpu / 1000).toFixed(1)} s; fresh process, --no-cache${lastStatus === 2 ? '; some files unreadable (exit 2)' : ''})`);
    console.log(`ratio                         : ${(b / c).toFixed(2)}x the speed of the two strings passes (target >= 3x, goal 5x)`);
    if (against) console.log(`speed-up over the baseline    : ${(median(bases.map((x) => x.ms)) / c).toFixed(2)}x`);
    if (scaling) {
      const one = median(ones.map((x) => x.ms));
      console.log(`pooltag scan, 1 worker, cold  : ${(one / 1000).toFixed(2)} s (CPU ${(median(ones.map((x) => x.cpuMs)) / 1000).toFixed(1)} s)`);
      console.log(`scaling                       : --jobs 2 is ${(one / c).toFixed(2)}x --jobs 1 (target >= 1.6x)`);
    }
    console.log(`peak RSS, workers included    : ${rss.toFixed(0)} MB (target < 500 MB)`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
