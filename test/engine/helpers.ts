// Helpers for the engine tests: run a trace written in the trace language and
// look at what each event did, the shadow and guest memory.

import { Machine, type MachineOptions, type ShadowPage, type Violation } from '../../src/engine';
import type { ExitOutcome, ExitReason } from '../../src/engine/mmu';
import { OP_NAMES, parseTrace, type Program } from '../../src/trace';

/** Removes the common indentation of a template literal and its first/last empty lines. */
export function dedent(text: string): string {
  const ls = text.replace(/^\n/, '').replace(/\n[ \t]*$/, '').split('\n');
  const ind = Math.min(...ls.filter((l) => l.trim() !== '').map((l) => /^[ \t]*/.exec(l)![0].length));
  return ls.map((l) => l.slice(ind)).join('\n') + '\n';
}

/** Parses a trace that must have no error. */
export function program(text: string): Program {
  const r = parseTrace(text);
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`trace does not parse: ${JSON.stringify(errors)}\n${text}`);
  return r.program;
}

/** What one event (row) did. */
export interface Rec {
  row: number;
  line: number;
  op: string;
  label?: string;
  /** Exits this event caused. */
  exits: number;
  reason?: ExitReason;
  outcome?: ExitOutcome;
  /** Every exit of the event in order, as `reason` or `reason:outcome` (`page-fault:fill`, `cr3`). */
  exitLog: string[];
  /** Livelocks and hangs of the event (engine.md), as `livelock` / `hang`. */
  incidents: string[];
  /** Injected #PF error code, or -1. */
  fault: number;
  /** Access: completed (true) or faulted (false); null for other events. */
  ok: boolean | null;
  zapped: number;
  updated: number;
  violations: Violation[];
  error: string | null;
}

export type AuditKind = 'full' | 'incremental' | false;

export class Run {
  readonly m: Machine;
  readonly recs: Rec[] = [];
  private readonly labelOf = new Map<number, string>();

  constructor(readonly text: string, opts: MachineOptions = {}) {
    const prog = program(text);
    this.m = new Machine(prog, { audit: 'full', ...opts });
    for (const [name, row] of prog.labels) this.labelOf.set(row, name);
  }

  /** Runs one row; returns its record for an event, null for vcpu/cpl/expect, undefined at the end. */
  step(): Rec | null | undefined {
    const m = this.m;
    if (m.done) return undefined;
    const row = m.pos;
    m.step();
    if (!m.isEventRow(row)) return null;
    const t = m.program.events;
    const rec: Rec = {
      row,
      line: t.lineOf(row),
      op: OP_NAMES[t.opOf(row)]!,
      label: this.labelOf.get(row),
      exits: m.last.exits,
      reason: m.exit?.reason,
      outcome: m.exit?.outcome,
      exitLog: m.mmu.eventExits.map((e) => (e.outcome ? `${e.reason}:${e.outcome}` : e.reason)),
      incidents: m.mmu.incidents.map((x) => x.kind),
      fault: m.last.fault,
      ok: m.access ? m.access.ok : null,
      zapped: m.last.zapped,
      updated: m.last.updated,
      violations: [...m.newViolations],
      error: m.error,
    };
    this.recs.push(rec);
    return rec;
  }

  /** Runs to the end. */
  run(): this {
    while (this.step() !== undefined) {
      /* */
    }
    return this;
  }

  /** Runs up to and including the event labelled `label`, and returns its record. */
  to(label: string): Rec {
    const row = this.m.program.labels.get(label);
    if (row === undefined) throw new Error(`no label ${label}`);
    for (;;) {
      const r = this.step();
      if (r === undefined) throw new Error(`label ${label} not reached`);
      if (r && r.row === row) return r;
    }
  }

  /** The record of an event already run, by label. */
  at(label: string): Rec {
    const r = this.recs.find((x) => x.label === label);
    if (!r) throw new Error(`label ${label} not run`);
    return r;
  }

  spte(va: number, level = 1): bigint {
    return this.m.env.spte(va, level);
  }
  gpte(va: number, level?: number): bigint {
    return this.m.env.gpte(va, level);
  }
  /** Guest memory, little-endian. */
  mem(gpa: number, size = 8): bigint {
    return this.m.mem.read(gpa, size);
  }
  shadowed(gpa: number): boolean {
    return this.m.shadow.isShadowed(Math.floor(gpa / 4096));
  }
  get stats() {
    return this.m.summary('t').shadow;
  }
  get exits() {
    return this.m.mmu.exits;
  }
  /** Every violation so far. */
  get violations(): Violation[] {
    return this.m.auditor ? [...this.m.auditor.violations] : [];
  }
  /** Live shadow pages of a guest frame. */
  pagesOf(gfn: number): ShadowPage[] {
    return this.m.shadow.pages().filter((p) => p.gfn === gfn);
  }
}

export function trace(text: string, policy = 'update', audit: AuditKind = 'full'): Run {
  return new Run(dedent(text), { policy, audit });
}

/** Runs a trace under both policies, for rules that do not depend on the policy. */
export function both(text: string): Run[] {
  return [trace(text, 'zap'), trace(text, 'update')];
}

/** Host entry value for guest frame `gfn` with the given low flags (and NX). */
export function spteOf(gfn: number, flags: number, nx = false): bigint {
  return (BigInt(gfn + 0x100000) << 12n) | BigInt(flags) | (nx ? 1n << 63n : 0n);
}

export const P = 1;
export const W = 2;
export const U = 4;
export const A = 0x20;
export const D = 0x40;
export const PS = 0x80;
