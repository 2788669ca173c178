/**
 * The exports read the base in bulk (a snapshot: one query per table) instead of answering each
 * tag with `lookup`'s own queries. The two must write the same bytes, for every format, on a
 * real base: the fixture drivers scanned by the CLI, merged as three hosts (the same image at the
 * same path on two hosts seen at different times, another path on the third, file names in two
 * cases), the synthetic modern pooltag.txt imported, and notes (two at the same instant).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Lookup } from '../src/answer/lookup.js';
import { EXPORT_FORMATS, exportBase, exportTags, knownTagKeys, mergeSummaries, snapshotBuild, snapshotTagKeys, summariseSites, tagOwners } from '../src/answer/export/index.js';
import { imageOwner } from '../src/answer/export/owners.js';
import { CSV_COLUMNS, csvField, excelText, exportCsv, exportJson, exportRows } from '../src/answer/export/rows.js';
import { groupBuilds, siteRole } from '../src/answer/driver-candidate.js';
import { pageIndex } from '../src/answer/export/html.js';
import { refreshSearchIndex } from '../src/knowledge/search-index.js';
import { readSnapshot } from '../src/knowledge/snapshot.js';
import { Store } from '../src/knowledge/store.js';
import { Tag } from '../src/tag/tag.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/pooltag');
const MODERN = resolve(root, 'test', 'data', 'pooltag-synthetic-modern.txt');

function run(...args: string[]) {
  if (!existsSync(join(root, 'dist/src/cli/main.js'))) throw new Error('dist/ is missing: run `npm install` (or `npm run build`) before the tests');
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, maxBuffer: 256 << 20 });
  return { code: r.status, err: r.stderr.toString('utf8') };
}

const tmp = mkdtempSync(join(tmpdir(), 'pooltag-export-bulk-'));
const db = join(tmp, 'kb.db');
let store: Store;

beforeAll(async () => {
  const report = join(tmp, 'a.json');
  const scan = run('scan', '--no-cache', '--quiet', '--jobs', '2', '--out', report, 'test/fixtures/bin');
  expect(scan.code, scan.err).toBe(0);
  const a = JSON.parse(readFileSync(report, 'utf8')) as { host: { name: string }; startedAt: string; finishedAt: string; files: { path: string }[] };
  // Host B: the same paths, seen a day later. Host C: other paths (upper case names), a day earlier.
  const b = { ...a, host: { ...a.host, name: 'host-b' }, startedAt: '2030-01-02T00:00:00.000Z', finishedAt: '2030-01-02T00:01:00.000Z' };
  const c = {
    ...a,
    host: { ...a.host, name: 'host-c' },
    startedAt: '2019-01-01T00:00:00.000Z',
    finishedAt: '2019-01-01T00:01:00.000Z',
    files: a.files.map((f, i) => (i % 2 ? { ...f, path: `/other/${f.path.split('/').pop()!.toUpperCase()}` } : f)),
  };
  writeFileSync(join(tmp, 'b.json'), JSON.stringify(b));
  writeFileSync(join(tmp, 'c.json'), JSON.stringify(c));
  expect(run('import-pooltag', '--db', db, '--label', 'Windows Kits 10 x64', MODERN).code).toBe(0);
  const merge = run('merge', '--db', db, report, join(tmp, 'b.json'), join(tmp, 'c.json'));
  expect(merge.code, merge.err).toBe(0);
  // A second pooltag.txt copy whose entries name scanned drivers (exact and wildcard): their
  // builds, and the tag's call sites in them, are part of the pooltag.txt owners.
  store = await Store.open(db);
  const named = store.db
    .prepare(`SELECT DISTINCT e.tag, s.name FROM evidence e JOIN sightings s ON s.sha256 = e.sha256 WHERE e.tag GLOB '[A-Za-z][A-Za-z][A-Za-z][A-Za-z]' AND s.name GLOB '*.sys' ORDER BY e.tag, s.name LIMIT 6`)
    .all() as { tag: string; name: string }[];
  // a tag only a string in a driver's data has (and a note): its string owners are exported
  const stringTag = store.db.prepare(`SELECT tag_key FROM tag_strings WHERE tag_key NOT IN (SELECT tag_key FROM evidence) AND tag_key GLOB '[A-Za-z][A-Za-z][A-Za-z][A-Za-z]' ORDER BY tag_key LIMIT 1`).pluck().get() as string;
  await store.close();
  expect(named.length).toBe(6);
  expect(stringTag).toMatch(/^[A-Za-z]{4}$/);
  const copy = named.flatMap(({ tag, name }, i) => [`${tag} - ${name} - test entry ${i}`, ...(i % 2 ? [`${tag.slice(0, 3)}? - ${name} - wildcard test entry ${i}`] : [])]);
  writeFileSync(join(tmp, 'pooltag-named.txt'), copy.join('\r\n') + '\r\n');
  const imported = run('import-pooltag', '--db', db, '--label', 'named drivers', join(tmp, 'pooltag-named.txt'));
  expect(imported.code, imported.err).toBe(0);
  for (const [tag, text] of [['FxAp', 'seen on the build servers'], ['FxAp', 'second note'], ['Zz9q', 'a tag only a note knows'], [stringTag, 'a tag only strings have']]) expect(run('note', '--db', db, tag, text).code).toBe(0);
  store = await Store.open(db);
  // two notes of one tag at the same instant: their order is the order they were written
  store.db.prepare(`UPDATE notes SET created_at = '2030-01-01T00:00:00.000Z' WHERE tag_key = 'FxAp'`).run();
}, 120_000);
afterAll(async () => {
  await store?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('exports read in bulk', () => {
  it('the base has what the comparison needs: several hosts, call sites, pooltag.txt entries, strings and notes', () => {
    const n = (sql: string) => store.db.prepare(sql).pluck().get() as number;
    expect(n('SELECT count(*) FROM hosts')).toBe(3);
    expect(n('SELECT count(*) FROM (SELECT sha256, path FROM sightings GROUP BY sha256, path HAVING count(*) > 1)')).toBeGreaterThan(0);
    expect(n('SELECT count(DISTINCT tag_key) FROM evidence')).toBeGreaterThan(20);
    expect(n('SELECT count(*) FROM tag_strings')).toBeGreaterThan(0);
    expect(n('SELECT count(*) FROM pooltag_entries WHERE wildcard = 1')).toBeGreaterThan(0);
    expect(n('SELECT count(*) FROM notes')).toBe(4);
  });

  it('the base has what the bulk path must get right: drivers of several builds, pooltag.txt entries naming scanned drivers, strings, wrappers, pools and sizes', () => {
    const n = (sql: string) => store.db.prepare(sql).pluck().get() as number;
    // one driver name, vendor and product with several images: one candidate of several builds
    expect(n(`SELECT count(*) FROM (SELECT lower(original_filename), lower(company), lower(product) FROM drivers WHERE original_filename IS NOT NULL GROUP BY 1, 2, 3 HAVING count(*) > 1)`)).toBeGreaterThan(0);
    expect(n(`SELECT count(*) FROM evidence WHERE wrappers IS NOT NULL`)).toBeGreaterThan(0);
    expect(n(`SELECT count(*) FROM evidence WHERE pool IS NOT NULL`)).toBeGreaterThan(0);
    expect(n(`SELECT count(*) FROM evidence WHERE size IS NOT NULL`)).toBeGreaterThan(0);
    expect(n(`SELECT count(*) FROM tag_strings t WHERE t.tag_key IN (SELECT tag_key FROM evidence)`)).toBeGreaterThan(0);
  });

  it('answers every tag as a lookup per tag does', async () => {
    const snap = await readSnapshot(store);
    const keys = await knownTagKeys(store);
    expect(keys.length).toBeGreaterThan(100);
    expect(snapshotTagKeys(snap)).toEqual(keys);
    const perTag = await exportTags(store, null);
    const bulk = await exportTags(store, snap);
    expect(bulk).toEqual(perTag);
    expect(await exportTags(store)).toEqual(perTag);
    // what the comparison covers, in the answers themselves
    const owners = perTag.tags.flatMap((t) => t.owners);
    expect(owners.some((o) => o.source === 'call-site' && o.builds.length > 1)).toBe(true);
    expect(owners.some((o) => o.source === 'pooltag.txt' && o.builds.length > 0)).toBe(true);
    expect(owners.some((o) => o.source === 'string')).toBe(true);
    expect(owners.some((o) => o.evidence.includes('wrapper'))).toBe(true);
    expect(owners.some((o) => (o.pools ?? []).length > 0 && (o.sizes ?? []).length > 0)).toBe(true);
    expect(perTag.tags.find((t) => t.tag === 'FxAp')!.notes.map((n) => n.text)).toEqual(['seen on the build servers', 'second note']);
    // the owners' call sites as lookup lists them, and as the bulk path summarises them
    const lk = new Lookup(store);
    for (const t of perTag.tags.slice(0, 400)) {
      const a = await lk.answer(Tag.fromMatchKey(t.key));
      expect(tagOwners(a), t.key).toEqual(t.owners);
    }
  });

  it('an image\'s owner made once for all its tags is what tagOwners makes of its one-build candidate', async () => {
    const snap = await readSnapshot(store);
    let n = 0;
    for (const sha of snap.drivers.keys()) {
      const b = snapshotBuild(snap, sha)!;
      const { owner, binaries, vendors, products, versions, signers, description, hosts, builds } = tagOwners({ candidates: [{ source: 'string', confidence: 'low', driver: groupBuilds([b])[0] }] })[0];
      expect(imageOwner(b), sha).toEqual({ owner, binaries, vendors, products, versions, signers, description, hosts, builds });
      n++;
    }
    expect(n).toBeGreaterThan(10);
  });

  it('the CSV and the JSON, written from the tags with shared lists made once, are their rows written one by one', async () => {
    const { tags } = await exportTags(store);
    expect(tags.some((t) => t.owners.length === 0 && t.notes.length > 0)).toBe(true); // a note-only row
    const rows = exportRows(tags);
    const now = new Date('2031-05-06T07:08:09.000Z');
    const json = JSON.parse(exportJson(tags, { now })) as { rows: unknown[] };
    expect(exportJson(tags, { now }).split('\n').slice(1, -2).map((l) => l.replace(/,$/, ''))).toEqual(rows.map((r) => JSON.stringify(r)));
    expect(json.rows).toEqual(JSON.parse(JSON.stringify(rows)));
    // the cells as the CSV's columns say, row by row
    const text = (c: string) => csvField(excelText(c.replace(/[\u0000-\u001f\u007f]/g, (x) => `\\x${x.charCodeAt(0).toString(16).padStart(2, '0')}`).slice(0, 32000)));
    const list = (xs: (string | number)[]) => (xs.length ? text(xs.join('; ')) : '');
    const cell = (c: string) => (c === '' ? '' : text(c));
    const lines = rows.map((r) =>
      [
        csvField(excelText(r.tag, true)), csvField(r.tagHex), cell(r.shared ? 'yes' : ''), cell(r.source), cell(r.confidence), cell(r.owner), list(r.binaries), list(r.vendors), list(r.products),
        list(r.versions), list(r.signers), cell(r.description), cell(r.evidence), String(r.callSites), String(r.builds), String(r.hosts), list(r.sha256), cell(r.pooltagEntry ?? ''), list(r.notes), list(r.pools), list(r.sizes),
      ].join(','),
    );
    expect(exportCsv(tags)).toBe(`\uFEFF${[CSV_COLUMNS.join(','), ...lines].join('\r\n')}\r\n`);
  });

  it('a driver\'s call sites summarised build by build are its sites summarised at once', () => {
    const ROUTINES = ['ExAllocatePoolWithTag', 'ExFreePoolWithTag', 'ExInitializeNPagedLookasideList', 'ObReferenceObjectByHandleWithTag', 'ExAllocatePool2', ' '];
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
    for (let round = 0; round < 200; round++) {
      const builds = Array.from({ length: 1 + rnd(4) }, () =>
        Array.from({ length: rnd(6) }, () => {
          const routine = ROUTINES[rnd(ROUTINES.length)];
          return {
            routine,
            role: siteRole(routine),
            recovery: ['immediate', 'wrapper-arg', 'table', ''][rnd(4)],
            wrapped: rnd(3) === 0,
            pool: rnd(2) ? { encoding: 'pool-type' as const, values: [0], names: [['NonPagedPoolNx', 'PagedPool', ' '][rnd(3)]] } : null,
            size: rnd(2) ? { values: [rnd(5) * 16, rnd(5) * 16] } : null,
          };
        }),
      );
      expect(mergeSummaries(builds.map((b) => summariseSites(b as never)))).toEqual(summariseSites(builds.flat() as never));
    }
  });

  it.each(EXPORT_FORMATS)('writes the same %s file as a lookup per tag', async (format) => {
    const now = new Date('2031-05-06T07:08:09.000Z');
    const perTag = await exportBase(store, format, { now, dbPath: db, perTag: true });
    const bulk = await exportBase(store, format, { now, dbPath: db });
    expect(bulk.tags).toBe(perTag.tags);
    expect(bulk.tags).toBeGreaterThan(100);
    expect(bulk.bytes.equals(perTag.bytes)).toBe(true);
  });

  it('the page\'s index, its stored rows renamed as text, is the index parsed and written again', async () => {
    await refreshSearchIndex(store);
    const gen = (sql: string) => Number(store.db.prepare(sql).pluck().get());
    expect(gen(`SELECT generation FROM search_index`)).toBe(gen(`SELECT value FROM meta WHERE key = 'generation'`));
    const targets = new Map<string, string>();
    for (const sha of store.db.prepare(`SELECT sha256 FROM drivers ORDER BY sha256 LIMIT 5`).pluck().all() as string[]) targets.set(`d:${sha}`, 'd1');
    const text = await pageIndex(store, targets);
    const parsed = await pageIndex(store, targets, { fromText: false });
    expect(text.documents).toBeGreaterThan(100);
    expect(text).toEqual(parsed);
  });

  it('reads an image whose call sites hold the separators of the bulk read one row at a time, with the same answers', async () => {
    // a hostile report can name a routine anything; the bulk read joins columns with \x1f and sites with \x1e
    const sha = store.db.prepare(`SELECT sha256 FROM evidence GROUP BY sha256 ORDER BY count(*) DESC LIMIT 1`).pluck().get() as string;
    const rows = store.db.prepare(`SELECT call_site_rva, routine, ulong FROM evidence WHERE sha256 = ? ORDER BY call_site_rva LIMIT 2`).all(sha) as { call_site_rva: number; routine: string; ulong: number }[];
    const rename = store.db.prepare(`UPDATE evidence SET routine = ? WHERE sha256 = ? AND call_site_rva = ? AND routine = ? AND ulong = ?`);
    rename.run('Evil\x1fAlloc', sha, rows[0].call_site_rva, rows[0].routine, rows[0].ulong);
    rename.run('Evil\x1eFree\x1fx', sha, rows[1].call_site_rva, rows[1].routine, rows[1].ulong);
    const snap = await readSnapshot(store);
    const routines = [...snap.evidence.values()].flatMap((m) => [...(m.get(sha) ?? [])].map((x) => x.routine));
    expect(routines).toContain('Evil\x1fAlloc');
    expect(routines).toContain('Evil\x1eFree\x1fx');
    expect(await exportTags(store, snap)).toEqual(await exportTags(store, null));
  });
});
