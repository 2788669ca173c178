/**
 * The pool an allocation asks for and the block it gets: POOL_TYPE and POOL_FLAGS values
 * named from `data/pool-types.json`, and the block sizes a requested size gives on each
 * architecture (the rule and its sources: `src/answer/pool-blocks.md`).
 */
import { readFileSync } from 'node:fs';

import { dataPath } from './routines.js';

export type PoolEncoding = 'pool-type' | 'pool-flags';

/** Which pool a value asks for, as poolmon and `!poolused` split them. */
export type PoolClass = 'nonpaged' | 'paged';

export interface DecodedPool {
  /** `NonPagedPoolNx`, `PagedPool | POOL_ZERO_ALLOCATION`, `POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED`. */
  name: string;
  /** Nonpaged or paged; null when the value names neither (POOL_FLAGS without a pool bit: an invalid call). */
  pool: PoolClass | null;
  session: boolean;
  cacheAligned: boolean;
}

interface Named {
  value: number;
  name: string;
}

interface PoolTable {
  poolType: { typeMask: number; types: Named[]; modifiers: Named[]; pagedBit: number; sessionBit: number; cacheAlignedBit: number };
  poolFlags: { flags: Named[]; nonPaged: number[]; paged: number[]; session: number; cacheAligned: number };
}

let table: PoolTable | null = null;

function load(): PoolTable {
  if (table) return table;
  const p = dataPath('pool-types.json');
  let raw: PoolTable;
  try {
    raw = JSON.parse(readFileSync(p, 'utf8')) as PoolTable;
  } catch (e) {
    throw new Error(`pooltag: cannot read ${p}: ${(e as Error).message}`);
  }
  const named = (xs: unknown, where: string): Named[] => {
    if (!Array.isArray(xs) || xs.some((x) => typeof x?.name !== 'string' || !Number.isSafeInteger(x?.value))) throw new Error(`pooltag: ${p}: ${where}: expected [{ value, name }]`);
    return xs as Named[];
  };
  named(raw.poolType?.types, 'poolType.types');
  named(raw.poolType?.modifiers, 'poolType.modifiers');
  named(raw.poolFlags?.flags, 'poolFlags.flags');
  return (table = raw);
}

/** 2^32: bits above 31 of a POOL_FLAGS value, which JavaScript's bit operators do not reach. */
const HI = 0x1_0000_0000;
const hasBit = (v: number, bit: number): boolean => (bit >= HI ? Math.floor(v / bit) % 2 === 1 : (v % HI & bit) !== 0);

/** Names a POOL_TYPE or POOL_FLAGS value and says which pool it asks for. */
export function decodePool(encoding: PoolEncoding, value: number): DecodedPool {
  const t = load();
  if (encoding === 'pool-type') {
    const pt = t.poolType;
    const v = value >>> 0;
    const exact = pt.types.find((x) => x.value === v);
    let name: string;
    if (exact) name = exact.name;
    else {
      const nx = v & 0x200;
      const base = v & pt.typeMask;
      const withNx = nx ? pt.types.find((x) => x.value === (base | nx)) : undefined;
      const baseName = withNx?.name ?? pt.types.find((x) => x.value === base)?.name ?? `0x${base.toString(16)}`;
      const parts = [baseName];
      let rest = (v & ~pt.typeMask & ~(withNx ? nx : 0)) >>> 0;
      for (const m of pt.modifiers) {
        if (rest & m.value) {
          parts.push(m.name);
          rest = (rest & ~m.value) >>> 0;
        }
      }
      if (rest) parts.push(`0x${rest.toString(16)}`);
      name = parts.join(' | ');
    }
    return { name, pool: v & pt.pagedBit ? 'paged' : 'nonpaged', session: (v & pt.sessionBit) !== 0, cacheAligned: (v & pt.cacheAlignedBit) !== 0 };
  }
  const pf = t.poolFlags;
  const parts: string[] = [];
  let rest = value;
  for (const f of pf.flags) {
    if (hasBit(value, f.value)) {
      parts.push(f.name);
      rest -= f.value;
    }
  }
  if (rest > 0) parts.push(`0x${rest.toString(16)}`);
  const nonPaged = pf.nonPaged.some((b) => hasBit(value, b));
  const paged = pf.paged.some((b) => hasBit(value, b));
  return {
    name: parts.join(' | ') || '0',
    // Exactly one pool bit is valid; none or two is a call the kernel refuses.
    pool: nonPaged === paged ? null : nonPaged ? 'nonpaged' : 'paged',
    session: hasBit(value, pf.session),
    cacheAligned: hasBit(value, pf.cacheAligned),
  };
}

/** The name of a value (`decodePool(...).name`). */
export function poolName(encoding: PoolEncoding, value: number): string {
  return decodePool(encoding, value).name;
}

// ---------------------------------------------------------------------------------------
// Block sizes (src/answer/pool-blocks.md)

export const PAGE_SIZE = 4096;
/** Cache line the kernel pads cache-aligned allocations with (KeGetRecommendedSharedDataAlignment on x86/x64/ARM64). */
export const CACHE_LINE = 64;

export interface PoolGeometry {
  /** sizeof(POOL_HEADER). */
  header: number;
  /** Block granularity (POOL_BLOCK_SIZE in the classic pool, the segment heap's unit). */
  granularity: number;
}

/** x86: 8-byte header and blocks; x64 and ARM64: 16. */
export function poolGeometry(arch: string | null): PoolGeometry {
  return arch === 'x86' ? { header: 8, granularity: 8 } : { header: 16, granularity: 16 };
}

const roundUp = (n: number, g: number): number => Math.ceil(n / g) * g;

/**
 * The block sizes that an allocation of `requested` bytes is counted as in the pool tracker
 * (poolmon's Bytes, `!poolused` Used), under each of the allocators a Windows kernel may run:
 * - classic pool (Windows 2000 .. Windows 10 1809): the requested size plus the POOL_HEADER,
 *   rounded up to the block granularity; an allocation too large for one page's blocks
 *   (more than PAGE_SIZE − header) is whole pages;
 * - segment heap pool (Windows 10 1903 and later): the same header-plus-granularity size for
 *   the small backends, and also the requested size rounded to the granularity alone, in case
 *   the block carries no header (the sources disagree; see pool-blocks.md); large blocks are
 *   whole pages.
 * Cache-aligned allocations ask for one more cache line. Distinct sizes, ascending.
 */
export function blockSizes(requested: number, arch: string | null, cacheAligned = false): number[] {
  const { header, granularity } = poolGeometry(arch);
  const n = Math.max(1, requested) + (cacheAligned ? CACHE_LINE : 0);
  const out = new Set<number>();
  if (n > PAGE_SIZE - header) out.add(roundUp(n, PAGE_SIZE));
  else {
    out.add(roundUp(n + header, granularity));
    out.add(roundUp(n, granularity));
  }
  // Sizes just below a page: the segment heap gives a page where the classic pool still fits a block.
  if (n > PAGE_SIZE - 2 * header && n <= PAGE_SIZE) out.add(PAGE_SIZE);
  return [...out].sort((a, b) => a - b);
}
