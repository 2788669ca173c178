/**
 * The base on PostgreSQL (`--db postgres://...`, POOLTAG_DB): every command that reads or
 * writes the base gives on a real PostgreSQL server what it gives on the SQLite file. The same
 * inputs go into both (the fixture drivers' scan, two synthetic pooltag.txt copies, notes, a
 * second Windows host whose paths differ in case), then each command's output is compared.
 * And several writers at once (4 merges and notes into one PostgreSQL base) lose nothing: the
 * base ends as a sequential merge of the same reports into SQLite.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { exportBase, EXPORT_FORMATS } from '../src/answer/export/index.js';
import { Lookup } from '../src/answer/lookup.js';
import { maskUrl } from '../src/knowledge/sql.js';
import { SCHEMA_VERSION, Store } from '../src/knowledge/store.js';
import type { ScanReport } from '../src/report/types.js';
import { scan } from '../src/scan/scan.js';
import { describeWithPostgres } from './helpers/postgres.js';
import { repoRoot } from './helpers/shared.js';

// @ts-expect-error: a plain JavaScript module shared with the benchmarks
import { writeFleet } from '../scripts/lib/synthetic-fleet.mjs';

const bin = join(repoRoot, 'bin/pooltag');
const tmp = mkdtempSync(join(tmpdir(), 'pooltag-pg-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cli = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
/** When a note was written differs between the two bases (each was written in its turn): left out. */
const WHEN = new Set(['createdAt', 'created_at']);
const json = (args: string[]) => {
  const r = cli([...args, '--json']);
  return { status: r.status, stderr: r.stderr, value: r.stdout ? (JSON.parse(r.stdout, (k, v: unknown) => (WHEN.has(k) ? undefined : v)) as unknown) : null };
};
const withoutWhen = (v: unknown) => JSON.parse(JSON.stringify(v), (k, x: unknown) => (WHEN.has(k) ? undefined : x)) as unknown;

describe('a PostgreSQL URL as it may be shown', () => {
  it('never shows the password', () => {
    expect(maskUrl('postgres://alice:s3cret@db.example:5432/pooltag')).toBe('postgres://alice:***@db.example:5432/pooltag');
    expect(maskUrl('postgresql://alice:p@ss:w@rd@db/pooltag?sslmode=require')).toBe('postgresql://alice:***@db/pooltag?sslmode=require');
    expect(maskUrl('postgres://db/pooltag?user=alice&password=s3cret')).toBe('postgres://db/pooltag?user=alice&password=***');
    expect(maskUrl('postgres://alice@db/pooltag')).toBe('postgres://alice@db/pooltag');
  });

  it('a server that does not answer is one line, exit 1, the password masked (from --db and from POOLTAG_DB)', () => {
    const url = 'postgres://alice:s3cret@127.0.0.1:1/pooltag';
    for (const r of [cli(['lookup', '--db', url, 'FxAp']), cli(['stats'], { POOLTAG_DB: url }), cli(['merge', '--db', url, join(repoRoot, 'package.json')])]) {
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^pooltag (lookup|stats|merge): cannot open the knowledge base postgres:\/\/alice:\*\*\*@127\.0\.0\.1:1\/pooltag \(.*ECONNREFUSED.*\)\n$/);
      expect(r.stderr + r.stdout).not.toContain('s3cret');
    }
  });
});

describeWithPostgres('the base on PostgreSQL answers as the SQLite file does', (server) => {
  const file = join(tmp, 'same.db');
  let url = '';
  let report: ScanReport;
  const both = () => [file, url];

  beforeAll(async () => {
    url = await server().database('same');
    report = await scan({ paths: [join(repoRoot, 'test/fixtures/bin')], jobs: 2, cache: null });
    const reportFile = join(tmp, 'fixtures.json');
    writeFileSync(reportFile, JSON.stringify(report));
    // A second Windows host: the same drivers, each path spelled in another case, one seen twice.
    const other: ScanReport = {
      ...report,
      host: { ...report.host, name: 'SRV-CASE', platform: 'win32' },
      startedAt: '2026-01-02T00:00:00.000Z',
      finishedAt: '2026-01-02T00:01:00.000Z',
      files: [...report.files, ...report.files.slice(0, 3)].map((f, i) => ({ ...f, path: `C:\\Drivers\\${i % 2 ? f.path.split('/').pop()!.toUpperCase() : f.path.split('/').pop()!}` })),
    };
    other.summary = { ...report.summary, files: other.files.length };
    const otherFile = join(tmp, 'srv-case.json');
    writeFileSync(otherFile, JSON.stringify(other));
    for (const db of both()) {
      for (const [name, label] of [
        ['pooltag-synthetic-old.txt', 'Synthetic old copy'],
        ['pooltag-synthetic-modern.txt', 'Synthetic modern copy'],
      ]) {
        const r = cli(['import-pooltag', '--db', db, '--label', label, join(repoRoot, 'test/data', name)]);
        expect(r.status, r.stderr).toBe(0);
      }
      for (const f of [reportFile, otherFile]) {
        const r = cli(['merge', '--db', db, f]);
        expect(r.status, r.stderr).toBe(0);
      }
      for (const [tag, text] of [
        ['FxAp', 'confirmed with !pool on SRV12'],
        ['Zq9y', 'a note on a tag nothing else knows'],
      ]) {
        const r = cli(['note', '--db', db, '--author', 'alice', tag, text]);
        expect(r.status, r.stderr).toBe(0);
      }
    }
  }, 240_000);

  /** What stats says, but where the base is and when things happened. */
  const stats = (db: string) => {
    const r = json(['stats', '--db', db]);
    expect(r.status, r.stderr).toBe(0);
    const { path: _p, backend: _b, lastMerge: _l, pooltagSources, index, ...rest } = r.value as Record<string, unknown> & { pooltagSources: Record<string, unknown>[]; index: Record<string, unknown> };
    return { ...rest, pooltagSources: pooltagSources.map(({ importedAt: _i, fileDate: _f, path: _pp, ...s }) => s), index: { ...index, builtAt: null } };
  };

  it('merge, import-pooltag and note: the same rows (stats), and a second merge of the same reports is skipped', () => {
    const s = stats(file);
    expect(stats(url)).toEqual(s);
    expect(s).toMatchObject({ hosts: 2, reports: 2, notes: 2, pooltagSources: [{ label: 'Synthetic old copy' }, { label: 'Synthetic modern copy' }] });
    expect((s as Record<string, unknown>).drivers).toBeGreaterThan(10);
    for (const db of both()) {
      const r = json(['merge', '--db', db, join(tmp, 'fixtures.json'), join(tmp, 'srv-case.json')]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.value).toMatchObject({ merged: 0, skipped: 2, failed: 0 });
    }
    expect(stats(url)).toEqual(stats(file));
  });

  it("a Windows host's paths that differ only in case are one sighting on both", async () => {
    for (const db of both()) {
      const store = await Store.open(db, { readonly: true });
      try {
        const held = new Set(report.images.map((i) => i.sha256));
        const distinct = new Set(report.files.filter((f) => f.sha256 && held.has(f.sha256)).map((f) => `${f.sha256}\0${f.path.split('/').pop()!.toLowerCase()}`)).size;
        const paths = (await store.hostInventory('SRV-CASE')).map((e) => `${e.sha256}\0${e.path.toLowerCase()}`);
        expect(paths.length).toBe(distinct);
        expect(new Set(paths).size).toBe(paths.length);
        const sightings = await store.pluck<number>(store.q.selectFrom('sightings').innerJoin('hosts', 'hosts.id', 'sightings.host_id').select((eb) => eb.fn.countAll().as('n')).where('hosts.name', '=', 'SRV-CASE'));
        expect(Number(sightings[0])).toBe(distinct);
      } finally {
        await store.close();
      }
    }
    const inv = async (db: string) => {
      const store = await Store.open(db, { readonly: true });
      try {
        return { srv: await store.hostInventory('SRV-CASE'), where: await store.imageHosts(report.images[0].sha256) };
      } finally {
        await store.close();
      }
    };
    expect(await inv(url)).toEqual(await inv(file));
  });

  it('lookup (exact, wildcard, case variants, unknown, notes) gives the same answers', () => {
    for (const q of ['FxAp', 'Io', 'AfdC', 'Afd*', 'fxap', 'Zq9y', 'Zq9x', 'Ntf?']) {
      const a = json(['lookup', '--db', file, q]);
      const b = json(['lookup', '--db', url, q]);
      expect(b.status, q).toBe(a.status);
      expect(b.value, q).toEqual(a.value);
    }
    const text = (db: string) => cli(['lookup', '--db', db, '--all', 'FxAp', 'AfdC']).stdout.replace(/\d{4}-\d\d-\d\d\)/g, 'DATE)');
    expect(text(url)).toBe(text(file));
  });

  it('search and show give the same results', () => {
    for (const q of ['contoso', 'tag:FxAp', 'fixtures', 'afd*', 'Io']) {
      const a = json(['search', '--db', file, q]);
      expect(json(['search', '--db', url, q]), q).toEqual(a);
    }
    for (const what of ['core.sys', 'core']) expect(json(['show', '--db', url, what]), what).toEqual(json(['show', '--db', file, what]));
  });

  it('every export format writes the same bytes', async () => {
    const now = new Date('2026-01-01T00:00:00.000Z');
    const a = await Store.open(file, { readonly: true });
    const b = await Store.open(url, { readonly: true });
    try {
      for (const format of EXPORT_FORMATS) {
        const x = await exportBase(a, format, { now, dbPath: 'the base' });
        const y = await exportBase(b, format, { now, dbPath: 'the base' });
        expect(y.tags, format).toBe(x.tags);
        expect(y.bytes.equals(x.bytes), format).toBe(true);
      }
      expect((await b.knownHashes()).sort()).toEqual((await a.knownHashes()).sort());
    } finally {
      await a.close();
      await b.close();
    }
    const known = (db: string) => cli(['export', '--db', db, '--format', 'known', '--out', join(tmp, `known-${db === url ? 'pg' : 'sqlite'}.gz`), '--quiet']);
    expect(known(url).status).toBe(0);
    expect(known(file).status).toBe(0);
    expect(readFileSync(join(tmp, 'known-pg.gz')).equals(readFileSync(join(tmp, 'known-sqlite.gz')))).toBe(true);
  });

  it('triage with the base gives the same verdict and owners', () => {
    const sample = join(repoRoot, 'test/triage/poolmon-2019.txt');
    const t = (db: string) => {
      const r = json(['triage', '--db', db, sample]);
      expect(r.status, r.stderr).toBe(0);
      return { ...(r.value as Record<string, unknown>), knowledgeBase: null };
    };
    expect(t(url)).toEqual(t(file));
  });

  it('the library answers the same, through the same API', async () => {
    const a = await Store.open(file, { readonly: true });
    const b = await Store.open(url, { readonly: true });
    try {
      for (const q of ['FxAp', 'Fx*']) expect(withoutWhen(await new Lookup(b).lookup(q))).toEqual(withoutWhen(await new Lookup(a).lookup(q)));
      expect(b.backend).toBe('postgres');
      expect(await b.schemaVersion()).toBe(SCHEMA_VERSION);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses a database of another application, leaving it unchanged', async () => {
    const other = await server().database('someone_else');
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: other });
    await c.connect();
    await c.query('CREATE TABLE hosts (id int, fqdn text)');
    await c.end();
    const r = cli(['merge', '--db', other, join(tmp, 'fixtures.json')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^pooltag merge: .*someone_else belongs to another application \(its schema has tables hosts but is not a pooltag base\); left unchanged\n$/);
    const empty = cli(['lookup', '--db', await server().database('empty'), 'FxAp']);
    expect(empty.status).toBe(1);
    expect(empty.stderr).toMatch(/^pooltag lookup: no knowledge base at .*empty \(the database has no pooltag tables\); create one with `pooltag merge` or `pooltag import-pooltag`\n$/);
  });
});

describeWithPostgres('several writers at once into one PostgreSQL base', (server) => {
  it('4 merges and notes at once lose nothing: the base is what one merge of every report into SQLite makes', async () => {
    const url = await server().database('fleet');
    const all = join(tmp, 'fleet-all');
    mkdirSync(all);
    // 4 x 12 hosts: every host has the same 40 drivers and 10 of a tail of 200 (shared between the merges)
    writeFleet(all, { hosts: 48, common: 40, tail: 200, perHostTail: 10 });
    const names = readdirSync(all).sort();
    const parts = [0, 1, 2, 3].map((k) => {
      const d = join(tmp, `fleet-${k}`);
      mkdirSync(d);
      for (const n of names.filter((_, i) => i % 4 === k)) renameSync(join(all, n), join(d, n));
      return d;
    });
    const run = (args: string[]) =>
      new Promise<{ status: number | null; stderr: string }>((res) => {
        const c = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, POOLTAG_MERGE_BATCH: '3' } });
        let stderr = '';
        c.stderr.on('data', (d) => (stderr += d));
        c.on('exit', (status) => res({ status, stderr }));
      });
    // the base exists first (its tables), then everything at once
    expect(cli(['note', '--db', url, 'Strt', 'the first note']).status).toBe(0);
    const t0 = performance.now();
    const results = await Promise.all([
      ...parts.map((d) => run(['merge', '--db', url, d])),
      ...Array.from({ length: 8 }, (_, i) => run(['note', '--db', url, '--author', `writer${i}`, `Nt${String(i).padStart(2, '0')}`, `note ${i}, written while 4 merges run`])),
    ]);
    const ms = performance.now() - t0;
    for (const r of results) expect(r.status, r.stderr).toBe(0);

    // the same reports, one merge after the other, into SQLite
    const file = join(tmp, 'fleet.db');
    expect(cli(['note', '--db', file, 'Strt', 'the first note']).status).toBe(0);
    for (const d of parts) expect(cli(['merge', '--db', file, d]).status).toBe(0);
    for (let i = 0; i < 8; i++) expect(cli(['note', '--db', file, '--author', `writer${i}`, `Nt${String(i).padStart(2, '0')}`, `note ${i}`]).status).toBe(0);

    const counts = (db: string) => {
      const r = json(['stats', '--db', db]);
      const s = r.value as Record<string, number>;
      return { hosts: s.hosts, reports: s.reports, drivers: s.drivers, sightings: s.sightings, evidence: s.evidence, inventory: s.inventory, inventoryHosts: s.inventoryHosts, notes: s.notes, distinctTags: s.distinctTags };
    };
    const want = counts(file);
    expect(want).toMatchObject({ hosts: 48, reports: 48, notes: 9, drivers: 240, inventoryHosts: 48 });
    expect(counts(url)).toEqual(want);
    // and the index the last writer left is current
    const s = json(['stats', '--db', url]).value as { generation: number; index: { generation: number } };
    expect(s.index.generation).toBe(s.generation);
    // every host's inventory is whole
    const a = await Store.open(file, { readonly: true });
    const b = await Store.open(url, { readonly: true });
    try {
      for (const host of ['SRV0000', 'SRV0017', 'SRV0047']) expect(await b.hostInventory(host)).toEqual(await a.hostInventory(host));
    } finally {
      await a.close();
      await b.close();
    }
    console.log(`4 merges of 12 reports and 8 notes at once into PostgreSQL: ${(ms / 1000).toFixed(1)} s, rows lost: 0`);
  }, 300_000);
});
