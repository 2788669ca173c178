/**
 * A host's inventory (which image it has at which path, first and last seen), packed into one
 * blob per host: 100,000 hosts of 500-3,000 files are 100-300 million (host, path, image)
 * facts, which as SQLite rows (some 25 bytes each with the B-tree's overhead) would be 4-8 GB;
 * packed they are about 6 bytes each.
 *
 * Entries are sorted by (path id, image id); a blob is
 *   varint times, then each time (seconds since 1970) as a varint delta from the one before;
 *   varint entries, then per entry: varint path id delta, varint image id, varint first-seen
 *   index into the times, varint last-seen index.
 * A path id delta of 0 is the same path with another image (a driver replaced in place keeps
 * both, each with its own first and last seen).
 */

export interface InventoryEntry {
  pathId: number;
  imageId: number;
  /** Seconds since 1970. */
  first: number;
  last: number;
}

class Writer {
  buf = Buffer.allocUnsafe(4096);
  n = 0;
  varint(v: number): void {
    if (this.n + 10 > this.buf.length) {
      const b = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(b, 0, 0, this.n);
      this.buf = b;
    }
    while (v >= 0x80) {
      this.buf[this.n++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.n++] = v;
  }
}

export class InventoryFormatError extends Error {}

function reader(b: Uint8Array) {
  let i = 0;
  return {
    varint(): number {
      let v = 0;
      let mul = 1;
      for (;;) {
        if (i >= b.length) throw new InventoryFormatError('inventory blob cut short');
        const c = b[i++];
        v += (c & 0x7f) * mul;
        if (c < 0x80) return v;
        mul *= 0x80;
        if (mul > 2 ** 56) throw new InventoryFormatError('inventory varint too long');
      }
    },
  };
}

export function encodeInventory(entries: InventoryEntry[]): Buffer {
  const sorted = entries.slice().sort((a, b) => a.pathId - b.pathId || a.imageId - b.imageId);
  const timeSet = new Set<number>();
  for (const e of sorted) {
    timeSet.add(e.first);
    timeSet.add(e.last);
  }
  const times = [...timeSet].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const w = new Writer();
  w.varint(times.length);
  let prev = 0;
  for (const t of times) {
    w.varint(t - prev);
    prev = t;
  }
  w.varint(sorted.length);
  let prevPath = 0;
  for (const e of sorted) {
    w.varint(e.pathId - prevPath);
    prevPath = e.pathId;
    w.varint(e.imageId);
    w.varint(index.get(e.first)!);
    w.varint(index.get(e.last)!);
  }
  return Buffer.from(w.buf.subarray(0, w.n));
}

export function decodeInventory(blob: Uint8Array): InventoryEntry[] {
  const r = reader(blob);
  const nt = r.varint();
  const times: number[] = new Array(nt);
  let t = 0;
  for (let i = 0; i < nt; i++) times[i] = t += r.varint();
  const n = r.varint();
  const out: InventoryEntry[] = new Array(n);
  let path = 0;
  for (let i = 0; i < n; i++) {
    path += r.varint();
    const imageId = r.varint();
    const first = times[r.varint()];
    const last = times[r.varint()];
    if (first === undefined || last === undefined) throw new InventoryFormatError('inventory time index out of range');
    out[i] = { pathId: path, imageId, first, last };
  }
  return out;
}

/** `old` with `seen` added: a (path, image) seen again keeps its first sighting and gets the later last one. */
export function mergeInventory(old: InventoryEntry[], seen: InventoryEntry[]): InventoryEntry[] {
  const key = (e: InventoryEntry) => e.pathId * 2 ** 26 + e.imageId;
  const by = new Map<number, InventoryEntry>();
  for (const e of old) by.set(key(e), e);
  for (const e of seen) {
    const k = key(e);
    const o = by.get(k);
    if (!o) by.set(k, e);
    else {
      o.first = Math.min(o.first, e.first);
      o.last = Math.max(o.last, e.last);
    }
  }
  return [...by.values()];
}

/** Image ids below this fit the packed key `pathId * IMAGE_ID_LIMIT + imageId` (a double holds it exactly for path ids below 2^27). */
export const IMAGE_ID_LIMIT = 2 ** 26;

/**
 * Which images a host had: a mark per image id, the call's number (no set built per report).
 * Grows to the largest image id met.
 */
let stamps = new Int32Array(1024);
let stampNow = 0;
function nextStamp(): number {
  if (stampNow === 0x7fffffff) {
    stamps.fill(0);
    stampNow = 0;
  }
  return ++stampNow;
}
function stampImage(image: number, gen: number): void {
  if (image >= stamps.length) {
    const bigger = new Int32Array(Math.max(stamps.length * 2, image + 1));
    bigger.set(stamps);
    stamps = bigger;
  }
  stamps[image] = gen;
}

/** The distinct images of a blob (what `image_hosts` counts once per host). */
export function inventoryImages(blob: Uint8Array): number[] {
  const gen = nextStamp();
  const out: number[] = [];
  for (const e of decodeInventory(blob)) {
    if (e.imageId < stamps.length && stamps[e.imageId] === gen) continue;
    stampImage(e.imageId, gen);
    out.push(e.imageId);
  }
  return out;
}

/** Keys of (path, image) for `addToInventory`. */
export function inventoryKey(pathId: number, imageId: number): number {
  if (imageId >= IMAGE_ID_LIMIT || pathId >= 2 ** 27) throw new InventoryFormatError(`inventory ids out of range (path ${pathId}, image ${imageId})`);
  return pathId * IMAGE_ID_LIMIT + imageId;
}

/**
 * A host's blob with one report's files added, in one pass and without an object per entry
 * (what a fleet merge does 100,000 times): `keys` (inventoryKey; any order, repeats allowed)
 * were all seen at `seen`. A pair already in `old` keeps its first sighting and gets the later
 * last one. The same bytes as encodeInventory(mergeInventory(decodeInventory(old), …)).
 */
export function addToInventory(old: Uint8Array | null, keys: Float64Array, seen: number): { blob: Buffer; entries: number; first: number; last: number; added: number[] } {
  keys.sort();
  const gen = nextStamp();
  // the old blob, as columns (its entries are sorted by key already)
  let on = 0;
  let oKeys = new Float64Array(0);
  let oFirst = new Float64Array(0);
  let oLast = new Float64Array(0);
  if (old) {
    const r = reader(old);
    const nt = r.varint();
    if (nt > old.length) throw new InventoryFormatError('inventory blob cut short');
    const times = new Float64Array(nt);
    let t = 0;
    for (let i = 0; i < nt; i++) times[i] = t += r.varint();
    on = r.varint();
    if (on > old.length) throw new InventoryFormatError('inventory blob cut short');
    oKeys = new Float64Array(on);
    oFirst = new Float64Array(on);
    oLast = new Float64Array(on);
    let path = 0;
    for (let i = 0; i < on; i++) {
      path += r.varint();
      const image = r.varint();
      const fi = r.varint();
      const li = r.varint();
      if (fi >= nt || li >= nt) throw new InventoryFormatError('inventory time index out of range');
      oKeys[i] = path * IMAGE_ID_LIMIT + image;
      stampImage(image, gen);
      oFirst[i] = times[fi];
      oLast[i] = times[li];
    }
  }
  // the images this report adds to the host (it had none of them, at any path)
  const added: number[] = [];
  for (let k = 0; k < keys.length; k++) {
    const image = keys[k] % IMAGE_ID_LIMIT;
    if (stamps[image] !== gen) {
      stampImage(image, gen);
      added.push(image);
    }
  }
  // merge-join of the two sorted lists
  const cap = on + keys.length;
  const mKeys = new Float64Array(cap);
  const mFirst = new Float64Array(cap);
  const mLast = new Float64Array(cap);
  let n = 0;
  let i = 0;
  let j = 0;
  while (i < on || j < keys.length) {
    if (j >= keys.length || (i < on && oKeys[i] < keys[j])) {
      mKeys[n] = oKeys[i];
      mFirst[n] = oFirst[i];
      mLast[n++] = oLast[i++];
    } else if (i >= on || keys[j] < oKeys[i]) {
      const k = keys[j];
      mKeys[n] = k;
      mFirst[n] = seen;
      mLast[n++] = seen;
      while (j < keys.length && keys[j] === k) j++;
    } else {
      const k = keys[j];
      mKeys[n] = k;
      mFirst[n] = Math.min(oFirst[i], seen);
      mLast[n++] = Math.max(oLast[i++], seen);
      while (j < keys.length && keys[j] === k) j++;
    }
  }
  // the times, sorted and distinct
  const all = new Float64Array(2 * n);
  all.set(mFirst.subarray(0, n));
  all.set(mLast.subarray(0, n), n);
  all.sort();
  let nt = 0;
  for (let k = 0; k < all.length; k++) if (k === 0 || all[k] !== all[k - 1]) all[nt++] = all[k];
  const times = all.subarray(0, nt);
  const indexOf = (t: number) => {
    let lo = 0;
    let hi = nt - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (times[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const w = new Writer();
  w.varint(nt);
  let prev = 0;
  for (let k = 0; k < nt; k++) {
    w.varint(times[k] - prev);
    prev = times[k];
  }
  w.varint(n);
  let prevPath = 0;
  for (let k = 0; k < n; k++) {
    const path = Math.floor(mKeys[k] / IMAGE_ID_LIMIT);
    w.varint(path - prevPath);
    prevPath = path;
    w.varint(mKeys[k] - path * IMAGE_ID_LIMIT);
    w.varint(indexOf(mFirst[k]));
    w.varint(indexOf(mLast[k]));
  }
  return { blob: Buffer.from(w.buf.subarray(0, w.n)), entries: n, first: n ? times[0] : seen, last: n ? times[nt - 1] : seen, added };
}
