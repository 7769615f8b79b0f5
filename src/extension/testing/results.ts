// The Testing view's runs, without VS Code: a trace replayed under one policy
// in-process by the engine, as `mmutrace check` replays it (src/cli/main.ts:
// parse, `new Machine(program, { policy })`, run), with each `expect`'s
// outcome and both sides of a failed comparison.

import { Machine, MachineError, type Incident } from '../../engine';
import { formatValue, printExpr, tryEvaluate, type Expr } from '../../expr';
import { parseTrace, type Diagnostic, type Program } from '../../trace';

export interface ExpectOutcome {
  line: number;
  /** Where `mmutrace check` points: the expression's first column. */
  col: number;
  passed: boolean;
  /** The CLI's words: `SOURCE — left 0x1 (last.exits), right 0x2`. */
  message: string;
  /** For a failed comparison: what the right side asked for, and what the left side was. */
  expected?: string;
  actual?: string;
}

export interface PolicyOutcome {
  policy: string;
  /** By line: each `expect` the replay reached. */
  expects: Map<number, ExpectOutcome>;
  /** Livelocks and hangs (engine.md, "Counting"): `mmutrace check` fails on them too. */
  incidents: { line: number; kind: Incident['kind']; message: string }[];
  /** A replay error (the file counts as invalid; expects after it are not reached), or a setup error. */
  error?: { line: number; col: number; message: string };
}

export interface ParsedForTests {
  program?: Program;
  /** The parse's errors, when the file is invalid (nothing runs). */
  errors: Diagnostic[];
}

export function parseForTests(text: string): ParsedForTests {
  const r = parseTrace(text);
  if (r.hasErrors) return { errors: r.diagnostics.filter((d) => d.severity === 'error') };
  return { program: r.program, errors: [] };
}

const COMPARISONS = new Set(['==', '!=', '<', '<=', '>', '>=']);

function valueText(e: Expr, m: Machine): string {
  const r = tryEvaluate(e, m.env);
  return r.ok ? formatValue(r.value, { hex: true }) : `<error: ${r.message}>`;
}

/**
 * Both sides of a failed `expect`, evaluated right after it (an `expect` row
 * changes nothing, so the machine is as the check saw it). `a == b`: expected
 * b's value, actual a's; another comparison: expected `OP b`; anything else:
 * expected true, actual false.
 */
export function sides(expr: Expr, m: Machine): { expected: string; actual: string } {
  if (expr.kind === 'binary' && COMPARISONS.has(expr.op)) {
    const right = valueText(expr.right, m);
    const left = valueText(expr.left, m);
    return { expected: expr.op === '==' ? right : `${expr.op} ${right}`, actual: `${left} (${printExpr(expr.left)})` };
  }
  return { expected: 'true', actual: 'false' };
}

/** Replays `program` under `policy`, row by row, and says what each `expect` found. */
export function runPolicy(program: Program, policy: string): PolicyOutcome {
  const out: PolicyOutcome = { policy, expects: new Map(), incidents: [] };
  let m: Machine;
  try {
    m = new Machine(program, { policy, audit: false });
  } catch (e) {
    if (!(e instanceof MachineError)) throw e;
    out.error = { line: e.line ?? 1, col: e.col ?? 1, message: e.message };
    return out;
  }
  let failures = 0;
  let incidents = 0;
  while (m.step()) {
    const r = m.expect;
    if (r) {
      const o: ExpectOutcome = { line: r.line, col: r.col, passed: r.passed, message: `${r.source} — ${r.message}` };
      if (!r.passed && m.failures.length > failures) {
        const stmt = program.expects.find((s) => s.line === r.line);
        if (stmt) Object.assign(o, sides(stmt.expr as Expr, m));
      }
      failures = m.failures.length;
      out.expects.set(r.line, o);
    }
    for (; incidents < m.incidents.length; incidents++) {
      const inc = m.incidents[incidents]!;
      out.incidents.push({ line: program.events.lineOf(inc.event), kind: inc.kind, message: inc.message });
    }
    if (m.error !== null) {
      out.error = { line: program.events.lineOf(m.row), col: 1, message: m.error };
      break;
    }
  }
  return out;
}
