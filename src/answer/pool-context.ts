/**
 * The context a pool table comes with: WinDbg `!vm` (pool usage against its maximum,
 * "N pool allocations have failed", free system PTEs), `!frag` (nonpaged pool fragments)
 * and poolmon's header block (`Pool N: 8332K P:27220K`). Real samples are in
 * ../shared/debugger/ (one published with non-breaking spaces and lines that lost their
 * indentation) and ../shared/samples/.
 *
 * `readPoolContext` picks these lines out of any text, so a debugger log holding `!vm` and
 * `!poolused` together is read in one go: it returns the line numbers it took, and the
 * table parsers (src/answer/pool-output.ts) get the other lines. It never throws.
 */

/** Pool usage as `!vm` prints it: pages and KB. */
export interface PoolUsage {
  /** Bytes in use (the `Kb` figure × 1024). */
  usedBytes: number;
  /** Bytes allowed (`NonPagedPool Max`, `PagedPool Maximum`); null when not printed. */
  maxBytes: number | null;
}

export interface VmContext {
  nonpaged: PoolUsage | null;
  paged: PoolUsage | null;
  /** `********** 4270 pool allocations have failed **********`; 0 when the line is absent. */
  failedAllocations: number;
  /** `Free System PTEs: 45089 ( 180356 Kb)`: the count; null when not printed. */
  freeSystemPtes: number | null;
  /** The line `!vm`'s block started on (1-based). */
  line: number;
}

export interface FragBucket {
  index: number;
  fragments: number;
  bytes: number;
}

export interface FragContext {
  /** The buckets printed (an elided `...` range is simply absent). */
  buckets: FragBucket[];
  /** `Number of fragments: 11 consuming 9344 bytes`. */
  fragments: number | null;
  freeBytes: number | null;
  /** `NonPagedPool Usage: 1105920 bytes`. */
  nonpagedUsedBytes: number | null;
  line: number;
}

/** poolmon's header: `Pool N: 8332K P:27220K` (the pools' totals, in KB). */
export interface PoolmonHeader {
  nonpagedBytes: number;
  pagedBytes: number;
  line: number;
}

export interface PoolContext {
  vm: VmContext | null;
  frag: FragContext | null;
  poolmon: PoolmonHeader | null;
  /** The 1-based numbers of the lines read as context (the table parsers skip them). */
  lines: Set<number>;
}

const NUM = String.raw`(\d[\d,]*)`;
/** `Label:   877   (   3508 Kb)` with any indentation (the published copy lost some). */
const PAGES_KB = new RegExp(String.raw`^\s*([A-Za-z][A-Za-z0-9 ]*?)\s*:\s*${NUM}\s*\(\s*${NUM}\s*Kb\s*\)\s*$`, 'i');
const VM_BANNER = /^\s*\*{3}\s*Virtual Memory Usage\s*\*{3}\s*$/i;
const VM_FAILED = new RegExp(String.raw`^\s*\**\s*${NUM}\s+pool allocations have failed\s*\**\s*$`, 'i');
const VM_OTHER = [/^\s*Page File\s*:/i, /^\s*Current\s*:\s*\d+\s*Kb\b/i, /^\s*Minimum\s*:\s*\d+\s*Kb\b/i];
const FRAG_BANNER = /^\s*NonPaged Pool Fragmentation\s*$/i;
const FRAG_BUCKET = new RegExp(String.raw`^\s*index\s*:\s*${NUM}\s+number of fragments\s*:\s*${NUM}\s+bytes\s*:\s*${NUM}\s*$`, 'i');
const FRAG_TOTAL = new RegExp(String.raw`^\s*Number of fragments\s*:\s*${NUM}\s+consuming\s+${NUM}\s+bytes\s*$`, 'i');
const FRAG_USAGE = new RegExp(String.raw`^\s*NonPagedPool Usage\s*:\s*${NUM}\s+bytes\s*$`, 'i');
const POOLMON_POOLS = /Pool N:\s*(\d+)K\s+P:\s*(\d+)K/i;

const int = (s: string): number => Number(s.replace(/,/g, ''));

/** Reads `!vm`, `!frag` and poolmon's `Pool N:` line out of `lines` (already split). */
export function readPoolContext(lines: readonly string[]): PoolContext {
  const ctx: PoolContext = { vm: null, frag: null, poolmon: null, lines: new Set() };
  let vmNP: Partial<PoolUsage> = {};
  let vmPP: Partial<PoolUsage> = {};
  let vmSeen = false;
  const vm = (n: number): VmContext => (ctx.vm ??= { nonpaged: null, paged: null, failedAllocations: 0, freeSystemPtes: null, line: n });
  const frag = (n: number): FragContext => (ctx.frag ??= { buckets: [], fragments: null, freeBytes: null, nonpagedUsedBytes: null, line: n });
  lines.forEach((raw, i) => {
    const n = i + 1;
    // Every context line has a colon but the two banners and the failure line: table rows
    // (most of the lines) are passed over without a regular expression.
    if (raw.length > 400 || (raw.indexOf(':') < 0 && raw.indexOf('***') < 0 && raw.indexOf('Fragmentation') < 0)) return;
    const l = raw.replace(/\u00a0/g, ' ');
    if (VM_BANNER.test(l)) {
      vm(n);
      vmSeen = true;
      ctx.lines.add(n);
      return;
    }
    let m = VM_FAILED.exec(l);
    if (m) {
      vm(n).failedAllocations += int(m[1]);
      ctx.lines.add(n);
      return;
    }
    m = PAGES_KB.exec(l);
    if (m) {
      const label = m[1].toLowerCase().replace(/\s+/g, ' ');
      const kb = int(m[3]) * 1024;
      // Windows 8+ prints NonPagedPoolNx beside NonPagedPool: both are nonpaged pool.
      if (/^nonpagedpool(?:nx)? usage$/.test(label)) vmNP.usedBytes = (vmNP.usedBytes ?? 0) + kb;
      else if (/^nonpagedpool (?:max|maximum)$/.test(label)) vmNP.maxBytes = kb;
      else if (label === 'pagedpool usage') vmPP.usedBytes = kb;
      else if (/^pagedpool (?:max|maximum)$/.test(label)) vmPP.maxBytes = kb;
      else if (label === 'free system ptes') vm(n).freeSystemPtes = int(m[2]);
      // Any other `Label: pages (Kb)` line is part of !vm (Physical Memory, Commit limit, ...).
      if (!vmSeen && !/pool|ptes|pages|memory|commit/.test(label)) return;
      vm(n);
      ctx.lines.add(n);
      return;
    }
    if ((vmSeen || ctx.vm) && VM_OTHER.some((re) => re.test(l))) {
      ctx.lines.add(n);
      return;
    }
    if (FRAG_BANNER.test(l)) {
      frag(n);
      ctx.lines.add(n);
      return;
    }
    m = FRAG_BUCKET.exec(l);
    if (m) {
      frag(n).buckets.push({ index: int(m[1]), fragments: int(m[2]), bytes: int(m[3]) });
      ctx.lines.add(n);
      return;
    }
    m = FRAG_TOTAL.exec(l);
    if (m) {
      Object.assign(frag(n), { fragments: int(m[1]), freeBytes: int(m[2]) });
      ctx.lines.add(n);
      return;
    }
    m = FRAG_USAGE.exec(l);
    if (m) {
      frag(n).nonpagedUsedBytes = int(m[1]);
      ctx.lines.add(n);
      return;
    }
    m = POOLMON_POOLS.exec(l);
    if (m && !ctx.poolmon) {
      // The line stays with the table too (poolmon's parser skips it as decoration).
      ctx.poolmon = { nonpagedBytes: Number(m[1]) * 1024, pagedBytes: Number(m[2]) * 1024, line: n };
    }
  });
  if (ctx.vm) {
    if (vmNP.usedBytes !== undefined) ctx.vm.nonpaged = { usedBytes: vmNP.usedBytes, maxBytes: vmNP.maxBytes ?? null };
    if (vmPP.usedBytes !== undefined) ctx.vm.paged = { usedBytes: vmPP.usedBytes, maxBytes: vmPP.maxBytes ?? null };
  }
  return ctx;
}

// ---------------------------------------------------------------------------------------
// What the context says
// ---------------------------------------------------------------------------------------

/** At or above this share of its maximum a pool is "nearly exhausted"; at 100 % "exhausted". */
export const NEARLY_EXHAUSTED = 0.8;
export const EXHAUSTED = 0.98;
/** Free fragments worth this share of the pool in use: the pool is fragmented. */
export const FRAGMENTED = 0.1;
/** Fewer free system PTEs than this is a shortage of its own (Microsoft's usual threshold). */
export const LOW_PTES = 10_000;

export type PoolState = 'exhausted' | 'nearly exhausted' | 'fragmented' | 'ok';

export interface PoolFinding {
  pool: 'Nonp' | 'Paged' | 'system PTEs' | 'allocations';
  state: PoolState | 'low' | 'failed';
  text: string;
}

/**
 * Bytes as the verdicts print them (`188.4 MB`, `-180.0 KB`): the form of src/cli/text.ts's
 * formatBytes, with a sign, here because the verdict is written by the library, not the CLI.
 */
export function formatSize(n: number): string {
  const a = Math.abs(n);
  const s = a < 1024 ? `${a} B` : a < 1024 ** 2 ? `${(a / 1024).toFixed(1)} KB` : a < 1024 ** 3 ? `${(a / 1024 ** 2).toFixed(1)} MB` : `${(a / 1024 ** 3).toFixed(2)} GB`;
  return n < 0 ? `-${s}` : s;
}

const pct = (a: number, b: number): string => `${Math.round((a / b) * 100)}%`;

/** The context as sentences, most serious first. */
export function contextFindings(ctx: PoolContext): PoolFinding[] {
  const out: PoolFinding[] = [];
  const vm = ctx.vm;
  if (vm) {
    for (const [pool, name, u] of [
      ['Nonp', 'Nonpaged', vm.nonpaged],
      ['Paged', 'Paged', vm.paged],
    ] as const) {
      if (!u || !u.maxBytes) continue;
      const share = u.usedBytes / u.maxBytes;
      const state: PoolState = share >= EXHAUSTED ? 'exhausted' : share >= NEARLY_EXHAUSTED ? 'nearly exhausted' : 'ok';
      out.push({ pool, state, text: `${name} pool ${state === 'ok' ? 'is not exhausted' : `is ${state}`}: ${formatSize(u.usedBytes)} of its ${formatSize(u.maxBytes)} maximum (${pct(u.usedBytes, u.maxBytes)}) in !vm.` });
    }
    if (vm.failedAllocations > 0) {
      const high = out.some((f) => f.state === 'exhausted' || f.state === 'nearly exhausted');
      out.unshift({
        pool: 'allocations',
        state: 'failed',
        text: `${vm.failedAllocations} pool allocations have failed (!vm)${high ? '.' : ': the pool ran out at some point, or a large request found no contiguous space, even though it is not full now.'}`,
      });
    }
    if (vm.freeSystemPtes !== null && vm.freeSystemPtes < LOW_PTES) {
      out.push({ pool: 'system PTEs', state: 'low', text: `Only ${vm.freeSystemPtes} free system PTEs (below ${LOW_PTES}): system address space is short too.` });
    }
  }
  const f = ctx.frag;
  if (f && f.freeBytes !== null) {
    const used = f.nonpagedUsedBytes ?? ctx.vm?.nonpaged?.usedBytes ?? null;
    const largest = f.buckets.reduce((m, b) => (b.fragments > 0 ? Math.max(m, Math.floor(b.bytes / b.fragments)) : m), 0);
    if (used) {
      const fragmented = f.freeBytes / used >= FRAGMENTED;
      out.push({
        pool: 'Nonp',
        state: fragmented ? 'fragmented' : 'ok',
        text: `Nonpaged pool is ${fragmented ? 'fragmented' : 'not fragmented'}: ${f.fragments ?? '?'} free fragments hold ${(f.freeBytes / 1024).toFixed(1)} KB (${((f.freeBytes / used) * 100).toFixed(1)}% of the ${formatSize(used)} in use)${largest ? `, the largest about ${largest} bytes` : ''} (!frag).`,
      });
    }
  }
  return out;
}
