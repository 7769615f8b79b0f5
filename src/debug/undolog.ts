// The timeline's undo log of guest-memory stores (timeline.ts): before each
// store the engine makes, the bytes it is about to overwrite, so that guest
// memory can be moved back to any earlier checkpoint by writing them back,
// newest first. A store that changes nothing is not logged.
//
// Words are numbered from the start of the run (a checkpoint keeps the log's
// length where it was taken). Memory keyframes (checkpoints that hold a copy
// of guest memory) let the words before them go: `dropBefore` frees whole
// chunks, `base` is the first word still held, and `reset` starts the log
// again at a keyframe restored from its copy.

import type { GuestMemory } from '../engine';

/** Chunks of 2^16 32-bit words (256 KiB) by default. */
const CHUNK_BITS = 16;

export interface UndoRecord {
  gpa: number;
  size: number;
  lo: number;
  hi: number;
}

export class UndoLog {
  // A record is [gpa low 32 bits, old low 32 bits, (old high 32 bits,) tag] with
  // tag = gpa bits 32..51 | size << 20 | has-high << 24: read backwards from its tag.
  private chunks: Uint32Array[];
  /** Words a chunk (the tests make it small, so that small traces let chunks go). */
  private readonly chunk: number;
  /** Chunks dropped before chunks[0]. */
  private chunkBase = 0;
  /** Words logged since the start (the next word's number). */
  len = 0;

  constructor(chunkBits = CHUNK_BITS) {
    this.chunk = 2 ** chunkBits;
    this.chunks = [new Uint32Array(this.chunk)];
  }

  /** The first word still held: a checkpoint whose length is below it cannot be reached by undoing. */
  get base(): number {
    return Math.max(this.chunkBase * this.chunk, this.floor);
  }
  /** Where the log was reset (words below it in its first chunk are not records). */
  private floor = 0;

  get bytes(): number {
    return this.chunks.length * this.chunk * 4;
  }

  private word(i: number): number {
    return this.chunks[Math.floor(i / this.chunk) - this.chunkBase]![i % this.chunk]!;
  }

  private push(w: number): void {
    const c = Math.floor(this.len / this.chunk) - this.chunkBase;
    if (c === this.chunks.length) this.chunks.push(new Uint32Array(this.chunk));
    this.chunks[c]![this.len % this.chunk] = w;
    this.len++;
  }

  /** Logs the bytes a store of `size` bytes at `gpa` is about to overwrite in `mem` (unless it writes the same bytes). */
  log(mem: GuestMemory, gpa: number, size: number, newLo: number, newHi: number): void {
    let lo = 0;
    let hi = 0;
    if ((gpa & 3) === 0 && (size === 4 || size === 8)) {
      lo = mem.read32(gpa);
      if (size === 8) hi = mem.read32(gpa + 4);
    } else {
      for (let k = 0; k < size; k++) {
        const b = mem.readByte(gpa + k);
        if (k < 4) lo |= b << (8 * k);
        else hi |= b << (8 * (k - 4));
      }
      lo >>>= 0;
      hi >>>= 0;
    }
    const mask = size >= 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    const hmask = size === 8 ? 0xffffffff : size > 4 ? (1 << (8 * (size - 4))) - 1 : 0;
    if (((lo ^ newLo) & mask) === 0 && ((hi ^ newHi) & hmask) === 0) return;
    const gpaHi = Math.floor(gpa / 4294967296);
    this.push(gpa >>> 0);
    this.push(lo);
    if (hi !== 0) this.push(hi);
    this.push((gpaHi | (size << 20) | (hi !== 0 ? 1 << 24 : 0)) >>> 0);
  }

  /** The records in words [from, to), newest first. */
  *records(from: number, to: number): Generator<UndoRecord> {
    let i = Math.min(to, this.len);
    from = Math.max(from, this.base);
    while (i > from) {
      const tag = this.word(i - 1);
      const hasHi = (tag >>> 24) & 1;
      const start = i - 3 - hasHi;
      const gpa = (tag & 0xfffff) * 4294967296 + this.word(start);
      yield { gpa, size: (tag >>> 20) & 0xf, lo: this.word(start + 1), hi: hasHi ? this.word(start + 2) : 0 };
      i = start;
    }
  }

  /** Writes back every record after word `to` (at or above `base`), newest first, and forgets them. */
  undoTo(mem: GuestMemory, to: number): void {
    let i = this.len;
    while (i > to) {
      const tag = this.word(i - 1);
      const hasHi = (tag >>> 24) & 1;
      const start = i - 3 - hasHi;
      mem.writeLoHi((tag & 0xfffff) * 4294967296 + this.word(start), this.word(start + 1), hasHi ? this.word(start + 2) : 0, (tag >>> 20) & 0xf);
      i = start;
    }
    this.len = to;
    // Keep one spare chunk beyond the one in use.
    const keep = Math.floor(this.len / this.chunk) - this.chunkBase + 2;
    if (this.chunks.length > keep) this.chunks.length = keep;
  }

  /** Frees the whole chunks below word `w` (the records before a memory keyframe). */
  dropBefore(w: number): void {
    const c = Math.min(Math.floor(w / this.chunk), Math.floor(this.len / this.chunk));
    if (c <= this.chunkBase) return;
    this.chunks.splice(0, c - this.chunkBase);
    this.chunkBase = c;
  }

  /** Empties the log; the next word is number `at` (guest memory was restored from a keyframe's copy taken there). */
  reset(at: number): void {
    this.chunkBase = Math.floor(at / this.chunk);
    this.chunks = [new Uint32Array(this.chunk)];
    this.len = at;
    this.floor = at;
  }
}
