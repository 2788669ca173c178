/**
 * Entry point of a report-reading worker thread of `pooltag merge`, loaded by piscina from
 * dist/workers/report-worker.js: reads, unpacks, parses and checks one report file.
 */
import { mergeInputFromFile } from '../src/report/merge-input.js';

export default function readReport(path: string) {
  return mergeInputFromFile(path);
}
