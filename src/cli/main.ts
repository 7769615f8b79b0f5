// The `mmutrace` command (cli.md): run, check and compare without an editor.

import { POLICY_NAMES, type Summary } from '../engine';
import { MAX_TRACE_BYTES, badUtf8Message } from '../io/read';
import type { Diagnostic, Program } from '../trace';
import { escapeInvisible } from '../trace/escape';
import { compareTable, formatSummary } from './format';
import { RECORD_USAGE, recordMain } from './record';
import { STDIN_NAME, feedSync } from './feed';
import { feedWorker, useWorker } from './feed-worker';
import { StreamReplay, type PolicyRun, type SetupFailure } from './replay';

/** Reads a file for the command: the parse in a worker thread ahead of the replay when it helps and can start, else in this thread. */
function feed(file: string, replay: StreamReplay): ReturnType<typeof feedSync> {
  if (useWorker(file)) {
    const r = feedWorker(file, replay);
    if (r) return r;
  }
  return feedSync(file, replay);
}

const USAGE = `usage:
  mmutrace run FILE [--policy NAME] [--audit] [--json]
  mmutrace check FILE... [--policy NAME|all] [--audit]
  mmutrace compare FILE [--policies ${POLICY_NAMES.join(',')}] [--audit] [--json]
  mmutrace lsp --stdio        (the language server, for any editor)
${RECORD_USAGE}

Policies: ${POLICY_NAMES.join(', ')}.
Exit status: 0 when everything held; 1 when an expect failed, a livelock or a
hang happened (or, with --audit, the audit found a violation); 2 when a file is
invalid or the command is wrong.`;

/** The largest trace file the command reads (bytes): the shared reader's cap. */
export const MAX_FILE_BYTES = MAX_TRACE_BYTES;

export class UsageError extends Error {}

interface Out {
  out(s: string): void;
  err(s: string): void;
}

interface Args {
  command: string;
  files: string[];
  policy?: string;
  policies?: string[];
  audit: boolean;
  json: boolean;
}

export function parseArgs(argv: string[]): Args {
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError('no command given');
  if (!['run', 'check', 'compare'].includes(command)) throw new UsageError(`unknown command \`${command}\``);
  const args: Args = { command, files: [], audit: false, json: false };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const value = (): string => {
      const v = rest[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value`);
      return v;
    };
    const inline = (name: string): string => {
      const v = a.slice(name.length + 1);
      if (v === '') throw new UsageError(`${name} needs a value`);
      return v;
    };
    if (a === '--json') args.json = true;
    else if (a === '--audit') args.audit = true;
    else if (a === '--policy') args.policy = value();
    else if (a.startsWith('--policy=')) args.policy = inline('--policy');
    else if (a === '--policies') args.policies = value().split(',');
    else if (a.startsWith('--policies=')) args.policies = inline('--policies').split(',');
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option \`${a}\``);
    else args.files.push(a);
  }
  if (args.files.length === 0) throw new UsageError(`\`${command}\` needs a file`);
  if (command !== 'check' && args.files.length > 1) throw new UsageError(`\`${command}\` takes one file`);
  if (args.json && command === 'check') throw new UsageError('`check` has no --json');
  if (args.policies && command !== 'compare') throw new UsageError('--policies goes with `compare`');
  if (args.policy && command === 'compare') throw new UsageError('`compare` takes --policies');
  const check = (p: string): void => {
    if (!POLICY_NAMES.includes(p)) throw new UsageError(`unknown policy \`${p}\`; known policies: ${POLICY_NAMES.join(', ')}`);
  };
  if (args.policy && !(command === 'check' && args.policy === 'all')) check(args.policy);
  for (const p of args.policies ?? []) check(p);
  return args;
}

function formatDiagnostic(file: string, d: Diagnostic): string {
  return `${escapeInvisible(file)}:${d.line}:${d.col}: ${d.severity}: ${escapeInvisible(d.message)}${d.hint ? ` (${escapeInvisible(d.hint)})` : ''}`;
}

/** A diagnostic of the file as a whole (it cannot be read), in the same FILE:LINE:COL form. */
function fileError(file: string, message: string): string {
  return `${escapeInvisible(file)}:1:1: error: ${escapeInvisible(message)}`;
}

/**
 * Reads, parses and replays one file as it streams (feed.ts, replay.ts);
 * prints its diagnostics (the invalid UTF-8 first, as the whole-file reader
 * did). Returns the replay, or null (exit 2) when the file is invalid or the
 * engine cannot set it up (that error printed).
 */
function streamFile(file: string, policies: (setup: Program) => (string | undefined)[], audit: boolean, io: Out): { replay: StreamReplay | null; shownRuns: PolicyRun[] } {
  const name = file === '-' ? STDIN_NAME : file;
  const replay = new StreamReplay(policies, audit);
  const fed = feed(file, replay);
  if (fed.readError !== undefined) {
    io.err(fileError(name, `cannot read: ${fed.readError}`));
    return { replay: null, shownRuns: [] };
  }
  const b = fed.badUtf8;
  if (b) io.err(formatDiagnostic(name, { line: b.line, col: b.col, endLine: b.line, endCol: b.col + 1, severity: 'error', message: badUtf8Message(b) }));
  for (const d of fed.diagnostics) io.err(formatDiagnostic(name, d));
  if (fed.hasErrors) return { replay: null, shownRuns: [] };
  if (replay.overBudget) {
    // Issue 17.3: one line naming the file, the line and the budget; exit 2, no partial summary.
    const o = replay.overBudget;
    io.err(formatDiagnostic(name, { line: o.line, col: 1, endLine: o.line, endCol: 1, severity: 'error', message: o.message }));
    return { replay: null, shownRuns: [] };
  }
  return { replay, shownRuns: replay.runs };
}

/** The engine's refusal of the setup, as a diagnostic of the file. */
function setupError(file: string, f: SetupFailure): string {
  return f.line ? formatDiagnostic(file, { line: f.line, col: f.col, endLine: f.line, endCol: f.col, severity: 'error', message: f.message }) : fileError(file, f.message);
}

/** Prints a replay's problems; returns its exit status (0, 1 or 2). */
function report(file: string, r: PolicyRun, audit: boolean, io: Out, label = ''): number {
  let status = 0;
  const m = r.machine;
  for (const f of m.failures) {
    io.err(`${file}:${f.line}:${f.col}: expect failed${label}: ${f.source} — ${f.message}`);
    status = 1;
  }
  if (audit) {
    for (const v of m.auditor?.violations ?? []) {
      const line = v.event >= 0 ? (v.line ?? 0) : 0;
      io.err(`${file}:${line}:1: audit violation${label} (check ${v.check}): ${v.message} [${v.pageText} index ${v.index}, spte 0x${v.spte.toString(16)}${v.gpte !== undefined ? `, gpte 0x${v.gpte.toString(16)}` : ''}]`);
      status = 1;
    }
  }
  // engine.md, "Counting": where 2007 would have looped forever; like a failed expect, exit 1.
  for (const inc of m.incidents) {
    io.err(`${file}:${inc.line}:1: ${inc.kind}${label}: ${inc.message}`);
    status = Math.max(status, 1);
  }
  if (r.error) {
    io.err(`${file}:${r.error.line}:1: error${label}: ${r.error.message}`);
    status = 2;
  }
  return status;
}

export function main(argv: string[], io: Out): number {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`mmutrace: ${e.message}\n${USAGE}`);
    return 2;
  }
  return runCommand(args, io);
}

function runCommand(args: Args, io: Out): number {
  if (args.command === 'check') {
    let status = 0;
    for (const file of args.files) {
      const name = file === '-' ? STDIN_NAME : file;
      let asked: string[] = [];
      const { replay } = streamFile(file, (setup) => (asked = args.policy === 'all' ? [...POLICY_NAMES] : [args.policy ?? setup.policy ?? 'update']), args.audit, io);
      if (!replay) {
        status = 2;
        continue;
      }
      let fileStatus = 0;
      for (const r of replay.runs) fileStatus = Math.max(fileStatus, report(name, r, args.audit, io, asked.length > 1 ? ` [${r.policy}]` : ''));
      if (replay.setupFailure) {
        io.err(setupError(name, replay.setupFailure));
        fileStatus = 2;
      }
      if (fileStatus === 0) io.out(`${name}: ok (${asked.join(', ')})`);
      status = Math.max(status, fileStatus);
    }
    return status;
  }
  const file = args.files[0]!;
  const name = file === '-' ? STDIN_NAME : file;
  if (args.command === 'run') {
    const { replay } = streamFile(file, () => [args.policy], args.audit, io);
    if (!replay) return 2;
    if (replay.setupFailure) {
      io.err(setupError(name, replay.setupFailure));
      return 2;
    }
    const r = replay.runs[0]!;
    const status = report(name, r, args.audit, io);
    const summary = r.machine.summary(name);
    io.out(args.json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
    return status;
  }
  // compare: the file read once, every policy's machine fed from the same batches.
  const policies = args.policies ?? [...POLICY_NAMES];
  const { replay } = streamFile(file, () => policies, args.audit, io);
  if (!replay) return 2;
  const results: Record<string, Summary> = {};
  let status = 0;
  for (const r of replay.runs) {
    status = Math.max(status, report(name, r, args.audit, io, ` [${r.policy}]`));
    results[r.policy!] = r.machine.summary(name);
  }
  if (replay.setupFailure) {
    io.err(setupError(name, replay.setupFailure));
    return 2;
  }
  io.out(args.json ? JSON.stringify({ policies: results }, null, 2) : compareTable(name, results));
  return status;
}

/**
 * What a failed write to stdout or stderr does: a reader that went away
 * (EPIPE: `mmutrace run F | head -1`) ends the output quietly, the exit status
 * that of the command; any other failure (ENOSPC: `> /dev/full`) is said in
 * one line on stderr and the exit status is 2. Never a stack trace.
 */
export function outputFailure(e: NodeJS.ErrnoException, stream: 'stdout' | 'stderr', state: { closed: boolean }): { code?: number; message?: string } {
  state.closed = true;
  if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') return {};
  const what = e.code === 'ENOSPC' ? 'no space left on device' : e.code ?? e.message;
  return { code: 2, message: `mmutrace: cannot write to ${stream}: ${what}` };
}

/** The process entry (bin/mmutrace.js calls it; so does `node dist/cli.js`). */
export function cli(): void {
  const argv = process.argv.slice(2);
  if (argv[0] === 'lsp') {
    // The language server (src/lsp) keeps the process alive until its client goes. Loaded
    // only here: it is most of the bundle, and `run` starts faster without it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { LSP_USAGE, startNodeServer } = require('../lsp/node') as typeof import('../lsp/node');
    const err = startNodeServer(argv.slice(1));
    if (err) {
      process.stderr.write(`mmutrace lsp: ${err}\n${LSP_USAGE}\n`);
      process.exitCode = 2;
    }
    return;
  }
  if (argv[0] === 'record' || argv[0] === 'import') {
    const command = argv[0];
    recordMain(command, argv.slice(1), argv, {
      stdout: process.stdout,
      stderr: process.stderr,
      onInterrupt(f) {
        process.on('SIGINT', f);
        return () => process.off('SIGINT', f);
      },
    }).then(
      (code) => (process.exitCode = code),
      (e: unknown) => {
        process.stderr.write(`mmutrace: internal error: ${(e as Error).message}\n`);
        process.exitCode = 2;
      },
    );
    return;
  }
  const outState = { closed: false };
  const errState = { closed: false };
  let failed = false;
  const onError = (stream: 'stdout' | 'stderr', state: { closed: boolean }) => (e: NodeJS.ErrnoException): void => {
    const r = outputFailure(e, stream, state);
    if (r.code === undefined || failed) return;
    failed = true;
    process.exitCode = r.code;
    if (!errState.closed && r.message) {
      try {
        process.stderr.write(r.message + '\n');
      } catch {
        // stderr is gone too: the exit status says it.
      }
    }
  };
  process.stdout.on('error', onError('stdout', outState));
  process.stderr.on('error', onError('stderr', errState));
  const write = (stream: NodeJS.WriteStream, state: { closed: boolean }, name: 'stdout' | 'stderr', s: string): void => {
    if (state.closed) return;
    try {
      stream.write(s + '\n');
    } catch (e) {
      onError(name, state)(e as NodeJS.ErrnoException);
    }
  };
  let code: number;
  try {
    code = main(argv, {
      out: (s) => write(process.stdout, outState, 'stdout', s),
      err: (s) => write(process.stderr, errState, 'stderr', s),
    });
  } catch (e) {
    // A bug of ours, never the input's fault: say so in one line, without a stack trace.
    write(process.stderr, errState, 'stderr', `mmutrace: internal error: ${(e as Error).message}`);
    code = 2;
  }
  if (!failed) process.exitCode = code;
}

if (typeof require !== 'undefined' && require.main === module) cli();
