// analyzeSteps in slices gives what analyze gives in one go (the language
// server uses the first, the tests of the features the second).

import fc from 'fast-check';
import { expect, test } from 'vitest';
import { analyze, analyzeSteps } from '../../src/extension/features/analysis';

function run(text: string, slice: number): ReturnType<typeof analyze> {
  const g = analyzeSteps(text, slice);
  let r = g.next();
  while (!r.done) r = g.next();
  return r.value;
}

const line = fc.oneof(
  fc.constantFrom('', 'mode 64', 'space a', 'map 0x1000 = 0x2000 P W', 'read 0x1000 @x', 'raed 0x1000', '## Part', '### Sub', '# see @x.', 'expect last.exits == 1', '\r'),
  fc.string({ maxLength: 12 }),
);

test('in slices of any size, the same analysis as in one go (lines, statements, labels, sections, mentions, diagnostics)', () => {
  fc.assert(
    fc.property(fc.array(line, { maxLength: 40 }), fc.constantFrom('\n', '\r\n'), fc.boolean(), fc.integer({ min: 1, max: 7 }), (ls, eol, bom, slice) => {
      const text = (bom ? '\ufeff' : '') + ls.join(eol);
      const whole = analyze(text);
      const sliced = run(text, slice);
      expect(sliced.lines).toEqual(whole.lines);
      expect(sliced.stmtByLine).toEqual(whole.stmtByLine);
      expect(sliced.result.diagnostics).toEqual(whole.result.diagnostics);
      expect([...sliced.labels.keys()]).toEqual([...whole.labels.keys()]);
      expect(sliced.sections).toEqual(whole.sections);
      expect(sliced.mentions).toEqual(whole.mentions);
      expect(sliced.firstEventLine).toBe(whole.firstEventLine);
    }),
    { numRuns: 300 },
  );
});
