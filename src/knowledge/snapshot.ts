/**
 * The whole base read at once, for the exports: a handful of bulk queries (one scan of each
 * table) instead of the dozen small queries `lookup` runs per tag and per image. Each map holds
 * exactly what the per-tag query of the same name returns, in the same order, so that an
 * answer built from the snapshot is the answer `lookup` gives (test/export-bulk.test.ts).
 *
 * It trades memory for time: a base of 10,000 drivers and 200,000 call sites is read in well
 * under a second, where a lookup per tag took 50,000 times 130 µs.
 */
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

export interface BaseSnapshot {
  drivers: Map<string, DriverRow>;
  /** File names an image was seen under, most common first. */
  names: Map<string, string[]>;
  seen: Map<string, SeenRow>;
  /** Hosts whose inventory has the image, by SHA-256 (image_hosts). */
  inventoryHosts: Map<string, number>;
  /** Up to PATH_LIMIT paths per image, most recently seen first. */
  paths: Map<string, string[]>;
  /** Call sites by `sha256 \0 tag_key`, by address. */
  evidence: Map<string, EvidenceRow[]>;
  /** Images with call sites of a tag key, by SHA-256. */
  evidenceShas: Map<string, string[]>;
  /** Images seen under a (lower-case) file name, by SHA-256. */
  shasByName: Map<string, string[]>;
  /** Images with a tag-like string, by SHA-256. */
  tagStrings: Map<string, string[]>;
  notes: Map<string, NoteRow[]>;
  /** Exact pooltag.txt entries by their tag column, by source and line. */
  entries: Map<string, EntryRow[]>;
  wildcardEntries: EntryRow[];
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

/** Reads the whole base in one pass per table (one read transaction: a consistent picture). */
export function readSnapshot(store: Store): BaseSnapshot {
  const db = store.db;
  const read = () => {
    const s: BaseSnapshot = {
      drivers: new Map(),
      names: new Map(),
      seen: new Map(),
      inventoryHosts: new Map(),
      paths: new Map(),
      evidence: new Map(),
      evidenceShas: new Map(),
      shasByName: new Map(),
      tagStrings: new Map(),
      notes: new Map(),
      entries: new Map(),
      wildcardEntries: [],
    };
    for (const r of db.prepare(`SELECT ${DRIVER_COLUMNS} FROM drivers`).iterate() as Iterable<DriverRow>) s.drivers.set(r.sha256, r);
    for (const [sha, name] of db.prepare('SELECT sha256, name FROM sightings GROUP BY sha256, name ORDER BY sha256, count(*) DESC, name').raw().iterate() as Iterable<[string, string]>) push(s.names, sha, name);
    for (const r of db.prepare('SELECT sha256, count(DISTINCT host_id) AS hosts, count(*) AS paths, min(first_seen) AS first, max(last_seen) AS last FROM sightings GROUP BY sha256').iterate() as Iterable<SeenRow & { sha256: string }>) {
      s.seen.set(r.sha256, { hosts: r.hosts, paths: r.paths, first: r.first, last: r.last });
    }
    for (const [sha, n] of db.prepare('SELECT i.sha256, h.hosts FROM image_hosts h JOIN images i ON i.id = h.image_id').raw().iterate() as Iterable<[string, number]>) s.inventoryHosts.set(sha, n);
    for (const [sha, path] of db.prepare('SELECT sha256, path FROM sightings GROUP BY sha256, path ORDER BY sha256, max(last_seen) DESC, path').raw().iterate() as Iterable<[string, string]>) {
      const l = s.paths.get(sha);
      if (!l) s.paths.set(sha, [path]);
      else if (l.length < PATH_LIMIT) l.push(path);
    }
    for (const [name, sha] of db.prepare('SELECT DISTINCT name, sha256 FROM sightings ORDER BY name, sha256').raw().iterate() as Iterable<[string, string]>) push(s.shasByName, name, sha);
    type Raw = [string, string, string, string, number, number | null, string, string, string | null, number | null, string | null, string | null];
    for (const r of db.prepare(`SELECT sha256, tag_key, ${EVIDENCE_COLUMNS} FROM evidence ORDER BY sha256, call_site_rva, routine, ulong`).raw().iterate() as Iterable<Raw>) {
      const row: EvidenceRow = { routine: r[2], kind: r[3], call_site_rva: r[4], function_rva: r[5], recovery: r[6], confidence: r[7], wrappers: r[8], alternatives: r[9], pool: r[10], size: r[11] };
      const k = `${r[0]}\0${r[1]}`;
      const l = s.evidence.get(k);
      if (l) l.push(row);
      else {
        s.evidence.set(k, [row]);
        push(s.evidenceShas, r[1], r[0]); // images arrive in SHA-256 order
      }
    }
    for (const [key, sha] of db.prepare('SELECT tag_key, sha256 FROM tag_strings ORDER BY tag_key, sha256').raw().iterate() as Iterable<[string, string]>) push(s.tagStrings, key, sha);
    for (const r of db.prepare('SELECT tag_key, text, author, created_at FROM notes ORDER BY tag_key, created_at, id').iterate() as Iterable<NoteRow & { tag_key: string }>) {
      push(s.notes, r.tag_key, { text: r.text, author: r.author, created_at: r.created_at });
    }
    for (const e of db.prepare(`SELECT ${ENTRY_COLUMNS} FROM pooltag_entries p JOIN pooltag_sources s ON s.id = p.source_id ORDER BY p.tag, p.source_id, p.line`).iterate() as Iterable<EntryRow>) {
      if (e.wildcard) s.wildcardEntries.push(e);
      else push(s.entries, e.tag, e);
    }
    s.wildcardEntries.sort((a, b) => a.source_id - b.source_id || a.line - b.line);
    return s;
  };
  return db.inTransaction ? read() : db.transaction(read).deferred();
}
