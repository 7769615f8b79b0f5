// The example of language.md, read from the spec itself.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { EF_HAS_VALUE, Op, type MapStmt } from '../../src/trace';
import { at, clean, rows } from './helpers';

const LANGUAGE_MD = '/work/shared/spec/language.md';

function example(): string {
  let md: string;
  try {
    md = readFileSync(LANGUAGE_MD, 'utf8');
  } catch {
    // Outside this workspace: the same text, copied.
    md = FALLBACK;
  }
  const m = /```mmutrace\n([\s\S]*?)```/.exec(md);
  if (!m) throw new Error('no mmutrace block in language.md');
  return m[1]!;
}

const FALLBACK = [
  '```mmutrace',
  "# The demand-paging pattern of KVM's 'Update shadow pte on write to guest pte'",
  'mode 64',
  'space init',
  'map 0x400000 = 0                       # the page table exists; this leaf is not present',
  'map 0x401000 = 0x201000 P W U A D      # a neighbour in the same page table',
  '',
  'read 0x401000                          # first touch: the page table becomes shadowed',
  'expect last.exits == 1',
  'read 0x400000 @fault                   # shadow miss; the guest pte is not present',
  'expect last.fault == 0x4               # injected: a user read of a page that is not present',
  "pte 0x400000 = 0x200000 P W U A D      # the guest's fault handler fills the pte",
  'expect last.exits == 1                 # trapped: the page table is write-protected',
  'read 0x400000                          # the guest retries',
  'expect policy == "zap" && last.exits == 1 || policy == "update" && last.exits == 0',
  '```',
].join('\n');

describe('the language.md example', () => {
  const text = example();

  test('parses with no diagnostics', () => {
    clean(text);
  });

  test('the program', () => {
    const r = clean(text, { keepStatements: true });
    const p = r.program;
    expect(p.mode).toBe('64');
    expect(p.policy).toBeUndefined();
    expect(p.vcpus).toBe(1);
    expect(p.cpl).toBe('user');
    expect(p.pool).toBe(0x10000000);
    expect(p.shadowPages).toBe(1024);
    expect(p.lineCount).toBe(14);
    expect(p.spaces).toEqual([{ name: 'init', line: 3, range: at(text, 3, 'init') }]);
    expect(p.setup.map((s) => s.kind)).toEqual(['space', 'map', 'map']);
    const [, m1, m2] = p.setup as [unknown, MapStmt, MapStmt];
    expect([m1.va, m1.level, m1.pte, m1.space, m1.line]).toEqual([0x400000, 1, 0n, 0, 4]);
    // P W U A D = bits 0, 1, 2, 5, 6 = 0x67.
    expect([m2.va, m2.level, m2.pte, m2.space, m2.line]).toEqual([0x401000, 1, 0x201067n, 0, 5]);
    expect(r.statements!.map((s) => s.kind)).toEqual(['mode', 'space', 'map', 'map', 'read', 'expect', 'read', 'expect', 'pte', 'expect', 'read', 'expect']);
  });

  test('the rows', () => {
    const r = clean(text);
    const ev = r.program.events;
    expect(rows(r).map((x) => [x.op, x.line, x.addr, x.arg])).toEqual([
      [Op.Read, 7, 0x401000, 0],
      [Op.Expect, 8, 0, 0],
      [Op.Read, 9, 0x400000, 0],
      [Op.Expect, 10, 0, 1],
      [Op.Pte, 11, 0x400000, 0],
      [Op.Expect, 12, 0, 2],
      [Op.Read, 13, 0x400000, 0],
      [Op.Expect, 14, 0, 3],
    ]);
    expect(rows(r)[4]).toMatchObject({ value: 0x200067n, hasValue: true, size: 8, level: 1, offset: 0 });
    expect(ev.flagsOf(4)).toBe(EF_HAS_VALUE);
    for (const i of [0, 2, 6]) expect(rows(r)[i]).toMatchObject({ size: 1, hasValue: false, cpl: undefined });
    expect([...r.program.labels]).toEqual([['fault', 2]]);
    expect(r.program.expects.map((e) => [e.line, e.source])).toEqual([
      [8, 'last.exits == 1'],
      [10, 'last.fault == 0x4'],
      [12, 'last.exits == 1'],
      [14, 'policy == "zap" && last.exits == 1 || policy == "update" && last.exits == 0'],
    ]);
    expect(ev.op.length).toBe(8); // trimmed
  });
});
