/**
 * The "report" stage: what one scan of one host says, as portable JSON.
 *
 * A report is what a fleet tool collects from every host and what `pooltag merge` reads.
 * Its JSON Schema is `data/report.schema.json`; bump `REPORT_SCHEMA_VERSION` on any change
 * a reader would notice, and keep readers accepting every older version.
 *
 * Files and images are kept apart: `files[]` has one entry per path (a driver copied to
 * System32\drivers and to the DriverStore is two files), `images[]` one entry per distinct
 * SHA-256, analysed once.
 */
import type { Arch, CertificateName, PeIssue } from '../pe/types.js';
import type { ClassifiedString, Evidence, ExtractionStats } from '../evidence/types.js';

export const REPORT_FORMAT = 'pooltag-scan-report';
/**
 * 2: a file may be `known` (inventory: its image is in the base the scan's --known list came
 * from, and is not in images[]). A reader of version 1 would drop those sightings silently, so
 * it refuses version 2 instead. Version 1 reports are still read.
 */
export const REPORT_SCHEMA_VERSION = 2;

export interface HostInfo {
  /** Host name as the OS reports it (`os.hostname()`). */
  name: string;
  /** `process.platform`: `win32`, `linux`, ... */
  platform: string;
  /** Human OS name, e.g. `Windows 10 Pro` or `Linux 6.1.0`. */
  os: string;
  /** Kernel release (`os.release()`): on Windows `10.0.22631`. */
  release: string;
  /** Windows build number (`22631`) when the scan ran on Windows. */
  windowsBuild: number | null;
  /** Set when the scan ran under WSL: the Windows drive was read through /mnt. */
  wsl: boolean;
  arch: string;
}

export interface ScanOptionsRecord {
  roots: string[];
  include: string[];
  exclude: string[];
  jobs: number;
  maxFileSize: number;
  timeoutMs: number;
  minStringLength: number;
  cache: string | null;
  verify: boolean;
}

/** Why a file has no result. Stable codes for scripts; `message` says what and where. */
export type FileErrorCode =
  | 'not-found'
  | 'not-a-file'
  | 'unreadable'
  | 'empty'
  | 'too-large'
  | 'not-pe'
  | 'malformed'
  | 'timeout'
  | 'worker-died'
  | 'internal';

export interface FileError {
  code: FileErrorCode;
  message: string;
  /** For malformed images: which part of the PE and the file offset (or RVA) of the problem. */
  part?: string;
  offset?: number | null;
}

export interface FileEntry {
  /** The path as found (native separators; Windows paths stay Windows paths). */
  path: string;
  size: number | null;
  /** Last modification time, ISO 8601. */
  mtime: string | null;
  /** Links the file to its image in `images[]`; null on error. */
  sha256: string | null;
  /** Taken from the incremental cache rather than analysed in this run. */
  cached?: boolean;
  /**
   * Inventory only: the image is in the --known list (the base holds it), so it was hashed and
   * not analysed, and has no entry in `images[]`. Schema 2.
   */
  known?: boolean;
  error?: FileError;
}

export interface SignerRecord {
  signer: CertificateName;
  issuer: CertificateName;
  serialNumber: string;
  digestAlgorithm: string;
  signingTime: string | null;
  /** Signers of nested signatures (dual SHA-1 + SHA-256 signing). */
  nested: { signer: CertificateName; digestAlgorithm: string; signingTime: string | null }[];
}

/** One distinct image (by SHA-256): its PE metadata and what it says about tags. */
export interface ImageRecord {
  sha256: string;
  size: number;
  format: 'PE32' | 'PE32+';
  /** IMAGE_FILE_HEADER.Machine, e.g. 0x8664. */
  machine: number;
  arch: Arch;
  subsystem: number;
  /** COFF TimeDateStamp (seconds since 1970, or a hash in reproducible builds). */
  timestamp: number;
  /** ImageBase in hex (`0x140000000`). */
  imageBase: string;
  fileVersion: string | null;
  productVersion: string | null;
  /** The version resource's strings (first language): CompanyName, FileDescription, ... */
  versionStrings: Record<string, string>;
  signature: SignerRecord | null;
  pdb: { path: string; guid: string; age: number } | null;
  /** Modules the image imports (lower case), for "which drivers use NDIS" questions. */
  importModules: string[];
  /** Non-fatal problems met while reading the image. */
  issues: PeIssue[];
  evidence: Evidence[];
  /** Call sites whose tag could not be recovered. */
  unresolved: { routine: string; callSiteRva: number; functionRva: number | null; reason: string }[];
  /** Classified strings: device and symbolic-link names, registry paths, URLs, PDB and file names. */
  strings: ClassifiedString[];
  /**
   * Distinct tag-looking 4-character ASCII runs in the image's data sections (not in code):
   * the weakest evidence, what `strings | findstr` would find.
   */
  tagStrings: string[];
  /**
   * Names of the functions the evidence points at (the enclosing functions and the wrapper
   * chains), by RVA in hex (`0x12a0`), from the image's exports. Absent in older reports.
   */
  functionNames?: Record<string, string>;
  stats: ExtractionStats;
}

export interface ScanSummary {
  files: number;
  /** Files with a result (analysed now or taken from the cache). */
  scanned: number;
  errors: number;
  /** Files whose result came from the cache. */
  cached: number;
  /** Files reported as inventory (their image is in the --known list). Schema 2. */
  known?: number;
  /** Distinct images (SHA-256). */
  images: number;
  /** Distinct images with at least one tag at a call site (shared tags not counted). */
  imagesWithTags: number;
  /** Distinct tags at call sites over all images (shared tags not counted). */
  distinctTags: number;
  /** Bytes of the files with a result. */
  bytes: number;
  /** Bytes actually read and analysed in this run (not from the cache). */
  bytesAnalysed: number;
  durationMs: number;
}

export interface ScanReport {
  format: typeof REPORT_FORMAT;
  schemaVersion: number;
  tool: { name: 'pooltag'; version: string };
  host: HostInfo;
  startedAt: string;
  finishedAt: string;
  options: ScanOptionsRecord;
  summary: ScanSummary;
  files: FileEntry[];
  images: ImageRecord[];
}
