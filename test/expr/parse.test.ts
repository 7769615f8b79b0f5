import { describe, expect, it } from 'vitest';
import { DEFAULT_NAMES, parseExpr, printExpr } from '../../src/expr';
import type { Diagnostic } from '../../src/trace/ast';
import { parseOk } from './helpers';

/** The diagnostics as [col, endCol, message] triples. */
function diags(text: string, col?: number): [number, number, string][] {
  const r = parseExpr(text, col === undefined ? undefined : { col });
  expect(r.expr).toBeUndefined();
  return r.diagnostics.map((d) => [d.col, d.endCol, d.message]);
}

function only(text: string, opts?: Parameters<typeof parseExpr>[1]): Diagnostic {
  const r = parseExpr(text, opts);
  expect(r.expr).toBeUndefined();
  expect(r.diagnostics).toHaveLength(1);
  return r.diagnostics[0]!;
}

describe('tree shape and ranges', () => {
  it('gives every node its columns in the caller coordinates', () => {
    // `expect last.exits == 1` on line 5: the expression starts at column 8
    const e = parseOk('last.exits == 1', { line: 5, col: 8 });
    expect(e).toMatchObject({
      kind: 'binary',
      op: '==',
      col: 8,
      endCol: 23,
      opCol: 19,
      left: { kind: 'member', name: 'exits', col: 8, endCol: 18, nameCol: 13, object: { kind: 'name', name: 'last', col: 8, endCol: 12 } },
      right: { kind: 'number', value: 1n, text: '1', col: 22, endCol: 23 },
    });
  });
  it('keeps a parenthesized expression range inside the parentheses', () => {
    const e = parseOk('(1 + 2) * 3');
    expect(e).toMatchObject({ kind: 'binary', op: '*', col: 2, endCol: 12, left: { kind: 'binary', op: '+', col: 2, endCol: 7 } });
  });
  it('parses calls, unary operators, constants and booleans', () => {
    expect(parseOk(' gpte ( 0x400000 , 2 ) ')).toMatchObject({
      kind: 'call',
      fn: 'gpte',
      col: 2,
      endCol: 23,
      args: [
        { kind: 'number', value: 0x400000n },
        { kind: 'number', value: 2n },
      ],
    });
    expect(parseOk('-~!W')).toMatchObject({
      kind: 'unary',
      op: '-',
      col: 1,
      operand: { kind: 'unary', op: '~', col: 2, operand: { kind: 'unary', op: '!', col: 3, operand: { kind: 'const', name: 'W', value: 2n } } },
    });
    expect(parseOk('true')).toMatchObject({ kind: 'bool', value: true });
    expect(parseOk('"a b"')).toMatchObject({ kind: 'string', value: 'a b', col: 1, endCol: 6 });
  });
  it('accepts tabs, newlines and no spaces at all', () => {
    expect(printExpr(parseOk('last.exits==1&&policy!="zap"'))).toBe('last.exits == 1 && policy != "zap"');
    expect(printExpr(parseOk('\tlast.exits\n==\r\n1'))).toBe('last.exits == 1');
  });
});

describe('printExpr', () => {
  const cases: [string, string][] = [
    ['(1 + 2) * 3', '(1 + 2) * 3'],
    ['1 + (2 * 3)', '1 + 2 * 3'],
    ['1 - (2 - 3)', '1 - (2 - 3)'],
    ['(1 - 2) - 3', '1 - 2 - 3'],
    ['-(1)', '-1'],
    ['-(1 + 2)', '-(1 + 2)'],
    ['!(last.exits == 1)', '!(last.exits == 1)'],
    ['gpte( 0x0040_0000 ,1 )', 'gpte(0x0040_0000, 1)'],
    ['(exits).pf', 'exits.pf'],
    ['"a\\"b"', '"a\\"b"'],
    ['a || b && c', 'a || b && c'],
    ['(a || b) && c', '(a || b) && c'],
  ];
  it.each(cases)('%s → %s', (text, want) => {
    expect(printExpr(parseOk(text, { names: new Set(['a', 'b', 'c']) }))).toBe(want);
  });
});

describe('syntax errors', () => {
  it('an operator without its right operand', () => {
    expect(diags('1 +')).toEqual([[3, 4, 'expected an operand after `+`']]);
    expect(diags('last.exits == 1 &&')).toEqual([[17, 19, 'expected an operand after `&&`']]);
    expect(diags('1 + )')).toEqual([[5, 6, 'expected an operand after `+`, found `)`']]);
    expect(diags('!')).toEqual([[1, 2, 'expected an operand after `!`']]);
    expect(diags('1 * * 2')).toEqual([[5, 6, 'expected an operand after `*`, found `*`']]);
  });
  it('nothing at all', () => {
    expect(diags('')).toEqual([[1, 1, 'expected an expression']]);
    expect(diags('   ', 8)).toEqual([[8, 8, 'expected an expression']]);
    expect(diags('* 2')).toEqual([[1, 2, 'expected an expression, found `*`']]);
  });
  it('parentheses', () => {
    expect(diags('(1 + 2')).toEqual([[1, 2, 'unclosed `(`']]);
    expect(diags('((1 + 2)')).toEqual([[1, 2, 'unclosed `(`']]);
    expect(diags('1 + 2)')).toEqual([[6, 7, 'unexpected `)`: there is no `(` to close']]);
    expect(diags('()')).toEqual([[2, 3, 'expected an expression after `(`, found `)`']]);
    expect(diags('(1 2)')).toEqual([[4, 5, 'expected an operator or `)`, found `2`']]);
  });
  it('two operands in a row', () => {
    expect(diags('1 2')).toEqual([[3, 4, 'expected an operator or the end of the expression, found `2`']]);
    expect(diags('policy "zap"')).toEqual([[8, 13, 'expected an operator or the end of the expression, found `"zap"`']]);
  });
  it('members', () => {
    expect(diags('last.')).toEqual([[5, 6, 'expected a member name after `.`']]);
    expect(diags('last.1')).toEqual([[6, 7, 'expected a member name after `.`, found `1`']]);
    expect(diags('1.5')).toEqual([[3, 4, 'expected a member name after `.`, found `5`']]);
  });
  it('calls', () => {
    expect(diags('gpte(1,)')).toEqual([[8, 9, 'expected an argument after `,`, found `)`']]);
    expect(diags('gpte(1')).toEqual([[5, 6, 'unclosed `(` of the call to `gpte`']]);
    expect(diags('gpte(1 2)')).toEqual([[8, 9, 'expected `,` or `)` in the call to `gpte`, found `2`']]);
    expect(diags('gpte(,1)')).toEqual([[6, 7, 'expected an argument after `gpte(`, found `,`']]);
    expect(diags('(gpte)(1)')).toEqual([
      [2, 6, '`gpte` is a function: call it as `gpte(VA[, LEVEL])`'],
      [7, 8, 'expected an operator or the end of the expression, found `(`'],
    ]);
  });
  it('reports lexical errors after the first syntax error, but no second syntax error', () => {
    expect(diags('1 2 $ ) 0b2', 10)).toEqual([
      [12, 13, 'expected an operator or the end of the expression, found `2`'],
      [14, 15, 'unexpected character `$`'],
      [18, 21, 'invalid number `0b2`: `2` is not a binary digit'],
    ]);
  });
  it('caps the number of diagnostics', () => {
    expect(parseExpr('$ '.repeat(1000)).diagnostics).toHaveLength(50);
  });
  it('`=` for `==`, with a fix, in the caller coordinates', () => {
    const d = only('last.exits = 1', { line: 5, col: 8 });
    expect(d).toEqual({
      line: 5,
      col: 19,
      endLine: 5,
      endCol: 20,
      severity: 'error',
      message: 'unexpected `=`',
      hint: 'did you mean `==`?',
      fix: { title: 'Change to `==`', range: { line: 5, col: 19, endLine: 5, endCol: 20 }, newText: '==' },
    });
  });
  it('bad characters, once per run, without cascading', () => {
    expect(diags('1 + $')).toEqual([[5, 6, 'unexpected character `$`']]);
    expect(diags('$$$')).toEqual([[1, 4, 'unexpected characters `$$$`']]);
    expect(diags('1 $ 2')).toEqual([[3, 4, 'unexpected character `$`']]);
    expect(diags('1 + $ + gpta')).toEqual([
      [5, 6, 'unexpected character `$`'],
      [9, 13, 'unknown name `gpta`'],
    ]);
    expect(diags('a\u0000b')[1]).toEqual([2, 3, 'unexpected character `\\x00`']);
    expect(diags('é')).toEqual([[1, 2, 'unexpected character `é`']]);
    // what follows a bad character in operator position is not checked further
    expect(diags('last.exits == 1 # comment')).toEqual([[17, 18, 'unexpected character `#`']]);
  });
});

describe('names', () => {
  it('an unknown name with a did-you-mean hint and fix', () => {
    const d = only('gpta', { line: 3, col: 8 });
    expect(d).toMatchObject({ line: 3, col: 8, endLine: 3, endCol: 12, message: 'unknown name `gpta`', hint: 'did you mean `gpte`?' });
    expect(d.fix).toEqual({ title: 'Change to `gpte`', range: { line: 3, col: 8, endLine: 3, endCol: 12 }, newText: 'gpte' });
  });
  it('an unknown function with a hint among the functions', () => {
    const d = only('gpta(0x400000) == 0', { col: 8 });
    expect(d).toMatchObject({ col: 8, endCol: 12, message: 'unknown function `gpta`', hint: 'did you mean `gpte`?' });
    expect(only('spt(1)').hint).toBe('did you mean `spte`?');
    expect(only('shadowd(1)').hint).toBe('did you mean `shadowed`?');
    expect(only('frob(1)').hint).toBeUndefined();
  });
  const hints: [string, string | undefined][] = [
    ['lst.exits == 1', 'last'],
    ['polcy', 'policy'],
    ['plicy', 'policy'],
    ['exit', 'exits'],
    ['crr3', 'cr3'],
    ['vpcu', 'vcpu'],
    ['True', 'true'],
    ['FALSE', 'false'],
    ['nx', 'NX'],
    ['p', 'P'],
    ['pwt', 'PWT'],
    ['x', undefined],
    ['zzzzzz', undefined],
  ];
  it.each(hints)('%s → %s', (text, want) => {
    const r = parseExpr(text);
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]!.message).toMatch(/^unknown name `/);
    expect(r.diagnostics[0]!.hint).toBe(want === undefined ? undefined : `did you mean \`${want}\`?`);
    if (want === undefined) expect(r.diagnostics[0]!.fix).toBeUndefined();
    else expect(r.diagnostics[0]!.fix?.newText).toBe(want);
  });
  it('reports every unknown name, in column order', () => {
    expect(diags('polcy == "zap" || lst.exits == 1')).toEqual([
      [1, 6, 'unknown name `polcy`'],
      [19, 22, 'unknown name `lst`'],
    ]);
  });
  it('a name used as a function and a function used as a name', () => {
    expect(diags('policy(1)')).toEqual([[1, 7, '`policy` is not a function']]);
    expect(diags('P(1)')).toEqual([[1, 2, '`P` is a constant, not a function']]);
    expect(diags('true()')).toEqual([[1, 5, '`true` is a constant, not a function']]);
    expect(diags('gpa + 1')).toEqual([[1, 4, '`gpa` is a function: call it as `gpa(VA)`']]);
  });
  it('checks the argument count of the built-in functions', () => {
    expect(diags('gpa(1, 2)')).toEqual([[1, 10, '`gpa` takes 1 argument (`gpa(VA)`), found 2']]);
    expect(diags('1 + spte()', 4)).toEqual([[8, 14, '`spte` takes 1 or 2 arguments (`spte(VA[, LEVEL])`), found 0']]);
    expect(diags('gpte(1, 2, 3)')).toEqual([[1, 14, '`gpte` takes 1 or 2 arguments (`gpte(VA[, LEVEL])`), found 3']]);
    expect(diags('shadowed()')).toEqual([[1, 11, '`shadowed` takes 1 argument (`shadowed(GPA)`), found 0']]);
    parseOk('gpte(1) + gpte(1, 2) + spte(1) + spte(1, 3) + gpa(1) + shadowed(1)');
  });
  it('extra names and functions add to the defaults', () => {
    expect(only('exit.reason == "page-fault"').hint).toBe('did you mean `exits`?');
    parseOk('exit.reason == "page-fault" && policy == "zap"', { names: new Set(['exit']) });
    parseOk('exit.outcome', { names: new Set([...DEFAULT_NAMES, 'exit']) });
    parseOk('frob(1, 2, 3) + gpa(1)', { functions: new Set(['frob']) });
    expect(only('frb(1)', { functions: new Set(['frob']) }).hint).toBe('did you mean `frob`?');
    expect(only('ezit', { names: new Set(['exit']) }).hint).toBe('did you mean `exit`?');
  });
  it('does not check members at parse time', () => {
    parseOk('exits.pff');
  });
});
