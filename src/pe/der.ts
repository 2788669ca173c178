import { PeFormatError } from './errors.js';

/**
 * A small, strict DER walker (just enough ASN.1 for Authenticode).
 *
 * Design:
 * - Positions are indices into ONE buffer (for Authenticode: the whole PE file), so every
 *   position is also the file offset reported in errors. There is no copying.
 * - Every element is read against an explicit `limit` (its parent's end): a length that
 *   runs past the parent, an indefinite length (0x80, BER only), a length of more than
 *   4 bytes or a high tag number (>= 31) throws `PeFormatError(part, ..., offset)` with
 *   the offset of the offending element's identifier byte.
 * - Nothing here recurses over the data: callers walk the structure they expect one level
 *   at a time, so hostile nesting cannot exhaust the stack. `children()` caps how many
 *   elements one constructed value may hold.
 *
 * Deliberately lenient in one way: non-minimal long-form lengths (e.g. 0x81 0x05) are
 * accepted, because real-world signing tools have emitted them and they are unambiguous.
 */

/** Identifier octets we use (universal class unless noted). */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
  /** Context-specific constructed [0], [1], ... */
  CTX0: 0xa0,
  CTX1: 0xa1,
  CTX3: 0xa3,
} as const;

/** One TLV element. All positions are indices into `DerReader.buf`. */
export interface DerElement {
  /** The identifier octet as written (class bits + constructed bit + tag number). */
  tag: number;
  constructed: boolean;
  /** Index of the identifier octet (the element's file offset). */
  start: number;
  /** Index of the first content byte. */
  contentStart: number;
  /** Index one past the last content byte. */
  end: number;
}

/** Content length of an element. */
export function contentLength(el: DerElement): number {
  return el.end - el.contentStart;
}

/** Default cap on the number of children of one constructed element. */
export const MAX_CHILDREN = 4096;

export class DerReader {
  constructor(
    readonly buf: Buffer,
    /** `PeIssue.part` used in thrown errors. */
    readonly part = 'certificate',
  ) {}

  fail(message: string, offset: number): never {
    throw new PeFormatError(this.part, message, offset);
  }

  /**
   * Reads the element whose identifier octet is at `pos`; it must end at or before `limit`
   * (the end of its parent, or of the region being parsed).
   */
  read(pos: number, limit: number): DerElement {
    const { buf } = this;
    if (limit > buf.length) limit = buf.length;
    if (!Number.isInteger(pos) || pos < 0 || pos + 2 > limit) {
      this.fail('ASN.1 element header runs past the end of its container', pos);
    }
    const tag = buf[pos];
    if ((tag & 0x1f) === 0x1f) this.fail(`ASN.1 high-tag-number form (0x${hex2(tag)}) is not supported`, pos);
    const first = buf[pos + 1];
    let length: number;
    let contentStart: number;
    if (first < 0x80) {
      length = first;
      contentStart = pos + 2;
    } else if (first === 0x80) {
      this.fail('ASN.1 indefinite length (BER) is not allowed in DER', pos);
    } else {
      const n = first & 0x7f;
      if (n > 4) this.fail(`ASN.1 length of ${n} bytes is too large`, pos);
      if (pos + 2 + n > limit) this.fail('ASN.1 length bytes run past the end of their container', pos);
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + buf[pos + 2 + i];
      contentStart = pos + 2 + n;
    }
    const end = contentStart + length;
    if (end > limit) {
      this.fail(`ASN.1 element of ${length} bytes runs ${end - limit} bytes past the end of its container`, pos);
    }
    return { tag, constructed: (tag & 0x20) !== 0, start: pos, contentStart, end };
  }

  /** Reads an element and checks its tag. `what` names it in the error message. */
  expect(pos: number, limit: number, tag: number, what: string): DerElement {
    const el = this.read(pos, limit);
    if (el.tag !== tag) this.fail(`${what}: expected ASN.1 tag 0x${hex2(tag)}, found 0x${hex2(el.tag)}`, el.start);
    return el;
  }

  /** Checks the tag of an element already read. */
  check(el: DerElement, tag: number, what: string): DerElement {
    if (el.tag !== tag) this.fail(`${what}: expected ASN.1 tag 0x${hex2(tag)}, found 0x${hex2(el.tag)}`, el.start);
    return el;
  }

  /** The direct children of a constructed element, in order (at most `max`). */
  children(el: DerElement, what: string, max = MAX_CHILDREN): DerElement[] {
    if (!el.constructed) this.fail(`${what}: expected a constructed ASN.1 element`, el.start);
    const out: DerElement[] = [];
    let pos = el.contentStart;
    while (pos < el.end) {
      if (out.length >= max) this.fail(`${what}: more than ${max} elements`, pos);
      const child = this.read(pos, el.end);
      out.push(child);
      pos = child.end;
    }
    return out;
  }

  /** The only child of a constructed element (e.g. an EXPLICIT tag or a single-valued SET). */
  single(el: DerElement, what: string): DerElement {
    if (!el.constructed) this.fail(`${what}: expected a constructed ASN.1 element`, el.start);
    if (el.contentStart === el.end) this.fail(`${what}: expected exactly one element, found none`, el.start);
    const child = this.read(el.contentStart, el.end);
    if (child.end !== el.end) this.fail(`${what}: expected exactly one element, found more`, child.end);
    return child;
  }

  /** Raw bytes of the whole element (header + content), as a view. */
  bytes(el: DerElement): Buffer {
    return this.buf.subarray(el.start, el.end);
  }

  /** Content bytes of an element, as a view. */
  content(el: DerElement): Buffer {
    return this.buf.subarray(el.contentStart, el.end);
  }

  /** Decodes an OBJECT IDENTIFIER to dotted form (`1.2.840.113549.1.7.2`). */
  oid(el: DerElement, what = 'OBJECT IDENTIFIER'): string {
    this.check(el, Tag.OID, what);
    const { buf } = this;
    if (el.end === el.contentStart) this.fail(`${what}: empty OBJECT IDENTIFIER`, el.start);
    if (el.end - el.contentStart > 128) this.fail(`${what}: OBJECT IDENTIFIER longer than 128 bytes`, el.start);
    const arcs: string[] = [];
    let value = 0n;
    let arcStart = true;
    for (let i = el.contentStart; i < el.end; i++) {
      const b = buf[i];
      // 0x80 as the first byte of an arc is a non-minimal (padded) encoding: invalid DER.
      if (arcStart && b === 0x80) this.fail(`${what}: non-minimal OBJECT IDENTIFIER arc`, el.start);
      value = (value << 7n) | BigInt(b & 0x7f);
      arcStart = (b & 0x80) === 0;
      if (arcStart) {
        if (arcs.length === 0) {
          // The first subidentifier packs the first two arcs: 40 * X + Y (X in 0..2).
          const x = value < 40n ? 0n : value < 80n ? 1n : 2n;
          arcs.push(x.toString(), (value - 40n * x).toString());
        } else {
          arcs.push(value.toString());
        }
        value = 0n;
      }
    }
    if (!arcStart) this.fail(`${what}: OBJECT IDENTIFIER ends inside an arc`, el.start);
    return arcs.join('.');
  }

  /**
   * An INTEGER's magnitude as upper-case hex (the form `X509Certificate.serialNumber` uses):
   * the DER sign-padding 0x00 byte is dropped. Negative values (invalid for serials, but
   * seen in the wild) are shown as their two's-complement bytes.
   */
  integerHex(el: DerElement, what = 'INTEGER'): string {
    this.check(el, Tag.INTEGER, what);
    let bytes = this.content(el);
    if (bytes.length === 0) this.fail(`${what}: empty INTEGER`, el.start);
    if (bytes.length > 1 && bytes[0] === 0 && (bytes[1] & 0x80) !== 0) bytes = bytes.subarray(1);
    return bytes.toString('hex').toUpperCase();
  }

  /** A small non-negative INTEGER (versions): at most 6 content bytes. */
  smallInteger(el: DerElement, what = 'INTEGER'): number {
    this.check(el, Tag.INTEGER, what);
    const bytes = this.content(el);
    if (bytes.length === 0 || bytes.length > 6) this.fail(`${what}: INTEGER of ${bytes.length} bytes`, el.start);
    if (bytes[0] & 0x80) this.fail(`${what}: negative INTEGER`, el.start);
    return bytes.readUIntBE(0, bytes.length);
  }

  /**
   * UTCTime (`YYMMDDHHMM[SS]Z`, years 50..99 are 19xx) or GeneralizedTime
   * (`YYYYMMDDHHMMSS[.fff]Z`) as an ISO 8601 string. Only `Z` (UTC) is accepted.
   */
  time(el: DerElement, what = 'time'): string {
    if (el.tag !== Tag.UTC_TIME && el.tag !== Tag.GENERALIZED_TIME) {
      this.fail(`${what}: expected UTCTime or GeneralizedTime, found tag 0x${hex2(el.tag)}`, el.start);
    }
    const len = el.end - el.contentStart;
    if (len > 32) this.fail(`${what}: time string of ${len} bytes`, el.start);
    const s = this.buf.toString('latin1', el.contentStart, el.end);
    const m =
      el.tag === Tag.UTC_TIME
        ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(s)
        : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:[.,](\d{1,9}))?Z$/.exec(s);
    if (!m) this.fail(`${what}: malformed time ${JSON.stringify(s)}`, el.start);
    let year = Number(m[1]);
    if (el.tag === Tag.UTC_TIME) year += year < 50 ? 2000 : 1900;
    const [month, day, hour, minute] = [m[2], m[3], m[4], m[5]].map(Number);
    const second = m[6] === undefined ? 0 : Number(m[6]);
    const ms = el.tag === Tag.GENERALIZED_TIME && m[7] ? Number(m[7].padEnd(3, '0').slice(0, 3)) : 0;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
      this.fail(`${what}: time out of range ${JSON.stringify(s)}`, el.start);
    }
    // (setUTCFullYear, not Date.UTC: Date.UTC maps years 0..99 to 1900..1999.)
    const date = new Date(0);
    date.setUTCFullYear(year, month - 1, day);
    date.setUTCHours(hour, minute, Math.min(second, 59), ms);
    // Date.UTC rolls over (Feb 31 -> Mar 3); reject instead of reporting a different day.
    if (date.getUTCDate() !== day) this.fail(`${what}: no such date ${JSON.stringify(s)}`, el.start);
    return date.toISOString();
  }

  /**
   * A directory string (the value of a Name attribute) as text, or null when the element
   * is not one of the string types.
   */
  string(el: DerElement): string | null {
    const bytes = this.content(el);
    switch (el.tag) {
      case Tag.UTF8_STRING:
        return bytes.toString('utf8');
      case Tag.PRINTABLE_STRING:
      case Tag.IA5_STRING:
      case Tag.VISIBLE_STRING:
      case Tag.T61_STRING: // in practice Latin-1
        return bytes.toString('latin1');
      case Tag.BMP_STRING: {
        // UTF-16BE; an odd trailing byte is ignored.
        const even = bytes.subarray(0, bytes.length & ~1);
        return Buffer.from(even).swap16().toString('utf16le');
      }
      case Tag.UNIVERSAL_STRING: {
        let text = '';
        for (let i = 0; i + 4 <= bytes.length; i += 4) {
          const cp = bytes.readUInt32BE(i);
          text += cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
        }
        return text;
      }
      default:
        return null;
    }
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
