// What the mmutrace language server adds to LSP, shared by the server and the
// VS Code extension (no imports: the extension's bundle takes only this).

/** What the debugger evaluates under the mouse (VS Code's EvaluatableExpressionProvider): params { textDocument, position }, result { range, expression } | null. */
export const EVALUATABLE_REQUEST = 'mmutrace/evaluatableExpression';
