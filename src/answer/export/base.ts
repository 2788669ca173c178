/**
 * `exportBase`: the whole base in one format. Each format's writer is loaded when it is asked
 * for (a CSV export does not load the page's writer, the search index or lunr): the CLI imports
 * this module, not index.ts, which loads every writer for the library's API.
 */
import type { PooltagFile } from '../../knowledge/pooltag-txt.js';
import { readSnapshot } from '../../knowledge/snapshot.js';
import type { Store } from '../../knowledge/store.js';
import { exportTags } from './bulk.js';
import type { HtmlExport } from './html.js';
import type { LocaltagExport } from './localtag.js';
import type { PooltagExport } from './pooltag.js';

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
    const snapshot = opts.perTag ? null : await readSnapshot(store, { paths: format === 'html' });
    const { tags, skipped } = await exportTags(store, snapshot);
    const base = { format, tags: tags.length, skippedKeys: skipped };
    switch (format) {
      case 'pooltag': {
        const { exportPooltag } = await import('./pooltag.js');
        const { bytes, ...rest } = await exportPooltag(store, tags, opts);
        return { ...base, bytes, pooltag: rest };
      }
      case 'localtag': {
        const { exportLocaltag } = await import('./localtag.js');
        const { text, ...rest } = exportLocaltag(tags, { limit: opts.limit });
        return { ...base, bytes: Buffer.from(text, 'latin1'), localtag: rest };
      }
      case 'csv':
        return { ...base, bytes: (await import('./rows.js')).exportCsvBytes(tags) };
      case 'json':
        return { ...base, bytes: Buffer.from((await import('./rows.js')).exportJson(tags, opts), 'utf8') };
      case 'html': {
        const { exportHtml } = await import('./html.js');
        const { html, ...rest } = await exportHtml(store, tags, { ...opts, snapshot });
        return { ...base, bytes: Buffer.from(html, 'utf8'), html: rest };
      }
    }
  });
}
