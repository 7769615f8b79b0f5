// The expression language of `expect`, breakpoint conditions, log points,
// watch, hover and the debug console (language.md, "Expressions").

export * from './api';
export {
  ExprError,
  MAX_NESTING,
  type Expr,
  type NumberExpr,
  type StringExpr,
  type BoolExpr,
  type ConstExpr,
  type NameExpr,
  type MemberExpr,
  type CallExpr,
  type UnaryExpr,
  type BinaryExpr,
  type UnaryOp,
  type BinaryOp,
} from './nodes';
export { parseExpr, parseNumberLiteral, type ParseExprOptions } from './parse';
export {
  evaluate,
  tryEvaluate,
  evaluateCondition,
  tryEvaluateCondition,
  truthy,
  formatValue,
  printExpr,
  describeComparison,
  type TryEvaluateResult,
} from './evaluate';
export {
  EXPR_NAMES,
  DEFAULT_NAMES,
  DEFAULT_FUNCTIONS,
  EXPR_CONSTANTS,
  findNameDoc,
  suggestName,
  editDistance,
  completeExpr,
} from './names';
