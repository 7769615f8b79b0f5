// The checkpoints' memory budget (timeline.ts, issue 17.3): past the budget,
// the temporary checkpoints go, then every other checkpoint (the first and
// the newest stay) and the least gap doubles. What the checkpoints hold must
// stay within the budget however long the run, and moving anywhere after a
// thinning must still give exactly the forward run's state.
import { describe, expect, test } from 'vitest';
import { Machine, POLICY_NAMES } from '../../src/engine';
import { parseTrace } from '../../src/trace';
import { Timeline } from '../../src/debug/timeline';
import { manyPagesTrace, prng } from './gen';
import { fingerprint, randomTrace } from './timeline-helpers';

describe('the checkpoints budget', () => {
  for (const policy of POLICY_NAMES) {
    test(`${policy}: a small budget thins the checkpoints; every position still equals the forward run`, () => {
      const program = parseTrace(randomTrace('64', 4242 + policy.length, 600)).program;
      const straight = new Machine(program, { policy, audit: true });
      const prints: string[] = [fingerprint(straight)];
      while (straight.step()) prints.push(fingerprint(straight));
      // Unbudgeted, with a gap of 10 rows: what 60 checkpoints hold.
      const free = new Timeline(new Machine(program, { policy, audit: true }), () => false, { gap: 10 });
      free.seek(program.events.count);
      const all = free.memoryEstimate();
      expect(all.checkpoints).toBeGreaterThan(50);
      // A third of that: the budget must thin them at least twice (each thinning halves the lists).
      const budgetBytes = Math.floor(all.checkpointBytes / 3);
      const tl = new Timeline(new Machine(program, { policy, audit: true }), () => false, { gap: 10, budgetBytes });
      for (let pos = 0; pos <= program.events.count; pos += 25) {
        tl.seek(pos);
        expect(tl.memoryEstimate().checkpointBytes, `at ${pos}`).toBeLessThanOrEqual(budgetBytes);
      }
      tl.seek(program.events.count);
      expect(tl.thinnings).toBeGreaterThanOrEqual(1);
      const held = tl.memoryEstimate();
      expect(held.checkpointBytes).toBeLessThanOrEqual(budgetBytes);
      expect(held.checkpoints).toBeLessThan(all.checkpoints);
      // The first checkpoint stays at row 0; the gaps between the rest are at least the doubled least gap.
      const at = tl.checkpointPositions();
      expect(at[0]).toBe(0);
      expect(fingerprint(tl.machine)).toBe(prints[program.events.count]);
      const rnd = prng(5);
      for (let k = 0; k < 60; k++) {
        const pos = Math.floor(rnd() * (program.events.count + 1));
        tl.seek(pos);
        expect(fingerprint(tl.machine), `pos ${pos}`).toBe(prints[pos]);
      }
      for (let pos = program.events.count; pos > program.events.count - 30; pos--) {
        tl.seek(pos);
        expect(fingerprint(tl.machine), `pos ${pos}`).toBe(prints[pos]);
      }
    });
  }

  test('a large shadow (4,000 pages, each checkpoint listing them all) stays within 1 MB of checkpoints', () => {
    const program = parseTrace(manyPagesTrace(4000)).program;
    const budgetBytes = 1024 * 1024;
    const tl = new Timeline(new Machine(program, { audit: 'incremental' }), () => false, { gap: 64, budgetBytes });
    // Unbudgeted, checkpoints every 64 rows over 8,000 rows would list about 125 × 2,000 pages: 2 MB of lists alone.
    for (let pos = 0; pos <= program.events.count; pos += 500) {
      tl.seek(pos);
      expect(tl.memoryEstimate().checkpointBytes, `at ${pos}`).toBeLessThanOrEqual(budgetBytes);
    }
    tl.seek(program.events.count);
    expect(tl.machine.shadow.alive).toBeGreaterThan(4000);
    expect(tl.thinnings).toBeGreaterThanOrEqual(1);
    expect(tl.memoryEstimate().checkpointBytes).toBeLessThanOrEqual(budgetBytes);
    // Going back still works: the step back from the last event gives the straight replay's state there.
    const straight = new Machine(program, { audit: 'incremental' });
    for (let r = 0; r < program.events.count - 1; r++) straight.step();
    tl.seek(program.events.count - 1);
    expect(fingerprint(tl.machine)).toBe(fingerprint(straight));
  });
});
