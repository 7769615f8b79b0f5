// The timeline: one Machine that can be moved to any row of the program,
// forwards by running it and backwards by restoring a checkpoint and running
// it again (the engine is deterministic). No DAP here.
//
// Checkpoints are Machine snapshots taken the first time execution passes a
// point, about every CHECKPOINT_MS of replay (so that going back to any row
// re-runs at most that much), without their guest memory: guest memory is
// moved back with an undo log of every store the engine makes (undolog.ts:
// the old bytes, 12 or 16 bytes a store), so a checkpoint costs the shadow
// pages that changed since the previous one, not copies of guest pages.
//
// Memory keyframes keep the undo log from growing with the trace (issue 13:
// 5 bytes a row on a kbuild-like trace, 500 MB over 100 million rows): a
// checkpoint taken once the log has grown by KEYFRAME_WORDS since the last
// keyframe also keeps a copy of guest memory (copy-on-write: it costs the
// pages written after it). The log before the last keyframe but one is let
// go; a checkpoint before that is reached by restoring the keyframe before it
// (its memory from the copy) and running forward from there. Keyframes have
// a budget of their own (KEYFRAME_BUDGET_BYTES, the guest memory each held
// when taken): past it, every other keyframe gives its copy up (never the
// first, at row 0, nor the last two) and the log between keyframes doubles. Shadow page images that did not
// change are shared between checkpoints: the engine's snapshot gives the same
// image object for a page that did not change (ShadowPage.snapshotImage), and
// builds images only for the pages that did.
//
// Going back costs a restore (O(shadow pages) in the engine) and the re-run
// from the checkpoint; the re-run is kept short by temporary checkpoints
// (snapshots like the others, dropped when the debugger moves away):
// - a seek (backward, or forward over rows run before) leaves them behind it,
//   every LOCAL_GAP rows over the last LOCAL_WINDOW rows before its target,
//   so that the next step back re-runs at most LOCAL_GAP rows instead of up
//   to a whole gap between checkpoints;
// - a run forward over rows run before, to wherever it stops, leaves one
//   every TRAIL_GAP rows, so that the first step back after it re-runs at
//   most about that many (the first time through, the checkpoints are that
//   close already: about 5 ms of replay apart).
// And the re-run goes without the audit when no violation can appear in it:
// the audit's state changes only when it reports a violation, so when the
// number of violations is the same at both ends of the re-run, running it
// would find nothing and change nothing. Going back, the audit where the
// machine stood knows the row of every violation before; going forward over
// rows run before, the checkpoints and the frontier give the counts ahead.
// The audit is more than half of a row's cost.
//
// Checkpoints have a memory budget (CHECKPOINT_BUDGET_BYTES, issue 17.3):
// each one holds a list of every live shadow page (8 bytes a page: a
// million pages make 8 MB a checkpoint) and the images of the pages that
// changed since the one before. When what they hold passes the budget, the
// temporary checkpoints go first; then every other checkpoint is dropped
// (the first, at row 0, and the newest stay) and the least gap between
// checkpoints doubles, so that a run of any length keeps at most about the
// budget in checkpoints, and a step back re-runs more rows instead.

import { imageBytes, type MachineSnapshot, type Machine, type StepRecorder } from '../engine';
import { Op, firstIndex } from '../trace';
import { EffectLog } from './lineeffects';
import { UndoLog } from './undolog';

type ShadowImage = MachineSnapshot['shadow']['pages'][number];

interface Checkpoint {
  /** machine.pos at the checkpoint. */
  pos: number;
  snap: MachineSnapshot;
  /** Undo log length at the checkpoint. */
  undoLen: number;
  /** Exits per vCPU (the engine counts them globally only). */
  vcpuExits: Float64Array;
  lastEventRow: number;
  /** About the bytes it holds of its own: its page list, and the images first made for it (ShadowMmu.lastSnapshotOwnBytes). */
  bytes: number;
}

/**
 * The smallest and largest gap between checkpoints, in rows; the largest
 * is passed only when snapshots are so slow (a huge shadow) that a gap this
 * long would make checkpoints cost more than 1/CHECKPOINT_COST_RATIO of
 * the replay, and the smallest is raised when the budget thins checkpoints.
 */
export const MIN_CHECKPOINT_GAP = 512;
export const MAX_CHECKPOINT_GAP = 16384;
/** Replay time between checkpoints (ms): about the most a step backwards re-runs. */
export const CHECKPOINT_MS = 5;
/**
 * Checkpoints may cost at most 1/this of the replay time (the gap grows when
 * snapshots are slow). The snapshot's time is measured, not the collection of
 * the images it made garbage of (a changed page is imaged whole at each
 * checkpoint): 30, not 15, to leave room for it (issue 16: the debugger's
 * continue on the two-spaces trace spent about as much again in GC as in
 * making images).
 */
const CHECKPOINT_COST_RATIO = 30;
/** Rows between the temporary checkpoints a backward seek leaves behind it. */
export const LOCAL_GAP = 256;
/** How far behind its target a backward seek leaves temporary checkpoints, and how far from the machine they are kept (rows). */
export const LOCAL_WINDOW = 8 * LOCAL_GAP;
/** Rows between the temporary checkpoints a forward run over rows run before leaves behind it. */
export const TRAIL_GAP = 2048;
/**
 * The most the checkpoints (temporary ones included) may hold, in bytes (an
 * estimate: the page lists and new images of ShadowMmu.lastSnapshotOwnBytes, the
 * audit's state where it changed); past it they are thinned (see above).
 */
export const CHECKPOINT_BUDGET_BYTES = 96 * 1024 * 1024;
/** Undo log words (4 bytes) between two memory keyframes, at first (the budget doubles it). */
export const KEYFRAME_WORDS = 4 * 1024 * 1024;
/** The most the keyframes' copies of guest memory may hold (the guest memory of each when it was taken). */
export const KEYFRAME_BUDGET_BYTES = 48 * 1024 * 1024;

/** A seek in parts (Timeline.startSeek). */
export interface SeekJob {
  readonly target: number;
  /** Runs rows until the target (true) or `deadline` (performance.now(), false). */
  run(deadline: number): boolean;
  /** The program ended before the target. */
  ended: boolean;
}

export class Timeline {
  readonly machine: Machine;
  /** Asked for more rows when the machine runs out (the parser may still be reading the file). Returns false at the real end. */
  private readonly moreRows: (needed: number) => boolean;

  private readonly undo: UndoLog;
  private logging = true;
  /** Undo words between keyframes, and the log's length at the last keyframe taken. */
  private keyWords: number;
  private lastKeyUndo = 0;
  /** The guest memory the keyframes held when taken (an estimate of what their copies keep). */
  private keyBytes = 0;
  private readonly keyBudget: number;
  /** The log's length at which to look for words to let go again. */
  private nextTrim = 0;
  /** Keyframe copies given up to the budget, and restores from a keyframe's copy (for tests and the benchmark). */
  keyThinnings = 0;
  keyRestores = 0;

  private readonly checkpoints: Checkpoint[] = [];
  /** Temporary checkpoints, by position: none further than LOCAL_WINDOW rows from the last one taken or the last backward seek's target. */
  private readonly local = new Map<number, Checkpoint>();
  /** The position of the last checkpoint taken or restored (a forward run over rows run before takes a temporary one TRAIL_GAP rows after it). */
  private lastSnapPos = 0;
  /** No temporary checkpoints from stepOne (a seek places its own). */
  private noTrail = false;
  private readonly localGap: number;
  private readonly localWindow: number;
  private readonly trailGap: number;
  /** The furthest position run so far, and the audit's violation count there. */
  private frontier = 0;
  private frontierViolations = 0;
  private nextCheckpoint = 0;
  private gap = MIN_CHECKPOINT_GAP;
  private fixedGap = false;
  /** The least gap between checkpoints: doubles each time the budget thins them. */
  private minGap = MIN_CHECKPOINT_GAP;
  private readonly budgetBytes: number;
  /**
   * What the checkpoints hold, by the sum of their `bytes` (an upper bound:
   * images stay counted after the checkpoint that made them is dropped,
   * since later ones may share them, until `recount` finds what is still held).
   */
  private heldBytes = 0;
  /** Times the budget thinned the checkpoints (for tests and the benchmark). */
  thinnings = 0;
  private lastCheckpointPos = 0;
  /** Replay time since the last checkpoint (sampled every 32 rows at the frontier). */
  private accMs = 0;
  private snapMs = 0;
  private rowMs = 0;
  private sampleAt = 0;
  private sampleRows = 0;

  /** Exits per vCPU so far. */
  vcpuExits: Float64Array;
  /** Row of the last event run (-1 before the first), and its range in the undo log. */
  lastEventRow = -1;
  lastEventUndoStart = 0;
  lastEventUndoEnd = 0;
  /** Rows run (for the benchmark and tests). */
  rowsRun = 0;
  /** What each row did, recorded the first time it runs (the `lineEffects` request). */
  readonly effects: EffectLog;

  /**
   * `gap` fixes the distance between checkpoints (tests); by default it adapts.
   * `localGap`, `localWindow` and `trailGap` replace LOCAL_GAP, LOCAL_WINDOW and TRAIL_GAP (tests).
   */
  constructor(
    machine: Machine,
    moreRows: (needed: number) => boolean,
    opts: { gap?: number; localGap?: number; localWindow?: number; trailGap?: number; budgetBytes?: number; keyframeWords?: number; keyframeBudgetBytes?: number; undoChunkBits?: number } = {},
  ) {
    this.machine = machine;
    this.undo = new UndoLog(opts.undoChunkBits);
    this.budgetBytes = opts.budgetBytes ?? CHECKPOINT_BUDGET_BYTES;
    this.keyWords = opts.keyframeWords ?? KEYFRAME_WORDS;
    this.keyBudget = opts.keyframeBudgetBytes ?? KEYFRAME_BUDGET_BYTES;
    this.localGap = opts.localGap ?? LOCAL_GAP;
    this.localWindow = opts.localWindow ?? LOCAL_WINDOW;
    this.trailGap = opts.trailGap ?? TRAIL_GAP;
    if (opts.gap !== undefined) {
      this.gap = opts.gap;
      this.fixedGap = true;
    }
    this.moreRows = moreRows;
    this.effects = new EffectLog(machine.program);
    this.vcpuExits = new Float64Array(machine.mmu.vcpus.length);
    // Every store to guest memory passes the hook before it lands.
    machine.mem.storeHook = (gpa, size, lo, hi) => {
      if (this.logging) this.undo.log(this.machine.mem, gpa, size, lo, hi);
    };
    // The first checkpoint, at row 0, is a keyframe: every other can be reached from it.
    this.checkpoint(true);
  }

  get program() {
    return this.machine.program;
  }

  /** The next row to run. */
  get pos(): number {
    return this.machine.pos;
  }

  get checkpointCount(): number {
    return this.checkpoints.length;
  }

  /** Positions of the checkpoints (for tests and the benchmark). */
  checkpointPositions(): number[] {
    return this.checkpoints.map((c) => c.pos);
  }

  /** Positions of the temporary checkpoints, ascending (for tests). */
  localCheckpointPositions(): number[] {
    return [...this.local.keys()].sort((a, b) => a - b);
  }

  /** Bytes held by the undo log and the checkpoints (an estimate, for the benchmark). */
  memoryEstimate(): { undoBytes: number; checkpoints: number; checkpointBytes: number; heldBytes: number; keyframes: number; keyframeBytes: number } {
    const keyframes = this.checkpoints.filter((c) => c.snap.mem !== undefined).length;
    return { undoBytes: this.undo.bytes, checkpoints: this.checkpoints.length, checkpointBytes: this.countHeld(), heldBytes: this.heldBytes, keyframes, keyframeBytes: this.keyBytes };
  }

  /** Positions of the memory keyframes (for tests). */
  keyframePositions(): number[] {
    return this.checkpoints.filter((c) => c.snap.mem !== undefined).map((c) => c.pos);
  }

  /** The first undo word still held (for tests). */
  get undoBase(): number {
    return this.undo.base;
  }

  /** What the checkpoints hold, counted (each image once): O(pages in every checkpoint). */
  private countHeld(): number {
    const seen = new Set<ShadowImage>();
    const audits = new Set<unknown>();
    let bytes = 0;
    for (const c of [...this.checkpoints, ...this.local.values()]) {
      bytes += fixedBytes(c.snap) + c.snap.shadow.pages.length * 8;
      if (c.snap.audit && !audits.has(c.snap.audit)) {
        audits.add(c.snap.audit);
        bytes += auditBytes(c.snap);
      }
      for (const p of c.snap.shadow.pages) {
        if (seen.has(p)) continue;
        seen.add(p);
        bytes += imageBytes(p);
      }
    }
    return bytes;
  }

  /** The bytes of the snapshot just taken (its audit state is not its own when it is `prev`'s). */
  private ownBytes(snap: MachineSnapshot, prev: MachineSnapshot | undefined): number {
    return fixedBytes(snap) + this.machine.shadow.lastSnapshotOwnBytes + (snap.audit && snap.audit !== prev?.audit ? auditBytes(snap) : 0);
  }

  /**
   * Keeps the checkpoints within the budget: past it, counts what they
   * really hold (images shared by dropped checkpoints may be gone); still
   * past it, drops the temporary checkpoints, then every other checkpoint
   * (never the first nor the newest), doubling the least gap, until they fit
   * or only two are left.
   */
  private keepBudget(): void {
    if (this.heldBytes <= this.budgetBytes) return;
    this.heldBytes = this.countHeld();
    while (this.heldBytes > this.budgetBytes) {
      if (this.local.size > 0) {
        this.local.clear();
      } else {
        const cs = this.checkpoints;
        if (cs.length <= 2) return;
        const kept: Checkpoint[] = [];
        // (Keyframes stay: the checkpoints before the undo log's start are reached from them.)
        for (let k = 0; k < cs.length; k++) if (k % 2 === 0 || k === cs.length - 1 || cs[k]!.snap.mem !== undefined) kept.push(cs[k]!);
        cs.length = 0;
        cs.push(...kept);
        this.minGap *= 2;
        this.gap = Math.max(this.gap, this.minGap);
        this.thinnings++;
      }
      this.heldBytes = this.countHeld();
    }
  }

  /** The stores of the last event run, oldest first: guest-physical address, size, and the old bytes as low/high halves. */
  lastEventStores(): { gpa: number; size: number; lo: number; hi: number }[] {
    return [...this.undo.records(this.lastEventUndoStart, this.lastEventUndoEnd)].reverse();
  }

  /**
   * The value a guest-memory range [gpa, gpa+size) had before the last event
   * (undefined when the last event did not change it).
   */
  valueBeforeLastEvent(gpa: number, size: number): bigint | undefined {
    const bytes: number[] = [];
    const mem = this.machine.mem;
    for (let k = 0; k < size; k++) bytes.push(mem.readByte(gpa + k));
    let touched = false;
    for (const r of this.undo.records(this.lastEventUndoStart, this.lastEventUndoEnd)) {
      if (r.gpa + r.size <= gpa || r.gpa >= gpa + size) continue;
      for (let k = 0; k < r.size; k++) {
        const at = r.gpa + k - gpa;
        if (at < 0 || at >= size) continue;
        const b = k < 4 ? (r.lo >>> (8 * k)) & 0xff : (r.hi >>> (8 * (k - 4))) & 0xff;
        if (bytes[at] !== b) touched = true;
        bytes[at] = b;
      }
    }
    if (!touched) return undefined;
    let v = 0n;
    for (let k = size - 1; k >= 0; k--) v = (v << 8n) | BigInt(bytes[k]!);
    return v;
  }

  /** True when row `row` exists (asking the parser for more when needed). */
  hasRow(row: number): boolean {
    return row < this.program.events.count || this.moreRows(row + 1);
  }

  /** Runs one row. Returns false at the end of the program. */
  stepOne(rec?: StepRecorder | null): boolean {
    const m = this.machine;
    const row = m.pos;
    if (!this.hasRow(row)) return false;
    const isEvent = m.program.events.opOf(row) <= Op.Invlpg;
    if (isEvent) this.lastEventUndoStart = this.undo.len;
    const first = this.effects.wants(row);
    if (first) this.effects.begin(m);
    if (rec) {
      rec.steps.length = 0;
      m.recorder = rec;
      try {
        m.step();
      } finally {
        m.recorder = null;
      }
    } else {
      m.step();
    }
    this.rowsRun++;
    if (m.pos > this.frontier) {
      this.frontier = m.pos;
      this.frontierViolations = m.auditor?.count ?? 0;
    }
    if (first) this.effects.end(row, m);
    if (isEvent) {
      this.lastEventRow = row;
      this.lastEventUndoEnd = this.undo.len;
      if (m.mmu.exit !== null) this.vcpuExits[m.current]!++;
    }
    if (!this.fixedGap) {
      // At the frontier, take a checkpoint after about CHECKPOINT_MS of replay.
      if (++this.sampleRows >= 32) {
        this.sampleRows = 0;
        const now = performance.now();
        const d = now - this.sampleAt;
        // Only new ground counts, and a long gap was time spent stopped, not replaying.
        if (d < 25 && m.pos > this.lastCheckpointPos) this.accMs += d;
        this.sampleAt = now;
        // Enough replay since the last checkpoint, and enough rows to keep snapshots cheap; or in any case after 3 × CHECKPOINT_MS.
        // (Never closer than the least gap, which the budget raises.)
        // (Never closer than the least gap, which the budget raises, nor when a snapshot would
        // cost more than 1/CHECKPOINT_COST_RATIO of the replay since the last one.)
        if (
          (this.accMs >= CHECKPOINT_MS && m.pos >= this.nextCheckpoint) ||
          (this.accMs >= 3 * CHECKPOINT_MS && m.pos >= this.lastCheckpointPos + this.minGap && this.snapMs * CHECKPOINT_COST_RATIO <= this.accMs)
        )
          this.checkpoint();
      }
      if (m.pos >= this.lastCheckpointPos + Math.max(MAX_CHECKPOINT_GAP, this.gap)) this.checkpoint();
    } else if (m.pos >= this.nextCheckpoint) this.checkpoint();
    if (this.undo.len >= this.nextTrim) this.trimUndo();
    if (m.pos - this.lastSnapPos >= this.trailGap && m.pos < this.frontier && !this.noTrail) {
      this.takeLocal();
      this.dropLocals(m.pos);
      // Not replay time (the checkpoints' spacing counts replay only).
      this.sampleAt = performance.now();
    }
    return true;
  }

  private checkpoint(keyframe = false): void {
    const m = this.machine;
    const last = this.checkpoints[this.checkpoints.length - 1];
    if (last && m.pos <= last.pos) {
      this.nextCheckpoint = last.pos + this.gap;
      return;
    }
    const replayMs = Math.max(this.accMs, 1e-3);
    this.accMs = 0;
    const t0 = performance.now();
    // Guest memory is not kept (the undo log moves it back), but at a keyframe: a memory snapshot
    // copies the page map and makes every page copy-on-write again.
    const key = keyframe || this.undo.len - this.lastKeyUndo >= this.keyWords;
    const raw = key ? this.machine.snapshot({ memory: true }) : this.snapshot();
    if (key) {
      this.lastKeyUndo = this.undo.len;
      this.keyBytes += m.mem.dataBytes;
    }
    const snap = this.share(raw, last?.snap);
    const bytes = this.ownBytes(snap, last?.snap);
    this.checkpoints.push({ pos: m.pos, snap, undoLen: this.undo.len, vcpuExits: this.vcpuExits.slice(), lastEventRow: this.lastEventRow, bytes });
    this.heldBytes += bytes;
    this.keepBudget();
    if (key) {
      this.keepKeyframeBudget();
      this.trimUndo();
    }
    const t1 = performance.now();
    // Adapt the gap so that checkpoints cost at most 1/CHECKPOINT_COST_RATIO of the replay
    // (running averages, so that one slow snapshot, a GC pause, does not stretch the next gap).
    if (last && !this.fixedGap) {
      const rows = m.pos - last.pos;
      const perRow = replayMs / Math.max(rows, 1);
      this.snapMs = this.snapMs === 0 ? t1 - t0 : 0.8 * this.snapMs + 0.2 * (t1 - t0);
      this.rowMs = this.rowMs === 0 ? perRow : 0.8 * this.rowMs + 0.2 * perRow;
      const want = Math.ceil((this.snapMs * CHECKPOINT_COST_RATIO) / Math.max(this.rowMs, 1e-6));
      // Past MAX_CHECKPOINT_GAP only when snapshots are that slow (a shadow of hundreds of
      // thousands of pages, where a restore is slow too): the cost ratio holds first.
      this.gap = Math.max(this.minGap, MIN_CHECKPOINT_GAP, want);
    }
    this.lastCheckpointPos = this.lastSnapPos = m.pos;
    this.nextCheckpoint = m.pos + this.gap;
    // The snapshot's own time is not replay: the next sample starts after it (else a slow
    // snapshot would count towards the next checkpoint, and checkpoints would follow each other).
    this.sampleAt = performance.now();
  }

  /** Shares the audit's state with the previous checkpoint when it did not change (the shadow's images are shared by the engine). */
  private share(s: MachineSnapshot, prev: MachineSnapshot | undefined): MachineSnapshot {
    const audit = prev?.audit && s.audit && prev.audit.violations.length === s.audit.violations.length ? prev.audit : s.audit;
    return audit === s.audit ? s : { ...s, audit };
  }

  /**
   * Moves the machine so that the next row to run is `pos`. Backwards, it
   * restores the nearest checkpoint at or before the last event before `pos`
   * (so that the marks of what that event changed are there again) and runs
   * forward. Either way, over rows run before, it leaves temporary
   * checkpoints behind it. Returns false when `pos` is past the end of the
   * program.
   */
  seek(pos: number): boolean {
    const job = this.startSeek(pos);
    job.run(Infinity);
    return !job.ended;
  }

  /**
   * The same seek in parts (the debugger runs long seeks in time slices):
   * the restore, if any, happens here; `run(deadline)` runs rows until the
   * machine stands at `pos` (true) or the deadline passes (false). Nothing
   * else may move the machine between two calls.
   */
  startSeek(pos: number): SeekJob {
    const m = this.machine;
    if (pos < m.pos) {
      const t = this.program.events;
      let anchor = pos - 1;
      while (anchor >= 0 && t.opOf(anchor) > Op.Invlpg) anchor--;
      const at = anchor >= 0 ? anchor : pos;
      // The audit where the machine stands knows every violation up to `pos` and the row of each.
      const violationsThen = violationsBefore(m.auditor, pos);
      let c = this.checkpointAtOrBefore(at);
      for (const l of this.local.values()) if (l.pos <= at && l.pos > c.pos) c = l;
      this.restore(c);
      return this.runTo(pos, violationsThen, true);
    }
    // Forwards, over rows run before or not: the target is known, so the step back that
    // usually follows a jump finds a temporary checkpoint close behind it.
    return this.runTo(pos, this.violationsAtOrAfter(pos), true);
  }

  /**
   * Runs forward to `pos`, without the audit when the violation count at `pos`
   * (`violationsThen`, or -1 when unknown) is the one the machine has now;
   * with `locals`, taking temporary checkpoints every LOCAL_GAP rows from
   * where it starts over the last LOCAL_WINDOW rows before `pos` (and none on the way there).
   */
  private runTo(pos: number, violationsThen: number, locals: boolean): SeekJob {
    const m = this.machine;
    const auditor = m.auditor;
    const quiet = auditor !== null && pos <= this.frontier && violationsThen === auditor.count;
    let nextLocal = Infinity;
    if (locals) {
      this.dropLocals(pos);
      nextLocal = m.pos + Math.max(1, Math.ceil((pos - this.localWindow - m.pos) / this.localGap)) * this.localGap;
    }
    const job: SeekJob = {
      target: pos,
      ended: false,
      run: (deadline) => {
        if (quiet) m.auditPaused = true;
        this.noTrail = true;
        try {
          let n = 0;
          while (m.pos < pos) {
            if (m.pos === nextLocal) {
              this.takeLocal();
              nextLocal += this.localGap;
            }
            if (!this.stepOne()) {
              job.ended = true;
              return true;
            }
            if ((++n & 63) === 0 && performance.now() > deadline) return false;
          }
        } finally {
          this.noTrail = false;
          if (quiet) m.auditPaused = false;
        }
        return true;
      },
    };
    return job;
  }

  /** A snapshot without guest memory (the audit's state comes with it, paused or not). */
  private snapshot(): MachineSnapshot {
    return this.machine.snapshot({ memory: false });
  }

  /** The audit's violation count at `pos` ahead of the machine when it is known (a checkpoint at or after it, or the frontier), else -1. */
  private violationsAtOrAfter(pos: number): number {
    if (pos > this.frontier) return -1;
    const cs = this.checkpoints;
    const c = cs[firstIndex(cs.length, (k) => cs[k]!.pos < pos)];
    return c ? (c.snap.audit?.violations.length ?? 0) : this.frontierViolations;
  }

  /** A temporary checkpoint where the machine stands (unless there is one). */
  private takeLocal(): void {
    const m = this.machine;
    this.lastSnapPos = m.pos;
    const main = this.checkpointAtOrBefore(m.pos);
    if (main.pos === m.pos || this.local.has(m.pos)) return;
    const snap = this.share(this.snapshot(), main.snap);
    const bytes = this.ownBytes(snap, main.snap);
    this.local.set(m.pos, { pos: m.pos, snap, undoLen: this.undo.len, vcpuExits: this.vcpuExits.slice(), lastEventRow: this.lastEventRow, bytes });
    this.heldBytes += bytes;
    this.keepBudget();
  }

  /** Drops the temporary checkpoints further than the window (LOCAL_WINDOW rows) from `pos`. */
  private dropLocals(pos: number): void {
    for (const [p, l] of this.local) {
      if (p < pos - this.localWindow || p > pos + this.localWindow) {
        this.local.delete(p);
        // Its list goes; its images stay counted (later snapshots may share them) until a recount.
        this.heldBytes -= 8 * l.snap.shadow.pages.length;
      }
    }
  }

  private checkpointAtOrBefore(pos: number): Checkpoint {
    // The first checkpoint is at row 0: there is always one.
    const cs = this.checkpoints;
    return cs[Math.max(0, firstIndex(cs.length, (k) => cs[k]!.pos <= pos) - 1)]!;
  }

  /** Puts the machine exactly at the checkpoint taken at `pos` (a checkpoint position; backward scans start there). */
  seekCheckpoint(pos: number): void {
    const c = this.checkpointAtOrBefore(pos);
    if (this.machine.pos !== c.pos || c.pos !== pos) this.restore(c);
    while (this.machine.pos < pos) if (!this.stepOne()) return;
  }

  /** The position of the checkpoint at or before `pos` (for backward scans in segments). */
  checkpointPosAtOrBefore(pos: number): number {
    return this.checkpointAtOrBefore(pos).pos;
  }

  /**
   * Lets the undo log's words go before the last keyframe but one at or before
   * the machine (so that a step back just after a keyframe still undoes).
   */
  private trimUndo(): void {
    this.nextTrim = this.undo.len + Math.max(1, this.keyWords >> 2);
    const cs = this.checkpoints;
    let seen = 0;
    for (let k = firstIndex(cs.length, (j) => cs[j]!.pos <= this.machine.pos) - 1; k >= 0; k--) {
      if (cs[k]!.snap.mem === undefined) continue;
      if (++seen === 2) {
        this.undo.dropBefore(cs[k]!.undoLen);
        return;
      }
    }
  }

  /** Past the keyframe budget, every other keyframe gives up its copy of guest memory (the first and the last two stay). */
  private keepKeyframeBudget(): void {
    while (this.keyBytes > this.keyBudget) {
      const keys = this.checkpoints.filter((c) => c.snap.mem !== undefined);
      if (keys.length <= 3) return;
      for (let k = 1; k < keys.length - 2; k += 2) {
        const c = keys[k]!;
        // A checkpoint like the others now: reached by undoing while the log holds its words, else from a keyframe before it.
        c.snap = { ...c.snap, mem: undefined };
      }
      const left = this.checkpoints.filter((c) => c.snap.mem !== undefined).length;
      this.keyBytes = (this.keyBytes * left) / keys.length;
      this.keyWords *= 2;
      this.keyThinnings++;
    }
  }

  private restore(c: Checkpoint): void {
    const m = this.machine;
    if (c.undoLen < this.undo.base) {
      // The log no longer reaches it: from the keyframe at or before it (its copy of guest memory);
      // the seek runs forward from there.
      const cs = this.checkpoints;
      let k = firstIndex(cs.length, (j) => cs[j]!.pos <= c.pos) - 1;
      while (k > 0 && cs[k]!.snap.mem === undefined) k--;
      const key = cs[Math.max(0, k)]!;
      this.undo.reset(key.undoLen);
      this.keyRestores++;
      this.finishRestore(key);
      return;
    }
    // Guest memory first: undo every store made since the checkpoint, newest first.
    this.logging = false;
    try {
      this.undo.undoTo(m.mem, c.undoLen);
    } finally {
      this.logging = true;
    }
    // The undo log has put guest memory back already.
    this.finishRestore(c.snap.mem ? { ...c, snap: { ...c.snap, mem: undefined } } : c);
  }

  /** The machine's part of a restore (guest memory with it when the snapshot has a copy). */
  private finishRestore(c: Checkpoint): void {
    this.machine.restore(c.snap);
    this.vcpuExits = c.vcpuExits.slice();
    this.lastEventRow = c.lastEventRow;
    this.lastEventUndoStart = this.lastEventUndoEnd = this.undo.len;
    this.lastSnapPos = c.pos;
    this.nextTrim = this.undo.len + Math.max(1, this.keyWords >> 2);
  }
}

/** The violations an audit (that has run past `pos`) had found before row `pos`: those of earlier rows (the setup's are row -1). */
function violationsBefore(auditor: Machine['auditor'], pos: number): number {
  if (!auditor) return 0;
  const v = auditor.violations;
  return firstIndex(v.length, (k) => v[k]!.event < pos);
}

/** About the bytes of a snapshot's parts other than its shadow pages and audit state. */
function fixedBytes(s: MachineSnapshot): number {
  return 400 + s.vcpus.length * 120;
}

/** About the bytes of a snapshot's audit state (keys of reported places, and violations). */
function auditBytes(s: MachineSnapshot): number {
  return s.audit ? 64 + 48 * s.audit.seen.length + 200 * s.audit.violations.length : 0;
}
