// A trace file on disk as the debugger's TraceSource (Node only: the session
// imports this module dynamically, so the web build never loads node:fs).
//
// The file is never one string: its bytes are read in 1 MiB chunks by the
// shared bounded reader (src/io/read.ts: no devices, FIFOs or directories,
// bytes counted against the cap as they come) and handed to the streaming
// parser (src/trace/stream.ts) 16 KiB at a time, so that the head of any
// file is parsed, and the first stop made, after reading a few pieces of it;
// the rest is parsed in the runtime's background slices.
//
// Along the way it keeps an index of the file: the parser's state every
// INDEX_EVERY lines (its line, byte offset and row), enough to parse any
// window of lines again from the file without what comes before it. The
// program's rows are windows over the file (rowwindows.ts): the rows of the
// lines after the last saved state stay in memory; those before it are
// parsed again from the file when they are read, a few dozen windows kept.
// So the debugger's memory does not grow with the trace: the program keeps
// its setup, its labels and its expects, and an index entry every
// INDEX_EVERY lines.

import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { badUtf8Message, readChunksSync, TraceReadError } from '../io/read';
import { EventTable, type Diagnostic, type Program } from '../trace';
import { TraceStream, type ParserState } from '../trace/stream';
import { MAX_CACHED, WindowedRows } from './rowwindows';
import type { RowsHook, TraceSource } from './source';

/** The largest trace the debugger reads (bytes). Decision: 4 GiB (about 200 million events, 2.6 GB of rows). */
export const DEBUG_MAX_BYTES = 4 * 1024 * 1024 * 1024;
/** Bytes handed to the parser at a time (about 700 lines: a background slice parses several; the first stop waits for one or two, parsed by a parser the JIT has not warmed yet). */
const PIECE = 16 * 1024;
/**
 * Lines between two saved parser states of the index: a window of rows
 * (parsed again in a few milliseconds). MMUTRACE_INDEX_EVERY sets it (the
 * tests use small windows, so that small traces have many).
 */
export const INDEX_EVERY = 1 << 14;
/** Bytes read at a time when a window is parsed again. */
const REREAD_PIECE = 1 << 20;
/** After the first error, how much more is parsed to report the errors that follow it (bytes). */
const MORE_AFTER_ERROR = 1 << 20;

export class FileSource implements TraceSource {
  private readonly s: TraceStream;
  private readonly chunks: Generator<Buffer>;
  private cur: Buffer | null = null;
  private curOff = 0;
  private ended = false;
  private readError: string | null = null;
  private readonly diags: Diagnostic[] = [];
  /** The parser's state at the start of every INDEX_EVERY-th line: line → byte offset → row. */
  readonly index: ParserState[] = [];
  readonly program: Program<WindowedRows>;
  readonly rows: WindowedRows;
  /** States saved during the last push, with the program's expects before each. */
  private seals: { state: ParserState; expectBase: number }[] = [];
  private setupCopied = false;
  onRows: RowsHook | null = null;
  /** Two thirds of the windows kept (their lines: rows are at most that many). */
  get rowsAhead(): number {
    return Math.floor((MAX_CACHED * 2) / 3) * this.every;
  }

  constructor(
    readonly path: string,
    readonly size: number,
    chunks: Generator<Buffer>,
    readonly every = INDEX_EVERY,
  ) {
    this.chunks = chunks;
    this.s = new TraceStream({
      checkpointEvery: every,
      onCheckpoint: (st) => {
        this.index.push(st);
        // The program has the expects of the batches taken; the parser's are the ones since.
        this.seals.push({ state: st, expectBase: this.program.expects.length + this.s.setup.expects.length });
      },
      window: PIECE,
    });
    this.rows = new WindowedRows(new EventTable(), (st, end, eb) => this.readWindow(st, end, eb));
    const u = this.s.setup;
    this.program = { ...u, events: this.rows, expects: [], labels: new Map(), lineCount: 0 };
  }

  get done(): boolean {
    return this.ended || this.readError !== null;
  }

  get linesParsed(): number {
    return this.s.lines;
  }

  get fraction(): number {
    return this.size > 0 ? Math.min(1, this.s.bytes / this.size) : 0;
  }

  get progressText(): string {
    const mb = (n: number): string => (n / 1e6).toFixed(0);
    return `${this.s.lines} lines, ${mb(this.s.bytes)} of ${mb(this.size)} MB`;
  }

  get hasErrors(): boolean {
    return this.s.hasErrors || this.s.badUtf8 !== undefined || this.readError !== null;
  }

  parseMore(lines: number): void {
    const target = this.s.lines + Math.max(1, lines);
    while (!this.done && this.s.lines < target && !this.hasErrors) this.pushPiece();
  }

  /** Hands the parser the next piece of the file (or its end). */
  private pushPiece(): void {
    if (!this.cur || this.curOff >= this.cur.length) {
      let r: IteratorResult<Buffer>;
      try {
        r = this.chunks.next();
      } catch (e) {
        this.readError = e instanceof TraceReadError ? e.message : String((e as Error).message ?? e);
        return;
      }
      if (r.done) {
        this.s.end();
        this.ended = true;
        this.takeRows();
        this.takeDiagnostics();
        return;
      }
      this.cur = r.value;
      this.curOff = 0;
    }
    const piece = this.cur.subarray(this.curOff, this.curOff + PIECE);
    this.curOff += piece.length;
    this.s.push(piece);
    this.takeRows();
    this.takeDiagnostics();
  }

  /**
   * Moves the rows parsed since the last piece into the program: its labels
   * and expects (expect rows point into the program's list), and the rows into
   * the tail of the windows, sealing a window at each state saved meanwhile.
   */
  private takeRows(): void {
    if (!this.setupCopied && this.s.setupReady) {
      const u = this.s.setup;
      Object.assign(this.program, { mode: u.mode, policy: u.policy, policyLine: u.policyLine, vcpus: u.vcpus, cpl: u.cpl, pool: u.pool, shadowPages: u.shadowPages, spaces: u.spaces, setup: u.setup });
      if (u.policy === undefined) delete this.program.policy;
      if (u.policyLine === undefined) delete this.program.policyLine;
      this.setupCopied = true;
    }
    const b = this.s.take();
    const shift = this.program.expects.length;
    if (b) {
      if (this.onRows) this.onRows(b.events, 0, b.events.count, b.firstRow);
      for (const e of b.expects) this.program.expects.push(e);
      for (const [name, r] of b.labels) this.program.labels.set(name, b.firstRow + r);
    }
    let from = 0;
    for (const { state, expectBase } of this.seals) {
      const cut = b ? state.row - b.firstRow : 0;
      const tail = this.rows.tailTable;
      if (b && cut > from) tail.appendRows(b.events, from, cut, shift);
      from = Math.max(from, cut);
      this.rows.seal(state, new EventTable(Math.max(64, tail.count)), expectBase);
    }
    this.seals = [];
    if (b && b.events.count > from) this.rows.tailTable.appendRows(b.events, from, b.events.count, shift);
  }

  /** Parses the window from `start` (null: the file's start) to `endByte` again: its rows. */
  private readWindow(start: ParserState | null, endByte: number, expectBase: number): EventTable {
    // Opened for each window (a few microseconds against its parse), so that no session leaves a file open.
    const fd = openSync(this.path, 'r');
    try {
      return this.parseWindow(fd, start, endByte, expectBase);
    } finally {
      closeSync(fd);
    }
  }

  private parseWindow(fd: number, start: ParserState | null, endByte: number, expectBase: number): EventTable {
    const s = start ? TraceStream.resume(start, { maxDiagnostics: 1 }) : new TraceStream({ maxDiagnostics: 1 });
    let pos = start ? start.byteOffset : 0;
    const buf = Buffer.allocUnsafe(Math.max(1, Math.min(REREAD_PIECE, endByte - pos)));
    while (pos < endByte) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, endByte - pos), pos);
      if (n === 0) break;
      s.push(buf.subarray(0, n));
      pos += n;
    }
    s.end();
    const b = s.take();
    if (!b) return new EventTable(1);
    let t = b.events;
    if (expectBase !== 0 && b.expects.length !== 0) {
      // The window's expects are its own: rows that point into the program's list.
      const shifted = new EventTable(t.count);
      shifted.appendRows(t, 0, t.count, expectBase);
      t = shifted;
    }
    t.trim();
    return t;
  }

  private takeDiagnostics(): void {
    for (const d of this.s.takeDiagnostics()) this.diags.push(d);
  }

  failure(): { diagnostics: Diagnostic[]; note?: string; message?: string } {
    const bad = this.s.badUtf8;
    if (bad) return { diagnostics: [], message: `${this.path}:${bad.line}:${bad.col}: error: ${badUtf8Message(bad)}` };
    if (this.readError !== null) {
      return { diagnostics: this.diags, message: `cannot read ${this.path} past line ${this.s.lines}: ${this.readError}` };
    }
    // The errors that follow the first one, within a bounded read.
    const stop = this.s.bytes + MORE_AFTER_ERROR;
    while (!this.done && this.s.bytes < stop) this.pushPiece();
    const diagnostics = this.diags.slice();
    if (this.ended) {
      for (const d of this.s.finish().diagnostics) diagnostics.push(d);
      return { diagnostics };
    }
    return { diagnostics, note: `(the rest of the file, after line ${this.s.lines}, was not checked: \`mmutrace check ${this.path}\` lists every error)` };
  }

  finish(): void {
    if (!this.ended) return;
    this.program.lineCount = this.s.lines;
    // The tail grew by doubling: give back what it does not use.
    this.rows.trim();
  }

  close(): void {
    // (Windows are still read after this: each opens the file for itself.)
    this.chunks.return(undefined);
  }
}

/** Opens `path` for the debugger; throws TraceReadError (cannot read: a device, a FIFO, no such file). */
export async function openFileSource(path: string): Promise<TraceSource> {
  const chunks = readChunksSync(path, { maxBytes: DEBUG_MAX_BYTES });
  // The kind of file is checked at the first read (before anything is parsed): an error is `cannot read`.
  const first = chunks.next();
  const every = Number(process.env.MMUTRACE_INDEX_EVERY) || INDEX_EVERY;
  const src = new FileSource(path, statSync(path).size, prepend(first, chunks), Math.max(1, Math.floor(every)));
  return src;
}

/** The chunks again, with the first one read already. */
function* prepend(first: IteratorResult<Buffer>, rest: Generator<Buffer>): Generator<Buffer> {
  try {
    if (first.done) return;
    yield first.value;
    yield* rest;
  } finally {
    rest.return(undefined);
  }
}

