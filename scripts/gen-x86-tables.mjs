#!/usr/bin/env node
// Builds data/x86-decode.json, the validity and length tables of the table-driven x86/x64
// decoder (src/evidence/decode/x86-fast.ts), by asking iced-x86 (the reference the decoder is
// tested against) about every opcode of every map under every combination of the encoding
// fields that decide whether an instruction exists:
//
//   legacy (one-byte, 0F, 0F38, 0F3A): per (mode, map, opcode, prefix state) and ModRM class,
//     a 32-bit mask over {lock, 67, REX.W, REX.R, REX.B}: bit f set = valid with those present;
//     and per (row, REX.W) whether a ModRM follows and the immediate's size.
//   3DNow! (0F 0F /r ib): the suffix bytes that name an instruction (register and memory form).
//   VEX (C4/C5) and XOP (8F): per (mode, map, opcode, pp) and (L, W, ModRM class), a mask over
//     {vvvv = 1, vvvv = 8, VEX.R, VEX.B, 67}; ModRM presence and immediate size per row.
//   EVEX (62): per (mode, map, opcode, pp) and (W, L'L, b, aaa != 0, ModRM class), whether the
//     base form is valid and, for each of {z, vvvv, V', R', R, X, B, 67}, whether setting it
//     alone keeps it valid (the decoder requires all that are set to be allowed).
//
// ModRM classes: 0-63 register form (reg * 8 + rm); 64 + reg memory without SIB; 72 + reg
// memory with SIB (EVEX: 0-7 register form by reg, 8 + reg, 16 + reg).
// Rows are deduplicated into patterns; the arrays are deflated and base64-encoded.
// Run: node scripts/gen-x86-tables.mjs   (a few seconds; rerun when iced-x86 is upgraded)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { deflateSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const x = require('iced-x86');
const icedVersion = require('iced-x86/package.json').version;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'data', 'x86-decode.json');

const STRIDE = 32;
/** Decode many probes (byte arrays) in one buffer; returns [valid, length] pairs. */
function probeAll(bitness, probes, classes = null) {
  const buf = new Uint8Array(probes.length * STRIDE);
  probes.forEach((p, i) => buf.set(p, i * STRIDE));
  const d = new x.Decoder(bitness, buf, x.DecoderOptions.None);
  const ins = new x.Instruction();
  const out = new Int8Array(probes.length);
  for (let i = 0; i < probes.length; i++) {
    d.position = i * STRIDE;
    d.decodeOut(ins);
    out[i] = ins.code === x.Code.INVALID ? -1 : ins.length;
    if (classes && out[i] >= 0) {
      classes.mn[i] = mnemonicClass(ins.mnemonic);
      classes.flow[i] = ins.flowControl;
    }
  }
  d.free();
  ins.free();
  return out;
}

// The mnemonic classes the lowering reads (MN in x86-fast.ts; 0 = any other instruction).
const MN = ['other', 'mov', 'lea', 'add', 'sub', 'push', 'pop', 'call', 'jmp', 'jcc', 'ret', 'retf', 'leave', 'xor', 'xchg', 'movsxd', 'movzx', 'cmp', 'cmovcc', 'int3', 'nop'];
const mnOf = new Map();
for (const [name, v] of Object.entries(x.Mnemonic)) {
  if (typeof v !== 'number') continue;
  const n = name.toLowerCase();
  let c = MN.indexOf(n);
  if (/^j(n?[abceglopsz]|n?[abgl]e|np|pe|po)$/.test(n) && !/^jn?cxz$/.test(n)) c = MN.indexOf('jcc');
  if (/^cmov/.test(n)) c = MN.indexOf('cmovcc');
  if (c > 0) mnOf.set(v, c);
}
const mnemonicClass = (m) => mnOf.get(m) ?? 0;

const ESC = [[], [0x0f], [0x0f, 0x38], [0x0f, 0x3a]];
const PFX = [[], [0x66], [0xf3], [0xf2], [0x66, 0xf3], [0x66, 0xf2]];
/** ModRM (+ SIB) bytes of a class: register form, memory without SIB, memory with SIB. */
function modrmBytes(c) {
  if (c < 64) return [0xc0 | c];
  if (c < 72) return [(c - 64) << 3];
  return [((c - 72) << 3) | 4, 0x00];
}
const isPrefix = (op, b64) => [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3].includes(op) || (b64 && (op & 0xf0) === 0x40);

// ---- legacy -----------------------------------------------------------------------------
// flips: bit 0 lock, 1 asz (67), 2 REX.W, 3 REX.R, 4 REX.B
function legacyProbe(b64, map, op, pfx, flips, cls, tail) {
  const p = [];
  if (flips & 1) p.push(0xf0);
  if (flips & 2) p.push(0x67);
  p.push(...PFX[pfx]);
  const rex = ((flips >> 2) & 1) * 8 + ((flips >> 3) & 1) * 4 + ((flips >> 4) & 1);
  if (b64 && rex) p.push(0x40 | rex);
  p.push(...ESC[map], op);
  const head = p.length;
  p.push(...(cls === null ? [] : modrmBytes(cls)));
  if (tail) p.push(...tail);
  return { bytes: p, head };
}

const LEG_ROWS = 2 * 4 * 256 * 6;
const legRow = new Uint32Array(LEG_ROWS); // pattern index
const legInfo = new Uint8Array(LEG_ROWS * 2); // per (row, W): bit 7 ModRM, bits 0-3 immediate size
const legMn = new Uint8Array(LEG_ROWS * 80); // per (row, ModRM class), no REX/67/lock: mnemonic class
const legFlow = new Uint8Array(LEG_ROWS * 80); // iced's FlowControl
const legPatterns = [];
const legPatternIds = new Map();
function internPattern(list, ids, arr) {
  const key = Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength).toString('base64');
  let id = ids.get(key);
  if (id === undefined) {
    id = list.length;
    list.push(arr);
    ids.set(key, id);
  }
  return id;
}

let t0 = performance.now();
for (let b64 = 0; b64 < 2; b64++) {
  const bitness = b64 ? 64 : 32;
  const nFlips = b64 ? 32 : 4;
  for (let map = 0; map < 4; map++) {
    for (let op = 0; op < 256; op++) {
      if (map === 0 && (isPrefix(op, b64) || op === 0x0f)) continue;
      // 3DNow!: a valid suffix follows the ModRM
      const tail = map === 1 && op === 0x0f ? [0xbf] : null;
      const probes = [];
      for (let pfx = 0; pfx < 6; pfx++)
        for (let cls = 0; cls < 80; cls++) for (let f = 0; f < nFlips; f++) probes.push(legacyProbe(b64, map, op, pfx, f, cls, tail).bytes);
      const classes = { mn: new Uint8Array(probes.length), flow: new Uint8Array(probes.length) };
      const res = probeAll(bitness, probes, classes);
      // ModRM presence: the byte after the opcode with mod 00 vs mod 10 (disp32)
      const extra = [];
      for (let pfx = 0; pfx < 6; pfx++)
        for (let w = 0; w < 2; w++) {
          const f = w ? 4 : 0;
          extra.push(legacyProbe(b64, map, op, pfx, f, null, [0x00, ...(tail ? [0xbf] : [])]).bytes);
          extra.push(legacyProbe(b64, map, op, pfx, f, null, [0x80, 0, 0, 0, 0, ...(tail ? [0xbf] : [])]).bytes);
        }
      const ext = probeAll(bitness, extra);
      for (let pfx = 0; pfx < 6; pfx++) {
        const row = ((b64 * 4 + map) * 256 + op) * 6 + pfx;
        const pat = new Uint32Array(80);
        let varies = false;
        for (let cls = 0; cls < 80; cls++) {
          let m = 0;
          for (let f = 0; f < 32; f++) {
            const ff = b64 ? f : f & 3;
            if (res[(pfx * 80 + cls) * nFlips + ff] >= 0) m |= 1 << f;
          }
          pat[cls] = m >>> 0;
          if (pat[cls] !== pat[0]) varies = true;
          // classes of the form without REX, 67 or lock (else of the first valid one)
          let fv = 0;
          while (fv < nFlips && res[(pfx * 80 + cls) * nFlips + fv] < 0) fv++;
          if (fv < nFlips) {
            legMn[row * 80 + cls] = classes.mn[(pfx * 80 + cls) * nFlips + fv];
            legFlow[row * 80 + cls] = classes.flow[(pfx * 80 + cls) * nFlips + fv];
          }
        }
        legRow[row] = internPattern(legPatterns, legPatternIds, pat);
        for (let w = 0; w < 2; w++) {
          const f = w && b64 ? 4 : 0;
          const l0 = ext[(pfx * 2 + w) * 2];
          const l2 = ext[(pfx * 2 + w) * 2 + 1];
          const hasModrm = varies || (l0 >= 0 && l2 >= 0 && l2 !== l0) || (l0 >= 0) !== (l2 >= 0);
          // the immediate: from a valid probe of this row with this W and no 67
          let imm = -1;
          for (let cls = 0; cls < 80 && imm < 0; cls++) {
            for (const ff of [f, f | 8, f | 16, f | 1]) {
              if (!b64 && ff > 3) continue;
              const len = res[(pfx * 80 + cls) * nFlips + (b64 ? ff : ff & 3)];
              if (len < 0) continue;
              const { head } = legacyProbe(b64, map, op, pfx, ff, cls, null);
              imm = len - head - (hasModrm ? modrmBytes(cls).length : 0);
              break;
            }
          }
          if (imm < 0 && !hasModrm && l0 >= 0) imm = l0 - legacyProbe(b64, map, op, pfx, f, null, null).head;
          legInfo[row * 2 + w] = (hasModrm ? 0x80 : 0) | (imm < 0 ? 0 : imm);
        }
      }
    }
  }
}
console.log(`legacy: ${legPatterns.length} patterns, ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// ---- 3DNow! suffixes --------------------------------------------------------------------
const d3now = new Uint8Array(2 * 256); // per (mode, suffix): bit 0 register form valid, bit 1 memory form
for (let b64 = 0; b64 < 2; b64++) {
  const probes = [];
  for (let s = 0; s < 256; s++) probes.push([0x0f, 0x0f, 0xc0, s], [0x0f, 0x0f, 0x00, s]);
  const r = probeAll(b64 ? 64 : 32, probes);
  for (let s = 0; s < 256; s++) d3now[b64 * 256 + s] = (r[2 * s] >= 0 ? 1 : 0) | (r[2 * s + 1] >= 0 ? 2 : 0);
}

// ---- VEX and XOP --------------------------------------------------------------------------
// rows (mode, map index, opcode, pp); VEX maps 1-3 (C4 mmmmm; C5 is map 1, W0, X B clear),
// XOP maps 8-10. K = (L, W, class) = L * 160 + W * 80 + class.
// flips: bit 0 vvvv = 1, bit 1 vvvv = 8, bit 2 R, bit 3 B, bit 4 67
const VEX_MAPS = [1, 2, 3];
const XOP_MAPS = [8, 9, 10];
function vexProbe(lead, b64, mapv, op, pp, L, W, cls, flips, vvvvIs = -1) {
  const p = [];
  if (flips & 16) p.push(0x67);
  let vvvv = 0;
  if (flips & 1) vvvv = 1;
  if (flips & 2) vvvv = 8;
  if (vvvvIs >= 0) vvvv = vvvvIs;
  const R = flips & 4 ? 1 : 0;
  const B = flips & 8 ? 1 : 0;
  p.push(lead, ((R ? 0 : 0x80) | 0x40 | (B ? 0 : 0x20) | mapv), (W << 7) | ((~vvvv & 15) << 3) | (L << 2) | pp, op);
  const head = p.length;
  p.push(...modrmBytes(cls));
  // memory with SIB: an index register that is neither ModRM.reg nor vvvv (gathers reject a
  // vector index equal to either; the decoder checks that itself, see `vsib` below)
  if (cls >= 72) p[p.length - 1] = freeIndex(cls - 72, vvvv & 7) << 3;
  return { bytes: p, head };
}
/** An index register (not 4: no index) other than a and b. */
const freeIndex = (a, b) => [2, 3, 5, 6, 7].find((i) => i !== a && i !== b);
/** The same probe with the SIB index equal to ModRM.reg: invalid only where a gather's check applies. */
function withCollision(bytes, cls) {
  const q = bytes.slice();
  q[q.length - 1] = (cls - 72) << 3;
  return q;
}
function buildVex(lead, maps) {
  const rowPat = new Uint16Array(2 * maps.length * 256 * 4);
  const rowInfo = new Uint8Array(2 * maps.length * 256 * 4);
  const patterns = [new Uint32Array(320)];
  const ids = new Map([[Buffer.from(patterns[0].buffer).toString('base64'), 0]]);
  for (let b64 = 0; b64 < 2; b64++) {
    const bitness = b64 ? 64 : 32;
    // maps outside the list name nothing (checked on a sample)
    for (let mapv = 0; mapv < 32; mapv++) {
      if (maps.includes(mapv) || (lead === 0x8f && mapv < 8)) continue;
      const probes = [];
      for (let op = 0; op < 256; op++) for (let pp = 0; pp < 4; pp++) for (let L = 0; L < 2; L++) for (let W = 0; W < 2; W++) for (const cls of [0, 64, 72]) probes.push(vexProbe(lead, b64, mapv, op, pp, L, W, cls, 0).bytes);
      const r = probeAll(bitness, probes);
      if (r.some((v) => v >= 0)) throw new Error(`${lead.toString(16)} map ${mapv} has instructions: add it`);
    }
    for (let mi = 0; mi < maps.length; mi++) {
      for (let op = 0; op < 256; op++) {
        for (let pp = 0; pp < 4; pp++) {
          const row = ((b64 * maps.length + mi) * 256 + op) * 4 + pp;
          const base = [];
          for (let k = 0; k < 320; k++) base.push(vexProbe(lead, b64, maps[mi], op, pp, k >= 160 ? 1 : 0, (k / 80) & 1, k % 80, 0).bytes);
          const r0 = probeAll(bitness, base);
          if (!r0.some((v) => v >= 0)) continue;
          const probes = [];
          for (let k = 0; k < 320; k++) for (let f = 0; f < 32; f++) probes.push(vexProbe(lead, b64, maps[mi], op, pp, k >= 160 ? 1 : 0, (k / 80) & 1, k % 80, f).bytes);
          const r = probeAll(bitness, probes);
          const pat = new Uint32Array(320);
          let varies = false;
          for (let k = 0; k < 320; k++) {
            let m = 0;
            for (let f = 0; f < 32; f++) if (r[k * 32 + f] >= 0) m |= 1 << f;
            pat[k] = m >>> 0;
            if ((k % 80) && pat[k] !== pat[k - (k % 80)]) varies = true;
          }
          rowPat[row] = internPattern(patterns, ids, pat);
          // ModRM presence and immediate: a valid base probe
          const k = r0.findIndex((v) => v >= 0);
          const cls = k % 80;
          const { bytes, head } = vexProbe(lead, b64, maps[mi], op, pp, k >= 160 ? 1 : 0, (k / 80) & 1, cls, 0);
          let hasModrm = varies;
          if (!hasModrm) {
            const alt = bytes.slice(0, head);
            const [a, b] = probeAll(bitness, [[...alt, 0x00], [...alt, 0x80, 0, 0, 0, 0]]);
            hasModrm = a !== b;
          }
          const imm = r0[k] - head - (hasModrm ? modrmBytes(cls).length : 0);
          // a gather (VSIB): valid with a free index, invalid with index = reg (bit 4)
          let vsib = 0;
          for (let kk = 0; kk < 320 && !vsib; kk++) {
            if (kk % 80 < 73 || r0[kk] < 0) continue; // memory with SIB, reg != 0 (vvvv is 0 in the base probe)
            const pr = vexProbe(lead, b64, maps[mi], op, pp, kk >= 160 ? 1 : 0, (kk / 80) & 1, kk % 80, 0).bytes;
            if (probeAll(bitness, [withCollision(pr, kk % 80)])[0] < 0) vsib = 0x10;
          }
          // AMX (tdp*): tile registers reg, rm and vvvv must all differ (bit 5)
          let triple = 0;
          for (let kk = 0; kk < 320 && !triple; kk++) {
            const c = kk % 80;
            if (c >= 64 || r0[kk] < 0 || c >> 3 === 0 || (c & 7) === 0 || c >> 3 === (c & 7)) continue;
            const L = kk >= 160 ? 1 : 0;
            const W = (kk / 80) & 1;
            const other = [1, 2, 3, 4, 5, 6, 7].find((v) => v !== c >> 3 && v !== (c & 7));
            const [ok, bad] = probeAll(bitness, [vexProbe(lead, b64, maps[mi], op, pp, L, W, c, 0, other).bytes, vexProbe(lead, b64, maps[mi], op, pp, L, W, c, 0, c >> 3).bytes]);
            if (ok >= 0 && bad < 0) triple = 0x20;
          }
          rowInfo[row] = (hasModrm ? 0x80 : 0) | triple | vsib | imm;
        }
      }
    }
  }
  return { rowPat, rowInfo, patterns };
}
t0 = performance.now();
const vex = buildVex(0xc4, VEX_MAPS);
console.log(`vex: ${vex.patterns.length} patterns, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
t0 = performance.now();
const xop = buildVex(0x8f, XOP_MAPS);
console.log(`xop: ${xop.patterns.length} patterns, ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// ---- EVEX ---------------------------------------------------------------------------------
// rows (mode, mmm 0-7, opcode, pp); K = (((W * 4 + L'L) * 2 + b) * 2 + aaa) * 24 + class, where
// class is 0-7 register form (reg, rm 0), 8 + reg memory without SIB, 16 + reg with SIB.
// Per K: bit 0 the base form is valid; bit 1 + f: still valid with flip f alone:
// f = 0 z, 1 vvvv = 15, 2 V' (extended), 3 R', 4 R, 5 X, 6 B, 7 67.
function evexClassBytes(c) {
  if (c < 8) return [0xc0 | (c << 3)];
  if (c < 16) return [(c - 8) << 3];
  return [((c - 16) << 3) | 4, 0x00];
}
function evexProbe(mmm, op, pp, K, flip) {
  const cls = K % 24;
  let r = (K / 24) | 0;
  const aaa = r & 1 ? 1 : 0;
  r >>= 1;
  const b = r & 1;
  r >>= 1;
  const LL = r & 3;
  const W = r >> 2;
  const has = (f) => flip === f;
  const p = [];
  if (has(7)) p.push(0x67);
  const P0 = (has(4) ? 0 : 0x80) | (has(5) ? 0 : 0x40) | (has(6) ? 0 : 0x20) | (has(3) ? 0 : 0x10) | mmm;
  const vvvv = has(1) ? 15 : 0;
  const P1 = (W << 7) | ((~vvvv & 15) << 3) | 4 | pp;
  const P2 = (has(0) ? 0x80 : 0) | (LL << 5) | (b << 4) | (has(2) ? 0 : 8) | aaa;
  p.push(0x62, P0, P1, P2, op);
  const head = p.length;
  p.push(...evexClassBytes(cls));
  if (cls >= 16) p[p.length - 1] = freeIndex(cls - 16, vvvv & 7) << 3;
  return { bytes: p, head };
}
t0 = performance.now();
const evRowPat = new Uint16Array(2 * 8 * 256 * 4);
const evRowInfo = new Uint8Array(2 * 8 * 256 * 4);
const evPatterns = [new Uint16Array(768)];
const evIds = new Map([[Buffer.from(evPatterns[0].buffer).toString('base64'), 0]]);
for (let b64 = 0; b64 < 2; b64++) {
  const bitness = b64 ? 64 : 32;
  for (let mmm = 0; mmm < 8; mmm++) {
    for (let op = 0; op < 256; op++) {
      for (let pp = 0; pp < 4; pp++) {
        const row = ((b64 * 8 + mmm) * 256 + op) * 4 + pp;
        const base = [];
        for (let K = 0; K < 768; K++) base.push(evexProbe(mmm, op, pp, K, -1).bytes);
        const r0 = probeAll(bitness, base);
        if (!r0.some((v) => v >= 0)) continue;
        const probes = [];
        for (let K = 0; K < 768; K++) for (let f = 0; f < 8; f++) probes.push(evexProbe(mmm, op, pp, K, f).bytes);
        const r = probeAll(bitness, probes);
        const pat = new Uint16Array(768);
        for (let K = 0; K < 768; K++) {
          let m = r0[K] >= 0 ? 1 : 0;
          for (let f = 0; f < 8; f++) if (r[K * 8 + f] >= 0) m |= 2 << f;
          pat[K] = m;
        }
        evRowPat[row] = internPattern(evPatterns, evIds, pat);
        const K = r0.findIndex((v) => v >= 0);
        const { head } = evexProbe(mmm, op, pp, K, -1);
        let vsib = 0;
        for (let kk = 0; kk < 768 && !vsib; kk++) {
          if (kk % 24 < 16 || r0[kk] < 0) continue;
          const pr = evexProbe(mmm, op, pp, kk, -1).bytes;
          if (probeAll(bitness, [withCollision(pr, (kk % 24) - 16 + 72)])[0] < 0) vsib = 0x10;
        }
        // complex FP16 (vf[c]maddc*, vf[c]mulc*): the destination differs from both sources (bit 5)
        let distinct = 0;
        for (let kk = 0; kk < 768 && !distinct; kk++) {
          const c = kk % 24;
          if (c === 0 || c >= 8 || r0[kk] < 0) continue;
          const pr = evexProbe(mmm, op, pp, kk, -1).bytes;
          pr[pr.length - 1] = 0xc0 | (c << 3) | c; // rm = reg
          if (probeAll(bitness, [pr])[0] < 0) distinct = 0x20;
        }
        evRowInfo[row] = 0x80 | distinct | vsib | (r0[K] - head - evexClassBytes(K % 24).length);
      }
    }
  }
}
console.log(`evex: ${evPatterns.length} patterns, ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// ---- output -------------------------------------------------------------------------------
function pack(arrays) {
  const n = arrays.reduce((a, v) => a + v.byteLength, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const a of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), o);
    o += a.byteLength;
  }
  return deflateSync(out, { level: 9 }).toString('base64');
}
const legRow16 = Uint16Array.from(legRow);
if (legPatterns.length > 65535) throw new Error('too many legacy patterns');
const json = {
  about: 'Validity and length tables of src/evidence/decode/x86-fast.ts, probed from iced-x86 by scripts/gen-x86-tables.mjs (layout described there). Generated: do not edit.',
  iced: icedVersion,
  mnemonics: MN,
  legacy: { rows: pack([legRow16]), info: pack([legInfo]), mn: pack([legMn]), flow: pack([legFlow]), patterns: legPatterns.length, data: pack(legPatterns) },
  d3now: pack([d3now]),
  vex: { rows: pack([vex.rowPat]), info: pack([vex.rowInfo]), patterns: vex.patterns.length, data: pack(vex.patterns) },
  xop: { rows: pack([xop.rowPat]), info: pack([xop.rowInfo]), patterns: xop.patterns.length, data: pack(xop.patterns) },
  evex: { rows: pack([evRowPat]), info: pack([evRowInfo]), patterns: evPatterns.length, data: pack(evPatterns) },
};
fs.writeFileSync(OUT, JSON.stringify(json, null, 1) + '\n');
console.log(`wrote ${OUT}: ${fs.statSync(OUT).size} bytes`);
