import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluate, MAX_NESTING, parseExpr, printExpr, tryEvaluate, type Value } from '../../src/expr';
import { fakeEnv, parseOk } from './helpers';

function checkRanges(text: string, col: number): void {
  const r = parseExpr(text, { col, line: 7 });
  const hasError = r.diagnostics.some((d) => d.severity === 'error');
  expect(r.expr === undefined).toBe(hasError);
  for (const d of r.diagnostics) {
    expect(d.line).toBe(7);
    expect(d.endLine).toBe(7);
    expect(d.col).toBeGreaterThanOrEqual(col);
    expect(d.endCol).toBeGreaterThanOrEqual(d.col);
    expect(d.endCol).toBeLessThanOrEqual(col + text.length);
    expect(d.message.length).toBeLessThan(200);
  }
  expect(r.diagnostics.length).toBeLessThanOrEqual(50);
}

describe('deep nesting', () => {
  const N = MAX_NESTING;
  it(`accepts ${N} levels of parentheses and rejects ${N + 1}`, () => {
    const ok = parseOk('('.repeat(N) + '1' + ')'.repeat(N));
    expect(evaluate(ok, fakeEnv())).toBe(1n);
    const r = parseExpr('('.repeat(N + 1) + '1' + ')'.repeat(N + 1));
    expect(r.expr).toBeUndefined();
    expect(r.diagnostics).toEqual([
      expect.objectContaining({ col: N + 1, endCol: N + 2, message: `expression nests more than ${N} levels deep` }),
    ]);
  });
  it(`accepts ${N} unary operators and rejects ${N + 1}`, () => {
    // an even number of `!` before 0 is false
    expect(evaluate(parseOk('!'.repeat(N) + '0'), fakeEnv())).toBe(false);
    expect(evaluate(parseOk('-'.repeat(N) + '5'), fakeEnv())).toBe(5n);
    const r = parseExpr('~'.repeat(N + 1) + '0');
    expect(r.diagnostics).toEqual([expect.objectContaining({ col: N + 1, message: `expression nests more than ${N} levels deep` })]);
  });
  it('rejects a chain of operators taller than the limit, saying it is a chain, not nesting (issue 17.12)', () => {
    expect(evaluate(parseOk('1' + ' + 1'.repeat(N)), fakeEnv())).toBe(BigInt(N + 1));
    for (const op of ['+', '||']) {
      const r = parseExpr('1' + ` ${op} 1`.repeat(N + 1));
      expect(r.expr).toBeUndefined();
      expect(r.diagnostics).toHaveLength(1);
      expect(r.diagnostics[0]!.message).toBe(`expression chains more than ${N} binary operators one after another: split it or use fewer terms`);
      expect(r.diagnostics[0]!.message).not.toContain('nests');
    }
  });
  it('rejects nested calls and members beyond the limit', () => {
    expect(parseExpr('gpa('.repeat(N + 1) + '1' + ')'.repeat(N + 1)).diagnostics[0]!.message).toContain('nests more than');
    expect(parseExpr('last' + '.exits'.repeat(N + 1)).diagnostics[0]!.message).toContain('nests more than');
  });
  it('survives pathological nesting of every kind without a stack overflow', () => {
    const big = 200_000;
    const inputs = [
      '('.repeat(big),
      '('.repeat(big) + '1' + ')'.repeat(big),
      '!'.repeat(big) + '1',
      '-'.repeat(big),
      '1' + '+1'.repeat(big),
      'gpte('.repeat(big),
      '1||1&&1|1^1&1==1<1<<1+1*('.repeat(big),
      '1 || (1 && (1 | (1 ^ (1 & (1 == (1 < (1 << (1 + (1 * ('.repeat(50) + '1' + ')'.repeat(500),
      'last' + '.x'.repeat(big),
    ];
    for (const text of inputs) {
      const r = parseExpr(text);
      expect(r.expr).toBeUndefined();
      expect(r.diagnostics.length).toBeGreaterThan(0);
    }
  });
  it('mixes all kinds up to the limit (a call inside parentheses inside operators)', () => {
    // 40 levels of each pattern: well within the limits, the stack is fine
    const text = '1 + (gpa(!(-('.repeat(40) + '0x400000' + '))) - 0) * 1'.repeat(40);
    const r = parseExpr(text);
    expect(r.diagnostics).toEqual([]);
    expect(tryEvaluate(r.expr!, fakeEnv()).ok).toBe(true);
  });
});

describe('garbage input', () => {
  it('never throws on random strings (fast-check)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), fc.integer({ min: 1, max: 200 }), (text, col) => {
        checkRanges(text, col);
      }),
      { numRuns: 3000 },
    );
  });
  it('never throws on random token soup (fast-check)', () => {
    const token = fc.constantFrom(
      '(', ')', ',', '.', '!', '~', '-', '+', '*', '/', '%', '<<', '>>', '<', '<=', '>', '>=', '==', '!=', '=',
      '&', '^', '|', '&&', '||', '1', '0x1f', '0b2', '4k', '"s"', '"', '\\', 'gpte', 'gpa', 'policy', 'last', 'exits',
      'pf', 'P', 'NX', 'true', 'zzz', ' ', '$', '\u0000', '18446744073709551616',
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 40 }), (tokens) => {
        const text = tokens.join('');
        checkRanges(text, 1);
        const r = parseExpr(text);
        if (r.expr) {
          // whatever parses evaluates to a value or an ExprError, never anything else
          const v = tryEvaluate(r.expr, fakeEnv());
          if (!v.ok) expect(v.col).toBeGreaterThanOrEqual(1);
        }
      }),
      { numRuns: 3000 },
    );
  });
  it('never throws on random bytes (a plain loop)', () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let n = 0; n < 2000; n++) {
      let s = '';
      const len = rand() % 60;
      for (let i = 0; i < len; i++) s += String.fromCharCode(rand() % 256);
      checkRanges(s, 1 + (n % 9));
    }
  });
  it('handles megabyte inputs in linear time', () => {
    const MB = 1 << 20;
    const inputs: [string, string][] = [
      ['NUL bytes', '\u0000'.repeat(MB)],
      ['one string', '"' + 'a'.repeat(MB) + '"'],
      ['an unclosed string', '"' + 'a'.repeat(MB)],
      ['a huge number', '1'.repeat(MB)],
      ['leading zeros', '0'.repeat(MB)],
      ['a huge hex number', '0x' + 'f'.repeat(MB)],
      ['a huge name', 'a'.repeat(MB)],
      ['many unknown names', 'ab + '.repeat(MB / 5) + 'ab'],
      ['many bad characters', '$ '.repeat(MB / 2)],
      ['a long flat sum', '(1+1)*'.repeat(MB / 6) + '1'],
      ['a long || chain of strings', '"x" || '.repeat(MB / 7) + '1'],
      ['random ASCII', Array.from({ length: MB }, (_, i) => String.fromCharCode(32 + ((i * 7919) % 95))).join('')],
    ];
    for (const [what, text] of inputs) {
      const t0 = performance.now();
      const r = parseExpr(text);
      const ms = performance.now() - t0;
      expect(ms, what).toBeLessThan(3000);
      expect(r.diagnostics.length, what).toBeLessThanOrEqual(50);
      for (const d of r.diagnostics) expect(d.message.length, what).toBeLessThan(200);
    }
    // a megabyte string that is a valid expression
    const r = parseExpr('"' + 'a'.repeat(MB) + '" == "' + 'a'.repeat(MB) + '"');
    expect(evaluate(r.expr!, fakeEnv())).toBe(true);
  });
});

// Random integer expression trees: printed fully parenthesized, and printed by printExpr with only
// the parentheses that precedence needs, they must evaluate alike (the printer and the parser agree
// on precedence and associativity).
type Tree = { op: string; l: Tree; r?: Tree } | { lit: string };
const OPS = ['||', '&&', '|', '^', '&', '==', '!=', '<', '<=', '>', '>=', '<<', '>>', '+', '-', '*', '/', '%'];
const treeArb: fc.Arbitrary<Tree> = fc.letrec<{ t: Tree }>((tie) => ({
  t: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('0', '1', '2', '3', '7', '0x10', '64', 'W', 'true', 'false').map((lit): Tree => ({ lit })),
    fc.record({ op: fc.constantFrom(...OPS), l: tie('t'), r: tie('t') }),
    fc.record({ op: fc.constantFrom('!', '~', '-'), l: tie('t') }),
  ),
})).t;

function full(t: Tree): string {
  if ('lit' in t) return t.lit;
  if (t.r === undefined) return `${t.op}(${full(t.l)})`;
  return `(${full(t.l)}) ${t.op} (${full(t.r)})`;
}

function outcome(text: string): Value | string {
  const r = tryEvaluate(parseOk(text), fakeEnv());
  return r.ok ? r.value : `error: ${r.message}`;
}

describe('printer and parser agree', () => {
  it('on random trees (fast-check)', () => {
    fc.assert(
      fc.property(treeArb, (t) => {
        const text = full(t);
        const printed = printExpr(parseOk(text));
        expect(outcome(printed)).toEqual(outcome(text));
        // printing is a fixed point
        expect(printExpr(parseOk(printed))).toBe(printed);
      }),
      { numRuns: 2000 },
    );
  });
});
