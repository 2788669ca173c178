#!/usr/bin/env node
// After tsc (npm run build): dist/src/knowledge/kysely.js, which re-exports Kysely, becomes
// Kysely bundled into one minified file. Loading Kysely's 280 modules one by one costs a cold
// `pooltag lookup` several hundred milliseconds; one file costs a tenth of that. Without this
// step (tsc alone) the re-export works the same, only slower to load.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/src/knowledge/kysely.js');
if (!existsSync(out)) {
  console.error('bundle-kysely: dist/src/knowledge/kysely.js is missing: run tsc -p tsconfig.build.json first');
  process.exit(1);
}
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.error('bundle-kysely: esbuild is not installed (a development dependency); dist keeps the plain re-export of kysely');
  process.exit(0);
}
const entry = join(dirname(createRequire(import.meta.url).resolve('kysely')), '..', 'esm', 'index.js');
await esbuild.build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', target: 'node20', minify: true, keepNames: true, legalComments: 'eof', outfile: out, allowOverwrite: true, logLevel: 'warning' });
