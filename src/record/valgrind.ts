// Runs a command under Valgrind's lackey tool with its memory trace on a
// pipe (`--log-fd=3`): the log is read as it is written, never stored. The
// command runs in its own process group so that a stop (--max-events, a
// cancel, Ctrl-C) ends it and every traced child at once.

import { spawn, spawnSync } from 'node:child_process';

type Stdio = 'inherit' | 'ignore' | 'pipe' | number;
import type { Readable } from 'node:stream';

/** The Valgrind executable: `valgrind` on the PATH, or MMUTRACE_VALGRIND. */
export function valgrindBinary(): string {
  return process.env.MMUTRACE_VALGRIND || 'valgrind';
}

export const VALGRIND_MISSING =
  'Valgrind is not installed (no `valgrind` on the PATH): `mmutrace record` runs the command under Valgrind\'s lackey tool. ' +
  'Install it with `sudo apt-get install valgrind` (Debian, Ubuntu; `dnf install valgrind` on Fedora), ' +
  'or convert a log made elsewhere with `mmutrace import lackey FILE`.';

/** Valgrind's version line, or null when it cannot be run. */
export function valgrindVersion(bin = valgrindBinary()): string | null {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error || r.status !== 0) return null;
  return r.stdout.trim();
}

/** The exact Valgrind command line that `record` runs (for the file's header). */
export function valgrindArgs(command: string[], traceChildren: boolean): string[] {
  return ['--tool=lackey', '--trace-mem=yes', `--trace-children=${traceChildren ? 'yes' : 'no'}`, '--log-fd=3', '--', ...command];
}

export interface Traced {
  /** Lackey's log, as Valgrind writes it. */
  log: Readable;
  /** The command's exit: its status, or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Ends the command and every process it started. */
  kill(): void;
}

export interface TraceOptions {
  traceChildren: boolean;
  /** Where the command's stdin, stdout and stderr go. */
  stdio?: [Stdio, Stdio, Stdio];
  cwd?: string;
}

export function traceCommand(command: string[], opts: TraceOptions): Traced {
  const [i, o, e] = opts.stdio ?? ['inherit', 'inherit', 'inherit'];
  const child = spawn(valgrindBinary(), valgrindArgs(command, opts.traceChildren), {
    stdio: [i, o, e, 'pipe'],
    detached: true,
    cwd: opts.cwd,
  });
  const log = child.stdio[3] as Readable;
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', (err) => {
      done = true;
      reject(err);
    });
    child.on('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  return {
    log,
    exited,
    kill() {
      if (done || child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}
