/**
 * Pool and size at call sites, as answers show them, and the triage rule that compares them
 * with a pool table's row: does a driver allocate this tag from the screen's pool, with a size
 * that gives the screen's block size? The block-size rule is `blockSizes` (src/tag/pool.ts);
 * its derivation and sources are in `pool-blocks.md` beside this file.
 */
import type { ArgumentValues, PoolArgument } from '../evidence/types.js';
import { blockSizes, decodePool, poolGeometry, type PoolClass } from '../tag/pool.js';
import type { CallSite, DriverCandidate } from './driver-candidate.js';

/** `NonPagedPoolNx, 56 bytes`; `PagedPool, size unknown (parameter 2 of the function ...)`; null when nothing is recorded. */
export function describeAllocation(pool: PoolArgument | null, size: ArgumentValues | null): string | null {
  if (!pool && !size) return null;
  const parts: string[] = [];
  if (pool) parts.push(pool.values.length ? `${pool.names.join(' or ')}${pool.unknown ? ' (or unknown)' : ''}` : 'pool unknown');
  if (size) parts.push(size.values.length ? `${size.values.join(' or ')} bytes${size.unknown ? ' (or unknown)' : ''}` : 'size unknown');
  return parts.join(', ');
}

/** The pool classes a site's pool argument can name (empty when none is known). */
export function poolClasses(pool: PoolArgument | null): Set<PoolClass | 'session'> {
  const out = new Set<PoolClass | 'session'>();
  for (const v of pool?.values ?? []) {
    const d = decodePool(pool!.encoding, v);
    if (d.pool) out.add(d.pool);
    if (d.session) out.add('session');
  }
  return out;
}

/** What a pool table says about one tag: its pool, and the block size when every outstanding allocation has the same one. */
export interface ScreenAllocation {
  /** poolmon / `!poolused`: Nonp, Paged, Sess (poolmon /s), Unknown. */
  pool: 'Nonp' | 'Paged' | 'Sess' | 'Unknown';
  /** Bytes per outstanding allocation when bytes / (allocs − frees) is a whole number (one block size); else null. */
  blockSize: number | null;
  /** bytes / outstanding, rounded, when it is not a whole number (sizes are mixed). */
  average: number | null;
}

/** The screen's view of a pool table row (bytes and outstanding allocations). */
export function screenAllocation(pool: ScreenAllocation['pool'], bytes: number | null, outstanding: number | null): ScreenAllocation {
  if (bytes === null || outstanding === null || outstanding <= 0 || bytes <= 0) return { pool, blockSize: null, average: null };
  return bytes % outstanding === 0 ? { pool, blockSize: bytes / outstanding, average: null } : { pool, blockSize: null, average: Math.round(bytes / outstanding) };
}

/**
 * How a candidate's sites compare with the screen, best first:
 * - `confirmed`: a site allocates the tag from the screen's pool with a size whose block is the screen's;
 * - `pool`: a site allocates it from the screen's pool (its size unknown, or the screen's sizes mixed);
 * - `unknown`: the pool of its sites is not known (or the screen prints none);
 * - `other-size`: from the screen's pool, but every known size gives another block size;
 * - `other-pool`: every site with a known pool allocates it from the other pool: not this row.
 */
export type PoolMatchVerdict = 'confirmed' | 'pool' | 'unknown' | 'other-size' | 'other-pool';

export const MATCH_RANK: Record<PoolMatchVerdict, number> = { confirmed: 0, pool: 1, unknown: 2, 'other-size': 3, 'other-pool': 4 };

export interface PoolMatch {
  verdict: PoolMatchVerdict;
  /** One sentence: `allocates it from NonPagedPoolNx with 40 bytes at 0x1450 (x64): a 64-byte block, the screen's`. */
  reason: string;
}

const SCREEN_CLASS: Record<ScreenAllocation['pool'], PoolClass | 'session' | null> = { Nonp: 'nonpaged', Paged: 'paged', Sess: 'session', Unknown: null };
const CLASS_NAME: Record<PoolClass | 'session', string> = { nonpaged: 'nonpaged pool', paged: 'paged pool', session: 'session pool' };

const hex = (n: number) => `0x${n.toString(16)}`;

/** Compare one driver candidate's allocation sites (every build) with a pool table row. */
export function matchCandidate(d: DriverCandidate, screen: ScreenAllocation): PoolMatch {
  const want = SCREEN_CLASS[screen.pool];
  const sites: { s: CallSite; arch: string | null }[] = [];
  for (const b of d.builds) for (const s of b.callSites) if ((s.role === 'allocate' || s.role === 'lookaside') && (s.pool || s.size)) sites.push({ s, arch: b.arch });
  if (sites.length === 0) return { verdict: 'unknown', reason: 'the pool and size of its allocations are not recorded (merged before pooltag read them, or not allocations)' };
  if (!want) return { verdict: 'unknown', reason: 'the input prints no pool type' };
  let poolSite: { s: CallSite; arch: string | null } | null = null;
  let otherSize: { s: CallSite; arch: string | null; blocks: number[] } | null = null;
  let unknownPool = false;
  const others = new Set<string>();
  for (const x of sites) {
    const classes = poolClasses(x.s.pool);
    if (classes.size === 0 || x.s.pool?.unknown) unknownPool = true;
    const inPool = classes.has(want) || (want === 'session' && classes.has('paged'));
    if (!inPool) {
      for (const c of classes) others.add(CLASS_NAME[c]);
      continue;
    }
    poolSite ??= x;
    if (screen.blockSize === null || !x.s.size?.values.length) continue;
    const cacheAligned = (x.s.pool?.values ?? []).some((v) => decodePool(x.s.pool!.encoding, v).cacheAligned);
    for (const req of x.s.size.values) {
      const blocks = blockSizes(req, x.arch, cacheAligned);
      if (blocks.includes(screen.blockSize)) {
        const g = poolGeometry(x.arch);
        return {
          verdict: 'confirmed',
          reason: `allocates it from ${poolText(x.s)} with ${req} bytes at ${hex(x.s.callSiteRva)} (${x.arch ?? '?'}): a ${screen.blockSize}-byte block (${g.header}-byte pool header, ${g.granularity}-byte granularity), the screen's bytes per allocation`,
        };
      }
      otherSize ??= { ...x, blocks };
    }
  }
  if (poolSite) {
    if (otherSize && !sites.some((x) => x.s.size && (x.s.size.values.length === 0 || x.s.size.unknown) && poolClasses(x.s.pool).has(want))) {
      return {
        verdict: 'other-size',
        reason: `allocates it from ${CLASS_NAME[want]}, but with ${otherSize.s.size!.values.join(' or ')} bytes (${otherSize.arch ?? '?'}): ${otherSize.blocks.join(' or ')}-byte blocks, not the screen's ${screen.blockSize}`,
      };
    }
    const size =
      screen.blockSize === null
        ? screen.average !== null
          ? `; the screen's sizes are mixed (${screen.average} bytes on average), so the size cannot confirm it`
          : ''
        : `; its size is not known at ${hex(poolSite.s.callSiteRva)}${poolSite.s.size?.unknown ? ` (${poolSite.s.size.unknown})` : ''}`;
    return { verdict: 'pool', reason: `allocates it from ${poolText(poolSite.s)} at ${hex(poolSite.s.callSiteRva)}${size}` };
  }
  if (!unknownPool && others.size) return { verdict: 'other-pool', reason: `allocates it only from ${[...others].join(' and ')}, not the screen's ${CLASS_NAME[want]}: not this row` };
  return { verdict: 'unknown', reason: 'the pool of its allocations is not known' };
}

function poolText(s: CallSite): string {
  return s.pool?.names.length ? s.pool.names.join(' or ') : 'pool';
}
