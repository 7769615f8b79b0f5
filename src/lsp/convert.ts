// Conversions between the pure features (src/extension/features: lines and
// columns from 1, end columns exclusive) and the Language Server Protocol
// (lines and characters from 0). Columns are UTF-16 code units on both sides
// (the parser indexes the JavaScript string), as LSP's default encoding.

import {
  CompletionItemKind,
  DiagnosticSeverity,
  FoldingRangeKind,
  SymbolKind,
  type CompletionItem,
  type Diagnostic,
  type DocumentSymbol,
  type FoldingRange,
  type Position,
  type Range,
} from 'vscode-languageserver';
import type { Range as TraceRange } from '../trace';
import type { Position as TracePosition } from '../extension/features/analysis';
import type { CompletionItem as TraceCompletion, CompletionKind } from '../extension/features/completion';
import type { EditorDiagnostic } from '../extension/features/diagnostics';
import type { Fold, SymbolKind as TraceSymbolKind, TraceSymbol } from '../extension/features/symbols';

export function toRange(r: TraceRange): Range {
  return {
    start: { line: r.line - 1, character: Math.max(0, r.col - 1) },
    end: { line: r.endLine - 1, character: Math.max(0, r.endCol - 1) },
  };
}

export function fromRange(r: Range): TraceRange {
  return { line: r.start.line + 1, col: r.start.character + 1, endLine: r.end.line + 1, endCol: r.end.character + 1 };
}

export function fromPosition(p: Position): TracePosition {
  return { line: p.line + 1, col: p.character + 1 };
}

export function toDiagnostic(d: EditorDiagnostic): Diagnostic {
  return {
    range: toRange(d.range),
    severity: d.severity === 'error' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
    source: 'mmutrace',
    message: d.message,
  };
}

const COMPLETION_KINDS: Record<CompletionKind, CompletionItemKind> = {
  keyword: CompletionItemKind.Keyword,
  value: CompletionItemKind.EnumMember,
  flag: CompletionItemKind.Constant,
  level: CompletionItemKind.Enum,
  option: CompletionItemKind.Property,
  space: CompletionItemKind.Module,
  label: CompletionItemKind.Reference,
  name: CompletionItemKind.Variable,
  function: CompletionItemKind.Function,
  constant: CompletionItemKind.Constant,
  member: CompletionItemKind.Field,
};

export function toCompletion(c: TraceCompletion): CompletionItem {
  const item: CompletionItem = {
    label: c.label,
    kind: COMPLETION_KINDS[c.kind],
    sortText: c.sortText,
    textEdit: { range: toRange(c.range), newText: c.insertText ?? c.label },
  };
  if (c.detail) item.detail = c.detail;
  if (c.documentation) item.documentation = { kind: 'markdown', value: c.documentation };
  return item;
}

const SYMBOL_KINDS: Record<TraceSymbolKind, SymbolKind> = {
  section: SymbolKind.String,
  space: SymbolKind.Namespace,
  label: SymbolKind.Event,
};

export function toSymbol(s: TraceSymbol): DocumentSymbol {
  const d: DocumentSymbol = {
    name: s.name,
    kind: SYMBOL_KINDS[s.kind],
    range: toRange(s.range),
    selectionRange: toRange(s.selectionRange),
    children: s.children.map(toSymbol),
  };
  if (s.detail) d.detail = s.detail;
  return d;
}

export function toFold(f: Fold): FoldingRange {
  return { startLine: f.start - 1, endLine: f.end - 1, kind: f.kind === 'comment' ? FoldingRangeKind.Comment : FoldingRangeKind.Region };
}
