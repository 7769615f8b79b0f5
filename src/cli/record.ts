// The `record` and `import lackey` subcommands of `mmutrace`: their command
// lines, their messages and exit statuses. The work is in src/record.

import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { LackeyError, summaryText, type ConvertStats } from '../record/convert';
import type { RecordMode } from '../record/kernel';
import { convertLog } from '../record/pipeline';
import { traceCommand, VALGRIND_MISSING, valgrindArgs, valgrindVersion } from '../record/valgrind';

export const RECORD_USAGE = `  mmutrace record [--out FILE] [--mode 64|pae|32] [--max-events N] [--trace-children] [--quantum N] -- CMD ARGS...
  mmutrace import lackey FILE|- [--out FILE] [--mode 64|pae|32] [--quantum N]`;

export class RecordUsageError extends Error {}

interface RecordArgs {
  out?: string;
  mode: RecordMode;
  maxEvents?: number;
  traceChildren: boolean;
  quantum?: number;
  command: string[];
  input?: string;
}

function positive(flag: string, v: string | undefined): number {
  if (v === undefined || !/^[0-9][0-9_]*$/.test(v)) throw new RecordUsageError(`${flag} needs a whole number, not \`${v ?? ''}\``);
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 1) throw new RecordUsageError(`${flag} must be at least 1`);
  return n;
}

export function parseRecordArgs(command: 'record' | 'import', argv: string[]): RecordArgs {
  const args: RecordArgs = { mode: '64', traceChildren: false, command: [] };
  let i = 0;
  const rest: string[] = [];
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new RecordUsageError(`${flag} needs a value`);
      return v;
    };
    if (a === '--') {
      i++;
      break;
    }
    if (flag === '--out' || flag === '-o') args.out = value();
    else if (flag === '--mode') {
      const m = value();
      if (m !== '64' && m !== 'pae' && m !== '32') throw new RecordUsageError(`--mode takes 64, pae or 32, not \`${m}\``);
      args.mode = m;
    } else if (flag === '--quantum') args.quantum = positive('--quantum', value());
    else if (flag === '--max-events' && command === 'record') args.maxEvents = positive('--max-events', value());
    else if (flag === '--trace-children' && command === 'record' && inline === undefined) args.traceChildren = true;
    else if (a.startsWith('-') && a !== '-') throw new RecordUsageError(`unknown option \`${a}\` for \`${command}\``);
    else if (command === 'record') break; // the command starts here
    else rest.push(a);
  }
  if (command === 'record') {
    args.command = argv.slice(i);
    if (args.command.length === 0) throw new RecordUsageError('`record` needs a command to run after `--`');
  } else {
    rest.push(...argv.slice(i));
    if (rest[0] !== 'lackey') throw new RecordUsageError(rest[0] === undefined ? '`import` needs a format: `import lackey FILE`' : `unknown import format \`${rest[0]}\`; known: lackey`);
    if (rest.length !== 2) throw new RecordUsageError('`import lackey` takes one file (or `-` for stdin)');
    args.input = rest[1];
  }
  return args;
}

/** A command line as a shell would take it back. */
export function shellQuote(words: string[]): string {
  return words.map((w) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export interface RecordIo {
  stdout: Writable;
  stderr: { write(s: string): boolean; isTTY?: boolean };
  /** Registers a handler for Ctrl-C; returns its removal. */
  onInterrupt?(f: () => void): () => void;
}

function progressLine(io: RecordIo): ((s: ConvertStats, ms: number) => void) | undefined {
  if (!io.stderr.isTTY) return undefined;
  return (s, ms) => {
    const rate = ms > 0 ? (s.lines / ms) * 1000 : 0;
    io.stderr.write(`\r\x1b[K${s.accesses.toLocaleString('en')} accesses read, ${s.events.toLocaleString('en')} events written, ${Math.round(rate).toLocaleString('en')} lines/s`);
  };
}

function done(io: RecordIo, out: string, s: ConvertStats): void {
  if (io.stderr.isTTY) io.stderr.write('\r\x1b[K');
  io.stderr.write(`mmutrace: ${out === '-' ? 'wrote the trace' : `wrote ${out}`}: ${summaryText(s)}\n`);
}

/** `mmutrace record` and `mmutrace import`: resolves to the exit status. */
export async function recordMain(command: 'record' | 'import', argv: string[], invocation: string[], io: RecordIo): Promise<number> {
  let args: RecordArgs;
  try {
    args = parseRecordArgs(command, argv);
  } catch (e) {
    if (!(e instanceof RecordUsageError)) throw e;
    io.stderr.write(`mmutrace: ${e.message}\nusage:\n${RECORD_USAGE}\n`);
    return 2;
  }
  return command === 'record' ? record(args, invocation, io) : importLog(args, invocation, io);
}

async function importLog(args: RecordArgs, invocation: string[], io: RecordIo): Promise<number> {
  const file = args.input!;
  let input: Readable;
  if (file === '-') input = process.stdin;
  else {
    try {
      if (statSync(file).isDirectory()) throw new Error('is a directory');
    } catch (e) {
      const msg = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
      io.stderr.write(`${file}: error: cannot read: ${msg}\n`);
      return 2;
    }
    input = createReadStream(file, { highWaterMark: 1 << 20 });
  }
  const out = args.out ?? '-';
  const name = file === '-' ? '<stdin>' : file;
  try {
    const stats = await convertLog(
      input,
      out === '-' ? io.stdout : out,
      { mode: args.mode, quantum: args.quantum, origin: [`Imported by: ${shellQuote(['mmutrace', ...invocation])}`, `from the Lackey log ${name}`] },
      { progress: progressLine(io) },
    );
    done(io, out, stats);
    if (stats.truncated) io.stderr.write(`${name}:${stats.lines}:1: warning: the log ends in the middle of a line (truncated?): converted the ${stats.lines - 1} lines before it\n`);
    return 0;
  } catch (e) {
    return failure(io, name, e);
  }
}

function failure(io: RecordIo, name: string, e: unknown): number {
  if (io.stderr.isTTY) io.stderr.write('\r\x1b[K');
  if (e instanceof LackeyError) {
    io.stderr.write(`${name}:${e.line}:${e.col}: error: ${e.message}\n`);
    return 2;
  }
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && err.syscall) {
    io.stderr.write(`mmutrace: error: ${err.syscall} ${err.path ?? ''}: ${err.code}\n`);
    return 2;
  }
  throw e;
}

async function record(args: RecordArgs, invocation: string[], io: RecordIo): Promise<number> {
  const version = valgrindVersion();
  if (version === null) {
    io.stderr.write(`mmutrace: ${VALGRIND_MISSING}\n`);
    return 2;
  }
  const out = args.out ?? `${basename(args.command[0]!)}.mmutrace`;
  const traced = traceCommand(args.command, {
    traceChildren: args.traceChildren,
    // The trace on stdout: the command's own output goes to stderr.
    stdio: ['inherit', out === '-' ? 2 : 'inherit', 'inherit'],
  });
  const spawnError = traced.exited.then(
    () => null,
    (e: Error) => e,
  );
  const stopInterrupt = io.onInterrupt?.(() => traced.kill());
  const origin = [
    `Recorded by: ${shellQuote(['mmutrace', ...invocation])}`,
    `which ran: ${shellQuote(['valgrind', ...valgrindArgs(args.command, args.traceChildren)])} (${version})`,
  ];
  try {
    const stats = await convertLog(
      traced.log,
      out === '-' ? io.stdout : out,
      { mode: args.mode, quantum: args.quantum, maxEvents: args.maxEvents, origin },
      { progress: progressLine(io), onStop: () => traced.kill() },
    );
    const err = await spawnError;
    if (err) {
      io.stderr.write(`mmutrace: cannot run valgrind: ${err.message}\n`);
      return 2;
    }
    const { code, signal } = await traced.exited;
    done(io, out, stats);
    if (stats.stopped) {
      io.stderr.write(`mmutrace: stopped at ${args.maxEvents} events (--max-events): the trace is the beginning of the run\n`);
      return 0;
    }
    if (stats.truncated) io.stderr.write('mmutrace: warning: the log ended in the middle of a line: the trace converts what came before it\n');
    if (code !== 0) {
      io.stderr.write(`mmutrace: the command ${signal ? `was ended by ${signal}` : `exited with status ${code}`} (the trace of what it did was written)\n`);
      return 1;
    }
    return 0;
  } catch (e) {
    traced.kill();
    return failure(io, '<valgrind log>', e);
  } finally {
    stopInterrupt?.();
  }
}
