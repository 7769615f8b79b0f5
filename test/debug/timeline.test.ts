// The timeline in-process: moving backwards (restore a checkpoint, run again)
// must give exactly the state that running forwards gave, in every mode and
// under every policy, on random traces that reclaim, flood, zap and switch
// address spaces; and the other policy's counters must match a replay under
// that policy.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { Machine, POLICY_NAMES } from '../../src/engine';
import { Op, parseTrace, type Mode } from '../../src/trace';
import { PolicyTracker } from '../../src/debug/compare';
import { Timeline } from '../../src/debug/timeline';
import { prng } from './gen';
import { fingerprint, fullPrint, randomTrace } from './timeline-helpers';
import { fixture } from './helpers';

describe('the timeline', () => {
  for (const mode of ['64', 'pae', '32'] as Mode[]) {
    for (const policy of POLICY_NAMES) {
      test(`mode ${mode}, ${policy}: every position reached backwards equals the forward run`, () => {
        const text = randomTrace(mode, mode.length * 97 + policy.length, 500);
        const parsed = parseTrace(text);
        expect(parsed.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
        const program = parsed.program;
        const straight = new Machine(program, { policy, audit: true });
        const prints: string[] = [fingerprint(straight)];
        while (straight.step()) prints.push(fingerprint(straight));
        const tl = new Timeline(new Machine(program, { policy, audit: true }), () => false, { gap: 37 });
        expect(fingerprint(tl.machine)).toBe(prints[0]);
        tl.seek(program.events.count);
        expect(fingerprint(tl.machine)).toBe(prints[program.events.count]);
        const rnd = prng(11);
        for (let k = 0; k < 100; k++) {
          const pos = Math.floor(rnd() * (program.events.count + 1));
          tl.seek(pos);
          expect(fingerprint(tl.machine), `pos ${pos}`).toBe(prints[pos]);
        }
        // Stepping back one row at a time from the end.
        for (let pos = program.events.count; pos > program.events.count - 40; pos--) {
          tl.seek(pos);
          expect(fingerprint(tl.machine), `pos ${pos}`).toBe(prints[pos]);
        }
        // The other policy's counters at any row match a replay under it.
        const other = POLICY_NAMES.find((p) => p !== policy)!;
        const ref = new Machine(program, { policy: other });
        const exits = [{ ...ref.mmu.exits }];
        while (ref.step()) exits.push({ ...ref.mmu.exits });
        const tracker = new PolicyTracker(program, other, () => false);
        expect(tracker.countsAt(10)).toBeNull();
        tracker.advance(program.events.count, Infinity);
        for (let pos = 0; pos <= program.events.count; pos += 13) {
          const c = tracker.countsAt(pos)!;
          expect({ ...c, invlpg: 0 }, `pos ${pos}`).toEqual({ ...exits[pos]!, invlpg: 0 });
        }
      });
    }
  }
});

// The temporary checkpoints and the re-runs without the audit (timeline.ts):
// small gaps here so that a 500-row trace has many of each.
const SMALL = { gap: 200, localGap: 7, localWindow: 40, trailGap: 23 };


/** The last event row before `row`, or -1. */
function eventBefore(program: Machine['program'], row: number): number {
  let r = row - 1;
  while (r >= 0 && program.events.opOf(r) > Op.Invlpg) r--;
  return r;
}

describe('temporary checkpoints', () => {
  for (const mode of ['64', 'pae', '32'] as Mode[]) {
    for (const policy of POLICY_NAMES) {
      test(`mode ${mode}, ${policy}: stepping back row by row and seeking anywhere equals the forward run`, () => {
        const program = parseTrace(randomTrace(mode, mode.length * 31 + policy.length, 500)).program;
        const straight = new Machine(program, { policy, audit: true });
        const prints: string[] = [fullPrint(straight)];
        while (straight.step()) prints.push(fullPrint(straight));
        const n = program.events.count;
        const tl = new Timeline(new Machine(program, { policy, audit: true }), () => false, SMALL);
        tl.seek(n);
        expect(fullPrint(tl.machine)).toBe(prints[n]);
        // A seek knows its target, on rows run before or not: from where it started (0), one
        // every 7 rows over the last 40 rows before n, and none on the way there.
        const expectedLocals: number[] = [];
        for (let p = Math.max(1, Math.ceil((n - 40) / 7)) * 7; p < n; p += 7) expectedLocals.push(p);
        expect(tl.localCheckpointPositions()).toEqual(expectedLocals);
        const all = (): number[] => [...tl.checkpointPositions(), ...tl.localCheckpointPositions()];
        for (let pos = n - 1; pos >= 0; pos--) {
          const anchor = eventBefore(program, pos);
          // It restores the nearest checkpoint at or before the anchor (the event before pos), temporary or not...
          const nearest = Math.max(...all().filter((p) => p <= Math.max(anchor, 0)));
          const before = tl.rowsRun;
          tl.seek(pos);
          expect(fullPrint(tl.machine), `pos ${pos}`).toBe(prints[pos]);
          expect(tl.rowsRun - before, `pos ${pos}`).toBe(pos - nearest);
          // ...and leaves one every 7 rows from it over the 40 rows before pos, none further than 40 rows from pos.
          const have = new Set(all());
          for (let p = nearest + 7; p < pos; p += 7) if (p >= pos - 40) expect(have.has(p), `pos ${pos}: ${p}`).toBe(true);
          for (const p of tl.localCheckpointPositions()) expect(Math.abs(p - pos), `pos ${pos}`).toBeLessThanOrEqual(40);
        }
        const rnd = prng(5);
        for (let k = 0; k < 60; k++) {
          const pos = Math.floor(rnd() * (n + 1));
          tl.seek(pos);
          expect(fullPrint(tl.machine), `pos ${pos}`).toBe(prints[pos]);
        }
        // A seek forward over rows already run leaves them every 7 rows from where it started over the
        // last 40 rows before its target, so one at most 7 rows before it; none on the way there.
        for (let k = 0; k < 20; k++) {
          const from = Math.floor(rnd() * (n / 2));
          const to = from + 60 + Math.floor(rnd() * (n / 2 - 60));
          tl.seek(from);
          tl.seek(to);
          expect(fullPrint(tl.machine), `pos ${to}`).toBe(prints[to]);
          const grid = (p: number): boolean => (p - from) % 7 === 0 && p > to - 40 - 7;
          expect(all().some((p) => p >= to - 7 && p < to), `${from} → ${to}: ${all()}`).toBe(true);
          for (const p of tl.localCheckpointPositions()) if (p > from + 40 && p < to) expect(grid(p), `${from} → ${to}: ${p}`).toBe(true);
        }
        // A run forward row by row (as the debugger's continue runs) over rows already run leaves one
        // every 23 rows: one at most 22 rows behind wherever it stops.
        for (let k = 0; k < 20; k++) {
          const from = Math.floor(rnd() * (n / 2));
          const to = from + 60 + Math.floor(rnd() * (n / 2 - 60));
          tl.seek(from);
          while (tl.pos < to) tl.stepOne();
          expect(fullPrint(tl.machine), `pos ${to}`).toBe(prints[to]);
          expect(all().some((p) => p >= to - 22 && p <= to), `${from} → ${to}: ${all()}`).toBe(true);
        }
      });
    }
  }

  test('a re-run skips the audit only where no violation can appear, and the violation is there again when it does', () => {
    // The fixture's `pte` row makes an audit violation under `update` (known flaw 1); rows of reads around it.
    const lines = readFileSync(fixture('audit.mmutrace'), 'utf8').split('\n');
    const at = lines.findIndex((l) => l.startsWith('pte 0x400000'));
    const reads = Array.from({ length: 300 }, () => 'read 0x401000');
    const text = [...lines.slice(0, at), ...reads, lines[at]!, ...reads, ...lines.slice(at + 1)].join('\n');
    const parsed = parseTrace(text);
    expect(parsed.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const program = parsed.program;
    const straight = new Machine(program, { policy: 'update', audit: true });
    const prints: string[] = [fullPrint(straight)];
    while (straight.step()) prints.push(fullPrint(straight));
    const n = program.events.count;
    expect(straight.auditor!.count).toBeGreaterThan(0);
    // The row whose audit found the violation.
    const bad = straight.auditor!.violations[0]!.event;
    expect(program.events.op[bad]).toBe(Op.Pte);
    const m = new Machine(program, { policy: 'update', audit: true });
    const tl = new Timeline(m, () => false, SMALL);
    tl.seek(n);
    let audits = 0;
    const incremental = m.auditor!.incremental.bind(m.auditor!);
    m.auditor!.incremental = (...args) => {
      audits++;
      return incremental(...args);
    };
    // Back over reads after the violation: the count is the same at both ends, no audit.
    tl.seek(n - 5);
    expect(fullPrint(m)).toBe(prints[n - 5]);
    expect(audits).toBe(0);
    // Back to right after the violating row: the re-run crosses it, with the audit, which reports it again.
    tl.seek(bad + 1);
    expect(fullPrint(m)).toBe(prints[bad + 1]);
    expect(m.newViolations.length).toBe(1);
    expect(audits).toBeGreaterThan(0);
    // Before it: nothing to find (none yet at either end).
    audits = 0;
    tl.seek(bad - 3);
    expect(fullPrint(m)).toBe(prints[bad - 3]);
    expect(audits).toBe(0);
    // Forward over it again (rows run before): with the audit, as the counts at both ends differ.
    tl.seek(bad + 2);
    expect(fullPrint(m)).toBe(prints[bad + 2]);
    expect(audits).toBeGreaterThan(0);
    // Forward after it, to rows run before: without.
    audits = 0;
    tl.seek(n - 1);
    expect(fullPrint(m)).toBe(prints[n - 1]);
    expect(audits).toBe(0);
  });
});
