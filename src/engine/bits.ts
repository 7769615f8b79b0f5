// Architectural bits of page-table entries, and the host side of the model.

export const PT_PRESENT = 1 << 0;
export const PT_WRITABLE = 1 << 1;
export const PT_USER = 1 << 2;
export const PT_PWT = 1 << 3;
export const PT_PCD = 1 << 4;
export const PT_ACCESSED = 1 << 5;
export const PT_DIRTY = 1 << 6;
export const PT_PAGE_SIZE = 1 << 7;
export const PT_GLOBAL = 1 << 8;
/** NX is bit 63; in the high 32-bit half of an entry it is bit 31. */
export const PT_NX_HI = 0x80000000;

/** Page-fault error code bits. */
export const PFERR_PRESENT = 1 << 0;
export const PFERR_WRITE = 1 << 1;
export const PFERR_USER = 1 << 2;
export const PFERR_FETCH = 1 << 4;

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
/**
 * The offset in a page: `x & PAGE_MASK` equals `x % PAGE_SIZE` for every
 * address the model uses (non-negative integers below 2^53: `&` takes them
 * modulo 2^32 first, which keeps the low 12 bits), and stays in integer
 * arithmetic where `%` on a number above 2^31 is a floating-point remainder.
 */
export const PAGE_MASK = PAGE_SIZE - 1;
export const TWO32 = 4294967296;
export const TWO52 = 4503599627370496;

/** Guest frame g is backed by host frame g + HOST_FRAME_OFFSET (engine.md). */
export const HOST_FRAME_OFFSET = 0x100000;
/**
 * Shadow pages live in host memory too: the page with allocation serial `uid`
 * sits at host frame SHADOW_FRAME_BASE + uid, so a non-leaf shadow entry holds
 * a host address that names the page it points to.
 */
export const SHADOW_FRAME_BASE = 0x8000000;

/**
 * A shadow entry is kept as one exact JS number: bits 0..51 as in the
 * architecture (flags and host frame), and NX (architecturally bit 63) moved
 * to bit 52 so that the value stays below 2^53. `spteToBigInt` gives the
 * architectural value.
 */
export const SPTE_NX = TWO52;

export function spteFlags(spte: number): number {
  return (spte >>> 0) & 0xfff;
}
export function spteFrame(spte: number): number {
  return Math.floor((spte >= TWO52 ? spte - TWO52 : spte) / PAGE_SIZE);
}
export function spteNx(spte: number): boolean {
  return spte >= TWO52;
}
export function makeSpte(hostFrame: number, flags: number, nx: boolean): number {
  return hostFrame * PAGE_SIZE + flags + (nx ? TWO52 : 0);
}
export function spteToBigInt(spte: number): bigint {
  const nx = spte >= TWO52;
  const v = BigInt(nx ? spte - TWO52 : spte);
  return nx ? v | (1n << 63n) : v;
}

/** Decoded flag names of an entry, in architectural order. */
export function flagNames(lo: number, nx: boolean): string[] {
  const names: string[] = [];
  if (lo & PT_PRESENT) names.push('P');
  if (lo & PT_WRITABLE) names.push('W');
  if (lo & PT_USER) names.push('U');
  if (lo & PT_PWT) names.push('PWT');
  if (lo & PT_PCD) names.push('PCD');
  if (lo & PT_ACCESSED) names.push('A');
  if (lo & PT_DIRTY) names.push('D');
  if (lo & PT_PAGE_SIZE) names.push('PS');
  if (lo & PT_GLOBAL) names.push('G');
  if (nx) names.push('NX');
  return names;
}

export function hex(n: number | bigint): string {
  return '0x' + n.toString(16);
}
