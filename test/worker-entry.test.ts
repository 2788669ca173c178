// piscina loads a worker with require() first. require() of an ES module (Node 20.19+, 22.12+)
// raced in Node's loader and aborted the scan ("v8::Module::IsGraphAsync must be used on an
// instantiated module", about 1 scan in 50 on a loaded machine, seen in CI on Node 22.23). So
// the files piscina loads are CommonJS, and they import the workers' ES modules themselves.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { describe, expect, it } from 'vitest';

import { reportWorkerFile } from '../src/report/reader.js';
import { defaultWorkerFile } from '../src/scan/scan.js';

describe('the files piscina loads for worker threads', () => {
  it('are CommonJS, and give the worker function to require() without loading an ES module', () => {
    const require = createRequire(import.meta.url);
    for (const f of [defaultWorkerFile(), reportWorkerFile()!]) {
      expect(f).toMatch(/\.cjs$/);
      expect(readFileSync(f, 'utf8')).toMatch(/^"use strict";/);
      const before = Object.keys(require.cache).length;
      const fn = require(f) as unknown;
      expect(typeof fn).toBe('function');
      // the ES module is not loaded by require(): only the CommonJS file entered the cache
      expect(Object.keys(require.cache).length).toBe(before + 1);
    }
  });

  it('the scan worker entry runs a task through the ES module it imports', async () => {
    const require = createRequire(import.meta.url);
    const run = require(defaultWorkerFile()) as (task: unknown) => Promise<{ kind: string }[]>;
    const progress = new SharedArrayBuffer(16);
    const out = await run({ op: 'hash', paths: [defaultWorkerFile()], opts: { maxFileSize: 1 << 20, minStringLength: 4 }, progress });
    expect(out).toHaveLength(1);
    expect(out[0].kind).toBe('hash');
  });
});
