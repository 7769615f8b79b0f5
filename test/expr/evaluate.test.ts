import { describe, expect, it } from 'vitest';
import {
  evaluate,
  evaluateCondition,
  ExprError,
  parseExpr,
  truthy,
  tryEvaluate,
  tryEvaluateCondition,
  type ExprEnv,
  type Value,
} from '../../src/expr';
import { explodingEnv, fakeEnv, parseOk, run } from './helpers';

const MAX = (1n << 64n) - 1n;

function evalError(text: string, env: ExprEnv = fakeEnv(), col?: number): ExprError {
  const e = parseOk(text, col === undefined ? undefined : { col });
  try {
    evaluate(e, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ExprError);
    return err as ExprError;
  }
  throw new Error(`${text} evaluated without error`);
}

describe('precedence and associativity (C)', () => {
  const cases: [string, Value][] = [
    ['1 + 2 * 3 == 7', true],
    // & before ^ before |: 3 & 4 = 0, 2 ^ 0 = 2, 1 | 2 = 3
    ['1 | 2 ^ 3 & 4', 3n],
    ['(1 | 2) ^ 3 & 4', 3n],
    ['((1 | 2) ^ 3) & 4', 0n],
    // + before <<
    ['1 << 2 + 1', 8n],
    // << before <
    ['1 << 2 < 5', true],
    // < before ==: (1 < 2) == 1, a boolean compared with an integer as 1
    ['1 < 2 == 1', true],
    // == before &: the C pitfall, 2 & (3 == 3) = 2 & 1 = 0
    ['2 & 3 == 3', 0n],
    ['(2 & 3) == 2', true],
    // && before ||
    ['1 || 0 && 0', true],
    ['(1 || 0) && 0', false],
    ['0 && 1 || 1', true],
    // | before &&
    ['0 | 1 && 2 | 0', true],
    // left associativity
    ['10 - 2 - 3', 5n],
    ['64 / 4 / 2', 8n],
    ['7 % 4 * 2', 6n],
    ['2 * 7 % 4', 2n],
    ['1 << 2 << 3', 32n],
    ['256 >> 2 >> 1', 32n],
    ['6 ^ 3 ^ 1', 4n],
    // unary binds tighter than binary
    ['-2 * 3', -6n],
    ['!0 + 1', 2n],
    ['~0 & 0xff', 0xffn],
    ['-1 - -1', 0n],
    ['- - 5', 5n],
    ['!!7', true],
    ['(1 + 2) * 3', 9n],
  ];
  it.each(cases)('%s', (text, want) => {
    expect(run(text)).toBe(want);
  });
});

describe('every operator', () => {
  const cases: [string, Value][] = [
    ['7 + 5', 12n],
    ['7 - 9', -2n],
    ['6 * 7', 42n],
    ['7 / 2', 3n],
    ['-7 / 2', -3n], // truncates toward zero as in C
    ['7 % 3', 1n],
    ['-7 % 2', -1n], // the remainder has the dividend's sign
    ['7 % -2', 1n],
    ['5 & 3', 1n],
    ['5 | 3', 7n],
    ['5 ^ 3', 6n],
    ['-1 & 0xff', 0xffn],
    ['1 << 63', 1n << 63n],
    ['1 << 64', 0n], // masked to 64 bits
    ['3 << 63', 1n << 63n],
    ['-1 << 4', 0xffff_ffff_ffff_fff0n],
    ['0xffff_ffff_ffff_ffff << 4', 0xffff_ffff_ffff_fff0n],
    ['1 << 1000000000000', 0n],
    ['0x8000000000000000 >> 63', 1n],
    ['0xf0 >> 4', 0xfn],
    ['1 >> 100', 0n],
    ['-8 >> 1', -4n], // arithmetic for a negative left side
    ['-1 >> 1000000000000', -1n],
    ['~0', MAX],
    ['~W', 0xffff_ffff_ffff_fffdn],
    ['~0x8000000000000000', 0x7fff_ffff_ffff_ffffn],
    ['~-1', 0n],
    ['~-5', 4n],
    ['-(3)', -3n],
    ['!5', false],
    ['!0', true],
    ['!""', true],
    ['!"a"', false],
    ['!true', false],
    ['3 < 3', false],
    ['3 <= 3', true],
    ['4 > 3', true],
    ['3 >= 4', false],
    ['-1 < 0', true],
    ['3 == 3', true],
    ['3 != 4', true],
    ['3 != 3', false],
    ['1 && 2', true], // a boolean, not 2
    ['1 && 0', false],
    ['0 || 0', false],
    ['0 || 7', true],
    // integers are not wrapped
    ['0xffff_ffff_ffff_ffff + 1', 1n << 64n],
    ['0 - 1', -1n],
    ['0xffff_ffff_ffff_ffff * 0xffff_ffff_ffff_ffff', MAX * MAX],
  ];
  it.each(cases)('%s', (text, want) => {
    expect(run(text)).toBe(want);
  });
});

describe('booleans mix with integers as in C', () => {
  const cases: [string, Value][] = [
    ['true', true],
    ['false', false],
    ['true + true', 2n],
    ['true == 1', true],
    ['false == 0', true],
    ['true == 2', false],
    ['true != false', true],
    ['true > false', true],
    ['true & 1', 1n],
    ['-true', -1n],
    ['true && 1', true],
    ['(1 == 1) + (2 == 2)', 2n],
  ];
  it.each(cases)('%s', (text, want) => {
    expect(run(text)).toBe(want);
  });
});

describe('literals', () => {
  const cases: [string, bigint][] = [
    ['0x1f', 31n],
    ['0X1F', 31n],
    ['31', 31n],
    ['0b11111', 31n],
    ['0B101', 5n],
    ['0x0040_0000', 0x400000n],
    ['1_000', 1000n],
    ['0b1111_0000', 0xf0n],
    ['007', 7n],
    ['0', 0n],
    ['4k', 4096n],
    ['4m', 4n << 20n],
    ['1g', 1n << 30n],
    ['4K', 4096n],
    ['2M', 2n << 20n],
    ['0x10k', 16n * 1024n],
    ['0b1k', 1024n],
    ['0x4000_0000m', 0x4000_0000n << 20n],
    ['0xffff_ffff_ffff_ffff', MAX],
    ['18446744073709551615', MAX],
    ['16777215g', 16777215n << 30n],
    ['0x0000_0000_0000_0000_0000_0001', 1n], // leading zeros do not count toward 64 bits
  ];
  it.each(cases)('%s', (text, want) => {
    expect(run(text)).toBe(want);
  });

  const errors: [string, string][] = [
    ['0x1_0000_0000_0000_0000', 'does not fit in 64 bits'],
    ['18446744073709551616', 'does not fit in 64 bits'],
    ['0x4000_0000_0000_0000k', 'does not fit in 64 bits'],
    ['17179869184g', 'does not fit in 64 bits'],
    ['0x', 'expected hex digits after `0x`'],
    ['0b', 'expected binary digits after `0b`'],
    ['0b102', '`2` is not a binary digit'],
    ['12abc', '`a` is not a decimal digit'],
    ['0x10P', '`P` is not a hex digit'],
    ['4kb', 'is not a decimal digit'],
  ];
  it.each(errors)('%s is an error', (text, message) => {
    const r = parseExpr(text);
    expect(r.expr).toBeUndefined();
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]!.message).toContain(message);
    expect(r.diagnostics[0]!.col).toBe(1);
    expect(r.diagnostics[0]!.endCol).toBe(text.length + 1);
  });
});

describe('strings', () => {
  it('compares strings with == and !=', () => {
    expect(run('"zap" == "zap"')).toBe(true);
    expect(run('"zap" != "update"')).toBe(true);
    expect(run('"zap" == "Zap"')).toBe(false);
    expect(run('"" == ""')).toBe(true);
  });
  it('has the escapes \\" and \\\\', () => {
    expect(run('"a\\"b"')).toBe('a"b');
    expect(run('"a\\\\b"')).toBe('a\\b');
    expect(run('"say \\"hi\\"" == "say \\"hi\\""')).toBe(true);
    expect(run('"#x"')).toBe('#x');
  });
  it('rejects a string compared with an integer, naming the column', () => {
    const err = evalError('1 + 1 == "zap"', fakeEnv(), 10);
    expect(err.message).toContain('string');
    expect(err.col).toBe(10);
    expect(err.endCol).toBe(24);
    expect(evalError('policy != 0').message).toMatch(/cannot compare a string with an integer/);
  });
  it('rejects ordering and arithmetic on strings', () => {
    const lt = evalError('"a" < "b"');
    expect(lt.message).toContain('`<` needs integers');
    expect(lt.col).toBe(1);
    expect(lt.endCol).toBe(4);
    const plus = evalError('1 + policy');
    expect(plus.message).toBe('`+` needs integers, but `policy` is a string');
    expect([plus.col, plus.endCol]).toEqual([5, 11]);
  });
  it('diagnoses an unclosed string and an unknown escape', () => {
    const r = parseExpr('policy == "zap');
    expect(r.expr).toBeUndefined();
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ col: 11, endCol: 15, message: 'unclosed string: expected a closing `"`' });
    const e = parseExpr('"a\\nb"');
    expect(e.diagnostics).toHaveLength(1);
    expect(e.diagnostics[0]).toMatchObject({ col: 3, endCol: 5 });
    expect(e.diagnostics[0]!.message).toContain('unknown escape `\\n`');
  });
});

describe('short-circuit', () => {
  it('does not evaluate the right side of && when the left is false', () => {
    expect(evaluate(parseOk('0 && gpa(1) == 1'), explodingEnv)).toBe(false);
    expect(evaluate(parseOk('false && policy'), explodingEnv)).toBe(false);
  });
  it('does not evaluate the right side of || when the left is true', () => {
    expect(evaluate(parseOk('1 || gpa(1)'), explodingEnv)).toBe(true);
    expect(evaluate(parseOk('"x" || last.exits'), explodingEnv)).toBe(true);
  });
  it('evaluates the right side otherwise (and wraps a foreign error as an ExprError at the call)', () => {
    const r = tryEvaluate(parseOk('1 && gpa(1)', { col: 5 }), explodingEnv);
    expect(r).toEqual({ ok: false, message: 'call gpa must not be evaluated', col: 10, endCol: 16 });
  });
  it('yields booleans', () => {
    expect(run('2 && 3')).toBe(true);
    expect(run('0 || 3')).toBe(true);
    expect(run('"" || 0')).toBe(false);
  });
});

describe('flag constants', () => {
  const cases: [string, Value][] = [
    ['0x200067 == (0x200000 | P | W | U | A | D)', true],
    ['P', 1n],
    ['W', 2n],
    ['U', 4n],
    ['PWT', 8n],
    ['PCD', 16n],
    ['A', 32n],
    ['D', 64n],
    ['PS', 128n],
    ['G', 256n],
    ['NX', 1n << 63n],
    ['NX == 1 << 63', true],
    ['P | W | U | PWT | PCD | A | D | PS | G', 0x1ffn],
  ];
  it.each(cases)('%s', (text, want) => {
    // constants need no environment at all
    expect(evaluate(parseOk(text), explodingEnv)).toBe(want);
  });
  it('are case-sensitive', () => {
    const r = parseExpr('p | w');
    expect(r.expr).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.message, d.hint])).toEqual([
      ['unknown name `p`', 'did you mean `P`?'],
      ['unknown name `w`', 'did you mean `W`?'],
    ]);
  });
});

describe('the examples of language.md', () => {
  it('last.exits == 1', () => {
    expect(run('last.exits == 1', fakeEnv({ lastExits: 1n }))).toBe(true);
    expect(run('last.exits == 1', fakeEnv({ lastExits: 0n }))).toBe(false);
  });
  it('policy == "zap" || last.exits == 0', () => {
    expect(run('policy == "zap" || last.exits == 0', fakeEnv({ policy: 'zap', lastExits: 1n }))).toBe(true);
    expect(run('policy == "zap" || last.exits == 0', fakeEnv({ policy: 'update', lastExits: 0n }))).toBe(true);
    expect(run('policy == "zap" || last.exits == 0', fakeEnv({ policy: 'update', lastExits: 1n }))).toBe(false);
  });
  it('gpa(0x400000) == 0x200000', () => {
    const env = fakeEnv();
    expect(run('gpa(0x400000) == 0x200000', env)).toBe(true);
    expect(env.calls).toEqual(['gpa']);
    expect(run('gpa(0x400000 + 4k) == 0x200000')).toBe(false);
    expect(run('gpa(0x999000) == -1')).toBe(true);
  });
  it('spte(0x400000) & W', () => {
    const v = run('spte(0x400000) & W');
    expect(v).toBe(2n);
    expect(truthy(v)).toBe(true);
    expect(truthy(run('spte(0x401000) & W'))).toBe(false);
  });
  it('last.fault == 0x4 and last.fault == -1', () => {
    expect(run('last.fault == 0x4', fakeEnv({ lastFault: 4n }))).toBe(true);
    expect(run('last.fault == -1')).toBe(true);
  });
  it('the final expect of the example', () => {
    const text = 'policy == "zap" && last.exits == 1 || policy == "update" && last.exits == 0';
    expect(run(text, fakeEnv({ policy: 'zap', lastExits: 1n }))).toBe(true);
    expect(run(text, fakeEnv({ policy: 'update', lastExits: 0n }))).toBe(true);
    expect(run(text, fakeEnv({ policy: 'update', lastExits: 1n }))).toBe(false);
    expect(run(text, fakeEnv({ policy: 'zap', lastExits: 0n }))).toBe(false);
  });
  it('the other names and functions', () => {
    expect(run('vcpu == 0 && line == 12 && cr3 == 0x1000_0000')).toBe(true);
    expect(run('exits.total == exits.pf + exits.cr3 + exits.invlpg')).toBe(true);
    expect(run('exits.pf == exits.fill + exits.inject + exits.emulate')).toBe(true);
    expect(run('gpte(0x400000) == (0x200000 | P | W | U | A | D)')).toBe(true);
    // without the parentheses, == binds first as in C: (false) | 0x67
    expect(run('gpte(0x400000) == 0x200000 | P | W | U | A | D')).toBe(0x67n);
    expect(run('gpte(0x400000, 1) & PS')).toBe(0n);
    expect(run('shadowed(0x10002000)')).toBe(true);
    expect(run('!shadowed(0x10003000)')).toBe(true);
    expect(run('(spte(0x401000) & (P | W | U)) == (P | U)')).toBe(true);
  });
});

describe('evaluation errors', () => {
  it('division and modulo by zero name the divisor', () => {
    const d = evalError('1 / 0');
    expect(d.message).toBe('division by zero');
    expect([d.col, d.endCol]).toEqual([5, 6]);
    // a parenthesized divisor: the range of the expression inside the parentheses
    const m = evalError('1 % (2 - 2)', fakeEnv(), 20);
    expect(m.message).toBe('modulo by zero');
    expect([m.col, m.endCol]).toEqual([25, 30]);
    expect(evalError('last.exits / last.zapped').col).toBe(14);
  });
  it('a missing member names its column and lists the members', () => {
    const e = evalError('exits.pff == 1', fakeEnv(), 8);
    expect(e.message).toBe('`exits` has no member `pff`; members: total, pf, fill, inject, emulate, cr3, invlpg');
    expect([e.col, e.endCol]).toEqual([14, 17]);
    expect(evalError('last.faults').message).toBe('`last` has no member `faults`; members: exits, fault, zapped, updated');
  });
  it('does not see inherited properties as members', () => {
    expect(evalError('exits.toString').message).toContain('has no member `toString`');
    expect(evalError('last.constructor').message).toContain('has no member `constructor`');
  });
  it('a member of something that is not a record', () => {
    const e = evalError('policy.name');
    expect(e.message).toBe('`policy` is a string and has no members');
    expect([e.col, e.endCol]).toEqual([8, 12]);
    expect(evalError('P.x').message).toBe('`P` is an integer and has no members');
  });
  it('a record is not a number, a condition, nor comparable', () => {
    expect(evalError('exits + 1').message).toBe('`+` needs integers, but `exits` is a record');
    const n = evalError('!exits');
    expect(n.message).toBe('`exits` is a record, not a condition; use a member such as `exits.total`');
    expect([n.col, n.endCol]).toEqual([2, 7]);
    expect(evalError('1 && last').message).toContain('`last` is a record, not a condition');
    expect(evalError('exits == exits').message).toContain('cannot be compared');
  });
  it('an extra name the environment provides', () => {
    const env = fakeEnv({ extra: { exit: { reason: 'page-fault', outcome: 'fill' } } });
    const e = parseOk('exit.reason == "page-fault" && exit.outcome != "inject"', { names: new Set(['exit']) });
    expect(evaluate(e, env)).toBe(true);
  });
  it('an unknown name or function at evaluation', () => {
    const env: ExprEnv = { name: () => undefined, call: () => undefined };
    const e = parseExpr('1 + exit', { names: new Set(['exit']) }).expr!;
    const r = tryEvaluate(e, env);
    expect(r).toEqual({ ok: false, message: 'unknown name `exit`', col: 5, endCol: 9 });
    const c = tryEvaluate(parseOk('gpa(1)'), env);
    expect(c).toEqual({ ok: false, message: 'unknown function `gpa`', col: 1, endCol: 7 });
  });
  it('an ExprError thrown by the environment gets the call range unless it has one', () => {
    const env: ExprEnv = {
      name: () => undefined,
      call: (fn, args) => {
        if (args[1] === 9n) throw new ExprError('level 9 is outside the mode', 0, 0);
        if (args[1] === 8n) throw new ExprError('level 8 is outside the mode', 3, 4);
        return 0n;
      },
    };
    expect(tryEvaluate(parseOk('  spte(1, 9)', { col: 10 }), env)).toEqual({
      ok: false,
      message: 'level 9 is outside the mode',
      col: 12,
      endCol: 22,
    });
    expect(tryEvaluate(parseOk('spte(1, 8)'), env)).toMatchObject({ col: 3, endCol: 4 });
  });
  it('negative shift counts', () => {
    expect(evalError('1 << -1').message).toBe('negative shift count');
    expect(evalError('1 >> -1').col).toBe(6);
  });
});

describe('truthy and conditions', () => {
  it('truthy', () => {
    expect(truthy(0n)).toBe(false);
    expect(truthy(5n)).toBe(true);
    expect(truthy(-1n)).toBe(true);
    expect(truthy(true)).toBe(true);
    expect(truthy(false)).toBe(false);
    expect(truthy('')).toBe(false);
    expect(truthy('zap')).toBe(true);
    expect(() => truthy({ a: 1n })).toThrow(ExprError);
    expect(() => truthy({ a: 1n })).toThrow('a record is not a condition');
  });
  it('evaluateCondition gives a record the expression range', () => {
    expect(evaluateCondition(parseOk('spte(0x400000) & W'), fakeEnv())).toBe(true);
    expect(evaluateCondition(parseOk('spte(0x401000) & W'), fakeEnv())).toBe(false);
    expect(tryEvaluateCondition(parseOk('exits', { col: 8 }), fakeEnv())).toEqual({
      ok: false,
      message: '`exits` is a record, not a condition; use a member such as `exits.total`',
      col: 8,
      endCol: 13,
    });
    expect(tryEvaluateCondition(parseOk('last.exits'), fakeEnv())).toEqual({ ok: true, value: true });
  });
  it('tryEvaluate reports success', () => {
    expect(tryEvaluate(parseOk('exits'), fakeEnv())).toEqual({
      ok: true,
      value: { total: 3n, pf: 3n, fill: 1n, inject: 1n, emulate: 1n, cr3: 0n, invlpg: 0n },
    });
  });
});

describe('speed', () => {
  it('evaluates a breakpoint condition a million times quickly', () => {
    const e = parseOk('last.exits == 1 && spte(0x400000) & W || policy == "update"');
    const last = { exits: 1n, fault: -1n, zapped: 0n, updated: 0n };
    const env: ExprEnv = {
      name: (id) => (id === 'last' ? last : id === 'policy' ? 'zap' : undefined),
      call: () => 0x200067n,
    };
    const t0 = performance.now();
    let n = 0;
    for (let i = 0; i < 1_000_000; i++) if (evaluate(e, env) === true) n++;
    const ms = performance.now() - t0;
    expect(n).toBe(1_000_000);
    expect(ms).toBeLessThan(5000);
  });
});
