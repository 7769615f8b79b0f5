import { describe, expect, it } from 'vitest';
import { describeComparison, formatValue, type ExprEnv } from '../../src/expr';
import { fakeEnv, parseOk } from './helpers';

describe('formatValue', () => {
  it('integers in decimal and hex', () => {
    expect(formatValue(31n)).toBe('31');
    expect(formatValue(-1n)).toBe('-1');
    expect(formatValue(31n, { hex: true })).toBe('0x1f');
    expect(formatValue(0n, { hex: true })).toBe('0x0');
    expect(formatValue(-1n, { hex: true })).toBe('-0x1');
    expect(formatValue(-0x200n, { hex: true })).toBe('-0x200');
    expect(formatValue((1n << 64n) - 1n, { hex: true })).toBe('0xffffffffffffffff');
    expect(formatValue(1n << 64n, { hex: true })).toBe('0x10000000000000000');
  });
  it('booleans and strings', () => {
    expect(formatValue(true)).toBe('true');
    expect(formatValue(false, { hex: true })).toBe('false');
    expect(formatValue('zap')).toBe('"zap"');
    expect(formatValue('')).toBe('""');
    expect(formatValue('a"b\\c')).toBe('"a\\"b\\\\c"');
  });
  it('records', () => {
    expect(formatValue({ a: 1n, b: 2n })).toBe('{ a: 1, b: 2 }');
    expect(formatValue({ a: 10n, b: 'x', c: true }, { hex: true })).toBe('{ a: 0xa, b: "x", c: true }');
    expect(formatValue({})).toBe('{}');
    expect(formatValue({ outer: { inner: -1n } }, { hex: true })).toBe('{ outer: { inner: -0x1 } }');
  });
});

describe('describeComparison', () => {
  const env = fakeEnv({ lastExits: 1n, lastFault: -1n, policy: 'zap' });
  const cases: [string, string | undefined][] = [
    ['last.exits == 2', 'left 0x1 (last.exits), right 0x2'],
    ['(last.exits == 2)', 'left 0x1 (last.exits), right 0x2'],
    ['2 != last.exits + 1', 'left 0x2, right 0x2 (last.exits + 1)'],
    ['gpa(0x400000) == 0x201000', 'left 0x200000 (gpa(0x400000)), right 0x201000'],
    ['last.fault == 0x4', 'left -0x1 (last.fault), right 0x4'],
    ['last.fault != -1', 'left -0x1 (last.fault), right -0x1'],
    ['policy == "update"', 'left "zap" (policy), right "update"'],
    ['(spte(0x400000) & W) == 0', 'left 0x2 (spte(0x400000) & W), right 0x0'],
    ['spte(0x401000) & W == W', undefined], // == binds first: the top node is `&`
    ['(spte(0x401000) & W) == W', 'left 0x0 (spte(0x401000) & W), right 0x2 (W)'],
    ['exits.total < 2', 'left 0x3 (exits.total), right 0x2'],
    ['exits.pf >= 4', 'left 0x3 (exits.pf), right 0x4'],
    ['shadowed(0x10003000) == true', 'left false (shadowed(0x10003000)), right true'],
    ['spte(0x400000) & W', undefined],
    ['last.exits == 1 && policy == "x"', undefined],
    ['!(last.exits == 1)', undefined],
  ];
  it.each(cases)('%s', (text, want) => {
    expect(describeComparison(parseOk(text), env)).toBe(want);
  });
  it('shows a side that fails instead of throwing', () => {
    expect(describeComparison(parseOk('exits.pff == 1'), env)).toBe(
      'left <error: `exits` has no member `pff`; members: total, pf, fill, inject, emulate, cr3, invlpg> (exits.pff), right 0x1',
    );
    const broken: ExprEnv = {
      name: () => {
        throw new Error('boom');
      },
      call: () => undefined,
    };
    expect(describeComparison(parseOk('line == 3'), broken)).toBe('left <error: boom> (line), right 0x3');
  });
});
