/**
 * `pooltag export --format csv|json`: one row per (tag, owner) with the evidence and confidence.
 *
 * CSV is RFC 4180 (comma, CRLF, fields with a quote, comma or line break quoted, quotes
 * doubled), UTF-8 with a byte-order mark so that Excel reads it as UTF-8. Excel converts on open
 * whatever looks like a number, a date or a boolean (`0001` -> 1, `1E10` -> 1E+10, `Mar1` -> a
 * date, `TRUE`) and runs what starts with `=`, `+`, `-` or `@` as a formula; every text here may
 * come from an attacker-controlled driver. So the tag column, and any other field Excel would
 * read as anything but text, is written as the formula `="text"` (a string constant: shown as
 * the text, never evaluated as anything else); a field too long for that (Excel's 255-character
 * string constants) starts with `'` instead. `tag_hex` (`0x70417846`) is plain for scripts; JSON
 * is the format for scripts.
 */
import { VERSION } from '../../version.js';
import type { ExportTag } from './owners.js';

export interface ExportRow {
  tag: string;
  tagHex: string;
  /** Why the tag is shared by many drivers, or null. */
  shared: string | null;
  /** `call-site`, `pooltag.txt`, `string`, or `note` for a tag known only from notes. */
  source: string;
  confidence: string;
  owner: string;
  binaries: string[];
  vendors: string[];
  products: string[];
  versions: string[];
  signers: string[];
  description: string;
  evidence: string;
  callSites: number;
  builds: number;
  hosts: number;
  sha256: string[];
  pooltagEntry: string | null;
  notes: string[];
  /** The pools the owner's allocation sites ask for, by name (call-site owners; empty otherwise). */
  pools: string[];
  /** The requested sizes in bytes at its allocation sites. */
  sizes: number[];
}

export function exportRows(tags: readonly ExportTag[]): ExportRow[] {
  const rows: ExportRow[] = [];
  for (const t of tags) {
    const notes = t.notes.map((n) => `${n.text}${n.author ? ` (${n.author}, ${n.createdAt.slice(0, 10)})` : ''}`);
    // Literals, not a spread of the common part: a spread object is several times slower to make,
    // and an export makes one per owner. The key order is the JSON export's column order.
    if (t.owners.length === 0) {
      rows.push({ tag: t.tag, tagHex: t.hex, shared: t.shared, notes, source: 'note', confidence: 'none', owner: '', binaries: [], vendors: [], products: [], versions: [], signers: [], description: '', evidence: 'an engineer\'s note', callSites: 0, builds: 0, hosts: 0, sha256: [], pooltagEntry: null, pools: [], sizes: [] });
    }
    for (const o of t.owners) {
      rows.push({
        tag: t.tag,
        tagHex: t.hex,
        shared: t.shared,
        notes,
        source: o.source,
        confidence: o.confidence,
        owner: o.owner,
        binaries: o.binaries,
        vendors: o.vendors,
        products: o.products,
        versions: o.versions,
        signers: o.signers,
        description: o.description,
        evidence: o.evidence,
        callSites: o.callSites,
        builds: o.builds.length,
        hosts: o.hosts,
        sha256: o.builds.map((b) => b.sha256),
        pooltagEntry: o.where ?? null,
        pools: o.pools ?? [],
        sizes: o.sizes ?? [],
      });
    }
  }
  return rows;
}

/** One JSON document, one row per line (`jq`, `grep` and a diff read it line by line). */
export function exportJson(tags: readonly ExportTag[], meta: { now?: Date; dbPath?: string } = {}): string {
  const rows = exportRows(tags);
  const head = JSON.stringify({ format: 'pooltag-export', schemaVersion: 1, tool: { name: 'pooltag', version: VERSION }, generatedAt: (meta.now ?? new Date()).toISOString(), db: meta.dbPath ?? null, tags: tags.length });
  return `${head.slice(0, -1)},"rows":[${rows.length ? '\n' : ''}${rows.map((r) => JSON.stringify(r)).join(',\n')}${rows.length ? '\n' : ''}]}\n`;
}

// ---------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------

const MONTH = '(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*';
/** What Excel reads as something other than text: numbers, dates, times, fractions, booleans, errors. */
const EXCEL_CONVERTS = new RegExp(
  [
    '^[\\s$€£¥(+-]*[\\d.,]*\\d[\\d.,]*(?:e[+-]?\\d*)?[\\s%)]*$', // 0001, 1E10, 1,000, $5, 50%, (5), 1e
    '^\\d{1,4}\\s*[-/.:]\\s*\\d{1,4}(?:\\s*[-/.:]\\s*\\d{1,4})*(?:\\s*[ap]m?)?$', // 1/2, 1-2, 2024-05-01, 10:30, 1.2.3
    `^\\d{1,2}\\s*[-/ ]?\\s*${MONTH}(?:\\s*[-/ ]?\\s*\\d{1,4})?$`, // 1-Jan, 1Jan
    `^${MONTH}\\s*[-/ ]?\\s*\\d{1,4}(?:\\s*[-/ ,]?\\s*\\d{1,4})?$`, // Mar1, Jan 2024
    '^\\d+\\s+\\d+/\\d+$', // 1 1/2
    '^(?:true|false)$',
    '^#(?:null!|div/0!|value!|ref!|name\\?|num!|n/a)$',
  ].join('|'),
  'i',
);
/** Formula starts (OWASP CSV injection), also after blanks and in full-width forms. */
const FORMULA = /^[\s\u00a0]*[=+\-@\uff1d\uff0b\uff0d\uff20]|^[\t\r]/;

/** A cell that Excel shows exactly as `s`: the formula `="s"` when it would convert or run it. */
export function excelText(s: string, always = false): string {
  if (!always && !EXCEL_CONVERTS.test(s) && !FORMULA.test(s)) return s;
  if (s.length <= 255) return `="${s.replace(/"/g, '""')}"`;
  return `'${s}`;
}

/** One RFC 4180 field. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const CSV_COLUMNS = [
  'tag', 'tag_hex', 'shared', 'source', 'confidence', 'owner', 'binaries', 'vendor', 'product', 'version', 'signer',
  'description', 'evidence', 'call_sites', 'builds', 'hosts', 'sha256', 'pooltag_entry', 'notes', 'pools', 'sizes',
] as const;

/** One line of text per cell value: control characters (tabs and line breaks too) shown as `\xNN` escapes. */
function cellText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`).slice(0, 32000);
}

/** The CSV with its byte-order mark (UTF-8 bytes: {@link exportCsvBytes}). */
export function exportCsv(tags: readonly ExportTag[]): string {
  return '\uFEFF' + csvText(tags);
}

/**
 * The CSV's UTF-8 bytes. The byte-order mark is added as bytes: in the text it would make all of
 * it a two-byte string, several times slower to encode (17 MB for a base of 10,000 drivers).
 */
export function exportCsvBytes(tags: readonly ExportTag[]): Buffer {
  return Buffer.concat([Buffer.from('\uFEFF', 'utf8'), Buffer.from(csvText(tags), 'utf8')]);
}

function csvText(tags: readonly ExportTag[]): string {
  const out: string[] = [CSV_COLUMNS.join(',')];
  const list = (xs: string[]) => xs.join('; ');
  // Most cells repeat (vendors, evidence, confidence): each distinct text is made a cell once.
  const cellOf = new Map<string, string>();
  const textCell = (c: string) => {
    if (c === '') return c;
    let cell = cellOf.get(c);
    if (cell === undefined) cellOf.set(c, (cell = csvField(excelText(cellText(c)))));
    return cell;
  };
  for (const r of exportRows(tags)) {
    const cells = [
      excelText(cellText(r.tag), true),
      r.tagHex,
      r.shared ? 'yes' : '',
      r.source,
      r.confidence,
      r.owner,
      list(r.binaries),
      list(r.vendors),
      list(r.products),
      list(r.versions),
      list(r.signers),
      r.description,
      r.evidence,
      String(r.callSites),
      String(r.builds),
      String(r.hosts),
      list(r.sha256),
      r.pooltagEntry ?? '',
      list(r.notes),
      list(r.pools),
      r.sizes.join('; '),
    ].map((c, i) => {
      if (i === 0 || i === 1 || i >= 13 && i <= 15) return csvField(c); // tag (done), hex, counts
      return textCell(c);
    });
    out.push(cells.join(','));
  }
  return out.join('\r\n') + '\r\n';
}
