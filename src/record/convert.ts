// The conversion of a Lackey log into a .mmutrace: reads the log's records
// (lackey.ts), follows its processes, compresses consecutive accesses of the
// same kind to the same page (exact), and hands each access to the guest
// kernel model (kernel.ts), which writes the events. Synchronous and
// stream-free: `push` chunks in, text comes out through `out`.

import { LackeyError, LackeyReader, type LackeySink } from './lackey';
import { KernelModel, ModelError, modelText, type AccessKind, type RecordMode } from './kernel';
import { TraceOutput } from './output';

export interface ConvertOptions {
  mode: RecordMode;
  quantum?: number;
  /** Stop after this many access events (the converter says so in the file). */
  maxEvents?: number;
  /** Header lines (without `# `) saying where the trace comes from: the exact command. */
  origin: string[];
}

export interface ConvertStats {
  /** Lackey lines read. */
  lines: number;
  /** Lackey access records (I, L, S, M). */
  accesses: number;
  /** Page accesses that collapsed into the event before them. */
  collapsed: number;
  /** Access events written (retries and tick execs included). */
  events: number;
  /** Access events before the kernel's (each compressed access once). */
  firstEvents: number;
  processes: number;
  notPresentFaults: number;
  protectionFaults: number;
  tables: number;
  frames: number;
  ticks: number;
  truncated: boolean;
  /** --max-events stopped the conversion. */
  stopped: boolean;
}

export { LackeyError };

const KIND_NAMES: AccessKind[] = ['exec', 'read', 'write', 'write'];
const KIND_CODES = [2, 0, 1, 1]; // exec, read, write (M is a write: x86 faults a read-modify-write as a write)

interface Proc {
  pid: number;
  index: number;
  ended: boolean;
}

export class Converter implements LackeySink {
  private readonly reader = new LackeyReader(this);
  private readonly model: KernelModel;
  private accesses = 0;
  private collapsed = 0;
  private firstEvents = 0;
  private lastKind = -1;
  private lastPage = -1;
  private lastTicks = 0;
  private readonly procs = new Map<number, Proc>();
  /** Started and not ended, newest last; the last is the process the accesses belong to. */
  private readonly stack: Proc[] = [];
  private pending: { pid: number; command: string } | null = null;
  private started = 0;
  private stopped = false;
  private readonly output: TraceOutput;

  /** The text goes to `sink` in chunks of up to 256 KB (the last at `finish`). */
  constructor(
    private readonly opts: ConvertOptions,
    sink: (chunk: Buffer) => void,
  ) {
    this.output = new TraceOutput(sink, opts.mode === '32' ? 4096 - 4 : 4096 - 8);
    this.model = new KernelModel(opts.mode, this.output, opts.quantum);
  }

  /** The header comments and the setup. */
  start(): void {
    const lines = [...this.opts.origin, '', ...modelText(this.opts.mode, this.opts.quantum)];
    this.output.text(lines.map((l) => (l === '' ? '#' : `# ${l}`)).join('\n') + '\n');
    this.model.setup();
  }

  /** Converts a chunk of the log. Returns false once --max-events is reached (the rest is ignored). Throws LackeyError. */
  push(chunk: Buffer): boolean {
    if (this.stopped) return false;
    try {
      this.reader.push(chunk);
    } catch (e) {
      if (e === STOP) return false;
      throw this.located(e);
    }
    return !this.stopped;
  }

  /** The end of the log: the statistics, also written as a closing comment. */
  finish(): ConvertStats {
    let truncated = false;
    if (!this.stopped) {
      try {
        truncated = this.reader.end().truncated;
      } catch (e) {
        if (e !== STOP) throw this.located(e);
      }
    }
    const s = this.stats(truncated);
    const notes = [`# ${summaryText(s)}`];
    if (truncated) notes.push('# The log ended in the middle of a line (truncated): converted what came before it.');
    if (s.stopped) notes.push(`# Stopped at ${this.opts.maxEvents} access events (--max-events).`);
    this.output.text(notes.join('\n') + '\n');
    this.output.flush();
    return s;
  }

  stats(truncated = false): ConvertStats {
    const c = this.model.counts;
    return {
      lines: this.reader.lines,
      accesses: this.accesses,
      collapsed: this.collapsed,
      events: this.model.accessEvents,
      firstEvents: this.firstEvents,
      processes: this.started,
      notPresentFaults: c.notPresentFaults,
      protectionFaults: c.protectionFaults,
      tables: c.tables,
      frames: c.frames,
      ticks: c.ticks,
      truncated,
      stopped: this.stopped,
    };
  }

  private located(e: unknown): unknown {
    if (e instanceof ModelError) return new LackeyError(this.reader.lines, 1, e.message);
    return e;
  }

  // LackeySink ---------------------------------------------------------------

  access(kind: number, addr: number, size: number, line: number): void {
    this.accesses++;
    if (this.pending !== null || this.stack.length === 0) this.startPending();
    const model = this.model;
    const end = addr + size;
    if (end > model.info.userEnd) {
      throw new LackeyError(
        line,
        4,
        `address 0x${addr.toString(16)} is not a user address of mode ${this.opts.mode} (user addresses end at 0x${model.info.userEnd.toString(16)})` +
          (this.opts.mode === '64' ? '' : ': record a 32-bit program, or use --mode 64'),
      );
    }
    const code = KIND_CODES[kind]!;
    let va = addr;
    for (;;) {
      const page = Math.floor(va / 4096);
      if (code === this.lastKind && page === this.lastPage && model.counts.ticks === this.lastTicks) {
        this.collapsed++;
      } else {
        this.firstEvents++;
        model.access(KIND_NAMES[kind]!, va);
        this.lastKind = code;
        this.lastPage = page;
        // A tick made by this very access does not separate it from the next one.
        if (model.counts.ticks !== this.lastTicks) {
          this.lastTicks = model.counts.ticks;
          this.lastKind = -1;
        }
        if (this.opts.maxEvents !== undefined && model.accessEvents >= this.opts.maxEvents) {
          this.stopped = true;
          throw STOP;
        }
      }
      const next = (page + 1) * 4096;
      if (next >= end) break;
      va = next;
    }
  }

  valgrind(pid: number, text: string, line: number): void {
    void line;
    const known = this.procs.get(pid);
    if (known === undefined) {
      if (this.pending !== null && this.pending.pid === pid && text.startsWith('Exit code:')) {
        this.pending = null; // a process that made no access
        return;
      }
      if (this.pending !== null && this.pending.pid !== pid) this.startPending();
      if (this.pending === null) this.pending = { pid, command: '' };
      if (text.startsWith('Command: ')) this.pending.command = text.slice(9);
      return;
    }
    if (text.startsWith('Exit code:')) {
      known.ended = true;
      this.model.endProcess(known.index);
      const i = this.stack.indexOf(known);
      if (i >= 0) this.stack.splice(i, 1);
      const top = this.stack[this.stack.length - 1];
      if (top && i === this.stack.length) this.switchTo(top);
      return;
    }
    if (!known.ended && this.stack[this.stack.length - 1] !== known) {
      const i = this.stack.indexOf(known);
      if (i >= 0) this.stack.splice(i, 1);
      this.stack.push(known);
      this.switchTo(known);
    }
  }

  private switchTo(p: Proc): void {
    this.model.switchTo(p.index);
    this.lastKind = -1;
  }

  private startPending(): void {
    const p = this.pending ?? { pid: 0, command: '' };
    this.pending = null;
    const what = p.pid === 0 ? 'no Valgrind preamble before its first access' : `pid ${p.pid}${p.command ? `, ${p.command}` : ''}`;
    const index = this.model.startProcess(what);
    this.started++;
    const proc: Proc = { pid: p.pid, index, ended: false };
    if (p.pid !== 0) this.procs.set(p.pid, proc);
    this.stack.push(proc);
    this.lastKind = -1;
  }
}

const STOP = new Error('stop');

export function summaryText(s: ConvertStats): string {
  const ratio = s.firstEvents > 0 ? s.accesses / s.firstEvents : 0;
  return (
    `${s.accesses} Lackey accesses -> ${s.firstEvents} access events (${ratio.toFixed(2)}:1), ${s.events} with the retries` +
    `${s.ticks ? ' and ticks' : ''}; ${s.processes} process${s.processes === 1 ? '' : 'es'}, ${s.notPresentFaults} not-present faults, ` +
    `${s.protectionFaults} protection faults, ${s.tables} page-table pages, ${s.frames} data frames` +
    (s.ticks ? `, ${s.ticks} ticks` : '')
  );
}
