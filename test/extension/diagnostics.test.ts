// Diagnostics and quick fixes, from the parser.

import { describe, expect, test } from 'vitest';
import { analyze } from '../../src/extension/features/analysis';
import { diagnostics, quickFixes } from '../../src/extension/features/diagnostics';
import { example, exampleNames } from './helpers';

const BROKEN = [
  'mode 64',
  'space init',
  'map 0x400000 = 0x200000 P W U A D',
  'reed 0x400000',
  'read 0x400000 kernal',
  'map 0x401000 = 0',
  'map 0x402000 = 0x1000 P P',
  'cr3 innit',
  '',
].join('\n');

describe('diagnostics', () => {
  test('every example is clean', () => {
    for (const f of exampleNames()) expect(diagnostics(example(f)), f).toEqual([]);
  });

  test('errors and warnings with their ranges, the hint after the message', () => {
    const d = diagnostics(analyze(BROKEN));
    expect(d.map((x) => [x.range.line, x.severity])).toEqual([
      [4, 'error'],
      [5, 'error'],
      [6, 'error'],
      [7, 'error'],
      [8, 'error'],
    ]);
    expect(d[0]).toMatchObject({ range: { line: 4, col: 1, endLine: 4, endCol: 5 }, message: 'unknown keyword `reed` (did you mean `read`?)' });
    expect(d[1]!.message).toContain('did you mean `kernel`?');
    expect(d[2]!.message).toContain('setup directive');
    expect(d[2]!.message).toContain('(use `pte`)');
    expect(d[4]!.message).toContain('did you mean `init`?');
  });

  test('a warning stays a warning', () => {
    const d = diagnostics(analyze('mode 64\nspace s\nmap 0x1000 = 0x1000 P P\n'));
    expect(d).toHaveLength(1);
    expect(d[0]!.severity).toBe('warning');
    expect(d[0]!.message).toContain('given twice');
  });

  test('an expression error keeps its column', () => {
    const d = diagnostics(analyze('read 0x1000\nexpect exitss.total == 1\n'));
    expect(d[0]).toMatchObject({ range: { line: 2, col: 8, endCol: 14 }, severity: 'error' });
    expect(d[0]!.message).toContain('did you mean `exits`?');
  });
});

describe('quick fixes', () => {
  const d = diagnostics(analyze(BROKEN));

  test('the fix of the diagnostic under the cursor, and only that one', () => {
    const fixes = quickFixes(d, { line: 4, col: 2, endLine: 4, endCol: 2 });
    expect(fixes).toHaveLength(1);
    expect(fixes[0]).toMatchObject({ title: 'Replace with `read`', edit: { range: { line: 4, col: 1, endLine: 4, endCol: 5 }, newText: 'read' }, preferred: true });
  });

  test('map after the setup becomes pte', () => {
    const fixes = quickFixes(d, { line: 6, col: 1, endLine: 6, endCol: 4 });
    expect(fixes.map((f) => [f.title, f.edit.newText])).toEqual([['Replace `map` with `pte`', 'pte']]);
  });

  test('a whole-file range gets every fix; a line without a fix gets none', () => {
    expect(quickFixes(d, { line: 1, col: 1, endLine: 9, endCol: 1 }).map((f) => f.edit.newText)).toEqual(['read', 'kernel', 'pte', 'pte', 'init']);
    expect(quickFixes(d, { line: 3, col: 1, endLine: 3, endCol: 5 })).toEqual([]);
  });

  test('applying the fixes, round after round, leaves a clean file', () => {
    let text = BROKEN;
    for (let round = 0; round < 3; round++) {
      const lines = text.split('\n');
      const fixes = quickFixes(diagnostics(analyze(text)), { line: 1, col: 1, endLine: lines.length, endCol: 1 });
      for (const f of [...fixes].reverse()) {
        const r = f.edit.range;
        const l = lines[r.line - 1]!;
        lines[r.line - 1] = l.slice(0, r.col - 1) + f.edit.newText + l.slice(r.endCol - 1);
      }
      text = lines.join('\n');
    }
    // The second round removed the duplicate flag that the `map` -> `pte` fix uncovered.
    expect(text).toContain('pte 0x402000 = 0x1000 P\n');
    expect(diagnostics(analyze(text))).toEqual([]);
  });
});
