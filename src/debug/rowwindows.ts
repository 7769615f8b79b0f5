// The rows of a trace file in windows (issue 13): the debugger's Rows for a
// file of any size, so that its memory does not grow with the trace.
//
// The file source (filesource.ts) parses the file once, in order, and saves
// the parser's state every `every` lines (its line, byte offset, global row:
// ParserState). The rows between two saved states are a window. Only the
// rows after the last state (the tail, still growing while the parse goes
// on) stay in memory for good; a window before it is parsed again from the
// file when one of its rows is read (`TraceStream.resume` from the state at
// its start, fed the bytes up to the next state: the same rows, with the same
// global row numbers and lines), and kept among the MAX_CACHED windows read
// last (a window just sealed counts as read: the machine is often close
// behind the parse, and the runtime keeps the parse at most AHEAD_WINDOWS
// ahead of a running machine). The machine reads a run of rows through `window(i)` (one range test a
// row); every other reader through the accessors, by global row.
//
// A window of 16,384 lines of a kbuild-like trace is about 400 KB of text and
// 200 KB of rows; parsing it again takes a few milliseconds.

import type { EventRow, EventTable, OpCode, RowWindow, Rows } from '../trace';
import { firstIndex } from '../trace';
import type { ParserState } from '../trace/stream';

/** A window no longer parses to the rows it gave: the file changed on disk under the session. */
export class TraceChangedError extends Error {}

/** Windows kept in memory besides the tail (about 200 KB each on a kbuild-like trace). */
export const MAX_CACHED = 48;

/** Reads window k again: its rows as a table (row 0 = the window's first row). */
export type WindowReader = (start: ParserState | null, endByte: number, expectBase: number) => EventTable;

export class WindowedRows implements Rows {
  /** Sealed windows: window k holds rows [bases[k], bases[k + 1]) (the tail's base after the last). */
  private readonly bases: number[] = [];
  /** The state at the start of window k (null for the first: the file's start). */
  private readonly starts: (ParserState | null)[] = [];
  /** Byte offset of the end of window k (the start of the next). */
  private readonly endBytes: number[] = [];
  /** Lines up to the end of window k (its last line). */
  private readonly endLines: number[] = [];
  /** Expects before window k's first row (the program's index of its first expect). */
  private readonly expectBases: number[] = [];
  /** The rows after the last sealed window, in memory. */
  private tail: RowWindow;
  private tailStart: ParserState | null = null;
  private tailExpectBase = 0;
  /** Windows read again, most recently used last. */
  private readonly cache = new Map<number, RowWindow>();
  /** The window read last (the accessors try it first). */
  private cur: RowWindow;
  /** Windows parsed again so far (for the tests and the benchmark). */
  rereads = 0;

  constructor(
    tail: EventTable,
    private readonly reread: WindowReader,
  ) {
    this.tail = { table: tail, base: 0 };
    this.cur = this.tail;
  }

  get count(): number {
    return this.tail.base + this.tail.table.count;
  }

  /** The table of the rows after the last sealed window (the file source appends to it). */
  get tailTable(): EventTable {
    return this.tail.table;
  }

  /** Windows read again and kept (at most MAX_CACHED). */
  get cachedWindows(): number {
    return this.cache.size;
  }

  /** Windows sealed so far. */
  get windows(): number {
    return this.bases.length;
  }

  /**
   * The parse reached a saved state: the tail's rows before `state.row` become
   * a window (dropped from memory, read again when needed), `rest` (the rows
   * from state.row on) the new tail.
   */
  seal(state: ParserState, rest: EventTable, expectBase: number): void {
    // Kept among the windows read last: a machine close behind the parse (a run, the first stop) reads it next.
    this.keep(this.bases.length, this.tail);
    this.bases.push(this.tail.base);
    this.starts.push(this.tailStart);
    this.endBytes.push(state.byteOffset);
    this.endLines.push(state.line);
    this.expectBases.push(this.tailExpectBase);
    this.tail = { table: rest, base: state.row };
    this.tailStart = state;
    this.tailExpectBase = expectBase;
    this.cur = this.tail;
  }

  /** Gives back the tail's unused capacity (the parse is done). */
  trim(): void {
    this.tail.table.trim();
  }

  window(i: number): RowWindow {
    const c = this.cur;
    if (i >= c.base && i < c.base + c.table.count) return c;
    return (this.cur = this.find(i));
  }

  private find(i: number): RowWindow {
    if (i >= this.tail.base) return this.tail;
    if (i < 0) throw new RangeError(`row ${i}`);
    // The last window whose first row is at or before i (windows may be empty).
    const k = firstIndex(this.bases.length, (j) => this.bases[j]! <= i) - 1;
    return this.load(k);
  }

  /** Window k, from the cache or parsed again. */
  private load(k: number): RowWindow {
    const hit = this.cache.get(k);
    if (hit) {
      this.cache.delete(k);
      this.cache.set(k, hit);
      return hit;
    }
    const base = this.bases[k]!;
    const end = k + 1 < this.bases.length ? this.bases[k + 1]! : this.tail.base;
    const table = this.reread(this.starts[k]!, this.endBytes[k]!, this.expectBases[k]!);
    this.rereads++;
    if (table.count !== end - base || (table.count > 0 && table.lineOf(table.count - 1) > this.endLines[k]!)) {
      throw new TraceChangedError(`lines ${(this.starts[k]?.line ?? 0) + 1}-${this.endLines[k]} of the trace no longer parse to the rows they gave (${table.count} rows, ${end - base} before): the file changed on disk while it was being debugged; restart the session`);
    }
    const w: RowWindow = { table, base };
    this.keep(k, w);
    return w;
  }

  /** Window k is the most recently used; the least recently used goes past MAX_CACHED. */
  private keep(k: number, w: RowWindow): void {
    this.cache.set(k, w);
    if (this.cache.size > MAX_CACHED) {
      const oldest = this.cache.keys().next().value as number;
      this.cache.delete(oldest);
    }
  }

  /** The window that holds line `line` (or the first after it): its index, or -1 for the tail. */
  private windowOfLine(line: number): number {
    const k = firstIndex(this.endLines.length, (j) => this.endLines[j]! < line);
    return k < this.endLines.length ? k : -1;
  }

  rowAtOrAfterLine(line: number): number {
    for (let k = this.windowOfLine(line); ; k++) {
      const w = k < 0 || k >= this.bases.length ? this.tail : this.load(k);
      const r = w.table.rowAtOrAfterLine(line);
      if (r < w.table.count || w === this.tail) return w.base + r;
      // Past the window's rows (its lines after `line` hold none): the next window's first row.
      if (k + 1 >= this.bases.length) return this.tail.base;
      return this.bases[k + 1]!;
    }
  }

  get byteLength(): number {
    let n = this.tail.table.byteLength + this.bases.length * 48;
    for (const w of this.cache.values()) n += w.table.byteLength;
    return n;
  }

  opOf(i: number): OpCode {
    const w = this.window(i);
    return w.table.op[i - w.base] as OpCode;
  }

  lineOf(i: number): number {
    const w = this.window(i);
    return w.table.lineOf(i - w.base);
  }

  addrOf(i: number): number {
    const w = this.window(i);
    return w.table.addrOf(i - w.base);
  }

  argOf(i: number): number {
    const w = this.window(i);
    return w.table.argOf(i - w.base);
  }

  eventAddr(i: number): number {
    const w = this.window(i);
    return w.table.eventAddr(i - w.base);
  }

  sizeOf(i: number): number {
    const w = this.window(i);
    return w.table.sizeOf(i - w.base);
  }

  levelOf(i: number): number {
    const w = this.window(i);
    return w.table.levelOf(i - w.base);
  }

  offsetOf(i: number): number {
    const w = this.window(i);
    return w.table.offsetOf(i - w.base);
  }

  flagsOf(i: number): number {
    const w = this.window(i);
    return w.table.flagsOf(i - w.base);
  }

  loOf(i: number): number {
    const w = this.window(i);
    return w.table.loOf(i - w.base);
  }

  hiOf(i: number): number {
    const w = this.window(i);
    return w.table.hiOf(i - w.base);
  }

  value(i: number): bigint {
    const w = this.window(i);
    return w.table.value(i - w.base);
  }

  row(i: number): EventRow {
    const w = this.window(i);
    return w.table.row(i - w.base);
  }
}
