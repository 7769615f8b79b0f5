// The debugger's runtime: loads a trace, owns the Machine (through the
// Timeline), moves forwards and backwards, evaluates breakpoints and reports
// stops. It knows nothing of DAP: session.ts translates.
//
// It is built in layers, one file each: runtime-load.ts (state, loading,
// rows and lines; the positions are described there), runtime-breakpoints.ts,
// runtime-checks.ts (what may stop at a point), runtime-scan.ts (running in
// time slices, forwards and backwards), and this file, part 5 of 5: starting
// and stopping, and the motion requests (continue, steps, goto).

import { type HandlerStep } from '../engine';
import { RuntimeScan } from './runtime-scan';
import { TraceChangedError } from './rowwindows';
import { MAX_EXIT_LOG, RuntimeError, SLICE_MS, type Position, type StopInfo, type StopReason } from './runtime-types';

export { HEAD_LINES, LaunchError, MAX_EXIT_LOG, RuntimeError, formatDiagnostics, guestDataId, parseDataId, shadowDataId } from './runtime-types';
export type { BpSpec, DataBp, DataTarget, ExceptionDetails, FunctionBp, LaunchOptions, LineBp, PosKind, Position, RuntimeHost, RuntimeState, StopInfo, StopReason } from './runtime-types';

export class TraceRuntime extends RuntimeScan {
  // ---------------------------------------------------------------------------
  // Starting, stopping

  /** Begins the session after configurationDone: stops on entry or runs. */
  start(stopOnEntry: boolean): void {
    if (this.state !== 'loaded') throw new RuntimeError('the trace is not loaded');
    this.state = 'stopped';
    // Rows before the first event (vcpu, cpl, expect) run before the entry stop.
    this.runAsync('forward', stopOnEntry ? { entry: true } : { entryContinue: true });
  }

  protected stopAt(pos: Position, stop: StopInfo): void {
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
    this.parser?.close();
    this.parser = null;
  }

  pause(): boolean {
    if (this.state !== 'running') return false;
    this.pauseRequested = true;
    return true;
  }

  protected requireStopped(): void {
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
    if (to.kind === 'before' && to !== p) this.seekAsync(to, 'step', () => desc, `Stepping back to line ${this.lineOfRow(to.row)}`);
    else this.stopLater(to, 'step', desc);
  }

  reverseContinue(): void {
    this.requireStopped();
    this.runAsync('reverse', {});
  }

  /**
   * A goto to a line the background parse has not reached yet: parses up to
   * it in time slices (pausable, with progress), then goes to its event like
   * `goto`. Without an event at or after the line, it stops where it was.
   */
  gotoLine(line: number): void {
    this.requireStopped();
    this.state = 'running';
    this.pauseRequested = this.cancelRequested = false;
    const token = ++this.runToken;
    const from = this.parser?.linesParsed ?? 0;
    const progress = this.runProgress(`Loading up to line ${line}`);
    const tick = (): void => {
      if (token !== this.runToken) return;
      try {
        const deadline = performance.now() + SLICE_MS * 4;
        let p = this.parser;
        while (p && !p.done && p.linesParsed < line && performance.now() < deadline) {
          p.parseMore(5000);
          if (this.checkLateErrors()) break;
          p = this.parser;
        }
        if (p && p.done) this.parseFinished();
        const parsed = !this.parser || this.parser.linesParsed >= line;
        if (parsed) {
          progress.end();
          const row = this.nextEventRow(this.rowAtOrAfterLine(line));
          if (row < 0 || this.failedLate) {
            this.stopAt(this.position, { reason: 'goto', description: `No event at or after line ${line}: not moved`, vcpu: this.machine.current, hitBreakpointIds: [] });
            return;
          }
          this.state = 'stopped';
          return this.goto(row);
        }
        if (this.pauseRequested) {
          progress.end();
          this.stopAt(this.position, this.pauseStop());
          return;
        }
        const done = (this.parser?.linesParsed ?? line) - from;
        progress.update(`line ${this.parser?.linesParsed ?? line} parsed`, (100 * done) / Math.max(1, line - from));
        setImmediate(tick);
      } catch (e) {
        progress.end();
        this.internalError(e);
      }
    };
    setImmediate(tick);
  }

  goto(row: number): void {
    this.requireStopped();
    if (!this.isEventRow(row)) throw new RuntimeError('not an event row');
    const line = this.lineOfRow(row);
    this.seekAsync({ kind: 'before', row, step: 0 }, 'goto', () => `Jumped to line ${line}`, `Going to line ${line}`);
  }

  /** Moves to `pos` (re-running what is needed) and reports a stop, after the current request's response. */
  protected stopLater(pos: Position, reason: StopReason, description?: string): void {
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

  protected internalError(e: unknown): void {
    if (e instanceof TraceChangedError) {
      // Not the debugger's fault: the file under it changed. Said once, and the session ends.
      this.host.output('stderr', `${this.programPath}: ${e.message}\n`);
      this.terminate();
      return;
    }
    this.host.output('stderr', `internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    this.state = 'stopped';
    this.host.stopped({ reason: 'pause', description: 'Stopped after an internal error', vcpu: this.vcpu, hitBreakpointIds: [] });
  }

  protected describePosition(): string {
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

  protected findStep(from: number, ok: (s: HandlerStep) => boolean): number {
    for (let j = from; j < this.steps.length; j++) if (ok(this.steps[j]!)) return j;
    return -1;
  }

}
