// The command's replay of a streamed trace (cli.md; issue 13): every policy's
// Machine is fed from the same batches of rows as the parser hands them out,
// and nothing but the machines' state and the current batch is held. What a
// replay finds (expect failures, audit violations, livelocks and hangs, a
// replay error) keeps its line, taken while its row is at hand.
//
// The parse may run here (TraceStream, src/trace/stream.ts) or in a worker
// thread (parse-worker.ts): both give this module the setup once, then
// batches, then the diagnostics at the end.

import { Machine, MachineError, MemoryBudget, describeBudget } from '../engine';
import type { Program } from '../trace';
import type { EventBatch } from '../trace/stream';

export interface PolicyRun {
  /** The policy asked for (undefined: the file's, else `update`). */
  readonly policy: string | undefined;
  readonly machine: Machine;
  /** A replay error (`pte` into a missing table) and its line: the file counts as invalid. */
  error?: { line: number; message: string };
}

/** The engine could not set the trace up: its message and place (line 0: none). */
export interface SetupFailure {
  message: string;
  line: number;
  col: number;
}

export class StreamReplay {
  readonly runs: PolicyRun[] = [];
  setupFailure: SetupFailure | undefined;
  /**
   * The memory budget was reached (issue 17.3; src/engine/budget.ts): the
   * replay stopped after this line (0: before the first event), and why.
   */
  overBudget: { line: number; message: string } | undefined;
  private readonly budget = new MemoryBudget();
  private program: Program | undefined;
  private started = false;
  /** A parse error was found: rows from its line on are not replayed (nor anything after). */
  private stopped = false;

  constructor(
    private readonly policies: (setup: Program) => (string | undefined)[],
    private readonly audit: boolean,
  ) {}

  /** Whether the machines were set up (the setup was complete and without errors). */
  get running(): boolean {
    return this.started && this.setupFailure === undefined && !this.stopped;
  }

  /**
   * The setup is complete (the first event line was parsed, or the input
   * ended). With a parse error so far, nothing is replayed: the file is
   * invalid. Otherwise one machine per policy, in order, up to the first that
   * the engine refuses (a refusal is the same for every policy but a name).
   */
  begin(program: Program, hasErrors: boolean): void {
    if (this.started) return;
    this.started = true;
    if (hasErrors) {
      this.stopped = true;
      return;
    }
    this.program = program;
    for (const p of this.policies(program)) {
      try {
        this.runs.push({ policy: p, machine: new Machine(program, { policy: p, audit: this.audit }) });
      } catch (e) {
        if (!(e instanceof MachineError)) throw e;
        this.setupFailure = { message: e.message, line: e.line ?? 0, col: e.col ?? 1 };
        return;
      }
    }
  }

  /** Rows replayed so far (the trace's index of the next row to replay). */
  nextRow = 0;

  /**
   * Replays a batch on every machine, from its row `nextRow` on (rows before
   * it were replayed already: the worker's feed may hand the same rows twice).
   * `errorLine` is the first line with a parse error so far (0: none): the
   * replay stops before it.
   */
  batch(b: EventBatch, errorLine: number): void {
    if (!this.running || !this.program) return;
    const p = this.program;
    p.events = b.events;
    p.labels = b.labels as Map<string, number>;
    p.expects = b.expects as typeof p.expects;
    let end = b.events.count;
    if (errorLine > 0) {
      end = b.events.rowAtOrAfterLine(errorLine);
      this.stopped = true;
    }
    const start = Math.max(0, this.nextRow - b.firstRow);
    if (end <= start) return;
    this.nextRow = b.firstRow + end;
    for (const r of this.runs) {
      if (r.error) continue;
      const m = r.machine;
      m.runBatch(b.firstRow, end, start);
      if (m.error !== null) r.error = { line: b.events.lineOf(m.row), message: m.error };
    }
    // Measured after each batch (the probe itself keeps to one reading every 100 ms).
    const over = this.budget.check();
    if (over !== null) {
      const line = b.events.lineOf(end - 1);
      this.overBudget = { line, message: `${describeBudget(over)}; the replay stopped after this line (see "Memory budget" in the README)` };
      this.stopped = true;
    }
  }

  /** A parse error was found after the last batch replayed: nothing more is replayed. */
  stop(): void {
    this.stopped = true;
  }
}
