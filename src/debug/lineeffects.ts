// What each line did, for the editor's inline values: recorded as the
// debugger's timeline runs each row for the first time (replays after a step
// back run the same rows to the same effects: the engine is deterministic),
// and answered by the custom DAP request `lineEffects`:
//
//   request  { command: 'lineEffects', arguments: { startLine?, endLine? } }
//   response { body: { lines: LineEffect[], truncated?: true } }
//
// with one entry for each event and `expect` row on lines startLine..endLine
// (1-based, inclusive; default the whole trace) that the session has run
// before its current position, in row order, at most MAX_LINES of them. The
// adapter says `supportsLineEffectsRequest: true` in its capabilities.
//
// One byte per row holds the common cases (no exit or one exit of one
// outcome, with up to 3 shadow ptes zapped and 3 updated; an expect that
// held); faults, failed expects and anything rarer go to side tables, so a
// 1M-event trace costs about 1 MB here instead of a second replay of the
// whole trace in the extension.

import type { Machine } from '../engine';
import { Op, firstIndex, type Program, type Rows } from '../trace';

export const LINE_EFFECTS_REQUEST = 'lineEffects';
export const LINE_EFFECTS_CAPABILITY = 'supportsLineEffectsRequest';
/** At most this many lines in one answer (an editor shows far fewer). */
export const MAX_LINES = 5000;

export interface LineEffect {
  /** 1-based line of the trace. */
  line: number;
  /** VM exits the event caused. */
  exits: number;
  /** The error code of the #PF injected into the guest, or -1. */
  fault: number;
  /** Exits by outcome, where known. */
  fill?: number;
  inject?: number;
  emulate?: number;
  cr3?: number;
  /** Shadow PTEs zapped and updated. */
  zapped?: number;
  updated?: number;
  /** An `expect` line: whether it held, and the failure's message. */
  expect?: { passed: boolean; message: string };
  /** A replay error on this line (a `pte` into a missing table). */
  error?: string;
}

const OUTCOMES = ['fill', 'inject', 'emulate', 'cr3'] as const;

// Row codes: the kind in the low 3 bits; for an event of kind NO_EXIT or
// ONE_EXIT, shadow ptes zapped (0..3) in bits 3-4 and updated (0..3) in bits 5-6.
const KIND = 7;
const NONE = 0; // not an event or expect row, or not run yet
const NO_EXIT = 1; // an event without exit
const ONE_EXIT = 2; // 2..5: one exit of OUTCOMES[code - 2]
const HELD = 6; // an expect that held
const OTHER = 7; // in `others`
const ZAP_SHIFT = 3;
const CODE_CHUNK = 1 << 16;
const UPD_SHIFT = 5;

export class EffectLog {
  /** The row codes in chunks of CODE_CHUNK (no copy of all of them as they grow: 100 MB at 100 million rows). */
  private codes: Uint8Array[] = [];
  /** Rows [0, upTo) are recorded. */
  upTo = 0;
  /** Faults of one-byte rows, by row (rows ascending). */
  private faultRows = new Int32Array(64);
  private faultCodes = new Uint8Array(64);
  private faults = 0;
  private readonly others = new Map<number, LineEffect>();
  private b = [0, 0, 0, 0];

  constructor(private readonly program: Program<Rows>) {}

  /** True when the row about to run is the next one to record. */
  wants(row: number): boolean {
    return row === this.upTo;
  }

  /** Before the machine runs the row: the exit counters. */
  begin(m: Machine): void {
    const e = m.mmu.exits;
    const b = this.b;
    b[0] = e.fill;
    b[1] = e.inject;
    b[2] = e.emulate;
    b[3] = e.cr3;
  }

  /** After the machine ran `row` (which `wants` accepted). */
  end(row: number, m: Machine): void {
    while (row >= this.codes.length * CODE_CHUNK) this.codes.push(new Uint8Array(CODE_CHUNK));
    this.upTo = row + 1;
    const t = this.program.events;
    const op = t.opOf(row);
    const line = t.lineOf(row);
    if (op === Op.Expect) {
      const x = m.expect;
      if (!x) return;
      if (x.passed) this.setCode(row, HELD);
      else this.other(row, { line, exits: 0, fault: -1, expect: { passed: false, message: x.message } });
      return;
    }
    if (!m.isEventRow(row)) return;
    const e = m.mmu.exits;
    const b = this.b;
    const last = m.last;
    // The common cases without allocating (this runs for every row the first time).
    if (m.error === null && last.zapped <= 3 && last.updated <= 3 && last.fault <= 0xff) {
      const counts = (last.zapped << ZAP_SHIFT) | (last.updated << UPD_SHIFT);
      const f = e.fill - b[0]!;
      const i = e.inject - b[1]!;
      const em = e.emulate - b[2]!;
      const c = e.cr3 - b[3]!;
      const sum = f + i + em + c;
      if (last.exits === 0 && sum === 0) {
        this.setCode(row, NO_EXIT | counts);
        this.fault(row, last.fault);
        return;
      }
      if (last.exits === 1 && sum === 1) {
        this.setCode(row, (ONE_EXIT + (f ? 0 : i ? 1 : em ? 2 : 3)) | counts);
        this.fault(row, last.fault);
        return;
      }
    }
    const d = [e.fill - b[0]!, e.inject - b[1]!, e.emulate - b[2]!, e.cr3 - b[3]!];
    const eff: LineEffect = { line, exits: last.exits, fault: last.fault, fill: d[0], inject: d[1], emulate: d[2], cr3: d[3], zapped: last.zapped, updated: last.updated };
    if (m.error !== null) eff.error = m.error;
    this.other(row, eff);
  }

  private setCode(row: number, code: number): void {
    this.codes[Math.floor(row / CODE_CHUNK)]![row % CODE_CHUNK] = code;
  }

  private fault(row: number, code: number): void {
    if (code < 0) return;
    if (this.faults === this.faultRows.length) {
      const r = new Int32Array(this.faults * 2);
      r.set(this.faultRows);
      this.faultRows = r;
      const c = new Uint8Array(this.faults * 2);
      c.set(this.faultCodes);
      this.faultCodes = c;
    }
    this.faultRows[this.faults] = row;
    this.faultCodes[this.faults++] = code;
  }

  private other(row: number, eff: LineEffect): void {
    this.setCode(row, OTHER);
    this.others.set(row, eff);
  }

  private faultOf(row: number): number {
    const lo = firstIndex(this.faults, (k) => this.faultRows[k]! < row);
    return lo < this.faults && this.faultRows[lo] === row ? this.faultCodes[lo]! : -1;
  }

  /** The effect of a recorded row, or undefined for a row with nothing to show. */
  at(row: number): LineEffect | undefined {
    if (row >= this.upTo) return undefined;
    const code = this.codes[Math.floor(row / CODE_CHUNK)]![row % CODE_CHUNK]!;
    const c = code & KIND;
    if (c === NONE) return undefined;
    const line = this.program.events.lineOf(row);
    if (c === OTHER) return this.others.get(row);
    if (c === HELD) return { line, exits: 0, fault: -1, expect: { passed: true, message: '' } };
    const zapped = (code >> ZAP_SHIFT) & 3;
    const updated = (code >> UPD_SHIFT) & 3;
    const eff: LineEffect = { line, exits: c === NO_EXIT ? 0 : 1, fault: this.faultOf(row), fill: 0, inject: 0, emulate: 0, cr3: 0, zapped, updated };
    if (c !== NO_EXIT) eff[OUTCOMES[c - ONE_EXIT]!] = 1;
    return eff;
  }

  /**
   * The effects of the rows on lines startLine..endLine that ran before row
   * `before` (the session's position), in row order, at most `max`.
   */
  lines(startLine: number, endLine: number, before: number, max = MAX_LINES): { lines: LineEffect[]; truncated: boolean } {
    const t = this.program.events;
    const stop = Math.min(before, this.upTo, t.count);
    const out: LineEffect[] = [];
    for (let r = t.rowAtOrAfterLine(startLine); r < stop && t.lineOf(r) <= endLine; r++) {
      const e = this.at(r);
      if (!e) continue;
      if (out.length === max) return { lines: out, truncated: true };
      out.push(e);
    }
    return { lines: out, truncated: false };
  }

  /** Bytes held (for the memory measurements). */
  bytes(): number {
    return this.codes.length * CODE_CHUNK + this.faultRows.byteLength + this.faultCodes.byteLength + this.others.size * 160;
  }
}
