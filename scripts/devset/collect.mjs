#!/usr/bin/env node
// Builds and rebuilds the real-driver development corpus (see scripts/devset/README.md).
// Files are read and copied, never executed.
//
//   node scripts/devset/collect.mjs harvest-git GITDIR OWNER/NAME [--history] [--match REGEX] [--exclude REGEX] [--carve]
//   node scripts/devset/collect.mjs harvest-npm NAME@VERSION [--carve]
//   node scripts/devset/collect.mjs rebuild        # every file of sources.json, sha256-checked
//   node scripts/devset/collect.mjs provenance     # writes $POOLTAG_DEVSET/PROVENANCE.md
//   node scripts/devset/collect.mjs list           # counts by arch, compiler and origin
//
// harvest-* add the kernel-mode PE files they find to $POOLTAG_DEVSET (default /work/devset)
// and to scripts/devset/sources.json (deduplicated by SHA-256; other places a file was seen
// are kept in `alsoAt`). GITDIR is a bare or normal git directory of the repository (the
// session tool `fetch github:OWNER/NAME` makes one under /work/.mirror; elsewhere
// `git clone --mirror https://github.com/OWNER/NAME`). --history takes every version of
// every matching path in every commit, not only HEAD's.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SOURCES_FILE, compilerOf, devsetDir, loadJson, probePe, sha256 } from '../lib/dev-corpus.mjs';

const DEVSET = devsetDir();
const MIRRORS = process.env.POOLTAG_DEVSET_MIRRORS || '/work/.mirror';
const COUNTED = new Set(['x86', 'x64', 'arm64']);
const MAX_ALSO = 8;

/** Where a driver's source is public. First matching rule wins; `commit: 'same'` = the commit the binary came from. */
const SOURCE_RULES = [
  { repo: /^SoftEtherVPN\/SoftEtherVPN(_Stable)?$/, path: /\/(Neo6?(_Win\d+)?)\//i, source: (o) => ({ public: true, repo: o.repo, commit: o.commit, path: /Neo6/i.test(o.path) ? 'src/Neo6' : 'src/Neo', note: 'built from this repository (Neo/Neo6 NDIS miniport); the binary and source are in the same commit' }) },
  { repo: /^SoftEtherVPN\/SoftEtherVPN(_Stable)?$/, path: /SeLow/i, source: (o) => ({ public: true, repo: o.repo, commit: o.commit, path: 'src/SeLow', note: 'built from this repository (SeLow NDIS protocol driver)' }) },
  { repo: /^SoftEtherVPN\/SoftEtherVPN(_Stable)?$/, path: /pxwfp|wfp/i, source: (o) => ({ public: true, repo: o.repo, commit: o.commit, path: 'src/Wfp', note: 'built from this repository (WFP driver)' }) },
  { repo: /^SoftEtherVPN\/SoftEtherVPN(_Stable)?$/, path: /see/i, source: (o) => ({ public: true, repo: o.repo, commit: o.commit, path: 'src/See', note: 'built from this repository (SEE, a WinPcap-derived packet driver)' }) },
  { repo: /^zerotier\/ZeroTierOne$/, path: /tap-windows/i, source: (o) => ({ public: true, repo: o.repo, commit: o.commit, path: 'windows/TapDriver6', note: 'ZeroTier fork of tap-windows6 (NDIS 6 miniport) in this repository' }) },
  { repo: /^processhacker\/processhacker$/, path: /KProcessHacker/i, source: (o) => ({ public: true, repo: o.repo, commit: o.commit, path: o.path.replace(/\/bin(-signed)?\/.*$/, '').replace(/\/(i386|amd64)\/[^/]*$/, ''), note: 'KProcessHacker, built from this repository; the committed binary may lag the source of the same commit' }) },
  { repo: /^winsiderss\/systeminformer$/, path: /KSystemInformer/i, source: (o) => ({ public: true, repo: o.repo, commit: o.commit, path: 'KSystemInformer', note: 'KSystemInformer, built from this repository; the committed binary may lag the source of the same commit' }) },
  { repo: /^dorssel\/usbipd-win$/, path: /VBoxUSB/i, source: () => ({ public: true, repo: null, commit: null, path: 'VirtualBox src/VBox/HostDrivers/VBoxUSB/win', note: "Oracle VirtualBox's VBoxUSB/VBoxUSBMon (GPL source in VirtualBox's own repository, not on GitHub at a known commit)" }) },
  { repo: /^xmrig\/xmrig$/, path: /WinRing0/i, source: () => ({ public: false, note: 'WinRing0 (OpenLibSys) 1.x; its source circulates but not at a known version' }) },
  { repo: /^bol-van\/zapret-win-bundle$/, path: /WinDivert|Monkey/i, source: () => ({ public: true, repo: 'basil00/WinDivert', commit: null, path: 'sys/windivert.c', note: 'WinDivert 2.2 (version resource); source at the matching release tag' }) },
];

function sourceFor(origin) {
  if (origin.type !== 'git') return { public: false, note: 'no public source known' };
  for (const r of SOURCE_RULES) if (r.repo.test(origin.repo) && r.path.test(origin.path)) return r.source(origin);
  return { public: false, note: 'vendor binary; no public source known' };
}

function loadSources() {
  const s = loadJson(SOURCES_FILE, { format: 'pooltag-devset-sources', version: 1, files: [] });
  return s;
}

function saveSources(s) {
  for (const f of s.files) f.source = sourceFor(f.origin); // the rules may have changed since the file was added
  s.files.sort((a, b) => (a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  s.generated = new Date().toISOString();
  fs.mkdirSync(path.dirname(SOURCES_FILE), { recursive: true });
  fs.writeFileSync(SOURCES_FILE, JSON.stringify(s, null, 1) + '\n');
}

const safeName = (p) => path.basename(p).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_.+-]/g, '_').slice(0, 60) || 'driver';

/** Adds one candidate; returns 'added' | 'dup' | a reason it was refused. */
function addFile(s, byHash, buf, origin, stats) {
  const p = probePe(buf);
  if (!p) return 'not a PE image';
  if (!p.kernel) return 'not kernel mode (no native subsystem, no kernel imports)';
  const hash = sha256(buf);
  const known = byHash.get(hash);
  if (known) {
    known.seen = (known.seen ?? 1) + 1;
    if ((known.alsoAt ??= []).length < MAX_ALSO) known.alsoAt.push(origin);
    return 'dup';
  }
  const counted = COUNTED.has(p.arch);
  const rel = counted ? path.join('drivers', p.arch, `${safeName(origin.path)}-${hash.slice(0, 8)}.sys`) : path.join(p.arch, `${safeName(origin.path)}-${hash.slice(0, 8)}.sys`);
  fs.mkdirSync(path.join(DEVSET, path.dirname(rel)), { recursive: true });
  fs.writeFileSync(path.join(DEVSET, rel), buf);
  const c = compilerOf(p);
  const entry = {
    sha256: hash,
    size: buf.length,
    arch: p.arch,
    counted,
    file: rel.split(path.sep).join('/'),
    name: path.basename(origin.path),
    compiler: c.compiler,
    compilerHow: c.how,
    subsystem: p.subsystem,
    imports: p.imports,
    origin,
    source: sourceFor(origin),
  };
  s.files.push(entry);
  byHash.set(hash, entry);
  stats[p.arch] = (stats[p.arch] ?? 0) + 1;
  return 'added';
}

function git(gitDir, args, opts = {}) {
  return execFileSync('git', ['-C', gitDir, ...args], { maxBuffer: 1 << 30, ...opts });
}

function harvestGit(gitDir, repo, { history, match, exclude, carve: carveIt }) {
  const re = new RegExp(match ?? '\\.sys$', 'i');
  const ex = exclude ? new RegExp(exclude, 'i') : null;
  const blobs = new Map(); // blob -> { commit, path }
  if (history) {
    const out = git(gitDir, ['log', '--all', '--raw', '--no-abbrev', '--no-renames', '--format=C %H', '--diff-filter=AMC'], { encoding: 'utf8' });
    let commit = null;
    for (const line of out.split('\n')) {
      if (line.startsWith('C ')) commit = line.slice(2).trim();
      else if (line.startsWith(':')) {
        const [meta, p] = line.split('\t');
        const blob = meta.split(' ')[3];
        // git log lists newest first: the last commit seen is the one that first added the
        // blob (its build commit; a later move or copy would pair it with newer source).
        if (re.test(p) && !ex?.test(p)) blobs.set(blob, { commit, path: p });
      }
    }
  } else {
    const commit = git(gitDir, ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    for (const line of git(gitDir, ['ls-tree', '-r', 'HEAD'], { encoding: 'utf8' }).split('\n')) {
      const m = /^\d+ blob ([0-9a-f]{40})\t(.*)$/.exec(line);
      if (m && re.test(m[2]) && !ex?.test(m[2]) && !blobs.has(m[1])) blobs.set(m[1], { commit, path: m[2] });
    }
  }
  const s = loadSources();
  const byHash = new Map(s.files.map((f) => [f.sha256, f]));
  const stats = {};
  const refused = {};
  let dups = 0;
  for (const [blob, where] of blobs) {
    let buf;
    try {
      buf = git(gitDir, ['cat-file', 'blob', blob]);
    } catch {
      refused['blob not in the mirror'] = (refused['blob not in the mirror'] ?? 0) + 1;
      continue;
    }
    const origin = { type: 'git', repo, commit: where.commit, path: where.path, fetch: `github:${repo}` };
    const pieces = carveIt && !/\.sys$/i.test(where.path)
      ? carve(buf).filter((c) => c.probe.kernel).map((c) => ({
          buf: Buffer.from(buf.subarray(c.offset, c.offset + c.length)),
          origin: { ...origin, path: `${where.path}#${c.offset}`, carved: { from: where.path, offset: c.offset, length: c.length, how: CARVE_HOW } },
        }))
      : [{ buf, origin }];
    for (const piece of pieces) {
      const r = addFile(s, byHash, piece.buf, piece.origin, stats);
      if (r === 'dup') dups++;
      else if (r !== 'added') refused[r] = (refused[r] ?? 0) + 1;
    }
  }
  saveSources(s);
  console.log(`${repo}: ${blobs.size} distinct blobs matching ${re}; added ${JSON.stringify(stats)}, ${dups} already known, refused ${JSON.stringify(refused)}`);
}

const CARVE_HOW = "embedded PE found by its MZ/PE headers; length = end of the last section's raw data (+ the certificate table when it follows)";

/** PE images embedded in a file (resources of an installer, a DLL carrying its driver). */
function carve(buf) {
  const out = [];
  for (let o = buf.indexOf('MZ', 1); o !== -1; o = buf.indexOf('MZ', o + 2)) {
    const p = probePe(buf, o);
    if (!p) continue;
    let end = p.rawEnd;
    if (p.certEnd && p.certEnd > end && p.certEnd - end < 64 * 1024) end = p.certEnd; // the signature follows the image
    if (o + end > buf.length || end < 512) continue;
    out.push({ offset: o, length: end, probe: p });
  }
  return out;
}

function npmPack(spec, dir) {
  const r = spawnSync('npm', ['pack', '--silent', spec], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm pack ${spec} failed: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`);
  const tgz = path.join(dir, r.stdout.trim().split('\n').pop());
  const x = path.join(dir, 'x');
  fs.mkdirSync(x, { recursive: true });
  execFileSync('tar', ['xzf', tgz, '-C', x]);
  return x;
}

function* walk(d) {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

function harvestNpm(spec, { carve: doCarve }) {
  const at = spec.lastIndexOf('@');
  const [name, version] = at > 0 ? [spec.slice(0, at), spec.slice(at + 1)] : [spec, null];
  if (!version) throw new Error('give NAME@VERSION (an exact version, so that the provenance can be rebuilt)');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pooltag-devset-npm-'));
  try {
    const x = npmPack(spec, tmp);
    const s = loadSources();
    const byHash = new Map(s.files.map((f) => [f.sha256, f]));
    const stats = {};
    let dups = 0;
    for (const f of walk(x)) {
      const rel = path.relative(x, f).split(path.sep).join('/');
      const buf = fs.readFileSync(f);
      if (/\.sys$/i.test(f)) {
        if (addFile(s, byHash, buf, { type: 'npm', package: name, version, path: rel }, stats) === 'dup') dups++;
      }
      if (doCarve && /\.(exe|dll|node|bin|cab)$/i.test(f)) {
        for (const c of carve(buf)) {
          if (!c.probe.kernel) continue;
          const piece = buf.subarray(c.offset, c.offset + c.length);
          const origin = {
            type: 'npm', package: name, version, path: `${rel}#${c.offset}`,
            carved: { from: rel, offset: c.offset, length: c.length, how: CARVE_HOW },
          };
          if (addFile(s, byHash, Buffer.from(piece), origin, stats) === 'dup') dups++;
        }
      }
    }
    saveSources(s);
    console.log(`${spec}: added ${JSON.stringify(stats)}, ${dups} already known`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function rebuild() {
  const s = loadSources();
  const packs = new Map();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pooltag-devset-rebuild-'));
  let ok = 0;
  const failed = [];
  try {
    for (const f of s.files) {
      const dest = path.join(DEVSET, f.file);
      if (fs.existsSync(dest) && sha256(fs.readFileSync(dest)) === f.sha256) {
        ok++;
        continue;
      }
      let buf = null;
      for (const o of [f.origin, ...(f.alsoAt ?? [])]) {
        try {
          if (o.type === 'git') {
            const gitDir = path.join(MIRRORS, o.repo.replace('/', '+'), 'repo');
            const file = git(fs.existsSync(gitDir) ? gitDir : path.join(MIRRORS, o.repo.replace('/', '+')), ['cat-file', 'blob', `${o.commit}:${o.carved ? o.carved.from : o.path}`]);
            buf = o.carved ? Buffer.from(file.subarray(o.carved.offset, o.carved.offset + o.carved.length)) : file;
          } else if (o.type === 'npm') {
            const spec = `${o.package}@${o.version}`;
            if (!packs.has(spec)) {
              const d = path.join(tmp, String(packs.size));
              fs.mkdirSync(d);
              packs.set(spec, npmPack(spec, d));
            }
            const file = fs.readFileSync(path.join(packs.get(spec), o.carved ? o.carved.from : o.path));
            buf = o.carved ? Buffer.from(file.subarray(o.carved.offset, o.carved.offset + o.carved.length)) : file;
          }
        } catch {
          buf = null;
        }
        if (buf && sha256(buf) === f.sha256) break;
        buf = null;
      }
      if (!buf) {
        failed.push(`${f.file} (${f.origin.type === 'git' ? `fetch ${f.origin.fetch} first` : `${f.origin.package}@${f.origin.version}`})`);
        continue;
      }
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, buf);
      ok++;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`rebuild: ${ok}/${s.files.length} files in ${DEVSET}`);
  if (failed.length) {
    console.log(`${failed.length} could not be rebuilt (mirror missing or blob absent):`);
    for (const x of failed.slice(0, 30)) console.log(`  ${x}`);
    process.exitCode = 2;
  }
}

function summary(s) {
  const by = (k) => s.files.reduce((m, f) => ((m[k(f)] = (m[k(f)] ?? 0) + 1), m), {});
  return {
    total: s.files.length,
    counted: s.files.filter((f) => f.counted).length,
    arch: by((f) => f.arch),
    compiler: by((f) => `${f.arch}/${f.compiler}`),
    origin: by((f) => (f.origin.type === 'git' ? f.origin.repo : `npm:${f.origin.package}`)),
    publicSource: s.files.filter((f) => f.source.public).length,
  };
}

function provenance() {
  const s = loadSources();
  const sum = summary(s);
  const lines = [
    '# Development corpus: provenance',
    '',
    `Generated by \`scripts/devset/collect.mjs provenance\` from the repository's \`scripts/devset/sources.json\` (${s.generated}).`,
    'Every file here is a real Windows kernel-mode driver taken from a public repository or npm package. They are only read by',
    "pooltag's checks and benchmarks: never load, run or redistribute them.",
    '',
    `- files: ${sum.total} (${sum.counted} counted: x86/x64/arm64; others, e.g. IA64, are kept apart and not counted)`,
    `- by arch: ${Object.entries(sum.arch).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `- by arch/compiler: ${Object.entries(sum.compiler).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `- by origin: ${Object.entries(sum.origin).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `- with public source: ${sum.publicSource}`,
    '',
    'Compiler: `msvc` when a Rich header is present (only Microsoft\'s linker writes one); `gcc` when there is none and the linker',
    'version is 2.x (GNU ld); `clang` otherwise (lld-link, or an MSVC image whose Rich header was stripped).',
    '',
    '| file | arch | compiler | size | sha256 | origin | public source |',
    '| --- | --- | --- | ---: | --- | --- | --- |',
  ];
  for (const f of s.files) {
    const o = f.origin;
    const where = o.type === 'git' ? `${o.repo}@${o.commit.slice(0, 12)}:${o.path}` : `npm ${o.package}@${o.version}:${o.carved ? `${o.carved.from} (carved at ${o.carved.offset}, ${o.carved.length} bytes)` : o.path}`;
    const src = f.source.public ? `${f.source.repo}${f.source.commit ? `@${f.source.commit.slice(0, 12)}` : ''} ${f.source.path ?? ''}` : 'no';
    lines.push(`| ${f.file} | ${f.arch} | ${f.compiler} | ${f.size} | ${f.sha256} | ${where}${f.seen > 1 ? ` (+${f.seen - 1} more copies)` : ''} | ${src} |`);
  }
  fs.mkdirSync(DEVSET, { recursive: true });
  fs.writeFileSync(path.join(DEVSET, 'PROVENANCE.md'), lines.join('\n') + '\n');
  console.log(`wrote ${path.join(DEVSET, 'PROVENANCE.md')} (${s.files.length} files)`);
}

const [cmd, ...rest] = process.argv.slice(2);
const flag = (name) => rest.includes(name);
const opt = (name) => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};
try {
  if (cmd === 'harvest-git') {
    const [gitDir, repo] = rest;
    if (!gitDir || !repo || !/^[^/]+\/[^/]+$/.test(repo)) throw new Error('usage: harvest-git GITDIR OWNER/NAME [--history] [--match REGEX] [--exclude REGEX]');
    harvestGit(gitDir, repo, { history: flag('--history'), match: opt('--match'), exclude: opt('--exclude'), carve: flag('--carve') });
  } else if (cmd === 'harvest-npm') {
    if (!rest[0]) throw new Error('usage: harvest-npm NAME@VERSION [--carve]');
    harvestNpm(rest[0], { carve: flag('--carve') });
  } else if (cmd === 'rebuild') rebuild();
  else if (cmd === 'provenance') provenance();
  else if (cmd === 'list') console.log(JSON.stringify(summary(loadSources()), null, 2));
  else {
    console.error('usage: collect.mjs harvest-git GITDIR OWNER/NAME [--history] | harvest-npm NAME@VERSION [--carve] | rebuild | provenance | list');
    process.exitCode = 1;
  }
} catch (e) {
  console.error(`collect: ${e.message}`);
  process.exitCode = 1;
}
