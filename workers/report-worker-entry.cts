/**
 * The file piscina loads for a report-reading thread of `pooltag merge`: CommonJS, importing
 * the ES module report-worker.ts once, for the reason given in scan-worker-entry.cts (require()
 * of an ES module can abort the process in a race of Node's loader).
 */
import type { MergeInputError, MergeInput, MergeInputMerged } from '../src/report/merge-input.js';

type ReadReport = (path: string) => MergeInput | MergeInputMerged | MergeInputError;
let handler: ReadReport | undefined;

async function readReport(path: string): Promise<ReturnType<ReadReport>> {
  handler ??= ((await import('./report-worker.js')) as { default: ReadReport }).default;
  return handler(path);
}

export = readReport;
