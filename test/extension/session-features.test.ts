// CodeLens, the debug hover's evaluatable expressions, inline values, the
// launch configuration, and the texts of Run Trace and Compare Policies.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { analyze } from '../../src/extension/features/analysis';
import { INITIAL_CONFIGURATION, resolveLaunch } from '../../src/extension/features/debugConfig';
import { COMMANDS, codeLenses, evaluatableAt } from '../../src/extension/features/lenses';
import fc from 'fast-check';
import { EffectLog } from '../../src/debug/lineeffects';
import { buildTrace, planArb, type Plan } from '../engine/gen';
import { program as engineProgram } from '../engine/helpers';
import { Machine, POLICY_NAMES } from '../../src/engine';
import { Op, type Program } from '../../src/trace';
import { compareReport, effectText, inlineValues, runReport, type LineEffect } from '../../src/extension/features/replay';
import { EXAMPLES, at, example, exampleNames } from './helpers';

const text = (f: string): string => readFileSync(resolve(EXAMPLES, f), 'utf8');

describe('code lenses', () => {
  test('Debug, Run and Compare policies at the top of the trace', () => {
    const lenses = codeLenses(example('demand-fault.mmutrace'));
    expect(lenses.map((l) => [l.title, l.command])).toEqual([
      ['$(debug-alt) Debug', COMMANDS.debug],
      ['$(play) Run', COMMANDS.run],
      ['$(split-horizontal) Compare policies', COMMANDS.compare],
    ]);
    for (const l of lenses) expect(l.range).toEqual({ line: 1, col: 1, endLine: 1, endCol: 1 });
  });

  test('a file with errors still has them; the tooltip says so', () => {
    const lenses = codeLenses(analyze('reed 0x1000\n'));
    expect(lenses).toHaveLength(3);
    expect(lenses[0]!.tooltip).toContain('(the file has 1 error)');
    expect(codeLenses(analyze(''))).toHaveLength(3);
  });
});

describe('evaluatable expressions under the mouse', () => {
  const a = example('copy-on-write.mmutrace');

  test('a VA goes as written (the adapter describes a hovered address); a GPA asks whether its page is shadowed', () => {
    expect(evaluatableAt(a, at(a, 'write 0x400000 = 0x1 @cow', '0x400000', 3))).toEqual({
      range: { line: 16, col: 7, endLine: 16, endCol: 15 },
      expression: '0x400000',
    });
    expect(evaluatableAt(a, at(a, 'map 0x401000', '0x401000'))!.expression).toBe('0x401000');
    const s = analyze('space s\nread 0x1000\nstore 0x10001000 = 0x5 @s\ncr3 s\n');
    expect(evaluatableAt(s, { line: 3, col: 8 })!.expression).toBe('shadowed(0x10001000)');
    expect(evaluatableAt(s, { line: 4, col: 5 })).toBeUndefined();
  });

  test('in an expect line: the name, member or call under the mouse', () => {
    const line = 'expect gpa(0x400000) == 0x300000 && (policy == "tdp" && npte(0x300000) & W || spte(0x400000) & W)';
    expect(evaluatableAt(a, at(a, line, 'gpa'))!.expression).toBe('gpa(0x400000)');
    expect(evaluatableAt(a, at(a, line, 'spte', 1))!.expression).toBe('spte(0x400000)');
    const e2 = 'expect policy != "tdp" && last.exits == 1 && exits.emulate == 1 || policy == "tdp" && last.exits == 0';
    expect(evaluatableAt(a, at(a, e2, 'emulate'))!.expression).toBe('exits.emulate');
    expect(evaluatableAt(a, at(a, e2, 'last'))!.expression).toBe('last');
    expect(evaluatableAt(a, at(a, e2, '== 1', 3))).toBeUndefined();
  });

  test('a label, defined or mentioned in a comment, goes as @name', () => {
    expect(evaluatableAt(a, at(a, 'write 0x400000 = 0x1 @cow', 'cow'))).toEqual({ range: { line: 16, col: 22, endLine: 16, endCol: 26 }, expression: '@cow' });
    const d = example('demand-fault.mmutrace');
    expect(evaluatableAt(d, at(d, '# From @fault', 'fault'))!.expression).toBe('@fault');
  });

  test('not on values, keywords or comments', () => {
    expect(evaluatableAt(a, at(a, 'pte 0x400000', '0x300000'))).toBeUndefined();
    expect(evaluatableAt(a, at(a, 'read 0x401000', 'read'))).toBeUndefined();
    expect(evaluatableAt(a, { line: 1, col: 3 })).toBeUndefined();
  });
});

/** The whole program run under `policy`, each row recorded as the debugger's timeline records it. */
function recorded(program: Program, policy: string): EffectLog {
  const m = new Machine(program, { policy });
  const log = new EffectLog(program);
  for (;;) {
    const row = m.pos;
    if (row >= program.events.count || !log.wants(row)) break;
    log.begin(m);
    if (!m.step()) break;
    log.end(row, m);
  }
  return log;
}

describe('inline values', () => {
  test('the demand fault under zap and update: exits and fault of each replayed line', () => {
    const a = example('demand-fault.mmutrace');
    const stop = 19; // stopped before the retry
    for (const [policy, last] of [
      ['zap', '1 exit (emulate)'],
      ['update', '1 exit (emulate) · updated 1'],
    ] as const) {
      // What the adapter answers to `lineEffects` for lines 1..18 (its EffectLog, fed as its timeline runs the rows).
      const before = recorded(a.result.program, policy).lines(1, stop - 1, Infinity).lines;
      const values = inlineValues(before, stop, 1, 100);
      expect(values).toEqual([
        { line: 13, text: '1 exit (fill)' },
        { line: 14, text: '✔ held' },
        { line: 15, text: '1 exit (inject) · #PF 0x4 (not present, read, user)' },
        { line: 16, text: '✔ held' },
        { line: 17, text: last },
        { line: 18, text: '✔ held' },
      ]);
    }
  });

  test('only lines above the stop and in the visible range; the last effect of a line wins', () => {
    const effects: LineEffect[] = [
      { line: 3, exits: 1, fault: -1, fill: 1 },
      { line: 5, exits: 2, fault: 0x7, inject: 1, emulate: 1 },
      { line: 3, exits: 0, fault: -1 },
      { line: 9, exits: 1, fault: -1 },
    ];
    expect(inlineValues(effects, 9, 1, 8)).toEqual([
      { line: 3, text: 'no exit' },
      { line: 5, text: '2 exits (inject, emulate) · #PF 0x7 (protection, write, user)' },
    ]);
    expect(inlineValues(effects, 4, 4, 10)).toEqual([]);
  });

  test('texts for failed expects, replay errors and the adapter’s minimal shape', () => {
    expect(effectText({ line: 1, exits: 0, fault: -1, expect: { passed: false, message: 'left 2, right 1' } })).toBe('✘ left 2, right 1');
    expect(effectText({ line: 1, exits: 0, fault: -1, error: 'there is no L1 table' })).toBe('✘ there is no L1 table');
    expect(effectText({ line: 1, exits: 3, fault: -1 })).toBe('3 exits');
    expect(effectText({ line: 1, exits: 2, fault: -1, fill: 2 })).toBe('2 exits (fill ×2)');
  });

  test('every example replays; every event line gets a value, a failed expect never appears', () => {
    for (const f of exampleNames()) {
      const a = example(f);
      const effects = recorded(a.result.program, a.result.program.policy ?? 'update').lines(1, Infinity, Infinity).lines;
      const eventLines = a.statements.filter((s) => ['read', 'write', 'exec', 'pte', 'store', 'cr3', 'invlpg'].includes(s.kind)).map((s) => s.line);
      const shown = inlineValues(effects, Infinity, 1, a.lines.length);
      for (const l of eventLines) expect(shown.some((v) => v.line === l), `${f}:${l}`).toBe(true);
      expect(shown.filter((v) => v.text.startsWith('✘')), f).toEqual([]);
    }
  });
});

describe('the adapter\'s record of line effects (one byte a row for the common cases)', () => {
  /** Each row's effect the plain way: counters before and after, a whole object a row. */
  function plain(program: Program, policy: string): LineEffect[] {
    const m = new Machine(program, { policy });
    const out: LineEffect[] = [];
    for (;;) {
      const row = m.pos;
      if (row >= program.events.count) break;
      const b = { ...m.mmu.exits };
      if (!m.step()) break;
      const line = program.events.lineOf(row);
      if (program.events.op[row] === Op.Expect && m.expect) out.push({ line, exits: 0, fault: -1, expect: { passed: m.expect.passed, message: m.expect.passed ? '' : m.expect.message } });
      else if (m.isEventRow(row)) {
        const e = m.mmu.exits;
        const x: LineEffect = { line, exits: m.last.exits, fault: m.last.fault, fill: e.fill - b.fill, inject: e.inject - b.inject, emulate: e.emulate - b.emulate, cr3: e.cr3 - b.cr3, zapped: m.last.zapped, updated: m.last.updated };
        if (m.error !== null) x.error = m.error;
        out.push(x);
      }
      // (A row's error, a `pte` into a missing table, skips that row only: the replay goes on.)
    }
    return out;
  }

  test('every example under every policy: the compact record gives back every row\'s effect', () => {
    for (const f of exampleNames()) {
      const program = example(f).result.program;
      for (const policy of POLICY_NAMES) {
        const log = recorded(program, policy);
        const want = plain(program, policy);
        expect(want.length, f).toBeGreaterThan(0);
        expect(log.lines(1, Infinity, Infinity).lines, `${f} ${policy}`).toEqual(want);
      }
    }
  });

  test('random traces (the generator of the engine tests, all modes, both policies): the same', () => {
    fc.assert(
      fc.property(planArb(), fc.boolean(), fc.boolean(), (plan: Plan, linux: boolean, zap: boolean) => {
        const program = engineProgram(buildTrace(plan, { linux }));
        const policy = zap ? 'zap' : 'update';
        expect(recorded(program, policy).lines(1, Infinity, Infinity).lines).toEqual(plain(program, policy));
      }),
      { numRuns: 150, seed: 2007 },
    );
  });

  test('a range of lines, the rows before the position, and the cap', () => {
    const program = example('demand-fault.mmutrace').result.program;
    const log = recorded(program, 'update');
    // Lines 15..17: the fault (inject, #PF 0x4), its expect, the pte write (emulate, updated 1).
    expect(log.lines(15, 17, Infinity).lines.map((e) => [e.line, e.exits, e.fault, e.updated ?? 0, e.expect?.passed ?? null])).toEqual([
      [15, 1, 0x4, 0, null],
      [16, 0, -1, 0, true],
      [17, 1, -1, 1, null],
    ]);
    // Before the row of line 17 (the session stopped there): 15 and 16 only.
    let row17 = 0;
    while (program.events.lineOf(row17) < 17) row17++;
    expect(log.lines(15, 17, row17).lines.map((e) => e.line)).toEqual([15, 16]);
    const capped = log.lines(1, Infinity, Infinity, 2);
    expect(capped.truncated).toBe(true);
    expect(capped.lines.map((e) => e.line)).toEqual([13, 14]);
  });
});

describe('Run Trace and Compare Policies', () => {
  test('run: the summary of the CLI', () => {
    const r = runReport(text('demand-fault.mmutrace'), 'demand-fault.mmutrace');
    expect(r.ok).toBe(true);
    expect(r.text).toContain('demand-fault.mmutrace: 4 events, mode 64, policy update');
    expect(r.text).toContain('VM exits 3: page-fault 3 (fill 1, inject 1, emulate 1)');
    expect(r.summary!.exits.total).toBe(3);
    expect(runReport(text('demand-fault.mmutrace'), 'x', { policy: 'zap' }).summary!.exits.total).toBe(4);
  });

  test('run: failed expects first, then the summary; errors instead of a run', () => {
    const failing = 'space s\nmap 0x1000 = 0x1000 P W U A D\nread 0x1000\nexpect last.exits == 5\n';
    const r = runReport(failing, 'f.mmutrace');
    expect(r.ok).toBe(false);
    expect(r.text.split('\n')[0]).toMatch(/^f\.mmutrace:4:8: expect failed: last\.exits == 5 — /);
    const bad = runReport('reed 0x1000\n', 'bad.mmutrace');
    expect(bad).toEqual({ ok: false, text: 'bad.mmutrace:1:1: error: unknown keyword `reed` (did you mean `read`?)' });
  });

  test('compare: the table with a column per policy and what each policy is', () => {
    const r = compareReport(text('demand-fault.mmutrace'), 'demand-fault.mmutrace');
    expect(r.ok).toBe(true);
    expect(r.text).toMatch(/VM exits\s+4\s+3\s+3\s+6/);
    expect(r.text).toMatch(/from @fault\s+3\s+2\s+2\s+1/);
    expect(r.text).toContain('zap: KVM before the seed');
    expect(r.text).toContain('update: The seed');
    expect(r.text).toContain('access: 2008');
    expect(r.text).toContain('tdp: Two-dimensional paging');
    expect(Object.keys(r.results!)).toEqual(['zap', 'update', 'access', 'tdp']);
  });
});

describe('launch configurations', () => {
  const active = { program: '/w/demand-fault.mmutrace', name: 'demand-fault.mmutrace', languageId: 'mmutrace' };

  test('F5 with no launch.json debugs the active trace', () => {
    expect(resolveLaunch({}, active)).toEqual({
      config: { type: 'mmutrace', request: 'launch', name: 'Debug demand-fault.mmutrace', program: '/w/demand-fault.mmutrace', stopOnEntry: true },
    });
  });

  test('no trace open: a message, no session', () => {
    expect(resolveLaunch({}, undefined)).toHaveProperty('error');
    expect(resolveLaunch({}, { ...active, languageId: 'markdown' })).toHaveProperty('error');
    expect(resolveLaunch({ type: 'mmutrace', request: 'launch', name: 'x' }, undefined)).toHaveProperty('error');
  });

  test('a configuration keeps its attributes; a missing program is the active file', () => {
    const r = resolveLaunch({ type: 'mmutrace', request: 'launch', name: 'x', policy: 'zap', audit: false }, active);
    expect(r).toEqual({ config: { type: 'mmutrace', request: 'launch', name: 'x', policy: 'zap', audit: false, program: active.program } });
    expect(resolveLaunch({ ...INITIAL_CONFIGURATION, program: '/other.mmutrace' }, active)).toEqual({ config: { ...INITIAL_CONFIGURATION, program: '/other.mmutrace' } });
  });
});
