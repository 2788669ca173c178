import type { AddressMap } from './address.js';
import { PeFormatError } from './errors.js';
import { RT_VERSION, listResources } from './resources.js';
import type { PeIssue, VersionInfo } from './types.js';

/**
 * VS_VERSIONINFO parser (the RT_VERSION resource).
 *
 * Every node of the resource is the same block shape:
 *   WORD  wLength;       // bytes of this block, children included (padding after the last child may or may not be counted)
 *   WORD  wValueLength;  // value size: WORDs when wType == 1 (text), bytes when wType == 0 (binary)
 *   WORD  wType;
 *   WCHAR szKey[];       // NUL-terminated UTF-16
 *   WORD  Padding1[];    // to a 32-bit boundary
 *   Value;               // wValueLength (see above)
 *   WORD  Padding2[];    // to a 32-bit boundary
 *   Children[];          // each starts on a 32-bit boundary
 * Boundaries are 32-bit aligned relative to the start of the resource data (which the
 * linker places on a 4-byte boundary), not to the file.
 *
 * Tree: VS_VERSION_INFO (value: VS_FIXEDFILEINFO)
 *         StringFileInfo -> StringTable "040904B0" (one per language/codepage) -> String key=value
 *         VarFileInfo -> Var "Translation" (ignored: the tables say the same thing)
 *
 * Bounds: every block is cut to its parent's end (a child's wLength of 0xFFFF cannot
 * reach outside its parent), and siblings advance by at least 6 bytes, so the walk
 * ends. A root that is not a VS_VERSIONINFO throws `PeFormatError('version', ..., offset)`;
 * damage below the root is pushed to `issues` and what was read is returned. Values are
 * returned verbatim (markup, newlines, non-ASCII, long strings): escaping is the
 * printer's job.
 */

const FIXED_SIGNATURE = 0xfeef04bd;
/** sizeof(VS_FIXEDFILEINFO). */
const FIXED_SIZE = 52;
/** wLength + wValueLength + wType. */
const BLOCK_HEADER = 6;

/**
 * Find RT_VERSION in the resource directory and parse it. Null when the image has no
 * version resource. Non-fatal problems (in the resource tree or the version block)
 * are appended to `issues`.
 */
export function readVersionInfo(buf: Buffer, map: AddressMap, dirRva: number, dirSize: number, issues: PeIssue[] = []): VersionInfo | null {
  const entries = listResources(buf, map, dirRva, dirSize, issues).filter((e) => e.type === RT_VERSION);
  if (entries.length === 0) return null;
  // Normally one (id 1, one language). Take the first whose bytes are in the file.
  const entry = entries.find((e) => e.offset !== null);
  if (!entry || entry.offset === null) {
    throw new PeFormatError('version', `RT_VERSION data is not in the file (${entries[0].problem ?? 'unmapped'})`, entries[0].dataRva, true);
  }
  return parseVersionInfo(buf, entry.offset, entry.size, issues);
}

/** One block header, already bounded by its parent. */
interface Block {
  /** File offset of wLength. */
  pos: number;
  /** Declared wLength. */
  length: number;
  /** End of the block: pos + wLength, cut to the parent's end. */
  end: number;
  valueLength: number;
  type: number;
  key: string;
  /** False when the key ran into the block end without a NUL. */
  keyTerminated: boolean;
  /** Aligned offset after the key (where the value starts; may be >= end). */
  valueStart: number;
}

/**
 * Parse a VS_VERSIONINFO block of `size` bytes at file offset `offset` in `buf`.
 * Exported for tests and for callers that already located the resource.
 */
export function parseVersionInfo(buf: Buffer, offset: number, size: number, issues: PeIssue[] = []): VersionInfo {
  const base = offset; // alignment origin
  const limit = Math.min(offset + size, buf.length);
  const issue = (message: string, at: number): void => {
    issues.push({ part: 'version', message: `version: ${message}`, offset: at });
  };
  const align = (p: number): number => base + ((p - base + 3) & ~3);

  /**
   * Read the block header at `pos` inside [pos, parentEnd). Returns null at the end of
   * the children (no room for a header, or a zero wLength: padding).
   * Throws for a block too short to be one (wLength 1..5).
   */
  function readBlock(pos: number, parentEnd: number, what: string): Block | null {
    if (pos + BLOCK_HEADER > parentEnd) return null;
    const length = buf.readUInt16LE(pos);
    if (length === 0) {
      // Zero padding ends a child list; anything else after it is damage.
      for (let p = pos; p < parentEnd; p++) {
        if (buf[p] !== 0) {
          issue(`${what} with wLength 0 followed by data; the rest of its parent is ignored`, pos);
          break;
        }
      }
      return null;
    }
    if (length < BLOCK_HEADER) {
      throw new PeFormatError('version', `${what} has wLength ${length}, shorter than its ${BLOCK_HEADER}-byte header`, pos);
    }
    let end = pos + length;
    if (end > parentEnd) {
      issue(`${what} wLength ${length} runs ${end - parentEnd} bytes past its parent; cut to the parent`, pos);
      end = parentEnd;
    }
    const valueLength = buf.readUInt16LE(pos + 2);
    const type = buf.readUInt16LE(pos + 4);
    // Key: UTF-16 up to the NUL or the block end.
    const keyStart = pos + BLOCK_HEADER;
    let k = keyStart;
    while (k + 1 < end && (buf[k] | buf[k + 1]) !== 0) k += 2;
    const keyTerminated = k + 1 < end;
    const key = buf.toString('utf16le', keyStart, k);
    return { pos, length, end, valueLength, type, key, keyTerminated, valueStart: align(k + 2) };
  }

  /**
   * Visit the children of `parent` (starting at `from`), each bounded by the parent.
   * A child that throws (wLength < 6) stops the list: it is recorded, and the
   * siblings read before it are kept.
   */
  function children(parent: Block, from: number, what: string, visit: (b: Block) => void): void {
    let p = align(from);
    while (p < parent.end) {
      let child: Block | null;
      try {
        child = readBlock(p, parent.end, what);
      } catch (err) {
        if (!(err instanceof PeFormatError)) throw err;
        issue(`${err.message.replace(/^version: /, '')}; rest of "${parent.key}" ignored`, p);
        return;
      }
      if (!child) return;
      visit(child);
      p = align(child.end); // child.end >= p + 6: always progresses
    }
  }

  /** Text value of a String block: up to its NUL, wValueLength or the block end. */
  function textValue(b: Block): string {
    if (!b.keyTerminated || b.valueStart >= b.end || b.valueLength === 0) return '';
    const declared = b.valueLength * (b.type === 0 ? 1 : 2);
    let stop = Math.min(b.end, b.valueStart + declared);
    stop = b.valueStart + ((stop - b.valueStart) & ~1); // whole UTF-16 units
    let e = b.valueStart;
    while (e < stop && (buf[e] | buf[e + 1]) !== 0) e += 2;
    if (e === stop && b.valueStart + declared > b.end) {
      // No NUL before the block ended although more was declared: keep what is there.
      issue(`value of "${b.key}" is cut by the end of its block (declared ${declared} bytes, ${stop - b.valueStart} present)`, b.pos);
    }
    return buf.toString('utf16le', b.valueStart, e);
  }

  // ---- root: VS_VERSION_INFO ----
  if (size < BLOCK_HEADER || offset + BLOCK_HEADER > buf.length) {
    throw new PeFormatError('version', `VS_VERSIONINFO is ${size} bytes, too small for a block header`, offset);
  }
  if (buf.readUInt16LE(offset) === 0) throw new PeFormatError('version', 'VS_VERSIONINFO has wLength 0', offset);
  const root = readBlock(offset, limit, 'VS_VERSIONINFO');
  if (!root) throw new PeFormatError('version', 'VS_VERSIONINFO header does not fit', offset);
  if (root.key !== 'VS_VERSION_INFO') {
    throw new PeFormatError('version', `root key is ${JSON.stringify(root.key.slice(0, 40))}, not "VS_VERSION_INFO"`, offset);
  }

  let fileVersion: string | null = null;
  let productVersion: string | null = null;
  const fixedAt = root.valueStart;
  if (root.valueLength > 0) {
    if (root.valueLength < FIXED_SIZE || fixedAt + FIXED_SIZE > root.end) {
      issue(`VS_FIXEDFILEINFO does not fit (wValueLength ${root.valueLength}, ${Math.max(0, root.end - fixedAt)} bytes left)`, fixedAt);
    } else if (buf.readUInt32LE(fixedAt) !== FIXED_SIGNATURE) {
      issue(`VS_FIXEDFILEINFO signature is 0x${buf.readUInt32LE(fixedAt).toString(16)}, not 0xfeef04bd`, fixedAt);
    } else {
      fileVersion = quad(buf.readUInt32LE(fixedAt + 8), buf.readUInt32LE(fixedAt + 12));
      productVersion = quad(buf.readUInt32LE(fixedAt + 16), buf.readUInt32LE(fixedAt + 20));
    }
  }

  // ---- children: StringFileInfo (kept), VarFileInfo and others (ignored) ----
  const tables: VersionInfo['tables'] = [];
  children(root, root.valueStart + root.valueLength, 'VS_VERSIONINFO child', (info) => {
    if (info.key !== 'StringFileInfo') return;
    children(info, info.valueStart + info.valueLength * (info.type === 0 ? 1 : 2), 'StringTable', (table) => {
      const strings: Record<string, string> = {};
      tables.push({ langCodepage: /^[0-9a-f]{8}$/i.test(table.key) ? table.key.toUpperCase() : table.key, strings });
      if (!table.keyTerminated) issue(`StringTable key "${table.key}" is cut by the end of its block`, table.pos);
      children(table, table.valueStart + table.valueLength * (table.type === 0 ? 1 : 2), 'String', (s) => {
        if (!s.keyTerminated) issue(`String key "${s.key}" is cut by the end of its block`, s.pos);
        // First definition wins, as with VerQueryValue. defineProperty so that a key
        // such as "__proto__" is stored as data rather than changing the prototype.
        if (!Object.prototype.hasOwnProperty.call(strings, s.key)) {
          Object.defineProperty(strings, s.key, { value: textValue(s), enumerable: true, writable: true, configurable: true });
        }
      });
    });
  });

  const preferred = tables.find((t) => t.langCodepage.startsWith('0409')) ?? tables[0];
  return { fileVersion, productVersion, tables, strings: preferred ? preferred.strings : {} };
}

/** `a.b.c.d` from the MS/LS DWORD pair of VS_FIXEDFILEINFO. */
function quad(ms: number, ls: number): string {
  return `${ms >>> 16}.${ms & 0xffff}.${ls >>> 16}.${ls & 0xffff}`;
}
