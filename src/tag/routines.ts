/**
 * The table of tag-taking routines, shared tags and tag-carrying structs, loaded from
 * `data/routines.json` and `data/shared-tags.json` (the data lives in JSON so that it can be
 * reviewed and extended without touching code).
 *
 * The JSON stores the minimum: the 1-based C argument index of the tag (`tagArg`), plus the
 * few ABI exceptions (64-bit arguments on x86). Everything machine-dependent is derived here:
 *
 *   x64    arguments 1..4 in rcx, rdx, r8, r9 (ecx, edx, r8d, r9d for 32-bit values);
 *          5.. at [rsp+0x20+8*(n-5)] at the call (after the 0x20-byte home area)
 *   ARM64  arguments 1..8 in x0..x7 (w0..w7); 9.. at [sp+8*(n-9)]
 *   x86    stdcall/cdecl: argument n is stack slot n = [esp+4*(n-1)] just before the call;
 *          a 64-bit argument takes two slots, pushing every later argument one slot further
 *
 * Loading is lazy and happens once; the JSON is validated and a malformed file throws an
 * Error naming the file and the entry. The files are read with `fs` relative to the package
 * root (the nearest directory above this module that holds package.json), which works both
 * from `src/tag/routines.ts` (vitest, tsx) and from the compiled `dist/src/tag/routines.js`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tag, parseTag } from './tag.js';

export type RoutineKind = 'pool' | 'object' | 'mapping' | 'removelock';
export type RoutineAction = 'allocate' | 'free' | 'initialize' | 'reference' | 'dereference';
export type Arch = 'x86' | 'x64' | 'arm64';

/** Where an argument is at the call instruction, per architecture. */
export interface ArgLocation {
  /** 1-based C argument index. */
  arg: number;
  /** x86 4-byte stack slot (1 = [esp] just before the call). */
  x86Slot: number;
  /** `esp+0x8` style: the slot's address just before the call. */
  x86: string;
  /** `r8d`, or `rsp+0x28` for stack arguments (32-bit value view). */
  x64: string;
  /** `w2`, or `sp+0x8` for stack arguments (32-bit value view). */
  arm64: string;
}

export interface TagStructRef {
  /** 1-based argument that holds the pointer to the struct. */
  arg: number;
  /** Key into `RoutineTable.structs`. */
  struct: string;
}

export interface Routine {
  name: string;
  /** Exporting module, lower case (`ntoskrnl.exe`, `ndis.sys`). KMDF functions: `wdf01000.sys`. */
  module: string;
  kind: RoutineKind;
  action: RoutineAction;
  /** 'import': called through the IAT. 'kmdf': called through WdfFunctions[tableIndex]. */
  binding: 'import' | 'kmdf';
  /** KMDF WDFFUNCENUM index (binding 'kmdf' only). */
  tableIndex?: number;
  /** KMDF: the documented (wrapper) argument index of the tag; `tagArg` is the real call's. */
  wrapperTagArg?: number;
  /** 1-based C argument of the tag, null when the tag is not an argument. */
  tagArg: number | null;
  /** Derived location of the tag argument (null when tagArg is null). */
  tagLocation: ArgLocation | null;
  /** 1-based arguments that take two x86 stack slots (ULONG64). */
  x86WideArgs: readonly number[];
  /** x86 calling convention: 'stdcall' (the kernel's NTAPI) or 'fastcall' (arguments 1-2 in ecx, edx). */
  x86Convention: 'stdcall' | 'fastcall';
  /** Untagged routine: the tag every call gets (`None`, `NDam`). */
  sharedTag: Tag | null;
  /** Only a tag call when argument `arg` equals `equals` (StorPortExtendedFunction). */
  condition: { arg: number; equals: number; meaning: string; location: ArgLocation } | null;
  /** The tag is a field of a struct passed by pointer. */
  tagStruct: (TagStructRef & { location: ArgLocation }) | null;
  /** Where the allocation's pool comes from (an argument, or the pool the routine always uses); null: not an allocation. */
  pool: PoolSource | null;
  /** 1-based C argument of the requested size in bytes (a lookaside list's entry size), or null. */
  sizeArg: number | null;
  note?: string;
}

/** How a routine names its pool: `data/routines.json` `pool`, values named by `data/pool-types.json`. */
export interface PoolSource {
  /** The argument holding the pool (null: `fixed`). */
  arg: number | null;
  /** The POOL_TYPE the routine always uses (NDIS, StorPort, ExInitialize[N]PagedLookasideList). */
  fixed: number | null;
  /** An argument OR'ed into `fixed` (the lookaside lists' Flags: POOL_NX_ALLOCATION ...). */
  orArg: number | null;
  /** POOL_TYPE values, or POOL_FLAGS bits (ExAllocatePool2/3). */
  encoding: 'pool-type' | 'pool-flags';
}

export interface StructField {
  name: string;
  type: string;
  offset: Record<Arch, number>;
}

export interface TagStruct {
  name: string;
  fields: StructField[];
  /** The field holding the tag (absent for pointer-only structs such as FLT_REGISTRATION). */
  tagField?: string;
  /** For FLT_REGISTRATION: the field that points to the struct that has the tag. */
  pointerField?: string;
  pointsTo?: string;
  /** Offset of tagField (or pointerField) per architecture; verified against the layout. */
  offset: Record<Arch, number>;
  /** sizeof per architecture, when the full struct is listed. */
  size?: Record<Arch, number>;
  note?: string;
  source: string[];
}

export interface SharedTag {
  tag: Tag;
  reason: string;
  apis: string[];
}

export interface RoutineTable {
  /** Every routine (imports and KMDF) by exact name. */
  byName: ReadonlyMap<string, Routine>;
  /** Imports by `module!name`, module lower-cased; use `findRoutine` for lookups. */
  byModuleName: ReadonlyMap<string, Routine>;
  /** KMDF functions by WDFFUNCENUM index. */
  kmdfByIndex: ReadonlyMap<number, Routine>;
  /** How KMDF drivers bind the function table. */
  kmdfBind: { module: string; import: string; table: string };
  structs: ReadonlyMap<string, TagStruct>;
  all: readonly Routine[];
}

// ---------------------------------------------------------------------------------------
// Argument locations (ABI), exported for the scanners.

function hex(n: number): string {
  return '0x' + n.toString(16);
}

/** x64 location of 1-based argument n: `ecx` `edx` `r8d` `r9d` (or rcx.. with width 64), then `rsp+0x20`, `rsp+0x28`, ... */
export function x64ArgLocation(n: number, width: 32 | 64 = 32): string {
  checkArg(n);
  if (n <= 4) return (width === 64 ? ['rcx', 'rdx', 'r8', 'r9'] : ['ecx', 'edx', 'r8d', 'r9d'])[n - 1];
  return `rsp+${hex(0x20 + 8 * (n - 5))}`;
}

/** ARM64 location of 1-based argument n: `w0`..`w7` (or x0.. with width 64), then `sp+0x0`, `sp+0x8`, ... */
export function arm64ArgLocation(n: number, width: 32 | 64 = 32): string {
  checkArg(n);
  if (n <= 8) return `${width === 64 ? 'x' : 'w'}${n - 1}`;
  return `sp+${hex(8 * (n - 9))}`;
}

/** x86 stack slot of 1-based argument n, given the arguments that are 64 bits wide. */
export function x86ArgSlot(n: number, wideArgs: readonly number[] = []): number {
  checkArg(n);
  let slot = n;
  for (const w of wideArgs) if (w < n) slot++;
  return slot;
}

/** Everything about where argument n is, on all three architectures. */
export function argLocation(n: number, wideArgs: readonly number[] = []): ArgLocation {
  const slot = x86ArgSlot(n, wideArgs);
  return { arg: n, x86Slot: slot, x86: `esp+${hex(4 * (slot - 1))}`, x64: x64ArgLocation(n), arm64: arm64ArgLocation(n) };
}

function checkArg(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 32) throw new RangeError(`argument index must be 1..32, got ${n}`);
}

// ---------------------------------------------------------------------------------------
// Struct layout: natural alignment, as MSVC lays out these structs by default.

const PRIMITIVES: Record<string, { size: Record<Arch, number>; align: Record<Arch, number> }> = (() => {
  const same = (n: number) => ({ size: { x86: n, x64: n, arm64: n }, align: { x86: n, x64: n, arm64: n } });
  const ptr = { size: { x86: 4, x64: 8, arm64: 8 }, align: { x86: 4, x64: 8, arm64: 8 } };
  return {
    UCHAR: same(1),
    BOOLEAN: same(1),
    USHORT: same(2),
    ULONG: same(4),
    SIZE_T: ptr,
    PVOID: ptr,
    // NDIS_OBJECT_HEADER { UCHAR Type; UCHAR Revision; USHORT Size; }
    NDIS_OBJECT_HEADER: { size: { x86: 4, x64: 4, arm64: 4 }, align: { x86: 2, x64: 2, arm64: 2 } },
  };
})();

const ARCHES: readonly Arch[] = ['x86', 'x64', 'arm64'];

/** Compute field offsets and sizeof for each architecture. Exported for tests. */
export function layoutStruct(fields: readonly (readonly [string, string])[]): { fields: StructField[]; size: Record<Arch, number> } {
  const out: StructField[] = fields.map(([name, type]) => ({ name, type, offset: { x86: 0, x64: 0, arm64: 0 } }));
  const size = { x86: 0, x64: 0, arm64: 0 };
  for (const arch of ARCHES) {
    let off = 0;
    let maxAlign = 1;
    fields.forEach(([name, type], i) => {
      const p = PRIMITIVES[type];
      if (!p) throw new Error(`unknown field type ${type} for ${name}`);
      const a = p.align[arch];
      off = Math.ceil(off / a) * a;
      out[i].offset[arch] = off;
      off += p.size[arch];
      maxAlign = Math.max(maxAlign, a);
    });
    size[arch] = Math.ceil(off / maxAlign) * maxAlign;
  }
  return { fields: out, size };
}

// ---------------------------------------------------------------------------------------
// Loading and validation.

let packageRootCache: string | null = null;

/** The nearest directory at or above this module that contains package.json. */
export function packageRoot(): string {
  if (packageRootCache) return packageRootCache;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return (packageRootCache = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error(`pooltag: no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** Path of a file in the package's data/ directory. */
export function dataPath(file: string): string {
  return join(packageRoot(), 'data', file);
}

function readJson(file: string): unknown {
  const p = dataPath(file);
  try {
    return JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new Error(`pooltag: cannot read ${p}: ${(e as Error).message}`);
  }
}

type Json = Record<string, unknown>;

class Checker {
  constructor(readonly file: string) {}
  fail(where: string, msg: string): never {
    throw new Error(`pooltag: ${this.file}: ${where}: ${msg}`);
  }
  obj(v: unknown, where: string): Json {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(where, 'expected an object');
    return v as Json;
  }
  arr(v: unknown, where: string): unknown[] {
    if (!Array.isArray(v)) this.fail(where, 'expected an array');
    return v;
  }
  str(v: unknown, where: string): string {
    if (typeof v !== 'string' || v.length === 0) this.fail(where, 'expected a non-empty string');
    return v;
  }
  optStr(v: unknown, where: string): string | undefined {
    return v === undefined ? undefined : this.str(v, where);
  }
  int(v: unknown, where: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(where, `expected an integer ${min}..${max}`);
    return v;
  }
  oneOf<T extends string>(v: unknown, where: string, allowed: readonly T[]): T {
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) this.fail(where, `expected one of ${allowed.join(', ')}`);
    return v as T;
  }
  archRecord(v: unknown, where: string): Record<Arch, number> {
    const o = this.obj(v, where);
    return { x86: this.int(o.x86, `${where}.x86`), x64: this.int(o.x64, `${where}.x64`), arm64: this.int(o.arm64, `${where}.arm64`) };
  }
  tag(v: unknown, where: string): Tag {
    const s = this.str(v, where);
    try {
      return parseTag(JSON.stringify(s)); // quoted: padding kept exactly
    } catch (e) {
      this.fail(where, (e as Error).message);
    }
  }
}

const KINDS: readonly RoutineKind[] = ['pool', 'object', 'mapping', 'removelock'];
const ACTIONS: readonly RoutineAction[] = ['allocate', 'free', 'initialize', 'reference', 'dereference'];

function parseStructs(c: Checker, raw: Json): Map<string, TagStruct> {
  const out = new Map<string, TagStruct>();
  for (const [name, v] of Object.entries(raw)) {
    if (name.startsWith('$')) continue;
    const w = `structs.${name}`;
    const o = c.obj(v, w);
    const fieldsRaw = c.arr(o.fields, `${w}.fields`).map((f, i) => {
      const pair = c.arr(f, `${w}.fields[${i}]`);
      if (pair.length !== 2) c.fail(`${w}.fields[${i}]`, 'expected [name, type]');
      const t = c.str(pair[1], `${w}.fields[${i}][1]`);
      if (!PRIMITIVES[t]) c.fail(`${w}.fields[${i}]`, `unknown type ${t}`);
      return [c.str(pair[0], `${w}.fields[${i}][0]`), t] as const;
    });
    const { fields, size } = layoutStruct(fieldsRaw);
    const tagField = c.optStr(o.tagField, `${w}.tagField`);
    const pointerField = c.optStr(o.pointerField, `${w}.pointerField`);
    const keyField = tagField ?? pointerField;
    if (!keyField) c.fail(w, 'needs tagField or pointerField');
    const f = fields.find((x) => x.name === keyField);
    if (!f) c.fail(w, `no field ${keyField}`);
    const offset = c.archRecord(o.offsets, `${w}.offsets`);
    for (const a of ARCHES) {
      if (offset[a] !== f.offset[a]) c.fail(`${w}.offsets.${a}`, `recorded ${offset[a]} but the layout gives ${f.offset[a]}`);
    }
    let sizes: Record<Arch, number> | undefined;
    if (o.sizes !== undefined) {
      sizes = c.archRecord(o.sizes, `${w}.sizes`);
      for (const a of ARCHES) {
        if (sizes[a] !== size[a]) c.fail(`${w}.sizes.${a}`, `recorded ${sizes[a]} but the layout gives ${size[a]}`);
      }
    }
    const source = o.source === undefined ? [] : c.arr(o.source, `${w}.source`).map((s, i) => c.str(s, `${w}.source[${i}]`));
    out.set(name, {
      name,
      fields,
      tagField,
      pointerField,
      pointsTo: c.optStr(o.pointsTo, `${w}.pointsTo`),
      offset,
      size: sizes,
      note: c.optStr(o.note, `${w}.note`),
      source,
    });
  }
  for (const s of out.values()) {
    if (s.pointsTo && !out.has(s.pointsTo)) c.fail(`structs.${s.name}.pointsTo`, `unknown struct ${s.pointsTo}`);
  }
  return out;
}

function parseRoutine(c: Checker, v: unknown, where: string, structs: Map<string, TagStruct>, defaults: Partial<Routine>): Routine {
  const o = c.obj(v, where);
  const name = c.str(o.name, `${where}.name`);
  const module = (defaults.module ?? c.str(o.module, `${where}.module`)).toLowerCase();
  if (defaults.module === undefined && o.module !== module) c.fail(`${where}.module`, 'module must be lower case');
  const kind = c.oneOf(o.kind, `${where}.kind`, KINDS);
  const action = c.oneOf(o.action, `${where}.action`, ACTIONS);
  const tagArg = o.tagArg === null ? null : c.int(o.tagArg, `${where}.tagArg`, 1, 32);
  const wide = o.x86WideArgs === undefined ? [] : c.arr(o.x86WideArgs, `${where}.x86WideArgs`).map((x, i) => c.int(x, `${where}.x86WideArgs[${i}]`, 1, 32));
  const sharedTag = o.sharedTag === undefined ? null : c.tag(o.sharedTag, `${where}.sharedTag`);
  const x86Convention = o.x86Convention === undefined ? 'stdcall' : c.oneOf(o.x86Convention, `${where}.x86Convention`, ['stdcall', 'fastcall'] as const);

  let condition: Routine['condition'] = null;
  if (o.condition !== undefined) {
    const k = c.obj(o.condition, `${where}.condition`);
    const arg = c.int(k.arg, `${where}.condition.arg`, 1, 32);
    condition = { arg, equals: c.int(k.equals, `${where}.condition.equals`), meaning: c.str(k.meaning, `${where}.condition.meaning`), location: argLocation(arg, wide) };
  }
  let tagStruct: Routine['tagStruct'] = null;
  if (o.tagStruct !== undefined) {
    const k = c.obj(o.tagStruct, `${where}.tagStruct`);
    const arg = c.int(k.arg, `${where}.tagStruct.arg`, 1, 32);
    const struct = c.str(k.struct, `${where}.tagStruct.struct`);
    if (!structs.has(struct)) c.fail(`${where}.tagStruct.struct`, `unknown struct ${struct}`);
    tagStruct = { arg, struct, location: argLocation(arg, wide) };
  }
  let pool: PoolSource | null = null;
  if (o.pool !== undefined) {
    const k = c.obj(o.pool, `${where}.pool`);
    const arg = k.arg === undefined ? null : c.int(k.arg, `${where}.pool.arg`, 1, 32);
    const fixed = k.fixed === undefined ? null : c.int(k.fixed, `${where}.pool.fixed`, 0, 0xffffffff);
    const orArg = k.orArg === undefined ? null : c.int(k.orArg, `${where}.pool.orArg`, 1, 32);
    if ((arg === null) === (fixed === null)) c.fail(`${where}.pool`, 'needs exactly one of arg, fixed');
    if (orArg !== null && fixed === null) c.fail(`${where}.pool.orArg`, 'only with fixed');
    pool = { arg, fixed, orArg, encoding: c.oneOf(k.encoding, `${where}.pool.encoding`, ['pool-type', 'pool-flags'] as const) };
  }
  const sizeArg = o.sizeArg === undefined ? null : c.int(o.sizeArg, `${where}.sizeArg`, 1, 32);
  // Exactly one way of getting the tag.
  const ways = (tagArg !== null ? 1 : 0) + (sharedTag ? 1 : 0) + (tagStruct ? 1 : 0);
  if (ways !== 1) c.fail(where, 'needs exactly one of tagArg, sharedTag, tagStruct');

  const r: Routine = {
    name,
    module,
    kind,
    action,
    binding: defaults.binding ?? 'import',
    tagArg,
    tagLocation: tagArg === null ? null : argLocation(tagArg, wide),
    x86WideArgs: Object.freeze(wide),
    x86Convention,
    sharedTag,
    condition,
    tagStruct,
    pool,
    sizeArg,
  };
  if (o.tableIndex !== undefined) r.tableIndex = c.int(o.tableIndex, `${where}.tableIndex`, 0, 10000);
  if (o.wrapperTagArg !== undefined) {
    r.wrapperTagArg = c.int(o.wrapperTagArg, `${where}.wrapperTagArg`, 1, 32);
    if (tagArg !== r.wrapperTagArg + 1) c.fail(where, 'KMDF tagArg must be wrapperTagArg + 1 (DriverGlobals comes first)');
  }
  if (r.binding === 'kmdf' && r.tableIndex === undefined) c.fail(where, 'KMDF function needs tableIndex');
  const note = c.optStr(o.note, `${where}.note`);
  if (note) r.note = note;
  return Object.freeze(r);
}

/** Parse and validate the routines JSON (exported for tests; normal code uses `loadRoutines`). */
export function parseRoutineTable(raw: unknown, file = 'routines.json'): RoutineTable {
  const c = new Checker(file);
  const root = c.obj(raw, '(root)');
  const structs = parseStructs(c, c.obj(root.structs, 'structs'));

  const all: Routine[] = [];
  c.arr(root.routines, 'routines').forEach((v, i) => all.push(parseRoutine(c, v, `routines[${i}]`, structs, {})));

  const kmdf = c.obj(root.kmdf, 'kmdf');
  const bindRaw = c.obj(kmdf.bind, 'kmdf.bind');
  const kmdfBind = Object.freeze({
    module: c.str(bindRaw.module, 'kmdf.bind.module').toLowerCase(),
    import: c.str(bindRaw.import, 'kmdf.bind.import'),
    table: c.str(bindRaw.table, 'kmdf.bind.table'),
  });
  c.arr(kmdf.functions, 'kmdf.functions').forEach((v, i) =>
    all.push(parseRoutine(c, v, `kmdf.functions[${i}]`, structs, { module: 'wdf01000.sys', binding: 'kmdf' })),
  );

  const byName = new Map<string, Routine>();
  const byModuleName = new Map<string, Routine>();
  const kmdfByIndex = new Map<number, Routine>();
  for (const r of all) {
    if (byName.has(r.name)) c.fail(r.name, 'duplicate routine name');
    byName.set(r.name, r);
    if (r.binding === 'import') byModuleName.set(`${r.module}!${r.name}`, r);
    else {
      if (kmdfByIndex.has(r.tableIndex!)) c.fail(r.name, `duplicate KMDF table index ${r.tableIndex}`);
      kmdfByIndex.set(r.tableIndex!, r);
    }
  }
  return Object.freeze({ byName, byModuleName, kmdfByIndex, kmdfBind, structs, all: Object.freeze(all) });
}

/** Parse and validate the shared-tags JSON. Keyed by `Tag.matchKey`. */
export function parseSharedTags(raw: unknown, file = 'shared-tags.json'): ReadonlyMap<string, SharedTag> {
  const c = new Checker(file);
  const root = c.obj(raw, '(root)');
  const out = new Map<string, SharedTag>();
  c.arr(root.tags, 'tags').forEach((v, i) => {
    const w = `tags[${i}]`;
    const o = c.obj(v, w);
    const tag = c.tag(o.tag, `${w}.tag`);
    if (out.has(tag.matchKey)) c.fail(w, `duplicate tag ${tag.display}`);
    const apis = o.apis === undefined ? [] : c.arr(o.apis, `${w}.apis`).map((a, j) => c.str(a, `${w}.apis[${j}]`));
    out.set(tag.matchKey, Object.freeze({ tag, reason: c.str(o.reason, `${w}.reason`), apis }));
  });
  return out;
}

let routinesCache: RoutineTable | null = null;
let sharedCache: ReadonlyMap<string, SharedTag> | null = null;

/** The routine table (read and validated on first use). */
export function loadRoutines(): RoutineTable {
  return (routinesCache ??= parseRoutineTable(readJson('routines.json')));
}

/** Shared tags by `Tag.matchKey` (read and validated on first use). */
export function loadSharedTags(): ReadonlyMap<string, SharedTag> {
  return (sharedCache ??= parseSharedTags(readJson('shared-tags.json')));
}

/** The shared-tag entry for a tag (PROTECTED_POOL and NUL/space padding ignored), if any. */
export function sharedTagInfo(tag: Tag): SharedTag | undefined {
  return loadSharedTags().get(tag.matchKey);
}

/**
 * Look up an imported routine by module and name. The module matches case-insensitively
 * (import tables write `NTOSKRNL.exe`, `NDIS.SYS`); the name is exact (exports are
 * case-sensitive). Returns undefined for unknown routines and for KMDF functions (which are
 * never imports; use `kmdfByIndex`).
 */
export function findRoutine(module: string, name: string): Routine | undefined {
  return loadRoutines().byModuleName.get(`${module.toLowerCase()}!${name}`);
}
