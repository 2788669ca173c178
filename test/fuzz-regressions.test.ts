/**
 * The inputs `npm run fuzz` found crashing pooltag (test/fuzz-regressions/, minimised), each
 * through the path it crashed: the outcome must be the documented one (a result or a
 * per-file error for images, ReportError for a bad report, a lossless parse for text).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { detectPoolOutput, parsePool, parsePoolFind, parsePoolmon, parsePoolused } from '../src/answer/pool-output.js';
import { encodePooltagTxt, parsePooltagTxt } from '../src/knowledge/pooltag-txt.js';
import { Store, StoreError } from '../src/knowledge/store.js';
import { parseReport, ReportError } from '../src/report/read.js';
import { analyseBytes } from '../src/scan/analyse.js';
import { repoRoot } from './helpers/shared.js';

const dir = join(repoRoot, 'test/fuzz-regressions');
const files = readdirSync(dir).filter((f) => f !== 'README.md').sort();

/** Known outcomes, by file; a new file needs only the generic checks below. */
const EXPECTED: Record<string, RegExp> = {
  'finished-at-object.report.json': /finishedAt is not a string/,
};

describe('fuzz regressions', () => {
  it('every kept input is listed in the README', async () => {
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(files.filter((f) => !readme.includes(`\`${f}\``))).toEqual([]);
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s', async (name) => {
    const bytes = readFileSync(join(dir, name));
    if (name.endsWith('.sys')) {
      const out = await analyseBytes(bytes, { minStringLength: 4 });
      if (out.kind === 'error') expect(out.error.code, out.error.message).not.toBe('internal');
      if (EXPECTED[name]) expect(out.kind === 'error' ? out.error.message : 'ok').toMatch(EXPECTED[name]);
    } else if (name.endsWith('.report.json')) {
      let message = 'merged';
      try {
        const store = await Store.open(':memory:');
        try {
          await store.mergeReport(parseReport(bytes.toString('utf8')), name);
        } finally {
          await store.close();
        }
      } catch (err) {
        expect(err instanceof ReportError || err instanceof StoreError, String(err)).toBe(true);
        message = (err as Error).message;
      }
      if (EXPECTED[name]) expect(message).toMatch(EXPECTED[name]);
    } else if (name.endsWith('.pooltag.txt')) {
      expect(encodePooltagTxt(parsePooltagTxt(bytes)).equals(bytes)).toBe(true);
    } else if (name.endsWith('.poolout.txt')) {
      for (const parse of [parsePoolmon, parsePoolused, parsePool, parsePoolFind, detectPoolOutput]) {
        const o = parse(bytes.toString('utf8'));
        expect(o.unknownCount).toBe(o.unknown.length);
      }
    } else throw new Error(`${name}: unknown kind of regression input (see README.md)`);
  });
});
