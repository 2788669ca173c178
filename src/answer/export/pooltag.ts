/**
 * `pooltag export --format pooltag`: a file in pooltag.txt format that WinDbg's `!poolused` and
 * `!pool` (and poolmon `/g`) read, with every tag the base knows.
 *
 * - Scanned tags: one line per tag, `Tag  - a.sys/b.sys - vendor product version; evidence`,
 *   the binary column listing each driver file name that passes the tag at a call site once.
 *   Shared tags (`None`, `Ddk `, ...) get no scanned line: their drivers are not their owners.
 * - Alone, the file also holds the base's pooltag.txt entries (every imported copy, identical
 *   entries once), sorted with ours by tag: stable order, no duplicate lines.
 * - With `mergeWith` (Microsoft's triage\pooltag.txt), that file's lines pass through unchanged,
 *   in its encoding and line ends; ours go after them, before its DOS end-of-file byte.
 *
 * The lines we write are ASCII (other characters become `?`), so every code page reads them
 * the same.
 */
import { formatEntry, encodePooltagTxt, normalizeTag4, type PooltagFile } from '../../knowledge/pooltag-txt.js';
import { sql } from '../../knowledge/kysely.js';

import type { Store } from '../../knowledge/store.js';
import { VERSION } from '../../version.js';
import type { ExportOwner, ExportTag } from './owners.js';

export interface PooltagExportOptions {
  /** Microsoft's pooltag.txt: its lines are written through unchanged, ours are added. */
  mergeWith?: PooltagFile | null;
  /** When the file was made (the header says). */
  now?: Date;
  /** Where the base is (the header says). */
  dbPath?: string;
}

export interface PooltagExport {
  bytes: Buffer;
  /** Lines for tags found in scanned drivers. */
  scanned: number;
  /** pooltag.txt entries written (from the base, or passed through from `mergeWith`). */
  pooltag: number;
  /** Entries that could not be written as a pooltag.txt line, with the reason. */
  skipped: { tag: string; reason: string }[];
}

/** Printable ASCII only, one line, at most `max` characters. */
export function asciiLine(s: string, max = 400): string {
  // eslint-disable-next-line no-control-regex
  let t = s.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/[^\x20-\x7e]/g, '?').replace(/\s+/g, ' ').trim();
  if (t.length > max) t = `${t.slice(0, max - 3).trimEnd()}...`;
  return t;
}

/** A file name for the binary column: ASCII, and never ` -` (which would end the column). */
function binaryName(name: string): string {
  return asciiLine(name, 80).replace(/\s+-/g, '-');
}

/** `vendor product version` of one owner, without repeating words already said. */
function ownerWords(o: ExportOwner): string {
  const parts: string[] = [];
  const vendor = o.vendors[0];
  if (vendor) parts.push(asciiLine(vendor, 60));
  const product = o.products[0] ?? o.description;
  if (product && !(vendor && product.toLowerCase() === vendor.toLowerCase())) parts.push(asciiLine(product, 60));
  if (o.versions.length) parts.push(asciiLine(o.versions.length > 1 ? `${o.versions[0]} (+${o.versions.length - 1} versions)` : o.versions[0], 40));
  return parts.join(' ');
}

/**
 * The description of a scanned tag's line, in a few words: the best owner's vendor, product and
 * version and how the tag was found; the other drivers by name.
 */
export function scannedDescription(owners: readonly ExportOwner[]): string {
  const [best, ...others] = owners;
  const words = ownerWords(best);
  const also = others.length ? `; also ${others.slice(0, 3).map((o) => binaryName(o.owner)).join(', ')}${others.length > 3 ? ` and ${others.length - 3} more` : ''}` : '';
  return asciiLine(`${words ? `${words}; ` : ''}${best.evidence}, ${best.confidence} confidence${also} [pooltag scan]`, 300);
}

/** The scanned line of one tag, or null when no scanned driver owns it, it is shared, or not printable. */
export function scannedEntry(t: ExportTag): { tag: string; binary: string[]; description: string } | null {
  if (t.shared || !t.printable) return null;
  const owners = t.owners.filter((o) => o.source === 'call-site');
  if (owners.length === 0) return null;
  return { tag: t.tag, binary: [...new Set(owners.flatMap((o) => o.binaries.map(binaryName)))], description: scannedDescription(owners) };
}

function header(opts: PooltagExportOptions, counts: { scanned: number; pooltag: number; sources: string[] }, merged: string | null): string[] {
  const when = (opts.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return [
    '//',
    `// Written by pooltag ${VERSION} (pooltag export --format pooltag) on ${when}`,
    opts.dbPath ? `// from the knowledge base ${asciiLine(opts.dbPath, 200)}` : null,
    merged
      ? `// Microsoft's entries from ${asciiLine(merged, 200)} follow unchanged; ${counts.scanned} tags found in scanned drivers are added after them.`
      : `// ${counts.pooltag} pooltag.txt entries${counts.sources.length ? ` (${asciiLine(counts.sources.join(', '), 200)})` : ''} and ${counts.scanned} tags found in scanned drivers.`,
    '// Scanned tags: the binary column names the driver files that pass the tag at a call site;',
    '// the description gives vendor, product, version and the evidence, ending in [pooltag scan].',
    '//',
  ].filter((l): l is string => l !== null);
}

/** The pooltag.txt export of the base (`tags` from {@link exportTags}). */
export async function exportPooltag(store: Store, tags: readonly ExportTag[], opts: PooltagExportOptions = {}): Promise<PooltagExport> {
  const skipped: PooltagExport['skipped'] = [];
  const ours: { key: string; line: string }[] = [];
  for (const t of tags) {
    const e = scannedEntry(t);
    if (!e) {
      if (!t.printable && !t.shared && t.owners.some((o) => o.source === 'call-site')) skipped.push({ tag: `${t.tag} (${t.hex})`, reason: 'a byte of the tag is not printable ASCII: a text line cannot name it' });
      continue;
    }
    try {
      ours.push({ key: t.key, line: formatEntry(e) });
    } catch (err) {
      skipped.push({ tag: t.tag, reason: (err as Error).message });
    }
  }

  if (opts.mergeWith) {
    const file = opts.mergeWith;
    const eol = file.eol;
    const top = header(opts, { scanned: ours.length, pooltag: file.entries.length, sources: [] }, file.source);
    const mk = (raw: string) => ({ number: 0, kind: 'comment' as const, raw, eol, reason: undefined, entry: undefined });
    // The copy's last line may have no terminator: give it ours before adding lines after it.
    const lines = file.lines.map((l, i) => (i === file.lines.length - 1 && l.eol === '' ? { ...l, eol } : l));
    const added = [mk(`// Tags found in scanned drivers by pooltag ${VERSION} (${ours.length}):`), ...ours.map((o) => ({ ...mk(o.line), kind: 'entry' as const }))];
    const out: PooltagFile = { ...file, lines: [...top.map(mk), ...lines, ...added] };
    return { bytes: encodePooltagTxt(out), scanned: ours.length, pooltag: file.entries.length, skipped };
  }

  // The base's pooltag.txt entries: every copy, an entry said by several copies once.
  const rows = await store.all<{ tag: string; binary_raw: string | null; description: string; label: string | null }>(
    sql`SELECT p.tag, p.binary_raw, p.description, min(s.label) AS label FROM pooltag_entries p JOIN pooltag_sources s ON s.id = p.source_id
       GROUP BY p.tag, p.binary_raw, p.description`,
  );
  const sources = await store.pluck<string>(sql`SELECT coalesce(label, path) FROM pooltag_sources ORDER BY id`);
  const theirs: { key: string; line: string }[] = [];
  for (const r of rows) {
    try {
      const tag = r.tag.replace(/ +$/, '');
      theirs.push({ key: normalizeTag4(r.tag), line: formatEntry({ tag, binary: r.binary_raw === null ? null : asciiLine(r.binary_raw), description: asciiLine(r.description) }) });
    } catch (err) {
      skipped.push({ tag: r.tag, reason: (err as Error).message });
    }
  }
  const seen = new Set<string>();
  const body: string[] = [];
  const sorted = [...theirs.map((x) => ({ ...x, rank: 0 })), ...ours.map((x) => ({ ...x, rank: 1 }))].sort(
    (a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.rank - b.rank || (a.line < b.line ? -1 : a.line > b.line ? 1 : 0)),
  );
  for (const x of sorted) {
    if (seen.has(x.line)) continue;
    seen.add(x.line);
    body.push(x.line);
  }
  const pooltag = body.length - ours.length;
  const text = [...header(opts, { scanned: ours.length, pooltag, sources }, null), ...body].join('\n') + '\n';
  return { bytes: Buffer.from(text, 'latin1'), scanned: ours.length, pooltag, skipped };
}

/** Is `path` a debugger's own triage\pooltag.txt (which `export` never overwrites without --force)? */
export function isDebuggerPooltag(path: string): boolean {
  const parts = path.split(/[\\/]+/).filter(Boolean);
  return parts.length >= 2 && parts[parts.length - 1].toLowerCase() === 'pooltag.txt' && parts[parts.length - 2].toLowerCase() === 'triage';
}
