// The debugger runtime, part 1 of 5: its state, loading a trace (the head
// parsed before the first stop, the rest in background time slices with
// progress, a late parse error ending the session at its next stop), rows
// and lines, and the other policies' counters. The later parts build on this
// class: breakpoints (runtime-breakpoints.ts), the checks at a point
// (runtime-checks.ts), scanning forwards and backwards (runtime-scan.ts), and
// the requests (runtime.ts, TraceRuntime).
//
// Positions. The debugger stands either before an event row (`before r`: the
// machine has run every row before r; the stop after a step, a line
// breakpoint, entry or goto), after a row (`after r`: the stop of an
// exception filter, a data breakpoint or a failed expect, on the row that did
// it), inside the handler steps of an event (`step k` of r, after stepIn or a
// function breakpoint; the machine state is the one the event left), or at
// the end of the trace. In time, `before r` comes before `after r`, which
// comes before `before r+1`: a key 2r or 2r+1 orders them.

import { type Expr, type Value } from '../expr';
import { MODES, Machine, MachineError, PAGE_SIZE, PT_PAGE_SIZE, PT_PRESENT, entryFrame, type PagingMode, POLICY_NAMES, StepRecorder, getPolicy, type HandlerStep } from '../engine';
import { Op, type EventTable, type Program, type Rows } from '../trace';
import { TextSource, type TraceSource } from './source';
import { FILTERS, type FilterId } from './breakpoints';
import { PolicyTracker } from './compare';
import { EventBlocks } from './eventblocks';
import { Timeline } from './timeline';
import { HEAD_LINES, LaunchError, SLICE_MS, formatDiagnostics, type Bp, type DataBp, type FunctionBp, type LaunchOptions, type LineBp, type Position, type RuntimeHost, type RuntimeState, type StopInfo } from './runtime-types';

/** A request about lines not parsed yet parses at most this many more on the spot (about 0.1 s); the rest waits for the background parse. */
export const SYNC_PARSE_LINES = 200_000;

export abstract class RuntimeLoad {
  state: RuntimeState = 'unloaded';
  programPath = '';
  options: LaunchOptions | null = null;
  protected parser: TraceSource | null = null;
  program!: Program<Rows>;
  timeline!: Timeline;
  position: Position = { kind: 'before', row: 0, step: 0 };
  lastStop: StopInfo | null = null;
  /** Steps of the event at `stepsRow` (recorded on demand). */
  protected stepsRow = -1;
  protected steps: HandlerStep[] = [];
  protected readonly recorder = new StepRecorder();
  protected bgTimer: NodeJS.Immediate | null = null;
  protected runToken = 0;
  protected pauseRequested = false;
  /** The pause asked for is a cancel of the run's progress. */
  protected cancelRequested = false;
  protected loadProgressShown = false;
  protected lastProgress = 0;
  protected failedLate = false;
  /** The diagnostics of a late parse error, printed by `terminate` (so always after the stop that precedes them). */
  protected lateDiagnostics: string | null = null;
  protected trackers: PolicyTracker[] = [];
  protected trackerWanted = -1;
  /** Frames that rows link in as page tables (cr3 GPA, level-2+ pte), and the space roots: see isPageTableFrame. */
  protected pageTableFrames = new Set<number>();
  /** Each block's events, first event row and line, noted as rows are parsed (the MMU map's timeline on a file in windows). */
  eventBlocks = new EventBlocks();
  protected poolStart = 0;
  protected poolEnd = 0;
  protected exitLogCount = 0;
  protected exitLogSuppressed = 0;
  /** The line that `line` means in expressions. */
  protected evalLine = 0;

  // Breakpoints (kept across restarts).
  protected nextBpId = 1;
  lineBps: LineBp[] = [];
  functionBps: FunctionBp[] = [];
  dataBps: DataBp[] = [];
  readonly filters = new Map<FilterId, { condition?: Expr }>(FILTERS.filter((f) => f.default).map((f) => [f.id, {}]));
  protected beforeRows = new Map<number, Bp[]>();

  constructor(protected readonly host: RuntimeHost) {}

  get machine(): Machine {
    return this.timeline.machine;
  }

  get loaded(): boolean {
    return this.state !== 'unloaded' && this.timeline !== undefined;
  }

  /** Lines parsed so far (all of them once the parse is done). */
  get linesParsed(): number {
    return this.parser ? this.parser.linesParsed : this.program.lineCount;
  }

  get parseDone(): boolean {
    return this.parser === null || this.parser.done;
  }

  // ---------------------------------------------------------------------------
  // Loading

  /**
   * Parses the head of the trace (`input`: its text, or a source that reads
   * `opts.program` in parts) and builds the machine; the rest is parsed in
   * the background. Throws LaunchError: an error in the head fails the launch.
   */
  load(opts: LaunchOptions, input: string | TraceSource): void {
    this.cancelBackground();
    this.runToken++;
    this.parser?.close();
    this.parser = null;
    const file = opts.program;
    const src = typeof input === 'string' ? new TextSource(input) : input;
    // Every row passes by here once, as it is parsed (a huge file's rows are not all kept).
    const frames = new Set<number>();
    const blocks = new EventBlocks();
    src.onRows = (t, from, to, base) => {
      addPageTableFrames(MODES[src.program.mode], t, from, to, frames);
      blocks.add(t, from, to, base);
    };
    try {
      src.parseMore(HEAD_LINES);
      while (!src.done && !src.hasErrors && src.program.events.count === 0) src.parseMore(HEAD_LINES);
      if (src.hasErrors) {
        const f = src.failure();
        throw new LaunchError(failureText(file, f));
      }
    } catch (e) {
      src.close();
      throw e;
    }
    const program = src.program;
    const policy = opts.policy ?? program.policy ?? 'update';
    let machine: Machine;
    try {
      if (!getPolicy(policy)) throw new LaunchError(`unknown policy \`${policy}\`; known policies: ${POLICY_NAMES.join(', ')}`);
      machine = new Machine(program, { policy, audit: opts.audit ? 'incremental' : false });
    } catch (e) {
      src.close();
      if (e instanceof MachineError) throw new LaunchError(e.line ? `${file}:${e.line}:${e.col ?? 1}: error: ${e.message}` : `${file}: error: ${e.message}`);
      throw e;
    }
    this.programPath = file;
    this.options = { ...opts, policy };
    this.program = program;
    if (src.done) {
      src.finish();
      src.close();
    } else this.parser = src;
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
    for (const r of machine.spaceRoots) if (r !== undefined) frames.add(Math.floor(r / PAGE_SIZE));
    this.pageTableFrames = frames;
    this.eventBlocks = blocks;
    // The setup took its page tables from the pool, a page at a time upward.
    this.poolStart = Math.floor(program.pool / PAGE_SIZE);
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
      const row = program.labels.get(b.name.replace(/^@/, ''));
      b.labelRow = row;
      b.verified = row !== undefined;
    }
    this.state = 'loaded';
    this.reverifyLineBps(false);
    this.rebuildBeforeRows();
    if (this.parser) this.scheduleBackground();
  }

  /** Synchronously parses until `needed` rows exist or the file ends. */
  protected moreRows(needed: number): boolean {
    const p = this.parser;
    if (this.failedLate) return false;
    while (p && !p.done && this.program.events.count < needed) {
      p.parseMore(5000);
      if (this.checkLateErrors()) return false;
    }
    if (p && p.done) this.parseFinished();
    else this.resolvePending();
    return this.program.events.count >= needed;
  }

  protected checkLateErrors(): boolean {
    const p = this.parser;
    if (!p || !p.hasErrors) return false;
    const f = p.failure();
    p.close();
    this.failedLate = true;
    this.lateDiagnostics = `${failureText(this.programPath, f)}\n`;
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

  /**
   * Line breakpoints pending on lines the parse has passed get their rows
   * now, not at the end of the parse: a run may get there first (the parse
   * keeps at most `rowsAhead` rows ahead of a run).
   */
  protected resolvePending(): void {
    const parsed = this.linesParsed;
    if (this.lineBps.some((b) => b.pending && b.requestedLine <= parsed)) this.reverifyLineBps(true);
  }

  protected parseFinished(): void {
    if (!this.parser) return;
    this.parser.finish();
    this.parser.close();
    this.parser = null;
    if (this.loadProgressShown) {
      this.host.progress('end', `Loaded ${this.program.lineCount} lines`);
      this.loadProgressShown = false;
    }
    this.reverifyLineBps(true);
  }

  protected scheduleBackground(): void {
    if (this.bgTimer || this.state === 'terminated' || this.state === 'unloaded') return;
    const needsParse = this.parser !== null;
    const needsTracker = this.state !== 'running' && this.trackerWanted >= 0 && this.trackers.some((t) => !t.done && t.pos < this.trackerWanted);
    if (!needsParse && !needsTracker) return;
    this.bgTimer = setImmediate(() => {
      this.bgTimer = null;
      this.backgroundSlice();
    });
  }

  protected backgroundSlice(): void {
    if (this.state === 'terminated' || this.state === 'unloaded') return;
    const deadline = performance.now() + SLICE_MS;
    const p = this.parser;
    if (p && this.state === 'running' && this.program.events.count - this.machine.pos > p.rowsAhead) {
      // Far enough ahead of the run (windows parsed further would be parsed again when it gets there):
      // the run's slices schedule the next parse slice.
      return;
    }
    if (p) {
      if (!this.loadProgressShown) {
        this.loadProgressShown = true;
        this.host.progress('start', `Loading ${this.programPath.split(/[\\/]/).pop()}`, 0);
        this.lastProgress = performance.now();
      }
      while (!p.done && performance.now() < deadline) {
        p.parseMore(1000); // Small steps: the slice keeps to its deadline even while the parser is cold.
        if (this.checkLateErrors()) return;
      }
      if (p.done) this.parseFinished();
      else {
        this.resolvePending();
        if (performance.now() - this.lastProgress > 100) {
          this.lastProgress = performance.now();
          this.host.progress('update', p.progressText, Math.min(99, Math.floor(100 * p.fraction)));
        }
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

  protected cancelBackground(): void {
    if (this.bgTimer) clearImmediate(this.bgTimer);
    this.bgTimer = null;
  }

  // ---------------------------------------------------------------------------
  // Rows and lines

  isEventRow(row: number): boolean {
    return row >= 0 && row < this.program.events.count && this.program.events.opOf(row) <= Op.Invlpg;
  }

  /** The first event row at or after `row` (parsing as needed), or -1. */
  nextEventRow(row: number): number {
    const t = this.program.events;
    for (let r = Math.max(0, row); ; r++) {
      if (r >= t.count && !this.timeline.hasRow(r)) return -1;
      if (t.opOf(r) <= Op.Invlpg) return r;
    }
  }

  /** The last event row before `row`, or -1. */
  prevEventRow(row: number): number {
    const t = this.program.events;
    for (let r = Math.min(row, t.count) - 1; r >= 0; r--) if (t.opOf(r) <= Op.Invlpg) return r;
    return -1;
  }

  /** The first row whose line is at or after `line` among rows parsed so far (count when none). */
  rowAtOrAfterLine(line: number): number {
    return this.program.events.rowAtOrAfterLine(line);
  }

  /** Lines that can hold a breakpoint in [line, endLine] (event lines). */
  breakpointLines(line: number, endLine: number): number[] {
    // Parsed on the spot if it is near; lines further than SYNC_PARSE_LINES beyond the parse are not known yet.
    if (!this.parseDone) this.moreRowsToLine(Math.min(endLine, (this.parser?.linesParsed ?? 0) + SYNC_PARSE_LINES));
    const t = this.program.events;
    const out: number[] = [];
    for (let r = this.rowAtOrAfterLine(line); r < t.count && t.lineOf(r) <= endLine; r++) if (t.opOf(r) <= Op.Invlpg) out.push(t.lineOf(r));
    return out;
  }

  protected moreRowsToLine(line: number): void {
    const p = this.parser;
    while (p && !p.done && p.linesParsed < line) {
      p.parseMore(5000);
      if (this.checkLateErrors()) return;
    }
    if (p && p.done) this.parseFinished();
    else this.resolvePending();
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
    // (A tracker that gave up, at the memory budget, has nothing more to come.)
    if (out.some((o, i) => o.counts === null && this.trackers[i]!.error === null)) {
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

  // Defined by the later parts.
  abstract terminate(): void;
  protected abstract reverifyLineBps(notify: boolean): void;
  protected abstract rebuildBeforeRows(): void;
  protected abstract exitValue(): Value;
}

/** What a parse failure says: "FILE does not parse:" and every diagnostic, or the source's own message. */
function failureText(file: string, f: ReturnType<TraceSource['failure']>): string {
  if (f.message !== undefined) return f.message;
  return `${file} does not parse:\n${formatDiagnostics(f.diagnostics)}${f.note ? `\n${f.note}` : ''}`;
}

/**
 * Adds the frames that rows [from, to) of `t` link in as guest page tables:
 * the roots of `cr3 GPA` rows and the tables that level-2+ `pte` rows point
 * to (not a large page's frame).
 */
export function addPageTableFrames(mode: PagingMode, t: EventTable, from: number, to: number, into: Set<number>): void {
  for (let r = from; r < to; r++) {
    const op = t.op[r]!;
    if (op === Op.Cr3 && t.argOf(r) < 0) into.add(Math.floor(t.addrOf(r) / PAGE_SIZE));
    else if (op === Op.Pte && t.levelOf(r) >= 2 && t.offsetOf(r) === 0) {
      const lo = t.loOf(r);
      if (lo & PT_PRESENT && !((lo & PT_PAGE_SIZE) !== 0 && mode.isLargeLevel(t.levelOf(r)))) into.add(entryFrame(mode, lo, t.hiOf(r)));
    }
  }
}
