/**
 * Triage of pool output: the tables an engineer has on screen when a pool is exhausted
 * (event 2019 / 2020) → which tags hold each pool, who owns them, and, over several
 * snapshots of one machine, which tags leak.
 *
 *   bytes ──decodeInput──> text ──readInput──> InputRead (snapshots: rows + context)
 *         ──triage──> TriageResult (verdict, one table per pool | growth per tag)
 *
 * Inputs: poolmon screens and `/n` snapshots, `!poolused` (both layouts), `!pool` /
 * `!poolfind`, CSV / JSON tables (PowerShell over SystemPoolTagInformation), with `!vm` /
 * `!frag` context; UTF-8 with or without BOM, UTF-16LE/BE with BOM, CRLF or LF. The table
 * parsers are those of pool-output.ts and pool-table.ts; the context is pool-context.ts.
 * Owners come from `Lookup` (the knowledge base), summarised by `summariseOwner`, or from
 * the input's own descriptions when there is no base. Nothing here throws on bad input.
 */
import type { DriverCandidate } from './driver-candidate.js';
import { matchCandidate, MATCH_RANK, screenAllocation, type PoolMatch, type ScreenAllocation } from './pool-match.js';
import type { Lookup, TagAnswer } from './lookup.js';
import { contextFindings, formatSize, readPoolContext, type PoolContext, type PoolFinding } from './pool-context.js';

export { formatSize };
import { detectPoolOutput, splitLines, type PoolOutputFormat, type PoolRow, type PoolType, type UnknownLine } from './pool-output.js';
import { csvHeader, parsePoolCsv, parsePoolJson, type PoolTable as PoolTableFile } from './pool-table.js';
import { Tag } from '../tag/tag.js';

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

export type InputEncoding = 'utf-8' | 'utf-8-bom' | 'utf-16le' | 'utf-16be' | 'latin1';

export interface DecodedText {
  text: string;
  encoding: InputEncoding;
  lineEnding: 'crlf' | 'lf' | 'cr' | 'mixed' | 'none';
}

/**
 * Bytes → text: a BOM decides (UTF-8, UTF-16LE as Windows PowerShell's `>` writes it,
 * UTF-16BE); without one, UTF-16LE is recognised by its NUL high bytes, else UTF-8, else
 * Latin-1 (a Windows-1252 console copy) so that no byte is lost.
 */
export function decodeInput(bytes: Uint8Array): DecodedText {
  let text: string;
  let encoding: InputEncoding;
  const b = bytes;
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) {
    encoding = 'utf-8-bom';
    text = new TextDecoder('utf-8').decode(b.subarray(3));
  } else if (b[0] === 0xff && b[1] === 0xfe) {
    encoding = 'utf-16le';
    text = new TextDecoder('utf-16le').decode(b.subarray(2));
  } else if (b[0] === 0xfe && b[1] === 0xff) {
    encoding = 'utf-16be';
    text = new TextDecoder('utf-16be').decode(b.subarray(2));
  } else if (looksUtf16le(b)) {
    encoding = 'utf-16le';
    text = new TextDecoder('utf-16le').decode(b);
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(b);
      encoding = 'utf-8';
    } catch {
      text = new TextDecoder('latin1').decode(b);
      encoding = 'latin1';
    }
  }
  let crlf = 0;
  let lf = 0;
  let cr = 0;
  for (let i = text.indexOf('\n') >= 0 || text.indexOf('\r') >= 0 ? 0 : text.length; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13) {
      if (text.charCodeAt(i + 1) === 10) {
        crlf++;
        i++;
      } else cr++;
    } else if (c === 10) lf++;
  }
  const kinds = [crlf && 'crlf', lf && 'lf', cr && 'cr'].filter(Boolean) as ('crlf' | 'lf' | 'cr')[];
  return { text, encoding, lineEnding: kinds.length === 0 ? 'none' : kinds.length === 1 ? kinds[0] : 'mixed' };
}

function looksUtf16le(b: Uint8Array): boolean {
  const n = Math.min(b.length & ~1, 512);
  if (n < 8) return false;
  let zeroHigh = 0;
  for (let i = 1; i < n; i += 2) if (b[i] === 0 && b[i - 1] !== 0) zeroHigh++;
  return zeroHigh >= (n / 2) * 0.9;
}

// ---------------------------------------------------------------------------------------
// Reading one input
// ---------------------------------------------------------------------------------------

export type InputFormat = Exclude<PoolOutputFormat, 'unknown'> | 'csv' | 'json' | 'vm' | 'none';

/** Tag + pool: one line of a pool table, whatever printed it. */
export interface PoolEntry {
  /** 4 characters, space padded (`"Io  "`, `"rx  "`). */
  tag: string;
  pool: PoolType | 'Unknown';
  bytes: number | null;
  allocs: number | null;
  frees: number | null;
  /** Outstanding allocations (allocs − frees). */
  diff: number | null;
  /** The input's own owner: poolmon's Mapped_Driver, `!poolused`'s `Binary:`, a CSV `Binary`. */
  inputDriver: string | null;
  inputDescription: string | null;
  /** The tool that printed it did not know the tag (`Unknown Driver`, `UNKNOWN pooltag`). */
  inputUnknown: boolean;
  /** Source lines (1-based). */
  lines: number[];
}

export interface Snapshot {
  /** The file (or `-`), with `#time` for one snapshot of a CSV/JSON series. */
  label: string;
  source: string;
  format: InputFormat;
  /** Milliseconds since the epoch, from the text; null when it carries no time. */
  time: number | null;
  timeText: string | null;
  entries: PoolEntry[];
  /** poolmon's `System pool information` / `Session 0 pool information`. */
  scope: string | null;
  /** `!poolused`'s TOTAL line, per pool. */
  totals: Partial<Record<PoolType, number>>;
  context: PoolContext;
}

export interface InputRead {
  source: string;
  encoding: InputEncoding;
  lineEnding: DecodedText['lineEnding'];
  format: InputFormat;
  snapshots: Snapshot[];
  /** Lines (records, for JSON) that could not be read. */
  unreadable: UnknownLine[];
  /** Decoration skipped: headers, prompts, blank lines, `...`. */
  ignored: number;
  /** Why nothing could be read from it, or null. */
  error: string | null;
}

/** What a debugger prints around the tables: banners, symbol and cache messages, progress dots. */
const DEBUGGER_CHATTER = new RegExp(
  String.raw`^\s*(?:` +
    [
      String.raw`Microsoft \(R\) Windows Debugger\b`,
      String.raw`Copyright \(c\) Microsoft`,
      String.raw`Loading (?:Dump File|unloaded module list|User Symbols|Kernel Symbols)\b`,
      String.raw`(?:Symbol|Executable) search path is:`,
      String.raw`\*{3} (?:WARNING|ERROR)\b`,
      String.raw`\*+ Symbol Loading Error Summary`,
      String.raw`(?:SYMSRV|DBGHELP|DBGENG):`,
      String.raw`Unable to (?:read|load|get)\b`,
      String.raw`Cached?\b.*\b(?:page|entries|hits|misses)\b`,
      String.raw`\.{3,}\s*$`,
      String.raw`\*{20,}\s*$`,
    ].join('|') +
    ')',
  'i',
);

/** A line that is only a time (PowerShell `Get-Date`, `.time`, an ISO stamp), optionally labelled. */
const TIME_LINE = /^\s*(?:#\s*)?(?:debug session time|snapshot(?: taken)?(?: at)?|taken|captured(?: at)?|collected(?: at)?|time(?:stamp)?|date)?\s*[:=]?\s*(.+?)\s*$/i;

/**
 * A time as written in the inputs → epoch ms (null if it is not one). `dayFirst` reads
 * `01/05/2024` as 1 May (en-GB `Get-Date`); otherwise as January 5 (en-US).
 */
export function parseTimestamp(raw: string, dayFirst = false): number | null {
  const s = raw
    .trim()
    .replace(/\s*\((?:UTC|GMT)[^)]*\)\s*$/i, '')
    .replace(/(\d{2}:\d{2}:\d{2})\.\d+/, '$1');
  if (!/\d{1,2}:\d{2}/.test(s)) return null;
  let m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(s);
  if (m) {
    const base = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] ?? 0));
    if (!m[7] || /z/i.test(m[7])) return base;
    const z = /([+-])(\d{2}):?(\d{2})/.exec(m[7])!;
    return base - (z[1] === '-' ? -1 : 1) * (+z[2] * 60 + +z[3]) * 60000;
  }
  m = /^(\d{1,2})[/.](\d{1,2})[/.](\d{4})[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(AM|PM)?$/i.exec(s);
  if (m) {
    let [a, b] = [+m[1], +m[2]];
    if (dayFirst || a > 12) [a, b] = [b, a];
    let h = +m[4];
    if (m[7]) h = (h % 12) + (/pm/i.test(m[7]) ? 12 : 0);
    if (a < 1 || a > 12 || b < 1 || b > 31) return null;
    return Date.UTC(+m[3], a - 1, b, h, +m[5], +(m[6] ?? 0));
  }
  // `Wednesday, May 1, 2024 10:30:00 AM`, `Tue Jun 11 10:14:21 2024`: English month names.
  if (!/\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b/i.test(s) || !/\b\d{4}\b/.test(s)) return null;
  const t = Date.parse(s.replace(/^[A-Za-z]+,\s*/, ''));
  if (Number.isFinite(t)) return t - new Date(t).getTimezoneOffset() * 60000;
  return null;
}

/** Whether every slash date among `texts` reads only day-first (some first field > 12). */
function dayFirstAmong(texts: (string | null)[]): boolean {
  let dayFirst = false;
  for (const t of texts) {
    const m = t && /(\d{1,2})[/.](\d{1,2})[/.]\d{4}/.exec(t);
    if (m && +m[1] > 12) dayFirst = true;
  }
  return dayFirst;
}

const add = (a: number | null, b: number | null): number | null => (b === null ? a : (a ?? 0) + b);

function toEntries(rows: PoolRow[]): PoolEntry[] {
  const byKey = new Map<string, PoolEntry>();
  for (const r of rows) {
    const pool = r.poolType ?? 'Unknown';
    // `!pool` / `!poolfind` blocks: a free block holds nothing; each allocated one counts once.
    const block = r.allocation;
    if (block && /^free$/i.test(block.state)) continue;
    const key = `${r.tag}\0${pool}`;
    let e = byKey.get(key);
    if (!e) {
      e = { tag: r.tag, pool, bytes: null, allocs: null, frees: null, diff: null, inputDriver: null, inputDescription: null, inputUnknown: false, lines: [] };
      byKey.set(key, e);
    }
    if (block) {
      e.bytes = add(e.bytes, block.size);
      e.allocs = add(e.allocs, 1);
      e.diff = add(e.diff, 1);
    } else {
      e.bytes = add(e.bytes, r.bytes);
      e.allocs = add(e.allocs, r.allocs);
      e.frees = add(e.frees, r.frees);
      e.diff = add(e.diff, r.diff ?? (r.allocs !== null && r.frees !== null ? r.allocs - r.frees : null));
    }
    e.inputDriver ??= r.mappedDriver;
    e.inputDescription ??= r.description;
    e.inputUnknown ||= r.unknownTag;
    if (e.lines.length < 8 && r.line) e.lines.push(r.line);
  }
  return [...byKey.values()];
}

/** Reads one input (a file's bytes, or stdin) into its snapshots. Never throws. */
export function readInput(bytes: Uint8Array, source: string): InputRead {
  const dec = decodeInput(bytes);
  const base = { source, encoding: dec.encoding, lineEnding: dec.lineEnding };
  if (bytes.length === 0) return { ...base, format: 'none', snapshots: [], unreadable: [], ignored: 0, error: 'the input is empty' };
  // No text in any 8-bit encoding holds a NUL byte: it is binary (a dump, a driver, an archive), said as import-pooltag says it.
  const nul = dec.encoding !== 'utf-16le' && dec.encoding !== 'utf-16be' ? bytes.indexOf(0) : -1;
  if (nul >= 0) {
    return { ...base, format: 'none', snapshots: [], unreadable: [], ignored: 0, error: `binary data (a NUL byte at offset 0x${nul.toString(16)}), not pool output (give a text copy of poolmon, !poolused, !pool/!poolfind, !vm/!frag, or a CSV/JSON table)` };
  }
  const text = dec.text.replace(/^\ufeff/, '').replace(/\x1a+\s*$/, '');
  const trimmed = text.trim();

  // JSON (ConvertTo-Json)
  if (/^[[{]/.test(trimmed)) {
    const t = parsePoolJson(trimmed);
    if (t) return tableInput(base, t, source);
  }
  const lines = splitLines(text);
  // CSV (Export-Csv, ConvertTo-Csv): a header line that names a tag column and figures.
  const headerAt = lines.findIndex((l, i) => i < 50 && csvHeader(l) !== null);
  if (headerAt >= 0 && lines.slice(0, headerAt).every((l) => l.trim() === '' || /^#TYPE\b/i.test(l.trim()))) {
    return tableInput(base, parsePoolCsv(lines), source);
  }

  // Text. A log that a script appended to (a time line, then a table, again and again) is
  // a series: one snapshot per time line, when at least two of them hold a table.
  const timeLines: number[] = [];
  for (let i = 0; i < lines.length; i++) if (timeLineText(lines[i]) !== null) timeLines.push(i);
  if (timeLines.length >= 2) {
    const parts = timeLines.map((at, k) => readText(lines.slice(k === 0 ? 0 : at, timeLines[k + 1] ?? lines.length), k === 0 ? 0 : at, source));
    const withRows = parts.filter((p) => p.snapshot && p.snapshot.entries.length > 0);
    if (withRows.length >= 2) {
      for (const p of parts) if (p.snapshot) p.snapshot.label = `${source}#${p.snapshot.timeText ?? p.snapshot.label}`;
      return {
        ...base,
        format: withRows[0].format,
        snapshots: parts.flatMap((p) => (p.snapshot ? [p.snapshot] : [])),
        unreadable: parts.flatMap((p) => p.unreadable),
        ignored: parts.reduce((n, p) => n + p.ignored, 0),
        error: null,
      };
    }
  }
  const one = readText(lines, 0, source);
  return { ...base, format: one.format, snapshots: one.snapshot ? [one.snapshot] : [], unreadable: one.unreadable, ignored: one.ignored, error: one.error };
}

/** The time a line carries when it is only a time (`Snapshot taken: ...`, `Get-Date` output), else null. */
function timeLineText(l: string): string | null {
  if (l.length >= 120 || l.indexOf(':') < 0) return null;
  const m = TIME_LINE.exec(l);
  return m && !/\b(?:Nonp|Paged|Tag|size:)\b/.test(l) && parseTimestamp(m[1]) !== null ? m[1] : null;
}

/** One text snapshot from `lines` (the file's lines from `offset`, 0-based). */
function readText(lines: readonly string[], offset: number, source: string): { format: InputFormat; snapshot: Snapshot | null; unreadable: UnknownLine[]; ignored: number; error: string | null } {
  // Context (!vm, !frag, a time line) first, then the table on the other lines.
  const context = readPoolContext(lines);
  let timeText: string | null = null;
  const rest = lines.map((l, i) => {
    if (context.lines.has(i + 1) || DEBUGGER_CHATTER.test(l)) return '';
    if (timeText === null) {
      const t = timeLineText(l);
      if (t !== null) {
        timeText = t;
        return '';
      }
    }
    return l;
  });
  const hasTable = rest.some((l) => l.trim() !== '');
  const out = hasTable ? detectPoolOutput(rest) : null;
  const format: InputFormat = out && out.format !== 'unknown' ? out.format : context.vm || context.frag ? 'vm' : 'none';
  const entries = out && out.format !== 'unknown' ? toEntries(out.rows) : [];
  // poolmon /s (`Session 0 pool information`, `All sessions pool information`) lists session pool as Paged.
  if (out?.format === 'poolmon' && out.scope && /session/i.test(out.scope)) for (const e of entries) if (e.pool === 'Paged') e.pool = 'Sess';
  const totals: Partial<Record<PoolType, number>> = {};
  if (out?.format === 'poolused' && out.totals) {
    // Older layout: Allocs Used per pool; newer: Allocs Frees Diff Used per pool.
    const per = out.totals.length % 4 === 0 && out.totals.length >= 8 ? 4 : 2;
    (['Nonp', 'Paged', 'Sess'] as const).forEach((p, g) => {
      const v = out.totals![g * per + per - 1];
      if (v !== undefined) totals[p] = v;
    });
  }
  // With no table, prompts (`kd> !vm 1`) and `...` elisions are decoration too.
  const decoration = (t: string) => /^\s*(?:\d+:\s*)?l?kd>/i.test(t) || /^\s*(?:\.{2,}|…)\s*$/.test(t);
  const unreadable = out ? (out.format === 'unknown' ? out.unknown.filter((u) => !decoration(u.text)) : out.unknown) : [];
  if (offset) {
    // Line numbers of the whole file.
    for (const u of unreadable) u.line += offset;
    for (const e of entries) e.lines = e.lines.map((n) => n + offset);
    context.lines = new Set([...context.lines].map((n) => n + offset));
    if (context.vm) context.vm.line += offset;
    if (context.frag) context.frag.line += offset;
    if (context.poolmon) context.poolmon.line += offset;
  }
  const snap: Snapshot = { label: source, source, format, time: null, timeText, entries, scope: out?.scope ?? null, totals, context };
  const noRows = entries.length === 0 && !context.vm && !context.frag;
  const error =
    format === 'none'
      ? 'no pool table or !vm/!frag output in it (poolmon, !poolused, !pool, !poolfind, CSV or JSON with a Tag column)'
      : noRows
        ? `a ${format} header but no table rows in it`
        : null;
  return {
    format,
    snapshot: format === 'none' || noRows ? null : snap,
    unreadable,
    // Context and time lines are blank in `rest`: the table parser counted them as ignored.
    ignored: out ? out.ignored : rest.filter((l) => l.trim() === '').length,
    error,
  };
}

function tableInput(base: Pick<InputRead, 'source' | 'encoding' | 'lineEnding'>, t: PoolTableFile, source: string): InputRead {
  const emptyCtx = (): PoolContext => ({ vm: null, frag: null, poolmon: null, lines: new Set() });
  const series = t.snapshots.length > 1;
  const snapshots: Snapshot[] = t.snapshots.map((s) => ({
    label: series && s.time ? `${source}#${s.time}` : source,
    source,
    format: t.format,
    time: null,
    timeText: s.time,
    entries: toEntries(s.rows),
    scope: null,
    totals: {},
    context: emptyCtx(),
  }));
  return {
    ...base,
    format: t.format,
    snapshots,
    unreadable: t.unknown,
    ignored: t.ignored,
    error: snapshots.length === 0 ? `no table rows in it (${t.unknown.length} unreadable ${t.format === 'json' ? 'records' : 'lines'})` : null,
  };
}

// ---------------------------------------------------------------------------------------
// Owners
// ---------------------------------------------------------------------------------------

export interface OwnerDriver {
  /** The driver file name, once for all its builds. */
  file: string;
  vendor: string | null;
  signer: string | null;
  versions: string[];
  /** Distinct images (builds, architectures) with this file name. */
  builds: number;
  callSites: number;
  confidence: 'high' | 'medium' | 'low';
  /** How it is tied to the tag: its call sites, or pooltag.txt naming its file. */
  via: 'call-site' | 'pooltag.txt';
  /**
   * Its allocation sites against the row's pool and bytes per allocation (src/answer/pool-match.ts):
   * `confirmed` ranks it first, `other-pool` marks it as not this row. Absent without a pool table row.
   */
  match?: PoolMatch;
}

export type OwnerStatus = 'driver' | 'pooltag.txt' | 'input' | 'shared' | 'unknown';

export interface OwnerSummary {
  status: OwnerStatus;
  drivers: OwnerDriver[];
  pooltag: { entryTag: string; wildcard: boolean; binary: string | null; description: string } | null;
  /** What the input itself said (Mapped_Driver, `Binary:`, the description). */
  input: { driver: string | null; description: string | null; unknown: boolean } | null;
  /** Why the tag is shared (many drivers use it), or null. */
  shared: string | null;
  notes: string[];
  /** Drivers that only hold the tag as a string in their data: hints, not owners. */
  hints: string[];
  /** One line: `core.sys, Pooltag Fixtures, 26 call sites in 13 builds`. */
  text: string;
  /** A table cell: `core.sys (Pooltag Fixtures)`. */
  short: string;
  /** What to do next. */
  next: string;
}

export interface InputOwner {
  driver: string | null;
  description: string | null;
  unknown: boolean;
}

const isMicrosoft = (s: string | null): boolean => !!s && /microsoft/i.test(s);
/** `nt!cm`, `win32k!...`, `ntoskrnl.exe`: pooltag.txt's way of naming the kernel and its parts. */
const isWindowsBinary = (s: string | null): boolean => !!s && /^(?:nt|ntoskrnl|win32k\w*|hal)(?:!|\.exe\b)/i.test(s.trim());
const WINDOWS_NEXT = 'Next: a Windows component: install the latest cumulative update, then look for what drives its use (a filter or a service above it).';

/**
 * Lookup's answer for one tag (null without a knowledge base) and what the input said →
 * the owner as triage shows it. Builds of one driver are ONE driver here, as lookup groups them.
 * This is the single place that reads `TagAnswer`'s candidates.
 */
export function summariseOwner(tagDisplay: string, answer: TagAnswer | null, input: InputOwner | null, opts: { listing?: boolean; screen?: ScreenAllocation | null } = {}): OwnerSummary {
  const screen = opts.screen ?? null;
  const inp = input && (input.driver || input.description || input.unknown) ? input : null;
  const drivers = new Map<string, OwnerDriver>();
  const rank = { high: 0, medium: 1, low: 2 } as const;
  /** One driver candidate of lookup (its builds already grouped) as one owner row. */
  const addDriver = (d: DriverCandidate, via: OwnerDriver['via'], conf: OwnerDriver['confidence']) => {
    const signer = d.signers.find((x): x is string => !!x) ?? null;
    let o = drivers.get(d.name);
    if (!o) drivers.set(d.name, (o = { file: d.name, vendor: d.company ?? signer, signer, versions: [], builds: 0, callSites: 0, confidence: conf, via }));
    o.builds += d.builds.length;
    if (via === 'call-site') o.callSites += d.builds.reduce((n, b) => n + b.callSites.length, 0);
    for (const v of d.versions) if (!o.versions.includes(v)) o.versions.push(v);
    if (rank[conf] < rank[o.confidence]) o.confidence = conf;
    o.vendor ??= d.company ?? signer;
    if (screen && via === 'call-site') {
      // The driver's best site decides (two candidates of one file name: the better match).
      const m = matchCandidate(d, screen);
      if (!o.match || MATCH_RANK[m.verdict] < MATCH_RANK[o.match.verdict]) o.match = m;
    }
  };
  let pooltag: OwnerSummary['pooltag'] = null;
  /** pooltag.txt's owner is Windows (`nt!io`), or a scanned Microsoft driver it names. */
  let pooltagIsWindows = false;
  const hints: string[] = [];
  for (const c of answer?.candidates ?? []) {
    if (c.source === 'call-site') addDriver(c.driver, 'call-site', c.confidence);
    else if (c.source === 'pooltag.txt') {
      const binary = c.binaryRaw && !/^<unknown>$/i.test(c.binaryRaw.trim()) ? c.binaryRaw : null;
      if (!pooltag) {
        pooltag = { entryTag: c.entryTag, wildcard: c.wildcard, binary, description: c.description };
        pooltagIsWindows = isWindowsBinary(binary) || c.drivers.some((d) => isMicrosoft(d.company ?? d.signers.find((x) => !!x) ?? null));
      }
    } else {
      if (!hints.includes(c.driver.name)) hints.push(c.driver.name);
    }
  }
  // Drivers pooltag.txt names, when scanned, give the vendor (after the call-site owners).
  if (drivers.size === 0) {
    const first = answer?.candidates.find((c) => c.source === 'pooltag.txt');
    if (first && first.source === 'pooltag.txt') for (const d of first.drivers) addDriver(d, 'pooltag.txt', first.wildcard ? 'low' : 'medium');
  }
  const matchRank = (d: OwnerDriver) => (d.match ? MATCH_RANK[d.match.verdict] : MATCH_RANK.unknown);
  // A driver the row's pool and block size confirm comes first; one that only uses the other pool, last.
  const list = [...drivers.values()].sort((a, b) => matchRank(a) - matchRank(b) || rank[a.confidence] - rank[b.confidence] || (a.via === b.via ? 0 : a.via === 'call-site' ? -1 : 1) || b.callSites - a.callSites || a.file.localeCompare(b.file));
  const shared = answer?.shared?.reason ?? null;
  const notes = (answer?.notes ?? []).map((n) => n.text);
  const status: OwnerStatus = shared ? 'shared' : list.some((d) => d.via === 'call-site') ? 'driver' : pooltag ? 'pooltag.txt' : inp && !inp.unknown ? 'input' : 'unknown';

  const driverText = (d: OwnerDriver): string =>
    [d.file, d.vendor, d.via === 'call-site' ? `${d.callSites} call site${d.callSites === 1 ? '' : 's'}${d.builds > 1 ? ` in ${d.builds} builds` : ''}` : 'named by pooltag.txt'].filter(Boolean).join(', ') + matchText(d.match);
  let text: string;
  let short: string;
  let next: string;
  const kb = answer !== null;
  const scanHint = 'scan this host\'s drivers and DriverStore (`pooltag scan --out host.json`, then `pooltag merge host.json`)';
  // `!poolfind` / `!pool` output is already the list of blocks: the next step looks inside one.
  const findBlocks = opts.listing
    ? 'look inside one of these blocks (`dps ADDRESS` shows pointers into the code that made it)'
    : `find its allocations with \`!poolfind ${tagDisplay.trim()}\` and the owner of each with \`!pool ADDRESS\``;
  switch (status) {
    case 'shared':
      text = `shared tag (${shared})${list.length ? `; passed by ${list.map((d) => d.file).slice(0, 3).join(', ')}${list.length > 3 ? ', ...' : ''}` : ''}`;
      short = `shared tag${list.length ? `: ${list[0].file}${list.length > 1 ? ' +' + (list.length - 1) : ''}` : ''}`;
      next = `Next: a shared tag does not name its driver: ${findBlocks}, or enable pool tracking per driver (Driver Verifier) on the suspects.`;
      break;
    case 'driver': {
      const shown = list.slice(0, 2).map(driverText).join('; also ');
      text = `${shown}${list.length > 2 ? `; and ${list.length - 2} other driver${list.length === 3 ? '' : 's'}` : ''}`;
      short = `${list[0].file}${list[0].vendor ? ` (${list[0].vendor})` : ''}${list.length > 1 ? ` +${list.length - 1}` : ''}`;
      next = list.every((d) => isMicrosoft(d.vendor))
        ? WINDOWS_NEXT
        : `Next: contact the vendor${list[0].vendor && !isMicrosoft(list[0].vendor) ? ` (${list[0].vendor})` : ''} or update the driver.`;
      // pooltag.txt names an owner too: both are shown, Microsoft's first when the tag is Windows'.
      const p = pooltag;
      if (p) {
        const entry = `pooltag.txt${p.wildcard ? ` (wildcard ${JSON.stringify(p.entryTag)})` : ''}: ${p.binary ?? '(no binary named)'} - ${p.description}`;
        const others = list.filter((d) => !isMicrosoft(d.vendor));
        if (pooltagIsWindows && others.length) {
          text = `Windows (${entry}); also passed by ${text}`;
          short = `${p.binary ?? 'Windows'}; ${short}`;
          const o = others[0];
          next = `Next: a Windows tag that ${o.file}${o.vendor ? ` (${o.vendor})` : ''} passes too: ${opts.listing ? 'look inside one of these blocks (`dps ADDRESS`) to see which made it' : `find whose blocks hold the pool with \`!poolfind ${tagDisplay.trim()}\` and \`!pool ADDRESS\``}; if Windows', install the latest cumulative update, if the driver's, contact its vendor.`;
        } else text += `; ${entry}`;
      }
      break;
    }
    case 'pooltag.txt': {
      const p = pooltag!;
      text = `pooltag.txt${p.wildcard ? ` (wildcard ${JSON.stringify(p.entryTag)})` : ''}: ${p.binary ?? '(no binary named)'} - ${p.description}${list.length ? `; scanned: ${list.map((d) => `${d.file}${d.vendor ? `, ${d.vendor}` : ''}`).join('; ')}` : ''}`;
      short = `${p.binary ?? p.description}${list[0]?.vendor ? ` (${list[0].vendor})` : ''}`;
      next = isWindowsBinary(p.binary) || list.some((d) => isMicrosoft(d.vendor))
        ? WINDOWS_NEXT
        : `Next: confirm the driver: ${scanHint}; pooltag.txt names it, no scanned driver passes the tag yet.`;
      break;
    }
    case 'input':
      text = `${[inp!.driver, inp!.description].filter(Boolean).join(' - ')} (as the input says${kb ? '; not in the knowledge base' : ''})`;
      short = `${inp!.driver ?? inp!.description}${kb ? '' : ' (input)'}`;
      next = isWindowsBinary(inp!.driver)
        ? WINDOWS_NEXT
        : kb
          ? `Next: ${scanHint} to find the driver and its vendor.`
          : 'Next: build the knowledge base to name the driver and its vendor: `pooltag scan --out host.json` on the host, `pooltag merge host.json`, `pooltag import-pooltag`.';
      break;
    default:
      text = `unknown tag: ${kb ? 'nothing in the knowledge base knows it' : 'no knowledge base, and the input does not name an owner'}${hints.length ? `; the string is in ${hints.slice(0, 3).join(', ')} (a hint, not an owner)` : ''}`;
      short = hints.length ? `unknown (hint: ${hints[0]})` : 'unknown';
      next = `Next: ${scanHint}${kb ? '' : ' and `pooltag import-pooltag`'}, or ${opts.listing ? findBlocks : `find its allocations live with \`!poolfind ${tagDisplay.trim()}\` and \`!pool ADDRESS\``}.`;
  }
  if (notes.length) text += `; note: ${notes[notes.length - 1]}`;
  return { status, drivers: list, pooltag, input: inp, shared, notes, hints, text, short, next };
}

/** What the owner line says of a driver's match with the row (confirmed, or not this row). */
function matchText(m: PoolMatch | undefined): string {
  if (!m) return '';
  if (m.verdict === 'confirmed') return ` (confirmed: ${m.reason})`;
  if (m.verdict === 'other-pool' || m.verdict === 'other-size') return ` (not matching: ${m.reason})`;
  return '';
}

/** Answers for tags, ready without waiting: `ownerAnswers` reads them from a Lookup before triage runs. */
export interface OwnerAnswers {
  answer(tag: Tag): TagAnswer | null;
}

/** Whether triage looks a printed tag up: a `.` stands for a byte that cannot be looked up exactly. */
function lookupTag(tag4: string): Tag | null {
  const codes = [...tag4].map((c) => c.charCodeAt(0));
  return codes.length === 4 && codes.every((c) => c < 0x100) && !tag4.includes('.') ? Tag.fromBytes(codes) : null;
}

/** The knowledge base's answer for every tag the inputs print (each looked up once), for `triage`. */
export async function ownerAnswers(lookup: Lookup, reads: readonly InputRead[]): Promise<OwnerAnswers> {
  const answers = new Map<number, TagAnswer>();
  for (const r of reads) {
    for (const snap of r.snapshots) {
      for (const e of snap.entries) {
        const tag = lookupTag(e.tag);
        if (tag && !answers.has(tag.ulong)) answers.set(tag.ulong, await lookup.answer(tag));
      }
    }
  }
  return { answer: (tag) => answers.get(tag.ulong) ?? null };
}

/** Looks tags up once each; null without a knowledge base. */
export class OwnerResolver {
  private readonly cache = new Map<string, TagAnswer | null>();
  constructor(readonly lookup: OwnerAnswers | null) {}

  answer(tag4: string): TagAnswer | null {
    if (!this.lookup) return null;
    let a = this.cache.get(tag4);
    if (a === undefined) {
      // A tag printed with `.` for a non-printable byte cannot be looked up exactly.
      const tag = lookupTag(tag4);
      a = tag ? this.lookup.answer(tag) : null;
      this.cache.set(tag4, a);
    }
    return a;
  }

  /**
   * `listing`: the input lists blocks (`!poolfind`, `!pool`), so the next step is not to list them.
   * The row's pool and bytes, when it has them, rank the drivers whose sites allocate the tag
   * from that pool with a size that makes that block size first.
   */
  owner(e: Pick<PoolEntry, 'tag' | 'inputDriver' | 'inputDescription' | 'inputUnknown'> & Partial<Pick<PoolEntry, 'pool' | 'bytes' | 'diff'>>, listing = false): OwnerSummary {
    const screen = e.pool ? screenAllocation(e.pool, e.bytes ?? null, e.diff ?? null) : null;
    return summariseOwner(e.tag, this.answer(e.tag), { driver: e.inputDriver, description: e.inputDescription, unknown: e.inputUnknown }, { listing, screen });
  }
}

// ---------------------------------------------------------------------------------------
// Triage
// ---------------------------------------------------------------------------------------

export type TriageSort = 'bytes' | 'allocs' | 'diff' | 'tag';

export interface TriageOptions {
  /** The knowledge base's answers (`ownerAnswers`); null: owners from the input only. */
  lookup?: OwnerAnswers | null;
  sort?: TriageSort;
  /** Rows per pool table (and per growth ranking); 0 = all. Default 20. */
  top?: number;
  /** The interval between snapshots when they carry no time (ms). */
  intervalMs?: number | null;
  /** A knowledge base is there but could not be used (the SQLite module cannot load): why. */
  knowledgeBaseProblem?: string | null;
}

export interface TriageRow {
  tag: string;
  pool: PoolEntry['pool'];
  bytes: number | null;
  /** Share of the pool's total (0..1), null when bytes are unknown. */
  share: number | null;
  allocs: number | null;
  frees: number | null;
  diff: number | null;
  owner: OwnerSummary;
}

export interface TriagePool {
  pool: PoolEntry['pool'];
  tags: number;
  /** Sum of the table's bytes. */
  bytes: number;
  /** The pool's total: `!poolused` TOTAL, poolmon's `Pool N:/P:`, `!vm` usage, else the table sum. */
  totalBytes: number;
  totalFrom: 'table' | '!poolused TOTAL' | 'poolmon header' | '!vm';
  /**
   * `usage`: what each tag holds of the pool (poolmon, `!poolused`, CSV); `allocations`: the
   * blocks `!poolfind` or `!pool` listed, which say nothing of the pool's use (no shares).
   */
  listing: 'usage' | 'allocations';
  /** The rows add up to a small part of the pool's TOTAL: rows were cut from the paste. */
  incomplete: boolean;
  rows: TriageRow[];
}

export interface VerdictLine {
  kind: 'context' | 'holder' | 'allocations' | 'suspect' | 'growth' | 'note';
  text: string;
  next: string | null;
  tag?: string;
  pool?: PoolEntry['pool'];
}

export interface GrowthRow {
  tag: string;
  pool: PoolEntry['pool'];
  /** Bytes and outstanding allocations in each snapshot (null: the tag is not in it). */
  bytes: (number | null)[];
  outstanding: (number | null)[];
  /** Change over each interval (null when either end is missing). */
  intervals: { bytes: number | null; outstanding: number | null }[];
  totalBytes: number | null;
  totalOutstanding: number | null;
  /** Per hour over the whole span; null when the span is unknown. */
  bytesPerHour: number | null;
  outstandingPerHour: number | null;
  /** Grows in every interval. */
  suspect: boolean;
  owner: OwnerSummary;
}

export interface TriageResult {
  mode: 'snapshot' | 'series';
  inputs: { source: string; format: InputFormat; encoding: InputEncoding; lineEnding: string; snapshots: number; unreadableLines: UnknownLine[]; error: string | null }[];
  /** A knowledge base was used (the CLI's JSON puts its path, or null, here). */
  knowledgeBase: boolean;
  verdict: VerdictLine[];
  /** `!vm` / `!frag` findings (the last `!vm` and the last `!frag` among the inputs). */
  context: PoolFinding[];
  /** One snapshot: one table per pool: nonpaged, paged, session, then blocks of no known pool. */
  pools: TriagePool[];
  /** Several snapshots: in analysis order. */
  snapshots: { label: string; time: string | null; tags: number }[];
  /** Interval length in ms (null when unknown), and where it came from. */
  intervalMs: number | null;
  intervalFrom: 'timestamps' | '--interval' | null;
  growth: GrowthRow[];
}

const POOL_NAME: Record<PoolEntry['pool'], string> = { Nonp: 'nonpaged pool', Paged: 'paged pool', Sess: 'session pool', Unknown: 'pool (type not printed)' };
export const poolName = (p: PoolEntry['pool']): string => POOL_NAME[p];


function sortEntries<T extends { tag: string; bytes: number | null; allocs?: number | null; diff?: number | null }>(rows: T[], sort: TriageSort): T[] {
  const num = (v: number | null | undefined) => v ?? -Infinity;
  return [...rows].sort((a, b) => {
    if (sort === 'tag') return a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0;
    const k = sort === 'allocs' ? num(b.allocs) - num(a.allocs) : sort === 'diff' ? num(b.diff) - num(a.diff) : num(b.bytes) - num(a.bytes);
    return k || num(b.bytes) - num(a.bytes) || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0);
  });
}

const isEmpty = (e: PoolEntry): boolean => !e.bytes && !e.allocs && !e.frees && !e.diff;

const POOL_ORDER: PoolEntry['pool'][] = ['Nonp', 'Paged', 'Sess', 'Unknown'];

/** Below this part of `!poolused`'s TOTAL, the rows of a paste are not the whole table. */
export const INCOMPLETE_SHARE = 0.5;

function poolTables(snap: Snapshot, owners: OwnerResolver, sort: TriageSort, top: number): TriagePool[] {
  const tables: TriagePool[] = [];
  const listing = snap.format === 'poolfind' || snap.format === 'pool';
  for (const pool of POOL_ORDER) {
    // `!poolused` and CSV tables print every tag for every pool: a tag with nothing in this pool is not in its table.
    const entries = snap.entries.filter((e) => e.pool === pool && !isEmpty(e));
    if (entries.length === 0) continue;
    const bytes = entries.reduce((s, e) => s + (e.bytes ?? 0), 0);
    let totalBytes = bytes;
    let totalFrom: TriagePool['totalFrom'] = 'table';
    const ctx = snap.context;
    const vmUse = pool === 'Nonp' ? ctx.vm?.nonpaged?.usedBytes : pool === 'Paged' ? ctx.vm?.paged?.usedBytes : undefined;
    const header = pool === 'Nonp' ? ctx.poolmon?.nonpagedBytes : pool === 'Paged' && snap.scope !== null && !/session/i.test(snap.scope) ? ctx.poolmon?.pagedBytes : undefined;
    const total = pool !== 'Unknown' ? snap.totals[pool] : undefined;
    if (total !== undefined && total >= bytes) [totalBytes, totalFrom] = [total, '!poolused TOTAL'];
    else if (header !== undefined && header >= bytes) [totalBytes, totalFrom] = [header, 'poolmon header'];
    else if (vmUse !== undefined && vmUse >= bytes) [totalBytes, totalFrom] = [vmUse, '!vm'];
    const sorted = sortEntries(entries, sort);
    const shown = top > 0 ? sorted.slice(0, top) : sorted;
    tables.push({
      pool,
      tags: entries.length,
      bytes,
      totalBytes,
      totalFrom,
      listing: listing ? 'allocations' : 'usage',
      incomplete: totalFrom === '!poolused TOTAL' && bytes < totalBytes * INCOMPLETE_SHARE,
      rows: shown.map((e) => ({
        tag: e.tag,
        pool,
        bytes: e.bytes,
        share: !listing && e.bytes !== null && totalBytes > 0 ? e.bytes / totalBytes : null,
        allocs: e.allocs,
        frees: e.frees,
        diff: e.diff,
        owner: owners.owner(e, listing),
      })),
    });
  }
  return tables; // nonpaged, paged, session, then blocks of no known pool
}

/** Share of a pool that makes a tag worth naming in the verdict. */
export const HOLDER_SHARE = 0.1;
/** Bytes below which a tag is no verdict, whatever its share (2 KB of a small paste is nothing). */
export const HOLDER_MIN_BYTES = 1024 * 1024;

const NOTHING_STANDS_OUT_NEXT =
  'Next: take snapshots over time (`poolmon /n` every 30 minutes, or `!poolused` in several dumps) and give them all to `pooltag triage` to find what grows; `!vm` says whether the pool is short at all.';

function holderLines(tables: TriagePool[]): VerdictLine[] {
  const out: (VerdictLine & { share: number })[] = [];
  const listed: VerdictLine[] = [];
  const notes: VerdictLine[] = [];
  for (const t of tables) {
    const bySize = [...t.rows].sort((a, b) => (b.bytes ?? -1) - (a.bytes ?? -1));
    const pct = (share: number) => (share >= 0.1 ? `${Math.round(share * 100)}%` : `${(share * 100).toFixed(1)}%`);
    const what = (r: TriageRow) => `${formatSize(r.bytes!)}${r.diff !== null ? `, ${r.diff} allocation${r.diff === 1 ? '' : 's'}` : ''}`;
    if (t.listing === 'allocations') {
      // Blocks listed by !poolfind / !pool: what they are and who made them, not a share of the pool.
      for (const r of bySize.filter((x) => x.bytes !== null && x.bytes > 0).slice(0, 3)) {
        const blocks = r.allocs ?? r.diff;
        const text = `${r.tag.trimEnd()}: ${blocks ?? '?'} block${blocks === 1 ? '' : 's'} listed in ${poolName(t.pool)} (${formatSize(r.bytes!)}; a list of allocations, not the pool's use): ${r.owner.text}`;
        listed.push({ kind: 'allocations', tag: r.tag, pool: t.pool, text: sentence(text), next: r.owner.next });
      }
      continue;
    }
    if (t.incomplete) {
      notes.push({
        kind: 'note',
        pool: t.pool,
        text: `The ${poolName(t.pool)} table is incomplete: its rows hold ${formatSize(t.bytes)} of the ${formatSize(t.totalBytes)} TOTAL (${pct(t.bytes / t.totalBytes)}); rows were cut from the paste (\`...\`), and the tag that holds the pool may be among them.`,
        next: 'Next: paste the whole !poolused output (`.logopen` before `!poolused`, then `.logclose`, writes it to a file).',
      });
    }
    const named = bySize.filter((r) => r.bytes !== null && r.bytes >= HOLDER_MIN_BYTES && (r.share ?? 1) >= HOLDER_SHARE).slice(0, 3);
    for (const r of named) {
      const text = `${r.tag.trimEnd()} holds ${r.share === null ? '?' : pct(r.share)} of ${poolName(t.pool)} (${what(r)}): ${r.owner.text}`;
      out.push({ kind: 'holder', tag: r.tag, pool: t.pool, share: r.share ?? 0, text: sentence(text), next: r.owner.next });
    }
    const largest = bySize.find((r) => r.bytes !== null && r.bytes > 0);
    if (named.length === 0 && largest && !t.incomplete) {
      // No verdict on a tag: the largest is said as a fact, with what to do instead.
      notes.push({
        kind: 'note',
        pool: t.pool,
        tag: largest.tag,
        text: `Nothing stands out in ${poolName(t.pool)} (${formatSize(t.totalBytes)}, ${t.totalFrom}): the largest tag, ${largest.tag.trimEnd()}, holds ${largest.share === null ? formatSize(largest.bytes!) : `${pct(largest.share)} (${formatSize(largest.bytes!)})`}; a tag is named when it holds ${pct(HOLDER_SHARE)} of its pool and ${formatSize(HOLDER_MIN_BYTES)} or more.`,
        next: NOTHING_STANDS_OUT_NEXT,
      });
    }
  }
  // The tag that holds the largest share of its pool first; then what the tables cannot say.
  return [...out.sort((a, b) => b.share - a.share).map(({ share: _s, ...v }) => v), ...listed, ...notes];
}

const sentence = (s: string): string => (/[.!?]$/.test(s) ? s : `${s}.`);

/** The analysis: one snapshot → tables per pool; several → growth per tag and leak suspects. */
export function triage(inputs: InputRead[], opts: TriageOptions = {}): TriageResult {
  const owners = new OwnerResolver(opts.lookup ?? null);
  const sort = opts.sort ?? 'bytes';
  const top = opts.top ?? 20;
  let snaps = inputs.flatMap((i) => i.snapshots);
  const dayFirst = dayFirstAmong(snaps.map((s) => s.timeText));
  for (const s of snaps) s.time = s.timeText ? parseTimestamp(s.timeText, dayFirst) : null;
  const withTable = snaps.filter((s) => s.entries.length > 0);
  // `!vm` and `!frag` may come in files of their own: the last of each is the context.
  const lastVm = [...snaps].reverse().find((s) => s.context.vm)?.context.vm ?? null;
  const lastFrag = [...snaps].reverse().find((s) => s.context.frag)?.context.frag ?? null;
  const merged: PoolContext | null = lastVm || lastFrag ? { vm: lastVm, frag: lastFrag, poolmon: null, lines: new Set() } : null;
  const context = merged ? contextFindings(merged) : [];
  const result: TriageResult = {
    mode: withTable.length > 1 ? 'series' : 'snapshot',
    inputs: inputs.map((i) => ({ source: i.source, format: i.format, encoding: i.encoding, lineEnding: i.lineEnding, snapshots: i.snapshots.length, unreadableLines: i.unreadable, error: i.error })),
    knowledgeBase: !!opts.lookup,
    verdict: context.map((c) => ({ kind: 'context', text: c.text, next: null })),
    context,
    pools: [],
    snapshots: [],
    intervalMs: null,
    intervalFrom: null,
    growth: [],
  };

  if (withTable.length <= 1) {
    const snap = withTable[0];
    if (snap) {
      if (merged) snap.context = { ...snap.context, vm: snap.context.vm ?? merged.vm, frag: snap.context.frag ?? merged.frag };
      result.snapshots = [{ label: snap.label, time: snap.time !== null ? new Date(snap.time).toISOString() : null, tags: snap.entries.length }];
      result.pools = poolTables(snap, owners, sort, top);
      result.verdict.push(...holderLines(result.pools));
    }
  } else {
    snaps = withTable;
    if (snaps.every((s) => s.time !== null)) {
      snaps = [...snaps].sort((a, b) => a.time! - b.time!);
      result.intervalFrom = 'timestamps';
    } else if (opts.intervalMs) {
      result.intervalMs = opts.intervalMs;
      result.intervalFrom = '--interval';
    }
    result.snapshots = snaps.map((s) => ({ label: s.label, time: s.time !== null ? new Date(s.time).toISOString() : null, tags: s.entries.length }));
    const spanMs = result.intervalFrom === 'timestamps' ? snaps[snaps.length - 1].time! - snaps[0].time! : result.intervalMs ? result.intervalMs * (snaps.length - 1) : null;
    if (result.intervalFrom === 'timestamps') result.intervalMs = Math.round(spanMs! / (snaps.length - 1));
    result.growth = growthRows(snaps, spanMs && spanMs > 0 ? spanMs : null, owners, top);
    result.verdict.push(...growthLines(result.growth, snaps.length - 1));
  }
  if (!opts.lookup && opts.knowledgeBaseProblem) {
    result.verdict.push({
      kind: 'note',
      text: 'The knowledge base could not be used: the SQLite module cannot be loaded here. Owners come from the input\'s own descriptions (Mapped_Driver, !poolused, Binary columns).',
      next: 'Run the same command with pooltag.exe (SQLite inside) or on Node.js 22 or later (its SQLite module comes compiled), or reinstall pooltag with this Node.js.',
    });
  } else if (!opts.lookup) {
    result.verdict.push({
      kind: 'note',
      text: 'No knowledge base: owners come from the input\'s own descriptions (Mapped_Driver, !poolused, Binary columns).',
      next: 'Build one to name drivers and vendors: `pooltag scan --out host.json` on the host, `pooltag merge host.json`, `pooltag import-pooltag`; then `pooltag triage --db FILE ...`.',
    });
  }
  return result;
}

function growthRows(snaps: Snapshot[], spanMs: number | null, owners: OwnerResolver, top: number): GrowthRow[] {
  const keys = new Map<string, { tag: string; pool: PoolEntry['pool']; per: (PoolEntry | null)[] }>();
  snaps.forEach((s, i) => {
    for (const e of s.entries) {
      const k = `${e.tag}\0${e.pool}`;
      let g = keys.get(k);
      if (!g) keys.set(k, (g = { tag: e.tag, pool: e.pool, per: snaps.map(() => null) }));
      g.per[i] = e;
    }
  });
  const hours = spanMs ? spanMs / 3_600_000 : null;
  const rows: (Omit<GrowthRow, 'owner'> & { entry: PoolEntry })[] = [];
  for (const g of keys.values()) {
    if (g.per.every((e) => e === null || isEmpty(e))) continue;
    const bytes = g.per.map((e) => e?.bytes ?? null);
    const outstanding = g.per.map((e) => e?.diff ?? null);
    const intervals = bytes.slice(1).map((b, i) => ({
      bytes: b !== null && bytes[i] !== null ? b - bytes[i]! : null,
      outstanding: outstanding[i + 1] !== null && outstanding[i] !== null ? outstanding[i + 1]! - outstanding[i]! : null,
    }));
    const first = (xs: (number | null)[]) => xs.find((x) => x !== null) ?? null;
    const last = (xs: (number | null)[]) => [...xs].reverse().find((x) => x !== null) ?? null;
    const fb = first(bytes);
    const lb = last(bytes);
    const fo = first(outstanding);
    const lo = last(outstanding);
    const totalBytes = bytes[0] !== null && bytes[bytes.length - 1] !== null ? lb! - fb! : null;
    const totalOutstanding = outstanding[0] !== null && outstanding[outstanding.length - 1] !== null ? lo! - fo! : null;
    // A leak suspect grows in every interval: in bytes when the input has them, else in outstanding allocations.
    const measure = intervals.every((iv) => iv.bytes !== null) ? 'bytes' : 'outstanding';
    const suspect = intervals.length > 0 && intervals.every((iv) => (iv[measure] ?? 0) > 0);
    rows.push({
      tag: g.tag,
      pool: g.pool,
      bytes,
      outstanding,
      intervals,
      totalBytes,
      totalOutstanding,
      bytesPerHour: hours && totalBytes !== null ? Math.round(totalBytes / hours) : null,
      outstandingPerHour: hours && totalOutstanding !== null ? Math.round(totalOutstanding / hours) : null,
      suspect,
      entry: g.per.filter(Boolean).pop()!,
    });
  }
  rows.sort(
    (a, b) =>
      Number(b.suspect) - Number(a.suspect) ||
      (b.totalBytes ?? -Infinity) - (a.totalBytes ?? -Infinity) ||
      (b.totalOutstanding ?? -Infinity) - (a.totalOutstanding ?? -Infinity) ||
      (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0),
  );
  const shown = top > 0 ? rows.slice(0, top) : rows;
  return shown.map(({ entry, ...r }) => ({ ...r, owner: owners.owner(entry) }));
}

function growthLines(rows: GrowthRow[], intervals: number): VerdictLine[] {
  const suspects = rows.filter((r) => r.suspect);
  const out: VerdictLine[] = [];
  const rate = (r: GrowthRow): string =>
    r.bytesPerHour !== null
      ? `${r.bytesPerHour >= 0 ? '+' : ''}${formatSize(r.bytesPerHour)}/h${r.outstandingPerHour !== null ? `, ${r.outstandingPerHour >= 0 ? '+' : ''}${r.outstandingPerHour} allocations/h` : ''}`
      : `${r.totalBytes !== null ? `${r.totalBytes >= 0 ? '+' : ''}${formatSize(r.totalBytes)}` : '?'}${r.totalOutstanding !== null ? `, ${r.totalOutstanding >= 0 ? '+' : ''}${r.totalOutstanding} allocations` : ''} in all (no time: give --interval for rates)`;
  for (const r of suspects.slice(0, 3)) {
    const now = [...r.bytes].reverse().find((b) => b !== null);
    out.push({
      kind: 'suspect',
      tag: r.tag,
      pool: r.pool,
      text: `Leak suspect: ${r.tag.trimEnd()} in ${poolName(r.pool)} grows in every interval (${intervals} interval${intervals === 1 ? ': take another snapshot to confirm' : 's'}): ${rate(r)}, now ${now !== undefined && now !== null ? formatSize(now) : '?'}. Owner: ${sentence(r.owner.text)}`,
      next: r.owner.next,
    });
  }
  if (suspects.length > 3) out.push({ kind: 'note', text: `${suspects.length - 3} more tags grow in every interval (see the table).`, next: null });
  if (suspects.length === 0) {
    const grower = rows.find((r) => (r.totalBytes ?? 0) > 0);
    out.push({
      kind: 'growth',
      text: `No tag grows in every interval: no leak suspect.${grower ? ` The largest overall growth is ${grower.tag.trimEnd()} in ${poolName(grower.pool)} (${rate(grower)}), which also shrank or stalled in between.` : ''}`,
      next: grower ? 'Next: take more snapshots over a longer time (poolmon /n, or !poolused every hour) to see whether it keeps growing.' : null,
    });
  }
  return out;
}

/** `30m`, `1h`, `90s`, `2h30m`, `45` (minutes) → ms; null when not a duration. */
export function parseInterval(s: string): number | null {
  const t = s.trim().toLowerCase();
  if (/^\d+(?:\.\d+)?$/.test(t)) return Number(t) > 0 ? Number(t) * 60_000 : null;
  const re = /(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|hr|d)/g;
  let total = 0;
  let used = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    const unit = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, hr: 3_600_000, d: 86_400_000 }[m[2]]!;
    total += Number(m[1]) * unit;
    used += m[0].length;
  }
  if (used !== t.replace(/\s+/g, '').length && used !== t.length) return null;
  return total > 0 ? total : null;
}
