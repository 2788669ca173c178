/**
 * String extraction ("evidence" stage): the printable runs of a file, exactly as GNU
 * `strings -a -n N` (7-bit ASCII) and `strings -a -n N -el` (UTF-16LE) report them,
 * plus a data-driven classifier that picks out device names, registry paths, PDB
 * paths, file names, URLs and pool-tag-looking 4-character runs.
 *
 * ## The GNU semantics we reproduce (binutils 2.40 `strings.c`, checked by experiment)
 *
 * A *string character* is `c == '\t' || ISPRINT(c)`, where `ISPRINT` is libiberty's
 * locale-independent safe-ctype: 0x20..0x7E. So TAB and space are in; LF, CR, VT, FF,
 * DEL (0x7F) and every byte >= 0x80 are out (`-w` and `-e S` change that; we don't
 * model them). A string therefore never contains a newline, which is why GNU's
 * one-string-per-line output can be split on '\n'.
 *
 * ASCII (`-e s`, the default): a maximal run of string characters of length >= N is
 * printed at the offset of its first byte; a run that reaches end-of-file is printed.
 *
 * UTF-16LE (`-e l`): `strings` reads 2-byte units from offset 0. A unit is good when its
 * high (second) byte is 0 and its low byte is a string character. After a bad unit at
 * byte offset q it pushes the unit's second byte back (`unget_part_char`) and goes on
 * at q + 1; after a good unit, at q + 2. Runs of >= N consecutive good units are printed
 * at the offset of their first byte; an odd trailing byte is an incomplete unit (EOF),
 * so a run ending there is printed and the byte ignored. The text is the low bytes.
 * Equivalently, and this is what we compute: a good unit at p has a 0 at p + 1, so good
 * units never overlap, the byte-by-byte resync visits every good unit, and a run is a
 * maximal chain of good units at p, p + 2, p + 4, ... — whatever the parity of p. Chains
 * of the two parities never touch (a chain ending at q is followed by a bad unit at q
 * and a 0 low byte at q - 1), so the runs are exactly the maximal byte ranges covered by
 * good units, with 2N bytes or more.
 *
 * ## How
 *
 * A small WebAssembly SIMD kernel (assembled below, ~1 KB) classifies 64 bytes at a
 * time into 64-bit masks and finds the runs of >= N set bits with shifts and
 * count-trailing-zeros; for UTF-16 the mask is "byte covered by a good unit". It writes
 * (start, end, flags) records; JS turns only those into strings (`latin1Slice` /
 * `ucs2Slice`). `flags` says which of the classifier's trigger characters (`\ : _ .`)
 * occur in the run, so `extractClassifiedStrings` never materialises a run no rule can
 * match. Where WebAssembly SIMD is missing, or for inputs over 1 GiB, the same results
 * come from plain byte loops over a 256-entry class table (`scanRunsJs`).
 */

export interface FoundString {
  /** File offset of the first byte of the run (as `strings -t d` prints it). */
  offset: number;
  /** The run, ASCII only (UTF-16 runs decoded to their low bytes). */
  text: string;
}

export interface ExtractedStrings {
  ascii: FoundString[];
  utf16: FoundString[];
}

export interface ExtractOptions {
  /** Minimum run length in characters (GNU `-n`). Default 4; must be an integer >= 1. */
  minLength?: number;
}

export type StringEncoding = 'ascii' | 'utf16';

/** 1 for a GNU `strings` string character (TAB or 0x20..0x7E), 0 otherwise. */
export const STRING_CHAR: Uint8Array = (() => {
  const t = new Uint8Array(256);
  t[0x09] = 1;
  for (let c = 0x20; c <= 0x7e; c++) t[c] = 1;
  return t;
})();

export const DEFAULT_MIN_LENGTH = 4;

function asBuffer(buf: Buffer | Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

function checkMin(minLength: number | undefined): number {
  const min = minLength ?? DEFAULT_MIN_LENGTH;
  if (!Number.isInteger(min) || min < 1) {
    throw new RangeError(`minLength must be an integer >= 1 (got ${String(minLength)})`);
  }
  return min;
}

/** Buffer's native slice decoders: no argument normalisation, faster than toString(). */
interface NativeSlices {
  latin1Slice(start: number, end: number): string;
  ucs2Slice(start: number, end: number): string;
}
const HAS_NATIVE_SLICES =
  typeof (Buffer.prototype as unknown as Partial<NativeSlices>).latin1Slice === 'function' &&
  typeof (Buffer.prototype as unknown as Partial<NativeSlices>).ucs2Slice === 'function';

function decodeAscii(buf: Buffer, s: number, e: number): string {
  return HAS_NATIVE_SLICES ? (buf as unknown as NativeSlices).latin1Slice(s, e) : buf.toString('latin1', s, e);
}
/** UTF-16 runs have 0 high bytes and ASCII low bytes: UTF-16LE decoding gives the low bytes. */
function decodeUtf16(buf: Buffer, s: number, e: number): string {
  return HAS_NATIVE_SLICES ? (buf as unknown as NativeSlices).ucs2Slice(s, e) : buf.toString('utf16le', s, e);
}

/**
 * Receives each run as a byte range [start, end) in file order. `flags` is the OR of
 * `flagTable[byte]` over the run's bytes when a flag table was given, else 0.
 */
type RunVisitor = (start: number, end: number, flags: number) => void;

// ---------------------------------------------------------------------------------------
// Reference scanner: plain byte loops (fallback, and the definition the kernel is tested against)
// ---------------------------------------------------------------------------------------

function orFlags(buf: Uint8Array, s: number, e: number, table: Int32Array): number {
  let f = 0;
  for (let i = s; i < e; i++) f |= table[buf[i]];
  return f;
}

/** Runs of >= min string characters (ASCII) or >= min good 16-bit LE units (UTF-16), in file order. */
export function scanRunsJs(
  buf: Uint8Array,
  min: number,
  encoding: StringEncoding,
  visit: RunVisitor,
  flagTable?: Int32Array,
): void {
  const T = STRING_CHAR;
  if (encoding === 'ascii') {
    const n = buf.length;
    let i = 0;
    while (i < n) {
      if (T[buf[i]] === 0) {
        i++;
        continue;
      }
      const s = i;
      i++;
      while (i < n && T[buf[i]] !== 0) i++;
      if (i - s >= min) visit(s, i, flagTable ? orFlags(buf, s, i, flagTable) : 0);
      i++; // buf[i] is not a string character (or i == n)
    }
    return;
  }
  const last = buf.length - 1; // a unit at p needs p + 1 <= last
  const minBytes = min * 2;
  let p = 0;
  while (p < last) {
    if (buf[p + 1] !== 0 || T[buf[p]] === 0) {
      p++; // bad unit: GNU resumes one byte later
      continue;
    }
    const s = p;
    p += 2;
    while (p < last && buf[p + 1] === 0 && T[buf[p]] !== 0) p += 2;
    if (p - s >= minBytes) visit(s, p, flagTable ? orFlags(buf, s, p, flagTable) : 0);
    p++; // the unit at p was bad (or incomplete)
  }
}

// ---------------------------------------------------------------------------------------
// WebAssembly SIMD kernel
// ---------------------------------------------------------------------------------------

/*
 * Memory layout: [0, OUT_CAP*12) output records (i32 start, end, flags); FLAG_TABLE:
 * 256 i32 flags per byte value; DATA: the input, followed by PAD bytes of 0xFF (not a
 * string character and not 0, so runs and units stop at the end of the input).
 *
 * scan(mode, n, minB, cap, wantFlags) -> records written. mode 0 = ASCII, 1 = UTF-16;
 * minB = minimum run length in bytes. Resumable: globals `pos` (next 64-byte block),
 * `runStart` (start of the run of set mask bits reaching the end of the previous block,
 * or -1) and `carry` (UTF-16: the previous block's last byte held a good unit, so this
 * block's first byte is covered). It returns when the input is done (pos >= n) or fewer
 * than 33 records are free (a block emits at most 33). A run reaching exactly the end of
 * the input is left in `runStart` for the caller.
 *
 * Per block: S = string-character mask of bytes base..base+63 (i8x16 compares + bitmask).
 * UTF-16: G = S & Z', Z' = zero mask of bytes base+1..base+64 (bit p: unit at p is good);
 * the mask is then C = G | G << 1 | carry (bytes covered by good units). Then, on the mask:
 * close the carried run at the first 0; set aside the run touching bit 63 as the new
 * carried run; find the internal runs of >= minB ones through r = AND of mask >> k for
 * k < minB (computed by doubling), whose lowest set bit is a run start, the run's end
 * being the next 0 of the mask.
 */
const OUT_CAP = 4096;
const FLAG_TABLE = OUT_CAP * 12;
const DATA = 65536;
const PAD = 128;

function buildKernel(): Uint8Array<ArrayBuffer> {
  const uleb = (v: number): number[] => {
    const o: number[] = [];
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v) b |= 0x80;
      o.push(b);
    } while (v);
    return o;
  };
  const sleb = (x: number): number[] => {
    let v = BigInt(x);
    const o: number[] = [];
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      if ((v === 0n && !(b & 0x40)) || (v === -1n && b & 0x40)) {
        o.push(b);
        return o;
      }
      o.push(b | 0x80);
    }
  };
  const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
  const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
  const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, 'latin1')];

  const I32 = 0x7f, I64 = 0x7e, V128 = 0x7b, VOID = 0x40;
  // params 0..4, then i32 locals 5..12, i64 locals 13..19, v128 local 20
  const L = { mode: 0, n: 1, minB: 2, cap: 3, wantFlags: 4, base: 5, count: 6, end: 7, newRun: 8, es: 9, ee: 10, ei: 11, ef: 12, m: 13, g: 14, r: 15, s: 16, e: 17, w: 18, t: 19, v: 20 };
  const GL = { pos: 0, runStart: 1, carry: 2 };
  const get = (l: number) => [0x20, ...uleb(l)];
  const set = (l: number) => [0x21, ...uleb(l)];
  const tee = (l: number) => [0x22, ...uleb(l)];
  const gget = (g: number) => [0x23, ...uleb(g)];
  const gset = (g: number) => [0x24, ...uleb(g)];
  const i32c = (v: number) => [0x41, ...sleb(v)];
  const i64c = (v: number) => [0x42, ...sleb(v)];
  const simd = (o: number) => [0xfd, ...uleb(o)];
  const block = (body: number[]) => [0x02, VOID, ...body, 0x0b];
  const loop = (body: number[]) => [0x03, VOID, ...body, 0x0b];
  const if_ = (body: number[]) => [0x04, VOID, ...body, 0x0b];
  const br = (d: number) => [0x0c, ...uleb(d)];
  const brIf = (d: number) => [0x0d, ...uleb(d)];
  const op = {
    i32Eqz: 0x45, i32Ne: 0x47, i32LtS: 0x48, i32GtU: 0x4b, i32LeS: 0x4c, i32GeS: 0x4e, i32GeU: 0x4f, i32LtU: 0x49,
    i64Eqz: 0x50, i64Eq: 0x51, i64Ne: 0x52, i64LtS: 0x53, i64LtU: 0x54, i64LeU: 0x58,
    i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32And: 0x71, i32Or: 0x72, i32Shl: 0x74,
    i64Clz: 0x79, i64Ctz: 0x7a, i64Sub: 0x7d, i64Add: 0x7c, i64And: 0x83, i64Or: 0x84, i64Xor: 0x85, i64Shl: 0x86, i64ShrU: 0x88,
    i32WrapI64: 0xa7, i64ExtendI32U: 0xad,
    i32Load: 0x28, i32Load8U: 0x2d, i32Store: 0x36,
  };
  const mem = (o: number, align: number, offset: number) => [o, align, ...uleb(offset)];
  const v128Load = (offset: number) => [...simd(0x00), 0, ...uleb(offset)];
  const splat = (b: number) => [...i32c(b), ...simd(0x0f)];
  const not64 = (x: number[]) => [...x, ...i64c(-1), op.i64Xor];

  // 16-bit masks of the 16 bytes at DATA + base + 16k (+1 for the zero mask).
  const sMask16 = (k: number) => [
    ...get(L.base), ...v128Load(DATA + 16 * k), ...tee(L.v),
    ...splat(0x1f), ...simd(0x27), // i8x16.gt_s: 0x20..0x7f
    ...get(L.v), ...splat(0x7f), ...simd(0x24), ...simd(0x4e), // i8x16.ne 0x7f; v128.and
    ...get(L.v), ...splat(0x09), ...simd(0x23), ...simd(0x50), // i8x16.eq TAB; v128.or
    ...simd(0x64), op.i64ExtendI32U, // i8x16.bitmask
  ];
  const zMask16 = (k: number) => [
    ...get(L.base), ...v128Load(DATA + 1 + 16 * k), ...splat(0), ...simd(0x23), ...simd(0x64), op.i64ExtendI32U,
  ];
  const mask64 = (f: (k: number) => number[]) => [
    ...f(0),
    ...f(1), ...i64c(16), op.i64Shl, op.i64Or,
    ...f(2), ...i64c(32), op.i64Shl, op.i64Or,
    ...f(3), ...i64c(48), op.i64Shl, op.i64Or,
  ];
  // Record (es, ee, flags) at count * 12; flags = OR of FLAG_TABLE[byte] when wantFlags.
  const emit = (startExpr: number[], endExpr: number[]) => [
    ...startExpr, ...set(L.es), ...endExpr, ...set(L.ee),
    ...i32c(0), ...set(L.ef),
    ...get(L.wantFlags), ...if_([
      ...get(L.es), ...set(L.ei),
      ...block([...loop([
        ...get(L.ei), ...get(L.ee), op.i32GeU, ...brIf(1),
        ...get(L.ef),
        ...get(L.ei), ...mem(op.i32Load8U, 0, DATA), ...i32c(2), op.i32Shl, ...mem(op.i32Load, 2, FLAG_TABLE),
        op.i32Or, ...set(L.ef),
        ...get(L.ei), ...i32c(1), op.i32Add, ...set(L.ei),
        ...br(0),
      ])]),
    ]),
    ...get(L.count), ...i32c(12), op.i32Mul, ...get(L.es), ...mem(op.i32Store, 2, 0),
    ...get(L.count), ...i32c(12), op.i32Mul, ...get(L.ee), ...mem(op.i32Store, 2, 4),
    ...get(L.count), ...i32c(12), op.i32Mul, ...get(L.ef), ...mem(op.i32Store, 2, 8),
    ...get(L.count), ...i32c(1), op.i32Add, ...set(L.count),
  ];
  const absolute = (local: number) => [...get(L.base), ...get(local), op.i32WrapI64, op.i32Add];

  const body = [
    ...gget(GL.pos), ...set(L.base),
    ...block([ // $done
      ...loop([ // $block
        ...get(L.base), ...get(L.n), op.i32GeU, ...brIf(1),
        ...get(L.count), ...i32c(33), op.i32Add, ...get(L.cap), op.i32GtU, ...brIf(1),
        ...mask64(sMask16), ...set(L.m),
        ...get(L.mode), ...if_([
          ...get(L.m), ...mask64(zMask16), op.i64And, ...set(L.g),
          ...get(L.g), ...get(L.g), ...i64c(1), op.i64Shl, op.i64Or, ...gget(GL.carry), op.i64Or, ...set(L.m),
          ...get(L.g), ...i64c(63), op.i64ShrU, ...gset(GL.carry),
        ]),
        // The run carried from the previous block ends at the first 0 bit.
        ...block([
          ...gget(GL.runStart), ...i32c(0), op.i32LtS, ...brIf(0),
          ...not64(get(L.m)), op.i64Ctz, ...tee(L.t),
          ...i64c(64), op.i64Eq, ...if_([
            ...get(L.base), ...i32c(64), op.i32Add, ...set(L.base),
            ...br(2), // the whole block continues the run: next block
          ]),
          ...absolute(L.t), ...set(L.end),
          ...get(L.end), ...gget(GL.runStart), op.i32Sub, ...get(L.minB), op.i32GeS, ...if_(
            emit(gget(GL.runStart), get(L.end)),
          ),
          ...i32c(-1), ...gset(GL.runStart),
          // clear bits 0..t
          ...get(L.m), ...not64([...i64c(2), ...get(L.t), op.i64Shl, ...i64c(1), op.i64Sub]), op.i64And, ...set(L.m),
        ]),
        // The run touching bit 63 is carried into the next block.
        ...i32c(-1), ...set(L.newRun),
        ...get(L.m), ...i64c(0), op.i64LtS, ...if_([
          ...i64c(64), ...not64(get(L.m)), op.i64Clz, op.i64Sub, ...set(L.t),
          ...absolute(L.t), ...set(L.newRun),
          ...get(L.m), ...not64([...i64c(-1), ...get(L.t), op.i64Shl]), op.i64And, ...set(L.m),
        ]),
        // Internal runs (at most 63 long) of >= minB bits.
        ...get(L.m), ...i64c(0), op.i64Ne, ...get(L.minB), ...i32c(63), op.i32LeS, op.i32And, ...if_([
          ...get(L.m), ...set(L.r), ...i64c(1), ...set(L.w),
          ...block([...loop([
            ...get(L.w), ...i64c(1), op.i64Shl, ...get(L.minB), op.i64ExtendI32U, op.i64LeU, op.i32Eqz, ...brIf(1),
            ...get(L.r), ...get(L.r), ...get(L.w), op.i64ShrU, op.i64And, ...set(L.r),
            ...get(L.w), ...i64c(1), op.i64Shl, ...set(L.w),
            ...br(0),
          ])]),
          ...get(L.w), ...get(L.minB), op.i64ExtendI32U, op.i64LtU, ...if_([
            ...get(L.r), ...get(L.r), ...get(L.minB), op.i64ExtendI32U, ...get(L.w), op.i64Sub, op.i64ShrU, op.i64And, ...set(L.r),
          ]),
          ...block([...loop([
            ...get(L.r), op.i64Eqz, ...brIf(1),
            ...get(L.r), op.i64Ctz, ...set(L.s),
            ...get(L.s), ...not64([...get(L.m), ...get(L.s), op.i64ShrU]), op.i64Ctz, op.i64Add, ...set(L.e),
            ...emit(absolute(L.s), absolute(L.e)),
            ...get(L.r), ...i64c(-1), ...get(L.e), op.i64Shl, op.i64And, ...set(L.r),
            ...br(0),
          ])]),
        ]),
        ...get(L.newRun), ...gset(GL.runStart),
        ...get(L.base), ...i32c(64), op.i32Add, ...set(L.base),
        ...br(0),
      ]),
    ]),
    ...get(L.base), ...gset(GL.pos),
    ...get(L.count),
    0x0b,
  ];
  const fn = [...vec([[...uleb(8), I32], [...uleb(7), I64], [...uleb(1), V128]]), ...body];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), ...vec([[I32]])]])),
    ...section(3, vec([uleb(0)])),
    ...section(5, vec([[0x00, ...uleb(2)]])),
    ...section(6, vec([
      [I32, 1, ...i32c(0), 0x0b],
      [I32, 1, ...i32c(-1), 0x0b],
      [I64, 1, ...i64c(0), 0x0b],
    ])),
    ...section(7, vec([
      [...name('scan'), 0x00, ...uleb(0)],
      [...name('mem'), 0x02, ...uleb(0)],
      [...name('pos'), 0x03, ...uleb(GL.pos)],
      [...name('runStart'), 0x03, ...uleb(GL.runStart)],
      [...name('carry'), 0x03, ...uleb(GL.carry)],
    ])),
    ...section(10, vec([[...uleb(fn.length), ...fn]])),
  ]);
}

interface KernelExports {
  scan(mode: number, n: number, minB: number, cap: number, wantFlags: number): number;
  mem: WebAssembly.Memory;
  pos: WebAssembly.Global;
  runStart: WebAssembly.Global;
  carry: WebAssembly.Global;
}

/** Inputs above this are scanned with the JS loops (wasm32 memory, and no point). */
const WASM_MAX_INPUT = 1 << 30;
/** A kernel instance whose memory grew past this is not kept for the next call. */
const KEEP_MEMORY_BYTES = 64 << 20;

let kernelModule: WebAssembly.Module | null | undefined;
let cachedKernel: KernelExports | null = null;
let wasmDisabled = false;

function compileKernel(): WebAssembly.Module | null {
  if (kernelModule === undefined) {
    try {
      const bytes = buildKernel();
      kernelModule = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    } catch {
      kernelModule = null;
    }
  }
  return kernelModule;
}

/** A kernel whose memory holds `n` input bytes, or null when the JS loops must do. */
function kernelFor(n: number): KernelExports | null {
  if (wasmDisabled || n > WASM_MAX_INPUT) return null;
  const mod = compileKernel();
  if (mod === null) return null;
  const need = DATA + n + PAD;
  let k: KernelExports;
  if (need <= KEEP_MEMORY_BYTES) {
    k = cachedKernel ??= new WebAssembly.Instance(mod, {}).exports as unknown as KernelExports;
  } else {
    // Big input: a throwaway instance, so that its memory goes with it.
    k = new WebAssembly.Instance(mod, {}).exports as unknown as KernelExports;
  }
  const have = k.mem.buffer.byteLength;
  if (have < need) {
    try {
      k.mem.grow(Math.ceil((need - have) / 65536));
    } catch {
      return null;
    }
  }
  return k;
}

/** Whether the WebAssembly SIMD kernel is available (else the JS loops are used). */
export function stringKernelAvailable(): boolean {
  return !wasmDisabled && compileKernel() !== null;
}

/** Tests and benchmarks: force the JS loops (`false`) or allow the kernel again (`true`). */
export function setStringKernelEnabled(enabled: boolean): void {
  wasmDisabled = !enabled;
}

/**
 * Runs of `buf` for each encoding asked, each encoding's runs in file order, ASCII first.
 * Uses the kernel when it can, else `scanRunsJs`.
 */
function scanRuns(
  buf: Uint8Array,
  min: number,
  encodings: readonly StringEncoding[],
  visit: (encoding: StringEncoding, start: number, end: number, flags: number) => void,
  flagTable?: Int32Array,
): void {
  const n = buf.length;
  // The kernel's memory is shared: a scan started from inside a visitor (a rule's gate, say)
  // uses the JS loops instead.
  const k = kernelBusy ? null : kernelFor(n);
  if (k === null) {
    for (const enc of encodings) scanRunsJs(buf, min, enc, (s, e, f) => visit(enc, s, e, f), flagTable);
    return;
  }
  kernelBusy = true;
  try {
    scanWithKernel(k, buf, min, encodings, visit, flagTable);
  } finally {
    kernelBusy = false;
  }
}

let kernelBusy = false;

function scanWithKernel(
  k: KernelExports,
  buf: Uint8Array,
  min: number,
  encodings: readonly StringEncoding[],
  visit: (encoding: StringEncoding, start: number, end: number, flags: number) => void,
  flagTable: Int32Array | undefined,
): void {
  const n = buf.length;
  const u8 = new Uint8Array(k.mem.buffer);
  u8.set(buf, DATA);
  u8.fill(0xff, DATA + n, DATA + n + PAD);
  const wantFlags = flagTable !== undefined ? 1 : 0;
  if (flagTable !== undefined) new Int32Array(k.mem.buffer, FLAG_TABLE, 256).set(flagTable);
  const rec = new Int32Array(k.mem.buffer, 0, OUT_CAP * 3);
  for (const enc of encodings) {
    const mode = enc === 'ascii' ? 0 : 1;
    const minB = mode === 0 ? min : 2 * min;
    if (minB > n) continue; // no run can be that long (and minB stays an i32)
    k.pos.value = 0;
    k.runStart.value = -1;
    k.carry.value = 0n;
    for (;;) {
      const c = k.scan(mode, n, minB, OUT_CAP, wantFlags);
      for (let j = 0, end = c * 3; j < end; j += 3) visit(enc, rec[j], rec[j + 1], rec[j + 2]);
      if ((k.pos.value as number) >= n) break;
    }
    const rs = k.runStart.value as number;
    if (rs >= 0 && n - rs >= minB) visit(enc, rs, n, flagTable ? orFlags(buf, rs, n, flagTable) : 0);
  }
}

/** `strings -a -n min`: maximal runs of >= min string characters. */
export function extractAsciiStrings(input: Buffer | Uint8Array, minLength?: number): FoundString[] {
  const min = checkMin(minLength);
  const buf = asBuffer(input);
  const out: FoundString[] = [];
  scanRuns(buf, min, ['ascii'], (_e, s, e) => out.push({ offset: s, text: decodeAscii(buf, s, e) }));
  return out;
}

/** `strings -a -n min -el`: runs of >= min 16-bit LE units (high byte 0, low byte a string char). */
export function extractUtf16Strings(input: Buffer | Uint8Array, minLength?: number): FoundString[] {
  const min = checkMin(minLength);
  const buf = asBuffer(input);
  const out: FoundString[] = [];
  scanRuns(buf, min, ['utf16'], (_e, s, e) => out.push({ offset: s, text: decodeUtf16(buf, s, e) }));
  return out;
}

/** Both GNU passes: `strings -a -n N` and `strings -a -n N -el`. */
export function extractStrings(input: Buffer | Uint8Array, opts: ExtractOptions = {}): ExtractedStrings {
  const min = checkMin(opts.minLength);
  const buf = asBuffer(input);
  const ascii: FoundString[] = [];
  const utf16: FoundString[] = [];
  scanRuns(buf, min, ['ascii', 'utf16'], (enc, s, e) => {
    if (enc === 'ascii') ascii.push({ offset: s, text: decodeAscii(buf, s, e) });
    else utf16.push({ offset: s, text: decodeUtf16(buf, s, e) });
  });
  return { ascii, utf16 };
}

// ---------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------

export type StringKind = 'url' | 'pdb' | 'registry' | 'device' | 'symlink' | 'file' | 'tag';

export interface ClassifiedString {
  kind: StringKind;
  /** The interesting part of the run (surrounding junk trimmed where a rule says so). */
  text: string;
  /** Offset of the *raw* run in the file (not of the trimmed text). */
  offset: number;
  encoding: StringEncoding;
}

/**
 * One classification rule. Rules are tried in table order; the first that applies wins.
 * A rule applies to a run when
 *   - `encoding` (if set) is the run's encoding, and
 *   - `length` (if set) is the run's length in characters, and
 *   - `needs` (if set) has a character that occurs in the run, and
 *   - `dotFromEnd` (if set): the run has a '.' that many characters from its end, and
 *   - `gate` (if set) returns true, and
 *   - one of `patterns` matches; the match (or its group 1) is the reported text, with
 *     trailing punctuation stripped unless `keepTrailing`.
 * `needs`, `length` and `dotFromEnd` are all `extractClassifiedStrings` looks at before it
 * makes a string of a run: a rule with none of them makes every run a candidate (correct,
 * only slower), and so would a common character in `needs` (`_` in symbol names, `.`).
 */
export interface StringRule {
  kind: StringKind;
  encoding?: StringEncoding;
  length?: number;
  /** At least one of these characters must occur in the run (rare ones: `\\`, `:`). */
  needs?: string;
  /** The run's character this many places from its end is '.' (4: a `.xyz` suffix). */
  dotFromEnd?: number;
  /** Further cheap test on the run's text, before the patterns. */
  gate?: (text: string) => boolean;
  /** Tried in order; the first match wins. */
  patterns: readonly RegExp[];
  keepTrailing?: boolean;
}

/** Characters Windows forbids in path names (plus TAB, which strings allows in runs). */
const PATH_CHAR = String.raw`[^"<>|*?\t]`;
/** Characters of a single path token (no spaces, no separators). */
const NAME_CHAR = String.raw`[^\s"<>|*?:\\/]`;
const FILE_EXT = 'sys|dll|exe|inf|cat|ini|log|dat|drv|cpl|ocx|efi|mui|msi|cab|man|mof|etl|bin|cfg|txt|xml';

/**
 * Trailing characters that are almost never part of a name: `"\Device\Foo".` -> `\Device\Foo`,
 * `\Device\Fx0: %x` -> `\Device\Fx0`; but a drive's colon stays (`\??\C:`).
 */
const TRAILING_JUNK = /(?<!\\[A-Za-z])[\s.,;:'")\]}]+$/;

/**
 * The pool-tag rule: the run is EXACTLY 4 characters (ASCII runs only: a pool tag is four
 * bytes), every character is a letter, digit, space or underscore, and at least two are
 * letters. That admits `Ntfs`, `Mm  `, `Io_1`, `Vi52` and rejects `1234`, `a_9 `, `$abc`,
 * `ab-c`. A tag immediate inside x64 code is often followed by a printable opcode byte
 * (a REX prefix 'H'...), so such tags come out as longer runs: finding them is the
 * disassembler's job, not this rule's.
 */
export const TAG_RE = /^(?=(?:[^A-Za-z]*[A-Za-z]){2})[A-Za-z0-9 _]{4}$/;

/** The classification table. Order matters: more specific kinds first. */
export const STRING_RULES: readonly StringRule[] = [
  {
    // http://, https://, ftp:// — from the scheme to the first space, quote or bracket.
    kind: 'url',
    needs: ':',
    patterns: [/\b(?:https?|ftp):\/\/[^\s"'<>]+/i],
  },
  {
    // Ends with .pdb. From a drive letter or UNC prefix if there is one (junk before the
    // path is dropped), else the last whitespace-free token.
    kind: 'pdb',
    dotFromEnd: 4,
    gate: (s) => s.slice(-3).toLowerCase() === 'pdb',
    patterns: [
      new RegExp(String.raw`(?:[A-Za-z]:[\\/]|\\\\)${PATH_CHAR}*\.pdb$`, 'i'),
      new RegExp(String.raw`[^\s"<>|*?]+\.pdb$`, 'i'),
    ],
    keepTrailing: true,
  },
  {
    // \Registry\Machine\..., \Registry\User\..., HKEY_*\..., HKLM\... and the usual relative
    // forms SYSTEM\CurrentControlSet\... and SOFTWARE\Microsoft\... . A bare root name
    // (`HKEY_LOCAL_MACHINE` alone) is not taken: it says nothing about a driver, and
    // gating on '_' would make every C symbol name a candidate.
    kind: 'registry',
    needs: '\\',
    patterns: [
      new RegExp(String.raw`\\Registry\\(?:Machine|User)(?:\\${PATH_CHAR}*)?`, 'i'),
      new RegExp(String.raw`\bHKEY_[A-Z_]+\\${PATH_CHAR}*`, 'i'),
      new RegExp(String.raw`\b(?:HKLM|HKCU|HKCR|HKU|HKCC)\\${PATH_CHAR}*`, 'i'),
      new RegExp(
        String.raw`\b(?:SYSTEM\\(?:CurrentControlSet|ControlSet\d{3})|SOFTWARE\\(?:Microsoft|Policies|Classes|Wow6432Node))(?:\\${PATH_CHAR}*)?`,
        'i',
      ),
    ],
  },
  {
    // Object-manager names: \Device\..., \DosDevices\..., \??\..., \GLOBAL??\...,
    // \BaseNamedObjects\..., and also \Driver\..., \FileSystem\..., \Callback\... .
    kind: 'device',
    needs: '\\',
    patterns: [/\\(?:Device|DosDevices|\?\?|GLOBAL\?\?|BaseNamedObjects|Driver|FileSystem|Callback)\\[^\s"'<>|]*/i],
  },
  {
    // A symbolic link as user mode names it: \\.\Name (the \GLOBAL??\Name link that a
    // driver creates with IoCreateSymbolicLink).
    kind: 'symlink',
    needs: '\\',
    patterns: [/\\\\\.\\[^\s"'<>|\\]+/],
  },
  {
    // A Windows absolute path: C:\... or \SystemRoot\... (to the end of the run).
    kind: 'file',
    needs: '\\',
    patterns: [new RegExp(String.raw`\b[A-Za-z]:\\${PATH_CHAR}*`), new RegExp(String.raw`\\SystemRoot\\${PATH_CHAR}*`, 'i')],
  },
  {
    // A run ending in a known 3-letter file extension: its last whitespace-free token.
    kind: 'file',
    dotFromEnd: 4,
    patterns: [new RegExp(String.raw`${NAME_CHAR}+\.(?:${FILE_EXT})$`, 'i')],
    keepTrailing: true,
  },
  {
    kind: 'tag',
    encoding: 'ascii',
    length: 4,
    patterns: [TAG_RE],
    keepTrailing: true,
  },
];

/** A rule table prepared for use: trigger-character bits and what makes a run a candidate. */
interface CompiledRules {
  rules: readonly StringRule[];
  /** flagTable[byte]: the trigger bits of that byte (the scanner ORs them over a run). */
  flagTable: Int32Array;
  needMask: number[];
  /** OR of every rule's needMask. */
  anyNeed: number;
  /** Some rule has none of needs/length/dotFromEnd: every run is a candidate. */
  everyRun: boolean;
  /** Per encoding: run lengths (characters; index < 256) and '.' positions that make a candidate. */
  lengths: Record<StringEncoding, Uint8Array>;
  dots: Record<StringEncoding, number[]>;
}

const compiledCache = new WeakMap<readonly StringRule[], CompiledRules>();

function compileRules(rules: readonly StringRule[]): CompiledRules {
  const hit = compiledCache.get(rules);
  if (hit) return hit;
  const bitOf = new Map<number, number>();
  const flagTable = new Int32Array(256);
  const needMask: number[] = [];
  const lengths: Record<StringEncoding, Uint8Array> = { ascii: new Uint8Array(256), utf16: new Uint8Array(256) };
  const dots: Record<StringEncoding, number[]> = { ascii: [], utf16: [] };
  let everyRun = false;
  let anyNeed = 0;
  for (const r of rules) {
    let mask = 0;
    for (const ch of r.needs ?? '') {
      const c = ch.charCodeAt(0);
      if (c > 0xff) throw new RangeError(`rule ${r.kind}: needs must be Latin-1 characters`);
      let bit = bitOf.get(c);
      if (bit === undefined) {
        if (bitOf.size >= 31) throw new RangeError('rules use more than 31 distinct `needs` characters');
        bit = 1 << bitOf.size;
        bitOf.set(c, bit);
        flagTable[c] = bit;
      }
      mask |= bit;
    }
    needMask.push(mask);
    anyNeed |= mask;
    if (mask !== 0) continue; // candidates through anyNeed
    const encs = (['ascii', 'utf16'] as const).filter((enc) => r.encoding === undefined || r.encoding === enc);
    if (r.length !== undefined && r.length < 256) for (const enc of encs) lengths[enc][r.length] = 1;
    else if (r.length !== undefined) everyRun = true; // rare; keep the table small
    else if (r.dotFromEnd !== undefined) for (const enc of encs) dots[enc].includes(r.dotFromEnd) || dots[enc].push(r.dotFromEnd);
    else everyRun = true;
  }
  const c: CompiledRules = { rules, flagTable, needMask, anyNeed, everyRun, lengths, dots };
  compiledCache.set(rules, c);
  return c;
}

/** Whether any rule could apply to the run [s, e) of `buf` (`step` bytes per character). */
function isCandidate(cr: CompiledRules, enc: StringEncoding, buf: Buffer, s: number, e: number, flags: number): boolean {
  if (cr.everyRun || (flags & cr.anyNeed) !== 0) return true;
  const step = enc === 'ascii' ? 1 : 2;
  const len = (e - s) / step;
  if (len < 256 && cr.lengths[enc][len] !== 0) return true;
  for (const k of cr.dots[enc]) if (len > k && buf[e - k * step] === 0x2e) return true;
  return false;
}

function flagsOfText(text: string, table: Int32Array): number {
  let f = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 256) f |= table[c];
  }
  return f;
}

function applyRules(found: FoundString, encoding: StringEncoding, flags: number, cr: CompiledRules): ClassifiedString | undefined {
  const raw = found.text;
  const rules = cr.rules;
  for (let k = 0; k < rules.length; k++) {
    const rule = rules[k];
    if (rule.encoding !== undefined && rule.encoding !== encoding) continue;
    if (rule.length !== undefined && raw.length !== rule.length) continue;
    if (cr.needMask[k] !== 0 && (flags & cr.needMask[k]) === 0) continue;
    if (rule.dotFromEnd !== undefined && !(raw.length > rule.dotFromEnd && raw.charCodeAt(raw.length - rule.dotFromEnd) === 0x2e)) continue;
    if (rule.gate !== undefined && !rule.gate(raw)) continue;
    for (const re of rule.patterns) {
      const m = re.exec(raw);
      if (m === null) continue;
      let text = m[1] ?? m[0];
      if (!rule.keepTrailing) text = text.replace(TRAILING_JUNK, '');
      if (text.length === 0) continue;
      return { kind: rule.kind, text, offset: found.offset, encoding };
    }
  }
  return undefined;
}

/** Classify one run; `undefined` when no rule applies. */
export function classifyString(
  found: FoundString,
  encoding: StringEncoding,
  rules: readonly StringRule[] = STRING_RULES,
): ClassifiedString | undefined {
  const cr = compileRules(rules);
  return applyRules(found, encoding, flagsOfText(found.text, cr.flagTable), cr);
}

/**
 * Classify extracted runs. Unclassified runs are dropped. The result lists ASCII runs
 * then UTF-16 runs, each in file order (the order of the input).
 */
export function classifyStrings(found: ExtractedStrings, rules: readonly StringRule[] = STRING_RULES): ClassifiedString[] {
  const cr = compileRules(rules);
  const out: ClassifiedString[] = [];
  for (const [list, enc] of [[found.ascii, 'ascii'], [found.utf16, 'utf16']] as const) {
    for (const f of list) {
      const c = applyRules(f, enc, flagsOfText(f.text, cr.flagTable), cr);
      if (c !== undefined) out.push(c);
    }
  }
  return out;
}

/**
 * The classified strings of a buffer, without materialising the runs no rule can match
 * (the scanner reports which trigger characters each run holds). Same result as
 * `classifyStrings(extractStrings(buf, { minLength }), rules)`, several times faster.
 */
export function extractClassifiedStrings(
  input: Buffer | Uint8Array,
  minLength?: number,
  rules: readonly StringRule[] = STRING_RULES,
): ClassifiedString[] {
  const min = checkMin(minLength);
  const buf = asBuffer(input);
  const cr = compileRules(rules);
  const out: ClassifiedString[] = [];
  scanRuns(
    buf,
    min,
    ['ascii', 'utf16'],
    (enc, s, e, flags) => {
      if (!isCandidate(cr, enc, buf, s, e, flags)) return;
      const text = enc === 'ascii' ? decodeAscii(buf, s, e) : decodeUtf16(buf, s, e);
      const c = applyRules({ offset: s, text }, enc, flags, cr);
      if (c !== undefined) out.push(c);
    },
    cr.flagTable,
  );
  return out;
}
