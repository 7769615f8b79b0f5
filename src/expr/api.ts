// The expression language's public types (language.md, "Expressions").
// Implemented in src/expr/index.ts; shared by expect, breakpoint conditions,
// log points, watch, hover and the debug console.

import type { Diagnostic } from '../trace/ast';

/** Integers are arbitrary-precision and signed (`-1` is a value); hex display shows a negative value as `-0x1`. */
export type Value = bigint | boolean | string | ValueRecord;
export interface ValueRecord {
  readonly [member: string]: Value;
}

/** What an evaluation can see. The engine, the CLI and the debugger each provide one. */
export interface ExprEnv {
  /** The value of a top-level name (`policy`, `exits`, `last`, ...), or undefined when the name is unknown here. */
  name(id: string): Value | undefined;
  /**
   * Calls a function (`gpte`, `spte`, `gpa`, `shadowed`, ...). Returns undefined when the function is
   * unknown; throws an ExprError (from src/expr) for a bad argument.
   */
  call(fn: string, args: Value[]): Value | undefined;
}

/** What completion and hover know about a name of the expression language. */
export type NameKind = 'name' | 'function' | 'constant' | 'member';

export interface NameDoc {
  /** The identifier as written (`exits`, `gpte`, `P`, `pf`). */
  readonly name: string;
  readonly kind: NameKind;
  /** How it is used: `exits`, `gpte(VA[, LEVEL])`, `P = 0x1`, `exits.pf`. */
  readonly signature: string;
  /** One sentence. */
  readonly doc: string;
  /** A record's members (`exits.pf`, `last.fault`), each of kind 'member'. */
  readonly members?: readonly NameDoc[];
  /** Functions: the fewest and the most arguments (checked at parse time for the built-in ones). */
  readonly minArgs?: number;
  readonly maxArgs?: number;
  /** Constants: the value. */
  readonly value?: Value;
}

/** What parseExpr returns: the tree, present exactly when there is no error diagnostic, and every diagnostic. */
export interface ParseExprResult {
  expr?: import('./nodes').Expr;
  diagnostics: Diagnostic[];
}
