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
import { sql } from './kysely.js';
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
  /** The base's generation the index was built from. */
  generation: number;
}

type DriverDoc = Record<string, string | null>;

/** Builds the index from the base (does not store it): one consistent read of what it indexes, then lunr. */
export async function buildSearchIndex(store: Store): Promise<BuiltIndex> {
  const t0 = performance.now();
  const data = await store.read(async () => ({
    generation: await store.generation(),
    tags: await store.all<{ sha256: string; tag_key: string }>(sql`SELECT DISTINCT sha256, tag_key FROM evidence ORDER BY sha256, tag_key`),
    names: await store.all<{ sha256: string; name: string }>(sql`SELECT DISTINCT sha256, name FROM sightings ORDER BY sha256, name`),
    drivers: await store.all<DriverDoc>(sql`SELECT sha256, company, product, description, signer, signer_org, pdb_path, original_filename, internal_name, strings FROM drivers ORDER BY sha256`),
    entries: await store.all<{ source_id: number; line: number; tag: string; binary_raw: string | null; description: string }>(
      sql`SELECT source_id, line, tag, binary_raw, description FROM pooltag_entries ORDER BY source_id, line`,
    ),
    notes: await store.all<{ id: number; tag_key: string; text: string }>(sql`SELECT id, tag_key, text FROM notes ORDER BY id`),
  }));
  const tagsBySha = new Map<string, string[]>();
  for (const r of data.tags) {
    let l = tagsBySha.get(r.sha256);
    if (!l) tagsBySha.set(r.sha256, (l = []));
    l.push(keyToken(r.tag_key));
  }
  const namesBySha = new Map<string, Set<string>>();
  for (const r of data.names) {
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

    for (const d of data.drivers) {
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
      documents++;
    }
    for (const e of data.entries) {
      this.add({ id: `p:${e.source_id}:${e.line}`, tag: /[?*]/.test(e.tag) ? '' : keyToken(e.tag), owner: e.binary_raw ? nameWords(e.binary_raw) : '', text: e.description });
      documents++;
    }
    for (const n of data.notes) {
      this.add({ id: `n:${n.id}`, tag: keyToken(n.tag_key), text: n.text });
      documents++;
    }
  });
  return { index: idx, documents, ms: performance.now() - t0, generation: data.generation };
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
export async function refreshSearchIndex(store: Store): Promise<StoredIndex | null> {
  const stored = async () => {
    const g = await store.one(sql`SELECT generation FROM search_index WHERE id = 1`);
    return g === undefined ? undefined : Number(g);
  };
  if ((await stored()) === (await store.generation())) return null;
  const t0 = performance.now();
  const built = await buildSearchIndex(store);
  const gen = built.generation;
  const json = built.index.toJSON() as unknown as {
    version: string;
    fields: string[];
    fieldVectors: [string, number[]][];
    invertedIndex: [string, Record<string, unknown>][];
    pipeline: string[];
  };
  let bytes = 0;
  const wrote = await store.write(async () => {
    // Under the write lock: the base must still be what was indexed, and no other writer may have stored it already.
    if ((await store.generation()) !== gen || (await stored()) === gen) return false;
    await store.all(sql`DELETE FROM search_terms`);
    await store.all(sql`DELETE FROM search_vectors`);
    const terms = json.invertedIndex.map(([term, posting]) => {
      const text = JSON.stringify(compactPosting(posting));
      bytes += term.length + text.length;
      return { term, posting: text };
    });
    await store.insertRows('search_terms', terms, (q, values) => q.insertInto('search_terms').values(values));
    const vectors = json.fieldVectors.map(([ref, elements]) => {
      const text = JSON.stringify(roundVector(elements));
      bytes += ref.length + text.length;
      return { ref, vector: text };
    });
    await store.insertRows('search_vectors', vectors, (q, values) => q.insertInto('search_vectors').values(values));
    await store.all(
      store.q
        .insertInto('search_index')
        .values({ id: 1, generation: gen, built_at: new Date().toISOString(), documents: built.documents, terms: json.invertedIndex.length, bytes, fields: JSON.stringify(json.fields), pipeline: JSON.stringify(json.pipeline), lunr_version: json.version })
        .onConflict((oc) =>
          oc.column('id').doUpdateSet({
            generation: sql`excluded.generation`, built_at: sql`excluded.built_at`, documents: sql`excluded.documents`, terms: sql`excluded.terms`,
            bytes: sql`excluded.bytes`, fields: sql`excluded.fields`, pipeline: sql`excluded.pipeline`, lunr_version: sql`excluded.lunr_version`,
          }),
        ),
    );
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
export async function serialisedIndex(store: Store): Promise<SerialisedIndex> {
  const stored = await store.read(async () => {
    const meta = (await store.all<{ generation: number; fields: string; pipeline: string; lunr_version: string }>(sql`SELECT generation, fields, pipeline, lunr_version FROM search_index WHERE id = 1`))[0];
    if (!meta || Number(meta.generation) !== (await store.generation())) return null;
    const terms = await store.all<{ term: string; posting: string }>(sql`SELECT term, posting FROM search_terms`);
    const vectors = await store.all<{ ref: string; vector: string }>(sql`SELECT ref, vector FROM search_vectors ORDER BY ref`);
    return { meta, terms, vectors };
  });
  if (stored) {
    const { meta } = stored;
    const invertedIndex = stored.terms.map((r) => [r.term, JSON.parse(r.posting) as Record<string, unknown>] as [string, Record<string, unknown>]);
    // lunr inserts terms in JS code-unit order; SQLite ordered them by UTF-8 bytes.
    invertedIndex.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const fields = JSON.parse(meta.fields) as string[];
    const fieldVectors = stored.vectors.map((r) => [r.ref, JSON.parse(r.vector) as number[]] as [string, number[]]);
    return { version: meta.lunr_version, fields, fieldVectors, invertedIndex, pipeline: JSON.parse(meta.pipeline) as string[] };
  }
  const json = (await buildSearchIndex(store)).index.toJSON() as unknown as SerialisedIndex;
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
export async function loadSearchIndex(store: Store): Promise<{ index: lunr.Index; stale: boolean } | null> {
  const meta = (await store.all<{ generation: number; fields: string; pipeline: string }>(sql`SELECT generation, fields, pipeline FROM search_index WHERE id = 1`))[0];
  if (!meta) return null;
  const stale = Number(meta.generation) !== (await store.generation());
  const fields = JSON.parse(meta.fields) as string[];
  let getTerm: { get(term: string): unknown };
  let termsFrom: { iterate(prefix: string): Iterable<string> };
  let getVector: { get(ref: string): unknown };
  let allVectorRefs: { all(): string[] };
  if (store.sqlite) {
    // SQLite: each row read when the query touches it
    const db = store.sqlite;
    getTerm = db.prepare('SELECT posting FROM search_terms WHERE term = ?').pluck();
    termsFrom = db.prepare('SELECT term FROM search_terms WHERE term >= ? ORDER BY term').pluck() as unknown as typeof termsFrom;
    getVector = db.prepare('SELECT vector FROM search_vectors WHERE ref = ?').pluck();
    allVectorRefs = db.prepare('SELECT ref FROM search_vectors').pluck() as unknown as typeof allVectorRefs;
  } else {
    // A server: one read of the stored index (a round trip per term would cost more)
    const terms = new Map<string, string>();
    for (const r of await store.all<{ term: string; posting: string }>(sql`SELECT term, posting FROM search_terms`)) terms.set(r.term, r.posting);
    const sorted = [...terms.keys()].sort();
    const vectors = new Map<string, string>();
    for (const r of await store.all<{ ref: string; vector: string }>(sql`SELECT ref, vector FROM search_vectors`)) vectors.set(r.ref, r.vector);
    getTerm = { get: (t) => terms.get(t) };
    termsFrom = {
      *iterate(prefix: string) {
        let lo = 0;
        let hi = sorted.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (sorted[mid] < prefix) lo = mid + 1;
          else hi = mid;
        }
        for (let i = lo; i < sorted.length; i++) yield sorted[i];
      },
    };
    getVector = { get: (r) => vectors.get(r) };
    allVectorRefs = { all: () => [...vectors.keys()] };
  }

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
  return { index, stale };
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
