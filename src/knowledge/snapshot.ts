/**
 * The whole base read at once, for the exports: a handful of bulk queries (one scan of each
 * table) instead of the dozen small queries `lookup` runs per tag and per image. Each map holds
 * exactly what the per-tag query of the same name returns, in the same order, so that an
 * answer built from the snapshot is the answer `lookup` gives (test/export-bulk.test.ts).
 *
 * It trades memory for time: a base of 10,000 drivers and 200,000 call sites is read in well
 * under a second, where a lookup per tag took 50,000 times 130 µs.
 */
import { sql } from './kysely.js';

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
export async function readSnapshot(store: Store): Promise<BaseSnapshot> {
  return store.read(async () => {
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
    for (const r of await store.all<DriverRow>(sql.raw(`SELECT ${DRIVER_COLUMNS} FROM drivers`))) s.drivers.set(r.sha256, r);
    for (const r of await store.all<{ sha256: string; name: string }>(sql`SELECT sha256, name FROM sightings GROUP BY sha256, name ORDER BY sha256, count(*) DESC, name`)) push(s.names, r.sha256, r.name);
    for (const r of await store.all<SeenRow & { sha256: string }>(sql`SELECT sha256, count(DISTINCT host_id) AS hosts, count(*) AS paths, min(first_seen) AS first, max(last_seen) AS last FROM sightings GROUP BY sha256`)) {
      s.seen.set(r.sha256, { hosts: r.hosts, paths: r.paths, first: r.first, last: r.last });
    }
    for (const r of await store.all<{ sha256: string; hosts: number }>(sql`SELECT i.sha256, h.hosts FROM image_hosts h JOIN images i ON i.id = h.image_id`)) s.inventoryHosts.set(r.sha256, Number(r.hosts));
    for (const r of await store.all<{ sha256: string; path: string }>(sql`SELECT sha256, path FROM sightings GROUP BY sha256, path ORDER BY sha256, max(last_seen) DESC, path`)) {
      const l = s.paths.get(r.sha256);
      if (!l) s.paths.set(r.sha256, [r.path]);
      else if (l.length < PATH_LIMIT) l.push(r.path);
    }
    for (const r of await store.all<{ name: string; sha256: string }>(sql`SELECT DISTINCT name, sha256 FROM sightings ORDER BY name, sha256`)) push(s.shasByName, r.name, r.sha256);
    for (const r of await store.all<EvidenceRow & { sha256: string; tag_key: string }>(sql.raw(`SELECT sha256, tag_key, ${EVIDENCE_COLUMNS} FROM evidence ORDER BY sha256, call_site_rva, routine, ulong`))) {
      const row: EvidenceRow = { routine: r.routine, kind: r.kind, call_site_rva: r.call_site_rva, function_rva: r.function_rva, recovery: r.recovery, confidence: r.confidence, wrappers: r.wrappers, alternatives: r.alternatives, pool: r.pool, size: r.size };
      const k = `${r.sha256}\0${r.tag_key}`;
      const l = s.evidence.get(k);
      if (l) l.push(row);
      else {
        s.evidence.set(k, [row]);
        push(s.evidenceShas, r.tag_key, r.sha256); // images arrive in SHA-256 order
      }
    }
    for (const r of await store.all<{ tag_key: string; sha256: string }>(sql`SELECT tag_key, sha256 FROM tag_strings ORDER BY tag_key, sha256`)) push(s.tagStrings, r.tag_key, r.sha256);
    for (const r of await store.all<NoteRow & { tag_key: string }>(sql`SELECT tag_key, text, author, created_at FROM notes ORDER BY tag_key, created_at, id`)) {
      push(s.notes, r.tag_key, { text: r.text, author: r.author, created_at: r.created_at });
    }
    for (const e of await store.all<EntryRow>(sql.raw(`SELECT ${ENTRY_COLUMNS} FROM pooltag_entries p JOIN pooltag_sources s ON s.id = p.source_id ORDER BY p.tag, p.source_id, p.line`))) {
      if (e.wildcard) s.wildcardEntries.push(e);
      else push(s.entries, e.tag, e);
    }
    s.wildcardEntries.sort((a, b) => a.source_id - b.source_id || a.line - b.line);
    return s;
  });
}
