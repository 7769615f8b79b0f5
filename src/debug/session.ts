// The Debug Adapter Protocol side of the debugger, part 4 of 4 (the class
// the adapter and the extension use): it validates requests, dispatches them,
// runs the session's life cycle (initialize, launch, configurationDone,
// restart, disconnect) and execution control (continue, steps, pause, goto).
// Runs on stdio (adapter.ts) or in-process (the extension hands
// `new MmuTraceSession()` to VS Code as an inline implementation). Parts 1 to
// 3: session-base.ts, session-breakpoints.ts, session-inspect.ts.

import { BreakpointEvent, InitializedEvent, Response } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { POLICY_NAMES } from '../engine';
import { FILTERS } from './breakpoints';
import { rowText } from './format';
import { LINE_EFFECTS_CAPABILITY, LINE_EFFECTS_REQUEST } from './lineeffects';
import { MMU_MAP_CAPABILITY, MMU_MAP_REQUEST, buildMmuMap, parseMmuMapArgs } from './mmumap';
import { LaunchError, RuntimeError } from './runtime';
import { ShownError, UserError, int, optInt, resolvePath, samePath } from './session-base';
import { SessionInspect } from './session-inspect';
import type { TraceSource } from './source';

export { formatDiagnostics } from './runtime';
export { EXIT_DOC, MAX_BREAKPOINTS, MAX_FILTER_OPTIONS, resolvePath, type SessionOptions } from './session-base';

/** Goto target ids above this name a line not parsed yet (LINE_TARGET + line); below, an event row + 1. */
const LINE_TARGET = 2 ** 45;

export class MmuTraceSession extends SessionInspect {
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
      case 'cancel':
        return this.cancel(a);
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
      supportsCancelRequest: true,
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
    let text: string | TraceSource;
    try {
      text = await this.openTrace(args.program);
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

  private motion(a: Record<string, unknown>, run: () => void): undefined {
    this.requireLaunched();
    optInt(a, 'threadId');
    run();
    this.resetStop();
    return undefined;
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
    if (!lines.length) {
      // Beyond what the background parse has reached (a huge trace still loading): a target of
      // the line itself, which the goto parses up to first (README, the debugger, item 19).
      if (!rt.parseDone && want > rt.linesParsed) return { targets: [{ id: LINE_TARGET + want, label: `line ${want} (not loaded yet)`, line }] };
      return { targets: [] };
    }
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

  /**
   * `cancel { progressId }` of a run or seek's progress stops it where it is
   * (a `pause` stop described "Cancelled"); loading cannot be cancelled.
   * `cancel { requestId }`: every request is answered at once, there is
   * nothing left to cancel.
   */
  private cancel(a: Record<string, unknown>): undefined {
    if (a.progressId !== undefined) {
      if (typeof a.progressId !== 'string') throw new UserError('`progressId` must be a string');
      if (this.progressOpen.get('run') !== a.progressId) {
        if (this.progressOpen.get('load') === a.progressId) throw new UserError('loading the trace cannot be cancelled');
        // A run's progress that has just ended (the client's cancel crossed its end): nothing to do.
        const m = /^mmutrace-run-(\d+)$/.exec(a.progressId);
        if (m && Number(m[1]) <= this.progressId) return undefined;
        throw new UserError(`no progress ${JSON.stringify(a.progressId.slice(0, 80))} to cancel`);
      }
      this.rt.cancelRun();
      return undefined;
    }
    if (a.requestId !== undefined) optInt(a, 'requestId');
    return undefined;
  }

  private goto(a: Record<string, unknown>): undefined {
    this.requireStopped();
    this.threadIndex(a);
    const target = int(a, 'targetId');
    if (target > LINE_TARGET) {
      // A line (the parse may have reached it since: then this goes to its event at once).
      const line = target - LINE_TARGET;
      if (!Number.isSafeInteger(line) || line > 2 ** 32) throw new UserError(`unknown goto target ${target}`);
      this.rt.gotoLine(line);
      this.resetStop();
      return undefined;
    }
    const row = target - 1;
    if (!this.rt.isEventRow(row)) throw new UserError(`unknown goto target ${target}`);
    this.rt.goto(row);
    this.resetStop();
    return undefined;
  }
}
