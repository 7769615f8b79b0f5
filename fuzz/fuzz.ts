// The fuzz command: `npm run fuzz -- --minutes N [--seed S] [--parts a,b] [--out DIR]`.
//
// Drives five parts, round-robin, with inputs made from a printed seed
// (fuzz/gen.ts), and stops at the first failure, saving its input under a
// folder it names:
// - parser: parseTrace on near-valid and hostile traces, then a replay with the
//   audit of what parses (never a throw, diagnostics inside the text);
// - expr: parseExpr and evaluation against a real machine (never a throw, no
//   `0x-` in a message);
// - cli: bin/mmutrace.js as a child process on generated files and hostile
//   paths (/dev/zero, a FIFO, a directory) with random arguments (exit status
//   0, 1 or 2 and consistent with stderr, no stack trace);
// - adapter: dist/adapter.js over stdio, random request sequences (stale
//   references, goto storms, bad arguments, hostile programs), then `threads`
//   must still be answered and `disconnect` plus stdin closing must end it;
// - protocol: the same with hostile framing (a bad Content-Length, lowercase
//   headers, LF-only line ends, bodies of `null` or `not json`, a 4 MB body).
// In-process parts run in a worker child process, so that a hang (no progress
// within the per-input limit) or a runaway RSS is caught and the input kept.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Machine, MachineError } from '../src/engine';
import { parseExpr, tryEvaluate } from '../src/expr';
import { parseTrace } from '../src/trace';
import { HOSTILE_PATHS, cliArgs, expr, int, pick, rng, traceBytes, type Rng } from './gen';

const ROOT = resolve(__dirname, '..');
const BIN = join(ROOT, 'bin', 'mmutrace.js');
const ADAPTER = join(ROOT, 'dist', 'adapter.js');
const PARTS = ['parser', 'expr', 'cli', 'adapter', 'protocol'] as const;
type Part = (typeof PARTS)[number];

interface Options {
  ms: number;
  seed: number;
  parts: Part[];
  out: string;
  /** Per-input time limit (ms) and RSS limit (bytes). */
  hangMs: number;
  rss: number;
}

class Failure extends Error {
  constructor(
    message: string,
    readonly files: Record<string, string | Buffer> = {},
  ) {
    super(message);
  }
}

function parseOptions(argv: string[]): Options {
  const o: Options = { ms: 60_000, seed: (Date.now() ^ (process.pid << 8)) >>> 0, parts: [...PARTS], out: join(process.cwd(), 'fuzz-failures'), hangMs: 10_000, rss: 1024 * 1024 * 1024 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--minutes') o.ms = Number(v()) * 60_000;
    else if (a === '--seconds') o.ms = Number(v()) * 1000;
    else if (a === '--seed') o.seed = Number(v()) >>> 0;
    else if (a === '--parts') o.parts = v().split(',') as Part[];
    else if (a === '--out') o.out = resolve(v());
    else if (a === '--hang-ms') o.hangMs = Number(v());
    else if (a === '--rss-mb') o.rss = Number(v()) * 1024 * 1024;
    else throw new Error(`unknown option ${a}`);
  }
  for (const p of o.parts) if (!PARTS.includes(p)) throw new Error(`unknown part ${p}; parts: ${PARTS.join(', ')}`);
  if (!(o.ms > 0)) throw new Error('--minutes needs a positive number');
  return o;
}

// ---------------------------------------------------------------------------
// The in-process parts (run in a worker child).

const STACK = /\n\s+at .+[(:]\d+/;

function checkParser(r: Rng): void {
  const bytes = traceBytes(r);
  const text = bytes.toString('utf8');
  let res;
  try {
    res = parseTrace(text);
  } catch (e) {
    throw new Failure(`parseTrace threw: ${(e as Error).stack}`);
  }
  const lines = text.split('\n').length;
  for (const d of res.diagnostics) {
    if (d.message.includes('internal parser error')) throw new Failure(`internal error: ${d.message}`);
    if (d.line < 1 || d.line > lines + 1 || d.col < 1) throw new Failure(`diagnostic outside the text: ${JSON.stringify(d)}`);
  }
  if (res.hasErrors) return;
  for (const policy of ['update', 'zap']) {
    try {
      const m = new Machine(res.program, { policy, audit: true });
      m.run();
    } catch (e) {
      if (e instanceof MachineError) return;
      throw new Failure(`replay threw: ${(e as Error).stack}`);
    }
  }
}

let exprMachine: Machine | null = null;
function checkExpr(r: Rng): void {
  if (!exprMachine) {
    const p = parseTrace(readFileSync(join(ROOT, 'examples', 'demand-fault.mmutrace'), 'utf8'));
    exprMachine = new Machine(p.program, { audit: true });
    exprMachine.run();
  }
  const text = expr(r);
  let res;
  try {
    res = parseExpr(text);
  } catch (e) {
    throw new Failure(`parseExpr threw: ${(e as Error).stack}`);
  }
  for (const d of res.diagnostics) if (d.message.includes('0x-')) throw new Failure(`message shows 0x-: ${d.message}`);
  if (!res.expr) return;
  let v;
  try {
    v = tryEvaluate(res.expr, exprMachine.env);
  } catch (e) {
    throw new Failure(`evaluate threw: ${(e as Error).stack}`);
  }
  if (!v.ok && v.message.includes('0x-')) throw new Failure(`message shows 0x-: ${v.message}`);
}

/** The worker: runs inputs from `start`, saying which before each, until killed. */
function worker(part: Part, seed: number, start: number, rss: number): void {
  const check = part === 'parser' ? checkParser : checkExpr;
  for (let i = start; process.connected; i++) {
    process.send!({ i });
    try {
      check(rng(seed, i));
    } catch (e) {
      process.send!({ fail: i, message: e instanceof Failure ? e.message : (e as Error).stack });
      return;
    }
    if (process.memoryUsage().rss > rss) {
      process.send!({ fail: i, message: `RSS ${process.memoryUsage().rss} bytes is over the limit` });
      return;
    }
  }
}

/** The input of an in-process part, made again for saving. */
function inputOf(part: Part, seed: number, i: number): Record<string, string | Buffer> {
  return part === 'parser' ? { 'input.mmutrace': traceBytes(rng(seed, i)) } : { 'input.expr': expr(rng(seed, i)) };
}

/** Runs an in-process part for `ms`; resolves with the count of inputs tried. */
function runWorker(part: Part, o: Options, start: number, ms: number): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [__filename, '--worker', part, String(o.seed), String(start), String(o.rss)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const orphan = (): void => void child.kill('SIGKILL');
    process.once('exit', orphan);
    child.once('exit', () => process.off('exit', orphan));
    let last = start;
    let lastAt = Date.now();
    let stderr = '';
    let done = false;
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()).length > 1e5 && (stderr = stderr.slice(-1e5)));
    const finish = (err?: Failure): void => {
      if (done) return;
      done = true;
      clearInterval(timer);
      child.kill('SIGKILL');
      if (err) reject(Object.assign(err, { index: last }));
      else resolvePromise(last - start);
    };
    child.on('message', (m: { i?: number; fail?: number; message?: string }) => {
      if (m.fail !== undefined) {
        last = m.fail;
        finish(new Failure(m.message ?? 'failed', inputOf(part, o.seed, m.fail)));
      } else {
        last = m.i!;
        lastAt = Date.now();
        // The slice counts from the first input: a slow start (a loaded machine) still runs some.
        if (end === Infinity) end = lastAt + ms;
      }
    });
    child.on('exit', (code, signal) => {
      if (!done) finish(new Failure(`the worker died (code ${code}, signal ${signal}) at input ${last}: ${stderr.slice(-2000)}`, inputOf(part, o.seed, last)));
    });
    let end = Infinity;
    const timer = setInterval(() => {
      if (Date.now() - lastAt > o.hangMs) finish(new Failure(`hang: input ${last} took more than ${o.hangMs} ms`, inputOf(part, o.seed, last)));
      else if (Date.now() > end) finish();
    }, 100);
  });
}

// ---------------------------------------------------------------------------
// Child processes: RSS and time watched.

interface Ran {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  peakRss: number;
}

function rssOf(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function watch(child: ChildProcess, o: Options, onTick?: () => void): Promise<Ran> {
  return new Promise((resolvePromise) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let peakRss = 0;
    child.stdout?.on('data', (d: Buffer) => stdout.length < 1e6 && (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => stderr.length < 1e6 && (stderr += d.toString()));
    const started = Date.now();
    const timer = setInterval(() => {
      peakRss = Math.max(peakRss, rssOf(child.pid));
      if (peakRss > o.rss || Date.now() - started > o.hangMs) {
        timedOut = Date.now() - started > o.hangMs;
        child.kill('SIGKILL');
      }
      onTick?.();
    }, 50);
    child.on('close', (code, signal) => {
      clearInterval(timer);
      resolvePromise({ code, signal, stdout, stderr, timedOut, peakRss });
    });
  });
}

let scratch = '';
let fifo = '';
function paths(): void {
  scratch = mkdtempSync(join(tmpdir(), 'mmutrace-fuzz-'));
  fifo = join(scratch, 'fifo');
  spawnSync('mkfifo', [fifo]);
}

async function checkCli(r: Rng, o: Options): Promise<void> {
  const file = join(scratch, 'input.mmutrace');
  const bytes = traceBytes(r);
  writeFileSync(file, bytes);
  const hostile = r() < 0.15 ? pick(r, HOSTILE_PATHS).replace('FIFO', fifo) : null;
  const args = cliArgs(r).map((a) => (a === 'FILE' ? (hostile ?? file) : a));
  const child = spawn(process.execPath, ['--max-old-space-size=700', BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const res = await watch(child, o);
  const files = { 'input.mmutrace': bytes, 'args.json': JSON.stringify(args) + '\n' };
  const what = `mmutrace ${args.join(' ')}`;
  if (res.timedOut) throw new Failure(`hang: ${what} ran more than ${o.hangMs} ms`, files);
  if (res.peakRss > o.rss) throw new Failure(`memory: ${what} passed ${o.rss} bytes of RSS`, files);
  if (STACK.test(res.stderr) || /internal error/.test(res.stderr)) throw new Failure(`stack trace or internal error from ${what}:\n${res.stderr.slice(0, 4000)}`, files);
  if (res.code === null || ![0, 1, 2].includes(res.code)) throw new Failure(`${what} exited with ${res.code ?? res.signal}:\n${res.stderr.slice(0, 4000)}`, files);
  const errors = /: error: |^mmutrace: /m.test(res.stderr);
  if (res.code === 2 && !errors) throw new Failure(`${what} exited 2 without an error on stderr:\n${res.stderr.slice(0, 4000)}`, files);
  if (res.code !== 2 && errors) throw new Failure(`${what} exited ${res.code} with an error on stderr:\n${res.stderr.slice(0, 4000)}`, files);
}

// ---------------------------------------------------------------------------
// The adapter over stdio.

interface Msg {
  type: string;
  request_seq?: number;
  success?: boolean;
  command?: string;
  body?: Record<string, unknown>;
  event?: string;
  message?: string;
}

class Dap {
  private buf = Buffer.alloc(0);
  readonly msgs: Msg[] = [];
  seq = 1;
  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const h = this.buf.indexOf('\r\n\r\n');
        if (h < 0) return;
        const m = /Content-Length: (\d+)/.exec(this.buf.subarray(0, h).toString());
        const len = m ? Number(m[1]) : 0;
        if (this.buf.length < h + 4 + len) return;
        try {
          this.msgs.push(JSON.parse(this.buf.subarray(h + 4, h + 4 + len).toString()) as Msg);
        } catch {
          this.msgs.push({ type: 'garbage' });
        }
        this.buf = this.buf.subarray(h + 4 + len);
      }
    });
    child.stdin!.on('error', () => {});
  }
  raw(s: string | Buffer): void {
    if (!this.child.stdin!.destroyed) this.child.stdin!.write(s);
  }
  send(command: string, args: unknown): number {
    const seq = this.seq++;
    const body = JSON.stringify({ seq, type: 'request', command, arguments: args });
    this.raw(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    return seq;
  }
  response(seq: number): Msg | undefined {
    return this.msgs.find((m) => m.type === 'response' && m.request_seq === seq);
  }
  async wait(seq: number, ms: number): Promise<Msg | undefined> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const m = this.response(seq);
      if (m) return m;
      if (this.child.exitCode !== null || this.child.signalCode !== null) return undefined;
      await new Promise((res) => setTimeout(res, 5));
    }
    return undefined;
  }
}

const REQUESTS = [
  'threads', 'stackTrace', 'scopes', 'variables', 'variables', 'next', 'stepBack', 'stepIn', 'stepOut', 'continue', 'reverseContinue', 'pause',
  'evaluate', 'evaluate', 'goto', 'gotoTargets', 'setBreakpoints', 'setExceptionBreakpoints', 'setFunctionBreakpoints', 'dataBreakpointInfo',
  'setDataBreakpoints', 'readMemory', 'exceptionInfo', 'completions', 'breakpointLocations', 'restart', 'mmuMap', 'lineEffects', 'source', 'bogus',
];

function requestArgs(r: Rng, command: string, program: string, refs: number[]): unknown {
  const ref = r() < 0.7 && refs.length ? pick(r, refs) : pick(r, [0, -1, 1e9, 1.5, 'x', null]);
  const line = r() < 0.8 ? 1 + int(r, 40) : pick(r, [0, -5, 1e12]);
  switch (command) {
    case 'stackTrace':
      return { threadId: pick(r, [1, 1, 2]), startFrame: int(r, 3), levels: pick(r, [1, 20, 0, -1]) };
    case 'scopes':
      return { frameId: r() < 0.8 ? pick(r, refs.length ? refs : [0]) : pick(r, [0, -1, 1e9]) };
    case 'variables':
      return { variablesReference: ref, ...(r() < 0.3 ? { filter: pick(r, ['indexed', 'named', 'x']), start: int(r, 5), count: pick(r, [1, 10, 0, -1, 1e9]) } : {}) };
    case 'evaluate':
      return { expression: expr(r), context: pick(r, ['watch', 'hover', 'repl', 'clipboard']), frameId: ref };
    case 'goto':
      return { threadId: 1, targetId: r() < 0.7 ? line : pick(r, [-1, 1e9, 'x']) };
    case 'gotoTargets':
      return { source: { path: program }, line };
    case 'setBreakpoints':
      return { source: { path: program }, breakpoints: Array.from({ length: int(r, 4) }, () => ({ line, ...(r() < 0.3 ? { condition: expr(r) } : {}), ...(r() < 0.2 ? { hitCondition: pick(r, ['2', '>1', 'x']) } : {}), ...(r() < 0.1 ? { logMessage: '{exits.total}' } : {}) })) };
    case 'setExceptionBreakpoints':
      return { filters: Array.from({ length: int(r, 4) }, () => pick(r, ['vmexit', 'pte-write', 'guest-fault', 'flood', 'expect', 'audit', 'bogus'])) };
    case 'setFunctionBreakpoints':
      return { breakpoints: [{ name: pick(r, ['kvm_mmu_pte_write', 'fetch', 'x', '']) }] };
    case 'dataBreakpointInfo':
      return { variablesReference: ref, name: pick(r, ['#0', '#6', 'x', '0x1000', '']) };
    case 'setDataBreakpoints':
      return { breakpoints: [{ dataId: pick(r, ['g:0x1000:8', 'x', 's:0:0', '']) }] };
    case 'readMemory':
      return { memoryReference: pick(r, ['0x1000', 'x', '0', '-1']), offset: pick(r, [0, -4096, 1e15]), count: pick(r, [8, 0, 1e9, -1]) };
    case 'completions':
      return { text: expr(r), column: int(r, 10) };
    case 'breakpointLocations':
      return { source: { path: program }, line, endLine: line + int(r, 5) };
    case 'mmuMap':
    case 'lineEffects':
      return { startLine: line, endLine: line + int(r, 100) };
    default:
      return pick(r, [{ threadId: 1 }, {}, null, [], 'x']);
  }
}

/** Collects the references the adapter gave out (frames, variables), so that later requests can use stale ones. */
function harvest(msgs: Msg[], refs: number[]): void {
  for (const m of msgs) {
    const b = m.body as Record<string, unknown> | undefined;
    if (!b) continue;
    for (const key of ['stackFrames', 'scopes', 'variables'] as const) {
      const xs = b[key];
      if (Array.isArray(xs)) for (const x of xs.slice(0, 20)) for (const k of ['id', 'variablesReference']) if (typeof x?.[k] === 'number' && x[k] > 0 && !refs.includes(x[k])) refs.push(x[k]);
    }
  }
}

const HOSTILE_FRAMES: ((body: string) => string | Buffer)[] = [
  () => 'Content-Length: abc\r\n\r\n{}',
  (b) => `content-length: ${Buffer.byteLength(b)}\r\n\r\n${b}`,
  (b) => `Content-Length: ${Buffer.byteLength(b)}\n\n${b}`,
  () => 'Content-Length: 4\r\n\r\nnull',
  () => 'Content-Length: 8\r\n\r\nnot json',
  () => {
    // A well-formed 4 MiB request: an expression of `1` and spaces.
    const skeleton = JSON.stringify({ seq: 999, type: 'request', command: 'evaluate', arguments: { expression: '1' } });
    const body = JSON.stringify({ seq: 999, type: 'request', command: 'evaluate', arguments: { expression: '1' + ' '.repeat((4 << 20) - skeleton.length) } });
    return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  },
  () => 'Content-Length: 999999999999\r\n\r\n{',
];

async function checkAdapter(r: Rng, o: Options, hostileFraming: boolean): Promise<void> {
  const traceFile = join(scratch, 'session.mmutrace');
  const bytes = traceBytes(r);
  writeFileSync(traceFile, r() < 0.3 ? bytes : readFileSync(join(ROOT, 'examples', pick(r, ['demand-fault.mmutrace', 'fork-flood.mmutrace', 'copy-on-write.mmutrace', 'large-page.mmutrace', 'context-switch.mmutrace']))));
  const program = r() < 0.1 ? pick(r, HOSTILE_PATHS).replace('FIFO', fifo) : traceFile;
  const child = spawn(process.execPath, ['--max-old-space-size=700', ADAPTER], { stdio: ['pipe', 'pipe', 'pipe'] });
  const dap = new Dap(child);
  const done = watch(child, { ...o, hangMs: 60 * 60_000 });
  const log: string[] = [];
  const files = (): Record<string, string | Buffer> => ({ 'session.mmutrace': readFileSync(traceFile), 'requests.txt': log.join('\n') + '\n', 'program.txt': program + '\n' });
  const fail = async (msg: string): Promise<never> => {
    child.kill('SIGKILL');
    const res = await done;
    throw new Failure(`${msg}\nstderr:\n${res.stderr.slice(-4000)}`, files());
  };
  const ask = async (command: string, args: unknown): Promise<Msg | undefined> => {
    log.push(JSON.stringify({ command, arguments: args }));
    const seq = dap.send(command, args);
    const m = await dap.wait(seq, o.hangMs);
    if (!m) {
      if (child.exitCode !== null || child.signalCode !== null) return fail(`the adapter exited (${child.exitCode ?? child.signalCode}) during \`${command}\``);
      return fail(`hang: \`${command}\` not answered within ${o.hangMs} ms`);
    }
    if (rssOf(child.pid) > o.rss) return fail(`memory: the adapter passed ${o.rss} bytes of RSS`);
    return m;
  };
  await ask('initialize', { adapterID: 'mmutrace', linesStartAt1: true, columnsStartAt1: true, supportsVariablePaging: true, supportsProgressReporting: true, supportsMemoryReferences: true });
  await ask('launch', { program, stopOnEntry: r() < 0.8, audit: r() < 0.7, ...(r() < 0.2 ? { policy: pick(r, ['zap', 'update', 'access', 'tdp', 'bogus', 7]) } : {}) });
  await ask('configurationDone', {});
  const refs: number[] = [];
  const n = 5 + int(r, 40);
  for (let k = 0; k < n; k++) {
    harvest(dap.msgs.slice(-10), refs);
    if (hostileFraming && r() < 0.15) {
      const frame = pick(r, HOSTILE_FRAMES)(JSON.stringify({ seq: dap.seq++, type: 'request', command: 'threads' }));
      log.push(`RAW ${JSON.stringify(String(frame).slice(0, 200))}`);
      dap.raw(frame);
      continue;
    }
    const command = pick(r, REQUESTS);
    if (command === 'goto' && r() < 0.3) {
      // A goto storm: many gotos without waiting, then one answered request.
      for (let j = 0; j < 20; j++) {
        const a = requestArgs(r, 'goto', program, refs);
        log.push(JSON.stringify({ command: 'goto', arguments: a }));
        dap.send('goto', a);
      }
    }
    await ask(command, requestArgs(r, command, program, refs));
  }
  // Still alive and answering; then disconnect and the end of stdin end it.
  await ask('threads', {});
  log.push(JSON.stringify({ command: 'disconnect' }));
  dap.send('disconnect', {});
  child.stdin!.end();
  const killer = setTimeout(() => child.kill('SIGKILL'), o.hangMs);
  const res = await done;
  clearTimeout(killer);
  if (res.signal === 'SIGKILL') throw new Failure(`hang: the adapter did not end within ${o.hangMs} ms of disconnect and stdin closing\nstderr:\n${res.stderr.slice(-4000)}`, files());
  if (STACK.test(res.stderr)) throw new Failure(`stack trace on the adapter's stderr:\n${res.stderr.slice(-4000)}`, files());
  if (res.code !== 0) throw new Failure(`the adapter exited with ${res.code}:\n${res.stderr.slice(-4000)}`, files());
}

// ---------------------------------------------------------------------------

function save(o: Options, part: Part, index: number, f: Failure): string {
  const dir = join(o.out, `${part}-seed${o.seed}-input${index}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, data] of Object.entries(f.files)) writeFileSync(join(dir, name), data);
  writeFileSync(join(dir, 'failure.txt'), `part ${part}, seed ${o.seed}, input ${index}\n\n${f.message}\n`);
  return dir;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--worker') {
    worker(argv[1] as Part, Number(argv[2]), Number(argv[3]), Number(argv[4]));
    return -1;
  }
  let o: Options;
  try {
    o = parseOptions(argv);
  } catch (e) {
    process.stderr.write(`fuzz: ${(e as Error).message}\nusage: npm run fuzz -- [--minutes N | --seconds N] [--seed S] [--parts ${PARTS.join(',')}] [--out DIR] [--hang-ms MS] [--rss-mb MB]\n`);
    return 2;
  }
  if (!existsSync(ADAPTER)) {
    process.stderr.write('fuzz: dist/adapter.js is missing: run `npm run build`\n');
    return 2;
  }
  paths();
  process.stdout.write(`fuzz: seed ${o.seed}, parts ${o.parts.join(',')}, ${o.ms / 1000} s, per-input limit ${o.hangMs} ms, RSS limit ${o.rss >> 20} MiB; failures go to ${o.out}\n`);
  const tried: Record<string, number> = Object.fromEntries(o.parts.map((p) => [p, 0]));
  const next: Record<string, number> = Object.fromEntries(o.parts.map((p) => [p, 0]));
  const end = Date.now() + o.ms;
  const slice = Math.max(500, Math.min(10_000, o.ms / (o.parts.length * 2)));
  let status = 0;
  try {
    while (Date.now() < end) {
      for (const part of o.parts) {
        const until = Math.min(end, Date.now() + slice);
        if (part === 'parser' || part === 'expr') {
          try {
            const n = await runWorker(part, o, next[part]!, Math.max(300, until - Date.now()));
            tried[part]! += n;
            next[part]! += n;
          } catch (e) {
            const f = e as Failure & { index: number };
            tried[part]! += f.index - next[part]! + 1;
            throw Object.assign(f, { part });
          }
          continue;
        }
        // At least one input a round, however late the round is.
        for (let first = true; first || Date.now() < until; first = false) {
          const i = next[part]!++;
          try {
            if (part === 'cli') await checkCli(rng(o.seed, i), o);
            else await checkAdapter(rng(o.seed, i), o, part === 'protocol');
          } catch (e) {
            tried[part]! += 1;
            throw Object.assign(e instanceof Failure ? e : new Failure((e as Error).stack ?? String(e)), { part, index: i });
          }
          tried[part]! += 1;
        }
      }
    }
  } catch (e) {
    const f = e as Failure & { part: Part; index: number };
    const dir = save(o, f.part, f.index, f);
    process.stdout.write(`fuzz: FAILURE in ${f.part} (seed ${o.seed}, input ${f.index}): ${f.message.split('\n')[0]}\nfuzz: the input is saved in ${dir}\n`);
    status = 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  process.stdout.write(`fuzz: inputs tried: ${o.parts.map((p) => `${p} ${tried[p]}`).join(', ')}\n`);
  if (status === 0) process.stdout.write('fuzz: no failure\n');
  return status;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

void main().then((code) => {
  if (code >= 0) process.exit(code);
});
