#!/usr/bin/env node
// iced-x86 against the table-driven decoder (src/evidence/decode/x86-fast.ts) on the same
// sections of the development corpus: a linear sweep of every executable section of the x86
// and x64 drivers (one byte on after an invalid instruction), alternating the decoders for
// a few rounds in one run. Prints ns per instruction and MB/s of each, and the ratio.
//   iced lengths: decodeOut + code + length (what a sweep needs at the least)
//   iced sweep:   plus what sweepSection read from iced (flow control, mnemonic, op0 kind, near-branch target)
//   fast:         decodeX86, which fills all of its fields
//   fast lengths: decodeX86(..., lengthsOnly), what sweepSection asks for (operands of lea only)
//
//   npm run build && node scripts/bench-x86-decode.mjs [--rounds 3]
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { codeSections, REPO_ROOT, requireDevset } from './lib/dev-corpus.mjs';

const args = process.argv.slice(2);
const rounds = args[0] === '--rounds' ? Number(args[1]) : 3;
const devset = requireDevset('bench-x86-decode');
if (!devset) process.exit(0);
const dist = path.join(REPO_ROOT, 'dist', 'src');
const fast = await import(pathToFileURL(path.join(dist, 'evidence', 'decode', 'x86-fast.js')).href);
const { readPe } = await import(pathToFileURL(path.join(dist, 'index.js')).href);
const x = createRequire(import.meta.url)('iced-x86');

function sections(arch) {
  const out = [];
  for (const f of devset.files.filter((f) => f.arch === arch)) out.push(...codeSections(readPe, f.path));
  return out;
}

function icedSweep(bitness, secs, getters) {
  const ins = new x.Instruction();
  const INVALID = x.Code.INVALID;
  let n = 0;
  let sink = 0;
  for (const { bytes, va } of secs) {
    const d = new x.Decoder(bitness, bytes, x.DecoderOptions.None);
    let pos = 0;
    let synced = false;
    while (pos < bytes.length) {
      if (!synced) {
        d.position = pos;
        d.ip = BigInt(va + pos);
      }
      d.decodeOut(ins);
      n++;
      const len = ins.length;
      if (ins.code === INVALID) {
        pos += 1;
        synced = false;
        continue;
      }
      synced = true;
      if (getters) {
        sink += ins.flowControl + ins.mnemonic;
        if (ins.flowControl === x.FlowControl.Call) sink += ins.op0Kind + ins.nearBranch32;
      }
      pos += len;
    }
    d.free();
  }
  ins.free();
  return { n, sink };
}

function fastSweep(bitness, secs, lengthsOnly = false) {
  const out = fast.x86Out();
  let n = 0;
  let sink = 0;
  for (const { bytes, va } of secs) {
    let pos = 0;
    while (pos < bytes.length) {
      const len = fast.decodeX86(bytes, pos, bytes.length, bitness, va + pos, out, lengthsOnly);
      n++;
      sink += out[fast.F_FLOW] + out[fast.F_MN];
      pos += len || 1;
    }
  }
  return { n, sink };
}

const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
for (const arch of ['x86', 'x64']) {
  const bitness = arch === 'x64' ? 64 : 32;
  const secs = sections(arch);
  const mb = secs.reduce((a, s) => a + s.bytes.length, 0) / 1e6;
  const runs = { 'iced lengths': [], 'iced sweep': [], fast: [], 'fast lengths': [] };
  let count = 0;
  // one warm-up round of each, then alternating timed rounds
  icedSweep(bitness, secs, true);
  fastSweep(bitness, secs);
  for (let r = 0; r < rounds; r++) {
    for (const [name, f] of [
      ['iced lengths', () => icedSweep(bitness, secs, false)],
      ['fast', () => fastSweep(bitness, secs)],
      ['fast lengths', () => fastSweep(bitness, secs, true)],
      ['iced sweep', () => icedSweep(bitness, secs, true)],
    ]) {
      const t0 = process.hrtime.bigint();
      const { n } = f();
      runs[name].push(Number(process.hrtime.bigint() - t0) / 1e6);
      count = n;
    }
  }
  console.log(`${arch}: ${secs.length} sections, ${mb.toFixed(1)} MB, ${count} instructions (median of ${rounds} alternating rounds)`);
  for (const [name, ms] of Object.entries(runs)) {
    const m = median(ms);
    console.log(`  ${name.padEnd(13)} ${((m * 1e6) / count).toFixed(1).padStart(6)} ns/instruction ${(mb / (m / 1000)).toFixed(1).padStart(7)} MB/s`);
  }
  const f = median(runs.fast);
  console.log(`  fast is ${(median(runs['iced lengths']) / f).toFixed(2)}x iced lengths-only, ${(median(runs['iced sweep']) / f).toFixed(2)}x iced with the sweep's getters`);
  console.log(`  fast lengths (what the sweep asks for) is ${(median(runs['iced sweep']) / median(runs['fast lengths'])).toFixed(2)}x iced with the sweep's getters`);
}
