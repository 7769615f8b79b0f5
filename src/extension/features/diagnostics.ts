// Diagnostics and their quick fixes, straight from the parser.

import type { Diagnostic, Fix, Range } from '../../trace';
import type { TraceAnalysis } from './analysis';

export interface EditorDiagnostic {
  range: Range;
  severity: 'error' | 'warning';
  /** The parser's message, its hint after it. */
  message: string;
  /** The parser's fix, if any: the quick fix of this diagnostic. */
  fix?: Fix;
}

/** The diagnostic's range, never reversed. */
function fullRange(d: Diagnostic): Range {
  return { line: d.line, col: d.col, endLine: d.endLine, endCol: Math.max(d.endCol, d.col) };
}

export function diagnostics(a: TraceAnalysis): EditorDiagnostic[] {
  return a.result.diagnostics.map((d) => {
    const out: EditorDiagnostic = {
      range: fullRange(d),
      severity: d.severity,
      message: d.hint ? `${d.message} (${d.hint})` : d.message,
    };
    if (d.fix) out.fix = d.fix;
    return out;
  });
}

function overlaps(a: Range, b: Range): boolean {
  const before = (l1: number, c1: number, l2: number, c2: number): boolean => l1 < l2 || (l1 === l2 && c1 < c2);
  return !before(a.endLine, a.endCol, b.line, b.col) && !before(b.endLine, b.endCol, a.line, a.col);
}

export interface QuickFix {
  title: string;
  /** The diagnostic it fixes. */
  diagnostic: EditorDiagnostic;
  edit: { range: Range; newText: string };
  /** The only fix of an error: VS Code may apply it with the "auto fix" shortcut. */
  preferred: boolean;
}

/** The quick fixes for the diagnostics that touch `at`. */
export function quickFixes(diags: readonly EditorDiagnostic[], at: Range): QuickFix[] {
  const out: QuickFix[] = [];
  for (const d of diags) {
    if (!d.fix || !overlaps(d.range, at)) continue;
    out.push({ title: d.fix.title, diagnostic: d, edit: { range: d.fix.range, newText: d.fix.newText }, preferred: d.severity === 'error' });
  }
  return out;
}
