// The real-driver development corpus (issue 9, "Measure on real drivers, not Wine").
//
// The files live OUTSIDE the repository, in ${POOLTAG_DEVSET:-/work/devset}:
//   drivers/<arch>/<name>-<sha256 first 8>.sys   the kernel-mode drivers (x86, x64, arm64)
//   ia64/...                                      IA64 drivers (kept, never counted: no backend)
//   PROVENANCE.md                                 where each file came from
// What the repository keeps is data ABOUT the files: scripts/devset/sources.json (sha256,
// size, arch, compiler, origin, public source) and scripts/devset/expected.json (the
// (tag, routine) pairs each driver's source passes). scripts/devset/README.md says how to
// rebuild the folder (scripts/devset/collect.mjs). These files are only read, never run.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..');
export const SOURCES_FILE = path.join(REPO_ROOT, 'scripts', 'devset', 'sources.json');
export const EXPECTED_FILE = path.join(REPO_ROOT, 'scripts', 'devset', 'expected.json');
export const ARCHES = ['x86', 'x64', 'arm64'];

/** The corpus folder (not created). */
export function devsetDir(env = process.env) {
  return path.resolve(env.POOLTAG_DEVSET || '/work/devset');
}

/** What to tell a user who has no corpus. */
export function howToGetDevset(dir = devsetDir()) {
  return (
    `the development corpus is not at ${dir} (no drivers/ folder with .sys files).\n` +
    '  It is a set of real Windows drivers kept outside the repository; rebuild it with\n' +
    '    node scripts/devset/collect.mjs rebuild\n' +
    '  (npm sources are downloaded with `npm pack`; GitHub sources need a mirror of each repository,\n' +
    '  see scripts/devset/README.md), or point POOLTAG_DEVSET at a copy of the folder.'
  );
}

export const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

function* walk(dir) {
  let ents;
  try {
    ents = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  ents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of ents) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

/**
 * The corpus, or null when it is absent.
 * @returns {{ dir: string, files: { path: string, rel: string, arch: string }[], ia64: string[] } | null}
 */
export function findDevset(dir = devsetDir()) {
  const drivers = path.join(dir, 'drivers');
  if (!fs.existsSync(drivers)) return null;
  const files = [];
  for (const p of walk(drivers)) {
    if (!/\.sys$/i.test(p)) continue;
    const rel = path.relative(dir, p);
    const arch = rel.split(path.sep)[1];
    files.push({ path: p, rel, arch });
  }
  if (!files.length) return null;
  const ia64 = [...walk(path.join(dir, 'ia64'))];
  return { dir, files, ia64 };
}

/**
 * For scripts: the corpus, or prints why it is missing and how to get it and returns null
 * (the caller then exits 0: an absent corpus is not a failure of the code under test).
 */
export function requireDevset(name, log = console.log) {
  const d = findDevset();
  if (!d) log(`${name}: skipped: ${howToGetDevset()}`);
  return d;
}

export function loadJson(file, fallback) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    if (e.code === 'ENOENT' && fallback !== undefined) return fallback;
    throw new Error(`${path.relative(process.cwd(), file)}: ${e.message}`);
  }
}

export const median = (xs) => {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// ---------------------------------------------------------------------------------------
// A small, independent PE probe (bounds-checked) used by the collector: machine, subsystem,
// imports' module names, Rich header, linker version, where the raw data ends.

export const MACHINE_ARCH = { 0x14c: 'x86', 0x8664: 'x64', 0xaa64: 'arm64', 0x1c4: 'arm', 0x200: 'ia64' };

/** Module names a kernel-mode image imports from (any one makes it kernel mode). */
export const KERNEL_MODULES = new Set([
  'ntoskrnl.exe', 'hal.dll', 'ndis.sys', 'wdfldr.sys', 'fltmgr.sys', 'netio.sys', 'fwpkclnt.sys', 'wdmsec.sys',
  'ksecdd.sys', 'cng.sys', 'tdi.sys', 'storport.sys', 'scsiport.sys', 'ks.sys', 'portcls.sys', 'usbd.sys',
  'hidclass.sys', 'hidparse.sys', 'videoprt.sys', 'dxgkrnl.sys', 'wmilib.sys', 'classpnp.sys', 'ataport.sys',
  'ntkrnlpa.exe', 'ntkrnlmp.exe', 'bootvid.dll', 'kdcom.dll', 'ci.dll', 'clfs.sys', 'msrpc.sys', 'ksecpkg.sys',
  'wpprecorder.sys', 'tbs.sys', 'wdf01000.sys', 'usbport.sys', 'serenum.sys', 'pshed.dll',
]);

/**
 * @returns {null | { machine, arch, subsystem, is64, rich: boolean, richEntries: number, linker: string,
 *   imports: string[], rawEnd: number, certEnd: number, kernel: boolean, dll: boolean }}
 */
export function probePe(buf, at = 0) {
  const n = buf.length;
  const u16 = (o) => (o >= 0 && o + 2 <= n ? buf.readUInt16LE(o) : null);
  const u32 = (o) => (o >= 0 && o + 4 <= n ? buf.readUInt32LE(o) : null);
  if (u16(at) !== 0x5a4d) return null;
  const lfanew = u32(at + 0x3c);
  if (lfanew === null || lfanew < 0x40 || lfanew > 0x10000) return null;
  const pe = at + lfanew;
  if (u32(pe) !== 0x4550) return null;
  const machine = u16(pe + 4);
  const nsec = u16(pe + 6);
  const optSize = u16(pe + 20);
  const characteristics = u16(pe + 22);
  const opt = pe + 24;
  const magic = u16(opt);
  if (machine === null || nsec === null || optSize === null || (magic !== 0x10b && magic !== 0x20b) || nsec > 96) return null;
  const is64 = magic === 0x20b;
  const subsystem = u16(opt + 68);
  const linker = `${buf[opt + 2]}.${buf[opt + 3]}`;
  const ddBase = opt + (is64 ? 112 : 96);
  const nDirs = u32(opt + (is64 ? 108 : 92)) ?? 0;
  const dir = (i) => (i < nDirs ? { rva: u32(ddBase + i * 8) ?? 0, size: u32(ddBase + i * 8 + 4) ?? 0 } : { rva: 0, size: 0 });
  const secTable = opt + optSize;
  const sections = [];
  for (let i = 0; i < nsec; i++) {
    const s = secTable + i * 40;
    if (s + 40 > n) return null;
    sections.push({ va: u32(s + 12), vsize: u32(s + 8), raw: u32(s + 20), rawSize: u32(s + 16) });
  }
  let rawEnd = secTable + nsec * 40 - at;
  for (const s of sections) if (s.rawSize && s.raw + s.rawSize > rawEnd) rawEnd = s.raw + s.rawSize;
  const cert = dir(4); // a file offset, not an RVA
  const certEnd = cert.rva && cert.size ? cert.rva + cert.size : 0;
  const rvaToOff = (rva) => {
    for (const s of sections) {
      const len = Math.max(s.vsize, s.rawSize);
      if (rva >= s.va && rva < s.va + len && rva - s.va < s.rawSize) return at + s.raw + (rva - s.va);
    }
    return null;
  };
  const cstr = (o) => {
    if (o === null) return null;
    let e = o;
    while (e < n && e - o < 256 && buf[e] !== 0) e++;
    return buf.toString('latin1', o, e);
  };
  const imports = [];
  const imp = dir(1);
  let d = imp.rva ? rvaToOff(imp.rva) : null;
  for (let k = 0; d !== null && k < 256 && d + 20 <= n; k++, d += 20) {
    const nameRva = u32(d + 12);
    if (!nameRva && !u32(d + 16)) break;
    const name = cstr(rvaToOff(nameRva));
    if (name) imports.push(name.toLowerCase());
  }
  // Rich header: "Rich" followed by the XOR key, between the DOS stub and the PE header.
  let rich = false;
  let richEntries = 0;
  for (let o = at + 0x80; o + 8 <= pe; o += 4) {
    if (u32(o) === 0x68636952) {
      const key = u32(o + 4);
      // walk back to "DanS" ^ key
      for (let s = o - 8; s >= at + 0x40; s -= 4) {
        if ((u32(s) ^ key) >>> 0 === 0x536e6144) {
          rich = true;
          richEntries = Math.max(0, (o - (s + 16)) / 8);
          break;
        }
      }
      break;
    }
  }
  const arch = MACHINE_ARCH[machine] ?? `0x${machine.toString(16)}`;
  const kernel = subsystem === 1 || imports.some((m) => KERNEL_MODULES.has(m));
  return { machine, arch, subsystem, is64, rich, richEntries, linker, imports, rawEnd, certEnd, kernel, dll: !!(characteristics & 0x2000) };
}

/** How the compiler was decided, from the probe. */
export function compilerOf(p) {
  if (p.rich) return { compiler: 'msvc', how: `Rich header present (${p.richEntries} tool entries), linker ${p.linker}` };
  const major = Number(p.linker.split('.')[0]);
  if (major === 2) return { compiler: 'gcc', how: `no Rich header, linker version ${p.linker} (GNU ld writes 2.x)` };
  return { compiler: 'clang', how: `no Rich header, linker version ${p.linker} (not GNU ld; lld-link, or MSVC with the Rich header stripped)` };
}

/**
 * The executable sections of a development-corpus file, as copies of their raw bytes (what
 * the x86 decoder scripts sweep): `{ bytes, va, bitness }` each; none when the file is not a
 * PE image. `readPe` is the built library's.
 */
export function codeSections(readPe, file) {
  const buf = fs.readFileSync(file);
  let image;
  try {
    image = readPe(buf, { hash: false });
  } catch {
    return [];
  }
  const bitness = image.headers.arch === 'x64' ? 64 : 32;
  const out = [];
  for (const s of image.sections) {
    if (!s.executable || s.rawSize === 0) continue;
    const n = Math.min(s.rawSize, s.virtualSize || s.rawSize, buf.length - s.rawOffset);
    if (n > 0) out.push({ bytes: new Uint8Array(buf.buffer, buf.byteOffset + s.rawOffset, n).slice(), va: s.virtualAddress, bitness });
  }
  return out;
}
