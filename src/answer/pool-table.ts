/**
 * CSV and JSON tables of pool tags: what PowerShell scripts that read
 * SystemPoolTagInformation write with `Export-Csv` / `ConvertTo-Csv` / `ConvertTo-Json`.
 * Their objects mirror SYSTEM_POOLTAG (`Tag`, `PagedAllocs`, `PagedFrees`, `PagedUsed`,
 * `NonPagedAllocs`, `NonPagedFrees`, `NonPagedUsed`), often with `...Diff`, `...UsedBytes`,
 * `TotalUsedBytes`, `Binary`, `Description` and, in loop mode, a `DateTime` column that
 * makes one file a series of snapshots. Columns are mapped by their header names (the
 * table is data/pool-columns.json), case and punctuation ignored; a one-pool layout (`Tag`, `Type`,
 * `Allocs`, `Frees`, `Diff`, `Bytes`) works too. Never throws.
 */
import { readFileSync } from 'node:fs';

import { dataPath } from '../tag/routines.js';
import { emptyRow, type PoolRow, type PoolType, type UnknownLine } from './pool-output.js';

export interface TableSnapshot {
  /** The `DateTime` / `Timestamp` cell as written; null without such a column. */
  time: string | null;
  rows: PoolRow[];
}

export interface PoolTable {
  format: 'csv' | 'json';
  /** One per distinct time value, in file order (one when the table has no time column). */
  snapshots: TableSnapshot[];
  /** The header names as read, and what each was mapped to (null: not used). */
  columns: { name: string; field: string | null }[];
  /** CSV: line numbers; JSON: record numbers (1-based). */
  unknown: UnknownLine[];
  ignored: number;
}

type Metric = 'allocs' | 'frees' | 'diff' | 'bytes' | 'perAlloc';
type Field =
  | { kind: 'tag' }
  | { kind: 'tagUlong' }
  | { kind: 'type' }
  | { kind: 'driver' }
  | { kind: 'description' }
  | { kind: 'time' }
  | { kind: 'metric'; pool: PoolType | null; metric: Metric };

const norm = (h: string): string => h.toLowerCase().replace(/[^a-z0-9]/g, '');

/** data/pool-columns.json: header names → fields, pools and metrics. */
interface ColumnTable {
  fields: Record<Exclude<Field['kind'], 'metric'>, string[]>;
  pools: Record<PoolType, string[]>;
  metrics: Record<Metric, string[]>;
}
let columns: { byName: Map<string, Field['kind']>; pools: [string, PoolType][]; metrics: Map<string, Metric> } | null = null;

function columnTable() {
  if (columns) return columns;
  const t = JSON.parse(readFileSync(dataPath('pool-columns.json'), 'utf8')) as ColumnTable;
  const byName = new Map<string, Field['kind']>();
  for (const [kind, names] of Object.entries(t.fields) as [Exclude<Field['kind'], 'metric'>, string[]][]) for (const n of names) byName.set(norm(n), kind);
  // Longest prefix first: `nonpagedpool` before `nonpaged` before `nonp`.
  const pools = (Object.entries(t.pools) as [PoolType, string[]][]).flatMap(([p, names]) => names.map((n) => [norm(n), p] as [string, PoolType])).sort((a, b) => b[0].length - a[0].length);
  const metrics = new Map<string, Metric>();
  for (const [m, names] of Object.entries(t.metrics) as [Metric, string[]][]) for (const n of names) metrics.set(norm(n), m);
  return (columns = { byName, pools, metrics });
}

/** What one header name means; null when the column is not used (`TotalUsedBytes`, ...). */
export function columnField(header: string): Field | null {
  const h = norm(header);
  const t = columnTable();
  const kind = t.byName.get(h);
  if (kind) return { kind } as Field;
  for (const [prefix, pool] of t.pools) {
    if (!h.startsWith(prefix) || h.length === prefix.length) continue;
    const metric = t.metrics.get(h.slice(prefix.length));
    if (metric) return { kind: 'metric', pool, metric };
  }
  const metric = t.metrics.get(h);
  return metric ? { kind: 'metric', pool: null, metric } : null;
}

function poolOfType(s: string): PoolType | null {
  const t = s.trim().toLowerCase();
  if (/^non/.test(t) || t === 'np') return 'Nonp';
  if (/^pag/.test(t) || t === 'pp') return 'Paged';
  if (/^sess/.test(t)) return 'Sess';
  return null;
}

/** A cell as an integer: `123`, `"1,234"`, `1 234`, 123.0; null for empty; NaN for text. */
function cellNumber(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : NaN;
  const s = String(v).trim().replace(/[,_\s\u00a0']/g, '');
  if (s === '') return null;
  if (/^-?\d+(?:\.0+)?$/.test(s)) return Math.trunc(Number(s));
  if (/^0x[0-9a-f]{1,16}$/i.test(s)) return parseInt(s, 16);
  return NaN;
}

/** A tag cell: up to 4 characters, NULs (from a byte array decoded as text) as spaces. */
function cellTag(v: unknown): string | null {
  // ConvertTo-Json of SYSTEM_POOLTAG's `byte[] Tag`: four numbers.
  if (Array.isArray(v) && v.length === 4 && v.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
    return (v as number[]).map((c) => (c === 0 ? ' ' : c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.')).join('');
  }
  if (typeof v !== 'string') return null;
  const s = v.replace(/\0/g, ' ').replace(/\s+$/, '');
  if (s.length === 0 || s.length > 4) return null;
  return s;
}

/** PowerShell 5.1's JSON dates: `"\/Date(1714557000000)\/"` or `{ value, DateTime }`. */
function cellTime(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return cellTime(o.value ?? o.DateTime ?? null);
  }
  const s = String(v).trim();
  const ms = /^\/Date\((-?\d+)(?:[+-]\d{4})?\)\/$/.exec(s);
  if (ms) return new Date(Number(ms[1])).toISOString();
  return s || null;
}

interface Mapping {
  fields: (Field | null)[];
  tag: number;
  tagUlong: number;
  hasMetrics: boolean;
}

function mapColumns(names: string[]): Mapping {
  const fields = names.map(columnField);
  return {
    fields,
    tag: fields.findIndex((f) => f?.kind === 'tag'),
    tagUlong: fields.findIndex((f) => f?.kind === 'tagUlong'),
    hasMetrics: fields.some((f) => f?.kind === 'metric'),
  };
}

/** One record → its rows (one per pool group) and its time, or an error message. */
function recordRows(cells: unknown[], map: Mapping, n: number, raw: string): { rows: PoolRow[]; time: string | null } | string {
  let display: string | null = null;
  if (map.tag >= 0) {
    display = cellTag(cells[map.tag]);
    if (display === null && map.tagUlong < 0) return `tag ${JSON.stringify(cells[map.tag])} is not 1 to 4 characters`;
  }
  if (display === null && map.tagUlong >= 0) {
    const u = cellNumber(cells[map.tagUlong]);
    if (u === null || Number.isNaN(u) || u < 0 || u > 0xffffffff) return `tag value ${JSON.stringify(cells[map.tagUlong])} is not a 32-bit number`;
    const b = [u & 0xff, (u >>> 8) & 0xff, (u >>> 16) & 0xff, (u >>> 24) & 0x7f];
    display = b.map((c) => (c === 0 ? ' ' : c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.')).join('');
  }
  if (display === null) return 'no tag';
  const proto = emptyRow(n, raw, display);
  let type: PoolType | null = null;
  let time: string | null = null;
  const byPool = new Map<PoolType | null, Partial<Record<Metric, number | null>>>();
  for (let i = 0; i < map.fields.length; i++) {
    const f = map.fields[i];
    if (!f) continue;
    const v = cells[i];
    if (f.kind === 'type') type = typeof v === 'string' ? poolOfType(v) : null;
    else if (f.kind === 'driver') proto.mappedDriver = typeof v === 'string' && v.trim() ? v.trim() : null;
    else if (f.kind === 'description') proto.description = typeof v === 'string' && v.trim() ? v.trim() : null;
    else if (f.kind === 'time') time = cellTime(v);
    else if (f.kind === 'metric') {
      const num = cellNumber(v);
      if (Number.isNaN(num)) return `${JSON.stringify(String(v).slice(0, 40))} is not a number`;
      let m = byPool.get(f.pool);
      if (!m) byPool.set(f.pool, (m = {}));
      m[f.metric] = num;
    }
  }
  const rows: PoolRow[] = [];
  for (const [pool, m] of byPool) {
    const row: PoolRow = { ...proto, mapped: [], poolType: pool ?? type };
    row.allocs = m.allocs ?? null;
    row.frees = m.frees ?? null;
    row.diff = m.diff ?? (row.allocs !== null && row.frees !== null ? row.allocs - row.frees : null);
    row.bytes = m.bytes ?? null;
    row.perAlloc = m.perAlloc ?? (row.bytes !== null && row.diff ? Math.round(row.bytes / row.diff) : null);
    rows.push(row);
  }
  return { rows, time };
}

function addRecord(out: PoolTable, r: { rows: PoolRow[]; time: string | null }): void {
  let snap = out.snapshots.find((s) => s.time === r.time);
  if (!snap) out.snapshots.push((snap = { time: r.time, rows: [] }));
  snap.rows.push(...r.rows);
}

// ---------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------

/** RFC 4180 fields of one line (a quoted field may not span lines here). */
function csvFields(line: string, delim: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            s += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += line[i++];
      }
      out.push(s);
      while (line[i] === ' ') i++;
    } else {
      const e = line.indexOf(delim, i);
      out.push((e < 0 ? line.slice(i) : line.slice(i, e)).trim());
      i = e < 0 ? line.length : e;
    }
    if (i >= line.length) return out;
    if (line[i] !== delim) return null;
    i++;
  }
}

/** The header line of a CSV table: delimiter and columns, when it names a tag column. */
export function csvHeader(line: string): { delim: string; names: string[] } | null {
  if (line.length > 4096) return null;
  for (const delim of [',', ';', '\t']) {
    if (!line.includes(delim)) continue;
    const names = csvFields(line, delim);
    if (!names || names.length < 2) continue;
    const map = mapColumns(names);
    if ((map.tag >= 0 || map.tagUlong >= 0) && map.hasMetrics) return { delim, names };
  }
  return null;
}

export function parsePoolCsv(lines: readonly string[]): PoolTable {
  const out: PoolTable = { format: 'csv', snapshots: [], columns: [], unknown: [], ignored: 0 };
  let header: { delim: string; names: string[]; map: Mapping } | null = null;
  lines.forEach((l, i) => {
    const n = i + 1;
    if (l.trim() === '' || /^#TYPE\b/i.test(l.trim())) {
      out.ignored++;
      return;
    }
    if (!header) {
      const h = csvHeader(l);
      if (h) {
        header = { ...h, map: mapColumns(h.names) };
        out.columns = h.names.map((name, k) => ({ name, field: describe(header!.map.fields[k]) }));
      } else out.unknown.push({ line: n, text: l.slice(0, 200) });
      if (h) out.ignored++;
      return;
    }
    const h = header as { delim: string; names: string[]; map: Mapping };
    // A repeated header (files appended to each other) is skipped.
    if (csvHeader(l) && norm(l) === norm(h.names.join(h.delim))) {
      out.ignored++;
      return;
    }
    const cells = l.length > 4096 ? null : csvFields(l, h.delim);
    if (!cells || cells.length !== h.names.length) {
      const why = cells ? `${cells.length} cells, the header has ${h.names.length}` : 'unbalanced quotes';
      out.unknown.push({ line: n, text: `${l.length > 160 ? l.slice(0, 160) + '…' : l}  (${why})` });
      return;
    }
    const r = recordRows(cells, h.map, n, l);
    if (typeof r === 'string') out.unknown.push({ line: n, text: `${l.slice(0, 160)}  (${r})` });
    else addRecord(out, r);
  });
  return out;
}

function describe(f: Field | null): string | null {
  if (!f) return null;
  if (f.kind !== 'metric') return f.kind;
  return `${f.pool ?? 'type column'} ${f.metric}`;
}

// ---------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------

/** ConvertTo-Json output: an array of objects, one object, or `{ value: [...] }`. */
export function parsePoolJson(text: string): PoolTable | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  let records: unknown[] | null = Array.isArray(data) ? data : null;
  if (!records && data && typeof data === 'object') {
    const o = data as Record<string, unknown>;
    const arr = Object.values(o).find((v) => Array.isArray(v) && v.length > 0 && typeof v[0] === 'object');
    records = (arr as unknown[] | undefined) ?? [o];
  }
  if (!records) return null;
  const out: PoolTable = { format: 'json', snapshots: [], columns: [], unknown: [], ignored: 0 };
  const names: string[] = [];
  for (const r of records) if (r && typeof r === 'object' && !Array.isArray(r)) for (const k of Object.keys(r)) if (!names.includes(k)) names.push(k);
  const map = mapColumns(names);
  if ((map.tag < 0 && map.tagUlong < 0) || !map.hasMetrics) return null;
  out.columns = names.map((name, k) => ({ name, field: describe(map.fields[k]) }));
  records.forEach((rec, i) => {
    const n = i + 1;
    if (!rec || typeof rec !== 'object' || Array.isArray(rec)) {
      out.unknown.push({ line: n, text: `record ${n}: not an object` });
      return;
    }
    const o = rec as Record<string, unknown>;
    const r = recordRows(
      names.map((k) => o[k]),
      map,
      n,
      '',
    );
    if (typeof r === 'string') out.unknown.push({ line: n, text: `record ${n}: ${r}` });
    else addRecord(out, r);
  });
  return out;
}
