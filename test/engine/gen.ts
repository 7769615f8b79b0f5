// A random-trace generator for the engine's property tests. It writes traces
// in the trace language (so that a failing case prints as a trace one can
// replay with `mmutrace run`), in all three modes, with several spaces,
// vCPUs, 4 KiB and large mappings, accesses of every kind, pte stores
// (not-present, clear-A, other permissions, large entries, half writes,
// misaligned stores), stores to page tables through data mappings, cr3
// switches and small `shadow-pages` limits that force reclaim.
//
// A trace is built deterministically from a Plan, a few arrays of numbers,
// so that fast-check shrinks a failing trace by shrinking the numbers (each
// choice reads one number, and 0 is always the simplest option).
//
// `linux: true` builds traces the way Linux does (engine.md, "Known flaws"):
// non-leaf entries `P W U A` (or not present), no page table or large page
// reachable twice (no table shared between entries or spaces; every large
// page has frames of its own, is mapped by one entry value only and is never
// re-mapped once unmapped), no NX on non-leaf entries; data stores that land
// on a page table can only clear an entry (an even, entry-sized, aligned
// value), and a leaf that maps a page table is never U (user code does not
// write page tables). Other leaf entries are unconstrained.
//
// `bigPool: true` leaves `shadow-pages` at its default (1024): a pool large
// enough for every working set here, so that reclaim never runs out of room.

import fc from 'fast-check';
import type { Mode } from '../../src/trace';

export interface Plan {
  mode: Mode;
  setup: number[];
  events: number[][];
}

export interface GenOptions {
  linux: boolean;
  bigPool?: boolean;
  /**
   * designs.md's precondition for `access`: non-leaf entries with any
   * permissions (parents that withhold W or U, or have NX), but no guest table
   * or large page reachable through two parent entries, no large entry whose
   * own access changes (large entries are only cleared, never re-mapped), no
   * PML4 or PDPT entry whose access changes (they are only cleared or stored
   * back as first built), and data stores to page tables only clear entries.
   */
  noAlias?: boolean;
  /** cr3-heavy mode (issue 16): two or three spaces, and about 40% of the
   * events are `cr3` switches (accesses and stores in between), so that the
   * incremental audit's work at a `cr3` is exercised. */
  cr3Heavy?: boolean;
}

const POOL = 0x10000000;

class Reader {
  private i = 0;
  constructor(private readonly xs: readonly number[]) {}
  next(): number {
    return this.xs[this.i++] ?? 0;
  }
  /** 0..n-1; 0 when the plan is exhausted or shrunk. */
  pick(n: number): number {
    return n <= 1 ? (this.next(), 0) : this.next() % n;
  }
  /** True with probability pct%; false for 0. */
  chance(pct: number): boolean {
    return this.next() % 100 >= 100 - pct;
  }
  of<T>(xs: readonly T[]): T {
    return xs[this.pick(xs.length)]!;
  }
}

interface ModeInfo {
  levels: number;
  entry: number;
  nx: boolean;
  regions: { va: bigint; pages: number[]; giant?: boolean }[];
  /** Large-page bases at L2 (2 MiB or 4 MiB aligned). */
  large: number[];
}

const PAGES = [0, 0x1000, 0x2000, 0x1ff000];
const MODES: Record<Mode, ModeInfo> = {
  '64': {
    levels: 4,
    entry: 8,
    nx: true,
    regions: [
      { va: 0x400000n, pages: PAGES },
      { va: 0x600000n, pages: PAGES },
      { va: 0x40000000n, pages: PAGES },
      { va: 0x40200000n, pages: PAGES },
      { va: 0x8000000000n, pages: PAGES },
      { va: 0xc0000000n, pages: [0, 0x1000, 0x201000, 0x20000000], giant: true },
      { va: 0xffff800000400000n, pages: PAGES },
    ],
    large: [0x400000, 0x600000, 0x10000000, 0x800000, 0xa00000, 0xc00000],
  },
  pae: {
    levels: 3,
    entry: 8,
    nx: true,
    regions: [
      { va: 0x400000n, pages: PAGES },
      { va: 0x600000n, pages: PAGES },
      { va: 0x40000000n, pages: PAGES },
      { va: 0x40200000n, pages: PAGES },
      { va: 0xc0000000n, pages: PAGES },
      { va: 0xc0600000n, pages: PAGES },
    ],
    large: [0x400000, 0x600000, 0x10000000, 0x800000, 0xa00000, 0xc00000],
  },
  '32': {
    levels: 2,
    entry: 4,
    nx: false,
    regions: [
      { va: 0x400000n, pages: [0, 0x1000, 0x2000, 0x200000, 0x201000, 0x3ff000] },
      { va: 0x800000n, pages: [0, 0x1000, 0x2000, 0x200000, 0x201000, 0x3ff000] },
      { va: 0x40000000n, pages: [0, 0x1000, 0x200000] },
      { va: 0xc0000000n, pages: [0, 0x1000, 0x200000, 0x3ff000] },
    ],
    large: [0x400000, 0x10000000, 0x800000, 0xc00000],
  },
};

const GIANT = [0x40000000, 0x0];
const DATA_FRAMES = Array.from({ length: 12 }, (_, i) => 0x200 + i);

function index(mode: Mode, va: bigint, level: number): number {
  const v = va & 0xffffffffffffn;
  if (mode === '32') return Number((v >> BigInt(12 + 10 * (level - 1))) & 1023n);
  if (mode === 'pae' && level === 3) return Number((v >> 30n) & 3n);
  return Number((v >> BigInt(12 + 9 * (level - 1))) & 511n);
}

function hex(n: number | bigint): string {
  return '0x' + n.toString(16);
}

function vaText(va: bigint): string {
  return hex(va);
}

/** A known guest entry: where it is, what it is, and what the generator last stored there. */
interface Entry {
  gpa: number;
  level: number;
  space: number;
  /** A VA that the entry maps in its space. */
  va: bigint;
  kind: 'table' | 'leaf' | 'large' | 'pdpte';
  /** For a table entry: the table it was built to point to. */
  child?: number;
  /** The value the generator believes is there (A/D bits and data stores aside). */
  value: bigint;
  /** The value it was first built with. */
  first?: bigint;
}

interface Table {
  gpa: number;
  level: number;
  space: number;
}

const F = { P: 1n, W: 2n, U: 4n, A: 0x20n, D: 0x40n, PS: 0x80n, G: 0x100n, NX: 1n << 63n };

/** `0x200000 P W U A D` (a PTE value in the language's flag form). */
function pteText(v: bigint, mode: Mode): string {
  const frame = v & 0x000ffffffffff000n;
  const names: string[] = [];
  const bits: [keyof typeof F, bigint][] = [['P', F.P], ['W', F.W], ['U', F.U], ['A', F.A], ['D', F.D], ['PS', F.PS], ['G', F.G], ['NX', F.NX]];
  let rest = v & ~frame;
  for (const [n, b] of bits) {
    if (rest & b) {
      names.push(n);
      rest &= ~b;
    }
  }
  if (rest !== 0n || (mode === '32' && v >> 32n)) return hex(v);
  return [hex(frame), ...names].join(' ');
}

export class TraceBuilder {
  readonly lines: string[] = [];
  readonly info: ModeInfo;
  private readonly mem = new Map<number, bigint>();
  private pool = POOL;
  readonly entries: Entry[] = [];
  private readonly entryAt = new Map<number, Entry>();
  readonly tables: Table[] = [];
  readonly roots: number[] = [];
  private largeUsed = new Set<number>();
  /** VAs that some setup mapping made present (accesses prefer them). */
  readonly mapped: bigint[] = [];
  /** Frames of every page table (for leaves that map a table: the "direct map" of page tables). */
  readonly tableFrames: number[] = [];

  constructor(
    readonly mode: Mode,
    readonly linux: boolean,
    readonly noAlias = false,
  ) {
    this.info = MODES[mode];
  }

  /** Large pages of their own, only cleared; table entries never aliased; tables written only to clear entries. */
  private get unique(): boolean {
    return this.linux || this.noAlias;
  }

  private take(space: number, level: number): number {
    const g = this.pool;
    this.pool += 0x1000;
    this.tables.push({ gpa: g, level, space });
    this.tableFrames.push(g / 0x1000);
    return g;
  }

  private read(gpa: number): bigint {
    return this.mem.get(gpa) ?? 0n;
  }

  private frameOf(v: bigint): number {
    return Number(v & 0x000ffffffffff000n);
  }

  private record(e: Entry): void {
    const old = this.entryAt.get(e.gpa);
    if (old) {
      Object.assign(old, e, { first: old.first });
      return;
    }
    e.first = e.value;
    this.entries.push(e);
    this.entryAt.set(e.gpa, e);
  }

  /** The setup's `map`: builds missing tables (as setup.ts does) and stores `value` at `level`. */
  map(space: number, va: bigint, level: number, value: bigint): void {
    let table = this.roots[space]!;
    const L = this.info.levels;
    for (let l = L; l > level; l--) {
      const gpa = table + index(this.mode, va, l) * this.info.entry;
      const cur = this.read(gpa);
      if (cur & F.P) {
        // A large page on the way (an alias made it one, in this space or through a table
        // another space shares): setup.ts refuses a `map` under it, so none is written.
        if (cur & F.PS && (l === 2 || (l === 3 && this.mode === '64'))) return;
        table = this.frameOf(cur);
        continue;
      }
      const page = this.take(space, l - 1);
      const pdpte = this.mode === 'pae' && l === 3;
      const v = BigInt(page) | (pdpte ? F.P : F.P | F.W | F.U | F.A);
      this.mem.set(gpa, v);
      this.record({ gpa, level: l, space, va, kind: pdpte ? 'pdpte' : 'table', child: page, value: v });
      table = page;
    }
    const gpa = table + index(this.mode, va, level) * this.info.entry;
    this.mem.set(gpa, value);
    const kind = level === 1 ? 'leaf' : value & F.PS ? 'large' : this.mode === 'pae' && level === 3 ? 'pdpte' : 'table';
    const prev = this.entryAt.get(gpa);
    this.record({ gpa, level, space, va, kind, child: kind === 'table' || kind === 'pdpte' ? (prev?.child ?? this.frameOf(value)) : undefined, value });
    this.lines.push(`map ${vaText(va)}${level === 1 ? '' : ` L${level}`} = ${pteText(value, this.mode)}`);
    if (value & F.P && (level === 1 || value & F.PS)) {
      const reg = this.info.regions.find((g) => va >= g.va && va < g.va + 0x40000000n);
      if (level === 1) this.mapped.push(va);
      else for (const off of reg?.pages ?? [0]) if (BigInt(off) < 1n << BigInt(12 + (this.mode === '32' ? 10 : 9) * (level - 1))) this.mapped.push(va + BigInt(off));
    }
  }

  /** The table that an entry at `level` of `va` lies in, following the setup's memory (undefined if missing). */
  tableOf(space: number, va: bigint, level: number): number | undefined {
    let table = this.roots[space]!;
    for (let l = this.info.levels; l > level; l--) {
      const cur = this.read(table + index(this.mode, va, l) * this.info.entry);
      if (!(cur & F.P) || (cur & F.PS && l <= 3 && l >= 2)) return undefined;
      table = this.frameOf(cur);
    }
    return table;
  }

  /** True once a leaf with U maps a page table (user code may then write it: the self-map livelock). */
  userMapsTable = false;

  leafValue(r: Reader): bigint {
    const table = r.chance(15) && this.tableFrames.length;
    const frame = table ? r.of(this.tableFrames) : r.of(DATA_FRAMES);
    let v = BigInt(frame) << 12n;
    if (!r.chance(8)) v |= F.P;
    if (r.chance(65)) v |= F.W;
    if (r.chance(80) && !(table && this.linux)) {
      v |= F.U;
      if (table) this.userMapsTable = true;
    }
    if (!r.chance(15)) v |= F.A;
    if (r.chance(50)) v |= F.D;
    if (this.info.nx && r.chance(20)) v |= F.NX;
    if (r.chance(8)) v |= F.G;
    return v;
  }

  largeValue(r: Reader, level: number): bigint | undefined {
    let base: number;
    if (level === 3) {
      base = this.linux ? GIANT[0]! : r.of(GIANT);
    } else {
      base = r.of(this.info.large);
    }
    if (this.unique) {
      // A large page of its own: frames no other large entry ever had.
      if (this.largeUsed.has(base)) {
        const free = (level === 3 ? GIANT.slice(0, 1) : this.info.large).filter((b) => !this.largeUsed.has(b));
        if (!free.length) return undefined;
        base = free[0]!;
      }
      this.largeUsed.add(base);
    }
    let v = BigInt(base) | F.P | F.PS;
    if (r.chance(70)) v |= F.W;
    // A large page over the pool maps page tables: never U in a Linux-like trace.
    const size = level === 3 ? 0x40000000 : this.mode === '32' ? 0x400000 : 0x200000;
    const overPool = base <= POOL + 0x100000 && POOL < base + size;
    if (r.chance(70) && !(overPool && this.linux)) {
      v |= F.U;
      if (overPool) this.userMapsTable = true;
    }
    if (!r.chance(20)) v |= F.A;
    if (r.chance(50)) v |= F.D;
    if (this.info.nx && r.chance(20)) v |= F.NX;
    return v;
  }

  /** A non-leaf value pointing to `table` (general traces: any permissions). */
  tableValue(r: Reader, table: number, pdpte: boolean): bigint {
    if (pdpte) return BigInt(table) | F.P;
    if (this.linux) return BigInt(table) | F.P | F.W | F.U | F.A;
    let v = BigInt(table) | F.P;
    if (!r.chance(20)) v |= F.W;
    if (!r.chance(20)) v |= F.U;
    if (!r.chance(10)) v |= F.A;
    if (this.info.nx && r.chance(8)) v |= F.NX;
    return v;
  }

  /** Builds the setup part. */
  setup(r: Reader, nSpaces: number): void {
    const L = this.info.levels;
    for (let s = 0; s < nSpaces; s++) {
      this.lines.push(`space s${s}`);
      this.roots[s] = this.take(s, L);
      const large: { va: bigint; level: number }[] = [];
      for (const reg of this.info.regions) {
        const kind = r.pick(7);
        if (kind === 0) continue; // unmapped
        if (kind >= 5) {
          large.push({ va: reg.va, level: reg.giant && this.mode === '64' && r.chance(60) ? 3 : 2 });
          continue;
        }
        for (const off of reg.pages) {
          if (r.chance(30)) continue;
          this.map(s, reg.va + BigInt(off), 1, r.chance(20) ? 0n : this.leafValue(r));
        }
      }
      for (const { va, level } of large) {
        const v = this.largeValue(r, level);
        if (v !== undefined) this.map(s, va, level, v);
      }
      if (!this.linux && r.chance(40)) {
        // A directory entry above a mapped page that withholds W or U (known flaws 1 and 2).
        const leaf = this.entries.find((x) => x.space === s && x.kind === 'leaf' && x.value & F.P);
        const t2 = leaf && this.tableOf(s, leaf.va, 2);
        const de = t2 !== undefined ? this.entryAt.get(t2 + index(this.mode, leaf!.va, 2) * this.info.entry) : undefined;
        if (leaf && de && de.kind === 'table') {
          this.map(s, leaf.va, 2, BigInt(de.child!) | F.P | F.A | (r.chance(50) ? F.W : F.U));
          // keep the page among the hot addresses
          this.mapped.unshift(leaf.va);
        }
      }
      if (!this.linux && !this.noAlias && this.mode === '64' && r.chance(40)) {
        // A directory reachable through two PDPT entries of different access (2008's flaw 5:
        // upper pages keyed by the whole walk): 0x80000000 aliases 0x40000000's directory.
        const de = this.entries.find((x) => x.space === s && x.kind === 'table' && x.level === 3 && x.va === 0x40000000n);
        if (de) {
          this.map(s, 0x80000000n, 3, this.tableValue(r, de.child!, false));
          for (const off of PAGES) this.mapped.push(0x80000000n + BigInt(off), 0x80200000n + BigInt(off));
        }
      }
      if (!this.linux) {
        // Other permissions on non-leaf entries, and aliases: tables and large pages reachable twice.
        const n = r.pick(4);
        for (let k = 0; k < n; k++) {
          const cand = this.entries.filter((e) => e.space === s && e.kind === 'table');
          if (!cand.length) break;
          const e = r.of(cand);
          const alias = r.chance(50) && !this.noAlias ? this.tables.filter((t) => t.level === e.level - 1 && t.gpa !== e.child) : [];
          const target = alias.length ? r.of(alias).gpa : e.child!;
          this.map(s, e.va, e.level, this.tableValue(r, target, false));
        }
      }
    }
  }

  /** A `store` (or `pte`) to a known entry, as a line. */
  entryStore(r: Reader, cur: { space: number }): string | null {
    if (!this.entries.length) return null;
    // Half of the time, an entry of a hot address (likely in a shadowed table).
    const hot = new Set(this.mapped.slice(0, 5));
    const near = this.entries.filter((x) => x.kind === 'leaf' && hot.has(x.va));
    const isNear = near.length > 0 && r.chance(50);
    const e = isNear ? r.of(near) : r.of(this.entries);
    const es = this.info.entry;
    let value: bigint;
    if (isNear && r.chance(50)) {
      // the guest's fault handler filling a pte: present, accessed, dirty, writable, user
      value = (BigInt(r.of(DATA_FRAMES)) << 12n) | F.P | F.W | F.U | F.A | F.D;
    } else if (e.kind === 'leaf') {
      value = r.chance(20) ? 0n : r.chance(20) ? e.value & ~F.A : this.leafValue(r);
    } else if (e.kind === 'large') {
      if (this.unique) value = 0n;
      else value = r.chance(20) ? 0n : r.chance(20) ? e.value & ~F.D : (this.largeValue(r, e.level) ?? 0n);
    } else {
      const pdpte = e.kind === 'pdpte';
      if (this.linux) value = r.chance(35) ? 0n : this.tableValue(r, e.child!, pdpte);
      else if (this.noAlias) {
        // PML4 and PDPT entries keep their access (cleared, or stored back as first built); a
        // directory entry may take other permissions, never another table.
        if (pdpte || e.level >= 3) value = r.chance(35) ? 0n : e.first!;
        else value = r.chance(25) ? 0n : this.tableValue(r, e.child!, false);
      } else {
        const c = r.pick(6);
        if (c === 0) value = 0n;
        else if (c === 1 && !pdpte && (e.level === 2 || (e.level === 3 && this.mode === '64'))) value = this.largeValue(r, e.level) ?? 0n;
        else if (c === 2) {
          const alias = this.tables.filter((t) => t.level === e.level - 1);
          value = this.tableValue(r, alias.length ? r.of(alias).gpa : e.child!, pdpte);
        } else value = this.tableValue(r, e.child!, pdpte);
      }
    }
    const form = r.pick(10);
    const lastInPage = e.gpa % 0x1000 === 0x1000 - es;
    if (form === 9 && (!this.unique || e.kind === 'leaf')) {
      // misaligned: shorter than 4 bytes, or crossing an entry
      const c = r.pick(3);
      if (c === 0) {
        const size = r.of([1, 2]);
        const off = r.pick(es - size + 1);
        return `store ${hex(e.gpa + off)} = ${hex(value & ((1n << BigInt(8 * size)) - 1n))} size ${size}`;
      }
      if (!lastInPage) {
        const size = es === 8 ? 8 : 4;
        const off = es === 8 ? 4 : 2;
        return `store ${hex(e.gpa + off)} = ${hex(value & ((1n << BigInt(8 * size)) - 1n))} size ${size}`;
      }
      return `store ${hex(e.gpa)} = ${hex(value & 0xffffn)} size 2`;
    }
    e.value = value;
    if (form === 8 && es === 8 && (!this.unique || e.kind === 'leaf')) {
      // one half of a PAE/64-bit entry
      const hi = r.chance(50);
      if (r.chance(50) && e.space === cur.space) return `pte ${vaText(e.va)} L${e.level} = ${pteText(value, this.mode)} size 4 offset ${hi ? 4 : 0}`;
      return hi ? `store ${hex(e.gpa + 4)} = ${hex(value >> 32n)} size 4` : `store ${hex(e.gpa)} = ${hex(value & 0xffffffffn)} size 4`;
    }
    if (form >= 6 && e.space === cur.space) {
      return `pte ${vaText(e.va)}${e.level === 1 ? '' : ` L${e.level}`} = ${pteText(value, this.mode)}`;
    }
    return `store ${hex(e.gpa)} = ${hex(value)}`;
  }

  /** Every VA the trace may touch. */
  vas(): bigint[] {
    const out: bigint[] = [];
    for (const reg of this.info.regions) for (const off of reg.pages) out.push(reg.va + BigInt(off));
    return out;
  }
}

/** Builds the trace text of a plan. */
export function buildTrace(plan: Plan, opts: GenOptions): string {
  return buildTraceWithModel(plan, opts).text;
}

/** The trace text and the generator's model of the guest tables (as they are after the setup, for events: []). */
export function buildTraceWithModel(plan: Plan, opts: GenOptions): { text: string; model: TraceBuilder } {
  const r = new Reader(plan.setup);
  const b = new TraceBuilder(plan.mode, opts.linux, opts.noAlias);
  const head: string[] = [`mode ${plan.mode}`];
  const vcpus = 1 + r.pick(3);
  if (vcpus > 1) head.push(`vcpus ${vcpus}`);
  const limit = r.of([0, 0, 0, 8, 12, 20, 30]);
  if (limit && !opts.bigPool) head.push(`shadow-pages ${limit}`);
  if (r.chance(20)) head.push('cpl kernel');
  const nSpaces = opts.cr3Heavy ? 2 + r.pick(2) : 1 + r.pick(3);
  b.setup(r, nSpaces);
  const lines = [...head, ...b.lines];
  const vas = b.vas();
  const es = b.info.entry;
  const cur = { vcpu: 0, spaces: Array.from({ length: vcpus }, () => 0) };
  for (const ev of plan.events) {
    const e = new Reader(ev);
    const raw = e.pick(100);
    // cr3-heavy: the first 35 of the 58 access slots become `cr3` switches.
    const kind = opts.cr3Heavy && raw < 35 ? 81 : raw;
    const here = { space: cur.spaces[cur.vcpu]! };
    let line: string | null = null;
    if (kind < 58) {
      const op = e.of(['read', 'write', 'exec'] as const);
      // A few hot addresses (so that the shadow is reused), other mapped ones, any candidate.
      const where = e.pick(10);
      let va = !b.mapped.length || where >= 8 ? e.of(vas) : where < 5 ? b.mapped[e.pick(Math.min(5, b.mapped.length))]! : e.of(b.mapped);
      const cpl = e.of(['', ' user', ' kernel', ' kernel']);
      if (op === 'write') {
        let size: number;
        let off: number;
        let value: bigint | undefined;
        if (opts.linux || opts.noAlias) {
          size = es;
          off = e.of([0, es, 0x10, 0x800, 0x1000 - es]);
          value = e.chance(50) ? (BigInt(e.next()) * 2n) & ((1n << BigInt(8 * size)) - 1n) : undefined;
        } else {
          size = e.of([es, 1, 2, 4, 8]);
          off = e.of([0, 8, 0x10, 0x7f8, 0x1000 - size, 3]);
          if (off % size && off !== 3) off -= off % size;
          if (off + size > 0x1000) off = 0x1000 - size;
          value = e.chance(50) ? BigInt(e.next() * 7919 + 1) & ((1n << BigInt(8 * size)) - 1n) : undefined;
        }
        va += BigInt(off);
        line = `write ${vaText(va)}${value !== undefined ? ` = ${hex(value)}` : ''}${size !== es || e.chance(10) ? ` size ${size}` : ''}${cpl}`;
      } else {
        if (e.chance(20)) va += BigInt(e.of([1, 0x7ff, 0xfff]));
        line = `${op} ${vaText(va)}${cpl}`;
      }
    } else if (kind < 75) {
      line = b.entryStore(e, here);
    } else if (kind < 81) {
      // a burst of stores to one entry (the flood detector)
      if (b.entries.length) {
        const en = e.of(b.entries);
        if ((b.linux || b.noAlias) && en.kind === 'large') en.value = 0n;
        const n = 2 + e.pick(2);
        for (let k = 0; k < n; k++) lines.push(`store ${hex(en.gpa)} = ${hex(en.value)}`);
      }
    } else if (kind < 86) {
      const s = e.pick(nSpaces);
      cur.spaces[cur.vcpu] = s;
      line = e.chance(50) ? `cr3 s${s}` : `cr3 ${hex(b.roots[s]!)}`;
    } else if (kind < 90) {
      if (vcpus > 1) {
        cur.vcpu = e.pick(vcpus);
        line = `vcpu ${cur.vcpu}`;
      }
    } else if (kind < 93) {
      line = `cpl ${e.of(['user', 'kernel'])}`;
    } else if (kind < 96) {
      line = `invlpg ${vaText(e.of(vas))}`;
    } else {
      // a store to a data frame (never a page table)
      const size = e.of([es, 1, 4, 8]);
      const gpa = e.of(DATA_FRAMES) * 0x1000 + e.of([0, 8, 0x800]);
      line = `store ${hex(gpa)} = ${hex(BigInt(e.next()) & ((1n << BigInt(8 * size)) - 1n))} size ${size}`;
    }
    if (line !== null) lines.push(line);
  }
  return { text: lines.join('\n') + '\n', model: b };
}

/** fast-check arbitrary of plans (mode fixed or any of the three). */
export function planArb(opts: { mode?: Mode; maxEvents?: number } = {}): fc.Arbitrary<Plan> {
  return fc.record({
    mode: opts.mode ? fc.constant(opts.mode) : fc.constantFrom<Mode>('32', 'pae', '64'),
    setup: fc.array(fc.nat({ max: 9999 }), { minLength: 600, maxLength: 600 }),
    events: fc.array(fc.array(fc.nat({ max: 9999 }), { minLength: 8, maxLength: 8 }), {
      minLength: 15,
      maxLength: opts.maxEvents ?? 60,
      size: 'max',
    }),
  });
}
