// The setup part of a trace: guest memory built without any VM exit. `space`
// takes a root table page from the pool; `map` builds the current space's
// tables down to the entry that maps VA (missing tables from the pool, in the
// order they are needed) and stores the PTE there; `poke` stores raw bytes.

import type { Diagnostic, MapStmt, PokeStmt, Program, Rows } from '../trace/ast';
import { PAGE_SIZE, PT_ACCESSED, PT_PAGE_SIZE, PT_PRESENT, PT_USER, PT_WRITABLE, hex } from './bits';
import { GuestMemory } from './memory';
import { MODES, type PagingMode } from './paging';
import { entryFrame } from './walk';

export interface GuestImage {
  memory: GuestMemory;
  /** Root table GPA of each space, by Program.spaces index. */
  spaceRoots: number[];
  /** The next free pool address after the setup. */
  poolNext: number;
  diagnostics: Diagnostic[];
}

/**
 * Most entries the `map` lines of the whole setup may write (a range's count is
 * checked before any of it is written), so that nothing eats memory or time.
 */
export const MAX_SETUP_PAGES = 4_000_000;

class SetupError extends Error {}

export function buildGuestImage(program: Program<Rows>): GuestImage {
  const mode = MODES[program.mode];
  const memory = new GuestMemory();
  const spaceRoots: number[] = [];
  const diagnostics: Diagnostic[] = [];
  let pool = program.pool;
  const physLimit = mode.name === '32' ? 2 ** 32 : 2 ** 52;
  const takePage = (): number => {
    if (pool + PAGE_SIZE > physLimit) throw new SetupError(`the page-table pool ran past the guest-physical limit (${hex(physLimit)})`);
    const gpa = pool;
    pool += PAGE_SIZE;
    return gpa;
  };
  let current = -1;
  const written = { entries: 0 };
  for (const s of program.setup) {
    try {
      if (s.kind === 'space') {
        spaceRoots[s.index] = takePage();
        current = s.index;
      } else if (s.kind === 'map') {
        if (current < 0) throw new SetupError('`map` needs a `space` first');
        mapRange(memory, mode, spaceRoots[current]!, s, takePage, written);
      } else {
        poke(memory, s);
      }
    } catch (e) {
      if (!(e instanceof SetupError)) throw e;
      diagnostics.push({ severity: 'error', message: e.message, ...s.range });
    }
  }
  return { memory, spaceRoots, poolNext: pool, diagnostics };
}

function poke(memory: GuestMemory, s: PokeStmt): void {
  memory.write(s.gpa, s.value, s.size);
}

function levelBytes(mode: PagingMode, level: number): number {
  return 2 ** mode.levelShift(level);
}

function mapRange(memory: GuestMemory, mode: PagingMode, root: number, s: MapStmt, takePage: () => number, written: { entries: number }): void {
  const step = levelBytes(mode, s.level);
  const end = s.vaEnd ?? s.va + 1;
  const count = Math.ceil((end - s.va) / step);
  if (count > MAX_SETUP_PAGES) throw new SetupError(`the range maps ${count} entries; at most ${MAX_SETUP_PAGES}`);
  if (written.entries + count > MAX_SETUP_PAGES) {
    throw new SetupError(`the setup's \`map\` lines write ${written.entries} entries before this one and it writes ${count}: at most ${MAX_SETUP_PAGES} in the whole setup`);
  }
  written.entries += count;
  // The frame grows by a page of the level's size each time.
  for (let i = 0; i < count; i++) {
    const va = s.va + i * step;
    const value = s.pte + BigInt(i) * BigInt(step);
    const entry = entryAddress(memory, mode, root, va, s.level, takePage);
    memory.write(entry, value & (mode.entrySize === 4 ? 0xffffffffn : 0xffffffffffffffffn), mode.entrySize);
  }
}

/**
 * The guest-physical address of the level-`level` entry for `va`, creating
 * each missing table on the way from the pool (non-leaf entries `P W U A`; a
 * PAE PDPTE gets `P` alone).
 */
function entryAddress(memory: GuestMemory, mode: PagingMode, root: number, va: number, level: number, takePage: () => number): number {
  let table = root;
  for (let l = mode.levels; l > level; l--) {
    const gpa = table + mode.index(va, l) * mode.entrySize;
    const lo = memory.read32(gpa);
    const hi = mode.entrySize === 8 ? memory.read32(gpa + 4) : 0;
    if (lo & PT_PRESENT) {
      if (lo & PT_PAGE_SIZE && mode.isLargeLevel(l)) {
        throw new SetupError(`the L${l} entry for ${hex(va)} maps a large page: there is no L${l - 1} table to map into`);
      }
      table = entryFrame(mode, lo, hi) * PAGE_SIZE;
      continue;
    }
    const page = takePage();
    const pdpte = mode.name === 'pae' && l === 3;
    const flags = pdpte ? PT_PRESENT : PT_PRESENT | PT_WRITABLE | PT_USER | PT_ACCESSED;
    memory.write(gpa, BigInt(page) | BigInt(flags), mode.entrySize);
    table = page;
  }
  return table + mode.index(va, level) * mode.entrySize;
}

/**
 * The entry that a `pte VA Ln` event stores into: the current tables as they
 * are in guest memory (mode pae: L3 is the PDPT in memory). Returns its GPA,
 * or a message naming the level that is missing.
 */
export function pteEntryAddress(memory: GuestMemory, mode: PagingMode, cr3: number, va: number, level: number): number | string {
  let table = Math.floor(cr3 / PAGE_SIZE) * PAGE_SIZE;
  for (let l = mode.levels; l > level; l--) {
    const gpa = table + mode.index(va, l) * mode.entrySize;
    const lo = mode.entrySize === 8 ? memory.read64(gpa) : memory.read32(gpa);
    const hi = mode.entrySize === 8 ? memory.hi : 0;
    if ((lo & PT_PRESENT) === 0) {
      return `there is no L${l - 1} table for ${hex(va)}: its L${l} entry at ${hex(gpa)} is not present`;
    }
    if (lo & PT_PAGE_SIZE && mode.isLargeLevel(l)) {
      return `there is no L${l - 1} table for ${hex(va)}: its L${l} entry at ${hex(gpa)} maps a large page`;
    }
    table = entryFrame(mode, lo, hi) * PAGE_SIZE;
  }
  return table + mode.index(va, level) * mode.entrySize;
}
