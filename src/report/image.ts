import type { ClassifiedString, ExtractionResult } from '../evidence/types.js';
import type { AuthenticodeSignature, PeImage } from '../pe/types.js';
import type { ImageRecord, SignerRecord } from './types.js';

function signerRecord(sig: AuthenticodeSignature): SignerRecord {
  return {
    signer: sig.signer,
    issuer: sig.issuer,
    serialNumber: sig.serialNumber,
    digestAlgorithm: sig.digestAlgorithm,
    signingTime: sig.signingTime,
    nested: sig.nested.map((n) => ({ signer: n.signer, digestAlgorithm: n.digestAlgorithm, signingTime: n.signingTime })),
  };
}

/**
 * Tag-looking 4-character runs, distinct, from the image's data only. Runs inside code are
 * instruction bytes far more often than tags (`AWAV` is `push r15; push r14`), and the
 * call-site engine reads code properly; a tag in a data table or a literal pool is kept.
 */
function dataTagStrings(image: PeImage, strings: ClassifiedString[]): string[] {
  const code = image.sections.filter((s) => s.executable && s.rawSize > 0).map((s) => [s.rawOffset, s.rawOffset + s.rawSize] as const);
  const out = new Set<string>();
  for (const s of strings) {
    if (s.kind !== 'tag') continue;
    if (code.some(([a, b]) => s.offset >= a && s.offset < b)) continue;
    out.add(s.text);
  }
  return [...out].sort();
}

/**
 * Names for the functions the evidence points at (enclosing functions, wrapper chains), from
 * the image's named exports: a wrapper chain reads `via MyAlloc <- MyAllocZero` when the image
 * says what they are called, `sub_1400012a0` otherwise (the reader keeps no symbol table).
 */
export function functionNames(image: PeImage, extraction: ExtractionResult): Record<string, string> | undefined {
  const named = new Map<number, string>();
  for (const e of image.exports) if (e.name && !e.forwarder && !named.has(e.rva)) named.set(e.rva, e.name);
  if (named.size === 0) return undefined;
  const out: Record<string, string> = {};
  for (const ev of extraction.evidence) {
    for (const rva of [ev.functionRva, ...(ev.wrappers ?? [])]) {
      const name = rva === null ? undefined : named.get(rva);
      if (name !== undefined) out[`0x${rva!.toString(16)}`] = name;
    }
  }
  return Object.keys(out).length ? out : undefined;
}

/** The report's view of one image: metadata a reader of the report needs, and the evidence. */
export function toImageRecord(image: PeImage, extraction: ExtractionResult): ImageRecord {
  if (!image.sha256) throw new Error('toImageRecord needs an image read with its hash');
  const h = image.headers;
  const names = functionNames(image, extraction);
  return {
    sha256: image.sha256,
    size: image.size,
    format: h.format,
    machine: h.machine,
    arch: h.arch,
    subsystem: h.subsystem,
    timestamp: h.timestamp,
    imageBase: `0x${h.imageBase.toString(16)}`,
    fileVersion: image.version?.fileVersion ?? null,
    productVersion: image.version?.productVersion ?? null,
    versionStrings: image.version?.strings ?? {},
    signature: image.signature ? signerRecord(image.signature) : null,
    pdb: image.codeView ? { path: image.codeView.pdbPath, guid: image.codeView.guid, age: image.codeView.age } : null,
    importModules: [...new Set(image.imports.map((m) => m.module.toLowerCase()))],
    issues: image.issues,
    evidence: extraction.evidence,
    unresolved: extraction.unresolved,
    strings: extraction.strings.filter((s) => s.kind !== 'tag'),
    tagStrings: dataTagStrings(image, extraction.strings),
    ...(names ? { functionNames: names } : {}),
    stats: extraction.stats,
  };
}
