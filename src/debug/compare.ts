// The exit counters that another policy would have at any row: a second
// Machine with that policy replays the trace once, lazily (when the counters
// are first asked for, then in idle time), recording 4 bits per row (which
// exit the row caused; a row with several exits, the retries of engine.md or
// the npt exits of designs.md, keeps its counts on the side) and the running
// totals every 4096 rows. Once it has passed a row, the counters there cost at
// most 4096 additions; when the replay is done the second Machine is dropped.

import { Machine, MemoryBudget, describeBudget, emptyExits, type ExitCounters, type ExitInfo } from '../engine';
import { Op, type Program, type Rows } from '../trace';

const BLOCK = 4096;
/** Rows of a block: the trackers keep their totals at the start of each. */
export const TRACKER_BLOCK = BLOCK;
/** The memory budget, measured every BLOCK rows of a replay (at most every 100 ms). */
const trackerBudget = new MemoryBudget();
const C_NONE = 0;
const C_FILL = 1;
const C_INJECT = 2;
const C_EMULATE = 3;
const C_CR3 = 4;
const C_NPT = 5;
/** Kinds of exit counted: fill, inject, emulate, cr3, npt (the codes 1..5). */
const KINDS = 5;
/** Set on a row's code when it caused more than one exit (its counts are in `multi`). */
const C_MULTI = 0x8;

function codeOf(e: ExitInfo): number {
  if (e.reason === 'cr3') return C_CR3;
  if (e.reason === 'npt') return C_NPT;
  return e.outcome === 'fill' ? C_FILL : e.outcome === 'inject' ? C_INJECT : C_EMULATE;
}

export class PolicyTracker {
  readonly policy: string;
  private machine: Machine | null;
  /** Each row's code in 4 bits (two rows a byte: 50 MB for 100 million rows), grown in chunks of BLOCK rows. */
  private codes: Uint8Array[] = [];
  /** Rows with several exits: their counts by kind (fill, inject, emulate, cr3, npt). */
  private readonly multi = new Map<number, Uint32Array>();
  /** Running totals by kind before row b*BLOCK, for each block b. */
  private sums = new Float64Array(KINDS * 16);
  private readonly totals = new Float64Array(KINDS);
  /** For each block, bit c set when a row of it caused exit code c (its most notable exit, for the MMU map's timeline). */
  private masks = new Uint8Array(16);
  /** Rows replayed so far. */
  pos = 0;
  done = false;
  /** Why the replay gave up before the end (the memory budget: its machine is dropped, the counters stay null past `pos`). */
  error: string | null = null;

  constructor(
    program: Program<Rows>,
    policy: string,
    private readonly moreRows: (needed: number) => boolean,
  ) {
    this.policy = policy;
    this.machine = new Machine(program, { policy, audit: false });
  }

  /** Replays rows until `target` (or the end) or until `deadline` (performance.now()). True when `target` is reached, or when nothing more will come (the end, or `error`). */
  advance(target: number, deadline: number): boolean {
    const m = this.machine;
    if (!m) return this.pos >= target || this.done || this.error !== null;
    let n = 0;
    while (this.pos < target) {
      const row = this.pos;
      if (row >= m.program.events.count && !this.moreRows(row + 1)) {
        this.finish();
        return true;
      }
      if ((row & (BLOCK - 1)) === 0) {
        // Past the session's memory budget (issue 17.3), this second machine gives up and is let go.
        const over = trackerBudget.check();
        if (over !== null) {
          this.error = `stopped at row ${row}: ${describeBudget(over)}`;
          this.machine = null;
          return true;
        }
        this.saveBlock(row / BLOCK);
      }
      while (row >= this.codes.length * BLOCK) this.codes.push(new Uint8Array(BLOCK / 2));
      m.step();
      const exits = m.mmu.eventExits;
      let code = C_NONE;
      if (exits.length !== 0 && m.program.events.opOf(row) <= Op.Invlpg) {
        code = codeOf(exits[exits.length - 1]!);
        if (exits.length === 1) this.totals[code - 1]!++;
        else {
          const c = new Uint32Array(KINDS);
          for (const e of exits) c[codeOf(e) - 1]!++;
          for (let k = 0; k < KINDS; k++) this.totals[k]! += c[k]!;
          this.multi.set(row, c);
          code |= C_MULTI;
        }
      }
      if (code !== C_NONE) this.codes[(row / BLOCK) | 0]![(row % BLOCK) >> 1]! |= code << ((row & 1) << 2);
      if (code !== C_NONE) this.masks[(row / BLOCK) | 0]! |= 1 << (code & ~C_MULTI);
      this.pos = row + 1;
      if ((++n & 255) === 0 && performance.now() > deadline) break;
    }
    if (this.pos >= m.program.events.count && !this.moreRows(this.pos + 1)) this.finish();
    return this.pos >= target || this.done;
  }

  private finish(): void {
    this.done = true;
    this.machine = null;
  }

  private saveBlock(b: number): void {
    if (KINDS * b + KINDS > this.sums.length) {
      const s = new Float64Array(Math.max(this.sums.length * 2, KINDS * b + KINDS));
      s.set(this.sums);
      this.sums = s;
    }
    this.sums.set(this.totals, KINDS * b);
    if (b >= this.masks.length) {
      const m = new Uint8Array(Math.max(this.masks.length * 2, b + 1));
      m.set(this.masks);
      this.masks = m;
    }
  }

  /** The exit codes (bit c: code c) that rows of blocks [from, to) caused, among the rows replayed. */
  blockCodes(from: number, to: number): number {
    let m = 0;
    for (let b = from; b < to && b < this.masks.length; b++) m |= this.masks[b]!;
    return m;
  }

  /** Row r's code (0 when it caused no exit). */
  private code(r: number): number {
    const c = this.codes[(r / BLOCK) | 0];
    return c === undefined ? 0 : (c[(r % BLOCK) >> 1]! >> ((r & 1) << 2)) & 15;
  }

  /** Adds row r's exits by kind into `into`. */
  private addRow(r: number, into: Float64Array): void {
    const code = this.code(r);
    if (code === C_NONE) return;
    if (code & C_MULTI) {
      const c = this.multi.get(r)!;
      for (let k = 0; k < KINDS; k++) into[k]! += c[k]!;
    } else into[code - 1]!++;
  }

  /** The exit counters before row `pos` runs, or null when the replay has not got there yet. */
  countsAt(pos: number): ExitCounters | null {
    if (pos > this.pos) return null;
    const b = Math.floor(pos / BLOCK);
    if (b * BLOCK > this.pos || KINDS * b + KINDS - 1 >= this.sums.length) return null;
    const t = this.sums.slice(KINDS * b, KINDS * b + KINDS);
    for (let r = b * BLOCK; r < pos; r++) this.addRow(r, t);
    const e = emptyExits();
    e.fill = t[0]!;
    e.inject = t[1]!;
    e.emulate = t[2]!;
    e.cr3 = t[3]!;
    e.npt = t[4]!;
    e.pf = e.fill + e.inject + e.emulate;
    e.total = e.pf + e.cr3 + e.npt;
    return e;
  }

  /**
   * What row `row` caused, by its last exit (0 none, 1 fill, 2 inject, 3 emulate, 4 cr3, 5 npt),
   * or -1 when not replayed yet (for the MMU map's timeline).
   */
  codeAt(row: number): number {
    return row < this.pos && row >= 0 ? this.code(row) & ~C_MULTI : -1;
  }

  /** How many exits row `row` caused (0 when not replayed yet). */
  exitsAt(row: number): number {
    if (row >= this.pos || row < 0) return 0;
    const code = this.code(row);
    if (code === C_NONE) return 0;
    if (!(code & C_MULTI)) return 1;
    return this.multi.get(row)!.reduce((a, b) => a + b, 0);
  }

  /** Row `row`'s exits by kind (fill, inject, emulate, cr3, npt), added into `into`. */
  exitsByKind(row: number, into: Float64Array): void {
    if (row < this.pos && row >= 0) this.addRow(row, into);
  }

  /** Bytes held (for the benchmark). */
  get bytes(): number {
    return this.codes.length * (BLOCK / 2) + this.sums.byteLength + this.masks.byteLength + 32 * this.multi.size;
  }
}
