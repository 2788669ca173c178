/**
 * Jump tables (src/evidence/jumptables.ts): an indirect jump whose table lies in the image
 * gets its cases as edges of the control-flow graph, on the compiled fixtures (FlowSwitch in
 * flow.c: cases 0..5 and a default) and on MSVC's shapes assembled with llvm-mc
 * (shapes-*.s: ShSwitch, where a case uses the tag set above the switch).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { controlFlowGraph, predsOf } from '../src/evidence/cfg.js';
import { extractEvidence } from '../src/evidence/extract.js';
import type { LoweredFunction } from '../src/evidence/ir.js';
import { Arm64Backend } from '../src/evidence/sites/arm64.js';
import type { Backend } from '../src/evidence/sites/backend.js';
import { ImageView } from '../src/evidence/sites/backend.js';
import { X86Backend } from '../src/evidence/sites/x86.js';
import { readPe } from '../src/pe/read.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/bin');

function open(build: string, name: string): { backend: Backend; view: ImageView } {
  const buf = readFileSync(join(bin, build, name));
  const view = new ImageView(buf, readPe(buf));
  return { backend: view.image.headers.arch === 'arm64' ? new Arm64Backend(view) : new X86Backend(view), view };
}

/** Every function of the image that has a table (x64/ARM64 `.pdata`; x86: the sweep's function at each call target). */
function tables(build: string, name: string): { fn: LoweredFunction; at: number; targets: number[] }[] {
  const { backend, view } = open(build, name);
  const starts = view.image.functions.length ? view.image.functions.map((f) => f.begin) : sweepStarts(view);
  const out: { fn: LoweredFunction; at: number; targets: number[] }[] = [];
  for (const s of starts) {
    const f = backend.functionStartingAt(s);
    if (!f) continue;
    const l = backend.lower(f);
    for (const x of l.insns) if (x.targets) out.push({ fn: l, at: x.rva, targets: x.targets });
  }
  return out;
}

/** x86 has no `.pdata`: the targets of `call rel32` in the code are function starts. */
function sweepStarts(view: ImageView): number[] {
  const out = new Set<number>();
  for (const s of view.code) {
    const b = Buffer.from(view.sectionBytes(s));
    for (let i = 0; i + 5 <= b.length; i++) {
      if (b[i] !== 0xe8) continue;
      const t = (s.virtualAddress + i + 5 + b.readInt32LE(i + 1)) >>> 0;
      if (t >= s.virtualAddress && t < s.virtualAddress + b.length) out.add(t);
    }
  }
  return [...out];
}

describe('jump tables of the compiled fixtures: FlowSwitch (6 cases and a default)', () => {
  for (const build of ['x64-clang-O2', 'x64-clang-O0', 'x64-mingw-O2', 'x86-clang-O2', 'x86-mingw-O2', 'arm64-clang-O2', 'arm64-clang-O0']) {
    it(`${build}: one table of six cases, each case a block its jump reaches`, () => {
      const found = tables(build, 'flow.sys');
      expect(found).toHaveLength(1);
      const [{ fn, at, targets }] = found;
      expect(targets).toHaveLength(6);
      const g = controlFlowGraph(fn);
      const jump = g.blockOf[fn.insns.findIndex((x) => x.rva === at)];
      for (const t of targets) {
        const i = fn.insns.findIndex((x) => x.rva === t);
        expect(i).toBeGreaterThan(0);
        const b = g.blockOf[i];
        expect(g.blockStart[b]).toBe(i);
        expect(predsOf(g, b)).toContain(jump);
        expect(g.orphan[b]).toBe(0);
      }
    });
  }
});

describe("MSVC's jump tables (llvm-mc, shapes-x64.s and shapes-arm64.s: ShSwitch)", () => {
  for (const build of ['x64-asm', 'arm64-asm']) {
    it(`${build}: a case reached only through the table calls with the tag set above the switch`, async () => {
      const found = tables(build, 'shapes.sys');
      expect(found).toHaveLength(1);
      expect(found[0].targets).toHaveLength(3);
      const buf = readFileSync(join(bin, build, 'shapes.sys'));
      const r = await extractEvidence(buf, readPe(buf));
      const sw = r.evidence.filter((e) => e.tag.startsWith('ShS'));
      // Cases 0 and 1 before one call (one of two tags each); case 2 at its own call, one tag.
      const joined = sw.filter((e) => e.tag !== 'ShSA');
      expect(joined.map((e) => e.tag).sort()).toEqual(['ShS0', 'ShS1']);
      expect(new Set(joined.map((e) => e.callSiteRva)).size).toBe(1);
      for (const e of joined) expect(e).toMatchObject({ alternatives: 2, confidence: 'medium' });
      const a = sw.filter((e) => e.tag === 'ShSA');
      expect(a).toHaveLength(1);
      expect(a[0].callSiteRva).not.toBe(joined[0].callSiteRva);
      expect(a[0].alternatives ?? 1).toBe(1);
      expect(r.unresolved).toEqual([]);
    });
  }
});
