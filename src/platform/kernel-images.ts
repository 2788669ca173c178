/**
 * The kernel's own images (ntoskrnl.exe and its MP/PAE builds, the HALs), from
 * `data/kernel-images.json`: which file names a folder scan takes besides `*.sys`, which
 * System32 files a default scan takes by name, and which images pooltag.txt means by `nt!`.
 */
import { readFileSync } from 'node:fs';

import { dataPath } from '../tag/routines.js';

export interface KernelImages {
  /** Lower-case file names (`ntoskrnl.exe`). */
  names: readonly string[];
  /** Case-insensitive globs on the file name (`hal*.dll`). */
  namePatterns: readonly string[];
  /** Lower-case System32 file names a default scan takes. */
  system32: readonly string[];
  /** pooltag.txt module prefix (`nt`) -> lower-case image names. */
  modules: ReadonlyMap<string, readonly string[]>;
  /** True when a file name (no folder) is one of the kernel's images. */
  isKernelName(fileName: string): boolean;
}

let cache: KernelImages | null = null;

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

const strings = (v: unknown, what: string): string[] => {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x.length > 0)) throw new Error(`pooltag: data/kernel-images.json: ${what} is not a list of names`);
  return (v as string[]).map((x) => x.toLowerCase());
};

export function parseKernelImages(raw: unknown): KernelImages {
  const r = (raw ?? {}) as Record<string, unknown>;
  const names = strings(r.names, 'names');
  const namePatterns = strings(r.namePatterns, 'namePatterns');
  const system32 = strings(r.system32, 'system32');
  const modules = new Map<string, string[]>();
  if (typeof r.modules !== 'object' || r.modules === null) throw new Error('pooltag: data/kernel-images.json: modules is not an object');
  for (const [k, v] of Object.entries(r.modules)) modules.set(k.toLowerCase(), strings(v, `modules.${k}`));
  const exact = new Set(names);
  const patterns = namePatterns.map(globToRegExp);
  return { names, namePatterns, system32, modules, isKernelName: (f) => exact.has(f.toLowerCase()) || patterns.some((p) => p.test(f)) };
}

export function kernelImages(): KernelImages {
  if (cache) return cache;
  const p = dataPath('kernel-images.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new Error(`pooltag: cannot read ${p}: ${(e as Error).message}`);
  }
  return (cache = parseKernelImages(raw));
}

/**
 * The images a pooltag.txt binary column names: a file name as is (`tcpip.sys`), a module
 * prefix by the table (`nt!io` -> ntoskrnl.exe and its MP/PAE builds), nothing otherwise.
 */
export function imagesForBinary(binary: string): string[] {
  const b = binary.trim().toLowerCase();
  const bang = b.indexOf('!');
  if (bang > 0) return [...(kernelImages().modules.get(b.slice(0, bang)) ?? [])];
  if (/\.(sys|dll|exe)$/.test(b)) return [b];
  return [];
}
