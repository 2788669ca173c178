/**
 * Lossless reader and writer for Microsoft's `pooltag.txt` (Debugging Tools for Windows,
 * `triage\pooltag.txt`) and a writer for poolmon's `localtag.txt`.
 *
 * ## What a real copy looks like (see ../shared/reference/formats.md)
 *
 * `<Tag> - <binary> - <description>`, one per line, plus a `//` header, a `rem` block and
 * upper-case `REM` section comments. Every quirk we have seen is kept, never "fixed":
 *
 * - The tag is the first 4 columns, space padded (`G   `, `Dh 0` with an inner space). Some
 *   lines are misaligned: a 3-character tag with the separator directly at column 4
 *   (`I4e -  tcpip.sys`, `PX1 - ndproxy.sys`) or a 4-character tag followed by two spaces
 *   (`Mmpv  - nt!mm`). We read the first 4 columns when a separator follows them, otherwise a
 *   1–3 character tag followed by blanks and `-` (`G - x.sys`), padded with spaces.
 * - Wildcards `?` (one character) and `*` (the rest): `Afd?`, `CM??`, `Aml*`, `Bu* `, and
 *   `Gh?5` (a literal after a wildcard). poolmon's rule, the longest literal prefix wins,
 *   is implemented by {@link matchTag}.
 * - The binary column: a file (`afd.sys`), a list (`netvsc50.sys/netvsc60.sys`),
 *   `<unknown>`, `<multiple>`, `<nvlddmkm.sys>`, `module!component` (`nt!mm`), C++ methods
 *   with spaces (`dxgkrnl!CFlipManagerSignal::operator new`), bare names (`FsLib`, `TCP`),
 *   prose (`nt!store or rdyboost.sys`), or no binary column at all (`ATmp - AppTag mount
 *   point`). The binary ends at the first blank followed by `-` (`nt!cm        -internal`
 *   has no space after the dash); descriptions may themselves contain ` - `.
 * - Prose lines (`QUIC Allocation tags are Qc00 through QcFF`) and a stray indented
 *   `       <unknown>` become `kind: 'other'` with a reason.
 * - A lone DOS end-of-file byte 0x1A after the last newline (modern copies), CRLF or LF
 *   (kept per line), tabs, any bytes (decoded as UTF-8 when valid, else Windows-1252).
 *
 * Lossless: {@link writePooltagTxt} re-emits every line's `raw` text and its own line
 * terminator, plus the 0x1A byte, so an unmodified parse writes back the same text, and
 * {@link encodePooltagTxt} the same bytes (same encoding, BOM kept).
 *
 * Tags are plain 4-character strings here (the display form, space padded, e.g. `"Io  "`);
 * mapping them to the `Tag` class is the caller's job. Matching is case-sensitive, like
 * the kernel's tags.
 */

import { isAscii, isUtf8 } from 'node:buffer';

// ---------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------

export type PooltagLineKind = 'entry' | 'comment' | 'rem' | 'blank' | 'other';

/** How the input bytes were turned into text (and how {@link encodePooltagTxt} turns it back). */
export type PooltagEncoding = 'ascii' | 'utf-8' | 'windows-1252' | 'utf-16le' | 'utf-16be' | 'string';

export interface PooltagLine {
  /** 1-based physical line number. */
  number: number;
  kind: PooltagLineKind;
  /** The line's text without its line terminator (nothing trimmed). */
  raw: string;
  /** This line's terminator: `''` only for a last line that has none. */
  eol: '\r\n' | '\n' | '';
  /** Why a line is `other` (garbage, prose, stray text). */
  reason?: string;
  /** Set when `kind === 'entry'` (the same object as in `PooltagFile.entries`). */
  entry?: PooltagEntry;
}

/**
 * A regex-free description of the tag column: each of the 4 positions is a literal
 * character or `null` ("any character"). `?` makes one position `null`; `*` makes its own
 * position and all later ones `null`.
 */
export interface TagPattern {
  kind: 'exact' | 'wildcard';
  /** Literal characters before the first wildcard (the whole tag when exact). */
  prefix: string;
  /** Per position: the literal character, or null when any character matches. Length 4. */
  chars: readonly (string | null)[];
  /** How many of the 4 positions are literal (tie-break after the prefix length). */
  literalCount: number;
  /** The tag contains `*`. */
  star: boolean;
}

/**
 * What the binary column holds.
 * - `file`: one file name (`afd.sys`, `syspart.lib`, also `<nvlddmkm.sys>`)
 * - `files`: a list (`netvsc50.sys/netvsc60.sys`, `a.sys, b.sys`)
 * - `module`: `module!component` (`nt!mm`)
 * - `method`: `module!Class::Method` (newer copies, may contain spaces: `::operator new`)
 * - `unknown`: `<unknown>`; `multiple`: `<multiple>`
 * - `name`: a bare word that is not a file name (`FsLib`, `TCP`, `nt`)
 * - `prose`: anything else (`nt!store or rdyboost.sys`)
 * - `none`: the line has no binary column (`ATmp - AppTag mount point`)
 */
export type BinaryKind = 'file' | 'files' | 'module' | 'method' | 'unknown' | 'multiple' | 'name' | 'prose' | 'none';

/** Irregularities of a single entry line, kept so callers can report or normalise them. */
export type EntryQuirk =
  /** The first separator is not exactly ` - ` at columns 4–6 (`I4e -  tcpip.sys`, `Mmpv  - `). */
  | 'misaligned'
  /** The tag was shorter than its 4 columns and the separator started inside them (`G - x`). */
  | 'short-tag'
  /** A separator has no blank after its dash (`nt!cm        -internal ...`). */
  | 'separator-without-space'
  /** No binary column: `Tag - description`. */
  | 'no-binary-column'
  /** A binary column that is empty (`Tag -  - description`). */
  | 'empty-binary'
  /** The binary is written in angle brackets (`<nvlddmkm.sys>`). */
  | 'angle-bracketed-binary'
  /** Characters other than blanks after a `*` wildcard (ignored when matching). */
  | 'text-after-star'
  /** The line contains a tab. */
  | 'tab'
  /** The tag has a blank between other characters (`Dh 0`, `Gh ?`). */
  | 'inner-space';

export interface PooltagEntry {
  /** 1-based physical line number. */
  line: number;
  /** The tag as written, exactly 4 characters, space padded (`"G   "`, `"Dh 0"`, `"Afd?"`). */
  tag: string;
  pattern: TagPattern;
  /**
   * The owners named by the binary column: split on `/`, `, ` and ` or ` only when every
   * part is a file or `module!component` name; `[]` for `<unknown>`, `<multiple>` and when
   * there is no binary column; otherwise the whole column as one element.
   */
  binaries: string[];
  /** The binary column, trimmed, exactly as written (`null` when there is none). */
  binaryRaw: string | null;
  binaryKind: BinaryKind;
  /** The description, trimmed (may contain ` - `; `''` when absent). */
  description: string;
  /** The whole physical line (same as the line's `raw`). */
  raw: string;
  quirks: EntryQuirk[];
}

export interface PooltagFile {
  /** Where the text came from (a path, or `'<string>'`). */
  source: string;
  /** How the input was decoded. */
  encoding: PooltagEncoding;
  /** The input started with a byte-order mark (re-emitted by the writers). */
  bom: boolean;
  /** Every physical line, in order. */
  lines: PooltagLine[];
  /** The dominant line terminator (used for lines added later). */
  eol: '\r\n' | '\n';
  /** The text ended with a DOS end-of-file byte 0x1A (after the last newline, if any). */
  trailingEof: boolean;
  /** UTF-16 with an odd number of bytes: the last one, which is no character (written back as it was). */
  oddByte?: number;
  /** The `entry` lines' entries, in file order (tags listed twice appear twice). */
  entries: PooltagEntry[];
}

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

/**
 * Windows-1252 bytes 0x80..0x9F. The five undefined bytes (0x81, 0x8D, 0x8F, 0x90, 0x9D)
 * map to the C1 control with the same value, like the WHATWG decoder, so decoding is a
 * bijection and writing back is byte-identical. (Node 20's `TextDecoder('windows-1252')`
 * decodes as ISO-8859-1, which is why this table exists.)
 */
const CP1252_HIGH =
  '\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u017D\u008F' +
  '\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u017E\u0178';

const CP1252_REVERSE: ReadonlyMap<string, number> = new Map(
  [...CP1252_HIGH].map((ch, i) => [ch, 0x80 + i] as const),
);

/** Decode Windows-1252 bytes (never throws). */
export function decodeWindows1252(bytes: Uint8Array): string {
  const latin1 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  return latin1.replace(/[\x80-\x9f]/g, (c) => CP1252_HIGH[c.charCodeAt(0) - 0x80]);
}

/** Encode text as Windows-1252; characters it cannot hold become `?`. */
export function encodeWindows1252(text: string): Buffer {
  const out = Buffer.allocUnsafe(text.length);
  let n = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80 || (c >= 0xa0 && c <= 0xff)) out[n++] = c;
    else out[n++] = CP1252_REVERSE.get(ch) ?? 0x3f;
  }
  return out.subarray(0, n);
}

/**
 * Bytes → text: a UTF-16 byte-order mark wins; then pure ASCII; then valid UTF-8 (with or
 * without its BOM); anything else is Windows-1252. Never throws.
 */
export function decodeText(input: Uint8Array): { text: string; encoding: PooltagEncoding; bom: boolean; oddByte?: number } {
  const b = input;
  // UTF-16 as code units, kept as they are (a lone surrogate stays one, not U+FFFD), and an odd
  // last byte kept apart: the writer gives the same bytes back.
  const utf16 = (encoding: 'utf-16le' | 'utf-16be') => {
    const units = Buffer.from(b.subarray(2, 2 + ((b.length - 2) & ~1)));
    if (encoding === 'utf-16be') units.swap16();
    return { text: units.toString('utf16le'), encoding, bom: true, ...((b.length & 1) === 1 ? { oddByte: b[b.length - 1] } : {}) };
  };
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) return utf16('utf-16le');
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) return utf16('utf-16be');
  if (isAscii(b)) {
    return { text: Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1'), encoding: 'ascii', bom: false };
  }
  if (isUtf8(b)) {
    const bom = b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;
    const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bom ? b.subarray(3) : b);
    return { text, encoding: 'utf-8', bom };
  }
  return { text: decodeWindows1252(b), encoding: 'windows-1252', bom: false };
}

// ---------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------

const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t';

/** Control characters (other than tab) never appear in a tag we accept. */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/** `rem` / `REM` comment lines (`rem`, `rem    text`), but not an entry for a tag `rem `. */
const REM_LINE = /^rem(?:[ \t]|$)/i;

/**
 * Build the matcher description of a 4-character tag column.
 * Exported for callers that match tags of their own against pooltag.txt-style patterns.
 */
export function tagPattern(tag4: string): TagPattern {
  const tag = tag4.length < 4 ? tag4.padEnd(4, ' ') : tag4;
  const q = tag.indexOf('?');
  const s = tag.indexOf('*');
  if (q < 0 && s < 0) {
    return { kind: 'exact', prefix: tag, chars: [...tag], literalCount: 4, star: false };
  }
  const chars: (string | null)[] = [];
  let star = false;
  for (let i = 0; i < 4; i++) {
    const c = tag[i];
    if (star || c === '*') {
      star = true;
      chars.push(null);
    } else chars.push(c === '?' ? null : c);
  }
  const first = Math.min(q < 0 ? 4 : q, s < 0 ? 4 : s);
  return {
    kind: 'wildcard',
    prefix: tag.slice(0, first),
    chars,
    literalCount: chars.filter((c) => c !== null).length,
    star,
  };
}

/** Does a 4-character tag (already normalised) match a pattern? Case-sensitive. */
export function patternMatches(p: TagPattern, tag4: string): boolean {
  for (let i = 0; i < 4; i++) {
    const c = p.chars[i];
    if (c !== null && c !== tag4[i]) return false;
  }
  return true;
}

/** A file name such as `afd.sys`, `vmsharedmemoryguestkernel.lib`, `ChimneyLib.lib`. */
const FILE_NAME = /^[A-Za-z0-9_$~.+-]+\.[A-Za-z0-9]{1,4}$/;
/** `module!component`; the component may be a C++ name with spaces (`::operator new`). */
const MODULE_NAME = /^[A-Za-z0-9_$.-]+![^\s!].*$/;

function isOwnerToken(s: string): boolean {
  return FILE_NAME.test(s) || (MODULE_NAME.test(s) && !/ or /.test(s));
}

/** Classify and split the binary column (already trimmed, non-empty). */
function classifyBinary(bin: string, quirks: EntryQuirk[]): { kind: BinaryKind; binaries: string[] } {
  const lower = bin.toLowerCase();
  if (lower === '<unknown>') return { kind: 'unknown', binaries: [] };
  if (lower === '<multiple>') return { kind: 'multiple', binaries: [] };
  let b = bin;
  if (b.length > 2 && b.startsWith('<') && b.endsWith('>') && FILE_NAME.test(b.slice(1, -1))) {
    quirks.push('angle-bracketed-binary');
    b = b.slice(1, -1);
  }
  if (FILE_NAME.test(b)) return { kind: 'file', binaries: [b] };
  if (MODULE_NAME.test(b) && !/\s(?:or|and)\s/.test(b)) {
    return { kind: b.includes('::') ? 'method' : 'module', binaries: [b] };
  }
  // Lists: `a.sys/b.sys`, `a.sys, b.sys`; alternatives: `nt!store or rdyboost.sys`.
  for (const sep of [/\s*\/\s*/, /\s*,\s+/]) {
    const parts = b.split(sep);
    if (parts.length > 1 && parts.every((p) => FILE_NAME.test(p))) return { kind: 'files', binaries: parts };
  }
  const alternatives = b.split(/\s+or\s+/);
  if (alternatives.length > 1 && alternatives.every(isOwnerToken)) return { kind: 'prose', binaries: alternatives };
  if (/^[A-Za-z0-9_$.-]+$/.test(b)) return { kind: 'name', binaries: [b] };
  return { kind: 'prose', binaries: [b] };
}

/**
 * Does a candidate binary column look like a binary rather than the first part of a
 * description that itself contains ` - `? One word always does; several words only with
 * a `.`, `!`, `<` or `:` in them (file names, `module!x`, `<unknown>`, C++ names).
 */
function looksLikeBinary(s: string): boolean {
  return !/\s/.test(s) || /[.!<:]/.test(s);
}

/** Whitespace as `\s` sees it, for the characters that matter here (no allocation). */
function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 11 || c === 12 || c === 13 || c === 0xa0;
}

/**
 * `^(\S{1,3})[ \t]+-` without a regex (this runs on every line): the index just after the
 * dash of a short tag's separator, or -1. The tag is `raw.slice(0, tagLength)`.
 */
function shortTagSeparator(raw: string): { tagLength: number; afterDash: number } | null {
  let n = 0;
  while (n < raw.length && n < 4 && !isWs(raw.charCodeAt(n))) n++;
  if (n === 0 || n > 3) return null;
  let j = n;
  while (isBlank(raw[j])) j++;
  if (j === n || raw[j] !== '-') return null;
  return { tagLength: n, afterDash: j + 1 };
}

/** Index of the first `-` preceded by a blank, at or after `from`; -1 when none. */
function findSeparator(s: string, from: number): number {
  for (let i = s.indexOf('-', from); i >= 0; i = s.indexOf('-', i + 1)) {
    if (i > from && isBlank(s[i - 1])) return i;
  }
  return -1;
}

/** The result of {@link parsePooltagLine}: an entry, or another kind of line. */
export type PooltagLineResult =
  | { kind: 'entry'; entry: PooltagEntry; reason?: undefined }
  | { kind: Exclude<PooltagLineKind, 'entry'>; reason?: string; entry?: undefined };

/**
 * Classify and parse one physical line (without its terminator). Never throws.
 * Exported so that a caller who edits `line.raw` can re-parse it.
 */
export function parsePooltagLine(raw: string, lineNumber = 0): PooltagLineResult {
  if (raw.trim() === '') return { kind: 'blank' };
  if (raw.startsWith('//')) return { kind: 'comment' };
  if (raw === '\x1a') return { kind: 'other', reason: 'DOS end-of-file byte (0x1A) on a line of its own' };
  if (isBlank(raw[0])) {
    return { kind: 'other', reason: `indented text without a tag: ${JSON.stringify(raw.trim().slice(0, 40))}` };
  }

  const quirks: EntryQuirk[] = [];
  // --- the tag and the first separator -------------------------------------------------
  let tag: string;
  let afterSep: number; // index just after the first separator's dash
  const head = raw.slice(0, 4);
  const short = shortTagSeparator(raw);
  let i = 4;
  while (isBlank(raw[i])) i++;
  if (short && short.afterDash <= 4) {
    // Short tag whose separator starts inside the 4 columns: `G - x.sys`, `AB - - desc`.
    tag = raw.slice(0, short.tagLength).padEnd(4, ' ');
    afterSep = short.afterDash;
    quirks.push('short-tag', 'misaligned');
  } else if (raw.length >= 5 && !head.includes('\t') && raw[i] === '-') {
    // Regular: 4 columns, blanks, dash (`Afd? - `, `PX1 - `, `Mmpv  - `, `I4e -  `).
    tag = head;
    afterSep = i + 1;
    if (raw.slice(4, 7) !== ' - ') quirks.push('misaligned');
  } else if (short) {
    // A short tag followed by a tab or several blanks (`Io\t- x.sys`).
    tag = raw.slice(0, short.tagLength).padEnd(4, ' ');
    afterSep = short.afterDash;
    quirks.push('misaligned');
  } else {
    if (REM_LINE.test(raw)) return { kind: 'rem' };
    const reason = /^\S{5,}[ \t]+-/.test(raw) ? 'first field is longer than 4 characters' : 'no " - " separator after the tag';
    return { kind: 'other', reason };
  }
  // `rem - something` would be an entry for the tag "rem "; `rem    text` is a comment.
  if (REM_LINE.test(raw) && !/^rem[ \t]+-[ \t]/i.test(raw)) return { kind: 'rem' };
  if (CONTROL.test(tag)) return { kind: 'other', reason: 'control character in the tag column' };
  if (raw.includes('\t')) quirks.push('tab');
  if (/\S[ \t]+\S/.test(tag)) quirks.push('inner-space');
  if (afterSep < raw.length && !isBlank(raw[afterSep])) quirks.push('separator-without-space');

  // --- binary and description ----------------------------------------------------------
  const rest = raw.slice(afterSep);
  let lead = 0;
  while (lead < rest.length && isWs(rest.charCodeAt(lead))) lead++;
  let binaryRaw: string | null;
  let description: string;
  if (rest[lead] === '-' && (lead + 1 >= rest.length || isBlank(rest[lead + 1]) || lead > 0)) {
    // `Tag -  - description`: an empty binary column.
    binaryRaw = null;
    description = rest.slice(lead + 1).trim();
    quirks.push('empty-binary');
  } else {
    const sep = findSeparator(rest, lead);
    const candidate = sep < 0 ? null : rest.slice(lead, sep).trim();
    if (candidate === null || candidate === '' || !looksLikeBinary(candidate)) {
      binaryRaw = null;
      description = rest.trim();
      quirks.push('no-binary-column');
    } else {
      binaryRaw = candidate;
      description = rest.slice(sep + 1).trim();
      if (sep + 1 < rest.length && !isBlank(rest[sep + 1]) && !quirks.includes('separator-without-space')) {
        quirks.push('separator-without-space');
      }
    }
  }

  const pattern = tagPattern(tag);
  const starAt = tag.indexOf('*');
  if (starAt >= 0 && tag.slice(starAt + 1).trim() !== '') quirks.push('text-after-star');

  let binaryKind: BinaryKind = 'none';
  let binaries: string[] = [];
  if (binaryRaw !== null) ({ kind: binaryKind, binaries } = classifyBinary(binaryRaw, quirks));

  return {
    kind: 'entry',
    entry: { line: lineNumber, tag, pattern, binaries, binaryRaw, binaryKind, description, raw, quirks },
  };
}

/**
 * Why a parsed file is not a pooltag.txt at all (binary data, or text in which tag entries
 * are not even half of the lines that are not blank or comments), or null when it is one.
 * Parsing never refuses anything; importing a file into the knowledge base asks this first.
 */
export function pooltagTxtProblem(file: PooltagFile, bytes?: Uint8Array): string | null {
  if (bytes && file.encoding !== 'utf-16le' && file.encoding !== 'utf-16be') {
    const nul = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(0);
    if (nul >= 0) return `binary data (a NUL byte at offset 0x${nul.toString(16)})`;
  }
  if (file.entries.length === 0) return 'no tag entries in it';
  const other = file.lines.filter((l) => l.kind === 'other').length;
  if (other > file.entries.length) return `only ${file.entries.length} of ${file.entries.length + other} lines are tag entries (first bad line ${file.lines.find((l) => l.kind === 'other')!.number})`;
  return null;
}

/**
 * Parse a pooltag.txt (bytes or already-decoded text). Keeps every physical line; never
 * throws, whatever the input.
 */
export function parsePooltagTxt(input: string | Uint8Array, source = '<string>'): PooltagFile {
  let text: string;
  let encoding: PooltagEncoding = 'string';
  let bom = false;
  let oddByte: number | undefined;
  if (typeof input === 'string') {
    text = input;
    if (text.startsWith('\uFEFF')) {
      bom = true;
      text = text.slice(1);
    }
  } else {
    ({ text, encoding, bom, oddByte } = decodeText(input));
  }

  // A DOS EOF byte as the very last character (modern copies: "...\n\x1a").
  const trailingEof = text.endsWith('\x1a');
  if (trailingEof) text = text.slice(0, -1);

  const lines: PooltagLine[] = [];
  const entries: PooltagEntry[] = [];
  let crlf = 0;
  let lf = 0;
  let start = 0;
  let number = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    let end = nl < 0 ? text.length : nl;
    let eol: PooltagLine['eol'] = nl < 0 ? '' : '\n';
    if (nl >= 0 && end > start && text.charCodeAt(end - 1) === 13) {
      end--;
      eol = '\r\n';
    }
    if (eol === '\r\n') crlf++;
    else if (eol === '\n') lf++;
    const raw = text.slice(start, end);
    number++;
    const r = parsePooltagLine(raw, number);
    // Every line object has the same shape (fast property access for callers).
    const line: PooltagLine = { number, kind: r.kind, raw, eol, reason: r.reason, entry: r.entry };
    if (r.entry) entries.push(r.entry);
    lines.push(line);
    start = nl < 0 ? text.length : nl + 1;
  }

  return { source, encoding, bom, lines, eol: crlf > lf ? '\r\n' : '\n', trailingEof, entries, ...(oddByte !== undefined ? { oddByte } : {}) };
}

// ---------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------

interface MatchIndex {
  entries: PooltagEntry[];
  count: number;
  exact: Map<string, PooltagEntry[]>;
  /** Wildcards in poolmon order: longest literal prefix, more literals, file order. */
  wildcards: PooltagEntry[];
}

const indexCache = new WeakMap<PooltagFile, MatchIndex>();

function buildIndex(file: PooltagFile): MatchIndex {
  const cached = indexCache.get(file);
  if (cached && cached.entries === file.entries && cached.count === file.entries.length) return cached;
  const exact = new Map<string, PooltagEntry[]>();
  const wildcards: PooltagEntry[] = [];
  for (const e of file.entries) {
    if (e.pattern.kind === 'wildcard') wildcards.push(e);
    else {
      const list = exact.get(e.tag);
      if (list) list.push(e);
      else exact.set(e.tag, [e]);
    }
  }
  wildcards.sort(
    (a, b) =>
      b.pattern.prefix.length - a.pattern.prefix.length ||
      b.pattern.literalCount - a.pattern.literalCount ||
      a.line - b.line,
  );
  const index = { entries: file.entries, count: file.entries.length, exact, wildcards };
  indexCache.set(file, index);
  return index;
}

/**
 * Normalise a tag to its 4-character display form: pad with spaces, trailing NULs are
 * spaces, and the PROTECTED_POOL bit (0x80 on the 4th byte) is removed when the 4th
 * character is in U+0080..U+00FF.
 */
export function normalizeTag4(tag: string): string {
  let t = tag.length > 4 ? tag.slice(0, 4) : tag;
  t = t.replace(/\0+$/, (m) => ' '.repeat(m.length)).padEnd(4, ' ');
  const c3 = t.charCodeAt(3);
  if (c3 >= 0x80 && c3 <= 0xff) t = t.slice(0, 3) + String.fromCharCode(c3 & 0x7f);
  return t;
}

/**
 * Every entry that describes `tag4`, best first: exact entries (in file order; a tag
 * listed twice returns both), then wildcard entries by poolmon's rule (longest literal
 * prefix first; ties: more literal positions, then file order). Case-sensitive.
 */
export function matchTag(file: PooltagFile, tag4: string): PooltagEntry[] {
  const tag = normalizeTag4(tag4);
  const index = buildIndex(file);
  const out = [...(index.exact.get(tag) ?? [])];
  for (const e of index.wildcards) if (patternMatches(e.pattern, tag)) out.push(e);
  return out;
}

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

/**
 * The file as text: every line's `raw` and its own terminator, then the 0x1A byte if the
 * input had one. An unmodified parse gives back exactly the decoded input (without a BOM;
 * {@link encodePooltagTxt} adds it back).
 */
export function writePooltagTxt(file: PooltagFile): string {
  const parts: string[] = new Array(file.lines.length + 1);
  for (let i = 0; i < file.lines.length; i++) parts[i] = file.lines[i].raw + file.lines[i].eol;
  parts[file.lines.length] = file.trailingEof ? '\x1a' : '';
  return parts.join('');
}

/** The file as bytes in its original encoding (BOM included): byte-identical when unmodified. */
export function encodePooltagTxt(file: PooltagFile): Buffer {
  const text = writePooltagTxt(file);
  const odd = file.oddByte === undefined ? Buffer.alloc(0) : Buffer.from([file.oddByte]);
  switch (file.encoding) {
    case 'windows-1252':
      return encodeWindows1252(text);
    case 'utf-16le':
      return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le'), odd]);
    case 'utf-16be': {
      const le = Buffer.from(text, 'utf16le');
      return Buffer.concat([Buffer.from([0xfe, 0xff]), le.swap16(), odd]);
    }
    case 'ascii':
    case 'utf-8':
    case 'string':
    default:
      return Buffer.concat([file.bom ? Buffer.from([0xef, 0xbb, 0xbf]) : Buffer.alloc(0), Buffer.from(text, 'utf8')]);
  }
}

export interface NewEntry {
  /** 1–4 characters (padded with spaces; trailing NULs count as spaces). */
  tag: string;
  /** One owner, several (joined with `/`), or null/empty for `<unknown>`. */
  binary?: string | readonly string[] | null;
  description?: string;
}

function checkField(name: string, value: string): void {
  if (/[\r\n\x1a]/.test(value)) throw new Error(`pooltag.txt ${name} must not contain a line break or 0x1A: ${JSON.stringify(value)}`);
}

/**
 * One pooltag.txt line in the canonical form `Tag  - binary - description` (a single
 * ` - ` between columns, no terminator). Throws when the line could not be read back
 * as the same entry.
 */
export function formatEntry(e: NewEntry): string {
  const tag = e.tag.replace(/\0+$/, '');
  if (tag.length < 1 || tag.length > 4) throw new Error(`pool tag must be 1 to 4 characters: ${JSON.stringify(e.tag)}`);
  if (CONTROL.test(tag) || tag.includes('\t')) throw new Error(`pool tag contains a control character: ${JSON.stringify(e.tag)}`);
  if (isBlank(tag[0])) throw new Error(`pool tag must not start with a blank in pooltag.txt: ${JSON.stringify(e.tag)}`);
  const list = e.binary == null ? [] : typeof e.binary === 'string' ? [e.binary] : [...e.binary];
  const binary = list.map((b) => b.trim()).filter((b) => b !== '').join('/') || '<unknown>';
  checkField('binary', binary);
  if (/[ \t]-/.test(binary)) throw new Error(`pooltag.txt binary must not contain " -": ${JSON.stringify(binary)}`);
  if (/\s/.test(binary) && !looksLikeBinary(binary)) {
    throw new Error(`pooltag.txt binary would read back as a description: ${JSON.stringify(binary)}`);
  }
  const description = (e.description ?? '').trim();
  checkField('description', description);
  return `${tag.padEnd(4, ' ')} - ${binary} - ${description}`.trimEnd();
}

/** poolmon rejects tag files over this many bytes (`/g FILE`). */
export const POOLMON_TAG_FILE_LIMIT = 1_000_000;

/**
 * poolmon's `localtag.txt` (what `poolmon /c` writes): one line per tag, the tag (4
 * columns), three spaces, `-`, two spaces, the driver name without `.sys`; CRLF by
 * default. Throws when an entry cannot be written or the file would exceed poolmon's
 * 1,000,000-byte limit.
 */
export function writeLocalTagTxt(
  entries: readonly { tag: string; driver: string }[],
  options: { eol?: '\r\n' | '\n' } = {},
): string {
  const eol = options.eol ?? '\r\n';
  const parts: string[] = [];
  let bytes = 0;
  for (const { tag: rawTag, driver: rawDriver } of entries) {
    const tag = rawTag.replace(/\0+$/, '');
    if (tag.length < 1 || tag.length > 4 || /[\x00-\x1f\x7f-\uffff]/.test(tag) || tag[0] === ' ') {
      throw new Error(`localtag.txt: invalid pool tag ${JSON.stringify(rawTag)} (1-4 printable ASCII characters)`);
    }
    const driver = rawDriver.trim().replace(/\.sys$/i, '');
    if (driver === '' || /[\x00-\x1f\x7f-\uffff]/.test(driver)) {
      throw new Error(`localtag.txt: invalid driver name ${JSON.stringify(rawDriver)} for tag ${JSON.stringify(rawTag)}`);
    }
    const line = `${tag.padEnd(4, ' ')}   -  ${driver}${eol}`;
    bytes += line.length; // ASCII only: one byte per character
    if (bytes > POOLMON_TAG_FILE_LIMIT) {
      throw new Error(
        `localtag.txt would exceed poolmon's ${POOLMON_TAG_FILE_LIMIT.toLocaleString('en-US')}-byte limit ` +
          `(at entry ${parts.length + 1} of ${entries.length}); poolmon rejects larger tag files: split the list or keep fewer drivers`,
      );
    }
    parts.push(line);
  }
  return parts.join('');
}
