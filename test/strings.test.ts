/**
 * String extraction: the same runs as GNU `strings -a -n 4` and `strings -a -n 4 -el` on the
 * fixture drivers and on crafted edge cases, and the classifier's results.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { classifyString, classifyStrings, extractClassifiedStrings, extractStrings } from '../src/evidence/strings.js';

const fixtures = join(import.meta.dirname, 'fixtures/bin');
function walk(d: string, out: string[] = []): string[] {
  for (const e of readdirSync(d)) {
    const p = join(d, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}
const files = walk(fixtures).filter((f) => f.endsWith('.sys'));

function gnu(file: string, el: boolean): string[] {
  const r = spawnSync('strings', ['-a', '-n', '4', '-t', 'd', ...(el ? ['-el'] : []), file], { encoding: 'latin1' });
  if (r.error) throw new Error(`GNU strings is needed for this test (apt-get install binutils): ${r.error.message}`);
  return r.stdout.split('\n').filter((l) => l.length > 0);
}
const ours = (xs: { offset: number; text: string }[]) => xs.map((s) => `${String(s.offset).padStart(7)} ${s.text}`);

describe('same runs as GNU strings', () => {
  it.each(files.map((f) => [f.slice(fixtures.length + 1), f]))('%s', (_n, f) => {
    const buf = readFileSync(f);
    const r = extractStrings(buf);
    expect(ours(r.ascii)).toEqual(gnu(f, false));
    expect(ours(r.utf16)).toEqual(gnu(f, true));
  });

  it('edge cases: runs at the end, odd UTF-16 offsets, tabs, high bytes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pooltag-strings-'));
    const cases = [
      Buffer.from('abc\0abcd\0\tx y\x7fzzzz\x80Long run at end'),
      Buffer.concat([Buffer.from([0x41]), Buffer.from('odd utf16 run', 'utf16le'), Buffer.from([0x00, 0x42]), Buffer.from('next', 'utf16le')]),
      Buffer.concat([Buffer.from('\x01\x00a\x00b\x00c\x00'), Buffer.from('\\Device\\X', 'utf16le'), Buffer.from([0x41])]),
    ];
    cases.forEach((b, k) => {
      const f = join(dir, `case${k}.bin`);
      writeFileSync(f, b);
      const r = extractStrings(b);
      expect(ours(r.ascii)).toEqual(gnu(f, false));
      expect(ours(r.utf16)).toEqual(gnu(f, true));
    });
  });
});

describe('classification', () => {
  it('the fast path gives exactly what classifying every run gives', () => {
    for (const f of files) {
      const buf = readFileSync(f);
      expect(extractClassifiedStrings(buf)).toEqual(classifyStrings(extractStrings(buf)));
    }
  });

  it.each([
    ['\\Device\\PoolTagFx', 'utf16', 'device'],
    ['\\DosDevices\\PoolTagFx', 'utf16', 'device'],
    ['\\Registry\\Machine\\System\\CurrentControlSet\\Services\\pooltagfx', 'utf16', 'registry'],
    ['http://pooltag.example.invalid/fixtures/core.html', 'ascii', 'url'],
    ['C:\\pooltag\\fixtures\\x64-clang-O2\\core.pdb', 'ascii', 'pdb'],
    ['pooltagfx.sys', 'ascii', 'file'],
    ['Ntfs', 'ascii', 'tag'],
  ] as const)('%s is %s %s', (text, encoding, kind) => {
    expect(classifyString({ offset: 0, text }, encoding)?.kind).toBe(kind);
  });

  it('leaves ordinary text unclassified', () => {
    expect(classifyString({ offset: 0, text: 'hello world' }, 'ascii')).toBeUndefined();
    expect(classifyString({ offset: 0, text: '1234' }, 'ascii')).toBeUndefined();
  });
});
