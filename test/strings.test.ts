/**
 * String extraction: the same runs as GNU `strings -a -n N` and `strings -a -n N -el` (run
 * here, with `-t d` so that offsets are compared too) on the fixture drivers, on real
 * binaries from /usr/lib, on crafted edge cases and on seeded random data — through the
 * WebAssembly kernel and through the plain-JS fallback — and the classifier's results.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeWithTools } from './helpers/shared.js';

import {
  classifyString,
  classifyStrings,
  extractAsciiStrings,
  extractClassifiedStrings,
  extractStrings,
  extractUtf16Strings,
  setStringKernelEnabled,
  STRING_CHAR,
  STRING_RULES,
  stringKernelAvailable,
  type FoundString,
  type StringRule,
} from '../src/strings/strings.js';

const fixtures = join(import.meta.dirname, 'fixtures/bin');
function walk(d: string, out: string[] = []): string[] {
  for (const e of readdirSync(d).sort()) {
    const p = join(d, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}
const fixtureFiles = existsSync(fixtures) ? walk(fixtures).filter((f) => f.toLowerCase().endsWith('.sys')) : [];

/** A few real binaries that every Debian machine has (some at least). */
const libDir = '/usr/lib/x86_64-linux-gnu';
const libFiles = ['libc.so.6', 'libm.so.6', 'libz.so.1', 'libstdc++.so.6', 'libcrypto.so.3', 'libgcc_s.so.1']
  .map((f) => join(libDir, f))
  .filter((f) => existsSync(f));

const tmp = mkdtempSync(join(tmpdir(), 'pooltag-strings-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let tmpCount = 0;
function tempFile(b: Buffer): string {
  const f = join(tmp, `case${tmpCount++}.bin`);
  writeFileSync(f, b);
  return f;
}

/** GNU strings' lines for a file: `-a -n min -t d`, UTF-16LE with `-el`. */
function gnu(file: string, min: number, el: boolean): string[] {
  const r = spawnSync('strings', ['-a', '-n', String(min), '-t', 'd', ...(el ? ['-el'] : []), file], {
    encoding: 'latin1',
    maxBuffer: 1 << 28,
  });
  if (r.error) {
    throw new Error(`GNU strings (binutils) is needed by this test and could not be run: ${r.error.message}. Install it: apt-get install binutils`);
  }
  if (r.status !== 0) throw new Error(`strings failed on ${file}: ${r.stderr}`);
  const lines = r.stdout.split('\n');
  lines.pop(); // the output ends with '\n'; a string never holds one (LF is not a string character)
  return lines;
}
/** Our runs in GNU's `-t d` format: `%7ld ` then the text. */
const lines = (xs: FoundString[]) => xs.map((s) => `${String(s.offset).padStart(7)} ${s.text}`);

function expectSameAsGnu(file: string, buf: Buffer, min = 4): void {
  const r = extractStrings(buf, { minLength: min });
  expect(lines(r.ascii)).toEqual(gnu(file, min, false));
  expect(lines(r.utf16)).toEqual(gnu(file, min, true));
}

/** Runs `fn` with the JS fallback scanner instead of the WebAssembly kernel. */
function withJsScanner<T>(fn: () => T): T {
  setStringKernelEnabled(false);
  try {
    return fn();
  } finally {
    setStringKernelEnabled(true);
  }
}

/** Seeded xorshift32, so that failures reproduce. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

/** Random bytes shaped like a binary: printable runs, UTF-16 runs, zeros, junk. */
function randomBinary(seed: number, size: number): Buffer {
  const rnd = rng(seed);
  const b = Buffer.alloc(size);
  let i = 0;
  while (i < size) {
    const kind = Math.floor(rnd() * 6);
    const len = Math.floor(rnd() * (rnd() < 0.3 ? 150 : 12));
    for (let k = 0; k < len && i < size; k++, i++) {
      switch (kind) {
        case 0: b[i] = 0x20 + Math.floor(rnd() * 95); break; // printable
        case 1: b[i] = k & 1 ? 0 : 0x20 + Math.floor(rnd() * 95); break; // UTF-16 text
        case 2: b[i] = [0, 9, 10, 13, 0x7f, 0x80, 0xff, 0x41][Math.floor(rnd() * 8)]; break; // edges
        case 3: b[i] = Math.floor(rnd() * 256); break; // junk
        case 4: b[i] = k & 1 ? (rnd() < 0.85 ? 0 : 1) : [0x41, 9, 0, 0x7f, 0x5c][Math.floor(rnd() * 5)]; break; // broken UTF-16
        default: b[i] = '\\Device\\Ntfs.sys:x_y'.charCodeAt(k % 20); // classifier triggers
      }
    }
  }
  return b;
}

/** Crafted edge cases (each becomes a file for GNU). */
const utf16 = (s: string) => Buffer.from(s, 'utf16le');
const bytes = (...xs: number[]) => Buffer.from(xs);
const edgeCases: [string, Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['one byte', Buffer.from('A')],
  ['exactly min at EOF', Buffer.from('\x00abcd')],
  ['min - 1 at EOF', Buffer.from('\x00abc')],
  ['whole file one run', Buffer.from('hello, world')],
  ['tab is in, LF CR VT FF DEL are out', Buffer.from('ab\tcd\nefgh\rijkl\x0bmnop\x0cqrst\x7fuvwx yz!~')],
  ['high bytes are out', Buffer.from([0x41, 0x42, 0x43, 0x44, 0x80, 0x45, 0x46, 0x47, 0x48, 0xa0, 0x49, 0x4a, 0x4b, 0x4c, 0xff])],
  ['lead test: runs, odd UTF-16 offsets', Buffer.concat([Buffer.from('abc\0abcd\0\tx y\x7fzzzz\x80Long run at end')])],
  ['UTF-16 at an odd offset', Buffer.concat([bytes(0x41), utf16('odd utf16 run'), bytes(0x00, 0x42), utf16('next')])],
  ['UTF-16 run then ASCII byte', Buffer.concat([Buffer.from('\x01\x00a\x00b\x00c\x00'), utf16('\\Device\\X'), bytes(0x41)])],
  ['UTF-16 odd trailing byte', Buffer.concat([utf16('ABCD'), bytes(0x45)])],
  ['UTF-16 run ending at EOF', Buffer.concat([bytes(0x01), utf16('ABCDEF')])],
  ['UTF-16 bad unit then resync one byte later', bytes(0x41, 0x80, 0x00, 0x42, 0x00, 0x43, 0x00, 0x44, 0x00, 0x45, 0x00)],
  ['UTF-16 both parities back to back', Buffer.concat([utf16('abcd'), bytes(0x07), utf16('efgh'), bytes(0x07, 0x07), utf16('ijkl')])],
  ['UTF-16 tab, DEL and high low bytes', bytes(0x09, 0, 0x41, 0, 0x7f, 0, 0x42, 0, 0x43, 0, 0x44, 0, 0x45, 0, 0xe9, 0, 0x46, 0, 0x47, 0, 0x48, 0, 0x49, 0)],
  ['UTF-16 non-zero high byte', Buffer.concat([utf16('ab'), bytes(0x41, 0x01), utf16('cdef')])],
  ['zeros only', Buffer.alloc(300)],
  ['printable only, 64-byte multiple', Buffer.alloc(256, 0x61)],
  ['UTF-16 only, 64-byte multiple', utf16('x'.repeat(128))],
  ...[62, 63, 64, 65, 66, 127, 128, 129].map((n): [string, Buffer] => [`run crossing block edges, length ${n}`, Buffer.concat([Buffer.alloc(n % 7, 1), Buffer.alloc(n, 0x7a), Buffer.alloc(3, 0)])]),
  ...[63, 64, 65, 128].map((n): [string, Buffer] => [`file of ${n} bytes ending in a run`, Buffer.concat([Buffer.alloc(n - 10, 0x90), Buffer.from('0123456789')])]),
  ...[63, 64, 65, 128].map((n): [string, Buffer] => [`file of ${n} bytes ending in UTF-16`, Buffer.concat([Buffer.alloc(n - 10, 0x90), utf16('01234')])]),
];

describeWithTools('GNU strings parity', [['strings']], () => {
  describe('GNU strings', () => {
    it('is installed (the parity tests need it)', () => {
      const r = spawnSync('strings', ['--version'], { encoding: 'utf8' });
      if (r.error) throw new Error(`GNU strings (binutils) is missing: ${r.error.message}. Install it: apt-get install binutils`);
      expect(r.stdout).toMatch(/GNU strings/);
    });
  });

  describe('same runs as GNU strings: fixture drivers', () => {
    // Skipped only while the fixture folder does not exist at all.
    describe.skipIf(!existsSync(fixtures))('test/fixtures/bin', () => {
      it('has .sys files', () => {
        expect(fixtureFiles.length).toBeGreaterThan(0);
      });
      it.each(fixtureFiles.map((f) => [f.slice(fixtures.length + 1), f]))('%s', (_n, f) => {
        const buf = readFileSync(f);
        expectSameAsGnu(f, buf);
        withJsScanner(() => expectSameAsGnu(f, buf));
      });
    });
  });

  describe('same runs as GNU strings: real binaries', () => {
    it.each(libFiles.map((f) => [f]))('%s', (f) => {
      const buf = readFileSync(f);
      expectSameAsGnu(f, buf);
    });

    it('found some real binaries to test', () => {
      expect(libFiles.length).toBeGreaterThan(0);
    });
  });

  describe('same runs as GNU strings: crafted edge cases', () => {
    it.each(edgeCases)('%s', (_name, buf) => {
      const f = tempFile(buf);
      for (const min of [1, 2, 3, 4, 5, 8]) {
        expectSameAsGnu(f, buf, min);
        withJsScanner(() => expectSameAsGnu(f, buf, min));
      }
    });
  });

  describe('same runs as GNU strings: seeded random binaries', () => {
    const cases = Array.from({ length: 24 }, (_, k) => [k, 1 + ((k * 977) % 5000)] as const);
    it.each(cases)('seed %i, %i bytes', (seed, size) => {
      const buf = randomBinary(seed + 1, size);
      const f = tempFile(buf);
      const min = [4, 1, 2, 3, 5, 7, 16, 40, 64, 65][seed % 10];
      expectSameAsGnu(f, buf, min);
      if (min !== 4) expectSameAsGnu(f, buf, 4);
    });
  });
}, 'apt-get install binutils');

describe('kernel and JS fallback agree', () => {
  it('reports whether the WebAssembly kernel is in use', () => {
    // Node 20 has WebAssembly SIMD; if this fails, everything still works, only slower.
    expect(stringKernelAvailable()).toBe(true);
  });

  it('on many random buffers and minimum lengths (no GNU needed)', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const rnd = rng(seed * 7919);
      const size = seed % 5 === 0 ? 64 * Math.floor(rnd() * 8) : Math.floor(rnd() * 700);
      const buf = randomBinary(seed, size);
      const min = [1, 2, 3, 4, 4, 4, 5, 7, 16, 31, 32, 33, 63, 64, 70][seed % 15];
      const viaKernel = [extractStrings(buf, { minLength: min }), extractClassifiedStrings(buf, min)];
      const viaJs = withJsScanner(() => [extractStrings(buf, { minLength: min }), extractClassifiedStrings(buf, min)]);
      expect(viaKernel, `seed ${seed}, min ${min}`).toEqual(viaJs);
    }
  });

  it('on a Uint8Array that is a view into a larger buffer', () => {
    const big = Buffer.concat([Buffer.from('XXXXXXXX'), utf16('inner text'), Buffer.from('\0tail run')]);
    const view = new Uint8Array(big.buffer, big.byteOffset + 3, big.length - 3);
    const r = extractStrings(view);
    // 'i\0' after the X's is both the end of an ASCII run and the start of a UTF-16 one.
    expect(r.ascii).toEqual([
      { offset: 0, text: 'XXXXXi' },
      { offset: 26, text: 'tail run' },
    ]);
    expect(r.utf16).toEqual([{ offset: 5, text: 'inner text' }]);
  });

  it('on a large input (kernel memory grows, results stay exact)', () => {
    const buf = randomBinary(99, 3 << 20);
    expect(extractStrings(buf)).toEqual(withJsScanner(() => extractStrings(buf)));
  });
});

describe('API details', () => {
  it('extractAsciiStrings / extractUtf16Strings are the two halves of extractStrings', () => {
    const buf = randomBinary(5, 4000);
    const r = extractStrings(buf, { minLength: 3 });
    expect(extractAsciiStrings(buf, 3)).toEqual(r.ascii);
    expect(extractUtf16Strings(buf, 3)).toEqual(r.utf16);
  });

  it('rejects a minimum length GNU rejects', () => {
    expect(() => extractStrings(Buffer.from('abcd'), { minLength: 0 })).toThrow(RangeError);
    expect(() => extractStrings(Buffer.from('abcd'), { minLength: 2.5 })).toThrow(RangeError);
  });

  it('a minimum longer than the input gives nothing (kernel and JS)', () => {
    const buf = randomBinary(3, 2000);
    for (const min of [2001, 2 ** 30, 2 ** 31 + 5]) {
      expect(extractStrings(buf, { minLength: min })).toEqual({ ascii: [], utf16: [] });
      expect(withJsScanner(() => extractStrings(buf, { minLength: min }))).toEqual({ ascii: [], utf16: [] });
    }
  });

  it('a rule whose gate scans another buffer (re-entrant call) does not disturb the scan', () => {
    const inner = Buffer.from('\0inner\\run\0');
    const rules: StringRule[] = [
      { kind: 'device', needs: '\\', gate: () => extractStrings(inner).ascii.length === 1, patterns: [/\\\S+/] },
    ];
    const buf = randomBinary(17, 20000);
    const direct = classifyStrings(extractStrings(buf), rules);
    expect(direct.length).toBeGreaterThan(0);
    expect(extractClassifiedStrings(buf, 4, rules)).toEqual(direct);
  });

  it('STRING_CHAR is TAB and 0x20..0x7E', () => {
    const chars = [...STRING_CHAR.keys()].filter((c) => STRING_CHAR[c] === 1);
    expect(chars).toEqual([9, ...Array.from({ length: 95 }, (_, k) => 0x20 + k)]);
  });
});

describe('classification', () => {
  it.each(fixtureFiles.map((f) => [f.slice(fixtures.length + 1), f]))('fast path = classifying every run: %s', (_n, f) => {
    const buf = readFileSync(f);
    expect(extractClassifiedStrings(buf)).toEqual(classifyStrings(extractStrings(buf)));
  });

  it('fast path = classifying every run: random data, other minimum lengths', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const buf = randomBinary(seed * 31, 3000);
      const min = [1, 3, 4, 6][seed % 4];
      expect(extractClassifiedStrings(buf, min)).toEqual(classifyStrings(extractStrings(buf, { minLength: min })));
    }
  });

  it('finds the fixture drivers’ device, registry and PDB strings', () => {
    if (fixtureFiles.length === 0) return;
    const kinds = new Set<string>();
    for (const f of fixtureFiles) for (const c of extractClassifiedStrings(readFileSync(f))) kinds.add(c.kind);
    expect([...kinds]).toEqual(expect.arrayContaining(['device', 'pdb', 'tag']));
  });

  it.each([
    ['\\Device\\PoolTagFx', 'utf16', 'device', '\\Device\\PoolTagFx'],
    ['\\DosDevices\\PoolTagFx', 'utf16', 'device', '\\DosDevices\\PoolTagFx'],
    ['\\??\\C:', 'utf16', 'device', '\\??\\C:'],
    ['\\GLOBAL??\\PoolTagFx', 'utf16', 'device', '\\GLOBAL??\\PoolTagFx'],
    ['\\BaseNamedObjects\\FxEvent', 'utf16', 'device', '\\BaseNamedObjects\\FxEvent'],
    ['\\Driver\\Fx', 'utf16', 'device', '\\Driver\\Fx'],
    ['Cannot open \\Device\\Fx0: %x', 'ascii', 'device', '\\Device\\Fx0'],
    ['\\\\.\\PoolTagFx', 'ascii', 'symlink', '\\\\.\\PoolTagFx'],
    ['\\Registry\\Machine\\System\\CurrentControlSet\\Services\\pooltagfx', 'utf16', 'registry', '\\Registry\\Machine\\System\\CurrentControlSet\\Services\\pooltagfx'],
    ['HKEY_LOCAL_MACHINE\\SOFTWARE\\Fx', 'ascii', 'registry', 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Fx'],
    ['HKLM\\System\\Fx', 'ascii', 'registry', 'HKLM\\System\\Fx'],
    ['SYSTEM\\CurrentControlSet\\Control\\Class', 'utf16', 'registry', 'SYSTEM\\CurrentControlSet\\Control\\Class'],
    ['\\REGISTRY\\MACHINE\\SOFTWARE', 'utf16', 'registry', '\\REGISTRY\\MACHINE\\SOFTWARE'],
    ['http://pooltag.example.invalid/fixtures/core.html', 'ascii', 'url', 'http://pooltag.example.invalid/fixtures/core.html'],
    ['see <https://example.invalid/x?y=1> now', 'ascii', 'url', 'https://example.invalid/x?y=1'],
    ['ftp://example.invalid/a', 'utf16', 'url', 'ftp://example.invalid/a'],
    ['C:\\pooltag\\fixtures\\x64-clang-O2\\core.pdb', 'ascii', 'pdb', 'C:\\pooltag\\fixtures\\x64-clang-O2\\core.pdb'],
    ['k#9C:\\build\\obj\\drv.pdb', 'ascii', 'pdb', 'C:\\build\\obj\\drv.pdb'],
    ['core.PDB', 'ascii', 'pdb', 'core.PDB'],
    ['pooltagfx.sys', 'ascii', 'file', 'pooltagfx.sys'],
    ['ntoskrnl.exe', 'ascii', 'file', 'ntoskrnl.exe'],
    ['loading fx.inf', 'utf16', 'file', 'fx.inf'],
    ['C:\\Windows\\System32\\drivers\\fx.sys', 'utf16', 'file', 'C:\\Windows\\System32\\drivers\\fx.sys'],
    ['\\SystemRoot\\System32\\drivers\\fx.sys', 'utf16', 'file', '\\SystemRoot\\System32\\drivers\\fx.sys'],
    ['Ntfs', 'ascii', 'tag', 'Ntfs'],
    ['Mm  ', 'ascii', 'tag', 'Mm  '],
    ['Io_1', 'ascii', 'tag', 'Io_1'],
    ['Vi52', 'ascii', 'tag', 'Vi52'],
  ] as const)('%s (%s) is %s: %s', (text, encoding, kind, want) => {
    const c = classifyString({ offset: 123, text }, encoding);
    expect(c).toEqual({ kind, text: want, offset: 123, encoding });
  });

  it.each([
    ['hello world', 'ascii'],
    ['1234', 'ascii'], // no letters
    ['a_9 ', 'ascii'], // one letter
    ['$abc', 'ascii'], // not a tag character
    ['ab-c', 'ascii'],
    ['Ntfs', 'utf16'], // tags are 4 bytes: ASCII runs only
    ['Ntfsx', 'ascii'], // 5 characters
    ['HKEY_LOCAL_MACHINE', 'ascii'], // a bare root name says nothing
    ['.sys', 'ascii'], // nothing before the dot
    ['version 1.2.3', 'ascii'],
    ['__cdecl_sys', 'ascii'],
    ['http:/no', 'ascii'],
    ['a\\b', 'ascii'],
  ] as const)('%s (%s) is not classified', (text, encoding) => {
    expect(classifyString({ offset: 0, text }, encoding)).toBeUndefined();
  });

  it('classifyStrings lists ASCII then UTF-16, in file order, with raw offsets', () => {
    const buf = Buffer.concat([
      Buffer.from('\0Ntfs\0'),
      utf16('\\Device\\Fx'),
      Buffer.from('\0\0xx"C:\\a\\b.pdb\0\0Abcd\0'),
    ]);
    expect(classifyStrings(extractStrings(buf))).toEqual([
      { kind: 'tag', text: 'Ntfs', offset: 1, encoding: 'ascii' },
      { kind: 'pdb', text: 'C:\\a\\b.pdb', offset: 28, encoding: 'ascii' },
      { kind: 'tag', text: 'Abcd', offset: 43, encoding: 'ascii' },
      // The UTF-16 run starts at the 's\0' of 'Ntfs\0': the text is trimmed, the offset is the run's.
      { kind: 'device', text: '\\Device\\Fx', offset: 4, encoding: 'utf16' },
    ]);
    expect(extractClassifiedStrings(buf)).toEqual(classifyStrings(extractStrings(buf)));
  });

  it('is table-driven: a custom rule table is honoured by both paths', () => {
    const rules: StringRule[] = [
      { kind: 'device', needs: '@', patterns: [/[\w.]+@[\w.]+/] }, // e-mail-ish, by a trigger character
      { kind: 'file', dotFromEnd: 3, patterns: [/\S+\.md$/] }, // two-letter extension
      { kind: 'tag', length: 5, encoding: 'utf16', patterns: [/^[A-Z]{5}$/] },
    ];
    const buf = Buffer.concat([Buffer.from('\0mail me@example.invalid\0README.md\0notes.txt\0\0'), utf16('ABCDE'), Buffer.from('\0\0'), utf16('ABCDEF')]);
    const want = [
      { kind: 'device', text: 'me@example.invalid', offset: 1, encoding: 'ascii' },
      { kind: 'file', text: 'README.md', offset: 25, encoding: 'ascii' },
      { kind: 'tag', text: 'ABCDE', offset: 46, encoding: 'utf16' },
    ];
    expect(classifyStrings(extractStrings(buf), rules)).toEqual(want);
    expect(extractClassifiedStrings(buf, 4, rules)).toEqual(want);
    // A rule with no pre-check at all makes every run a candidate; still the same answer.
    const everything: StringRule[] = [{ kind: 'file', patterns: [/^notes\S*/] }];
    expect(extractClassifiedStrings(buf, 4, everything)).toEqual(classifyStrings(extractStrings(buf), everything));
    expect(extractClassifiedStrings(buf, 4, everything)).toEqual([{ kind: 'file', text: 'notes.txt', offset: 35, encoding: 'ascii' }]);
  });

  it('every default rule can be pre-checked (no rule makes every run a candidate)', () => {
    for (const r of STRING_RULES) expect(r.needs !== undefined || r.length !== undefined || r.dotFromEnd !== undefined, r.kind).toBe(true);
  });
});
