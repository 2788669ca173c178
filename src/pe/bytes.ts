import { PeFormatError } from './errors.js';

/**
 * Bounds-checked little-endian reads over a Buffer. Every read that would leave the
 * buffer throws `PeFormatError(part, ..., offset)` instead of returning garbage.
 */
export class ByteReader {
  constructor(
    readonly buf: Buffer,
    readonly part: string,
  ) {}

  get length(): number {
    return this.buf.length;
  }

  check(offset: number, size: number, what = 'read'): void {
    if (!Number.isInteger(offset) || offset < 0 || size < 0 || offset + size > this.buf.length) {
      throw new PeFormatError(this.part, `${what} of ${size} bytes is outside the data (${this.buf.length} bytes)`, offset);
    }
  }

  u8(offset: number): number {
    this.check(offset, 1);
    return this.buf[offset];
  }
  u16(offset: number): number {
    this.check(offset, 2);
    return this.buf.readUInt16LE(offset);
  }
  u32(offset: number): number {
    this.check(offset, 4);
    return this.buf.readUInt32LE(offset);
  }
  u64(offset: number): bigint {
    this.check(offset, 8);
    return this.buf.readBigUInt64LE(offset);
  }
  slice(offset: number, size: number, what = 'block'): Buffer {
    this.check(offset, size, what);
    return this.buf.subarray(offset, offset + size);
  }

  /** NUL-terminated ASCII/Latin-1 string of at most `max` bytes. */
  cstring(offset: number, max = 4096): string {
    this.check(offset, 1, 'string');
    const limit = Math.min(this.buf.length, offset + max);
    let end = offset;
    while (end < limit && this.buf[end] !== 0) end++;
    if (end === limit && end < this.buf.length) {
      throw new PeFormatError(this.part, `string longer than ${max} bytes`, offset);
    }
    return this.buf.toString('latin1', offset, end);
  }

  /** NUL-terminated UTF-16LE string of at most `maxChars` characters (end bounded by `limit`). */
  wstring(offset: number, limit = this.buf.length, maxChars = 32768): { text: string; end: number } {
    this.check(offset, 0, 'string');
    const hardEnd = Math.min(limit, this.buf.length, offset + maxChars * 2);
    let end = offset;
    while (end + 1 < hardEnd && this.buf.readUInt16LE(end) !== 0) end += 2;
    const text = this.buf.toString('utf16le', offset, end);
    // skip the terminator when present
    const after = end + 1 < hardEnd ? end + 2 : end;
    return { text, end: after };
  }
}
