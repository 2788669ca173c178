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
import { dirname, join, resolve } from 'node:path';

import type Database from 'better-sqlite3';

import { sql, type Compilable, type Kysely, type RawBuilder } from './kysely.js';

import { isWindowsPath, userDataDir } from '../platform/paths.js';
import { POSTGRES_SCHEMA, POSTGRES_SCHEMA_VERSION, POSTGRES_TABLES } from './schema-pg.js';
import { compileStatement, isDatabaseUrl, maskUrl, one, p, pluck, postgresKysely, rows, sqliteKysely, urlPassword, type Backend, type QueryTarget, type Statement } from './sql.js';
import { addToInventory, decodeInventory, inventoryImages, inventoryKey, type InventoryEntry } from './inventory.js';
import { reportDigest } from '../report/digest.js';
import { FILE_FULL, FILE_HASHED, FILE_KNOWN, fileColumns, pathAt, pathHashSeed, shaAt, type FileColumns } from '../report/merge-input.js';
import { PathIdCache, ShaIdCache } from './id-cache.js';
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

/**
 * The base a command uses: `--db` (a file, or a postgres:// URL), else POOLTAG_DB (either),
 * else pooltag.db in the user data folder. A file's path is made absolute.
 */
export function dbTarget(opts: { db?: string }, env: Record<string, string | undefined> = process.env): string {
  const t = opts.db || defaultDbPath(env);
  return isDatabaseUrl(t) ? t.trim() : resolve(t);
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

/** Statements a merge runs per row or per report, compiled once per Store (see sql.ts). */
type Stmts = Record<string, Statement>;

/** The ASCII letters of a path in lower case, as SQLite's NOCASE folds them (Windows paths do not differ by case). */
const foldAscii = (s: string) => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/** Rows per multi-row statement on PostgreSQL (its limit is 65,535 parameters per statement). */
const PG_PARAMS_PER_STATEMENT = 30_000;

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** The advisory lock every writer of a PostgreSQL base holds for its transaction ('PTag'). */
const PG_WRITE_LOCK = APPLICATION_ID;

const ERROR_CODES_CONNECT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOENT', 'EACCES']);

export class Store implements QueryTarget {
  /** The SQLite database (better-sqlite3); null on PostgreSQL. */
  readonly sqlite: Database.Database | null;
  readonly backend: Backend;
  /** Kysely over the whole base (SQLite's connection, or PostgreSQL's pool). */
  readonly k: Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** PostgreSQL: the connection of the open transaction (or consistent read). */
  private conn: Kysely<any> | null = null; // eslint-disable-line @typescript-eslint/no-explicit-any
  private depth = 0;
  /** Counts outermost transactions (the id tables catch up with other writers once per transaction). */
  private txSerial = 0;
  private readonly password: string | null;

  private readonly busyTimeoutMs: number;
  private readonly onWait?: (message: string) => void;

  private constructor(
    backend: Backend,
    k: Kysely<any>, // eslint-disable-line @typescript-eslint/no-explicit-any
    sqlite: Database.Database | null,
    /** The base as it may be shown: the file's path, or the URL without its password. */
    readonly path: string,
    opts: StoreOptions = {},
    password: string | null = null,
    readonly readonly = false,
  ) {
    this.backend = backend;
    this.k = k;
    this.sqlite = sqlite;
    this.busyTimeoutMs = opts.busyTimeoutMs ?? 30_000;
    this.onWait = opts.onWait;
    this.password = password;
  }

  /** Where queries go now: the open transaction's connection, else the base. */
  get q(): Kysely<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.conn ?? this.k;
  }

  /** The better-sqlite3 database of an SQLite base (tests and SQLite-only tools); throws on PostgreSQL. */
  get db(): Database.Database {
    if (!this.sqlite) throw new StoreError(`${this.path} is a PostgreSQL base, not an SQLite file`);
    return this.sqlite;
  }

  /**
   * Opens (creating and migrating when writable) the base at `target`: an SQLite file's path,
   * or a `postgres://` URL. Refuses, with a StoreError and without writing, a folder, a file
   * that is not SQLite, an SQLite file or a PostgreSQL database of another application, and a
   * base of a newer schema.
   */
  static async open(target: string, opts: StoreOptions = {}): Promise<Store> {
    if (isDatabaseUrl(target)) return Store.openPostgres(target, opts);
    return Store.openSqlite(target, opts);
  }

  private static openSqlite(path: string, opts: StoreOptions = {}): Store {
    const probe = probeFile(path);
    if (opts.readonly && probe.kind === 'none') {
      const why = path !== ':memory:' && existsSync(path) ? 'the file is empty' : 'no such file';
      throw new StoreError(`no knowledge base at ${path} (${why}); create one with \`pooltag merge\` or \`pooltag import-pooltag\``);
    }
    // @types/better-sqlite3 types the option as a path; the library takes the loaded addon too
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
        const store = Store.openSqlite(path, { ...opts, readonly: false }); // migrate (and mark), then read
        store.sqlite!.close();
        return Store.openSqlite(path, opts);
      }
      // Reads (an export scans whole tables) from the file mapped into memory rather than
      // copied page by page into SQLite's cache; writers keep the default.
      db.pragma('mmap_size = 268435456');
      return new Store('sqlite', sqliteKysely(db), db, path, opts, null, true);
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
      const store = new Store('sqlite', sqliteKysely(db), db, path, opts);
      store.migrateSqlite();
      return store;
    } catch (err) {
      db.close();
      if (err instanceof StoreError) throw err;
      if (isBusy(err)) throw new StoreError(`the knowledge base ${path} is busy: another pooltag is writing to it; try again when it has finished`);
      throw new StoreError(`cannot open the knowledge base ${path} (${oneLine(err)})`);
    }
  }

  /**
   * A PostgreSQL base: the database the URL names (the server's own access rules apply; the
   * password may also come from PGPASSWORD or ~/.pgpass). Its tables are created on first
   * write. A connection failure is one StoreError line, the password never in it.
   */
  private static async openPostgres(url: string, opts: StoreOptions = {}): Promise<Store> {
    const shown = maskUrl(url);
    const password = urlPassword(url);
    const pgModule = (await import('pg')).default;
    const { k, pool } = postgresKysely(pgModule, url);
    const store = new Store('postgres', k, null, shown, opts, password, !!opts.readonly);
    try {
      await store.migratePostgres(!!opts.readonly);
    } catch (err) {
      await k.destroy().catch(() => undefined);
      throw store.storeError(err, 'cannot open the knowledge base');
    }
    void pool;
    return store;
  }

  /** An error of the server or the connection as one line of a StoreError, the password masked. */
  private storeError(err: unknown, what: string): StoreError {
    if (err instanceof StoreError) return err;
    const e = err as { code?: string; message?: string };
    let msg = oneLine(err);
    if (!msg && e.code) msg = e.code;
    if (e.code && ERROR_CODES_CONNECT.has(e.code) && !msg.includes(e.code)) msg = `${e.code} ${msg}`;
    if (this.password) msg = msg.split(this.password).join('***');
    return new StoreError(`${what} ${this.path} (${msg})`);
  }

  private migrateSqlite(): void {
    const db = this.sqlite!;
    const v = db.pragma('user_version', { simple: true }) as number;
    if (v > SCHEMA_VERSION) throw new StoreError(`${this.path} has schema version ${v}, newer than this pooltag (${SCHEMA_VERSION}); upgrade pooltag`);
    const marked = (db.pragma('application_id', { simple: true }) as number) === APPLICATION_ID;
    if (v === SCHEMA_VERSION && marked) return;
    const run = db.transaction(() => {
      // again under the write lock: another process may have migrated meanwhile
      const now = db.pragma('user_version', { simple: true }) as number;
      for (let i = now; i < MIGRATIONS.length; i++) {
        const m = MIGRATIONS[i];
        if (typeof m === 'string') db.exec(m);
        else m(db);
        db.pragma(`user_version = ${i + 1}`);
      }
      db.pragma(`application_id = ${APPLICATION_ID}`);
    });
    this.withWriteLock(() => run.immediate());
  }

  /** The schema version of a PostgreSQL base (0: no pooltag tables), refusing a database that is someone else's. */
  private async postgresVersion(): Promise<number> {
    const present = await pluck<string>(this, sql`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name IN (${sql.join(POSTGRES_TABLES)})`);
    if (present.length === 0) return 0;
    const mark = present.includes('meta') ? await rows<{ key: string; value: string }>(this, sql`SELECT key, value FROM meta WHERE key IN ('application', 'schema_version')`) : [];
    const app = mark.find((r) => r.key === 'application')?.value;
    if (app !== 'pooltag') {
      throw new StoreError(`${this.path} belongs to another application (its schema has tables ${present.slice(0, 5).join(', ')}${present.length > 5 ? ', ...' : ''} but is not a pooltag base); left unchanged`);
    }
    return Number(mark.find((r) => r.key === 'schema_version')?.value ?? 0);
  }

  private async migratePostgres(readonly: boolean): Promise<void> {
    const v = await this.postgresVersion();
    if (v > POSTGRES_SCHEMA_VERSION) throw new StoreError(`${this.path} has schema version ${v}, newer than this pooltag (${POSTGRES_SCHEMA_VERSION}); upgrade pooltag`);
    if (v === POSTGRES_SCHEMA_VERSION) return;
    if (readonly && v === 0) throw new StoreError(`no knowledge base at ${this.path} (the database has no pooltag tables); create one with \`pooltag merge\` or \`pooltag import-pooltag\``);
    await this.write(async () => {
      // again under the write lock: another pooltag may have created it meanwhile
      if ((await this.postgresVersion()) !== 0) return;
      for (const stmt of POSTGRES_SCHEMA.split(';').map((s) => s.trim()).filter(Boolean)) await sql.raw(stmt).execute(this.q);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Transactions
  // ---------------------------------------------------------------------------------------

  /**
   * Runs `fn` as one write transaction that holds the write lock from its start, so that two
   * writers never deadlock: the second waits up to the busy timeout (telling `onWait` once),
   * then gives up with a StoreError that says why. Nested calls are savepoints of the outer
   * transaction (a failing one is rolled back alone). SQLite: BEGIN IMMEDIATE. PostgreSQL:
   * a transaction that takes the base's advisory lock, so that writers (merges, notes, the
   * index) follow one another as on SQLite, while readers read on (MVCC).
   */
  async write<T>(fn: () => Promise<T>): Promise<T> {
    if (this.depth > 0) return this.savepoint(fn);
    if (this.sqlite) {
      this.beginSqlite();
      return this.finish(fn, async () => void this.sqlite!.exec('COMMIT'), async () => void (this.sqlite!.inTransaction && this.sqlite!.exec('ROLLBACK')));
    }
    return this.k.connection().execute(async (c) => {
      this.conn = c;
      try {
        await sql`BEGIN`.execute(c);
        try {
          await this.lockPostgres(c);
        } catch (err) {
          await sql`ROLLBACK`.execute(c).catch(() => undefined);
          throw err;
        }
        return await this.finish(fn, async () => void (await sql`COMMIT`.execute(c)), async () => void (await sql`ROLLBACK`.execute(c).catch(() => undefined)));
      } finally {
        this.conn = null;
      }
    });
  }

  private async finish<T>(fn: () => Promise<T>, commit: () => Promise<void>, rollback: () => Promise<void>): Promise<T> {
    this.depth = 1;
    this.txSerial++;
    try {
      const r = await fn();
      // the host counts the transaction's merges gathered, written once
      await this.flushImageHosts();
      await commit();
      return r;
    } catch (err) {
      await rollback();
      this.ids = undefined; // ids handed out inside are gone
      this.imageHostGain.clear();
      throw this.backend === 'postgres' ? this.storeError(err, 'the knowledge base') : err;
    } finally {
      this.depth = 0;
    }
  }

  private async savepoint<T>(fn: () => Promise<T>): Promise<T> {
    const name = `pooltag_${this.depth}`;
    const exec = async (s: string) => {
      if (this.sqlite) this.sqlite.exec(s);
      else await sql.raw(s).execute(this.q);
    };
    await exec(`SAVEPOINT ${name}`);
    this.depth++;
    try {
      const r = await fn();
      await exec(`RELEASE ${name}`);
      return r;
    } catch (err) {
      await exec(`ROLLBACK TO ${name}`);
      await exec(`RELEASE ${name}`);
      this.ids = undefined;
      throw err;
    } finally {
      this.depth--;
    }
  }

  private beginSqlite(): void {
    const db = this.sqlite!;
    this.withWriteLock(() => db.exec('BEGIN IMMEDIATE'));
  }

  /**
   * `attempt` takes SQLite's write lock: at once if it is free, else after saying once that it
   * waits (up to the busy timeout), else a StoreError that says why. Migrations and writes alike.
   */
  private withWriteLock(attempt: () => unknown): void {
    const db = this.sqlite!;
    db.pragma('busy_timeout = 0');
    try {
      attempt();
      return;
    } catch (err) {
      if (!isBusy(err)) throw err;
    } finally {
      db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
    }
    this.onWait?.(`the knowledge base ${this.path} is being written by another pooltag; waiting for it (up to ${Math.round(this.busyTimeoutMs / 1000)} s)`);
    try {
      attempt();
    } catch (err) {
      if (isBusy(err)) throw new StoreError(`the knowledge base ${this.path} is busy: another pooltag has been writing to it for over ${Math.round(this.busyTimeoutMs / 1000)} s; try again when it has finished`);
      throw err;
    }
  }

  private async lockPostgres(c: Kysely<any>): Promise<void> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const got = await one<boolean>(this, sql`SELECT pg_try_advisory_xact_lock(${PG_WRITE_LOCK})`.$castTo<unknown>());
    if (got) return;
    this.onWait?.(`the knowledge base ${this.path} is being written by another pooltag; waiting for it (up to ${Math.round(this.busyTimeoutMs / 1000)} s)`);
    await sql.raw(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(this.busyTimeoutMs))}`).execute(c);
    try {
      await sql`SELECT pg_advisory_xact_lock(${PG_WRITE_LOCK})`.execute(c);
    } catch (err) {
      if ((err as { code?: string }).code === '55P03') {
        throw new StoreError(`the knowledge base ${this.path} is busy: another pooltag has been writing to it for over ${Math.round(this.busyTimeoutMs / 1000)} s; try again when it has finished`);
      }
      throw err;
    }
    await sql`SET LOCAL lock_timeout = 0`.execute(c);
  }

  /**
   * Runs `fn`'s reads as one consistent picture of the base (a read transaction; on
   * PostgreSQL REPEATABLE READ on one connection). Inside a write transaction: that one.
   */
  async read<T>(fn: () => Promise<T>): Promise<T> {
    if (this.depth > 0) return fn();
    if (this.sqlite) {
      const db = this.sqlite;
      if (db.inTransaction) return fn();
      db.exec('BEGIN');
      this.depth = 1;
      try {
        return await fn();
      } finally {
        this.depth = 0;
        if (db.inTransaction) db.exec('COMMIT');
      }
    }
    return this.k.connection().execute(async (c) => {
      this.conn = c;
      this.depth = 1;
      try {
        await sql`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`.execute(c);
        const r = await fn();
        await sql`COMMIT`.execute(c);
        return r;
      } catch (err) {
        await sql`ROLLBACK`.execute(c).catch(() => undefined);
        throw this.storeError(err, 'reading the knowledge base');
      } finally {
        this.depth = 0;
        this.conn = null;
      }
    });
  }

  async close(): Promise<void> {
    if (this.sqlite) {
      if (this.sqlite.open) this.sqlite.close();
      return;
    }
    await this.k.destroy();
  }

  /** A statement compiled once for this base (see sql.ts), by name. */
  private statements: Stmts = {};
  stmt(name: string, build: () => Compilable | RawBuilder<unknown>): Statement {
    return (this.statements[name] ??= compileStatement(this, build()));
  }

  /** Rows of a query built with Kysely, run where this base's queries go now. */
  all<R = Record<string, unknown>>(query: Compilable | RawBuilder<unknown>): Promise<R[]> {
    return rows<R>(this, query);
  }

  pluck<V = unknown>(query: Compilable | RawBuilder<unknown>): Promise<V[]> {
    return pluck<V>(this, query);
  }

  one<V = unknown>(query: Compilable | RawBuilder<unknown>): Promise<V | undefined> {
    return one<V>(this, query);
  }

  /**
   * Inserts rows (all of one shape) with one statement per row on SQLite (prepared once; a
   * statement costs less there than building a longer one) and one per few thousand rows on
   * PostgreSQL (a statement there costs a round trip to the server).
   */
  async insertRows(name: string, list: readonly Record<string, unknown>[], build: (q: Kysely<any>, values: Record<string, unknown>[]) => Compilable): Promise<void> { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (list.length === 0) return;
    if (this.sqlite) {
      const cols = Object.keys(list[0]);
      const st = this.stmt(`rows:${name}:${cols.join(',')}`, () => build(this.k, [Object.fromEntries(cols.map((c) => [c, p(c)]))]));
      for (const r of list) await st.run(r);
      return;
    }
    const per = Math.max(1, Math.floor(PG_PARAMS_PER_STATEMENT / Object.keys(list[0]).length));
    for (const part of chunks(list, per)) await rows(this, build(this.q, part as Record<string, unknown>[]));
  }

  /** Bumped by every change; the search index records the generation it was built from. */
  async generation(): Promise<number> {
    return Number(await this.stmt('generation', () => sql`SELECT value FROM meta WHERE key = 'generation'`).pluck().then((v) => v[0]));
  }

  private async bump(): Promise<void> {
    await this.stmt('bump', () => sql`UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) WHERE key = 'generation'`).run();
  }

  /** The schema version (SQLite's user_version; a row of meta on PostgreSQL). */
  async schemaVersion(): Promise<number> {
    if (this.sqlite) return this.sqlite.pragma('user_version', { simple: true }) as number;
    return Number(await this.one(sql`SELECT value FROM meta WHERE key = 'schema_version'`));
  }

  // ---------------------------------------------------------------------------------------
  // Merging scan reports
  // ---------------------------------------------------------------------------------------

  private mergeStmts(): Stmts {
    const k = this.k;
    const later = (col: string, table: string) => sql`CASE WHEN excluded.${sql.ref(col)} > ${sql.ref(`${table}.${col}`)} THEN excluded.${sql.ref(col)} ELSE ${sql.ref(`${table}.${col}`)} END`;
    const earlier = (col: string, table: string) => sql`CASE WHEN excluded.${sql.ref(col)} < ${sql.ref(`${table}.${col}`)} THEN excluded.${sql.ref(col)} ELSE ${sql.ref(`${table}.${col}`)} END`;
    return {
      reportByDigest: this.stmt('reportByDigest', () => k.selectFrom('reports').select('id').where('digest', '=', p('digest'))),
      upsertHost: this.stmt('upsertHost', () =>
        k
          .insertInto('hosts')
          .values({ name: p('name'), platform: p('platform'), os: p('os'), release: p('release'), windows_build: p('windowsBuild'), first_seen: p('seen'), last_seen: p('seen') })
          .onConflict((oc) =>
            oc.column('name').doUpdateSet({
              platform: sql`excluded.platform`,
              os: sql`excluded.os`,
              release: sql`excluded.release`,
              windows_build: sql`excluded.windows_build`,
              first_seen: earlier('first_seen', 'hosts'),
              last_seen: later('last_seen', 'hosts'),
            }),
          )
          .returning('id'),
      ),
      insertReport: this.stmt('insertReport', () =>
        k.insertInto('reports').values({
          digest: p('digest'), host_id: p('hostId'), source: p('source'), started_at: p('startedAt'), finished_at: p('finishedAt'), tool_version: p('toolVersion'),
          files: p('files'), images: p('images'), errors: p('errors'), merged_at: p('mergedAt'), content_sha256: p('contentSha256'),
        }),
      ),
      insertDriver: this.stmt('insertDriver', () =>
        k.insertInto('drivers').values(Object.fromEntries(DRIVER_FIELDS.map(([col, param]) => [col, p(param)]))),
      ),
      fillPool: this.stmt('fillPool', () =>
        k
          .updateTable('evidence')
          .set({ pool: p('pool'), size: p('size') })
          .where('sha256', '=', p('sha256'))
          .where('call_site_rva', '=', p('callSiteRva'))
          .where('routine', '=', p('routine'))
          .where('ulong', '=', p('ulong'))
          .where('pool', 'is', null)
          .where('size', 'is', null),
      ),
    };
  }

  private merge?: Stmts;

  /** Images merged before the base recorded pools and sizes (schema 8): their rows get them from this report. */
  private async fillPoolAndSize(imgs: ImageRecord[]): Promise<void> {
    const s = (this.merge ??= this.mergeStmts());
    const key = (img: ImageRecord, e: ImageRecord['evidence'][number]) => ({ sha256: img.sha256, callSiteRva: e.callSiteRva, routine: e.routine, ulong: Tag.fromUlong(Number(e.ulong)).ulong });
    // the first call site of each image that brings a pool or a size: is it recorded already?
    const probes: { img: ImageRecord; k: ReturnType<typeof key> }[] = [];
    for (const img of imgs) {
      const first = Array.isArray(img.evidence) ? img.evidence.find((e) => isObjLike(e) && (e.pool || e.size)) : undefined;
      if (first && typeof first.callSiteRva === 'number' && typeof first.routine === 'string') probes.push({ img, k: key(img, first) });
    }
    for (const part of chunks(probes, 200)) {
      const empty = new Set(
        await this.pluck<string>(
          this.q
            .selectFrom('evidence')
            .select('sha256')
            .where((eb) => eb.or(part.map(({ k }) => eb.and([eb('sha256', '=', k.sha256), eb('call_site_rva', '=', k.callSiteRva), eb('routine', '=', k.routine), eb('ulong', '=', k.ulong)]))))
            .where('pool', 'is', null)
            .where('size', 'is', null),
        ),
      );
      for (const { img } of part) {
        if (!empty.has(img.sha256)) continue; // filled already, or no such row
        checkImageForMerge(img);
        for (const e of img.evidence) if (e.pool || e.size) await s.fillPool.run({ ...key(img, e), ...poolColumns(e) });
      }
    }
  }

  private async insertImage(img: ImageRecord): Promise<void> {
    const s = (this.merge ??= this.mergeStmts());
    checkImageForMerge(img);
    const v = img.versionStrings ?? {};
    const values: Record<string, unknown> = {
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
    };
    await s.insertDriver.run(values);
    const evidence = img.evidence.map((e) => {
      const t = Tag.fromUlong(Number(e.ulong));
      return {
        sha256: img.sha256,
        tag_key: t.matchKey,
        ulong: t.ulong,
        tag: t.display,
        kind: e.kind,
        routine: e.routine,
        module: e.module,
        call_site_rva: e.callSiteRva,
        function_rva: e.functionRva,
        arch: e.arch,
        recovery: e.recovery,
        confidence: e.confidence,
        shared: e.shared ? 1 : 0,
        wrappers: e.wrappers?.length ? JSON.stringify(e.wrappers) : null,
        table_index: e.tableIndex ?? null,
        alternatives: e.alternatives ?? null,
        ...poolColumns(e),
      };
    });
    await this.insertRows('evidence', evidence, (q, values) => q.insertInto('evidence').values(values).onConflict((oc) => oc.doNothing()));
    const strings = [...new Set(img.tagStrings ?? [])].map((tag_key) => ({ sha256: img.sha256, tag_key }));
    await this.insertRows('tag_strings', strings, (q, values) => q.insertInto('tag_strings').values(values).onConflict((oc) => oc.doNothing()));
    await this.imageId(img.sha256);
  }

  // ---------------------------------------------------------------------------------------
  // The host inventory (fleet scale): ids for images and paths, one packed blob per host
  // ---------------------------------------------------------------------------------------

  private ids?: {
    images: Map<string, number>;
    folders: Map<string, number>;
    paths: Map<string, number>;
    winFolders: Set<number>;
    /** Paths by their exact spelling, as they were met in this process (most repeat from host to host). */
    exact: Map<string, number>;
    /** The same for report files' bytes (FileColumns): images by SHA-256, paths by exact spelling. */
    imageCache: ShaIdCache;
    pathCache: PathIdCache;
    /** The highest id read from each table (rows above it were added since, by another writer). */
    maxImage: number;
    maxFolder: number;
    maxPath: number;
    /** The transaction they were last brought up to date in. */
    serial: number;
  };

  /**
   * The id tables, read into memory (a fleet merge looks up every file's image and path: a Map
   * is some 50 times faster than a query), and brought up to date once per write transaction
   * with the rows other writers added since (ids only grow; writers hold the write lock).
   * Windows paths are interned by their lower-case spelling, the first spelling merged is kept.
   */
  private async idTables() {
    const t = (this.ids ??= { images: new Map(), folders: new Map(), paths: new Map(), winFolders: new Set(), exact: new Map(), imageCache: new ShaIdCache(), pathCache: new PathIdCache(pathHashSeed()), maxImage: 0, maxFolder: 0, maxPath: 0, serial: -1 });
    if (t.serial === this.txSerial && this.depth > 0) return t;
    for (const r of await this.all<{ id: number; sha256: string }>(this.q.selectFrom('images').select(['id', 'sha256']).where('id', '>', t.maxImage))) {
      t.images.set(r.sha256, r.id);
      if (r.id > t.maxImage) t.maxImage = r.id;
    }
    for (const r of await this.all<{ id: number; path: string }>(this.q.selectFrom('folders').select(['id', 'path']).where('id', '>', t.maxFolder))) {
      t.folders.set(folderKey(r.path), r.id);
      if (isWindowsPath(r.path)) t.winFolders.add(r.id);
      if (r.id > t.maxFolder) t.maxFolder = r.id;
    }
    for (const r of await this.all<{ id: number; folder_id: number; name: string }>(this.q.selectFrom('paths').select(['id', 'folder_id', 'name']).where('id', '>', t.maxPath))) {
      t.paths.set(`${r.folder_id}\0${t.winFolders.has(r.folder_id) ? r.name.toLowerCase() : r.name}`, r.id);
      if (r.id > t.maxPath) t.maxPath = r.id;
    }
    t.serial = this.txSerial;
    return t;
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

  private async flushImageHosts(): Promise<void> {
    if (this.imageHostGain.size === 0) return;
    const list = [...this.imageHostGain].map(([image_id, hosts]) => ({ image_id, hosts }));
    this.imageHostGain.clear();
    await this.insertRows('image_hosts', list, (q, values) =>
      q
        .insertInto('image_hosts')
        .values(values)
        .onConflict((oc) => oc.column('image_id').doUpdateSet({ hosts: sql`image_hosts.hosts + excluded.hosts` })),
    );
  }

  private async imageId(sha256: string): Promise<number> {
    const t = await this.idTables();
    let id = t.images.get(sha256);
    if (id === undefined) {
      id = Number(await this.stmt('insertImageId', () => this.k.insertInto('images').values({ sha256: p('sha256') }).returning('id')).pluck({ sha256 }).then((r) => r[0]));
      t.images.set(sha256, id);
      if (id > t.maxImage) t.maxImage = id;
    }
    return id;
  }

  private async pathId(path: string): Promise<number> {
    const t = await this.idTables();
    const hit = t.exact.get(path);
    if (hit !== undefined) return hit;
    const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
    const folder = path.slice(0, i + 1);
    const name = path.slice(i + 1);
    const fk = folderKey(folder);
    let fid = t.folders.get(fk);
    if (fid === undefined) {
      fid = Number((await this.stmt('insertFolder', () => this.k.insertInto('folders').values({ path: p('path') }).returning('id')).pluck({ path: folder }))[0]);
      t.folders.set(fk, fid);
      if (fk !== folder) t.winFolders.add(fid);
      if (fid > t.maxFolder) t.maxFolder = fid;
    }
    const pk = `${fid}\0${fk === folder ? name : name.toLowerCase()}`;
    let pid = t.paths.get(pk);
    if (pid === undefined) {
      pid = Number((await this.stmt('insertPath', () => this.k.insertInto('paths').values({ folder_id: p('folderId'), name: p('name') }).returning('id')).pluck({ folderId: fid, name }))[0]);
      t.paths.set(pk, pid);
      if (pid > t.maxPath) t.maxPath = pid;
    }
    t.exact.set(path, pid);
    return pid;
  }

  /** The id of file i's image, when the base holds it (-1: it does not). */
  private imageIdAt(files: FileColumns, i: number): number {
    const t = this.ids!;
    let id = t.imageCache.get(files.sha, 32 * i);
    if (id < 0) {
      id = t.images.get(shaAt(files, i)!) ?? -1;
      if (id >= 0) t.imageCache.set(files.sha, 32 * i, id);
    }
    return id;
  }

  /** The id of file i's path, made when it is new (called on a miss of the path cache). */
  private async newPathIdAt(files: FileColumns, i: number): Promise<number> {
    const id = await this.pathId(pathAt(files, i));
    this.ids!.pathCache.set(files, i, id);
    return id;
  }

  /**
   * Adds one report's files to its host's inventory (every file with a hash whose image the
   * base holds); the images the host did not have before. `imageIds`: each file's image id as
   * found before the report's images were stored (-1: look again, it may be one of them).
   */
  private async addInventory(hostId: number, files: FileColumns, imageIds: Int32Array, seenIso: string): Promise<number[]> {
    const t = await this.idTables();
    const seen = Math.floor(Date.parse(seenIso) / 1000) || 0;
    const { count, flags } = files;
    const keys = new Float64Array(count);
    let m = 0;
    for (let i = 0; i < count; i++) {
      if ((flags[i] & FILE_HASHED) === 0) continue;
      const imageId = imageIds[i] >= 0 ? imageIds[i] : this.imageIdAt(files, i);
      if (imageId < 0) continue;
      // a path met before needs no await (most of a fleet's paths repeat from host to host)
      const pathId = t.pathCache.get(files, i);
      keys[m++] = inventoryKey(pathId >= 0 ? pathId : await this.newPathIdAt(files, i), imageId);
    }
    const old = (await this.stmt('getInventory', () => this.k.selectFrom('host_inventory').select('data').where('host_id', '=', p('hostId'))).pluck<Uint8Array>({ hostId }))[0];
    const inv = addToInventory(old ?? null, keys.subarray(0, m), seen);
    await this.stmt('putInventory', () =>
      this.k
        .insertInto('host_inventory')
        .values({ host_id: p('hostId'), entries: p('entries'), first_seen: p('first'), last_seen: p('last'), data: p('data') })
        .onConflict((oc) => oc.column('host_id').doUpdateSet({ entries: sql`excluded.entries`, first_seen: sql`excluded.first_seen`, last_seen: sql`excluded.last_seen`, data: sql`excluded.data` })),
    ).run({ hostId, entries: inv.entries, first: inv.first, last: inv.last, data: inv.blob });
    return inv.added;
  }

  /** The images this base holds (for `pooltag export --format known`). */
  async knownHashes(): Promise<string[]> {
    return this.pluck<string>(this.q.selectFrom('drivers').select('sha256'));
  }

  /** A host's inventory: which image at which path, first and last seen (ISO 8601). */
  async hostInventory(hostName: string): Promise<{ path: string; sha256: string; firstSeen: string; lastSeen: string }[]> {
    const row = await this.one<Uint8Array>(sql`SELECT i.data FROM host_inventory i JOIN hosts h ON h.id = i.host_id WHERE h.name = ${hostName}`);
    if (!row) return [];
    return (await this.describeEntries(decodeInventory(row))).map(({ host: _h, ...e }) => e);
  }

  /**
   * Where an image is: every host and path with first and last seen. Reads every host's blob
   * (a second or two for 100,000 hosts): an investigation's question, not a lookup's.
   */
  async imageHosts(sha256: string): Promise<{ host: string; path: string; firstSeen: string; lastSeen: string }[]> {
    const id = await this.one<number>(sql`SELECT id FROM images WHERE sha256 = ${sha256}`);
    if (id === undefined) return [];
    const out: { host: string; path: string; firstSeen: string; lastSeen: string }[] = [];
    for (const r of await this.all<{ name: string; data: Uint8Array }>(sql`SELECT h.name, i.data FROM host_inventory i JOIN hosts h ON h.id = i.host_id ORDER BY h.name`)) {
      const hits = decodeInventory(r.data).filter((e) => e.imageId === id);
      for (const e of await this.describeEntries(hits, r.name)) out.push({ host: e.host, path: e.path, firstSeen: e.firstSeen, lastSeen: e.lastSeen });
    }
    return out;
  }

  private async describeEntries(entries: InventoryEntry[], host = '') {
    const pathOf = this.stmt('pathOf', () => sql`SELECT f.path || p.name AS path FROM paths p JOIN folders f ON f.id = p.folder_id WHERE p.id = ${p('id')}`);
    const shaOf = this.stmt('shaOf', () => sql`SELECT sha256 FROM images WHERE id = ${p('id')}`);
    const iso = (t: number) => new Date(t * 1000).toISOString();
    const out = [];
    for (const e of entries) out.push({ host, path: (await pathOf.pluck<string>({ id: e.pathId }))[0], sha256: (await shaOf.pluck<string>({ id: e.imageId }))[0], firstSeen: iso(e.first), lastSeen: iso(e.last) });
    return out;
  }

  /**
   * Runs `fn` in one transaction: a `pooltag merge` of many reports commits once (each report
   * inside is a savepoint, so one bad report is rolled back alone). Committing once matters:
   * every report touches hundreds of scattered pages, and writing them per report costs more
   * than the merge itself. A command stopped on the way (Ctrl-C) leaves the base as it was.
   */
  async batch<T>(fn: () => Promise<T>): Promise<T> {
    return this.write(fn);
  }

  /** `batch`, for callers that said so (the work awaits between its steps). */
  async batchAsync<T>(fn: () => Promise<T>): Promise<T> {
    if (this.depth > 0) throw new StoreError('batchAsync inside another transaction');
    return this.write(fn);
  }

  /** The SHA-256 of every report file merged (what a merge need not parse again). */
  async mergedContent(): Promise<string[]> {
    return this.pluck<string>(sql`SELECT content_sha256 FROM reports WHERE content_sha256 IS NOT NULL`);
  }

  /** A report file with these bytes was merged before. */
  async hasReportContent(contentSha256: string): Promise<boolean> {
    return (await this.stmt('reportContent', () => sql`SELECT 1 AS one FROM reports WHERE content_sha256 = ${p('sha')} LIMIT 1`).all({ sha: contentSha256 })).length > 0;
  }

  /**
   * Merges one scan report (one transaction, or a savepoint of the batch). A report whose
   * content was merged before is skipped; `digest` identifies it (the host, start time and
   * files it lists).
   */
  /**
   * `digest` is reportDigest(report), and `files` the report's file list as columns, when the
   * caller has them already (a merge's reader threads make both; `report.files` is then unread).
   */
  async mergeReport(report: ScanReport, source: string | null = null, contentSha256: string | null = null, digest: string = reportDigest(report), files: FileColumns = fileColumns(report.files, report.images)): Promise<MergeResult> {
    const host = report.host.name;
    try {
      return await this.write(() => this.mergeInTransaction(report, files, source, contentSha256, digest, host));
    } catch (err) {
      // the report's savepoint was rolled back: ids handed out in it are gone (the host counts
      // of the reports before it in the transaction stand: this one had not added its own)
      this.ids = undefined;
      throw err;
    }
  }

  private async mergeInTransaction(report: ScanReport, files: FileColumns, source: string | null, contentSha256: string | null, digest: string, host: string): Promise<MergeResult> {
    const s = (this.merge ??= this.mergeStmts());
    const { count: n, flags } = files;
    if ((await s.reportByDigest.all({ digest })).length) return { digest, host, skipped: true, newDrivers: 0, files: n };
    const known = new Set(report.images.map((i) => i.sha256));
    // Inventory only (a scan with --known): the base must hold the image; a report made with
    // another base's list is refused whole, not merged without the images it leaves out.
    await this.idTables();
    // each file's image id, -1 when the base does not hold it (yet: see addInventory)
    const imageIds = new Int32Array(n).fill(-1);
    let inventoryOnly = 0;
    let missing = -1;
    let missingCount = 0;
    for (let i = 0; i < n; i++) {
      if ((flags[i] & FILE_HASHED) === 0) continue;
      imageIds[i] = this.imageIdAt(files, i);
      if ((flags[i] & (FILE_KNOWN | FILE_FULL)) !== FILE_KNOWN) continue;
      inventoryOnly++;
      if (imageIds[i] < 0) {
        missingCount++;
        if (missing < 0) missing = i;
      }
    }
    if (missing >= 0) {
      throw new StoreError(
        `${missingCount} of its ${inventoryOnly} inventory-only files are of images this base does not hold (e.g. ${shaAt(files, missing)} at ${pathAt(files, missing)}): the report was scanned with a --known list of another base; merge it into that base, or scan the host again without --known (or with this base's list)`,
      );
    }
    const seen = report.finishedAt ?? report.startedAt;
    const hostRow = await s.upsertHost.get<{ id: number }>({
      name: host,
      platform: report.host.platform,
      os: report.host.os,
      release: report.host.release,
      windowsBuild: report.host.windowsBuild,
      seen,
    });
    const hostId = Number(hostRow!.id);
    await s.insertReport.run({
      digest, hostId, source, startedAt: report.startedAt, finishedAt: report.finishedAt, toolVersion: report.tool.version,
      files: n, images: report.images.length, errors: report.summary.errors, mergedAt: new Date().toISOString(), contentSha256,
    });
    // A known image is not stored again: when and where it was seen lives in sightings.
    const have = new Set<string>();
    const shas = [...known].filter((x) => typeof x === 'string');
    for (const part of chunks(shas, 500)) for (const sha of await this.pluck<string>(this.q.selectFrom('drivers').select('sha256').where('sha256', 'in', part))) have.add(sha);
    let newDrivers = 0;
    const old: ImageRecord[] = [];
    for (const img of report.images) {
      if (have.has(img.sha256)) old.push(img);
      else {
        await this.insertImage(img);
        have.add(img.sha256);
        newDrivers++;
      }
    }
    if (old.length) await this.fillPoolAndSize(old);
    // Sightings. Windows paths do not differ by case: the spelling already recorded for this driver on this host stands.
    const windowsHost = report.host.platform === 'win32';
    const spelled = new Map<string, string>();
    // the files of the images the report brings in full (few: the rest is inventory)
    const fullSha: string[] = [];
    const fullPath: string[] = [];
    for (let i = 0; i < n; i++) {
      if ((flags[i] & (FILE_HASHED | FILE_FULL)) !== (FILE_HASHED | FILE_FULL)) continue;
      fullSha.push(shaAt(files, i)!);
      fullPath.push(pathAt(files, i));
    }
    const seenShas = [...new Set(fullSha)];
    if (windowsHost || fullPath.some(isWindowsPath)) {
      for (const part of chunks(seenShas, 500)) {
        const rs = await this.all<{ sha256: string; path: string }>(this.q.selectFrom('sightings').select(['sha256', 'path']).where('host_id', '=', hostId).where('sha256', 'in', part));
        for (const r of rs) if (!spelled.has(`${r.sha256}\0${foldAscii(r.path)}`)) spelled.set(`${r.sha256}\0${foldAscii(r.path)}`, r.path);
      }
    }
    const sightings = new Map<string, Record<string, unknown>>();
    for (let f = 0; f < fullSha.length; f++) {
      const sha = fullSha[f];
      const p0 = fullPath[f];
      let path = p0;
      if (windowsHost || isWindowsPath(p0)) {
        const k = `${sha}\0${foldAscii(p0)}`;
        const had = spelled.get(k);
        if (had !== undefined) path = had;
        else spelled.set(k, p0);
      }
      sightings.set(`${sha}\0${path}`, { sha256: sha, host_id: hostId, path, name: baseName(p0).toLowerCase(), first_seen: seen, last_seen: seen });
    }
    await this.insertRows('sightings', [...sightings.values()], (q, values) =>
      q
        .insertInto('sightings')
        .values(values)
        .onConflict((oc) =>
          oc.columns(['sha256', 'host_id', 'path']).doUpdateSet({
            first_seen: sql`CASE WHEN excluded.first_seen < sightings.first_seen THEN excluded.first_seen ELSE sightings.first_seen END`,
            last_seen: sql`CASE WHEN excluded.last_seen > sightings.last_seen THEN excluded.last_seen ELSE sightings.last_seen END`,
          }),
        ),
    );
    const added = await this.addInventory(hostId, files, imageIds, seen);
    await this.bump();
    // last, when nothing of the report can fail any more
    for (const image of added) this.imageHostGain.set(image, (this.imageHostGain.get(image) ?? 0) + 1);
    return { digest, host, skipped: false, newDrivers, files: n };
  }

  // ---------------------------------------------------------------------------------------
  // pooltag.txt
  // ---------------------------------------------------------------------------------------

  /**
   * Imports one pooltag.txt. Each distinct file (by content) is a source of its own; an
   * older and a newer copy both stay, so a newer one never erases what an older one said.
   */
  async importPooltag(file: PooltagFile, bytes: Uint8Array, meta: { path: string; label?: string | null; fileDate?: string | null }): Promise<PooltagImportResult> {
    const digest = createHash('sha256').update(bytes).digest('hex');
    return this.write(async (): Promise<PooltagImportResult> => {
      const old = (await this.all<{ id: number; entries: number }>(sql`SELECT id, entries FROM pooltag_sources WHERE digest = ${digest}`))[0];
      if (old) return { digest, sourceId: Number(old.id), entries: Number(old.entries), skipped: true };
      const id = Number(
        await this.one(
          this.q
            .insertInto('pooltag_sources')
            .values({ digest, path: meta.path, label: meta.label ?? null, file_date: meta.fileDate ?? null, imported_at: new Date().toISOString(), entries: file.entries.length })
            .returning('id'),
        ),
      );
      const list = file.entries.map((e) => ({ source_id: id, line: e.line, tag: e.tag, wildcard: e.pattern.kind === 'wildcard' ? 1 : 0, binaries: JSON.stringify(e.binaries), binary_raw: e.binaryRaw, description: e.description }));
      await this.insertRows('pooltag_entries', list, (q, values) => q.insertInto('pooltag_entries').values(values));
      await this.bump();
      return { digest, sourceId: id, entries: file.entries.length, skipped: false };
    });
  }

  // ---------------------------------------------------------------------------------------
  // Notes
  // ---------------------------------------------------------------------------------------

  async addNote(tag: Tag, text: string, author: string | null): Promise<number> {
    return this.write(async () => {
      const id = await this.one(this.q.insertInto('notes').values({ tag_key: tag.matchKey, tag: tag.display, text, author, created_at: new Date().toISOString() }).returning('id'));
      await this.bump();
      return Number(id);
    });
  }

  // ---------------------------------------------------------------------------------------
  // Summary
  // ---------------------------------------------------------------------------------------

  async stats() {
    return this.read(async () => {
      const n = async (query: RawBuilder<unknown>) => Number((await this.one(query)) ?? 0);
      const index = (await this.all<{ generation: number; builtAt: string; documents: number; terms: number; bytes: number }>(
        sql`SELECT generation, built_at AS "builtAt", documents, terms, bytes FROM search_index WHERE id = 1`,
      ))[0];
      return {
        path: this.path,
        backend: this.backend,
        schemaVersion: await this.schemaVersion(),
        generation: await this.generation(),
        hosts: await n(sql`SELECT count(*) FROM hosts`),
        reports: await n(sql`SELECT count(*) FROM reports`),
        drivers: await n(sql`SELECT count(*) FROM drivers`),
        sightings: await n(sql`SELECT count(*) FROM sightings`),
        /** Host inventory: (host, path, image) entries, and the hosts that have one. */
        inventory: await n(sql`SELECT coalesce(sum(entries), 0) FROM host_inventory`),
        inventoryHosts: await n(sql`SELECT count(*) FROM host_inventory`),
        evidence: await n(sql`SELECT count(*) FROM evidence`),
        distinctTags: await n(sql`SELECT count(DISTINCT tag_key) FROM evidence WHERE shared = 0`),
        driversWithTags: await n(sql`SELECT count(DISTINCT sha256) FROM evidence WHERE shared = 0`),
        pooltagSources: (await this.all<{ id: number; path: string; label: string | null; fileDate: string | null; importedAt: string; entries: number }>(
          sql`SELECT id, path, label, file_date AS "fileDate", imported_at AS "importedAt", entries FROM pooltag_sources ORDER BY id`,
        )),
        pooltagEntries: await n(sql`SELECT count(*) FROM pooltag_entries`),
        notes: await n(sql`SELECT count(*) FROM notes`),
        lastMerge: ((await this.one<string | null>(sql`SELECT max(merged_at) FROM reports`)) ?? null) as string | null,
        index: index ? { generation: Number(index.generation), builtAt: index.builtAt, documents: index.documents, terms: index.terms, bytes: index.bytes } : null,
      };
    });
  }
}

/** drivers' columns and the merge's parameter names. */
const DRIVER_FIELDS: [string, string][] = [
  ['sha256', 'sha256'], ['size', 'size'], ['format', 'format'], ['machine', 'machine'], ['arch', 'arch'], ['subsystem', 'subsystem'], ['timestamp', 'timestamp'],
  ['file_version', 'fileVersion'], ['product_version', 'productVersion'], ['company', 'company'], ['product', 'product'], ['description', 'description'],
  ['original_filename', 'originalFilename'], ['internal_name', 'internalName'], ['signer', 'signer'], ['signer_org', 'signerOrg'], ['issuer', 'issuer'],
  ['signing_time', 'signingTime'], ['pdb_path', 'pdbPath'], ['pdb_guid', 'pdbGuid'], ['pdb_age', 'pdbAge'], ['version_strings', 'versionStrings'],
  ['import_modules', 'importModules'], ['strings', 'strings'], ['unresolved', 'unresolved'], ['function_names', 'functionNames'],
];

export { reportDigest } from '../report/digest.js';
