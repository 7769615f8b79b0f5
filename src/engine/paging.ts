// Paging modes as parameters of one generic walker, in the spirit of KVM's
// paging_tmpl.h: entry size, levels, index bits and large-page rules.

import type { Mode } from '../trace/ast';

export interface PagingMode {
  readonly name: Mode;
  /** Guest paging levels: 2 (mode 32), 3 (pae), 4 (64). KVM's root_level / role.glevels. */
  readonly levels: number;
  /** Bytes per guest entry. */
  readonly entrySize: number;
  /** NX exists (and the error code reports F for fetches). */
  readonly hasNx: boolean;
  /** Shadow levels below the root: the shadow is 4-level for mode 64, PAE (a 4-entry root over level 2) otherwise. */
  readonly shadowLevels: number;
  /** The guest index of `va` at `level`. */
  index(va: number, level: number): number;
  /** True when a PS entry at `level` maps a large page. */
  isLargeLevel(level: number): boolean;
  /** log2 of the bytes mapped by one entry at `level`. */
  levelShift(level: number): number;
  /** A frame-number mask for a large entry at `level` (frame bits below the page size are ignored). */
  largeFrameAlign(level: number): number;
}

function makeMode(name: Mode): PagingMode {
  const bits = name === '32' ? 10 : 9;
  const levels = name === '32' ? 2 : name === 'pae' ? 3 : 4;
  const shifts = [0, 12, 12 + bits, 12 + 2 * bits, 12 + 3 * bits];
  const divisors = shifts.map((s) => 2 ** s);
  const counts = [0, 2 ** bits, 2 ** bits, name === 'pae' ? 4 : 2 ** bits, 2 ** bits];
  // Counts are powers of two: `& (count - 1)` is `% count` (see PAGE_MASK in bits.ts).
  const masks = counts.map((c) => Math.max(c - 1, 0));
  return {
    name,
    levels,
    entrySize: name === '32' ? 4 : 8,
    hasNx: name !== '32',
    shadowLevels: name === '64' ? 4 : 3,
    index(va: number, level: number): number {
      return Math.floor(va / divisors[level]!) & masks[level]!;
    },
    isLargeLevel(level: number): boolean {
      return level === 2 || (level === 3 && name === '64');
    },
    levelShift(level: number): number {
      return shifts[level]!;
    },
    largeFrameAlign(level: number): number {
      return 2 ** (shifts[level]! - 12);
    },
  };
}

export const MODES: Record<Mode, PagingMode> = { '32': makeMode('32'), pae: makeMode('pae'), '64': makeMode('64') };

/** The shadow's index of `va` at shadow `level` (always 9 bits a level; PAE root: 2 bits). */
export function shadowIndex(va: number, level: number): number {
  switch (level) {
    case 1:
      return (va >>> 12) & 511;
    case 2:
      return (va >>> 21) & 511;
    case 3:
      return Math.floor(va / 1073741824) & 511;
    default:
      return Math.floor(va / 549755813888) & 511;
  }
}

/** A mode-64 VA kept to 48 bits, sign-extended back for display. */
export function displayVa(va: number, mode: Mode): bigint {
  const v = BigInt(va);
  return mode === '64' && va >= 2 ** 47 ? v | 0xffff000000000000n : v;
}
