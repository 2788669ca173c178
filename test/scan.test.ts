/**
 * `scan()` and `pooltag scan` on real bytes: the fixture drivers, and a folder of bad files.
 * The workers run the compiled code (dist/), as in production.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { extractEvidence } from '../src/evidence/extract.js';
import { readPe } from '../src/pe/read.js';
import { toImageRecord } from '../src/report/image.js';
import { reportLines } from '../src/report/write.js';
import type { ScanReport } from '../src/report/types.js';
import { scan } from '../src/scan/scan.js';
import { KNOWN_GAPS } from './helpers/known-gaps.js';

const root = join(import.meta.dirname, '..');
const fxBin = join(root, 'test/fixtures/bin');
const manifest = JSON.parse(readFileSync(join(root, 'test/fixtures/manifest.json'), 'utf8')) as {
  binaries: { file: string; sha256: string; imageBase: string; tags: { tag: string; ulong: string; routine: string; sites: { va: string }[] }[] }[];
};
const schema = JSON.parse(readFileSync(join(root, 'data/report.schema.json'), 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const validate = ajv.compile(schema);

function expectValid(report: unknown) {
  const ok = validate(report);
  if (!ok) throw new Error(`report does not match data/report.schema.json: ${ajv.errorsText(validate.errors)}`);
}

const tmp = mkdtempSync(join(tmpdir(), 'pooltag-scan-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('scan of the fixture drivers', () => {
  let report: ScanReport;
  beforeAll(async () => {
    report = await scan({ paths: [fxBin], jobs: 2, cache: null });
  });

  it('finds every fixture, analyses each once, and the report matches the schema', () => {
    expect(report.summary.files).toBe(manifest.binaries.length);
    expect(report.summary.errors).toBe(0);
    expect(report.images).toHaveLength(new Set(manifest.binaries.map((b) => b.sha256)).size);
    expect(report.summary.bytesAnalysed).toBe(report.images.reduce((s, i) => s + i.size, 0));
    expect(report.tool.name).toBe('pooltag');
    expect(report.options.jobs).toBe(2);
    expectValid(report);
  });

  it('carries what extraction finds, file by file, and the manifest tags', async () => {
    const bySha = new Map(report.images.map((i) => [i.sha256, i]));
    const missed: string[] = [];
    for (const b of manifest.binaries) {
      const file = report.files.find((f) => f.path === join(root, 'test/fixtures', b.file));
      expect(file, b.file).toBeDefined();
      expect(file!.sha256).toBe(b.sha256);
      const image = bySha.get(b.sha256)!;
      const buf = readFileSync(file!.path);
      const img = readPe(buf);
      const direct = await extractEvidence(buf, img);
      expect(image.evidence, b.file).toEqual(direct.evidence);
      // Workers read into a reused buffer: the whole record must equal one made from a private copy.
      const own = toImageRecord(img, direct);
      expect({ ...image, stats: { ...image.stats, ms: 0 } }, b.file).toEqual({ ...own, stats: { ...own.stats, ms: 0 } });
      const got = new Set(image.evidence.map((e) => `${e.ulong}|${e.routine}`));
      const want = new Set(b.tags.map((t) => `${t.ulong}|${t.routine}`));
      for (const g of got) expect(want.has(g), `${b.file}: ${g} is not in the manifest`).toBe(true); // precision
      // a tag may be absent only when every one of its sites is a known gap of the engine
      const base = BigInt(b.imageBase);
      const allGaps = (t: (typeof b.tags)[number]) => t.sites.every((s) => `${b.file} ${t.routine} ${t.ulong.toLowerCase()} @0x${(BigInt(s.va) - base).toString(16)}` in KNOWN_GAPS);
      for (const t of b.tags) if (!got.has(`${t.ulong}|${t.routine}`) && !allGaps(t)) missed.push(`${b.file} ${t.ulong}|${t.routine}`);
    }
    // evidence.test.ts accounts for every call site; here nothing may be lost on the way to the report.
    expect(missed).toEqual([]);
  });

  it('reads the version resource, signer and PDB path into the image records', () => {
    const signed = report.files.find((f) => f.path.endsWith(join('signed', 'core-x64-clang-O2.sys')))!;
    const img = report.images.find((i) => i.sha256 === signed.sha256)!;
    expect(img.versionStrings.CompanyName).toBe('Pooltag Fixtures');
    expect(img.signature?.signer.cn).toBe('Pooltag Test Signer');
    expect(img.arch).toBe('x64');
    expect(img.pdb?.path).toMatch(/\.pdb$/i);
    expect(img.importModules).toContain('ntoskrnl.exe');
  });

  it('NDJSON: one scan record, then images, then files', () => {
    const lines = [...reportLines(report)].map((l) => JSON.parse(l));
    expect(lines[0].type).toBe('scan');
    expect(lines[0].summary).toEqual(report.summary);
    expect(lines.filter((l) => l.type === 'image')).toHaveLength(report.images.length);
    expect(lines.filter((l) => l.type === 'file')).toHaveLength(report.files.length);
  });
});

describe('scan of a folder of bad files', () => {
  const dir = join(tmp, 'bad drivers'); // a space in the path
  const good = join(fxBin, 'x64-clang-O2/core.sys');
  const other = join(fxBin, 'arm64-clang-O2/net.sys');
  let report: ScanReport;

  beforeAll(async () => {
    mkdirSync(dir);
    const bytes = readFileSync(good);
    writeFileSync(join(dir, 'truncated.sys'), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    writeFileSync(join(dir, 'zero.sys'), '');
    mkdirSync(join(dir, 'x.sys'));
    symlinkSync(join(dir, 'no-such-target.sys'), join(dir, 'dangling.sys'));
    writeFileSync(join(dir, 'readme.sys'), 'This is a text file, not a driver.\r\n');
    copyFileSync(good, join(dir, 'first copy.sys'));
    copyFileSync(good, join(dir, 'SECOND.SYS'));
    copyFileSync(other, join(dir, 'net.sys'));
    spawnSync('mkfifo', [join(dir, 'pipe.sys')]);
    report = await scan({ paths: [dir], jobs: 2, cache: null });
  });

  const entry = (name: string) => report.files.find((f) => f.path === join(dir, name))!;

  it('gives each bad file one error entry with its reason', () => {
    expect(entry('truncated.sys').error).toMatchObject({ code: 'malformed', part: 'file' });
    expect(entry('truncated.sys').error!.message).toMatch(/truncated/);
    expect(entry('zero.sys').error).toMatchObject({ code: 'empty' });
    expect(entry('x.sys').error).toMatchObject({ code: 'not-a-file', message: 'is a directory, not a file' });
    expect(entry('dangling.sys').error).toMatchObject({ code: 'not-found' });
    expect(entry('readme.sys').error).toMatchObject({ code: 'not-pe' });
    expect(entry('pipe.sys').error).toMatchObject({ code: 'not-a-file' });
    expect(report.summary.errors).toBe(6);
    expectValid(report);
  });

  it('reports both names of identical drivers, analysed once, and every good result', () => {
    const a = entry('first copy.sys');
    const b = entry('SECOND.SYS'); // upper-case extension: patterns are case-insensitive
    expect(a.error).toBeUndefined();
    expect(a.sha256).toBe(b.sha256);
    expect(entry('net.sys').sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(report.images).toHaveLength(2);
    expect(report.summary.bytesAnalysed).toBe(report.images.reduce((s, i) => s + i.size, 0));
    const img = report.images.find((i) => i.sha256 === a.sha256)!;
    expect(img.evidence.some((e) => e.tag === 'FxAp')).toBe(true);
  });

  it('a file the user cannot read is an error entry (not root: permissions; root: a dangling link above)', async () => {
    if (process.getuid?.() === 0) {
      // root reads any file; the dangling link above is the unreadable case
      expect(entry('dangling.sys').error!.message).toMatch(/dangling link/);
      return;
    }
    const f = join(dir, 'locked.sys');
    copyFileSync(good, f);
    chmodSync(f, 0);
    const r = await scan({ paths: [f], cache: null, jobs: 1 });
    expect(r.files[0].error).toMatchObject({ code: 'unreadable' });
  });
});

describe('per-file limits in the worker pool', () => {
  it('a file that never finishes times out and a file that kills its worker is reported; the rest is scanned', async () => {
    const dir = join(tmp, 'limits');
    mkdirSync(dir);
    for (const n of ['a', 'b', 'c', 'd']) copyFileSync(join(fxBin, `x86-mingw-O2/core.sys`), join(dir, `${n}.sys`));
    copyFileSync(join(fxBin, 'x64-mingw-O2/net.sys'), join(dir, 'stall.sys'));
    copyFileSync(join(fxBin, 'x64-mingw-O0/net.sys'), join(dir, 'crash.sys'));
    copyFileSync(join(fxBin, 'x64-clang-O0/net.sys'), join(dir, 'e.sys'));
    const r = await scan({ paths: [dir], cache: null, jobs: 2, timeoutMs: 1000, workerFile: join(root, 'test/helpers/stall-worker.mjs') });
    const by = (n: string) => r.files.find((f) => f.path === join(dir, n))!;
    expect(by('stall.sys').error).toMatchObject({ code: 'timeout' });
    expect(by('crash.sys').error).toMatchObject({ code: 'worker-died' });
    for (const n of ['a', 'b', 'c', 'd', 'e']) expect(by(`${n}.sys`).error, n).toBeUndefined();
    expect(r.summary.errors).toBe(2);
  });

  it('with one worker, each death costs only its own file: the pool replaces the thread and every other file is scanned', async () => {
    const dir = join(tmp, 'deaths');
    mkdirSync(dir);
    const names = ['a', 'crash1', 'b', 'boom', 'c', 'crash2', 'd', 'e', 'crash3', 'f'];
    names.forEach((n, i) => copyFileSync(join(fxBin, ['x86-mingw-O2/core.sys', 'x64-clang-O2/net.sys', 'arm64-clang-O2/kmdf.sys'][i % 3]), join(dir, `${n}.sys`)));
    // files of one size would be hashed first as possible duplicates; a byte of padding each keeps them distinct
    names.forEach((n, i) => writeFileSync(join(dir, `${n}.sys`), Buffer.concat([readFileSync(join(dir, `${n}.sys`)), Buffer.alloc(i + 1)])));
    const r = await scan({ paths: [dir], cache: null, jobs: 1, timeoutMs: 60_000, workerFile: join(root, 'test/helpers/stall-worker.mjs') });
    expect(r.files.map((f) => f.path).sort()).toEqual(names.map((n) => join(dir, `${n}.sys`)).sort()); // each exactly once
    const by = (n: string) => r.files.find((f) => f.path === join(dir, `${n}.sys`))!;
    for (const n of ['crash1', 'crash2', 'crash3']) expect(by(n).error, n).toMatchObject({ code: 'worker-died', message: expect.stringMatching(/worker died while reading this file/) });
    expect(by('boom').error).toMatchObject({ code: 'worker-died', message: expect.stringMatching(/fault hook/) });
    for (const n of ['a', 'b', 'c', 'd', 'e', 'f']) {
      expect(by(n).error, n).toBeUndefined();
      expect(r.images.some((i) => i.sha256 === by(n).sha256 && i.evidence.length > 0), n).toBe(true);
    }
    expect(r.summary).toMatchObject({ files: 10, errors: 4 });
  });
});

describe('files that share a size', () => {
  it('are hashed first, once: copies become one image, and each file and image carries the SHA-256 of its own bytes', async () => {
    const dir = join(tmp, 'same-size');
    mkdirSync(dir);
    const core = readFileSync(join(fxBin, 'x86-mingw-O2/core.sys'));
    // Two copies of one image, and a third file of the same size with one byte changed at the end.
    const other = Buffer.concat([core, Buffer.from([1])]);
    const same = Buffer.concat([core, Buffer.from([2])]);
    writeFileSync(join(dir, 'a.sys'), same);
    writeFileSync(join(dir, 'b.sys'), same);
    writeFileSync(join(dir, 'c.sys'), other);
    const r = await scan({ paths: [dir], cache: null, jobs: 2 });
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const by = (n: string) => r.files.find((f) => f.path === join(dir, n))!;
    expect(by('a.sys').sha256).toBe(sha(same));
    expect(by('b.sys').sha256).toBe(sha(same));
    expect(by('c.sys').sha256).toBe(sha(other));
    expect(r.images.map((i) => i.sha256).sort()).toEqual([sha(same), sha(other)].sort());
    for (const i of r.images) expect(i.evidence.some((e) => e.tag === 'FxAp'), i.sha256).toBe(true);
  });
});

describe('the progress bar (issue 22, item 8)', () => {
  it('counts files finished, not handed out: hashing files of one size to find copies does not fill the bar', async () => {
    const dir = join(tmp, 'progress');
    mkdirSync(dir);
    // Four files of one size (hashed first as possible copies), each distinct, each 400 ms to analyse; one copy.
    const core = readFileSync(join(fxBin, 'x64-clang-O2/core.sys'));
    for (let i = 0; i < 4; i++) writeFileSync(join(dir, `slow${i}.sys`), Buffer.concat([core, Buffer.from([i])]));
    copyFileSync(join(dir, 'slow0.sys'), join(dir, 'copy.sys'));
    const seen: { filesDone: number; filesTotal: number; bytesDone: number; bytesTotal: number; elapsedMs: number }[] = [];
    const r = await scan({ paths: [dir], cache: null, jobs: 1, workerFile: join(root, 'test/helpers/stall-worker.mjs'), onProgress: (p) => seen.push({ ...p }) });
    expect(r.summary).toMatchObject({ files: 5, errors: 0, images: 4 });
    // The analysis takes at least 1.6 s (4 x 400 ms, one thread): the bar is updated several times on the way.
    expect(seen.length).toBeGreaterThan(4);
    const last = seen[seen.length - 1];
    expect(last).toMatchObject({ filesDone: 5, filesTotal: 5 });
    expect(last.bytesDone).toBe(last.bytesTotal);
    // Before the end, never full: at most the copy and the files analysed so far.
    const before = seen.slice(0, -1);
    for (const p of before) expect(p.filesDone).toBeLessThan(5);
    expect(before.filter((p) => p.elapsedMs < r.summary.durationMs - 500).every((p) => p.bytesDone < p.bytesTotal)).toBe(true);
    // And it moves: from few files to more.
    expect(before[0].filesDone).toBeLessThanOrEqual(2);
    expect(before.some((p) => p.filesDone >= 3)).toBe(true);
  });
});

describe('incremental cache', () => {
  it('a rescan of an unchanged folder reads nothing; a changed, renamed or --verify file is handled', async () => {
    const dir = join(tmp, 'cached');
    mkdirSync(dir);
    for (const f of ['x64-clang-O2/core.sys', 'x86-mingw-O2/net.sys', 'arm64-clang-O2/kmdf.sys']) copyFileSync(join(fxBin, f), join(dir, f.replace('/', '-')));
    const cache = join(tmp, 'cache.json');
    const first = await scan({ paths: [dir], cache, jobs: 1 });
    expect(first.summary.cached).toBe(0);
    expect(first.summary.bytesAnalysed).toBeGreaterThan(0);

    const warm = await scan({ paths: [dir], cache, jobs: 1 });
    expect(warm.summary.cached).toBe(3);
    expect(warm.summary.bytesAnalysed).toBe(0);
    expect(warm.images).toEqual(first.images);

    // A new mtime: re-read, found to be the same bytes, served from the cache by hash.
    utimesSync(join(dir, 'x64-clang-O2-core.sys'), new Date(), new Date(Date.now() - 3600_000));
    // A renamed file: same bytes under a new name.
    copyFileSync(join(dir, 'x86-mingw-O2-net.sys'), join(dir, 'renamed.sys'));
    rmSync(join(dir, 'x86-mingw-O2-net.sys'));
    const moved = await scan({ paths: [dir], cache, jobs: 1 });
    expect(moved.summary.bytesAnalysed).toBe(0);
    expect(moved.files.map((f) => f.sha256).sort()).toEqual(first.files.map((f) => f.sha256).sort());

    // Changed content under the same name and size is caught by --verify.
    const k = join(dir, 'arm64-clang-O2-kmdf.sys');
    const when = new Date('2026-01-02T03:04:05Z');
    utimesSync(k, when, when);
    await scan({ paths: [dir], cache, jobs: 1 });
    const changed = Buffer.from(readFileSync(k));
    changed[changed.length - 1] ^= 0xff;
    writeFileSync(k, changed);
    utimesSync(k, when, when); // a tool that keeps timestamps (robocopy /COPY:T, tar)
    const trusting = await scan({ paths: [dir], cache, jobs: 1 });
    expect(trusting.summary.bytesAnalysed).toBe(0); // size + mtime unchanged: trusted
    const verified = await scan({ paths: [dir], cache, jobs: 1, verify: true });
    expect(verified.summary.bytesAnalysed).toBe(changed.length);
    expect(verified.files.find((f) => f.path === k)!.sha256).not.toBe(trusting.files.find((f) => f.path === k)!.sha256);

    // A cache from another tool version is ignored.
    const text = JSON.parse(readFileSync(cache, 'utf8'));
    text.fingerprint = '0.0.0-other|strings>=4|x';
    writeFileSync(cache, JSON.stringify(text));
    const other = await scan({ paths: [dir], cache, jobs: 1 });
    expect(other.summary.cached).toBe(0);
  });
});

describe('pooltag scan (CLI)', () => {
  const bin = join(root, 'bin/pooltag');
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root });

  it('writes the report atomically to --out, prints a summary, exit 0', () => {
    const out = join(tmp, 'fixtures report.json');
    const r = run('scan', '--no-cache', '--jobs', '2', '--out', out, 'test/fixtures/bin');
    expect(r.status).toBe(0);
    const n = manifest.binaries.length;
    expect(r.stdout).toMatch(new RegExp(`scanned\\s+${n} of ${n} files`));
    expect(r.stdout).toContain(out);
    expect(r.stderr).toBe(''); // not a terminal: no progress bar
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expectValid(report);
  });

  it('exit 2 when some files failed, 1 on usage errors; --format ndjson --out - streams the report', () => {
    const dir = join(tmp, 'cli-bad');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.sys'), 'not a driver');
    copyFileSync(join(fxBin, 'x64-clang-O2/core.sys'), join(dir, 'b.sys'));
    const r = run('scan', '--no-cache', '--format', 'ndjson', '--out', '-', '--quiet', dir);
    expect(r.status).toBe(2);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual(['scan', 'image', 'file', 'file']);
    expect(lines[2].error.code).toBe('not-pe');
    expect(run('scan', '--jobs', 'many', dir).status).toBe(1);
    expect(run('scan', '--format', 'xml', dir).status).toBe(1);
  });
});
