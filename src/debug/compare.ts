// The exit counters that another pte-write policy would have at any row: a
// second Machine with that policy replays the trace once, lazily (when the
// counters are first asked for, then in idle time), recording one byte per
// row (which exit the row caused) and the running totals every 4096 rows.
// Once it has passed a row, the counters there cost at most 4096 additions;
// when the replay is done the second Machine is dropped.

import { Machine, emptyExits, type ExitCounters } from '../engine';
import { Op, type Program } from '../trace';

const BLOCK = 4096;
const C_NONE = 0;
const C_FILL = 1;
const C_INJECT = 2;
const C_EMULATE = 3;
const C_CR3 = 4;

export class PolicyTracker {
  readonly policy: string;
  private machine: Machine | null;
  private codes = new Uint8Array(BLOCK);
  /** Running totals (fill, inject, emulate, cr3) before row b*BLOCK, for each block b. */
  private sums = new Float64Array(4 * 16);
  private fill = 0;
  private inject = 0;
  private emulate = 0;
  private cr3 = 0;
  /** Rows replayed so far. */
  pos = 0;
  done = false;
  error: string | null = null;

  constructor(
    program: Program,
    policy: string,
    private readonly moreRows: (needed: number) => boolean,
  ) {
    this.policy = policy;
    this.machine = new Machine(program, { policy, audit: false });
  }

  /** Replays rows until `target` (or the end) or until `deadline` (performance.now()). True when `target` is reached. */
  advance(target: number, deadline: number): boolean {
    const m = this.machine;
    if (!m) return this.pos >= target || this.done;
    let n = 0;
    while (this.pos < target) {
      const row = this.pos;
      if (row >= m.program.events.count && !this.moreRows(row + 1)) {
        this.finish();
        return true;
      }
      if ((row & (BLOCK - 1)) === 0) this.saveBlock(row / BLOCK);
      if (row >= this.codes.length) this.grow(row + 1);
      m.step();
      const e = m.mmu.exit;
      let code = C_NONE;
      if (e !== null && m.program.events.op[row]! <= Op.Invlpg) {
        if (e.reason === 'cr3') {
          code = C_CR3;
          this.cr3++;
        } else if (e.outcome === 'fill') {
          code = C_FILL;
          this.fill++;
        } else if (e.outcome === 'inject') {
          code = C_INJECT;
          this.inject++;
        } else {
          code = C_EMULATE;
          this.emulate++;
        }
      }
      this.codes[row] = code;
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
    if (4 * b + 4 > this.sums.length) {
      const s = new Float64Array(Math.max(this.sums.length * 2, 4 * b + 4));
      s.set(this.sums);
      this.sums = s;
    }
    this.sums[4 * b] = this.fill;
    this.sums[4 * b + 1] = this.inject;
    this.sums[4 * b + 2] = this.emulate;
    this.sums[4 * b + 3] = this.cr3;
  }

  private grow(n: number): void {
    const c = new Uint8Array(Math.max(n, this.codes.length * 2));
    c.set(this.codes);
    this.codes = c;
  }

  /** The exit counters before row `pos` runs, or null when the replay has not got there yet. */
  countsAt(pos: number): ExitCounters | null {
    if (pos > this.pos) return null;
    const b = Math.floor(pos / BLOCK);
    if (b * BLOCK > this.pos || 4 * b + 3 >= this.sums.length) return null;
    let fill = this.sums[4 * b]!;
    let inject = this.sums[4 * b + 1]!;
    let emulate = this.sums[4 * b + 2]!;
    let cr3 = this.sums[4 * b + 3]!;
    for (let r = b * BLOCK; r < pos; r++) {
      switch (this.codes[r]) {
        case C_FILL:
          fill++;
          break;
        case C_INJECT:
          inject++;
          break;
        case C_EMULATE:
          emulate++;
          break;
        case C_CR3:
          cr3++;
          break;
      }
    }
    const e = emptyExits();
    e.fill = fill;
    e.inject = inject;
    e.emulate = emulate;
    e.cr3 = cr3;
    e.pf = fill + inject + emulate;
    e.total = e.pf + cr3;
    return e;
  }

  /** What row `row` caused (0 none, 1 fill, 2 inject, 3 emulate, 4 cr3), or -1 when not replayed yet (for the MMU map's timeline). */
  codeAt(row: number): number {
    return row < this.pos && row >= 0 ? this.codes[row]! : -1;
  }

  /** Bytes held (for the benchmark). */
  get bytes(): number {
    return this.codes.byteLength + this.sums.byteLength;
  }
}
