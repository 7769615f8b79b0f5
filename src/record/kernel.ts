// The guest kernel model of `mmutrace record` and `mmutrace import lackey`:
// turns a stream of user-space accesses (one process after another) into a
// guest with page tables, the way Linux demand-pages. It decides every frame
// and every page-table store, and writes them as .mmutrace text through `out`.
// The README ("Recording real programs") and the header of every recorded
// file say the same rules in words; `modelText` is that header.

import type { TraceOutput } from './output';

export type RecordMode = '64' | 'pae' | '32';
export type AccessKind = 'read' | 'write' | 'exec';

/** What maps a user page of a space. */
const ABSENT = 0;
const EXEC_RO = 1; // first touched by an instruction fetch: read-only, executable
const ZERO_RO = 2; // first touched by a read: the shared zero page, read-only (NX)
const PRIVATE = 3; // first touched by a write, or copied on write: its own frame P W U A D

const PAGE = 4096;
const CACHE = 4096;

/** The guest-physical layout (the same in every mode). */
export const LAYOUT = {
  kernelText: 0x200000,
  kernelData: 0x201000,
  zeroPage: 0x202000,
  /** Page-table pages: the `pool`, a page at a time upward. */
  pool: 0x1000000,
  poolEnd: 0x40000000,
  /** Data frames: a bump allocator. */
  data: 0x40000000,
} as const;

interface ModeInfo {
  levels: number;
  /** Largest user address + 1. */
  userEnd: number;
  kernelText: number;
  kernelData: number;
  entryBytes: number;
  nx: boolean;
  /** Data frames end (exclusive). */
  dataEnd: number;
}

const MODES: Record<RecordMode, ModeInfo> = {
  '64': { levels: 4, userEnd: 2 ** 47, kernelText: 0xffffffff81000000, kernelData: 0xffffffff81001000, entryBytes: 8, nx: true, dataEnd: 2 ** 52 },
  pae: { levels: 3, userEnd: 0xc0000000, kernelText: 0xc1000000, kernelData: 0xc1001000, entryBytes: 8, nx: true, dataEnd: 2 ** 52 },
  '32': { levels: 2, userEnd: 0xc0000000, kernelText: 0xc1000000, kernelData: 0xc1001000, entryBytes: 4, nx: false, dataEnd: 2 ** 32 },
};

/** Bits of the entry index at `level` (1 = leaf) start here. */
function levelShift(mode: RecordMode, level: number): number {
  return mode === '32' ? 12 + 10 * (level - 1) : 12 + 9 * (level - 1);
}

const hex = (n: number): string => '0x' + n.toString(16);

export class ModelError extends Error {}

/** One process's address space. */
interface Space {
  /** Its name in the trace: `proc1` (declared in the setup) or the root's address. */
  ref: string;
  root: number;
  /** Tables present below the root: key `floor(va / 2^shift(level + 1)) * 8 + level`. */
  tables: Set<number>;
  /** User page number → ABSENT / EXEC_RO / ZERO_RO / PRIVATE. */
  pages: Map<number, number>;
}

export interface ModelCounts {
  spaces: number;
  tables: number;
  frames: number;
  notPresentFaults: number;
  protectionFaults: number;
  ticks: number;
}

/** The header comments that describe the model (each line starts with `# `). */
export function modelText(mode: RecordMode, quantum: number | undefined): string[] {
  const m = MODES[mode];
  return [
    'The guest kernel model (mmutrace record; README "Recording real programs"):',
    `- mode ${mode}; each process is its own address space; the kernel half (text at ${hex(m.kernelText)},`,
    `  data at ${hex(m.kernelData)}) is mapped at setup and shared by every space through one top-level entry.`,
    '- Page-table pages come from the pool (0x1000000 upward), data frames from a bump allocator (0x40000000 upward);',
    '  the shared zero page is 0x202000. Non-leaf entries are P W U A' + (mode === 'pae' ? ' (a PDPTE P alone; all four page directories are allocated with the space, as Linux does under PAE).' : '.'),
    '- First touch of a user page: the access exits and the guest gets a not-present #PF; its kernel allocates the missing',
    '  tables top-down (pte VA Ln = TABLE P W U A, once each) and writes the leaf, then the access retries. The leaf by',
    `  the first touch: exec -> read-only executable frame (P U A); read -> the zero page read-only (P U A${m.nx ? ' NX' : ''});`,
    '  write (Lackey S or M) -> a fresh frame (P W U A D).',
    '- A write to a page mapped read-only (zero page or exec): protection #PF, then copy-on-write: a fresh frame and a',
    `  rewrite of the present pte (P W U A D), and the retry.${m.nx ? ' An exec of a zero-page mapping (NX): protection #PF, then a fresh read-only executable frame.' : ''}`,
    '- Consecutive accesses of the same kind to the same page are one event (exact: nothing can change between them).',
    '- Processes (Valgrind --trace-children) get spaces in start order; a cr3 switches whenever the log moves to another process.',
    quantum
      ? `- Timer ticks (--quantum ${quantum}): once ${quantum} access events (retries included) have been written since the last tick, after the access that reached it: cr3 kernel, a kernel-mode exec of the kernel's text, cr3 back.`
      : '- No timer ticks (no --quantum).',
    '- Left out: file-backed and shared pages (a read maps the zero page), munmap, fork\'s copy-on-write sharing, page reclaim,',
    '  large pages, the kernel\'s own accesses beyond the ticks, TLB flushes (invlpg).',
  ];
}

/**
 * The guest kernel. Call `setup()` once, then `access()` per (compressed)
 * access, `startProcess()` / `switchTo()` as the log moves between processes.
 */
export class KernelModel {
  readonly info: ModeInfo;
  private nextTable: number = LAYOUT.pool;
  private nextFrame: number = LAYOUT.data;
  /** The processes' spaces, in start order. */
  private readonly procs: Space[] = [];
  private kernelSpace!: Space;
  /** The space of the vCPU's CR3. */
  private active: Space | null = null;
  /** The space the accesses belong to. */
  private current: Space | null = null;
  private sinceTick = 0;
  /** A direct-mapped cache of the current space's page states in front of its Map (a Map lookup costs about as much as reading a line). */
  private readonly cacheKey = new Float64Array(CACHE).fill(-1);
  private readonly cacheState = new Uint8Array(CACHE);
  readonly counts: ModelCounts = { spaces: 0, tables: 0, frames: 0, notPresentFaults: 0, protectionFaults: 0, ticks: 0 };

  /** Access events written (first accesses, retries, tick execs). */
  accessEvents = 0;

  constructor(
    readonly mode: RecordMode,
    private readonly output: TraceOutput,
    private readonly quantum?: number,
  ) {
    this.info = MODES[mode];
  }

  private allocTable(): number {
    const t = this.nextTable;
    if (t >= LAYOUT.poolEnd) throw new ModelError(`the guest ran out of page-table pages (${(LAYOUT.poolEnd - LAYOUT.pool) / PAGE} of them)`);
    this.nextTable += PAGE;
    this.counts.tables++;
    return t;
  }

  private allocFrame(): number {
    const f = this.nextFrame;
    if (f + PAGE > this.info.dataEnd) throw new ModelError(`the guest ran out of data frames (mode ${this.mode} ends at ${hex(this.info.dataEnd)})`);
    this.nextFrame += PAGE;
    this.counts.frames++;
    return f;
  }

  private tableKey(va: number, level: number): number {
    // The table at `level` that maps va: identified by va's bits above that table's reach.
    return Math.floor(va / 2 ** levelShift(this.mode, level + 1)) * 8 + level;
  }

  /** Writes the setup: mode, pool, the first process's space with the kernel half, the kernel space. */
  setup(): void {
    const m = this.info;
    const lines: string[] = [`mode ${this.mode}`, `pool ${hex(LAYOUT.pool)}`];
    const first = this.newSpaceRecord('proc1');
    lines.push('space proc1');
    if (this.mode === 'pae') {
      // All four page directories with the space (Linux's PAE pgd_alloc): the PDPTEs are read at each CR3 load.
      for (let q = 0; q < 3; q++) {
        lines.push(`map ${hex(q * 0x40000000)} L2 = 0`);
        first.tables.add(this.tableKey(q * 0x40000000, 2));
        this.allocTable();
      }
    }
    lines.push(`map ${hex(m.kernelText)} = ${hex(LAYOUT.kernelText)} P A`);
    // map built the kernel tables below the top level (pae: PD, PT; 64: PDPT, PD, PT; 32: PT).
    this.kernelTop = this.nextTable;
    for (let l = m.levels - 1; l >= 1; l--) this.allocTable();
    lines.push(`map ${hex(m.kernelData)} = ${hex(LAYOUT.kernelData)} P W A D${m.nx ? ' NX' : ''}`);
    this.kernelSpace = this.newSpaceRecord('kernel');
    lines.push('space kernel', `map ${hex(m.kernelText)} L${m.levels} = ${hex(this.kernelTop)} ${this.mode === 'pae' ? 'P' : 'P W U A'}`);
    this.active = first;
    this.output.text(lines.join('\n') + '\n');
  }

  /** The kernel's table right below the top level, shared by every space. */
  private kernelTop = 0;

  private newSpaceRecord(ref: string): Space {
    const root = this.allocTable();
    const s: Space = { ref, root, tables: new Set(), pages: new Map() };
    if (ref !== 'kernel') this.procs.push(s);
    this.counts.spaces++;
    return s;
  }

  /** The first process uses the space of the setup. Returns the process's space number (0-based). */
  startProcess(comment: string): number {
    if (this.current === null) {
      this.setCurrent(this.procs[0]!);
      this.output.text(`# process 1: ${comment}\n`);
      return 0;
    }
    // A new mm: a root, the kernel half's top-level entry copied in (and under PAE the user PDs), then CR3.
    const s = this.newSpaceRecord('');
    s.ref = hex(s.root);
    const lines = [`# process ${this.procs.length}: ${comment} (space ${s.ref})`];
    const e = this.info.entryBytes;
    if (this.mode === 'pae') {
      for (let q = 0; q < 3; q++) {
        const pd = this.allocTable();
        s.tables.add(this.tableKey(q * 0x40000000, 2));
        lines.push(`store ${hex(s.root + q * e)} = ${hex(pd + 1)}`);
      }
    }
    const top = Math.floor(this.info.kernelText / 2 ** levelShift(this.mode, this.info.levels)) % (this.mode === '32' ? 1024 : 512);
    const flags = this.mode === 'pae' ? 0x1 : 0x27;
    lines.push(`store ${hex(s.root + top * e)} = ${hex(this.kernelTop + flags)}`);
    this.output.text(lines.join('\n') + '\n');
    this.setCurrent(s);
    return this.procs.length - 1;
  }

  /** The log moves back to process `index` (from startProcess). */
  switchTo(index: number): void {
    if (this.procs[index] !== this.current) this.setCurrent(this.procs[index]!);
  }

  private setCurrent(s: Space): void {
    this.current = s;
    this.cacheKey.fill(-1);
  }

  /** A process ended: its pages are forgotten (its space is never used again). */
  endProcess(index: number): void {
    const s = this.procs[index]!;
    s.pages = new Map();
    s.tables = new Set();
    if (s === this.current) this.cacheKey.fill(-1);
  }

  private loadCr3(s: Space): void {
    if (this.active !== s) {
      this.output.text(`cr3 ${s.ref}\n`);
      this.active = s;
    }
  }

  /**
   * One access (already compressed) at `va` of `kind`. Returns false when it
   * only completed (no fault), true when the kernel handled a fault.
   */
  access(kind: AccessKind, va: number): void {
    let s = this.current;
    if (s === null) {
      this.startProcess('(no Valgrind preamble before the first access)');
      s = this.current!;
    }
    if (this.active !== s) this.loadCr3(s);
    const page = Math.floor(va / PAGE);
    const slot = page & (CACHE - 1);
    let state: number;
    if (this.cacheKey[slot] === page) state = this.cacheState[slot]!;
    else {
      state = s.pages.get(page) ?? ABSENT;
      this.cacheKey[slot] = page;
      this.cacheState[slot] = state;
    }
    const before = this.accessEvents;
    this.output.access(kind, va);
    this.accessEvents++;
    if (state === ABSENT) {
      this.counts.notPresentFaults++;
      // The access above exits and injects a not-present #PF; the guest kernel's handler:
      const lines: string[] = [];
      for (let level = this.info.levels; level >= 2; level--) {
        const key = this.tableKey(va, level - 1);
        if (this.mode === 'pae' && level === 3) continue; // PDs come with the space
        if (s.tables.has(key)) continue;
        const t = this.allocTable();
        s.tables.add(key);
        lines.push(`pte ${hex(va)} L${level} = ${hex(t)} P W U A`);
      }
      let leaf: string;
      let next: number;
      if (kind === 'write') {
        leaf = `${hex(this.allocFrame())} P W U A D`;
        next = PRIVATE;
      } else if (kind === 'exec') {
        leaf = `${hex(this.allocFrame())} P U A`;
        next = EXEC_RO;
      } else {
        leaf = `${hex(LAYOUT.zeroPage)} P U A${this.info.nx ? ' NX' : ''}`;
        next = ZERO_RO;
      }
      lines.push(`pte ${hex(va)} = ${leaf}`);
      this.output.text(lines.join('\n') + '\n');
      this.output.access(kind, va); // the retry
      this.accessEvents++;
      s.pages.set(page, next);
      this.cacheState[slot] = next;
    } else if ((kind === 'write' && state !== PRIVATE) || (kind === 'exec' && state === ZERO_RO && this.info.nx)) {
      this.counts.protectionFaults++;
      // A protection #PF: copy-on-write (a write), or code where the zero page was (an exec).
      const leaf = kind === 'write' ? `${hex(this.allocFrame())} P W U A D` : `${hex(this.allocFrame())} P U A`;
      this.output.text(`pte ${hex(va)} = ${leaf}\n`);
      this.output.access(kind, va);
      this.accessEvents++;
      const next = kind === 'write' ? PRIVATE : EXEC_RO;
      s.pages.set(page, next);
      this.cacheState[slot] = next;
    }
    this.sinceTick += this.accessEvents - before;
    if (this.quantum !== undefined && this.sinceTick >= this.quantum) this.tick();
  }

  /** A timer tick: a kernel thread runs (its space, its text), then the process again. */
  private tick(): void {
    this.sinceTick = 0;
    this.counts.ticks++;
    const back = this.active!;
    this.loadCr3(this.kernelSpace);
    this.output.text(`exec ${hex(this.info.kernelText)} kernel\n`); // the timer interrupt's handler, in kernel mode
    this.accessEvents++;
    this.loadCr3(back);
  }

  /** Whether `va` is a user address of this mode. */
  isUser(va: number): boolean {
    return va < this.info.userEnd;
  }
}
