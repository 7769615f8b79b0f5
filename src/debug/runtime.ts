// The debugger's runtime: loads a trace, owns the Machine (through the
// Timeline), moves forwards and backwards, evaluates breakpoints and reports
// stops. It knows nothing of DAP: session.ts translates.
//
// Positions. The debugger stands either before an event row (`before r`: the
// machine has run every row before r; the stop after a step, a line
// breakpoint, entry or goto), after a row (`after r`: the stop of an
// exception filter, a data breakpoint or a failed expect, on the row that did
// it), inside the handler steps of an event (`step k` of r, after stepIn or a
// function breakpoint; the machine state is the one the event left), or at
// the end of the trace. In time, `before r` comes before `after r`, which
// comes before `before r+1`: a key 2r or 2r+1 orders them.

import { tryEvaluate, tryEvaluateCondition, type Expr, type Value } from '../expr';
import {
  HOST_FRAME_OFFSET,
  Machine,
  MachineError,
  PAGE_SIZE,
  PT_PAGE_SIZE,
  PT_PRESENT,
  POLICY_NAMES,
  StepRecorder,
  describeErrorCode,
  entryFrame,
  getPolicy,
  spteFrame,
  spteToBigInt,
  type HandlerStep,
  type ShadowPage,
} from '../engine';
import { Op, TraceParser, type Diagnostic, type Program } from '../trace';
import {
  FILTERS,
  compileCondition,
  compileHitCondition,
  compileLogMessage,
  handlerMatcher,
  hitConditionHolds,
  renderLogMessage,
  type FilterId,
  type LogPart,
} from './breakpoints';
import { PolicyTracker } from './compare';
import { hx, rowText } from './format';
import { Timeline } from './timeline';

export class LaunchError extends Error {}
export class RuntimeError extends Error {}

export interface LaunchOptions {
  program: string;
  policy?: string;
  audit: boolean;
  logExits: boolean;
}

export type StopReason = 'entry' | 'step' | 'breakpoint' | 'exception' | 'pause' | 'goto' | 'function breakpoint' | 'data breakpoint' | 'end';

export interface ExceptionDetails {
  /** The filter id (`vmexit`, …) or `replay-error`. */
  id: string;
  /** One line. */
  description: string;
  /** The longer story, in a KVM reader's words. */
  details: string;
}

export interface StopInfo {
  reason: StopReason;
  description: string;
  text?: string;
  /** vCPU of the stop. */
  vcpu: number;
  hitBreakpointIds: number[];
  exception?: ExceptionDetails;
}

export type PosKind = 'before' | 'after' | 'step' | 'end';
export interface Position {
  kind: PosKind;
  /** The row (for `end`: the number of rows). */
  row: number;
  /** `step`: the index into the event's handler steps. */
  step: number;
}

export type DataTarget =
  | { kind: 'guest'; gpa: number; size: number; label: string }
  | { kind: 'shadow'; uid: number; index: number; label: string };

interface BpBase {
  id: number;
  condition?: Expr;
  hit?: Expr;
  log?: LogPart[];
  hits: number;
  verified: boolean;
  message?: string;
  /** A condition, hit condition or log message that does not parse. */
  compileError?: string;
}
export interface LineBp extends BpBase {
  kind: 'line';
  requestedLine: number;
  line: number;
  /** The event row, or -1 while it is not known (pending or invalid). */
  row: number;
  pending: boolean;
}
export interface FunctionBp extends BpBase {
  kind: 'function';
  name: string;
  match?: (fn: string) => boolean;
  /** A label breakpoint (`@name`): the row to stop before. */
  labelRow?: number;
}
export interface DataBp extends BpBase {
  kind: 'data';
  dataId: string;
  target: DataTarget;
  last: bigint;
}
type Bp = LineBp | FunctionBp | DataBp;

export interface BpSpec {
  line?: number;
  name?: string;
  dataId?: string;
  condition?: string;
  hitCondition?: string;
  logMessage?: string;
}

export interface RuntimeHost {
  output(category: 'stdout' | 'stderr' | 'console' | 'important', text: string, line?: number): void;
  stopped(stop: StopInfo): void;
  terminated(): void;
  progress(kind: 'start' | 'update' | 'end', message: string, percentage?: number): void;
  /** Line breakpoints whose verification changed (the trace finished loading). */
  breakpointsChanged(bps: LineBp[]): void;
  /** Values shown earlier are stale (the other policy's counters got there). */
  invalidated(): void;
}

/** One thing that happened at a point of the trace and may stop it. */
interface Hit {
  type: 'line' | 'function' | 'data' | 'filter' | 'error';
  bp?: Bp;
  filter?: FilterId | 'replay-error';
  /** Function breakpoints: the first matching handler step. */
  step?: number;
  /** What happened, for the stop's description. */
  text: string;
  /** A condition that could not be evaluated: stop and say so. */
  condError?: string;
  /** Log points: the rendered message. */
  log?: string;
}

interface Point {
  /** 2*row (before) or 2*row+1 (after). */
  key: number;
  row: number;
  hits: Hit[];
  /** Function breakpoints: the steps of the event. */
  steps?: HandlerStep[];
  /** Exception info, computed while the state is at hand. */
  exception?: ExceptionDetails;
  vcpu: number;
}

type ScanResult = { kind: 'stop'; pos: Position; stop: StopInfo } | { kind: 'yield' };

/** Lines parsed before the first stop (and at least up to the first event); the rest is parsed in the background. */
export const HEAD_LINES = 2_000;
/** Time slice of background work and of running (ms): requests wait at most about this long. */
const SLICE_MS = 8;
/** At most this many VM exits are logged per resume. */
export const MAX_EXIT_LOG = 200;

const PRIORITY: Record<string, number> = {
  'replay-error': 0,
  livelock: 0.5,
  audit: 1,
  expect: 2,
  data: 3,
  function: 4,
  line: 5,
  'guest-fault': 6,
  flood: 7,
  'pte-write': 8,
  vmexit: 9,
};

export type RuntimeState = 'unloaded' | 'loaded' | 'stopped' | 'running' | 'terminated';

/** The exception filters about what an event did, in the order their hits are listed (`expect` has rows of its own). */
const EVENT_FILTERS = ['livelock', 'audit', 'guest-fault', 'flood', 'pte-write', 'vmexit'] as const satisfies readonly FilterId[];

export class TraceRuntime {
  state: RuntimeState = 'unloaded';
  programPath = '';
  options: LaunchOptions | null = null;
  private parser: TraceParser | null = null;
  program!: Program;
  timeline!: Timeline;
  position: Position = { kind: 'before', row: 0, step: 0 };
  lastStop: StopInfo | null = null;
  /** Steps of the event at `stepsRow` (recorded on demand). */
  private stepsRow = -1;
  private steps: HandlerStep[] = [];
  private readonly recorder = new StepRecorder();
  private bgTimer: NodeJS.Immediate | null = null;
  private runToken = 0;
  private pauseRequested = false;
  private loadProgressShown = false;
  private lastProgress = 0;
  private failedLate = false;
  /** The diagnostics of a late parse error, printed by `terminate` (so always after the stop that precedes them). */
  private lateDiagnostics: string | null = null;
  private trackers: PolicyTracker[] = [];
  private trackerWanted = -1;
  private pageTableFrames: Set<number> | null = null;
  private poolStart = 0;
  private poolEnd = 0;
  private exitLogCount = 0;
  private exitLogSuppressed = 0;
  /** The line that `line` means in expressions. */
  private evalLine = 0;

  // Breakpoints (kept across restarts).
  private nextBpId = 1;
  lineBps: LineBp[] = [];
  functionBps: FunctionBp[] = [];
  dataBps: DataBp[] = [];
  readonly filters = new Map<FilterId, { condition?: Expr }>(FILTERS.filter((f) => f.default).map((f) => [f.id, {}]));
  private beforeRows = new Map<number, Bp[]>();

  constructor(private readonly host: RuntimeHost) {}

  get machine(): Machine {
    return this.timeline.machine;
  }

  get loaded(): boolean {
    return this.state !== 'unloaded' && this.timeline !== undefined;
  }

  get parseDone(): boolean {
    return this.parser === null || this.parser.done;
  }

  // ---------------------------------------------------------------------------
  // Loading

  /**
   * Parses the head of the trace (`text`, read from `opts.program`) and builds
   * the machine; the rest is parsed in the background. Throws LaunchError.
   */
  load(opts: LaunchOptions, text: string): void {
    this.cancelBackground();
    this.runToken++;
    const file = opts.program;
    const parser = new TraceParser(text);
    parser.parseLines(HEAD_LINES);
    while (!parser.done && parser.result().program.events.count === 0) parser.parseLines(HEAD_LINES);
    let r = parser.result();
    if (r.hasErrors) {
      parser.parseLines(Infinity);
      r = parser.result();
      throw new LaunchError(`${file} does not parse:\n${formatDiagnostics(r.diagnostics)}`);
    }
    const policy = opts.policy ?? r.program.policy ?? 'update';
    if (!getPolicy(policy)) throw new LaunchError(`unknown policy \`${policy}\`; known policies: ${POLICY_NAMES.join(', ')}`);
    let machine: Machine;
    try {
      machine = new Machine(r.program, { policy, audit: opts.audit ? 'incremental' : false });
    } catch (e) {
      if (e instanceof MachineError) throw new LaunchError(e.line ? `${file}:${e.line}:${e.col ?? 1}: error: ${e.message}` : `${file}: error: ${e.message}`);
      throw e;
    }
    this.programPath = file;
    this.options = { ...opts, policy };
    this.program = r.program;
    this.parser = parser.done ? null : parser;
    this.timeline = new Timeline(machine, (n) => this.moreRows(n));
    machine.env.extra.set('exit', () => this.exitValue());
    machine.env.line = () => this.evalLine;
    this.position = { kind: 'before', row: 0, step: 0 };
    this.stepsRow = -1;
    this.lastStop = null;
    this.failedLate = false;
    this.lateDiagnostics = null;
    this.trackers = [];
    this.trackerWanted = -1;
    this.pageTableFrames = null;
    // The setup took its page tables from the pool, a page at a time upward.
    this.poolStart = Math.floor(r.program.pool / PAGE_SIZE);
    const image = new Set(machine.mem.frames());
    const roots = new Set(machine.spaceRoots.map((g) => Math.floor(g / PAGE_SIZE)));
    let end = this.poolStart;
    while (image.has(end) || roots.has(end)) end++;
    this.poolEnd = end;
    this.loadProgressShown = false;
    for (const b of [...this.lineBps, ...this.functionBps]) b.hits = 0;
    for (const b of this.dataBps) b.hits = 0;
    // Label breakpoints name rows of this program.
    for (const b of this.functionBps) {
      if (b.match || b.compileError !== undefined) continue;
      const row = r.program.labels.get(b.name.replace(/^@/, ''));
      b.labelRow = row;
      b.verified = row !== undefined;
    }
    this.state = 'loaded';
    this.reverifyLineBps(false);
    this.rebuildBeforeRows();
    if (this.parser) this.scheduleBackground();
  }

  /** Synchronously parses until `needed` rows exist or the file ends. */
  private moreRows(needed: number): boolean {
    const p = this.parser;
    if (this.failedLate) return false;
    while (p && !p.done && this.program.events.count < needed) {
      p.parseLines(5000);
      if (this.checkLateErrors()) return false;
    }
    if (p && p.done) this.parseFinished();
    return this.program.events.count >= needed;
  }

  private checkLateErrors(): boolean {
    const p = this.parser;
    if (!p) return false;
    const r = p.result();
    if (!r.hasErrors) return false;
    p.parseLines(Infinity);
    const all = p.result();
    this.failedLate = true;
    this.lateDiagnostics = `${this.programPath} does not parse:\n${formatDiagnostics(all.diagnostics)}\n`;
    this.parser = null;
    if (this.loadProgressShown) this.host.progress('end', 'The trace does not parse');
    // The session ends at a stop, never before one (README, the debugger, item 11): found while
    // stopped, once the current request is answered; found before configurationDone or while
    // running, right after the stop the session makes next (`stopAt`).
    setImmediate(() => {
      if (this.failedLate && this.state === 'stopped') this.terminate();
    });
    return true;
  }

  private parseFinished(): void {
    if (!this.parser) return;
    this.parser.result();
    this.parser = null;
    if (this.loadProgressShown) {
      this.host.progress('end', `Loaded ${this.program.lineCount} lines`);
      this.loadProgressShown = false;
    }
    this.reverifyLineBps(true);
  }

  private scheduleBackground(): void {
    if (this.bgTimer || this.state === 'terminated' || this.state === 'unloaded') return;
    const needsParse = this.parser !== null;
    const needsTracker = this.state !== 'running' && this.trackerWanted >= 0 && this.trackers.some((t) => !t.done && t.pos < this.trackerWanted);
    if (!needsParse && !needsTracker) return;
    this.bgTimer = setImmediate(() => {
      this.bgTimer = null;
      this.backgroundSlice();
    });
  }

  private backgroundSlice(): void {
    if (this.state === 'terminated' || this.state === 'unloaded') return;
    const deadline = performance.now() + SLICE_MS;
    const p = this.parser;
    if (p) {
      if (!this.loadProgressShown) {
        this.loadProgressShown = true;
        this.host.progress('start', `Loading ${this.programPath.split(/[\\/]/).pop()}`, 0);
        this.lastProgress = performance.now();
      }
      while (!p.done && performance.now() < deadline) {
        p.parseLines(5000);
        if (this.checkLateErrors()) return;
      }
      if (p.done) this.parseFinished();
      else if (performance.now() - this.lastProgress > 100) {
        this.lastProgress = performance.now();
        const total = p.totalLines || 1;
        this.host.progress('update', `${p.linesParsed} of ${total} lines`, Math.min(99, Math.floor((100 * p.linesParsed) / total)));
      }
    } else if (this.state !== 'running' && this.trackerWanted >= 0) {
      let reached = true;
      for (const t of this.trackers) reached = t.advance(this.trackerWanted, deadline) && reached;
      if (reached) {
        this.trackerWanted = -1;
        this.host.invalidated();
      }
    }
    this.scheduleBackground();
  }

  private cancelBackground(): void {
    if (this.bgTimer) clearImmediate(this.bgTimer);
    this.bgTimer = null;
  }

  // ---------------------------------------------------------------------------
  // Rows and lines

  isEventRow(row: number): boolean {
    return row >= 0 && row < this.program.events.count && this.program.events.op[row]! <= Op.Invlpg;
  }

  /** The first event row at or after `row` (parsing as needed), or -1. */
  nextEventRow(row: number): number {
    const t = this.program.events;
    for (let r = Math.max(0, row); ; r++) {
      if (r >= t.count && !this.timeline.hasRow(r)) return -1;
      if (t.op[r]! <= Op.Invlpg) return r;
    }
  }

  /** The last event row before `row`, or -1. */
  prevEventRow(row: number): number {
    const t = this.program.events;
    for (let r = Math.min(row, t.count) - 1; r >= 0; r--) if (t.op[r]! <= Op.Invlpg) return r;
    return -1;
  }

  /** The first row whose line is at or after `line` among rows parsed so far (count when none). */
  rowAtOrAfterLine(line: number): number {
    return this.program.events.rowAtOrAfterLine(line);
  }

  /** Lines that can hold a breakpoint in [line, endLine] (event lines). */
  breakpointLines(line: number, endLine: number): number[] {
    if (!this.parseDone) this.moreRowsToLine(endLine);
    const t = this.program.events;
    const out: number[] = [];
    for (let r = this.rowAtOrAfterLine(line); r < t.count && t.lineOf(r) <= endLine; r++) if (t.op[r]! <= Op.Invlpg) out.push(t.lineOf(r));
    return out;
  }

  private moreRowsToLine(line: number): void {
    const p = this.parser;
    while (p && !p.done && p.linesParsed < line) {
      p.parseLines(5000);
      if (this.checkLateErrors()) return;
    }
    if (p && p.done) this.parseFinished();
  }

  lineOfRow(row: number): number {
    const t = this.program.events;
    if (row >= 0 && row < t.count) return t.lineOf(row);
    return t.count > 0 ? t.lineOf(t.count - 1) : Math.max(1, this.program.lineCount);
  }

  /** The line of the current position. */
  get currentLine(): number {
    const p = this.position;
    if (p.kind === 'end') return this.lineOfRow(this.program.events.count - 1);
    return this.lineOfRow(p.row);
  }

  // ---------------------------------------------------------------------------
  // Breakpoints

  setLineBreakpoints(specs: BpSpec[]): LineBp[] {
    const old = new Map(this.lineBps.map((b) => [b.requestedLine, b]));
    this.lineBps = specs.map((s) => {
      const prev = old.get(s.line ?? 0);
      const bp: LineBp = { kind: 'line', id: prev?.id ?? this.nextBpId++, requestedLine: s.line ?? 0, line: s.line ?? 0, row: -1, pending: false, hits: 0, verified: false };
      this.compileCommon(bp, s);
      return bp;
    });
    if (this.loaded) this.reverifyLineBps(false);
    else for (const b of this.lineBps) if (!b.message) b.message = 'the trace is not loaded yet';
    this.rebuildBeforeRows();
    return this.lineBps;
  }

  private compileCommon(bp: BpBase, s: BpSpec): void {
    const errors: string[] = [];
    if (s.condition !== undefined && s.condition.trim() !== '') {
      const c = compileCondition(s.condition);
      if (c.error) errors.push(c.error);
      else bp.condition = c.value;
    }
    if (s.hitCondition !== undefined && s.hitCondition.trim() !== '') {
      const c = compileHitCondition(s.hitCondition);
      if (c.error) errors.push(c.error);
      else bp.hit = c.value;
    }
    if (s.logMessage !== undefined) {
      const c = compileLogMessage(s.logMessage);
      if (c.error) errors.push(c.error);
      else bp.log = c.value;
    }
    if (errors.length) {
      bp.verified = false;
      bp.message = bp.compileError = errors.join('; ');
    } else bp.verified = true;
  }

  /** Places line breakpoints on event rows (moving them down to the next event line). */
  private reverifyLineBps(notify: boolean): void {
    if (!this.loaded) return;
    const changed: LineBp[] = [];
    const t = this.program.events;
    for (const bp of this.lineBps) {
      const before = `${bp.verified}|${bp.line}|${bp.message}`;
      let row = this.rowAtOrAfterLine(bp.requestedLine);
      while (row < t.count && t.op[row]! > Op.Invlpg) row++;
      if (row >= t.count && !this.parseDone) {
        bp.pending = true;
        bp.row = -1;
        bp.verified = false;
        bp.message = 'the trace is still loading';
      } else if (row >= t.count) {
        bp.pending = false;
        bp.row = -1;
        bp.verified = false;
        bp.message = `no event at or after line ${bp.requestedLine}`;
      } else {
        bp.pending = false;
        bp.row = row;
        bp.line = t.lineOf(row);
        if (bp.compileError !== undefined) {
          bp.verified = false;
          bp.message = bp.compileError;
        } else {
          bp.verified = true;
          bp.message = bp.line !== bp.requestedLine ? `line ${bp.requestedLine} is not an event: moved to the next event, line ${bp.line}` : undefined;
        }
      }
      if (notify && before !== `${bp.verified}|${bp.line}|${bp.message}`) changed.push(bp);
    }
    this.rebuildBeforeRows();
    if (changed.length) this.host.breakpointsChanged(changed);
  }

  setFunctionBreakpoints(specs: BpSpec[]): FunctionBp[] {
    const old = new Map(this.functionBps.map((b) => [b.name, b]));
    this.functionBps = specs.map((s) => {
      const name = (s.name ?? '').trim();
      const bp: FunctionBp = { kind: 'function', id: old.get(name)?.id ?? this.nextBpId++, name, hits: 0, verified: false };
      this.compileCommon(bp, s);
      const match = handlerMatcher(name);
      if (match) bp.match = match;
      else {
        const label = name.startsWith('@') ? name.slice(1) : name;
        const row = this.loaded ? this.program.labels.get(label) : undefined;
        if (row !== undefined) bp.labelRow = row;
        else {
          bp.verified = false;
          bp.message = `\`${name}\` is neither a handler step (${['page_fault', 'walk_addr', 'fetch', 'kvm_mmu_get_page', 'rmap_write_protect', 'kvm_mmu_pte_write', 'mmu_pte_write_zap_pte', 'mmu_pte_write_new_pte', 'kvm_mmu_zap_page', 'inject_page_fault', 'new_cr3', 'kvm_mmu_free_some_pages'].join(', ')}, with or without a prefix such as paging64_) nor a label of the trace`;
        }
      }
      return bp;
    });
    this.rebuildBeforeRows();
    return this.functionBps;
  }

  setExceptionFilters(filters: { id: string; condition?: string }[]): { verified: boolean; message?: string }[] {
    this.filters.clear();
    return filters.map((f) => {
      const info = FILTERS.find((x) => x.id === f.id);
      if (!info) return { verified: false, message: `unknown exception filter \`${f.id}\`` };
      if (f.condition !== undefined && f.condition.trim() !== '') {
        const c = compileCondition(f.condition);
        if (c.error) return { verified: false, message: c.error };
        this.filters.set(info.id, { condition: c.value });
      } else this.filters.set(info.id, {});
      return { verified: true };
    });
  }

  setDataBreakpoints(specs: BpSpec[]): DataBp[] {
    const old = new Map(this.dataBps.map((b) => [b.dataId, b]));
    this.dataBps = specs.map((s) => {
      const dataId = s.dataId ?? '';
      const target = parseDataId(dataId);
      const bp: DataBp = {
        kind: 'data',
        id: old.get(dataId)?.id ?? this.nextBpId++,
        dataId,
        target: target ?? { kind: 'guest', gpa: 0, size: 0, label: '?' },
        last: 0n,
        hits: 0,
        verified: false,
      };
      this.compileCommon(bp, s);
      if (!target) {
        bp.verified = false;
        bp.message = `\`${dataId}\` names no guest or shadow entry`;
      } else if (this.loaded) bp.last = this.dataValue(bp.target);
      return bp;
    });
    return this.dataBps;
  }

  /** The current value of a data breakpoint's entry (0 for a shadow page that does not exist). */
  dataValue(t: DataTarget): bigint {
    const m = this.machine;
    if (t.kind === 'guest') return t.size ? m.mem.read(t.gpa, t.size) : 0n;
    const page = this.pageByUid(t.uid);
    return page ? spteToBigInt(page.entry(t.index)) : 0n;
  }

  /** A live shadow page by uid. */
  pageByUid(uid: number): ShadowPage | undefined {
    return this.machine.shadow.pageByUid(uid);
  }

  private rebuildBeforeRows(): void {
    const m = new Map<number, Bp[]>();
    const add = (row: number, bp: Bp): void => {
      const l = m.get(row);
      if (l) l.push(bp);
      else m.set(row, [bp]);
    };
    for (const b of this.lineBps) if (b.verified && b.row >= 0) add(b.row, b);
    for (const b of this.functionBps) if (b.verified && b.labelRow !== undefined) add(b.labelRow, b);
    this.beforeRows = m;
  }

  // ---------------------------------------------------------------------------
  // Expressions

  private exitValue(): Value {
    const m = this.machine;
    const e = m.mmu.exit;
    return { reason: e ? e.reason : 'none', outcome: e?.outcome ?? 'none', count: BigInt(m.last.exits) };
  }

  /** Evaluates in the current stop's state. */
  evaluate(expr: Expr): { ok: true; value: Value } | { ok: false; message: string } {
    this.evalLine = this.currentLine;
    const r = tryEvaluate(expr, this.machine.env);
    return r.ok ? r : { ok: false, message: r.message };
  }

  private condHolds(expr: Expr | undefined): { ok: boolean; error?: string } {
    if (!expr) return { ok: true };
    const r = tryEvaluateCondition(expr, this.machine.env);
    if (!r.ok) return { ok: true, error: r.message };
    return { ok: r.value };
  }

  // ---------------------------------------------------------------------------
  // Starting, stopping

  /** Begins the session after configurationDone: stops on entry or runs. */
  start(stopOnEntry: boolean): void {
    if (this.state !== 'loaded') throw new RuntimeError('the trace is not loaded');
    this.state = 'stopped';
    // Rows before the first event (vcpu, cpl, expect) run before the entry stop.
    this.runAsync('forward', stopOnEntry ? { entry: true } : { entryContinue: true });
  }

  private stopAt(pos: Position, stop: StopInfo): void {
    this.position = pos;
    this.lastStop = stop;
    this.state = 'stopped';
    this.evalLine = this.currentLine;
    // Data breakpoints compare with the values where the debugger now stands.
    for (const bp of this.dataBps) if (bp.verified) bp.last = this.dataValue(bp.target);
    if (this.exitLogSuppressed > 0) {
      this.host.output('stdout', `… ${this.exitLogSuppressed} more VM exit${this.exitLogSuppressed === 1 ? '' : 's'} not logged (at most ${MAX_EXIT_LOG} are logged per run; set "logExits": false to log none)\n`);
    }
    this.exitLogCount = 0;
    this.exitLogSuppressed = 0;
    this.host.stopped(stop);
    if (this.failedLate) return this.terminate();
    this.scheduleBackground();
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.runToken++;
    this.cancelBackground();
    this.state = 'terminated';
    if (this.lateDiagnostics !== null) {
      this.host.output('stderr', this.lateDiagnostics);
      this.lateDiagnostics = null;
    }
    this.host.terminated();
  }

  /** Drops everything (disconnect). */
  dispose(): void {
    this.runToken++;
    this.cancelBackground();
    this.state = 'terminated';
    this.parser = null;
  }

  pause(): boolean {
    if (this.state !== 'running') return false;
    this.pauseRequested = true;
    return true;
  }

  private requireStopped(): void {
    if (this.state === 'running') throw new RuntimeError('the trace is running; pause it first');
    if (this.state !== 'stopped') throw new RuntimeError(this.state === 'terminated' ? 'the debug session has ended' : 'the trace has not started yet');
  }

  get vcpu(): number {
    return this.loaded ? this.machine.current : 0;
  }

  // ---------------------------------------------------------------------------
  // Motion requests (each answers at once and reports a stop later)

  continue(): void {
    this.requireStopped();
    if (this.position.kind === 'end') {
      this.terminate();
      return;
    }
    this.runAsync('forward', {});
  }

  next(): void {
    this.requireStopped();
    const p = this.position;
    if (p.kind === 'step') {
      const d = this.steps[p.step]!.depth;
      const j = this.findStep(p.step + 1, (s) => s.depth <= d);
      if (j >= 0) return this.stopLater({ kind: 'step', row: p.row, step: j }, 'step');
    }
    this.runAsync('forward', { stepMode: true });
  }

  stepIn(): void {
    this.requireStopped();
    const p = this.position;
    if (p.kind === 'step') {
      if (p.step + 1 < this.steps.length) return this.stopLater({ kind: 'step', row: p.row, step: p.step + 1 }, 'step');
      return this.runAsync('forward', { stepMode: true });
    }
    if (p.kind === 'before') {
      // Run the event with a recorder; what it did may stop first (an exception filter, a data breakpoint).
      this.state = 'running';
      const token = ++this.runToken;
      setImmediate(() => {
        if (token !== this.runToken) return;
        try {
          this.exitLogCount = this.exitLogSuppressed = 0;
          const steps = this.recordSteps(p.row);
          const m = this.machine;
          if (this.options!.logExits && m.mmu.exit !== null) this.logExit(p.row);
          const point = this.afterChecksWanted() || m.error !== null ? this.checkAfter(p.row, steps) : null;
          const s = point ? this.decide(point) : null;
          if (s && s.kind === 'stop') return this.stopAt(s.pos, s.stop);
          if (steps.length) {
            return this.stopAt({ kind: 'step', row: p.row, step: 0 }, { reason: 'step', description: steps[0]!.fn, vcpu: m.current, hitBreakpointIds: [] });
          }
          // Nothing to step into (no exit): like next.
          this.position = { kind: 'after', row: p.row, step: 0 };
          this.state = 'stopped';
          this.runAsync('forward', { stepMode: true });
        } catch (e) {
          this.internalError(e);
        }
      });
      return;
    }
    if (p.kind === 'after') {
      const steps = this.recordSteps(p.row);
      if (steps.length) return this.stopLater({ kind: 'step', row: p.row, step: 0 }, 'step');
    }
    this.runAsync('forward', { stepMode: true });
  }

  stepOut(): void {
    this.requireStopped();
    const p = this.position;
    if (p.kind === 'step') {
      const d = this.steps[p.step]!.depth;
      const j = this.findStep(p.step + 1, (s) => s.depth < d);
      if (j >= 0) return this.stopLater({ kind: 'step', row: p.row, step: j }, 'step');
    }
    this.runAsync('forward', { stepMode: true });
  }

  stepBack(): void {
    this.requireStopped();
    const p = this.position;
    let to: Position;
    let desc = 'Stepped back';
    if (p.kind === 'step' && p.step > 0) to = { kind: 'step', row: p.row, step: p.step - 1 };
    else if (p.kind === 'step' || p.kind === 'after') to = { kind: 'before', row: p.row, step: 0 };
    else {
      const from = p.kind === 'end' ? this.program.events.count : p.row;
      const prev = this.prevEventRow(from);
      if (prev < 0) {
        to = p;
        desc = 'At the start of the trace';
      } else to = { kind: 'before', row: prev, step: 0 };
    }
    this.stopLater(to, 'step', desc);
  }

  reverseContinue(): void {
    this.requireStopped();
    this.runAsync('reverse', {});
  }

  goto(row: number): void {
    this.requireStopped();
    if (!this.isEventRow(row)) throw new RuntimeError('not an event row');
    this.stopLater({ kind: 'before', row, step: 0 }, 'goto', `Jumped to line ${this.lineOfRow(row)}`);
  }

  /** Moves to `pos` (re-running what is needed) and reports a stop, after the current request's response. */
  private stopLater(pos: Position, reason: StopReason, description?: string): void {
    this.state = 'running';
    const token = ++this.runToken;
    setImmediate(() => {
      if (token !== this.runToken) return;
      try {
        this.moveTo(pos);
        const stop: StopInfo = { reason, description: description ?? this.describePosition(), vcpu: this.machine.current, hitBreakpointIds: [] };
        this.stopAt(this.position, stop);
      } catch (e) {
        this.internalError(e);
      }
    });
  }

  private internalError(e: unknown): void {
    this.host.output('stderr', `internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    this.state = 'stopped';
    this.host.stopped({ reason: 'pause', description: 'Stopped after an internal error', vcpu: this.vcpu, hitBreakpointIds: [] });
  }

  private describePosition(): string {
    const p = this.position;
    if (p.kind === 'end') return 'End of the trace';
    if (p.kind === 'step') return `${this.steps[p.step]!.fn}`;
    return `Line ${this.lineOfRow(p.row)}`;
  }

  /** Puts the machine in the state of `pos`. */
  moveTo(pos: Position): void {
    const tl = this.timeline;
    switch (pos.kind) {
      case 'before':
        tl.seek(pos.row);
        break;
      case 'after':
        tl.seek(pos.row + 1);
        break;
      case 'step':
        if (this.stepsRow !== pos.row || tl.pos !== pos.row + 1) this.recordSteps(pos.row);
        break;
      case 'end':
        while (tl.stepOne()) {
          /* run to the end */
        }
        break;
    }
    this.position = pos;
  }

  /** Re-runs `row` with a recorder; the machine is left after it. */
  recordSteps(row: number): HandlerStep[] {
    const tl = this.timeline;
    tl.seek(row);
    tl.stepOne(this.recorder);
    this.steps = this.recorder.steps.slice();
    this.stepsRow = row;
    return this.steps;
  }

  /** The handler steps shown at the current position (empty outside `step`). */
  get currentSteps(): HandlerStep[] {
    return this.position.kind === 'step' && this.stepsRow === this.position.row ? this.steps : [];
  }

  private findStep(from: number, ok: (s: HandlerStep) => boolean): number {
    for (let j = from; j < this.steps.length; j++) if (ok(this.steps[j]!)) return j;
    return -1;
  }

  // ---------------------------------------------------------------------------
  // Running (in time slices, so that pause and other requests get through)

  private runAsync(dir: 'forward' | 'reverse', opts: ForwardOptions): void {
    this.state = 'running';
    this.pauseRequested = false;
    this.exitLogCount = 0;
    this.exitLogSuppressed = 0;
    const token = ++this.runToken;
    const ctx = dir === 'forward' ? this.forwardContext(opts) : this.reverseContext();
    const tick = (): void => {
      if (token !== this.runToken) return;
      try {
        const deadline = performance.now() + SLICE_MS * 4;
        const res = dir === 'forward' ? this.forwardSlice(ctx as ForwardContext, deadline) : this.reverseSlice(ctx as ReverseContext, deadline);
        if (res.kind === 'stop') {
          this.stopAt(res.pos, res.stop);
          return;
        }
        if (this.pauseRequested) {
          this.pauseRequested = false;
          const pos = dir === 'forward' ? this.positionHere() : this.pauseReverse(ctx as ReverseContext);
          this.stopAt(pos, { reason: 'pause', description: 'Paused', vcpu: this.machine.current, hitBreakpointIds: [] });
          return;
        }
        setImmediate(tick);
      } catch (e) {
        this.internalError(e);
      }
    };
    setImmediate(tick);
  }

  /** The position of the machine as it is (between rows while running forward). */
  private positionHere(): Position {
    const tl = this.timeline;
    const row = this.nextEventRow(tl.pos);
    if (row < 0) {
      this.moveTo({ kind: 'end', row: this.program.events.count, step: 0 });
      return this.position;
    }
    tl.seek(row);
    return { kind: 'before', row, step: 0 };
  }

  // ---- forward

  private forwardContext(opts: ForwardOptions): ForwardContext {
    const p = this.position;
    if (opts.entry || opts.entryContinue) {
      return { opts, skipRow: -1, stepMode: false, entry: opts.entry === true };
    }
    if (p.kind === 'step' || p.kind === 'after') this.moveTo({ kind: 'after', row: p.row, step: 0 });
    else if (p.kind === 'before') this.moveTo(p);
    return { opts, skipRow: p.kind === 'before' ? p.row : -1, stepMode: opts.stepMode === true, entry: false };
  }

  private forwardSlice(ctx: ForwardContext, deadline: number): ScanResult {
    const tl = this.timeline;
    const m = tl.machine;
    const t = this.program.events;
    const afterChecks = this.afterChecksWanted();
    const logExits = this.options!.logExits;
    const rec = this.functionBps.some((b) => b.match && b.verified) ? this.recorder : null;
    let n = 0;
    for (;;) {
      const row = tl.pos;
      if (!tl.hasRow(row)) {
        return this.stopResult({ kind: 'end', row: t.count, step: 0 }, { reason: ctx.entry ? 'entry' : 'end', description: ctx.entry ? 'No events in the trace' : 'End of the trace', vcpu: m.current, hitBreakpointIds: [] });
      }
      const op = t.op[row]!;
      if (op <= Op.Invlpg) {
        if (row !== ctx.skipRow) {
          if (ctx.entry) {
            return this.stopResult({ kind: 'before', row, step: 0 }, { reason: 'entry', description: 'Stopped before the first event', vcpu: m.current, hitBreakpointIds: [] });
          }
          if ((++n & 63) === 0 && (performance.now() > deadline || this.pauseRequested)) return { kind: 'yield' };
          const point = this.beforeRows.size ? this.checkBefore(row) : null;
          if (point) {
            const s = this.decide(point);
            if (s) return s;
          }
          if (ctx.stepMode) {
            return this.stopResult({ kind: 'before', row, step: 0 }, { reason: 'step', description: `Line ${t.lineOf(row)}`, vcpu: m.current, hitBreakpointIds: [] });
          }
        }
        ctx.skipRow = -1;
        tl.stepOne(rec);
        if (logExits && m.mmu.exit !== null) this.logExit(row);
        if (afterChecks || m.error !== null) {
          const point = this.checkAfter(row, rec ? rec.steps : null);
          if (point) {
            const s = this.decide(point);
            if (s) return s;
          }
        }
      } else {
        ctx.skipRow = -1;
        tl.stepOne();
        if (op === Op.Expect && m.expect && !m.expect.passed && this.filters.has('expect')) {
          const point = this.checkExpect(row);
          if (point) {
            const s = this.decide(point);
            if (s) return s;
          }
        }
      }
    }
  }

  private stopResult(pos: Position, stop: StopInfo): ScanResult {
    return { kind: 'stop', pos, stop };
  }

  private afterChecksWanted(): boolean {
    return this.filters.size > 0 || this.dataBps.length > 0 || this.functionBps.some((b) => b.match && b.verified);
  }

  /** Applies hit counts and log points to a point met (going forwards or backwards); a stop, or null. */
  private decide(point: Point): ScanResult | null {
    const stopping: Hit[] = [];
    for (const h of point.hits) {
      if (h.bp) {
        if (!h.bp.verified) continue;
        if (h.condError === undefined) {
          h.bp.hits++;
          if (!hitConditionHolds(h.bp.hit, h.bp.hits)) continue;
        }
        if (h.log !== undefined && h.condError === undefined) {
          this.host.output('console', h.log + '\n', this.lineOfRow(point.row));
          continue;
        }
      }
      stopping.push(h);
    }
    if (!stopping.length) return null;
    return this.makeStop(point, stopping);
  }

  private makeStop(point: Point, stopping: Hit[]): ScanResult {
    stopping.sort((a, b) => PRIORITY[hitKind(a)]! - PRIORITY[hitKind(b)]!);
    const main = stopping[0]!;
    const ids = stopping.filter((h) => h.bp).map((h) => h.bp!.id);
    const text = stopping.map((h) => (h.condError !== undefined ? `${h.text} (condition error: ${h.condError})` : h.text)).join('; ');
    const isBefore = (point.key & 1) === 0;
    let pos: Position = isBefore ? { kind: 'before', row: point.row, step: 0 } : { kind: 'after', row: point.row, step: 0 };
    let reason: StopReason;
    let exception: ExceptionDetails | undefined;
    switch (main.type) {
      case 'line':
        reason = main.bp?.kind === 'function' ? 'function breakpoint' : 'breakpoint';
        break;
      case 'function':
        reason = 'function breakpoint';
        if (main.step !== undefined && point.steps) {
          this.steps = point.steps.slice();
          this.stepsRow = point.row;
          pos = { kind: 'step', row: point.row, step: main.step };
        }
        break;
      case 'data':
        reason = 'data breakpoint';
        break;
      default:
        reason = 'exception';
        exception = point.exception;
    }
    return this.stopResult(pos, { reason, description: text, text, vcpu: point.vcpu, hitBreakpointIds: ids, exception });
  }

  private logExit(row: number): void {
    if (this.exitLogCount >= MAX_EXIT_LOG) {
      this.exitLogSuppressed++;
      return;
    }
    this.exitLogCount++;
    this.host.output('stdout', `${this.exitLine(row)}\n`, this.lineOfRow(row));
  }

  /** One line about the exit of the event just run. */
  exitLine(row: number): string {
    const m = this.machine;
    const e = m.mmu.exit!;
    const head = `line ${this.lineOfRow(row)} vCPU ${m.current}: ${rowText(this.program, row)} → VM exit (${e.reason === 'cr3' ? 'CR3 load' : `page fault, ${e.outcome}`})`;
    if (e.outcome === 'inject') return `${head}: #PF ${describeErrorCode(m.mmu.fault)} injected`;
    if (e.outcome === 'emulate') {
      const s = m.mmu.store;
      return `${head}: store to a write-protected guest page table emulated${s ? ` at ${hx(s.gpa)}` : ''}, kvm_mmu_pte_write ran`;
    }
    return head;
  }

  // ---- the checks at a point

  /** Line and label breakpoints at `before row` (conditions evaluated in the state before it). */
  private checkBefore(row: number): Point | null {
    const bps = this.beforeRows.get(row);
    if (!bps) return null;
    this.evalLine = this.lineOfRow(row);
    const hits: Hit[] = [];
    for (const bp of bps) {
      const c = this.condHolds(bp.condition);
      if (!c.ok) continue;
      const h: Hit = { type: 'line', bp, text: bp.kind === 'function' ? `Label @${bp.name.replace(/^@/, '')} (line ${this.lineOfRow(row)})` : `Breakpoint at line ${this.lineOfRow(row)}` };
      if (c.error !== undefined) h.condError = c.error;
      else if (bp.log) h.log = renderLogMessage(bp.log, this.machine.env);
      hits.push(h);
    }
    return hits.length ? { key: 2 * row, row, hits, vcpu: this.machine.current } : null;
  }

  /** What the event at `row` (just run) did that may stop: filters, data and function breakpoints. */
  private checkAfter(row: number, steps: HandlerStep[] | null): Point | null {
    const m = this.machine;
    // Most events trip nothing: say so before building anything (this runs after every event of a continue).
    if (m.error === null && this.dataBps.length === 0 && !(steps && steps.length && this.functionBps.length) && !this.someFilterTripped(row)) return null;
    this.evalLine = this.lineOfRow(row);
    let hits: Hit[] | null = null;
    const add = (h: Hit): void => {
      (hits ??= []).push(h);
    };
    if (m.error !== null) add({ type: 'error', filter: 'replay-error', text: `Replay error: ${m.error}` });
    const f = this.filters;
    for (const id of EVENT_FILTERS) if (f.has(id) && this.filterTripped(id, row)) this.filterHit(id, add, () => this.filterText(id));
    for (const bp of this.dataBps) {
      if (!bp.verified) continue;
      const now = this.dataValue(bp.target);
      if (now === bp.last) continue;
      const was = bp.last;
      bp.last = now;
      const c = this.condHolds(bp.condition);
      if (!c.ok) continue;
      const h: Hit = { type: 'data', bp, text: `${bp.target.label} changed: ${hx(this.archValue(bp.target, was))} → ${hx(this.archValue(bp.target, now))}` };
      if (c.error !== undefined) h.condError = c.error;
      else if (bp.log) h.log = renderLogMessage(bp.log, m.env);
      add(h);
    }
    let point: Point | null = null;
    if (steps && steps.length) {
      for (const bp of this.functionBps) {
        if (!bp.match || !bp.verified) continue;
        const k = steps.findIndex((s) => bp.match!(s.fn));
        if (k < 0) continue;
        const c = this.condHolds(bp.condition);
        if (!c.ok) continue;
        const h: Hit = { type: 'function', bp, step: k, text: `${steps[k]!.fn}: ${steps[k]!.text}` };
        if (c.error !== undefined) h.condError = c.error;
        else if (bp.log) h.log = renderLogMessage(bp.log, m.env);
        add(h);
      }
    }
    if (hits) {
      point = { key: 2 * row + 1, row, hits, vcpu: m.current };
      if (steps && steps.length && (hits as Hit[]).some((h) => h.type === 'function')) point.steps = steps.slice();
      if ((hits as Hit[]).some((h) => h.type === 'filter' || h.type === 'error')) point.exception = this.exceptionFor(row, hits);
    }
    return point;
  }

  /** True when the event just run at `row` is what some enabled exception filter looks for (its condition aside). */
  private someFilterTripped(row: number): boolean {
    const f = this.filters;
    if (f.size === 0) return false;
    for (const id of EVENT_FILTERS) if (f.has(id) && this.filterTripped(id, row)) return true;
    return false;
  }

  /** What each filter of an event looks for in the event just run at `row`. */
  private filterTripped(id: (typeof EVENT_FILTERS)[number], row: number): boolean {
    const m = this.machine;
    const mmu = m.mmu;
    switch (id) {
      case 'livelock':
        return mmu.incidents.length !== 0;
      case 'audit':
        return m.newViolations.length !== 0;
      case 'guest-fault':
        return mmu.fault >= 0;
      case 'flood':
        return mmu.floodZapped;
      case 'pte-write':
        return this.isPteWrite(row);
      case 'vmexit':
        return mmu.exit !== null;
    }
  }

  /** A stop's description for a filter that tripped. */
  private filterText(id: (typeof EVENT_FILTERS)[number]): string {
    const m = this.machine;
    const mmu = m.mmu;
    switch (id) {
      case 'livelock': {
        const inc = mmu.incidents.find((x) => x.kind === 'livelock') ?? mmu.incidents[0]!;
        return `${inc.kind === 'livelock' ? 'Livelock' : 'Hang'} in ${inc.fn}: ${inc.message}`;
      }
      case 'audit':
        return `Audit violation: ${m.newViolations[0]!.message}`;
      case 'guest-fault':
        return `#PF ${describeErrorCode(mmu.fault)} injected into the guest`;
      case 'flood':
        return 'Write flood: shadow page zapped';
      case 'pte-write':
        return `Guest page-table write${mmu.exit?.outcome === 'emulate' ? ' (trapped)' : ' (not trapped)'}`;
      case 'vmexit':
        return `VM exit: ${mmu.exit!.reason === 'cr3' ? 'CR3 load' : mmu.exit!.reason === 'npt' ? `nested page fault (npt, ${mmu.eventExits.length} exit${mmu.eventExits.length === 1 ? '' : 's'})` : `page fault (${mmu.exit!.outcome})`}`;
    }
  }

  private filterHit(id: FilterId, add: (h: Hit) => void, text: () => string): void {
    const c = this.condHolds(this.filters.get(id)?.condition);
    if (!c.ok) return;
    const h: Hit = { type: 'filter', filter: id, text: text() };
    if (c.error !== undefined) h.condError = c.error;
    add(h);
  }

  private checkExpect(row: number): Point | null {
    const m = this.machine;
    const e = m.expect!;
    this.evalLine = this.lineOfRow(row);
    const c = this.condHolds(this.filters.get('expect')?.condition);
    if (!c.ok) return null;
    const h: Hit = { type: 'filter', filter: 'expect', text: `expect failed: ${e.source} — ${e.message}` };
    if (c.error !== undefined) h.condError = c.error;
    const point: Point = { key: 2 * row + 1, row, hits: [h], vcpu: m.current };
    point.exception = {
      id: 'expect',
      description: `expect failed at line ${e.line}: ${e.source}`,
      details: `The expectation \`${e.source}\` on line ${e.line} does not hold after the previous event (${e.message}).`,
    };
    return point;
  }

  private archValue(t: DataTarget, v: bigint): bigint {
    if (t.kind === 'guest') return v;
    const n = Number(v);
    return n >= 2 ** 52 ? BigInt(n - 2 ** 52) | (1n << 63n) : v;
  }

  /** True when the event at `row` stored into a guest page-table entry. */
  private isPteWrite(row: number): boolean {
    const m = this.machine;
    const t = this.program.events;
    const op = t.op[row]!;
    if (m.error !== null) return false;
    if (op === Op.Pte) return true;
    if (op === Op.Store) {
      const s = m.mmu.store;
      return s !== null && (s.trapped || this.isPageTableFrame(Math.floor(s.gpa / PAGE_SIZE)));
    }
    if (op !== Op.Write) return false;
    const e = m.mmu.exit;
    if (e?.outcome === 'emulate') return true;
    if (m.access && !m.access.ok) return false;
    let gfn: number;
    if (e !== null) {
      const w = m.mmu.lastWalk;
      if (!w.ok) return false;
      gfn = w.gfn;
      // A user write to a shadowed frame unshadowed it (every shadow page of the frame zapped).
      if (m.shadow.zapped.some((p) => p.gfn === gfn && !p.role.metaphysical)) return true;
    } else {
      const spte = m.mmu.shadowLeaf(m.vcpu, t.addrOf(row));
      if (spte === 0) return false;
      gfn = spteFrame(spte) - HOST_FRAME_OFFSET;
    }
    return this.isPageTableFrame(gfn) || m.shadow.isShadowed(gfn);
  }

  /**
   * Frames known to hold guest page tables: the setup's page-table pool (the
   * run of frames the setup took from \`pool\`) and every space root, plus the
   * roots of \`cr3 GPA\` rows and the tables that level-2+ \`pte\` rows link in.
   */
  private isPageTableFrame(gfn: number): boolean {
    if (gfn >= this.poolStart && gfn < this.poolEnd) return true;
    if (!this.pageTableFrames) {
      const s = new Set<number>();
      const m = this.machine;
      for (const r of m.spaceRoots) if (r !== undefined) s.add(Math.floor(r / PAGE_SIZE));
      const t = this.program.events;
      for (let r = 0; r < t.count; r++) {
        if (t.op[r] === Op.Cr3 && t.argOf(r) < 0) s.add(Math.floor(t.addrOf(r) / PAGE_SIZE));
        else if (t.op[r] === Op.Pte && t.levelOf(r) >= 2 && t.offsetOf(r) === 0) {
          const lo = t.loOf(r);
          if (lo & PT_PRESENT && !((lo & PT_PAGE_SIZE) !== 0 && m.mode.isLargeLevel(t.levelOf(r)))) s.add(entryFrame(m.mode, lo, t.hiOf(r)));
        }
      }
      this.pageTableFrames = s;
    }
    return this.pageTableFrames.has(gfn);
  }

  /** exceptionInfo for the filters that fired at `row`, in a KVM reader's words. */
  private exceptionFor(row: number, hits: Hit[]): ExceptionDetails {
    const sorted = hits.filter((h) => h.type === 'filter' || h.type === 'error').sort((a, b) => PRIORITY[hitKind(a)]! - PRIORITY[hitKind(b)]!);
    const main = sorted[0]!;
    const m = this.machine;
    const mmu = m.mmu;
    const ev = `line ${this.lineOfRow(row)} (${rowText(this.program, row)}) on vCPU ${m.current}`;
    let details: string;
    switch (main.filter) {
      case 'replay-error':
        details = `The event at ${ev} cannot be replayed: ${m.error}. It changed nothing.`;
        break;
      case 'livelock': {
        const exits = mmu.eventExits.map((x) => (x.outcome ? `${x.reason} (${x.outcome})` : x.reason)).join(', ');
        const parts = mmu.incidents.map((x) =>
          x.kind === 'livelock'
            ? `Livelock: KVM 2007 would loop forever in ${x.fn}: ${x.message}. The model counts it (livelocks), lets the access complete as the guest walk says, and leaves the shadow as the last exit left it.`
            : `Hang: KVM 2007's ${x.fn} would loop forever in the host: ${x.message}. The model stops that loop, counts it (hangs) and goes on.`,
        );
        details = `At ${ev}, ${mmu.eventExits.length} VM exit${mmu.eventExits.length === 1 ? '' : 's'} (${exits || 'none'}). ${parts.join(' ')}`;
        break;
      }
      case 'audit': {
        const v = m.newViolations[0]!;
        const checks: Record<number, string> = {
          1: 'check 1: a shadowed guest page table is mapped writable by a shadow pte, so a guest store to it would not be trapped',
          2: 'check 2: the reverse map (rmap) does not match the present leaf shadow ptes',
          3: 'check 3: a shadow pte grants what the guest walk on its path refuses, or maps the wrong frame',
        };
        details = `After ${ev} the audit (KVM's 2007 AUDIT code) found ${m.newViolations.length} new violation${m.newViolations.length === 1 ? '' : 's'}. ${checks[v.check]}: ${v.message} [${v.pageText}, index ${v.index}, spte ${hx(v.spte)}${v.gpte !== undefined ? `, gpte ${hx(v.gpte)}` : ''}].`;
        break;
      }
      case 'guest-fault': {
        const w = mmu.lastWalk;
        details = `At ${ev} the shadow had no usable translation, so the hardware exited to kvm (page fault). paging${m.mode.entrySize === 4 ? '32' : '64'}_walk_addr walked the guest page tables and faulted at L${w.level}${w.pteGpa[w.level]! >= 0 ? ` (entry at ${hx(w.pteGpa[w.level]!)} = ${hx(m.mode.entrySize === 8 ? (BigInt(w.pteHi[w.level]!) << 32n) | BigInt(w.pteLo[w.level]!) : BigInt(w.pteLo[w.level]!))})` : ''}: the fault is the guest's own, so inject_page_fault delivered #PF with error code ${describeErrorCode(mmu.fault)} to the guest. The shadow is unchanged; the guest's fault handler runs next.`;
        break;
      }
      case 'flood':
        details = `At ${ev} kvm_mmu_pte_write saw write number ${m.vcpu.lastPtWriteCount} in a row to guest frame ${hx(m.vcpu.lastPtWriteGfn)} (last_pt_write_count ≥ 3): the write-flood detector decided the page is probably no longer a page table and zapped its shadow page${m.shadow.zapped.length === 1 ? '' : 's'} (${m.shadow.zapped.map((p) => `#${p.uid}`).join(', ')}) with kvm_mmu_zap_page, so later stores to it no longer exit.`;
        break;
      case 'pte-write': {
        const s = mmu.store;
        const trapped = mmu.exit?.outcome === 'emulate' || (s?.trapped ?? false);
        details = trapped
          ? `At ${ev} the guest stored into a page-table entry${s ? ` at gpa ${hx(s.gpa)} (${s.size} bytes)` : ''}. Its frame is shadowed, hence write-protected: the store trapped (VM exit, page fault), kvm emulated it and kvm_mmu_pte_write fixed up the shadow (${m.last.zapped} spte${m.last.zapped === 1 ? '' : 's'} zapped, ${m.last.updated} updated under the \`${m.policy.name}\` policy).`
          : `At ${ev} the guest stored into a page-table entry${s ? ` at gpa ${hx(s.gpa)} (${s.size} bytes)` : ''}. Its frame is not shadowed, so it is not write-protected: the store went straight to guest memory with no VM exit, and no shadow pte can be stale because of it.`;
        break;
      }
      default: {
        const e = mmu.exit!;
        if (e.reason === 'npt') details = `At ${ev} the hardware's two-dimensional walk touched ${mmu.eventExits.length} guest-physical frame${mmu.eventExits.length === 1 ? '' : 's'} that the nested page table did not map yet: ${mmu.eventExits.length} VM exit${mmu.eventExits.length === 1 ? '' : 's'} (npt), each handled by tdp_page_fault and __direct_map mapping one frame; the guest retried after each.`;
        else if (e.reason === 'cr3') details = `At ${ev} the guest loaded CR3 (${hx(m.vcpu.cr3)}): VM exit, new_cr3 released the vCPU's shadow roots and loaded the roots for the new page tables (shadow pages persist across switches).`;
        else if (e.outcome === 'inject') details = `At ${ev} the access found no usable shadow pte: VM exit (page fault). The guest walk faulted, so kvm injected #PF ${describeErrorCode(mmu.fault)} into the guest.`;
        else if (e.outcome === 'emulate') details = `At ${ev} a kernel store hit a write-protected (shadowed) guest page table: VM exit (page fault), kvm emulated the store and kvm_mmu_pte_write ran (${m.last.zapped} spte${m.last.zapped === 1 ? '' : 's'} zapped, ${m.last.updated} updated).`;
        else details = `At ${ev} the access found no usable shadow pte: VM exit (page fault). The guest walk succeeded and FNAME(fetch) filled the shadow (${m.shadow.created.length} shadow page${m.shadow.created.length === 1 ? '' : 's'} created); the guest retries and completes without another exit.`;
      }
    }
    return { id: main.filter!, description: main.text, details };
  }

  // ---- reverse

  private reverseContext(): ReverseContext {
    const p = this.position;
    const key = p.kind === 'end' ? 2 * this.program.events.count : p.kind === 'before' ? 2 * p.row : 2 * p.row + 1;
    return { limitKey: key, scannedFrom: Math.ceil(key / 2) };
  }

  private reverseSlice(ctx: ReverseContext, deadline: number): ScanResult {
    const tl = this.timeline;
    for (;;) {
      // Rows [start, end) of this segment are replayed; end covers the key limit.
      const endRow = Math.floor((ctx.limitKey + 1) / 2);
      if (endRow <= 0) return this.reachedStart();
      const start = tl.checkpointPosAtOrBefore(endRow - 1);
      tl.seekCheckpoint(start);
      const points = this.collect(start, ctx.limitKey);
      for (let i = points.length - 1; i >= 0; i--) {
        const s = this.decide(points[i]!);
        if (s) {
          this.moveTo(s.kind === 'stop' ? s.pos : this.position);
          return s;
        }
      }
      ctx.limitKey = 2 * start;
      ctx.scannedFrom = start;
      if (start === 0) return this.reachedStart();
      if (performance.now() > deadline || this.pauseRequested) return { kind: 'yield' };
    }
  }

  private reachedStart(): ScanResult {
    const first = this.nextEventRow(0);
    const m = this.machine;
    if (first < 0) return this.stopResult({ kind: 'end', row: this.program.events.count, step: 0 }, { reason: 'entry', description: 'No events in the trace', vcpu: m.current, hitBreakpointIds: [] });
    this.moveTo({ kind: 'before', row: first, step: 0 });
    return this.stopResult({ kind: 'before', row: first, step: 0 }, { reason: 'entry', description: 'Reached the start of the trace', vcpu: this.machine.current, hitBreakpointIds: [] });
  }

  private pauseReverse(ctx: ReverseContext): Position {
    const row = this.nextEventRow(ctx.scannedFrom);
    if (row < 0) {
      this.moveTo({ kind: 'end', row: this.program.events.count, step: 0 });
      return this.position;
    }
    this.moveTo({ kind: 'before', row, step: 0 });
    return this.position;
  }

  /** Replays from the machine's position (a checkpoint) up to `limitKey`, collecting every point that could stop. */
  private collect(start: number, limitKey: number): Point[] {
    const tl = this.timeline;
    const m = tl.machine;
    const t = this.program.events;
    const points: Point[] = [];
    for (const bp of this.dataBps) if (bp.verified) bp.last = this.dataValue(bp.target);
    const afterChecks = this.afterChecksWanted();
    const rec = this.functionBps.some((b) => b.match && b.verified) ? this.recorder : null;
    for (let row = start; ; row++) {
      if (2 * row >= limitKey || !tl.hasRow(row)) break;
      const op = t.op[row]!;
      if (op <= Op.Invlpg) {
        if (this.beforeRows.size) {
          const p = this.checkBefore(row);
          if (p) points.push(p);
        }
        if (2 * row + 1 >= limitKey) break;
        tl.stepOne(rec);
        if (afterChecks || m.error !== null) {
          const p = this.checkAfter(row, rec ? rec.steps : null);
          if (p) points.push(p);
        }
      } else {
        if (2 * row + 1 >= limitKey) break;
        tl.stepOne();
        if (op === Op.Expect && m.expect && !m.expect.passed && this.filters.has('expect')) {
          const p = this.checkExpect(row);
          if (p) points.push(p);
        }
      }
    }
    return points;
  }


  // ---------------------------------------------------------------------------
  // The other policies' counters

  /** The replays under every other policy (made on first use; the MMU map's timeline shares them). */
  policyTrackers(): readonly PolicyTracker[] {
    if (!this.trackers.length) {
      for (const name of POLICY_NAMES) if (name !== this.machine.policy.name) this.trackers.push(new PolicyTracker(this.program, name, (n) => this.moreRows(n)));
    }
    return this.trackers;
  }

  /** Exit counters of every other policy at the current position, or null where not computed yet (computed in the background, then `invalidated`). */
  otherPolicyCounts(): { policy: string; counts: ReturnType<PolicyTracker['countsAt']> }[] {
    const pos = this.timeline.pos;
    this.policyTrackers();
    const deadline = performance.now() + 15;
    const out = this.trackers.map((t) => {
      t.advance(pos, deadline);
      return { policy: t.policy, counts: t.countsAt(pos) };
    });
    if (out.some((o) => o.counts === null)) {
      this.trackerWanted = Math.max(this.trackerWanted, pos);
      this.scheduleBackground();
    }
    return out;
  }

  /** Memory held by the debugger's own structures (bytes, estimated), for the benchmark. */
  memoryReport(): Record<string, number> {
    const t = this.program.events;
    const table = t.byteLength;
    const tl = this.timeline.memoryEstimate();
    return {
      eventTable: table,
      undoLog: tl.undoBytes,
      checkpoints: tl.checkpoints,
      checkpointBytes: tl.checkpointBytes,
      guestPages: this.machine.mem.dataBytes,
      trackers: this.trackers.reduce((a, x) => a + x.bytes, 0),
    };
  }
}

interface ForwardOptions {
  stepMode?: boolean;
  entry?: boolean;
  entryContinue?: boolean;
}

interface ForwardContext {
  opts: ForwardOptions;
  /** The row we stand before (its line breakpoint does not fire again), or -1. */
  skipRow: number;
  stepMode: boolean;
  entry: boolean;
}

interface ReverseContext {
  limitKey: number;
  /** Everything from this row to the start position has been scanned. */
  scannedFrom: number;
}

function hitKind(h: Hit): string {
  if (h.type === 'filter' || h.type === 'error') return h.filter!;
  return h.type;
}

/** Every diagnostic as `LINE:COL message` (warnings marked). */
export function formatDiagnostics(ds: readonly Diagnostic[]): string {
  return ds.map((d) => `${d.line}:${d.col} ${d.severity === 'warning' ? 'warning: ' : ''}${d.message}${d.hint ? ` (${d.hint})` : ''}`).join('\n');
}

/** `g:GPA:SIZE` (a guest entry) or `s:UID:INDEX` (a shadow entry). */
export function parseDataId(id: string): DataTarget | undefined {
  let m = /^g:(0x[0-9a-f]+|\d+):([1248])$/i.exec(id);
  if (m) {
    const gpa = Number(m[1]);
    const size = Number(m[2]);
    if (!Number.isSafeInteger(gpa) || gpa < 0 || gpa >= 2 ** 52 || gpa % size !== 0) return undefined;
    return { kind: 'guest', gpa, size, label: `guest entry at ${hx(gpa)}` };
  }
  m = /^s:(\d+):(\d+)$/.exec(id);
  if (m) {
    const uid = Number(m[1]);
    const index = Number(m[2]);
    if (!Number.isSafeInteger(uid) || index > 511) return undefined;
    return { kind: 'shadow', uid, index, label: `shadow page #${uid} [${index}]` };
  }
  return undefined;
}

export function guestDataId(gpa: number, size: number): string {
  return `g:${hx(gpa)}:${size}`;
}

export function shadowDataId(uid: number, index: number): string {
  return `s:${uid}:${index}`;
}

