import { readFile } from 'node:fs/promises';

import { discoverPeFiles } from '../discover/discover.js';
import { readPe } from '../pe/read.js';
import type { PeImage } from '../pe/types.js';
import { classifyError, truncatedImageError } from '../report/file-error.js';
import { formatBytes, safeText, toJson } from './text.js';

const SUBSYSTEMS: Record<number, string> = {
  1: 'native',
  2: 'Windows GUI',
  3: 'Windows console',
  9: 'Windows CE',
  10: 'EFI application',
  11: 'EFI boot driver',
  12: 'EFI runtime driver',
  16: 'boot application',
};

export interface InspectResult {
  path: string;
  image?: PeImage;
  error?: string;
}

/** Read one file into a result; never throws for a bad file. */
export async function inspectFile(path: string): Promise<InspectResult> {
  try {
    const buf = await readFile(path);
    const image = readPe(buf);
    // What could be read is still shown, but a cut-short file is an error (exit 2), as `scan` says.
    const cut = truncatedImageError(image);
    return cut ? { path, image, error: cut.message } : { path, image };
  } catch (err) {
    return { path, error: describeError(err) };
  }
}

export function describeError(err: unknown): string {
  return classifyError(err).message;
}

function renderImage(r: InspectResult, listImports: boolean): string {
  const lines: string[] = [safeText(r.path, 400)];
  if (r.error) lines.push(`  error     ${r.error}`);
  if (!r.image) return lines.join('\n');
  const img = r.image;
  const h = img.headers;
  const sub = SUBSYSTEMS[h.subsystem] ?? `subsystem ${h.subsystem}`;
  lines.push(`  image     ${h.format} ${h.arch} (machine 0x${h.machine.toString(16)}), ${sub}, ${formatBytes(img.size)}, timestamp 0x${h.timestamp.toString(16).padStart(8, '0')}`);
  if (img.sha256) lines.push(`  sha256    ${img.sha256}`);
  if (img.version) {
    const v = img.version;
    const s = v.strings;
    lines.push(`  version   ${v.fileVersion ?? s.FileVersion ?? '?'}`);
    for (const key of ['CompanyName', 'FileDescription', 'ProductName', 'OriginalFilename']) {
      if (s[key]) lines.push(`    ${key.padEnd(17)}${safeText(s[key])}`);
    }
    if (v.tables.length > 1) lines.push(`    languages        ${v.tables.map((t) => t.langCodepage).join(', ')}`);
  }
  if (img.signature) {
    const sig = img.signature;
    lines.push(`  signer    ${safeText(sig.signer.text)} (${sig.status})`);
    lines.push(`    issuer           ${safeText(sig.issuer.text)}`);
    if (sig.signingTime) lines.push(`    signed at        ${sig.signingTime}`);
    for (const n of sig.nested) lines.push(`    also signed by   ${safeText(n.signer.text)} (${n.digestAlgorithm})`);
  } else {
    lines.push('  signer    unsigned');
  }
  if (img.codeView) lines.push(`  pdb       ${safeText(img.codeView.pdbPath)} {${img.codeView.guid}} age ${img.codeView.age}`);
  lines.push(`  sections  ${img.sections.map((s) => safeText(s.name, 16)).join(' ')}`);
  for (const m of img.imports) {
    const names = m.functions.map((f) => f.name ?? `#${f.ordinal ?? '?'}`);
    lines.push(`  imports   ${safeText(m.module, 64)}${m.delayLoad ? ' (delay-load)' : ''}: ${names.length} function${names.length === 1 ? '' : 's'}`);
    if (listImports) for (const n of names) lines.push(`              ${safeText(n, 120)}`);
  }
  if (img.exports.length) lines.push(`  exports   ${img.exports.length}`);
  if (img.functions.length) {
    const fragments = img.functions.filter((f) => f.chainedTo !== undefined).length;
    lines.push(`  functions ${img.functions.length - fragments} (.pdata)${fragments ? `, and ${fragments} fragment${fragments === 1 ? '' : 's'} chained to them` : ''}`);
  }
  for (const i of img.issues) lines.push(`  problem   ${safeText(i.message, 300)}`);
  return lines.join('\n');
}

/** `pooltag inspect`: files, and folders searched for .sys/.dll/.exe/.drv as `tags` and `scan` do. */
export async function inspectCommand(paths: string[], opts: { json?: boolean; imports?: boolean }): Promise<number> {
  const results: InspectResult[] = [];
  for (const c of await discoverPeFiles(paths)) results.push(c.problem ? { path: c.path, error: c.problem.message } : await inspectFile(c.path));
  if (opts.json) {
    process.stdout.write(toJson(results) + '\n');
  } else {
    process.stdout.write(results.map((r) => renderImage(r, !!opts.imports)).join('\n\n') + '\n');
  }
  return results.some((r) => r.error) ? 2 : 0;
}
