// Decoding of numbers for hovers: a page-table entry in a mode and at a
// level, an address split into its per-level indexes, a #PF error code.

import { MODES, describeErrorCode } from '../../engine';
import type { Mode } from '../../trace';

/** The names of the guest paging levels of each mode, L1 first. */
export const LEVEL_NAMES: Record<Mode, readonly string[]> = {
  '32': ['PT', 'PD'],
  pae: ['PT', 'PD', 'PDPT'],
  '64': ['PT', 'PD', 'PDPT', 'PML4'],
};

/** The entry names of each level, L1 first. */
export const ENTRY_NAMES: Record<Mode, readonly string[]> = {
  '32': ['PTE', 'PDE'],
  pae: ['PTE', 'PDE', 'PDPTE'],
  '64': ['PTE', 'PDE', 'PDPTE', 'PML4E'],
};

export function hex(n: number | bigint): string {
  return '0x' + n.toString(16);
}

/** Hex, grouped by 4 digits from the right past 8 digits (`0xffff_8000_0000_0000`). */
export function groupedHex(n: number | bigint): string {
  const h = n.toString(16);
  if (h.length <= 8) return '0x' + h;
  const parts: string[] = [];
  for (let e = h.length; e > 0; e -= 4) parts.unshift(h.slice(Math.max(0, e - 4), e));
  return '0x' + parts.join('_');
}

export function sizeName(bytes: number): string {
  if (bytes >= 2 ** 40) return `${bytes / 2 ** 40} TiB`;
  if (bytes >= 2 ** 30) return `${bytes / 2 ** 30} GiB`;
  if (bytes >= 2 ** 20) return `${bytes / 2 ** 20} MiB`;
  if (bytes >= 1024) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/** Bytes mapped by one entry at `level` (a large page at L2/L3). */
export function levelSize(mode: Mode, level: number): number {
  return 2 ** MODES[mode].levelShift(level);
}

export interface AddressSplit {
  /** Per level, top first: the table's name and the index into it. */
  indexes: { level: number; table: string; index: number }[];
  offset: number;
}

/**
 * An address split into its per-level indexes in a mode (`va` as the parser
 * keeps it: mode 64 to 48 bits). With `leafLevel` > 1, the split stops at that
 * level and the offset is within its large page.
 */
export function splitAddress(va: number, mode: Mode, leafLevel = 1): AddressSplit {
  const m = MODES[mode];
  const indexes: AddressSplit['indexes'] = [];
  for (let level = m.levels; level >= leafLevel; level--) {
    indexes.push({ level, table: LEVEL_NAMES[mode][level - 1]!, index: m.index(va, level) });
  }
  const offset = va % 2 ** m.levelShift(leafLevel);
  return { indexes, offset };
}

/** `PML4 0, PDPT 0, PD 2, PT 0, offset 0` (an offset from 10 up in hex). */
export function formatSplit(s: AddressSplit): string {
  return [...s.indexes.map((i) => `${i.table} ${i.index}`), `offset ${s.offset < 10 ? s.offset : hex(s.offset)}`].join(', ');
}

export interface DecodedPte {
  value: bigint;
  present: boolean;
  flags: string[];
  /** The guest-physical address the entry points to (a page, a large page or a table). */
  frame: bigint;
  /** True when the entry maps a large page (PS at a level that allows it). */
  large: boolean;
  /** What the entry is, in one sentence. */
  meaning: string;
  /** Notes: reserved or ignored bits, odd combinations. */
  notes: string[];
}

const FLAG_BITS: readonly [string, number][] = [
  ['P', 0],
  ['W', 1],
  ['U', 2],
  ['PWT', 3],
  ['PCD', 4],
  ['A', 5],
  ['D', 6],
  ['PS', 7],
  ['G', 8],
];

/** Decodes a page-table entry of `mode` at `level` (1 = leaf PTE). */
export function decodePte(value: bigint, mode: Mode, level: number): DecodedPte {
  const m = MODES[mode];
  const lo = Number(value & 0xffffffffn);
  const nx = mode !== '32' && (value >> 63n) & 1n ? true : false;
  const flags = FLAG_BITS.filter(([, b]) => (lo >>> b) & 1).map(([n]) => n);
  if (nx) flags.push('NX');
  const present = (lo & 1) === 1;
  const ps = (lo & 0x80) !== 0;
  const large = ps && level > 1 && m.isLargeLevel(level);
  const physMask = mode === '32' ? 0xfffff000n : 0x000ffffffffff000n;
  let frame = value & physMask;
  const notes: string[] = [];
  const entry = ENTRY_NAMES[mode][level - 1] ?? `L${level} entry`;
  const isPdpte = mode === 'pae' && level === 3;
  if (large) {
    const size = BigInt(levelSize(mode, level));
    const base = frame & ~(size - 1n);
    if (base !== frame) notes.push(`bits 12..${Math.log2(Number(size)) - 1} of a large page's frame are ignored here (PAT and reserved bits)`);
    frame = base;
  }
  if (ps && level > 1 && !large) notes.push(`PS has no meaning in a ${mode === 'pae' ? 'PAE PDPTE' : `mode ${mode} ${entry}`}`);
  if (ps && level === 1) notes.push('bit 7 of a leaf PTE is PAT, not PS');
  if (isPdpte && lo & 0x1e6) notes.push('a PAE PDPTE takes P, PWT and PCD only: its other low bits are reserved');
  if (mode === '32' && value > 0xffffffffn) notes.push('wider than the 4-byte entries of mode 32');
  const flagText = flags.length ? flags.join(' ') : 'no flags';
  let meaning: string;
  if (!present) {
    meaning =
      value === 0n
        ? `Empty ${entry}: not present, so any access through it faults (#PF with P=0).`
        : `Not present ${entry}: the CPU ignores its other bits and any access through it faults (#PF with P=0); an OS may keep its own data there.`;
  } else {
    const who = (lo & 4) !== 0 ? 'user and kernel' : 'kernel only';
    const rw = (lo & 2) !== 0 ? 'read-write' : 'read-only';
    const x = nx ? ', no execute' : '';
    const perms = isPdpte ? '' : ` (${rw}, ${who}${x})`;
    if (level === 1) meaning = `Maps the 4 KiB page at guest-physical ${hex(frame)}${perms}.`;
    else if (large) meaning = `Maps a ${sizeName(levelSize(mode, level))} page at guest-physical ${hex(frame)}${perms}.`;
    else {
      const below = LEVEL_NAMES[mode][level - 2] ?? 'table';
      meaning = `Points to the ${below} table at guest-physical ${hex(frame)}${perms}; the rights of every level add up.`;
    }
    if ((lo & 0x20) === 0) notes.push('A is clear: the CPU sets it on the first access through this entry');
    if ((level === 1 || large) && (lo & 0x40) === 0 && (lo & 2) !== 0) notes.push('D is clear: the first write sets it (KVM keeps the shadow read-only until then)');
  }
  return { value, present, flags, frame, large, meaning: `${meaning} Flags: ${flagText}.`, notes };
}

/** Markdown for a decoded entry. */
export function pteMarkdown(value: bigint, mode: Mode, level: number): string {
  const d = decodePte(value, mode, level);
  const entry = ENTRY_NAMES[mode][level - 1] ?? `L${level} entry`;
  const out = [
    `**${entry}** \`${hex(value)}\` (mode ${mode}, L${level})`,
    '',
    d.meaning,
    '',
    `frame \`${hex(d.frame)}\` · flags \`${d.flags.join(' ') || '-'}\``,
  ];
  for (const n of d.notes) out.push('', `_${n}._`);
  return out.join('\n');
}

/** A #PF error code in words: `0x4 (not present, read, user)`. */
export function describeFault(code: number): string {
  return describeErrorCode(code);
}
