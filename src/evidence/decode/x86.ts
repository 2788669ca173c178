/**
 * The x86/x64 decoder: iced-x86, a WebAssembly build of the Rust decoder (~2 MB). It is
 * loaded on first use only, so that a worker that meets no x86/x64 file never pays for it.
 * The lowering (`lower/x86.ts`) and the function-bounds sweep (`sites/x86.ts`) use it.
 */
import { createRequire } from 'node:module';

export type Iced = typeof import('iced-x86');
let iced: Iced | null = null;
const onLoad: ((x: Iced) => void)[] = [];

/** Load iced-x86 (synchronously: the package compiles its WebAssembly on require). */
export function loadIced(): Iced {
  if (!iced) {
    const require = createRequire(import.meta.url);
    iced = require('iced-x86') as Iced;
    for (const f of onLoad) f(iced);
  }
  return iced;
}

/** Run `f` once iced-x86 is loaded (tables built from its enums). */
export function whenIcedLoads(f: (x: Iced) => void): void {
  if (iced) f(iced);
  else onLoad.push(f);
}
