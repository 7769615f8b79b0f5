// The debugger runtime, part 4 of 5: running in time slices (so that pause
// and other requests get through), scanning forwards row by row for the
// next stop and backwards checkpoint by checkpoint for the last one, and
// long seeks (goto, step back) in slices too; each shows cancellable
// progress when it takes long.

import { MemoryBudget, describeBudget, type BudgetExceeded } from '../engine';
import { Op } from '../trace';
import { RuntimeChecks } from './runtime-checks';
import type { SeekJob } from './timeline';
import { SLICE_MS, type ForwardContext, type ForwardOptions, type Point, type Position, type ReverseContext, type ScanResult, type StopInfo, type StopReason } from './runtime-types';

/** A run or seek shows progress once it has taken this long (ms), and updates it at most this often. */
const PROGRESS_AFTER_MS = 200;
const PROGRESS_EVERY_MS = 100;

/** The stop when the memory budget is reached: an exception stop (`memory-budget`) that says what to do. */
export function budgetStop(over: BudgetExceeded, vcpu: number): StopInfo {
  const description = `Memory budget reached: ${describeBudget(over)}`;
  const details =
    `The session stopped here so that the debug adapter does not run out of memory. ` +
    `Continuing forward will stop again; stepping back, goto to an earlier line and inspecting still work. ` +
    `To replay the whole trace, run \`mmutrace run\` (no checkpoints: it holds less), launch with \`"audit": false\`, ` +
    `or lower \`shadow-pages\` in the trace; a machine with more memory can raise the budget with MMUTRACE_MEMORY_BUDGET_MB (see "Memory budget" in the README).`;
  return { reason: 'exception', description, text: description, vcpu, hitBreakpointIds: [], exception: { id: 'memory-budget', description, details } };
}

export abstract class RuntimeScan extends RuntimeChecks {
  /** What the session may hold (measured between time slices). */
  protected readonly budget = new MemoryBudget();

  // ---------------------------------------------------------------------------
  // Running (in time slices, so that pause and other requests get through)

  protected runAsync(dir: 'forward' | 'reverse', opts: ForwardOptions): void {
    this.state = 'running';
    this.pauseRequested = false;
    this.cancelRequested = false;
    this.exitLogCount = 0;
    this.exitLogSuppressed = 0;
    const token = ++this.runToken;
    const ctx = dir === 'forward' ? this.forwardContext(opts) : this.reverseContext();
    const startKey = dir === 'reverse' ? (ctx as ReverseContext).limitKey : 0;
    const progress = this.runProgress(dir === 'forward' ? 'Running' : 'Running backwards');
    const tick = (): void => {
      if (token !== this.runToken) return;
      try {
        const deadline = performance.now() + SLICE_MS * 4;
        const res = dir === 'forward' ? this.forwardSlice(ctx as ForwardContext, deadline) : this.reverseSlice(ctx as ReverseContext, deadline);
        if (res.kind === 'stop') {
          progress.end();
          this.stopAt(res.pos, res.stop);
          return;
        }
        if (this.pauseRequested) {
          progress.end();
          const pos = dir === 'forward' ? this.positionHere() : this.pauseReverse(ctx as ReverseContext);
          this.stopAt(pos, this.pauseStop());
          return;
        }
        if (dir === 'forward') {
          const total = this.parseDone ? this.program.events.count : 0;
          progress.update(`at line ${this.lineOfRow(this.timeline.pos)}`, total ? (100 * this.timeline.pos) / total : undefined);
        } else {
          const key = (ctx as ReverseContext).limitKey;
          progress.update(`at line ${this.lineOfRow(Math.floor(key / 2))}`, startKey ? 100 * (1 - key / startKey) : undefined);
        }
        // The memory budget (issue 17.3), measured between slices: past it, a stop that says so.
        const over = this.budget.check();
        if (over !== null) {
          progress.end();
          const pos = dir === 'forward' ? this.positionHere() : this.pauseReverse(ctx as ReverseContext);
          this.stopAt(pos, budgetStop(over, this.machine.current));
          return;
        }
        setImmediate(tick);
        this.scheduleBackground();
      } catch (e) {
        progress.end();
        this.internalError(e);
      }
    };
    setImmediate(tick);
  }

  /**
   * Moves to `to` (a `before` or `after` position, far away maybe: a goto, a
   * step back) in time slices like a run, then stops there with `reason`.
   * A pause (or a cancel of its progress) stops it where it is when it goes
   * forwards, at the next event row; disconnect and terminate end it at once.
   */
  protected seekAsync(to: Position, reason: StopReason, description: () => string, progressText: string): void {
    this.state = 'running';
    this.pauseRequested = false;
    this.cancelRequested = false;
    const token = ++this.runToken;
    const tl = this.timeline;
    const target = to.kind === 'after' ? to.row + 1 : to.row;
    const from = tl.pos;
    const forward = target >= from;
    let job: SeekJob | null = null;
    const progress = this.runProgress(progressText);
    const tick = (): void => {
      if (token !== this.runToken) return;
      try {
        job ??= tl.startSeek(target);
        const done = job.run(performance.now() + SLICE_MS * 4);
        if (done) {
          progress.end();
          this.moveTo(to);
          this.stopAt(this.position, { reason, description: description(), vcpu: this.machine.current, hitBreakpointIds: [] });
          return;
        }
        // Backwards, the seek re-runs at most the rows from a checkpoint to the target: a pause waits for it.
        if (this.pauseRequested && forward) {
          progress.end();
          this.stopAt(this.positionHere(), this.pauseStop());
          return;
        }
        // The memory budget (issue 17.3), measured between slices: past it, stop where the seek got to and say so.
        const over = this.budget.check();
        if (over !== null) {
          progress.end();
          this.stopAt(this.positionHere(), budgetStop(over, this.machine.current));
          return;
        }
        progress.update(`at line ${this.lineOfRow(tl.pos)}`, forward && target > from ? (100 * (tl.pos - from)) / (target - from) : undefined);
        setImmediate(tick);
        this.scheduleBackground();
      } catch (e) {
        progress.end();
        this.internalError(e);
      }
    };
    setImmediate(tick);
  }

  /** The stop of a pause, or of a cancel of the run's progress. */
  protected pauseStop(): StopInfo {
    const cancelled = this.cancelRequested;
    this.pauseRequested = this.cancelRequested = false;
    return { reason: 'pause', description: cancelled ? 'Cancelled' : 'Paused', vcpu: this.machine.current, hitBreakpointIds: [] };
  }

  /**
   * The progress of a run or seek: shown (on the host's `run` channel,
   * cancellable) once it has taken PROGRESS_AFTER_MS, updated at most every
   * PROGRESS_EVERY_MS, ended when it stops.
   */
  protected runProgress(title: string): { update(message: string, percentage?: number): void; end(): void } {
    const t0 = performance.now();
    let shown = false;
    let last = 0;
    return {
      update: (message, percentage) => {
        const now = performance.now();
        if (now - t0 < PROGRESS_AFTER_MS || now - last < PROGRESS_EVERY_MS) return;
        const pct = percentage === undefined ? undefined : Math.max(0, Math.min(99, Math.floor(percentage)));
        this.host.progress(shown ? 'update' : 'start', shown ? message : title, pct, 'run');
        shown = true;
        last = now;
      },
      end: () => {
        if (shown) this.host.progress('end', title === 'Running' || title === 'Running backwards' ? 'Stopped' : 'Done', undefined, 'run');
        shown = false;
      },
    };
  }

  /** Cancels the run or seek in progress (its progress's cancel): it stops like a pause. */
  cancelRun(): boolean {
    if (this.state !== 'running') return false;
    this.pauseRequested = this.cancelRequested = true;
    return true;
  }

  /** The position of the machine as it is (between rows while running forward). */
  protected positionHere(): Position {
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

  protected forwardContext(opts: ForwardOptions): ForwardContext {
    const p = this.position;
    if (opts.entry || opts.entryContinue) {
      return { opts, skipRow: -1, stepMode: false, entry: opts.entry === true };
    }
    if (p.kind === 'step' || p.kind === 'after') this.moveTo({ kind: 'after', row: p.row, step: 0 });
    else if (p.kind === 'before') this.moveTo(p);
    return { opts, skipRow: p.kind === 'before' ? p.row : -1, stepMode: opts.stepMode === true, entry: false };
  }

  protected forwardSlice(ctx: ForwardContext, deadline: number): ScanResult {
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
      const op = t.opOf(row);
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

  // ---- reverse

  protected reverseContext(): ReverseContext {
    const p = this.position;
    const key = p.kind === 'end' ? 2 * this.program.events.count : p.kind === 'before' ? 2 * p.row : 2 * p.row + 1;
    return { limitKey: key, scannedFrom: Math.ceil(key / 2) };
  }

  protected reverseSlice(ctx: ReverseContext, deadline: number): ScanResult {
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

  protected reachedStart(): ScanResult {
    const first = this.nextEventRow(0);
    const m = this.machine;
    if (first < 0) return this.stopResult({ kind: 'end', row: this.program.events.count, step: 0 }, { reason: 'entry', description: 'No events in the trace', vcpu: m.current, hitBreakpointIds: [] });
    this.moveTo({ kind: 'before', row: first, step: 0 });
    return this.stopResult({ kind: 'before', row: first, step: 0 }, { reason: 'entry', description: 'Reached the start of the trace', vcpu: this.machine.current, hitBreakpointIds: [] });
  }

  protected pauseReverse(ctx: ReverseContext): Position {
    const row = this.nextEventRow(ctx.scannedFrom);
    if (row < 0) {
      this.moveTo({ kind: 'end', row: this.program.events.count, step: 0 });
      return this.position;
    }
    this.moveTo({ kind: 'before', row, step: 0 });
    return this.position;
  }

  /** Replays from the machine's position (a checkpoint) up to `limitKey`, collecting every point that could stop. */
  protected collect(start: number, limitKey: number): Point[] {
    const tl = this.timeline;
    const m = tl.machine;
    const t = this.program.events;
    const points: Point[] = [];
    for (const bp of this.dataBps) if (bp.verified) bp.last = this.dataValue(bp.target);
    const afterChecks = this.afterChecksWanted();
    const rec = this.functionBps.some((b) => b.match && b.verified) ? this.recorder : null;
    for (let row = start; ; row++) {
      if (2 * row >= limitKey || !tl.hasRow(row)) break;
      const op = t.opOf(row);
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



  // Defined by TraceRuntime.
  abstract moveTo(pos: Position): void;
  protected abstract stopAt(pos: Position, stop: StopInfo): void;
  protected abstract internalError(e: unknown): void;
}
