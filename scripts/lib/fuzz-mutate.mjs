// Input generators for scripts/fuzz.mjs. Every input is a pure function of (seed set, run
// seed, iteration): the fuzzer's watchdog can rebuild the input a hung worker was on, and
// `--replay` rebuilds any iteration.
//
// PE mutations know the layout (headers, section table, data directories) so that they hit
// the structures a reader walks: truncation at every structure boundary, header fields,
// import descriptors, resource directories that loop, .pdata, the certificate table, huge
// counts, base relocations, and code full of branches into themselves.

/** xorshift128+-ish 32-bit generator from one integer seed (splitmix32 to spread it). */
export function rng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  const r = (n) => (n <= 0 ? 0 : next() % n);
  r.u32 = next;
  r.pick = (a) => a[r(a.length)];
  r.chance = (p) => next() / 4294967296 < p;
  return r;
}

/** The per-iteration seed. */
export const iterSeed = (runSeed, iter) => (Math.imul(runSeed >>> 0, 0x27d4eb2d) ^ Math.imul(iter + 1, 0x165667b1)) >>> 0;

const I32 = [0, 1, 2, 4, 0x7f, 0x80, 0xff, 0x100, 0x1000, 0xfff, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x10000000];
const I16 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff, 96, 97];

const u16 = (b, o) => (o >= 0 && o + 2 <= b.length ? b.readUInt16LE(o) : 0);
const u32 = (b, o) => (o >= 0 && o + 4 <= b.length ? b.readUInt32LE(o) : 0);
const w16 = (b, o, v) => {
  if (o >= 0 && o + 2 <= b.length) b.writeUInt16LE(v & 0xffff, o);
};
const w32 = (b, o, v) => {
  if (o >= 0 && o + 4 <= b.length) b.writeUInt32LE(v >>> 0, o);
};

/** Where the structures of a PE image are (everything bounds-checked; null when not a PE). */
export function peLayout(b) {
  if (b.length < 0x40 || u16(b, 0) !== 0x5a4d) return null;
  const lf = u32(b, 0x3c);
  if (lf + 24 > b.length || u32(b, lf) !== 0x4550) return null;
  const fh = lf + 4;
  const machine = u16(b, fh);
  const nsec = u16(b, fh + 2);
  const optSize = u16(b, fh + 16);
  const opt = fh + 20;
  const pe32p = u16(b, opt) === 0x20b;
  const nrvaOff = opt + (pe32p ? 108 : 92);
  const ddOff = opt + (pe32p ? 112 : 96);
  const secOff = opt + optSize;
  const sections = [];
  for (let i = 0; i < Math.min(nsec, 96); i++) {
    const o = secOff + 40 * i;
    if (o + 40 > b.length) break;
    sections.push({ hdr: o, vsize: u32(b, o + 8), va: u32(b, o + 12), rawSize: u32(b, o + 16), rawPtr: u32(b, o + 20), ch: u32(b, o + 36) });
  }
  const dirs = [];
  for (let i = 0; i < 16; i++) {
    const o = ddOff + 8 * i;
    dirs.push(o + 8 <= b.length ? { off: o, rva: u32(b, o), size: u32(b, o + 4) } : null);
  }
  const rvaToOff = (rva) => {
    for (const s of sections) {
      const span = Math.max(s.vsize, s.rawSize);
      if (rva >= s.va && rva < s.va + span) {
        const o = s.rawPtr + (rva - s.va);
        return o < b.length && rva - s.va < s.rawSize ? o : -1;
      }
    }
    return rva < b.length ? rva : -1;
  };
  return { lf, fh, machine, nsec, optSize, opt, pe32p, nrvaOff, ddOff, secOff, sections, dirs, rvaToOff, sizeOfImage: u32(b, opt + 56) };
}

function boundaries(b, L) {
  const out = [0x3c, 0x40, L.lf, L.lf + 4, L.fh + 20, L.opt + 2, L.nrvaOff, L.ddOff, L.secOff];
  for (const s of L.sections) out.push(s.hdr, s.hdr + 40, s.rawPtr, s.rawPtr + s.rawSize, s.rawPtr + (s.rawSize >>> 1));
  for (const d of L.dirs) {
    if (!d) continue;
    out.push(d.off);
    const o = d === L.dirs[4] ? d.rva : L.rvaToOff(d.rva);
    if (o > 0) out.push(o, o + 8, o + 20, o + d.size);
  }
  return out.filter((x) => x > 0 && x < b.length);
}

const interesting32 = (r, b, L) => r.pick([...I32, b.length, b.length - 1, b.length + 1, L?.sizeOfImage ?? 0, r.u32(), r(b.length * 2)]);

// ---- the mutators: (buf, layout|null, r) -> buf (may return a new, shorter buffer) -----

function bitflip(b, _L, r) {
  const n = 1 + r(8);
  for (let i = 0; i < n && b.length; i++) b[r(b.length)] ^= 1 << r(8);
  return b;
}

function bytes(b, L, r) {
  const n = 1 + r(6);
  for (let i = 0; i < n && b.length > 4; i++) {
    const o = r(b.length - 4);
    const k = r(3);
    if (k === 0) b[o] = r.pick([0, 0xff, 0x7f, 0x80, 1, r(256)]);
    else if (k === 1) w16(b, o, r.pick(I16));
    else w32(b, o, interesting32(r, b, L));
  }
  return b;
}

function truncate(b, L, r) {
  const cuts = L ? boundaries(b, L) : [];
  let at = cuts.length && r.chance(0.8) ? r.pick(cuts) + r.pick([0, 0, -1, 1, -4, 4, -8]) : r(b.length);
  at = Math.max(0, Math.min(b.length, at));
  return b.subarray(0, at);
}

function headerField(b, L, r) {
  if (!L) return bytes(b, L, r);
  const s = L.sections.length ? r.pick(L.sections) : null;
  const fields = [
    () => w16(b, L.fh + 2, r.pick([0, 1, L.nsec + 1, L.nsec - 1, 96, 97, 0xffff, r(0x10000)])), // NumberOfSections
    () => w16(b, L.fh + 16, r.pick([0, 0xe0, 0xf0, 0xffff, L.optSize + 8, L.optSize - 8, r(0x10000)])), // SizeOfOptionalHeader
    () => w32(b, L.opt + 56, interesting32(r, b, L)), // SizeOfImage
    () => w32(b, L.opt + 60, interesting32(r, b, L)), // SizeOfHeaders
    () => w32(b, L.opt + 16, interesting32(r, b, L)), // AddressOfEntryPoint
    () => w32(b, L.opt + 32, r.pick([0, 1, 3, 0x1000, 0x80000000])), // SectionAlignment
    () => w32(b, L.opt + 36, r.pick([0, 1, 3, 0x200, 0x80000000])), // FileAlignment
    () => w32(b, L.nrvaOff, r.pick([0, 1, 2, 5, 15, 16, 17, 100, 0x7fffffff, 0xffffffff])), // NumberOfRvaAndSizes
    () => w32(b, 0x3c, r.pick([0, 0x3c, 0x40, b.length - 4, b.length, 0xffffffff, L.lf + r.pick([-1, 1, 4])])), // e_lfanew
    () => w16(b, L.opt, r.pick([0x10b, 0x20b, 0x107, 0])), // Magic
    () => s && w32(b, s.hdr + 8, interesting32(r, b, L)), // VirtualSize
    () => s && w32(b, s.hdr + 12, interesting32(r, b, L)), // VirtualAddress
    () => s && w32(b, s.hdr + 16, interesting32(r, b, L)), // SizeOfRawData
    () => s && w32(b, s.hdr + 20, interesting32(r, b, L)), // PointerToRawData
    () => s && w32(b, s.hdr + 36, r.u32()), // Characteristics
    () => {
      const d = L.dirs[r(16)];
      if (d) w32(b, d.off + r.pick([0, 4]), interesting32(r, b, L));
    },
  ];
  const n = 1 + r(3);
  for (let i = 0; i < n; i++) r.pick(fields)();
  return b;
}

function imports(b, L, r) {
  if (!L) return bytes(b, L, r);
  const which = r.pick([1, 1, 1, 13, 12]); // import, delay import, IAT
  const d = L.dirs[which];
  if (!d) return headerField(b, L, r);
  const o = L.rvaToOff(d.rva);
  if (o < 0 || r.chance(0.2)) {
    w32(b, d.off, r.pick([0, 1, d.rva + 1, L.sizeOfImage - 4, L.sizeOfImage, 0xffffffff, r(L.sizeOfImage * 2 + 1)]));
    if (r.chance(0.3)) w32(b, d.off + 4, interesting32(r, b, L));
    return b;
  }
  const step = which === 13 ? 32 : 20;
  const n = Math.max(1, Math.min(64, Math.floor(d.size / step) || 1));
  for (let k = 1 + r(3); k > 0; k--) {
    const desc = o + step * r(n + 1); // sometimes the terminator
    const field = which === 13 ? r.pick([4, 8, 12, 16]) : r.pick([0, 4, 8, 12, 16]);
    const v = r.pick([0, d.rva, d.rva + step * r(n), 0xffffffff, 0x80000000, L.sizeOfImage, L.sizeOfImage - 1, r(L.sizeOfImage + 0x1000), r.u32()]);
    w32(b, desc + field, v);
    if (r.chance(0.3)) {
      // a thunk array pointing anywhere, or an ordinal/hint-name entry out of range
      const thunk = L.rvaToOff(u32(b, desc + (which === 13 ? 16 : 0)) || u32(b, desc + 16));
      if (thunk > 0) {
        if (L.pe32p) {
          w32(b, thunk + 8 * r(8), r.u32());
          w32(b, thunk + 8 * r(8) + 4, r.pick([0, 0x80000000, 0xffffffff]));
        } else w32(b, thunk + 4 * r(8), r.pick([0x80000000 | r(0x10000), r.u32(), 0xffffffff]));
      }
    }
  }
  return b;
}

/** Resource directories: entries pointing back at the root or at themselves, huge counts. */
function resources(b, L, r) {
  if (!L || !L.dirs[2]) return headerField(b, L, r);
  const base = L.rvaToOff(L.dirs[2].rva);
  if (base < 0 || base + 16 > b.length) return headerField(b, L, r);
  // walk a few directories to pick one
  const dirsSeen = [0];
  let cur = 0;
  for (let depth = 0; depth < 3; depth++) {
    const at = base + cur;
    const n = u16(b, at + 12) + u16(b, at + 14);
    if (n === 0 || n > 4096) break;
    const e = at + 16 + 8 * r(Math.min(n, 64));
    const off = u32(b, e + 4);
    if (!(off & 0x80000000)) break;
    cur = off & 0x7fffffff;
    if (base + cur + 16 > b.length) break;
    dirsSeen.push(cur);
  }
  const target = r.pick(dirsSeen);
  const at = base + target;
  const n = u16(b, at + 12) + u16(b, at + 14);
  const kind = r(4);
  if (kind === 0 && n > 0) w32(b, at + 16 + 8 * r(Math.min(n, 64)) + 4, 0x80000000 | r.pick(dirsSeen)); // loop: back to an ancestor or itself
  else if (kind === 1) w16(b, at + r.pick([12, 14]), r.pick([0xffff, 0x7fff, 0x1000, n + 1]));
  else if (kind === 2 && n > 0) w32(b, at + 16 + 8 * r(Math.min(n, 64)), r.pick([0x80000000 | r(0x10000), 0xffffffff, r.u32()])); // name pointer anywhere
  else if (n > 0) {
    // a data entry (leaf) with a huge size or an RVA anywhere
    const e = at + 16 + 8 * r(Math.min(n, 64));
    const off = u32(b, e + 4) & 0x7fffffff;
    const leaf = base + off;
    w32(b, leaf + r.pick([0, 4]), interesting32(r, b, L));
  }
  return b;
}

function pdata(b, L, r) {
  const d = L?.dirs[3];
  if (!d) return headerField(b, L, r);
  const o = L.rvaToOff(d.rva);
  const k = r(4);
  if (k === 0 || o < 0) w32(b, d.off + 4, r.pick([1, 3, 11, 0xfffffff0, 0xffffffff, d.size * 16, r.u32()]));
  else if (k === 1) for (let i = 0; i < Math.min(d.size, 4096); i++) b[o + i] = r(256);
  else if (k === 2) {
    // Begin > End, End out of the image, unwind info anywhere
    const n = Math.max(1, Math.floor(d.size / 12));
    for (let i = 0; i < 4; i++) {
      const e = o + 12 * r(n);
      w32(b, e + r.pick([0, 4, 8]), interesting32(r, b, L));
    }
  } else w32(b, d.off, r.pick([0, 1, 0xffffffff, L.sizeOfImage - 4, r.u32()]));
  return b;
}

function certificate(b, L, r) {
  const d = L?.dirs[4];
  if (!d) return headerField(b, L, r);
  const k = r(4);
  if (k === 0) w32(b, d.off + 4, r.pick([0xffffffff, 0xfffffff8, 0x80000000, 8, 7, 0, b.length - d.rva + 8]));
  else if (k === 1) w32(b, d.off, r.pick([b.length - 4, b.length - 8, b.length, 0xfffffff8, 0xffffffff, 1]));
  else if (k === 2 && d.rva > 0 && d.rva + 8 <= b.length) w32(b, d.rva, r.pick([0xffffffff, 0xfffffff8, 0, 7, 8, 9, d.size + 8])); // WIN_CERTIFICATE dwLength
  else if (d.rva > 0 && d.rva + 8 <= b.length) {
    // corrupt the DER inside: lengths in long form
    const p = d.rva + 8 + r(Math.max(1, Math.min(d.size, 2048)));
    if (p + 6 <= b.length) {
      b[p] = r.pick([0x30, 0x31, 0x02, 0x04, 0x06, 0xa0]);
      b[p + 1] = r.pick([0x84, 0x88, 0x8f, 0xff, 0x80]);
      w32(b, p + 2, r.pick([0xffffffff, 0x7fffffff, 0x01000000]));
    }
  }
  return b;
}

/** Huge counts: exports, relocations (SizeOfBlock 0 is a classic endless loop), debug, version. */
function hugeCounts(b, L, r) {
  if (!L) return bytes(b, L, r);
  const k = r(4);
  if (k === 0 && L.dirs[0]) {
    const o = L.rvaToOff(L.dirs[0].rva);
    if (o >= 0) w32(b, o + r.pick([20, 24, 28, 32, 36, 16, 12]), r.pick([0xffffffff, 0x7fffffff, 0x10000000, 0x100000, r.u32()]));
    else w32(b, L.dirs[0].off, r(L.sizeOfImage + 1));
  } else if (k === 1 && L.dirs[5]) {
    const o = L.rvaToOff(L.dirs[5].rva);
    if (o >= 0) w32(b, o + 4 + 8 * r(4), r.pick([0, 1, 7, 8, 0xffffffff, 0x80000000]));
    else w32(b, L.dirs[5].off + 4, 0xffffffff);
  } else if (k === 2 && L.dirs[6]) {
    w32(b, L.dirs[6].off + 4, r.pick([0xffffffff, 28 * 0x10000, 27, 29]));
    const o = L.rvaToOff(L.dirs[6].rva);
    if (o >= 0) w32(b, o + r.pick([16, 20, 24]), interesting32(r, b, L));
  } else {
    // VS_VERSIONINFO-ish: any wLength-looking u16 in the resource data
    const rs = L.dirs[2] ? L.rvaToOff(L.dirs[2].rva) : -1;
    if (rs >= 0) {
      const p = rs + 2 * r(Math.max(1, Math.min(L.dirs[2].size, 0x4000) >> 1));
      w16(b, p, r.pick([0xffff, 0, 1, 6, 0x7fff]));
    } else w16(b, L.fh + 2, 0xffff);
  }
  return b;
}

const X86_LOOPS = [
  [0xeb, 0xfe], // jmp $
  [0xe9, 0xfb, 0xff, 0xff, 0xff], // jmp $ (rel32 -5)
  [0x74, 0xfe], // jz $
  [0x75, 0xfc], // jnz $-2
  [0x0f, 0x84, 0xfa, 0xff, 0xff, 0xff], // jz rel32 $
  [0xe8, 0xfb, 0xff, 0xff, 0xff], // call $ (recursion)
  [0xe2, 0xfe], // loop $
  [0xeb, 0x00], // jmp +0
  [0xff, 0xe0], // jmp rax
];
const A64_LOOPS = [0x14000000, 0x17ffffff, 0xb4000000, 0xb5000001, 0x34000002, 0x54000000, 0x54ffffe1, 0x94000000, 0xd61f0000, 0x36000000, 0x17fffffe, 0x14000001];

/** Code sections full of branches into themselves (and back-jumps between each other). */
function selfBranches(b, L, r) {
  if (!L) return bytes(b, L, r);
  const code = L.sections.filter((s) => s.ch & 0x20000000 && s.rawPtr < b.length && s.rawSize > 0);
  const s = code.length ? r.pick(code) : L.sections[0];
  if (!s) return bytes(b, L, r);
  const start = s.rawPtr;
  const end = Math.min(b.length, s.rawPtr + s.rawSize);
  if (end - start < 8) return bytes(b, L, r);
  const arm = L.machine === 0xaa64;
  const mode = r(3); // 0: a block filled, 1: sprinkled among the real code, 2: back-jumps chain
  const from = start + r(end - start);
  const len = mode === 0 ? Math.min(end - from, 16 << r(8)) : end - from;
  if (arm) {
    const a = (from & ~3) >>> 0;
    if (mode === 0) for (let p = a; p + 4 <= a + len; p += 4) w32(b, p, r.pick(A64_LOOPS));
    else if (mode === 1) for (let i = 0; i < 8 + r(64); i++) w32(b, (start + r(end - start - 4)) & ~3, r.pick(A64_LOOPS));
    else for (let p = a, k = 0; p + 4 <= end && k < 256; p += 4 * (1 + r(8)), k++) w32(b, p, (0x14000000 | ((-(1 + r(16))) & 0x3ffffff)) >>> 0); // b back
  } else if (mode === 0) {
    for (let p = from; p < from + len; ) {
      const ins = r.pick(X86_LOOPS);
      for (let i = 0; i < ins.length && p < end; i++) b[p++] = ins[i];
    }
  } else if (mode === 1) {
    for (let i = 0; i < 8 + r(64); i++) {
      const ins = r.pick(X86_LOOPS);
      const p = start + r(end - start - ins.length);
      for (let j = 0; j < ins.length; j++) b[p + j] = ins[j];
    }
  } else {
    for (let p = from, k = 0; p + 5 <= end && k < 256; p += 5 + r(32), k++) {
      b[p] = 0xe9;
      b.writeInt32LE(-(5 + r(64)), p + 1); // back into the previous instructions
    }
  }
  return b;
}

function splice(b, _L, r, others) {
  const o = others[r(others.length)];
  if (!o || o.length < 16 || b.length < 16) return bytes(b, null, r);
  const n = Math.min(1 + r(4096), o.length, b.length);
  const src = r(o.length - n + 1);
  o.copy(b, r(b.length - n + 1), src, src + n);
  return b;
}

export const PE_MUTATORS = { bitflip, bytes, truncate, headerField, imports, resources, pdata, certificate, hugeCounts, selfBranches, splice };
const PE_WEIGHTS = [
  ['bitflip', 3],
  ['bytes', 2],
  ['truncate', 2],
  ['headerField', 3],
  ['imports', 2],
  ['resources', 2],
  ['pdata', 1],
  ['certificate', 1],
  ['hugeCounts', 2],
  ['selfBranches', 4],
  ['splice', 1],
];
const PE_TABLE = PE_WEIGHTS.flatMap(([n, w]) => Array(w).fill(n));

/** One mutated PE input: 1-3 stacked mutations of a seed. Returns { bytes, how }. */
export function mutatePe(seeds, r) {
  const i = r(seeds.length);
  let b = Buffer.from(seeds[i]);
  const how = [`seed ${i}`];
  const n = 1 + r(3);
  for (let k = 0; k < n; k++) {
    const name = r.pick(PE_TABLE);
    const L = peLayout(b);
    b = PE_MUTATORS[name](b, L, r, seeds);
    how.push(name);
  }
  return { bytes: b, how: how.join(' + ') };
}

// ---- text ------------------------------------------------------------------------------

const NASTY = ['\u0000', '\x1a', '\r', '\n', '\r\n', '\t', ' - ', '-', '*', '?', '<unknown>', '!', '\uFFFD', '\uD800', '\u2028', '9'.repeat(40), ' '.repeat(3000), 'x'.repeat(70000), ', Binary: ', '(', ')', '[', ']', '`', '0x', '-1', '1e309', 'NaN'];

function mutateTextBytes(b, r) {
  const k = r(6);
  if (k === 0) return bitflip(b, null, r);
  if (k === 1) return b.subarray(0, r(b.length + 1)); // truncated in the middle
  const s = b.toString('latin1');
  const lines = s.split('\n');
  if (k === 2 && lines.length > 1) {
    const i = r(lines.length);
    lines.splice(r(lines.length), 0, ...Array(1 + r(3)).fill(lines[i]));
    return Buffer.from(lines.join('\n'), 'latin1');
  }
  if (k === 3) {
    const p = r(s.length + 1);
    return Buffer.concat([Buffer.from(s.slice(0, p), 'latin1'), Buffer.from(r.pick(NASTY), 'utf8'), Buffer.from(s.slice(p), 'latin1')]);
  }
  if (k === 4) {
    // a number replaced by a huge or negative one
    return Buffer.from(s.replace(/\d+/g, (m) => (r.chance(0.05) ? r.pick(['99999999999999999999', '-1', '4294967296', '0x7fffffff', '']) : m)), 'latin1');
  }
  return bytes(b, null, r);
}

function mutateJson(text, r) {
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    return text;
  }
  const values = [null, -1, 0, 1e308, -0.5, 'x', '', [], {}, true, 2 ** 53, 'f'.repeat(64), '0xzz', { a: 1 }, [1, 2, 3], 'x'.repeat(100000)];
  for (let n = 1 + r(4); n > 0; n--) {
    // walk to a random node
    let parent = null;
    let key = null;
    let node = v;
    for (let d = 0; d < 6 && node && typeof node === 'object'; d++) {
      const keys = Object.keys(node);
      if (!keys.length) break;
      key = Array.isArray(node) ? r(node.length) : r.pick(keys);
      parent = node;
      node = node[key];
      if (r.chance(0.25)) break;
    }
    const value = structuredClone(r.pick(values)); // a fresh copy: the same object twice could make a cycle
    if (parent === null) v = value;
    else if (r.chance(0.15) && !Array.isArray(parent)) delete parent[key];
    else parent[key] = value;
  }
  return JSON.stringify(v);
}

/** One mutated text input for `kind` ('pooltag' | 'poolout' | 'report'). */
export function mutateText(kind, seeds, r) {
  const i = r(seeds.length);
  const seed = seeds[i];
  let b;
  let how;
  if (kind === 'report' && r.chance(0.5)) {
    const t = seed.toString('utf8');
    if (t.startsWith('{"type"')) {
      const lines = t.split('\n');
      const j = r(lines.length);
      lines[j] = mutateJson(lines[j], r);
      b = Buffer.from(lines.join('\n'));
      how = `seed ${i} + ndjson line ${j}`;
    } else {
      b = Buffer.from(mutateJson(t, r));
      how = `seed ${i} + json`;
    }
  } else {
    b = Buffer.from(seed);
    for (let n = 1 + r(3); n > 0; n--) b = mutateTextBytes(b, r);
    how = `seed ${i} + text`;
  }
  if (kind === 'pooltag' && r.chance(0.1)) b = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(b.toString('latin1'), 'utf16le')]); // PowerShell's UTF-16LE
  return { bytes: b, how };
}

/** Which target an iteration fuzzes. */
export function pickTarget(r) {
  const x = r(100);
  if (x < 70) return 'pe';
  if (x < 80) return 'pooltag';
  if (x < 90) return 'poolout';
  return 'report';
}

/** The input of one iteration (pure). */
export function generate(seedSet, runSeed, iter) {
  const r = rng(iterSeed(runSeed, iter));
  const target = pickTarget(r);
  // PE: the small fixture drivers (fast, every architecture and compiler) most of the time
  const seeds = target === 'pe' && seedSet.peSmall?.length && r.chance(0.6) ? seedSet.peSmall : seedSet[target];
  const m = target === 'pe' ? mutatePe(seeds, r) : mutateText(target, seeds, r);
  return { target, ...m };
}
