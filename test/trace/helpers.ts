import { expect } from 'vitest';
import { parseTrace, type Diagnostic, type EventRow, type ParseOptions, type ParseResult, type Range } from '../../src/trace';

/** Joins lines with `\n` and a final newline. */
export function lines(...ls: string[]): string {
  return ls.join('\n') + '\n';
}

export function parse(text: string, opts?: ParseOptions): ParseResult {
  return parseTrace(text, opts);
}

export function rows(r: ParseResult): EventRow[] {
  const out: EventRow[] = [];
  for (let i = 0; i < r.program.events.count; i++) out.push(r.program.events.row(i));
  return out;
}

/** A parse that must have no diagnostic at all. */
export function clean(text: string, opts?: ParseOptions): ParseResult {
  const r = parseTrace(text, opts);
  expect(r.diagnostics).toEqual([]);
  expect(r.hasErrors).toBe(false);
  return r;
}

/**
 * The range of the `nth` occurrence (0-based) of `sub` on line `line` (1-based)
 * of `text`, computed from the text itself (a BOM at the start is not a column).
 */
export function at(text: string, line: number, sub: string, nth = 0): Range {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const l = body.split('\n')[line - 1];
  if (l === undefined) throw new Error(`no line ${line}`);
  let i = -1;
  for (let k = 0; k <= nth; k++) {
    i = l.indexOf(sub, i + 1);
    if (i < 0) throw new Error(`\`${sub}\` not on line ${line}: ${l}`);
  }
  return { line, col: i + 1, endLine: line, endCol: i + 1 + sub.length };
}

/** The one diagnostic of a parse. */
export function only(text: string, opts?: ParseOptions): Diagnostic {
  const r = parseTrace(text, opts);
  expect(r.diagnostics, JSON.stringify(r.diagnostics)).toHaveLength(1);
  return r.diagnostics[0]!;
}

/**
 * Checks that the text has exactly one diagnostic, an error (or `severity`),
 * over the `nth` occurrence of `sub` on `line`, whose message contains every
 * fragment.
 */
export function expectOne(
  text: string,
  line: number,
  sub: string,
  fragments: string | string[],
  opts: { nth?: number; severity?: 'error' | 'warning'; parse?: ParseOptions } = {},
): Diagnostic {
  const d = only(text, opts.parse);
  const r = at(text, line, sub, opts.nth ?? 0);
  expect({ line: d.line, col: d.col, endLine: d.endLine, endCol: d.endCol }).toEqual(r);
  expect(d.severity).toBe(opts.severity ?? 'error');
  for (const f of Array.isArray(fragments) ? fragments : [fragments]) expect(d.message).toContain(f);
  return d;
}

/** Every diagnostic (and fix) range lies within the text. */
export function rangesWithin(text: string, diags: readonly Diagnostic[]): void {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const ls = body.split('\n');
  const check = (r: Range): void => {
    if (!(r.line >= 1 && r.line <= ls.length)) throw new Error(`line ${r.line} outside 1..${ls.length}`);
    if (!(r.endLine >= r.line && r.endLine <= ls.length)) throw new Error(`endLine ${r.endLine}`);
    if (!(r.col >= 1 && r.col <= ls[r.line - 1]!.length + 1)) throw new Error(`col ${r.col} on line ${r.line} (${ls[r.line - 1]!.length})`);
    if (!(r.endCol >= 1 && r.endCol <= ls[r.endLine - 1]!.length + 1)) throw new Error(`endCol ${r.endCol} on line ${r.endLine}`);
    if (r.endLine === r.line && r.endCol < r.col) throw new Error(`endCol ${r.endCol} < col ${r.col}`);
    for (const v of [r.line, r.col, r.endLine, r.endCol]) if (!Number.isInteger(v)) throw new Error('not an integer');
  };
  for (const d of diags) {
    check(d);
    if (d.fix) check(d.fix.range);
    if (typeof d.message !== 'string' || d.message.length === 0) throw new Error('empty message');
  }
}

/** Everything a parse gives, comparable with toEqual (two parses that must agree). */
export function parseSummary(r: ParseResult): unknown {
  return {
    diagnostics: r.diagnostics,
    rows: rows(r),
    setup: r.program.setup,
    spaces: r.program.spaces,
    labels: [...r.program.labels],
    expects: r.program.expects.map((e) => [e.line, e.source, e.range]),
    mode: r.program.mode,
    policy: r.program.policy,
    vcpus: r.program.vcpus,
    cpl: r.program.cpl,
    pool: r.program.pool,
    shadowPages: r.program.shadowPages,
    lineCount: r.program.lineCount,
    statements: r.statements,
    hasErrors: r.hasErrors,
  };
}
