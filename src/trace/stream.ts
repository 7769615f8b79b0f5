// The streaming parser: a trace of any size, fed as bytes in chunks of any
// size and boundary, parsed as it comes, its rows handed out in batches that
// the consumer takes and drops, so that memory stays bounded.
//
//   const s = new TraceStream();
//   for (const chunk of chunks) {
//     s.push(chunk);                 // Buffer or Uint8Array, cut anywhere
//     const b = s.take();            // the rows parsed so far, or null
//     if (b) use(b);                 // valid until the next push/end/take
//   }
//   s.end();
//   const last = s.take();
//   const { diagnostics, hasErrors, badUtf8, lineCount } = s.finish();
//
// - Bytes are decoded as UTF-8 incrementally: a chunk may end inside a
//   multi-byte character or a CRLF. The first byte that is not UTF-8 is
//   reported at the same LINE:COL as the whole-file reader's `firstBadUtf8`
//   (src/io/read.ts) and decodes to U+FFFD as `Buffer.toString` would; a BOM
//   is skipped at the very start only.
// - Lines are cut as the whole-text parser cuts them (parser.ts's header:
//   `\n` and `\r\n`, the first lone `\r` an error, MAX_LINE_LENGTH): a line
//   longer than MAX_LINE_LENGTH is not kept in memory, only counted (its
//   diagnostic, "this line has N characters", is the same).
// - Rows (`take()`): the EventTable rows parsed since the last take, with
//   absolute line numbers; row k of a batch is row `firstRow + k` of the
//   whole trace. The batch's `labels` map names to its own rows, its
//   `expects` are indexed by the `arg` of its Op.Expect rows. The table is
//   reused: a batch is valid until the next push, end or take.
// - The setup (`setup`): the Program without events, once the first event
//   line has been parsed (or the input has ended): `setupReady`.
// - Diagnostics: the same set, order, ranges and cap (maxDiagnostics) as
//   parseTrace on the whole text; `takeDiagnostics()` hands them out as they
//   come, `finish()` gives them all (with the "N more not shown" one).
//
// Resuming at a line boundary (for a reader that re-parses a window of lines
// [L1, L2) of a file without parsing what comes before, e.g. the debugger's
// index of a huge trace):
//
//   const s = new TraceStream({ checkpointEvery: 10_000, onCheckpoint: (st) => save(st) });
//   ... // each saved ParserState (state.ts) is taken at the start of line st.line + 1
//   const r = TraceStream.resume(st);       // a parser in that state
//   r.push(bytesOfTheFileFrom(st.byteOffset)); ...
//
// The resumed parser gives the same rows (absolute lines, columns, global row
// numbers via `firstRow`) and the same diagnostics for the lines it parses as
// the parse of the whole file; labels defined before the point are known
// (duplicates are reported), `vcpus`, spaces and the mode are those of the setup.

import { isAscii, isUtf8 } from 'node:buffer';
import type { Diagnostic, EventTable, ExpectStmt, ParseOptions, Program } from './ast';
import { isWs } from './lexer';
import { TraceParser } from './parser';
import type { ParserState } from './state';
import { MAX_LINE_LENGTH } from './words';
import { seqLength } from './utf8';

export type { ParserState } from './state';

/** Where the first byte that is not UTF-8 is (as src/io/read.ts's BadByte). */
export interface StreamBadByte {
  line: number;
  col: number;
  byte: number;
}

export interface StreamOptions extends ParseOptions {
  /** Save the parser's state at the start of every line whose number is 1 + a multiple of this (and hand it to onCheckpoint). */
  checkpointEvery?: number;
  onCheckpoint?: (state: ParserState) => void;
  /** Characters of decoded text gathered before they are parsed (default 256 Ki; the tests use tiny ones to cut many windows). */
  window?: number;
}

export interface EventBatch {
  /** The rows (row k is row firstRow + k of the trace); valid until the next push, end or take. */
  readonly events: EventTable;
  readonly firstRow: number;
  /** Label name → row of this batch. */
  readonly labels: ReadonlyMap<string, number>;
  /** The batch's expects, by the `arg` of its Op.Expect rows. */
  readonly expects: readonly ExpectStmt[];
}

export interface StreamResult {
  /** Every diagnostic not yet taken by takeDiagnostics, and the "N more not shown" one. */
  diagnostics: Diagnostic[];
  hasErrors: boolean;
  /** The first byte that is not UTF-8 (the input is then invalid too). */
  badUtf8?: StreamBadByte;
  lineCount: number;
  /** Bytes read. */
  bytes: number;
}

/** A line longer than this many characters is counted, not kept (above MAX_LINE_LENGTH, whose check it must not change). */
const KEEP_LINE = MAX_LINE_LENGTH + 2;
/** Decoded text gathered before it is parsed (whole lines). */
const WINDOW = 1 << 18;

export class TraceStream {
  private readonly p: TraceParser;
  private readonly every: number;
  private readonly window: number;
  private readonly onCheckpoint: ((s: ParserState) => void) | undefined;
  /** Decoded text not yet parsed: pieces whose last has no `\n` past `tailNl`. */
  private pending: string[] = [];
  private pendingLen = 0;
  /** Bytes of an incomplete UTF-8 sequence at the end of the last chunk. */
  private carry: Uint8Array = new Uint8Array(0);
  /** Nothing decoded yet: a BOM is still skipped. */
  private atStart: boolean;
  /** Bytes given so far (the first byte of the input being byteBase). */
  private bytesIn = 0;
  private readonly byteBase: number;
  /** Byte offset in the file of the first character of `pending` (or of the next text when it is empty). */
  private pendingByte: number;
  /** Bytes of the pending text in the file, and whether it is all ASCII (byte offsets are character offsets). */
  private pendingBytes = 0;
  private pendingAscii = true;
  private bad: StreamBadByte | undefined;
  private ended = false;
  // A line too long to keep: its length so far, first non-blank character and its offset, a `\r` last.
  private skipping = false;
  private skipLen = 0;
  private skipFirst = -1;
  private skipFirstChar = 0;
  private skipCr = false;
  private taken = false;
  /** The line count at which the next checkpoint is saved. */
  private nextCheckpoint: number;

  constructor(opts: StreamOptions = {}, state?: ParserState) {
    this.p = new TraceParser('', opts);
    this.every = opts.checkpointEvery && opts.checkpointEvery > 0 ? Math.floor(opts.checkpointEvery) : 0;
    this.onCheckpoint = opts.onCheckpoint;
    this.window = opts.window && opts.window > 0 ? opts.window : WINDOW;
    if (state) this.p.restoreState(state);
    this.byteBase = state?.byteOffset ?? 0;
    this.pendingByte = this.byteBase;
    this.atStart = !state || (state.line === 0 && state.byteOffset === 0);
    const line = state?.line ?? 0;
    this.nextCheckpoint = this.every && this.onCheckpoint ? (Math.floor(line / this.every) + 1) * this.every : Infinity;
  }

  /** A parser in a saved state: feed it the file's bytes from `state.byteOffset`. */
  static resume(state: ParserState, opts: StreamOptions = {}): TraceStream {
    return new TraceStream(opts, state);
  }

  /** Lines parsed so far. */
  get lines(): number {
    return this.p.linesParsed;
  }

  /** Bytes given so far. */
  get bytes(): number {
    return this.bytesIn;
  }

  get hasErrors(): boolean {
    return this.p.errorCount > 0 || this.bad !== undefined;
  }

  /** The first line with a parse error (0: none so far). Invalid UTF-8 is `badUtf8`. */
  get errorLine(): number {
    return this.p.errorLine;
  }

  get badUtf8(): StreamBadByte | undefined {
    return this.bad;
  }

  /** The cap of diagnostics (maxDiagnostics) has been reached: more are only counted. */
  get capReached(): boolean {
    return this.p.suppressedDiagnostic() !== undefined;
  }

  /** A line longer than MAX_LINE_LENGTH is being counted: its length so far (0: none). */
  get longLineSoFar(): number {
    return this.skipping ? this.skipLen : 0;
  }

  /** The setup is complete (an event line was parsed, or the input ended). */
  get setupReady(): boolean {
    return this.p.setupDone;
  }

  /** The Program's setup (its `events` are the current batch's: use take()). */
  get setup(): Program {
    return this.p.programSoFar;
  }

  /** Feeds the next bytes; parses every line they complete. */
  push(chunk: Uint8Array): void {
    if (this.ended) throw new Error('TraceStream: push after end');
    this.dropTaken();
    this.bytesIn += chunk.length;
    let b = chunk;
    if (this.carry.length) {
      b = new Uint8Array(this.carry.length + chunk.length);
      b.set(this.carry);
      b.set(chunk, this.carry.length);
    }
    const cut = incompleteTail(b);
    // Copied: the caller may reuse its buffer.
    this.carry = cut ? Uint8Array.from(b.subarray(b.length - cut)) : EMPTY;
    this.decode(cut ? b.subarray(0, b.length - cut) : b);
    if (this.pendingLen >= this.window) this.parsePending(false);
  }

  /** The input is complete: parses what is left. */
  end(): void {
    if (this.ended) return;
    this.dropTaken();
    if (this.carry.length) {
      const c = this.carry;
      this.carry = EMPTY;
      this.decode(c);
    }
    this.ended = true;
    this.parsePending(true);
    this.p.endInput();
  }

  /** The rows parsed since the last take (null when there are none). */
  take(): EventBatch | null {
    this.dropTaken();
    const prog = this.p.programSoFar;
    if (prog.events.count === 0) return null;
    this.taken = true;
    return { events: prog.events, firstRow: this.p.firstRow, labels: prog.labels, expects: prog.expects };
  }

  /** The diagnostics found since the last call. */
  takeDiagnostics(): Diagnostic[] {
    return this.p.takeDiagnostics();
  }

  /** The end of the input's results (call after end()). */
  finish(): StreamResult {
    const diagnostics = this.p.takeDiagnostics().slice();
    const more = this.p.suppressedDiagnostic();
    if (more) diagnostics.push(more);
    const r: StreamResult = { diagnostics, hasErrors: this.hasErrors, lineCount: this.p.linesParsed, bytes: this.bytesIn };
    if (this.bad) r.badUtf8 = this.bad;
    return r;
  }

  private dropTaken(): void {
    if (this.taken) {
      this.taken = false;
      this.p.dropRows();
    }
  }

  // Decoding -----------------------------------------------------------------

  /** Decodes whole UTF-8 sequences (and, at the end, an incomplete one) into the pending text. */
  private decode(b: Uint8Array): void {
    if (b.length === 0) return;
    const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length);
    let bytes = buf.length;
    let text: string;
    let ascii = true;
    if (isAscii(buf)) text = buf.toString('latin1', 0, buf.length);
    else {
      ascii = false;
      if (!this.bad && !isUtf8(buf)) this.locateBad(buf);
      text = buf.toString('utf8', 0, buf.length);
    }
    if (this.atStart) {
      this.atStart = false;
      if (text.charCodeAt(0) === 0xfeff && buf[0] === 0xef) {
        text = text.slice(1);
        bytes -= 3;
        this.pendingByte += 3;
      }
    }
    this.add(text, bytes, ascii);
  }

  /** Finds the first bad byte of `b`, whose first byte follows the text decoded so far. */
  private locateBad(b: Buffer): void {
    let line = this.p.linesParsed + 1;
    let col = 1;
    if (this.skipping) col += this.skipLen;
    else {
      for (const t of this.pending) {
        for (let i = t.indexOf('\n'); i >= 0; i = t.indexOf('\n', i + 1)) {
          line++;
          col = 1 - (i + 1);
        }
        col += t.length;
      }
    }
    for (let i = 0; i < b.length; ) {
      const n = seqLength(b, i);
      if (n === 0) {
        this.bad = { line, col, byte: b[i]! };
        return;
      }
      if (b[i] === 0x0a) {
        line++;
        col = 1;
      } else if (!(i === 0 && this.atStart && n === 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf)) col += n === 4 ? 2 : 1;
      i += n;
    }
  }

  // Lines --------------------------------------------------------------------

  /** Adds decoded text (`bytes` long in the file): to the pending text, or to the long line being counted. */
  private add(text: string, bytes: number, ascii: boolean): void {
    if (this.skipping) {
      const rest = this.skip(text);
      const restBytes = ascii ? rest.length : Buffer.byteLength(rest);
      this.pendingByte += bytes - restBytes;
      if (!this.skipping) this.checkpointAfterLine();
      text = rest;
      bytes = restBytes;
      if (text.length === 0) return;
    }
    this.pending.push(text);
    this.pendingLen += text.length;
    this.pendingBytes += bytes;
    if (!ascii) this.pendingAscii = false;
  }

  /** Starts counting a long line whose first characters are `head` (no `\n` in it; its bytes are already past pendingByte). */
  private startSkip(head: string): void {
    this.skipping = true;
    this.skipLen = 0;
    this.skipFirst = -1;
    this.skipFirstChar = 0;
    this.skipCr = false;
    this.skip(head);
  }

  /** Counts text of the long line; returns what follows its end (empty when it goes on). */
  private skip(text: string): string {
    const nl = text.indexOf('\n');
    const end = nl < 0 ? text.length : nl;
    if (this.skipFirst < 0) {
      for (let i = 0; i < end; i++) {
        const c = text.charCodeAt(i);
        if (!isWs(c)) {
          this.skipFirst = this.skipLen + i;
          this.skipFirstChar = c;
          break;
        }
      }
    }
    if (!this.p.loneCrPassed) {
      // A lone CR inside a line that is not kept still counts as the input's first one (not reported, as in parseLine).
      if (this.skipCr && end > 0 && text.charCodeAt(0) !== 13) this.p.noteLoneCr();
      for (let i = text.indexOf('\r'); i >= 0 && i + 1 < end; i = text.indexOf('\r', i + 1)) {
        if (text.charCodeAt(i + 1) !== 13) {
          this.p.noteLoneCr();
          break;
        }
      }
    }
    if (end > 0) this.skipCr = text.charCodeAt(end - 1) === 13;
    this.skipLen += end;
    if (nl < 0) return '';
    // The line ends: its length is without the CR before the `\n`.
    this.skipping = false;
    this.p.skipLongLine(this.skipCr ? this.skipLen - 1 : this.skipLen, this.skipFirst, this.skipFirstChar);
    return text.slice(nl + 1);
  }

  /** Parses the whole lines of the pending text (all of it when `final`). */
  private parsePending(final: boolean): void {
    if (final && this.skipping) {
      // The input ends inside a long line: it ends there (a last CR counts, as at the end of a text).
      this.skipping = false;
      this.p.skipLongLine(this.skipLen, this.skipFirst, this.skipFirstChar);
      this.checkpointAfterLine();
    }
    let text = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    let rest = '';
    if (!final) {
      const nl = text.lastIndexOf('\n');
      rest = text.slice(nl + 1);
      text = text.slice(0, nl + 1);
    }
    const restBytes = rest.length === 0 ? 0 : this.pendingAscii ? rest.length : Buffer.byteLength(rest);
    const textBytes = this.pendingBytes - restBytes;
    const ascii = this.pendingAscii;
    this.pending = [];
    this.pendingLen = 0;
    this.pendingBytes = 0;
    this.pendingAscii = true;
    if (text.length) this.parseText(text, ascii);
    this.pendingByte += textBytes;
    if (rest.length > KEEP_LINE) {
      // A partial line too long to keep: count it instead.
      this.pendingByte += restBytes;
      this.startSkip(rest);
    } else if (rest.length) {
      this.pending.push(rest);
      this.pendingLen = rest.length;
      this.pendingBytes = restBytes;
      this.pendingAscii = ascii;
    }
  }

  /** Parses whole lines; saves the checkpoints among them. */
  private parseText(text: string, ascii: boolean): void {
    const p = this.p;
    p.beginText(text);
    if (!this.onCheckpoint) {
      p.parseLines(Infinity);
      return;
    }
    let byte = this.pendingByte;
    let at = 0;
    for (;;) {
      if (p.linesParsed === this.nextCheckpoint) {
        const pos = p.offset;
        byte += ascii ? pos - at : Buffer.byteLength(text.slice(at, pos));
        at = pos;
        this.checkpoint(byte);
      }
      if (p.parseLines(this.nextCheckpoint - p.linesParsed)) break;
    }
    if (p.linesParsed === this.nextCheckpoint) {
      byte += ascii ? text.length - at : Buffer.byteLength(text.slice(at));
      this.checkpoint(byte);
    }
  }

  /**
   * Saves the state at the current line, `byte` being its byte offset; none
   * past the first byte that is not UTF-8 (its U+FFFD does not have its
   * length in bytes, and the file is invalid anyway).
   */
  private checkpoint(byte: number): void {
    const line = this.p.linesParsed;
    this.nextCheckpoint += this.every;
    if (this.bad && this.bad.line <= line) return;
    this.onCheckpoint!(this.p.saveState(byte));
  }

  /** After a line counted outside parseText: a checkpoint there, at pendingByte. */
  private checkpointAfterLine(): void {
    if (!this.onCheckpoint) return;
    if (this.p.linesParsed === this.nextCheckpoint) this.checkpoint(this.pendingByte);
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Bytes at the end of `b` that begin a UTF-8 sequence and could go on in the
 * next chunk (a valid prefix, incomplete): they are decoded with what follows.
 * A prefix that is already invalid decodes the same whatever follows.
 */
function incompleteTail(b: Uint8Array): number {
  const len = b.length;
  for (let k = 1; k <= 3 && k <= len; k++) {
    const c = b[len - k]!;
    if ((c & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const need = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (need <= k) return 0; // complete, ASCII or invalid
    if (k >= 2) {
      const c1 = b[len - k + 1]!;
      if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f) || (c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)) return 0;
    }
    return k;
  }
  return 0;
}
