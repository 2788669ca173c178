#!/usr/bin/env node
// Dumps every call-site result of the development corpus, one canonical line per record, so
// that two builds of the engine can be compared record by record (issue 18: "evidence
// identical, 0 records lost or changed").
//
//   node scripts/dump-evidence.mjs [--dist DIR] [--arch x64] OUT.txt
//   node scripts/dump-evidence.mjs --diff A.txt B.txt
//
// --dist DIR: the `dist/src/index.js` of another build (default: this checkout's). Each line is
// `<sha8> E <tag ulong> <routine> <callSiteRva> <functionRva> <recovery> <confidence> <wrappers> ...`
// then ` | pool=<values by name, or ?>[!<why unknown>] size=<values, or ?>[!<why unknown>]` (issue 21),
// or `<sha8> U <routine> <callSiteRva> <functionRva> <reason>`, sorted. --diff prints the lines
// only one side has (at most 40 of each) and exits 1 when the two differ; `--diff --base A B`
// compares the lines without their ` | ...` tail (a dump from before the tail existed against one after).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ARCHES, REPO_ROOT, requireDevset } from './lib/dev-corpus.mjs';

const args = process.argv.slice(2);
if (args[0] === '--diff') {
  const base = args[1] === '--base';
  if (base) args.splice(1, 1);
  const cut = (l) => (base ? l.split(' | ')[0] : l);
  const [a, b] = [args[1], args[2]].map((f) => fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map(cut));
  const sa = new Set(a);
  const sb = new Set(b);
  const onlyA = a.filter((l) => !sb.has(l));
  const onlyB = b.filter((l) => !sa.has(l));
  console.log(`${a.length} lines in ${args[1]}, ${b.length} in ${args[2]}; only in the first ${onlyA.length}, only in the second ${onlyB.length}`);
  for (const l of onlyA.slice(0, 40)) console.log(`- ${l}`);
  for (const l of onlyB.slice(0, 40)) console.log(`+ ${l}`);
  process.exit(onlyA.length + onlyB.length === 0 ? 0 : 1);
}
let dist = path.join(REPO_ROOT, 'dist', 'src', 'index.js');
let only = null;
let out = null;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--dist') dist = path.join(path.resolve(args[++i]), 'dist', 'src', 'index.js');
  else if (args[i] === '--arch') only = args[++i];
  else out = args[i];
}
if (!out) {
  console.error('usage: node scripts/dump-evidence.mjs [--dist DIR] [--arch x86|x64|arm64] OUT.txt | --diff A.txt B.txt');
  process.exit(1);
}
const devset = requireDevset('dump-evidence');
if (!devset) process.exit(0);
const { readPe, extractEvidence } = await import(pathToFileURL(dist).href);
/** The pool and size fields of an evidence record (issue 21), after ` | `; nothing for routines that allocate nothing. */
function allocation(e) {
  if (!e.pool && !e.size) return '';
  const part = (v, show) => (v ? `${v.values.length ? v.values.map(show).join(',') : '?'}${v.unknown ? `!${v.unknown.replace(/\s+/g, '_')}` : ''}` : '-');
  return ` | pool=${part(e.pool, (x, i) => e.pool.names[i].replace(/ /g, ''))}${e.pool?.fixed ? '(fixed)' : ''} size=${part(e.size, String)}`;
}
const lines = [];
const t0 = performance.now();
for (const arch of ARCHES) {
  if (only && arch !== only) continue;
  for (const f of devset.files.filter((f) => f.arch === arch).sort((a, b) => (a.rel < b.rel ? -1 : 1))) {
    const buf = fs.readFileSync(f.path);
    const id = f.rel;
    try {
      const image = readPe(buf, { hash: false });
      const x = await extractEvidence(buf, image);
      for (const e of x.evidence) {
        if (e.recovery === 'string' || e.recovery === 'raw-bytes') continue;
        lines.push(`${id} E ${e.ulong} ${e.routine} ${e.callSiteRva} ${e.functionRva} ${e.recovery} ${e.confidence} ${e.kind} w=${(e.wrappers ?? []).join(',')} t=${e.tableIndex ?? ''} a=${e.alternatives ?? ''} s=${e.shared ? 1 : 0} p=${e.protected ? 1 : 0}${allocation(e)}`);
      }
      for (const u of x.unresolved) lines.push(`${id} U ${u.routine} ${u.callSiteRva} ${u.functionRva} ${u.reason}`);
      lines.push(`${id} S decoded=${x.stats.functionsDecoded} sites=${x.stats.callSites} cand=${x.stats.candidates} analysed=${x.stats.candidatesAnalysed} wrappers=${x.stats.wrappers}`);
    } catch (err) {
      lines.push(`${id} X ${err?.constructor?.name}: ${String(err?.message).split('\n')[0]}`);
    }
  }
}
lines.sort();
fs.writeFileSync(out, lines.join('\n') + '\n');
console.log(`${lines.length} lines, ${((performance.now() - t0) / 1000).toFixed(1)} s -> ${out}`);
