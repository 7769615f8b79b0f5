// Reading a trace file with a byte cap, shared by the command (src/cli) and the
// debug adapter (src/debug). Nothing here trusts the size a file reports: the
// bytes are counted as they are read, in chunks, and reading stops at the cap
// with a TraceReadError. What cannot be read safely is refused before it is
// opened: a directory, a device (`/dev/zero`, a terminal), a socket, and (for
// the adapter, which must never block) a FIFO. The command reads a pipe
// (`... | mmutrace run /dev/stdin`) as `cat` would, up to the cap; a named
// FIFO with no writer reads as empty instead of blocking the open.
//
// The chunk generators are the shape a streaming parser can take later; for
// now readTrace/readTraceSync gather the chunks and decode them once.
//
// The debug adapter loads this module with a dynamic import so that the web
// build of the extension (which reads through vscode.workspace.fs) never
// evaluates its `node:fs` import.

import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { isAscii, isUtf8 } from 'node:buffer';
import { MAX_TRACE_BYTES, tooLargeText } from './limits';
import { seqLength } from '../trace/utf8';

export { MAX_TRACE_BYTES };

const CHUNK = 1 << 20;
/** Something to wait on between two reads of an empty pipe (Atomics.wait with a time-out). */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));
/** How long a FIFO that reads as empty is given for a writer to open it. */
const FIFO_GRACE_MS = 500;

/** A file that cannot be read as a trace; `message` completes "cannot read FILE: …". */
export class TraceReadError extends Error {}

export interface ReadOptions {
  /** The cap in bytes (default MAX_TRACE_BYTES). */
  maxBytes?: number;
  /** Read FIFOs and pipes (the command); otherwise they are refused (the adapter must not block on open). */
  allowPipes?: boolean;
  /** readChunksSync: yield the same buffer each time (the caller is done with a chunk when it asks for the next). */
  reuse?: boolean;
}

function tooLarge(max: number): TraceReadError {
  return new TraceReadError(tooLargeText(max));
}

/** Refuses what is not a regular file (a pipe too, unless allowed) and a regular file over the cap. */
function checkKind(st: Stats, o: ReadOptions): void {
  const max = o.maxBytes ?? MAX_TRACE_BYTES;
  if (st.isDirectory()) throw new TraceReadError('it is a directory');
  if (st.isFIFO()) {
    if (!o.allowPipes) throw new TraceReadError('it is a FIFO (named pipe): only regular files can be debugged');
    return;
  }
  if (st.isCharacterDevice() || st.isBlockDevice()) throw new TraceReadError('it is a device, not a trace file');
  if (st.isSocket()) throw new TraceReadError('it is a socket, not a trace file');
  if (!st.isFile()) throw new TraceReadError('it is not a regular file');
  if (st.size > max) throw tooLarge(max);
}

function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err instanceof TraceReadError) return err.message;
  switch (err.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'ENAMETOOLONG':
      return 'the path is too long';
    case 'ELOOP':
      return 'too many symbolic links';
    case 'EIO':
      return 'input/output error';
    default:
      return err.code ? `${err.code}` : String(err.message ?? err);
  }
}

/** Wraps any error of a read as a TraceReadError with a one-line message. */
function asReadError(e: unknown): TraceReadError {
  return e instanceof TraceReadError ? e : new TraceReadError(errnoText(e));
}

/** The file's bytes in chunks, synchronously; throws TraceReadError past the cap. */
export function* readChunksSync(path: string, o: ReadOptions = {}): Generator<Buffer> {
  const max = o.maxBytes ?? MAX_TRACE_BYTES;
  let fd: number;
  let fifo = false;
  try {
    const st = statSync(path);
    checkKind(st, o);
    fifo = st.isFIFO();
    // A FIFO is opened without blocking: with no writer, opening would wait for one forever
    // (the fuzz command's hang); opened so, it reads as empty. A live writer is read to its end.
    fd = openSync(path, fifo ? constants.O_RDONLY | constants.O_NONBLOCK : 'r');
    checkKind(fstatSync(fd), o);
  } catch (e) {
    throw asReadError(e);
  }
  try {
    yield* fdChunksSync(fd, fifo, max, o.reuse === true);
  } finally {
    closeSync(fd);
  }
}

/**
 * The bytes of an open file descriptor in chunks, synchronously, up to `max`
 * (Infinity: no cap; the command streams). A pipe with no data yet is waited
 * on without spinning; a FIFO (`fifo`) that reads as empty at first is given
 * FIFO_GRACE_MS for a writer. `reuse`: one buffer for every chunk.
 */
export function* fdChunksSync(fd: number, fifo: boolean, max = MAX_TRACE_BYTES, reuse = false): Generator<Buffer> {
  {
    let total = 0;
    let waited = 0;
    let shared: Buffer | undefined;
    for (;;) {
      const size = Math.min(CHUNK, max - total + 1);
      const buf = reuse ? (shared ??= Buffer.allocUnsafe(CHUNK)).subarray(0, size) : Buffer.allocUnsafe(size);
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
          // A pipe with a writer and no data yet: wait a little, without spinning.
          Atomics.wait(PAUSE, 0, 0, 2);
          continue;
        }
        throw asReadError(e);
      }
      if (n === 0) {
        // A FIFO whose writer has not opened it yet reads as its end: give a writer a moment.
        if (fifo && total === 0 && waited < FIFO_GRACE_MS) {
          Atomics.wait(PAUSE, 0, 0, 5);
          waited += 5;
          continue;
        }
        return;
      }
      total += n;
      if (total > max) throw tooLarge(max);
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
  }
}

/** Opens what the command reads (checked as readChunksSync checks it): the descriptor and whether it is a FIFO. */
export function openTraceSync(path: string, o: ReadOptions = {}): { fd: number; fifo: boolean } {
  try {
    const st = statSync(path);
    checkKind(st, o);
    const fifo = st.isFIFO();
    const fd = openSync(path, fifo ? constants.O_RDONLY | constants.O_NONBLOCK : 'r');
    try {
      checkKind(fstatSync(fd), o);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return { fd, fifo };
  } catch (e) {
    throw asReadError(e);
  }
}

/** The file's bytes in chunks; throws TraceReadError past the cap. */
export async function* readChunks(path: string, o: ReadOptions = {}): AsyncGenerator<Buffer> {
  const max = o.maxBytes ?? MAX_TRACE_BYTES;
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    // Checked before opening: opening a FIFO with no writer blocks.
    checkKind(await stat(path), o);
    fh = await open(path, 'r');
    checkKind(await fh.stat(), o);
  } catch (e) {
    throw asReadError(e);
  }
  try {
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, max - total + 1));
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(buf, 0, buf.length, null));
      } catch (e) {
        throw asReadError(e);
      }
      if (n === 0) return;
      total += n;
      if (total > max) throw tooLarge(max);
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
  } finally {
    await fh.close();
  }
}

/** Where the first byte that is not UTF-8 is, as a 1-based line and a column in UTF-16 units. */
export interface BadByte {
  line: number;
  col: number;
  byte: number;
}

/** The decoded text, and the first byte that is not UTF-8 (its place; it decodes as U+FFFD). */
export interface TraceText {
  text: string;
  badUtf8?: BadByte;
}


/** The place of the first byte of `b` that is not UTF-8, or undefined. */
export function firstBadUtf8(b: Buffer): BadByte | undefined {
  let line = 1;
  let col = 1;
  for (let i = 0; i < b.length; ) {
    const n = seqLength(b, i);
    if (n === 0) return { line, col, byte: b[i]! };
    if (b[i] === 0x0a) {
      line++;
      col = 1;
    } else if (!(i === 0 && n === 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf)) col += n === 4 ? 2 : 1;
    i += n;
  }
  return undefined;
}

/** Decodes a trace's bytes (UTF-8; an ASCII file as latin1, which is faster and the same). */
export function decodeTrace(chunks: Buffer[]): TraceText {
  const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  if (isAscii(buf)) return { text: buf.toString('latin1') };
  const text = buf.toString('utf8');
  if (isUtf8(buf)) return { text };
  const bad = firstBadUtf8(buf);
  return bad ? { text, badUtf8: bad } : { text };
}

/** Reads a whole trace synchronously (the command). */
export function readTraceSync(path: string, o: ReadOptions = {}): TraceText {
  const chunks: Buffer[] = [];
  for (const c of readChunksSync(path, o)) chunks.push(c);
  return decodeTrace(chunks);
}

/** Reads a whole trace (the adapter). */
export async function readTrace(path: string, o: ReadOptions = {}): Promise<TraceText> {
  const chunks: Buffer[] = [];
  for await (const c of readChunks(path, o)) chunks.push(c);
  return decodeTrace(chunks);
}

/** The diagnostic for invalid UTF-8 (decision: an error; a trace is UTF-8 text, language.md). */
export function badUtf8Message(b: BadByte): string {
  return `the file is not valid UTF-8: byte 0x${b.byte.toString(16).padStart(2, '0')} (save it as UTF-8)`;
}
