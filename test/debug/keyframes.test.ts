// Memory keyframes of the timeline (src/debug/timeline.ts, issue 13): the
// undo log lets its words before the last keyframe but one go, so a long run
// keeps a bounded log; a checkpoint the log no longer reaches is reached from
// the keyframe before it (its copy of guest memory) by running forward; past
// the keyframes' budget every other one gives its copy up. Whatever the way
// back, every position equals the forward run (the machine's whole state and
// the audit's), in every mode, with small chunks and keyframes so that a
// random trace of a few thousand rows has many.
import { describe, expect, test } from 'vitest';
import { Machine } from '../../src/engine';
import { parseTrace, type Mode } from '../../src/trace';
import { Timeline } from '../../src/debug/timeline';
import { prng } from './gen';
import { fullPrint, randomTrace } from './timeline-helpers';

/** Chunks of 64 words, a keyframe every 256 words of log, checkpoints every 50 rows. */
const KEYS = { gap: 50, localGap: 7, localWindow: 40, trailGap: 23, undoChunkBits: 6, keyframeWords: 256 };

describe('memory keyframes', () => {
  for (const [mode, policy] of [['64', 'update'], ['pae', 'zap'], ['32', 'access'], ['64', 'tdp']] as [Mode, string][]) {
    test(`mode ${mode}, ${policy}: positions reached through keyframes equal the forward run, and the log lets its old words go`, () => {
      const program = parseTrace(randomTrace(mode, mode.length * 7 + policy.length, 3000)).program;
      const straight = new Machine(program, { policy, audit: true });
      const prints: string[] = [fullPrint(straight)];
      while (straight.step()) prints.push(fullPrint(straight));
      const n = program.events.count;
      const tl = new Timeline(new Machine(program, { policy, audit: true }), () => false, KEYS);
      tl.seek(n);
      expect(fullPrint(tl.machine)).toBe(prints[n]);
      const keys = tl.keyframePositions();
      // Row 0, then one each time the log grew by 256 words (a store logs 3 or 4).
      expect(keys[0]).toBe(0);
      expect(keys.length).toBeGreaterThan(4);
      // The log holds at most from the last keyframe but one (whole chunks before it went).
      const lastButOne = keys[keys.length - 2]!;
      expect(tl.undoBase).toBeGreaterThan(0);
      const before = tl.rowsRun;
      // Back to a checkpoint before the log's start: from a keyframe at or before it, then forward.
      const target = keys[1]! + 3;
      tl.seek(target);
      expect(tl.keyRestores).toBe(1);
      expect(fullPrint(tl.machine)).toBe(prints[target]);
      expect(tl.rowsRun - before).toBeLessThanOrEqual(target - keys[1]!);
      expect(lastButOne).toBeGreaterThan(target);
      // Anywhere, in any order: backwards, forwards over rows run before, row by row.
      const rnd = prng(11);
      for (let k = 0; k < 80; k++) {
        const pos = Math.floor(rnd() * (n + 1));
        tl.seek(pos);
        expect(fullPrint(tl.machine), `pos ${pos}`).toBe(prints[pos]);
        if (k % 10 === 0) {
          for (let b = 1; b <= 3 && pos - b >= 0; b++) {
            tl.seek(pos - b);
            expect(fullPrint(tl.machine), `pos ${pos - b}`).toBe(prints[pos - b]);
          }
        }
      }
    });
  }

  test('past the keyframes\' budget every other one gives its copy up (the first and the last two stay); every position still equals the forward run', () => {
    const program = parseTrace(randomTrace('64', 77, 3000)).program;
    const straight = new Machine(program, { policy: 'update', audit: true });
    const prints: string[] = [fullPrint(straight)];
    while (straight.step()) prints.push(fullPrint(straight));
    const n = program.events.count;
    const roomy = new Timeline(new Machine(program, { policy: 'update', audit: true }), () => false, KEYS);
    roomy.seek(n);
    // A budget of one byte: thinned at every keyframe past the third.
    const tl = new Timeline(new Machine(program, { policy: 'update', audit: true }), () => false, { ...KEYS, keyframeBudgetBytes: 1 });
    tl.seek(n);
    expect(tl.keyThinnings).toBeGreaterThan(0);
    const keys = tl.keyframePositions();
    expect(keys.length).toBeLessThan(roomy.keyframePositions().length);
    expect(keys[0]).toBe(0);
    const rnd = prng(3);
    for (let k = 0; k < 60; k++) {
      const pos = Math.floor(rnd() * (n + 1));
      tl.seek(pos);
      expect(fullPrint(tl.machine), `pos ${pos}`).toBe(prints[pos]);
    }
  });
});
