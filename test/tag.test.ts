import { describe, expect, it } from 'vitest';
import { PROTECTED_POOL, Tag, TagParseError, isPrintableTag, parseTag } from '../src/tag/tag.js';

describe('Tag derived forms', () => {
  it("'kPhK' = 0x6B50684B = bytes 4B 68 50 6B = display KhPk (tag-apis.md)", () => {
    const t = Tag.fromUlong(0x6b50684b);
    expect([...t.bytes]).toEqual([0x4b, 0x68, 0x50, 0x6b]);
    expect(t.display).toBe('KhPk');
    expect(t.trimmed).toBe('KhPk');
    expect(t.hex).toBe('0x6B50684B');
    expect(t.literal).toBe("'kPhK'");
    expect(t.ulong).toBe(0x6b50684b);
    expect(t.protected).toBe(false);
    expect(t.toJSON()).toEqual({ display: 'KhPk', hex: '0x6B50684B' });
    expect(String(t)).toBe('KhPk');
    expect(JSON.stringify({ t })).toBe('{"t":{"display":"KhPk","hex":"0x6B50684B"}}');
  });

  it('fromBytes and fromUlong agree', () => {
    const a = Tag.fromBytes([0x53, 0x68, 0x41, 0x70]);
    const b = Tag.fromUlong(0x70416853);
    expect(a.equals(b)).toBe(true);
    expect(a.display).toBe('ShAp');
    expect(a.literal).toBe("'pAhS'");
  });

  it('trailing NULs display as spaces but stay NUL in the raw bytes', () => {
    // C literal 'oI' = 0x6F49: memory 49 6F 00 00, displayed "Io  "
    const t = Tag.fromUlong(0x6f49);
    expect([...t.bytes]).toEqual([0x49, 0x6f, 0, 0]);
    expect(t.display).toBe('Io  ');
    expect(t.trimmed).toBe('Io');
    expect(t.literal).toBe("'oI'");
    expect(t.hex).toBe('0x00006F49');
  });

  it('short fromBytes pads with NUL', () => {
    const t = Tag.fromBytes([0x49, 0x6f]);
    expect([...t.bytes]).toEqual([0x49, 0x6f, 0, 0]);
    expect(t.display).toBe('Io  ');
  });

  it('inner NUL and other non-printables display as dots, keep raw value', () => {
    const t = Tag.fromUlong(0x06a9ffff); // tag-apis.md example
    expect([...t.bytes]).toEqual([0xff, 0xff, 0xa9, 0x06]);
    expect(t.display).toBe('....');
    expect(t.trimmed).toBe('....');
    expect(t.literal).toBe("'\\x06\\xA9\\xFF\\xFF'");
    expect(t.hex).toBe('0x06A9FFFF');
    const inner = Tag.fromBytes([0x41, 0x00, 0x42, 0x43]);
    expect(inner.display).toBe('A.BC');
    expect(inner.literal).toBe("'CB\\x00A'");
  });

  it('escapes quote and backslash in the literal', () => {
    const t = Tag.fromBytes([0x27, 0x5c, 0x41, 0x42]); // memory ' \ A B
    expect(t.display).toBe("'\\AB");
    expect(t.literal).toBe("'BA\\\\\\''");
  });

  it('zero tag', () => {
    const t = Tag.fromUlong(0);
    expect(t.display).toBe('    ');
    expect(t.trimmed).toBe('');
    expect(t.literal).toBe('0');
    expect(isPrintableTag(t)).toBe(false);
  });

  it('PROTECTED_POOL is recorded, masked for display and matching', () => {
    const plain = Tag.fromUlong(0x6b50684b);
    const prot = Tag.fromUlong((0x6b50684b | PROTECTED_POOL) >>> 0);
    expect(prot.protected).toBe(true);
    expect(prot.hex).toBe('0xEB50684B');
    expect(prot.bytes[3]).toBe(0xeb);
    expect(prot.display).toBe('KhPk');
    expect(prot.literal).toBe("'kPhK' | PROTECTED_POOL");
    expect(prot.matchKey).toBe(plain.matchKey);
    expect(prot.matches(plain)).toBe(true);
    expect(prot.equals(plain)).toBe(false);
    expect(prot.unprotected().equals(plain)).toBe(true);
    expect(plain.unprotected()).toBe(plain);
  });

  it('signed 32-bit input is normalised', () => {
    expect(Tag.fromUlong(-1).hex).toBe('0xFFFFFFFF');
    expect(Tag.fromUlong(-0x80000000).hex).toBe('0x80000000');
  });

  it('rejects bad constructor input', () => {
    expect(() => Tag.fromUlong(2 ** 32)).toThrow(TagParseError);
    expect(() => Tag.fromUlong(1.5)).toThrow(TagParseError);
    expect(() => Tag.fromBytes([])).toThrow(TagParseError);
    expect(() => Tag.fromBytes([1, 2, 3, 4, 5])).toThrow(TagParseError);
    expect(() => Tag.fromBytes([256])).toThrow(TagParseError);
  });

  it('is immutable', () => {
    const t = Tag.fromUlong(0x6b50684b);
    expect(Object.isFrozen(t)).toBe(true);
    expect(Object.isFrozen(t.bytes)).toBe(true);
    expect(() => {
      (t as unknown as { ulong: number }).ulong = 1;
    }).toThrow(TypeError);
  });

  it('case-sensitive', () => {
    expect(parseTag('Call').matches(parseTag('call'))).toBe(false);
    expect(parseTag('Call').matchKey).not.toBe(parseTag('CALL').matchKey);
  });
});

describe('matchKey', () => {
  it('NUL padding equals space padding', () => {
    const nul = Tag.fromUlong(0x6f49); // 49 6F 00 00
    const spc = parseTag('Io'); // 49 6F 20 20
    expect(nul.equals(spc)).toBe(false);
    expect(nul.matchKey).toBe('Io  ');
    expect(nul.matches(spc)).toBe(true);
    expect(parseTag('"Io  "').matches(spc)).toBe(true);
  });

  it('keeps non-printable bytes distinct', () => {
    const a = Tag.fromBytes([0x01, 0x41, 0x42, 0x43]);
    const b = Tag.fromBytes([0x02, 0x41, 0x42, 0x43]);
    expect(a.display).toBe(b.display);
    expect(a.matchKey).not.toBe(b.matchKey);
  });

  it('inner NUL is not padding', () => {
    expect(Tag.fromBytes([0x41, 0, 0x42, 0]).matchKey).toBe('A\u0000B ');
  });
});

describe('parseTag', () => {
  it('plain display form', () => {
    const t = parseTag('ShAp');
    expect(t.hex).toBe('0x70416853');
    expect(t.display).toBe('ShAp');
  });

  it('short form is space padded', () => {
    const t = parseTag('Io');
    expect([...t.bytes]).toEqual([0x49, 0x6f, 0x20, 0x20]);
    expect(t.display).toBe('Io  ');
    expect(parseTag('G').display).toBe('G   ');
  });

  it('quoted keeps spaces; unquoted is trimmed', () => {
    expect(parseTag('"Io  "').display).toBe('Io  ');
    expect(parseTag("'AGP '").display).toBe('AGP ');
    expect(parseTag('" ab"').display).toBe(' ab ');
    expect(parseTag('  Io  ').display).toBe('Io  ');
    expect(parseTag('Dh 0').display).toBe('Dh 0');
  });

  it('hex ULONG, little-endian into bytes', () => {
    expect(parseTag('0x70416853').display).toBe('ShAp');
    expect(parseTag('0X70416853').display).toBe('ShAp');
    expect(parseTag('0x6b50684b').display).toBe('KhPk');
    expect(parseTag('70416853h').display).toBe('ShAp');
    const short = parseTag('0x6F49');
    expect([...short.bytes]).toEqual([0x49, 0x6f, 0, 0]);
    expect(parseTag('0x06a9ffff').hex).toBe('0x06A9FFFF');
  });

  it('hex is the same in literal mode', () => {
    expect(parseTag('0x70416853', { literal: true }).display).toBe('ShAp');
  });

  it('quoted hex-looking text is a tag', () => {
    expect(parseTag('"0x12"').display).toBe('0x12');
  });

  it('\\xNN escapes', () => {
    const t = parseTag('.\\x06ab');
    expect([...t.bytes]).toEqual([0x2e, 0x06, 0x61, 0x62]);
    expect(t.display).toBe('..ab');
    expect(parseTag('\\xff\\xFF\\xa9\\x06').hex).toBe('0x06A9FFFF');
    expect(parseTag('a\\\\b').bytes[1]).toBe(0x5c);
    expect(parseTag('ab\\0').bytes[2]).toBe(0);
  });

  it('C literal form with literal: true', () => {
    expect(parseTag("'pAhS'", { literal: true }).display).toBe('ShAp');
    expect(parseTag('pAhS', { literal: true }).display).toBe('ShAp');
    expect(parseTag("'kPhK'", { literal: true }).hex).toBe('0x6B50684B');
    // short literal: NUL padded in memory, as the compiler does
    const io = parseTag("'oI'", { literal: true });
    expect([...io.bytes]).toEqual([0x49, 0x6f, 0, 0]);
    expect(io.display).toBe('Io  ');
    expect(io.literal).toBe("'oI'");
    // round trip
    for (const lit of ["'kPhK'", "'\\x06\\xA9\\xFF\\xFF'", "'CB\\x00A'", "'oI'"]) {
      expect(parseTag(lit, { literal: true }).literal).toBe(lit);
    }
  });

  it('display round trip for printable tags', () => {
    for (const s of ['ShAp', 'Io  ', 'Dh 0', '@GMM', '8042', 'call']) {
      expect(parseTag(JSON.stringify(s)).display).toBe(s);
    }
  });

  it('errors', () => {
    const bad = ['', '   ', '""', 'ShApX', '0x', '0xZZ', '0x123456789', '\\x0', '\\q', 'ab\\', 'a\u20acb', '"abcde"'];
    for (const b of bad) {
      expect(() => parseTag(b), b).toThrow(TagParseError);
    }
    expect(() => parseTag('ShApX')).toThrow(/at most 4/);
    expect(() => parseTag('')).toThrow(/empty/);
    expect(() => parseTag('0xZZ')).toThrow(/hex/);
    try {
      parseTag('0xZZ');
    } catch (e) {
      expect(e).toBeInstanceOf(TagParseError);
      expect((e as TagParseError).input).toBe('0xZZ');
    }
  });
});

describe('isPrintableTag', () => {
  it('accepts printable tags with trailing NUL padding', () => {
    expect(isPrintableTag(0x6b50684b)).toBe(true);
    expect(isPrintableTag(0x6f49)).toBe(true); // 'Io' NUL padded
    expect(isPrintableTag(parseTag('Dh 0'))).toBe(true);
    expect(isPrintableTag((0x6b50684b | PROTECTED_POOL) >>> 0)).toBe(true);
  });

  it('rejects non-printable, leading space, inner NUL', () => {
    expect(isPrintableTag(0x06a9ffff)).toBe(false);
    expect(isPrintableTag(parseTag('" ab "'))).toBe(false);
    expect(isPrintableTag(Tag.fromBytes([0x41, 0, 0x42, 0x43]))).toBe(false);
    expect(isPrintableTag(0)).toBe(false);
    expect(isPrintableTag(0x12345678)).toBe(false); // 78 56 34 12
  });
});
