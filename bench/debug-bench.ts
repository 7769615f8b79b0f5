// The debugger's benchmark (issue 3, "Speed"): on a large trace, over DAP
// against the built adapter (node dist/adapter.js):
//   launch → first stop                     target ≤ 300 ms
//   stepBack at several positions           target ≤ 20 ms
//   continue to a breakpoint near the end   target ≤ 1.5 × the CLI's replay
//   variables on the shadow pages           target ≤ 20 ms
// and, in-process, the memory the debugger holds at the end of the trace
// (target ≤ 2 × the file size).
//
// `benchDebugger(tracePath, cliReplayMs)` is what `npm run bench` calls; run
// alone (`node --expose-gc dist/debug-bench.js [TRACE]`) it generates the
// 1M-event trace when none is given and measures the CLI's replay itself.

import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TraceRuntime, type RuntimeHost, type StopInfo } from '../src/debug/runtime';
import { Machine } from '../src/engine';
import { parseTrace } from '../src/trace';
import { bigTrace, writeBigTrace } from '../test/debug/gen';

export interface DebugBenchResult {
  file: string;
  fileBytes: number;
  events: number;
  audit: boolean;
  launchToFirstStopMs: number;
  continueToNearEndMs: number;
  cliReplayMs: number;
  continueVsCli: number;
  stepBackMs: { line: number; ms: number[] }[];
  stepBackMaxMs: number;
  /** Where the worst step back started: the line the session stood on and which of the steps there (1-based). */
  stepBackWorst: { line: number; step: number };
  stepBackMedianMs: number;
  shadowPagesVariablesMs: number;
  scopesMs: number;
  memoryBytes: number;
  memoryVsFile: number;
  memoryBreakdown: Record<string, number>;
}

function adapterPath(): string {
  const candidates = [join(__dirname, 'adapter.js'), resolve(process.cwd(), 'dist/adapter.js')];
  const p = candidates.find((c) => existsSync(c));
  if (!p) throw new Error('dist/adapter.js not found: run `npm run build` first');
  return p;
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, performance.now() - t0];
}

async function stopAfter(dc: DebugClient, action: () => Promise<unknown>): Promise<DebugProtocol.StoppedEvent> {
  const stopped = dc.waitForEvent('stopped', 600_000);
  await action();
  return (await stopped) as DebugProtocol.StoppedEvent;
}

function lastEventLine(text: string): number {
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) if (/^\s*(read|write|exec|pte|store|cr3|invlpg)\b/.test(lines[i]!)) return i + 1;
  return 1;
}

/**
 * Measures the debugger on `tracePath`; `cliReplayMs` is the CLI's replay time of the same file (the
 * reference: `mmutrace run --audit` for the default `audit: true`, plain `run` for `audit: false`).
 */
export async function benchDebugger(tracePath: string, cliReplayMs: number, opts: { audit?: boolean; memory?: boolean } = {}): Promise<DebugBenchResult> {
  const audit = opts.audit ?? true;
  const file = resolve(tracePath);
  const text = readFileSync(file, 'utf8');
  const fileBytes = statSync(file).size;
  const endLine = lastEventLine(text);
  const events = text.split('\n').filter((l) => /^\s*(read|write|exec|pte|store|cr3|invlpg)\b/.test(l)).length;

  const dc = new DebugClient('node', adapterPath(), 'mmutrace');
  dc.defaultTimeout = 600_000;
  await dc.start();
  try {
    await dc.initializeRequest({ adapterID: 'mmutrace', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
    // launch → first stop
    const [, launchToFirstStopMs] = await timed(() => launchToFirstStop(dc, file, { audit, timeoutMs: 600_000 }));
    // continue to a breakpoint near the end
    const bpLine = Math.max(1, endLine - 10);
    await dc.setBreakpointsRequest({ source: { path: file }, breakpoints: [{ line: bpLine }] });
    const [, continueToNearEndMs] = await timed(() => stopAfter(dc, () => dc.continueRequest({ threadId: 1 })));
    // variables on the shadow pages
    const frame = (await dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0]!;
    const [scopes, scopesMs] = await timed(() => dc.scopesRequest({ frameId: frame.id }));
    const pages = scopes.body.scopes.find((s) => s.name.startsWith('Shadow pages'))!;
    const [, shadowPagesVariablesMs] = await timed(() => dc.variablesRequest({ variablesReference: pages.variablesReference, filter: 'indexed', start: 0, count: 100 }));
    // stepBack at several positions (goto there first)
    const stepBackMs: { line: number; ms: number[] }[] = [];
    const steps: { ms: number; line: number; step: number }[] = [];
    for (const frac of [0.05, 0.25, 0.5, 0.75, 0.95, 1]) {
      const line = Math.max(1, Math.min(endLine, Math.round(endLine * frac)));
      const targets = (await dc.gotoTargetsRequest({ source: { path: file }, line })).body.targets;
      if (!targets.length) continue;
      await stopAfter(dc, () => dc.gotoRequest({ threadId: 1, targetId: targets[0]!.id }));
      const ms: number[] = [];
      // The line each step back starts from (the bottom frame: the event's line).
      const lines: number[] = [targets[0]!.line];
      for (let i = 0; i < 3; i++) {
        ms.push((await timed(() => stopAfter(dc, () => dc.stepBackRequest({ threadId: 1 }))))[1]);
        lines.push((await dc.stackTraceRequest({ threadId: 1 })).body.stackFrames.at(-1)!.line);
      }
      stepBackMs.push({ line: targets[0]!.line, ms });
      steps.push(...ms.map((x, i) => ({ ms: x, line: lines[i]!, step: i + 1 })));
    }
    await dc.disconnectRequest({}).catch(() => undefined);
    const mem = opts.memory === false ? { bytes: NaN, breakdown: {} } : await measureMemory(file, bpLine, audit);
    return {
      file,
      fileBytes,
      events,
      audit,
      launchToFirstStopMs,
      continueToNearEndMs,
      cliReplayMs,
      continueVsCli: continueToNearEndMs / cliReplayMs,
      stepBackMs,
      stepBackMaxMs: Math.max(...steps.map((s) => s.ms)),
      stepBackWorst: (({ line, step }) => ({ line, step }))(steps.reduce((a, b) => (b.ms > a.ms ? b : a))),
      stepBackMedianMs: median(steps.map((s) => s.ms)),
      shadowPagesVariablesMs,
      scopesMs,
      memoryBytes: mem.bytes,
      memoryVsFile: mem.bytes / fileBytes,
      memoryBreakdown: mem.breakdown,
    };
  } finally {
    dc.stop().catch(() => undefined);
  }
}

/**
 * Only the `continue` (issue 16): launch (audit on unless told), stop on
 * entry, a breakpoint on the last event's line, `continue` to it; the time
 * from the request to the stop, in ms.
 */
export async function benchContinue(tracePath: string, opts: { audit?: boolean } = {}): Promise<number> {
  const file = resolve(tracePath);
  const endLine = lastEventLine(readFileSync(file, 'utf8'));
  const dc = new DebugClient('node', adapterPath(), 'mmutrace');
  dc.defaultTimeout = 600_000;
  await dc.start();
  try {
    await dc.initializeRequest({ adapterID: 'mmutrace', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
    const initialized = dc.waitForEvent('initialized', 600_000);
    const stopped = dc.waitForEvent('stopped', 600_000);
    await dc.launchRequest({ program: file, logExits: false, audit: opts.audit ?? true } as DebugProtocol.LaunchRequestArguments);
    await initialized;
    await dc.setBreakpointsRequest({ source: { path: file }, breakpoints: [{ line: endLine }] });
    await dc.configurationDoneRequest();
    await stopped;
    const [, ms] = await timed(() => stopAfter(dc, () => dc.continueRequest({ threadId: 1 })));
    await dc.disconnectRequest({}).catch(() => undefined);
    return ms;
  } finally {
    dc.stop().catch(() => undefined);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) for (let i = 0; i < 3; i++) g();
}

function heapBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** Launches `file` (stop on entry) on an initialized client and waits for the first stop. */
async function launchToFirstStop(c: DebugClient, file: string, opts: { audit?: boolean; timeoutMs?: number } = {}): Promise<void> {
  const initialized = c.waitForEvent('initialized', opts.timeoutMs);
  const stopped = c.waitForEvent('stopped', opts.timeoutMs);
  await c.launchRequest({ program: file, logExits: false, ...(opts.audit !== undefined ? { audit: opts.audit } : {}) } as DebugProtocol.LaunchRequestArguments);
  await initialized;
  await c.configurationDoneRequest();
  await stopped;
}

/** The runtime in-process: what it holds at a stop near the end of the trace (after the background parse). */
async function measureMemory(file: string, bpLine: number, audit: boolean): Promise<{ bytes: number; breakdown: Record<string, number> }> {
  let onStop: ((s: StopInfo) => void) | null = null;
  const host: RuntimeHost = {
    output: () => undefined,
    stopped: (s) => onStop?.(s),
    terminated: () => undefined,
    progress: () => undefined,
    breakpointsChanged: () => undefined,
    invalidated: () => undefined,
  };
  const nextStop = (): Promise<StopInfo> => new Promise((res) => (onStop = res));
  gc();
  const before = heapBytes();
  const rt = new TraceRuntime(host);
  // In a function of its own, so that no frame of this async function keeps the text alive.
  loadInto(rt, file, audit);
  let stop = nextStop();
  rt.start(true);
  await stop;
  rt.setLineBreakpoints([{ line: bpLine }]);
  stop = nextStop();
  rt.continue();
  await stop;
  gc();
  const bytes = heapBytes() - before;
  const breakdown = rt.memoryReport();
  rt.dispose();
  return { bytes, breakdown };
}

function loadInto(rt: TraceRuntime, file: string, audit: boolean): void {
  rt.load({ program: file, audit, logExits: false }, readFileSync(file, 'utf8'));
}

/** The CLI's replay of a file (parse and replay, as `mmutrace run` does), in-process; with the audit when asked. */
export function cliReplayInProcess(file: string, audit: boolean): number {
  const t0 = performance.now();
  const r = parseTrace(readFileSync(file, 'utf8'));
  const m = new Machine(r.program, { audit });
  m.run();
  return performance.now() - t0;
}

/** `mmutrace run [--audit] FILE` in a fresh Node process, as a user runs it (the adapter is a fresh process too), in ms. */
export function cliReplayProcess(file: string, audit: boolean): number | undefined {
  const cli = [join(__dirname, 'cli.js'), resolve(process.cwd(), 'dist/cli.js')].find((c) => existsSync(c));
  if (!cli) return undefined;
  const t0 = performance.now();
  try {
    execFileSync(process.execPath, [cli, 'run', file, ...(audit ? ['--audit'] : [])], { stdio: 'ignore' });
  } catch {
    /* a non-zero status (an audit violation) still measured */
  }
  return performance.now() - t0;
}

export function formatDebugBench(r: DebugBenchResult): string {
  const mb = (n: number): string => `${(n / 1048576).toFixed(1)} MB`;
  const mark = (ok: boolean): string => (ok ? 'ok  ' : 'MISS');
  const lines = [
    `debugger on ${r.file} (${mb(r.fileBytes)}, ${r.events} events)${r.audit ? '' : ', audit off'}`,
    `  ${mark(r.launchToFirstStopMs <= 300)} launch → first stop          ${r.launchToFirstStopMs.toFixed(0)} ms (≤ 300)`,
    `  ${mark(r.stepBackMaxMs <= 20)} stepBack, worst              ${r.stepBackMaxMs.toFixed(1)} ms (≤ 20; from line ${r.stepBackWorst.line}, step ${r.stepBackWorst.step} there; median ${r.stepBackMedianMs.toFixed(1)} ms): ${r.stepBackMs.map((s) => `line ${s.line}: ${s.ms.map((x) => x.toFixed(1)).join('/')}`).join(', ')}`,
    `  ${mark(r.continueVsCli <= 1.5)} continue to near the end     ${r.continueToNearEndMs.toFixed(0)} ms = ${r.continueVsCli.toFixed(2)} × the CLI's ${r.cliReplayMs.toFixed(0)} ms (≤ 1.5 ×)`,
    `  ${mark(r.shadowPagesVariablesMs <= 20)} variables, shadow pages      ${r.shadowPagesVariablesMs.toFixed(1)} ms (≤ 20; scopes ${r.scopesMs.toFixed(1)} ms)`,
    `  ${Number.isNaN(r.memoryVsFile) ? 'n/a ' : mark(r.memoryVsFile <= 2)} memory at the end            ${mb(r.memoryBytes)} = ${r.memoryVsFile.toFixed(2)} × the file (≤ 2 ×): ${Object.entries(r.memoryBreakdown)
      .map(([k, v]) => `${k} ${k === 'checkpoints' ? v : mb(v)}`)
      .join(', ')}`,
  ];
  return lines.join('\n');
}

/** The debugger on a generated trace of `events` events (10M, or 100M with --huge): what issue 13 asks of it. */
export interface LargeDebugBench {
  file: string;
  fileBytes: number;
  events: number;
  /** Launch → first stop: the median of 4 fresh adapters. */
  launchToFirstStopMs: number;
  firstStopsMs: number[];
  /** Launch → the background parse's end (its progressEnd). */
  loadMs: number;
  /** goto to each fraction of the trace (a forward seek from the previous one), in ms. */
  gotoMs: { line: number; ms: number }[];
  stepBackMaxMs: number;
  stepBackMedianMs: number;
  /** The adapter process's peak resident memory (VmHWM), bytes. */
  peakRssBytes: number;
  budgetBytes: number;
}

/** Writes (once, in the temp folder) and measures the debugger on a trace of `events` events, over DAP against dist/adapter.js. */
export async function benchDebuggerLarge(events: number): Promise<LargeDebugBench> {
  const dir = join(tmpdir(), 'mmutrace-bench');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `debug-${events / 1e6}m.mmutrace`);
  const spaces = 4;
  const firstEventLine = 3 + 2 * spaces + 1;
  const lastEventLine = firstEventLine + events - 1;
  if (!existsSync(file)) writeBigTrace(file, { events, seed: 13, spaces });
  const fileBytes = statSync(file).size;
  // The first stop alone in 3 fresh adapters (the median; the machine is noisy), then a session that goes on.
  const firstStops: number[] = [];
  for (let i = 0; i < 3; i++) {
    const c = new DebugClient('node', adapterPath(), 'mmutrace');
    await c.start();
    try {
      await c.initializeRequest({ adapterID: 'mmutrace', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
      const t = performance.now();
      await launchToFirstStop(c, file);
      firstStops.push(performance.now() - t);
      await c.disconnectRequest({}).catch(() => undefined);
    } finally {
      c.stop().catch(() => undefined);
    }
  }
  const dc = new DebugClient('node', adapterPath(), 'mmutrace');
  dc.defaultTimeout = 3_600_000;
  await dc.start();
  const pid = (dc as unknown as { _adapterProcess: { pid: number } })._adapterProcess.pid;
  try {
    await dc.initializeRequest({ adapterID: 'mmutrace', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path', supportsProgressReporting: true });
    const t0 = performance.now();
    let loadMs = NaN;
    const loaded = new Promise<void>((res) =>
      dc.on('progressEnd', (e: DebugProtocol.ProgressEndEvent) => {
        if (e.body.progressId.startsWith('mmutrace-load')) {
          loadMs = performance.now() - t0;
          res();
        }
      }),
    );
    await launchToFirstStop(dc, file);
    firstStops.push(performance.now() - t0);
    const launchToFirstStopMs = median(firstStops);
    await loaded;
    const gotoMs: { line: number; ms: number }[] = [];
    const stepMs: number[] = [];
    for (const frac of [0.25, 0.5, 0.75, 1]) {
      const line = Math.min(lastEventLine, firstEventLine + Math.round((events - 1) * frac));
      const targets = (await dc.gotoTargetsRequest({ source: { path: file }, line })).body.targets;
      const [, ms] = await timed(() => stopAfter(dc, () => dc.gotoRequest({ threadId: 1, targetId: targets[0]!.id })));
      gotoMs.push({ line, ms });
      for (let i = 0; i < 3; i++) stepMs.push((await timed(() => stopAfter(dc, () => dc.stepBackRequest({ threadId: 1 }))))[1]);
    }
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const peakRssBytes = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
    await dc.disconnectRequest({}).catch(() => undefined);
    return {
      file,
      fileBytes,
      events,
      launchToFirstStopMs,
      firstStopsMs: firstStops,
      loadMs,
      gotoMs,
      stepBackMaxMs: Math.max(...stepMs),
      stepBackMedianMs: median(stepMs),
      peakRssBytes,
      budgetBytes: Math.max(0.25 * fileBytes, 500e6),
    };
  } finally {
    dc.stop().catch(() => undefined);
  }
}

export function formatLargeDebugBench(r: LargeDebugBench): string {
  const mb = (n: number): string => `${(n / 1e6).toFixed(0)} MB`;
  const mark = (ok: boolean): string => (ok ? 'ok  ' : 'MISS');
  return [
    `debugger on ${r.file} (${mb(r.fileBytes)}, ${r.events} events, audit on)`,
    `  ${mark(r.launchToFirstStopMs <= 300)} launch → first stop          ${r.launchToFirstStopMs.toFixed(0)} ms (≤ 300; median of ${r.firstStopsMs.map((x) => x.toFixed(0)).join('/')}); the rest loaded in the background in ${(r.loadMs / 1000).toFixed(1)} s`,
    `  ${mark(r.stepBackMaxMs <= 20)} stepBack, worst              ${r.stepBackMaxMs.toFixed(1)} ms (≤ 20; median ${r.stepBackMedianMs.toFixed(1)} ms; 3 after each goto)`,
    `       goto (forward, in slices)     ${r.gotoMs.map((g) => `line ${g.line}: ${(g.ms / 1000).toFixed(1)} s`).join(', ')}`,
    `  ${mark(r.peakRssBytes <= r.budgetBytes)} adapter peak memory (VmHWM)  ${mb(r.peakRssBytes)} (≤ ${mb(r.budgetBytes)} = max(0.25 × the file, 500 MB))`,
  ].join('\n');
}

async function main(): Promise<void> {
  // `--large`: the 10M-event trace (and the 100M one with `--huge`) of issue 13 instead.
  if (process.argv.includes('--large')) {
    // `--events N`: that size alone.
    const n = process.argv.indexOf('--events');
    if (n > 0) {
      console.log(formatLargeDebugBench(await benchDebuggerLarge(Number(process.argv[n + 1]))));
      return;
    }
    console.log(formatLargeDebugBench(await benchDebuggerLarge(10_000_000)));
    if (process.argv.includes('--huge')) console.log(formatLargeDebugBench(await benchDebuggerLarge(100_000_000)));
    return;
  }
  let file = process.argv[2];
  if (!file) {
    const dir = join(tmpdir(), 'mmutrace-bench');
    mkdirSync(dir, { recursive: true });
    file = join(dir, 'debug-1m.mmutrace');
    if (!existsSync(file)) writeFileSync(file, bigTrace({ events: 1_000_000 }));
  }
  const cliPlain = cliReplayProcess(file, false) ?? cliReplayInProcess(file, false);
  const cliAudit = cliReplayProcess(file, true) ?? cliReplayInProcess(file, true);
  console.log(`CLI replay (mmutrace run): ${cliPlain.toFixed(0)} ms; with --audit: ${cliAudit.toFixed(0)} ms`);
  const r = await benchDebugger(file, cliAudit);
  console.log(formatDebugBench(r));
  console.log(`(continue compared with \`mmutrace run --audit\`, the same work: the debugger audits by default; against plain \`run\`: ${(r.continueToNearEndMs / cliPlain).toFixed(2)} ×)`);
  const off = await benchDebugger(file, cliPlain, { audit: false, memory: false });
  console.log(formatDebugBench(off));
}

if (/debug-bench\.(js|ts)$/.test(process.argv[1] ?? '')) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
