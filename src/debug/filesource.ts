// A trace file on disk as the debugger's TraceSource (Node only: the session
// imports this module dynamically, so the web build never loads node:fs).
//
// The file is never one string: its bytes are read in 1 MiB chunks by the
// shared bounded reader (src/io/read.ts: no devices, FIFOs or directories,
// bytes counted against the cap as they come) and handed to the streaming
// parser (src/trace/stream.ts) 16 KiB at a time, so that the head of any
// file is parsed, and the first stop made, after reading a few pieces of it;
// the rest is parsed in the runtime's background slices. The rows stay in one
// EventTable (the parser's program, never taken from it), which costs about
// 13 bytes a row against the text's 19 to 25.
//
// Along the way it keeps an index of the file: the parser's state every
// INDEX_EVERY lines (its line, byte offset and row), enough to parse any
// window of lines again from the file without what comes before it.

import { statSync } from 'node:fs';
import { badUtf8Message, readChunksSync, TraceReadError } from '../io/read';
import type { Diagnostic, Program } from '../trace';
import { TraceStream, type ParserState } from '../trace/stream';
import type { TraceSource } from './source';

/** The largest trace the debugger reads (bytes). Decision: 4 GiB (about 200 million events, 2.6 GB of rows). */
export const DEBUG_MAX_BYTES = 4 * 1024 * 1024 * 1024;
/** Bytes handed to the parser at a time (about 700 lines: a background slice parses several; the first stop waits for one or two, parsed by a parser the JIT has not warmed yet). */
const PIECE = 16 * 1024;
/** Lines between two saved parser states of the index. */
export const INDEX_EVERY = 1 << 16;
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
  readonly program: Program;

  constructor(
    readonly path: string,
    readonly size: number,
    chunks: Generator<Buffer>,
  ) {
    this.chunks = chunks;
    this.s = new TraceStream({ checkpointEvery: INDEX_EVERY, onCheckpoint: (st) => this.index.push(st), window: PIECE });
    this.program = this.s.setup;
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
        this.takeDiagnostics();
        return;
      }
      this.cur = r.value;
      this.curOff = 0;
    }
    const piece = this.cur.subarray(this.curOff, this.curOff + PIECE);
    this.curOff += piece.length;
    this.s.push(piece);
    this.takeDiagnostics();
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
    // The table grew by doubling: give back what it does not use.
    this.program.events.trim();
  }

  close(): void {
    this.chunks.return(undefined);
  }
}

/** Opens `path` for the debugger; throws TraceReadError (cannot read: a device, a FIFO, no such file). */
export async function openFileSource(path: string): Promise<TraceSource> {
  const chunks = readChunksSync(path, { maxBytes: DEBUG_MAX_BYTES });
  // The kind of file is checked at the first read (before anything is parsed): an error is `cannot read`.
  const first = chunks.next();
  const src = new FileSource(path, statSync(path).size, prepend(first, chunks));
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

