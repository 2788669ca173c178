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
 * model them). A string therefore never contains a newline, which is why its
 * line-per-string output can be split on '\n'.
 *
 * ASCII (`-e s`, the default): the file is read byte by byte; a maximal run of string
 * characters of length >= N is printed at the offset of its first byte. A run that
 * reaches end-of-file is printed too.
 *
 * UTF-16LE (`-e l`): the file is read in 2-byte units starting at offset 0; a unit is
 * a string character when its high (second) byte is 0 and its low (first) byte is a
 * string character as above. A run is a sequence of consecutive good units; when a
 * bad unit at byte offset q ends a run (or stops one from starting), `strings` pushes
 * back its second byte (`unget_part_char`) and resumes at q + 1 — so the scan
 * re-synchronises at *every* byte offset, odd ones included, but only after a bad
 * unit: a good unit is never re-read at the following odd offset. Runs of >= N units
 * are printed at the offset of their first byte; an odd trailing byte is ignored (the
 * unit is incomplete, `get_char` returns EOF) and a run that ends there is printed.
 * Its text is the low bytes, so it is plain ASCII.
 *
 * Both scans are one tight loop over the bytes with a 256-entry class table; text is
 * only decoded (`latin1Slice` / `ucs2Slice`) for runs that are emitted.
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

/** 1 for a GNU `strings` string character (TAB or 0x20..0x7E), 0 otherwise. */
export const STRING_CHAR: Uint8Array = (() => {
  const t = new Uint8Array(256);
  t[0x09] = 1;
  for (let c = 0x20; c <= 0x7e; c++) t[c] = 1;
  return t;
})();

export const DEFAULT_MIN_LENGTH = 4;

/** Buffer's native slice decoders: no argument normalisation, noticeably faster than toString. */
interface NativeSlices {
  latin1Slice(start: number, end: number): string;
  ucs2Slice(start: number, end: number): string;
}

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

const HAS_NATIVE_SLICES =
  typeof (Buffer.prototype as unknown as Partial<NativeSlices>).latin1Slice === 'function' &&
  typeof (Buffer.prototype as unknown as Partial<NativeSlices>).ucs2Slice === 'function';

/** `strings -a -n min`: maximal runs of >= min string characters. */
export function extractAsciiStrings(input: Buffer | Uint8Array, minLength?: number): FoundString[] {
  const min = checkMin(minLength);
  const buf = asBuffer(input);
  const out: FoundString[] = [];
  const T = STRING_CHAR;
  const n = buf.length;
  const native = HAS_NATIVE_SLICES ? (buf as unknown as NativeSlices) : null;
  let i = 0;
  while (i < n) {
    if (T[buf[i]] === 0) {
      i++;
      continue;
    }
    const s = i;
    i++;
    while (i < n && T[buf[i]] !== 0) i++;
    if (i - s >= min) {
      out.push({ offset: s, text: native ? native.latin1Slice(s, i) : buf.toString('latin1', s, i) });
    }
    i++; // buf[i] is not a string character (or i == n)
  }
  return out;
}

/** `strings -a -n min -el`: runs of >= min 16-bit LE units (high byte 0, low byte a string char). */
export function extractUtf16Strings(input: Buffer | Uint8Array, minLength?: number): FoundString[] {
  const min = checkMin(minLength);
  const buf = asBuffer(input);
  const out: FoundString[] = [];
  const T = STRING_CHAR;
  const last = buf.length - 1; // a unit at p needs p + 1 <= last
  const minBytes = min * 2;
  const native = HAS_NATIVE_SLICES ? (buf as unknown as NativeSlices) : null;
  let p = 0;
  while (p < last) {
    // Fast skip: the unit at p is bad unless its high byte is 0 and its low byte is a string char.
    if (buf[p + 1] !== 0 || T[buf[p]] === 0) {
      p++;
      continue;
    }
    const s = p;
    p += 2;
    while (p < last && buf[p + 1] === 0 && T[buf[p]] !== 0) p += 2;
    if (p - s >= minBytes) {
      // High bytes are all 0 and low bytes ASCII, so UTF-16LE decoding yields the low bytes.
      out.push({ offset: s, text: native ? native.ucs2Slice(s, p) : buf.toString('utf16le', s, p) });
    }
    // The unit at p was bad (or incomplete): GNU resumes one byte later.
    p++;
  }
  return out;
}

/** Both GNU passes: `strings -a -n N` and `strings -a -n N -el`. */
export function extractStrings(buf: Buffer | Uint8Array, opts: ExtractOptions = {}): ExtractedStrings {
  const min = checkMin(opts.minLength);
  return { ascii: extractAsciiStrings(buf, min), utf16: extractUtf16Strings(buf, min) };
}

// ---------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------

export type StringEncoding = 'ascii' | 'utf16';

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
 * One classification rule. Rules are tried in table order; the first whose `gate`
 * passes and one of whose `patterns` matches wins. The match (or capture group 1 when
 * the pattern has one) is the reported text, after `TRAILING_JUNK` is stripped.
 */
export interface StringRule {
  kind: StringKind;
  /** Cheap pre-check (substring/length test) so that most runs never reach a regex. */
  gate: (text: string) => boolean;
  /** Tried in order; the first match wins. */
  patterns: readonly RegExp[];
  /** Restrict the rule to one encoding. */
  encoding?: StringEncoding;
  /** Don't strip trailing punctuation from the match. */
  keepTrailing?: boolean;
}

const hasBackslash = (s: string): boolean => s.includes('\\');
/** `s` ends with `.ext` (ASCII case-insensitive) and has something before the dot. */
const endsWithExt = (s: string, ext: string): boolean =>
  s.length > ext.length + 1 && s.charCodeAt(s.length - ext.length - 1) === 0x2e &&
  s.slice(-ext.length).toLowerCase() === ext;

/** Characters Windows forbids in path names (plus TAB, which strings allows in runs). */
const PATH_CHAR = String.raw`[^"<>|*?\t]`;
/** Characters of a single path token (no spaces, no separators). */
const NAME_CHAR = String.raw`[^\s"<>|*?:\\/]`;
const FILE_EXT = 'sys|dll|exe|inf|cat|ini|log|dat|drv|cpl|ocx|efi|mui|msi|cab|man|mof|etl|bin|cfg|txt|xml';

/** Trailing characters that are almost never part of a name: `"\Device\Foo".` -> `\Device\Foo`. */
const TRAILING_JUNK = /[\s.,;:'")\]}]+$/;

/**
 * Pool-tag rule: the run is EXACTLY 4 characters (ASCII runs only; a pool tag is four
 * bytes), every character is a letter, digit, space or underscore, and at least two
 * are letters. That admits `Ntfs`, `Mm  `, `Io_1`, `Vi52` and rejects `1234`, `a_9 `,
 * `$abc`, `ab-c`. In x64 code a tag immediate is often followed by a printable opcode
 * byte (e.g. a REX prefix 'H'), so tags that sit inside instructions mostly come out
 * as longer runs — those are the disassembler's job, not this rule's.
 */
const TAG_RE = /^(?=(?:[^A-Za-z]*[A-Za-z]){2})[A-Za-z0-9 _]{4}$/;

/** The classification table. Order matters: more specific kinds first. */
export const STRING_RULES: readonly StringRule[] = [
  {
    // http://, https://, ftp:// — from the scheme to the first space/quote/bracket.
    kind: 'url',
    gate: (s) => s.includes('://'),
    patterns: [/\b(?:https?|ftp):\/\/[^\s"'<>]+/i],
  },
  {
    // Ends with .pdb. Prefer the part from a drive letter or UNC prefix (junk before
    // the path in an RSDS record is dropped), else the last whitespace-free token.
    kind: 'pdb',
    gate: (s) => endsWithExt(s, 'pdb'),
    patterns: [
      new RegExp(String.raw`(?:[A-Za-z]:[\\/]|\\\\)${PATH_CHAR}*\.pdb$`, 'i'),
      new RegExp(String.raw`[^\s"<>|*?]+\.pdb$`, 'i'),
    ],
    keepTrailing: true,
  },
  {
    // \Registry\Machine\..., \Registry\User\..., HKEY_*, HKLM\..., and the usual
    // relative forms SYSTEM\CurrentControlSet\... / SOFTWARE\Microsoft\... .
    kind: 'registry',
    gate: (s) => hasBackslash(s) || s.includes('HKEY_') || s.includes('hkey_'),
    patterns: [
      new RegExp(String.raw`\\Registry\\(?:Machine|User)(?:\\${PATH_CHAR}*)?`, 'i'),
      new RegExp(String.raw`\bHKEY_[A-Z_]+(?:\\${PATH_CHAR}*)?`, 'i'),
      new RegExp(String.raw`\b(?:HKLM|HKCU|HKCR|HKU|HKCC)\\${PATH_CHAR}*`, 'i'),
      new RegExp(
        String.raw`\b(?:SYSTEM\\(?:CurrentControlSet|ControlSet\d{3})|SOFTWARE\\(?:Microsoft|Policies|Classes|Wow6432Node))(?:\\${PATH_CHAR}*)?`,
        'i',
      ),
    ],
  },
  {
    // Object-manager names: \Device\..., \DosDevices\..., \??\..., \GLOBAL??\...,
    // \BaseNamedObjects\..., and \Driver\..., \FileSystem\..., \Callback\... .
    kind: 'device',
    gate: hasBackslash,
    patterns: [
      /\\(?:Device|DosDevices|\?\?|GLOBAL\?\?|BaseNamedObjects|Driver|FileSystem|Callback)\\[^\s"'<>|]*/i,
    ],
  },
  {
    // A symbolic link as user mode names it: \\.\Name (the \GLOBAL??\Name link a
    // driver creates with IoCreateSymbolicLink).
    kind: 'symlink',
    gate: hasBackslash,
    patterns: [/\\\\\.\\[^\s"'<>|\\]+/],
  },
  {
    // A Windows absolute path: C:\... or \SystemRoot\... (to the end of the run).
    kind: 'file',
    gate: hasBackslash,
    patterns: [
      new RegExp(String.raw`\b[A-Za-z]:\\${PATH_CHAR}*`),
      new RegExp(String.raw`\\SystemRoot\\${PATH_CHAR}*`, 'i'),
    ],
  },
  {
    // A run ending in a known 3-letter file extension: its last whitespace-free token.
    kind: 'file',
    gate: (s) => s.length > 4 && s.charCodeAt(s.length - 4) === 0x2e /* . */,
    patterns: [new RegExp(String.raw`${NAME_CHAR}+\.(?:${FILE_EXT})$`, 'i')],
    keepTrailing: true,
  },
  {
    kind: 'tag',
    encoding: 'ascii',
    gate: (s) => s.length === 4,
    patterns: [TAG_RE],
    keepTrailing: true,
  },
];

/** Classify one run; `undefined` when no rule applies. */
export function classifyString(
  found: FoundString,
  encoding: StringEncoding,
  rules: readonly StringRule[] = STRING_RULES,
): ClassifiedString | undefined {
  const raw = found.text;
  for (const rule of rules) {
    if (rule.encoding !== undefined && rule.encoding !== encoding) continue;
    if (!rule.gate(raw)) continue;
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

/**
 * Classify extracted runs. Unclassified runs are dropped. The result lists ASCII runs
 * then UTF-16 runs, each in file order (the order of the input).
 */
export function classifyStrings(
  found: ExtractedStrings,
  rules: readonly StringRule[] = STRING_RULES,
): ClassifiedString[] {
  const out: ClassifiedString[] = [];
  for (const f of found.ascii) {
    const c = classifyString(f, 'ascii', rules);
    if (c !== undefined) out.push(c);
  }
  for (const f of found.utf16) {
    const c = classifyString(f, 'utf16', rules);
    if (c !== undefined) out.push(c);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Fast path for the scanner: classified strings only
// ---------------------------------------------------------------------------------------

/**
 * Characters that can make a run classifiable beyond its length: `\` (device, registry,
 * paths), `:` (URLs), `_` (HKEY_...). A run without any of them, not 4 characters long and
 * without a `.` four characters from its end (file names, .pdb), matches no rule, so it is
 * never turned into a JS string. Kept in step with STRING_RULES' gates.
 */
const INTERESTING: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (const c of '\\:_') t[c.charCodeAt(0)] = 1;
  return t;
})();

function worthClassifying(buf: Buffer, s: number, e: number, step: 1 | 2, seen: number): boolean {
  const len = (e - s) / step;
  if (len === 4 || seen) return true;
  return len > 4 && buf[e - 4 * step] === 0x2e;
}

/**
 * The classified strings of a buffer, without materialising the runs no rule can match.
 * Same runs and same result as `classifyStrings(extractStrings(buf))`, several times faster.
 */
export function extractClassifiedStrings(input: Buffer | Uint8Array, minLength?: number, rules: readonly StringRule[] = STRING_RULES): ClassifiedString[] {
  const min = checkMin(minLength);
  const buf = asBuffer(input);
  const T = STRING_CHAR;
  const I = INTERESTING;
  const out: ClassifiedString[] = [];
  const native = HAS_NATIVE_SLICES ? (buf as unknown as NativeSlices) : null;
  const n = buf.length;
  let i = 0;
  while (i < n) {
    if (T[buf[i]] === 0) {
      i++;
      continue;
    }
    const s = i;
    let seen = I[buf[i]];
    i++;
    while (i < n && T[buf[i]] !== 0) seen |= I[buf[i++]];
    if (i - s >= min && worthClassifying(buf, s, i, 1, seen)) {
      const c = classifyString({ offset: s, text: native ? native.latin1Slice(s, i) : buf.toString('latin1', s, i) }, 'ascii', rules);
      if (c !== undefined) out.push(c);
    }
    i++;
  }
  const last = n - 1;
  const minBytes = min * 2;
  let p = 0;
  while (p < last) {
    if (buf[p + 1] !== 0 || T[buf[p]] === 0) {
      p++;
      continue;
    }
    const s = p;
    let seen = I[buf[p]];
    p += 2;
    while (p < last && buf[p + 1] === 0 && T[buf[p]] !== 0) {
      seen |= I[buf[p]];
      p += 2;
    }
    if (p - s >= minBytes && worthClassifying(buf, s, p, 2, seen)) {
      const c = classifyString({ offset: s, text: native ? native.ucs2Slice(s, p) : buf.toString('utf16le', s, p) }, 'utf16', rules);
      if (c !== undefined) out.push(c);
    }
    p++;
  }
  return out;
}
