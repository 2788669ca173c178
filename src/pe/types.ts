/**
 * One object model of a PE image (the "read PE" stage).
 *
 * Everything here is plain data derived from a Buffer by `readPe()`; no field holds a
 * reference into a third-party object, so the model can cross a worker boundary
 * (structured clone) and be serialised into a report as it is.
 *
 * Addresses: `rva` is relative to the image base; `offset` is a file offset. Every
 * RVA that came from the file was bounds-checked before it was followed.
 */

/** Machine types we recognise. Anything else is kept as its number. */
export type Arch = 'x86' | 'x64' | 'arm64' | 'arm' | 'ia64' | 'unknown';

export interface Section {
  name: string;
  virtualAddress: number;
  virtualSize: number;
  rawOffset: number;
  rawSize: number;
  characteristics: number;
  /** IMAGE_SCN_MEM_EXECUTE or IMAGE_SCN_CNT_CODE is set. */
  executable: boolean;
}

export interface PeHeaders {
  /** 'PE32' or 'PE32+'. */
  format: 'PE32' | 'PE32+';
  machine: number;
  arch: Arch;
  imageBase: bigint;
  subsystem: number;
  /** COFF TimeDateStamp (seconds since 1970; often a hash in reproducible builds). */
  timestamp: number;
  characteristics: number;
  dllCharacteristics: number;
  checksum: number;
  entryPointRva: number;
  sizeOfImage: number;
  sizeOfHeaders: number;
  /** COFF symbol table pointer and count (mingw, lld and Wine set these). */
  pointerToSymbolTable: number;
  numberOfSymbols: number;
  linkerVersion: string;
  osVersion: string;
  subsystemVersion: string;
}

export interface ImportedFunction {
  /** Name when imported by name; null when by ordinal. */
  name: string | null;
  ordinal: number | null;
  hint: number | null;
  /** RVA of the IAT slot the loader fills; call sites reference this. */
  iatRva: number;
}

export interface ImportedModule {
  /** DLL name as written in the image (e.g. `ntoskrnl.exe`, `HAL.dll`). */
  module: string;
  delayLoad: boolean;
  functions: ImportedFunction[];
}

export interface ExportedFunction {
  name: string | null;
  ordinal: number;
  rva: number;
  /** Set when the export is a forwarder (`OTHER.Func`). */
  forwarder: string | null;
}

/** A RUNTIME_FUNCTION range from `.pdata` (x64, ARM64). `end` is exclusive. */
export interface FunctionRange {
  begin: number;
  end: number;
  /**
   * x64: the entry's unwind info is chained (UNW_FLAG_CHAININFO) to the function that starts
   * at this RVA, the root of the chain: the range is a fragment of that function (MSVC splits
   * a function's cold or shrink-wrapped parts this way), not a function of its own.
   */
  chainedTo?: number;
}

export interface Relocation {
  rva: number;
  /** IMAGE_REL_BASED_* type (3 = HIGHLOW, 10 = DIR64, ...). */
  type: number;
}

export interface CodeViewInfo {
  pdbPath: string;
  /** GUID in registry form, upper case, e.g. `3F2504E0-4F89-11D3-9A0C-0305E82C3301`. */
  guid: string;
  age: number;
}

export interface VersionInfo {
  /** VS_FIXEDFILEINFO file version, `a.b.c.d`. */
  fileVersion: string | null;
  productVersion: string | null;
  /** One table per language/codepage present, key like `040904B0`. */
  tables: { langCodepage: string; strings: Record<string, string> }[];
  /** Convenience: strings of the first table (usually US English). */
  strings: Record<string, string>;
}

export interface CertificateName {
  /** Common name, organisation, and the full RFC 4514-style string. */
  cn: string | null;
  o: string | null;
  text: string;
}

export interface AuthenticodeSignature {
  /** Always "signed (not verified)": the chain is not verified. */
  status: 'signed (not verified)';
  signer: CertificateName;
  issuer: CertificateName;
  serialNumber: string;
  digestAlgorithm: string;
  /** ISO time from a counter-signature or RFC 3161 timestamp, when present. */
  signingTime: string | null;
  /** Nested signatures (e.g. SHA-1 + SHA-256 dual signing). */
  nested: AuthenticodeSignature[];
}

/** A problem found while reading; what could still be read is kept. */
export interface PeIssue {
  /** Which part of the image (e.g. `imports`, `resources`, `certificate`). */
  part: string;
  message: string;
  /** File offset (or RVA when `rva` is true) where the problem was found. */
  offset: number | null;
  rva?: boolean;
}

export interface PeImage {
  size: number;
  /** End of the raw data the section table describes; beyond `size`, the file is truncated. */
  rawEnd: number;
  sha256: string | null;
  headers: PeHeaders;
  sections: Section[];
  imports: ImportedModule[];
  exports: ExportedFunction[];
  /** Sorted by `begin`. Empty on x86. */
  functions: FunctionRange[];
  relocations: Relocation[];
  codeView: CodeViewInfo | null;
  version: VersionInfo | null;
  signature: AuthenticodeSignature | null;
  /** Non-fatal problems: a broken directory is reported here and the rest is read. */
  issues: PeIssue[];
}
