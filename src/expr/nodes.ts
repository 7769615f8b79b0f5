// The expression AST and the evaluation error.
//
// Columns: every node carries `col` (its first character) and `endCol` (just
// after its last character), 1-based, in the coordinates given to parseExpr
// by `opts.col` (so a node of an `expect` line can be underlined directly).
// Parentheses produce no node; a parenthesized expression's range is that of
// its inner expression.

export type UnaryOp = '!' | '~' | '-';
export type BinaryOp =
  | '||'
  | '&&'
  | '|'
  | '^'
  | '&'
  | '=='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | '<<'
  | '>>'
  | '+'
  | '-'
  | '*'
  | '/'
  | '%';

interface ExprBase {
  col: number;
  endCol: number;
}

/** An integer literal; `text` is the literal as written (`0x0040_0000`, `4m`). */
export interface NumberExpr extends ExprBase {
  kind: 'number';
  value: bigint;
  text: string;
}
export interface StringExpr extends ExprBase {
  kind: 'string';
  value: string;
}
/** `true` / `false`. */
export interface BoolExpr extends ExprBase {
  kind: 'bool';
  value: boolean;
}
/** A flag constant (`P`, `W`, ..., `NX`), resolved at parse time. */
export interface ConstExpr extends ExprBase {
  kind: 'const';
  name: string;
  value: bigint;
}
/** A name the environment resolves (`policy`, `exits`, ...). */
export interface NameExpr extends ExprBase {
  kind: 'name';
  name: string;
}
/** `object.name`; `nameCol` is the column of the member name. */
export interface MemberExpr extends ExprBase {
  kind: 'member';
  object: Expr;
  name: string;
  nameCol: number;
}
/** `fn(args...)`; only named functions can be called. */
export interface CallExpr extends ExprBase {
  kind: 'call';
  fn: string;
  args: Expr[];
}
export interface UnaryExpr extends ExprBase {
  kind: 'unary';
  op: UnaryOp;
  operand: Expr;
}
/** `opCol` is the column of the operator. */
export interface BinaryExpr extends ExprBase {
  kind: 'binary';
  op: BinaryOp;
  left: Expr;
  right: Expr;
  opCol: number;
}

export type Expr = NumberExpr | StringExpr | BoolExpr | ConstExpr | NameExpr | MemberExpr | CallExpr | UnaryExpr | BinaryExpr;

/**
 * An evaluation error. `col`/`endCol` locate the offending part of the expression in the same
 * coordinates as parseExpr's `opts.col`. An environment's `call` may throw one with col 0 (it does
 * not know where the call is): evaluate then fills in the call's range.
 */
export class ExprError extends Error {
  col: number;
  endCol: number;
  constructor(message: string, col = 0, endCol = 0) {
    super(message);
    this.name = 'ExprError';
    this.col = col;
    this.endCol = endCol;
  }
}

/** The deepest an expression may nest: parentheses, and the height of the tree (unary chains, operator chains). */
export const MAX_NESTING = 256;
