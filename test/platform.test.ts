/** Where things are on each platform: default driver folders, pooltag.txt, data and cache folders. */
import { describe, expect, it } from 'vitest';

import { pooltagCandidates } from '../src/knowledge/locate.js';
import { defaultDbPath } from '../src/knowledge/store.js';
import { defaultDriverRoots, defaultKernelRoots, NoDefaultRootsError, userCacheDir, userDataDir } from '../src/platform/paths.js';

describe('platform paths', () => {
  it('Windows: System32\\drivers and the DriverStore under %SystemRoot%', () => {
    expect(defaultDriverRoots({ SystemRoot: 'D:\\WINDOWS' }, 'win32')).toEqual(['D:\\WINDOWS\\System32\\drivers', 'D:\\WINDOWS\\System32\\DriverStore\\FileRepository']);
    expect(defaultDriverRoots({}, 'win32')[0]).toBe('C:\\Windows\\System32\\drivers');
    // and System32's top level, for ntoskrnl.exe, hal.dll and the NATIVE DLLs
    expect(defaultKernelRoots({ SystemRoot: 'D:\\WINDOWS' }, 'win32')).toEqual(['D:\\WINDOWS\\System32']);
    expect(defaultKernelRoots({}, 'darwin')).toEqual([]);
  });

  it('elsewhere: an error that says what to pass', () => {
    expect(() => defaultDriverRoots({}, 'darwin')).toThrow(NoDefaultRootsError);
    expect(() => defaultDriverRoots({}, 'darwin')).toThrow(/pass the folders to scan/);
  });

  it('data, cache and knowledge base locations', () => {
    expect(userDataDir({ LOCALAPPDATA: 'C:\\Users\\ann\\AppData\\Local' }, 'win32')).toBe('C:\\Users\\ann\\AppData\\Local\\pooltag');
    expect(userCacheDir({ LOCALAPPDATA: 'C:\\Users\\ann\\AppData\\Local' }, 'win32')).toBe('C:\\Users\\ann\\AppData\\Local\\pooltag\\Cache');
    expect(userDataDir({ XDG_DATA_HOME: '/data' }, 'linux')).toBe('/data/pooltag');
    expect(userCacheDir({ XDG_CACHE_HOME: '/c' }, 'linux')).toBe('/c/pooltag');
    expect(defaultDbPath({ POOLTAG_DB: '/x/kb.db' })).toBe('/x/kb.db');
    expect(defaultDbPath({ XDG_DATA_HOME: '/data' })).toBe(process.platform === 'win32' ? expect.any(String) : '/data/pooltag/pooltag.db');
  });

  it('pooltag.txt: the Debugging Tools folders of every kit and architecture', () => {
    const c = pooltagCandidates({ 'ProgramFiles(x86)': 'C:\\Program Files (x86)', ProgramFiles: 'C:\\Program Files' }, 'win32').map((x) => x.path);
    expect(c).toContain('C:\\Program Files (x86)\\Windows Kits\\10\\Debuggers\\x64\\triage\\pooltag.txt');
    expect(c).toContain('C:\\Program Files (x86)\\Windows Kits\\8.1\\Debuggers\\arm64\\triage\\pooltag.txt');
    expect(c).toContain('C:\\Program Files (x86)\\Windows Kits\\8.0\\Debuggers\\x86\\triage\\pooltag.txt');
    expect(pooltagCandidates({}, 'darwin')).toEqual([]);
  });
});
