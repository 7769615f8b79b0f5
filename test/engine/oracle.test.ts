// engine.md, "The oracle": the two properties, on random traces in the three
// modes (test/engine/gen.ts), and the oracle's own behaviour on a few lines.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Machine, Oracle } from '../../src/engine';
import { buildTrace, buildTraceWithModel, planArb, type Plan } from './gen';
import { dedent, program } from './helpers';
import { lockstep } from './lockstep';

const RUNS = Number(process.env.ENGINE_PROP_RUNS ?? 1);
// A fixed seed keeps CI deterministic (the coverage guards below need enough of every pattern);
// ENGINE_PROP_SEED=random (or a number) explores other traces.
const SEED = process.env.ENGINE_PROP_SEED === 'random' ? undefined : Number(process.env.ENGINE_PROP_SEED ?? 2007);

function describePlanFailure(what: string, policy: string, text: string, detail: string): Error {
  return new Error(`${what} under ${policy}: ${detail}\n--- trace ---\n${text}`);
}

describe('the oracle', () => {
  test('walks every access on guest memory alone: A and D bits, error codes, stores', () => {
    const o = new Oracle(
      program(
        dedent(`
        mode 64
        space s
        map 0x400000 = 0x200000 P W U
        map 0x401000 = 0x201000 P U A D
        read 0x400000
        write 0x400000 = 0x1234 size 2
        write 0x401000 = 5
        exec 0x402000 kernel
        pte 0x401000 = 0x201000 P W U A D
        write 0x401000 = 5
      `),
      ),
    );
    const out = [];
    for (let r = o.step(); r; r = o.step()) out.push(r);
    expect(out.map((r) => (r.ok ? 'ok' : r.fault))).toEqual(['ok', 'ok', 0x7, 0x10, 'ok', 'ok']);
    // leaf 0 got A at the read and D at the write (P W U A D = 0x67)
    expect(o.mem.read(0x10003000, 8)).toBe(0x200067n);
    expect(o.mem.read(0x200000, 2)).toBe(0x1234n);
    expect(o.mem.read(0x201000, 8)).toBe(5n);
  });
});

describe('property (a): the audit misses nothing', () => {
  // For every policy: no access outcome and no guest memory byte differs from
  // the oracle at any event up to and including the first event after which
  // the (full) audit reports a violation.
  test('random traces in all three modes, under all four policies', () => {
    let violated = 0;
    let total = 0;
    // What the random traces reached, over the whole run (a guard against a generator that
    // stops reaching the interesting paths).
    const seen = { floods: 0, unshadowed: 0, sptesUpdated: 0, reclaimed: 0, overLimit: 0, emulate: 0, metaphysical: 0, quadrant: 0, flaws: new Set<number | string>(), modes: new Set<string>(), byPolicy: {} as Record<string, (number | string)[]> };
    fc.assert(
      fc.property(planArb(), fc.nat(3), (plan: Plan, k: number) => {
        // mostly free-form traces (aliases, odd permissions: the flaws), some Linux-like
        const text = buildTrace(plan, { linux: k === 0 });
        const prog = program(text);
        for (const policy of ['zap', 'update', 'access', 'tdp']) {
          const r = lockstep(prog, policy, 'full', true);
          total++;
          if (r.firstViolationRow >= 0) violated++;
          const st = r.machine.shadow.stats;
          for (const k of ['floods', 'unshadowed', 'sptesUpdated', 'reclaimed', 'overLimit'] as const) if (st[k] > 0) seen[k]++;
          if (r.machine.mmu.exits.emulate > 0) seen.emulate++;
          const pages = r.machine.shadow.pages();
          if (pages.some((p) => p.role.metaphysical)) seen.metaphysical++;
          if (pages.some((p) => p.role.quadrant > 0 && p.level === 1)) seen.quadrant++;
          if (r.firstViolation) seen.flaws.add(r.firstViolation.flaw);
          // designs.md: no violation is ever unexplained, under any policy.
          for (const v of r.machine.auditor!.violations) {
            if (v.flaw === 'unexplained') throw describePlanFailure('an unexplained violation', policy, text, v.message);
            seen.byPolicy[policy] = [...new Set([...(seen.byPolicy[policy] ?? []), v.flaw])].sort();
          }
          seen.modes.add(plan.mode);
          if (r.divergence) {
            throw describePlanFailure(
              'the engine differs from the oracle before the audit saw anything',
              policy,
              text,
              `line ${r.divergence.line}: ${r.divergence.what}; first violation ${r.firstViolationRow < 0 ? 'none' : `at line ${prog.events.lineOf(r.firstViolationRow)}: ${r.firstViolation!.message}`}`,
            );
          }
        }
      }),
      { numRuns: 300 * RUNS, seed: SEED },
    );
    // Enough traces reach a violation for the property to mean something, every known flaw
    // among them, and every rule of the pte-write path and reclaim is reached somewhere.
    expect(violated / total).toBeGreaterThan(0.03);
    // Every 2007 flaw among them; under `access`, flaw 4 (flaw 5 needs a directory shared by two
    // PDPT entries whose walks have the same access: test/engine/designs.test.ts builds one).
    expect([...seen.flaws].sort()).toEqual([1, 2, 3, 4]);
    expect(seen.byPolicy['update']).toEqual([1, 2, 3, 4]);
    expect(seen.byPolicy['access']).toContain(4);
    expect(seen.byPolicy['tdp']).toBeUndefined();
    expect([...seen.modes].sort()).toEqual(['32', '64', 'pae']);
    for (const k of ['floods', 'unshadowed', 'sptesUpdated', 'reclaimed', 'overLimit', 'emulate', 'metaphysical', 'quadrant'] as const) {
      expect(seen[k], k).toBeGreaterThan(0);
    }
  }, 180_000 * RUNS);
});

describe('property (b): zap (and update) are exact on Linux-like traces', () => {
  test('random Linux-like traces: the audit stays clean and the engine matches the oracle after every event', () => {
    fc.assert(
      fc.property(planArb(), (plan: Plan) => {
        const text = buildTrace(plan, { linux: true });
        const prog = program(text);
        // update stores leave no parent withholding W or U: non-leaf entries are P W U A.
        // designs.md: both properties hold for `access`, and `tdp` is exact on every trace.
        for (const policy of ['zap', 'update', 'access', 'tdp']) {
          const r = lockstep(prog, policy, 'full', false);
          if (r.firstViolationRow >= 0) {
            throw describePlanFailure('violation on a Linux-like trace', policy, text, `line ${prog.events.lineOf(r.firstViolationRow)}: ${r.firstViolation!.message}`);
          }
          if (r.divergence) throw describePlanFailure('divergence on a Linux-like trace', policy, text, `line ${r.divergence.line}: ${r.divergence.what}`);
          // the final memories agree (GuestMemory.equals, the engine's own comparison)
          const o = new Oracle(prog);
          while (o.step()) {
            /* */
          }
          if (!r.stoppedByError && !r.machine.mem.equals(o.mem)) throw describePlanFailure('memory differs at the end', policy, text, '');
        }
      }),
      { numRuns: 200 * RUNS, seed: SEED },
    );
  }, 180_000 * RUNS);
});

describe('property (c): livelocks and hangs (engine.md, "The retry" and "Reclaim")', () => {
  test('Linux-like traces with a pool large enough for the working set: no livelock, no hang', () => {
    let events = 0;
    fc.assert(
      fc.property(planArb(), (plan: Plan) => {
        const text = buildTrace(plan, { linux: true, bigPool: true });
        const prog = program(text);
        for (const policy of ['zap', 'update']) {
          const r = lockstep(prog, policy, false, false);
          events += r.events;
          const s = r.machine.summary('t');
          if (s.livelocks || s.hangs) {
            const first = r.machine.incidents[0]!;
            throw describePlanFailure(`${first.kind} on a Linux-like trace`, policy, text, `line ${prog.events.lineOf(first.event)}: ${first.message}`);
          }
          if (r.divergence) throw describePlanFailure('divergence on a Linux-like trace', policy, text, `line ${r.divergence.line}: ${r.divergence.what}`);
        }
      }),
      { numRuns: 150 * RUNS, seed: SEED },
    );
    expect(events).toBeGreaterThan(1000);
  }, 180_000 * RUNS);

  test('random traces: every livelock has a known cause, and that cause is in the trace', () => {
    const causes = new Map<string, number>();
    fc.assert(
      fc.property(planArb(), fc.nat(3), (plan: Plan, k: number) => {
        const linux = k === 0;
        const { text, model } = buildTraceWithModel(plan, { linux });
        const prog = program(text);
        for (const policy of ['zap', 'update']) {
          const m = new Machine(prog, { policy });
          m.run();
          for (const inc of m.incidents) {
            causes.set(`${inc.kind}:${inc.cause}`, (causes.get(`${inc.kind}:${inc.cause}`) ?? 0) + 1);
            const where = `line ${prog.events.lineOf(inc.event)}: ${inc.message}`;
            if (inc.kind === 'livelock') {
              // A user write to a page table (its own, or one a root keeps shadowed) needs a
              // user-accessible leaf that maps a page table; a present leaf that refuses what
              // the path allows needs a known flaw's pattern: never on a Linux-like trace.
              if (inc.cause === 'self-map' || inc.cause === 'root-kept') {
                if (!model.userMapsTable) throw describePlanFailure('a user write to a page table without a user leaf that maps one', policy, text, where);
              } else if (inc.cause !== 'refused' || linux) {
                throw describePlanFailure(`a livelock (${inc.cause}) on a ${linux ? 'Linux-like ' : ''}trace`, policy, text, where);
              }
            } else if (inc.cause === 'unshadow' && !model.userMapsTable) {
              throw describePlanFailure('an unshadow hang without a user leaf that maps a page table', policy, text, where);
            }
          }
        }
      }),
      { numRuns: 300 * RUNS, seed: SEED },
    );
    // The random traces reach every kind (a guard against a generator that stops reaching them).
    for (const c of ['livelock:refused', 'livelock:self-map', 'hang:reclaim']) expect(causes.get(c) ?? 0, c).toBeGreaterThan(0);
  }, 180_000 * RUNS);
});

describe('designs.md: the stronger properties of `access` and `tdp`', () => {
  test('access is clean and exact on traces without aliases, whatever permissions the parents withhold', () => {
    let withheld = 0;
    fc.assert(
      fc.property(planArb(), (plan: Plan) => {
        const text = buildTrace(plan, { linux: false, noAlias: true });
        const prog = program(text);
        if (/ L[2-4] = 0x[0-9a-f]+ P( U)?( A)?( NX)?$/m.test(text) || /L[2-4] = 0x[0-9a-f]+ P W( A)?( NX)?$/m.test(text)) withheld++;
        const r = lockstep(prog, 'access', 'full', false);
        if (r.firstViolationRow >= 0) throw describePlanFailure('violation', 'access', text, `line ${prog.events.lineOf(r.firstViolationRow)}: ${r.firstViolation!.message}`);
        if (r.divergence) throw describePlanFailure('divergence', 'access', text, `line ${r.divergence.line}: ${r.divergence.what}`);
      }),
      { numRuns: 200 * RUNS, seed: SEED },
    );
    // The traces do withhold permissions in parents (where update has flaw 1 and 2007 flaws 2, 3).
    expect(withheld).toBeGreaterThan(20);
  }, 180_000 * RUNS);

  test('tdp matches the pure guest walker after every event, on every trace', () => {
    fc.assert(
      fc.property(planArb(), fc.nat(3), (plan: Plan, k: number) => {
        const text = buildTrace(plan, { linux: k === 0 });
        const prog = program(text);
        const r = lockstep(prog, 'tdp', 'full', false);
        if (r.firstViolationRow >= 0) throw describePlanFailure('violation', 'tdp', text, `line ${prog.events.lineOf(r.firstViolationRow)}: ${r.firstViolation!.message}`);
        if (r.divergence) throw describePlanFailure('divergence', 'tdp', text, `line ${r.divergence.line}: ${r.divergence.what}`);
        const s = r.machine.summary('t');
        expect(s.exits.total).toBe(s.exits.npt);
        expect(s.shadow).toMatchObject({ sptesZapped: 0, sptesUpdated: 0, floods: 0, unshadowed: 0 });
      }),
      { numRuns: 200 * RUNS, seed: SEED },
    );
  }, 180_000 * RUNS);
});
