import type { Section } from './types.js';

/**
 * RVA <-> file offset mapping over the section table (and the headers, which are
 * mapped at RVA 0). Returns null rather than a bogus offset when an address is not
 * backed by file bytes.
 */
export class AddressMap {
  constructor(
    readonly sections: readonly Section[],
    readonly sizeOfHeaders: number,
    readonly fileSize: number,
  ) {}

  /** File offset of `rva`, or null when the `size` bytes there are not all in the file. */
  rvaToOffset(rva: number, size = 1): number | null {
    if (!Number.isInteger(rva) || rva < 0) return null;
    if (rva + size <= this.sizeOfHeaders) return rva + size <= this.fileSize ? rva : null;
    for (const s of this.sections) {
      const span = Math.max(s.virtualSize, s.rawSize);
      if (rva >= s.virtualAddress && rva < s.virtualAddress + span) {
        const delta = rva - s.virtualAddress;
        if (delta + size > s.rawSize) return null; // in the zero-filled tail (.bss)
        const off = s.rawOffset + delta;
        return off + size <= this.fileSize ? off : null;
      }
    }
    return null;
  }

  offsetToRva(offset: number): number | null {
    for (const s of this.sections) {
      if (s.rawSize > 0 && offset >= s.rawOffset && offset < s.rawOffset + s.rawSize) {
        return s.virtualAddress + (offset - s.rawOffset);
      }
    }
    return offset < this.sizeOfHeaders ? offset : null;
  }

  sectionOf(rva: number): Section | null {
    for (const s of this.sections) {
      if (rva >= s.virtualAddress && rva < s.virtualAddress + Math.max(s.virtualSize, s.rawSize)) return s;
    }
    return null;
  }
}
