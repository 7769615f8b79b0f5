// One sentence for each word of the language (language.md), for hovers and
// completion items.

import type { Mode } from '../../trace';

export interface WordDoc {
  /** How it is written: `map VA [Ln] = PTE`. */
  signature: string;
  doc: string;
}

export const KEYWORD_DOCS: Readonly<Record<string, WordDoc>> = {
  mode: {
    signature: 'mode 32 | pae | 64',
    doc: 'The guest paging mode: 2 levels of 4-byte entries (`32`, 4 MiB large pages), 3 levels of 8-byte entries (`pae`, 2 MiB pages) or 4 levels (`64`, 48-bit addresses, 2 MiB and 1 GiB pages); default `64`, at most once, before any `space`.',
  },
  policy: {
    signature: 'policy NAME',
    doc: "The engine's default policy: `zap` and `update` (2007, engine.md), `access` (2008) and `tdp` (two-dimensional paging, designs.md); a launch configuration or `--policy` overrides it. Default `update`.",
  },
  vcpus: { signature: 'vcpus N', doc: 'The number of virtual CPUs, 1 to 64 (default 1).' },
  cpl: {
    signature: 'cpl user | kernel',
    doc: 'The privilege of later accesses that do not say: for every vCPU in the setup, for the current vCPU after it (not an event: no exit, no step). Default `user`.',
  },
  pool: {
    signature: 'pool GPA',
    doc: 'The guest-physical address from which `space` and `map` take page-table pages, a page at a time, upward. Default `0x10000000`.',
  },
  'shadow-pages': {
    signature: 'shadow-pages N',
    doc: 'The most shadow pages the engine keeps before it reclaims (KVM 2007 kept 1024 for a VM). Default 1024.',
  },
  space: {
    signature: 'space NAME',
    doc: "A new guest address space with a root table from the pool; later `map` lines build it. The first space is every vCPU's initial CR3.",
  },
  map: {
    signature: 'map VA[..VA_END] [Ln] = PTE',
    doc: 'Builds the current space\'s page tables down to the entry that maps VA (missing tables come from the pool) and stores PTE there, without any VM exit; a range maps every page up to VA_END.',
  },
  poke: {
    signature: 'poke GPA = VALUE [size N]',
    doc: "Stores VALUE (N bytes, default the mode's entry size) into guest-physical memory during the setup, without any VM exit.",
  },
  read: { signature: 'read VA [user|kernel] [@label]', doc: 'The guest loads one byte from VA.' },
  write: {
    signature: 'write VA [= VALUE] [size N] [user|kernel] [@label]',
    doc: "The guest stores N bytes (default the mode's entry size) to VA; without a value the memory keeps its content and only the access matters.",
  },
  exec: { signature: 'exec VA [user|kernel] [@label]', doc: 'The guest fetches an instruction at VA.' },
  pte: {
    signature: 'pte VA [Ln] = PTE [size N] [offset K] [@label]',
    doc: "The guest kernel stores into the level-n entry that maps VA in the current CR3's tables, through its direct map: it exits only when the engine write-protects that page table.",
  },
  store: {
    signature: 'store GPA = VALUE [size N] [@label]',
    doc: 'The guest stores VALUE at a guest-physical address through the direct map: the general form of `pte`.',
  },
  cr3: { signature: 'cr3 SPACE | GPA [@label]', doc: 'The guest loads CR3: a context switch to a space, or to a page-table root by address (one VM exit).' },
  invlpg: { signature: 'invlpg VA [@label]', doc: 'The guest invalidates the TLB entry of one page.' },
  vcpu: { signature: 'vcpu N', doc: 'The following events run on vCPU N (0-based); not an event itself: no exit, no step.' },
  expect: {
    signature: 'expect EXPR',
    doc: 'Checks EXPR after the previous event; a failure stops the debugger and makes `mmutrace check` exit non-zero. It never changes machine state.',
  },
};

export const TAIL_DOCS: Readonly<Record<string, WordDoc>> = {
  user: { signature: 'user', doc: 'This access runs at user privilege (CPL 3): U must be set at every level of the walk.' },
  kernel: { signature: 'kernel', doc: 'This access runs at kernel privilege (CPL 0): U is not needed.' },
  size: { signature: 'size N', doc: 'How many bytes the store writes: 1, 2, 4 or 8 (default the entry size of the mode). They must stay in one 4 KiB page.' },
  offset: {
    signature: 'offset K',
    doc: 'The byte offset within the entry where a `pte` store starts: `size 4 offset 4` writes the high half of an 8-byte entry, as a PAE guest does in two stores.',
  },
};

export const FLAG_DOCS: Readonly<Record<string, WordDoc & { bit: number }>> = {
  P: { bit: 0, signature: 'P (bit 0)', doc: 'Present: without it the entry maps nothing and every access through it faults.' },
  W: { bit: 1, signature: 'W (bit 1)', doc: 'Writable: without it a write faults (a kernel write too when CR0.WP is set, as KVM sets it).' },
  U: { bit: 2, signature: 'U (bit 2)', doc: 'User: without it a user-mode access faults.' },
  PWT: { bit: 3, signature: 'PWT (bit 3)', doc: 'Page write-through: a caching attribute, no effect on the shadow MMU.' },
  PCD: { bit: 4, signature: 'PCD (bit 4)', doc: 'Page cache disable: a caching attribute, no effect on the shadow MMU.' },
  A: { bit: 5, signature: 'A (bit 5)', doc: 'Accessed: the CPU (here, KVM for the guest) sets it on the first access through the entry.' },
  D: { bit: 6, signature: 'D (bit 6)', doc: 'Dirty: set on the first write to the page; KVM maps a clean page read-only in the shadow to catch that write.' },
  PS: { bit: 7, signature: 'PS (bit 7)', doc: 'Page size: at L2 (and L3 in mode 64) the entry maps a large page instead of pointing to a table.' },
  G: { bit: 8, signature: 'G (bit 8)', doc: 'Global: the TLB keeps the translation across CR3 loads (with CR4.PGE).' },
  NX: { bit: 63, signature: 'NX (bit 63)', doc: 'No execute: an instruction fetch through the entry faults. Not in mode 32.' },
};

export const MODE_DOCS: Readonly<Record<Mode, string>> = {
  '32': 'Mode 32: 2 levels (PD, PT) of 4-byte entries, 32-bit addresses, 4 MiB large pages (PSE). No NX.',
  pae: 'Mode pae: 3 levels (PDPT of 4 entries loaded at CR3, PD, PT) of 8-byte entries, 32-bit addresses, 2 MiB large pages, NX.',
  '64': 'Mode 64: 4 levels (PML4, PDPT, PD, PT) of 8-byte entries, 48-bit canonical addresses, 2 MiB and 1 GiB large pages, NX.',
};

export const POLICY_DOCS: Readonly<Record<string, string>> = {
  zap: 'KVM before the seed: a trapped guest pte write zaps the shadow pte; the next access refaults (3 exits for a demand fault).',
  update: 'The seed ("KVM: Update shadow pte on write to guest pte", June 2007): a trapped guest pte write updates the shadow pte from the new guest pte (2 exits for a demand fault).',
  access: "KVM 2008: the seed's update plus the guest's access bits (W, U, X) in the shadow page's role; flaws 1 to 3 gone, flaw 4 narrowed, flaw 5 new (2 exits for a demand fault).",
  tdp: "Two-dimensional paging (EPT/NPT): a nested page table maps guest-physical frames; the guest's own faults and pte stores cost no exit, the first touch of each frame one (1 exit for a demand fault's retry).",
};

/** What a level means in a mode: `L2: the PDE (page directory entry)...`. */
export function levelDoc(level: number, mode: Mode): string {
  const levels = mode === '32' ? 2 : mode === 'pae' ? 3 : 4;
  const names: Record<Mode, string[]> = {
    '32': ['PTE (page table entry): maps a 4 KiB page', 'PDE (page directory entry): points to a page table, or maps a 4 MiB page with PS'],
    pae: [
      'PTE (page table entry): maps a 4 KiB page',
      'PDE (page directory entry): points to a page table, or maps a 2 MiB page with PS',
      'PDPTE (page directory pointer table entry) in memory, one of 4; the CPU loads them at each CR3 load',
    ],
    '64': [
      'PTE (page table entry): maps a 4 KiB page',
      'PDE (page directory entry): points to a page table, or maps a 2 MiB page with PS',
      'PDPTE (page directory pointer table entry): points to a page directory, or maps a 1 GiB page with PS',
      'PML4E (page map level 4 entry): points to a page directory pointer table',
    ],
  };
  if (level > levels) return `L${level} does not exist in mode ${mode} (levels L1..L${levels}).`;
  return `L${level} in mode ${mode}: the ${names[mode][level - 1]}.`;
}
