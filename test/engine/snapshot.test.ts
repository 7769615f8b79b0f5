// Snapshots: replaying from a snapshot gives the state and counters of a
// straight replay (summaries, guest memory by GuestMemory.equals, the shadow
// by its snapshots, the vCPUs, the audit), on random traces.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Machine, type MachineSnapshot } from '../../src/engine';
import { buildTrace, planArb } from './gen';
import { program, trace } from './helpers';

const RUNS = Number(process.env.ENGINE_PROP_RUNS ?? 1);

/** What one event did, comparable. */
function eventRecord(m: Machine): string {
  return JSON.stringify([m.row, m.last, m.access, m.exit, m.error, m.newViolations.map((v) => `${v.check}:${v.page}:${v.index}`)]);
}

function state(m: Machine) {
  return {
    summary: m.summary('f'),
    shadow: m.shadow.snapshot(),
    vcpus: m.mmu.vcpus.map((v) => ({
      cr3: v.cr3,
      user: v.user,
      pdpte: [...v.pdpteLo, ...v.pdpteHi],
      root: v.root?.uid ?? 0,
      pae: v.paeRoot.map((p) => p?.uid ?? 0),
      flood: [v.lastPtWriteGfn, v.lastPtWriteCount],
    })),
    current: m.current,
    violations: m.auditor?.violations.map((v) => `${v.event}:${v.check}:${v.page}:${v.index}`) ?? [],
  };
}

function runRecording(m: Machine): string[] {
  const out: string[] = [];
  while (m.step()) {
    if (m.isEventRow(m.row)) out.push(eventRecord(m));
  }
  return out;
}

describe('snapshot and restore', () => {
  test('a snapshot in the middle of the seed example replays the end identically', () => {
    const r = trace(
      `
      mode 64
      space init
      map 0x400000 = 0
      map 0x401000 = 0x201000 P W U A D
      read 0x401000
      read 0x400000 @fault
      pte 0x400000 = 0x200000 P W U A D
      read 0x400000
    `,
      'zap',
    );
    r.to('fault');
    const s = r.m.snapshot();
    r.run();
    const end = state(r.m);
    r.m.restore(s);
    expect(r.m.summary('f').exits.total).toBe(2);
    r.m.run();
    expect(state(r.m)).toEqual(end);
  });

  test('random traces: restoring any snapshot and replaying gives the straight replay', () => {
    fc.assert(
      fc.property(planArb(), fc.nat(1000), fc.nat(1000), fc.constantFrom('zap', 'update'), fc.constantFrom<'full' | 'incremental'>('full', 'incremental'), (plan, a, b, policy, audit) => {
        const text = buildTrace(plan, { linux: a % 3 === 0 });
        const prog = program(text);
        // The straight replay.
        const straight = new Machine(prog, { policy, audit });
        const rows: number[] = [];
        const records: string[] = [];
        while (straight.step()) {
          if (straight.isEventRow(straight.row)) {
            rows.push(straight.row);
            records.push(eventRecord(straight));
          }
        }
        const end = state(straight);
        const n = prog.events.count;
        const k1 = a % (n + 1);
        const k2 = Math.max(k1, b % (n + 1));
        // A second machine: snapshots at rows k1 and k2 (before those rows run), then the end.
        const m = new Machine(prog, { policy, audit });
        const snaps: MachineSnapshot[] = [];
        while (m.pos < k1 && m.step()) {
          /* */
        }
        snaps.push(m.snapshot());
        while (m.pos < k2 && m.step()) {
          /* */
        }
        snaps.push(m.snapshot());
        while (m.step()) {
          /* */
        }
        expect(state(m)).toEqual(end);
        expect(m.mem.equals(straight.mem)).toBe(true);
        // Restore each (the first twice: a snapshot survives what happened after it) and replay.
        for (const [i, s] of [snaps[1]!, snaps[0]!, snaps[1]!, snaps[0]!].entries()) {
          m.restore(s);
          const from = records.length - rows.filter((r) => r >= s.pos).length;
          const again = runRecording(m);
          if (JSON.stringify(again) !== JSON.stringify(records.slice(from))) {
            throw new Error(`restore #${i} at row ${s.pos}: events differ\n${text}`);
          }
          expect(m.mem.equals(straight.mem)).toBe(true);
          expect(state(m)).toEqual(end);
        }
      }),
      { numRuns: 120 * RUNS },
    );
  }, 60_000 * RUNS);
});

describe('snapshot and restore keep what orders the shadow', () => {
  test('roots zapped while in use, restored, zapped again, then reclaimed: the same page survives', () => {
    // mode 32: the directory G = 0x10000000 has four root pages (quadrants 0..3), allocated
    // in that order. A misaligned store to G zaps all four (roots in use: they stay and
    // become the youngest pages, in the order they were zapped). Whatever that order is, a
    // replay from a snapshot must zap them in the same order again, so that a later
    // reclaim, which stops when 25 pages are free, leaves the same page alive.
    const regions = Array.from({ length: 18 }, (_, i) => 0x400000 * (i + 1));
    const text = [
      'mode 32',
      'shadow-pages 30',
      'space a',
      ...regions.map((va, i) => `map ${va} = ${0x200000 + i * 0x1000} P W U A D`),
      'space b',
      'map 0x400000 = 0x300000 P W U A D',
      ...regions.map((va) => `read ${va}`),
      'store 0x10000ff0 = 0 size 2 @m1',
      'store 0x10000ff0 = 0 size 2 @m2',
      'cr3 b @sw',
      'read 0x400000 @r',
    ].join('\n');
    const straight = trace(text, 'zap').run();
    // 4 roots + 18 level-1 pages = 22; cr3 b adds 4 roots = 26 alive, 4 free; @r reclaims
    // the oldest pages not in use as roots (18 level-1 pages, then the old roots) down to 5.
    expect(straight.at('r')).toMatchObject({ exits: 1, outcome: 'fill' });
    expect(straight.stats.reclaimed).toBe(21);
    const survivors = state(straight.m).shadow.pages.map((p) => p.uid);

    const r = trace(text, 'zap');
    r.to('m1');
    const s = r.m.snapshot();
    r.m.restore(s);
    r.run();
    expect(state(r.m).shadow.pages.map((p) => p.uid)).toEqual(survivors);
    expect(state(r.m)).toEqual(state(straight.m));
  });
});
