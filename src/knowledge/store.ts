/**
 * The knowledge base: one SQLite file (better-sqlite3) that holds what every merged scan
 * report said (drivers by SHA-256, where each was seen, their evidence), every imported
 * pooltag.txt (each entry kept with its source and line), hosts, and engineers' notes.
 *
 * - A versioned schema (PRAGMA user_version) with forward migrations, applied on open.
 * - The file says it is a pooltag base (PRAGMA application_id 'PTag'). A file that is not
 *   SQLite, or an SQLite file of another application, is refused without writing to it;
 *   an empty or new file becomes a base; a base of an earlier version (no application_id yet,
 *   our tables present) is adopted.
 * - Writers take the write lock when they start (BEGIN IMMEDIATE) and wait for another
 *   writer (busy timeout), saying so through `onWait`; a lookup never waits (WAL).
 * - WAL, so that a `lookup` can read while a `merge` writes.
 * - Each merge is one transaction and idempotent: a report already merged (same content
 *   digest) is skipped, and every insert is an upsert keyed by what it describes.
 * - Conflicts are kept side by side: a tag with several drivers or owners is several rows.
 * - A Windows host's paths do not differ by case: `C:\WINDOWS\system32\drivers\ndis.sys` and
 *   `C:\Windows\System32\drivers\ndis.sys` of one driver on one host are one sighting (the
 *   spelling merged first is kept; SQLite's NOCASE folds ASCII letters, as path names are).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

import type Database from 'better-sqlite3';

import { isWindowsPath, userDataDir } from '../platform/paths.js';
import { addToInventory, decodeInventory, inventoryImages, inventoryKey, type InventoryEntry } from './inventory.js';
import { reportDigest } from '../report/digest.js';
import { fileColumns, type FileColumns } from '../report/merge-input.js';
import { checkImageForMerge } from '../report/read.js';
import type { FileEntry, ImageRecord, ScanReport } from '../report/types.js';
import { Tag } from '../tag/tag.js';
import type { PooltagFile } from './pooltag-txt.js';
import { oneLine, openSqlite, sqlite, SqliteLoadError, type SqliteDatabase } from './sqlite.js';

type Db = SqliteDatabase;

/**
 * Migrations, in order; user_version = how many have run. Never edit one that shipped. A
 * migration is SQL, or a function where SQL cannot do it (unpacking blobs).
 */
const MIGRATIONS: readonly (string | ((db: Db) => void))[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE hosts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    platform TEXT, os TEXT, release TEXT, windows_build INTEGER,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL
  );
  CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    host_id INTEGER NOT NULL REFERENCES hosts(id),
    source TEXT, started_at TEXT NOT NULL, finished_at TEXT, tool_version TEXT,
    files INTEGER, images INTEGER, errors INTEGER, merged_at TEXT NOT NULL
  );
  CREATE TABLE drivers (
    sha256 TEXT PRIMARY KEY,
    size INTEGER, format TEXT, machine INTEGER, arch TEXT, subsystem INTEGER, timestamp INTEGER,
    file_version TEXT, product_version TEXT,
    company TEXT, product TEXT, description TEXT, original_filename TEXT, internal_name TEXT,
    signer TEXT, signer_org TEXT, issuer TEXT, signing_time TEXT,
    pdb_path TEXT, pdb_guid TEXT, pdb_age INTEGER,
    version_strings TEXT, import_modules TEXT, strings TEXT, unresolved INTEGER,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL
  );
  CREATE TABLE sightings (
    sha256 TEXT NOT NULL REFERENCES drivers(sha256),
    host_id INTEGER NOT NULL REFERENCES hosts(id),
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
    PRIMARY KEY (sha256, host_id, path)
  ) WITHOUT ROWID;
  CREATE INDEX sightings_name ON sightings(name COLLATE NOCASE);
  CREATE TABLE evidence (
    sha256 TEXT NOT NULL REFERENCES drivers(sha256),
    tag_key TEXT NOT NULL,
    ulong INTEGER NOT NULL,
    tag TEXT NOT NULL,
    kind TEXT NOT NULL, routine TEXT NOT NULL, module TEXT NOT NULL,
    call_site_rva INTEGER NOT NULL, function_rva INTEGER,
    arch TEXT NOT NULL, recovery TEXT NOT NULL, confidence TEXT NOT NULL,
    shared INTEGER NOT NULL DEFAULT 0, wrappers TEXT, table_index INTEGER,
    PRIMARY KEY (sha256, call_site_rva, routine, ulong)
  ) WITHOUT ROWID;
  CREATE INDEX evidence_tag ON evidence(tag_key);
  CREATE TABLE tag_strings (
    sha256 TEXT NOT NULL REFERENCES drivers(sha256),
    tag_key TEXT NOT NULL,
    PRIMARY KEY (tag_key, sha256)
  ) WITHOUT ROWID;
  CREATE TABLE pooltag_sources (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL, label TEXT, file_date TEXT, imported_at TEXT NOT NULL, entries INTEGER NOT NULL
  );
  CREATE TABLE pooltag_entries (
    source_id INTEGER NOT NULL REFERENCES pooltag_sources(id),
    line INTEGER NOT NULL,
    tag TEXT NOT NULL,
    wildcard INTEGER NOT NULL,
    binaries TEXT NOT NULL,
    binary_raw TEXT,
    description TEXT NOT NULL,
    PRIMARY KEY (source_id, line)
  ) WITHOUT ROWID;
  CREATE INDEX pooltag_entries_tag ON pooltag_entries(tag);
  CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    tag_key TEXT NOT NULL, tag TEXT NOT NULL,
    text TEXT NOT NULL, author TEXT, created_at TEXT NOT NULL
  );
  CREATE INDEX notes_tag ON notes(tag_key);
  CREATE TABLE search_index (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL, built_at TEXT NOT NULL, documents INTEGER NOT NULL, json TEXT NOT NULL
  );
  INSERT INTO meta(key, value) VALUES ('generation', '0');
  `,
  // 2: the search index is stored term by term and vector by vector, so that a search reads
  // only the rows its terms need instead of parsing the whole index.
  `
  DROP TABLE search_index;
  CREATE TABLE search_index (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL, built_at TEXT NOT NULL, documents INTEGER NOT NULL,
    terms INTEGER NOT NULL, bytes INTEGER NOT NULL, fields TEXT NOT NULL, pipeline TEXT NOT NULL, lunr_version TEXT NOT NULL
  );
  CREATE TABLE search_terms (term TEXT PRIMARY KEY, posting TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE search_vectors (ref TEXT PRIMARY KEY, vector TEXT NOT NULL) WITHOUT ROWID;
  `,
  // 3: names are stored lower case; a NOCASE index was never used by "name = ?".
  `
  DROP INDEX sightings_name;
  CREATE INDEX sightings_name ON sightings(name);
  `,
  // 4: the SHA-256 of a report file's bytes, so that merging the same file again is skipped
  // without parsing it.
  `
  ALTER TABLE reports ADD COLUMN content_sha256 TEXT;
  CREATE INDEX reports_content ON reports(content_sha256);
  `,
  // 5: when and where a driver was seen is in sightings; the copies on drivers were never
  // updated after the first merge.
  `
  ALTER TABLE drivers DROP COLUMN first_seen;
  ALTER TABLE drivers DROP COLUMN last_seen;
  `,
  // 6: names of the functions the evidence points at (exports), so that a wrapper chain reads
  // `via MyAlloc <- MyAllocZero` instead of addresses.
  `
  ALTER TABLE drivers ADD COLUMN function_names TEXT;
  `,
  // 7: how many different tags one call site can pass (branches, conditional moves): each
  // evidence row is one of them.
  `
  ALTER TABLE evidence ADD COLUMN alternatives INTEGER;
  `,
  // 8: the pool an allocation asks for and its requested size (evidence `pool`, `size`, as
  // JSON): rows merged before stay NULL ("not recorded") until a report of the image brings them.
  `
  ALTER TABLE evidence ADD COLUMN pool TEXT;
  ALTER TABLE evidence ADD COLUMN size TEXT;
  `,
  // 9: the host inventory at fleet scale (which host has which image at which path, first and
  // last seen), compact: images and paths by integer id (paths interned per folder), one packed
  // blob per host (inventory.ts). Every image the base holds has an id.
  `
  CREATE TABLE images (id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE);
  INSERT INTO images(sha256) SELECT sha256 FROM drivers ORDER BY sha256;
  CREATE TABLE folders (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);
  CREATE TABLE paths (id INTEGER PRIMARY KEY, folder_id INTEGER NOT NULL REFERENCES folders(id), name TEXT NOT NULL, UNIQUE (folder_id, name));
  CREATE TABLE host_inventory (
    host_id INTEGER PRIMARY KEY REFERENCES hosts(id),
    entries INTEGER NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
    data BLOB NOT NULL
  );
  `,
  // 10: how many hosts have each image, from their inventories (a `--known` report's files are
  // not sightings): what lookup says a driver is seen on, without reading 100,000 blobs.
  (db) => {
    db.exec('CREATE TABLE image_hosts (image_id INTEGER PRIMARY KEY REFERENCES images(id), hosts INTEGER NOT NULL)');
    const counts = new Map<number, number>();
    for (const data of db.prepare('SELECT data FROM host_inventory').pluck().iterate() as Iterable<Buffer>) {
      for (const image of inventoryImages(data)) counts.set(image, (counts.get(image) ?? 0) + 1);
    }
    const put = db.prepare('INSERT INTO image_hosts(image_id, hosts) VALUES (?, ?)');
    for (const [image, n] of counts) put.run(image, n);
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

const isObjLike = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** The evidence's pool and size as the base stores them (JSON; NULL when the record has none). */
function poolColumns(e: ImageRecord['evidence'][number]): { pool: string | null; size: string | null } {
  return { pool: e.pool ? JSON.stringify(e.pool) : null, size: e.size ? JSON.stringify(e.size) : null };
}

export class StoreError extends Error {}

/**
 * The SQLite module (better-sqlite3's compiled addon) cannot be loaded by this Node.js: built
 * for another Node.js or another system, or missing. Nothing is wrong with the base itself;
 * commands that can answer without it (`triage`) do, and say so.
 */
export class SqliteUnavailableError extends StoreError {}

/** PRAGMA application_id of a pooltag base: 'PTag' as a big-endian 32-bit number. */
export const APPLICATION_ID = 0x50546167;
/** Tables every pooltag base has had since the first version (how an unmarked old base is recognised). */
const OUR_TABLES = ['meta', 'hosts', 'reports', 'drivers', 'sightings', 'evidence', 'pooltag_sources', 'pooltag_entries', 'notes'];
const SQLITE_MAGIC = 'SQLite format 3\0';

export interface StoreOptions {
  readonly?: boolean;
  /** How long a writer waits for another writer (default 30 s). */
  busyTimeoutMs?: number;
  /** Called once when a write has to wait for another pooltag writing the same base. */
  onWait?: (message: string) => void;
}

const isBusy = (err: unknown) => typeof (err as { code?: unknown })?.code === 'string' && (err as { code: string }).code.startsWith('SQLITE_BUSY');

/**
 * What the file at `path` is, from its bytes, before SQLite touches it: nothing (missing or
 * 0 bytes), an SQLite file (with the header's application_id), or something else (refused).
 */
function probeFile(path: string): { kind: 'none' } | { kind: 'sqlite'; applicationId: number } {
  if (path === ':memory:' || path === '') return { kind: 'none' };
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'none' };
    throw new StoreError(`cannot read the knowledge base ${path} (${code ?? (err as Error).message})`);
  }
  if (st.isDirectory()) throw new StoreError(`${path} is a folder, not a knowledge base file; give --db a file (a new one becomes a base)`);
  if (!st.isFile()) throw new StoreError(`${path} is not a regular file, not a knowledge base`);
  if (st.size === 0) return { kind: 'none' };
  const head = Buffer.alloc(100);
  let n = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      n = readSync(fd, head, 0, 100, 0);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new StoreError(`cannot read the knowledge base ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (n < 100 || head.toString('latin1', 0, 16) !== SQLITE_MAGIC) {
    const start = JSON.stringify(head.subarray(0, Math.min(n, 16)).toString('latin1').replace(/[^\x20-\x7e]/g, '.'));
    throw new StoreError(`${path} is not a pooltag knowledge base: it is not an SQLite file (it starts with ${start}); left unchanged`);
  }
  return { kind: 'sqlite', applicationId: head.readUInt32BE(68) };
}

function foreign(path: string, applicationId: number, tables: string[]): StoreError {
  const id = applicationId ? `application_id 0x${applicationId.toString(16).padStart(8, '0')}` : 'no application_id';
  const list = tables.length ? `tables ${tables.slice(0, 5).join(', ')}${tables.length > 5 ? ', ...' : ''}` : 'no tables';
  return new StoreError(`${path} belongs to another application (an SQLite file with ${id} and ${list}, not a pooltag base); left unchanged`);
}

/**
 * Is the SQLite file at `path` ours? Our application_id: yes. None, with our tables (a base
 * made before the id was set) or no tables at all (an empty database): yes, it is marked on
 * the first write. Anything else belongs to someone else. Read-only: nothing is written.
 */
function checkOwnership(path: string, applicationId: number): void {
  if (applicationId === APPLICATION_ID) return;
  if (applicationId !== 0) throw foreign(path, applicationId, []);
  let db: Db;
  try {
    db = openSqlite(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError(`cannot open the knowledge base ${path} (${oneLine(err)})`);
  }
  try {
    // the header may be older than the WAL: ask SQLite too
    const id = db.pragma('application_id', { simple: true }) as number;
    if (id === APPLICATION_ID) return;
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name`).pluck().all() as string[]) ?? [];
    if (id !== 0) throw foreign(path, id, tables);
    if (tables.length === 0) return;
    const v = db.pragma('user_version', { simple: true }) as number;
    if (v >= 1 && OUR_TABLES.every((t) => tables.includes(t))) return; // an earlier pooltag's base
    throw foreign(path, id, tables);
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError(`${path} is not a usable knowledge base (${oneLine(err)}); left unchanged`);
  } finally {
    db.close();
  }
}

/**
 * Loads the SQLite module (src/knowledge/sqlite.ts) before a base is opened: a failure is a
 * SqliteUnavailableError that says so in one line, whatever the system's loader wrote
 * (Windows: "Bad EXE format", CR LF).
 */
function loadSqlite(dbPath: string): void {
  try {
    sqlite();
  } catch (err) {
    if (!(err instanceof SqliteLoadError)) throw err;
    throw new SqliteUnavailableError(
      `the SQLite module cannot be loaded by Node.js ${process.version} (${process.platform}-${process.arch}), so the knowledge base ${dbPath} cannot be opened: ${err.message}`,
    );
  }
}

export function defaultDbPath(env: Record<string, string | undefined> = process.env): string {
  return env.POOLTAG_DB || join(userDataDir(env), 'pooltag.db');
}

export interface MergeResult {
  digest: string;
  host: string;
  skipped: boolean;
  newDrivers: number;
  files: number;
}

export interface PooltagImportResult {
  digest: string;
  sourceId: number;
  entries: number;
  skipped: boolean;
}

/** How a folder is interned: a Windows folder by its lower-case spelling (paths there do not differ by case). */
function folderKey(folder: string): string {
  return isWindowsPath(folder) ? folder.toLowerCase() : folder;
}

/** File name without folder, for both Windows and POSIX paths. */
export function baseName(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return path.slice(i + 1);
}

export class Store {
  readonly db: Db;

  private readonly busyTimeoutMs: number;
  private readonly onWait?: (message: string) => void;

  private constructor(
    db: Db,
    readonly path: string,
    opts: StoreOptions = {},
  ) {
    this.db = db;
    this.busyTimeoutMs = opts.busyTimeoutMs ?? 30_000;
    this.onWait = opts.onWait;
  }

  /**
   * Opens (creating and migrating when writable) the base at `path`. Refuses, with a
   * StoreError and without writing, a folder, a file that is not SQLite, an SQLite file of
   * another application, and a base of a newer schema.
   */
  static open(path: string, opts: StoreOptions = {}): Store {
    const probe = probeFile(path);
    if (opts.readonly && probe.kind === 'none') {
      const why = path !== ':memory:' && existsSync(path) ? 'the file is empty' : 'no such file';
      throw new StoreError(`no knowledge base at ${path} (${why}); create one with \`pooltag merge\` or \`pooltag import-pooltag\``);
    }
    loadSqlite(path);
    if (probe.kind === 'sqlite') checkOwnership(path, probe.applicationId);
    if (opts.readonly) {
      let db: Db;
      try {
        db = openSqlite(path, { readonly: true, fileMustExist: true });
      } catch (err) {
        throw new StoreError(`cannot open the knowledge base ${path} (${oneLine(err)})`);
      }
      const v = db.pragma('user_version', { simple: true }) as number;
      if (v > SCHEMA_VERSION) {
        db.close();
        throw new StoreError(`${path} has schema version ${v}, newer than this pooltag (${SCHEMA_VERSION}); upgrade pooltag`);
      }
      if (v < SCHEMA_VERSION || (db.pragma('application_id', { simple: true }) as number) !== APPLICATION_ID) {
        db.close();
        const store = Store.open(path, { ...opts, readonly: false }); // migrate (and mark), then read
        store.close();
        return Store.open(path, opts);
      }
      return new Store(db, path, opts);
    }
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    let db: Db;
    try {
      db = openSqlite(path, { timeout: opts.busyTimeoutMs ?? 30_000 });
    } catch (err) {
      throw new StoreError(`cannot open the knowledge base ${path} (${oneLine(err)})`);
    }
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('cache_size = -65536'); // 64 MiB: a fleet merge touches pages all over the sightings and evidence trees
      db.pragma('foreign_keys = ON');
      const store = new Store(db, path, opts);
      store.migrate();
      return store;
    } catch (err) {
      db.close();
      if (err instanceof StoreError) throw err;
      if (isBusy(err)) throw new StoreError(`the knowledge base ${path} is busy: another pooltag is writing to it; try again when it has finished`);
      throw new StoreError(`cannot open the knowledge base ${path} (${oneLine(err)})`);
    }
  }

  private migrate(): void {
    const v = this.db.pragma('user_version', { simple: true }) as number;
    if (v > SCHEMA_VERSION) throw new StoreError(`${this.path} has schema version ${v}, newer than this pooltag (${SCHEMA_VERSION}); upgrade pooltag`);
    const marked = (this.db.pragma('application_id', { simple: true }) as number) === APPLICATION_ID;
    if (v === SCHEMA_VERSION && marked) return;
    this.write(() => {
      // again under the write lock: another process may have migrated meanwhile
      const now = this.db.pragma('user_version', { simple: true }) as number;
      for (let i = now; i < MIGRATIONS.length; i++) {
        const m = MIGRATIONS[i];
        if (typeof m === 'string') this.db.exec(m);
        else m(this.db);
        this.db.pragma(`user_version = ${i + 1}`);
      }
      this.db.pragma(`application_id = ${APPLICATION_ID}`);
    });
  }

  /**
   * Runs `fn` as one write transaction that holds the write lock from its start (BEGIN
   * IMMEDIATE), so that two writers never deadlock: the second waits up to the busy timeout
   * (telling `onWait` once), then gives up with a StoreError that says why. Nested calls are
   * savepoints of the outer transaction.
   */
  write<T>(fn: () => T): T {
    if (this.db.inTransaction) return this.db.transaction(fn)();
    // the outermost transaction writes the host counts its merges gathered, or forgets them
    const tx = this.db.transaction(() => {
      const r = fn();
      this.flushImageHosts();
      return r;
    });
    try {
      return this.writeNow(tx);
    } catch (err) {
      this.imageHostGain.clear();
      throw err;
    }
  }

  private writeNow<T>(tx: Database.Transaction<() => T>): T {
    this.db.pragma('busy_timeout = 0');
    try {
      return tx.immediate();
    } catch (err) {
      if (!isBusy(err)) throw err;
    } finally {
      this.db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
    }
    this.onWait?.(`the knowledge base ${this.path} is being written by another pooltag; waiting for it (up to ${Math.round(this.busyTimeoutMs / 1000)} s)`);
    try {
      return tx.immediate();
    } catch (err) {
      if (isBusy(err)) throw new StoreError(`the knowledge base ${this.path} is busy: another pooltag has been writing to it for over ${Math.round(this.busyTimeoutMs / 1000)} s; try again when it has finished`);
      throw err;
    }
  }

  close(): void {
    this.db.close();
  }

  /** Bumped by every change; the search index records the generation it was built from. */
  get generation(): number {
    return Number((this.db.prepare(`SELECT value FROM meta WHERE key = 'generation'`).get() as { value: string }).value);
  }

  private bump(): void {
    this.db.prepare(`UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'`).run();
  }

  // ---------------------------------------------------------------------------------------
  // Merging scan reports
  // ---------------------------------------------------------------------------------------

  private stmts?: ReturnType<Store['prepareMerge']>;

  private prepareMerge() {
    const db = this.db;
    return {
      reportByDigest: db.prepare('SELECT id FROM reports WHERE digest = ?'),
      upsertHost: db.prepare(`
        INSERT INTO hosts(name, platform, os, release, windows_build, first_seen, last_seen)
        VALUES (@name, @platform, @os, @release, @windowsBuild, @seen, @seen)
        ON CONFLICT(name) DO UPDATE SET
          platform = excluded.platform, os = excluded.os, release = excluded.release, windows_build = excluded.windows_build,
          first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)
        RETURNING id`),
      insertReport: db.prepare(`
        INSERT INTO reports(digest, host_id, source, started_at, finished_at, tool_version, files, images, errors, merged_at, content_sha256)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      driverExists: db.prepare('SELECT 1 FROM drivers WHERE sha256 = ?').pluck(),
      insertDriver: db.prepare(`
        INSERT INTO drivers(sha256, size, format, machine, arch, subsystem, timestamp, file_version, product_version,
          company, product, description, original_filename, internal_name, signer, signer_org, issuer, signing_time,
          pdb_path, pdb_guid, pdb_age, version_strings, import_modules, strings, unresolved, function_names)
        VALUES (@sha256, @size, @format, @machine, @arch, @subsystem, @timestamp, @fileVersion, @productVersion,
          @company, @product, @description, @originalFilename, @internalName, @signer, @signerOrg, @issuer, @signingTime,
          @pdbPath, @pdbGuid, @pdbAge, @versionStrings, @importModules, @strings, @unresolved, @functionNames)`),
      insertEvidence: db.prepare(`
        INSERT OR IGNORE INTO evidence(sha256, tag_key, ulong, tag, kind, routine, module, call_site_rva, function_rva,
          arch, recovery, confidence, shared, wrappers, table_index, alternatives, pool, size)
        VALUES (@sha256, @tagKey, @ulong, @tag, @kind, @routine, @module, @callSiteRva, @functionRva,
          @arch, @recovery, @confidence, @shared, @wrappers, @tableIndex, @alternatives, @pool, @size)`),
      // A base migrated from before schema 8 has evidence without pool and size: a report of the image fills them in.
      evidencePool: db.prepare('SELECT pool IS NOT NULL OR size IS NOT NULL FROM evidence WHERE sha256 = ? AND call_site_rva = ? AND routine = ? AND ulong = ?').pluck(),
      fillPool: db.prepare('UPDATE evidence SET pool = @pool, size = @size WHERE sha256 = @sha256 AND call_site_rva = @callSiteRva AND routine = @routine AND ulong = @ulong AND pool IS NULL AND size IS NULL'),
      insertTagString: db.prepare('INSERT OR IGNORE INTO tag_strings(sha256, tag_key) VALUES (?, ?)'),
      // Windows paths do not differ by case: the spelling already recorded for this driver on this host
      sightingNoCase: db.prepare('SELECT path FROM sightings WHERE sha256 = ? AND host_id = ? AND path = ? COLLATE NOCASE LIMIT 1').pluck(),
      upsertSighting: db.prepare(`
        INSERT INTO sightings(sha256, host_id, path, name, first_seen, last_seen) VALUES (@sha256, @hostId, @path, @name, @seen, @seen)
        ON CONFLICT(sha256, host_id, path) DO UPDATE SET
          first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`),
    };
  }

  /** An image merged before the base recorded pools and sizes (schema 8): its rows get them from this report. */
  private fillPoolAndSize(img: ImageRecord): void {
    const s = this.stmts!;
    const first = img.evidence?.find((e) => isObjLike(e) && (e.pool || e.size));
    if (!first) return;
    const key = (e: ImageRecord['evidence'][number]) => ({ sha256: img.sha256, callSiteRva: e.callSiteRva, routine: e.routine, ulong: Tag.fromUlong(Number(e.ulong)).ulong });
    const k = key(first);
    if (s.evidencePool.get(k.sha256, k.callSiteRva, k.routine, k.ulong) !== 0) return; // filled already, or no such row
    checkImageForMerge(img);
    for (const e of img.evidence) if (e.pool || e.size) s.fillPool.run({ ...key(e), ...poolColumns(e) });
  }

  private insertImage(img: ImageRecord): boolean {
    const s = (this.stmts ??= this.prepareMerge());
    // A known image is not stored again: when and where it was seen lives in sightings.
    if (s.driverExists.get(img.sha256)) {
      this.fillPoolAndSize(img);
      return false;
    }
    checkImageForMerge(img);
    const v = img.versionStrings ?? {};
    s.insertDriver.run({
      sha256: img.sha256,
      size: img.size,
      format: img.format,
      machine: img.machine,
      arch: img.arch,
      subsystem: img.subsystem,
      timestamp: img.timestamp,
      fileVersion: img.fileVersion,
      productVersion: img.productVersion,
      company: v.CompanyName ?? null,
      product: v.ProductName ?? null,
      description: v.FileDescription ?? null,
      originalFilename: v.OriginalFilename ?? null,
      internalName: v.InternalName ?? null,
      signer: img.signature?.signer.cn ?? img.signature?.signer.text ?? null,
      signerOrg: img.signature?.signer.o ?? null,
      issuer: img.signature?.issuer.cn ?? img.signature?.issuer.text ?? null,
      signingTime: img.signature?.signingTime ?? null,
      pdbPath: img.pdb?.path ?? null,
      pdbGuid: img.pdb?.guid ?? null,
      pdbAge: img.pdb?.age ?? null,
      versionStrings: JSON.stringify(v),
      importModules: JSON.stringify(img.importModules ?? []),
      strings: JSON.stringify((img.strings ?? []).map((x) => ({ kind: x.kind, text: x.text }))),
      unresolved: img.unresolved?.length ?? 0,
      functionNames: img.functionNames && Object.keys(img.functionNames).length ? JSON.stringify(img.functionNames) : null,
    });
    for (const e of img.evidence) {
      const t = Tag.fromUlong(Number(e.ulong));
      s.insertEvidence.run({
        sha256: img.sha256,
        tagKey: t.matchKey,
        ulong: t.ulong,
        tag: t.display,
        kind: e.kind,
        routine: e.routine,
        module: e.module,
        callSiteRva: e.callSiteRva,
        functionRva: e.functionRva,
        arch: e.arch,
        recovery: e.recovery,
        confidence: e.confidence,
        shared: e.shared ? 1 : 0,
        wrappers: e.wrappers?.length ? JSON.stringify(e.wrappers) : null,
        tableIndex: e.tableIndex ?? null,
        alternatives: e.alternatives ?? null,
        ...poolColumns(e),
      });
    }
    for (const ts of img.tagStrings ?? []) s.insertTagString.run(img.sha256, ts);
    this.imageId(img.sha256);
    return true;
  }

  // ---------------------------------------------------------------------------------------
  // The host inventory (fleet scale): ids for images and paths, one packed blob per host
  // ---------------------------------------------------------------------------------------

  private ids?: {
    images: Map<string, number>;
    folders: Map<string, number>;
    paths: Map<string, number>;
    /** Paths by their exact spelling, as they were met in this process (most repeat from host to host). */
    exact: Map<string, number>;
    insertImage: Database.Statement;
    insertFolder: Database.Statement;
    insertPath: Database.Statement;
    getInventory: Database.Statement;
    putInventory: Database.Statement;
  };

  /**
   * The id tables, read once per Store into memory (a fleet merge looks up every file's image
   * and path: a Map is some 50 times faster than a query). Windows paths are interned by their
   * lower-case spelling, the first spelling merged is kept.
   */
  private idTables() {
    if (this.ids) return this.ids;
    const db = this.db;
    const images = new Map<string, number>();
    for (const r of db.prepare('SELECT id, sha256 FROM images').raw().iterate() as Iterable<[number, string]>) images.set(r[1], r[0]);
    const folders = new Map<string, number>();
    for (const r of db.prepare('SELECT id, path FROM folders').raw().iterate() as Iterable<[number, string]>) folders.set(folderKey(r[1]), r[0]);
    const paths = new Map<string, number>();
    const winFolders = new Set<number>();
    for (const r of db.prepare('SELECT id, path FROM folders').raw().iterate() as Iterable<[number, string]>) if (isWindowsPath(r[1])) winFolders.add(r[0]);
    for (const r of db.prepare('SELECT id, folder_id, name FROM paths').raw().iterate() as Iterable<[number, number, string]>) paths.set(`${r[1]}\0${winFolders.has(r[1]) ? r[2].toLowerCase() : r[2]}`, r[0]);
    this.ids = {
      images,
      folders,
      paths,
      exact: new Map(),
      insertImage: db.prepare('INSERT INTO images(sha256) VALUES (?)'),
      insertFolder: db.prepare('INSERT INTO folders(path) VALUES (?)'),
      insertPath: db.prepare('INSERT INTO paths(folder_id, name) VALUES (?, ?)'),
      getInventory: db.prepare('SELECT data FROM host_inventory WHERE host_id = ?').pluck(),
      putInventory: db.prepare(`INSERT INTO host_inventory(host_id, entries, first_seen, last_seen, data) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(host_id) DO UPDATE SET entries = excluded.entries, first_seen = excluded.first_seen, last_seen = excluded.last_seen, data = excluded.data`),
    };
    // A rolled-back transaction takes its new ids with it: the maps are read again.
    return this.ids;
  }

  /** Forgets the id maps (after a rollback, ids handed out inside it no longer exist), and the host counts not yet written. */
  resetIdCache(): void {
    this.ids = undefined;
    this.imageHostGain.clear();
  }

  /**
   * Hosts each image gained in this transaction's merges (image id → hosts), written once when
   * it commits: a fleet merge adds a host's 2,000 images 100,000 times, an UPDATE each would be
   * most of its time.
   */
  private readonly imageHostGain = new Map<number, number>();

  private flushImageHosts(): void {
    if (this.imageHostGain.size === 0) return;
    const put = this.db.prepare('INSERT INTO image_hosts(image_id, hosts) VALUES (?, ?) ON CONFLICT(image_id) DO UPDATE SET hosts = hosts + excluded.hosts');
    for (const [image, n] of this.imageHostGain) put.run(image, n);
    this.imageHostGain.clear();
  }

  private imageId(sha256: string, create = true): number | undefined {
    const t = this.idTables();
    let id = t.images.get(sha256);
    if (id === undefined && create) {
      id = Number(t.insertImage.run(sha256).lastInsertRowid);
      t.images.set(sha256, id);
    }
    return id;
  }

  private pathId(path: string): number {
    const t = this.idTables();
    const hit = t.exact.get(path);
    if (hit !== undefined) return hit;
    const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
    const folder = path.slice(0, i + 1);
    const name = path.slice(i + 1);
    const fk = folderKey(folder);
    let fid = t.folders.get(fk);
    if (fid === undefined) {
      fid = Number(t.insertFolder.run(folder).lastInsertRowid);
      t.folders.set(fk, fid);
    }
    const pk = `${fid}\0${fk === folder ? name : name.toLowerCase()}`;
    let pid = t.paths.get(pk);
    if (pid === undefined) {
      pid = Number(t.insertPath.run(fid, name).lastInsertRowid);
      t.paths.set(pk, pid);
    }
    t.exact.set(path, pid);
    return pid;
  }

  /** Adds one report's files to its host's inventory (every file with a hash whose image the base holds). */
  private addInventory(hostId: number, files: FileColumns, seenIso: string): number[] {
    const t = this.idTables();
    const seen = Math.floor(Date.parse(seenIso) / 1000) || 0;
    const { paths, hashes } = files;
    const keys = new Float64Array(paths.length);
    let m = 0;
    for (let i = 0; i < paths.length; i++) {
      const h = hashes[i];
      if (h === null) continue;
      const imageId = t.images.get(h);
      if (imageId === undefined) continue;
      keys[m++] = inventoryKey(this.pathId(paths[i]), imageId);
    }
    const old = t.getInventory.get(hostId) as Buffer | undefined;
    const inv = addToInventory(old ?? null, keys.subarray(0, m), seen);
    t.putInventory.run(hostId, inv.entries, inv.first, inv.last, inv.blob);
    return inv.added;
  }

  /** The images this base holds (for `pooltag export --format known`). */
  knownHashes(): string[] {
    return this.db.prepare('SELECT sha256 FROM drivers').pluck().all() as string[];
  }

  /** A host's inventory: which image at which path, first and last seen (ISO 8601). */
  hostInventory(hostName: string): { path: string; sha256: string; firstSeen: string; lastSeen: string }[] {
    const row = this.db.prepare('SELECT i.data FROM host_inventory i JOIN hosts h ON h.id = i.host_id WHERE h.name = ?').pluck().get(hostName) as Buffer | undefined;
    if (!row) return [];
    return this.describeEntries(decodeInventory(row)).map(({ host: _h, ...e }) => e);
  }

  /**
   * Where an image is: every host and path with first and last seen. Reads every host's blob
   * (a second or two for 100,000 hosts): an investigation's question, not a lookup's.
   */
  imageHosts(sha256: string): { host: string; path: string; firstSeen: string; lastSeen: string }[] {
    const id = this.db.prepare('SELECT id FROM images WHERE sha256 = ?').pluck().get(sha256) as number | undefined;
    if (id === undefined) return [];
    const out: { host: string; path: string; firstSeen: string; lastSeen: string }[] = [];
    for (const [hostName, data] of this.db.prepare('SELECT h.name, i.data FROM host_inventory i JOIN hosts h ON h.id = i.host_id ORDER BY h.name').raw().iterate() as Iterable<[string, Buffer]>) {
      const hits = decodeInventory(data).filter((e) => e.imageId === id);
      for (const e of this.describeEntries(hits, hostName)) out.push({ host: e.host, path: e.path, firstSeen: e.firstSeen, lastSeen: e.lastSeen });
    }
    return out;
  }

  private describeEntries(entries: InventoryEntry[], host = '') {
    const pathOf = this.db.prepare('SELECT f.path || p.name FROM paths p JOIN folders f ON f.id = p.folder_id WHERE p.id = ?').pluck();
    const shaOf = this.db.prepare('SELECT sha256 FROM images WHERE id = ?').pluck();
    const iso = (t: number) => new Date(t * 1000).toISOString();
    return entries.map((e) => ({ host, path: pathOf.get(e.pathId) as string, sha256: shaOf.get(e.imageId) as string, firstSeen: iso(e.first), lastSeen: iso(e.last) }));
  }

  /**
   * Merges one scan report (one transaction). A report whose content was merged before is
   * skipped; `digest` identifies it (the host, start time and files it lists).
   */
  /**
   * Runs `fn` in one transaction: a `pooltag merge` of many reports commits once (each report
   * inside is a savepoint, so one bad report is rolled back alone). Committing once matters:
   * every report touches hundreds of scattered pages, and writing them per report costs more
   * than the merge itself.
   */
  batch<T>(fn: () => T): T {
    return this.write(fn);
  }

  /**
   * `batch` for work that awaits between its steps (reading the next report): one transaction
   * that holds the write lock from its start, committed when `fn` resolves, rolled back when it
   * throws, so that a command stopped on the way (Ctrl-C) leaves the base as it was.
   */
  async batchAsync<T>(fn: () => Promise<T>): Promise<T> {
    if (this.db.inTransaction) throw new StoreError('batchAsync inside another transaction');
    this.db.pragma('busy_timeout = 0');
    let locked = false;
    try {
      this.db.exec('BEGIN IMMEDIATE');
      locked = true;
    } catch (err) {
      if (!isBusy(err)) throw err;
    } finally {
      this.db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
    }
    if (!locked) {
      this.onWait?.(`the knowledge base ${this.path} is being written by another pooltag; waiting for it (up to ${Math.round(this.busyTimeoutMs / 1000)} s)`);
      try {
        this.db.exec('BEGIN IMMEDIATE');
      } catch (err) {
        if (isBusy(err)) throw new StoreError(`the knowledge base ${this.path} is busy: another pooltag has been writing to it for over ${Math.round(this.busyTimeoutMs / 1000)} s; try again when it has finished`);
        throw err;
      }
    }
    let result: T;
    try {
      result = await fn();
      this.flushImageHosts();
    } catch (err) {
      this.imageHostGain.clear();
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
    this.db.exec('COMMIT');
    return result;
  }

  /** The SHA-256 of every report file merged (what a merge need not parse again). */
  mergedContent(): string[] {
    return this.db.prepare('SELECT content_sha256 FROM reports WHERE content_sha256 IS NOT NULL').pluck().all() as string[];
  }

  /** A report file with these bytes was merged before. */
  hasReportContent(contentSha256: string): boolean {
    return !!this.db.prepare('SELECT 1 FROM reports WHERE content_sha256 = ?').get(contentSha256);
  }

  /**
   * `digest` is reportDigest(report), and `files` the report's file list as columns, when the
   * caller has them already (a merge's reader threads make both; `report.files` is then unread).
   */
  mergeReport(report: ScanReport, source: string | null = null, contentSha256: string | null = null, digest: string = reportDigest(report), files: FileColumns = fileColumns(report.files)): MergeResult {
    const s = (this.stmts ??= this.prepareMerge());
    const host = report.host.name;
    try {
      return this.mergeInTransaction(report, files, source, contentSha256, digest, s, host);
    } catch (err) {
      // the report's savepoint was rolled back: ids handed out in it are gone (the host counts
      // of the reports before it in the transaction stand: this one had not added its own)
      this.ids = undefined;
      throw err;
    }
  }

  private mergeInTransaction(report: ScanReport, files: FileColumns, source: string | null, contentSha256: string | null, digest: string, s: NonNullable<Store['stmts']>, host: string): MergeResult {
    const { paths, hashes, known: knownFlags } = files;
    const n = paths.length;
    return this.write((): MergeResult => {
      if (s.reportByDigest.get(digest)) return { digest, host, skipped: true, newDrivers: 0, files: n };
      const reported = new Set<string>();
      for (const img of report.images) reported.add(img.sha256);
      // Inventory only (a scan with --known): the base must hold the image; a report made with
      // another base's list is refused whole, not merged without the images it leaves out.
      const ids = this.idTables();
      let inventoryOnly = 0;
      let missing = -1;
      let missingCount = 0;
      for (let i = 0; i < n; i++) {
        const h = hashes[i];
        if (knownFlags[i] === 0 || h === null || reported.has(h)) continue;
        inventoryOnly++;
        if (!ids.images.has(h)) {
          missingCount++;
          if (missing < 0) missing = i;
        }
      }
      if (missing >= 0) {
        throw new StoreError(
          `${missingCount} of its ${inventoryOnly} inventory-only files are of images this base does not hold (e.g. ${hashes[missing]} at ${paths[missing]}): the report was scanned with a --known list of another base; merge it into that base, or scan the host again without --known (or with this base's list)`,
        );
      }
      const seen = report.finishedAt ?? report.startedAt;
      const { id: hostId } = s.upsertHost.get({
        name: host,
        platform: report.host.platform,
        os: report.host.os,
        release: report.host.release,
        windowsBuild: report.host.windowsBuild,
        seen,
      }) as { id: number };
      s.insertReport.run(digest, hostId, source, report.startedAt, report.finishedAt, report.tool.version, n, report.images.length, report.summary.errors, new Date().toISOString(), contentSha256);
      let newDrivers = 0;
      for (const img of report.images) if (this.insertImage(img)) newDrivers++;
      const windowsHost = report.host.platform === 'win32';
      for (let i = 0; i < n; i++) {
        const h = hashes[i];
        if (h === null || !reported.has(h)) continue;
        const p = paths[i];
        const path = windowsHost || isWindowsPath(p) ? ((s.sightingNoCase.get(h, hostId, p) as string | undefined) ?? p) : p;
        s.upsertSighting.run({ sha256: h, hostId, path, name: baseName(p).toLowerCase(), seen });
      }
      const added = this.addInventory(hostId, files, seen);
      this.bump();
      // last, when nothing of the report can fail any more (its savepoint is released)
      for (const image of added) this.imageHostGain.set(image, (this.imageHostGain.get(image) ?? 0) + 1);
      return { digest, host, skipped: false, newDrivers, files: n };
    });
  }

  // ---------------------------------------------------------------------------------------
  // pooltag.txt
  // ---------------------------------------------------------------------------------------

  /**
   * Imports one pooltag.txt. Each distinct file (by content) is a source of its own; an
   * older and a newer copy both stay, so a newer one never erases what an older one said.
   */
  importPooltag(file: PooltagFile, bytes: Uint8Array, meta: { path: string; label?: string | null; fileDate?: string | null }): PooltagImportResult {
    const digest = createHash('sha256').update(bytes).digest('hex');
    return this.write((): PooltagImportResult => {
      const old = this.db.prepare('SELECT id, entries FROM pooltag_sources WHERE digest = ?').get(digest) as { id: number; entries: number } | undefined;
      if (old) return { digest, sourceId: old.id, entries: old.entries, skipped: true };
      const { id } = this.db
        .prepare('INSERT INTO pooltag_sources(digest, path, label, file_date, imported_at, entries) VALUES (?, ?, ?, ?, ?, ?) RETURNING id')
        .get(digest, meta.path, meta.label ?? null, meta.fileDate ?? null, new Date().toISOString(), file.entries.length) as { id: number };
      const ins = this.db.prepare('INSERT INTO pooltag_entries(source_id, line, tag, wildcard, binaries, binary_raw, description) VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (const e of file.entries) ins.run(id, e.line, e.tag, e.pattern.kind === 'wildcard' ? 1 : 0, JSON.stringify(e.binaries), e.binaryRaw, e.description);
      this.bump();
      return { digest, sourceId: id, entries: file.entries.length, skipped: false };
    });
  }

  // ---------------------------------------------------------------------------------------
  // Notes
  // ---------------------------------------------------------------------------------------

  addNote(tag: Tag, text: string, author: string | null): number {
    return this.write(() => {
      const r = this.db
        .prepare('INSERT INTO notes(tag_key, tag, text, author, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(tag.matchKey, tag.display, text, author, new Date().toISOString());
      this.bump();
      return Number(r.lastInsertRowid);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Summary
  // ---------------------------------------------------------------------------------------

  stats() {
    const one = (sql: string) => (this.db.prepare(sql).pluck().get() as number) ?? 0;
    return {
      path: this.path,
      schemaVersion: this.db.pragma('user_version', { simple: true }) as number,
      generation: this.generation,
      hosts: one('SELECT count(*) FROM hosts'),
      reports: one('SELECT count(*) FROM reports'),
      drivers: one('SELECT count(*) FROM drivers'),
      sightings: one('SELECT count(*) FROM sightings'),
      /** Host inventory: (host, path, image) entries, and the hosts that have one. */
      inventory: one('SELECT coalesce(sum(entries), 0) FROM host_inventory'),
      inventoryHosts: one('SELECT count(*) FROM host_inventory'),
      evidence: one('SELECT count(*) FROM evidence'),
      distinctTags: one('SELECT count(DISTINCT tag_key) FROM evidence WHERE shared = 0'),
      driversWithTags: one('SELECT count(DISTINCT sha256) FROM evidence WHERE shared = 0'),
      pooltagSources: this.db.prepare('SELECT id, path, label, file_date AS fileDate, imported_at AS importedAt, entries FROM pooltag_sources ORDER BY id').all() as {
        id: number;
        path: string;
        label: string | null;
        fileDate: string | null;
        importedAt: string;
        entries: number;
      }[],
      pooltagEntries: one('SELECT count(*) FROM pooltag_entries'),
      notes: one('SELECT count(*) FROM notes'),
      lastMerge: (this.db.prepare('SELECT max(merged_at) FROM reports').pluck().get() as string | null) ?? null,
      index: (this.db.prepare('SELECT generation, built_at AS builtAt, documents, terms, bytes FROM search_index WHERE id = 1').get() as
        | { generation: number; builtAt: string; documents: number; terms: number; bytes: number }
        | undefined) ?? null,
    };
  }
}

export { reportDigest } from '../report/digest.js';
