/**
 * Entry point of a scan worker thread, loaded by piscina from dist/workers/scan-worker.js.
 * The work itself is in src/scan/worker.ts; the decoders load only when a file needs them.
 */
export { default } from '../src/scan/worker.js';
