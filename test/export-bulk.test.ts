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
import { EXPORT_FORMATS, exportBase, exportTags, knownTagKeys } from '../src/answer/export/index.js';
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
  for (const [tag, text] of [['FxAp', 'seen on the build servers'], ['FxAp', 'second note'], ['Zz9q', 'a tag only a note knows']]) expect(run('note', '--db', db, tag, text).code).toBe(0);
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
    expect(n('SELECT count(*) FROM notes')).toBe(3);
  });

  it('answers every tag as lookup does', async () => {
    const bulk = new Lookup(store, await readSnapshot(store));
    const single = new Lookup(store);
    const keys = await knownTagKeys(store);
    expect(keys.length).toBeGreaterThan(100);
    for (const key of keys) {
      let tag: Tag;
      try {
        tag = Tag.fromMatchKey(key);
      } catch {
        continue;
      }
      expect(await bulk.answer(tag), key).toEqual(await single.answer(tag));
    }
    const { tags } = await exportTags(store);
    expect(tags.find((t) => t.tag === 'FxAp')!.notes.map((n) => n.text)).toEqual(['seen on the build servers', 'second note']);
    expect(await exportTags(store, null)).toEqual(await exportTags(store));
  });

  it.each(EXPORT_FORMATS)('writes the same %s file as a lookup per tag', async (format) => {
    const now = new Date('2031-05-06T07:08:09.000Z');
    const perTag = await exportBase(store, format, { now, dbPath: db, perTag: true });
    const bulk = await exportBase(store, format, { now, dbPath: db });
    expect(bulk.tags).toBe(perTag.tags);
    expect(bulk.tags).toBeGreaterThan(100);
    expect(bulk.bytes.equals(perTag.bytes)).toBe(true);
  });
});
