/**
 * Parsers for the pool statistics an engineer pastes: poolmon screens and `/n` snapshots,
 * WinDbg/KD `!poolused` (older and newer layouts), `!pool ADDRESS` and `!poolfind TAG`.
 * See ../shared/reference/formats.md and the real samples in ../shared/samples/.
 *
 * Everything is forgiving: a parser never throws; lines it recognises as decoration
 * (headers, prompts, `...`, hex dumps) are counted in `ignored`, lines it cannot read at
 * all are listed in `unknown` (and counted), and every row keeps its 1-based line number.
 *
 * ## Tags
 *
 * Every row has `tag`, a 4-character string, space padded on the right (`"Io  "`), and
 * `displayTag`, the 4 characters exactly as printed. They differ only for a tag printed
 * right-aligned (`"  rx"`): poolmon and `!poolused`'s quote print a tag that ends in NUL
 * bytes (`rx\0\0`) through a `%4s`-style format, so the short tag is right-aligned; since a
 * trailing NUL is equivalent to a space, the tag is `"rx  "`. (`!poolused` confirms it: the
 * same row's first column reads `rx..`, the NULs printed as dots.) A tag whose own bytes
 * start with a space cannot be told apart from the display alone; `displayTag` keeps it.
 *
 * poolmon's tag column is read BY COLUMN, from the header line's `Tag` position, because
 * tags contain spaces (`Dh 1`, `Io  `); when a row does not line up with its header (a
 * hand-edited paste such as `## Tag` over `CM       Paged`), the text before the pool type
 * is used instead.
 */

// ---------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------

export type PoolOutputFormat = 'poolmon' | 'poolused' | 'pool' | 'poolfind' | 'unknown';

/** poolmon's pool type words; `!poolused` groups are mapped to the same words. */
export type PoolType = 'Nonp' | 'Paged' | 'Sess';

/** One owner named in poolmon's Mapped_Driver column (one `[...]` group). */
export interface MappedOwner {
  /** `ntfs.sys` from `[ntfs.sys  -  AttrSup.c]`, `ipsec` from `[ipsec]` (localtag.txt). */
  driver: string | null;
  /** `AttrSup.c`, or `Gdi Objects` from `[Gdi Objects]` (a pooltag.txt line without binary). */
  description: string | null;
  /** The group had no closing `]` (poolmon cut the line at the screen width). */
  truncated: boolean;
}

/** The `!pool` / `!poolfind` details of one pool block. */
export interface PoolAllocation {
  /** As printed (`e1001050`, `ffffa88a`c1a4a000`), without the leading `*`. */
  address: string;
  /** Block size (the debugger prints it in hex); null when not printed. */
  size: number | null;
  /** `previous size:` (hex); null when not printed. */
  previousSize: number | null;
  /** `Allocated`, `Free`, `Lookaside`, ... (text inside the parentheses); `large` for large pool lines. */
  state: string;
  /** The allocation of interest (`*` before the address or the tag). */
  marked: boolean;
  /** Anything printed after the tag (`(Protected)`, `Process: ...`). */
  note: string | null;
}

export interface PoolRow {
  /** 4 characters, space padded on the right (see the module comment). */
  tag: string;
  /**
   * The 4 characters exactly as printed in the tag column: `"  rx"` for a right-aligned
   * poolmon tag, `"rx.."` in `!poolused`'s first column (NULs printed as dots).
   */
  displayTag: string;
  poolType: PoolType | null;
  allocs: number | null;
  allocsDelta: number | null;
  frees: number | null;
  freesDelta: number | null;
  diff: number | null;
  bytes: number | null;
  bytesDelta: number | null;
  perAlloc: number | null;
  /** The owning driver named by the tool (poolmon Mapped_Driver, `!poolused` `Binary:`). */
  mappedDriver: string | null;
  /** The description printed for the tag. */
  description: string | null;
  /** poolmon: every `[...]` group of the Mapped_Driver column. */
  mapped: MappedOwner[];
  /** The tool said it does not know the tag (`Unknown Driver`, `UNKNOWN pooltag '...'`). */
  unknownTag: boolean;
  /** `!poolused`: the tag inside `UNKNOWN pooltag '...'`, verbatim (padding kept). */
  quotedTag: string | null;
  /** `!pool`, `!poolfind`: the block. */
  allocation: PoolAllocation | null;
  /** 1-based line number in the pasted text. */
  line: number;
  /** The whole line. */
  raw: string;
}

export interface UnknownLine {
  line: number;
  text: string;
}

export interface PoolOutput {
  format: PoolOutputFormat;
  rows: PoolRow[];
  /** Lines recognised as decoration: headers, prompts, blank lines, `...`, hex dumps. */
  ignored: number;
  /** Lines that could not be read (garbage, other tools' output). */
  unknown: UnknownLine[];
  /** `unknown.length`. */
  unknownCount: number;
  /** `!poolused`: the numbers of the `TOTAL` line, in column order. */
  totals: number[] | null;
  /** `!poolfind`: the tag searched for; `!pool`: null. */
  searchedTag: string | null;
  /** poolmon: `System pool information`, `Session 0 pool information`, ... (last seen). */
  scope: string | null;
}

// ---------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------

/** Split pasted text into lines: CRLF/CR/LF, non-breaking spaces as spaces. */
export function splitLines(text: unknown): string[] {
  if (typeof text !== 'string') return [];
  return (text.indexOf('\u00a0') >= 0 ? text.replace(/\u00a0/g, ' ') : text).split(/\r\n|\r|\n/);
}

/**
 * Pasted text, or its lines already split by `splitLines` (a caller that reads other
 * things from the same lines, such as src/answer/triage.ts, splits once).
 */
export type PoolText = string | readonly string[];
const linesOf = (text: PoolText): readonly string[] => (Array.isArray(text) ? text : splitLines(text));

/** `"  rx"` → `"rx  "`; pads to 4. */
function alignTag(display: string): string {
  return display.trimStart().padEnd(4, ' ');
}

/** A row with the tag as displayed (`"  rx"` → tag `"rx  "`) and every figure null. */
export function emptyRow(line: number, raw: string, display: string): PoolRow {
  const displayTag = display.padEnd(4, ' ').slice(0, 4);
  return {
    tag: alignTag(displayTag),
    displayTag,
    poolType: null,
    allocs: null,
    allocsDelta: null,
    frees: null,
    freesDelta: null,
    diff: null,
    bytes: null,
    bytesDelta: null,
    perAlloc: null,
    mappedDriver: null,
    description: null,
    mapped: [],
    unknownTag: false,
    quotedTag: null,
    allocation: null,
    line,
    raw,
  };
}

function newOutput(format: PoolOutputFormat): PoolOutput {
  return { format, rows: [], ignored: 0, unknown: [], unknownCount: 0, totals: null, searchedTag: null, scope: null };
}

function addUnknown(out: PoolOutput, line: number, text: string): void {
  out.unknown.push({ line, text: text.length > MAX_LINE ? text.slice(0, 200) + '…' : text });
  out.unknownCount++;
}

/**
 * No tool prints lines this long; longer ones are garbage and are not matched against the
 * regular expressions at all (which keeps every parser linear on hostile input).
 */
const MAX_LINE = 4096;
const tooLong = (l: string): boolean => l.length > MAX_LINE;

/** A debugger prompt with or without a command: `kd> `, `0: kd> !poolused`, `1: kd>`. */
const PROMPT = /^\s*(?:\d+:\s*)?(?:\d+:\s*)?(?:kd|lkd|\d+:\d+(?::\w+)?)>/i;
/** Elision lines: `...`, `......`, `…`. */
const ELLIPSIS = /^\s*(?:\.{2,}|…)\s*$/;

/** Small tokenizer over one line: numbers and parenthesised deltas, left to right. */
class Cursor {
  pos: number;
  constructor(
    readonly s: string,
    pos: number,
  ) {
    this.pos = pos;
  }
  skipWs(): void {
    while (this.pos < this.s.length && (this.s[this.pos] === ' ' || this.s[this.pos] === '\t')) this.pos++;
  }
  /** A (possibly negative) decimal integer, or null (position unchanged). */
  number(): number | null {
    const save = this.pos;
    this.skipWs();
    const s = this.s;
    let i = this.pos;
    const neg = s.charCodeAt(i) === 45; /* - */
    if (neg) i++;
    let v = 0;
    let digits = 0;
    // At most 23 digits, as before (longer runs are not one number).
    while (i < s.length && digits < 24) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
      i++;
      digits++;
    }
    if (digits === 0) {
      this.pos = save;
      return null;
    }
    this.pos = i;
    return neg ? -v : v;
  }
  /** `( 177)`, `(   0)`, `( -5)`; null when absent (position unchanged). */
  delta(): number | null {
    const save = this.pos;
    this.skipWs();
    if (this.s.charCodeAt(this.pos) !== 40 /* ( */) {
      this.pos = save;
      return null;
    }
    this.pos++;
    const v = this.number();
    this.skipWs();
    if (v === null || this.s.charCodeAt(this.pos) !== 41 /* ) */) {
      this.pos = save;
      return null;
    }
    this.pos++;
    return v;
  }
}

// ---------------------------------------------------------------------------------------
// poolmon
// ---------------------------------------------------------------------------------------

/** The table header: ` Tag  Type     Allocs ...` (also `## Tag   Type` in pasted docs). */
const POOLMON_HEADER = /\bTag\s+Type\s+Allocs\b/;
/** The pool type word followed by the Allocs number: finds the type column in a row. */
const POOLMON_TYPE = /(?<=^|[ \t])(Nonp|Paged|Sess|NonP|Page)[ \t]+(?=-?\d)/g;
/** Lines of poolmon's header block and command lines. */
const POOLMON_DECORATION = [
  /^\s*Memory:/i,
  /^\s*Commit:/i,
  /Pool N:\s*\d/i,
  /^\s*poolmon(?:\.exe)?(?:\s|$)/i,
  // (`... pool information` lines are the scope, tested apart in parsePoolmon)
];

function normalizePoolType(word: string): PoolType {
  if (/^nonp/i.test(word)) return 'Nonp';
  if (/^pag/i.test(word)) return 'Paged';
  return 'Sess';
}

/** Parse poolmon's Mapped_Driver column (`[drv - desc]`, `[a][b - c]`, `Unknown Driver`). */
function parseMapped(text: string, row: PoolRow): void {
  const t = text.trim();
  if (t === '') return;
  if (/^unknown driver$/i.test(t)) {
    row.unknownTag = true;
    return;
  }
  if (!t.startsWith('[')) {
    row.description = t;
    return;
  }
  for (let i = 0; i < t.length; ) {
    if (t[i] !== '[') {
      i++;
      continue;
    }
    const close = t.indexOf(']', i + 1);
    const inner = (close < 0 ? t.slice(i + 1) : t.slice(i + 1, close)).trim();
    i = close < 0 ? t.length : close + 1;
    const m = /^(.*?)\s+-\s+(.*)$/.exec(inner) ?? /^(\S+)\s+-$/.exec(inner);
    let owner: MappedOwner;
    if (m) owner = { driver: m[1].trim() || null, description: m[2]?.trim() || null, truncated: close < 0 };
    // One field: a single word is a driver (localtag.txt), several words a description.
    else if (/^\S+$/.test(inner)) owner = { driver: inner, description: null, truncated: close < 0 };
    else owner = { driver: null, description: inner || null, truncated: close < 0 };
    row.mapped.push(owner);
  }
  row.mappedDriver = row.mapped.find((o) => o.driver !== null)?.driver ?? null;
  row.description = row.mapped.find((o) => o.description !== null)?.description ?? null;
}

/** One poolmon row, or null. `tagCol` is the header's Tag column (or a guess). */
function parsePoolmonRow(raw: string, lineNo: number, tagCol: number | null): PoolRow | null {
  POOLMON_TYPE.lastIndex = 0;
  const m = POOLMON_TYPE.exec(raw);
  if (!m) return null;
  const typeAt = m.index;
  let display: string | null = null;
  if (
    tagCol !== null &&
    tagCol + 4 <= typeAt &&
    raw.slice(0, tagCol).trim() === '' &&
    raw.slice(tagCol, tagCol + 4).trim() !== '' &&
    raw.slice(tagCol + 4, typeAt).trim() === ''
  ) {
    display = raw.slice(tagCol, tagCol + 4); // by column: keeps `Dh 1`, `Io  `, `  rx`
  } else {
    const lead = raw.slice(0, typeAt).trim();
    if (lead.length >= 1 && lead.length <= 4) display = lead.padEnd(4, ' ');
  }
  if (display === null) return null;

  const row = emptyRow(lineNo, raw, display);
  row.poolType = normalizePoolType(m[1]);
  const c = new Cursor(raw, typeAt + m[0].length);
  row.allocs = c.number();
  row.allocsDelta = c.delta();
  row.frees = c.number();
  row.freesDelta = c.delta();
  row.diff = c.number();
  row.bytes = c.number();
  row.bytesDelta = c.delta();
  row.perAlloc = c.number();
  if (row.allocs === null || row.frees === null || row.diff === null || row.bytes === null || row.perAlloc === null) {
    return null;
  }
  parseMapped(raw.slice(c.pos), row);
  return row;
}

/**
 * poolmon screen copies and `/n` snapshots: the `Memory:` / `Commit:` / `Pool N:` block and
 * the `... pool information` line are skipped; rows are
 * `Tag Type Allocs (delta) Frees (delta) Diff Bytes (delta) Per Alloc [Mapped_Driver]`.
 */
export function parsePoolmon(text: PoolText): PoolOutput {
  const out = newOutput('poolmon');
  const lines = linesOf(text);
  // Without a header, the Tag column is the smallest indentation of the rows.
  let guess: number | null = null;
  for (const l of lines) {
    POOLMON_TYPE.lastIndex = 0;
    if (tooLong(l) || POOLMON_HEADER.test(l) || !POOLMON_TYPE.test(l)) continue;
    const ind = l.length - l.trimStart().length;
    guess = guess === null ? ind : Math.min(guess, ind);
  }
  let tagCol: number | null = null;
  lines.forEach((l, i) => {
    const n = i + 1;
    if (tooLong(l)) return addUnknown(out, n, l);
    if (l.trim() === '' || ELLIPSIS.test(l) || PROMPT.test(l)) {
      out.ignored++;
      return;
    }
    if (POOLMON_HEADER.test(l)) {
      tagCol = l.search(/\bTag\b/);
      out.ignored++;
      return;
    }
    // Rows have figures, decoration lines have words: a digit-led row skips the word tests.
    const scope = l.includes('nformation') ? /^\s*([\w ]*pool information)\s*$/i.exec(l) : null;
    if (scope) out.scope = scope[1].trim();
    if (scope || POOLMON_DECORATION.some((re) => re.test(l))) {
      out.ignored++;
      return;
    }
    const row = parsePoolmonRow(l, n, tagCol ?? guess) ?? (tagCol !== null ? parsePoolmonRow(l, n, guess) : null);
    if (row) out.rows.push(row);
    else addUnknown(out, n, l);
  });
  return out;
}

// ---------------------------------------------------------------------------------------
// !poolused
// ---------------------------------------------------------------------------------------

/** `Tag Allocs Used Allocs Used` (older) or `Tag Allocs Frees Diff Used` ×2 (newer). */
const POOLUSED_HEADER = /^\s*Tag\s+Allocs\s+(?:Frees\s+Diff\s+)?Used\b/;
const POOLUSED_UNKNOWN = /^UNKNOWN pooltag '([^']{0,4})'(?:,\s*please update pooltag\.txt)?\s*$/i;
const POOLUSED_BINARY = /^(.*?)\s*,\s*Binary\s*:\s*(.*?)\s*$/;

interface PoolusedLayout {
  tagCol: number;
  /** Column names after Tag, in order (`Allocs`, `Frees`, `Diff`, `Used`). */
  names: string[];
  /** End (exclusive) of each numeric column in the header: numbers are right-aligned to it. */
  ends: number[];
  /** Columns per pool group (2 in the older layout, 4 in the newer). */
  groupSize: number;
  /** Pool type of each group, from the `NonPaged   Paged` title line. */
  groups: PoolType[];
}

function poolusedLayout(header: string, groupTitles: PoolType[] | null): PoolusedLayout {
  const tagCol = header.search(/\bTag\b/);
  const names: string[] = [];
  const ends: number[] = [];
  const re = /\S+/g;
  re.lastIndex = tagCol + 3;
  for (let m = re.exec(header); m; m = re.exec(header)) {
    names.push(m[0]);
    ends.push(m.index + m[0].length);
  }
  const second = names.indexOf('Allocs', 1);
  const groupSize = second > 0 ? second : names.length;
  const groups = groupTitles ?? ['Nonp', 'Paged', 'Sess'];
  return { tagCol, names, ends, groupSize, groups };
}

/** Apply `!poolused`'s description column to a row. */
function poolusedDescription(text: string, row: PoolRow): void {
  const t = text.trim();
  if (t === '') return;
  const u = POOLUSED_UNKNOWN.exec(t);
  if (u) {
    row.unknownTag = true;
    row.quotedTag = u[1];
    return;
  }
  const b = POOLUSED_BINARY.exec(t);
  if (b) {
    row.description = b[1].trim() || null;
    row.mappedDriver = b[2].trim() || null;
    return;
  }
  row.description = t;
}

/** One `!poolused` line → one row per pool group (NonPaged, Paged[, Session]), or null. */
function parsePoolusedLine(raw: string, n: number, layout: PoolusedLayout | null, fallbackCol: number): PoolRow[] | null {
  // By column when the row lines up with the header; else from the row's indentation.
  let tagCol = layout?.tagCol ?? fallbackCol;
  if (raw.slice(0, tagCol).trim() !== '') tagCol = raw.length - raw.trimStart().length;
  const display = raw.slice(tagCol, tagCol + 4);
  if (display.trim() === '' || (raw.length > tagCol + 4 && !/[ \t]/.test(raw[tagCol + 4]))) return null;

  // How many numbers: from the header, else as many as precede a tab, else 4 (older layout).
  const tab = raw.indexOf('\t', tagCol + 4);
  let count = layout ? layout.names.length : 0;
  if (!layout) {
    const before = tab >= 0 ? raw.slice(tagCol + 4, tab) : raw.slice(tagCol + 4);
    const nums = before.match(/(?<=^|\s)\d+(?=\s|$)/g)?.length ?? 0;
    count = tab >= 0 ? nums : 4;
  }
  if (count === 0) return null;

  const values: number[] = [];
  let pos = tagCol + 4;
  for (let k = 0; k < count; k++) {
    while (raw[pos] === ' ' || raw[pos] === '\t') pos++;
    let end = pos;
    while (end < raw.length && raw.charCodeAt(end) >= 48 && raw.charCodeAt(end) <= 57) end++;
    if (end === pos) return null;
    // The last number may be glued to a description that starts with a digit
    // (`0` + `1394 OHCI host controller driver`): cut it at the header's column end.
    if (k === count - 1 && layout && end > layout.ends[k] && layout.ends[k] > pos) end = layout.ends[k];
    values.push(Number(raw.slice(pos, end)));
    pos = end;
  }

  const proto = emptyRow(n, raw, display);
  poolusedDescription(raw.slice(pos).replace(/^\t/, ''), proto);
  if (proto.quotedTag !== null) {
    // The quote keeps the tag's padding (`'AGP '`); a right-aligned quote (`'  rx'`) is a
    // NUL-terminated tag, like the dots of the first column (`rx..`).
    proto.tag = alignTag(proto.quotedTag);
  }
  const names = layout?.names ?? (count === 8 ? ['Allocs', 'Frees', 'Diff', 'Used', 'Allocs', 'Frees', 'Diff', 'Used'] : ['Allocs', 'Used', 'Allocs', 'Used']);
  const groupSize = layout?.groupSize ?? names.length / 2;
  const groups = layout?.groups ?? ['Nonp', 'Paged', 'Sess'];
  const rows: PoolRow[] = [];
  for (let g = 0; g * groupSize < values.length; g++) {
    const row: PoolRow = { ...proto, mapped: [], poolType: groups[g] ?? null };
    for (let k = g * groupSize; k < Math.min(values.length, (g + 1) * groupSize); k++) {
      const name = names[k]?.toLowerCase();
      if (name === 'allocs') row.allocs = values[k];
      else if (name === 'frees') row.frees = values[k];
      else if (name === 'diff') row.diff = values[k];
      else if (name === 'used' || name === 'bytes') row.bytes = values[k];
    }
    rows.push(row);
  }
  return rows;
}

/**
 * `!poolused` output. Older layout: `Tag Allocs Used Allocs Used` (NonPaged, Paged) with
 * the description glued to the last number; newer: `Tag Allocs Frees Diff Used` for each
 * pool and a tab before the description. Each line gives one row per pool group, in
 * column order (`poolType` `Nonp`, `Paged`, then `Sess` for flag 8). The `TOTAL` line goes
 * to `totals`.
 */
export function parsePoolused(text: PoolText): PoolOutput {
  const out = newOutput('poolused');
  const lines = linesOf(text);
  let layout: PoolusedLayout | null = null;
  let titles: PoolType[] | null = null;
  let fallbackCol = 1;
  lines.forEach((l, i) => {
    const n = i + 1;
    if (tooLong(l)) return addUnknown(out, n, l);
    if (l.trim() === '' || ELLIPSIS.test(l) || PROMPT.test(l)) {
      out.ignored++;
      return;
    }
    if (POOLUSED_HEADER.test(l)) {
      layout = poolusedLayout(l, titles);
      fallbackCol = layout.tagCol;
      out.ignored++;
      return;
    }
    if (/^\s*(?:NonPaged|Paged|Session)(?:\s+(?:NonPaged|Paged|Session))*\s*$/i.test(l)) {
      titles = l.trim().split(/\s+/).map(normalizePoolType);
      out.ignored++;
      return;
    }
    if (/^\s*(?:Sorting by|Pool Used:|Sorting\b)/i.test(l)) {
      out.ignored++;
      return;
    }
    const total = /^\s*TOTAL\s+([\d\s]+)$/.exec(l);
    if (total) {
      out.totals = total[1].trim().split(/\s+/).map(Number);
      out.ignored++;
      return;
    }
    const rows = parsePoolusedLine(l, n, layout, fallbackCol);
    if (rows) out.rows.push(...rows);
    else addUnknown(out, n, l);
  });
  return out;
}

// ---------------------------------------------------------------------------------------
// !pool and !poolfind
// ---------------------------------------------------------------------------------------

/** `[*]ADDRESS size: S previous size: P  (State) [*]Tag[ note]` */
const POOL_BLOCK =
  /^\s*(\*)?\s*([0-9a-fA-F]+(?:`[0-9a-fA-F]+)?)\s+size:\s*([0-9a-fA-F]+)\s+previous size:\s*([0-9a-fA-F]+)\s+\(([^)]*)\)(.*)$/;
/** Newer `!poolfind`: `ADDRESS : tag Proc, size 0x80, Nonpaged pool`. */
const POOLFIND_NEW = /^\s*(\*)?\s*([0-9a-fA-F]+(?:`[0-9a-fA-F]+)?)\s*:\s*tag\s(.{1,4}?),\s*size\s+(0x[0-9a-fA-F]+|[0-9a-fA-F]+)\s*(?:,\s*(.*))?$/i;
/** `!pool` on a large allocation: `*ADDRESS : large page allocation, tag is Ntfx, size is 0x1000 bytes`. */
const POOL_LARGE = /^\s*(\*)?\s*([0-9a-fA-F]+(?:`[0-9a-fA-F]+)?)\s*:\s*large (?:page )?allocation, tag(?: is)?\s(.{1,4}?),\s*size(?: is)?\s+(0x[0-9a-fA-F]+|[0-9a-fA-F]+)/i;
/** `Pooltag Ntfx : General Allocation, Binary : ntfs.sys` (printed under the marked block). */
const POOL_TAG_INFO = /^\s*Pooltag\s(.{4})\s*:\s*(.*?)(?:,\s*Binary\s*:\s*(.*?))?\s*$/i;
/** Hex dump lines of `!pool ADDRESS 1`. */
const HEX_DUMP = /^\s*[0-9a-fA-F`]+(?:\s+[0-9a-fA-F]{8}){1,4}\s*$/;

function poolTypeFromWords(s: string): PoolType | null {
  if (/session/i.test(s)) return 'Sess';
  if (/non-?paged/i.test(s)) return 'Nonp';
  if (/paged/i.test(s)) return 'Paged';
  return null;
}

function hex(s: string): number {
  return parseInt(s.replace(/^0x/i, ''), 16);
}

function parseBlocks(text: PoolText, format: 'pool' | 'poolfind'): PoolOutput {
  const out = newOutput(format);
  let poolType: PoolType | null = null;
  linesOf(text).forEach((l, i) => {
    const n = i + 1;
    if (tooLong(l)) return addUnknown(out, n, l);
    let m = POOL_BLOCK.exec(l);
    if (m) {
      // After `(State)`: blanks, an optional `*` (in `!pool`), the tag, an optional note.
      const after = /^[ \t]*(\*)?(.*)$/.exec(m[6])!;
      const tagText = after[2];
      const display = tagText.slice(0, 4).padEnd(4, ' ');
      if (display.trim() === '') {
        addUnknown(out, n, l);
        return;
      }
      const row = emptyRow(n, l, display);
      row.poolType = poolType;
      row.allocation = {
        address: m[2],
        size: hex(m[3]),
        previousSize: hex(m[4]),
        state: m[5].trim(),
        marked: m[1] === '*' || after[1] === '*',
        note: tagText.slice(4).trim() || null,
      };
      out.rows.push(row);
      return;
    }
    m = POOLFIND_NEW.exec(l) ?? POOL_LARGE.exec(l);
    if (m) {
      const row = emptyRow(n, l, m[3]);
      const where = m[5] ?? '';
      row.poolType = poolTypeFromWords(where) ?? poolType;
      row.allocation = {
        address: m[2],
        size: hex(m[4]),
        previousSize: null,
        state: /large/i.test(l) ? 'large' : 'Allocated',
        marked: m[1] === '*',
        note: where.trim() || null,
      };
      out.rows.push(row);
      return;
    }
    const info = POOL_TAG_INFO.exec(l);
    if (info) {
      // Attach the debugger's pooltag.txt lookup to the block it follows.
      for (let k = out.rows.length - 1; k >= 0; k--) {
        const r = out.rows[k];
        if (r.displayTag === info[1]) {
          r.description = info[2].trim() || null;
          r.mappedDriver = info[3]?.trim() || null;
          break;
        }
      }
      out.ignored++;
      return;
    }
    const search = /for Tag:\s*(\S.{0,3}?)(?:\s*\(|\s*$)/i.exec(l);
    if (search) out.searchedTag = search[1].padEnd(4, ' ');
    const section = /^\s*Searching\s+(.*?)\s+pool\b/i.exec(l) ?? /region is\s+(.*?)\s+pool\b/i.exec(l);
    if (section) poolType = poolTypeFromWords(section[1]) ?? poolType;
    if (
      search ||
      section ||
      l.trim() === '' ||
      ELLIPSIS.test(l) ||
      PROMPT.test(l) ||
      HEX_DUMP.test(l) ||
      /^\s*\.\.\.terminating\b/i.test(l) ||
      /^\s*Scanning large pool allocation table\b/i.test(l) ||
      /^\s*Pool page\b/i.test(l) ||
      /is not a valid (?:large )?pool allocation|checking large session pool/i.test(l)
    ) {
      out.ignored++;
      return;
    }
    addUnknown(out, n, l);
  });
  return out;
}

/** `!pool ADDRESS [flags]`: one row per block; the block of interest has `marked`. */
export function parsePool(text: PoolText): PoolOutput {
  return parseBlocks(text, 'pool');
}

/** `!poolfind TAG [pool]`: one row per block found; `searchedTag` and the pool type per section. */
export function parsePoolFind(text: PoolText): PoolOutput {
  return parseBlocks(text, 'poolfind');
}

// ---------------------------------------------------------------------------------------
// Detection
// ---------------------------------------------------------------------------------------

/** Lines scored by `detectPoolOutput`. */
const DETECT_LINES = 1000;

/**
 * Which of the formats the pasted text is (by its headers, prompts and row shapes), and
 * its rows parsed with that parser. `unknown` (no rows) when nothing fits. Never throws.
 */
export function detectPoolOutput(text: PoolText): PoolOutput {
  const lines = linesOf(text);
  const score: Record<Exclude<PoolOutputFormat, 'unknown'>, number> = { poolmon: 0, poolused: 0, pool: 0, poolfind: 0 };
  // The headers and prompts that decide are at the top: the first DETECT_LINES lines are
  // enough (a 5,000-tag poolmon table is not scored row by row).
  for (let i = 0; i < lines.length && i < DETECT_LINES; i++) {
    const l = lines[i];
    if (tooLong(l)) continue;
    if (POOLMON_HEADER.test(l)) score.poolmon += 10;
    else if (/^\s*(?:Memory:|Commit:)/.test(l) || /Pool N:\s*\d/.test(l)) score.poolmon += 2;
    else if (/(?:^|\s)(?:Nonp|Paged)\s+-?\d+\s*\(\s*-?\d+\s*\)/.test(l)) score.poolmon += 1;
    if (/!poolused\b/i.test(l) || POOLUSED_HEADER.test(l)) score.poolused += 10;
    else if (/UNKNOWN pooltag '|,\s*Binary\s*:/.test(l) && !/^\s*Pooltag\s/i.test(l)) score.poolused += 1;
    if (/!poolfind\b/i.test(l) || /Scanning large pool allocation table|^\s*Searching\s.*\bpool\b/i.test(l)) score.poolfind += 10;
    else if (POOLFIND_NEW.test(l)) score.poolfind += 1;
    if (/!pool(?:\s|$)/i.test(l) || /^\s*Pool page\b/i.test(l)) score.pool += 10;
    if (POOL_BLOCK.test(l)) {
      score.pool += /^\s*\*|\)\s*\*/.test(l) ? 3 : 1;
      score.poolfind += 1;
    }
  }
  const best = (Object.keys(score) as (keyof typeof score)[]).reduce((a, b) => (score[b] > score[a] ? b : a));
  if (score[best] === 0) {
    const out = newOutput('unknown');
    lines.forEach((l, i) => (l.trim() === '' && !tooLong(l) ? out.ignored++ : addUnknown(out, i + 1, l)));
    return out;
  }
  switch (best) {
    case 'poolmon':
      return parsePoolmon(text);
    case 'poolused':
      return parsePoolused(text);
    case 'poolfind':
      return parsePoolFind(text);
    default:
      return parsePool(text);
  }
}
