/**
 * The full-text index (lunr) over the knowledge base: drivers, pooltag.txt entries and notes.
 *
 * Tags must stay whole, case-sensitive tokens, but lunr lower-cases every token and every
 * query term, and its pipeline trims and stems. So the tag field holds each tag as `t` + the
 * 8 hex digits of its ULONG (PROTECTED_POOL masked): `ShAp` -> `t70416853`, `shap` ->
 * `t70616873`. Hex survives lower-casing, and our stemmer leaves such tokens alone; text
 * fields (names, vendor, descriptions, strings) keep lunr's pipeline. Queries are rewritten
 * the same way: `tag:ShAp` -> `tag:t70416853`, and a bare term of up to 4 characters also
 * searches the tag field.
 *
 * The serialised index is stored in the base (table search_index) with the generation of the
 * base it was built from; it is rebuilt when the base has changed.
 */
import lunr from 'lunr';

import type { Store } from './store.js';
import { baseName } from './store.js';
import { parseTag, Tag } from '../tag/tag.js';

const TAG_TOKEN = /^t[0-9a-f]{8}$/;

/** lunr's stemmer, except for tag tokens. Registered so that a loaded index finds it by name. */
const stemmer: lunr.PipelineFunction = (token, i, tokens) => (TAG_TOKEN.test(token.toString()) ? token : (lunr.stemmer as unknown as lunr.PipelineFunction)(token, i, tokens));
lunr.Pipeline.registerFunction(stemmer, 'pooltagStemmer');

/** The index token of a tag: `t` + the ULONG of its match key (PROTECTED_POOL masked, NULs as spaces). */
export function tagToken(t: Tag): string {
  return keyToken(t.matchKey);
}

function keyToken(key: string): string {
  return 't' + Tag.fromMatchKey(key).ulong.toString(16).padStart(8, '0');
}

export interface BuiltIndex {
  index: lunr.Index;
  documents: number;
  ms: number;
}

/** Thrown out of a build that another writer made stale (see refreshSearchIndex). */
class Superseded extends Error {}

/**
 * Builds the index from the base (does not store it). `stale`, asked every 1,000 documents,
 * stops the build when it says the base changed under it.
 */
export function buildSearchIndex(store: Store, stale?: () => boolean): BuiltIndex {
  const t0 = performance.now();
  const db = store.db;
  const check = (n: number) => {
    if (stale && n % 1000 === 999 && stale()) throw new Superseded();
  };
  const tagsBySha = new Map<string, string[]>();
  for (const r of db.prepare('SELECT DISTINCT sha256, tag_key FROM evidence').iterate() as Iterable<{ sha256: string; tag_key: string }>) {
    let l = tagsBySha.get(r.sha256);
    if (!l) tagsBySha.set(r.sha256, (l = []));
    l.push(keyToken(r.tag_key));
  }
  const namesBySha = new Map<string, Set<string>>();
  for (const r of db.prepare('SELECT DISTINCT sha256, name FROM sightings').iterate() as Iterable<{ sha256: string; name: string }>) {
    let s = namesBySha.get(r.sha256);
    if (!s) namesBySha.set(r.sha256, (s = new Set()));
    s.add(r.name);
  }
  let documents = 0;
  const idx = lunr(function () {
    this.pipeline.reset();
    this.pipeline.add(lunr.trimmer, lunr.stopWordFilter, stemmer);
    this.searchPipeline.reset();
    this.searchPipeline.add(stemmer);
    this.ref('id');
    this.field('tag');
    this.field('name', { boost: 4 });
    this.field('vendor', { boost: 2 });
    this.field('product');
    this.field('pdb', { boost: 2 });
    this.field('owner', { boost: 3 });
    this.field('text');
    this.field('strings');
    this.metadataWhitelist = [];

    for (const d of db.prepare('SELECT sha256, company, product, description, signer, signer_org, pdb_path, original_filename, internal_name, strings FROM drivers').iterate() as Iterable<
      Record<string, string | null>
    >) {
      const names = [...(namesBySha.get(d.sha256!) ?? [])];
      if (d.original_filename) names.push(d.original_filename);
      if (d.internal_name) names.push(d.internal_name);
      const strings = d.strings ? (JSON.parse(d.strings) as { text: string }[]).map((s) => s.text).join(' ') : '';
      this.add({
        id: `d:${d.sha256}`,
        tag: (tagsBySha.get(d.sha256!) ?? []).join(' '),
        name: names.map(nameWords).join(' '),
        vendor: [d.company, d.signer, d.signer_org].filter(Boolean).join(' '),
        product: [d.product, d.description].filter(Boolean).join(' '),
        pdb: d.pdb_path ? nameWords(baseName(d.pdb_path)) : '',
        strings,
      });
      check(documents++);
    }
    for (const e of db.prepare('SELECT source_id, line, tag, binary_raw, description FROM pooltag_entries').iterate() as Iterable<{
      source_id: number;
      line: number;
      tag: string;
      binary_raw: string | null;
      description: string;
    }>) {
      this.add({ id: `p:${e.source_id}:${e.line}`, tag: /[?*]/.test(e.tag) ? '' : keyToken(e.tag), owner: e.binary_raw ? nameWords(e.binary_raw) : '', text: e.description });
      check(documents++);
    }
    for (const n of db.prepare('SELECT id, tag_key, text FROM notes').iterate() as Iterable<{ id: number; tag_key: string; text: string }>) {
      this.add({ id: `n:${n.id}`, tag: keyToken(n.tag_key), text: n.text });
      check(documents++);
    }
  });
  return { index: idx, documents, ms: performance.now() - t0 };
}

/** `tcpip.sys` is found as `tcpip.sys` and as `tcpip`. */
function nameWords(name: string): string {
  const stem = name.replace(/\.[A-Za-z0-9]{1,4}$/, '');
  return stem === name ? name : `${name} ${stem}`;
}

export interface StoredIndex {
  documents: number;
  terms: number;
  /** Bytes of the stored postings and vectors. */
  bytes: number;
  /** Build (lunr) and store times. */
  ms: number;
}

/** A term's postings without its empty per-field maps (a loader puts them back: `p[field] ??= {}`). */
export function compactPosting(posting: Record<string, unknown>): Record<string, unknown> {
  const compact: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(posting)) if (k === '_index' || Object.keys(v as object).length) compact[k] = v;
  return compact;
}

/** A field vector with its scores rounded to 4 decimals (ranking is unchanged at that precision). */
export function roundVector(elements: number[]): number[] {
  return elements.map((x) => Math.round(x * 1e4) / 1e4);
}

/**
 * Rebuilds the stored index if the base changed since it was built: lunr builds it, then its
 * serialised form is stored row by row (a term and its postings; a field vector). Returns
 * what was stored, or null when the index was current or the build was superseded.
 *
 * Several writers at once (four merges into one base): each commits, then rebuilds. A build
 * whose base changes under it (another writer committed) stops and stores nothing: the writer
 * that changed the base rebuilds after it, so the last one leaves a current index, the others
 * spend little, and an older index never replaces a newer one.
 */
export function refreshSearchIndex(store: Store): StoredIndex | null {
  const gen = store.generation;
  const stored = () => store.db.prepare('SELECT generation FROM search_index WHERE id = 1').pluck().get() as number | undefined;
  if (stored() === gen) return null;
  const t0 = performance.now();
  let built: BuiltIndex;
  try {
    built = buildSearchIndex(store, () => store.generation !== gen);
  } catch (err) {
    if (err instanceof Superseded) return null;
    throw err;
  }
  const json = built.index.toJSON() as unknown as {
    version: string;
    fields: string[];
    fieldVectors: [string, number[]][];
    invertedIndex: [string, Record<string, unknown>][];
    pipeline: string[];
  };
  const db = store.db;
  let bytes = 0;
  const wrote = store.write(() => {
    // Under the write lock: the base must still be what was indexed, and no other writer may have stored it already.
    if (store.generation !== gen || stored() === gen) return false;
    db.exec('DELETE FROM search_terms; DELETE FROM search_vectors;');
    const term = db.prepare('INSERT INTO search_terms(term, posting) VALUES (?, ?)');
    for (const [t, posting] of json.invertedIndex) {
      const text = JSON.stringify(compactPosting(posting));
      bytes += t.length + text.length;
      term.run(t, text);
    }
    const vec = db.prepare('INSERT INTO search_vectors(ref, vector) VALUES (?, ?)');
    for (const [ref, elements] of json.fieldVectors) {
      const text = JSON.stringify(roundVector(elements));
      bytes += ref.length + text.length;
      vec.run(ref, text);
    }
    db.prepare(
      `INSERT INTO search_index(id, generation, built_at, documents, terms, bytes, fields, pipeline, lunr_version) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET generation = excluded.generation, built_at = excluded.built_at, documents = excluded.documents,
         terms = excluded.terms, bytes = excluded.bytes, fields = excluded.fields, pipeline = excluded.pipeline, lunr_version = excluded.lunr_version`,
    ).run(gen, new Date().toISOString(), built.documents, json.invertedIndex.length, bytes, JSON.stringify(json.fields), JSON.stringify(json.pipeline), json.version);
    return true;
  });
  if (!wrote) return null;
  return { documents: built.documents, terms: json.invertedIndex.length, bytes, ms: performance.now() - t0 };
}

/** lunr's serialised index (`Index.toJSON()`), postings compacted and vectors rounded as stored. */
export interface SerialisedIndex {
  version: string;
  fields: string[];
  fieldVectors: [string, number[]][];
  invertedIndex: [string, Record<string, unknown>][];
  pipeline: string[];
}

/**
 * The whole index in lunr's serialised form, for a page that loads it with `lunr.Index.load`
 * (fill each posting's missing fields with `{}` first): read from the base when the stored one
 * is current, else built (and not stored: the base may be read-only).
 */
export function serialisedIndex(store: Store): SerialisedIndex {
  const db = store.db;
  const meta = db.prepare('SELECT generation, fields, pipeline, lunr_version FROM search_index WHERE id = 1').get() as
    | { generation: number; fields: string; pipeline: string; lunr_version: string }
    | undefined;
  if (meta && meta.generation === store.generation) {
    const invertedIndex = (db.prepare('SELECT term, posting FROM search_terms').raw().all() as [string, string][]).map(
      ([t, p]) => [t, JSON.parse(p) as Record<string, unknown>] as [string, Record<string, unknown>],
    );
    // lunr inserts terms in JS code-unit order; SQLite ordered them by UTF-8 bytes.
    invertedIndex.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const fields = JSON.parse(meta.fields) as string[];
    const fieldVectors = (db.prepare('SELECT ref, vector FROM search_vectors').raw().all() as [string, string][]).map(([r, v]) => [r, JSON.parse(v) as number[]] as [string, number[]]);
    return { version: meta.lunr_version, fields, fieldVectors, invertedIndex, pipeline: JSON.parse(meta.pipeline) as string[] };
  }
  const json = buildSearchIndex(store).index.toJSON() as unknown as SerialisedIndex;
  return {
    ...json,
    fieldVectors: json.fieldVectors.map(([r, v]) => [r, roundVector(v)]),
    invertedIndex: json.invertedIndex.map(([t, p]) => [t, compactPosting(p)]),
  };
}

/**
 * The stored index as a lunr.Index that reads what a query touches: postings of the terms it
 * asks for and vectors of the documents that match, each one SQL row. Exact terms are looked up
 * directly; a wildcard or fuzzy term first narrows the corpus terms by their literal prefix.
 * lunr's own Index.query runs unchanged on top.
 */
export function loadSearchIndex(store: Store): { index: lunr.Index; stale: boolean } | null {
  const db = store.db;
  const meta = db.prepare('SELECT generation, fields, pipeline FROM search_index WHERE id = 1').get() as { generation: number; fields: string; pipeline: string } | undefined;
  if (!meta) return null;
  const fields = JSON.parse(meta.fields) as string[];
  const getTerm = db.prepare('SELECT posting FROM search_terms WHERE term = ?').pluck();
  const termsFrom = db.prepare('SELECT term FROM search_terms WHERE term >= ? ORDER BY term').pluck();
  const getVector = db.prepare('SELECT vector FROM search_vectors WHERE ref = ?').pluck();
  const allVectorRefs = db.prepare('SELECT ref FROM search_vectors').pluck();

  const postings = new Map<string, Record<string, unknown> | undefined>();
  const posting = (term: string) => {
    if (postings.has(term)) return postings.get(term);
    const text = getTerm.get(term) as string | undefined;
    let p: Record<string, unknown> | undefined;
    if (text !== undefined) {
      p = JSON.parse(text) as Record<string, unknown>;
      for (const f of fields) p[f] ??= {};
    }
    postings.set(term, p);
    return p;
  };
  const invertedIndex = new Proxy({} as Record<string, unknown>, { get: (_t, term) => (typeof term === 'string' ? posting(term) : undefined) });

  const vectors = new Map<string, lunr.Vector>();
  const vector = (ref: string) => {
    let v = vectors.get(ref);
    if (!v) {
      const text = getVector.get(ref) as string | undefined;
      v = new lunr.Vector(text ? (JSON.parse(text) as number[]) : []);
      vectors.set(ref, v);
    }
    return v;
  };
  const fieldVectors = new Proxy({} as Record<string, lunr.Vector>, {
    get: (_t, ref) => (typeof ref === 'string' ? vector(ref) : undefined),
    // Only a query made of prohibited terms alone lists every field vector.
    ownKeys: () => allVectorRefs.all() as string[],
    getOwnPropertyDescriptor: () => ({ enumerable: true, configurable: true }),
  });

  const tokenSet = {
    /** The corpus terms `b` (a query term's TokenSet) can match, as a real TokenSet intersection. */
    intersect(b: lunr.TokenSet): lunr.TokenSet {
      let prefix = '';
      let node = b as unknown as { edges: Record<string, unknown>; final: boolean };
      for (;;) {
        const keys = Object.keys(node.edges);
        if (keys.length !== 1 || keys[0] === '*') break;
        prefix += keys[0];
        node = node.edges[keys[0]] as typeof node;
      }
      const exact = Object.keys(node.edges).length === 0 && node.final;
      let candidates: string[];
      if (exact) candidates = posting(prefix) ? [prefix] : [];
      else {
        candidates = [];
        for (const t of termsFrom.iterate(prefix) as Iterable<string>) {
          if (!t.startsWith(prefix)) break;
          candidates.push(t);
        }
      }
      candidates.sort(); // SQLite orders by UTF-8 bytes, lunr's builder by UTF-16 code units
      return (lunr.TokenSet as unknown as { fromArray(a: string[]): lunr.TokenSet }).fromArray(candidates).intersect(b);
    },
  };

  const index = new lunr.Index({
    invertedIndex,
    fieldVectors,
    tokenSet,
    fields,
    pipeline: lunr.Pipeline.load(JSON.parse(meta.pipeline)),
  } as unknown as lunr.Index.Attributes);
  return { index, stale: meta.generation !== store.generation };
}

/**
 * Rewrites a user's query for the index: `tag:ShAp` -> `tag:t70416853`, and a bare term of
 * 1-4 characters also as a tag (`ShAp` -> `ShAp tag:t70416853`). Everything else is lunr's
 * query syntax as typed (`vendor:contoso`, `+name:ndis`, `tcp*`, `name:afd~1`).
 */
export function rewriteQuery(query: string): string {
  const out: string[] = [];
  for (const term of query.match(/\S+/g) ?? []) {
    const m = /^([+-]?)tag:(.+)$/.exec(term);
    if (m) {
      try {
        out.push(`${m[1]}tag:${tagToken(parseTag(m[2]))}`);
      } catch {
        out.push(term);
      }
      continue;
    }
    out.push(term);
    if (/^[^\s:+\-~^*]{1,4}$/.test(term)) {
      try {
        out.push(`tag:${tagToken(parseTag(term))}`);
      } catch {
        // not a tag: a word
      }
    }
  }
  return out.join(' ');
}

export interface SearchHit {
  ref: string;
  score: number;
}

export function searchIndex(index: lunr.Index, query: string): SearchHit[] {
  return index.search(rewriteQuery(query)).map((r) => ({ ref: r.ref, score: r.score }));
}
