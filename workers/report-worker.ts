/**
 * Entry point of a report-reading worker thread of `pooltag merge`, loaded by piscina from
 * dist/workers/report-worker.js: reads, unpacks, parses and checks one report file. Its
 * workerData lists the SHA-256 of the report files the base has merged (those are not parsed),
 * and the seed the merging thread hashes paths with.
 */
import { workerData } from 'node:worker_threads';

import { mergeInputFromFile, setPathHashSeed } from '../src/report/merge-input.js';

const data = workerData as { merged?: string[]; seed?: number } | null;
const merged = new Set<string>(data?.merged ?? []);
if (typeof data?.seed === 'number') setPathHashSeed(data.seed);

export default function readReport(path: string) {
  return mergeInputFromFile(path, merged);
}
