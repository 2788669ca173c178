// The synthetic fleet of the knowledge-base benchmarks (bench:kb, bench:export): host reports
// shaped like a real fleet's. Every host has the same `common` inbox drivers plus `perHostTail`
// from a long tail of `tail` third-party drivers; each driver has 5 tags at 20 call sites, 5
// classified strings and 10 tag-like strings. Deterministic: the same arguments write the same
// reports.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function writeFleet(dir, { hosts = 1000, common = 400, tail = 9600, perHostTail = 100, stride = 97 } = {}) {
  // Deterministic pseudo-random numbers (mulberry32).
  let seed = 0x5eed;
  const rnd = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = (a) => a[Math.floor(rnd() * a.length)];
  const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const VENDORS = ['Contoso Ltd.', 'Fabrikam, Inc.', 'Northwind Traders', 'Litware, Inc.', 'Adventure Works', 'Proseware, Inc.', 'Tailspin Toys', 'Wide World Importers', 'Woodgrove Bank', 'Coho Winery', 'Microsoft Corporation', 'NVIDIA Corporation', 'Intel Corporation', 'Realtek Semiconductor Corp.', 'Broadcom Inc.', 'VMware, Inc.', 'CrowdStrike, Inc.', 'Symantec Corporation', 'Citrix Systems, Inc.', 'Qualcomm Technologies'];
  const WORDS = ['filter', 'network', 'storage', 'miniport', 'bus', 'audio', 'video', 'usb', 'hid', 'crypto', 'backup', 'antivirus', 'vpn', 'wfp', 'raid', 'nvme', 'bluetooth', 'wifi', 'camera', 'sensor'];
  const ROUTINES = ['ExAllocatePoolWithTag', 'ExAllocatePool2', 'ExFreePoolWithTag', 'ExInitializeNPagedLookasideList', 'NdisAllocateMemoryWithTagPriority'];
  const hex64 = (s) => createHash('sha256').update(s).digest('hex');
  const tag4 = () => Array.from({ length: 4 }, () => pick(ALNUM)).join('');
  const ulongOf = (t) => '0x' + Buffer.from(t, 'latin1').readUInt32LE(0).toString(16).padStart(8, '0');

  function makeDriver(i) {
    const name = `${pick(WORDS)}${pick(WORDS)}${i}`;
    const vendor = pick(VENDORS);
    const arch = rnd() < 0.8 ? 'x64' : rnd() < 0.5 ? 'arm64' : 'x86';
    const tags = Array.from({ length: 5 }, tag4);
    const evidence = [];
    for (let k = 0; k < 20; k++) {
      const t = tags[k % 5];
      evidence.push({ tag: t, ulong: ulongOf(t), protected: false, kind: 'pool', routine: ROUTINES[k % ROUTINES.length], module: 'ntoskrnl.exe', callSiteRva: 0x1000 + k * 0x40 + i, functionRva: 0x1000 + (k >> 2) * 0x100, arch, recovery: 'immediate', confidence: 'high' });
    }
    const image = {
      sha256: hex64(`driver-${i}`),
      size: 20000 + Math.floor(rnd() * 2e6),
      format: arch === 'x86' ? 'PE32' : 'PE32+',
      machine: arch === 'x64' ? 0x8664 : arch === 'arm64' ? 0xaa64 : 0x14c,
      arch,
      subsystem: 1,
      timestamp: 1600000000 + i,
      imageBase: '0x140000000',
      fileVersion: `${1 + (i % 9)}.${i % 7}.${i % 100}.${i}`,
      productVersion: `${1 + (i % 9)}.${i % 7}`,
      versionStrings: { CompanyName: vendor, FileDescription: `${vendor.split(' ')[0]} ${pick(WORDS)} ${pick(WORDS)} driver`, ProductName: `${vendor.split(' ')[0]} ${pick(WORDS)} suite`, OriginalFilename: `${name}.sys`, InternalName: name },
      signature: { signer: { cn: vendor, o: vendor, text: `CN=${vendor}, O=${vendor}` }, issuer: { cn: 'Microsoft Windows Hardware Compatibility Publisher', o: 'Microsoft Corporation', text: 'CN=Microsoft Windows Hardware Compatibility Publisher' }, serialNumber: hex64(`serial${i}`).slice(0, 32), digestAlgorithm: 'sha256', signingTime: '2024-05-01T00:00:00.000Z', nested: [] },
      pdb: { path: `d:\\build\\${name}\\x64\\release\\${name}.pdb`, guid: hex64(`g${i}`).slice(0, 32).toUpperCase(), age: 1 },
      importModules: ['ntoskrnl.exe', 'hal.dll', pick(['ndis.sys', 'fltmgr.sys', 'wdfldr.sys', 'storport.sys'])],
      issues: [],
      evidence,
      unresolved: [],
      strings: [
        { kind: 'device', text: `\\Device\\${name}`, offset: 0x2000, encoding: 'utf16' },
        { kind: 'symlink', text: `\\DosDevices\\${name}`, offset: 0x2040, encoding: 'utf16' },
        { kind: 'registry', text: `\\Registry\\Machine\\System\\CurrentControlSet\\Services\\${name}\\Parameters`, offset: 0x2080, encoding: 'utf16' },
        { kind: 'pdb', text: `d:\\build\\${name}\\x64\\release\\${name}.pdb`, offset: 0x3000, encoding: 'ascii' },
        { kind: 'url', text: `https://www.${vendor.split(' ')[0].toLowerCase().replace(/\W/g, '')}.example/support`, offset: 0x3100, encoding: 'ascii' },
      ],
      tagStrings: Array.from({ length: 10 }, tag4),
      stats: { functionsDecoded: 12, callSites: 20, unresolved: 0, wrappers: 0, ms: 3 },
    };
    return { name, json: JSON.stringify(image), tags, sha256: image.sha256 };
  }

  const drivers = Array.from({ length: common + tail }, (_, i) => makeDriver(i));
  let bytes = 0;
  for (let h = 0; h < hosts; h++) {
    const ids = [...Array(common).keys()];
    for (let k = 0; k < perHostTail; k++) ids.push(common + ((h * perHostTail + k * stride) % tail));
    const host = `SRV${String(h).padStart(4, '0')}`;
    const files = ids.map((id) => JSON.stringify({ path: `C:\\Windows\\System32\\drivers\\${drivers[id].name}.sys`, size: 1, mtime: '2024-05-01T00:00:00.000Z', sha256: drivers[id].sha256 }));
    const header = JSON.stringify({
      format: 'pooltag-scan-report', schemaVersion: 1, tool: { name: 'pooltag', version: '0.2.0' },
      host: { name: host, platform: 'win32', os: 'Windows Server 2022 Datacenter', release: '10.0.20348', windowsBuild: 20348, wsl: false, arch: 'x64' },
      startedAt: `2026-11-0${1 + (h % 9)}T10:00:00.000Z`, finishedAt: `2026-11-0${1 + (h % 9)}T10:01:00.000Z`,
      options: { roots: ['C:\\Windows\\System32\\drivers'], include: ['**/*.sys'], exclude: [], jobs: 2, maxFileSize: 268435456, timeoutMs: 120000, minStringLength: 4, cache: null, verify: false },
      summary: { files: ids.length, scanned: ids.length, errors: 0, cached: 0, images: ids.length, imagesWithTags: ids.length, distinctTags: 0, bytes: 0, bytesAnalysed: 0, durationMs: 60000 },
    });
    const text = `${header.slice(0, -1)},"files":[${files.join(',')}],"images":[${ids.map((id) => drivers[id].json).join(',')}]}`;
    bytes += text.length;
    writeFileSync(join(dir, `${host}.json`), text);
  }

  return { drivers, bytes, reports: hosts };
}
