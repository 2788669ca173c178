/**
 * pooltag as a library. The stages follow the data:
 *   discover -> read PE -> extract evidence -> report -> merge -> index -> answer.
 * Each stage lives in its own folder under src/ and is exported from here.
 */
export * from './pe/index.js';
export { VERSION } from './version.js';
