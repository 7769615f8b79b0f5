// Outline, definition, references and folding.

import { describe, expect, test } from 'vitest';
import { analyze } from '../../src/extension/features/analysis';
import { definition, documentSymbols, foldingRanges, references, type TraceSymbol } from '../../src/extension/features/symbols';
import { at, example, exampleNames } from './helpers';

const SECTIONED = [
  '# Two processes', // 1
  '## Setup', // 2
  'mode 64', // 3
  'space a', // 4
  'map 0x400000 = 0x200000 P W U A D', // 5
  '### The second space', // 6
  'space b', // 7
  'map 0x400000 = 0x300000 P W U A D', // 8
  '', // 9
  '## Events', // 10
  'read 0x400000 @start', // 11
  'cr3 b @switch', // 12
  'read 0x400000', // 13
  'cr3 a', // 14
  '# back in a after @switch', // 15
  '',
].join('\n');

const shape = (s: TraceSymbol): unknown => ({ name: s.name, kind: s.kind, lines: [s.range.line, s.range.endLine], children: s.children.map(shape) });

describe('document symbols', () => {
  test('## sections hold the spaces and labels declared in them; ### nests', () => {
    const syms = documentSymbols(analyze(SECTIONED));
    expect(syms.map(shape)).toEqual([
      {
        name: 'Setup',
        kind: 'section',
        lines: [2, 8],
        children: [
          { name: 'a', kind: 'space', lines: [4, 5], children: [] },
          { name: 'The second space', kind: 'section', lines: [6, 8], children: [{ name: 'b', kind: 'space', lines: [7, 8], children: [] }] },
        ],
      },
      {
        name: 'Events',
        kind: 'section',
        lines: [10, 15],
        children: [
          { name: '@start', kind: 'label', lines: [11, 11], children: [] },
          { name: '@switch', kind: 'label', lines: [12, 12], children: [] },
        ],
      },
    ]);
    const a = syms[0]!.children[0]!;
    expect(a.detail).toBe('space (initial CR3), 1 map');
    expect(a.selectionRange).toEqual({ line: 4, col: 7, endLine: 4, endCol: 8 });
    expect(syms[1]!.children[1]!.detail).toBe('cr3 b');
    expect(syms[0]!.selectionRange).toEqual({ line: 2, col: 4, endLine: 2, endCol: 9 });
  });

  test('without sections: spaces and labels at the top, in line order', () => {
    const syms = documentSymbols(example('context-switch.mmutrace'));
    expect(syms.map((s) => `${s.kind}:${s.name}`)).toEqual(['space:a', 'space:b', 'label:@switch', 'label:@back']);
  });

  test('every example has an outline whose selection ranges lie in their ranges', () => {
    for (const f of exampleNames()) {
      const walk = (list: TraceSymbol[]): void => {
        for (const s of list) {
          expect(s.selectionRange.line >= s.range.line && s.selectionRange.endLine <= s.range.endLine, `${f} ${s.name}`).toBe(true);
          walk(s.children);
        }
      };
      const syms = documentSymbols(example(f));
      expect(syms.length, f).toBeGreaterThan(0);
      walk(syms);
    }
  });
});

describe('definition and references', () => {
  const a = analyze(SECTIONED);

  test('a cr3 target goes to its space; references are the declaration and every cr3', () => {
    expect(definition(a, { line: 12, col: 5 })).toEqual({ line: 7, col: 7, endLine: 7, endCol: 8 });
    expect(references(a, { line: 7, col: 7 }).map((r) => r.line)).toEqual([7, 12]);
    expect(references(a, { line: 14, col: 5 }).map((r) => r.line)).toEqual([4, 14]);
    expect(references(a, { line: 14, col: 5 }, false).map((r) => r.line)).toEqual([14]);
  });

  test('a label, from its mention in a comment or from itself', () => {
    expect(definition(a, { line: 15, col: 22 })).toEqual({ line: 12, col: 7, endLine: 12, endCol: 14 });
    expect(references(a, { line: 12, col: 9 })).toEqual([
      { line: 12, col: 7, endLine: 12, endCol: 14 },
      { line: 15, col: 19, endLine: 15, endCol: 26 },
    ]);
  });

  test('on the demand-fault example: `@fault` in the header comment', () => {
    const d = example('demand-fault.mmutrace');
    const def = definition(d, at(d, '# From @fault', '@fault', 3))!;
    expect(def.line).toBe(15);
    expect(references(d, at(d, 'read 0x400000 @fault', 'fault')).map((r) => r.line)).toEqual([7, 15]);
  });

  test('nothing on other words', () => {
    expect(definition(a, { line: 11, col: 2 })).toBeUndefined();
    expect(references(a, { line: 5, col: 7 })).toEqual([]);
  });
});

describe('folding', () => {
  test('sections fold to the line before the next heading of their level; comment blocks fold', () => {
    expect(foldingRanges(analyze(SECTIONED))).toEqual([
      { start: 2, end: 8, kind: 'region' },
      { start: 6, end: 8, kind: 'region' },
      { start: 10, end: 15, kind: 'region' },
    ]);
    expect(foldingRanges(example('demand-fault.mmutrace'))).toEqual([{ start: 1, end: 7, kind: 'comment' }]);
  });
});
