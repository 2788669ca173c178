/**
 * The fleet merge's id caches: a report file's image id and path id looked up from its bytes
 * (`FileColumns`), without making a string. They sit in front of the store's Maps, which stay
 * the authority: a miss here is answered there and remembered here.
 *
 * Both are open-addressing tables in typed arrays (slot → entry + 1, 0 empty), with linear
 * probing. A hit is checked against the whole key (32 bytes of SHA-256, every code unit of a
 * path), so a report that claims colliding hashes gets the right id, only slower; and a probe
 * never runs longer than MAX_PROBE slots: past that, the key is not cached (the Map answers it),
 * so a report built to collide cannot make a merge quadratic.
 */
import { hashUnits, murmurFinish, murmurStep, type FileColumns } from '../report/merge-input.js';

const MAX_PROBE = 64;

/** Room for at least `n` entries at a load of one quarter or less (short probes: a miss costs a Map lookup). */
function slotsFor(n: number): Int32Array {
  let cap = 1024;
  while (cap < 4 * n) cap *= 2;
  return new Int32Array(cap);
}

function grown<T extends Int32Array | Uint16Array | Uint8Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  let len = a.length * 2;
  while (len < need) len *= 2;
  const b = new (a.constructor as new (n: number) => T)(len);
  b.set(a);
  return b;
}

/** SHA-256 (32 bytes) → image id. */
export class ShaIdCache {
  private slots = slotsFor(0);
  private keys = new Uint8Array(32 * 256);
  private ids = new Int32Array(256);
  private count = 0;

  /** A seeded hash of all 32 bytes, murmur3's mixing (a claimed SHA-256 need not be random). */
  private static slotHash(b: Uint8Array, at: number, seed: number): number {
    let h = seed;
    for (let i = 0; i < 32; i += 4) h = murmurStep(h, b[at + i] | (b[at + i + 1] << 8) | (b[at + i + 2] << 16) | (b[at + i + 3] << 24));
    return murmurFinish(h);
  }

  private readonly seed = (Math.random() * 0x100000000) | 0;

  private same(e: number, b: Uint8Array, at: number): boolean {
    const k = this.keys;
    const o = 32 * e;
    for (let i = 0; i < 32; i++) if (k[o + i] !== b[at + i]) return false;
    return true;
  }

  /** The id of the 32 bytes at `b[at]`, or -1 when it is not cached. */
  get(b: Uint8Array, at: number): number {
    const mask = this.slots.length - 1;
    let s = ShaIdCache.slotHash(b, at, this.seed) & mask;
    for (let probe = 0; probe < MAX_PROBE; probe++) {
      const e = this.slots[s] - 1;
      if (e < 0) return -1;
      if (this.same(e, b, at)) return this.ids[e];
      s = (s + 1) & mask;
    }
    return -1;
  }

  /** Remembers the id of the 32 bytes at `b[at]` (unless its probe would run too long). */
  set(b: Uint8Array, at: number, id: number): void {
    if (4 * (this.count + 1) > this.slots.length) this.rehash();
    const mask = this.slots.length - 1;
    let s = ShaIdCache.slotHash(b, at, this.seed) & mask;
    for (let probe = 0; probe < MAX_PROBE; probe++) {
      const e = this.slots[s] - 1;
      if (e < 0) {
        const n = this.count++;
        this.keys = grown(this.keys, 32 * (n + 1));
        this.ids = grown(this.ids, n + 1);
        this.keys.set(b.subarray(at, at + 32), 32 * n);
        this.ids[n] = id;
        this.slots[s] = n + 1;
        return;
      }
      if (this.same(e, b, at)) {
        this.ids[e] = id;
        return;
      }
      s = (s + 1) & mask;
    }
  }

  private rehash(): void {
    const slots = slotsFor(this.count + 1);
    const mask = slots.length - 1;
    for (let e = 0; e < this.count; e++) {
      let s = ShaIdCache.slotHash(this.keys, 32 * e, this.seed) & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = e + 1;
    }
    this.slots = slots;
  }
}

/**
 * A path, spelled exactly as met, → path id (Windows spellings that differ in case are separate
 * keys with the same id). Keyed by the hash the columns carry when it was made with this cache's
 * seed (`FileColumns.seed`; the merge hands it to its reading threads), else hashed here.
 */
export class PathIdCache {
  private slots = slotsFor(0);
  private units = new Uint16Array(1 << 16);
  private used = 0;
  private starts = new Int32Array(256);
  private lens = new Int32Array(256);
  private hashes = new Int32Array(256);
  private ids = new Int32Array(256);
  private count = 0;

  constructor(readonly seed: number) {}

  private hashOf(c: FileColumns, i: number): number {
    return c.seed === this.seed ? c.pathHash[i] : hashUnits(c.pathUnits, c.pathStart[i], c.pathStart[i + 1], this.seed);
  }

  private same(e: number, c: FileColumns, i: number): boolean {
    const start = c.pathStart[i];
    const len = c.pathStart[i + 1] - start;
    if (this.lens[e] !== len) return false;
    const u = this.units;
    const o = this.starts[e];
    const p = c.pathUnits;
    for (let k = 0; k < len; k++) if (u[o + k] !== p[start + k]) return false;
    return true;
  }

  /** The id of file i's path, or -1 when it is not cached. */
  get(c: FileColumns, i: number): number {
    const h = this.hashOf(c, i);
    const mask = this.slots.length - 1;
    let s = h & mask;
    for (let probe = 0; probe < MAX_PROBE; probe++) {
      const e = this.slots[s] - 1;
      if (e < 0) return -1;
      if (this.hashes[e] === h && this.same(e, c, i)) return this.ids[e];
      s = (s + 1) & mask;
    }
    return -1;
  }

  /** Remembers file i's path's id (unless its probe would run too long). */
  set(c: FileColumns, i: number, id: number): void {
    if (4 * (this.count + 1) > this.slots.length) this.rehash();
    const h = this.hashOf(c, i);
    const mask = this.slots.length - 1;
    let s = h & mask;
    for (let probe = 0; probe < MAX_PROBE; probe++) {
      const e = this.slots[s] - 1;
      if (e < 0) {
        const start = c.pathStart[i];
        const len = c.pathStart[i + 1] - start;
        const n = this.count++;
        this.units = grown(this.units, this.used + len);
        this.units.set(c.pathUnits.subarray(start, start + len), this.used);
        this.starts = grown(this.starts, n + 1);
        this.lens = grown(this.lens, n + 1);
        this.hashes = grown(this.hashes, n + 1);
        this.ids = grown(this.ids, n + 1);
        this.starts[n] = this.used;
        this.lens[n] = len;
        this.hashes[n] = h;
        this.ids[n] = id;
        this.used += len;
        this.slots[s] = n + 1;
        return;
      }
      if (this.hashes[e] === h && this.same(e, c, i)) {
        this.ids[e] = id;
        return;
      }
      s = (s + 1) & mask;
    }
  }

  private rehash(): void {
    const slots = slotsFor(this.count + 1);
    const mask = slots.length - 1;
    for (let e = 0; e < this.count; e++) {
      let s = this.hashes[e] & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = e + 1;
    }
    this.slots = slots;
  }
}
