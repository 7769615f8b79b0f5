// Completion lists: what is valid at the cursor.

import { describe, expect, test } from 'vitest';
import { analyze, type Position } from '../../src/extension/features/analysis';
import { complete } from '../../src/extension/features/completion';
import { at, example } from './helpers';

/** The labels offered when the cursor is at the end of the last line of `text`. */
function labelsAtEnd(text: string): string[] {
  const a = analyze(text);
  const line = a.lines.length;
  return complete(a, { line, col: a.lines[line - 1]!.length + 1 }).map((c) => c.label);
}

const SETUP = 'mode 64\nspace init\nspace other\nmap 0x400000 = 0\n';
const EVENTS = SETUP + 'read 0x400000 @first\n';

describe('keywords valid at the position', () => {
  test('in the setup: setup directives first, then the events that would end it', () => {
    const l = labelsAtEnd('mode 64\n');
    expect(l.slice(0, 9)).toEqual(['mode', 'policy', 'vcpus', 'cpl', 'pool', 'shadow-pages', 'space', 'map', 'poke']);
    expect(l).toContain('read');
    expect(l).toContain('expect');
  });

  test('after the first event: events, vcpu, expect and cpl; no setup directive', () => {
    const l = labelsAtEnd(EVENTS);
    expect(l).toEqual(['read', 'write', 'exec', 'pte', 'store', 'cr3', 'invlpg', 'vcpu', 'expect', 'cpl']);
  });

  test('a prefix filters, case-insensitively, and the range covers it', () => {
    const a = analyze(EVENTS + 'In');
    const items = complete(a, { line: 6, col: 3 });
    expect(items.map((i) => i.label)).toEqual(['invlpg']);
    expect(items[0]!.range).toEqual({ line: 6, col: 1, endLine: 6, endCol: 3 });
    expect(items[0]!.documentation).toContain('TLB');
  });

  test('on the demand-fault example: setup lines and event lines differ', () => {
    const a = example('demand-fault.mmutrace');
    const setup = complete(a, { line: 12, col: 1 }).map((c) => c.label);
    const events = complete(a, { line: 21, col: 1 }).map((c) => c.label);
    expect(setup).toContain('map');
    expect(events).not.toContain('map');
    expect(events).toContain('pte');
  });
});

describe('operands', () => {
  test('mode, policy and cpl values', () => {
    expect(labelsAtEnd('mode ')).toEqual(['32', 'pae', '64']);
    expect(labelsAtEnd('policy ')).toEqual(['zap', 'update', 'access', 'tdp']);
    expect(labelsAtEnd('policy u')).toEqual(['update']);
    expect(labelsAtEnd('cpl ')).toEqual(['user', 'kernel']);
  });

  test('space names after cr3', () => {
    expect(labelsAtEnd(EVENTS + 'cr3 ')).toEqual(['init', 'other']);
    expect(labelsAtEnd(EVENTS + 'cr3 o')).toEqual(['other']);
    expect(labelsAtEnd(EVENTS + 'cr3 other ')).toEqual([]);
  });

  test('levels of the file mode after a map or pte address', () => {
    expect(labelsAtEnd(SETUP + 'map 0x1000 ')).toEqual(['L1', 'L2', 'L3', 'L4']);
    expect(labelsAtEnd('mode 32\nspace s\nmap 0x1000 ')).toEqual(['L1', 'L2']);
    expect(labelsAtEnd('mode pae\nspace s\nmap 0x200000..0x400000 ')).toEqual(['L1', 'L2', 'L3']);
    expect(labelsAtEnd(EVENTS + 'pte 0x400000 ')).toEqual(['L1', 'L2', 'L3', 'L4']);
    // Where a number is expected, nothing.
    expect(labelsAtEnd(EVENTS + 'pte ')).toEqual([]);
    expect(labelsAtEnd(EVENTS + 'pte 0x400000 = ')).toEqual([]);
  });

  test('flags in PTE values: not those already there, no NX in mode 32', () => {
    expect(labelsAtEnd(SETUP + 'map 0x1000 = 0x5000 ')).toEqual(['P', 'W', 'U', 'PWT', 'PCD', 'A', 'D', 'PS', 'G', 'NX']);
    expect(labelsAtEnd(SETUP + 'map 0x1000 = 0x5000 P W ')).toEqual(['U', 'PWT', 'PCD', 'A', 'D', 'PS', 'G', 'NX']);
    expect(labelsAtEnd('mode 32\nspace s\nmap 0x1000 = 0x5000 ')).not.toContain('NX');
    expect(labelsAtEnd(SETUP + 'map 0x1000 = 0x5000 p')).toEqual(['P', 'PWT', 'PCD', 'PS']);
    // pte events also take size and offset.
    expect(labelsAtEnd(EVENTS + 'pte 0x400000 = 0x200000 P W ')).toEqual(['U', 'PWT', 'PCD', 'A', 'D', 'PS', 'G', 'NX', 'size', 'offset']);
    expect(labelsAtEnd(EVENTS + 'pte 0x400000 = 0x200000 size 4 ')).toEqual(['size', 'offset']);
    expect(labelsAtEnd(EVENTS + 'pte 0x400000 = 0x200000 size ')).toEqual([]);
  });

  test('privileges and sizes on accesses', () => {
    expect(labelsAtEnd(EVENTS + 'read 0x400000 ')).toEqual(['user', 'kernel']);
    expect(labelsAtEnd(EVENTS + 'exec 0x400000 k')).toEqual(['kernel']);
    expect(labelsAtEnd(EVENTS + 'write 0x400000 = 1 ')).toEqual(['size', 'user', 'kernel']);
    expect(labelsAtEnd(EVENTS + 'store 0x1000 = 1 ')).toEqual(['size']);
    expect(labelsAtEnd(EVENTS + 'read ')).toEqual([]);
  });

  test('vCPU numbers after vcpu', () => {
    expect(labelsAtEnd('vcpus 3\nspace s\nread 0x1000\nvcpu ')).toEqual(['0', '1', '2']);
  });

  test('a new label is not completed; a label mentioned in a comment is', () => {
    expect(labelsAtEnd(EVENTS + 'read 0x400000 @')).toEqual([]);
    expect(labelsAtEnd(EVENTS + '# see @')).toEqual(['@first']);
    expect(labelsAtEnd(EVENTS + '# see @f')).toEqual(['@first']);
    expect(labelsAtEnd(EVENTS + '# a plain comment ')).toEqual([]);
  });
});

describe('expressions after expect', () => {
  test('every name, function and flag of the language', () => {
    const l = labelsAtEnd(EVENTS + 'expect ');
    for (const n of ['policy', 'vcpu', 'line', 'cr3', 'exits', 'last', 'gpte', 'spte', 'gpa', 'shadowed', 'P', 'NX', 'true', 'false']) expect(l).toContain(n);
  });

  test('members after a dot, with kinds and docs', () => {
    const a = analyze(EVENTS + 'expect last.');
    const items = complete(a, { line: 6, col: 13 });
    expect(items.map((i) => i.label)).toEqual(['exits', 'fault', 'zapped', 'updated']);
    expect(items.every((i) => i.kind === 'member')).toBe(true);
    expect(items[1]!.documentation).toContain('#PF');
    expect(labelsAtEnd(EVENTS + 'expect exits.e')).toEqual(['emulate']);
  });

  test('a prefix in the middle of an expression; functions carry their signature', () => {
    const a = analyze(EVENTS + 'expect last.exits == 1 && sp');
    const items = complete(a, { line: 6, col: 29 });
    expect(items.map((i) => i.label)).toEqual(['spte']);
    expect(items[0]!.detail).toBe('spte(VA[, LEVEL])');
    expect(items[0]!.range).toEqual({ line: 6, col: 27, endLine: 6, endCol: 29 });
  });

  test('nothing inside a string', () => {
    expect(labelsAtEnd(EVENTS + 'expect policy == "z')).toEqual([]);
  });

  test('on an example, in the middle of a line', () => {
    const a = example('copy-on-write.mmutrace');
    const p: Position = at(a, 'expect gpa(0x400000)', 'spte', 2);
    expect(complete(a, p).map((c) => c.label)).toEqual(['spte']);
    expect(complete(a, { ...p, col: p.col - 1 }).map((c) => c.label)).toEqual(['spte', 'shadowed']);
  });
});
