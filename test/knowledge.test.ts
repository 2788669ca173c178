/**
 * The knowledge base: a scan of the fixture drivers merged with two synthetic pooltag.txt
 * copies written for this repository (test/data/pooltag-synthetic-*.txt), then lookups,
 * search, notes, idempotent merges and schema versions; and, when ../shared/pooltag/ is
 * there, both real copies imported (read in place, never copied into the repository).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Lookup } from '../src/answer/lookup.js';
import { parsePooltagTxt } from '../src/knowledge/pooltag-txt.js';
import { loadSearchIndex, refreshSearchIndex, searchIndex } from '../src/knowledge/search-index.js';
import { NODE_API, openSqlite, sqlite } from '../src/knowledge/sqlite.js';
import { SCHEMA_VERSION, Store, StoreError } from '../src/knowledge/store.js';
import { parseReport, ReportError } from '../src/report/read.js';
import type { ScanReport } from '../src/report/types.js';
import { reportLines } from '../src/report/write.js';
import { scan } from '../src/scan/scan.js';
import { parseTag } from '../src/tag/tag.js';
import { describeWithShared, sharedFile, sharedPath } from './helpers/shared.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
function synthetic(name: string): { path: string; bytes: Buffer } {
  const path = join(root, 'test/data', name);
  return { path, bytes: readFileSync(path) };
}

const tmp = mkdtempSync(join(tmpdir(), 'pooltag-kb-'));
const dbFile = join(tmp, 'kb.db');
let store: Store;
let report: ScanReport;
let lk: Lookup;

beforeAll(async () => {
  report = await scan({ paths: [join(root, 'test/fixtures/bin')], jobs: 2, cache: null });
  store = await Store.open(dbFile);
  for (const [name, label] of [
    ['pooltag-synthetic-old.txt', 'Synthetic old copy'],
    ['pooltag-synthetic-modern.txt', 'Synthetic modern copy'],
  ]) {
    const { path, bytes } = synthetic(name);
    await store.importPooltag(parsePooltagTxt(bytes, path), bytes, { path, label, fileDate: name.includes('old') ? '2003-01-01T00:00:00.000Z' : '2024-06-01T00:00:00.000Z' });
  }
  await store.mergeReport(report, 'fixtures.json');
  lk = new Lookup(store);
});
afterAll(async () => {
  await store?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const first = async (q: string) => (await lk.lookup(q)).answers[0];

describe('lookup', () => {
  it('a tag passed at call sites: one candidate for the fixture driver, every build inside, with vendor, signer, version and call sites', async () => {
    const a = (await first('FxAp'));
    expect(a.tag.display).toBe('FxAp');
    expect(a.tag.hex).toBe('0x70417846');
    const cs = a.candidates.filter((c) => c.source === 'call-site');
    // every core.sys build passes FxAp (the signed copy too, renamed but OriginalFilename core.sys): one driver
    expect(cs).toHaveLength(1);
    expect(a.candidates[0].source).toBe('call-site');
    const c0 = cs[0];
    if (c0.source !== 'call-site') throw new Error('unreachable');
    const images = report.images.filter((i) => i.evidence.some((e) => e.tag === 'FxAp'));
    expect(c0.driver.builds.map((b) => b.sha256).sort()).toEqual(images.map((i) => i.sha256).sort());
    expect(c0.driver).toMatchObject({ name: 'core.sys', company: 'Pooltag Fixtures', product: 'Pooltag Fixtures', versions: ['1.2.3.4'], confidence: 'high', hosts: 1 });
    expect(new Set(c0.driver.archs)).toEqual(new Set(['x86', 'x64', 'arm64']));
    expect(c0.driver.signers).toEqual(expect.arrayContaining([null, 'Pooltag Test Signer']));
    expect(c0.driver.fileNames).toEqual(expect.arrayContaining(['core.sys', 'core-x64-clang-o2.sys']));
    for (const b of c0.driver.builds) {
      expect(b.fileVersion).toBe('1.2.3.4');
      expect(b.callSites.every((s) => s.routine === 'ExAllocatePoolWithTag' && s.role === 'allocate')).toBe(true);
      const img = images.find((i) => i.sha256 === b.sha256)!;
      expect(b.callSites.map((s) => s.callSiteRva).sort()).toEqual(img.evidence.filter((e) => e.tag === 'FxAp').map((e) => e.callSiteRva).sort());
      expect(b.counts).toMatchObject({ allocations: b.callSites.length, frees: 0, functions: new Set(b.callSites.map((s) => s.functionRva)).size });
    }
    expect(a.advice).toEqual([]);
  });

  it('allocations, lookaside lists and references come before frees and dereferences', async () => {
    const order = { allocate: 0, lookaside: 1, reference: 2, free: 3, dereference: 4 };
    let withFree = 0;
    for (const q of ['FxFr', 'FxF2', 'FxMa', 'FlAl', 'FxPt']) {
      const c = (await first(q)).candidates.find((x) => x.source === 'call-site');
      if (c?.source !== 'call-site') throw new Error(`no call-site candidate for ${q}`);
      for (const b of c.driver.builds) {
        const roles = b.callSites.map((s) => order[s.role]);
        expect(roles).toEqual([...roles].sort((x, y) => x - y));
        if (b.counts.frees) {
          withFree++;
          expect(b.callSites[0].role).toBe('allocate');
          expect(b.callSites.at(-1)!.role).toBe('free');
        }
      }
    }
    expect(withFree).toBeGreaterThan(10);
  });

  it('every form of the tag finds the same answer (ULONG, padded, C literal)', async () => {
    const n = (await first('FxAp')).candidates.length;
    expect((await first('0x70417846')).candidates.length).toBe(n);
    expect((await lk.lookup('pAxF', { literal: true })).answers[0].candidates.length).toBe(n);
    const io = (await first('Io'));
    expect(io.tag.display).toBe('Io  ');
    // core.c passes 'oI' (bytes 49 6f 00 00): the fixture drivers rank first, then pooltag.txt
    expect(io.candidates[0].source).toBe('call-site');
    const pt = io.candidates.filter((c) => c.source === 'pooltag.txt');
    expect(pt).toHaveLength(1);
    expect(pt[0]).toMatchObject({ description: 'I/O manager example allocations', binaryRaw: 'nt!io' });
    // both copies say it: one candidate, two sources, newest first
    if (pt[0].source !== 'pooltag.txt') throw new Error('unreachable');
    expect(pt[0].sources.map((s) => s.label)).toEqual(['Synthetic modern copy', 'Synthetic old copy']);
    expect((await first('"Io  "')).candidates.length).toBe(io.candidates.length);
  });

  it('tags that differ only by case are different tags', async () => {
    const owner = async (q: string) => (await first(q)).candidates.find((c) => c.source === 'pooltag.txt' && !c.wildcard);
    expect(await owner('AfdC')).toMatchObject({ description: 'Afd connection objects (example)' });
    expect(await owner('Afdc')).toMatchObject({ description: 'Afd connect request buffers (example)' });
    expect(await owner('aFDC')).toMatchObject({ description: 'Afd kernel socket client context (example)' });
    expect(await owner('Acpi')).toMatchObject({ description: 'ACPI namespace objects (example)' });
    expect(await owner('AcpI')).toMatchObject({ description: 'ACPI pending request contexts (example)' });
    expect((await first('aFDC')).candidates.some((c) => c.source === 'pooltag.txt' && c.wildcard)).toBe(false); // Afd? does not match aFD.
  });

  it('wildcard entries match by poolmon\'s rule, after the exact entry (one owner: the wildcard entry is a source of the exact one\'s)', async () => {
    const a = (await first('AfdC'));
    expect(a.candidates.map((c) => (c.source === 'pooltag.txt' ? c.entryTag : c.source))).toEqual(['AfdC']);
    expect(a.candidates[0].source === 'pooltag.txt' && a.candidates[0].sources.map((s) => `${s.entryTag}${s.wildcard ? ' (wildcard)' : ''}`)).toEqual(['AfdC', 'AfdC', 'Afd? (wildcard)']);
    const z = (await first('AfdZ'));
    expect(z.candidates[0]).toMatchObject({ source: 'pooltag.txt', entryTag: 'Afd?', wildcard: true, description: 'Afd buffers not listed above (example)' });
  });

  it('a tag listed twice keeps both owners side by side', async () => {
    const a = (await first('Adbe'));
    const owners = a.candidates.filter((c) => c.source === 'pooltag.txt').map((c) => (c.source === 'pooltag.txt' ? c.binaryRaw : ''));
    expect(owners).toContain('<unknown>');
    expect(owners).toContain('win32k.sys');
  });

  it('a wildcard query lists every known tag it matches', async () => {
    const r = await lk.lookup('FxL?');
    expect(r.wildcard).toBe(true);
    const tags = r.answers.map((a) => a.tag.display);
    expect(tags).toEqual(expect.arrayContaining(['FxLn', 'FxLo', 'FxLp', 'FxLx']));
    expect(tags.every((t) => t.startsWith('FxL'))).toBe(true);
    expect((await lk.lookup('Afd*')).answers.map((a) => a.tag.display)).toEqual(expect.arrayContaining(['AfdC', 'Afdc', 'AfdA']));
  });

  it('shared tags say so; an unknown tag says what to do next', async () => {
    const none = (await first('None'));
    expect(none.shared?.reason).toMatch(/ExAllocatePool/);
    expect(none.candidates.some((c) => c.source === 'call-site')).toBe(true);
    const u = (await first('Zq9x'));
    expect(u.candidates).toEqual([]);
    expect(u.advice.join(' ')).toMatch(/pooltag scan/);
    expect(u.advice.join(' ')).toMatch(/!poolfind Zq9x/);
  });

  it('engineers\' notes are shown with the tag', async () => {
    const tag = parseTag('Zq9y');
    await store.addNote(tag, 'Contoso backup filter; confirmed with !pool on host SRV12', 'alice');
    const a = (await first('Zq9y'));
    expect(a.notes).toEqual([expect.objectContaining({ text: 'Contoso backup filter; confirmed with !pool on host SRV12', author: 'alice' })]);
    expect(a.advice).toEqual([]);
  });
});

describe('merge', () => {
  it('is idempotent: a report merged twice (JSON or NDJSON) changes nothing', async () => {
    const count = async () => await store.stats();
    const before = await count();
    expect((await store.mergeReport(report)).skipped).toBe(true);
    const nd = parseReport([...reportLines(report)].join(''));
    expect((await store.mergeReport(nd)).skipped).toBe(true);
    const after = await count();
    expect(after.evidence).toBe(before.evidence);
    expect(after.sightings).toBe(before.sightings);
    expect(after.reports).toBe(1);
    expect(after.drivers).toBe(report.images.length);
    expect(after.evidence).toBe(report.images.reduce((s, i) => s + new Set(i.evidence.map((e) => `${e.callSiteRva}|${e.routine}|${e.ulong}`)).size, 0));
  });

  it('another host with the same drivers adds sightings, not drivers', async () => {
    const other: ScanReport = { ...report, host: { ...report.host, name: 'SRV-OTHER' }, startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:10.000Z' };
    const r = await store.mergeReport(other);
    expect(r).toMatchObject({ skipped: false, newDrivers: 0 });
    const s = await store.stats();
    expect(s.hosts).toBe(2);
    expect(s.drivers).toBe(report.images.length);
    const cs = (await first('FxAp')).candidates.find((c) => c.source === 'call-site');
    expect(cs?.source === 'call-site' && cs.driver.hosts).toBe(2);
    expect(cs?.source === 'call-site' && cs.driver.builds.every((b) => b.hosts === 2)).toBe(true);
  });

  it('refuses what is not a report, with the reason', async () => {
    expect(() => parseReport('hello')).toThrow(ReportError);
    expect(() => parseReport('{"format":"something-else"}')).toThrow(/not a pooltag scan report/);
    expect(() => parseReport(JSON.stringify({ ...report, schemaVersion: 99 }))).toThrow(/newer than this pooltag/);
    // A malformed image new to the base: the whole report is refused, nothing half-merged.
    const bad = JSON.parse(JSON.stringify(report));
    const victim = bad.images.findIndex((i: { evidence: unknown[] }) => i.evidence.length > 0);
    bad.images[victim].evidence[0].ulong = 'garbage';
    const fresh = await Store.open(':memory:');
    try {
      await expect(fresh.mergeReport(parseReport(JSON.stringify(bad)))).rejects.toThrow(/evidence\[0\] is malformed/);
      expect(await fresh.stats()).toMatchObject({ reports: 0, drivers: 0, evidence: 0, sightings: 0, hosts: 0 });
    } finally {
      await fresh.close();
    }
  });
});

describe('schema', () => {
  it('a new file is created at the current version; a newer one is refused', async () => {
    const f = join(tmp, 'v.db');
    await (await Store.open(f)).close();
    const db = openSqlite(f);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.pragma('user_version = 99');
    db.close();
    await expect(Store.open(f)).rejects.toThrow(StoreError);
    await expect(Store.open(join(tmp, 'missing.db'), { readonly: true })).rejects.toThrow(/no knowledge base/);
  });
});

describe('SQLite for this Node.js', () => {
  it('better-sqlite3 13 (one Node-API addon in its package) where Node.js has Node-API 10, else the 12 compiled at install (Node.js 20)', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; optionalDependencies: Record<string, string> };
    const want = NODE_API >= 10 ? pkg.dependencies['better-sqlite3'] : pkg.optionalDependencies['better-sqlite3-node20'].replace(/^npm:better-sqlite3@/, '');
    expect(sqlite().name).toBe(`better-sqlite3 ${want}`);
    const db = openSqlite(':memory:');
    try {
      expect(db.prepare('SELECT 6 * 7 AS n').get()).toEqual({ n: 42 });
    } finally {
      db.close();
    }
  });

  it('nothing else loads better-sqlite3 itself (13 loaded on Node.js 20 dies of a segmentation fault)', () => {
    const walk = (d: string): string[] =>
      readdirSync(join(root, d), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (e.name === 'fixtures' ? [] : walk(join(d, e.name))) : /\.(ts|mjs|js)$/.test(e.name) ? [join(d, e.name)] : []));
    const lib = ['better', 'sqlite3'].join('-'); // not spelled out, so that this file does not match
    const direct = new RegExp(`(?<!import type \\w+ )from '${lib}'|(?:require|import)\\(['"]${lib}['"]\\)|node_modules/${lib}['"]`);
    const offenders = ['src', 'workers', 'test', 'scripts', 'bin'].flatMap(walk).filter((f) => f !== join('src', 'knowledge', 'sqlite.ts') && direct.test(readFileSync(join(root, f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});

describe('search (lunr)', () => {
  it('finds tags as case-sensitive whole tokens, and words in names, vendors and pooltag.txt', async () => {
    await refreshSearchIndex(store);
    const loaded = (await loadSearchIndex(store))!;
    expect(loaded.stale).toBe(false);
    const refs = (q: string) => searchIndex(loaded.index, q).map((h) => h.ref);
    const fxap = refs('tag:FxAp');
    expect(fxap.length).toBeGreaterThan(0);
    expect(fxap.every((r) => r.startsWith('d:'))).toBe(true);
    expect(refs('tag:fxap')).toEqual([]); // case-sensitive
    const acpi = refs('tag:Acpi');
    const acpI = refs('tag:AcpI');
    expect(acpi.length).toBeGreaterThan(0);
    expect(acpi.some((r) => acpI.includes(r))).toBe(false);
    expect(refs('vendor:pooltag').length).toBe(report.images.length); // "Pooltag Fixtures"
    expect(refs('+text:connection +owner:afd').length).toBeGreaterThan(0);
    expect(refs('Zq9y')).toContain(refs('Zq9y').find((r) => r.startsWith('n:'))); // the note, by its tag
    expect(refs('name:kmdf').length).toBeGreaterThan(0);
  });
});

describe('CLI', () => {
  const bin = join(root, 'bin/pooltag');
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args, '--db', dbFile], { encoding: 'utf8', cwd: root });

  it('lookup prints owners and exits 0; an unknown tag exits 3 with advice; --json is machine-readable', async () => {
    await store.close();
    try {
      const r = run('lookup', 'FxAp', 'Io');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/"FxAp"\s+0x70417846/);
      // one block for the fixture driver: the owner, its evidence in one line, what to do next
      expect(r.stdout.match(/^ {2}\d+\. +core\.sys - Pooltag Fixtures$/gm)).toHaveLength(2); // FxAp and Io
      expect(r.stdout).toMatch(/^ {6}call sites in a scanned driver, high confidence: 2 allocation sites in 1 function; \d+ builds on \d+ hosts?\n {2}Next: contact the vendor \(Pooltag Fixtures\)/m);
      // the builds summarised, then the allocation sites, under --all
      const all = run('lookup', '--all', 'FxAp').stdout;
      expect(all).toMatch(/1\.2\.3\.4 x64, signed by Pooltag Test Signer: /);
      expect(all).toMatch(/1\.2\.3\.4 x86, unsigned \(4 builds\)/);
      expect(all).toMatch(/2 allocation sites in 1 function \(in 1\.2\.3\.4 /);
      const builds = run('lookup', '--builds', 'FxAp').stdout;
      expect(builds.match(/^ {6}1\.2\.3\.4 (x86|x64|arm64), (unsigned|signed by Pooltag Test Signer); sha256 [0-9a-f]{16}\.\.\.; \d+ hosts?: /gm)).toHaveLength(11);
      expect(r.stdout).toMatch(/nt!io - I\/O manager example allocations/);
      const u = run('lookup', 'Zq9x');
      expect(u.status).toBe(3);
      expect(u.stdout).toMatch(/nothing in the knowledge base knows "Zq9x"/);
      const j = JSON.parse(run('lookup', '--json', 'AfdZ').stdout);
      expect(j.answers[0].candidates[0]).toMatchObject({ source: 'pooltag.txt', entryTag: 'Afd?' });
      expect(run('lookup', '0x1234567890').status).toBe(1);
      const s = run('search', 'tag:FxAp');
      expect(s.status).toBe(0);
      // One result per driver (issue 22, item 11): the 11 builds of core.sys (one a signed copy under another name) are one line.
      expect(s.stdout.split('\n').filter((l) => /^ {2}driver /.test(l))).toHaveLength(1);
      expect(s.stdout).toMatch(/^1 result for "tag:FxAp"\n {2}driver {2}core\.sys 1\.2\.3\.4 - Pooltag Fixtures \(11 builds\) tags: /);
      const sj = JSON.parse(run('search', '--json', 'tag:FxAp').stdout);
      expect(sj.results.filter((r: { type: string }) => r.type === 'driver')).toMatchObject([{ builds: 11 }]);
      expect(run('show', 'kmdf.sys').stdout).toMatch(/KmMc/);
      expect(run('stats').stdout).toMatch(/pooltag\.txt\s+51 entries from 2 copies/);
      const n = run('note', 'QqQq', 'seen', 'twice');
      expect(n.status).toBe(0);
      expect(run('lookup', 'QqQq').stdout).toMatch(/note .*: seen twice/);
      // merge by CLI into a new base: the same file twice, then the same report through stdin as NDJSON
      const rf = join(tmp, 'fixtures report.json');
      writeFileSync(rf, JSON.stringify(report));
      const db2 = join(tmp, 'cli.db');
      const m1 = spawnSync(process.execPath, [bin, 'merge', '--json', '--db', db2, rf], { encoding: 'utf8' });
      expect(m1.status).toBe(0);
      expect(JSON.parse(m1.stdout)).toMatchObject({ merged: 1, skipped: 0, newDrivers: report.images.length });
      const m2 = spawnSync(process.execPath, [bin, 'merge', '--json', '--db', db2, rf], { encoding: 'utf8' });
      expect(JSON.parse(m2.stdout)).toMatchObject({ merged: 0, skipped: 1, newDrivers: 0 });
      const m3 = spawnSync(process.execPath, [bin, 'merge', '--json', '--db', db2, '-'], { encoding: 'utf8', input: [...reportLines(report)].join('') });
      expect(JSON.parse(m3.stdout)).toMatchObject({ merged: 0, skipped: 1 });
      const bad = join(tmp, 'bad.json');
      writeFileSync(bad, '{"format":"nope"}');
      const m = run('merge', bad);
      expect(m.status).toBe(2);
      expect(m.stderr).toMatch(/not a pooltag scan report/);
    } finally {
      store = await Store.open(dbFile);
      lk = new Lookup(store);
    }
  });
});

describeWithShared('the real pooltag.txt copies', ['pooltag/pooltag-2003.txt', 'pooltag/pooltag-modern.txt'], () => {
  it('both import; each keeps its own entries; a tag both list is one owner with two sources, newest first', async () => {
    const real = await Store.open(':memory:');
    try {
      for (const [rel, label, date] of [
        ['pooltag/pooltag-2003.txt', 'Debugging Tools 2003', '2003-01-01T00:00:00.000Z'],
        ['pooltag/pooltag-modern.txt', 'Windows Kits 10 x64', '2024-06-01T00:00:00.000Z'],
      ]) {
        const bytes = sharedFile(rel);
        await real.importPooltag(parsePooltagTxt(bytes, sharedPath(rel)), bytes, { path: sharedPath(rel), label, fileDate: date });
      }
      expect(await real.stats()).toMatchObject({ pooltagEntries: 6325 });
      const io = (await new Lookup(real).lookup('Io')).answers[0].candidates.filter((c) => c.source === 'pooltag.txt');
      expect(io).toHaveLength(1);
      if (io[0].source !== 'pooltag.txt') throw new Error('unreachable');
      expect(io[0]).toMatchObject({ description: 'general IO allocations', binaryRaw: 'nt!io' });
      expect(io[0].sources.map((s) => s.label)).toEqual(['Windows Kits 10 x64', 'Debugging Tools 2003']);
      const afdz = (await new Lookup(real).lookup('AfdZ')).answers[0].candidates[0];
      expect(afdz).toMatchObject({ source: 'pooltag.txt', entryTag: 'Afd?', wildcard: true, description: 'AFD objects' });
    } finally {
      await real.close();
    }
  });
});
