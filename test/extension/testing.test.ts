// The Testing view's pure parts: which test items a trace's text holds
// (src/extension/testing/discover.ts, held to the parser on every example and
// on hand-made edge cases) and what a run reports (results.ts).

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { discoverTests, testPolicies } from '../../src/extension/testing/discover';
import { parseForTests, runPolicy } from '../../src/extension/testing/results';
import { parseTrace } from '../../src/trace';
import { EXAMPLES, exampleNames } from './helpers';

const FIXTURES = resolve(__dirname, '../debug/fixtures');

describe('discovery', () => {
  test.each(exampleNames())('%s: the scan finds the expects and the policy the parser finds', (name) => {
    const text = readFileSync(resolve(EXAMPLES, name), 'utf8');
    const found = discoverTests(text);
    const program = parseTrace(text).program;
    expect(found.expects.map((e) => [e.line, e.exprCol, e.source])).toEqual(program.expects.map((e) => [e.line, e.exprRange.col, e.source]));
    expect(found.policy?.name).toBe(program.policy);
    if (program.policy) expect(found.policy?.line).toBe(program.policyLine);
  });

  test('demand-fault.mmutrace: no policy line, four expects (lines 14, 16, 18, 20), run under all four policies', () => {
    const found = discoverTests(readFileSync(resolve(EXAMPLES, 'demand-fault.mmutrace'), 'utf8'));
    expect(found.expects.map((e) => e.line)).toEqual([14, 16, 18, 20]);
    expect(found.expects[1]).toMatchObject({ line: 16, col: 1, exprCol: 8, source: 'last.fault == 0x4' });
    expect(testPolicies(found)).toEqual(['zap', 'update', 'access', 'tdp']);
  });

  test('a `policy` line pins the one policy; one after the setup does not count', () => {
    const pinned = discoverTests('mode 64\npolicy zap\nspace s\nread 0x1000\nexpect last.exits == 1\n');
    expect(pinned.policy).toEqual({ name: 'zap', line: 2 });
    expect(testPolicies(pinned)).toEqual(['zap']);
    expect(discoverTests('POLICY Access\nread 0\nexpect true\n').policy).toEqual({ name: 'access', line: 1 });
    const late = discoverTests('read 0x1000\npolicy zap\nexpect true\n');
    expect(late.policy).toBeUndefined();
    expect(testPolicies(late)).toHaveLength(4);
  });

  test('keywords in any case, indented lines, CRLF; comments and a `#` in quotes', () => {
    const text = ['# expect not a test', 'read 0x1000', '  EXPECT last.exits == 1   # a comment', '\texpect policy == "a#b" # c', 'expect', 'expect   # nothing', 'expectation x', 'read 0x2000 # expect no', 'Expect true\r', ''].join('\n');
    const found = discoverTests(text);
    expect(found.expects).toEqual([
      { line: 3, col: 3, exprCol: 10, endCol: 25, source: 'last.exits == 1' },
      { line: 4, col: 2, exprCol: 9, endCol: 24, source: 'policy == "a#b"' },
      { line: 9, col: 1, exprCol: 8, endCol: 12, source: 'true' },
    ]);
  });

  test('a file without `expect` has no tests; an empty file neither', () => {
    expect(discoverTests('mode 64\nspace s\nread 0\n').expects).toEqual([]);
    expect(discoverTests('').expects).toEqual([]);
  });
});

describe('runs', () => {
  const fixture = readFileSync(resolve(FIXTURES, 'expect-fail.mmutrace'), 'utf8');

  test('expect-fail: the first read costs one exit, so `last.exits == 2` fails with both sides; the second read none', () => {
    const { program } = parseForTests(fixture);
    const o = runPolicy(program!, 'update');
    // Line 6 reads a mapped page not yet shadowed: one page-fault exit (fill); line 8 finds the shadow built.
    expect(o.expects.get(7)).toEqual({
      line: 7,
      col: 8,
      passed: false,
      message: 'last.exits == 2 — left 0x1 (last.exits), right 0x2',
      expected: '0x2',
      actual: '0x1 (last.exits)',
    });
    expect(o.expects.get(9)).toMatchObject({ passed: true });
    expect(o.incidents).toEqual([]);
    expect(o.error).toBeUndefined();
  });

  test('under tdp the first touch costs five exits (four tables and the page)', () => {
    const o = runPolicy(parseForTests(fixture).program!, 'tdp');
    expect(o.expects.get(7)).toMatchObject({ passed: false, expected: '0x2', actual: '0x5 (last.exits)' });
  });

  test('another comparison says its operator on the expected side; a non-comparison expects true', () => {
    const text = 'mode 64\nspace s\nmap 0x400000 = 0x200000 P W U A D\nread 0x400000\nexpect last.exits != 1\nexpect last.exits == 1 && false\n';
    const o = runPolicy(parseForTests(text).program!, 'zap');
    expect(o.expects.get(5)).toMatchObject({ passed: false, expected: '!= 0x1', actual: '0x1 (last.exits)' });
    expect(o.expects.get(6)).toMatchObject({ passed: false, expected: 'true', actual: 'false' });
  });

  test('a livelock fails the policy at its line (livelock-self-map, line 20), as `mmutrace check` does; tdp has none', () => {
    const text = readFileSync(resolve(EXAMPLES, 'livelock-self-map.mmutrace'), 'utf8');
    const { program } = parseForTests(text);
    const zap = runPolicy(program!, 'zap');
    expect(zap.incidents.map((i) => [i.line, i.kind])).toEqual([[20, 'livelock']]);
    expect(runPolicy(program!, 'tdp').incidents).toEqual([]);
  });

  test('a replay error stops the run: the expects after it are not reached', () => {
    // 0x80000000 is under L3 index 2, which `space` and `map 0x400000` never built: `pte` there is a replay error.
    const text = 'mode 64\nspace s\nmap 0x400000 = 0x200000 P W U A D\nread 0x400000\nexpect last.exits == 1\npte 0x80000000 = 0x1000 P\nexpect true\n';
    const o = runPolicy(parseForTests(text).program!, 'update');
    expect(o.expects.get(5)).toMatchObject({ passed: true });
    expect(o.error?.line).toBe(6);
    expect(o.expects.has(7)).toBe(false);
  });

  test('an invalid file gives its errors and no program', () => {
    const bad = parseForTests(readFileSync(resolve(FIXTURES, 'bad.mmutrace'), 'utf8'));
    expect(bad.program).toBeUndefined();
    expect(bad.errors.map((d) => d.line)).toEqual([5, 6, 7]);
  });
});
