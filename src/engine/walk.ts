// The guest walk (KVM's FNAME(walk_addr)): from CR3, or the PDPTEs loaded at
// the last CR3 load in mode pae, level by level, with the accessed and dirty
// bits that the hypervisor sets in guest memory, and the #PF error code.

import {
  PAGE_MASK,
  PAGE_SIZE,
  PFERR_FETCH,
  PFERR_PRESENT,
  PFERR_USER,
  PFERR_WRITE,
  PT_ACCESSED,
  PT_DIRTY,
  PT_NX_HI,
  PT_PAGE_SIZE,
  PT_PRESENT,
  PT_USER,
  PT_WRITABLE,
} from './bits';
import type { GuestMemory } from './memory';
import type { PagingMode } from './paging';

export const ACC_READ = 0;
export const ACC_WRITE = 1;
export const ACC_EXEC = 2;
export type AccessKind = typeof ACC_READ | typeof ACC_WRITE | typeof ACC_EXEC;

/** What walks read: the vCPU's CR3 and, in mode pae, the PDPTEs it loaded. */
export interface WalkRoot {
  cr3: number;
  /** Mode pae: the four PDPTEs loaded at the last CR3 load (low and high halves). */
  pdpteLo: Uint32Array;
  pdpteHi: Uint32Array;
}

/** How a walk behaves: the real walk_addr, or a look that changes nothing. */
export const WALK_SET_BITS = 1;
export const WALK_CHECK_PERMS = 2;

/** The result of one walk. Reused between walks: copy what you keep. */
export class GuestWalk {
  ok = false;
  errorCode = 0;
  /** Level where the walk ended: the leaf (1, or a large entry's level), or where it faulted. */
  level = 0;
  /** The guest levels the walk started from (mode's levels). */
  top = 0;
  /** Guest frame of the 4 KiB page that the access lands in. */
  gfn = 0;
  /** Guest-physical address of the access. */
  gpa = 0;
  /** W and U allowed by every level (KVM's inherited access). */
  accW = false;
  accU = false;
  /** Some level on the path has NX. */
  anyNx = false;
  /**
   * 2008's pt_access (designs.md): the access (W, U, X = no NX) allowed by
   * every non-leaf entry above the leaf (or large) entry; the PAE PDPTEs count
   * as all three. Set on a walk that reached its leaf. pte_access is this AND
   * the leaf's own access (`pteAccess`).
   */
  ptAccess = 0;
  /** Every entry on the path had A set before this walk (PDPTEs excepted). */
  allAccessed = true;
  /** Per level (index = level): the entry's guest-physical address (-1 for a PAE PDPTE register), its value, and the table's frame. */
  readonly pteGpa = new Float64Array(5);
  readonly pteLo = new Uint32Array(5);
  readonly pteHi = new Uint32Array(5);
  readonly tableGfn = new Float64Array(5);
  /** The levels whose A bit this walk set, as a bit mask (1 << level); D set on the leaf. */
  setA = 0;
  setD = false;

  get leafLo(): number {
    return this.pteLo[this.level]!;
  }
  get leafHi(): number {
    return this.pteHi[this.level]!;
  }
  get leafNx(): boolean {
    return (this.pteHi[this.level]! & PT_NX_HI) !== 0;
  }
  get leafDirty(): boolean {
    return (this.pteLo[this.level]! & PT_DIRTY) !== 0;
  }
  /** 2008's pte_access: pt_access AND the leaf's (or large entry's) own access (ACCESS_W | ACCESS_U | ACCESS_X). */
  pteAccess(mode: PagingMode): number {
    return this.ptAccess & entryAccess(mode, this.pteLo[this.level]!, this.pteHi[this.level]!);
  }
  get large(): boolean {
    return this.level > 1;
  }
  /** The frame the walk's leaf entry names (large entries: aligned down to the page size). */
  leafFrame(mode: PagingMode): number {
    const f = entryFrame(mode, this.pteLo[this.level]!, this.pteHi[this.level]!);
    if (this.level === 1) return f;
    const align = mode.largeFrameAlign(this.level);
    return f - (f & (align - 1));
  }
}

/** An entry's own access as 2008 saw it: W (its W bit), U (its U bit), X (unless NX; always in mode 32). */
export const ACCESS_W = 1;
export const ACCESS_U = 2;
export const ACCESS_X = 4;
export const ACCESS_ALL = 7;

export function entryAccess(mode: PagingMode, lo: number, hi: number): number {
  return (lo & PT_WRITABLE ? ACCESS_W : 0) | (lo & PT_USER ? ACCESS_U : 0) | (mode.hasNx && (hi & PT_NX_HI) !== 0 ? 0 : ACCESS_X);
}

/** The frame number in an entry (bits 12..31 in mode 32, 12..51 otherwise). */
export function entryFrame(mode: PagingMode, lo: number, hi: number): number {
  return mode.entrySize === 4 ? lo >>> 12 : (hi & 0xfffff) * 1048576 + (lo >>> 12);
}

function readEntry(mem: GuestMemory, mode: PagingMode, gpa: number, w: GuestWalk, level: number): void {
  w.pteGpa[level] = gpa;
  if (mode.entrySize === 8) {
    w.pteLo[level] = mem.read64(gpa);
    w.pteHi[level] = mem.hi;
  } else {
    w.pteLo[level] = mem.read32(gpa);
    w.pteHi[level] = 0;
  }
}

/**
 * walk_addr: walks `va` for an access of `kind` by user or kernel. With
 * WALK_SET_BITS it sets A bits on the way (and D on a successful write's leaf)
 * directly in guest memory; with WALK_CHECK_PERMS it faults where W, U or NX
 * refuse the access. Without it, only a missing entry stops the walk.
 */
export function walkAddr(
  mem: GuestMemory,
  mode: PagingMode,
  root: WalkRoot,
  va: number,
  kind: AccessKind,
  user: boolean,
  how: number,
  w: GuestWalk,
): boolean {
  const write = kind === ACC_WRITE;
  const fetch = kind === ACC_EXEC;
  const setBits = (how & WALK_SET_BITS) !== 0;
  const checkPerms = (how & WALK_CHECK_PERMS) !== 0;
  let ec = (write ? PFERR_WRITE : 0) | (user ? PFERR_USER : 0) | (fetch && mode.hasNx ? PFERR_FETCH : 0);
  w.ok = false;
  w.top = mode.levels;
  w.accW = true;
  w.accU = true;
  w.anyNx = false;
  w.allAccessed = true;
  w.setA = 0;
  w.setD = false;
  let level = mode.levels;
  let table: number;
  if (mode.name === 'pae') {
    const i = mode.index(va, 3);
    w.pteGpa[3] = -1;
    w.pteLo[3] = root.pdpteLo[i]!;
    w.pteHi[3] = root.pdpteHi[i]!;
    w.tableGfn[3] = Math.floor(root.cr3 / PAGE_SIZE);
    if ((w.pteLo[3]! & PT_PRESENT) === 0) {
      w.level = 3;
      w.errorCode = ec;
      return false;
    }
    table = entryFrame(mode, w.pteLo[3]!, w.pteHi[3]!);
    level = 2;
  } else {
    table = Math.floor(root.cr3 / PAGE_SIZE);
  }
  let ptAccess = ACCESS_ALL;
  for (;;) {
    w.tableGfn[level] = table;
    const gpa = table * PAGE_SIZE + mode.index(va, level) * mode.entrySize;
    readEntry(mem, mode, gpa, w, level);
    let lo = w.pteLo[level]!;
    const hi = w.pteHi[level]!;
    w.level = level;
    if ((lo & PT_PRESENT) === 0) {
      w.errorCode = ec;
      return false;
    }
    if ((lo & PT_WRITABLE) === 0) w.accW = false;
    if ((lo & PT_USER) === 0) w.accU = false;
    if (mode.hasNx && (hi & PT_NX_HI) !== 0) w.anyNx = true;
    if (checkPerms && ((write && !w.accW) || (user && !w.accU) || (fetch && w.anyNx))) {
      w.errorCode = ec | PFERR_PRESENT;
      return false;
    }
    if ((lo & PT_ACCESSED) === 0) {
      w.allAccessed = false;
      if (setBits) {
        lo |= PT_ACCESSED;
        w.pteLo[level] = lo;
        mem.write32(gpa, lo);
        w.setA |= 1 << level;
      }
    }
    const leaf = level === 1 || ((lo & PT_PAGE_SIZE) !== 0 && mode.isLargeLevel(level));
    if (leaf) break;
    ptAccess &= entryAccess(mode, lo, hi);
    table = entryFrame(mode, lo, hi);
    level--;
  }
  w.ptAccess = ptAccess;
  // Success: the translation, and D on a write's leaf.
  const base = w.leafFrame(mode);
  // Large pages are 2 MiB, 4 MiB or 1 GiB: the offset in one fits in 31 bits.
  const pagesBelow = level === 1 ? 0 : (va & (2 ** mode.levelShift(level) - 1)) >>> 12;
  w.gfn = base + pagesBelow;
  w.gpa = w.gfn * PAGE_SIZE + (va & PAGE_MASK);
  if (write && setBits && (w.pteLo[level]! & PT_DIRTY) === 0) {
    const lo = w.pteLo[level]! | PT_DIRTY;
    w.pteLo[level] = lo;
    mem.write32(w.pteGpa[level]!, lo);
    w.setD = true;
  }
  w.ok = true;
  w.errorCode = 0;
  return true;
}

/** Error code names, for messages: `0x6 (W U)`. */
export function describeErrorCode(ec: number): string {
  const parts: string[] = [];
  parts.push(ec & PFERR_PRESENT ? 'protection' : 'not present');
  if (ec & PFERR_WRITE) parts.push('write');
  else if (ec & PFERR_FETCH) parts.push('fetch');
  else parts.push('read');
  parts.push(ec & PFERR_USER ? 'user' : 'kernel');
  return `0x${ec.toString(16)} (${parts.join(', ')})`;
}
