/**
 * Faults around the knowledge base: a merge killed (SIGKILL) in the middle leaves the base
 * exactly as it was before or exactly as after; two merges and an import at once into one
 * base all succeed (a writer waits for another and says so); a writer that waits too long
 * gives up with one line.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openSqlite } from '../src/knowledge/sqlite.js';
import { Store, StoreError } from '../src/knowledge/store.js';
import type { ScanReport } from '../src/report/types.js';
import { scan } from '../src/scan/scan.js';
import { repoRoot } from './helpers/shared.js';

const tmp = mkdtempSync(join(tmpdir(), 'pooltag-faults-'));
afterAll(async () => rmSync(tmp, { recursive: true, force: true }));
const bin = join(repoRoot, 'bin/pooltag');

let small: ScanReport;
let bigFile: string;

/** A fleet-sized report from the fixture scan: `n` distinct images (fresh SHA-256s), each with the evidence of a real one. */
function bigReport(base: ScanReport, n: number, host: string): ScanReport {
  const images = [];
  const files = [];
  for (let i = 0; i < n; i++) {
    const src = base.images[i % base.images.length];
    const sha256 = createHash('sha256').update(`${host}/${i}`).digest('hex');
    images.push({ ...src, sha256 });
    files.push({ path: `C:\\Windows\\System32\\DriverStore\\FileRepository\\pkg${i}\\drv${i}.sys`, size: src.size, mtime: base.startedAt, sha256 });
  }
  return { ...base, host: { ...base.host, name: host }, files, images, summary: { ...base.summary, files: n, images: n, errors: 0 } };
}

/** What a base holds, without the times a merge stamps: equal digests = the same base. */
function contentDigest(path: string): { digest: string; reports: number; drivers: number; evidence: number; integrity: string } {
  const db = openSqlite(path, { readonly: true });
  try {
    const h = createHash('sha256');
    for (const [table, cols] of [
      ['hosts', 'name'],
      ['reports', 'digest, source'],
      ['drivers', 'sha256, size, arch, company'],
      ['sightings', 'sha256, path'],
      ['evidence', 'sha256, call_site_rva, routine, ulong, tag'],
      ['tag_strings', 'sha256, tag_key'],
      ['pooltag_entries', 'source_id, line, tag, description'],
    ]) {
      for (const row of db.prepare(`SELECT ${cols} FROM ${table} ORDER BY ${cols}`).raw().iterate()) h.update(JSON.stringify(row));
      h.update(`|${table}|`);
    }
    const one = (sql: string) => db.prepare(sql).pluck().get() as number;
    return {
      digest: h.digest('hex'),
      reports: one('SELECT count(*) FROM reports'),
      drivers: one('SELECT count(*) FROM drivers'),
      evidence: one('SELECT count(*) FROM evidence'),
      integrity: db.pragma('integrity_check', { simple: true }) as string,
    };
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  small = await scan({ paths: [join(repoRoot, 'test/fixtures/bin/x64-mingw-O2'), join(repoRoot, 'test/fixtures/bin/arm64-clang-O2')], jobs: 2, cache: null });
  bigFile = join(tmp, 'big.json');
  writeFileSync(bigFile, JSON.stringify(bigReport(small, 2000, 'SRV-BIG')));
});

describe('a merge killed in the middle (SIGKILL)', () => {
  it('leaves the base exactly as before or exactly as after, whenever it is killed', async () => {
    // before: a base with one small report; after: the same plus the big one (merged to completion once)
    const before = join(tmp, 'before.db');
    const s = await Store.open(before);
    await s.mergeReport(small, 'small');
    await s.close();
    const after = join(tmp, 'after.db');
    copyFileSync(before, after);
    const t0 = performance.now();
    const full = spawnSync(process.execPath, [bin, 'merge', '--db', after, bigFile], { encoding: 'utf8' });
    const fullMs = performance.now() - t0;
    expect(full.status, full.stderr).toBe(0);
    const want = { before: contentDigest(before), after: contentDigest(after) };
    expect(want.after.drivers).toBe(want.before.drivers + 2000);
    expect(want.after.digest).not.toBe(want.before.digest);

    const outcomes: string[] = [];
    // kill at several points of the run: while reading, inside the transaction, around the commit, in the index rebuild
    for (const frac of [0.35, 0.6, 0.85]) {
      const victim = join(tmp, `victim-${frac}.db`);
      copyFileSync(before, victim);
      const child = spawn(process.execPath, [bin, 'merge', '--db', victim, bigFile], { stdio: 'ignore' });
      const exited = new Promise<NodeJS.Signals | number | null>((res) => child.on('exit', (code, sig) => res(sig ?? code)));
      await new Promise((r) => setTimeout(r, fullMs * frac));
      child.kill('SIGKILL');
      const how = await exited;
      const got = contentDigest(victim); // reopening after the kill: SQLite recovers from the WAL
      expect(got.integrity, `killed at ${frac}`).toBe('ok');
      const state = got.digest === want.before.digest ? 'before' : got.digest === want.after.digest ? 'after' : 'neither';
      expect(state, `killed at ${Math.round(frac * 100)}% (${String(how)}): ${JSON.stringify(got)}`).not.toBe('neither');
      outcomes.push(`${Math.round(frac * 100)}%: ${how === 'SIGKILL' ? 'killed' : 'had finished'}, ${state}`);
      if (frac === 0.35) {
        // and the base still works: the same merge completes it
        const again = spawnSync(process.execPath, [bin, 'merge', '--json', '--db', victim, bigFile], { encoding: 'utf8' });
        expect(again.status, again.stderr).toBe(0);
        expect(contentDigest(victim).digest).toBe(want.after.digest);
      }
    }
    expect(outcomes.some((o) => o.includes('killed')), outcomes.join('; ')).toBe(true);

    // Deterministically inside the transaction: a child that merges the big report with a tiny
    // page cache (so that uncommitted pages spill into the WAL) and kills itself before COMMIT.
    const victim = join(tmp, 'victim-in-tx.db');
    copyFileSync(before, victim);
    const script = `
      import { readFileSync, statSync } from 'node:fs';
      const { Store, parseReport } = await import(${JSON.stringify(join(repoRoot, 'dist/src/index.js'))});
      const store = await Store.open(process.argv[1]);
      store.db.pragma('cache_size = 50');
      const report = parseReport(readFileSync(process.argv[2], 'utf8'));
      await store.batch(async () => {
        await store.mergeReport(report, 'big');
        process.stdout.write(String(statSync(process.argv[1] + '-wal').size));
        process.kill(process.pid, 'SIGKILL');
      });`;
    const self = spawnSync(process.execPath, ['--input-type=module', '-e', script, victim, bigFile], { encoding: 'utf8' });
    expect(self.signal).toBe('SIGKILL');
    expect(Number(self.stdout)).toBeGreaterThan(1 << 20); // megabytes of uncommitted pages were in the WAL
    const got = contentDigest(victim);
    expect(got.integrity).toBe('ok');
    expect(got.digest).toBe(want.before.digest);
  }, 180_000);
});

describe('writers at once', () => {
  it('two merges and an import into one base all succeed; a writer that has to wait says so', async () => {
    const db = join(tmp, 'shared.db');
    const a = join(tmp, 'a.json');
    const b = join(tmp, 'b.json');
    writeFileSync(a, JSON.stringify(bigReport(small, 800, 'SRV-A')));
    writeFileSync(b, JSON.stringify(bigReport(small, 800, 'SRV-B')));
    await (await Store.open(db)).close();
    const runAsync = (args: string[]) =>
      new Promise<{ status: number | null; stderr: string }>((res) => {
        const c = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        c.stderr.on('data', (d) => (stderr += d));
        c.on('exit', (status) => res({ status, stderr }));
      });
    const results = await Promise.all([
      runAsync(['merge', '--db', db, a]),
      runAsync(['merge', '--db', db, b]),
      runAsync(['import-pooltag', '--db', db, join(repoRoot, 'test/data/pooltag-synthetic-modern.txt')]),
    ]);
    for (const r of results) {
      expect(r.status, r.stderr).toBe(0);
      // the only thing a writer may say on stderr is that it waits
      for (const line of r.stderr.split('\n').filter(Boolean)) expect(line).toMatch(/^pooltag (merge|import-pooltag): the knowledge base .* is being written by another pooltag; waiting for it \(up to 30 s\)$/);
    }
    const s = await Store.open(db, { readonly: true });
    expect(await s.stats()).toMatchObject({ reports: 2, hosts: 2, drivers: 1600, pooltagEntries: 40 });
    await s.close();
  }, 120_000);

  it('a merge while another writer holds the base waits, says so once, and goes on when it is free', async () => {
    const db = join(tmp, 'held.db');
    await (await Store.open(db)).close();
    const rf = join(tmp, 'small.json');
    writeFileSync(rf, JSON.stringify(small));
    const holder = openSqlite(db);
    holder.exec('BEGIN IMMEDIATE');
    const child = spawn(process.execPath, [bin, 'merge', '--json', '--db', db, rf], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => (stdout += d));
    const exited = new Promise<number | null>((res) => child.on('exit', res));
    const t0 = Date.now();
    while (!stderr.includes('waiting') && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
    expect(stderr).toMatch(/^pooltag merge: the knowledge base .*held\.db is being written by another pooltag; waiting for it \(up to 30 s\)\n$/);
    holder.exec('COMMIT');
    holder.close();
    expect(await exited).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ merged: 1 });
    expect(stderr.split('\n').filter(Boolean)).toHaveLength(1);
  }, 60_000);

  it('a writer that waits longer than its busy timeout gives up with one line, the base unchanged', async () => {
    const db = join(tmp, 'busy.db');
    await (await Store.open(db)).close();
    const holder = openSqlite(db);
    holder.exec('BEGIN IMMEDIATE');
    const waits: string[] = [];
    const s = await Store.open(db, { busyTimeoutMs: 300, onWait: (m) => waits.push(m) });
    try {
      await expect(s.mergeReport(small, 'x')).rejects.toThrow(StoreError);
      await expect(s.mergeReport(small, 'x')).rejects.toThrow(/busy\.db is busy: another pooltag has been writing to it for over 0 s; try again when it has finished$/);
      expect(waits).toHaveLength(2);
    } finally {
      await s.close();
      holder.exec('ROLLBACK');
      holder.close();
    }
    const check = await Store.open(db, { readonly: true });
    expect(await check.stats()).toMatchObject({ reports: 0, drivers: 0 });
    check.close();
    expect(existsSync(db) && statSync(db).size > 0).toBe(true);
  });
});

describe('four merges into one base at once (issue 22, item 12)', () => {
  it('each says it waits at most once, and the base is left with a current search index', async () => {
    const db = join(tmp, 'four.db');
    await (await Store.open(db)).close();
    const files = [1, 2, 3, 4].map((i) => {
      const f = join(tmp, `four-${i}.json`);
      writeFileSync(f, JSON.stringify(bigReport(small, 300, `SRV-${i}`)));
      return f;
    });
    const runs = await Promise.all(
      files.map(
        (f) =>
          new Promise<{ status: number | null; stdout: string; stderr: string }>((res) => {
            const c = spawn(process.execPath, [bin, 'merge', '--db', db, f], { stdio: ['ignore', 'pipe', 'pipe'] });
            let stdout = '';
            let stderr = '';
            c.stdout.on('data', (d) => (stdout += d));
            c.stderr.on('data', (d) => (stderr += d));
            c.on('exit', (status) => res({ status, stdout, stderr }));
          }),
      ),
    );
    for (const r of runs) {
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr.split('\n').filter(Boolean).length, r.stderr).toBeLessThanOrEqual(1);
      expect(r.stdout).toMatch(/^merged 1 report\(s\) from 1 host\(s\)/);
      // each says what became of the index: rebuilt, or left to the merge that committed after it
      expect(r.stdout).toMatch(/^search index(?: rebuilt: |: left to the pooltag that changed the base after this one \(it rebuilds it\)$|: current \(rebuilt by another pooltag\)$)/m);
    }
    const s = await Store.open(db, { readonly: true });
    const st = await s.stats();
    await s.close();
    expect(st).toMatchObject({ reports: 4, hosts: 4 });
    expect(st.index?.generation).toBe(st.generation); // not stale
    const stats = spawnSync(process.execPath, [bin, 'stats', '--db', db], { encoding: 'utf8' });
    expect(stats.stdout).not.toMatch(/stale/);
  }, 120_000);
});

describe('Ctrl-C during a merge (issue 22, item 9)', () => {
  it('before the commit: rolled back, and it says so', async () => {
    const db = join(tmp, 'int-before.db');
    const first = join(tmp, 'int-first.json');
    writeFileSync(first, JSON.stringify(small));
    // The second report is a FIFO: the merge blocks reading it, inside its transaction, until it is written.
    const fifo = join(tmp, 'int-fifo.json');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const child = spawn(process.execPath, [bin, 'merge', '--db', db, first, fifo], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((res) => child.on('exit', res));
    const w = await open(fifo, 'w'); // resolves once the merge has opened it: the first report is merged, uncommitted
    child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 200));
    await w.writeFile(JSON.stringify(bigReport(small, 10, 'SRV-FIFO')));
    await w.close();
    expect(await exited).toBe(130);
    expect(stderr).toBe('pooltag merge: interrupted (Ctrl-C): nothing merged, the transaction was rolled back; no knowledge base was created\n');
    expect(existsSync(db)).toBe(false);
  }, 60_000);

  it('after the commit (during the index rebuild): the merge stands, and it says so', async () => {
    const db = join(tmp, 'int-after.db');
    const child = spawn(process.execPath, [bin, 'merge', '--db', db, bigFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      stdout += d;
      // "merged ..." is printed once the merge is committed, before the index of 2,000 drivers is rebuilt
      if (!sent && /^merged 1 report/m.test(stdout)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((res) => child.on('exit', res));
    expect(sent).toBe(true);
    expect(code).toBe(130);
    expect(stderr).toMatch(/^pooltag merge: interrupted \(Ctrl-C\) after the merge was committed: 1 report\(s\) merged into .*int-after\.db; the search index (was rebuilt|is rebuilt by the next search)\n$/);
    const s = await Store.open(db, { readonly: true });
    expect(await s.stats()).toMatchObject({ reports: 1, drivers: 2000 });
    await s.close();
    expect(readFileSync(db).length).toBeGreaterThan(0);
  }, 60_000);
});
