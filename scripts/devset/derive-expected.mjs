#!/usr/bin/env node
// Derives scripts/devset/expected.json, the (tag, routine) pairs each corpus driver's SOURCE
// passes, by reading the source at the version the binary was built from (never from the
// binary: the point is to judge the engine against something independent of it).
//
//   node scripts/devset/derive-expected.mjs      # needs the git mirrors named in FAMILIES
//
// For each family below: the driver files of sources.json it covers, the repository and
// folders of its source, and how the matching version is found (the commit that added the
// binary, or the release tag named by the binary's version resource). In that tree, every
// .c/.cpp file is read with comments and `#if 0` blocks removed, `#define NAME value` is
// resolved (a chain of names down to a multi-character literal or a number), and:
//   - a call of a routine of data/routines.json whose tag argument (tagArg) resolves to a
//     constant gives (tag of that constant, routine);
//   - a call of a routine that takes a parameters struct (tagStruct) gives the constant of
//     the nearest `.PoolTag = X;` above it in the same function (at most 60 lines up);
//   - a call of an untagged routine with a shared tag (ExAllocatePool -> `None`) gives
//     (shared tag, routine).
// Calls whose tag is a variable or parameter (wrappers) are left out: their callers' literals
// are found at the wrapper's own call of the routine only when the wrapper passes a constant.
// Routine calls written inside macros of header files are not counted (a macro may never be
// expanded); the notes say where that leaves pairs out. C literal 'SETH' is the ULONG
// 0x53455448, bytes 48 54 45 53 in memory, displayed HTES (src/tag/tag.ts parseTag literal).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { EXPECTED_FILE, REPO_ROOT, SOURCES_FILE, devsetDir, loadJson } from '../lib/dev-corpus.mjs';

const MIRRORS = process.env.POOLTAG_DEVSET_MIRRORS || '/work/.mirror';
const { parseTag, Tag, readPe } = await import(pathToFileURL(path.join(REPO_ROOT, 'dist', 'src', 'index.js')).href);
const routines = loadJson(path.join(REPO_ROOT, 'data', 'routines.json')).routines;

const sameCommit = (f) => f.origin.commit;
const FAMILIES = [
  { id: 'softether-neo6', test: (f) => /^SoftEtherVPN\//.test(f.origin.repo) && /^(Neo6_|vpn_driver6)/i.test(f.name), repo: (f) => f.origin.repo, version: sameCommit, dirs: ['src/Neo6'] },
  { id: 'softether-neo', test: (f) => /^SoftEtherVPN\//.test(f.origin.repo) && /^(Neo_|vpn_driver(_x64)?\.sys$)/i.test(f.name), repo: (f) => f.origin.repo, version: sameCommit, dirs: ['src/Neo'] },
  {
    id: 'softether-selow', test: (f) => /^SoftEtherVPN\//.test(f.origin.repo) && /^SeLow_/i.test(f.name), repo: (f) => f.origin.repo, version: sameCommit, dirs: ['src/SeLow'],
    // SeLow.c calls IoCreateDeviceSecure and SeLow.vcproj links wdmsec.lib statically: that
    // library's own allocations are in the binary but not in this source. These five were
    // first seen in the engine's output and attributed by hand (the library's source is not
    // public), so they are "uncertain": neither expected nor invented.
    library: ['SeAl', 'SeSd', 'SeTs', 'PpRb', 'PpUc'].map((tag) => ({ tag, routine: 'ExAllocatePoolWithTag', at: 'wdmsec.lib (IoCreateDeviceSecure), linked statically by SeLow.vcproj' })),
  },
  { id: 'softether-see', test: (f) => /^SoftEtherVPN\//.test(f.origin.repo) && /^see(_x64|_x86)?\.sys$/i.test(f.name), repo: (f) => f.origin.repo, version: sameCommit, dirs: ['src/See'],
    exclude: { x64: ['src/See/jitter.c'], arm64: ['src/See/jitter.c'] },
    note: { x64: 'src/See/jitter.c left out: its BPF JIT (BPF_jitter) is only called under #ifdef __NPF_x86__ (Packet.c), so the linker drops it outside x86', arm64: 'src/See/jitter.c left out: BPF_jitter is only called under #ifdef __NPF_x86__' } },
  { id: 'softether-wfp', test: (f) => /^SoftEtherVPN\//.test(f.origin.repo) && /^pxwfp_/i.test(f.name), repo: (f) => f.origin.repo, version: sameCommit, dirs: ['src/Wfp'] },
  { id: 'zerotier-tap', test: (f) => f.origin.repo === 'zerotier/ZeroTierOne' && /zttap/i.test(f.name), repo: () => 'zerotier/ZeroTierOne', version: sameCommit, dirs: ['windows/TapDriver6'] },
  {
    id: 'windivert',
    test: (f) => f.origin.repo === 'bol-van/zapret-win-bundle' && /WinDivert|Monkey/i.test(f.name),
    repo: () => 'basil00/WinDivert',
    version: (f, img) => {
      // The fixed file version says 2.0.0.0 in every 2.x build; the FileVersion string says
      // "2.2": every release tag v2.2.* is derived and must agree.
      const m = /^(\d+)\.(\d+)$/.exec(String(img.version?.strings?.FileVersion ?? '').trim());
      return m ? git('basil00/WinDivert', ['tag', '-l', `v${m[1]}.${m[2]}.*`]).split('\n').filter(Boolean) : null;
    },
    dirs: ['sys'],
  },
];

function gitDir(repo) {
  const d = path.join(MIRRORS, repo.replace('/', '+'), 'repo');
  return fs.existsSync(d) ? d : path.join(MIRRORS, repo.replace('/', '+'));
}
const git = (repo, args) => execFileSync('git', ['-C', gitDir(repo), ...args], { encoding: 'latin1', maxBuffer: 1 << 28 });

/** Macros that say which architecture is being compiled (the rest of the conditions keep both branches). */
const ARCH_MACROS = {
  x86: ['_X86_', '_M_IX86', 'i386', '_i386_', '__NPF_x86__'],
  x64: ['_AMD64_', '_M_X64', '_M_AMD64', '_WIN64', '__NPF_AMD64__'],
  arm64: ['_ARM64_', '_M_ARM64', '_WIN64'],
};
const ALL_ARCH_MACROS = new Set(Object.values(ARCH_MACROS).flat());

/** Which branch an #if line takes for arch: true, false, or null (unknown: keep). */
function condition(t, arch) {
  let m = /^#\s*if\s+0\b/.exec(t);
  if (m) return false;
  m = /^#\s*(ifdef|ifndef)\s+(\w+)/.exec(t) ?? /^#\s*if\s+(!?)\s*defined\s*\(?\s*(\w+)\s*\)?\s*$/.exec(t);
  if (!m || !ALL_ARCH_MACROS.has(m[2])) return null;
  const on = ARCH_MACROS[arch].includes(m[2]);
  return m[1] === 'ifndef' || m[1] === '!' ? !on : on;
}

/**
 * Comments, string literals' contents, `#if 0` blocks and the branches of architecture
 * conditions not taken for `arch` removed; line count kept.
 */
function clean(src, arch) {
  let s = src.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' ')).replace(/\/\/[^\n]*/g, '');
  s = s.replace(/"(?:[^"\\\n]|\\.)*"/g, '""');
  const out = [];
  const stack = []; // per open #if: true (live), false (dead), null (unknown, live)
  const live = () => stack.every((x) => x !== false);
  for (const line of s.split('\n')) {
    const t = line.trim();
    if (/^#\s*if/.test(t)) {
      stack.push(condition(t, arch));
      out.push('');
      continue;
    }
    if (/^#\s*(else|elif)\b/.test(t) && stack.length) {
      const top = stack[stack.length - 1];
      stack[stack.length - 1] = top === null ? null : /^#\s*elif/.test(t) ? null : !top;
      out.push('');
      continue;
    }
    if (/^#\s*endif/.test(t)) {
      stack.pop();
      out.push('');
      continue;
    }
    out.push(live() ? line : '');
  }
  return out.join('\n');
}

function literalToTag(lit) {
  return parseTag(lit.slice(1, -1), { literal: true });
}

/** Resolves an expression to a Tag, or null. */
function resolve(expr, defines, depth = 0) {
  let e = expr.trim();
  for (;;) {
    const m = /^\(\s*(?:ULONG|UINT|DWORD|unsigned\s+long|unsigned\s+int|int)\s*\)\s*([\s\S]+)$/.exec(e) ?? /^\(([\s\S]+)\)$/.exec(e);
    if (!m) break;
    e = m[1].trim();
  }
  if (/^'(?:[^'\\]|\\.){1,4}'$/.test(e)) return literalToTag(e);
  if (/^(0x[0-9a-f]+|\d+)[uUlL]*$/i.test(e)) return Tag.fromUlong(Number(e.replace(/[uUlL]+$/, '')) >>> 0);
  if (/^[A-Za-z_]\w*$/.test(e) && defines.has(e) && depth < 10) return resolve(defines.get(e), defines, depth + 1);
  return null;
}

/** The argument list of the call whose '(' is at `open`: top-level comma-separated strings. */
function callArgs(s, open) {
  const args = [];
  let depth = 0;
  let cur = '';
  for (let i = open + 1; i < s.length && i < open + 4000; i++) {
    const c = s[i];
    if (c === "'") {
      const m = /^'(?:[^'\\]|\\.)*'/.exec(s.slice(i, i + 12));
      if (m) {
        cur += m[0];
        i += m[0].length - 1;
        continue;
      }
    }
    if (c === '(') depth++;
    else if (c === ')') {
      if (depth === 0) {
        args.push(cur.trim());
        return args;
      }
      depth--;
    } else if (c === ',' && depth === 0) {
      args.push(cur.trim());
      cur = '';
      continue;
    }
    cur += c;
  }
  return null;
}

function deriveTree(repo, commit, dirs, arch, exclude = []) {
  const names = git(repo, ['ls-tree', '-r', '--name-only', commit, '--', ...dirs]).split('\n').filter(Boolean);
  if (!names.length) return null;
  const files = names.filter((n) => /\.(c|cpp|h|hpp)$/i.test(n) && !exclude.includes(n)).map((n) => ({ n, text: clean(git(repo, ['show', `${commit}:${n}`]), arch) }));
  const defines = new Map();
  for (const f of files) {
    for (const m of f.text.matchAll(/^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)[ \t]+([^\n]+)$/gm)) if (!defines.has(m[1])) defines.set(m[1], m[2].trim());
  }
  const pairs = new Map(); // key -> { tag, routine, at: [] }
  const notes = [];
  const uncertain = new Map();
  const add = (tag, routine, at) => {
    const k = `${tag}|${routine}`;
    const p = pairs.get(k) ?? { tag, routine, at: [] };
    if (p.at.length < 3) p.at.push(at);
    pairs.set(k, p);
  };
  for (const f of files) {
    const isHeader = /\.(h|hpp)$/i.test(f.n);
    for (const r of routines) {
      const re = new RegExp(`\\b${r.name}\\s*\\(`, 'g');
      for (const m of f.text.matchAll(re)) {
        const open = m.index + m[0].length - 1;
        const line = f.text.slice(0, m.index).split('\n').length;
        const at = `${f.n}:${line}`;
        const lineText = f.text.split('\n')[line - 1];
        if (/^\s*(NTKERNELAPI|NTSYSAPI|_IRQL|DECLSPEC|EXPORT|NDIS_EXPORT)/.test(lineText) || /\b(NTAPI|NTKERNELAPI)\b/.test(lineText)) continue; // a prototype
        const inMacro = /\\\s*$/.test(lineText) || /^\s*#\s*define/.test(lineText);
        const args = callArgs(f.text, open);
        if (!args) continue;
        if (isHeader || inMacro) {
          // Maybe never expanded or never called: an "uncertain" pair, neither expected nor invented.
          const t = r.tagArg ? resolve(args[r.tagArg - 1] ?? '', defines) : r.sharedTag ? Tag.fromBytes(Buffer.from(r.sharedTag.padEnd(4, ' '), 'latin1')) : null;
          if (t) uncertain.set(`${t}|${r.name}`, { tag: t.toString(), routine: r.name, at });
          notes.push(`${at}: ${r.name} inside a ${isHeader ? 'header' : 'macro'}: not counted${t ? ` (listed as uncertain: ${t})` : ''}`);
          continue;
        }
        if (r.tagArg) {
          const t = resolve(args[r.tagArg - 1] ?? '', defines);
          if (t) add(t.toString(), r.name, at);
          else notes.push(`${at}: ${r.name} tag argument \`${(args[r.tagArg - 1] ?? '?').slice(0, 40)}\` is not a constant (a wrapper's parameter or a variable): not counted`);
        } else if (r.tagStruct) {
          const before = f.text.slice(0, m.index).split('\n').slice(-60).join('\n');
          const hits = [...before.matchAll(/\.\s*PoolTag\s*=\s*([^;]+);/g)];
          const t = hits.length ? resolve(hits[hits.length - 1][1], defines) : null;
          if (t) add(t.toString(), r.name, at);
          else notes.push(`${at}: ${r.name}: no constant .PoolTag store within 60 lines above: not counted`);
        } else if (r.sharedTag) add(Tag.fromBytes(Buffer.from(r.sharedTag.padEnd(4, ' '), 'latin1')).toString(), r.name, at);
      }
    }
  }
  const sorted = (m) => [...m.values()].sort((a, b) => (a.tag + a.routine < b.tag + b.routine ? -1 : 1));
  for (const k of pairs.keys()) uncertain.delete(k);
  return { pairs: sorted(pairs), uncertain: sorted(uncertain), notes, files: files.length };
}

const sources = loadJson(SOURCES_FILE).files;
const out = { format: 'pooltag-devset-expected', version: 1, generated: new Date().toISOString(), method: 'scripts/devset/derive-expected.mjs (see its header)', drivers: {} };
const cache = new Map();
const counts = {};
for (const f of sources) {
  if (!f.counted) continue;
  const fam = FAMILIES.find((x) => x.test(f));
  if (!fam) continue;
  const file = path.join(devsetDir(), f.file);
  let img = null;
  try {
    img = readPe(fs.readFileSync(file), { hash: false });
  } catch {
    /* version-less */
  }
  const repo = fam.repo(f);
  const version = fam.version(f, img ?? {});
  if (!version) {
    console.log(`${f.file}: no version to match the source to: skipped`);
    continue;
  }
  const exclude = fam.exclude?.[f.arch] ?? [];
  const derive = (v) => {
    const key = `${repo}@${v}:${fam.dirs.join(',')}:${f.arch}`;
    if (!cache.has(key)) {
      try {
        cache.set(key, deriveTree(repo, v, fam.dirs, f.arch, exclude));
      } catch (e) {
        cache.set(key, null);
        console.log(`${key}: ${String(e.message).split('\n')[0]}`);
      }
    }
    return cache.get(key);
  };
  let d;
  if (Array.isArray(version)) {
    // Several candidate versions: usable only when they all give the same pairs.
    const ds = version.map(derive);
    const sig = (x) => (x ? x.pairs.map((p) => `${p.tag}|${p.routine}`).join(' ') : null);
    if (!ds.length || ds.some((x) => !x) || new Set(ds.map(sig)).size !== 1) {
      console.log(`${f.file}: candidate versions ${version.join(', ')} disagree or are missing: skipped`);
      continue;
    }
    d = ds[ds.length - 1];
  } else d = derive(version);
  if (!d || !d.pairs.length) continue;
  out.drivers[f.sha256] = {
    file: f.file,
    family: fam.id,
    source: { repo, version: Array.isArray(version) ? version.join(' | ') : version, dirs: fam.dirs },
    how: `calls of data/routines.json routines in ${d.files} source files of ${fam.dirs.join(', ')} at ${repo}@${version} (${fam.version === sameCommit ? 'the commit that added this binary' : 'every release tag matching its version resource, all giving the same pairs'}), preprocessed for ${f.arch}, tags resolved through #define`,
    pairs: d.pairs.map(({ tag, routine, at }) => ({ tag, routine, at })),
    uncertain: [...d.uncertain, ...(fam.library ?? [])],
    notes: [...(fam.note?.[f.arch] ? [fam.note[f.arch]] : []), ...d.notes],
  };
  counts[fam.id] = (counts[fam.id] ?? 0) + 1;
}
fs.writeFileSync(EXPECTED_FILE, JSON.stringify(out, null, 1) + '\n');
console.log(`expected.json: ${Object.keys(out.drivers).length} drivers (${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')})`);
