// The debugger runtime's vocabulary: positions, stops, breakpoints, the
// points a scan meets, the constants of its time slices, and the small
// helpers (diagnostics, data breakpoint ids) shared by the runtime's parts
// (runtime-load.ts, runtime-breakpoints.ts, runtime-checks.ts,
// runtime-scan.ts, runtime.ts). No state here.

import type { Expr } from '../expr';
import type { HandlerStep } from '../engine';
import type { Diagnostic } from '../trace';
import type { FilterId, LogPart } from './breakpoints';
import { hx } from './format';

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

export interface BpBase {
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
export type Bp = LineBp | FunctionBp | DataBp;

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
  /** Progress of loading (`load`, not cancellable) or of a run or seek (`run`: its cancel calls cancelRun). */
  progress(kind: 'start' | 'update' | 'end', message: string, percentage?: number, channel?: 'load' | 'run'): void;
  /** Line breakpoints whose verification changed (the trace finished loading). */
  breakpointsChanged(bps: LineBp[]): void;
  /** Values shown earlier are stale (the other policy's counters got there). */
  invalidated(): void;
}

/** One thing that happened at a point of the trace and may stop it. */
export interface Hit {
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

export interface Point {
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

export type ScanResult = { kind: 'stop'; pos: Position; stop: StopInfo } | { kind: 'yield' };

/** Lines parsed before the first stop (and at least up to the first event); the rest is parsed in the background. Few: in a fresh adapter the parser runs cold (500 lines: about 50 ms, 2,000: about 150). */
export const HEAD_LINES = 500;
/** Time slice of background work and of running (ms): requests wait at most about this long. */
export const SLICE_MS = 8;
/** At most this many VM exits are logged per resume. */
export const MAX_EXIT_LOG = 200;

export const PRIORITY: Record<string, number> = {
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
export const EVENT_FILTERS = ['livelock', 'audit', 'guest-fault', 'flood', 'pte-write', 'vmexit'] as const satisfies readonly FilterId[];

export interface ForwardOptions {
  stepMode?: boolean;
  entry?: boolean;
  entryContinue?: boolean;
}

export interface ForwardContext {
  opts: ForwardOptions;
  /** The row we stand before (its line breakpoint does not fire again), or -1. */
  skipRow: number;
  stepMode: boolean;
  entry: boolean;
}

export interface ReverseContext {
  limitKey: number;
  /** Everything from this row to the start position has been scanned. */
  scannedFrom: number;
}

export function hitKind(h: Hit): string {
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
