// The machine: guest memory, vCPUs and the shared shadow, replaying a
// program row by row. Deterministic; snapshots are cheap (guest memory is
// copy-on-write, the shadow is kept as its present entries).

import { describeComparison, tryEvaluateCondition, type Expr } from '../expr';
import { EF_HAS_VALUE, EF_KERNEL, EF_USER, Op, type ExpectStmt, type Program, type RowWindow, type Rows } from '../trace/ast';
import { Auditor, type Violation } from './audit';
import { MachineEnv } from './env';
import type { GuestMemory, MemorySnapshot } from './memory';
import { Mmu, type AccessResult, type ExitCounters, type ExitInfo, type Incident, type StoreInfo, type VCpu } from './mmu';
import { MODES, type PagingMode } from './paging';
import { POLICY_NAMES, getPolicy, type Policy } from './policy';
import { buildGuestImage, pteEntryAddress } from './setup';
import { ShadowMmu, type ShadowSnapshot, type ShadowStats } from './shadow';
import { TdpMmu } from './tdp';
import type { StepRecorder } from './steps';
import { ACC_EXEC, ACC_READ, ACC_WRITE } from './walk';

export type AuditMode = 'off' | 'full' | 'incremental';

export interface MachineOptions {
  /** Overrides the file's `policy`. */
  policy?: string;
  /** Run the audit after every event: 'incremental' (the default when on) looks at what the event changed, 'full' at everything. */
  audit?: boolean | AuditMode;
}

/** What the previous event did (`last` in expressions). */
export interface LastEvent {
  exits: number;
  fault: number;
  zapped: number;
  updated: number;
}

export interface ExpectResult {
  passed: boolean;
  line: number;
  col: number;
  source: string;
  /** For a failure: both sides of the comparison, or the error. */
  message: string;
}

export interface Summary {
  file: string;
  policy: string;
  mode: string;
  events: number;
  exits: ExitCounters;
  faults: number;
  shadow: ShadowStats & { pagesAlive: number };
  expectations: { passed: number; failed: number };
  /** Accesses 2007 would have retried forever, and loops of its host code (engine.md, "Counting"). */
  livelocks: number;
  hangs: number;
  audit: { violations: number; byFlaw: Record<string, number> };
  /** For each label that was reached: the VM exits from that event to the end of the replay. */
  fromLabel: Record<string, { exits: number }>;
}

/** A trace the engine cannot set up; line and col (1-based) name its place when it has one. */
export class MachineError extends Error {
  constructor(
    message: string,
    readonly line?: number,
    readonly col?: number,
  ) {
    super(message);
  }
}

/** A livelock or hang (engine.md), with the row of the event where it happened and that row's line. */
export interface RowIncident extends Incident {
  readonly event: number;
  readonly line: number;
}

const ACCESS_OK: AccessResult = Object.freeze({ ok: true, fault: -1 });

export class Machine {
  readonly program: Program<Rows>;
  readonly mode: PagingMode;
  readonly policy: Policy;
  readonly shadow: ShadowMmu;
  readonly mmu: Mmu;
  readonly auditMode: AuditMode;
  readonly auditor: Auditor | null;
  /**
   * While true, events run without the audit; the auditor keeps its state
   * (snapshots carry it). For a re-run over rows whose violations are known
   * (the debugger's time travel): only a row that reports a violation changes
   * the audit's state, so a re-run between two equal counts needs none.
   */
  auditPaused = false;
  readonly spaceRoots: number[];
  mem: GuestMemory;

  /** The next row to run. */
  pos = 0;
  /** The row the last step ran, and what it did. */
  row = -1;
  events = 0;
  current = 0;
  last: LastEvent = { exits: 0, fault: -1, zapped: 0, updated: 0 };
  /** Row of the last event run, or -1 (its line is `lastEventLine`). */
  private lastEventRow = -1;
  /** The last access's outcome (null when the last row was not an access). */
  access: AccessResult | null = null;
  expect: ExpectResult | null = null;
  newViolations: Violation[] = [];
  error: string | null = null;
  expectations = { passed: 0, failed: 0 };
  failures: ExpectResult[] = [];
  /** Every livelock and hang of the run so far, in order. */
  incidents: RowIncident[] = [];
  readonly env: MachineEnv;
  /** Row → labels on it, and exits.total when each label's row was about to run. */
  private readonly labelRows = new Map<number, string[]>();
  private exitsAtLabel = new Map<string, number>();
  /**
   * Streaming (runBatch): the trace's index of the table's row 0 (rows given
   * to the shadow, the audit and incidents are the trace's), and the line of
   * the last event of the batches before.
   */
  private rowBase = 0;
  private lineBefore = 0;
  /**
   * The table that holds the rows about `pos` (program.events.window): the
   * rows are read through it, so that a debugger that keeps a few windows of
   * a huge file's rows (src/debug/rowwindows.ts) costs one range test a row.
   */
  private win: RowWindow | null = null;

  constructor(program: Program<Rows>, opts: MachineOptions = {}) {
    this.program = program;
    this.mode = MODES[program.mode];
    const name = opts.policy ?? program.policy ?? 'update';
    const policy = getPolicy(name);
    if (!policy) {
      const line = name === program.policy && program.policyLine ? program.policyLine : undefined;
      throw new MachineError(`unknown policy \`${name}\`; known policies: ${POLICY_NAMES.join(', ')}`, line, line && 1);
    }
    this.policy = policy;
    const image = buildGuestImage(program);
    if (image.diagnostics.length) {
      const d = image.diagnostics[0]!;
      throw new MachineError(d.message, d.line, d.col);
    }
    this.mem = image.memory;
    this.spaceRoots = image.spaceRoots;
    this.shadow = new ShadowMmu(program.shadowPages);
    this.mmu = new (policy.design === 'tdp' ? TdpMmu : Mmu)(this.mode, this.mem, this.shadow, policy, program.vcpus);
    const cr3 = this.spaceRoots[0] ?? 0;
    for (const v of this.mmu.vcpus) {
      v.user = program.cpl === 'user';
      this.mmu.setCr3(v, cr3);
      this.mmu.allocRoots(v);
    }
    this.auditMode = opts.audit === true ? 'incremental' : opts.audit === false || opts.audit === undefined ? 'off' : opts.audit;
    this.auditor = this.auditMode === 'off' ? null : new Auditor(this.mmu);
    if (this.auditor) this.auditor.full(-1);
    this.env = new MachineEnv(this);
    this.indexLabels();
  }

  private indexLabels(): void {
    this.labelRows.clear();
    for (const [name, row] of this.program.labels) {
      const list = this.labelRows.get(row);
      if (list) list.push(name);
      else this.labelRows.set(row, [name]);
    }
  }

  /**
   * Streaming (the command, src/cli): the program's table, labels and expects
   * now hold the next batch of rows, row 0 being row `firstRow` of the trace;
   * replays its rows [start, end) (or up to a replay error). Lines of what is
   * found (failures, incidents, violations) are taken while the batch is here.
   */
  runBatch(firstRow: number, end: number, start = 0): void {
    this.rowBase = firstRow;
    this.win = null;
    this.pos = start;
    this.row = -1;
    this.lastEventRow = -1;
    this.indexLabels();
    this.run(end);
    if (this.lastEventRow >= 0) {
      this.lineBefore = this.program.events.lineOf(this.lastEventRow);
    }
  }

  /** Line of the last event run (what `line` means in an `expect`), 0 before the first. */
  get lastEventLine(): number {
    return this.lastEventRow < 0 ? this.lineBefore : this.program.events.lineOf(this.lastEventRow);
  }

  get done(): boolean {
    return this.pos >= this.program.events.count;
  }

  get vcpu(): VCpu {
    return this.mmu.vcpus[this.current]!;
  }

  get exit(): ExitInfo | null {
    return this.mmu.exit;
  }

  get store(): StoreInfo | null {
    return this.mmu.store;
  }

  /** Attaches (or detaches) a recorder of handler steps. */
  set recorder(rec: StepRecorder | null) {
    this.shadow.rec = rec;
  }

  /** True when the row is an event (not `vcpu`, `cpl` or `expect`). */
  isEventRow(row: number): boolean {
    return this.program.events.opOf(row) <= Op.Invlpg;
  }

  /** Runs one row. Returns false when there was none left. */
  step(): boolean {
    const i = this.pos;
    if (i >= this.program.events.count) return false;
    let w = this.win;
    let k = w === null ? -1 : i - w.base;
    if (w === null || k < 0 || k >= w.table.count) {
      w = this.win = this.program.events.window(i);
      k = i - w.base;
    }
    const t = w.table;
    this.pos = i + 1;
    this.row = i;
    this.access = null;
    this.expect = null;
    this.error = null;
    if (this.newViolations.length) this.newViolations = [];
    const op = t.op[k]!;
    if (op > Op.Invlpg) {
      if (op === Op.Vcpu) this.current = t.argOf(k);
      else if (op === Op.Cpl) this.vcpu.user = t.argOf(k) === 0;
      else this.checkExpect(this.program.expects[t.argOf(k)]!);
      return true;
    }
    if (this.labelRows.size !== 0) {
      const names = this.labelRows.get(i);
      if (names) for (const n of names) this.exitsAtLabel.set(n, this.mmu.exits.total);
    }
    this.mmu.beginEvent();
    this.shadow.beginEvent(i + this.rowBase);
    const zapped0 = this.shadow.stats.sptesZapped;
    const updated0 = this.shadow.stats.sptesUpdated;
    const exits0 = this.mmu.exits.total;
    const vcpu = this.vcpu;
    let reloaded: VCpu[] | null = null;
    switch (op) {
      case Op.Read:
      case Op.Write:
      case Op.Exec: {
        const f = t.flagsOf(k);
        const user = f & EF_USER ? true : f & EF_KERNEL ? false : vcpu.user;
        const kind = op === Op.Read ? ACC_READ : op === Op.Write ? ACC_WRITE : ACC_EXEC;
        const hasValue = (f & EF_HAS_VALUE) !== 0;
        const ok = this.mmu.access(vcpu, t.eventAddr(k), kind, user, hasValue ? t.loOf(k) : 0, hasValue ? t.hiOf(k) : 0, t.sizeOf(k), hasValue);
        this.access = ok ? ACCESS_OK : { ok: false, fault: this.mmu.fault };
        break;
      }
      case Op.Pte: {
        const at = pteEntryAddress(this.mem, this.mode, vcpu.cr3, t.eventAddr(k), t.levelOf(k));
        if (typeof at === 'string') {
          this.error = at;
          break;
        }
        const off = t.offsetOf(k);
        const size = t.sizeOf(k);
        if (off === 0) this.mmu.guestStore(vcpu, at, t.loOf(k), t.hiOf(k), size);
        else if (off === 4) this.mmu.guestStore(vcpu, at + 4, t.hiOf(k), 0, size);
        else {
          const v = t.value(k) >> BigInt(8 * off);
          this.mmu.guestStore(vcpu, at + off, Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn), size);
        }
        break;
      }
      case Op.Store:
        this.mmu.guestStore(vcpu, t.eventAddr(k), t.loOf(k), t.hiOf(k), t.sizeOf(k));
        break;
      case Op.Cr3: {
        const space = t.argOf(k);
        this.mmu.loadCr3(vcpu, space >= 0 ? this.spaceRoots[space]! : t.addrOf(k));
        reloaded = [vcpu];
        break;
      }
      case Op.Invlpg:
        // No exit and nothing to do: every trapped pte store kept the shadow in sync.
        break;
    }
    if (this.mmu.error !== null) this.error = this.mmu.error;
    this.events++;
    this.lastEventRow = i;
    const last = this.last;
    last.exits = this.mmu.exits.total - exits0;
    last.fault = this.mmu.fault;
    last.zapped = this.shadow.stats.sptesZapped - zapped0;
    last.updated = this.shadow.stats.sptesUpdated - updated0;
    if (this.mmu.incidents.length) for (const inc of this.mmu.incidents) this.incidents.push({ ...inc, event: i + this.rowBase, line: t.lineOf(k) });
    if (this.auditor && this.auditPaused) this.auditor.forgetTrees();
    if (this.auditor && !this.auditPaused) {
      // A livelocked write's store into a shadowed frame changed guest memory under shadow paths
      // without the pte-write path: the incremental audit's premise does not hold, so all of it.
      const full = this.auditMode === 'full' || this.mmu.livelockStore !== null;
      this.newViolations = full ? this.auditor.full(i + this.rowBase) : this.auditor.incremental(i + this.rowBase, reloaded ?? []);
      if (this.newViolations.length) for (const v of this.newViolations) v.line = t.lineOf(k);
    }
    return true;
  }

  private checkExpect(e: ExpectStmt): void {
    const expr = e.expr as Expr;
    // `line` in an expect is the line of the event it checks, whoever else set `env.line`
    // (the debugger points it at the line it evaluates its own conditions for).
    const override = this.env.line;
    this.env.line = null;
    try {
      this.evaluateExpect(e, expr);
    } finally {
      this.env.line = override;
    }
  }

  private evaluateExpect(e: ExpectStmt, expr: Expr): void {
    const r = tryEvaluateCondition(expr, this.env);
    let passed: boolean;
    let message: string;
    if (!r.ok) {
      passed = false;
      message = `error at column ${r.col}: ${r.message}`;
    } else {
      passed = r.value;
      message = passed ? 'held' : (describeComparison(expr, this.env) ?? 'the expression is false');
    }
    const res: ExpectResult = { passed, line: e.line, col: e.exprRange.col, source: e.source, message };
    this.expect = res;
    if (passed) this.expectations.passed++;
    else {
      this.expectations.failed++;
      this.failures.push(res);
    }
  }

  /** Runs to the end, or to row `end` (or to a replay error). */
  run(end = Infinity): void {
    while (this.pos < end && this.step()) {
      if (this.error !== null) return;
    }
  }

  summary(file: string): Summary {
    return {
      file,
      policy: this.policy.name,
      mode: this.mode.name,
      events: this.events,
      exits: { ...this.mmu.exits },
      faults: this.mmu.faults,
      shadow: { ...this.shadow.stats, pagesAlive: this.shadow.alive },
      expectations: { ...this.expectations },
      livelocks: this.mmu.livelocks,
      hangs: this.mmu.hangs,
      audit: { violations: this.auditor?.count ?? 0, byFlaw: this.auditor?.byFlaw() ?? {} },
      fromLabel: Object.fromEntries([...this.exitsAtLabel].map(([n, at]) => [n, { exits: this.mmu.exits.total - at }])),
    };
  }

  // -------------------------------------------------------------------------
  // Snapshots

  /**
   * A checkpoint of the whole machine. With `memory: false` guest memory is
   * left out (a debugger that keeps its own undo log of stores); restoring
   * such a snapshot leaves guest memory as it is.
   */
  snapshot(opts: { memory?: boolean } = {}): MachineSnapshot {
    return {
      pos: this.pos,
      row: this.row,
      events: this.events,
      current: this.current,
      last: { ...this.last },
      lastEventRow: this.lastEventRow,
      expectations: { ...this.expectations },
      failures: this.failures.length,
      incidents: this.incidents.length,
      livelocks: this.mmu.livelocks,
      hangs: this.mmu.hangs,
      exitsAtLabel: new Map(this.exitsAtLabel),
      mem: opts.memory === false ? undefined : this.mem.snapshot(),
      shadow: this.shadow.snapshot(),
      exits: { ...this.mmu.exits },
      faults: this.mmu.faults,
      vcpus: this.mmu.vcpus.map((v) => ({
        cr3: v.cr3,
        user: v.user,
        pdpteLo: v.pdpteLo.slice(),
        pdpteHi: v.pdpteHi.slice(),
        root: v.root?.uid ?? 0,
        paeRoot: v.paeRoot.map((p) => p?.uid ?? 0),
        lastPtWriteGfn: v.lastPtWriteGfn,
        lastPtWriteCount: v.lastPtWriteCount,
      })),
      audit: this.auditor?.snapshot(),
    };
  }

  restore(s: MachineSnapshot): void {
    this.pos = s.pos;
    this.row = s.row;
    this.events = s.events;
    this.current = s.current;
    this.last = { ...s.last };
    this.lastEventRow = s.lastEventRow;
    this.expectations = { ...s.expectations };
    this.failures.length = s.failures;
    this.incidents.length = s.incidents;
    this.mmu.livelocks = s.livelocks;
    this.mmu.hangs = s.hangs;
    this.exitsAtLabel = new Map(s.exitsAtLabel);
    if (s.mem) this.mem.restore(s.mem);
    this.shadow.restore(s.shadow);
    this.mmu.exits = { ...s.exits };
    this.mmu.faults = s.faults;
    this.mmu.beginEvent();
    s.vcpus.forEach((img, i) => {
      const v = this.mmu.vcpus[i]!;
      v.cr3 = img.cr3;
      v.user = img.user;
      v.pdpteLo.set(img.pdpteLo);
      v.pdpteHi.set(img.pdpteHi);
      v.root = img.root ? this.shadow.pageByUid(img.root)! : null;
      img.paeRoot.forEach((uid, q) => (v.paeRoot[q] = uid ? this.shadow.pageByUid(uid)! : null));
      v.lastPtWriteGfn = img.lastPtWriteGfn;
      v.lastPtWriteCount = img.lastPtWriteCount;
    });
    if (this.auditor && s.audit) this.auditor.restore(s.audit);
    this.access = null;
    this.expect = null;
    this.error = null;
    this.newViolations = [];
  }
}

export interface MachineSnapshot {
  readonly pos: number;
  readonly row: number;
  readonly events: number;
  readonly current: number;
  readonly last: LastEvent;
  readonly lastEventRow: number;
  readonly expectations: { passed: number; failed: number };
  readonly failures: number;
  readonly incidents: number;
  readonly livelocks: number;
  readonly hangs: number;
  readonly exitsAtLabel: ReadonlyMap<string, number>;
  readonly mem: MemorySnapshot | undefined;
  readonly shadow: ShadowSnapshot;
  readonly exits: ExitCounters;
  readonly faults: number;
  readonly vcpus: readonly {
    cr3: number;
    user: boolean;
    pdpteLo: Uint32Array;
    pdpteHi: Uint32Array;
    root: number;
    paeRoot: number[];
    lastPtWriteGfn: number;
    lastPtWriteCount: number;
  }[];
  readonly audit?: AuditSnapshot;
}

export interface AuditSnapshot {
  readonly seen: readonly string[];
  readonly violations: readonly Violation[];
}

