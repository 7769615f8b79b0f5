// Replays through the engine, for the commands (Run Trace, Compare Policies),
// and writes the inline values of a debug session.

import { compareTable, formatSummary } from '../../cli/format';
import { Machine, MachineError, POLICIES, POLICY_NAMES, type Summary } from '../../engine';
import { parseTrace, type Program } from '../../trace';
import type { LineEffect } from '../../debug/lineeffects';
import { describeFault } from './decode';

interface RunInput {
  file: string;
  program: Program;
  /** The diagnostics, as the CLI prints them, when the file has errors. */
  errors?: string;
  warnings: string[];
}

function analyzeForRun(text: string, file: string): RunInput {
  const r = parseTrace(text);
  const fmt = r.diagnostics.map((d) => `${file}:${d.line}:${d.col}: ${d.severity}: ${d.message}${d.hint ? ` (${d.hint})` : ''}`);
  if (r.hasErrors) return { file, program: r.program, errors: fmt.join('\n'), warnings: [] };
  return { file, program: r.program, warnings: fmt };
}

// ---------------------------------------------------------------------------
// What each replayed line did comes from the adapter (the custom request
// `lineEffects`, src/debug/lineeffects.ts): the session has run those rows
// already, so the extension never replays the trace a second time for its
// inline values.

export type { LineEffect };

// ---------------------------------------------------------------------------
// Inline values.

export interface InlineText {
  /** 1-based line. */
  line: number;
  text: string;
}

export function effectText(e: LineEffect): string {
  if (e.error) return `✘ ${e.error}`;
  if (e.expect) return e.expect.passed ? '✔ held' : `✘ ${e.expect.message}`;
  const parts: string[] = [];
  const why = (['fill', 'inject', 'emulate', 'cr3'] as const).filter((k) => (e[k] ?? 0) > 0).map((k) => ((e[k] ?? 0) > 1 ? `${k} ×${e[k]}` : k));
  parts.push(e.exits === 0 ? 'no exit' : `${e.exits} exit${e.exits === 1 ? '' : 's'}${why.length ? ` (${why.join(', ')})` : ''}`);
  if (e.fault >= 0) parts.push(`#PF ${describeFault(e.fault)}`);
  if (e.zapped) parts.push(`zapped ${e.zapped}`);
  if (e.updated) parts.push(`updated ${e.updated}`);
  return parts.join(' · ');
}

/**
 * The inline values to show: for each line above the stop that was replayed
 * and lies in [fromLine, toLine], what it did. A line replayed more than once
 * (after a `goto` back) shows its last effect.
 */
export function inlineValues(effects: readonly LineEffect[], stoppedLine: number, fromLine: number, toLine: number): InlineText[] {
  const byLine = new Map<number, LineEffect>();
  for (const e of effects) if (e.line >= fromLine && e.line <= toLine && e.line < stoppedLine) byLine.set(e.line, e);
  return [...byLine.values()].sort((x, y) => x.line - y.line).map((e) => ({ line: e.line, text: effectText(e) }));
}

// ---------------------------------------------------------------------------
// Run Trace and Compare Policies.

function problems(input: RunInput, m: Machine): string[] {
  const out: string[] = [];
  for (const f of m.failures) out.push(`${input.file}:${f.line}:${f.col}: expect failed: ${f.source} — ${f.message}`);
  if (m.error !== null) out.push(`${input.file}:${m.program.events.lineOf(m.row)}:1: error: ${m.error}`);
  return out;
}

/** The text of Run Trace: the summary of a replay, after the failed expects; the diagnostics when the file is invalid. */
export function runReport(text: string, file: string, opts: { policy?: string; audit?: boolean } = {}): { ok: boolean; text: string; summary?: Summary } {
  const input = analyzeForRun(text, file);
  if (input.errors) return { ok: false, text: input.errors };
  try {
    const m = new Machine(input.program, { policy: opts.policy, audit: opts.audit ?? false });
    m.run();
    const summary = m.summary(file);
    const lines = problems(input, m);
    const ok = lines.length === 0 && (!opts.audit || summary.audit.violations === 0);
    return { ok, text: [...input.warnings, ...lines, formatSummary(summary)].join('\n'), summary };
  } catch (e) {
    if (e instanceof MachineError) return { ok: false, text: `${file}: error: ${e.message}` };
    throw e;
  }
}

/** The text of Compare Policies: the `compare` table, the failed expects of each policy under it. */
export function compareReport(text: string, file: string, policies: readonly string[] = POLICY_NAMES): { ok: boolean; text: string; results?: Record<string, Summary> } {
  const input = analyzeForRun(text, file);
  if (input.errors) return { ok: false, text: input.errors };
  const results: Record<string, Summary> = {};
  const notes: string[] = [];
  try {
    for (const p of policies) {
      const m = new Machine(input.program, { policy: p });
      m.run();
      results[p] = m.summary(file);
      for (const l of problems(input, m)) notes.push(`[${p}] ${l}`);
    }
  } catch (e) {
    if (e instanceof MachineError) return { ok: false, text: `${file}: error: ${e.message}` };
    throw e;
  }
  const head = `Policies compared on ${file}: ${policies.join(', ')}`;
  const body = compareTable(file, results);
  const legend = policies.map((p) => `${p}: ${POLICIES.get(p)?.summary ?? ''}`);
  return { ok: notes.length === 0, text: [head, '', body, '', ...legend, ...(notes.length ? ['', ...notes] : [])].join('\n'), results };
}
