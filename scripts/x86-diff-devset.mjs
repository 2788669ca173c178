#!/usr/bin/env node
// The table-driven x86/x64 decoder (src/evidence/decode/x86-fast.ts) against iced-x86 over the
// development corpus: a linear sweep of every executable section of every x86 and x64 driver
// (one byte on after an invalid instruction, as the engine's sweep), comparing per instruction
// validity and length, flow class, near-branch target, mnemonic class and the operands of the
// modelled mnemonics (scripts/lib/x86-diff.mjs). Prints the agreement counts per field and the
// disagreements (one line per kind, with an example); exits 1 when there is any.
//
//   npm run build && node scripts/x86-diff-devset.mjs [--arch x86|x64]
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { codeSections, REPO_ROOT, requireDevset } from './lib/dev-corpus.mjs';
import { disagreementLines, newTally, tallyLine, x86Comparer } from './lib/x86-diff.mjs';

const args = process.argv.slice(2);
const only = args[0] === '--arch' ? args[1] : null;
const devset = requireDevset('x86-diff-devset');
if (!devset) process.exit(0);
const dist = path.join(REPO_ROOT, 'dist', 'src');
const fast = await import(pathToFileURL(path.join(dist, 'evidence', 'decode', 'x86-fast.js')).href);
const { readPe } = await import(pathToFileURL(path.join(dist, 'index.js')).href);
const iced = createRequire(import.meta.url)('iced-x86');
const cmp = x86Comparer(iced, fast);

const t0 = performance.now();
let bad = 0;
for (const arch of ['x86', 'x64']) {
  if (only && arch !== only) continue;
  const files = devset.files.filter((f) => f.arch === arch);
  const t = newTally();
  let bytes = 0;
  for (const f of files) {
    for (const { bytes: b, va, bitness } of codeSections(readPe, f.path)) {
      bytes += b.length;
      cmp.sweep(bitness, b, 0, b.length, va, t);
    }
  }
  console.log(`${arch}: ${files.length} files, ${(bytes / 1e6).toFixed(1)} MB of executable sections`);
  console.log(`  ${tallyLine(t)}`);
  console.log(`  modelled classes: ${JSON.stringify(t.byClass)}`);
  for (const l of disagreementLines(t)) console.log(`  ${l}`);
  bad += t.disagreements;
}
cmp.free();
console.log(`${((performance.now() - t0) / 1000).toFixed(1)} s`);
process.exit(bad ? 1 : 0);
