// A small fake environment for the expression tests.
import { parseExpr, evaluate, type Expr, type ExprEnv, type Value, type ParseExprOptions } from '../../src/expr';

export interface FakeState {
  policy?: string;
  lastExits?: bigint;
  lastFault?: bigint;
  extra?: Record<string, Value>;
}

/**
 * The machine after the example of language.md under `zap`: VA 0x400000 maps GPA 0x200000 (guest
 * entry 0x200067 = P W U A D), its shadow entry is 0x200067 (writable); VA 0x401000 maps 0x201000 with
 * a read-only shadow entry 0x201025 (P U A); the page table at 0x10002000 is shadowed.
 */
export function fakeEnv(s: FakeState = {}): ExprEnv & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    name(id: string): Value | undefined {
      switch (id) {
        case 'policy':
          return s.policy ?? 'zap';
        case 'vcpu':
          return 0n;
        case 'line':
          return 12n;
        case 'cr3':
          return 0x1000_0000n;
        case 'exits':
          return { total: 3n, pf: 3n, fill: 1n, inject: 1n, emulate: 1n, cr3: 0n, invlpg: 0n };
        case 'last':
          return { exits: s.lastExits ?? 1n, fault: s.lastFault ?? -1n, zapped: 0n, updated: 0n };
      }
      return s.extra?.[id];
    },
    call(fn: string, args: Value[]): Value | undefined {
      calls.push(fn);
      const va = args[0];
      switch (fn) {
        case 'gpa':
          return va === 0x400000n ? 0x200000n : va === 0x401000n ? 0x201000n : -1n;
        case 'gpte':
          return va === 0x400000n ? 0x200067n : 0n;
        case 'spte':
          return va === 0x400000n ? 0x200067n : va === 0x401000n ? 0x201025n : 0n;
        case 'shadowed':
          return typeof va === 'bigint' && va >> 12n === 0x10002n;
      }
      return undefined;
    },
  };
}

/** An environment whose every lookup throws: proves that a side is not evaluated. */
export const explodingEnv: ExprEnv = {
  name(id) {
    throw new Error(`name ${id} must not be evaluated`);
  },
  call(fn) {
    throw new Error(`call ${fn} must not be evaluated`);
  },
};

/** Parses, failing the test with the diagnostics when there are any. */
export function parseOk(text: string, opts?: ParseExprOptions): Expr {
  const r = parseExpr(text, opts);
  if (!r.expr || r.diagnostics.length > 0) {
    throw new Error(`parse of ${JSON.stringify(text)} failed: ${r.diagnostics.map((d) => `${d.col}-${d.endCol} ${d.message}`).join('; ')}`);
  }
  return r.expr;
}

export function run(text: string, env: ExprEnv = fakeEnv()): Value {
  return evaluate(parseOk(text), env);
}
