// The outline (document symbols), go to definition, find references and
// folding: `##` sections holding the spaces and labels declared in them.

import type { Range } from '../../trace';
import { contains, lineTokens, range, tokenAt, type Position, type Section, type TraceAnalysis } from './analysis';

export type SymbolKind = 'section' | 'space' | 'label';

export interface TraceSymbol {
  name: string;
  detail: string;
  kind: SymbolKind;
  /** The whole extent (a section: its lines; a space: its declaration and `map` lines; a label: its statement). */
  range: Range;
  /** The name itself. */
  selectionRange: Range;
  children: TraceSymbol[];
}

function lineRange(a: TraceAnalysis, from: number, to: number): Range {
  return range(from, 1, (a.lines[to - 1]?.length ?? 0) + 1, to);
}

export function documentSymbols(a: TraceAnalysis): TraceSymbol[] {
  const leaves: TraceSymbol[] = [];
  const program = a.result.program;
  program.spaces.forEach((sp, index) => {
    let last = sp.line;
    for (const s of program.setup) if (s.kind === 'map' && s.space === index) last = Math.max(last, s.line);
    const maps = program.setup.filter((s) => s.kind === 'map' && s.space === index).length;
    leaves.push({
      name: sp.name,
      detail: `space${index === 0 ? ' (initial CR3)' : ''}, ${maps} map${maps === 1 ? '' : 's'}`,
      kind: 'space',
      range: lineRange(a, sp.line, last),
      selectionRange: sp.range,
      children: [],
    });
  });
  for (const l of a.labels.values()) {
    leaves.push({
      name: '@' + l.name,
      detail: a.lines[l.line - 1]!.slice(l.stmt.range.col - 1, l.range.col - 1).trim(),
      kind: 'label',
      range: l.stmt.range,
      selectionRange: l.range,
      children: [],
    });
  }
  leaves.sort((x, y) => x.selectionRange.line - y.selectionRange.line);

  const toSymbol = (s: Section): TraceSymbol => ({
    name: s.title || '(untitled section)',
    detail: '',
    kind: 'section',
    range: lineRange(a, s.line, s.endLine),
    selectionRange: s.title ? s.titleRange : range(s.line, 1, (a.lines[s.line - 1]?.length ?? 0) + 1),
    children: s.children.map(toSymbol),
  });
  const roots = a.sections.map(toSymbol);
  // Each space and label goes into the innermost section that holds its line.
  const place = (list: TraceSymbol[], leaf: TraceSymbol): boolean => {
    for (const s of list) {
      if (s.kind !== 'section') continue;
      if (leaf.selectionRange.line >= s.range.line && leaf.selectionRange.line <= s.range.endLine) {
        if (!place(s.children, leaf)) s.children.push(leaf);
        return true;
      }
    }
    return false;
  };
  const top: TraceSymbol[] = [...roots];
  for (const leaf of leaves) if (!place(roots, leaf)) top.push(leaf);
  const byLine = (x: TraceSymbol, y: TraceSymbol): number => x.range.line - y.range.line;
  const sortDeep = (list: TraceSymbol[]): void => {
    list.sort(byLine);
    for (const s of list) sortDeep(s.children);
  };
  sortDeep(top);
  return top;
}

// ---------------------------------------------------------------------------
// Definition and references.

export interface SymbolAt {
  kind: 'space' | 'label';
  name: string;
  /** The range of the word under the cursor. */
  range: Range;
}

/** The space name or label under the cursor: a declaration, a `cr3` target, an `@label` or its mention in a comment. */
export function symbolAt(a: TraceAnalysis, p: Position): SymbolAt | undefined {
  for (const m of a.mentions) if (contains(m.range, p)) return { kind: 'label', name: m.name, range: m.range };
  const stmt = a.stmtByLine[p.line];
  if (stmt?.label && contains(stmt.label.range, p)) return { kind: 'label', name: stmt.label.name, range: stmt.label.range };
  if (stmt?.kind === 'space' && contains(stmt.nameRange, p)) return { kind: 'space', name: stmt.name, range: stmt.nameRange };
  if (stmt?.kind === 'cr3' && stmt.space >= 0 && contains(stmt.targetRange, p)) {
    return { kind: 'space', name: a.result.program.spaces[stmt.space]!.name, range: stmt.targetRange };
  }
  // A line the parser rejected (`cr3 NAME` with an error further on): go by the words.
  const line = a.lines[p.line - 1] ?? '';
  const toks = lineTokens(line);
  const t = tokenAt(toks, p.col);
  if (t && t.kind === 'word' && toks[0]?.text.toLowerCase() === 'cr3' && t === toks[1]) {
    if (a.result.program.spaces.some((s) => s.name === t.text)) return { kind: 'space', name: t.text, range: range(p.line, t.start + 1, t.end + 1) };
  }
  if (t && t.kind === 'label' && a.labels.has(t.text.slice(1))) return { kind: 'label', name: t.text.slice(1), range: range(p.line, t.start + 1, t.end + 1) };
  return undefined;
}

export function definition(a: TraceAnalysis, p: Position): Range | undefined {
  const s = symbolAt(a, p);
  if (!s) return undefined;
  if (s.kind === 'label') return a.labels.get(s.name)?.range;
  return a.result.program.spaces.find((sp) => sp.name === s.name)?.range;
}

export function references(a: TraceAnalysis, p: Position, includeDeclaration = true): Range[] {
  const s = symbolAt(a, p);
  if (!s) return [];
  const out: Range[] = [];
  if (s.kind === 'label') {
    const def = a.labels.get(s.name);
    if (def && includeDeclaration) out.push(def.range);
    for (const m of a.mentions) if (m.name === s.name) out.push(m.range);
  } else {
    const index = a.result.program.spaces.findIndex((sp) => sp.name === s.name);
    if (index < 0) return [];
    if (includeDeclaration) out.push(a.result.program.spaces[index]!.range);
    for (const st of a.statements) if (st.kind === 'cr3' && st.space === index) out.push(st.targetRange);
  }
  return out.sort((x, y) => x.line - y.line || x.col - y.col);
}

// ---------------------------------------------------------------------------
// Folding: `##` sections (language-configuration markers cannot say "up to
// the next heading"), and runs of three or more comment lines.

export interface Fold {
  /** 1-based, inclusive. */
  start: number;
  end: number;
  kind: 'region' | 'comment';
}

export function foldingRanges(a: TraceAnalysis): Fold[] {
  const out: Fold[] = [];
  const walk = (list: Section[]): void => {
    for (const s of list) {
      if (s.endLine > s.line) out.push({ start: s.line, end: s.endLine, kind: 'region' });
      walk(s.children);
    }
  };
  walk(a.sections);
  const headings = new Set<number>();
  const mark = (list: Section[]): void => list.forEach((s) => (headings.add(s.line), mark(s.children)));
  mark(a.sections);
  let runStart = 0;
  for (let i = 1; i <= a.lines.length + 1; i++) {
    const l = a.lines[i - 1];
    const isComment = l !== undefined && /^[ \t]*#/.test(l) && !headings.has(i);
    if (isComment && runStart === 0) runStart = i;
    if (!isComment && runStart !== 0) {
      if (i - 1 - runStart >= 2) out.push({ start: runStart, end: i - 1, kind: 'comment' });
      runStart = 0;
    }
  }
  return out.sort((x, y) => x.start - y.start);
}
