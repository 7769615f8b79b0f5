// The compare view's second machines under the memory budget (issue 17.3):
// past it, a PolicyTracker gives up (its machine let go, `error` says why),
// `advance` says nothing more will come instead of asking to be called again,
// and the counters past where it stopped stay unknown (null).
import { describe, expect, test } from 'vitest';
import { parseTrace } from '../../src/trace';
import { manyPagesTrace } from './gen';

describe('a policy tracker at the memory budget', () => {
  test('with a 64 MB budget in a test process (which holds more), it gives up at its first block and reports why', async () => {
    process.env.MMUTRACE_MEMORY_BUDGET_MB = '64';
    // Imported after the environment is set: the tracker's budget is read when compare.ts loads.
    const { PolicyTracker } = await import('../../src/debug/compare');
    // Enough in use to be past 64 MB whatever the test runner holds already.
    const ballast = new Float64Array(16 * 1024 * 1024);
    ballast[0] = 1;
    const program = parseTrace(manyPagesTrace(2000)).program;
    const t = new PolicyTracker(program, 'zap', () => false);
    expect(t.advance(program.events.count, Infinity)).toBe(true);
    expect(t.error).toMatch(/^stopped at row 0: the memory budget of 64 MB was reached \(\d+ MB in use\)$/);
    expect(t.done).toBe(false);
    expect(t.countsAt(100)).toBeNull();
    // Called again: still nothing to do, and it says so at once.
    expect(t.advance(program.events.count, Infinity)).toBe(true);
    expect(ballast[0]).toBe(1);
    delete process.env.MMUTRACE_MEMORY_BUDGET_MB;
  });
});
