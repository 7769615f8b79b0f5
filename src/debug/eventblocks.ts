// What the runtime notes of the trace's events as they are parsed (each row
// passes by once: TraceSource.onRows), for the MMU map's timeline
// (mmumap-timeline.ts), which then reads no row again:
// - every event's row and line while there are at most EXACT_MAX events
//   (8 bytes an event): the timeline's buckets hold equal numbers of events;
// - for every block of TRACKER_BLOCK rows, its events, its first event row
//   and that row's line (12 bytes a block: 100 million rows cost 300 KB):
//   past EXACT_MAX events the list is let go and the buckets are whole blocks.

/** Events listed one by one at most (MMUTRACE_TIMELINE_EXACT_MAX sets it: the tests make it small). */
export const EXACT_MAX = Number((globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.MMUTRACE_TIMELINE_EXACT_MAX) || 2_000_000;

import { Op, type EventTable } from '../trace';
import { TRACKER_BLOCK } from './compare';

export class EventBlocks {
  /** Events in block b. */
  private counts = new Uint32Array(64);
  /** First event row of block b, or -1. */
  private first = new Int32Array(64).fill(-1);
  /** The line of that row. */
  private firstLine = new Uint32Array(64);
  /** Rows noted so far, and events among them. */
  rows = 0;
  events = 0;
  /** Every event's row and line, in order (null past EXACT_MAX events). */
  private list: { rows: Int32Array; lines: Uint32Array } | null = { rows: new Int32Array(1024), lines: new Uint32Array(1024) };

  /** Rows [from, to) of `t`, whose row k is the trace's row `base + k` (they come in order, each once). */
  add(t: EventTable, from: number, to: number, base: number): void {
    for (let k = from; k < to; k++) {
      if (t.op[k]! > Op.Invlpg) continue;
      const row = base + k;
      const b = (row / TRACKER_BLOCK) | 0;
      if (b >= this.counts.length) this.grow(b + 1);
      const line = t.lineOf(k);
      if (this.counts[b]++ === 0) {
        this.first[b] = row;
        this.firstLine[b] = line;
      }
      if (this.list) this.listEvent(row, line);
      this.events++;
    }
    this.rows = Math.max(this.rows, base + to);
  }

  private listEvent(row: number, line: number): void {
    let l = this.list!;
    const n = this.events;
    if (n >= EXACT_MAX) {
      this.list = null;
      return;
    }
    if (n === l.rows.length) {
      const rows = new Int32Array(n * 2);
      rows.set(l.rows);
      const lines = new Uint32Array(n * 2);
      lines.set(l.lines);
      l = this.list = { rows, lines };
    }
    l.rows[n] = row;
    l.lines[n] = line;
  }

  /** Every event's row and line (the first `events` of each), or null when there are too many. */
  get eventList(): { rows: Int32Array; lines: Uint32Array } | null {
    return this.list;
  }

  private grow(n: number): void {
    const len = Math.max(n, this.counts.length * 2);
    const c = new Uint32Array(len);
    c.set(this.counts);
    this.counts = c;
    const f = new Int32Array(len).fill(-1);
    f.set(this.first);
    this.first = f;
    const l = new Uint32Array(len);
    l.set(this.firstLine);
    this.firstLine = l;
  }

  /** Blocks noted (the last may be partial). */
  get blocks(): number {
    return Math.ceil(this.rows / TRACKER_BLOCK);
  }

  /** Events in blocks [from, to). */
  eventsIn(from: number, to: number): number {
    let n = 0;
    for (let b = from; b < to && b < this.counts.length; b++) n += this.counts[b]!;
    return n;
  }

  /** The first event row in blocks [from, to) and its line, or null when they have none. */
  firstEvent(from: number, to: number): { row: number; line: number } | null {
    for (let b = from; b < to && b < this.counts.length; b++) if (this.first[b]! >= 0) return { row: this.first[b]!, line: this.firstLine[b]! };
    return null;
  }

  get bytes(): number {
    return this.counts.byteLength + this.first.byteLength + this.firstLine.byteLength + (this.list ? this.list.rows.byteLength + this.list.lines.byteLength : 0);
  }
}
