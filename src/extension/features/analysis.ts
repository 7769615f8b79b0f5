// What every editor feature starts from: one parse of the document (the same
// parser as the CLI and the debugger, with `keepStatements`), plus what the
// parser does not keep: the lines, the `##` sections, the `@label` mentions in
// comments, and where the setup ends. No `vscode` import here: the features
// are pure functions over this, tested without an editor.
//
// Positions are the parser's: lines and columns 1-based, end columns
// exclusive. A position `{ line, col }` is the place just before the
// character at `col` (the cursor), so the text before the cursor on its line
// is `lines[line - 1].slice(0, col - 1)`.

import { EVENT_KEYWORDS, KEYWORDS, TraceParser, type Mode, type ParseResult, type Range, type Stmt } from '../../trace';

export interface Position {
  line: number;
  col: number;
}

/** A `##` heading: the lines from it to the next heading of the same or a higher level. */
export interface Section {
  title: string;
  /** 1 for `##`, 2 for `###`, ... */
  level: number;
  /** The heading line. */
  line: number;
  /** The last line of the section (before the next heading of level <= this one, trailing blank lines left out). */
  endLine: number;
  /** The heading's text. */
  titleRange: Range;
  children: Section[];
}

/** An `@name` in a comment: a mention of a label (the outline, references and definition follow it). */
export interface LabelMention {
  name: string;
  /** The range of `@name`. */
  range: Range;
}

export interface LabelDef {
  name: string;
  /** The range of `@name`. */
  range: Range;
  line: number;
  stmt: Stmt;
}

export interface TraceAnalysis {
  text: string;
  /** The lines, without their line ends (and without a BOM). */
  lines: string[];
  result: ParseResult;
  statements: Stmt[];
  /** The statement of each line, by 1-based line (undefined where the line has none or an error). */
  stmtByLine: (Stmt | undefined)[];
  mode: Mode;
  /** The first line that ends the setup (an event, `vcpu` or `expect`), by its first word; 0 when there is none. */
  firstEventLine: number;
  sections: Section[];
  labels: Map<string, LabelDef>;
  mentions: LabelMention[];
}

const EVENT_WORDS = new Set(EVENT_KEYWORDS.filter((k) => k !== 'cpl'));
const WORD_START = /[A-Za-z_]/;
const WORD = /^[A-Za-z_][A-Za-z0-9_.-]*/;

/** The first word of a line, lower-cased ('' when the line is blank or a comment). */
export function firstWord(line: string): string {
  const m = /^[ \t]*([A-Za-z_][A-Za-z0-9_.-]*)/.exec(line);
  return m ? m[1]!.toLowerCase() : '';
}

/** Offset of the `#` that starts the line's comment (outside a string on `expect` lines), or -1. */
export function commentStart(line: string): number {
  const isExpect = firstWord(line) === 'expect';
  let inStr = false;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (inStr) {
      if (c === 92) i++;
      else if (c === 34) inStr = false;
    } else if (c === 34 && isExpect) inStr = true;
    else if (c === 35) return i;
  }
  return -1;
}

/** Splits a text into lines the way the parser counts them. */
export function splitLines(text: string): string[] {
  const t = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = t.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.endsWith('\r')) lines[i] = l.slice(0, -1);
  }
  return lines;
}

export function range(line: number, col: number, endCol: number, endLine = line): Range {
  return { line, col, endLine, endCol };
}

export function contains(r: Range, p: Position): boolean {
  if (p.line < r.line || p.line > r.endLine) return false;
  if (p.line === r.line && p.col < r.col) return false;
  if (p.line === r.endLine && p.col > r.endCol) return false;
  return true;
}

/** Parses a document and collects what the editor features need. */
export function analyze(text: string): TraceAnalysis {
  const steps = analyzeSteps(text);
  let r = steps.next();
  while (!r.done) r = steps.next();
  return r.value;
}

/**
 * The same as analyze, in steps of about `sliceLines` lines each: the
 * language server runs a few steps, answers what is waiting, runs a few more,
 * and drops the rest when the document changes meanwhile.
 */
export function* analyzeSteps(text: string, sliceLines = Infinity): Generator<void, TraceAnalysis, void> {
  const parser = new TraceParser(text, { keepStatements: true });
  while (!parser.parseLines(sliceLines)) yield;
  const result = parser.result();
  const statements = result.statements ?? [];
  const sliced = sliceLines !== Infinity;
  if (sliced) yield;
  let lines: string[];
  if (!sliced) lines = splitLines(text);
  else {
    // splitLines, a slice at a time (1M lines at once hold the thread for a while).
    lines = [];
    const t = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    for (let pos = 0; ; ) {
      const nl = t.indexOf('\n', pos);
      const end = nl < 0 ? t.length : nl;
      lines.push(end > pos && t.charCodeAt(end - 1) === 13 ? t.slice(pos, end - 1) : t.slice(pos, end));
      if (nl < 0) break;
      pos = nl + 1;
      if (lines.length % sliceLines === 0) yield;
    }
  }
  const stmtByLine: (Stmt | undefined)[] = new Array(lines.length + 1);
  let firstEventLine = 0;
  const labels = new Map<string, LabelDef>();
  for (let i = 0; i < statements.length; i++) {
    if (i > 0 && i % sliceLines === 0) yield;
    const s = statements[i]!;
    stmtByLine[s.line] = s;
    if (s.label && !labels.has(s.label.name)) labels.set(s.label.name, { name: s.label.name, range: s.label.range, line: s.line, stmt: s });
  }
  const mentions: LabelMention[] = [];
  const headings: Section[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (i > 0 && i % sliceLines === 0) yield;
    const line = lines[i]!;
    const ln = i + 1;
    if (firstEventLine === 0 && EVENT_WORDS.has(firstWord(line))) firstEventLine = ln;
    const cs = commentStart(line);
    if (cs < 0) continue;
    const h = /^([ \t]*)(##+)[ \t]*(.*?)[ \t]*$/.exec(line);
    if (h && h[1]!.length === cs) {
      const start = line.length - line.slice(h[1]!.length + h[2]!.length).trimStart().length;
      headings.push({
        title: h[3]!,
        level: h[2]!.length - 1,
        line: ln,
        endLine: ln,
        titleRange: range(ln, start + 1, start + 1 + h[3]!.length),
        children: [],
      });
    }
    // `@name` mentions in the comment.
    for (let j = line.indexOf('@', cs); j >= 0; j = line.indexOf('@', j + 1)) {
      if (j > 0 && /[A-Za-z0-9_]/.test(line[j - 1]!)) continue; // an e-mail address, not a label
      if (!WORD_START.test(line[j + 1] ?? '')) continue;
      const m = WORD.exec(line.slice(j + 1))!;
      // A sentence's full stop is not part of the name.
      const name = m[0].replace(/[.-]+$/, '');
      mentions.push({ name, range: range(ln, j + 1, j + 2 + name.length) });
    }
  }

  return {
    text,
    lines,
    result,
    statements,
    stmtByLine,
    mode: result.program.mode,
    firstEventLine,
    sections: nestSections(headings, lines),
    labels,
    mentions,
  };
}

function nestSections(headings: Section[], lines: string[]): Section[] {
  const roots: Section[] = [];
  const stack: Section[] = [];
  const lastNonBlank = (from: number, to: number): number => {
    let l = to;
    while (l > from && lines[l - 1]!.trim() === '') l--;
    return l;
  };
  headings.forEach((h, i) => {
    let next = lines.length + 1;
    for (let k = i + 1; k < headings.length; k++) {
      if (headings[k]!.level <= h.level) {
        next = headings[k]!.line;
        break;
      }
    }
    h.endLine = lastNonBlank(h.line, next - 1);
    while (stack.length && stack[stack.length - 1]!.level >= h.level) stack.pop();
    (stack.length ? stack[stack.length - 1]!.children : roots).push(h);
    stack.push(h);
  });
  return roots;
}

/** True when `line` is in the setup (before the first event line). */
export function inSetup(a: TraceAnalysis, line: number): boolean {
  return a.firstEventLine === 0 || line < a.firstEventLine;
}

// ---------------------------------------------------------------------------
// Tokens of one line, as the trace lexer sees them (for positions that the
// statements do not describe: keywords, flags, levels, partial input).

export type TokKind = 'word' | 'num' | 'label' | 'eq' | 'dotdot' | 'other';

export interface Tok {
  kind: TokKind;
  /** 0-based offsets in the line; end exclusive. */
  start: number;
  end: number;
  text: string;
}

/** The tokens of a line up to its comment. An `expect` line yields its keyword only. */
export function lineTokens(line: string): Tok[] {
  const toks: Tok[] = [];
  const end = (() => {
    const c = commentStart(line);
    return c < 0 ? line.length : c;
  })();
  let i = 0;
  while (i < end) {
    const c = line[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\v' || c === '\f') {
      i++;
      continue;
    }
    const s = i;
    let kind: TokKind;
    if (/[A-Za-z_]/.test(c)) {
      while (i < end && /[A-Za-z0-9_.-]/.test(line[i]!)) {
        if (line[i] === '.' && line[i + 1] === '.') break;
        i++;
      }
      kind = 'word';
    } else if (/[0-9]/.test(c)) {
      while (i < end && /[A-Za-z0-9_]/.test(line[i]!)) i++;
      kind = 'num';
    } else if (c === '@') {
      i++;
      if (i < end && /[A-Za-z_]/.test(line[i]!)) while (i < end && /[A-Za-z0-9_.-]/.test(line[i]!)) i++;
      kind = 'label';
    } else if (c === '=') {
      i++;
      kind = 'eq';
    } else if (c === '.' && line[i + 1] === '.') {
      i += 2;
      kind = 'dotdot';
    } else {
      i++;
      kind = 'other';
    }
    toks.push({ kind, start: s, end: i, text: line.slice(s, i) });
    if (toks.length === 1 && kind === 'word' && line.slice(s, i).toLowerCase() === 'expect') break;
  }
  return toks;
}

/** The token under (or just before) a position: the one whose [start, end] holds col - 1. */
export function tokenAt(toks: readonly Tok[], col: number): Tok | undefined {
  const off = col - 1;
  return toks.find((t) => t.start <= off && off < t.end) ?? toks.find((t) => t.end === off && t.kind !== 'other');
}

export function isKeyword(word: string): boolean {
  return (KEYWORDS as readonly string[]).includes(word.toLowerCase());
}
