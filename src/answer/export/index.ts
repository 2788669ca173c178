/**
 * Exports of the knowledge base for the tools engineers already use: a pooltag.txt for WinDbg,
 * a localtag.txt for poolmon, CSV for a spreadsheet, JSON for scripts, and one offline HTML
 * page. One module per format; {@link exportTags} collects what they all write.
 */
import type { PooltagFile } from '../../knowledge/pooltag-txt.js';
import { readSnapshot } from '../../knowledge/snapshot.js';
import type { Store } from '../../knowledge/store.js';
import { exportHtml, type HtmlExport } from './html.js';
import { exportLocaltag, type LocaltagExport } from './localtag.js';
import { exportTags } from './bulk.js';
import { exportPooltag, type PooltagExport } from './pooltag.js';
import { exportCsvBytes, exportJson } from './rows.js';

export { knownTagKeys, tagOwners, summariseSites, mergeSummaries, type ExportOwner, type ExportTag, type OwnerBuild, type OwnerSource, type SiteSummary } from './owners.js';
export { exportTags, bulkTags, snapshotBuild, snapshotTagKeys } from './bulk.js';
export { exportPooltag, isDebuggerPooltag, scannedEntry, type PooltagExport, type PooltagExportOptions } from './pooltag.js';
export { exportLocaltag, LOCALTAG_CLASSES, type LocaltagClass, type LocaltagExport } from './localtag.js';
export { exportRows, exportCsv, exportCsvBytes, exportJson, excelText, csvField, CSV_COLUMNS, type ExportRow } from './rows.js';
export { exportHtml, type HtmlExport } from './html.js';

export const EXPORT_FORMATS = ['pooltag', 'localtag', 'csv', 'json', 'html'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  /** pooltag only: Microsoft's pooltag.txt to pass through. */
  mergeWith?: PooltagFile | null;
  now?: Date;
  /** Shown in headers (the base's path). */
  dbPath?: string;
  /** localtag only: the byte limit (poolmon's 1,000,000 by default). */
  limit?: number;
  /**
   * Answer each tag with its own queries, as `pooltag lookup` does, instead of reading the base
   * in bulk: slower by far, the same output (the tests compare them).
   */
  perTag?: boolean;
}

export interface ExportResult {
  format: ExportFormat;
  bytes: Buffer;
  /** Tags the base knows (exported). */
  tags: number;
  /** Keys in the base that are not a tag, left out. */
  skippedKeys: number;
  pooltag?: Omit<PooltagExport, 'bytes'>;
  localtag?: Omit<LocaltagExport, 'text'>;
  html?: Omit<HtmlExport, 'html'>;
}

/** Exports the whole base in one format (one consistent read of it). */
export async function exportBase(store: Store, format: ExportFormat, opts: ExportOptions = {}): Promise<ExportResult> {
  return store.read(async () => {
    const snapshot = opts.perTag ? null : await readSnapshot(store);
    const { tags, skipped } = await exportTags(store, snapshot);
    const base = { format, tags: tags.length, skippedKeys: skipped };
    switch (format) {
      case 'pooltag': {
        const { bytes, ...rest } = await exportPooltag(store, tags, opts);
        return { ...base, bytes, pooltag: rest };
      }
      case 'localtag': {
        const { text, ...rest } = exportLocaltag(tags, { limit: opts.limit });
        return { ...base, bytes: Buffer.from(text, 'latin1'), localtag: rest };
      }
      case 'csv':
        return { ...base, bytes: exportCsvBytes(tags) };
      case 'json':
        return { ...base, bytes: Buffer.from(exportJson(tags, opts), 'utf8') };
      case 'html': {
        const { html, ...rest } = await exportHtml(store, tags, { ...opts, snapshot });
        return { ...base, bytes: Buffer.from(html, 'utf8'), html: rest };
      }
    }
  });
}
