// The `mmutrace` command (cli.md): run, check and compare without an editor.

import { readFileSync, statSync } from 'node:fs';
import { Machine, MachineError, POLICY_NAMES, type Summary, type Violation } from '../engine';
import { parseTrace, type Diagnostic, type Program } from '../trace';
import { compareTable, formatSummary } from './format';

const USAGE = `usage:
  mmutrace run FILE [--policy NAME] [--audit] [--json]
  mmutrace check FILE... [--policy NAME|all] [--audit]
  mmutrace compare FILE [--policies ${POLICY_NAMES.join(',')}] [--audit] [--json]

Policies: ${POLICY_NAMES.join(', ')}.
Exit status: 0 when everything held; 1 when an expect failed, a livelock or a
hang happened (or, with --audit, the audit found a violation); 2 when a file is
invalid or the command is wrong.`;

/** The largest trace file the command reads (bytes). */
export const MAX_FILE_BYTES = 1024 * 1024 * 1024;

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
    if (a === '--json') args.json = true;
    else if (a === '--audit') args.audit = true;
    else if (a === '--policy') args.policy = value();
    else if (a.startsWith('--policy=')) args.policy = a.slice(9);
    else if (a === '--policies') args.policies = value().split(',');
    else if (a.startsWith('--policies=')) args.policies = a.slice(11).split(',');
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
  return `${file}:${d.line}:${d.col}: ${d.severity}: ${d.message}${d.hint ? ` (${d.hint})` : ''}`;
}

/** Reads and parses a file; prints its diagnostics. Returns the program, or null when invalid. */
function load(file: string, io: Out): Program | null {
  let text: string;
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new Error('is a directory');
    if (st.size > MAX_FILE_BYTES) throw new Error(`is larger than ${MAX_FILE_BYTES} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const msg = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    io.err(`${file}: error: cannot read: ${msg}`);
    return null;
  }
  const r = parseTrace(text);
  for (const d of r.diagnostics) io.err(formatDiagnostic(file, d));
  return r.hasErrors ? null : r.program;
}

interface Replay {
  summary: Summary;
  violations: Violation[];
  /** A replay error (`pte` into a missing table) with its line; the file counts as invalid. */
  error?: { line: number; message: string };
  machine: Machine;
}

function replay(file: string, program: Program, policy: string | undefined, audit: boolean): Replay {
  const m = new Machine(program, { policy, audit });
  m.run();
  const error = m.error !== null ? { line: program.events.lineOf(m.row), message: m.error } : undefined;
  return { summary: m.summary(file), violations: m.auditor?.violations ?? [], error, machine: m };
}

/** Prints a replay's problems; returns its exit status (0, 1 or 2). */
function report(file: string, r: Replay, audit: boolean, io: Out, label = ''): number {
  let status = 0;
  for (const f of r.machine.failures) {
    io.err(`${file}:${f.line}:${f.col}: expect failed${label}: ${f.source} — ${f.message}`);
    status = 1;
  }
  if (audit) {
    for (const v of r.violations) {
      const line = v.event >= 0 ? r.machine.program.events.lineOf(v.event) : 0;
      io.err(`${file}:${line}:1: audit violation${label} (check ${v.check}): ${v.message} [${v.pageText} index ${v.index}, spte 0x${v.spte.toString(16)}${v.gpte !== undefined ? `, gpte 0x${v.gpte.toString(16)}` : ''}]`);
      status = 1;
    }
  }
  // engine.md, "Counting": where 2007 would have looped forever; like a failed expect, exit 1.
  for (const inc of r.machine.incidents) {
    io.err(`${file}:${r.machine.program.events.lineOf(inc.event)}:1: ${inc.kind}${label}: ${inc.message}`);
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
  try {
    return runCommand(args, io);
  } catch (e) {
    if (e instanceof MachineError) {
      io.err(`${args.files[0]}: error: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

function runCommand(args: Args, io: Out): number {
  if (args.command === 'check') {
    let status = 0;
    for (const file of args.files) {
      const program = load(file, io);
      if (!program) {
        status = 2;
        continue;
      }
      const policies = args.policy === 'all' ? [...POLICY_NAMES] : [args.policy ?? program.policy ?? 'update'];
      let fileStatus = 0;
      for (const p of policies) {
        const r = replay(file, program, p, args.audit);
        fileStatus = Math.max(fileStatus, report(file, r, args.audit, io, policies.length > 1 ? ` [${p}]` : ''));
      }
      if (fileStatus === 0) io.out(`${file}: ok (${policies.join(', ')})`);
      status = Math.max(status, fileStatus);
    }
    return status;
  }
  const file = args.files[0]!;
  const program = load(file, io);
  if (!program) return 2;
  if (args.command === 'run') {
    const r = replay(file, program, args.policy, args.audit);
    const status = report(file, r, args.audit, io);
    io.out(args.json ? JSON.stringify(r.summary, null, 2) : formatSummary(r.summary));
    return status;
  }
  const policies = args.policies ?? [...POLICY_NAMES];
  const results: Record<string, Summary> = {};
  let status = 0;
  for (const p of policies) {
    const r = replay(file, program, p, args.audit);
    status = Math.max(status, report(file, r, args.audit, io, ` [${p}]`));
    results[p] = r.summary;
  }
  io.out(args.json ? JSON.stringify({ policies: results }, null, 2) : compareTable(file, results));
  return status;
}

/** The process entry (bin/mmutrace.js calls it; so does `node dist/cli.js`). */
export function cli(): void {
  let code: number;
  try {
    code = main(process.argv.slice(2), {
      out: (s) => process.stdout.write(s + '\n'),
      err: (s) => process.stderr.write(s + '\n'),
    });
  } catch (e) {
    // A bug of ours, never the input's fault: say so in one line, without a stack trace.
    process.stderr.write(`mmutrace: internal error: ${(e as Error).message}\n`);
    code = 2;
  }
  process.exitCode = code;
}

if (typeof require !== 'undefined' && require.main === module) cli();
