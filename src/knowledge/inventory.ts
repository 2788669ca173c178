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
