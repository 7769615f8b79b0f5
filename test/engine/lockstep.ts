// Replays a trace on the engine and on the oracle side by side (engine.md,
// "The oracle"), event by event, and says where they first differ and where
// the audit first reported a violation.

import { Machine, Oracle, type AuditMode, type GuestMemory, type Violation } from '../../src/engine';
import type { Program } from '../../src/trace';

export interface Divergence {
  row: number;
  line: number;
  what: string;
}

export interface LockstepResult {
  /** Event rows replayed (until the end, or a replay error). */
  events: number;
  /** Row of the first event after which the audit reported a violation, or -1. */
  firstViolationRow: number;
  firstViolation?: Violation;
  /** The first row where an access outcome or a guest memory byte differed, or undefined. */
  divergence?: Divergence;
  /** A `pte` line found no entry (both sides agree on that): the replay stopped there. */
  stoppedByError: boolean;
  machine: Machine;
}

/** True when both memories hold the same bytes (page by page, with a native compare). */
export function sameMemory(a: GuestMemory, b: GuestMemory): boolean {
  const frames = new Set([...a.frames(), ...b.frames()]);
  for (const f of frames) {
    const x = a.readRange(f * 4096, 4096);
    const y = b.readRange(f * 4096, 4096);
    if (!Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength))) return false;
  }
  return true;
}

/**
 * Runs both. With `stopAtViolation`, stops after the first event after which
 * the audit reported a violation (property (a) compares up to and including
 * it); otherwise runs to the end, recording the first divergence.
 */
export function lockstep(prog: Program, policy: string, audit: AuditMode | false, stopAtViolation: boolean): LockstepResult {
  const m = new Machine(prog, { policy, audit });
  const o = new Oracle(prog);
  const t = prog.events;
  const res: LockstepResult = { events: 0, firstViolationRow: -1, stoppedByError: false, machine: m };
  while (!m.done) {
    const row = m.pos;
    m.step();
    const ref = o.step()!;
    if (!m.isEventRow(row)) continue;
    res.events++;
    if (m.error !== null || ref.error !== undefined) {
      // designs.md: under tdp a guest-physical address of 2^48 or more stops the replay (the nested
      // table cannot map it), where the pure guest walker goes on: both stop comparing there.
      const npt48 = m.mmu.design === 'tdp' && m.error !== null && /2\^48 or more/.test(m.error);
      if (!npt48 && (m.error === null) !== (ref.error === undefined)) {
        res.divergence ??= { row, line: t.lineOf(row), what: `replay error: engine ${m.error}, oracle ${ref.error}` };
      }
      res.stoppedByError = true;
      break;
    }
    if (!res.divergence) {
      if (m.access) {
        const okE = m.access.ok;
        const faultE = m.access.fault;
        if (okE !== ref.ok || (!okE && faultE !== ref.fault)) {
          res.divergence = {
            row,
            line: t.lineOf(row),
            what: `access: engine ${okE ? 'ok' : `#PF 0x${faultE.toString(16)}`}, oracle ${ref.ok ? 'ok' : `#PF 0x${ref.fault.toString(16)}`}`,
          };
        }
      }
      if (!res.divergence && !sameMemory(m.mem, o.mem)) {
        const gpa = m.mem.firstDifference(o.mem)!;
        res.divergence = {
          row,
          line: t.lineOf(row),
          what: `guest memory at 0x${gpa.toString(16)}: engine 0x${m.mem.readByte(gpa).toString(16)}, oracle 0x${o.mem.readByte(gpa).toString(16)}`,
        };
      }
    }
    if (res.firstViolationRow < 0 && m.newViolations.length) {
      res.firstViolationRow = row;
      res.firstViolation = m.newViolations[0];
      if (stopAtViolation) break;
    }
  }
  return res;
}

/** Violations as comparable keys: event row, check, page, index. */
export function violationKeys(vs: readonly Violation[]): string[] {
  return vs.map((v) => `${v.event}:${v.check}:${v.page}:${v.index}`);
}
