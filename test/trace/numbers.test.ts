import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { didYouMean, editDistance, hex, parseNumber } from '../../src/trace';
import { NUM_BAD_DIGIT, NUM_NO_DIGITS, NUM_OK, NUM_OVERFLOW, scanNumber, type NumOut } from '../../src/trace/numbers';
import { parseTrace } from '../../src/trace';

function scan(s: string): NumOut {
  const o: NumOut = { lo: 0, hi: 0, err: 0, at: 0 };
  scanNumber(s, 0, s.length, o);
  return o;
}

describe('numbers', () => {
  test('forms', () => {
    expect(parseNumber('0x1f')).toBe(31n);
    expect(parseNumber('31')).toBe(31n);
    expect(parseNumber('0b11111')).toBe(31n);
    expect(parseNumber('0x0040_0000')).toBe(0x400000n);
    expect(parseNumber('0XFF')).toBe(255n);
    expect(parseNumber('0B1')).toBe(1n);
    expect(parseNumber('4k')).toBe(4096n);
    expect(parseNumber('4m')).toBe(4n << 20n);
    expect(parseNumber('4M')).toBe(4n << 20n);
    expect(parseNumber('2g')).toBe(2n << 30n);
    expect(parseNumber('0x10k')).toBe(16n << 10n);
    expect(parseNumber('0b1k')).toBe(1024n);
    expect(parseNumber('0')).toBe(0n);
    expect(parseNumber('0k')).toBe(0n);
    expect(parseNumber('007')).toBe(7n);
    expect(parseNumber('0xffff_ffff_ffff_ffff')).toBe(2n ** 64n - 1n);
  });

  test('errors', () => {
    expect(scan('0x1g2').err).toBe(NUM_BAD_DIGIT);
    expect(scan('0x1g2').at).toBe(3);
    expect(scan('12a').err).toBe(NUM_BAD_DIGIT);
    expect(scan('0b12').err).toBe(NUM_BAD_DIGIT);
    expect(scan('4kk').err).toBe(NUM_BAD_DIGIT);
    expect(scan('0x').err).toBe(NUM_NO_DIGITS);
    expect(scan('0b').err).toBe(NUM_NO_DIGITS);
    expect(scan('0x_').err).toBe(NUM_NO_DIGITS);
    expect(scan('0x1_0000_0000_0000_0000').err).toBe(NUM_OVERFLOW);
    expect(scan('18446744073709551616').err).toBe(NUM_OVERFLOW);
    expect(scan('0b1' + '0'.repeat(64)).err).toBe(NUM_OVERFLOW);
    expect(scan('0x4000_0000_0000_0000k').err).toBe(NUM_OVERFLOW);
    expect(scan('18446744073709551615').err).toBe(NUM_OK);
    expect(parseNumber('')).toBeUndefined();
    expect(parseNumber('x1')).toBeUndefined();
    expect(parseNumber('1 2')).toBeUndefined();
  });

  test('any 64-bit value round-trips in every base, with underscores and suffixes', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.nat(3), (v, u) => {
        const under = (s: string): string => (u === 0 ? s : s.replace(new RegExp(`(.{${u}})`, 'g'), '$1_'));
        expect(parseNumber('0x' + under(v.toString(16)))).toBe(v);
        expect(parseNumber(under(v.toString(10)))).toBe(v);
        expect(parseNumber('0b' + under(v.toString(2)))).toBe(v);
        const k = v >> 10n;
        expect(parseNumber(k.toString() + 'k')).toBe(k << 10n);
        const x = scan('0x' + v.toString(16));
        expect((BigInt(x.hi) << 32n) | BigInt(x.lo)).toBe(v);
      }),
      { numRuns: 500 },
    );
  });

  test('the lexer fast path and the full scanner agree (through the parser)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.boolean(), (v, asHex) => {
        const text = `write 0 = ${asHex ? '0x' + v.toString(16) : v.toString(10)}`;
        const r = parseTrace(text);
        expect(r.diagnostics).toEqual([]);
        expect(r.program.events.value(0)).toBe(v);
      }),
      { numRuns: 500 },
    );
  });

  test('hex formatting', () => {
    expect(hex(0x1000, 0)).toBe('0x1000');
    expect(hex(0, 0x8000)).toBe('0x8000_0000_0000');
    expect(hex(0xffffffff, 0xffffffff)).toBe('0xffff_ffff_ffff_ffff');
  });
});

describe('did you mean', () => {
  test('edit distance with transpositions', () => {
    expect(editDistance('raed', 'read')).toBe(1);
    expect(editDistance('read', 'read')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('kitten', 'sitting', 1)).toBe(2);
  });

  test('suggestions', () => {
    expect(didYouMean('raed', ['read', 'write'])).toBe('read');
    expect(didYouMean('RAED', ['read'])).toBe('read');
    expect(didYouMean('wrt', ['read', 'write'])).toBeUndefined(); // 2 edits on a 3-letter word
    expect(didYouMean('wrte', ['read', 'write'])).toBe('write');
    expect(didYouMean('Q', ['P', 'W'])).toBeUndefined();
    expect(didYouMean('abcdefgh', ['read'])).toBeUndefined();
    expect(didYouMean('', ['read'])).toBeUndefined();
    expect(didYouMean('x'.repeat(100), ['read'])).toBeUndefined();
  });
});
