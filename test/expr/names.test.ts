import { describe, expect, it } from 'vitest';
import {
  completeExpr,
  DEFAULT_FUNCTIONS,
  DEFAULT_NAMES,
  editDistance,
  EXPR_CONSTANTS,
  EXPR_NAMES,
  findNameDoc,
  suggestName,
  type NameDoc,
} from '../../src/expr';

const names = (items: readonly NameDoc[]): string[] => items.map((d) => d.name);

const EXIT: NameDoc = {
  name: 'exit',
  kind: 'name',
  signature: 'exit',
  doc: 'The VM exit being handled.',
  members: [
    { name: 'reason', kind: 'member', signature: 'exit.reason', doc: 'Why the guest exited.' },
    { name: 'outcome', kind: 'member', signature: 'exit.outcome', doc: 'What the handler did.' },
  ],
};

describe('EXPR_NAMES', () => {
  it('lists every built-in name, function and constant with its kind', () => {
    const kinds = Object.fromEntries(EXPR_NAMES.map((d) => [d.name, d.kind]));
    expect(kinds).toEqual({
      policy: 'name',
      vcpu: 'name',
      line: 'name',
      cr3: 'name',
      exits: 'name',
      last: 'name',
      gpte: 'function',
      spte: 'function',
      gpa: 'function',
      npte: 'function',
      shadowed: 'function',
      P: 'constant',
      W: 'constant',
      U: 'constant',
      PWT: 'constant',
      PCD: 'constant',
      A: 'constant',
      D: 'constant',
      PS: 'constant',
      G: 'constant',
      NX: 'constant',
      true: 'constant',
      false: 'constant',
    });
  });
  it('gives the members of exits and last', () => {
    expect(names(findNameDoc('exits')!.members!)).toEqual(['total', 'pf', 'fill', 'inject', 'emulate', 'cr3', 'invlpg', 'npt']);
    expect(names(findNameDoc('last')!.members!)).toEqual(['exits', 'fault', 'zapped', 'updated']);
    for (const m of [...findNameDoc('exits')!.members!, ...findNameDoc('last')!.members!]) expect(m.kind).toBe('member');
    expect(findNameDoc('last')!.members![1]!.signature).toBe('last.fault');
  });
  it('gives signatures, argument counts and values', () => {
    expect(findNameDoc('gpte')).toMatchObject({ signature: 'gpte(VA[, LEVEL])', minArgs: 1, maxArgs: 2 });
    expect(findNameDoc('spte')).toMatchObject({ signature: 'spte(VA[, LEVEL])', minArgs: 1, maxArgs: 2 });
    expect(findNameDoc('gpa')).toMatchObject({ signature: 'gpa(VA)', minArgs: 1, maxArgs: 1 });
    expect(findNameDoc('shadowed')).toMatchObject({ signature: 'shadowed(GPA)', minArgs: 1, maxArgs: 1 });
    expect(findNameDoc('NX')).toMatchObject({ signature: 'NX = 0x8000000000000000', value: 1n << 63n });
    expect(findNameDoc('A')).toMatchObject({ signature: 'A = 0x20', value: 32n });
    expect(findNameDoc('true')!.value).toBe(true);
  });
  it('documents everything in one sentence', () => {
    const all = EXPR_NAMES.flatMap((d) => [d, ...(d.members ?? [])]);
    for (const d of all) {
      expect(d.doc, d.name).toMatch(/^[A-Z`].*\.$/);
    }
  });
  it('derives the default sets', () => {
    expect([...DEFAULT_NAMES]).toEqual(['policy', 'vcpu', 'line', 'cr3', 'exits', 'last']);
    expect([...DEFAULT_FUNCTIONS]).toEqual(['gpte', 'spte', 'gpa', 'npte', 'shadowed']);
    expect([...EXPR_CONSTANTS]).toEqual([
      ['P', 1n],
      ['W', 2n],
      ['U', 4n],
      ['PWT', 8n],
      ['PCD', 16n],
      ['A', 32n],
      ['D', 64n],
      ['PS', 128n],
      ['G', 256n],
      ['NX', 1n << 63n],
    ]);
  });
  it('finds extra names first', () => {
    expect(findNameDoc('exit', [EXIT])).toBe(EXIT);
    expect(findNameDoc('exit')).toBeUndefined();
  });
});

describe('did you mean', () => {
  it('edit distance with transpositions', () => {
    expect(editDistance('gpta', 'gpte')).toBe(1);
    expect(editDistance('gtpe', 'gpte')).toBe(1);
    expect(editDistance('abc', 'abc')).toBe(0);
    expect(editDistance('', 'ab')).toBe(2);
    expect(editDistance('abcdef', 'a')).toBe(3); // beyond the limit
  });
  it('suggests the closest candidate, preferring a longer common prefix', () => {
    expect(suggestName('gpta', ['gpa', 'gpte'])).toBe('gpte');
    expect(suggestName('gpta', ['gpte', 'gpa'])).toBe('gpte');
    expect(suggestName('xyz', ['gpte'])).toBeUndefined();
    expect(suggestName('x', ['P', 'W'])).toBeUndefined();
    expect(suggestName('w', ['P', 'W'])).toBe('W');
    expect(suggestName('a'.repeat(1000), ['a'])).toBeUndefined();
  });
});

describe('completeExpr', () => {
  it('completes a top-level name from its prefix', () => {
    expect(completeExpr('ex', 2)).toEqual({ from: 0, items: [findNameDoc('exits')] });
    const r = completeExpr('1 + gp', 6);
    expect(r.from).toBe(4);
    expect(names(r.items)).toEqual(['gpte', 'gpa']);
  });
  it('offers everything but members at an empty prefix', () => {
    const r = completeExpr('', 0);
    expect(r.from).toBe(0);
    expect(r.items).toHaveLength(23);
    expect(names(completeExpr('1 + ', 4).items)).toEqual(names(r.items));
  });
  it('matches case-insensitively', () => {
    expect(names(completeExpr('p', 1).items)).toEqual(['policy', 'P', 'PWT', 'PCD', 'PS']);
    expect(names(completeExpr('N', 1).items)).toEqual(['npte', 'NX']);
  });
  it('completes the word before the offset, not after it', () => {
    expect(completeExpr('polxyz', 3)).toEqual({ from: 0, items: [findNameDoc('policy')] });
  });
  it('completes members after a dot', () => {
    expect(names(completeExpr('last.', 5).items)).toEqual(['exits', 'fault', 'zapped', 'updated']);
    expect(completeExpr('last.', 5).from).toBe(5);
    const f = completeExpr('last.exits == 1 && last.f', 25);
    expect(f.from).toBe(24);
    expect(names(f.items)).toEqual(['fault']);
    expect(names(completeExpr('exits.c', 7).items)).toEqual(['cr3']);
    expect(names(completeExpr('exits . i', 9).items)).toEqual(['inject', 'invlpg']);
    expect(completeExpr('policy.', 7).items).toEqual([]);
    expect(completeExpr('last.exits.', 11).items).toEqual([]);
    expect(completeExpr('(last).', 7).items).toEqual([]);
  });
  it('completes extra names and their members', () => {
    expect(names(completeExpr('ex', 2, [EXIT]).items)).toEqual(['exits', 'exit']);
    expect(names(completeExpr('exit.r', 6, [EXIT]).items)).toEqual(['reason']);
    expect(completeExpr('exit.r', 6).items).toEqual([]);
  });
  it('offers nothing inside a string or a number', () => {
    expect(completeExpr('policy == "za', 13).items).toEqual([]);
    expect(completeExpr('policy == "a\\"b', 15).items).toEqual([]);
    expect(completeExpr('0x4', 3).items).toEqual([]);
    expect(completeExpr('4k', 2).items).toEqual([]);
    // after a closed string, completion works again
    expect(names(completeExpr('policy == "zap" && la', 21).items)).toEqual(['last']);
  });
  it('clamps the offset', () => {
    expect(completeExpr('gpt', 99)).toEqual({ from: 0, items: [findNameDoc('gpte')] });
    expect(completeExpr('gpt', -5).from).toBe(0);
  });
});
