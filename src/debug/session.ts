// The Debug Adapter Protocol side of the debugger: it validates requests,
// translates them for the runtime (runtime.ts) and the runtime's reports into
// DAP events. Runs on stdio (adapter.ts) or in-process (the extension hands
// `new MmuTraceSession()` to VS Code as an inline implementation).
//
// Every request gets a response: a request with missing or wrong arguments,
// an unknown reference or one that comes at the wrong time is answered with an
// error, and an exception in a handler becomes an error response too.

import {
  BreakpointEvent,
  DebugSession,
  InitializedEvent,
  InvalidatedEvent,
  OutputEvent,
  ProgressEndEvent,
  ProgressStartEvent,
  ProgressUpdateEvent,
  Response,
  StoppedEvent,
  TerminatedEvent,
} from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { POLICY_NAMES, SHADOW_FRAME_BASE, spteToBigInt } from '../engine';
import { completeExpr, formatValue, parseExpr, type Expr, type NameDoc, type Value } from '../expr';
import { DEBUG_NAMES, FILTERS } from './breakpoints';
import { guestEntryText, hx, rowText, shadowEntryText } from './format';
import { LaunchError, RuntimeError, TraceRuntime, formatDiagnostics, type BpSpec, type LineBp, type StopInfo } from './runtime';
import { ViewContext, buildScopes, type VarNode } from './views';
import { FrameReader } from './framing';
import { LINE_EFFECTS_CAPABILITY, LINE_EFFECTS_REQUEST } from './lineeffects';
import { MMU_MAP_CAPABILITY, MMU_MAP_REQUEST, buildMmuMap, parseMmuMapArgs } from './mmumap';

export { formatDiagnostics };

/** The most breakpoints in one setBreakpoints, setFunctionBreakpoints or setDataBreakpoints request. */
export const MAX_BREAKPOINTS = 10_000;
/** The most entries of `filters` and `filterOptions` together in one setExceptionBreakpoints request. */
export const MAX_FILTER_OPTIONS = 1000;

/** How the session reads the trace (the web build of the extension passes its own). */
export interface SessionOptions {
  readFile?: (path: string) => Promise<string>;
  /** Absolute path of a relative `program` (default: the process's working directory). */
  cwd?: string;
}

/** A request the adapter refuses: answered with an error the client does not show (most are races or client mistakes). */
class UserError extends Error {}
/**
 * A mistake of the user's own (a launch configuration that is wrong, an expression typed that does
 * not parse): its error response asks the client to show it (`showUser`). README, the debugger, item 16.
 */
class ShownError extends UserError {}

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

const MAX_READ_MEMORY = 1 << 20;

interface FrameRef {
  thread: number;
  index: number;
}

async function nodeReadFile(path: string): Promise<string> {
  // The shared bounded reader (src/io/read.ts): refuses devices, FIFOs and
  // files over the cap before reading, counts bytes as it reads. Imported
  // here so that the web build never loads node:fs.
  const { readTrace, badUtf8Message } = await import('../io/read');
  const r = await readTrace(path);
  if (r.badUtf8) throw new LaunchError(`${path}:${r.badUtf8.line}:${r.badUtf8.col}: error: ${badUtf8Message(r.badUtf8)}`);
  return r.text;
}

export function resolvePath(p: string, cwd: string | undefined): string {
  // Absolute: a POSIX or Windows path, or a URI (`vscode-vfs://…`, `file:///…`: a scheme of two letters or more).
  if (/^([a-zA-Z]:[\\/]|[\\/]|[a-zA-Z][a-zA-Z0-9+.-]+:)/.test(p)) return p;
  const base = cwd ?? (typeof process !== 'undefined' ? process.cwd() : '/');
  return `${base.replace(/[\\/]+$/, '')}/${p}`;
}

function samePath(a: string, b: string): boolean {
  const norm = (p: string): string => p.replace(/\\/g, '/').replace(/\/+/g, '/');
  const x = norm(a);
  const y = norm(b);
  return x === y || ((process.platform === 'win32' || process.platform === 'darwin') && x.toLowerCase() === y.toLowerCase());
}

export class MmuTraceSession extends DebugSession {
  private readonly rt: TraceRuntime;
  private readonly readFile: (path: string) => Promise<string>;
  private readonly cwd: string | undefined;
  private clientCaps: DebugProtocol.InitializeRequestArguments | null = null;
  private linesStartAt1 = true;
  private columnsStartAt1 = true;
  private launchArgs: Record<string, unknown> | null = null;
  private launching = false;
  private configured = false;
  private started = false;
  private stopOnEntry = true;
  private noDebug = false;
  private pendingLineBps: { path: string; specs: BpSpec[] } | null = null;
  // Per stop.
  private view: ViewContext | null = null;
  private frames = new Map<number, FrameRef>();
  private nextFrameId = 1;
  private vars = new Map<number, VarNode>();
  private nextVarRef = 1;
  private progressId = 0;
  private progressOpen = false;

  constructor(options?: SessionOptions | boolean, isServer?: boolean) {
    super(typeof options === 'boolean' ? options : undefined, isServer);
    const opts = typeof options === 'object' && options !== null ? options : {};
    this.readFile = opts.readFile ?? nodeReadFile;
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
      progress: (kind, message, percentage) => this.onProgress(kind, message, percentage),
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
  private badMessage(text: string): void {
    process.stderr.write(`mmutrace debugger: ${text}\n`);
    this.sendEvent(new OutputEvent(`mmutrace debugger: ${text}\n`, 'stderr'));
  }

  // ---------------------------------------------------------------------------
  // Dispatch

  protected override dispatchRequest(request: DebugProtocol.Request): void {
    const response = new Response(request);
    let result: unknown;
    try {
      if (typeof request !== 'object' || request === null || typeof request.command !== 'string') throw new UserError('malformed request');
      const args = (request.arguments ?? {}) as Record<string, unknown>;
      if (typeof args !== 'object' || Array.isArray(args)) throw new UserError('the arguments must be an object');
      result = this.handle(request.command, args);
    } catch (e) {
      this.fail(response, e);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (body) => this.ok(response, body),
        (e) => this.fail(response, e),
      );
    } else this.ok(response, result);
  }

  private ok(response: DebugProtocol.Response, body: unknown): void {
    if (body !== undefined) response.body = body;
    this.sendResponse(response);
  }

  private fail(response: DebugProtocol.Response, e: unknown): void {
    const known = e instanceof UserError || e instanceof RuntimeError || e instanceof LaunchError;
    const message = known ? (e as Error).message : `internal error: ${e instanceof Error ? e.message : String(e)}`;
    response.success = false;
    response.message = message;
    response.body = { error: { id: known ? 1 : 2, format: message, showUser: e instanceof ShownError || e instanceof LaunchError } };
    this.sendResponse(response);
    if (!known && e instanceof Error && e.stack) this.output('stderr', `mmutrace debugger: ${e.stack}\n`);
  }

  private handle(command: string, a: Record<string, unknown>): unknown {
    switch (command) {
      case 'initialize':
        return this.initialize(a);
      case 'launch':
        return this.launch(a);
      case 'attach':
        throw new UserError('mmutrace replays a trace file: use a `launch` configuration');
      case 'configurationDone':
        return this.configurationDone();
      case 'restart':
        return this.restart(a);
      case 'disconnect':
        this.rt.dispose();
        this.closeProgress();
        // Answer first, then shut down (the base class exits the process on stdio, not in-process).
        setImmediate(() => this.shutdown());
        return undefined;
      case 'terminate':
        this.requireLaunched();
        this.rt.terminate();
        return undefined;
      case 'setBreakpoints':
        return this.setBreakpoints(a);
      case 'setFunctionBreakpoints':
        return this.setFunctionBreakpoints(a);
      case 'setExceptionBreakpoints':
        return this.setExceptionBreakpoints(a);
      case 'dataBreakpointInfo':
        return this.dataBreakpointInfo(a);
      case 'setDataBreakpoints':
        return this.setDataBreakpoints(a);
      case 'breakpointLocations':
        return this.breakpointLocations(a);
      case 'threads':
        return this.threads();
      case 'stackTrace':
        return this.stackTrace(a);
      case 'scopes':
        return this.scopes(a);
      case 'variables':
        return this.variables(a);
      case 'evaluate':
        return this.evaluate(a);
      case 'completions':
        return this.completions(a);
      case 'exceptionInfo':
        return this.exceptionInfo(a);
      case 'readMemory':
        return this.readMemory(a);
      case 'continue':
        this.motion(a, () => this.rt.continue());
        return { allThreadsContinued: true };
      case 'next':
        return this.motion(a, () => this.rt.next());
      case 'stepIn':
        return this.motion(a, () => this.rt.stepIn());
      case 'stepOut':
        return this.motion(a, () => this.rt.stepOut());
      case 'stepBack':
        return this.motion(a, () => this.rt.stepBack());
      case 'reverseContinue':
        return this.motion(a, () => this.rt.reverseContinue());
      case 'pause':
        this.requireLaunched();
        optInt(a, 'threadId');
        if (!this.rt.pause()) throw new UserError('the trace is not running');
        return undefined;
      case 'goto':
        return this.goto(a);
      case 'gotoTargets':
        return this.gotoTargets(a);
      case MMU_MAP_REQUEST:
        return this.mmuMap(a);
      case LINE_EFFECTS_REQUEST:
        return this.lineEffects(a);
      case 'source':
        throw new UserError('no source is available for this reference: the trace is a file on disk');
      default:
        throw new UserError(`the mmutrace debugger does not support the \`${command}\` request`);
    }
  }

  // ---------------------------------------------------------------------------
  // Life cycle

  private initialize(a: Record<string, unknown>): DebugProtocol.Capabilities {
    if (this.clientCaps) throw new UserError('the session is already initialized');
    this.clientCaps = a as unknown as DebugProtocol.InitializeRequestArguments;
    if (typeof a.linesStartAt1 === 'boolean') this.linesStartAt1 = a.linesStartAt1;
    if (typeof a.columnsStartAt1 === 'boolean') this.columnsStartAt1 = a.columnsStartAt1;
    return {
      supportsConfigurationDoneRequest: true,
      supportsFunctionBreakpoints: true,
      supportsConditionalBreakpoints: true,
      supportsHitConditionalBreakpoints: true,
      supportsEvaluateForHovers: true,
      exceptionBreakpointFilters: FILTERS.map((f) => ({
        filter: f.id,
        label: f.label,
        description: f.description,
        default: f.default,
        supportsCondition: true,
        conditionDescription: f.conditionDescription,
      })),
      supportsStepBack: true,
      supportsSetVariable: false,
      supportsRestartFrame: false,
      supportsGotoTargetsRequest: true,
      supportsStepInTargetsRequest: false,
      supportsCompletionsRequest: true,
      completionTriggerCharacters: ['.'],
      supportsModulesRequest: false,
      supportsRestartRequest: true,
      supportsExceptionOptions: false,
      supportsValueFormattingOptions: true,
      supportsExceptionInfoRequest: true,
      supportTerminateDebuggee: false,
      supportSuspendDebuggee: false,
      supportsDelayedStackTraceLoading: true,
      supportsLoadedSourcesRequest: false,
      supportsLogPoints: true,
      supportsTerminateThreadsRequest: false,
      supportsSetExpression: false,
      supportsTerminateRequest: true,
      supportsDataBreakpoints: true,
      supportsReadMemoryRequest: true,
      supportsWriteMemoryRequest: false,
      supportsDisassembleRequest: false,
      supportsCancelRequest: false,
      supportsBreakpointLocationsRequest: true,
      supportsClipboardContext: false,
      supportsSteppingGranularity: false,
      supportsInstructionBreakpoints: false,
      supportsExceptionFilterOptions: true,
      supportsSingleThreadExecutionRequests: false,
      // Custom: the MMU map panel's request (see mmumap.ts).
      [MMU_MAP_CAPABILITY]: true,
      // Custom: what each line run so far did, for the editor's inline values (see lineeffects.ts).
      [LINE_EFFECTS_CAPABILITY]: true,
    } as DebugProtocol.Capabilities;
  }

  private parseLaunchArgs(a: Record<string, unknown>): { program: string; policy?: string; stopOnEntry: boolean; audit: boolean; logExits: boolean; noDebug: boolean } {
    if (typeof a.program !== 'string' || a.program.trim() === '') throw new ShownError('launch: `program` (the path of a .mmutrace file) is required');
    if (a.policy !== undefined && typeof a.policy !== 'string') throw new ShownError('launch: `policy` must be a string');
    if (typeof a.policy === 'string' && !POLICY_NAMES.includes(a.policy)) throw new ShownError(`launch: unknown policy \`${a.policy}\`; known policies: ${POLICY_NAMES.join(', ')}`);
    const bool = (k: string, d: boolean): boolean => {
      const v = a[k];
      if (v === undefined) return d;
      if (typeof v !== 'boolean') throw new ShownError(`launch: \`${k}\` must be true or false`);
      return v;
    };
    return {
      program: resolvePath(a.program, this.cwd),
      policy: a.policy as string | undefined,
      stopOnEntry: bool('stopOnEntry', true),
      audit: bool('audit', true),
      logExits: bool('logExits', true),
      noDebug: bool('noDebug', false),
    };
  }

  private async launch(a: Record<string, unknown>): Promise<void> {
    if (!this.clientCaps) throw new UserError('launch before initialize');
    if (this.launching || this.rt.state !== 'unloaded') throw new UserError('the session has already launched a trace');
    const args = this.parseLaunchArgs(a);
    this.launching = true;
    try {
      await this.loadTrace(args);
    } finally {
      this.launching = false;
    }
    this.launchArgs = a;
    this.stopOnEntry = args.stopOnEntry;
    this.noDebug = args.noDebug;
    this.sendEvent(new InitializedEvent());
    if (this.configured) setImmediate(() => this.begin());
  }

  private async loadTrace(args: ReturnType<MmuTraceSession['parseLaunchArgs']>): Promise<void> {
    let text: string;
    try {
      text = await this.readFile(args.program);
    } catch (e) {
      if (e instanceof LaunchError) throw e;
      const err = e as NodeJS.ErrnoException;
      throw new LaunchError(`cannot read ${args.program}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
    }
    this.rt.load({ program: args.program, policy: args.policy, audit: args.audit, logExits: args.logExits }, text);
    if (args.noDebug) {
      this.rt.setLineBreakpoints([]);
      this.rt.setFunctionBreakpoints([]);
      this.rt.setDataBreakpoints([]);
      this.rt.setExceptionFilters([]);
    }
    if (this.pendingLineBps && samePath(this.pendingLineBps.path, args.program)) {
      const bps = this.rt.setLineBreakpoints(this.pendingLineBps.specs);
      for (const bp of bps) this.sendEvent(new BreakpointEvent('changed', this.lineBpToDap(bp)));
    }
    this.pendingLineBps = null;
  }

  private configurationDone(): void {
    if (!this.clientCaps) throw new UserError('configurationDone before initialize');
    if (this.configured) throw new UserError('configuration is already done');
    this.configured = true;
    if (this.rt.state === 'loaded') setImmediate(() => this.begin());
  }

  private begin(): void {
    if (this.started || this.rt.state !== 'loaded') return;
    this.started = true;
    try {
      this.rt.start(this.noDebug ? false : this.stopOnEntry);
    } catch (e) {
      this.output('stderr', `${e instanceof Error ? e.message : String(e)}\n`);
    }
  }

  private async restart(a: Record<string, unknown>): Promise<void> {
    this.requireLaunched();
    const given = a.arguments;
    if (given !== undefined && (typeof given !== 'object' || given === null || Array.isArray(given))) throw new ShownError('restart: `arguments` must be an object');
    const raw = (given as Record<string, unknown> | undefined) ?? this.launchArgs ?? {};
    const args = this.parseLaunchArgs(raw);
    this.resetStop();
    this.closeProgress();
    await this.loadTrace(args);
    this.launchArgs = raw;
    this.stopOnEntry = args.stopOnEntry;
    this.noDebug = args.noDebug;
    this.started = false;
    setImmediate(() => this.begin());
  }

  private requireLaunched(): void {
    if (!this.rt.loaded) throw new UserError('no trace is loaded: send `launch` first');
  }

  private requireStopped(): void {
    this.requireLaunched();
    if (this.rt.state === 'running') throw new UserError('the trace is running; pause it first');
    if (this.rt.state !== 'stopped') throw new UserError(this.rt.state === 'terminated' ? 'the debug session has ended' : 'the trace has not started yet (configurationDone)');
  }

  private motion(a: Record<string, unknown>, run: () => void): undefined {
    this.requireLaunched();
    optInt(a, 'threadId');
    run();
    this.resetStop();
    return undefined;
  }

  // ---------------------------------------------------------------------------
  // Events from the runtime

  private onStopped(stop: StopInfo): void {
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

  private resetStop(): void {
    this.view = null;
    this.frames.clear();
    this.vars.clear();
  }

  private output(category: string, text: string, line?: number): void {
    const e = new OutputEvent(text, category) as DebugProtocol.OutputEvent;
    if (line !== undefined && this.rt.programPath) {
      e.body.source = this.source();
      e.body.line = this.toClientLine(line);
    }
    this.sendEvent(e);
  }

  private onProgress(kind: 'start' | 'update' | 'end', message: string, percentage?: number): void {
    if (!this.clientCaps?.supportsProgressReporting) return;
    if (kind === 'start') {
      this.closeProgress();
      const id = `mmutrace-load-${++this.progressId}`;
      const e = new ProgressStartEvent(id, message) as DebugProtocol.ProgressStartEvent;
      e.body.percentage = percentage ?? 0;
      e.body.cancellable = false;
      this.sendEvent(e);
      this.progressOpen = true;
    } else if (this.progressOpen) {
      const id = `mmutrace-load-${this.progressId}`;
      if (kind === 'update') {
        const e = new ProgressUpdateEvent(id, message) as DebugProtocol.ProgressUpdateEvent;
        if (percentage !== undefined) e.body.percentage = percentage;
        this.sendEvent(e);
      } else {
        this.sendEvent(new ProgressEndEvent(id, message));
        this.progressOpen = false;
      }
    }
  }

  private closeProgress(): void {
    if (this.progressOpen) {
      this.sendEvent(new ProgressEndEvent(`mmutrace-load-${this.progressId}`));
      this.progressOpen = false;
    }
  }

  // ---------------------------------------------------------------------------
  // Lines and sources

  private toClientLine(line: number): number {
    return this.linesStartAt1 ? line : line - 1;
  }

  private fromClientLine(line: number): number {
    return this.linesStartAt1 ? line : line + 1;
  }

  private source(): DebugProtocol.Source {
    const p = this.rt.programPath;
    return { name: p.split(/[\\/]/).pop() ?? p, path: p };
  }

  private sourcePath(a: Record<string, unknown>): string {
    const s = a.source;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new UserError('`source` is required');
    const p = (s as Record<string, unknown>).path;
    if (typeof p !== 'string' || p === '') throw new UserError('`source.path` is required: the trace has no other kind of source');
    return p;
  }

  private isProgram(path: string): boolean {
    return this.rt.loaded && samePath(resolvePath(path, this.cwd), this.rt.programPath);
  }

  // ---------------------------------------------------------------------------
  // Breakpoints

  private lineBpToDap(bp: LineBp): DebugProtocol.Breakpoint {
    const out: DebugProtocol.Breakpoint = { id: bp.id, verified: bp.verified, line: this.toClientLine(bp.line), source: this.rt.loaded ? this.source() : undefined };
    if (bp.message) out.message = bp.message;
    if (bp.pending) out.reason = 'pending';
    return out;
  }

  private specs(a: Record<string, unknown>, key: string, kind: 'line' | 'name' | 'dataId'): BpSpec[] {
    const list = a[key];
    if (!Array.isArray(list)) throw new UserError(`\`${key}\` must be an array`);
    if (list.length > MAX_BREAKPOINTS) throw new UserError(`too many breakpoints: ${list.length} in one request, at most ${MAX_BREAKPOINTS}`);
    return list.map((x, i) => {
      if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new UserError(`\`${key}[${i}]\` must be an object`);
      const o = x as Record<string, unknown>;
      const spec: BpSpec = {};
      if (kind === 'line') {
        if (!Number.isSafeInteger(o.line) || (o.line as number) < 0) throw new UserError(`\`${key}[${i}].line\` must be a line number`);
        spec.line = this.fromClientLine(o.line as number);
      } else if (kind === 'name') {
        if (typeof o.name !== 'string') throw new UserError(`\`${key}[${i}].name\` must be a string`);
        spec.name = o.name;
      } else {
        if (typeof o.dataId !== 'string') throw new UserError(`\`${key}[${i}].dataId\` must be a string`);
        spec.dataId = o.dataId;
      }
      for (const k of ['condition', 'hitCondition', 'logMessage'] as const) {
        const v = o[k];
        if (v === undefined || v === null) continue;
        if (typeof v !== 'string') throw new UserError(`\`${key}[${i}].${k}\` must be a string`);
        spec[k] = v;
      }
      return spec;
    });
  }

  private setBreakpoints(a: Record<string, unknown>): DebugProtocol.SetBreakpointsResponse['body'] {
    const path = this.sourcePath(a);
    let specs: BpSpec[];
    if (a.breakpoints !== undefined) specs = this.specs(a, 'breakpoints', 'line');
    else if (Array.isArray(a.lines)) specs = this.specs({ lines: a.lines.map((line) => ({ line })) }, 'lines', 'line');
    else specs = [];
    if (!this.rt.loaded) {
      // Before launch: kept, and placed once the trace is loaded.
      this.pendingLineBps = { path: resolvePath(path, this.cwd), specs };
      return { breakpoints: specs.map((s) => ({ verified: false, line: this.toClientLine(s.line!), message: 'the trace is not loaded yet' })) };
    }
    if (!this.isProgram(path) || this.noDebug) {
      const message = this.noDebug ? 'breakpoints are off: the trace runs without debugging' : `not the trace being debugged (${this.rt.programPath})`;
      return { breakpoints: specs.map((s) => ({ verified: false, line: this.toClientLine(s.line!), message })) };
    }
    const bps = this.rt.setLineBreakpoints(specs);
    return { breakpoints: bps.map((bp) => this.lineBpToDap(bp)) };
  }

  private setFunctionBreakpoints(a: Record<string, unknown>): DebugProtocol.SetFunctionBreakpointsResponse['body'] {
    const specs = this.specs(a, 'breakpoints', 'name');
    if (this.noDebug) return { breakpoints: specs.map(() => ({ verified: false, message: 'breakpoints are off: the trace runs without debugging' })) };
    const bps = this.rt.setFunctionBreakpoints(specs);
    return { breakpoints: bps.map((bp) => ({ id: bp.id, verified: bp.verified, message: bp.message })) };
  }

  private setExceptionBreakpoints(a: Record<string, unknown>): DebugProtocol.SetExceptionBreakpointsResponse['body'] {
    if (!Array.isArray(a.filters) || !a.filters.every((f) => typeof f === 'string')) throw new UserError('`filters` must be an array of filter ids');
    const options = Array.isArray(a.filterOptions) ? a.filterOptions.length : 0;
    if (a.filters.length + options > MAX_FILTER_OPTIONS) {
      throw new UserError(`too many exception filters: ${a.filters.length} in \`filters\` and ${options} in \`filterOptions\`, at most ${MAX_FILTER_OPTIONS} in all (there are ${FILTERS.length} filters)`);
    }
    const list: { id: string; condition?: string }[] = (a.filters as string[]).map((id) => ({ id }));
    if (a.filterOptions !== undefined) {
      if (!Array.isArray(a.filterOptions)) throw new UserError('`filterOptions` must be an array');
      for (const [i, o] of a.filterOptions.entries()) {
        if (typeof o !== 'object' || o === null || typeof (o as Record<string, unknown>).filterId !== 'string') throw new UserError(`\`filterOptions[${i}].filterId\` must be a string`);
        const c = (o as Record<string, unknown>).condition;
        if (c !== undefined && typeof c !== 'string') throw new UserError(`\`filterOptions[${i}].condition\` must be a string`);
        list.push({ id: (o as Record<string, unknown>).filterId as string, condition: c as string | undefined });
      }
    }
    if (this.noDebug) return { breakpoints: list.map(() => ({ verified: false, message: 'no debugging in this launch' })) };
    return { breakpoints: this.rt.setExceptionFilters(list) };
  }

  private dataBreakpointInfo(a: Record<string, unknown>): DebugProtocol.DataBreakpointInfoResponse['body'] {
    if (typeof a.name !== 'string') throw new UserError('`name` is required');
    const ref = a.variablesReference;
    if (ref === undefined || ref === null) {
      return { dataId: null, description: 'Data breakpoints can be set on guest and shadow entries shown as variables (page-table entries in the walks, tables and shadow pages).' };
    }
    if (!Number.isSafeInteger(ref)) throw new UserError('`variablesReference` must be an integer');
    const node = this.vars.get(ref as number);
    if (!node) throw new UserError(`unknown variablesReference ${ref}`);
    const child = childNamed(node, a.name);
    if (!child) throw new UserError(`no variable \`${a.name}\` in that container`);
    if (!child.data) return { dataId: null, description: `\`${child.name}\` is not a guest or shadow entry` };
    return {
      dataId: child.data.dataId,
      description: `${child.data.label} changes`,
      accessTypes: ['write'],
      canPersist: child.data.kind === 'guest',
    };
  }

  private setDataBreakpoints(a: Record<string, unknown>): DebugProtocol.SetDataBreakpointsResponse['body'] {
    const specs = this.specs(a, 'breakpoints', 'dataId');
    if (this.noDebug) return { breakpoints: specs.map(() => ({ verified: false, message: 'breakpoints are off: the trace runs without debugging' })) };
    const bps = this.rt.setDataBreakpoints(specs);
    return { breakpoints: bps.map((bp) => ({ id: bp.id, verified: bp.verified, message: bp.message })) };
  }

  private breakpointLocations(a: Record<string, unknown>): DebugProtocol.BreakpointLocationsResponse['body'] {
    const path = this.sourcePath(a);
    const line = int(a, 'line');
    const endLine = a.endLine === undefined ? line : int(a, 'endLine');
    this.requireLaunched();
    if (!this.isProgram(path)) return { breakpoints: [] };
    const from = this.fromClientLine(line);
    const to = Math.min(this.fromClientLine(endLine), from + 100_000);
    return { breakpoints: this.rt.breakpointLines(from, to).map((l) => ({ line: this.toClientLine(l) })) };
  }

  // ---------------------------------------------------------------------------
  // Threads and frames

  private threads(): DebugProtocol.ThreadsResponse['body'] {
    if (!this.rt.loaded) return { threads: [] };
    return { threads: this.rt.machine.mmu.vcpus.map((v) => ({ id: v.id + 1, name: `vCPU ${v.id}` })) };
  }

  private threadIndex(a: Record<string, unknown>): number {
    const id = int(a, 'threadId');
    const n = this.rt.machine.mmu.vcpus.length;
    if (id < 1 || id > n) throw new UserError(`unknown threadId ${id}: the threads are vCPU 0..${n - 1} (ids 1..${n})`);
    return id - 1;
  }

  private stackTrace(a: Record<string, unknown>): DebugProtocol.StackTraceResponse['body'] {
    this.requireStopped();
    const vcpu = this.threadIndex(a);
    const rt = this.rt;
    const frames: DebugProtocol.StackFrame[] = [];
    const add = (name: string, line: number | undefined, hint?: 'normal' | 'label' | 'subtle'): void => {
      const id = this.nextFrameId++;
      this.frames.set(id, { thread: vcpu, index: frames.length });
      const f: DebugProtocol.StackFrame = { id, name, line: line === undefined ? 0 : this.toClientLine(line), column: line === undefined ? 0 : this.columnsStartAt1 ? 1 : 0 };
      if (line !== undefined) f.source = this.source();
      if (hint) f.presentationHint = hint;
      frames.push(f);
    };
    if (vcpu !== rt.machine.current) {
      const v = rt.machine.mmu.vcpus[vcpu]!;
      add(`vCPU ${vcpu} is not running this event (CR3 ${hx(v.cr3)}, ${v.user ? 'user' : 'kernel'})`, undefined, 'label');
    } else {
      const p = rt.position;
      if (p.kind === 'end') add('end of the trace', rt.currentLine);
      else {
        const line = rt.lineOfRow(p.row);
        if (p.kind === 'step') {
          const steps = rt.currentSteps;
          const chain: number[] = [];
          let depth = steps[p.step]!.depth;
          chain.push(p.step);
          for (let j = p.step - 1; j >= 0 && depth > 0; j--) {
            if (steps[j]!.depth < depth) {
              chain.push(j);
              depth = steps[j]!.depth;
            }
          }
          for (const j of chain) add(`${steps[j]!.fn}: ${steps[j]!.text}`, line);
          add(rowText(rt.program, p.row), line);
        } else {
          add(`${rowText(rt.program, p.row)}${p.kind === 'after' ? '  (done)' : ''}`, line);
        }
      }
    }
    const start = a.startFrame === undefined ? 0 : int(a, 'startFrame');
    const levels = a.levels === undefined ? 0 : int(a, 'levels');
    const sliced = frames.slice(start, levels > 0 ? start + levels : undefined);
    return { stackFrames: sliced, totalFrames: frames.length };
  }

  private ensureView(): ViewContext {
    return (this.view ??= new ViewContext(this.rt));
  }

  private scopes(a: Record<string, unknown>): DebugProtocol.ScopesResponse['body'] {
    this.requireLaunched();
    const id = int(a, 'frameId');
    const f = this.rt.state === 'stopped' ? this.frames.get(id) : undefined;
    if (!f) {
      // A frame of an earlier stop (the client asks while the next stop is on its way): no scopes, no error.
      if (id >= 1 && id < this.nextFrameId) return { scopes: [] };
      this.requireStopped();
      throw new UserError(`unknown frameId ${id}`);
    }
    const scopes = buildScopes(this.ensureView(), f.thread);
    return {
      scopes: scopes.map((s) => {
        const ref = this.refFor(s.node);
        const out: DebugProtocol.Scope = { name: s.name, variablesReference: ref, expensive: s.expensive };
        if (s.hint) out.presentationHint = s.hint;
        if (s.node.indexed) out.indexedVariables = s.node.indexed.count;
        return out;
      }),
    };
  }

  private refFor(node: VarNode): number {
    if (!node.named && !node.indexed) return 0;
    const ref = this.nextVarRef++;
    this.vars.set(ref, node);
    return ref;
  }

  private variables(a: Record<string, unknown>): DebugProtocol.VariablesResponse['body'] {
    this.requireLaunched();
    const ref = int(a, 'variablesReference');
    const node = this.rt.state === 'stopped' ? this.vars.get(ref) : undefined;
    if (!node) {
      // A reference of an earlier stop (VS Code asks for the children of a node it still shows, after
      // a step or while the next stop is on its way: a normal race): no children, no error.
      if (ref >= 1 && ref < this.nextVarRef) return { variables: [] };
      this.requireStopped();
      throw new UserError(`unknown variablesReference ${ref}`);
    }
    const filter = a.filter;
    if (filter !== undefined && filter !== 'indexed' && filter !== 'named') throw new UserError('`filter` must be "indexed" or "named"');
    const start = a.start === undefined ? 0 : int(a, 'start');
    const count = a.count === undefined ? 0 : int(a, 'count');
    if (start < 0 || count < 0) throw new UserError('`start` and `count` must not be negative');
    const hexFormat = isHex(a.format);
    let children: VarNode[] = [];
    if (filter !== 'indexed' && node.named) children = node.named();
    if (filter !== 'named' && node.indexed) {
      const total = node.indexed.count;
      const from = Math.min(start, total);
      // No `count` (0): one page of at most 1000, with a filter or without (a client that asks for all
      // of 200,000 shadow pages would wait seconds for tens of megabytes).
      const n = count > 0 ? Math.min(count, total - from) : Math.min(total - from, 1000);
      children = children.concat(node.indexed.get(from, n));
    } else if (filter === 'named' && count > 0) children = children.slice(start, start + count);
    return {
      variables: children.map((c) => {
        const v: DebugProtocol.Variable = { name: c.name, value: hexFormat ? c.value : c.value, variablesReference: this.refFor(c) };
        if (c.type) v.type = c.type;
        if (c.evaluateName) v.evaluateName = c.evaluateName;
        if (c.memoryReference) v.memoryReference = c.memoryReference;
        if (c.indexed) v.indexedVariables = c.indexed.count;
        const attrs: DebugProtocol.VariablePresentationHint['attributes'] = ['readOnly'];
        if (c.data && this.rt.dataBps.some((b) => b.dataId === c.data!.dataId)) attrs.push('hasDataBreakpoint');
        v.presentationHint = { kind: c.data ? 'data' : c.named || c.indexed ? 'class' : 'property', attributes: attrs };
        return v;
      }),
    };
  }

  // ---------------------------------------------------------------------------
  // Evaluation

  private evaluate(a: Record<string, unknown>): DebugProtocol.EvaluateResponse['body'] {
    if (typeof a.expression !== 'string') throw new UserError('`expression` is required');
    this.requireStopped();
    if (a.frameId !== undefined) {
      const id = int(a, 'frameId');
      if (!this.frames.has(id)) throw new UserError(`unknown frameId ${id}`);
    }
    const context = typeof a.context === 'string' ? a.context : 'repl';
    const hexFormat = isHex(a.format);
    let text = a.expression.trim();
    if (text.length > 10_000) throw new UserError('the expression is too long');
    // A hover over a label (`@fault`) names its line.
    const label = /^@?([A-Za-z_][A-Za-z0-9_.-]*)$/.exec(text);
    if (label && this.rt.program.labels.has(label[1]!) && (text.startsWith('@') || context === 'hover')) {
      const row = this.rt.program.labels.get(label[1]!)!;
      return { result: `label @${label[1]}: line ${this.rt.lineOfRow(row)}, ${rowText(this.rt.program, row)}`, variablesReference: 0 };
    }
    if (text.startsWith('@')) text = text.slice(1);
    const parsed = parseExpr(text, { names: DEBUG_NAMES });
    if (!parsed.expr) {
      const d = parsed.diagnostics[0];
      const message = d ? `${d.message}${d.hint ? ` (${d.hint})` : ''}` : 'not an expression';
      // Typed by the user (Debug Console, Watch): shown; a hover's text is the editor's pick, not a mistake.
      throw context === 'hover' ? new UserError(message) : new ShownError(message);
    }
    const r = this.rt.evaluate(parsed.expr);
    if (!r.ok) throw new UserError(r.message);
    // A hover over an address: what it is in the guest and the shadow.
    if (context === 'hover' && parsed.expr.kind === 'number') return { result: this.describeAddress(parsed.expr.value, hexFormat), variablesReference: 0 };
    return this.valueResult(parsed.expr, r.value, hexFormat);
  }

  private valueResult(expr: Expr, v: Value, hexFormat: boolean): DebugProtocol.EvaluateResponse['body'] {
    if (typeof v === 'object') {
      const node: VarNode = {
        name: '',
        value: formatValue(v, { hex: hexFormat }),
        named: () => Object.keys(v).map((k) => ({ name: k, value: formatScalar(v[k]!, hexFormat) })),
      };
      return { result: node.value, variablesReference: this.refFor(node), namedVariables: Object.keys(v).length };
    }
    if (typeof v === 'bigint' && expr.kind === 'call' && (expr.fn === 'gpte' || expr.fn === 'spte') && v >= 0n) {
      const mode = this.rt.machine.mode;
      const lo = Number(v & 0xffffffffn);
      const hi = Number((v >> 32n) & 0xffffffffn);
      const level = expr.args[1]?.kind === 'number' ? Number(expr.args[1].value) : 1;
      if (expr.fn === 'gpte') return { result: guestEntryText(mode, level, lo, hi), variablesReference: 0, type: 'guest entry' };
      const nx = (hi & 0x80000000) !== 0;
      const n = Number(v & 0xfffffffffffffn) + (nx ? 2 ** 52 : 0);
      return { result: shadowEntryText(n, level), variablesReference: 0, type: 'shadow entry' };
    }
    return { result: formatScalar(v, hexFormat), variablesReference: 0, type: typeof v === 'bigint' ? 'integer' : typeof v };
  }

  /** What a number is, hovered in the trace: a VA's translation and entries, or a GPA. */
  private describeAddress(v: bigint, hexFormat: boolean): string {
    const rt = this.rt;
    const env = rt.machine.env;
    const parts: string[] = [hexFormat || v >= 4096n ? hx(v) : v.toString()];
    const limit = rt.machine.mode.name === '64' ? 2n ** 47n : 2n ** 32n;
    if (v >= 0n && (v < limit || (rt.machine.mode.name === '64' && v >= 0xffff800000000000n && v <= 0xffffffffffffffffn))) {
      const va = Number(rt.machine.mode.name === '64' ? v & 0xffffffffffffn : v);
      try {
        const gpa = env.gpa(va);
        const mode = rt.machine.mode;
        const g = env.gpte(va);
        parts.push(gpa >= 0n ? `VA → gpa ${hx(gpa)}` : 'VA: the guest walk faults');
        parts.push(`gpte ${guestEntryText(mode, 1, Number(g & 0xffffffffn), Number((g >> 32n) & 0xffffffffn))}`);
        const s = env.spte(va, 1);
        parts.push(s < 0n ? 'spte: no shadow path' : `spte ${s === 0n ? '0 (empty)' : hx(s)}`);
      } catch {
        /* not an address of this mode */
      }
    }
    return parts.join(' · ');
  }

  private completions(a: Record<string, unknown>): DebugProtocol.CompletionsResponse['body'] {
    if (typeof a.text !== 'string') throw new UserError('`text` is required');
    const column = int(a, 'column');
    if (a.frameId !== undefined) int(a, 'frameId');
    const text = a.text;
    // Multi-line input: only the line being typed on counts.
    let offset = column - (this.columnsStartAt1 ? 1 : 0);
    let base = 0;
    if (a.line !== undefined) {
      const line = int(a, 'line') - (this.linesStartAt1 ? 1 : 0);
      const lines = text.split('\n');
      for (let i = 0; i < Math.min(line, lines.length); i++) base += lines[i]!.length + 1;
      offset += base;
    }
    offset = Math.max(0, Math.min(offset, text.length));
    const { from, items } = completeExpr(text, offset, [EXIT_DOC]);
    const typeOf = (d: NameDoc): DebugProtocol.CompletionItemType => (d.kind === 'function' ? 'function' : d.kind === 'constant' ? 'value' : d.kind === 'member' ? 'property' : 'variable');
    return {
      targets: items.map((d) => ({
        label: d.name,
        text: d.kind === 'function' ? `${d.name}(` : d.name,
        type: typeOf(d),
        detail: `${d.signature} — ${d.doc}`,
        start: from - base + (this.columnsStartAt1 ? 1 : 0),
        length: offset - from,
      })),
    };
  }

  private exceptionInfo(a: Record<string, unknown>): DebugProtocol.ExceptionInfoResponse['body'] {
    this.requireStopped();
    this.threadIndex(a);
    const stop = this.rt.lastStop;
    if (!stop || stop.reason !== 'exception' || !stop.exception) throw new UserError('the debugger did not stop on an exception filter');
    const e = stop.exception;
    return {
      exceptionId: e.id,
      description: e.description,
      breakMode: 'always',
      details: { message: e.details, typeName: e.id, evaluateName: e.id === 'vmexit' ? 'exit' : undefined },
    };
  }

  // ---------------------------------------------------------------------------
  // Memory

  private readMemory(a: Record<string, unknown>): DebugProtocol.ReadMemoryResponse['body'] {
    this.requireStopped();
    if (typeof a.memoryReference !== 'string') throw new UserError('`memoryReference` is required');
    const count = int(a, 'count');
    const offset = a.offset === undefined ? 0 : int(a, 'offset');
    if (count < 0) throw new UserError('`count` must not be negative');
    const ref = a.memoryReference.trim();
    const m = this.rt.machine;
    const shadow = /^s#(\d+)$/.exec(ref);
    let base: number;
    let limit: number;
    let read: (at: number, n: number) => Uint8Array;
    if (shadow) {
      const page = this.rt.pageByUid(Number(shadow[1]));
      if (!page) throw new UserError(`shadow page #${shadow[1]} does not exist here`);
      base = 0;
      limit = 4096;
      read = (at, n) => {
        const out = new Uint8Array(n);
        const dv = new DataView(out.buffer);
        for (let i = 0; i < n; i++) {
          const byte = at + i;
          const e = spteToBigInt(page.entry(byte >> 3));
          dv.setUint8(i, Number((e >> BigInt(8 * (byte & 7))) & 0xffn));
        }
        return out;
      };
    } else {
      if (!/^(0x[0-9a-f_]+|\d+)$/i.test(ref)) throw new UserError(`unknown memoryReference \`${ref}\`: a guest-physical address (0x…) or a shadow page (s#UID)`);
      base = Number(ref.replace(/_/g, ''));
      if (!Number.isSafeInteger(base)) throw new UserError('memoryReference out of range');
      limit = m.mode.name === '32' ? 2 ** 32 : 2 ** 52;
      read = (at, n) => m.mem.readRange(at, n);
    }
    const start = base + offset;
    const n = Math.min(count, MAX_READ_MEMORY);
    const from = Math.max(0, Math.min(start, limit));
    const to = Math.max(from, Math.min(start + n, limit));
    const data = to > from ? read(from, to - from) : new Uint8Array(0);
    const unreadable = n - data.length - Math.max(0, from - start);
    // A shadow page's bytes are at its host address (where the entries that point to it point).
    const addr = shadow ? hx((SHADOW_FRAME_BASE + Number(shadow[1])) * 4096 + from) : hx(Math.max(0, start));
    const body: DebugProtocol.ReadMemoryResponse['body'] = { address: addr, data: Buffer.from(data).toString('base64') };
    if (start < 0 || unreadable > 0 || from > start) body!.unreadableBytes = Math.max(0, n - data.length);
    return body;
  }

  // ---------------------------------------------------------------------------
  // goto

  private gotoTargets(a: Record<string, unknown>): DebugProtocol.GotoTargetsResponse['body'] {
    const path = this.sourcePath(a);
    const line = int(a, 'line');
    this.requireLaunched();
    if (!this.isProgram(path)) return { targets: [] };
    const rt = this.rt;
    const want = this.fromClientLine(line);
    const lines = rt.breakpointLines(want, want + 10_000);
    if (!lines.length) return { targets: [] };
    const row = rt.nextEventRow(rt.rowAtOrAfterLine(lines[0]!));
    if (row < 0) return { targets: [] };
    const l = rt.lineOfRow(row);
    return { targets: [{ id: row + 1, label: `line ${l}: ${rowText(rt.program, row)}`, line: this.toClientLine(l) }] };
  }

  /** The MMU map at this stop (custom request `mmuMap`; see mmumap.ts). */
  private mmuMap(a: Record<string, unknown>): unknown {
    this.requireStopped();
    let args;
    try {
      args = parseMmuMapArgs(a);
    } catch (e) {
      throw new UserError(`mmuMap: ${(e as Error).message}`);
    }
    return buildMmuMap(this.rt, args);
  }

  /** `lineEffects { startLine?, endLine? }` (1-based lines, inclusive): what each row run before the position did. */
  private lineEffects(a: Record<string, unknown>): unknown {
    this.requireStopped();
    const start = optInt(a, 'startLine') ?? 1;
    const end = optInt(a, 'endLine') ?? Number.MAX_SAFE_INTEGER;
    if (start < 1) throw new UserError('lineEffects: `startLine` must be 1 or more (lines count from 1)');
    // The machine stands where the session is stopped: the rows before its next row have run.
    const r = this.rt.timeline.effects.lines(start, end, this.rt.timeline.pos);
    return r.truncated ? { lines: r.lines, truncated: true } : { lines: r.lines };
  }

  private goto(a: Record<string, unknown>): undefined {
    this.requireStopped();
    this.threadIndex(a);
    const target = int(a, 'targetId');
    const row = target - 1;
    if (!this.rt.isEventRow(row)) throw new UserError(`unknown goto target ${target}`);
    this.rt.goto(row);
    this.resetStop();
    return undefined;
  }
}

function int(a: Record<string, unknown>, key: string): number {
  const v = a[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new UserError(`\`${key}\` must be an integer`);
  return v;
}

function optInt(a: Record<string, unknown>, key: string): number | undefined {
  return a[key] === undefined ? undefined : int(a, key);
}

function isHex(format: unknown): boolean {
  return typeof format === 'object' && format !== null && (format as Record<string, unknown>).hex === true;
}

/** A value for the console: numbers from 4096 up in hex (addresses, entries), smaller ones in decimal; all hex when asked. */
function formatScalar(v: Value, hexFormat: boolean): string {
  if (typeof v === 'bigint') {
    if (hexFormat) return formatValue(v, { hex: true });
    return v >= 4096n || v <= -4096n ? formatValue(v, { hex: true }) : v.toString();
  }
  return formatValue(v, { hex: hexFormat });
}

/**
 * The child of `node` called `name`: its named children, then its indexed ones
 * by index when the node can tell the index of a name, else page by page (never
 * all of them at once, and never spread into one call: a container may have
 * hundreds of thousands).
 */
function childNamed(node: VarNode, name: string): VarNode | undefined {
  const named = node.named?.().find((c) => c.name === name);
  if (named || !node.indexed) return named;
  const { count, get, indexOf } = node.indexed;
  if (indexOf) {
    const i = indexOf(name);
    return i >= 0 && i < count ? get(i, 1).find((c) => c.name === name) : undefined;
  }
  for (let start = 0; start < count; start += 1000) {
    const hit = get(start, Math.min(1000, count - start)).find((c) => c.name === name);
    if (hit) return hit;
  }
  return undefined;
}
