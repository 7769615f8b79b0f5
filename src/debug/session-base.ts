// The Debug Adapter Protocol side of the debugger, part 1 of 4: the session's
// state, its runtime and the runtime's reports turned into DAP events
// (stopped, output, progress), lines and sources, and the small helpers of
// every request. The later parts: session-breakpoints.ts (the breakpoint
// requests), session-inspect.ts (threads, frames, variables, evaluation,
// memory) and session.ts (dispatch, life cycle, execution control).
//
// Every request gets a response: a request with missing or wrong arguments,
// an unknown reference or one that comes at the wrong time is answered with an
// error, and an exception in a handler becomes an error response too.

import {
  BreakpointEvent,
  DebugSession,
  InvalidatedEvent,
  OutputEvent,
  ProgressEndEvent,
  ProgressStartEvent,
  ProgressUpdateEvent,
  StoppedEvent,
  TerminatedEvent,
} from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { NameDoc } from '../expr';
import { TraceRuntime, type BpSpec, type LineBp, type StopInfo } from './runtime';
import type { ViewContext, VarNode } from './views';
import { FrameReader } from './framing';
import type { TraceSource } from './source';



/** The most breakpoints in one setBreakpoints, setFunctionBreakpoints or setDataBreakpoints request. */
export const MAX_BREAKPOINTS = 10_000;
/** The most entries of `filters` and `filterOptions` together in one setExceptionBreakpoints request. */
export const MAX_FILTER_OPTIONS = 1000;

/** How the session reads the trace (the web build of the extension passes its own). */
export interface SessionOptions {
  /** The trace's text (the extension reads through vscode.workspace.fs). */
  readFile?: (path: string) => Promise<string>;
  /**
   * Or a source that reads the trace in parts (default on Node when readFile
   * is not given: filesource.ts), or the text when the opener decides so
   * (the desktop extension: an open editor's text, else the file in parts).
   */
  openSource?: (path: string) => Promise<TraceSource | string>;
  /** Absolute path of a relative `program` (default: the process's working directory). */
  cwd?: string;
}

/** A request the adapter refuses: answered with an error the client does not show (most are races or client mistakes). */
export class UserError extends Error {}
/**
 * A mistake of the user's own (a launch configuration that is wrong, an expression typed that does
 * not parse): its error response asks the client to show it (`showUser`). README, the debugger, item 16.
 */
export class ShownError extends UserError {}

/** The `exit` name of the debugger, for completion and hover. */
export const EXIT_DOC: NameDoc = {
  name: 'exit',
  kind: 'name',
  signature: 'exit',
  doc: 'The VM exit of the last event: `exit.reason` ("page-fault", "cr3" or "none"), `exit.outcome` ("fill", "inject", "emulate" or "none"), `exit.count`.',
  members: [
    { name: 'reason', kind: 'member', signature: 'exit.reason', doc: 'Why the last event exited: "page-fault", "cr3", or "none".' },
    { name: 'outcome', kind: 'member', signature: 'exit.outcome', doc: 'What the page-fault handler did: "fill", "inject", "emulate", or "none".' },
    { name: 'count', kind: 'member', signature: 'exit.count', doc: 'How many exits the last event caused (`last.exits`).' },
  ],
};

export const MAX_READ_MEMORY = 1 << 20;

export interface FrameRef {
  thread: number;
  index: number;
}

async function nodeOpenSource(path: string): Promise<TraceSource> {
  // Imported here so that the web build never loads node:fs.
  const { openFileSource } = await import('./filesource');
  return openFileSource(path);
}

export function resolvePath(p: string, cwd: string | undefined): string {
  // Absolute: a POSIX or Windows path, or a URI (`vscode-vfs://…`, `file:///…`: a scheme of two letters or more).
  if (/^([a-zA-Z]:[\\/]|[\\/]|[a-zA-Z][a-zA-Z0-9+.-]+:)/.test(p)) return p;
  const base = cwd ?? (typeof process !== 'undefined' ? process.cwd() : '/');
  return `${base.replace(/[\\/]+$/, '')}/${p}`;
}

export function samePath(a: string, b: string): boolean {
  const norm = (p: string): string => p.replace(/\\/g, '/').replace(/\/+/g, '/');
  const x = norm(a);
  const y = norm(b);
  return x === y || ((process.platform === 'win32' || process.platform === 'darwin') && x.toLowerCase() === y.toLowerCase());
}

export abstract class SessionBase extends DebugSession {
  protected readonly rt: TraceRuntime;
  /** Opens the trace: its text or a source that reads it in parts. */
  protected readonly openTrace: (path: string) => Promise<string | TraceSource>;
  protected readonly cwd: string | undefined;
  protected clientCaps: DebugProtocol.InitializeRequestArguments | null = null;
  protected linesStartAt1 = true;
  protected columnsStartAt1 = true;
  protected launchArgs: Record<string, unknown> | null = null;
  protected launching = false;
  protected configured = false;
  protected started = false;
  protected stopOnEntry = true;
  protected noDebug = false;
  protected pendingLineBps: { path: string; specs: BpSpec[] } | null = null;
  // Per stop.
  protected view: ViewContext | null = null;
  protected frames = new Map<number, FrameRef>();
  protected nextFrameId = 1;
  protected vars = new Map<number, VarNode>();
  protected nextVarRef = 1;
  protected progressId = 0;
  /** The open progress sequence of each channel, by id. */
  protected readonly progressOpen = new Map<'load' | 'run', string>();

  constructor(options?: SessionOptions | boolean, isServer?: boolean) {
    super(typeof options === 'boolean' ? options : undefined, isServer);
    const opts = typeof options === 'object' && options !== null ? options : {};
    this.openTrace = opts.readFile ?? opts.openSource ?? nodeOpenSource;
    this.cwd = opts.cwd;
    this.setDebuggerLinesStartAt1(true);
    this.setDebuggerColumnsStartAt1(true);
    // On a stream (stdio), our own reader of the framing in place of the library's (framing.ts).
    const reader = new FrameReader(
      (msg) => {
        if (msg.type === 'request' || msg.type === 'response') this.handleMessage(msg as unknown as DebugProtocol.ProtocolMessage);
        else this.badMessage(`a message of type ${JSON.stringify(msg.type ?? null)?.slice(0, 40)}, not a request: skipped`);
      },
      (text) => this.badMessage(text),
    );
    (this as unknown as { _handleData: (data: Buffer) => void })._handleData = (data) => reader.push(data);
    this.rt = new TraceRuntime({
      output: (category, text, line) => this.output(category, text, line),
      stopped: (stop) => this.onStopped(stop),
      terminated: () => {
        this.closeProgress();
        this.sendEvent(new TerminatedEvent());
      },
      progress: (kind, message, percentage, channel) => this.onProgress(kind, message, percentage, channel),
      breakpointsChanged: (bps) => {
        for (const bp of bps) this.sendEvent(new BreakpointEvent('changed', this.lineBpToDap(bp)));
      },
      invalidated: () => {
        if (this.clientCaps?.supportsInvalidatedEvent) this.sendEvent(new InvalidatedEvent(['variables']));
      },
    });
  }

  /** The runtime (for tests and the benchmark). */
  get runtime(): TraceRuntime {
    return this.rt;
  }

  /** A message the client sent that is not one (framing.ts): said on stderr and in the Debug Console; the session goes on. */
  protected badMessage(text: string): void {
    process.stderr.write(`mmutrace debugger: ${text}\n`);
    this.sendEvent(new OutputEvent(`mmutrace debugger: ${text}\n`, 'stderr'));
  }

  // ---------------------------------------------------------------------------
  // Events from the runtime

  protected onStopped(stop: StopInfo): void {
    this.resetStop();
    if (this.noDebug && this.rt.position.kind === 'end') {
      const m = this.rt.machine;
      const e = m.mmu.exits;
      this.output('console', `${m.events} events, ${e.total} exits (pf ${e.pf}: fill ${e.fill}, inject ${e.inject}, emulate ${e.emulate}; cr3 ${e.cr3}), ${m.mmu.faults} faults injected, expectations ${m.expectations.passed} passed ${m.expectations.failed} failed, audit ${m.auditor ? `${m.auditor.count} violations` : 'off'}\n`);
      this.rt.terminate();
      return;
    }
    const ev = new StoppedEvent(stop.reason, stop.vcpu + 1) as DebugProtocol.StoppedEvent;
    // VS Code shows no thread row for a single-thread session: the description (the Call
    // Stack header) names the vCPU of the event.
    ev.body.description = `vCPU ${stop.vcpu}: ${stop.description}`;
    if (stop.text) ev.body.text = stop.text;
    ev.body.allThreadsStopped = true;
    ev.body.preserveFocusHint = false;
    if (stop.hitBreakpointIds.length) ev.body.hitBreakpointIds = stop.hitBreakpointIds;
    this.sendEvent(ev);
  }

  protected resetStop(): void {
    this.view = null;
    this.frames.clear();
    this.vars.clear();
  }

  protected output(category: string, text: string, line?: number): void {
    const e = new OutputEvent(text, category) as DebugProtocol.OutputEvent;
    if (line !== undefined && this.rt.programPath) {
      e.body.source = this.source();
      e.body.line = this.toClientLine(line);
    }
    this.sendEvent(e);
  }

  /**
   * Progress events, one sequence open at most per channel: `load` (the
   * background parse, not cancellable) and `run` (a run or long seek: its
   * cancel stops it like a pause).
   */
  protected onProgress(kind: 'start' | 'update' | 'end', message: string, percentage?: number, channel: 'load' | 'run' = 'load'): void {
    if (!this.clientCaps?.supportsProgressReporting) return;
    if (kind === 'start') {
      this.closeProgress(channel);
      const id = `mmutrace-${channel}-${++this.progressId}`;
      const e = new ProgressStartEvent(id, message) as DebugProtocol.ProgressStartEvent;
      e.body.percentage = percentage ?? 0;
      e.body.cancellable = channel === 'run';
      this.sendEvent(e);
      this.progressOpen.set(channel, id);
    } else {
      const id = this.progressOpen.get(channel);
      if (id === undefined) return;
      if (kind === 'update') {
        const e = new ProgressUpdateEvent(id, message) as DebugProtocol.ProgressUpdateEvent;
        if (percentage !== undefined) e.body.percentage = percentage;
        this.sendEvent(e);
      } else {
        this.sendEvent(new ProgressEndEvent(id, message));
        this.progressOpen.delete(channel);
      }
    }
  }

  /** Ends the open progress sequence of `channel` (of every channel when none is named). */
  protected closeProgress(channel?: 'load' | 'run'): void {
    for (const [c, id] of [...this.progressOpen]) {
      if (channel !== undefined && c !== channel) continue;
      this.sendEvent(new ProgressEndEvent(id));
      this.progressOpen.delete(c);
    }
  }

  // ---------------------------------------------------------------------------
  // Lines and sources

  protected toClientLine(line: number): number {
    return this.linesStartAt1 ? line : line - 1;
  }

  protected fromClientLine(line: number): number {
    return this.linesStartAt1 ? line : line + 1;
  }

  protected source(): DebugProtocol.Source {
    const p = this.rt.programPath;
    return { name: p.split(/[\\/]/).pop() ?? p, path: p };
  }

  protected sourcePath(a: Record<string, unknown>): string {
    const s = a.source;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new UserError('`source` is required');
    const p = (s as Record<string, unknown>).path;
    if (typeof p !== 'string' || p === '') throw new UserError('`source.path` is required: the trace has no other kind of source');
    return p;
  }

  protected isProgram(path: string): boolean {
    return this.rt.loaded && samePath(resolvePath(path, this.cwd), this.rt.programPath);
  }

  protected lineBpToDap(bp: LineBp): DebugProtocol.Breakpoint {
    const out: DebugProtocol.Breakpoint = { id: bp.id, verified: bp.verified, line: this.toClientLine(bp.line), source: this.rt.loaded ? this.source() : undefined };
    if (bp.message) out.message = bp.message;
    if (bp.pending) out.reason = 'pending';
    return out;
  }

  protected requireLaunched(): void {
    if (!this.rt.loaded) throw new UserError('no trace is loaded: send `launch` first');
  }

  protected requireStopped(): void {
    this.requireLaunched();
    if (this.rt.state === 'running') throw new UserError('the trace is running; pause it first');
    if (this.rt.state !== 'stopped') throw new UserError(this.rt.state === 'terminated' ? 'the debug session has ended' : 'the trace has not started yet (configurationDone)');
  }

}

export function int(a: Record<string, unknown>, key: string): number {
  const v = a[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new UserError(`\`${key}\` must be an integer`);
  return v;
}

export function optInt(a: Record<string, unknown>, key: string): number | undefined {
  return a[key] === undefined ? undefined : int(a, key);
}

export function isHex(format: unknown): boolean {
  return typeof format === 'object' && format !== null && (format as Record<string, unknown>).hex === true;
}
