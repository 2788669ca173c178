/**
 * pooltag as a library. The stages follow the data:
 *   discover -> read PE -> extract evidence -> report -> merge -> index -> answer.
 * Each stage lives in its own folder under src/ and is exported from here.
 */
export * from './pe/index.js';
export { extractEvidence, type ExtractOptions, type ExtractionWithStrings } from './evidence/extract.js';
export type * from './evidence/types.js';
export { Tag, parseTag, TagParseError, PROTECTED_POOL } from './tag/tag.js';
export { loadRoutines, findRoutine, sharedTagInfo } from './tag/routines.js';
export { VERSION } from './version.js';
