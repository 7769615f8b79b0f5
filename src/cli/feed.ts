// Reading a trace for the command, in this thread: the file (or stdin, `-`,
// or a `.gz` file) in chunks into the streaming parser, each batch of rows to
// the replay as it comes (replay.ts). Never the whole text in one string, no
// size cap: memory is the parser's window and the machines' state.
//
// Reading stops early only where the input cannot be a trace and might never
// end (`cat /dev/zero | mmutrace run -`, `... /dev/urandom ...`):
// - a line longer than MAX_RUNAWAY_LINE characters (a line over
//   MAX_LINE_LENGTH is an error anyway; this one is not read to its end);
// - a file that is not UTF-8 once the diagnostics cap is reached (nothing
//   more would be shown).
// Both say so in a last diagnostic. A worker thread does the same with the
// parse running ahead of the replay (parse-worker.ts).

import { gunzipSync } from 'node:zlib';
import { closeSync, readFileSync } from 'node:fs';
import { MAX_TRACE_BYTES, TraceReadError, fdChunksSync, openTraceSync } from '../io/read';
import type { Diagnostic } from '../trace';
import { TraceStream, type StreamBadByte } from '../trace/stream';
import type { StreamReplay } from './replay';

/** A line this long is not read to its end: reading stops (the input is not a trace). */
export const MAX_RUNAWAY_LINE = 16 * 1024 * 1024;

/** What reading and parsing a file gave (the replay has had its batches). */
export interface FedFile {
  /** The file could not be read: the reason (after "cannot read: "). */
  readError?: string;
  badUtf8?: StreamBadByte;
  diagnostics: Diagnostic[];
  hasErrors: boolean;
}

/** The name the command gives to stdin (`-`) in its messages. */
export const STDIN_NAME = '<stdin>';

/** The chunks of what the command reads: `-` is stdin, a `.gz` file is gunzipped. */
export function* commandChunks(file: string): Generator<Uint8Array> {
  if (file === '-') {
    yield* fdChunksSync(0, false, Infinity, true);
    return;
  }
  if (file.endsWith('.gz')) {
    yield* gzipChunks(file);
    return;
  }
  const { fd, fifo } = openTraceSync(file, { allowPipes: true, maxBytes: Infinity });
  try {
    yield* fdChunksSync(fd, fifo, Infinity, true);
  } finally {
    closeQuietly(fd);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/**
 * A `.gz` file in this thread: gunzipped whole (node:zlib has no synchronous
 * stream), so up to MAX_TRACE_BYTES uncompressed; the worker thread
 * (parse-worker.ts) streams it without a cap.
 */
function* gzipChunks(file: string): Generator<Uint8Array> {
  const { fd } = openTraceSync(file, { maxBytes: Infinity });
  let bytes: Buffer;
  try {
    bytes = readFileSync(fd);
  } finally {
    closeQuietly(fd);
  }
  let out: Buffer;
  try {
    out = gunzipSync(bytes, { maxOutputLength: MAX_TRACE_BYTES });
  } catch (e) {
    throw new TraceReadError((e as Error).message);
  }
  for (let i = 0; i < out.length; i += 1 << 20) yield out.subarray(i, i + (1 << 20));
}

/** Reads, parses and replays a file in this thread. */
export function feedSync(file: string, replay: StreamReplay): FedFile {
  const s = new TraceStream();
  const diagnostics: Diagnostic[] = [];
  let stopLine: Diagnostic | undefined;
  const pump = (): void => {
    const b = s.take();
    if (s.setupReady) replay.begin(s.setup, s.hasErrors);
    if (b) replay.batch(b, s.errorLine || (s.badUtf8 ? s.badUtf8.line : 0));
    else if (s.hasErrors) replay.stop();
    for (const d of s.takeDiagnostics()) diagnostics.push(d);
  };
  try {
    for (const chunk of commandChunks(file)) {
      s.push(chunk);
      pump();
      stopLine = runaway(s);
      if (stopLine) break;
    }
  } catch (e) {
    if (!(e instanceof TraceReadError)) throw e;
    return { readError: e.message, diagnostics: [], hasErrors: true };
  }
  if (!stopLine) {
    s.end();
    pump();
  }
  const r = s.finish();
  diagnostics.push(...r.diagnostics.filter((d) => !stopLine || !/more diagnostics? not shown$/.test(d.message)));
  if (stopLine) diagnostics.push(stopLine);
  const out: FedFile = { diagnostics, hasErrors: r.hasErrors || stopLine !== undefined };
  if (r.badUtf8) out.badUtf8 = r.badUtf8;
  return out;
}

/** The diagnostic that stops reading an input that cannot be a trace, or undefined to go on. */
export function runaway(s: TraceStream): Diagnostic | undefined {
  const long = s.longLineSoFar;
  if (long > MAX_RUNAWAY_LINE) {
    const line = s.lines + 1;
    return { line, col: 1, endLine: line, endCol: 1, severity: 'error', message: `line ${line} is longer than ${MAX_RUNAWAY_LINE} characters: reading stopped there (this is not a trace)` };
  }
  const bad = s.badUtf8;
  if (bad && s.capReached) {
    return { line: bad.line, col: bad.col, endLine: bad.line, endCol: bad.col + 1, severity: 'error', message: 'the file is not UTF-8 text and has more problems than are shown: reading stopped' };
  }
  return undefined;
}
