// CodeLens at the top of a trace, and what the editor's debug hover and
// inline values show during a session.

import type { Expr } from '../../expr';
import type { Range } from '../../trace';
import { contains, lineTokens, range, tokenAt, type Position, type TraceAnalysis } from './analysis';

export const COMMANDS = {
  debug: 'mmutrace.debugTrace',
  run: 'mmutrace.runTrace',
  compare: 'mmutrace.comparePolicies',
  openExample: 'mmutrace.openExample',
} as const;

export interface Lens {
  range: Range;
  title: string;
  tooltip: string;
  command: string;
}

/**
 * Three lenses at the top of the trace (line 1): Debug, Run and Compare
 * policies. A file with errors gets them too (the tooltip says so): the
 * commands then show the errors.
 */
export function codeLenses(a: TraceAnalysis): Lens[] {
  return lensesFor(a.result.diagnostics.filter((d) => d.severity === 'error').length);
}

/** The same lenses from the number of errors alone (the extension counts the language server's diagnostics). */
export function lensesFor(errors: number): Lens[] {
  const r = range(1, 1, 1);
  const note = errors ? ` (the file has ${errors} error${errors === 1 ? '' : 's'})` : '';
  return [
    { range: r, title: '$(debug-alt) Debug', tooltip: `Debug this trace, stopping before the first event${note}`, command: COMMANDS.debug },
    { range: r, title: '$(play) Run', tooltip: `Replay the whole trace and show the summary${note}`, command: COMMANDS.run },
    { range: r, title: '$(split-horizontal) Compare policies', tooltip: `Replay under every pte-write policy and compare the counters${note}`, command: COMMANDS.compare },
  ];
}

// ---------------------------------------------------------------------------
// Evaluatable expressions: what the debugger evaluates when the mouse rests
// on a word during a session.

export interface Evaluatable {
  range: Range;
  expression: string;
}

function exprAt(e: Expr, col: number): Expr | undefined {
  if (col < e.col || col >= e.endCol) return undefined;
  switch (e.kind) {
    case 'member':
      // `exits.pf` as a whole when on the member name; the object alone when on it.
      return col >= e.nameCol ? e : (exprAt(e.object, col) ?? e);
    case 'call':
      if (col < e.col + e.fn.length) return e;
      for (const a of e.args) {
        const r = exprAt(a, col);
        if (r) return r;
      }
      return e;
    case 'unary':
      return exprAt(e.operand, col);
    case 'binary':
      return exprAt(e.left, col) ?? exprAt(e.right, col);
    case 'name':
      return e;
    default:
      return undefined;
  }
}

/**
 * What the debugger evaluates for the word under the mouse. An address of a
 * VA goes as written: the adapter describes a number hovered in the trace
 * (its translation, its guest and shadow entries). A label goes as `@name`
 * (the adapter names its line). A guest-physical address asks whether its
 * page is shadowed (`shadowed(GPA)`), a CR3 target for the current CR3. In an
 * `expect` line, the name, member or call under the mouse.
 */
export function evaluatableAt(a: TraceAnalysis, p: Position): Evaluatable | undefined {
  for (const m of a.mentions) if (contains(m.range, p) && p.col < m.range.endCol && a.labels.has(m.name)) return { range: m.range, expression: `@${m.name}` };
  const stmt = a.stmtByLine[p.line];
  const line = a.lines[p.line - 1] ?? '';
  if (stmt?.label && contains(stmt.label.range, p) && p.col < stmt.label.range.endCol) return { range: stmt.label.range, expression: `@${stmt.label.name}` };
  if (stmt?.kind === 'expect') {
    if (!contains(stmt.exprRange, p)) return undefined;
    const e = exprAt(stmt.expr as Expr, p.col);
    if (!e) return undefined;
    return { range: range(p.line, e.col, e.endCol), expression: line.slice(e.col - 1, e.endCol - 1) };
  }
  const t = tokenAt(lineTokens(line), p.col);
  if (!t || t.kind !== 'num' || !stmt) return undefined;
  const r = range(p.line, t.start + 1, t.end + 1);
  const inR = (x: Range | undefined): boolean => x !== undefined && x.line === p.line && t.start + 1 >= x.col && t.end + 1 <= x.endCol;
  switch (stmt.kind) {
    case 'read':
    case 'write':
    case 'exec':
    case 'invlpg':
    case 'pte':
    case 'map':
      return inR(stmt.vaRange) ? { range: r, expression: t.text } : undefined;
    case 'store':
    case 'poke':
      return inR(stmt.gpaRange) ? { range: r, expression: `shadowed(${t.text})` } : undefined;
    case 'cr3':
      return { range: r, expression: 'cr3' };
    default:
      return undefined;
  }
}
