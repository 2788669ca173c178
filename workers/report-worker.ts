/**
 * Entry point of a report-reading worker thread of `pooltag merge`, loaded by piscina from
 * dist/workers/report-worker.js: reads, unpacks, parses and checks one report file. Its
 * workerData lists the SHA-256 of the report files the base has merged (those are not parsed).
 */
import { workerData } from 'node:worker_threads';

import { mergeInputFromFile } from '../src/report/merge-input.js';

const merged = new Set<string>((workerData as { merged?: string[] } | null)?.merged ?? []);

export default function readReport(path: string) {
  return mergeInputFromFile(path, merged);
}
