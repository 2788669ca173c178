import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  argLocation,
  arm64ArgLocation,
  dataPath,
  findRoutine,
  layoutStruct,
  loadRoutines,
  loadSharedTags,
  packageRoot,
  parseRoutineTable,
  parseSharedTags,
  sharedTagInfo,
  x64ArgLocation,
  x86ArgSlot,
} from '../src/tag/routines.js';
import { Tag, parseTag } from '../src/tag/tag.js';

const rawRoutines = () => JSON.parse(readFileSync(dataPath('routines.json'), 'utf8'));

describe('ABI derivation', () => {
  it('x64', () => {
    expect([1, 2, 3, 4].map((n) => x64ArgLocation(n))).toEqual(['ecx', 'edx', 'r8d', 'r9d']);
    expect([1, 2, 3, 4].map((n) => x64ArgLocation(n, 64))).toEqual(['rcx', 'rdx', 'r8', 'r9']);
    expect([5, 6, 7].map((n) => x64ArgLocation(n))).toEqual(['rsp+0x20', 'rsp+0x28', 'rsp+0x30']);
  });
  it('arm64', () => {
    expect([1, 3, 8].map((n) => arm64ArgLocation(n))).toEqual(['w0', 'w2', 'w7']);
    expect(arm64ArgLocation(3, 64)).toBe('x2');
    expect([9, 10].map((n) => arm64ArgLocation(n))).toEqual(['sp+0x0', 'sp+0x8']);
  });
  it('x86 slots, with 64-bit arguments taking two', () => {
    expect(x86ArgSlot(3)).toBe(3);
    expect(x86ArgSlot(3, [1])).toBe(4);
    expect(x86ArgSlot(1, [1])).toBe(1);
    expect(argLocation(3, [1])).toEqual({ arg: 3, x86Slot: 4, x86: 'esp+0xc', x64: 'r8d', arm64: 'w2' });
  });
  it('rejects bad indices', () => {
    expect(() => x64ArgLocation(0)).toThrow(RangeError);
    expect(() => arm64ArgLocation(1.5)).toThrow(RangeError);
  });
});

describe('routines.json', () => {
  const t = loadRoutines();

  it('is cached', () => {
    expect(loadRoutines()).toBe(t);
  });

  it('finds the package root from the source tree', () => {
    expect(readFileSync(`${packageRoot()}/package.json`, 'utf8')).toContain('"name": "pooltag"');
  });

  // The table in tag-apis.md, row by row: name, module, tagArg, x64, arm64, x86 slot.
  const table: [string, string, number, string, string, number][] = [
    ['ExAllocatePoolWithTag', 'ntoskrnl.exe', 3, 'r8d', 'w2', 3],
    ['ExAllocatePoolWithQuotaTag', 'ntoskrnl.exe', 3, 'r8d', 'w2', 3],
    ['ExAllocatePoolWithTagPriority', 'ntoskrnl.exe', 3, 'r8d', 'w2', 3],
    ['ExAllocatePool2', 'ntoskrnl.exe', 3, 'r8d', 'w2', 4],
    ['ExAllocatePool3', 'ntoskrnl.exe', 3, 'r8d', 'w2', 4],
    ['FsRtlAllocatePoolWithTag', 'ntoskrnl.exe', 3, 'r8d', 'w2', 3],
    ['FsRtlAllocatePoolWithQuotaTag', 'ntoskrnl.exe', 3, 'r8d', 'w2', 3],
    ['ExFreePoolWithTag', 'ntoskrnl.exe', 2, 'edx', 'w1', 2],
    ['ExFreePool2', 'ntoskrnl.exe', 2, 'edx', 'w1', 2],
    ['ExAllocateCacheAwareRundownProtection', 'ntoskrnl.exe', 2, 'edx', 'w1', 2],
    ['ExInitializeNPagedLookasideList', 'ntoskrnl.exe', 6, 'rsp+0x28', 'w5', 6],
    ['ExInitializePagedLookasideList', 'ntoskrnl.exe', 6, 'rsp+0x28', 'w5', 6],
    ['ExInitializeLookasideListEx', 'ntoskrnl.exe', 7, 'rsp+0x30', 'w6', 7],
    ['NdisAllocateMemoryWithTag', 'ndis.sys', 3, 'r8d', 'w2', 3],
    ['NdisAllocateMemoryWithTagPriority', 'ndis.sys', 3, 'r8d', 'w2', 3],
    ['NdisAllocateGenericObject', 'ndis.sys', 2, 'edx', 'w1', 2],
    ['FltAllocatePoolAlignedWithTag', 'fltmgr.sys', 4, 'r9d', 'w3', 4],
    ['FltFreePoolAlignedWithTag', 'fltmgr.sys', 3, 'r8d', 'w2', 3],
    ['VideoPortAllocatePool', 'videoprt.sys', 4, 'r9d', 'w3', 4],
    ['StorPortExtendedFunction', 'storport.sys', 4, 'r9d', 'w3', 4],
    ['IoInitializeRemoveLockEx', 'ntoskrnl.exe', 2, 'edx', 'w1', 2],
    ['MmAllocateMappingAddress', 'ntoskrnl.exe', 2, 'edx', 'w1', 2],
    ['MmAllocateMappingAddressEx', 'ntoskrnl.exe', 2, 'edx', 'w1', 2],
    ['MmFreeMappingAddress', 'ntoskrnl.exe', 2, 'edx', 'w1', 2],
    ['ObReferenceObjectByHandleWithTag', 'ntoskrnl.exe', 5, 'rsp+0x20', 'w4', 5],
    ['ObReferenceObjectByPointerWithTag', 'ntoskrnl.exe', 5, 'rsp+0x20', 'w4', 5],
    ['ObfReferenceObjectWithTag', 'ntoskrnl.exe', 2, 'edx', 'w1', 2],
    ['ObfDereferenceObjectWithTag', 'ntoskrnl.exe', 2, 'edx', 'w1', 2],
    ['ObDereferenceObjectDeferDeleteWithTag', 'ntoskrnl.exe', 2, 'edx', 'w1', 2],
  ];
  it.each(table)('%s', (name, module, arg, x64, arm64, slot) => {
    const r = t.byName.get(name)!;
    expect(r, name).toBeDefined();
    expect(r.module).toBe(module);
    expect(r.binding).toBe('import');
    expect(r.tagArg).toBe(arg);
    expect(r.tagLocation).toMatchObject({ arg, x64, arm64, x86Slot: slot });
    expect(findRoutine(module.toUpperCase(), name)).toBe(r);
  });

  it('kinds', () => {
    expect(t.byName.get('ExAllocatePoolWithTag')!.kind).toBe('pool');
    expect(t.byName.get('ExInitializeLookasideListEx')!.kind).toBe('pool');
    expect(t.byName.get('ObfReferenceObjectWithTag')!.kind).toBe('object');
    expect(t.byName.get('MmAllocateMappingAddress')!.kind).toBe('mapping');
    expect(t.byName.get('IoInitializeRemoveLockEx')!.kind).toBe('removelock');
    expect(t.byName.get('ExFreePoolWithTag')!.action).toBe('free');
  });

  it('untagged routines give shared tags', () => {
    expect(t.byName.get('ExAllocatePool')!.sharedTag!.display).toBe('None');
    expect(t.byName.get('ExAllocatePoolWithQuota')!.sharedTag!.display).toBe('None');
    expect(t.byName.get('NdisAllocateMemory')!.sharedTag!.display).toBe('NDam');
    expect(t.byName.get('NdisAllocateMemory')!.tagLocation).toBeNull();
  });

  it('StorPortExtendedFunction is a tag call only for ExtFunctionAllocatePool', () => {
    const r = findRoutine('storport.sys', 'StorPortExtendedFunction')!;
    expect(r.condition).toMatchObject({ arg: 1, equals: 0, meaning: 'ExtFunctionAllocatePool' });
    expect(r.condition!.location).toMatchObject({ x64: 'ecx', arm64: 'w0', x86Slot: 1 });
  });

  it('module matches case-insensitively, name exactly', () => {
    expect(findRoutine('NTOSKRNL.exe', 'ExAllocatePoolWithTag')).toBeDefined();
    expect(findRoutine('NDIS.SYS', 'NdisAllocateMemoryWithTag')).toBeDefined();
    expect(findRoutine('ntoskrnl.exe', 'exallocatepoolwithtag')).toBeUndefined();
    expect(findRoutine('ndis.sys', 'ExAllocatePoolWithTag')).toBeUndefined();
    expect(findRoutine('wdf01000.sys', 'WdfMemoryCreate')).toBeUndefined(); // never an import
  });

  it('KMDF function-table entries', () => {
    expect(t.kmdfBind).toEqual({ module: 'wdfldr.sys', import: 'WdfVersionBind', table: 'WdfFunctions' });
    const mem = t.kmdfByIndex.get(192)!;
    expect(mem.name).toBe('WdfMemoryCreate');
    expect(mem.binding).toBe('kmdf');
    expect(mem.wrapperTagArg).toBe(3);
    expect(mem.tagLocation).toMatchObject({ arg: 4, x64: 'r9d', arm64: 'w3', x86Slot: 4 });
    const la = t.kmdfByIndex.get(198)!;
    expect(la.name).toBe('WdfLookasideListCreate');
    expect(la.tagLocation).toMatchObject({ arg: 6, x64: 'rsp+0x28', arm64: 'w5', x86Slot: 6 });
    const drv = t.kmdfByIndex.get(116)!;
    expect(drv.name).toBe('WdfDriverCreate');
    expect(drv.tagStruct).toMatchObject({ arg: 5, struct: 'WDF_DRIVER_CONFIG' });
    expect(drv.tagStruct!.location.x64).toBe('rsp+0x20');
  });

  it('NDIS pool parameter structs', () => {
    const nbl = t.byName.get('NdisAllocateNetBufferListPool')!;
    expect(nbl.tagStruct).toMatchObject({ arg: 2, struct: 'NET_BUFFER_LIST_POOL_PARAMETERS' });
    expect(nbl.tagStruct!.location).toMatchObject({ x64: 'edx', arm64: 'w1' });
    expect(t.structs.get('NET_BUFFER_LIST_POOL_PARAMETERS')!.offset).toEqual({ x86: 8, x64: 8, arm64: 8 });
    expect(t.structs.get('NET_BUFFER_LIST_POOL_PARAMETERS')!.size).toEqual({ x86: 16, x64: 16, arm64: 16 });
    expect(t.structs.get('NET_BUFFER_POOL_PARAMETERS')!.offset).toEqual({ x86: 4, x64: 4, arm64: 4 });
    expect(t.byName.get('NdisAllocateNetBufferPool')!.tagStruct!.struct).toBe('NET_BUFFER_POOL_PARAMETERS');
  });

  it('other structs', () => {
    expect(t.structs.get('WDF_DRIVER_CONFIG')!.offset).toEqual({ x86: 0x10, x64: 0x1c, arm64: 0x1c });
    expect(t.structs.get('FLT_CONTEXT_REGISTRATION')!.offset).toEqual({ x86: 0x0c, x64: 0x18, arm64: 0x18 });
    expect(t.structs.get('FLT_CONTEXT_REGISTRATION')!.size).toEqual({ x86: 0x1c, x64: 0x38, arm64: 0x38 });
    expect(t.structs.get('FLT_REGISTRATION')!.pointsTo).toBe('FLT_CONTEXT_REGISTRATION');
  });

  it('every routine has exactly one tag source and frozen data', () => {
    for (const r of t.all) {
      expect([r.tagArg !== null, r.sharedTag !== null, r.tagStruct !== null].filter(Boolean).length, r.name).toBe(1);
      expect(Object.isFrozen(r)).toBe(true);
    }
  });
});

describe('struct layout', () => {
  it('computes natural alignment per architecture', () => {
    const l = layoutStruct([
      ['a', 'UCHAR'],
      ['p', 'PVOID'],
      ['b', 'USHORT'],
    ]);
    expect(l.fields.map((f) => f.offset)).toEqual([
      { x86: 0, x64: 0, arm64: 0 },
      { x86: 4, x64: 8, arm64: 8 },
      { x86: 8, x64: 16, arm64: 16 },
    ]);
    expect(l.size).toEqual({ x86: 12, x64: 24, arm64: 24 });
  });
});

describe('validation', () => {
  it('rejects a wrong recorded struct offset', () => {
    const raw = rawRoutines();
    raw.structs.NET_BUFFER_LIST_POOL_PARAMETERS.offsets.x64 = 12;
    expect(() => parseRoutineTable(raw)).toThrow(/NET_BUFFER_LIST_POOL_PARAMETERS.offsets.x64: recorded 12 but the layout gives 8/);
  });
  it('rejects a bad kind, upper-case module, duplicate, missing tag source', () => {
    let raw = rawRoutines();
    raw.routines[0].kind = 'lookaside';
    expect(() => parseRoutineTable(raw)).toThrow(/routines\[0\]\.kind/);
    raw = rawRoutines();
    raw.routines[0].module = 'NTOSKRNL.EXE';
    expect(() => parseRoutineTable(raw)).toThrow(/lower case/);
    raw = rawRoutines();
    raw.routines.push(raw.routines[0]);
    expect(() => parseRoutineTable(raw)).toThrow(/duplicate/);
    raw = rawRoutines();
    raw.routines[0].tagArg = null;
    expect(() => parseRoutineTable(raw)).toThrow(/exactly one/);
    raw = rawRoutines();
    raw.kmdf.functions[0].tagArg = 3;
    expect(() => parseRoutineTable(raw)).toThrow(/wrapperTagArg \+ 1/);
  });
  it('rejects a bad shared tag', () => {
    expect(() => parseSharedTags({ tags: [{ tag: 'TooLong', reason: 'x' }] })).toThrow(/tags\[0\]\.tag/);
    expect(() => parseSharedTags({ tags: [{ tag: 'None', reason: 'x' }, { tag: 'None', reason: 'y' }] })).toThrow(/duplicate/);
  });
});

describe('shared-tags.json', () => {
  it('has the documented shared tags', () => {
    const m = loadSharedTags();
    for (const s of ['None', 'Ddk ', 'Wdm ', 'NDam', 'FxDr', 'Mdl ', 'Irp ']) {
      const e = m.get(parseTag(JSON.stringify(s)).matchKey);
      expect(e, s).toBeDefined();
      expect(e!.reason.length).toBeGreaterThan(10);
    }
  });
  it('lookup ignores padding style and PROTECTED_POOL', () => {
    // 'kdD ' as bytes 44 64 6B 20 = "Ddk "; a NUL-padded 'Io'-style variant of Mdl:
    expect(sharedTagInfo(Tag.fromBytes([0x4d, 0x64, 0x6c]))?.tag.display).toBe('Mdl ');
    expect(sharedTagInfo(Tag.fromUlong((0x656e6f4e | 0x80000000) >>> 0))?.tag.display).toBe('None');
    expect(sharedTagInfo(parseTag('KhPk'))).toBeUndefined();
  });
  it('every untagged routine names a known shared tag', () => {
    for (const r of loadRoutines().all) {
      if (r.sharedTag) expect(sharedTagInfo(r.sharedTag), r.name).toBeDefined();
    }
  });
});
