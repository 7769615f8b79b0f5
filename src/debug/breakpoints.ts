// Breakpoint conditions, hit conditions, log messages and exception filters,
// compiled once when they are set. No DAP here.

import { parseExpr, tryEvaluate, tryEvaluateCondition, formatValue, type Expr, type ExprEnv, type Value } from '../expr';
import { HANDLER_FUNCTIONS, baseFunctionName } from '../engine';

/** Names the debugger adds to the expression language. */
export const DEBUG_NAMES: ReadonlySet<string> = new Set(['exit']);

export type FilterId = 'vmexit' | 'pte-write' | 'guest-fault' | 'flood' | 'expect' | 'audit' | 'livelock';

export interface FilterInfo {
  id: FilterId;
  label: string;
  description: string;
  default: boolean;
  conditionDescription: string;
}

/** The exception filters, in the order the client shows them (debugger.md). */
export const FILTERS: readonly FilterInfo[] = [
  {
    id: 'vmexit',
    label: 'VM exits',
    description: 'Stop after every event that caused a VM exit (page fault or CR3 load).',
    default: false,
    conditionDescription: 'e.g. exit.reason == "cr3" or exit.outcome == "emulate"',
  },
  {
    id: 'pte-write',
    label: 'Guest page-table writes',
    description: 'Stop after every guest store to a page-table entry, trapped (write-protected, kvm_mmu_pte_write runs) or not.',
    default: false,
    conditionDescription: 'e.g. exit.outcome == "emulate" (trapped stores only)',
  },
  {
    id: 'guest-fault',
    label: 'Injected guest page faults',
    description: 'Stop after a #PF is injected into the guest.',
    default: false,
    conditionDescription: 'e.g. last.fault & 1 (protection faults only)',
  },
  {
    id: 'flood',
    label: 'Write floods',
    description: 'Stop when the write-flood detector zaps a shadow page.',
    default: false,
    conditionDescription: 'an expression, e.g. vcpu == 0',
  },
  {
    id: 'expect',
    label: 'Failed expects',
    description: 'Stop at an `expect` that does not hold.',
    default: true,
    conditionDescription: 'an expression, e.g. line > 100',
  },
  {
    id: 'audit',
    label: 'Audit violations',
    description: "Stop after an event that the audit (KVM's 2007 AUDIT checks) finds a violation in.",
    default: true,
    conditionDescription: 'an expression, e.g. policy == "update"',
  },
  {
    id: 'livelock',
    label: 'Livelocks and hangs',
    description: 'Stop after an event where KVM 2007 would have looped forever: a livelock (the guest retries an access forever) or a hang (a loop in the host code).',
    default: true,
    conditionDescription: 'an expression, e.g. policy == "zap"',
  },
];

export const FILTER_IDS: ReadonlySet<string> = new Set(FILTERS.map((f) => f.id));

export interface Compiled<T> {
  value?: T;
  error?: string;
}

function firstError(diags: { message: string; col: number }[], what: string): string {
  const d = diags[0]!;
  return `${what}: ${d.message} (column ${d.col})`;
}

/** A condition in the expression language (with the debugger's `exit`). */
export function compileCondition(text: string): Compiled<Expr> {
  const r = parseExpr(text, { names: DEBUG_NAMES });
  if (!r.expr) return { error: firstError(r.diagnostics, 'condition') };
  return { value: r.expr };
}

/**
 * A hit condition: `N` (stop from the N-th hit on, like an ignore count of
 * N-1), `== N`, `> N`, `>= N`, `< N`, `<= N`, `!= N`, `% N` (every N-th hit),
 * or an expression of the expression language over `hits`.
 */
export function compileHitCondition(text: string): Compiled<Expr> {
  let src = text.trim();
  if (/^\d[\d_]*$|^0[xb][0-9a-f_]+$/i.test(src)) src = `hits >= ${src}`;
  else if (/^%/.test(src)) src = `hits ${src} == 0`;
  else if (/^(==|!=|>=|<=|>|<|=)/.test(src)) src = `hits ${src.replace(/^=(?!=)/, '==')}`;
  const r = parseExpr(src, { names: new Set(['hits']) });
  if (!r.expr) return { error: firstError(r.diagnostics, 'hit condition') };
  const probe = tryEvaluateCondition(r.expr, hitsEnv(1));
  if (!probe.ok) return { error: `hit condition: ${probe.message} (it can use \`hits\`, numbers and operators)` };
  return { value: r.expr };
}

export function hitsEnv(hits: number): ExprEnv {
  return {
    name: (id) => (id === 'hits' ? BigInt(hits) : undefined),
    call: () => undefined,
  };
}

export function hitConditionHolds(expr: Expr | undefined, hits: number): boolean {
  if (!expr) return true;
  const r = tryEvaluateCondition(expr, hitsEnv(hits));
  return r.ok ? r.value : true;
}

export type LogPart = string | Expr;

/** A log message: text with `{expr}` parts. `{{` and `}}` are literal braces. */
export function compileLogMessage(text: string): Compiled<LogPart[]> {
  const parts: LogPart[] = [];
  let lit = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '{' && text[i + 1] === '{') {
      lit += '{';
      i++;
    } else if (c === '}' && text[i + 1] === '}') {
      lit += '}';
      i++;
    } else if (c === '{') {
      const end = text.indexOf('}', i + 1);
      if (end < 0) return { error: `log message: \`{\` at column ${i + 1} is not closed (write \`{{\` for a brace)` };
      const src = text.slice(i + 1, end);
      const r = parseExpr(src, { names: DEBUG_NAMES, col: i + 2 });
      if (!r.expr) return { error: firstError(r.diagnostics, `log message part {${src}}`) };
      if (lit) parts.push(lit);
      lit = '';
      parts.push(r.expr);
      i = end;
    } else lit += c;
  }
  if (lit) parts.push(lit);
  return { value: parts };
}

/** Evaluates a log message's parts (numbers in hex, errors in place). */
export function renderLogMessage(parts: readonly LogPart[], env: ExprEnv): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'string') out += p;
    else {
      const r = tryEvaluate(p, env);
      out += r.ok ? formatForLog(r.value) : `<error: ${r.message}>`;
    }
  }
  return out;
}

function formatForLog(v: Value): string {
  if (typeof v === 'bigint') return v >= -9n && v <= 9n ? v.toString() : formatValue(v, { hex: true });
  if (typeof v === 'string') return v;
  return formatValue(v, { hex: true });
}

/** A function breakpoint's matcher: a handler step name with or without its paging prefix. */
export function handlerMatcher(name: string): ((fn: string) => boolean) | undefined {
  const base = baseFunctionName(name);
  if (!(HANDLER_FUNCTIONS as readonly string[]).includes(base)) return undefined;
  if (base === name) return (fn) => baseFunctionName(fn) === base;
  return (fn) => fn === name;
}
