// A large JSON report is parsed in pieces (src/report/read.ts, parseInPieces): it must give the
// same report, or the same error, as parsing the whole text at once, whatever the text holds.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { parseInPieces, parseReport, parseReportBytes, ReportError } from '../src/report/read.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function report(files: unknown[], host = 'HOST-1'): Record<string, unknown> {
  return {
    format: 'pooltag-scan-report',
    schemaVersion: 2,
    tool: { name: 'pooltag', version: '0.2.0' },
    host: { name: host, platform: 'win32', os: 'Windows 11', release: '10.0.22631', windowsBuild: 22631, wsl: false, arch: 'x64' },
    startedAt: '2026-02-01T08:00:00.000Z',
    finishedAt: '2026-02-01T08:00:00.000Z',
    summary: { files: files.length, errors: files.filter((f) => (f as { error?: unknown }).error).length, images: 0 },
    files,
    images: [],
  };
}

/** 3,000 files (some 400 KB of JSON): odd paths, errors with nested objects, inventory entries. */
function manyFiles(): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < 3000; i++) {
    const odd = ['C:\\Temp\\"quoted"\\x.sys', 'C:\\Temp\\back\\\\slash\\', 'C:\\Programme\\Größe\\ü.sys', 'C:\\emoji\\😀.sys', 'C:\\files\\"files":[1,2]\\{}.sys', 'tab\there'][i % 6];
    const path = i % 7 === 0 ? odd : `C:\\Windows\\System32\\DriverStore\\FileRepository\\pkg${i}.inf_amd64_${sha(String(i)).slice(0, 16)}\\d${i}.sys`;
    if (i % 101 === 5) out.push({ path, size: null, mtime: null, sha256: null, error: { code: 'not-pe', message: 'not a PE image: no "MZ" ] } [ {' } });
    else out.push({ path, size: 20000 + i, mtime: '2026-01-01T00:00:00.000Z', sha256: sha(`f${i}`), ...(i % 3 ? { known: true } : {}) });
  }
  return out;
}

/** Both ways: the report, or the error's message. */
function both(text: string): { pieces: unknown; whole: unknown } {
  const run = (f: () => unknown) => {
    try {
      return f();
    } catch (err) {
      expect(err).toBeInstanceOf(ReportError);
      return `error: ${(err as Error).message}`;
    }
  };
  return { pieces: run(() => parseReportBytes(Buffer.from(text, 'utf8'))), whole: run(() => parseReport(text)) };
}

describe('a large JSON report parsed in pieces', () => {
  const files = manyFiles();
  const compact = JSON.stringify(report(files));

  it('is the report the whole text gives, compact, indented, gzipped, with non-ASCII paths', () => {
    expect(compact.length).toBeGreaterThan(300_000);
    for (const text of [compact, JSON.stringify(report(files), null, 2), JSON.stringify(report(files), null, '\t')]) {
      const { pieces, whole } = both(text);
      expect(typeof whole).toBe('object');
      expect(pieces).toEqual(whole);
      expect((pieces as { files: unknown[] }).files).toHaveLength(3000);
      // and it was the pieces that answered
      expect(parseInPieces(Buffer.from(text, 'utf8'))).not.toBeNull();
    }
    expect(parseReportBytes(gzipSync(compact))).toEqual(parseReport(compact));
  });

  it('ASCII only, and "files" inside strings, keys and nested objects does not mislead it', () => {
    const ascii = report(files.filter((f) => /^[\x20-\x7e]*$/.test((f as { path: string }).path)), 'a "files":[ host');
    (ascii as Record<string, unknown>).options = { files: ['x'], '"files"': { files: [] } };
    const { pieces, whole } = both(JSON.stringify(ascii));
    expect(typeof whole).toBe('object');
    expect(pieces).toEqual(whole);
    expect(parseInPieces(Buffer.from(JSON.stringify(ascii)))).not.toBeNull();
  });

  it('files twice, an escaped key, files not a list, NDJSON and broken text go the one way, with its answer', () => {
    const inner = compact.slice(1, -1);
    const cases = [
      // a second files key (JSON.parse keeps the last): the summary then disagrees, as it would
      `{${inner},"files":[]}`,
      `{"files":[],${inner}}`,
      // the same key written with an escape
      `{${inner},"fil\\u0065s":[]}`,
      `{${inner.replace('"files":[', '"fil\\u0065s":[')}}`,
      compact.replace('"files":[', '"files":{"a":[').replace('],"images"', ']},"images"'),
      compact.slice(0, 200_000),
      `${compact}]`,
      `${compact} {}`,
      compact.replace('"sha256":"', '"sha256":"\\q'),
      `[${compact}]`,
    ];
    for (const [i, text] of cases.entries()) {
      const { pieces, whole } = both(text);
      expect(pieces, `case ${i}`).toEqual(whole);
      expect(parseInPieces(Buffer.from(text, 'utf8')), `case ${i}`).toBeNull();
    }
  });
});
