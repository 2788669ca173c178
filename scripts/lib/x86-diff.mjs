// The comparison of the table-driven x86/x64 decoder (src/evidence/decode/x86-fast.ts) with
// iced-x86, instruction by instruction; shared by test/x86-diff.test.ts (fixtures, random
// bytes) and scripts/x86-diff-devset.mjs (the development corpus).
//
//   const cmp = x86Comparer(iced, fast);   // iced-x86's module, x86-fast's module
//   cmp.sweep(bitness, bytes, start, end, va, tally)  // linear sweep of bytes[start, end)
//   cmp.one(bitness, bytes, pos, end, va, tally)      // one instruction; returns iced's length (0 invalid)
//
// iced's decoder is kept per buffer (by identity): pass a buffer that is not modified afterwards.
//
// Per instruction: validity and length always; for a valid one the flow class, the near-branch
// target (operand size and low 32 bits), the mnemonic class, and for a modelled mnemonic the
// first two operands (kind; register number and size; memory base, index, scale, displacement,
// access size, segment prefix; immediate's 64 bits). Counts go to `tally` per field.

/** A fresh tally. */
export function newTally() {
  return {
    instructions: 0,
    invalid: 0,
    length: 0,
    flow: 0,
    target: 0,
    branches: 0,
    mnemonic: 0,
    modelled: 0,
    operands: 0,
    notModelledOperands: 0,
    byClass: {},
    disagreements: 0,
    examples: new Map(), // kind -> { n, example }
  };
}

export function x86Comparer(x, f) {
  const out = f.x86Out();
  const ins = new x.Instruction();
  const decoders = new Map();
  // iced's mnemonic -> our class
  const mnOf = new Map();
  for (const [name, v] of Object.entries(x.Mnemonic)) {
    if (typeof v !== 'number') continue;
    const n = name.toLowerCase();
    let c = f.MN_NAMES.indexOf(n);
    if (/^j(n?[abceglopsz]|n?[abgl]e|np|pe|po)$/.test(n) && !/^jn?cxz$/.test(n)) c = f.MN_NAMES.indexOf('jcc');
    if (/^cmov/.test(n)) c = f.MN_NAMES.indexOf('cmovcc');
    if (c > 0) mnOf.set(v, c);
  }
  const R = x.Register;
  /** iced register -> [number, size], R_RIP for RIP/EIP, null for a non-general register. */
  function gpr(r) {
    if (r === R.None) return [-1, 0];
    if (r === R.RIP || r === R.EIP) return [f.R_RIP, 0];
    if (r >= R.AL && r <= R.BL) return [r - R.AL, 1];
    if (r >= R.AH && r <= R.BH) return [f.R_AH + r - R.AH, 1];
    if (r >= R.SPL && r <= R.R15L) return [4 + r - R.SPL, 1];
    if (r >= R.AX && r <= R.R15W) return [r - R.AX, 2];
    if (r >= R.EAX && r <= R.R15D) return [r - R.EAX, 4];
    if (r >= R.RAX && r <= R.R15) return [r - R.RAX, 8];
    return null;
  }
  const M = x.MemorySize;
  const memSize = new Map([
    [M.UInt8, 1], [M.Int8, 1], [M.UInt16, 2], [M.Int16, 2], [M.WordOffset, 2], [M.UInt32, 4], [M.Int32, 4], [M.DwordOffset, 4],
    [M.UInt64, 8], [M.Int64, 8], [M.QwordOffset, 8], [M.Unknown, 0],
  ]);
  const K = x.OpKind;
  const seg = (r) => (r === R.None ? 0 : r - R.ES + 1);

  function note(t, kind, text) {
    t.disagreements++;
    const e = t.examples.get(kind);
    if (e) e.n++;
    else t.examples.set(kind, { n: 1, example: text });
  }

  /** The operand n of iced's instruction against ours; returns a difference or null. */
  function operand(n) {
    const base = n === 0 ? f.F_OP0_KIND : f.F_OP1_KIND;
    const kind = out[base];
    if (n >= ins.opCount) return kind === f.OK_NONE ? null : `op${n} kind ${kind}, iced has no operand`;
    const k = ins.opKind(n);
    if (k === K.Register) {
      const g = gpr(ins.opRegister(n));
      if (!g) return kind === f.OK_NOT_MODELLED ? null : `op${n} kind ${kind}, iced register ${ins.opRegister(n)}`;
      if (kind !== f.OK_REG) return `op${n} kind ${kind}, iced a register`;
      return out[base + 1] === g[0] && out[base + 2] === g[1] ? null : `op${n} reg ${out[base + 1]}/${out[base + 2]}, iced ${g[0]}/${g[1]}`;
    }
    if (k === K.NearBranch16 || k === K.NearBranch32 || k === K.NearBranch64) return kind === f.OK_BRANCH ? null : `op${n} kind ${kind}, iced a near branch`;
    if (k === K.Memory) {
      if (kind === f.OK_NOT_MODELLED) return null;
      if (kind !== f.OK_MEM) return `op${n} kind ${kind}, iced memory`;
      const b = gpr(ins.memoryBase);
      const i = gpr(ins.memoryIndex);
      const d = Number(BigInt.asIntN(32, BigInt(ins.memoryDisplacement)));
      const sz = memSize.get(ins.memorySize);
      const ours = `[${out[f.F_MEM_BASE]}+${out[f.F_MEM_INDEX]}*${out[f.F_MEM_SCALE]}+${out[f.F_MEM_DISP]}] size ${out[base + 2]} seg ${out[f.F_SEG]}`;
      const theirs = `[${b?.[0]}+${i?.[0]}*${ins.memoryIndexScale}+${d}] size ${sz} seg ${seg(ins.segmentPrefix)}`;
      const same =
        b && i && b[0] === out[f.F_MEM_BASE] && i[0] === out[f.F_MEM_INDEX] && (i[0] < 0 || ins.memoryIndexScale === out[f.F_MEM_SCALE]) && d === out[f.F_MEM_DISP] &&
        (sz === undefined || sz === out[base + 2]) && seg(ins.segmentPrefix) === out[f.F_SEG];
      return same ? null : `op${n} memory ${ours}, iced ${theirs}`;
    }
    if (k >= K.Immediate8 && k <= K.Immediate32to64 && k !== K.Immediate8_2nd) {
      if (kind !== f.OK_IMM) return `op${n} kind ${kind}, iced an immediate`;
      const v = BigInt.asUintN(64, BigInt(ins.immediate(n)));
      const lo = Number(v & 0xffffffffn) | 0;
      const hi = Number(v >> 32n) | 0;
      return lo === out[f.F_IMM_LO] && hi === out[f.F_IMM_HI] ? null : `op${n} imm ${out[f.F_IMM_HI]}:${out[f.F_IMM_LO]}, iced ${hi}:${lo}`;
    }
    return kind === f.OK_NOT_MODELLED ? null : `op${n} kind ${kind}, iced kind ${k}`;
  }

  function decoderFor(bitness, bytes) {
    let d = decoders.get(bytes);
    if (!d || d.bitness !== bitness) {
      for (const v of decoders.values()) v.dec.free();
      decoders.clear();
      d = { bitness, dec: new x.Decoder(bitness, bytes, x.DecoderOptions.None), at: -1 };
      decoders.set(bytes, d);
    }
    return d;
  }

  /** Compare the instruction at bytes[pos] (the buffer ends at `end`); returns iced's length, 0 if invalid. */
  function one(bitness, bytes, pos, end, va, t, hex = true) {
    const d = decoderFor(bitness, end === bytes.length ? bytes : bytes.subarray(0, end));
    if (d.at !== pos) {
      d.dec.position = pos;
      d.dec.ip = BigInt(va + pos);
    }
    d.dec.decodeOut(ins);
    const len = ins.code === x.Code.INVALID ? 0 : ins.length;
    d.at = len ? pos + len : -1;
    const ours = f.decodeX86(bytes, pos, end, bitness, va + pos, out);
    t.instructions++;
    const where = () => `${bitness}-bit ${hex ? Buffer.from(bytes.subarray(pos, Math.min(end, pos + 15))).toString('hex') : ''} @${(va + pos).toString(16)}`;
    if (len === 0) t.invalid++;
    if (ours !== len) {
      note(t, len === 0 ? 'valid, iced invalid' : ours === 0 ? 'invalid, iced valid' : 'length', `${where()}: ours ${ours}, iced ${len} (${len ? ins.toString() : 'invalid'})`);
      return len;
    }
    t.length++;
    if (len === 0) return 0;
    const diffs = [];
    if (ins.flowControl === out[f.F_FLOW]) t.flow++;
    else diffs.push(`flow ${out[f.F_FLOW]}, iced ${ins.flowControl}`);
    const k0 = ins.opCount > 0 ? ins.opKind(0) : -1;
    if (k0 === K.NearBranch16 || k0 === K.NearBranch32 || k0 === K.NearBranch64) {
      t.branches++;
      const size = k0 === K.NearBranch16 ? 16 : k0 === K.NearBranch32 ? 32 : 64;
      const tgt = Number(BigInt.asUintN(64, BigInt(ins.nearBranchTarget)) & 0xffffffffn) | 0;
      if (out[f.F_BRANCH] === size && out[f.F_TARGET] === tgt) t.target++;
      else diffs.push(`branch ${out[f.F_BRANCH]} ${out[f.F_TARGET]}, iced ${size} ${tgt}`);
    } else if (out[f.F_BRANCH] !== 0) diffs.push(`branch ${out[f.F_BRANCH]}, iced none`);
    const mn = mnOf.get(ins.mnemonic) ?? 0;
    if (mn === out[f.F_MN]) t.mnemonic++;
    else diffs.push(`class ${f.MN_NAMES[out[f.F_MN]]}, iced ${f.MN_NAMES[mn]}`);
    if (mn !== 0 && mn === out[f.F_MN]) {
      t.modelled++;
      const name = f.MN_NAMES[mn];
      t.byClass[name] = (t.byClass[name] ?? 0) + 1;
      const a = operand(0);
      const b = operand(1);
      if (a === null && b === null) {
        t.operands++;
        if (out[f.F_OP0_KIND] === f.OK_NOT_MODELLED || out[f.F_OP1_KIND] === f.OK_NOT_MODELLED) t.notModelledOperands++;
      } else diffs.push(`${name} ${a ?? ''} ${b ?? ''}`.trim());
    }
    if (diffs.length) note(t, `${f.MN_NAMES[mn]}: ${diffs.map((s) => s.replace(/-?\d+/g, 'N')).join('; ')}`, `${where()} ${ins.toString()}: ${diffs.join('; ')}`);
    return len;
  }

  /** Linear sweep of bytes[start, end): on after each instruction, one byte on after an invalid one. */
  function sweep(bitness, bytes, start, end, va, t) {
    let pos = start;
    while (pos < end) pos += one(bitness, bytes, pos, end, va, t) || 1;
  }

  function free() {
    for (const v of decoders.values()) v.dec.free();
    decoders.clear();
  }
  return { one, sweep, free };
}

/** One line per kind of disagreement, with its count and an example. */
export function disagreementLines(t, max = 40) {
  return [...t.examples].sort((a, b) => b[1].n - a[1].n).slice(0, max).map(([k, e]) => `${k} x${e.n}: ${e.example}`);
}

/** The agreement counts as one line. */
export function tallyLine(t) {
  const pct = (a, b) => (b ? `${a}/${b}` : '0/0');
  const valid = t.instructions - t.invalid;
  return (
    `${t.instructions} instructions (${t.invalid} invalid): length+validity ${pct(t.length, t.instructions)}, flow ${pct(t.flow, valid)}, ` +
    `branch target ${pct(t.target, t.branches)}, mnemonic class ${pct(t.mnemonic, valid)}, operands of modelled ${pct(t.operands, t.modelled)} ` +
    `(${t.notModelledOperands} with an operand marked not modelled), disagreements ${t.disagreements}`
  );
}
