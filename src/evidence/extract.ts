/**
 * extractEvidence: image -> evidence. One pure function over a Buffer and its `PeImage`;
 * no I/O, so that the scanner's workers, tests and other programs call it the same way.
 */
import type { PeImage } from '../pe/types.js';
import type { Backend } from './sites/backend.js';
import { ImageView } from './sites/backend.js';
import { findCallSiteEvidence } from './engine.js';
import { extractClassifiedStrings, extractStrings } from '../strings/strings.js';
import type { ClassifiedString, ExtractionResult } from './types.js';

export interface ExtractOptions {
  /** Minimum string length (default 4, as `strings -n 4`). */
  minStringLength?: number;
  /** Keep every string, not only the classified ones (large). */
  allStrings?: boolean;
  /** Skip call-site analysis (strings only). */
  noCode?: boolean;
}

export interface ExtractionWithStrings extends ExtractionResult {
  /** Every string, when `allStrings` was asked for. */
  allStrings?: { ascii: { offset: number; text: string }[]; utf16: { offset: number; text: string }[] };
}

/** Backends are loaded on demand: a worker that meets no ARM64 file never loads that code. */
async function backendFor(view: ImageView): Promise<Backend | null> {
  switch (view.image.headers.arch) {
    case 'x86':
    case 'x64': {
      const { X86Backend } = await import('./sites/x86.js');
      return new X86Backend(view);
    }
    case 'arm64': {
      const { Arm64Backend } = await import('./sites/arm64.js');
      return new Arm64Backend(view);
    }
    default:
      return null; // ARM Thumb-2 and IA64 images: metadata and strings only
  }
}

export async function extractEvidence(buf: Buffer, image: PeImage, options: ExtractOptions = {}): Promise<ExtractionWithStrings> {
  const t0 = performance.now();
  const view = new ImageView(buf, image);
  const backend = options.noCode ? null : await backendFor(view);
  const calls = backend
    ? findCallSiteEvidence(image, backend)
    : { evidence: [], unresolved: [], functionsDecoded: 0, callSites: 0, wrappers: 0, candidates: 0, candidatesAnalysed: 0 };

  // Only the classified strings are kept; every run only when asked for.
  const strings: ClassifiedString[] = extractClassifiedStrings(buf, options.minStringLength ?? 4);

  const result: ExtractionWithStrings = {
    arch: image.headers.arch,
    evidence: calls.evidence,
    unresolved: calls.unresolved,
    strings,
    stats: {
      functionsDecoded: calls.functionsDecoded,
      callSites: calls.callSites,
      unresolved: calls.unresolved.length,
      wrappers: calls.wrappers,
      candidates: calls.candidates,
      candidatesAnalysed: calls.candidatesAnalysed,
      ms: performance.now() - t0,
    },
  };
  if (options.allStrings) result.allStrings = extractStrings(buf, { minLength: options.minStringLength ?? 4 });
  return result;
}
