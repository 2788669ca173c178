import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// The fixture drivers are built by `npm run fixtures:build` (scripts/build-fixtures.sh)
// and described by test/fixtures/manifest.json; see test/fixtures/README.md.

interface ManifestTag {
  tag: string;
  ulong: string;
  bytes: string;
  routine: string;
  callSites: number;
  sites: unknown[];
}
interface ManifestBinary {
  file: string;
  sha256: string;
  arch: 'x86' | 'x64' | 'arm64';
  tags: ManifestTag[];
}
interface Manifest {
  schema: number;
  binaries: ManifestBinary[];
}

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as Manifest;

function sysFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sysFiles(p));
    else if (name.toLowerCase().endsWith('.sys')) out.push(p);
  }
  return out;
}

describe('fixture manifest', () => {
  it('has schema 1 and binaries for every architecture', () => {
    expect(manifest.schema).toBe(1);
    const arches = new Set(manifest.binaries.map((b) => b.arch));
    expect([...arches].sort()).toEqual(['arm64', 'x64', 'x86']);
  });

  it('lists only files that exist, with the recorded SHA-256', () => {
    for (const b of manifest.binaries) {
      const p = join(FIXTURES, b.file);
      expect(existsSync(p), `${b.file} is missing (run npm run fixtures:build)`).toBe(true);
      const sha = createHash('sha256').update(readFileSync(p)).digest('hex');
      expect(sha, `${b.file} changed since the manifest was written`).toBe(b.sha256);
    }
  });

  it('lists every .sys under test/fixtures/bin exactly once', () => {
    const listed = manifest.binaries.map((b) => b.file);
    expect(new Set(listed).size).toBe(listed.length);
    const onDisk = sysFiles(join(FIXTURES, 'bin')).map((p) => relative(FIXTURES, p).split('\\').join('/'));
    expect(onDisk.sort()).toEqual([...listed].sort());
  });

  it('keeps tag display, value and bytes consistent', () => {
    for (const b of manifest.binaries) {
      for (const t of b.tags) {
        const ulong = Number.parseInt(t.ulong, 16) >>> 0;
        const bytes = Buffer.alloc(4);
        bytes.writeUInt32LE(ulong);
        expect(t.bytes).toBe(bytes.toString('hex'));
        bytes.writeUInt32LE((ulong & 0x7fffffff) >>> 0);
        let end = 4;
        while (end > 0 && bytes[end - 1] === 0) end--;
        const shown = [...bytes].map((c, i) => (i >= end ? ' ' : c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.')).join('');
        expect(t.tag, `${b.file} ${t.routine} ${t.ulong}`).toBe(shown);
        expect(t.sites.length).toBe(t.callSites);
        expect(t.callSites).toBeGreaterThan(0);
      }
    }
  });
});
