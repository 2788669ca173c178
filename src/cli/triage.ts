/**
 * `pooltag triage FILE...`: reads pool output (files or `-`), asks the knowledge base
 * who owns the tags, prints the verdict and the tables. Thin: reading and analysis are in
 * src/answer/triage.ts.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';

import { Lookup } from '../answer/lookup.js';
import { formatSize, ownerAnswers, parseInterval, poolName, readInput, triage, type InputRead, type TriageResult, type TriageSort, type VerdictLine } from '../answer/triage.js';
import { isDatabaseUrl } from '../knowledge/sql.js';
import { dbTarget, SqliteUnavailableError, Store, StoreError } from '../knowledge/store.js';
import { safeText, toJson } from './text.js';

export interface TriageCliOptions {
  db?: string;
  json?: boolean;
  sort?: string;
  top?: string;
  interval?: string;
}

const WIDTH = 80;
const SORTS = ['bytes', 'allocs', 'diff', 'tag'];

function fail(msg: string): number {
  process.stderr.write(`pooltag triage: ${msg}\n`);
  return 1;
}

/** No pool table is this large (poolmon's 5,000 tags are 500 KB); larger inputs are refused. */
const MAX_INPUT = 256 * 1024 * 1024;

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of process.stdin) {
    size += (c as Buffer).length;
    if (size > MAX_INPUT) throw Object.assign(new Error(`stdin is larger than ${MAX_INPUT / 1024 / 1024} MB: not a pool table`), { code: 'ETOOBIG' });
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function fileError(err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return 'no such file';
  if (err.code === 'EISDIR') return 'is a folder, not a file';
  if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
  return err.message;
}

/** Colour only on a terminal, never with NO_COLOR (set and not empty, as no-color.org says). */
function painter(): (code: string, s: string) => string {
  const on = !!process.stdout.isTTY && !process.env.NO_COLOR;
  return on ? (code, s) => `\x1b[${code}m${s}\x1b[0m` : (_c, s) => s;
}

/** Words wrapped to the screen width, the first line after `first`, the rest after `rest`. */
function wrap(text: string, first: string, rest: string, width = WIDTH): string[] {
  const out: string[] = [];
  let line = first;
  let empty = true;
  for (const w of text.split(/\s+/).filter(Boolean)) {
    if (!empty && line.length + 1 + w.length > width) {
      out.push(line);
      line = rest + w;
    } else line += (empty ? '' : ' ') + w;
    empty = false;
  }
  out.push(line);
  return out;
}

const cut = (s: string, n: number): string => (s.length > n ? s.slice(0, Math.max(0, n - 1)) + '…' : s);
const num = (v: number | null): string => (v === null ? '-' : String(v));
const signed = (v: number | null, f: (n: number) => string = String): string => (v === null ? '-' : `${v > 0 ? '+' : ''}${f(v)}`);

function renderVerdict(v: VerdictLine[], paint: ReturnType<typeof painter>): string[] {
  const out = [paint('1', 'Verdict')];
  const said = new Set<string>();
  for (const l of v) {
    const text = safeText(l.text, 600);
    const colour = l.kind === 'suspect' || /\bexhausted\b|have failed|is fragmented/.test(l.text) ? '31' : l.kind === 'note' ? '2' : '';
    const lines = wrap(text, '  * ', '    ');
    out.push(...(colour ? lines.map((x) => paint(colour, x)) : lines));
    // The same advice for several lines is given once.
    if (l.next) out.push(...wrap(said.has(l.next) ? 'Next: as above.' : safeText(l.next, 600), '    ', '    '));
    if (l.next) said.add(l.next);
  }
  return out;
}

function renderSnapshot(r: TriageResult, paint: ReturnType<typeof painter>): string[] {
  const out: string[] = [];
  for (const t of r.pools) {
    out.push('');
    const Pool = `${poolName(t.pool)[0].toUpperCase()}${poolName(t.pool).slice(1)}`;
    if (t.listing === 'allocations') {
      // !poolfind / !pool list blocks: their count and size per tag, no share of the pool.
      const blocks = t.rows.reduce((n, r) => n + (r.allocs ?? 0), 0);
      out.push(...wrap(`${Pool}: ${blocks} block${blocks === 1 ? '' : 's'} of ${t.tags} tag${t.tags === 1 ? '' : 's'} listed, ${formatSize(t.bytes)} (allocations, not the pool's use)`, '', '  ').map((l) => paint('1', l)));
      out.push(`  ${'Tag'.padEnd(4)} ${'Bytes'.padStart(10)} ${'Blocks'.padStart(8)}  Owner`);
      for (const row of t.rows) {
        out.push(`  ${safeText(row.tag, 8).padEnd(4)} ${(row.bytes === null ? '-' : formatSize(row.bytes)).padStart(10)} ${num(row.allocs).padStart(8)}  ${cut(safeText(row.owner.short, 200), WIDTH - 28)}`);
      }
      if (t.rows.length < t.tags) out.push(`  ... ${t.tags - t.rows.length} more (--top 0 for all)`);
      continue;
    }
    const from = t.totalFrom === 'table' ? '' : `, of ${formatSize(t.totalBytes)} in all (${t.totalFrom}${t.incomplete ? '; rows cut: incomplete' : ''})`;
    out.push(...wrap(`${Pool}: ${t.tags} tag${t.tags === 1 ? '' : 's'}, ${formatSize(t.bytes)}${from}`, '', '  ').map((l) => paint('1', l)));
    out.push(`  ${'Tag'.padEnd(4)} ${'Bytes'.padStart(10)} ${'Share'.padStart(6)} ${'Allocs'.padStart(10)} ${'Diff'.padStart(9)}  Owner`);
    const ownerWidth = WIDTH - 47;
    for (const row of t.rows) {
      const share = row.share === null ? '-' : `${(row.share * 100).toFixed(1)}%`;
      out.push(
        `  ${safeText(row.tag, 8).padEnd(4)} ${(row.bytes === null ? '-' : formatSize(row.bytes)).padStart(10)} ${share.padStart(6)} ${num(row.allocs).padStart(10)} ${num(row.diff).padStart(9)}  ${cut(safeText(row.owner.short, 200), ownerWidth)}`,
      );
    }
    if (t.rows.length < t.tags) out.push(`  ... ${t.tags - t.rows.length} more (--top 0 for all)`);
  }
  return out;
}

function renderSeries(r: TriageResult, paint: ReturnType<typeof painter>): string[] {
  const out: string[] = [''];
  const n = r.snapshots.length;
  const iv = r.intervalMs ? `, ${n - 1} interval${n === 2 ? '' : 's'} of ${duration(r.intervalMs)} (${r.intervalFrom === 'timestamps' ? 'from the timestamps, on average' : '--interval'})` : ', no time in the files (give --interval 30m for rates per hour)';
  out.push(...wrap(`Growth over ${n} snapshots${iv}`, '', '  ').map((l, i) => (i === 0 ? paint('1', l) : l)));
  r.snapshots.forEach((s, i) => out.push(`  ${i + 1}. ${cut(safeText(s.label, 300), 56)}${s.time ? `  ${s.time.replace('T', ' ').replace(/\.000Z$/, 'Z')}` : ''}`));
  out.push(`  ${'Tag'.padEnd(4)} ${'Pool'.padEnd(5)} ${'Now'.padStart(9)} ${'Growth'.padStart(9)} ${'per hour'.padStart(9)} ${'Allocs±'.padStart(7)}  Owner`);
  const ownerWidth = WIDTH - 52;
  for (const g of r.growth) {
    const now = [...g.bytes].reverse().find((b) => b !== null) ?? null;
    const mark = g.suspect ? paint('31', '*') : ' ';
    out.push(
      `${mark} ${safeText(g.tag, 8).padEnd(4)} ${g.pool.padEnd(5)} ${(now === null ? '-' : formatSize(now)).padStart(9)} ${signed(g.totalBytes, formatSize).padStart(9)} ${signed(g.bytesPerHour, formatSize).padStart(9)} ${signed(g.totalOutstanding).padStart(7)}  ${cut(safeText(g.owner.short, 200), ownerWidth)}`,
    );
    if (g.intervals.length > 1 && g.intervals.length <= 6) {
      out.push(...wrap(`intervals: ${g.intervals.map((x) => `${signed(x.bytes, formatSize)} / ${signed(x.outstanding)}`).join(', ')}`, '         ', '         '));
    }
  }
  if (r.growth.some((g) => g.suspect)) out.push('  * leak suspect: grows in every interval');
  return out;
}

function duration(ms: number): string {
  const m = Math.round(ms / 60000);
  if (m < 1) return `${Math.round(ms / 1000)}s`;
  if (m < 120) return `${m}m`;
  return `${(m / 60).toFixed(m % 60 ? 1 : 0)}h`;
}

function header(reads: InputRead[]): string[] {
  return reads.map((i) => {
    if (i.error) return `${safeText(i.source, 200)}: ${i.error}`;
    const tags = i.snapshots.reduce((s, x) => s + x.entries.length, 0);
    const what = i.format === 'vm' ? '!vm/!frag context' : `${i.format}, ${i.snapshots.length > 1 ? `${i.snapshots.length} snapshots, ` : ''}${tags} tag row${tags === 1 ? '' : 's'}`;
    const scope = i.snapshots[0]?.scope ? ` (${i.snapshots[0].scope})` : '';
    const enc = i.encoding === 'utf-8' ? '' : `, ${i.encoding}`;
    return `${safeText(i.source, 200)}: ${what}${scope}${enc}${i.unreadable.length ? `, ${i.unreadable.length} unreadable line${i.unreadable.length === 1 ? '' : 's'}` : ''}`;
  });
}

export async function triageCommand(inputs: string[], opts: TriageCliOptions): Promise<number> {
  const sort = (opts.sort ?? 'bytes').toLowerCase();
  if (!SORTS.includes(sort)) return fail(`--sort ${JSON.stringify(opts.sort)}: use one of ${SORTS.join(', ')}`);
  let top = 20;
  if (opts.top !== undefined) {
    if (!/^\d+$/.test(opts.top.trim())) return fail(`--top ${JSON.stringify(opts.top)}: give a number of rows (0 for all)`);
    top = Number(opts.top);
  }
  let intervalMs: number | null = null;
  if (opts.interval !== undefined) {
    intervalMs = parseInterval(opts.interval);
    if (intervalMs === null) return fail(`--interval ${JSON.stringify(opts.interval)}: give a duration such as 30m, 1h, 90s or 2h30m`);
  }
  if (inputs.filter((i) => i === '-').length > 1) return fail('stdin (-) can be given once');

  // The knowledge base: --db must exist; the default one is used when it does. When SQLite
  // itself cannot load, the answer comes from the input alone, and says so.
  let store: Store | null = null;
  let storeProblem: string | null = null;
  const dbPath = dbTarget(opts);
  if (opts.db || isDatabaseUrl(dbPath) || existsSync(dbPath)) {
    try {
      store = await Store.open(dbPath, { readonly: true });
    } catch (err) {
      if (err instanceof SqliteUnavailableError) {
        storeProblem = err.message;
        process.stderr.write(`pooltag triage: ${err.message}; answering without the knowledge base (owners from the input only)\n`);
      } else if (err instanceof StoreError) return fail(err.message);
      else throw err;
    }
  }

  try {
    const reads: InputRead[] = [];
    for (const input of inputs) {
      let bytes: Buffer;
      try {
        if (input !== '-' && statSync(input).size > MAX_INPUT) throw Object.assign(new Error(`larger than ${MAX_INPUT / 1024 / 1024} MB: not a pool table`), { code: 'ETOOBIG' });
        bytes = input === '-' ? await readStdin() : readFileSync(input);
      } catch (err) {
        reads.push({ source: input, encoding: 'utf-8', lineEnding: 'none', format: 'none', snapshots: [], unreadable: [], ignored: 0, error: fileError(err as NodeJS.ErrnoException) });
        continue;
      }
      reads.push(readInput(bytes, input === '-' ? 'stdin' : input));
    }
    let answers = null;
    try {
      answers = store ? await ownerAnswers(new Lookup(store), reads) : null;
    } catch (err) {
      if (err instanceof StoreError) return fail(err.message);
      throw err;
    }
    const result = triage(reads, { lookup: answers, sort: sort as TriageSort, top, intervalMs, knowledgeBaseProblem: storeProblem });
    const readable = reads.filter((r) => !r.error).length;
    const unreadableLines = reads.reduce((s, r) => s + r.unreadable.length, 0);
    const code = readable === 0 ? 1 : readable < reads.length || unreadableLines > 0 ? 2 : 0;

    for (const r of reads) {
      if (r.error) process.stderr.write(`pooltag triage: ${safeText(r.source, 300)}: ${r.error}\n`);
      // An input with nothing readable in it is one line (its reason), not a list of its lines.
      if (r.error) continue;
      for (const u of r.unreadable.slice(0, 10)) process.stderr.write(`pooltag triage: ${safeText(r.source, 300)}:${u.line}: cannot read this ${r.format === 'json' ? 'record' : 'line'}, skipped: ${safeText(u.text, 120)}\n`);
      if (r.unreadable.length > 10) process.stderr.write(`pooltag triage: ${safeText(r.source, 300)}: ... and ${r.unreadable.length - 10} more unreadable lines\n`);
    }
    if (opts.json) {
      process.stdout.write(toJson({ format: 'pooltag-triage', schemaVersion: 1, ...result, knowledgeBase: store ? store.path : null, ...(storeProblem ? { knowledgeBaseProblem: storeProblem } : {}) }) + '\n');
      return code;
    }
    if (readable === 0) return code;
    const paint = painter();
    const out: string[] = [...header(reads).flatMap((h) => wrap(h, '', '  ')), ''];
    out.push(...renderVerdict(result.verdict, paint));
    out.push(...(result.mode === 'series' ? renderSeries(result, paint) : renderSnapshot(result, paint)));
    if (store) {
      const rel = relative(process.cwd(), store.path);
      out.push('', `knowledge base ${safeText(rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : store.path, 300)}`);
    } else if (storeProblem) {
      out.push('', ...wrap(`knowledge base ${safeText(dbPath, 300)} not used: the SQLite module cannot be loaded here`, '', '  '));
    }
    process.stdout.write(out.join('\n') + '\n');
    return code;
  } finally {
    await store?.close();
  }
}
