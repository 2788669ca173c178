/**
 * Exports of the knowledge base for the tools engineers already use: a pooltag.txt for WinDbg,
 * a localtag.txt for poolmon, CSV for a spreadsheet, JSON for scripts, and one offline HTML
 * page. One module per format; {@link exportTags} collects what they all write.
 */
export { knownTagKeys, tagOwners, summariseSites, mergeSummaries, type ExportOwner, type ExportTag, type OwnerBuild, type OwnerSource, type SiteSummary } from './owners.js';
export { exportTags, bulkTags, snapshotBuild, snapshotTagKeys } from './bulk.js';
export { exportPooltag, isDebuggerPooltag, scannedEntry, type PooltagExport, type PooltagExportOptions } from './pooltag.js';
export { exportLocaltag, LOCALTAG_CLASSES, type LocaltagClass, type LocaltagExport } from './localtag.js';
export { exportRows, exportCsv, exportCsvBytes, exportJson, excelText, csvField, CSV_COLUMNS, type ExportRow } from './rows.js';
export { exportHtml, type HtmlExport } from './html.js';

export { exportBase, EXPORT_FORMATS, type ExportFormat, type ExportOptions, type ExportResult } from './base.js';
