// Evaluation of expressions, value formatting, and the description of a
// failed comparison.
//
// Semantics (language.md, "Expressions", and the project's choices):
// - Integers are bigint, arbitrary precision and signed. `+ - *` do not wrap.
//   `/` and `%` truncate toward zero as in C (the remainder has the sign of
//   the dividend); a zero divisor is an error at the divisor.
// - `<<` masks its result to 64 bits (`-1 << 4` is 0xffff_ffff_ffff_fff0;
//   a count of 64 or more gives 0). `>>` is logical for a non-negative left
//   side and arithmetic (sign-extending) for a negative one (`-8 >> 1` is -4).
//   A negative shift count is an error.
// - `~x` is the 64-bit complement for x >= 0 (`(~x) & 0xffff_ffff_ffff_ffff`,
//   so `~W` is 0xffff_ffff_ffff_fffd) and `-x - 1` for x < 0 (`~-1` is 0).
// - `& | ^` are two's-complement on arbitrary precision (`-1 & 0xff` is 0xff).
// - Booleans mix with integers as in C: true is 1 and false 0 in arithmetic
//   and comparisons. Comparisons, `!`, `&&` and `||` yield booleans; `&&` and
//   `||` evaluate their right side only when needed.
// - Strings compare only with strings, only with `==` and `!=`; anything else
//   involving a string is an error. A record (`exits`) is an error anywhere
//   but as the object of a member access (`exits.pf`): it is neither a
//   condition nor a number.
// - A condition is true when it is a nonzero integer, `true`, or a non-empty
//   string (truthy).

import { PREC } from './parse';
import type { ExprEnv, Value, ValueRecord } from './api';
import { ExprError, type BinaryExpr, type Expr } from './nodes';

const MASK64 = (1n << 64n) - 1n;
const hasOwn = Object.prototype.hasOwnProperty;

function typeName(v: Value): string {
  switch (typeof v) {
    case 'bigint':
      return 'an integer';
    case 'boolean':
      return 'a boolean';
    case 'string':
      return 'a string';
    default:
      return 'a record';
  }
}

/** How a node is named in a message: `exits`, `last.fault`, `gpte(…)`, else the printed expression. */
function nodeName(e: Expr): string {
  switch (e.kind) {
    case 'name':
    case 'const':
      return e.name;
    case 'member':
      return `${nodeName(e.object)}.${e.name}`;
    case 'call':
      return `${e.fn}(…)`;
    default: {
      const s = printExpr(e);
      return s.length > 40 ? s.slice(0, 40) + '…' : s;
    }
  }
}

function memberList(r: ValueRecord): string {
  const keys = Object.keys(r);
  return keys.length === 0 ? 'none' : keys.join(', ');
}

function notACondition(v: Value, e: Expr): ExprError {
  const r = v as ValueRecord;
  const first = Object.keys(r)[0];
  const hint = first === undefined ? '' : `; use a member such as \`${nodeName(e)}.${first}\``;
  return new ExprError(`\`${nodeName(e)}\` is a record, not a condition${hint}`, e.col, e.endCol);
}

/**
 * Whether a value counts as true: a nonzero integer, `true`, a non-empty string. A record is not a
 * condition: it throws an ExprError with col and endCol 0 (it has no position here; use
 * evaluateCondition to get the expression's range).
 */
export function truthy(v: Value): boolean {
  switch (typeof v) {
    case 'bigint':
      return v !== 0n;
    case 'boolean':
      return v;
    case 'string':
      return v.length !== 0;
    default: {
      const first = Object.keys(v)[0];
      throw new ExprError(`a record is not a condition${first === undefined ? '' : `; use a member such as \`.${first}\``}`);
    }
  }
}

function cond(v: Value, e: Expr): boolean {
  switch (typeof v) {
    case 'bigint':
      return v !== 0n;
    case 'boolean':
      return v;
    case 'string':
      return v.length !== 0;
    default:
      throw notACondition(v, e);
  }
}

function int(v: Value, e: Expr, op: string): bigint {
  switch (typeof v) {
    case 'bigint':
      return v;
    case 'boolean':
      return v ? 1n : 0n;
    default:
      throw new ExprError(`\`${op}\` needs integers, but \`${nodeName(e)}\` is ${typeName(v)}`, e.col, e.endCol);
  }
}

function ev(e: Expr, env: ExprEnv): Value {
  switch (e.kind) {
    case 'number':
    case 'string':
    case 'bool':
    case 'const':
      return e.value;
    case 'name': {
      let v: Value | undefined;
      try {
        v = env.name(e.name);
      } catch (err) {
        throw located(err, e);
      }
      if (v === undefined) throw new ExprError(`unknown name \`${e.name}\``, e.col, e.endCol);
      return v;
    }
    case 'member': {
      const o = ev(e.object, env);
      if (typeof o !== 'object') {
        throw new ExprError(`\`${nodeName(e.object)}\` is ${typeName(o)} and has no members`, e.nameCol, e.endCol);
      }
      if (!hasOwn.call(o, e.name)) {
        throw new ExprError(`\`${nodeName(e.object)}\` has no member \`${e.name}\`; members: ${memberList(o)}`, e.nameCol, e.endCol);
      }
      return o[e.name]!;
    }
    case 'call': {
      const args = new Array<Value>(e.args.length);
      for (let i = 0; i < args.length; i++) args[i] = ev(e.args[i]!, env);
      let v: Value | undefined;
      try {
        v = env.call(e.fn, args);
      } catch (err) {
        throw located(err, e);
      }
      if (v === undefined) throw new ExprError(`unknown function \`${e.fn}\``, e.col, e.endCol);
      return v;
    }
    case 'unary': {
      const v = ev(e.operand, env);
      switch (e.op) {
        case '!':
          return !cond(v, e.operand);
        case '-':
          return -int(v, e.operand, '-');
        case '~': {
          const x = int(v, e.operand, '~');
          return x >= 0n ? ~x & MASK64 : -x - 1n;
        }
      }
      break;
    }
    case 'binary':
      return binary(e, env);
  }
  throw new ExprError('malformed expression', (e as Expr).col, (e as Expr).endCol);
}

function located(err: unknown, e: Expr): ExprError {
  if (err instanceof ExprError) {
    if (err.col === 0) {
      err.col = e.col;
      err.endCol = e.endCol;
    }
    return err;
  }
  return new ExprError(err instanceof Error ? err.message : String(err), e.col, e.endCol);
}

function binary(e: BinaryExpr, env: ExprEnv): Value {
  const op = e.op;
  if (op === '&&') return cond(ev(e.left, env), e.left) && cond(ev(e.right, env), e.right);
  if (op === '||') return cond(ev(e.left, env), e.left) || cond(ev(e.right, env), e.right);
  const a = ev(e.left, env);
  const b = ev(e.right, env);
  if (op === '==' || op === '!=') {
    const eq = equal(a, b, e);
    return op === '==' ? eq : !eq;
  }
  const x = int(a, e.left, op);
  const y = int(b, e.right, op);
  switch (op) {
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    case '>=':
      return x >= y;
    case '|':
      return x | y;
    case '^':
      return x ^ y;
    case '&':
      return x & y;
    case '+':
      return x + y;
    case '-':
      return x - y;
    case '*':
      return x * y;
    case '/':
      if (y === 0n) throw new ExprError('division by zero', e.right.col, e.right.endCol);
      return x / y;
    case '%':
      if (y === 0n) throw new ExprError('modulo by zero', e.right.col, e.right.endCol);
      return x % y;
    case '<<':
      if (y < 0n) throw new ExprError('negative shift count', e.right.col, e.right.endCol);
      return y >= 64n ? 0n : (x << y) & MASK64;
    case '>>':
      if (y < 0n) throw new ExprError('negative shift count', e.right.col, e.right.endCol);
      // Past the value's width the result is 0 or -1; avoid a huge shift.
      return y >= 1_000_000n ? (x < 0n ? -1n : 0n) : x >> y;
  }
  throw new ExprError(`unknown operator \`${op as string}\``, e.opCol, e.opCol + (op as string).length);
}

function equal(a: Value, b: Value, e: BinaryExpr): boolean {
  const ta = typeof a;
  const tb = typeof b;
  if (ta === 'object' || tb === 'object') {
    const side = ta === 'object' ? e.left : e.right;
    throw new ExprError(`\`${nodeName(side)}\` is a record and cannot be compared; compare a member`, side.col, side.endCol);
  }
  if (ta === 'string' || tb === 'string') {
    if (ta === tb) return a === b;
    throw new ExprError(
      `\`${e.op}\` cannot compare ${typeName(a)} with ${typeName(b)}: a string compares only with a string`,
      e.col,
      e.endCol,
    );
  }
  return (ta === 'bigint' ? (a as bigint) : a ? 1n : 0n) === (tb === 'bigint' ? (b as bigint) : b ? 1n : 0n);
}

/** Evaluates an expression. Throws only ExprError, with the range of the part at fault. */
export function evaluate(expr: Expr, env: ExprEnv): Value {
  try {
    return ev(expr, env);
  } catch (err) {
    if (err instanceof ExprError) throw err;
    // A RangeError from a gigantic bigint, or a bug in an environment.
    throw new ExprError(err instanceof Error ? err.message : String(err), expr.col, expr.endCol);
  }
}

export type TryEvaluateResult = { ok: true; value: Value } | { ok: false; message: string; col: number; endCol: number };

/** evaluate, with the error as a value. */
export function tryEvaluate(expr: Expr, env: ExprEnv): TryEvaluateResult {
  try {
    return { ok: true, value: evaluate(expr, env) };
  } catch (err) {
    const x = err as ExprError;
    return { ok: false, message: x.message, col: x.col || expr.col, endCol: x.endCol || expr.endCol };
  }
}

/** Evaluates a condition (`expect`, a breakpoint condition): its truthiness; a record is an ExprError at the expression. */
export function evaluateCondition(expr: Expr, env: ExprEnv): boolean {
  const v = evaluate(expr, env);
  if (typeof v === 'object') throw notACondition(v, expr);
  return truthy(v);
}

/** evaluateCondition, with the error as a value. */
export function tryEvaluateCondition(expr: Expr, env: ExprEnv): { ok: true; value: boolean } | { ok: false; message: string; col: number; endCol: number } {
  try {
    return { ok: true, value: evaluateCondition(expr, env) };
  } catch (err) {
    const x = err as ExprError;
    return { ok: false, message: x.message, col: x.col || expr.col, endCol: x.endCol || expr.endCol };
  }
}

// ---------------------------------------------------------------------------
// Display

function quoteString(s: string): string {
  return '"' + s.replace(/[\\"]/g, (c) => '\\' + c) + '"';
}

/**
 * A value as text: integers in decimal, or with `hex` as `0x1f` (a negative one as `-0x1`, no
 * masking); booleans `true`/`false`; strings in double quotes with `\"` and `\\` escaped; records
 * as `{ total: 3, pf: 2 }` (their integers formatted the same way; `{}` when empty).
 */
export function formatValue(v: Value, opts?: { hex?: boolean }): string {
  switch (typeof v) {
    case 'bigint':
      if (!opts?.hex) return v.toString();
      return v < 0n ? '-0x' + (-v).toString(16) : '0x' + v.toString(16);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'string':
      return quoteString(v);
    default: {
      const keys = Object.keys(v);
      if (keys.length === 0) return '{}';
      return '{ ' + keys.map((k) => `${k}: ${formatValue(v[k]!, opts)}`).join(', ') + ' }';
    }
  }
}


/**
 * The expression as canonical source text: numbers as written, single spaces around binary
 * operators, and only the parentheses that precedence needs.
 */
export function printExpr(e: Expr): string {
  switch (e.kind) {
    case 'number':
      return e.text;
    case 'string':
      return quoteString(e.value);
    case 'bool':
      return e.value ? 'true' : 'false';
    case 'const':
    case 'name':
      return e.name;
    case 'member':
      return `${printOperand(e.object, 12)}.${e.name}`;
    case 'call':
      return `${e.fn}(${e.args.map(printExpr).join(', ')})`;
    case 'unary':
      return e.op + printOperand(e.operand, 11);
    case 'binary': {
      const p = PREC[e.op]!;
      // Left-associative: the right operand needs parentheses at equal precedence.
      return `${printOperand(e.left, p)} ${e.op} ${printOperand(e.right, p + 1)}`;
    }
  }
}

function precOf(e: Expr): number {
  if (e.kind === 'binary') return PREC[e.op]!;
  if (e.kind === 'unary') return 11;
  return 12;
}

function printOperand(e: Expr, min: number): string {
  const s = printExpr(e);
  return precOf(e) < min ? `(${s})` : s;
}

const COMPARISONS = new Set(['==', '!=', '<', '<=', '>', '>=']);

function isLiteral(e: Expr): boolean {
  if (e.kind === 'number' || e.kind === 'string' || e.kind === 'bool') return true;
  return e.kind === 'unary' && e.op === '-' && e.operand.kind === 'number';
}

function describeSide(e: Expr, env: ExprEnv): string {
  const r = tryEvaluate(e, env);
  const value = r.ok ? formatValue(r.value, { hex: true }) : `<error: ${r.message}>`;
  return isLiteral(e) ? value : `${value} (${printExpr(e)})`;
}

/**
 * For a failed `expect a == b` (any comparison at the top): both sides' values, integers in hex,
 * each followed by its source text unless it is a literal: `left 0x0 (last.exits), right 0x1`.
 * Undefined when the top node is not a comparison. Never throws (a side that fails shows
 * `<error: ...>`).
 */
export function describeComparison(expr: Expr, env: ExprEnv): string | undefined {
  if (expr.kind !== 'binary' || !COMPARISONS.has(expr.op)) return undefined;
  return `left ${describeSide(expr.left, env)}, right ${describeSide(expr.right, env)}`;
}
