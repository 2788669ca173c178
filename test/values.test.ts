/**
 * The value analysis over the control-flow graph (src/evidence/values.ts, cfg.ts), on code
 * assembled with llvm-mc: joins, conditional moves and selects, loops, and the tags a call
 * site receives from a value set (src/evidence/sites.ts).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import type { ImageView } from '../src/evidence/sites/backend.js';
import { Arm64Backend } from '../src/evidence/sites/arm64.js';
import { controlFlowGraph, predsOf } from '../src/evidence/cfg.js';
import type { AbiInfo, Resolved } from '../src/evidence/ir.js';
import { readTag } from '../src/evidence/sites/outcomes.js';
import { valuesAt } from '../src/evidence/values.js';
import { lowerX86, x86Abi } from '../src/evidence/lower/x86.js';
import { Lookup } from '../src/answer/lookup.js';
import { extractEvidence } from '../src/evidence/extract.js';
import { Store } from '../src/knowledge/store.js';
import { readPe } from '../src/pe/read.js';
import { scan } from '../src/scan/scan.js';

const consts = (rs: Resolved[]) => rs.filter((r) => r.k === 'const').map((r) => (r as { v: number }).v.toString(16)).sort();
const kinds = (rs: Resolved[]) => rs.map((r) => (r.k === 'const' ? r.v.toString(16) : r.k === 'param' ? `param ${r.n}` : r.k === 'cell' ? `cell ${r.rva.toString(16)}` : r.k)).sort();

describe('x64: cmov, branches and a loop (llvm-mc --triple=x86_64, at RVA 0x1000)', () => {
  //   1000 mov eax, [rip+1FFAh]      ; g_Override at 0x3000 (.data, 0 in the file)
  //   1006 test eax, eax
  //   1008 cmovne edx, eax           ; MSVC's debug override of the tag
  //   100b mov r8d, edx
  //   100e mov edx, ecx
  //   1010 mov ecx, 200h
  //   1015 jmp [rip+0FE0h]           ; tail call of ExAllocatePoolWithTag
  //   101b test ecx, ecx
  //   101d mov r8d, 'aaaa'
  //   1023 je 102b
  //   1025 mov r8d, 'bbbb'
  //   102b call [rip+0FD0h]          ; two tags reach one call
  //   1031 mov r8d, 'cccc'           ; loop head
  //   1037 call [rip+0FC8h]
  //   103d dec ebx
  //   103f jne 1031
  //   1041 ret
  const code = Uint8Array.from([
    0x8b, 0x05, 0xfa, 0x1f, 0x00, 0x00, 0x85, 0xc0, 0x0f, 0x45, 0xd0, 0x41, 0x89, 0xd0, 0x89, 0xca, 0xb9, 0x00, 0x02, 0x00, 0x00, 0xff, 0x25, 0xe0, 0x0f, 0x00, 0x00, 0x85,
    0xc9, 0x41, 0xb8, 0x61, 0x61, 0x61, 0x61, 0x74, 0x06, 0x41, 0xb8, 0x62, 0x62, 0x62, 0x62, 0xff, 0x15, 0xd0, 0x0f, 0x00, 0x00, 0x41, 0xb8, 0x63, 0x63, 0x63, 0x63, 0xff,
    0x15, 0xc8, 0x0f, 0x00, 0x00, 0xff, 0xcb, 0x75, 0xf0, 0xc3,
  ]);
  const img = { bitness: 64 as const, imageBase: 0x140000000n, sizeOfImage: 0x4000 };
  const abi: AbiInfo = x86Abi(64, (rva) => (rva >= 0x3000 && rva < 0x3010 ? 0 : null), (rva) => rva === 0x1ffb || rva === 0x2001 || rva === 0x2005, (rva) => rva >= 0x3000);
  const wrapper = lowerX86(img, code, 0x1000, 0x1000, 0x101b);
  const caller = lowerX86(img, code, 0x1000, 0x101b, 0x1042);
  const at = (l: typeof wrapper, rva: number) => l.insns.findIndex((x) => x.rva === rva);

  it('a cmov is the union of both arms: the parameter, or a global that is 0 in the file', () => {
    const v = valuesAt(wrapper, at(wrapper, 0x1015), 'r8', abi);
    expect(kinds(v)).toEqual(['cell 3000', 'param 2']);
    const reading = readTag(v, abi);
    expect(reading.tags).toEqual([]);
    expect(reading.params).toEqual([2]);
    expect(reading.reasons.join()).toMatch(/0 in the file/);
  });

  it('a join is the union of its predecessors', async () => {
    const v = valuesAt(caller, at(caller, 0x102b), 'r8', abi);
    expect(consts(v)).toEqual(['61616161', '62626262']);
    expect(readTag(v, abi).tags.map((t) => t.recovery)).toEqual(['immediate', 'immediate']);
  });

  it('a loop reaches a fixed point: the back edge brings nothing new', async () => {
    expect(kinds(valuesAt(caller, at(caller, 0x1037), 'r8', abi))).toEqual(['63636363']);
    // rbx at the loop head: the entry value (not a parameter) or the decremented one.
    expect(kinds(valuesAt(caller, at(caller, 0x1031), 'rbx', abi))).toEqual(['unknown']);
  });

  it('many definitions of one value reach a join: one value (reaching definitions, joined by value)', async () => {
    // n times `mov r8d, 'KpO0'; je join` (each jcc leaves a block that defines r8), then
    // join: `call [rip+disp]`. KSystemInformer's ARM64 build reloads one literal this way
    // at 40 places above one ExFreePoolWithTag.
    const build = (n: number) => {
      const bytes: number[] = [];
      const join = 0x1000 + n * 12;
      for (let k = 0; k < n; k++) {
        const at = 0x1000 + k * 12;
        const rel = join - (at + 12);
        bytes.push(0x41, 0xb8, 0x30, 0x4f, 0x70, 0x4b, 0x0f, 0x84, rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, (rel >> 24) & 0xff);
      }
      bytes.push(0xff, 0x15, 0x00, 0x10, 0x00, 0x00, 0xc3);
      const l = lowerX86({ bitness: 64, imageBase: 0x140000000n, sizeOfImage: 0x40000 }, Uint8Array.from(bytes), 0x1000, 0x1000, 0x1000 + bytes.length);
      return { l, call: l.insns.findIndex((x) => x.rva === join) };
    };
    const forty = build(40);
    expect(kinds(valuesAt(forty.l, forty.call, 'r8', abi))).toEqual(['4b704f30']);
    // Past the cap of definitions, a clear reason instead of a partial answer.
    const many = build(70);
    const v = valuesAt(many.l, many.call, 'r8', abi);
    expect(v).toHaveLength(1);
    expect(v[0].k === 'unknown' && v[0].why).toMatch(/more than 64 definitions of r8/);
  });

  it('cuts blocks at branches and targets, with the edges both ways', () => {
    const g = controlFlowGraph(caller);
    const starts = [...g.blockStart].map((i) => caller.insns[i].rva.toString(16));
    expect(starts).toEqual(['101b', '1025', '102b', '1031', '1041']);
    const pred = (rva: number) => predsOf(g, g.blockOf[at(caller, rva)]).map((b) => caller.insns[g.blockStart[b]].rva.toString(16)).sort();
    expect(pred(0x102b)).toEqual(['101b', '1025']);
    expect(pred(0x1031)).toEqual(['102b', '1031']);
    // The successor rows are the same edges the other way.
    const succ = (rva: number) => {
      const b = g.blockOf[at(caller, rva)];
      return Array.from(g.succ.subarray(g.succStart[b], g.succStart[b + 1]), (s) => caller.insns[g.blockStart[s]].rva.toString(16)).sort();
    };
    expect(succ(0x101b)).toContain('102b');
    expect(succ(0x1025)).toContain('102b');
    expect(succ(0x102b)).toContain('1031');
    expect(succ(0x1031)).toContain('1031');
  });
});

describe('ARM64: csel and cset (llvm-mc --triple=aarch64, at RVA 0x1000)', () => {
  const words = [
    0xd0000008, // 1000 adrp x8, 0x3000       (g_Override page)
    0xb9401108, // 1004 ldr w8, [x8, #16]
    0x7100011f, // 1008 cmp w8, #0
    0x1a880022, // 100c csel w2, w1, w8, eq
    0x2a0003e1, // 1010 mov w1, w0
    0x52804000, // 1014 mov w0, #0x200
    0xd65f03c0, // 1018 ret
    0x7100001f, // 101c cmp w0, #0
    0x528c2c29, // 1020 mov w9, #0x6161
    0x72ac2c29, // 1024 movk w9, #0x6161, lsl #16
    0x528c4c4a, // 1028 mov w10, #0x6262
    0x72ac4c4a, // 102c movk w10, #0x6262, lsl #16
    0x1a8a1122, // 1030 csel w2, w9, w10, ne
    0x1a9f17e3, // 1034 cset w3, eq
    0xd65f03c0, // 1038 ret
  ];
  const bytes = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => bytes.writeUInt32LE(w >>> 0, i * 4));
  const view = {
    map: { sectionOf: () => ({ virtualAddress: 0x1000 }) },
    sectionBytes: () => bytes,
    read: (rva: number) => (rva >= 0x3000 && rva < 0x3020 ? 0 : null),
    importSlots: new Set<number>(),
    isWritable: (rva: number) => rva >= 0x3000,
  } as unknown as ImageView;
  const be = new Arm64Backend(view);
  const l = be.lower({ start: 0x1000, end: 0x1000 + bytes.length, knownStart: true });
  const at = (rva: number) => l.insns.findIndex((x) => x.rva === rva);

  it('csel of a parameter and a global: both arms', async () => {
    expect(kinds(valuesAt(l, at(0x1010), 'x2', be.abi))).toEqual(['cell 3010', 'param 2']);
  });
  it('csel of two constants gives both tags; cset gives 0 or 1', async () => {
    expect(consts(valuesAt(l, at(0x1034), 'x2', be.abi))).toEqual(['61616161', '62626262']);
    expect(consts(valuesAt(l, at(0x1038), 'x3', be.abi))).toEqual(['0', '1']);
  });
});

describe('a fixture driver end to end: flow.sys (clang -O2, x64)', () => {
  const file = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/bin/x64-clang-O2/flow.sys');

  it('a switch that sets seven tags before one call: seven records at one site, each one of 7, medium', async () => {
    const buf = readFileSync(file);
    const r = await extractEvidence(buf, readPe(buf));
    const jt = r.evidence.filter((e) => e.tag.startsWith('Jt'));
    expect(jt.map((e) => e.tag).sort()).toEqual(['JtDf', 'JtS0', 'JtS1', 'JtS2', 'JtS3', 'JtS4', 'JtS5']);
    expect(new Set(jt.map((e) => e.callSiteRva)).size).toBe(1);
    for (const e of jt) expect(e).toMatchObject({ alternatives: 7, confidence: 'medium' });
    // the override wrapper's callers, a writable global's file value, a const global
    expect(r.evidence.filter((e) => e.tag.startsWith('Ov')).every((e) => e.recovery === 'wrapper')).toBe(true);
    expect(r.evidence.find((e) => e.tag === 'Xian')).toMatchObject({ recovery: 'initial-value', confidence: 'medium' });
    expect(r.evidence.find((e) => e.tag === 'Cnst')).toMatchObject({ recovery: 'memory', confidence: 'high' });
    // every reference to a routine slot the prefilter saw is a call site analysed, or says why not
    expect(r.stats.candidatesAnalysed! + r.unresolved.filter((u) => /routine's address|not reach/.test(u.reason)).length).toBe(r.stats.candidates);
  });

  it('the base keeps it, and lookup says the call can pass other tags', async () => {
    const report = await scan({ paths: [file], jobs: 1, cache: null });
    const store = await Store.open(':memory:');
    await store.mergeReport(report);
    const [c] = (await new Lookup(store).lookup('JtS3')).answers[0].candidates;
    expect(c.source).toBe('call-site');
    const site = c.source === 'call-site' ? c.driver.builds[0].callSites[0] : null;
    expect(site).toMatchObject({ alternatives: 7, routine: 'ExAllocatePoolWithTag' });
    await store.close();
  });
});

describe('the reaching-definitions budget (hostile code: one huge function, a query per location)', () => {
  // 20,000 blocks of `mov dword [rsp+8*k], k; test eax, eax; je +0`: every block ends in a
  // branch, every query names another stack slot. A bit-flipped header can make a function of
  // a whole code section; each location would cost a pass over all of it.
  const blocks = 20000;
  const bytes: number[] = [];
  for (let k = 0; k < blocks; k++) {
    const disp = (8 * (k % 4096)) & 0xffff;
    bytes.push(0xc7, 0x84, 0x24, disp & 0xff, disp >> 8, 0, 0, k & 0xff, (k >> 8) & 0xff, 0, 0); // mov dword [rsp+disp32], imm32
    bytes.push(0x85, 0xc0, 0x74, 0x00); // test eax, eax; je next
  }
  bytes.push(0xc3);
  const code = Uint8Array.from(bytes);
  const img = { bitness: 64 as const, imageBase: 0x140000000n, sizeOfImage: 0x100000 };
  const abi: AbiInfo = x86Abi(64, () => null, () => false, () => false);

  it('answers every query, and past the budget says so instead of walking the function again', () => {
    const l = lowerX86(img, code, 0x1000, 0x1000, 0x1000 + code.length);
    expect(controlFlowGraph(l).blockStart.length).toBeGreaterThan(blocks);
    const last = l.insns.length - 1;
    const answers: Resolved[][] = [];
    for (let k = 0; k < 200; k++) answers.push(valuesAt(l, last, `s:${8 * k}` as never, abi));
    // The first locations are followed to their constants (the last store to the slot); then the budget is spent.
    expect(answers[0].some((r) => r.k === 'const')).toBe(true);
    const over = answers.filter((a) => a.some((r) => r.k === 'unknown' && /analysis budget spent/.test(r.why)));
    expect(over.length).toBeGreaterThan(100);
    expect((l.derived as { rdWork?: number }).rdWork).toBeGreaterThan(400_000);
  });
});
