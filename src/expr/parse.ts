// Lexer and parser of the expression language (language.md, "Expressions").
//
// parseExpr never throws: every problem is a Diagnostic. It runs in time
// linear in the text: the text is tokenized once, the parser stops at the
// first syntax error, nesting is bounded (MAX_NESTING) so recursion is too,
// and the number of diagnostics is capped.
//
// What is reported: every lexical error (bad characters, malformed numbers,
// unclosed strings), every unknown name or function and wrong argument count
// met before the first syntax error, and that syntax error. A token that
// already has a lexical error never causes a second, syntactic one.

import type { Diagnostic, Fix } from '../trace/ast';
import type { ParseExprResult } from './api';
import { DEFAULT_FUNCTIONS, DEFAULT_NAMES, EXPR_CONSTANTS, findNameDoc, suggestName } from './names';
import { MAX_NESTING, type BinaryOp, type Expr, type UnaryOp } from './nodes';

export interface ParseExprOptions {
  /** 1-based line of the text, for diagnostics (default 1). */
  line?: number;
  /** 1-based column of text[0] (default 1): every column of the result is in these coordinates. */
  col?: number;
  /**
   * Names the environment resolves, in addition to DEFAULT_NAMES (which are always known): the
   * debugger adds `exit`. Passing a set that already holds the defaults is the same.
   */
  names?: ReadonlySet<string>;
  /** Functions the environment provides, in addition to DEFAULT_FUNCTIONS. */
  functions?: ReadonlySet<string>;
}


/** At most this many diagnostics for one expression. */
const MAX_DIAGNOSTICS = 50;

// ---------------------------------------------------------------------------
// Tokens

const NUM = 0;
const STR = 1;
const IDENT = 2;
const OP = 3;
const BAD = 4;
const EOF = 5;

interface Token {
  t: number;
  /** Start and end (exclusive) index in the text. */
  s: number;
  e: number;
  /** OP: the operator; IDENT: the name; NUM: the literal as written. */
  text: string;
  num?: bigint;
  str?: string;
}

const TWO_CHAR_OPS = new Set(['||', '&&', '==', '!=', '<=', '>=', '<<', '>>']);
const ONE_CHAR_OPS = new Set(['|', '&', '^', '<', '>', '+', '-', '*', '/', '%', '!', '~', '(', ')', ',', '.', '=']);

/** Binary operator precedence, C's: higher binds tighter. */
export const PREC: Readonly<Record<string, number>> = {
  '||': 1,
  '&&': 2,
  '|': 3,
  '^': 4,
  '&': 5,
  '==': 6,
  '!=': 6,
  '<': 7,
  '<=': 7,
  '>': 7,
  '>=': 7,
  '<<': 8,
  '>>': 8,
  '+': 9,
  '-': 9,
  '*': 10,
  '/': 10,
  '%': 10,
};

const MAX_U64 = (1n << 64n) - 1n;

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isIdentStart = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isIdentChar = (c: number): boolean => isIdentStart(c) || isDigit(c);
const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12;
const startsToken = (text: string, i: number): boolean => {
  const c = text.charCodeAt(i);
  return isSpace(c) || isIdentChar(c) || c === 34 || ONE_CHAR_OPS.has(text[i]!);
};

/** Text for a message: at most 24 characters, control characters escaped. */
export function quoteText(s: string): string {
  const clipped = s.length > 24 ? s.slice(0, 24) + '…' : s;
  return clipped.replace(/[\u0000-\u001f\u007f]/g, (ch) => '\\x' + ch.charCodeAt(0).toString(16).padStart(2, '0'));
}

/**
 * The value of a number literal as written (`0x0040_0000`, `0b101`, `4m`), or an error message.
 * Hex `0x`, binary `0b`, or decimal digits; `_` may stand anywhere after the first digit; an
 * optional suffix `k`, `m`, `g` (either case) multiplies by 2^10, 2^20, 2^30; the result must fit
 * in 64 bits unsigned.
 */
export function parseNumberLiteral(raw: string): { value: bigint } | { error: string } {
  let radix = 10;
  let body = raw;
  let kind = 'decimal';
  if (raw.length >= 2 && raw[0] === '0' && (raw[1] === 'x' || raw[1] === 'X')) {
    radix = 16;
    body = raw.slice(2);
    kind = 'hex';
  } else if (raw.length >= 2 && raw[0] === '0' && (raw[1] === 'b' || raw[1] === 'B')) {
    radix = 2;
    body = raw.slice(2);
    kind = 'binary';
  }
  let shift = 0n;
  const last = body[body.length - 1];
  if (body.length > 1 && last !== undefined && 'kKmMgG'.includes(last)) {
    shift = last === 'k' || last === 'K' ? 10n : last === 'm' || last === 'M' ? 20n : 30n;
    body = body.slice(0, -1);
  }
  let digits = '';
  let sawDigit = false;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === '_') continue;
    const d = parseInt(ch, 16);
    if (Number.isNaN(d) || d >= radix) {
      return { error: `invalid number \`${quoteText(raw)}\`: \`${quoteText(ch)}\` is not a ${kind} digit` };
    }
    sawDigit = true;
    if (digits === '' && d === 0) continue; // leading zeros
    if (digits.length >= 64) return { error: `number \`${quoteText(raw)}\` does not fit in 64 bits` };
    digits += ch;
  }
  if (digits === '' && sawDigit) digits = '0';
  if (!sawDigit) {
    return { error: radix === 10 ? `invalid number \`${quoteText(raw)}\`` : `expected ${kind} digits after \`${raw.slice(0, 2)}\`` };
  }
  const prefix = radix === 16 ? '0x' : radix === 2 ? '0b' : '';
  const value = BigInt(prefix + digits) << shift;
  if (value > MAX_U64) return { error: `number \`${quoteText(raw)}\` does not fit in 64 bits` };
  return { value };
}

// ---------------------------------------------------------------------------
// The parser

/** Thrown inside the parser to stop at the first syntax error. */
const BAIL = { bail: true };

class Parser {
  readonly diagnostics: Diagnostic[] = [];
  hasErrors = false;
  private toks: Token[] = [];
  private i = 0;
  /** Parentheses currently open (a call's included). */
  private nest = 0;
  /** The height of the node the last parse function returned (a leaf is 0). */
  private h = 0;

  constructor(
    private readonly text: string,
    private readonly line: number,
    private readonly base: number,
    private readonly names: ReadonlySet<string> | undefined,
    private readonly functions: ReadonlySet<string> | undefined,
  ) {}

  // -- diagnostics --

  error(message: string, s: number, e: number, hint?: string, replacement?: string): void {
    this.hasErrors = true;
    if (this.diagnostics.length >= MAX_DIAGNOSTICS) return;
    const range = { line: this.line, col: this.base + s, endLine: this.line, endCol: this.base + e };
    const d: Diagnostic = { ...range, severity: 'error', message };
    if (hint !== undefined) d.hint = hint;
    if (replacement !== undefined) {
      const fix: Fix = { title: `Change to \`${replacement}\``, range, newText: replacement };
      d.fix = fix;
    }
    this.diagnostics.push(d);
  }

  // -- lexer (lazy: the parser pulls tokens; after the parse, lexRest reports the rest's lexical errors) --

  private pos = 0;

  private full(): boolean {
    return this.diagnostics.length >= MAX_DIAGNOSTICS;
  }

  /** The token at index k, lexing up to it. */
  private tok(k: number): Token {
    while (this.toks.length <= k) this.toks.push(this.lexOne());
    return this.toks[k]!;
  }

  /** Scans what the parser did not reach, for lexical errors only. */
  lexRest(): void {
    while (this.pos < this.text.length && !this.full()) this.lexOne();
  }

  private lexOne(): Token {
    const text = this.text;
    const n = text.length;
    let i = this.pos;
    while (i < n && isSpace(text.charCodeAt(i))) i++;
    const s = i;
    let tok: Token;
    if (i >= n) {
      tok = { t: EOF, s: n, e: n, text: '' };
    } else {
      const c = text.charCodeAt(i);
      if (isDigit(c)) {
        while (i < n && isIdentChar(text.charCodeAt(i))) i++;
        const raw = text.slice(s, i);
        const r = parseNumberLiteral(raw);
        if ('error' in r) {
          this.error(r.error, s, i);
          tok = { t: BAD, s, e: i, text: raw };
        } else {
          tok = { t: NUM, s, e: i, text: raw, num: r.value };
        }
      } else if (isIdentStart(c)) {
        while (i < n && isIdentChar(text.charCodeAt(i))) i++;
        tok = { t: IDENT, s, e: i, text: text.slice(s, i) };
      } else if (c === 34 /* " */) {
        tok = this.lexString(s);
        i = tok.e;
      } else {
        const two = i + 1 < n ? text.slice(i, i + 2) : '';
        if (TWO_CHAR_OPS.has(two)) {
          i += 2;
          tok = { t: OP, s, e: i, text: two };
        } else if (ONE_CHAR_OPS.has(text[i]!)) {
          i++;
          tok = { t: OP, s, e: i, text: text[s]! };
        } else {
          i++;
          while (i < n && !startsToken(text, i)) i++;
          const bad = text.slice(s, i);
          if (this.full()) this.hasErrors = true;
          else this.error(`unexpected ${i - s > 1 ? 'characters' : 'character'} \`${quoteText(bad)}\``, s, i);
          tok = { t: BAD, s, e: i, text: bad };
        }
      }
    }
    this.pos = i;
    return tok;
  }

  /** A string from the `"` at s. */
  private lexString(s: number): Token {
    const text = this.text;
    const n = text.length;
    let i = s + 1;
    let chunkStart = i;
    const parts: string[] = [];
    let ok = true;
    for (;;) {
      if (i >= n) {
        parts.push(text.slice(chunkStart, i));
        this.error('unclosed string: expected a closing `"`', s, n);
        ok = false;
        break;
      }
      const c = text.charCodeAt(i);
      if (c === 34) {
        parts.push(text.slice(chunkStart, i));
        i++;
        break;
      }
      if (c === 92 /* \ */) {
        const next = text[i + 1];
        if (next === '"' || next === '\\') {
          parts.push(text.slice(chunkStart, i), next);
          i += 2;
          chunkStart = i;
          continue;
        }
        const shown = next === undefined ? '\\' : '\\' + next;
        if (this.full()) this.hasErrors = true;
        else this.error(`unknown escape \`${quoteText(shown)}\` in a string: only \`\\"\` and \`\\\\\` are allowed`, i, Math.min(i + 2, n));
        ok = false;
        i += next === undefined ? 1 : 2;
        continue;
      }
      i++;
    }
    return ok ? { t: STR, s, e: i, text: '', str: parts.join('') } : { t: BAD, s, e: i, text: text.slice(s, i) };
  }

  // -- helpers --

  private col(s: number): number {
    return this.base + s;
  }

  private show(t: Token): string {
    return t.t === EOF ? 'the end of the expression' : `\`${quoteText(this.text.slice(t.s, t.e))}\``;
  }

  private isOp(t: Token, op: string): boolean {
    return t.t === OP && t.text === op;
  }

  private startsOperand(t: Token): boolean {
    if (t.t === NUM || t.t === STR || t.t === IDENT || t.t === BAD) return true;
    return t.t === OP && (t.text === '(' || t.text === '!' || t.text === '~' || t.text === '-');
  }

  /** Stops with `message` unless the next token can start an operand. */
  private needOperand(message: string, after: Token): void {
    const t = this.tok(this.i);
    if (this.startsOperand(t)) return;
    if (t.t === EOF) this.error(message, after.s, after.e);
    else this.error(`${message}, found ${this.show(t)}`, t.s, t.e);
    throw BAIL;
  }

  private tooDeep(s: number, e: number): never {
    this.error(`expression nests more than ${MAX_NESTING} levels deep`, s, e);
    throw BAIL;
  }

  /**
   * The tree of binary operators is taller than MAX_NESTING: a flat chain
   * (`1 + 1 + …`, `a || b || …`) does not nest, so the message says what it is;
   * the cap stays, as the evaluator and printer recurse along it.
   */
  private tooTall(s: number, e: number): never {
    this.error(`expression chains more than ${MAX_NESTING} binary operators one after another: split it or use fewer terms`, s, e);
    throw BAIL;
  }

  /** Stops at a token where an operator, or `closer`, or the end was expected. */
  private unexpected(t: Token, closer: string | undefined): never {
    if (t.t === BAD) throw BAIL; // already reported by the lexer
    if (this.isOp(t, '=')) {
      this.error('unexpected `=`', t.s, t.e, 'did you mean `==`?', '==');
    } else if (this.isOp(t, ')') && closer === undefined) {
      this.error('unexpected `)`: there is no `(` to close', t.s, t.e);
    } else {
      const expected = closer === undefined ? 'an operator or the end of the expression' : `an operator or ${closer}`;
      this.error(`expected ${expected}, found ${this.show(t)}`, t.s, t.e);
    }
    throw BAIL;
  }

  // -- grammar --

  parse(): Expr | undefined {
    try {
      const first = this.tok(0);
      if (first.t === EOF) {
        this.error('expected an expression', 0, 0);
        return undefined;
      }
      this.needOperand('expected an expression', first);
      const e = this.parseBinary(1);
      const t = this.tok(this.i);
      if (t.t !== EOF) this.unexpected(t, undefined);
      return this.hasErrors ? undefined : e;
    } catch (err) {
      if (err !== BAIL) {
        // A RangeError (stack) would be a bug given the nesting bound; report, never throw.
        this.error(`cannot parse the expression: ${err instanceof Error ? err.message : String(err)}`, 0, this.text.length);
      }
      return undefined;
    } finally {
      this.lexRest();
    }
  }

  private parseBinary(minPrec: number): Expr {
    let left = this.parseUnary();
    let lh = this.h;
    for (;;) {
      const t = this.tok(this.i);
      if (t.t !== OP) break;
      const prec = PREC[t.text];
      if (prec === undefined || prec < minPrec) break;
      this.i++;
      this.needOperand(`expected an operand after \`${t.text}\``, t);
      const right = this.parseBinary(prec + 1);
      const rh = this.h;
      left = { kind: 'binary', op: t.text as BinaryOp, left, right, col: left.col, endCol: right.endCol, opCol: this.col(t.s) };
      lh = Math.max(lh, rh) + 1;
      if (lh > MAX_NESTING) this.tooTall(t.s, t.e);
    }
    this.h = lh;
    return left;
  }

  private parseUnary(): Expr {
    const start = this.i;
    while (true) {
      const t = this.tok(this.i);
      if (!(t.t === OP && (t.text === '!' || t.text === '~' || t.text === '-'))) break;
      if (this.i - start >= MAX_NESTING) this.tooDeep(t.s, t.e);
      this.i++;
      this.needOperand(`expected an operand after \`${t.text}\``, t);
    }
    const end = this.i;
    let e = this.parsePostfix();
    let h = this.h;
    for (let k = end - 1; k >= start; k--) {
      const t = this.toks[k]!;
      e = { kind: 'unary', op: t.text as UnaryOp, operand: e, col: this.col(t.s), endCol: e.endCol };
      if (++h > MAX_NESTING) this.tooDeep(t.s, t.e);
    }
    this.h = h;
    return e;
  }

  private parsePostfix(): Expr {
    let e = this.parsePrimary();
    let h = this.h;
    while (this.isOp(this.tok(this.i), '.')) {
      const dot = this.tok(this.i++);
      const m = this.tok(this.i);
      if (m.t !== IDENT) {
        if (m.t === BAD) throw BAIL;
        if (m.t === EOF) this.error('expected a member name after `.`', dot.s, dot.e);
        else this.error(`expected a member name after \`.\`, found ${this.show(m)}`, m.s, m.e);
        throw BAIL;
      }
      this.i++;
      e = { kind: 'member', object: e, name: m.text, nameCol: this.col(m.s), col: e.col, endCol: this.col(m.e) };
      if (++h > MAX_NESTING) this.tooDeep(m.s, m.e);
    }
    this.h = h;
    return e;
  }

  private parsePrimary(): Expr {
    const t = this.tok(this.i++);
    this.h = 0;
    const col = this.col(t.s);
    const endCol = this.col(t.e);
    switch (t.t) {
      case NUM:
        return { kind: 'number', value: t.num!, text: t.text, col, endCol };
      case STR:
        return { kind: 'string', value: t.str!, col, endCol };
      case BAD:
        // Already reported; stands in for an operand so that the rest is still checked.
        return { kind: 'number', value: 0n, text: t.text, col, endCol };
      case IDENT:
        return this.parseIdentifier(t);
      case OP:
        if (t.text === '(') {
          if (++this.nest > MAX_NESTING) this.tooDeep(t.s, t.e);
          this.needOperand('expected an expression after `(`', t);
          const e = this.parseBinary(1);
          const close = this.tok(this.i);
          if (close.t === EOF) {
            this.error('unclosed `(`', t.s, t.e, 'add a `)`');
            throw BAIL;
          }
          if (!this.isOp(close, ')')) this.unexpected(close, '`)`');
          this.i++;
          this.nest--;
          return e; // a parenthesized expression keeps its own range
        }
        break;
    }
    // needOperand has been checked before every call, so this is unreachable; be safe anyway.
    this.error(`expected an operand, found ${this.show(t)}`, t.s, t.e);
    throw BAIL;
  }

  private knownName(n: string): boolean {
    return DEFAULT_NAMES.has(n) || (this.names?.has(n) ?? false);
  }

  private knownFunction(n: string): boolean {
    return DEFAULT_FUNCTIONS.has(n) || (this.functions?.has(n) ?? false);
  }

  private *functionCandidates(): Iterable<string> {
    yield* DEFAULT_FUNCTIONS;
    if (this.functions) yield* this.functions;
  }

  private *allCandidates(): Iterable<string> {
    yield* DEFAULT_NAMES;
    if (this.names) yield* this.names;
    yield* EXPR_CONSTANTS.keys();
    yield 'true';
    yield 'false';
    yield* this.functionCandidates();
  }

  private unknown(what: string, t: Token, candidates: Iterable<string>): void {
    const s = suggestName(t.text, candidates);
    if (s === undefined) this.error(`unknown ${what} \`${quoteText(t.text)}\``, t.s, t.e);
    else this.error(`unknown ${what} \`${quoteText(t.text)}\``, t.s, t.e, `did you mean \`${s}\`?`, s);
  }

  private parseIdentifier(t: Token): Expr {
    const name = t.text;
    const col = this.col(t.s);
    const endCol = this.col(t.e);
    const open = this.tok(this.i);
    if (this.isOp(open, '(')) return this.parseCall(t, open);
    if (name === 'true' || name === 'false') return { kind: 'bool', value: name === 'true', col, endCol };
    const c = EXPR_CONSTANTS.get(name);
    if (c !== undefined) return { kind: 'const', name, value: c, col, endCol };
    if (!this.knownName(name)) {
      if (this.knownFunction(name)) {
        const sig = findNameDoc(name)?.signature ?? `${name}(...)`;
        this.error(`\`${name}\` is a function: call it as \`${sig}\``, t.s, t.e);
      } else {
        this.unknown('name', t, this.allCandidates());
      }
    }
    return { kind: 'name', name, col, endCol };
  }

  private parseCall(t: Token, open: Token): Expr {
    const name = t.text;
    if (EXPR_CONSTANTS.has(name) || name === 'true' || name === 'false') {
      this.error(`\`${name}\` is a constant, not a function`, t.s, t.e);
    } else if (!this.knownFunction(name)) {
      if (this.knownName(name)) this.error(`\`${name}\` is not a function`, t.s, t.e);
      else this.unknown('function', t, this.functionCandidates());
    }
    this.i++; // (
    if (++this.nest > MAX_NESTING) this.tooDeep(open.s, open.e);
    const args: Expr[] = [];
    let h = 0;
    if (this.isOp(this.tok(this.i), ')')) {
      this.i++;
    } else {
      this.needOperand(`expected an argument after \`${name}(\``, open);
      for (;;) {
        args.push(this.parseBinary(1));
        h = Math.max(h, this.h);
        const sep = this.tok(this.i);
        if (this.isOp(sep, ',')) {
          this.i++;
          this.needOperand('expected an argument after `,`', sep);
          continue;
        }
        if (this.isOp(sep, ')')) {
          this.i++;
          break;
        }
        if (sep.t === EOF) {
          this.error(`unclosed \`(\` of the call to \`${quoteText(name)}\``, open.s, open.e, 'add a `)`');
          throw BAIL;
        }
        if (sep.t === BAD) throw BAIL;
        if (this.isOp(sep, '=')) this.unexpected(sep, undefined);
        this.error(`expected \`,\` or \`)\` in the call to \`${quoteText(name)}\`, found ${this.show(sep)}`, sep.s, sep.e);
        throw BAIL;
      }
    }
    this.nest--;
    const close = this.toks[this.i - 1]!;
    if (DEFAULT_FUNCTIONS.has(name)) {
      const doc = findNameDoc(name);
      const min = doc?.minArgs ?? 0;
      const max = doc?.maxArgs ?? Infinity;
      if (args.length < min || args.length > max) {
        const want = min === max ? `${min} argument${min === 1 ? '' : 's'}` : `${min} or ${max} arguments`;
        this.error(`\`${name}\` takes ${want} (\`${doc?.signature ?? name}\`), found ${args.length}`, t.s, close.e);
      }
    }
    if (h + 1 > MAX_NESTING) this.tooDeep(t.s, t.e);
    this.h = h + 1;
    return { kind: 'call', fn: name, args, col: this.col(t.s), endCol: this.col(close.e) };
  }
}

/**
 * Parses an expression. Never throws. `expr` is present exactly when there is no error; columns
 * of the tree and of the diagnostics start at `opts.col` for text[0].
 */
export function parseExpr(text: string, opts: ParseExprOptions = {}): ParseExprResult {
  const p = new Parser(String(text), opts.line ?? 1, opts.col ?? 1, opts.names, opts.functions);
  const expr = p.parse();
  const diagnostics = p.diagnostics.sort((a, b) => a.col - b.col);
  return expr === undefined ? { diagnostics } : { expr, diagnostics };
}
