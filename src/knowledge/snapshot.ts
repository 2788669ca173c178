/**
 * The whole base read at once, for the exports: a handful of bulk queries (one scan of each
 * table) instead of the dozen small queries `lookup` runs per tag and per image. Each map holds
 * exactly what the per-tag query of the same name returns, in the same order, so that an
 * answer built from the snapshot is the answer `lookup` gives (test/export-bulk.test.ts).
 *
 * It is read lean: rows as arrays (no object per row on SQLite), only the columns an export
 * shows, and the call sites one row per image (their columns joined in SQL, in address order),
 * split here into each tag's sites; a call site the same as one already read (routine,
 * confidence, recovery, pool, size) is the same object, and a tag's list of sites the same as
 * another image's is the same array, so that what is made of it is made once.
 */
import { sql, type RawBuilder } from './kysely.js';

import { normalizeTag4 } from './pooltag-txt.js';
import type { Store } from './store.js';

/** A driver image's row, as answers read it. */
export type DriverRow = {
  sha256: string;
  file_version: string | null;
  company: string | null;
  product: string | null;
  description: string | null;
  original_filename: string | null;
  signer: string | null;
  arch: string | null;
  pdb_path: string | null;
  timestamp: number | null;
  function_names: string | null;
};

/** One call site of one tag in one image. */
export type EvidenceRow = { tag?: string; ulong?: number; shared?: number; routine: string; kind: string; call_site_rva: number; function_rva: number | null; recovery: string; confidence: string; wrappers: string | null; alternatives: number | null; pool: string | null; size: string | null };

/** Where an image was seen, summed over its sightings. */
export type SeenRow = { hosts: number; paths: number; first: string | null; last: string | null };

/** A pooltag.txt entry with its source. */
export type EntryRow = { tag: string; wildcard: number; binaries: string; binary_raw: string | null; description: string; line: number; path: string; label: string | null; file_date: string | null; source_id: number };

export type NoteRow = { text: string; author: string | null; created_at: string };

/** The SQL of the per-image and per-tag reads, shared by the single reads and the bulk ones. */
export const DRIVER_COLUMNS = 'sha256, file_version, company, product, description, original_filename, signer, arch, pdb_path, timestamp, function_names';
export const EVIDENCE_COLUMNS = 'routine, kind, call_site_rva, function_rva, recovery, confidence, wrappers, alternatives, pool, size';
export const ENTRY_COLUMNS = 'p.tag, p.wildcard, p.binaries, p.binary_raw, p.description, p.line, s.path, s.label, s.file_date, s.id AS source_id';
/** How many images one pooltag.txt entry's file names, or one tag's strings, bring at most. */
export const NAMED_LIMIT = 50;
/** How many paths of an image an answer lists. */
export const PATH_LIMIT = 5;

export const NO_SIGHTING: SeenRow = { hosts: 0, paths: 0, first: null, last: null };

/** A driver image's row as the exports read it (its function names are not shown). */
export type SnapshotDriver = Omit<DriverRow, 'function_names'>;

/**
 * One call site of a tag in an image, as the exports use it. `wrapped`: it is reached through a
 * wrapper chain (a non-empty `wrappers` list). Sites that are the same in these columns are one
 * object.
 */
export interface EvidenceSite {
  routine: string;
  confidence: string;
  recovery: string;
  wrapped: boolean;
  /** The `pool` and `size` columns (JSON), as stored. */
  pool: string | null;
  size: string | null;
}

export interface BaseSnapshot {
  drivers: Map<string, SnapshotDriver>;
  /** File names an image was seen under, most common first. */
  names: Map<string, string[]>;
  seen: Map<string, SeenRow>;
  /** Hosts whose inventory has the image, by SHA-256 (image_hosts). */
  inventoryHosts: Map<string, number>;
  /** Up to PATH_LIMIT paths per image, most recently seen first. */
  paths: Map<string, string[]>;
  /**
   * Call sites by tag key, then by image (images by SHA-256), each image's sites by address
   * (then routine, then tag value: the evidence's key order).
   */
  evidence: Map<string, Map<string, readonly EvidenceSite[]>>;
  /** Images seen under a (lower-case) file name, by SHA-256. */
  shasByName: Map<string, string[]>;
  /** Images with a tag-like string, by SHA-256: for the tag keys an export writes (call sites, pooltag.txt, notes). */
  tagStrings: Map<string, string[]>;
  notes: Map<string, NoteRow[]>;
  /** Exact pooltag.txt entries by their tag column, by source and line. */
  entries: Map<string, EntryRow[]>;
  /** Wildcard entries, by source and line. */
  wildcardEntries: EntryRow[];
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

/** Rows as arrays of their columns, in the SELECT's order (SQLite: better-sqlite3's raw mode, no object per row). */
export async function rawRows(store: Store, query: RawBuilder<unknown>): Promise<unknown[][]> {
  if (store.sqlite) {
    const c = query.compile(store.k);
    return store.sqlite.prepare(c.sql).raw(true).all(...c.parameters) as unknown[][];
  }
  return (await store.all<Record<string, unknown>>(query)).map((r) => Object.values(r));
}

/** `wrappers` holds a chain (the merge writes NULL for none, else a JSON list). */
const WRAPPED = `CASE WHEN wrappers IS NULL OR wrappers IN ('', '[]', 'null') THEN '' ELSE 'w' END`;

/** Separators of the call sites joined in SQL: a site's columns, and the sites of an image. */
const FIELD = '\x1f';
const SITE = '\x1e';

/**
 * Each image's call sites as one text: `tag_key FIELD routine FIELD confidence FIELD recovery
 * FIELD wrapped FIELD pool FIELD size`, SITE between sites, by address; and how many. A column
 * that holds a separator (a hostile report can put anything in a routine's name) shows as a
 * site with more fields, or more sites than the count: that image's rows are read one by one.
 */
function evidenceByImage(store: Store): RawBuilder<unknown> {
  const ch = (n: number) => (store.backend === 'postgres' ? `chr(${n})` : `char(${n})`);
  const site = ['tag_key', 'routine', 'confidence', 'recovery', WRAPPED, "coalesce(pool, '')", "coalesce(size, '')"].join(` || ${ch(31)} || `);
  const agg = store.backend === 'postgres' ? 'string_agg' : 'group_concat';
  return sql.raw(`SELECT sha256, count(*), ${agg}(${site}, ${ch(30)} ORDER BY call_site_rva, routine, ulong) FROM evidence GROUP BY sha256 ORDER BY sha256`);
}

/**
 * Reads the whole base in one pass per table (one read transaction: a consistent picture).
 * `paths: false` leaves `paths` empty (only the page lists where an image was seen).
 */
export async function readSnapshot(store: Store, opts: { paths?: boolean } = {}): Promise<BaseSnapshot> {
  return store.read(async () => {
    const s: BaseSnapshot = {
      drivers: new Map(),
      names: new Map(),
      seen: new Map(),
      inventoryHosts: new Map(),
      paths: new Map(),
      evidence: new Map(),
      shasByName: new Map(),
      tagStrings: new Map(),
      notes: new Map(),
      entries: new Map(),
      wildcardEntries: [],
    };
    const driverColumns = DRIVER_COLUMNS.replace(', function_names', '');
    for (const r of await rawRows(store, sql.raw(`SELECT ${driverColumns} FROM drivers`))) {
      const [sha256, file_version, company, product, description, original_filename, signer, arch, pdb_path, timestamp] = r as (string | null)[];
      s.drivers.set(sha256!, { sha256: sha256!, file_version, company, product, description, original_filename, signer, arch, pdb_path, timestamp: timestamp as number | null });
    }
    for (const [sha, name] of (await rawRows(store, sql`SELECT sha256, name FROM sightings GROUP BY sha256, name ORDER BY sha256, count(*) DESC, name`)) as string[][]) push(s.names, sha, name);
    for (const [sha, hosts, paths, first, last] of await rawRows(store, sql`SELECT sha256, count(DISTINCT host_id) AS hosts, count(*) AS paths, min(first_seen) AS first, max(last_seen) AS last FROM sightings GROUP BY sha256`)) {
      s.seen.set(sha as string, { hosts: hosts as number, paths: paths as number, first: first as string | null, last: last as string | null });
    }
    for (const [sha, hosts] of await rawRows(store, sql`SELECT i.sha256, h.hosts FROM image_hosts h JOIN images i ON i.id = h.image_id`)) s.inventoryHosts.set(sha as string, Number(hosts));
    if (opts.paths !== false) for (const [sha, path] of (await rawRows(store, sql`SELECT sha256, path FROM sightings GROUP BY sha256, path ORDER BY sha256, max(last_seen) DESC, path`)) as string[][]) {
      const l = s.paths.get(sha);
      if (!l) s.paths.set(sha, [path]);
      else if (l.length < PATH_LIMIT) l.push(path);
    }
    for (const [name, sha] of (await rawRows(store, sql`SELECT DISTINCT name, sha256 FROM sightings ORDER BY name, sha256`)) as string[][]) push(s.shasByName, name, sha);

    // Call sites: one row per image; identical sites, and identical lists of a tag's sites, shared.
    const sites = new Map<string, EvidenceSite>();
    const lists = new Map<string, EvidenceSite[]>();
    const ids = new Map<EvidenceSite, number>();
    const siteOf = (routine: string, confidence: string, recovery: string, wrapped: boolean, pool: string | null, size: string | null, key: string) => {
      let site = sites.get(key);
      if (!site) {
        sites.set(key, (site = { routine, confidence, recovery, wrapped, pool, size }));
        ids.set(site, ids.size);
      }
      return site;
    };
    const addImage = (sha: string, byTag: Map<string, EvidenceSite[]>) => {
      for (const [tag, list] of byTag) {
        const sig = list.map((x) => ids.get(x)).join(',');
        let shared = lists.get(sig);
        if (!shared) lists.set(sig, (shared = list));
        let m = s.evidence.get(tag);
        if (!m) s.evidence.set(tag, (m = new Map()));
        m.set(sha, shared);
      }
    };
    for (const [sha, count, text] of (await rawRows(store, evidenceByImage(store))) as [string, number, string][]) {
      let byTag: Map<string, EvidenceSite[]> | null = new Map();
      const parts = text.split(SITE);
      if (parts.length === Number(count)) {
        for (const part of parts) {
          const i = part.indexOf(FIELD);
          const key = part.slice(i + 1);
          let site = sites.get(key); // a known key has the six fields
          if (!site) {
            const f = key.split(FIELD);
            if (f.length !== 6) {
              byTag = null;
              break;
            }
            site = siteOf(f[0], f[1], f[2], f[3] === 'w', f[4] === '' ? null : f[4], f[5] === '' ? null : f[5], key);
          }
          push(byTag, part.slice(0, i), site);
        }
      } else byTag = null;
      if (!byTag) {
        byTag = new Map();
        // A separator inside a column: this image's rows as they are.
        for (const [tag, routine, confidence, recovery, wrapped, pool, size] of (await rawRows(
          store,
          sql`SELECT tag_key, routine, confidence, recovery, ${sql.raw(WRAPPED)}, pool, size FROM evidence WHERE sha256 = ${sha} ORDER BY call_site_rva, routine, ulong`,
        )) as string[][]) {
          push(byTag, tag, siteOf(routine, confidence, recovery, wrapped === 'w', pool, size, JSON.stringify([routine, confidence, recovery, wrapped, pool, size])));
        }
      }
      addImage(sha, byTag);
    }

    for (const e of await store.all<EntryRow>(sql.raw(`SELECT ${ENTRY_COLUMNS} FROM pooltag_entries p JOIN pooltag_sources s ON s.id = p.source_id ORDER BY p.tag, p.source_id, p.line`))) {
      if (e.wildcard) s.wildcardEntries.push(e);
      else push(s.entries, e.tag, e);
    }
    s.wildcardEntries.sort((a, b) => a.source_id - b.source_id || a.line - b.line);
    for (const [tag, text, author, created_at] of (await rawRows(store, sql`SELECT tag_key, text, author, created_at FROM notes ORDER BY tag_key, created_at, id`)) as string[][]) {
      push(s.notes, tag, { text, author, created_at });
    }
    // Tag-like strings of the tags an export writes only (most strings name no known tag).
    const entryKeys = [...new Set([...s.entries.keys()].map(normalizeTag4).filter((k) => !s.entries.has(k)))];
    const known = sql`tag_key IN (SELECT tag_key FROM evidence) OR tag_key IN (SELECT tag_key FROM notes) OR tag_key IN (SELECT tag FROM pooltag_entries WHERE wildcard = 0)`;
    const strings = (await rawRows(store, sql`SELECT tag_key, sha256 FROM tag_strings WHERE ${known} ORDER BY tag_key, sha256`)) as string[][];
    for (let i = 0; i < entryKeys.length; i += 500) {
      strings.push(...((await rawRows(store, sql`SELECT tag_key, sha256 FROM tag_strings WHERE tag_key IN (${sql.join(entryKeys.slice(i, i + 500))})`)) as string[][]));
    }
    const byKey = new Map<string, string[]>();
    for (const [tag, sha] of strings) push(byKey, tag, sha);
    for (const [tag, shas] of byKey) s.tagStrings.set(tag, [...new Set(shas)].sort());
    return s;
  });
}
