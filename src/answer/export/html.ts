/**
 * `pooltag export --format html`: ONE self-contained page that opens from a share or a USB
 * stick (file://) with no server and no network.
 *
 * - Inlined: lunr, the page's script and style, the data, and the base's search index (the one
 *   `pooltag search` uses, as stored by the last merge, or built when it is stale: the same
 *   documents, fields and tag tokens), with its document references shortened to the page's own
 *   (`d12.0` = driver view 12, `t40.1` = tag 40).
 * - The data is JSON with every `<` written `\u003c`, gzip-compressed and in base64 inside a
 *   `<script type="application/octet-stream">` (a third of its size; base64 cannot end the
 *   element): the page unpacks it with the browser's DecompressionStream, offline. The page
 *   renders it with textContent only.
 * - The page answers before it has read most of itself. First comes a small table (every tag,
 *   the row a search shows for it, the drivers' names, the home view's figures), then the
 *   page's script, which shows it; the rest (every owner and build, the search index, lunr)
 *   follows in the file and is read after the first view is on screen.
 * - A Content-Security-Policy meta allows nothing but the page's own inline script and style,
 *   by their SHA-256 hashes: `default-src 'none'` (no fetch, no image, no font, no frame),
 *   no `'unsafe-inline'`, `base-uri 'none'`, `form-action 'none'`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { deflateRawSync, gzipSync } from 'node:zlib';

import { normalizeTag4 } from '../../knowledge/pooltag-txt.js';
import { rawRows, type BaseSnapshot } from '../../knowledge/snapshot.js';
import { sql } from '../../knowledge/kysely.js';

import type { Store } from '../../knowledge/store.js';
import { dataPath } from '../../tag/routines.js';
import { VERSION } from '../../version.js';
import { DriverBuilds, driverName, type DriverBuild } from '../driver-candidate.js';
import { snapshotBuild } from './bulk.js';
import type { ExportTag } from './owners.js';

export interface HtmlExport {
  html: string;
  /** Bytes of the page, and of its parts. */
  bytes: number;
  dataBytes: number;
  indexBytes: number;
  tags: number;
  drivers: number;
  documents: number;
}

interface PageBuild {
  sha: string;
  ver: string | null;
  arch: string | null;
  hosts: number;
  company: string | null;
  product: string | null;
  desc: string | null;
  signer: string | null;
  pdb: string | null;
  paths: string[];
  more: number;
}

interface PageDriver {
  n: string;
  b: PageBuild[];
  /** [tag index, owner index within the tag]. */
  t: [number, number][];
}

type PageOwner =
  | { s: 'c' | 's'; c: string; d: number; e: string; v: string[]; x: number }
  | { s: 'p'; c: string; o: string; desc: string; e: string; w: string | null; ds: number[] };

interface PageTag {
  t: string;
  h: string;
  sh: string | null;
  o: PageOwner[];
  n: string[];
}

const ESCAPED: Record<string, string> = { '<': '\\u003c', '\u2028': '\\u2028', '\u2029': '\\u2029' };

/** JSON that is safe inside a `<script type="application/json">`: no `<`, no line separators (one pass). */
export function scriptJson(value: unknown): string {
  const json = JSON.stringify(value);
  return /[<\u2028\u2029]/.test(json) ? json.replace(/[<\u2028\u2029]/g, (c) => ESCAPED[c]) : json;
}

/**
 * JSON as the page carries it: gzip, in base64 (the page unpacks it with DecompressionStream).
 * Base64 holds no `<` or `&`: nothing in it can end the script element.
 */
function packed(json: string): string {
  // level 6: level 4 takes half the time (0.2 s for 10,000 drivers) but makes 7% more bytes for the browser to read
  return gzipSync(Buffer.from(json, 'utf8'), { level: 6 }).toString('base64');
}

/** The page's first part: raw DEFLATE in base64, which the page inflates while its parser waits (inflate.js). */
function packedRaw(json: string): string {
  // level 6: level 9 makes 1% fewer bytes in three times the time
  return deflateRawSync(Buffer.from(json, 'utf8'), { level: 6 }).toString('base64');
}

const sha256b64 = (s: string) => createHash('sha256').update(s, 'utf8').digest('base64');

let assets: { lunr: string; script: string; style: string } | null = null;
function pageAssets() {
  if (assets) return assets;
  const lunr = readFileSync(createRequire(import.meta.url).resolve('lunr/lunr.min.js'), 'utf8');
  // the synchronous inflater and the page's script, one script element
  const script = `${readFileSync(dataPath('export-page/inflate.js'), 'utf8')}\n${readFileSync(dataPath('export-page/page.js'), 'utf8')}`;
  const style = readFileSync(dataPath('export-page/page.css'), 'utf8');
  // Text that would end or re-open the script element early cannot be inlined.
  for (const [name, text] of [['lunr', lunr], ['page.js', script]]) if (/<\/script|<!--/i.test(text)) throw new Error(`${name} contains "</script" or "<!--": it cannot be inlined`);
  if (/<\/style/i.test(style)) throw new Error('page.css contains "</style"');
  return (assets = { lunr, script, style });
}

export async function exportHtml(store: Store, tags: readonly ExportTag[], opts: { now?: Date; dbPath?: string; snapshot?: BaseSnapshot | null } = {}): Promise<HtmlExport> {

  // Driver views: one per file name, every build of it.
  const views: PageDriver[] = [];
  const viewByName = new Map<string, number>();
  const viewBySha = new Map<string, number>();
  const snap = opts.snapshot ?? null;
  const pdbs = new Map<string, string | null>();
  if (snap) for (const sha of [...snap.drivers.keys()].sort()) pdbs.set(sha, snap.drivers.get(sha)!.pdb_path);
  else for (const r of await store.all<{ sha256: string; pdb_path: string | null }>(sql`SELECT sha256, pdb_path FROM drivers ORDER BY sha256`)) pdbs.set(r.sha256, r.pdb_path);
  const reader = snap ? null : new DriverBuilds(store);
  const builds: DriverBuild[] = [];
  for (const sha of pdbs.keys()) {
    const b = snap ? snapshotBuild(snap, sha) : await reader!.build(sha, null);
    if (b) builds.push(b);
  }
  // One view per driver, as lookup groups them (OriginalFilename, else the file name).
  // (a collator's compare is localeCompare's, made once; each build's name once)
  const collate = new Intl.Collator().compare;
  const named = builds.map((b) => ({ b, name: driverName(b) }));
  named.sort((x, y) => collate(x.name, y.name) || collate(x.b.fileVersion ?? '', y.b.fileVersion ?? ''));
  named.forEach((x, i) => (builds[i] = x.b));
  for (const s of builds) {
    const name = driverName(s);
    let v = viewByName.get(name);
    if (v === undefined) {
      viewByName.set(name, (v = views.length));
      views.push({ n: name, b: [], t: [] });
    }
    viewBySha.set(s.sha256, v);
    views[v].b.push({
      sha: s.sha256,
      ver: s.fileVersion,
      arch: s.arch,
      hosts: s.hosts,
      company: s.company,
      product: s.product,
      desc: s.description,
      signer: s.signer,
      pdb: pdbs.get(s.sha256) ?? null,
      paths: s.paths.slice(0, 3),
      more: Math.max(0, s.pathCount - 3),
    });
  }

  const pageTags: PageTag[] = [];
  const tagByKey = new Map<string, number>();
  tags.forEach((t, ti) => {
    tagByKey.set(t.key, ti);
    const owners: PageOwner[] = t.owners.map((o, oi) => {
      if (o.source === 'pooltag.txt') {
        const ds = [...new Set(o.builds.map((b) => viewBySha.get(b.sha256)).filter((x): x is number => x !== undefined))];
        return { s: 'p', c: o.confidence, o: o.owner, desc: o.description, e: o.evidence, w: o.where ?? null, ds };
      }
      const d = viewByName.get(o.owner) ?? viewBySha.get(o.builds[0]?.sha256 ?? '') ?? -1;
      if (d >= 0) views[d].t.push([ti, oi]);
      return { s: o.source === 'call-site' ? 'c' : 's', c: o.confidence, d, e: o.evidence, v: o.versions, x: o.callSites };
    });
    pageTags.push({ t: t.tag, h: t.hex, sh: t.shared, o: owners, n: t.notes.map((n) => `${n.text}${n.author ? ` (${n.author}, ${n.createdAt.slice(0, 10)})` : ''}`) });
  });

  // pooltag.txt wildcard entries (no tag of their own): shown as search results.
  const wild: [string, string, string, string][] = [];
  const refTarget = new Map<string, string>();
  for (const e of await store.all<{
    source_id: number;
    line: number;
    tag: string;
    wildcard: number;
    binary_raw: string | null;
    description: string;
    src: string;
  }>(sql`SELECT p.source_id, p.line, p.tag, p.wildcard, p.binary_raw, p.description, coalesce(s.label, s.path) AS src FROM pooltag_entries p JOIN pooltag_sources s ON s.id = p.source_id ORDER BY p.source_id, p.line`)) {
    const ref = `p:${e.source_id}:${e.line}`;
    if (e.wildcard) {
      refTarget.set(ref, `w${wild.length}`);
      wild.push([e.tag, e.binary_raw ?? '<unknown>', e.description, `${e.src} line ${e.line}`]);
    } else {
      const ti = tagByKey.get(normalizeTag4(e.tag));
      if (ti !== undefined) refTarget.set(ref, `t${ti}`);
    }
  }
  for (const n of await store.all<{ id: number; tag_key: string }>(sql`SELECT id, tag_key FROM notes ORDER BY id`)) {
    const ti = tagByKey.get(n.tag_key);
    if (ti !== undefined) refTarget.set(`n:${n.id}`, `t${ti}`);
  }
  for (const [sha, v] of viewBySha) refTarget.set(`d:${sha}`, `d${v}`);

  const { json: indexJson, documents } = await pageIndex(store, refTarget);

  const sources = await store.all<{ name: string; entries: number }>(sql`SELECT coalesce(label, path) AS name, entries FROM pooltag_sources ORDER BY id`);
  const meta = {
    tool: `pooltag ${VERSION}`,
    generatedAt: (opts.now ?? new Date()).toISOString(),
    db: opts.dbPath ?? null,
    hosts: Number(await store.one(sql`SELECT count(*) FROM hosts`)),
    sources,
  };
  // The first part: what the home view and a tag search show; the rest without what it holds.
  const first = firstTable(pageTags, views, meta);
  const firstJson = scriptJson(first);
  // builds and owners as arrays of their fields (page.js makes them objects again): 3% fewer bytes
  const dataJson = scriptJson({
    tags: pageTags.map((t) => t.o.map((o) => (o.s === 'p' ? [o.s, o.c, o.o, o.desc, o.e, o.w, o.ds] : [o.s, o.c, o.d, o.e, o.v, o.x]))),
    drivers: views.map((v) => ({ b: v.b.map((b) => [b.sha, b.ver, b.arch, b.hosts, b.company, b.product, b.desc, b.signer, b.pdb, b.paths, b.more]), t: v.t })),
    wild,
  });

  const a = pageAssets();
  const csp = [
    "default-src 'none'",
    `script-src 'sha256-${sha256b64(a.lunr)}' 'sha256-${sha256b64(a.script)}'`,
    `style-src 'sha256-${sha256b64(a.style)}'`,
    "img-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const html = [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="referrer" content="no-referrer">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>pooltag: which driver owns a pool tag</title>',
    `<style>${a.style}</style>`,
    '</head>',
    '<body>',
    '<header><div class="bar"><a class="home" href="#">pooltag</a><input id="q" type="search" autocomplete="off" spellcheck="false" placeholder="Tag, driver, vendor, PDB name, string…  ( / )" aria-label="Search tags and drivers"><span id="count" class="muted"></span></div></header>',
    '<main id="main" tabindex="-1"><noscript>This page needs JavaScript (it runs offline: nothing is loaded from the network).</noscript></main>',
    '<footer id="foot" class="muted"></footer>',
    `<script type="application/octet-stream" id="pooltag-first" data-encoding="deflate-raw-base64">${packedRaw(firstJson)}</script>`,
    `<script>${a.script}</script>`,
    `<script type="application/octet-stream" id="pooltag-data" data-encoding="gzip-base64">${packed(dataJson)}</script>`,
    `<script type="application/octet-stream" id="pooltag-index" data-encoding="gzip-base64">${packed(indexJson)}</script>`,
    `<script>${a.lunr}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
  return { html, bytes: Buffer.byteLength(html), dataBytes: firstJson.length + dataJson.length, indexBytes: indexJson.length, tags: pageTags.length, drivers: views.length, documents };
}

const SOURCES = { c: 0, p: 1, s: 2 } as const;
const CONFIDENCES: Record<string, number> = { high: 0, medium: 1, low: 2 };

/** What a driver view's vendors are on the page: companies, then signers, distinct, in order. */
function vendorText(v: PageDriver): string {
  const seen = new Set<string>();
  for (const b of v.b) if (b.company) seen.add(b.company);
  for (const b of v.b) if (b.signer) seen.add(b.signer);
  return [...seen].join(', ');
}

/** A tag's hex from its display form, as the page computes it (page.js hexOf): right for every tag shown as its bytes. */
function hexOf(t: string): string {
  let u = 0;
  for (let i = 3; i >= 0; i--) u = u * 256 + (t.charCodeAt(i) & 0xff);
  return `0x${u.toString(16).toUpperCase().padStart(8, '0')}`;
}

/**
 * The page's first part: every tag (`t`), its shared-tag reason (`sh`), notes (`n`) and hex
 * (`hx`, when its display form does not give it: page.js computes the others) by tag index, and the row a search shows for it (`r`: owner count, then the best owner's source,
 * confidence, driver view, and its evidence, or for a pooltag.txt owner its binary column and
 * description, as indices into `s`); each driver view's name (`dn`), vendors (`dv`) and first
 * build's description (`dd`); the home view's figures. Texts that repeat are in `s` once.
 */
function firstTable(tags: readonly PageTag[], views: readonly PageDriver[], meta: unknown) {
  const pool: string[] = [];
  const at = new Map<string, number>();
  const ref = (text: string): number => {
    let i = at.get(text);
    if (i === undefined) {
      at.set(text, (i = pool.length));
      pool.push(text);
    }
    return i;
  };
  const sh: Record<number, string> = {};
  const hx: Record<number, string> = {};
  const n: Record<number, string[]> = {};
  const rows: number[][] = [];
  let scanned = 0;
  tags.forEach((t, i) => {
    if (t.sh) sh[i] = t.sh;
    if (hexOf(t.t) !== t.h) hx[i] = t.h;
    if (t.n.length) n[i] = t.n;
    if (t.o.some((o) => o.s === 'c')) scanned++;
    const o = t.o[0];
    if (!o) rows.push([0]);
    else if (o.s === 'p') rows.push([t.o.length, SOURCES.p, CONFIDENCES[o.c], o.ds.length ? o.ds[0] : -1, ref(o.o), ref(o.desc)]);
    else rows.push([t.o.length, SOURCES[o.s], CONFIDENCES[o.c], o.d, ref(o.e)]);
  });
  return {
    meta,
    scanned,
    t: tags.map((t) => t.t),
    hx,
    sh,
    n,
    r: rows,
    s: pool,
    dn: views.map((v) => v.n),
    dv: views.map((v) => ref(vendorText(v))),
    dd: views.map((v) => ref(v.b[0]?.desc ?? '')),
  };
}

/**
 * The base's search index as the page carries it: lunr's serialised form with its document
 * references shortened to the page's own (`refTarget`'s view plus a counter: lunr needs one
 * reference per document), as script-safe JSON. The stored index (when current) is rewritten as
 * text: each posting's document keys renamed where they stand, no JSON parsed and written again
 * (`fromText: false` does that, as for an index built on the spot; the tests compare the two).
 */
export async function pageIndex(store: Store, refTarget: Map<string, string>, opts: { fromText?: boolean } = {}): Promise<{ json: string; documents: number }> {
  const short = new Map<string, string>();
  let counter = 0;
  const shortRef = (ref: string) => {
    let s = short.get(ref);
    if (!s) short.set(ref, (s = `${refTarget.get(ref) ?? 'x'}.${(counter++).toString(36)}`));
    return s;
  };
  const stored = opts.fromText === false ? null : await storedIndexText(store);
  if (stored && stored.terms.every(([, posting]) => posting.startsWith('{') && posting.endsWith('}'))) {
    const parts: string[] = [`{"version":${JSON.stringify(stored.version)},"fields":${stored.fields},"fieldVectors":[`];
    stored.vectors.forEach(([fieldRef, vector], i) => {
      const slash = fieldRef.indexOf('/');
      parts.push(`${i ? ',' : ''}[${JSON.stringify(`${fieldRef.slice(0, slash)}/${shortRef(fieldRef.slice(slash + 1))}`)},${vector}]`);
    });
    parts.push('],"invertedIndex":[');
    stored.terms.forEach(([term, posting], i) => parts.push(`${i ? ',' : ''}[${JSON.stringify(term)},${renameDocuments(posting, shortRef)}]`));
    parts.push(`],"pipeline":${stored.pipeline}}`);
    const json = parts.join('');
    return { json: /[<\u2028\u2029]/.test(json) ? json.replace(/[<\u2028\u2029]/g, (c) => ESCAPED[c]) : json, documents: short.size };
  }
  // lunr loads only when the stored index is stale (or for the tests' comparison)
  const json = await (await import('../../knowledge/search-index.js')).serialisedIndex(store);
  const fieldVectors = json.fieldVectors.map(([fieldRef, v]) => {
    const slash = fieldRef.indexOf('/');
    return [`${fieldRef.slice(0, slash)}/${shortRef(fieldRef.slice(slash + 1))}`, v];
  });
  const invertedIndex = json.invertedIndex.map(([term, p]) => {
    for (const f of Object.keys(p)) {
      if (f === '_index') continue;
      const docs = p[f] as Record<string, unknown>;
      const renamed: Record<string, unknown> = {};
      for (const [ref, meta] of Object.entries(docs)) renamed[shortRef(ref)] = meta;
      p[f] = renamed;
    }
    return [term, p];
  });
  return { json: scriptJson({ version: json.version, fields: json.fields, fieldVectors, invertedIndex, pipeline: json.pipeline }), documents: short.size };
}

/**
 * The stored index's rows as the texts they are (what `serialisedIndex` parses), when it is
 * current; terms in JS code-unit order (lunr's), vectors by reference. Null when stale or absent.
 */
async function storedIndexText(store: Store): Promise<{ version: string; fields: string; pipeline: string; terms: [string, string][]; vectors: [string, string][] } | null> {
  return store.read(async () => {
    const meta = (await store.all<{ generation: number; fields: string; pipeline: string; lunr_version: string }>(sql`SELECT generation, fields, pipeline, lunr_version FROM search_index WHERE id = 1`))[0];
    if (!meta || Number(meta.generation) !== (await store.generation())) return null;
    const terms = (await rawRows(store, sql`SELECT term, posting FROM search_terms`)) as [string, string][];
    terms.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const vectors = (await rawRows(store, sql`SELECT ref, vector FROM search_vectors ORDER BY ref`)) as [string, string][];
    // as JSON.stringify writes them (the page's JSON is compared with the parsed path's)
    return { version: meta.lunr_version, fields: JSON.stringify(JSON.parse(meta.fields)), pipeline: JSON.stringify(JSON.parse(meta.pipeline)), terms, vectors };
  });
}

/**
 * A posting's JSON (`{"_index":N,"field":{"ref":{...},...},...}`) with each document key (the
 * keys of the objects at depth 2) renamed, the rest as it is. A scan of the text: strings are
 * skipped with their escapes, so that nothing inside one is taken for structure.
 */
function renameDocuments(text: string, rename: (ref: string) => string): string {
  let out = '';
  let from = 0;
  let depth = 0;
  let keyNext = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: find its end
      let j = i + 1;
      let escaped = false;
      while (j < text.length && text.charCodeAt(j) !== 0x22) {
        if (text.charCodeAt(j) === 0x5c) {
          escaped = true;
          j++;
        }
        j++;
      }
      if (j >= text.length) throw new SyntaxError('a posting of the stored search index ends inside a string');
      if (depth === 2 && keyNext) {
        const raw = text.slice(i, j + 1);
        const ref = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        out += text.slice(from, i) + JSON.stringify(rename(ref));
        from = j + 1;
      }
      keyNext = false;
      i = j;
    } else if (c === 0x7b) {
      depth++;
      keyNext = true;
    } else if (c === 0x7d) depth--;
    else if (c === 0x2c) keyNext = true;
    else if (c === 0x5b) keyNext = false;
  }
  return out + text.slice(from);
}
