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
import type { ExportTag, OwnerBuild } from './owners.js';

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
    const notes = noteTexts(t);
    // Literals, not a spread of the common part: a spread object is several times slower to make,
    // and an export makes one per owner. The key order is the JSON export's column order.
    if (t.owners.length === 0) {
      rows.push({ tag: t.tag, tagHex: t.hex, shared: t.shared, notes, source: 'note', confidence: 'none', owner: '', binaries: [], vendors: [], products: [], versions: [], signers: [], description: '', evidence: NOTE_EVIDENCE, callSites: 0, builds: 0, hosts: 0, sha256: [], pooltagEntry: null, pools: [], sizes: [] });
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

/**
 * One JSON document, one row per line (`jq`, `grep` and a diff read it line by line). Each line
 * is `JSON.stringify` of its {@link exportRows} row, written part by part: a list that many rows
 * share (an image's vendors, its builds) is written once (test/export-bulk.test.ts compares).
 */
export function exportJson(tags: readonly ExportTag[], meta: { now?: Date; dbPath?: string } = {}): string {
  const head = JSON.stringify({ format: 'pooltag-export', schemaVersion: 1, tool: { name: 'pooltag', version: VERSION }, generatedAt: (meta.now ?? new Date()).toISOString(), db: meta.dbPath ?? null, tags: tags.length });
  const lists = new Map<readonly unknown[], string>();
  const list = (xs: readonly unknown[]) => {
    let j = lists.get(xs);
    if (j === undefined) lists.set(xs, (j = JSON.stringify(xs)));
    return j;
  };
  const shas = new Map<readonly OwnerBuild[], string>();
  const shaList = (bs: readonly OwnerBuild[]) => {
    let j = shas.get(bs);
    if (j === undefined) shas.set(bs, (j = JSON.stringify(bs.map((b) => b.sha256))));
    return j;
  };
  const q = JSON.stringify;
  const lines = new Lines(',\n');
  for (const t of tags) {
    const start = `{"tag":${q(t.tag)},"tagHex":${q(t.hex)},"shared":${q(t.shared)},"notes":${q(noteTexts(t))},`;
    if (t.owners.length === 0) {
      lines.push(`${start}"source":"note","confidence":"none","owner":"","binaries":[],"vendors":[],"products":[],"versions":[],"signers":[],"description":"","evidence":${q(NOTE_EVIDENCE)},"callSites":0,"builds":0,"hosts":0,"sha256":[],"pooltagEntry":null,"pools":[],"sizes":[]}`);
    }
    for (const o of t.owners) {
      lines.push(
        `${start}"source":${q(o.source)},"confidence":${q(o.confidence)},"owner":${q(o.owner)},"binaries":${list(o.binaries)},"vendors":${list(o.vendors)},"products":${list(o.products)},"versions":${list(o.versions)},"signers":${list(o.signers)},` +
          `"description":${q(o.description)},"evidence":${q(o.evidence)},"callSites":${q(o.callSites)},"builds":${q(o.builds.length)},"hosts":${q(o.hosts)},"sha256":${shaList(o.builds)},"pooltagEntry":${q(o.where ?? null)},"pools":${list(o.pools ?? NONE)},"sizes":${list(o.sizes ?? NONE)}}`,
      );
    }
  }
  const body = lines.text();
  return `${head.slice(0, -1)},"rows":[${body ? '\n' : ''}${body}${body ? '\n' : ''}]}\n`;
}

const NONE: readonly never[] = Object.freeze([]);

/**
 * Lines joined by a separator, a block at a time: a line made of many parts is a tree of string
 * pieces until joined, and joined soon its pieces are freed young (instead of all of them
 * outliving a collection or two until the end).
 */
class Lines {
  private readonly blocks: string[] = [];
  private block: string[] = [];
  constructor(private readonly sep: string) {}
  push(line: string): void {
    this.block.push(line);
    if (this.block.length === 512) {
      this.blocks.push(this.block.join(this.sep));
      this.block = [];
    }
  }
  text(): string {
    if (this.block.length) this.blocks.push(this.block.join(this.sep));
    this.block = [];
    return this.blocks.join(this.sep);
  }
}
const NOTE_EVIDENCE = 'an engineer\'s note';

/** A tag's notes as its rows show them: `text (author, date)`. */
function noteTexts(t: ExportTag): string[] {
  return t.notes.map((n) => `${n.text}${n.author ? ` (${n.author}, ${n.createdAt.slice(0, 10)})` : ''}`);
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

/**
 * The CSV's text: for each {@link exportRows} row, its cells (a text cell through `cellText`,
 * `excelText` and `csvField`; a list as its items joined by `; `). Written from the tags
 * directly: a text or a list that many rows share is made a cell once (test/export-bulk.test.ts
 * compares with the cells made row by row).
 */
function csvText(tags: readonly ExportTag[]): string {
  const out = new Lines('\r\n');
  out.push(CSV_COLUMNS.join(','));
  // Most cells repeat (vendors, evidence, confidence): each distinct text is made a cell once.
  const cellOf = new Map<string, string>();
  const textCell = (c: string) => {
    if (c === '') return c;
    let cell = cellOf.get(c);
    if (cell === undefined) cellOf.set(c, (cell = csvField(excelText(cellText(c)))));
    return cell;
  };
  // and each list (an image's names, vendors, builds; a site summary's pools) once
  const lists = new Map<readonly unknown[], string>();
  const listCell = (xs: readonly (string | number)[]) => {
    let cell = lists.get(xs);
    if (cell === undefined) lists.set(xs, (cell = textCell(xs.join('; '))));
    return cell;
  };
  const shas = new Map<readonly OwnerBuild[], string>();
  const shaCell = (bs: readonly OwnerBuild[]) => {
    let cell = shas.get(bs);
    if (cell === undefined) shas.set(bs, (cell = textCell(bs.map((b) => b.sha256).join('; '))));
    return cell;
  };
  for (const t of tags) {
    const head = `${csvField(excelText(cellText(t.tag), true))},${csvField(t.hex)},${textCell(t.shared ? 'yes' : '')},`;
    const notes = textCell(noteTexts(t).join('; '));
    if (t.owners.length === 0) out.push(`${head}note,none,,,,,,,,${textCell(NOTE_EVIDENCE)},0,0,0,,,${notes},,`);
    for (const o of t.owners) {
      out.push(
        `${head}${textCell(o.source)},${textCell(o.confidence)},${textCell(o.owner)},${listCell(o.binaries)},${listCell(o.vendors)},${listCell(o.products)},${listCell(o.versions)},${listCell(o.signers)},` +
          `${textCell(o.description)},${textCell(o.evidence)},${csvField(String(o.callSites))},${csvField(String(o.builds.length))},${csvField(String(o.hosts))},${shaCell(o.builds)},${textCell(o.where ?? '')},${notes},${listCell(o.pools ?? NONE)},${listCell(o.sizes ?? NONE)}`,
      );
    }
  }
  return out.text() + '\r\n';
}
