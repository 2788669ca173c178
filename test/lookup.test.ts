/**
 * Answers a person reads at a glance (issue 13): one candidate per driver with its builds,
 * allocations before frees, wrapper chains with names, and the kernel's images in a scan.
 *
 * Kernel-image fixtures are made at test time in a temp dir from the committed fixture
 * bytes: core.sys copied as ntoskrnl.exe, flt.sys copied as foo.dll (subsystem NATIVE kept),
 * net.sys copied as user.dll with its Subsystem patched to 3 (CUI). Generated bases are
 * reports written here, merged into a fresh store.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { compareVersions, describeCallSites, driverCandidatesForTag } from '../src/answer/driver-candidate.js';
import { Lookup } from '../src/answer/lookup.js';
import { discover } from '../src/discover/discover.js';
import { extractEvidence } from '../src/evidence/extract.js';
import { parsePooltagTxt } from '../src/knowledge/pooltag-txt.js';
import { Store } from '../src/knowledge/store.js';
import { sniffSubsystem } from '../src/pe/sniff.js';
import { readPe } from '../src/pe/read.js';
import { imagesForBinary } from '../src/platform/kernel-images.js';
import { toImageRecord } from '../src/report/image.js';
import type { Evidence } from '../src/evidence/types.js';
import type { ImageRecord, ScanReport } from '../src/report/types.js';
import { scan } from '../src/scan/scan.js';
import { parseTag, Tag } from '../src/tag/tag.js';

const root = resolve(import.meta.dirname, '..');
const fx = (p: string) => join(root, 'test/fixtures/bin', p);
const bin = join(root, 'bin/pooltag');
const tmp = mkdtempSync(join(tmpdir(), 'pooltag-lookup-'));
afterAll(async () => rmSync(tmp, { recursive: true, force: true }));

/** A copy of a fixture with its optional header's Subsystem set to `subsystem`. */
function withSubsystem(src: string, dst: string, subsystem: number): void {
  const b = readFileSync(src);
  b.writeUInt16LE(subsystem, b.readUInt32LE(0x3c) + 24 + 68);
  writeFileSync(dst, b);
}

/** Our own pooltag.txt in Microsoft's format (test/data/): it has `Io - nt!io`, as Microsoft's copies do. */
const SHARED_POOLTAG = resolve(root, 'test', 'data', 'pooltag-synthetic-modern.txt');
function sharedPooltag(): Buffer {
  return readFileSync(SHARED_POOLTAG);
}

describe('kernel images in a folder scan', () => {
  const k = join(tmp, 'kernel');
  beforeAll(async () => {
    mkdirSync(join(k, 'sub'), { recursive: true });
    copyFileSync(fx('x64-clang-O2/core.sys'), join(k, 'ntoskrnl.exe'));
    copyFileSync(fx('x64-clang-O2/kmdf.sys'), join(k, 'HALMACPI.DLL'));
    copyFileSync(fx('x64-mingw-O2/flt.sys'), join(k, 'sub', 'foo.dll'));
    withSubsystem(fx('x64-clang-O2/net.sys'), join(k, 'user.dll'), 3);
    withSubsystem(fx('x64-clang-O2/video_stor.sys'), join(k, 'gui.exe'), 2);
    copyFileSync(fx('x86-mingw-O2/hostile.sys'), join(k, 'driver.sys'));
    writeFileSync(join(k, 'notes.txt'), 'MZ but not a PE\r\n');
    writeFileSync(join(k, 'short.bin'), Buffer.from('MZ'));
  });
  const names = (cs: { path: string }[]) => cs.map((c) => c.path.slice(k.length + 1).replace(/\\/g, '/')).sort();

  it('sniffs the subsystem from the first bytes only, bounds-checked', () => {
    const core = readFileSync(fx('x64-clang-O2/core.sys'));
    expect(sniffSubsystem(core.subarray(0, 4096))).toBe(1);
    expect(sniffSubsystem(readFileSync(fx('x86-mingw-O2/core.sys')).subarray(0, 4096))).toBe(1);
    expect(sniffSubsystem(core.subarray(0, 100))).toBeNull(); // headers cut off
    expect(sniffSubsystem(Buffer.from('MZ'))).toBeNull();
    const bad = Buffer.from(core.subarray(0, 4096));
    bad.writeUInt32LE(0xfffffff0, 0x3c); // e_lfanew far outside
    expect(sniffSubsystem(bad)).toBeNull();
    const noPe = Buffer.from(core.subarray(0, 4096));
    noPe.write('XX', noPe.readUInt32LE(0x3c));
    expect(sniffSubsystem(noPe)).toBeNull();
  });

  it('takes *.sys, the kernel\'s names and every NATIVE image; not a user-mode DLL', async () => {
    expect(names(await discover([k]))).toEqual(['HALMACPI.DLL', 'driver.sys', 'ntoskrnl.exe', 'sub/foo.dll']);
    const r = await scan({ paths: [k], jobs: 1, cache: null });
    expect(r.summary.errors).toBe(0);
    expect(names(r.files)).toEqual(['HALMACPI.DLL', 'driver.sys', 'ntoskrnl.exe', 'sub/foo.dll']);
    expect(r.images.every((i) => i.subsystem === 1)).toBe(true);
  });

  it('--include alone decides when given; --exclude always rules', async () => {
    expect(names(await discover([k], { include: ['**/*.dll'] }))).toEqual(['HALMACPI.DLL', 'sub/foo.dll', 'user.dll']);
    expect(names(await discover([k], { exclude: ['sub/**', '**/ntoskrnl.exe'] }))).toEqual(['HALMACPI.DLL', 'driver.sys']);
    expect(names(await discover([k], { shallow: [k] }))).toEqual(['HALMACPI.DLL', 'driver.sys', 'ntoskrnl.exe']);
  });

  it('an nt! pooltag.txt entry links to the scanned ntoskrnl.exe where its call sites are', async () => {
    const bytes = sharedPooltag();
    const r = await scan({ paths: [k], jobs: 1, cache: null });
    const store = await Store.open(':memory:');
    try {
      await store.importPooltag(parsePooltagTxt(bytes, SHARED_POOLTAG), bytes, { path: SHARED_POOLTAG });
      await store.mergeReport(r);
      expect(imagesForBinary('nt!io')).toContain('ntoskrnl.exe');
      expect(imagesForBinary('tcpip.sys')).toEqual(['tcpip.sys']);
      expect(imagesForBinary('<unknown>')).toEqual([]);
      // core.c passes 'oI' (Io); the copy named ntoskrnl.exe has it at a call site
      const io = (await new Lookup(store).lookup('Io')).answers[0];
      const entry = io.candidates.find((c) => c.source === 'pooltag.txt' && c.binaryRaw === 'nt!io');
      if (entry?.source !== 'pooltag.txt') throw new Error('no nt!io entry');
      expect(entry.drivers).toHaveLength(1);
      const kernel = entry.drivers[0];
      expect(kernel.fileNames).toEqual(['ntoskrnl.exe']);
      const sites = kernel.builds[0].callSites;
      const img = r.images.find((i) => i.sha256 === kernel.builds[0].sha256)!;
      expect(sites.map((s) => s.callSiteRva).sort()).toEqual(img.evidence.filter((e) => e.tag === 'Io  ').map((e) => e.callSiteRva).sort());
      expect(sites.length).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });
});

// ---------------------------------------------------------------------------------------
// Generated bases
// ---------------------------------------------------------------------------------------

const sha = (s: string) => s.padEnd(64, '0');
const ulong = (t: string) => `0x${Buffer.from(t, 'latin1').readUInt32LE(0).toString(16).padStart(8, '0')}`;
function ev(tag: string, routine: string, callSiteRva: number, functionRva: number, extra: Partial<Evidence> = {}): Evidence {
  return { tag, ulong: ulong(tag), protected: false, kind: 'pool', routine, module: 'ntoskrnl.exe', callSiteRva, functionRva, arch: 'x64', recovery: 'immediate', confidence: 'high', ...extra };
}
function image(id: string, o: { version: string; company: string; product?: string; original?: string; arch?: 'x64' | 'x86' | 'arm64'; signer?: string; evidence: Evidence[]; functionNames?: Record<string, string> }): ImageRecord {
  return {
    sha256: sha(id),
    size: 4096,
    format: 'PE32+',
    machine: 0x8664,
    arch: o.arch ?? 'x64',
    subsystem: 1,
    timestamp: 1_700_000_000,
    imageBase: '0x140000000',
    fileVersion: o.version,
    productVersion: o.version,
    versionStrings: { CompanyName: o.company, ProductName: o.product ?? `${o.company.split(/[ ,]/)[0]} suite`, ...(o.original ? { OriginalFilename: o.original } : {}) },
    signature: o.signer ? { signer: { cn: o.signer, o: o.signer, text: `CN=${o.signer}` }, issuer: { cn: 'CA', o: 'CA', text: 'CN=CA' }, serialNumber: '01', digestAlgorithm: 'sha256', signingTime: null, nested: [] } : null,
    pdb: null,
    importModules: ['ntoskrnl.exe'],
    issues: [],
    evidence: o.evidence,
    unresolved: [],
    strings: [],
    tagStrings: [],
    ...(o.functionNames ? { functionNames: o.functionNames } : {}),
    stats: { functionsDecoded: 0, callSites: o.evidence.length, unresolved: 0, wrappers: 0, ms: 0 },
  };
}
function report(host: string, files: [string, ImageRecord][]): ScanReport {
  const images = [...new Map(files.map(([, i]) => [i.sha256, i])).values()];
  return {
    format: 'pooltag-scan-report',
    schemaVersion: 1,
    tool: { name: 'pooltag', version: 'test' },
    host: { name: host, platform: 'win32', os: 'Windows', release: '10.0.22631', windowsBuild: 22631, wsl: false, arch: 'x64' },
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:01:00.000Z',
    options: { roots: ['C:\\Windows\\System32\\drivers'], include: [], exclude: [], jobs: 1, maxFileSize: 1, timeoutMs: 1, minStringLength: 4, cache: null, verify: false },
    summary: { files: files.length, scanned: files.length, errors: 0, cached: 0, images: images.length, imagesWithTags: images.length, distinctTags: 1, bytes: 0, bytesAnalysed: 0, durationMs: 1 },
    files: files.map(([path, i]) => ({ path, size: 4096, mtime: null, sha256: i.sha256 })),
    images,
  };
}

describe('one candidate per driver (generated base)', () => {
  const dbFile = join(tmp, 'gen.db');
  // WDiv: one network filter shipped for x86, x64 (two versions) and ARM64 by Contoso; a
  // Fabrikam driver with the same file name; a driver that only reaches it through a wrapper.
  const wdivFrees = (base: number) => [ev('WDiv', 'ExFreePoolWithTag', base + 0x10, 0x3000), ev('WDiv', 'ExFreePoolWithTag', base + 0x20, 0x3000), ev('WDiv', 'ExFreePoolWithTag', base + 0x30, 0x3100)];
  const wdivAllocs = (base: number) => [
    ev('WDiv', 'ExAllocatePoolWithTag', base + 0x100, 0x2000),
    ev('WDiv', 'ExAllocatePool2', base + 0x200, 0x2100),
    ev('WDiv', 'ExInitializeNPagedLookasideList', base + 0x300, 0x2200),
  ];
  const x64old = image('a1', { version: '2.1.0.9', company: 'Contoso Ltd.', original: 'wdiv.sys', signer: 'Contoso Ltd.', evidence: [...wdivFrees(0x1000), ...wdivAllocs(0x1000)] });
  const x64new = image('a2', { version: '2.10.0.1', company: 'Contoso Ltd.', original: 'wdiv.sys', signer: 'Contoso Ltd.', evidence: [...wdivFrees(0x5000), ...wdivAllocs(0x5000)] });
  const x86 = image('a3', { version: '2.10.0.1', company: 'Contoso Ltd.', original: 'WDIV.SYS', arch: 'x86', signer: 'Contoso Ltd.', evidence: wdivAllocs(0x7000) });
  const arm = image('a4', { version: '2.10.0.1', company: 'Contoso Ltd.', original: 'wdiv.sys', arch: 'arm64', signer: 'Microsoft Windows Hardware Compatibility Publisher', evidence: wdivAllocs(0x9000) });
  const fabrikam = image('b1', { version: '9.0.0.0', company: 'Fabrikam, Inc.', original: 'wdiv.sys', evidence: wdivAllocs(0xb000) });
  const wrapped = image('c1', {
    version: '1.0.0.0',
    company: 'Northwind Traders',
    original: 'nwcache.sys',
    evidence: [ev('WDiv', 'ExAllocatePoolWithTag', 0x1400, 0x1380, { recovery: 'wrapper', confidence: 'medium', wrappers: [0x12a0, 0x1200] })],
    functionNames: { '0x1200': 'MyAlloc', '0x12a0': 'MyAllocZero' },
  });
  const manySites = image('d1', {
    version: '3.0.0.0',
    company: 'Litware, Inc.',
    original: 'lwnet.sys',
    evidence: Array.from({ length: 12 }, (_, i) => ev('LwNt', i % 2 ? 'ExFreePoolWithTag' : 'ExAllocatePoolWithTag', 0x1000 + i * 0x10, 0x1000 + (i >> 2) * 0x100)),
  });
  let store: Store;
  beforeAll(async () => {
    store = await Store.open(dbFile);
    await store.mergeReport(
      report('SRV1', [
        ['C:\\Windows\\System32\\drivers\\wdiv.sys', x64new],
        ['C:\\Windows\\System32\\DriverStore\\FileRepository\\wdiv.inf_amd64_1\\wdiv.sys', x64new],
        ['C:\\Windows\\System32\\drivers\\nwcache.sys', wrapped],
        ['C:\\Windows\\System32\\drivers\\lwnet.sys', manySites],
      ]),
    );
    await store.mergeReport(report('SRV2', [['C:\\Windows\\System32\\drivers\\wdiv.sys', x64old]]));
    await store.mergeReport(report('SRV3', [['C:\\Windows\\SysWOW64\\wdiv.sys', x86], ['C:\\Windows\\System32\\drivers\\wdiv.sys', x64new]]));
    await store.mergeReport(report('ARM1', [['C:\\Windows\\System32\\drivers\\wdiv.sys', arm]]));
    await store.mergeReport(report('LAB', [['D:\\drivers\\fabrikam\\wdiv.sys', fabrikam]]));
  });
  afterAll(async () => await store?.close());

  it('groups the builds of one driver; two vendors with the same file name stay two', async () => {
    const cands = await driverCandidatesForTag(store, parseTag('WDiv'));
    expect(cands.map((c) => `${c.name}|${c.company}`)).toEqual(['wdiv.sys|Contoso Ltd.', 'wdiv.sys|Fabrikam, Inc.', 'nwcache.sys|Northwind Traders']);
    const contoso = cands[0];
    // newest first: 2.10 before 2.1 (numbers, not text); one image per build, each kept
    expect(contoso.builds.map((b) => b.sha256)).toHaveLength(4);
    expect(contoso.builds.at(-1)!.sha256).toBe(x64old.sha256);
    expect(contoso.builds.slice(0, 3).every((b) => b.fileVersion === '2.10.0.1')).toBe(true);
    expect(contoso.versions).toEqual(['2.10.0.1', '2.1.0.9']);
    expect(new Set(contoso.archs)).toEqual(new Set(['x64', 'x86', 'arm64']));
    expect(contoso.signers).toEqual(expect.arrayContaining(['Contoso Ltd.', 'Microsoft Windows Hardware Compatibility Publisher']));
    // distinct hosts over the builds: SRV1, SRV2, SRV3, ARM1 (SRV3 runs two builds)
    expect(contoso.hosts).toBe(4);
    const x64b = contoso.builds.find((b) => b.sha256 === x64new.sha256)!;
    expect(x64b.hosts).toBe(2);
    expect(x64b.pathCount).toBe(3);
    // the strongest, newest build leads; its sites: allocations, the lookaside list, then frees
    expect(contoso.builds[contoso.lead].confidence).toBe('high');
    expect(x64b.callSites.map((s) => s.role)).toEqual(['allocate', 'allocate', 'lookaside', 'free', 'free', 'free']);
    expect(describeCallSites(x64b.counts)).toBe('2 allocation sites, 1 lookaside list in 3 functions, 3 frees');
    expect(cands[2].confidence).toBe('medium'); // a wrapper only: ranked after the direct call sites
  });

  it('a report with function names matches data/report.schema.json; a malformed map is refused', async () => {
    const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(join(root, 'data/report.schema.json'), 'utf8')));
    const r = report('SCHEMA', [['C:\\x\\nwcache.sys', wrapped]]);
    expect(validate(r), ajv.errorsText(validate.errors)).toBe(true);
    const bad = { ...r, images: [{ ...wrapped, sha256: sha('e1'), functionNames: { '4608': 'MyAlloc' } }], files: [{ path: 'C:\\x\\bad.sys', size: 1, mtime: null, sha256: sha('e1') }] };
    expect(validate(bad)).toBe(false);
    const fresh = await Store.open(':memory:');
    try {
      await expect(fresh.mergeReport(bad as ScanReport)).rejects.toThrow(/functionNames is not a map of 0x-RVAs to names/);
    } finally {
      await fresh.close();
    }
  });

  it('a wrapper chain reads from the routine outwards, with the exported names', async () => {
    const c = (await driverCandidatesForTag(store, parseTag('WDiv'))).find((x) => x.name === 'nwcache.sys')!;
    const s = c.builds[0].callSites[0];
    expect(s.wrappers).toEqual([0x12a0, 0x1200]);
    expect(s.via).toEqual(['MyAlloc', 'MyAllocZero']);
    expect(s.functionName).toBe('sub_1380'); // not exported
  });

  it('the CLI prints one block per driver, a summary of its sites, --all and --builds expand', async () => {
    await store.close();
    const run = (...a: string[]) => spawnSync(process.execPath, [bin, ...a, '--db', dbFile], { encoding: 'utf8' });
    try {
      const r = run('lookup', 'WDiv');
      expect(r.status).toBe(0);
      const blocks = r.stdout.match(/^ {2}\d+\. .*$/gm)!;
      expect(blocks).toEqual(['  1.  wdiv.sys - Contoso Ltd., Contoso suite', '  2.  wdiv.sys - Fabrikam, Inc., Fabrikam suite', '  3.  nwcache.sys - Northwind Traders, Northwind suite']);
      // by default: each owner and its evidence in one line, no build lines, no RVAs (issue 22, item 14)
      expect(r.stdout).toMatch(/^ {6}call sites in a scanned driver, high confidence: 2 allocation sites, 1 lookaside list in 3 functions, 3 frees; 4 builds on 4 hosts$/m);
      expect(r.stdout).not.toMatch(/ at 0x[0-9a-f]+|sha256|C:\\Windows/);
      // --builds: each build, its paths and the call sites
      const d = run('lookup', '--builds', 'WDiv').stdout;
      expect(d).toMatch(/call sites in a scanned driver, high confidence; 4 builds on 4 hosts/);
      expect(d).toMatch(/ExAllocatePoolWithTag at 0x1400 in sub_1380 via MyAlloc ← MyAllocZero \(wrapper, medium\)/);
      expect(d).toMatch(/\.\.\. 2 more \(--all\)/);
      // --all: the builds summarised and every call site of the lead build
      const all = run('lookup', '--all', 'WDiv').stdout;
      expect(all).toMatch(/ {6}2\.10\.0\.1 x64, signed by Contoso Ltd\.: 2 hosts: .*\(\+2 more\)/);
      expect(all).toMatch(/ {6}2 allocation sites, 1 lookaside list in 3 functions, 3 frees \(in 2\.10\.0\.1 x64, signed by Contoso Ltd\., a2000000/);
      const lead = all.slice(all.indexOf('2 allocation sites'));
      expect(lead.indexOf('ExAllocatePoolWithTag')).toBeLessThan(lead.indexOf('ExFreePoolWithTag'));
      expect(all).not.toMatch(/more \(--all\)/);
      const b = run('lookup', '--builds', 'WDiv').stdout;
      expect(b.match(/; sha256 a[1-4]0{14}\.\.\.; \d hosts?: /g)).toHaveLength(4);
      const j = JSON.parse(run('lookup', '--json', 'WDiv').stdout);
      const images = j.answers[0].candidates.flatMap((c: { driver: { builds: { sha256: string }[] } }) => c.driver.builds.map((x) => x.sha256));
      expect(images.sort()).toEqual([x64new, x64old, x86, arm, fabrikam, wrapped].map((i) => i.sha256).sort());
      // 12 sites, 6 frees: the summary, the first 4 (allocations), the rest behind --all (--builds: one build, its first sites)
      const l = run('lookup', '--builds', 'LwNt').stdout;
      expect(l).toMatch(/6 allocation sites in 3 functions, 6 frees:/);
      expect(l.match(/^ {10}ExAllocatePoolWithTag at/gm)).toHaveLength(4);
      expect(l).toMatch(/\.\.\. 8 more \(--all\)/);
      // show: one driver, its builds, allocations summarised per tag
      const s = run('show', 'wdiv.sys');
      expect(s.status).toBe(0);
      expect(s.stdout.match(/^wdiv\.sys - .*$/gm)).toEqual(['wdiv.sys - Contoso Ltd., Contoso suite', 'wdiv.sys - Fabrikam, Inc., Fabrikam suite']);
      expect(s.stdout).toMatch(/"WDiv" 0x76694457 +ExAllocatePoolWithTag, ExAllocatePool2, ExInitializeNPagedLookasideList, ExFreePoolWithTag +\(2 allocation sites, 1 lookaside list in 3 functions, 3 frees, high; in 4 of 4 builds\)/);
      const sj = JSON.parse(run('show', '--json', 'wdiv.sys').stdout);
      expect(sj.map((d: { builds: unknown[] }) => d.builds.length)).toEqual([4, 1]);
    } finally {
      store = await Store.open(dbFile);
    }
  });

  it('versions compare number by number', async () => {
    expect(compareVersions('2.10.0.1', '2.9.0.0')).toBeGreaterThan(0);
    expect(compareVersions('10.0.19041.1', '6.3.9600.2')).toBeGreaterThan(0);
    expect(compareVersions(null, '1.0')).toBeLessThan(0);
  });
});

describe('function names for wrapper chains', () => {
  it('come from the image\'s named exports at the evidence\'s RVAs', async () => {
    const buf = readFileSync(fx('x64-clang-O2/core.sys'));
    const pe = readPe(buf);
    const extraction = await extractEvidence(buf, pe);
    const wrapped = extraction.evidence.find((e) => e.wrappers?.length)!;
    expect(wrapped).toBeDefined();
    // the fixture exports nothing: no names, sub_ addresses in the answer
    expect(toImageRecord(pe, extraction).functionNames).toBeUndefined();
    const [outer] = wrapped.wrappers!;
    const named = { ...pe, exports: [...pe.exports, { name: 'MyAllocOuter', ordinal: 1, rva: outer, forwarder: null }, { name: 'Elsewhere', ordinal: 2, rva: 0x7fff0, forwarder: null }] };
    const rec = toImageRecord(named, extraction);
    expect(rec.functionNames).toEqual({ [`0x${outer.toString(16)}`]: 'MyAllocOuter' });
    expect(Tag.fromUlong(Number(wrapped.ulong)).display).toBe(wrapped.tag);
  });
});
