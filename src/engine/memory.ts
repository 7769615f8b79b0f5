// Guest-physical memory: sparse, byte-addressed, little-endian. Only written
// pages take room. Pages are copy-on-write across snapshots, so a checkpoint
// costs a copy of the page map, not of the pages.

import { PAGE_SIZE } from './bits';

interface Page {
  u8: Uint8Array;
  u32: Uint32Array;
  epoch: number;
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

export class GuestMemory {
  private pages = new Map<number, Page>();
  private epoch = ++generations;
  /** Sees every store before it lands (write32, writeLoHi and write all pass here). */
  storeHook: StoreHook | null = null;

  /** Number of pages that hold data. */
  get pageCount(): number {
    return this.pages.size;
  }

  private writable(gfn: number): Page {
    let p = this.pages.get(gfn);
    if (p === undefined) {
      const buf = new ArrayBuffer(PAGE_SIZE);
      p = { u8: new Uint8Array(buf), u32: new Uint32Array(buf), epoch: this.epoch };
      this.pages.set(gfn, p);
    } else if (p.epoch !== this.epoch) {
      const buf = p.u8.slice().buffer;
      p = { u8: new Uint8Array(buf), u32: new Uint32Array(buf), epoch: this.epoch };
      this.pages.set(gfn, p);
    }
    return p;
  }

  /** Low 32 bits of the aligned 4-byte word at `gpa` (gpa % 4 == 0). */
  read32(gpa: number): number {
    const p = this.pages.get(Math.floor(gpa / PAGE_SIZE));
    return p === undefined ? 0 : p.u32[(gpa % PAGE_SIZE) >>> 2]!;
  }

  write32(gpa: number, v: number): void {
    if (this.storeHook !== null) this.storeHook(gpa, 4, v, 0);
    this.writable(Math.floor(gpa / PAGE_SIZE)).u32[(gpa % PAGE_SIZE) >>> 2] = v;
  }

  readByte(gpa: number): number {
    const p = this.pages.get(Math.floor(gpa / PAGE_SIZE));
    return p === undefined ? 0 : p.u8[gpa % PAGE_SIZE]!;
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
    const off = gpa % PAGE_SIZE;
    const page = this.writable(Math.floor(gpa / PAGE_SIZE));
    if (size === 8 && (off & 7) === 0) {
      page.u32[off >>> 2] = lo;
      page.u32[(off >>> 2) + 1] = hi;
      return;
    }
    if (size === 4 && (off & 3) === 0) {
      page.u32[off >>> 2] = lo;
      return;
    }
    for (let i = 0; i < size; i++) {
      page.u8[off + i] = i < 4 ? (lo >>> (8 * i)) & 0xff : (hi >>> (8 * (i - 4))) & 0xff;
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
      if (p !== undefined) out.set(p.u8.subarray(off, off + n), i);
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
      for (let i = 0; i < PAGE_SIZE; i++) {
        const x = a === undefined ? 0 : a.u8[i]!;
        const y = b === undefined ? 0 : b.u8[i]!;
        if (x !== y) {
          const gpa = f * PAGE_SIZE + i;
          if (best === undefined || gpa < best) best = gpa;
          break;
        }
      }
    }
    return best;
  }
}

