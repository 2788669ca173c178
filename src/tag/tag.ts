/**
 * Pool tags.
 *
 * A pool tag is four bytes. We keep the raw bytes in MEMORY ORDER (the order they sit in
 * the pool header and in an instruction's little-endian immediate) and derive every other
 * form from them:
 *
 *   source literal   'kPhK'        (C multi-character literal; the compiler's value is
 *                                   0x6B50684B: first character = most significant byte)
 *   ULONG            0x6B50684B    (little-endian value of the memory bytes)
 *   memory bytes     4B 68 50 6B
 *   display          "KhPk"        (memory order: what poolmon, !poolused, pooltag.txt print)
 *
 * So display = literal reversed = the immediate's bytes in file order.
 *
 * Rules (see /work/shared/reference/tag-apis.md):
 * - Short tags are padded. A trailing NUL displays as a space; for matching, trailing NULs
 *   and trailing spaces are the same. The raw bytes keep whichever the source had.
 * - Bit 31 of the ULONG (PROTECTED_POOL, the high bit of the 4th memory byte) is not part
 *   of the tag: the kernel strips it when counting. We record it (`protected`) and mask it
 *   in `display` and `matchKey`.
 * - Tags are case-sensitive.
 * - Non-printable bytes display as `.` but the raw value is kept, so such tags can still
 *   be looked up exactly (by hex or by `\xNN` escapes).
 */

/** PROTECTED_POOL: bit 31 of the tag ULONG. */
export const PROTECTED_POOL = 0x80000000;

/** Thrown by `parseTag` (and the Tag constructors) with a message fit to show a user. */
export class TagParseError extends Error {
  override readonly name = 'TagParseError';
  constructor(
    readonly input: string,
    message: string,
  ) {
    super(message);
  }
}

/** Printable ASCII, the range poolmon shows as-is. */
function isPrintableByte(b: number): boolean {
  return b >= 0x20 && b <= 0x7e;
}

function hex2(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}

/**
 * An immutable pool tag. Construct with `Tag.fromBytes`, `Tag.fromUlong` or `parseTag`.
 * All derived forms are computed once, in the constructor.
 */
export class Tag {
  /** The four raw bytes in memory order (frozen). */
  readonly bytes: readonly [number, number, number, number];
  /** Little-endian value of the raw bytes, 0..0xFFFFFFFF (PROTECTED_POOL bit included). */
  readonly ulong: number;
  /** `0x6B50684B` style: 8 upper-case hex digits of the raw ULONG. */
  readonly hex: string;
  /** True when bit 31 (PROTECTED_POOL) is set in the raw value. */
  readonly protected: boolean;
  /**
   * Memory-order display, exactly 4 characters, as poolmon prints it: PROTECTED_POOL
   * masked, trailing NULs shown as spaces, other non-printable bytes as `.`.
   */
  readonly display: string;
  /** `display` without trailing spaces (`"Io  "` → `"Io"`). */
  readonly trimmed: string;
  /**
   * `display` as a person types it to look the same tag up (`parseTag` reads it back):
   * a non-printable byte as `\xNN` instead of `.`, `\` and `"` escaped (`"Fx\x01!"` is
   * printed where `display` says `"Fx.!"`, which would look up the dot itself).
   * Equal to `display` for a printable tag.
   */
  readonly typed: string;
  /**
   * The C multi-character literal as it would be written in source: `'kPhK'`.
   * Trailing NULs in memory are leading zero bytes of the value and are omitted (`'oI'`
   * for memory bytes `49 6F 00 00`). Non-printable bytes, `'` and `\` are escaped
   * (`\xNN`, `\'`, `\\`). A set PROTECTED_POOL bit is written as `| PROTECTED_POOL`,
   * the way drivers write it. The zero tag is `0`.
   * Caveat: C's `\x` escape is greedy, so `'\x06ab'` is not valid C as written; it is
   * still unambiguous to `parseTag`, which reads exactly two hex digits after `\x`.
   */
  readonly literal: string;
  /**
   * Key for matching tags against each other: the 4 bytes with PROTECTED_POOL masked and
   * trailing NULs turned into spaces, as a 4-character latin1 string. Case-sensitive.
   * Two tags match when their keys are equal. Non-printable bytes keep their value, so
   * `matchKey` is not for display.
   */
  readonly matchKey: string;

  private constructor(ulong: number) {
    const u = ulong >>> 0;
    this.ulong = u;
    const b: [number, number, number, number] = [u & 0xff, (u >>> 8) & 0xff, (u >>> 16) & 0xff, u >>> 24];
    this.bytes = Object.freeze(b);
    this.hex = '0x' + u.toString(16).toUpperCase().padStart(8, '0');
    this.protected = (u & PROTECTED_POOL) !== 0;

    // Masked bytes: what the kernel counts under.
    const m = [b[0], b[1], b[2], b[3] & 0x7f];
    // Index of the first byte of the trailing run of NULs (4 if none).
    let end = 4;
    while (end > 0 && m[end - 1] === 0) end--;

    let display = '';
    let typed = '';
    let key = '';
    for (let i = 0; i < 4; i++) {
      const v = m[i];
      if (i >= end) {
        display += ' ';
        typed += ' ';
        key += ' ';
      } else {
        display += isPrintableByte(v) ? String.fromCharCode(v) : '.';
        typed += v === 0x5c ? '\\\\' : v === 0x22 ? '\\"' : isPrintableByte(v) ? String.fromCharCode(v) : '\\x' + hex2(v);
        key += String.fromCharCode(v);
      }
    }
    this.display = display;
    this.trimmed = display.replace(/ +$/, '');
    this.typed = typed;
    this.matchKey = key;
    this.literal = Tag.makeLiteral(m, end, this.protected);
    Object.freeze(this);
  }

  /** C literal of the masked bytes (memory order in `m`, `end` = start of trailing NULs). */
  private static makeLiteral(m: number[], end: number, prot: boolean): string {
    let body = '';
    // The literal's first character is the most significant byte = the last memory byte.
    for (let i = end - 1; i >= 0; i--) {
      const v = m[i];
      if (v === 0x27) body += "\\'";
      else if (v === 0x5c) body += '\\\\';
      else if (isPrintableByte(v)) body += String.fromCharCode(v);
      else body += '\\x' + hex2(v);
    }
    const lit = end === 0 ? '0' : `'${body}'`;
    return prot ? `${lit} | PROTECTED_POOL` : lit;
  }

  /**
   * From raw bytes in memory order. 1 to 4 bytes; fewer than 4 are padded with NULs
   * (exactly as a short C literal would be in memory).
   */
  static fromBytes(bytes: ArrayLike<number>): Tag {
    if (bytes.length < 1 || bytes.length > 4) {
      throw new TagParseError(String(bytes), `a tag has 1 to 4 bytes, got ${bytes.length}`);
    }
    let u = 0;
    for (let i = 0; i < bytes.length; i++) {
      const v = bytes[i];
      if (!Number.isInteger(v) || v < 0 || v > 0xff) {
        throw new TagParseError(String(bytes), `byte ${i} of the tag is not 0..255: ${v}`);
      }
      u |= v << (8 * i);
    }
    return new Tag(u >>> 0);
  }

  /**
   * From the ULONG value (as in an instruction immediate or a `0x...` tag). Accepts
   * 0..0xFFFFFFFF and also signed 32-bit values (-0x80000000..-1), normalised to unsigned.
   */
  static fromUlong(n: number): Tag {
    if (!Number.isInteger(n) || n < -0x80000000 || n > 0xffffffff) {
      throw new TagParseError(String(n), `a tag value must be a 32-bit integer, got ${n}`);
    }
    return new Tag(n >>> 0);
  }

  /**
   * From a `matchKey` (stored in the knowledge base): its 4 latin1 characters as the bytes,
   * a short key padded with spaces. `Tag.fromMatchKey(t.matchKey).matchKey === t.matchKey`.
   */
  static fromMatchKey(key: string): Tag {
    const k = key.padEnd(4, ' ');
    return Tag.fromBytes([k.charCodeAt(0), k.charCodeAt(1), k.charCodeAt(2), k.charCodeAt(3)]);
  }

  /** Same raw bytes (PROTECTED_POOL bit and NUL-vs-space padding included). */
  equals(other: Tag): boolean {
    return this.ulong === other.ulong;
  }

  /** Same tag for lookup purposes: equal `matchKey` (bit 31 masked, NUL = space padding). */
  matches(other: Tag): boolean {
    return this.matchKey === other.matchKey;
  }

  /** The tag with PROTECTED_POOL cleared (the form the kernel counts under). */
  unprotected(): Tag {
    return this.protected ? new Tag(this.ulong & 0x7fffffff) : this;
  }

  toString(): string {
    return this.display;
  }

  toJSON(): { display: string; hex: string } {
    return { display: this.display, hex: this.hex };
  }
}

/**
 * A value that plausibly is a tag written by a programmer: after masking PROTECTED_POOL,
 * the first memory byte is a printable non-space character, the following bytes are
 * printable (space allowed), and any NULs are only at the end (`'Io'` padding).
 * Used by scanners to filter immediates; `parseTag` accepts non-printable tags regardless.
 */
export function isPrintableTag(t: Tag | number): boolean {
  const u = (typeof t === 'number' ? t : t.ulong) >>> 0;
  const m = [u & 0xff, (u >>> 8) & 0xff, (u >>> 16) & 0xff, (u >>> 24) & 0x7f];
  if (!isPrintableByte(m[0]) || m[0] === 0x20) return false;
  let sawNul = false;
  for (let i = 1; i < 4; i++) {
    if (m[i] === 0) sawNul = true;
    else if (sawNul || !isPrintableByte(m[i])) return false;
  }
  return true;
}

export interface ParseTagOptions {
  /**
   * Read the input as a C multi-character literal (`'pAhS'` or `pAhS`): characters are
   * written most significant first, so memory order (the display) is the reverse.
   * A short literal gets NUL padding in memory, as the compiler would: `'oI'` → `49 6F 00 00`.
   */
  literal?: boolean;
}

/** Decode `\xNN`, `\\`, `\'`, `\"`, `\0` escapes into byte values. */
function decodeEscapes(input: string, s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x5c /* \ */) {
      if (c > 0xff) throw new TagParseError(input, `tag character '${s[i]}' is not a single byte; use \\xNN for raw bytes`);
      out.push(c);
      continue;
    }
    const n = s[i + 1];
    if (n === undefined) throw new TagParseError(input, 'tag ends with a lone backslash');
    if (n === 'x' || n === 'X') {
      const h = s.slice(i + 2, i + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new TagParseError(input, `bad escape '\\${n}${h}': \\x needs exactly two hex digits`);
      out.push(parseInt(h, 16));
      i += 3;
    } else if (n === '\\' || n === "'" || n === '"') {
      out.push(n.charCodeAt(0));
      i += 1;
    } else if (n === '0') {
      out.push(0);
      i += 1;
    } else {
      throw new TagParseError(input, `unknown escape '\\${n}' (use \\xNN, \\\\, \\', \\" or \\0)`);
    }
  }
  return out;
}

/**
 * Parse a tag the way a user types it. Accepted forms (case-sensitive throughout):
 *
 *   ShAp            display order (memory order), as poolmon prints it
 *   Io              short: padded with spaces to "Io  "
 *   "Io  "  'Io  '  quoted: the contents exactly (spaces kept; !poolused quotes with ')
 *   0x70416853      hex ULONG (1-8 digits) → bytes little-endian; `70416853h` too (8 digits)
 *   .\x06ab         `\xNN` is one raw byte; also `\\`, `\'`, `\"`, `\0`
 *
 * With `{ literal: true }` the text is a C literal (`'pAhS'` or `pAhS`) and is reversed
 * into memory order; short literals are NUL-padded like the compiler does. Hex input is
 * the same in both modes.
 *
 * Unquoted input is trimmed of surrounding whitespace; quote it to keep a leading space.
 * To look up a tag that itself looks like hex (`0x12`), quote it: `"0x12"`.
 * Errors (`TagParseError`): empty, more than 4 bytes, bad hex, bad escape, non-latin1.
 */
export function parseTag(input: string, opts: ParseTagOptions = {}): Tag {
  if (typeof input !== 'string') throw new TagParseError(String(input), 'tag must be a string');
  let s = input;
  let quoted = false;
  const t = s.trim();
  if (t.length >= 2 && ((t[0] === '"' && t[t.length - 1] === '"') || (t[0] === "'" && t[t.length - 1] === "'"))) {
    s = t.slice(1, -1);
    quoted = true;
  } else {
    s = t;
  }

  if (!quoted) {
    // Hex ULONG: 0x... (1-8 digits) or the disassembler form NNNNNNNNh (exactly 8 digits).
    const hx = /^0[xX](.*)$/.exec(s) ?? /^([0-9a-fA-F]{8})[hH]$/.exec(s);
    if (hx) {
      const digits = hx[1];
      if (!/^[0-9a-fA-F]{1,8}$/.test(digits)) {
        throw new TagParseError(input, `bad hex tag '${s}': expected 1 to 8 hex digits after 0x`);
      }
      return Tag.fromUlong(parseInt(digits, 16));
    }
  }

  if (s.length === 0) throw new TagParseError(input, 'empty tag');
  const bytes = decodeEscapes(input, s);
  if (bytes.length === 0) throw new TagParseError(input, 'empty tag');
  if (bytes.length > 4) {
    throw new TagParseError(input, `tag '${s}' is ${bytes.length} characters long; a pool tag has at most 4`);
  }

  if (opts.literal) {
    // C literal: the first character is the most significant byte. Memory order is the
    // reverse; missing high bytes are zero (NUL padding at the end in memory).
    return Tag.fromBytes(bytes.reverse());
  }
  // Display order is memory order; pad with spaces as poolmon/pooltag.txt do.
  while (bytes.length < 4) bytes.push(0x20);
  return Tag.fromBytes(bytes);
}
