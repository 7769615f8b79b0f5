// Guest-physical memory: sparse, byte-addressed, little-endian. Only written
// pages take room, and within a page only its written 128-byte chunks (a
// guest page table mostly holds a few entries): a page keeps a 32-bit mask of
// its chunks and their words side by side, in chunk order. Pages are
// copy-on-write across snapshots, so a checkpoint costs a copy of the page
// map, not of the pages.

import { PAGE_MASK, PAGE_SIZE } from './bits';

/** 32-bit words in a chunk, and chunks in a page (32: one bit each in a mask). */
const CHUNK_WORDS = 32;
const CHUNK_SHIFT = 5;
const WORD_MASK = PAGE_SIZE / 4 - 1;

interface Page {
  /** Bit k: chunk k (words 32k..32k+31) is held. */
  mask: number;
  /** The held chunks' words, in chunk order. */
  data: Uint32Array;
  epoch: number;
}

const EMPTY = new Uint32Array(0);

function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** The word `w` (0..1023) of a page. */
function wordOf(p: Page, w: number): number {
  const bit = 1 << (w >>> CHUNK_SHIFT);
  if ((p.mask & bit) === 0) return 0;
  return p.data[(popcount32(p.mask & (bit - 1)) << CHUNK_SHIFT) | (w & (CHUNK_WORDS - 1))]!;
}

/** Stores word `w` of a page that this memory owns, adding its chunk when it is missing (not for a zero). */
function setWord(p: Page, w: number, v: number): void {
  const bit = 1 << (w >>> CHUNK_SHIFT);
  const at = popcount32(p.mask & (bit - 1)) << CHUNK_SHIFT;
  if ((p.mask & bit) === 0) {
    if (v === 0) return;
    const d = new Uint32Array(p.data.length + CHUNK_WORDS);
    d.set(p.data.subarray(0, at));
    d.set(p.data.subarray(at), at + CHUNK_WORDS);
    p.data = d;
    p.mask |= bit;
  }
  p.data[at | (w & (CHUNK_WORDS - 1))] = v;
}

export interface MemorySnapshot {
  readonly pages: ReadonlyMap<number, Page>;
}

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error('mmutrace needs a little-endian host');
}

/**
 * Copy-on-write generations, shared by every memory: a page may be written in
 * place only by the memory whose current generation made it. One counter for
 * all memories keeps a snapshot restored into another machine safe.
 */
let generations = 0;

/** Called before each store with its place, size and new bytes (the debugger's undo log). */
export type StoreHook = (gpa: number, size: number, newLo: number, newHi: number) => void;

/** Slots of the page lookup cache (a power of two). */
const CACHE_SLOTS = 1024;

export class GuestMemory {
  private pages = new Map<number, Page>();
  /**
   * A direct-mapped cache in front of `pages`: slot gfn % CACHE_SLOTS holds a
   * frame and its page (undefined: the frame holds nothing). A guest walk
   * reads the same few tables again and again; this saves the Map lookups.
   * Every change to `pages` goes through `writable` or `restore`, which keep it.
   */
  private readonly cacheGfn = new Float64Array(CACHE_SLOTS).fill(-1);
  private readonly cachePage: (Page | undefined)[] = new Array<Page | undefined>(CACHE_SLOTS).fill(undefined);
  private epoch = ++generations;
  /** Sees every store before it lands (write32, writeLoHi and write all pass here). */
  storeHook: StoreHook | null = null;

  /** Number of pages that hold data. */
  get pageCount(): number {
    return this.pages.size;
  }

  /** Bytes of page data held (the chunks of every page, shared ones once per memory). */
  get dataBytes(): number {
    let n = 0;
    for (const p of this.pages.values()) n += p.data.byteLength;
    return n;
  }

  /** The page of frame `gfn`, or undefined when it holds nothing. */
  private page(gfn: number): Page | undefined {
    const slot = gfn & (CACHE_SLOTS - 1);
    if (this.cacheGfn[slot] === gfn) return this.cachePage[slot];
    const p = this.pages.get(gfn);
    this.cacheGfn[slot] = gfn;
    this.cachePage[slot] = p;
    return p;
  }

  private writable(gfn: number): Page {
    let p = this.page(gfn);
    if (p === undefined) {
      p = { mask: 0, data: EMPTY, epoch: this.epoch };
      this.pages.set(gfn, p);
      this.cachePage[gfn & (CACHE_SLOTS - 1)] = p;
    } else if (p.epoch !== this.epoch) {
      p = { mask: p.mask, data: p.data.slice(), epoch: this.epoch };
      this.pages.set(gfn, p);
      this.cachePage[gfn & (CACHE_SLOTS - 1)] = p;
    }
    return p;
  }

  /** Low 32 bits of the aligned 4-byte word at `gpa` (gpa % 4 == 0). */
  read32(gpa: number): number {
    const p = this.page(Math.floor(gpa / PAGE_SIZE));
    return p === undefined ? 0 : wordOf(p, (gpa >>> 2) & WORD_MASK);
  }

  /** The high half of the last `read64`. */
  hi = 0;

  /**
   * The aligned 8-byte entry at `gpa` (gpa % 8 == 0): returns its low 32 bits
   * and leaves the high 32 in `hi` (one page lookup for both halves: a guest
   * walk reads four of these an exit).
   */
  read64(gpa: number): number {
    const p = this.page(Math.floor(gpa / PAGE_SIZE));
    if (p === undefined) {
      this.hi = 0;
      return 0;
    }
    const w = (gpa >>> 2) & WORD_MASK;
    const bit = 1 << (w >>> CHUNK_SHIFT);
    if ((p.mask & bit) === 0) {
      this.hi = 0;
      return 0;
    }
    // Both words are in one chunk (an 8-byte entry never straddles 128 bytes).
    const at = (popcount32(p.mask & (bit - 1)) << CHUNK_SHIFT) | (w & (CHUNK_WORDS - 1));
    this.hi = p.data[at + 1]!;
    return p.data[at]!;
  }

  write32(gpa: number, v: number): void {
    if (this.storeHook !== null) this.storeHook(gpa, 4, v, 0);
    setWord(this.writable(Math.floor(gpa / PAGE_SIZE)), (gpa >>> 2) & WORD_MASK, v >>> 0);
  }

  readByte(gpa: number): number {
    const p = this.page(Math.floor(gpa / PAGE_SIZE));
    if (p === undefined) return 0;
    const off = gpa & PAGE_MASK;
    return (wordOf(p, off >>> 2) >>> ((off & 3) << 3)) & 0xff;
  }

  /** Reads `size` bytes (within one page) as an unsigned little-endian bigint. */
  read(gpa: number, size: number): bigint {
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.readByte(gpa + i));
    return v;
  }

  /** Stores the low `size` bytes of lo/hi (within one page). */
  writeLoHi(gpa: number, lo: number, hi: number, size: number): void {
    if (this.storeHook !== null) this.storeHook(gpa, size, lo, hi);
    const off = gpa & PAGE_MASK;
    const page = this.writable(Math.floor(gpa / PAGE_SIZE));
    if (size === 8 && (off & 7) === 0) {
      setWord(page, off >>> 2, lo >>> 0);
      setWord(page, (off >>> 2) + 1, hi >>> 0);
      return;
    }
    if (size === 4 && (off & 3) === 0) {
      setWord(page, off >>> 2, lo >>> 0);
      return;
    }
    for (let i = 0; i < size; i++) {
      const b = i < 4 ? (lo >>> (8 * i)) & 0xff : (hi >>> (8 * (i - 4))) & 0xff;
      const a = off + i;
      const w = a >>> 2;
      const shift = (a & 3) << 3;
      setWord(page, w, ((wordOf(page, w) & ~(0xff << shift)) | (b << shift)) >>> 0);
    }
  }

  write(gpa: number, value: bigint, size: number): void {
    this.writeLoHi(gpa, Number(value & 0xffffffffn), Number((value >> 32n) & 0xffffffffn), size);
  }

  /** The bytes of [gpa, gpa+size) (within one page), for kvm_mmu_pte_write's `new`. */
  bytes(gpa: number, size: number): Uint8Array {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) out[i] = this.readByte(gpa + i);
    return out;
  }

  /** A whole page's bytes (zeros where nothing was written), for readMemory. */
  readRange(gpa: number, count: number): Uint8Array {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; ) {
      const a = gpa + i;
      const off = a % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, count - i);
      const p = this.pages.get(Math.floor(a / PAGE_SIZE));
      if (p !== undefined && p.mask !== 0) out.set(pageBytes(p).subarray(off, off + n), i);
      i += n;
    }
    return out;
  }

  /** Every page's frame number, ascending. */
  frames(): number[] {
    return [...this.pages.keys()].sort((a, b) => a - b);
  }

  snapshot(): MemorySnapshot {
    const snap = { pages: new Map(this.pages) };
    this.epoch = ++generations;
    return snap;
  }

  restore(s: MemorySnapshot): void {
    this.pages = new Map(s.pages);
    this.cacheGfn.fill(-1);
    this.cachePage.fill(undefined);
    this.epoch = ++generations;
  }

  /** True when both memories hold the same bytes everywhere. */
  equals(other: GuestMemory): boolean {
    return this.firstDifference(other) === undefined;
  }

  /** The lowest guest-physical address whose byte differs, or undefined. */
  firstDifference(other: GuestMemory): number | undefined {
    const frames = new Set([...this.pages.keys(), ...other.pages.keys()]);
    let best: number | undefined;
    for (const f of frames) {
      const a = this.pages.get(f);
      const b = other.pages.get(f);
      if (a === b) continue;
      for (let w = 0; w < PAGE_SIZE / 4; w++) {
        const x = a === undefined ? 0 : wordOf(a, w);
        const y = b === undefined ? 0 : wordOf(b, w);
        if (x !== y) {
          let i = 0;
          while (((x >>> (8 * i)) & 0xff) === ((y >>> (8 * i)) & 0xff)) i++;
          const gpa = f * PAGE_SIZE + 4 * w + i;
          if (best === undefined || gpa < best) best = gpa;
          break;
        }
      }
    }
    return best;
  }
}

/** A page's 4096 bytes, zeros where it holds no chunk. */
function pageBytes(p: Page): Uint8Array {
  const words = new Uint32Array(PAGE_SIZE / 4);
  let at = 0;
  for (let k = 0; k < PAGE_SIZE / 4 / CHUNK_WORDS; k++) {
    if (p.mask & (1 << k)) {
      words.set(p.data.subarray(at, at + CHUNK_WORDS), k * CHUNK_WORDS);
      at += CHUNK_WORDS;
    }
  }
  return new Uint8Array(words.buffer);
}
