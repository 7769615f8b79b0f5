// The `mmutrace` task type (package.json `taskDefinitions`), without VS Code:
// a task's definition turned into the CLI's arguments (src/cli/main.ts,
// cli.md), or a message naming what is wrong with it.

export const TASK_TYPE = 'mmutrace';

/**
 * How long a task's process stays after its work, in ms. VS Code stops a
 * task's problem matcher 100 ms after the process exits, and lines the
 * terminal has not delivered by then are lost (seen in code-server under
 * load: one problem of four). The CLI's lines then all reach the matcher.
 */
export const TASK_LINGER_MS = 1000;

/**
 * What the task runs: `node -e WRAPPER CLI ARGS...`. The wrapper loads the
 * bundled CLI (dist/cli.js, whose own start is for `node dist/cli.js` only),
 * runs it with `process.argv` as `node CLI ARGS...` would have it, and once
 * the command's work is done (the event loop empty: `record` is
 * asynchronous) waits TASK_LINGER_MS before the exit, its status the CLI's.
 */
export const TASK_WRAPPER = `const m = require(process.argv[1]); let held = false; process.on('beforeExit', () => { if (!held) { held = true; setTimeout(() => {}, ${TASK_LINGER_MS}); } }); m.cli();`;
const POLICIES = ['zap', 'update', 'access', 'tdp'];
const MODES = ['64', 'pae', '32'];

/** What a tasks.json entry of type `mmutrace` may hold (package.json holds the same as a JSON schema). */
export interface MmutraceTaskDefinition {
  type: string;
  command: 'check' | 'run' | 'compare' | 'record';
  /** The trace (check, run, compare); `${file}` and the other variables work. */
  file?: string;
  /** More traces for `check`. */
  files?: string[];
  /** check: a policy or `all`; run: a policy. */
  policy?: string;
  /** compare: the policies to compare (default all four). */
  policies?: string[];
  audit?: boolean;
  /** run and compare: print JSON (docs/schema/). */
  json?: boolean;
  /** record: the program and its arguments, and where the trace goes. */
  program?: string[];
  out?: string;
  mode?: string;
  maxEvents?: number;
  traceChildren?: boolean;
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string' && s !== '');

/** The CLI arguments of a task (after `mmutrace`), or why it cannot run. */
export function taskArgs(d: Partial<MmutraceTaskDefinition>): { args: string[] } | { error: string } {
  const where = `the mmutrace task (command ${JSON.stringify(d.command)})`;
  const bad = (what: string): { error: string } => ({ error: `${where}: ${what}` });
  if (d.command === 'record') {
    if (!isStrings(d.program) || d.program.length === 0) return bad('`program` must list the program to record and its arguments, e.g. ["ls", "-l"]');
    const args = ['record'];
    if (d.out !== undefined) {
      if (typeof d.out !== 'string' || d.out === '') return bad('`out` must be a file name');
      args.push('--out', d.out);
    }
    if (d.mode !== undefined) {
      if (!MODES.includes(String(d.mode))) return bad(`\`mode\` must be one of ${MODES.join(', ')}`);
      args.push('--mode', String(d.mode));
    }
    if (d.maxEvents !== undefined) {
      if (!Number.isSafeInteger(d.maxEvents) || d.maxEvents < 1) return bad('`maxEvents` must be a whole number of at least 1');
      args.push('--max-events', String(d.maxEvents));
    }
    if (d.traceChildren) args.push('--trace-children');
    return { args: [...args, '--', ...d.program] };
  }
  if (d.command !== 'check' && d.command !== 'run' && d.command !== 'compare') return bad('`command` must be check, run, compare or record');
  const files: string[] = [];
  if (d.file !== undefined) {
    if (typeof d.file !== 'string' || d.file === '') return bad('`file` must be a path');
    files.push(d.file);
  }
  if (d.files !== undefined) {
    if (d.command !== 'check') return bad('`files` goes with check (run and compare take one `file`)');
    if (!isStrings(d.files)) return bad('`files` must be a list of paths');
    files.push(...d.files);
  }
  if (files.length === 0) return bad('name the trace in `file`');
  const args: string[] = [d.command];
  if (d.policy !== undefined) {
    if (d.command === 'compare') return bad('compare takes `policies`, a list');
    const ok = d.command === 'check' ? [...POLICIES, 'all'] : POLICIES;
    if (!ok.includes(String(d.policy))) return bad(`\`policy\` must be one of ${ok.join(', ')}`);
    args.push('--policy', String(d.policy));
  }
  if (d.policies !== undefined) {
    if (d.command !== 'compare') return bad('`policies` goes with compare');
    if (!isStrings(d.policies) || d.policies.length === 0 || d.policies.some((p) => !POLICIES.includes(p))) return bad(`\`policies\` must list some of ${POLICIES.join(', ')}`);
    args.push('--policies', d.policies.join(','));
  }
  if (d.audit) args.push('--audit');
  if (d.json) {
    if (d.command === 'check') return bad('check has no `json`');
    args.push('--json');
  }
  // `--` is not understood by run/check/compare: a file name starting with `-` goes as ./NAME.
  return { args: [...args, ...files.map((f) => (f.startsWith('-') ? `./${f}` : f))] };
}

/** A task's name as the Run Task list shows it: `check demand-fault.mmutrace (all)`. */
export function taskName(d: Partial<MmutraceTaskDefinition>): string {
  const what = d.command === 'record' ? (d.program ?? []).join(' ') : [d.file, ...(d.files ?? [])].filter(Boolean).join(' ');
  const pol = d.policy ? ` (${d.policy})` : d.policies ? ` (${d.policies.join(', ')})` : '';
  return `${d.command} ${what}${pol}`;
}
